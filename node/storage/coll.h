/* coll: walking and random sampling of one collection's subkeys.
 *
 * Every element of a hash, set (and zset member table) is one LevelDB key
 * under its collection's version (db.h):
 *
 *     'D' | version:8 | member   ->  value ("" for sets)
 *
 * so a collection is a contiguous, byte-ordered range.  coll_iter walks
 * that range over the merged store view (committed data plus the pending
 * writes of the current batch) and stops at its end by itself; coll_sample
 * draws random elements from it without loading it: small collections are
 * walked (exactly uniform), big ones are probed with seeks to random keys
 * between their first and last member (approximately uniform).
 *
 * Single-threaded, like the store.  An iterator must be freed before the
 * command returns (store iterators do not survive a commit). */
#ifndef STRATA_COLL_H
#define STRATA_COLL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

typedef struct coll_iter {
    store_iter *it;     /* owned */
    buf prefix;         /* 'D' version, then scratch for seeks */
    int valid;          /* positioned on an element of this collection */
} coll_iter;

/* Open an iterator on the collection `version`, positioned on its first
 * element (not valid if the collection is empty).  Free with
 * coll_iter_free. */
void coll_iter_init(coll_iter *ci, uint64_t version);
void coll_iter_free(coll_iter *ci);
/* Position on the first element >= member (byte order). */
void coll_iter_seek(coll_iter *ci, const char *member, size_t len);
/* Position on the first element. */
void coll_iter_rewind(coll_iter *ci);
void coll_iter_next(coll_iter *ci);
static inline int coll_iter_valid(const coll_iter *ci) { return ci->valid; }
/* The current member and value: pointers into the store, valid until the
 * iterator moves or the store is written. */
const char *coll_iter_member(const coll_iter *ci, size_t *len);
const char *coll_iter_value(const coll_iter *ci, size_t *len);
/* Byte-order comparison of the current member with m (memcmp, then
 * length): <0, 0, >0.  The iterator must be valid. */
int coll_iter_cmp(const coll_iter *ci, const char *m, size_t mlen);

/* Called once per drawn element; returns 0 to go on, non-zero to stop
 * (the reply grew too big, for example).  member/value are valid only
 * during the call. */
typedef int coll_sample_fn(void *ctx, const char *member, size_t mlen,
                           const char *value, size_t vlen);

/* Draw n elements from the collection `version` holding `count` elements
 * and hand each to fn.
 *   distinct = 1: n different elements (all of them, in order, when
 *                 n >= count); the order of the draws is unspecified.
 *   distinct = 0: n independent draws, repetitions allowed, in random
 *                 order.
 * Returns the number of elements handed to fn (fewer than asked if fn
 * stopped early or the collection is smaller than its count says). */
uint64_t coll_sample(uint64_t version, uint64_t count, uint64_t n, int distinct,
                     coll_sample_fn *fn, void *ctx);

/* HSCAN / SSCAN key cursor [MATCH pattern] [COUNT n] on a collection of
 * `type`: Redis's order of checks (cursor, then key and type, then the
 * options), each member followed by emit_value's reply when given.  The cursor remembers the
 * next member to visit (cursor.h), so a scan survives writes and sees
 * every element present from its start to its end at least once. */
struct client;
/* emit_value: appends the reply for an element's stored value after its
 * member (HSCAN: the value; ZSCAN: the score), or NULL for members only. */
typedef void coll_emit_fn(buf *out, const char *v, size_t vl);
void coll_scan(struct client *c, int type, coll_emit_fn *emit_value);

/* A uniformly distributed random integer in [0, n) (n > 0), from a
 * generator seeded at the first call.  Not for cryptographic use. */
uint64_t coll_rand_below(uint64_t n);

#endif
