/* coll: walking and sampling a collection's subkeys.  See coll.h.
 *
 * Sampling strategies, chosen by size so the cost stays proportional to
 * the reply rather than to the collection:
 *
 *   count <= WALK_MAX            walk the collection: selection sampling
 *                                for distinct draws, a small in-memory
 *                                table for draws with repetition.  Exact.
 *   distinct and n > count / 4   selection sampling over one walk: the
 *                                walk costs at most 4x the reply.
 *   otherwise                    random probes: seek to a random key
 *                                between the first and the last member
 *                                and take the element found there.
 *
 * Probes: the first and last members share a byte prefix P; the next 8
 * bytes of each (zero padded) give an interval [lo, hi] of big-endian
 * integers.  A probe seeks to P + be64(r) for r uniform in [lo, hi] and
 * takes the first element at or after it, so each element is drawn with
 * probability proportional to the key-space gap in front of it.  That is
 * uniform for evenly spread members (random bytes, hashes, fixed-width
 * ids) and skewed but never zero for clustered ones.  The first member
 * has no gap in front of it, so it is drawn directly with probability
 * 1/count.  Distinct draws remember what they picked in a small hash
 * table (the reply holds those elements anyway) and fall back to a walk
 * if probes keep hitting the same elements. */
#include "coll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cursor.h"
#include "db.h"
#include "server.h"
#include "util.h"

#define WALK_MAX 512

/* ---------------- iteration ---------------- */

static void coll_iter_settle(coll_iter *ci)
{
    size_t kl;
    ci->valid = 0;
    if (!store_iter_valid(ci->it)) return;
    const char *k = store_iter_key(ci->it, &kl);
    ci->valid = kl >= SUBKEY_PREFIX && memcmp(k, ci->prefix.data, SUBKEY_PREFIX) == 0;
}

void coll_iter_init(coll_iter *ci, uint64_t version)
{
    buf_init(&ci->prefix);
    enc_data_prefix(&ci->prefix, version);
    ci->it = store_iter_new(srv.st);
    coll_iter_rewind(ci);
}

void coll_iter_free(coll_iter *ci)
{
    store_iter_free(ci->it);
    ci->it = NULL;
    buf_free(&ci->prefix);
    ci->valid = 0;
}

void coll_iter_rewind(coll_iter *ci)
{
    store_iter_seek(ci->it, ci->prefix.data, SUBKEY_PREFIX);
    coll_iter_settle(ci);
}

void coll_iter_seek(coll_iter *ci, const char *member, size_t len)
{
    /* The prefix buffer doubles as the seek key: its first
     * SUBKEY_PREFIX bytes never change. */
    ci->prefix.len = SUBKEY_PREFIX;
    buf_append(&ci->prefix, member, len);
    store_iter_seek(ci->it, ci->prefix.data, ci->prefix.len);
    ci->prefix.len = SUBKEY_PREFIX;
    coll_iter_settle(ci);
}

void coll_iter_next(coll_iter *ci)
{
    if (!ci->valid) return;
    store_iter_next(ci->it);
    coll_iter_settle(ci);
}

const char *coll_iter_member(const coll_iter *ci, size_t *len)
{
    size_t kl;
    const char *k = store_iter_key(ci->it, &kl);
    *len = kl - SUBKEY_PREFIX;
    return k + SUBKEY_PREFIX;
}

const char *coll_iter_value(const coll_iter *ci, size_t *len)
{
    return store_iter_val(ci->it, len);
}

int coll_iter_cmp(const coll_iter *ci, const char *m, size_t mlen)
{
    size_t len;
    const char *cur = coll_iter_member(ci, &len);
    size_t n = len < mlen ? len : mlen;
    int c = n ? memcmp(cur, m, n) : 0;
    if (c) return c;
    return len < mlen ? -1 : len > mlen;
}

/* ---------------- random numbers ---------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    if (!rng_state) rng_state = (now_us() ^ ((uint64_t)getpid() << 32)) | 1;
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

uint64_t coll_rand_below(uint64_t n)
{
    /* Rejection keeps it exactly uniform: drop the top partial range. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = rng_next(); while (r >= limit);
    return r % n;
}

/* ---------------- picked elements ---------------- */

