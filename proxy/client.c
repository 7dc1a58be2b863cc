/* client: client connections and the router.  See client.h.
 *
 * Request path: read -> resp_parse -> client_dispatch -> (local reply |
 * one fragment forwarded as received | fragments of a split command).
 * Reply path: backend -> client_frag_done -> msg done -> drain the queue
 * head while done -> client->out -> written at the end of the loop
 * iteration (worker.c). */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend.h"
#include "client_internal.h"
#include "cmdmeta.h"
#include "cmdtable.h"
#include "local.h"
#include "pacl.h"
#include "log.h"
#include "merge.h"
#include "msg.h"
#include "proxy.h"
#include "reply.h"
#include "route.h"
#include "slot.h"
#include "stats.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#define CLIENT_READ_CHUNK (16 * 1024)
#define MAX_KEYS_STACK 64

const char client_err_crossslot[] = "CROSSSLOT Keys in request don't hash to the same slot";

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);
static void forward_invalidation(struct client *c, const char *raw, size_t len);

/* Close every link of a per-group table (the slots become NULL). */
static void links_close(struct backend **links, int n, const char *why)
{
    for (int g = 0; g < n; g++) {
        struct backend *b = links[g];
        links[g] = NULL;
        if (b) backend_destroy(b, why);
    }
}

/* The slot of group g in a per-group table, grown to the route's size. */
static struct backend **link_slot(struct client *c, struct backend ***links, int *n, int g)
{
    int want = c->w->route->ngroups > g + 1 ? c->w->route->ngroups : g + 1;
    if (*n < want) {
        *links = xrealloc(*links, sizeof **links * (size_t)want);
        for (int i = *n; i < want; i++) (*links)[i] = NULL;
        *n = want;
    }
    return &(*links)[g];
}

/* A new private RESP3-or-RESP2 link of c to group g's master. */
static struct backend *link_open(struct client *c, int g, int proto)
{
    struct route_group *rg = &c->w->route->groups[g];
    struct backend *b = backend_create(c->w, rg->master.host, rg->master.port, rg->name, c, proto);
    b->gidx = g;
    return b;
}

void client_create(struct worker *w, int fd, const char *addr, const char *laddr, tls_conn *tls)
{
    struct client *c = xcalloc(1, sizeof *c);
    c->w = w;
    c->fd = fd;
    c->tls = tls;
    c->id = ++w->next_client_id * 64 + (uint64_t)w->id;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    snprintf(c->laddr, sizeof c->laddr, "%s", laddr);
    resp_parser_init(&c->parser);
    buf_init(&c->in);
    buf_init(&c->out);
    buf_init(&c->tx_buf);
    buf_init(&c->tx_shas);
    buf_init(&c->tracking_opts);
    c->proto = RESP2;
    c->tx_group = c->watch_group = -1;
    c->created_ms = now_ms();
    pacl_client_init(c);
    c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, read_cb, c);
    c->wev = event_new(w->base, fd, EV_WRITE, write_cb, c);
    c->next = w->clients;
    if (w->clients) w->clients->prev = c;
    w->clients = c;
    w->nclients++;
    STAT_ADD(w->stats.conns_total, 1);
    STAT_ADD(w->stats.clients, 1);
    event_add(c->rev, NULL);
}

void client_destroy(struct client *c)
{
    struct worker *w = c->w;
    pacl_client_free(c);
    struct msg *m = c->head;
    while (m) {
        struct msg *next = m->next;
        msg_put(w, m);
        m = next;
    }
    c->head = c->tail = NULL;
    c->tunnel = NULL;
    c->push_wait = NULL;
    if (c->moved_ev) event_free(c->moved_ev);
    c->moved_msg = NULL;
    if (c->priv) {
        struct backend *b = c->priv;
        c->priv = NULL;
        backend_destroy(b, "client closed");
    }
    links_close(c->sub, c->nsub, "client closed");
    links_close(c->trk, c->ntrk, "client closed");
    links_close(c->inv, c->ninv, "client closed");
    links_close(c->adm, c->nadm, "client closed");
    free(c->adm);
    free(c->sub);
    free(c->trk);
    free(c->inv);
    if (c->in_flush) {
        struct client **pp = &w->cflush;
        while (*pp && *pp != c) pp = &(*pp)->flush_next;
        if (*pp) *pp = c->flush_next;
    }
    if (c->prev) c->prev->next = c->next;
    else w->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nclients--;
    STAT_ADD(w->stats.clients, (uint64_t)-1);
    event_free(c->rev);
    event_free(c->wev);
    tls_conn_destroy(c->tls); /* its close_notify, before the fd goes */
    close(c->fd);
    resp_parser_free(&c->parser);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->tx_buf);
    buf_free(&c->tx_shas);
    buf_free(&c->tracking_opts);
    free(c->name);
    free(c);
}

static void want_flush(struct client *c)
{
    worker_want_flush_client(c->w, c);
}

/* ---- reply ordering ---- */

static void finish_msg_stats(struct client *c, struct msg *m)
{
    stats_record(&c->w->stats, m->cmd, mono_us() - m->start_us, m->failed);
}

/* Move every finished msg at the head of the queue to the output. */
static void drain(struct client *c)
{
    struct msg *m;
    while ((m = c->head)) {
        if (!m->done) {
            /* A tunnel or an (un)subscription at the head: what it
             * gathered so far goes out now, and what comes later goes
             * straight to the output (client_tunnel_data, client_push). */
            if ((m->kind == MSG_TUNNEL || m->kind == MSG_PUSHCMD) && m->reply.len) {
                buf_append(&c->out, m->reply.data, m->reply.len);
                buf_clear(&m->reply);
            }
            break;
        }
        if (m->reply.len) buf_append(&c->out, m->reply.data, m->reply.len);
        if (c->push_wait == m) c->push_wait = NULL;
        c->head = m->next;
        if (!c->head) c->tail = NULL;
        c->nmsgs--;
        if (m->kind != MSG_TUNNEL) finish_msg_stats(c, m);
        msg_put(c->w, m);
    }
    want_flush(c);
}

static struct msg *msg_new(struct client *c, const struct cmd_spec *spec, enum msg_kind kind)
{
    struct msg *m = msg_get(c->w);
    m->c = c;
    m->cmd = spec ? (int)spec->id : -1;
    m->kind = kind;
    m->proto = c->proto;
    m->start_us = c->w->now_us;
    if (c->tail) c->tail->next = m;
    else c->head = m;
    c->tail = m;
    c->nmsgs++;
    return m;
}

/* Local replies: straight to the output when nothing is pending before
 * them, else into a finished msg that waits for its turn. */
static buf *local_begin(struct client *c, struct msg **mp)
{
    if (!c->head) {
        *mp = NULL;
        return &c->out;
    }
    *mp = msg_new(c, NULL, MSG_LOCAL);
    return &(*mp)->reply;
}

static void local_end(struct client *c, struct msg *m, int cmd, int failed)
{
    if (m) {
        m->cmd = cmd;
        m->done = 1;
        m->failed = failed;
    } else {
        stats_record(&c->w->stats, cmd, 0, failed);
        want_flush(c);
    }
}

static void reply_error(struct client *c, int cmd, const char *err)
{
    struct msg *m;
    buf *out = local_begin(c, &m);
    resp_add_error(out, err);
    local_end(c, m, cmd, 1);
}

static void reply_raw(struct client *c, int cmd, const char *raw, size_t len)
{
    struct msg *m;
    buf *out = local_begin(c, &m);
    buf_append(out, raw, len);
    local_end(c, m, cmd, raw[0] == '-');
}


static void send_frag(struct client *c, struct msg *m, int idx, int g, struct backend *b,
                      const char *req, size_t len, int blocking);
static struct backend *link_for(struct client *c, int g, int is_read);
static struct backend *priv_for(struct client *c, int g);

/* The -MOVED hop of a blocking command: its private link to the old group
 * may not be closed from inside that link's reply callback, so the new
 * private link is opened from here, on the next loop turn. */
static void moved_resend_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    struct msg *m = c->moved_msg;
    (void)fd;
    (void)what;
    c->moved_msg = NULL;
    if (!m || c->closing) return;
    send_frag(c, m, 0, c->moved_group, priv_for(c, c->moved_group), m->fwd_req.data,
              m->fwd_req.len, 1);
}

/* A forwarded request got "-MOVED <slot> <group>:<epoch>" (node/cluster/
 * slots.h): the node does not own the slot and names the group that does.
 * The proxy's map learns it (proxy_note_moved) and the request is resent
 * there, once.  Returns 1 if it was resent. */
