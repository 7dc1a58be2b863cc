/* rconfig: the Redis-only CONFIG parameters (see rconfig.h).
 *
 * Parameters that strata-node reads:
 *   slowlog-log-slower-than, slowlog-max-len        the slow log (slowlog.c)
 *   latency-monitor-threshold                       LATENCY events (latency.c)
 *   latency-tracking, latency-tracking-info-percentiles
 *                                                   INFO latencystats (cmdstats.c)
 *   hash-max-listpack-entries/-value, zset-max-listpack-entries/-value,
 *   set-max-intset-entries                          OBJECT ENCODING's answer
 *                                                   (the encoding Redis would pick)
 *   maxmemory, maxmemory-policy                     shown by INFO memory; the policy
 *                                                   decides OBJECT FREQ/IDLETIME's
 *                                                   errors and REFCOUNT's shared integers
 *   busy-reply-threshold (lua-time-limit)           when a running script turns busy
 *                                                   (script_lua.c; 0: never)
 *   hll-sparse-max-bytes                            when a HyperLogLog turns dense (t_hll.c)
 *   stream-node-max-entries, stream-node-max-bytes  the stream node boundaries that
 *                                                   ~ trimming follows (t_stream.c)
 *
 * Parameters accepted, checked and kept, with no effect on Strata (data
 * lives in LevelDB: there is no in-memory encoding, snapshot, AOF,
 * eviction, defragmentation or rehashing to tune):
 *   hash-max-ziplist-entries/-value, zset-max-ziplist-entries/-value
 *                                   aliases of the listpack names above
 *   list-max-listpack-size (list-max-ziplist-size), list-compress-depth
 *                                   list node sizes: lists are one record an element
 *   activerehashing, dynamic-hz, jemalloc-bg-thread   no hash tables to rehash
 *   save, rdbcompression, stop-writes-on-bgsave-error,
 *   rdb-save-incremental-fsync, rdb-del-sync-files    no RDB snapshots
 *   appendonly, appendfsync, no-appendfsync-on-rewrite, auto-aof-rewrite-percentage,
 *   auto-aof-rewrite-min-size, aof-use-rdb-preamble, aof-load-truncated,
 *   aof-rewrite-incremental-fsync, aof-timestamp-enabled
 *                                   no AOF (durability is the `fsync` setting)
 *   maxmemory, maxmemory-policy (beyond the above), maxmemory-samples,
 *   maxmemory-eviction-tenacity, maxmemory-clients, lfu-log-factor,
 *   lfu-decay-time                  nothing is evicted
 *   lazyfree-lazy-eviction, -expire, -server-del, -user-del, -user-flush,
 *   replica-lazy-flush (slave-lazy-flush)   deletion of collections is always lazy
 *   activedefrag (only "no": Redis without its Jemalloc refuses "yes" too),
 *   active-defrag-ignore-bytes, -threshold-lower, -threshold-upper,
 *   -cycle-min, -cycle-max, -max-scan-fields   no defragmenter
 *   active-expire-effort            the expiry sweep has its own bounds
 *   tcp-keepalive, protected-mode, acllog-max-len,
 *   shutdown-timeout, crash-log-enabled, crash-memcheck-enabled,
 *   propagation-error-behavior, aof-disable-auto-gc
 * Protected (refused at run time, as Redis with enable-protected-configs no):
 *   dbfilename
 * Immutable, answered for clients that read them:
 *   databases (1), daemonize, io-threads, cluster-enabled, rdbchecksum, appendfilename,
 *   appenddirname, enable-debug-command, enable-protected-configs,
 *   enable-module-command, syslog-enabled, supervised, always-show-logo,
 *   set-proc-title, disable-thp
 *
 * Values are kept as canonical text (what CONFIG GET answers) plus, for
 * numbers, booleans and enums, the number itself. */
