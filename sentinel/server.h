/* server: strata-sentinel's RESP endpoint — the listener, client
 * connections (parsed with common/resp), authentication against the
 * topology's password, and pub/sub (SUBSCRIBE, PSUBSCRIBE, PUBLISH of
 * events such as +switch-master to every matching subscriber).
 * Commands themselves are in cmd.c. */
#ifndef STRATA_SENTINEL_SERVER_H
#define STRATA_SENTINEL_SERVER_H

#include <stddef.h>

#include "buf.h"

struct sclient;

/* Listen on bind:port.  Returns 0 or -1 with a message in errs. */
int server_start(const char *bind, int port, buf *errs);
/* Close the listener and every client. */
void server_stop(void);

/* Publish `channel` with a printf-formatted payload to every subscriber,
 * and log it (events are the sentinel's main log lines).  Returns the
 * number of clients that received it. */
int server_publish(const char *channel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For cmd.c: pub/sub state of a client. */
int server_client_subscriptions(const struct sclient *c);
void server_subscribe(struct sclient *c, int pattern, int argc, char **argv, size_t *argvlen, buf *out);
void server_unsubscribe(struct sclient *c, int pattern, int argc, char **argv, size_t *argvlen, buf *out);
/* Close the client once its pending replies are written (QUIT). */
void server_client_close_after_reply(struct sclient *c);
void server_client_set_authed(struct sclient *c);
int server_client_authed(const struct sclient *c);
/* The protocol the client speaks: RESP2 until HELLO 3. */
int server_client_proto(const struct sclient *c);
void server_client_set_proto(struct sclient *c, int proto);
long long server_client_id(const struct sclient *c);
/* CLIENT SETNAME: the name is copied; len 0 clears it.  The getter
 * returns NULL when there is none (the string belongs to the client). */
const char *server_client_name(const struct sclient *c);
void server_client_set_name(struct sclient *c, const char *name, size_t len);
/* The command being run, by Redis's full name ("sentinel|masters"), for
 * CLIENT LIST's cmd= field. */
void server_client_set_cmd(struct sclient *c, const char *fullname);
/* CLIENT LIST (every client, oldest first) or CLIENT INFO (only_self):
 * one line per client, each ended by "\n", appended to o. */
void server_client_list(const struct sclient *self, int only_self, buf *o);
int server_nclients(void);
/* INFO stats: connections accepted and commands run since start, and the
 * distinct channels and patterns clients are subscribed to. */
void server_stats(long long *conns, long long *cmds, int *chans, int *pats);
void server_count_command(void);
const char *server_client_addr(const struct sclient *c);

#endif
