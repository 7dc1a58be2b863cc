/* migrate: slot migration, export and import sides.  See migrate.h for
 * the protocol and migrate_codec.h for the formats.
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
#include "migrate_codec.h"
#include "resp.h"
#include "slot.h"
#include "slots.h"
#include "store.h"
#include "topology.h"
#include "util.h"
#include "wal.h"

#define CHUNK_BYTES (256u << 10)
#define CHUNK_ENTRIES 1000
#define MAX_INFLIGHT 8
#define STEP_BUDGET_US 3000
#define FENCE_LAG_RECORDS 200          /* start the fence below this lag */
#define TRIM_BATCH 500                 /* keys deleted per trim turn */
#define TRIM_VISIT 5000                /* 'M' keys visited per trim turn */
#define RESOLVE_RETRY_MS 500
#define SLOTSINFO_VISIT 200000         /* keys a SLOTSINFO walks before extrapolating */

static const char EXPORT_KEY[] = "Rmigrate";
static const char IMPORT_KEY[] = "Rimport";

enum mstate {
    MS_NONE = 0, MS_PREPARE, MS_COPY, MS_CATCHUP, MS_FENCE, MS_COMMIT, MS_TRIM, MS_DONE,
    MS_ABORTED, MS_FAILED, MS_RESOLVE
};
static const char *const state_names[] = { "none", "prepare", "copy", "catchup", "fence", "commit",
                                           "trim", "done", "aborted", "failed", "resolve" };

struct job {
    int used;                       /* a job was started (current or last) */
    int role;                       /* 0 export, 1 import */
    char id[128];
    char peer[CLUSTER_GROUP_MAX_LEN + 1];
    char host[256];
    int port;
    char *auth;                     /* owned or NULL */
    struct mig_ranges r;
    int state;
    int paused;
    unsigned long long keys_copied, bytes_copied, keys_total, bytes_total;
    unsigned long long lag_bytes, lag_records;
    double rate_mb;                 /* 0: unlimited */
    uint64_t fence_ms, start_ms, end_ms, fence_start_us;
    char last_error[256];

    /* export */
    redisAsyncContext *ac;
    unsigned gen;                   /* tags callbacks of this connection */
    int inflight;
    size_t inflight_bytes[MAX_INFLIGHT]; /* sizes of the chunks in flight, in order */
    unsigned send_i, ack_i;
    store_snap *snap;
    store_iter *mit, *sit;          /* 'M' walk; the current collection's subkeys */
    int walk_done;
    char sub_tag;                   /* 'D' or 'Z' while in a collection, else 0 */
    unsigned char sub_prefix[9];
    uint64_t snap_lsn, sent_lsn, fence_lsn;
    struct mig_vmap vset;
    double tokens;                  /* rate limiter, bytes */
    uint64_t tokens_us;
    long long moved_keys;           /* keys T holds in R at commit */
    uint64_t debug_fence_ms;        /* tests: hold the fence this long before COMMIT */

    /* import */
    struct mig_vmap remap;
    long long imp_keys;
    uint64_t link_id;
};

static struct job ex, im;           /* the export and the import job of this node */

/* Trimming (export, after commit) and dropping (import, after abort):
 * the same background delete of unowned keys in a slot set. */
static struct {
    int on;
    int role;                       /* which state key to clear at the end */
    struct mig_ranges r;
    buf cursor;                     /* last 'M' key visited */
    unsigned long long deleted;
} trim;

/* Slots known to hold no key of an unowned slot here since start: each
 * finished trim or drop adds its slots.  An import into slots not known
 * clean while the node stores unowned keys first drops what it has there
 * (keys from before the slot table would come back to life at the
 * commit). */
static struct mig_ranges clean;

static struct event *step_ev, *trim_ev, *resume_ev, *resolve_ev;
static int recovered;

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
static void trim_start(int role, const struct mig_ranges *r);
static void recover(void);
static void export_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------- helpers ---------------- */

static void set_error(struct job *j, const char *msg)
{
    snprintf(j->last_error, sizeof j->last_error, "%s", msg);
}

static int is_fenced(void)
{
    return ex.used && (ex.state == MS_FENCE || ex.state == MS_COMMIT || ex.state == MS_RESOLVE);
}

static int export_running(void)
{
    return ex.used && ex.state >= MS_PREPARE && ex.state <= MS_COMMIT;
}

static int import_running(void)
{
    return im.used && im.state == MS_COPY;
}

/* A background write (outside any command): its changes become one WAL
 * record through the write hooks, and commit with the loop's batch. */
#define BG_WRITE(body)                                                                            \
    do {                                                                                          \
        size_t mark_ = store_mark(srv.st);                                                        \
        srv.cmd_time_ms = now_ms();                                                               \
        body;                                                                                     \
        if (store_mark(srv.st) != mark_) server_notify_write(NULL, mark_);                        \
    } while (0)

/* "Rmigrate"/"Rimport": state:1 | idlen:1 id | peerlen:1 peer | hostlen:1 host
 * | port:2 | slots bitmap (2048).  States: 'C' copy, 'F' fence, 'T' trim
 * (export); 'I' importing, 'X' dropping (import). */
static void state_store(const char *name, char st, const struct job *j)
{
    buf v;
    buf_init(&v);
    buf_append_char(&v, st);
    const char *f[3] = { j->id, j->peer, j->host };
    for (int i = 0; i < 3; i++) {
        unsigned char l = (unsigned char)strlen(f[i]);
        buf_append(&v, &l, 1);
        buf_append(&v, f[i], l);
    }
    unsigned char p[2] = { (unsigned char)(j->port >> 8), (unsigned char)j->port };
    buf_append(&v, p, 2);
    buf_append(&v, j->r.bits, sizeof j->r.bits);
    store_put(srv.st, name, strlen(name), v.data, v.len);
    buf_free(&v);
}