static int follow_moved(struct client *c, struct msg *m, struct frag *f, const char *raw, size_t len)
{
    unsigned slot;
    char group[256];
    int gi = -1;
    if (m->moved || m->fwd_req.len == 0 || c->tracking_fwd) return 0;
    if (proxy_parse_moved(raw, len, &slot, group, sizeof group) < 0) return 0;
    struct route *r = c->w->route;
    for (int i = 0; i < r->ngroups; i++)
        if (!strcmp(r->groups[i].name, group)) gi = i;
    if (gi < 0 || gi == f->gidx) return 0;
    m->moved = 1;
    atomic_fetch_add(&proxy_g.moved_resent, 1);
    if (m->fwd_blocking) {
        static const struct timeval now = { 0, 0 };
        if (!c->moved_ev) c->moved_ev = evtimer_new(c->w->base, moved_resend_cb, c);
        c->moved_msg = m;
        c->moved_group = gi;
        evtimer_add(c->moved_ev, &now);
        return 1;
    }
    send_frag(c, m, 0, gi, link_for(c, gi, m->fwd_is_read), m->fwd_req.data, m->fwd_req.len, 0);
    return 1;
}

void client_frag_done(struct frag *f, const char *raw, size_t len, int is_error)
{
    struct msg *m = f->msg;
    struct client *c = m->c;
    m->frags[f->idx] = NULL;
    f->msg = NULL;
    if (m->kind == MSG_TUNNEL) {
        client_tunnel_data(c, c->priv, raw, len);
        return;
    }
    if (m->kind == MSG_PUSHCMD) {
        /* The marker's reply: the pushes before it were the reply.  An
         * error (the link failed) is passed on. */
        m->failed = is_error;
        if (is_error) {
            if (m == c->head) buf_append(&c->out, raw, len);
            else buf_append(&m->reply, raw, len);
        }
        m->done = 1;
        if (m == c->head) drain(c);
        return;
    }
    if (m->kind == MSG_FORWARD || m->kind == MSG_EVAL) {
        if (is_error && follow_moved(c, m, f, raw, len)) return;
        if (m->kind == MSG_EVAL && is_error && client_eval_heal(c, m, f->gidx, raw, len)) return;
        m->failed = is_error;
        if (m == c->head) {
            /* The common case: no copy through m->reply. */
            buf_append(&c->out, raw, len);
            m->done = 1;
            drain(c);
        } else {
            buf_append(&m->reply, raw, len);
            m->done = 1;
        }
        return;
    }
    buf_append(&m->replies[f->idx], raw, len);
    if (--m->npending > 0) return;
    buf *out = m == c->head ? &c->out : &m->reply;
    size_t before = out->len;
    switch (m->kind) {
    case MSG_MGET: merge_mget(out, m->proto, m->replies, m->nfrags, m->keyfrag, m->nkeys); break;
    case MSG_SUM: merge_sum(out, m->replies, m->nfrags); break;
    case MSG_ALL_OK: merge_all_ok(out, m->replies, m->nfrags); break;
    case MSG_CONCAT: merge_concat(out, m->replies, m->nfrags); break;
    case MSG_RANDOM:
        merge_random(out, m->proto, m->replies, m->nfrags, (unsigned)rand_r(&c->w->rnd));
        break;
    case MSG_SCAN: merge_scan(out, &m->replies[0], m->scan_group, m->scan_ngroups); break;
    case MSG_INFO: merge_info(out, m->proto, m->text, m->textlen, m->replies, m->nfrags); break;
    case MSG_SAME: merge_same(out, m->replies, m->nfrags); break;
    case MSG_EXISTS: merge_exists_and(out, m->replies, m->nfrags); break;
    case MSG_KILL: merge_kill(out, m->replies, m->nfrags); break;
    case MSG_IDENTICAL: client_merge_identical(c, m, out); break;
    default: resp_add_error(out, "ERR internal: bad merge kind"); break;
    }
    m->failed = out->len > before && out->data[before] == '-';
    m->done = 1;
    if (m == c->head) drain(c);
}

/* "*3\r\n$11\r\nunsubscribe\r\n...:0\r\n": the last subscription is gone
 * and the connection leaves pub/sub mode. */
static int ends_pubsub(const char *raw, size_t len)
{
    static const char u[] = "*3\r\n$11\r\nunsubscribe\r\n";
    static const char p[] = "*3\r\n$12\r\npunsubscribe\r\n";
    if (len < 5 || memcmp(raw + len - 4, ":0\r\n", 4) != 0) return 0;
    return (len > sizeof u && !strncasecmp(raw, u, sizeof u - 1)) ||
           (len > sizeof p && !strncasecmp(raw, p, sizeof p - 1));
}

/* The first element of an array or push, if a bulk string, into kind
 * (NUL-terminated, truncated), else "". */
static void first_word(const char *raw, size_t len, char *kind, size_t size)
{
    struct reply_hdr h, eh;
    struct reply_iter it;
    const char *e;
    size_t elen;
    kind[0] = '\0';
    if (reply_header(raw, len, &h) < 0 || (h.type != REPLY_ARRAY && h.type != REPLY_PUSH) || h.n < 1)
        return;
    reply_iter_init(&it, raw, len, &h);
    if (reply_next(&it, &e, &elen) == 0 && reply_header(e, elen, &eh) == 0 &&
        eh.type == REPLY_STRING)
        snprintf(kind, size, "%.*s", (int)eh.len, eh.str);
}

/* A pub/sub confirmation (as opposed to a message). */
static int is_confirmation(const char *kind)
{
    return !strcasecmp(kind, "subscribe") || !strcasecmp(kind, "unsubscribe") ||
           !strcasecmp(kind, "psubscribe") || !strcasecmp(kind, "punsubscribe") ||
           !strcasecmp(kind, "ssubscribe") || !strcasecmp(kind, "sunsubscribe");
}

/* Is b one of c's pub/sub links for groups other than the pub/sub group
 * (whose confirmations the client must not see twice)? */
static int is_secondary_sub(struct client *c, struct backend *b)
{
    int pg = route_pubsub_group(c->w->route);
    for (int g = 0; g < c->nsub; g++)
        if (c->sub[g] == b) return g != pg || c->proto == RESP2;
    return 0;
}

void client_push(struct client *c, struct backend *b, const char *raw, size_t len)
{
    char kind[32];
    first_word(raw, len, kind, sizeof kind);
    for (int g = 0; g < c->ninv; g++) {
        if (c->inv[g] != b) continue;
        if (!strcasecmp(kind, "invalidate")) forward_invalidation(c, raw, len);
        return;
    }
    if (is_confirmation(kind)) {
        if (is_secondary_sub(c, b)) return;
        struct msg *m = b->head ? b->head->msg : NULL;
        if (m && m->kind == MSG_PUSHCMD && m != c->head) {
            buf_append(&m->reply, raw, len);
            return;
        }
    } else if (c->push_wait && c->push_wait != c->head) {
        /* A message must not overtake the confirmation of its
         * subscription, which waits in push_wait for its turn. */
        buf_append(&c->push_wait->reply, raw, len);
        return;
    }
    buf_append(&c->out, raw, len);
    want_flush(c);
}

void client_tunnel_data(struct client *c, struct backend *b, const char *raw, size_t len)
{
    if (b && b != c->priv) {
        /* Another group's subscriptions: its messages (keyspace events)
         * are passed on, its confirmations were the tunnel's too. */
        char kind[32];
        first_word(raw, len, kind, sizeof kind);
        if (!c->tunnel || is_confirmation(kind) || raw[0] != '*') return;
        if (c->tunnel == c->head) {
            buf_append(&c->out, raw, len);
            want_flush(c);
        } else {
            buf_append(&c->tunnel->reply, raw, len);
        }
        return;
    }
    struct msg *m = c->tunnel;
    if (!m) {
        buf_append(&c->out, raw, len);
        want_flush(c);
        return;
    }
    if (m == c->head) buf_append(&c->out, raw, len);
    else buf_append(&m->reply, raw, len);
    if (ends_pubsub(raw, len)) {
        c->tunnel = NULL;
        if (c->priv) c->priv->tunnel = 0;
        links_close(c->sub, c->nsub, "pub/sub ended");
        m->done = 1;
        if (m == c->head) {
            /* its bytes are already out */
            buf_clear(&m->reply);
        }
    }
    if (m == c->head) drain(c);
}

