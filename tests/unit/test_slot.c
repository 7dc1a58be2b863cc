/* test_slot: CRC16 and Redis Cluster key slots (common/slot.c).
 *
 * fixtures/slots.txt holds CLUSTER KEYSLOT answers of a real redis-server
 * 7.0 for ~1000 keys (made by fixtures/gen_slots.py), so this test checks
 * compatibility with Redis without needing a server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slot.h"

static void fixture_path(char *out, size_t n, const char *name)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 1;
    snprintf(out, n, "%.*s/fixtures/%s", dir, slash ? f : ".", name);
}

#define SLOT(lit) slot_of_key(lit, sizeof(lit) - 1)

static void test_crc16(void **state)
{
    (void)state;
    assert_int_equal(crc16_xmodem("123456789", 9), 0x31C3);
    assert_int_equal(crc16_xmodem("", 0), 0);
    assert_int_equal(crc16_xmodem("A", 1), 0x58E5);
}

static void test_hash_tags(void **state)
{
    (void)state;
    /* The tag alone decides. */
    assert_int_equal(SLOT("{user1000}.following"), SLOT("user1000"));
    assert_int_equal(SLOT("{user1000}.followers"), SLOT("user1000"));
    assert_int_equal(SLOT("{user1000}.following"), 3443);
    /* Empty first tag: the whole key is hashed. */
    assert_int_equal(SLOT("foo{}{bar}"), crc16_xmodem("foo{}{bar}", 10) & 16383);
    assert_int_equal(SLOT("foo{}{bar}"), 8363);
    /* The tag is "{bar" (from the first '{' to the first '}'). */
    assert_int_equal(SLOT("foo{{bar}}zap"), SLOT("{bar"));
    assert_int_equal(SLOT("foo{{bar}}zap"), 4015);
    /* Only the first tag counts. */
    assert_int_equal(SLOT("foo{bar}{zap}"), SLOT("bar"));
    assert_int_equal(SLOT("foo{bar}{zap}"), 5061);
    /* No closing brace: whole key. */
    assert_int_equal(SLOT("{abc"), crc16_xmodem("{abc", 4) & 16383);
    assert_int_equal(SLOT(""), 0);
    assert_int_equal(SLOT("123456789"), 0x31C3 & 16383);
    /* Binary keys: a NUL inside the tag is hashed like any byte. */
    assert_int_equal(slot_of_key("x{\0}", 4), crc16_xmodem("\0", 1) & 16383);
}

static void test_slots_vs_redis(void **state)
{
    (void)state;
    char path[4096];
    fixture_path(path, sizeof path, "slots.txt");
    FILE *f = fopen(path, "r");
    if (!f) print_error("cannot open %s\n", path);
    assert_non_null(f);
    char line[1024], key[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char hex[1024];
        unsigned want;
        assert_int_equal(sscanf(line, "%1023s %u", hex, &want), 2);
        size_t kl = 0;
        if (strcmp(hex, "-") != 0) {
            kl = strlen(hex) / 2;
            assert_true(kl <= sizeof key);
            for (size_t i = 0; i < kl; i++) {
                unsigned v;
                assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
                key[i] = (char)v;
            }
        }
        unsigned got = slot_of_key(key, kl);
        if (got != want) print_error("key %s: slot %u, redis says %u\n", hex, got, want);
        assert_int_equal(got, want);
        assert_true(got < SLOT_COUNT);
        n++;
    }
    fclose(f);
    assert_true(n >= 1000);
}

/* Redis Cluster's patternHashSlot, as SORT's BY/GET check uses it. */
static void test_pattern_slot(void **state)
{
    (void)state;
    assert_int_equal(slot_of_pattern("{t}w_*", 6), (int)SLOT("t"));
    assert_int_equal(slot_of_pattern("{t}w_*->f", 9), (int)SLOT("t"));
    assert_int_equal(slot_of_pattern("w_*", 3), -1);
    assert_int_equal(slot_of_pattern("*{t}", 4), -1);
    assert_int_equal(slot_of_pattern("{t?}x", 5), -1);
    assert_int_equal(slot_of_pattern("a\\{b}", 5), -1);
    assert_int_equal(slot_of_pattern("fixed", 5), (int)SLOT("fixed"));
    assert_int_equal(slot_of_pattern("{}w", 3), (int)SLOT("{}w"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_pattern_slot),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_slots_vs_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
