/* server: listener, clients, dispatcher and the group-commit loop.
 *
 *   accept --> client_read --> resp_parse --> server_dispatch --> server_call
 *                                                  |                 |
 *                                     (MULTI: queue) |        handler writes to the
 *                                                  v         store overlay and c->out
 *   loop iteration ends --> server_before_sleep:
 *        1. store_commit (one LevelDB write; fsync under `fsync: always`)
 *        2. after_commit hook (replication streams the new records)
 *        3. write every pending client's replies; free closed clients
 *
 * A reply therefore never leaves before the write it reports is in LevelDB
 * (and on disk, with fsync: always).  See server.h. */
#include "server.h"
#include "strstream.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>

#include "blocking.h"
#include "cmdstats.h"
#include "db.h"
#include "eval.h"
#include "latency.h"
#include "log.h"
#include "migrate.h"
#include "monitor.h"
#include "multi.h"
#include "httpapi.h"
#include "protmode.h"
#include "rconfig.h"
#include "tracking.h"
#include "slowlog.h"
#include "subcmd.h"
#include "tls.h"
#include "util.h"
#include "wal.h"

static void storage_recover(uint64_t now);
static void store_open_or_die(const struct store_opts *so);
struct server srv;

#define MAX_HOOKS 16 /* per kind; more would be dropped: keep it above the modules that register */
static void (*write_hooks[MAX_HOOKS])(client *c, size_t mark);
static int nwrite_hooks;
static void (*free_hooks[MAX_HOOKS])(client *c);
static int nfree_hooks;
static void (*sleep_hooks[MAX_HOOKS])(void);
static int nsleep_hooks;
static void (*cron_hooks[MAX_HOOKS])(void);
static int ncron_hooks;
static int (*dispatch_hooks[MAX_HOOKS])(client *c);
static int ndispatch_hooks;
static void (*shutdown_hooks[MAX_HOOKS])(void);
static int nshutdown_hooks;
/* MULTI queueing, installed by multi.c. */
void (*server_multi_queue)(client *c);

#define EARLY_COMMIT_BYTES (32u << 20)
#define OUTPUT_PAUSE_BYTES (64u << 20)
#define READ_CHUNK 16384

void server_register(enum cmd_id id, cmd_proc *proc)
{
    srv.procs[id] = proc;
}

void server_add_write_hook(void (*fn)(client *c, size_t mark))
{
    if (nwrite_hooks < MAX_HOOKS) write_hooks[nwrite_hooks++] = fn;
}

void server_add_free_hook(void (*fn)(client *c))
{
    if (nfree_hooks < MAX_HOOKS) free_hooks[nfree_hooks++] = fn;
}

void server_add_sleep_hook(void (*fn)(void))
{
    if (nsleep_hooks < MAX_HOOKS) sleep_hooks[nsleep_hooks++] = fn;
}

void server_add_cron_hook(void (*fn)(void))
{
    if (ncron_hooks < MAX_HOOKS) cron_hooks[ncron_hooks++] = fn;
}

void server_add_dispatch_hook(int (*fn)(client *c))
{
    if (ndispatch_hooks < MAX_HOOKS) dispatch_hooks[ndispatch_hooks++] = fn;
}

void server_add_shutdown_hook(void (*fn)(void))
{
    if (nshutdown_hooks < MAX_HOOKS) shutdown_hooks[nshutdown_hooks++] = fn;
}

void server_notify_write(client *c, size_t mark)
{
    for (int i = 0; i < nwrite_hooks; i++) write_hooks[i](c, mark);
}

/* ---------------- clients ---------------- */

static void client_read_cb(evutil_socket_t fd, short what, void *arg);
static void client_write_cb(evutil_socket_t fd, short what, void *arg);

void client_copy_argv(const client *c, char ***argv, size_t **argvlen, char **argbuf)
{
    size_t total = 0;
    for (int i = 0; i < c->argc; i++) total += c->argvlen[i] + 1;
    char **av = xmalloc((size_t)(c->argc > 0 ? c->argc : 1) * sizeof *av);
    size_t *al = xmalloc((size_t)(c->argc > 0 ? c->argc : 1) * sizeof *al);
    char *p = xmalloc(total ? total : 1);
    *argbuf = p;
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i], c->argvlen[i]);
        p[c->argvlen[i]] = '\0';
        av[i] = p;
        al[i] = c->argvlen[i];
        p += c->argvlen[i] + 1;
    }
    *argv = av;
    *argvlen = al;
}

void client_pending(client *c)
{
    if (c->flags & CLIENT_PENDING_WRITE) return;
    c->flags |= CLIENT_PENDING_WRITE;
    c->next_pending = srv.pending;
    srv.pending = c;
}

void client_close(client *c)
{
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    c->flags |= CLIENT_CLOSE_ASAP;
    if (c->rev) event_del(c->rev);
    if (c->wev) event_del(c->wev);
    client_pending(c);
}

