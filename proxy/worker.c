/* worker: event loop threads.  See worker.h. */
#include "worker.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend.h"
#include "client.h"
#include "log.h"
#include "msg.h"
#include "proxy.h"
#include "route.h"
#include "tls.h"
#include "util.h"

#define TICK_MS 10

static int listen_on(const char *host, int port, int reuseport, buf *errs)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0 || !res) {
        buf_printf(errs, "cannot resolve listen address %s: %s\n", host, gai_strerror(gai));
        if (res) freeaddrinfo(res);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        buf_printf(errs, "socket: %s\n", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 511) < 0) {
        buf_printf(errs, "cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    struct worker *w = arg;
    int tls = lfd == w->tls_lfd;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char host[INET6_ADDRSTRLEN] = "?", addr[64];
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
            port = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
            port = ntohs(s6->sin6_port);
        }
        snprintf(addr, sizeof addr, "%s:%d", host, port);
        long total = 0;
        for (int k = 0; k < proxy_g.nworkers; k++)
            total += (long)STAT_GET(proxy_g.workers[k].stats.clients);
        if (total >= proxy_g.conf.s.max_clients) {
            /* Plain text only where the client speaks it: a TLS client
             * just sees the connection close (as on the node). */
            static const char msg[] = "-ERR max number of clients reached\r\n";
            STAT_ADD(w->stats.rejected, 1);
            if (!tls && write(fd, msg, sizeof msg - 1) < 0) { /* best effort */ }
            close(fd);
            continue;
        }
        tls_conn *t = NULL;
        if (tls && !(t = tls_conn_accept(proxy_g.tls_ctx, fd))) {
            log_warn("accept: no memory for a TLS connection");
            close(fd);
            continue;
        }
        client_create(w, fd, addr, tls ? w->tls_laddr : w->laddr, t);
    }
}

/* The shared link to `a` in protocol `proto`, or NULL. */
static struct backend *pool_find(struct worker *w, const struct route_addr *a, const char *group,
                                 int proto)
{
    for (int i = 0; i < w->npool; i++) {
        struct backend *b = w->pool[i];
        if (b->port == a->port && b->proto == proto && !strcmp(b->host, a->host)) {
            b->retired = 0;
            snprintf(b->group, sizeof b->group, "%s", group);
            return b;
        }
    }
    return NULL;
}

static struct backend *pool_get(struct worker *w, const struct route_addr *a, const char *group,
                                int proto)
{
    struct backend *found = pool_find(w, a, group, proto);
    if (found) return found;
    if (w->npool == w->cappool) {
        w->cappool = w->cappool ? w->cappool * 2 : 8;
        w->pool = xrealloc(w->pool, sizeof *w->pool * (size_t)w->cappool);
    }
    struct backend *b = backend_create(w, a->host, a->port, group, NULL, proto);
    w->pool[w->npool++] = b;
    return b;
}

static void free_maps(struct worker *w, int ngroups)
{
    if (w->grepl) {
        for (int g = 0; g < ngroups; g++) {
            free(w->grepl[g]);
            free(w->grepl3[g]);
        }
    }
    free(w->grepl);
    free(w->grepl3);
    free(w->ngrepl);
    free(w->gmaster);
    free(w->gmaster3);
    w->grepl = w->grepl3 = NULL;
    w->ngrepl = NULL;
    w->gmaster = w->gmaster3 = NULL;
}

/* Point every group at its links for snapshot r (taking over the
 * reference).  Links no longer named are retired: they finish what they
 * carry and close; requests still waiting on them move to the new master
 * of their group, so a failover does not fail what was waiting for it. */
