/* slotagg: the cluster's current slot map, as every sentinel aggregates
 * it (migration.md §8.2).
 *
 * Every SLOTAGG_MS each group's config master (when it is a strata-node
 * and answers) is asked STRATA SLOTS; the ranges its table gives its own
 * group are claims, merged into the map with the highest epoch winning
 * per slot (common/slotmap.h).  A master's claims are all it knows for
 * sure: the other ranges of its table are hints and are not used.  So
 * after a migration the target's claim at epoch + 1 replaces the source's
 * at once, and a stale master (an old table, or a promoted replica that
 * missed the move) cannot take a range back.
 *
 *   - persisted: STATE_DIR/slots.map (slotmap.h's text form), rewritten
 *     durably on each change and read at start, so a restarted sentinel
 *     answers the map before it has polled anyone;
 *   - answered: SENTINEL SLOTS -> one [first, last, group, epoch] per
 *     claimed range in slot order (the shape of a node's STRATA SLOTS
 *     ranges);
 *   - published: `+slots <epoch> <first>-<last> <group>` per range that
 *     changed, on the channel +slots;
 *   - conflicts (two groups claiming a slot at one epoch: never made by a
 *     migration) are logged and published as `+slots-conflict <first>-<last>
 *     <group> <epoch>`, at most once per SLOTAGG_CONFLICT_MS and range; the
 *     first claim stays. */
#ifndef STRATA_SENTINEL_SLOTAGG_H
#define STRATA_SENTINEL_SLOTAGG_H

#include <stdint.h>

#include "buf.h"
#include "sentinel.h"
#include "slotmap.h"

struct redisReply;

#define SLOTAGG_MS 500
#define SLOTAGG_CONFLICT_MS 10000

/* Load STATE_DIR/slots.map (a missing file is an empty map).  Returns 0
 * or -1 (logged: the file is damaged). */
int slotagg_load(void);
/* Ask g's config master for its table when due. */
void slotagg_tick(struct sgroup *g, uint64_t now);
/* Apply one STRATA SLOTS reply of a master (tests call it directly).
 * Returns the number of slots that changed. */
int slotagg_note(const struct redisReply *r, uint64_t now);
/* The current map (read-only). */
const struct slotmap *slotagg_map(void);
/* SENTINEL SLOTS's reply. */
void slotagg_reply(buf *out);

#endif
