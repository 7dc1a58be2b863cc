/* backend: pipelined links to servers.  See backend.h.
 *
 * Reply framing: bytes read from the socket are appended to `in`; the
 * link's reply_scanner (common/reply.h) finds where the reply starting at
 * in_off ends, resuming where it stopped when a reply spans reads, and
 * builds nothing, so each reply is passed on exactly as it arrived:
 *
 *     in[in_off .. in_off + end)
 *
 * Every link authenticates as the route's node_user: the topology's
 * users.proxy, else the default user with its password (no AUTH when
 * that is empty).  RESP3 links (proto 3) open with HELLO 3, carrying the
 * AUTH.  On them a push (>) is not the reply to any request: it goes
 * to the owner of a private link (pub/sub messages, invalidations) and
 * is dropped on a shared one, so it can never complete another client's
 * fragment.
 *
 * TLS (tls_backend): reads and writes go through conn_read/conn_write
 * (tls.h).  A read that must write first, or a write that must read,
 * waits for the other event (tls_wait), and decrypted bytes OpenSSL still
 * holds after a read re-arm the read event themselves, since the socket
 * will not signal them: the pattern of client.c's client_read. */
#include "backend.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "client.h"
#include "log.h"
#include "merge.h"
#include "msg.h"
#include "proxy.h"
#include "route.h"
#include "script.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

enum { HS_NONE = 0, HS_AUTH = 1, HS_ROLE = 2, HS_HELLO = 3, HS_EXTRA = 4 };

#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define READ_CHUNK (16 * 1024)

static void backend_connect(struct backend *b);
static int backend_down(struct backend *b, const char *why);
static int flush_out(struct backend *b);

static struct route_gstat *gstat(struct backend *b)
{
    struct route *r = b->w->route;
    if (!r || b->gidx < 0 || b->gidx >= r->ngroups) return NULL;
    return &r->groups[b->gidx].stats[b->w->id];
}

static void set_up_flag(struct backend *b, int up)
{
    struct route_gstat *g = gstat(b);
    if (g && !b->owner) atomic_store_explicit(&g->up, up, memory_order_relaxed);
}

/* Complete a fragment with an error reply built from `why`. */
static void frag_fail(struct backend *b, struct frag *f, const char *prefix, const char *why)
{
    if (!f->msg) return;
    char line[512];
    int n = snprintf(line, sizeof line, "-ERR %s %s:%d (group %s): %s\r\n", prefix, b->host,
                     b->port, b->group, why);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    struct route_gstat *g = gstat(b);
    if (g) STAT_ADD(g->errors, 1);
    client_frag_done(f, line, (size_t)n, 1);
    f->msg = NULL;
}

static void fifo_push(struct backend *b, struct frag *f)
{
    f->next = NULL;
    if (b->tail) b->tail->next = f;
    else b->head = f;
    b->tail = f;
    if (!b->expire) b->expire = f;
    b->inflight++;
}

static struct frag *fifo_pop(struct backend *b)
{
    struct frag *f = b->head;
    if (!f) return NULL;
    b->head = f->next;
    if (!b->head) b->tail = NULL;
    if (b->expire == f) b->expire = f->next;
    b->inflight--;
    f->next = NULL;
    return f;
}

static void wait_push(struct backend *b, struct frag *f)
{
    f->next = NULL;
    if (b->wait_tail) b->wait_tail->next = f;
    else b->wait_head = f;
    b->wait_tail = f;
    b->nwait++;
}

struct backend *backend_create_held(struct worker *w, const char *host, int port,
                                    const char *group, struct client *owner, int proto)
{
    struct backend *b = xcalloc(1, sizeof *b);
    b->w = w;
    snprintf(b->host, sizeof b->host, "%s", host);
    b->port = port;
    snprintf(b->group, sizeof b->group, "%s", group ? group : "");
    b->owner = owner;
    b->fd = -1;
    b->gidx = -1;
    b->state = BS_DOWN;
    b->proto = proto == RESP3 ? RESP3 : RESP2;
    reply_scanner_init(&b->scan);
    buf_init(&b->hs_extra);
    buf_init(&b->out);
    buf_init(&b->in);
    b->backoff_ms = BACKOFF_MIN_MS;
    snprintf(b->last_err, sizeof b->last_err, "not connected yet");
    b->down_since_us = mono_us();
    b->hs_int = -1;
    b->held = 1;
    return b;
}

