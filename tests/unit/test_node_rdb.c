/* test_node_rdb: Redis 7.0's value serialization (node/storage/rdb.c):
 * CRC-64, LZF, RDB lengths and strings, the compact encodings (listpack,
 * ziplist, intset, quicklist) and DUMP payload footers, on byte strings
 * made by hand from the formats and on payloads redis-server 7.0.15's
 * DUMP produced. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "rdb.h"

/* Elements read back, as "a|b|score;" per element, or "=value" for a string. */
struct got {
    int type;
    char text[4096];
};

static int cb_begin(void *ctx, int type)
{
    ((struct got *)ctx)->type = type;
    return 0;
}

static int cb_string(void *ctx, const char *v, size_t len)
{
    struct got *g = ctx;
    snprintf(g->text + strlen(g->text), sizeof g->text - strlen(g->text), "=%.*s", (int)len, v);
    return 0;
}

static int cb_elem(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score)
{
    struct got *g = ctx;
    size_t n = strlen(g->text);
    if (g->type == T_HASH)
        snprintf(g->text + n, sizeof g->text - n, "%.*s|%.*s;", (int)al, a, (int)bl, b);
    else if (g->type == T_ZSET)
        snprintf(g->text + n, sizeof g->text - n, "%.*s|%g;", (int)al, a, score);
    else
        snprintf(g->text + n, sizeof g->text - n, "%.*s;", (int)al, a);
    return 0;
}

static const struct rdb_value_cb cb = { cb_begin, cb_string, cb_elem, NULL };

/* Read one value (type byte first) from p; returns the element count. */
static long long read_one(const void *p, size_t len, struct got *g)
{
    memset(g, 0, sizeof *g);
    struct rdb_reader r;
    rdb_reader_init(&r, p, len);
    int type;
    long long n = rdb_read_byte(&r, &type) < 0 ? -1 : rdb_read_value(&r, type, &cb, g);
    rdb_reader_free(&r);
    return n;
}

#define LIT(s) s, sizeof(s) - 1

static void test_crc64(void **state)
{
    (void)state;
    assert_true(rdb_crc64(0, "123456789", 9) == UINT64_C(0xe9c6d914c4b8d9ca));
    /* split input gives the same CRC (the slicing and the byte loop agree) */
    const char *s = "The quick brown fox jumps over the lazy dog, twice over.";
    uint64_t whole = rdb_crc64(0, s, strlen(s));
    for (size_t cut = 0; cut <= strlen(s); cut++)
        assert_true(rdb_crc64(rdb_crc64(0, s, cut), s + cut, strlen(s) - cut) == whole);
}

static void test_lzf(void **state)
{
    (void)state;
    /* literal "abc", then a back reference of 6 bytes at distance 3 */
    const unsigned char in[] = { 0x02, 'a', 'b', 'c', 0x80, 0x02 };
    char out[16];
    assert_int_equal(rdb_lzf_decompress(in, sizeof in, out, sizeof out), 9);
    assert_memory_equal(out, "abcabcabc", 9);
    /* too small an output, a reference before the start, a cut input */
    assert_int_equal(rdb_lzf_decompress(in, sizeof in, out, 8), 0);
    const unsigned char before[] = { 0x00, 'a', 0x20, 0x05 };
    assert_int_equal(rdb_lzf_decompress(before, sizeof before, out, sizeof out), 0);
    assert_int_equal(rdb_lzf_decompress(in, 3, out, sizeof out), 0);
}

static void test_redis_payloads(void **state)
{
    (void)state;
    struct got g;
    size_t vl;
    /* DUMP of "hello" and of RPUSH hl a 1000, from redis-server 7.0.15 */
    const char str[] = "\x00\x05hello\n\x00" "cr\xdfve4 \n";
    assert_int_equal(rdb_payload_check(str, sizeof str - 1, &vl), 0);
    assert_int_equal(vl, 7);
    assert_int_equal(read_one(str, vl, &g), 1);
    assert_string_equal(g.text, "=hello");
    const char list[] = "\x12\x01\x02\r\r\x00\x00\x00\x02\x00\x81" "a\x02\xc3\xe8\x02\xff\n\x00}P\xd8\xc9" "1\x9f" "2j";
    assert_int_equal(rdb_payload_check(list, sizeof list - 1, &vl), 0);
    assert_int_equal(read_one(list, vl, &g), 2);
    assert_int_equal(g.type, T_LIST);
    assert_string_equal(g.text, "a;1000;");
    /* one flipped bit, a newer version */
    char bad[sizeof list];
    memcpy(bad, list, sizeof list);
    bad[12] ^= 1;
    assert_int_equal(rdb_payload_check(bad, sizeof list - 1, &vl), -1);
    memcpy(bad, list, sizeof list);
    bad[sizeof list - 11] = 11;
    assert_int_equal(rdb_payload_check(bad, sizeof list - 1, &vl), -1);
}

