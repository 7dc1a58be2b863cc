/* blocking: per-key FIFO queues of blocked clients, wake-ups after writes,
 * deadlines.  See blocking.h for the contract.
 *
 * In memory only (a blocked client is a connection, nothing to persist):
 *
 *   keys (hash table)        bkey "list1" --> waiter --> waiter --> ...   FIFO
 *                            bkey "list2" --> waiter
 *   client->bstate           the copied command, retry callback, timer,
 *                            and one waiter per distinct key it waits on
 *   ready (FIFO of bkeys)    keys written since the last serve pass
 *
 * A bkey lives while it has waiters, is on the ready list, or is being
 * served (pinned); the last of the three to end frees it. */
#include "blocking.h"

#include <event2/event.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmdtable.h"
#include "log.h"
#include "slowlog.h"
#include "store.h"
#include "util.h"

struct bkey;

/* One client waiting on one key. */
struct waiter {
    struct bkey *key;
    client *c;
    struct waiter *prev, *next;   /* the key's FIFO */
};

struct bkey {
    struct bkey *hnext;           /* hash chain */
    uint64_t hash;
    struct waiter *head, *tail;
    unsigned long nwaiters;
    struct bkey *rnext;           /* ready FIFO */
    int ready;                    /* on the ready FIFO */
    int pinned;                   /* being served */
    size_t klen;
    char key[];
};

/* Owned by the blocking module; c->bstate is non-NULL exactly while the
 * client is blocked. */
struct block_state {
    uint64_t seq;                 /* identifies this blocking episode */
    block_retry_fn *retry;
    struct event *timer;          /* NULL without a deadline */
    const struct cmd_spec *cmd;
    int argc;
    char **argv;                  /* into argbuf */
    size_t *argvlen;
    char *argbuf;
    int nwaiters;
    struct waiter *waiters;       /* one per distinct key */
};

static struct {
    int inited;
    struct bkey **table;
    size_t nbuckets;              /* power of two, or 0 before the first use */
    size_t nkeys;
    struct bkey *ready_head, *ready_tail;
    struct event *serve_ev;       /* fires at the end of the current callback */
    int serving;
    unsigned long nblocked;
    uint64_t next_seq;
    client **resume;              /* served clients whose input waits */
    size_t nresume, resume_cap;
} bk;

/* ---------------- key table ---------------- */

static uint64_t bkey_hash(const char *k, size_t n)
{
    return hash_bytes(k, n, hash_seed());
}