void backend_release(struct backend *b)
{
    if (!b->held) return;
    b->held = 0;
    backend_connect(b);
}

struct backend *backend_create(struct worker *w, const char *host, int port, const char *group,
                               struct client *owner, int proto)
{
    struct backend *b = backend_create_held(w, host, port, group, owner, proto);
    backend_release(b);
    return b;
}

static void close_socket(struct backend *b)
{
    if (b->rev) event_free(b->rev);
    if (b->wev) event_free(b->wev);
    b->rev = b->wev = NULL;
    tls_conn_destroy(b->tls); /* its close_notify, before the fd goes */
    b->tls = NULL;
    b->tls_wait = 0;
    b->tls_failed = 0;
    if (b->fd >= 0) close(b->fd);
    b->fd = -1;
}

static void fail_all_sent(struct backend *b, const char *why)
{
    struct frag *f;
    while ((f = fifo_pop(b))) {
        if (!f->hs) frag_fail(b, f, "backend", why);
        frag_put(b->w, f);
    }
    b->expire = NULL;
}

static void fail_all_waiting(struct backend *b, const char *why)
{
    struct frag *f = b->wait_head;
    while (f) {
        struct frag *next = f->next;
        frag_fail(b, f, "backend unavailable", why);
        frag_put(b->w, f);
        f = next;
    }
    b->wait_head = b->wait_tail = NULL;
    b->nwait = 0;
}

void backend_destroy(struct backend *b, const char *why)
{
    if (!b) return;
    fail_all_sent(b, why);
    fail_all_waiting(b, why);
    close_socket(b);
    if (b->retry_ev) event_free(b->retry_ev);
    buf_free(&b->hs_extra);
    buf_free(&b->out);
    buf_free(&b->in);
    script_set_free(b->shas);
    if (b->in_flush) {
        /* Unlink from the worker's flush list. */
        struct backend **pp = &b->w->bflush;
        while (*pp && *pp != b) pp = &(*pp)->flush_next;
        if (*pp) *pp = b->flush_next;
    }
    free(b);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct backend *b = arg;
    if (b->state == BS_CONNECTING || b->state == BS_HANDSHAKE) {
        char why[sizeof b->last_err];
        snprintf(why, sizeof why, "%s", b->last_err);
        backend_down(b, why);
        return;
    }
    if (b->state == BS_DOWN) backend_connect(b);
}

static void arm_timer(struct backend *b, unsigned ms)
{
    if (!b->retry_ev) b->retry_ev = evtimer_new(b->w->base, retry_cb, b);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(b->retry_ev, &tv);
}

static long long link_timeout_ms(struct backend *b)
{
    return b->w->route ? b->w->route->timeout_ms : 2000;
}

/* The link went down.  Sent fragments fail; waiting ones stay (shared
 * links) until their deadline or the next connection.  Private links are
 * handed back to their client, which frees them.  Returns -1 when `b` no
 * longer exists. */
static int backend_down(struct backend *b, const char *why)
{
    int was_up = b->state == BS_UP;
    /* TLS failing is a matter of configuration (the CA, the certificates,
     * a plain port named as a TLS one): a warning. */
    if (b->state != BS_DOWN && b->tls_failed)
        log_warn("backend %s:%d (group %s%s) down: %s", b->host, b->port, b->group,
                 b->owner ? ", private" : "", why);
    else if (b->state != BS_DOWN)
        log_info("backend %s:%d (group %s%s) down: %s", b->host, b->port, b->group,
                 b->owner ? ", private" : "", why);
    snprintf(b->last_err, sizeof b->last_err, "%s", why);
    close_socket(b);
    fail_all_sent(b, why);
    reply_scanner_init(&b->scan);
    buf_clear(&b->out);
    b->out_off = 0;
    buf_clear(&b->in);
    b->in_off = 0;
    b->hs_pending = 0;
    b->state = BS_DOWN;
    if (was_up) b->down_since_us = mono_us();
    set_up_flag(b, 0);
    if (b->owner) {
        fail_all_waiting(b, why);
        client_priv_lost(b->owner, b);
        return -1;
    }
    arm_timer(b, b->backoff_ms);
    b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
    return 0;
}

static void want_flush(struct backend *b)
{
    worker_want_flush_backend(b->w, b);
}

