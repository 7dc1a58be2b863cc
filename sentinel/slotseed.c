/* slotseed: seeding masters' slot tables from the topology.  See
 * slotseed.h. */
#include "slotseed.h"

#include <stdio.h>
#include <string.h>

#include "link.h"
#include "log.h"
#include "mon.h"
#include "peer.h"
#include "util.h"

int slotseed_ranges(const struct topology *t, int gi, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int s = 0; s < 16384;) {
        if (t->slot_group[s] != gi) {
            s++;
            continue;
        }
        int e = s;
        while (e + 1 < 16384 && t->slot_group[e + 1] == gi) e++;
        int w = e == s ? snprintf(out + len, size - len, "%s%d", len ? "," : "", s)
                       : snprintf(out + len, size - len, "%s%d-%d", len ? "," : "", s, e);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
        s = e + 1;
    }
    return (int)len;
}

int slotseed_is_leader(uint64_t now)
{
    if (snt_reachable_sentinels(now) < snt_majority()) return 0;
    for (int i = 0; i < snt.npeers; i++)
        if (peer_reachable(i, now) && snt.peers[i].runid[0] && strcmp(snt.peers[i].runid, snt.myid) < 0)
            return 0;
    return 1;
}

static void seed_cb(struct link *l, redisReply *r, void *privdata)
{
    struct snode *n = privdata;
    (void)l;
    n->slots_pending = 0;
    if (!r) return;
    if (r->type == REDIS_REPLY_ERROR) {
        log_warn("node %s:%d refused its slot table: %s", n->host, n->port, r->str);
        return;
    }
    n->has_table = 1;
    log_info("node %s:%d: slot table seeded from the topology", n->host, n->port);
}

/* Send STRATA SETSLOTS to n, the config master of g. */
static void seed(struct sgroup *g, struct snode *n)
{
    const struct topology *t = &snt.conf.topo;
    int ng = t->ngroups, argc = 4 + 2 * ng;
    const char *argv[4 + 2 * 256];
    size_t argvlen[4 + 2 * 256];
    static char ranges[256][8192];
    if (ng > 256) {
        log_warn("slot seeding: %d groups, at most 256 supported", ng);
        return;
    }
    argv[0] = "STRATA";
    argv[1] = "SETSLOTS";
    argv[2] = g->name;
    argv[3] = "1";
    for (int i = 0; i < ng; i++) {
        argv[4 + 2 * i] = t->groups[i].name;
        slotseed_ranges(t, i, ranges[i], sizeof ranges[i]);
        argv[5 + 2 * i] = ranges[i];
    }
    for (int i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    if (link_command_argv(n->link, seed_cb, n, argc, argv, argvlen) == 0) {
        n->slots_pending = 1;
        log_info("group %s: master %s:%d has no slot table: seeding it from the topology", g->name,
                 n->host, n->port);
    }
}

static void check_cb(struct link *l, redisReply *r, void *privdata)
{
    struct snode *n = privdata;
    (void)l;
    n->slots_pending = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2) return; /* down, or no STRATA */
    if (r->element[1]->type != REDIS_REPLY_NIL) {
        n->has_table = 1;
        return;
    }
    n->has_table = 0;
    /* Still the config master of its group, and still our job? */
    uint64_t now = now_ms();
    for (int gi = 0; gi < snt.ngroups; gi++) {
        struct sgroup *g = &snt.groups[gi];
        int mi = snt_master_index(g);
        if (mi >= 0 && &g->nodes[mi] == n && n->role == SNODE_MASTER && slotseed_is_leader(now)) {
            seed(g, n);
            return;
        }
    }
}

void slotseed_tick(struct sgroup *g, uint64_t now)
{
    int mi = snt_master_index(g);
    if (mi < 0) return;
    struct snode *n = &g->nodes[mi];
    if (n->slots_pending || !n->is_strata || n->role != SNODE_MASTER || !mon_node_fresh(n, now)) return;
    if (g->fo.state != FO_NONE) return;
    if (now - n->slots_checked_ms < SEED_CHECK_MS) return;
    if (!slotseed_is_leader(now)) return;
    n->slots_checked_ms = now;
    if (link_command(n->link, check_cb, n, "STRATA SLOTS") == 0) n->slots_pending = 1;
}