client *client_create(int fd)
{
    client *c = xcalloc(1, sizeof *c);
    c->id = ++srv.next_client_id;
    c->fd = fd;
    c->resp = 2;
    node_acl_client_init(c);
    buf_init(&c->qbuf);
    buf_init(&c->out);
    resp_parser_init(&c->parser);
    c->parser.max_bulk = srv.cfg.proto_max_bulk_len;
    c->ctime_ms = c->last_ms = now_ms();
    if (fd >= 0) {
        c->rev = event_new(srv.base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
        c->wev = event_new(srv.base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
        event_add(c->rev, NULL);
    }
    c->next = srv.clients;
    if (srv.clients) srv.clients->prev = c;
    srv.clients = c;
    srv.nclients++;
    return c;
}

static void client_free(client *c)
{
    for (int i = 0; i < nfree_hooks; i++) free_hooks[i](c);
    if (c->rev) event_free(c->rev);
    if (c->wev) event_free(c->wev);
    tls_conn_destroy(c->tls); /* its close_notify, before the fd goes */
    if (c->fd >= 0) close(c->fd);
    if (c->prev) c->prev->next = c->next;
    else srv.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    srv.nclients--;
    buf_free(&c->qbuf);
    buf_free(&c->out);
    resp_parser_free(&c->parser);
    free(c->name);
    free(c);
}

client *server_client_by_id(uint64_t id)
{
    for (client *c = srv.clients; c; c = c->next)
        if (c->id == id && !(c->flags & CLIENT_CLOSE_ASAP)) return c;
    return NULL;
}

/* Parse and run every complete command in the query buffer. */
void client_process_input(client *c)
{
    size_t off = 0;
    while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_BLOCKED |
                         CLIENT_WAIT_ACK | CLIENT_PAUSED))) {
        if (c->out.len - c->out_sent > OUTPUT_PAUSE_BYTES) break; /* resume once drained */
        if (c->stream) break; /* a big reply is still being sent (strstream.h) */
        size_t consumed;
        int r = resp_parse(&c->parser, c->qbuf.data + off, c->qbuf.len - off, &consumed);
        off += consumed;
        if (r == RESP_ERR) {
            log_info("client id=%llu addr=%s: %s", (unsigned long long)c->id, c->addr, c->parser.err);
            size_t from = c->out.len;
            resp_add_error(&c->out, c->parser.err);
            cmdstats_error(c->out.data + from, c->out.len - from);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            client_pending(c);
            off = c->qbuf.len;
            break;
        }
        if (r == RESP_AGAIN) break;
        c->argc = c->parser.argc;
        c->argv = c->parser.argv;
        c->argvlen = c->parser.argvlen;
        server_dispatch(c);
        c->argc = 0;
        c->argv = NULL;
    }
    buf_consume(&c->qbuf, off);
    if (c->qbuf.len == 0 && c->qbuf.cap > (1u << 20)) buf_shrink(&c->qbuf, 0);
}

static int client_flush(client *c);

/* A TLS flush that waited for the fd to be readable: the read it waited
 * for has happened, try the flush again. */
static void client_tls_resume_flush(client *c)
{
    if (!(c->tls_wait & TLS_WRITE_WANTS_READ) || (c->flags & CLIENT_CLOSE_ASAP)) return;
    c->tls_wait &= ~TLS_WRITE_WANTS_READ;
    client_flush(c);
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    (void)what;
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    size_t want = READ_CHUNK;
    if (c->parser.need > c->qbuf.len && c->parser.need - c->qbuf.len > want)
        want = c->parser.need - c->qbuf.len;
    if (want > (64u << 20)) want = 64u << 20;
    buf_reserve(&c->qbuf, want);
    c->tls_wait &= ~TLS_READ_WANTS_WRITE;
    ssize_t n = conn_read(fd, c->tls, c->qbuf.data + c->qbuf.len, want);
    if (n == 0) {
        client_close(c);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            if (c->tls && tls_conn_wants(c->tls) == TLS_WANT_WRITE) {
                c->tls_wait |= TLS_READ_WANTS_WRITE; /* client_write_cb reads again */
                event_add(c->wev, NULL);
            }
            client_tls_resume_flush(c);
            return;
        }
        if (c->tls)
            log_info("client id=%llu addr=%s: %s", (unsigned long long)c->id, c->addr,
                     tls_conn_error(c->tls));
        else
            log_debug("read from client %llu: %s", (unsigned long long)c->id, strerror(errno));
        client_close(c);
        return;
    }
    c->qbuf.len += (size_t)n;
    srv.stats.net_in += (unsigned long long)n;
    c->last_ms = now_ms();
    if ((long long)c->qbuf.len > srv.cfg.client_query_buffer_limit) {
        log_warn("client id=%llu addr=%s closed: query buffer of %zu bytes exceeds the limit",
                 (unsigned long long)c->id, c->addr, c->qbuf.len);
        client_close(c);
        return;
    }
    client_process_input(c);
    if (c->tls && !(c->flags & CLIENT_CLOSE_ASAP)) {
        /* Decrypted bytes OpenSSL holds make no readiness event: come
         * back for them on this loop iteration (fairly, after others). */
        if (conn_pending(c->tls) && event_pending(c->rev, EV_READ, NULL)) event_active(c->rev, EV_READ, 1);
        client_tls_resume_flush(c);
    }
}

int client_close_if_over_limit(client *c, size_t pending)
{
    if ((long long)pending <= srv.cfg.client_output_buffer_limit) return 0;
    log_warn("client id=%llu addr=%s closed: output buffer over the limit",
             (unsigned long long)c->id, c->addr);
    client_close(c);
    return 1;
}

/* Write out as much of c->out as the socket takes.  Returns 0, or -1 if
 * the client was closed. */
static int client_flush(client *c)
{
    int steps = 0, streamed = 0;
    for (;;) {
        while (c->out_sent < c->out.len) {
            ssize_t n = conn_write(c->fd, c->tls, c->out.data + c->out_sent, c->out.len - c->out_sent);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    /* TLS may need the fd readable first (client_read_cb
                     * flushes again after its read). */
                    if (c->tls && tls_conn_wants(c->tls) == TLS_WANT_READ) c->tls_wait |= TLS_WRITE_WANTS_READ;
                    else event_add(c->wev, NULL);
                    return client_close_if_over_limit(c, c->out.len - c->out_sent) ? -1 : 0;
                }
                if (c->tls)
                    log_info("client id=%llu addr=%s: %s", (unsigned long long)c->id, c->addr,
                             tls_conn_error(c->tls));
                client_close(c);
                return -1;
            }
            c->out_sent += (size_t)n;
            srv.stats.net_out += (unsigned long long)n;
        }
        c->out.len = c->out_sent = 0;
        if (!c->stream) break;
        /* A streamed reply (strstream.h): a few steps per call, then the
         * next writable event, so other clients run in between. */
        if (steps++ == STRSTREAM_STEPS_PER_FLUSH) {
            event_add(c->wev, NULL);
            return 0;
        }
        strstream_pump(c);
        streamed = 1;
    }
    if (c->out.cap > (1u << 20)) buf_shrink(&c->out, 0);
    /* A stream just ended with commands waiting: the writable event runs
     * them (client_write_cb), whoever called this. */
    if ((streamed && c->qbuf.len) || (c->tls_wait & TLS_READ_WANTS_WRITE)) event_add(c->wev, NULL);
    else event_del(c->wev);
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        client_close(c);
        return -1;
    }
    return 0;
}

