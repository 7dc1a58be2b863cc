/* repl_replica: the link to the master.  See repl_replica.h.
 *
 * The link is a non-blocking socket on the node's event loop (no
 * thread): the stream is parsed with repl_proto_next straight from the
 * input buffer, records are applied to the store's pending batch and
 * committed by the ordinary group commit at the end of the iteration,
 * and only then acked (repl_replica_after_commit), so an ack always means
 * "committed here".
 *
 * With tls_replication the socket carries TLS (tls.h, the context
 * srv.tls_client_ctx): the handshake runs once the TCP connect is done,
 * still in the CONNECTING state and under its timeout, and checks the
 * master's certificate against the CA and the host it was given.  Then
 * every read and write goes through conn_read/conn_write, where a TLS
 * read may wait for the fd to be writable (lk.read_wants_write: the
 * write event reads) and a write for it to be readable
 * (lk.write_wants_read: the read event flushes), and decrypted bytes
 * left inside OpenSSL make the read event run again by hand. */
#include "repl_replica.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "db.h"
#include "dump.h"
#include "log.h"
#include "eval.h"
#include "multi.h"
#include "repl_master.h"
#include "repl_proto.h"
#include "resp.h"
#include "tls.h"
#include "util.h"
#include "wal.h"

#define LINK_READ_CHUNK (1u << 20)
#define LINK_RETRY_MS 200
#define LINK_CONNECT_TIMEOUT_MS 5000
#define LINK_TIMEOUT_MS 10000           /* the master pings every second */
#define LINK_SYNC_TIMEOUT_MS 30000
#define LINK_ACK_MS 1000                /* heartbeat */
#define LINK_ACK_LAZY_MS 5              /* unasked acks, at most this often */

enum { L_NONE = 0, L_CONNECT, L_CONNECTING, L_HANDSHAKE, L_FULLSYNC, L_CONNECTED };

static struct {
    char host[256];
    int port;
    int state;
    int fd;
    tls_conn *tls;                  /* tls_replication, or NULL: plain */
    int tls_handshake;              /* the TLS handshake is under way */
    int read_wants_write, write_wants_read; /* TLS: see the top */
    struct event *rev, *wev;
    buf in, out;
    int hs_pending;                 /* +OK replies expected before PSYNC's */
    uint64_t last_io_ms, down_since_ms, next_connect_ms, state_since_ms;
    uint64_t acked_sent, last_ack_ms, master_lsn;
    int force_full;                 /* next PSYNC asks for a full sync */
    int ack_wanted;                 /* GETACK seen since the last ack */
    struct dump_loader *loader;
    struct wal_pos sync_pos;
    char tmpdir[4096];
    uint64_t sync_start_us;
    unsigned long long sync_bytes;
    unsigned long long full_syncs, partial_syncs;
} lk = { .fd = -1 };

static void link_fail(const char *why);

static const char *state_name(void)
{
    switch (lk.state) {
    case L_CONNECT: return "connect";
    case L_CONNECTING: return "connecting";
    case L_HANDSHAKE: return "handshake";
    case L_FULLSYNC: return "sync";
    case L_CONNECTED: return "connected";
    default: return "none";
    }
}

/* " over TLSv1.3" on a TLS link, for the log lines of a sync. */
static const char *link_kind(void)
{
    static char s[32];
    if (!lk.tls) return "";
    snprintf(s, sizeof s, " over %s", tls_conn_protocol(lk.tls));
    return s;
}

static void set_state(int s)
{
    lk.state = s;
    lk.state_since_ms = now_ms();
}

/* ---------------- output ---------------- */

/* The reason of the last failed read or write, for the log. */
static const char *link_error(int e)
{
    return lk.tls && *tls_conn_error(lk.tls) ? tls_conn_error(lk.tls) : strerror(e);
}

