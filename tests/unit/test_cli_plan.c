/* test_cli_plan: cli/plan.h — the difference between the file's slots and
 * the current map as moves and jobs (coalesced ranges), the even spread of
 * rebalance with the fewest slots moved, and the one-export-one-import
 * scheduling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "plan.h"

static int intent[PLAN_SLOTS], current[PLAN_SLOTS], target[PLAN_SLOTS];

static void fill(int *m, int lo, int hi, int g)
{
    for (int s = lo; s <= hi; s++) m[s] = g;
}

static void test_diff_nothing(void **state)
{
    (void)state;
    struct plan p;
    fill(intent, 0, 8191, 0);
    fill(intent, 8192, 16383, 1);
    memcpy(current, intent, sizeof current);
    plan_diff(2, intent, current, &p);
    assert_int_equal(p.nmoves, 0);
    assert_int_equal(p.njobs, 0);
    plan_free(&p);
}

static void test_diff_moves_and_coalescing(void **state)
{
    (void)state;
    struct plan p;
    /* Current: g0 0-8191, g1 8192-16383.  Intent: g0 0-4095 and 12000-12009
     * and slot 16383; g1 4096-11999, 12010-16382. */
    fill(current, 0, 8191, 0);
    fill(current, 8192, 16383, 1);
    fill(intent, 0, 4095, 0);
    fill(intent, 4096, 16383, 1);
    fill(intent, 12000, 12009, 0);
    intent[16383] = 0;
    plan_diff(2, intent, current, &p);
    assert_int_equal(p.nmoves, 3);
    assert_int_equal(p.njobs, 2);
    /* Jobs by (from, to): g0 -> g1 first. */
    assert_int_equal(p.jobs[0].from, 0);
    assert_int_equal(p.jobs[0].to, 1);
    assert_string_equal(p.jobs[0].ranges, "4096-8191");
    assert_int_equal(p.jobs[0].nslots, 4096);
    assert_int_equal(p.jobs[1].from, 1);
    assert_int_equal(p.jobs[1].to, 0);
    assert_string_equal(p.jobs[1].ranges, "12000-12009,16383");
    assert_int_equal(p.jobs[1].nslots, 11);
    assert_int_equal(p.unknown, 0);
    plan_free(&p);
    /* Three groups, unknown owners left out and counted. */
    fill(current, 0, 16383, 0);
    fill(current, 100, 199, -1);
    fill(intent, 0, 16383, 0);
    fill(intent, 0, 299, 2);
    fill(intent, 1000, 1000, 1);
    plan_diff(3, intent, current, &p);
    assert_int_equal(p.unknown, 100);
    assert_int_equal(p.njobs, 2);
    assert_string_equal(p.jobs[0].ranges, "1000");
    assert_int_equal(p.jobs[0].to, 1);
    assert_string_equal(p.jobs[1].ranges, "0-99,200-299");
    assert_int_equal(p.jobs[1].to, 2);
    plan_free(&p);
}

static void test_diff_job_split(void **state)
{
    (void)state;
    struct plan p;
    /* 100 separate slots g0 -> g1: jobs of at most PLAN_JOB_MAX_RANGES ranges. */
    fill(current, 0, 16383, 0);
    memcpy(intent, current, sizeof intent);
    for (int i = 0; i < 100; i++) intent[i * 2] = 1;
    plan_diff(2, intent, current, &p);
    assert_int_equal(p.nmoves, 100);
    assert_int_equal(p.njobs, 2);
    assert_int_equal(p.jobs[0].nmoves, PLAN_JOB_MAX_RANGES);
    assert_int_equal(p.jobs[1].nmoves, 100 - PLAN_JOB_MAX_RANGES);
    assert_int_equal(strncmp(p.jobs[0].ranges, "0,2,4,", 6), 0);
    plan_free(&p);
}

