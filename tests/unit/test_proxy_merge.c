/* Unit tests for proxy/merge.c: merging the replies of split commands and
 * the SCAN cursor that walks groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "merge.h"
#include "resp.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
