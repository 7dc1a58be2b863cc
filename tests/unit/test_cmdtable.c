/* test_cmdtable: the command table and key extraction (common/cmdtable.c,
 * common/commands.def).
 *
 * fixtures/cmdinfo.txt (made by fixtures/gen_cmdinfo.py) holds redis-server
 * 7.0's COMMAND INFO for every command of commands.def; arity, key
 * positions and flags must agree with it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmdmeta.h"
#include "cmdreply.h"
#include "cmdtable.h"
#include "resp.h"

static void fixture_path(char *out, size_t n, const char *name)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 1;
    snprintf(out, n, "%.*s/fixtures/%s", dir, slash ? f : ".", name);
}

static const struct cmd_spec *lookup(const char *name)
{
    return cmd_lookup(name, strlen(name));
}

static void test_lookup(void **state)
{
    (void)state;
    cmd_table_init();
    cmd_table_init(); /* idempotent */
    const struct cmd_spec *c = lookup("get");
    assert_non_null(c);
    assert_int_equal(c->id, CMD_GET);
    assert_string_equal(c->name, "get");
    assert_ptr_equal(lookup("GET"), c);
    assert_ptr_equal(lookup("gEt"), c);
    assert_ptr_equal(cmd_lookup("getx", 3), c); /* length-bounded */
    assert_null(lookup("getx"));
    assert_null(lookup("ge"));
    assert_null(lookup(""));
    assert_null(lookup("nosuchcommand"));
    assert_null(lookup("zrevrangebyscorezrevrangebyscorezrevrangebyscore"));
    assert_null(cmd_lookup("get\0", 4));
    /* Every entry is found under its own name, upper-cased too. */
    for (int i = 0; i < CMD__COUNT; i++) {
        char up[64];
        size_t n = strlen(cmd_table[i].name);
        assert_true(n < sizeof up);
        for (size_t k = 0; k <= n; k++)
            up[k] = (char)(cmd_table[i].name[k] >= 'a' && cmd_table[i].name[k] <= 'z'
                               ? cmd_table[i].name[k] - 32 : cmd_table[i].name[k]);
        assert_ptr_equal(cmd_lookup(cmd_table[i].name, n), &cmd_table[i]);
        assert_ptr_equal(cmd_lookup(up, n), &cmd_table[i]);
        assert_int_equal(cmd_table[i].id, i);
    }
}

static void test_arity(void **state)
{
    (void)state;
    const struct cmd_spec *get = lookup("get"), *set = lookup("set"), *ping = lookup("ping");
    assert_false(cmd_arity_ok(get, 1));
    assert_true(cmd_arity_ok(get, 2));
    assert_false(cmd_arity_ok(get, 3));
    assert_false(cmd_arity_ok(set, 2));
    assert_true(cmd_arity_ok(set, 3));
    assert_true(cmd_arity_ok(set, 7));
    assert_true(cmd_arity_ok(ping, 1));
    assert_true(cmd_arity_ok(ping, 2));
    assert_false(cmd_arity_ok(ping, 0));
}

/* Run cmd_get_keys on a command line given as a NULL-terminated list and
 * compare with the expected positions (terminated by -1). */
static void check_keys(const char *const *args, int want_n, const int *want)
{
    int argc = 0;
    while (args[argc]) argc++;
    char *argv[64];
    size_t lens[64];
    for (int i = 0; i < argc; i++) {
        argv[i] = (char *)args[i];
        lens[i] = strlen(args[i]);
    }
    const struct cmd_spec *c = lookup(args[0]);
    assert_non_null(c);
    int out[64];
    int n = cmd_get_keys(c, argc, argv, lens, out, 64);
    if (n != want_n) print_error("%s: %d keys, want %d\n", args[0], n, want_n);
    assert_int_equal(n, want_n);
    for (int i = 0; i < n; i++) assert_int_equal(out[i], want[i]);
}

