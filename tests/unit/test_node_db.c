/* test_node_db: node/storage/db.h — the LevelDB key encodings (byte layouts and
 * the orders they must give), scores as sortable integers, and the shared
 * metadata operations (lookup with lazy expiry, strings, collections,
 * delete + GC queue, expire index, move, counters, the expiry sweep and
 * the GC) against a real store in a temp dir, partly committed and partly
 * pending in the overlay.  STRATA_SEED replays the random parts. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "db.h"
#include "server.h"
#include "store.h"
#include "strchunk.h"
#include "util.h"

#define NOW 1700000000000ULL

static char tmpdir[256];
static unsigned seed;

/* ---------------- helpers ---------------- */

static uint64_t rnd64(void)
{
    return ((uint64_t)random() << 62) ^ ((uint64_t)random() << 31) ^ (uint64_t)random();
}

static int store_setup(void **state)
{
    (void)state;
    static int n;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_node_db.%d.%d", (int)getpid(), n++);
    struct store_opts o = { 1 << 20, 1 << 20, 100, 0, 0, 16 }; /* small meta cache: collisions */
    char *err = NULL;
    srv.st = store_open(tmpdir, &o, &err);
    if (!srv.st) fprintf(stderr, "store_open: %s\n", err);
    assert_non_null(srv.st);
    db_invalidate_counters();
    srv.cmd_time_ms = NOW;
    srv.is_replica = 0;
    srv.writes_paused = 0;
    srv.stats.expired_keys = 0;
    return 0;
}

static int store_teardown(void **state)
{
    (void)state;
    store_close(srv.st);
    srv.st = NULL;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void commit(void)
{
    assert_int_equal(store_commit(srv.st, 0, NULL), 0);
}

/* 1 if the raw LevelDB key exists (through the overlay); its value in *v. */
static int raw_get(const buf *k, buf *v)
{
    buf tmp;
    buf_init(&tmp);
    int r = store_get(srv.st, k->data, k->len, v ? v : &tmp);
    buf_free(&tmp);
    assert_true(r >= 0);
    return r;
}

static int has_meta(const char *key)
{
    buf k;
    buf_init(&k);
    enc_meta_key(&k, key, strlen(key));
    int r = raw_get(&k, NULL);
    buf_free(&k);
    return r;
}

/* The expiry index entry (expire, key): 1 and its value (8 bytes) in *ver. */
static int has_expire_entry(uint64_t expire, const char *key, uint64_t *ver)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    enc_expire_key(&k, expire, key, strlen(key));
    int r = raw_get(&k, &v);
    if (r == 1) {
        assert_int_equal(v.len, 8);
        if (ver) *ver = get_u64be((const unsigned char *)v.data);
    }
    buf_free(&k);
    buf_free(&v);
    return r;
}

/* Count the store keys starting with prefix. */
static int count_prefix(const char *p, size_t plen)
{
    store_iter *it = store_iter_new(srv.st);
    int n = 0;
    for (store_iter_seek(it, p, plen); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl < plen || memcmp(k, p, plen) != 0) break;
        n++;
    }
    store_iter_free(it);
    return n;
}

static int count_expire_entries(void)
{
    return count_prefix("E", 1);
}

static int count_subkeys(char tag, uint64_t version)
{
    buf p;
    buf_init(&p);
    if (tag == 'D') enc_data_prefix(&p, version);
    else enc_zscore_prefix(&p, version);
    int n = count_prefix(p.data, p.len);
    buf_free(&p);
    return n;
}

static int has_gc_entry(uint64_t version, char *type)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    enc_gc_key(&k, version);
    int r = raw_get(&k, &v);
    if (r == 1 && type) {
        assert_int_equal(v.len, 1);
        *type = v.data[0];
    }
    buf_free(&k);
    buf_free(&v);
    return r;
}

static void set_string(const char *key, const char *val, uint64_t expire)
{
    struct meta m;
    meta_init(&m);
    assert_true(db_lookup(key, strlen(key), &m) >= 0);
    db_set_string(key, strlen(key), val, strlen(val), expire, &m);
    meta_free(&m);
}

/* A hash (or set) with n fields f0..f(n-1), committed or not; for zsets
 * also the 'Z' index.  Returns its version. */