void client_priv_lost(struct client *c, struct backend *b)
{
    for (int g = 0; g < c->nsub; g++) {
        if (c->sub[g] != b) continue;
        /* A subscriber whose server went away: close, as Redis would. */
        c->sub[g] = NULL;
        backend_destroy(b, "pub/sub link lost");
        c->closing = 1;
        want_flush(c);
        return;
    }
    for (int g = 0; g < c->ninv; g++) {
        if (c->inv[g] != b) continue;
        c->inv[g] = NULL;
        backend_destroy(b, "tracking redirect link lost");
        c->closing = 1;
        want_flush(c);
        return;
    }
    for (int g = 0; g < c->ntrk; g++) {
        if (c->trk[g] != b) continue;
        /* Invalidations from that group may have been lost: the client's
         * cache can no longer be trusted, so close, and the client starts
         * afresh on its next connection. */
        c->trk[g] = NULL;
        backend_destroy(b, "tracking link lost");
        c->closing = 1;
        want_flush(c);
        return;
    }
    for (int g = 0; g < c->nadm; g++) {
        if (c->adm[g] != b) continue;
        c->adm[g] = NULL;   /* (SCRIPT KILL's fragment failed with it) */
        backend_destroy(b, "admin link lost");
        return;
    }
    if (c->priv == b) c->priv = NULL;
    backend_destroy(b, "private link lost");
    if (c->watch_group >= 0) c->watch_lost = 1;
    c->watch_group = -1;
    if (c->tunnel) {
        /* A subscriber whose server went away: close, as Redis would. */
        struct msg *m = c->tunnel;
        c->tunnel = NULL;
        m->done = 1;
        c->closing = 1;
        if (m == c->head) drain(c);
        want_flush(c);
    }
}

/* ---- routing helpers ---- */

static long long deadline_for(struct client *c, struct backend *b)
{
    struct route *r = c->w->route;
    long long ms = r->timeout_ms;
    if (b->state != BS_UP && r->has_sentinel && r->switch_wait_ms > ms) ms = r->switch_wait_ms;
    return (long long)c->w->now_us + ms * 1000;
}

static void count_request(struct client *c, int g)
{
    struct route *r = c->w->route;
    if (g >= 0 && g < r->ngroups) STAT_ADD(r->groups[g].stats[c->w->id].requests, 1);
}

/* Per-thread scratch buffers for re-encoded requests (one set per worker
 * thread; freed with the thread's memory at exit). */
static _Thread_local buf scratch, scratch2;

/* CLIENT CACHING for the command being dispatched (0, 1 yes, 2 no): it is
 * sent just before each of the command's fragments on tracking links,
 * and its +OK dropped (frag->skip). */
static _Thread_local int caching_now;

/* Send one fragment of m to backend b. */
static void send_frag(struct client *c, struct msg *m, int idx, int g, struct backend *b,
                      const char *req, size_t len, int blocking)
{
    struct frag *f = frag_get(c->w);
    f->msg = m;
    f->idx = idx;
    f->gidx = g;
    m->frags[idx] = f;
    count_request(c, g);
    if (caching_now && c->tracking_fwd) {
        static const char yes[] = "*3\r\n$6\r\nCLIENT\r\n$7\r\nCACHING\r\n$3\r\nyes\r\n";
        static const char no[] = "*3\r\n$6\r\nCLIENT\r\n$7\r\nCACHING\r\n$2\r\nno\r\n";
        buf_clear(&scratch2);
        if (caching_now == 1) buf_append(&scratch2, yes, sizeof yes - 1);
        else buf_append(&scratch2, no, sizeof no - 1);
        buf_append(&scratch2, req, len);
        f->skip = 1;
        req = scratch2.data;
        len = scratch2.len;
    }
    backend_send(b, f, req, len, blocking ? 0 : (uint64_t)deadline_for(c, b));
}

/* Append CLIENT TRACKING on [REDIRECT node_id] <options> to out. */
static void tracking_request(struct client *c, buf *out, long long node_id)
{
    char id[32];
    int idlen = snprintf(id, sizeof id, "%lld", node_id);
    merge_add_header(out, 3 + (node_id >= 0 ? 2 : 0) + c->tracking_nopts);
    merge_add_arg(out, "CLIENT", 6);
    merge_add_arg(out, "TRACKING", 8);
    merge_add_arg(out, "on", 2);
    if (node_id >= 0) {
        merge_add_arg(out, "REDIRECT", 8);
        merge_add_arg(out, id, (size_t)idlen);
    }
    buf_append(out, c->tracking_opts.data, c->tracking_opts.len);
}

struct client *client_by_id(struct worker *w, uint64_t id)
{
    for (struct client *o = w->clients; o; o = o->next)
        if (o->id == id) return o;
    return NULL;
}

void client_link_ready(struct client *c, struct backend *b)
{
    for (int g = 0; g < c->ninv && g < c->ntrk; g++) {
        if (c->inv[g] != b || !c->trk[g] || !c->trk[g]->held) continue;
        /* The node-side id of the redirect link is known: the tracking
         * link can open, redirecting there. */
        buf_clear(&c->trk[g]->hs_extra);
        tracking_request(c, &c->trk[g]->hs_extra, b->hs_int);
        backend_release(c->trk[g]);
    }
}

/* An invalidation push that arrived on a redirect link of c: to the
 * redirect target, as Redis would send it there. */
