/* test_node_cursor: node/storage/cursor.h — SCAN cursors: saved positions come
 * back byte for byte (binary, empty), cursors are distinct and never 0,
 * a cursor whose ring slot was reused (or whose position went over the
 * byte budget) is refused instead of silently
 * restarting, unknown numbers are refused, and the cursor argument is
 * parsed as Redis 7.0 does (strtoul: "", "00", "+0", "-1" are accepted
 * there; spaces, trailing bytes and overflow are not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cursor.h"

#define RING ((int)CURSOR_SLOTS)

static void test_save_load(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    uint64_t a = cursor_save("pos\0one", 7);
    uint64_t b = cursor_save("", 0);
    uint64_t c = cursor_save("\xff\x00\x01", 3);
    assert_true(a != 0 && b != 0 && c != 0);
    assert_true(a != b && b != c && a != c);

    buf_append(&out, "junk", 4); /* load replaces the content */
    assert_int_equal(cursor_load(a, &out), 0);
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.data, "pos\0one", 7);
    assert_int_equal(cursor_load(b, &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(cursor_load(c, &out), 0);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "\xff\x00\x01", 3);
    /* loading does not consume: a client may repeat a cursor */
    assert_int_equal(cursor_load(a, &out), 0);
    assert_int_equal(out.len, 7);
    buf_free(&out);
}

static void test_unknown_cursors(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    buf_append(&out, "keep", 4);
    assert_int_equal(cursor_load(0, &out), -1);
    assert_int_equal(cursor_load(1, &out), -1);
    assert_int_equal(cursor_load(12345, &out), -1);
    assert_int_equal(cursor_load(UINT64_MAX, &out), -1);
    uint64_t a = cursor_save("x", 1);
    /* numbers near a real cursor, and ones sharing its ring slot */
    assert_int_equal(cursor_load(a + 1, &out), -1);
    assert_int_equal(cursor_load(a - 1, &out), -1);
    assert_int_equal(cursor_load(a + RING, &out), -1);
    assert_int_equal(cursor_load(a ^ (UINT64_C(1) << 40), &out), -1);
    /* a failed load leaves out alone */
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "keep", 4);
    buf_free(&out);
}

static void test_evicted(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    uint64_t first = cursor_save("first", 5);
    static uint64_t ids[RING];
    /* RING - 1 later saves keep it ... */
    for (int i = 0; i < RING - 1; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "p%d", i);
        ids[i] = cursor_save(p, (size_t)n);
    }
    assert_int_equal(cursor_load(first, &out), 0);
    assert_memory_equal(out.data, "first", 5);
    /* ... one more reuses its slot: invalid, not another position */
    ids[RING - 1] = cursor_save("last", 4);
    assert_int_equal(cursor_load(first, &out), -1);
    /* every one of the newer cursors is still good and distinct */
    for (int i = 0; i < RING - 1; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "p%d", i);
        assert_int_equal(cursor_load(ids[i], &out), 0);
        assert_int_equal(out.len, (size_t)n);
        assert_memory_equal(out.data, p, (size_t)n);
        assert_true(ids[i] != first);
    }
    assert_int_equal(cursor_load(ids[RING - 1], &out), 0);
    assert_memory_equal(out.data, "last", 4);
    buf_free(&out);
}

/* Positions are bounded in bytes too: big positions push out the oldest
 * ones, never the one just saved, and a cursor saved after them is fine. */
static void test_byte_budget(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    uint64_t small = cursor_save("small", 5);
    size_t big = 1u << 20;
    char *p = malloc(big);
    assert_non_null(p);
    uint64_t ids[40];
    for (int i = 0; i < 40; i++) {      /* 40 MiB of positions, budget 16 */
        memset(p, 'a' + i % 26, big);
        ids[i] = cursor_save(p, big);
        assert_int_equal(cursor_load(ids[i], &out), 0);
        assert_int_equal(out.len, big);
        assert_int_equal(out.data[big - 1], 'a' + i % 26);
    }
    assert_int_equal(cursor_load(small, &out), -1);
    assert_int_equal(cursor_load(ids[0], &out), -1);
    assert_int_equal(cursor_load(ids[39], &out), 0);
    assert_int_equal(cursor_load(ids[25], &out), 0);   /* the newest 15 fit */
    assert_int_equal(cursor_load(ids[24], &out), -1);
    uint64_t after = cursor_save("after", 5);
    assert_int_equal(cursor_load(after, &out), 0);
    assert_memory_equal(out.data, "after", 5);
    free(p);
    buf_free(&out);
}

static int parse(const char *s, size_t len, uint64_t *v)
{
    *v = 777;
    return cursor_parse(s, len, v);
}

static void test_parse(void **state)
{
    (void)state;
    uint64_t v;
#define OK(s, want) do { assert_int_equal(parse(s, sizeof(s) - 1, &v), 0); \
                         assert_int_equal(v, (uint64_t)(want)); } while (0)
#define BAD(s) assert_int_equal(parse(s, sizeof(s) - 1, &v), -1)
    OK("0", 0);
    OK("1", 1);
    OK("4097", 4097);
    OK("18446744073709551615", UINT64_MAX);
    /* Redis 7.0 parses with strtoul and accepts all of these (checked
     * against redis-server 7.0.15 with HSCAN) */
    OK("", 0);
    OK("00", 0);
    OK("01", 1);
    OK("+0", 0);
    OK("-0", 0);
    OK("+7", 7);
    OK("-1", UINT64_MAX);
    OK("-18446744073709551615", 1);
    OK("0\0x", 0);                 /* strtoul stops at the NUL */
    OK("0000000000000000000000000000000000000000000000000007", 7);
    BAD("18446744073709551616");
    BAD("-18446744073709551616");
    BAD("99999999999999999999999");
    BAD(" 1");
    BAD("1 ");
    BAD("\t1");
    BAD("0x10");
    BAD("1a");
    BAD("+");
    BAD("-");
    BAD("notanumber");
    BAD("1.0");
#undef OK
#undef BAD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_unknown_cursors),
        cmocka_unit_test(test_evicted),
        cmocka_unit_test(test_byte_budget),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
