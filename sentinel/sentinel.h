/* sentinel: the state strata-sentinel shares between its modules — the
 * groups it watches (with their storage nodes), its peer sentinels, and
 * the process-wide settings.  One event loop thread owns all of it.
 *
 *   sconf.c     settings, topology, who this sentinel is among sentinel.addrs
 *   state.c     persisted state (myid; per group: config epoch, master, vote)
 *   link.c      outgoing connections with timeouts (hiredis async)
 *   mon.c       watching the nodes: PING / INFO replication, sdown, lease
 *               renewal, re-pointing misconfigured nodes
 *   peer.c      the other sentinels: hello, down reports, votes, configs
 *   failover.c  odown, election, promotion, manual failover
 *   server.c    the RESP listener, clients and pub/sub
 *   cmd.c       the commands clients send (SENTINEL ..., INFO, PING, ...)
 *   slotseed.c  first slot table of each master, from the topology
 *   slotagg.c   the cluster's slot map, aggregated from the masters' tables
 *
 * Words: the *config master* of a group is the node this sentinel believes
 * to be its master (persisted with the group's config epoch); a node's
 * *role* is what the node itself says in INFO replication. */
#ifndef STRATA_SENTINEL_H
#define STRATA_SENTINEL_H

#include <stdint.h>

#include "sconf.h"
#include "topology.h"

#define SNT_MAX_PEERS 32
#define SNT_ID_LEN 40
#define SNT_HOST_MAX 256

enum snode_role { SNODE_UNKNOWN = 0, SNODE_MASTER, SNODE_REPLICA };

struct event;
struct link;

/* One storage node of a group, as this sentinel sees it. */
struct snode {
    char host[SNT_HOST_MAX];
    int port;
    char ip[64];                  /* host resolved at start / reload, "" if it did not */
    int priority;                 /* from the topology; 0 = never promote */
    struct link *link;            /* owned */
    uint64_t last_ok_ms;          /* last valid PING reply (start time at first) */
    uint64_t last_ping_sent_ms;
    uint64_t last_info_sent_ms;
    uint64_t lease_sent_ms;       /* last fencing lease renewal sent */
    int ping_pending, info_pending;
    uint64_t info_ms;             /* when the last INFO replication arrived, 0 never */
    int sdown;
    uint64_t sdown_since_ms;
    /* From the node's INFO server and replication. */
    char runid[SNT_ID_LEN + 1];   /* "" until known */
    enum snode_role role;
    char master_host[SNT_HOST_MAX];
    int master_port;
    int master_link_up;
    int is_strata;                /* reports epoch/lsn (strata-node), not redis-server */
    uint64_t epoch;               /* the node's current epoch */
    uint64_t last_epoch;          /* epoch of its newest record */
    uint64_t lsn;                 /* newest committed record (offset on redis-server) */
    int fenced;
    uint64_t lease_ms;            /* the node's fence_lease_ms, 0 = none or unknown */
    /* From the master's INFO: what this replica acknowledged. */
    uint64_t acked_lsn;
    /* From its own INFO while a master: min_replica_acks, semi-sync state. */
    int acks_known;               /* min_acks below was reported */
    long long min_acks;
    int semi_degraded;            /* semi_sync_status:degraded (acks without replicas) */
    uint64_t info_asked_ms;       /* when the INFO behind info_ms was asked for */
    /* Re-pointing a node that follows the wrong master. */
    uint64_t misconf_since_ms;
    uint64_t reconf_sent_ms;
    /* Slot table seeding (slotseed.c). */
    int slots_pending;            /* STRATA SLOTS / SETSLOTS in flight */
    int has_table;                /* the node said it has a slot table */
    uint64_t slots_checked_ms;
    /* Slot map aggregation (slotagg.c). */
    int agg_pending;              /* STRATA SLOTS in flight */
    uint64_t agg_ms;              /* when it was last sent */
};

enum fo_state {
    FO_NONE = 0,
    FO_ELECTING,        /* votes requested for fo.epoch */
    FO_PAUSING,         /* manual: writes paused on the master, waiting for catch-up */
    FO_FENCING,         /* automatic: waiting for the old master's lease to run out */
    FO_PROMOTING,       /* REPLICAOF NO ONE sent, waiting for ROLE master */
};