static int state_load(const char *name, char *st, struct job *j)
{
    buf v;
    buf_init(&v);
    int ok = 0;
    if (store_get(srv.st, name, strlen(name), &v) == 1 && v.len > 4) {
        const unsigned char *p = (const unsigned char *)v.data, *end = p + v.len;
        *st = (char)*p++;
        char *dst[3] = { j->id, j->peer, j->host };
        size_t cap[3] = { sizeof j->id, sizeof j->peer, sizeof j->host };
        ok = 1;
        for (int i = 0; i < 3 && ok; i++) {
            if (p >= end || (size_t)(end - p) < 1u + *p || *p >= cap[i]) ok = 0;
            else {
                memcpy(dst[i], p + 1, *p);
                dst[i][*p] = '\0';
                p += 1u + *p;
            }
        }
        if (ok && (size_t)(end - p) == 2 + sizeof j->r.bits) {
            j->port = (p[0] << 8) | p[1];
            memcpy(j->r.bits, p + 2, sizeof j->r.bits);
            j->r.count = 0;
            for (unsigned s = 0; s < MIG_SLOTS; s++) j->r.count += (unsigned)mig_ranges_has(&j->r, s);
        } else ok = 0;
    }
    buf_free(&v);
    return ok;
}

static void job_reset(struct job *j, int role)
{
    free(j->auth);
    mig_vmap_free(&j->vset);
    mig_vmap_free(&j->remap);
    memset(j, 0, sizeof *j);
    j->role = role;
    j->used = 1;
    j->start_ms = now_ms();
}

/* ---------------- parking (fence) ---------------- */

static void park(client *c)
{
    if (nholds == capholds) {
        capholds = capholds ? capholds * 2 : 16;
        holds = xrealloc(holds, capholds * sizeof *holds);
    }
    struct hold *h = &holds[nholds++];
    size_t total = 0;
    for (int i = 0; i < c->argc; i++) total += c->argvlen[i] + 1;
    h->c = c;
    h->argc = c->argc;
    h->argv = xmalloc((size_t)c->argc * sizeof *h->argv);
    h->argvlen = xmalloc((size_t)c->argc * sizeof *h->argvlen);
    h->argbuf = xmalloc(total);
    char *p = h->argbuf;
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i], c->argvlen[i]);
        p[c->argvlen[i]] = '\0';
        h->argv[i] = p;
        h->argvlen[i] = c->argvlen[i];
        p += c->argvlen[i] + 1;
    }
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
    if (import_running() && im.link_id == c->id && srv.st) {
        log_warn("migrate: import %s: the link from %s closed before the commit: aborting", im.id,
                 im.peer);
        set_error(&im, "link from the source closed before the commit");
        im.state = MS_ABORTED;
        im.end_ms = now_ms();
        BG_WRITE({ state_store(IMPORT_KEY, 'X', &im); });
        trim_start(1, &im.r);
    }
}

/* Dispatch check, after the slot table's (so a command here is on owned
 * slots only). */
static int migrate_dispatch(client *c)
{
    if (!recovered) recover();
    if (c->flags & (CLIENT_MASTER | CLIENT_REPLICA)) return 0;
    if (!(export_running() || ex.state == MS_RESOLVE) || !c->cmd) return 0;
    if (is_fenced() && c->cmd->id == CMD_EXEC && (c->flags & CLIENT_MULTI)) {
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
        if (mig_ranges_has_key(&ex.r, c->argv[pos[i]], c->argvlen[pos[i]])) in = 1;
        else out = 1;
    }
    if (pos != stack) free(pos);
    if (!in) return 0;
    if (out) {
        resp_add_error(&c->out, "TRYAGAIN Multiple keys request during rehashing of slot");
        if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
        return 1;
    }
    if (is_fenced()) {
        park(c);
        return 1;
    }
    return 0;
}

int migrate_key_frozen(const char *key, size_t len)
{
    if (import_running() && mig_ranges_has_key(&im.r, key, len)) return 1;
    if (is_fenced() && mig_ranges_has_key(&ex.r, key, len)) return 1;
    return 0;
}

int migrate_needs_log(void)
{
    return export_running();
}

uint64_t migrate_pin_lsn(void)
{
    if (!export_running()) return UINT64_MAX;
    if (!ex.snap_lsn) return 1; /* snapshot not taken yet: keep everything */
    return ex.sent_lsn + 1;
}

/* ---------------- trim / drop ---------------- */

static void trim_finish(void)
{
    log_info("migrate: %s done: %llu keys deleted", trim.role ? "drop of a staged import" : "trim",
             trim.deleted);
    BG_WRITE({
        const char *k = trim.role ? IMPORT_KEY : EXPORT_KEY;
        store_del(srv.st, k, strlen(k));
    });
    if (!trim.role && ex.used && ex.state == MS_TRIM) {
        ex.state = MS_DONE;
        ex.end_ms = now_ms();
    }
    /* The metas' tombstones: rewrite the 'M' range on the compaction
     * thread so the disk space comes back (the GC compacts the subkeys
     * of big collections itself). */
    if (trim.deleted) store_compact_range_async(srv.st, "M", 1, "N", 1);
    for (size_t i = 0; i < sizeof clean.bits; i++) clean.bits[i] |= trim.r.bits[i];
    trim.on = 0;
}

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!trim.on) return;
    if (!srv.is_replica && !srv.write_error && !srv.writes_paused && !srv.script_busy) {
        uint64_t t0 = mono_us();
        int deleted = 0, visited = 0, end = 0;
        BG_WRITE({
            store_iter *it = store_iter_new(srv.st);
            if (trim.cursor.len) {
                store_iter_seek(it, trim.cursor.data, trim.cursor.len);
                if (store_iter_valid(it)) {
                    size_t kl;
                    const char *k = store_iter_key(it, &kl);
                    if (kl == trim.cursor.len && !memcmp(k, trim.cursor.data, kl)) store_iter_next(it);
                }
            } else store_iter_seek(it, "M", 1);
            buf key;
            buf_init(&key);
            for (;;) {
                if (!store_iter_valid(it)) {
                    end = 1;
                    break;
                }
                size_t kl;
                const char *k = store_iter_key(it, &kl);
                if (kl < 1 || k[0] != 'M') {
                    end = 1;
                    break;
                }
                buf_clear(&trim.cursor);
                buf_append(&trim.cursor, k, kl);
                visited++;
                int del = mig_ranges_has_key(&trim.r, k + 1, kl - 1) && !cluster_owns_key(k + 1, kl - 1);
                if (del) {
                    buf_clear(&key);
                    buf_append(&key, k + 1, kl - 1);
                }
                store_iter_next(it);
                if (del && db_import_delete(key.data, key.len, 0) > 0) deleted++;
                if (deleted >= TRIM_BATCH || visited >= TRIM_VISIT || mono_us() - t0 > STEP_BUDGET_US)
                    break;
            }
            buf_free(&key);
            store_iter_free(it);
        });
        trim.deleted += (unsigned long long)deleted;
        if (end) {
            trim_finish();
            return;
        }
    }
    struct timeval tv = { 0, 1000 };
    evtimer_add(trim_ev, &tv);
}

