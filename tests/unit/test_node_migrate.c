/* test_node_migrate: the pure pieces of slot migration
 * (node/cluster/migrate_codec.h): range parsing and printing, the version
 * map, the op-list encoding of chunks (and its refusal of every
 * truncation), the filter that keeps a WAL record's operations on the
 * moving slots (metas by slot, subkeys by version, expiry/GC/node state
 * dropped); and against a real store, the slot table rewrite a commit
 * makes (cluster_table_reassign) and the target's verbatim meta writes
 * (db_import_meta / db_import_delete keep the key counters right). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "db.h"
#include "migrate_codec.h"
#include "server.h"
#include "slot.h"
#include "slots.h"
#include "store.h"
#include "util.h"

/* A key whose slot is in [lo, hi]. */
static void key_in(char *out, size_t cap, unsigned lo, unsigned hi, int nth)
{
    for (int i = 0, found = 0;; i++) {
        snprintf(out, cap, "k%d", i);
        unsigned s = slot_of_key(out, strlen(out));
        if (s >= lo && s <= hi && found++ == nth) return;
    }
}

static void test_ranges(void **state)
{
    (void)state;
    struct mig_ranges r;
    char err[128];
    buf b;
    buf_init(&b);
    assert_int_equal(mig_ranges_parse(&r, "300-400,0-100,200", 17, err, sizeof err), 0);
    assert_int_equal(r.count, 101 + 1 + 101);
    assert_true(mig_ranges_has(&r, 0) && mig_ranges_has(&r, 100) && mig_ranges_has(&r, 200));
    assert_false(mig_ranges_has(&r, 101) || mig_ranges_has(&r, 401) || mig_ranges_has(&r, 16383));
    mig_ranges_format(&r, &b);
    assert_int_equal(b.len, strlen("0-100,200,300-400"));
    assert_memory_equal(b.data, "0-100,200,300-400", b.len);
    /* adjacent items print as one range */
    assert_int_equal(mig_ranges_parse(&r, "0-9,10-19", 9, err, sizeof err), 0);
    buf_clear(&b);
    mig_ranges_format(&r, &b);
    assert_memory_equal(b.data, "0-19", 4);
    assert_int_equal(mig_ranges_parse(&r, "0-16384", 7, err, sizeof err), -1);
    assert_int_equal(mig_ranges_parse(&r, "5-3", 3, err, sizeof err), -1);
    assert_int_equal(mig_ranges_parse(&r, "", 0, err, sizeof err), -1);
    assert_int_equal(mig_ranges_parse(&r, "a", 1, err, sizeof err), -1);
    buf_free(&b);
}

static void test_vmap(void **state)
{
    (void)state;
    struct mig_vmap m;
    uint64_t v;
    mig_vmap_init(&m);
    assert_int_equal(mig_vmap_get(&m, 5, &v), 0);
    for (uint64_t i = 1; i <= 50000; i++) mig_vmap_put(&m, i * 7919, i);
    assert_int_equal(m.n, 50000);
    for (uint64_t i = 1; i <= 50000; i++) {
        assert_int_equal(mig_vmap_get(&m, i * 7919, &v), 1);
        assert_int_equal(v, i);
    }
    assert_int_equal(mig_vmap_get(&m, 7920, &v), 0);
    mig_vmap_put(&m, 7919, 99); /* replace */
    assert_int_equal(m.n, 50000);
    assert_int_equal(mig_vmap_get(&m, 7919, &v), 1);
    assert_int_equal(v, 99);
    mig_vmap_put(&m, 0, 1); /* version 0 is never a collection's */
    assert_int_equal(mig_vmap_get(&m, 0, &v), 0);
    mig_vmap_free(&m);
}

