/* slotcheck: keep slots with their keys when the topology file moves them.
 *
 * Moving a slot range between groups needs its keys moved with it (a slot
 * migration: `strata-cli reshard --config FILE`, cli/).  Rerouting by the
 * file alone would hide every key of the range (they stay on the old
 * group, reads go to the new one).  So:
 *
 *   - on SIGHUP, a slot the new file gives to another group than the one
 *     the proxy routes it to now stays where it is (if that group is still
 *     in the file), with a warning per range naming what the file asks for
 *     and that it needs a migration; every other change applies;
 *   - `strata-proxy -t` asks the nodes of each group for their slot table
 *     (STRATA SLOTS, node/cluster/slots.h) and reports the ranges whose
 *     owner differs from the file, with the same words, and asks the
 *     sentinels' map (SENTINEL SLOTS) for slots of groups the file lost.
 *
 * The route the proxy runs with is therefore the file as first loaded,
 * corrected by what nodes answer (-MOVED, proxy_note_moved) and by the
 * slots kept here. */
#ifndef STRATA_PROXY_SLOTCHECK_H
#define STRATA_PROXY_SLOTCHECK_H

#include "buf.h"
#include "slotmap.h"
#include "topology.h"

struct tls_ctx;

/* A reload from `cur` (the running map) to `next` (the new file, read
 * from `path`, named in the messages): every slot that would change group
 * keeps its current group when `next` has a group of that name
 * (next->slot_group is changed).  One warning line per range goes to
 * `warn`.  Returns the number of slots kept, or -1 when a group that owns
 * slots in `cur` is missing from `next` (the reload must be refused). */
int slotcheck_reload(const struct topology *cur, struct topology *next, const char *path, buf *warn);

/* For -t: compare t's slots (read from `path`) with the tables of its
 * nodes (each node asked with a timeout of timeout_ms).  One warning line
 * per range a table gives to another group, and one per group none of
 * whose nodes answered.  Returns the number of slots that differ, or -1
 * when the sentinels' map gives slots to a group the file does not have
 * (the file is then not usable: a removed group still owns slots). */
int slotcheck_nodes(const struct topology *t, const char *path, long long timeout_ms, struct tls_ctx *tls,
                    buf *warn);

/* Ask one node for its slot table (STRATA SLOTS), synchronously with a
 * timeout, over TLS from `tls` (tls_backend's context; NULL: plain),
 * after authenticating as `auth` (topo_auth_argv; NULL: none).  Returns
 * 1 with its group's name in group and the slots it owns as a bitmap
 * (bit s of owned[s / 8], SLOT_COUNT bits), 0 if it has no table (or is
 * a redis-server), -1 if it could not be asked. */
int slotcheck_ask(const char *host, int port, const struct topo_user *auth, struct tls_ctx *tls,
                  long long timeout_ms, char *group, size_t gsize, unsigned char *owned);
/* The same, with the node's own ranges also claimed in `claims` at their
 * epochs (slotmap_claim), when claims is not NULL. */
int slotcheck_ask_claims(const char *host, int port, const struct topo_user *auth, struct tls_ctx *tls,
                         long long timeout_ms, char *group, size_t gsize, unsigned char *owned,
                         struct slotmap *claims);

#endif