static void test_get_keys(void **state)
{
    (void)state;
    static const int none[] = { -1 };
    static const int k1[] = { 1 };
    static const int k12[] = { 1, 2 };
    static const int k123[] = { 1, 2, 3 };
    static const int k135[] = { 1, 3, 5 };
    static const int k2[] = { 2 };
    static const int k2_3[] = { 2, 3 };
    static const int k3_4[] = { 3, 4 };
    static const int k1_3_4[] = { 1, 3, 4 };

    { const char *const a[] = { "get", "k", NULL }; check_keys(a, 1, k1); }
    { const char *const a[] = { "set", "k", "v", "EX", "10", NULL }; check_keys(a, 1, k1); }
    { const char *const a[] = { "ping", NULL }; check_keys(a, 0, none); }
    { const char *const a[] = { "keys", "*", NULL }; check_keys(a, 0, none); }
    /* last = -1 */
    { const char *const a[] = { "mget", "a", "b", "c", NULL }; check_keys(a, 3, k123); }
    { const char *const a[] = { "del", "a", NULL }; check_keys(a, 1, k1); }
    /* step 2 */
    { const char *const a[] = { "mset", "a", "1", "b", "2", "c", "3", NULL }; check_keys(a, 3, k135); }
    /* last = -2: the timeout is not a key */
    { const char *const a[] = { "blpop", "a", "b", "0", NULL }; check_keys(a, 2, k12); }
    { const char *const a[] = { "bzpopmax", "a", "1.5", NULL }; check_keys(a, 1, k1); }
    /* fixed range of two */
    { const char *const a[] = { "rename", "a", "b", NULL }; check_keys(a, 2, k12); }
    { const char *const a[] = { "lmove", "a", "b", "LEFT", "RIGHT", NULL }; check_keys(a, 2, k12); }
    { const char *const a[] = { "object", "encoding", "k", NULL }; check_keys(a, 1, k2); }
    /* numkeys */
    { const char *const a[] = { "zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2", NULL };
      check_keys(a, 3, k1_3_4); }
    { const char *const a[] = { "zinterstore", "d", "1", "a", NULL }; static const int w[] = { 1, 3 };
      check_keys(a, 2, w); }
    { const char *const a[] = { "lmpop", "2", "a", "b", "LEFT", NULL }; check_keys(a, 2, k2_3); }
    { const char *const a[] = { "blmpop", "0", "2", "a", "b", "LEFT", "COUNT", "3", NULL };
      check_keys(a, 2, k3_4); }
    { const char *const a[] = { "sintercard", "2", "a", "b", "LIMIT", "5", NULL }; check_keys(a, 2, k2_3); }
    { const char *const a[] = { "zunion", "1", "a", "WITHSCORES", NULL }; check_keys(a, 1, k2); }
    { const char *const a[] = { "bzmpop", "1", "1", "a", "MIN", NULL }; static const int w[] = { 3 };
      check_keys(a, 1, w); }
    /* invalid numkeys: -1, the command reports its own error */
    { const char *const a[] = { "lmpop", "0", "a", "LEFT", NULL }; check_keys(a, -1, none); }
    { const char *const a[] = { "lmpop", "-1", "a", "LEFT", NULL }; check_keys(a, -1, none); }
    { const char *const a[] = { "lmpop", "x", "a", "LEFT", NULL }; check_keys(a, -1, none); }
    { const char *const a[] = { "lmpop", "01", "a", "LEFT", NULL }; check_keys(a, -1, none); }
    { const char *const a[] = { "lmpop", "3", "a", "LEFT", NULL }; check_keys(a, -1, none); }
    { const char *const a[] = { "sintercard", "99999999999999999999", "a", NULL }; check_keys(a, -1, none); }
    { const char *const a[] = { "zunionstore", "d", "5", "a", "b", NULL }; check_keys(a, -1, none); }
    { const char *const a[] = { "blmpop", "0", NULL }; check_keys(a, -1, none); }
    /* numkeys may cover every remaining argument */
    { const char *const a[] = { "sintercard", "2", "a", "b", NULL }; check_keys(a, 2, k2_3); }
}

static void test_get_keys_small_out(void **state)
{
    (void)state;
    /* With less room than keys: the count is still the full number and
     * only `max` slots are written. */
    char *argv[] = { "mget", "a", "b", "c", "d" };
    size_t lens[] = { 4, 1, 1, 1, 1 };
    int out[3] = { -7, -7, -7 };
    assert_int_equal(cmd_get_keys(lookup("mget"), 5, argv, lens, out, 2), 4);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(out[2], -7);
    assert_int_equal(cmd_get_keys(lookup("mget"), 5, argv, lens, NULL, 0), 4);
}

