/* t_keys: commands on keys of any type — DEL, EXISTS, TYPE, the EXPIRE
 * family, TTL, PERSIST, KEYS, SCAN, RANDOMKEY, RENAME, DBSIZE, FLUSHALL. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "cursor.h"
#include "migrate.h"
#include "multi.h"
#include "slots.h"
#include "store.h"
#include "util.h"

static void del_command(client *c)
{
    struct meta m;
    long long n = 0;
    meta_init(&m);
    for (int i = 1; i < c->argc; i++) {
        int r = lookup_any(c, i, &m);
        if (r < 0) goto done;
        if (r == 1) {
            db_delete(ARG(c, i), &m);
            notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, i));
            n++;
        }
    }
    resp_add_int(&c->out, n);
done:
    meta_free(&m);
}

static void exists_command(client *c)
{
    struct meta m;
    long long n = 0;
    meta_init(&m);
    for (int i = 1; i < c->argc; i++) {
        int r = lookup_any(c, i, &m);
        if (r < 0) goto done;
        n += r;
    }
    resp_add_int(&c->out, n);
done:
    meta_free(&m);
}

static void type_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = db_lookup(ARG(c, 1), &m);
    if (r < 0) reply_storage_error(c);
    else resp_add_simple(&c->out, type_name(r));
    if (r == T_NONE) notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", ARG(c, 1));
    meta_free(&m);
}

#define EXP_NX 1
#define EXP_XX 2
#define EXP_GT 4
#define EXP_LT 8

static void expire_generic(client *c, long long base, int seconds)
{
    int flags = 0;
    long long when;
    for (int j = 3; j < c->argc; j++) {
        if (ARG_IS(c, j, "nx")) flags |= EXP_NX;
        else if (ARG_IS(c, j, "xx")) flags |= EXP_XX;
        else if (ARG_IS(c, j, "gt")) flags |= EXP_GT;
        else if (ARG_IS(c, j, "lt")) flags |= EXP_LT;
        else {
            resp_add_errorf(&c->out, "ERR Unsupported option %.*s", (int)c->argvlen[j], c->argv[j]);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_add_error(&c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        resp_add_error(&c->out, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    if (arg_ll(c, 2, &when) < 0) return;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) goto bad_time;
        when *= 1000;
    }
    if (when > LLONG_MAX - base) goto bad_time;
    when += base;

    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 1, &m);
    if (r <= 0) {
        if (r == 0) resp_add_int(&c->out, 0);
        meta_free(&m);
        return;
    }
    long long cur = m.expire ? (long long)m.expire : -1;
    if (((flags & EXP_NX) && cur != -1) || ((flags & EXP_XX) && cur == -1) ||
        ((flags & EXP_GT) && (cur == -1 || when <= cur)) ||
        ((flags & EXP_LT) && cur != -1 && when >= cur)) {
        resp_add_int(&c->out, 0);
        meta_free(&m);
        return;
    }
    if (when <= (long long)srv.cmd_time_ms) {
        db_delete(ARG(c, 1), &m);
        notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    } else {
        db_set_expire(ARG(c, 1), &m, (uint64_t)when);
        notify_keyspace_event(NOTIFY_GENERIC, "expire", ARG(c, 1));
    }
    resp_add_int(&c->out, 1);
    meta_free(&m);
    return;
bad_time:
    resp_add_errorf(&c->out, "ERR invalid expire time in '%s' command", c->cmd->name);
}

static void expire_command(client *c) { expire_generic(c, (long long)srv.cmd_time_ms, 1); }
static void pexpire_command(client *c) { expire_generic(c, (long long)srv.cmd_time_ms, 0); }
static void expireat_command(client *c) { expire_generic(c, 0, 1); }
static void pexpireat_command(client *c) { expire_generic(c, 0, 0); }

static void ttl_generic(client *c, int ms, int absolute)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 1, &m);
    if (r < 0) goto done;
    if (r == 0) resp_add_int(&c->out, -2);
    else if (!m.expire) resp_add_int(&c->out, -1);
    else {
        /* Redis 7.0's ttlGenericCommand: both the relative and the
         * absolute form round to the nearest second (x.500 up), so
         * EXPIRETIME of a PEXPIREAT 1000500 is 1001. */
        long long t = absolute ? (long long)m.expire : (long long)m.expire - (long long)srv.cmd_time_ms;
        if (t < 0) t = 0;
        /* unsigned: an expire near LLONG_MAX rounds without overflowing,
         * to what redis-server answers (EXPIRETIME of PEXPIREAT
         * 9223372036854775807 is 9223372036854776) */
        resp_add_int(&c->out, ms ? t : (long long)(((unsigned long long)t + 500) / 1000));
    }
