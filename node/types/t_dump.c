/* t_dump: DUMP and RESTORE in Redis 7.0's serialization (rdb.h), so values
 * move between Strata and redis-server in both directions.
 *
 * DUMP key
 *   One serializer per type, each walking the stored records in order,
 *   in the form Redis 7.0 would keep the value in (same thresholds, read
 *   from the node's CONFIG: hash-max-listpack-*, zset-max-listpack-*,
 *   set-max-intset-entries, list-max-listpack-size):
 *     string -> RDB_TYPE_STRING (integer-encoded when Redis would)
 *     list   -> RDB_TYPE_LIST_QUICKLIST_2 (listpack nodes)
 *     set    -> RDB_TYPE_SET_INTSET when small and all integers, else RDB_TYPE_SET
 *     hash   -> RDB_TYPE_HASH_LISTPACK when small, else RDB_TYPE_HASH
 *     zset   -> RDB_TYPE_ZSET_LISTPACK when small (score order), else RDB_TYPE_ZSET_2
 *     stream -> RDB_TYPE_STREAM_LISTPACKS_2: one listpack per stored node
 *             ('n' records, stream.h), so Redis gets the node boundaries
 *             Strata keeps; see dump_stream for deleted entries
 *   Small values come out byte for byte as Redis's DUMP when their order
 *   agrees (a Redis listpack keeps insertion order, Strata byte order) and
 *   Redis did not LZF-compress them (blobs over 20 bytes: Strata never
 *   compresses).  A new type adds its serializer to dump_value's switch.
 *   Strings are read through db_lookup's meta (sval/slen).
 *
 * RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]
 *   Redis's order of checks: options, BUSYKEY, the TTL, the footer
 *   (version <= 10 and CRC-64), then the value itself ("Bad data format").
 *   Every encoding redis-server 7.0 writes is read (rdb.c), element by
 *   element straight into the store (rdbkey.c); streams of RDB types 15
 *   (Redis 5 to 6.2) and 19 (7.0) with their consumer groups.  A set, hash or sorted
 *   set naming a member twice is refused ("Bad data format"), where Redis
 *   7.0 refuses it for big values but keeps a small hash's duplicate field
 *   in its listpack.  IDLETIME and FREQ are
 *   checked as Redis checks them and otherwise ignored: Strata tracks
 *   neither.  A TTL already in the past deletes the key (with REPLACE) and
 *   answers OK, as Redis does. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "notify.h"
#include "rdb.h"
#include "rdbkey.h"
#include "rconfig.h"
#include "store.h"
#include "strchunk.h"
#include "stream.h"
#include "util.h"

/* Append the serialized collection records of m.  Returns 0 or -1 on a
 * count mismatch (logged). */
static int dump_collection(const struct meta *m, buf *out)
{
    buf prefix;
    buf_init(&prefix);
    if (m->type == T_ZSET) enc_zscore_prefix(&prefix, m->version);
    else enc_data_prefix(&prefix, m->version);
    rdb_write_len(out, m->count);
    uint64_t n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, prefix.data, prefix.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len) != 0) break;
        const char *v = store_iter_val(it, &vl);
        switch (m->type) {
        case T_LIST: rdb_write_string(out, v, vl); break;
        case T_SET: rdb_write_string(out, k + prefix.len, kl - prefix.len); break;
        case T_HASH:
            rdb_write_string(out, k + prefix.len, kl - prefix.len);
            rdb_write_string(out, v, vl);
            break;
        default: {
            /* 'Z' version sortable:8 member */
            if (kl < prefix.len + 8) continue;
            rdb_write_string(out, k + prefix.len + 8, kl - prefix.len - 8);
            rdb_write_double(out, sortable_to_score(get_u64be((const unsigned char *)k + prefix.len)));
            break;
        }
        }
        n++;
    }
    store_iter_free(it);
    buf_free(&prefix);
    if (n != m->count) {
        log_error("DUMP: a %s holds %llu elements but its meta says %llu", type_name(m->type),
                  (unsigned long long)n, (unsigned long long)m->count);
        return -1;
    }
    return 0;
}

