/* migrate: slot migration, the export side (the source drives the job),
 * the STRATA MIGRATE / SLOTSINFO commands, INFO and metrics, parking in
 * the fence and recovery at start.  See migrate.h for the protocol and
 * migrate_codec.h for the formats; the import side is import.c, the
 * shared job state and the trim/drop migrate_common.c.
 *
 * Everything runs on the node's event loop: the export side is a step
 * event (one bounded chunk per turn) and a hiredis async connection; the
 * import side is a handful of STRATA IMPORT commands; trims and drops are
 * a timer deleting a bounded batch of keys per turn. */
#include "migrate.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "log.h"
#include "migrate_internal.h"
#include "resp.h"
#include "slot.h"
#include "slots.h"
#include "store.h"
#include "topology.h"
#include "util.h"
#include "wal.h"

static struct event *step_ev, *resume_ev, *resolve_ev;
static int recovered;
static int seen_replica;            /* srv.is_replica when recover() last ran */

/* Parked clients (fence). */
struct hold {
    client *c;
    int argc;
    char **argv;
    size_t *argvlen;
    char *argbuf;
};
static struct hold *holds;
static size_t nholds, capholds;

static void export_step_soon(void);
static void recover(void);
static void export_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------- parking (fence) ---------------- */

static void park(client *c)
{
    if (nholds == capholds) {
        capholds = capholds ? capholds * 2 : 16;
        holds = xrealloc(holds, capholds * sizeof *holds);
    }
    struct hold *h = &holds[nholds++];
    h->c = c;
    h->argc = c->argc;
    client_copy_argv(c, &h->argv, &h->argvlen, &h->argbuf);
    c->flags |= CLIENT_PAUSED;
}

static void hold_free(struct hold *h)
{
    free(h->argv);
    free(h->argvlen);
    free(h->argbuf);
}

/* Dispatch the parked commands again, oldest first (a client parked again
 * joins a new list). */
static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    struct hold *list = holds;
    size_t n = nholds;
    holds = NULL;
    nholds = capholds = 0;
    for (size_t i = 0; i < n; i++) {
        client *c = list[i].c;
        if (c) {
            c->flags &= ~CLIENT_PAUSED;
            if (!(c->flags & CLIENT_CLOSE_ASAP)) {
                c->argc = list[i].argc;
                c->argv = list[i].argv;
                c->argvlen = list[i].argvlen;
                server_dispatch(c);
                c->argc = 0;
                c->argv = NULL;
                c->argvlen = NULL;
                if (c->qbuf.len && !(c->flags & CLIENT_PAUSED)) client_process_input(c);
            }
        }
        hold_free(&list[i]);
    }
    free(list);
}

static void unpark_all(void)
{
    if (nholds) event_active(resume_ev, EV_TIMEOUT, 0);
}

static void free_hook(client *c)
{
    for (size_t i = 0; i < nholds; i++)
        if (holds[i].c == c) holds[i].c = NULL;
    mig_import_link_closed(c);
}

/* Dispatch check, after the slot table's (so a command here is on owned
 * slots only). */
static int migrate_dispatch(client *c)
{
    if (!recovered || seen_replica != srv.is_replica) recover();
    if (c->flags & (CLIENT_MASTER | CLIENT_REPLICA)) return 0;
    if (!(mig_export_running() || mig_ex.state == MS_RESOLVE) || !c->cmd) return 0;
    if (mig_is_fenced() && c->cmd->id == CMD_EXEC && (c->flags & CLIENT_MULTI)) {
        park(c);
        return 1;
    }
    int stack[16], *pos = stack;
    int n = cmd_get_keys(c->cmd, c->argc, c->argv, c->argvlen, pos, 16);
    if (n <= 0) return 0;
    if (n > 16) {
        pos = xmalloc((size_t)n * sizeof *pos);
        cmd_get_keys(c->cmd, c->argc, c->argv, c->argvlen, pos, n);
    }
    int in = 0, out = 0;
    for (int i = 0; i < n; i++) {
        if (mig_ranges_has_key(&mig_ex.r, c->argv[pos[i]], c->argvlen[pos[i]])) in = 1;
        else out = 1;
    }
    if (pos != stack) free(pos);
    if (!in) return 0;
    if (out) {
        resp_add_error(&c->out, "TRYAGAIN Multiple keys request during rehashing of slot");
        if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
        return 1;
    }
    if (mig_is_fenced()) {
        park(c);
        return 1;
    }
    return 0;
}

int migrate_key_frozen(const char *key, size_t len)
{
    if (mig_import_running() && mig_ranges_has_key(&mig_im.r, key, len)) return 1;
    if (mig_is_fenced() && mig_ranges_has_key(&mig_ex.r, key, len)) return 1;
    return 0;
}

int migrate_needs_log(void)
{
    return mig_export_running();
}

uint64_t migrate_pin_lsn(void)
{
    if (!mig_export_running()) return UINT64_MAX;
    if (!mig_ex.snap_lsn) return 1; /* snapshot not taken yet: keep everything */
    return mig_ex.sent_lsn + 1;
}

/* ---------------- export: connection ---------------- */

#define GEN_ARG(j) ((void *)(uintptr_t)(j)->gen)
#define GEN_OK(priv) (mig_ex.used && (uintptr_t)(priv) == (uintptr_t)mig_ex.gen)

static void export_release_snapshot(void)
{
    if (mig_ex.sit) store_iter_free(mig_ex.sit);
    if (mig_ex.mit) store_iter_free(mig_ex.mit);
    mig_ex.sit = mig_ex.mit = NULL;
    if (mig_ex.snap) store_snapshot_release(srv.st, mig_ex.snap);
    mig_ex.snap = NULL;
}

/* Drop the link; callbacks still pending on it are ignored (gen). */
static void export_close_link(void)
{
    if (mig_ex.ac) {
        mig_ex.ac->data = NULL;
        redisAsyncDisconnect(mig_ex.ac);
        mig_ex.ac = NULL;
    }
    mig_ex.gen++;
    mig_ex.inflight = 0;
    mig_ex.send_i = mig_ex.ack_i = 0;
    mig_ex.lag_bytes = 0;
}

static void export_end(int state)
{
    export_release_snapshot();
    export_close_link();
    mig_ex.state = state;
    mig_ex.end_ms = now_ms();
    BG_WRITE({ store_del(srv.st, MIG_EXPORT_KEY, sizeof MIG_EXPORT_KEY - 1); });
}

static void resolve_start(void);

