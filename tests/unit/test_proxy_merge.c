/* Unit tests for proxy/merge.c: merging the replies of split commands and
 * the SCAN cursor that walks groups; the SCRIPT/FUNCTION merges and the
 * proxy's script cache (proxy/script.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "merge.h"
#include "resp.h"
#include "script.h"

static buf mk(const char *s)
{
    buf b;
    buf_init(&b);
    buf_append_str(&b, s);
    return b;
}

static void free_all(buf *b, int n)
{
    for (int i = 0; i < n; i++) buf_free(&b[i]);
}

static void expect_out(buf *out, const char *want)
{
    buf_append_char(out, '\0');
    assert_string_equal(out->data, want);
    buf_free(out);
}

static void test_mget_order(void **state)
{
    /* keys k0..k4: fragments 0,1,0,1,0 */
    buf r[2] = { mk("*3\r\n$2\r\na0\r\n$-1\r\n$2\r\na4\r\n"), mk("*2\r\n$2\r\nb1\r\n$0\r\n\r\n") };
    int keyfrag[5] = { 0, 1, 0, 1, 0 };
    buf out;
    buf_init(&out);
    merge_mget(&out, RESP2, r, 2, keyfrag, 5);
    expect_out(&out, "*5\r\n$2\r\na0\r\n$2\r\nb1\r\n$-1\r\n$0\r\n\r\n$2\r\na4\r\n");
    free_all(r, 2);
}

static void test_mget_error_wins(void **state)
{
    buf r[2] = { mk("*1\r\n$1\r\nx\r\n"), mk("-ERR backend g2: timeout\r\n") };
    int keyfrag[2] = { 0, 1 };
    buf out;
    buf_init(&out);
    merge_mget(&out, RESP2, r, 2, keyfrag, 2);
    expect_out(&out, "-ERR backend g2: timeout\r\n");
    free_all(r, 2);
}

static void test_sum(void **state)
{
    buf r[3] = { mk(":2\r\n"), mk(":0\r\n"), mk(":5\r\n") };
    buf out;
    buf_init(&out);
    merge_sum(&out, r, 3);
    expect_out(&out, ":7\r\n");
    buf_free(&r[1]);
    r[1] = mk("+OK\r\n");
    buf_init(&out);
    merge_sum(&out, r, 3);
    expect_out(&out, "-ERR unexpected reply type from backend\r\n");
    free_all(r, 3);
}

static void test_all_ok(void **state)
{
    buf r[2] = { mk("+OK\r\n"), mk("+OK\r\n") };
    buf out;
    buf_init(&out);
    merge_all_ok(&out, r, 2);
    expect_out(&out, "+OK\r\n");
    buf_free(&r[0]);
    r[0] = mk("-READONLY You can't write against a read only replica.\r\n");
    buf_init(&out);
    merge_all_ok(&out, r, 2);
    expect_out(&out, "-READONLY You can't write against a read only replica.\r\n");
    free_all(r, 2);
}

