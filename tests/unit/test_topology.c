/* test_topology: topology.yaml parsing (common/topology.c): the happy
 * path with two and three groups, slot gaps and overlaps, bad ranges,
 * nodes and priorities, sentinel addresses, the proxy:/sentinel: sections
 * through conf tables, every shape error with its line, and robustness on
 * hostile bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topology.h"

static struct topology T;
static buf E;

static int setup(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    buf_init(&E);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    topo_free(&T);
    buf_free(&E);
    return 0;
}

static const char *errs_str(void)
{
    buf_append_char(&E, '\0');
    E.len--;
    return E.data ? E.data : "";
}

static int load_sec(const char *text, const struct topo_sections *sec)
{
    topo_free(&T);
    buf_clear(&E);
    return topo_load_string("t.yaml", text, strlen(text), &T, sec, &E);
}

static int load(const char *text)
{
    return load_sec(text, NULL);
}

/* Expect failure with exactly `msg`, and an empty topology. */
static void expect_error(const char *text, const char *msg)
{
    assert_int_equal(load(text), -1);
    assert_string_equal(errs_str(), msg);
    assert_int_equal(T.ngroups, 0);
    assert_null(T.groups);
    assert_null(T.cluster);
}

#define TWO_GROUPS_HEAD                       \
    "groups:\n"                               \
    "  - name: g1\n"                          \
    "    slots: \"0-8191\"\n"                 \
    "    nodes: [127.0.0.1:7001]\n"           \
    "  - name: g2\n"                          \
    "    slots: 8192-16383\n"                 \
    "    nodes: [127.0.0.1:7002]\n"

static void test_two_groups(void **state)
{
    (void)state;
    /* *t is overwritten, never trusted: start from garbage. */
    memset(&T, 0xa5, sizeof T);
    assert_int_equal(topo_load_string("t.yaml", "", 0, &T, NULL, &E), -1);
    assert_null(T.groups);
    assert_int_equal(load("cluster: demo\n"
                          "password: \"s3cret\"\n"
                          "groups:\n"
                          "  - name: g1\n"
                          "    slots: \"0-8191\"\n"
                          "    nodes:\n"
                          "      - 127.0.0.1:7001\n"
                          "      - {addr: 127.0.0.1:7002, priority: 10}\n"
                          "      - addr: \"[::1]:7005\"\n"
                          "        priority: 0\n"
                          "  - name: g2\n"
                          "    slots: \"8192-16383\"\n"
                          "    nodes: [127.0.0.1:7003, 127.0.0.1:7004]\n"), 0);
    assert_int_equal(E.len, 0);
    assert_string_equal(T.cluster, "demo");
    assert_string_equal(T.password, "s3cret");
    assert_int_equal(T.ngroups, 2);
    const struct topo_group *g1 = &T.groups[0], *g2 = &T.groups[1];
    assert_string_equal(g1->name, "g1");
    assert_int_equal(g1->line, 4);
    assert_int_equal(g1->nnodes, 3);
    assert_string_equal(g1->nodes[0].host, "127.0.0.1");
    assert_int_equal(g1->nodes[0].port, 7001);
    assert_int_equal(g1->nodes[0].priority, 100);
    assert_int_equal(g1->nodes[1].port, 7002);
    assert_int_equal(g1->nodes[1].priority, 10);
    assert_string_equal(g1->nodes[2].host, "::1");
    assert_int_equal(g1->nodes[2].port, 7005);
    assert_int_equal(g1->nodes[2].priority, 0);
    assert_string_equal(g2->name, "g2");
    assert_int_equal(g2->nnodes, 2);
    assert_int_equal(g2->nodes[1].port, 7004);
    assert_int_equal(T.slot_group[0], 0);
    assert_int_equal(T.slot_group[8191], 0);
    assert_int_equal(T.slot_group[8192], 1);
    assert_int_equal(T.slot_group[16383], 1);
    assert_int_equal(T.has_sentinel, 0);
    assert_int_equal(T.nsentinels, 0);
    assert_null(T.sentinels);
}

