/* store: LevelDB plus the pending-write overlay.  See store.h.
 *
 * The overlay holds one node per key written in the batch.  A node is in
 * one of three states:
 *
 *     ST_VALUE  pending put: the node's value wins over LevelDB
 *     ST_TOMB   pending delete: hides the key in LevelDB
 *     ST_NONE   no pending change (left by a rollback): fall through
 *
 * Nodes are found by a hash table (every read and write of a key looks
 * there) and also form a skiplist ordered like LevelDB (bytewise) for the
 * merged iterators.  The order is built lazily: a batch of point writes
 * (SET, INCR, HSET, ZADD...) never pays for it; the first iterator that
 * needs the overlay sorts the batch's nodes into the skiplist once, and
 * from then until the commit new nodes are linked as they come.  The
 * skiplist walk was the largest cost of a point write in a big batch
 * (profile of MSET at pipeline 1: a fifth of the event loop's time).
 *
 * Nodes, keys and values live in a per-batch arena (arena.h) that is
 * reset at commit or close, so iterators holding node pointers stay valid
 * while commands write, and a write costs no malloc.  A value replaced
 * in the same batch stays in the arena until the commit (its bytes count
 * in pending_bytes, which bounds the batch), which is also what lets an
 * undo entry point at it without owning it.  Every change pushes an undo
 * entry (node, previous state and value) so a command can be rolled back
 * to a mark; the LevelDB WriteBatch is built at commit time from the final
 * node states, so repeated writes to one key cost one batch entry. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "log.h"
#include "util.h"

#define SL_MAX_HEIGHT 16

enum { ST_NONE = 0, ST_VALUE, ST_TOMB };

typedef struct sl_node {
    char *key;          /* in the arena, right after next[] */
    size_t klen;
    char *val;          /* in the arena; NULL unless ST_VALUE */
    size_t vlen;
    struct sl_node *hnext;  /* hash chain */
    struct sl_node *lnext;  /* every node of the batch, in creation order */
    uint32_t hash;
    unsigned char state;
    unsigned char height;
    struct sl_node *next[]; /* skiplist links, set only once ordered */
} sl_node;

struct undo {
    sl_node *node;
    unsigned char prev_state;
    char *prev_val;     /* in the arena */
    size_t prev_vlen;
    size_t ops_len;     /* length of the op log before this change */
};

/* A background thread of the store: started on first use, with a lock
 * and a condition variable for the work it is handed, stopped (joined) at
 * close.  The compaction thread and the fsync thread are two. */
struct worker {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop;      /* under mu */
};

static void worker_init(struct worker *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->started = w->stop = 0;
}

static void worker_destroy(struct worker *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* With w->mu held: start the thread unless it runs.  0, or -1 if it
 * cannot be started. */
static int worker_ensure(struct worker *w, void *(*fn)(void *), void *arg)
{
    if (w->started) return 0;
    if (pthread_create(&w->tid, NULL, fn, arg) != 0) return -1;
    w->started = 1;
    return 0;
}

/* Ask the thread to stop and wait for it: what it is running finishes,
 * work it has not picked up stays with the caller. */
static void worker_stop(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    int started = w->started;
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (started) pthread_join(w->tid, NULL);
    w->started = 0;
}

struct store {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *ro;
    leveldb_writeoptions_t *wo_sync, *wo_nosync;

    sl_node *head;
    arena mem;          /* nodes, keys, values of the pending batch */
    int height;
    int ordered;        /* the skiplist links every node (see sl_order) */
    uint32_t rnd;
    size_t pending_bytes;
    size_t nnodes;
    sl_node **ht;       /* hash index of the nodes, ht_mask + 1 buckets */
    uint32_t ht_mask;
    sl_node *lfirst, **llast;

    struct undo *undo;
    size_t nundo, undo_cap;
    buf ops;

    struct store_stats stats;

    /* A LevelDB iterator kept between commands (see iter_make). */
    leveldb_iterator_t *spare_li;
    int spare_busy;

    /* Read cache of committed metadata records (see mcache_*). */
    struct mc_slot *mc;
    uint32_t mc_mask;   /* sets - 1 */
    size_t mc_bytes, mc_budget;

    void (*commit_hook)(store *s, void *arg);
    void *commit_arg;

    /* Background fsync of LevelDB's log files (store_sync_start).
     * Guarded by sw.mu.  srunning: requested and not yet collected by
     * store_sync_finished; sreq: not yet picked up by the thread; sdone:
     * finished, with sdone_ok. */
    char *dir;
    struct worker sw;
    int srunning, sreq, sdone, sdone_ok;

    /* Background compaction (store_compact_range_async). */
    struct worker cw;
    struct compact_job *cjobs, *cjobs_tail;   /* queue, guarded by cw.mu */
    unsigned cpending;                         /* queued + running */
};

struct compact_job {
    struct compact_job *next;
    char *a, *b;        /* owned */
    size_t al, bl;
};

static void spare_drop(store *s);

struct store_snap {
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *ro;
};

/* ---------------- skiplist ---------------- */

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r) return r;
    return al < bl ? -1 : al > bl;
}

static sl_node *sl_head_alloc(void)
{
    sl_node *n = xcalloc(1, sizeof(sl_node) + sizeof(sl_node *) * SL_MAX_HEIGHT);
    n->height = SL_MAX_HEIGHT;
    return n;
}

/* A node and its key in one arena allocation. */
static sl_node *sl_alloc(store *s, int height, const char *k, size_t kl)
{
    size_t links = sizeof(sl_node *) * (size_t)height;
    sl_node *n = arena_alloc(&s->mem, sizeof(sl_node) + links + kl);
    n->key = (char *)n + sizeof(sl_node) + links;
    if (kl) memcpy(n->key, k, kl);
    n->klen = kl;
    n->val = NULL;
    n->vlen = 0;
    n->state = ST_NONE;
    n->height = (unsigned char)height;
    return n;
}

static int sl_random_height(store *s)
{
    int h = 1;
    for (;;) {
        s->rnd = s->rnd * 1103515245u + 12345u;
        if (h >= SL_MAX_HEIGHT || ((s->rnd >> 16) & 3) != 0) break;
        h++;
    }
    return h;
}

/* Last node < k at each level into prev[] (may be head); returns the first
 * node >= k or NULL. */
