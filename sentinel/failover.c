/* failover: odown, election and promotion.  See failover.h. */
#include "failover.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "link.h"
#include "log.h"
#include "mon.h"
#include "peer.h"
#include "sentinel.h"
#include "server.h"
#include "state.h"
#include "util.h"

/* A callback's view of the attempt it belongs to: replies that arrive
 * after the attempt ended (or after another one began) are ignored. */
struct fo_ctx {
    int gi;
    uint64_t epoch;
};

static struct fo_ctx *fo_ctx_new(int gi)
{
    struct fo_ctx *c = xmalloc(sizeof *c);
    c->gi = gi;
    c->epoch = snt.groups[gi].fo.epoch;
    return c;
}

static struct sgroup *fo_ctx_group(const struct fo_ctx *c, enum fo_state want)
{
    if (c->gi >= snt.ngroups) return NULL;
    struct sgroup *g = &snt.groups[c->gi];
    return g->fo.state == want && g->fo.epoch == c->epoch ? g : NULL;
}

static uint64_t fo_jitter(uint64_t max)
{
    return max ? (uint64_t)random() % (max + 1) : 0;
}

int failover_needed_votes(int nsentinels, int quorum)
{
    int m = snt_majority_of(nsentinels);
    return quorum > m ? quorum : m;
}

static int fo_needed_votes(void)
{
    return failover_needed_votes(snt.nsentinels, snt.quorum);
}

static void fo_ignore_cb(struct link *l, redisReply *r, void *privdata)
{
    (void)l;
    (void)privdata;
    if (r && r->type == REDIS_REPLY_ERROR) log_debug("failover: node replied %s", r->str);
}

/* Lift the write pause of a manual failover (the pause also expires). */
static void fo_resume_writes(struct snode *n)
{
    if (n->is_strata) link_command(n->link, fo_ignore_cb, NULL, "REPLCONF pause-writes 0");
    else link_command(n->link, fo_ignore_cb, NULL, "CLIENT UNPAUSE");
}

static void fo_abort(int gi, const char *why, uint64_t backoff_ms)
{
    struct sgroup *g = &snt.groups[gi];
    if (g->fo.state == FO_NONE) return;
    log_warn("group %s: failover attempt of epoch %llu abandoned: %s", g->name,
             (unsigned long long)g->fo.epoch, why);
    if (g->fo.state == FO_PAUSING && g->fo.old_master >= 0)
        fo_resume_writes(&g->nodes[g->fo.old_master]);
    server_publish("-failover-abort", "master %s %s %d %s", g->name, g->master_host, g->master_port, why);
    memset(&g->fo, 0, sizeof g->fo);
    g->fo.chosen = g->fo.old_master = -1;
    g->next_try_ms = now_ms() + backoff_ms;
}

/* ---- test hook ----
 * With STRATA_TEST_HOOKS=1 and STRATA_SENTINEL_STALL=after-elect|after-promote
 * plus STRATA_SENTINEL_STALL_FILE=path, the leader that manages to remove
 * that file stops its failover at that point (as if it hung), so tests can
 * kill it there.  Exactly one leader of the whole cluster stalls. */
static int fo_stall_here(const char *point)
{
    const char *hooks = getenv("STRATA_TEST_HOOKS");
    const char *where = getenv("STRATA_SENTINEL_STALL");
    const char *file = getenv("STRATA_SENTINEL_STALL_FILE");
    if (!hooks || strcmp(hooks, "1") != 0 || !where || strcmp(where, point) != 0 || !file) return 0;
    if (unlink(file) != 0) return 0;
    log_warn("test hook: failover stalled %s", point);
    return 1;
}

static void fo_stall(struct sgroup *g)
{
    g->fo.deadline_ms = UINT64_MAX;
}

/* ---- choosing the replica ---- */