/* Elements copied out of the store: records back to back in `data`
 *   mlen:size_t | vlen:size_t | member | value
 * with `rec` holding each record's offset, and an open-addressing table
 * (offset + 1, 0 = empty) for distinctness by member. */
struct picks {
    buf data;
    size_t *rec;
    size_t n, cap;
    size_t *table;
    size_t tcap;        /* power of two, or 0 without a table */
};

static void picks_init(struct picks *p, size_t table_for)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->data);
    if (table_for) {
        p->tcap = 16;
        while (p->tcap < table_for * 2) p->tcap <<= 1;
        p->table = xcalloc(p->tcap, sizeof *p->table);
    }
}

static void picks_free(struct picks *p)
{
    buf_free(&p->data);
    free(p->rec);
    free(p->table);
}

static void picks_get(const struct picks *p, size_t i, const char **m, size_t *ml,
                      const char **v, size_t *vl)
{
    const char *r = p->data.data + p->rec[i];
    memcpy(ml, r, sizeof *ml);
    memcpy(vl, r + sizeof *ml, sizeof *vl);
    *m = r + 2 * sizeof(size_t);
    *v = *m + *ml;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* Add an element; with a table, refuse (return 0) a member already there. */
static int picks_add(struct picks *p, const char *m, size_t ml, const char *v, size_t vl)
{
    size_t slot = 0;
    if (p->tcap) {
        slot = (size_t)hash_bytes(m, ml) & (p->tcap - 1);
        while (p->table[slot]) {
            size_t oml;
            const char *r = p->data.data + p->table[slot] - 1;
            memcpy(&oml, r, sizeof oml);
            const char *om = r + 2 * sizeof(size_t);
            if (oml == ml && memcmp(om, m, ml) == 0) return 0;
            slot = (slot + 1) & (p->tcap - 1);
        }
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->rec = xrealloc(p->rec, p->cap * sizeof *p->rec);
    }
    size_t off = p->data.len;
    buf_append(&p->data, &ml, sizeof ml);
    buf_append(&p->data, &vl, sizeof vl);
    buf_append(&p->data, m, ml);
    buf_append(&p->data, v, vl);
    p->rec[p->n++] = off;
    if (p->tcap) p->table[slot] = off + 1;
    return 1;
}

/* ---------------- probes ---------------- */

struct prober {
    coll_iter ci;
    buf first;          /* the first member */
    size_t cp;          /* common prefix length of first and last */
    uint64_t lo, hi;
    uint64_t count;
};

static uint64_t window_be64(const char *s, size_t len, size_t from)
{
    unsigned char w[8] = {0};
    for (size_t i = 0; i < 8 && from + i < len; i++) w[i] = (unsigned char)s[from + i];
    return get_u64be(w);
}

/* 0 ok (ci valid), -1 the collection is empty. */
static int prober_init(struct prober *pr, uint64_t version, uint64_t count)
{
    buf end;
    size_t fl, ll;
    coll_iter_init(&pr->ci, version);
    buf_init(&pr->first);
    pr->count = count ? count : 1;
    if (!coll_iter_valid(&pr->ci)) return -1;
    const char *f = coll_iter_member(&pr->ci, &fl);
    buf_append(&pr->first, f, fl);
    /* The last member: the last key before the end of the prefix range. */
    buf_init(&end);
    if (enc_prefix_end(&end, pr->ci.prefix.data, SUBKEY_PREFIX) == 0)
        store_iter_seek_last_before(pr->ci.it, end.data, end.len);
    else
        store_iter_seek_last(pr->ci.it);
    buf_free(&end);
    pr->ci.valid = 0;
    if (store_iter_valid(pr->ci.it)) {
        size_t kl;
        const char *k = store_iter_key(pr->ci.it, &kl);
        pr->ci.valid = kl >= SUBKEY_PREFIX && memcmp(k, pr->ci.prefix.data, SUBKEY_PREFIX) == 0;
    }
    const char *l = pr->ci.valid ? coll_iter_member(&pr->ci, &ll) : pr->first.data;
    if (!pr->ci.valid) ll = fl;
    f = pr->first.data;
    size_t cp = 0;
    while (cp < fl && cp < ll && f[cp] == l[cp]) cp++;
    pr->cp = cp;
    pr->lo = window_be64(f, fl, cp);
    pr->hi = window_be64(l, ll, cp);
    return 0;
}

static void prober_free(struct prober *pr)
{
    coll_iter_free(&pr->ci);
    buf_free(&pr->first);
}

/* Position pr->ci on a random element. */
static void prober_draw(struct prober *pr)
{
    if (pr->hi <= pr->lo || coll_rand_below(pr->count) == 0) {
        coll_iter_seek(&pr->ci, pr->first.data, pr->first.len);
        return;
    }
    uint64_t span = pr->hi - pr->lo;
    uint64_t r = pr->lo + (span == UINT64_MAX ? rng_next() : coll_rand_below(span + 1));
    unsigned char w[8];
    put_u64be(w, r);
    buf probe;
    buf_init(&probe);
    buf_append(&probe, pr->first.data, pr->cp);
    buf_append(&probe, w, 8);
    coll_iter_seek(&pr->ci, probe.data, probe.len);
    buf_free(&probe);
    if (!coll_iter_valid(&pr->ci)) coll_iter_rewind(&pr->ci); /* cannot happen: probe <= last */
}

/* ---------------- strategies ---------------- */

/* Every element, in order. */
static uint64_t sample_all(uint64_t version, coll_sample_fn *fn, void *ctx)
{
    coll_iter ci;
    uint64_t done = 0;
    for (coll_iter_init(&ci, version); coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t ml, vl;
        const char *m = coll_iter_member(&ci, &ml);
        const char *v = coll_iter_value(&ci, &vl);
        done++;
        if (fn(ctx, m, ml, v, vl)) break;
    }
    coll_iter_free(&ci);
    return done;
}

/* n distinct elements in one walk (Knuth's selection sampling: element t
 * is taken with probability needed / remaining, which makes every subset
 * of size n equally likely). */
static uint64_t sample_walk_distinct(uint64_t version, uint64_t count, uint64_t n,
                                     coll_sample_fn *fn, void *ctx)
{
    coll_iter ci;
    uint64_t done = 0, seen = 0;
    for (coll_iter_init(&ci, version); coll_iter_valid(&ci) && done < n; coll_iter_next(&ci)) {
        uint64_t remaining = count > seen ? count - seen : 1;
        seen++;
        if (coll_rand_below(remaining) >= n - done) continue;
        size_t ml, vl;
        const char *m = coll_iter_member(&ci, &ml);
        const char *v = coll_iter_value(&ci, &vl);
        done++;
        if (fn(ctx, m, ml, v, vl)) break;
    }
    coll_iter_free(&ci);
    return done;
}

/* n draws with repetition from a small collection held in a table. */
static uint64_t sample_table_repeat(uint64_t version, uint64_t n, coll_sample_fn *fn, void *ctx)
{
    struct picks p;
    coll_iter ci;
    uint64_t done = 0;
    picks_init(&p, 0);
    for (coll_iter_init(&ci, version); coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t ml, vl;
        const char *m = coll_iter_member(&ci, &ml);
        const char *v = coll_iter_value(&ci, &vl);
        picks_add(&p, m, ml, v, vl);
    }
    coll_iter_free(&ci);
    while (p.n && done < n) {
        const char *m, *v;
        size_t ml, vl;
        picks_get(&p, (size_t)coll_rand_below(p.n), &m, &ml, &v, &vl);
        done++;
        if (fn(ctx, m, ml, v, vl)) break;
    }
    picks_free(&p);
    return done;
}

static uint64_t sample_probe_repeat(uint64_t version, uint64_t count, uint64_t n,
                                    coll_sample_fn *fn, void *ctx)
{
    struct prober pr;
    uint64_t done = 0;
    if (prober_init(&pr, version, count) == 0) {
        while (done < n) {
            size_t ml, vl;
            prober_draw(&pr);
            const char *m = coll_iter_member(&pr.ci, &ml);
            const char *v = coll_iter_value(&pr.ci, &vl);
            done++;
            if (fn(ctx, m, ml, v, vl)) break;
        }
    }
    prober_free(&pr);
    return done;
}

/* Distinct draws by probing; -1 when probes keep repeating themselves
 * (fn has not been called then). */
static int64_t sample_probe_distinct(uint64_t version, uint64_t count, uint64_t n,
                                     coll_sample_fn *fn, void *ctx)
{
    struct prober pr;
    struct picks p;
    uint64_t attempts = 8 * n + 64;
    int64_t done = -1;
    picks_init(&p, (size_t)n);
    if (prober_init(&pr, version, count) == 0) {
        while (p.n < n && attempts-- > 0) {
            size_t ml, vl;
            prober_draw(&pr);
            const char *m = coll_iter_member(&pr.ci, &ml);
            const char *v = coll_iter_value(&pr.ci, &vl);
            picks_add(&p, m, ml, v, vl);
        }
    }
    prober_free(&pr);
    if (p.n == n) {
        done = 0;
        for (size_t i = 0; i < p.n; i++) {
            const char *m, *v;
            size_t ml, vl;
            picks_get(&p, i, &m, &ml, &v, &vl);
            done++;
            if (fn(ctx, m, ml, v, vl)) break;
        }
    }
    picks_free(&p);
    return done;
}

uint64_t coll_sample(uint64_t version, uint64_t count, uint64_t n, int distinct,
                     coll_sample_fn *fn, void *ctx)
{
    if (n == 0 || count == 0) return 0;
    if (distinct) {
        if (n >= count) return sample_all(version, fn, ctx);
        if (count > WALK_MAX && n <= count / 4) {
            int64_t r = sample_probe_distinct(version, count, n, fn, ctx);
            if (r >= 0) return (uint64_t)r;
        }
        return sample_walk_distinct(version, count, n, fn, ctx);
    }
    if (count <= WALK_MAX) return sample_table_repeat(version, n, fn, ctx);
    return sample_probe_repeat(version, count, n, fn, ctx);
}

/* ---------------- HSCAN / SSCAN ---------------- */

void coll_scan(client *c, int type, int with_values)
{
    uint64_t cursor, next = 0;
    long long count = 10;
    const char *pat = NULL;
    size_t plen = 0;
    struct meta m;

    if (cursor_parse(ARG(c, 2), &cursor) < 0) {
        resp_add_error(&c->out, "ERR invalid cursor");
        return;
    }
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, type);
    if (r <= 0) {
        if (r == 0) {
            resp_add_array(&c->out, 2);
            resp_add_bulk(&c->out, "0", 1);
            resp_add_array(&c->out, 0);
        }
        meta_free(&m);
        return;
    }
    for (int j = 3; j < c->argc; j += 2) {
        if (j + 1 >= c->argc) {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
        if (ARG_IS(c, j, "count")) {
            if (arg_ll(c, j + 1, &count) < 0) goto done;
            if (count < 1) {
                resp_add_error(&c->out, resp_err_syntax);
                goto done;
            }
        } else if (ARG_IS(c, j, "match")) {
            pat = c->argv[j + 1];
            plen = c->argvlen[j + 1];
            if (plen == 1 && pat[0] == '*') pat = NULL;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
    }

    coll_iter ci;
    coll_iter_init(&ci, m.version);
    if (cursor != 0) {
        buf pos;
        buf_init(&pos);
        if (cursor_load(cursor, &pos) < 0) {
            buf_free(&pos);
            coll_iter_free(&ci);
            resp_add_error(&c->out, "ERR invalid cursor");
            goto done;
        }
        coll_iter_seek(&ci, pos.data, pos.len);
        buf_free(&pos);
    }
    buf items;
    buf_init(&items);
    long long n = 0, visited = 0;
    for (; coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t ml, vl;
        const char *mem = coll_iter_member(&ci, &ml);
        if (visited == count) {
            next = cursor_save(mem, ml);
            break;
        }
        visited++;
        if (pat && !glob_match(pat, plen, mem, ml, 0)) continue;
        resp_add_bulk(&items, mem, ml);
        n++;
        if (with_values) {
            const char *v = coll_iter_value(&ci, &vl);
            resp_add_bulk(&items, v, vl);
            n++;
        }
    }
    coll_iter_free(&ci);
    char cs[32];
    int cl = snprintf(cs, sizeof cs, "%llu", (unsigned long long)next);
    resp_add_array(&c->out, 2);
    resp_add_bulk(&c->out, cs, (size_t)cl);
    resp_add_array(&c->out, n);
    buf_append(&c->out, items.data, items.len);
    buf_free(&items);
done:
    meta_free(&m);
}