int server_flush_client(client *c)
{
    return client_flush(c);
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    (void)fd;
    (void)what;
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    if (c->tls_wait & TLS_READ_WANTS_WRITE) {
        client_read_cb(c->fd, EV_READ, c); /* the read that waited for this */
        if (c->flags & CLIENT_CLOSE_ASAP) return;
    }
    if (c->flags & CLIENT_WAIT_ACK) return;
    if (client_flush(c) == 0 && c->qbuf.len && c->out.len == 0) client_process_input(c);
}

/* arg: non-NULL on the TLS port. */
static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    int tls = arg != NULL;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR) log_warn("accept: %s", strerror(errno));
            return;
        }
        evutil_make_socket_nonblocking(fd);
        evutil_make_socket_closeonexec(fd);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((long long)srv.nclients >= srv.cfg.maxclients) {
            /* Plain text only where the client speaks it: a TLS client
             * just sees the connection close. */
            static const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t w = tls ? 0 : write(fd, msg, sizeof msg - 1);
            (void)w;
            close(fd);
            srv.stats.rejected++;
            continue;
        }
        tls_conn *t = NULL;
        if (tls && !(t = tls_conn_accept(srv.tls_ctx, fd))) {
            log_warn("accept: no memory for a TLS connection");
            close(fd);
            continue;
        }
        client *c = client_create(fd);
        c->tls = t;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
            snprintf(c->addr, sizeof c->addr, "%s:%d", host, port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
            snprintf(c->addr, sizeof c->addr, "%s:%d", host, port);
        }
        snprintf(c->laddr, sizeof c->laddr, "%s:%lld", srv.cfg.bind, tls ? srv.cfg.tls_port : srv.cfg.port);
        srv.stats.connections++;
    }
}

/* One round of I/O while a script is busy (libevent's loop cannot be
 * entered again from inside one of its callbacks): accept connections,
 * read and run other clients' commands (the busy filter answers them),
 * write replies out.  `skip` (the script's caller) is left alone.
 * Timers do not run, so no background write, commit or WAL shipping
 * happens; replicas' acks (REPLCONF) are read. */
void server_poll_busy(client *skip)
{
    size_t n = 2, cap = 64;
    struct pollfd *pf = xmalloc(sizeof *pf * cap);
    client **who = xmalloc(sizeof *who * cap);
    pf[0].fd = srv.listen_fd;
    pf[0].events = POLLIN;
    pf[1].fd = srv.tls_listen_fd; /* -1: ignored by poll */
    pf[1].events = POLLIN;
    who[0] = who[1] = NULL;
    for (client *c = srv.clients; c; c = c->next) {
        if (c == skip || c->fd < 0 || (c->flags & CLIENT_CLOSE_ASAP) || (c->flags & CLIENT_MASTER)) continue;
        if (n == cap) {
            cap *= 2;
            pf = xrealloc(pf, sizeof *pf * cap);
            who = xrealloc(who, sizeof *who * cap);
        }
        pf[n].fd = c->fd;
        pf[n].events = POLLIN | (c->out.len > c->out_sent ? POLLOUT : 0);
        who[n++] = c;
    }
    int ready = poll(pf, (nfds_t)n, 0);
    for (size_t i = 2; i < n && ready == 0; i++)
        if (conn_pending(who[i]->tls)) ready = 1;
    if (ready > 0) {
        if (pf[0].revents & POLLIN) accept_cb(srv.listen_fd, EV_READ, NULL);
        if (pf[1].revents & POLLIN) accept_cb(srv.tls_listen_fd, EV_READ, srv.tls_ctx);
        for (size_t i = 2; i < n; i++) {
            client *c = who[i];
            if (c->flags & CLIENT_CLOSE_ASAP) continue;
            if ((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) || conn_pending(c->tls))
                client_read_cb(c->fd, EV_READ, c);
            if (!(c->flags & CLIENT_CLOSE_ASAP) && (pf[i].revents & POLLOUT)) client_write_cb(c->fd, EV_WRITE, c);
        }
    }
    free(pf);
    free(who);
}

/* ---------------- dispatch ---------------- */

static void reply_unknown(client *c)
{
    buf msg;
    buf_init(&msg);
    buf_printf(&msg, "ERR unknown command '%.*s', with args beginning with: ",
               (int)(c->argvlen[0] > 128 ? 128 : c->argvlen[0]), c->argv[0]);
    size_t budget = 128;
    for (int i = 1; i < c->argc && budget > 0; i++) {
        size_t n = c->argvlen[i] < budget ? c->argvlen[i] : budget;
        buf_printf(&msg, "'%.*s' ", (int)n, c->argv[i]);
        budget -= n;
    }
    buf_append_char(&msg, '\0');
    resp_add_error(&c->out, msg.data);
    buf_free(&msg);
}

static int is_tx_control(enum cmd_id id)
{
    return id == CMD_EXEC || id == CMD_DISCARD || id == CMD_MULTI || id == CMD_WATCH ||
           id == CMD_QUIT || id == CMD_RESET;
}

/* An error reply was appended at out[from..]: count it in errorstats
 * and, when st is not NULL, as a rejected call of that command. */
static void note_rejected(client *c, size_t from, struct cmdstat *st)
{
    if (c->out.len <= from || c->out.data[from] != '-') return;
    if (c->cmd && c->cmd->id == CMD_EXEC && (c->flags & CLIENT_MULTI) && !(c->flags & CLIENT_IN_EXEC))
        multi_abort_exec(c, from);
    cmdstats_error(c->out.data + from, c->out.len - from);
    if (st) cmdstats_rejected(st);
}

