/* stream: the stream records on the store (layout: stream.h). */
#include "stream.h"

#include <string.h>

#include "db.h"
#include "server.h"
#include "util.h"

int sid_cmp(struct sid a, struct sid b)
{
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

int sid_incr(struct sid *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) {
            id->ms = id->seq = 0;
            return -1;
        }
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return 0;
}

int sid_decr(struct sid *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) {
            id->ms = id->seq = UINT64_MAX;
            return -1;
        }
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return 0;
}

size_t sid_fmt(char *out, struct sid id)
{
    int n = snprintf(out, 48, "%llu-%llu", (unsigned long long)id.ms, (unsigned long long)id.seq);
    return (size_t)n;
}

void sid_append(buf *k, struct sid id)
{
    unsigned char b[16];
    put_u64be(b, id.ms);
    put_u64be(b + 8, id.seq);
    buf_append(k, b, 16);
}

struct sid sid_decode(const char *p)
{
    struct sid id = { get_u64be((const unsigned char *)p), get_u64be((const unsigned char *)p + 8) };
    return id;
}

void stream_key(buf *k, uint64_t ver, char kind)
{
    enc_data_prefix(k, ver);
    buf_append_char(k, kind);
}

void stream_gkey(buf *k, uint64_t ver, char kind, uint64_t gid)
{
    unsigned char b[8];
    stream_key(k, ver, kind);
    put_u64be(b, gid);
    buf_append(k, b, 8);
}

void stream_cpel_prefix(buf *k, uint64_t ver, uint64_t gid, const char *name, size_t nl)
{
    unsigned char b[4];
    stream_gkey(k, ver, 'q', gid);
    put_u32be(b, (uint32_t)nl);
    buf_append(k, b, 4);
    buf_append(k, name, nl);
}

/* ---------------- header ---------------- */

#define HDR_LEN 56

int stream_hdr_load(uint64_t ver, struct stream_hdr *h)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    memset(h, 0, sizeof *h);
    stream_key(&k, ver, 'H');
    int r = store_get(srv.st, k.data, k.len, &v);
    if (r == 1 && v.len >= HDR_LEN) {
        h->nodes = get_u64be((const unsigned char *)v.data + 48);
        h->last = sid_decode(v.data);
        h->maxdel = sid_decode(v.data + 16);
        h->added = get_u64be((const unsigned char *)v.data + 32);
        h->groups = get_u64be((const unsigned char *)v.data + 40);
    }
    buf_free(&k);
    buf_free(&v);
    return r < 0 ? -1 : 0;
}

void stream_hdr_save(uint64_t ver, const struct stream_hdr *h)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    stream_key(&k, ver, 'H');
    sid_append(&v, h->last);
    sid_append(&v, h->maxdel);
    unsigned char b[24];
    put_u64be(b, h->added);
    put_u64be(b + 8, h->groups);
    put_u64be(b + 16, h->nodes);
    buf_append(&v, b, 24);
    store_put(srv.st, k.data, k.len, v.data, v.len);
    buf_free(&k);
    buf_free(&v);
}

/* ---------------- entries ---------------- */

static void entry_key(buf *k, uint64_t ver, struct sid id)
{
    stream_key(k, ver, 'e');
    sid_append(k, id);
}

void stream_entry_put(uint64_t ver, struct sid id, int n, char **f, const size_t *fl,
                      const struct sid *back)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    entry_key(&k, ver, id);
    unsigned char b[4];
    put_u32be(b, (uint32_t)n | (back ? STREAM_ENTRY_BACK : 0));
    buf_append(&v, b, 4);
    if (back) sid_append(&v, *back);
    for (int i = 0; i < n; i++) {
        put_u32be(b, (uint32_t)fl[i]);
        buf_append(&v, b, 4);
        buf_append(&v, f[i], fl[i]);
    }
    store_put(srv.st, k.data, k.len, v.data, v.len);
    buf_free(&k);
    buf_free(&v);
}

