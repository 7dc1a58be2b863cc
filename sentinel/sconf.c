/* sconf: settings of strata-sentinel.  See sconf.h. */
#include "sconf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define F(name) offsetof(struct sconf, s.name)

static const char *const level_names[] = { "debug", "info", "warning", "error", NULL };

static const struct conf_field sentinel_fields[] = {
    { "quorum", CONF_INT, F(quorum), "0", 0, 64, NULL, 0,
      "sentinels that must agree a master is down (0: a majority of sentinel.addrs)" },
    { "down_after_ms", CONF_INT, F(down_after_ms), "1000", 10, 3600000, NULL, 0,
      "a node without a valid PING reply for this long is subjectively down" },
    { "failover_timeout_ms", CONF_INT, F(failover_timeout_ms), "3000", 100, 3600000, NULL, 0,
      "a failover not finished in this time is retried (by another leader if need be)" },
    { "ping_ms", CONF_INT, F(ping_ms), "100", 10, 10000, NULL, 0,
      "period of PING and INFO replication towards nodes and of PING towards peers" },
    { "timeout_ms", CONF_INT, F(timeout_ms), "500", 10, 60000, NULL, 0,
      "a link that connects or answers slower than this is closed and reopened" },
    { "protected_mode", CONF_BOOL, F(protected_mode), "yes", 0, 0, NULL, 0,
      "refuse to start on a non-loopback --bind while the topology has no password" },
    { "log_level", CONF_ENUM, F(log_level), "info", 0, 0, level_names, 0,
      "debug, info, warning or error" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

const struct conf_field *sconf_fields(void)
{
    return sentinel_fields;
}

static int sconf_str_flag(char **dst, const char *flag, const char *value, buf *errs)
{
    if (!value || !*value) {
        buf_printf(errs, "%s: a value is required\n", flag);
        return -1;
    }
    free(*dst);
    *dst = xstrdup(value);
    return 1;
}

static int sconf_extra(void *obj, const char *flag, const char *value, buf *errs)
{
    struct sconf *sc = obj;
    if (!strcmp(flag, "--port") || !strcmp(flag, "-p")) {
        long long v;
        if (!value || str2ll(value, strlen(value), &v) < 0 || v < 1 || v > 65535) {
            buf_printf(errs, "--port: '%s' is not a port number (1..65535)\n", value ? value : "");
            return -1;
        }
        sc->port = (int)v;
        return 1;
    }
    if (!strcmp(flag, "--bind")) return sconf_str_flag(&sc->bind, flag, value, errs);
    if (!strcmp(flag, "--dir")) return sconf_str_flag(&sc->dir, flag, value, errs);
    if (!strcmp(flag, "--log")) return sconf_str_flag(&sc->log_path, flag, value, errs);
    return -1;
}

static int sconf_load_topology(void *obj, const char *path, buf *errs)
{
    struct sconf *sc = obj;
    struct topo_sections sec = { NULL, NULL, sconf_fields(), sc };
    if (sc->have_topo) {
        topo_free(&sc->topo);
        sc->have_topo = 0;
    }
    free(sc->config_path);
    sc->config_path = xstrdup(path);
    if (topo_load(path, &sc->topo, &sec, errs) < 0) return -1;
    sc->have_topo = 1;
    return 0;
}

static const struct conf_cli sentinel_cli = {
    "strata-sentinel",
    "  --port N              listen on this port (default 26379); also picks this\n"
    "                        sentinel's entry in sentinel.addrs\n"
    "  --bind ADDR           listen on this address (default 127.0.0.1)\n"
    "  --dir PATH            state directory: epochs, current masters, votes\n"
    "                        (default ./strata-sentinel-state)\n"
    "  --log FILE            log to FILE instead of stderr\n"
    "  SIGHUP re-reads the topology; SIGTERM/SIGINT stop the sentinel.\n",
    sconf_extra,
    sconf_load_topology,
};

/* The embedded topology: one group on the node's default port. */
/* Find this sentinel in sentinel.addrs; add it when the topology has no
 * sentinel: section.  Returns 0 or -1. */
static int sconf_find_self(struct sconf *sc, buf *errs)
{
    struct topology *t = &sc->topo;
    if (!t->has_sentinel || t->nsentinels == 0) {
        free(t->sentinels);
        t->sentinels = xcalloc(1, sizeof *t->sentinels);
        t->sentinels[0].host = xstrdup(sc->bind);
        t->sentinels[0].port = sc->port;
        t->nsentinels = 1;
        sc->self = 0;
        return 0;
    }
    int found = -1, same_port = 0;
    for (int i = 0; i < t->nsentinels; i++) {
        if (t->sentinels[i].port != sc->port) continue;
        same_port++;
        if (!strcmp(t->sentinels[i].host, sc->bind) || found < 0) found = i;
    }
    if (same_port > 1 && strcmp(t->sentinels[found].host, sc->bind) != 0) found = -1;
    if (found < 0) {
        buf_printf(errs, "%s: this sentinel (%s:%d) is not listed in sentinel.addrs%s\n",
                   sc->config_path ? sc->config_path : "(defaults)", sc->bind, sc->port,
                   same_port > 1 ? " (several entries use this port: give --bind)" : "");
        return -1;
    }
    sc->self = found;
    if (sc->s.quorum > t->nsentinels) {
        buf_printf(errs, "sentinel.quorum: %lld is more than the %d sentinels listed\n",
                   sc->s.quorum, t->nsentinels);
        return -1;
    }
    return 0;
}

int sconf_load(struct sconf *sc, int argc, char **argv, int *test_only, buf *errs)
{
    memset(sc, 0, sizeof *sc);
    sc->argc = argc;
    sc->argv = argv;
    sc->port = 26379;
    sc->bind = xstrdup("127.0.0.1");
    sc->dir = xstrdup("./strata-sentinel-state");
    const char *cfg = NULL;
    int rc = conf_parse_cli(&sentinel_cli, sconf_fields(), sc, argc, argv, &cfg, test_only, errs);
    if (rc != 0) return rc;
    if (!sc->have_topo) {
        topo_default(&sc->topo);
        sc->have_topo = 1;
    }
    return sconf_find_self(sc, errs);
}

int sconf_reload(const struct sconf *sc, struct sconf *out, buf *errs)
{
    int test_only = 0;
    int rc = sconf_load(out, sc->argc, sc->argv, &test_only, errs);
    if (rc != 0) {
        sconf_free(out);
        return -1;
    }
    return 0;
}

void sconf_free(struct sconf *sc)
{
    conf_free(sconf_fields(), sc);
    if (sc->have_topo) topo_free(&sc->topo);
    sc->have_topo = 0;
    free(sc->bind);
    free(sc->dir);
    free(sc->log_path);
    free(sc->config_path);
    sc->bind = sc->dir = sc->log_path = sc->config_path = NULL;
}