/* Handshake done: send what waited, in order. */
static void backend_ready(struct backend *b)
{
    b->state = BS_UP;
    b->backoff_ms = BACKOFF_MIN_MS;
    if (b->retry_ev) evtimer_del(b->retry_ev);
    set_up_flag(b, 1);
    struct route_gstat *g = gstat(b);
    if (g) STAT_ADD(g->reconnects, 1);
    log_debug("backend %s:%d up, %ld waiting", b->host, b->port, b->nwait);
    struct frag *f = b->wait_head;
    b->wait_head = b->wait_tail = NULL;
    b->nwait = 0;
    uint64_t now = mono_us();
    while (f) {
        struct frag *next = f->next;
        if (f->hs == -1) {
            /* raw tunnel bytes: no reply is matched to them */
            buf_append(&b->out, f->req.data, f->req.len);
            frag_put(b->w, f);
        } else if (!f->msg) {
            frag_put(b->w, f);     /* its client left or it timed out */
        } else {
            buf_append(&b->out, f->req.data, f->req.len);
            buf_clear(&f->req);
            f->sent_us = now;
            fifo_push(b, f);
        }
        f = next;
    }
    want_flush(b);
    if (b->owner) client_link_ready(b->owner, b);
}

static void send_hs(struct backend *b, int step, const char *req, size_t len)
{
    struct frag *f = frag_get(b->w);
    f->hs = step;
    f->sent_us = mono_us();
    f->deadline_us = f->sent_us + (uint64_t)link_timeout_ms(b) * 1000;
    buf_append(&b->out, req, len);
    fifo_push(b, f);
    b->hs_pending++;
}

static void on_connected(struct backend *b)
{
    b->state = BS_HANDSHAKE;
    script_set_clear(b->shas);   /* a new server process may answer */
    struct route *r = b->w->route;
    if (b->proto == RESP3) {
        /* HELLO 3 switches the link, and authenticates it in the same
         * round trip when the nodes have a password or the proxy a user
         * of its own (users.proxy). */
        const char *auth[3];
        int n = r ? topo_auth_argv(&r->node_user, auth) : 0;
        buf req;
        buf_init(&req);
        char *argv[5] = { "HELLO", "3", "AUTH", r ? r->node_user.user : "", r ? r->node_user.password : "" };
        size_t lens[5] = { 5, 1, 4, strlen(argv[3]), strlen(argv[4]) };
        merge_add_cmd(&req, n ? 5 : 2, argv, lens);
        send_hs(b, HS_HELLO, req.data, req.len);
        buf_free(&req);
    } else {
        const char *auth[3];
        int n = r ? topo_auth_argv(&r->node_user, auth) : 0;
        if (n) {
            /* AUTH password (the default user, as before) or AUTH user password */
            buf req;
            buf_init(&req);
            char *argv[3] = { "AUTH", r->node_user.user, r->node_user.password };
            if (n == 2) argv[1] = r->node_user.password;
            size_t lens[3] = { 4, strlen(argv[1]), strlen(argv[2]) };
            merge_add_cmd(&req, n, argv, lens);
            send_hs(b, HS_AUTH, req.data, req.len);
            buf_free(&req);
        }
    }
    /* Only a link used as a master must be one; a replica link (reads,
     * read_from_replicas) answers "slave" and is right to. */
    if (r && r->has_sentinel && !b->owner && b->as_master) {
        static const char role[] = "*1\r\n$4\r\nROLE\r\n";
        send_hs(b, HS_ROLE, role, sizeof role - 1);
    }
    if (b->hs_extra.len) {
        /* The owner's own set-up (CLIENT TRACKING ...): its reply must not
         * be an error, like AUTH's. */
        send_hs(b, HS_EXTRA, b->hs_extra.data, b->hs_extra.len);
    }
    if (b->hs_pending == 0) {
        backend_ready(b);
    } else {
        snprintf(b->last_err, sizeof b->last_err, "handshake timeout");
        arm_timer(b, (unsigned)link_timeout_ms(b));
        want_flush(b);
    }
}