static void export_fail(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mig_set_error(&mig_ex, msg);
    if (mig_is_fenced()) {
        /* Never unfence without T's verdict. */
        log_warn("migrate: export %s: %s; fenced: asking %s for its verdict", mig_ex.id, msg, mig_ex.peer);
        export_close_link();
        mig_ex.state = MS_RESOLVE;
        resolve_start();
        return;
    }
    log_warn("migrate: export %s failed in %s: %s", mig_ex.id, mig_state_names[mig_ex.state], msg);
    export_end(MS_FAILED);
}

static void send_cmd(redisCallbackFn *fn, int argc, const char **argv, const size_t *argvlen)
{
    if (!mig_ex.ac) return;
    redisAsyncCommandArgv(mig_ex.ac, fn, GEN_ARG(&mig_ex), argc, argv, argvlen);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    if (!ac->data || mig_ex.ac != ac) return;
    mig_ex.ac = NULL;
    if (mig_export_running())
        export_fail("link to %s:%d closed: %s", mig_ex.host, mig_ex.port, ac->errstr[0] ? ac->errstr : "closed");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK && ac->data && mig_ex.ac == ac) {
        mig_ex.ac = NULL; /* hiredis frees it */
        if (mig_export_running()) export_fail("cannot connect to %s:%d: %s", mig_ex.host, mig_ex.port, ac->errstr);
        else if (mig_ex.state == MS_RESOLVE) {
            mig_ex.gen++;
            struct timeval tv = { 0, RESOLVE_RETRY_MS * 1000 };
            evtimer_add(resolve_ev, &tv);
        }
    }
}

static int reply_error(redisReply *r, char *msg, size_t len)
{
    if (!r) {
        snprintf(msg, len, "no reply (link closed)");
        return 1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(msg, len, "%s", r->str);
        return 1;
    }
    return 0;
}

/* Plain TCP to the target's client port, even with tls_replication:
 * this link is hiredis's async client, and Debian 12's hiredis (0.14) has
 * no TLS nor a way to run over a connection of ours (README "TLS"). */
static int export_connect(void)
{
    mig_ex.ac = redisAsyncConnect(mig_ex.host, mig_ex.port);
    if (!mig_ex.ac || mig_ex.ac->err) {
        mig_set_error(&mig_ex, mig_ex.ac ? mig_ex.ac->errstr : "out of memory");
        if (mig_ex.ac) redisAsyncFree(mig_ex.ac);
        mig_ex.ac = NULL;
        return -1;
    }
    mig_ex.gen++;
    mig_ex.ac->data = &mig_ex;
    redisLibeventAttach(mig_ex.ac, srv.base);
    redisAsyncSetConnectCallback(mig_ex.ac, on_connect);
    redisAsyncSetDisconnectCallback(mig_ex.ac, on_disconnect);
    /* The AUTH the coordinator gave wins; else the node-to-node link is
     * the same kind as replication (a node of the cluster talking to
     * another), so it uses the same user: masteruser/masterauth, falling
     * back to requirepass (node_internal_auth).  That user then needs
     * +strata|import on the target, besides what replication needs. */
    const char *a[3];
    size_t l[3];
    int n = 0;
    if (mig_ex.auth) {
        a[0] = "AUTH";
        a[1] = mig_ex.auth;
        n = 2;
    } else {
        n = node_internal_auth(a);
    }
    for (int i = 0; i < n; i++) l[i] = strlen(a[i]);
    if (n) send_cmd(NULL, n, a, l); /* a wrong password shows in the next reply (NOAUTH) */
    return 0;
}

/* ---------------- export: copy and catch-up ---------------- */

static void on_apply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    if (!GEN_OK(priv)) return;
    char msg[256];
    mig_ex.inflight--;
    size_t b = mig_ex.inflight_bytes[mig_ex.ack_i++ % MAX_INFLIGHT];
    mig_ex.lag_bytes = mig_ex.lag_bytes >= b ? mig_ex.lag_bytes - b : 0;
    if (reply_error(reply, msg, sizeof msg)) {
        export_fail("target refused a chunk: %s", msg);
        return;
    }
    export_step_soon();
}

static void send_apply(buf *ops)
{
    const char *av[5] = { "STRATA", "IMPORT", "APPLY", mig_ex.id, ops->data };
    size_t l[5] = { 6, 6, 5, strlen(mig_ex.id), ops->len };
    mig_ex.inflight++;
    mig_ex.inflight_bytes[mig_ex.send_i++ % MAX_INFLIGHT] = ops->len;
    mig_ex.lag_bytes += ops->len;
    if (mig_ex.rate_mb > 0) mig_ex.tokens -= (double)ops->len;
    send_cmd(on_apply, 5, av, l);
}

static int have_tokens(void)
{
    if (mig_ex.rate_mb <= 0) return 1;
    uint64_t now = mono_us();
    double rate = mig_ex.rate_mb * 1048576.0;
    mig_ex.tokens += rate * (double)(now - mig_ex.tokens_us) / 1e6;
    mig_ex.tokens_us = now;
    if (mig_ex.tokens > rate / 10 + CHUNK_BYTES) mig_ex.tokens = rate / 10 + CHUNK_BYTES;
    return mig_ex.tokens > 0;
}

/* One chunk of the snapshot walk into ops: 'M' records of R, each
 * collection's 'D' then 'Z' subkeys (one seek each).  Returns entries. */
static int copy_chunk(buf *ops)
{
    int n = 0;
    while (n < CHUNK_ENTRIES && ops->len < CHUNK_BYTES) {
        size_t kl, vl;
        if (mig_ex.sub_tag) {
            if (store_iter_valid(mig_ex.sit)) {
                const char *k = store_iter_key(mig_ex.sit, &kl);
                if (kl >= 9 && !memcmp(k, mig_ex.sub_prefix, 9)) {
                    const char *v = store_iter_val(mig_ex.sit, &vl);
                    mig_ops_put(ops, k, kl, v, vl);
                    mig_ex.bytes_copied += kl + vl;
                    n++;
                    store_iter_next(mig_ex.sit);
                    continue;
                }
            }
            if (mig_ex.sub_tag == 'D') {
                mig_ex.sub_tag = 'Z';
                mig_ex.sub_prefix[0] = 'Z';
                store_iter_seek(mig_ex.sit, (const char *)mig_ex.sub_prefix, 9);
            } else mig_ex.sub_tag = 0;
            continue;
        }
        if (!store_iter_valid(mig_ex.mit)) {
            mig_ex.walk_done = 1;
            break;
        }
        const char *k = store_iter_key(mig_ex.mit, &kl);
        if (kl < 1 || k[0] != 'M') {
            mig_ex.walk_done = 1;
            break;
        }
        if (mig_ranges_has_key(&mig_ex.r, k + 1, kl - 1)) {
            const char *v = store_iter_val(mig_ex.mit, &vl);
            mig_ops_put(ops, k, kl, v, vl);
            mig_ex.keys_copied++;
            mig_ex.bytes_copied += kl + vl;
            n++;
            uint64_t ver = mig_meta_version(v, vl);
            if (ver) {
                mig_vmap_put(&mig_ex.vset, ver, 1);
                mig_ex.sub_tag = 'D';
                mig_ex.sub_prefix[0] = 'D';
                put_u64be(mig_ex.sub_prefix + 1, ver);
                store_iter_seek(mig_ex.sit, (const char *)mig_ex.sub_prefix, 9);
            }
        }
        store_iter_next(mig_ex.mit);
    }
    return n;
}

