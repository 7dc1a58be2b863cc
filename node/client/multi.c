/* multi: transactions — MULTI, EXEC, DISCARD, WATCH, UNWATCH — with Redis
 * 7.0's semantics, and the one commit an EXEC makes.
 *
 *   MULTI ----> every command is checked by the dispatcher (unknown name,
 *               arity, auth: an error there flags CLIENT_DIRTY_EXEC), then
 *               multi_queue() copies its arguments (the originals live in the
 *               query buffer, which is consumed) and replies +QUEUED
 *   EXEC  ----> DIRTY_EXEC: -EXECABORT;  DIRTY_CAS (or a WATCHed key has
 *               expired since WATCH): null array;  else every queued command
 *               runs through server_call with CLIENT_IN_EXEC set, replies
 *               gathered under one array header
 *
 * Atomicity on disk: server_call never commits early while CLIENT_IN_EXEC is
 * set, so the writes of the whole queue sit in one pending batch and reach
 * LevelDB as one write at the end of the loop iteration (fsync'd under
 * `fsync: always`): after a crash either all of them are there or none.  A
 * queued command that answers an error has its own writes rolled back by
 * server_call, as Redis leaves a failed command without effect while the
 * rest of the transaction still runs.
 *
 * Replication: the write hooks fire once per queued command (CLIENT_IN_EXEC
 * set), then once for the EXEC command itself with the mark taken before
 * the queue ran.  The WAL skips the former and writes ONE record from the
 * latter; see multi.h.
 *
 * WATCH: a hash table maps each watched key to the clients watching it
 * (one entry per client and key).  A write hook finds the keys a write
 * changed and flags their watchers CLIENT_DIRTY_CAS:
 *   - every 'M' (meta) key in the write's operation log: deletes,
 *     overwrites, expiry, RENAME, FLUSHALL, count changes, strings;
 *   - for the key arguments of the writing command that are watched, any
 *     'D'/'Z' subkey of their current version in the operation log (a hash
 *     field overwritten in place changes no meta record).
 * Deriving changes from the operation log rather than from the argument
 * list keeps source keys that a command only reads (SINTERSTORE's inputs,
 * COPY's source) from invalidating a WATCH, as in Redis.  Background
 * writes (active expiry, c == NULL) are covered by the first rule.
 *
 * Expiry, as Redis 7.0 does it: a key whose record had already expired at
 * WATCH time is remembered as such; if it is then removed (expiry, or
 * a write that leaves it absent) nothing logically changed and the WATCH
 * holds.  A key that was live at WATCH and has expired by EXEC time fails
 * the EXEC even if nothing removed it yet. */
#include "multi.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "store.h"
#include "tracking.h"
#include "util.h"

/* A queued command.  One allocation holds, in order: the argv pointers,
 * the lengths, and the bytes of every argument (NUL-terminated, as the
 * parser's are, for handlers that rely on it). */
struct mcmd {
    const struct cmd_spec *cmd;
    int argc;
    char **argv;        /* points into mem */
    size_t *argvlen;    /* points into mem */
    size_t bytes;       /* size of mem, for the queue's limit */
    void *mem;          /* owned */
};

/* One key watched by one client.  Linked in a bucket of the global table
 * and listed in the client's multi_state. */
struct wentry {
    struct wentry *next;    /* bucket chain */
    client *c;
    uint64_t hash;
    unsigned expired;       /* the record existed but had expired at WATCH */
    unsigned gen;           /* last write-hook pass that touched it */
    size_t klen;
    char key[];
};

struct multi_state {
    struct mcmd *q;
    int nq, capq;
    size_t qbytes;          /* memory held by the queue */
    struct wentry **w;      /* this client's watched keys */
    int nw, capw;
};

static const char ERR_EXECABORT[] = "EXECABORT Transaction discarded because of previous errors.";
static const char ERR_READONLY[] = "READONLY You can't write against a read only replica.";

/* Watched keys of every client: a chained hash table, power-of-two size. */
static struct wentry **wtab;
static size_t wtab_size;
static unsigned long wcount;
static unsigned touch_gen;

