/* test_sha1: SHA-1 and the script sha (common/sha1.c).
 *
 * FIPS 180 example vectors, incremental hashing split at every offset,
 * and fixtures/sha1.txt (made by fixtures/gen_lua_libs.py): the shas
 * redis-server 7.0 gave for SCRIPT LOAD and redis.sha1hex of many bodies,
 * across the 55/56/64-byte padding boundaries.  Each test runs twice:
 * with the portable code and, where the CPU has them, with the x86 SHA
 * extensions; a last test compares the two on random inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"

static void hex_of(const char *s, char out[SHA1_HEX_LEN + 1])
{
    sha1_hex(s, strlen(s), out);
}

static void test_fips_vectors(void **state)
{
    char h[SHA1_HEX_LEN + 1];
    hex_of("abc", h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    hex_of("", h);
    assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h);
    assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    hex_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
           "lmnopqrsmnopqrstnopqrstu",
           h);
    assert_string_equal(h, "a49b2446a02c645bf419f995b67091253a04a259");

    /* One million 'a', fed in uneven pieces. */
    sha1_ctx c;
    unsigned char d[SHA1_DIGEST_LEN];
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    sha1_init(&c);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        if (n > sizeof chunk) n = sizeof chunk;
        sha1_update(&c, chunk, n);
        left -= n;
        step = step * 7 % 997 + 1;
    }
    sha1_final(&c, d);
    sha1_to_hex(d, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_incremental_every_split(void **state)
{
    unsigned char msg[300];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (unsigned char)(i * 31 + 7);
    for (size_t len = 0; len <= sizeof msg; len += 13) {
        unsigned char want[SHA1_DIGEST_LEN], got[SHA1_DIGEST_LEN];
        sha1_digest(msg, len, want);
        for (size_t a = 0; a <= len; a++) {
            size_t b = a + (len - a) / 2;
            sha1_ctx c;
            sha1_init(&c);
            sha1_update(&c, msg, a);
            sha1_update(&c, msg + a, 0);
            sha1_update(&c, msg + a, b - a);
            sha1_update(&c, msg + b, len - b);
            sha1_final(&c, got);
            assert_memory_equal(want, got, SHA1_DIGEST_LEN);
        }
    }
}

static int unhex(const char *s, unsigned char *out)
{
    if (strcmp(s, "-") == 0) return 0;
    int n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        out[n++] = (unsigned char)v;
    }
    return n;
}

static void test_redis_shas(void **state)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    char path[1024], line[32768];
    snprintf(path, sizeof path, "%.*s/fixtures/sha1.txt", (int)(slash - f), f);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static unsigned char body[16384];
    int cases = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab++ = '\0';
        tab[strcspn(tab, "\r\n")] = '\0';
        int n = unhex(line, body);
        char h[SHA1_HEX_LEN + 1];
        sha1_hex(body, (size_t)n, h);
        assert_string_equal(h, tab);
        cases++;
    }
    fclose(fp);
    assert_true(cases >= 20);
}

/* Portable and hardware paths agree on random inputs of every length up
 * to several blocks, fed in random pieces. */
static void test_hw_matches_portable(void **state)
{
    if (!sha1_use_hw(1)) {
        sha1_use_hw(0);
        skip();
    }
    static unsigned char msg[1100];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof msg; i++) {
        x = x * 1103515245u + 12345u;
        msg[i] = (unsigned char)(x >> 16);
    }
    for (size_t len = 0; len <= sizeof msg; len++) {
        unsigned char a[SHA1_DIGEST_LEN], b[SHA1_DIGEST_LEN];
        sha1_use_hw(0);
        sha1_digest(msg + len % 7, len - len % 7, a);
        sha1_use_hw(1);
        sha1_ctx c;
        sha1_init(&c);
        size_t at = len % 7, cut = at + (len * 37) % (len - at + 1);
        sha1_update(&c, msg + at, cut - at);
        sha1_update(&c, msg + cut, len - cut);
        sha1_final(&c, b);
        assert_memory_equal(a, b, SHA1_DIGEST_LEN);
    }
}

static int use_portable(void **state)
{
    sha1_use_hw(0);
    return 0;
}

static int use_hw(void **state)
{
    sha1_use_hw(1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fips_vectors, use_portable),
        cmocka_unit_test_setup(test_incremental_every_split, use_portable),
        cmocka_unit_test_setup(test_redis_shas, use_portable),
        cmocka_unit_test_setup(test_fips_vectors, use_hw),
        cmocka_unit_test_setup(test_incremental_every_split, use_hw),
        cmocka_unit_test_setup(test_redis_shas, use_hw),
        cmocka_unit_test(test_hw_matches_portable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
