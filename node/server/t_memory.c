/* t_memory: MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP.
 *
 * Strata keeps data on disk, so MEMORY USAGE answers the bytes a key
 * occupies in LevelDB, estimated this way:
 *   - the metadata record ('M' + key, and its value) exactly: for a
 *     string this is the whole key;
 *   - a collection's records ('D' per field/member/element, plus 'Z' per
 *     sorted-set member): the first SAMPLES of its 'D' records (5 by
 *     default, as Redis samples 5 nested values; SAMPLES 0 reads all) are
 *     read and their average key + value size is multiplied by the count
 *     of records.
 * These are logical sizes: LevelDB's block compression, index blocks and
 * not yet compacted older versions are not counted.  MEMORY STATS uses
 * Redis's field names with the numbers Strata has (process RSS for the
 * allocator fields, LevelDB's approximate size for the dataset). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cmd.h"
#include "promhttp.h"
#include "slots.h"
#include "store.h"
#include "subcmd.h"
#include "util.h"

#define MEMORY_DEFAULT_SAMPLES 5

/* Sum of key + value bytes of up to `limit` records under `prefix`;
 * *n gets how many were read. */
static unsigned long long sample_records(const char *prefix, size_t plen, long long limit, long long *n)
{
    unsigned long long bytes = 0;
    *n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, prefix, plen); store_iter_valid(it) && *n < limit; store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < plen || memcmp(k, prefix, plen)) break;
        store_iter_val(it, &vl);
        bytes += kl + vl;
        (*n)++;
    }
    store_iter_free(it);
    return bytes;
}

static unsigned long long key_usage(client *c, const struct meta *m, long long samples)
{
    unsigned long long bytes = 1 + c->argvlen[2] + m->raw.len;
    if (m->type == T_STRING && m->chunked) return bytes + m->slen; /* its chunks */
    if (m->type == T_STRING || m->count == 0) return bytes;
    buf prefix;
    buf_init(&prefix);
    enc_data_prefix(&prefix, m->version);
    long long n;
    unsigned long long sampled = sample_records(prefix.data, prefix.len, samples, &n);
    buf_free(&prefix);
    if (n == 0) return bytes;
    unsigned long long records = m->count;
    double per = (double)sampled / (double)n;
    unsigned long long data = (unsigned long long)n >= records ? sampled : (unsigned long long)(per * (double)records);
    /* each member of a sorted set also has its score-index record (tag,
     * version, score, member; empty value): the same size as its 'D'
     * record (tag, version, member; the score as value) */
    if (m->type == T_ZSET) data *= 2;
    return bytes + data;
}

static void memory_usage(client *c)
{
    long long samples = MEMORY_DEFAULT_SAMPLES;
    for (int j = 3; j < c->argc; j++) {
        if (ARG_IS(c, j, "samples") && j + 1 < c->argc) {
            if (arg_ll(c, j + 1, &samples) < 0) return;
            if (samples < 0) {
                resp_add_error(&c->out, resp_err_syntax);
                return;
            }
            if (samples == 0) samples = (1LL << 62);
            j++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 2, &m);
    if (r == 0) resp_add_null(&c->out, c->resp);
    else if (r == 1) resp_add_int(&c->out, (long long)key_usage(c, &m, samples));
    meta_free(&m);
}

static long long peak_rss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long)ru.ru_maxrss * 1024;
}

static void add_field_ll(client *c, const char *name, long long v)
{
    resp_add_bulk_str(&c->out, name);
    resp_add_int(&c->out, v);
}

static void add_field_double(client *c, const char *name, double v)
{
    resp_add_bulk_str(&c->out, name);
    resp_add_double(&c->out, c->resp, v);
}

