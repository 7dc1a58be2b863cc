/* test_node_slots: node/cluster/slots.h — parsing STRATA SETSLOTS's
 * arguments into the stored table and its errors, decoding (every
 * truncation and corruption of a valid value is refused), and against a
 * real store: no table owns everything, a table in "Rslots" (pending or
 * committed) is in force at once, hash tags, the command check (OK, MOVED,
 * CROSSSLOT), the MOVED text, the script helper, and the count of keys in
 * unowned slots kept by db.c's creates and deletes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmdtable.h"
#include "db.h"
#include "server.h"
#include "slot.h"
#include "slots.h"
#include "store.h"

static char tmpdir[256];

static int store_setup(void **state)
{
    (void)state;
    static int n;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_node_slots.%d.%d", (int)getpid(), n++);
    struct store_opts o = { 1 << 20, 1 << 20, 100, 0, 0, 16 };
    char *err = NULL;
    srv.st = store_open(tmpdir, &o, &err);
    if (!srv.st) fprintf(stderr, "store_open: %s\n", err);
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
    db_invalidate_counters();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Parse words (NULL-terminated) into out; returns 0/-1 and the error. */
static int parse(buf *out, char *err, size_t errlen, ...)
{
    char *argv[64];
    size_t lens[64];
    int argc = 0;
    va_list ap;
    va_start(ap, errlen);
    for (char *w; (w = va_arg(ap, char *)) != NULL;) {
        argv[argc] = w;
        lens[argc++] = strlen(w);
    }
    va_end(ap);
    err[0] = '\0';
    return cluster_table_parse(argc, argv, lens, out, err, errlen);
}

/* Store a table the way STRATA SETSLOTS does (a pending write). */
static void set_table(const buf *v)
{
    store_put(srv.st, "Rslots", 6, v->data, v->len);
    cluster_invalidate();
}

/* A key whose slot is in [lo, hi]. */
static void key_in(char *out, size_t size, unsigned lo, unsigned hi)
{
    for (int i = 0;; i++) {
        snprintf(out, size, "key:%d", i);
        unsigned s = slot_of_key(out, strlen(out));
        if (s >= lo && s <= hi) return;
    }
}

static void test_parse_and_decode(void **state)
{
    (void)state;
    buf v;
    char err[256];
    struct cluster_table t;
    buf_init(&v);
    assert_int_equal(parse(&v, err, sizeof err, "g2", "7", "g1", "0-99,200-299", "g2", "100-199,300-16383",
                           NULL), 0);
    assert_int_equal(cluster_table_decode(v.data, v.len, &t), 0);
    assert_string_equal(t.self, "g2");
    assert_int_equal(t.nranges, 4);
    unsigned want[4][2] = { { 0, 99 }, { 100, 199 }, { 200, 299 }, { 300, 16383 } };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t.ranges[i].first, want[i][0]);
        assert_int_equal(t.ranges[i].last, want[i][1]);
        assert_string_equal(t.ranges[i].group, i % 2 ? "g2" : "g1");
        assert_int_equal(t.ranges[i].epoch, 7);
    }
    cluster_table_free(&t);
    /* The most fragmented table: every slot its own range. */
    buf even, odd;
    buf_init(&even);
    buf_init(&odd);
    for (int sl = 0; sl < SLOT_COUNT; sl++) buf_printf(sl % 2 ? &odd : &even, "%s%d", sl < 2 ? "" : ",", sl);
    buf_append(&even, "", 1);
    buf_append(&odd, "", 1);
    assert_int_equal(parse(&v, err, sizeof err, "e", "2", "e", even.data, "o", odd.data, NULL), 0);
    assert_int_equal(cluster_table_decode(v.data, v.len, &t), 0);
    assert_int_equal(t.nranges, SLOT_COUNT);
    assert_string_equal(t.ranges[16383].group, "o");
    cluster_table_free(&t);
    buf_free(&even);
    buf_free(&odd);
    /* Adjacent ranges of one group are one range. */
    assert_int_equal(parse(&v, err, sizeof err, "a", "1", "a", "0-10,11-16383", NULL), 0);
    assert_int_equal(cluster_table_decode(v.data, v.len, &t), 0);
    assert_int_equal(t.nranges, 1);
    cluster_table_free(&t);
    buf_free(&v);
}