static void forward_invalidation(struct client *c, const char *raw, size_t len)
{
    struct client *t = client_by_id(c->w, c->tracking_redirect);
    if (!t) return;  /* the target left: Redis drops them too */
    if (t->proto == RESP3) {
        buf_append(&t->out, raw, len);
        want_flush(t);
        return;
    }
    if (!t->tunnel) return;  /* RESP2 without pub/sub: Redis sends nothing */
    struct reply_hdr h;
    struct reply_iter it;
    const char *e, *keys = NULL;
    size_t elen, keyslen = 0;
    if (reply_header(raw, len, &h) < 0 || h.n != 2) return;
    reply_iter_init(&it, raw, len, &h);
    if (reply_next(&it, &e, &elen) < 0 || reply_next(&it, &keys, &keyslen) < 0) return;
    buf_clear(&scratch2);
    buf_append_str(&scratch2, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    if (keys[0] == '_') resp_add_null(&scratch2, RESP2);  /* FLUSHALL: all keys */
    else buf_append(&scratch2, keys, keyslen);
    client_tunnel_data(t, NULL, scratch2.data, scratch2.len);
}

/* The tracking link of c to group g, opened with the client's CLIENT
 * TRACKING request on first use. */
static struct backend *trk_for(struct client *c, int g)
{
    struct backend **slot = link_slot(c, &c->trk, &c->ntrk, g);
    const struct route_addr *m = &c->w->route->groups[g].master;
    if (*slot && ((*slot)->port != m->port || strcmp((*slot)->host, m->host) != 0)) {
        /* The group has a new master: what the old one tracked for this
         * client is gone with it, so the client's cache cannot be trusted
         * any more.  This request is served on a new link, then the
         * connection closes and the client starts again with an empty
         * cache (as after losing a connection to Redis). */
        struct backend *old = *slot;
        *slot = NULL;
        backend_destroy(old, "group master changed");
        struct backend **islot = link_slot(c, &c->inv, &c->ninv, g);
        if (*islot) {
            old = *islot;
            *islot = NULL;
            backend_destroy(old, "group master changed");
        }
        c->closing = 1;
    }
    if (!*slot && c->tracking_redirect) {
        /* first the link invalidations are redirected to, whose node-side
         * id the tracking link needs (client_link_ready) */
        struct backend **islot = link_slot(c, &c->inv, &c->ninv, g);
        static const char client_id[] = "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n";
        if (!*islot) {
            *islot = link_open(c, g, RESP3);
            buf_append(&(*islot)->hs_extra, client_id, sizeof client_id - 1);
        }
        struct route_group *rg = &c->w->route->groups[g];
        *slot = backend_create_held(c->w, rg->master.host, rg->master.port, rg->name, c, c->proto);
        (*slot)->gidx = g;
        if ((*islot)->hs_int >= 0) client_link_ready(c, *islot);
    } else if (!*slot) {
        *slot = link_open(c, g, RESP3);
        tracking_request(c, &(*slot)->hs_extra, -1);
    }
    return *slot;
}

/* Where a request of c for group g goes: its tracking link, or the
 * worker's shared link in the client's protocol. */
static struct backend *link_for(struct client *c, int g, int is_read)
{
    if (c->tracking_fwd) return trk_for(c, g);
    return worker_backend_for(c->w, g, is_read, c->proto);
}

void client_set_tracking(struct client *c, int on, const char *opts, size_t len, int nopts,
                         int bcast, uint64_t redirect)
{
    if (on && c->tracking_fwd && redirect == c->tracking_redirect) {
        /* ON again while on (more prefixes, say): the nodes keep what
         * they track for this client, so the links stay and are told the
         * new options; new links get them too. */
        buf_clear(&c->tracking_opts);
        buf_append(&c->tracking_opts, opts, len);
        c->tracking_nopts = nopts;
        for (int g = 0; g < c->ntrk; g++) {
            if (!c->trk[g] || c->trk[g]->held) continue;
            buf_clear(&scratch2);
            tracking_request(c, &scratch2, redirect && g < c->ninv && c->inv[g] ? c->inv[g]->hs_int : -1);
            struct frag *f = frag_get(c->w);   /* no msg: the reply is dropped */
            backend_send(c->trk[g], f, scratch2.data, scratch2.len,
                         c->w->now_us + (uint64_t)c->w->route->timeout_ms * 1000);
        }
        if (bcast)
            for (int g = 0; g < c->w->route->ngroups; g++) trk_for(c, g);
        return;
    }
    links_close(c->trk, c->ntrk, "tracking changed");
    links_close(c->inv, c->ninv, "tracking changed");
    c->tracking = c->tracking_fwd = 0;
    c->tracking_redirect = 0;
    buf_clear(&c->tracking_opts);
    c->tracking_nopts = 0;
    if (c->priv && backend_idle(c->priv) && c->watch_group < 0 && !c->tunnel) {
        /* reopened with (or without) the tracking options when needed */
        struct backend *b = c->priv;
        c->priv = NULL;
        backend_destroy(b, "tracking changed");
    }
    if (!on) return;
    buf_append(&c->tracking_opts, opts, len);
    c->tracking_nopts = nopts;
    c->tracking_redirect = redirect;
    c->tracking = c->tracking_fwd = 1;
    if (bcast)
        for (int g = 0; g < c->w->route->ngroups; g++) trk_for(c, g);
}

void client_tick(struct client *c, uint64_t now)
{
    if (c->priv) backend_tick(c->priv, now);
    for (int g = 0; g < c->nsub; g++)
        if (c->sub[g]) backend_tick(c->sub[g], now);
    for (int g = 0; g < c->ntrk; g++)
        if (c->trk[g]) backend_tick(c->trk[g], now);
    for (int g = 0; g < c->ninv; g++)
        if (c->inv[g]) backend_tick(c->inv[g], now);
    for (int g = 0; g < c->nadm; g++)
        if (c->adm[g]) backend_tick(c->adm[g], now);
}

/* SORT / SORT_RO through the proxy, which is a cluster: BY and GET
 * patterns name keys built from the elements, and those keys may live in
 * another group than the sorted key.  Redis Cluster's rule (its newest
 * wording): a BY pattern with '*' or a GET pattern other than "#" is
 * refused unless every key it can form hashes to the sorted key's slot
 * (a hash tag before the first wildcard).  The options are walked as the
 * node parses them, so an earlier syntax error is still the node's
 * answer.  Returns the error text, or NULL to forward the command. */
static const char *sort_cluster_check(const struct cmd_spec *spec, int argc, char **argv, const size_t *lens)
{
    if (spec->id != CMD_SORT && spec->id != CMD_SORT_RO) return NULL;
    int key_slot = (int)slot_of_key(argv[1], lens[1]);
    for (int j = 2; j < argc; j++) {
        int left = argc - j - 1;
        long long v;
        if (str_eq_nocase(argv[j], lens[j], "asc") || str_eq_nocase(argv[j], lens[j], "desc") ||
            str_eq_nocase(argv[j], lens[j], "alpha")) {
            continue;
        } else if (str_eq_nocase(argv[j], lens[j], "limit") && left >= 2) {
            if (str2ll(argv[j + 1], lens[j + 1], &v) < 0 || str2ll(argv[j + 2], lens[j + 2], &v) < 0)
                return NULL;
            j += 2;
        } else if (spec->id == CMD_SORT && str_eq_nocase(argv[j], lens[j], "store") && left >= 1) {
            j++;
        } else if (str_eq_nocase(argv[j], lens[j], "by") && left >= 1) {
            j++;
            if (memchr(argv[j], '*', lens[j]) && slot_of_pattern(argv[j], lens[j]) != key_slot)
                return "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be "
                       "in different slots.";
        } else if (str_eq_nocase(argv[j], lens[j], "get") && left >= 1) {
            j++;
            if (!(lens[j] == 1 && argv[j][0] == '#') && slot_of_pattern(argv[j], lens[j]) != key_slot)
                return "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be "
                       "in different slots.";
        } else {
            return NULL;
        }
    }
    return NULL;
}

/* Group shared by every key of the command: >= 0, -1 when keys are in
 * several groups, -2 when the command has no (valid) keys. */
static int keys_group(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                      const size_t *lens)
{
    int stack[MAX_KEYS_STACK], *keys = stack;
    int n = cmd_get_keys(spec, argc, argv, lens, keys, MAX_KEYS_STACK);
    if (n > MAX_KEYS_STACK) {
        keys = xmalloc(sizeof *keys * (size_t)n);
        n = cmd_get_keys(spec, argc, argv, lens, keys, n);
    }
    int g = -2;
    struct route *r = c->w->route;
    for (int i = 0; i < n; i++) {
        int kg = route_group_of_key(r, argv[keys[i]], lens[keys[i]]);
        if (g == -2) g = kg;
        else if (g != kg) { g = -1; break; }
    }
    if (keys != stack) free(keys);
    /* Keys found after a keyword (GEORADIUS ... STORE dst) are not at
     * fixed positions: the key specs find them. */
    const struct cmd_meta *m = cmdmeta_get(spec->id);
    if (g != -1 && m->movablekeys && spec->numkeys == 0) {
        struct cmd_key more[8];
        int k = cmdmeta_get_keys(m, argc, argv, lens, more, 8);
        for (int i = 0; i < k && i < 8; i++) {
            int kg = route_group_of_key(r, argv[more[i].pos], lens[more[i].pos]);
            if (g == -2) g = kg;
            else if (g != kg) { g = -1; break; }
        }
    }
    return g;
}

/* Ensure the private link goes to the master of group g. */
static struct backend *priv_for(struct client *c, int g)
{
    struct route_group *rg = &c->w->route->groups[g];
    if (c->priv && c->priv->port == rg->master.port && c->priv->proto == c->proto &&
        !strcmp(c->priv->host, rg->master.host))
        return c->priv;
    if (c->priv) {
        struct backend *old = c->priv;
        c->priv = NULL;
        backend_destroy(old, "private link moved to another group");
        if (c->watch_group >= 0) c->watch_lost = 1;
        c->watch_group = -1;
    }
    c->priv = link_open(c, g, c->proto);
    /* (with REDIRECT, what runs on the private link is not tracked: its
     * redirect link's id would have to be known first) */
    if (c->tracking_fwd && !c->tracking_redirect && c->proto == RESP3)
        tracking_request(c, &c->priv->hs_extra, -1);
    c->priv_group = g;
    return c->priv;
}

/* The request in multibulk form: as received when it was multibulk,
 * re-encoded (into scratch) when it came inline. */
static void request_bytes(char **argvp, const size_t *lens, int argc, const char *raw,
                          size_t rawlen, buf *scratch, const char **req, size_t *reqlen)
{
    if (rawlen > 0 && raw[0] == '*') {
        *req = raw;
        *reqlen = rawlen;
        return;
    }
    buf_clear(scratch);
    merge_add_cmd(scratch, argc, argvp, lens);
    *req = scratch->data;
    *reqlen = scratch->len;
}

void client_thread_cleanup(void)
{
    buf_free(&scratch);
    buf_free(&scratch2);
}

static void forward(struct client *c, const struct cmd_spec *spec, int g, int is_read,
                    const char *req, size_t len)
{
    struct msg *m = msg_new(c, spec, MSG_FORWARD);
    msg_set_frags(m, 1);
    /* Kept so a -MOVED can be followed once (client_frag_done); a request
     * larger than CLIENT_FWD_KEEP_MAX is not copied and its -MOVED goes to the
     * client, after which the map is right for the next one. */
    if (len <= CLIENT_FWD_KEEP_MAX) buf_append(&m->fwd_req, req, len);
    m->fwd_is_read = is_read;
    send_frag(c, m, 0, g, link_for(c, g, is_read), req, len, 0);
}

/* ---- for client_script.c (client_internal.h) ---- */

struct msg *client_msg_new(struct client *c, const struct cmd_spec *spec, enum msg_kind kind)
{
    return msg_new(c, spec, kind);
}

void client_send(struct client *c, struct msg *m, int idx, int g, struct backend *b,
                 const char *req, size_t len)
{
    send_frag(c, m, idx, g, b, req, len, 0);
}

void client_send_skip(struct client *c, struct msg *m, int idx, int g, struct backend *b,
                      const char *req, size_t len, int skip)
{
    struct frag *f = frag_get(c->w);
    f->msg = m;
    f->idx = idx;
    f->gidx = g;
    f->skip = skip;
    m->frags[idx] = f;
    count_request(c, g);
    backend_send(b, f, req, len, (uint64_t)deadline_for(c, b));
}

struct backend *client_link_for(struct client *c, int g, int is_read)
{
    return link_for(c, g, is_read);
}

void client_reply_error(struct client *c, int cmd, const char *err)
{
    reply_error(c, cmd, err);
}

/* ---- split commands ---- */

/* MGET, DEL/UNLINK/EXISTS/TOUCH (step 1) and MSET (step 2) across groups. */
static void split_keys(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                       const size_t *lens, enum msg_kind kind, int step, int is_read,
                       const char *req, size_t len)
{
    struct route *r = c->w->route;
    int nkeys = (argc - 1) / step;
    int *kg = xmalloc(sizeof *kg * (size_t)nkeys);
    int g0 = -1, mixed = 0;
    for (int k = 0; k < nkeys; k++) {
        int i = 1 + k * step;
        kg[k] = route_group_of_key(r, argv[i], lens[i]);
        if (k == 0) g0 = kg[0];
        else if (kg[k] != g0) mixed = 1;
    }
    if (!mixed) {
        /* One group: forward as received. */
        free(kg);
        forward(c, spec, g0, is_read, req, len);
        return;
    }
    /* Fragment j serves the j-th distinct group in order of appearance. */
    int *gfrag = xmalloc(sizeof *gfrag * (size_t)r->ngroups);
    int *fgroup = xmalloc(sizeof *fgroup * (size_t)r->ngroups);
    int *fcount = xcalloc((size_t)r->ngroups, sizeof *fcount);
    for (int g = 0; g < r->ngroups; g++) gfrag[g] = -1;
    int nfr = 0;
    for (int k = 0; k < nkeys; k++) {
        if (gfrag[kg[k]] < 0) {
            gfrag[kg[k]] = nfr;
            fgroup[nfr++] = kg[k];
        }
        kg[k] = gfrag[kg[k]];
        fcount[kg[k]]++;
    }
    struct msg *m = msg_new(c, spec, kind);
    msg_set_frags(m, nfr);
    m->keyfrag = kg;
    m->nkeys = nkeys;
    for (int j = 0; j < nfr; j++) {
        buf_clear(&scratch);
        merge_add_header(&scratch, 1 + fcount[j] * step);
        merge_add_arg(&scratch, argv[0], lens[0]);
        for (int k = 0; k < nkeys; k++) {
            if (kg[k] != j) continue;
            for (int s = 0; s < step; s++)
                merge_add_arg(&scratch, argv[1 + k * step + s], lens[1 + k * step + s]);
        }
        send_frag(c, m, j, fgroup[j], link_for(c, fgroup[j], is_read),
                  scratch.data, scratch.len, 0);
    }
    free(gfrag);
    free(fgroup);
    free(fcount);
}

/* Send req to every group's master as the fragments of m. */
static void send_to_all(struct client *c, struct msg *m, const char *req, size_t len)
{
    struct route *r = c->w->route;
    msg_set_frags(m, r->ngroups);
    for (int g = 0; g < r->ngroups; g++)
        send_frag(c, m, g, g, link_for(c, g, 0), req, len, 0);
}

/* The same request to every group, as a new msg of `kind`. */
static void to_all(struct client *c, const struct cmd_spec *spec, enum msg_kind kind,
                   const char *req, size_t len)
{
    send_to_all(c, msg_new(c, spec, kind), req, len);
}

struct msg *client_to_all(struct client *c, const struct cmd_spec *spec, enum msg_kind kind,
                          const char *req, size_t len)
{
    struct msg *m = msg_new(c, spec, kind);
    send_to_all(c, m, req, len);
    return m;
}

/* INFO whose section includes the keyspace (none, "default", "all",
 * "everything", "keyspace"): the proxy's own sections are taken now, the
 * key counts come from every group's master (merge_info). */
static void do_info(struct client *c, const struct cmd_spec *spec, const char *sec, size_t seclen)
{
    static const char req[] = "*2\r\n$4\r\nINFO\r\n$8\r\nkeyspace\r\n";
    struct msg *m = msg_new(c, spec, MSG_INFO);
    buf text;
    buf_init(&text);
    stats_info(&text, sec, seclen);
    m->textlen = text.len;
    m->text = text.data;   /* the msg owns it now, before any reply can come */
    send_to_all(c, m, req, sizeof req - 1);
}

static void do_scan(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                    const size_t *lens)
{
    struct route *r = c->w->route;
    int g;
    unsigned long long bc;
    if (merge_scan_decode(argv[1], lens[1], r->ngroups, &g, &bc) < 0) {
        reply_error(c, spec->id, "ERR invalid cursor");
        return;
    }
    char cur[32];
    int cl = snprintf(cur, sizeof cur, "%llu", bc);
    buf_clear(&scratch);
    merge_add_header(&scratch, argc);
    merge_add_arg(&scratch, argv[0], lens[0]);
    merge_add_arg(&scratch, cur, (size_t)cl);
    for (int i = 2; i < argc; i++) merge_add_arg(&scratch, argv[i], lens[i]);
    struct msg *m = msg_new(c, spec, MSG_SCAN);
    msg_set_frags(m, 1);
    m->scan_group = g;
    m->scan_ngroups = r->ngroups;
    send_frag(c, m, 0, g, link_for(c, g, 1), scratch.data, scratch.len, 0);
}

/* ---- transactions ---- */

static void tx_reset(struct client *c)
{
    c->tx = TX_NONE;
    buf_clear(&c->tx_buf);
    if (c->tx_buf.cap > 65536) buf_shrink(&c->tx_buf, 4096);
    c->tx_count = 0;
    buf_clear(&c->tx_shas);
    c->tx_group = -1;
    c->tx_dirty = 0;
}

/* The transaction (and its WATCH) is over: forget where it began. */
static void tx_forget(struct client *c)
{
    c->tx_route = 0;
    c->watch_lost = 0;
}

/* UNWATCH on the private link, reply dropped. */
static void priv_unwatch(struct client *c)
{
    if (c->watch_group >= 0 && c->priv) {
        static const char unwatch[] = "*1\r\n$7\r\nUNWATCH\r\n";
        struct frag *f = frag_get(c->w);
        backend_send(c->priv, f, unwatch, sizeof unwatch - 1,
                     c->w->now_us + (uint64_t)c->w->route->timeout_ms * 1000);
    }
    c->watch_group = -1;
}

/* The routing changed since the transaction's WATCH or MULTI, or the link
 * holding its WATCH went away: EXEC will fail (tx_exec). */
static int tx_overtaken(const struct client *c)
{
    return (c->tx_route && c->tx_route != c->w->route->version) || c->watch_lost;
}

/* The client's ACL rules may have changed since its commands were queued:
 * Redis checks each again at EXEC and answers a refused one with NOPERM
 * in its place in EXEC's reply while the others run.  Here a refused
 * command is replaced by a script returning that error, so the node's
 * EXEC reply carries it at the same index.  Returns 0, or -1 when the
 * client's user was deleted (close it). */
static int tx_acl_recheck(struct client *c)
{
    static const char script[] = "return {err=ARGV[1]}";
    if (pacl_open(c) || !c->tx_buf.len) return 0;
    resp_parser p;
    resp_parser_init(&p);
    buf nb, text;
    buf_init(&nb);
    buf_init(&text);
    size_t off = 0, kept = 0;   /* tx_buf[kept, off) is copied as it is */
    int changed = 0, rc = 0;
    while (off < c->tx_buf.len) {
        size_t used = 0;
        /* (the proxy wrote these bytes: always whole commands) */
        if (resp_parse(&p, c->tx_buf.data + off, c->tx_buf.len - off, &used) != RESP_OK) break;
        buf_clear(&text);
        int r = pacl_exec_check(c, p.argc, p.argv, p.argvlen, &text);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r > 0) {
            buf_append(&nb, c->tx_buf.data + kept, off - kept);
            merge_add_header(&nb, 4);
            merge_add_arg(&nb, "EVAL", 4);
            merge_add_arg(&nb, script, sizeof script - 1);
            merge_add_arg(&nb, "0", 1);
            merge_add_arg(&nb, text.data, text.len);
            kept = off + used;
            changed = 1;
        }
        off += used;
    }
    if (changed && rc == 0) {
        buf_append(&nb, c->tx_buf.data + kept, c->tx_buf.len - kept);
        buf tmp = c->tx_buf;
        c->tx_buf = nb;
        nb = tmp;
    }
    buf_free(&nb);
    buf_free(&text);
    resp_parser_free(&p);
    return rc;
}

