/* pconf: strata-proxy's settings — the `proxy:` section of topology.yaml,
 * the command line, and the topology itself.
 *
 * Loading order (conf.h): table defaults, then the topology file given by
 * --config (its proxy: section fills struct proxy_settings), then flags.
 * --port and --bind are not settings of their own: they override the port
 * and the address of `listen`.  Without --config the proxy runs with one
 * group "default" holding every slot on 127.0.0.1:7000 (the node's default
 * port) and listens on 127.0.0.1:6379. */
#ifndef STRATA_PROXY_PCONF_H
#define STRATA_PROXY_PCONF_H

#include "buf.h"
#include "conf.h"
#include "tls.h"
#include "topology.h"

struct proxy_settings {
    char *listen;              /* host:port of the client endpoint */
    long long threads;         /* worker threads (SO_REUSEPORT listeners) */
    int read_from_replicas;    /* read-only commands may go to replicas */
    long long timeout_ms;      /* a backend request fails after this long */
    long long switch_wait_ms;  /* how long requests wait for a group whose
                                * master is unreachable (failover) */
    char *metrics_listen;      /* host:port of /metrics, "" = off */
    char *http_listen;         /* host:port of the HTTP API (http.c), "" = off */
    char *http_cors_origin;    /* its Access-Control-Allow-Origin, "" = no CORS */
    long long max_clients;     /* beyond this, new clients get an error */
    long long sentinel_poll_ms;/* fallback poll of the sentinels */
    char *slots_cache;         /* slot map cache file, "" = none (sentwatch.h) */
    int log_level;             /* LOG_LVL_*: the enum's names are in that order */
    char *aclfile;             /* the ACL users of clients (pacl.h), "" = none */
    int protected_mode;        /* refuse to start open on a non-loopback address */
    /* TLS on the client port and the links to the nodes (backend.c,
     * slotcheck.c) with tls_backend (common/tls.h), the node's names */
    TLS_SETTINGS;
    int tls_backend;
};

struct pconf {
    struct proxy_settings s;   /* owned strings: conf_free(pconf_fields) */
    struct topology topo;      /* owned: topo_free */
    int have_topo;
    int port_override;         /* --port, 0 if absent */
    char *bind_override;       /* --bind, owned, NULL if absent */
    char *log_path;            /* --log, owned, NULL if absent */
    char *config_path;         /* --config, owned copy, NULL if absent */
    char listen_host[256];     /* effective listen address after overrides */
    int listen_port;
};

/* The proxy: section's field table (NULL-terminated). */
const struct conf_field *pconf_fields(void);

/* Fill *pc from the command line (and the file it names).  *pc need not be
 * initialised.  Returns 0, 1 when the program should exit 0 at once
 * (--help/--version printed), -1 on error with messages in errs.  On -1
 * *pc is still safe to pconf_free. */
int pconf_load(struct pconf *pc, int argc, char **argv, int *test_only, buf *errs);
void pconf_free(struct pconf *pc);

#endif