static void test_three_groups_multi_ranges(void **state)
{
    (void)state;
    assert_int_equal(load("groups:\n"
                          "  - {name: a, slots: \"0-99, 300-399,16383\", nodes: [h1:1]}\n"
                          "  - {name: b, slots: \"100-299\", nodes: [h2:1]}\n"
                          "  - {name: c, slots: \"400-16382\", nodes: [h3:1, h4:2]}\n"), 0);
    assert_int_equal(T.ngroups, 3);
    /* Defaults for the optional keys. */
    assert_string_equal(T.cluster, "");
    assert_string_equal(T.password, "");
    for (int s = 0; s < 16384; s++) {
        int want = (s < 100 || (s >= 300 && s < 400) || s == 16383) ? 0 : s < 300 ? 1 : 2;
        if (T.slot_group[s] != want) fail_msg("slot %d: group %d, want %d", s, T.slot_group[s], want);
    }
    /* Adjacent ranges of one group, listed out of order, are fine. */
    assert_int_equal(load("groups:\n"
                          "  - {name: a, slots: \"8192-16383,0-100,101-8191\", nodes: [h1:1]}\n"), 0);
    assert_int_equal(T.slot_group[5000], 0);
}

static void test_gap(void **state)
{
    (void)state;
    expect_error("cluster: x\n"
                 "groups:\n"
                 "  - {name: g1, slots: \"0-99\", nodes: [h:1]}\n"
                 "  - {name: g2, slots: \"200-16382\", nodes: [h:2]}\n",
                 "t.yaml:2: slots 100-199 are not assigned to any group\n"
                 "t.yaml:2: slot 16383 is not assigned to any group\n");
}

static void test_overlap(void **state)
{
    (void)state;
    expect_error("groups:\n"
                 "  - name: g1\n"
                 "    slots: 0-60\n"
                 "    nodes: [h:1]\n"
                 "  - name: g2\n"
                 "    slots: 50-16383\n"
                 "    nodes: [h:2]\n",
                 "t.yaml:6: slots 50-60 are assigned to both g1 and g2\n");
    expect_error("groups:\n"
                 "  - {name: g1, slots: \"0-16383\", nodes: [h:1]}\n"
                 "  - {name: g2, slots: \"7\", nodes: [h:2]}\n"
                 "  - {name: g3, slots: \"5-7\", nodes: [h:3]}\n",
                 "t.yaml:4: slots 5-6 are assigned to both g1 and g3\n"
                 "t.yaml:4: slot 7 is assigned to more than one group: g1, g2, g3\n");
    /* Listed twice in one group. */
    expect_error("groups:\n"
                 "  - {name: g1, slots: \"0-16383,10-20\", nodes: [h:1]}\n",
                 "t.yaml:2: group g1: slots 10-20 are listed more than once\n");
}

static void test_gap_and_overlap_messages_capped(void **state)
{
    (void)state;
    /* Every other slot missing: thousands of gaps, 20 messages and a count. */
    buf slots;
    buf_init(&slots);
    buf_append_str(&slots, "groups:\n  - name: g\n    nodes: [h:1]\n    slots: \"");
    for (int s = 0; s < 16384; s += 2) buf_printf(&slots, "%s%d", s ? "," : "", s);
    buf_append_str(&slots, "\"\n");
    buf_append_char(&slots, '\0');
    assert_int_equal(load(slots.data), -1);
    int lines = 0;
    for (const char *p = errs_str(); *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 21);
    assert_non_null(strstr(errs_str(), "t.yaml:1: slot 1 is not assigned to any group\n"));
    assert_non_null(strstr(errs_str(), "t.yaml:1: 8172 more slot ranges are unassigned or assigned twice\n"));
    buf_free(&slots);
}

static void test_error_cap(void **state)
{
    (void)state;
    /* 150 repeats of one slot in a group: 100 messages, then a count. */
    buf text;
    buf_init(&text);
    buf_append_str(&text, "groups:\n  - name: g\n    nodes: [h:1]\n    slots: \"0-16383");
    for (int i = 0; i < 150; i++) buf_append_str(&text, ",7");
    buf_append_str(&text, "\"\n");
    buf_append_char(&text, '\0');
    assert_int_equal(load(text.data), -1);
    int lines = 0;
    for (const char *p = errs_str(); *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 101);
    assert_non_null(strstr(errs_str(), "t.yaml:4: group g: slot 7 is listed more than once\n"));
    assert_non_null(strstr(errs_str(), "\nt.yaml: 50 more errors not shown\n"));
    buf_free(&text);
}

static void collect(void *ud, int lo, int hi)
{
    buf *b = ud;
    buf_printf(b, "[%d,%d]", lo, hi);
}

