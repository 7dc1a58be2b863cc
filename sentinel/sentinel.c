/* sentinel: the shared state of strata-sentinel (sentinel.h) — lookups,
 * majority arithmetic, and building the groups and peers from the
 * topology (at start and on SIGHUP). */
#include "sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer.h"
#include "util.h"

struct sentinel_g snt;

int snt_group_find(const char *name)
{
    for (int i = 0; i < snt.ngroups; i++)
        if (!strcmp(snt.groups[i].name, name)) return i;
    return -1;
}

int snt_node_find(const struct sgroup *g, const char *host, int port)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].port == port && !strcmp(g->nodes[i].host, host)) return i;
    return -1;
}

int snt_master_index(const struct sgroup *g)
{
    return snt_node_find(g, g->master_host, g->master_port);
}

int snt_find_addr(const char *host, int port, int *node)
{
    for (int gi = 0; gi < snt.ngroups; gi++) {
        int ni = snt_node_find(&snt.groups[gi], host, port);
        if (ni >= 0) {
            *node = ni;
            return gi;
        }
    }
    return -1;
}

int snt_majority_of(int n)
{
    return n / 2 + 1;
}

int snt_majority(void)
{
    return snt_majority_of(snt.nsentinels);
}

int snt_reachable_sentinels(uint64_t now)
{
    int n = 1;
    for (int i = 0; i < snt.npeers; i++) n += peer_reachable(i, now);
    return n;
}