static void trim_start(int role, const struct mig_ranges *r)
{
    trim.on = 1;
    trim.role = role;
    trim.r = *r;
    trim.deleted = 0;
    buf_clear(&trim.cursor);
    struct timeval tv = { 0, 1000 };
    evtimer_add(trim_ev, &tv);
}

/* ---------------- export: connection ---------------- */

#define GEN_ARG(j) ((void *)(uintptr_t)(j)->gen)
#define GEN_OK(priv) (ex.used && (uintptr_t)(priv) == (uintptr_t)ex.gen)

static void export_release_snapshot(void)
{
    if (ex.sit) store_iter_free(ex.sit);
    if (ex.mit) store_iter_free(ex.mit);
    ex.sit = ex.mit = NULL;
    if (ex.snap) store_snapshot_release(srv.st, ex.snap);
    ex.snap = NULL;
}

/* Drop the link; callbacks still pending on it are ignored (gen). */
static void export_close_link(void)
{
    if (ex.ac) {
        ex.ac->data = NULL;
        redisAsyncDisconnect(ex.ac);
        ex.ac = NULL;
    }
    ex.gen++;
    ex.inflight = 0;
    ex.send_i = ex.ack_i = 0;
    ex.lag_bytes = 0;
}

static void export_end(int state)
{
    export_release_snapshot();
    export_close_link();
    ex.state = state;
    ex.end_ms = now_ms();
    BG_WRITE({ store_del(srv.st, EXPORT_KEY, sizeof EXPORT_KEY - 1); });
}

static void resolve_start(void);

static void export_fail(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_error(&ex, msg);
    if (is_fenced()) {
        /* Never unfence without T's verdict. */
        log_warn("migrate: export %s: %s; fenced: asking %s for its verdict", ex.id, msg, ex.peer);
        export_close_link();
        ex.state = MS_RESOLVE;
        resolve_start();
        return;
    }
    log_warn("migrate: export %s failed in %s: %s", ex.id, state_names[ex.state], msg);
    export_end(MS_FAILED);
}

