/* cmd: commands of strata-sentinel.  See cmd.h. */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "failover.h"
#include "link.h"
#include "log.h"
#include "mon.h"
#include "peer.h"
#include "resp.h"
#include "sentinel.h"
#include "server.h"
#include "slotagg.h"
#include "util.h"

/* ---- helpers for the field/value maps of SENTINEL replies ----
 *
 * Redis Sentinel sends each instance as a map (a flat array in RESP2)
 * whose values are all bulk strings, numbers included. */

static void kv_str(buf *o, const char *k, const char *v)
{
    resp_add_bulk_str(o, k);
    resp_add_bulk_str(o, v);
}

static void kv_ll(buf *o, const char *k, long long v)
{
    resp_add_bulk_str(o, k);
    resp_add_bulk_ll(o, v);
}

static long long ago(uint64_t t, uint64_t now)
{
    return t && now >= t ? (long long)(now - t) : 0;
}

static int ng_peers_known(void)
{
    return snt.npeers;
}

/* An instance's flags in Redis Sentinel's order: s_down, o_down, the
 * kind (master, slave, sentinel), disconnected, failover_in_progress. */
static void instance_flags(char *out, size_t n, int sdown, int odown, const char *kind, int disconnected,
                           int failover)
{
    snprintf(out, n, "%s%s%s%s%s", sdown ? "s_down," : "", odown ? "o_down," : "", kind,
             disconnected ? ",disconnected" : "", failover ? ",failover_in_progress" : "");
}

static void reply_master(buf *o, int proto, int gi, uint64_t now)
{
    const struct sgroup *g = &snt.groups[gi];
    int mi = snt_master_index(g);
    const struct snode *m = mi >= 0 ? &g->nodes[mi] : NULL;
    char flags[128];
    instance_flags(flags, sizeof flags, m && m->sdown, g->odown, "master", m && !link_up(m->link),
                   g->fo.state != FO_NONE);
    int nrep = g->nnodes - (mi >= 0 ? 1 : 0);
    size_t mark = resp_defer(o);
    long long n = 0; /* pairs */
    kv_str(o, "name", g->name), n++;
    kv_str(o, "ip", g->master_host), n++;
    kv_ll(o, "port", g->master_port), n++;
    kv_str(o, "runid", m ? m->runid : ""), n++;
    kv_str(o, "flags", flags), n++;
    kv_ll(o, "link-pending-commands", m ? link_stats(m->link)->pending : 0), n++;
    kv_ll(o, "link-refcount", 1), n++;
    kv_ll(o, "last-ping-sent", m && m->ping_pending ? ago(m->last_ping_sent_ms, now) : 0), n++;
    kv_ll(o, "last-ok-ping-reply", m ? ago(m->last_ok_ms, now) : 0), n++;
    kv_ll(o, "last-ping-reply", m ? ago(m->last_ok_ms, now) : 0), n++;
    if (m && m->sdown) kv_ll(o, "s-down-time", ago(m->sdown_since_ms, now)), n++;
    if (g->odown) kv_ll(o, "o-down-time", ago(g->odown_since_ms, now)), n++;
    kv_ll(o, "down-after-milliseconds", snt.conf.s.down_after_ms), n++;
    kv_ll(o, "info-refresh", m ? ago(m->info_ms, now) : 0), n++;
    kv_str(o, "role-reported", m && m->role == SNODE_REPLICA ? "slave" : "master"), n++;
    kv_ll(o, "role-reported-time", m ? ago(m->info_ms, now) : 0), n++;
    kv_ll(o, "config-epoch", (long long)g->config_epoch), n++;
    kv_ll(o, "num-slaves", nrep), n++;
    kv_ll(o, "num-other-sentinels", ng_peers_known()), n++;
    kv_ll(o, "quorum", snt.quorum), n++;
    kv_ll(o, "failover-timeout", snt.conf.s.failover_timeout_ms), n++;
    kv_ll(o, "parallel-syncs", g->nnodes), n++;
    kv_ll(o, "leader-epoch", (long long)g->vote_epoch), n++;
    kv_str(o, "failover-state", failover_state_name(gi)), n++;
    kv_str(o, "promotion", g->promotion_available ? "available" : "safe"), n++;
    if (g->blocked[0]) {
        kv_str(o, "failover-blocked", g->blocked), n++;
        kv_str(o, "failover-blocked-reason", g->blocked_why), n++;
        kv_ll(o, "failover-blocked-time", ago(g->blocked_ms, now)), n++;
    }
    kv_ll(o, "epoch", m ? (long long)m->epoch : 0), n++;
    kv_ll(o, "lsn", m ? (long long)m->lsn : 0), n++;
    kv_ll(o, "fenced", m ? m->fenced : 0), n++;
    resp_set_deferred_map(o, mark, proto, n);
}