static void test_parse_slots(void **state)
{
    (void)state;
    char err[256];
    buf got;
    buf_init(&got);
    assert_int_equal(topo_parse_slots("0-100,200,300-16383", collect, &got, err, sizeof err), 0);
    assert_int_equal(topo_parse_slots(" 5 - 6 ,\t7", collect, &got, err, sizeof err), 0);
    buf_append_char(&got, '\0');
    assert_string_equal(got.data, "[0,100][200,200][300,16383][5,6][7,7]");
    static const struct { const char *in, *msg; } bad[] = {
        { "0-16384", "slot range '0-16384' is out of bounds 0..16383" },
        { "16384", "slot range '16384' is out of bounds 0..16383" },
        { "99999999999999999999", "slot range '99999999999999999999' is out of bounds 0..16383" },
        { "200-100", "bad slot range '200-100' (start after end)" },
        { "abc", "bad slot range 'abc' (expected N or N-M)" },
        { "-5", "bad slot range '-5' (expected N or N-M)" },
        { "1-2-3", "bad slot range '1-2-3' (expected N or N-M)" },
        { "+1", "bad slot range '+1' (expected N or N-M)" },
        { "1,,2", "empty item in slot list '1,,2'" },
        { "1,", "empty item in slot list '1,'" },
    };
    buf_clear(&got);
    assert_int_equal(topo_parse_slots("", collect, &got, err, sizeof err), 0);
    assert_int_equal(topo_parse_slots("  ", collect, &got, err, sizeof err), 0);
    assert_int_equal(got.len, 0);  /* the empty list: no slots */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_clear(&got);
        assert_int_equal(topo_parse_slots(bad[i].in, collect, &got, err, sizeof err), -1);
        assert_string_equal(err, bad[i].msg);
        assert_int_equal(got.len, 0);  /* nothing reported on error, even "1" of "1,," */
    }
    buf_free(&got);
    /* Through the file, with the line of the slots: value. */
    expect_error("groups:\n"
                 "  - name: g1\n"
                 "    nodes: [h:1]\n"
                 "    slots: \"0-100,300-200\"\n",
                 "t.yaml:4: group g1: slots: bad slot range '300-200' (start after end)\n");
    expect_error("groups:\n"
                 "  - name: g1\n"
                 "    nodes: [h:1]\n"
                 "    slots: [0, 100]\n",
                 "t.yaml:4: group g1: slots must be a string of ranges like \"0-100,200-300\"\n");
}

static void test_duplicate_nodes(void **state)
{
    (void)state;
    expect_error(TWO_GROUPS_HEAD
                 "  - name: g3\n"
                 "    slots: \"0\"\n"
                 "    nodes: [127.0.0.1:7009, {addr: 127.0.0.1:7001}]\n",
                 "t.yaml:10: address 127.0.0.1:7001 is listed twice (first at line 4)\n"
                 "t.yaml:9: slot 0 is assigned to both g1 and g3\n");
    /* A sentinel may not share a node's address either. */
    expect_error(TWO_GROUPS_HEAD
                 "sentinel:\n"
                 "  addrs: [127.0.0.1:26379, 127.0.0.1:7002]\n",
                 "t.yaml:9: address 127.0.0.1:7002 is listed twice (first at line 7)\n");
    /* IPv6 addresses are shown in brackets. */
    expect_error("groups:\n"
                 "  - {name: g, slots: 0-16383, nodes: [\"[::1]:1\", \"[::1]:1\"]}\n",
                 "t.yaml:2: address [::1]:1 is listed twice (first at line 2)\n");
}

