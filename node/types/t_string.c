/* t_string: string commands (GET, SET and options, counters, ranges).
 * Strings up to STR_INLINE_MAX bytes live inline in their meta record
 * ('M' key -> type|expire|value), so a GET is one LevelDB read; longer
 * ones are chunked (strchunk.h) and the range commands touch only the
 * chunks they need. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "strchunk.h"
#include "strstream.h"
#include "util.h"

#define OPT_NX      (1 << 0)
#define OPT_XX      (1 << 1)
#define OPT_GET     (1 << 2)
#define OPT_KEEPTTL (1 << 3)
#define OPT_PERSIST (1 << 4)
#define OPT_EX      (1 << 5)
#define OPT_PX      (1 << 6)
#define OPT_EXAT    (1 << 7)
#define OPT_PXAT    (1 << 8)
#define OPT_EXPIRE  (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

enum { FOR_SET, FOR_GETEX };

static void reply_expire_error(client *c)
{
    resp_add_errorf(&c->out, "ERR invalid expire time in '%s' command", c->cmd->name);
}

static int expire_opt(client *c, int j)
{
    if (ARG_IS(c, j, "ex")) return OPT_EX;
    if (ARG_IS(c, j, "px")) return OPT_PX;
    if (ARG_IS(c, j, "exat")) return OPT_EXAT;
    if (ARG_IS(c, j, "pxat")) return OPT_PXAT;
    return 0;
}

/* SET and GETEX options, in Redis's order of checks.  Returns 0 or -1
 * (syntax error replied); *expire_arg is the index of the time argument. */
static int parse_string_opts(client *c, int from, int kind, int *flags, int *expire_arg)
{
    int unit;
    *flags = 0;
    *expire_arg = 0;
    for (int j = from; j < c->argc; j++) {
        int has_next = j + 1 < c->argc;
        if (ARG_IS(c, j, "nx") && !(*flags & OPT_XX) && kind == FOR_SET) {
            *flags |= OPT_NX;
        } else if (ARG_IS(c, j, "xx") && !(*flags & OPT_NX) && kind == FOR_SET) {
            *flags |= OPT_XX;
        } else if (ARG_IS(c, j, "get") && kind == FOR_SET) {
            *flags |= OPT_GET;
        } else if (ARG_IS(c, j, "keepttl") && !(*flags & (OPT_PERSIST | OPT_EXPIRE)) &&
                   kind == FOR_SET) {
            *flags |= OPT_KEEPTTL;
        } else if (ARG_IS(c, j, "persist") && kind == FOR_GETEX &&
                   !(*flags & (OPT_EXPIRE | OPT_KEEPTTL))) {
            *flags |= OPT_PERSIST;
        } else if ((unit = expire_opt(c, j)) != 0 &&
                   !(*flags & (OPT_KEEPTTL | OPT_PERSIST | (OPT_EXPIRE & ~unit))) && has_next) {
            /* The same unit may repeat (the last value wins), as in Redis. */
            *flags |= unit;
            *expire_arg = ++j;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return -1;
        }
    }
    return 0;
}

/* The absolute expire time in ms for an EX/PX/EXAT/PXAT argument, as
 * Redis 7.0 validates it.  -1 after replying the error. */
static int expire_from_arg(client *c, int arg, int flags, uint64_t *out)
{
    long long v;
    if (arg_ll(c, arg, &v) < 0) return -1;
    int seconds = flags & (OPT_EX | OPT_EXAT);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_expire_error(c);
        return -1;
    }
    if (seconds) v *= 1000;
    if (flags & (OPT_EX | OPT_PX)) {
        long long now = (long long)srv.cmd_time_ms;
        if (v > LLONG_MAX - now) {
            reply_expire_error(c);
            return -1;
        }
        v += now;
    }
    *out = (uint64_t)v;
    return 0;
}

/* Reply a live string's value as a bulk string: the last reply of its
 * command (a big one may be streamed after the command, strstream.h).  A
 * chunked value is otherwise read chunk by chunk straight into the output
 * buffer (no second copy). */
static void reply_whole_string(client *c, const struct meta *m);

static void reply_string(client *c, const struct meta *m)
{
    if (!m->chunked) {
        resp_add_bulk(&c->out, m->sval, m->slen);
        return;
    }
    if (strstream_eligible(c, m)) {
        strstream_start(c, m);
        return;
    }
    reply_whole_string(c, m);
}

