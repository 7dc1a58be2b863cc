/* t_hash: hash commands (HSET ... HSCAN).
 *
 * A hash is a meta record (type, expire, version, field count) plus one
 * LevelDB key per field:
 *
 *     'M' key                  -> T_HASH | expire | version | count
 *     'D' version:8 field      -> value
 *
 * Point commands cost one read (and one write) per field; HGETALL, HKEYS
 * and HVALS walk the field range in byte order, which is also the order of
 * their replies (Redis's order depends on its hash table; clients must not
 * rely on it).  The count in the meta record is kept exact, so HLEN is one
 * read and an empty hash is deleted as Redis does. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "coll.h"
#include "util.h"

/* Redis's MAX_LONG_DOUBLE_CHARS: room for any long double in fixed point. */
#define LD_STR_MAX 5120

/* Read one field of the hash `m` into val.  1 found, 0 absent, -1 storage
 * error (replied).  kbuf is scratch for the key. */
static int hash_get(client *c, const struct meta *m, const char *f, size_t fl, buf *kbuf, buf *val)
{
    enc_data_key(kbuf, m->version, f, fl);
    int r = store_get(srv.st, kbuf->data, kbuf->len, val);
    if (r < 0) reply_storage_error(c);
    return r;
}

/* Set one field; counts a new field in m->count.  1 new, 0 overwritten,
 * -1 storage error (replied). */
static int hash_put(client *c, struct meta *m, const char *f, size_t fl, const char *v, size_t vl,
                    buf *kbuf, buf *scratch)
{
    int r = hash_get(c, m, f, fl, kbuf, scratch);
    if (r < 0) return -1;
    store_put(srv.st, kbuf->data, kbuf->len, v, vl);
    if (r == 0) m->count++;
    return r == 0;
}

/* The hash at argv[1] for a write: 1 live hash in m, 0 a fresh empty hash
 * started in m (written by hash_finish), -1 replied an error. */
static int hash_open_write(client *c, struct meta *m)
{
    int r = lookup_typed(c, 1, m, T_HASH);
    if (r == 0) db_new_collection(ARG(c, 1), T_HASH, m);
    return r;
}

/* Store the meta after writes, or delete the hash if it became empty. */
static void hash_finish(client *c, struct meta *m)
{
    if (m->count == 0) db_delete(ARG(c, 1), m);
    else db_write_meta(ARG(c, 1), m, m->expire);
}

static void hset_generic(client *c, int reply_ok)
{
    struct meta m;
    buf k, tmp;
    long long added = 0;
    if (c->argc % 2 == 1) {
        resp_add_arity_error(&c->out, c->cmd->name);
        return;
    }
    meta_init(&m);
    buf_init(&k);
    buf_init(&tmp);
    if (hash_open_write(c, &m) < 0) goto done;
    for (int j = 2; j < c->argc; j += 2) {
        int r = hash_put(c, &m, ARG(c, j), ARG(c, j + 1), &k, &tmp);
        if (r < 0) goto done;
        added += r;
    }
    hash_finish(c, &m);
    notify_keyspace_event(NOTIFY_HASH, "hset", ARG(c, 1));
    if (reply_ok) resp_add_ok(&c->out);
    else resp_add_int(&c->out, added);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&tmp);
}

static void hset_command(client *c) { hset_generic(c, 0); }
static void hmset_command(client *c) { hset_generic(c, 1); }

static void hsetnx_command(client *c)
{
    struct meta m;
    buf k, tmp;
    meta_init(&m);
    buf_init(&k);
    buf_init(&tmp);
    int r = hash_open_write(c, &m);
    if (r < 0) goto done;
    r = r == 1 ? hash_get(c, &m, ARG(c, 2), &k, &tmp) : 0;
    if (r < 0) goto done;
    if (r == 0) {
        if (hash_put(c, &m, ARG(c, 2), ARG(c, 3), &k, &tmp) < 0) goto done;
        hash_finish(c, &m);
        notify_keyspace_event(NOTIFY_HASH, "hset", ARG(c, 1));
    }
    resp_add_int(&c->out, r == 0);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&tmp);
}

static void hget_command(client *c)
{
    struct meta m;
    buf k, v;
    meta_init(&m);
    buf_init(&k);
    buf_init(&v);
    int r = lookup_typed(c, 1, &m, T_HASH);
    if (r == 1) r = hash_get(c, &m, ARG(c, 2), &k, &v);
    if (r == 1) resp_add_bulk(&c->out, v.data, v.len);
    else if (r == 0) resp_add_null(&c->out, c->resp);
    meta_free(&m);
    buf_free(&k);
    buf_free(&v);
}