static void send_cmd(redisCallbackFn *fn, int argc, const char **argv, const size_t *argvlen)
{
    if (!ex.ac) return;
    redisAsyncCommandArgv(ex.ac, fn, GEN_ARG(&ex), argc, argv, argvlen);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    if (!ac->data || ex.ac != ac) return;
    ex.ac = NULL;
    if (export_running())
        export_fail("link to %s:%d closed: %s", ex.host, ex.port, ac->errstr[0] ? ac->errstr : "closed");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK && ac->data && ex.ac == ac) {
        ex.ac = NULL; /* hiredis frees it */
        if (export_running()) export_fail("cannot connect to %s:%d: %s", ex.host, ex.port, ac->errstr);
        else if (ex.state == MS_RESOLVE) {
            ex.gen++;
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

static int export_connect(void)
{
    ex.ac = redisAsyncConnect(ex.host, ex.port);
    if (!ex.ac || ex.ac->err) {
        set_error(&ex, ex.ac ? ex.ac->errstr : "out of memory");
        if (ex.ac) redisAsyncFree(ex.ac);
        ex.ac = NULL;
        return -1;
    }
    ex.gen++;
    ex.ac->data = &ex;
    redisLibeventAttach(ex.ac, srv.base);
    redisAsyncSetConnectCallback(ex.ac, on_connect);
    redisAsyncSetDisconnectCallback(ex.ac, on_disconnect);
    const char *pw = ex.auth ? ex.auth
                             : (srv.cfg.requirepass && *srv.cfg.requirepass ? srv.cfg.requirepass : NULL);
    if (pw) {
        const char *a[2] = { "AUTH", pw };
        size_t l[2] = { 4, strlen(pw) };
        send_cmd(NULL, 2, a, l); /* a wrong password shows in the next reply (NOAUTH) */
    }
    return 0;
}

/* ---------------- export: copy and catch-up ---------------- */

static void on_apply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    if (!GEN_OK(priv)) return;
    char msg[256];
    ex.inflight--;
    size_t b = ex.inflight_bytes[ex.ack_i++ % MAX_INFLIGHT];
    ex.lag_bytes = ex.lag_bytes >= b ? ex.lag_bytes - b : 0;
    if (reply_error(reply, msg, sizeof msg)) {
        export_fail("target refused a chunk: %s", msg);
        return;
    }
    export_step_soon();
}

static void send_apply(buf *ops)
{
    const char *av[5] = { "STRATA", "IMPORT", "APPLY", ex.id, ops->data };
    size_t l[5] = { 6, 6, 5, strlen(ex.id), ops->len };
    ex.inflight++;
    ex.inflight_bytes[ex.send_i++ % MAX_INFLIGHT] = ops->len;
    ex.lag_bytes += ops->len;
    if (ex.rate_mb > 0) ex.tokens -= (double)ops->len;
    send_cmd(on_apply, 5, av, l);
}

static int have_tokens(void)
{
    if (ex.rate_mb <= 0) return 1;
    uint64_t now = mono_us();
    double rate = ex.rate_mb * 1048576.0;
    ex.tokens += rate * (double)(now - ex.tokens_us) / 1e6;
    ex.tokens_us = now;
    if (ex.tokens > rate / 10 + CHUNK_BYTES) ex.tokens = rate / 10 + CHUNK_BYTES;
    return ex.tokens > 0;
}

/* One chunk of the snapshot walk into ops: 'M' records of R, each
 * collection's 'D' then 'Z' subkeys (one seek each).  Returns entries. */
static int copy_chunk(buf *ops)
{
    int n = 0;
    while (n < CHUNK_ENTRIES && ops->len < CHUNK_BYTES) {
        size_t kl, vl;
        if (ex.sub_tag) {
            if (store_iter_valid(ex.sit)) {
                const char *k = store_iter_key(ex.sit, &kl);
                if (kl >= 9 && !memcmp(k, ex.sub_prefix, 9)) {
                    const char *v = store_iter_val(ex.sit, &vl);
                    mig_ops_put(ops, k, kl, v, vl);
                    ex.bytes_copied += kl + vl;
                    n++;
                    store_iter_next(ex.sit);
                    continue;
                }
            }
            if (ex.sub_tag == 'D') {
                ex.sub_tag = 'Z';
                ex.sub_prefix[0] = 'Z';
                store_iter_seek(ex.sit, (const char *)ex.sub_prefix, 9);
            } else ex.sub_tag = 0;
            continue;
        }
        if (!store_iter_valid(ex.mit)) {
            ex.walk_done = 1;
            break;
        }
        const char *k = store_iter_key(ex.mit, &kl);
        if (kl < 1 || k[0] != 'M') {
            ex.walk_done = 1;
            break;
        }
        if (mig_ranges_has_key(&ex.r, k + 1, kl - 1)) {
            const char *v = store_iter_val(ex.mit, &vl);
            mig_ops_put(ops, k, kl, v, vl);
            ex.keys_copied++;
            ex.bytes_copied += kl + vl;
            n++;
            uint64_t ver = mig_meta_version(v, vl);
            if (ver) {
                mig_vmap_put(&ex.vset, ver, 1);
                ex.sub_tag = 'D';
                ex.sub_prefix[0] = 'D';
                put_u64be(ex.sub_prefix + 1, ver);
                store_iter_seek(ex.sit, (const char *)ex.sub_prefix, 9);
            }
        }
        store_iter_next(ex.mit);
    }
    return n;
}

/* Filtered WAL records from sent_lsn + 1 up to `upto` into ops.
 * Returns records read, or -1 (the job failed). */
static int tail_chunk(buf *ops, uint64_t upto)
{
    static buf rec;
    int n = 0;
    while (ex.sent_lsn < upto && n < CHUNK_ENTRIES && ops->len < CHUNK_BYTES) {
        int got = wal_read(ex.sent_lsn + 1, &rec);
        if (got != 1) {
            export_fail("the WAL no longer holds lsn %llu (retention too small for this job?)",
                        (unsigned long long)ex.sent_lsn + 1);
            return -1;
        }
        struct wal_rec wr;
        if (wal_parse(rec.data, rec.len, &wr) < 0 ||
            mig_filter_ops(wr.ops, wr.oplen, &ex.r, &ex.vset, ops) < 0) {
            export_fail("malformed WAL record %llu", (unsigned long long)ex.sent_lsn + 1);
            return -1;
        }
        ex.sent_lsn++;
        n++;
    }
    if (rec.cap > (4u << 20)) buf_shrink(&rec, 0);
    return n;
}

static void on_commit(redisAsyncContext *ac, void *reply, void *priv);

static void start_fence(void)
{
    ex.state = MS_FENCE;
    ex.fence_start_us = mono_us();
    /* Every record so far, committed or in this turn's batch, is before
     * the fence: commands on R from now on are parked. */
    ex.fence_lsn = wal_position()->last_lsn;
    BG_WRITE({ state_store(EXPORT_KEY, 'F', &ex); });
    log_info("migrate: export %s: fence at lsn %llu (lag %llu records)", ex.id,
             (unsigned long long)ex.fence_lsn, ex.lag_records);
}

static void send_commit(void)
{
    char ep[24];
    snprintf(ep, sizeof ep, "%llu", (unsigned long long)cluster_max_epoch());
    const char *a[5] = { "STRATA", "IMPORT", "COMMIT", ex.id, ep };
    size_t l[5] = { 6, 6, 6, strlen(ex.id), strlen(ep) };
    ex.state = MS_COMMIT;
    send_cmd(on_commit, 5, a, l);
}

static void take_snapshot(void)
{
    ex.snap = store_snapshot(srv.st);
    ex.mit = store_iter_new_snapshot(srv.st, ex.snap);
    ex.sit = store_iter_new_snapshot(srv.st, ex.snap);
    /* The lsn the snapshot holds, read from the snapshot itself (as a
     * full sync does): the tail starts right after it. */
    struct wal_pos wp;
    ex.snap_lsn = wal_committed_lsn();
    store_iter_seek(ex.mit, WAL_POS_KEY, sizeof WAL_POS_KEY - 1);
    if (store_iter_valid(ex.mit)) {
        size_t kl, vl;
        const char *k = store_iter_key(ex.mit, &kl);
        const char *v = store_iter_val(ex.mit, &vl);
        if (kl == sizeof WAL_POS_KEY - 1 && !memcmp(k, WAL_POS_KEY, kl) && wal_pos_decode(v, vl, &wp) == 0)
            ex.snap_lsn = wp.last_lsn;
    }
    if (!ex.snap_lsn) ex.snap_lsn = 0;
    ex.sent_lsn = ex.snap_lsn;
    store_iter_seek(ex.mit, "M", 1);
}

static void step_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!export_running() || ex.paused || !ex.ac || ex.state == MS_PREPARE || ex.state == MS_COMMIT)
        return;
    if (srv.is_replica) {
        export_fail("this node became a replica");
        return;
    }
    uint64_t t0 = mono_us();
    buf ops;
    buf_init(&ops);
    int waiting_tokens = 0, idle = 0;
    while (ex.inflight < MAX_INFLIGHT && mono_us() - t0 < STEP_BUDGET_US && export_running()) {
        if (!have_tokens()) {
            waiting_tokens = 1;
            break;
        }
        buf_clear(&ops);
        if (ex.state == MS_COPY) {
            if (!ex.snap) take_snapshot();
            copy_chunk(&ops);
            if (ops.len) send_apply(&ops);
            if (ex.walk_done) {
                ex.keys_total = ex.keys_copied;
                if (ex.bytes_copied > ex.bytes_total) ex.bytes_total = ex.bytes_copied;
                export_release_snapshot();
                ex.state = MS_CATCHUP;
                log_info("migrate: export %s: copied %llu keys, %llu bytes; catching up from lsn %llu",
                         ex.id, ex.keys_copied, ex.bytes_copied, (unsigned long long)ex.snap_lsn);
            }
            continue;
        }
        uint64_t committed = wal_committed_lsn();
        uint64_t upto = committed;
        if (ex.state == MS_FENCE && ex.fence_lsn < committed) upto = ex.fence_lsn;
        if (ex.sent_lsn >= upto) {
            if (ex.state == MS_FENCE && ex.sent_lsn >= ex.fence_lsn && ex.inflight == 0 &&
                mono_us() - ex.fence_start_us >= ex.debug_fence_ms * 1000)
                send_commit();
            idle = 1;
            break;
        }
        if (tail_chunk(&ops, upto) < 0) break;
        if (ops.len) {
            ex.bytes_copied += ops.len;
            send_apply(&ops);
        }
    }
    buf_free(&ops);
    if (ex.used && (ex.state == MS_CATCHUP || ex.state == MS_FENCE)) {
        uint64_t committed = wal_committed_lsn();
        ex.lag_records = committed > ex.sent_lsn ? committed - ex.sent_lsn : 0;
        if (ex.state == MS_CATCHUP && ex.lag_records < FENCE_LAG_RECORDS && ex.inflight <= 1)
            start_fence();
    }
    if (export_running() && ex.state != MS_COMMIT) {
        /* Go on next turn; with nothing to send, an ack or the next
         * commit brings new work (a short timer covers the commit). */
        struct timeval tv = { 0, waiting_tokens ? 1000 : idle ? 300 : (ex.inflight < MAX_INFLIGHT ? 0 : 2000) };
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
        if (cluster_table_reassign(ex.r.bits, ex.peer, epoch, moved_keys) < 0)
            log_error("migrate: export %s: cannot rewrite the slot table", ex.id);
        state_store(EXPORT_KEY, 'T', &ex);
    });
    /* Transactions opened while R was ours would run on it at EXEC. */
    for (client *c = srv.clients; c; c = c->next)
        if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    if (ex.fence_start_us) ex.fence_ms = (mono_us() - ex.fence_start_us) / 1000;
    ex.moved_keys = moved_keys;
    ex.state = MS_TRIM;
    ex.lag_records = 0;
    export_release_snapshot();
    export_close_link();
    unpark_all();
    log_info("migrate: export %s committed: slots now owned by %s at epoch %llu (%lld keys); "
             "fence %llu ms; trimming",
             ex.id, ex.peer, (unsigned long long)epoch, moved_keys, (unsigned long long)ex.fence_ms);
    trim_start(0, &ex.r);
}