static void reply_replica(buf *o, int proto, const struct snode *r, uint64_t now)
{
    char name[SNT_HOST_MAX + 16], flags[128];
    snprintf(name, sizeof name, "%s:%d", r->host, r->port);
    instance_flags(flags, sizeof flags, r->sdown, 0, r->role == SNODE_MASTER ? "master" : "slave",
                   !link_up(r->link), 0);
    int follows = r->role == SNODE_REPLICA;
    size_t mark = resp_defer(o);
    long long n = 0; /* pairs */
    kv_str(o, "name", name), n++;
    kv_str(o, "ip", r->host), n++;
    kv_ll(o, "port", r->port), n++;
    kv_str(o, "runid", r->runid), n++;
    kv_str(o, "flags", flags), n++;
    kv_ll(o, "link-pending-commands", link_stats(r->link)->pending), n++;
    kv_ll(o, "link-refcount", 1), n++;
    kv_ll(o, "last-ping-sent", r->ping_pending ? ago(r->last_ping_sent_ms, now) : 0), n++;
    kv_ll(o, "last-ok-ping-reply", ago(r->last_ok_ms, now)), n++;
    kv_ll(o, "last-ping-reply", ago(r->last_ok_ms, now)), n++;
    if (r->sdown) kv_ll(o, "s-down-time", ago(r->sdown_since_ms, now)), n++;
    kv_ll(o, "down-after-milliseconds", snt.conf.s.down_after_ms), n++;
    kv_ll(o, "info-refresh", ago(r->info_ms, now)), n++;
    kv_str(o, "role-reported", r->role == SNODE_MASTER ? "master" : "slave"), n++;
    kv_ll(o, "role-reported-time", ago(r->info_ms, now)), n++;
    kv_ll(o, "master-link-down-time", 0), n++;
    kv_str(o, "master-link-status", follows && r->master_link_up ? "ok" : "err"), n++;
    kv_str(o, "master-host", follows ? r->master_host : "?"), n++;
    kv_ll(o, "master-port", follows ? r->master_port : 0), n++;
    kv_ll(o, "slave-priority", r->priority), n++;
    kv_ll(o, "slave-repl-offset", (long long)r->lsn), n++;
    kv_ll(o, "replica-announced", 1), n++;
    kv_ll(o, "epoch", (long long)r->epoch), n++;
    kv_ll(o, "last-record-epoch", (long long)r->last_epoch), n++;
    kv_ll(o, "lsn", (long long)r->lsn), n++;
    kv_ll(o, "acked-lsn", (long long)r->acked_lsn), n++;
    resp_set_deferred_map(o, mark, proto, n);
}

