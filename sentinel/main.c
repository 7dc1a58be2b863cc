/* strata-sentinel: watches every master-replica group of topology.yaml,
 * agrees with its peers that a master is down, elects a leader, promotes
 * the best replica and tells clients (pub/sub, SENTINEL commands).
 *
 *   strata-sentinel --config topology.yaml --port N --dir STATE_DIR
 *                   [--bind ADDR] [--log FILE] [-t] [--help] [--version]
 *
 * One thread, one libevent loop: the listener (server.c), every link to
 * nodes and peers (link.c), and a timer every ping_ms that runs the
 * monitor, the peer exchange and the failover state machines, in that
 * order.  SIGHUP re-reads the topology (the persisted state is kept by
 * group name); SIGTERM/SIGINT stop cleanly. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "failover.h"
#include "log.h"
#include "mon.h"
#include "peer.h"
#include "protmode.h"
#include "sentinel.h"
#include "slotagg.h"
#include "server.h"
#include "state.h"
#include "util.h"

/* Fill snt.groups and snt.peers from snt.conf; runtime state of groups,
 * nodes and peers that keep their name / address is taken from the old
 * arrays (whose links are already closed). */
static void build(struct sgroup *old, int nold, const struct speer *oldp, int noldp)
{
    const struct topology *t = &snt.conf.topo;
    snt.ngroups = t->ngroups;
    snt.groups = xcalloc((size_t)(t->ngroups ? t->ngroups : 1), sizeof *snt.groups);
    for (int gi = 0; gi < t->ngroups; gi++) {
        const struct topo_group *tg = &t->groups[gi];
        struct sgroup *g = &snt.groups[gi];
        const struct sgroup *og = NULL;
        for (int k = 0; k < nold && !og; k++)
            if (!strcmp(old[k].name, tg->name)) og = &old[k];
        if (og) *g = *og;
        snprintf(g->name, sizeof g->name, "%s", tg->name);
        g->nnodes = tg->nnodes;
        g->promotion_available = tg->promotion_available;
        for (int i = 0; i < tg->nnodes; i++) {
            struct snode *n = &g->nodes[i];
            int oi = og ? snt_node_find(og, tg->nodes[i].host, tg->nodes[i].port) : -1;
            if (oi >= 0) *n = og->nodes[oi];
            else memset(n, 0, sizeof *n);
            n->link = NULL;
            snprintf(n->host, sizeof n->host, "%s", tg->nodes[i].host);
            n->port = tg->nodes[i].port;
            n->priority = tg->nodes[i].priority;
        }
        if (!og || snt_master_index(g) < 0) {
            if (og)
                log_warn("group %s: master %s:%d is no longer listed; using the first node %s:%d",
                         g->name, g->master_host, g->master_port, tg->nodes[0].host, tg->nodes[0].port);
            snprintf(g->master_host, sizeof g->master_host, "%s", tg->nodes[0].host);
            g->master_port = tg->nodes[0].port;
        }
        /* An attempt in progress does not survive a reload: its links are gone. */
        memset(&g->fo, 0, sizeof g->fo);
        g->fo.chosen = g->fo.old_master = -1;
        g->odown = 0;
    }
    snt.npeers = 0;
    for (int i = 0; i < t->nsentinels && snt.npeers < SNT_MAX_PEERS; i++) {
        if (i == snt.conf.self) continue;
        struct speer *p = &snt.peers[snt.npeers++];
        memset(p, 0, sizeof *p);
        snprintf(p->host, sizeof p->host, "%s", t->sentinels[i].host);
        p->port = t->sentinels[i].port;
        for (int k = 0; k < noldp; k++)
            if (oldp[k].port == p->port && !strcmp(oldp[k].host, p->host))
                memcpy(p->runid, oldp[k].runid, sizeof p->runid);
    }
    snt.nsentinels = snt.npeers + 1;
    snt.quorum = snt.conf.s.quorum > 0 ? (int)snt.conf.s.quorum : snt_majority();
}

static void reload(void)
{
    struct sconf nc;
    buf errs;
    buf_init(&errs);
    if (sconf_reload(&snt.conf, &nc, &errs) < 0) {
        log_error("SIGHUP: the topology has errors; keeping the old one:\n%.*s", (int)errs.len,
                  errs.data ? errs.data : "");
        buf_free(&errs);
        return;
    }
    buf_free(&errs);
    mon_stop();
    peer_stop();
    failover_stop();
    struct sgroup *old = snt.groups;
    int nold = snt.ngroups;
    struct speer oldp[SNT_MAX_PEERS];
    int noldp = snt.npeers;
    memcpy(oldp, snt.peers, sizeof oldp);
    /* Listening address and state directory stay those of the start. */
    free(nc.dir);
    nc.dir = xstrdup(snt.conf.dir);
    nc.port = snt.conf.port;
    sconf_free(&snt.conf);
    snt.conf = nc;
    build(old, nold, oldp, noldp);
    free(old);
    state_save();
    mon_start();
    peer_start();
    failover_start();
    log_info("SIGHUP: topology re-read: %d group(s), %d sentinel(s), quorum %d", snt.ngroups,
             snt.nsentinels, snt.quorum);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    uint64_t now = now_ms();
    mon_tick(now);
    peer_tick(now);
    failover_tick(now);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        log_reopen();
        reload();
        return;
    }
    log_info("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopexit(snt.base, NULL);
}