int failover_better(const struct snode *x, const struct snode *y)
{
    if (x->last_epoch != y->last_epoch) return x->last_epoch > y->last_epoch;
    if (x->lsn != y->lsn) return x->lsn > y->lsn;
    if ((x->role == SNODE_MASTER) != (y->role == SNODE_MASTER)) return x->role == SNODE_MASTER;
    if (x->priority != y->priority) return x->priority < y->priority;
    int c = strcmp(x->host, y->host);
    if (c) return c < 0;
    return x->port < y->port;
}

int failover_choose(const struct snode *nodes, int n, int exclude, const int *usable)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (i == exclude || !usable[i] || nodes[i].priority <= 0 || nodes[i].role == SNODE_UNKNOWN)
            continue;
        if (best < 0 || failover_better(&nodes[i], &nodes[best])) best = i;
    }
    return best;
}

int failover_pick(int gi, int exclude, uint64_t now)
{
    const struct sgroup *g = &snt.groups[gi];
    int usable[TOPO_MAX_NODES];
    for (int i = 0; i < g->nnodes; i++) usable[i] = mon_node_fresh(&g->nodes[i], now);
    return failover_choose(g->nodes, g->nnodes, exclude, usable);
}

int failover_positions_needed(int nreplicas, int acks_known, long long min_acks, int degraded)
{
    if (nreplicas <= 0) return 0;
    long long k = acks_known && !degraded ? min_acks : 0;
    if (k < 1) k = 1; /* K = 0 or unknown: every replica (failover.h) */
    if (k > nreplicas) k = nreplicas;
    return nreplicas - (int)k + 1;
}

int failover_choose_safe(const struct snode *nodes, int n, int exclude, const int *heard, int needed,
                         int *nheard, const char **code)
{
    int count = 0, newest = -1;
    for (int i = 0; i < n; i++) {
        if (i == exclude || !heard[i]) continue;
        count++;
        if (newest < 0 || nodes[i].last_epoch > nodes[newest].last_epoch ||
            (nodes[i].last_epoch == nodes[newest].last_epoch && nodes[i].lsn > nodes[newest].lsn))
            newest = i;
    }
    *nheard = count;
    if (count < needed || newest < 0) {
        *code = "not-enough-replicas";
        return -1;
    }
    int best = failover_choose(nodes, n, exclude, heard);
    if (best < 0 || nodes[best].last_epoch != nodes[newest].last_epoch ||
        nodes[best].lsn != nodes[newest].lsn) {
        *code = "newest-replica-not-promotable";
        return -1;
    }
    return best;
}

int failover_role_is_master(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
           r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "master");
}

uint64_t failover_fence_wait_ms(uint64_t lease_ms, uint64_t ping_ms)
{
    if (!lease_ms) return 0;
    return lease_ms + (ping_ms > FO_FENCE_MARGIN_MS ? ping_ms : FO_FENCE_MARGIN_MS);
}

/* ---- config ---- */

int failover_adopt(int gi, uint64_t epoch, const char *host, int port, const char *why)
{
    struct sgroup *g = &snt.groups[gi];
    if (epoch <= g->config_epoch) return 0;
    if (snt_node_find(g, host, port) < 0) {
        log_warn("group %s: ignoring config epoch %llu from %s: %s:%d is not a node of the group "
                 "in this topology", g->name, (unsigned long long)epoch, why, host, port);
        return -1;
    }
    char old_host[SNT_HOST_MAX];
    int old_port = g->master_port;
    uint64_t old_epoch = g->config_epoch;
    snprintf(old_host, sizeof old_host, "%s", g->master_host);
    snprintf(g->master_host, sizeof g->master_host, "%s", host);
    g->master_port = port;
    g->config_epoch = epoch;
    if (state_save() < 0) {
        snprintf(g->master_host, sizeof g->master_host, "%s", old_host);
        g->master_port = old_port;
        g->config_epoch = old_epoch;
        return -1;
    }
    if (epoch > g->max_epoch_seen) g->max_epoch_seen = epoch;
    g->acked_floor = 0;
    g->blocked[0] = g->blocked_why[0] = '\0';
    /* Whatever epoch our own attempt has, the master it replaces is gone
     * from this config: finishing it would fail over the new master. */
    if (g->fo.state != FO_NONE && strcmp(why, "failover") != 0)
        fo_abort(gi, "a peer finished a failover", 0);
    if (g->odown) {
        server_publish("-odown", "master %s %s %d", g->name, old_host, old_port);
        g->odown = 0;
    }
    log_info("group %s: config epoch %llu, master %s:%d (from %s)", g->name,
             (unsigned long long)epoch, host, port, why);
    if (strcmp(old_host, host) != 0 || old_port != port)
        server_publish("+switch-master", "%s %s %d %s %d", g->name, old_host, old_port, host, port);
    return 0;
}