done:
    meta_free(&m);
}

static void ttl_command(client *c) { ttl_generic(c, 0, 0); }
static void pttl_command(client *c) { ttl_generic(c, 1, 0); }
static void expiretime_command(client *c) { ttl_generic(c, 0, 1); }
static void pexpiretime_command(client *c) { ttl_generic(c, 1, 1); }

static void persist_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 1, &m);
    if (r == 1 && m.expire) {
        db_set_expire(ARG(c, 1), &m, 0);
        notify_keyspace_event(NOTIFY_GENERIC, "persist", ARG(c, 1));
        resp_add_int(&c->out, 1);
    } else if (r == 1 || r == 0) {
        resp_add_int(&c->out, 0);
    }
    meta_free(&m);
}

/* Decode type and liveness straight from an iterated meta value. */
static int meta_live_type(const char *v, size_t vl, uint64_t now)
{
    if (vl < META_HDR) return T_NONE;
    uint64_t exp = get_u64be((const unsigned char *)v + 1);
    if (exp && exp <= now) return T_NONE;
    return (unsigned char)v[0] & ~STR_CHUNKED_FLAG; /* a chunked string is a string */
}

/* The literal prefix of a glob pattern (up to the first special char). */
static size_t glob_literal_prefix(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] != '*' && p[i] != '?' && p[i] != '[' && p[i] != '\\') i++;
    return i;
}

static void keys_command(client *c)
{
    const char *pat = c->argv[1];
    size_t plen = c->argvlen[1];
    int all = plen == 1 && pat[0] == '*';
    int filter = cluster_unowned_keys() > 0; /* keys of slots not owned are not listed */
    size_t lit = glob_literal_prefix(pat, plen);
    buf start;
    buf_init(&start);
    enc_meta_key(&start, pat, lit);
    size_t mark = resp_defer_array(&c->out);
    long long n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, start.data, start.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < start.len || memcmp(k, start.data, start.len) != 0) break;
        const char *v = store_iter_val(it, &vl);
        if (meta_live_type(v, vl, srv.cmd_time_ms) == T_NONE) continue;
        if (filter && !cluster_owns_key(k + 1, kl - 1)) continue;
        if (!all && !glob_match(pat, plen, k + 1, kl - 1, 0)) continue;
        resp_add_bulk(&c->out, k + 1, kl - 1);
        n++;
    }
    store_iter_free(it);
    buf_free(&start);
    resp_set_deferred_array(&c->out, mark, n);
}

/* Keys an iteration met expired, removed once it is over (Redis's SCAN and
 * RANDOMKEY delete the expired keys they come across, which publishes
 * "expired").  Each key is stored as klen:size_t | bytes. */
static void expired_note(buf *list, const char *k, size_t kl)
{
    buf_append(list, (const char *)&kl, sizeof kl);
    buf_append(list, k, kl);
}

/* db_lookup deletes what expired (on a master) and notifies; `keymiss`:
 * the key was also looked up as a read (SCAN's TYPE filter). */
static void expired_remove(buf *list, int keymiss)
{
    struct meta m;
    meta_init(&m);
    for (size_t off = 0; off + sizeof(size_t) <= list->len;) {
        size_t kl;
        memcpy(&kl, list->data + off, sizeof kl);
        off += sizeof kl;
        if (db_lookup(list->data + off, kl, &m) == T_NONE && keymiss)
            notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", list->data + off, kl);
        off += kl;
    }
    meta_free(&m);
    buf_free(list);
}

