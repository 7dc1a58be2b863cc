/* test_slotmap: common/slotmap.h — the highest-epoch claim per slot wins,
 * same-epoch claims by two groups are conflicts that change nothing, the
 * coalesced ranges, and the text form round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "slotmap.h"

static struct slotmap m, m2;

static void test_claims(void **state)
{
    (void)state;
    int changed = 0;
    slotmap_init(&m);
    assert_int_equal(slotmap_claimed(&m), 0);
    assert_int_equal(slotmap_claim(&m, 0, 8191, "g1", 1, &changed), 0);
    assert_int_equal(slotmap_claim(&m, 8192, 16383, "g2", 1, &changed), 0);
    assert_int_equal(changed, 16384);
    /* A stale claim (g1 still thinks it has 4096-8191 at 1, g2 got them at 2). */
    changed = 0;
    assert_int_equal(slotmap_claim(&m, 4096, 8191, "g2", 2, &changed), 0);
    assert_int_equal(changed, 4096);
    changed = 0;
    assert_int_equal(slotmap_claim(&m, 0, 8191, "g1", 1, &changed), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(m.owner[5000], slotmap_find(&m, "g2"));
    assert_int_equal(slotmap_max_epoch(&m), 2);
    /* Conflict: g3 claims 0-9 at epoch 1 like g1: counted, ignored. */
    assert_int_equal(slotmap_claim(&m, 0, 9, "g3", 1, &changed), 10);
    assert_int_equal(m.owner[0], slotmap_find(&m, "g1"));
    /* Bad claims. */
    assert_int_equal(slotmap_claim(&m, 5, 4, "g1", 1, NULL), -1);
    assert_int_equal(slotmap_claim(&m, 0, 16384, "g1", 1, NULL), -1);
    assert_int_equal(slotmap_claim(&m, 0, 1, "g1", 0, NULL), -1);
    struct slotmap_range r[SLOTMAP_SLOTS];
    int n = slotmap_ranges(&m, r);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].first, 0);
    assert_int_equal(r[0].last, 4095);
    assert_int_equal(r[1].first, 4096);
    assert_int_equal(r[1].last, 8191);
    assert_int_equal(r[1].epoch, 2);
    assert_int_equal(r[2].first, 8192);
    /* Merge into a map that only knew the old state. */
    slotmap_init(&m2);
    slotmap_claim(&m2, 0, 8191, "g1", 1, NULL);
    changed = 0;
    assert_int_equal(slotmap_merge(&m2, &m, &changed), 0);
    assert_int_equal(changed, 4096 + 8192);
    assert_memory_equal(m2.epoch, m.epoch, sizeof m.epoch);
    slotmap_free(&m2);
}

static void test_text_and_file(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    slotmap_format(&m, &b);
    buf_append(&b, "", 1);
    assert_string_equal(b.data, "strata-slotmap 1\n0 4095 g1 1\n4096 8191 g2 2\n8192 16383 g2 1\n");
    char err[200];
    slotmap_init(&m2);
    assert_int_equal(slotmap_parse(&m2, b.data, b.len - 1, err, sizeof err), 0);
    assert_memory_equal(m2.epoch, m.epoch, sizeof m.epoch);
    slotmap_free(&m2);
    slotmap_init(&m2);
    assert_int_equal(slotmap_parse(&m2, "nope\n", 5, err, sizeof err), -1);
    assert_string_equal(err, "line 1: not a slot map (expected 'strata-slotmap 1')");
    const char *bad = "strata-slotmap 1\n0 x g1 1\n";
    assert_int_equal(slotmap_parse(&m2, bad, strlen(bad), err, sizeof err), -1);
    assert_string_equal(err, "line 2: expected '<first> <last> <group> <epoch>'");
    slotmap_free(&m2);
    char path[] = "/tmp/test_slotmap_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(slotmap_save(&m, path), 0);
    slotmap_init(&m2);
    assert_int_equal(slotmap_load(&m2, path, err, sizeof err), 1);
    assert_memory_equal(m2.owner, m.owner, sizeof m.owner);
    slotmap_free(&m2);
    unlink(path);
    slotmap_init(&m2);
    assert_int_equal(slotmap_load(&m2, path, err, sizeof err), 0);
    slotmap_free(&m2);
    slotmap_free(&m);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_text_and_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
