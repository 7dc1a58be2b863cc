/* Unit tests for the pure decisions of sentinel/failover.c: which replica
 * is promoted (reachable, priority 0 never, highest (epoch, lsn), then an
 * existing master, then priority, then name), how many votes a leader
 * needs, how long an elected leader waits for the old master's lease,
 * and reading a ROLE reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "failover.h"
#include "sentinel.h"

static void node(struct snode *n, const char *host, int port, int prio, uint64_t last_epoch,
                 uint64_t lsn)
{
    memset(n, 0, sizeof *n);
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    n->priority = prio;
    n->role = SNODE_REPLICA;
    n->last_epoch = last_epoch;
    n->lsn = lsn;
}

static const int all_usable[TOPO_MAX_NODES] = { 1, 1, 1, 1, 1, 1, 1, 1 };

static void test_highest_epoch_then_lsn(void **state)
{
    (void)state;
    struct snode n[4];
    node(&n[0], "10.0.0.1", 7000, 100, 3, 50);   /* the old master, excluded */
    node(&n[1], "10.0.0.2", 7000, 100, 2, 900);  /* more records, older epoch */
    node(&n[2], "10.0.0.3", 7000, 100, 3, 40);
    node(&n[3], "10.0.0.4", 7000, 100, 3, 41);
    assert_int_equal(failover_choose(n, 4, 0, all_usable), 3);
    n[2].lsn = 41;   /* tie on (epoch, lsn): the name decides */
    assert_int_equal(failover_choose(n, 4, 0, all_usable), 2);
    n[1].last_epoch = 4;
    assert_int_equal(failover_choose(n, 4, 0, all_usable), 1);
}

static void test_priority_zero_and_unreachable_excluded(void **state)
{
    (void)state;
    struct snode n[3];
    node(&n[0], "a", 1, 100, 1, 10);
    node(&n[1], "b", 1, 0, 1, 99);     /* best data, but never to be promoted */
    node(&n[2], "c", 1, 100, 1, 5);
    int usable[3] = { 1, 1, 1 };
    assert_int_equal(failover_choose(n, 3, -1, usable), 0);
    usable[0] = 0;                     /* unreachable or stale INFO */
    assert_int_equal(failover_choose(n, 3, -1, usable), 2);
    usable[2] = 0;
    assert_int_equal(failover_choose(n, 3, -1, usable), -1);
    usable[0] = usable[2] = 1;
    n[2].role = SNODE_UNKNOWN;         /* never answered INFO */
    assert_int_equal(failover_choose(n, 3, 0, usable), -1);
}

static void test_ties_priority_then_name_then_port(void **state)
{
    (void)state;
    struct snode n[4];
    node(&n[0], "b", 7002, 100, 1, 10);
    node(&n[1], "b", 7001, 100, 1, 10);
    node(&n[2], "a", 7009, 100, 1, 10);
    node(&n[3], "z", 7000, 50, 1, 10);   /* lower value: preferred */
    assert_int_equal(failover_choose(n, 4, -1, all_usable), 3);
    n[3].priority = 100;
    assert_int_equal(failover_choose(n, 4, -1, all_usable), 2);
    n[2].port = 7000;
    snprintf(n[2].host, sizeof n[2].host, "c");
    assert_int_equal(failover_choose(n, 4, -1, all_usable), 1);
    /* A replica a dead leader already promoted wins a tie on data. */
    n[0].role = SNODE_MASTER;
    assert_int_equal(failover_choose(n, 4, -1, all_usable), 0);
    /* ... but not over more data. */
    n[2].lsn = 11;
    assert_int_equal(failover_choose(n, 4, -1, all_usable), 2);
    /* failover_better is a strict order: never both ways. */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (i != j) assert_false(failover_better(&n[i], &n[j]) && failover_better(&n[j], &n[i]));
}

/* Safe promotion: N - K + 1 positions, K clamped to 1..N (K = 0, unknown
 * or a degraded master count as 1). */
static void test_positions_needed(void **state)
{
    (void)state;
    assert_int_equal(failover_positions_needed(2, 1, 1, 0), 2);
    assert_int_equal(failover_positions_needed(2, 1, 2, 0), 1);
    assert_int_equal(failover_positions_needed(3, 1, 2, 0), 2);
    assert_int_equal(failover_positions_needed(2, 1, 5, 0), 1);
    assert_int_equal(failover_positions_needed(2, 1, 0, 0), 2);
    assert_int_equal(failover_positions_needed(2, 0, 2, 0), 2);   /* unknown */
    assert_int_equal(failover_positions_needed(2, 1, 2, 1), 2);   /* degraded */
    assert_int_equal(failover_positions_needed(1, 1, 1, 0), 1);
    assert_int_equal(failover_positions_needed(0, 1, 1, 0), 0);
}

