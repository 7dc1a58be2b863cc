/* test_node_store: the store's pending overlay and merged iterator checked
 * against a simple model (a sorted array of committed keys plus a map of
 * pending changes), with random puts, deletes, commits, rollbacks, point
 * reads, and iteration in both directions with direction changes.
 * STRATA_SEED replays a run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"
#include "util.h"

#define NKEYS 64

/* model: value per key index for committed and pending state */
struct model {
    int committed[NKEYS];   /* -1 absent, else value id */
    int pending[NKEYS];     /* -2 no change, -1 deleted, else value id */
};

static void key_of(int i, char *out, size_t *len)
{
    /* Keys of varying length and shared prefixes: "k", "k\0", "ka", ... */
    static const char *const stems[] = { "M", "Ma", "Mab", "b", "ba", "c", "cab", "D" };
    *len = (size_t)snprintf(out, 32, "%s%02d", stems[i % 8], i / 8);
    if (i % 5 == 0) out[(*len)++] = '\0'; /* embedded NUL at the end */
}

/* The bytes of value id v: "v<id>", and for one id in 7 a value big
 * enough to take the overlay arena's own-chunk path, padded with a
 * pattern of the id so a mixed-up value shows. */
#define BIG_VAL 20000
static size_t val_of(int v, char *out)
{
    size_t n = (size_t)snprintf(out, 16, "v%d", v);
    if (v % 7 == 0) {
        for (size_t j = n; j < BIG_VAL + (size_t)v; j++) out[j] = (char)('a' + (j + (size_t)v) % 26);
        n = BIG_VAL + (size_t)v;
    }
    return n;
}
static char vbuf[BIG_VAL + 1000];

static int model_get(const struct model *m, int i)
{
    if (m->pending[i] != -2) return m->pending[i];
    return m->committed[i];
}

static int key_cmp_idx(const void *a, const void *b)
{
    char ka[32], kb[32];
    size_t la, lb;
    key_of(*(const int *)a, ka, &la);
    key_of(*(const int *)b, kb, &lb);
    size_t n = la < lb ? la : lb;
    int r = memcmp(ka, kb, n);
    if (r) return r;
    return la < lb ? -1 : la > lb;
}

static char tmpdir[256];

/* A tiny read cache, so its slots collide and get replaced often; model
 * keys starting with 'M' or 'D' go through it. */
#define TINY_CACHE 8

static store *open_store(int cache_slots)
{
    struct store_opts o = { 1 << 20, 1 << 20, 100, 0, 0, cache_slots };
    char *err = NULL;
    store *s = store_open(tmpdir, &o, &err);
    if (!s) fprintf(stderr, "open: %s\n", err);
    assert_non_null(s);
    return s;
}

/* A new store in a new temporary directory (tmpdir). */
static store *fresh_store(int cache_slots)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/strata-test-store-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return open_store(cache_slots);
}