/* ---- COMMAND INFO reply: a tiny RESP reader that checks the structure ---- */

struct rd {
    const char *p, *end;
};

static long long rd_line(struct rd *r, char type)
{
    assert_true(r->p < r->end);
    assert_int_equal(*r->p, type);
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    assert_non_null(nl);
    assert_int_equal(nl[-1], '\r');
    long long v = 0;
    if (type != '+') {
        /* The reply is not NUL-terminated: parse a bounded copy. */
        char num[32];
        size_t n = (size_t)(nl - 1 - (r->p + 1));
        assert_true(n < sizeof num);
        memcpy(num, r->p + 1, n);
        num[n] = '\0';
        v = strtoll(num, NULL, 10);
    }
    r->p = nl + 1;
    return v;
}

static void rd_bulk(struct rd *r, const char *want)
{
    long long n = rd_line(r, '$');
    assert_true(n >= 0 && r->p + n + 2 <= r->end);
    assert_int_equal((size_t)n, strlen(want));
    assert_memory_equal(r->p, want, (size_t)n);
    assert_memory_equal(r->p + n, "\r\n", 2);
    r->p += n + 2;
}

/* The head of a command's COMMAND INFO entry: name, arity, flags (those
 * of commands.def and its extra ones), key positions; then 4 aggregates. */
static void check_info(const struct cmd_spec *c)
{
    const struct cmd_meta *m = cmdmeta_get(c->id);
    buf b;
    buf_init(&b);
    cmdreply_info(&b, RESP2, m);
    struct rd r = { b.data, b.data + b.len };
    assert_int_equal(rd_line(&r, '*'), 10);
    rd_bulk(&r, c->name);
    assert_int_equal(rd_line(&r, ':'), c->arity);
    long long nf = rd_line(&r, '*');
    const char *names[32];
    if (m->nsubs) {
        /* a container shows only its own flags and no key positions */
        assert_int_equal(nf, cmd_flag_names(m->flags, names, 32));
        for (long long i = 0; i < nf; i++) rd_line(&r, '+');
        for (int i = 0; i < 3; i++) assert_int_equal(rd_line(&r, ':'), 0);
    } else {
        int want_nf = cmd_flag_names(c->flags | m->flags, names, 32);
        assert_int_equal(nf, want_nf + (c->numkeys > 0));
        for (long long i = 0; i < nf; i++) rd_line(&r, '+');
        assert_int_equal(rd_line(&r, ':'), c->first);
        assert_int_equal(rd_line(&r, ':'), c->last);
        assert_int_equal(rd_line(&r, ':'), c->step);
    }
    buf_free(&b);
}

static void test_reply_info(void **state)
{
    (void)state;
    for (int i = 0; i < CMD__COUNT; i++) check_info(&cmd_table[i]);
    /* Exact examples, as redis-server 7.0 writes them. */
    buf b;
    buf_init(&b);
    cmdreply_info(&b, RESP2, cmdmeta_get(CMD_GET));
    static const char want[] =
        "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        "*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n"
        "+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
        "*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
        "$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n"
        ":0\r\n*0\r\n";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, sizeof want - 1);
    buf_clear(&b);
    cmdreply_info(&b, RESP3, cmdmeta_get(CMD_GET));
    static const char want3[] =
        "*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        "~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n"
        "+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
        "%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
        "$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n"
        ":0\r\n~0\r\n";
    assert_int_equal(b.len, sizeof want3 - 1);
    assert_memory_equal(b.data, want3, sizeof want3 - 1);
    buf_clear(&b);
    cmdreply_info(&b, RESP2, cmdmeta_get(CMD_LMPOP));
    assert_non_null(memmem(b.data, b.len, "+movablekeys\r\n", 14));
    buf_free(&b);

    const char *names[4];
    assert_int_equal(cmd_flag_names(CF_WRITE | CF_FAST | CF_NOAUTH, names, 4), 3);
    assert_string_equal(names[0], "write");
    assert_string_equal(names[1], "fast");
    assert_string_equal(names[2], "no_auth");
    assert_int_equal(cmd_flag_names(CF_WRITE | CF_FAST | CF_NOAUTH, names, 1), 1);
    assert_int_equal(cmd_flag_names(CF_NO_MULTI | CF_MOVABLEKEYS | CF_ALLOW_BUSY | CF_ADMIN, names, 4), 4);
    assert_string_equal(names[0], "admin");
    assert_string_equal(names[1], "no_multi");
    assert_string_equal(names[2], "movablekeys");
    assert_string_equal(names[3], "allow_busy");
}

