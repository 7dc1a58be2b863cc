/* httpapi: see httpapi.h.
 *
 * Routes (arguments are URL-escaped path segments, '/' separates them, so
 * "/SET/k/" sets k to ""):
 *   GET|POST /CMD/arg1/arg2...   one command
 *   POST /   ["SET","k","v"]     one command from a JSON array
 *   POST /   [["SET","k","v"],["GET","k"]]   a pipeline: a JSON array of
 *                                the replies, status 200
 *   POST|PUT /set/{key}  {"value": v}   SET key v
 *   GET /get/{key}                 GET key (404 with null when missing)
 *   (these three routes are lower case exactly: /GET/k is the command)
 *   DELETE /delete/{key}           DEL key
 *   OPTIONS *                      CORS preflight
 * A JSON argument is a string, a number (its text) or {"base64": "..."}. */
#include "httpapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "json.h"
#include "log.h"
#include "reply.h"
#include "resp2json.h"
#include "util.h"

#define HTTPAPI_MAX_IDLE 64

enum route_kind { ROUTE_CMD, ROUTE_KV_GET };

struct hreq;

struct hlink {
    struct bufferevent *bev;
    struct hlink *next;         /* idle list */
    struct hreq *r;             /* request using the link, or NULL (idle) */
    reply_scanner sc;
    int hello;                  /* the HELLO reply is still due */
    int auth_wait;              /* ... and the commands wait for it (r->held) */
    int single;                 /* one request's (its own user): closed after */
    int broken;                 /* do not keep it */
};

/* Credentials the program itself must check (a fresh link says HELLO 3
 * AUTH with them), or none (a pooled link). */
struct creds {
    char *user, *pass;          /* owned, NUL-terminated */
    size_t ulen, plen;
};

struct hreq {
    struct evhttp_request *req;
    struct hlink *l;
    int ncmds, got;
    int pipeline;
    enum route_kind kind;
    int status;                 /* of a single reply */
    buf body;                   /* JSON of the replies so far */
    char *fail;                 /* an error replacing the replies (HELLO's), owned */
    struct evbuffer *held;      /* the commands, until a fresh link's AUTH is accepted */
    struct hreq *prev, *next;   /* waiting requests */
};

struct hcmd {
    int argc;
    char **argv;
    size_t *argvlen;
};

static struct {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct httpapi_conf conf;   /* strings owned */
    struct hlink *idle;
    int nidle;
    struct hreq *waiting;
} H;

/* ---- responses ---- */