static uint64_t make_coll(const char *key, int type, int n, uint64_t expire)
{
    struct meta m;
    meta_init(&m);
    assert_true(db_lookup(key, strlen(key), &m) >= 0);
    db_new_collection(key, strlen(key), type, &m);
    buf k;
    buf_init(&k);
    for (int i = 0; i < n; i++) {
        char f[32];
        int fl = snprintf(f, sizeof f, "f%d", i);
        enc_data_key(&k, m.version, f, (size_t)fl);
        store_put(srv.st, k.data, k.len, "v", 1);
        if (type == T_ZSET) {
            enc_zscore_key(&k, m.version, (double)i, f, (size_t)fl);
            store_put(srv.st, k.data, k.len, "", 0);
        }
    }
    buf_free(&k);
    m.count = (uint64_t)n;
    m.expire = expire;
    db_write_meta(key, strlen(key), &m, 0);
    uint64_t v = m.version;
    meta_free(&m);
    return v;
}

/* ---------------- encodings ---------------- */

static void test_meta_key(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    buf_append(&b, "junk that must be cleared", 25);
    enc_meta_key(&b, "a\0b", 3);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "Ma\0b", 4);
    enc_meta_key(&b, "", 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 'M');
    buf_free(&b);
}

static void test_sub_keys(void **state)
{
    (void)state;
    buf b, p;
    buf_init(&b);
    buf_init(&p);
    const uint64_t ver = UINT64_C(0x0102030405060708);
    buf_append(&b, "junk", 4);
    enc_data_key(&b, ver, "fi\0d", 4);
    assert_int_equal(b.len, SUBKEY_PREFIX + 4);
    assert_memory_equal(b.data, "D\x01\x02\x03\x04\x05\x06\x07\x08" "fi\0d", 13);
    enc_data_prefix(&p, ver);
    assert_int_equal(p.len, SUBKEY_PREFIX);
    assert_memory_equal(p.data, b.data, SUBKEY_PREFIX);

    /* zscore: tag, version, sortable score, member */
    enc_zscore_key(&b, ver, 1.5, "m", 1);
    assert_int_equal(b.len, SUBKEY_PREFIX + 8 + 1);
    assert_int_equal(b.data[0], 'Z');
    assert_int_equal(get_u64be((const unsigned char *)b.data + 1), ver);
    assert_int_equal(get_u64be((const unsigned char *)b.data + 9), score_to_sortable(1.5));
    assert_int_equal(b.data[17], 'm');
    enc_zscore_prefix(&p, ver);
    assert_memory_equal(p.data, b.data, SUBKEY_PREFIX);

    /* the GC entry is exactly tag + version */
    enc_gc_key(&b, UINT64_C(0xfffffffffffffffe));
    assert_int_equal(b.len, SUBKEY_PREFIX);
    assert_memory_equal(b.data, "G\xff\xff\xff\xff\xff\xff\xff\xfe", 9);

    /* expire: 'E' be64(expire) key */
    enc_expire_key(&b, 0x1122334455667788ULL, "k\0", 2);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.data, "E\x11\x22\x33\x44\x55\x66\x77\x88k\0", 11);
    buf_free(&b);
    buf_free(&p);
}

