/* repl_master: replicas, acks, semi-sync, WAIT, retention, fencing.
 * See repl_master.h for the flow.
 *
 * Each attached replica is an ordinary client (CLIENT_REPLICA) whose
 * output buffer carries the stream of repl_proto.h.  It is in one of two
 * states:
 *
 *   RS_FULLSYNC  a LevelDB snapshot is being sent in chunks; the log is
 *                pinned at the snapshot's lsn + 1
 *   RS_STREAM    records are sent in lsn order: straight from the live
 *                buffer of the group commit when the replica is caught up
 *                (sent_lsn == the lsn before the batch), otherwise read
 *                back from the log on its socket's write event until it
 *                catches up.  A record it needs that the log no longer
 *                holds closes the link: the replica reconnects and full
 *                syncs.
 *
 * A write event of our own on the replica's socket refills its output
 * when it drains (full sync chunks, log catch-up), so a large transfer
 * never sits in memory: at most REPL_OUT_HIGH bytes are queued.
 *
 * Held writers (semi-sync, WAIT) are clients with CLIENT_WAIT_ACK: the
 * server skips their replies until we clear it and call client_pending.
 * Input that arrived meanwhile is processed from a deferred event, not
 * from inside another client's command. */
#include "repl_master.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dump.h"
#include "log.h"
#include "migrate.h"
#include "pause.h"
#include "util.h"
#include "wal.h"

#define REPL_OUT_HIGH (8u << 20)        /* refill below this much queued output */
#define REPL_LIVE_MAX (32u << 20)       /* above: stop live appends, catch up from the log */
#define REPL_FEED_BUDGET_US 20000       /* per write event */
#define REPL_PING_MS 1000
#define REPL_TIMEOUT_MS 10000           /* no ack for this long: the link is dead */
#define REPL_GOOD_LAG_MS 10000          /* "good" replica for min_replica_acks */
#define HOLD_TIMER_US 5000

enum { RS_NONE = 0, RS_FULLSYNC, RS_STREAM };
enum { HOLD_NONE = 0, HOLD_PENDING, HOLD_SEMI, HOLD_WAIT };

struct repl_client {
    client *c;
    /* as a replica */
    int state;
    int dump;                   /* strata-dump: one snapshot, then close */
    int listening_port;
    uint64_t sent_lsn;          /* newest record queued to it */
    uint64_t acked_lsn;         /* newest record it applied and committed */
    uint64_t last_ack_ms, last_ping_ms;
    uint64_t sync_lsn;          /* full sync: the snapshot's lsn */
    struct dump_source *src;
    struct event *wev;
    uint64_t sync_start_us;
    unsigned long long sync_bytes;
    /* as a writer waiting for acks */
    int hold;
    uint64_t deadline_ms;       /* 0: none (WAIT 0) */
    long long wait_numreplicas;
    size_t *ends;               /* semi-sync: end offsets in c->out of held write replies */
    size_t nends, ends_cap;
    int resume;                 /* in the resume list */
};

/* Small arrays of clients (a client appears at most once in each). */
struct clist {
    client **v;
    size_t n, cap;
};

static struct clist replicas;   /* state != RS_NONE */
static struct clist holding;    /* hold != HOLD_NONE */
static struct clist resuming;
static struct event *hold_timer, *resume_ev;
static buf scratch;
static int degraded;            /* semi-sync fell back to async on a timeout */
static uint64_t last_heard_ms;  /* fencing lease without sentinels: last replica ack */
/* Fencing lease with sentinels (see repl_master_write_allowed): the last
 * renewal of each sentinel, by id, and the largest sentinel count any of
 * them announced.  fence_nsentinels == 0 until a sentinel renews. */
#define FENCE_MAX_SENTINELS 32
#define FENCE_ID_MAX 64
static struct fence_renewal {
    char id[FENCE_ID_MAX + 1];
    uint64_t ms;
    /* Delay filter (sentinel-time): the smallest (our monotonic ms - the
     * sentinel's send time) seen on connection `conn`. */
    int64_t min_offset;
    uint64_t conn;
} fence_renewals[FENCE_MAX_SENTINELS];
static int fence_nsentinels;
static uint64_t fence_grace_until_ms; /* start-up / promotion: leased until then */
static int fence_check(void);
static unsigned long long sync_full, sync_partial_ok, sync_partial_err, semi_timeouts;

static void clist_add(struct clist *l, client *c)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, sizeof(client *) * l->cap);
    }
    l->v[l->n++] = c;
}

static void clist_del(struct clist *l, client *c)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == c) {
            l->v[i] = l->v[--l->n];
            return;
        }
}

static struct repl_client *repl_get(client *c)
{
    if (!c->repl) {
        c->repl = xcalloc(1, sizeof *c->repl);
        c->repl->c = c;
    }
    return c->repl;
}

static size_t out_pending(const client *c)
{
    return c->out.len - c->out_sent;
}

/* ---------------- acks ---------------- */

/* The highest lsn that at least k streaming replicas have acked (0 if
 * fewer than k replicas stream). */
static uint64_t kth_acked(long long k)
{
    uint64_t top[64];
    size_t n = 0;
    if (k <= 0) return UINT64_MAX;
    for (size_t i = 0; i < replicas.n && n < 64; i++) {
        struct repl_client *r = replicas.v[i]->repl;
        if (r->state == RS_STREAM && !r->dump) top[n++] = r->acked_lsn;
    }
    if ((long long)n < k) return 0;
    /* k is small (<= 64): partial selection sort, descending. */
    for (long long i = 0; i < k; i++)
        for (size_t j = (size_t)i + 1; j < n; j++)
            if (top[j] > top[i]) {
                uint64_t t = top[i];
                top[i] = top[j];
                top[j] = t;
            }
    return top[k - 1];
}

