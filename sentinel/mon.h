/* mon: watching the storage nodes of every group.
 *
 * Every ping_ms each node gets a PING and an INFO server replication (one of each
 * in flight at most), on its own link with timeouts, so a slow or dead
 * node never delays another one or another group.  From the replies:
 *   - sdown: no valid PING reply (+PONG, -LOADING, -MASTERDOWN) for
 *     down_after_ms;
 *   - role, the master a replica follows, (epoch, lsn), fenced, and from a
 *     master's slaveN lines what each replica acknowledged.
 * Each tick also:
 *   - renews the fencing lease of each group's config master (REPLCONF
 *     sentinel-count N sentinel-renew ID: the node needs renewals from a
 *     majority of the N sentinels), but only while this sentinel hears
 *     from a majority of the sentinels (so a sentinel cut off with an old
 *     master does not keep it writable), no failover of its own is
 *     running, and it has not voted in a newer epoch within
 *     failover_timeout_ms (a voter's renewal would let the master it
 *     helps replace stay writable: see failover.h, fencing);
 *   - re-points nodes that follow the wrong master (a returning old master,
 *     a replica still on the old one) once that has lasted a while and the
 *     config master is healthy; a node claiming a newer epoch than the
 *     config master is left alone (this sentinel may be the stale one). */
#ifndef STRATA_SENTINEL_MON_H
#define STRATA_SENTINEL_MON_H

#include <stdint.h>

#include "sentinel.h"

/* Create the links of every node of every group. */
void mon_start(void);
/* Close and free every node link (pending callbacks run with NULL). */
void mon_stop(void);
void mon_tick(uint64_t now);

/* The node is reachable and its INFO is recent enough to act upon. */
int mon_node_fresh(const struct snode *n, uint64_t now);

/* Parse an INFO replication text into n (role, master, epoch, lsn, ...);
 * for a master, g's other nodes get their acked lsn and g->acked_floor
 * grows.  g may be NULL. */
void mon_parse_info(struct sgroup *g, struct snode *n, const char *text, uint64_t now);

/* Milliseconds since this sentinel last renewed n's lease; renewals of
 * an earlier run of this process count as made at its start. */
uint64_t mon_lease_age(const struct snode *n, uint64_t now);

/* This sentinel may renew the lease of g's config master now: no
 * failover of its own, no odown, no recent vote in a newer epoch. */
int mon_may_renew(const struct sgroup *g, uint64_t now);

/* Which node of g a master's "slaveN:ip=IP,port=PORT,..." line is
 * about: IP is the replica's address as the master sees it, PORT the
 * listening port it announced.  Tried in order: the topology host, or
 * the address it resolved to, equal to IP with the same port; else the
 * only node of g with that port.  Returns its index, or -1 (unknown or
 * ambiguous: the caller still counts what it acknowledged). */
int mon_match_replica(const struct sgroup *g, const char *ip, int port);

/* "host:port" of a node, for messages. */
const char *mon_addr(const struct snode *n, char *out, size_t size);

#endif
