/* db: key encoding and shared metadata operations.  See db.h. */
#include "db.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrate.h"
#include "notify.h"
#include "server.h"
#include "slots.h"
#include "store.h"
#include "strchunk.h"
#include "strstream.h"
#include "util.h"

static const char VERSION_KEY[] = "Rversion";
static const char KEYS_KEY[] = "Rkeys";
static const char EXPIRES_KEY[] = "Rexpires";

/* Cached counters; -1 = not loaded. */
static long long key_count = -1, expire_count = -1;

static long long counter_load(const char *name, size_t nlen)
{
    buf v;
    buf_init(&v);
    long long n = 0;
    if (store_get(srv.st, name, nlen, &v) == 1 && v.len == 8)
        n = (long long)get_u64be((const unsigned char *)v.data);
    buf_free(&v);
    return n;
}

static void counter_add(long long *cache, const char *name, size_t nlen, long long delta)
{
    unsigned char v[8];
    if (*cache < 0) *cache = counter_load(name, nlen);
    *cache += delta;
    if (*cache < 0) *cache = 0;
    put_u64be(v, (uint64_t)*cache);
    store_put(srv.st, name, nlen, (const char *)v, 8);
}

unsigned long long db_key_count(void)
{
    if (key_count < 0) key_count = counter_load(KEYS_KEY, sizeof KEYS_KEY - 1);
    return (unsigned long long)key_count;
}

unsigned long long db_expire_count(void)
{
    if (expire_count < 0) expire_count = counter_load(EXPIRES_KEY, sizeof EXPIRES_KEY - 1);
    return (unsigned long long)expire_count;
}

void db_invalidate_counters(void)
{
    key_count = expire_count = -1;
    cluster_invalidate(); /* its table and counter are 'R' keys too */
}

void meta_init(struct meta *m)
{
    memset(m, 0, sizeof *m);
    buf_init(&m->raw);
}

void meta_free(struct meta *m)
{
    buf_free(&m->raw);
}

const char *type_name(int type)
{
    switch (type) {
    case T_STRING: return "string";
    case T_HASH: return "hash";
    case T_LIST: return "list";
    case T_SET: return "set";
    case T_ZSET: return "zset";
    case T_STREAM: return "stream";
    default: return "none";
    }
}

/* ---------------- key builders ---------------- */

void enc_meta_key(buf *out, const char *key, size_t klen)
{
    buf_clear(out);
    buf_reserve(out, klen + 1);
    out->data[out->len++] = 'M';
    buf_append(out, key, klen);
}

static void enc_sub_prefix(buf *out, char tag, uint64_t version)
{
    buf_clear(out);
    buf_reserve(out, SUBKEY_PREFIX + 32);
    out->data[0] = tag;
    put_u64be((unsigned char *)out->data + 1, version);
    out->len = SUBKEY_PREFIX;
}

void enc_data_prefix(buf *out, uint64_t version)
{
    enc_sub_prefix(out, 'D', version);
}

void enc_data_key(buf *out, uint64_t version, const char *field, size_t flen)
{
    enc_sub_prefix(out, 'D', version);
    buf_append(out, field, flen);
}

void enc_zscore_prefix(buf *out, uint64_t version)
{
    enc_sub_prefix(out, 'Z', version);
}

void enc_zscore_key(buf *out, uint64_t version, double score, const char *member, size_t mlen)
{
    unsigned char s[8];
    enc_sub_prefix(out, 'Z', version);
    put_u64be(s, score_to_sortable(score));
    buf_append(out, s, 8);
    buf_append(out, member, mlen);
}

void enc_expire_key(buf *out, uint64_t expire, const char *key, size_t klen)
{
    unsigned char t[8];
    buf_clear(out);
    buf_append_char(out, 'E');
    put_u64be(t, expire);
    buf_append(out, t, 8);
    buf_append(out, key, klen);
}

void enc_gc_key(buf *out, uint64_t version)
{
    enc_sub_prefix(out, 'G', version);
}

int enc_prefix_end(buf *out, const char *prefix, size_t plen)
{
    buf_clear(out);
    buf_append(out, prefix, plen);
    while (out->len > 0) {
        unsigned char c = (unsigned char)out->data[out->len - 1];
        if (c != 0xff) {
            out->data[out->len - 1] = (char)(c + 1);
            return 0;
        }
        out->len--;
    }
    return -1;
}