static void test_ops_roundtrip_and_truncation(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    mig_ops_put(&b, "Mkey", 4, "value", 5);
    mig_ops_del(&b, "Dxxxxxxxxf", 10);
    mig_ops_put(&b, "", 0, "", 0);
    struct mig_op op;
    size_t pos = 0;
    assert_int_equal(mig_ops_next(b.data, b.len, &pos, &op), 1);
    assert_int_equal(op.op, 'P');
    assert_memory_equal(op.key, "Mkey", 4);
    assert_memory_equal(op.val, "value", 5);
    assert_int_equal(mig_ops_next(b.data, b.len, &pos, &op), 1);
    assert_int_equal(op.op, 'D');
    assert_int_equal(op.klen, 10);
    assert_int_equal(mig_ops_next(b.data, b.len, &pos, &op), 1);
    assert_int_equal(op.klen, 0);
    assert_int_equal(mig_ops_next(b.data, b.len, &pos, &op), 0);
    /* Every truncation inside an op is refused, never read past. */
    size_t ends[] = { 18, 18 + 15, b.len };
    for (size_t cut = 1; cut < b.len; cut++) {
        int boundary = 0;
        for (size_t i = 0; i < 3; i++) boundary |= cut == ends[i];
        char *copy = xmalloc(cut);
        memcpy(copy, b.data, cut);
        pos = 0;
        int rc;
        while ((rc = mig_ops_next(copy, cut, &pos, &op)) == 1) {}
        assert_int_equal(rc, boundary ? 0 : -1);
        free(copy);
    }
    char bad[] = { 'X', 0, 0, 0, 0 };
    pos = 0;
    assert_int_equal(mig_ops_next(bad, sizeof bad, &pos, &op), -1);
    buf_free(&b);
}

static void meta_coll(unsigned char *v, int type, uint64_t version, uint64_t count)
{
    memset(v, 0, 25);
    v[0] = (unsigned char)type;
    put_u64be(v + 9, version);
    put_u64be(v + 17, count);
}

static void subkey(unsigned char *k, char tag, uint64_t version, const char *rest)
{
    k[0] = (unsigned char)tag;
    put_u64be(k + 1, version);
    memcpy(k + 9, rest, strlen(rest));
}

static void test_meta_version(void **state)
{
    (void)state;
    unsigned char v[41];
    meta_coll(v, T_HASH, 77, 3);
    assert_int_equal(mig_meta_version((char *)v, 25), 77);
    meta_coll(v, T_STRING | STR_CHUNKED_FLAG, 78, 100000);
    assert_int_equal(mig_meta_version((char *)v, 25), 78);
    meta_coll(v, T_STRING, 79, 0); /* an inline string: bytes 9.. are its value */
    assert_int_equal(mig_meta_version((char *)v, 25), 0);
    meta_coll(v, T_ZSET, 80, 1);
    assert_int_equal(mig_meta_version((char *)v, 24), 0); /* short */
    unsigned char k[20];
    subkey(k, 'Z', 81, "ab");
    assert_int_equal(mig_subkey_version((char *)k, 11), 81);
    assert_int_equal(mig_subkey_version("Mabcdefghijk", 12), 0);
    assert_int_equal(mig_subkey_version("D123", 4), 0);
}

/* A WAL record's ops: a hash in the range (meta after its subkey, as a
 * command may write them), one outside, a subkey of a version seen in the
 * snapshot, expiry and GC entries, node state. */