/* A chunked value copied whole into the output buffer. */
static void reply_whole_string(client *c, const struct meta *m)
{
    buf_printf(&c->out, "$%zu\r\n", m->slen);
    buf_reserve(&c->out, m->slen + 2);
    if (strchunk_read(m, 0, m->slen, c->out.data + c->out.len) < 0)
        memset(c->out.data + c->out.len, 0, m->slen); /* logged; keep the protocol intact */
    c->out.len += m->slen;
    buf_append(&c->out, "\r\n", 2);
}

/* Look up a string key.  1 found, 0 absent, -1 replied an error. */
static int get_string(client *c, int i, struct meta *m)
{
    return lookup_typed(c, i, m, T_STRING);
}

static void set_generic(client *c, int flags, int key, int val, uint64_t expire)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, key, &m);
    if (r < 0) goto done;
    if (flags & OPT_GET) {
        if (r == 1 && m.type != T_STRING) {
            resp_add_error(&c->out, resp_err_wrongtype);
            goto done;
        }
        if (r == 1) reply_string(c, &m);
        else resp_add_null(&c->out, c->resp);
    }
    if (((flags & OPT_NX) && r == 1) || ((flags & OPT_XX) && r == 0)) {
        if (!(flags & OPT_GET)) resp_add_null(&c->out, c->resp);
        goto done;
    }
    if ((flags & OPT_KEEPTTL) && r == 1) expire = m.expire;
    db_set_string(ARG(c, key), ARG(c, val), expire, &m);
    notify_keyspace_event(NOTIFY_STRING, "set", ARG(c, key));
    if (expire && !(flags & OPT_KEEPTTL)) notify_keyspace_event(NOTIFY_GENERIC, "expire", ARG(c, key));
    if (!(flags & OPT_GET)) resp_add_ok(&c->out);
done:
    meta_free(&m);
}

static void set_command(client *c)
{
    int flags, earg;
    uint64_t expire = 0;
    if (parse_string_opts(c, 3, FOR_SET, &flags, &earg) < 0) return;
    if (earg && expire_from_arg(c, earg, flags, &expire) < 0) return;
    set_generic(c, flags, 1, 2, expire);
}

static void setnx_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 1, &m);
    if (r == 0) db_set_string(ARG(c, 1), ARG(c, 2), 0, &m);
    if (r == 0) notify_keyspace_event(NOTIFY_STRING, "set", ARG(c, 1));
    if (r >= 0) resp_add_int(&c->out, r == 0);
    meta_free(&m);
}

static void setex_command(client *c)
{
    uint64_t expire;
    int flags = c->cmd->id == CMD_SETEX ? OPT_EX : OPT_PX;
    if (expire_from_arg(c, 2, flags, &expire) < 0) return;
    set_generic(c, 0, 1, 3, expire);
}

static void get_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r == 1) reply_string(c, &m);
    else if (r == 0) resp_add_null(&c->out, c->resp);
    meta_free(&m);
}

static void getset_command(client *c)
{
    set_generic(c, OPT_GET, 1, 2, 0);
}

static void getdel_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r == 1) {
        reply_string(c, &m);
        db_delete(ARG(c, 1), &m);
        notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    } else if (r == 0) {
        resp_add_null(&c->out, c->resp);
    }
    meta_free(&m);
}

static void getex_command(client *c)
{
    int flags, earg;
    uint64_t expire = 0;
    struct meta m;
    if (parse_string_opts(c, 2, FOR_GETEX, &flags, &earg) < 0) return;
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r == 0) resp_add_null(&c->out, c->resp);
    if (r != 1) goto done;
    if (earg && expire_from_arg(c, earg, flags, &expire) < 0) goto done;
    reply_string(c, &m);
    if ((flags & (OPT_EXAT | OPT_PXAT)) && expire <= srv.cmd_time_ms) {
        if (!srv.is_replica) db_delete(ARG(c, 1), &m);
        notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    } else if (earg) {
        db_set_expire(ARG(c, 1), &m, expire);
        notify_keyspace_event(NOTIFY_GENERIC, "expire", ARG(c, 1));
    } else if ((flags & OPT_PERSIST) && m.expire) {
        db_set_expire(ARG(c, 1), &m, 0);
        notify_keyspace_event(NOTIFY_GENERIC, "persist", ARG(c, 1));
    }
