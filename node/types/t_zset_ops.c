/* t_zset_ops: sorted set algebra — ZUNION, ZINTER, ZDIFF, their STORE
 * forms and ZINTERCARD.  Inputs may be sorted sets or sets (a set member
 * scores 1).
 *
 * Every input's member records ('D' version member) are ordered by member,
 * so the union is a k-way merge of the inputs' iterators (O(k) memory);
 * the intersection and the difference walk one input (the smallest, or the
 * first for a difference) and probe the others with point reads.  A STORE
 * form streams its result into the destination as it is produced; the
 * reply forms collect the result, which the reply has to hold anyway, and
 * sort it by score.
 *
 * Floating-point sums depend on their order, so scores are combined in
 * Redis's order: inputs sorted by size (ties in argument order), the
 * weighted score of the first input holding a member first. */
#include "zset_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

struct zsrc {
    int argi;               /* argument index of the key */
    int pos;                /* position among the inputs, for stable sorting */
    int type;               /* T_ZSET, T_SET or T_NONE (missing) */
    uint64_t version;
    uint64_t count;
    double weight;
    store_iter *it;         /* union: this input's member records */
    int valid;
    const char *member;     /* current member (union), into it */
    size_t mlen;
    double score;
};

static void aggregate(double *target, double val, int agg)
{
    if (agg == AGG_SUM) {
        *target = *target + val;
        /* inf + -inf: Redis's convention is 0 */
        if (isnan(*target)) *target = 0.0;
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

static int zsrc_by_size(const void *a, const void *b)
{
    const struct zsrc *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    return x->pos - y->pos;
}

/* Result elements of the reply forms. */
struct zres {
    char *member;           /* owned */
    size_t mlen;
    double score;
};

static int zres_cmp(const void *a, const void *b)
{
    const struct zres *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    size_t n = x->mlen < y->mlen ? x->mlen : y->mlen;
    int c = n ? memcmp(x->member, y->member, n) : 0;
    if (c) return c;
    return x->mlen < y->mlen ? -1 : x->mlen > y->mlen;
}

/* Collects (reply forms), streams into a sink (STORE forms) or counts
 * (ZINTERCARD) the result elements. */
struct zout {
    int mode;               /* OUT_COLLECT, OUT_SINK, OUT_COUNT */
    struct zsink *sink;
    struct zres *res;
    size_t n, cap;
    long long card;
};
enum { OUT_COLLECT, OUT_SINK, OUT_COUNT };

static int zout_add(struct zout *o, const char *m, size_t ml, double score)
{
    if (o->mode == OUT_COUNT) {
        o->card++;
        return 0;
    }
    if (o->mode == OUT_SINK) return zsink_emit(o->sink, m, ml, score);
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->res = xrealloc(o->res, o->cap * sizeof *o->res);
    }
    o->res[o->n].member = xmemdup(m, ml);
    o->res[o->n].mlen = ml;
    o->res[o->n].score = score;
    o->n++;
    return 0;
}

/* Position a union input on its next member record (or mark it done). */
static void zsrc_load(struct zsrc *s)
{
    s->valid = 0;
    if (!store_iter_valid(s->it)) return;
    size_t kl, vl;
    const char *k = store_iter_key(s->it, &kl);
    if (kl < SUBKEY_PREFIX || k[0] != 'D' ||
        get_u64be((const unsigned char *)k + 1) != s->version)
        return;
    const char *v = store_iter_val(s->it, &vl);
    s->member = k + SUBKEY_PREFIX;
    s->mlen = kl - SUBKEY_PREFIX;
    s->score = s->type == T_SET ? 1.0 : zset_decode_score(v, vl);
    s->valid = 1;
}

static int member_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

static int zop_union(struct zsrc *src, int nsrc, int agg, struct zout *o)
{
    buf k, cur;
    int rc = 0;
    buf_init(&k);
    buf_init(&cur);
    for (int i = 0; i < nsrc; i++) {
        if (src[i].type == T_NONE || src[i].count == 0) continue;
        src[i].it = store_iter_new(srv.st);
        enc_data_prefix(&k, src[i].version);
        store_iter_seek(src[i].it, k.data, k.len);
        zsrc_load(&src[i]);
    }
    for (;;) {
        int low = -1;
        for (int i = 0; i < nsrc; i++)
            if (src[i].it && src[i].valid &&
                (low < 0 || member_cmp(src[i].member, src[i].mlen, src[low].member,
                                       src[low].mlen) < 0))
                low = i;
        if (low < 0) break;
        buf_clear(&cur);
        buf_append(&cur, src[low].member, src[low].mlen);
        double score = 0;
        int first = 1;
        for (int i = 0; i < nsrc; i++) {
            if (!src[i].it || !src[i].valid ||
                member_cmp(src[i].member, src[i].mlen, cur.data, cur.len) != 0)
                continue;
            double v = src[i].weight * src[i].score;
            if (isnan(v)) v = 0;
            if (first) score = v;
            else aggregate(&score, v, agg);
            first = 0;
            store_iter_next(src[i].it);
            zsrc_load(&src[i]);
        }
        if ((rc = zout_add(o, cur.data, cur.len, score)) < 0) break;
    }
    for (int i = 0; i < nsrc; i++) {
        store_iter_free(src[i].it);
        src[i].it = NULL;
    }
    buf_free(&k);
    buf_free(&cur);
    return rc;
}

/* Walk the member records of src[0]; for each, `probe` decides. */
static int zop_walk_first(struct zsrc *src, int nsrc, int op, int agg, long long limit,
                          struct zout *o)
{
    if (src[0].type == T_NONE || src[0].count == 0) return 0;
    buf k;
    int rc = 0;
    buf_init(&k);
    enc_data_prefix(&k, src[0].version);
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, k.data, k.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *key = store_iter_key(it, &kl);
        if (kl < SUBKEY_PREFIX || memcmp(key, k.data, SUBKEY_PREFIX) != 0) break;
        const char *v = store_iter_val(it, &vl);
        const char *m = key + SUBKEY_PREFIX;
        size_t ml = kl - SUBKEY_PREFIX;
        double s0 = src[0].type == T_SET ? 1.0 : zset_decode_score(v, vl);
        double score;
        int keep = 1;
        if (op == OP_INTER) {
            score = src[0].weight * s0;
            if (isnan(score)) score = 0;
        } else {
            score = s0;
        }
        for (int j = 1; j < nsrc && keep; j++) {
            if (op == OP_DIFF && (src[j].type == T_NONE || src[j].count == 0)) continue;
            double sj;
            int f = src[j].type == T_NONE ? 0 : zset_input_score(src[j].type, src[j].version,
                                                                 m, ml, &sj);
            if (f < 0) {
                rc = -1;
                goto out;
            }
            if (op == OP_INTER) {
                if (f == 0) keep = 0;
                else aggregate(&score, sj * src[j].weight, agg);
            } else if (f == 1) {
                keep = 0;
            }
        }
        if (!keep) continue;
        if ((rc = zout_add(o, m, ml, score)) < 0) break;
        if (o->mode == OUT_COUNT && limit && o->card >= limit) break;
    }
out:
    store_iter_free(it);
    buf_free(&k);
    return rc;
}

