/* sentwatch: see sentwatch.h. */
#include "sentwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "proxy.h"
#include "slotcheck.h"
#include "slotmap.h"
#include "util.h"

#define SW_MAX 32
#define SW_TABLES_MS 2000   /* the masters' slot tables are read this often (and on -MOVED) */

struct sw_sentinel {
    char host[256];
    int port;
    redisContext *q;        /* queries */
    redisContext *sub;      /* +switch-master subscription */
    uint64_t sub_retry_ms;
};

static struct {
    pthread_t thread;
    int running;
    atomic_int stop;
    int pipe[2];
    int n;
    struct sw_sentinel s[SW_MAX];
    char password[256];         /* the default user's, towards the sentinels */
    char node_user[256];        /* users.proxy (or default), towards the nodes */
    char node_password[256];
    long long poll_ms;
    int ngroups;
    char (*groups)[128];
    struct route_master *cur;   /* last decision per group (addr.port 0: none) */
    char cache[1024];           /* proxy.slots_cache, "" = none */
    uint64_t map_epoch_sum;     /* of the last map written to the cache */
} sw = { .pipe = { -1, -1 } };

static const struct timeval connect_tv = { 0, 300 * 1000 };
static const struct timeval io_tv = { 0, 500 * 1000 };

static redisContext *sw_connect(struct sw_sentinel *s)
{
    redisContext *c = redisConnectWithTimeout(s->host, s->port, connect_tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, io_tv);
    if (sw.password[0]) {
        redisReply *r = redisCommand(c, "AUTH %s", sw.password);
        if (r) freeReplyObject(r); /* a sentinel without a password refuses AUTH: fine */
        if (c->err) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

static void sw_close_all(void)
{
    for (int i = 0; i < sw.n; i++) {
        if (sw.s[i].q) redisFree(sw.s[i].q);
        if (sw.s[i].sub) redisFree(sw.s[i].sub);
        sw.s[i].q = sw.s[i].sub = NULL;
    }
    sw.n = 0;
}

/* Copy what we need from the configuration; reopen links if the sentinel
 * list changed.  Returns the number of sentinels. */
static int sw_sync_conf(void)
{
    pthread_mutex_lock(&proxy_g.lock);
    const struct topology *t = &proxy_g.conf.topo;
    int n = t->has_sentinel ? t->nsentinels : 0;
    if (n > SW_MAX) n = SW_MAX;
    int same = n == sw.n;
    for (int i = 0; same && i < n; i++)
        same = sw.s[i].port == t->sentinels[i].port && !strcmp(sw.s[i].host, t->sentinels[i].host);
    if (!same) {
        sw_close_all();
        for (int i = 0; i < n; i++) {
            memset(&sw.s[i], 0, sizeof sw.s[i]);
            snprintf(sw.s[i].host, sizeof sw.s[i].host, "%s", t->sentinels[i].host);
            sw.s[i].port = t->sentinels[i].port;
        }
        sw.n = n;
    }
    snprintf(sw.password, sizeof sw.password, "%s", t->password ? t->password : "");
    snprintf(sw.node_user, sizeof sw.node_user, "%s", t->proxy_user.user ? t->proxy_user.user : "default");
    snprintf(sw.node_password, sizeof sw.node_password, "%s",
             t->proxy_user.password ? t->proxy_user.password : sw.password);
    sw.poll_ms = proxy_g.conf.s.sentinel_poll_ms;
    snprintf(sw.cache, sizeof sw.cache, "%s", proxy_g.conf.s.slots_cache ? proxy_g.conf.s.slots_cache : "");
    /* Groups: keep the decisions of groups that still exist. */
    struct route_master *cur = xcalloc((size_t)(t->ngroups ? t->ngroups : 1), sizeof *cur);
    char (*groups)[128] = xcalloc((size_t)(t->ngroups ? t->ngroups : 1), sizeof *groups);
    for (int g = 0; g < t->ngroups; g++) {
        snprintf(groups[g], sizeof groups[g], "%s", t->groups[g].name);
        for (int o = 0; o < sw.ngroups; o++)
            if (!strcmp(sw.groups[o], groups[g])) cur[g] = sw.cur[o];
        snprintf(cur[g].group, sizeof cur[g].group, "%s", groups[g]);
    }
    free(sw.cur);
    free(sw.groups);
    sw.cur = cur;
    sw.groups = groups;
    sw.ngroups = t->ngroups;
    pthread_mutex_unlock(&proxy_g.lock);
    return sw.n;
}

struct answer {
    char host[256];
    int port;
    long long epoch;
};

/* Ask one sentinel about one group.  Returns 1 with *a filled, 0 if the
 * sentinel answered that it does not know the group, -1 if unreachable. */
static int sw_ask(struct sw_sentinel *s, const char *group, struct answer *a)
{
    if (!s->q) s->q = sw_connect(s);
    if (!s->q) return -1;
    redisReply *r = redisCommand(s->q, "SENTINEL MASTER %s", group);
    if (!r) {
        redisFree(s->q);
        s->q = NULL;
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        const char *ip = NULL;
        long long port = 0, epoch = 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            redisReply *k = r->element[i], *v = r->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
            if (!strcmp(k->str, "ip")) ip = v->str;
            else if (!strcmp(k->str, "port")) str2ll(v->str, v->len, &port);
            else if (!strcmp(k->str, "config-epoch")) str2ll(v->str, v->len, &epoch);
        }
        if (ip && port > 0) {
            snprintf(a->host, sizeof a->host, "%s", ip);
            a->port = (int)port;
            a->epoch = epoch;
            rc = 1;
        }
    } else if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "No such master") == NULL) {
        /* A sentinel without SENTINEL MASTER: the address alone. */
        freeReplyObject(r);
        r = redisCommand(s->q, "SENTINEL GET-MASTER-ADDR-BY-NAME %s", group);
        if (!r) {
            redisFree(s->q);
            s->q = NULL;
            return -1;
        }
        long long port;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
            str2ll(r->element[1]->str, r->element[1]->len, &port) == 0) {
            snprintf(a->host, sizeof a->host, "%s", r->element[0]->str);
            a->port = (int)port;
            a->epoch = 0;
            rc = 1;
        }
    }
    freeReplyObject(r);
    return rc;
}

