/* t_zset: sorted set commands — ZADD and ZINCRBY, point reads, the range
 * family (ZRANGE and its legacy forms, ZRANGESTORE, counts, removals),
 * pops, ZRANDMEMBER and ZSCAN.  The set algebra (ZUNION, ZINTER, ZDIFF and
 * their STORE forms, ZINTERCARD) is in t_zset_ops.c; the blocking pops in
 * t_zset_block.c.  Storage, ranges and the index walker: zset.c.
 *
 * Replies, errors and the order in which arguments are checked follow
 * Redis 7.0's t_zset.c (which errors win when several apply matters to
 * clients that parse them). */
#include "zset_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "coll.h"
#include "cursor.h"
#include "util.h"

static const char ERR_NAN[] = "ERR resulting score is not a number (NaN)";
static const char ERR_SCORE_RANGE[] = "ERR min or max is not a float";
static const char ERR_LEX_RANGE[] = "ERR min or max not valid string range item";
static const char ERR_POSITIVE[] = "ERR value is out of range, must be positive";

/* Meta of a zset that a command changed: write it back, or delete the
 * key when the command emptied it (Redis removes empty collections). */
void zset_commit_meta(const char *key, size_t klen, struct meta *m)
{
    if (m->count == 0) db_delete(key, klen, m);
    else db_write_meta(key, klen, m, m->expire);
}

/* ---------------- result sink: a reply, or a destination key ---------------- */

void zset_reply_scored(client *c, const char *m, size_t ml, double score)
{
    if (c->resp == RESP3) resp_add_array(&c->out, 2);
    resp_add_bulk(&c->out, m, ml);
    resp_add_double(&c->out, c->resp, score);
}

long long zset_scored_len(const client *c, long long n)
{
    return c->resp == RESP3 ? n : 2 * n;
}

/* The event a store into a destination key publishes (Redis names it
 * after the command). */
static const char *zsink_event(const client *c)
{
    switch (c->cmd->id) {
    case CMD_ZUNIONSTORE: return "zunionstore";
    case CMD_ZINTERSTORE: return "zinterstore";
    case CMD_ZDIFFSTORE: return "zdiffstore";
    case CMD_GEORADIUS:
    case CMD_GEORADIUSBYMEMBER: return "georadiusstore";
    case CMD_GEOSEARCHSTORE: return "geosearchstore";
    default: return "zrangestore";
    }
}

void zsink_begin(struct zsink *s, client *c, int store_arg, int withscores)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->store_arg = store_arg;
    s->withscores = withscores;
    meta_init(&s->dm);
    if (!store_arg) s->mark = resp_defer_array(&c->out);
}

int zsink_emit(struct zsink *s, const char *m, size_t ml, double score)
{
    client *c = s->c;
    if (!s->store_arg) {
        if (s->withscores) zset_reply_scored(c, m, ml, score);
        else resp_add_bulk(&c->out, m, ml);
    } else {
        if (!s->created) {
            if (db_lookup(ARG(c, s->store_arg), &s->dm) < 0) return -1;
            db_new_collection(ARG(c, s->store_arg), T_ZSET, &s->dm);
            s->created = 1;
        }
        zset_put(s->dm.version, m, ml, score, 0, 0);
        s->dm.count++;
    }
    s->n++;
    return 0;
}

/* Finish: set the reply's length, or write the destination (deleting it
 * when the result is empty) and reply its size.  Returns 0 or -1 (the
 * storage error is replied). */
int zsink_end(struct zsink *s)
{
    client *c = s->c;
    int rc = 0;
    if (!s->store_arg) {
        resp_set_deferred_array(&c->out, s->mark, s->withscores ? zset_scored_len(c, s->n) : s->n);
    } else if (s->created) {
        db_write_meta(ARG(c, s->store_arg), &s->dm, 0);
        notify_keyspace_event(NOTIFY_ZSET, zsink_event(c), ARG(c, s->store_arg));
        resp_add_int(&c->out, s->n);
    } else {
        int t = db_lookup(ARG(c, s->store_arg), &s->dm);
        if (t < 0) {
            reply_storage_error(c);
            rc = -1;
        } else {
            db_delete(ARG(c, s->store_arg), &s->dm);
            if (t != T_NONE) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, s->store_arg));
            resp_add_int(&c->out, 0);
        }
    }
    meta_free(&s->dm);
    return rc;
}