uint64_t score_to_sortable(double d)
{
    uint64_t u;
    if (d == 0) d = 0.0; /* fold -0.0 into 0.0 */
    memcpy(&u, &d, 8);
    return (u & (UINT64_C(1) << 63)) ? ~u : u | (UINT64_C(1) << 63);
}

double sortable_to_score(uint64_t u)
{
    double d;
    u = (u & (UINT64_C(1) << 63)) ? u & ~(UINT64_C(1) << 63) : ~u;
    memcpy(&d, &u, 8);
    return d;
}

/* ---------------- meta encode / decode ---------------- */

static int meta_decode(struct meta *m)
{
    const unsigned char *p = (const unsigned char *)m->raw.data;
    size_t n = m->raw.len;
    if (n < META_HDR) return -1;
    m->type = p[0];
    m->expire = get_u64be(p + 1);
    m->version = m->count = m->head = m->tail = 0;
    m->sval = NULL;
    m->slen = 0;
    m->chunked = 0;
    if (m->type == (T_STRING | STR_CHUNKED_FLAG)) {
        if (n < META_COLL) return -1;
        m->type = T_STRING;
        m->chunked = 1;
        m->version = get_u64be(p + 9);
        m->count = get_u64be(p + 17);
        m->slen = (size_t)m->count;
        return 0;
    }
    switch (m->type) {
    case T_STRING:
        m->sval = m->raw.data + META_HDR;
        m->slen = n - META_HDR;
        return 0;
    case T_LIST:
        if (n < META_LIST) return -1;
        m->head = get_u64be(p + 25);
        m->tail = get_u64be(p + 33);
        /* fall through */
    case T_HASH:
    case T_SET:
    case T_ZSET:
    case T_STREAM:
        if (n < META_COLL) return -1;
        m->version = get_u64be(p + 9);
        m->count = get_u64be(p + 17);
        return 0;
    default:
        return -1;
    }
}

int db_lookup(const char *key, size_t klen, struct meta *m)
{
    int t = db_lookup_raw(key, klen, m);
    /* Not while writes are paused (CLIENT PAUSE, a graceful failover) or
     * the master is fenced: the deletion would be a write. */
    if (t == T_NONE && m->expired && !srv.is_replica && !srv.writes_paused &&
        !(srv.fenced_now && srv.fenced_now())) {
        db_delete(key, klen, m);
        srv.stats.expired_keys++;
        notify_keyspace_event(NOTIFY_EXPIRED, "expired", key, klen);
        m->expired = 0;
        m->old_type = T_NONE;
        m->expire = m->version = m->count = 0;
        m->chunked = 0;
    }
    return t;
}

/* 'M' key: built in `stack` (META_KEY_STACK bytes) when it fits, else in
 * a malloc'd block returned in *heap (caller frees; NULL otherwise).  Why:
 * every command looks a key up, and a heap buffer per lookup showed in
 * the profile. */
#define META_KEY_STACK 256
static char *meta_key(char *stack, const char *key, size_t klen, char **heap)
{
    char *k = stack;
    *heap = NULL;
    if (klen + 1 > META_KEY_STACK) k = *heap = xmalloc(klen + 1);
    k[0] = 'M';
    if (klen) memcpy(k + 1, key, klen);
    return k;
}

void db_prefetch(const char *key, size_t klen)
{
    char stack[META_KEY_STACK], *heap;
    const char *k = meta_key(stack, key, klen, &heap);
    store_prefetch(srv.st, k, klen + 1);
    free(heap);
}

int db_lookup_raw(const char *key, size_t klen, struct meta *m)
{
    char stack[META_KEY_STACK], *heap;
    const char *k = meta_key(stack, key, klen, &heap);
    m->expired = 0;
    m->old_type = T_NONE;
    int r = store_get(srv.st, k, klen + 1, &m->raw);
    free(heap);
    if (r < 0) return -1;
    if (r == 0) {
        m->type = T_NONE;
        m->expire = m->version = m->count = 0;
        m->chunked = 0;
        return T_NONE;
    }
    if (meta_decode(m) < 0) {
        log_error("corrupt metadata for a key of %zu bytes (%zu-byte value)", klen, m->raw.len);
        m->type = T_NONE;
        return -1;
    }
    if (m->expire && m->expire <= srv.cmd_time_ms) {
        m->expired = 1;
        m->old_type = m->type;
        m->type = T_NONE;
        return T_NONE;
    }
    return m->type;
}