static long long count_acked(uint64_t lsn)
{
    long long n = 0;
    for (size_t i = 0; i < replicas.n; i++) {
        struct repl_client *r = replicas.v[i]->repl;
        if (r->state == RS_STREAM && !r->dump && r->acked_lsn >= lsn) n++;
    }
    return n;
}

static long long good_replicas(void)
{
    uint64_t now = now_ms();
    long long n = 0;
    for (size_t i = 0; i < replicas.n; i++) {
        struct repl_client *r = replicas.v[i]->repl;
        if (r->state == RS_STREAM && !r->dump && now - r->last_ack_ms <= REPL_GOOD_LAG_MS) n++;
    }
    return n;
}

/* ---------------- held writers ---------------- */

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    /* Processing input may hold clients again and add to the list: work
     * on a detached copy. */
    struct clist l = resuming;
    memset(&resuming, 0, sizeof resuming);
    for (size_t i = 0; i < l.n; i++) {
        client *c = l.v[i];
        c->repl->resume = 0;
        if (!(c->flags & (CLIENT_WAIT_ACK | CLIENT_CLOSE_ASAP)) && c->qbuf.len) client_process_input(c);
    }
    free(l.v);
}

/* Length of the RESP value at p (0 if incomplete or not RESP). */
static size_t resp_value_len(const char *p, size_t len, int depth)
{
    if (len < 3 || depth > 32) return 0;
    const char *nl = memchr(p, '\n', len);
    if (!nl) return 0;
    size_t line = (size_t)(nl - p) + 1;
    /* The header's number ends at "\r\n"; the buffer is not NUL-terminated,
     * so parse exactly that span (no strtoll). */
    long long n = 0;
    if (line >= 3 && str2ll(p + 1, line - 3, &n) < 0) n = 0;
    switch (p[0]) {
    case '$':
    case '=':
    case '!':
        if (n < 0) return line;
        return line + (size_t)n + 2 <= len ? line + (size_t)n + 2 : 0;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
        if (n < 0) return line;
        if (p[0] == '%' || p[0] == '|') n *= 2;
        size_t off = line;
        for (long long i = 0; i < n; i++) {
            size_t e = resp_value_len(p + off, len - off, depth + 1);
            if (!e) return 0;
            off += e;
        }
        return off;
    }
    default:
        return line;
    }
}

/* Error fallback: every held write reply becomes -NOREPLICAS (the write
 * itself stays: it is committed on this node and may reach replicas). */
static const char held_err_noreplicas[] = "-NOREPLICAS Not enough good replicas to write.\r\n";
static const char held_err_fenced[] =
    "-READONLY Writes refused: this master lost its lease before its replicas acknowledged\r\n";

/* err: a whole RESP error line, static. */
static void replace_held_replies(client *c, const char *err)
{
    struct repl_client *r = c->repl;
    size_t errlen = strlen(err);
    if (!r->nends) return;
    buf nb;
    buf_init(&nb);
    size_t off = c->out_sent, e = 0;
    buf_append(&nb, c->out.data, c->out_sent);
    while (off < c->out.len) {
        size_t l = resp_value_len(c->out.data + off, c->out.len - off, 0);
        if (!l) {
            buf_append(&nb, c->out.data + off, c->out.len - off);
            break;
        }
        while (e < r->nends && r->ends[e] < off + l) e++;
        if (e < r->nends && r->ends[e] == off + l) buf_append(&nb, err, errlen);
        else buf_append(&nb, c->out.data + off, l);
        off += l;
    }
    buf_free(&c->out);
    c->out = nb;
}

static void release(client *c, long long wait_count)
{
    struct repl_client *r = c->repl;
    if (r->hold == HOLD_WAIT) resp_add_int(&c->out, wait_count);
    r->hold = HOLD_NONE;
    r->nends = 0;
    clist_del(&holding, c);
    c->flags &= ~CLIENT_WAIT_ACK;
    client_pending(c);
    if (c->qbuf.len && !r->resume) {
        r->resume = 1;
        clist_add(&resuming, c);
        event_active(resume_ev, EV_TIMEOUT, 0);
    }
}

/* Release every held client whose condition is met or whose time is up. */
static void check_holders(void)
{
    if (!holding.n) return;
    uint64_t now = now_ms();
    long long k = srv.cfg.min_replica_acks;
    uint64_t thr = kth_acked(k);
    size_t i = 0;
    while (i < holding.n) {
        client *c = holding.v[i];
        struct repl_client *r = c->repl;
        size_t before = holding.n;
        if (r->hold == HOLD_SEMI) {
            if (k <= 0 || c->wait_lsn <= thr || degraded) {
                /* Acked, but a master that lost its lease meanwhile may
                 * have been replaced by a replica without these writes:
                 * not an acknowledgement any more (fence_lease_held). */
                if (fence_check()) replace_held_replies(c, held_err_fenced);
                release(c, 0);
            } else if (now >= r->deadline_ms) {
                semi_timeouts++;
                if (srv.cfg.replica_ack_fallback == 1) {
                    if (!degraded)
                        log_warn("semi-sync: no ack from %lld replica(s) within %lld ms: "
                                 "continuing asynchronously until they catch up",
                                 k, srv.cfg.replica_ack_timeout_ms);
                    degraded = 1;
                } else {
                    replace_held_replies(c, held_err_noreplicas);
                }
                release(c, 0);
            }
        } else if (r->hold == HOLD_WAIT) {
            long long n = count_acked(c->wait_lsn);
            if (n >= r->wait_numreplicas || (r->deadline_ms && now >= r->deadline_ms)) release(c, n);
        }
        if (holding.n == before) i++; /* not released: move on */
    }
    if (!holding.n && hold_timer) event_del(hold_timer);
}

