/* pause: CLIENT PAUSE / CLIENT UNPAUSE — clients held, not refused.
 *
 * A sentinel's graceful failover pauses writes on the old master so the
 * chosen replica can catch up; clients must see a slow write, not an
 * error.  While a pause is on, a dispatch filter holds each command it
 * covers instead of running it:
 *
 *   WRITE   commands flagged write, PUBLISH, and EXEC of a transaction
 *   ALL     every command
 *
 * except from replication links (CLIENT_MASTER, CLIENT_REPLICA), which are
 * never paused.  A held client gets CLIENT_PAUSED: its command is copied
 * here, its further pipelined input waits in its query buffer, and the
 * event loop goes on serving everyone else.  Background writes (active
 * expiry, garbage collection) wait too (srv.writes_paused).
 *
 *   pause ends (its timer, or CLIENT UNPAUSE)
 *     --> resume pass, from its own event: each held client, in the order
 *         they were held, runs its command through server_dispatch again
 *         (a new pause may hold it again), then its pipelined input.
 *
 * As in Redis 7.0, a pause only grows: a new one extends the end time and
 * turns WRITE into ALL, never the reverse; CLIENT UNBLOCK does not release
 * a held client. */
#ifndef STRATA_PAUSE_H
#define STRATA_PAUSE_H

#include <stdint.h>

#include "server.h"

enum pause_type { PAUSE_NONE = 0, PAUSE_WRITE = 1, PAUSE_ALL = 2 };

/* Pause `type` until the wall-clock time end_ms (merged with a pause
 * already on, as above).  An end already past pauses nothing. */
void pause_start(enum pause_type type, uint64_t end_ms);

/* End any pause now; held clients resume in the next resume pass. */
void pause_end(void);

/* The pause in force (PAUSE_NONE once its end has passed). */
enum pause_type pause_current(void);

#endif