/* Filtered WAL records from sent_lsn + 1 up to `upto` into ops.
 * Returns records read, or -1 (the job failed). */
static int tail_chunk(buf *ops, uint64_t upto)
{
    static buf rec;
    int n = 0;
    while (mig_ex.sent_lsn < upto && n < CHUNK_ENTRIES && ops->len < CHUNK_BYTES) {
        int got = wal_read(mig_ex.sent_lsn + 1, &rec);
        if (got != 1) {
            export_fail("the WAL no longer holds lsn %llu (retention too small for this job?)",
                        (unsigned long long)mig_ex.sent_lsn + 1);
            return -1;
        }
        struct wal_rec wr;
        if (wal_parse(rec.data, rec.len, &wr) < 0 ||
            mig_filter_ops(wr.ops, wr.oplen, &mig_ex.r, &mig_ex.vset, ops) < 0) {
            export_fail("malformed WAL record %llu", (unsigned long long)mig_ex.sent_lsn + 1);
            return -1;
        }
        mig_ex.sent_lsn++;
        n++;
    }
    if (rec.cap > (4u << 20)) buf_shrink(&rec, 0);
    return n;
}

static void on_commit(redisAsyncContext *ac, void *reply, void *priv);

static void start_fence(void)
{
    mig_ex.state = MS_FENCE;
    mig_ex.fence_start_us = mono_us();
    /* Every record so far, committed or in this turn's batch, is before
     * the fence: commands on R from now on are parked. */
    mig_ex.fence_lsn = wal_position()->last_lsn;
    BG_WRITE({ mig_state_store(MIG_EXPORT_KEY, 'F', &mig_ex); });
    log_info("migrate: export %s: fence at lsn %llu (lag %llu records)", mig_ex.id,
             (unsigned long long)mig_ex.fence_lsn, mig_ex.lag_records);
}

static void send_commit(void)
{
    char ep[24];
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)cluster_max_epoch());
    const char *a[5] = { "STRATA", "IMPORT", "COMMIT", mig_ex.id, ep };
    size_t l[5] = { 6, 6, 6, strlen(mig_ex.id), strlen(ep) };
    mig_ex.state = MS_COMMIT;
    send_cmd(on_commit, 5, a, l);
}

static void take_snapshot(void)
{
    mig_ex.snap = store_snapshot(srv.st);
    mig_ex.mit = store_iter_new_snapshot(srv.st, mig_ex.snap);
    mig_ex.sit = store_iter_new_snapshot(srv.st, mig_ex.snap);
    /* The lsn the snapshot holds, read from the snapshot itself (as a
     * full sync does): the tail starts right after it. */
    struct wal_pos wp;
    mig_ex.snap_lsn = wal_committed_lsn();
    store_iter_seek(mig_ex.mit, WAL_POS_KEY, sizeof WAL_POS_KEY - 1);
    if (store_iter_valid(mig_ex.mit)) {
        size_t kl, vl;
        const char *k = store_iter_key(mig_ex.mit, &kl);
        const char *v = store_iter_val(mig_ex.mit, &vl);
        if (kl == sizeof WAL_POS_KEY - 1 && !memcmp(k, WAL_POS_KEY, kl) && wal_pos_decode(v, vl, &wp) == 0)
            mig_ex.snap_lsn = wp.last_lsn;
    }
    if (!mig_ex.snap_lsn) mig_ex.snap_lsn = 0;
    mig_ex.sent_lsn = mig_ex.snap_lsn;
    store_iter_seek(mig_ex.mit, "M", 1);
}

static void step_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!mig_export_running() || mig_ex.paused || !mig_ex.ac || mig_ex.state == MS_PREPARE || mig_ex.state == MS_COMMIT)
        return;
    if (srv.is_replica) {
        export_fail("this node became a replica");
        return;
    }
    uint64_t t0 = mono_us();
    buf ops;
    buf_init(&ops);
    int waiting_tokens = 0, idle = 0;
    while (mig_ex.inflight < MAX_INFLIGHT && mono_us() - t0 < STEP_BUDGET_US && mig_export_running()) {
        if (!have_tokens()) {
            waiting_tokens = 1;
            break;
        }
        buf_clear(&ops);
        if (mig_ex.state == MS_COPY) {
            if (!mig_ex.snap) take_snapshot();
            copy_chunk(&ops);
            if (ops.len) send_apply(&ops);
            if (mig_ex.walk_done) {
                mig_ex.keys_total = mig_ex.keys_copied;
                if (mig_ex.bytes_copied > mig_ex.bytes_total) mig_ex.bytes_total = mig_ex.bytes_copied;
                export_release_snapshot();
                mig_ex.state = MS_CATCHUP;
                log_info("migrate: export %s: copied %llu keys, %llu bytes; catching up from lsn %llu",
                         mig_ex.id, mig_ex.keys_copied, mig_ex.bytes_copied, (unsigned long long)mig_ex.snap_lsn);
            }
            continue;
        }
        uint64_t committed = wal_committed_lsn();
        uint64_t upto = committed;
        if (mig_ex.state == MS_FENCE && mig_ex.fence_lsn < committed) upto = mig_ex.fence_lsn;
        if (mig_ex.sent_lsn >= upto) {
            if (mig_ex.state == MS_FENCE && mig_ex.sent_lsn >= mig_ex.fence_lsn && mig_ex.inflight == 0 &&
                mono_us() - mig_ex.fence_start_us >= mig_ex.debug_fence_ms * 1000)
                send_commit();
            idle = 1;
            break;
        }
        if (tail_chunk(&ops, upto) < 0) break;
        if (ops.len) {
            mig_ex.bytes_copied += ops.len;
            send_apply(&ops);
        }
    }
    buf_free(&ops);
    if (mig_ex.used && (mig_ex.state == MS_CATCHUP || mig_ex.state == MS_FENCE)) {
        uint64_t committed = wal_committed_lsn();
        mig_ex.lag_records = committed > mig_ex.sent_lsn ? committed - mig_ex.sent_lsn : 0;
        if (mig_ex.state == MS_CATCHUP && mig_ex.lag_records < FENCE_LAG_RECORDS && mig_ex.inflight <= 1)
            start_fence();
    }
    if (mig_export_running() && mig_ex.state != MS_COMMIT) {
        /* Go on next turn; with nothing to send, an ack or the next
         * commit brings new work (a short timer covers the commit). */
        struct timeval tv = { 0, waiting_tokens ? 1000 : idle ? 300 : (mig_ex.inflight < MAX_INFLIGHT ? 0 : 2000) };
        evtimer_add(step_ev, &tv);
    }
}

