/* peer: the other sentinels of sentinel.addrs.
 *
 * Each peer has one link.  Every ping_ms it gets a PING (peer liveness:
 * fencing renewals need a majority in reach), every PEER_HELLO_MS a hello
 * carrying this sentinel's id and its config of every group:
 *
 *   SENTINEL STRATA-HELLO <myid> <host> <port> <group> <config_epoch> <master_host> <master_port> ...
 *
 * A sentinel adopts any group config with a higher epoch than its own
 * (persisting it first), which is how a failover done by one leader
 * reaches the others, also after a partition heals.  The leader sends a
 * hello at once after a failover.
 *
 * Down reports and votes use Redis Sentinel's command:
 *
 *   SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> <epoch> <runid | *>
 *   -> [down 0|1, leader runid or "*", leader epoch]
 *
 * With "*" it only asks whether the peer sees that master down; with a
 * runid it also asks for the peer's vote for that runid in `epoch`. */
#ifndef STRATA_SENTINEL_PEER_H
#define STRATA_SENTINEL_PEER_H

#include <stdint.h>

#define PEER_HELLO_MS 500

void peer_start(void);
void peer_stop(void);
void peer_tick(uint64_t now);

/* Send hellos to every peer now. */
void peer_hello_all(void);
/* Ask every peer for its vote in g->fo.epoch (failover.c counts them). */
void peer_request_votes(int gi);
/* A peer is in reach: it answered within a few ping periods. */
int peer_reachable(int pi, uint64_t now);
/* Peers that see group gi's config master down (recent answers only). */
int peer_count_down(int gi, uint64_t now);

/* Handle a hello received by cmd.c.  Returns 0, or -1 if it is malformed. */
int peer_on_hello(int argc, char **argv);

/* Vote for `runid` in `epoch` for group gi if this sentinel may: it has
 * not voted in this epoch (or voted for the same runid) and the epoch is
 * newer than the group's config.  The vote is persisted before this
 * returns.  Fills the current leader and its epoch. */
void peer_vote(int gi, uint64_t epoch, const char *runid, const char **leader, uint64_t *leader_epoch);

#endif