static int bytes_cmp(const buf *a, const buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->data, b->data, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Key order is what range scans rely on: expiry entries by time (then
 * key), zset index entries by score (then member), subkeys of one
 * version never interleaved with those of another. */
static void test_key_orders(void **state)
{
    (void)state;
    buf a, b;
    buf_init(&a);
    buf_init(&b);
    for (int i = 0; i < 2000; i++) {
        uint64_t t1 = rnd64() >> (random() % 64), t2 = rnd64() >> (random() % 64);
        enc_expire_key(&a, t1, "zz", 2);
        enc_expire_key(&b, t2, "a", 1);
        if (t1 < t2) assert_true(bytes_cmp(&a, &b) < 0);
        if (t1 > t2) assert_true(bytes_cmp(&a, &b) > 0);
        if (t1 == t2) assert_true(bytes_cmp(&a, &b) > 0); /* then by key */

        double s1 = ldexp((double)(int32_t)random(), (int)(random() % 200) - 100);
        double s2 = (random() % 4) ? ldexp((double)(int32_t)random(), (int)(random() % 200) - 100) : s1;
        enc_zscore_key(&a, 42, s1, "b", 1);
        enc_zscore_key(&b, 42, s2, "a", 1);
        if (s1 < s2) assert_true(bytes_cmp(&a, &b) < 0);
        if (s1 > s2) assert_true(bytes_cmp(&a, &b) > 0);
        if (s1 == s2) assert_true(bytes_cmp(&a, &b) > 0);

        /* every subkey of version v sorts before every one of v + 1 */
        uint64_t v = rnd64() >> 1;
        enc_data_key(&a, v, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
        enc_data_key(&b, v + 1, "", 0);
        assert_true(bytes_cmp(&a, &b) < 0);
    }
    buf_free(&a);
    buf_free(&b);
}

static void check_prefix_end(const char *p, size_t plen, const char *want, size_t wlen)
{
    buf b;
    buf_init(&b);
    buf_append(&b, "junk", 4);
    assert_int_equal(enc_prefix_end(&b, p, plen), 0);
    assert_int_equal(b.len, wlen);
    assert_memory_equal(b.data, want, wlen);
    buf_free(&b);
}

static void test_prefix_end(void **state)
{
    (void)state;
    check_prefix_end("ab", 2, "ac", 2);
    check_prefix_end("a\xff", 2, "b", 1);
    check_prefix_end("a\xff\xff\xff", 4, "b", 1);
    check_prefix_end("\xfe\xff", 2, "\xff", 1);
    check_prefix_end("\x00", 1, "\x01", 1);
    check_prefix_end("a\xfe", 2, "a\xff", 2);

    buf b;
    buf_init(&b);
    assert_int_equal(enc_prefix_end(&b, "\xff", 1), -1);
    assert_int_equal(enc_prefix_end(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9), -1);
    assert_int_equal(enc_prefix_end(&b, "", 0), -1);

    /* Property: for random prefixes P (often ending in 0xff), end(P) is
     * greater than P followed by anything, and not greater than the next
     * prefix-free string after them. */
    buf k;
    buf_init(&k);
    for (int i = 0; i < 2000; i++) {
        char p[8];
        size_t pl = 1 + (size_t)(random() % 7);
        for (size_t j = 0; j < pl; j++)
            p[j] = (random() % 3) ? (char)0xff : (char)(random() & 0xff);
        int r = enc_prefix_end(&b, p, pl);
        size_t nff = 0;
        while (nff < pl && (unsigned char)p[nff] == 0xff) nff++;
        if (nff == pl) {
            assert_int_equal(r, -1);
            continue;
        }
        assert_int_equal(r, 0);
        buf_clear(&k);
        buf_append(&k, p, pl);
        buf_append(&k, "\xff\xff\xff\xff", 4);
        assert_true(bytes_cmp(&k, &b) < 0);
        /* the end itself does not start with P */
        assert_false(b.len >= pl && memcmp(b.data, p, pl) == 0);
        /* and it is a strict prefix-successor: shorter or equal length */
        assert_true(b.len <= pl);
    }
    buf_free(&k);
    buf_free(&b);
}

/* ---------------- scores ---------------- */

static double random_double(void)
{
    for (;;) {
        uint64_t u = rnd64();
        double d;
        memcpy(&d, &u, 8);
        if (!isnan(d)) return d;
    }
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_scores_sortable(void **state)
{
    (void)state;
    enum { N = 20000 };
    static double d[N];
    const double special[] = { -INFINITY, INFINITY, -0.0, 0.0, DBL_MIN, -DBL_MIN, DBL_MAX,
                               -DBL_MAX, 4.9406564584124654e-324, -4.9406564584124654e-324,
                               2.2250738585072009e-308, -2.2250738585072009e-308, 1.0, -1.0,
                               0.5, -0.5, 1e-300, -1e-300 };
    size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < N; i++) {
        if (i < ns) d[i] = special[i];
        else if (i % 5 == 0) d[i] = (double)((long)(random() % 21) - 10); /* ties */
        else if (i % 7 == 0) d[i] = ldexp((double)(random() % 1000), -1074 + (int)(random() % 60)); /* denormals */
        else d[i] = random_double();
        if (i % 11 == 0) d[i] = -d[i];
    }
    qsort(d, N, sizeof d[0], dbl_cmp);
    for (size_t i = 0; i + 1 < N; i++) {
        uint64_t a = score_to_sortable(d[i]), b = score_to_sortable(d[i + 1]);
        if (d[i] < d[i + 1]) assert_true(a < b);
        else assert_true(a == b); /* equal doubles, including -0.0 == 0.0 */
    }
    /* round trip: bit-exact, except that -0.0 comes back as 0.0 */
    for (size_t i = 0; i < N; i++) {
        double back = sortable_to_score(score_to_sortable(d[i]));
        if (d[i] == 0) {
            assert_true(back == 0);
            assert_false(signbit(back));
        } else {
            assert_memory_equal(&back, &d[i], 8);
        }
    }
    /* the extremes sit at the extremes */
    assert_true(score_to_sortable(-INFINITY) < score_to_sortable(-DBL_MAX));
    assert_true(score_to_sortable(DBL_MAX) < score_to_sortable(INFINITY));
    assert_true(score_to_sortable(-4.9406564584124654e-324) < score_to_sortable(0.0));
    assert_true(score_to_sortable(0.0) < score_to_sortable(4.9406564584124654e-324));
    assert_int_equal(score_to_sortable(-0.0), score_to_sortable(0.0));
    assert_int_equal(score_to_sortable(0.0), UINT64_C(1) << 63);
}

/* ---------------- metadata against a store ---------------- */

static void test_lookup_absent_and_strings(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    assert_int_equal(db_lookup("k", 1, &m), T_NONE);
    assert_int_equal(m.expired, 0);
    assert_int_equal(db_key_count(), 0);

    db_set_string("k", 1, "v\0x", 3, 0, &m);
    assert_int_equal(db_key_count(), 1);
    assert_int_equal(db_expire_count(), 0);
    assert_int_equal(db_lookup("k", 1, &m), T_STRING);
    assert_int_equal(m.slen, 3);
    assert_memory_equal(m.sval, "v\0x", 3);
    assert_int_equal(m.expire, 0);
    commit();

    /* overwrite with an expire: one key, one expiry entry (version 0) */
    db_set_string("k", 1, "w", 1, NOW + 5000, &m);
    assert_int_equal(db_key_count(), 1);
    assert_int_equal(db_expire_count(), 1);
    uint64_t ver = 99;
    assert_int_equal(has_expire_entry(NOW + 5000, "k", &ver), 1);
    assert_int_equal(ver, 0);
    assert_int_equal(db_lookup("k", 1, &m), T_STRING);
    assert_int_equal(m.expire, NOW + 5000);
    assert_int_equal(m.slen, 1);

    /* overwrite without: the entry and the count go */
    db_set_string("k", 1, "", 0, 0, &m);
    assert_int_equal(db_expire_count(), 0);
    assert_int_equal(count_expire_entries(), 0);
    assert_int_equal(db_lookup("k", 1, &m), T_STRING);
    assert_int_equal(m.slen, 0);

    /* counters are persisted with the data */
    set_string("k2", "x", NOW + 1);
    commit();
    db_invalidate_counters();
    assert_int_equal(db_key_count(), 2);
    assert_int_equal(db_expire_count(), 1);

    /* type names */
    assert_string_equal(type_name(T_STRING), "string");
    assert_string_equal(type_name(T_ZSET), "zset");
    assert_string_equal(type_name(T_NONE), "none");
    meta_free(&m);
}

static void test_lazy_expiry(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    set_string("s", "v", NOW + 10);
    commit();
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);

    /* expire == now is expired (as Redis: when <= now) */
    srv.cmd_time_ms = NOW + 10;
    assert_int_equal(db_lookup_raw("s", 1, &m), T_NONE);
    assert_int_equal(m.expired, 1);
    assert_int_equal(m.old_type, T_STRING);
    assert_int_equal(m.expire, NOW + 10);
    assert_int_equal(has_meta("s"), 1); /* raw lookups never delete */

    /* a replica and a paused master do not delete either */
    srv.is_replica = 1;
    assert_int_equal(db_lookup("s", 1, &m), T_NONE);
    assert_int_equal(m.expired, 1);
    assert_int_equal(has_meta("s"), 1);
    srv.is_replica = 0;
    srv.writes_paused = 1;
    assert_int_equal(db_lookup("s", 1, &m), T_NONE);
    assert_int_equal(has_meta("s"), 1);
    srv.writes_paused = 0;
    assert_int_equal(db_key_count(), 1);
    assert_int_equal(srv.stats.expired_keys, 0);

    /* a master deletes on access: meta, expiry entry, counters */
    assert_int_equal(db_lookup("s", 1, &m), T_NONE);
    assert_int_equal(m.expired, 0);
    assert_int_equal(m.old_type, T_NONE);
    assert_int_equal(has_meta("s"), 0);
    assert_int_equal(has_expire_entry(NOW + 10, "s", NULL), 0);
    assert_int_equal(db_key_count(), 0);
    assert_int_equal(db_expire_count(), 0);
    assert_int_equal(srv.stats.expired_keys, 1);

    /* an expired collection found by lookup is queued for the GC */
    srv.cmd_time_ms = NOW;
    uint64_t v = make_coll("h", T_HASH, 3, NOW + 1);
    commit();
    srv.cmd_time_ms = NOW + 2;
    assert_int_equal(db_lookup("h", 1, &m), T_NONE);
    assert_int_equal(has_gc_entry(v, NULL), 1);
    assert_int_equal(db_gc_pending(), 1);
    assert_int_equal(db_key_count(), 0);
    meta_free(&m);
}

static void test_corrupt_meta(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    store_put(srv.st, "Mbad", 4, "\x09" "12345678", 9);   /* unknown type */
    store_put(srv.st, "Mshort", 6, "\x02" "1234", 5);     /* truncated */
    store_put(srv.st, "Mhash", 5, "\x02" "12345678" "1234", 13); /* hash without count */
    assert_int_equal(db_lookup("bad", 3, &m), -1);
    assert_int_equal(db_lookup("short", 5, &m), -1);
    assert_int_equal(db_lookup("hash", 4, &m), -1);
    meta_free(&m);
}

static void test_collections_and_delete(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    uint64_t v1 = make_coll("h", T_HASH, 5, 0);
    assert_int_equal(db_key_count(), 1);
    commit();
    assert_int_equal(db_lookup("h", 1, &m), T_HASH);
    assert_int_equal(m.version, v1);
    assert_int_equal(m.count, 5);
    assert_int_equal(m.raw.len, META_COLL);

    /* lists carry head and tail */
    struct meta l;
    meta_init(&l);
    assert_int_equal(db_lookup("l", 1, &l), T_NONE);
    db_new_collection("l", 1, T_LIST, &l);
    assert_int_equal(l.head, LIST_INITIAL_INDEX);
    assert_int_equal(l.tail, LIST_INITIAL_INDEX);
    l.tail += 2;
    l.count = 2;
    db_write_meta("l", 1, &l, 0);
    assert_int_equal(db_lookup("l", 1, &l), T_LIST);
    assert_int_equal(l.raw.len, META_LIST);
    assert_int_equal(l.head, LIST_INITIAL_INDEX);
    assert_int_equal(l.tail, LIST_INITIAL_INDEX + 2);
    assert_int_equal(db_key_count(), 2);

    /* replacing a collection: a new, larger version; the old one queued */
    db_new_collection("h", 1, T_SET, &m);
    assert_true(m.version > v1);
    assert_int_equal(m.count, 0);
    m.count = 1;
    db_write_meta("h", 1, &m, 0);
    char t = 0;
    assert_int_equal(has_gc_entry(v1, &t), 1);
    assert_int_equal(t, T_HASH);
    assert_int_equal(db_gc_pending(), 1);
    assert_int_equal(db_key_count(), 2);
    uint64_t v2 = m.version;

    /* delete: meta gone, subkeys queued, counter down */
    assert_int_equal(db_lookup("h", 1, &m), T_SET);
    db_delete("h", 1, &m);
    assert_int_equal(has_meta("h"), 0);
    assert_int_equal(has_gc_entry(v2, &t), 1);
    assert_int_equal(t, T_SET);
    assert_int_equal(db_gc_pending(), 2);
    assert_int_equal(db_key_count(), 1);

    /* deleting nothing does nothing */
    assert_int_equal(db_lookup("h", 1, &m), T_NONE);
    db_delete("h", 1, &m);
    assert_int_equal(db_key_count(), 1);

    /* an empty collection needs no GC entry; strings never do */
    struct meta e;
    meta_init(&e);
    assert_int_equal(db_lookup("e", 1, &e), T_NONE);
    db_new_collection("e", 1, T_ZSET, &e);
    db_write_meta("e", 1, &e, 0);
    db_delete("e", 1, &e);
    assert_int_equal(has_gc_entry(e.version, NULL), 0);
    set_string("s", "v", 0);
    assert_int_equal(db_lookup("s", 1, &e), T_STRING);
    db_delete("s", 1, &e);
    assert_int_equal(db_gc_pending(), 2);
    assert_int_equal(db_key_count(), 1);

    /* a string replaced by a collection: its expiry entry goes */
    set_string("x", "v", NOW + 100);
    assert_int_equal(db_expire_count(), 1);
    assert_int_equal(db_lookup("x", 1, &e), T_STRING);
    db_new_collection("x", 1, T_HASH, &e);
    e.count = 1;
    db_write_meta("x", 1, &e, 0);
    assert_int_equal(db_expire_count(), 0);
    assert_int_equal(has_expire_entry(NOW + 100, "x", NULL), 0);
    assert_int_equal(db_key_count(), 2);
    meta_free(&e);
    meta_free(&l);
    meta_free(&m);
}

static void test_set_expire(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    uint64_t v = make_coll("h", T_ZSET, 2, 0);
    commit();
    assert_int_equal(db_lookup("h", 1, &m), T_ZSET);
    db_set_expire("h", 1, &m, NOW + 100);
    uint64_t ver = 0;
    assert_int_equal(has_expire_entry(NOW + 100, "h", &ver), 1);
    assert_int_equal(ver, v);
    assert_int_equal(db_expire_count(), 1);
    commit();

    assert_int_equal(db_lookup("h", 1, &m), T_ZSET);
    assert_int_equal(m.expire, NOW + 100);
    db_set_expire("h", 1, &m, NOW + 200);
    assert_int_equal(has_expire_entry(NOW + 100, "h", NULL), 0);
    assert_int_equal(has_expire_entry(NOW + 200, "h", NULL), 1);
    assert_int_equal(db_expire_count(), 1);
    assert_int_equal(count_expire_entries(), 1);

    db_set_expire("h", 1, &m, 0);
    assert_int_equal(count_expire_entries(), 0);
    assert_int_equal(db_expire_count(), 0);
    assert_int_equal(db_lookup("h", 1, &m), T_ZSET);
    assert_int_equal(m.expire, 0);
    assert_int_equal(m.count, 2);

    /* strings: the expire inside the stored value changes too */
    set_string("s", "val", 0);
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);
    db_set_expire("s", 1, &m, NOW + 7);
    assert_int_equal(has_expire_entry(NOW + 7, "s", NULL), 1);
    commit();
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);
    assert_int_equal(m.expire, NOW + 7);
    assert_memory_equal(m.sval, "val", 3);
    db_set_expire("s", 1, &m, NOW + 8);
    assert_int_equal(count_expire_entries(), 1);
    assert_int_equal(db_expire_count(), 1);
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);
    assert_int_equal(m.expire, NOW + 8);
    meta_free(&m);
}