static void test_parse_errors(void **state)
{
    (void)state;
    buf v;
    char err[256];
    buf_init(&v);
    static const struct {
        const char *words[8];
        const char *needle;
    } cases[] = {
        { { "g1", "1", "g1", "0-100" }, "slot 101 is not assigned" },
        { { "g1", "1", "g1", "0-9000", "g2", "9000-16383" }, "slot 9000 is assigned to more than one" },
        { { "g3", "1", "g1", "0-8191", "g2", "8192-16383" }, "'g3' is not among" },
        { { "g1", "1", "g1", "0-8191", "g1", "8192-16383" }, "given twice" },
        { { "g1", "0", "g1", "0-16383" }, "invalid epoch" },
        { { "g1", "x", "g1", "0-16383" }, "invalid epoch" },
        { { "g1", "1", "g1", "0-16384" }, "slots of 'g1'" },
        { { "g1", "1", "g1", "5-1" }, "slots of 'g1'" },
        { { "g:1", "1", "g:1", "0-16383" }, "invalid group name" },
        { { "g1", "1", "g1" }, "syntax error" },
        { { "g1", "1" }, "syntax error" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[8];
        size_t lens[8];
        int argc = 0;
        for (; argc < 8 && cases[i].words[argc]; argc++) {
            argv[argc] = (char *)cases[i].words[argc];
            lens[argc] = strlen(argv[argc]);
        }
        buf_clear(&v);
        err[0] = '\0';
        assert_int_equal(cluster_table_parse(argc, argv, lens, &v, err, sizeof err), -1);
        if (!strstr(err, cases[i].needle)) fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
        assert_int_equal(strncmp(err, "ERR ", 4), 0);
    }
    buf_free(&v);
}

static void test_decode_refuses_damage(void **state)
{
    (void)state;
    buf v;
    char err[256];
    struct cluster_table t;
    buf_init(&v);
    assert_int_equal(parse(&v, err, sizeof err, "g1", "3", "g1", "0-8191", "g2", "8192-16383", NULL), 0);
    for (size_t n = 0; n < v.len; n++) {
        assert_int_equal(cluster_table_decode(v.data, n, &t), -1);
        assert_null(t.ranges);
    }
    /* Every single-byte change of the structure is either refused or
     * still a complete table (a changed name or epoch byte). */
    for (size_t i = 0; i < v.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            v.data[i] ^= (char)(1 << bit);
            if (cluster_table_decode(v.data, v.len, &t) == 0) {
                unsigned next = 0;
                for (int r = 0; r < t.nranges; r++) {
                    assert_int_equal(t.ranges[r].first, next);
                    next = t.ranges[r].last + 1;
                }
                assert_int_equal(next, SLOT_COUNT);
                cluster_table_free(&t);
            }
            v.data[i] ^= (char)(1 << bit);
        }
    }
    v.data[0] = 2; /* unknown version */
    assert_int_equal(cluster_table_decode(v.data, v.len, &t), -1);
    buf_free(&v);
}