static void test_listpack_entries(void **state)
{
    (void)state;
    /* a hash listpack: "a" -> 5, "neg" -> -1 (13-bit), "n" -> 1000 (16-bit),
     * "s" -> 70-byte string (12-bit length) */
    unsigned char lp[256];
    size_t n = 6;
    const unsigned char e1[] = { 0x81, 'a', 0x02, 0x05, 0x01, 0x83, 'n', 'e', 'g', 0x04, 0xdf, 0xff, 0x02,
                                 0x81, 'n', 0x02, 0xf1, 0xe8, 0x03, 0x03, 0x81, 's', 0x02, 0xe0, 70 };
    memcpy(lp + n, e1, sizeof e1);
    n += sizeof e1;
    memset(lp + n, 'x', 70);
    n += 70;
    lp[n++] = 72;       /* backlen of a 72-byte entry */
    lp[n++] = 0xff;
    lp[0] = (unsigned char)n, lp[1] = lp[2] = lp[3] = 0;
    lp[4] = 8, lp[5] = 0;
    unsigned char v[300];
    v[0] = RDB_TYPE_HASH_LISTPACK;
    v[1] = 0x40 | (unsigned char)(n >> 8);
    v[2] = (unsigned char)n;
    memcpy(v + 3, lp, n);
    struct got g;
    assert_int_equal(read_one(v, n + 3, &g), 4);
    char want[200];
    snprintf(want, sizeof want, "a|5;neg|-1;n|1000;s|%.70s;",
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    assert_string_equal(g.text, want);
    /* the same bytes as a zset: scores "5", "-1" ... and "xxx" is no score */
    v[0] = RDB_TYPE_ZSET_LISTPACK;
    assert_int_equal(read_one(v, n + 3, &g), -1);
    /* cut short */
    v[0] = RDB_TYPE_HASH_LISTPACK;
    v[2] = (unsigned char)(n - 3);
    assert_int_equal(read_one(v, n, &g), -1);
}

static void test_ziplist_and_intset(void **state)
{
    (void)state;
    /* ziplist: "a", immediate 4, int16 -2, int8 -128, int24 70000 */
    const unsigned char zl[] = { 28, 0, 0, 0, 0, 0, 0, 0, 5, 0,
                                 0x00, 0x01, 'a', 0x03, 0xf5, 0x02, 0xc0, 0xfe, 0xff, 0x04, 0xfe, 0x80,
                                 0x03, 0xf0, 0x70, 0x11, 0x01, 0xff };
    unsigned char v[64];
    v[0] = RDB_TYPE_LIST_ZIPLIST;
    v[1] = sizeof zl;
    memcpy(v + 2, zl, sizeof zl);
    struct got g;
    assert_int_equal(read_one(v, sizeof zl + 2, &g), 5);
    assert_string_equal(g.text, "a;4;-2;-128;70000;");
    /* a quicklist (version 1) of that ziplist, twice */
    unsigned char q[128];
    q[0] = RDB_TYPE_LIST_QUICKLIST;
    q[1] = 2;
    size_t n = 2;
    for (int i = 0; i < 2; i++) {
        q[n++] = sizeof zl;
        memcpy(q + n, zl, sizeof zl);
        n += sizeof zl;
    }
    assert_int_equal(read_one(q, n, &g), 10);
    /* intset of int16: 1, -2, 300 */
    const unsigned char is[] = { 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0xfe, 0xff, 0x2c, 0x01 };
    v[0] = RDB_TYPE_SET_INTSET;
    v[1] = sizeof is;
    memcpy(v + 2, is, sizeof is);
    assert_int_equal(read_one(v, sizeof is + 2, &g), 3);
    assert_int_equal(g.type, T_SET);
    assert_string_equal(g.text, "1;-2;300;");
    v[1] = sizeof is - 1;   /* length and size disagree */
    assert_int_equal(read_one(v, sizeof is + 1, &g), -1);
}

static void test_write_read_back(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    /* integers are integer-encoded as Redis does, others raw */
    rdb_write_string(&out, LIT("123"));
    assert_int_equal(out.len, 2);
    assert_int_equal((unsigned char)out.data[0], 0xc0);
    buf_clear(&out);
    rdb_write_string(&out, LIT("-129"));
    assert_memory_equal(out.data, "\xc1\x7f\xff", 3);
    buf_clear(&out);
    rdb_write_string(&out, LIT("12345678901"));   /* beyond 32 bits: raw */
    assert_int_equal(out.len, 12);
    buf_clear(&out);
    rdb_write_string(&out, LIT("007"));            /* not canonical: raw */
    assert_int_equal(out.len, 4);
    /* a zset of three, written then read through a payload */
    buf_clear(&out);
    rdb_write_type(&out, RDB_TYPE_ZSET_2);
    rdb_write_len(&out, 3);
    const char *m[] = { "a", "b", "c" };
    double s[] = { 1.5, -2, 1e300 };
    for (int i = 0; i < 3; i++) {
        rdb_write_string(&out, m[i], 1);
        rdb_write_double(&out, s[i]);
    }
    rdb_write_footer(&out, 0);
    size_t vl;
    assert_int_equal(rdb_payload_check(out.data, out.len, &vl), 0);
    struct got g;
    assert_int_equal(read_one(out.data, vl, &g), 3);
    assert_string_equal(g.text, "a|1.5;b|-2;c|1e+300;");
    /* long lengths */
    buf_clear(&out);
    rdb_write_len(&out, 70000);
    rdb_write_len(&out, UINT64_C(1) << 33);
    struct rdb_reader r;
    rdb_reader_init(&r, out.data, out.len);
    uint64_t a, b;
    assert_int_equal(rdb_read_len(&r, &a), 0);
    assert_int_equal(rdb_read_len(&r, &b), 0);
    assert_true(a == 70000 && b == UINT64_C(1) << 33);
    assert_int_equal(rdb_read_len(&r, &a), -1);
    rdb_reader_free(&r);
    buf_free(&out);
}

/* Listpacks and intsets written here read back entry for entry: every
 * integer width, every string header, backlens around their bounds. */
static void test_listpack_writer(void **state)
{
    (void)state;
    static char big[20000];
    memset(big, 'q', sizeof big);
    const char *ints[] = { "0", "127", "128", "-1", "-4096", "4095", "4096", "-32768", "32767", "32768",
                           "-8388608", "8388607", "8388608", "-2147483648", "2147483647", "2147483648",
                           "-9223372036854775808", "9223372036854775807", "007", "+1", "-0", "" };
    size_t lens[] = { 1, 63, 64, 122, 123, 4095, 4096, 16378, 16379, 20000 };
    struct rdb_lp lp;
    rdb_lp_init(&lp);
    char want[200000] = "";
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        rdb_lp_append(&lp, ints[i], strlen(ints[i]));
        strcat(want, ints[i]);
        strcat(want, ";");
    }
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        rdb_lp_append(&lp, big, lens[i]);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%.*s;", (int)lens[i], big);
    }
    rdb_lp_finish(&lp);
    buf v;
    buf_init(&v);
    rdb_write_type(&v, RDB_TYPE_LIST_QUICKLIST_2);
    rdb_write_len(&v, 1);
    rdb_write_len(&v, 2);
    rdb_write_len(&v, lp.b.len);
    buf_append(&v, lp.b.data, lp.b.len);
    static struct got g;
    memset(&g, 0, sizeof g);
    /* the element text is longer than got.text: compare the count and
     * the small ones */
    assert_int_equal(read_one(v.data, v.len, &g), (long long)(sizeof ints / sizeof ints[0] + sizeof lens / sizeof lens[0]));
    assert_memory_equal(g.text, want, strlen(g.text));
    /* the backlen of each entry gives back its size, read from the end */
    const unsigned char *p = (const unsigned char *)lp.b.data + lp.b.len - 1;   /* the 0xff */
    size_t entries = 0;
    while (p > (const unsigned char *)lp.b.data + 6) {
        uint64_t l = 0;
        int shift = 0;
        const unsigned char *q = p - 1;
        for (;;) {
            l |= (uint64_t)(q[0] & 127) << shift;
            if (!(q[0] & 128)) break;
            shift += 7;
            q--;
        }
        p = q - l;
        entries++;
    }
    assert_int_equal(entries, lp.count);
    assert_ptr_equal(p, (const unsigned char *)lp.b.data + 6);
    rdb_lp_free(&lp);
    buf_free(&v);
    /* intset: sorted, width from the extremes */
    long long vals[] = { 5, -3, 70000 };
    buf is;
    buf_init(&is);
    rdb_write_type(&is, RDB_TYPE_SET_INTSET);
    rdb_write_intset(&is, vals, 3);
    assert_int_equal(read_one(is.data, is.len, &g), 3);
    assert_string_equal(g.text, "-3;5;70000;");
    assert_int_equal((unsigned char)is.data[2], 4);   /* int32 encoding */
    buf_free(&is);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64),
        cmocka_unit_test(test_lzf),
        cmocka_unit_test(test_redis_payloads),
        cmocka_unit_test(test_listpack_entries),
        cmocka_unit_test(test_ziplist_and_intset),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_listpack_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