static void test_priorities(void **state)
{
    (void)state;
    assert_int_equal(load("groups:\n"
                          "  - name: g\n"
                          "    slots: 0-16383\n"
                          "    nodes:\n"
                          "      - {addr: \"h:1\", priority: 0}\n"
                          "      - {priority: 2147483647, addr: \"h:2\"}\n"
                          "      - {addr: \"h:3\"}\n"), 0);
    assert_int_equal(T.groups[0].nodes[0].priority, 0);
    assert_int_equal(T.groups[0].nodes[1].priority, 2147483647);
    assert_int_equal(T.groups[0].nodes[2].priority, 100);
    const char *head = "groups:\n  - name: g\n    slots: 0-16383\n    nodes:\n";
    char text[512];
    snprintf(text, sizeof text, "%s      - {addr: \"h:1\", priority: -1}\n", head);
    expect_error(text, "t.yaml:5: group g: node #1: priority '-1' is not an integer >= 0\n");
    snprintf(text, sizeof text, "%s      - h:2\n      - {addr: \"h:1\", priority: high}\n", head);
    expect_error(text, "t.yaml:6: group g: node #2: priority 'high' is not an integer >= 0\n");
    snprintf(text, sizeof text, "%s      - {priority: 3}\n", head);
    expect_error(text, "t.yaml:5: group g: node #1: missing 'addr'\n");
    snprintf(text, sizeof text, "%s      - {addr: \"h:1\", weight: 3}\n", head);
    expect_error(text, "t.yaml:5: group g: node #1: unknown key 'weight' (expected addr, priority)\n");
    snprintf(text, sizeof text, "%s      - {addr: \"h:1\",\n         addr: \"h:2\"}\n", head);
    expect_error(text, "t.yaml:6: group g: node #1: key 'addr' given twice (first at line 5)\n");
}

static void test_node_shapes(void **state)
{
    (void)state;
    const char *head = "groups:\n  - name: g\n    slots: 0-16383\n";
    char text[512];
    snprintf(text, sizeof text, "%s    nodes:\n      - [h, 1]\n", head);
    expect_error(text, "t.yaml:5: group g: node #1 must be \"host:port\" or "
                       "{addr: \"host:port\", priority: N}, not a list\n");
    snprintf(text, sizeof text, "%s    nodes: h:1\n", head);
    expect_error(text, "t.yaml:4: group g: nodes must be a list of \"host:port\" or "
                       "{addr: \"host:port\", priority: N}\n");
    snprintf(text, sizeof text, "%s    nodes: []\n", head);
    expect_error(text, "t.yaml:4: group g: at least one node is required\n");
    snprintf(text, sizeof text, "%s    nodes: [h:1, nocolon, h:0, h:65536, \":5\"]\n", head);
    expect_error(text, "t.yaml:4: group g: node #2: 'nocolon' is not host:port\n"
                       "t.yaml:4: group g: node #3: 'h:0' is not host:port\n"
                       "t.yaml:4: group g: node #4: 'h:65536' is not host:port\n"
                       "t.yaml:4: group g: node #5: ':5' is not host:port\n");
    snprintf(text, sizeof text, "%s    nodes: [h:1,h:2,h:3,h:4,h:5,h:6,h:7,h:8,h:9,h:10,h:11,"
             "h:12,h:13,h:14,h:15,h:16,h:17]\n", head);
    expect_error(text, "t.yaml:4: group g: too many nodes (17, at most 16)\n");
    /* Exactly TOPO_MAX_NODES is fine. */
    snprintf(text, sizeof text, "%s    nodes: [h:1,h:2,h:3,h:4,h:5,h:6,h:7,h:8,h:9,h:10,h:11,"
             "h:12,h:13,h:14,h:15,h:16]\n", head);
    assert_int_equal(load(text), 0);
    assert_int_equal(T.groups[0].nnodes, 16);
    assert_int_equal(T.groups[0].nodes[15].port, 16);
}