int stream_entry_decode(const char *v, size_t vl, uint32_t *n, struct sid *back, size_t *off)
{
    *n = 0;
    *off = vl;
    if (vl < 4) return 0;
    uint32_t h = get_u32be((const unsigned char *)v);
    *n = h & ~STREAM_ENTRY_BACK;
    *off = 4;
    if ((h & STREAM_ENTRY_BACK) && vl >= 20) {
        if (back) *back = sid_decode(v + 4);
        *off = 20;
        return 1;
    }
    return 0;
}

int stream_entry_get(uint64_t ver, struct sid id, buf *val)
{
    buf k;
    buf_init(&k);
    entry_key(&k, ver, id);
    int r = store_get(srv.st, k.data, k.len, val);
    buf_free(&k);
    return r;
}

void stream_entry_del(uint64_t ver, struct sid id)
{
    buf k;
    buf_init(&k);
    entry_key(&k, ver, id);
    store_del(srv.st, k.data, k.len);
    buf_free(&k);
}

static void iter_load(stream_iter *si)
{
    si->valid = 0;
    if (!store_iter_valid(si->it)) return;
    size_t kl;
    const char *k = store_iter_key(si->it, &kl);
    if (kl != si->pre.len + 16 || memcmp(k, si->pre.data, si->pre.len)) return;
    si->id = sid_decode(k + si->pre.len);
    si->valid = 1;
}

void stream_iter_open(stream_iter *si, uint64_t ver, struct sid from, int rev)
{
    buf k;
    buf_init(&k);
    buf_init(&si->pre);
    stream_key(&si->pre, ver, 'e');
    si->rev = rev;
    si->it = store_iter_new(srv.st);
    entry_key(&k, ver, from);
    if (!rev) {
        store_iter_seek(si->it, k.data, k.len);
    } else {
        /* last <= from: the last key before from's successor */
        if (from.ms == UINT64_MAX && from.seq == UINT64_MAX) {
            stream_key(&k, ver, 'e' + 1);
        } else {
            sid_incr(&from);
            entry_key(&k, ver, from);
        }
        store_iter_seek_last_before(si->it, k.data, k.len);
    }
    iter_load(si);
    buf_free(&k);
}

void stream_iter_next(stream_iter *si)
{
    if (si->rev) store_iter_prev(si->it);
    else store_iter_next(si->it);
    iter_load(si);
}

const char *stream_iter_val(stream_iter *si, size_t *len)
{
    return store_iter_val(si->it, len);
}

void stream_iter_close(stream_iter *si)
{
    store_iter_free(si->it);
    buf_free(&si->pre);
}

int stream_edge(uint64_t ver, int rev, struct sid *id)
{
    stream_iter si;
    struct sid from = { rev ? UINT64_MAX : 0, rev ? UINT64_MAX : 0 };
    stream_iter_open(&si, ver, from, rev);
    int ok = si.valid;
    if (ok) *id = si.id;
    stream_iter_close(&si);
    return ok;
}

/* ---------------- nodes ---------------- */

static int node_load(store_iter *it, const buf *pre, struct snode *n)
{
    if (!store_iter_valid(it)) return 0;
    size_t kl, vl;
    const char *k = store_iter_key(it, &kl);
    if (kl != pre->len + 16 || memcmp(k, pre->data, pre->len)) return 0;
    const char *v = store_iter_val(it, &vl);
    if (vl < 56) return 0;
    n->first = sid_decode(k + pre->len);
    n->last = sid_decode(v + 24);
    n->max = sid_decode(v + 40);
    n->live = get_u64be((const unsigned char *)v);
    n->total = get_u64be((const unsigned char *)v + 8);
    n->bytes = get_u64be((const unsigned char *)v + 16);
    return 1;
}