static void test_ownership_and_checks(void **state)
{
    (void)state;
    buf v, out;
    char err[256], mine[32], other[32], mine2[32];
    buf_init(&v);
    buf_init(&out);
    /* No table: everything is owned. */
    assert_int_equal(cluster_has_table(), 0);
    assert_null(cluster_self());
    for (unsigned s = 0; s < SLOT_COUNT; s += 997) assert_int_equal(cluster_owns_slot(s), 1);
    const struct cmd_spec *get = cmd_lookup("get", 3), *mget = cmd_lookup("mget", 4);
    char *a1[] = { "get", "x" };
    size_t l1[] = { 3, 1 };
    unsigned slot = 99999;
    assert_int_equal(cluster_check_argv(get, 2, a1, l1, &slot), CLUSTER_OK);

    assert_int_equal(parse(&v, err, sizeof err, "g1", "5", "g1", "0-8191", "g2", "8192-16383", NULL), 0);
    set_table(&v); /* pending, not committed: in force already */
    assert_int_equal(cluster_has_table(), 1);
    assert_string_equal(cluster_self(), "g1");
    assert_int_equal(cluster_owns_slot(0), 1);
    assert_int_equal(cluster_owns_slot(8191), 1);
    assert_int_equal(cluster_owns_slot(8192), 0);
    assert_int_equal(cluster_owns_slot(16383), 0);
    assert_int_equal(cluster_owns_slot(16384), 0);
    key_in(mine, sizeof mine, 0, 8191);
    key_in(other, sizeof other, 8192, 16383);
    assert_int_equal(cluster_owns_key(mine, strlen(mine)), 1);
    assert_int_equal(cluster_owns_key(other, strlen(other)), 0);
    /* Hash tags: only the tag counts. */
    char tagged[64];
    snprintf(tagged, sizeof tagged, "zzz{%s}yyy", other);
    assert_int_equal(cluster_owns_key(tagged, strlen(tagged)), 0);
    snprintf(tagged, sizeof tagged, "{%s}", mine);
    assert_int_equal(cluster_owns_key(tagged, strlen(tagged)), 1);
    assert_int_equal(store_commit(srv.st, 0, NULL), 0);
    cluster_invalidate();
    assert_int_equal(cluster_owns_key(other, strlen(other)), 0);

    /* The command check. */
    char *g_other[] = { "get", other };
    size_t gl_other[] = { 3, strlen(other) };
    assert_int_equal(cluster_check_argv(get, 2, g_other, gl_other, &slot), CLUSTER_MOVED);
    assert_int_equal(slot, slot_of_key(other, strlen(other)));
    cluster_add_moved(&out, slot);
    char want[64];
    snprintf(want, sizeof want, "-MOVED %u g2:5\r\n", slot);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    key_in(mine2, sizeof mine2, 4000, 8191);
    char *m_own[] = { "mget", mine, mine2 };
    size_t ml_own[] = { 4, strlen(mine), strlen(mine2) };
    assert_int_equal(cluster_check_argv(mget, 3, m_own, ml_own, &slot), CLUSTER_OK);
    char *m_mix[] = { "mget", mine, other };
    size_t ml_mix[] = { 4, strlen(mine), strlen(other) };
    assert_int_equal(cluster_check_argv(mget, 3, m_mix, ml_mix, &slot), CLUSTER_CROSSSLOT);
    /* Many keys (past the check's stack array), one of them unowned. */
    char *many[40];
    size_t manyl[40];
    many[0] = "mget";
    manyl[0] = 4;
    for (int i = 1; i < 40; i++) {
        many[i] = i == 37 ? other : mine;
        manyl[i] = strlen(many[i]);
    }
    assert_int_equal(cluster_check_argv(mget, 40, many, manyl, &slot), CLUSTER_CROSSSLOT);
    many[37] = mine;
    assert_int_equal(cluster_check_argv(mget, 40, many, manyl, &slot), CLUSTER_OK);

    /* The script helper: Redis Cluster's texts. */
    int ss = -1;
    assert_null(cluster_script_check_key(mine, strlen(mine), &ss, 0));
    assert_int_equal(ss, (int)slot_of_key(mine, strlen(mine)));
    assert_null(cluster_script_check_key(mine, strlen(mine), &ss, 0));
    assert_string_equal(cluster_script_check_key(other, strlen(other), &ss, 0),
                        "Script attempted to access a non local key in a cluster node");
    if (slot_of_key(mine2, strlen(mine2)) != slot_of_key(mine, strlen(mine))) {
        assert_string_equal(cluster_script_check_key(mine2, strlen(mine2), &ss, 0),
                            "Script attempted to access keys that do not hash to the same slot");
        assert_null(cluster_script_check_key(mine2, strlen(mine2), &ss, 1));
    }
    buf_free(&v);
    buf_free(&out);
}

static void test_unowned_count_and_rollback(void **state)
{
    (void)state;
    buf v;
    char err[256], mine[32], other[32];
    struct meta m;
    buf_init(&v);
    meta_init(&m);
    key_in(mine, sizeof mine, 0, 8191);
    key_in(other, sizeof other, 8192, 16383);
    /* Keys written before the table: one of them lands in g2's slots. */
    assert_int_equal(db_lookup(other, strlen(other), &m), T_NONE);
    db_set_string(other, strlen(other), "v", 1, 0, &m);
    assert_int_equal(store_commit(srv.st, 0, NULL), 0);
    assert_int_equal(cluster_unowned_keys(), 0); /* no table: nothing unowned */
    assert_int_equal(parse(&v, err, sizeof err, "g1", "1", "g1", "0-8191", "g2", "8192-16383", NULL), 0);
    set_table(&v);
    store_put(srv.st, "Rslotsx", 7, "\0\0\0\0\0\0\0\1", 8); /* what SETSLOTS counts */
    cluster_invalidate();
    assert_int_equal(cluster_unowned_keys(), 1);
    assert_int_equal(store_commit(srv.st, 0, NULL), 0);
    /* An owned key does not change it; deleting the unowned one does. */
    assert_int_equal(db_lookup(mine, strlen(mine), &m), T_NONE);
    db_set_string(mine, strlen(mine), "v", 1, 0, &m);
    assert_int_equal(cluster_unowned_keys(), 1);
    assert_int_equal(db_lookup(other, strlen(other), &m), T_STRING);
    db_delete(other, strlen(other), &m);
    assert_int_equal(cluster_unowned_keys(), 0);
    assert_int_equal(db_key_count(), 1);
    /* A rolled-back table is gone (the cache follows the store). */
    size_t mark = store_mark(srv.st);
    store_del(srv.st, "Rslots", 6);
    db_invalidate_counters();
    assert_int_equal(cluster_has_table(), 0);
    store_rollback(srv.st, mark);
    db_invalidate_counters();
    assert_int_equal(cluster_has_table(), 1);
    assert_int_equal(cluster_owns_key(other, strlen(other)), 0);
    meta_free(&m);
    buf_free(&v);
}

int main(void)
{
    cmd_table_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_decode),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_decode_refuses_damage),
        cmocka_unit_test_setup_teardown(test_ownership_and_checks, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_unowned_count_and_rollback, store_setup, store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