/* ---------------- the watched-key table ---------------- */

static uint64_t key_hash(const char *k, size_t kl)
{
    return hash_bytes(k, kl, hash_seed());
}

static void wtab_grow(void)
{
    size_t nsize = wtab_size ? wtab_size * 2 : 64;
    struct wentry **nt = xcalloc(nsize, sizeof *nt);
    for (size_t i = 0; i < wtab_size; i++) {
        struct wentry *e = wtab[i];
        while (e) {
            struct wentry *nx = e->next;
            size_t b = e->hash & (nsize - 1);
            e->next = nt[b];
            nt[b] = e;
            e = nx;
        }
    }
    free(wtab);
    wtab = nt;
    wtab_size = nsize;
}

static int wentry_is(const struct wentry *e, uint64_t h, const char *k, size_t kl)
{
    return e->hash == h && e->klen == kl && (kl == 0 || memcmp(e->key, k, kl) == 0);
}

static int key_is_watched(const char *k, size_t kl)
{
    if (!wcount) return 0;
    uint64_t h = key_hash(k, kl);
    for (struct wentry *e = wtab[h & (wtab_size - 1)]; e; e = e->next)
        if (wentry_is(e, h, k, kl)) return 1;
    return 0;
}

void multi_queue_stats(const client *c, int *count, size_t *bytes)
{
    *count = c->mstate ? c->mstate->nq : 0;
    *bytes = c->mstate ? c->mstate->qbytes : 0;
}

static struct multi_state *mstate_get(client *c)
{
    if (!c->mstate) c->mstate = xcalloc(1, sizeof *c->mstate);
    return c->mstate;
}

static void watch_key(client *c, const char *k, size_t kl)
{
    struct multi_state *ms = mstate_get(c);
    uint64_t h = key_hash(k, kl);
    for (int i = 0; i < ms->nw; i++)
        if (wentry_is(ms->w[i], h, k, kl)) return; /* already watched */
    struct meta m;
    meta_init(&m);
    int t = db_lookup_raw(k, kl, &m);
    unsigned expired = t == T_NONE && m.expired;
    meta_free(&m);

    if (wcount + 1 > wtab_size * 2) wtab_grow();
    struct wentry *e = xmalloc(sizeof *e + (kl ? kl : 1));
    e->c = c;
    e->hash = h;
    e->expired = expired;
    e->gen = touch_gen;
    e->klen = kl;
    if (kl) memcpy(e->key, k, kl);
    size_t b = h & (wtab_size - 1);
    e->next = wtab[b];
    wtab[b] = e;
    wcount++;
    if (ms->nw == ms->capw) {
        ms->capw = ms->capw ? ms->capw * 2 : 8;
        ms->w = xrealloc(ms->w, sizeof *ms->w * (size_t)ms->capw);
    }
    ms->w[ms->nw++] = e;
}

static void unwatch_all(client *c)
{
    struct multi_state *ms = c->mstate;
    if (!ms) return;
    for (int i = 0; i < ms->nw; i++) {
        struct wentry *e = ms->w[i];
        struct wentry **pp = &wtab[e->hash & (wtab_size - 1)];
        while (*pp != e) pp = &(*pp)->next;
        *pp = e->next;
        free(e);
        wcount--;
    }
    ms->nw = 0;
}

/* 1 if the key has no record at all (neither live nor expired). */
static int key_absent(const char *k, size_t kl)
{
    struct meta m;
    meta_init(&m);
    int t = db_lookup_raw(k, kl, &m);
    int absent = t == T_NONE && !m.expired;
    meta_free(&m);
    return absent;
}

