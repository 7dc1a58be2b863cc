/* http: see http.h. */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "httpapi.h"
#include "log.h"
#include "proxy.h"
#include "resp.h"
#include "route.h"
#include "worker.h"

static struct sockaddr_storage self_addr;
static int self_len;
static char password[512];

/* The topology's current password (main thread only: the text stays valid
 * until the next call). */
static const char *proxy_password(void)
{
    struct route *r = proxy_route_acquire();
    snprintf(password, sizeof password, "%s", r && r->password ? r->password : "");
    if (r) route_release(r);
    return password;
}

static long long proxy_max_bulk(void)
{
    return RESP_DEFAULT_MAX_BULK;
}

static int proxy_open_link(char *err, size_t errlen)
{
    int fd = socket(self_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "ERR cannot open a link: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&self_addr, (socklen_t)self_len) < 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "ERR cannot open a link: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int http_start(struct event_base *base, buf *errs)
{
    /* Connect to where the first worker listens: its real port (the
     * configured one may be 0), on loopback when it listens on every
     * address. */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(proxy_g.workers[0].lfd, (struct sockaddr *)&ss, &sl) < 0) {
        buf_printf(errs, "http_listen: cannot read the client listener's address: %s\n", strerror(errno));
        return -1;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        if (a->sin_addr.s_addr == htonl(INADDR_ANY)) a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        if (!memcmp(&a->sin6_addr, &in6addr_any, sizeof in6addr_any)) a->sin6_addr = in6addr_loopback;
    }
    self_addr = ss;
    self_len = (int)sl;
    struct httpapi_conf hc = {
        .program = "strata-proxy",
        .listen = proxy_g.conf.s.http_listen,
        .cors_origin = proxy_g.conf.s.http_cors_origin,
        .max_body = (size_t)RESP_DEFAULT_MAX_BULK,
        .password = proxy_password,
        .max_bulk = proxy_max_bulk,
        .open_link = proxy_open_link,
    };
    if (httpapi_start(base, &hc, errs) < 0) return -1;
    log_info("HTTP API on http://%s/ (port %d)", proxy_g.conf.s.http_listen, httpapi_port());
    return 0;
}

void http_stop(void)
{
    httpapi_stop();
}
