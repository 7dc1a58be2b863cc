/* stats: counters, histograms, INFO and /metrics text.  See stats.h. */
#include "stats.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proxy.h"
#include "route.h"
#include "script.h"
#include "util.h"
#include "worker.h"

static int bucket_of(uint64_t usec)
{
    int b = usec ? 64 - __builtin_clzll(usec) : 0; /* usec < 2^b */
    return b < STATS_BUCKETS - 1 ? b : STATS_BUCKETS - 1;
}

static void cs_add(struct cmd_stats *cs, uint64_t usec, int failed)
{
    STAT_ADD(cs->calls, 1);
    STAT_ADD(cs->usec, usec);
    if (failed) STAT_ADD(cs->failed, 1);
    STAT_ADD(cs->hist[bucket_of(usec)], 1);
}

void stats_record(struct wstats *s, int cmd, uint64_t usec, int failed)
{
    STAT_ADD(s->cmds, 1);
    if (failed) STAT_ADD(s->errors, 1);
    if (cmd >= 0 && cmd < CMD__COUNT) cs_add(&s->cmd[cmd], usec, failed);
    cs_add(&s->all, usec, failed);
}

/* Plain sums over workers. */
struct cs_sum {
    uint64_t calls, failed, usec, hist[STATS_BUCKETS];
};

static void sum_cs(struct cs_sum *o, int cmd)
{
    memset(o, 0, sizeof *o);
    for (int w = 0; w < proxy_g.nworkers; w++) {
        struct cmd_stats *cs = cmd < 0 ? &proxy_g.workers[w].stats.all
                                       : &proxy_g.workers[w].stats.cmd[cmd];
        o->calls += STAT_GET(cs->calls);
        o->failed += STAT_GET(cs->failed);
        o->usec += STAT_GET(cs->usec);
        for (int b = 0; b < STATS_BUCKETS; b++) o->hist[b] += STAT_GET(cs->hist[b]);
    }
}

/* Sum of one wstats counter (at byte offset `off`) over the workers. */
static uint64_t sum_field(size_t off)
{
    uint64_t t = 0;
    for (int w = 0; w < proxy_g.nworkers; w++)
        t += STAT_GET(*(_Atomic uint64_t *)((char *)&proxy_g.workers[w].stats + off));
    return t;
}
#define SUM_FIELD(f) sum_field(offsetof(struct wstats, f))

/* Upper bound (usec) of the bucket holding the p-th percentile. */
static uint64_t percentile(const struct cs_sum *s, double p)
{
    uint64_t want = (uint64_t)(p / 100.0 * (double)s->calls + 0.5), seen = 0;
    if (want == 0) want = 1;
    for (int b = 0; b < STATS_BUCKETS; b++) {
        seen += s->hist[b];
        if (seen >= want) return b < 63 ? (1ull << b) : UINT64_MAX;
    }
    return 1ull << (STATS_BUCKETS - 1);
}

struct gsum {
    uint64_t requests, errors, timeouts, reconnects;
    int up;
};

static void sum_group(const struct route *r, int g, struct gsum *o)
{
    memset(o, 0, sizeof *o);
    o->up = 1;
    for (int w = 0; w < r->nworkers; w++) {
        struct route_gstat *s = &r->groups[g].stats[w];
        o->requests += atomic_load_explicit(&s->requests, memory_order_relaxed);
        o->errors += atomic_load_explicit(&s->errors, memory_order_relaxed);
        o->timeouts += atomic_load_explicit(&s->timeouts, memory_order_relaxed);
        o->reconnects += atomic_load_explicit(&s->reconnects, memory_order_relaxed);
        if (!atomic_load_explicit(&s->up, memory_order_relaxed)) o->up = 0;
    }
}

int stats_info_wants(const char *sec, size_t len, const char *name)
{
    if (!sec || str_eq_nocase(sec, len, "all") || str_eq_nocase(sec, len, "everything"))
        return 1;
    if (str_eq_nocase(sec, len, "default"))
        return strcmp(name, "commandstats") != 0 && strcmp(name, "latencystats") != 0;
    return str_eq_nocase(sec, len, name);
}

