/* metrics: see metrics.h.
 *
 * Sources, the same ones INFO reads (t_server.c info_command):
 *   srv.stats, srv.nclients, clients' CLIENT_BLOCKED  -> clients, commands, net, keyspace
 *   store_get_stats, store_approx_size, db_gc_pending -> storage
 *   db_key_count, db_expire_count                     -> keyspace
 *   repl_view_get (repl.h)                            -> replication
 * Every family is written with its # HELP and # TYPE lines even when it
 * has no sample (a master lists no replica), so dashboards see the names. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdtable.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "promhttp.h"
#include "repl.h"
#include "server.h"
#include "slots.h"
#include "store.h"
#include "util.h"

/* The server, owned here from metrics_register to the shutdown hook. */

static void family(buf *o, const char *name, const char *type, const char *help)
{
    buf_printf(o, "# HELP strata_node_%s %s\n# TYPE strata_node_%s %s\n", name, help, name, type);
}

static void sample(buf *o, const char *name, const char *type, const char *help, unsigned long long v)
{
    family(o, name, type, help);
    buf_printf(o, "strata_node_%s %llu\n", name, v);
}

/* A label value with the format's escapes (backslash, quote, newline). */
static void label_value(buf *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') buf_append_char(o, '\\');
        if (*s == '\n') {
            buf_append_str(o, "\\n");
            continue;
        }
        buf_append_char(o, *s);
    }
}

static void labelled(buf *o, const char *name, const char *label, const char *value, unsigned long long v)
{
    buf_printf(o, "strata_node_%s{%s=\"", name, label);
    label_value(o, value);
    buf_printf(o, "\"} %llu\n", v);
}

static void render_server(buf *o)
{
    unsigned long blocked = 0;
    for (client *x = srv.clients; x; x = x->next) blocked += !!(x->flags & CLIENT_BLOCKED);
    sample(o, "uptime_seconds", "gauge", "Seconds since the node started.",
           (unsigned long long)((now_ms() - srv.start_ms) / 1000));
    sample(o, "connected_clients", "gauge", "Client connections open now (replicas included, as INFO).",
           srv.nclients);
    sample(o, "blocked_clients", "gauge", "Clients waiting in a blocking command.", blocked);
    sample(o, "connections_total", "counter", "Client connections accepted.", srv.stats.connections);
    sample(o, "rejected_connections_total", "counter", "Connections refused (maxclients).",
           srv.stats.rejected);
    sample(o, "net_input_bytes_total", "counter", "Bytes read from clients.", srv.stats.net_in);
    sample(o, "net_output_bytes_total", "counter", "Bytes written to clients.", srv.stats.net_out);
    sample(o, "rss_bytes", "gauge", "Resident set size of the process.", (unsigned long long)proc_rss_bytes());
}

static void render_commands(buf *o)
{
    sample(o, "commands_processed_total", "counter", "Commands executed.", srv.stats.commands);
    family(o, "commands_total", "counter", "Commands executed, by command.");
    for (int i = 0; i < CMD__COUNT; i++)
        if (srv.stats.cmd_calls[i]) labelled(o, "commands_total", "cmd", cmd_table[i].name, srv.stats.cmd_calls[i]);
    family(o, "command_duration_seconds_total", "counter", "Time spent executing commands, by command.");
    for (int i = 0; i < CMD__COUNT; i++) {
        if (!srv.stats.cmd_calls[i]) continue;
        buf_printf(o, "strata_node_command_duration_seconds_total{cmd=\"%s\"} %.6f\n", cmd_table[i].name,
                   (double)srv.stats.cmd_usec[i] / 1e6);
    }
    sample(o, "keyspace_hits_total", "counter", "Key lookups that found the key.", srv.stats.keyspace_hits);
    sample(o, "keyspace_misses_total", "counter", "Key lookups that did not find the key.",
           srv.stats.keyspace_misses);
    sample(o, "expired_keys_total", "counter", "Keys removed because they expired.", srv.stats.expired_keys);
    sample(o, "keys", "gauge", "Keys in the database (DBSIZE).", cluster_key_count());
    sample(o, "keys_with_expire", "gauge", "Keys with a time to live.", db_expire_count());
}

