/* test_proxy_route: proxy/route.h — routing snapshots built from a real
 * topology (topo_load_string): key -> slot -> group (hash tags included),
 * slot counts, masters reported by sentinels overriding the first node,
 * replicas, counters carried over by group name, pub/sub group, reference
 * counting (ASan checks the frees); and the route kinds the proxy's
 * dispatcher reads from the shared command table for the commands DESIGN.md
 * names (split, all-groups, local, tx, blocking, pub/sub, refused), with
 * the key positions that decide a -CROSSSLOT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmdtable.h"
#include "pconf.h"
#include "route.h"
#include "slot.h"
#include "topology.h"

static const char yaml[] =
    "cluster: t\n"
    "password: secret\n"
    "groups:\n"
    "  - name: g1\n"
    "    slots: \"0-5000\"\n"
    "    nodes: [127.0.0.1:7001, 127.0.0.1:7002]\n"
    "  - name: g2\n"
    "    slots: \"5001-10000,16000-16383\"\n"
    "    nodes: [127.0.0.1:7003, 127.0.0.1:7004, 127.0.0.1:7005]\n"
    "  - name: g3\n"
    "    slots: \"10001-15999\"\n"
    "    nodes: [127.0.0.1:7006]\n";

static struct topology topo;
static struct proxy_settings ps;

static int setup(void **state)
{
    (void)state;
    buf errs;
    buf_init(&errs);
    int rc = topo_load_string("t.yaml", yaml, sizeof yaml - 1, &topo, NULL, &errs);
    if (rc) fprintf(stderr, "%.*s", (int)errs.len, errs.data);
    buf_free(&errs);
    assert_int_equal(rc, 0);
    memset(&ps, 0, sizeof ps);
    ps.read_from_replicas = 1;
    ps.timeout_ms = 1234;
    ps.switch_wait_ms = 99;
    cmd_table_init();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    topo_free(&topo);
    return 0;
}

/* The group owning a slot per the YAML above. */
static int owner(unsigned slot)
{
    if (slot <= 5000) return 0;
    if (slot <= 10000 || slot >= 16000) return 1;
    return 2;
}

static void test_build_and_lookup(void **state)
{
    (void)state;
    struct route *r = route_build(&topo, &ps, NULL, 0, NULL, 2, 7);
    assert_int_equal(r->version, 7);
    assert_int_equal(r->ngroups, 3);
    assert_int_equal(r->nworkers, 2);
    assert_string_equal(r->password, "secret");
    assert_int_equal(r->read_from_replicas, 1);
    assert_int_equal(r->timeout_ms, 1234);
    assert_int_equal(r->switch_wait_ms, 99);
    assert_int_equal(r->has_sentinel, 0);
    assert_int_equal(r->groups[0].nslots, 5001);
    assert_int_equal(r->groups[1].nslots, 5000 + 384);
    assert_int_equal(r->groups[2].nslots, 5999);
    for (unsigned s = 0; s < SLOT_COUNT; s++) assert_int_equal(r->slot_group[s], owner(s));

    /* key -> slot -> group, including the slot numbers Redis Cluster gives */
    assert_int_equal(slot_of_key("foo", 3), 12182);
    assert_int_equal(route_group_of_key(r, "foo", 3), 2);
    assert_int_equal(slot_of_key("bar", 3), 5061);
    assert_int_equal(route_group_of_key(r, "bar", 3), 1);
    for (int i = 0; i < 1000; i++) {
        char k[32];
        int n = snprintf(k, sizeof k, "key:%d", i);
        assert_int_equal(route_group_of_key(r, k, (size_t)n), owner(slot_of_key(k, (size_t)n)));
        /* a hash tag routes with the tag's group, whatever surrounds it */
        n = snprintf(k, sizeof k, "a%d{user1000}b", i);
        assert_int_equal(route_group_of_key(r, k, (size_t)n),
                         route_group_of_key(r, "user1000", 8));
    }

    /* the first node is the master, the rest are replicas */
    assert_string_equal(r->groups[1].master.host, "127.0.0.1");
    assert_int_equal(r->groups[1].master.port, 7003);
    assert_int_equal(r->groups[1].nreplicas, 2);
    assert_int_equal(r->groups[1].replicas[0].port, 7004);
    assert_int_equal(r->groups[1].replicas[1].port, 7005);
    assert_int_equal(r->groups[2].nreplicas, 0);

    assert_int_equal(route_find_group(r, "g1"), 0);
    assert_int_equal(route_find_group(r, "g3"), 2);
    assert_int_equal(route_find_group(r, "g4"), -1);
    assert_int_equal(route_find_group(r, ""), -1);
    /* pub/sub meets on the owner of slot 0 */
    assert_int_equal(route_pubsub_group(r), 0);
    route_release(r);
}