static void add_cors(struct evhttp_request *req, int preflight)
{
    if (!H.conf.cors_origin[0]) return;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Origin", H.conf.cors_origin);
    if (strcmp(H.conf.cors_origin, "*")) evhttp_add_header(h, "Vary", "Origin");
    if (preflight) {
        evhttp_add_header(h, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
        evhttp_add_header(h, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        evhttp_add_header(h, "Access-Control-Max-Age", "600");
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Error";
    }
}

static void send_json(struct evhttp_request *req, int status, const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, len);
    evbuffer_add(b, "\n", 1);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    if (status == 401) evhttp_add_header(h, "WWW-Authenticate", "Basic realm=\"strata\"");
    add_cors(req, 0);
    evhttp_send_reply(req, status, reason(status), b);
    evbuffer_free(b);
}

static void send_error(struct evhttp_request *req, int status, const char *text)
{
    buf b;
    buf_init(&b);
    buf_append_str(&b, "{\"error\":");
    if (json_utf8_valid(text, strlen(text))) json_add_cstr(&b, text);
    else json_add_cstr(&b, "ERR (error text is not UTF-8)");
    buf_append_char(&b, '}');
    send_json(req, status ? status : resp2json_http_status(text, strlen(text)), b.data, b.len);
    buf_free(&b);
}

/* ---- commands ---- */

static void cmd_free(struct hcmd *c)
{
    for (int i = 0; i < c->argc; i++) free(c->argv[i]);
    free(c->argv);
    free(c->argvlen);
    c->argc = 0;
    c->argv = NULL;
    c->argvlen = NULL;
}

static void cmds_free(struct hcmd *c, int n)
{
    for (int i = 0; i < n; i++) cmd_free(&c[i]);
    free(c);
}

/* Takes ownership of p (NUL-terminated, len bytes before the NUL). */
static void cmd_push(struct hcmd *c, char *p, size_t len)
{
    c->argv = xrealloc(c->argv, (size_t)(c->argc + 1) * sizeof *c->argv);
    c->argvlen = xrealloc(c->argvlen, (size_t)(c->argc + 1) * sizeof *c->argvlen);
    c->argv[c->argc] = p;
    c->argvlen[c->argc++] = len;
}

/* The key-value routes are lower case exactly: /GET/k is the command GET
 * (null when missing), /get/k the route (404 when missing). */
static int kv_route(const struct hcmd *c, const char *s)
{
    return c->argc == 2 && c->argvlen[0] == strlen(s) && !memcmp(c->argv[0], s, c->argvlen[0]);
}

static int arg_is(const struct hcmd *c, int i, const char *s)
{
    return i < c->argc && c->argvlen[i] == strlen(s) && !strncasecmp(c->argv[i], s, c->argvlen[i]);
}

/* One JSON value as an argument: appended to c, or -1 with err set. */
static int json_arg(struct hcmd *c, const json *v, const char **err)
{
    if (v->type == JSON_STRING || v->type == JSON_NUMBER) {
        cmd_push(c, xmemdup(v->str, v->len), v->len);
        return 0;
    }
    const json *b = json_get(v, "base64");
    if (b && v->n == 1 && b->type == JSON_STRING) {
        size_t n;
        char *d = json_base64_decode(b->str, b->len, &n);
        if (!d) {
            *err = "ERR invalid base64 in a {\"base64\": ...} argument";
            return -1;
        }
        char *z = xmemdup(d, n);
        free(d);
        cmd_push(c, z, n);
        return 0;
    }
    *err = "ERR a JSON argument must be a string, a number or {\"base64\": \"...\"}";
    return -1;
}

static int json_cmd(struct hcmd *c, const json *a, const char **err)
{
    if (a->type != JSON_ARRAY || a->n == 0) {
        *err = "ERR a command is a non-empty JSON array: [\"CMD\", \"arg\", ...]";
        return -1;
    }
    for (int i = 0; i < a->n; i++)
        if (json_arg(c, a->items[i], err) < 0) return -1;
    return 0;
}

static int timeout_zero(const char *p, size_t len)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp) return 0;
    memcpy(tmp, p, len);
    tmp[len] = 0;
    char *end;
    double d = strtod(tmp, &end);
    return *end == 0 && d == 0;
}