static void hold_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    check_holders();
}

static void hold_timer_start(void)
{
    struct timeval tv = { 0, HOLD_TIMER_US };
    if (!event_pending(hold_timer, EV_TIMEOUT, NULL)) event_add(hold_timer, &tv);
}

/* Leave degraded mode once K replicas hold everything committed. */
static void check_degraded(void)
{
    if (!degraded) return;
    long long k = srv.cfg.min_replica_acks;
    if (k <= 0 || kth_acked(k) >= wal_committed_lsn()) {
        degraded = 0;
        log_info("semi-sync: %lld replica(s) caught up, acknowledged writes again", k);
    }
}

/* ---------------- streaming ---------------- */

/* Replicas ack lazily (every few ms) unless asked: a semi-sync writer or a
 * WAIT is waiting, so acks cost the master nothing in asynchronous mode. */
static int acks_wanted(void)
{
    if (srv.cfg.min_replica_acks > 0 && !degraded) return 1;
    for (size_t i = 0; i < holding.n; i++)
        if (holding.v[i]->repl->hold == HOLD_WAIT) return 1;
    return 0;
}

static void ask_ack(client *c)
{
    buf_append(&c->out, "+GETACK\r\n", 9);
    client_pending(c);
}

static void frame_bulk(buf *out, const char *p, size_t len)
{
    buf_printf(out, "$%zu\r\n", len);
    buf_append(out, p, len);
    buf_append(out, "\r\n", 2);
}

static void close_replica(client *c, const char *why)
{
    log_warn("replica %s: %s; closing the link", c->addr, why);
    client_close(c);
}

static void finish_full_sync(client *c)
{
    struct repl_client *r = c->repl;
    double secs = (double)(mono_us() - r->sync_start_us) / 1e6;
    buf_printf(&c->out, "+FULLSYNCEND %llu\r\n", dump_source_keys(r->src));
    log_info("%s %s: snapshot at lsn %llu sent, %llu keys, %.1f MB in %.2f s (%.1f MB/s)",
             r->dump ? "dump" : "replica", c->addr, (unsigned long long)r->sync_lsn,
             dump_source_keys(r->src), (double)r->sync_bytes / 1e6, secs,
             secs > 0 ? (double)r->sync_bytes / 1e6 / secs : 0.0);
    dump_source_close(r->src);
    r->src = NULL;
    if (r->dump) {
        r->state = RS_NONE;
        clist_del(&replicas, c);
        c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        return;
    }
    r->state = RS_STREAM;
    r->sent_lsn = r->sync_lsn;
    r->last_ack_ms = now_ms();
}

/* Queue output for a replica until REPL_OUT_HIGH or the time budget:
 * snapshot chunks, then records from the log up to the committed lsn. */
static void feed(client *c)
{
    struct repl_client *r = c->repl;
    uint64_t start = mono_us();
    uint64_t committed = wal_committed_lsn();
    while (r->state == RS_FULLSYNC && out_pending(c) < REPL_OUT_HIGH &&
           mono_us() - start < REPL_FEED_BUDGET_US) {
        buf_clear(&scratch);
        if (!dump_source_next(r->src, &scratch, DUMP_CHUNK_BYTES)) {
            finish_full_sync(c);
            break;
        }
        frame_bulk(&c->out, scratch.data, scratch.len);
        r->sync_bytes += scratch.len;
    }
    if (r->state == RS_STREAM) {
        int sent = 0;
        while (r->sent_lsn < committed && out_pending(c) < REPL_OUT_HIGH &&
               mono_us() - start < REPL_FEED_BUDGET_US) {
            int got = wal_read(r->sent_lsn + 1, &scratch);
            if (got != 1) {
                char why[128];
                snprintf(why, sizeof why, "it needs lsn %llu, which the log no longer holds",
                         (unsigned long long)r->sent_lsn + 1);
                close_replica(c, why);
                return;
            }
            frame_bulk(&c->out, scratch.data, scratch.len);
            r->sent_lsn++;
            sent = 1;
        }
        if (sent && acks_wanted()) ask_ack(c);
    }
    if (scratch.cap > (4u << 20)) buf_shrink(&scratch, 0);
    if (out_pending(c)) client_pending(c);
    int more = r->state == RS_FULLSYNC || (r->state == RS_STREAM && r->sent_lsn < committed);
    if (more) event_add(r->wev, NULL);
    else event_del(r->wev);
}

static void feed_cb(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    (void)fd;
    (void)what;
    if (c->flags & CLIENT_CLOSE_ASAP) {
        event_del(c->repl->wev);
        return;
    }
    feed(c);
}