static sl_node *sl_find_ge(store *s, const char *k, size_t kl, sl_node **prev)
{
    sl_node *x = s->head;
    for (int lvl = s->height - 1; lvl >= 0; lvl--) {
        while (x->next[lvl] && key_cmp(x->next[lvl]->key, x->next[lvl]->klen, k, kl) < 0)
            x = x->next[lvl];
        if (prev) prev[lvl] = x;
    }
    return x->next[0];
}

static sl_node *sl_find_lt(store *s, const char *k, size_t kl)
{
    sl_node *x = s->head;
    for (int lvl = s->height - 1; lvl >= 0; lvl--)
        while (x->next[lvl] && key_cmp(x->next[lvl]->key, x->next[lvl]->klen, k, kl) < 0)
            x = x->next[lvl];
    return x == s->head ? NULL : x;
}

static sl_node *sl_last(store *s)
{
    sl_node *x = s->head;
    for (int lvl = s->height - 1; lvl >= 0; lvl--)
        while (x->next[lvl]) x = x->next[lvl];
    return x == s->head ? NULL : x;
}

/* Link n into the skiplist (which must already hold every older node). */
static void sl_link(store *s, sl_node *n)
{
    sl_node *prev[SL_MAX_HEIGHT];
    sl_find_ge(s, n->key, n->klen, prev);
    if (n->height > s->height) {
        for (int i = s->height; i < n->height; i++) prev[i] = s->head;
        s->height = n->height;
    }
    for (int i = 0; i < n->height; i++) {
        n->next[i] = prev[i]->next[i];
        prev[i]->next[i] = n;
    }
}

static int node_cmp(const void *a, const void *b)
{
    const sl_node *x = *(sl_node *const *)a, *y = *(sl_node *const *)b;
    return key_cmp(x->key, x->klen, y->key, y->klen);
}

/* Build the skiplist of the batch's nodes: sort them, then link each
 * level left to right.  Iterators call this before they read the overlay. */
static void sl_order(store *s)
{
    if (s->ordered) return;
    s->ordered = 1;
    if (!s->nnodes) return;
    sl_node **v = xmalloc(sizeof *v * s->nnodes);
    size_t i = 0;
    for (sl_node *n = s->lfirst; n; n = n->lnext) v[i++] = n;
    qsort(v, s->nnodes, sizeof *v, node_cmp);
    sl_node *last[SL_MAX_HEIGHT];
    for (int l = 0; l < SL_MAX_HEIGHT; l++) last[l] = s->head;
    s->height = 1;
    for (i = 0; i < s->nnodes; i++) {
        sl_node *n = v[i];
        for (int l = 0; l < n->height; l++) {
            last[l]->next[l] = n;
            last[l] = n;
        }
        if (n->height > s->height) s->height = n->height;
    }
    for (int l = 0; l < SL_MAX_HEIGHT; l++) last[l]->next[l] = NULL;
    free(v);
}

/* ---------------- hash index ---------------- */

/* Unseeded: the batch's keys come from commands, but the table is
 * emptied at every commit, so a chain cannot be grown for long. */
static uint32_t key_hash(const char *k, size_t kl)
{
    return (uint32_t)hash_bytes(k, kl, 0);
}

static sl_node *ht_find(const store *s, const char *k, size_t kl, uint32_t h)
{
    for (sl_node *n = s->ht[h & s->ht_mask]; n; n = n->hnext)
        if (n->hash == h && n->klen == kl && (kl == 0 || memcmp(n->key, k, kl) == 0))
            return n;
    return NULL;
}

static void ht_grow(store *s)
{
    uint32_t nb = (s->ht_mask + 1) * 2;
    free(s->ht);
    s->ht = xcalloc(nb, sizeof *s->ht);
    s->ht_mask = nb - 1;
    for (sl_node *n = s->lfirst; n; n = n->lnext) {
        sl_node **b = &s->ht[n->hash & s->ht_mask];
        n->hnext = *b;
        *b = n;
    }
}

static sl_node *sl_get_or_insert(store *s, const char *k, size_t kl)
{
    uint32_t h = key_hash(k, kl);
    sl_node *n = ht_find(s, k, kl, h);
    if (n) return n;
    int height = sl_random_height(s);
    n = sl_alloc(s, height, k, kl);
    n->hash = h;
    sl_node **b = &s->ht[h & s->ht_mask];
    n->hnext = *b;
    *b = n;
    n->lnext = NULL;
    *s->llast = n;
    s->llast = &n->lnext;
    s->nnodes++;
    s->pending_bytes += kl + sizeof(sl_node) + sizeof(sl_node *) * (size_t)height;
    if (s->nnodes > (size_t)s->ht_mask + 1) ht_grow(s);
    if (s->ordered) sl_link(s, n);
    return n;
}

#define HT_INITIAL 1024

static void sl_clear(store *s)
{
    /* Empty the buckets this batch used (a small batch in a table grown
     * by a big one should not pay for clearing all of it). */
    if (s->nnodes < (s->ht_mask + 1) / 4) {
        for (sl_node *n = s->lfirst; n; n = n->lnext) s->ht[n->hash & s->ht_mask] = NULL;
    } else {
        memset(s->ht, 0, sizeof *s->ht * ((size_t)s->ht_mask + 1));
    }
    arena_reset(&s->mem);
    for (int i = 0; i < SL_MAX_HEIGHT; i++) s->head->next[i] = NULL;
    s->height = 1;
    s->ordered = 0;
    s->nnodes = 0;
    s->pending_bytes = 0;
    s->lfirst = NULL;
    s->llast = &s->lfirst;
}

static void undo_clear(store *s)
{
    s->nundo = 0;
    buf_clear(&s->ops);
}

static void compact_thread_stop(store *s);

/* ---------------- open / close ---------------- */

