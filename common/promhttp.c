/* promhttp: see promhttp.h. */
#include "promhttp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "util.h"

static struct evhttp *http;
static promhttp_render_fn *render_fn;
static const char *program_name;

static void metrics_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    buf text;
    buf_init(&text);
    render_fn(&text);
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, text.data ? text.data : "", text.len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
    buf_free(&text);
}

static void other_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body, "%s: see /metrics\n", program_name);
    evhttp_send_reply(req, 404, "Not Found", body);
    evbuffer_free(body);
}

int promhttp_start(struct event_base *base, const char *addr, const char *program,
                   promhttp_render_fn *render, buf *errs)
{
    char host[256];
    int port;
    if (parse_hostport(addr, host, sizeof host, &port) < 0) {
        buf_printf(errs, "metrics_listen: '%s' is not HOST:PORT\n", addr);
        return -1;
    }
    http = evhttp_new(base);
    errno = 0;
    if (!http || evhttp_bind_socket(http, host, (unsigned short)port) != 0) {
        /* errno is bind's (EADDRINUSE, EADDRNOTAVAIL, ...); it stays 0 when
         * the host name did not resolve. */
        int e = errno;
        buf_printf(errs, "cannot listen for /metrics on %s (metrics_listen): %s\n", addr,
                   e ? strerror(e) : "host not found");
        promhttp_stop();
        return -1;
    }
    render_fn = render;
    program_name = program;
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(http, "/metrics", metrics_cb, NULL);
    evhttp_set_gencb(http, other_cb, NULL);
    return 0;
}

void promhttp_stop(void)
{
    if (http) evhttp_free(http);
    http = NULL;
}

long long proc_rss_bytes(void)
{
    long long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lld %lld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}