static int type_from_name(const char *s, size_t len)
{
    for (int t = T_STRING; t <= T_STREAM; t++)
        if (str_eq_nocase(s, len, type_name(t))) return t;
    return -1; /* unknown type: matches nothing, as in Redis 7.0 */
}

static void scan_command(client *c)
{
    uint64_t cursor;
    struct scan_opts o;
    int want_type = 0;
    buf pos;

    if (cursor_parse(ARG(c, 1), &cursor) < 0) {
        resp_add_error(&c->out, "ERR invalid cursor");
        return;
    }
    if (scan_parse_opts(c, 2, 1, &o) < 0) return;
    if (o.type) want_type = type_from_name(o.type, o.tlen);
    buf_init(&pos);
    if (cursor == 0) {
        buf_append_char(&pos, 'M');
    } else if (cursor_load(cursor, &pos) < 0) {
        resp_add_error(&c->out, "ERR invalid cursor");
        buf_free(&pos);
        return;
    }
    buf keys, gone;
    buf_init(&keys);
    buf_init(&gone);
    long long n = 0, visited = 0;
    uint64_t next = 0;
    int filter = cluster_unowned_keys() > 0; /* keys of slots not owned are skipped */
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, pos.data, pos.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'M') break;
        if (visited == o.count) {
            next = cursor_save(k, kl);
            break;
        }
        visited++;
        if (filter && !cluster_owns_key(k + 1, kl - 1)) continue;
        const char *v = store_iter_val(it, &vl);
        int t = meta_live_type(v, vl, srv.cmd_time_ms);
        if (t == T_NONE && scan_match(&o, k + 1, kl - 1)) expired_note(&gone, k + 1, kl - 1);
        if (t == T_NONE) continue;
        if (want_type && t != want_type) continue;
        if (!scan_match(&o, k + 1, kl - 1)) continue;
        resp_add_bulk(&keys, k + 1, kl - 1);
        n++;
    }
    store_iter_free(it);
    expired_remove(&gone, o.type != NULL);
    scan_reply(c, next, &keys, n);
    buf_free(&keys);
    buf_free(&pos);
}

/* A random live key: probe random points of the keyspace and take the
 * first live key at or after each (wrapping to the start), a bounded
 * number of times, so a keyspace full of expired-but-unswept keys still
 * terminates quickly. */
static void randomkey_command(client *c)
{
    buf gone;
    buf_init(&gone);
    int filter = cluster_unowned_keys() > 0; /* keys of slots not owned are never picked */
    store_iter *it = store_iter_new(srv.st);
    unsigned char probe[9];
    probe[0] = 'M';
    for (int tries = 0; tries < 100; tries++) {
        for (int i = 1; i < 9; i++) probe[i] = (unsigned char)(random() & 0xff);
        store_iter_seek(it, (const char *)probe, sizeof probe);
        int wrapped = 0;
        for (int steps = 0; steps < 16; steps++) {
            size_t kl, vl;
            const char *k = store_iter_valid(it) ? store_iter_key(it, &kl) : NULL;
            if (!k || kl < 1 || k[0] != 'M') {
                if (wrapped++) break; /* empty keyspace */
                store_iter_seek(it, "M", 1);
                continue;
            }
            if (filter && !cluster_owns_key(k + 1, kl - 1)) {
                store_iter_next(it);
                continue;
            }
            const char *v = store_iter_val(it, &vl);
            if (meta_live_type(v, vl, srv.cmd_time_ms) != T_NONE) {
                resp_add_bulk(&c->out, k + 1, kl - 1);
                store_iter_free(it);
                expired_remove(&gone, 0);
                return;
            }
            expired_note(&gone, k + 1, kl - 1);
            store_iter_next(it);
        }
        if (wrapped > 1) break;
    }
    store_iter_free(it);
    expired_remove(&gone, 0);
    resp_add_null(&c->out, c->resp);
}

