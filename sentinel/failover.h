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
 * value, then host:port.
 *
 * Safe promotion (the default; topology `promotion: safe`).  A master
 * with min_replica_acks K acknowledges a write once K of its N replicas
 * hold it, so any N - K + 1 replicas include one that holds it.  After
 * the fence wait (below: from then on the old master acknowledges
 * nothing), an automatic failover waits for the replication position
 * (epoch of the newest record, lsn) of N - K + 1 replicas, each from an
 * INFO asked for after the fence ended, and promotes the best of them
 * only if it is the newest of them (a priority-0 replica that is newer
 * blocks it), and only if its lsn is not below the highest lsn the old
 * master last reported acked by a replica.  K is what the old master last
 * said in INFO (min_replica_acks, semi_sync_status).  Taken as K = 1, so
 * every replica must be heard: K = 0 (asynchronous; no write is promised
 * to any replica), a master seen "degraded" (replica_ack_fallback async
 * answered writes without replicas), or K unknown (this sentinel never
 * saw that master's INFO).  K = 0 promises nothing anyway: what the
 * master acknowledged alone is on no replica, and is lost whatever is
 * promoted; only replica_ack_fallback error with K >= 1 makes the promise
 * whole.  K above N counts as N.  Positions come with INFO every ping_ms;
 * the failover waits for them until 2 ping periods before
 * failover_timeout_ms after its start (its voters renew the old lease
 * then), and otherwise gives up: -failover-abort-not-enough-replicas (or
 * -newest-replica-not-promotable, -acked-writes-unreachable) is
 * published, the reason is logged and shown in INFO (masterN ...
 * failover_blocked=code) and SENTINEL MASTER (failover-blocked,
 * failover-blocked-reason) until the group has a master again or its
 * master is back.  The group then stays without a writable master: its
 * old master is fenced (no renewals while odown) and nothing is promoted;
 * once enough replicas (or the old master) are reachable again, the next
 * attempt succeeds or the old master resumes.
 *
 * `promotion: available` in a group of the topology promotes the best
 * reachable replica at once after the fence wait, as before: it can lose
 * writes acknowledged by replicas it did not hear (a master cut off with
 * one of its replicas keeps acknowledging until its lease ends).  A manual
 * failover (SENTINEL FAILOVER) is an operator's choice: it pauses a
 * reachable master and waits for the chosen replica to catch up; with the
 * master unreachable it fences, then promotes the best reachable replica.
 *
 * Fencing.  A node's lease (fence_lease_ms, from its INFO) holds while a
 * majority of the sentinels renewed it within the lease; a sentinel does
 * not renew while it runs a failover of the group, nor for
 * failover_timeout_ms after it voted in a newer epoch (mon.h).  The
 * leader's voters are a majority, and any majority of renewals shares one
 * of them, so once elected the leader knows the old master's lease ends
 * at most lease + (a renewal still in flight) later: an automatic
 * failover waits that long (FENCING, failover_fence_wait_ms) before
 * REPLICAOF NO ONE, so two masters are never writable together.  It must
 * promote before its voters renew again, so a lease longer than about
 * failover_timeout_ms makes it give up instead.  A manual failover does
 * not wait: the old master holds its writes (paused) and is made a
 * replica before they are released, which then get -READONLY.
 *
 * What fencing alone does not cover: writes the old master acknowledged
 * after it was cut off and before its lease ran out, acked by a replica
 * cut off with it, are not on a replica of the other side (the partition
 * test measured about 300 per run).  Safe promotion above closes that:
 * it waits for that replica's position, or promotes nothing. */
#ifndef STRATA_SENTINEL_FAILOVER_H
#define STRATA_SENTINEL_FAILOVER_H

#include <stdint.h>

#include "sentinel.h"

struct redisReply;

/* A renewal in flight may reach the node this long after it was sent
 * (at least; ping_ms if larger): part of the fencing wait. */
#define FO_FENCE_MARGIN_MS 100

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
/* lease_age: ms since that peer last renewed the old master's lease, -1
 * unknown (taken as "just now"). */
void failover_vote_reply(int gi, int pi, uint64_t epoch, const char *leader, uint64_t leader_epoch,
                         long long lease_age);
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

/* Pure parts, unit-tested. */
/* 1 if x is a better candidate than y: higher (last_epoch, lsn), then
 * already a master, then lower priority value, then host, then port. */
int failover_better(const struct snode *x, const struct snode *y);
/* The best of nodes[0..n) that is not `exclude`, usable[i] != 0 (reachable,
 * fresh INFO), priority > 0 and of known role; -1 if none. */
int failover_choose(const struct snode *nodes, int n, int exclude, const int *usable);
/* Votes a leader needs: a majority of nsentinels, and at least quorum. */
int failover_needed_votes(int nsentinels, int quorum);
/* Positions a safe promotion must hear among nreplicas replicas of a
 * master that reported min_replica_acks (if acks_known) and whether it
 * was degraded: nreplicas - K + 1 with K clamped to 1..nreplicas. */
int failover_positions_needed(int nreplicas, int acks_known, long long min_acks, int degraded);
/* Safe choice among nodes[0..n) whose position was heard (heard[i]),
 * excluding `exclude`: -1 (with *code "not-enough-replicas" or
 * "newest-replica-not-promotable") unless at least `needed` were heard
 * and the best promotable one (failover_choose) is the newest of them.
 * *nheard gets how many were heard. */
int failover_choose_safe(const struct snode *nodes, int n, int exclude, const int *heard, int needed,
                         int *nheard, const char **code);
/* A ROLE reply that says "master". */
int failover_role_is_master(const struct redisReply *r);
/* How long an elected leader waits before promoting, for a master whose
 * lease is lease_ms (0: none, no wait). */
uint64_t failover_fence_wait_ms(uint64_t lease_ms, uint64_t ping_ms);

#endif
