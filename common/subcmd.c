/* subcmd: the container subcommand table (see subcmd.h).  The arities are
 * those of redis-server 7.0's COMMAND INFO. */
#include "subcmd.h"

#include <string.h>

#include "resp.h"
#include "util.h"

static const struct subcmd subcmds[] = {
    { "client", "caching", 3 },      { "client", "getname", 2 },  { "client", "getredir", 2 },
    { "client", "help", 2 },         { "client", "id", 2 },       { "client", "info", 2 },
    { "client", "kill", -3 },        { "client", "list", -2 },    { "client", "no-evict", 3 },
    { "client", "pause", -3 },       { "client", "reply", 3 },    { "client", "setname", 3 },
    { "client", "tracking", -3 },    { "client", "trackinginfo", 2 },
    { "client", "unblock", -3 },     { "client", "unpause", 2 },
    { "command", "count", 2 },       { "command", "docs", -2 },   { "command", "getkeys", -4 },
    { "command", "getkeysandflags", -4 }, { "command", "help", 2 }, { "command", "info", -2 },
    { "command", "list", -2 },
    { "latency", "doctor", 2 },      { "latency", "graph", 3 },   { "latency", "help", 2 },
    { "latency", "histogram", -2 },  { "latency", "history", 3 }, { "latency", "latest", 2 },
    { "latency", "reset", -2 },
    { "memory", "doctor", 2 },       { "memory", "help", 2 },     { "memory", "malloc-stats", 2 },
    { "memory", "purge", 2 },        { "memory", "stats", 2 },    { "memory", "usage", -3 },
    { "slowlog", "get", -2 },        { "slowlog", "help", 2 },    { "slowlog", "len", 2 },
    { "slowlog", "reset", 2 },
    { "config", "get", -3 },         { "config", "help", 2 },     { "config", "resetstat", 2 },
    { "config", "rewrite", 2 },      { "config", "set", -4 },
    { "object", "encoding", 3 },     { "object", "freq", 3 },     { "object", "help", 2 },
    { "object", "idletime", 3 },     { "object", "refcount", 3 },
    { "pubsub", "channels", -2 },    { "pubsub", "help", 2 },     { "pubsub", "numpat", 2 },
    { "pubsub", "numsub", -2 },      { "pubsub", "shardchannels", -2 },
    { "pubsub", "shardnumsub", -2 },
    /* Strata's own (not Redis's): see node/cluster/slots.h. */
    { "strata", "help", 2 },         { "strata", "setslots", -6 }, { "strata", "slots", 2 },
    { "strata", "migrate", -3 },     { "strata", "import", -4 },  { "strata", "slotsinfo", 3 },
    { "xgroup", "create", -5 },      { "xgroup", "createconsumer", 5 },
    { "xgroup", "delconsumer", 5 },  { "xgroup", "destroy", 4 },  { "xgroup", "help", 2 },
    { "xgroup", "setid", -5 },
    { "xinfo", "consumers", 4 },     { "xinfo", "groups", 3 },    { "xinfo", "help", 2 },
    { "xinfo", "stream", -3 },
    { "script", "debug", 3 },        { "script", "exists", -3 },  { "script", "flush", -2 },   { "script", "help", 2 },
    { "script", "kill", 2 },         { "script", "load", 3 },
    { "function", "delete", 3 },     { "function", "dump", 2 },   { "function", "flush", -2 },
    { "function", "help", 2 },       { "function", "kill", 2 },   { "function", "list", -2 },
    { "function", "load", -3 },      { "function", "restore", -3 }, { "function", "stats", 2 },
};

#define NSUBCMDS (sizeof subcmds / sizeof subcmds[0])

const struct subcmd *subcmd_all(size_t *n)
{
    *n = NSUBCMDS;
    return subcmds;
}

int subcmd_is_container(const char *name)
{
    for (size_t i = 0; i < NSUBCMDS; i++)
        if (!strcmp(subcmds[i].container, name)) return 1;
    return 0;
}

const struct subcmd *subcmd_lookup(const char *name, const char *sub, size_t sublen)
{
    for (size_t i = 0; i < NSUBCMDS; i++)
        if (!strcmp(subcmds[i].container, name) && str_eq_nocase(sub, sublen, subcmds[i].name))
            return &subcmds[i];
    return NULL;
}

int subcmd_arity_ok(const struct subcmd *s, int argc)
{
    return s->arity >= 0 ? argc == s->arity : argc >= -s->arity;
}

int subcmd_check(buf *out, const char *name, const char *sub, size_t sublen, int argc)
{
    const struct subcmd *s = subcmd_lookup(name, sub, sublen);
    if (!s) {
        char upper[32];
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof upper; i++)
            upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
        upper[i] = '\0';
        resp_add_errorf(out, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)(sublen > 128 ? 128 : sublen),
                        sub, upper);
        return -1;
    }
    if (!subcmd_arity_ok(s, argc)) {
        resp_add_errorf(out, "ERR wrong number of arguments for '%s|%s' command", s->container, s->name);
        return -1;
    }
    return 0;
}