static void test_masters_override(void **state)
{
    (void)state;
    struct route_master ms[2];
    memset(ms, 0, sizeof ms);
    snprintf(ms[0].group, sizeof ms[0].group, "g2");
    snprintf(ms[0].addr.host, sizeof ms[0].addr.host, "127.0.0.1");
    ms[0].addr.port = 7005;
    snprintf(ms[1].group, sizeof ms[1].group, "nosuch");
    snprintf(ms[1].addr.host, sizeof ms[1].addr.host, "10.0.0.1");
    ms[1].addr.port = 1;
    struct route *r = route_build(&topo, &ps, ms, 2, NULL, 1, 1);
    assert_int_equal(r->groups[1].master.port, 7005);
    /* the old first node is now a replica; the new master is not */
    assert_int_equal(r->groups[1].nreplicas, 2);
    for (int i = 0; i < r->groups[1].nreplicas; i++)
        assert_int_not_equal(r->groups[1].replicas[i].port, 7005);
    assert_int_equal(r->groups[1].replicas[0].port, 7003);
    /* other groups keep their first node; unknown names are ignored */
    assert_int_equal(r->groups[0].master.port, 7001);
    assert_int_equal(r->groups[2].master.port, 7006);
    for (int g = 0; g < r->ngroups; g++) assert_int_not_equal(r->groups[g].master.port, 1);
    route_release(r);
}

static void test_counters_and_refs(void **state)
{
    (void)state;
    struct route *a = route_build(&topo, &ps, NULL, 0, NULL, 2, 1);
    atomic_store(&a->groups[1].stats[1].requests, 41);
    atomic_store(&a->groups[1].stats[0].errors, 3);
    atomic_store(&a->groups[1].stats[1].up, 1);
    /* same workers: counters follow the group by name */
    struct route *b = route_build(&topo, &ps, NULL, 0, a, 2, 2);
    assert_int_equal(atomic_load(&b->groups[1].stats[1].requests), 41);
    assert_int_equal(atomic_load(&b->groups[1].stats[0].errors), 3);
    assert_int_equal(atomic_load(&b->groups[1].stats[1].up), 1);
    assert_int_equal(atomic_load(&b->groups[0].stats[1].requests), 0);
    /* a different worker count starts from zero */
    struct route *c = route_build(&topo, &ps, NULL, 0, a, 3, 3);
    assert_int_equal(atomic_load(&c->groups[1].stats[1].requests), 0);

    /* references: the snapshot lives until its last release */
    assert_ptr_equal(route_retain(a), a);
    assert_int_equal(atomic_load(&a->refs), 2);
    route_release(a);
    assert_int_equal(atomic_load(&a->refs), 1);
    assert_int_equal(route_find_group(a, "g2"), 1); /* still readable */
    route_release(a);
    route_release(b);
    route_release(c);
    route_release(NULL);
}