/* ---------------- compact forms, as Redis 7.0 keeps small values ---------------- */

/* Walk the records of m ('D' or, for a zset, 'Z' in score order) and
 * call fn on each: a = member/field/element, b = value (hash, list). */
typedef int walk_fn(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score);

static uint64_t walk(const struct meta *m, walk_fn *fn, void *ctx)
{
    buf prefix;
    buf_init(&prefix);
    if (m->type == T_ZSET) enc_zscore_prefix(&prefix, m->version);
    else enc_data_prefix(&prefix, m->version);
    uint64_t n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, prefix.data, prefix.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len) != 0) break;
        const char *v = store_iter_val(it, &vl);
        int stop;
        if (m->type == T_ZSET) {
            if (kl < prefix.len + 8) continue;
            double sc = sortable_to_score(get_u64be((const unsigned char *)k + prefix.len));
            stop = fn(ctx, k + prefix.len + 8, kl - prefix.len - 8, NULL, 0, sc);
        } else if (m->type == T_LIST) {
            stop = fn(ctx, v, vl, NULL, 0, 0);
        } else {
            stop = fn(ctx, k + prefix.len, kl - prefix.len, v, vl, 0);
        }
        n++;
        if (stop) break;
    }
    store_iter_free(it);
    buf_free(&prefix);
    return n;
}

struct fit {
    long long maxlen;   /* every string at most this long */
    int ints;           /* sets: every member an integer */
    int ok;
    long long *vals;    /* ints: the values */
    size_t n;
};

static int fit_check(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score)
{
    struct fit *f = ctx;
    (void)score;
    long long v;
    if (f->ints) {
        if (al > 20 || str2ll(a, al, &v) < 0) f->ok = 0;
        else f->vals[f->n++] = v;
    } else if ((long long)al > f->maxlen || (long long)bl > f->maxlen) {
        f->ok = 0;
    }
    return !f->ok;
}

static int lp_add(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score)
{
    struct rdb_lp *lp = ctx;
    (void)score;
    rdb_lp_append(lp, a, al);
    rdb_lp_append(lp, b ? b : "", bl);   /* hashes: the value, even empty */
    return 0;
}

static int lp_add_scored(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score)
{
    struct rdb_lp *lp = ctx;
    char num[64];
    (void)b, (void)bl;
    rdb_lp_append(lp, a, al);
    rdb_lp_append(lp, num, rdb_score_string(num, sizeof num, score));
    return 0;
}

/* Lists: a quicklist of listpack nodes of at most this many bytes
 * (list-max-listpack-size, negative: 4 KB << (-n - 1); positive: entries). */
struct ql {
    buf nodes;          /* container and listpack string of each node */
    uint64_t nnodes;
    struct rdb_lp cur;
    long long max_bytes, max_entries;
};

static void ql_flush(struct ql *q)
{
    if (!q->cur.count) return;
    rdb_lp_finish(&q->cur);
    rdb_write_len(&q->nodes, 2);   /* packed */
    rdb_write_len(&q->nodes, q->cur.b.len);
    buf_append(&q->nodes, q->cur.b.data, q->cur.b.len);
    q->nnodes++;
    rdb_lp_free(&q->cur);
    rdb_lp_init(&q->cur);
}

static int ql_add(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score)
{
    struct ql *q = ctx;
    (void)b, (void)bl, (void)score;
    if (q->cur.count &&
        ((q->max_entries && (long long)q->cur.count >= q->max_entries) ||
         (q->max_bytes && (long long)(q->cur.b.len + al + 11) > q->max_bytes)))
        ql_flush(q);
    rdb_lp_append(&q->cur, a, al);
    return 0;
}