static int link_flush(void)
{
    if (lk.fd < 0 || lk.tls_handshake) return 0; /* sent once connected */
    lk.write_wants_read = 0;
    while (lk.out.len) {
        /* A retry after EAGAIN starts at the same byte (buf_consume only
         * on success), as TLS requires. */
        ssize_t n = conn_write(lk.fd, lk.tls, lk.out.data, lk.out.len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                if (lk.tls && tls_conn_wants(lk.tls) == TLS_WANT_READ) {
                    lk.write_wants_read = 1; /* read_cb flushes after its read */
                    if (!lk.read_wants_write) event_del(lk.wev);
                } else {
                    event_add(lk.wev, NULL);
                }
                return 0;
            }
            link_fail(link_error(errno));
            return -1;
        }
        buf_consume(&lk.out, (size_t)n);
    }
    if (!lk.read_wants_write) event_del(lk.wev);
    return 0;
}

static void add_cmd(buf *b, int argc, const char **argv)
{
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) buf_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

static void send_ack(void)
{
    char lsn[32];
    uint64_t committed = wal_committed_lsn();
    snprintf(lsn, sizeof lsn, "%llu", (unsigned long long)committed);
    const char *argv[3] = { "REPLCONF", "ACK", lsn };
    add_cmd(&lk.out, 3, argv);
    lk.acked_sent = committed;
    lk.last_ack_ms = now_ms();
    lk.ack_wanted = 0;
    link_flush();
}

/* ---------------- link life cycle ---------------- */

static void link_close(void)
{
    if (lk.rev) event_free(lk.rev);
    if (lk.wev) event_free(lk.wev);
    lk.rev = lk.wev = NULL;
    tls_conn_destroy(lk.tls); /* its close_notify, before the fd goes */
    lk.tls = NULL;
    lk.tls_handshake = lk.read_wants_write = lk.write_wants_read = 0;
    if (lk.fd >= 0) close(lk.fd);
    lk.fd = -1;
    buf_free(&lk.in);
    buf_free(&lk.out);
    if (lk.loader) {
        dump_loader_abort(lk.loader, lk.tmpdir);
        lk.loader = NULL;
    }
}

static void link_fail(const char *why)
{
    if (why) log_warn("replication link to %s:%d (%s): %s", lk.host, lk.port, state_name(), why);
    if (lk.state == L_CONNECTED || lk.state == L_FULLSYNC) lk.down_since_ms = now_ms();
    link_close();
    set_state(L_CONNECT);
    lk.next_connect_ms = now_ms() + (lk.force_full ? 0 : LINK_RETRY_MS);
}

static void begin_full_sync(uint64_t epoch, uint64_t last_epoch, uint64_t lsn, uint32_t crc)
{
    char *err = NULL;
    size_t n = strlen(srv.cfg.dir);
    while (n > 1 && srv.cfg.dir[n - 1] == '/') n--;
    snprintf(lk.tmpdir, sizeof lk.tmpdir, "%.*s.sync", (int)n, srv.cfg.dir);
    dump_destroy_dir(lk.tmpdir);
    lk.loader = dump_loader_open(lk.tmpdir, &err);
    if (!lk.loader) {
        log_error("full sync: cannot create %s: %s", lk.tmpdir, err);
        free(err);
        link_fail("full sync aborted");
        return;
    }
    memset(&lk.sync_pos, 0, sizeof lk.sync_pos);
    lk.sync_pos.epoch = epoch;
    lk.sync_pos.last_epoch = last_epoch;
    lk.sync_pos.last_lsn = lsn;
    lk.sync_pos.last_crc = crc;
    lk.sync_start_us = mono_us();
    lk.sync_bytes = 0;
    set_state(L_FULLSYNC);
    log_info("full sync from %s:%d%s: receiving a snapshot at lsn %llu into %s", lk.host, lk.port,
             link_kind(), (unsigned long long)lsn, lk.tmpdir);
}

