/* Unit tests for the parsing and matching in sentinel/mon.c: INFO
 * replication of a strata-node master (slaveN lines with acked_lsn), of
 * a replica, of redis-server; which topology node a slaveN line is about
 * (the acked-lsn safety check depends on it); when a sentinel may renew
 * a master's fencing lease. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mon.h"
#include "sentinel.h"

static struct sgroup grp;

static void add_node(struct sgroup *g, const char *host, const char *ip, int port)
{
    struct snode *n = &g->nodes[g->nnodes++];
    memset(n, 0, sizeof *n);
    snprintf(n->host, sizeof n->host, "%s", host);
    snprintf(n->ip, sizeof n->ip, "%s", ip);
    n->port = port;
    n->priority = 100;
}

static int setup(void **state)
{
    (void)state;
    memset(&grp, 0, sizeof grp);
    snprintf(grp.name, sizeof grp.name, "g1");
    add_node(&grp, "db1.example", "10.0.0.1", 7000);
    add_node(&grp, "db2.example", "10.0.0.2", 7000);
    add_node(&grp, "localhost", "127.0.0.1", 7003);
    return 0;
}

static const char master_info[] =
    "# Replication\r\nrole:master\r\nconnected_slaves:3\r\n"
    "slave0:ip=10.0.0.2,port=7000,state=online,offset=90,lag=0,acked_lsn=90,sent_lsn=95,"
    "lag_records=5,lag_ms=1\r\n"
    "slave1:ip=127.0.0.1,port=7003,state=online,offset=70,lag=0,acked_lsn=70,sent_lsn=95,"
    "lag_records=25,lag_ms=3\r\n"
    "slave2:ip=192.168.9.9,port=7777,state=online,offset=120,lag=0,acked_lsn=120,sent_lsn=120,"
    "lag_records=0,lag_ms=0\r\n"
    "min_replica_acks:1\r\nsemi_sync_status:on\r\nfenced:0\r\nfence_lease_ms:800\r\n"
    "fence_sentinels:3/3\r\nmaster_repl_offset:95\r\nepoch:4\r\nlsn:95\r\n"
    "last_record_epoch:4\r\n\r\n";

static void test_parse_strata_master(void **state)
{
    (void)state;
    struct snode *m = &grp.nodes[0];
    mon_parse_info(&grp, m, master_info, 1234);
    assert_int_equal(m->role, SNODE_MASTER);
    assert_true(m->is_strata);
    assert_int_equal(m->epoch, 4);
    assert_int_equal(m->last_epoch, 4);
    assert_int_equal(m->lsn, 95);
    assert_int_equal(m->lease_ms, 800);
    assert_false(m->fenced);
    assert_int_equal(m->info_ms, 1234);
    assert_string_equal(m->master_host, "");
    /* Replicas matched by the address the master sees (db2's resolved ip;
     * localhost's 127.0.0.1), each with its acked lsn. */
    assert_int_equal(grp.nodes[1].acked_lsn, 90);
    assert_int_equal(grp.nodes[2].acked_lsn, 70);
    /* The unknown replica's ack still counts for the safety floor. */
    assert_int_equal(grp.acked_floor, 120);
}

static void test_parse_replica_and_redis(void **state)
{
    (void)state;
    struct snode *r = &grp.nodes[1];
    mon_parse_info(&grp, r,
                   "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:7000\r\n"
                   "master_link_status:up\r\nslave_repl_offset:77\r\nfenced:0\r\n"
                   "master_repl_offset:77\r\nepoch:4\r\nlsn:80\r\nlast_record_epoch:3\r\n",
                   99);
    assert_int_equal(r->role, SNODE_REPLICA);
    assert_string_equal(r->master_host, "10.0.0.1");
    assert_int_equal(r->master_port, 7000);
    assert_true(r->master_link_up);
    assert_int_equal(r->lsn, 80);          /* strata: lsn, not the offset */
    assert_int_equal(r->last_epoch, 3);
    assert_int_equal(r->lease_ms, 0);
    /* redis-server: offsets; link down. */
    mon_parse_info(&grp, r,
                   "# Replication\nrole:slave\nmaster_host:10.0.0.9\nmaster_port:6379\n"
                   "master_link_status:down\nslave_repl_offset:5000\nmaster_repl_offset:4000\n",
                   100);
    assert_false(r->is_strata);
    assert_false(r->master_link_up);
    assert_int_equal(r->lsn, 5000);
    /* No role line: nothing changes. */
    mon_parse_info(&grp, r, "# Replication\r\nconnected_slaves:0\r\n", 200);
    assert_int_equal(r->info_ms, 100);
    assert_int_equal(r->role, SNODE_REPLICA);
    /* A master's line with acked_lsn only through offset (redis-server). */
    grp.acked_floor = 0;
    mon_parse_info(&grp, &grp.nodes[0],
                   "role:master\nslave0:ip=10.0.0.2,port=7000,state=online,offset=333,lag=0\n"
                   "master_repl_offset:400\n",
                   300);
    assert_int_equal(grp.nodes[1].acked_lsn, 333);
    assert_int_equal(grp.nodes[0].lsn, 400);
    assert_int_equal(grp.acked_floor, 333);
}

static void test_match_replica(void **state)
{
    (void)state;
    assert_int_equal(mon_match_replica(&grp, "db1.example", 7000), 0);   /* topology host */
    assert_int_equal(mon_match_replica(&grp, "10.0.0.2", 7000), 1);      /* resolved ip */
    assert_int_equal(mon_match_replica(&grp, "127.0.0.1", 7003), 2);
    /* Seen from another address (NAT, a second interface): the only node
     * with that port is still recognised. */
    assert_int_equal(mon_match_replica(&grp, "172.16.0.5", 7003), 2);
    /* ... but two nodes share port 7000: ambiguous, no guess. */
    assert_int_equal(mon_match_replica(&grp, "172.16.0.5", 7000), -1);
    assert_int_equal(mon_match_replica(&grp, "10.0.0.2", 7001), -1);
    /* A node whose host did not resolve matches by host or port only. */
    grp.nodes[2].ip[0] = '\0';
    assert_int_equal(mon_match_replica(&grp, "127.0.0.1", 7003), 2);
}

static void test_may_renew(void **state)
{
    (void)state;
    memset(&snt.conf.s, 0, sizeof snt.conf.s);
    snt.conf.s.failover_timeout_ms = 3000;
    grp.config_epoch = 5;
    grp.vote_epoch = 5;
    assert_true(mon_may_renew(&grp, 10000));
    grp.odown = 1;
    assert_false(mon_may_renew(&grp, 10000));
    grp.odown = 0;
    grp.fo.state = FO_ELECTING;
    assert_false(mon_may_renew(&grp, 10000));
    grp.fo.state = FO_NONE;
    /* Voted in epoch 6 at t=9000: silent until the failover timeout. */
    grp.vote_epoch = 6;
    grp.vote_ms = 9000;
    assert_false(mon_may_renew(&grp, 9001));
    assert_false(mon_may_renew(&grp, 11999));
    assert_true(mon_may_renew(&grp, 12000));
    /* Once the new config is taken, the vote no longer matters. */
    grp.config_epoch = 6;
    assert_true(mon_may_renew(&grp, 9001));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_parse_strata_master, setup),
        cmocka_unit_test_setup(test_parse_replica_and_redis, setup),
        cmocka_unit_test_setup(test_match_replica, setup),
        cmocka_unit_test_setup(test_may_renew, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