static void memory_stats(client *c)
{
    long long rss = proc_rss_bytes(), peak = peak_rss();
    long long normal = 0, replicas = 0;
    for (client *x = srv.clients; x; x = x->next) {
        long long m = (long long)(sizeof *x + x->qbuf.cap + x->out.cap);
        if (x->flags & CLIENT_REPLICA) replicas += m;
        else normal += m;
    }
    char *lm = store_property(srv.st, "leveldb.approximate-memory-usage");
    long long leveldb_mem = lm ? atoll(lm) : 0;
    free(lm);
    unsigned long long keys = cluster_key_count(); /* as DBSIZE: owned slots only */
    long long dataset = (long long)store_approx_size(srv.st, "M", 1, "\xff\xff\xff\xff", 4);
    long long overhead = normal + replicas;
    resp_add_map(&c->out, c->resp, 29);
    add_field_ll(c, "peak.allocated", peak);
    add_field_ll(c, "total.allocated", rss);
    add_field_ll(c, "startup.allocated", 0);
    add_field_ll(c, "replication.backlog", 0);
    add_field_ll(c, "clients.slaves", replicas);
    add_field_ll(c, "clients.normal", normal);
    add_field_ll(c, "cluster.links", 0);
    add_field_ll(c, "aof.buffer", 0);
    add_field_ll(c, "lua.caches", 0);
    add_field_ll(c, "functions.caches", 0);
    resp_add_bulk_str(&c->out, "db.0");
    resp_add_map(&c->out, c->resp, 3);
    add_field_ll(c, "overhead.hashtable.main", 0);
    add_field_ll(c, "overhead.hashtable.expires", 0);
    add_field_ll(c, "overhead.hashtable.slot-to-keys", 0);
    add_field_ll(c, "overhead.total", overhead);
    add_field_ll(c, "keys.count", (long long)keys);
    add_field_ll(c, "keys.bytes-per-key", keys ? dataset / (long long)keys : 0);
    add_field_ll(c, "dataset.bytes", dataset);
    add_field_double(c, "dataset.percentage", rss + dataset ? 100.0 * (double)dataset / (double)(rss + dataset) : 0);
    add_field_double(c, "peak.percentage", peak ? 100.0 * (double)rss / (double)peak : 0);
    add_field_ll(c, "allocator.allocated", rss);
    add_field_ll(c, "allocator.active", rss);
    add_field_ll(c, "allocator.resident", rss);
    add_field_double(c, "allocator-fragmentation.ratio", 1.0);
    add_field_ll(c, "allocator-fragmentation.bytes", 0);
    add_field_double(c, "allocator-rss.ratio", 1.0);
    add_field_ll(c, "allocator-rss.bytes", 0);
    add_field_double(c, "rss-overhead.ratio", 1.0);
    add_field_ll(c, "rss-overhead.bytes", 0);
    add_field_double(c, "fragmentation", 1.0);
    add_field_ll(c, "fragmentation.bytes", 0);
    add_field_ll(c, "leveldb.memory", leveldb_mem);
}

/* DOCTOR: where the process's memory goes against what the settings
 * allow (block cache, write buffer, client buffers). */
static void memory_doctor(client *c)
{
    buf o;
    buf_init(&o);
    long long rss = proc_rss_bytes();
    long long budget = srv.cfg.block_cache + 2 * srv.cfg.write_buffer;
    long long clients = 0;
    for (client *x = srv.clients; x; x = x->next) clients += (long long)(x->qbuf.cap + x->out.cap);
    buf_printf(&o, "Hi Sam, strata-node keeps its data in LevelDB, so memory is bounded by settings, not by "
                   "the dataset.  Resident memory is %lld bytes; LevelDB's block cache (%lld) and two write "
                   "buffers (%lld each) account for at most %lld of it, client buffers for %lld.\n",
               rss, srv.cfg.block_cache, srv.cfg.write_buffer, budget, clients);
    if (clients > budget / 2)
        buf_printf(&o, "* Client buffers are large: a client may be sending huge pipelines or not reading "
                       "its replies (CLIENT LIST: qbuf, obl).\n");
    else if (rss > 2 * budget + (64LL << 20))
        buf_printf(&o, "* Resident memory is well above the configured budget: LevelDB maps its table "
                       "files, and a lower max_open_files or write_buffer bounds that.\n");
    else buf_printf(&o, "I can't spot any memory problem.\n");
    resp_add_verbatim(&c->out, c->resp, o.data, o.len);
    buf_free(&o);
}

static void memory_malloc_stats(client *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        malloc_info(0, f);
        fclose(f);
    }
    resp_add_verbatim(&c->out, c->resp, text ? text : "", text ? len : 0);
    free(text);
}

static void memory_help(client *c)
{
    static const char *const lines[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    };
    resp_add_array(&c->out, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) resp_add_simple(&c->out, lines[i]);
}

static void memory_command(client *c)
{
    if (subcmd_check(&c->out, "memory", ARG(c, 1), c->argc) < 0) return;
    if (ARG_IS(c, 1, "usage")) memory_usage(c);
    else if (ARG_IS(c, 1, "stats")) memory_stats(c);
    else if (ARG_IS(c, 1, "doctor")) memory_doctor(c);
    else if (ARG_IS(c, 1, "malloc-stats")) memory_malloc_stats(c);
    else if (ARG_IS(c, 1, "purge")) {
        malloc_trim(0);
        resp_add_ok(&c->out);
    } else memory_help(c);
}

void t_memory_register(void)
{
    server_register(CMD_MEMORY, memory_command);
}