static void reply_sentinel(buf *o, int proto, const struct speer *p, int gi, uint64_t now)
{
    char flags[64];
    int up = peer_reachable((int)(p - snt.peers), now);
    instance_flags(flags, sizeof flags, !up, 0, "sentinel", !link_up(p->link), 0);
    resp_add_map(o, proto, 14);
    kv_str(o, "name", p->runid[0] ? p->runid : "?");
    kv_str(o, "ip", p->host);
    kv_ll(o, "port", p->port);
    kv_str(o, "runid", p->runid[0] ? p->runid : "?");
    kv_str(o, "flags", flags);
    kv_ll(o, "link-pending-commands", link_stats(p->link)->pending);
    kv_ll(o, "link-refcount", 1);
    kv_ll(o, "last-ping-sent", 0);
    kv_ll(o, "last-ok-ping-reply", ago(p->last_ok_ms, now));
    kv_ll(o, "last-ping-reply", ago(p->last_ok_ms, now));
    kv_ll(o, "down-after-milliseconds", snt.conf.s.down_after_ms);
    kv_ll(o, "last-hello-message", ago(p->last_hello_ms, now));
    /* Its vote as it last answered our request for one, as Redis shows it. */
    int voted = p->g && p->g[gi].voted[0];
    kv_str(o, "voted-leader", voted ? p->g[gi].voted : "?");
    kv_ll(o, "voted-leader-epoch", voted ? (long long)p->g[gi].voted_epoch : 0);
}

/* ---- INFO ---- */

/* Whether INFO's arguments ask for section `name`: none, "default",
 * "all" and "everything" ask for every section Redis Sentinel has. */
static int info_wants(int argc, char **argv, const char *name)
{
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (!strcasecmp(argv[i], name) || !strcasecmp(argv[i], "default") ||
            !strcasecmp(argv[i], "all") || !strcasecmp(argv[i], "everything"))
            return 1;
    return 0;
}

/* INFO [section ...]: the sections of Redis Sentinel 7.0 in its order
 * (Server, Clients, Stats, CPU, Sentinel), with the fields Strata has. */
static void cmd_info(int argc, char **argv, buf *out)
{
    buf o;
    buf_init(&o);
    uint64_t now = now_ms();
    if (info_wants(argc, argv, "server"))
        buf_printf(&o, "# Server\r\nredis_version:7.0.0\r\nstrata_version:%s\r\nredis_mode:sentinel\r\n"
                       "process_id:%ld\r\nrun_id:%s\r\ntcp_port:%d\r\nuptime_in_seconds:%llu\r\n"
                       "config_file:%s\r\n\r\n",
                   STRATA_VERSION, (long)getpid(), snt.myid, snt.conf.port,
                   (unsigned long long)((now - snt.start_ms) / 1000),
                   snt.conf.config_path ? snt.conf.config_path : "");
    if (info_wants(argc, argv, "clients"))
        buf_printf(&o, "# Clients\r\nconnected_clients:%d\r\n\r\n", server_nclients());
    if (info_wants(argc, argv, "stats")) {
        long long conns, cmds;
        int chans, pats;
        server_stats(&conns, &cmds, &chans, &pats);
        buf_printf(&o, "# Stats\r\ntotal_connections_received:%lld\r\ntotal_commands_processed:%lld\r\n"
                       "pubsub_channels:%d\r\npubsub_patterns:%d\r\n\r\n",
                   conns, cmds, chans, pats);
    }
    if (info_wants(argc, argv, "cpu")) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        buf_printf(&o, "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n\r\n",
                   (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, (long)ru.ru_utime.tv_sec,
                   (long)ru.ru_utime.tv_usec);
    }
    if (info_wants(argc, argv, "sentinel")) {
        buf_printf(&o, "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:0\r\n"
                       "sentinel_tilt_since_seconds:-1\r\nsentinel_running_scripts:0\r\n"
                       "sentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n"
                       "sentinel_quorum:%d\r\nsentinel_reachable:%d\r\n",
                   snt.ngroups, snt.quorum, snt_reachable_sentinels(now));
        for (int gi = 0; gi < snt.ngroups; gi++) {
            const struct sgroup *g = &snt.groups[gi];
            int mi = snt_master_index(g);
            const char *status = g->odown ? "odown" : (mi >= 0 && g->nodes[mi].sdown) ? "sdown" : "ok";
            buf_printf(&o, "master%d:name=%s,status=%s,address=%s:%d,slaves=%d,sentinels=%d,"
                           "config_epoch=%llu,failover=%s,promotion=%s%s%s\r\n",
                       gi, g->name, status, g->master_host, g->master_port,
                       g->nnodes - (mi >= 0 ? 1 : 0), snt.nsentinels,
                       (unsigned long long)g->config_epoch, failover_state_name(gi),
                       g->promotion_available ? "available" : "safe",
                       g->blocked[0] ? ",failover_blocked=" : "", g->blocked);
        }
        buf_append_str(&o, "\r\n");
    }
    if (o.len >= 2) o.len -= 2; /* no blank line after the last section */
    /* A bulk string in RESP3 too: Redis 7.0 sends INFO as one (7.2 made it
     * a verbatim string). */
    resp_add_bulk(out, o.data ? o.data : "", o.len);
    buf_free(&o);
}

