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
#include "subcmd.h"

static void fixture_path(char *out, size_t n, const char *name)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 1;
    snprintf(out, n, "%.*s/fixtures/%s", dir, slash ? f : ".", name);
}

/* Does a command have a key found after a keyword (movable, with no
 * numkeys argument)? */
static int keyword_keyspec(const struct cmd_meta *m)
{
    for (int i = 0; i < m->nkeyspecs; i++)
        if (m->keyspecs[i].bs_keyword) return 1;
    return 0;
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
        assert_int_equal(nf, want_nf + (c->numkeys > 0 || keyword_keyspec(m)));
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
        if (movable != (c->numkeys > 0 || keyword_keyspec(cmdmeta_get(c->id)))) {
            print_error("%s: movablekeys %d but numkeys %d\n", name, movable, c->numkeys);
            bad++;
        }
        /* COMMAND INFO's whole list, with commands_meta.def's extra flags */
        const struct cmd_meta *m = cmdmeta_get(c->id);
        const char *names[32];
        int nf = cmd_flag_names(m->flags | (m->movablekeys ? CF_MOVABLEKEYS : 0u), names, 32);
        char list[512] = "";
        for (int i = 0; i < nf; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", names[i]);
        if (strcmp(list, strcmp(flags, "-") ? flags : "") != 0) {
            print_error("%s: COMMAND INFO flags %s, redis %s\n", name, list, flags);
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

/* ---- cmdmeta and cmdreply ---- */

static const struct cmd_meta *meta(const char *name)
{
    return cmdmeta_lookup(name, strlen(name));
}

static void test_meta_entries(void **state)
{
    (void)state;
    /* Every command and subcommand has its entry, with Redis's invariants. */
    assert_int_equal(cmdmeta_unmatched(), 0);
    size_t nsubs, seen_subs = 0;
    subcmd_all(&nsubs);
    for (int i = 0; i < CMD__COUNT; i++) {
        const struct cmd_meta *m = cmdmeta_get((enum cmd_id)i);
        assert_string_equal(m->fullname, cmd_table[i].name);
        assert_non_null(m->summary);
        assert_true(m->summary[0] != '\0');
        assert_non_null(m->group);
        assert_non_null(m->since);
        assert_true(m->acl != 0);
        assert_int_equal(!!(m->acl & AC_FAST) + !!(m->acl & AC_SLOW), 1);
        assert_int_equal(m->nsubs > 0, subcmd_is_container(cmd_table[i].name));
        /* a numkeys column in commands.def is a keynum key spec */
        /* a numkeys column in commands.def is a keynum key spec; a key
         * found after a keyword (GEORADIUS ... STORE key) is movable too */
        if (!m->nsubs)
            assert_int_equal(m->movablekeys, cmd_table[i].numkeys > 0 || keyword_keyspec(m));
        for (int j = 0; j < m->nsubs; j++) {
            const struct cmd_meta *s = m->subs[j];
            assert_ptr_equal(s->parent, m);
            assert_int_equal(strncmp(s->fullname, m->fullname, strlen(m->fullname)), 0);
            assert_int_equal(s->fullname[strlen(m->fullname)], '|');
            if (j) assert_true(strcmp(m->subs[j - 1]->fullname, s->fullname) < 0);
            assert_ptr_equal(meta(s->fullname), s);
            seen_subs++;
        }
        /* each key_spec_index of an argument names one of its key specs */
        for (int j = 0; j < m->nargs; j++)
            assert_true(m->args[j].key_spec_index < m->nkeyspecs);
    }
    assert_int_equal(seen_subs, nsubs);

    const struct cmd_meta *m = meta("zunionstore");
    assert_int_equal(m->nkeyspecs, 2);
    assert_int_equal(m->keyspecs[0].flags, KF_OW | KF_UPDATE);
    assert_int_equal(m->keyspecs[1].flags, KF_RO | KF_ACCESS);
    assert_true(m->keyspecs[1].fk_keynum);
    assert_int_equal(m->keyspecs[1].bs_index, 2);
    assert_int_equal(m->acl, AC_WRITE | AC_SORTEDSET | AC_SLOW);
    assert_int_equal(m->nargs, 5);
    assert_string_equal(m->args[3].token, "WEIGHTS");
    assert_int_equal(m->args[3].flags, ARGF_OPTIONAL | ARGF_MULTIPLE);
    assert_int_equal(m->args[4].type, ARG_ONEOF);
    assert_int_equal(m->args[4].nargs, 3);
    assert_string_equal(m->args[4].args[2].name, "max");

    m = meta("set");
    assert_int_equal(m->nhistory, 4);
    assert_string_equal(m->history[0].version, "2.6.12");
    assert_non_null(m->keyspecs[0].notes);
    assert_int_equal(m->args[2].type, ARG_ONEOF);
    assert_string_equal(m->args[2].since, "2.6.12");

    m = meta("client|kill");
    assert_non_null(m);
    assert_int_equal(m->arity, -3);
    assert_int_equal(m->flags, CF_ADMIN | CF_NOSCRIPT | CF_LOADING | CF_STALE);
    assert_string_equal(m->args[0].args[0].name, "ip:port");
    assert_string_equal(m->args[0].args[0].deprecated_since, "2.8.12");

    /* containers show their own flags, not the dispatcher's */
    assert_int_equal(meta("object")->flags, 0);
    assert_int_equal(meta("command")->flags, CF_LOADING | CF_STALE);
    assert_int_equal(meta("object")->first, 0);
    assert_int_equal(meta("shutdown")->flags & (CF_NO_MULTI | CF_ALLOW_BUSY), CF_NO_MULTI | CF_ALLOW_BUSY);
    assert_int_equal(meta("getset")->doc_flags, DOC_DEPRECATED);
    assert_string_equal(meta("getset")->deprecated_since, "6.2.0");
    assert_null(meta("monitor")->complexity);
    assert_false(meta("dbsize")->has_args);
}

static void test_meta_lookup(void **state)
{
    (void)state;
    assert_ptr_equal(meta("GET"), cmdmeta_get(CMD_GET));
    assert_string_equal(meta("Client|LIST")->fullname, "client|list");
    assert_null(meta("get|x"));          /* GET has no subcommands */
    assert_null(meta("client|list|x"));  /* one level only */
    assert_null(meta("client|"));
    assert_null(meta("|list"));
    assert_null(meta("client|nosuch"));
    assert_null(meta(""));
    char *argv[] = { "MEMORY", "usage", "k" };
    size_t lens[] = { 6, 5, 1 };
    assert_string_equal(cmdmeta_lookup_argv(3, argv, lens)->fullname, "memory|usage");
    assert_string_equal(cmdmeta_lookup_argv(1, argv, lens)->fullname, "memory");
    argv[1] = "nosuch";
    lens[1] = 6;
    assert_null(cmdmeta_lookup_argv(3, argv, lens));
    char *get[] = { "get", "k", "x" };
    size_t getl[] = { 3, 1, 1 };
    assert_string_equal(cmdmeta_lookup_argv(3, get, getl)->fullname, "get");

    assert_int_equal(cmdmeta_acl_lookup("READ", 4), AC_READ);
    assert_int_equal(cmdmeta_acl_lookup("@read", 5), 0);
    assert_int_equal(cmdmeta_acl_lookup("scripting", 9), AC_SCRIPTING);
    assert_string_equal(cmdmeta_acl_name(ACI_SORTEDSET), "sortedset");
    assert_null(cmdmeta_acl_name(ACI__COUNT));
    const char *names[16];
    assert_int_equal(cmdmeta_key_flag_names(KF_RW | KF_ACCESS | KF_DELETE, names, 16), 3);
    assert_string_equal(names[0], "RW");
    assert_string_equal(names[2], "delete");
}

/* Keys of a line written with spaces (no argument has one). */
static int keys_of(const char *line, struct cmd_key *out, int max)
{
    static char tmp[256];
    static char *argv[32];
    static size_t lens[32];
    snprintf(tmp, sizeof tmp, "%s", line);
    int argc = 0;
    for (char *t = strtok(tmp, " "); t && argc < 32; t = strtok(NULL, " ")) {
        argv[argc] = t;
        lens[argc++] = strlen(t);
    }
    const struct cmd_meta *m = cmdmeta_lookup_argv(argc, argv, lens);
    assert_non_null(m);
    return cmdmeta_get_keys(m, argc, argv, lens, out, max);
}

static void test_meta_get_keys(void **state)
{
    (void)state;
    struct cmd_key k[8];
    assert_int_equal(keys_of("set k v", k, 8), 1);
    assert_int_equal(k[0].flags, KF_OW | KF_UPDATE);
    assert_int_equal(keys_of("set k v EX 1 get", k, 8), 1);
    assert_int_equal(k[0].flags, KF_RW | KF_ACCESS | KF_UPDATE);
    /* key specs: destination, then the counted keys */
    assert_int_equal(keys_of("zunionstore d 2 a b weights 1 2", k, 8), 3);
    assert_int_equal(k[0].pos, 1);
    assert_int_equal(k[1].pos, 3);
    assert_int_equal(k[2].pos, 4);
    assert_int_equal(k[2].flags, KF_RO | KF_ACCESS);
    /* a count the specs refuse: Redis's atoi fallback, inputs first, no flags */
    assert_int_equal(keys_of("zunionstore d 1x a", k, 8), 2);
    assert_int_equal(k[0].pos, 3);
    assert_int_equal(k[0].flags, 0);
    assert_int_equal(k[1].pos, 1);
    assert_int_equal(keys_of("zunionstore d 0 a", k, 8), 0);
    assert_int_equal(keys_of("zunionstore d 3 a b", k, 8), 0);
    assert_int_equal(keys_of("zunionstore d 99999999999999999999 a", k, 8), 0);
    assert_int_equal(keys_of("lmpop 2 a b left", k, 8), 2);
    assert_int_equal(k[0].flags, KF_RW | KF_ACCESS | KF_DELETE);
    assert_int_equal(keys_of("blmpop 0 1 a left", k, 8), 1);
    assert_int_equal(k[0].pos, 3);
    /* ranges to the end, and steps */
    assert_int_equal(keys_of("mset a 1 b 2 c 3", k, 8), 3);
    assert_int_equal(k[2].pos, 5);
    assert_int_equal(keys_of("blpop a b c 0", k, 8), 3);
    assert_int_equal(keys_of("memory usage k", k, 8), 1);
    assert_int_equal(k[0].pos, 2);
    assert_int_equal(k[0].flags, KF_RO);
    /* the count is the total even when out is small */
    assert_int_equal(keys_of("del a b c d", k, 2), 4);
    assert_int_equal(keys_of("ping", k, 8), 0);
    assert_false(cmdmeta_has_keys(meta("ping")));
    assert_false(cmdmeta_has_keys(meta("client|list")));
    assert_true(cmdmeta_has_keys(meta("object|encoding")));
    assert_true(cmdmeta_has_keys(meta("zdiff")));
}

/* cmdreply_command on a line written with spaces; the reply in out. */
static int run_command(buf *out, int proto, const char *line)
{
    char tmp[512];
    char *argv[32];
    size_t lens[32];
    snprintf(tmp, sizeof tmp, "%s", line);
    int argc = 0;
    for (char *t = strtok(tmp, " "); t && argc < 32; t = strtok(NULL, " ")) {
        argv[argc] = t;
        lens[argc++] = strlen(t);
    }
    buf_clear(out);
    return cmdreply_command(out, proto, argc, argv, lens);
}

static void expect(int proto, const char *line, const char *want, int err)
{
    buf b;
    buf_init(&b);
    assert_int_equal(run_command(&b, proto, line), err);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len))
        print_error("%s: got %.*s\n", line, (int)b.len, b.data);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

static void test_reply_command(void **state)
{
    (void)state;
    char count[32];
    snprintf(count, sizeof count, ":%d\r\n", CMD__COUNT);
    expect(RESP2, "COMMAND COUNT", count, 0);
    expect(RESP2, "command count x", "-ERR wrong number of arguments for 'command|count' command\r\n", 1);
    expect(RESP2, "COMMAND nosuch", "-ERR unknown subcommand 'nosuch'. Try COMMAND HELP.\r\n", 1);
    expect(RESP2, "COMMAND GETKEYS get", "-ERR wrong number of arguments for 'command|getkeys' command\r\n", 1);
    expect(RESP2, "COMMAND GETKEYS nosuch a", "-ERR Invalid command specified\r\n", 1);
    expect(RESP2, "COMMAND GETKEYS client nosuch", "-ERR Invalid command specified\r\n", 1);
    expect(RESP2, "COMMAND GETKEYS ping x", "-ERR The command has no key arguments\r\n", 1);
    expect(RESP2, "COMMAND GETKEYS get a b", "-ERR Invalid number of arguments specified for command\r\n", 1);
    expect(RESP2, "COMMAND GETKEYS zunionstore d 0 a", "-ERR Invalid arguments specified for command\r\n", 1);
    expect(RESP2, "COMMAND GETKEYS mset a 1 b 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", 0);
    expect(RESP2, "COMMAND GETKEYSANDFLAGS set k v get", "*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n", 0);
    expect(RESP3, "COMMAND GETKEYSANDFLAGS set k v", "*1\r\n*2\r\n$1\r\nk\r\n~2\r\n+OW\r\n+update\r\n", 0);
    expect(RESP2, "COMMAND GETKEYSANDFLAGS zunionstore d 1x a", "*2\r\n*2\r\n$1\r\na\r\n*0\r\n*2\r\n$1\r\nd\r\n*0\r\n", 0);
    expect(RESP2, "COMMAND INFO nosuch get|x", "*2\r\n$-1\r\n$-1\r\n", 0);
    expect(RESP3, "COMMAND INFO nosuch", "*1\r\n_\r\n", 0);
    expect(RESP2, "COMMAND DOCS nosuch", "*0\r\n", 0);
    expect(RESP3, "COMMAND DOCS nosuch", "%0\r\n", 0);
    expect(RESP2, "COMMAND LIST FILTERBY MODULE x", "*0\r\n", 0);
    expect(RESP2, "COMMAND LIST FILTERBY ACLCAT nosuch", "*0\r\n", 0);
    expect(RESP2, "COMMAND LIST FILTERBY PATTERN getd*", "*1\r\n$6\r\ngetdel\r\n", 0);
    expect(RESP2, "COMMAND LIST FILTERBY PATTERN COMMAND|GETKEYS*",
           "*2\r\n$15\r\ncommand|getkeys\r\n$23\r\ncommand|getkeysandflags\r\n", 0);
    expect(RESP2, "COMMAND LIST FILTERBY x y", "-ERR syntax error\r\n", 1);
    expect(RESP2, "COMMAND LIST FILTERBY PATTERN", "-ERR syntax error\r\n", 1);
    expect(RESP2, "COMMAND LIST x", "-ERR syntax error\r\n", 1);

    /* the docs of a command without history, with and without RESP3 */
    static const char getdocs_head[] = "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n";
    buf b;
    buf_init(&b);
    assert_int_equal(run_command(&b, RESP2, "COMMAND DOCS get"), 0);
    assert_memory_equal(b.data, getdocs_head, sizeof getdocs_head - 1);
    static const char getdocs_tail[] =
        "$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n"
        "$14\r\nkey_spec_index\r\n:0\r\n";
    assert_memory_equal(b.data + b.len - (sizeof getdocs_tail - 1), getdocs_tail, sizeof getdocs_tail - 1);
    assert_int_equal(run_command(&b, RESP3, "COMMAND DOCS get"), 0);
    assert_memory_equal(b.data, "%1\r\n$3\r\nget\r\n%5\r\n", 17);

    /* LIST names every command and subcommand once */
    assert_int_equal(run_command(&b, RESP2, "COMMAND LIST"), 0);
    size_t nsubs;
    subcmd_all(&nsubs);
    char head[32];
    snprintf(head, sizeof head, "*%d\r\n", CMD__COUNT + (int)nsubs);
    assert_memory_equal(b.data, head, strlen(head));
    assert_non_null(memmem(b.data, b.len, "$11\r\nclient|list\r\n", 18));

    /* HELP: an array of status lines */
    assert_int_equal(run_command(&b, RESP2, "COMMAND HELP"), 0);
    assert_memory_equal(b.data, "*20\r\n+COMMAND <subcommand>", 24);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first, so that cmdmeta_init() runs before cmd_table_init() has:
         * the order a unit test may call them in (it once listed every
         * subcommand twice) */
        cmocka_unit_test(test_meta_entries),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_arity),
        cmocka_unit_test(test_get_keys),
        cmocka_unit_test(test_get_keys_small_out),
        cmocka_unit_test(test_reply_info),
        cmocka_unit_test(test_table_vs_redis),
        cmocka_unit_test(test_meta_lookup),
        cmocka_unit_test(test_meta_get_keys),
        cmocka_unit_test(test_reply_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