/* Abandon a sink after an error reply (its writes are rolled back). */
void zsink_abort(struct zsink *s)
{
    if (!s->store_arg) s->c->out.len = s->mark;
    meta_free(&s->dm);
}

/* ---------------- ZADD, ZINCRBY ---------------- */

#define ZADD_NX   (1 << 0)
#define ZADD_XX   (1 << 1)
#define ZADD_GT   (1 << 2)
#define ZADD_LT   (1 << 3)
#define ZADD_CH   (1 << 4)
#define ZADD_INCR (1 << 5)

enum { ZADD_NOP, ZADD_ADDED, ZADD_UPDATED, ZADD_SAME, ZADD_NAN };

/* One member of a ZADD, as Redis's zsetAdd decides it.  *newscore is the
 * score the member ends with (for the INCR reply).  Returns ZADD_*, or -1
 * on a storage error. */
static int zadd_one(struct meta *m, int flags, double score, const char *mem, size_t ml,
                    double *newscore)
{
    double cur;
    int r = zset_score(m->version, mem, ml, &cur);
    if (r < 0) return -1;
    if (r == 1) {
        if (flags & ZADD_NX) return ZADD_NOP;
        if (flags & ZADD_INCR) {
            score += cur;
            if (isnan(score)) return ZADD_NAN;
        }
        if (((flags & ZADD_LT) && score >= cur) || ((flags & ZADD_GT) && score <= cur))
            return ZADD_NOP;
        *newscore = score;
        if (score == cur) return ZADD_SAME;
        zset_put(m->version, mem, ml, score, 1, cur);
        return ZADD_UPDATED;
    }
    if (flags & ZADD_XX) return ZADD_NOP;
    *newscore = score;
    zset_put(m->version, mem, ml, score, 0, 0);
    m->count++;
    return ZADD_ADDED;
}

static void zadd_generic(client *c, int flags)
{
    int idx = 2;
    /* Options come first; ZINCRBY goes through the same parse, as in Redis. */
    while (idx < c->argc) {
        if (ARG_IS(c, idx, "nx")) flags |= ZADD_NX;
        else if (ARG_IS(c, idx, "xx")) flags |= ZADD_XX;
        else if (ARG_IS(c, idx, "ch")) flags |= ZADD_CH;
        else if (ARG_IS(c, idx, "incr")) flags |= ZADD_INCR;
        else if (ARG_IS(c, idx, "gt")) flags |= ZADD_GT;
        else if (ARG_IS(c, idx, "lt")) flags |= ZADD_LT;
        else break;
        idx++;
    }
    int elements = c->argc - idx;
    if (elements % 2 || elements == 0) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    elements /= 2;
    if ((flags & ZADD_NX) && (flags & ZADD_XX)) {
        resp_add_error(&c->out, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & ZADD_GT) && (flags & ZADD_NX)) || ((flags & ZADD_LT) && (flags & ZADD_NX)) ||
        ((flags & ZADD_GT) && (flags & ZADD_LT))) {
        resp_add_error(&c->out,
                       "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if ((flags & ZADD_INCR) && elements > 1) {
        resp_add_error(&c->out, "ERR INCR option supports a single increment-element pair");
        return;
    }
    /* Every score is checked before anything is written.  Most ZADDs
     * carry a few members: their scores stay on the stack. */
    double few[8];
    double *scores = elements <= 8 ? few : xmalloc(sizeof(double) * (size_t)elements);
    for (int j = 0; j < elements; j++)
        if (arg_double(c, idx + j * 2, &scores[j]) < 0) goto done_free;

    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r < 0) goto done;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (r == 0) {
        if (flags & ZADD_XX) goto reply;
        db_new_collection(ARG(c, 1), T_ZSET, &m);
    }
    uint64_t count_before = r == 0 ? UINT64_MAX : m.count;
    for (int j = 0; j < elements; j++) {
        double ns = 0;
        int o = zadd_one(&m, flags, scores[j], ARG(c, idx + 1 + j * 2), &ns);
        if (o < 0) {
            reply_storage_error(c);
            goto done;
        }
        if (o == ZADD_NAN) {
            resp_add_error(&c->out, ERR_NAN);
            goto done;
        }
        if (o == ZADD_ADDED) added++;
        if (o == ZADD_UPDATED) updated++;
        if (o != ZADD_NOP) {
            processed++;
            score = ns;
        }
    }
    if (m.count != count_before) db_write_meta(ARG(c, 1), &m, m.expire);
    if (added || updated) notify_keyspace_event(NOTIFY_ZSET, (flags & ZADD_INCR) ? "zincr" : "zadd", ARG(c, 1));