static void expire_index(const char *key, size_t klen, uint64_t old_exp, uint64_t new_exp,
                         uint64_t version)
{
    if (old_exp == new_exp) return;
    if (!old_exp || !new_exp)
        counter_add(&expire_count, EXPIRES_KEY, sizeof EXPIRES_KEY - 1, new_exp ? 1 : -1);
    buf k;
    buf_init(&k);
    if (old_exp) {
        enc_expire_key(&k, old_exp, key, klen);
        store_del(srv.st, k.data, k.len);
    }
    if (new_exp) {
        unsigned char v[8];
        put_u64be(v, version);
        enc_expire_key(&k, new_exp, key, klen);
        store_put(srv.st, k.data, k.len, (const char *)v, 8);
    }
    buf_free(&k);
}

static void gc_count_add(long long delta);

/* Queue the subkeys of a dead collection (or chunked string) for the GC.
 * Inline strings have version 0: nothing to collect. */
static void gc_queue(int type, uint64_t version, uint64_t count)
{
    /* Inline strings have no subkeys (version 0); an empty stream still
     * has records (its header, groups). */
    if (type == T_NONE || version == 0 || (count == 0 && type != T_STREAM)) return;
    buf k;
    buf_init(&k);
    enc_gc_key(&k, version);
    char t = (char)type;
    store_put(srv.st, k.data, k.len, &t, 1);
    gc_count_add(1);
    buf_free(&k);
}

/* Clean up whatever `old` held before the key gets a new record. */
static void release_old(const char *key, size_t klen, const struct meta *old, uint64_t new_exp)
{
    int t = old->type != T_NONE ? old->type : old->expired ? old->old_type : T_NONE;
    uint64_t old_exp = (old->type != T_NONE || old->expired) ? old->expire : 0;
    expire_index(key, klen, old_exp, new_exp, 0);
    if (t != T_NONE) gc_queue(t, old->version, old->count);
    /* A key that did not exist at all is new; an expired record was still
     * counted. */
    if (t == T_NONE) {
        counter_add(&key_count, KEYS_KEY, sizeof KEYS_KEY - 1, 1);
        cluster_note_key(key, klen, 1);
    }
}

void db_set_string(const char *key, size_t klen, const char *v, size_t vl,
                   uint64_t expire, const struct meta *old)
{
    unsigned char hdr[META_HDR];
    char stack[META_KEY_STACK], *heap;
    if (vl > STR_INLINE_MAX) {
        struct meta m = *old;
        db_new_chunked(key, klen, &m, expire);
        strchunk_write(&m, 0, v, vl, 1);
        m.count = m.slen = vl;
        db_write_meta(key, klen, &m, 0);
        return;
    }
    release_old(key, klen, old, expire);
    hdr[0] = T_STRING;
    put_u64be(hdr + 1, expire);
    const char *k = meta_key(stack, key, klen, &heap);
    store_put2(srv.st, k, klen + 1, (const char *)hdr, META_HDR, v, vl);
    free(heap);
    if (old->type == T_NONE) notify_keyspace_event(NOTIFY_NEW, "new", key, klen);
}

void db_new_collection(const char *key, size_t klen, int type, struct meta *m)
{
    /* Redis's dbAdd announces a key that did not exist ("new"). */
    if (m->type == T_NONE) notify_keyspace_event(NOTIFY_NEW, "new", key, klen);
    release_old(key, klen, m, 0);
    m->type = type;
    m->expired = 0;
    m->expire = 0;
    m->version = server_new_version();
    m->count = 0;
    m->head = m->tail = LIST_INITIAL_INDEX;
}

void db_new_chunked(const char *key, size_t klen, struct meta *m, uint64_t expire)
{
    if (m->type == T_NONE) notify_keyspace_event(NOTIFY_NEW, "new", key, klen);
    release_old(key, klen, m, 0);
    m->type = T_STRING;
    m->chunked = 1;
    m->expired = 0;
    m->expire = expire;
    m->version = server_new_version();
    m->count = 0;
    m->sval = NULL;
    m->slen = 0;
}