static void sw_query(void)
{
    if (sw.n == 0) return;
    struct answer ans[SW_MAX];
    for (int g = 0; g < sw.ngroups; g++) {
        int reached = 0, na = 0;
        for (int i = 0; i < sw.n; i++) {
            int rc = sw_ask(&sw.s[i], sw.groups[g], &ans[na]);
            if (rc >= 0) reached++;
            if (rc == 1) na++;
        }
        if (reached <= sw.n / 2 || na == 0) {
            log_debug("group %s: %d of %d sentinels reachable, %d know it: no decision",
                      sw.groups[g], reached, sw.n, na);
            continue;
        }
        int best = -1, best_votes = 0;
        for (int i = 0; i < na; i++) {
            int votes = 0;
            for (int j = 0; j < na; j++)
                votes += ans[j].port == ans[i].port && !strcmp(ans[j].host, ans[i].host);
            if (best < 0 || ans[i].epoch > ans[best].epoch ||
                (ans[i].epoch == ans[best].epoch && votes > best_votes)) {
                best = i;
                best_votes = votes;
            }
        }
        struct route_master *m = &sw.cur[g];
        memset(&m->addr, 0, sizeof m->addr);
        snprintf(m->addr.host, sizeof m->addr.host, "%s", ans[best].host);
        m->addr.port = ans[best].port;
    }
    /* Publish the groups with a decision. */
    struct route_master *out = xcalloc((size_t)(sw.ngroups ? sw.ngroups : 1), sizeof *out);
    int n = 0;
    for (int g = 0; g < sw.ngroups; g++)
        if (sw.cur[g].addr.port) out[n++] = sw.cur[g];
    proxy_set_masters(out, n);
    free(out);
}

/* Route every claim of m. */
static void sw_apply_map(const struct slotmap *m)
{
    unsigned char owned[SLOT_COUNT / 8];
    for (int g = 0; g < m->ngroups; g++) {
        memset(owned, 0, sizeof owned);
        for (int s = 0; s < SLOT_COUNT; s++)
            if (m->owner[s] == g) owned[s >> 3] |= (unsigned char)(1u << (s & 7));
        proxy_apply_claims(m->names[g], owned);
    }
}

/* The sentinels' slot map (sentwatch.h).  Returns 1 if a majority
 * answered and the map was applied (merged into `into` instead when it is
 * not NULL). */