/* ---- promotion ---- */

static void fo_done(int gi)
{
    struct sgroup *g = &snt.groups[gi];
    struct snode *nm = &g->nodes[g->fo.chosen];
    int old = g->fo.old_master;
    uint64_t took = now_ms() - g->fo.started_ms;
    if (failover_adopt(gi, g->fo.epoch, nm->host, nm->port, "failover") < 0 ||
        g->config_epoch != g->fo.epoch) {
        fo_abort(gi, "cannot take the new config (not persisted, or a newer one exists)",
                 snt.conf.s.ping_ms);
        return;
    }
    server_publish("+promoted-slave", "slave %s:%d %s %d @ %s %s %d", nm->host, nm->port, nm->host,
                   nm->port, g->name, nm->host, nm->port);
    peer_hello_all();
    for (int i = 0; i < g->nnodes; i++) {
        struct snode *n = &g->nodes[i];
        if (i == g->fo.chosen) continue;
        if (link_command(n->link, fo_ignore_cb, NULL, "REPLICAOF %s %d", nm->host, nm->port) == 0) {
            n->reconf_sent_ms = now_ms();
            server_publish("+slave-reconf-sent", "slave %s:%d %s %d @ %s %s %d", n->host, n->port,
                           n->host, n->port, g->name, nm->host, nm->port);
            if (i == old && g->fo.manual) fo_resume_writes(n);
        }
    }
    server_publish("+failover-end", "master %s %s %d", g->name, nm->host, nm->port);
    log_info("group %s: failover of epoch %llu done in %llu ms", g->name,
             (unsigned long long)g->fo.epoch, (unsigned long long)took);
    memset(&g->fo, 0, sizeof g->fo);
    g->fo.chosen = g->fo.old_master = -1;
    g->next_try_ms = 0;
}

static void fo_role_cb(struct link *l, redisReply *r, void *privdata);

static void fo_ask_role(int gi)
{
    struct sgroup *g = &snt.groups[gi];
    struct fo_ctx *c = fo_ctx_new(gi);
    if (link_command(g->nodes[g->fo.chosen].link, fo_role_cb, c, "ROLE") < 0) free(c);
}

static void fo_role_cb(struct link *l, redisReply *r, void *privdata)
{
    struct fo_ctx *c = privdata;
    struct sgroup *g = fo_ctx_group(c, FO_PROMOTING);
    (void)l;
    if (g && failover_role_is_master(r)) {
        g->nodes[g->fo.chosen].role = SNODE_MASTER;
        fo_done(c->gi);
    } else if (g && now_ms() < g->fo.deadline_ms) {
        fo_ask_role(c->gi);
    }
    free(c);
}

static void fo_promote_cb(struct link *l, redisReply *r, void *privdata)
{
    struct fo_ctx *c = privdata;
    struct sgroup *g = fo_ctx_group(c, FO_PROMOTING);
    (void)l;
    if (g) {
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fo_abort(c->gi, r ? r->str : "link to the replica closed", snt.conf.s.ping_ms);
        } else if (fo_stall_here("after-promote")) {
            fo_stall(g);
        } else {
            fo_ask_role(c->gi);
        }
    }
    free(c);
}

