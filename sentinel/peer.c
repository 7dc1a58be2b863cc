/* peer: links to the other sentinels.  See peer.h. */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover.h"
#include "link.h"
#include "log.h"
#include "mon.h"
#include "sentinel.h"
#include "server.h"
#include "state.h"
#include "util.h"

static uint64_t next_hello_ms;

/* Replies of a peer count as recent for this long. */
static uint64_t peer_fresh_ms(void)
{
    return (uint64_t)snt.conf.s.ping_ms * 3 + 50;
}

void peer_start(void)
{
    for (int i = 0; i < snt.npeers; i++) {
        struct speer *p = &snt.peers[i];
        p->link = link_create(snt.base, "sentinel", p->host, p->port, &snt.conf.topo.sentinel_user,
                              snt.conf.s.timeout_ms);
        size_t n = snt.ngroups ? (size_t)snt.ngroups : 1;
        p->g = xcalloc(n, sizeof *p->g);
    }
    next_hello_ms = 0;
}

void peer_stop(void)
{
    for (int i = 0; i < snt.npeers; i++) {
        struct speer *p = &snt.peers[i];
        link_destroy(p->link);
        p->link = NULL;
        free(p->g);
        p->g = NULL;
    }
}

int peer_reachable(int pi, uint64_t now)
{
    const struct speer *p = &snt.peers[pi];
    return link_up(p->link) && p->last_ok_ms && now - p->last_ok_ms <= peer_fresh_ms();
}

int peer_count_down(int gi, uint64_t now)
{
    int n = 0;
    for (int i = 0; i < snt.npeers; i++) {
        const struct speer *p = &snt.peers[i];
        if (p->g && p->g[gi].down && now - p->g[gi].down_ms <= peer_fresh_ms()) n++;
    }
    return n;
}

static void peer_ping_cb(struct link *l, redisReply *r, void *privdata)
{
    struct speer *p = privdata;
    (void)l;
    p->ping_pending = 0;
    if (r && r->type != REDIS_REPLY_ERROR) p->last_ok_ms = now_ms();
}

static void peer_ok_cb(struct link *l, redisReply *r, void *privdata)
{
    struct speer *p = privdata;
    (void)l;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_warn("sentinel %s:%d refused a hello: %s", p->host, p->port, r->str);
    else if (r)
        p->last_ok_ms = now_ms();
}

static void peer_hello(struct speer *p)
{
    int argc = 5 + 4 * snt.ngroups;
    const char **argv = xcalloc((size_t)argc, sizeof *argv);
    char (*num)[32] = xcalloc((size_t)(1 + 2 * snt.ngroups), sizeof *num);
    const struct topo_node *self = &snt.conf.topo.sentinels[snt.conf.self];
    argv[0] = "SENTINEL";
    argv[1] = "STRATA-HELLO";
    argv[2] = snt.myid;
    argv[3] = self->host;
    snprintf(num[0], sizeof num[0], "%d", self->port);
    argv[4] = num[0];
    for (int gi = 0; gi < snt.ngroups; gi++) {
        const struct sgroup *g = &snt.groups[gi];
        snprintf(num[1 + 2 * gi], sizeof num[0], "%llu", (unsigned long long)g->config_epoch);
        snprintf(num[2 + 2 * gi], sizeof num[0], "%d", g->master_port);
        argv[5 + 4 * gi] = g->name;
        argv[6 + 4 * gi] = num[1 + 2 * gi];
        argv[7 + 4 * gi] = g->master_host;
        argv[8 + 4 * gi] = num[2 + 2 * gi];
    }
    link_command_argv(p->link, peer_ok_cb, p, argc, argv, NULL);
    free(argv);
    free(num);
}

void peer_hello_all(void)
{
    for (int i = 0; i < snt.npeers; i++)
        if (link_up(snt.peers[i].link)) peer_hello(&snt.peers[i]);
}

/* ---- is-master-down-by-addr ---- */

struct peer_ask {
    int pi, gi;
    uint64_t epoch;     /* 0: a down question only */
};

/* Parse [down, leader, epoch] or [down, leader, epoch, lease age ms];
 * *lease_age is -1 when absent or unknown. */
static int peer_parse_down(const redisReply *r, int *down, const char **leader, uint64_t *epoch,
                           long long *lease_age)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || (r->elements != 3 && r->elements != 4) ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_INTEGER ||
        (r->elements == 4 && r->element[3]->type != REDIS_REPLY_INTEGER))
        return -1;
    *down = r->element[0]->integer == 1;
    *leader = r->element[1]->str;
    *epoch = r->element[2]->integer > 0 ? (uint64_t)r->element[2]->integer : 0;
    *lease_age = r->elements == 4 ? r->element[3]->integer : -1;
    return 0;
}

static void peer_down_cb(struct link *l, redisReply *r, void *privdata)
{
    struct peer_ask *a = privdata;
    struct speer *p = &snt.peers[a->pi];
    (void)l;
    int down;
    const char *leader;
    uint64_t epoch;
    long long lease_age;
    if (a->epoch == 0 && p->g) p->g[a->gi].down_pending = 0;
    if (peer_parse_down(r, &down, &leader, &epoch, &lease_age) == 0) {
        uint64_t now = now_ms();
        p->last_ok_ms = now;
        p->g[a->gi].down = (uint8_t)down;
        p->g[a->gi].down_ms = now;
        struct sgroup *g = &snt.groups[a->gi];
        if (epoch > g->max_epoch_seen) g->max_epoch_seen = epoch;
        if (a->epoch && strcmp(leader, "*") != 0) {
            snprintf(p->g[a->gi].voted, sizeof p->g[a->gi].voted, "%s", leader);
            p->g[a->gi].voted_epoch = epoch;
        }
        if (a->epoch) failover_vote_reply(a->gi, a->pi, a->epoch, leader, epoch, lease_age);
        else if (down) failover_check(a->gi, now);
    }
    free(a);
}

