/* repl: WAL replication's entry points — registration, the hooks that
 * tie the log and both roles to the server loop, and the role commands
 * (REPLICAOF / SLAVEOF, ROLE, INFO replication).
 *
 * Order inside the sleep hook (after the group commit, before replies):
 *   1. wal_publish: the batch's records are committed (or, after a failed
 *      commit, forgotten)
 *   2. master: stream the records, park semi-sync writers
 *   3. replica: ack what was applied
 *
 * Transactions: EXEC must clear CLIENT_IN_EXEC before it returns; then
 * server_call reports EXEC's whole batch to the write hook once and the
 * transaction becomes one record. */
#include "repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "log.h"
#include "repl_master.h"
#include "repl_replica.h"
#include "util.h"
#include "wal.h"

static void repl_sleep(void)
{
    wal_publish();
    repl_master_after_commit();
    if (srv.is_replica) repl_replica_after_commit();
}

static void repl_cron(void)
{
    repl_master_cron();
    if (srv.is_replica) repl_replica_cron();
}

static void repl_info(buf *o)
{
    const struct wal_pos *p = wal_position();
    const struct wal_stats *ws = wal_get_stats();
    uint64_t committed = wal_committed_lsn();
    buf_printf(o, "# Replication\r\nrole:%s\r\n", srv.is_replica ? "slave" : "master");
    if (srv.is_replica) repl_replica_info(o);
    repl_master_info(o);
    buf_printf(o, "master_failover_state:no-failover\r\nmaster_repl_offset:%llu\r\n"
                  "second_repl_offset:-1\r\nrepl_backlog_active:%d\r\nrepl_backlog_size:%lld\r\n"
                  "repl_backlog_first_byte_offset:%llu\r\nrepl_backlog_histlen:%llu\r\n"
                  "epoch:%llu\r\nlsn:%llu\r\nlast_record_epoch:%llu\r\nwal_first_lsn:%llu\r\n"
                  "wal_bytes:%llu\r\nwal_records_appended:%llu\r\nwal_records_applied:%llu\r\n"
                  "wal_records_trimmed:%llu\r\nrepl_bad_records:%llu\r\n\r\n",
               (unsigned long long)committed, wal_keeping(), srv.cfg.wal_retention_bytes,
               (unsigned long long)p->first_lsn, (unsigned long long)p->log_bytes,
               (unsigned long long)p->epoch, (unsigned long long)committed,
               (unsigned long long)p->last_epoch, (unsigned long long)p->first_lsn,
               (unsigned long long)p->log_bytes, ws->appended, ws->applied, ws->trimmed,
               ws->bad_records);
}

/* ---------------- the metrics view ---------------- */

/* Age of record `lsn` (0 if the log no longer holds it): INFO's lag_ms. */
static uint64_t record_age_ms(uint64_t lsn, uint64_t now)
{
    buf rec;
    struct wal_rec r;
    uint64_t age = 0;
    buf_init(&rec);
    if (wal_read(lsn, &rec) == 1 && wal_parse(rec.data, rec.len, &r) != -1 && r.time_ms && now > r.time_ms)
        age = now - r.time_ms;
    buf_free(&rec);
    return age;
}

struct view_ctx {
    struct repl_view *v;
    uint64_t now;
    size_t cap;
};

static void view_replica(void *ctx, const char *ip, long long port, uint64_t acked)
{
    struct view_ctx *vc = ctx;
    struct repl_view *v = vc->v;
    if (v->n == vc->cap) {
        vc->cap = vc->cap ? vc->cap * 2 : 4;
        v->replicas = xrealloc(v->replicas, vc->cap * sizeof *v->replicas);
    }
    struct repl_replica_view *x = &v->replicas[v->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->addr, sizeof x->addr, "%s:%lld", ip, port);
    x->acked_lsn = acked;
    x->lag_records = v->lsn > acked ? v->lsn - acked : 0;
    x->lag_ms = x->lag_records ? record_age_ms(acked + 1, vc->now) : 0;
}

static void view_replicas(struct repl_view *v, uint64_t now)
{
    struct view_ctx vc = { v, now, 0 };
    repl_master_each_replica(view_replica, &vc);
}