#include "rconfig.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum rconf_type {
    RC_BOOL,
    RC_INT,       /* signed, [min, max] */
    RC_UINT,      /* unsigned in Redis (size_t, unsigned long): bounds as unsigned */
    RC_MEM,       /* memory value (units), unsigned bounds */
    RC_MEM_PCT,   /* memory value or N% (kept negative, as Redis) */
    RC_ENUM,
    RC_SAVE,      /* "seconds changes ..." pairs */
    RC_PCTILES,   /* space separated doubles in [0, 100] */
    RC_STR,
};

#define RC_IMMUTABLE 1u
#define RC_NODEFRAG  2u   /* activedefrag: "yes" refused */
#define RC_PROTECTED 4u   /* Redis's enable-protected-configs no: refused */

struct rconf_param {
    const char *name, *alias;
    enum rconf_type type;
    unsigned flags;
    long long min, max;
    const char *const *enums;
    const char *def;
};

static const char *const fsync_enum[] = { "everysec", "always", "no", NULL };
static const char *const propagation_enum[] = { "ignore", "panic", "panic-on-replicas", NULL };
static const char *const policy_enum[] = { "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                           "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction", NULL };

#define LL_MAX LLONG_MAX
#define I_MAX INT_MAX

static const struct rconf_param params[] = {
    /* encodings */
    { "hash-max-listpack-entries", "hash-max-ziplist-entries", RC_UINT, 0, 0, LL_MAX, NULL, "512" },
    { "hash-max-listpack-value", "hash-max-ziplist-value", RC_MEM, 0, 0, LL_MAX, NULL, "64" },
    { "zset-max-listpack-entries", "zset-max-ziplist-entries", RC_UINT, 0, 0, LL_MAX, NULL, "128" },
    { "zset-max-listpack-value", "zset-max-ziplist-value", RC_MEM, 0, 0, LL_MAX, NULL, "64" },
    { "list-max-listpack-size", "list-max-ziplist-size", RC_INT, 0, INT_MIN, I_MAX, NULL, "-2" },
    { "list-compress-depth", NULL, RC_INT, 0, 0, I_MAX, NULL, "0" },
    { "set-max-intset-entries", NULL, RC_UINT, 0, 0, LL_MAX, NULL, "512" },
    { "stream-node-max-entries", NULL, RC_INT, 0, 0, LL_MAX, NULL, "100" },
    { "stream-node-max-bytes", NULL, RC_MEM, 0, 0, LL_MAX, NULL, "4096" },
    { "hll-sparse-max-bytes", NULL, RC_MEM, 0, 0, LL_MAX, NULL, "3000" },
    { "activerehashing", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "dynamic-hz", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "jemalloc-bg-thread", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    /* persistence */
    { "save", NULL, RC_SAVE, 0, 0, 0, NULL, "" },
    { "rdbcompression", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "rdbchecksum", NULL, RC_BOOL, RC_IMMUTABLE, 0, 0, NULL, "yes" },
    { "stop-writes-on-bgsave-error", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "rdb-save-incremental-fsync", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "rdb-del-sync-files", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "appendonly", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "appendfsync", NULL, RC_ENUM, 0, 0, 0, fsync_enum, "everysec" },
    { "no-appendfsync-on-rewrite", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "auto-aof-rewrite-percentage", NULL, RC_INT, 0, 0, I_MAX, NULL, "100" },
    { "auto-aof-rewrite-min-size", NULL, RC_MEM, 0, 0, LL_MAX, NULL, "67108864" },
    { "aof-use-rdb-preamble", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "aof-load-truncated", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "aof-rewrite-incremental-fsync", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "aof-timestamp-enabled", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "aof-disable-auto-gc", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    /* memory and eviction */
    { "maxmemory", NULL, RC_MEM, 0, 0, -1 /* ULLONG_MAX */, NULL, "0" },
    { "maxmemory-policy", NULL, RC_ENUM, 0, 0, 0, policy_enum, "noeviction" },
    { "maxmemory-samples", NULL, RC_INT, 0, 1, I_MAX, NULL, "5" },
    { "maxmemory-eviction-tenacity", NULL, RC_INT, 0, 0, 100, NULL, "10" },
    { "maxmemory-clients", NULL, RC_MEM_PCT, 0, -100, LL_MAX, NULL, "0" },
    { "lfu-log-factor", NULL, RC_INT, 0, 0, I_MAX, NULL, "10" },
    { "lfu-decay-time", NULL, RC_INT, 0, 0, I_MAX, NULL, "1" },
    { "lazyfree-lazy-eviction", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "lazyfree-lazy-expire", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "lazyfree-lazy-server-del", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "lazyfree-lazy-user-del", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "lazyfree-lazy-user-flush", NULL, RC_BOOL, 0, 0, 0, NULL, "no" },
    { "replica-lazy-flush", "slave-lazy-flush", RC_BOOL, 0, 0, 0, NULL, "no" },
    { "activedefrag", NULL, RC_BOOL, RC_NODEFRAG, 0, 0, NULL, "no" },
    { "active-defrag-ignore-bytes", NULL, RC_MEM, 0, 1, LL_MAX, NULL, "104857600" },
    { "active-defrag-threshold-lower", NULL, RC_INT, 0, 0, 1000, NULL, "10" },
    { "active-defrag-threshold-upper", NULL, RC_INT, 0, 0, 1000, NULL, "100" },
    { "active-defrag-cycle-min", NULL, RC_INT, 0, 1, 99, NULL, "1" },
    { "active-defrag-cycle-max", NULL, RC_INT, 0, 1, 99, NULL, "25" },
    { "active-defrag-max-scan-fields", NULL, RC_INT, 0, 1, LL_MAX, NULL, "1000" },
    { "active-expire-effort", NULL, RC_INT, 0, 1, 10, NULL, "1" },
    /* monitoring */
    { "slowlog-log-slower-than", NULL, RC_INT, 0, -1, LL_MAX, NULL, "10000" },
    { "slowlog-max-len", NULL, RC_UINT, 0, 0, LL_MAX, NULL, "128" },
    { "latency-monitor-threshold", NULL, RC_INT, 0, 0, LL_MAX, NULL, "0" },
    { "latency-tracking", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "latency-tracking-info-percentiles", NULL, RC_PCTILES, 0, 0, 0, NULL, "50 99 99.9" },
    { "busy-reply-threshold", "lua-time-limit", RC_INT, 0, 0, LL_MAX, NULL, "5000" },
    /* network and misc */
    { "tcp-keepalive", NULL, RC_INT, 0, 0, I_MAX, NULL, "300" },
    { "protected-mode", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "acllog-max-len", NULL, RC_UINT, 0, 0, LL_MAX, NULL, "128" },
    { "shutdown-timeout", NULL, RC_INT, 0, 0, I_MAX, NULL, "10" },
    { "crash-log-enabled", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "crash-memcheck-enabled", NULL, RC_BOOL, 0, 0, 0, NULL, "yes" },
    { "propagation-error-behavior", NULL, RC_ENUM, 0, 0, 0, propagation_enum, "ignore" },
    /* protected (Redis refuses them at run time by default) */
    { "dbfilename", NULL, RC_STR, RC_PROTECTED, 0, 0, NULL, "dump.rdb" },
    /* immutable */
    { "databases", NULL, RC_INT, RC_IMMUTABLE, 1, I_MAX, NULL, "1" },
    { "daemonize", NULL, RC_BOOL, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "io-threads", NULL, RC_INT, RC_IMMUTABLE, 1, 128, NULL, "1" },
    { "cluster-enabled", NULL, RC_BOOL, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "appendfilename", NULL, RC_STR, RC_IMMUTABLE, 0, 0, NULL, "appendonly.aof" },
    { "appenddirname", NULL, RC_STR, RC_IMMUTABLE, 0, 0, NULL, "appendonlydir" },
    { "enable-debug-command", NULL, RC_STR, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "enable-protected-configs", NULL, RC_STR, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "enable-module-command", NULL, RC_STR, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "syslog-enabled", NULL, RC_BOOL, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "supervised", NULL, RC_STR, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "always-show-logo", NULL, RC_BOOL, RC_IMMUTABLE, 0, 0, NULL, "no" },
    { "set-proc-title", NULL, RC_BOOL, RC_IMMUTABLE, 0, 0, NULL, "yes" },
    { "disable-thp", NULL, RC_BOOL, RC_IMMUTABLE, 0, 0, NULL, "yes" },
};

#define NPARAMS (sizeof params / sizeof params[0])

/* Current values, by index into params: text set lazily from the default. */
static struct {
    char *text;
    long long num;
    int set;
} cur[NPARAMS];

static double pctiles[32];
static int npctiles = -1;

static char errbuf[256];

static size_t param_index(const struct rconf_param *p) { return (size_t)(p - params); }

const struct rconf_param *rconf_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (str_eq_nocase(name, len, params[i].name) ||
            (params[i].alias && str_eq_nocase(name, len, params[i].alias)))
            return &params[i];
    return NULL;
}

const char *rconf_name(const struct rconf_param *p) { return p->name; }

const char *rconf_name_used(const struct rconf_param *p, const char *name, size_t len)
{
    return p->alias && str_eq_nocase(name, len, p->alias) ? p->alias : p->name;
}
int rconf_immutable(const struct rconf_param *p) { return !!(p->flags & RC_IMMUTABLE); }
int rconf_protected(const struct rconf_param *p) { return !!(p->flags & RC_PROTECTED); }

const char *rconf_nth_name(int i, const struct rconf_param **param)
{
    for (size_t j = 0; j < NPARAMS; j++) {
        if (i == 0) {
            *param = &params[j];
            return params[j].name;
        }
        i--;
        if (params[j].alias) {
            if (i == 0) {
                *param = &params[j];
                return params[j].alias;
            }
            i--;
        }
    }
    return NULL;
}

/* Redis's memtoull: digits then an optional unit b, k, kb, m, mb, g, gb
 * (any case); no sign; overflow is not an error there, so not here. */
static int parse_memory(const char *s, size_t len, unsigned long long *out)
{
    size_t i = 0;
    if (len && s[0] == '-') return -1;
    while (i < len && isdigit((unsigned char)s[i])) i++;
    const char *u = s + i;
    size_t ul = len - i;
    unsigned long long mul;
    if (ul == 0 || str_eq_nocase(u, ul, "b")) mul = 1;
    else if (str_eq_nocase(u, ul, "k")) mul = 1000;
    else if (str_eq_nocase(u, ul, "kb")) mul = 1024;
    else if (str_eq_nocase(u, ul, "m")) mul = 1000ULL * 1000;
    else if (str_eq_nocase(u, ul, "mb")) mul = 1024ULL * 1024;
    else if (str_eq_nocase(u, ul, "g")) mul = 1000ULL * 1000 * 1000;
    else if (str_eq_nocase(u, ul, "gb")) mul = 1024ULL * 1024 * 1024;
    else return -1;
    char digits[128];
    if (i >= sizeof digits) return -1;
    memcpy(digits, s, i);
    digits[i] = '\0';
    /* as Redis 7.0: strtoull saturates and the product wraps around */
    unsigned long long v = strtoull(digits, NULL, 10);
    *out = v * mul;
    return 0;
}

static const char *bounds_error(const struct rconf_param *p)
{
    if (p->type == RC_INT || p->type == RC_MEM_PCT)
        snprintf(errbuf, sizeof errbuf, "argument must be between %lld and %lld inclusive", p->min, p->max);
    else
        snprintf(errbuf, sizeof errbuf, "argument must be between %llu and %llu inclusive",
                 (unsigned long long)p->min, (unsigned long long)p->max);
    return errbuf;
}

/* Splits value at single spaces, as Redis's multi-argument parameters do
 * (an empty value has no parts).  Returns the number of parts (at most
 * max; -1 when there are more). */
static int split_spaces(const char *v, size_t len, const char **part, size_t *plen, int max)
{
    int n = 0;
    if (len == 0) return 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || v[i] == ' ') {
            if (n == max) return -1;
            part[n] = v + start;
            plen[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

static int check_save(const char *v, size_t len, buf *canon, const char **err)
{
    const char *part[128];
    size_t plen[128];
    int n = split_spaces(v, len, part, plen, 128);
    if (n == 1 && plen[0] == 0) n = 0;
    *err = "Invalid save parameters";
    if (n < 0 || n % 2) return -1;
    long long vals[128];
    for (int j = 0; j < n; j++) {
        char tmp[64], *end;
        if (plen[j] >= sizeof tmp) return -1;
        memcpy(tmp, part[j], plen[j]);
        tmp[plen[j]] = '\0';
        vals[j] = strtoll(tmp, &end, 10);
        if (*end != '\0' || (j % 2 == 0 && vals[j] < 1) || (j % 2 == 1 && vals[j] < 0)) return -1;
    }
    if (canon)
        for (int j = 0; j < n; j += 2)
            buf_printf(canon, "%s%lld %d", j ? " " : "", vals[j], (int)vals[j + 1]);
    return 0;
}

/* "%f" with the trailing zeros (and a bare point) taken off, as Redis
 * prints these percentiles. */
static void add_trimmed_double(buf *out, double d)
{
    char tmp[512];
    int n = snprintf(tmp, sizeof tmp, "%f", d);
    if (strchr(tmp, '.')) {
        while (n > 0 && tmp[n - 1] == '0') n--;
        if (n > 0 && tmp[n - 1] == '.') n--;
    }
    buf_append(out, tmp, (size_t)n);
}

static int check_pctiles(const char *v, size_t len, buf *canon, double *vals, int *nvals, const char **err)
{
    const char *part[32];
    size_t plen[32];
    int n = split_spaces(v, len, part, plen, 32);
    if (n == 1 && plen[0] == 0) n = 0;
    if (n < 0) {
        *err = "Invalid latency-tracking-info-percentiles parameters";
        return -1;
    }
    for (int j = 0; j < n; j++) {
        char tmp[128], *end;
        *err = "Invalid latency-tracking-info-percentiles parameters";
        if (plen[j] == 0 || plen[j] >= sizeof tmp || isspace((unsigned char)part[j][0])) return -1;
        memcpy(tmp, part[j], plen[j]);
        tmp[plen[j]] = '\0';
        errno = 0;
        double d = strtod(tmp, &end);
        if (*end != '\0' || errno == ERANGE || d != d) return -1;
        if (d > 100.0 || d < 0.0) {
            *err = "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
            return -1;
        }
        if (vals) vals[j] = d;
        if (canon) {
            if (j) buf_append_char(canon, ' ');
            add_trimmed_double(canon, d);
        }
    }
    if (nvals) *nvals = n;
    return 0;
}

/* Parses a numeric value; returns 0 with *num, or -1 with *err. */
static int check_number(const struct rconf_param *p, const char *v, size_t len, long long *num, const char **err)
{
    long long ll;
    if (p->type == RC_MEM || p->type == RC_MEM_PCT) {
        unsigned long long u;
        if (parse_memory(v, len, &u) == 0) {
            ll = (long long)u;
        } else if (p->type == RC_MEM_PCT && len > 1 && v[len - 1] == '%' && str2ll(v, len - 1, &ll) == 0 && ll >= 0) {
            ll = -ll; /* percentages are kept negative, as Redis keeps them */
        } else {
            *err = p->type == RC_MEM_PCT ? "argument must be a memory or percent value" : "argument must be a memory value";
            return -1;
        }
    } else if (str2ll(v, len, &ll) < 0) {
        *err = "argument couldn't be parsed into an integer";
        return -1;
    }
    if (p->type == RC_MEM_PCT && ll < 0) {
        /* a percentage, or a memory value past LLONG_MAX read as one */
        if (ll < p->min) {
            snprintf(errbuf, sizeof errbuf, "percentage argument must be less or equal to %lld", -p->min);
            *err = errbuf;
            return -1;
        }
    } else if (p->type == RC_INT || p->type == RC_MEM_PCT) { /* signed in Redis (maxmemory-clients: ssize_t) */
        if (ll < p->min || ll > p->max) {
            *err = bounds_error(p);
            return -1;
        }
    } else if ((unsigned long long)ll < (unsigned long long)p->min ||
               (unsigned long long)ll > (unsigned long long)p->max) {
        *err = bounds_error(p);
        return -1;
    }
    *num = ll;
    return 0;
}

static void add_number(const struct rconf_param *p, long long num, buf *out)
{
    if (p->type == RC_MEM_PCT && num < 0) buf_printf(out, "%lld%%", -num);
    else if (p->type == RC_INT || p->type == RC_MEM_PCT) buf_printf(out, "%lld", num);
    else buf_printf(out, "%llu", (unsigned long long)num);
}

int rconf_check(const struct rconf_param *p, const char *v, size_t len, buf *canon, const char **err)
{
    long long num;
    switch (p->type) {
    case RC_BOOL:
        if (str_eq_nocase(v, len, "yes")) num = 1;
        else if (str_eq_nocase(v, len, "no")) num = 0;
        else {
            *err = "argument must be 'yes' or 'no'";
            return -1;
        }
        if (num && (p->flags & RC_NODEFRAG)) {
            *err = "Active defragmentation cannot be enabled: it requires a Redis server compiled with a "
                   "modified Jemalloc like the one shipped by default with the Redis source distribution";
            return -1;
        }
        if (canon) buf_printf(canon, "%s", num ? "yes" : "no");
        return 0;
    case RC_ENUM:
        for (int i = 0; p->enums[i]; i++)
            if (str_eq_nocase(v, len, p->enums[i])) {
                if (canon) buf_printf(canon, "%s", p->enums[i]);
                return 0;
            }
        {
            size_t o = (size_t)snprintf(errbuf, sizeof errbuf, "argument(s) must be one of the following: ");
            for (int i = 0; p->enums[i] && o < sizeof errbuf; i++)
                o += (size_t)snprintf(errbuf + o, sizeof errbuf - o, "%s%s", i ? ", " : "", p->enums[i]);
            *err = errbuf;
        }
        return -1;
    case RC_SAVE: return check_save(v, len, canon, err);
    case RC_PCTILES: return check_pctiles(v, len, canon, NULL, NULL, err);
    case RC_STR:
        if (canon) buf_append(canon, v, len);
        return 0;
    default:
        if (check_number(p, v, len, &num, err) < 0) return -1;
        if (canon) add_number(p, num, canon);
        return 0;
    }
}

static void ensure_current(size_t i)
{
    if (cur[i].set) return;
    const struct rconf_param *p = &params[i];
    rconf_apply(p, p->def, strlen(p->def));
}

void rconf_apply(const struct rconf_param *p, const char *canon, size_t len)
{
    size_t i = param_index(p);
    const char *err;
    free(cur[i].text);
    cur[i].text = xmemdup(canon, len);
    cur[i].set = 1;
    cur[i].num = 0;
    switch (p->type) {
    case RC_BOOL: cur[i].num = str_eq_nocase(canon, len, "yes"); break;
    case RC_ENUM:
        for (int k = 0; p->enums[k]; k++)
            if (str_eq_nocase(canon, len, p->enums[k])) cur[i].num = k;
        break;
    case RC_PCTILES: check_pctiles(canon, len, NULL, pctiles, &npctiles, &err); break;
    case RC_SAVE:
    case RC_STR: break;
    default: check_number(p, canon, len, &cur[i].num, &err); break;
    }
}

void rconf_get(const struct rconf_param *p, buf *out)
{
    size_t i = param_index(p);
    ensure_current(i);
    buf_append(out, cur[i].text, strlen(cur[i].text));
}

long long rconf_num(const char *name)
{
    const struct rconf_param *p = rconf_find(name, strlen(name));
    if (!p) return 0;
    ensure_current(param_index(p));
    return cur[param_index(p)].num;
}

long long rconf_pnum(const struct rconf_param *p)
{
    if (!p) return 0;
    ensure_current(param_index(p));
    return cur[param_index(p)].num;
}

int rconf_percentiles(double *out, int max)
{
    if (npctiles < 0) ensure_current(param_index(rconf_find("latency-tracking-info-percentiles", 33)));
    int n = npctiles < max ? npctiles : max;
    for (int i = 0; i < n; i++) out[i] = pctiles[i];
    return n;
}