/* ---------------- metadata read cache ----------------
 *
 * Every write command first reads the key's metadata record ('M' key) to
 * know what it replaces, and that LevelDB point read (memtable, then the
 * level-0 files and a bloom probe per level) costs several times the rest
 * of a SET (callgrind: about 4,000 instructions a miss).  This cache keeps
 * committed 'M' and 'D' records (mc_cacheable), present or absent.  It
 * holds committed state only: store_get consults the pending overlay
 * first, and store_commit brings the keys a batch wrote up to date once
 * LevelDB has accepted the batch (mc_commit; a failed or discarded batch
 * leaves the committed state, and the cache, unchanged).  Every write
 * reaches LevelDB through store_commit, and a replaced or reopened store
 * starts with an empty cache, so the cache can never disagree with
 * LevelDB.
 *
 * Layout: sets of MC_WAYS 16-byte slots, a set filling one cache line,
 * each slot pointing at a malloc'd copy of key and value.  Ways instead
 * of a direct-mapped table: with as many keys as a third of the slots,
 * one key in four collided and paid the LevelDB read each time; two ways
 * and "replace a way not used last" cut that to a few percent, and four
 * to almost none: with 300k keys read back (bench_types.sh's set, hash
 * and zset) in 1M slots, the third round's ZADDs missed 10.9k times with
 * two ways and 4.2k with four, about the members never seen before.
 * An 8-bit tag from the hash skips reading the copy of a different key.
 * Memory: 16 bytes a slot plus copies bounded by MC_AVG_BYTES a slot on
 * average (records over MC_MAX_ENTRY bytes are never kept); when the
 * copies reach that budget, new keys are not cached until some leave. */
#define MC_MAX_ENTRY 256
#define MC_AVG_BYTES 64
#define MC_WAYS 4
#define MC_SET_BYTES 64

struct mc_slot {
    char *blob;        /* key then value, owned; NULL = empty slot */
    uint16_t klen, vlen;
    uint16_t cap;      /* bytes allocated at blob */
    uint8_t flags;     /* MC_PRESENT, MC_USED */
    uint8_t tag;
};

enum { MC_PRESENT = 1, MC_USED = 2 };
_Static_assert(sizeof(struct mc_slot) * MC_WAYS == MC_SET_BYTES, "a set fills one cache line");

/* Metadata records, and the subkeys that writes read back one at a time
 * (a zset member's score before ZADD replaces it, a hash field or set
 * member before HSET/SADD counts it as new): for ZADD at pipeline 16 that
 * LevelDB read was over half of the event loop's time.  Stale subkeys of a
 * deleted collection may linger here until the GC deletes them (through
 * store_commit, like every write); they are never asked for, since a
 * version is never reused. */
static int mc_cacheable(const char *k, size_t kl)
{
    return kl > 0 && (k[0] == 'M' || k[0] == 'D');
}

static struct mc_slot *mc_set_of(store *s, uint32_t h)
{
    return &s->mc[((h >> 8) & s->mc_mask) * MC_WAYS];
}

static struct mc_slot *mc_find(struct mc_slot *set, const char *k, size_t kl, uint8_t tag)
{
    for (int w = 0; w < MC_WAYS; w++) {
        struct mc_slot *e = &set[w];
        if (e->blob && e->tag == tag && e->klen == kl && memcmp(e->blob, k, kl) == 0) return e;
    }
    return NULL;
}

static void mc_touch(struct mc_slot *set, struct mc_slot *e)
{
    for (int w = 0; w < MC_WAYS; w++) set[w].flags &= (uint8_t)~MC_USED;
    e->flags |= MC_USED;
}

static void mc_drop(store *s, struct mc_slot *e)
{
    s->mc_bytes -= e->cap;
    free(e->blob);
    e->blob = NULL;
    e->cap = 0;
}

/* 1 present (value in val), 0 known absent, -1 not cached. */
static int mc_lookup(store *s, const char *k, size_t kl, uint32_t h, buf *val)
{
    struct mc_slot *set = mc_set_of(s, h);
    struct mc_slot *e = mc_find(set, k, kl, (uint8_t)h);
    if (!e) {
        s->stats.meta_cache_misses++;
        return -1;
    }
    s->stats.meta_cache_hits++;
    mc_touch(set, e);
    if (!(e->flags & MC_PRESENT)) return 0;
    buf_clear(val);
    buf_append(val, e->blob + kl, e->vlen);
    return 1;
}

/* How mc_set may place a key not cached yet. */
enum { MC_FREE_WAY, MC_EVICT };

/* Keep k's value (present) or its absence.  A key not cached yet takes an
 * empty way, or with MC_EVICT the way not used last; with MC_FREE_WAY it
 * does not count as used, so it is the one a later read evicts. */
static void mc_set(store *s, const char *k, size_t kl, uint32_t h, const char *v, size_t vl,
                   int present, int place)
{
    struct mc_slot *set = mc_set_of(s, h);
    struct mc_slot *e = mc_find(set, k, kl, (uint8_t)h);
    int touch = e || place == MC_EVICT;
    size_t need = kl + vl;
    if (need > MC_MAX_ENTRY) {
        /* Too big to keep: only make sure no stale copy of k survives. */
        if (e) mc_drop(s, e);
        return;
    }
    /* Whole 32-byte units, so a record that grows a little (a counter, a
     * collection's count) keeps its allocation. */
    size_t cap = (need + 31) & ~(size_t)31;
    if (!e) {
        e = NULL;
        for (int w = 0; w < MC_WAYS; w++) {
            if (!set[w].blob) { e = &set[w]; break; }
            if (place == MC_EVICT && !(set[w].flags & MC_USED)) e = &set[w];
        }
        if (!e) return;
    }
    if (!e->blob || e->cap < need) {
        if (e->blob) mc_drop(s, e);
        if (s->mc_bytes + cap > s->mc_budget) return;   /* full: not cached */
        e->blob = xmalloc(cap);
        e->cap = (uint16_t)cap;
        s->mc_bytes += cap;
    }
    memcpy(e->blob, k, kl);
    if (vl) memcpy(e->blob + kl, v, vl);
    e->klen = (uint16_t)kl;
    e->vlen = (uint16_t)vl;
    e->tag = (uint8_t)h;
    e->flags = present ? MC_PRESENT : 0;
    if (touch) mc_touch(set, e);
}

/* The cache after LevelDB took a write of n.  A metadata record is kept
 * as any read keeps it: the next command on its key reads it.  A subkey
 * written takes only a free way, and a deleted one leaves the cache: the
 * writes that read nothing back first (LPUSH's new elements, the GC's
 * deletes of a dropped collection, the element an RPOP just popped) would
 * otherwise evict the members that ZADD, HSET and SADD read before they
 * write them, and a miss there is a LevelDB read. */
