/* test_util: strict number parsing and formatting, glob matching,
 * host:port parsing and CRC-32C (common/util.c).
 *
 * Besides hand-written cases, fixtures/numbers.txt (made by
 * fixtures/gen_numbers.py from redis-server 7.0) records what Redis replied
 * to INCRBY, ZADD+ZSCORE and INCRBYFLOAT for many inputs; the parsers and
 * formatters must give the same answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

static void fixture_path(char *out, size_t n, const char *name)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 1;
    snprintf(out, n, "%.*s/fixtures/%s", dir, slash ? f : ".", name);
}

#define LL_OK(s, v)                                        \
    do {                                                   \
        long long _v = 12345;                              \
        assert_int_equal(str2ll(s, strlen(s), &_v), 0);    \
        assert_true(_v == (v));                            \
    } while (0)
#define LL_BAD(s)                                          \
    do {                                                   \
        long long _v = 12345;                              \
        assert_int_equal(str2ll(s, strlen(s), &_v), -1);   \
        assert_true(_v == 12345);                          \
    } while (0)

static void test_str2ll(void **state)
{
    (void)state;
    LL_OK("0", 0);
    LL_OK("1", 1);
    LL_OK("-1", -1);
    LL_OK("9223372036854775807", LLONG_MAX);
    LL_OK("-9223372036854775808", LLONG_MIN);
    LL_OK("1234567890", 1234567890LL);
    LL_BAD("9223372036854775808");
    LL_BAD("-9223372036854775809");
    LL_BAD("18446744073709551616");
    LL_BAD("99999999999999999999");
    LL_BAD("-0");
    LL_BAD("+1");
    LL_BAD(" 1");
    LL_BAD("1 ");
    LL_BAD("01");
    LL_BAD("00");
    LL_BAD("");
    LL_BAD("-");
    LL_BAD("--1");
    LL_BAD("1.0");
    LL_BAD("1e3");
    LL_BAD("0x10");
    /* The length bounds the parse: no reading past it, no NUL needed. */
    long long v;
    assert_int_equal(str2ll("123xyz", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(str2ll("12\0" "3", 4, &v), -1);
}

static void test_str2ull(void **state)
{
    (void)state;
    unsigned long long v;
    assert_int_equal(str2ull("0", 1, &v), 0);
    assert_true(v == 0);
    assert_int_equal(str2ull("18446744073709551615", 20, &v), 0);
    assert_true(v == ULLONG_MAX);
    assert_int_equal(str2ull("18446744073709551616", 20, &v), -1);
    assert_int_equal(str2ull("28446744073709551615", 20, &v), -1);
    assert_int_equal(str2ull("118446744073709551615", 21, &v), -1);
    assert_int_equal(str2ull("-1", 2, &v), -1);
    assert_int_equal(str2ull("+1", 2, &v), -1);
    assert_int_equal(str2ull("01", 2, &v), -1);
    assert_int_equal(str2ull("", 0, &v), -1);
    assert_int_equal(str2ull("9223372036854775808", 19, &v), 0);
    assert_true(v == 9223372036854775808ULL);
}

static void test_str2d(void **state)
{
    (void)state;
    double d;
    assert_int_equal(str2d("1.5", 3, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(str2d("inf", 3, &d), 0);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(str2d("+inf", 4, &d), 0);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(str2d("-inf", 4, &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(str2d("-0", 2, &d), 0);
    assert_true(d == 0 && signbit(d));
    assert_int_equal(str2d("nan", 3, &d), -1);
    assert_int_equal(str2d("-nan", 4, &d), -1);
    assert_int_equal(str2d("1e400", 5, &d), -1);
    assert_int_equal(str2d("1e-400", 6, &d), -1);
    assert_int_equal(str2d(" 1", 2, &d), -1);
    assert_int_equal(str2d("1 ", 2, &d), -1);
    assert_int_equal(str2d("", 0, &d), -1);
    assert_int_equal(str2d("1.5x", 3, &d), 0); /* length-bounded */
    assert_true(d == 1.5);
    assert_int_equal(str2d("1\0" "5", 3, &d), -1);
    /* plain integers (parsed without strtod) give strtod's double */
    static const char *const ints[] = { "0", "007", "-12", "4503599627370495", "9007199254740992",
                                        "9007199254740993", "99999999999999999", "-9007199254740993",
                                        "1234567890123456" };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        assert_int_equal(str2d(ints[i], strlen(ints[i]), &d), 0);
        assert_true(d == strtod(ints[i], NULL));
    }
    assert_int_equal(str2d("-", 1, &d), -1);
    assert_int_equal(str2d("12-", 3, &d), -1);
}

static void test_str2ld(void **state)
{
    (void)state;
    long double d;
    assert_int_equal(str2ld("10.5", 4, &d), 0);
    assert_true(d == 10.5L);
    assert_int_equal(str2ld("3.0e3", 5, &d), 0);
    assert_true(d == 3000.0L);
    assert_int_equal(str2ld("nan", 3, &d), -1);
    assert_int_equal(str2ld(" 1", 2, &d), -1);
    assert_int_equal(str2ld("1 ", 2, &d), -1);
    assert_int_equal(str2ld("", 0, &d), -1);
    /* 1e400 fits a long double (INCRBYFLOAT accepts it); 1e5000 does not. */
    assert_int_equal(str2ld("1e400", 5, &d), 0);
    assert_int_equal(str2ld("1e5000", 6, &d), -1);
    assert_int_equal(str2ld("1\0" "5", 3, &d), -1);
}

static void test_d2str(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(d2str(b, sizeof b, 1.1), 18);
    assert_string_equal(b, "1.1000000000000001");
    d2str(b, sizeof b, 1.0 / 0.0);
    assert_string_equal(b, "inf");
    d2str(b, sizeof b, -1.0 / 0.0);
    assert_string_equal(b, "-inf");
    d2str(b, sizeof b, 0.0);
    assert_string_equal(b, "0");
    d2str(b, sizeof b, -0.0);
    assert_string_equal(b, "-0");
    d2str(b, sizeof b, 3000.0);
    assert_string_equal(b, "3000");
    d2str(b, sizeof b, 1e20);
    assert_string_equal(b, "1e+20");
    assert_int_equal(ll2str(b, sizeof b, LLONG_MIN), 20);
    assert_string_equal(b, "-9223372036854775808");
    assert_int_equal(ll2str(b, sizeof b, LLONG_MAX), 19);
    assert_string_equal(b, "9223372036854775807");
    assert_int_equal(ll2str(b, sizeof b, 0), 1);
    assert_string_equal(b, "0");
    assert_int_equal(ll2str(b, sizeof b, -42), 3);
    assert_string_equal(b, "-42");
    /* snprintf's contract: the full length, the text cut to fit */
    char small[4] = "xxx";
    assert_int_equal(ll2str(small, sizeof small, -12345), 6);
    assert_string_equal(small, "-12");
    assert_int_equal(ll2str(small, 0, 7), 1);
    assert_string_equal(small, "-12");
}

/* As Redis's bytesToHuman (INFO's *_human), values seen on redis-server 7.0. */
static void test_bytes_to_human(void **state)
{
    (void)state;
    char b[32];
    bytes_to_human(b, sizeof b, 520);
    assert_string_equal(b, "520B");
    bytes_to_human(b, sizeof b, 1023);
    assert_string_equal(b, "1023B");
    bytes_to_human(b, sizeof b, 37888);
    assert_string_equal(b, "37.00K");
    bytes_to_human(b, sizeof b, 71680);
    assert_string_equal(b, "70.00K");
    bytes_to_human(b, sizeof b, 1110592);
    assert_string_equal(b, "1.06M");
    bytes_to_human(b, sizeof b, 3ULL << 30);
    assert_string_equal(b, "3.00G");
}

static void test_ld2str_human(void **state)
{
    (void)state;
    char b[512];
    assert_int_equal(ld2str_human(b, sizeof b, 10.5L), 4);
    assert_string_equal(b, "10.5");
    ld2str_human(b, sizeof b, 3.0e3L);
    assert_string_equal(b, "3000");
    ld2str_human(b, sizeof b, -0.0L);
    assert_string_equal(b, "0");
    ld2str_human(b, sizeof b, 0.1L);
    assert_string_equal(b, "0.1");
    ld2str_human(b, sizeof b, -5e-5L);
    assert_string_equal(b, "-0.00005");
    ld2str_human(b, sizeof b, 1e20L);
    assert_string_equal(b, "100000000000000000000");
    /* Too small a buffer: -1, not a truncated number. */
    assert_int_equal(ld2str_human(b, 4, 12345.5L), -1);
}

/* Decode a hex field of the fixture ("-" is the empty string). */
static char *unhex(const char *h, size_t *len)
{
    if (strcmp(h, "-") == 0) h = "";
    size_t n = strlen(h) / 2;
    char *s = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        s[i] = (char)v;
    }
    s[n] = '\0';
    *len = n;
    return s;
}

static void test_numbers_vs_redis(void **state)
{
    (void)state;
    char path[4096];
    fixture_path(path, sizeof path, "numbers.txt");
    FILE *f = fopen(path, "r");
    if (!f) print_error("cannot open %s\n", path);
    assert_non_null(f);
    char line[4096];
    int n[3] = { 0, 0, 0 };
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = '\0';
        char *fields[4];
        int nf = 0;
        for (char *tok = strtok(line, "\t"); tok && nf < 4; tok = strtok(NULL, "\t"))
            fields[nf++] = tok;
        const char *want = fields[nf - 1];
        char out[1024];
        size_t al, bl;
        char *a = unhex(fields[1], &al);
        if (strcmp(fields[0], "incrby") == 0) {
            long long v;
            int r = str2ll(a, al, &v);
            if (strcmp(want, "ERR") == 0) {
                if (r != -1) print_error("str2ll accepted \"%s\"\n", a);
                assert_int_equal(r, -1);
            } else {
                assert_int_equal(r, 0);
                ll2str(out, sizeof out, v);
                assert_string_equal(out, want);
            }
            n[0]++;
        } else if (strcmp(fields[0], "zscore") == 0) {
            double v;
            int r = str2d(a, al, &v);
            if (strcmp(want, "ERR") == 0) {
                if (r != -1) print_error("str2d accepted \"%s\"\n", a);
                assert_int_equal(r, -1);
            } else {
                if (r != 0) print_error("str2d rejected \"%s\"\n", a);
                assert_int_equal(r, 0);
                /* A sorted set stores a zero score without its sign
                 * (ZADD z -0 m; ZSCORE gives "0"), while d2str, like
                 * Redis's addReplyDouble, prints -0.0 as "-0". */
                if (v == 0) v = 0.0;
                d2str(out, sizeof out, v);
                if (strcmp(out, want) != 0) print_error("d2str(%s)\n", a);
                assert_string_equal(out, want);
            }
            n[1]++;
        } else {
            assert_string_equal(fields[0], "incrbyfloat");
            char *b = unhex(fields[2], &bl);
            long double x, y;
            /* INCRBYFLOAT: both parse, and the sum is finite. */
            int ok = str2ld(a, al, &x) == 0 && str2ld(b, bl, &y) == 0 &&
                     !isnan(x + y) && !isinf(x + y);
            if (strcmp(want, "ERR") == 0) {
                if (ok) print_error("INCRBYFLOAT %s %s should fail\n", a, b);
                assert_false(ok);
            } else {
                if (!ok) print_error("INCRBYFLOAT %s %s failed\n", a, b);
                assert_true(ok);
                assert_true(ld2str_human(out, sizeof out, x + y) > 0);
                if (strcmp(out, want) != 0) print_error("INCRBYFLOAT %s %s\n", a, b);
                assert_string_equal(out, want);
            }
            free(b);
            n[2]++;
        }
        free(a);
    }
    fclose(f);
    assert_true(n[0] >= 10 && n[1] >= 10 && n[2] >= 10);
}

#define GM(p, s, nc) glob_match(p, strlen(p), s, strlen(s), nc)

static void test_glob(void **state)
{
    (void)state;
    /* Redis: PUBLISH "" reaches no PSUBSCRIBE * and SCAN MATCH ** skips the
     * empty key: an empty string matches only the empty pattern. */
    assert_false(GM("*", "", 0));
    assert_false(GM("**", "", 0));
    assert_true(GM("*", "anything", 0));
    assert_true(GM("", "", 0));
    assert_false(GM("", "a", 0));
    assert_true(GM("h?llo", "hello", 0));
    assert_false(GM("h?llo", "hllo", 0));
    assert_true(GM("h*llo", "hllo", 0));
    assert_true(GM("h*llo", "heeeello", 0));
    assert_true(GM("h[ae]llo", "hallo", 0));
    assert_false(GM("h[ae]llo", "hillo", 0));
    assert_true(GM("h[^e]llo", "hallo", 0));
    assert_false(GM("h[^e]llo", "hello", 0));
    assert_true(GM("h[a-b]llo", "hbllo", 0));
    assert_false(GM("h[a-b]llo", "hcllo", 0));
    assert_true(GM("h[b-a]llo", "hallo", 0)); /* reversed range */
    assert_true(GM("[a-z]*", "key", 0));
    assert_false(GM("[a-z]*", "Key", 0));
    assert_true(GM("[a-z]*", "Key", 1));
    assert_true(GM("HELLO", "hello", 1));
    assert_false(GM("HELLO", "hello", 0));
    assert_true(GM("h\\*llo", "h*llo", 0));
    assert_false(GM("h\\*llo", "hello", 0));
    assert_true(GM("h\\?", "h?", 0));
    assert_true(GM("a\\", "a\\", 0));         /* trailing backslash is literal */
    assert_true(GM("[\\]]", "]", 0));
    assert_true(GM("[\\-]", "-", 0));
    assert_true(GM("[]", "]", 0) == 0);        /* empty class matches nothing */
    assert_true(GM("[abc", "a", 0));           /* unterminated class ends the pattern */
    /* Corner cases checked against KEYS on redis-server 7.0. */
    assert_false(GM("[]x", "]x", 0));
    assert_true(GM("[^]x", "]x", 0));          /* empty negated class: any byte */
    assert_true(GM("[a-]", "]", 0));           /* range a..']', then unterminated */
    assert_true(GM("[a-]", "a", 0));
    assert_false(GM("[a-]", "b", 0));
    assert_false(GM("[abc", "ab", 0));
    assert_true(GM("a*b*c", "aXXbYYc", 0));
    assert_false(GM("a*b*c", "aXXbYY", 0));
    assert_true(GM("*.txt", "notes.txt", 0));
    assert_false(GM("*.txt", "notes.txt.bak", 0));
    assert_true(GM("user:*:name", "user:1000:name", 0));
    assert_true(GM("**a", "xa", 0));
    /* Binary strings with NUL bytes. */
    assert_true(glob_match("a?c", 3, "a\0c", 3, 0));

    /* Pathological patterns must finish (no timing assertion: the test
     * simply would not end with exponential backtracking). */
    size_t n = 20000;
    char *s = xmalloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    assert_false(GM("a*a*a*a*a*a*a*a*a*a*a*a*a*b", s, 0));
    assert_true(GM("a*a*a*a*a*a*a*a*a*a*a*a*a*a", s, 0));
    assert_false(GM("*a*a*a*a*a*a*a*a*a*a*a*a*?b", s, 1));
    assert_false(GM("*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[^a]", s, 0));
    free(s);
}

static void test_parse_hostport(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(parse_hostport("127.0.0.1:6379", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6379);
    assert_int_equal(parse_hostport("[::1]:7000", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    assert_int_equal(parse_hostport("localhost:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 1);
    assert_int_equal(parse_hostport("h:65535", host, sizeof host, &port), 0);
    assert_int_equal(port, 65535);

    const char *const bad[] = {
        "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:+80", "127.0.0.1:080", "127.0.0.1:80x", "127.0.0.1: 80", ":6379",
        "[::1]", "[::1]6379", "[::1:6379", "[]:6379", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        port = -7;
        if (parse_hostport(bad[i], host, sizeof host, &port) != -1)
            print_error("accepted \"%s\"\n", bad[i]);
        assert_int_equal(parse_hostport(bad[i], host, sizeof host, &port), -1);
        assert_int_equal(port, -7);
    }
    /* Host longer than the caller's buffer. */
    char tiny[4];
    assert_int_equal(parse_hostport("abcd:1", tiny, sizeof tiny, &port), -1);
    assert_int_equal(parse_hostport("abc:1", tiny, sizeof tiny, &port), 0);
    assert_string_equal(tiny, "abc");
}

static void test_crc32c(void **state)
{
    (void)state;
    crc32c_init();
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
    /* Incremental use gives the same result as one pass. */
    uint32_t c = crc32c(0, "1234", 4);
    assert_int_equal(crc32c(c, "56789", 5), 0xE3069283u);
    /* RFC 3720 B.4: 32 bytes of zeros, of 0xff. */
    unsigned char z[32];
    memset(z, 0, sizeof z);
    assert_int_equal(crc32c(0, z, sizeof z), 0x8A9136AAu);
    memset(z, 0xff, sizeof z);
    assert_int_equal(crc32c(0, z, sizeof z), 0x62A8AB43u);
}

static void test_codecs_and_misc(void **state)
{
    (void)state;
    unsigned char b[8];
    put_u64be(b, 0x0102030405060708ULL);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(get_u64be(b) == 0x0102030405060708ULL);
    put_u32be(b, 0xA1B2C3D4u);
    assert_memory_equal(b, "\xA1\xB2\xC3\xD4", 4);
    assert_int_equal(get_u32be(b), 0xA1B2C3D4u);
    assert_true(str_eq_nocase("GeT", 3, "get"));
    assert_false(str_eq_nocase("GETX", 3, "getx"));
    assert_false(str_eq_nocase("GET", 3, "gets"));
    uint64_t a = mono_us(), m = now_ms();
    assert_true(mono_us() >= a);
    assert_true(m > 1600000000000ULL); /* after 2020: a real wall clock */
    assert_true(now_us() / 1000 >= m);
}

static void test_random_hex(void **state)
{
    (void)state;
    char a[41], b[41], odd[8];
    assert_int_equal(random_hex(a, 40), 0);
    assert_int_equal(random_hex(b, 40), 0);
    assert_int_equal(strlen(a), 40);
    assert_int_equal(strspn(a, "0123456789abcdef"), 40);
    assert_string_not_equal(a, b);
    assert_int_equal(random_hex(odd, 7), 0);    /* odd lengths too */
    assert_int_equal(strspn(odd, "0123456789abcdef"), 7);
    assert_int_equal(odd[7], '\0');
}

/* hash_bytes: deterministic per seed, every byte and the length count,
 * the seed changes the result, and keys that differ only in their tail
 * (as "key:000123" and "key:000124" do) spread over a small table. */
static void test_hash_bytes(void **state)
{
    (void)state;
    const char k[] = "key:000000012345-and-some-more";
    for (size_t n = 0; n < sizeof k; n++) {
        assert_int_equal(hash_bytes(k, n, 7), hash_bytes(k, n, 7));
        assert_int_not_equal(hash_bytes(k, n, 7), hash_bytes(k, n, 8));
        if (n) assert_int_not_equal(hash_bytes(k, n, 7), hash_bytes(k, n - 1, 7));
    }
    char z[9] = { 0 };
    for (size_t n = 1; n < sizeof z; n++)   /* zero bytes still count */
        assert_int_not_equal(hash_bytes(z, n, 0), hash_bytes(z, n - 1, 0));
    for (size_t i = 0; i + 1 < sizeof k; i++) {  /* one flipped bit anywhere */
        char c[sizeof k];
        memcpy(c, k, sizeof k);
        c[i] ^= 1;
        assert_int_not_equal(hash_bytes(c, sizeof k - 1, 0), hash_bytes(k, sizeof k - 1, 0));
    }
    enum { BUCKETS = 256, KEYS = 256 * 64 };
    int count[BUCKETS] = { 0 };
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "key:%012d", i);
        count[hash_bytes(key, (size_t)n, hash_seed()) & (BUCKETS - 1)]++;
    }
    for (int b = 0; b < BUCKETS; b++) {  /* 64 expected; far outside 3 sigma */
        assert_true(count[b] > 20);
        assert_true(count[b] < 120);
    }
    assert_int_equal(hash_seed(), hash_seed());
}

static void slurp(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void test_write_file_durable(void **state)
{
    (void)state;
    char dir[] = "/tmp/strata-test-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], tmp[300], got[64];
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(write_file_durable(path, "one\n", 4), 0);
    slurp(path, got, sizeof got);
    assert_string_equal(got, "one\n");
    assert_int_equal(write_file_durable(path, "second\n", 7), 0); /* replaced, not appended */
    slurp(path, got, sizeof got);
    assert_string_equal(got, "second\n");
    assert_int_equal(access(tmp, F_OK), -1);                     /* no temp file left */
    assert_int_equal(write_file_durable(path, "", 0), 0);
    slurp(path, got, sizeof got);
    assert_string_equal(got, "");
    /* A directory that does not exist: -1 with errno, nothing created. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/none/f", dir);
    errno = 0;
    assert_int_equal(write_file_durable(bad, "x", 1), -1);
    assert_int_equal(errno, ENOENT);
    /* The path is a directory: the rename fails and the temp file goes. */
    char sub[300], subtmp[320];
    snprintf(sub, sizeof sub, "%s/d", dir);
    snprintf(subtmp, sizeof subtmp, "%s.tmp", sub);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(write_file_durable(sub, "x", 1), -1);
    assert_int_equal(access(subtmp, F_OK), -1);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_hex),
        cmocka_unit_test(test_str2ll),
        cmocka_unit_test(test_str2ull),
        cmocka_unit_test(test_str2d),
        cmocka_unit_test(test_str2ld),
        cmocka_unit_test(test_d2str),
        cmocka_unit_test(test_ld2str_human),
        cmocka_unit_test(test_bytes_to_human),
        cmocka_unit_test(test_numbers_vs_redis),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_parse_hostport),
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_codecs_and_misc),
        cmocka_unit_test(test_hash_bytes),
        cmocka_unit_test(test_write_file_durable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