static void export_step_soon(void)
{
    struct timeval tv = { 0, 0 };
    evtimer_add(step_ev, &tv);
}

/* ---------------- export: commit, verdict ---------------- */

static void switch_to_target(uint64_t epoch, long long moved_keys)
{
    BG_WRITE({
        if (cluster_table_reassign(mig_ex.r.bits, mig_ex.peer, epoch, moved_keys) < 0)
            log_error("migrate: export %s: cannot rewrite the slot table", mig_ex.id);
        mig_state_store(MIG_EXPORT_KEY, 'T', &mig_ex);
    });
    /* Transactions opened while R was ours would run on it at EXEC. */
    for (client *c = srv.clients; c; c = c->next)
        if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    if (mig_ex.fence_start_us) mig_ex.fence_ms = (mono_us() - mig_ex.fence_start_us) / 1000;
    mig_ex.moved_keys = moved_keys;
    mig_ex.state = MS_TRIM;
    mig_ex.lag_records = 0;
    export_release_snapshot();
    export_close_link();
    unpark_all();
    cluster_redirect_blocked();
    log_info("migrate: export %s committed: slots now owned by %s at epoch %llu (%lld keys); "
             "fence %llu ms; trimming",
             mig_ex.id, mig_ex.peer, (unsigned long long)epoch, moved_keys, (unsigned long long)mig_ex.fence_ms);
    mig_trim_start(0, &mig_ex.r);
}

static void unfence_aborted(const char *why)
{
    log_warn("migrate: export %s aborted (%s): the slots stay here", mig_ex.id, why);
    mig_set_error(&mig_ex, why);
    export_end(MS_ABORTED);
    unpark_all();
}

static void on_commit(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    if (!GEN_OK(priv)) return;
    redisReply *r = reply;
    char msg[256];
    if (reply_error(r, msg, sizeof msg)) {
        export_fail("commit: %s", msg);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        export_fail("commit: unexpected reply");
        return;
    }
    switch_to_target((uint64_t)r->element[0]->integer, r->element[1]->integer);
}

/* Keys stored in r: a full walk of the 'M' keys.  Only after a restart in
 * the fence, when T's count is no longer known. */
static int range_key(const char *key, size_t len, const void *r)
{
    return mig_ranges_has_key(r, key, len);
}

static long long count_range_keys(const struct mig_ranges *r)
{
    return db_count_keys_where(range_key, r);
}

static void resolve_later(void)
{
    export_close_link();
    struct timeval tv = { 0, RESOLVE_RETRY_MS * 1000 };
    evtimer_add(resolve_ev, &tv);
}

static void on_verdict(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    if (!GEN_OK(priv) || mig_ex.state != MS_RESOLVE) return;
    redisReply *r = reply;
    char msg[256];
    if (reply_error(r, msg, sizeof msg) || r->type != REDIS_REPLY_STATUS) {
        mig_set_error(&mig_ex, r && r->type == REDIS_REPLY_ERROR ? msg : "no verdict from the target yet");
        resolve_later();
        return;
    }
    if (!strcmp(r->str, "committed")) {
        log_info("migrate: export %s: the target says it committed", mig_ex.id);
        switch_to_target(cluster_max_epoch() + 1, count_range_keys(&mig_ex.r));
    } else if (!strcmp(r->str, "aborted")) {
        unfence_aborted("the target aborted the import");
    } else {
        /* Still importing on T (our old link not yet seen closed there):
         * tell it to abort, then ask again. */
        const char *a[4] = { "STRATA", "IMPORT", "ABORT", mig_ex.id };
        size_t l[4] = { 6, 6, 5, strlen(mig_ex.id) };
        send_cmd(NULL, 4, a, l);
        resolve_later();
    }
}

static void resolve_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!mig_ex.used || mig_ex.state != MS_RESOLVE) return;
    if (!mig_ex.ac && export_connect() < 0) {
        struct timeval tv = { 0, RESOLVE_RETRY_MS * 1000 };
        evtimer_add(resolve_ev, &tv);
        return;
    }
    buf rs;
    buf_init(&rs);
    mig_ranges_format(&mig_ex.r, &rs);
    const char *a[5] = { "STRATA", "IMPORT", "VERDICT", mig_ex.id, rs.data };
    size_t l[5] = { 6, 6, 7, strlen(mig_ex.id), rs.len };
    send_cmd(on_verdict, 5, a, l);
    buf_free(&rs);
}

static void resolve_start(void)
{
    struct timeval tv = { 0, 1000 };
    evtimer_add(resolve_ev, &tv);
}

static void on_prepare(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    if (!GEN_OK(priv) || mig_ex.state != MS_PREPARE) return;
    char msg[256];
    if (reply_error(reply, msg, sizeof msg)) {
        export_fail("prepare: %s", msg);
        return;
    }
    mig_ex.state = MS_COPY;
    mig_ex.tokens_us = mono_us();
    log_info("migrate: export %s: %s prepared; copying", mig_ex.id, mig_ex.peer);
    export_step_soon();
}

/* ---------------- STRATA MIGRATE ---------------- */

static const char *job_state(const struct job *j)
{
    if (j->paused && (j->state == MS_COPY || j->state == MS_CATCHUP || j->state == MS_PREPARE))
        return "paused";
    return mig_state_names[j->state];
}