static int dump_list(const struct meta *m, buf *out)
{
    struct ql q;
    buf_init(&q.nodes);
    q.nnodes = 0;
    rdb_lp_init(&q.cur);
    long long fill = rconf_num("list-max-listpack-size");
    if (fill < -5) fill = -5;
    q.max_bytes = fill < 0 ? 4096LL << (-fill - 1) : 0;
    q.max_entries = fill > 0 ? fill : 0;
    if (fill == 0) q.max_entries = 1;
    uint64_t n = walk(m, ql_add, &q);
    ql_flush(&q);
    rdb_write_type(out, RDB_TYPE_LIST_QUICKLIST_2);
    rdb_write_len(out, q.nnodes);
    buf_append(out, q.nodes.data, q.nodes.len);
    rdb_lp_free(&q.cur);
    buf_free(&q.nodes);
    return n == m->count ? 0 : -1;
}

/* A small hash, set or zset in Redis's compact form, if it fits Redis's
 * thresholds: 1 written, 0 does not fit (nothing written). */
static int dump_compact(const struct meta *m, buf *out)
{
    struct fit f = { 0, 0, 1, NULL, 0 };
    long long max_entries;
    if (m->type == T_HASH) {
        max_entries = rconf_num("hash-max-listpack-entries");
        f.maxlen = rconf_num("hash-max-listpack-value");
    } else if (m->type == T_ZSET) {
        max_entries = rconf_num("zset-max-listpack-entries");
        f.maxlen = rconf_num("zset-max-listpack-value");
    } else {
        max_entries = rconf_num("set-max-intset-entries");
        f.ints = 1;
    }
    if ((long long)m->count > max_entries || m->count == 0) return 0;
    if (f.ints) f.vals = xmalloc(sizeof *f.vals * (size_t)m->count);
    uint64_t n = walk(m, fit_check, &f);
    int rc = 0;
    if (f.ok && n == m->count) {
        if (f.ints) {
            rdb_write_type(out, RDB_TYPE_SET_INTSET);
            rdb_write_intset(out, f.vals, f.n);
        } else {
            struct rdb_lp lp;
            rdb_lp_init(&lp);
            walk(m, m->type == T_ZSET ? lp_add_scored : lp_add, &lp);
            rdb_lp_finish(&lp);
            rdb_write_type(out, m->type == T_ZSET ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_HASH_LISTPACK);
            rdb_write_len(out, lp.b.len);
            buf_append(out, lp.b.data, lp.b.len);
            rdb_lp_free(&lp);
        }
        rc = 1;
    }
    free(f.vals);
    return rc;
}

/* ---------------- streams ---------------- */

/* Fields of an encoded entry (stream.h) as pointers into it: f[0..n). */
struct sfields {
    const char **f;
    size_t *l;
    uint32_t n, cap;
};

static int sfields_load(struct sfields *sf, const char *v, size_t vl)
{
    uint32_t n;
    size_t off;
    stream_entry_decode(v, vl, &n, NULL, &off);
    if (n > vl) return -1;
    if (n > sf->cap) {
        sf->f = xrealloc(sf->f, n * sizeof *sf->f);
        sf->l = xrealloc(sf->l, n * sizeof *sf->l);
        sf->cap = n;
    }
    const unsigned char *p = (const unsigned char *)v;
    for (uint32_t i = 0; i < n; i++) {
        if (off + 4 > vl) return -1;
        uint32_t l = get_u32be(p + off);
        off += 4;
        if (l > vl - off) return -1;
        sf->f[i] = v + off;
        sf->l[i] = l;
        off += l;
    }
    sf->n = n;
    return 0;
}

/* A tombstone of Redis's listpack: flags "deleted", no fields. */
static void lp_tombstone(struct rdb_lp *lp, struct sid master, struct sid id)
{
    rdb_lp_append_int(lp, 1);
    rdb_lp_append_int(lp, (long long)(id.ms - master.ms));
    rdb_lp_append_int(lp, (long long)(id.seq - master.seq));
    rdb_lp_append_int(lp, 0);
    rdb_lp_append_int(lp, 4);
}

