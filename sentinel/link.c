/* link: outgoing hiredis async connections with timeouts.  See link.h.
 *
 * Life of a connection:
 *
 *   (down) --link_tick, retry due--> CONNECTING --connect cb OK--> UP
 *     ^                                 |  connect cb error,          |
 *     |                                 |  connect timeout            | peer closed, reply
 *     +---------------------------------+-----------------------------+ timeout, link_close
 *
 * Requests carry a small link_req so the reply callback can find its link
 * and count what is in flight; hiredis calls every pending callback with
 * NULL when a context is freed, which is how "exactly once" holds. */
#include "link.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "buf.h"
#include "log.h"
#include "topology.h"
#include "util.h"

/* A closed link tries again after this long: short, because a node that
 * comes back should be seen within a ping period or two. */
#define LINK_RETRY_MS 100

struct link {
    struct event_base *base;
    char name[64];
    char host[256];
    int port;
    char *user;              /* owned: AUTH's arguments, user NULL for */
    char *password;          /* the default user; both NULL if no AUTH */
    long long timeout_ms;
    redisAsyncContext *ac;   /* NULL when down */
    int connected;
    uint64_t connect_start_ms;
    uint64_t progress_ms;    /* last reply, or when the queue became non-empty */
    uint64_t retry_ms;
    struct link_stats st;
};

struct link_req {
    struct link *l;
    link_reply_fn *fn;
    void *privdata;
};

struct link *link_create(struct event_base *base, const char *name, const char *host, int port,
                         const struct topo_user *auth, long long timeout_ms)
{
    struct link *l = xcalloc(1, sizeof *l);
    const char *av[3];
    int ac = auth ? topo_auth_argv(auth, av) : 0;
    l->base = base;
    snprintf(l->name, sizeof l->name, "%s", name);
    snprintf(l->host, sizeof l->host, "%s", host);
    l->port = port;
    if (ac == 3) l->user = xstrdup(av[1]);
    if (ac) l->password = xstrdup(av[ac - 1]);
    l->timeout_ms = timeout_ms;
    l->st.down_since_ms = now_ms();
    return l;
}

void link_destroy(struct link *l)
{
    if (!l) return;
    link_close(l, NULL);
    free(l->user);
    free(l->password);
    free(l);
}

static void link_connect_cb(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    if (!l || l->ac != ac) return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback returns. */
        log_debug("%s %s:%d: connect failed: %s", l->name, l->host, l->port, ac->errstr);
        l->ac = NULL;
        l->connected = 0;
        l->retry_ms = now_ms() + LINK_RETRY_MS;
        return;
    }
    l->connected = 1;
    l->st.connected_ms = l->progress_ms = now_ms();
}

static void link_disconnect_cb(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    if (!l || l->ac != ac) return;
    log_debug("%s %s:%d: disconnected (%s)", l->name, l->host, l->port,
              status == REDIS_OK ? "closed" : ac->errstr);
    l->ac = NULL;
    l->connected = 0;
    l->st.connected_ms = 0;
    l->st.down_since_ms = now_ms();
    l->retry_ms = now_ms() + LINK_RETRY_MS;
}

static void link_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link_req *req = privdata;
    struct link *l = req->l;
    (void)ac;
    l->st.pending--;
    if (reply) l->st.last_reply_ms = l->progress_ms = now_ms();
    if (req->fn) req->fn(l, reply, req->privdata);
    free(req);
}

static void link_auth_cb(struct link *l, redisReply *r, void *privdata)
{
    (void)privdata;
    if (r && r->type == REDIS_REPLY_ERROR && !strstr(r->str, "without any password"))
        log_warn("%s %s:%d: AUTH refused: %s", l->name, l->host, l->port, r->str);
}

static void link_connect(struct link *l, uint64_t now)
{
    redisAsyncContext *ac = redisAsyncConnect(l->host, l->port);
    l->retry_ms = now + LINK_RETRY_MS;
    if (!ac) return;
    if (ac->err) {
        log_debug("%s %s:%d: cannot connect: %s", l->name, l->host, l->port, ac->errstr);
        redisAsyncFree(ac);
        return;
    }
    ac->data = l;
    if (redisLibeventAttach(ac, l->base) != REDIS_OK) {
        redisAsyncFree(ac);
        return;
    }
    redisAsyncSetConnectCallback(ac, link_connect_cb);
    redisAsyncSetDisconnectCallback(ac, link_disconnect_cb);
    l->ac = ac;
    l->connected = 0;
    l->connect_start_ms = now;
    if (l->user) link_command(l, link_auth_cb, NULL, "AUTH %s %s", l->user, l->password);
    else if (l->password) link_command(l, link_auth_cb, NULL, "AUTH %s", l->password);
}

void link_close(struct link *l, const char *why)
{
    redisAsyncContext *ac = l->ac;
    if (!ac) return;
    if (why) log_debug("%s %s:%d: closing: %s", l->name, l->host, l->port, why);
    /* Detach first: the callbacks hiredis runs while freeing must see a
     * link that is already down. */
    l->ac = NULL;
    l->connected = 0;
    l->st.connected_ms = 0;
    l->st.down_since_ms = now_ms();
    l->retry_ms = now_ms() + LINK_RETRY_MS;
    ac->data = NULL;
    /* Abortive close: whatever is still queued on the socket (a lease
     * renewal written while the network was cut) is dropped, not delivered
     * by TCP once the network heals, when it would extend the lease of a
     * master the other sentinels have replaced since. */
    if (ac->c.fd >= 0) {
        struct linger lg = { 1, 0 };
        setsockopt(ac->c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    redisAsyncFree(ac);
}

void link_tick(struct link *l, uint64_t now)
{
    if (l->ac && !l->connected && now - l->connect_start_ms > (uint64_t)l->timeout_ms) {
        link_close(l, "connect timeout");
    } else if (l->ac && l->st.pending > 0 && now > l->progress_ms &&
               now - l->progress_ms > (uint64_t)l->timeout_ms) {
        link_close(l, "reply timeout");
    }
    if (!l->ac && now >= l->retry_ms) link_connect(l, now);
}

int link_up(const struct link *l)
{
    return l->ac != NULL && l->connected;
}

const struct link_stats *link_stats(const struct link *l)
{
    return &l->st;
}

static struct link_req *link_req_new(struct link *l, link_reply_fn *fn, void *privdata)
{
    struct link_req *req = xmalloc(sizeof *req);
    req->l = l;
    req->fn = fn;
    req->privdata = privdata;
    if (l->st.pending == 0) l->progress_ms = now_ms();
    return req;
}

int link_command(struct link *l, link_reply_fn *fn, void *privdata, const char *fmt, ...)
{
    if (!l->ac) return -1;
    struct link_req *req = link_req_new(l, fn, privdata);
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(l->ac, link_reply_cb, req, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(req);
        return -1;
    }
    l->st.pending++;
    return 0;
}

int link_command_argv(struct link *l, link_reply_fn *fn, void *privdata, int argc,
                      const char **argv, const size_t *argvlen)
{
    if (!l->ac) return -1;
    struct link_req *req = link_req_new(l, fn, privdata);
    if (redisAsyncCommandArgv(l->ac, link_reply_cb, req, argc, argv, argvlen) != REDIS_OK) {
        free(req);
        return -1;
    }
    l->st.pending++;
    return 0;
}