void db_write_meta(const char *key, size_t klen, const struct meta *m, uint64_t prev_expire)
{
    unsigned char v[META_LIST];
    size_t n = m->type == T_LIST ? META_LIST : META_COLL;
    buf k;
    v[0] = (unsigned char)(m->chunked ? (T_STRING | STR_CHUNKED_FLAG) : m->type);
    put_u64be(v + 1, m->expire);
    put_u64be(v + 9, m->version);
    put_u64be(v + 17, m->count);
    if (m->type == T_LIST) {
        put_u64be(v + 25, m->head);
        put_u64be(v + 33, m->tail);
    }
    expire_index(key, klen, prev_expire, m->expire, m->version);
    buf_init(&k);
    enc_meta_key(&k, key, klen);
    store_put(srv.st, k.data, k.len, (const char *)v, n);
    buf_free(&k);
}

void db_delete(const char *key, size_t klen, const struct meta *m)
{
    buf k;
    int t = m->type != T_NONE ? m->type : m->expired ? m->old_type : T_NONE;
    if (t == T_NONE) return; /* nothing stored */
    buf_init(&k);
    expire_index(key, klen, m->expire, 0, 0);
    gc_queue(t, m->version, m->count);
    counter_add(&key_count, KEYS_KEY, sizeof KEYS_KEY - 1, -1);
    cluster_note_key(key, klen, -1);
    enc_meta_key(&k, key, klen);
    store_del(srv.st, k.data, k.len);
    buf_free(&k);
}

void db_move(const char *src, size_t srclen, const char *dst, size_t dstlen, const struct meta *m)
{
    buf k;
    buf_init(&k);
    enc_meta_key(&k, src, srclen);
    store_del(srv.st, k.data, k.len);
    enc_meta_key(&k, dst, dstlen);
    store_put(srv.st, k.data, k.len, m->raw.data, m->raw.len);
    if (m->expire) {
        unsigned char v[8];
        put_u64be(v, m->version);
        enc_expire_key(&k, m->expire, src, srclen);
        store_del(srv.st, k.data, k.len);
        enc_expire_key(&k, m->expire, dst, dstlen);
        store_put(srv.st, k.data, k.len, (const char *)v, 8);
    }
    buf_free(&k);
}

void db_set_expire(const char *key, size_t klen, struct meta *m, uint64_t expire)
{
    uint64_t prev = m->expire;
    if (m->type == T_STRING && !m->chunked) {
        expire_index(key, klen, prev, expire, 0);
        put_u64be((unsigned char *)m->raw.data + 1, expire);
        m->expire = expire;
        buf k;
        buf_init(&k);
        enc_meta_key(&k, key, klen);
        store_put(srv.st, k.data, k.len, m->raw.data, m->raw.len);
        buf_free(&k);
        return;
    }
    m->expire = expire;
    db_write_meta(key, klen, m, prev);
}

/* ---------------- background work ---------------- */

int db_expire_cycle(int max_keys)
{
    int removed = 0, scanned = 0;
    uint64_t now = srv.cmd_time_ms;
    store_iter *it = store_iter_new(srv.st);
    struct meta m;
    meta_init(&m);
    buf key;
    buf_init(&key);
    store_iter_seek(it, "E", 1);
    while (store_iter_valid(it) && scanned < max_keys) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 9 || k[0] != 'E') break;
        uint64_t exp = get_u64be((const unsigned char *)k + 1);
        if (exp > now) break;
        buf_clear(&key);
        buf_append(&key, k + 9, kl - 9);
        scanned++;
        if (migrate_key_frozen(key.data, key.len)) { /* being migrated (migrate.h) */
            store_iter_next(it);
            continue;
        }
        int t = db_lookup_raw(key.data, key.len, &m);
        if (t == T_NONE && m.expired && m.expire == exp) {
            db_delete(key.data, key.len, &m);
            srv.stats.expired_keys++;
            notify_keyspace_event(NOTIFY_EXPIRED, "expired", key.data, key.len);
            removed++;
        } else if (t >= 0) {
            /* The key's expire moved or it is gone: drop the stale entry. */
            store_del(srv.st, k, kl);
        }
        store_iter_next(it);
    }
    store_iter_free(it);
    meta_free(&m);
    buf_free(&key);
    return removed;
}