void repl_master_after_commit(void)
{
    uint64_t prev, last;
    uint64_t committed = wal_committed_lsn();
    const buf *live = wal_live(&prev, &last);
    int want = live->len && acks_wanted();
    for (size_t i = 0; i < replicas.n; i++) {
        client *c = replicas.v[i];
        struct repl_client *r = c->repl;
        if (r->state != RS_STREAM || (c->flags & CLIENT_CLOSE_ASAP)) continue;
        if (live->len && r->sent_lsn == prev && out_pending(c) < REPL_LIVE_MAX) {
            buf_append(&c->out, live->data, live->len);
            r->sent_lsn = last;
            client_pending(c);
            if (want) ask_ack(c);
        } else if (r->sent_lsn < committed) {
            event_add(r->wev, NULL);
        }
    }
    wal_live_clear();
    /* No replica, no live copy of each record: one that attaches later
     * starts from the log (feed) and gets live records from the next
     * batch on. */
    wal_live_enable(replicas.n > 0);

    /* Park the writers of this batch (semi-sync). */
    int parked = 0;
    uint64_t now = now_ms();
    for (size_t i = 0; i < holding.n; i++) {
        client *c = holding.v[i];
        struct repl_client *r = c->repl;
        if (r->hold != HOLD_PENDING) continue;
        r->hold = HOLD_SEMI;
        r->deadline_ms = now + (uint64_t)srv.cfg.replica_ack_timeout_ms;
        c->flags |= CLIENT_WAIT_ACK;
        parked = 1;
    }
    if (parked) {
        check_holders();
        if (holding.n) hold_timer_start();
    }
}

/* Hold the reply the client has just been given (its output up to here)
 * until the replicas ack: the first held reply puts it on the holding list. */
static void hold_reply(client *c, struct repl_client *r)
{
    if (r->hold == HOLD_NONE) {
        r->hold = HOLD_PENDING;
        clist_add(&holding, c);
    }
    if (r->hold == HOLD_PENDING) {
        if (r->nends == r->ends_cap) {
            r->ends_cap = r->ends_cap ? r->ends_cap * 2 : 8;
            r->ends = xrealloc(r->ends, sizeof(size_t) * r->ends_cap);
        }
        r->ends[r->nends++] = c->out.len;
    }
}

/* ---------------- hooks ---------------- */

void repl_master_write_hook(client *c, size_t mark)
{
    /* Inside EXEC each queued command reports its writes; the record is
     * written once, for the whole transaction, when server_call reports
     * EXEC itself (CLIENT_IN_EXEC is cleared by then). */
    if (c && (c->flags & CLIENT_IN_EXEC)) return;
    if (srv.is_replica) {
        /* A replica's data changes only by applying its master's records;
         * a local write would fork the history.  It should not happen. */
        static uint64_t warned;
        if (now_ms() - warned > 10000) {
            log_warn("a write on a replica outside replication was not logged (%s)",
                     c && c->cmd ? c->cmd->name : "background task");
            warned = now_ms();
        }
        return;
    }
    size_t len;
    const char *ops = store_ops(srv.st, mark, &len);
    if (len == 0) return;
    uint64_t lsn = wal_append(ops, len, srv.cmd_time_ms ? srv.cmd_time_ms : now_ms());
    if (!c) return;
    c->wait_lsn = lsn;
    if (srv.cfg.min_replica_acks <= 0 || degraded || c->fd < 0 ||
        (c->flags & (CLIENT_MASTER | CLIENT_REPLICA)))
        return;
    struct repl_client *r = repl_get(c);
    hold_reply(c, r);
}

void repl_master_client_freed(client *c)
{
    struct repl_client *r = c->repl;
    if (!r) return;
    if (r->state != RS_NONE) {
        clist_del(&replicas, c);
        if (!r->dump) log_info("replica %s disconnected", c->addr);
    }
    if (r->hold != HOLD_NONE) clist_del(&holding, c);
    if (r->resume) clist_del(&resuming, c);
    if (r->src) dump_source_close(r->src);
    if (r->wev) event_free(r->wev);
    free(r->ends);
    free(r);
    c->repl = NULL;
}

/* Whether the log is kept (wal_keep).  It serves replicas that reconnect
 * (and backups that become replicas): a node keeps it while it is a
 * replica (it may be promoted, and its peers then continue from its log),
 * while any replica or backup is attached, and for wal_retention_ms after
 * the last one left, the age past which wal_trim drops records anyway (0:
 * for ever).  A node that no replica has read from keeps none, as Redis
 * allocates no backlog until a replica connects: on a lone master the log
 * was most of what LevelDB wrote and compacted (redis-benchmark ZADD in
 * bench_types.sh's order: compaction thread 4.6-7.3 us a request with the
 * log, 1.9-4.5 without; 65-70k requests/s against 79-89k).  At start a
 * node with a log keeps it, for replicas that were attached before. */
static uint64_t replica_seen_ms;        /* 0: none since start (repl_master_init) */

static void keep_log(uint64_t now)
{
    if (replicas.n > 0 || srv.is_replica) replica_seen_ms = now;
    uint64_t ttl = (uint64_t)srv.cfg.wal_retention_ms;
    /* A slot migration reads its catch-up from the log (migrate.h). */
    wal_keep(migrate_needs_log() || (replica_seen_ms && (ttl == 0 || now - replica_seen_ms <= ttl)));
}

static uint64_t record_time(uint64_t lsn)
{
    struct wal_rec rec;
    if (wal_read(lsn, &scratch) == 1 && wal_parse(scratch.data, scratch.len, &rec) != -1) return rec.time_ms;
    return 0;
}

void repl_master_cron(void)
{
    uint64_t now = now_ms();
    uint64_t committed = wal_committed_lsn();
    uint64_t pin = UINT64_MAX;
    for (size_t i = 0; i < replicas.n; i++) {
        client *c = replicas.v[i];
        struct repl_client *r = c->repl;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        if (r->state == RS_FULLSYNC) {
            if (r->sync_lsn + 1 < pin) pin = r->sync_lsn + 1;
            continue;
        }
        if (r->state != RS_STREAM) continue;
        if (r->sent_lsn + 1 < pin) pin = r->sent_lsn + 1;
        if (now - r->last_ack_ms > REPL_TIMEOUT_MS) {
            close_replica(c, "no ack within the replication timeout");
            continue;
        }
        if (now - r->last_ping_ms >= REPL_PING_MS) {
            buf_printf(&c->out, "+PING %llu\r\n", (unsigned long long)committed);
            r->last_ping_ms = now;
            client_pending(c);
        }
    }
    if (migrate_pin_lsn() < pin) pin = migrate_pin_lsn();
    keep_log(now);
    /* After a failed commit nothing is written until the store is reopened
     * (server_commit): a trim then would only be discarded, and would take
     * the clients of its loop iteration down with it, readers included. */
    if (!srv.write_error)
        wal_trim(pin, srv.cfg.wal_retention_bytes, srv.cfg.wal_retention_ms, 20000);
    check_degraded();
    check_holders();
}