static void reject(client *c, size_t from, struct cmdstat *st)
{
    note_rejected(c, from, st);
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
}

static void dispatch_command(client *c)
{
    const struct cmd_spec *cmd = cmd_lookup(c->argv[0], c->argvlen[0]);
    size_t from = c->out.len;
    c->cmd = cmd;
    /* CLIENT LIST's cmd=: the command as looked up, whether it then runs,
     * is refused or is queued (Redis 7.0's lastcmd); NULL when unknown. */
    c->lastcmd = cmd;
    c->lastsub = NULL;
    client_pending(c);
    if (!cmd || (!srv.procs[cmd->id] && cmd->id != CMD_DEBUG)) {
        c->lastcmd = NULL;
        reply_unknown(c);
        reject(c, from, NULL);
        return;
    }
    /* A container's subcommand is found (or refused) before anything
     * else, and is what the statistics count, as in Redis 7.0. */
    const struct subcmd *sub = cmdstats_subcmd(cmd, c->argc, c->argc >= 2 ? c->argv[1] : NULL,
                                               c->argc >= 2 ? c->argvlen[1] : 0);
    c->lastsub = sub;
    if (c->argc >= 2 && !sub && cmd_is_container(cmd)) {
        c->lastcmd = NULL;
        subcmd_check(&c->out, cmd->name, c->argv[1], c->argvlen[1], c->argc);
        reject(c, from, NULL);
        return;
    }
    struct cmdstat *st = cmdstats_get(cmd, sub);
    if (sub ? !subcmd_arity_ok(sub, c->argc) : !cmd_arity_ok(cmd, c->argc)) {
        if (sub) subcmd_check(&c->out, cmd->name, c->argv[1], c->argvlen[1], c->argc);
        else resp_add_arity_error(&c->out, cmd->name);
        reject(c, from, st);
        return;
    }
    if (!c->authed && !(cmd->flags & CF_NOAUTH)) {
        resp_add_error(&c->out, "NOAUTH Authentication required.");
        reject(c, from, st);
        return;
    }
    if (cmd->id == CMD_DEBUG) {
        /* Redis 7.0 with its default enable-debug-command no: refused before
         * it is queued, like its other protected commands.  strata-node has
         * no DEBUG subcommands to enable. */
        resp_add_error(&c->out, "ERR DEBUG command not allowed. If the enable-debug-command option is "
                                "set to \"local\", you can run it from a local connection, otherwise you "
                                "need to set this option in the configuration file, and then restart the server.");
        reject(c, from, st);
        return;
    }
    for (int i = 0; i < ndispatch_hooks; i++)
        if (dispatch_hooks[i](c)) {
            note_rejected(c, from, st);
            return;
        }
    if ((c->flags & CLIENT_MULTI) && !is_tx_control(cmd->id) && server_multi_queue) {
        server_multi_queue(c);
        return;
    }
    server_call(c);
}

/* (Un)subscribe confirmations are pushes in Redis 7.0: CLIENT REPLY OFF
 * does not drop them. */
static int reply_is_push(const client *c)
{
    const struct cmd_spec *cmd = c->cmd;
    if (!cmd || (c->flags & CLIENT_MULTI) || !cmd_arity_ok(cmd, c->argc)) return 0;
    return cmd->id == CMD_SUBSCRIBE || cmd->id == CMD_UNSUBSCRIBE || cmd->id == CMD_PSUBSCRIBE ||
           cmd->id == CMD_PUNSUBSCRIBE;
}

/* Dispatch, then apply CLIENT REPLY OFF|SKIP the way Redis's resetClient
 * does: the command runs but its reply is dropped, and a SKIP covers the
 * next command only (whatever it is, even an unknown one).  A command that
 * blocked or was held by CLIENT PAUSE has not replied yet: its turn comes
 * when it runs again. */
void server_dispatch(client *c)
{
    size_t out_before = c->out.len;
    dispatch_command(c);
    if (c->flags & (CLIENT_PAUSED | CLIENT_BLOCKED)) return;
    if ((c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) && c->out.len > out_before && !reply_is_push(c))
        c->out.len = out_before;
    c->flags &= ~CLIENT_REPLY_SKIP;
    if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
        c->flags &= ~CLIENT_REPLY_SKIP_NEXT;
        c->flags |= CLIENT_REPLY_SKIP;
    }
    tracking_after_dispatch(c);
}