static void hmget_command(client *c)
{
    struct meta m;
    buf k, v, out;
    meta_init(&m);
    buf_init(&k);
    buf_init(&v);
    buf_init(&out);
    int r = lookup_typed(c, 1, &m, T_HASH);
    if (r < 0) goto done;
    /* Build the reply aside: a storage error half way must reply alone. */
    resp_add_array(&out, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        int g = r == 1 ? hash_get(c, &m, ARG(c, j), &k, &v) : 0;
        if (g < 0) goto done;
        if (g == 1) resp_add_bulk(&out, v.data, v.len);
        else resp_add_null(&out, c->resp);
    }
    buf_append(&c->out, out.data, out.len);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&v);
    buf_free(&out);
}

static void hdel_command(client *c)
{
    struct meta m;
    buf k, tmp;
    long long deleted = 0;
    meta_init(&m);
    buf_init(&k);
    buf_init(&tmp);
    int r = lookup_typed(c, 1, &m, T_HASH);
    if (r < 0) goto done;
    if (r == 1) {
        for (int j = 2; j < c->argc && m.count > 0; j++) {
            int g = hash_get(c, &m, ARG(c, j), &k, &tmp);
            if (g < 0) goto done;
            if (g == 1) {
                store_del(srv.st, k.data, k.len);
                m.count--;
                deleted++;
            }
        }
        if (deleted) hash_finish(c, &m);
        if (deleted) notify_keyspace_event(NOTIFY_HASH, "hdel", ARG(c, 1));
        if (deleted && m.count == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    }
    resp_add_int(&c->out, deleted);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&tmp);
}

static void hlen_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_HASH);
    if (r >= 0) resp_add_int(&c->out, r == 1 ? (long long)m.count : 0);
    meta_free(&m);
}

/* HSTRLEN and HEXISTS: one read, an integer reply. */
static void hfield_int_generic(client *c, int strlen_reply)
{
    struct meta m;
    buf k, v;
    meta_init(&m);
    buf_init(&k);
    buf_init(&v);
    int r = lookup_typed(c, 1, &m, T_HASH);
    if (r == 1) r = hash_get(c, &m, ARG(c, 2), &k, &v);
    if (r >= 0) resp_add_int(&c->out, r == 1 ? (strlen_reply ? (long long)v.len : 1) : 0);
    meta_free(&m);
    buf_free(&k);
    buf_free(&v);
}

static void hstrlen_command(client *c) { hfield_int_generic(c, 1); }
static void hexists_command(client *c) { hfield_int_generic(c, 0); }

#define WITH_FIELDS 1
#define WITH_VALUES 2

static void hgetall_generic(client *c, int what)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_HASH);
    /* HGETALL is a map in RESP3; HKEYS and HVALS stay arrays */
    int map = what == (WITH_FIELDS | WITH_VALUES);
    if (r == 0) {
        if (map) resp_add_map(&c->out, c->resp, 0);
        else resp_add_array(&c->out, 0);
    }
    if (r != 1) goto done;
    size_t mark = resp_defer_array(&c->out);
    long long n = 0;
    coll_iter ci;
    for (coll_iter_init(&ci, m.version); coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t l;
        const char *p;
        if (what & WITH_FIELDS) {
            p = coll_iter_member(&ci, &l);
            resp_add_bulk(&c->out, p, l);
            n++;
        }
        if (what & WITH_VALUES) {
            p = coll_iter_value(&ci, &l);
            resp_add_bulk(&c->out, p, l);
            n++;
        }
    }
    coll_iter_free(&ci);
    if (map) resp_set_deferred_map(&c->out, mark, c->resp, n / 2);
    else resp_set_deferred_array(&c->out, mark, n);
done:
    meta_free(&m);
}

static void hgetall_command(client *c) { hgetall_generic(c, WITH_FIELDS | WITH_VALUES); }
static void hkeys_command(client *c) { hgetall_generic(c, WITH_FIELDS); }
static void hvals_command(client *c) { hgetall_generic(c, WITH_VALUES); }

static void hincrby_command(client *c)
{
    long long incr, cur = 0;
    struct meta m;
    buf k, v;
    if (arg_ll(c, 3, &incr) < 0) return;
    meta_init(&m);
    buf_init(&k);
    buf_init(&v);
    int r = hash_open_write(c, &m);
    if (r < 0) goto done;
    r = r == 1 ? hash_get(c, &m, ARG(c, 2), &k, &v) : 0;
    if (r < 0) goto done;
    if (r == 1 && str2ll(v.data, v.len, &cur) < 0) {
        resp_add_error(&c->out, "ERR hash value is not an integer");
        goto done;
    }
    if (__builtin_add_overflow(cur, incr, &cur)) {
        resp_add_error(&c->out, resp_err_overflow);
        goto done;
    }
    char s[32];
    int sl = ll2str(s, sizeof s, cur);
    if (hash_put(c, &m, ARG(c, 2), s, (size_t)sl, &k, &v) < 0) goto done;
    hash_finish(c, &m);
    notify_keyspace_event(NOTIFY_HASH, "hincrby", ARG(c, 1));
    resp_add_int(&c->out, cur);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&v);
}