/* A write changed key k: flag its watchers (once per hook pass). */
static void touch_key(const char *k, size_t kl)
{
    uint64_t h = key_hash(k, kl);
    int absent = -1; /* not looked up yet */
    for (struct wentry *e = wtab[h & (wtab_size - 1)]; e; e = e->next) {
        if (!wentry_is(e, h, k, kl) || e->gen == touch_gen) continue;
        e->gen = touch_gen;
        if (e->c->flags & CLIENT_DIRTY_CAS) continue;
        if (e->expired) {
            /* Expired at WATCH time: its removal is no logical change. */
            if (absent < 0) absent = key_absent(k, kl);
            if (absent) {
                e->expired = 0;
                continue;
            }
        }
        e->c->flags |= CLIENT_DIRTY_CAS;
    }
}

/* Walk an operation log (store.h: op:1 | klen:4 | key | [vlen:4 | value]).
 * Calls fn for each key; stops early if fn returns non-zero (and returns
 * that value). */
static int ops_walk(const char *ops, size_t len, int (*fn)(const char *k, size_t kl, void *arg),
                    void *arg)
{
    const char *p = ops, *end = ops + len;
    while (end - p >= 5) {
        char op = p[0];
        size_t kl = get_u32be((const unsigned char *)p + 1);
        const char *k = p + 5;
        p = k + kl;
        if (op == 'P') {
            if (end - p < 4) break;
            p += 4 + get_u32be((const unsigned char *)p);
        }
        if (p > end) break;
        int r = fn(k, kl, arg);
        if (r) return r;
    }
    return 0;
}

/* The one "key modified" signal (Redis's signalModifiedKey): WATCHes of
 * the key fail, and client-side caches of it are invalidated.  `cur` is
 * the client whose command changed it, or NULL. */
static void signal_key(client *cur, const char *k, size_t kl)
{
    if (wcount) touch_key(k, kl);
    tracking_invalidate_key(cur, k, kl);
}

/* 1 if a change of the key has anyone to tell. */
static int key_is_interesting(const char *k, size_t kl)
{
    return key_is_watched(k, kl) || tracking_wants_key(k, kl);
}

static int touch_meta_op(const char *k, size_t kl, void *arg)
{
    if (kl >= 1 && k[0] == 'M') signal_key(arg, k + 1, kl - 1);
    return 0;
}

static int is_subkey_of(const char *k, size_t kl, void *arg)
{
    const unsigned char *ver = arg; /* 8 bytes, big endian */
    return kl >= SUBKEY_PREFIX && (k[0] == 'D' || k[0] == 'Z') && memcmp(k + 1, ver, 8) == 0;
}

/* Write hook: signal every key the write changed. */
static void multi_write_hook(client *c, size_t mark)
{
    if (!wcount && !tracking_active()) return;
    /* EXEC's own notification repeats its queued commands' changes, which
     * were seen one by one. */
    if (c && c->cmd && (c->cmd->id == CMD_EXEC || c->cmd->id == CMD_EVAL || c->cmd->id == CMD_EVALSHA ||
                        c->cmd->id == CMD_EVAL_RO || c->cmd->id == CMD_EVALSHA_RO ||
                        c->cmd->id == CMD_FCALL || c->cmd->id == CMD_FCALL_RO))
        return; /* a script's commands were seen one by one too */
    touch_gen++;
    size_t len;
    const char *ops = store_ops(srv.st, mark, &len);
    ops_walk(ops, len, touch_meta_op, c);

    if (!c || !c->cmd || !c->argv) return;
    /* A consumer group's reads move its PEL and cursor, subkeys of the
     * stream, but Redis does not count that as modifying the key (no
     * signalModifiedKey): a WATCH on the stream holds through them. */
    if (c->cmd->id == CMD_XREADGROUP) return;
    int stackpos[16], *pos;
    int n = cmd_key_positions(c, stackpos, 16, &pos);
    struct meta m;
    meta_init(&m);
    for (int i = 0; i < n; i++) {
        const char *k = c->argv[pos[i]];
        size_t kl = c->argvlen[pos[i]];
        if (!key_is_interesting(k, kl)) continue;
        db_lookup_raw(k, kl, &m);
        if (!m.version) continue;
        unsigned char ver[8];
        put_u64be(ver, m.version);
        if (ops_walk(ops, len, is_subkey_of, ver)) signal_key(c, k, kl);
    }
    meta_free(&m);
    if (pos != stackpos) free(pos);
}