static void tx_exec(struct client *c, const struct cmd_spec *spec)
{
    if (c->tx_dirty) {
        tx_reset(c);
        priv_unwatch(c);
        tx_forget(c);
        reply_error(c, spec->id, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    /* The routing changed since the WATCH or MULTI (a reload, a new
     * master), or the link that held the WATCH went away: the queued
     * commands were checked against groups that may no longer own their
     * keys, and a WATCH on the old link no longer guards anything.  With a
     * WATCH, answer as a failed WATCH (the client retries); without, abort. */
    if (tx_overtaken(c)) {
        int watched = c->watch_group >= 0 || c->watch_lost;
        tx_reset(c);
        priv_unwatch(c);
        tx_forget(c);
        if (watched) {
            struct msg *m;
            buf *out = local_begin(c, &m);
            resp_add_null_array(out, c->proto);   /* as a failed WATCH */
            local_end(c, m, spec->id, 0);
        }
        else reply_error(c, spec->id, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    if (tx_acl_recheck(c) < 0) {
        tx_reset(c);
        priv_unwatch(c);
        tx_forget(c);
        c->closing = 1;
        return;
    }
    int g = c->tx_group >= 0 ? c->tx_group : c->watch_group >= 0 ? c->watch_group
                                                               : route_pubsub_group(c->w->route);
    struct backend *b;
    if (c->watch_group >= 0) {
        if (c->watch_group != g) {
            tx_reset(c);
            priv_unwatch(c);
            reply_error(c, spec->id, "EXECABORT Transaction discarded because of previous errors.");
            return;
        }
        b = priv_for(c, g);
    } else {
        /* Without WATCH the block MULTI..EXEC is written contiguously, so
         * it runs atomically even on a shared link. */
        b = link_for(c, g, 0);
    }
    buf_clear(&scratch);
    /* scripts of the queued EVALSHAs that b's server may lack go first */
    int loads = client_script_preload(c, b, &scratch);
    buf_append_str(&scratch, "*1\r\n$5\r\nMULTI\r\n");
    buf_append(&scratch, c->tx_buf.data, c->tx_buf.len);
    buf_append_str(&scratch, "*1\r\n$4\r\nEXEC\r\n");
    struct msg *m = msg_new(c, spec, MSG_FORWARD);
    msg_set_frags(m, 1);
    struct frag *f = frag_get(c->w);
    f->msg = m;
    f->idx = 0;
    f->gidx = g;
    f->skip = loads + c->tx_count + 1;
    m->frags[0] = f;
    count_request(c, g);
    backend_send(b, f, scratch.data, scratch.len, (uint64_t)deadline_for(c, b));
    tx_reset(c);
    tx_forget(c);
    c->watch_group = -1;
}

/* A command inside MULTI: checked now, queued by the proxy, sent at EXEC. */
static void tx_queue(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                     const size_t *lens)
{
    switch (spec->route) {
    case RT_KEY: case RT_MGET: case RT_MSET: case RT_SUM: case RT_BLOCK: case RT_EVAL: {
        if (tx_overtaken(c)) break;   /* groups are moot: EXEC fails as a whole */
        int g = spec->route == RT_EVAL ? client_eval_group(c, argc, argv, lens)
                                       : keys_group(c, spec, argc, argv, lens);
        if (g == -1 || (g >= 0 && c->tx_group >= 0 && g != c->tx_group)) {
            c->tx_dirty = 1;
            reply_error(c, spec->id, client_err_crossslot);
            return;
        }
        if (g >= 0) c->tx_group = g;
        break;
    }
    case RT_LOCAL:
        /* Queued commands run on a node's connection, which may be shared:
         * what changes the connection itself (its protocol, name,
         * tracking, user) must not reach it. */
        if (spec->id == CMD_HELLO || spec->id == CMD_CLIENT || spec->id == CMD_AUTH) goto refuse;
        break;
    case RT_TX: /* UNWATCH */
        break;
    default:
    refuse: {
        char e[200];
        snprintf(e, sizeof e, "ERR '%s' inside MULTI is not supported by strata-proxy", spec->name);
        c->tx_dirty = 1;
        reply_error(c, spec->id, e);
        return;
    }
    }
    merge_add_cmd(&c->tx_buf, argc, argv, lens);
    c->tx_count++;
    if ((spec->id == CMD_EVALSHA || spec->id == CMD_EVALSHA_RO) && lens[1] == 40)
        buf_append(&c->tx_shas, argv[1], 40);
    reply_raw(c, spec->id, "+QUEUED\r\n", 9);
}

static void do_tx(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                  const size_t *lens, const char *req, size_t len)
{
    switch (spec->id) {
    case CMD_MULTI:
        if (c->tx) {
            reply_error(c, spec->id, "ERR MULTI calls can not be nested");
            return;
        }
        tx_reset(c);
        c->tx = TX_QUEUING;
        c->tx_group = c->watch_group;
        if (!c->tx_route) c->tx_route = c->w->route->version;
        reply_raw(c, spec->id, "+OK\r\n", 5);
        return;
    case CMD_EXEC:
        if (!c->tx) reply_error(c, spec->id, "ERR EXEC without MULTI");
        else tx_exec(c, spec);
        return;
    case CMD_DISCARD:
        if (!c->tx) {
            reply_error(c, spec->id, "ERR DISCARD without MULTI");
            return;
        }
        tx_reset(c);
        priv_unwatch(c);
        tx_forget(c);
        reply_raw(c, spec->id, "+OK\r\n", 5);
        return;
    case CMD_WATCH: {
        if (c->tx) {
            reply_error(c, spec->id, "ERR WATCH inside MULTI is not allowed");
            return;
        }
        int g = keys_group(c, spec, argc, argv, lens);
        if (g == -1 || (g >= 0 && c->watch_group >= 0 && g != c->watch_group)) {
            reply_error(c, spec->id, client_err_crossslot);
            return;
        }
        struct backend *b = priv_for(c, g);
        struct msg *m = msg_new(c, spec, MSG_FORWARD);
        msg_set_frags(m, 1);
        send_frag(c, m, 0, g, b, req, len, 0);
        c->watch_group = g;
        if (!c->tx_route) c->tx_route = c->w->route->version;
        return;
    }
    case CMD_UNWATCH:
        tx_forget(c);
        if (c->watch_group >= 0 && c->priv) {
            struct msg *m = msg_new(c, spec, MSG_FORWARD);
            msg_set_frags(m, 1);
            send_frag(c, m, 0, c->watch_group, c->priv, req, len, 0);
            c->watch_group = -1;
        } else {
            c->watch_group = -1;
            reply_raw(c, spec->id, "+OK\r\n", 5);
        }
        return;
    default:
        reply_error(c, spec->id, "ERR internal: unknown transaction command");
        return;
    }
}

/* ---- pub/sub ---- */

/* Could a channel named by `pat` (a glob pattern when `glob`) be one of
 * the keyspace notification channels, __keyspace@<db>__:<key> and
 * __keyevent@<db>__:<event>?  Its literal start (up to the first glob
 * character) decides: "__key*" and "*" could, "news.*" could not. */
static int may_be_keyspace(const char *pat, size_t len, int glob)
{
    static const char *const prefixes[] = { "__keyspace@", "__keyevent@" };
    size_t lit = 0;
    while (lit < len && !(glob && memchr("*?[\\", pat[lit], 4))) lit++;
    for (int i = 0; i < 2; i++) {
        size_t pl = strlen(prefixes[i]);
        size_t n = lit < pl ? lit : pl;
        if (memcmp(pat, prefixes[i], n) == 0 && (lit < len || lit >= pl)) return 1;
    }
    return 0;
}

/* Keyspace notifications happen on the group that holds the key, so a
 * subscription that may receive them is made on every group.  Once such
 * links exist, every later (un)subscription goes to them as well, so they
 * stay in step with the pub/sub group's link (their confirmations are
 * dropped, their messages passed on).  Subscriptions that cannot match
 * (plain channels) stay on the pub/sub group alone, so a group that is
 * down does not stop ordinary subscribers. */
static void mirror_subs(struct client *c, int pg, int proto, int argc, char **argv,
                        const size_t *lens, const char *req, size_t len)
{
    const struct cmd_spec *spec = cmd_lookup(argv[0], lens[0]);
    int want = 0;
    if (spec && (spec->id == CMD_SUBSCRIBE || spec->id == CMD_PSUBSCRIBE))
        for (int i = 1; i < argc && !want; i++)
            want = may_be_keyspace(argv[i], lens[i], spec->id == CMD_PSUBSCRIBE);
    struct route *r = c->w->route;
    for (int gi = 0; gi < r->ngroups; gi++) {
        if (gi == pg) continue;
        struct backend **slot = link_slot(c, &c->sub, &c->nsub, gi);
        if (!*slot) {
            if (!want) continue;
            *slot = link_open(c, gi, proto);
            (*slot)->tunnel = proto == RESP2;
        }
        backend_send_raw(*slot, req, len);
    }
}

static void do_pubsub(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                      const size_t *lens, const char *req, size_t len)
{
    int g = route_pubsub_group(c->w->route);
    switch (spec->id) {
    case CMD_PUBLISH:
        forward(c, spec, g, 0, req, len);
        return;
    case CMD_UNSUBSCRIBE:
    case CMD_PUNSUBSCRIBE: {
        if (c->proto == RESP3) break; /* the node answers, as for SUBSCRIBE */
        struct msg *m;
        buf *out = local_begin(c, &m);
        local_unsubscribe(out, spec->id == CMD_UNSUBSCRIBE ? "unsubscribe" : "punsubscribe",
                          argc, argv, lens);
        local_end(c, m, spec->id, 0);
        return;
    }
    default:
        break;
    }
    if (c->proto == RESP3) {
        /* RESP3: subscriptions live on their own links, one per group, so
         * the client goes on running other commands over the others.  The
         * pub/sub group's link carries the request and a PING whose reply
         * ends the msg; the pushes in between are its reply. */
        struct backend **pslot = link_slot(c, &c->sub, &c->nsub, g);
        if (!*pslot) *pslot = link_open(c, g, RESP3);
        mirror_subs(c, g, RESP3, argc, argv, lens, req, len);
        static const char ping[] = "*1\r\n$4\r\nPING\r\n";
        buf_clear(&scratch2);
        buf_append(&scratch2, req, len);
        buf_append(&scratch2, ping, sizeof ping - 1);
        struct msg *m = msg_new(c, spec, MSG_PUSHCMD);
        msg_set_frags(m, 1);
        c->push_wait = m;
        int saved = caching_now;
        caching_now = 0;
        send_frag(c, m, 0, g, c->sub[g], scratch2.data, scratch2.len, 1);
        caching_now = saved;
        return;
    }
    {
        /* SUBSCRIBE / PSUBSCRIBE: the connection becomes a tunnel. */
        if (c->priv && !backend_idle(c->priv)) {
            reply_error(c, spec->id,
                        "ERR strata-proxy: SUBSCRIBE while a transaction or blocking command is pending");
            return;
        }
        c->watch_group = -1;
        tx_forget(c);
        struct backend *b = priv_for(c, g);
        b->tunnel = 1;
        struct msg *m = msg_new(c, spec, MSG_TUNNEL);
        msg_set_frags(m, 1);
        c->tunnel = m;
        send_frag(c, m, 0, g, b, req, len, 1);
        mirror_subs(c, g, RESP2, argc, argv, lens, req, len);
    }
}

/* ---- RESET ---- */

/* RESET (Redis 7.0's clearClientConnectionState): the connection as if
 * new — no transaction or WATCH, no subscriptions, no tracking, no name,
 * RESP2, and authenticated only when no password is set.  Private links
 * that are idle (or carry subscriptions) are closed, which undoes on the
 * nodes whatever they held; one still running a blocking command is left
 * to finish. */
static void do_reset(struct client *c)
{
    tx_reset(c);
    tx_forget(c);
    if (c->tunnel) {
        struct msg *m = c->tunnel;
        c->tunnel = NULL;
        for (int i = 0; i < m->nfrags; i++)
            if (m->frags[i]) {
                m->frags[i]->msg = NULL;
                m->frags[i] = NULL;
            }
        m->done = 1;
    }
    if (c->priv && (backend_idle(c->priv) || c->priv->tunnel)) {
        struct backend *b = c->priv;
        c->priv = NULL;
        backend_destroy(b, "RESET");
    } else {
        priv_unwatch(c);
    }
    c->watch_group = -1;
    c->push_wait = NULL;
    links_close(c->sub, c->nsub, "RESET");
    client_set_tracking(c, 0, NULL, 0, 0, 0, 0);
    c->tracking_bcast = c->tracking_optin = c->tracking_optout = c->tracking_noloop = 0;
    c->caching = 0;
    free(c->name);
    c->name = NULL;
    c->proto = RESP2;
    pacl_client_free(c);
    pacl_client_init(c);
    reply_raw(c, CMD_RESET, "+RESET\r\n", 8);
    if (c->head) drain(c);
}

/* The client's ACL user (pacl.h) for this command line, as Redis's
 * processCommand checks it.  Returns 0 when it may run; 1 when it was
 * refused (NOPERM answered: in the tunnel's stream in pub/sub mode, else
 * as command cmd's reply) or the user is gone (the client closes). */
static int acl_refused(struct client *c, int cmd, int argc, char **argv, const size_t *lens)
{
    buf noperm;
    buf_init(&noperm);
    int r = pacl_check(c, argc, argv, lens, &noperm);
    if (r < 0) c->closing = 1;
    if (r > 0 && cmd == CMD_EXEC && c->tx && noperm.len > 1) {
        /* a refused EXEC ends the transaction, as Redis's execCommandAbort */
        buf why;
        buf_init(&why);
        buf_append_str(&why, "-EXECABORT Transaction discarded because of: ");
        buf_append(&why, noperm.data + 1, noperm.len - 1);
        buf tmp = noperm;
        noperm = why;
        why = tmp;
        buf_free(&why);
        tx_reset(c);
        priv_unwatch(c);
        tx_forget(c);
    }
    if (r > 0) {
        if (c->tunnel) {
            client_tunnel_data(c, NULL, noperm.data, noperm.len);
        } else {
            struct msg *m;
            buf *out = local_begin(c, &m);
            buf_append(out, noperm.data, noperm.len);
            local_end(c, m, cmd, 1);
        }
    }
    buf_free(&noperm);
    return r != 0;
}

/* ---- dispatch ---- */

static void dispatch(struct client *c, int argc, char **argv, size_t *lens, const char *raw,
                     size_t rawlen)
{
    const char *req;
    size_t len;
    struct worker *w = c->w;

    if (argc == 1 && str_eq_nocase(argv[0], lens[0], "reset")) {
        /* (a user without +reset is refused, as by Redis) */
        if (c->authed && acl_refused(c, CMD_RESET, argc, argv, lens)) return;
        do_reset(c);
        return;
    }
    if (c->tunnel) {
        /* pub/sub mode: the server answers everything, in order.  A
         * (P|S)SUBSCRIBE to channels the user may not use is refused here
         * (its error joins the tunnel's bytes: after the replies already
         * in, before those of commands still at the server). */
        if (argc >= 1 && acl_refused(c, -1, argc, argv, lens)) return;
        request_bytes(argv, lens, argc, raw, rawlen, &scratch, &req, &len);
        if (c->priv) backend_send_raw(c->priv, req, len);
        const struct cmd_spec *ps = argc >= 1 ? cmd_lookup(argv[0], lens[0]) : NULL;
        if (ps && ps->route == RT_PUBSUB && ps->id != CMD_PUBLISH)
            mirror_subs(c, route_pubsub_group(w->route), RESP2, argc, argv, lens, req, len);
        if (argc >= 1 && str_eq_nocase(argv[0], lens[0], "quit")) c->closing = 1;
        return;
    }

    const struct cmd_spec *spec = cmd_lookup(argv[0], lens[0]);
    /* CLIENT CACHING applies to the one command after it. */
    caching_now = 0;
    if (c->caching && !(spec && spec->id == CMD_CLIENT)) {
        caching_now = c->caching;
        c->caching = 0;
    }
    if (!spec) {
        struct msg *m;
        buf *out = local_begin(c, &m);
        local_unknown_command(out, argc, argv, lens);
        local_end(c, m, -1, 1);
        STAT_ADD(w->stats.unknown, 1);
        if (c->tx) c->tx_dirty = 1;
        return;
    }
    if (!cmd_arity_ok(spec, argc) || (spec->route == RT_MSET && (argc - 1) % 2 != 0)) {
        struct msg *m;
        buf *out = local_begin(c, &m);
        resp_add_arity_error(out, spec->name);
        local_end(c, m, spec->id, 1);
        if (c->tx) c->tx_dirty = 1;
        return;
    }
    if (!c->authed && spec->id != CMD_AUTH && spec->id != CMD_HELLO && spec->id != CMD_QUIT) {
        reply_error(c, spec->id, "NOAUTH Authentication required.");
        if (c->tx) c->tx_dirty = 1;
        return;
    }
    if (c->authed) {
        /* The client's ACL user (pacl.h), as Redis's processCommand checks
         * it: before queueing in MULTI, which then fails at EXEC. */
        if (acl_refused(c, spec->id, argc, argv, lens)) {
            if (c->tx && !c->closing) c->tx_dirty = 1;
            return;
        }
    }
    const char *sort_err = sort_cluster_check(spec, argc, argv, lens);
    if (sort_err) {
        /* (inside MULTI Redis would queue it and fail it in EXEC's reply;
         * here it fails at once and the transaction is discarded at EXEC) */
        reply_error(c, spec->id, sort_err);
        if (c->tx) c->tx_dirty = 1;
        return;
    }
    if (c->tx && spec->id != CMD_EXEC && spec->id != CMD_DISCARD && spec->id != CMD_MULTI &&
        spec->id != CMD_WATCH && spec->id != CMD_QUIT) {
        tx_queue(c, spec, argc, argv, lens);
        return;
    }

    request_bytes(argv, lens, argc, raw, rawlen, &scratch, &req, &len);
    int is_read = (spec->flags & CF_READ) != 0;
    switch (spec->route) {
    case RT_KEY: {
        int g = keys_group(c, spec, argc, argv, lens);
        if (g == -1) {
            reply_error(c, spec->id, client_err_crossslot);
            return;
        }
        /* No key (or an invalid numkeys): any group answers the error. */
        if (g < 0) g = route_pubsub_group(w->route);
        forward(c, spec, g, is_read, req, len);
        return;
    }
    case RT_MGET:
        split_keys(c, spec, argc, argv, lens, MSG_MGET, 1, is_read, req, len);
        return;
    case RT_MSET:
        split_keys(c, spec, argc, argv, lens, MSG_ALL_OK, 2, 0, req, len);
        return;
    case RT_SUM:
        split_keys(c, spec, argc, argv, lens, MSG_SUM, 1, is_read, req, len);
        return;
    case RT_LOCAL: {
        if (spec->id == CMD_INFO && argc <= 2 && w->route->ngroups > 0 &&
            stats_info_wants(argc == 2 ? argv[1] : NULL, argc == 2 ? lens[1] : 0, "keyspace")) {
            do_info(c, spec, argc == 2 ? argv[1] : NULL, argc == 2 ? lens[1] : 0);
            return;
        }
        struct msg *m;
        buf *out = local_begin(c, &m);
        int failed = local_exec(c, spec, argc, argv, lens, out);
        local_end(c, m, spec->id, failed);
        return;
    }
    case RT_ALL_SUM:
        to_all(c, spec, MSG_SUM, req, len);
        return;
    case RT_ALL_OK:
        to_all(c, spec, MSG_ALL_OK, req, len);
        return;
    case RT_ALL_CONCAT:
        to_all(c, spec, MSG_CONCAT, req, len);
        return;
    case RT_RANDOM:
        to_all(c, spec, MSG_RANDOM, req, len);
        return;
    case RT_SCAN:
        do_scan(c, spec, argc, argv, lens);
        return;
    case RT_TX:
        do_tx(c, spec, argc, argv, lens, req, len);
        return;
    case RT_BLOCK: {
        int g = keys_group(c, spec, argc, argv, lens);
        if (g == -1) {
            reply_error(c, spec->id, client_err_crossslot);
            return;
        }
        if (g < 0) g = route_pubsub_group(w->route);
        if (c->watch_group >= 0 && c->watch_group != g) {
            reply_error(c, spec->id, client_err_crossslot);
            return;
        }
        struct backend *b = priv_for(c, g);
        struct msg *m = msg_new(c, spec, MSG_FORWARD);
        msg_set_frags(m, 1);
        /* Kept for a -MOVED hop: a node gives a blocked client -MOVED when
         * its slot leaves the group (a migration's switch); the command
         * then blocks again on the new owner, with its full timeout. */
        if (len <= CLIENT_FWD_KEEP_MAX) buf_append(&m->fwd_req, req, len);
        m->fwd_blocking = 1;
        send_frag(c, m, 0, g, b, req, len, 1);
        return;
    }
    case RT_PUBSUB:
        do_pubsub(c, spec, argc, argv, lens, req, len);
        return;
    case RT_EVAL:
        client_eval(c, spec, argc, argv, lens, req, len);
        return;
    case RT_SCRIPT:
        client_script(c, spec, argc, argv, lens, req, len);
        return;
    case RT_DENY:
    default: {
        char e[200];
        snprintf(e, sizeof e, "ERR command '%s' is not supported by strata-proxy", spec->name);
        reply_error(c, spec->id, e);
        return;
    }
    }
}

/* ---- socket I/O ---- */

static void process_input(struct client *c)
{
    size_t off = 0;
    while (!c->closing && off < c->in.len) {
        size_t consumed = 0;
        int rc = resp_parse(&c->parser, c->in.data + off, c->in.len - off, &consumed);
        if (rc == RESP_OK) {
            dispatch(c, c->parser.argc, c->parser.argv, c->parser.argvlen, c->in.data + off,
                     consumed);
            off += consumed;
        } else if (rc == RESP_AGAIN) {
            off += consumed;
            break;
        } else {
            /* Protocol error: reply and close, as Redis does. */
            reply_error(c, -1, c->parser.err);
            c->closing = 1;
            break;
        }
    }
    if (off) buf_consume(&c->in, off);
}

/* A TLS flush that waited for the fd to be readable: the read it waited
 * for has happened, try the flush again.  Returns -1 if c was destroyed. */
static int tls_resume_flush(struct client *c)
{
    if (!(c->tls_wait & CLIENT_TLS_WRITE_WANTS_READ)) return 0;
    c->tls_wait &= ~CLIENT_TLS_WRITE_WANTS_READ;
    return client_flush(c);
}

/* Read what the socket (or OpenSSL) has and run the complete requests.
 * Returns -1 if c was destroyed. */
static int client_read(struct client *c)
{
    struct worker *w = c->w;
    if (c->closing) {
        /* Stop reading; the connection closes once replies are out.  A
         * TLS flush that waits for readability still needs the event. */
        if (c->tls_wait & CLIENT_TLS_WRITE_WANTS_READ) return tls_resume_flush(c);
        event_del(c->rev);
        return 0;
    }
    w->now_us = mono_us();
    size_t want = CLIENT_READ_CHUNK;
    if (c->parser.need > c->in.len && c->parser.need - c->in.len > want)
        want = c->parser.need - c->in.len;
    buf_reserve(&c->in, want);
    c->tls_wait &= ~CLIENT_TLS_READ_WANTS_WRITE;
    ssize_t n = conn_read(c->fd, c->tls, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (c->tls && tls_conn_wants(c->tls) == TLS_WANT_WRITE) {
            /* write_cb reads again */
            c->tls_wait |= CLIENT_TLS_READ_WANTS_WRITE;
            c->write_blocked = 1;
            event_add(c->wev, NULL);
        }
        return tls_resume_flush(c);
    }
    if (n <= 0) {
        if (n < 0 && c->tls)
            log_info("client id=%llu addr=%s: %s", (unsigned long long)c->id, c->addr,
                     tls_conn_error(c->tls));
        client_destroy(c);
        return -1;
    }
    c->in.len += (size_t)n;
    STAT_ADD(w->stats.net_in, (uint64_t)n);
    process_input(c);
    if (c->closing) want_flush(c);
    if (c->tls) {
        /* Decrypted bytes OpenSSL holds make no readiness event: come
         * back for them on this loop iteration (fairly, after others). */
        if (conn_pending(c->tls) && event_pending(c->rev, EV_READ, NULL)) event_active(c->rev, EV_READ, 1);
        return tls_resume_flush(c);
    }
    return 0;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    client_read(arg);
}

int client_flush(struct client *c)
{
    while (c->out_off < c->out.len) {
        /* A TLS write that stopped is retried from the same byte, with
         * more appended behind it perhaps (tls.h allows both). */
        ssize_t n = conn_write(c->fd, c->tls, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->tls && tls_conn_wants(c->tls) == TLS_WANT_READ) {
                    /* client_read flushes again after its read; the read
                     * event may have been taken off by `closing` */
                    c->tls_wait |= CLIENT_TLS_WRITE_WANTS_READ;
                    event_add(c->rev, NULL);
                } else if (!c->write_blocked) {
                    c->write_blocked = 1;
                    event_add(c->wev, NULL);
                }
                return 0;
            }
            if (c->tls)
                log_info("client id=%llu addr=%s: %s", (unsigned long long)c->id, c->addr,
                         tls_conn_error(c->tls));
            client_destroy(c);
            return -1;
        }
        c->out_off += (size_t)n;
        STAT_ADD(c->w->stats.net_out, (uint64_t)n);
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > (1u << 20)) buf_shrink(&c->out, 16 * 1024);
    if (c->closing && !c->head) {
        client_destroy(c);
        return -1;
    }
    return 0;
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    c->write_blocked = 0;
    if (c->tls_wait & CLIENT_TLS_READ_WANTS_WRITE) {
        /* the read that waited for this */
        c->tls_wait &= ~CLIENT_TLS_READ_WANTS_WRITE;
        if (client_read(c) < 0) return;
    }
    client_flush(c);
}