/* ---------------- garbage collection ----------------
 *
 * A dead collection leaves a 'G' entry (gc_queue) and its subkeys.  Each
 * db_gc_cycle call deletes at most `max_subkeys` of them (a finished 'G'
 * entry counts as one), oldest version first; the server runs it in small
 * batches on a timer and commits each batch with the clients' writes, so a
 * collection of millions of elements goes away in bounded steps while
 * clients keep being served between them.
 *
 * Two costs are kept off the loop:
 *   - Resuming.  Deleted subkeys stay in LevelDB as tombstones until a
 *     compaction drops them, and an iterator must step over every one of
 *     them.  Seeking from the start of the collection's range on every call
 *     would make reclaiming n subkeys cost O(n^2) steps, so the GC keeps its
 *     position (the last subkey it deleted) in memory and seeks past it.
 *     The position is only a hint: it is forgotten whenever its deletions
 *     may not have reached LevelDB (a commit failed) or the store was
 *     replaced (full sync), and the next call starts from the range's
 *     beginning.  A command's rollback never covers GC deletions (the GC
 *     runs outside commands), so rollbacks keep it.
 *   - Disk space.  Once a big collection is gone, its key ranges are
 *     handed to the store's background compaction thread
 *     (store_compact_range_async), which rewrites the files holding the
 *     tombstones; the space comes back without the loop waiting for it.
 *     The hand-off waits for the next call, by which time the loop has
 *     committed the last deletions.  Small collections are left to
 *     LevelDB's own compactions: a manual compaction flushes the memtable,
 *     which is not worth it for a few records.
 *
 * The queue length for INFO is a counter in 'Rgc', updated in the same
 * write as the queue (so rollbacks, failed commits and replication keep it
 * exact) and read from the store, never cached. */

static const char GC_COUNT_KEY[] = "Rgc";
#define GC_COMPACT_MIN 10000   /* subkeys: below this, no manual compaction */
#define GC_COMPACT_MAX_PENDING 16

struct gc_pos {
    uint64_t version;          /* collection being reclaimed, 0 = none */
    char tag;                  /* 'D' then 'Z' */
    buf last;                  /* last subkey deleted in that range */
    uint64_t removed;          /* subkeys of `version` deleted so far */
};
static struct gc_pos gc_cur;
/* What the position was recorded against (see gc_position_valid). */
static const store *gc_store;
static unsigned long long gc_commits, gc_commit_errors;
/* Finished big collections whose ranges await compaction. */
static uint64_t gc_compact_todo[GC_COMPACT_MAX_PENDING];
static int gc_ncompact;

static void gc_count_add(long long delta)
{
    buf v;
    buf_init(&v);
    long long n = 0;
    if (store_get(srv.st, GC_COUNT_KEY, sizeof GC_COUNT_KEY - 1, &v) == 1 && v.len == 8)
        n = (long long)get_u64be((const unsigned char *)v.data);
    n += delta;
    if (n < 0) n = 0;
    unsigned char b[8];
    put_u64be(b, (uint64_t)n);
    store_put(srv.st, GC_COUNT_KEY, sizeof GC_COUNT_KEY - 1, (const char *)b, 8);
    buf_free(&v);
}

static void gc_forget_position(void)
{
    gc_cur.version = 0;
    gc_cur.tag = 0;
    gc_cur.removed = 0;
    buf_clear(&gc_cur.last);
}

/* Hand the ranges of finished big collections to the compaction thread. */
static void gc_compact_flush(void)
{
    buf a, b;
    buf_init(&a);
    buf_init(&b);
    for (int i = 0; i < gc_ncompact; i++) {
        for (int t = 0; t < 2; t++) {
            if (t == 0) enc_data_prefix(&a, gc_compact_todo[i]);
            else enc_zscore_prefix(&a, gc_compact_todo[i]);
            if (enc_prefix_end(&b, a.data, a.len) == 0)
                store_compact_range_async(srv.st, a.data, a.len, b.data, b.len);
        }
    }
    gc_ncompact = 0;
    buf_free(&a);
    buf_free(&b);
}