/* ---- the command table ----
 *
 * Dispatch follows Redis's processCommand, in its order, so a client sees
 * the same error Redis Sentinel would give it first:
 *
 *   unknown command / unknown subcommand -> wrong number of arguments
 *   -> NOAUTH (unless CMD_NOAUTH) -> RESP2 pub/sub context (unless CMD_PUBSUB)
 *   -> the handler
 *
 * Arity as in Redis: N means exactly N arguments with the name, -N at
 * least N.  A container (SENTINEL, CLIENT) has a table of subcommands,
 * each with its own arity, named "sentinel|masters" in errors. */

enum {
    CMD_NOAUTH = 1, /* runs before AUTH */
    CMD_PUBSUB = 2, /* allowed in a RESP2 connection that subscribed */
};

struct cmd_ctx {
    struct sclient *c;
    int proto;
    int argc;
    char **argv;
    size_t *argvlen;
    buf *out;
    uint64_t now;
};

struct scmd {
    const char *name;
    int arity;
    void (*run)(struct cmd_ctx *x);
    int flags;
    const struct scmd *subs; /* NULL-terminated, or NULL */
};

static int group_arg(const char *name, buf *out)
{
    int gi = snt_group_find(name);
    if (gi < 0) resp_add_error(out, "ERR No such master with that name");
    return gi;
}

/* ---- SENTINEL subcommands ---- */

static void sn_get_master_addr(struct cmd_ctx *x)
{
    int gi = snt_group_find(x->argv[2]);
    if (gi < 0) {
        resp_add_null_array(x->out, x->proto);
        return;
    }
    resp_add_array(x->out, 2);
    resp_add_bulk_str(x->out, snt.groups[gi].master_host);
    resp_add_bulk_ll(x->out, snt.groups[gi].master_port);
}

static void sn_masters(struct cmd_ctx *x)
{
    resp_add_array(x->out, snt.ngroups);
    for (int gi = 0; gi < snt.ngroups; gi++) reply_master(x->out, x->proto, gi, x->now);
}

static void sn_master(struct cmd_ctx *x)
{
    int gi = group_arg(x->argv[2], x->out);
    if (gi >= 0) reply_master(x->out, x->proto, gi, x->now);
}

static void sn_replicas(struct cmd_ctx *x)
{
    int gi = group_arg(x->argv[2], x->out);
    if (gi < 0) return;
    const struct sgroup *g = &snt.groups[gi];
    int mi = snt_master_index(g);
    resp_add_array(x->out, g->nnodes - (mi >= 0 ? 1 : 0));
    for (int i = 0; i < g->nnodes; i++)
        if (i != mi) reply_replica(x->out, x->proto, &g->nodes[i], x->now);
}

static void sn_sentinels(struct cmd_ctx *x)
{
    int gi = group_arg(x->argv[2], x->out);
    if (gi < 0) return;
    resp_add_array(x->out, snt.npeers);
    for (int i = 0; i < snt.npeers; i++) reply_sentinel(x->out, x->proto, &snt.peers[i], gi, x->now);
}

