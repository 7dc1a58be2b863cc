/* migrate_codec: the pure pieces of slot migration (migrate.h), with no
 * store and no event loop, so unit tests reach them directly.
 *
 *   ranges   a set of slots, parsed from topology.yaml's syntax
 *            ("0-100,200,300-400") and printed back in canonical form
 *   vmap     an open-addressing map of collection versions (u64 -> u64):
 *            the source's set of versions whose collections live in the
 *            range, the target's remap of source versions to its own
 *   ops      the store_ops format (store.h) that both the copy chunks and
 *            the WAL tail travel in:
 *              (op:1 'P'|'D' | klen:4 | key | ['P': vlen:4 | value])*
 *   filter   which operations of a WAL record concern the range: see
 *            mig_filter_ops
 *
 * Why versions: subkeys ('D', 'Z', 'G') carry only the collection's
 * version, not its user key (db.h), so a subkey's slot is known only
 * through the 'M' record that names that version. */
#ifndef STRATA_MIGRATE_CODEC_H
#define STRATA_MIGRATE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MIG_SLOTS 16384

struct mig_ranges {
    unsigned char bits[MIG_SLOTS / 8];
    unsigned count;                 /* slots in the set */
};

/* Parse "0-100,200" into r (cleared first).  Returns 0, or -1 with a
 * message in err. */
int mig_ranges_parse(struct mig_ranges *r, const char *s, size_t len, char *err, size_t errlen);
static inline int mig_ranges_has(const struct mig_ranges *r, unsigned slot)
{
    return slot < MIG_SLOTS && ((r->bits[slot >> 3] >> (slot & 7)) & 1);
}
void mig_ranges_add(struct mig_ranges *r, unsigned first, unsigned last);
/* Canonical text ("0-100,200"), appended to out. */
void mig_ranges_format(const struct mig_ranges *r, buf *out);
/* 1 if the key's slot (CRC16, hash tags) is in r. */
int mig_ranges_has_key(const struct mig_ranges *r, const char *key, size_t len);

/* ---- version map ---- */
struct mig_vmap {
    uint64_t *keys, *vals;          /* key 0 = empty (version 0 is never used) */
    size_t cap, n;
};
void mig_vmap_init(struct mig_vmap *m);
void mig_vmap_free(struct mig_vmap *m);
void mig_vmap_put(struct mig_vmap *m, uint64_t k, uint64_t v);
/* 1 and *v if present, else 0. */
int mig_vmap_get(const struct mig_vmap *m, uint64_t k, uint64_t *v);

/* ---- ops ---- */
struct mig_op {
    char op;                        /* 'P' or 'D' */
    const char *key, *val;
    size_t klen, vlen;
};
/* Next op at *pos.  Returns 1 (op filled, *pos advanced), 0 at the end,
 * -1 if malformed. */
int mig_ops_next(const char *ops, size_t len, size_t *pos, struct mig_op *op);
void mig_ops_put(buf *out, const char *k, size_t kl, const char *v, size_t vl);
void mig_ops_del(buf *out, const char *k, size_t kl);

/* The collection version a meta value names (collections and chunked
 * strings), or 0 (inline strings, malformed). */
uint64_t mig_meta_version(const char *v, size_t vl);
/* Version of a 'D'/'Z' subkey or a 'G' entry, 0 for other keys. */
uint64_t mig_subkey_version(const char *k, size_t kl);

/* Keep the operations of `ops` that concern r, appended to out:
 *   'M' user_key      its slot is in r; a put that names a version also
 *                     adds that version to vset (first pass, so subkeys
 *                     written before their meta in one record pass too)
 *   'D'/'Z' version   the version is in vset
 *   anything else     dropped: 'E' (the target keeps its own expiry index
 *                     from the metas), 'G' (the target queues its own
 *                     garbage), 'R'/'A' (node state, the log)
 * Returns the number of ops kept, or -1 if ops is malformed (out then
 * holds what was appended before). */
long mig_filter_ops(const char *ops, size_t len, const struct mig_ranges *r, struct mig_vmap *vset,
                    buf *out);

#endif