static void add_job(client *c, const struct job *j)
{
    buf rs;
    buf_init(&rs);
    mig_ranges_format(&j->r, &rs);
    uint64_t end = j->end_ms ? j->end_ms : now_ms();
    resp_add_map(&c->out, c->resp, 16);
    resp_add_bulk_str(&c->out, "job");
    resp_add_bulk_str(&c->out, j->id);
    resp_add_bulk_str(&c->out, "role");
    resp_add_bulk_str(&c->out, j->role ? "import" : "export");
    resp_add_bulk_str(&c->out, "state");
    resp_add_bulk_str(&c->out, job_state(j));
    resp_add_bulk_str(&c->out, "ranges");
    resp_add_bulk(&c->out, rs.data ? rs.data : "", rs.len);
    resp_add_bulk_str(&c->out, "peer");
    resp_add_bulk_str(&c->out, j->peer);
    resp_add_bulk_str(&c->out, "peer_group"); /* the same: the brief's words */
    resp_add_bulk_str(&c->out, j->peer);
    struct {
        const char *name;
        unsigned long long v;
    } f[] = {
        { "keys_copied", j->keys_copied },
        { "bytes_copied", j->bytes_copied },
        { "keys_total", j->keys_total },
        { "bytes_total", j->bytes_total },
        { "lag_bytes", j->lag_bytes },
        { "lag_records", j->lag_records },
        { "rate_mb", (unsigned long long)j->rate_mb },
        { "fence_ms", j->fence_ms },
        { "elapsed_ms", end - j->start_ms },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        resp_add_bulk_str(&c->out, f[i].name);
        resp_add_int(&c->out, (long long)f[i].v);
    }
    resp_add_bulk_str(&c->out, "last_error");
    resp_add_bulk_str(&c->out, j->last_error);
    buf_free(&rs);
}

/* Rough sizes: the whole keyspace shared out by the fraction of slots
 * (keys hash uniformly unless hash tags gather them); exact once copied. */
static void estimate_totals(struct job *j)
{
    unsigned long long keys = db_key_count();
    uint64_t bytes = store_approx_size(srv.st, "D", 1, "[", 1);
    j->keys_total = keys * j->r.count / MIG_SLOTS;
    j->bytes_total = bytes * j->r.count / MIG_SLOTS;
}

static int find_job(client *c, int i)
{
    if (mig_ex.used && c->argvlen[i] == strlen(mig_ex.id) && !memcmp(c->argv[i], mig_ex.id, c->argvlen[i])) return 1;
    resp_add_errorf(&c->out, "ERR no such export job '%.*s' on this node",
                    (int)(c->argvlen[i] > 64 ? 64 : c->argvlen[i]), c->argv[i]);
    return 0;
}

static int parse_rate(client *c, int i, double *out)
{
    double d;
    if (str2d(c->argv[i], c->argvlen[i], &d) < 0 || d < 0 || d > 1e6) {
        resp_add_error(&c->out, "ERR invalid rate: MB per second, a number >= 0 (0: no limit)");
        return -1;
    }
    *out = d;
    return 0;
}

static void migrate_start(client *c)
{
    char err[200];
    long long port, fence_hold = 0;
    double rate = 0;
    const char *auth = NULL;
    size_t authlen = 0;
    if (c->argc < 8) {
        resp_add_arity_error(&c->out, "strata|migrate");
        return;
    }
    if (mig_refuse_unless_master(c)) return;
    for (int i = 8; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            resp_add_error(&c->out, "ERR syntax error");
            return;
        }
        if (ARG_IS(c, i, "rate")) {
            if (parse_rate(c, i + 1, &rate) < 0) return;
        } else if (ARG_IS(c, i, "auth")) {
            auth = c->argv[i + 1];
            authlen = c->argvlen[i + 1];
        } else if (ARG_IS(c, i, "debug-fence-ms")) {
            /* For tests (as Redis's rdb-key-save-delay): hold the fence so
             * a test can kill a node inside it. */
            if (str2ll(c->argv[i + 1], c->argvlen[i + 1], &fence_hold) < 0 || fence_hold < 0 ||
                fence_hold > 600000) {
                resp_add_error(&c->out, "ERR invalid DEBUG-FENCE-MS");
                return;
            }
        } else {
            resp_add_error(&c->out, "ERR syntax error");
            return;
        }
    }
    if (mig_export_running() || mig_ex.state == MS_RESOLVE || mig_trim.on) {
        resp_add_errorf(&c->out, "BUSY export job %s is %s on this node: one job at a time", mig_ex.id,
                        mig_trim.on ? "still trimming" : mig_state_names[mig_ex.state]);
        return;
    }
    if (mig_import_running()) {
        resp_add_errorf(&c->out, "BUSY this node is importing (job %s)", mig_im.id);
        return;
    }
    if (c->argvlen[3] == 0 || c->argvlen[3] >= sizeof mig_ex.id || c->argvlen[4] == 0 ||
        c->argvlen[4] > CLUSTER_GROUP_MAX_LEN || memchr(c->argv[4], ' ', c->argvlen[4]) ||
        memchr(c->argv[4], ':', c->argvlen[4]) || c->argvlen[5] == 0 || c->argvlen[5] >= sizeof mig_ex.host) {
        resp_add_error(&c->out, "ERR invalid job id, group or host");
        return;
    }
    if (str2ll(c->argv[6], c->argvlen[6], &port) < 0 || port < 1 || port > 65535) {
        resp_add_error(&c->out, "ERR invalid port");
        return;
    }
    struct mig_ranges r;
    if (mig_ranges_parse(&r, c->argv[7], c->argvlen[7], err, sizeof err) < 0) {
        resp_add_errorf(&c->out, "ERR invalid ranges: %s", err);
        return;
    }
    for (unsigned s = 0; s < MIG_SLOTS; s++)
        if (mig_ranges_has(&r, s) && !cluster_owns_slot(s)) {
            resp_add_errorf(&c->out, "ERR slot %u is not owned by this node's group", s);
            return;
        }
    if (c->argvlen[4] == strlen(cluster_self()) && !memcmp(c->argv[4], cluster_self(), c->argvlen[4])) {
        resp_add_error(&c->out, "ERR the target group is this node's own group");
        return;
    }
    mig_job_reset(&mig_ex, 0);
    memcpy(mig_ex.id, c->argv[3], c->argvlen[3]);
    memcpy(mig_ex.peer, c->argv[4], c->argvlen[4]);
    memcpy(mig_ex.host, c->argv[5], c->argvlen[5]);
    mig_ex.port = (int)port;
    mig_ex.r = r;
    mig_ex.rate_mb = rate;
    mig_ex.debug_fence_ms = (uint64_t)fence_hold;
    if (auth) {
        mig_ex.auth = xmalloc(authlen + 1);
        memcpy(mig_ex.auth, auth, authlen);
        mig_ex.auth[authlen] = '\0';
    }
    estimate_totals(&mig_ex);
    mig_ex.state = MS_PREPARE;
    if (export_connect() < 0) {
        mig_ex.state = MS_FAILED;
        mig_ex.end_ms = now_ms();
        resp_add_errorf(&c->out, "ERR cannot connect to %s:%d: %s", mig_ex.host, mig_ex.port, mig_ex.last_error);
        return;
    }
    wal_keep(1); /* before the snapshot: every later record is kept */
    mig_state_store(MIG_EXPORT_KEY, 'C', &mig_ex);
    buf rs;
    buf_init(&rs);
    mig_ranges_format(&mig_ex.r, &rs);
    const char *a[6] = { "STRATA", "IMPORT", "PREPARE", mig_ex.id, cluster_self(), rs.data };
    size_t l[6] = { 6, 6, 7, strlen(mig_ex.id), strlen(cluster_self()), rs.len };
    send_cmd(on_prepare, 6, a, l);
    log_info("migrate: export %s of %u slots (%.*s) to %s at %s:%d started", mig_ex.id, r.count, (int)rs.len,
             rs.data, mig_ex.peer, mig_ex.host, mig_ex.port);
    buf_free(&rs);
    resp_add_ok(&c->out);
}