static void sn_failover(struct cmd_ctx *x)
{
    int gi = group_arg(x->argv[2], x->out);
    const char *err;
    if (gi < 0) return;
    if (failover_manual(gi, &err) < 0) resp_add_error(x->out, err);
    else resp_add_ok(x->out);
}

static void sn_ckquorum(struct cmd_ctx *x)
{
    if (group_arg(x->argv[2], x->out) < 0) return;
    int usable = snt_reachable_sentinels(x->now);
    if (usable < snt.quorum)
        resp_add_errorf(x->out, "NOQUORUM %d usable Sentinels. Not enough available Sentinels to "
                                "reach the specified quorum for this master", usable);
    else if (usable < snt_majority())
        resp_add_errorf(x->out, "NOQUORUM %d usable Sentinels. Not enough available Sentinels to "
                                "reach the majority and authorize a failover", usable);
    else {
        char msg[128];
        snprintf(msg, sizeof msg, "OK %d usable Sentinels. Quorum and failover authorization "
                                  "can be reached", usable);
        resp_add_simple(x->out, msg);
    }
}

static void sn_myid(struct cmd_ctx *x)
{
    resp_add_bulk_str(x->out, snt.myid);
}

static void sn_is_master_down(struct cmd_ctx *x)
{
    char **argv = x->argv;
    buf *out = x->out;
    long long port;
    unsigned long long epoch;
    if (str2ll(argv[3], strlen(argv[3]), &port) < 0 || str2ull(argv[4], strlen(argv[4]), &epoch) < 0) {
        resp_add_error(out, resp_err_notint);
        return;
    }
    int ni = -1;
    int gi = snt_find_addr(argv[2], (int)port, &ni);
    int down = 0;
    const char *leader = "*";
    uint64_t le = 0;
    if (gi >= 0) {
        const struct sgroup *g = &snt.groups[gi];
        int is_master = ni == snt_master_index(g);
        down = is_master && g->nodes[ni].sdown;
        /* Votes only go to candidates replacing our config master: a
         * sentinel with an older config must not win an election. */
        if (strcmp(argv[5], "*") != 0) {
            if (is_master) {
                peer_vote(gi, epoch, argv[5], &leader, &le);
            } else {
                leader = g->vote_leader[0] ? g->vote_leader : "*";
                le = g->vote_epoch;
            }
        }
    }
    /* A strata 4th element: how long ago this sentinel last renewed
     * that node's fencing lease (before its start counts as at its
     * start), so a leader knows when the lease is surely over. */
    resp_add_array(out, 4);
    resp_add_int(out, down);
    resp_add_bulk_str(out, leader);
    resp_add_int(out, (long long)le);
    resp_add_int(out, gi >= 0 ? (long long)mon_lease_age(&snt.groups[gi].nodes[ni], now_ms()) : -1);
}

static void sn_strata_hello(struct cmd_ctx *x)
{
    if (peer_on_hello(x->argc, x->argv) < 0) resp_add_error(x->out, "ERR malformed hello");
    else resp_add_ok(x->out);
}

static void sn_slots(struct cmd_ctx *x)
{
    slotagg_reply(x->out);
}

static void sn_reset(struct cmd_ctx *x)
{
    resp_add_int(x->out, 0);
}

static const struct scmd sentinel_subs[] = {
    { "get-master-addr-by-name", 3, sn_get_master_addr, 0, NULL },
    { "masters", 2, sn_masters, 0, NULL },
    { "master", 3, sn_master, 0, NULL },
    { "replicas", 3, sn_replicas, 0, NULL },
    { "slaves", 3, sn_replicas, 0, NULL },
    { "sentinels", 3, sn_sentinels, 0, NULL },
    { "failover", 3, sn_failover, 0, NULL },
    { "ckquorum", 3, sn_ckquorum, 0, NULL },
    { "myid", 2, sn_myid, 0, NULL },
    { "is-master-down-by-addr", 6, sn_is_master_down, 0, NULL },
    { "strata-hello", -2, sn_strata_hello, 0, NULL },
    { "reset", 3, sn_reset, 0, NULL },
    { "slots", 2, sn_slots, 0, NULL },
    { NULL, 0, NULL, 0, NULL },
};