static void fo_promote(int gi)
{
    struct sgroup *g = &snt.groups[gi];
    struct snode *n = &g->nodes[g->fo.chosen];
    g->fo.state = FO_PROMOTING;
    g->fo.deadline_ms = now_ms() + (uint64_t)snt.conf.s.failover_timeout_ms;
    server_publish("+failover-state-send-slaveof-noone", "slave %s:%d %s %d @ %s %s %d", n->host,
                   n->port, n->host, n->port, g->name, g->master_host, g->master_port);
    struct fo_ctx *c = fo_ctx_new(gi);
    if (link_command(n->link, fo_promote_cb, c, "REPLICAOF NO ONE") < 0) {
        free(c);
        fo_abort(gi, "link to the replica is down", snt.conf.s.ping_ms);
    }
}

/* ---- manual failover: pause, catch up ---- */

static void fo_replica_lsn_cb(struct link *l, redisReply *r, void *privdata);

static void fo_poll_replica(int gi)
{
    struct sgroup *g = &snt.groups[gi];
    struct fo_ctx *c = fo_ctx_new(gi);
    if (link_command(g->nodes[g->fo.chosen].link, fo_replica_lsn_cb, c, "INFO replication") < 0) {
        free(c);
        fo_abort(gi, "link to the replica is down", snt.conf.s.ping_ms);
    }
}

static void fo_replica_lsn_cb(struct link *l, redisReply *r, void *privdata)
{
    struct fo_ctx *c = privdata;
    struct sgroup *g = fo_ctx_group(c, FO_PAUSING);
    (void)l;
    if (g) {
        struct snode *n = &g->nodes[g->fo.chosen];
        if (r && r->type == REDIS_REPLY_STRING) mon_parse_info(NULL, n, r->str, now_ms());
        if (n->lsn >= g->fo.target_lsn) {
            log_info("group %s: %s:%d caught up with the paused master at %llu", g->name, n->host,
                     n->port, (unsigned long long)n->lsn);
            fo_promote(c->gi);
        } else if (now_ms() < g->fo.deadline_ms) {
            fo_poll_replica(c->gi);
        }
    }
    free(c);
}

static void fo_master_lsn_cb(struct link *l, redisReply *r, void *privdata)
{
    struct fo_ctx *c = privdata;
    struct sgroup *g = fo_ctx_group(c, FO_PAUSING);
    (void)l;
    if (g) {
        struct snode *m = &g->nodes[g->fo.old_master];
        if (!r || r->type != REDIS_REPLY_STRING) {
            fo_abort(c->gi, "no INFO from the paused master", snt.conf.s.ping_ms);
        } else {
            mon_parse_info(g, m, r->str, now_ms());
            g->fo.target_lsn = m->lsn;
            fo_poll_replica(c->gi);
        }
    }
    free(c);
}

static void fo_pause_cb(struct link *l, redisReply *r, void *privdata)
{
    struct fo_ctx *c = privdata;
    struct sgroup *g = fo_ctx_group(c, FO_PAUSING);
    if (g) {
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fo_abort(c->gi, r ? r->str : "link to the master closed", snt.conf.s.ping_ms);
        } else {
            /* The INFO is sent after the pause took effect, so every write
             * the master accepted is committed by the time it answers. */
            struct fo_ctx *c2 = fo_ctx_new(c->gi);
            if (link_command(l, fo_master_lsn_cb, c2, "INFO replication") < 0) free(c2);
        }
    }
    free(c);
}

static void fo_pause(int gi)
{
    struct sgroup *g = &snt.groups[gi];
    struct snode *m = &g->nodes[g->fo.old_master];
    g->fo.state = FO_PAUSING;
    g->fo.deadline_ms = now_ms() + (uint64_t)snt.conf.s.failover_timeout_ms;
    long long ms = snt.conf.s.failover_timeout_ms;
    struct fo_ctx *c = fo_ctx_new(gi);
    int rc = m->is_strata ? link_command(m->link, fo_pause_cb, c, "REPLCONF pause-writes %lld", ms)
                          : link_command(m->link, fo_pause_cb, c, "CLIENT PAUSE %lld WRITE", ms);
    if (rc < 0) {
        free(c);
        fo_abort(gi, "link to the master is down", snt.conf.s.ping_ms);
        return;
    }
    server_publish("+failover-state-pause-writes", "master %s %s %d", g->name, m->host, m->port);
}