static void hincrbyfloat_command(client *c)
{
    long double incr, cur = 0;
    struct meta m;
    buf k, v;
    if (str2ld(ARG(c, 3), &incr) < 0) {
        resp_add_error(&c->out, resp_err_notfloat);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        resp_add_error(&c->out, "ERR value is NaN or Infinity");
        return;
    }
    meta_init(&m);
    buf_init(&k);
    buf_init(&v);
    int r = hash_open_write(c, &m);
    if (r < 0) goto done;
    r = r == 1 ? hash_get(c, &m, ARG(c, 2), &k, &v) : 0;
    if (r < 0) goto done;
    if (r == 1 && str2ld(v.data, v.len, &cur) < 0) {
        resp_add_error(&c->out, "ERR hash value is not a float");
        goto done;
    }
    cur += incr;
    if (isnan(cur) || isinf(cur)) {
        resp_add_error(&c->out, "ERR increment would produce NaN or Infinity");
        goto done;
    }
    char s[LD_STR_MAX];
    int sl = ld2str_human(s, sizeof s, cur);
    if (sl < 0) sl = 0; /* cannot happen for a finite long double */
    if (hash_put(c, &m, ARG(c, 2), s, (size_t)sl, &k, &v) < 0) goto done;
    hash_finish(c, &m);
    notify_keyspace_event(NOTIFY_HASH, "hincrbyfloat", ARG(c, 1));
    resp_add_bulk(&c->out, s, (size_t)sl);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&v);
}

/* HRANDFIELD's draws go straight into the reply; a negative count can ask
 * for more than any client could take, so the output buffer limit stops
 * it (the client is closed, as when a reply outgrows the limit later). */
struct rand_reply {
    client *c;
    int values;
};

static int hrand_emit(void *ctx, const char *f, size_t fl, const char *v, size_t vl)
{
    struct rand_reply *rr = ctx;
    /* WITHVALUES: flat in RESP2, [field, value] pairs in RESP3 */
    if (rr->values && rr->c->resp == RESP3) resp_add_array(&rr->c->out, 2);
    resp_add_bulk(&rr->c->out, f, fl);
    if (rr->values) resp_add_bulk(&rr->c->out, v, vl);
    return client_close_if_over_limit(rr->c, rr->c->out.len);
}

static void hrandfield_command(client *c)
{
    long long l = 0;
    int values = 0;
    struct meta m;
    if (c->argc >= 3) {
        if (arg_ll_range(c, 2, -LLONG_MAX, LLONG_MAX, &l,
                         "ERR value is out of range, value must between "
                         "-9223372036854775807 and 9223372036854775807") < 0)
            return;
        if (c->argc > 4 || (c->argc == 4 && !ARG_IS(c, 3, "withvalues"))) {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
        if (c->argc == 4) {
            values = 1;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                resp_add_error(&c->out, "ERR value is out of range");
                return;
            }
        }
    }
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_HASH);
    if (r < 0) goto done;
    struct rand_reply rr = {c, values};
    if (c->argc == 2) {
        if (r == 0) {
            resp_add_null(&c->out, c->resp);
        } else {
            rr.values = 0;
            coll_sample(m.version, m.count, 1, 1, hrand_emit, &rr);
        }
        goto done;
    }
    if (r == 0 || l == 0) {
        resp_add_array(&c->out, 0);
        goto done;
    }
    int distinct = l > 0;
    uint64_t n = distinct ? (uint64_t)l : (uint64_t)-l;
    if (distinct && n > m.count) n = m.count;
    size_t mark = resp_defer_array(&c->out);
    uint64_t got = coll_sample(m.version, m.count, n, distinct, hrand_emit, &rr);
    resp_set_deferred_array(&c->out, mark, (long long)(got * (values && c->resp != RESP3 ? 2 : 1)));
done:
    meta_free(&m);
}

static void emit_bulk(buf *out, const char *v, size_t vl)
{
    resp_add_bulk(out, v, vl);
}

static void hscan_command(client *c) { coll_scan(c, T_HASH, emit_bulk); }

void t_hash_register(void)
{
    server_register(CMD_HSET, hset_command);
    server_register(CMD_HMSET, hmset_command);
    server_register(CMD_HSETNX, hsetnx_command);
    server_register(CMD_HGET, hget_command);
    server_register(CMD_HMGET, hmget_command);
    server_register(CMD_HDEL, hdel_command);
    server_register(CMD_HLEN, hlen_command);
    server_register(CMD_HSTRLEN, hstrlen_command);
    server_register(CMD_HEXISTS, hexists_command);
    server_register(CMD_HGETALL, hgetall_command);
    server_register(CMD_HKEYS, hkeys_command);
    server_register(CMD_HVALS, hvals_command);
    server_register(CMD_HINCRBY, hincrby_command);
    server_register(CMD_HINCRBYFLOAT, hincrbyfloat_command);
    server_register(CMD_HRANDFIELD, hrandfield_command);
    server_register(CMD_HSCAN, hscan_command);
}