/* One node's listpack into lp: its live entries, those of si below
 * next's first ID (all of them without next).
 *
 * Strata keeps no deleted entries, only each node's count of them and the
 * ID of the last entry appended, deleted or not: what Redis reads of its
 * tombstones (a node is full at live + deleted entries; a MINID trim
 * drops a whole node when its last entry is below the threshold).  So
 * the listpack gets that many tombstones without fields: a deleted last
 * entry is a tombstone with its own ID at the end; an entry appended
 * after a greater ID (XSETID moved the last ID back, stream.h's back ID)
 * gets a tombstone with that ID just before it; the others carry the
 * master ID and come first, no greater than any live ID after them.  A
 * MINID trim walking the node in append order then stops where it
 * would have. */
static int dump_stream_node(uint64_t ver, const struct snode *nd, const struct snode *next, stream_iter *si,
                            struct sfields *mf, struct sfields *ef, struct rdb_lp *lp)
{
    uint64_t n = 0;
    int have_master = 0;
    buf master;   /* the first live entry: its fields are the master fields */
    buf_init(&master);
    mf->n = 0;
    if (si->valid && (!next || sid_cmp(si->id, next->first) < 0)) {
        size_t vl;
        const char *v = stream_iter_val(si, &vl);
        buf_append(&master, v, vl);
        if (sfields_load(mf, master.data, master.len) < 0) goto bad;
        have_master = 1;
    }
    uint64_t deleted = nd->total > nd->live ? nd->total - nd->live : 0;
    int last_deleted = 0;   /* the last entry appended is gone */
    if (deleted) {
        buf v;
        buf_init(&v);
        last_deleted = stream_entry_get(ver, nd->last, &v) == 0;
        buf_free(&v);
    }
    /* the entries first, into body: an entry appended after a greater
     * (deleted) ID, its back ID, gets a tombstone with that ID before it,
     * so Redis's append order, as far as a MINID trim reads it, is kept */
    struct rdb_lp body;
    rdb_lp_init(&body);
    uint64_t reserved = last_deleted ? 1 : 0;   /* tombstones placed */
    struct sid prev_back = { 0, 0 };
    int have_back = 0;
    for (; si->valid && (!next || sid_cmp(si->id, next->first) < 0); stream_iter_next(si)) {
        size_t vl, off;
        uint32_t enf;
        struct sid back;
        const char *v = stream_iter_val(si, &vl);
        if (sfields_load(ef, v, vl) < 0) {
            rdb_lp_free(&body);
            goto bad;
        }
        if (stream_entry_decode(v, vl, &enf, &back, &off) && reserved < deleted &&
            (!have_back || sid_cmp(back, prev_back) != 0)) {
            lp_tombstone(&body, nd->first, back);
            prev_back = back;
            have_back = 1;
            reserved++;
        }
        int same = have_master && ef->n == mf->n;
        for (uint32_t i = 0; same && i + 1 < ef->n; i += 2)
            same = ef->l[i] == mf->l[i] && memcmp(ef->f[i], mf->f[i], ef->l[i]) == 0;
        long long nf = ef->n / 2;
        rdb_lp_append_int(&body, same ? 2 : 0);
        rdb_lp_append_int(&body, (long long)(si->id.ms - nd->first.ms));
        rdb_lp_append_int(&body, (long long)(si->id.seq - nd->first.seq));
        if (!same) rdb_lp_append_int(&body, nf);
        for (uint32_t i = 0; i + 1 < ef->n; i += 2) {
            if (!same) rdb_lp_append(&body, ef->f[i], ef->l[i]);
            rdb_lp_append(&body, ef->f[i + 1], ef->l[i + 1]);
        }
        rdb_lp_append_int(&body, same ? nf + 3 : 2 * nf + 4);
        n++;
    }
    rdb_lp_append_int(lp, (long long)nd->live);
    rdb_lp_append_int(lp, (long long)deleted);
    rdb_lp_append_int(lp, (long long)(mf->n / 2));
    for (uint32_t i = 0; i + 1 < mf->n; i += 2) rdb_lp_append(lp, mf->f[i], mf->l[i]);
    rdb_lp_append_int(lp, 0);
    for (uint64_t i = reserved; i < deleted; i++) lp_tombstone(lp, nd->first, nd->first);
    buf_append(&lp->b, body.b.data + 6, body.b.len - 6);   /* its elements, without the header */
    lp->count += body.count;
    rdb_lp_free(&body);
    if (last_deleted) lp_tombstone(lp, nd->first, nd->last);
    rdb_lp_finish(lp);
    buf_free(&master);
    if (n != nd->live) {
        log_error("DUMP: a stream node holds %llu entries but its record says %llu", (unsigned long long)n,
                  (unsigned long long)nd->live);
        return -1;
    }
    return 0;
bad:
    buf_free(&master);
    log_error("DUMP: a malformed stream entry");
    return -1;
}

