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
    merge_mget(&out, r, 2, keyfrag, 5);
    expect_out(&out, "*5\r\n$2\r\na0\r\n$2\r\nb1\r\n$-1\r\n$0\r\n\r\n$2\r\na4\r\n");
    free_all(r, 2);
}

static void test_mget_error_wins(void **state)
{
    buf r[2] = { mk("*1\r\n$1\r\nx\r\n"), mk("-ERR backend g2: timeout\r\n") };
    int keyfrag[2] = { 0, 1 };
    buf out;
    buf_init(&out);
    merge_mget(&out, r, 2, keyfrag, 2);
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
        merge_random(&out, n, 3, rnd);
        expect_out(&out, "$3\r\nkey\r\n");
    }
    buf_free(&n[1]);
    n[1] = mk("$-1\r\n");
    buf_init(&out);
    merge_random(&out, n, 3, 1);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