/* A replica's subkey change: the tracked key of that version, if any. */
static int track_subkey_op(const char *k, size_t kl, void *arg)
{
    (void)arg;
    if (kl >= SUBKEY_PREFIX && (k[0] == 'D' || k[0] == 'Z'))
        tracking_invalidate_version(get_u64be((const unsigned char *)k + 1));
    return 0;
}

struct version_set {
    uint64_t v[64];
    int n, overflow;
};

static int collect_version(const char *k, size_t kl, void *arg)
{
    struct version_set *vs = arg;
    if (kl < SUBKEY_PREFIX || (k[0] != 'D' && k[0] != 'Z')) return 0;
    uint64_t v = get_u64be((const unsigned char *)k + 1);
    for (int i = vs->n - 1; i >= 0; i--)
        if (vs->v[i] == v) return 0;
    if (vs->n == 64) {
        vs->overflow = 1;
        return 1;
    }
    vs->v[vs->n++] = v;
    return 0;
}

void multi_signal_ops(const char *ops, size_t len)
{
    if (!wcount && !tracking_active()) return;
    touch_gen++;
    ops_walk(ops, len, touch_meta_op, NULL);
    if (tracking_active()) ops_walk(ops, len, track_subkey_op, NULL);
    if (!wcount) return;
    /* Subkey-only changes: compare the versions they carry with the
     * current version of every watched key. */
    struct version_set vs = { .n = 0, .overflow = 0 };
    ops_walk(ops, len, collect_version, &vs);
    if (!vs.n) return;
    struct meta m;
    meta_init(&m);
    for (size_t b = 0; b < wtab_size; b++) {
        for (struct wentry *e = wtab[b]; e; e = e->next) {
            if (e->gen == touch_gen || (e->c->flags & CLIENT_DIRTY_CAS)) continue;
            db_lookup_raw(e->key, e->klen, &m);
            if (!m.version) continue;
            int hit = vs.overflow; /* too many collections changed: assume it */
            for (int i = 0; i < vs.n && !hit; i++) hit = vs.v[i] == m.version;
            if (hit) touch_key(e->key, e->klen);
        }
    }
    meta_free(&m);
}

void multi_touch_key(const char *key, size_t klen)
{
    touch_gen++;
    signal_key(srv.current, key, klen);
}

void multi_signal_flush(client *c)
{
    tracking_invalidate_all(c);
}

void multi_touch_existing(void)
{
    /* Called in pairs around a replacement of the data (multi.h): caches
     * are told once, before, as Redis's emptyData tells them. */
    static int before = 1;
    if (before && tracking_active()) tracking_invalidate_all(NULL);
    before = !before;
    if (!wcount) return;
    struct meta m;
    meta_init(&m);
    for (size_t b = 0; b < wtab_size; b++) {
        for (struct wentry *e = wtab[b]; e; e = e->next) {
            if (e->c->flags & CLIENT_DIRTY_CAS) continue;
            if (db_lookup_raw(e->key, e->klen, &m) != T_NONE || m.expired)
                e->c->flags |= CLIENT_DIRTY_CAS;
        }
    }
    meta_free(&m);
}

/* Redis 7.0 fails an EXEC if a key that was live at WATCH time has expired
 * since, even before anything removed it. */
static int watched_key_expired(client *c)
{
    struct multi_state *ms = c->mstate;
    if (!ms || !ms->nw) return 0;
    struct meta m;
    meta_init(&m);
    int expired = 0;
    for (int i = 0; i < ms->nw && !expired; i++) {
        struct wentry *e = ms->w[i];
        if (e->expired) continue;
        if (db_lookup_raw(e->key, e->klen, &m) == T_NONE && m.expired) expired = 1;
    }
    meta_free(&m);
    return expired;
}

/* ---------------- the queue ---------------- */

static void queue_clear(struct multi_state *ms)
{
    for (int i = 0; i < ms->nq; i++) free(ms->q[i].mem);
    ms->nq = 0;
    ms->qbytes = 0;
    if (ms->capq > 64) {
        free(ms->q);
        ms->q = NULL;
        ms->capq = 0;
    }
}

