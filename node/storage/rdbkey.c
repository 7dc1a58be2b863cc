/* rdbkey: one key from an RDB value into the store (see rdbkey.h). */
#include "rdbkey.h"

#include <string.h>

#include "server.h"
#include "store.h"
#include "stream.h"
#include "util.h"
#include "zset_internal.h"

static void (*flush_fn)(void);
static size_t flush_bytes;

void rdbkey_set_flush_hook(void (*fn)(void), size_t bytes)
{
    flush_fn = fn;
    flush_bytes = bytes;
}

/* What a stream being read has shown so far (rdb.h's stream callbacks). */
struct ssink {
    struct stream_hdr h;
    uint64_t live;               /* live entries written */
    int any_live, in_node, in_group, in_consumer;
    struct sid prev_live;        /* the greatest live ID so far */
    struct snode nd;             /* the node being read */
    int node_has_max;
    struct sid prev_master;
    int any_node;
    struct sgroup g;
    buf gname, cname;
    uint64_t cseen, cpending, assigned;
    struct snack nk;
    int v1;                      /* RDB_TYPE_STREAM_LISTPACKS: no entries_read */
    uint64_t length;
    struct sid first_live;
    const char *why;             /* a static text when a check failed */
};

struct sink {
    const char *key;
    size_t klen;
    struct meta *m;
    uint64_t expire;
    int dry, check_dups, type, dup;
    buf k;
    struct ssink st;
};

static int sink_begin(void *ctx, int type)
{
    struct sink *s = ctx;
    s->type = type;
    if (type != T_STRING && !s->dry) db_new_collection(s->key, s->klen, type, s->m);
    return 0;
}

static int sink_string(void *ctx, const char *v, size_t len)
{
    struct sink *s = ctx;
    if (!s->dry) db_set_string(s->key, s->klen, v, len, s->expire, s->m);
    return 0;
}

/* 1 if the collection already has this member (a duplicate). */
static int sink_has(struct sink *s, const char *a, size_t al)
{
    if (!s->check_dups) return 0;
    buf v;
    buf_init(&v);
    enc_data_key(&s->k, s->m->version, a, al);
    int r = store_get(srv.st, s->k.data, s->k.len, &v);
    buf_free(&v);
    return r == 1;
}

static int sink_elem(void *ctx, const char *a, size_t al, const char *b, size_t bl, double score)
{
    struct sink *s = ctx;
    if (s->dry) return 0;
    struct meta *m = s->m;
    switch (s->type) {
    case T_LIST: {
        unsigned char idx[8];
        put_u64be(idx, m->tail++);
        enc_data_key(&s->k, m->version, (const char *)idx, 8);
        store_put(srv.st, s->k.data, s->k.len, a, al);
        break;
    }
    case T_SET:
    case T_HASH:
        if (sink_has(s, a, al)) return s->dup = 1;
        enc_data_key(&s->k, m->version, a, al);
        if (s->type == T_SET) store_put(srv.st, s->k.data, s->k.len, "", 0);
        else store_put(srv.st, s->k.data, s->k.len, b, bl);
        break;
    default:
        if (sink_has(s, a, al)) return s->dup = 1;
        zset_put(m->version, a, al, score == 0 ? 0.0 : score, 0, 0);
        break;
    }
    m->count++;
    if (flush_fn && store_pending_bytes(srv.st) > flush_bytes) flush_fn();
    return 0;
}


/* ---------------- streams ---------------- */

/* A stream record write may need a commit of the bulk loader. */
static void sink_maybe_flush(void)
{
    if (flush_fn && store_pending_bytes(srv.st) > flush_bytes) flush_fn();
}

static int ss_fail(struct sink *s, const char *why)
{
    s->st.why = why;
    return 1;
}

/* The node read so far is complete: its record. */
static void ss_node_end(struct sink *s)
{
    struct ssink *t = &s->st;
    if (!t->in_node) return;
    t->in_node = 0;
    if (!s->dry) stream_node_put(s->m->version, &t->nd);
    t->h.nodes++;
}