static void render_storage(buf *o)
{
    const struct store_stats *ss = store_get_stats(srv.st);
    sample(o, "storage_commits_total", "counter", "LevelDB writes (group commits).", ss->commits);
    sample(o, "storage_syncs_total", "counter", "fsyncs of LevelDB's log.", ss->syncs);
    sample(o, "storage_write_errors_total", "counter", "LevelDB writes that failed.", ss->commit_errors);
    sample(o, "storage_bytes_written_total", "counter", "Bytes written to LevelDB.", ss->bytes_written);
    sample(o, "meta_cache_hits_total", "counter", "Metadata reads answered by the node's cache.",
           ss->meta_cache_hits);
    sample(o, "meta_cache_misses_total", "counter", "Metadata reads that went to LevelDB.",
           ss->meta_cache_misses);
    sample(o, "storage_disk_bytes", "gauge", "LevelDB's estimate of the data's size on disk.",
           (unsigned long long)store_approx_size(srv.st, "", 0, "\xff\xff\xff\xff", 4));
    sample(o, "storage_level0_files", "gauge",
           "LevelDB level-0 files (writes are delayed from 8, stopped from 12).",
           store_level0_files(srv.st));
    sample(o, "gc_pending_collections", "gauge", "Deleted collections whose elements are not yet removed.",
           db_gc_pending());
}

static void render_replication(buf *o)
{
    struct repl_view v;
    repl_view_get(&v);
    family(o, "replication_role", "gauge", "1 for the node's current role.");
    labelled(o, "replication_role", "role", "master", !v.is_replica);
    labelled(o, "replication_role", "role", "replica", v.is_replica);
    sample(o, "replication_epoch", "gauge", "Current replication epoch.", v.epoch);
    sample(o, "replication_lsn", "gauge", "Newest committed (on a replica: applied) log record.", v.lsn);
    sample(o, "connected_replicas", "gauge", "Replicas attached to this master.", v.connected_replicas);
    family(o, "replica_acked_lsn", "gauge", "Newest record each replica applied and acknowledged.");
    for (size_t i = 0; i < v.n; i++)
        labelled(o, "replica_acked_lsn", "addr", v.replicas[i].addr, v.replicas[i].acked_lsn);
    family(o, "replica_lag_records", "gauge", "Records each replica has not acknowledged yet.");
    for (size_t i = 0; i < v.n; i++)
        labelled(o, "replica_lag_records", "addr", v.replicas[i].addr, v.replicas[i].lag_records);
    family(o, "replica_lag_milliseconds", "gauge", "Age of the oldest record each replica has not acknowledged.");
    for (size_t i = 0; i < v.n; i++)
        labelled(o, "replica_lag_milliseconds", "addr", v.replicas[i].addr, v.replicas[i].lag_ms);
    if (v.is_replica) {
        sample(o, "master_link_up", "gauge", "1 while the replica streams from its master.", (unsigned)v.link.link_up);
        sample(o, "master_sync_in_progress", "gauge", "1 while a full sync is being received.",
               (unsigned)v.link.sync_in_progress);
        sample(o, "master_lsn", "gauge", "The master's newest record, as last announced.", v.link.master_lsn);
        sample(o, "master_lag_records", "gauge", "Records the master has that this replica has not applied.",
               v.link.lag_records);
        family(o, "master_last_io_milliseconds", "gauge", "Time since data last came from the master.");
        if (v.link.last_io_ms_ago >= 0)
            buf_printf(o, "strata_node_master_last_io_milliseconds %lld\n", v.link.last_io_ms_ago);
        sample(o, "full_syncs_total", "counter", "Full syncs received.", v.link.full_syncs);
        sample(o, "partial_syncs_total", "counter", "Incremental resumptions of the stream.", v.link.partial_syncs);
    }
    repl_view_free(&v);
}

void metrics_render(buf *o)
{
    render_server(o);
    render_commands(o);
    render_storage(o);
    render_replication(o);
    migrate_metrics(o);
}

void metrics_register(void)
{
    const char *addr = srv.cfg.metrics_listen;
    if (!addr || !*addr) return;
    buf errs;
    buf_init(&errs);
    if (promhttp_start(srv.base, addr, "strata-node", metrics_render, &errs) < 0) {
        while (errs.len && errs.data[errs.len - 1] == '\n') errs.len--;
        log_error("%.*s; exiting", (int)errs.len, errs.data);
        buf_free(&errs);
        exit(1);
    }
    buf_free(&errs);
    server_add_shutdown_hook(promhttp_stop);
    log_info("metrics on http://%s/metrics", addr);
}