static void test_move(void **state)
{
    (void)state;
    struct meta m, d;
    meta_init(&m);
    meta_init(&d);
    uint64_t v = make_coll("src", T_HASH, 4, NOW + 50);
    set_string("dst", "old", NOW + 60);
    commit();
    assert_int_equal(db_key_count(), 2);
    assert_int_equal(db_expire_count(), 2);

    /* RENAME src dst: delete dst, then move */
    assert_int_equal(db_lookup("dst", 3, &d), T_STRING);
    db_delete("dst", 3, &d);
    assert_int_equal(db_lookup("src", 3, &m), T_HASH);
    db_move("src", 3, "dst", 3, &m);
    assert_int_equal(has_meta("src"), 0);
    assert_int_equal(db_lookup("dst", 3, &d), T_HASH);
    assert_int_equal(d.version, v);
    assert_int_equal(d.count, 4);
    assert_int_equal(d.expire, NOW + 50);
    assert_int_equal(has_expire_entry(NOW + 50, "src", NULL), 0);
    uint64_t ver = 0;
    assert_int_equal(has_expire_entry(NOW + 50, "dst", &ver), 1);
    assert_int_equal(ver, v);
    assert_int_equal(has_expire_entry(NOW + 60, "dst", NULL), 0);
    assert_int_equal(count_expire_entries(), 1);
    assert_int_equal(db_key_count(), 1);
    assert_int_equal(db_expire_count(), 1);
    assert_int_equal(count_subkeys('D', v), 4); /* subkeys stay */

    /* a key without expire moves without index entries */
    set_string("a", "1", 0);
    assert_int_equal(db_lookup("a", 1, &m), T_STRING);
    db_move("a", 1, "b", 1, &m);
    assert_int_equal(db_lookup("b", 1, &d), T_STRING);
    assert_memory_equal(d.sval, "1", 1);
    assert_int_equal(has_meta("a"), 0);
    assert_int_equal(count_expire_entries(), 1);
    meta_free(&m);
    meta_free(&d);
}

