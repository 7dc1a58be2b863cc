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
 * from most sentinels keeps routing where it did.
 *
 * The slot map (where each slot is now, sentinel/slotagg.h): with each
 * table read (every SW_TABLES_MS, at once on +slots, which the thread
 * also subscribes to, and on -MOVED) the thread asks every sentinel for
 * SENTINEL SLOTS; when a majority answered, their claims are merged
 * (highest epoch per slot wins) and routed (proxy_apply_claims), then the
 * masters' own tables are read as before.  With proxy.slots_cache set,
 * the merged map is written there on change, and read at start when no
 * majority of sentinels answers, so a restarted proxy routes by the last
 * map it knew rather than by the file; -MOVED corrects whatever is stale. */
#ifndef STRATA_PROXY_SENTWATCH_H
#define STRATA_PROXY_SENTWATCH_H

/* Query once synchronously (so the first snapshot is right), then start
 * the thread.  Does nothing without a sentinel: section.  Returns 0/-1. */
int sentwatch_start(void);
void sentwatch_stop(void);
/* Ask for a refresh as soon as possible (any thread, async-signal-safe). */
void sentwatch_refresh(void);

#endif
