/* tracking: client-side caching (Redis 7.0's CLIENT TRACKING).
 *
 *   CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
 *                          [OPTOUT] [NOLOOP]
 *   CLIENT CACHING YES|NO, CLIENT GETREDIR, CLIENT TRACKINGINFO
 *
 * Default mode: the keys a tracking client reads (read-only commands,
 * remembered after the command as Redis's call() does) go into a table
 * key -> client ids; the first change of such a key sends each of them
 * one invalidation and forgets the key.  BCAST mode: nothing is
 * remembered; every change of a key under one of the client's prefixes
 * is collected and sent at the end of the loop iteration, one message per
 * prefix.  OPTIN / OPTOUT with CLIENT CACHING choose which reads count.
 * NOLOOP: no invalidation for the client's own changes.
 *
 * Delivery: RESP3 clients get pushes  >2 "invalidate" [keys];  a RESP2
 * client redirects (REDIRECT id) to a client subscribed to
 * __redis__:invalidate, which gets  *3 "message" "__redis__:invalidate"
 * [keys].  If the redirect target is gone the tracking client is flagged
 * broken (and, in RESP3, told: >2 "tracking-redir-broken" id).  FLUSHALL
 * and FLUSHDB invalidate everything: a null instead of the key list.  An
 * invalidation for the client whose command caused it is held until that
 * command (or its whole EXEC) has replied.
 *
 * What feeds it: the "key modified" signal of multi.c (one mechanism for
 * WATCH and tracking: writes, expiry, replication), flushall's
 * tracking_invalidate_all(), and server_call's tracking_after_call(). */
#ifndef STRATA_TRACKING_H
#define STRATA_TRACKING_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* 1 if any client tracks, or a table entry is left (cheap test for the
 * write path). */
int tracking_active(void);

/* 1 if a change of key must reach tracking: it is in the table or under a
 * BCAST prefix. */
int tracking_wants_key(const char *key, size_t klen);

/* Key modified by the command of `cur` (NULL: background work such as
 * active expiry, or the master's writes on a replica). */
void tracking_invalidate_key(client *cur, const char *key, size_t klen);

/* A replica applied a subkey change of the collection with this version
 * (its master's record names versions, not keys): invalidate the key
 * tracked with it, if any. */
void tracking_invalidate_version(uint64_t version);

/* FLUSHALL / FLUSHDB by `cur`: every tracking client is told everything
 * is invalid, the table is emptied, and the flush's own per-key changes
 * are not reported again. */
void tracking_invalidate_all(client *cur);

/* After each server_call of c: remember the keys of a read-only command,
 * and at the top level (not inside EXEC's queue) end a CLIENT CACHING
 * choice. */
void tracking_after_call(client *c);
/* After server_dispatch has dealt with c's reply: send c its held
 * invalidations (after the reply, and even under CLIENT REPLY OFF). */
void tracking_after_dispatch(client *c);

/* CLIENT TRACKING | CACHING | GETREDIR | TRACKINGINFO: returns 1 if argv[1]
 * is one of them (the reply is written), else 0. */
int tracking_client_command(client *c);

/* For CLIENT LIST / INFO: the redir= value (the redirect client id, 0 for
 * none, -1 when tracking is off), and the flag letters Redis prints:
 * "t" tracking, then "R" broken redirect, then "B" broadcast mode, in that
 * order (a static string; "" when tracking is off). */
long long tracking_redirect_id(const client *c);
/* For INFO: tracking_clients (Clients section), tracking_total_keys,
 * tracking_total_items and tracking_total_prefixes (Stats section). */
void tracking_info(unsigned long long *clients, unsigned long long *keys, unsigned long long *items,
                   unsigned long long *prefixes);
const char *tracking_flags_string(const client *c);

#endif