void stats_info(buf *out, const char *sec, size_t seclen)
{
    struct route *r = proxy_route_acquire();
    int first = 1;
#define SECTION(title) do { if (!first) buf_append_str(out, "\r\n"); first = 0; \
        buf_append_str(out, "# " title "\r\n"); } while (0)

    if (stats_info_wants(sec, seclen, "server")) {
        SECTION("Server");
        uint64_t up = (now_ms() - proxy_g.start_ms) / 1000;
        buf_printf(out,
                   "redis_version:7.0.15\r\nstrata_version:%s\r\nredis_mode:standalone\r\n"
                   "server_name:strata-proxy\r\nprocess_id:%d\r\ntcp_port:%d\r\n"
                   "uptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\nthreads:%d\r\n"
                   "config_file:%s\r\ntopology_version:%llu\r\nreloads:%lu\r\nfailovers:%lu\r\n"
                   "sentinel_mode:%s\r\nmoved:%lu\r\nmoved_resent:%lu\r\nslots_kept:%lu\r\n"
                   "scripts_cached:%zu\r\nscript_loads:%lu\r\nnoscript_retries:%lu\r\n"
                   "libraries_kept:%zu\r\nfunction_heals:%lu\r\n",
                   STRATA_VERSION, (int)getpid(), proxy_g.conf.listen_port,
                   (unsigned long long)up, (unsigned long long)(up / 86400), proxy_g.nworkers,
                   proxy_g.config_file,
                   (unsigned long long)r->version, atomic_load(&proxy_g.reloads),
                   atomic_load(&proxy_g.failovers), r->has_sentinel ? "yes" : "no",
                   atomic_load(&proxy_g.moved), atomic_load(&proxy_g.moved_resent),
                   atomic_load(&proxy_g.slots_kept), script_cache_count(),
                   atomic_load(&proxy_g.script_loads), atomic_load(&proxy_g.noscript_retries),
                   script_lib_count(), atomic_load(&proxy_g.function_heals));
    }
    if (stats_info_wants(sec, seclen, "clients")) {
        SECTION("Clients");
        buf_printf(out, "connected_clients:%llu\r\nmaxclients:%lld\r\n",
                   (unsigned long long)SUM_FIELD(clients), proxy_g.conf.s.max_clients);
    }
    if (stats_info_wants(sec, seclen, "stats")) {
        SECTION("Stats");
        buf_printf(out,
                   "total_connections_received:%llu\r\nrejected_connections:%llu\r\n"
                   "total_commands_processed:%llu\r\ntotal_error_replies:%llu\r\n"
                   "unknown_commands:%llu\r\nbackend_timeouts:%llu\r\n"
                   "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n",
                   (unsigned long long)SUM_FIELD(conns_total), (unsigned long long)SUM_FIELD(rejected),
                   (unsigned long long)SUM_FIELD(cmds), (unsigned long long)SUM_FIELD(errors),
                   (unsigned long long)SUM_FIELD(unknown), (unsigned long long)SUM_FIELD(timeouts),
                   (unsigned long long)SUM_FIELD(net_in), (unsigned long long)SUM_FIELD(net_out));
    }
    if (stats_info_wants(sec, seclen, "groups")) {
        SECTION("Groups");
        buf_printf(out, "groups:%d\r\n", r->ngroups);
        for (int g = 0; g < r->ngroups; g++) {
            struct gsum s;
            sum_group(r, g, &s);
            const struct route_group *rg = &r->groups[g];
            buf_printf(out,
                       "group_%s:master=%s:%d,replicas=%d,slots=%d,up=%d,requests=%llu,"
                       "errors=%llu,timeouts=%llu,connects=%llu\r\n",
                       rg->name, rg->master.host, rg->master.port, rg->nreplicas, rg->nslots, s.up,
                       (unsigned long long)s.requests, (unsigned long long)s.errors,
                       (unsigned long long)s.timeouts, (unsigned long long)s.reconnects);
        }
    }
    if (stats_info_wants(sec, seclen, "commandstats")) {
        SECTION("Commandstats");
        for (int i = 0; i < CMD__COUNT; i++) {
            struct cs_sum s;
            sum_cs(&s, i);
            if (!s.calls) continue;
            buf_printf(out,
                       "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=0,"
                       "failed_calls=%llu\r\n",
                       cmd_table[i].name, (unsigned long long)s.calls, (unsigned long long)s.usec,
                       (double)s.usec / (double)s.calls, (unsigned long long)s.failed);
        }
    }
    if (stats_info_wants(sec, seclen, "latencystats")) {
        SECTION("Latencystats");
        for (int i = 0; i < CMD__COUNT; i++) {
            struct cs_sum s;
            sum_cs(&s, i);
            if (!s.calls) continue;
            buf_printf(out, "latency_percentiles_usec_%s:p50=%llu,p99=%llu,p99.9=%llu\r\n",
                       cmd_table[i].name, (unsigned long long)percentile(&s, 50),
                       (unsigned long long)percentile(&s, 99),
                       (unsigned long long)percentile(&s, 99.9));
        }
    }