/* rev 0: first node >= id; rev 1: last node <= id. */
static int node_seek(uint64_t ver, struct sid id, int rev, struct snode *n)
{
    buf pre, k;
    buf_init(&pre);
    buf_init(&k);
    stream_key(&pre, ver, 'n');
    store_iter *it = store_iter_new(srv.st);
    if (!rev) {
        buf_append(&k, pre.data, pre.len);
        sid_append(&k, id);
        store_iter_seek(it, k.data, k.len);
    } else if (id.ms == UINT64_MAX && id.seq == UINT64_MAX) {
        stream_key(&k, ver, 'n' + 1);
        store_iter_seek_last_before(it, k.data, k.len);
    } else {
        sid_incr(&id);
        buf_append(&k, pre.data, pre.len);
        sid_append(&k, id);
        store_iter_seek_last_before(it, k.data, k.len);
    }
    int r = node_load(it, &pre, n);
    store_iter_free(it);
    buf_free(&pre);
    buf_free(&k);
    return r;
}

int stream_node_of(uint64_t ver, struct sid id, struct snode *n)
{
    return node_seek(ver, id, 1, n);
}

int stream_node_edge(uint64_t ver, int rev, struct snode *n)
{
    struct sid id = { rev ? UINT64_MAX : 0, rev ? UINT64_MAX : 0 };
    return node_seek(ver, id, rev, n);
}

int stream_node_next(uint64_t ver, const struct snode *n, struct snode *next)
{
    struct sid id = n->first;
    if (sid_incr(&id) < 0) return 0;
    return node_seek(ver, id, 0, next);
}

void stream_node_put(uint64_t ver, const struct snode *n)
{
    buf k;
    unsigned char v[56];
    buf_init(&k);
    stream_key(&k, ver, 'n');
    sid_append(&k, n->first);
    put_u64be(v, n->live);
    put_u64be(v + 8, n->total);
    put_u64be(v + 16, n->bytes);
    put_u64be(v + 24, n->last.ms);
    put_u64be(v + 32, n->last.seq);
    put_u64be(v + 40, n->max.ms);
    put_u64be(v + 48, n->max.seq);
    store_put(srv.st, k.data, k.len, (const char *)v, 56);
    buf_free(&k);
}

void stream_node_del(uint64_t ver, struct sid first)
{
    buf k;
    buf_init(&k);
    stream_key(&k, ver, 'n');
    sid_append(&k, first);
    store_del(srv.st, k.data, k.len);
    buf_free(&k);
}

/* ---------------- groups ---------------- */

static void group_key(buf *k, uint64_t ver, const char *name, size_t nl)
{
    stream_key(k, ver, 'g');
    buf_append(k, name, nl);
}

int stream_group_get(uint64_t ver, const char *name, size_t nl, struct sgroup *g)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    group_key(&k, ver, name, nl);
    int r = store_get(srv.st, k.data, k.len, &v);
    if (r == 1) {
        if (v.len < 48) {
            r = -1;
        } else {
            const unsigned char *p = (const unsigned char *)v.data;
            g->gid = get_u64be(p);
            g->last = sid_decode(v.data + 8);
            g->entries_read = (long long)get_u64be(p + 24);
            g->pel = get_u64be(p + 32);
            g->consumers = get_u64be(p + 40);
        }
    }
    buf_free(&k);
    buf_free(&v);
    return r;
}

void stream_group_put(uint64_t ver, const char *name, size_t nl, const struct sgroup *g)
{
    buf k;
    unsigned char v[48];
    buf_init(&k);
    group_key(&k, ver, name, nl);
    put_u64be(v, g->gid);
    put_u64be(v + 8, g->last.ms);
    put_u64be(v + 16, g->last.seq);
    put_u64be(v + 24, (uint64_t)g->entries_read);
    put_u64be(v + 32, g->pel);
    put_u64be(v + 40, g->consumers);
    store_put(srv.st, k.data, k.len, (const char *)v, 48);
    buf_free(&k);
}