/* ---- automatic promotion: which replica, and whether one may be ---- */

static void fo_selected(int gi)
{
    struct sgroup *g = &snt.groups[gi];
    struct snode *n = &g->nodes[g->fo.chosen];
    server_publish("+selected-slave", "slave %s:%d %s %d @ %s %s %d", n->host, n->port, n->host,
                   n->port, g->name, g->master_host, g->master_port);
}

/* Refuse this automatic failover for safety: said in the log, in an event
 * (-failover-abort-<code>), in INFO and SENTINEL MASTER until the group
 * has a master again. */
static void fo_block(int gi, const char *code, const char *why)
{
    struct sgroup *g = &snt.groups[gi];
    snprintf(g->blocked, sizeof g->blocked, "%s", code);
    snprintf(g->blocked_why, sizeof g->blocked_why, "%s", why);
    g->blocked_ms = now_ms();
    char ev[80];
    snprintf(ev, sizeof ev, "-failover-abort-%s", code);
    server_publish(ev, "master %s %s %d %s", g->name, g->master_host, g->master_port, why);
    fo_abort(gi, why, (uint64_t)snt.conf.s.failover_timeout_ms / 2);
}

/* failover_pick's choice, or -1 after aborting the failover for want of a
 * replica to promote. */
static int pick_or_abort(int gi, int old, uint64_t now)
{
    struct sgroup *g = &snt.groups[gi];
    int chosen = failover_pick(gi, old, now);
    if (chosen < 0) {
        server_publish("-failover-abort-no-good-slave", "master %s %s %d", g->name,
                       g->master_host, g->master_port);
        fo_abort(gi, "no replica can be promoted", (uint64_t)snt.conf.s.failover_timeout_ms / 2);
    }
    return chosen;
}

/* FENCING is over (the old master acknowledges nothing any more): promote
 * the replica holding every acknowledged write, or wait for the positions
 * that prove one does, or give up (failover.h, safe promotion). */