static void unfence_aborted(const char *why)
{
    log_warn("migrate: export %s aborted (%s): the slots stay here", ex.id, why);
    set_error(&ex, why);
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
static long long count_range_keys(const struct mig_ranges *r)
{
    long long n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, "M", 1); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'M') break;
        if (mig_ranges_has_key(r, k + 1, kl - 1)) n++;
    }
    store_iter_free(it);
    return n;
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
    if (!GEN_OK(priv) || ex.state != MS_RESOLVE) return;
    redisReply *r = reply;
    char msg[256];
    if (reply_error(r, msg, sizeof msg) || r->type != REDIS_REPLY_STATUS) {
        set_error(&ex, r && r->type == REDIS_REPLY_ERROR ? msg : "no verdict from the target yet");
        resolve_later();
        return;
    }
    if (!strcmp(r->str, "committed")) {
        log_info("migrate: export %s: the target says it committed", ex.id);
        switch_to_target(cluster_max_epoch() + 1, count_range_keys(&ex.r));
    } else if (!strcmp(r->str, "aborted")) {
        unfence_aborted("the target aborted the import");
    } else {
        /* Still importing on T (our old link not yet seen closed there):
         * tell it to abort, then ask again. */
        const char *a[4] = { "STRATA", "IMPORT", "ABORT", ex.id };
        size_t l[4] = { 6, 6, 5, strlen(ex.id) };
        send_cmd(NULL, 4, a, l);
        resolve_later();
    }
}

static void resolve_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!ex.used || ex.state != MS_RESOLVE) return;
    if (!ex.ac && export_connect() < 0) {
        struct timeval tv = { 0, RESOLVE_RETRY_MS * 1000 };
        evtimer_add(resolve_ev, &tv);
        return;
    }
    buf rs;
    buf_init(&rs);
    mig_ranges_format(&ex.r, &rs);
    const char *a[5] = { "STRATA", "IMPORT", "VERDICT", ex.id, rs.data };
    size_t l[5] = { 6, 6, 7, strlen(ex.id), rs.len };
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
    if (!GEN_OK(priv) || ex.state != MS_PREPARE) return;
    char msg[256];
    if (reply_error(reply, msg, sizeof msg)) {
        export_fail("prepare: %s", msg);
        return;
    }
    ex.state = MS_COPY;
    ex.tokens_us = mono_us();
    log_info("migrate: export %s: %s prepared; copying", ex.id, ex.peer);
    export_step_soon();
}

/* ---------------- import side ---------------- */

