/* link: an outgoing RESP connection (to a storage node or to a peer
 * sentinel) on the event loop, built on hiredis's async API.
 *
 * hiredis 0.14 has no timeouts of its own, so the link keeps them:
 *   - connect: a connection not established within `timeout_ms` is closed;
 *   - replies: while commands are outstanding, a link that received
 *     nothing for `timeout_ms` is closed (a stopped or wedged server);
 *   - a closed link reconnects on the next link_tick after a back-off.
 * Every reply callback runs exactly once: with the reply, or with NULL when
 * the link closes first.  Callbacks must not free the link they run on.
 *
 * Ownership: link_create returns a link the caller frees with
 * link_destroy; link_destroy runs the pending callbacks with NULL first,
 * so their privdata must still be valid at that point. */
#ifndef STRATA_SENTINEL_LINK_H
#define STRATA_SENTINEL_LINK_H

#include <stdint.h>

#include <hiredis/hiredis.h>

struct event_base;
struct link;
struct topo_user;

/* r is NULL when the link closed before the reply came. */
typedef void link_reply_fn(struct link *l, redisReply *r, void *privdata);

struct link_stats {
    uint64_t connected_ms;    /* when the current connection came up, 0 if down */
    uint64_t down_since_ms;   /* when the link last went down (or was created) */
    uint64_t last_reply_ms;   /* any reply, 0 if never */
    int pending;              /* commands in flight */
};

/* Create a link to host:port (connection attempts start at link_tick).
 * Each connection first authenticates as `auth` (topo_auth_argv: AUTH
 * password for the default user, AUTH user password for another, nothing
 * for the default user without a password; NULL: nothing); the link keeps
 * a copy.  `name` is used in log lines.  Never fails (allocation aborts). */
struct link *link_create(struct event_base *base, const char *name, const char *host, int port,
                         const struct topo_user *auth, long long timeout_ms);
void link_destroy(struct link *l);

/* Connect when due, enforce timeouts.  Call it often (every ~100 ms). */
void link_tick(struct link *l, uint64_t now);
/* Close now (pending callbacks get NULL); reconnect at a later tick. */
void link_close(struct link *l, const char *why);

/* 1 if the connection is established. */
int link_up(const struct link *l);
const struct link_stats *link_stats(const struct link *l);

/* Send a command (printf-like, hiredis format) / an argv command.
 * Returns 0, or -1 if the link is down (fn is then NOT called). */
int link_command(struct link *l, link_reply_fn *fn, void *privdata, const char *fmt, ...);
int link_command_argv(struct link *l, link_reply_fn *fn, void *privdata, int argc,
                      const char **argv, const size_t *argvlen);

#endif