static void test_filter(void **state)
{
    (void)state;
    struct mig_ranges r;
    char err[64];
    assert_int_equal(mig_ranges_parse(&r, "0-4095", 6, err, sizeof err), 0);
    char in[32], out_[32], mk_in[40], mk_out[40];
    key_in(in, sizeof in, 0, 4095, 0);
    key_in(out_, sizeof out_, 4096, 16383, 0);
    mk_in[0] = mk_out[0] = 'M';
    memcpy(mk_in + 1, in, strlen(in));
    memcpy(mk_out + 1, out_, strlen(out_));
    unsigned char v_in[25], v_out[25], sk[20];
    meta_coll(v_in, T_HASH, 1000, 1);
    meta_coll(v_out, T_HASH, 2000, 1);
    struct mig_vmap vs;
    mig_vmap_init(&vs);
    mig_vmap_put(&vs, 3000, 1); /* known from the snapshot walk */
    buf ops, out;
    buf_init(&ops);
    buf_init(&out);
    subkey(sk, 'D', 1000, "f");
    mig_ops_put(&ops, (char *)sk, 10, "v", 1);              /* kept: its meta comes later */
    mig_ops_put(&ops, mk_in, 1 + strlen(in), (char *)v_in, 25); /* kept */
    subkey(sk, 'D', 2000, "f");
    mig_ops_put(&ops, (char *)sk, 10, "v", 1);              /* dropped: other slot's version */
    mig_ops_put(&ops, mk_out, 1 + strlen(out_), (char *)v_out, 25); /* dropped */
    subkey(sk, 'Z', 3000, "xxxxxxxxm");
    mig_ops_del(&ops, (char *)sk, 18);                      /* kept: snapshot version */
    mig_ops_del(&ops, mk_in, 1 + strlen(in));               /* kept: delete in the range */
    subkey(sk, 'G', 1000, "");
    mig_ops_put(&ops, (char *)sk, 9, "\x02", 1);            /* dropped: T queues its own */
    mig_ops_put(&ops, "Ekkkkkkkk", 9, "", 0);               /* dropped */
    mig_ops_put(&ops, "Rkeys", 5, "12345678", 8);           /* dropped */
    long n = mig_filter_ops(ops.data, ops.len, &r, &vs, &out);
    assert_int_equal(n, 4);
    assert_int_equal(mig_vmap_get(&vs, 1000, NULL), 1);
    assert_int_equal(mig_vmap_get(&vs, 2000, NULL), 0);
    struct mig_op op;
    size_t pos = 0;
    char tags[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(mig_ops_next(out.data, out.len, &pos, &op), 1);
        tags[i] = op.key[0];
    }
    assert_memory_equal(tags, "DMZM", 4);
    assert_int_equal(mig_ops_next(out.data, out.len, &pos, &op), 0);
    /* Malformed input: refused. */
    buf_clear(&out);
    assert_int_equal(mig_filter_ops(ops.data, ops.len - 1, &r, &vs, &out), -1);
    buf_free(&ops);
    buf_free(&out);
    mig_vmap_free(&vs);
}

/* ---- against a store ---- */

static char tmpdir[256];

static int store_setup(void **state)
{
    (void)state;
    static int n;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_node_migrate.%d.%d", (int)getpid(), n++);
    struct store_opts o = { 1 << 20, 1 << 20, 100, 0, 0, 16 };
    char *err = NULL;
    srv.st = store_open(tmpdir, &o, &err);
    assert_non_null(srv.st);
    db_invalidate_counters();
    srv.cmd_time_ms = 1700000000000ULL;
    srv.is_replica = 0;
    return 0;
}

static int store_teardown(void **state)
{
    (void)state;
    store_close(srv.st);
    srv.st = NULL;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
    db_invalidate_counters();
    return 0;
}

static void set_table(const char *self)
{
    char *argv[] = { (char *)self, "1", "g1", "0-8191", "g2", "8192-16383" };
    size_t len[6];
    for (int i = 0; i < 6; i++) len[i] = strlen(argv[i]);
    buf v;
    char err[128];
    buf_init(&v);
    assert_int_equal(cluster_table_parse(6, argv, len, &v, err, sizeof err), 0);
    store_put(srv.st, "Rslots", 6, v.data, v.len);
    buf_free(&v);
    cluster_invalidate();
}

