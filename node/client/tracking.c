/* tracking: client-side caching invalidation (see tracking.h).
 *
 *   key table (default mode)          prefix table (BCAST mode)
 *   "user:1" -> [id 7, id 9]          "" -> clients [c3]      keys {...}
 *   "cart:4" -> [id 7]                "user:" -> clients [c5] keys {"user:1"}
 *
 * The key table holds client ids, not pointers: a client that turned
 * tracking off (or left) keeps its entries, which are skipped when the key
 * changes, as Redis does; the entry goes at the first change either way.
 * tracking_table_max_keys bounds the table: past it, keys are invalidated
 * (sent to their clients and forgotten) before each command and in the
 * cron until it fits again.
 *
 * The prefix table is kept sorted by prefix (Redis walks a radix tree), and
 * the keys a prefix collected are sorted and deduplicated before they go
 * out at the end of the loop iteration (sleep hook), each remembering the
 * first client that changed it in that iteration (for NOLOOP).
 *
 * Ownership: this module owns every client's tracking_state, the tables
 * and the copies of keys and prefixes in them; clients are referenced by
 * pointer only from the prefix table and the free hook removes them
 * there before they are freed. */
#include "tracking.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "subcmd.h"
#include "util.h"

#define TRK_ON      (1u << 0)
#define TRK_BCAST   (1u << 1)
#define TRK_OPTIN   (1u << 2)
#define TRK_OPTOUT  (1u << 3)
#define TRK_NOLOOP  (1u << 4)
#define TRK_CACHING (1u << 5)   /* CLIENT CACHING given for the next command */
#define TRK_BROKEN  (1u << 6)   /* the redirect target went away */

struct bytes {
    char *p;                    /* owned */
    size_t len;
};

/* An invalidation held until the client's command has replied; a NULL key
 * is the "everything" of a flush. */
struct pending {
    char *key;                  /* owned, or NULL */
    size_t klen;
};

struct tracking_state {
    unsigned flags;
    uint64_t redir;             /* client id, 0 for none */
    struct bytes *prefixes;     /* BCAST prefixes, sorted */
    size_t nprefixes;
    struct pending *pend;
    size_t npend, cappend;
};

struct tentry {
    struct tentry *next;
    struct tentry *vnext;       /* chain of the version index */
    uint64_t version;           /* the collection's version when tracked, or 0 */
    uint64_t hash;
    uint64_t *ids;              /* owned */
    size_t nids, capids;
    size_t klen;
    char key[];
};

struct bkey {
    char *key;                  /* owned */
    size_t klen;
    uint64_t by;                /* id of the first client that changed it */
    size_t seq;                 /* arrival order, for a stable sort */
};

struct prefix {
    struct bytes p;
    client **clients;           /* owned array */
    size_t nclients, capclients;
    struct bkey *keys;          /* owned; changed keys of this iteration */
    size_t nkeys, capkeys;
};

static struct tentry **ttab;
static size_t ttab_size;        /* power of two, or 0 */
/* Tracked collections by version: a replica applies its master's changes
 * as raw subkey writes, which name a version, not a key.  A key's entry
 * goes at the first change of its meta record, so the version it was
 * tracked with stays its version while the entry lives. */
#define VTAB_SIZE 4096
static struct tentry **vtab;
static size_t tkeys;            /* keys in the table */
static size_t titems;           /* (key, client) pairs in the table */
static struct prefix *ptab;     /* sorted by prefix */
static size_t nptab;
static unsigned long tracking_clients;
/* The clients with tracking on, sorted by id: the key table stores ids,
 * and server_client_by_id walks every connection. */
static client **oncl;
static size_t noncl, caponcl;
static int flushed;             /* a flush ran in the current command */
static unsigned limit_rounds;   /* passes that found the table still too big */
static int pending_left;        /* a client kept held invalidations past its command */

static const char INVALIDATE_CHANNEL[] = "__redis__:invalidate";

/* ---------------- helpers ---------------- */

static struct tracking_state *tstate(const client *c)
{
    return c->tstate;
}

static struct tracking_state *tstate_get(client *c)
{
    if (!c->tstate) c->tstate = xcalloc(1, sizeof *c->tstate);
    return c->tstate;
}

