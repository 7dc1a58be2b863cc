/* rdbkey: one key from an RDB value into the store (see rdbkey.h). */
#include "rdbkey.h"

#include <string.h>

#include "server.h"
#include "store.h"
#include "util.h"
#include "zset_internal.h"

static void (*flush_fn)(void);
static size_t flush_bytes;

void rdbkey_set_flush_hook(void (*fn)(void), size_t bytes)
{
    flush_fn = fn;
    flush_bytes = bytes;
}

struct sink {
    const char *key;
    size_t klen;
    struct meta *m;
    uint64_t expire;
    int dry, check_dups, type, dup;
    buf k;
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

int rdbkey_restore(const char *key, size_t klen, struct rdb_reader *r, int rdbtype, uint64_t expire,
                   struct meta *old, int dry_run, int check_dups, const char **err)
{
    static const struct rdb_value_cb cb = { sink_begin, sink_string, sink_elem };
    struct sink s = { key, klen, old, expire, dry_run, check_dups, T_NONE, 0, { 0 } };
    buf_init(&s.k);
    size_t mark = store_mark(srv.st);
    long long n = rdb_read_value(r, rdbtype, &cb, &s);
    buf_free(&s.k);
    if (n < 0 || (n == 0 && s.type != T_STRING)) {
        if (!dry_run) store_rollback(srv.st, mark);
        *err = s.dup ? "duplicate member" : n == 0 ? "empty collection" : r->err ? r->err : "bad value";
        return -1;
    }
    if (s.type != T_STRING && !dry_run) {
        old->expire = expire;
        db_write_meta(key, klen, old, 0);
    }
    return s.type;
}