/* ---- CLIENT subcommands ---- */

static void cl_setname(struct cmd_ctx *x)
{
    if (!resp_check_client_name(x->out, x->argv[2], x->argvlen[2])) return;
    server_client_set_name(x->c, x->argv[2], x->argvlen[2]);
    resp_add_ok(x->out);
}

static void cl_getname(struct cmd_ctx *x)
{
    const char *name = server_client_name(x->c);
    if (name) resp_add_bulk_str(x->out, name);
    else resp_add_null(x->out, x->proto);
}

static void cl_id(struct cmd_ctx *x)
{
    resp_add_int(x->out, server_client_id(x->c));
}

static void client_text(struct cmd_ctx *x, int only_self)
{
    buf o;
    buf_init(&o);
    server_client_list(x->c, only_self, &o);
    resp_add_verbatim(x->out, x->proto, o.data ? o.data : "", o.len);
    buf_free(&o);
}

static void cl_list(struct cmd_ctx *x)
{
    /* TYPE and ID filters are not supported: every client is "normal". */
    if (x->argc != 2) resp_add_error(x->out, resp_err_syntax);
    else client_text(x, 0);
}

static void cl_info(struct cmd_ctx *x)
{
    client_text(x, 1);
}

static const struct scmd client_subs[] = {
    { "setname", 3, cl_setname, 0, NULL },
    { "getname", 2, cl_getname, 0, NULL },
    { "id", 2, cl_id, 0, NULL },
    { "list", -2, cl_list, 0, NULL },
    { "info", 2, cl_info, 0, NULL },
    { NULL, 0, NULL, 0, NULL },
};

/* ---- top-level commands ---- */

/* The users a sentinel knows: default, with the topology's password
 * (without one it takes any, Redis's "nopass"), and the sentinels' own
 * users.sentinel, which its peers authenticate as (sentinel/peer.c; it
 * may name default with another password).  Both may do everything: a
 * sentinel has no ACL. */
static int auth_ok(const char *user, const char *pass)
{
    const char *pw = snt.conf.topo.password;
    const struct topo_user *su = &snt.conf.topo.sentinel_user;
    if (su->user && su->password && !strcmp(user, su->user) && !strcmp(pass, su->password)) return 1;
    return !strcmp(user, "default") && (!pw || !*pw || !strcmp(pass, pw));
}

static void c_auth(struct cmd_ctx *x)
{
    const char *pw = snt.conf.topo.password;
    int has_pw = pw && *pw;
    char **argv = x->argv;
    if (x->argc > 3) {
        resp_add_error(x->out, resp_err_syntax);
    } else if (x->argc == 2 && !has_pw) {
        resp_add_error(x->out, "ERR AUTH <password> called without any password configured for "
                               "the default user. Are you sure your configuration is correct?");
    } else if (!auth_ok(x->argc == 3 ? argv[1] : "default", argv[x->argc - 1])) {
        resp_add_error(x->out, "WRONGPASS invalid username-password pair or user is disabled.");
    } else {
        server_client_set_authed(x->c);
        resp_add_ok(x->out);
    }
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]]: the
 * checks in the order Redis 7.0 makes them; the map has no "role" in
 * sentinel mode. */