void server_call(client *c)
{
    const struct cmd_spec *cmd = c->cmd;
    const struct subcmd *sub = cmdstats_subcmd(cmd, c->argc, c->argc >= 2 ? c->argv[1] : NULL,
                                               c->argc >= 2 ? c->argvlen[1] : 0);
    struct cmdstat *st = cmdstats_get(cmd, sub);
    size_t out_before = c->out.len;
    if (cmd->flags & CF_WRITE) {
        const char *err = NULL;
        if (srv.is_replica && !(c->flags & CLIENT_MASTER)) {
            resp_add_error(&c->out, "READONLY You can't write against a read only replica.");
            note_rejected(c, out_before, st);
            return;
        }
        if (srv.write_error) {
            resp_add_error(&c->out, "MISCONF Errors writing to the data directory: "
                                    "writes are refused until a commit succeeds (see the node log)");
            note_rejected(c, out_before, st);
            return;
        }
        if (srv.write_allowed && !(c->flags & CLIENT_MASTER) && !srv.write_allowed(c, &err)) {
            resp_add_error(&c->out, err);
            note_rejected(c, out_before, st);
            return;
        }
    }
    /* Reads, for acked_reads: read commands, and the containers (EXEC,
     * scripts) that can read; one that writes is held as a write. */
    int is_read = ((cmd->flags & (CF_READ | CF_WRITE)) == CF_READ || cmd->id == CMD_EXEC ||
                   cmd->id == CMD_EVAL || cmd->id == CMD_EVALSHA || cmd->id == CMD_FCALL) &&
                  !(c->flags & (CLIENT_MASTER | CLIENT_IN_EXEC));
    if (is_read && srv.read_allowed) {
        const char *err = NULL;
        if (!srv.read_allowed(c, &err)) {
            resp_add_error(&c->out, err);
            note_rejected(c, out_before, st);
            return;
        }
    }
    size_t mark = store_mark(srv.st);
    /* One wall-clock read gives both the command's time (expiry) and the
     * start of its duration (commandstats), as Redis's call() does; a
     * clock step during the command counts as zero, not a huge duration. */
    uint64_t t0 = now_us();
    srv.cmd_time_ms = srv.script_time_ms ? srv.script_time_ms : t0 / 1000u;
    client *prev = srv.current;
    srv.current = c;
    srv.procs[cmd->id](c);
    srv.current = prev;
    srv.stats.commands++;
    srv.stats.cmd_calls[cmd->id]++;
    uint64_t t1 = now_us();
    uint64_t dur = t1 > t0 ? t1 - t0 : 0;
    srv.stats.cmd_usec[cmd->id] += dur;
    cmdstats_call(st, dur);
    int failed = c->out.len > out_before && c->out.data[out_before] == '-';
    if (failed) {
        cmdstats_failed(st);
        cmdstats_error(c->out.data + out_before, c->out.len - out_before);
    }
    /* Redis 7.0 leaves a command that blocked out of the slow log and the
     * latency monitor (it is counted in commandstats all the same), and
     * EXEC out of the slow log (its commands are offered one by one). */
    if (!(c->flags & CLIENT_BLOCKED)) {
        if (cmd->id != CMD_EXEC) slowlog_offer(c, dur);
        latency_sample((cmd->flags & CF_FAST) ? "fast-command" : "command", (long long)(dur / 1000));
    }
    if (!(c->flags & CLIENT_KEEP_WRITES)) monitor_feed(c); /* a script fed it before its commands */
    c->ncmds++;
    if (store_mark(srv.st) != mark) {
        /* A command that answers an error must leave nothing behind. */
        if (failed && (c->flags & CLIENT_KEEP_WRITES)) {
            /* A script's runtime error: Redis keeps what it wrote. */
            srv.dirty++;
            server_notify_write(c, mark);
        } else if (failed) {
            store_rollback(srv.st, mark);
            db_invalidate_counters(); /* cached key counts may include the undone change */
        } else {
            srv.dirty++;
            server_notify_write(c, mark);
        }
    } else if (is_read && srv.read_hook && !(c->flags & CLIENT_BLOCKED)) {
        srv.read_hook(c);
    }
    c->flags &= ~CLIENT_KEEP_WRITES;
    tracking_after_call(c);
    if (!(c->flags & CLIENT_IN_EXEC)) {
        block_serve_ready();
        if (store_pending_bytes(srv.st) > EARLY_COMMIT_BYTES) server_commit();
    }
}

void server_apply_hz(void)
{
    if (srv.cfg.hz < 1) srv.cfg.hz = 1;
    if (srv.cfg.hz > 500) srv.cfg.hz = 500;
    if (!srv.cron_ev) return;
    struct timeval tv = { 0, (int)(1000000 / srv.cfg.hz) };
    event_del(srv.cron_ev);
    event_add(srv.cron_ev, &tv);
}

void server_reset_stats(void)
{
    memset(&srv.stats, 0, sizeof srv.stats);
    cmdstats_reset();
}

/* ---------------- commit and flush ---------------- */

/* The batch is lost: every client whose reply waits on it is closed
 * without its replies, so nobody is told a lost write succeeded. */
static void fail_pending_clients(void)
{
    srv.stats.write_errors++;
    db_invalidate_counters();
    for (client *c = srv.pending; c; c = c->next_pending)
        if (c->flags & CLIENT_PENDING_WRITE) {
            c->out.len = c->out_sent = 0;
            client_close(c);
        }
}

int server_commit(void)
{
    if (!store_dirty(srv.st)) return 0;
    if (srv.script_busy) return 0; /* a script is half done: it commits when it ends */
    if (srv.write_error) {
        /* After a failed write LevelDB's log may end in a partial record;
         * anything appended after it could be lost at recovery.  Nothing is
         * written until storage_recover() has reopened the store. */
        store_discard(srv.st);
        fail_pending_clients();
        return -1;
    }
    int sync = srv.cfg.fsync == FSYNC_ALWAYS;
    const char *err = NULL;
    uint64_t t0 = mono_us();
    if (store_commit(srv.st, sync, &err) < 0) {
        srv.write_error = 1;
        fail_pending_clients();
        return -1;
    }
    latency_sample("commit", (long long)((mono_us() - t0) / 1000));
    if (sync) server_note_saved();
    srv.unsynced = !sync;
    return 0;
}

/* fsync: everysec.  Once a second, if anything was committed since the
 * last fsync, a background fsync of LevelDB's log starts
 * (store_sync_start): replies never wait for it, and the loop does not
 * stall, busy or idle.  It is checked at the end of every loop iteration
 * (the cron wakes an idle loop 'hz' times a second).  A fsync slower
 * than a second delays the next one; writes go on meanwhile. */
static void everysec_sync(void)
{
    int ok;
    if (store_sync_finished(srv.st, &ok)) {
        if (ok) {
            srv.last_save_ms = srv.sync_req_ms;
            srv.dirty_at_save = srv.sync_req_dirty;
        } else {
            srv.unsynced = 1;   /* try again in a second */
            log_warn("fsync of LevelDB's log failed; retrying");
        }
    }
    uint64_t now = mono_us();
    if (!srv.unsynced || srv.write_error || now < srv.last_sync_us + 1000000) return;
    if (store_sync_start(srv.st) != 0) return;   /* the last one still runs */
    srv.sync_req_ms = now_ms();
    srv.sync_req_dirty = srv.dirty;
    srv.unsynced = 0;
    srv.last_sync_us = now;
}

