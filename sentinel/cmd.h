/* cmd: the commands strata-sentinel answers — those of Redis Sentinel that
 * clients, proxies and operators use, plus the peer commands:
 *
 *   PING, ECHO, QUIT, AUTH, HELLO (2 and 3), INFO, ROLE, CLIENT SETNAME/GETNAME/ID/LIST/INFO,
 *   COMMAND (empty), SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE,
 *   SENTINEL get-master-addr-by-name | masters | master | replicas | slaves |
 *            sentinels | failover | ckquorum | myid | is-master-down-by-addr |
 *            strata-hello (peer.h) | reset (no-op)
 *
 * Field names and error texts follow Redis Sentinel 7.0 so sentinel-aware
 * clients (redis-py's Sentinel, the proxy) parse the answers unchanged;
 * extra fields (epoch, lsn, acked-lsn, failover-state) are appended. */
#ifndef STRATA_SENTINEL_CMD_H
#define STRATA_SENTINEL_CMD_H

#include <stddef.h>

#include "buf.h"

struct sclient;

/* Run one command; argv[i] are NUL-terminated copies (argvlen gives the
 * real lengths).  Replies are appended to out.  need_auth: the client
 * must AUTH first. */
void cmd_dispatch(struct sclient *c, int need_auth, int argc, char **argv, size_t *argvlen, buf *out);

#endif