static void import_apply(client *c, const char *ops, size_t len)
{
    struct mig_op op;
    size_t pos = 0;
    int rc;
    /* First pass: a remap for every version a meta here names. */
    while ((rc = mig_ops_next(ops, len, &pos, &op)) == 1) {
        if (op.op != 'P' || op.klen < 1 || op.key[0] != 'M') continue;
        uint64_t v = mig_meta_version(op.val, op.vlen);
        if (v && !mig_vmap_get(&im.remap, v, NULL)) mig_vmap_put(&im.remap, v, server_new_version());
    }
    if (rc < 0) {
        resp_add_error(&c->out, "ERR malformed import chunk");
        return;
    }
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    pos = 0;
    while (mig_ops_next(ops, len, &pos, &op) == 1) {
        if (op.klen < 1) continue;
        if (op.key[0] == 'M') {
            if (!mig_ranges_has_key(&im.r, op.key + 1, op.klen - 1)) continue;
            if (op.op == 'P') {
                buf_clear(&v);
                buf_append(&v, op.val, op.vlen);
                uint64_t sv = mig_meta_version(op.val, op.vlen), tv = 0;
                if (sv && mig_vmap_get(&im.remap, sv, &tv)) put_u64be((unsigned char *)v.data + 9, tv);
                if (db_import_meta(op.key + 1, op.klen - 1, v.data, v.len, 0) == 1) im.imp_keys++;
                im.keys_copied++;
            } else {
                /* A delete with a put naming the same version in the same
                 * record is a RENAME: the subkeys stay. */
                int keep = 0;
                struct meta m;
                meta_init(&m);
                if (db_lookup_raw(op.key + 1, op.klen - 1, &m) >= 0 && m.version) {
                    struct mig_op o2;
                    size_t p2 = 0;
                    while (!keep && mig_ops_next(ops, len, &p2, &o2) == 1) {
                        uint64_t sv = 0, tv = 0;
                        if (o2.op == 'P' && o2.klen && o2.key[0] == 'M') sv = mig_meta_version(o2.val, o2.vlen);
                        if (sv && mig_vmap_get(&im.remap, sv, &tv) && tv == m.version) keep = 1;
                    }
                }
                meta_free(&m);
                if (db_import_delete(op.key + 1, op.klen - 1, keep) > 0) im.imp_keys--;
            }
            im.bytes_copied += op.klen + op.vlen;
            continue;
        }
        if (op.key[0] != 'D' && op.key[0] != 'Z') continue;
        uint64_t sv = mig_subkey_version(op.key, op.klen), tv;
        if (!mig_vmap_get(&im.remap, sv, &tv)) continue; /* a collection T never had */
        buf_clear(&k);
        buf_append(&k, op.key, op.klen);
        put_u64be((unsigned char *)k.data + 1, tv);
        if (op.op == 'P') store_put(srv.st, k.data, k.len, op.val, op.vlen);
        else store_del(srv.st, k.data, k.len);
        im.bytes_copied += op.klen + op.vlen;
    }
    buf_free(&k);
    buf_free(&v);
    resp_add_int(&c->out, im.imp_keys);
}

static int refuse_unless_master(client *c)
{
    if (srv.is_replica) {
        resp_add_error(&c->out, "READONLY You can't write against a read only replica.");
        return 1;
    }
    if (srv.write_error) {
        resp_add_error(&c->out, "MISCONF Errors writing to the data directory: "
                                "writes are refused until a commit succeeds (see the node log)");
        return 1;
    }
    if (!cluster_has_table()) {
        resp_add_error(&c->out, "ERR this node has no slot table (STRATA SETSLOTS first)");
        return 1;
    }
    return 0;
}

static int same_job(client *c, int i)
{
    return im.used && c->argvlen[i] == strlen(im.id) && !memcmp(c->argv[i], im.id, c->argvlen[i]);
}

static void import_prepare(client *c)
{
    char err[200];
    struct mig_ranges r;
    if (c->argvlen[3] == 0 || c->argvlen[3] >= sizeof im.id || c->argvlen[4] == 0 ||
        c->argvlen[4] > CLUSTER_GROUP_MAX_LEN) {
        resp_add_error(&c->out, "ERR invalid job id or group name");
        return;
    }
    if (mig_ranges_parse(&r, c->argv[5], c->argvlen[5], err, sizeof err) < 0) {
        resp_add_errorf(&c->out, "ERR invalid ranges: %s", err);
        return;
    }
    if (import_running()) {
        resp_add_errorf(&c->out, "BUSY an import is running on this node (job %s)", im.id);
        return;
    }
    if (trim.on) {
        resp_add_error(&c->out, "BUSY this node is still trimming or dropping the slots of an "
                                "earlier job: try again later");
        return;
    }
    if (export_running()) {
        resp_add_errorf(&c->out, "BUSY this node is exporting (job %s)", ex.id);
        return;
    }
    int stale = 0;
    for (unsigned s = 0; s < MIG_SLOTS; s++) {
        if (mig_ranges_has(&r, s) && cluster_owns_slot(s)) {
            resp_add_errorf(&c->out, "ERR slot %u is already owned by this node", s);
            return;
        }
        if (mig_ranges_has(&r, s) && !mig_ranges_has(&clean, s)) stale = 1;
    }
    if (stale && cluster_unowned_keys() > 0) {
        trim_start(1, &r);
        resp_add_error(&c->out, "BUSY this node stores keys of slots it does not own (from before its "
                                "slot table or an earlier job): dropping those of these slots, try again");
        return;
    }
    job_reset(&im, 1);
    memcpy(im.id, c->argv[3], c->argvlen[3]);
    memcpy(im.peer, c->argv[4], c->argvlen[4]);
    im.r = r;
    im.state = MS_COPY;
    im.link_id = c->id;
    state_store(IMPORT_KEY, 'I', &im);
    log_info("migrate: import %s of %u slots from %s: prepared", im.id, r.count, im.peer);
    resp_add_ok(&c->out);
}