static void on_abort_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    if (!GEN_OK(priv)) return;
    redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        /* Committed there, or no answer: ask for the verdict. */
        mig_ex.state = MS_RESOLVE;
        export_close_link();
        resolve_start();
        return;
    }
    unfence_aborted("cancelled");
}

static void migrate_subcommand(client *c)
{
    if (c->argc < 3) {
        resp_add_arity_error(&c->out, "strata|migrate");
        return;
    }
    if (ARG_IS(c, 2, "start")) {
        migrate_start(c);
    } else if (ARG_IS(c, 2, "status") && c->argc == 3) {
        resp_add_array(&c->out, mig_ex.used + mig_im.used);
        if (mig_ex.used) add_job(c, &mig_ex);
        if (mig_im.used) add_job(c, &mig_im);
    } else if ((ARG_IS(c, 2, "pause") || ARG_IS(c, 2, "resume")) && c->argc == 4) {
        if (!find_job(c, 3)) return;
        int pause = ARG_IS(c, 2, "pause");
        if (mig_ex.state != MS_COPY && mig_ex.state != MS_CATCHUP && mig_ex.state != MS_PREPARE) {
            resp_add_errorf(&c->out, "ERR job %s is %s: only a copy or a catch-up can pause or resume",
                            mig_ex.id, mig_state_names[mig_ex.state]);
            return;
        }
        mig_ex.paused = pause;
        if (!pause) export_step_soon();
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "cancel") && c->argc == 4) {
        if (!find_job(c, 3)) return;
        if (mig_ex.state == MS_COMMIT || mig_ex.state == MS_RESOLVE) {
            resp_add_errorf(&c->out, "ERR job %s is in %s: the target decides now", mig_ex.id,
                            mig_state_names[mig_ex.state]);
            return;
        }
        if (!mig_export_running()) {
            resp_add_errorf(&c->out, "ERR job %s is %s", mig_ex.id, mig_state_names[mig_ex.state]);
            return;
        }
        const char *a[4] = { "STRATA", "IMPORT", "ABORT", mig_ex.id };
        size_t l[4] = { 6, 6, 5, strlen(mig_ex.id) };
        if (mig_ex.state == MS_FENCE) {
            /* Fenced: unfence only on the target's word. */
            mig_ex.state = MS_COMMIT; /* the step stops; on_abort_reply decides */
            if (mig_ex.ac) send_cmd(on_abort_reply, 4, a, l);
            else {
                mig_ex.state = MS_RESOLVE;
                resolve_start();
            }
        } else {
            if (mig_ex.ac) send_cmd(NULL, 4, a, l);
            mig_set_error(&mig_ex, "cancelled");
            log_info("migrate: export %s cancelled in %s", mig_ex.id, mig_state_names[mig_ex.state]);
            export_end(MS_ABORTED);
        }
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "target") && c->argc == 6) {
        /* The target group failed over: its new master is host:port. */
        if (!find_job(c, 3)) return;
        long long port;
        if (str2ll(c->argv[5], c->argvlen[5], &port) < 0 || port < 1 || port > 65535 ||
            c->argvlen[4] == 0 || c->argvlen[4] >= sizeof mig_ex.host) {
            resp_add_error(&c->out, "ERR invalid host or port");
            return;
        }
        if (!mig_export_running() && mig_ex.state != MS_RESOLVE) {
            resp_add_errorf(&c->out, "ERR job %s is %s", mig_ex.id, mig_state_names[mig_ex.state]);
            return;
        }
        memcpy(mig_ex.host, c->argv[4], c->argvlen[4]);
        mig_ex.host[c->argvlen[4]] = '\0';
        mig_ex.port = (int)port;
        mig_state_store(MIG_EXPORT_KEY, mig_is_fenced() ? 'F' : 'C', &mig_ex);
        log_info("migrate: export %s: the target is now %s:%d", mig_ex.id, mig_ex.host, mig_ex.port);
        if (mig_ex.state == MS_RESOLVE) {
            export_close_link();
            evtimer_del(resolve_ev);
            resolve_start();
        }
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "rate") && c->argc == 5) {
        if (!find_job(c, 3)) return;
        double r;
        if (parse_rate(c, 4, &r) < 0) return;
        mig_ex.rate_mb = r;
        mig_ex.tokens = 0;
        mig_ex.tokens_us = mono_us();
        resp_add_ok(&c->out);
    } else {
        resp_add_error(&c->out, "ERR unknown STRATA MIGRATE subcommand or wrong number of arguments");
    }
}

/* ---------------- SLOTSINFO ---------------- */

struct sinfo_item {
    int lo, hi;
    unsigned long long keys, bytes;
};
struct sinfo_ctx {
    struct sinfo_item *v;
    int n, cap;
};