int main(int argc, char **argv)
{
    buf errs;
    buf_init(&errs);
    int test_only = 0;
    signal(SIGPIPE, SIG_IGN);

    int rc = sconf_load(&snt.conf, argc, argv, &test_only, &errs);
    if (rc == 1) {
        sconf_free(&snt.conf);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "%.*s", (int)errs.len, errs.data ? errs.data : "");
        if (errs.len && errs.data[errs.len - 1] != '\n') fputc('\n', stderr);
        buf_free(&errs);
        sconf_free(&snt.conf);
        return 1;
    }
    if (test_only) {
        printf("%s: configuration OK: %d groups, %d sentinels, this one is %s:%d\n",
               snt.conf.config_path ? snt.conf.config_path : "(defaults)", snt.conf.topo.ngroups,
               snt.conf.topo.nsentinels, snt.conf.topo.sentinels[snt.conf.self].host,
               snt.conf.topo.sentinels[snt.conf.self].port);
        sconf_free(&snt.conf);
        buf_free(&errs);
        return 0;
    }
    if (log_init("sentinel", snt.conf.log_path, snt.conf.s.log_level) < 0) {
        fprintf(stderr, "cannot open log file %s\n", snt.conf.log_path);
        sconf_free(&snt.conf);
        return 1;
    }
    {
        /* protected mode (protmode.h): clients of a sentinel AUTH with
         * the topology's password */
        const char *pw = snt.conf.topo.password;
        if (protmode_check("strata-sentinel", "--bind", snt.conf.bind, !pw || !*pw, snt.conf.s.protected_mode,
                           "password: in the topology", &errs) < 0) {
            log_error("%.*s", (int)errs.len - 1, errs.data);
            if (snt.conf.log_path) fprintf(stderr, "%.*s", (int)errs.len, errs.data);
            sconf_free(&snt.conf);
            buf_free(&errs);
            return 1;
        }
    }
    srandom((unsigned)(now_us() ^ ((uint64_t)getpid() << 16)));
    snt.start_ms = now_ms();
    snt.base = event_base_new();
    build(NULL, 0, NULL, 0);

    int ok = state_load() == 0 && slotagg_load() == 0 && server_start(snt.conf.bind, snt.conf.port, &errs) == 0;
    struct event *sigs[3] = { NULL, NULL, NULL };
    struct event *tick = NULL;
    if (ok) {
        mon_start();
        peer_start();
        failover_start();
        int signums[3] = { SIGINT, SIGTERM, SIGHUP };
        for (int i = 0; i < 3; i++) {
            sigs[i] = evsignal_new(snt.base, signums[i], on_signal, NULL);
            event_add(sigs[i], NULL);
        }
        tick = event_new(snt.base, -1, EV_PERSIST, on_tick, NULL);
        /* The timer runs four times per ping period, so decisions (sdown,
         * deadlines) lag their cause by a quarter period at most; the
         * pings themselves still go once per period. */
        long long tick_us = snt.conf.s.ping_ms * 1000 / 4;
        if (tick_us < 5000) tick_us = 5000;
        struct timeval tv = { tick_us / 1000000, tick_us % 1000000 };
        event_add(tick, &tv);
        log_info("strata-sentinel %s listening on %s:%d: %d group(s), %d sentinel(s), quorum %d, "
                 "down after %lld ms", STRATA_VERSION, snt.conf.bind, snt.conf.port, snt.ngroups,
                 snt.nsentinels, snt.quorum, snt.conf.s.down_after_ms);
        for (int gi = 0; gi < snt.ngroups; gi++)
            log_info("group %s: master %s:%d, config epoch %llu", snt.groups[gi].name,
                     snt.groups[gi].master_host, snt.groups[gi].master_port,
                     (unsigned long long)snt.groups[gi].config_epoch);
        event_base_dispatch(snt.base);
    } else if (errs.len) {
        log_error("%.*s", (int)(errs.data[errs.len - 1] == '\n' ? errs.len - 1 : errs.len), errs.data);
    }

    if (tick) event_free(tick);
    for (int i = 0; i < 3; i++)
        if (sigs[i]) event_free(sigs[i]);
    mon_stop();
    peer_stop();
    failover_stop();
    server_stop();
    free(snt.groups);
    event_base_free(snt.base);
    sconf_free(&snt.conf);
    buf_free(&errs);
    libevent_global_shutdown();
    if (ok) log_info("bye");
    return ok ? 0 : 1;
}
