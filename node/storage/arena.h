/* arena: bump allocation for memory that dies all at once.
 *
 * The store's pending overlay allocates a skiplist node, a key and a value
 * per write and frees them all at the commit; an arena turns that into a
 * pointer bump per allocation and a reset per commit.  Chunks are kept
 * for the next batch (up to ARENA_KEEP bytes), so a steady write load
 * stops calling malloc at all.
 *
 * Ownership: everything arena_alloc returns belongs to the arena and stays
 * valid (and at the same address) until arena_reset or arena_free.
 * Single-threaded. */
#ifndef STRATA_ARENA_H
#define STRATA_ARENA_H

#include <stddef.h>

struct arena_chunk;

typedef struct arena {
    struct arena_chunk *used;    /* chunks in use, the current one first */
    struct arena_chunk *spare;   /* kept from earlier batches */
    size_t spare_bytes;
    size_t allocated;            /* bytes handed out since the last reset */
} arena;

void arena_init(arena *a);
/* n bytes aligned for any scalar type; never NULL (aborts on OOM). */
void *arena_alloc(arena *a, size_t n);
/* Everything allocated becomes invalid; chunks are kept for reuse. */
void arena_reset(arena *a);
/* Release all memory. */
void arena_free(arena *a);

#endif