static void test_group_shapes(void **state)
{
    (void)state;
    expect_error("groups:\n"
                 "  - name: g1\n"
                 "    slots: 0-16383\n",
                 "t.yaml:2: group g1: missing 'nodes'\n");
    expect_error("groups:\n"
                 "  - slots: 0-16383\n"
                 "    nodes: [h:1]\n",
                 "t.yaml:2: group #1: missing 'name'\n");
    expect_error("groups:\n"
                 "  - name: g1\n"
                 "    nodes: [h:1]\n",
                 "t.yaml:2: group g1: missing 'slots'\n");
    expect_error("groups:\n"
                 "  - nodes: [h:1]\n"
                 "    master: h:1\n"
                 "    slots: 0-16383\n"
                 "    name: g1\n"
                 "    name: g2\n",
                 "t.yaml:3: group g1: unknown key 'master' (expected name, slots, nodes, "
                 "promotion)\n"
                 "t.yaml:6: group g1: key 'name' given twice (first at line 5)\n");
    expect_error("groups:\n"
                 "  - {name: g1, slots: 0-16383, nodes: [h:1], promotion: fast}\n",
                 "t.yaml:2: group g1: promotion 'fast' must be safe or available\n");
    assert_int_equal(load("groups:\n"
                          "  - {name: g1, slots: 0-8191, nodes: [h:1]}\n"
                          "  - {name: g2, slots: 8192-16383, nodes: [h:2], promotion: available}\n"),
                     0);
    assert_int_equal(T.groups[0].promotion_available, 0);
    assert_int_equal(T.groups[1].promotion_available, 1);
    topo_free(&T);
    assert_int_equal(load("groups:\n"
                          "  - {name: g1, slots: 0-16383, nodes: [h:1], promotion: safe}\n"),
                     0);
    assert_int_equal(T.groups[0].promotion_available, 0);
    topo_free(&T);
    expect_error("groups:\n"
                 "  - {name: \"g 1\", slots: 0-16383, nodes: [h:1]}\n",
                 "t.yaml:2: group #1: name 'g 1' must be non-empty, without spaces or control "
                 "characters\n");
    expect_error("groups:\n"
                 "  - {name: \"\", slots: 0-16383, nodes: [h:1]}\n",
                 "t.yaml:2: group #1: name '' must be non-empty, without spaces or control "
                 "characters\n");
    expect_error("groups:\n"
                 "  - {name: g, slots: 0-8191, nodes: [h:1]}\n"
                 "  - {name: g, slots: 8192-16383, nodes: [h:2]}\n",
                 "t.yaml:3: group name 'g' is used twice (first at line 2)\n");
    expect_error("groups:\n"
                 "  - g1\n",
                 "t.yaml:2: group #1 must be a mapping with name, slots and nodes\n");
    expect_error("groups: []\n", "t.yaml:1: groups: at least one group is required\n");
    expect_error("groups: g1\n", "t.yaml:1: groups must be a list of groups\n");
    expect_error("groups:\n", "t.yaml:1: groups must be a list of groups\n");
}

static void test_file_shapes(void **state)
{
    (void)state;
    expect_error("", "t.yaml:1: the file is empty: expected a mapping with cluster, groups, "
                     "proxy, sentinel\n");
    expect_error("# only a comment\n", "t.yaml:1: the file is empty: expected a mapping with "
                                       "cluster, groups, proxy, sentinel\n");
    expect_error("- a\n- b\n", "t.yaml:1: the file must be a mapping (cluster:, groups:, proxy:, "
                               "sentinel:), not a list\n");
    expect_error("hello\n", "t.yaml:1: the file must be a mapping (cluster:, groups:, proxy:, "
                            "sentinel:), not a single value\n");
    expect_error("cluster: a\n", "t.yaml:1: missing 'groups'\n");
    expect_error(TWO_GROUPS_HEAD "shards: 3\n", "t.yaml:8: unknown key 'shards'\n");
    expect_error("cluster: a\n" TWO_GROUPS_HEAD "cluster: b\n",
                 "t.yaml:9: key 'cluster' given twice (first at line 1)\n");
    expect_error(TWO_GROUPS_HEAD "cluster: [a]\n", "t.yaml:8: cluster must be a string\n");
    expect_error(TWO_GROUPS_HEAD "password: \"a\\0b\"\n",
                 "t.yaml:8: password must be a string without NUL bytes\n");
    /* A syntax error carries libyaml's text and the line. */
    assert_int_equal(load("groups:\n  - name: g1\n   slots: x\n"), -1);
    assert_string_equal(errs_str(), "t.yaml:3: YAML: did not find expected '-' indicator (while "
                                    "parsing a block collection at line 2)\n");
}

static void expect_auth(const struct topo_user *u, int n, const char *a1, const char *a2)
{
    const char *argv[3] = { NULL, NULL, NULL };
    assert_int_equal(topo_auth_argv(u, argv), n);
    if (n == 0) return;
    assert_string_equal(argv[0], "AUTH");
    assert_string_equal(argv[1], a1);
    if (n == 3) assert_string_equal(argv[2], a2);
}