static void mc_commit(store *s, const sl_node *n)
{
    if (n->key[0] == 'M') {
        mc_set(s, n->key, n->klen, n->hash, n->val, n->state == ST_VALUE ? n->vlen : 0,
               n->state == ST_VALUE, MC_EVICT);
    } else if (n->state == ST_VALUE) {
        mc_set(s, n->key, n->klen, n->hash, n->val, n->vlen, 1, MC_FREE_WAY);
    } else {
        struct mc_slot *e = mc_find(mc_set_of(s, n->hash), n->key, n->klen, (uint8_t)n->hash);
        if (e) mc_drop(s, e);
    }
}

static void mc_free(store *s)
{
    if (!s->mc) return;
    for (size_t i = 0; i < ((size_t)s->mc_mask + 1) * MC_WAYS; i++) free(s->mc[i].blob);
    free(s->mc);
    s->mc = NULL;
}

store *store_open(const char *dir, const struct store_opts *o, char **err)
{
    store *s = xcalloc(1, sizeof *s);
    char *lerr = NULL;
    worker_init(&s->cw);
    worker_init(&s->sw);

    s->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(s->opts, 1);
    s->cache = leveldb_cache_create_lru((size_t)o->block_cache);
    leveldb_options_set_cache(s->opts, s->cache);
    leveldb_options_set_write_buffer_size(s->opts, (size_t)o->write_buffer);
    leveldb_options_set_max_open_files(s->opts, o->max_open_files);
    if (o->meta_cache_slots > 0) {
        uint32_t n = MC_WAYS;   /* slots, a power of two */
        while (n < (uint32_t)o->meta_cache_slots && n < (1u << 24)) n <<= 1;
        s->mc = xcalloc_aligned(MC_SET_BYTES, n, sizeof *s->mc);
        s->mc_mask = n / MC_WAYS - 1;
        s->mc_budget = (size_t)n * MC_AVG_BYTES;
    }
    leveldb_options_set_compression(s->opts, o->compression ? leveldb_snappy_compression
                                                            : leveldb_no_compression);
    if (o->bloom_bits > 0) {
        s->filter = leveldb_filterpolicy_create_bloom(o->bloom_bits);
        leveldb_options_set_filter_policy(s->opts, s->filter);
    }
    s->db = leveldb_open(s->opts, dir, &lerr);
    if (lerr) {
        *err = xstrdup(lerr);
        leveldb_free(lerr);
        leveldb_options_destroy(s->opts);
        leveldb_cache_destroy(s->cache);
        if (s->filter) leveldb_filterpolicy_destroy(s->filter);
        worker_destroy(&s->cw);
        worker_destroy(&s->sw);
        free(s);
        return NULL;
    }
    s->dir = xstrdup(dir);
    s->ro = leveldb_readoptions_create();
    s->wo_sync = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(s->wo_sync, 1);
    s->wo_nosync = leveldb_writeoptions_create();
    s->head = sl_head_alloc();
    arena_init(&s->mem);
    s->height = 1;
    s->ht = xcalloc(HT_INITIAL, sizeof *s->ht);
    s->ht_mask = HT_INITIAL - 1;
    s->llast = &s->lfirst;
    s->rnd = 0x9e3779b9u;
    buf_init(&s->ops);
    return s;
}

void store_close(store *s)
{
    if (!s) return;
    worker_stop(&s->sw);    /* a requested fsync not started is dropped:
                               closing LevelDB leaves its log on disk */
    compact_thread_stop(s);
    spare_drop(s);
    mc_free(s);
    undo_clear(s);
    sl_clear(s);
    arena_free(&s->mem);
    free(s->head);
    free(s->ht);
    free(s->undo);
    buf_free(&s->ops);
    leveldb_close(s->db);
    leveldb_readoptions_destroy(s->ro);
    leveldb_writeoptions_destroy(s->wo_sync);
    leveldb_writeoptions_destroy(s->wo_nosync);
    leveldb_options_destroy(s->opts);
    leveldb_cache_destroy(s->cache);
    if (s->filter) leveldb_filterpolicy_destroy(s->filter);
    worker_destroy(&s->cw);
    worker_destroy(&s->sw);
    free(s->dir);
    free(s);
}

/* ---------------- reads and writes ---------------- */

/* Values from this size on are handed over by store_get, not copied. */
#define STORE_ADOPT_BYTES 4096

int store_get(store *s, const char *k, size_t kl, buf *val)
{
    uint32_t h = key_hash(k, kl);
    if (s->nnodes) {
        sl_node *n = ht_find(s, k, kl, h);
        if (n && n->state != ST_NONE) {
            if (n->state == ST_TOMB) return 0;
            buf_clear(val);
            buf_append(val, n->val, n->vlen);
            return 1;
        }
    }
    int cacheable = s->mc && mc_cacheable(k, kl);
    if (cacheable) {
        int r = mc_lookup(s, k, kl, h, val);
        if (r >= 0) return r;
    }
    /* A read here also costs the compaction thread.  LevelDB charges a
     * point read that looks into two or more table files to the first of
     * them (bloom filters do not spare it), and after file_size / 16 KiB
     * charges (about 120 for the 2 MB file a full 8 MB memtable of ZADDs
     * makes) compacts that file with the next level's files it overlaps
     * ("seek compaction").  Under writes, each new file is then merged
     * as soon as it is made, not four at a time: in bench_types.sh's
     * third ZADD round, 5 compactions writing 45 MB, and 3.7-4.4 us of
     * compaction CPU per ZADD against 1.6 when the misses read through an
     * iterator instead (an experiment: LevelDB charges iterators only
     * about once a megabyte read, but an iterator seek has no bloom filter
     * and reads a block in every level, so a cold read of a dataset
     * larger than memory would cost a disk read per level).  The cache
     * keeping what is read back is what cuts these reads. */
    char *lerr = NULL;
    size_t vl;
    char *v = leveldb_get(s->db, s->ro, k, kl, &vl, &lerr);
    if (lerr) {
        log_error("leveldb get failed: %s", lerr);
        leveldb_free(lerr);
        return -1;
    }
    if (cacheable) mc_set(s, k, kl, h, v, v ? vl : 0, v != NULL, MC_EVICT);
    if (!v) return 0;
    if (vl >= STORE_ADOPT_BYTES && val->cap < vl) {
        /* A big value (a dense HyperLogLog is 12 KB): take LevelDB's
         * malloc'd copy (c.h: leveldb_free is free) rather than copy it
         * once more. */
        free(val->data);
        val->data = v;
        val->len = val->cap = vl;
        return 1;
    }
    buf_clear(val);
    buf_append(val, v, vl);
    leveldb_free(v);
    return 1;
}