/* Leave the MULTI state: drop the queue, the flags and every WATCH. */
static void multi_discard(client *c)
{
    if (c->mstate) {
        queue_clear(c->mstate);
        unwatch_all(c);
    }
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
}

void multi_abort_exec(client *c, size_t from)
{
    if (c->out.len <= from || c->out.data[from] != '-') return;
    const char *e = c->out.data + from + 1;
    size_t n = c->out.len - from - 1;
    if (n >= 2 && e[n - 2] == '\r' && e[n - 1] == '\n') n -= 2;
    /* Redis words its generic refusals (arity) without the ERR code here */
    if (n >= 4 && !memcmp(e, "ERR ", 4)) {
        e += 4;
        n -= 4;
    }
    char *why = xmalloc(n + 1);
    memcpy(why, e, n);
    why[n] = '\0';
    c->out.len = from;
    multi_discard(c);
    resp_add_errorf(&c->out, "EXECABORT Transaction discarded because of: %s", why);
    free(why);
}

/* server_multi_queue: called by the dispatcher for every command (already
 * checked for name, arity and auth) while CLIENT_MULTI is set. */
static void multi_queue(client *c)
{
    /* Redis 7.0 flags SHUTDOWN and PSYNC (and SAVE and SYNC, which
     * strata-node does not have) no-multi: refused before anything else
     * is checked, and the transaction is aborted.  Queued, a SHUTDOWN
     * would stop the server at EXEC. */
    if (c->cmd->id == CMD_SHUTDOWN || c->cmd->id == CMD_PSYNC) {
        resp_add_error(&c->out, "ERR Command not allowed inside a transaction");
        c->flags |= CLIENT_DIRTY_EXEC;
        return;
    }
    if ((c->cmd->flags & CF_WRITE) && srv.is_replica && !(c->flags & CLIENT_MASTER)) {
        resp_add_error(&c->out, ERR_READONLY);
        c->flags |= CLIENT_DIRTY_EXEC;
        return;
    }
    struct multi_state *ms = mstate_get(c);
    /* A transaction that will abort anyway need not hold its commands. */
    if (!(c->flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC))) {
        size_t bytes = (sizeof(char *) + sizeof(size_t)) * (size_t)c->argc;
        for (int i = 0; i < c->argc; i++) bytes += c->argvlen[i] + 1;
        /* The queue counts against the query buffer limit: a client must
         * not grow the server's memory without bound through MULTI. */
        if ((long long)(ms->qbytes + bytes) > srv.cfg.client_query_buffer_limit) {
            resp_add_error(&c->out, "ERR transaction too large: the queued commands exceed "
                                    "client-query-buffer-limit");
            c->flags |= CLIENT_DIRTY_EXEC;
            queue_clear(ms);
            return;
        }
        if (ms->nq == ms->capq) {
            ms->capq = ms->capq ? ms->capq * 2 : 8;
            ms->q = xrealloc(ms->q, sizeof *ms->q * (size_t)ms->capq);
        }
        struct mcmd *q = &ms->q[ms->nq++];
        q->cmd = c->cmd;
        q->argc = c->argc;
        q->bytes = bytes;
        q->mem = xmalloc(bytes);
        q->argv = q->mem;
        q->argvlen = (size_t *)(q->argv + c->argc);
        char *data = (char *)(q->argvlen + c->argc);
        for (int i = 0; i < c->argc; i++) {
            q->argv[i] = data;
            q->argvlen[i] = c->argvlen[i];
            if (c->argvlen[i]) memcpy(data, c->argv[i], c->argvlen[i]);
            data[c->argvlen[i]] = '\0';
            data += c->argvlen[i] + 1;
        }
        ms->qbytes += bytes;
    }
    resp_add_simple(&c->out, "QUEUED");
}

/* ---------------- commands ---------------- */