/* Returns 0, or -1 if the link was closed. */
static int finish_full_sync(unsigned long long nkeys)
{
    char *err = NULL;
    char old[4096];
    unsigned long long got = dump_loader_keys(lk.loader);
    if (got != nkeys) {
        log_error("full sync: the master sent %llu keys, %llu arrived", nkeys, got);
        link_fail("full sync incomplete");
        return -1;
    }
    struct dump_loader *l = lk.loader;
    lk.loader = NULL;
    if (dump_loader_finish(l, &lk.sync_pos, &err) < 0) {
        log_error("full sync: cannot finish %s: %s", lk.tmpdir, err);
        free(err);
        dump_destroy_dir(lk.tmpdir);
        link_fail("full sync aborted");
        return -1;
    }
    snprintf(old, sizeof old, "%s.old", srv.cfg.dir);
    dump_destroy_dir(old);
    repl_master_drop_replicas(); /* dumps in progress hold snapshots of the old store */
    if (server_store_replace(lk.tmpdir) < 0) {
        dump_destroy_dir(lk.tmpdir);
        link_fail("full sync: cannot swap the data directory");
        return -1;
    }
    if (wal_open(srv.st) < 0) log_error("full sync: cannot read the new replication position");
    dump_destroy_dir(old);
    double secs = (double)(mono_us() - lk.sync_start_us) / 1e6;
    log_info("full sync done: %llu keys, %.1f MB in %.2f s (%.1f MB/s), now at lsn %llu", nkeys,
             (double)lk.sync_bytes / 1e6, secs, secs > 0 ? (double)lk.sync_bytes / 1e6 / secs : 0.0,
             (unsigned long long)wal_position()->last_lsn);
    lk.full_syncs++;
    lk.force_full = 0;
    lk.acked_sent = 0;
    set_state(L_CONNECTED);
    send_ack();
    return lk.state == L_CONNECTED ? 0 : -1;
}

static int apply_record(const char *rec, size_t len)
{
    const char *why = NULL;
    struct wal_rec wr;
    int r = wal_apply(rec, len, &wr, &why);
    if (r == 0) {
        /* WATCHes on this replica fail when the master changes the key. */
        multi_signal_ops(wr.ops, wr.oplen);
        db_gc_note_applied(wr.ops, wr.oplen);
        function_ops_applied(wr.ops, wr.oplen); /* FUNCTION LOAD/DELETE: recompile */
        return 0;
    }
    unsigned long long lsn = len >= 17 ? get_u64be((const unsigned char *)rec + 9) : 0;
    if (r == -1) {
        /* Nothing of it was applied.  Resync from a snapshot rather than
         * skip it: a gap would leave the data silently different. */
        wal_count_bad();
        log_error("replication record lsn %llu from %s:%d refused: %s; nothing applied, "
                  "resyncing with a full sync", lsn, lk.host, lk.port, why);
        lk.force_full = 1;
    } else {
        log_warn("replication record lsn %llu from %s:%d refused: %s (at lsn %llu)", lsn, lk.host,
                 lk.port, why, (unsigned long long)wal_position()->last_lsn);
    }
    link_fail(NULL);
    return -1;
}

static int line_is(const struct repl_item *it, const char *word)
{
    size_t n = strlen(word);
    return it->len >= n && memcmp(it->data, word, n) == 0 && (it->len == n || it->data[n] == ' ');
}

/* Returns 0, or -1 if the link was closed. */
static int handle_item(const struct repl_item *it)
{
    char line[REPL_PROTO_MAX_LINE + 1];
    if (it->type != '$') {
        memcpy(line, it->data, it->len);
        line[it->len] = '\0';
    }
    if (it->type == '-') {
        log_warn("master %s:%d refused: %s", lk.host, lk.port, line);
        link_fail(NULL);
        return -1;
    }
    switch (lk.state) {
    case L_HANDSHAKE:
        if (it->type != '+') break;
        if (lk.hs_pending > 0) {
            lk.hs_pending--;
            return 0;
        }
        if (line_is(it, "CONTINUE")) {
            unsigned long long e = 0, l = 0;
            sscanf(line, "CONTINUE %llu %llu", &e, &l);
            lk.partial_syncs++;
            lk.acked_sent = 0;
            lk.master_lsn = l;
            set_state(L_CONNECTED);
            log_info("replicating from %s:%d%s, continuing after lsn %llu", lk.host, lk.port, link_kind(), l);
            return 0;
        }
        if (line_is(it, "FULLSYNC")) {
            unsigned long long e, le, l;
            unsigned crc;
            if (sscanf(line, "FULLSYNC %llu %llu %llu %u", &e, &le, &l, &crc) != 4) break;
            begin_full_sync(e, le, l, crc);
            return lk.state == L_FULLSYNC ? 0 : -1;
        }
        break;
    case L_FULLSYNC:
        if (it->type == '$') {
            const char *err;
            if (dump_loader_chunk(lk.loader, it->data, it->len, &err) < 0) {
                wal_count_bad();
                lk.force_full = 1;
                link_fail(err);
                return -1;
            }
            lk.sync_bytes += it->len;
            return 0;
        }
        if (line_is(it, "FULLSYNCEND")) {
            unsigned long long n = 0;
            sscanf(line, "FULLSYNCEND %llu", &n);
            return finish_full_sync(n);
        }
        if (line_is(it, "PING")) return 0;
        break;
    case L_CONNECTED:
        if (it->type == '$') return apply_record(it->data, it->len);
        if (line_is(it, "PING")) {
            unsigned long long l = 0;
            if (sscanf(line, "PING %llu", &l) == 1) lk.master_lsn = l;
            return 0;
        }
        if (line_is(it, "GETACK")) {
            lk.ack_wanted = 1;
            return 0;
        }
        break;
    default:
        break;
    }
    link_fail("unexpected message from the master");
    return -1;
}