/* The value is v followed by v2 (v2l bytes, often none). */
static void change(store *s, const char *k, size_t kl, const char *v, size_t v1l,
                   const char *v2, size_t v2l, int state, int logged)
{
    size_t vl = v1l + v2l;
    sl_node *n = sl_get_or_insert(s, k, kl);
    if (s->nundo == s->undo_cap) {
        s->undo_cap = s->undo_cap ? s->undo_cap * 2 : 64;
        s->undo = xrealloc(s->undo, sizeof(struct undo) * s->undo_cap);
    }
    struct undo *u = &s->undo[s->nundo++];
    u->node = n;
    u->prev_state = n->state;
    u->prev_val = n->val;
    u->prev_vlen = n->vlen;
    u->ops_len = s->ops.len;

    n->state = (unsigned char)state;
    n->val = NULL;
    n->vlen = 0;
    if (state == ST_VALUE) {
        n->val = arena_alloc(&s->mem, vl);
        if (v1l) memcpy(n->val, v, v1l);
        if (v2l) memcpy(n->val + v1l, v2, v2l);
        n->vlen = vl;
        s->pending_bytes += vl;
    }
    if (logged) {
        int put = state == ST_VALUE;
        buf_reserve(&s->ops, 9 + kl + (put ? vl : 0));
        unsigned char *p = (unsigned char *)s->ops.data + s->ops.len;
        *p++ = put ? 'P' : 'D';
        put_u32be(p, (uint32_t)kl);
        p += 4;
        if (kl) memcpy(p, k, kl);
        p += kl;
        if (put) {
            put_u32be(p, (uint32_t)vl);
            p += 4;
            if (v1l) memcpy(p, v, v1l);
            if (v2l) memcpy(p + v1l, v2, v2l);
            p += vl;
        }
        s->ops.len = (size_t)((char *)p - s->ops.data);
    }
}

void store_prefetch(store *s, const char *k, size_t kl)
{
    if (s->mc && mc_cacheable(k, kl)) __builtin_prefetch(mc_set_of(s, key_hash(k, kl)));
}

void store_put(store *s, const char *k, size_t kl, const char *v, size_t vl)
{
    change(s, k, kl, v, vl, NULL, 0, ST_VALUE, 1);
}

void store_put2(store *s, const char *k, size_t kl, const char *v1, size_t v1l, const char *v2, size_t v2l)
{
    change(s, k, kl, v1, v1l, v2, v2l, ST_VALUE, 1);
}

void store_del(store *s, const char *k, size_t kl)
{
    change(s, k, kl, NULL, 0, NULL, 0, ST_TOMB, 1);
}

void store_put_raw(store *s, const char *k, size_t kl, const char *v, size_t vl)
{
    change(s, k, kl, v, vl, NULL, 0, ST_VALUE, 0);
}

void store_del_raw(store *s, const char *k, size_t kl)
{
    change(s, k, kl, NULL, 0, NULL, 0, ST_TOMB, 0);
}

int store_dirty(const store *s)
{
    return s->nundo > 0;
}

size_t store_pending_bytes(const store *s)
{
    return s->pending_bytes;
}

size_t store_mark(const store *s)
{
    return s->nundo;
}

void store_rollback(store *s, size_t mark)
{
    if (mark >= s->nundo) return;
    size_t ops_len = s->undo[mark].ops_len;
    while (s->nundo > mark) {
        struct undo *u = &s->undo[--s->nundo];
        u->node->val = u->prev_val;
        u->node->vlen = u->prev_vlen;
        u->node->state = u->prev_state;
    }
    s->ops.len = ops_len;
}

const char *store_ops(const store *s, size_t mark, size_t *len)
{
    size_t from = mark < s->nundo ? s->undo[mark].ops_len : s->ops.len;
    *len = s->ops.len - from;
    return s->ops.data ? s->ops.data + from : "";
}

void store_set_commit_hook(store *s, void (*fn)(store *s, void *arg), void *arg)
{
    s->commit_hook = fn;
    s->commit_arg = arg;
}

/* Test hook: a slow disk.  With STRATA_TEST_HOOKS=1 and
 * STRATA_TEST_DISK_DELAY_FILE=<path>, every LevelDB write (hence every
 * commit and every sync, on whichever thread) first sleeps for the number
 * of milliseconds the file holds (at most 5000; no file or 0: no delay).
 * The file is re-read at most every 100 ms, so a test can slow the disk
 * down and speed it up while the node runs, whatever the network does
 * (tests/nemesis/run.py, the slow-disk fault).  A stalled fsync blocks the
 * caller the same way. */
static void store_test_disk_delay(void)
{
    static _Atomic int enabled = -1;    /* -1 not looked at yet */
    static _Atomic uint64_t next_read_us;
    static _Atomic int delay_ms;
    static const char *path;
    int on = atomic_load(&enabled);
    if (on < 0) {
        const char *hooks = getenv("STRATA_TEST_HOOKS");
        path = getenv("STRATA_TEST_DISK_DELAY_FILE");
        on = hooks && strcmp(hooks, "1") == 0 && path && *path;
        atomic_store(&enabled, on);
    }
    if (!on) return;
    uint64_t now = mono_us();
    if (now >= atomic_load(&next_read_us)) {
        atomic_store(&next_read_us, now + 100000);
        int ms = 0;
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%d", &ms) != 1) ms = 0;
            fclose(f);
        }
        if (ms < 0) ms = 0;
        if (ms > 5000) ms = 5000;
        atomic_store(&delay_ms, ms);
    }
    int ms = atomic_load(&delay_ms);
    if (ms > 0) usleep((useconds_t)ms * 1000);
}