/* ---- every command against redis-server 7.0's COMMAND INFO ---- */

static unsigned redis_flags(const char *list)
{
    static const struct { const char *name; unsigned bit; } map[] = {
        { "write", CF_WRITE },       { "readonly", CF_READ },     { "denyoom", CF_DENYOOM },
        { "admin", CF_ADMIN },       { "pubsub", CF_PUBSUB },     { "noscript", CF_NOSCRIPT },
        { "blocking", CF_BLOCKING }, { "loading", CF_LOADING },   { "stale", CF_STALE },
        { "fast", CF_FAST },         { "no_auth", CF_NOAUTH },
    };
    unsigned f = 0;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *t = strtok(tmp, ","); t; t = strtok(NULL, ","))
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(t, map[i].name) == 0) f |= map[i].bit;
    return f;
}

static void test_table_vs_redis(void **state)
{
    (void)state;
    char path[4096];
    fixture_path(path, sizeof path, "cmdinfo.txt");
    FILE *f = fopen(path, "r");
    if (!f) print_error("cannot open %s\n", path);
    assert_non_null(f);
    char line[1024];
    int seen[CMD__COUNT] = { 0 };
    int bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[64], rest[900];
        int arity, first, last, step;
        if (sscanf(line, "%63s %d container %899s", name, &arity, rest) == 3) {
            /* Container: Strata flattens the subcommands, so only the
             * arity must match, and fixed keys must be those of one of
             * Redis's subcommands. */
            const struct cmd_spec *c = lookup(name);
            assert_non_null(c);
            seen[c->id] = 1;
            if (c->arity != arity) {
                print_error("%s: arity %d, redis %d\n", name, c->arity, arity);
                bad++;
            }
            char pos[32];
            snprintf(pos, sizeof pos, "%d,%d,%d", c->first, c->last, c->step);
            int found = 0;
            for (char *t = strtok(rest, ";"); t; t = strtok(NULL, ";"))
                if (strcmp(t, pos) == 0) found = 1;
            if (!found) {
                print_error("%s: keys %s match no subcommand\n", name, pos);
                bad++;
            }
            continue;
        }
        char flags[512];
        int n = sscanf(line, "%63s %d %d %d %d %511s", name, &arity, &first, &last, &step, flags);
        if (n >= 1 && strstr(line, " unknown")) {
            /* A Strata-only command: nothing to compare with. */
            const struct cmd_spec *c = lookup(name);
            if (c) seen[c->id] = 1;
            continue;
        }
        assert_int_equal(n, 6);
        const struct cmd_spec *c = lookup(name);
        assert_non_null(c);
        seen[c->id] = 1;
        if (c->arity != arity || c->first != first || c->last != last || c->step != step) {
            print_error("%s: strata %d %d %d %d, redis %d %d %d %d\n", name, c->arity, c->first,
                        c->last, c->step, arity, first, last, step);
            bad++;
        }
        unsigned rf = redis_flags(flags);
        if (rf != c->flags) {
            print_error("%s: flags 0x%x, redis 0x%x (%s)\n", name, c->flags, rf, flags);
            bad++;
        }
        int movable = strstr(flags, "movablekeys") != NULL;
        if (movable != (c->numkeys > 0)) {
            print_error("%s: movablekeys %d but numkeys %d\n", name, movable, c->numkeys);
            bad++;
        }
    }
    fclose(f);
    for (int i = 0; i < CMD__COUNT; i++) {
        if (!seen[i]) {
            print_error("%s is not in cmdinfo.txt: rerun fixtures/gen_cmdinfo.py\n",
                        cmd_table[i].name);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_arity),
        cmocka_unit_test(test_get_keys),
        cmocka_unit_test(test_get_keys_small_out),
        cmocka_unit_test(test_reply_info),
        cmocka_unit_test(test_table_vs_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
