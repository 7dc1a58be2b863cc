/* cmd: commands of strata-sentinel.  See cmd.h. */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "failover.h"
#include "link.h"
#include "log.h"
#include "mon.h"
#include "peer.h"
#include "resp.h"
#include "sentinel.h"
#include "server.h"
#include "util.h"

/* ---- helpers for the field/value arrays of SENTINEL replies ---- */

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

static void reply_master(buf *o, int gi, uint64_t now)
{
    const struct sgroup *g = &snt.groups[gi];
    int mi = snt_master_index(g);
    const struct snode *m = mi >= 0 ? &g->nodes[mi] : NULL;
    char flags[128] = "master";
    if (m && m->sdown) strcat(flags, ",s_down");
    if (g->odown) strcat(flags, ",o_down");
    if (m && !link_up(m->link)) strcat(flags, ",disconnected");
    if (g->fo.state != FO_NONE) strcat(flags, ",failover_in_progress");
    int nrep = g->nnodes - (mi >= 0 ? 1 : 0);
    size_t mark = resp_defer_array(o);
    long long n = 0;
    kv_str(o, "name", g->name), n += 2;
    kv_str(o, "ip", g->master_host), n += 2;
    kv_ll(o, "port", g->master_port), n += 2;
    kv_str(o, "runid", m ? m->runid : ""), n += 2;
    kv_str(o, "flags", flags), n += 2;
    kv_ll(o, "link-pending-commands", m ? link_stats(m->link)->pending : 0), n += 2;
    kv_ll(o, "link-refcount", 1), n += 2;
    kv_ll(o, "last-ping-sent", m && m->ping_pending ? ago(m->last_ping_sent_ms, now) : 0), n += 2;
    kv_ll(o, "last-ok-ping-reply", m ? ago(m->last_ok_ms, now) : 0), n += 2;
    kv_ll(o, "last-ping-reply", m ? ago(m->last_ok_ms, now) : 0), n += 2;
    if (m && m->sdown) kv_ll(o, "s-down-time", ago(m->sdown_since_ms, now)), n += 2;
    if (g->odown) kv_ll(o, "o-down-time", ago(g->odown_since_ms, now)), n += 2;
    kv_ll(o, "down-after-milliseconds", snt.conf.s.down_after_ms), n += 2;
    kv_ll(o, "info-refresh", m ? ago(m->info_ms, now) : 0), n += 2;
    kv_str(o, "role-reported", m && m->role == SNODE_REPLICA ? "slave" : "master"), n += 2;
    kv_ll(o, "role-reported-time", m ? ago(m->info_ms, now) : 0), n += 2;
    kv_ll(o, "config-epoch", (long long)g->config_epoch), n += 2;
    kv_ll(o, "num-slaves", nrep), n += 2;
    kv_ll(o, "num-other-sentinels", ng_peers_known()), n += 2;
    kv_ll(o, "quorum", snt.quorum), n += 2;
    kv_ll(o, "failover-timeout", snt.conf.s.failover_timeout_ms), n += 2;
    kv_ll(o, "parallel-syncs", g->nnodes), n += 2;
    kv_ll(o, "leader-epoch", (long long)g->vote_epoch), n += 2;
    kv_str(o, "failover-state", failover_state_name(gi)), n += 2;
    kv_ll(o, "epoch", m ? (long long)m->epoch : 0), n += 2;
    kv_ll(o, "lsn", m ? (long long)m->lsn : 0), n += 2;
    kv_ll(o, "fenced", m ? m->fenced : 0), n += 2;
    resp_set_deferred_array(o, mark, n);
}

