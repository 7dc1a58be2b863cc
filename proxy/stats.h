/* stats: counters and latency histograms of the proxy, and their two
 * readers: INFO (text sections) and Prometheus /metrics.
 *
 * Each worker owns one `struct wstats` and is its only writer; readers in
 * other threads load the fields with relaxed atomics, so a reading may be
 * a few increments behind but is never torn.  STAT_ADD compiles to a plain
 * load and store (no locked instruction) because there is one writer. */
#ifndef STRATA_PROXY_STATS_H
#define STRATA_PROXY_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "cmdtable.h"

/* Bucket i counts latencies below 2^i microseconds (i < STATS_BUCKETS-1);
 * the last bucket is everything slower (+Inf). */
#define STATS_BUCKETS 26

#define STAT_ADD(field, n) \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define STAT_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

struct cmd_stats {
    _Atomic uint64_t calls;
    _Atomic uint64_t failed;   /* replied with an error */
    _Atomic uint64_t usec;     /* total latency */
    _Atomic uint64_t hist[STATS_BUCKETS];
};

struct wstats {
    _Atomic uint64_t conns_total;     /* clients accepted */
    _Atomic uint64_t clients;         /* connected now */
    _Atomic uint64_t rejected;        /* refused: max_clients */
    _Atomic uint64_t cmds;            /* commands answered */
    _Atomic uint64_t errors;          /* error replies */
    _Atomic uint64_t timeouts;        /* fragments failed by timeout */
    _Atomic uint64_t unknown;         /* unknown commands */
    _Atomic uint64_t net_in;          /* bytes read from clients */
    _Atomic uint64_t net_out;         /* bytes written to clients */
    struct cmd_stats cmd[CMD__COUNT];
    struct cmd_stats all;             /* every command together */
};

/* Record one answered command (cmd: a cmd_id or -1 for unknown ones). */
void stats_record(struct wstats *s, int cmd, uint64_t usec, int failed);

/* INFO: `section` NULL or "all"/"everything"/"default" gives every section;
 * otherwise one of server, clients, stats, groups, commandstats,
 * latencystats (case-insensitive).  Appends the text (not RESP framed). */
void stats_info(buf *out, const char *section, size_t seclen);
/* Whether INFO's section argument (NULL: none) asks for section `name`
 * (lower case): "all", "everything", "default" (all but commandstats and
 * latencystats) or the name itself. */
int stats_info_wants(const char *sec, size_t len, const char *name);
/* Prometheus text exposition format (version 0.0.4). */
void stats_prometheus(buf *out);

#endif