int store_commit(store *s, int sync, const char **err)
{
    spare_drop(s);
    if (s->commit_hook) s->commit_hook(s, s->commit_arg);
    if (!s->nundo) {
        if (sync) return store_sync(s);
        return 0;
    }
    /* In creation order: sorting the batch first (so LevelDB's memtable
     * inserts walk neighbouring paths) measured no faster. */
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    size_t bytes = 0;
    for (sl_node *n = s->lfirst; n; n = n->lnext) {
        if (n->state == ST_VALUE) {
            leveldb_writebatch_put(wb, n->key, n->klen, n->val, n->vlen);
            bytes += n->klen + n->vlen;
        } else if (n->state == ST_TOMB) {
            leveldb_writebatch_delete(wb, n->key, n->klen);
            bytes += n->klen;
        }
    }
    char *lerr = NULL;
    store_test_disk_delay();
    leveldb_write(s->db, sync ? s->wo_sync : s->wo_nosync, wb, &lerr);
    leveldb_writebatch_destroy(wb);
    if (!lerr && s->mc) {
        /* LevelDB took the batch: the cache follows the new committed state. */
        /* A big batch has long evicted the sets its lookups touched:
         * fetch a few nodes ahead so the misses overlap. */
        sl_node *ahead = s->lfirst;
        for (int i = 0; i < 4 && ahead; i++, ahead = ahead->lnext)
            __builtin_prefetch(mc_set_of(s, ahead->hash));
        for (sl_node *n = s->lfirst; n; n = n->lnext, ahead = ahead ? ahead->lnext : NULL) {
            if (ahead) __builtin_prefetch(mc_set_of(s, ahead->hash));
            if (n->state != ST_NONE && mc_cacheable(n->key, n->klen))
                mc_commit(s, n);
        }
    }
    undo_clear(s);
    sl_clear(s);
    if (lerr) {
        log_error("leveldb write of %zu bytes failed: %s", bytes, lerr);
        leveldb_free(lerr);
        s->stats.commit_errors++;
        if (err) *err = "storage write failed";
        return -1;
    }
    s->stats.commits++;
    if (sync) s->stats.syncs++;
    s->stats.bytes_written += bytes;
    return 0;
}

int store_sync(store *s)
{
    /* LevelDB syncs its log on a sync write; an empty batch is enough to
     * make every earlier unsynced write durable. */
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    char *lerr = NULL;
    store_test_disk_delay();
    leveldb_write(s->db, s->wo_sync, wb, &lerr);
    leveldb_writebatch_destroy(wb);
    if (lerr) {
        log_error("leveldb sync failed: %s", lerr);
        leveldb_free(lerr);
        s->stats.commit_errors++;
        return -1;
    }
    s->stats.syncs++;
    return 0;
}

/* ---------------- background log fsync ----------------
 *
 * fsync: everysec.  A sync write (store_sync) stalls the event loop for
 * the fsync, and so would one from another thread: LevelDB queues every
 * later write behind it.  Instead this thread fdatasyncs LevelDB's log
 * files ("NNNNNN.log": the current one, and the one of a memtable still
 * being flushed) through descriptors of its own, as Redis fsyncs its AOF
 * in a background thread.  LevelDB hands each log record to the kernel
 * before leveldb_write returns, so every commit made before the request
 * is on disk when the thread is done; a log deleted meanwhile had been
 * flushed to synced table files.  No LevelDB lock is involved. */
static int sync_log_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int ok = 1;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0 || e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) {
            ok = 0;
            continue;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT) ok = 0;  /* ENOENT: flushed and deleted meanwhile */
            continue;
        }
        if (fdatasync(fd) < 0) ok = 0;
        close(fd);
    }
    closedir(d);
    return ok ? 0 : -1;
}

static void *sync_thread_main(void *arg)
{
    store *s = arg;
    pthread_mutex_lock(&s->sw.mu);
    for (;;) {
        while (!s->sw.stop && !s->sreq) pthread_cond_wait(&s->sw.cv, &s->sw.mu);
        if (s->sw.stop) break;
        s->sreq = 0;
        pthread_mutex_unlock(&s->sw.mu);
        int ok = sync_log_files(s->dir) == 0;  /* no logging off the loop */
        pthread_mutex_lock(&s->sw.mu);
        s->sdone = 1;
        s->sdone_ok = ok;
    }
    pthread_mutex_unlock(&s->sw.mu);
    return NULL;
}

int store_sync_start(store *s)
{
    pthread_mutex_lock(&s->sw.mu);
    if (s->srunning) {
        pthread_mutex_unlock(&s->sw.mu);
        return 1;
    }
    s->srunning = 1;
    s->sdone = 0;
    if (worker_ensure(&s->sw, sync_thread_main, s) < 0) {
        pthread_mutex_unlock(&s->sw.mu);
        log_warn("cannot start the fsync thread; syncing in the loop");
        int ok = store_sync(s) == 0;
        pthread_mutex_lock(&s->sw.mu);
        s->sdone = 1;
        s->sdone_ok = ok;
        pthread_mutex_unlock(&s->sw.mu);
        return 0;
    }
    s->sreq = 1;
    pthread_cond_signal(&s->sw.cv);
    pthread_mutex_unlock(&s->sw.mu);
    return 0;
}

int store_sync_finished(store *s, int *ok)
{
    pthread_mutex_lock(&s->sw.mu);
    int done = s->sdone;
    *ok = s->sdone_ok;
    if (done) {
        s->sdone = 0;
        s->srunning = 0;
    }
    pthread_mutex_unlock(&s->sw.mu);
    if (done && *ok) s->stats.syncs++;
    return done;
}

/* ---------------- merged iterator ---------------- */

enum { DIR_FWD, DIR_REV };
enum { CUR_NONE, CUR_DB, CUR_OV };

struct store_iter {
    store *s;
    leveldb_iterator_t *li;
    sl_node *on;        /* overlay position, or NULL (exhausted) */
    int use_overlay;
    int dir;
    int cur;
    buf key;            /* copy of the current key, for direction changes */
};

/* Creating a LevelDB iterator (a merging iterator over the memtables and
 * every level, pinning the current version) costs more than a short range
 * read itself.  A LevelDB iterator sees the committed state as of its
 * creation, and that state changes only in store_commit (no other thread
 * writes), so one iterator serves every command until the next commit:
 * the first store_iter_new after a commit creates it, later ones reuse it
 * while it is not in use, and store_commit destroys it.  An iterator also
 * pins LevelDB's current version (its table files and memtables), so the
 * server releases it at the end of every event-loop iteration
 * (store_release_iter); reuse therefore covers the commands of one
 * iteration, which is where a busy server has many. */
static leveldb_iterator_t *spare_get(store *s)
{
    if (s->spare_busy) return leveldb_create_iterator(s->db, s->ro);
    if (!s->spare_li) s->spare_li = leveldb_create_iterator(s->db, s->ro);
    s->spare_busy = 1;
    return s->spare_li;
}

static void spare_drop(store *s)
{
    if (s->spare_li && !s->spare_busy) leveldb_iter_destroy(s->spare_li);
    if (!s->spare_busy) s->spare_li = NULL;
}