/* Delete up to *budget subkeys of one range.  Returns 1 when the range is
 * exhausted, 0 when the budget ran out first. */
static int gc_range(char tag, uint64_t version, int *budget)
{
    buf p;
    buf_init(&p);
    if (tag == 'D') enc_data_prefix(&p, version);
    else enc_zscore_prefix(&p, version);
    store_iter *it = store_iter_new(srv.st);
    int resume = gc_cur.version == version && gc_cur.tag == tag && gc_cur.last.len > 0;
    if (resume) store_iter_seek(it, gc_cur.last.data, gc_cur.last.len);
    else store_iter_seek(it, p.data, p.len);
    int done = 1;
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl < p.len || memcmp(k, p.data, p.len) != 0) break;
        if (*budget <= 0) {
            done = 0;
            break;
        }
        store_del(srv.st, k, kl);
        buf_clear(&gc_cur.last);
        buf_append(&gc_cur.last, k, kl);
        (*budget)--;
        gc_cur.removed++;
    }
    gc_cur.version = version;
    gc_cur.tag = tag;
    if (done) buf_clear(&gc_cur.last);
    store_iter_free(it);
    buf_free(&p);
    return done;
}

/* Forget the position if its deletions may be lost or the store changed
 * under it (a replaced store starts its counters again). */
static void gc_position_check(void)
{
    const struct store_stats *ss = store_get_stats(srv.st);
    if (srv.st != gc_store || ss->commit_errors != gc_commit_errors || ss->commits < gc_commits)
        gc_forget_position();
    gc_store = srv.st;
    gc_commits = ss->commits;
    gc_commit_errors = ss->commit_errors;
}

/* Replica side: the master's GC arrives as ordinary deletions (its
 * subkeys, then its 'G' entry), and a replica must reclaim the space too.
 * Count the subkey deletions of the collection being reclaimed (the
 * master's GC finishes one collection before it starts the next) and,
 * when its 'G' entry goes, queue its ranges for compaction like the
 * master does; db_gc_flush_compactions hands them over after the commit. */
static struct { uint64_t version, removed; } gc_seen;
static unsigned long long gc_seen_commits;   /* commits when the last range was queued */

void db_gc_note_applied(const char *ops, size_t len)
{
    const unsigned char *u = (const unsigned char *)ops;
    size_t i = 0;
    while (i + 5 <= len) {
        unsigned char op = u[i];
        size_t kl = get_u32be(u + i + 1);
        const unsigned char *k = u + i + 5;
        i += 5 + kl;
        if (op == 'P') i += 4 + (i + 4 <= len ? get_u32be(u + i) : 0);
        if (op != 'D' || kl < SUBKEY_PREFIX) continue;
        uint64_t version = get_u64be(k + 1);
        if (k[0] == 'D' || k[0] == 'Z') {
            if (gc_seen.version != version) {
                gc_seen.version = version;
                gc_seen.removed = 0;
            }
            gc_seen.removed++;
        } else if (k[0] == 'G' && kl == SUBKEY_PREFIX && gc_seen.version == version) {
            if (gc_seen.removed >= GC_COMPACT_MIN && gc_ncompact < GC_COMPACT_MAX_PENDING) {
                gc_compact_todo[gc_ncompact++] = version;
                gc_seen_commits = store_get_stats(srv.st)->commits;
            }
            gc_seen.version = gc_seen.removed = 0;
        }
    }
}

void db_gc_flush_compactions(void)
{
    /* Only once a commit has carried the deletions to LevelDB. */
    if (gc_ncompact && store_get_stats(srv.st)->commits > gc_seen_commits) gc_compact_flush();
}