/* Every acknowledged write is on disk now: what LASTSAVE and INFO
 * persistence's rdb_* fields report, strata's nearest to a finished save. */
void server_note_saved(void)
{
    srv.last_save_ms = now_ms();
    srv.dirty_at_save = srv.dirty;
}

void server_before_sleep(void)
{
    if (store_dirty(srv.st)) server_commit();
    if (srv.cfg.fsync == FSYNC_EVERYSEC) everysec_sync();
    for (int i = 0; i < nsleep_hooks; i++) sleep_hooks[i]();
    store_release_iter(srv.st);

    client *list = srv.pending;
    srv.pending = NULL;
    while (list) {
        client *c = list;
        list = c->next_pending;
        c->flags &= ~CLIENT_PENDING_WRITE;
        c->next_pending = NULL;
        if (c->flags & CLIENT_CLOSE_ASAP) {
            client_free(c);
            continue;
        }
        if (c->flags & CLIENT_WAIT_ACK) continue; /* the replication module re-queues it */
        if (c->out.len > c->out_sent) client_flush(c);
        /* Closed while flushing (CLOSE_AFTER_REPLY, a write error):
         * client_close already queued it for the next pass; queueing it
         * again would put it in the list twice and free it twice. */
        if (c->flags & CLIENT_CLOSE_ASAP) client_pending(c);
    }
}

/* ---------------- background tasks ---------------- */

/* The GC runs in small batches on its own timer, not in the cron's slice
 * (which may hold the loop for 25% of a period): clients are served between
 * batches of about a millisecond, and each batch commits together with the
 * clients' writes in server_before_sleep.  The cron re-arms it. */
#define GC_BATCH 512
static struct event *gc_ev;

static void gc_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (srv.is_replica || srv.write_error || srv.writes_paused || srv.script_busy) return;
    if (srv.fenced_now && srv.fenced_now()) return;
    size_t mark = store_mark(srv.st);
    srv.cmd_time_ms = now_ms();
    uint64_t t0 = mono_us();
    int g = db_gc_cycle(GC_BATCH);
    if (store_mark(srv.st) != mark) server_notify_write(NULL, mark);
    latency_sample("gc-cycle", (long long)((mono_us() - t0) / 1000));
    if (g >= GC_BATCH) {
        struct timeval next = { 0, 500 };
        event_add(gc_ev, &next);
    }
}

/* After a failed commit (disk full, I/O error) writes are refused with
 * -MISCONF.  Once a second, see whether the data directory has room again:
 * comfortably more than a memtable flush needs, because reopening LevelDB
 * turns its log into a table.  Then reopen the store: recovery keeps every
 * complete record and drops the partial one the failed write left, and the
 * next writes go to a fresh log. */
static void storage_recover(uint64_t now)
{
    static uint64_t last_probe_us;
    if (now - last_probe_us < 1000000) return;
    last_probe_us = now;
    struct statvfs vs;
    if (statvfs(srv.cfg.dir, &vs) < 0) return;
    unsigned long long avail = (unsigned long long)vs.f_bavail * vs.f_frsize;
    unsigned long long need = 2ULL * (unsigned long long)srv.cfg.write_buffer + (16ULL << 20);
    if (avail < need) return;
    log_warn("%llu MiB free in %s again: reopening the store to accept writes",
             avail >> 20, srv.cfg.dir);
    server_store_reopen();
    srv.write_error = 0;
}

static void cron_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    uint64_t start = mono_us();
    uint64_t budget = 250000 / (uint64_t)srv.cfg.hz; /* 25% of a period */

    if (srv.write_error) storage_recover(start);
    /* The master's GC arrives by replication: a replica compacts the
     * ranges it finished once their deletions are committed here. */
    if (srv.is_replica) db_gc_flush_compactions();
    /* CLIENT PAUSE holds background writes too (as Redis pauses expiry), so
     * a replica catching up during a graceful failover sees no new record. */
    if (!srv.is_replica && !srv.write_error && !srv.writes_paused && !srv.script_busy &&
        !(srv.fenced_now && srv.fenced_now())) {
        for (;;) {
            size_t mark = store_mark(srv.st);
            srv.cmd_time_ms = now_ms();
            int n = db_expire_cycle(200);
            if (store_mark(srv.st) != mark) server_notify_write(NULL, mark);
            /* Commit with the clients' writes in server_before_sleep (one
             * write, one fsync), unless the batch has grown large. */
            if (store_pending_bytes(srv.st) > EARLY_COMMIT_BYTES) server_commit();
            if (n < 200 || mono_us() - start > budget) break;
        }
        latency_sample("expire-cycle", (long long)((mono_us() - start) / 1000));
        if (gc_ev && !evtimer_pending(gc_ev, NULL)) {
            struct timeval now = { 0, 0 };
            event_add(gc_ev, &now);
        }
    }
    if (srv.cfg.timeout > 0) {
        uint64_t now = now_ms();
        for (client *c = srv.clients; c; c = c->next) {
            if (c->flags & (CLIENT_BLOCKED | CLIENT_MASTER | CLIENT_REPLICA | CLIENT_PUBSUB | CLIENT_PAUSED))
                continue;
            if (now - c->last_ms > (uint64_t)srv.cfg.timeout * 1000) client_close(c);
        }
    }
    for (int i = 0; i < ncron_hooks; i++) cron_hooks[i]();
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        log_reopen();
        log_info("SIGHUP: log reopened");
        return;
    }
    log_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    srv.shutdown_asap = 1;
    event_base_loopbreak(srv.base);
}