void repl_view_get(struct repl_view *v)
{
    memset(v, 0, sizeof *v);
    v->is_replica = srv.is_replica;
    v->epoch = wal_position()->epoch;
    v->lsn = wal_committed_lsn();
    if (srv.is_replica) {
        repl_replica_status(&v->link);
        return;
    }
    v->connected_replicas = repl_master_nreplicas();
    view_replicas(v, now_ms());
}

void repl_view_free(struct repl_view *v)
{
    free(v->replicas);
    v->replicas = NULL;
    v->n = 0;
}

static void become_master(void)
{
    repl_replica_stop();
    srv.is_replica = 0;
    uint64_t e = wal_new_epoch();
    /* The epoch must be durable before any write of the new epoch. */
    server_commit();
    uint64_t hwm = db_load_version_hwm();
    if (hwm > srv.next_version) srv.next_version = hwm;
    db_invalidate_counters();
    repl_master_promoted();
    log_info("promoted to master: epoch %llu, lsn %llu", (unsigned long long)e,
             (unsigned long long)wal_position()->last_lsn);
}

/* REPLICAOF host port | REPLICAOF NO ONE (SLAVEOF too) */
static void replicaof_command(client *c)
{
    if (ARG_IS(c, 1, "no") && ARG_IS(c, 2, "one")) {
        if (srv.is_replica) become_master();
        resp_add_ok(&c->out);
        return;
    }
    long long port;
    if (str2ll(ARG(c, 2), &port) < 0 || port < 0 || port > 65535) {
        resp_add_error(&c->out, "ERR Invalid master port");
        return;
    }
    if (c->argvlen[1] == 0 || c->argvlen[1] >= 256) {
        resp_add_error(&c->out, "ERR Invalid master host");
        return;
    }
    char host[256];
    memcpy(host, c->argv[1], c->argvlen[1]);
    host[c->argvlen[1]] = '\0';
    if (srv.is_replica && repl_replica_follows(host, (int)port)) {
        resp_add_simple(&c->out, "OK Already connected to specified master");
        return;
    }
    if (!srv.is_replica) repl_master_drop_replicas();
    srv.is_replica = 1;
    repl_replica_start(host, (int)port);
    resp_add_ok(&c->out);
}

static void role_command(client *c)
{
    if (srv.is_replica) repl_replica_role(c);
    else repl_master_role(c);
}

void repl_register(void)
{
    if (wal_open(srv.st) < 0) {
        log_error("cannot read the replication position; exiting");
        exit(1);
    }
    repl_master_init();
    repl_replica_init();
    server_add_write_hook(repl_master_write_hook);
    server_add_free_hook(repl_master_client_freed);
    server_add_sleep_hook(repl_sleep);
    server_add_cron_hook(repl_cron);
    server_add_shutdown_hook(repl_replica_shutdown);
    srv.info_replication = repl_info;
    srv.write_allowed = repl_master_write_allowed;
    srv.read_allowed = repl_master_read_allowed;
    srv.read_hook = repl_master_read_hook;
    srv.fenced_now = repl_master_fenced_now;
    server_register(CMD_REPLICAOF, replicaof_command);
    server_register(CMD_SLAVEOF, replicaof_command);
    server_register(CMD_ROLE, role_command);
    server_register(CMD_WAIT, repl_wait_command);
    server_register(CMD_REPLCONF, repl_replconf_command);
    server_register(CMD_PSYNC, repl_psync_command);
    log_info("replication log at epoch %llu, lsn %llu (records %llu..%llu kept)",
             (unsigned long long)wal_position()->epoch, (unsigned long long)wal_position()->last_lsn,
             (unsigned long long)wal_position()->first_lsn, (unsigned long long)wal_position()->last_lsn);
    if (srv.cfg.replicaof && *srv.cfg.replicaof) {
        char host[256];
        int port;
        if (parse_hostport(srv.cfg.replicaof, host, sizeof host, &port) < 0) {
            log_error("bad replicaof %s: expected HOST:PORT", srv.cfg.replicaof);
            exit(1);
        }
        srv.is_replica = 1;
        repl_replica_start(host, port);
    } else {
        repl_master_promoted();
    }
}