static void fo_auto_promote(int gi, uint64_t now)
{
    struct sgroup *g = &snt.groups[gi];
    int old = g->fo.old_master;
    if (g->promotion_available || g->fo.manual) {
        int chosen = pick_or_abort(gi, old, now);
        if (chosen < 0) return;
        g->fo.chosen = chosen;
        fo_selected(gi);
        fo_promote(gi);
        return;
    }
    int heard[TOPO_MAX_NODES], nrep = 0, nheard = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const struct snode *n = &g->nodes[i];
        nrep += i != old;
        heard[i] = i != old && mon_node_fresh(n, now) && n->info_asked_ms >= g->fo.fence_end_ms;
    }
    const struct snode *om = old >= 0 ? &g->nodes[old] : NULL;
    int needed = failover_positions_needed(nrep, om && om->acks_known, om ? om->min_acks : 0,
                                           om && om->semi_degraded);
    const char *code = NULL;
    int chosen = failover_choose_safe(g->nodes, g->nnodes, old, heard, needed, &nheard, &code);
    uint64_t best_lsn = chosen >= 0 ? g->nodes[chosen].lsn : 0;
    if (chosen >= 0 && best_lsn < g->acked_floor) {
        chosen = -1;
        code = "acked-writes-unreachable";
    }
    if (chosen >= 0) {
        g->fo.chosen = chosen;
        g->blocked[0] = g->blocked_why[0] = '\0';
        log_info("group %s: positions of %d of %d replicas heard after the fence (%d needed for "
                 "min_replica_acks %lld%s): promoting %s:%d at epoch %llu lsn %llu", g->name, nheard,
                 nrep, needed, om && om->acks_known ? om->min_acks : -1LL,
                 om && om->semi_degraded ? ", degraded" : "", g->nodes[chosen].host,
                 g->nodes[chosen].port, (unsigned long long)g->nodes[chosen].last_epoch,
                 (unsigned long long)g->nodes[chosen].lsn);
        fo_selected(gi);
        fo_promote(gi);
        return;
    }
    /* Positions come with INFO every ping_ms: wait for them while the
     * voters' silence lasts (their renewals resume failover_timeout_ms
     * after the vote; the promotion must come before). */
    uint64_t margin = 2 * (uint64_t)snt.conf.s.ping_ms;
    uint64_t until = g->fo.started_ms + (uint64_t)snt.conf.s.failover_timeout_ms;
    until = until > margin ? until - margin : 0;
    if (now < until && strcmp(code, "not-enough-replicas") == 0) return; /* next tick */
    char why[200];
    if (!strcmp(code, "not-enough-replicas"))
        snprintf(why, sizeof why, "heard the position of %d of %d replicas, %d needed (min_replica_acks "
                 "%lld%s): acknowledged writes may be only on the others", nheard, nrep, needed,
                 om && om->acks_known ? om->min_acks : -1LL,
                 om && om->semi_degraded ? ", degraded" : "");
    else if (!strcmp(code, "newest-replica-not-promotable"))
        snprintf(why, sizeof why, "the replica with the newest writes cannot be promoted "
                 "(priority 0 or unknown role)");
    else
        snprintf(why, sizeof why, "the best replica is at lsn %llu but lsn %llu was acknowledged",
                 (unsigned long long)best_lsn, (unsigned long long)g->acked_floor);
    fo_block(gi, code, why);
}

/* ---- election ---- */

static void fo_elected(int gi)
{
    struct sgroup *g = &snt.groups[gi];
    uint64_t now = now_ms();
    server_publish("+elected-leader", "master %s %s %d", g->name, g->master_host, g->master_port);
    if (fo_stall_here("after-elect")) {
        g->fo.state = FO_PROMOTING;
        fo_stall(g);
        return;
    }
    int old = g->fo.old_master;
    if (g->fo.manual) {
        int chosen = pick_or_abort(gi, old, now);
        if (chosen < 0) return;
        if (old >= 0 && mon_node_fresh(&g->nodes[old], now) && g->nodes[old].role == SNODE_MASTER) {
            g->fo.chosen = chosen;
            fo_selected(gi);
            fo_pause(gi);
            return;
        }
        /* Its master unreachable, a manual failover fences like an
         * automatic one, then promotes the best reachable replica. */
    }
    /* Automatic: the old master may be alive on the other side of a
     * partition.  Promote only once its lease is surely over (failover.h,
     * fencing), and choose the replica from positions read after that. */
    uint64_t lease = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].lease_ms > lease) lease = g->nodes[i].lease_ms;
    uint64_t wait = failover_fence_wait_ms(lease, (uint64_t)snt.conf.s.ping_ms);
    /* From the latest renewal any voter (self included) made. */
    uint64_t at = g->fo.last_renewal_ms + wait;
    g->fo.state = FO_FENCING;
    if (!wait || at <= now) {
        g->fo.fence_end_ms = wait ? at : now;
        g->fo.promote_at_ms = now;
        g->fo.deadline_ms = now + (uint64_t)snt.conf.s.failover_timeout_ms;
        fo_auto_promote(gi, now);
        return;
    }
    wait = at - now;
    /* Voters renew again failover_timeout_ms after their vote: promoting
     * later than that could leave the old master a fresh majority. */
    if (now + wait >= g->fo.started_ms + (uint64_t)snt.conf.s.failover_timeout_ms) {
        fo_abort(gi, "the old master's lease outlasts the failover timeout", snt.conf.s.ping_ms);
        return;
    }
    g->fo.fence_end_ms = g->fo.promote_at_ms = now + wait;
    g->fo.deadline_ms = g->fo.promote_at_ms + (uint64_t)snt.conf.s.failover_timeout_ms;
    log_info("group %s: waiting %llu ms for the old master's lease (%llu ms) to run out", g->name,
             (unsigned long long)wait, (unsigned long long)lease);
}

