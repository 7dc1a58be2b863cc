/* http: strata-node's HTTP API (common/httpapi.h).  With `http_listen`
 * set, an evhttp server on the node's own loop takes every command as an
 * HTTP request and answers JSON.  Its links to the node are socketpairs
 * whose other end is an ordinary client (named "http" in CLIENT LIST), so
 * HTTP commands pass the same dispatcher, limits and group commit as RESP
 * ones and count against maxclients. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "httpapi.h"
#include "log.h"

static const char *node_password(void)
{
    return srv.cfg.requirepass ? srv.cfg.requirepass : "";
}

static long long node_max_bulk(void)
{
    return srv.cfg.proto_max_bulk_len;
}

static int node_open_link(char *err, size_t errlen)
{
    if ((long long)srv.nclients >= srv.cfg.maxclients) {
        snprintf(err, errlen, "ERR max number of clients reached");
        srv.stats.rejected++;
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "ERR cannot open a link: %s", strerror(errno));
        return -1;
    }
    client *c = client_create(sv[1]);
    snprintf(c->addr, sizeof c->addr, "http:%llu", (unsigned long long)c->id);
    snprintf(c->laddr, sizeof c->laddr, "%s", srv.cfg.http_listen);
    srv.stats.connections++;
    return sv[0];
}

void http_register(void)
{
    const char *addr = srv.cfg.http_listen;
    if (!addr || !*addr) return;
    struct httpapi_conf hc = {
        .program = "strata-node",
        .listen = addr,
        .cors_origin = srv.cfg.http_cors_origin,
        .max_body = (size_t)srv.cfg.client_query_buffer_limit,
        .password = node_password,
        .max_bulk = node_max_bulk,
        .open_link = node_open_link,
    };
    buf errs;
    buf_init(&errs);
    if (httpapi_start(srv.base, &hc, &errs) < 0) {
        while (errs.len && errs.data[errs.len - 1] == '\n') errs.len--;
        log_error("%.*s; exiting", (int)errs.len, errs.data);
        buf_free(&errs);
        exit(1);
    }
    buf_free(&errs);
    server_add_shutdown_hook(httpapi_stop);
    log_info("HTTP API on http://%s/ (port %d)", addr, httpapi_port());
}