/* Walk the records under prefix: fn(ctx, key suffix, value) for each;
 * returns how many. */
typedef int rec_fn(void *ctx, const char *k, size_t kl, const char *v, size_t vl);

static uint64_t walk_records(const buf *prefix, rec_fn *fn, void *ctx, int *err)
{
    uint64_t n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, prefix->data, prefix->len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix->len || memcmp(k, prefix->data, prefix->len) != 0) break;
        const char *v = store_iter_val(it, &vl);
        if (fn(ctx, k + prefix->len, kl - prefix->len, v, vl) < 0) *err = 1;
        n++;
    }
    store_iter_free(it);
    return n;
}

struct sdump {
    buf *out;
    uint64_t ver;
    struct sgroup g;
};

/* A group PEL record: ID (key), delivery time:8 | count:8 | consumer. */
static int dump_nack(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct sdump *d = ctx;
    if (kl != 16 || vl < 16) return -1;
    buf_append(d->out, k, 16);
    rdb_write_ms(d->out, get_u64be((const unsigned char *)v));
    rdb_write_len(d->out, get_u64be((const unsigned char *)v + 8));
    return 0;
}

static int dump_cpel(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct sdump *d = ctx;
    (void)v, (void)vl;
    if (kl != 16) return -1;
    buf_append(d->out, k, 16);
    return 0;
}

/* A consumer record: name (key), seen time:8 | pending:8; then its PEL. */
static int dump_consumer(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct sdump *d = ctx;
    if (vl < 16) return -1;
    uint64_t pending = get_u64be((const unsigned char *)v + 8);
    rdb_write_string(d->out, k, kl);
    rdb_write_ms(d->out, get_u64be((const unsigned char *)v));
    rdb_write_len(d->out, pending);
    buf pre;
    buf_init(&pre);
    stream_cpel_prefix(&pre, d->ver, d->g.gid, k, kl);
    int err = 0;
    uint64_t n = walk_records(&pre, dump_cpel, d, &err);
    buf_free(&pre);
    return err || n != pending ? -1 : 0;
}

static int dump_group(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct sdump *d = ctx;
    (void)v, (void)vl;
    if (stream_group_get(d->ver, k, kl, &d->g) != 1) return -1;
    rdb_write_string(d->out, k, kl);
    rdb_write_len(d->out, d->g.last.ms);
    rdb_write_len(d->out, d->g.last.seq);
    rdb_write_len(d->out, (uint64_t)d->g.entries_read);   /* -1 (unknown): 2^64 - 1, as Redis */
    buf pre;
    buf_init(&pre);
    int err = 0;
    rdb_write_len(d->out, d->g.pel);
    stream_gkey(&pre, d->ver, 'p', d->g.gid);
    uint64_t n = walk_records(&pre, dump_nack, d, &err);
    if (n != d->g.pel) err = 1;
    rdb_write_len(d->out, d->g.consumers);
    stream_gkey(&pre, d->ver, 'c', d->g.gid);
    n = walk_records(&pre, dump_consumer, d, &err);
    if (n != d->g.consumers) err = 1;
    buf_free(&pre);
    return err ? -1 : 0;
}