/* Handle one handshake reply.  Returns -1 if `b` was freed. */
static int handle_hs(struct backend *b, int step, const char *raw, size_t len, int is_err)
{
    if ((step == HS_AUTH || step == HS_HELLO || step == HS_EXTRA) && is_err) {
        char why[200];
        snprintf(why, sizeof why, "%s failed: %.*s",
                 step == HS_AUTH ? "AUTH" : step == HS_HELLO ? "HELLO 3" : "set-up",
                 (int)(len > 2 ? len - 3 : 0), raw + 1);
        return backend_down(b, why);
    }
    if (step == HS_EXTRA && len > 3 && raw[0] == ':') {
        long long v;
        if (str2ll(raw + 1, len - 3, &v) == 0) b->hs_int = v;
    }
    if (step == HS_ROLE) {
        char role[32];
        merge_first_string(raw, len, role, sizeof role);
        if (!is_err && strcmp(role, "master") != 0) {
            log_warn("backend %s:%d (group %s) reports role '%s', not master: asking the sentinels",
                     b->host, b->port, b->group, role);
            proxy_request_refresh();
            return backend_down(b, "not a master (ROLE)");
        }
    }
    if (--b->hs_pending == 0) backend_ready(b);
    return 0;
}

/* One complete reply of type `type`.  Returns -1 if `b` was freed. */
static int deliver(struct backend *b, const char *raw, size_t len, int is_err, char type)
{
    if (type == '>' && b->proto == RESP3) {
        if (b->owner) client_push(b->owner, b, raw, len);
        else log_debug("backend %s:%d: push on a shared link dropped", b->host, b->port);
        return 0;
    }
    if (b->tunnel && (!b->head || !b->head->hs)) {
        struct frag *f = fifo_pop(b);
        if (f) {
            if (f->msg) f->msg->frags[f->idx] = NULL;
            frag_put(b->w, f);
        }
        client_tunnel_data(b->owner, b, raw, len);
        return 0;
    }
    if (b->head && b->head->skip > 0) {
        b->head->skip--;        /* +OK of MULTI, +QUEUED of a queued command */
        return 0;
    }
    struct frag *f = fifo_pop(b);
    if (!f) return backend_down(b, "reply without a request");
    int rc = 0;
    if (f->hs) {
        int step = f->hs;
        frag_put(b->w, f);
        return handle_hs(b, step, raw, len, is_err);
    }
    if (is_err && len > 9 && memcmp(raw, "-READONLY", 9) == 0 && !b->owner) {
        log_warn("backend %s:%d (group %s) answered -READONLY: asking the sentinels", b->host,
                 b->port, b->group);
        proxy_request_refresh();
    }
    if (is_err && len > 7 && memcmp(raw, "-MOVED ", 7) == 0) proxy_note_moved(raw, len);
    if (f->msg) {
        if (is_err) {
            struct route_gstat *g = gstat(b);
            if (g) STAT_ADD(g->errors, 1);
        }
        client_frag_done(f, raw, len, is_err);
    }
    frag_put(b->w, f);
    return rc;
}

/* A read or write of the link failed with errno e: down, with the reason
 * (TLS's own when the link is TLS; EPROTO marks a TLS failure). */
static int io_failed(struct backend *b, int e)
{
    char why[sizeof b->last_err];
    snprintf(why, sizeof why, "%s", b->tls ? tls_conn_error(b->tls) : strerror(e));
    b->tls_failed = b->tls && e == EPROTO;
    backend_down(b, why);
    return -1;
}

/* The TLS handshake of a link in CONNECTING (tls_backend), driven by both
 * events under the connect timer.  Once done, the link's own handshake
 * (HELLO/AUTH/ROLE) starts.  A failure, such as a node certificate that
 * does not chain to tls_ca_cert_file, is logged with OpenSSL's reason
 * and the link is down (retried with backoff).  Returns -1 if the link
 * went down. */
static int tls_step(struct backend *b)
{
    if (tls_conn_handshake(b->tls) == 0) {
        if (b->retry_ev) evtimer_del(b->retry_ev);
        log_debug("backend %s:%d: %s", b->host, b->port, tls_conn_protocol(b->tls));
        on_connected(b);
        return 0;
    }
    if (errno == EAGAIN) {
        /* rev is on (persistent) since the connect; writability is asked for */
        if (tls_conn_wants(b->tls) == TLS_WANT_WRITE) event_add(b->wev, NULL);
        return 0;
    }
    return io_failed(b, EPROTO);
}

/* Read what the socket (or OpenSSL) has and deliver the complete replies.
 * Returns -1 if the link went down (and `b` may no longer exist). */