static void apply_route(struct worker *w, struct route *r)
{
    struct route *old = w->route;
    if (old) free_maps(w, old->ngroups);
    w->route = r;
    for (int i = 0; i < w->npool; i++) {
        w->pool[i]->retired = 1;
        w->pool[i]->gidx = -1;
        w->pool[i]->as_master = 0;
    }
    int ng = r->ngroups;
    w->gmaster = xcalloc((size_t)(ng ? ng : 1), sizeof *w->gmaster);
    w->grepl = xcalloc((size_t)(ng ? ng : 1), sizeof *w->grepl);
    w->gmaster3 = xcalloc((size_t)(ng ? ng : 1), sizeof *w->gmaster3);
    w->grepl3 = xcalloc((size_t)(ng ? ng : 1), sizeof *w->grepl3);
    w->ngrepl = xcalloc((size_t)(ng ? ng : 1), sizeof *w->ngrepl);
    for (int g = 0; g < ng; g++) {
        struct route_group *rg = &r->groups[g];
        w->gmaster[g] = pool_get(w, &rg->master, rg->name, RESP2);
        w->gmaster[g]->gidx = g;
        w->gmaster[g]->as_master = 1;
        /* RESP3 links exist only once a RESP3 client needed them: keep
         * those that still serve the group, open no new ones. */
        w->gmaster3[g] = pool_find(w, &rg->master, rg->name, RESP3);
        if (w->gmaster3[g]) {
            w->gmaster3[g]->gidx = g;
            w->gmaster3[g]->as_master = 1;
        }
        if (r->read_from_replicas && rg->nreplicas > 0) {
            w->grepl[g] = xcalloc((size_t)rg->nreplicas, sizeof **w->grepl);
            w->grepl3[g] = xcalloc((size_t)rg->nreplicas, sizeof **w->grepl3);
            for (int i = 0; i < rg->nreplicas; i++) {
                struct backend *b = pool_get(w, &rg->replicas[i], rg->name, RESP2);
                w->grepl3[g][w->ngrepl[g]] = pool_find(w, &rg->replicas[i], rg->name, RESP3);
                w->grepl[g][w->ngrepl[g]++] = b;
            }
        }
        atomic_store_explicit(&rg->stats[w->id].up, w->gmaster[g]->state == BS_UP,
                              memory_order_relaxed);
    }
    for (int i = 0; i < w->npool; i++) {
        struct backend *b = w->pool[i];
        if (!b->retired || !b->wait_head) continue;
        int g = route_find_group(r, b->group);
        if (g < 0) continue;
        struct backend *to = worker_backend_for(w, g, 0, b->proto);
        if (to != b) backend_move_waiters(b, to);
    }
    if (old) route_release(old);
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct route *r = proxy_route_acquire();
    if (r == w->route) {
        route_release(r);
        return;
    }
    log_debug("worker %d: routing snapshot %llu", w->id, (unsigned long long)r->version);
    apply_route(w, r);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    uint64_t now = mono_us();
    w->now_us = now;
    for (int i = 0; i < w->npool; i++) {
        struct backend *b = w->pool[i];
        backend_tick(b, now);
        if (b->retired && backend_idle(b)) {
            w->pool[i] = w->pool[--w->npool];
            backend_destroy(b, "retired");
            i--;
        }
    }
    for (struct client *c = w->clients, *next; c; c = next) {
        next = c->next;
        client_tick(c, now);
        if (c->closing && !c->in_flush) worker_want_flush_client(w, c);
    }
}

int worker_init(struct worker *w, int id, const char *host, int port, int tls_port, int reuseport,
                buf *errs)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->lfd = w->tls_lfd = -1;
    w->rnd = (unsigned)(now_us() ^ ((uint64_t)id << 16));
    w->base = event_base_new();
    if (!w->base) {
        buf_printf(errs, "event_base_new failed\n");
        return -1;
    }
    w->lfd = listen_on(host, port, reuseport, errs);
    if (w->lfd < 0) return -1;
    snprintf(w->laddr, sizeof w->laddr, "%s:%d", host, port);
    snprintf(w->tls_laddr, sizeof w->tls_laddr, "%s:%d", host, tls_port);
    if (tls_port) {
        w->tls_lfd = listen_on(host, tls_port, reuseport, errs);
        if (w->tls_lfd < 0) return -1;
    }
    w->now_us = mono_us();
    apply_route(w, proxy_route_acquire());
    w->accept_ev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, accept_cb, w);
    w->tick_ev = event_new(w->base, -1, EV_PERSIST, tick_cb, w);
    w->notify_ev = event_new(w->base, -1, 0, notify_cb, w);
    event_add(w->accept_ev, NULL);
    if (w->tls_lfd >= 0) {
        w->tls_accept_ev = event_new(w->base, w->tls_lfd, EV_READ | EV_PERSIST, accept_cb, w);
        event_add(w->tls_accept_ev, NULL);
    }
    struct timeval tv = { 0, TICK_MS * 1000 };
    event_add(w->tick_ev, &tv);
    return 0;
}