static int listen_on(const char *host, int port)
{
    struct addrinfo hints, *res = NULL;
    char ps[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    snprintf(ps, sizeof ps, "%d", port);
    int r = getaddrinfo(host, ps, &hints, &res);
    if (r) {
        log_error("bad bind address %s: %s", host, gai_strerror(r));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 511) < 0) {
        log_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    return fd;
}

/* tls_port: the context from the tls_* settings and the second listener. */
static int server_tls_listen(void)
{
    if (!srv.cfg.tls_port) return 0;
    if (srv.cfg.tls_port == srv.cfg.port) {
        log_error("tls-port %lld is also the plain port", srv.cfg.tls_port);
        return -1;
    }
    char err[512];
    srv.tls_ctx = tls_settings_server_ctx(&srv.cfg.tls, err, sizeof err);
    if (!srv.tls_ctx) {
        log_error("TLS: %s", err);
        return -1;
    }
    srv.tls_listen_fd = listen_on(srv.cfg.bind, (int)srv.cfg.tls_port);
    if (srv.tls_listen_fd < 0) return -1;
    srv.tls_listen_ev = event_new(srv.base, srv.tls_listen_fd, EV_READ | EV_PERSIST, accept_cb, srv.tls_ctx);
    event_add(srv.tls_listen_ev, NULL);
    log_info("TLS clients on %s:%lld (client certificates: %s)", srv.cfg.bind, srv.cfg.tls_port,
             tls_auth_names[srv.cfg.tls_auth_clients]);
    return 0;
}

/* tls_replication: the context of the link to the master, built once so
 * that a bad file refuses to start (as Redis) rather than failing every
 * connect later.  The master must prove itself: a CA is required. */
static int server_tls_client(void)
{
    if (!srv.cfg.tls_replication) return 0;
    const char *cert = srv.cfg.tls_client_cert_file, *key = srv.cfg.tls_client_key_file;
    int own = (cert && *cert) || (key && *key);
    if (own && (!cert || !*cert || !key || !*key)) {
        log_error("TLS: tls-client-cert-file and tls-client-key-file go together");
        return -1;
    }
    char err[512];
    srv.tls_client_ctx = tls_settings_client_ctx(&srv.cfg.tls, err, sizeof err);
    if (!srv.tls_client_ctx) {
        /* tls.c names the server's settings: say which files these were. */
        log_error("TLS (tls-replication, the replica's %s %s): %s",
                  own ? "tls-client-cert-file" : "tls-cert-file",
                  own ? cert : srv.cfg.tls_cert_file && *srv.cfg.tls_cert_file ? srv.cfg.tls_cert_file : "(none)",
                  err);
        return -1;
    }
    return 0;
}

static struct store_opts server_store_opts(void)
{
    struct store_opts so = {
        .block_cache = srv.cfg.block_cache,
        .write_buffer = srv.cfg.write_buffer,
        .max_open_files = (int)srv.cfg.max_open_files,
        .compression = srv.cfg.compression,
        .bloom_bits = 10,
        .meta_cache_slots = (int)srv.cfg.meta_cache_entries,
    };
    return so;
}

int server_store_replace(const char *newdir)
{
    struct store_opts so = server_store_opts();
    char old[4096];
    snprintf(old, sizeof old, "%s.old", srv.cfg.dir);
    function_reload(); /* the libraries are the new data's */
    server_commit();
    multi_touch_existing();
    store_close(srv.st);
    srv.st = NULL;
    int r = 0;
    if (rename(srv.cfg.dir, old) < 0) {
        log_error("cannot move %s aside: %s", srv.cfg.dir, strerror(errno));
        r = -1;
    } else if (rename(newdir, srv.cfg.dir) < 0) {
        log_error("cannot move %s to %s: %s", newdir, srv.cfg.dir, strerror(errno));
        if (rename(old, srv.cfg.dir) < 0)
            log_error("cannot move %s back to %s: %s", old, srv.cfg.dir, strerror(errno));
        r = -1;
    }
    store_open_or_die(&so);
    multi_touch_existing();
    return r;
}

static void store_open_or_die(const struct store_opts *so)
{
    char *err = NULL;
    srv.st = store_open(srv.cfg.dir, so, &err);
    if (!srv.st) {
        /* Nothing sensible can run without a store: stop, and let the
         * supervisor restart the node (its data is intact on disk). */
        log_error("cannot reopen LevelDB in %s: %s", srv.cfg.dir, err);
        free(err);
        abort();
    }
    srv.next_version = db_load_version_hwm() > srv.next_version ? db_load_version_hwm() : srv.next_version;
    db_invalidate_counters();
    /* A background fsync of the old store ended with it (store_close
     * joins it): sync the new one at the next second. */
    srv.unsynced = 1;
}

void server_store_reopen(void)
{
    struct store_opts so = server_store_opts();
    store_discard(srv.st);
    store_close(srv.st);
    srv.st = NULL;
    store_open_or_die(&so);
    if (wal_open(srv.st) < 0) log_error("cannot read the replication position after reopening the store");
}

/* A full sync swaps directories in two renames (server_store_replace):
 * dir -> dir.old, then dir.sync -> dir.  A crash between them leaves no
 * data directory, and starting as usual would create an empty one: a
 * master would come up with no data.  dir.sync is complete by the time
 * the first rename runs, so finish the swap with it; without it, put
 * dir.old back. */
static void recover_interrupted_swap(void)
{
    struct stat st;
    char base[4096], alt[4200];
    size_t n = strlen(srv.cfg.dir);
    while (n > 1 && srv.cfg.dir[n - 1] == '/') n--;
    if (n >= sizeof base || stat(srv.cfg.dir, &st) == 0) return;
    memcpy(base, srv.cfg.dir, n);
    base[n] = '\0';
    const char *const suffixes[] = { ".sync", ".old" };
    for (int i = 0; i < 2; i++) {
        snprintf(alt, sizeof alt, "%s%s", base, suffixes[i]);
        if (stat(alt, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (rename(alt, base) == 0)
                log_warn("%s is missing after an interrupted full-sync swap: using %s", base, alt);
            else
                log_error("cannot move %s to %s: %s", alt, base, strerror(errno));
            return;
        }
    }
}

/* Protected mode (protmode.h), before anything is opened: the client
 * port and the HTTP API, while the default user needs no password.
 * CONFIG GET protected-mode then gives the setting. */
static int server_protected_check(void)
{
    const struct rconf_param *p = rconf_find("protected-mode", 14);
    if (p) rconf_apply(p, srv.cfg.protected_mode ? "yes" : "no", srv.cfg.protected_mode ? 3 : 2);
    if (!srv.cfg.protected_mode) return 0;
    int open = node_acl_default_open();
    static const char fix[] = "requirepass (or an aclfile whose default user has a password or is off)";
    buf errs;
    buf_init(&errs);
    int rc = protmode_check("strata-node", "bind", srv.cfg.bind, open, 1, fix, &errs);
    if (rc == 0 && srv.cfg.http_listen && *srv.cfg.http_listen) {
        char host[256];
        int hport;
        /* an address that does not parse is httpapi_start's error to give */
        if (httpapi_listen_addr(srv.cfg.http_listen, host, sizeof host, &hport) == 0)
            rc = protmode_check("strata-node", "http_listen", host, open, 1, fix, &errs);
    }
    if (rc < 0) log_error("%.*s", (int)(errs.len && errs.data[errs.len - 1] == '\n' ? errs.len - 1 : errs.len), errs.data);
    buf_free(&errs);
    return rc;
}

int server_init(void)
{
    char *err = NULL;
    struct store_opts so = server_store_opts();
    signal(SIGPIPE, SIG_IGN);
    crc32c_init();
    cmd_table_init();
    if (server_protected_check() < 0) return -1;
    srv.start_ms = now_ms();
    if (random_hex(srv.run_id, sizeof srv.run_id - 1) < 0) {
        /* Not worth refusing to start over: still unique per start. */
        snprintf(srv.run_id, sizeof srv.run_id, "%016llx%08x%016llx", (unsigned long long)now_us(),
                 (unsigned)getpid(), (unsigned long long)mono_us());
    }
    srv.last_sync_us = mono_us();
    srv.last_save_ms = now_ms();   /* what LevelDB recovers at open is on disk */
    srv.listen_fd = -1;
    srv.tls_listen_fd = -1;

    recover_interrupted_swap();
    if (mkdir_p(srv.cfg.dir) < 0) {
        log_error("cannot create data directory %s: %s", srv.cfg.dir, strerror(errno));
        return -1;
    }
    srv.st = store_open(srv.cfg.dir, &so, &err);
    if (!srv.st) {
        log_error("cannot open LevelDB in %s: %s", srv.cfg.dir, err);
        free(err);
        return -1;
    }
    srv.next_version = db_load_version_hwm();
    srv.base = event_base_new();
    if (!srv.base) return -1;
    srv.listen_fd = listen_on(srv.cfg.bind, (int)srv.cfg.port);
    if (srv.listen_fd < 0) return -1;
    srv.listen_ev = event_new(srv.base, srv.listen_fd, EV_READ | EV_PERSIST, accept_cb, NULL);
    event_add(srv.listen_ev, NULL);
    if (server_tls_listen() < 0 || server_tls_client() < 0) return -1;
    srv.cron_ev = event_new(srv.base, -1, EV_PERSIST, cron_cb, NULL);
    server_apply_hz();
    gc_ev = evtimer_new(srv.base, gc_cb, NULL);
    int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
    for (int i = 0; i < 3; i++) {
        srv.sig_ev[i] = evsignal_new(srv.base, sigs[i], signal_cb, NULL);
        event_add(srv.sig_ev[i], NULL);
    }
    t_string_register();
    strstream_init();
    t_bitmap_register();
    t_keys_register();
    t_server_register();
    t_acl_register();
    t_command_register();
    server_register_modules();
    log_info("strata-node %s listening on %s:%lld, data in %s, fsync %s", STRATA_VERSION,
             srv.cfg.bind, srv.cfg.port, srv.cfg.dir,
             srv.cfg.fsync == FSYNC_ALWAYS ? "always" : srv.cfg.fsync == FSYNC_EVERYSEC ? "everysec" : "no");
    return 0;
}

int server_run(void)
{
    while (!srv.shutdown_asap) {
        event_base_loop(srv.base, EVLOOP_ONCE);
        server_before_sleep();
    }
    return srv.exit_code;
}

void server_cleanup(void)
{
    while (srv.clients) {
        client *c = srv.clients;
        if (c->out.len > c->out_sent && !(c->flags & CLIENT_CLOSE_ASAP)) {
            /* best effort: the final replies (SHUTDOWN has none) */
            ssize_t w = conn_write(c->fd, c->tls, c->out.data + c->out_sent, c->out.len - c->out_sent);
            (void)w;
        }
        client_free(c);
    }
    srv.pending = NULL;
    if (srv.st) {
        migrate_release_store(); /* its snapshot and iterators, before LevelDB closes */
        if (store_dirty(srv.st)) store_commit(srv.st, 1, NULL);
        else store_sync(srv.st);
        store_close(srv.st);
        srv.st = NULL;
    }
    /* Modules free their events (evhttp servers, timers) while the base
     * still exists. */
    for (int i = 0; i < nshutdown_hooks; i++) shutdown_hooks[i]();
    nshutdown_hooks = 0;
    if (srv.listen_ev) event_free(srv.listen_ev);
    if (srv.listen_fd >= 0) close(srv.listen_fd);
    if (srv.tls_listen_ev) event_free(srv.tls_listen_ev);
    if (srv.tls_listen_fd >= 0) close(srv.tls_listen_fd);
    srv.tls_listen_ev = NULL;
    srv.tls_listen_fd = -1;
    tls_ctx_destroy(srv.tls_ctx);
    srv.tls_ctx = NULL;
    tls_ctx_destroy(srv.tls_client_ctx); /* the link, closed with the clients' loop above, is gone */
    srv.tls_client_ctx = NULL;
    if (srv.cron_ev) event_free(srv.cron_ev);
    if (gc_ev) event_free(gc_ev);
    gc_ev = NULL;
    for (int i = 0; i < 3; i++)
        if (srv.sig_ev[i]) event_free(srv.sig_ev[i]);
    if (srv.base) event_base_free(srv.base);
    srv.base = NULL;
}
