/* monitor: MONITOR, as Redis 7.0.  A monitor client receives one simple
 * string per command executed by any client, after it ran:
 *
 *   +1700000000.123456 [0 127.0.0.1:1234] "cmd" "arg"
 *
 * (wall-clock seconds and microseconds, the database, the client's
 * address, then each argument quoted as Redis's sdscatrepr quotes it).
 * Administrative commands (CONFIG, SLOWLOG, CLIENT LIST, ...) are not
 * shown, and passwords are shown as "(redacted)", as Redis does.
 * Commands queued by MULTI show when EXEC runs them. */
#ifndef STRATA_MONITOR_H
#define STRATA_MONITOR_H

#include "server.h"

/* Show c's current command to every monitor (server_call, after the
 * handler).  Cheap when nobody monitors. */
void monitor_feed(client *c);
/* 1 if c is a monitor. */
int monitor_is(const client *c);
/* c stops monitoring (RESET), if it was a monitor. */
void monitor_stop(client *c);

void monitor_register(void);

#endif