/* A stream as Redis 7.0's RDB_TYPE_STREAM_LISTPACKS_2 (layout: rdb.h). */
static int dump_stream(const struct meta *m, buf *out)
{
    struct stream_hdr h;
    if (stream_hdr_load(m->version, &h) < 0) return -1;
    rdb_write_type(out, RDB_TYPE_STREAM_LISTPACKS_2);
    rdb_write_len(out, h.nodes);
    struct sfields mf = { 0 }, ef = { 0 };
    struct snode nd, next;
    stream_iter si;
    struct sid zero = { 0, 0 }, first = zero;
    stream_iter_open(&si, m->version, zero, 0);
    if (si.valid) first = si.id;
    uint64_t nodes = 0;
    int rc = 0;
    int have = stream_node_edge(m->version, 0, &nd);
    while (have && rc == 0) {
        int has_next = stream_node_next(m->version, &nd, &next);
        struct rdb_lp lp;
        rdb_lp_init(&lp);
        rc = dump_stream_node(m->version, &nd, has_next ? &next : NULL, &si, &mf, &ef, &lp);
        rdb_write_len(out, 16);   /* the master ID: a string of 16 bytes */
        rdb_write_sid(out, nd.first);
        rdb_write_len(out, lp.b.len);
        buf_append(out, lp.b.data, lp.b.len);
        rdb_lp_free(&lp);
        nodes++;
        nd = next;
        have = has_next;
    }
    if (si.valid && rc == 0) {
        log_error("DUMP: stream entries after the last node");
        rc = -1;
    }
    stream_iter_close(&si);
    free(mf.f);
    free(mf.l);
    free(ef.f);
    free(ef.l);
    if (rc < 0) return -1;
    if (nodes != h.nodes) {
        log_error("DUMP: a stream has %llu nodes but its header says %llu", (unsigned long long)nodes,
                  (unsigned long long)h.nodes);
        return -1;
    }
    rdb_write_len(out, m->count);
    rdb_write_len(out, h.last.ms);
    rdb_write_len(out, h.last.seq);
    rdb_write_len(out, first.ms);
    rdb_write_len(out, first.seq);
    rdb_write_len(out, h.maxdel.ms);
    rdb_write_len(out, h.maxdel.seq);
    rdb_write_len(out, h.added);
    rdb_write_len(out, h.groups);
    struct sdump d = { out, m->version, { 0 } };
    buf pre;
    buf_init(&pre);
    stream_key(&pre, m->version, 'g');
    int err = 0;
    uint64_t ng = walk_records(&pre, dump_group, &d, &err);
    buf_free(&pre);
    if (err || ng != h.groups) {
        log_error("DUMP: a stream's consumer groups disagree with their counts");
        return -1;
    }
    return 0;
}

/* The serialized value of m (type byte and body) appended to out. */
static int dump_value(const struct meta *m, buf *out)
{
    switch (m->type) {
    case T_STRING:
        rdb_write_type(out, RDB_TYPE_STRING);
        if (m->chunked) { /* a big string: its chunks, read whole */
            buf v;
            buf_init(&v);
            int rc = strchunk_load(m, &v);
            if (rc == 0) rdb_write_string(out, v.data ? v.data : "", v.len);
            buf_free(&v);
            return rc;
        }
        rdb_write_string(out, m->sval, m->slen);
        return 0;
    case T_LIST: return dump_list(m, out);
    case T_SET:
    case T_HASH:
    case T_ZSET:
        if (dump_compact(m, out)) return 0;
        rdb_write_type(out, m->type == T_SET ? RDB_TYPE_SET : m->type == T_HASH ? RDB_TYPE_HASH : RDB_TYPE_ZSET_2);
        return dump_collection(m, out);
    case T_STREAM: return dump_stream(m, out);
    default: return -1;   /* a new type adds its serializer here */
    }
}