const char *httpapi_refusal(int argc, char *const *argv, const size_t *argvlen, char *tmp,
                            size_t tmplen)
{
    static const char *const conn_cmds[] = {
        "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
        "monitor", "sync", "psync", "replconf", "hello", "auth", "quit", "reset", "select",
        "watch", NULL,
    };
    static const char *const client_subs[] = {
        "reply", "tracking", "caching", "setname", "no-evict", "no-touch", NULL,
    };
    struct hcmd c = { argc, (char **)argv, (size_t *)argvlen };
    char name[32];
    size_t nl = argvlen[0] < sizeof name - 1 ? argvlen[0] : sizeof name - 1;
    for (size_t i = 0; i < nl; i++) name[i] = (char)(argv[0][i] >= 'a' && argv[0][i] <= 'z' ? argv[0][i] - 32 : argv[0][i]);
    name[nl] = 0;
    for (int i = 0; conn_cmds[i]; i++)
        if (arg_is(&c, 0, conn_cmds[i])) {
            snprintf(tmp, tmplen,
                     "ERR %s is not available over HTTP: it needs a connection that lasts across "
                     "requests (use RESP)", name);
            return tmp;
        }
    if (arg_is(&c, 0, "client"))
        for (int i = 0; client_subs[i]; i++)
            if (arg_is(&c, 1, client_subs[i])) {
                snprintf(tmp, tmplen,
                         "ERR CLIENT %s is not available over HTTP: it sets up the connection for "
                         "later requests (use RESP)", client_subs[i]);
                return tmp;
            }
    /* Blocking commands whose timeout 0 means "for ever". */
    int t = -1;
    if (arg_is(&c, 0, "blpop") || arg_is(&c, 0, "brpop") || arg_is(&c, 0, "bzpopmin") ||
        arg_is(&c, 0, "bzpopmax") || arg_is(&c, 0, "blmove") || arg_is(&c, 0, "brpoplpush"))
        t = argc - 1;
    else if (arg_is(&c, 0, "blmpop") || arg_is(&c, 0, "bzmpop"))
        t = 1;
    else if (arg_is(&c, 0, "wait"))
        t = 2;
    else if (arg_is(&c, 0, "xread") || arg_is(&c, 0, "xreadgroup"))
        for (int i = 1; i + 1 < argc; i++) {
            if (arg_is(&c, i, "streams")) break;
            if (arg_is(&c, i, "block")) t = i + 1;
        }
    if (t > 0 && t < argc && timeout_zero(argv[t], argvlen[t])) {
        snprintf(tmp, tmplen,
                 "ERR %s with a timeout of 0 would block for ever: not available over HTTP "
                 "(give a timeout)", name);
        return tmp;
    }
    return NULL;
}

/* Checks every command of a request; returns an error text or NULL. */
static const char *check_cmds(const struct hcmd *c, int n, long long max_bulk, char *tmp, size_t tmplen)
{
    int in_multi = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < c[i].argc; j++)
            if ((long long)c[i].argvlen[j] > max_bulk) return "ERR Protocol error: invalid bulk length";
        const char *why = httpapi_refusal(c[i].argc, c[i].argv, c[i].argvlen, tmp, tmplen);
        if (why) return why;
        if (arg_is(&c[i], 0, "multi") && c[i].argc == 1) in_multi = 1;
        else if (arg_is(&c[i], 0, "exec") || arg_is(&c[i], 0, "discard")) in_multi = 0;
    }
    if (in_multi)
        return "ERR MULTI over HTTP must be closed by EXEC or DISCARD in the same pipeline";
    return NULL;
}

/* ---- links ---- */

static void link_free(struct hlink *l)
{
    if (l->bev) bufferevent_free(l->bev);
    free(l);
}

static void idle_remove(struct hlink *l)
{
    for (struct hlink **pp = &H.idle; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            H.nidle--;
            return;
        }
}

static void req_unlink(struct hreq *r)
{
    if (r->prev) r->prev->next = r->next;
    else H.waiting = r->next;
    if (r->next) r->next->prev = r->prev;
}

static void req_free(struct hreq *r)
{
    req_unlink(r);
    buf_free(&r->body);
    free(r->fail);
    if (r->held) evbuffer_free(r->held);
    free(r);
}

/* The last reply arrived: answer, and keep or close the link. */
static void req_finish(struct hreq *r)
{
    struct hlink *l = r->l;
    if (r->fail) {
        send_error(r->req, 0, r->fail);
    } else if (r->pipeline) {
        buf_append_char(&r->body, ']');
        send_json(r->req, 200, r->body.data, r->body.len);
    } else {
        int status = r->status;
        if (r->kind == ROUTE_KV_GET && status == 200 && r->body.len == 4 && !memcmp(r->body.data, "null", 4))
            status = 404;
        send_json(r->req, status, r->body.data, r->body.len);
    }
    req_free(r);
    l->r = NULL;
    if (l->broken || l->single || H.nidle >= HTTPAPI_MAX_IDLE ||
        evbuffer_get_length(bufferevent_get_input(l->bev))) {
        link_free(l);
        return;
    }
    l->next = H.idle;
    H.idle = l;
    H.nidle++;
}