static void test_rebalance_new_group(void **state)
{
    (void)state;
    /* Two full groups and a new empty one. */
    fill(current, 0, 8191, 0);
    fill(current, 8192, 16383, 1);
    int moved = plan_rebalance(3, current, target);
    int c0 = plan_count(target, 0), c1 = plan_count(target, 1), c2 = plan_count(target, 2);
    assert_int_equal(c0 + c1 + c2, 16384);
    assert_true(c0 >= 5461 && c0 <= 5462 && c1 >= 5461 && c1 <= 5462 && c2 >= 5461 && c2 <= 5462);
    assert_int_equal(moved, c2);             /* only the new group's share moves */
    /* Each donor keeps its lowest slots: contiguous ranges stay contiguous. */
    for (int s = 0; s < c0; s++) assert_int_equal(target[s], 0);
    for (int s = 8192; s < 8192 + c1; s++) assert_int_equal(target[s], 1);
    /* Already balanced: nothing moves. */
    memcpy(current, target, sizeof current);
    assert_int_equal(plan_rebalance(3, current, target), 0);
    assert_memory_equal(current, target, sizeof current);
    /* Uneven: g0 all, g1 none; the extra slot stays with the bigger one. */
    fill(current, 0, 16383, 0);
    assert_int_equal(plan_rebalance(2, current, target), 8192);
    assert_int_equal(plan_count(target, 0), 8192);
    /* Unknown owners are handed out too. */
    fill(current, 0, 16383, 0);
    fill(current, 0, 99, -1);
    plan_rebalance(2, current, target);
    assert_int_equal(plan_count(target, 0), 8192);
    assert_int_equal(plan_count(target, 1), 8192);
    assert_int_equal(plan_count(target, -1), 0);
    /* Odd split: 16384 over 3 with counts 6000/6000/4384 → 1 extra kept by
     * a big one; minimal movement = excess over quota. */
    fill(current, 0, 5999, 0);
    fill(current, 6000, 11999, 1);
    fill(current, 12000, 16383, 2);
    moved = plan_rebalance(3, current, target);
    assert_int_equal(moved, (6000 - 5462) + (6000 - 5461));
}

static void test_schedule(void **state)
{
    (void)state;
    struct plan p;
    /* g0 -> g1, g0 -> g2, g1 -> g2: one job per group at a time. */
    fill(current, 0, 16383, 0);
    fill(current, 10000, 16383, 1);
    memcpy(intent, current, sizeof intent);
    fill(intent, 0, 99, 1);
    fill(intent, 100, 199, 2);
    fill(intent, 10000, 10099, 2);
    plan_diff(3, intent, current, &p);
    assert_int_equal(p.njobs, 3);
    unsigned char started[8] = { 0 }, busy[3] = { 0 };
    int a = plan_next_job(&p, started, busy);
    assert_int_equal(a, 0);                  /* g0 -> g1 */
    started[a] = 1;
    busy[p.jobs[a].from] = busy[p.jobs[a].to] = 1;
    /* g0 -> g2 waits for g0, g1 -> g2 for g1 (a node runs one job). */
    assert_int_equal(plan_next_job(&p, started, busy), -1);
    busy[0] = busy[1] = 0;                   /* g0 -> g1 done */
    int b = plan_next_job(&p, started, busy);
    assert_int_equal(b, 1);                  /* g0 -> g2 */
    started[b] = 1;
    busy[0] = busy[2] = 1;
    assert_int_equal(plan_next_job(&p, started, busy), -1);
    busy[1] = 1;                             /* g1 busy with something else */
    busy[0] = busy[2] = 0;
    assert_int_equal(plan_next_job(&p, started, busy), -1);
    busy[1] = 0;
    assert_int_equal(plan_next_job(&p, started, busy), 2);
    plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_nothing),
        cmocka_unit_test(test_diff_moves_and_coalescing),
        cmocka_unit_test(test_diff_job_split),
        cmocka_unit_test(test_rebalance_new_group),
        cmocka_unit_test(test_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
