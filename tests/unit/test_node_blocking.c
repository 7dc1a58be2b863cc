/* test_node_blocking: node/client/blocking.h's block_parse_timeout, which needs
 * no event loop: a fake client's timeout argument in, a deadline or
 * Redis's exact error reply out.  Every accepted and refused value below
 * was checked against redis-server 7.0.15 (BLPOP inside MULTI, so nothing
 * blocks), including its quirks: inf and values past 2^63 ms are
 * "negative".  Rounding was checked by really blocking: Redis rounds the
 * milliseconds up, so 0.0001 s times out after 1 ms and -0.0001 s (-0.1
 * ms, rounded up to 0) means "forever". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blocking.h"
#include "util.h"

static client fc;
static char *fargv[2];
static size_t fargvlen[2];

#define ERR_NEG "-ERR timeout is negative\r\n"
#define ERR_FLOAT "-ERR timeout is not a float or out of range\r\n"

/* Parse `s` as argument 1; returns the result, *deadline set. */
static int parse(const char *s, size_t len, uint64_t *deadline)
{
    buf_free(&fc.out);
    memset(&fc, 0, sizeof fc);
    buf_init(&fc.out);
    fargv[0] = "blpop";
    fargvlen[0] = 5;
    fargv[1] = (char *)s;
    fargvlen[1] = len;
    fc.argc = 2;
    fc.argv = fargv;
    fc.argvlen = fargvlen;
    *deadline = 12345;
    return block_parse_timeout(&fc, 1, deadline);
}

static void expect_error(const char *s, size_t len, const char *err)
{
    uint64_t d;
    if (parse(s, len, &d) != -1) fail_msg("'%.*s' accepted", (int)len, s);
    assert_int_equal(fc.out.len, strlen(err));
    assert_memory_equal(fc.out.data, err, fc.out.len);
}

static void expect_forever(const char *s, size_t len)
{
    uint64_t d;
    assert_int_equal(parse(s, len, &d), 0);
    assert_int_equal(fc.out.len, 0);
    assert_int_equal(d, 0);
}

/* A deadline `ms` from now (within the time the call takes). */
static void expect_in(const char *s, size_t len, uint64_t ms)
{
    uint64_t d;
    uint64_t before = now_ms();
    assert_int_equal(parse(s, len, &d), 0);
    uint64_t after = now_ms();
    assert_int_equal(fc.out.len, 0);
    assert_true(d >= before + ms);
    assert_true(d <= after + ms);
}

#define S(lit) lit, sizeof(lit) - 1

static void test_forever(void **state)
{
    (void)state;
    expect_forever(S("0"));
    expect_forever(S("-0"));
    expect_forever(S("0.0"));
    expect_forever(S("-0.0001"));  /* -0.1 ms rounds up to 0 */
}

static void test_deadlines(void **state)
{
    (void)state;
    expect_in(S("1"), 1000);
    expect_in(S("0.1"), 100);
    expect_in(S("1.5"), 1500);
    expect_in(S("1e3"), 1000000);
    expect_in(S("0x1"), 1000);     /* strtold reads hex, as in Redis */
    expect_in(S("0.0015"), 2);     /* rounded up */
    expect_in(S("0.0001"), 1);     /* 0.1 ms is 1 ms, not 0 (forever) */
    expect_in(S("1e-10"), 1);
    /* A huge but representable timeout saturates instead of wrapping */
    uint64_t d;
    assert_int_equal(parse(S("9223372036854775"), &d), 0);
    assert_int_equal(fc.out.len, 0);
    assert_true(d > now_ms() + (UINT64_C(1) << 62));
    assert_int_equal(parse(S("1e15"), &d), 0);
    assert_true(d > now_ms());
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(S("-1"), ERR_NEG);
    expect_error(S("-0.5"), ERR_NEG);
    expect_error(S("-inf"), ERR_NEG);
    expect_error(S("inf"), ERR_NEG);        /* Redis: (long long)inf < 0 */
    expect_error(S("1e400"), ERR_NEG);      /* a long double, then out of range */
    expect_error(S("1e16"), ERR_NEG);
    expect_error(S("9223372036854776"), ERR_NEG);
    expect_error(S("abc"), ERR_FLOAT);
    expect_error(S("nan"), ERR_FLOAT);
    expect_error(S(""), ERR_FLOAT);
    expect_error(S(" 1"), ERR_FLOAT);
    expect_error(S("1 "), ERR_FLOAT);
    expect_error(S("1\0"), ERR_FLOAT);
    expect_error(S("1s"), ERR_FLOAT);
}

/* Redis reads long doubles from at most 5119 bytes (MAX_LONG_DOUBLE_CHARS). */
static void test_length_limit(void **state)
{
    (void)state;
    static char big[6000];
    memset(big, '0', sizeof big);
    big[5118] = '1';
    expect_in(big, 5119, 1000);
    big[5118] = '0';
    big[5119] = '1';
    expect_error(big, 5120, ERR_FLOAT);
    big[5119] = '0';
    big[5199] = '1';
    expect_error(big, 5200, ERR_FLOAT);
}

static int final_teardown(void **state)
{
    (void)state;
    buf_free(&fc.out);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forever),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_length_limit),
    };
    return cmocka_run_group_tests(tests, NULL, final_teardown);
}