static void peer_ask(int pi, int gi, uint64_t epoch)
{
    struct speer *p = &snt.peers[pi];
    struct sgroup *g = &snt.groups[gi];
    struct peer_ask *a = xmalloc(sizeof *a);
    a->pi = pi;
    a->gi = gi;
    a->epoch = epoch;
    if (link_command(p->link, peer_down_cb, a, "SENTINEL IS-MASTER-DOWN-BY-ADDR %s %d %llu %s",
                     g->master_host, g->master_port, (unsigned long long)epoch,
                     epoch ? snt.myid : "*") < 0) {
        free(a);
        return;
    }
    if (!epoch) p->g[gi].down_pending = 1;
}

void peer_request_votes(int gi)
{
    for (int i = 0; i < snt.npeers; i++)
        if (link_up(snt.peers[i].link)) peer_ask(i, gi, snt.groups[gi].fo.epoch);
}

void peer_tick(uint64_t now)
{
    int hello = now >= next_hello_ms;
    if (hello) next_hello_ms = now + PEER_HELLO_MS;
    for (int i = 0; i < snt.npeers; i++) {
        struct speer *p = &snt.peers[i];
        int was_up = link_up(p->link);
        link_tick(p->link, now);
        if (!link_up(p->link)) {
            p->ping_pending = 0;
            continue;
        }
        if (!p->ping_pending && now - p->last_ping_sent_ms >= (uint64_t)snt.conf.s.ping_ms &&
            link_command(p->link, peer_ping_cb, p, "PING") == 0) {
            p->ping_pending = 1;
            p->last_ping_sent_ms = now;
        }
        /* A peer that just came back gets our configs at once. */
        if (hello || !was_up) peer_hello(p);
        /* While this sentinel sees a master down, ask the others. */
        for (int gi = 0; gi < snt.ngroups; gi++) {
            int mi = snt_master_index(&snt.groups[gi]);
            if (mi >= 0 && snt.groups[gi].nodes[mi].sdown && !p->g[gi].down_pending) peer_ask(i, gi, 0);
        }
    }
}

/* ---- incoming ---- */

int peer_on_hello(int argc, char **argv)
{
    /* argv: SENTINEL STRATA-HELLO id host port [group epoch host port]... */
    if (argc < 5 || (argc - 5) % 4 != 0 || strlen(argv[2]) != SNT_ID_LEN) return -1;
    long long port;
    if (str2ll(argv[4], strlen(argv[4]), &port) < 0) return -1;
    uint64_t now = now_ms();
    for (int i = 0; i < snt.npeers; i++) {
        struct speer *p = &snt.peers[i];
        if (p->port == port && !strcmp(p->host, argv[3])) {
            if (strcmp(p->runid, argv[2]) != 0) {
                if (p->runid[0])
                    log_info("sentinel %s:%d has a new id %s", p->host, p->port, argv[2]);
                snprintf(p->runid, sizeof p->runid, "%s", argv[2]);
            }
            p->last_hello_ms = now;
        }
    }
    for (int k = 5; k + 3 < argc; k += 4) {
        int gi = snt_group_find(argv[k]);
        unsigned long long epoch;
        long long mport;
        if (gi < 0) continue;
        if (str2ull(argv[k + 1], strlen(argv[k + 1]), &epoch) < 0 ||
            str2ll(argv[k + 3], strlen(argv[k + 3]), &mport) < 0)
            return -1;
        struct sgroup *g = &snt.groups[gi];
        if (epoch > g->max_epoch_seen) g->max_epoch_seen = epoch;
        if (epoch > g->config_epoch) failover_adopt(gi, epoch, argv[k + 2], (int)mport, "hello");
    }
    return 0;
}

void peer_vote(int gi, uint64_t epoch, const char *runid, const char **leader, uint64_t *leader_epoch)
{
    struct sgroup *g = &snt.groups[gi];
    if (epoch > g->max_epoch_seen) g->max_epoch_seen = epoch;
    if (epoch > g->vote_epoch && epoch > g->config_epoch) {
        char old_leader[SNT_ID_LEN + 1];
        uint64_t old_epoch = g->vote_epoch;
        uint64_t old_ms = g->vote_ms;
        memcpy(old_leader, g->vote_leader, sizeof old_leader);
        g->vote_epoch = epoch;
        snprintf(g->vote_leader, sizeof g->vote_leader, "%s", runid);
        if (state_save() < 0) {
            /* Not durable: the vote must not be given. */
            g->vote_epoch = old_epoch;
            g->vote_ms = old_ms;
            memcpy(g->vote_leader, old_leader, sizeof old_leader);
        } else {
            g->vote_ms = now_ms();
            if (strcmp(runid, snt.myid) != 0) {
                server_publish("+vote-for-leader", "%s %llu", runid, (unsigned long long)epoch);
                failover_voted_other(gi, epoch);
            }
        }
    }
    *leader = g->vote_leader[0] ? g->vote_leader : "*";
    *leader_epoch = g->vote_epoch;
}
