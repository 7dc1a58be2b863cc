/* latency: the latency monitor (LATENCY LATEST / HISTORY / RESET / DOCTOR /
 * GRAPH) and LATENCY HISTOGRAM (from cmdstats.c), as Redis 7.0.
 *
 * An event is a named series of the last 160 samples, at most one a
 * second (the worst of that second), plus its all-time maximum.  A sample
 * is taken only when latency-monitor-threshold is not 0 and the latency,
 * in milliseconds, reaches it.  The events strata-node records:
 *   command        a command (not flagged fast) took that long
 *   fast-command   a command flagged fast (O(1) or O(log N)) took that long
 *   expire-cycle   the active expiry sweep of one cron tick (Redis's name)
 *   gc-cycle       one batch of the lazy deletion of old collections' records
 *   commit         the LevelDB write of one loop iteration's changes
 *                  (with its fsync under `fsync: always`; under everysec
 *                  the fsync runs on a background thread and is not timed) */
#ifndef STRATA_LATENCY_H
#define STRATA_LATENCY_H

/* Record `ms` for `event` if the monitor is on and ms >= its threshold. */
void latency_sample(const char *event, long long ms);

void latency_register(void);

#endif