done:
    meta_free(&m);
}

static void mget_command(client *c)
{
    struct meta m;
    meta_init(&m);
    resp_add_array(&c->out, c->argc - 1);
    for (int i = 1; i < c->argc; i++) db_prefetch(ARG(c, i));
    for (int i = 1; i < c->argc; i++) {
        int t = db_lookup(ARG(c, i), &m);
        if (t == T_STRING && !m.chunked) resp_add_bulk(&c->out, m.sval, m.slen);
        else if (t == T_STRING) reply_whole_string(c, &m);
        else resp_add_null(&c->out, c->resp);
        if (t == T_NONE) notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", ARG(c, i));
    }
    meta_free(&m);
}

static void mset_generic(client *c, int nx)
{
    struct meta m;
    if (c->argc % 2 == 0) {
        resp_add_arity_error(&c->out, c->cmd->name);
        return;
    }
    meta_init(&m);
    if (nx) {
        for (int i = 1; i < c->argc; i += 2) {
            int r = lookup_any(c, i, &m);
            if (r != 0) {
                if (r == 1) resp_add_int(&c->out, 0);
                meta_free(&m);
                return;
            }
        }
    }
    for (int i = 1; i < c->argc; i += 2) db_prefetch(ARG(c, i));
    for (int i = 1; i < c->argc; i += 2) {
        /* Look each key up again: an earlier pair may have set it. */
        if (db_lookup(ARG(c, i), &m) < 0) {
            reply_storage_error(c);
            meta_free(&m);
            return;
        }
        db_set_string(ARG(c, i), ARG(c, i + 1), 0, &m);
        notify_keyspace_event(NOTIFY_STRING, "set", ARG(c, i));
    }
    if (nx) resp_add_int(&c->out, 1);
    else resp_add_ok(&c->out);
    meta_free(&m);
}

static void mset_command(client *c) { mset_generic(c, 0); }
static void msetnx_command(client *c) { mset_generic(c, 1); }

static void incr_generic(client *c, long long by)
{
    struct meta m;
    long long cur = 0;
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r < 0) goto done;
    if (r == 1 && (m.slen > 20 || str2ll(m.sval, m.slen, &cur) < 0)) {
        resp_add_error(&c->out, resp_err_notint);
        goto done;
    }
    if (__builtin_add_overflow(cur, by, &cur)) {
        resp_add_error(&c->out, resp_err_overflow);
        goto done;
    }
    char tmp[32];
    int n = ll2str(tmp, sizeof tmp, cur);
    db_set_string(ARG(c, 1), tmp, (size_t)n, r == 1 ? m.expire : 0, &m);
    notify_keyspace_event(NOTIFY_STRING, "incrby", ARG(c, 1));
    resp_add_int(&c->out, cur);
done:
    meta_free(&m);
}

static void incr_command(client *c) { incr_generic(c, 1); }
static void decr_command(client *c) { incr_generic(c, -1); }

static void incrby_command(client *c)
{
    long long by;
    if (arg_ll(c, 2, &by) < 0) return;
    incr_generic(c, by);
}

static void decrby_command(client *c)
{
    long long by;
    if (arg_ll(c, 2, &by) < 0) return;
    if (by == LLONG_MIN) {
        resp_add_error(&c->out, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -by);
}

static void incrbyfloat_command(client *c)
{
    struct meta m;
    long double cur = 0, by;
    /* Redis's order: the key's type, then its value, then the increment. */
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r < 0) goto done;
    if ((r == 1 && (m.chunked || str2ld(m.sval, m.slen, &cur) < 0)) || str2ld(ARG(c, 2), &by) < 0) {
        resp_add_error(&c->out, resp_err_notfloat);
        goto done;
    }
    cur += by;
    if (isnan(cur) || isinf(cur)) {
        resp_add_error(&c->out, "ERR increment would produce NaN or Infinity");
        goto done;
    }
    char tmp[5120];
    int n = ld2str_human(tmp, sizeof tmp, cur);
    if (n < 0) {
        resp_add_error(&c->out, resp_err_notfloat);
        goto done;
    }
    db_set_string(ARG(c, 1), tmp, (size_t)n, r == 1 ? m.expire : 0, &m);
    notify_keyspace_event(NOTIFY_STRING, "incrbyfloat", ARG(c, 1));
    resp_add_bulk(&c->out, tmp, (size_t)n);
done:
    meta_free(&m);
}

