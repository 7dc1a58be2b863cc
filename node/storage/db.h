/* db: the key encoding of DESIGN.md on top of the store, and the
 * metadata operations every data type shares (lookup with lazy expiry,
 * create, overwrite, delete, expire).
 *
 * LevelDB keys (big-endian integers):
 *
 *   'M' user_key                  -> meta value (below)
 *   'D' version:8 field           -> hash value | set "" | list elem | zset score:8 (raw double)
 *                                    | stream records (stream.h)
 *   'D' version:8 chunk:8         -> up to 16 KiB of a big string (strchunk.h)
 *   'Z' version:8 score:8 member  -> ""            zset by score (score made sortable)
 *   'E' expire_ms:8 user_key      -> version:8     expiry index, time ordered
 *   'G' version:8                 -> type:1        garbage queue
 *   'A' ...                       -> replication log blocks (wal.h: they sort
 *                                    first, out of the range writes span)
 *   'R' ...                       -> node state, replication position
 *
 * Departure from DESIGN.md, on purpose: DESIGN.md puts the user key in
 * front of the version in 'D'/'Z'/'G' keys.  Versions are unique across
 * all keys and never reused (server_new_version), so the version alone
 * identifies a collection: subkeys get shorter, and RENAME moves only the
 * meta record (O(1)) instead of rewriting every subkey under a new name.
 *
 * Meta values:
 *
 *   string:      type:1 | expire_ms:8 | value...          (up to STR_INLINE_MAX bytes)
 *   big string:  0x81:1 | expire_ms:8 | version:8 | length:8
 *                (T_STRING | STR_CHUNKED_FLAG; chunks are 'D' subkeys,
 *                see strchunk.h)
 *   collection:  type:1 | expire_ms:8 | version:8 | count:8
 *   list:        type:1 | expire_ms:8 | version:8 | count:8 | head:8 | tail:8
 *
 * A collection's subkeys all carry its version, so deleting or replacing a
 * collection of any size only rewrites its meta and queues a 'G' entry; the
 * stale subkeys become invisible at once and the GC removes them later. */
#ifndef STRATA_DB_H
#define STRATA_DB_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

enum key_type { T_NONE = 0, T_STRING = 1, T_HASH = 2, T_LIST = 3, T_SET = 4, T_ZSET = 5, T_STREAM = 6 };

#define META_HDR 9          /* type + expire */
#define META_COLL 25        /* + version + count */
#define META_LIST 41        /* + head + tail */
#define STR_CHUNKED_FLAG 0x80 /* type byte of a chunked string's meta */
#define LIST_INITIAL_INDEX (UINT64_C(1) << 63)

struct meta {
    int type;               /* T_NONE when absent (or expired) */
    int expired;            /* a record exists but has expired */
    int chunked;            /* strings: stored in chunks (sval NULL; slen
                             * and count are the length, version the chunks') */
    int old_type;           /* type of the expired record, for cleanup */
    uint64_t expire;        /* ms since epoch, 0 = none */
    uint64_t version;
    uint64_t count;
    uint64_t head, tail;    /* lists: [head, tail) are the used indexes */
    const char *sval;       /* strings: the value, inside raw (NULL when chunked) */
    size_t slen;
    buf raw;                /* owned: the encoded meta value */
};

void meta_init(struct meta *m);
void meta_free(struct meta *m);
const char *type_name(int type);

/* Look a key up.  Returns its type (T_NONE if absent or expired) or -1 on
 * a storage error.  An expired record is reported as absent with
 * m->expired set and m->old_type/version/expire kept, so a writer can
 * clean it up when it reuses the key. */
int db_lookup(const char *key, size_t klen, struct meta *m);
/* On a master, db_lookup also deletes an expired key it finds (as Redis
 * does on access), so DBSIZE and KEYS agree with what reads see; the
 * deletion is an ordinary write of the running command.  Then m reads as
 * a key that never existed.  db_lookup_raw never deletes (replicas, the
 * expiry sweep). */
int db_lookup_raw(const char *key, size_t klen, struct meta *m);
/* A key about to be looked up (multi-key commands call this for every key
 * first, so the cache misses of their lookups overlap). */
void db_prefetch(const char *key, size_t klen);

/* Write a string value, replacing whatever the key held (old is the
 * result of db_lookup on the key, used to clean up the previous record).
 * Values longer than STR_INLINE_MAX are written in chunks (strchunk.h)
 * under a fresh version. */