static void tls_handshake_step(void);

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (lk.tls_handshake) {
        tls_handshake_step();
        return;
    }
    buf_reserve(&lk.in, LINK_READ_CHUNK);
    lk.read_wants_write = 0;
    ssize_t n = conn_read(fd, lk.tls, lk.in.data + lk.in.len, lk.in.cap - lk.in.len);
    if (n == 0) {
        link_fail("the master closed the connection");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            if (lk.tls && tls_conn_wants(lk.tls) == TLS_WANT_WRITE) {
                lk.read_wants_write = 1; /* write_cb reads again */
                event_add(lk.wev, NULL);
            }
            if (lk.write_wants_read) link_flush();
            return;
        }
        link_fail(link_error(errno));
        return;
    }
    lk.in.len += (size_t)n;
    lk.last_io_ms = now_ms();
    size_t off = 0;
    unsigned long long applied = wal_get_stats()->applied;
    for (;;) {
        struct repl_item it;
        size_t used;
        const char *err;
        int r = repl_proto_next(lk.in.data + off, lk.in.len - off, &used, &it, &err);
        if (r == 0) break;
        if (r < 0) {
            link_fail(err);
            return;
        }
        off += used;
        if (handle_item(&it) < 0) break; /* the link and its buffer are gone */
    }
    /* Counters cached by db.c (DBSIZE, keys with an expire) changed under it. */
    if (wal_get_stats()->applied != applied) db_invalidate_counters();
    if (lk.fd >= 0 && lk.in.len >= off) buf_consume(&lk.in, off);
    if (lk.fd >= 0 && lk.tls) {
        /* The read that a write waited for has happened; decrypted bytes
         * OpenSSL still holds make no readiness event: come back for them
         * on this loop iteration, after the other events. */
        if (lk.write_wants_read && link_flush() < 0) return;
        if (conn_pending(lk.tls)) event_active(lk.rev, EV_READ, 1);
    }
}

static void send_handshake(void)
{
    char port[16], epoch[32], lsn[32], crc[16];
    const struct wal_pos *p = wal_position();
    lk.hs_pending = 0;
    const char *auth[3];
    int nauth = node_internal_auth(auth);
    if (nauth) {
        add_cmd(&lk.out, nauth, auth);
        lk.hs_pending++;
    }
    snprintf(port, sizeof port, "%lld", srv.cfg.port);
    const char *rc[3] = { "REPLCONF", "listening-port", port };
    add_cmd(&lk.out, 3, rc);
    lk.hs_pending++;
    if (lk.force_full || p->last_lsn == 0) {
        const char *argv[3] = { "PSYNC", "?", "-1" };
        add_cmd(&lk.out, 3, argv);
    } else {
        snprintf(epoch, sizeof epoch, "%llu", (unsigned long long)p->last_epoch);
        snprintf(lsn, sizeof lsn, "%llu", (unsigned long long)p->last_lsn);
        snprintf(crc, sizeof crc, "%u", (unsigned)p->last_crc);
        const char *argv[4] = { "PSYNC", epoch, lsn, crc };
        add_cmd(&lk.out, 4, argv);
    }
    set_state(L_HANDSHAKE);
    link_flush();
}

