/* test_node_cmd: node/server/cmd.h — the argument helpers every command uses
 * (arg_ll, arg_ll_range, arg_double) and the typed key lookups, with a
 * fake client whose output buffer is inspected: a helper that fails must
 * have written Redis's exact error, one that succeeds must have written
 * nothing.  Accepted and refused inputs were checked against redis-server
 * 7.0.15 (INCRBY for integers, ZADD for scores). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmd.h"
#include "db.h"
#include "server.h"
#include "store.h"

static client fc;
static char *fargv[4];
static size_t fargvlen[4];

/* A client with argv = {"cmd", arg}: argument 1 is `arg` (len bytes). */
static client *fake(const char *arg, size_t len)
{
    buf_free(&fc.out);
    memset(&fc, 0, sizeof fc);
    buf_init(&fc.out);
    fargv[0] = "cmd";
    fargvlen[0] = 3;
    fargv[1] = (char *)arg;
    fargvlen[1] = len;
    fc.argc = 2;
    fc.argv = fargv;
    fc.argvlen = fargvlen;
    return &fc;
}

static void assert_reply(const char *want)
{
    assert_int_equal(fc.out.len, strlen(want));
    assert_memory_equal(fc.out.data, want, fc.out.len);
}

static int ll(const char *s, size_t len, long long *v)
{
    *v = 4242;
    int r = arg_ll(fake(s, len), 1, v);
    if (r == 0) assert_int_equal(fc.out.len, 0);
    else {
        assert_int_equal(r, -1);
        assert_reply("-ERR value is not an integer or out of range\r\n");
        assert_int_equal(*v, 4242);
    }
    return r;
}

static void test_arg_ll(void **state)
{
    (void)state;
    long long v;
#define OK(s, want) do { assert_int_equal(ll(s, sizeof(s) - 1, &v), 0); \
                         assert_true(v == (want)); } while (0)
#define BAD(s) assert_int_equal(ll(s, sizeof(s) - 1, &v), -1)
    OK("0", 0);
    OK("1", 1);
    OK("-1", -1);
    OK("9223372036854775807", LLONG_MAX);
    OK("-9223372036854775808", LLONG_MIN);
    BAD("9223372036854775808");
    BAD("-9223372036854775809");
    BAD("18446744073709551616");
    BAD("");
    BAD("+1");
    BAD("01");
    BAD("00");
    BAD("-0");
    BAD(" 1");
    BAD("1 ");
    BAD("1.0");
    BAD("1e3");
    BAD("0x10");
    BAD("-");
    BAD("1\0");
#undef OK
#undef BAD
}

static void test_arg_ll_range(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(arg_ll_range(fake("5", 1), 1, 0, 10, &v, NULL), 0);
    assert_int_equal(v, 5);
    assert_int_equal(fc.out.len, 0);
    /* bounds are inclusive */
    assert_int_equal(arg_ll_range(fake("0", 1), 1, 0, 10, &v, NULL), 0);
    assert_int_equal(arg_ll_range(fake("10", 2), 1, 0, 10, &v, NULL), 0);
    /* out of range: the given error, else the integer error */
    assert_int_equal(arg_ll_range(fake("11", 2), 1, 0, 10, &v, "ERR index out of range"), -1);
    assert_reply("-ERR index out of range\r\n");
    assert_int_equal(arg_ll_range(fake("-1", 2), 1, 0, 10, &v, NULL), -1);
    assert_reply("-ERR value is not an integer or out of range\r\n");
    /* not an integer: always the integer error */
    assert_int_equal(arg_ll_range(fake("x", 1), 1, 0, 10, &v, "ERR index out of range"), -1);
    assert_reply("-ERR value is not an integer or out of range\r\n");
}

static int dbl(const char *s, size_t len, double *v)
{
    *v = 42.0;
    int r = arg_double(fake(s, len), 1, v);
    if (r == 0) assert_int_equal(fc.out.len, 0);
    else {
        assert_int_equal(r, -1);
        assert_reply("-ERR value is not a valid float\r\n");
        assert_true(*v == 42.0);
    }
    return r;
}

static void test_arg_double(void **state)
{
    (void)state;
    double v;
#define OK(s, want) do { assert_int_equal(dbl(s, sizeof(s) - 1, &v), 0); \
                         assert_true(v == (want)); } while (0)
