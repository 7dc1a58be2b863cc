/* proxy: the process-wide state of strata-proxy — the configuration, the
 * workers, and the routing snapshot they share.
 *
 * Publication: the main thread (SIGHUP reload) and the sentinel watcher
 * (new masters) build a new route snapshot under `lock`, store it in
 * `route` and notify every worker; each worker picks it up with
 * proxy_route_acquire at its next event.  Clients are never disconnected
 * by a new snapshot. */
#ifndef STRATA_PROXY_PROXY_H
#define STRATA_PROXY_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pconf.h"
#include "route.h"

struct worker;
struct tls_ctx;

struct proxy {
    struct pconf conf;              /* current configuration (under lock) */
    int argc;
    char **argv;                    /* to re-read the same flags on reload */
    int nworkers;
    struct worker *workers;
    struct tls_ctx *tls_ctx;        /* tls_port's, shared by every worker's
                                     * TLS listener; NULL without tls_port.
                                     * Made at start, never replaced. */
    struct tls_ctx *backend_tls_ctx; /* tls_backend's, the connecting side of
                                     * every link to a node (backend.c,
                                     * slotcheck.c); NULL: plain links.
                                     * Made at start, never replaced. */
    pthread_mutex_t lock;           /* route, conf, masters */
    struct route *route;            /* current snapshot (one reference held) */
    uint64_t version;
    struct route_master *masters;   /* sentinel-reported masters, owned */
    int nmasters;
    uint64_t start_ms;
    char config_file[1024];         /* --config as given, "" without one */
    atomic_ulong reloads;
    atomic_ulong failovers;         /* master changes applied */
    atomic_ulong moved;             /* -MOVED replies from nodes */
    atomic_ulong moved_resent;      /* requests resent to the group a -MOVED named */
    atomic_ulong script_loads;      /* SCRIPT LOADs sent in front of an EVALSHA or
                                     * EXEC (client_script.c) */
    atomic_ulong noscript_retries;  /* EVALSHAs sent again after healing a NOSCRIPT */
    atomic_ulong function_heals;    /* FCALLs sent again after loading kept libraries */
    atomic_ulong slots_kept;        /* slots a reload kept on their group (slotcheck.h) */
};

extern struct proxy proxy_g;

/* A new reference to the current snapshot (release with route_release). */
struct route *proxy_route_acquire(void);
/* Build and publish a snapshot from conf + masters.  Call with lock held. */
void proxy_publish_locked(void);
/* SIGHUP: re-read the topology with the original flags.  On error the
 * old configuration stays and the messages are logged.  Returns 0/-1. */
int proxy_reload(void);
/* The sentinels agree on these masters: publish if anything changed. */
void proxy_set_masters(const struct route_master *m, int n);
/* A backend looked wrong (-READONLY, ROLE not master): ask the sentinel
 * watcher to look again now.  Any thread. */
void proxy_request_refresh(void);

/* Parse a node's "-MOVED <slot> <group>:<epoch>\r\n" (node/cluster/
 * slots.h).  0 with *slot and the group name in group (NUL-terminated;
 * group may be NULL), or -1 if raw is not such an error. */
int proxy_parse_moved(const char *raw, size_t len, unsigned *slot, char *group, size_t gsize);
/* A node answered -MOVED: count it, and if it names a group of the
 * topology other than the one the slot is routed to, route the slot
 * there from now on (logged) and ask the sentinels for fresh masters.
 * Any thread. */
void proxy_note_moved(const char *raw, size_t len);
/* Group `group`'s master says its table owns the slots of bitmap owned
 * (slotcheck_ask): route them there (changes logged; published once).
 * Any thread. */
void proxy_apply_claims(const char *group, const unsigned char *owned);

#endif
