/* arena: see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "buf.h"

#define ARENA_CHUNK (64u << 10)
#define ARENA_KEEP (1u << 20)     /* spare chunks kept across resets */

struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    _Alignas(max_align_t) unsigned char data[];
};

void arena_init(arena *a)
{
    a->used = a->spare = NULL;
    a->spare_bytes = 0;
    a->allocated = 0;
}

static struct arena_chunk *chunk_new(size_t cap)
{
    struct arena_chunk *c = xmalloc(sizeof *c + cap);
    c->cap = cap;
    c->used = 0;
    c->next = NULL;
    return c;
}

void *arena_alloc(arena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = n ? (n + align - 1) & ~(align - 1) : align;
    struct arena_chunk *c = a->used;
    if (c && c->cap - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        a->allocated += n;
        return p;
    }
    if (n > ARENA_CHUNK / 4) {
        /* A big value gets a chunk of its own, behind the current one, so
         * the current chunk's free space is not wasted. */
        struct arena_chunk *big = chunk_new(n);
        big->used = n;
        if (c) {
            big->next = c->next;
            c->next = big;
        } else {
            a->used = big;
        }
        a->allocated += n;
        return big->data;
    }
    if (a->spare) {
        c = a->spare;
        a->spare = c->next;
        a->spare_bytes -= c->cap;
        c->used = 0;
    } else {
        c = chunk_new(ARENA_CHUNK);
    }
    c->next = a->used;
    a->used = c;
    c->used = n;
    a->allocated += n;
    return c->data;
}

void arena_reset(arena *a)
{
    struct arena_chunk *c = a->used;
    while (c) {
        struct arena_chunk *nx = c->next;
        if (c->cap == ARENA_CHUNK && a->spare_bytes + c->cap <= ARENA_KEEP) {
            c->next = a->spare;
            a->spare = c;
            a->spare_bytes += c->cap;
        } else {
            free(c);
        }
        c = nx;
    }
    a->used = NULL;
    a->allocated = 0;
}

void arena_free(arena *a)
{
    arena_reset(a);
    while (a->spare) {
        struct arena_chunk *nx = a->spare->next;
        free(a->spare);
        a->spare = nx;
    }
    a->spare_bytes = 0;
}