/* ---------------- roles, fencing ---------------- */

void repl_master_drop_replicas(void)
{
    for (size_t i = 0; i < replicas.n; i++) {
        /* Snapshots go now, not when the client is freed: the caller may
         * be about to close the store under them. */
        struct repl_client *r = replicas.v[i]->repl;
        dump_source_close(r->src);
        r->src = NULL;
        client_close(replicas.v[i]);
    }
    /* Held writers get their replies now; they cannot be acked any more. */
    degraded = 0;
    while (holding.n) {
        client *c = holding.v[0];
        release(c, 0);
    }
}

void repl_master_promoted(void)
{
    uint64_t now = now_ms();
    last_heard_ms = now;
    /* A node that just became master (start-up, or REPLICAOF NO ONE from
     * a leader a majority of sentinels elected) gets one lease of grace:
     * the sentinels renew it only once they adopted the new config. */
    fence_grace_until_ms = now + (uint64_t)srv.cfg.fence_lease_ms;
    memset(fence_renewals, 0, sizeof fence_renewals);
    degraded = 0;
}

void repl_fence_renew(void)
{
    last_heard_ms = now_ms();
}

/* REPLCONF sentinel-renew ID with sentinel-count N: sentinel ID (one of N
 * configured) reaches this master and hears from a majority of sentinels.
 * Only the newest renewal of each id counts; an unknown id takes a free
 * or the oldest slot.
 *
 * A renewal must be recent when it arrives, not only when it was sent: a
 * network that holds packets (a queue behind a link that went down) can
 * deliver, after it heals, renewals written before a failover, and they
 * would give a replaced master a fresh lease (seen in the partition test:
 * writes acknowledged and lost after the heal).  With sentinel-time T (the
 * sentinel's monotonic ms when it wrote the command), the offset
 * (our monotonic ms - T) is about constant on a healthy connection; a
 * renewal whose offset exceeds the smallest seen on the same connection by
 * more than a quarter lease was held back on the way, and is ignored.  Clocks
 * need not agree, only tick at the same rate.  The first renewal of a new
 * connection sets the baseline (it cannot have waited behind a cut that
 * predates the connection). */
static void fence_sentinel_renew(const char *id, size_t len, long long nsentinels, client *c,
                                 int have_time, unsigned long long sent_ms)
{
    uint64_t now = now_ms();
    if (len > FENCE_ID_MAX) len = FENCE_ID_MAX;
    int slot = 0, known = 0;
    for (int i = 0; i < FENCE_MAX_SENTINELS; i++) {
        struct fence_renewal *f = &fence_renewals[i];
        if (strlen(f->id) == len && !memcmp(f->id, id, len)) {
            slot = i;
            known = 1;
            break;
        }
        if (f->ms < fence_renewals[slot].ms) slot = i; /* free slots have ms 0 */
    }
    struct fence_renewal *f = &fence_renewals[slot];
    if (have_time) {
        int64_t offset = (int64_t)(mono_us() / 1000) - (int64_t)sent_ms;
        if (!known || f->conn != c->id) {
            f->conn = c->id;
            f->min_offset = offset;
        } else if (offset < f->min_offset) {
            f->min_offset = offset;
        } else if (offset - f->min_offset > srv.cfg.fence_lease_ms / 4) {
            log_warn("lease renewal from sentinel %.*s ignored: it waited %lld ms on the way",
                     (int)len, id, (long long)(offset - f->min_offset));
            return;
        }
    }
    if (nsentinels > fence_nsentinels) fence_nsentinels = (int)nsentinels;
    if (!fence_nsentinels) fence_nsentinels = 1;
    memcpy(f->id, id, len);
    f->id[len] = '\0';
    f->ms = now;
}

/* Does this master hold its lease?
 *
 * Why a majority of sentinels, not a replica: a replica can be cut off
 * together with its master, and its acks would keep the master writable
 * while the sentinels on the other side promote another replica — two
 * writable masters, and writes acknowledged on the losing side.  A
 * failover needs the votes of a majority of the sentinels, and a
 * sentinel stops renewing once it voted in a newer epoch (or no longer
 * hears a majority of its peers).  Two majorities share a sentinel, so
 * once the leader has its votes no new majority of renewals can form
 * for this master, and the lease runs out at most fence_lease_ms after
 * the last renewal of that shared voter; the leader waits that long
 * (plus a margin for a renewal still in flight) before it promotes.
 *
 * Without sentinels (no renewal ever received) replica acks renew the
 * lease as before: a replication pair watched by nothing else. */
static int fence_lease_held(uint64_t now)
{
    uint64_t lease = (uint64_t)srv.cfg.fence_lease_ms;
    if (now < fence_grace_until_ms) return 1;
    if (!fence_nsentinels) return now - last_heard_ms <= lease;
    int fresh = 0;
    for (int i = 0; i < FENCE_MAX_SENTINELS; i++)
        if (fence_renewals[i].ms && now - fence_renewals[i].ms <= lease) fresh++;
    return fresh >= fence_nsentinels / 2 + 1;
}