reply:
    if (flags & ZADD_INCR) {
        if (processed) resp_add_double(&c->out, c->resp, score);
        else resp_add_null(&c->out, c->resp);
    } else {
        resp_add_int(&c->out, (flags & ZADD_CH) ? added + updated : added);
    }
done:
    meta_free(&m);
done_free:
    if (scores != few) free(scores);
}

static void zadd_command(client *c) { zadd_generic(c, 0); }
static void zincrby_command(client *c) { zadd_generic(c, ZADD_INCR); }

/* ---------------- point reads, ZREM ---------------- */

static void zrem_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r <= 0) {
        if (r == 0) resp_add_int(&c->out, 0);
        goto done;
    }
    long long removed = 0;
    for (int j = 2; j < c->argc; j++) {
        double s;
        int f = zset_score(m.version, ARG(c, j), &s);
        if (f < 0) {
            reply_storage_error(c);
            goto done;
        }
        if (f == 1) {
            zset_del(m.version, ARG(c, j), s);
            m.count--;
            removed++;
            if (m.count == 0) break;
        }
    }
    if (removed) zset_commit_meta(ARG(c, 1), &m);
    if (removed) notify_keyspace_event(NOTIFY_ZSET, "zrem", ARG(c, 1));
    if (removed && m.count == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    resp_add_int(&c->out, removed);
done:
    meta_free(&m);
}

static void zscore_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
    } else if (r == 1) {
        double s;
        int f = zset_score(m.version, ARG(c, 2), &s);
        if (f < 0) reply_storage_error(c);
        else if (f == 0) resp_add_null(&c->out, c->resp);
        else resp_add_double(&c->out, c->resp, s);
    }
    meta_free(&m);
}

static void zmscore_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r < 0) goto done;
    size_t mark = c->out.len;
    resp_add_array(&c->out, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double s;
        int f = r == 1 ? zset_score(m.version, ARG(c, j), &s) : 0;
        if (f < 0) {
            c->out.len = mark;
            reply_storage_error(c);
            goto done;
        }
        if (f == 0) resp_add_null(&c->out, c->resp);
        else resp_add_double(&c->out, c->resp, s);
    }
done:
    meta_free(&m);
}

static void zcard_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r >= 0) resp_add_int(&c->out, r == 1 ? (long long)m.count : 0);
    meta_free(&m);
}

static void zcount_command(client *c)
{
    struct zscore_range range;
    if (zscore_range_parse(ARG(c, 2), ARG(c, 3), &range) < 0) {
        resp_add_error(&c->out, ERR_SCORE_RANGE);
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r >= 0) {
        long long n = 0;
        if (r == 1 && !zscore_range_empty(&range)) n = zset_count(m.version, m.count, &range, NULL);
        resp_add_int(&c->out, n);
    }
    meta_free(&m);
}

static void zlexcount_command(client *c)
{
    struct zlex_range range;
    if (zlex_range_parse(ARG(c, 2), ARG(c, 3), &range) < 0) {
        resp_add_error(&c->out, ERR_LEX_RANGE);
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r >= 0) {
        long long n = 0;
        if (r == 1 && !zlex_range_empty(&range)) n = zset_count(m.version, m.count, NULL, &range);
        resp_add_int(&c->out, n);
    }
    meta_free(&m);
}

static void zrank_generic(client *c, int rev)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
    } else if (r == 1) {
        double s;
        int f = zset_score(m.version, ARG(c, 2), &s);
        if (f < 0) {
            reply_storage_error(c);
        } else if (f == 0) {
            resp_add_null(&c->out, c->resp);
        } else {
            long long rank = zset_rank(m.version, m.count, ARG(c, 2), s);
            if (rank < 0) reply_storage_error(c);
            else resp_add_int(&c->out, rev ? (long long)m.count - 1 - rank : rank);
        }
    }
    meta_free(&m);
}

static void zrank_command(client *c) { zrank_generic(c, 0); }
static void zrevrank_command(client *c) { zrank_generic(c, 1); }