static void import_commit(client *c)
{
    unsigned long long ep;
    if (!import_running() || !same_job(c, 3)) {
        resp_add_error(&c->out, "ERR no such import running");
        return;
    }
    if (str2ull(c->argv[4], c->argvlen[4], &ep) < 0) {
        resp_add_error(&c->out, "ERR invalid epoch");
        return;
    }
    uint64_t mine = cluster_max_epoch();
    uint64_t epoch = (ep > mine ? ep : mine) + 1;
    /* The commit point: the table and the end of the import, one write. */
    if (cluster_table_reassign(im.r.bits, cluster_self(), epoch, -im.imp_keys) < 0) {
        resp_add_error(&c->out, "ERR cannot rewrite the slot table");
        return;
    }
    store_del(srv.st, IMPORT_KEY, sizeof IMPORT_KEY - 1);
    im.state = MS_DONE;
    im.end_ms = now_ms();
    im.keys_total = (unsigned long long)im.imp_keys;
    mig_vmap_free(&im.remap);
    log_info("migrate: import %s committed: %lld keys, epoch %llu", im.id, im.imp_keys,
             (unsigned long long)epoch);
    resp_add_array(&c->out, 2);
    resp_add_int(&c->out, (long long)epoch);
    resp_add_int(&c->out, im.imp_keys);
}

static void import_command(client *c)
{
    char err[200];
    if (c->argc < 4) {
        resp_add_arity_error(&c->out, "strata|import");
        return;
    }
    if (refuse_unless_master(c)) return;
    if (ARG_IS(c, 2, "prepare") && c->argc == 6) {
        import_prepare(c);
    } else if (ARG_IS(c, 2, "apply") && c->argc == 5) {
        if (!import_running() || !same_job(c, 3) || im.link_id != c->id) {
            resp_add_error(&c->out, "ERR no such import running on this link");
            return;
        }
        import_apply(c, c->argv[4], c->argvlen[4]);
    } else if (ARG_IS(c, 2, "commit") && c->argc == 5) {
        import_commit(c);
    } else if (ARG_IS(c, 2, "abort") && c->argc == 4) {
        if (same_job(c, 3) && im.state == MS_DONE) {
            resp_add_errorf(&c->out, "ERR import %s is already committed", im.id);
            return;
        }
        if (import_running() && same_job(c, 3)) {
            im.state = MS_ABORTED;
            im.end_ms = now_ms();
            set_error(&im, "aborted by the source");
            state_store(IMPORT_KEY, 'X', &im);
            trim_start(1, &im.r);
            log_info("migrate: import %s aborted by the source: dropping what was staged", im.id);
        }
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "verdict") && c->argc == 5) {
        struct mig_ranges r;
        if (mig_ranges_parse(&r, c->argv[4], c->argvlen[4], err, sizeof err) < 0) {
            resp_add_errorf(&c->out, "ERR invalid ranges: %s", err);
            return;
        }
        if (import_running() && same_job(c, 3)) {
            resp_add_simple(&c->out, "importing");
            return;
        }
        int owned = 1;
        for (unsigned s = 0; s < MIG_SLOTS && owned; s++)
            if (mig_ranges_has(&r, s) && !cluster_owns_slot(s)) owned = 0;
        resp_add_simple(&c->out, owned ? "committed" : "aborted");
    } else {
        resp_add_error(&c->out, "ERR unknown STRATA IMPORT subcommand or wrong number of arguments");
    }
}

/* ---------------- STRATA MIGRATE ---------------- */

static const char *job_state(const struct job *j)
{
    if (j->paused && (j->state == MS_COPY || j->state == MS_CATCHUP || j->state == MS_PREPARE))
        return "paused";
    return state_names[j->state];
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
    if (ex.used && c->argvlen[i] == strlen(ex.id) && !memcmp(c->argv[i], ex.id, c->argvlen[i])) return 1;
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
    if (refuse_unless_master(c)) return;
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
    if (export_running() || ex.state == MS_RESOLVE || trim.on) {
        resp_add_errorf(&c->out, "BUSY export job %s is %s on this node: one job at a time", ex.id,
                        trim.on ? "still trimming" : state_names[ex.state]);
        return;
    }
    if (import_running()) {
        resp_add_errorf(&c->out, "BUSY this node is importing (job %s)", im.id);
        return;
    }
    if (c->argvlen[3] == 0 || c->argvlen[3] >= sizeof ex.id || c->argvlen[4] == 0 ||
        c->argvlen[4] > CLUSTER_GROUP_MAX_LEN || memchr(c->argv[4], ' ', c->argvlen[4]) ||
        memchr(c->argv[4], ':', c->argvlen[4]) || c->argvlen[5] == 0 || c->argvlen[5] >= sizeof ex.host) {
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
    job_reset(&ex, 0);
    memcpy(ex.id, c->argv[3], c->argvlen[3]);
    memcpy(ex.peer, c->argv[4], c->argvlen[4]);
    memcpy(ex.host, c->argv[5], c->argvlen[5]);
    ex.port = (int)port;
    ex.r = r;
    ex.rate_mb = rate;
    ex.debug_fence_ms = (uint64_t)fence_hold;
    if (auth) {
        ex.auth = xmalloc(authlen + 1);
        memcpy(ex.auth, auth, authlen);
        ex.auth[authlen] = '\0';
    }
    estimate_totals(&ex);
    ex.state = MS_PREPARE;
    if (export_connect() < 0) {
        ex.state = MS_FAILED;
        ex.end_ms = now_ms();
        resp_add_errorf(&c->out, "ERR cannot connect to %s:%d: %s", ex.host, ex.port, ex.last_error);
        return;
    }
    wal_keep(1); /* before the snapshot: every later record is kept */
    state_store(EXPORT_KEY, 'C', &ex);
    buf rs;
    buf_init(&rs);
    mig_ranges_format(&ex.r, &rs);
    const char *a[6] = { "STRATA", "IMPORT", "PREPARE", ex.id, cluster_self(), rs.data };
    size_t l[6] = { 6, 6, 7, strlen(ex.id), strlen(cluster_self()), rs.len };
    send_cmd(on_prepare, 6, a, l);
    log_info("migrate: export %s of %u slots (%.*s) to %s at %s:%d started", ex.id, r.count, (int)rs.len,
             rs.data, ex.peer, ex.host, ex.port);
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
        ex.state = MS_RESOLVE;
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
        resp_add_array(&c->out, ex.used + im.used);
        if (ex.used) add_job(c, &ex);
        if (im.used) add_job(c, &im);
    } else if ((ARG_IS(c, 2, "pause") || ARG_IS(c, 2, "resume")) && c->argc == 4) {
        if (!find_job(c, 3)) return;
        int pause = ARG_IS(c, 2, "pause");
        if (ex.state != MS_COPY && ex.state != MS_CATCHUP && ex.state != MS_PREPARE) {
            resp_add_errorf(&c->out, "ERR job %s is %s: only a copy or a catch-up can pause or resume",
                            ex.id, state_names[ex.state]);
            return;
        }
        ex.paused = pause;
        if (!pause) export_step_soon();
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "cancel") && c->argc == 4) {
        if (!find_job(c, 3)) return;
        if (ex.state == MS_COMMIT || ex.state == MS_RESOLVE) {
            resp_add_errorf(&c->out, "ERR job %s is in %s: the target decides now", ex.id,
                            state_names[ex.state]);
            return;
        }
        if (!export_running()) {
            resp_add_errorf(&c->out, "ERR job %s is %s", ex.id, state_names[ex.state]);
            return;
        }
        const char *a[4] = { "STRATA", "IMPORT", "ABORT", ex.id };
        size_t l[4] = { 6, 6, 5, strlen(ex.id) };
        if (ex.state == MS_FENCE) {
            /* Fenced: unfence only on the target's word. */
            ex.state = MS_COMMIT; /* the step stops; on_abort_reply decides */
            if (ex.ac) send_cmd(on_abort_reply, 4, a, l);
            else {
                ex.state = MS_RESOLVE;
                resolve_start();
            }
        } else {
            if (ex.ac) send_cmd(NULL, 4, a, l);
            set_error(&ex, "cancelled");
            log_info("migrate: export %s cancelled in %s", ex.id, state_names[ex.state]);
            export_end(MS_ABORTED);
        }
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "rate") && c->argc == 5) {
        if (!find_job(c, 3)) return;
        double r;
        if (parse_rate(c, 4, &r) < 0) return;
        ex.rate_mb = r;
        ex.tokens = 0;
        ex.tokens_us = mono_us();
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
    else if (ARG_IS(c, 1, "import")) import_command(c);
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
               nholds, trim.on, trim.deleted);
    if (ex.used) info_job(o, "export", &ex);
    if (im.used) info_job(o, "import", &im);
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
        if (ex.used) metric_job(o, &ex, i);
        if (im.used) metric_job(o, &im, i);
    }
    buf_printf(o, "# HELP strata_node_migration_parked_clients Clients held by a migration fence\n"
                  "# TYPE strata_node_migration_parked_clients gauge\nstrata_node_migration_parked_clients %zu\n",
               nholds);
}