static void fo_start_election(int gi, int manual, uint64_t now)
{
    struct sgroup *g = &snt.groups[gi];
    uint64_t epoch = g->config_epoch;
    if (g->vote_epoch > epoch) epoch = g->vote_epoch;
    if (g->max_epoch_seen > epoch) epoch = g->max_epoch_seen;
    epoch++;
    const char *leader;
    uint64_t le;
    peer_vote(gi, epoch, snt.myid, &leader, &le);
    if (le != epoch || strcmp(leader, snt.myid) != 0) {
        g->next_try_ms = now + (uint64_t)snt.conf.s.ping_ms;
        return;
    }
    memset(&g->fo, 0, sizeof g->fo);
    g->fo.state = FO_ELECTING;
    g->fo.manual = manual;
    g->fo.epoch = epoch;
    g->fo.started_ms = now;
    uint64_t et = (uint64_t)snt.conf.s.ping_ms * 5;
    if (et < 500) et = 500;
    if (et > (uint64_t)snt.conf.s.failover_timeout_ms) et = (uint64_t)snt.conf.s.failover_timeout_ms;
    g->fo.deadline_ms = now + et;
    g->fo.votes = 1;
    g->fo.chosen = -1;
    g->fo.old_master = snt_master_index(g);
    g->fo.last_renewal_ms = g->fo.old_master >= 0 ? now - mon_lease_age(&g->nodes[g->fo.old_master], now)
                                                  : now;
    server_publish("+try-failover", "master %s %s %d %s epoch %llu", g->name, g->master_host,
                   g->master_port, manual ? "manual" : "odown", (unsigned long long)epoch);
    if (g->fo.votes >= fo_needed_votes()) {
        fo_elected(gi);
        return;
    }
    peer_request_votes(gi);
}

void failover_vote_reply(int gi, int pi, uint64_t epoch, const char *leader, uint64_t leader_epoch,
                         long long lease_age)
{
    struct sgroup *g = &snt.groups[gi];
    if (g->fo.state != FO_ELECTING || g->fo.epoch != epoch) return;
    if (leader_epoch != epoch || strcmp(leader, snt.myid) != 0) return;
    uint64_t bit = 1ULL << pi;
    if (g->fo.voters & bit) return;
    g->fo.voters |= bit;
    g->fo.votes++;
    /* The voter renews no more (mon_may_renew): its last renewal is the
     * latest one of it the old master can count on. */
    uint64_t now = now_ms();
    uint64_t last = lease_age < 0 || (uint64_t)lease_age > now ? now : now - (uint64_t)lease_age;
    if (last > g->fo.last_renewal_ms) g->fo.last_renewal_ms = last;
    if (g->fo.votes >= fo_needed_votes()) fo_elected(gi);
}

void failover_voted_other(int gi, uint64_t epoch)
{
    struct sgroup *g = &snt.groups[gi];
    if (g->fo.state != FO_NONE && g->fo.epoch < epoch)
        fo_abort(gi, "voted for another leader in a newer epoch", 0);
}

int failover_manual(int gi, const char **err)
{
    struct sgroup *g = &snt.groups[gi];
    uint64_t now = now_ms();
    if (g->fo.state != FO_NONE) {
        *err = "INPROG Failover already in progress";
        return -1;
    }
    if (failover_pick(gi, snt_master_index(g), now) < 0) {
        *err = "NOGOODSLAVE No suitable replica to promote";
        return -1;
    }
    fo_start_election(gi, 1, now);
    if (g->fo.state == FO_NONE && g->config_epoch < g->vote_epoch && strcmp(g->vote_leader, snt.myid)) {
        *err = "INPROG Failover already in progress";
        return -1;
    }
    return 0;
}