static void test_users(void **state)
{
    (void)state;
    /* Without users: every link is the default user with password:. */
    assert_int_equal(load(TWO_GROUPS_HEAD "password: pw\n"), 0);
    assert_string_equal(T.proxy_user.user, "default");
    assert_string_equal(T.proxy_user.password, "pw");
    assert_int_equal(T.proxy_user.line, 0);
    expect_auth(&T.proxy_user, 2, "pw", NULL);
    expect_auth(&T.sentinel_user, 2, "pw", NULL);
    expect_auth(&T.cli_user, 2, "pw", NULL);
    assert_int_equal(load(TWO_GROUPS_HEAD), 0);
    expect_auth(&T.proxy_user, 0, NULL, NULL);
    expect_auth(&T.sentinel_user, 0, NULL, NULL);
    /* users: before password:, one link named, the other falls back. */
    assert_int_equal(load(TWO_GROUPS_HEAD "users:\n  proxy: {user: strata-proxy, password: px}\n"
                                          "password: pw\n"), 0);
    assert_string_equal(T.proxy_user.user, "strata-proxy");
    assert_int_equal(T.proxy_user.line, 9);
    expect_auth(&T.proxy_user, 3, "strata-proxy", "px");
    expect_auth(&T.sentinel_user, 2, "pw", NULL);
    assert_int_equal(load(TWO_GROUPS_HEAD "users:\n  sentinel:\n    user: s\n    password: \"\"\n"
                                          "  proxy: {user: default, password: other}\n"), 0);
    expect_auth(&T.sentinel_user, 3, "s", "");
    expect_auth(&T.proxy_user, 2, "other", NULL);
    assert_int_equal(load(TWO_GROUPS_HEAD "users: {cli: {user: c, password: cp}}\n"), 0);
    expect_auth(&T.cli_user, 3, "c", "cp");
    assert_int_equal(T.cli_user.line, 8);
    assert_int_equal(load(TWO_GROUPS_HEAD "users:\n"), 0);
    expect_auth(&T.proxy_user, 0, NULL, NULL);
    topo_free(&T);
    topo_default(&T);
    expect_auth(&T.sentinel_user, 0, NULL, NULL);

    expect_error(TWO_GROUPS_HEAD "users: [a]\n", "t.yaml:8: users must be a mapping of proxy:, sentinel:, cli:\n");
    expect_error(TWO_GROUPS_HEAD "users:\n  replica: {user: r, password: p}\n",
                 "t.yaml:9: users: unknown link 'replica' (expected proxy, sentinel, cli)\n");
    expect_error(TWO_GROUPS_HEAD "users:\n  proxy: p\n",
                 "t.yaml:9: users.proxy must be a mapping {user: NAME, password: PASS}\n");
    expect_error(TWO_GROUPS_HEAD "users:\n  proxy: {user: p}\n",
                 "t.yaml:9: users.proxy: missing 'password'\n");
    expect_error(TWO_GROUPS_HEAD "users:\n  sentinel: {password: p, name: x}\n",
                 "t.yaml:9: users.sentinel: unknown key 'name' (expected user, password)\n"
                 "t.yaml:9: users.sentinel: missing 'user'\n");
    expect_error(TWO_GROUPS_HEAD "users:\n  proxy: {user: \"a b\", password: [p]}\n",
                 "t.yaml:9: users.proxy: user 'a b' must be non-empty, without spaces or control "
                 "characters\n"
                 "t.yaml:9: users.proxy: password must be a string\n");
    expect_error(TWO_GROUPS_HEAD "users:\n  proxy: {user: a, password: b, user: c}\n",
                 "t.yaml:9: users.proxy: key 'user' given twice (first at line 9)\n");
    expect_error(TWO_GROUPS_HEAD "users:\n  proxy: {user: a, password: b}\n"
                                 "  proxy: {user: c, password: d}\n",
                 "t.yaml:10: users: key 'proxy' given twice (first at line 9)\n");
}

/* Settings structs the proxy and sentinel would pass. */
struct proxy_conf {
    char *listen;
    long long threads;
    int read_from_replicas;
    long long timeout_ms;
};
static const struct conf_field proxy_fields[] = {
    { "listen", CONF_STR, offsetof(struct proxy_conf, listen), "127.0.0.1:6379", 0, 0, NULL, 0, NULL },
    { "threads", CONF_INT, offsetof(struct proxy_conf, threads), "1", 1, 64, NULL, 0, NULL },
    { "read_from_replicas", CONF_BOOL, offsetof(struct proxy_conf, read_from_replicas), "no", 0, 0, NULL, 0, NULL },
    { "timeout_ms", CONF_INT, offsetof(struct proxy_conf, timeout_ms), "2000", 1, 3600000, NULL, 0, NULL },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};