void stream_group_del(uint64_t ver, const char *name, size_t nl)
{
    buf k;
    buf_init(&k);
    group_key(&k, ver, name, nl);
    store_del(srv.st, k.data, k.len);
    buf_free(&k);
}

/* ---------------- PELs and consumers ---------------- */

static void nack_key(buf *k, uint64_t ver, uint64_t gid, struct sid id)
{
    stream_gkey(k, ver, 'p', gid);
    sid_append(k, id);
}

int stream_nack_get(uint64_t ver, uint64_t gid, struct sid id, struct snack *n)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    nack_key(&k, ver, gid, id);
    int r = store_get(srv.st, k.data, k.len, &v);
    if (r == 1) {
        if (v.len < 16) {
            r = -1;
        } else {
            n->dtime = get_u64be((const unsigned char *)v.data);
            n->dcount = get_u64be((const unsigned char *)v.data + 8);
            buf_clear(&n->consumer);
            buf_append(&n->consumer, v.data + 16, v.len - 16);
        }
    }
    buf_free(&k);
    buf_free(&v);
    return r;
}

void stream_nack_put(uint64_t ver, uint64_t gid, struct sid id, const struct snack *n)
{
    buf k;
    unsigned char h[16];
    buf_init(&k);
    nack_key(&k, ver, gid, id);
    put_u64be(h, n->dtime);
    put_u64be(h + 8, n->dcount);
    store_put2(srv.st, k.data, k.len, (const char *)h, 16, n->consumer.data, n->consumer.len);
    buf_free(&k);
}

void stream_nack_del(uint64_t ver, uint64_t gid, struct sid id)
{
    buf k;
    buf_init(&k);
    nack_key(&k, ver, gid, id);
    store_del(srv.st, k.data, k.len);
    buf_free(&k);
}

static void consumer_key(buf *k, uint64_t ver, uint64_t gid, const char *name, size_t nl)
{
    stream_gkey(k, ver, 'c', gid);
    buf_append(k, name, nl);
}

int stream_consumer_get(uint64_t ver, uint64_t gid, const char *name, size_t nl,
                        uint64_t *seen, uint64_t *pending)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    consumer_key(&k, ver, gid, name, nl);
    int r = store_get(srv.st, k.data, k.len, &v);
    if (r == 1) {
        if (v.len < 16) {
            r = -1;
        } else {
            *seen = get_u64be((const unsigned char *)v.data);
            *pending = get_u64be((const unsigned char *)v.data + 8);
        }
    }
    buf_free(&k);
    buf_free(&v);
    return r;
}

void stream_consumer_put(uint64_t ver, uint64_t gid, const char *name, size_t nl,
                         uint64_t seen, uint64_t pending)
{
    buf k;
    unsigned char v[16];
    buf_init(&k);
    consumer_key(&k, ver, gid, name, nl);
    put_u64be(v, seen);
    put_u64be(v + 8, pending);
    store_put(srv.st, k.data, k.len, (const char *)v, 16);
    buf_free(&k);
}

void stream_consumer_del(uint64_t ver, uint64_t gid, const char *name, size_t nl)
{
    buf k;
    buf_init(&k);
    consumer_key(&k, ver, gid, name, nl);
    store_del(srv.st, k.data, k.len);
    buf_free(&k);
}

void stream_cpel_put(uint64_t ver, uint64_t gid, const char *name, size_t nl, struct sid id)
{
    buf k;
    buf_init(&k);
    stream_cpel_prefix(&k, ver, gid, name, nl);
    sid_append(&k, id);
    store_put(srv.st, k.data, k.len, "", 0);
    buf_free(&k);
}

void stream_cpel_del(uint64_t ver, uint64_t gid, const char *name, size_t nl, struct sid id)
{
    buf k;
    buf_init(&k);
    stream_cpel_prefix(&k, ver, gid, name, nl);
    sid_append(&k, id);
    store_del(srv.st, k.data, k.len);
    buf_free(&k);
}