static void c_hello(struct cmd_ctx *x)
{
    char **argv = x->argv;
    long long ver = 0;
    int next = 1;
    const char *user = NULL, *pass = NULL, *name = NULL;
    size_t namelen = 0;
    if (x->argc >= 2) {
        if (str2ll(argv[1], x->argvlen[1], &ver) < 0) {
            resp_add_error(x->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            resp_add_error(x->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int j = next; j < x->argc; j++) {
        int more = x->argc - 1 - j;
        if (!strcasecmp(argv[j], "AUTH") && more >= 2) {
            user = argv[j + 1];
            pass = argv[j + 2];
            j += 2;
        } else if (!strcasecmp(argv[j], "SETNAME") && more >= 1) {
            name = argv[j + 1];
            namelen = x->argvlen[j + 1];
            j++;
        } else {
            resp_add_errorf(x->out, "ERR Syntax error in HELLO option '%s'", argv[j]);
            return;
        }
    }
    const char *pw = snt.conf.topo.password;
    int has_pw = pw && *pw;
    if (user) {
        if (!auth_ok(user, pass)) {
            resp_add_error(x->out, "WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        server_client_set_authed(x->c);
    } else if (has_pw && !server_client_authed(x->c)) {
        resp_add_error(x->out, "NOAUTH HELLO must be called with the client already authenticated, "
                               "otherwise the HELLO AUTH <user> <pass> option can be used to "
                               "authenticate the client and select the RESP protocol version at "
                               "the same time");
        return;
    }
    if (name) {
        if (!resp_check_client_name(x->out, name, namelen)) return;
        server_client_set_name(x->c, name, namelen);
    }
    if (ver) server_client_set_proto(x->c, (int)ver);
    int proto = server_client_proto(x->c);
    resp_add_map(x->out, proto, 6);
    kv_str(x->out, "server", "redis");
    kv_str(x->out, "version", "7.0.0");
    resp_add_bulk_str(x->out, "proto");
    resp_add_int(x->out, proto);
    resp_add_bulk_str(x->out, "id");
    resp_add_int(x->out, server_client_id(x->c));
    kv_str(x->out, "mode", "sentinel");
    resp_add_bulk_str(x->out, "modules");
    resp_add_array(x->out, 0);
}

static void c_quit(struct cmd_ctx *x)
{
    resp_add_ok(x->out);
    server_client_close_after_reply(x->c);
}

static void c_ping(struct cmd_ctx *x)
{
    if (x->argc > 2) {
        resp_add_arity_error(x->out, "ping");
    } else if (x->proto == RESP2 && server_client_subscriptions(x->c) > 0) {
        /* Redis's RESP2 pub/sub form; a RESP3 subscriber gets the plain one. */
        resp_add_array(x->out, 2);
        resp_add_bulk_str(x->out, "pong");
        if (x->argc == 2) resp_add_bulk(x->out, x->argv[1], x->argvlen[1]);
        else resp_add_bulk_str(x->out, "");
    } else if (x->argc == 2) {
        resp_add_bulk(x->out, x->argv[1], x->argvlen[1]);
    } else {
        resp_add_simple(x->out, "PONG");
    }
}

static void c_subscribe(struct cmd_ctx *x)
{
    server_subscribe(x->c, 0, x->argc, x->argv, x->argvlen, x->out);
}

static void c_psubscribe(struct cmd_ctx *x)
{
    server_subscribe(x->c, 1, x->argc, x->argv, x->argvlen, x->out);
}

static void c_unsubscribe(struct cmd_ctx *x)
{
    server_unsubscribe(x->c, 0, x->argc, x->argv, x->argvlen, x->out);
}

static void c_punsubscribe(struct cmd_ctx *x)
{
    server_unsubscribe(x->c, 1, x->argc, x->argv, x->argvlen, x->out);
}

static void c_info(struct cmd_ctx *x)
{
    cmd_info(x->argc, x->argv, x->out);
}

static void c_role(struct cmd_ctx *x)
{
    resp_add_array(x->out, 2);
    resp_add_bulk_str(x->out, "sentinel");
    resp_add_array(x->out, snt.ngroups);
    for (int gi = 0; gi < snt.ngroups; gi++) resp_add_bulk_str(x->out, snt.groups[gi].name);
}

static void c_echo(struct cmd_ctx *x)
{
    resp_add_bulk(x->out, x->argv[1], x->argvlen[1]);
}

static void c_command(struct cmd_ctx *x)
{
    resp_add_array(x->out, 0);
}

/* QUIT, ECHO and COMMAND's empty table are Strata's: Redis Sentinel 7.0
 * knows neither QUIT nor ECHO. */
static const struct scmd commands[] = {
    { "ping", -1, c_ping, CMD_PUBSUB, NULL },
    { "sentinel", -2, NULL, 0, sentinel_subs },
    { "subscribe", -2, c_subscribe, CMD_PUBSUB, NULL },
    { "unsubscribe", -1, c_unsubscribe, CMD_PUBSUB, NULL },
    { "psubscribe", -2, c_psubscribe, CMD_PUBSUB, NULL },
    { "punsubscribe", -1, c_punsubscribe, CMD_PUBSUB, NULL },
    { "info", -1, c_info, 0, NULL },
    { "role", 1, c_role, 0, NULL },
    { "client", -2, NULL, 0, client_subs },
    { "auth", -2, c_auth, CMD_NOAUTH, NULL },
    { "hello", -1, c_hello, CMD_NOAUTH, NULL },
    { "quit", -1, c_quit, CMD_NOAUTH | CMD_PUBSUB, NULL },
    { "echo", 2, c_echo, 0, NULL },
    { "command", -1, c_command, 0, NULL },
    { NULL, 0, NULL, 0, NULL },
};

static const struct scmd *cmd_find(const struct scmd *t, const char *name)
{
    for (; t->name; t++)
        if (!strcasecmp(t->name, name)) return t;
    return NULL;
}

/* Redis's "with args beginning with: 'a' 'b' ": each argument quoted and
 * followed by a space, until 128 bytes of them are written. */
static void unknown_command(buf *out, int argc, char **argv)
{
    buf args;
    buf_init(&args);
    for (int i = 1; i < argc && args.len < 128; i++)
        buf_printf(&args, "'%.*s' ", 128 - (int)args.len, argv[i]);
    resp_add_errorf(out, "ERR unknown command '%.128s', with args beginning with: %.*s", argv[0],
                    (int)args.len, args.data ? args.data : "");
    buf_free(&args);
}

static int arity_ok(int arity, int argc)
{
    return arity > 0 ? argc == arity : argc >= -arity;
}

void cmd_dispatch(struct sclient *c, int need_auth, int argc, char **argv, size_t *argvlen, buf *out)
{
    const struct scmd *cmd = cmd_find(commands, argv[0]);
    if (!cmd) {
        unknown_command(out, argc, argv);
        return;
    }
    char fullname[64];
    snprintf(fullname, sizeof fullname, "%s", cmd->name);
    if (cmd->subs) {
        if (argc < 2) {
            resp_add_arity_error(out, cmd->name);
            return;
        }
        const struct scmd *sub = cmd_find(cmd->subs, argv[1]);
        if (!sub) {
            char upper[16];
            size_t i;
            for (i = 0; cmd->name[i] && i + 1 < sizeof upper; i++)
                upper[i] = (char)(cmd->name[i] - ('a' <= cmd->name[i] && cmd->name[i] <= 'z' ? 32 : 0));
            upper[i] = '\0';
            resp_add_errorf(out, "ERR unknown subcommand '%.128s'. Try %s HELP.", argv[1], upper);
            return;
        }
        snprintf(fullname, sizeof fullname, "%s|%s", cmd->name, sub->name);
        cmd = sub;
    }
    if (!arity_ok(cmd->arity, argc)) {
        resp_add_arity_error(out, fullname);
        return;
    }
    if (need_auth && !(cmd->flags & CMD_NOAUTH)) {
        resp_add_error(out, "NOAUTH Authentication required.");
        return;
    }
    int proto = server_client_proto(c);
    if (proto == RESP2 && server_client_subscriptions(c) > 0 && !(cmd->flags & CMD_PUBSUB)) {
        resp_add_errorf(out, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                             "QUIT / RESET are allowed in this context", fullname);
        return;
    }
    server_client_set_cmd(c, fullname);
    server_count_command();
    struct cmd_ctx x = { c, proto, argc, argv, argvlen, out, now_ms() };
    cmd->run(&x);
}
