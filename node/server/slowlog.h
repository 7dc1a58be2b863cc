/* slowlog: SLOWLOG and the log of slow commands, as Redis 7.0 keeps it.
 *
 * server_call offers every executed command (EXEC aside, as Redis skips
 * it) with its duration; one that took at least slowlog-log-slower-than
 * microseconds (-1: none, 0: all) is put at the head of the log, which
 * keeps slowlog-max-len entries (trimmed when an entry is added, as
 * Redis does).  An entry keeps at most 32 arguments (the 32nd then says
 * how many more there were) and 128 bytes of each (plus how many more). */
#ifndef STRATA_SLOWLOG_H
#define STRATA_SLOWLOG_H

#include <stdint.h>

#include "server.h"

/* Record c's current command (c->argc/argv) if it was slow. */
void slowlog_offer(client *c, uint64_t usec);
/* 1 if argument j of c's command must not be shown in the slow log or to
 * MONITOR (passwords of AUTH, HELLO ... AUTH, CONFIG SET requirepass):
 * shown as "(redacted)", as Redis does. */
int slowlog_redacted(const client *c, int j);

void slowlog_register(void);

#endif
