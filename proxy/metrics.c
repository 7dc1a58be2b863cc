/* metrics: see metrics.h. */
#include "metrics.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "stats.h"
#include "util.h"

static struct evhttp *http;

static void metrics_cb(struct evhttp_request *req, void *arg)
{
    buf text;
    buf_init(&text);
    stats_prometheus(&text);
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
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body, "strata-proxy: see /metrics\n");
    evhttp_send_reply(req, 404, "Not Found", body);
    evbuffer_free(body);
}

int metrics_start(struct event_base *base, const char *addr, buf *errs)
{
    char host[256];
    int port;
    if (parse_hostport(addr, host, sizeof host, &port) < 0) {
        buf_printf(errs, "metrics_listen: '%s' is not host:port\n", addr);
        return -1;
    }
    http = evhttp_new(base);
    if (!http || evhttp_bind_socket(http, host, (unsigned short)port) != 0) {
        buf_printf(errs, "cannot listen for /metrics on %s\n", addr);
        if (http) evhttp_free(http);
        http = NULL;
        return -1;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(http, "/metrics", metrics_cb, NULL);
    evhttp_set_gencb(http, other_cb, NULL);
    return 0;
}

void metrics_stop(void)
{
    if (http) evhttp_free(http);
    http = NULL;
}
