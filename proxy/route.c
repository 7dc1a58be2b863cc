/* route: routing snapshots.  See route.h. */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pconf.h"

static void addr_set(struct route_addr *a, const char *host, int port)
{
    snprintf(a->host, sizeof a->host, "%s", host);
    a->port = port;
}

struct route *route_build(const struct topology *t, const struct proxy_settings *s,
                          const struct route_master *masters, int nmasters,
                          const struct route *prev, int nworkers, uint64_t version)
{
    struct route *r = xcalloc(1, sizeof *r);
    atomic_init(&r->refs, 1);
    r->version = version;
    r->nworkers = nworkers > 0 ? nworkers : 1;
    r->ngroups = t->ngroups;
    r->groups = xcalloc((size_t)(t->ngroups ? t->ngroups : 1), sizeof *r->groups);
    memcpy(r->slot_group, t->slot_group, sizeof r->slot_group);
    r->password = xstrdup(t->password ? t->password : "");
    r->node_user.user = xstrdup(t->proxy_user.user ? t->proxy_user.user : "default");
    r->node_user.password = xstrdup(t->proxy_user.password ? t->proxy_user.password : r->password);
    r->read_from_replicas = s->read_from_replicas;
    r->has_sentinel = t->has_sentinel && t->nsentinels > 0;
    r->timeout_ms = s->timeout_ms;
    r->switch_wait_ms = s->switch_wait_ms;

    for (int g = 0; g < t->ngroups; g++) {
        const struct topo_group *tg = &t->groups[g];
        struct route_group *rg = &r->groups[g];
        rg->name = xstrdup(tg->name);
        rg->stats = xcalloc((size_t)r->nworkers, sizeof *rg->stats);
        addr_set(&rg->master, tg->nodes[0].host, tg->nodes[0].port);
        for (int i = 0; i < nmasters; i++)
            if (!strcmp(masters[i].group, tg->name))
                rg->master = masters[i].addr;
        /* Every other listed node is a replica candidate for reads. */
        for (int n = 0; n < tg->nnodes; n++) {
            if (!strcmp(tg->nodes[n].host, rg->master.host) && tg->nodes[n].port == rg->master.port)
                continue;
            if (rg->nreplicas < TOPO_MAX_NODES)
                addr_set(&rg->replicas[rg->nreplicas++], tg->nodes[n].host, tg->nodes[n].port);
        }
        if (prev) {
            int pg = route_find_group(prev, tg->name);
            if (pg >= 0 && prev->nworkers == r->nworkers) {
                for (int w = 0; w < r->nworkers; w++) {
                    struct route_gstat *a = &rg->stats[w], *b = &prev->groups[pg].stats[w];
                    atomic_store(&a->requests, atomic_load(&b->requests));
                    atomic_store(&a->errors, atomic_load(&b->errors));
                    atomic_store(&a->timeouts, atomic_load(&b->timeouts));
                    atomic_store(&a->reconnects, atomic_load(&b->reconnects));
                    atomic_store(&a->up, atomic_load(&b->up));
                }
            }
        }
    }
    for (int i = 0; i < SLOT_COUNT; i++)
        if (r->slot_group[i] < r->ngroups) r->groups[r->slot_group[i]].nslots++;
    return r;
}

struct route *route_retain(struct route *r)
{
    atomic_fetch_add(&r->refs, 1);
    return r;
}

void route_release(struct route *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    for (int g = 0; g < r->ngroups; g++) {
        free(r->groups[g].name);
        free(r->groups[g].stats);
    }
    free(r->groups);
    free(r->password);
    free(r->node_user.user);
    free(r->node_user.password);
    free(r);
}

int route_find_group(const struct route *r, const char *name)
{
    for (int g = 0; g < r->ngroups; g++)
        if (!strcmp(r->groups[g].name, name)) return g;
    return -1;
}
