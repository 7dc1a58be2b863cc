/* topology: the cluster description that operators edit (topology.yaml),
 * shared by strata-proxy and strata-sentinel.  Schema (DESIGN.md):
 *
 *   cluster: demo
 *   password: ""
 *   groups:
 *     - name: g1
 *       slots: "0-8191"                 # ranges, comma separated
 *       nodes:                          # "host:port" or {addr: "host:port", priority: N}
 *         - 127.0.0.1:7001              # first node: initial master
 *         - {addr: 127.0.0.1:7002, priority: 10}
 *       promotion: safe                 # or available (sentinel/failover.h)
 *   proxy:    { listen: ..., threads: 1, read_from_replicas: false, timeout_ms: 2000, ... }
 *   sentinel: { addrs: [...], quorum: 2, down_after_ms: 1000, ... }
 *   users:                              # optional: internal links' own ACL users
 *     proxy:    {user: strata-proxy, password: "..."}     # proxy -> nodes
 *     sentinel: {user: strata-sentinel, password: "..."}  # sentinel -> nodes, -> sentinels
 *     cli:      {user: strata-cli, password: "..."}       # strata-cli -> nodes
 *
 * Without users: (or without one of its entries) a link authenticates as
 * today: the default user with `password:` (no AUTH when that is empty).
 *
 * Unknown keys are errors.  Every slot 0..16383 must belong to exactly one
 * group: a gap or an overlap is an error naming the slot range(s):
 *
 *   path:3: slots 100-199 are not assigned to any group
 *   path:9: slots 50-60 are assigned to both g1 and g2
 *
 * Errors carry file:line; after 100 of them the rest are only counted
 * ("path: N more errors not shown").  Group names are non-empty and hold no spaces or
 * control characters (sentinels publish them in space-separated messages).
 * A host:port may appear only once in the whole file (nodes and sentinels).
 *
 * The proxy: and sentinel: sections are flat mappings parsed through
 * conf_field tables (conf.h), so each program adds its own keys there.
 * When a section's table is NULL its keys are not validated (another
 * program owns them) but their values must still be scalars: the proxy
 * passes only its own table and accepts whatever the sentinel: section
 * holds, and the other way round, so one file serves both.
 * `sentinel.addrs` is read by topology itself (t->sentinels), whatever the
 * tables say. */
#ifndef STRATA_TOPOLOGY_H
#define STRATA_TOPOLOGY_H

#include <stdint.h>
#include "buf.h"
#include "conf.h"

#define TOPO_MAX_NODES 16

struct topo_node {
    char *host;          /* owned */
    int port;
    int priority;        /* default 100; 0 = never promoted */
};

struct topo_group {
    char *name;          /* owned */
    int nnodes;
    struct topo_node nodes[TOPO_MAX_NODES];
    int line;            /* where the group starts in the file */
    int promotion_available; /* promotion: available (may lose acknowledged writes,
                              * sentinel/failover.h); default safe (0) */
};

/* How an internal link authenticates (topo_auth_argv). */
struct topo_user {
    char *user;          /* owned; "default" when users: does not name the link */
    char *password;      /* owned; then the topology's password: ("" = no AUTH) */
    int line;            /* where users.<link> is, 0 if absent */
};

struct topology {
    char *cluster;       /* owned, "" if absent */
    char *password;      /* owned, "" if absent: the default user's (clients, and
                          * internal links without a user of their own) */
    struct topo_user proxy_user;     /* strata-proxy's links to the nodes */
    struct topo_user sentinel_user;  /* strata-sentinel's links to nodes and peers */
    struct topo_user cli_user;       /* strata-cli's links to the nodes */
    int ngroups;
    struct topo_group *groups;       /* owned */
    uint16_t slot_group[16384];      /* slot -> index in groups */
    int has_sentinel;                /* a sentinel: section was present */
    int nsentinels;
    struct topo_node *sentinels;     /* from sentinel.addrs, owned */
};

/* Tables for the proxy: and sentinel: sections and the structs they fill.
 * Either table may be NULL (the section's keys are then not validated, see
 * above); `sec` itself may be NULL.  The structs must already hold their
 * defaults (conf_defaults): only the keys present in the file are set. */
struct topo_sections {
    const struct conf_field *proxy_fields;
    void *proxy_obj;
    const struct conf_field *sentinel_fields;
    void *sentinel_obj;
};

/* Parse a topology file.  Returns 0 and fills *t (free with topo_free),
 * or -1 with one message per line in errs ("path:line: message"); *t is
 * then left empty (zeroed; topo_free on it is harmless) while the section
 * structs may be partly updated.  *t need not be initialised on entry:
 * it is overwritten, not freed. */
int topo_load(const char *path, struct topology *t, const struct topo_sections *sec, buf *errs);
/* Same from memory (tests, fuzzing): text[0..len) may hold any bytes.
 * `name` stands for the path in messages. */
int topo_load_string(const char *name, const char *text, size_t len, struct topology *t,
                     const struct topo_sections *sec, buf *errs);
void topo_free(struct topology *t);
/* The embedded default when no file is given: one group "default" holding
 * every slot, on the node's default address 127.0.0.1:7000.  Overwrites *t
 * (free with topo_free). */
void topo_default(struct topology *t);

/* The AUTH command a link authenticating as u sends on connect, in
 * argv[0..n): "AUTH password" for the default user (today's form, which
 * any Redis accepts), "AUTH user password" for another.  Returns n: 0 when
 * nothing is to be sent (the default user with no password), 2 or 3.  The
 * strings are borrowed from u. */
int topo_auth_argv(const struct topo_user *u, const char *argv[3]);

/* Parse "0-100,200,300-400" (spaces around items allowed); exposed for
 * tests.  "" (or only blanks) is the empty list: cb is never called (a
 * group with slots: "" owns no slot).  The whole list is checked first: cb is called once per item, in
 * order, only if every item is valid (0 <= lo <= hi <= 16383).
 * Returns 0, or -1 with a NUL-terminated message in err. */
int topo_parse_slots(const char *s, void (*cb)(void *ud, int lo, int hi), void *ud,
                     char *err, size_t errlen);

#endif