/* ---------------- the ZRANGE family ---------------- */

enum { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };
enum { ZD_AUTO, ZD_FWD, ZD_REV };

/* Normalise Redis's start/end indexes against a length; 0 and the
 * inclusive [*start, *end], or -1 when the range is empty. */
static int rank_range(long long *start, long long *end, long long len)
{
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= len) return -1;
    if (*end >= len) *end = len - 1;
    return 0;
}

/* Emit elements [start, end] (ranks in the walk's direction). */
static int zrange_rank_emit(struct zsink *s, const struct meta *m, int rev, long long start,
                            long long end)
{
    zwalk w;
    int rc = 0;
    zwalk_open(&w, m->version, rev);
    long long n = end - start + 1;
    zwalk_rank(&w, (uint64_t)start, m->count);
    for (; n > 0 && w.valid; n--, zwalk_next(&w))
        if ((rc = zsink_emit(s, w.member, w.mlen, w.score)) < 0) break;
    zwalk_close(&w);
    return rc;
}

/* Score or lex range with LIMIT: skip `offset` elements from the start of
 * the range, then emit up to `limit` (negative: all).  A negative offset
 * empties the result, as Redis's skip loop runs off the end. */
static int zrange_bound_emit(struct zsink *s, const struct meta *m, int rev, int lex,
                             const struct zscore_range *sr, const struct zlex_range *lr,
                             long long offset, long long limit)
{
    zwalk w;
    int rc = 0;
    if (offset < 0) return 0;
    if (offset > 0 && (uint64_t)offset >= m->count) return 0;
    zwalk_open(&w, m->version, rev);
    if (lex) zwalk_lex_start(&w, lr);
    else zwalk_score_start(&w, sr);
    while (w.valid && offset > 0) {
        zwalk_next(&w);
        offset--;
    }
    for (; limit != 0; limit--) {
        if (!(lex ? zwalk_lex_in(&w, lr) : zwalk_score_in(&w, sr))) break;
        if ((rc = zsink_emit(s, w.member, w.mlen, w.score)) < 0) break;
        zwalk_next(&w);
    }
    zwalk_close(&w);
    return rc;
}

/* ZRANGE, ZRANGESTORE and the legacy forms.  `kidx` is the source key's
 * argument index (1, or 2 for ZRANGESTORE whose destination is 1). */