static void close_and_remove(store *s)
{
    store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void check_iter(store *s, const struct model *m, const int *order, unsigned *rnd)
{
    /* live keys in order */
    int live[NKEYS], nlive = 0;
    for (int j = 0; j < NKEYS; j++)
        if (model_get(m, order[j]) >= 0) live[nlive++] = order[j];

    store_iter *it = store_iter_new(s);
    /* forward full scan */
    int pos = 0;
    for (store_iter_seek_first(it); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        const char *v = store_iter_val(it, &vl);
        char want[32];
        size_t wl;
        assert_true(pos < nlive);
        key_of(live[pos], want, &wl);
        assert_int_equal(kl, wl);
        assert_memory_equal(k, want, wl);
        char *val = vbuf;
        size_t n = val_of(model_get(m, live[pos]), val);
        assert_int_equal(vl, (size_t)n);
        assert_memory_equal(v, val, vl);
        pos++;
    }
    assert_int_equal(pos, nlive);
    /* backward full scan */
    pos = nlive - 1;
    for (store_iter_seek_last(it); store_iter_valid(it); store_iter_prev(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        char want[32];
        size_t wl;
        assert_true(pos >= 0);
        key_of(live[pos], want, &wl);
        assert_int_equal(kl, wl);
        assert_memory_equal(k, want, wl);
        pos--;
    }
    assert_int_equal(pos, -1);
    /* random walks with direction changes from random seeks */
    for (int walk = 0; walk < 8; walk++) {
        int target = (int)(rand_r(rnd) % NKEYS);
        char tk[32];
        size_t tl;
        key_of(target, tk, &tl);
        int before = rand_r(rnd) % 2;
        /* position in the model: first live >= target, or last live < target */
        int p = 0;
        while (p < nlive && key_cmp_idx(&live[p], &target) < 0) p++;
        if (before) {
            store_iter_seek_last_before(it, tk, tl);
            p--;
        } else {
            store_iter_seek(it, tk, tl);
        }
        for (int step = 0; step < 12; step++) {
            if (p < 0 || p >= nlive) {
                assert_false(store_iter_valid(it));
                break;
            }
            assert_true(store_iter_valid(it));
            size_t kl;
            const char *k = store_iter_key(it, &kl);
            char want[32];
            size_t wl;
            key_of(live[p], want, &wl);
            assert_int_equal(kl, wl);
            assert_memory_equal(k, want, wl);
            if (rand_r(rnd) % 2) {
                store_iter_next(it);
                p++;
            } else {
                store_iter_prev(it);
                p--;
            }
        }
    }
    store_iter_free(it);
}

static void test_store_model(void **state)
{
    (void)state;
    unsigned seed = getenv("STRATA_SEED") ? (unsigned)atoi(getenv("STRATA_SEED")) : (unsigned)now_us();
    printf("test_store_model seed=%u\n", seed);
    unsigned rnd = seed;
    store *s = fresh_store(TINY_CACHE);
    struct model m;
    for (int i = 0; i < NKEYS; i++) {
        m.committed[i] = -1;
        m.pending[i] = -2;
    }
    int order[NKEYS];
    for (int i = 0; i < NKEYS; i++) order[i] = i;
    qsort(order, NKEYS, sizeof order[0], key_cmp_idx);

    /* a stack of marks with the model's pending state at each mark */
    size_t marks[8];
    int saved[8][NKEYS];
    int nmarks = 0;
    buf val;
    buf_init(&val);
    for (int op = 0; op < 4000; op++) {
        int r = (int)(rand_r(&rnd) % 100);
        int i = (int)(rand_r(&rnd) % NKEYS);
        char k[32];
        size_t kl;
        key_of(i, k, &kl);
        if (r < 45) {
            int v = (int)(rand_r(&rnd) % 1000);
            size_t n = val_of(v, vbuf);
            store_put(s, k, kl, vbuf, n);
            m.pending[i] = v;
        } else if (r < 70) {
            store_del(s, k, kl);
            m.pending[i] = -1;
        } else if (r < 80) {
            int got = store_get(s, k, kl, &val);
            int want = model_get(&m, i);
            assert_int_equal(got, want >= 0);
            if (want >= 0) {
                size_t n = val_of(want, vbuf);
                assert_int_equal(val.len, n);
                assert_memory_equal(val.data, vbuf, val.len);
            }
        } else if (r < 85 && nmarks < 8) {
            marks[nmarks] = store_mark(s);
            memcpy(saved[nmarks], m.pending, sizeof m.pending);
            nmarks++;
        } else if (r < 89 && nmarks > 0) {
            nmarks--;
            store_rollback(s, marks[nmarks]);
            memcpy(m.pending, saved[nmarks], sizeof m.pending);
        } else if (r < 93) {
            assert_int_equal(store_commit(s, 0, NULL), 0);
            for (int j = 0; j < NKEYS; j++) {
                m.committed[j] = model_get(&m, j);
                m.pending[j] = -2;
            }
            nmarks = 0;
        } else if (r < 94) {
            /* reopen: only committed data survives */
            store_rollback(s, 0);
            store_close(s);
            s = open_store(TINY_CACHE);
            for (int j = 0; j < NKEYS; j++) m.pending[j] = -2;
            nmarks = 0;
        } else {
            check_iter(s, &m, order, &rnd);
        }
    }
    check_iter(s, &m, order, &rnd);
    buf_free(&val);
    close_and_remove(s);
}

static void test_store_ops_log(void **state)
{
    (void)state;
    store *s = fresh_store(TINY_CACHE);
    store_put(s, "a", 1, "1", 1);
    size_t mark = store_mark(s);
    store_put(s, "bb", 2, "22", 2);
    store_put_raw(s, "Rx", 2, "raw", 3); /* not logged */
    store_del(s, "a", 1);
    size_t len;
    const char *ops = store_ops(s, mark, &len);
    /* P|0002|bb|0002|22  D|0001|a */
    static const char want[] = "P\0\0\0\2bb\0\0\0\00222D\0\0\0\1a";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(ops, want, len);
    /* A value in two pieces is one value, in the overlay and the log. */
    size_t mark2 = store_mark(s);
    store_put2(s, "c", 1, "he", 2, "llo", 3);
    ops = store_ops(s, mark2, &len);
    static const char want2[] = "P\0\0\0\1c\0\0\0\5hello";
    assert_int_equal(len, sizeof want2 - 1);
    assert_memory_equal(ops, want2, len);
    buf hv;
    buf_init(&hv);
    assert_int_equal(store_get(s, "c", 1, &hv), 1);
    assert_int_equal(hv.len, 5);
    assert_memory_equal(hv.data, "hello", 5);
    buf_free(&hv);
    store_rollback(s, mark);
    ops = store_ops(s, mark, &len);
    assert_int_equal(len, 0);
    buf v;
    buf_init(&v);
    assert_int_equal(store_get(s, "a", 1, &v), 1);
    assert_int_equal(store_get(s, "bb", 2, &v), 0);
    assert_int_equal(store_get(s, "Rx", 2, &v), 0);
    buf_free(&v);
    close_and_remove(s);
}

static int hook_calls;
static void add_at_commit(store *s, void *arg)
{
    hook_calls++;
    if (arg) store_put_raw(s, "Rhook", 5, arg, strlen(arg));
}

/* The commit hook runs before the LevelDB write and its writes commit
 * with the batch. */
static void test_store_commit_hook(void **state)
{
    (void)state;
    store *s = fresh_store(TINY_CACHE);
    static char tag[] = "block";
    store_set_commit_hook(s, add_at_commit, tag);
    store_put(s, "a", 1, "1", 1);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(hook_calls, 1);
    store_set_commit_hook(s, NULL, NULL);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(hook_calls, 1);
    store_close(s);
    s = open_store(TINY_CACHE);
    buf v;
    buf_init(&v);
    assert_int_equal(store_get(s, "Rhook", 5, &v), 1);
    assert_memory_equal(v.data, "block", 5);
    assert_int_equal(store_get(s, "a", 1, &v), 1);
    buf_free(&v);
    close_and_remove(s);
}

/* A batch far larger than the overlay's first hash table (it grows), whose
 * skiplist is built only when an iterator asks for it; keys written while
 * that iterator walks are linked in order and seen by it; later small
 * batches in the grown table find committed keys, not stale nodes. */
#define BIG_BATCH 5000
static void test_store_big_batch(void **state)
{
    (void)state;
    store *s = fresh_store(TINY_CACHE);
    char k[32], v[32];
    buf got;
    buf_init(&got);
    /* "k" keys in a scrambled order (7919 is prime to BIG_BATCH). */
    for (int j = 0; j < BIG_BATCH; j++) {
        int i = (int)(((long)j * 7919) % BIG_BATCH);
        int kl = snprintf(k, sizeof k, "k%06d", i);
        int vl = snprintf(v, sizeof v, "v%d", i);
        store_put(s, k, (size_t)kl, v, (size_t)vl);
    }
    for (int i = 0; i < BIG_BATCH; i++) {
        int kl = snprintf(k, sizeof k, "k%06d", i);
        int vl = snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(store_get(s, k, (size_t)kl, &got), 1);
        assert_int_equal(got.len, (size_t)vl);
        assert_memory_equal(got.data, v, got.len);
    }
    /* Walk the "k" keys; halfway, write "m" keys (after every "k") and a
     * "j" key (before the iterator): the walk goes on into the "m" keys. */
    store_iter *it = store_iter_new(s);
    int seen = 0;
    for (store_iter_seek_first(it); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *ik = store_iter_key(it, &kl);
        char want[32];
        if (seen < BIG_BATCH) snprintf(want, sizeof want, "k%06d", seen);
        else snprintf(want, sizeof want, "m%03d", seen - BIG_BATCH);
        assert_int_equal(kl, strlen(want));
        assert_memory_equal(ik, want, kl);
        if (seen == BIG_BATCH / 2) {
            for (int i = 99; i >= 0; i--) {
                int ml = snprintf(k, sizeof k, "m%03d", i);
                store_put(s, k, (size_t)ml, "m", 1);
            }
            store_put(s, "j", 1, "j", 1);
        }
        seen++;
    }
    assert_int_equal(seen, BIG_BATCH + 100);
    store_iter_free(it);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    /* Small batches in the grown table. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++) {
            int kl = snprintf(k, sizeof k, "k%06d", i * 7 + round);
            store_put(s, k, (size_t)kl, "new", 3);
        }
        assert_int_equal(store_commit(s, 0, NULL), 0);
    }
    store_del(s, "j", 1);
    assert_int_equal(store_get(s, "j", 1, &got), 0);
    for (int i = 0; i < BIG_BATCH; i++) {
        int kl = snprintf(k, sizeof k, "k%06d", i);
        int vl = snprintf(v, sizeof v, "v%d", i);
        int rewritten = i < 70 && i % 7 < 3;
        assert_int_equal(store_get(s, k, (size_t)kl, &got), 1);
        if (rewritten) {
            assert_int_equal(got.len, 3);
            assert_memory_equal(got.data, "new", 3);
        } else {
            assert_int_equal(got.len, (size_t)vl);
            assert_memory_equal(got.data, v, got.len);
        }
    }
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(store_get(s, "j", 1, &got), 0);
    assert_int_equal(store_get(s, "m042", 4, &got), 1);
    buf_free(&got);
    close_and_remove(s);
}

/* The read cache keeps what was read back.  Subkeys written without a
 * read first (LPUSH's elements, the GC's deletes) take only free ways, so
 * the members a workload reads keep their slots; a deleted subkey leaves
 * the cache; a metadata record written is cached, as the next command on
 * its key reads it. */
static unsigned long long misses(const store *s)
{
    return store_get_stats(s)->meta_cache_misses;
}

static void test_store_cache_policy(void **state)
{
    (void)state;
    store *s = fresh_store(1024);
    char k[32];
    buf got;
    buf_init(&got);
    /* 64 "hot" members, committed, then read once: cached. */
    for (int i = 0; i < 64; i++) {
        int kl = snprintf(k, sizeof k, "Dhot%04d", i);
        store_put(s, k, (size_t)kl, "h", 1);
    }
    assert_int_equal(store_commit(s, 0, NULL), 0);
    for (int i = 0; i < 64; i++) {
        int kl = snprintf(k, sizeof k, "Dhot%04d", i);
        assert_int_equal(store_get(s, k, (size_t)kl, &got), 1);
    }
    unsigned long long m0 = misses(s);
    for (int i = 0; i < 64; i++) {
        int kl = snprintf(k, sizeof k, "Dhot%04d", i);
        assert_int_equal(store_get(s, k, (size_t)kl, &got), 1);
    }
    assert_int_equal(misses(s), m0);
    /* 20 times the slots in subkeys written and deleted, never read. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20480; i++) {
            int kl = snprintf(k, sizeof k, "Dcold%06d", i);
            if (round == 0) store_put(s, k, (size_t)kl, "c", 1);
            else store_del(s, k, (size_t)kl);
            if (i % 100 == 99) assert_int_equal(store_commit(s, 0, NULL), 0);
        }
        assert_int_equal(store_commit(s, 0, NULL), 0);
    }
    /* The hot members are all still cached. */
    for (int i = 0; i < 64; i++) {
        int kl = snprintf(k, sizeof k, "Dhot%04d", i);
        assert_int_equal(store_get(s, k, (size_t)kl, &got), 1);
        assert_int_equal(got.len, 1);
        assert_memory_equal(got.data, "h", 1);
    }
    assert_int_equal(misses(s), m0);
    /* A cached member deleted leaves the cache (read from LevelDB once,
     * absent, then cached as absent); one rewritten is refreshed. */
    store_del(s, "Dhot0000", 8);
    store_put(s, "Dhot0001", 8, "x", 1);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(store_get(s, "Dhot0000", 8, &got), 0);
    assert_int_equal(misses(s), m0 + 1);
    assert_int_equal(store_get(s, "Dhot0000", 8, &got), 0);
    assert_int_equal(store_get(s, "Dhot0001", 8, &got), 1);
    assert_memory_equal(got.data, "x", 1);
    assert_int_equal(misses(s), m0 + 1);
    /* A metadata record written is cached at once. */
    store_put(s, "Mkey", 4, "meta", 4);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(store_get(s, "Mkey", 4, &got), 1);
    assert_int_equal(misses(s), m0 + 1);
    buf_free(&got);
    close_and_remove(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_model),
        cmocka_unit_test(test_store_ops_log),
        cmocka_unit_test(test_store_commit_hook),
        cmocka_unit_test(test_store_big_batch),
        cmocka_unit_test(test_store_cache_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
