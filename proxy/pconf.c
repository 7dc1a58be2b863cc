/* pconf: settings of strata-proxy.  See pconf.h. */
#include "pconf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls.h"
#include "util.h"

#define F(name) offsetof(struct pconf, s.name)

static const char *const level_names[] = { "debug", "info", "warning", "error", NULL };

static const struct conf_field proxy_fields[] = {
    { "listen", CONF_STR, F(listen), "127.0.0.1:6379", 0, 0, NULL, 0,
      "host:port clients connect to" },
    { "threads", CONF_INT, F(threads), "1", 1, 64, NULL, 0,
      "worker threads, each with its own listener and backend links" },
    { "read_from_replicas", CONF_BOOL, F(read_from_replicas), "no", 0, 0, NULL, 1,
      "send read-only commands to a replica of the group when one is up" },
    { "timeout_ms", CONF_INT, F(timeout_ms), "2000", 1, 3600000, NULL, 1,
      "a request waiting longer than this for its backend fails with -ERR" },
    { "switch_wait_ms", CONF_INT, F(switch_wait_ms), "5000", 0, 3600000, NULL, 1,
      "with sentinels, how long requests wait for a group without a reachable master" },
    { "metrics_listen", CONF_STR, F(metrics_listen), "", 0, 0, NULL, 0,
      "host:port of the Prometheus /metrics endpoint (empty: off)" },
    { "http_listen", CONF_STR, F(http_listen), "", 0, 0, NULL, 0,
      "host:port (or port, on 127.0.0.1) of the HTTP API, every command in JSON (empty: off)" },
    { "http_cors_origin", CONF_STR, F(http_cors_origin), "", 0, 0, NULL, 0,
      "Access-Control-Allow-Origin of the HTTP API's replies, \"*\" or an origin (empty: no CORS)" },
    { "max_clients", CONF_INT, F(max_clients), "10000", 1, 1000000, NULL, 1,
      "client connections beyond this are refused with -ERR" },
    { "sentinel_poll_ms", CONF_INT, F(sentinel_poll_ms), "1000", 50, 600000, NULL, 1,
      "how often the sentinels are asked for each group's master" },
    { "slots_cache", CONF_STR, F(slots_cache), "", 0, 0, NULL, 0,
      "file keeping the last slot map from the sentinels, read at start when none answers (empty: none)" },
    { "aclfile", CONF_STR, F(aclfile), "", 0, 0, NULL, 0,
      "ACL file of the client users (read at start and by ACL LOAD); empty: the default user only, "
      "with the topology's password" },
    { "protected_mode", CONF_BOOL, F(protected_mode), "yes", 0, 0, NULL, 0,
      "refuse to start on a non-loopback listen or http_listen while the default user needs no password" },
    { "log_level", CONF_ENUM, F(log_level), "info", 0, 0, level_names, 1,
      "debug, info, warning or error" },
    /* TLS on the client port (tls.h): the node's names (node/server/config.c),
     * also spelt tls-port and so on.  The TLS listener is on the address of
     * `listen`, next to the plain port, which stays.  Read at start only. */
    { "tls_port", CONF_INT, F(tls_port), "0", 0, 65535, NULL, 0,
      "TCP port of TLS clients, on the address of listen (0: none)" },
    { "tls_cert_file", CONF_STR, F(tls_cert_file), "", 0, 0, NULL, 0,
      "PEM certificate (chain) of the TLS port" },
    { "tls_key_file", CONF_STR, F(tls_key_file), "", 0, 0, NULL, 0, "PEM private key of tls_cert_file" },
    { "tls_ca_cert_file", CONF_STR, F(tls_ca_cert_file), "", 0, 0, NULL, 0,
      "PEM CA certificates client certificates (and, with tls_backend, the nodes') must chain to" },
    { "tls_ca_cert_dir", CONF_STR, F(tls_ca_cert_dir), "", 0, 0, NULL, 0, "or a hashed directory of them" },
    { "tls_auth_clients", CONF_ENUM, F(tls_auth_clients), "yes", 0, 0, tls_auth_names, 0,
      "client certificates: yes (required), optional (checked if sent), no" },
    { "tls_protocols", CONF_STR, F(tls_protocols), "", 0, 0, NULL, 0,
      "TLS versions allowed, e.g. \"TLSv1.2 TLSv1.3\" (empty: those two)" },
    { "tls_ciphers", CONF_STR, F(tls_ciphers), "", 0, 0, NULL, 0,
      "TLSv1.2 ciphers, OpenSSL's syntax (empty: OpenSSL's)" },
    { "tls_ciphersuites", CONF_STR, F(tls_ciphersuites), "", 0, 0, NULL, 0,
      "TLSv1.3 ciphersuites (empty: OpenSSL's)" },
    { "tls_prefer_server_ciphers", CONF_BOOL, F(tls_prefer_server_ciphers), "no", 0, 0, NULL, 0,
      "the server's cipher order wins" },
    /* TLS on the links to the nodes (Redis's tls-replication and
     * tls-cluster for the proxy's own links): the groups' addresses are
     * then the nodes' TLS ports.  The nodes' certificates are verified
     * against tls_ca_cert_file/dir; tls_protocols and the ciphers apply. */
    { "tls_backend", CONF_BOOL, F(tls_backend), "no", 0, 0, NULL, 0,
      "connect to the nodes over TLS (the topology's node addresses are their tls_port)" },
    { "tls_client_cert_file", CONF_STR, F(tls_client_cert_file), "", 0, 0, NULL, 0,
      "PEM certificate the proxy presents to the nodes (empty: tls_cert_file)" },
    { "tls_client_key_file", CONF_STR, F(tls_client_key_file), "", 0, 0, NULL, 0,
      "PEM private key of tls_client_cert_file (empty: tls_key_file)" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

const struct conf_field *pconf_fields(void)
{
    return proxy_fields;
}

static int pconf_extra(void *obj, const char *flag, const char *value, buf *errs)
{
    struct pconf *pc = obj;
    if (!strcmp(flag, "--port") || !strcmp(flag, "-p")) {
        long long v;
        if (!value || str2ll(value, strlen(value), &v) < 0 || v < 1 || v > 65535) {
            buf_printf(errs, "--port: '%s' is not a port number (1..65535)\n", value ? value : "");
            return -1;
        }
        pc->port_override = (int)v;
        return 1;
    }
    if (!strcmp(flag, "--bind")) {
        if (!value || !*value) {
            buf_printf(errs, "--bind: an address is required\n");
            return -1;
        }
        free(pc->bind_override);
        pc->bind_override = xstrdup(value);
        return 1;
    }
    if (!strcmp(flag, "--log")) {
        if (!value || !*value) {
            buf_printf(errs, "--log: a file name is required\n");
            return -1;
        }
        free(pc->log_path);
        pc->log_path = xstrdup(value);
        return 1;
    }
    return -1;
}

static int pconf_load_topology(void *obj, const char *path, buf *errs)
{
    struct pconf *pc = obj;
    struct topo_sections sec = { pconf_fields(), pc, NULL, NULL };
    if (pc->have_topo) {
        topo_free(&pc->topo);
        pc->have_topo = 0;
    }
    free(pc->config_path);
    pc->config_path = xstrdup(path);
    if (topo_load(path, &pc->topo, &sec, errs) < 0) return -1;
    pc->have_topo = 1;
    return 0;
}

static const struct conf_cli proxy_cli = {
    "strata-proxy",
    "  --port N              listen on this port (overrides proxy.listen)\n"
    "  --bind ADDR           listen on this address (overrides proxy.listen)\n"
    "  --log FILE            log to FILE instead of stderr\n"
    "  SIGHUP reloads the topology; SIGTERM/SIGINT stop the proxy.\n",
    pconf_extra,
    pconf_load_topology,
};

int pconf_load(struct pconf *pc, int argc, char **argv, int *test_only, buf *errs)
{
    memset(pc, 0, sizeof *pc);
    const char *cfg = NULL;
    int rc = conf_parse_cli(&proxy_cli, pconf_fields(), pc, argc, argv, &cfg, test_only, errs);
    if (rc != 0) return rc;
    if (!pc->have_topo) {
        topo_default(&pc->topo);
        pc->have_topo = 1;
    }
    if (parse_hostport(pc->s.listen, pc->listen_host, sizeof pc->listen_host,
                       &pc->listen_port) < 0) {
        buf_printf(errs, "proxy.listen: '%s' is not host:port\n", pc->s.listen);
        return -1;
    }
    if (pc->bind_override)
        snprintf(pc->listen_host, sizeof pc->listen_host, "%s", pc->bind_override);
    if (pc->port_override) pc->listen_port = pc->port_override;
    if (pc->s.tls_port && pc->s.tls_port == pc->listen_port) {
        buf_printf(errs, "proxy.tls_port: %lld is also the plain port (listen)\n", pc->s.tls_port);
        return -1;
    }
    if (!(pc->s.tls_client_cert_file && *pc->s.tls_client_cert_file) !=
        !(pc->s.tls_client_key_file && *pc->s.tls_client_key_file)) {
        buf_printf(errs, "proxy.tls_client_cert_file and proxy.tls_client_key_file go together\n");
        return -1;
    }
    if (pc->s.metrics_listen && *pc->s.metrics_listen) {
        char h[256];
        int p;
        if (parse_hostport(pc->s.metrics_listen, h, sizeof h, &p) < 0) {
            buf_printf(errs, "proxy.metrics_listen: '%s' is not host:port\n", pc->s.metrics_listen);
            return -1;
        }
    }
    return 0;
}

void pconf_free(struct pconf *pc)
{
    conf_free(pconf_fields(), pc);
    if (pc->have_topo) topo_free(&pc->topo);
    pc->have_topo = 0;
    free(pc->bind_override);
    free(pc->log_path);
    free(pc->config_path);
    pc->bind_override = pc->log_path = pc->config_path = NULL;
}