void db_set_string(const char *key, size_t klen, const char *v, size_t vl,
                   uint64_t expire, const struct meta *old);
/* Start a new collection of `type` in m (fresh version, count 0, no
 * expire).  Cleans up whatever old held.  The meta is written by
 * db_write_meta once the caller has filled it. */
void db_new_collection(const char *key, size_t klen, int type, struct meta *m);
/* Start a chunked string in m (fresh version, length 0, the given
 * expire), cleaning up whatever m held (strchunk.h). */
void db_new_chunked(const char *key, size_t klen, struct meta *m, uint64_t expire);
/* Write m's meta value (collections and chunked strings); maintains the expiry index against
 * `prev_expire` (the expire currently stored). */
void db_write_meta(const char *key, size_t klen, const struct meta *m, uint64_t prev_expire);
/* Delete a live or expired key: meta, expiry index entry, and for a
 * collection a 'G' entry for its subkeys. */
void db_delete(const char *key, size_t klen, const struct meta *m);
/* Move a live key's record to `dst` (RENAME): the meta and expiry index
 * entry change name, subkeys stay (they are keyed by version).  `dst`
 * must have been deleted first. */
void db_move(const char *src, size_t srclen, const char *dst, size_t dstlen, const struct meta *m);
/* Change the expire of a live key (0 = persist). */
void db_set_expire(const char *key, size_t klen, struct meta *m, uint64_t expire);
/* Collection became empty: delete it (Redis removes empty collections). */
#define db_delete_if_empty(key, klen, m) do { if ((m)->count == 0) db_delete((key), (klen), (m)); } while (0)

/* Key builders: append to out (cleared first). */
void enc_meta_key(buf *out, const char *key, size_t klen);
#define SUBKEY_PREFIX 9   /* tag + version */
void enc_data_prefix(buf *out, uint64_t version);
void enc_data_key(buf *out, uint64_t version, const char *field, size_t flen);
void enc_zscore_prefix(buf *out, uint64_t version);
void enc_zscore_key(buf *out, uint64_t version, double score, const char *member, size_t mlen);
void enc_expire_key(buf *out, uint64_t expire, const char *key, size_t klen);
void enc_gc_key(buf *out, uint64_t version);
/* The first key after every key that starts with prefix (for range ends);
 * returns 0, or -1 if no such key exists (prefix all 0xff). */
int enc_prefix_end(buf *out, const char *prefix, size_t plen);

/* Scores: doubles as order-preserving unsigned integers (negative: flip
 * all bits; otherwise set the sign bit).  -0.0 is stored as 0.0. */
uint64_t score_to_sortable(double d);
double sortable_to_score(uint64_t u);

/* Background work: active expiry and garbage collection, in bounded
 * steps; each returns the number of keys (or subkeys) it removed. */
int db_expire_cycle(int max_keys);
int db_gc_cycle(int max_subkeys);
/* A replica: note the operations of an applied record (wal.h format), so
 * the ranges of collections the master's GC finished get compacted here
 * too; db_gc_flush_compactions (after they are committed) starts them. */
void db_gc_note_applied(const char *ops, size_t len);
void db_gc_flush_compactions(void);
/* Pending garbage (queued collections) for INFO. */
unsigned long long db_gc_pending(void);

/* Persisted node state in 'R' keys. */
uint64_t db_load_version_hwm(void);
/* Number of keys (live or logically expired but not yet swept, as Redis
 * counts them) and of keys with an expire; kept in 'R' records updated in
 * the same write as the change. */
unsigned long long db_key_count(void);
unsigned long long db_expire_count(void);
/* Forget cached counters (after data arrives by replication). */
void db_invalidate_counters(void);

/* Slot migration's target (node/cluster/migrate.c) writes the source's
 * records verbatim, with the bookkeeping of a normal write: the expiry
 * index, the key counters, and a 'G' entry for a collection it replaces
 * (unless `keep_old`: a RENAME moves the version to another key).
 * db_import_meta returns 1 if the key is new, 0 if it replaced one, -1
 * on a storage error; db_import_delete returns 1 if a key was deleted,
 * 0 if there was none, -1 on error. */
int db_import_meta(const char *key, size_t klen, const char *val, size_t vl, int keep_old);
int db_import_delete(const char *key, size_t klen, int keep_subkeys);

#endif