static void multi_command(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        resp_add_error(&c->out, "ERR MULTI calls can not be nested");
        return;
    }
    mstate_get(c);
    c->flags |= CLIENT_MULTI;
    resp_add_ok(&c->out);
}

static void discard_command(client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        resp_add_error(&c->out, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard(c);
    resp_add_ok(&c->out);
}

/* The checks server_call makes before a write, made once for the whole
 * transaction so that a refused write aborts all of it instead of failing
 * some commands while the others run.  Returns NULL or the error text. */
static const char *exec_write_refusal(client *c)
{
    const char *err = NULL;
    if (srv.is_replica && !(c->flags & CLIENT_MASTER)) return ERR_READONLY;
    if (srv.write_error)
        return "MISCONF Errors writing to the data directory: "
               "writes are refused until a commit succeeds (see the node log)";
    if (srv.write_allowed && !(c->flags & CLIENT_MASTER) && !srv.write_allowed(c, &err))
        return err ? err : "ERR write refused";
    return NULL;
}

static void exec_command(client *c)
{
    struct multi_state *ms = c->mstate;
    if (!(c->flags & CLIENT_MULTI) || !ms) {
        resp_add_error(&c->out, "ERR EXEC without MULTI");
        return;
    }
    if (watched_key_expired(c)) c->flags |= CLIENT_DIRTY_CAS;
    if (c->flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC)) {
        if (c->flags & CLIENT_DIRTY_EXEC) resp_add_error(&c->out, ERR_EXECABORT);
        else resp_add_null_array(&c->out, c->resp);
        multi_discard(c);
        return;
    }
    for (int i = 0; i < ms->nq; i++) {
        if (!(ms->q[i].cmd->flags & CF_WRITE)) continue;
        const char *err = exec_write_refusal(c);
        if (err) {
            multi_discard(c);
            resp_add_errorf(&c->out, "EXECABORT Transaction discarded because of: %s", err);
            return;
        }
        break;
    }
    /* Our own WATCHes have done their job; keeping them would only make
     * the queue's writes flag this client. */
    unwatch_all(c);

    int argc = c->argc;
    char **argv = c->argv;
    size_t *argvlen = c->argvlen;
    const struct cmd_spec *cmd = c->cmd;
    c->flags |= CLIENT_IN_EXEC;
    resp_add_array(&c->out, ms->nq);
    for (int i = 0; i < ms->nq; i++) {
        struct mcmd *q = &ms->q[i];
        c->argc = q->argc;
        c->argv = q->argv;
        c->argvlen = q->argvlen;
        c->cmd = q->cmd;
        if (node_acl_exec_check(c)) continue;
        server_call(c);
    }
    c->flags &= ~CLIENT_IN_EXEC;
    c->argc = argc;
    c->argv = argv;
    c->argvlen = argvlen;
    c->cmd = cmd;
    multi_discard(c);
}

static void watch_command(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        resp_add_error(&c->out, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* No point in watching once the EXEC is bound to fail. */
    if (!(c->flags & CLIENT_DIRTY_CAS))
        for (int i = 1; i < c->argc; i++) watch_key(c, ARG(c, i));
    resp_add_ok(&c->out);
}

static void unwatch_command(client *c)
{
    unwatch_all(c);
    c->flags &= ~CLIENT_DIRTY_CAS;
    resp_add_ok(&c->out);
}

/* Free hook: a closing client leaves its queue and its WATCHes. */
static void multi_free_hook(client *c)
{
    struct multi_state *ms = c->mstate;
    if (!ms) return;
    queue_clear(ms);
    unwatch_all(c);
    free(ms->q);
    free(ms->w);
    free(ms);
    c->mstate = NULL;
}

void multi_register(void)
{
    server_register(CMD_MULTI, multi_command);
    server_register(CMD_EXEC, exec_command);
    server_register(CMD_DISCARD, discard_command);
    server_register(CMD_WATCH, watch_command);
    server_register(CMD_UNWATCH, unwatch_command);
    server_multi_queue = multi_queue;
    server_add_write_hook(multi_write_hook);
    server_add_free_hook(multi_free_hook);
}