struct sentinel_conf {
    long long quorum;
    long long down_after_ms;
};
static const struct conf_field sentinel_fields[] = {
    { "quorum", CONF_INT, offsetof(struct sentinel_conf, quorum), "2", 1, 100, NULL, 0, NULL },
    { "down_after_ms", CONF_INT, offsetof(struct sentinel_conf, down_after_ms), "1000", 1, 86400000, NULL, 0, NULL },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

#define FULL_FILE                                             \
    TWO_GROUPS_HEAD                                           \
    "proxy:\n"                                                \
    "  listen: 127.0.0.1:6380\n"                              \
    "  threads: 4\n"                                          \
    "  read_from_replicas: true\n"                            \
    "sentinel:\n"                                             \
    "  addrs: [127.0.0.1:26379, 127.0.0.1:26380, \"[::1]:26381\"]\n" \
    "  quorum: 3\n"                                           \
    "  down_after_ms: 500\n"

static void test_sections(void **state)
{
    (void)state;
    struct proxy_conf pc;
    struct sentinel_conf sc;
    memset(&pc, 0, sizeof pc);
    memset(&sc, 0, sizeof sc);
    conf_defaults(proxy_fields, &pc);
    conf_defaults(sentinel_fields, &sc);
    struct topo_sections both = { proxy_fields, &pc, sentinel_fields, &sc };
    assert_int_equal(load_sec(FULL_FILE, &both), 0);
    assert_string_equal(pc.listen, "127.0.0.1:6380");
    assert_int_equal(pc.threads, 4);
    assert_int_equal(pc.read_from_replicas, 1);
    assert_int_equal(pc.timeout_ms, 2000);  /* absent: default kept */
    assert_int_equal(sc.quorum, 3);
    assert_int_equal(sc.down_after_ms, 500);
    assert_int_equal(T.has_sentinel, 1);
    assert_int_equal(T.nsentinels, 3);
    assert_int_equal(T.sentinels[1].port, 26380);
    assert_string_equal(T.sentinels[2].host, "::1");
    assert_int_equal(T.sentinels[2].port, 26381);

    /* The proxy alone: the sentinel: keys are not its business. */
    struct topo_sections proxy_only = { proxy_fields, &pc, NULL, NULL };
    assert_int_equal(load_sec(FULL_FILE "  anything_goes: 1\n", &proxy_only), 0);
    assert_int_equal(T.nsentinels, 3);
    /* ...and the other way round. */
    struct topo_sections sentinel_only = { NULL, NULL, sentinel_fields, &sc };
    assert_int_equal(load_sec(FULL_FILE "proxy_extra: 1\n", &sentinel_only), -1);
    assert_string_equal(errs_str(), "t.yaml:16: unknown key 'proxy_extra'\n");
    assert_int_equal(load_sec(TWO_GROUPS_HEAD "proxy:\n  whatever: 1\n", &sentinel_only), 0);
    /* No tables at all (sec NULL): still loads, sections are only shape-checked. */
    assert_int_equal(load_sec(FULL_FILE, NULL), 0);
    assert_int_equal(load_sec(TWO_GROUPS_HEAD "proxy:\n  x: [1]\n", NULL), -1);
    assert_string_equal(errs_str(), "t.yaml:9: proxy.x: expected a single value, not a list\n");

    /* Errors inside sections, with the section in the key name. */
    assert_int_equal(load_sec(TWO_GROUPS_HEAD "proxy:\n  threads: 0\n  bogus: 1\n"
                              "sentinel:\n  quorum: x\n  quorum: 2\n", &both), -1);
    assert_string_equal(errs_str(),
                        "t.yaml:9: proxy.threads: value 0 out of range 1..64\n"
                        "t.yaml:10: unknown key 'proxy.bogus'\n"
                        "t.yaml:12: sentinel.quorum: 'x' is not an integer\n"
                        "t.yaml:13: key 'sentinel.quorum' given twice (first at line 12)\n");
    assert_int_equal(T.ngroups, 0);
    assert_int_equal(load_sec(TWO_GROUPS_HEAD "proxy: [a]\n", &both), -1);
    assert_string_equal(errs_str(), "t.yaml:8: proxy must be a mapping of key: value, not a list\n");
    /* An empty section is allowed. */
    assert_int_equal(load_sec(TWO_GROUPS_HEAD "proxy:\nsentinel:\n", &both), 0);
    assert_int_equal(T.has_sentinel, 1);
    assert_int_equal(T.nsentinels, 0);
    conf_free(proxy_fields, &pc);
}

static void test_sentinel_addrs(void **state)
{
    (void)state;
    expect_error(TWO_GROUPS_HEAD "sentinel:\n  addrs: 127.0.0.1:26379\n",
                 "t.yaml:9: sentinel.addrs must be a list of \"host:port\"\n");
    expect_error(TWO_GROUPS_HEAD "sentinel:\n  addrs: []\n",
                 "t.yaml:9: sentinel.addrs: at least one address is required\n");
    expect_error(TWO_GROUPS_HEAD "sentinel:\n  addrs:\n    - h:1\n    - nope\n    - [x]\n",
                 "t.yaml:11: sentinel.addrs #2: 'nope' is not host:port\n"
                 "t.yaml:12: sentinel.addrs #3: '[list]' is not host:port\n");
    expect_error(TWO_GROUPS_HEAD "sentinel:\n  addrs: [h:1]\n  addrs: [h:2]\n",
                 "t.yaml:10: key 'sentinel.addrs' given twice (first at line 9)\n");
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_topo_XXXXXX", expect[256];
    int fd = mkstemp(path);
    const char *text = TWO_GROUPS_HEAD "  - {name: g3, slots: \"5\", nodes: [h:9]}\n";
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    topo_free(&T);
    assert_int_equal(topo_load(path, &T, NULL, &E), -1);
    snprintf(expect, sizeof expect, "%s:8: slot 5 is assigned to both g1 and g3\n", path);
    assert_string_equal(errs_str(), expect);
    unlink(path);
    buf_clear(&E);
    assert_int_equal(topo_load(path, &T, NULL, &E), -1);
    snprintf(expect, sizeof expect, "%s: cannot read: No such file or directory\n", path);
    assert_string_equal(errs_str(), expect);
}

static void test_hostile_bytes(void **state)
{
    (void)state;
    static const char nul[] = "groups:\n  - name: g\0\n";
    topo_free(&T);
    buf_clear(&E);
    assert_int_equal(topo_load_string("t.yaml", nul, sizeof nul - 1, &T, NULL, &E), -1);
    assert_non_null(strstr(errs_str(), "t.yaml:2: YAML: control characters are not allowed"));
    static const char utf8[] = "cluster: ok\ngroups:\n  - name: \xc3\x28\n";
    buf_clear(&E);
    assert_int_equal(topo_load_string("t.yaml", utf8, sizeof utf8 - 1, &T, NULL, &E), -1);
    assert_string_equal(errs_str(), "t.yaml:3: YAML: invalid trailing UTF-8 octet (byte 0x28)\n");
    /* Cyclic and shared anchors: no loop, sensible errors. */
    assert_int_equal(load("groups: &g [*g]\n"), -1);
    assert_string_equal(errs_str(), "t.yaml:1: group #1 must be a mapping with name, slots and nodes\n");
    assert_int_equal(load("groups:\n  - &x {name: g, slots: 0-16383, nodes: [h:1]}\n  - *x\n"), -1);
    assert_non_null(strstr(errs_str(), "group name 'g' is used twice"));
    assert_non_null(strstr(errs_str(), "address h:1 is listed twice"));
}

/* Random damage to a valid file: never a crash or a leak (ASan), a
 * failure always explains itself, a success always covers every slot. */
static void test_mutations(void **state)
{
    (void)state;
    static const char base[] = FULL_FILE "cluster: &c demo\npassword: *c\n";
    char text[sizeof base];
    unsigned seed = 777;
    int ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(text, base, sizeof base);
        for (int k = 0; k < 1 + iter % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % (sizeof base - 1);
            seed = seed * 1103515245u + 12345u;
            text[pos] = (char)(seed >> 16);
        }
        topo_free(&T);
        buf_clear(&E);
        int rc = topo_load_string("m.yaml", text, sizeof base - 1, &T, NULL, &E);
        if (rc < 0) {
            assert_int_equal(rc, -1);
            assert_true(E.len > 0);
            assert_int_equal(T.ngroups, 0);
            continue;
        }
        ok++;
        assert_true(T.ngroups >= 1);
        for (int s = 0; s < 16384; s++) assert_true(T.slot_group[s] < T.ngroups);
    }
    assert_true(ok > 0);  /* some damage is harmless (a digit of a port, a letter of a name) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_groups_multi_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_and_overlap_messages_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentinel_addrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