static int ss_node(void *ctx, struct sid master, size_t lp_bytes, uint64_t live, uint64_t deleted)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    ss_node_end(s);
    /* nodes in ID order, each after every live entry before it (Strata
     * keys a node by its first ID and finds an entry's node by a seek) */
    if (t->any_node && sid_cmp(master, t->prev_master) <= 0) return ss_fail(s, "stream nodes out of order");
    if (t->any_live && sid_cmp(master, t->prev_live) <= 0) return ss_fail(s, "stream node overlaps the one before");
    t->any_node = 1;
    t->prev_master = master;
    memset(&t->nd, 0, sizeof t->nd);
    t->nd.first = master;
    t->nd.bytes = lp_bytes;
    t->node_has_max = 0;
    t->in_node = 1;
    (void)live, (void)deleted;   /* the reader checked them against the entries */
    return 0;
}

static int ss_entry(void *ctx, struct sid id, int deleted, size_t n, const char *const *f, const size_t *fl)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    struct snode *nd = &t->nd;
    struct sid back = nd->max;
    int out_of_order = t->node_has_max && sid_cmp(back, id) > 0;
    nd->total++;
    nd->last = id;
    if (!t->node_has_max || sid_cmp(id, nd->max) > 0) nd->max = id;
    t->node_has_max = 1;
    if (deleted) return 0;
    /* live entries only grow (XADD and XSETID never let a new one go below
     * a live one); deleted ones may (XSETID back over tombstones) */
    if (t->any_live && sid_cmp(id, t->prev_live) <= 0) return ss_fail(s, "stream entries out of order");
    if (nd->live == 0 && sid_cmp(id, nd->first) < 0) nd->first = id;  /* appended below the master ID */
    if (!t->any_live) t->first_live = id;
    t->any_live = 1;
    t->prev_live = id;
    nd->live++;
    t->live++;
    if (s->dry) return 0;
    stream_entry_put(s->m->version, id, (int)n, (char **)f, fl, out_of_order ? &back : NULL);
    s->m->count++;
    sink_maybe_flush();
    return 0;
}

static int ss_meta(void *ctx, const struct rdb_stream_meta *m)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    ss_node_end(s);
    if (t->any_live && sid_cmp(m->last, t->prev_live) < 0)
        return ss_fail(s, "stream last ID below its last entry");
    t->h.last = m->last;
    t->h.maxdel = m->maxdel;
    t->h.added = m->added;
    t->v1 = !m->have_v2;
    t->length = m->length;
    return 0;
}

/* Redis 7.0's streamEstimateDistanceFromFirstEverEntry for a stream read
 * from an RDB of Redis 6 (no max deleted ID, entries added = length). */
static long long ss_estimate(const struct ssink *t, struct sid id, uint64_t length, struct sid first)
{
    if (!t->h.added) return 0;
    int cmp_last = sid_cmp(id, t->h.last);
    if (!length && cmp_last <= 0) return (long long)t->h.added;
    if (cmp_last == 0) return (long long)t->h.added;
    if (cmp_last > 0) return -1;
    int cmp_first = sid_cmp(id, first);
    if (cmp_first < 0) return (long long)(t->h.added - length);
    if (cmp_first == 0) return (long long)(t->h.added - length + 1);
    return -1;
}

static int ss_group(void *ctx, const char *name, size_t nl, struct sid last, long long entries_read)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    buf_clear(&t->gname);
    buf_append(&t->gname, name, nl);
    memset(&t->g, 0, sizeof t->g);
    t->g.last = last;
    t->g.entries_read = entries_read;
    if (entries_read < -1) t->g.entries_read = -1;
    if (t->v1) {
        struct sid zero = { 0, 0 };
        t->g.entries_read = ss_estimate(t, last, t->length, t->any_live ? t->first_live : zero);
    }
    t->assigned = 0;
    t->in_group = 1;
    t->in_consumer = 0;
    t->h.groups++;
    if (s->dry) return 0;
    t->g.gid = server_new_version();
    if (s->check_dups) {
        struct sgroup old;
        if (stream_group_get(s->m->version, name, nl, &old) != 0) return ss_fail(s, "duplicate consumer group");
    }
    return 0;
}

static int ss_nack(void *ctx, struct sid id, uint64_t dtime, uint64_t dcount)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    t->g.pel++;
    if (s->dry) return 0;
    if (s->check_dups && stream_nack_get(s->m->version, t->g.gid, id, &t->nk) != 0)
        return ss_fail(s, "duplicate entry in a group's PEL");
    /* the owner comes with the consumers that follow */
    t->nk.dtime = dtime;
    t->nk.dcount = dcount;
    buf_clear(&t->nk.consumer);
    stream_nack_put(s->m->version, t->g.gid, id, &t->nk);
    sink_maybe_flush();
    return 0;
}