static void test_expire_cycle(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    set_string("e1", "v", NOW + 1);
    set_string("e2", "v", NOW + 2);
    set_string("e3", "v", NOW + 3);
    uint64_t hv = make_coll("eh", T_HASH, 3, NOW + 4);
    set_string("late", "v", NOW + 1000);
    set_string("never", "v", 0);
    commit();
    assert_int_equal(db_key_count(), 6);
    assert_int_equal(db_expire_count(), 5);

    /* nothing due yet */
    assert_int_equal(db_expire_cycle(100), 0);

    /* bounded: two at a time, oldest first */
    srv.cmd_time_ms = NOW + 4;
    assert_int_equal(db_expire_cycle(2), 2);
    assert_int_equal(has_meta("e1"), 0);
    assert_int_equal(has_meta("e2"), 0);
    assert_int_equal(has_meta("e3"), 1);
    commit();
    assert_int_equal(db_expire_cycle(100), 2);
    assert_int_equal(has_meta("e3"), 0);
    assert_int_equal(has_meta("eh"), 0);
    assert_int_equal(has_gc_entry(hv, NULL), 1);
    assert_int_equal(has_meta("late"), 1);
    assert_int_equal(has_meta("never"), 1);
    assert_int_equal(db_key_count(), 2);
    assert_int_equal(db_expire_count(), 1);
    assert_int_equal(count_expire_entries(), 1);
    assert_int_equal(srv.stats.expired_keys, 4);

    /* a stale entry (the key's expire moved) is dropped, the key kept */
    buf k;
    buf_init(&k);
    enc_expire_key(&k, NOW + 3, "late", 4);
    store_put(srv.st, k.data, k.len, "\0\0\0\0\0\0\0\0", 8);
    enc_expire_key(&k, NOW + 3, "gone", 4);
    store_put(srv.st, k.data, k.len, "\0\0\0\0\0\0\0\0", 8);
    commit();
    assert_int_equal(db_expire_cycle(100), 0);
    assert_int_equal(has_expire_entry(NOW + 3, "late", NULL), 0);
    assert_int_equal(has_expire_entry(NOW + 3, "gone", NULL), 0);
    assert_int_equal(has_meta("late"), 1);
    assert_int_equal(db_lookup("late", 4, &m), T_STRING);
    assert_int_equal(db_key_count(), 2);
    buf_free(&k);

    /* later: the remaining key goes too */
    srv.cmd_time_ms = NOW + 5000;
    assert_int_equal(db_expire_cycle(100), 1);
    assert_int_equal(has_meta("late"), 0);
    assert_int_equal(db_key_count(), 1);
    assert_int_equal(db_expire_count(), 0);
    meta_free(&m);
}

