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

int slotseed_ranges(const uint16_t *owner, int gi, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int s = 0; s < 16384;) {
        if (owner[s] != gi) {
            s++;
            continue;
        }
        int e = s;
        while (e + 1 < 16384 && owner[e + 1] == gi) e++;
        int w = e == s ? snprintf(out + len, size - len, "%s%d", len ? "," : "", s)
                       : snprintf(out + len, size - len, "%s%d-%d", len ? "," : "", s, e);
        if (w < 0 || (size_t)w >= size - len) {
            out[len] = '\0'; /* no partial item: "0-99,20" would name slot 20 */
            break;
        }
        len += (size_t)w;
        s = e + 1;
    }
    return (int)len;
}

int slotseed_plan(int ngroups, const uint16_t *yaml, int gi, const unsigned char *const *claims,
                  uint16_t *owner)
{
    int kept = 0;
    for (int s = 0; s < 16384; s++) {
        owner[s] = yaml[s];
        for (int h = 0; h < ngroups; h++)
            if (h != gi && claims[h] && (claims[h][s >> 3] >> (s & 7)) & 1) {
                if (yaml[s] == gi) kept++;
                owner[s] = (uint16_t)h;
                break;
            }
    }
    return kept;
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
    int ng = t->ngroups, gi = (int)(g - snt.groups), argc = 4 + 2 * ng;
    if (ng > 256 || ng != snt.ngroups) return;
    const char *argv[4 + 2 * 256];
    size_t argvlen[4 + 2 * 256];
    const unsigned char *claims[256];
    static char ranges[256][8192];
    static uint16_t owner[16384];
    for (int h = 0; h < ng; h++) {
        if (h != gi && !snt.groups[h].claims_known) return; /* not yet: who owns what? */
        claims[h] = snt.groups[h].claims_known == 2 ? snt.groups[h].claimed : NULL;
    }
    int kept = slotseed_plan(ng, t->slot_group, gi, claims, owner);
    if (kept)
        log_warn("group %s: %d of the slots the topology gives it are owned by other groups' "
                 "tables: they stay there (moving them needs a slot migration)", g->name, kept);
    argv[0] = "STRATA";
    argv[1] = "SETSLOTS";
    argv[2] = g->name;
    argv[3] = "1";
    for (int i = 0; i < ng; i++) {
        argv[4 + 2 * i] = t->groups[i].name;
        slotseed_ranges(owner, i, ranges[i], sizeof ranges[i]);
        argv[5 + 2 * i] = ranges[i];
    }
    for (int i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    if (link_command_argv(n->link, seed_cb, n, argc, argv, argvlen) == 0) {
        n->slots_pending = 1;
        log_info("group %s: master %s:%d has no slot table: seeding it from the topology", g->name,
                 n->host, n->port);
    }
}

/* The slots a STRATA SLOTS reply says its node owns, into g's claims. */
static void note_claims(struct sgroup *g, const redisReply *r)
{
    memset(g->claimed, 0, sizeof g->claimed);
    g->claims_known = 1;
    const redisReply *self = r->element[1];
    if (self->type != REDIS_REPLY_STRING || r->elements < 4 || r->element[3]->type != REDIS_REPLY_ARRAY)
        return;
    g->claims_known = 2;
    const redisReply *ranges = r->element[3];
    for (size_t i = 0; i < ranges->elements; i++) {
        const redisReply *e = ranges->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[2]->type != REDIS_REPLY_STRING ||
            strcmp(e->element[2]->str, self->str) != 0)
            continue;
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer && s < 16384; s++)
            if (s >= 0) g->claimed[s >> 3] |= (unsigned char)(1u << (s & 7));
    }
}

static void check_cb(struct link *l, redisReply *r, void *privdata)
{
    struct snode *n = privdata;
    (void)l;
    n->slots_pending = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2) return; /* down, or no STRATA */
    n->has_table = r->element[1]->type != REDIS_REPLY_NIL;
    uint64_t now = now_ms();
    for (int gi = 0; gi < snt.ngroups; gi++) {
        struct sgroup *g = &snt.groups[gi];
        int mi = snt_master_index(g);
        if (mi < 0 || &g->nodes[mi] != n) continue;
        note_claims(g, r);
        /* Still its group's master, still our job? */
        if (!n->has_table && n->role == SNODE_MASTER && slotseed_is_leader(now)) seed(g, n);
        return;
    }
}

void slotseed_tick(struct sgroup *g, uint64_t now)
{
    int mi = snt_master_index(g);
    if (mi < 0) return;
    struct snode *n = &g->nodes[mi];
    if (mon_node_fresh(n, now) && !n->is_strata && !g->claims_known) g->claims_known = 1; /* redis-server: no table */
    if (n->slots_pending || !n->is_strata || n->role != SNODE_MASTER || !mon_node_fresh(n, now)) return;
    if (g->fo.state != FO_NONE) return;
    if (now - n->slots_checked_ms < SEED_CHECK_MS) return;
    if (!slotseed_is_leader(now)) return;
    n->slots_checked_ms = now;
    if (link_command(n->link, check_cb, n, "STRATA SLOTS") == 0) n->slots_pending = 1;
}