static void ss_consumer_end(struct sink *s)
{
    struct ssink *t = &s->st;
    if (!t->in_consumer) return;
    t->in_consumer = 0;
    if (!s->dry)
        stream_consumer_put(s->m->version, t->g.gid, t->cname.data ? t->cname.data : "", t->cname.len, t->cseen,
                            t->cpending);
}

static int ss_consumer(void *ctx, const char *name, size_t nl, uint64_t seen)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    ss_consumer_end(s);
    buf_clear(&t->cname);
    buf_append(&t->cname, name, nl);
    t->cseen = seen;
    t->cpending = 0;
    t->in_consumer = 1;
    t->g.consumers++;
    if (s->dry || !s->check_dups) return 0;
    uint64_t a, b;
    if (stream_consumer_get(s->m->version, t->g.gid, name, nl, &a, &b) != 0)
        return ss_fail(s, "duplicate consumer");
    return 0;
}

static int ss_cpel(void *ctx, struct sid id)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    t->cpending++;
    t->assigned++;
    if (s->dry) return 0;
    const char *name = t->cname.data ? t->cname.data : "";
    if (stream_nack_get(s->m->version, t->g.gid, id, &t->nk) != 1)
        return ss_fail(s, "consumer PEL entry not in the group's PEL");
    if (t->nk.consumer.len) return ss_fail(s, "a group's PEL entry owned twice");
    buf_append(&t->nk.consumer, name, t->cname.len);
    stream_nack_put(s->m->version, t->g.gid, id, &t->nk);
    stream_cpel_put(s->m->version, t->g.gid, name, t->cname.len, id);
    sink_maybe_flush();
    return 0;
}

static int ss_group_end(void *ctx)
{
    struct sink *s = ctx;
    struct ssink *t = &s->st;
    ss_consumer_end(s);
    t->in_group = 0;
    /* every PEL entry has its consumer (a duplicate was refused above) */
    if (t->assigned != t->g.pel) return ss_fail(s, "a group's PEL entry without a consumer");
    if (!s->dry) stream_group_put(s->m->version, t->gname.data ? t->gname.data : "", t->gname.len, &t->g);
    return 0;
}

static const struct rdb_stream_cb stream_cb = { ss_node, ss_entry, ss_meta, ss_group, ss_nack,
                                                ss_consumer, ss_cpel, ss_group_end };

int rdbkey_restore(const char *key, size_t klen, struct rdb_reader *r, int rdbtype, uint64_t expire,
                   struct meta *old, int dry_run, int check_dups, const char **err)
{
    static const struct rdb_value_cb cb = { sink_begin, sink_string, sink_elem, &stream_cb };
    struct sink s;
    memset(&s, 0, sizeof s);
    s.key = key;
    s.klen = klen;
    s.m = old;
    s.expire = expire;
    s.dry = dry_run;
    s.check_dups = check_dups;
    s.type = T_NONE;
    buf_init(&s.k);
    buf_init(&s.st.gname);
    buf_init(&s.st.cname);
    buf_init(&s.st.nk.consumer);
    size_t mark = store_mark(srv.st);
    long long n = rdb_read_value(r, rdbtype, &cb, &s);
    buf_free(&s.k);
    buf_free(&s.st.gname);
    buf_free(&s.st.cname);
    buf_free(&s.st.nk.consumer);
    /* a stream may be empty (MAXLEN 0, XDEL of all, XGROUP CREATE MKSTREAM) */
    if (n < 0 || (n == 0 && s.type != T_STRING && s.type != T_STREAM)) {
        if (!dry_run) store_rollback(srv.st, mark);
        *err = s.dup ? "duplicate member" : s.st.why ? s.st.why : n == 0 ? "empty collection"
             : r->err ? r->err : "bad value";
        return -1;
    }
    if (s.type != T_STRING && !dry_run) {
        if (s.type == T_STREAM) stream_hdr_save(old->version, &s.st.h);
        old->expire = expire;
        db_write_meta(key, klen, old, 0);
    }
    return s.type;
}