static int sw_sentinel_map(struct slotmap *into)
{
    if (sw.n == 0) return 0;
    struct slotmap m;
    slotmap_init(&m);
    int answered = 0;
    for (int i = 0; i < sw.n; i++) {
        struct sw_sentinel *s = &sw.s[i];
        if (!s->q) s->q = sw_connect(s);
        if (!s->q) continue;
        redisReply *r = redisCommand(s->q, "SENTINEL SLOTS");
        if (!r) {
            redisFree(s->q);
            s->q = NULL;
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            answered++;
            for (size_t k = 0; k < r->elements; k++) {
                redisReply *e = r->element[k];
                if (e->type == REDIS_REPLY_ARRAY && e->elements >= 4 && e->element[0]->type == REDIS_REPLY_INTEGER &&
                    e->element[1]->type == REDIS_REPLY_INTEGER && e->element[2]->type == REDIS_REPLY_STRING &&
                    e->element[3]->type == REDIS_REPLY_INTEGER)
                    slotmap_claim(&m, (int)e->element[0]->integer, (int)e->element[1]->integer, e->element[2]->str,
                                  (uint64_t)e->element[3]->integer, NULL);
            }
        }
        freeReplyObject(r);
    }
    int ok = answered > sw.n / 2 && slotmap_claimed(&m) > 0;
    if (ok) {
        if (into) slotmap_merge(into, &m, NULL);
        else sw_apply_map(&m);
        uint64_t sum = 0;
        for (int s = 0; s < SLOT_COUNT; s++) sum = sum * 31 + m.epoch[s] * 1024 + (uint64_t)(m.owner[s] + 1);
        if (sw.cache[0] && sum != sw.map_epoch_sum) {
            if (slotmap_save(&m, sw.cache) < 0) log_warn("cannot write the slot map cache %s", sw.cache);
            else sw.map_epoch_sum = sum;
        }
    }
    slotmap_free(&m);
    return ok;
}

/* At start without the sentinels' map: the cache file's. */
static void sw_cached_map(void)
{
    if (!sw.cache[0]) return;
    struct slotmap m;
    char err[300];
    slotmap_init(&m);
    int rc = slotmap_load(&m, sw.cache, err, sizeof err);
    if (rc < 0) log_warn("slot map cache: %s", err);
    if (rc == 1) {
        log_info("no majority of sentinels gave a slot map: routing by the cached one in %s", sw.cache);
        sw_apply_map(&m);
    }
    slotmap_free(&m);
}

/* The slot tables of the masters (node/cluster/slots.h) are where slots
 * really are: each group's master is asked for the slots it owns, and
 * the route follows them (proxy_apply_claims), so a proxy started with a
 * file that disagrees routes right without a -MOVED per slot, and
 * multi-key commands (which get -CROSSSLOT, not -MOVED, from a node that
 * owns only some of their slots) are split right. */
static void sw_tables(void)
{
    /* One map of every claim, highest epoch per slot, applied once: the
     * sentinels' map (it lags the tables by a poll) and each master's own
     * ranges.  During a move's switch the target's table already claims
     * the range at epoch + 1 while the source's (and the sentinels') still
     * say epoch; applying them one after the other made the route flap. */
    struct slotmap m;
    slotmap_init(&m);
    sw_sentinel_map(&m);
    unsigned char owned[SLOT_COUNT / 8];
    char self[128];
    for (int g = 0; g < sw.ngroups; g++) {
        const struct route_master *rm = &sw.cur[g];
        if (!rm->addr.port) continue;
        struct slotmap one;
        slotmap_init(&one);
        struct topo_user auth = { sw.node_user, sw.node_password, 0 };
        if (slotcheck_ask_claims(rm->addr.host, rm->addr.port, &auth, proxy_g.backend_tls_ctx, 300, self, sizeof self, owned, &one) ==
            1) {
            if (strcmp(self, sw.groups[g]) != 0)
                log_warn("group %s: its master %s:%d says it belongs to group %s", sw.groups[g], rm->addr.host,
                         rm->addr.port, self);
            else
                slotmap_merge(&m, &one, NULL);
        }
        slotmap_free(&one);
    }
    if (slotmap_claimed(&m) > 0) sw_apply_map(&m);
    slotmap_free(&m);
}

