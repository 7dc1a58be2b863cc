/* test_node_zset: the sorted set storage layer (node/storage/zset.c) against a
 * model — a sorted array of (score, member) — on a real store whose data
 * is partly committed to LevelDB and partly pending in the overlay: every
 * rank in both walk directions, ZRANK-style ranks, counts of random score
 * and lex ranges (long ones take the walk-the-outside path), range starts,
 * and the parsing of score and lex bounds with Redis's quirks.
 * STRATA_SEED replays a run. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "server.h"
#include "util.h"
#include "zset_internal.h"

#define N 1500
#define VERSION 77

struct elem {
    double score;
    char member[16];
    size_t mlen;
};

static struct elem model[N];
static char tmpdir[256];
static unsigned seed;

static int elem_cmp(const void *a, const void *b)
{
    const struct elem *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    size_t n = x->mlen < y->mlen ? x->mlen : y->mlen;
    int c = memcmp(x->member, y->member, n);
    if (c) return c;
    return x->mlen < y->mlen ? -1 : x->mlen > y->mlen;
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("STRATA_SEED");
    seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)now_us();
    printf("test_node_zset: seed %u (STRATA_SEED=%u replays it)\n", seed, seed);
    srandom(seed);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_node_zset.%d", (int)getpid());
    struct store_opts o = { 1 << 20, 1 << 20, 100, 0, 0, 16 }; /* small meta cache: collisions */
    char *err = NULL;
    srv.st = store_open(tmpdir, &o, &err);
    if (!srv.st) fprintf(stderr, "open: %s\n", err);
    assert_non_null(srv.st);
    /* Scores with many ties (so member order matters), +/-inf, fractions;
     * members of varying length with shared prefixes. */
    for (int i = 0; i < N; i++) {
        long r = random() % 100;
        model[i].score = r < 2 ? -INFINITY : r < 4 ? INFINITY
                       : r < 60 ? (double)(random() % 40) - 20 : (double)(random() % 10000) / 7.0;
        model[i].mlen = (size_t)snprintf(model[i].member, sizeof model[i].member, "%c%d",
                                         'a' + (int)(random() % 3), i);
        zset_put(VERSION, model[i].member, model[i].mlen, model[i].score, 0, 0);
        /* the first two thirds are committed, the rest stays pending */
        if (i == 2 * N / 3) assert_int_equal(store_commit(srv.st, 0, NULL), 0);
    }
    /* rescore some members: the old index entry must go */
    for (int i = 0; i < N; i += 7) {
        double old = model[i].score;
        model[i].score = (double)(random() % 30) - 15;
        zset_put(VERSION, model[i].member, model[i].mlen, model[i].score, 1, old);
    }
    qsort(model, N, sizeof model[0], elem_cmp);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(srv.st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_scores_and_ranks(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        double s;
        assert_int_equal(zset_score(VERSION, model[i].member, model[i].mlen, &s), 1);
        assert_true(s == model[i].score);
        assert_int_equal(zset_rank(VERSION, N, model[i].member, model[i].mlen, s), i);
    }
    double s;
    assert_int_equal(zset_score(VERSION, "zz", 2, &s), 0);
}

static void test_walk_every_rank_both_ways(void **state)
{
    (void)state;
    for (int rev = 0; rev <= 1; rev++) {
        zwalk w;
        zwalk_open(&w, VERSION, rev);
        for (int r = 0; r < N; r += 1 + (int)(random() % 9)) {
            assert_int_equal(zwalk_rank(&w, (uint64_t)r, N), 1);
            const struct elem *e = &model[rev ? N - 1 - r : r];
            assert_true(w.score == e->score);
            assert_int_equal(w.mlen, e->mlen);
            assert_memory_equal(w.member, e->member, e->mlen);
            /* and the walk goes on in its direction from there */
            if (r + 1 < N) {
                assert_int_equal(zwalk_next(&w), 1);
                e = &model[rev ? N - 2 - r : r + 1];
                assert_memory_equal(w.member, e->member, e->mlen);
            }
        }
        assert_int_equal(zwalk_rank(&w, N, N), 0);
        zwalk_close(&w);
    }
}

static double pick_bound(void)
{
    long r = random() % 10;
    if (r == 0) return -INFINITY;
    if (r == 1) return INFINITY;
    if (r < 6) return (double)(random() % 44) - 22;
    return model[random() % N].score;
}

static void test_score_ranges(void **state)
{
    (void)state;
    for (int t = 0; t < 400; t++) {
        struct zscore_range r = { pick_bound(), pick_bound(), (int)(random() % 2),
                                  (int)(random() % 2) };
        long long want = 0;
        int first = -1, last = -1;
        for (int i = 0; i < N; i++)
            if (zscore_gte_min(&r, model[i].score) && zscore_lte_max(&r, model[i].score)) {
                want++;
                if (first < 0) first = i;
                last = i;
            }
        if (zscore_range_empty(&r)) {
            assert_int_equal(want, 0);
            continue;
        }
        assert_int_equal(zset_count(VERSION, N, &r, NULL), want);
        zwalk w;
        zwalk_open(&w, VERSION, 0);
        int ok = zwalk_score_start(&w, &r) && zwalk_score_in(&w, &r);
        assert_int_equal(ok, want > 0);
        if (ok) assert_memory_equal(w.member, model[first].member, model[first].mlen);
        zwalk_close(&w);
        zwalk_open(&w, VERSION, 1);
        ok = zwalk_score_start(&w, &r) && zwalk_score_in(&w, &r);
        assert_int_equal(ok, want > 0);
        if (ok) assert_memory_equal(w.member, model[last].member, model[last].mlen);
        zwalk_close(&w);
    }
}