#define BAD(s) assert_int_equal(dbl(s, sizeof(s) - 1, &v), -1)
    OK("1.5", 1.5);
    OK(".5", 0.5);
    OK("5.", 5.0);
    OK("-0", 0.0);
    assert_true(signbit(v));
    OK("inf", INFINITY);
    OK("+inf", INFINITY);
    OK("-inf", -INFINITY);
    OK("infinity", INFINITY);
    OK("0x10", 16.0);          /* strtod reads hex, and so does Redis */
    OK("1e308", 1e308);
    OK("4e-320", 4e-320);      /* a denormal is not an underflow to zero */
    BAD("1e400");
    BAD("-1e400");
    BAD("1e-400");
    BAD("nan");
    BAD("-nan");
    BAD("");
    BAD(" 1");
    BAD("1 ");
    BAD("1x");
    BAD("1\0");
    OK("000000012345", 12345.0);
    OK("-999999999999999", -999999999999999.0);
    OK("9007199254740993", 9007199254740992.0); /* 16 digits: strtod's rounding */
    BAD("-");
    BAD("--1");
    BAD("1-");
#undef OK
#undef BAD
    /* Integers (converted without strtod up to 15 digits) read exactly as
     * strtod reads them, at every length, sign and with leading zeros. */
    unsigned long long x = 88172645463325252ULL;
    for (int k = 0; k < 20000; k++) {
        char t[32];
        size_t n = 0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (x & 1) t[n++] = '-';
        size_t digits = 1 + (x >> 8) % 18;
        for (size_t d = 0; d < digits; d++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* every seventh string starts with zeros */
            t[n++] = (char)('0' + (k % 7 == 0 && d < 4 ? 0 : (x >> 20) % 10));
        }
        t[n] = '\0';
        double want = strtod(t, NULL);
        assert_int_equal(dbl(t, n, &v), 0);
        assert_memory_equal(&v, &want, sizeof v);
    }
    /* Redis has no length limit for scores: 1e-301 written out in full */
    char longf[400];
    int n = snprintf(longf, sizeof longf, "0.%0300d1", 0);
    assert_int_equal(dbl(longf, (size_t)n, &v), 0);
    assert_true(v == 1e-301);
    /* nor for the refusal of trailing junk */
    longf[n - 1] = 'x';
    assert_int_equal(dbl(longf, (size_t)n, &v), -1);
}

/* ---------------- typed lookups on a store ---------------- */

static char tmpdir[256];

static int store_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_node_cmd.%d", (int)getpid());
    struct store_opts o = { 1 << 20, 1 << 20, 100, 0, 0, 16 }; /* small meta cache: collisions */
    char *err = NULL;
    srv.st = store_open(tmpdir, &o, &err);
    assert_non_null(srv.st);
    db_invalidate_counters();
    srv.cmd_time_ms = 1000000;
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

static void test_lookup_typed(void **state)
{
    (void)state;
    struct meta m;
    meta_init(&m);
    db_set_string("s", 1, "v", 1, 0, &m);
    db_set_string("old", 3, "v", 1, 999999, &m);   /* already expired */
    srv.stats.keyspace_hits = srv.stats.keyspace_misses = 0;

    assert_int_equal(lookup_typed(fake("s", 1), 1, &m, T_STRING), 1);
    assert_int_equal(fc.out.len, 0);
    assert_int_equal(m.type, T_STRING);
    assert_int_equal(srv.stats.keyspace_hits, 1);

    assert_int_equal(lookup_typed(fake("s", 1), 1, &m, T_HASH), -1);
    assert_reply("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");

    assert_int_equal(lookup_typed(fake("nope", 4), 1, &m, T_HASH), 0);
    assert_int_equal(fc.out.len, 0);
    assert_int_equal(srv.stats.keyspace_misses, 1);

    /* expired reads as absent, whatever the expected type */
    assert_int_equal(lookup_typed(fake("old", 3), 1, &m, T_HASH), 0);
    assert_int_equal(fc.out.len, 0);
    assert_int_equal(lookup_any(fake("old", 3), 1, &m), 0);
    assert_int_equal(lookup_any(fake("s", 1), 1, &m), 1);
    /* a WRONGTYPE lookup found the key: a hit, as in Redis */
    assert_int_equal(srv.stats.keyspace_hits, 3);
    assert_int_equal(srv.stats.keyspace_misses, 3);

    /* a storage error (corrupt meta) is a short error reply */
    store_put(srv.st, "Mbad", 4, "\x07", 1);
    assert_int_equal(lookup_any(fake("bad", 3), 1, &m), -1);
    assert_reply("-ERR storage error (see the node log)\r\n");
    meta_free(&m);
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
        cmocka_unit_test(test_arg_ll),
        cmocka_unit_test(test_arg_ll_range),
        cmocka_unit_test(test_arg_double),
        cmocka_unit_test_setup_teardown(test_lookup_typed, store_setup, store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, final_teardown);
}