/* Sentinels whose renewal is current (INFO). */
static int fence_fresh_sentinels(uint64_t now)
{
    int fresh = 0;
    for (int i = 0; i < FENCE_MAX_SENTINELS; i++)
        if (fence_renewals[i].ms && now - fence_renewals[i].ms <= (uint64_t)srv.cfg.fence_lease_ms)
            fresh++;
    return fresh;
}

/* Checks srv.fenced against the lease now; returns it. */
static int fence_check(void)
{
    if (srv.cfg.fence_lease_ms <= 0 || srv.is_replica) {
        srv.fenced = 0;
        return 0;
    }
    int held = fence_lease_held(now_ms());
    if (!held && !srv.fenced)
        log_warn("fenced: %s within %lld ms, refusing writes",
                 fence_nsentinels ? "no majority of sentinels renewed the lease" : "no replica heard",
                 srv.cfg.fence_lease_ms);
    srv.fenced = !held;
    return srv.fenced;
}

int repl_master_fenced_now(void)
{
    return fence_check();
}

int repl_master_write_allowed(client *c, const char **err)
{
    (void)c;
    /* Fencing: a master that may have been replaced refuses writes. */
    if (fence_check()) {
        *err = "READONLY Writes refused: this master lost its lease (no majority of sentinels "
               "or, without sentinels, no replica heard within fence_lease_ms)";
        return 0;
    }
    if (srv.cfg.min_replica_acks > 0 && srv.cfg.replica_ack_fallback == 0 &&
        good_replicas() < srv.cfg.min_replica_acks) {
        *err = "NOREPLICAS Not enough good replicas to write.";
        return 0;
    }
    return 1;
}

int repl_master_read_allowed(client *c, const char **err)
{
    (void)c;
    if (!srv.cfg.acked_reads || srv.is_replica) return 1;
    if (fence_check()) {
        *err = "READONLY Reads refused: this master lost its lease (no majority of sentinels "
               "or, without sentinels, no replica heard within fence_lease_ms)";
        return 0;
    }
    return 1;
}

void repl_master_read_hook(client *c)
{
    long long k = srv.cfg.min_replica_acks;
    if (!srv.cfg.acked_reads || srv.is_replica || k <= 0 || degraded || c->fd < 0 ||
        (c->flags & (CLIENT_MASTER | CLIENT_REPLICA)))
        return;
    uint64_t last = wal_position()->last_lsn;
    struct repl_client *r = repl_get(c);
    if (r->hold == HOLD_NONE && last <= kth_acked(k)) return; /* all it may show is acked */
    if (r->hold == HOLD_WAIT) return;
    if (c->wait_lsn < last) c->wait_lsn = last;
    hold_reply(c, r);
}

/* ---------------- INFO, ROLE ---------------- */

static const char *state_name(const struct repl_client *r)
{
    return r->state == RS_FULLSYNC ? "send_bulk" : "online";
}

static void replica_ip(const client *c, char *ip, size_t n)
{
    snprintf(ip, n, "%s", c->addr);
    char *colon = strrchr(ip, ':');
    if (colon) *colon = '\0';
}

unsigned long repl_master_nreplicas(void)
{
    unsigned long n = 0;
    for (size_t i = 0; i < replicas.n; i++) n += !replicas.v[i]->repl->dump;
    return n;
}

void repl_master_info(buf *o)
{
    uint64_t now = now_ms();
    uint64_t committed = wal_committed_lsn();
    int idx = 0;
    buf_printf(o, "connected_slaves:%lu\r\n", repl_master_nreplicas());
    for (size_t i = 0; i < replicas.n; i++) {
        client *c = replicas.v[i];
        struct repl_client *r = c->repl;
        if (r->dump) continue;
        char ip[64];
        replica_ip(c, ip, sizeof ip);
        uint64_t lag_ms = 0, lag_rec = committed > r->acked_lsn ? committed - r->acked_lsn : 0;
        if (lag_rec) {
            uint64_t t = record_time(r->acked_lsn + 1);
            lag_ms = t && now > t ? now - t : 0;
        }
        buf_printf(o, "slave%d:ip=%s,port=%d,state=%s,offset=%llu,lag=%llu,acked_lsn=%llu,"
                      "sent_lsn=%llu,lag_records=%llu,lag_ms=%llu\r\n",
                   idx++, ip, r->listening_port, state_name(r), (unsigned long long)r->acked_lsn,
                   (unsigned long long)((now - r->last_ack_ms) / 1000), (unsigned long long)r->acked_lsn,
                   (unsigned long long)r->sent_lsn, (unsigned long long)lag_rec,
                   (unsigned long long)lag_ms);
    }
    long long waiting = 0;
    for (size_t i = 0; i < holding.n; i++) waiting += holding.v[i]->repl->hold == HOLD_SEMI;
    buf_printf(o, "sync_full:%llu\r\nsync_partial_ok:%llu\r\nsync_partial_err:%llu\r\n"
                  "min_replica_acks:%lld\r\nsemi_sync_status:%s\r\nsemi_sync_waiting_clients:%lld\r\n"
                  "semi_sync_timeouts:%llu\r\nfenced:%d\r\nfence_lease_ms:%lld\r\n"
                  "fence_sentinels:%d/%d\r\n",
               sync_full, sync_partial_ok, sync_partial_err, srv.cfg.min_replica_acks,
               srv.cfg.min_replica_acks <= 0 ? "off" : degraded ? "degraded" : "on", waiting,
               semi_timeouts, srv.fenced, srv.cfg.fence_lease_ms, fence_fresh_sentinels(now_ms()),
               fence_nsentinels);
}