static void test_gc_cycle(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    uint64_t dead = make_coll("dead", T_ZSET, 50, 0);
    uint64_t live = make_coll("live", T_ZSET, 7, 0);
    commit();
    assert_int_equal(count_subkeys('D', dead), 50);
    assert_int_equal(count_subkeys('Z', dead), 50);
    assert_int_equal(db_gc_cycle(100), 0); /* nothing queued */

    assert_int_equal(db_lookup("dead", 4, &m), T_ZSET);
    db_delete("dead", 4, &m);
    commit();
    assert_int_equal(db_gc_pending(), 1);

    /* bounded batches, committed in between as the server does */
    int total = 0, rounds = 0, r;
    while ((r = db_gc_cycle(13)) > 0) {
        assert_true(r <= 13);
        total += r;
        rounds++;
        commit();
        assert_true(rounds < 100);
    }
    assert_int_equal(total, 50 + 50 + 1); /* subkeys + the entry itself */
    assert_true(rounds >= 8);
    assert_int_equal(count_subkeys('D', dead), 0);
    assert_int_equal(count_subkeys('Z', dead), 0);
    assert_int_equal(has_gc_entry(dead, NULL), 0);
    assert_int_equal(db_gc_pending(), 0);
    /* the neighbouring live collection is untouched */
    assert_int_equal(count_subkeys('D', live), 7);
    assert_int_equal(count_subkeys('Z', live), 7);

    /* several queued collections, pending (uncommitted) deletes included */
    uint64_t v[3];
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "c%d", i);
        v[i] = make_coll(key, T_HASH, 5 + i, 0);
        assert_int_equal(db_lookup(key, 2, &m), T_HASH);
        db_delete(key, 2, &m);
    }
    assert_int_equal(db_gc_pending(), 3);
    assert_int_equal(db_gc_cycle(1000), 5 + 6 + 7 + 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(count_subkeys('D', v[i]), 0);
        assert_int_equal(has_gc_entry(v[i], NULL), 0);
    }
    assert_int_equal(db_gc_pending(), 0);
    assert_int_equal(count_subkeys('D', live), 7);
    commit();
    meta_free(&m);
}

