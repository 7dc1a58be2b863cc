/* synclink: a blocking, one-command-at-a-time RESP2 link to a node, plain
 * or TLS, for the proxy's one-shot questions to the nodes (slotcheck.c:
 * STRATA SLOTS at -t and from the sentinel watcher), where the shared
 * links of the workers (backend.c) do not fit.
 *
 * hiredis 0.14 (Debian 12's) has no TLS, so the connection is our own
 * (tls.h over a non-blocking socket, waited on with poll) and hiredis
 * only frames the replies (its redisReader) and builds redisReply trees,
 * which callers free with freeReplyObject.
 *
 * Every call is bounded by the link's timeout, counted from the call's
 * start, as hiredis's redisSetTimeout. */
#ifndef STRATA_PROXY_SYNCLINK_H
#define STRATA_PROXY_SYNCLINK_H

#include <stddef.h>

struct tls_ctx;
typedef struct synclink synclink;

/* Connect to host:port within timeout_ms, with a TLS handshake from
 * `tls` (connecting side; NULL: plain).  Returns the link, owned by the
 * caller (synclink_close), or NULL with the reason in err (NUL-terminated,
 * at most errlen bytes: "connection refused", the TLS failure, ...). */
synclink *synclink_open(const char *host, int port, struct tls_ctx *tls, long long timeout_ms, char *err,
                        size_t errlen);
/* Send argv[0..argc) and wait for its reply.  Returns the reply (a
 * redisReply *, the caller's: freeReplyObject) or NULL when the link
 * failed (timeout, closed, protocol error): it is then unusable. */
void *synclink_command(synclink *l, int argc, const char **argv);
/* NULL is a no-op. */
void synclink_close(synclink *l);

#endif