static void sinfo_cb(void *ud, int lo, int hi)
{
    struct sinfo_ctx *x = ud;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 8;
        x->v = xrealloc(x->v, (size_t)x->cap * sizeof *x->v);
    }
    x->v[x->n++] = (struct sinfo_item){ lo, hi, 0, 0 };
}

/* Bytes of one key: its meta record, and for a collection its subkeys
 * (LevelDB's approximate size of its ranges for big ones, which counts
 * only what reached the table files; 32 bytes an element otherwise). */
static unsigned long long key_bytes(const char *v, size_t vl, size_t kl)
{
    unsigned long long b = kl + vl;
    uint64_t ver = mig_meta_version(v, vl);
    if (!ver) return b;
    uint64_t count = get_u64be((const unsigned char *)v + 17);
    if ((unsigned char)v[0] == 0x81) return b + count; /* chunked string: its length */
    if (count < 1000) return b + count * 32;
    unsigned char a[9], z[9];
    uint64_t sz = 0;
    for (int t = 0; t < 2; t++) {
        a[0] = z[0] = t ? 'Z' : 'D';
        put_u64be(a + 1, ver);
        put_u64be(z + 1, ver + 1);
        sz += store_approx_size(srv.st, (char *)a, 9, (char *)z, 9);
    }
    return b + (sz > count * 16 ? sz : count * 16);
}

static void slotsinfo(client *c)
{
    char err[200];
    if (c->argc != 3) {
        resp_add_arity_error(&c->out, "strata|slotsinfo");
        return;
    }
    struct sinfo_ctx x = { 0 };
    char *z = xmalloc(c->argvlen[2] + 1);
    memcpy(z, c->argv[2], c->argvlen[2]);
    z[c->argvlen[2]] = '\0';
    int bad = topo_parse_slots(z, sinfo_cb, &x, err, sizeof err) < 0;
    free(z);
    if (bad || x.n == 0) {
        resp_add_errorf(&c->out, "ERR invalid ranges: %s", bad ? err : "no slots given");
        free(x.v);
        return;
    }
    int *item_of = xmalloc(SLOT_COUNT * sizeof *item_of);
    for (int s = 0; s < SLOT_COUNT; s++) item_of[s] = -1;
    for (int i = 0; i < x.n; i++)
        for (int s = x.v[i].lo; s <= x.v[i].hi; s++)
            if (item_of[s] < 0) item_of[s] = i;
    unsigned long long visited = 0;
    int exact = 1;
    uint64_t t0 = mono_us();
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, "M", 1); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'M') break;
        if (visited >= SLOTSINFO_VISIT || ((visited & 1023) == 1023 && mono_us() - t0 > 50000)) {
            exact = 0;
            break;
        }
        visited++;
        int i = item_of[slot_of_key(k + 1, kl - 1)];
        if (i < 0) continue;
        const char *v = store_iter_val(it, &vl);
        x.v[i].keys++;
        x.v[i].bytes += key_bytes(v, vl, kl);
    }
    store_iter_free(it);
    /* Capped: what the walked prefix (keys in byte order, so slots mixed)
     * found, scaled to the whole keyspace. */
    double scale = 1.0;
    if (!exact && visited) scale = (double)db_key_count() / (double)visited;
    resp_add_array(&c->out, x.n);
    for (int i = 0; i < x.n; i++) {
        char rs[32];
        if (x.v[i].lo == x.v[i].hi) snprintf(rs, sizeof rs, "%d", x.v[i].lo);
        else snprintf(rs, sizeof rs, "%d-%d", x.v[i].lo, x.v[i].hi);
        resp_add_map(&c->out, c->resp, 4);
        resp_add_bulk_str(&c->out, "range");
        resp_add_bulk_str(&c->out, rs);
        resp_add_bulk_str(&c->out, "keys");
        resp_add_int(&c->out, (long long)((double)x.v[i].keys * scale));
        resp_add_bulk_str(&c->out, "bytes");
        resp_add_int(&c->out, (long long)((double)x.v[i].bytes * scale));
        resp_add_bulk_str(&c->out, "exact");
        resp_add_int(&c->out, exact);
    }
    free(item_of);
    free(x.v);
}

int migrate_command(client *c)
{
    if (c->argc < 2) return 0;
    if (ARG_IS(c, 1, "migrate")) migrate_subcommand(c);
    else if (ARG_IS(c, 1, "import")) mig_import_command(c);
    else if (ARG_IS(c, 1, "slotsinfo")) slotsinfo(c);
    else return 0;
    return 1;
}

/* ---------------- INFO, metrics ---------------- */

static void info_job(buf *o, const char *p, const struct job *j)
{
    buf rs;
    buf_init(&rs);
    mig_ranges_format(&j->r, &rs);
    uint64_t end = j->end_ms ? j->end_ms : now_ms();
    buf_printf(o, "%s_job:%s\r\n%s_state:%s\r\n%s_ranges:%.*s\r\n%s_peer:%s\r\n", p, j->id, p,
               job_state(j), p, (int)rs.len, rs.data ? rs.data : "", p, j->peer);
    buf_printf(o, "%s_keys_copied:%llu\r\n%s_bytes_copied:%llu\r\n%s_keys_total:%llu\r\n"
                  "%s_bytes_total:%llu\r\n%s_lag_bytes:%llu\r\n%s_lag_records:%llu\r\n",
               p, j->keys_copied, p, j->bytes_copied, p, j->keys_total, p, j->bytes_total, p,
               j->lag_bytes, p, j->lag_records);
    buf_printf(o, "%s_rate_mb:%g\r\n%s_fence_ms:%llu\r\n%s_elapsed_ms:%llu\r\n%s_last_error:%s\r\n", p,
               j->rate_mb, p, (unsigned long long)j->fence_ms, p,
               (unsigned long long)(end - j->start_ms), p, j->last_error);
    buf_free(&rs);
}

void migrate_info(buf *o)
{
    buf_printf(o, "# Migration\r\n");
    buf_printf(o, "migrate_parked_clients:%zu\r\nmigrate_trimming:%d\r\nmigrate_trimmed_keys:%llu\r\n",
               nholds, mig_trim.on, mig_trim.deleted);
    if (mig_ex.used) info_job(o, "export", &mig_ex);
    if (mig_im.used) info_job(o, "import", &mig_im);
}

static const char *const metric_names[] = { "keys_copied", "bytes_copied", "keys_total", "bytes_total",
                                            "lag_bytes",   "lag_records",  "fence_ms" };

