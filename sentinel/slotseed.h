/* slotseed: give each group's master its first slot table
 * (node/cluster/slots.h) from topology.yaml.
 *
 * The YAML's slot ranges are the bootstrap (migration.md §8.2): a master
 * with no table owns every slot, so the seeding sentinel sends it
 *
 *   STRATA SETSLOTS <its group> 1 <group> <ranges> [<group> <ranges> ...]
 *
 * with every group's ranges as this sentinel's topology has them, less
 * the slots other groups' tables already own (slotseed_plan), once every
 * group's master has said what it owns.  A node
 * refuses SETSLOTS once it has a table, so later edits of the YAML never
 * change a table (only a migration does), and two sentinels racing to seed
 * the same master cannot both succeed.  Only one sentinel seeds: the one
 * with the smallest id among itself and the peers it hears from, and only
 * while it hears from a majority (so a partitioned minority sentinel with
 * an edited file does not seed).  It asks each config master that is up
 * and a strata-node `STRATA SLOTS` every SEED_CHECK_MS, and seeds it when
 * the reply shows no table.  Replicas get the table through replication;
 * a replica promoted before it had the record is seeded as a master
 * without one (the residual risk of asynchronous replication). */
#ifndef STRATA_SENTINEL_SLOTSEED_H
#define STRATA_SENTINEL_SLOTSEED_H

#include <stdint.h>

#include "sentinel.h"

#define SEED_CHECK_MS 1000

/* This sentinel is the one that seeds (see above). */
int slotseed_is_leader(uint64_t now);
/* Check g's config master and seed it if it has no table. */
void slotseed_tick(struct sgroup *g, uint64_t now);
/* "0-100,200-300": the slots owner[] gives group gi, into out
 * (NUL-terminated, truncated to size).  Returns the length. */
int slotseed_ranges(const uint16_t *owner, int gi, char *out, size_t size);

/* The table to seed group gi with: owner[s] is the YAML's group (yaml[s])
 * except for slots another group's table already owns (claims[h]: a
 * bitmap of the slots group h's master owns, NULL when it has no table),
 * which stay with that group: a group added to the file with slots taken
 * from a running group must not own them too (only a migration moves
 * them).  Returns how many of the YAML's slots for gi another group keeps. */
int slotseed_plan(int ngroups, const uint16_t *yaml, int gi, const unsigned char *const *claims,
                  uint16_t *owner);

#endif