static void link_fail(struct hlink *l, const char *why)
{
    struct hreq *r = l->r;
    if (r) {
        char text[256];
        snprintf(text, sizeof text, "ERR backend: the connection to %s was lost (%s)", H.conf.program, why);
        send_error(r->req, 502, text);
        req_free(r);
    } else {
        idle_remove(l);
    }
    link_free(l);
}

static void link_read_cb(struct bufferevent *bev, void *arg)
{
    struct hlink *l = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t n = evbuffer_get_length(in);
        if (n == 0) return;
        const char *data = (const char *)evbuffer_pullup(in, -1);
        size_t end;
        int rc = reply_scan(&l->sc, data, n, &end);
        if (rc == REPLY_AGAIN) return;
        if (rc == REPLY_ERR) {
            log_warn("http: bad reply from %s: %s", H.conf.program, l->sc.err);
            link_fail(l, "bad reply");
            return;
        }
        struct hreq *r = l->r;
        if (l->sc.type == REPLY_PUSH) { /* out of band: nothing asked for it */
            evbuffer_drain(in, end);
            continue;
        }
        if (!r) {
            link_fail(l, "reply without a request");
            return;
        }
        if (l->hello) {
            l->hello = 0;
            if (l->sc.is_error) {
                struct reply_hdr h;
                r->fail = reply_header(data, end, &h) == 0 ? xmemdup(h.str, h.len) : xstrdup("ERR HELLO failed");
                l->broken = 1;
            }
            if (l->auth_wait) {
                /* The commands go only once the program accepted the
                 * credentials: refused ones run nothing. */
                l->auth_wait = 0;
                evbuffer_drain(in, end);
                if (r->fail) {
                    req_finish(r);
                    return;
                }
                bufferevent_write_buffer(l->bev, r->held);
                continue;
            }
        } else {
            if (r->pipeline && r->got) buf_append_char(&r->body, ',');
            size_t mark = r->body.len;
            if (resp2json(&r->body, data, end) < 0) {
                r->body.len = mark;
                buf_append_str(&r->body, "{\"error\":\"ERR reply cannot be read\"}");
            }
            if (l->sc.is_error && !r->pipeline) {
                struct reply_hdr h;
                if (reply_header(data, end, &h) == 0) r->status = resp2json_http_status(h.str, h.len);
            }
            r->got++;
        }
        evbuffer_drain(in, end);
        if (r->got == r->ncmds && !l->hello) {
            req_finish(r); /* l is now idle or freed */
            return;
        }
    }
}