#undef SECTION
    route_release(r);
}

void stats_prometheus(buf *out)
{
    struct route *r = proxy_route_acquire();
    buf_printf(out, "# HELP strata_proxy_uptime_seconds Seconds since the proxy started.\n"
                    "# TYPE strata_proxy_uptime_seconds gauge\n"
                    "strata_proxy_uptime_seconds %llu\n",
               (unsigned long long)((now_ms() - proxy_g.start_ms) / 1000));
    buf_printf(out, "# HELP strata_proxy_connected_clients Client connections open now.\n"
                    "# TYPE strata_proxy_connected_clients gauge\n"
                    "strata_proxy_connected_clients %llu\n",
               (unsigned long long)SUM_FIELD(clients));
    buf_printf(out, "# HELP strata_proxy_connections_total Client connections accepted.\n"
                    "# TYPE strata_proxy_connections_total counter\n"
                    "strata_proxy_connections_total %llu\n",
               (unsigned long long)SUM_FIELD(conns_total));
    buf_printf(out, "# HELP strata_proxy_backend_timeouts_total Requests failed by timeout_ms.\n"
                    "# TYPE strata_proxy_backend_timeouts_total counter\n"
                    "strata_proxy_backend_timeouts_total %llu\n",
               (unsigned long long)SUM_FIELD(timeouts));
    buf_printf(out, "# HELP strata_proxy_reloads_total Topology reloads applied.\n"
                    "# TYPE strata_proxy_reloads_total counter\n"
                    "strata_proxy_reloads_total %lu\n",
               atomic_load(&proxy_g.reloads));
    buf_printf(out, "# HELP strata_proxy_moved_total -MOVED replies from nodes (slots owned elsewhere).\n"
                    "# TYPE strata_proxy_moved_total counter\n"
                    "strata_proxy_moved_total %lu\n"
                    "# HELP strata_proxy_moved_resent_total Requests resent to the group a -MOVED named.\n"
                    "# TYPE strata_proxy_moved_resent_total counter\n"
                    "strata_proxy_moved_resent_total %lu\n"
                    "# HELP strata_proxy_slots_kept_total Slots a reload kept on the group holding their "
                    "keys.\n"
                    "# TYPE strata_proxy_slots_kept_total counter\n"
                    "strata_proxy_slots_kept_total %lu\n",
               atomic_load(&proxy_g.moved), atomic_load(&proxy_g.moved_resent),
               atomic_load(&proxy_g.slots_kept));
    buf_printf(out, "# HELP strata_proxy_scripts_cached Script bodies in the proxy's sha cache.\n"
                    "# TYPE strata_proxy_scripts_cached gauge\n"
                    "strata_proxy_scripts_cached %zu\n"
                    "# HELP strata_proxy_script_loads_total SCRIPT LOADs sent ahead of an EVALSHA "
                    "to a server that may lack the script.\n"
                    "# TYPE strata_proxy_script_loads_total counter\n"
                    "strata_proxy_script_loads_total %lu\n"
                    "# HELP strata_proxy_noscript_retries_total EVALSHAs sent again after a NOSCRIPT "
                    "was healed.\n"
                    "# TYPE strata_proxy_noscript_retries_total counter\n"
                    "strata_proxy_noscript_retries_total %lu\n"
                    "# HELP strata_proxy_function_heals_total FCALLs sent again after loading "
                    "the function libraries the proxy keeps into a group that lacked one.\n"
                    "# TYPE strata_proxy_function_heals_total counter\n"
                    "strata_proxy_function_heals_total %lu\n",
               script_cache_count(), atomic_load(&proxy_g.script_loads),
               atomic_load(&proxy_g.noscript_retries), atomic_load(&proxy_g.function_heals));

    buf_append_str(out, "# HELP strata_proxy_commands_total Commands answered, by command.\n"
                        "# TYPE strata_proxy_commands_total counter\n");
    for (int i = 0; i < CMD__COUNT; i++) {
        struct cs_sum s;
        sum_cs(&s, i);
        if (s.calls)
            buf_printf(out, "strata_proxy_commands_total{cmd=\"%s\"} %llu\n", cmd_table[i].name,
                       (unsigned long long)s.calls);
    }
    buf_append_str(out, "# HELP strata_proxy_command_errors_total Error replies, by command.\n"
                        "# TYPE strata_proxy_command_errors_total counter\n");
    for (int i = 0; i < CMD__COUNT; i++) {
        struct cs_sum s;
        sum_cs(&s, i);
        if (s.calls)
            buf_printf(out, "strata_proxy_command_errors_total{cmd=\"%s\"} %llu\n", cmd_table[i].name,
                       (unsigned long long)s.failed);
    }
    struct cs_sum all;
    sum_cs(&all, -1);
    buf_append_str(out, "# HELP strata_proxy_command_duration_seconds Time from request to reply.\n"
                        "# TYPE strata_proxy_command_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < STATS_BUCKETS - 1; b++) {
        cum += all.hist[b];
        buf_printf(out, "strata_proxy_command_duration_seconds_bucket{le=\"%g\"} %llu\n",
                   (double)(1ull << b) / 1e6, (unsigned long long)cum);
    }
    buf_printf(out, "strata_proxy_command_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
               (unsigned long long)all.calls);
    buf_printf(out, "strata_proxy_command_duration_seconds_sum %.6f\n", (double)all.usec / 1e6);
    buf_printf(out, "strata_proxy_command_duration_seconds_count %llu\n",
               (unsigned long long)all.calls);

    static const char *const gnames[] = { "requests", "errors", "timeouts", "connects" };
    for (int k = 0; k < 4; k++) {
        buf_printf(out, "# HELP strata_proxy_group_%s_total Backend %s, by group.\n"
                        "# TYPE strata_proxy_group_%s_total counter\n",
                   gnames[k], gnames[k], gnames[k]);
        for (int g = 0; g < r->ngroups; g++) {
            struct gsum s;
            sum_group(r, g, &s);
            uint64_t v = k == 0 ? s.requests : k == 1 ? s.errors : k == 2 ? s.timeouts : s.reconnects;
            buf_printf(out, "strata_proxy_group_%s_total{group=\"%s\"} %llu\n", gnames[k],
                       r->groups[g].name, (unsigned long long)v);
        }
    }
    buf_append_str(out, "# HELP strata_proxy_group_up 1 when every worker's link to the group's master is up.\n"
                        "# TYPE strata_proxy_group_up gauge\n");
    for (int g = 0; g < r->ngroups; g++) {
        struct gsum s;
        sum_group(r, g, &s);
        buf_printf(out, "strata_proxy_group_up{group=\"%s\",master=\"%s:%d\"} %d\n",
                   r->groups[g].name, r->groups[g].master.host, r->groups[g].master.port, s.up);
    }
    route_release(r);
}
