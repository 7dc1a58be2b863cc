/* sentwatch: following failover through the sentinels of topology.yaml.
 *
 * One thread, with blocking hiredis calls bounded by short timeouts:
 *   - subscribes to +switch-master on every sentinel (a message triggers
 *     an immediate refresh);
 *   - every sentinel_poll_ms (and on demand: +switch-master, -READONLY
 *     from a node, a node whose ROLE is not master) asks every sentinel
 *     for every group's master with SENTINEL MASTER <group> (falling back
 *     to SENTINEL GET-MASTER-ADDR-BY-NAME) and publishes the result.
 *
 * Decision per group: only when a majority of the sentinels answered; the
 * address reported with the highest config-epoch wins (ties: the most
 * votes).  Without a majority the last decision stands: a proxy cut off
 * from most sentinels keeps routing where it did. */
#ifndef STRATA_PROXY_SENTWATCH_H
#define STRATA_PROXY_SENTWATCH_H

/* Query once synchronously (so the first snapshot is right), then start
 * the thread.  Does nothing without a sentinel: section.  Returns 0/-1. */
int sentwatch_start(void);
void sentwatch_stop(void);
/* Ask for a refresh as soon as possible (any thread, async-signal-safe). */
void sentwatch_refresh(void);

#endif