static void worker_flush(struct worker *w)
{
    struct backend *b;
    while ((b = w->bflush)) {
        w->bflush = b->flush_next;
        b->in_flush = 0;
        backend_flush(b);
    }
    struct client *c;
    while ((c = w->cflush)) {
        w->cflush = c->flush_next;
        c->in_flush = 0;
        client_flush(c);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load(&w->stop)) {
        event_base_loop(w->base, EVLOOP_ONCE);
        worker_flush(w);
    }
    client_thread_cleanup();
    return NULL;
}

int worker_start(struct worker *w)
{
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_stop(struct worker *w)
{
    atomic_store(&w->stop, 1);
    if (w->base) event_base_loopbreak(w->base);
    pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
    while (w->clients) client_destroy(w->clients);
    for (int i = 0; i < w->npool; i++) backend_destroy(w->pool[i], "proxy shutting down");
    free(w->pool);
    w->pool = NULL;
    w->npool = 0;
    if (w->route) {
        free_maps(w, w->route->ngroups);
        route_release(w->route);
        w->route = NULL;
    }
    while (w->free_msgs) {
        struct msg *m = w->free_msgs;
        w->free_msgs = m->next;
        buf_free(&m->reply);
        buf_free(&m->fwd_req);
        free(m);
    }
    while (w->free_frags) {
        struct frag *f = w->free_frags;
        w->free_frags = f->next;
        buf_free(&f->req);
        free(f);
    }
    if (w->accept_ev) event_free(w->accept_ev);
    if (w->tls_accept_ev) event_free(w->tls_accept_ev);
    if (w->tls_lfd >= 0) close(w->tls_lfd);
    if (w->tick_ev) event_free(w->tick_ev);
    if (w->notify_ev) event_free(w->notify_ev);
    if (w->lfd >= 0) close(w->lfd);
    if (w->base) event_base_free(w->base);
    w->base = NULL;
}

void worker_notify(struct worker *w)
{
    if (w->notify_ev) event_active(w->notify_ev, EV_READ, 0);
}

/* The RESP3 twin of RESP2 link b2 (same server, same role), opened on
 * first use. */
static struct backend *resp3_twin(struct worker *w, struct backend **slot, struct backend *b2,
                                  int g)
{
    if (!*slot) {
        struct route_addr a;
        memset(&a, 0, sizeof a);
        snprintf(a.host, sizeof a.host, "%s", b2->host);
        a.port = b2->port;
        *slot = pool_get(w, &a, b2->group, RESP3);
        (*slot)->gidx = g;
        (*slot)->as_master = b2->as_master;
    }
    return *slot;
}

struct backend *worker_backend_for(struct worker *w, int g, int is_read, int proto)
{
    if (is_read && w->ngrepl[g] > 0) {
        int n = w->ngrepl[g];
        for (int i = 0; i < n; i++) {
            int k = (int)((w->rr + (unsigned)i) % (unsigned)n);
            struct backend *b = w->grepl[g][k];
            if (b->state == BS_UP) {
                w->rr++;
                if (proto != RESP3) return b;
                struct backend *b3 = resp3_twin(w, &w->grepl3[g][k], b, g);
                /* until the RESP3 twin is up, its master serves */
                if (b3->state == BS_UP) return b3;
                break;
            }
        }
    }
    if (proto != RESP3) return w->gmaster[g];
    return resp3_twin(w, &w->gmaster3[g], w->gmaster[g], g);
}

void worker_want_flush_client(struct worker *w, struct client *c)
{
    if (c->in_flush) return;
    c->in_flush = 1;
    c->flush_next = w->cflush;
    w->cflush = c;
}

void worker_want_flush_backend(struct worker *w, struct backend *b)
{
    if (b->in_flush) return;
    b->in_flush = 1;
    b->flush_next = w->bflush;
    w->bflush = b;
}
