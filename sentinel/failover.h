/* failover: from a master that is down to a promoted replica, per group.
 *
 *   config master sdown here --ask peers--> odown (quorum sentinels agree)
 *        |  random delay 0..ping_ms, unless we voted for another leader
 *        v  within failover_timeout_ms
 *   ELECTING: epoch = highest seen + 1, vote for self (persisted), ask
 *        every peer; a majority of all sentinels (and at least quorum)
 *        makes this sentinel the leader of that epoch
 *        |                             \ (manual, master reachable)
 *        |                              PAUSING: writes paused on the master,
 *        |                              wait until the chosen replica holds
 *        v                              the master's last record
 *   PROMOTING: REPLICAOF NO ONE on the best replica, then ROLE until it
 *        says master; the new config (epoch, master) is persisted, then
 *        published (+switch-master), sent to peers (hello), and the other
 *        nodes are pointed at the new master at once.
 *
 * Any state that outlives its deadline is abandoned (a paused master is
 * resumed); the next attempt comes after a random back-off.  A sentinel
 * that voted for another leader waits failover_timeout_ms before it runs
 * for leader itself, so a leader that dies mid-way is replaced within
 * about that time.  A config with a newer epoch from a peer ends any
 * attempt of ours for that group.
 *
 * Best replica: reachable with fresh INFO, priority > 0, highest
 * (epoch of its newest record, lsn), then one that already is a master
 * (a previous leader promoted it before dying), then lower priority
 * value, then host:port.  An automatic failover refuses a best replica
 * whose lsn is below the highest lsn the old master reported acked by any
 * replica: an unreachable replica holds writes that were acknowledged. */
#ifndef STRATA_SENTINEL_FAILOVER_H
#define STRATA_SENTINEL_FAILOVER_H

#include <stdint.h>

/* Create / free the per-group election timers (at start, around reloads). */
void failover_start(void);
void failover_stop(void);
void failover_tick(uint64_t now);
/* Re-evaluate group gi now (a peer just reported its master down). */
void failover_check(int gi, uint64_t now);

/* SENTINEL FAILOVER: start a manual failover.  Returns 0, or -1 with a
 * Redis-style error (static string) in *err. */
int failover_manual(int gi, const char **err);

/* A peer's answer to our vote request (peer.c). */
void failover_vote_reply(int gi, int pi, uint64_t epoch, const char *leader, uint64_t leader_epoch);
/* This sentinel just voted for another one in `epoch` (peer.c). */
void failover_voted_other(int gi, uint64_t epoch);
/* Take a newer config for group gi (from a hello, or our own failover):
 * persisted, then published.  Returns 0, or -1 if it could not be saved. */
int failover_adopt(int gi, uint64_t epoch, const char *host, int port, const char *why);
/* Name of the group's failover state ("none", "electing", ...). */
const char *failover_state_name(int gi);
/* Index of the best replica to promote in group gi (excluding node
 * `exclude`), or -1. */
int failover_pick(int gi, int exclude, uint64_t now);

#endif