static void rename_generic(client *c, int nx)
{
    struct meta src, dst;
    meta_init(&src);
    meta_init(&dst);
    int r = lookup_any(c, 1, &src);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_error(&c->out, resp_err_nokey);
        goto done;
    }
    if (c->argvlen[1] == c->argvlen[2] && memcmp(c->argv[1], c->argv[2], c->argvlen[1]) == 0) {
        if (nx) resp_add_int(&c->out, 0);
        else resp_add_ok(&c->out);
        goto done;
    }
    r = lookup_any(c, 2, &dst);
    if (r < 0) goto done;
    if (r == 1 && nx) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    db_delete(ARG(c, 2), &dst);
    db_move(ARG(c, 1), ARG(c, 2), &src);
    notify_keyspace_event(NOTIFY_NEW, "new", ARG(c, 2));
    notify_keyspace_event(NOTIFY_GENERIC, "rename_from", ARG(c, 1));
    notify_keyspace_event(NOTIFY_GENERIC, "rename_to", ARG(c, 2));
    if (nx) resp_add_int(&c->out, 1);
    else resp_add_ok(&c->out);
done:
    meta_free(&src);
    meta_free(&dst);
}

static void rename_command(client *c) { rename_generic(c, 0); }
static void renamenx_command(client *c) { rename_generic(c, 1); }

static void dbsize_command(client *c)
{
    /* Keys stored in slots this node does not own (kept from before its
     * slot table, or not yet trimmed after a migration) are not its keys. */
    resp_add_int(&c->out, (long long)cluster_key_count());
}

/* FLUSHALL / FLUSHDB [ASYNC|SYNC]: an ordinary write.  Collections go to
 * the GC queue, so the cost is one delete per key, not per element. */
static void flushall_command(client *c)
{
    if (c->argc > 2 || (c->argc == 2 && !ARG_IS(c, 1, "sync") && !ARG_IS(c, 1, "async"))) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    struct meta m;
    buf key;
    meta_init(&m);
    buf_init(&key);
    uint64_t saved_now = srv.cmd_time_ms;
    srv.cmd_time_ms = 0; /* see expired records too: they are deleted as well */
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, "M", 1); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'M') break;
        /* Keys a slot migration is moving stay: on the target they are not
         * this node's yet, on a fenced source they are already shipped. */
        if (migrate_key_frozen(k + 1, kl - 1)) continue;
        buf_clear(&key);
        buf_append(&key, k + 1, kl - 1);
        if (db_lookup(key.data, key.len, &m) > 0) db_delete(key.data, key.len, &m);
    }
    store_iter_free(it);
    multi_signal_flush(c);
    srv.cmd_time_ms = saved_now;
    buf_free(&key);
    meta_free(&m);
    resp_add_ok(&c->out);
}

void t_keys_register(void)
{
    server_register(CMD_DEL, del_command);
    server_register(CMD_UNLINK, del_command);
    server_register(CMD_EXISTS, exists_command);
    server_register(CMD_TOUCH, exists_command);
    server_register(CMD_TYPE, type_command);
    server_register(CMD_EXPIRE, expire_command);
    server_register(CMD_PEXPIRE, pexpire_command);
    server_register(CMD_EXPIREAT, expireat_command);
    server_register(CMD_PEXPIREAT, pexpireat_command);
    server_register(CMD_TTL, ttl_command);
    server_register(CMD_PTTL, pttl_command);
    server_register(CMD_EXPIRETIME, expiretime_command);
    server_register(CMD_PEXPIRETIME, pexpiretime_command);
    server_register(CMD_PERSIST, persist_command);
    server_register(CMD_KEYS, keys_command);
    server_register(CMD_SCAN, scan_command);
    server_register(CMD_RANDOMKEY, randomkey_command);
    server_register(CMD_RENAME, rename_command);
    server_register(CMD_RENAMENX, renamenx_command);
    server_register(CMD_DBSIZE, dbsize_command);
    server_register(CMD_FLUSHALL, flushall_command);
    server_register(CMD_FLUSHDB, flushall_command);
}