static void link_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct hlink *l = arg;
    if (what & BEV_EVENT_CONNECTED) return;
    link_fail(l, (what & BEV_EVENT_EOF) ? "closed" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void put_arg(struct evbuffer *out, const char *p, size_t len)
{
    evbuffer_add_printf(out, "$%zu\r\n", len);
    evbuffer_add(out, p, len);
    evbuffer_add(out, "\r\n", 2);
}

/* HELLO 3, with AUTH user pass when user is given. */
static void put_hello(struct evbuffer *out, const char *user, size_t ulen, const char *pass, size_t plen)
{
    evbuffer_add(out, user ? "*5\r\n" : "*2\r\n", 4);
    put_arg(out, "HELLO", 5);
    put_arg(out, "3", 1);
    if (!user) return;
    put_arg(out, "AUTH", 4);
    put_arg(out, user, ulen);
    put_arg(out, pass, plen);
}

/* ---- requests ---- */

static struct event_base *api_base;

static void run_cmds(struct evhttp_request *req, struct hcmd *c, int n, int pipeline, enum route_kind kind,
                     const struct creds *cr)
{
    char tmp[256];
    const char *why = check_cmds(c, n, H.conf.max_bulk(), tmp, sizeof tmp);
    if (why) {
        send_error(req, 0, why);
        return;
    }
    struct hlink *l;
    if (H.idle && !cr->user) {
        l = H.idle;
        H.idle = l->next;
        H.nidle--;
    } else {
        char err[256] = "ERR cannot reach the server";
        int fd = H.conf.open_link(err, sizeof err);
        if (fd < 0) {
            send_error(req, 0, err);
            return;
        }
        evutil_make_socket_nonblocking(fd);
        l = xcalloc(1, sizeof *l);
        l->bev = bufferevent_socket_new(api_base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (!l->bev) {
            close(fd);
            free(l);
            send_error(req, 503, "ERR cannot create a link");
            return;
        }
        reply_scanner_init(&l->sc);
        bufferevent_setcb(l->bev, link_read_cb, NULL, link_event_cb, l);
        bufferevent_enable(l->bev, EV_READ | EV_WRITE);
        struct evbuffer *out = bufferevent_get_output(l->bev);
        const char *pw = H.conf.password();
        if (cr->user) {
            put_hello(out, cr->user, cr->ulen, cr->pass, cr->plen);
            l->auth_wait = 1;
            l->single = 1;
        } else if (pw && *pw) {
            put_hello(out, "default", 7, pw, strlen(pw));
        } else {
            put_hello(out, NULL, 0, NULL, 0);
        }
        l->hello = 1;
    }
    struct hreq *r = xcalloc(1, sizeof *r);
    r->req = req;
    r->l = l;
    r->ncmds = n;
    r->pipeline = pipeline;
    r->kind = kind;
    r->status = 200;
    buf_init(&r->body);
    if (pipeline) buf_append_char(&r->body, '[');
    r->next = H.waiting;
    if (H.waiting) H.waiting->prev = r;
    H.waiting = r;
    l->r = r;
    struct evbuffer *out = bufferevent_get_output(l->bev);
    if (l->auth_wait) out = r->held = evbuffer_new();
    for (int i = 0; i < n; i++) {
        evbuffer_add_printf(out, "*%d\r\n", c[i].argc);
        for (int j = 0; j < c[i].argc; j++) put_arg(out, c[i].argv[j], c[i].argvlen[j]);
    }
}

/* 0: allowed, with cr->user set when the program itself must check the
 * credentials on a fresh link; -1: the error was sent.  The default user
 * with the program's password is checked here, at each request, against
 * the current one (pooled links said AUTH when they opened); a named user,
 * or any credentials while the program has no password (an ACL file may
 * still give the default user one), go to the program as HELLO 3 AUTH. */
static int check_auth(struct evhttp_request *req, struct creds *cr)
{
    const char *pw = H.conf.password();
    if (!pw) pw = "";
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h) {
        if (!*pw) return 0;
        send_error(req, 401, "NOAUTH Authentication required.");
        return -1;
    }
    static const char wrongpass[] = "WRONGPASS invalid username-password pair or user is disabled.";
    const char *user = "default", *pass;
    size_t ulen = 7, plen;
    char *decoded = NULL;
    while (*h == ' ') h++;
    if (!strncasecmp(h, "Bearer ", 7)) {
        pass = h + 7;
        while (*pass == ' ') pass++;
        plen = strlen(pass);
    } else if (!strncasecmp(h, "Basic ", 6)) {
        const char *b = h + 6;
        while (*b == ' ') b++;
        size_t n;
        decoded = json_base64_decode(b, strlen(b), &n);
        char *colon = decoded ? memchr(decoded, ':', n) : NULL;
        if (!colon) {
            free(decoded);
            send_error(req, 401, "ERR Authorization: Basic needs base64 of user:password");
            return -1;
        }
        if (colon > decoded) {
            user = decoded;
            ulen = (size_t)(colon - decoded);
        }
        pass = colon + 1;
        plen = n - (size_t)(pass - decoded);
    } else {
        send_error(req, 401, "ERR Authorization must be Basic or Bearer");
        return -1;
    }
    int is_default = ulen == 7 && !strncasecmp(user, "default", 7);
    if (!is_default || !*pw) {
        cr->user = xmemdup(user, ulen);
        cr->ulen = ulen;
        cr->pass = xmemdup(pass, plen);
        cr->plen = plen;
        free(decoded);
        return 0;
    }
    /* Compare every byte regardless of where they differ. */
    size_t wl = strlen(pw);
    unsigned diff = (unsigned)(wl ^ plen);
    for (size_t i = 0; i < plen; i++) diff |= (unsigned char)pass[i] ^ (unsigned char)pw[i % wl];
    free(decoded);
    if (diff) {
        send_error(req, 401, wrongpass);
        return -1;
    }
    return 0;
}

/* The path's segments, URL-decoded, as a command. */
static int path_cmd(const char *path, struct hcmd *c)
{
    if (*path == '/') path++;
    if (!*path) return 0;
    for (;;) {
        const char *slash = strchr(path, '/');
        size_t seglen = slash ? (size_t)(slash - path) : strlen(path);
        char *seg = xmemdup(path, seglen);
        size_t outlen = 0;
        char *dec = evhttp_uridecode(seg, 0, &outlen);
        free(seg);
        if (!dec) return -1;
        char *arg = xmemdup(dec, outlen);
        free(dec);
        cmd_push(c, arg, outlen);
        if (!slash) break;
        path = slash + 1;
    }
    return 0;
}

static void serve(struct evhttp_request *req, enum evhttp_cmd_type method, const struct creds *cr);

static void main_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method == EVHTTP_REQ_OPTIONS) {
        add_cors(req, 1);
        evhttp_send_reply(req, 204, "No Content", NULL);
        return;
    }
    struct creds cr = { NULL, NULL, 0, 0 };
    if (check_auth(req, &cr) < 0) return;
    serve(req, method, &cr);
    free(cr.user);
    free(cr.pass);
}

