/* route: an immutable routing snapshot — slot -> group -> backend address.
 *
 * The main thread builds a snapshot from the topology (and the masters the
 * sentinels report) and publishes it; every worker holds a reference to the
 * snapshot it routes with and switches at its next event when a newer one
 * is published.  Nothing in a snapshot changes after route_build except
 * the per-worker statistics counters (route_gstat), which only their own
 * worker writes.
 *
 * Ownership: route_build returns a snapshot with one reference;
 * route_retain/route_release count references; the last release frees it. */
#ifndef STRATA_PROXY_ROUTE_H
#define STRATA_PROXY_ROUTE_H

#include <stdatomic.h>
#include <stdint.h>

#include "slot.h"
#include "topology.h"

struct proxy_settings;

struct route_addr {
    char host[256];
    int port;
};

/* Counters of one group as seen by one worker (cache-line sized so two
 * workers never write the same line). */
struct route_gstat {
    _Atomic uint64_t requests;   /* fragments sent to the group */
    _Atomic uint64_t errors;     /* error replies and failed fragments */
    _Atomic uint64_t timeouts;   /* fragments failed by timeout_ms */
    _Atomic uint64_t reconnects; /* backend connections (re)established */
    _Atomic int up;              /* the worker's link to the master is up */
    char pad[64 - 4 * 8 - sizeof(int)];
};

struct route_group {
    char *name;                  /* owned */
    struct route_addr master;
    int nreplicas;
    struct route_addr replicas[TOPO_MAX_NODES];
    int nslots;
    struct route_gstat *stats;   /* owned, one per worker */
};

/* A master address reported by the sentinels for a group. */
struct route_master {
    char group[128];
    struct route_addr addr;
};

struct route {
    atomic_int refs;
    uint64_t version;
    int ngroups;
    struct route_group *groups;  /* owned */
    uint16_t slot_group[SLOT_COUNT];
    char *password;              /* owned, "" for none: the default user's (HTTP API) */
    struct topo_user node_user;  /* owned: how links to the nodes authenticate
                                  * (users.proxy, else default + password) */
    int read_from_replicas;
    int has_sentinel;
    long long timeout_ms;
    long long switch_wait_ms;
    int nworkers;
};

/* Build a snapshot.  `masters` overrides the first node of the named
 * groups (unknown names are ignored); `prev` (may be NULL) passes its
 * counters on to groups of the same name.  Never fails (allocation
 * failure aborts). */
struct route *route_build(const struct topology *t, const struct proxy_settings *s,
                          const struct route_master *masters, int nmasters,
                          const struct route *prev, int nworkers, uint64_t version);
struct route *route_retain(struct route *r);
void route_release(struct route *r);

/* Group index of a key. */
static inline int route_group_of_key(const struct route *r, const char *key, size_t len)
{
    return r->slot_group[slot_of_key(key, len)];
}
/* Index of the group called `name`, or -1. */
int route_find_group(const struct route *r, const char *name);
/* The group that carries pub/sub traffic (the owner of slot 0), so every
 * publisher and subscriber meets on the same server. */
static inline int route_pubsub_group(const struct route *r)
{
    return r->slot_group[0];
}

#endif