static void reply_replica(buf *o, const struct sgroup *g, const struct snode *r, uint64_t now)
{
    char name[SNT_HOST_MAX + 16], flags[128];
    snprintf(name, sizeof name, "%s:%d", r->host, r->port);
    snprintf(flags, sizeof flags, "%s%s%s", r->role == SNODE_MASTER ? "master" : "slave",
             r->sdown ? ",s_down" : "", link_up(r->link) ? "" : ",disconnected");
    int follows = r->role == SNODE_REPLICA;
    size_t mark = resp_defer_array(o);
    long long n = 0;
    kv_str(o, "name", name), n += 2;
    kv_str(o, "ip", r->host), n += 2;
    kv_ll(o, "port", r->port), n += 2;
    kv_str(o, "runid", r->runid), n += 2;
    kv_str(o, "flags", flags), n += 2;
    kv_ll(o, "link-pending-commands", link_stats(r->link)->pending), n += 2;
    kv_ll(o, "link-refcount", 1), n += 2;
    kv_ll(o, "last-ping-sent", r->ping_pending ? ago(r->last_ping_sent_ms, now) : 0), n += 2;
    kv_ll(o, "last-ok-ping-reply", ago(r->last_ok_ms, now)), n += 2;
    kv_ll(o, "last-ping-reply", ago(r->last_ok_ms, now)), n += 2;
    if (r->sdown) kv_ll(o, "s-down-time", ago(r->sdown_since_ms, now)), n += 2;
    kv_ll(o, "down-after-milliseconds", snt.conf.s.down_after_ms), n += 2;
    kv_ll(o, "info-refresh", ago(r->info_ms, now)), n += 2;
    kv_str(o, "role-reported", r->role == SNODE_MASTER ? "master" : "slave"), n += 2;
    kv_ll(o, "role-reported-time", ago(r->info_ms, now)), n += 2;
    kv_ll(o, "master-link-down-time", 0), n += 2;
    kv_str(o, "master-link-status", follows && r->master_link_up ? "ok" : "err"), n += 2;
    kv_str(o, "master-host", follows ? r->master_host : "?"), n += 2;
    kv_ll(o, "master-port", follows ? r->master_port : 0), n += 2;
    kv_ll(o, "slave-priority", r->priority), n += 2;
    kv_ll(o, "slave-repl-offset", (long long)r->lsn), n += 2;
    kv_ll(o, "replica-announced", 1), n += 2;
    kv_ll(o, "epoch", (long long)r->epoch), n += 2;
    kv_ll(o, "last-record-epoch", (long long)r->last_epoch), n += 2;
    kv_ll(o, "lsn", (long long)r->lsn), n += 2;
    kv_ll(o, "acked-lsn", (long long)r->acked_lsn), n += 2;
    (void)g;
    resp_set_deferred_array(o, mark, n);
}

