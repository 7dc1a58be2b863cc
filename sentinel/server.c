/* server: the listener, client connections and pub/sub of
 * strata-sentinel.  See server.h.
 *
 *   socket --read--> c->in --resp_parse--> argv (NUL-terminated copies)
 *          --cmd_dispatch--> c->out --bufferevent--> socket
 *
 * A RESP2 client that subscribed is in pub/sub mode: cmd.c only lets it
 * (un)subscribe, PING and QUIT, as Redis does; a RESP3 client may run any
 * command, since pushes (>) cannot be mistaken for replies.  Published
 * messages are written straight into each subscriber's bufferevent, as
 * pushes or arrays after the subscriber's protocol. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "cmd.h"
#include "log.h"
#include "resp.h"
#include "sentinel.h"
#include "util.h"

/* Unparsed input beyond this closes the client: sentinel commands are small. */
#define SERVER_MAX_INPUT (16u << 20)
#define SERVER_MAX_ARGS 4096

struct sclient {
    struct bufferevent *bev;
    resp_parser parser;
    buf in;
    char addr[64];
    char laddr[64];
    int fd;
    long long id;          /* CLIENT ID: from 1, never reused */
    int proto;             /* RESP2 or RESP3 (HELLO) */
    char *name;            /* CLIENT SETNAME; NULL if none (owned) */
    uint64_t created_ms, last_cmd_ms;
    char lastcmd[48];      /* CLIENT LIST's cmd=, as Redis names it */
    int authed;
    int closing;           /* close once the output is written */
    int nchans, npats;
    char **chans;          /* owned strings */
    char **pats;
    struct sclient *prev, *next;
};

static struct evconnlistener *listener;
static struct sclient *clients;
static int nclients;
static long long next_client_id = 1;
static long long ncommands;

static int sub_find(char **v, int n, const char *s);

static void client_free(struct sclient *c)
{
    if (c->prev) c->prev->next = c->next;
    else clients = c->next;
    if (c->next) c->next->prev = c->prev;
    nclients--;
    bufferevent_free(c->bev);
    resp_parser_free(&c->parser);
    buf_free(&c->in);
    for (int i = 0; i < c->nchans; i++) free(c->chans[i]);
    for (int i = 0; i < c->npats; i++) free(c->pats[i]);
    free(c->chans);
    free(c->pats);
    free(c->name);
    free(c);
}

static void client_send(struct sclient *c, buf *out)
{
    if (out->len) bufferevent_write(c->bev, out->data, out->len);
    buf_clear(out);
}

static int client_run(struct sclient *c, const resp_parser *p, buf *out)
{
    int argc = p->argc;
    char **argv = xcalloc((size_t)argc + 1, sizeof *argv);
    size_t *lens = xcalloc((size_t)argc + 1, sizeof *lens);
    for (int i = 0; i < argc; i++) {
        argv[i] = xmemdup(p->argv[i], p->argvlen[i]);
        lens[i] = p->argvlen[i];
    }
    const char *pw = snt.conf.topo.password;
    int need_auth = pw && *pw && !c->authed;
    c->last_cmd_ms = now_ms();
    cmd_dispatch(c, need_auth, argc, argv, lens, out);
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
    free(lens);
    return c->closing;
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
    struct sclient *c = arg;
    struct evbuffer *input = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(input);
    buf_reserve(&c->in, n);
    evbuffer_remove(input, c->in.data + c->in.len, n);
    c->in.len += n;
    buf out;
    buf_init(&out);
    while (!c->closing && c->in.len) {
        size_t consumed = 0;
        int rc = resp_parse(&c->parser, c->in.data, c->in.len, &consumed);
        if (rc == RESP_OK) {
            client_run(c, &c->parser, &out);
            buf_consume(&c->in, consumed);
        } else if (rc == RESP_AGAIN) {
            if (consumed) buf_consume(&c->in, consumed);
            break;
        } else {
            resp_add_error(&out, c->parser.err);
            c->closing = 1;
        }
    }
    if (c->in.len > SERVER_MAX_INPUT) {
        log_warn("client %s: input over %u bytes; closing", c->addr, SERVER_MAX_INPUT);
        c->closing = 1;
    }
    client_send(c, &out);
    buf_free(&out);
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) client_free(c);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
    struct sclient *c = arg;
    (void)bev;
    if (c->closing) client_free(c);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) client_free(arg);
}

