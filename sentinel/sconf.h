/* sconf: strata-sentinel's settings — the `sentinel:` section of
 * topology.yaml, the command line, and which entry of sentinel.addrs is
 * this sentinel.
 *
 * Order (conf.h): table defaults, then the topology file named by
 * --config, then --key-name flags.  --port, --bind, --dir and --log are
 * flags of their own (one file serves every sentinel, so they are not
 * YAML keys).  This sentinel's entry in sentinel.addrs is the one with its
 * port (and, when several share the port, its --bind address); the other
 * entries are its peers.  Without --config: one group "default" whose only
 * node is 127.0.0.1:7000, a single sentinel on 127.0.0.1:26379, quorum 1.
 * A topology without a sentinel: section gives a sentinel of its own
 * (no peers, quorum 1). */
#ifndef STRATA_SENTINEL_SCONF_H
#define STRATA_SENTINEL_SCONF_H

#include "buf.h"
#include "conf.h"
#include "topology.h"

struct sentinel_settings {
    long long quorum;              /* sentinels that must see a master down; 0 = majority */
    long long down_after_ms;       /* no valid PING reply for this long: subjectively down */
    long long failover_timeout_ms; /* a failover may take this long before another try */
    long long ping_ms;             /* PING / INFO period towards nodes and peers */
    long long timeout_ms;          /* connect / reply timeout of one link */
    int log_level;
    int protected_mode;            /* refuse to start open on a non-loopback --bind */
};

struct sconf {
    struct sentinel_settings s;    /* no owned strings */
    struct topology topo;          /* owned: topo_free */
    int have_topo;
    int port;
    char *bind;                    /* owned */
    char *dir;                     /* owned: STATE_DIR */
    char *log_path;                /* owned, NULL = stderr */
    char *config_path;             /* owned, NULL = embedded defaults */
    int self;                      /* index of this sentinel in topo.sentinels */
    int argc;                      /* the command line, kept for reloads */
    char **argv;                   /* borrowed from main */
};

const struct conf_field *sconf_fields(void);

/* Parse the command line (and the file it names) into *sc (need not be
 * initialised).  Returns 0, 1 when the program should exit 0 at once
 * (--help / --version), -1 with messages in errs.  *sc is always safe to
 * sconf_free afterwards. */
int sconf_load(struct sconf *sc, int argc, char **argv, int *test_only, buf *errs);

/* Re-read the configuration (file and the same command line) into *out.
 * Returns 0 or -1 (messages in errs;
 * *out then holds nothing to free). */
int sconf_reload(const struct sconf *sc, struct sconf *out, buf *errs);

void sconf_free(struct sconf *sc);

#endif