static struct bkey *bkey_find(const char *k, size_t n, uint64_t h)
{
    if (!bk.nbuckets) return NULL;
    for (struct bkey *e = bk.table[h & (bk.nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0) return e;
    return NULL;
}

static void table_grow(void)
{
    size_t nb = bk.nbuckets ? bk.nbuckets * 2 : 16;
    struct bkey **t = xcalloc(nb, sizeof *t);
    for (size_t i = 0; i < bk.nbuckets; i++) {
        struct bkey *e = bk.table[i];
        while (e) {
            struct bkey *next = e->hnext;
            e->hnext = t[e->hash & (nb - 1)];
            t[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(bk.table);
    bk.table = t;
    bk.nbuckets = nb;
}

static struct bkey *bkey_get(const char *k, size_t n)
{
    uint64_t h = bkey_hash(k, n);
    struct bkey *e = bkey_find(k, n, h);
    if (e) return e;
    if (bk.nkeys >= bk.nbuckets) table_grow();
    e = xcalloc(1, sizeof *e + n + 1);
    e->hash = h;
    e->klen = n;
    memcpy(e->key, k, n);
    e->hnext = bk.table[h & (bk.nbuckets - 1)];
    bk.table[h & (bk.nbuckets - 1)] = e;
    bk.nkeys++;
    return e;
}

/* Free e if nothing refers to it any more. */
static void bkey_release(struct bkey *e)
{
    if (e->nwaiters || e->ready || e->pinned) return;
    struct bkey **pp = &bk.table[e->hash & (bk.nbuckets - 1)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    bk.nkeys--;
    free(e);
}

/* ---------------- blocking and unblocking ---------------- */

static void block_timeout_cb(evutil_socket_t fd, short what, void *arg);

static void state_free(struct block_state *b)
{
    if (b->timer) event_free(b->timer);
    free(b->argv);
    free(b->argvlen);
    free(b->argbuf);
    free(b->waiters);
    free(b);
}

/* Take c off every queue and drop its state.  Does not reply. */
static void block_detach(client *c)
{
    struct block_state *b = c->bstate;
    if (!b) return;
    for (int i = 0; i < b->nwaiters; i++) {
        struct waiter *w = &b->waiters[i];
        struct bkey *e = w->key;
        if (w->prev) w->prev->next = w->next;
        else e->head = w->next;
        if (w->next) w->next->prev = w->prev;
        else e->tail = w->prev;
        e->nwaiters--;
        bkey_release(e);
    }
    c->bstate = NULL;
    c->flags &= ~CLIENT_BLOCKED;
    bk.nblocked--;
    state_free(b);
}

/* c's reply is in c->out: schedule it, and run its pipelined commands
 * once the current serve pass is over (as Redis does for unblocked
 * clients), or now when no pass is running. */
static void block_resume(client *c)
{
    client_pending(c);
    if (bk.serving) {
        if (bk.nresume == bk.resume_cap) {
            bk.resume_cap = bk.resume_cap ? bk.resume_cap * 2 : 16;
            bk.resume = xrealloc(bk.resume, bk.resume_cap * sizeof *bk.resume);
        }
        bk.resume[bk.nresume++] = c;
        return;
    }
    if (c->qbuf.len && !(c->flags & CLIENT_CLOSE_ASAP)) client_process_input(c);
}

int block_denied(const client *c)
{
    return (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)) != 0;
}

int block_parse_timeout(client *c, int argi, uint64_t *deadline_ms)
{
    long double v;
    if (str2ld(c->argv[argi], c->argvlen[argi], &v) < 0) {
        resp_add_error(&c->out, "ERR timeout is not a float or out of range");
        return -1;
    }
    /* Redis rounds seconds*1000 up (ceill) to a long long, so 0.0001 is
     * 1 ms, not 0 (wait forever), and -0.0001 is 0; on x86 a value out
     * of range (inf, 1e400, 1e18) becomes LLONG_MIN and is then reported
     * as negative.  Do the same without the undefined conversion. */
    long double ms = ceill(v * 1000.0L);
    long long t;
    if (!(ms > -9.2233720368547758e18L && ms < 9.2233720368547758e18L)) t = -1;
    else t = (long long)ms;
    if (t < 0) {
        resp_add_error(&c->out, "ERR timeout is negative");
        return -1;
    }
    if (t == 0) {
        *deadline_ms = 0;
        return 0;
    }
    uint64_t now = now_ms();
    *deadline_ms = (uint64_t)t > UINT64_MAX - now ? UINT64_MAX : now + (uint64_t)t;
    return 0;
}

int block_client(client *c, int first, int nkeys, int step, uint64_t deadline_ms,
                 block_retry_fn *retry)
{
    if (block_denied(c)) return -1;
    block_init();
    struct block_state *b = xcalloc(1, sizeof *b);
    b->seq = ++bk.next_seq;
    b->retry = retry;
    b->cmd = c->cmd;

    /* Copy the arguments: they point into the query buffer, which is
     * consumed as soon as this command returns. */
    size_t total = 0;
    for (int i = 0; i < c->argc; i++) total += c->argvlen[i] + 1;
    b->argc = c->argc;
    b->argv = xmalloc((size_t)c->argc * sizeof *b->argv);
    b->argvlen = xmalloc((size_t)c->argc * sizeof *b->argvlen);
    b->argbuf = xmalloc(total ? total : 1);
    char *p = b->argbuf;
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i], c->argvlen[i]);
        p[c->argvlen[i]] = '\0';
        b->argv[i] = p;
        b->argvlen[i] = c->argvlen[i];
        p += c->argvlen[i] + 1;
    }

    /* One waiter per distinct key (BLPOP k k waits once on k). */
    b->waiters = xcalloc((size_t)(nkeys > 0 ? nkeys : 1), sizeof *b->waiters);
    for (int j = 0; j < nkeys; j++) {
        int i = first + j * step;
        struct bkey *e = bkey_get(c->argv[i], c->argvlen[i]);
        int dup = 0;
        for (int k = 0; k < b->nwaiters; k++)
            if (b->waiters[k].key == e) dup = 1;
        if (dup) continue;
        struct waiter *w = &b->waiters[b->nwaiters++];
        w->key = e;
        w->c = c;
        w->prev = e->tail;
        if (e->tail) e->tail->next = w;
        else e->head = w;
        e->tail = w;
        e->nwaiters++;
    }

    if (deadline_ms && srv.base) {
        uint64_t now = now_ms();
        uint64_t left = deadline_ms > now ? deadline_ms - now : 0;
        /* libevent wants a timeval; a century is "forever" in practice. */
        if (left > UINT64_C(3153600000000)) left = UINT64_C(3153600000000);
        struct timeval tv = { (time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000) };
        b->timer = evtimer_new(srv.base, block_timeout_cb, c);
        evtimer_add(b->timer, &tv);
    }
    c->bstate = b;
    c->flags |= CLIENT_BLOCKED;
    bk.nblocked++;
    return 0;
}

static void block_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    (void)fd;
    (void)what;
    block_detach(c);
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    resp_add_null_array(&c->out, c->resp);
    block_resume(c);
}

int block_unblock(client *c, int error)
{
    if (!c->bstate) return -1;
    block_detach(c);
    if (error) resp_add_error(&c->out, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else resp_add_null_array(&c->out, c->resp);
    block_resume(c);
    return 0;
}

unsigned long block_unblock_all(const char *msg)
{
    unsigned long n = 0;
    for (client *c = srv.clients; c; c = c->next) {
        if (!c->bstate) continue;
        block_detach(c);
        resp_add_error(&c->out, msg);
        block_resume(c);
        n++;
    }
    return n;
}

unsigned long block_unblock_keys(int (*reply)(client *c, const char *key, size_t klen))
{
    unsigned long n = 0;
    if (!bk.nblocked) return 0;
    for (client *c = srv.clients; c; c = c->next) {
        struct block_state *b = c->bstate;
        if (!b) continue;
        for (int i = 0; i < b->nwaiters; i++) {
            struct bkey *e = b->waiters[i].key;
            if (!reply(c, e->key, e->klen)) continue;
            block_detach(c);
            block_resume(c);
            n++;
            break;
        }
    }
    return n;
}

unsigned long block_count(void)
{
    return bk.nblocked;
}

/* ---------------- waking ---------------- */

void block_signal_key(const char *key, size_t klen)
{
    if (!bk.nkeys) return;
    struct bkey *e = bkey_find(key, klen, bkey_hash(key, klen));
    if (!e || e->ready || !e->nwaiters) return;
    e->ready = 1;
    e->rnext = NULL;
    if (bk.ready_tail) bk.ready_tail->rnext = e;
    else bk.ready_head = e;
    bk.ready_tail = e;
    if (bk.serve_ev && !bk.serving) event_active(bk.serve_ev, EV_TIMEOUT, 0);
}

/* Run c's retry as a command of c's (so its writes are rolled back on an
 * error, and replication and WATCH see them), then unblock it if served. */
static int block_retry(client *c, struct bkey *e)
{
    struct block_state *b = c->bstate;
    const char *err = NULL;
    /* Writes may have become forbidden while c waited: keep waiting. */
    if (srv.is_replica || srv.write_error ||
        (srv.write_allowed && !srv.write_allowed(c, &err)))
        return 0;
    c->argc = b->argc;
    c->argv = b->argv;
    c->argvlen = b->argvlen;
    c->cmd = b->cmd;
    size_t mark = store_mark(srv.st);
    size_t out_before = c->out.len;
    uint64_t t0 = now_us();
    srv.cmd_time_ms = t0 / 1000u;
    client *prev = srv.current;
    srv.current = c;
    int served = b->retry(c, e->key, e->klen);
    srv.current = prev;
    /* A served command enters the slow log now, with the time it took to
     * serve (Redis 7.0 logs it when served, never when it blocked). */
    if (served) {
        uint64_t t1 = now_us();
        slowlog_offer(c, t1 > t0 ? t1 - t0 : 0);
    }
    if (store_mark(srv.st) != mark) {
        int failed = c->out.len > out_before && c->out.data[out_before] == '-';
        if (!served || failed) {
            store_rollback(srv.st, mark);
        } else {
            srv.dirty++;
            server_notify_write(c, mark);
        }
    }
    c->argc = 0;
    c->argv = NULL;
    c->argvlen = NULL;
    if (!served) {
        c->out.len = out_before; /* a retry that keeps waiting says nothing */
        return 0;
    }
    block_detach(c);
    block_resume(c);
    return 1;
}

/* Offer the ready key e to its waiters, oldest first. */
static void block_serve_key(struct bkey *e)
{
    unsigned long n = e->nwaiters;
    if (!n) return;
    /* The queue changes while we walk it (served clients leave, resumed
     * input may block anew): walk a snapshot of who waited when the key
     * became ready, identified by their blocking episode. */
    struct snap { client *c; uint64_t seq; } *s = xmalloc(n * sizeof *s);
    unsigned long i = 0;
    for (struct waiter *w = e->head; w && i < n; w = w->next, i++) {
        s[i].c = w->c;
        s[i].seq = w->c->bstate->seq;
    }
    e->pinned = 1;
    for (unsigned long j = 0; j < i; j++) {
        client *c = s[j].c;
        if (!c->bstate || c->bstate->seq != s[j].seq) continue;
        if (c->flags & CLIENT_CLOSE_ASAP) continue; /* gone: must not take data */
        if (!block_retry(c, e)) break;
    }
    e->pinned = 0;
    free(s);
}

/* Offer every ready key to its waiters (bk.serving set by the caller). */
static void serve_ready_keys(void)
{
    while (bk.ready_head) {
        struct bkey *e = bk.ready_head;
        bk.ready_head = e->rnext;
        if (!bk.ready_head) bk.ready_tail = NULL;
        e->ready = 0;
        block_serve_key(e);
        bkey_release(e);
    }
}

static void block_serve(void)
{
    if (bk.serving) return;
    bk.serving = 1;
    while (bk.ready_head || bk.nresume) {
        serve_ready_keys();
        /* Now the served clients' pipelined commands, which may write
         * (and make keys ready again) or block again. */
        size_t n = bk.nresume;
        client **list = bk.resume;
        bk.resume = NULL;
        bk.nresume = bk.resume_cap = 0;
        bk.serving = 0;
        for (size_t i = 0; i < n; i++) {
            client *c = list[i];
            if (c && !c->bstate && c->qbuf.len && !(c->flags & CLIENT_CLOSE_ASAP))
                client_process_input(c);
        }
        free(list);
        bk.serving = 1;
    }
    bk.serving = 0;
}

void block_serve_ready(void)
{
    if (bk.serving || !bk.ready_head) return;
    bk.serving = 1;
    serve_ready_keys();
    bk.serving = 0;
    /* The served clients' own pipelined input runs from the event. */
    if (bk.nresume && bk.serve_ev) event_active(bk.serve_ev, EV_TIMEOUT, 0);
}

static void block_serve_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    block_serve();
}

/* Every command that wrote: its keys may have become poppable. */
static void block_write_hook(client *c, size_t mark)
{
    (void)mark;
    if (!bk.nkeys || !c || !c->cmd || !c->argv) return;
    int small[16], *idx;
    int n = cmd_key_positions(c, small, 16, &idx);
    for (int i = 0; i < n; i++) block_signal_key(c->argv[idx[i]], c->argvlen[idx[i]]);
    if (idx != small) free(idx);
}

static void block_free_hook(client *c)
{
    block_detach(c);
    /* A client freed while waiting to resume must not be touched later. */
    for (size_t i = 0; i < bk.nresume; i++)
        if (bk.resume[i] == c) bk.resume[i] = NULL;
}

void block_init(void)
{
    if (bk.inited) return;
    bk.inited = 1;
    if (srv.base) bk.serve_ev = event_new(srv.base, -1, 0, block_serve_cb, NULL);
    server_add_write_hook(block_write_hook);
    server_add_free_hook(block_free_hook);
}