int db_gc_cycle(int max_subkeys)
{
    int budget = max_subkeys;
    gc_position_check();
    if (gc_ncompact) gc_compact_flush();
    store_iter *it = store_iter_new(srv.st);
    buf gk;
    buf_init(&gk);
    int finished = 0;
    store_iter_seek(it, "G", 1);
    while (budget > 0 && store_iter_valid(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl != SUBKEY_PREFIX || k[0] != 'G') break;
        uint64_t version = get_u64be((const unsigned char *)k + 1);
        /* A streamed reply still reads this version (strstream.h): later. */
        if (strstream_pinned(version)) {
            store_iter_next(it);
            continue;
        }
        buf_clear(&gk);
        buf_append(&gk, k, kl);
        if (gc_cur.version != version) {
            gc_forget_position();
            gc_cur.version = version;
        }
        /* 'D' first, then 'Z'; a resumed collection skips what is done. */
        if (gc_cur.tag != 'Z' && !gc_range('D', version, &budget)) break;
        if (!gc_range('Z', version, &budget)) break;
        store_del(srv.st, gk.data, gk.len);
        finished++;
        budget--; /* an entry costs a step even when its subkeys are gone */
        if (gc_cur.removed >= GC_COMPACT_MIN && gc_ncompact < GC_COMPACT_MAX_PENDING)
            gc_compact_todo[gc_ncompact++] = version;
        gc_forget_position();
        store_iter_next(it);
    }
    store_iter_free(it);
    buf_free(&gk);
    if (finished) gc_count_add(-finished);
    return max_subkeys - budget;
}

unsigned long long db_gc_pending(void)
{
    buf v;
    buf_init(&v);
    unsigned long long n = 0;
    if (store_get(srv.st, GC_COUNT_KEY, sizeof GC_COUNT_KEY - 1, &v) == 1 && v.len == 8)
        n = get_u64be((const unsigned char *)v.data);
    buf_free(&v);
    return n;
}

uint64_t db_load_version_hwm(void)
{
    buf v;
    buf_init(&v);
    uint64_t hwm = 0;
    if (store_get(srv.st, VERSION_KEY, sizeof VERSION_KEY - 1, &v) == 1 && v.len == 8)
        hwm = get_u64be((const unsigned char *)v.data);
    buf_free(&v);
    return hwm;
}

uint64_t server_new_version(void)
{
    uint64_t now = now_us();
    srv.next_version = srv.next_version + 1 > now ? srv.next_version + 1 : now;
    unsigned char v[8];
    put_u64be(v, srv.next_version);
    store_put(srv.st, VERSION_KEY, sizeof VERSION_KEY - 1, (const char *)v, 8);
    return srv.next_version;
}

/* ---------------- slot migration (node/cluster/migrate.c) ---------------- */

int db_import_meta(const char *key, size_t klen, const char *val, size_t vl, int keep_old)
{
    struct meta old;
    meta_init(&old);
    if (db_lookup_raw(key, klen, &old) < 0) {
        meta_free(&old);
        return -1;
    }
    int t = old.type != T_NONE ? old.type : old.expired ? old.old_type : T_NONE;
    uint64_t old_exp = t != T_NONE ? old.expire : 0;
    uint64_t new_exp = vl >= META_HDR ? get_u64be((const unsigned char *)val + 1) : 0;
    uint64_t new_ver = 0;
    if (vl >= META_COLL && (unsigned char)val[0] != T_STRING) new_ver = get_u64be((const unsigned char *)val + 9);
    expire_index(key, klen, old_exp, new_exp, new_ver);
    if (t != T_NONE && !keep_old && old.version != new_ver) gc_queue(t, old.version, old.count);
    if (t == T_NONE) {
        counter_add(&key_count, KEYS_KEY, sizeof KEYS_KEY - 1, 1);
        cluster_note_key(key, klen, 1);
    }
    char stack[META_KEY_STACK], *heap;
    const char *k = meta_key(stack, key, klen, &heap);
    store_put(srv.st, k, klen + 1, val, vl);
    free(heap);
    meta_free(&old);
    return t == T_NONE ? 1 : 0;
}

int db_import_delete(const char *key, size_t klen, int keep_subkeys)
{
    struct meta old;
    meta_init(&old);
    int r = db_lookup_raw(key, klen, &old);
    int t = old.type != T_NONE ? old.type : old.expired ? old.old_type : T_NONE;
    if (r < 0 || t == T_NONE) {
        meta_free(&old);
        return r < 0 ? -1 : 0;
    }
    if (keep_subkeys) old.version = 0; /* gc_queue skips version 0 */
    db_delete(key, klen, &old);
    meta_free(&old);
    return 1;
}