const char *failover_state_name(int gi)
{
    static const char *const names[] = { "none", "electing", "pausing-writes", "waiting-fence",
                                         "promoting" };
    return names[snt.groups[gi].fo.state];
}

/* ---- tick ---- */

/* Give the leader we voted for its time before running ourselves. */
static int fo_waiting_for_leader(const struct sgroup *g, uint64_t now)
{
    return g->vote_epoch > g->config_epoch && strcmp(g->vote_leader, snt.myid) != 0 &&
           now - g->vote_ms < (uint64_t)snt.conf.s.failover_timeout_ms;
}

/* The election start, after its random delay.  arg: the group index
 * (timers are recreated when a reload rebuilds the groups). */
static void fo_elect_timer(evutil_socket_t fd, short what, void *arg)
{
    int gi = (int)(intptr_t)arg;
    (void)fd;
    (void)what;
    if (gi >= snt.ngroups) return;
    struct sgroup *g = &snt.groups[gi];
    g->elect_scheduled = 0;
    uint64_t now = now_ms();
    /* Things may have changed during the delay: we may have voted for
     * another candidate, or learned of a newer config. */
    if (g->odown && g->fo.state == FO_NONE && now >= g->next_try_ms && !fo_waiting_for_leader(g, now))
        fo_start_election(gi, 0, now);
}

void failover_check(int gi, uint64_t now)
{
    struct sgroup *g = &snt.groups[gi];
    int mi = snt_master_index(g);
    int sdown = mi >= 0 && g->nodes[mi].sdown;
    int agree = sdown ? 1 + peer_count_down(gi, now) : 0;
    int odown = sdown && agree >= snt.quorum;
    if (odown != g->odown) {
        g->odown = odown;
        g->odown_since_ms = odown ? now : 0;
        if (odown)
            server_publish("+odown", "master %s %s %d #quorum %d/%d", g->name, g->master_host,
                           g->master_port, agree, snt.quorum);
        else
            server_publish("-odown", "master %s %s %d", g->name, g->master_host, g->master_port);
        if (!odown) g->blocked[0] = g->blocked_why[0] = '\0';
    }
    if (g->fo.state == FO_FENCING && now >= g->fo.promote_at_ms) fo_auto_promote(gi, now);
    if (g->fo.state != FO_NONE) {
        if (now > g->fo.deadline_ms)
            fo_abort(gi, g->fo.state == FO_ELECTING ? "no majority of votes" : "timed out",
                     (uint64_t)snt.conf.s.ping_ms + fo_jitter((uint64_t)snt.conf.s.ping_ms * 2));
        return;
    }
    if (!odown || now < g->next_try_ms || g->elect_scheduled || fo_waiting_for_leader(g, now)) return;
    /* A random delay (a timer of its own, finer than the tick) makes
     * simultaneous candidacies, hence split votes, rare. */
    uint64_t delay_us = (uint64_t)random() % ((uint64_t)snt.conf.s.ping_ms * 1000 + 1);
    struct timeval tv = { (time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000) };
    g->elect_scheduled = 1;
    evtimer_add(g->elect_ev, &tv);
}

void failover_start(void)
{
    for (int gi = 0; gi < snt.ngroups; gi++) {
        snt.groups[gi].elect_ev = evtimer_new(snt.base, fo_elect_timer, (void *)(intptr_t)gi);
        snt.groups[gi].elect_scheduled = 0;
    }
}

void failover_stop(void)
{
    for (int gi = 0; gi < snt.ngroups; gi++) {
        if (snt.groups[gi].elect_ev) event_free(snt.groups[gi].elect_ev);
        snt.groups[gi].elect_ev = NULL;
        snt.groups[gi].elect_scheduled = 0;
    }
}

void failover_tick(uint64_t now)
{
    for (int gi = 0; gi < snt.ngroups; gi++) failover_check(gi, now);
}
