/* pubsub: Redis 7.0's publish/subscribe on the node (RESP2).
 *
 *   SUBSCRIBE / PSUBSCRIBE   client joins channels / glob patterns
 *   PUBLISH ch msg           every subscriber of ch gets
 *                              *3 "message" ch msg
 *                            and every subscriber of each matching pattern
 *                              *4 "pmessage" pattern ch msg
 *                            in its output buffer; the reply counts them
 *   UNSUBSCRIBE / PUNSUBSCRIBE, PUBSUB CHANNELS | NUMSUB | NUMPAT
 *
 * Messages are neither stored nor replicated: PUBLISH is not a write, and
 * a message reaches only the clients subscribed at that moment.  A client
 * with at least one subscription carries CLIENT_PUBSUB and may then only
 * run (P)(UN)SUBSCRIBE, PING, QUIT and RESET (a dispatch filter refuses the
 * rest with Redis's error).
 *
 * Memory: a subscriber that does not read would make its output buffer
 * grow with every message; past `pubsub_output_buffer_limit` unsent bytes
 * it is closed with a log line, as Redis's pubsub class limit does.
 *
 * Single-threaded, like the rest of the node. */
#ifndef STRATA_PUBSUB_H
#define STRATA_PUBSUB_H

#include "server.h"

/* Drop all of c's subscriptions without replying (RESET).  Clears
 * CLIENT_PUBSUB. */
void pubsub_unsubscribe_all(client *c);

/* Number of channels and patterns c is subscribed to (CLIENT LIST's
 * sub= and psub=, and their sum). */
unsigned long pubsub_client_count(const client *c);
unsigned long pubsub_client_channels(const client *c);
unsigned long pubsub_client_patterns(const client *c);

/* Deliver msg on channel ch to its subscribers and to those of every
 * matching pattern, as PUBLISH does (keyspace notifications use it).
 * Returns the number of receivers. */
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t msglen);

#endif
