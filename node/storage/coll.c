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
 * Probes: the PROBE_ENDS + 1 first and PROBE_ENDS last elements are drawn
 * directly (a random index there, reached by a short walk), so outliers
 * at the ends cannot stretch the window.  The two bounds of the remaining
 * range share a byte prefix P; the next 8 bytes of each (zero padded) give
 * an interval (lo, hi] of big-endian integers.  A probe seeks to
 * P + be64(r) for r uniform in (lo, hi] and lands on the first element at
 * or after it, so an element is hit with probability proportional to the
 * key-space gap in front of it: uniform for evenly spread members (random
 * bytes, hashes, fixed-width ids).  For clustered members, a landing
 * behind a gap wider than PROBE_CAP average gaps is kept only with
 * probability cap / gap (rejection sampling), which limits any element to
 * about PROBE_CAP times its fair share; after PROBE_TRIES rejections the
 * landing behind the narrowest gap is taken, which bounds the cost.
 * Distinct draws remember what they picked in a small hash table (the
 * reply holds those elements anyway) and fall back to a walk if probes
 * keep hitting the same elements. */
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

/* Add an element; with a table, refuse (return 0) a member already there. */
static int picks_add(struct picks *p, const char *m, size_t ml, const char *v, size_t vl)
{
    size_t slot = 0;
    if (p->tcap) {
        slot = (size_t)hash_bytes(m, ml, hash_seed()) & (p->tcap - 1);
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

/* Elements drawn directly at each end instead of by probing.  Outliers
 * sit at the ends (an empty member, a binary one below the printable
 * ones): left inside the probe window they would stretch it so far that
 * the element after them soaks up most of the probes. */
#define PROBE_ENDS 16
/* A landing behind a gap wider than PROBE_CAP times the average gap is
 * kept only with probability cap / gap, so no element gets much more than
 * PROBE_CAP times its fair share; after PROBE_TRIES rejections the
 * narrowest landing is kept, which bounds the cost for very clustered
 * members. */
#define PROBE_CAP 4
#define PROBE_TRIES 8

#define PROBE_POS 24

struct prober {
    coll_iter ci;
    uint64_t count;
    buf lo_m;           /* member at index PROBE_ENDS: probes land after it */
    size_t cp;          /* common prefix of the window's bounds */
    /* The window: positions cp .. cp+npos-1 read as a mixed-radix number,
     * position i holding 0 (the member ended, or a byte below the range
     * seen there) or 1 + byte - pmin[i], for pmin..pmax the bytes the
     * sampled members have at that position. */
    int npos;
    unsigned char pmin[PROBE_POS], pmax[PROBE_POS];
    uint64_t weight[PROBE_POS];
    uint64_t lo, hi;    /* window values of the two bounds */
    uint64_t cap;       /* largest gap always accepted */
    buf scratch;
};

/* The window value of a member: non-decreasing in byte order (a byte out
 * of the range saturates the rest of the number), so the first element
 * after a probe has a value >= the probe's. */
static uint64_t prober_val(const struct prober *pr, const char *s, size_t len)
{
    uint64_t v = 0;
    int sat = 0; /* 0 none, 1 below the range (min digits), 2 above (max digits) */
    for (int i = 0; i < pr->npos; i++) {
        uint64_t radix = (uint64_t)(pr->pmax[i] - pr->pmin[i]) + 2, d;
        size_t at = pr->cp + (size_t)i;
        if (sat == 1 || (!sat && at >= len)) {
            d = 0;
            if (!sat && at >= len) sat = 1;
        } else if (sat == 2) {
            d = radix - 1;
        } else {
            unsigned char b = (unsigned char)s[at];
            if (b < pr->pmin[i]) { d = 0; sat = 2; }   /* sorts after every shorter */
            else if (b > pr->pmax[i]) { d = radix - 1; sat = 2; }
            else d = (uint64_t)(b - pr->pmin[i]) + 1;
        }
        v += d * pr->weight[i];
    }
    return v;
}

/* The probe key for window value r (after the prefix), in pr->scratch. */
static void prober_key(struct prober *pr, uint64_t r)
{
    buf_clear(&pr->scratch);
    buf_append(&pr->scratch, pr->lo_m.data, pr->cp);
    for (int i = 0; i < pr->npos; i++) {
        uint64_t radix = (uint64_t)(pr->pmax[i] - pr->pmin[i]) + 2;
        uint64_t d = (r / pr->weight[i]) % radix;
        if (d == 0) break;
        buf_append_char(&pr->scratch, (char)(pr->pmin[i] + d - 1));
    }
}

static void ci_seek_last(coll_iter *ci)
{
    buf end;
    buf_init(&end);
    if (enc_prefix_end(&end, ci->prefix.data, SUBKEY_PREFIX) == 0)
        store_iter_seek_last_before(ci->it, end.data, end.len);
    else
        store_iter_seek_last(ci->it);
    buf_free(&end);
    coll_iter_settle(ci);
}

static void ci_prev(coll_iter *ci)
{
    if (!ci->valid) return;
    store_iter_prev(ci->it);
    coll_iter_settle(ci);
}

/* Widen the per-position byte ranges with a sampled member. */
static void prober_observe(struct prober *pr, const char *m, size_t ml, size_t from, int *seen)
{
    for (int i = 0; i < PROBE_POS && from + (size_t)i < ml; i++) {
        unsigned char b = (unsigned char)m[from + (size_t)i];
        if (!seen[i] || b < pr->pmin[i]) pr->pmin[i] = b;
        if (!seen[i] || b > pr->pmax[i]) pr->pmax[i] = b;
        seen[i] = 1;
    }
}

/* Requires count > 2 * PROBE_ENDS + 1 (the callers only probe
 * collections bigger than WALK_MAX).  0 ok, -1 the data is much shorter
 * than its count. */
static int prober_init(struct prober *pr, uint64_t version, uint64_t count)
{
    size_t l1, l2, ml;
    buf sample; /* the walked end members: mlen:size_t | member */
    buf_init(&sample);
    coll_iter_init(&pr->ci, version);
    buf_init(&pr->lo_m);
    buf_init(&pr->scratch);
    pr->count = count;
    pr->npos = 0;
    pr->lo = pr->hi = pr->cap = 0;
    int ok = 0;
    for (int i = 0; i <= PROBE_ENDS && coll_iter_valid(&pr->ci); i++) {
        const char *m = coll_iter_member(&pr->ci, &ml);
        buf_append(&sample, &ml, sizeof ml);
        buf_append(&sample, m, ml);
        if (i < PROBE_ENDS) coll_iter_next(&pr->ci);
    }
    if (!coll_iter_valid(&pr->ci)) goto out;
    const char *a = coll_iter_member(&pr->ci, &l1);
    buf_append(&pr->lo_m, a, l1);
    ci_seek_last(&pr->ci);
    for (int i = 0; i <= PROBE_ENDS && coll_iter_valid(&pr->ci); i++) {
        const char *m = coll_iter_member(&pr->ci, &ml);
        buf_append(&sample, &ml, sizeof ml);
        buf_append(&sample, m, ml);
        if (i < PROBE_ENDS) ci_prev(&pr->ci);
    }
    if (!coll_iter_valid(&pr->ci)) goto out;
    const char *b = coll_iter_member(&pr->ci, &l2);
    a = pr->lo_m.data;
    size_t cp = 0;
    while (cp < l1 && cp < l2 && a[cp] == b[cp]) cp++;
    pr->cp = cp;
    int seen[PROBE_POS] = {0};
    for (size_t off = 0; off < sample.len;) {
        memcpy(&ml, sample.data + off, sizeof ml);
        off += sizeof ml;
        /* Only members inside the window's prefix: an outlier at an end
         * would widen the ranges for nothing. */
        if (ml >= cp && memcmp(sample.data + off, a, cp) == 0)
            prober_observe(pr, sample.data + off, ml, cp, seen);
        off += ml;
    }
    /* As many positions as the radices allow in 64 bits. */
    uint64_t total = 1;
    int npos = 0;
    while (npos < PROBE_POS && seen[npos]) {
        uint64_t radix = (uint64_t)(pr->pmax[npos] - pr->pmin[npos]) + 2;
        if (total > UINT64_MAX / radix) break;
        total *= radix;
        npos++;
    }
    pr->npos = npos;
    for (int i = npos - 1; i >= 0; i--) {
        pr->weight[i] = i == npos - 1 ? 1
            : pr->weight[i + 1] * ((uint64_t)(pr->pmax[i + 1] - pr->pmin[i + 1]) + 2);
    }
    pr->lo = prober_val(pr, a, l1);
    pr->hi = prober_val(pr, b, l2);
    /* Bounds whose windows tie leave nothing to probe: prober_draw then
     * walks. */
    uint64_t inside = count - 2 * PROBE_ENDS - 1;
    pr->cap = pr->hi > pr->lo ? (pr->hi - pr->lo) / inside * PROBE_CAP : 0;
    ok = 1;
out:
    buf_free(&sample);
    return ok ? 0 : -1;
}

static void prober_free(struct prober *pr)
{
    coll_iter_free(&pr->ci);
    buf_free(&pr->lo_m);
    buf_free(&pr->scratch);
}

/* Land on the first element after a random point of the window; returns
 * the gap in front of it (window units). */
static uint64_t prober_land(struct prober *pr)
{
    prober_key(pr, pr->lo + 1 + coll_rand_below(pr->hi - pr->lo));
    coll_iter_seek(&pr->ci, pr->scratch.data, pr->scratch.len);
    if (!coll_iter_valid(&pr->ci)) { /* cannot happen: the probe is <= the window's end */
        ci_seek_last(&pr->ci);
        return 0;
    }
    size_t ml, pl;
    const char *m = coll_iter_member(&pr->ci, &ml);
    uint64_t at = prober_val(pr, m, ml);
    buf_clear(&pr->scratch);
    buf_append(&pr->scratch, m, ml);
    ci_prev(&pr->ci);
    uint64_t before = pr->lo;
    if (coll_iter_valid(&pr->ci)) {
        const char *p = coll_iter_member(&pr->ci, &pl);
        before = prober_val(pr, p, pl);
    }
    coll_iter_seek(&pr->ci, pr->scratch.data, pr->scratch.len);
    return at > before ? at - before : 0;
}

/* Position pr->ci on a random element. */
static void prober_draw(struct prober *pr)
{
    uint64_t r = coll_rand_below(pr->count);
    if (r <= PROBE_ENDS || pr->hi <= pr->lo) {
        coll_iter_rewind(&pr->ci);
        for (uint64_t i = 0; i < r && coll_iter_valid(&pr->ci); i++) coll_iter_next(&pr->ci);
        if (!coll_iter_valid(&pr->ci)) coll_iter_rewind(&pr->ci);
        return;
    }
    if (r >= pr->count - PROBE_ENDS) {
        ci_seek_last(&pr->ci);
        for (uint64_t i = r; i < pr->count - 1 && coll_iter_valid(&pr->ci); i++) ci_prev(&pr->ci);
        if (!coll_iter_valid(&pr->ci)) ci_seek_last(&pr->ci);
        return;
    }
    /* All tries rejected: take the landing behind the narrowest gap, the
     * least over-represented one seen. */
    uint64_t best_gap = UINT64_MAX;
    buf best;
    buf_init(&best);
    for (int t = 0; t < PROBE_TRIES; t++) {
        uint64_t gap = prober_land(pr);
        if (gap <= pr->cap || coll_rand_below(gap) < pr->cap) {
            buf_free(&best);
            return;
        }
        if (gap < best_gap) {
            size_t ml;
            const char *m = coll_iter_member(&pr->ci, &ml);
            best_gap = gap;
            buf_clear(&best);
            buf_append(&best, m, ml);
        }
    }
    coll_iter_seek(&pr->ci, best.data, best.len);
    buf_free(&best);
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

void coll_scan(client *c, int type, coll_emit_fn *emit_value)
{
    uint64_t cursor, next = 0;
    struct scan_opts o;
    struct meta m;

    if (cursor_parse(ARG(c, 2), &cursor) < 0) {
        resp_add_error(&c->out, "ERR invalid cursor");
        return;
    }
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, type);
    if (r <= 0) {
        if (r == 0) scan_reply(c, 0, &(buf){ 0 }, 0);
        meta_free(&m);
        return;
    }
    if (scan_parse_opts(c, 3, 0, &o) < 0) goto done;

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
        if (visited == o.count) {
            next = cursor_save(mem, ml);
            break;
        }
        visited++;
        if (!scan_match(&o, mem, ml)) continue;
        resp_add_bulk(&items, mem, ml);
        n++;
        if (emit_value) {
            const char *v = coll_iter_value(&ci, &vl);
            emit_value(&items, v, vl);
            n++;
        }
    }
    coll_iter_free(&ci);
    scan_reply(c, next, &items, n);
    buf_free(&items);
done:
    meta_free(&m);
}