static void test_concat_and_random(void **state)
{
    buf r[2] = { mk("*1\r\n$1\r\na\r\n"), mk("*2\r\n$1\r\nb\r\n$1\r\nc\r\n") };
    buf out;
    buf_init(&out);
    merge_concat(&out, r, 2);
    expect_out(&out, "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    free_all(r, 2);

    buf n[3] = { mk("$-1\r\n"), mk("$3\r\nkey\r\n"), mk("$-1\r\n") };
    for (unsigned rnd = 0; rnd < 5; rnd++) {
        buf_init(&out);
        merge_random(&out, RESP2, n, 3, rnd);
        expect_out(&out, "$3\r\nkey\r\n");
    }
    buf_free(&n[1]);
    n[1] = mk("$-1\r\n");
    buf_init(&out);
    merge_random(&out, RESP2, n, 3, 1);
    expect_out(&out, "$-1\r\n");
    free_all(n, 3);
}

static void test_scan_cursor(void **state)
{
    int g;
    unsigned long long c;
    assert_int_equal(merge_scan_decode("0", 1, 3, &g, &c), 0);
    assert_int_equal(g, 0);
    assert_int_equal(c, 0);
    assert_int_equal(merge_scan_decode("14", 2, 3, &g, &c), 0);
    assert_int_equal(g, 2);
    assert_int_equal(c, 4);
    assert_int_equal(merge_scan_decode("x", 1, 3, &g, &c), -1);
    assert_int_equal(merge_scan_decode("-1", 2, 3, &g, &c), -1);

    /* group 1 of 3 says cursor 5: the proxy's cursor is 5*3+1 = 16 */
    buf r = mk("*2\r\n$1\r\n5\r\n*1\r\n$1\r\nk\r\n");
    buf out;
    buf_init(&out);
    merge_scan(&out, &r, 1, 3);
    expect_out(&out, "*2\r\n$2\r\n16\r\n*1\r\n$1\r\nk\r\n");
    buf_free(&r);
    /* group 1 finished: continue with group 2 at cursor 0 -> "2" */
    r = mk("*2\r\n$1\r\n0\r\n*0\r\n");
    buf_init(&out);
    merge_scan(&out, &r, 1, 3);
    expect_out(&out, "*2\r\n$1\r\n2\r\n*0\r\n");
    /* the last group finished: 0 */
    buf_init(&out);
    merge_scan(&out, &r, 2, 3);
    expect_out(&out, "*2\r\n$1\r\n0\r\n*0\r\n");
    buf_free(&r);
    /* a cursor that does not fit once the group is folded in */
    r = mk("*2\r\n$20\r\n18446744073709551615\r\n*0\r\n");
    buf_init(&out);
    merge_scan(&out, &r, 1, 3);
    expect_out(&out, "-ERR backend cursor too large for the proxy\r\n");
    buf_free(&r);
}

static void test_add_cmd_and_first_string(void **state)
{
    char *argv[2] = { "GET", "a b" };
    size_t lens[2] = { 3, 3 };
    buf out;
    buf_init(&out);
    merge_add_cmd(&out, 2, argv, lens);
    expect_out(&out, "*2\r\n$3\r\nGET\r\n$3\r\na b\r\n");
    char role[16];
    const char *rep = "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
    merge_first_string(rep, strlen(rep), role, sizeof role);
    assert_string_equal(role, "master");
    merge_first_string("-ERR x\r\n", 8, role, sizeof role);
    assert_string_equal(role, "");
    merge_first_string("*1\r\n$5\r\nsla", 11, role, sizeof role); /* truncated */
    assert_string_equal(role, "");
}

/* RESP3: elements are copied as the backends wrote them (nulls as _,
 * doubles, maps), the proxy's own nil is _, INFO is a verbatim string. */
static void test_resp3_merges(void **state)
{
    buf r[2] = { mk("*2\r\n_\r\n$1\r\na\r\n"), mk("*1\r\n%1\r\n$1\r\nf\r\n,1.5\r\n") };
    int keyfrag[4] = { 0, 1, 0, 1 };
    buf out;
    buf_init(&out);
    merge_mget(&out, RESP3, r, 2, keyfrag, 4);
    /* the fourth key has no element in its fragment's reply: a RESP3 nil */
    expect_out(&out, "*4\r\n_\r\n%1\r\n$1\r\nf\r\n,1.5\r\n$1\r\na\r\n_\r\n");
    free_all(r, 2);

    buf n[2] = { mk("_\r\n"), mk("_\r\n") };
    buf_init(&out);
    merge_random(&out, RESP3, n, 2, 7);
    expect_out(&out, "_\r\n");
    free_all(n, 2);

    buf k[2] = { mk("*1\r\n$1\r\nx\r\n"), mk("~2\r\n$1\r\ny\r\n$1\r\nz\r\n") };
    buf_init(&out);
    merge_concat(&out, k, 2);
    expect_out(&out, "*3\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n");
    free_all(k, 2);

    buf e[2] = { mk(":1\r\n"), mk("!5\r\nERR x\r\n") };
    buf_init(&out);
    merge_sum(&out, e, 2);
    expect_out(&out, "!5\r\nERR x\r\n");
    free_all(e, 2);

    buf i[2] = { mk("=38\r\ntxt:# Keyspace\r\ndb0:keys=2,expires=1\r\n\r\n"),
                 mk("$34\r\n# Keyspace\r\ndb0:keys=3,expires=0\r\n\r\n") };
    buf_init(&out);
    merge_info(&out, RESP3, "# Server", 8, i, 2);
    expect_out(&out, "=58\r\ntxt:# Server\r\n# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0\r\n\r\n");
    buf_init(&out);
    merge_info(&out, RESP2, "# Server", 8, i, 2);
    expect_out(&out, "$54\r\n# Server\r\n# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0\r\n\r\n");
    free_all(i, 2);

    /* a truncated reply is malformed, not read past its end */
    buf t[1] = { mk("*2\r\n$1\r\na\r\n") };
    int kf[2] = { 0, 0 };
    buf_init(&out);
    merge_mget(&out, RESP3, t, 1, kf, 2);
    expect_out(&out, "-ERR malformed reply from backend\r\n");
    free_all(t, 1);
}

static void test_script_load_same(void **state)
{
    const char *sha = "$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n";
    buf r[2] = { mk(sha), mk(sha) };
    buf out;
    buf_init(&out);
    merge_same(&out, r, 2);
    expect_out(&out, sha);
    buf_free(&r[1]);
    r[1] = mk("-ERR backend g2: connection refused\r\n");
    buf_init(&out);
    merge_same(&out, r, 2);
    expect_out(&out, "-ERR backend g2: connection refused\r\n");
    free_all(r, 2);
}

static void test_function_identical(void **state)
{
    const char *names[2] = { "g1", "g2" };
    char div[300];
    buf r[2] = { mk("$5\r\nmylib\r\n"), mk("$5\r\nmylib\r\n") };
    buf out;
    buf_init(&out);
    assert_int_equal(merge_identical(&out, r, 2, "FUNCTION LOAD", names, div, sizeof div), 0);
    expect_out(&out, "$5\r\nmylib\r\n");
    /* the same error everywhere is passed on */
    buf e[2] = { mk("-ERR Library 'mylib' already exists\r\n"),
                 mk("-ERR Library 'mylib' already exists\r\n") };
    buf_init(&out);
    assert_int_equal(merge_identical(&out, e, 2, "FUNCTION LOAD", names, div, sizeof div), 0);
    expect_out(&out, "-ERR Library 'mylib' already exists\r\n");
    /* divergence names every group */
    buf_free(&r[1]);
    r[1] = mk("-ERR Library 'mylib' already exists\r\n");
    buf_init(&out);
    assert_int_equal(merge_identical(&out, r, 2, "FUNCTION LOAD", names, div, sizeof div), -1);
    expect_out(&out, "-ERR strata-proxy: FUNCTION LOAD diverged across groups: g1 replied "
                     "'mylib', g2 replied 'ERR Library 'mylib' already exists'\r\n");
    assert_string_equal(div, "g1 replied 'mylib', g2 replied 'ERR Library 'mylib' already exists'");
    free_all(r, 2);
    free_all(e, 2);
}

static void test_script_exists_and(void **state)
{
    buf r[2] = { mk("*3\r\n:1\r\n:1\r\n:0\r\n"), mk("*3\r\n:1\r\n:0\r\n:0\r\n") };
    buf out;
    buf_init(&out);
    merge_exists_and(&out, r, 2);
    expect_out(&out, "*3\r\n:1\r\n:0\r\n:0\r\n");
    buf_free(&r[1]);
    r[1] = mk("*2\r\n:1\r\n:1\r\n");   /* a different count: not the same request */
    buf_init(&out);
    merge_exists_and(&out, r, 2);
    expect_out(&out, "-ERR unexpected reply type from backend\r\n");
    free_all(r, 2);
}

static void test_script_kill(void **state)
{
    const char *notbusy = "-NOTBUSY No scripts in execution right now.\r\n";
    const char *unkill = "-UNKILLABLE Sorry the script already executed write commands.\r\n";
    buf r[3] = { mk(notbusy), mk("+OK\r\n"), mk(unkill) };
    buf out;
    buf_init(&out);
    merge_kill(&out, r, 3);
    expect_out(&out, "+OK\r\n");
    buf_free(&r[1]);
    r[1] = mk("-ERR backend g2: timeout\r\n");
    buf_init(&out);
    merge_kill(&out, r, 3);
    expect_out(&out, unkill);
    buf_free(&r[2]);
    r[2] = mk(notbusy);
    buf_init(&out);
    merge_kill(&out, r, 3);
    expect_out(&out, notbusy);
    free_all(r, 3);
}

static void test_script_cache(void **state)
{
    char sha[41];
    buf b;
    buf_init(&b);
    script_cache_clear();
    script_cache_put("return 1", 8, sha);
    assert_string_equal(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    assert_int_equal(script_cache_get("E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", 40, &b), 1);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "return 1", 8);
    assert_int_equal(script_cache_get(sha, 39, &b), 0);
    assert_int_equal(script_cache_get("0000000000000000000000000000000000000000", 40, &b), 0);
    script_cache_put("return 1", 8, NULL);   /* once only */
    assert_int_equal(script_cache_count(), 1);
    /* bounded: the oldest go first */
    char body[32];
    for (int i = 0; i < SCRIPT_CACHE_MAX + 10; i++) {
        int n = snprintf(body, sizeof body, "return %d", i + 2);
        script_cache_put(body, (size_t)n, NULL);
    }
    assert_int_equal(script_cache_count(), SCRIPT_CACHE_MAX);
    buf_clear(&b);
    assert_int_equal(script_cache_get(sha, 40, &b), 0);
    /* per-link sets, emptied by a flush */
    struct script_set *set = NULL;
    assert_int_equal(script_set_has(set, sha), 0);
    for (int i = 0; i < 100; i++) {
        char s[41];
        int n = snprintf(body, sizeof body, "return %d", i);
        script_sha(body, (size_t)n, s);
        script_set_add(&set, s);
    }
    script_set_add(&set, sha);
    assert_int_equal(script_set_has(set, sha), 1);
    assert_int_equal(script_set_has(set, "0000000000000000000000000000000000000000"), 0);
    script_cache_clear();
    assert_int_equal(script_cache_count(), 0);
    assert_int_equal(script_set_has(set, sha), 0);
    script_set_add(&set, sha);
    assert_int_equal(script_set_has(set, sha), 1);
    script_set_clear(set);
    assert_int_equal(script_set_has(set, sha), 0);
    script_set_free(set);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mget_order),
        cmocka_unit_test(test_mget_error_wins),
        cmocka_unit_test(test_sum),
        cmocka_unit_test(test_all_ok),
        cmocka_unit_test(test_concat_and_random),
        cmocka_unit_test(test_scan_cursor),
        cmocka_unit_test(test_add_cmd_and_first_string),
        cmocka_unit_test(test_resp3_merges),
        cmocka_unit_test(test_script_load_same),
        cmocka_unit_test(test_function_identical),
        cmocka_unit_test(test_script_exists_and),
        cmocka_unit_test(test_script_kill),
        cmocka_unit_test(test_script_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