static void test_route_kinds(void **state)
{
    (void)state;
    static const struct { const char *name; enum cmd_route rt; } want[] = {
        { "get", RT_KEY }, { "set", RT_KEY }, { "rename", RT_KEY },
        { "msetnx", RT_KEY },       /* all-or-nothing: one group or -CROSSSLOT */
        { "zunionstore", RT_KEY },
        { "mget", RT_MGET }, { "mset", RT_MSET },
        { "del", RT_SUM }, { "unlink", RT_SUM }, { "exists", RT_SUM }, { "touch", RT_SUM },
        { "dbsize", RT_ALL_SUM }, { "flushall", RT_ALL_OK }, { "keys", RT_ALL_CONCAT },
        { "scan", RT_SCAN }, { "randomkey", RT_RANDOM },
        { "ping", RT_LOCAL }, { "echo", RT_LOCAL }, { "select", RT_LOCAL },
        { "quit", RT_LOCAL }, { "hello", RT_LOCAL }, { "command", RT_LOCAL },
        { "multi", RT_TX }, { "exec", RT_TX }, { "watch", RT_TX },
        { "blpop", RT_BLOCK }, { "bzpopmin", RT_BLOCK },
        { "subscribe", RT_PUBSUB }, { "publish", RT_PUBSUB },
        { "shutdown", RT_DENY }, { "config", RT_DENY },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct cmd_spec *s = cmd_lookup(want[i].name, strlen(want[i].name));
        if (!s) fail_msg("%s: not in the command table", want[i].name);
        if (s->route != want[i].rt)
            fail_msg("%s: route %d, want %d", want[i].name, (int)s->route, (int)want[i].rt);
    }
    /* case-insensitive, unknown is NULL (the proxy answers -ERR unknown) */
    assert_non_null(cmd_lookup("MGET", 4));
    assert_null(cmd_lookup("nosuchcmd", 9));
}

/* The keys the router hashes: every key position, and nothing else (a
 * value that happened to hash elsewhere must not cause a -CROSSSLOT). */
static void test_key_positions(void **state)
{
    (void)state;
    int keys[16];
    char *msetnx[] = { "msetnx", "{a}1", "v1", "{a}2", "v2" };
    size_t msetnx_l[] = { 6, 4, 2, 4, 2 };
    const struct cmd_spec *s = cmd_lookup("msetnx", 6);
    assert_int_equal(cmd_get_keys(s, 5, msetnx, msetnx_l, keys, 16), 2);
    assert_int_equal(keys[0], 1);
    assert_int_equal(keys[1], 3);

    char *zu[] = { "zunionstore", "dst", "2", "k1", "k2", "weights", "1", "2" };
    size_t zu_l[] = { 11, 3, 1, 2, 2, 7, 1, 1 };
    s = cmd_lookup("zunionstore", 11);
    int n = cmd_get_keys(s, 8, zu, zu_l, keys, 16);
    assert_int_equal(n, 3);
    assert_int_equal(keys[0], 1);
    assert_int_equal(keys[1], 3);
    assert_int_equal(keys[2], 4);
    /* a numkeys that does not fit: no keys, the backend replies the error */
    char *zbad[] = { "zunionstore", "dst", "5", "k1" };
    size_t zbad_l[] = { 11, 3, 1, 2 };
    assert_int_equal(cmd_get_keys(s, 4, zbad, zbad_l, keys, 16), -1);

    char *bl[] = { "blpop", "l1", "l2", "0" };
    size_t bl_l[] = { 5, 2, 2, 1 };
    s = cmd_lookup("blpop", 5);
    assert_int_equal(cmd_get_keys(s, 4, bl, bl_l, keys, 16), 2);
    assert_int_equal(keys[1], 2); /* the timeout is not a key */

    /* more keys than room: the count, to call again with more */
    char *mg[20];
    size_t mg_l[20];
    mg[0] = "mget";
    mg_l[0] = 4;
    for (int i = 1; i < 20; i++) { mg[i] = "k"; mg_l[i] = 1; }
    s = cmd_lookup("mget", 4);
    assert_int_equal(cmd_get_keys(s, 20, mg, mg_l, keys, 4), 19);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_lookup),
        cmocka_unit_test(test_masters_override),
        cmocka_unit_test(test_counters_and_refs),
        cmocka_unit_test(test_route_kinds),
        cmocka_unit_test(test_key_positions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
