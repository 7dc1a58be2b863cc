/* test_sentinel_slotseed: sentinel/slotseed.h — the table a sentinel seeds
 * a master with: the YAML's ranges, less the slots other groups' tables
 * already own, written as topology.yaml range lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "slotseed.h"

static uint16_t yaml[16384], owner[16384];

static void fill(uint16_t *m, int lo, int hi, int g)
{
    for (int s = lo; s <= hi; s++) m[s] = (uint16_t)g;
}

static void test_ranges_text(void **state)
{
    (void)state;
    char out[128];
    fill(yaml, 0, 16383, 1);
    fill(yaml, 0, 99, 0);
    fill(yaml, 200, 200, 0);
    fill(yaml, 16383, 16383, 0);
    assert_int_equal(slotseed_ranges(yaml, 0, out, sizeof out), 14);
    assert_string_equal(out, "0-99,200,16383");
    slotseed_ranges(yaml, 1, out, sizeof out);
    assert_string_equal(out, "100-199,201-16382");
    slotseed_ranges(yaml, 2, out, sizeof out);
    assert_string_equal(out, "");
    /* Truncated output stays a valid (shorter) list. */
    slotseed_ranges(yaml, 0, out, 8);
    assert_string_equal(out, "0-99");
}

static void test_plan_keeps_claimed_slots(void **state)
{
    (void)state;
    static unsigned char g0[2048];
    const unsigned char *claims[3] = { NULL, NULL, NULL };
    /* No claims: the YAML as is. */
    fill(yaml, 0, 8191, 0);
    fill(yaml, 8192, 16383, 1);
    assert_int_equal(slotseed_plan(2, yaml, 1, claims, owner), 0);
    assert_memory_equal(owner, yaml, sizeof yaml);
    /* g2 is added with 4000-8191 taken from g0 in the file, but g0's table
     * owns 0-8191: g2 gets none of them; its other slots come from g1's
     * YAML share, which g1 (no table yet) does not claim. */
    memset(g0, 0, sizeof g0);
    for (int s = 0; s <= 8191; s++) g0[s >> 3] |= (unsigned char)(1u << (s & 7));
    claims[0] = g0;
    fill(yaml, 4000, 8191, 2);
    fill(yaml, 12000, 16383, 2);
    assert_int_equal(slotseed_plan(3, yaml, 2, claims, owner), 8191 - 4000 + 1);
    for (int s = 0; s <= 8191; s++) assert_int_equal(owner[s], 0);
    for (int s = 8192; s < 12000; s++) assert_int_equal(owner[s], 1);
    for (int s = 12000; s <= 16383; s++) assert_int_equal(owner[s], 2);
    /* Its own claims never count against it. */
    assert_int_equal(slotseed_plan(3, yaml, 0, claims, owner), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_text),
        cmocka_unit_test(test_plan_keeps_claimed_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