/* The TCP connection (and, with TLS, its handshake) is up. */
static void link_up(void)
{
    event_del(lk.wev);
    event_add(lk.rev, NULL);
    lk.last_io_ms = now_ms();
    send_handshake();
}

/* One step of the TLS handshake, from either event; the CONNECTING
 * timeout bounds it.  A certificate that does not verify (another CA, a
 * name that is not the master's address, expired) is a failed connect
 * like any other: logged with OpenSSL's reason, retried. */
static void tls_handshake_step(void)
{
    if (tls_conn_handshake(lk.tls) == 0) {
        lk.tls_handshake = 0;
        link_up();
        return;
    }
    if (errno != EAGAIN && errno != EINTR) {
        const char *why = link_error(errno);
        if (strstr(why, "wrong version number")) {
            /* What a plain port answers: the likely slip, say so. */
            char hint[400];
            snprintf(hint, sizeof hint, "%s (not a TLS port? with tls_replication the master's "
                                        "address names its tls_port)", why);
            link_fail(hint);
            return;
        }
        link_fail(why);
        return;
    }
    if (tls_conn_wants(lk.tls) == TLS_WANT_WRITE) {
        event_add(lk.wev, NULL);
    } else {
        event_del(lk.wev);
        event_add(lk.rev, NULL);
    }
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (lk.tls_handshake) {
        tls_handshake_step();
        return;
    }
    if (lk.state == L_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
        if (err) {
            link_fail(strerror(err));
            return;
        }
        if (srv.tls_client_ctx) {
            /* The master's certificate must name the host it was given
             * (a DNS name or an IP address, tls.h). */
            lk.tls = tls_conn_connect(srv.tls_client_ctx, fd, lk.host);
            if (!lk.tls) {
                link_fail("TLS: out of memory");
                return;
            }
            lk.tls_handshake = 1;
            tls_handshake_step();
            return;
        }
        link_up();
        return;
    }
    if (lk.read_wants_write) {
        read_cb(fd, EV_READ, NULL); /* the read that waited for this */
        if (lk.fd < 0) return;
        if (lk.read_wants_write) return; /* still waiting; the event stays */
    }
    link_flush();
}