static store_iter *iter_make(store *s, const leveldb_readoptions_t *ro, int use_overlay)
{
    store_iter *it = xcalloc(1, sizeof *it);
    it->s = s;
    it->li = ro == s->ro ? spare_get(s) : leveldb_create_iterator(s->db, ro);
    it->use_overlay = use_overlay;
    if (use_overlay) sl_order(s);
    it->cur = CUR_NONE;
    buf_init(&it->key);
    return it;
}

store_iter *store_iter_new(store *s)
{
    return iter_make(s, s->ro, 1);
}

void store_iter_free(store_iter *it)
{
    if (!it) return;
    if (it->li == it->s->spare_li) it->s->spare_busy = 0;
    else leveldb_iter_destroy(it->li);
    buf_free(&it->key);
    free(it);
}

static int db_key(const store_iter *it, const char **k, size_t *kl)
{
    if (!leveldb_iter_valid(it->li)) return 0;
    *k = leveldb_iter_key(it->li, kl);
    return 1;
}

/* Forward: both children sit at their first entry >= the position. */
static void fwd_settle(store_iter *it)
{
    for (;;) {
        const char *dk = NULL, *ok;
        size_t dkl = 0, okl;
        int hd = db_key(it, &dk, &dkl);
        while (it->on && it->on->state == ST_NONE) it->on = it->on->next[0];
        int ho = it->on != NULL;
        if (!hd && !ho) { it->cur = CUR_NONE; return; }
        if (ho) {
            ok = it->on->key;
            okl = it->on->klen;
            int c = hd ? key_cmp(ok, okl, dk, dkl) : -1;
            if (c <= 0) {
                if (it->on->state == ST_TOMB) {
                    if (c == 0) leveldb_iter_next(it->li);
                    it->on = it->on->next[0];
                    continue;
                }
                it->cur = CUR_OV;
                break;
            }
        }
        it->cur = CUR_DB;
        break;
    }
    /* No copy of the current key here: moving forward, the child that is
     * current still holds it (a LevelDB iterator sees a snapshot, overlay
     * keys never move), and copying every key was a fifth of a long
     * forward scan.  A turn to reverse copies it first (store_iter_prev). */
}

static void copy_current_key(store_iter *it)
{
    size_t kl;
    const char *k = store_iter_key(it, &kl);
    buf_clear(&it->key);
    buf_append(&it->key, k, kl);
}

/* Reverse: both children sit at their last entry <= the position. */
static sl_node *ov_prev_live(store *s, sl_node *n)
{
    while (n && n->state == ST_NONE) n = sl_find_lt(s, n->key, n->klen);
    return n;
}

static void rev_settle(store_iter *it)
{
    for (;;) {
        const char *dk = NULL, *ok;
        size_t dkl = 0, okl;
        int hd = db_key(it, &dk, &dkl);
        it->on = ov_prev_live(it->s, it->on);
        int ho = it->on != NULL;
        if (!hd && !ho) { it->cur = CUR_NONE; return; }
        if (ho) {
            ok = it->on->key;
            okl = it->on->klen;
            int c = hd ? key_cmp(ok, okl, dk, dkl) : 1;
            if (c >= 0) {
                if (it->on->state == ST_TOMB) {
                    if (c == 0) leveldb_iter_prev(it->li);
                    it->on = sl_find_lt(it->s, ok, okl);
                    continue;
                }
                it->cur = CUR_OV;
                break;
            }
        }
        it->cur = CUR_DB;
        break;
    }
    copy_current_key(it);
}

void store_iter_seek(store_iter *it, const char *k, size_t kl)
{
    leveldb_iter_seek(it->li, k, kl);
    it->on = it->use_overlay ? sl_find_ge(it->s, k, kl, NULL) : NULL;
    it->dir = DIR_FWD;
    fwd_settle(it);
}

void store_iter_seek_first(store_iter *it)
{
    leveldb_iter_seek_to_first(it->li);
    it->on = it->use_overlay ? it->s->head->next[0] : NULL;
    it->dir = DIR_FWD;
    fwd_settle(it);
}

void store_iter_seek_last_before(store_iter *it, const char *k, size_t kl)
{
    leveldb_iter_seek(it->li, k, kl);
    if (leveldb_iter_valid(it->li)) leveldb_iter_prev(it->li);
    else leveldb_iter_seek_to_last(it->li);
    it->on = it->use_overlay ? sl_find_lt(it->s, k, kl) : NULL;
    it->dir = DIR_REV;
    rev_settle(it);
}

void store_iter_seek_last(store_iter *it)
{
    leveldb_iter_seek_to_last(it->li);
    it->on = it->use_overlay ? sl_last(it->s) : NULL;
    it->dir = DIR_REV;
    rev_settle(it);
}

int store_iter_valid(const store_iter *it)
{
    return it->cur != CUR_NONE;
}

void store_iter_next(store_iter *it)
{
    if (it->cur == CUR_NONE) return;
    if (it->dir == DIR_REV) {
        const char *k = it->key.data;   /* rev_settle copied it */
        size_t kl = it->key.len;
        leveldb_iter_seek(it->li, k, kl);
        it->on = it->use_overlay ? sl_find_ge(it->s, k, kl, NULL) : NULL;
        it->dir = DIR_FWD;
        const char *dk;
        size_t dkl;
        if (db_key(it, &dk, &dkl) && key_cmp(dk, dkl, k, kl) == 0) leveldb_iter_next(it->li);
        if (it->on && key_cmp(it->on->key, it->on->klen, k, kl) == 0) it->on = it->on->next[0];
        fwd_settle(it);
        return;
    }
    /* Step every child that sits on the current key.  The current child
     * does; when the overlay is current, LevelDB may sit on the same key
     * (the overlay overrides it).  An overlay node written since the last
     * settle lies before it->on and is not visited, as before. */
    if (it->cur == CUR_DB) {
        leveldb_iter_next(it->li);
    } else {
        const char *dk;
        size_t dkl;
        if (db_key(it, &dk, &dkl) && key_cmp(dk, dkl, it->on->key, it->on->klen) == 0)
            leveldb_iter_next(it->li);
        it->on = it->on->next[0];
    }
    fwd_settle(it);
}