/* "ip:port" of an IPv4 or IPv6 socket address, "?:0" for another family. */
static void format_addr(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        port = ntohs(s6->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l;
    (void)salen;
    (void)arg;
    struct sclient *c = xcalloc(1, sizeof *c);
    c->bev = bufferevent_socket_new(snt.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    resp_parser_init(&c->parser);
    c->parser.max_args = SERVER_MAX_ARGS;
    buf_init(&c->in);
    format_addr(sa, c->addr, sizeof c->addr);
    struct sockaddr_storage local;
    socklen_t locallen = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &locallen) == 0)
        format_addr((struct sockaddr *)&local, c->laddr, sizeof c->laddr);
    else
        snprintf(c->laddr, sizeof c->laddr, "?");
    c->fd = (int)fd;
    c->id = next_client_id++;
    c->proto = RESP2;
    c->created_ms = c->last_cmd_ms = now_ms();
    snprintf(c->lastcmd, sizeof c->lastcmd, "NULL");
    c->next = clients;
    if (clients) clients->prev = c;
    clients = c;
    nclients++;
    bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

int server_start(const char *bind, int port, buf *errs)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gai = getaddrinfo(bind, ps, &hints, &res);
    if (gai != 0 || !res) {
        buf_printf(errs, "cannot resolve bind address %s: %s\n", bind, gai_strerror(gai));
        return -1;
    }
    listener = evconnlistener_new_bind(snt.base, accept_cb, NULL,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                       511, res->ai_addr, (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (!listener) {
        buf_printf(errs, "cannot listen on %s:%d: %s\n", bind, port, strerror(errno));
        return -1;
    }
    return 0;
}

void server_stop(void)
{
    if (listener) evconnlistener_free(listener);
    listener = NULL;
    while (clients) client_free(clients);
}

int server_nclients(void)
{
    return nclients;
}

void server_count_command(void)
{
    ncommands++;
}

void server_stats(long long *conns, long long *cmds, int *chans, int *pats)
{
    *conns = next_client_id - 1;
    *cmds = ncommands;
    *chans = *pats = 0;
    /* Distinct channels and patterns, as Redis counts them: each one is
     * counted at the first client (in list order) subscribed to it. */
    for (const struct sclient *c = clients; c; c = c->next) {
        for (int i = 0; i < c->nchans; i++) {
            const struct sclient *o = clients;
            while (o != c && sub_find(o->chans, o->nchans, c->chans[i]) < 0) o = o->next;
            *chans += o == c;
        }
        for (int i = 0; i < c->npats; i++) {
            const struct sclient *o = clients;
            while (o != c && sub_find(o->pats, o->npats, c->pats[i]) < 0) o = o->next;
            *pats += o == c;
        }
    }
}

const char *server_client_addr(const struct sclient *c)
{
    return c->addr;
}

void server_client_close_after_reply(struct sclient *c)
{
    c->closing = 1;
}

void server_client_set_authed(struct sclient *c)
{
    c->authed = 1;
}

int server_client_subscriptions(const struct sclient *c)
{
    return c->nchans + c->npats;
}

int server_client_authed(const struct sclient *c)
{
    return c->authed;
}

int server_client_proto(const struct sclient *c)
{
    return c->proto;
}

void server_client_set_proto(struct sclient *c, int proto)
{
    c->proto = proto;
}

long long server_client_id(const struct sclient *c)
{
    return c->id;
}

const char *server_client_name(const struct sclient *c)
{
    return c->name;
}

void server_client_set_name(struct sclient *c, const char *name, size_t len)
{
    free(c->name);
    c->name = len ? xmemdup(name, len) : NULL;
}

void server_client_set_cmd(struct sclient *c, const char *fullname)
{
    snprintf(c->lastcmd, sizeof c->lastcmd, "%s", fullname);
}

/* One line of CLIENT LIST in Redis 7.0's field order.  The memory fields
 * are this client's own buffers; the ones Redis has and Strata has not
 * (multi, shard channels, redirection) have the values Redis gives a
 * client that does not use them. */
static void client_line(buf *o, const struct sclient *c, uint64_t now)
{
    size_t qbuf = c->in.len, qfree = c->in.cap - c->in.len;
    size_t obl = evbuffer_get_length(bufferevent_get_output(c->bev));
    buf_printf(o, "id=%lld addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=0 "
                  "sub=%d psub=%d ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 "
                  "rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s "
                  "user=default redir=-1 resp=%d\n",
               c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
               (unsigned long long)((now - c->created_ms) / 1000),
               (unsigned long long)((now - c->last_cmd_ms) / 1000),
               c->nchans + c->npats ? "P" : "N", c->nchans, c->npats, qbuf, qfree, c->in.cap,
               c->in.cap, obl, obl, sizeof *c + c->in.cap + obl, obl ? "w" : "", c->lastcmd,
               c->proto);
}

void server_client_list(const struct sclient *self, int only_self, buf *o)
{
    uint64_t now = now_ms();
    if (only_self) {
        client_line(o, self, now);
        return;
    }
    /* Oldest first, as Redis lists them. */
    const struct sclient *last = clients;
    while (last && last->next) last = last->next;
    for (const struct sclient *c = last; c; c = c->prev) client_line(o, c, now);
}

/* ---- pub/sub ---- */

static int sub_find(char **v, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return i;
    return -1;
}

/* A (un)subscribe confirmation: a push in RESP3, an array in RESP2. */
static void sub_reply(const struct sclient *c, buf *out, const char *kind, const char *name, size_t len,
                      int count)
{
    resp_add_push(out, c->proto, 3);
    resp_add_bulk_str(out, kind);
    if (name) resp_add_bulk(out, name, len);
    else resp_add_null(out, c->proto);
    resp_add_int(out, count);
}

void server_subscribe(struct sclient *c, int pattern, int argc, char **argv, size_t *argvlen, buf *out)
{
    char ***v = pattern ? &c->pats : &c->chans;
    int *n = pattern ? &c->npats : &c->nchans;
    for (int i = 1; i < argc; i++) {
        if (sub_find(*v, *n, argv[i]) < 0) {
            *v = xrealloc(*v, (size_t)(*n + 1) * sizeof **v);
            (*v)[(*n)++] = xstrdup(argv[i]);
        }
        sub_reply(c, out, pattern ? "psubscribe" : "subscribe", argv[i], argvlen[i],
                  c->nchans + c->npats);
    }
}

void server_unsubscribe(struct sclient *c, int pattern, int argc, char **argv, size_t *argvlen, buf *out)
{
    char **v = pattern ? c->pats : c->chans;
    int *n = pattern ? &c->npats : &c->nchans;
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    if (argc < 2) {
        if (*n == 0) sub_reply(c, out, kind, NULL, 0, c->nchans + c->npats);
        while (*n > 0) {
            char *s = v[--(*n)];
            sub_reply(c, out, kind, s, strlen(s), c->nchans + c->npats);
            free(s);
        }
        return;
    }
    for (int i = 1; i < argc; i++) {
        int k = sub_find(v, *n, argv[i]);
        if (k >= 0) {
            free(v[k]);
            v[k] = v[--(*n)];
        }
        sub_reply(c, out, kind, argv[i], argvlen[i], c->nchans + c->npats);
    }
}

int server_publish(const char *channel, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_info("%s %s", channel, msg);
    size_t cl = strlen(channel), ml = strlen(msg);
    int receivers = 0;
    buf out;
    buf_init(&out);
    for (struct sclient *c = clients; c; c = c->next) {
        if (c->closing) continue;
        if (sub_find(c->chans, c->nchans, channel) >= 0) {
            resp_add_push(&out, c->proto, 3);
            resp_add_bulk_str(&out, "message");
            resp_add_bulk(&out, channel, cl);
            resp_add_bulk(&out, msg, ml);
            receivers++;
        }
        for (int i = 0; i < c->npats; i++) {
            if (!glob_match(c->pats[i], strlen(c->pats[i]), channel, cl, 0)) continue;
            resp_add_push(&out, c->proto, 4);
            resp_add_bulk_str(&out, "pmessage");
            resp_add_bulk_str(&out, c->pats[i]);
            resp_add_bulk(&out, channel, cl);
            resp_add_bulk(&out, msg, ml);
            receivers++;
        }
        client_send(c, &out);
    }
    buf_free(&out);
    return receivers;
}