static void zrange_generic(client *c, int kidx, int type, int dir)
{
    int store = kidx == 2;
    int minidx = kidx + 1, maxidx = kidx + 2;
    int withscores = 0;
    long long offset = 0, limit = -1;
    for (int j = kidx + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!store && ARG_IS(c, j, "withscores")) {
            withscores = 1;
        } else if (ARG_IS(c, j, "limit") && left >= 2) {
            if (arg_ll(c, j + 1, &offset) < 0 || arg_ll(c, j + 2, &limit) < 0) return;
            j += 2;
        } else if (dir == ZD_AUTO && ARG_IS(c, j, "rev")) {
            dir = ZD_REV;
        } else if (type == ZR_AUTO && ARG_IS(c, j, "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && ARG_IS(c, j, "byscore")) {
            type = ZR_SCORE;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    if (dir == ZD_AUTO) dir = ZD_FWD;
    if (type == ZR_AUTO) type = ZR_RANK;
    /* Redis tests the limit's value, not its presence: "LIMIT 0 -1" passes. */
    if (limit != -1 && type == ZR_RANK) {
        resp_add_error(&c->out, "ERR syntax error, LIMIT is only supported in combination "
                                "with either BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == ZR_LEX) {
        resp_add_error(&c->out,
                       "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    int rev = dir == ZD_REV;
    if (rev && type != ZR_RANK) {
        int t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    long long start = 0, end = 0;
    struct zscore_range sr;
    struct zlex_range lr;
    if (type == ZR_RANK) {
        if (arg_ll(c, minidx, &start) < 0 || arg_ll(c, maxidx, &end) < 0) return;
    } else if (type == ZR_SCORE) {
        if (zscore_range_parse(ARG(c, minidx), ARG(c, maxidx), &sr) < 0) {
            resp_add_error(&c->out, ERR_SCORE_RANGE);
            return;
        }
    } else if (zlex_range_parse(ARG(c, minidx), ARG(c, maxidx), &lr) < 0) {
        resp_add_error(&c->out, ERR_LEX_RANGE);
        return;
    }

    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, kidx, &m, T_ZSET);
    if (r < 0) goto done;
    struct zsink s;
    zsink_begin(&s, c, store ? 1 : 0, withscores);
    int rc = 0;
    if (r == 1) {
        if (type == ZR_RANK) {
            if (rank_range(&start, &end, (long long)m.count) == 0)
                rc = zrange_rank_emit(&s, &m, rev, start, end);
        } else if (type == ZR_SCORE) {
            if (!zscore_range_empty(&sr))
                rc = zrange_bound_emit(&s, &m, rev, 0, &sr, NULL, offset, limit);
        } else if (!zlex_range_empty(&lr)) {
            rc = zrange_bound_emit(&s, &m, rev, 1, NULL, &lr, offset, limit);
        }
    }
    if (rc < 0) {
        zsink_abort(&s);
        reply_storage_error(c);
    } else {
        zsink_end(&s);
    }
done:
    meta_free(&m);
}

static void zrange_command(client *c) { zrange_generic(c, 1, ZR_AUTO, ZD_AUTO); }
static void zrevrange_command(client *c) { zrange_generic(c, 1, ZR_RANK, ZD_REV); }
static void zrangebyscore_command(client *c) { zrange_generic(c, 1, ZR_SCORE, ZD_FWD); }
static void zrevrangebyscore_command(client *c) { zrange_generic(c, 1, ZR_SCORE, ZD_REV); }
static void zrangebylex_command(client *c) { zrange_generic(c, 1, ZR_LEX, ZD_FWD); }
static void zrevrangebylex_command(client *c) { zrange_generic(c, 1, ZR_LEX, ZD_REV); }
static void zrangestore_command(client *c) { zrange_generic(c, 2, ZR_AUTO, ZD_AUTO); }

/* ZREMRANGEBYRANK / BYSCORE / BYLEX: parse, then walk the range deleting. */
static void zremrange_generic(client *c, int type)
{
    long long start = 0, end = 0;
    struct zscore_range sr;
    struct zlex_range lr;
    if (type == ZR_RANK) {
        if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    } else if (type == ZR_SCORE) {
        if (zscore_range_parse(ARG(c, 2), ARG(c, 3), &sr) < 0) {
            resp_add_error(&c->out, ERR_SCORE_RANGE);
            return;
        }
    } else if (zlex_range_parse(ARG(c, 2), ARG(c, 3), &lr) < 0) {
        resp_add_error(&c->out, ERR_LEX_RANGE);
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r <= 0) {
        if (r == 0) resp_add_int(&c->out, 0);
        goto done;
    }
    long long removed = 0;
    zwalk w;
    zwalk_open(&w, m.version, 0);
    if (type == ZR_RANK) {
        if (rank_range(&start, &end, (long long)m.count) == 0) {
            long long n = end - start + 1;
            zwalk_rank(&w, (uint64_t)start, m.count);
            for (; n > 0 && w.valid; n--, zwalk_next(&w)) {
                zset_del(m.version, w.member, w.mlen, w.score);
                removed++;
            }
        }
    } else if (type == ZR_SCORE) {
        if (!zscore_range_empty(&sr))
            for (zwalk_score_start(&w, &sr); zwalk_score_in(&w, &sr); zwalk_next(&w)) {
                zset_del(m.version, w.member, w.mlen, w.score);
                removed++;
            }
    } else if (!zlex_range_empty(&lr)) {
        for (zwalk_lex_start(&w, &lr); zwalk_lex_in(&w, &lr); zwalk_next(&w)) {
            zset_del(m.version, w.member, w.mlen, w.score);
            removed++;
        }
    }
    zwalk_close(&w);
    if (removed) {
        m.count = (uint64_t)removed >= m.count ? 0 : m.count - (uint64_t)removed;
        zset_commit_meta(ARG(c, 1), &m);
        notify_keyspace_event(NOTIFY_ZSET, type == ZR_RANK ? "zremrangebyrank"
                                           : type == ZR_SCORE ? "zremrangebyscore" : "zremrangebylex", ARG(c, 1));
        if (m.count == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    }
    resp_add_int(&c->out, removed);
done:
    meta_free(&m);
}

static void zremrangebyrank_command(client *c) { zremrange_generic(c, ZR_RANK); }
static void zremrangebyscore_command(client *c) { zremrange_generic(c, ZR_SCORE); }
static void zremrangebylex_command(client *c) { zremrange_generic(c, ZR_LEX); }

/* ---------------- pops ---------------- */

int zpop_generic(client *c, const int *keys, int nkeys, int max, int emitkey,
                 long long count, int nested, int empty)
{
    struct meta m;
    meta_init(&m);
    int found = -1, rc = 0;
    for (int i = 0; i < nkeys; i++) {
        int r = lookup_any(c, keys[i], &m);
        if (r < 0) { rc = -1; goto done; }
        if (r == 0) continue;
        if (m.type != T_ZSET) {
            resp_add_error(&c->out, resp_err_wrongtype);
            rc = -1;
            goto done;
        }
        found = keys[i];
        break;
    }
    if (found < 0) {
        if (empty == ZPOP_NULL_ARRAY) resp_add_null_array(&c->out, c->resp);
        else if (empty == ZPOP_EMPTY_ARRAY) resp_add_array(&c->out, 0);
        goto done;
    }
    rc = 1;
    if (count == 0) {
        resp_add_array(&c->out, 0);
        goto done;
    }
    /* RESP3 nests [member, score] pairs whenever ZPOPMIN/ZPOPMAX were
     * given a count (as Redis 7.0 does); the plain form stays flat. */
    if (c->resp == RESP3 && !emitkey && count >= 0) nested = 1;
    if (count < 0) count = 1;
    if ((uint64_t)count > m.count) count = (long long)m.count;
    size_t outer = 0;
    if (emitkey && !nested) {
        outer = resp_defer_array(&c->out);
        resp_add_bulk(&c->out, ARG(c, found));
    } else if (emitkey) {
        resp_add_array(&c->out, 2);
        resp_add_bulk(&c->out, ARG(c, found));
        outer = resp_defer_array(&c->out);
    } else {
        outer = resp_defer_array(&c->out);
    }
    zwalk w;
    long long n = 0;
    zwalk_open(&w, m.version, max);
    for (zwalk_head(&w); n < count && w.valid; zwalk_next(&w), n++) {
        if (nested) resp_add_array(&c->out, 2);
        resp_add_bulk(&c->out, w.member, w.mlen);
        resp_add_double(&c->out, c->resp, w.score);
        zset_del(m.version, w.member, w.mlen, w.score);
    }
    zwalk_close(&w);
    if (emitkey && !nested) resp_set_deferred_array(&c->out, outer, 1 + 2 * n);
    else resp_set_deferred_array(&c->out, outer, nested ? n : 2 * n);
    m.count = (uint64_t)n >= m.count ? 0 : m.count - (uint64_t)n;
    zset_commit_meta(ARG(c, found), &m);
    if (n) notify_keyspace_event(NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", ARG(c, found));
    if (n && m.count == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, found));
done:
    meta_free(&m);
    return rc;
}

static void zpop_command(client *c, int max)
{
    long long count = -1;
    if (c->argc > 3) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (c->argc == 3 && (str2ll(ARG(c, 2), &count) < 0 || count < 0)) {
        resp_add_error(&c->out, ERR_POSITIVE);
        return;
    }
    int key = 1;
    zpop_generic(c, &key, 1, max, 0, count, 0, ZPOP_EMPTY_ARRAY);
}

static void zpopmin_command(client *c) { zpop_command(c, 0); }
static void zpopmax_command(client *c) { zpop_command(c, 1); }

int zmpop_parse(client *c, int idx, int *nkeys, int *max, long long *count)
{
    long long numkeys;
    if (str2ll(ARG(c, idx), &numkeys) < 0 || numkeys < 1) {
        resp_add_error(&c->out, "ERR numkeys should be greater than 0");
        return -1;
    }
    /* the MIN|MAX argument must exist after the keys */
    if (numkeys > (long long)c->argc - idx - 2) {
        resp_add_error(&c->out, resp_err_syntax);
        return -1;
    }
    int where = idx + (int)numkeys + 1;
    if (ARG_IS(c, where, "min")) *max = 0;
    else if (ARG_IS(c, where, "max")) *max = 1;
    else {
        resp_add_error(&c->out, resp_err_syntax);
        return -1;
    }
    *count = -1;
    for (int j = where + 1; j < c->argc; j++) {
        if (*count == -1 && ARG_IS(c, j, "count") && j + 1 < c->argc) {
            j++;
            if (str2ll(ARG(c, j), count) < 0 || *count < 1) {
                resp_add_error(&c->out, "ERR count should be greater than 0");
                return -1;
            }
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return -1;
        }
    }
    if (*count == -1) *count = 1;
    *nkeys = (int)numkeys;
    return 0;
}

static void zmpop_command(client *c)
{
    int nkeys, max;
    long long count;
    if (zmpop_parse(c, 1, &nkeys, &max, &count) < 0) return;
    int *keys = xmalloc(sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < nkeys; i++) keys[i] = 2 + i;
    zpop_generic(c, keys, nkeys, max, 1, count, 1, ZPOP_NULL_ARRAY);
    free(keys);
}

/* ---------------- ZRANDMEMBER ---------------- */

static uint64_t zrand_below(uint64_t n)
{
    uint64_t r = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 11) ^ (uint64_t)random();
    return n ? r % n : 0;
}

struct zpick {
    uint64_t rank;
    size_t slot;
    char *member;       /* owned */
    size_t mlen;
    double score;
};

static int zpick_by_rank(const void *a, const void *b)
{
    const struct zpick *x = a, *y = b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int zpick_by_slot(const void *a, const void *b)
{
    const struct zpick *x = a, *y = b;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Fill picks[i] (sorted by rank) with the members at those ranks in one
 * walk from the lowest score. */
static void zpick_fill(uint64_t version, struct zpick *picks, size_t n)
{
    zwalk w;
    uint64_t pos = 0;
    size_t i = 0;
    zwalk_open(&w, version, 0);
    for (zwalk_head(&w); w.valid && i < n; zwalk_next(&w), pos++) {
        while (i < n && picks[i].rank == pos) {
            picks[i].member = xmemdup(w.member, w.mlen);
            picks[i].mlen = w.mlen;
            picks[i].score = w.score;
            i++;
        }
    }
    zwalk_close(&w);
}

static void zpick_reply(client *c, struct zpick *p, size_t n, int withscores)
{
    for (size_t i = 0; i < n; i++) {
        /* an inconsistent count leaves a pick empty: reply it as "" */
        const char *mem = p[i].member ? p[i].member : "";
        if (withscores) zset_reply_scored(c, mem, p[i].mlen, p[i].score);
        else resp_add_bulk(&c->out, mem, p[i].mlen);
        free(p[i].member);
        p[i].member = NULL;
    }
}

#define ZRAND_BATCH 4096

/* ZRANDMEMBER key count [WITHSCORES], after the argument checks.  Without
 * a rank index a random element costs a walk, so picks are made in
 * batches that share one walk: sorted by rank, filled, and replied in
 * their random order. */
static void zrandmember_count(client *c, long long l, int withscores)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r <= 0) {
        if (r == 0) resp_add_array(&c->out, 0);
        goto done;
    }
    if (l == 0) {
        resp_add_array(&c->out, 0);
        goto done;
    }
    if (l < 0) {
        /* with repetitions: |l| independent uniform picks */
        uint64_t total = (uint64_t)(-l);
        resp_add_array(&c->out, withscores ? zset_scored_len(c, (long long)total) : (long long)total);
        struct zpick *p = xcalloc(ZRAND_BATCH, sizeof *p);
        while (total > 0) {
            size_t n = total < ZRAND_BATCH ? (size_t)total : ZRAND_BATCH;
            for (size_t i = 0; i < n; i++) {
                p[i].rank = zrand_below(m.count);
                p[i].slot = i;
                p[i].member = NULL;
                p[i].mlen = 0;
                p[i].score = 0;
            }
            qsort(p, n, sizeof *p, zpick_by_rank);
            zpick_fill(m.version, p, n);
            qsort(p, n, sizeof *p, zpick_by_slot);
            zpick_reply(c, p, n, withscores);
            total -= n;
        }
        free(p);
        goto done;
    }
    if ((uint64_t)l >= m.count) {
        /* the whole set, from the highest score down, as Redis 7.0
         * replies it */
        struct zsink s;
        zsink_begin(&s, c, 0, withscores);
        zrange_rank_emit(&s, &m, 1, 0, (long long)m.count - 1);
        zsink_end(&s);
        goto done;
    }
    /* distinct members: selection sampling in one walk (each element is
     * kept with probability needed/remaining), then shuffled */
    size_t k = (size_t)l, got = 0;
    struct zpick *p = xcalloc(k, sizeof *p);
    zwalk w;
    uint64_t seen = 0;
    zwalk_open(&w, m.version, 0);
    for (zwalk_head(&w); w.valid && got < k; zwalk_next(&w), seen++) {
        uint64_t left = m.count > seen ? m.count - seen : 1;
        if (zrand_below(left) < k - got) {
            p[got].member = xmemdup(w.member, w.mlen);
            p[got].mlen = w.mlen;
            p[got].score = w.score;
            got++;
        }
    }
    zwalk_close(&w);
    for (size_t i = got; i > 1; i--) {
        size_t j = (size_t)zrand_below(i);
        struct zpick t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    resp_add_array(&c->out, withscores ? zset_scored_len(c, (long long)got) : (long long)got);
    zpick_reply(c, p, got, withscores);
    free(p);
done:
    meta_free(&m);
}

static void zrandmember_command(client *c)
{
    if (c->argc >= 3) {
        long long l;
        if (arg_ll(c, 2, &l) < 0) return;
        if (l < -LLONG_MAX) {
            resp_add_error(&c->out, "ERR value is out of range, value must between "
                                    "-9223372036854775807 and 9223372036854775807");
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !ARG_IS(c, 3, "withscores"))) {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
        int withscores = c->argc == 4;
        if (withscores && (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2)) {
            resp_add_error(&c->out, "ERR value is out of range");
            return;
        }
        zrandmember_count(c, l, withscores);
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
    } else if (r == 1) {
        zwalk w;
        zwalk_open(&w, m.version, 0);
        if (zwalk_rank(&w, zrand_below(m.count), m.count)) resp_add_bulk(&c->out, w.member, w.mlen);
        else reply_storage_error(c);
        zwalk_close(&w);
    }
    meta_free(&m);
}

/* ---------------- ZSCAN ---------------- */

/* ZSCAN walks the member records ('D' version member), which do not move
 * when scores change, so a scan sees every member present from start to
 * end exactly once.  The cursor stands for the next member to visit.
 * Scores in a page stay bulk strings in RESP3 too: Redis 7.0 replies
 * scan pages with the same flat array in both protocols. */
static void emit_score(buf *out, const char *v, size_t vl)
{
    resp_add_bulk_double(out, zset_decode_score(v, vl));
}

static void zscan_command(client *c)
{
    coll_scan(c, T_ZSET, emit_score);
}

void t_zset_register(void)
{
    server_register(CMD_ZADD, zadd_command);
    server_register(CMD_ZINCRBY, zincrby_command);
    server_register(CMD_ZREM, zrem_command);
    server_register(CMD_ZSCORE, zscore_command);
    server_register(CMD_ZMSCORE, zmscore_command);
    server_register(CMD_ZCARD, zcard_command);
    server_register(CMD_ZCOUNT, zcount_command);
    server_register(CMD_ZLEXCOUNT, zlexcount_command);
    server_register(CMD_ZRANK, zrank_command);
    server_register(CMD_ZREVRANK, zrevrank_command);
    server_register(CMD_ZRANGE, zrange_command);
    server_register(CMD_ZREVRANGE, zrevrange_command);
    server_register(CMD_ZRANGEBYSCORE, zrangebyscore_command);
    server_register(CMD_ZREVRANGEBYSCORE, zrevrangebyscore_command);
    server_register(CMD_ZRANGEBYLEX, zrangebylex_command);
    server_register(CMD_ZREVRANGEBYLEX, zrevrangebylex_command);
    server_register(CMD_ZRANGESTORE, zrangestore_command);
    server_register(CMD_ZREMRANGEBYRANK, zremrangebyrank_command);
    server_register(CMD_ZREMRANGEBYSCORE, zremrangebyscore_command);
    server_register(CMD_ZREMRANGEBYLEX, zremrangebylex_command);
    server_register(CMD_ZPOPMIN, zpopmin_command);
    server_register(CMD_ZPOPMAX, zpopmax_command);
    server_register(CMD_ZMPOP, zmpop_command);
    server_register(CMD_ZRANDMEMBER, zrandmember_command);
    server_register(CMD_ZSCAN, zscan_command);
    t_zset_ops_register();
    t_zset_block_register();
}