/* The shared body.  `dst_arg` is the destination's argument index (STORE
 * forms) or 0; `nk` the numkeys argument's index. */
static void zsetop_generic(client *c, int dst_arg, int nk, int op, int card_only)
{
    long long setnum;
    if (arg_ll(c, nk, &setnum) < 0) return;
    if (setnum < 1) {
        resp_add_errorf(&c->out, "ERR at least 1 input key is needed for '%s' command",
                        c->cmd->name);
        return;
    }
    if (setnum > c->argc - (nk + 1)) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    int n = (int)setnum;
    struct zsrc *src = xcalloc((size_t)n, sizeof *src);
    struct meta m;
    struct zout o;
    memset(&o, 0, sizeof o);
    meta_init(&m);
    int j = nk + 1;
    for (int i = 0; i < n; i++, j++) {
        int r = lookup_any(c, j, &m);
        if (r < 0) goto done;
        src[i].argi = j;
        src[i].pos = i;
        src[i].weight = 1.0;
        src[i].type = T_NONE;
        if (r == 1) {
            if (m.type != T_ZSET && m.type != T_SET) {
                resp_add_error(&c->out, resp_err_wrongtype);
                goto done;
            }
            src[i].type = m.type;
            src[i].version = m.version;
            src[i].count = m.count;
        }
    }
    int agg = AGG_SUM, withscores = 0;
    long long limit = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        if (op != OP_DIFF && !card_only && remaining >= n + 1 && ARG_IS(c, j, "weights")) {
            j++;
            for (int i = 0; i < n; i++, j++) {
                if (str2d(ARG(c, j), &src[i].weight) < 0) {
                    resp_add_error(&c->out, "ERR weight value is not a float");
                    goto done;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && ARG_IS(c, j, "aggregate")) {
            j++;
            if (ARG_IS(c, j, "sum")) agg = AGG_SUM;
            else if (ARG_IS(c, j, "min")) agg = AGG_MIN;
            else if (ARG_IS(c, j, "max")) agg = AGG_MAX;
            else {
                resp_add_error(&c->out, resp_err_syntax);
                goto done;
            }
            j++;
        } else if (!dst_arg && !card_only && ARG_IS(c, j, "withscores")) {
            j++;
            withscores = 1;
        } else if (card_only && remaining >= 2 && ARG_IS(c, j, "limit")) {
            j++;
            if (str2ll(ARG(c, j), &limit) < 0 || limit < 0) {
                resp_add_error(&c->out, "ERR LIMIT can't be negative");
                goto done;
            }
            j++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
    }
    if (op != OP_DIFF) qsort(src, (size_t)n, sizeof *src, zsrc_by_size);

    struct zsink sink;
    o.mode = card_only ? OUT_COUNT : dst_arg ? OUT_SINK : OUT_COLLECT;
    if (o.mode == OUT_SINK) {
        zsink_begin(&sink, c, dst_arg, 0);
        o.sink = &sink;
    }
    int rc = op == OP_UNION ? zop_union(src, n, agg, &o)
                            : zop_walk_first(src, n, op, agg, limit, &o);
    if (rc < 0) {
        if (o.mode == OUT_SINK) zsink_abort(&sink);
        reply_storage_error(c);
    } else if (o.mode == OUT_COUNT) {
        resp_add_int(&c->out, o.card);
    } else if (o.mode == OUT_SINK) {
        zsink_end(&sink);
    } else {
        if (o.n) qsort(o.res, o.n, sizeof *o.res, zres_cmp);
        resp_add_array(&c->out, (long long)(o.n * (withscores ? 2 : 1)));
        for (size_t i = 0; i < o.n; i++) {
            resp_add_bulk(&c->out, o.res[i].member, o.res[i].mlen);
            if (withscores) resp_add_bulk_double(&c->out, o.res[i].score);
        }
    }
done:
    for (size_t i = 0; i < o.n; i++) free(o.res[i].member);
    free(o.res);
    free(src);
    meta_free(&m);
}

static void zunion_command(client *c) { zsetop_generic(c, 0, 1, OP_UNION, 0); }
static void zinter_command(client *c) { zsetop_generic(c, 0, 1, OP_INTER, 0); }
static void zdiff_command(client *c) { zsetop_generic(c, 0, 1, OP_DIFF, 0); }
static void zintercard_command(client *c) { zsetop_generic(c, 0, 1, OP_INTER, 1); }
static void zunionstore_command(client *c) { zsetop_generic(c, 1, 2, OP_UNION, 0); }
static void zinterstore_command(client *c) { zsetop_generic(c, 1, 2, OP_INTER, 0); }
static void zdiffstore_command(client *c) { zsetop_generic(c, 1, 2, OP_DIFF, 0); }

void t_zset_ops_register(void)
{
    server_register(CMD_ZUNION, zunion_command);
    server_register(CMD_ZINTER, zinter_command);
    server_register(CMD_ZDIFF, zdiff_command);
    server_register(CMD_ZINTERCARD, zintercard_command);
    server_register(CMD_ZUNIONSTORE, zunionstore_command);
    server_register(CMD_ZINTERSTORE, zinterstore_command);
    server_register(CMD_ZDIFFSTORE, zdiffstore_command);
}