/* Read pending pub/sub messages; returns 1 if a +switch-master came. */
static int sw_read_sub(struct sw_sentinel *s)
{
    int switched = 0;
    if (redisBufferRead(s->sub) != REDIS_OK) {
        redisFree(s->sub);
        s->sub = NULL;
        return 1; /* a sentinel went away: worth a look */
    }
    void *rep;
    while (redisGetReplyFromReader(s->sub, &rep) == REDIS_OK && rep) {
        redisReply *r = rep;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "message") &&
            r->element[2]->type == REDIS_REPLY_STRING) {
            log_info("sentinel %s:%d: %s %s", s->host, s->port,
                     r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "?", r->element[2]->str);
            switched = 1;
        }
        freeReplyObject(r);
    }
    return switched;
}

static void sw_subscribe(struct sw_sentinel *s, uint64_t now)
{
    if (s->sub || now < s->sub_retry_ms) return;
    s->sub = sw_connect(s);
    if (s->sub) {
        redisReply *r = redisCommand(s->sub, "SUBSCRIBE +switch-master +slots");
        if (!r) {
            redisFree(s->sub);
            s->sub = NULL;
        } else {
            freeReplyObject(r);
            /* The second subscription's confirmation. */
            void *more = NULL;
            if (redisGetReply(s->sub, &more) != REDIS_OK) {
                redisFree(s->sub);
                s->sub = NULL;
            } else if (more) {
                freeReplyObject(more);
            }
        }
    }
    if (!s->sub) s->sub_retry_ms = now + 1000;
}

static void *sw_main(void *arg)
{
    uint64_t next_poll = 0, next_tables = 0;
    while (!atomic_load(&sw.stop)) {
        uint64_t now = now_ms();
        sw_sync_conf();
        struct pollfd pfd[SW_MAX + 1];
        int idx[SW_MAX + 1], np = 0;
        pfd[np].fd = sw.pipe[0];
        pfd[np].events = POLLIN;
        idx[np++] = -1;
        for (int i = 0; i < sw.n; i++) {
            sw_subscribe(&sw.s[i], now);
            if (sw.s[i].sub) {
                pfd[np].fd = sw.s[i].sub->fd;
                pfd[np].events = POLLIN;
                idx[np++] = i;
            }
        }
        int wait = next_poll > now ? (int)(next_poll - now) : 0;
        if (wait > 1000) wait = 1000;
        int force = 0;
        if (poll(pfd, (nfds_t)np, wait) > 0) {
            for (int k = 0; k < np; k++) {
                if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                if (idx[k] < 0) {
                    char tmp[64];
                    while (read(sw.pipe[0], tmp, sizeof tmp) > 0) { }
                    force = 1;
                } else if (sw_read_sub(&sw.s[idx[k]])) {
                    force = 1;
                }
            }
        }
        if (atomic_load(&sw.stop)) break;
        now = now_ms();
        if (force || now >= next_poll) {
            sw_query();
            if (force || now >= next_tables) {
                sw_tables();
                next_tables = now_ms() + SW_TABLES_MS;
            }
            next_poll = now_ms() + (uint64_t)sw.poll_ms;
        }
    }
    return NULL;
}

int sentwatch_start(void)
{
    if (pipe2(sw.pipe, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
    if (sw_sync_conf() > 0) {
        sw_query();
        if (!sw_sentinel_map(NULL)) sw_cached_map();
        sw_tables();
    }
    if (pthread_create(&sw.thread, NULL, sw_main, NULL) != 0) return -1;
    sw.running = 1;
    return 0;
}

void sentwatch_stop(void)
{
    if (sw.running) {
        atomic_store(&sw.stop, 1);
        sentwatch_refresh();
        pthread_join(sw.thread, NULL);
        sw.running = 0;
    }
    sw_close_all();
    free(sw.cur);
    free(sw.groups);
    sw.cur = NULL;
    sw.groups = NULL;
    sw.ngroups = 0;
    if (sw.pipe[0] >= 0) close(sw.pipe[0]);
    if (sw.pipe[1] >= 0) close(sw.pipe[1]);
    sw.pipe[0] = sw.pipe[1] = -1;
}

void sentwatch_refresh(void)
{
    if (sw.pipe[1] >= 0) {
        char c = 1;
        if (write(sw.pipe[1], &c, 1) < 0) { /* full pipe: a refresh is pending anyway */ }
    }
}