/* Chunked strings (strchunk.h): a value over STR_INLINE_MAX is a meta
 * record plus chunks; absent chunks read as zeros; scans report gaps;
 * writes touch only their chunks; DEL queues the chunks for the GC. */
struct scan_log {
    size_t bytes, gap_bytes, zero_runs;
    unsigned long sum;
};

static int scan_piece(void *arg, size_t pos, const unsigned char *p, size_t n)
{
    struct scan_log *l = arg;
    (void)pos;
    l->bytes += n;
    if (!p) {
        l->gap_bytes += n;
        l->zero_runs++;
        return 0;
    }
    for (size_t i = 0; i < n; i++) l->sum += p[i];
    return 0;
}

static void test_chunked_strings(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    size_t n = 3 * STR_CHUNK_SIZE + 123;
    char *v = malloc(n), *out = malloc(n);
    for (size_t i = 0; i < n; i++) v[i] = (char)(i * 31 + 7);
    assert_int_equal(db_lookup("s", 1, &m), T_NONE);
    db_set_string("s", 1, v, n, 0, &m);
    commit();
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);
    assert_true(m.chunked);
    assert_null(m.sval);
    assert_int_equal(m.slen, n);
    uint64_t ver = m.version;
    assert_int_equal(count_subkeys('D', ver), 4);
    /* reads inside and across chunk boundaries */
    assert_int_equal(strchunk_read(&m, 0, n, out), 0);
    assert_memory_equal(out, v, n);
    assert_int_equal(strchunk_read(&m, STR_CHUNK_SIZE - 3, 7, out), 0);
    assert_memory_equal(out, v + STR_CHUNK_SIZE - 3, 7);

    /* a write far past the end: the gap's chunks are not stored */
    size_t far = 10 * STR_CHUNK_SIZE + 5;
    assert_int_equal(strchunk_write_at("s", 1, &m, far, "xyz", 3), 0);
    commit();
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);
    assert_int_equal(m.slen, far + 3);
    assert_int_equal(m.version, ver); /* written in place */
    assert_int_equal(count_subkeys('D', ver), 5);
    char gap[16];
    assert_int_equal(strchunk_read(&m, 5 * STR_CHUNK_SIZE, 16, gap), 0);
    for (int i = 0; i < 16; i++) assert_int_equal(gap[i], 0);
    assert_int_equal(strchunk_read(&m, far - 1, 4, gap), 0);
    assert_memory_equal(gap, "\0xyz", 4);
    struct scan_log l = {0, 0, 0, 0};
    assert_int_equal(strchunk_scan(&m, 0, m.slen, scan_piece, &l), 0);
    assert_int_equal(l.bytes, m.slen);
    assert_true(l.gap_bytes >= 6 * STR_CHUNK_SIZE);
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++) sum += (unsigned char)v[i];
    assert_int_equal(l.sum, sum + 'x' + 'y' + 'z');

    /* growing with zeros writes no chunk */
    assert_int_equal(strchunk_write_at("s", 1, &m, m.slen, NULL, 1000), 0);
    commit();
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);
    assert_int_equal(m.slen, far + 3 + 1000);
    assert_int_equal(count_subkeys('D', ver), 5);

    /* an inline string grows past the threshold and becomes chunked */
    assert_int_equal(db_lookup("t", 1, &m), T_NONE);
    db_set_string("t", 1, "abc", 3, 0, &m);
    assert_int_equal(db_lookup("t", 1, &m), T_STRING);
    assert_false(m.chunked);
    assert_int_equal(strchunk_write_at("t", 1, &m, STR_INLINE_MAX, "!", 1), 0);
    commit();
    assert_int_equal(db_lookup("t", 1, &m), T_STRING);
    assert_true(m.chunked);
    assert_int_equal(m.slen, STR_INLINE_MAX + 1);
    assert_int_equal(strchunk_read(&m, 0, 3, gap), 0);
    assert_memory_equal(gap, "abc", 3);
    /* and back inline by a SET: the chunks go to the GC */
    uint64_t tver = m.version;
    db_set_string("t", 1, "small", 5, 0, &m);
    commit();
    assert_int_equal(db_lookup("t", 1, &m), T_STRING);
    assert_false(m.chunked);
    assert_int_equal(db_gc_pending(), 1);

    /* DEL is O(1): one 'G' entry, the GC removes the chunks */
    assert_int_equal(db_lookup("s", 1, &m), T_STRING);
    db_delete("s", 1, &m);
    commit();
    assert_int_equal(db_lookup("s", 1, &m), T_NONE);
    assert_int_equal(db_gc_pending(), 2);
    while (db_gc_cycle(3) > 0) commit();
    assert_int_equal(count_subkeys('D', ver), 0);
    assert_int_equal(count_subkeys('D', tver), 0);
    assert_int_equal(db_gc_pending(), 0);
    free(v);
    free(out);
    meta_free(&m);
}

int main(void)
{
    const char *env = getenv("STRATA_SEED");
    seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)now_us();
    printf("test_node_db: seed %u (STRATA_SEED=%u replays it)\n", seed, seed);
    srandom(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_key),
        cmocka_unit_test(test_sub_keys),
        cmocka_unit_test(test_key_orders),
        cmocka_unit_test(test_prefix_end),
        cmocka_unit_test(test_scores_sortable),
        cmocka_unit_test_setup_teardown(test_lookup_absent_and_strings, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_expiry, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_meta, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_collections_and_delete, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_set_expire, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_move, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_expire_cycle, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_gc_cycle, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_chunked_strings, store_setup, store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