static void reply_sentinel(buf *o, const struct speer *p, int gi, uint64_t now)
{
    char flags[64];
    int up = peer_reachable((int)(p - snt.peers), now);
    snprintf(flags, sizeof flags, "sentinel%s%s", up ? "" : ",s_down",
             link_up(p->link) ? "" : ",disconnected");
    resp_add_array(o, 28);
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

static int group_arg(const char *name, buf *out)
{
    int gi = snt_group_find(name);
    if (gi < 0) resp_add_error(out, "ERR No such master with that name");
    return gi;
}

/* ---- SENTINEL ---- */

static void cmd_sentinel(struct sclient *c, int argc, char **argv, size_t *argvlen, buf *out)
{
    uint64_t now = now_ms();
    const char *sub = argv[1];
    (void)c;
    (void)argvlen;
    if (!strcasecmp(sub, "get-master-addr-by-name") && argc == 3) {
        int gi = snt_group_find(argv[2]);
        if (gi < 0) {
            resp_add_null_array(out, RESP2);
            return;
        }
        resp_add_array(out, 2);
        resp_add_bulk_str(out, snt.groups[gi].master_host);
        resp_add_bulk_ll(out, snt.groups[gi].master_port);
    } else if (!strcasecmp(sub, "masters") && argc == 2) {
        resp_add_array(out, snt.ngroups);
        for (int gi = 0; gi < snt.ngroups; gi++) reply_master(out, gi, now);
    } else if (!strcasecmp(sub, "master") && argc == 3) {
        int gi = group_arg(argv[2], out);
        if (gi >= 0) reply_master(out, gi, now);
    } else if ((!strcasecmp(sub, "replicas") || !strcasecmp(sub, "slaves")) && argc == 3) {
        int gi = group_arg(argv[2], out);
        if (gi < 0) return;
        const struct sgroup *g = &snt.groups[gi];
        int mi = snt_master_index(g);
        resp_add_array(out, g->nnodes - (mi >= 0 ? 1 : 0));
        for (int i = 0; i < g->nnodes; i++)
            if (i != mi) reply_replica(out, g, &g->nodes[i], now);
    } else if (!strcasecmp(sub, "sentinels") && argc == 3) {
        int gi = group_arg(argv[2], out);
        if (gi < 0) return;
        resp_add_array(out, snt.npeers);
        for (int i = 0; i < snt.npeers; i++) reply_sentinel(out, &snt.peers[i], gi, now);
    } else if (!strcasecmp(sub, "failover") && argc == 3) {
        int gi = group_arg(argv[2], out);
        const char *err;
        if (gi < 0) return;
        if (failover_manual(gi, &err) < 0) resp_add_error(out, err);
        else resp_add_ok(out);
    } else if (!strcasecmp(sub, "ckquorum") && argc == 3) {
        if (group_arg(argv[2], out) < 0) return;
        int usable = snt_reachable_sentinels(now);
        if (usable < snt.quorum)
            resp_add_errorf(out, "NOQUORUM %d usable Sentinels. Not enough available Sentinels to "
                                 "reach the specified quorum for this master", usable);
        else if (usable < snt_majority())
            resp_add_errorf(out, "NOQUORUM %d usable Sentinels. Not enough available Sentinels to "
                                 "reach the majority and authorize a failover", usable);
        else {
            char msg[128];
            snprintf(msg, sizeof msg, "OK %d usable Sentinels. Quorum and failover authorization "
                                      "can be reached", usable);
            resp_add_simple(out, msg);
        }
    } else if (!strcasecmp(sub, "myid") && argc == 2) {
        resp_add_bulk_str(out, snt.myid);
    } else if (!strcasecmp(sub, "is-master-down-by-addr") && argc == 6) {
        long long port;
        unsigned long long epoch;
        if (str2ll(argv[3], strlen(argv[3]), &port) < 0 ||
            str2ull(argv[4], strlen(argv[4]), &epoch) < 0) {
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
    } else if (!strcasecmp(sub, "strata-hello")) {
        if (peer_on_hello(argc, argv) < 0) resp_add_error(out, "ERR malformed hello");
        else resp_add_ok(out);
    } else if (!strcasecmp(sub, "reset") && argc == 3) {
        resp_add_int(out, 0);
    } else {
        resp_add_errorf(out, "ERR Unknown sentinel subcommand '%s'", sub);
    }
}

/* ---- INFO ---- */

static void cmd_info(int argc, char **argv, buf *out)
{
    const char *sec = argc > 1 ? argv[1] : "default";
    int all = !strcasecmp(sec, "default") || !strcasecmp(sec, "all") || !strcasecmp(sec, "everything");
    buf o;
    buf_init(&o);
    uint64_t now = now_ms();
    if (all || !strcasecmp(sec, "server"))
        buf_printf(&o, "# Server\r\nredis_version:7.0.0\r\nstrata_version:%s\r\nredis_mode:sentinel\r\n"
                       "process_id:%ld\r\nrun_id:%s\r\ntcp_port:%d\r\nuptime_in_seconds:%llu\r\n"
                       "config_file:%s\r\n\r\n",
                   STRATA_VERSION, (long)getpid(), snt.myid, snt.conf.port,
                   (unsigned long long)((now - snt.start_ms) / 1000),
                   snt.conf.config_path ? snt.conf.config_path : "");
    if (all || !strcasecmp(sec, "clients"))
        buf_printf(&o, "# Clients\r\nconnected_clients:%d\r\n\r\n", server_nclients());
    if (all || !strcasecmp(sec, "sentinel")) {
        buf_printf(&o, "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:0\r\n"
                       "sentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\n"
                       "sentinel_simulate_failure_flags:0\r\nsentinel_quorum:%d\r\n"
                       "sentinel_reachable:%d\r\n",
                   snt.ngroups, snt.quorum, snt_reachable_sentinels(now));
        for (int gi = 0; gi < snt.ngroups; gi++) {
            const struct sgroup *g = &snt.groups[gi];
            int mi = snt_master_index(g);
            const char *status = g->odown ? "odown" : (mi >= 0 && g->nodes[mi].sdown) ? "sdown" : "ok";
            buf_printf(&o, "master%d:name=%s,status=%s,address=%s:%d,slaves=%d,sentinels=%d,"
                           "config_epoch=%llu,failover=%s\r\n",
                       gi, g->name, status, g->master_host, g->master_port,
                       g->nnodes - (mi >= 0 ? 1 : 0), snt.nsentinels,
                       (unsigned long long)g->config_epoch, failover_state_name(gi));
        }
        buf_append_str(&o, "\r\n");
    }
    if (o.len >= 2) o.len -= 2; /* no blank line after the last section */
    resp_add_bulk(out, o.data ? o.data : "", o.len);
    buf_free(&o);
}

/* ---- dispatch ---- */

void cmd_dispatch(struct sclient *c, int need_auth, int argc, char **argv, size_t *argvlen, buf *out)
{
    const char *name = argv[0];
    if (!strcasecmp(name, "auth")) {
        const char *pw = snt.conf.topo.password;
        if (argc < 2 || argc > 3) {
            resp_add_arity_error(out, "auth");
        } else if (!pw || !*pw) {
            resp_add_error(out, "ERR AUTH <password> called without any password configured for "
                                "the default user. Are you sure your configuration is correct?");
        } else if (strcmp(argv[argc - 1], pw) != 0 || (argc == 3 && strcmp(argv[1], "default") != 0)) {
            resp_add_error(out, "WRONGPASS invalid username-password pair or user is disabled.");
        } else {
            server_client_set_authed(c);
            resp_add_ok(out);
        }
        return;
    }
    if (!strcasecmp(name, "quit")) {
        resp_add_ok(out);
        server_client_close_after_reply(c);
        return;
    }
    if (need_auth) {
        resp_add_error(out, "NOAUTH Authentication required.");
        return;
    }
    int subscribed = server_client_subscriptions(c) > 0;
    if (!strcasecmp(name, "ping")) {
        if (argc > 2) resp_add_arity_error(out, "ping");
        else if (subscribed) {
            resp_add_array(out, 2);
            resp_add_bulk_str(out, "pong");
            if (argc == 2) resp_add_bulk(out, argv[1], argvlen[1]);
            else resp_add_bulk_str(out, "");
        } else if (argc == 2) resp_add_bulk(out, argv[1], argvlen[1]);
        else resp_add_simple(out, "PONG");
        return;
    }
    int sub = !strcasecmp(name, "subscribe"), psub = !strcasecmp(name, "psubscribe");
    int unsub = !strcasecmp(name, "unsubscribe"), punsub = !strcasecmp(name, "punsubscribe");
    if ((sub || psub) && argc < 2) {
        resp_add_arity_error(out, name);
        return;
    }
    if (sub || psub) {
        server_subscribe(c, psub, argc, argv, argvlen, out);
        return;
    }
    if (unsub || punsub) {
        server_unsubscribe(c, punsub, argc, argv, argvlen, out);
        return;
    }
    if (subscribed) {
        resp_add_errorf(out, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                             "QUIT / RESET are allowed in this context", name);
        return;
    }
    if (!strcasecmp(name, "sentinel")) {
        if (argc < 2) resp_add_arity_error(out, "sentinel");
        else cmd_sentinel(c, argc, argv, argvlen, out);
    } else if (!strcasecmp(name, "info")) {
        cmd_info(argc, argv, out);
    } else if (!strcasecmp(name, "role")) {
        resp_add_array(out, 2);
        resp_add_bulk_str(out, "sentinel");
        resp_add_array(out, snt.ngroups);
        for (int gi = 0; gi < snt.ngroups; gi++) resp_add_bulk_str(out, snt.groups[gi].name);
    } else if (!strcasecmp(name, "echo") && argc == 2) {
        resp_add_bulk(out, argv[1], argvlen[1]);
    } else if (!strcasecmp(name, "hello")) {
        if (argc >= 2 && strcmp(argv[1], "2") != 0)
            resp_add_error(out, "NOPROTO unsupported protocol version");
        else {
            resp_add_array(out, 14);
            kv_str(out, "server", "redis");
            kv_str(out, "version", "7.0.0");
            kv_ll(out, "proto", 2);
            kv_ll(out, "id", 0);
            kv_str(out, "mode", "sentinel");
            kv_str(out, "role", "sentinel");
            resp_add_bulk_str(out, "modules");
            resp_add_array(out, 0);
        }
    } else if (!strcasecmp(name, "client") && argc >= 2) {
        if (!strcasecmp(argv[1], "setname") && argc == 3) resp_add_ok(out);
        else if (!strcasecmp(argv[1], "getname") && argc == 2) resp_add_null(out, RESP2);
        else if (!strcasecmp(argv[1], "id") && argc == 2) resp_add_int(out, 0);
        else resp_add_errorf(out, "ERR unknown subcommand '%s'.", argv[1]);
    } else if (!strcasecmp(name, "command")) {
        resp_add_array(out, 0);
    } else {
        resp_add_errorf(out, "ERR unknown command '%s', with args beginning with: ", name);
    }
}