static void test_reassign(void **state)
{
    (void)state;
    set_table("g1");
    struct mig_ranges r;
    char err[64];
    assert_int_equal(mig_ranges_parse(&r, "0-4095", 6, err, sizeof err), 0);
    assert_true(cluster_owns_slot(0) && cluster_owns_slot(8191) && !cluster_owns_slot(8192));
    assert_int_equal(cluster_max_epoch(), 1);
    /* Give 0-4095 away at epoch 2, with 3 stored keys there. */
    assert_int_equal(cluster_table_reassign(r.bits, "g2", 2, 3), 0);
    assert_false(cluster_owns_slot(0) || cluster_owns_slot(4095));
    assert_true(cluster_owns_slot(4096) && cluster_owns_slot(8191));
    const struct cluster_range *cr = cluster_range_of(100);
    assert_string_equal(cr->group, "g2");
    assert_int_equal(cr->epoch, 2);
    assert_int_equal(cluster_range_of(5000)->epoch, 1);
    assert_string_equal(cluster_self(), "g1");
    assert_int_equal(cluster_unowned_keys(), 3);
    assert_int_equal(cluster_max_epoch(), 2);
    /* A new group name is added to the table. */
    assert_int_equal(mig_ranges_parse(&r, "5000", 4, err, sizeof err), 0);
    assert_int_equal(cluster_table_reassign(r.bits, "g3", 3, 0), 0);
    assert_string_equal(cluster_range_of(5000)->group, "g3");
    assert_string_equal(cluster_range_of(4999)->group, "g1");
    assert_string_equal(cluster_range_of(5001)->group, "g1");
    /* And taking slots back: the count of unowned keys goes down. */
    assert_int_equal(mig_ranges_parse(&r, "0-4095", 6, err, sizeof err), 0);
    assert_int_equal(cluster_table_reassign(r.bits, "g1", 4, -3), 0);
    assert_true(cluster_owns_slot(0));
    assert_int_equal(cluster_unowned_keys(), 0);
}

static void test_import_meta_counts(void **state)
{
    (void)state;
    set_table("g2"); /* 0-8191 not owned: imported keys are unowned */
    char k[32];
    key_in(k, sizeof k, 0, 4095, 0);
    unsigned char v[25];
    meta_coll(v, T_HASH, 500, 2);
    put_u64be(v + 1, 1700000999000ULL); /* an expire */
    unsigned long long keys0 = db_key_count(), exp0 = db_expire_count();
    assert_int_equal(db_import_meta(k, strlen(k), (char *)v, 25, 0), 1);
    assert_int_equal(db_key_count(), keys0 + 1);
    assert_int_equal(db_expire_count(), exp0 + 1);
    assert_int_equal(cluster_unowned_keys(), 1);
    assert_int_equal(cluster_key_count(), keys0);   /* DBSIZE leaves it out */
    struct meta m;
    meta_init(&m);
    assert_int_equal(db_lookup_raw(k, strlen(k), &m), T_HASH);
    assert_int_equal(m.version, 500);
    assert_int_equal(m.expire, 1700000999000ULL);
    /* Same key again (a later write): replaces, no new key. */
    meta_coll(v, T_HASH, 500, 3);
    assert_int_equal(db_import_meta(k, strlen(k), (char *)v, 25, 0), 0);
    assert_int_equal(db_key_count(), keys0 + 1);
    assert_int_equal(db_expire_count(), exp0); /* the new meta has no expire */
    unsigned long long gc0 = db_gc_pending();
    assert_int_equal(db_import_delete(k, strlen(k), 1), 1); /* a RENAME's delete: no GC entry */
    assert_int_equal(db_gc_pending(), gc0);
    assert_int_equal(db_key_count(), keys0);
    assert_int_equal(cluster_unowned_keys(), 0);
    assert_int_equal(db_import_delete(k, strlen(k), 0), 0);
    assert_int_equal(db_import_meta(k, strlen(k), (char *)v, 25, 0), 1);
    assert_int_equal(db_import_delete(k, strlen(k), 0), 1); /* a real delete queues its subkeys */
    assert_int_equal(db_gc_pending(), gc0 + 1);
    meta_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_vmap),
        cmocka_unit_test(test_ops_roundtrip_and_truncation),
        cmocka_unit_test(test_meta_version),
        cmocka_unit_test(test_filter),
        cmocka_unit_test_setup_teardown(test_reassign, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_import_meta_counts, store_setup, store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