static void test_choose_safe(void **state)
{
    (void)state;
    struct snode n[4];
    node(&n[0], "10.0.0.1", 7000, 100, 3, 90);   /* the old master, excluded */
    node(&n[1], "10.0.0.2", 7000, 100, 3, 50);
    node(&n[2], "10.0.0.3", 7000, 100, 3, 70);
    node(&n[3], "10.0.0.4", 7000, 100, 3, 60);
    int heard[4] = { 1, 1, 0, 1 };
    int nh = -1;
    const char *code = NULL;
    /* 2 of 3 heard, 3 needed: refused, even though one is reachable. */
    assert_int_equal(failover_choose_safe(n, 4, 0, heard, 3, &nh, &code), -1);
    assert_int_equal(nh, 2);
    assert_string_equal(code, "not-enough-replicas");
    /* 2 needed: the best of those heard. */
    assert_int_equal(failover_choose_safe(n, 4, 0, heard, 2, &nh, &code), 3);
    heard[2] = 1;
    assert_int_equal(failover_choose_safe(n, 4, 0, heard, 3, &nh, &code), 2);
    /* The newest cannot be promoted: refused rather than lose its writes. */
    n[2].priority = 0;
    code = NULL;
    assert_int_equal(failover_choose_safe(n, 4, 0, heard, 2, &nh, &code), -1);
    assert_string_equal(code, "newest-replica-not-promotable");
    /* A newer epoch wins over more records. */
    n[2].priority = 100;
    n[1].last_epoch = 4;
    assert_int_equal(failover_choose_safe(n, 4, 0, heard, 3, &nh, &code), 1);
    /* Nobody heard, nothing needed (no replicas): still nothing to promote. */
    int none[4] = { 0, 0, 0, 0 };
    assert_int_equal(failover_choose_safe(n, 4, 0, none, 0, &nh, &code), -1);
}

static void test_needed_votes(void **state)
{
    (void)state;
    assert_int_equal(snt_majority_of(1), 1);
    assert_int_equal(snt_majority_of(2), 2);
    assert_int_equal(snt_majority_of(3), 2);
    assert_int_equal(snt_majority_of(4), 3);
    assert_int_equal(snt_majority_of(5), 3);
    /* A majority always, and the quorum when it is larger. */
    assert_int_equal(failover_needed_votes(3, 2), 2);
    assert_int_equal(failover_needed_votes(3, 1), 2);
    assert_int_equal(failover_needed_votes(3, 3), 3);
    assert_int_equal(failover_needed_votes(5, 2), 3);
    assert_int_equal(failover_needed_votes(5, 4), 4);
    assert_int_equal(failover_needed_votes(1, 1), 1);
    /* Two majorities of the same n always share a member. */
    for (int n = 1; n <= SNT_MAX_PEERS; n++) assert_true(2 * snt_majority_of(n) > n);
}

static void test_fence_wait(void **state)
{
    (void)state;
    assert_int_equal(failover_fence_wait_ms(0, 100), 0);     /* no lease: no wait */
    assert_int_equal(failover_fence_wait_ms(800, 100), 800 + FO_FENCE_MARGIN_MS);
    assert_int_equal(failover_fence_wait_ms(800, 10), 800 + FO_FENCE_MARGIN_MS);
    assert_int_equal(failover_fence_wait_ms(800, 400), 1200);
}

/* A reply parsed by hiredis's own reader from RESP text. */
static redisReply *parse(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    assert_int_equal(redisReaderFeed(rd, resp, strlen(resp)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
    assert_non_null(r);
    redisReaderFree(rd);
    return r;
}

static void test_role_reply(void **state)
{
    (void)state;
    redisReply *r = parse("*3\r\n$6\r\nmaster\r\n:42\r\n*0\r\n");
    assert_true(failover_role_is_master(r));
    freeReplyObject(r);
    r = parse("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:7001\r\n$9\r\nconnected\r\n:42\r\n");
    assert_false(failover_role_is_master(r));
    freeReplyObject(r);
    r = parse("-LOADING Redis is loading the dataset in memory\r\n");
    assert_false(failover_role_is_master(r));
    freeReplyObject(r);
    r = parse("*0\r\n");
    assert_false(failover_role_is_master(r));
    freeReplyObject(r);
    r = parse("*1\r\n:1\r\n");
    assert_false(failover_role_is_master(r));
    freeReplyObject(r);
    assert_false(failover_role_is_master(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_highest_epoch_then_lsn),
        cmocka_unit_test(test_priority_zero_and_unreachable_excluded),
        cmocka_unit_test(test_ties_priority_then_name_then_port),
        cmocka_unit_test(test_positions_needed),
        cmocka_unit_test(test_choose_safe),
        cmocka_unit_test(test_needed_votes),
        cmocka_unit_test(test_fence_wait),
        cmocka_unit_test(test_role_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