static int backend_read(struct backend *b)
{
    b->w->now_us = mono_us();
    b->tls_wait &= ~BACKEND_TLS_READ_WANTS_WRITE;
    for (int rounds = 0; rounds < 4; rounds++) {
        buf_reserve(&b->in, READ_CHUNK);
        ssize_t n = conn_read(b->fd, b->tls, b->in.data + b->in.len, b->in.cap - b->in.len);
        if (n == 0) {
            backend_down(b, "connection closed by server");
            return -1;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (b->tls && tls_conn_wants(b->tls) == TLS_WANT_WRITE) {
                    /* write_cb reads again */
                    b->tls_wait |= BACKEND_TLS_READ_WANTS_WRITE;
                    event_add(b->wev, NULL);
                }
                break;
            }
            if (errno == EINTR) continue;
            return io_failed(b, errno);
        }
        b->in.len += (size_t)n;
        for (;;) {
            size_t end = 0;
            int rc = reply_scan(&b->scan, b->in.data + b->in_off, b->in.len - b->in_off, &end);
            if (rc == REPLY_AGAIN) break;
            if (rc == REPLY_ERR) {
                char why[160];
                snprintf(why, sizeof why, "bad reply: %s", b->scan.err);
                backend_down(b, why);
                return -1;
            }
            const char *raw = b->in.data + b->in_off;
            b->in_off += end;
            if (deliver(b, raw, end, b->scan.is_error, b->scan.type) < 0) return -1;
            if (b->fd < 0) return -1;
        }
        if (b->in_off == b->in.len) {
            b->in.len = b->in_off = 0;
        } else if (b->in_off > 0) {
            buf_consume(&b->in, b->in_off);
            b->in_off = 0;
        }
        if ((size_t)n < READ_CHUNK) break;
    }
    if (b->in.cap > (1u << 20) && b->in.len < 4096) buf_shrink(&b->in, 64 * 1024);
    if (b->tls) {
        /* Decrypted bytes OpenSSL holds make no readiness event: come
         * back for them on this loop iteration (fairly, after others). */
        if (conn_pending(b->tls) && event_pending(b->rev, EV_READ, NULL)) event_active(b->rev, EV_READ, 1);
        if (b->tls_wait & BACKEND_TLS_WRITE_WANTS_READ) {
            /* the read a stopped flush waited for has happened */
            b->tls_wait &= ~BACKEND_TLS_WRITE_WANTS_READ;
            if (flush_out(b) < 0) return -1;
        }
    }
    return 0;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct backend *b = arg;
    if (b->state == BS_CONNECTING) {
        if (b->tls) tls_step(b);
        return;
    }
    backend_read(b);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct backend *b = arg;
    if (b->state == BS_CONNECTING) {
        if (b->tls) {
            tls_step(b);
            return;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
        if (err) {
            backend_down(b, strerror(err));
            return;
        }
        event_add(b->rev, NULL);
        if (proxy_g.backend_tls_ctx) {
            /* The connect timer goes on: it bounds the TLS handshake too. */
            b->tls = tls_conn_connect(proxy_g.backend_tls_ctx, b->fd, NULL);
            if (!b->tls) {
                backend_down(b, "no memory for a TLS connection");
                return;
            }
            snprintf(b->last_err, sizeof b->last_err, "TLS handshake timeout");
            tls_step(b);
            return;
        }
        if (b->retry_ev) evtimer_del(b->retry_ev);
        on_connected(b);
        return;
    }
    if ((b->tls_wait & BACKEND_TLS_READ_WANTS_WRITE) && backend_read(b) < 0) return;
    backend_flush(b);
}

/* A connection attempt failed before any event: report it from the timer,
 * so that backend_create never calls back into its caller. */
static void connect_failed(struct backend *b, const char *why)
{
    snprintf(b->last_err, sizeof b->last_err, "%s", why);
    b->state = BS_CONNECTING;
    arm_timer(b, 0);
}