void repl_master_each_replica(repl_replica_fn *fn, void *ctx)
{
    for (size_t i = 0; i < replicas.n; i++) {
        client *x = replicas.v[i];
        struct repl_client *r = x->repl;
        if (r->dump) continue;
        char ip[64];
        replica_ip(x, ip, sizeof ip);
        fn(ctx, ip, r->listening_port, r->acked_lsn);
    }
}

static void role_entry(void *ctx, const char *ip, long long port, uint64_t acked)
{
    client *c = ctx;
    resp_add_array(&c->out, 3);
    resp_add_bulk_str(&c->out, ip);
    resp_add_bulk_ll(&c->out, port);
    resp_add_bulk_ll(&c->out, (long long)acked);
}

void repl_master_role(client *c)
{
    resp_add_array(&c->out, 3);
    resp_add_bulk_str(&c->out, "master");
    resp_add_int(&c->out, (long long)wal_committed_lsn());
    resp_add_array(&c->out, (long long)repl_master_nreplicas());
    repl_master_each_replica(role_entry, c);
}

/* ---------------- commands ---------------- */

/* 1 if the log's record `lsn` is the record (epoch, crc) a replica names. */
static int holds_record(uint64_t epoch, uint64_t lsn, uint32_t crc)
{
    const struct wal_pos *p = wal_position();
    if (lsn == p->last_lsn) return p->last_epoch == epoch && p->last_crc == crc;
    struct wal_rec rec;
    if (wal_read(lsn, &scratch) != 1) return 0;
    /* Header fields only: the replica verifies what it applies. */
    if (wal_parse(scratch.data, scratch.len, &rec) == -1) return 0;
    return rec.epoch == epoch && rec.crc == crc;
}

/* PSYNC epoch lsn crc [DUMP]   (epoch "?": no usable position)
 * Replies +CONTINUE or +FULLSYNC and turns the connection into a stream. */
void repl_psync_command(client *c)
{
    unsigned long long epoch = 0, lsn = 0, crc = 0;
    int dump = 0, know = 1;
    if (c->flags & (CLIENT_REPLICA | CLIENT_MULTI)) {
        resp_add_error(&c->out, "ERR PSYNC is not allowed on this connection");
        return;
    }
    if (c->argc > 5) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (c->argvlen[1] == 1 && c->argv[1][0] == '?') know = 0;
    else if (str2ull(ARG(c, 1), &epoch) < 0) know = 0;
    if (know && (str2ull(ARG(c, 2), &lsn) < 0 || c->argc < 4 || str2ull(ARG(c, 3), &crc) < 0 ||
                 crc > UINT32_MAX))
        know = 0;
    for (int i = 3; i < c->argc; i++)
        if (ARG_IS(c, i, "dump")) dump = 1;
    if (srv.is_replica && !dump) {
        /* A replica's own log is complete, but it would have to drop its
         * sub-replicas at every full sync of its own: not supported. */
        resp_add_error(&c->out, "ERR PSYNC refused: this node is a replica (chained replication is not supported)");
        return;
    }

    struct repl_client *r = repl_get(c);
    uint64_t committed = wal_committed_lsn();
    const struct wal_pos *p = wal_position();
    int cont = !dump && know && lsn >= 1 && lsn <= committed &&
               (lsn == committed || p->first_lsn <= lsn + 1) &&
               holds_record(epoch, lsn, (uint32_t)crc);
    r->dump = dump;
    r->last_ack_ms = r->last_ping_ms = now_ms();
    r->wev = event_new(srv.base, c->fd, EV_WRITE | EV_PERSIST, feed_cb, c);
    c->flags |= CLIENT_REPLICA;
    clist_add(&replicas, c);
    /* A replica is attached: from now on the log keeps every record,
     * those after the snapshot or the replica's position and those of the
     * batch being built, which the snapshot does not hold. */
    keep_log(r->last_ack_ms);
    if (cont) {
        r->state = RS_STREAM;
        r->sent_lsn = r->acked_lsn = lsn;
        sync_partial_ok++;
        buf_printf(&c->out, "+CONTINUE %llu %llu\r\n", (unsigned long long)p->epoch, lsn);
        log_info("replica %s continues from lsn %llu (epoch %llu)", c->addr, lsn, epoch);
    } else {
        r->src = dump_source_open(srv.st);
        const struct wal_pos *sp = dump_source_pos(r->src);
        r->state = RS_FULLSYNC;
        r->sync_lsn = sp->last_lsn;
        r->sync_start_us = mono_us();
        if (!dump) {
            sync_full++;
            if (know) sync_partial_err++;
        }
        buf_printf(&c->out, "+FULLSYNC %llu %llu %llu %u\r\n", (unsigned long long)sp->epoch,
                   (unsigned long long)sp->last_epoch, (unsigned long long)sp->last_lsn,
                   (unsigned)sp->last_crc);
        if (dump)
            log_info("dump %s: sending a snapshot at lsn %llu", c->addr, (unsigned long long)sp->last_lsn);
        else
            log_info("replica %s at (%s, %llu): full sync from a snapshot at lsn %llu", c->addr,
                     know ? "known epoch" : "no position", lsn, (unsigned long long)sp->last_lsn);
    }
    feed(c);
}

/* REPLCONF listening-port N | ACK lsn | capa ... | GETACK | DEBUG-CORRUPT lsn |
 *          SENTINEL-RENEW id | PAUSE-WRITES ms */