static void link_connect(void)
{
    struct addrinfo hints, *res = NULL;
    char ps[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ps, sizeof ps, "%d", lk.port);
    int r = getaddrinfo(lk.host, ps, &hints, &res);
    if (r) {
        link_fail(gai_strerror(r));
        return;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        link_fail(strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    r = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (r < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        link_fail(strerror(e));
        return;
    }
    lk.fd = fd;
    buf_init(&lk.in);
    buf_init(&lk.out);
    lk.rev = event_new(srv.base, fd, EV_READ | EV_PERSIST, read_cb, NULL);
    lk.wev = event_new(srv.base, fd, EV_WRITE | EV_PERSIST, write_cb, NULL);
    lk.last_io_ms = now_ms();
    set_state(L_CONNECTING);
    event_add(lk.wev, NULL);
}

/* ---------------- public ---------------- */

void repl_replica_init(void)
{
    lk.fd = -1;
}

void repl_replica_start(const char *host, int port)
{
    if (lk.state != L_NONE) link_close();
    snprintf(lk.host, sizeof lk.host, "%s", host);
    lk.port = port;
    lk.master_lsn = 0;
    lk.force_full = 0;
    lk.down_since_ms = now_ms();
    set_state(L_CONNECT);
    lk.next_connect_ms = 0;
    log_info("replicating from %s:%d", host, port);
    link_connect();
}

void repl_replica_shutdown(void)
{
    if (lk.state != L_NONE) link_close();
}

void repl_replica_stop(void)
{
    if (lk.state == L_NONE) return;
    link_close();
    set_state(L_NONE);
    log_info("stopped replicating from %s:%d", lk.host, lk.port);
}

int repl_replica_follows(const char *host, int port)
{
    return lk.state != L_NONE && lk.port == port && strcmp(lk.host, host) == 0;
}

void repl_replica_after_commit(void)
{
    if (lk.state != L_CONNECTED) return;
    if (lk.ack_wanted ||
        (wal_committed_lsn() > lk.acked_sent && now_ms() - lk.last_ack_ms >= LINK_ACK_LAZY_MS))
        send_ack();
}

void repl_replica_cron(void)
{
    uint64_t now = now_ms();
    switch (lk.state) {
    case L_CONNECT:
        if (now >= lk.next_connect_ms) link_connect();
        break;
    case L_CONNECTING:
        if (now - lk.state_since_ms > LINK_CONNECT_TIMEOUT_MS) link_fail("connection timed out");
        break;
    case L_HANDSHAKE:
    case L_CONNECTED:
        if (now - lk.last_io_ms > LINK_TIMEOUT_MS) link_fail("no data from the master within the timeout");
        else if (lk.state == L_CONNECTED &&
                 (now - lk.last_ack_ms >= LINK_ACK_MS || wal_committed_lsn() > lk.acked_sent))
            send_ack();
        break;
    case L_FULLSYNC:
        if (now - lk.last_io_ms > LINK_SYNC_TIMEOUT_MS) link_fail("full sync stalled");
        break;
    default:
        break;
    }
}

void repl_replica_info(buf *o)
{
    uint64_t now = now_ms();
    uint64_t lsn = wal_committed_lsn();
    int up = lk.state == L_CONNECTED;
    buf_printf(o, "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n"
                  "master_last_io_seconds_ago:%lld\r\nmaster_sync_in_progress:%d\r\n"
                  "slave_read_repl_offset:%llu\r\nslave_repl_offset:%llu\r\n",
               lk.host, lk.port, up ? "up" : "down",
               lk.fd >= 0 ? (long long)((now - lk.last_io_ms) / 1000) : -1LL,
               lk.state == L_FULLSYNC, (unsigned long long)lsn, (unsigned long long)lsn);
    if (lk.state == L_FULLSYNC)
        buf_printf(o, "master_sync_total_bytes:-1\r\nmaster_sync_read_bytes:%llu\r\n"
                      "master_sync_last_io_seconds_ago:%llu\r\n",
                   lk.sync_bytes, (unsigned long long)((now - lk.last_io_ms) / 1000));
    if (!up)
        buf_printf(o, "master_link_down_since_seconds:%lld\r\n",
                   lk.down_since_ms ? (long long)((now - lk.down_since_ms) / 1000) : -1LL);
    buf_printf(o, "slave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\n"
                  "master_lsn:%llu\r\nlag_records:%llu\r\nrepl_full_syncs:%llu\r\n"
                  "repl_partial_syncs:%llu\r\n",
               (unsigned long long)lk.master_lsn,
               (unsigned long long)(lk.master_lsn > lsn ? lk.master_lsn - lsn : 0),
               lk.full_syncs, lk.partial_syncs);
    /* Not Redis's: whether the link is TLS (tls_replication), and its
     * protocol while one is established. */
    buf_printf(o, "master_link_tls:%s\r\n", srv.tls_client_ctx ? "yes" : "no");
    if (lk.tls && tls_conn_established(lk.tls))
        buf_printf(o, "master_link_tls_protocol:%s\r\n", tls_conn_protocol(lk.tls));
}

void repl_replica_status(struct repl_replica_status *st)
{
    uint64_t lsn = wal_committed_lsn();
    st->link_up = lk.state == L_CONNECTED;
    st->sync_in_progress = lk.state == L_FULLSYNC;
    st->master_lsn = lk.master_lsn;
    st->lag_records = lk.master_lsn > lsn ? lk.master_lsn - lsn : 0;
    st->last_io_ms_ago = lk.fd >= 0 ? (long long)(now_ms() - lk.last_io_ms) : -1LL;
    st->full_syncs = lk.full_syncs;
    st->partial_syncs = lk.partial_syncs;
}

void repl_replica_role(client *c)
{
    resp_add_array(&c->out, 5);
    resp_add_bulk_str(&c->out, "slave");
    resp_add_bulk_str(&c->out, lk.host);
    resp_add_int(&c->out, lk.port);
    resp_add_bulk_str(&c->out, state_name());
    resp_add_int(&c->out, (long long)wal_committed_lsn());
}
