/* cmdtable: see cmdtable.h.  The lookup index is a small open-addressing
 * hash table over the lower-cased names, built once. */
#include "cmdtable.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cmdmeta.h"
#include "subcmd.h"
#include "util.h"

const struct cmd_spec cmd_table[CMD__COUNT] = {
#define CMD(id, name, arity, flags, first, last, step, numkeys, route) \
    { CMD_##id, name, arity, flags, first, last, step, numkeys, route },
#include "commands.def"
#undef CMD
};

#define CMD_INDEX_SIZE 512 /* power of two, > 2 * CMD__COUNT */
static short cmd_index[CMD_INDEX_SIZE];
static int cmd_index_ready;

static unsigned name_hash(const char *s, size_t len)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

/* 1 for a container command (subcmd.h), by id: dispatch asks for every
 * command line, and subcmd_is_container walks the subcommand table. */
static unsigned char cmd_container[CMD__COUNT];

void cmd_table_init(void)
{
    if (cmd_index_ready) return;
    _Static_assert(CMD_INDEX_SIZE > 2 * CMD__COUNT, "command index too small");
    memset(cmd_index, -1, sizeof cmd_index);
    for (int i = 0; i < CMD__COUNT; i++) {
        unsigned h = name_hash(cmd_table[i].name, strlen(cmd_table[i].name));
        while (cmd_index[h & (CMD_INDEX_SIZE - 1)] >= 0) h++;
        cmd_index[h & (CMD_INDEX_SIZE - 1)] = (short)i;
        cmd_container[i] = (unsigned char)subcmd_is_container(cmd_table[i].name);
    }
    cmd_index_ready = 1;
    cmdmeta_init();
}

int cmd_is_container(const struct cmd_spec *c)
{
    if (!cmd_index_ready) cmd_table_init();
    return cmd_container[c->id];
}

const struct cmd_spec *cmd_lookup(const char *name, size_t len)
{
    if (!cmd_index_ready) cmd_table_init();
    if (len == 0 || len > 32) return NULL;
    unsigned h = name_hash(name, len);
    for (;;) {
        short i = cmd_index[h & (CMD_INDEX_SIZE - 1)];
        if (i < 0) return NULL;
        const char *n = cmd_table[i].name;
        if (strlen(n) == len && strncasecmp(n, name, len) == 0) return &cmd_table[i];
        h++;
    }
}

int cmd_arity_ok(const struct cmd_spec *c, int argc)
{
    return c->arity >= 0 ? argc == c->arity : argc >= -c->arity;
}

int cmd_sort_store_key(int argc, char *const *argv, const size_t *argvlen)
{
    int store = 0;
    for (int i = 2; i < argc; i++) {
        if (str_eq_nocase(argv[i], argvlen[i], "limit")) i += 2;
        else if (str_eq_nocase(argv[i], argvlen[i], "get") || str_eq_nocase(argv[i], argvlen[i], "by")) i++;
        else if (str_eq_nocase(argv[i], argvlen[i], "store") && i + 1 < argc) store = ++i;
    }
    return store;
}

int cmd_get_keys(const struct cmd_spec *c, int argc, char **argv,
                 const size_t *argvlen, int *out, int max)
{
    int n = 0;
    if (c->first > 0) {
        int last = c->last < 0 ? argc + c->last : c->last;
        if (last >= argc) last = argc - 1;
        for (int i = c->first; i <= last; i += c->step) {
            if (n < max) out[n] = i;
            n++;
        }
    }
    if (c->id == CMD_SORT) {
        int store = cmd_sort_store_key(argc, argv, argvlen);
        if (store) {
            if (n < max) out[n] = store;
            n++;
        }
    }
    if (c->id == CMD_XREAD || c->id == CMD_XREADGROUP) {
        /* Redis's xreadGetKeys: after the first STREAMS argument, the first
         * half of what is left are the keys (the rest their IDs) */
        int streams = 0;
        for (int i = 1; i < argc && !streams; i++)
            if (str_eq_nocase(argv[i], argvlen[i], "streams")) streams = i;
        int rest = streams ? argc - streams - 1 : 0;
        if (rest == 0 || rest % 2) return -1;
        for (int i = 0; i < rest / 2; i++) {
            if (n < max) out[n] = streams + 1 + i;
            n++;
        }
    }
    if (c->numkeys > 0) {
        long long k;
        if (c->numkeys >= argc ||
            str2ll(argv[c->numkeys], argvlen[c->numkeys], &k) < 0 ||
            k <= 0 || k > argc - c->numkeys - 1)
            return -1;
        for (int i = 0; i < k; i++) {
            if (n < max) out[n] = c->numkeys + 1 + i;
            n++;
        }
    }
    return n;
}

int cmd_flag_names(unsigned flags, const char **names, int max)
{
    static const struct { unsigned bit; const char *name; } map[] = {
        { CF_WRITE, "write" },           { CF_READ, "readonly" },
        { CF_DENYOOM, "denyoom" },       { CF_ADMIN, "admin" },
        { CF_PUBSUB, "pubsub" },         { CF_NOSCRIPT, "noscript" },
        { CF_BLOCKING, "blocking" },     { CF_LOADING, "loading" },
        { CF_STALE, "stale" },           { CF_SKIP_MONITOR, "skip_monitor" },
        { CF_SKIP_SLOWLOG, "skip_slowlog" }, { CF_ASKING, "asking" },
        { CF_FAST, "fast" },             { CF_NOAUTH, "no_auth" },
        { CF_MAY_REPLICATE, "may_replicate" }, { CF_NO_MANDATORY_KEYS, "no_mandatory_keys" },
        { CF_NO_ASYNC_LOADING, "no_async_loading" }, { CF_NO_MULTI, "no_multi" },
        { CF_MOVABLEKEYS, "movablekeys" }, { CF_ALLOW_BUSY, "allow_busy" },
    };
    int n = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0] && n < max; i++)
        if (flags & map[i].bit) names[n++] = map[i].name;
    return n;
}