void repl_replconf_command(client *c)
{
    if (c->argc >= 3 && ARG_IS(c, 1, "ack")) {
        unsigned long long lsn;
        struct repl_client *r = c->repl;
        if (!r || r->state != RS_STREAM || str2ull(ARG(c, 2), &lsn) < 0) return; /* no reply, as Redis */
        if (lsn > r->acked_lsn) r->acked_lsn = lsn > r->sent_lsn ? r->sent_lsn : lsn;
        r->last_ack_ms = now_ms();
        repl_fence_renew();
        check_degraded();
        check_holders();
        return;
    }
    if (c->argc % 2 == 0) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    int renew_arg = 0, have_time = 0;
    long long renew_count = 0;
    unsigned long long renew_time = 0;
    for (int i = 1; i < c->argc; i += 2) {
        if (ARG_IS(c, i, "listening-port")) {
            long long port;
            if (str2ll(ARG(c, i + 1), &port) < 0 || port < 0 || port > 65535) {
                resp_add_error(&c->out, resp_err_notint);
                return;
            }
            repl_get(c)->listening_port = (int)port;
        } else if (ARG_IS(c, i, "debug-corrupt")) {
            /* Test hook: damage a stored record so tests can check that
             * replicas refuse it.  Only with STRATA_TEST_HOOKS=1. */
            const char *hooks = getenv("STRATA_TEST_HOOKS");
            unsigned long long lsn;
            if (!hooks || strcmp(hooks, "1") != 0) {
                resp_add_error(&c->out, "ERR test hooks are disabled (STRATA_TEST_HOOKS=1)");
                return;
            }
            if (str2ull(ARG(c, i + 1), &lsn) < 0 || wal_debug_corrupt(lsn) < 0) {
                resp_add_error(&c->out, "ERR no such record in the log");
                return;
            }
            log_warn("test hook: record %llu of the log corrupted on purpose", lsn);
        } else if (ARG_IS(c, i, "sentinel-renew")) {
            /* strata-sentinel renews the fencing lease only while it hears
             * from a majority of the sentinels (the value is its id);
             * applied after the loop, once sentinel-count is known. */
            renew_arg = i + 1;
        } else if (ARG_IS(c, i, "sentinel-time")) {
            if (str2ull(ARG(c, i + 1), &renew_time) < 0) {
                resp_add_error(&c->out, resp_err_notint);
                return;
            }
            have_time = 1;
        } else if (ARG_IS(c, i, "sentinel-count")) {
            if (str2ll(ARG(c, i + 1), &renew_count) < 0 || renew_count < 1 ||
                renew_count > FENCE_MAX_SENTINELS) {
                resp_add_error(&c->out, resp_err_notint);
                return;
            }
        } else if (ARG_IS(c, i, "pause-writes")) {
            /* Manual failover: hold writes for N ms (0 resumes), as CLIENT
             * PAUSE WRITE does — clients wait instead of getting errors,
             * and expiry and GC write nothing meanwhile (pause.c). */
            long long ms;
            if (str2ll(ARG(c, i + 1), &ms) < 0 || ms < 0 || ms > 3600000) {
                resp_add_error(&c->out, resp_err_notint);
                return;
            }
            if (ms) pause_start(PAUSE_WRITE, now_ms() + (uint64_t)ms);
            else pause_end();
            log_info("writes %s by %s", ms ? "paused" : "resumed", c->addr);
        } else if (ARG_IS(c, i, "capa") || ARG_IS(c, i, "ip-address") || ARG_IS(c, i, "getack")) {
            /* accepted and ignored */
        } else {
            resp_add_errorf(&c->out, "ERR Unrecognized REPLCONF option: %.*s", (int)c->argvlen[i],
                            c->argv[i]);
            return;
        }
    }
    if (renew_arg) fence_sentinel_renew(ARG(c, renew_arg), renew_count, c, have_time, renew_time);
    resp_add_ok(&c->out);
}

void repl_wait_command(client *c)
{
    long long num, timeout;
    if (srv.is_replica) {
        resp_add_error(&c->out, "ERR WAIT cannot be used with replica instances. Please also note that "
                                "since Redis 4.0 if a replica is configured to be writable (which is not "
                                "the default) writes to replicas are just local and are not propagated.");
        return;
    }
    if (arg_ll(c, 1, &num) < 0) return;
    if (str2ll(ARG(c, 2), &timeout) < 0) {
        resp_add_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        resp_add_error(&c->out, "ERR timeout is negative");
        return;
    }
    long long n = count_acked(c->wait_lsn);
    if (n >= num || (c->flags & (CLIENT_IN_EXEC | CLIENT_MULTI)) || c->fd < 0) {
        resp_add_int(&c->out, n);
        return;
    }
    struct repl_client *r = repl_get(c);
    if (r->hold == HOLD_NONE) clist_add(&holding, c);
    r->hold = HOLD_WAIT;
    r->nends = 0;
    r->wait_numreplicas = num;
    r->deadline_ms = timeout ? now_ms() + (uint64_t)timeout : 0;
    c->flags |= CLIENT_WAIT_ACK;
    hold_timer_start();
    for (size_t i = 0; i < replicas.n; i++)
        if (replicas.v[i]->repl->state == RS_STREAM && !replicas.v[i]->repl->dump) ask_ack(replicas.v[i]);
}

void repl_master_init(void)
{
    hold_timer = event_new(srv.base, -1, EV_PERSIST, hold_timer_cb, NULL);
    resume_ev = event_new(srv.base, -1, 0, resume_cb, NULL);
    last_heard_ms = now_ms();
    /* Judged on the log as found, before any write of this run. */
    const struct wal_pos *p = wal_position();
    if (p->first_lsn <= p->last_lsn) replica_seen_ms = last_heard_ms;
}