/* One authenticated request: its commands from the path or the body. */
static void serve(struct evhttp_request *req, enum evhttp_cmd_type method, const struct creds *cr)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path) path = "/";
    struct evbuffer *inb = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(inb);
    const char *body = blen ? (const char *)evbuffer_pullup(inb, -1) : "";

    struct hcmd pc = { 0, NULL, NULL };
    if (path_cmd(path, &pc) < 0) {
        send_error(req, 400, "ERR bad URL escape in the path");
        return;
    }
    const char *err = NULL;
    char jerr[128];
    if (pc.argc == 0) {
        if (method != EVHTTP_REQ_POST) {
            send_error(req, 400, "ERR POST a JSON command to /, or use /CMD/arg...");
            return;
        }
        json *j = json_parse(body, blen, jerr, sizeof jerr);
        if (!j) {
            char text[200];
            snprintf(text, sizeof text, "ERR the body is not JSON: %s", jerr);
            send_error(req, 400, text);
            return;
        }
        int pipeline = j->type == JSON_ARRAY && j->n > 0 && j->items[0]->type == JSON_ARRAY;
        int n = pipeline ? j->n : 1;
        struct hcmd *cmds = xcalloc((size_t)n, sizeof *cmds);
        for (int i = 0; i < n && !err; i++) json_cmd(&cmds[i], pipeline ? j->items[i] : j, &err);
        json_free(j);
        if (err) send_error(req, 400, err);
        else run_cmds(req, cmds, n, pipeline, ROUTE_CMD, cr);
        cmds_free(cmds, n);
        return;
    }
    enum route_kind kind = ROUTE_CMD;
    struct hcmd *cmd = xcalloc(1, sizeof *cmd);
    if (kv_route(&pc, "set") && (method == EVHTTP_REQ_PUT || (method == EVHTTP_REQ_POST && blen))) {
        json *j = json_parse(body, blen, jerr, sizeof jerr);
        const json *v = json_get(j, "value");
        if (!v) {
            err = "ERR the body of /set/{key} is {\"value\": ...}";
        } else {
            cmd_push(cmd, xstrdup("SET"), 3);
            cmd_push(cmd, pc.argv[1], pc.argvlen[1]);
            pc.argv[1] = NULL;
            json_arg(cmd, v, &err);
        }
        json_free(j);
    } else if (method == EVHTTP_REQ_DELETE) {
        if (kv_route(&pc, "delete")) {
            cmd_push(cmd, xstrdup("DEL"), 3);
            cmd_push(cmd, pc.argv[1], pc.argvlen[1]);
            pc.argv[1] = NULL;
        } else {
            err = "ERR DELETE is for /delete/{key}";
        }
    } else if (method == EVHTTP_REQ_PUT) {
        err = "ERR PUT is for /set/{key}";
    } else {
        if (kv_route(&pc, "get") && method == EVHTTP_REQ_GET) kind = ROUTE_KV_GET;
        *cmd = pc;
        pc.argc = 0;
        pc.argv = NULL;
        pc.argvlen = NULL;
    }
    cmd_free(&pc);
    if (err) send_error(req, err[0] == 'E' && strstr(err, "DELETE is") ? 405 : 400, err);
    else run_cmds(req, cmd, 1, 0, kind, cr);
    cmds_free(cmd, 1);
}

