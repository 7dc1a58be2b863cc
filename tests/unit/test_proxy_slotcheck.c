/* test_proxy_slotcheck: proxy/slotcheck.h and proxy_parse_moved — a reload
 * that moves slots keeps them on the group holding their keys (and says
 * so per range), a group gone from the file gives its slots up, other
 * changes apply; the node's "-MOVED <slot> <group>:<epoch>" parsed, with
 * malformed ones refused; claims and -MOVED rerouting the live map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proxy.h"
#include "slotcheck.h"
#include "topology.h"

static void load(struct topology *t, const char *text)
{
    buf errs;
    buf_init(&errs);
    int rc = topo_load_string("t.yaml", text, strlen(text), t, NULL, &errs);
    if (rc != 0) fail_msg("%.*s", (int)errs.len, errs.data);
    buf_free(&errs);
}

static const char cur_yaml[] =
    "groups:\n"
    "  - {name: g1, slots: \"0-8191\", nodes: [127.0.0.1:7001]}\n"
    "  - {name: g2, slots: \"8192-16383\", nodes: [127.0.0.1:7002]}\n";

static void test_reload_keeps_moved_slots(void **state)
{
    (void)state;
    struct topology cur, next;
    buf warn;
    buf_init(&warn);
    load(&cur, cur_yaml);
    /* g3 is new with 100 slots of g1; g2 takes 8000-8191 from g1; g1
     * takes 16000-16383 from g2. */
    load(&next, "groups:\n"
                "  - {name: g3, slots: \"0-99\", nodes: [127.0.0.1:7003]}\n"
                "  - {name: g1, slots: \"100-7999,16000-16383\", nodes: [127.0.0.1:7001]}\n"
                "  - {name: g2, slots: \"8000-15999\", nodes: [127.0.0.1:7002]}\n");
    int kept = slotcheck_reload(&cur, &next, "t.yaml", &warn);
    assert_int_equal(kept, 100 + 192 + 384);
    for (int s = 0; s < 8192; s++) assert_string_equal(next.groups[next.slot_group[s]].name, "g1");
    for (int s = 8192; s < 16384; s++) assert_string_equal(next.groups[next.slot_group[s]].name, "g2");
    buf_append(&warn, "", 1);
    assert_non_null(strstr(warn.data, "slots 0-99: the file moves them from group g1 to group g3"));
    assert_non_null(strstr(warn.data, "slots 8000-8191: the file moves them from group g1 to group g2"));
    assert_non_null(strstr(warn.data, "slots 16000-16383: the file moves them from group g2 to group g1"));
    assert_non_null(strstr(warn.data, "needs a slot migration: run `strata-cli reshard --config t.yaml`"));
    topo_free(&next);
    /* The same file again: nothing to say. */
    buf_clear(&warn);
    load(&next, cur_yaml);
    assert_int_equal(slotcheck_reload(&cur, &next, "t.yaml", &warn), 0);
    assert_int_equal(warn.len, 0);
    topo_free(&next);
    /* g2 leaves the file while it owns slots: refused. */
    load(&next, "groups:\n  - {name: g1, slots: \"0-16383\", nodes: [127.0.0.1:7001]}\n");
    assert_int_equal(slotcheck_reload(&cur, &next, "t.yaml", &warn), -1);
    buf_append(&warn, "", 1);
    assert_non_null(strstr(warn.data, "slots 8192-16383: group g2 still owns them, so it cannot be "
                                      "removed from the file"));
    assert_non_null(strstr(warn.data, "`strata-cli reshard --config t.yaml`"));
    topo_free(&next);
    topo_free(&cur);
    buf_free(&warn);
}

static void test_parse_moved(void **state)
{
    (void)state;
    unsigned slot = 0;
    char g[16];
    static const char ok[] = "-MOVED 12182 g2:7\r\n";
    assert_int_equal(proxy_parse_moved(ok, sizeof ok - 1, &slot, g, sizeof g), 0);
    assert_int_equal(slot, 12182);
    assert_string_equal(g, "g2");
    assert_int_equal(proxy_parse_moved(ok, sizeof ok - 1, &slot, NULL, 0), 0);
    static const char *const bad[] = {
        "-MOVED 16384 g2:1\r\n", "-MOVED x g2:1\r\n", "-MOVED 12 g2\r\n", "-MOVED 12 :1\r\n",
        "-ASK 12 g2:1\r\n", "-MOVED  12 g2:1\r\n", "-MOVED 12 a-very-long-group-name:1\r\n", "+OK\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (proxy_parse_moved(bad[i], strlen(bad[i]), &slot, g, sizeof g) == 0) fail_msg("accepted %s", bad[i]);
}

/* The live map: claims from a master's table and -MOVED both reroute the
 * running topology and publish a new snapshot; an unknown group changes
 * nothing. */
static void test_claims_and_moved_reroute(void **state)
{
    (void)state;
    load(&proxy_g.conf.topo, cur_yaml);
    pthread_mutex_lock(&proxy_g.lock);
    proxy_publish_locked();
    pthread_mutex_unlock(&proxy_g.lock);
    uint64_t v0 = proxy_g.route->version;
    unsigned char owned[16384 / 8];
    memset(owned, 0, sizeof owned);
    for (int sl = 0; sl < 100; sl++) owned[sl >> 3] |= (unsigned char)(1u << (sl & 7));
    proxy_apply_claims("g2", owned);
    assert_true(proxy_g.route->version > v0);
    for (int sl = 0; sl < 100; sl++) assert_int_equal(proxy_g.route->slot_group[sl], 1);
    assert_int_equal(proxy_g.route->slot_group[100], 0);
    assert_int_equal(proxy_g.conf.topo.slot_group[99], 1);
    /* The same claims again: nothing to publish. */
    uint64_t v1 = proxy_g.route->version;
    proxy_apply_claims("g2", owned);
    assert_int_equal(proxy_g.route->version, v1);
    proxy_apply_claims("nope", owned);
    assert_int_equal(proxy_g.route->version, v1);
    static const char mv[] = "-MOVED 9000 g1:3\r\n", unknown[] = "-MOVED 9001 g9:3\r\n";
    unsigned long before = atomic_load(&proxy_g.moved);
    proxy_note_moved(mv, sizeof mv - 1);
    assert_int_equal(proxy_g.route->slot_group[9000], 0);
    assert_int_equal(proxy_g.route->slot_group[9001], 1);
    proxy_note_moved(unknown, sizeof unknown - 1);
    assert_int_equal(proxy_g.route->slot_group[9001], 1);
    assert_int_equal(atomic_load(&proxy_g.moved), before + 2);
    route_release(proxy_g.route);
    proxy_g.route = NULL;
    topo_free(&proxy_g.conf.topo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_keeps_moved_slots),
        cmocka_unit_test(test_parse_moved),
        cmocka_unit_test(test_claims_and_moved_reroute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