static int is_on(const client *c)
{
    return c->tstate && (c->tstate->flags & TRK_ON);
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r) return r;
    return al < bl ? -1 : al > bl;
}

/* Redis's stringCheckPrefix: one is a prefix of the other. */
static int prefixes_overlap(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    return n == 0 || memcmp(a, b, n) == 0;
}

static uint64_t key_hash(const char *k, size_t kl)
{
    return hash_bytes(k, kl, hash_seed());
}

/* ---------------- clients with tracking on ---------------- */

static size_t oncl_pos(uint64_t id)
{
    size_t lo = 0, hi = noncl;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (oncl[mid]->id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static client *oncl_find(uint64_t id)
{
    size_t i = oncl_pos(id);
    return i < noncl && oncl[i]->id == id ? oncl[i] : NULL;
}

static void oncl_add(client *c)
{
    if (noncl == caponcl) {
        caponcl = caponcl ? caponcl * 2 : 16;
        oncl = xrealloc(oncl, caponcl * sizeof *oncl);
    }
    size_t i = oncl_pos(c->id);
    memmove(oncl + i + 1, oncl + i, (noncl - i) * sizeof *oncl);
    oncl[i] = c;
    noncl++;
}

static void oncl_del(client *c)
{
    size_t i = oncl_pos(c->id);
    if (i < noncl && oncl[i] == c) {
        memmove(oncl + i, oncl + i + 1, (noncl - i - 1) * sizeof *oncl);
        noncl--;
    }
}

/* ---------------- delivery ---------------- */

/* Send one invalidation on behalf of tracking client c: `payload` is the
 * payload (an array of keys, or a null), already encoded. */
static void send_message(client *c, const char *payload, size_t plen)
{
    struct tracking_state *ts = tstate(c);
    client *to = c;
    int redirected = 0;
    if (ts->redir) {
        to = server_client_by_id(ts->redir);
        if (!to) {
            ts->flags |= TRK_BROKEN;
            if (c->resp == 3) {
                resp_add_push(&c->out, 3, 2);
                resp_add_bulk_str(&c->out, "tracking-redir-broken");
                resp_add_int(&c->out, (long long)ts->redir);
                client_pending(c);
            }
            return;
        }
        redirected = 1;
    }
    if (to->resp == 3) {
        resp_add_push(&to->out, 3, 2);
        resp_add_bulk_str(&to->out, "invalidate");
    } else if (redirected && (to->flags & CLIENT_PUBSUB)) {
        resp_add_array(&to->out, 3);
        resp_add_bulk_str(&to->out, "message");
        resp_add_bulk(&to->out, INVALIDATE_CHANNEL, sizeof INVALIDATE_CHANNEL - 1);
    } else {
        /* RESP2 without a subscribed redirect target: nowhere to send. */
        return;
    }
    buf_append(&to->out, payload, plen);
    client_pending(to);
}

static void send_key(client *c, const char *key, size_t klen)
{
    buf p;
    buf_init(&p);
    resp_add_array(&p, 1);
    resp_add_bulk(&p, key, klen);
    send_message(c, p.data, p.len);
    buf_free(&p);
}

/* The flush form: a null in the tracking client's own protocol. */
static void send_null(client *c)
{
    buf p;
    buf_init(&p);
    resp_add_null(&p, c->resp);
    send_message(c, p.data, p.len);
    buf_free(&p);
}

static void pending_add(client *c, const char *key, size_t klen)
{
    struct tracking_state *ts = tstate(c);
    if (ts->npend == ts->cappend) {
        ts->cappend = ts->cappend ? ts->cappend * 2 : 4;
        ts->pend = xrealloc(ts->pend, ts->cappend * sizeof *ts->pend);
    }
    struct pending *p = &ts->pend[ts->npend++];
    p->key = key ? xmemdup(key, klen) : NULL;
    p->klen = klen;
}

static void pending_flush(client *c)
{
    struct tracking_state *ts = tstate(c);
    if (!ts || !ts->npend) return;
    for (size_t i = 0; i < ts->npend; i++) {
        if (ts->pend[i].key) send_key(c, ts->pend[i].key, ts->pend[i].klen);
        else send_null(c);
        free(ts->pend[i].key);
    }
    ts->npend = 0;
}

/* ---------------- the key table ---------------- */

static void ttab_grow(void)
{
    size_t nsize = ttab_size ? ttab_size * 2 : 64;
    struct tentry **nt = xcalloc(nsize, sizeof *nt);
    for (size_t i = 0; i < ttab_size; i++) {
        for (struct tentry *e = ttab[i], *nx; e; e = nx) {
            nx = e->next;
            size_t b = e->hash & (nsize - 1);
            e->next = nt[b];
            nt[b] = e;
        }
    }
    free(ttab);
    ttab = nt;
    ttab_size = nsize;
}

static struct tentry **ttab_slot(const char *k, size_t kl, uint64_t h)
{
    struct tentry **pp = &ttab[h & (ttab_size - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == kl && (kl == 0 || !memcmp((*pp)->key, k, kl))))
        pp = &(*pp)->next;
    return pp;
}

static struct tentry *ttab_find(const char *k, size_t kl)
{
    if (!tkeys) return NULL;
    return *ttab_slot(k, kl, key_hash(k, kl));
}

static void vtab_unlink(struct tentry *e)
{
    struct tentry **pp = &vtab[e->version & (VTAB_SIZE - 1)];
    while (*pp && *pp != e) pp = &(*pp)->vnext;
    if (*pp) *pp = e->vnext;
}

/* Track key k for client id; `version` is the key's collection version
 * (0 for a string or a missing key). */
static void ttab_add(const char *k, size_t kl, uint64_t id, uint64_t version)
{
    if (tkeys + 1 > ttab_size) ttab_grow();
    uint64_t h = key_hash(k, kl);
    struct tentry **pp = ttab_slot(k, kl, h);
    struct tentry *e = *pp;
    if (!e) {
        e = xcalloc(1, sizeof *e + (kl ? kl : 1));
        e->hash = h;
        e->klen = kl;
        if (kl) memcpy(e->key, k, kl);
        *pp = e;
        tkeys++;
        if (version) {
            if (!vtab) vtab = xcalloc(VTAB_SIZE, sizeof *vtab);
            e->version = version;
            e->vnext = vtab[version & (VTAB_SIZE - 1)];
            vtab[version & (VTAB_SIZE - 1)] = e;
        }
    }
    for (size_t i = 0; i < e->nids; i++)
        if (e->ids[i] == id) return;
    if (e->nids == e->capids) {
        e->capids = e->capids ? e->capids * 2 : 2;
        e->ids = xrealloc(e->ids, e->capids * sizeof *e->ids);
    }
    e->ids[e->nids++] = id;
    titems++;
}

/* Unlink e from the table and free it. */
static void ttab_remove(struct tentry *e)
{
    struct tentry **pp = &ttab[e->hash & (ttab_size - 1)];
    while (*pp != e) pp = &(*pp)->next;
    *pp = e->next;
    if (e->version) vtab_unlink(e);
    titems -= e->nids;
    free(e->ids);
    free(e);
    tkeys--;
}

static void ttab_clear(void)
{
    for (size_t i = 0; i < ttab_size; i++) {
        for (struct tentry *e = ttab[i], *nx; e; e = nx) {
            nx = e->next;
            free(e->ids);
            free(e);
        }
        ttab[i] = NULL;
    }
    if (vtab) memset(vtab, 0, VTAB_SIZE * sizeof *vtab);
    tkeys = 0;
    titems = 0;
}

/* ---------------- the prefix table ---------------- */

/* Index of prefix p in ptab, or -(insertion point) - 1. */
static long ptab_search(const char *p, size_t len)
{
    size_t lo = 0, hi = nptab;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = bytes_cmp(ptab[mid].p.p, ptab[mid].p.len, p, len);
        if (r == 0) return (long)mid;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return -(long)lo - 1;
}

static void prefix_subscribe(client *c, const char *p, size_t len)
{
    long i = ptab_search(p, len);
    if (i < 0) {
        size_t at = (size_t)(-i - 1);
        ptab = xrealloc(ptab, (nptab + 1) * sizeof *ptab);
        memmove(ptab + at + 1, ptab + at, (nptab - at) * sizeof *ptab);
        memset(&ptab[at], 0, sizeof ptab[at]);
        ptab[at].p.p = xmemdup(p, len);
        ptab[at].p.len = len;
        nptab++;
        i = (long)at;
    }
    struct prefix *e = &ptab[i];
    for (size_t j = 0; j < e->nclients; j++)
        if (e->clients[j] == c) return;
    if (e->nclients == e->capclients) {
        e->capclients = e->capclients ? e->capclients * 2 : 4;
        e->clients = xrealloc(e->clients, e->capclients * sizeof *e->clients);
    }
    e->clients[e->nclients++] = c;

    struct tracking_state *ts = tstate(c);
    size_t at = 0;
    while (at < ts->nprefixes && bytes_cmp(ts->prefixes[at].p, ts->prefixes[at].len, p, len) < 0) at++;
    if (at < ts->nprefixes && bytes_cmp(ts->prefixes[at].p, ts->prefixes[at].len, p, len) == 0) return;
    ts->prefixes = xrealloc(ts->prefixes, (ts->nprefixes + 1) * sizeof *ts->prefixes);
    memmove(ts->prefixes + at + 1, ts->prefixes + at, (ts->nprefixes - at) * sizeof *ts->prefixes);
    ts->prefixes[at].p = xmemdup(p, len);
    ts->prefixes[at].len = len;
    ts->nprefixes++;
}

static void prefix_free_keys(struct prefix *e)
{
    for (size_t k = 0; k < e->nkeys; k++) free(e->keys[k].key);
    e->nkeys = 0;
}

/* Take c off every prefix it is on; prefixes left without clients go. */
static void prefix_unsubscribe_all(client *c)
{
    struct tracking_state *ts = tstate(c);
    for (size_t j = 0; j < ts->nprefixes; j++) {
        long i = ptab_search(ts->prefixes[j].p, ts->prefixes[j].len);
        if (i >= 0) {
            struct prefix *e = &ptab[i];
            for (size_t k = 0; k < e->nclients; k++)
                if (e->clients[k] == c) {
                    memmove(e->clients + k, e->clients + k + 1, (e->nclients - k - 1) * sizeof *e->clients);
                    e->nclients--;
                    break;
                }
            if (e->nclients == 0) {
                prefix_free_keys(e);
                free(e->keys);
                free(e->clients);
                free(e->p.p);
                memmove(ptab + i, ptab + i + 1, (nptab - (size_t)i - 1) * sizeof *ptab);
                nptab--;
            }
        }
        free(ts->prefixes[j].p);
    }
    free(ts->prefixes);
    ts->prefixes = NULL;
    ts->nprefixes = 0;
}

static void prefix_note_key(struct prefix *e, const char *key, size_t klen, uint64_t by)
{
    if (e->nkeys == e->capkeys) {
        e->capkeys = e->capkeys ? e->capkeys * 2 : 8;
        e->keys = xrealloc(e->keys, e->capkeys * sizeof *e->keys);
    }
    struct bkey *b = &e->keys[e->nkeys];
    b->key = xmemdup(key, klen);
    b->klen = klen;
    b->by = by;
    b->seq = e->nkeys++;
}

static int bkey_cmp(const void *a, const void *b)
{
    const struct bkey *x = a, *y = b;
    int r = bytes_cmp(x->key, x->klen, y->key, y->klen);
    if (r) return r;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sleep hook: each prefix's changed keys, sorted and deduplicated, to each
 * of its clients (without a NOLOOP client's own changes). */
static void broadcast(void)
{
    buf p;
    buf_init(&p);
    for (size_t i = 0; i < nptab; i++) {
        struct prefix *e = &ptab[i];
        if (!e->nkeys) continue;
        qsort(e->keys, e->nkeys, sizeof *e->keys, bkey_cmp);
        size_t n = 0;
        for (size_t k = 0; k < e->nkeys; k++) {
            if (n && e->keys[n - 1].klen == e->keys[k].klen &&
                !memcmp(e->keys[n - 1].key, e->keys[k].key, e->keys[k].klen)) {
                free(e->keys[k].key);
                continue;
            }
            e->keys[n++] = e->keys[k];
        }
        e->nkeys = n;
        for (size_t j = 0; j < e->nclients; j++) {
            client *c = e->clients[j];
            int noloop = (tstate(c)->flags & TRK_NOLOOP) != 0;
            long long cnt = 0;
            for (size_t k = 0; k < n; k++) cnt += !(noloop && e->keys[k].by == c->id);
            if (!cnt) continue;
            buf_clear(&p);
            resp_add_array(&p, cnt);
            for (size_t k = 0; k < n; k++)
                if (!(noloop && e->keys[k].by == c->id)) resp_add_bulk(&p, e->keys[k].key, e->keys[k].klen);
            send_message(c, p.data, p.len);
        }
        prefix_free_keys(e);
    }
    buf_free(&p);
}

/* ---------------- invalidation ---------------- */

int tracking_active(void)
{
    return tracking_clients || tkeys || nptab;
}

int tracking_wants_key(const char *key, size_t klen)
{
    if (ttab_find(key, klen)) return 1;
    for (size_t i = 0; i < nptab; i++)
        if (ptab[i].p.len <= klen && !memcmp(ptab[i].p.p, key, ptab[i].p.len)) return 1;
    return 0;
}

/* Tell the clients of table entry e that its key changed, then forget it.
 * `cur` is the client whose command changed it (NULL: none). */
static void invalidate_entry(client *cur, struct tentry *e)
{
    for (size_t i = 0; i < e->nids; i++) {
        client *t = oncl_find(e->ids[i]);
        if (!t || (t->flags & CLIENT_CLOSE_ASAP) || (tstate(t)->flags & TRK_BCAST)) continue;
        if ((tstate(t)->flags & TRK_NOLOOP) && t == cur) continue;
        /* Its own command's reply goes first: held until it is written. */
        if (t == cur) pending_add(t, e->key, e->klen);
        else send_key(t, e->key, e->klen);
    }
    ttab_remove(e);
}

void tracking_invalidate_key(client *cur, const char *key, size_t klen)
{
    if (flushed) return;
    for (size_t i = 0; i < nptab; i++)
        if (ptab[i].p.len <= klen && !memcmp(ptab[i].p.p, key, ptab[i].p.len))
            prefix_note_key(&ptab[i], key, klen, cur ? cur->id : 0);
    struct tentry *e = ttab_find(key, klen);
    if (e) invalidate_entry(cur, e);
}

void tracking_invalidate_version(uint64_t version)
{
    if (!vtab || !version || flushed) return;
    struct tentry *e = vtab[version & (VTAB_SIZE - 1)];
    while (e) {
        struct tentry *nx = e->vnext;
        if (e->version == version) invalidate_entry(NULL, e);
        e = nx;
    }
}

void tracking_invalidate_all(client *cur)
{
    /* Oldest client first, as Redis walks its client list. */
    for (size_t i = 0; i < noncl; i++) {
        client *c = oncl[i];
        if (c == cur) pending_add(c, NULL, 0);
        else send_null(c);
    }
    ttab_clear();
    /* The flush's own deletions are reported by the write hook at the end
     * of the command; a flush outside a command (a replica's full sync)
     * has none. */
    if (cur) flushed = 1;
}

/* Redis's trackingLimitUsedSlots: invalidate keys until the table fits,
 * with an effort that grows while it keeps not fitting. */
static void limit_table(void)
{
    long long max = srv.cfg.tracking_table_max_keys;
    if (max <= 0 || (long long)tkeys <= max) {
        limit_rounds = 0;
        return;
    }
    int effort = 100 * (int)(limit_rounds + 1);
    size_t b = (size_t)rand() & (ttab_size - 1);
    while (effort-- > 0 && tkeys) {
        for (size_t n = 0; n < ttab_size && !ttab[b]; n++) b = (b + 1) & (ttab_size - 1);
        if (ttab[b]) invalidate_entry(NULL, ttab[b]);
        if ((long long)tkeys <= max) {
            limit_rounds = 0;
            return;
        }
    }
    limit_rounds++;
}

/* ---------------- after each command ---------------- */

static void remember_keys(client *c)
{
    struct tracking_state *ts = tstate(c);
    int optin = ts->flags & TRK_OPTIN, optout = ts->flags & TRK_OPTOUT;
    int caching = ts->flags & TRK_CACHING;
    if ((optin && !caching) || (optout && caching)) return;
    if (c->cmd->flags & CF_PUBSUB) return;
    int stackpos[16], *pos;
    int n = cmd_key_positions(c, stackpos, 16, &pos);
    struct meta m;
    meta_init(&m);
    for (int i = 0; i < n; i++) {
        const char *k = c->argv[pos[i]];
        size_t kl = c->argvlen[pos[i]];
        uint64_t version = 0;
        if (!ttab_find(k, kl) && db_lookup_raw(k, kl, &m) > T_STRING) version = m.version;
        ttab_add(k, kl, c->id, version);
    }
    meta_free(&m);
    if (pos != stackpos) free(pos);
}

void tracking_after_call(client *c)
{
    flushed = 0;
    if (!c->tstate) return;
    if ((c->cmd->flags & CF_READ) && is_on(c) && !(c->tstate->flags & TRK_BCAST)) remember_keys(c);
    if (c->flags & CLIENT_IN_EXEC) return;
    /* Held invalidations go out in tracking_after_dispatch, once the
     * dispatcher has applied CLIENT REPLY OFF|SKIP to the reply (pushes are
     * not replies), or from the sleep hook for a command that did not come
     * through the dispatcher (a blocked client served later). */
    if (c->tstate->npend) pending_left = 1;
    /* CLIENT CACHING covers the next command (all of a MULTI's queue). */
    if (!(c->flags & CLIENT_MULTI) && c->cmd->id != CMD_CLIENT) c->tstate->flags &= ~TRK_CACHING;
}

void tracking_after_dispatch(client *c)
{
    if (c->tstate && c->tstate->npend && !(c->flags & (CLIENT_BLOCKED | CLIENT_PAUSED))) pending_flush(c);
}

/* ---------------- CLIENT subcommands ---------------- */

static void enable(client *c, uint64_t redir, unsigned options, const struct bytes *pfx, size_t npfx)
{
    struct tracking_state *ts = tstate_get(c);
    if (!(ts->flags & TRK_ON)) {
        tracking_clients++;
        oncl_add(c);
    }
    ts->flags |= TRK_ON;
    ts->flags &= ~(TRK_BROKEN | TRK_BCAST | TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP);
    ts->redir = redir;
    if (options & TRK_BCAST) {
        ts->flags |= TRK_BCAST;
        if (npfx == 0) prefix_subscribe(c, "", 0);
        for (size_t j = 0; j < npfx; j++) prefix_subscribe(c, pfx[j].p, pfx[j].len);
    }
    ts->flags |= options & (TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP);
}

static void disable(client *c)
{
    struct tracking_state *ts = tstate(c);
    if (!ts) return;
    pending_flush(c);
    if (ts->flags & TRK_BCAST) prefix_unsubscribe_all(c);
    if (ts->flags & TRK_ON) {
        tracking_clients--;
        oncl_del(c);
        ts->flags &= ~(TRK_ON | TRK_BROKEN | TRK_BCAST | TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP | TRK_CACHING);
    }
}

/* Redis's checkPrefixCollisionsOrReply, including its return value: an
 * overlap among the new prefixes found at index i > 0 replies the error
 * and still returns non-zero, so the caller goes on (and replies +OK
 * too), as Redis 7.0 does. */
static int check_prefixes(client *c, const struct bytes *pfx, size_t n)
{
    struct tracking_state *ts = tstate(c);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; ts && k < ts->nprefixes; k++)
            if (prefixes_overlap(ts->prefixes[k].p, ts->prefixes[k].len, pfx[i].p, pfx[i].len)) {
                resp_add_errorf(&c->out, "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                                         "Prefixes for a single client must not overlap.",
                                (int)pfx[i].len, pfx[i].p, (int)ts->prefixes[k].len, ts->prefixes[k].p);
                return 0;
            }
        for (size_t j = i + 1; j < n; j++)
            if (prefixes_overlap(pfx[i].p, pfx[i].len, pfx[j].p, pfx[j].len)) {
                resp_add_errorf(&c->out, "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                                         "Prefixes for a single client must not overlap.",
                                (int)pfx[i].len, pfx[i].p, (int)pfx[j].len, pfx[j].p);
                return (int)i;
            }
    }
    return 1;
}

static void client_tracking(client *c)
{
    long long redir = 0;
    unsigned options = 0;
    struct bytes *pfx = NULL;
    size_t npfx = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (ARG_IS(c, j, "redirect") && more) {
            j++;
            if (redir != 0) {
                resp_add_error(&c->out, "ERR A client can only redirect to a single other client");
                goto done;
            }
            if (arg_ll(c, j, &redir) < 0) goto done;
            if (redir <= 0 || !server_client_by_id((uint64_t)redir)) {
                resp_add_error(&c->out, "ERR The client ID you want redirect to does not exist");
                goto done;
            }
        } else if (ARG_IS(c, j, "bcast")) {
            options |= TRK_BCAST;
        } else if (ARG_IS(c, j, "optin")) {
            options |= TRK_OPTIN;
        } else if (ARG_IS(c, j, "optout")) {
            options |= TRK_OPTOUT;
        } else if (ARG_IS(c, j, "noloop")) {
            options |= TRK_NOLOOP;
        } else if (ARG_IS(c, j, "prefix") && more) {
            j++;
            pfx = xrealloc(pfx, (npfx + 1) * sizeof *pfx);
            pfx[npfx].p = c->argv[j];   /* borrowed from argv for the call */
            pfx[npfx].len = c->argvlen[j];
            npfx++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
    }
    unsigned cur = c->tstate ? c->tstate->flags : 0;
    if (ARG_IS(c, 2, "on")) {
        if (!(options & TRK_BCAST) && npfx) {
            resp_add_error(&c->out, "ERR PREFIX option requires BCAST mode to be enabled");
            goto done;
        }
        if ((cur & TRK_ON) && !!(cur & TRK_BCAST) != !!(options & TRK_BCAST)) {
            resp_add_error(&c->out, "ERR You can't switch BCAST mode on/off before disabling tracking for "
                                    "this client, and then re-enabling it with a different mode.");
            goto done;
        }
        if ((options & TRK_BCAST) && (options & (TRK_OPTIN | TRK_OPTOUT))) {
            resp_add_error(&c->out, "ERR OPTIN and OPTOUT are not compatible with BCAST");
            goto done;
        }
        if ((options & TRK_OPTIN) && (options & TRK_OPTOUT)) {
            resp_add_error(&c->out, "ERR You can't specify both OPTIN mode and OPTOUT mode");
            goto done;
        }
        if (((options & TRK_OPTIN) && (cur & TRK_OPTOUT)) || ((options & TRK_OPTOUT) && (cur & TRK_OPTIN))) {
            resp_add_error(&c->out, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                                    "this client, and then re-enabling it with a different mode.");
            goto done;
        }
        if ((options & TRK_BCAST) && !check_prefixes(c, pfx, npfx)) goto done;
        enable(c, (uint64_t)redir, options, pfx, npfx);
    } else if (ARG_IS(c, 2, "off")) {
        disable(c);
    } else {
        resp_add_error(&c->out, resp_err_syntax);
        goto done;
    }
    resp_add_ok(&c->out);
done:
    free(pfx);
}

static void client_caching(client *c)
{
    struct tracking_state *ts = tstate(c);
    if (!is_on(c)) {
        resp_add_error(&c->out, "ERR CLIENT CACHING can be called only when the client is in tracking mode "
                                "with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (ARG_IS(c, 2, "yes")) {
        if (!(ts->flags & TRK_OPTIN)) {
            resp_add_error(&c->out, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (ARG_IS(c, 2, "no")) {
        if (!(ts->flags & TRK_OPTOUT)) {
            resp_add_error(&c->out, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    ts->flags |= TRK_CACHING;
    resp_add_ok(&c->out);
}

static void client_trackinginfo(client *c)
{
    struct tracking_state *ts = tstate(c);
    unsigned f = ts ? ts->flags : 0;
    const char *names[8];
    int n = 0;
    names[n++] = (f & TRK_ON) ? "on" : "off";
    if (f & TRK_BCAST) names[n++] = "bcast";
    if (f & TRK_OPTIN) {
        names[n++] = "optin";
        if (f & TRK_CACHING) names[n++] = "caching-yes";
    }
    if (f & TRK_OPTOUT) {
        names[n++] = "optout";
        if (f & TRK_CACHING) names[n++] = "caching-no";
    }
    if (f & TRK_NOLOOP) names[n++] = "noloop";
    if (f & TRK_BROKEN) names[n++] = "broken_redirect";
    resp_add_map(&c->out, c->resp, 3);
    resp_add_bulk_str(&c->out, "flags");
    resp_add_set(&c->out, c->resp, n);
    for (int i = 0; i < n; i++) resp_add_bulk_str(&c->out, names[i]);
    resp_add_bulk_str(&c->out, "redirect");
    resp_add_int(&c->out, tracking_redirect_id(c));
    resp_add_bulk_str(&c->out, "prefixes");
    resp_add_array(&c->out, ts ? (long long)ts->nprefixes : 0);
    for (size_t i = 0; ts && i < ts->nprefixes; i++)
        resp_add_bulk(&c->out, ts->prefixes[i].p, ts->prefixes[i].len);
}

int tracking_client_command(client *c)
{
    int which;
    if (ARG_IS(c, 1, "tracking")) which = 0;
    else if (ARG_IS(c, 1, "caching")) which = 1;
    else if (ARG_IS(c, 1, "getredir")) which = 2;
    else if (ARG_IS(c, 1, "trackinginfo")) which = 3;
    else return 0;
    if (subcmd_check(&c->out, "client", ARG(c, 1), c->argc) < 0) return 1;
    switch (which) {
    case 0: client_tracking(c); break;
    case 1: client_caching(c); break;
    case 2: resp_add_int(&c->out, tracking_redirect_id(c)); break;
    default: client_trackinginfo(c); break;
    }
    return 1;
}

void tracking_info(unsigned long long *clients, unsigned long long *keys, unsigned long long *items,
                   unsigned long long *prefixes)
{
    *clients = tracking_clients;
    *keys = tkeys;
    *items = titems;
    *prefixes = nptab;
}

long long tracking_redirect_id(const client *c)
{
    return is_on(c) ? (long long)c->tstate->redir : -1;
}

const char *tracking_flags_string(const client *c)
{
    static const char *const forms[] = { "t", "tR", "tB", "tRB" };
    if (!is_on(c)) return "";
    unsigned f = c->tstate->flags;
    return forms[((f & TRK_BROKEN) ? 1 : 0) | ((f & TRK_BCAST) ? 2 : 0)];
}

/* ---------------- hooks ---------------- */

static int tracking_dispatch_hook(client *c)
{
    /* RESET turns tracking off (Redis's clearClientConnectionState); it
     * always succeeds, so doing it before it runs is the same. */
    if (c->cmd->id == CMD_RESET) disable(c);
    if (tracking_clients) limit_table();
    return 0;
}

static void tracking_cron_hook(void)
{
    if (tracking_clients) limit_table();
}

static void tracking_sleep_hook(void)
{
    /* Anything still held (a command that never reached the end of
     * server_call at the top level, such as a served blocked pop). */
    if (pending_left) {
        for (size_t i = 0; i < noncl; i++)
            if (!(oncl[i]->flags & CLIENT_CLOSE_ASAP)) pending_flush(oncl[i]);
        pending_left = 0;
    }
    if (nptab) broadcast();
}

static void tracking_free_hook(client *c)
{
    struct tracking_state *ts = c->tstate;
    if (!ts) return;
    disable(c);
    for (size_t i = 0; i < ts->npend; i++) free(ts->pend[i].key);
    free(ts->pend);
    free(ts);
    c->tstate = NULL;
}

static void tracking_shutdown_hook(void)
{
    ttab_clear();
    free(ttab);
    ttab = NULL;
    ttab_size = 0;
    free(vtab);
    vtab = NULL;
    for (size_t i = 0; i < nptab; i++) {
        prefix_free_keys(&ptab[i]);
        free(ptab[i].keys);
        free(ptab[i].clients);
        free(ptab[i].p.p);
    }
    free(ptab);
    ptab = NULL;
    nptab = 0;
    free(oncl);
    oncl = NULL;
    noncl = caponcl = 0;
}

void tracking_register(void)
{
    server_add_dispatch_hook(tracking_dispatch_hook);
    server_add_cron_hook(tracking_cron_hook);
    server_add_sleep_hook(tracking_sleep_hook);
    server_add_free_hook(tracking_free_hook);
    server_add_shutdown_hook(tracking_shutdown_hook);
}