static void dump_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 1, &m);
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
    } else if (r == 1) {
        buf out;
        buf_init(&out);
        if (dump_value(&m, &out) < 0) {
            reply_storage_error(c);
        } else {
            rdb_write_footer(&out, 0);
            resp_add_bulk(&c->out, out.data, out.len);
        }
        buf_free(&out);
    }
    meta_free(&m);
}

static void restore_command(client *c)
{
    int replace = 0, absttl = 0;
    long long idle = -1, freq = -1, ttl;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (ARG_IS(c, j, "replace")) {
            replace = 1;
        } else if (ARG_IS(c, j, "absttl")) {
            absttl = 1;
        } else if (ARG_IS(c, j, "idletime") && more >= 1 && freq == -1) {
            if (arg_ll(c, j + 1, &idle) < 0) return;
            if (idle < 0) {
                resp_add_error(&c->out, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (ARG_IS(c, j, "freq") && more >= 1 && idle == -1) {
            if (arg_ll(c, j + 1, &freq) < 0) return;
            if (freq < 0 || freq > 255) {
                resp_add_error(&c->out, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    struct meta m;
    meta_init(&m);
    int t = db_lookup(ARG(c, 1), &m);
    if (t < 0) {
        reply_storage_error(c);
        goto done;
    }
    if (!replace && t != T_NONE) {
        resp_add_error(&c->out, "BUSYKEY Target key name already exists.");
        goto done;
    }
    if (arg_ll(c, 2, &ttl) < 0) goto done;
    if (ttl < 0) {
        resp_add_error(&c->out, "ERR Invalid TTL value, must be >= 0");
        goto done;
    }
    size_t vlen;
    if (rdb_payload_check(c->argv[3], c->argvlen[3], &vlen) < 0) {
        resp_add_error(&c->out, "ERR DUMP payload version or checksum are wrong");
        goto done;
    }
    uint64_t now = srv.cmd_time_ms;
    if (ttl && !absttl) ttl += (long long)now;
    int expired = ttl && (uint64_t)ttl <= now && !srv.is_replica;
    /* Two passes: the first only checks the value (nothing is written,
     * no event raised), the second writes it; only a duplicate member can
     * still fail then, and its writes are rolled back.  A value that
     * expires at once is only checked, as Redis loads it and drops it. */
    int type, rc = -1;
    const char *err = NULL;
    for (int pass = 0; pass < (expired ? 1 : 2); pass++) {
        struct rdb_reader rd;
        /* Redis reads the value from the whole payload: a value that runs
         * into the footer is read, not refused. */
        (void)vlen;
        rdb_reader_init(&rd, c->argv[3], c->argvlen[3]);
        rc = -1;
        if (rdb_read_byte(&rd, &type) == 0) {
            if (pass == 1 && t != T_NONE) notify_keyspace_event(NOTIFY_NEW, "new", ARG(c, 1));
            rc = rdbkey_restore(ARG(c, 1), &rd, type, (uint64_t)ttl, &m, pass == 0, pass == 1, &err);
        }
        rdb_reader_free(&rd);
        if (rc < 0) break;
    }
    if (rc < 0) {
        resp_add_error(&c->out, "ERR Bad data format");
        goto done;
    }
    if (expired) {
        if (t != T_NONE) {
            db_delete(ARG(c, 1), &m);
            notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
        }
    } else {
        notify_keyspace_event(NOTIFY_GENERIC, "restore", ARG(c, 1));
    }
    resp_add_ok(&c->out);
done:
    meta_free(&m);
}

void t_dump_register(void)
{
    server_register(CMD_DUMP, dump_command);
    server_register(CMD_RESTORE, restore_command);
}
