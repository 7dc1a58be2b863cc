/* cmd: helpers for command handlers.  See cmd.h. */
#include "cmd.h"

#include <stdint.h>

#include "notify.h"
#include "util.h"

int arg_ll(client *c, int i, long long *v)
{
    if (str2ll(c->argv[i], c->argvlen[i], v) < 0) {
        resp_add_error(&c->out, resp_err_notint);
        return -1;
    }
    return 0;
}

int arg_ll_range(client *c, int i, long long min, long long max, long long *v,
                 const char *range_err)
{
    if (str2ll(c->argv[i], c->argvlen[i], v) < 0) {
        resp_add_error(&c->out, resp_err_notint);
        return -1;
    }
    if (*v < min || *v > max) {
        resp_add_error(&c->out, range_err ? range_err : resp_err_notint);
        return -1;
    }
    return 0;
}

/* A plain decimal integer of at most 15 digits (an optional '-', then
 * digits only) is exactly representable, so converting it by hand gives
 * strtod's result bit for bit, "-0" included; scores are usually such
 * integers, and strtod cost more than the rest of a ZADD's parsing.
 * Returns 0, or -1 for anything else (the caller falls back to str2d). */
static int score_fast(const char *s, size_t len, double *v)
{
    size_t i = len > 0 && s[0] == '-';
    if (len - i == 0 || len - i > 15) return -1;
    uint64_t u = 0;
    for (size_t j = i; j < len; j++) {
        unsigned d = (unsigned char)s[j] - '0';
        if (d > 9) return -1;
        u = u * 10 + d;
    }
    *v = i ? -(double)u : (double)u;
    return 0;
}

int arg_double(client *c, int i, double *v)
{
    if (score_fast(c->argv[i], c->argvlen[i], v) == 0) return 0;
    if (str2d(c->argv[i], c->argvlen[i], v) < 0) {
        resp_add_error(&c->out, resp_err_notfloat);
        return -1;
    }
    return 0;
}

void reply_storage_error(client *c)
{
    resp_add_error(&c->out, "ERR storage error (see the node log)");
}

/* Whether Redis looks argv[i] up as a read (lookupKeyRead, whose miss is
 * a keymiss event): every key of a read-only command, and the keys some
 * writes only read. */
static int lookup_is_read(const client *c, int i)
{
    if (c->cmd->id == CMD_OBJECT) return 0; /* LOOKUP_NONOTIFY */
    if (!(c->cmd->flags & CF_WRITE)) return 1;
    switch (c->cmd->id) {
    case CMD_GETDEL: case CMD_GETEX: case CMD_GETSET: return 1;
    case CMD_SET: /* SET ... GET reads the old value first */
        for (int j = 3; j < c->argc; j++)
            if (ARG_IS(c, j, "get")) return 1;
        return 0;
    case CMD_COPY: return i == 1;
    case CMD_SINTERSTORE: case CMD_SUNIONSTORE: case CMD_SDIFFSTORE: return i >= 2;
    case CMD_ZUNIONSTORE: case CMD_ZINTERSTORE: case CMD_ZDIFFSTORE: case CMD_ZRANGESTORE: return i >= 2;
    default: return 0;
    }
}

int lookup_any(client *c, int i, struct meta *m)
{
    int t = db_lookup(c->argv[i], c->argvlen[i], m);
    if (t < 0) {
        reply_storage_error(c);
        return -1;
    }
    if (t == T_NONE) {
        srv.stats.keyspace_misses++;
        /* Redis's lookupKeyRead: a miss of a read is an event (class m). */
        if (c->cmd && notify_enabled(NOTIFY_KEY_MISS) && lookup_is_read(c, i))
            notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", ARG(c, i));
        return 0;
    }
    srv.stats.keyspace_hits++;
    return 1;
}

int lookup_typed(client *c, int i, struct meta *m, int type)
{
    int r = lookup_any(c, i, m);
    if (r <= 0) return r;
    if (m->type != type) {
        resp_add_error(&c->out, resp_err_wrongtype);
        return -1;
    }
    return 1;
}

int cmd_key_positions(const client *c, int *small, int nsmall, int **pos)
{
    *pos = small;
    int n = cmd_get_keys(c->cmd, c->argc, c->argv, c->argvlen, small, nsmall);
    if (n > nsmall) {
        *pos = xmalloc(sizeof **pos * (size_t)n);
        n = cmd_get_keys(c->cmd, c->argc, c->argv, c->argvlen, *pos, n);
    }
    return n;
}
