/* test_buf: the growable buffer and aborting allocators (common/buf.c).
 * Run under ASan: any write past `cap` or use of a moved `data` faults. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_init_append(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_append(&b, "", 0); /* nothing to add: no allocation needed */
    assert_int_equal(b.len, 0);
    buf_append(&b, "abc", 3);
    buf_append_str(&b, "def");
    buf_append_char(&b, '\0');
    buf_append_char(&b, 'g');
    assert_int_equal(b.len, 8);
    assert_true(b.cap >= b.len);
    assert_memory_equal(b.data, "abcdef\0g", 8);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* Reusable after free. */
    buf_append_str(&b, "again");
    assert_memory_equal(b.data, "again", 5);
    buf_free(&b);
}

static void test_growth(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    /* Many small appends: contents kept across every reallocation. */
    for (int i = 0; i < 100000; i++) buf_append_char(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 100000);
    for (int i = 0; i < 100000; i++) assert_int_equal(b.data[i], 'a' + i % 26);
    buf_free(&b);

    /* reserve guarantees room without changing len. */
    buf_reserve(&b, 10);
    assert_true(b.cap >= 10);
    assert_int_equal(b.len, 0);
    size_t cap = b.cap;
    buf_reserve(&b, cap); /* already enough: no change */
    assert_int_equal(b.cap, cap);
    buf_append(&b, "12345", 5);
    buf_reserve(&b, 3 * 1024 * 1024);
    assert_true(b.cap - b.len >= 3 * 1024 * 1024);
    assert_memory_equal(b.data, "12345", 5);
    /* The reserved room is writable (ASan checks). */
    memset(b.data + b.len, 'x', b.cap - b.len);
    /* Large growth past the doubling threshold. */
    char *big = malloc(5 * 1024 * 1024);
    assert_non_null(big);
    memset(big, 'q', 5 * 1024 * 1024);
    buf_append(&b, big, 5 * 1024 * 1024);
    assert_int_equal(b.len, 5 + 5 * 1024 * 1024);
    assert_memory_equal(b.data + 5, big, 5 * 1024 * 1024);
    free(big);
    buf_free(&b);
}

static void test_printf(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    buf_printf(&b, "%d-%s", 42, "x");
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "42-x", 4);
    /* Longer than the internal small buffer: the slow path. */
    char *s = malloc(10001);
    assert_non_null(s);
    memset(s, 'z', 10000);
    s[10000] = '\0';
    buf_printf(&b, "[%s]", s);
    assert_int_equal(b.len, 4 + 10002);
    assert_int_equal(b.data[4], '[');
    assert_memory_equal(b.data + 5, s, 10000);
    assert_int_equal(b.data[b.len - 1], ']');
    /* Exactly around the 256-byte boundary. */
    for (int n = 250; n < 262; n++) {
        buf_clear(&b);
        buf_append_str(&b, "pre");
        buf_printf(&b, "%.*s", n, s);
        assert_int_equal(b.len, 3 + (size_t)n);
        assert_memory_equal(b.data + 3, s, (size_t)n);
    }
    buf_clear(&b);
    buf_printf(&b, "%s", "");
    assert_int_equal(b.len, 0);
    free(s);
    buf_free(&b);
}

static void test_consume_clear(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    buf_append_str(&b, "hello world");
    buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "world", 5);
    buf_consume(&b, 0);
    assert_int_equal(b.len, 5);
    buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    buf_append_str(&b, "abc");
    buf_consume(&b, 100); /* more than there is: empties */
    assert_int_equal(b.len, 0);
    buf_append_str(&b, "xyz");
    size_t cap = b.cap;
    buf_clear(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap); /* keeps the allocation */
    buf_free(&b);
}

static void test_shrink(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    buf_reserve(&b, 1 << 20);
    buf_append_str(&b, "keep me");
    buf_shrink(&b, 64);
    assert_int_equal(b.cap, 64);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "keep me", 7);
    /* Not below the data. */
    buf_shrink(&b, 3);
    assert_int_equal(b.cap, 64);
    assert_memory_equal(b.data, "keep me", 7);
    /* Not upwards. */
    buf_shrink(&b, 1000);
    assert_int_equal(b.cap, 64);
    /* Still usable after shrinking. */
    for (int i = 0; i < 1000; i++) buf_append_char(&b, 'x');
    assert_int_equal(b.len, 1007);
    buf_clear(&b);
    buf_shrink(&b, 0);
    assert_true(b.cap <= 1);
    buf_append_str(&b, "ok");
    assert_memory_equal(b.data, "ok", 2);
    buf_free(&b);
}

static void test_alloc_helpers(void **state)
{
    (void)state;
    char *s = xstrdup("strata");
    assert_string_equal(s, "strata");
    free(s);
    s = xmemdup("a\0b", 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_int_equal(s[3], '\0');
    free(s);
    s = xmemdup(NULL, 0);
    assert_int_equal(s[0], '\0');
    free(s);
    int *z = xcalloc(16, sizeof(int));
    for (int i = 0; i < 16; i++) assert_int_equal(z[i], 0);
    z = xrealloc(z, 64 * sizeof(int));
    assert_int_equal(z[15], 0);
    free(z);
    void *p = xmalloc(0); /* a real, freeable pointer */
    assert_non_null(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_append),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_consume_clear),
        cmocka_unit_test(test_shrink),
        cmocka_unit_test(test_alloc_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