/* ---------------- recovery at start ---------------- */

static void recover(void)
{
    struct job j;
    char st;
    if (!srv.st) return;
    recovered = 1;
    if (srv.is_replica) return;
    memset(&j, 0, sizeof j);
    if (state_load(IMPORT_KEY, &st, &j)) {
        job_reset(&im, 1);
        memcpy(im.id, j.id, sizeof im.id);
        memcpy(im.peer, j.peer, sizeof im.peer);
        im.r = j.r;
        im.state = MS_ABORTED;
        im.end_ms = now_ms();
        set_error(&im, "node restarted before the commit");
        log_warn("migrate: import %s was not committed before this restart: dropping what was staged",
                 im.id);
        trim_start(1, &im.r);
    }
    memset(&j, 0, sizeof j);
    if (state_load(EXPORT_KEY, &st, &j)) {
        job_reset(&ex, 0);
        memcpy(ex.id, j.id, sizeof ex.id);
        memcpy(ex.peer, j.peer, sizeof ex.peer);
        memcpy(ex.host, j.host, sizeof ex.host);
        ex.port = j.port;
        ex.r = j.r;
        if (st == 'C') {
            set_error(&ex, "node restarted during the copy");
            ex.state = MS_FAILED;
            ex.end_ms = now_ms();
            BG_WRITE({ store_del(srv.st, EXPORT_KEY, sizeof EXPORT_KEY - 1); });
            log_warn("migrate: export %s was copying at this restart: forgotten (start it again)", ex.id);
        } else if (st == 'F') {
            set_error(&ex, "node restarted during the fence");
            ex.state = MS_RESOLVE;
            log_warn("migrate: export %s was fenced at this restart: asking %s:%d for its verdict",
                     ex.id, ex.host, ex.port);
            resolve_start();
        } else if (trim.on) {
            /* an import drop runs: one background delete at a time */
            ex.state = MS_FAILED;
            set_error(&ex, "trim not resumed: a drop was running (restart the node)");
        } else {
            ex.state = MS_TRIM;
            log_info("migrate: export %s: resuming the trim", ex.id);
            trim_start(0, &ex.r);
        }
    }
}

void migrate_release_store(void)
{
    /* Shutting down: the job's state stays as stored ("Rmigrate"), for
     * the restart to resolve; callbacks of the freed link are ignored. */
    ex.gen++;
    if (ex.ac) {
        ex.ac->data = NULL;
        redisAsyncFree(ex.ac);
        ex.ac = NULL;
    }
    export_release_snapshot();
}

static void cron_hook(void)
{
    if (!recovered) recover();
}

static void shutdown_hook(void)
{
    event_free(step_ev);
    event_free(trim_ev);
    event_free(resume_ev);
    event_free(resolve_ev);
    for (size_t i = 0; i < nholds; i++) hold_free(&holds[i]);
    free(holds);
    holds = NULL;
    nholds = capholds = 0;
    free(ex.auth);
    ex.auth = NULL;
    mig_vmap_free(&ex.vset);
    mig_vmap_free(&im.remap);
    buf_free(&trim.cursor);
}

void migrate_register(void)
{
    step_ev = evtimer_new(srv.base, step_cb, NULL);
    trim_ev = evtimer_new(srv.base, trim_cb, NULL);
    resolve_ev = evtimer_new(srv.base, resolve_cb, NULL);
    resume_ev = event_new(srv.base, -1, 0, resume_cb, NULL);
    buf_init(&trim.cursor);
    server_add_dispatch_hook(migrate_dispatch);
    server_add_free_hook(free_hook);
    server_add_cron_hook(cron_hook);
    server_add_shutdown_hook(shutdown_hook);
}