static void backend_connect(struct backend *b)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", b->port);
    int gai = getaddrinfo(b->host, port, &hints, &res);
    if (gai != 0 || !res) {
        if (res) freeaddrinfo(res);
        connect_failed(b, gai_strerror(gai));
        return;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        connect_failed(b, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    int cerr = errno;
    freeaddrinfo(res);
    b->fd = fd;
    b->rev = event_new(b->w->base, fd, EV_READ | EV_PERSIST, read_cb, b);
    b->wev = event_new(b->w->base, fd, EV_WRITE, write_cb, b);
    if (rc < 0 && cerr != EINPROGRESS) {
        connect_failed(b, strerror(cerr));
        return;
    }
    b->state = BS_CONNECTING;
    snprintf(b->last_err, sizeof b->last_err, "connect timeout");
    event_add(b->wev, NULL);
    arm_timer(b, (unsigned)link_timeout_ms(b));
}

void backend_send(struct backend *b, struct frag *f, const char *req, size_t len,
                  uint64_t deadline_us)
{
    f->deadline_us = deadline_us;
    if (b->state == BS_UP) {
        f->sent_us = b->w->now_us;
        buf_append(&b->out, req, len);
        fifo_push(b, f);
        want_flush(b);
    } else {
        buf_append(&f->req, req, len);
        wait_push(b, f);
        if (b->state == BS_DOWN && b->owner == NULL && b->retry_ev &&
            !evtimer_pending(b->retry_ev, NULL))
            backend_connect(b);
    }
}

void backend_send_raw(struct backend *b, const char *req, size_t len)
{
    if (b->state == BS_UP) {
        buf_append(&b->out, req, len);
        want_flush(b);
    } else {
        struct frag *f = frag_get(b->w);
        f->hs = -1;
        buf_append(&f->req, req, len);
        wait_push(b, f);
    }
}

void backend_flush(struct backend *b)
{
    flush_out(b);
}

/* backend_flush.  Returns -1 if the link went down (and `b` may no longer
 * exist). */
static int flush_out(struct backend *b)
{
    if (b->fd < 0 || b->state == BS_CONNECTING) return 0;
    while (b->out_off < b->out.len) {
        /* A TLS write that stopped is retried from the same byte, with
         * more appended behind it perhaps (tls.h allows both). */
        ssize_t n = conn_write(b->fd, b->tls, b->out.data + b->out_off, b->out.len - b->out_off);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (b->tls && tls_conn_wants(b->tls) == TLS_WANT_READ)
                    b->tls_wait |= BACKEND_TLS_WRITE_WANTS_READ; /* backend_read flushes again */
                else
                    event_add(b->wev, NULL);
                return 0;
            }
            return io_failed(b, errno);
        }
        b->out_off += (size_t)n;
    }
    b->out.len = b->out_off = 0;
    if (b->out.cap > (1u << 20)) buf_shrink(&b->out, 64 * 1024);
    return 0;
}

void backend_tick(struct backend *b, uint64_t now)
{
    /* Sent fragments past their deadline: fail them, keep the link. */
    while (b->expire && b->expire->deadline_us && b->expire->deadline_us <= now) {
        struct frag *f = b->expire;
        b->expire = f->next;
        if (f->hs) {
            backend_down(b, "handshake timeout");
            return;
        }
        if (f->msg) {
            struct route_gstat *g = gstat(b);
            if (g) STAT_ADD(g->timeouts, 1);
            STAT_ADD(b->w->stats.timeouts, 1);
            frag_fail(b, f, "timeout waiting for backend", "no reply within timeout_ms");
        }
    }
    /* A server that has not answered for four timeouts is hung: reconnect. */
    struct frag *h = b->head;
    if (h && h->deadline_us > h->sent_us &&
        now > h->sent_us + 4 * (h->deadline_us - h->sent_us)) {
        backend_down(b, "no reply for 4 x timeout_ms");
        return;
    }
    /* Waiting fragments past their deadline. */
    struct frag **pp = &b->wait_head, *prev = NULL;
    while (*pp) {
        struct frag *f = *pp;
        if (f->hs != -1 && (!f->msg || (f->deadline_us && f->deadline_us <= now))) {
            *pp = f->next;
            if (b->wait_tail == f) b->wait_tail = prev;
            b->nwait--;
            if (f->msg) {
                struct route_gstat *g = gstat(b);
                if (g) STAT_ADD(g->timeouts, 1);
                STAT_ADD(b->w->stats.timeouts, 1);
                frag_fail(b, f, "backend unavailable", b->last_err);
            }
            frag_put(b->w, f);
            continue;
        }
        prev = f;
        pp = &f->next;
    }
}

void backend_move_waiters(struct backend *from, struct backend *to)
{
    struct frag *f = from->wait_head;
    from->wait_head = from->wait_tail = NULL;
    from->nwait = 0;
    while (f) {
        struct frag *next = f->next;
        if (!f->msg) {
            frag_put(from->w, f);
        } else if (to->state == BS_UP) {
            f->sent_us = to->w->now_us;
            buf_append(&to->out, f->req.data, f->req.len);
            buf_clear(&f->req);
            fifo_push(to, f);
            want_flush(to);
        } else {
            wait_push(to, f);
        }
        f = next;
    }
}

int backend_idle(const struct backend *b)
{
    return b->head == NULL && b->wait_head == NULL;
}