void store_iter_prev(store_iter *it)
{
    if (it->cur == CUR_NONE) return;
    if (it->dir == DIR_FWD) copy_current_key(it);
    const char *k = it->key.data;
    size_t kl = it->key.len;
    if (it->dir == DIR_FWD) {
        /* Reposition both children at their last entry <= k. */
        leveldb_iter_seek(it->li, k, kl);
        const char *dk;
        size_t dkl;
        if (!db_key(it, &dk, &dkl)) leveldb_iter_seek_to_last(it->li);
        else if (key_cmp(dk, dkl, k, kl) > 0) leveldb_iter_prev(it->li);
        if (it->use_overlay) {
            sl_node *n = sl_find_ge(it->s, k, kl, NULL);
            it->on = (n && key_cmp(n->key, n->klen, k, kl) == 0) ? n : sl_find_lt(it->s, k, kl);
        }
        it->dir = DIR_REV;
    }
    const char *dk;
    size_t dkl;
    if (db_key(it, &dk, &dkl) && key_cmp(dk, dkl, k, kl) == 0) leveldb_iter_prev(it->li);
    if (it->on && key_cmp(it->on->key, it->on->klen, k, kl) == 0)
        it->on = sl_find_lt(it->s, k, kl);
    rev_settle(it);
}

const char *store_iter_key(const store_iter *it, size_t *len)
{
    if (it->cur == CUR_OV) {
        *len = it->on->klen;
        return it->on->key;
    }
    return leveldb_iter_key(it->li, len);
}

const char *store_iter_val(const store_iter *it, size_t *len)
{
    if (it->cur == CUR_OV) {
        *len = it->on->vlen;
        return it->on->val ? it->on->val : "";
    }
    return leveldb_iter_value(it->li, len);
}

/* ---------------- maintenance ---------------- */

void store_compact_range(store *s, const char *a, size_t al, const char *b, size_t bl)
{
    leveldb_compact_range(s->db, a, al, b, bl);
}

/* The compaction thread: one job at a time, in queue order.  It touches
 * only LevelDB (thread-safe) and the job queue (under cw.mu), never the
 * overlay, which belongs to the event loop. */
static void *compact_thread_main(void *arg)
{
    store *s = arg;
    pthread_mutex_lock(&s->cw.mu);
    for (;;) {
        while (!s->cw.stop && !s->cjobs) pthread_cond_wait(&s->cw.cv, &s->cw.mu);
        if (s->cw.stop) break;
        struct compact_job *j = s->cjobs;
        s->cjobs = j->next;
        if (!s->cjobs) s->cjobs_tail = NULL;
        pthread_mutex_unlock(&s->cw.mu);
        /* No logging here: the log file may be swapped by the loop (SIGHUP). */
        leveldb_compact_range(s->db, j->a, j->al, j->b, j->bl);
        free(j->a);
        free(j->b);
        free(j);
        pthread_mutex_lock(&s->cw.mu);
        s->cpending--;
    }
    pthread_mutex_unlock(&s->cw.mu);
    return NULL;
}

void store_compact_range_async(store *s, const char *a, size_t al, const char *b, size_t bl)
{
    struct compact_job *j = xcalloc(1, sizeof *j);
    j->a = xmalloc(al ? al : 1);
    j->b = xmalloc(bl ? bl : 1);
    if (al) memcpy(j->a, a, al);
    if (bl) memcpy(j->b, b, bl);
    j->al = al;
    j->bl = bl;
    pthread_mutex_lock(&s->cw.mu);
    if (worker_ensure(&s->cw, compact_thread_main, s) < 0) {
        pthread_mutex_unlock(&s->cw.mu);
        log_warn("cannot start the compaction thread; compacting in the loop");
        leveldb_compact_range(s->db, a, al, b, bl);
        free(j->a);
        free(j->b);
        free(j);
        return;
    }
    if (s->cjobs_tail) s->cjobs_tail->next = j;
    else s->cjobs = j;
    s->cjobs_tail = j;
    s->cpending++;
    pthread_cond_signal(&s->cw.cv);
    pthread_mutex_unlock(&s->cw.mu);
}

unsigned store_compactions_pending(store *s)
{
    pthread_mutex_lock(&s->cw.mu);
    unsigned n = s->cpending;
    pthread_mutex_unlock(&s->cw.mu);
    return n;
}

/* Wait for the running compaction, drop the queued ones (LevelDB compacts
 * on its own later; nothing is lost). */
static void compact_thread_stop(store *s)
{
    worker_stop(&s->cw);
    while (s->cjobs) {
        struct compact_job *j = s->cjobs;
        s->cjobs = j->next;
        free(j->a);
        free(j->b);
        free(j);
    }
    s->cjobs_tail = NULL;
    s->cpending = 0;
}

char *store_property(store *s, const char *name)
{
    return leveldb_property_value(s->db, name);
}

unsigned store_level0_files(store *s)
{
    char *v = store_property(s, "leveldb.num-files-at-level0");
    unsigned n = v ? (unsigned)strtoul(v, NULL, 10) : 0;
    free(v);
    return n;
}

uint64_t store_approx_size(store *s, const char *a, size_t al, const char *b, size_t bl)
{
    uint64_t size = 0;
    const char *starts[1] = { a }, *limits[1] = { b };
    size_t slens[1] = { al }, llens[1] = { bl };
    leveldb_approximate_sizes(s->db, 1, starts, slens, limits, llens, &size);
    return size;
}

const struct store_stats *store_get_stats(const store *s)
{
    return &s->stats;
}

store_snap *store_snapshot(store *s)
{
    store_snap *sn = xcalloc(1, sizeof *sn);
    sn->snap = leveldb_create_snapshot(s->db);
    sn->ro = leveldb_readoptions_create();
    leveldb_readoptions_set_snapshot(sn->ro, sn->snap);
    leveldb_readoptions_set_fill_cache(sn->ro, 0);
    return sn;
}

void store_snapshot_release(store *s, store_snap *sn)
{
    if (!sn) return;
    leveldb_readoptions_destroy(sn->ro);
    leveldb_release_snapshot(s->db, sn->snap);
    free(sn);
}

store_iter *store_iter_new_snapshot(store *s, store_snap *sn)
{
    return iter_make(s, sn->ro, 0);
}

void store_discard(store *s)
{
    if (!store_dirty(s)) return;
    store_rollback(s, 0);
    s->stats.commit_errors++;
}

void store_release_iter(store *s)
{
    spare_drop(s);
}