struct failover {
    enum fo_state state;
    int manual;
    uint64_t epoch;               /* election epoch of this attempt */
    uint64_t started_ms;
    uint64_t deadline_ms;
    int votes;                    /* granted, self included */
    uint64_t voters;              /* bit i: peer i granted (bit 63: self) */
    int chosen;                   /* node index being promoted, -1 */
    int old_master;               /* node index of the master being replaced, -1 */
    uint64_t target_lsn;          /* manual: the master's lsn once paused */
    uint64_t promote_at_ms;       /* FENCING: the old master's lease is over then */
    uint64_t last_renewal_ms;     /* latest lease renewal of the old master by a voter */
    uint64_t fence_end_ms;        /* automatic: the old master acknowledges nothing after */
    int caught_up_checks;         /* manual: INFO round trips in flight */
};

/* One group of the topology. */
struct sgroup {
    char name[128];
    int nnodes;
    struct snode nodes[TOPO_MAX_NODES];
    /* Persisted (state.c). */
    uint64_t config_epoch;
    char master_host[SNT_HOST_MAX];
    int master_port;
    uint64_t vote_epoch;          /* highest epoch this sentinel voted in */
    char vote_leader[SNT_ID_LEN + 1];
    /* Volatile. */
    uint64_t vote_ms;             /* when the vote was cast (load time after restart) */
    uint64_t max_epoch_seen;      /* highest epoch heard from anyone */
    int odown;
    uint64_t odown_since_ms;
    int elect_scheduled;          /* an election start is on elect_ev */
    struct event *elect_ev;       /* owned (failover_start/stop) */
    uint64_t next_try_ms;         /* no new attempt before this */
    uint64_t acked_floor;         /* highest lsn the master said a replica acked */
    int promotion_available;      /* topology promotion: available (failover.h) */
    /* Why the last automatic failover was refused for safety ("" none):
     * a short code (INFO, events) and a sentence (SENTINEL MASTER, log). */
    char blocked[48];
    char blocked_why[200];
    uint64_t blocked_ms;
    struct failover fo;
    /* The slots the config master's table owns (slotseed.c), bit s. */
    int claims_known;             /* its STRATA SLOTS reply came (table or not) */
    unsigned char claimed[16384 / 8];
};

/* A peer's answers to is-master-down-by-addr about one group. */
struct speer_group {
    uint8_t down;                 /* it sees the master down */
    uint8_t down_pending;         /* a question is in flight */
    uint64_t down_ms;             /* when that answer arrived */
    /* The vote it last reported when asked for one (SENTINEL SENTINELS). */
    char voted[SNT_ID_LEN + 1];
    uint64_t voted_epoch;
};

/* One other sentinel of sentinel.addrs. */
struct speer {
    char host[SNT_HOST_MAX];
    int port;
    char runid[SNT_ID_LEN + 1];   /* "" until its first hello */
    struct link *link;            /* owned */
    int ping_pending;
    uint64_t last_ping_sent_ms;
    uint64_t last_ok_ms;          /* last reply of any kind */
    uint64_t last_hello_ms;       /* last hello we received from it */
    /* What it told us about each group (by group index), owned. */
    struct speer_group *g;
};

struct sentinel_g {
    struct event_base *base;
    struct sconf conf;            /* owned: sconf_free */
    char myid[SNT_ID_LEN + 1];
    uint64_t start_ms;
    int ngroups;
    struct sgroup *groups;        /* owned */
    int npeers;
    struct speer peers[SNT_MAX_PEERS];
    int nsentinels;               /* peers + self */
    int quorum;                   /* effective quorum */
};

extern struct sentinel_g snt;

/* The group's index by name, -1 if unknown. */
int snt_group_find(const char *name);
/* The index of the node host:port in g, -1 if it is not one of its nodes. */
int snt_node_find(const struct sgroup *g, const char *host, int port);
/* Index of the config master in g->nodes, -1 if it is not listed. */
int snt_master_index(const struct sgroup *g);
/* Group and node of an address anywhere in the topology; returns the
 * group index or -1 (*node gets the node index). */
int snt_find_addr(const char *host, int port, int *node);
/* Sentinels needed for a majority of n: n / 2 + 1 (n >= 1). */
int snt_majority_of(int n);
/* Sentinels needed for a majority (of all listed ones, self included). */
int snt_majority(void);
/* Number of sentinels (self included) heard from recently. */
int snt_reachable_sentinels(uint64_t now);

#endif