static void metric_job(buf *o, const struct job *j, size_t i)
{
    unsigned long long v[] = { j->keys_copied, j->bytes_copied, j->keys_total, j->bytes_total,
                               j->lag_bytes,   j->lag_records,  j->fence_ms };
    buf_printf(o, "strata_node_migration_%s{role=\"%s\",job=\"%s\",state=\"%s\"} %llu\n", metric_names[i],
               j->role ? "import" : "export", j->id, job_state(j), v[i]);
}

void migrate_metrics(buf *o)
{
    for (size_t i = 0; i < sizeof metric_names / sizeof metric_names[0]; i++) {
        buf_printf(o, "# HELP strata_node_migration_%s Slot migration job figure (STRATA MIGRATE STATUS)\n"
                      "# TYPE strata_node_migration_%s gauge\n", metric_names[i], metric_names[i]);
        if (mig_ex.used) metric_job(o, &mig_ex, i);
        if (mig_im.used) metric_job(o, &mig_im, i);
    }
    buf_printf(o, "# HELP strata_node_migration_parked_clients Clients held by a migration fence\n"
                  "# TYPE strata_node_migration_parked_clients gauge\nstrata_node_migration_parked_clients %zu\n",
               nholds);
}

/* ---------------- recovery at start ---------------- */

/* The old link's import on T (if T has not seen that link close: a
 * partition): tell it to abort, once, on a link of its own. */
static void on_abort_peer(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)reply;
    if (!GEN_OK(priv) || mig_ex.ac != ac) return;
    export_close_link();
}

static void abort_peer(void)
{
    if (export_connect() < 0) return;
    const char *a[4] = { "STRATA", "IMPORT", "ABORT", mig_ex.id };
    size_t l[4] = { 6, 6, 5, strlen(mig_ex.id) };
    send_cmd(on_abort_peer, 4, a, l);
}

/* At start-up, and when a replica is promoted (REPLICAOF NO ONE after its
 * master failed): the replicated "Rimport"/"Rmigrate" say what the old
 * master was doing; this master carries on from there (migration.md
 * §8.5).  An import not committed is aborted and its staging dropped; an
 * export in the copy is failed (T is asked to abort: the coordinator
 * starts the job again); in the fence R stays parked until T's verdict;
 * after the commit the trim goes on. */
static void recover(void)
{
    struct job j;
    char st;
    if (!srv.st) return;
    int promoted = recovered && seen_replica;
    recovered = 1;
    seen_replica = srv.is_replica;
    if (srv.is_replica) return;
    if (promoted) {
        /* Jobs this node ran before it was a replica are over. */
        if (mig_ex.used && mig_ex.state != MS_DONE && mig_ex.state != MS_FAILED && mig_ex.state != MS_ABORTED) {
            export_release_snapshot();
            export_close_link();
            mig_ex.state = MS_FAILED;
        }
        if (mig_trim.on) mig_trim.on = 0; /* restarted below from the stored state */
        log_info("migrate: promoted to master: resuming the jobs the old master left");
    }
    mig_import_recover();
    memset(&j, 0, sizeof j);
    if (mig_state_load(MIG_EXPORT_KEY, &st, &j)) {
        mig_job_reset(&mig_ex, 0);
        memcpy(mig_ex.id, j.id, sizeof mig_ex.id);
        memcpy(mig_ex.peer, j.peer, sizeof mig_ex.peer);
        memcpy(mig_ex.host, j.host, sizeof mig_ex.host);
        mig_ex.port = j.port;
        mig_ex.r = j.r;
        if (st == 'C') {
            mig_set_error(&mig_ex, promoted ? "promoted to master during the copy"
                                            : "node restarted during the copy");
            mig_ex.state = MS_FAILED;
            mig_ex.end_ms = now_ms();
            BG_WRITE({ store_del(srv.st, MIG_EXPORT_KEY, sizeof MIG_EXPORT_KEY - 1); });
            log_warn("migrate: export %s was copying at this %s: forgotten (start it again); asking %s:%d "
                     "to abort its import",
                     mig_ex.id, promoted ? "promotion" : "restart", mig_ex.host, mig_ex.port);
            abort_peer();
        } else if (st == 'F') {
            mig_set_error(&mig_ex, promoted ? "promoted to master during the fence"
                                            : "node restarted during the fence");
            mig_ex.state = MS_RESOLVE;
            log_warn("migrate: export %s was fenced at this %s: asking %s:%d for its verdict", mig_ex.id,
                     promoted ? "promotion" : "restart", mig_ex.host, mig_ex.port);
            resolve_start();
        } else if (mig_trim.on) {
            /* an import drop runs: one background delete at a time */
            mig_ex.state = MS_FAILED;
            mig_set_error(&mig_ex, "trim not resumed: a drop was running (restart the node)");
        } else {
            mig_ex.state = MS_TRIM;
            log_info("migrate: export %s: resuming the trim", mig_ex.id);
            mig_trim_start(0, &mig_ex.r);
        }
    }
}

void migrate_release_store(void)
{
    /* Shutting down: the job's state stays as stored ("Rmigrate"), for
     * the restart to resolve; callbacks of the freed link are ignored. */
    mig_ex.gen++;
    if (mig_ex.ac) {
        mig_ex.ac->data = NULL;
        redisAsyncFree(mig_ex.ac);
        mig_ex.ac = NULL;
    }
    export_release_snapshot();
}

static void cron_hook(void)
{
    if (!recovered || seen_replica != srv.is_replica) recover();
}

static void shutdown_hook(void)
{
    event_free(step_ev);
    event_free(mig_trim_ev);
    event_free(resume_ev);
    event_free(resolve_ev);
    for (size_t i = 0; i < nholds; i++) hold_free(&holds[i]);
    free(holds);
    holds = NULL;
    nholds = capholds = 0;
    free(mig_ex.auth);
    mig_ex.auth = NULL;
    mig_vmap_free(&mig_ex.vset);
    mig_vmap_free(&mig_im.remap);
    buf_free(&mig_trim.cursor);
}

void migrate_register(void)
{
    step_ev = evtimer_new(srv.base, step_cb, NULL);
    mig_trim_ev = evtimer_new(srv.base, mig_trim_cb, NULL);
    resolve_ev = evtimer_new(srv.base, resolve_cb, NULL);
    resume_ev = event_new(srv.base, -1, 0, resume_cb, NULL);
    buf_init(&mig_trim.cursor);
    server_add_dispatch_hook(migrate_dispatch);
    server_add_free_hook(free_hook);
    server_add_cron_hook(cron_hook);
    server_add_shutdown_hook(shutdown_hook);
}