int httpapi_listen_addr(const char *listen, char *host, size_t hostlen, int *port)
{
    if (parse_hostport(listen, host, hostlen, port) == 0) return 0;
    char *end;
    long p = strtol(listen, &end, 10);
    if (*end || p < 0 || p > 65535 || end == listen) return -1;
    snprintf(host, hostlen, "127.0.0.1");
    *port = (int)p;
    return 0;
}

int httpapi_start(struct event_base *base, const struct httpapi_conf *conf, buf *errs)
{
    char host[256];
    int port;
    if (httpapi_listen_addr(conf->listen, host, sizeof host, &port) < 0) {
        buf_printf(errs, "http_listen: '%s' is not HOST:PORT or PORT\n", conf->listen);
        return -1;
    }
    H.http = evhttp_new(base);
    errno = 0;
    if (H.http) H.sock = evhttp_bind_socket_with_handle(H.http, host, (unsigned short)port);
    if (!H.http || !H.sock) {
        int e = errno;
        buf_printf(errs, "cannot listen for HTTP on %s (http_listen): %s\n", conf->listen,
                   e ? strerror(e) : "host not found");
        if (H.http) evhttp_free(H.http);
        H.http = NULL;
        return -1;
    }
    api_base = base;
    H.conf = *conf;
    H.conf.program = xstrdup(conf->program);
    H.conf.listen = xstrdup(conf->listen);
    H.conf.cors_origin = xstrdup(conf->cors_origin ? conf->cors_origin : "");
    evhttp_set_allowed_methods(H.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                           EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
    if (conf->max_body) evhttp_set_max_body_size(H.http, (ev_ssize_t)conf->max_body);
    evhttp_set_max_headers_size(H.http, 64 * 1024);
    evhttp_set_default_content_type(H.http, "application/json");
    evhttp_set_gencb(H.http, main_cb, NULL);
    return 0;
}

int httpapi_port(void)
{
    if (!H.sock) return 0;
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(H.sock), (struct sockaddr *)&ss, &sl) < 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

void httpapi_stop(void)
{
    if (!H.http) return;
    while (H.waiting) {
        struct hreq *r = H.waiting;
        struct hlink *l = r->l;
        send_error(r->req, 503, "ERR shutting down");
        req_free(r);
        link_free(l);
    }
    while (H.idle) {
        struct hlink *l = H.idle;
        H.idle = l->next;
        link_free(l);
    }
    H.nidle = 0;
    evhttp_free(H.http);
    H.http = NULL;
    H.sock = NULL;
    free((char *)H.conf.program);
    free((char *)H.conf.listen);
    free((char *)H.conf.cors_origin);
    memset(&H.conf, 0, sizeof H.conf);
}
