/* slotmap: the current slot map of a cluster — which group owns each slot,
 * and at which epoch — as the sentinels aggregate it from the masters'
 * slot tables (node/cluster/slots.h) and the proxies and strata-cli read
 * it back (migration.md §8.2).
 *
 * A map is built from *claims*: "group G owns slots lo..hi at epoch E"
 * (what a master's STRATA SLOTS says about its own group's ranges).  Per
 * slot the claim with the highest epoch wins; two different groups
 * claiming a slot at the same epoch is a *conflict* (it should never
 * happen: a migration gives a range to its target at epoch + 1), counted
 * and kept as the first claim seen, so the map never flips between them.
 * A slot nobody claimed has owner -1.
 *
 * Text form (the sentinel's STATE_DIR/slots.map, and the proxy's cache
 * file), one range per line, in slot order, coalesced:
 *
 *   strata-slotmap 1
 *   <first> <last> <group> <epoch>
 *
 * Group names are interned per map: owner[] holds indexes into names[]. */
#ifndef STRATA_SLOTMAP_H
#define STRATA_SLOTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SLOTMAP_SLOTS 16384
#define SLOTMAP_MAX_GROUPS 1024

struct slotmap {
    int ngroups;
    char **names;                     /* owned, ngroups of them */
    int16_t owner[SLOTMAP_SLOTS];     /* index into names, -1 = unclaimed */
    uint64_t epoch[SLOTMAP_SLOTS];    /* epoch of the winning claim, 0 if unclaimed */
};

/* One coalesced range of a map (slotmap_ranges). */
struct slotmap_range {
    int first, last;                  /* inclusive */
    int group;                        /* index into names, -1 = unclaimed */
    uint64_t epoch;
};

void slotmap_init(struct slotmap *m);
void slotmap_free(struct slotmap *m);
/* Make *dst an independent copy of *src (dst need not be initialised). */
void slotmap_copy(struct slotmap *dst, const struct slotmap *src);

/* Index of group `name`, added when absent.  Returns -1 only when the map
 * already has SLOTMAP_MAX_GROUPS names. */
int slotmap_group(struct slotmap *m, const char *name);
/* Index of `name`, or -1 when the map does not know it. */
int slotmap_find(const struct slotmap *m, const char *name);

/* Apply one claim.  Returns the number of slots of lo..hi where another
 * group holds a claim of the same epoch (conflicts, left as they were),
 * or -1 for bad arguments (range out of 0..16383, epoch 0, no room for a
 * new name).  *changed (may be NULL) is incremented by the slots whose
 * owner or epoch changed. */
int slotmap_claim(struct slotmap *m, int lo, int hi, const char *group, uint64_t epoch, int *changed);
/* Apply every claim of src to m (same rules); returns the conflicts. */
int slotmap_merge(struct slotmap *m, const struct slotmap *src, int *changed);

/* The map as coalesced ranges (same group and epoch), in slot order, into
 * out (room for SLOTMAP_SLOTS).  Returns how many. */
int slotmap_ranges(const struct slotmap *m, struct slotmap_range *out);
/* Highest epoch of any slot (0 for an empty map). */
uint64_t slotmap_max_epoch(const struct slotmap *m);
/* Number of slots with an owner. */
int slotmap_claimed(const struct slotmap *m);

/* The text form (see above) appended to out. */
void slotmap_format(const struct slotmap *m, buf *out);
/* Parse the text form into *m (initialised by the caller; claims are
 * applied to what it holds).  Returns 0, or -1 with a message in err. */
int slotmap_parse(struct slotmap *m, const char *text, size_t len, char *err, size_t errlen);

/* Write the text form to `path` durably (tmp file, fsync, rename, fsync
 * of the directory).  Returns 0 or -1 (errno set). */
int slotmap_save(const struct slotmap *m, const char *path);
/* Read `path` into *m (initialised).  Returns 1 if loaded, 0 if the file
 * does not exist, -1 on a read or parse error (message in err). */
int slotmap_load(struct slotmap *m, const char *path, char *err, size_t errlen);

#endif
