/* t_zset_block: the blocking pops BZPOPMIN, BZPOPMAX and BZMPOP, on top of
 * blocking.c (per-key FIFO queues, wake-up after writes, deadlines).
 *
 * A call first behaves like its non-blocking form on the keys in order
 * (WRONGTYPE for a key of another type met before a non-empty zset).  With
 * nothing to pop it parks the client; when a write touches one of its keys
 * the retry pops from that key — the one written, as Redis 7.0 serves it —
 * if it now holds a non-empty zset, and otherwise leaves the client
 * waiting.  Replies (RESP2): BZPOPMIN/BZPOPMAX [key, member, score],
 * BZMPOP [key, [[member, score], ...]]; a timeout, or a call inside
 * MULTI/EXEC that would block, replies a null array. */
#include "zset_internal.h"

#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "cmd.h"

/* Argument index of `key` among argv[first .. first+n), or -1. */
static int key_arg(const client *c, int first, int n, const char *key, size_t klen)
{
    for (int i = first; i < first + n && i < c->argc; i++)
        if (c->argvlen[i] == klen && memcmp(c->argv[i], key, klen) == 0) return i;
    return -1;
}

/* 1 if `key` holds a non-empty zset now, 0 if not (or on a storage error,
 * logged: the client keeps waiting). */
static int key_has_zset(const char *key, size_t klen)
{
    struct meta m;
    meta_init(&m);
    int t = db_lookup(key, klen, &m);
    int ok = t == T_ZSET && m.count > 0;
    meta_free(&m);
    return ok;
}

/* ---------------- BZPOPMIN / BZPOPMAX key [key ...] timeout ---------------- */

static int bzpop_retry(client *c, const char *key, size_t klen)
{
    if (!key_has_zset(key, klen)) return 0;
    int k = key_arg(c, 1, c->argc - 2, key, klen);
    if (k < 0) return 0;
    int max = c->cmd->id == CMD_BZPOPMAX;
    return zpop_generic(c, &k, 1, max, 1, -1, 0, ZPOP_NO_REPLY) != 0;
}

static void bzpop_command(client *c, int max)
{
    uint64_t deadline;
    if (block_parse_timeout(c, c->argc - 1, &deadline) < 0) return;
    int nkeys = c->argc - 2;
    int *keys = xmalloc(sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < nkeys; i++) keys[i] = 1 + i;
    int r = zpop_generic(c, keys, nkeys, max, 1, -1, 0, ZPOP_NO_REPLY);
    free(keys);
    if (r != 0) return; /* popped, or an error was replied */
    if (block_client(c, 1, nkeys, 1, deadline, bzpop_retry) < 0) resp_add_null_array(&c->out, c->resp);
}

static void bzpopmin_command(client *c) { bzpop_command(c, 0); }
static void bzpopmax_command(client *c) { bzpop_command(c, 1); }

/* ---------------- BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT n] ---------------- */

static int bzmpop_retry(client *c, const char *key, size_t klen)
{
    int nkeys, max;
    long long count;
    if (!key_has_zset(key, klen)) return 0;
    /* the arguments were valid when the client blocked: this cannot reply */
    size_t mark = c->out.len;
    if (zmpop_parse(c, 2, &nkeys, &max, &count) < 0) {
        c->out.len = mark;
        return 0;
    }
    int k = key_arg(c, 3, nkeys, key, klen);
    if (k < 0) return 0;
    return zpop_generic(c, &k, 1, max, 1, count, 1, ZPOP_NO_REPLY) != 0;
}

static void bzmpop_command(client *c)
{
    int nkeys, max;
    long long count;
    uint64_t deadline;
    if (zmpop_parse(c, 2, &nkeys, &max, &count) < 0) return;
    if (block_parse_timeout(c, 1, &deadline) < 0) return;
    int *keys = xmalloc(sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < nkeys; i++) keys[i] = 3 + i;
    int r = zpop_generic(c, keys, nkeys, max, 1, count, 1, ZPOP_NO_REPLY);
    free(keys);
    if (r != 0) return;
    if (block_client(c, 3, nkeys, 1, deadline, bzmpop_retry) < 0) resp_add_null_array(&c->out, c->resp);
}

void t_zset_block_register(void)
{
    block_init();
    server_register(CMD_BZPOPMIN, bzpopmin_command);
    server_register(CMD_BZPOPMAX, bzpopmax_command);
    server_register(CMD_BZMPOP, bzmpop_command);
}