static int check_string_length(client *c, long long total)
{
    if (total > srv.cfg.proto_max_bulk_len) {
        resp_add_error(&c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return -1;
    }
    return 0;
}

static void append_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r < 0) goto done;
    size_t olen = r == 1 ? m.slen : 0;
    if (r == 1 && check_string_length(c, (long long)(m.slen + c->argvlen[2])) < 0) goto done;
    if (strchunk_write_at(ARG(c, 1), &m, olen, ARG(c, 2)) < 0) {
        reply_storage_error(c);
        goto done;
    }
    notify_keyspace_event(NOTIFY_STRING, "append", ARG(c, 1));
    resp_add_int(&c->out, (long long)(olen + c->argvlen[2]));
done:
    meta_free(&m);
}

static void strlen_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r >= 0) resp_add_int(&c->out, r == 1 ? (long long)m.slen : 0);
    meta_free(&m);
}

static void getrange_command(client *c)
{
    long long start, end;
    struct meta m;
    if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r == 0) resp_add_bulk(&c->out, "", 0);
    if (r != 1) goto done;
    long long len = (long long)m.slen;
    if (start < 0 && end < 0 && start > end) {
        resp_add_bulk(&c->out, "", 0);
        goto done;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0) {
        resp_add_bulk(&c->out, "", 0);
    } else if (!m.chunked) {
        resp_add_bulk(&c->out, m.sval + start, (size_t)(end - start + 1));
    } else {
        size_t n = (size_t)(end - start + 1);
        buf_printf(&c->out, "$%zu\r\n", n);
        buf_reserve(&c->out, n + 2);
        if (strchunk_read(&m, (size_t)start, n, c->out.data + c->out.len) < 0)
            memset(c->out.data + c->out.len, 0, n);
        c->out.len += n;
        buf_append(&c->out, "\r\n", 2);
    }
done:
    meta_free(&m);
}

static void setrange_command(client *c)
{
    long long off;
    struct meta m;
    if (arg_ll(c, 2, &off) < 0) return;
    if (off < 0) {
        resp_add_error(&c->out, "ERR offset is out of range");
        return;
    }
    meta_init(&m);
    int r = get_string(c, 1, &m);
    if (r < 0) goto done;
    size_t vlen = c->argvlen[3];
    if (vlen == 0) {
        resp_add_int(&c->out, r == 1 ? (long long)m.slen : 0);
        goto done;
    }
    if (off > srv.cfg.proto_max_bulk_len - (long long)vlen) {
        check_string_length(c, LLONG_MAX); /* replies the size error */
        goto done;
    }
    size_t olen = r == 1 ? m.slen : 0;
    size_t nlen = (size_t)off + vlen > olen ? (size_t)off + vlen : olen;
    if (strchunk_write_at(ARG(c, 1), &m, (size_t)off, ARG(c, 3)) < 0) {
        reply_storage_error(c);
        goto done;
    }
    notify_keyspace_event(NOTIFY_STRING, "setrange", ARG(c, 1));
    resp_add_int(&c->out, (long long)nlen);
done:
    meta_free(&m);
}

void t_string_register(void)
{
    server_register(CMD_GET, get_command);
    server_register(CMD_SET, set_command);
    server_register(CMD_SETNX, setnx_command);
    server_register(CMD_SETEX, setex_command);
    server_register(CMD_PSETEX, setex_command);
    server_register(CMD_GETSET, getset_command);
    server_register(CMD_GETDEL, getdel_command);
    server_register(CMD_GETEX, getex_command);
    server_register(CMD_MGET, mget_command);
    server_register(CMD_MSET, mset_command);
    server_register(CMD_MSETNX, msetnx_command);
    server_register(CMD_INCR, incr_command);
    server_register(CMD_DECR, decr_command);
    server_register(CMD_INCRBY, incrby_command);
    server_register(CMD_DECRBY, decrby_command);
    server_register(CMD_INCRBYFLOAT, incrbyfloat_command);
    server_register(CMD_APPEND, append_command);
    server_register(CMD_STRLEN, strlen_command);
    server_register(CMD_GETRANGE, getrange_command);
    server_register(CMD_SUBSTR, getrange_command);
    server_register(CMD_SETRANGE, setrange_command);
}