/* Lex ranges on a second zset whose scores are all equal. */
static void test_lex_ranges(void **state)
{
    (void)state;
    const uint64_t v = VERSION + 1;
    for (int i = 0; i < N; i++) zset_put(v, model[i].member, model[i].mlen, 0, 0, 0);
    static const char *const items[] = { "-", "+", "[a", "(a", "[b1", "(b1", "[c", "(c9",
                                         "[a5", "(b", "[", "(" };
    const size_t ni = sizeof items / sizeof items[0];
    for (size_t x = 0; x < ni; x++)
        for (size_t y = 0; y < ni; y++) {
            struct zlex_range r;
            assert_int_equal(zlex_range_parse(items[x], strlen(items[x]), items[y],
                                              strlen(items[y]), &r), 0);
            long long want = 0;
            for (int i = 0; i < N; i++)
                if (zlex_gte_min(&r, model[i].member, model[i].mlen) &&
                    zlex_lte_max(&r, model[i].member, model[i].mlen))
                    want++;
            if (zlex_range_empty(&r)) {
                assert_int_equal(want, 0);
                continue;
            }
            assert_int_equal(zset_count(v, N, NULL, &r), want);
            zwalk w;
            zwalk_open(&w, v, 1);
            long long n = 0;
            for (zwalk_lex_start(&w, &r); zwalk_lex_in(&w, &r); zwalk_next(&w)) n++;
            zwalk_close(&w);
            assert_int_equal(n, want);
        }
}

static void test_parse_bounds(void **state)
{
    (void)state;
    struct zscore_range r;
    /* strtod's rules, as zslParseRange: spaces in front, hex, "" and "("
     * (zero), saturation; not NaN, not trailing bytes */
    assert_int_equal(zscore_range_parse(" 1", 2, "0x10", 4, &r), 0);
    assert_true(r.min == 1 && r.max == 16 && !r.minex && !r.maxex);
    assert_int_equal(zscore_range_parse("", 0, "(", 1, &r), 0);
    assert_true(r.min == 0 && r.max == 0 && r.maxex);
    assert_int_equal(zscore_range_parse("(-inf", 5, "1e400", 5, &r), 0);
    assert_true(r.min == -INFINITY && r.minex && r.max == INFINITY);
    assert_int_equal(zscore_range_parse("1\0junk", 6, "2", 1, &r), 0); /* ends at NUL */
    assert_true(r.min == 1);
    assert_int_equal(zscore_range_parse("nan", 3, "1", 1, &r), -1);
    assert_int_equal(zscore_range_parse("1", 1, "(nan", 4, &r), -1);
    assert_int_equal(zscore_range_parse("1 ", 2, "2", 1, &r), -1);
    assert_int_equal(zscore_range_parse("[1", 2, "2", 1, &r), -1);

    struct zlex_range l;
    assert_int_equal(zlex_range_parse("-", 1, "+", 1, &l), 0);
    assert_int_equal(l.min.kind, ZLEX_MIN_INF);
    assert_int_equal(l.max.kind, ZLEX_MAX_INF);
    assert_int_equal(zlex_range_parse("+\0x", 3, "[a", 2, &l), 0); /* "+" then NUL */
    assert_int_equal(zlex_range_empty(&l), 1);
    assert_int_equal(zlex_range_parse("(a", 2, "[", 1, &l), 0);
    assert_true(l.min.ex && l.min.len == 1 && !l.max.ex && l.max.len == 0);
    assert_int_equal(zlex_range_empty(&l), 1);
    assert_int_equal(zlex_range_parse("[a", 2, "[a", 2, &l), 0);
    assert_int_equal(zlex_range_empty(&l), 0);
    assert_int_equal(zlex_range_parse("[a", 2, "(a", 2, &l), 0);
    assert_int_equal(zlex_range_empty(&l), 1);
    assert_int_equal(zlex_range_parse("a", 1, "+", 1, &l), -1);
    assert_int_equal(zlex_range_parse("-", 1, "", 0, &l), -1);
    assert_int_equal(zlex_range_parse("+x", 2, "+", 1, &l), -1);
}

static void test_delete_keeps_index_in_step(void **state)
{
    (void)state;
    /* remove every third element through a walk that deletes as it goes */
    zwalk w;
    long long removed = 0;
    zwalk_open(&w, VERSION, 0);
    int i = 0;
    for (zwalk_head(&w); w.valid; zwalk_next(&w), i++)
        if (i % 3 == 0) {
            zset_del(VERSION, w.member, w.mlen, w.score);
            removed++;
        }
    zwalk_close(&w);
    assert_int_equal(i, N);
    /* what is left, from the highest down: ranks not divisible by 3 */
    int want = N - 1;
    zwalk_open(&w, VERSION, 1);
    for (zwalk_head(&w); w.valid; zwalk_next(&w), want--) {
        while (want % 3 == 0) want--;
        assert_true(want > 0);
        assert_int_equal(w.mlen, model[want].mlen);
        assert_memory_equal(w.member, model[want].member, model[want].mlen);
    }
    zwalk_close(&w);
    assert_int_equal(want, 0); /* the last one seen was rank 1 */
    struct zscore_range all = { -INFINITY, INFINITY, 0, 0 };
    assert_int_equal(zset_count(VERSION, (uint64_t)(N - removed), &all, NULL), N - removed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_and_ranks),
        cmocka_unit_test(test_walk_every_rank_both_ways),
        cmocka_unit_test(test_score_ranges),
        cmocka_unit_test(test_lex_ranges),
        cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_delete_keeps_index_in_step),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
