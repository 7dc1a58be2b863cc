/* t_set: set commands (SADD ... SSCAN), including the set algebra.
 *
 * A set is a meta record plus one empty-valued LevelDB key per member:
 *
 *     'M' key                  -> T_SET | expire | version | count
 *     'D' version:8 member     -> ""
 *
 * Members of one set are therefore sorted bytewise in LevelDB, and the
 * algebra is done by walking the inputs side by side instead of loading
 * them:
 *
 *   SINTER   leapfrog join: the smallest input leads; every other input
 *            seeks to the leader's candidate, and a candidate missing from
 *            one input makes the leader seek past it.  Cost follows the
 *            smallest input, with skips, not the sum of the inputs.
 *   SUNION   k-way merge of the sorted inputs, equal members emitted once.
 *   SDIFF    walk the first input; the others seek forward to each member.
 *
 * Results come out in byte order (Redis's order follows its hash tables
 * and is unspecified).  The *STORE variants write the result into a fresh
 * version of the destination (db_new_collection) while the sources are
 * still being read: the old version's subkeys stay readable until the GC
 * runs after the command, so a destination that is also a source works. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "coll.h"
#include "util.h"

static const char ERR_POSITIVE[] = "ERR value is out of range, must be positive";
static const char ERR_COUNT_RANGE[] = "ERR value is out of range, value must between "
                                      "-9223372036854775807 and 9223372036854775807";

/* An integer argument in [min, max] where Redis answers one message for
 * both a non-number and a number out of range.  -1 after replying. */
static int arg_ll_msg(client *c, int i, long long min, long long max, long long *v,
                      const char *msg)
{
    if (str2ll(ARG(c, i), v) < 0 || *v < min || *v > max) {
        resp_add_error(&c->out, msg);
        return -1;
    }
    return 0;
}

/* Is `mem` in the set m?  1, 0, or -1 (storage error, replied).  k
 * receives the member's LevelDB key. */
static int set_has(client *c, const struct meta *m, const char *mem, size_t ml, buf *k, buf *tmp)
{
    enc_data_key(k, m->version, mem, ml);
    int r = store_get(srv.st, k->data, k->len, tmp);
    if (r < 0) reply_storage_error(c);
    return r;
}

/* Add a member; 1 added, 0 already there, -1 storage error (replied). */
static int set_add(client *c, struct meta *m, const char *mem, size_t ml, buf *k, buf *tmp)
{
    int r = set_has(c, m, mem, ml, k, tmp);
    if (r != 0) return r < 0 ? -1 : 0;
    store_put(srv.st, k->data, k->len, "", 0);
    m->count++;
    return 1;
}

/* Store the meta after writes, or delete the set if it became empty. */
static void set_finish(const char *key, size_t klen, struct meta *m)
{
    if (m->count == 0) db_delete(key, klen, m);
    else db_write_meta(key, klen, m, m->expire);
}

static void sadd_command(client *c)
{
    struct meta m;
    buf k, tmp;
    long long added = 0;
    meta_init(&m);
    buf_init(&k);
    buf_init(&tmp);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r < 0) goto done;
    if (r == 0) db_new_collection(ARG(c, 1), T_SET, &m);
    for (int j = 2; j < c->argc; j++) {
        int a = set_add(c, &m, ARG(c, j), &k, &tmp);
        if (a < 0) goto done;
        added += a;
    }
    /* Members that were all there already change nothing: no write, so a
     * WATCH on the key holds, as in Redis (which signals only additions). */
    if (added) set_finish(ARG(c, 1), &m);
    if (added) notify_keyspace_event(NOTIFY_SET, "sadd", ARG(c, 1));
    resp_add_int(&c->out, added);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&tmp);
}

static void srem_command(client *c)
{
    struct meta m;
    buf k, tmp;
    long long removed = 0;
    meta_init(&m);
    buf_init(&k);
    buf_init(&tmp);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r < 0) goto done;
    for (int j = 2; r == 1 && j < c->argc && m.count > 0; j++) {
        int h = set_has(c, &m, ARG(c, j), &k, &tmp);
        if (h < 0) goto done;
        if (h == 1) {
            store_del(srv.st, k.data, k.len);
            m.count--;
            removed++;
        }
    }
    if (removed) set_finish(ARG(c, 1), &m);
    if (removed) notify_keyspace_event(NOTIFY_SET, "srem", ARG(c, 1));
    if (removed && m.count == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    resp_add_int(&c->out, removed);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&tmp);
}

/* Reply every member of the set m (an array; a set in RESP3). */
static void set_reply_all(client *c, const struct meta *m)
{
    size_t mark = resp_defer_array(&c->out);
    long long n = 0;
    coll_iter ci;
    for (coll_iter_init(&ci, m->version); coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t ml;
        const char *mem = coll_iter_member(&ci, &ml);
        resp_add_bulk(&c->out, mem, ml);
        n++;
    }
    coll_iter_free(&ci);
    resp_set_deferred_set(&c->out, mark, c->resp, n);
}

static void smembers_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r == 1) set_reply_all(c, &m);
    else if (r == 0) resp_add_set(&c->out, c->resp, 0);
    meta_free(&m);
}

static void sismember_command(client *c)
{
    struct meta m;
    buf k, tmp;
    meta_init(&m);
    buf_init(&k);
    buf_init(&tmp);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r == 1) r = set_has(c, &m, ARG(c, 2), &k, &tmp);
    if (r >= 0) resp_add_int(&c->out, r);
    meta_free(&m);
    buf_free(&k);
    buf_free(&tmp);
}

static void smismember_command(client *c)
{
    struct meta m;
    buf k, tmp, out;
    meta_init(&m);
    buf_init(&k);
    buf_init(&tmp);
    buf_init(&out);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r < 0) goto done;
    resp_add_array(&out, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        int h = r == 1 ? set_has(c, &m, ARG(c, j), &k, &tmp) : 0;
        if (h < 0) goto done;
        resp_add_int(&out, h);
    }
    buf_append(&c->out, out.data, out.len);
done:
    meta_free(&m);
    buf_free(&k);
    buf_free(&tmp);
    buf_free(&out);
}

static void scard_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r >= 0) resp_add_int(&c->out, r == 1 ? (long long)m.count : 0);
    meta_free(&m);
}

/* ---------------- random members ---------------- */

/* Drawn members go into the reply; SPOP also keeps them to delete them
 * after the draw (the sampler's iterators must not see its own deletes). */
struct rand_ctx {
    client *c;
    buf *keep;          /* SPOP: mlen:size_t | member, back to back; or NULL */
};

static int srand_emit(void *ctx, const char *mem, size_t ml, const char *v, size_t vl)
{
    struct rand_ctx *rc = ctx;
    (void)v;
    (void)vl;
    resp_add_bulk(&rc->c->out, mem, ml);
    if (rc->keep) {
        buf_append(rc->keep, &ml, sizeof ml);
        buf_append(rc->keep, mem, ml);
    }
    /* A huge negative SRANDMEMBER count must not exhaust memory. */
    return client_close_if_over_limit(rc->c, rc->c->out.len);
}

static void spop_command(client *c)
{
    long long l = 1;
    int with_count = c->argc == 3;
    struct meta m;
    if (c->argc > 3) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (with_count && arg_ll_msg(c, 2, 0, LLONG_MAX, &l, ERR_POSITIVE) < 0) return;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r < 0) goto done;
    if (r == 0 || l == 0) {
        if (with_count) resp_add_set(&c->out, c->resp, 0);
        else resp_add_null(&c->out, c->resp);
        goto done;
    }
    if (with_count && (uint64_t)l >= m.count) {
        /* Everything goes: reply it, then drop the key in O(1). */
        set_reply_all(c, &m);
        db_delete(ARG(c, 1), &m);
        notify_keyspace_event(NOTIFY_SET, "spop", ARG(c, 1));
        notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
        goto done;
    }
    buf keep, k;
    buf_init(&keep);
    buf_init(&k);
    struct rand_ctx rc = {c, &keep};
    size_t mark = with_count ? resp_defer_array(&c->out) : 0;
    uint64_t got = coll_sample(m.version, m.count, (uint64_t)l, 1, srand_emit, &rc);
    if (with_count) resp_set_deferred_set(&c->out, mark, c->resp, (long long)got);
    else if (got == 0) resp_add_null(&c->out, c->resp); /* count said non-empty, data did not */
    for (size_t off = 0; off < keep.len;) {
        size_t ml;
        memcpy(&ml, keep.data + off, sizeof ml);
        off += sizeof ml;
        enc_data_key(&k, m.version, keep.data + off, ml);
        off += ml;
        store_del(srv.st, k.data, k.len);
        if (m.count) m.count--;
    }
    set_finish(ARG(c, 1), &m);
    if (got) notify_keyspace_event(NOTIFY_SET, "spop", ARG(c, 1));
    if (got && m.count == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    buf_free(&keep);
    buf_free(&k);
done:
    meta_free(&m);
}

static void srandmember_command(client *c)
{
    long long l = 0;
    struct meta m;
    if (c->argc > 3) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (c->argc == 3 && arg_ll_range(c, 2, -LLONG_MAX, LLONG_MAX, &l, ERR_COUNT_RANGE) < 0) return;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_SET);
    if (r < 0) goto done;
    struct rand_ctx rc = {c, NULL};
    if (c->argc == 2) {
        if (r == 0) resp_add_null(&c->out, c->resp);
        else if (coll_sample(m.version, m.count, 1, 1, srand_emit, &rc) == 0) resp_add_null(&c->out, c->resp);
        goto done;
    }
    if (r == 0 || l == 0) {
        resp_add_array(&c->out, 0);
        goto done;
    }
    int distinct = l > 0;
    uint64_t n = distinct ? (uint64_t)l : (uint64_t)-l;
    size_t mark = resp_defer_array(&c->out);
    uint64_t got = coll_sample(m.version, m.count, n, distinct, srand_emit, &rc);
    resp_set_deferred_array(&c->out, mark, (long long)got);
done:
    meta_free(&m);
}

static void smove_command(client *c)
{
    struct meta sm, dm;
    buf k, tmp;
    meta_init(&sm);
    meta_init(&dm);
    buf_init(&k);
    buf_init(&tmp);
    int rs = lookup_any(c, 1, &sm);
    if (rs < 0) goto done;
    int rd = lookup_any(c, 2, &dm);
    if (rd < 0) goto done;
    if (rs == 0) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    if (sm.type != T_SET || (rd == 1 && dm.type != T_SET)) {
        resp_add_error(&c->out, resp_err_wrongtype);
        goto done;
    }
    int h = set_has(c, &sm, ARG(c, 3), &k, &tmp);
    if (h < 0) goto done;
    int same = c->argvlen[1] == c->argvlen[2] && memcmp(c->argv[1], c->argv[2], c->argvlen[1]) == 0;
    if (h == 0 || same) {
        resp_add_int(&c->out, h);
        goto done;
    }
    store_del(srv.st, k.data, k.len);
    sm.count--;
    set_finish(ARG(c, 1), &sm);
    notify_keyspace_event(NOTIFY_SET, "srem", ARG(c, 1));
    if (sm.count == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    if (rd == 0) db_new_collection(ARG(c, 2), T_SET, &dm);
    uint64_t dcount = dm.count;
    if (set_add(c, &dm, ARG(c, 3), &k, &tmp) < 0) goto done;
    set_finish(ARG(c, 2), &dm);
    if (dm.count != dcount) notify_keyspace_event(NOTIFY_SET, "sadd", ARG(c, 2));
    resp_add_int(&c->out, 1);
done:
    meta_free(&sm);
    meta_free(&dm);
    buf_free(&k);
    buf_free(&tmp);
}

/* ---------------- set algebra ---------------- */

/* Receives each member of a result, in byte order, once.  Non-zero stops
 * the operation (SINTERCARD's LIMIT). */
typedef int set_emit_fn(void *ctx, const char *mem, size_t ml);

/* The inputs of an algebra command: keys argv[first .. first+n). */
struct set_inputs {
    int n;
    struct meta *m;
    int *live;          /* 1 if the key holds a non-empty set */
};

/* Look every input up (all of them, as Redis checks every type before
 * computing).  0, or -1 after replying WRONGTYPE or a storage error. */
static int inputs_load(client *c, int first, int n, struct set_inputs *in)
{
    in->n = n;
    in->m = xcalloc((size_t)n, sizeof *in->m);
    in->live = xcalloc((size_t)n, sizeof *in->live);
    for (int j = 0; j < n; j++) meta_init(&in->m[j]);
    for (int j = 0; j < n; j++) {
        int r = lookup_typed(c, first + j, &in->m[j], T_SET);
        if (r < 0) return -1;
        in->live[j] = r == 1 && in->m[j].count > 0;
    }
    return 0;
}

static void inputs_free(struct set_inputs *in)
{
    for (int j = 0; j < in->n; j++) meta_free(&in->m[j]);
    free(in->m);
    free(in->live);
}

static struct set_inputs *sort_inputs; /* qsort has no context argument */

static int by_count(const void *a, const void *b)
{
    uint64_t ca = sort_inputs->m[*(const int *)a].count;
    uint64_t cb = sort_inputs->m[*(const int *)b].count;
    return ca < cb ? -1 : ca > cb;
}

static void set_inter(struct set_inputs *in, set_emit_fn *fn, void *ctx)
{
    int n = in->n;
    for (int j = 0; j < n; j++)
        if (!in->live[j]) return; /* an empty input empties the result */
    int *ord = xmalloc((size_t)n * sizeof *ord);
    for (int j = 0; j < n; j++) ord[j] = j;
    sort_inputs = in;
    qsort(ord, (size_t)n, sizeof *ord, by_count);
    coll_iter *its = xcalloc((size_t)n, sizeof *its);
    for (int j = 0; j < n; j++) coll_iter_init(&its[j], in->m[ord[j]].version);
    buf cand;
    buf_init(&cand);
    coll_iter *lead = &its[0];
    while (coll_iter_valid(lead)) {
        size_t cl;
        const char *cm = coll_iter_member(lead, &cl);
        buf_clear(&cand);
        buf_append(&cand, cm, cl);
        int match = 1;
        for (int j = 1; j < n; j++) {
            coll_iter *o = &its[j];
            if (coll_iter_valid(o) && coll_iter_cmp(o, cand.data, cand.len) < 0)
                coll_iter_seek(o, cand.data, cand.len);
            if (!coll_iter_valid(o)) goto out; /* an input is exhausted */
            if (coll_iter_cmp(o, cand.data, cand.len) > 0) {
                /* Missing from input j: the leader jumps to j's member. */
                size_t ol;
                const char *om = coll_iter_member(o, &ol);
                coll_iter_seek(lead, om, ol);
                match = 0;
                break;
            }
        }
        if (match) {
            if (fn(ctx, cand.data, cand.len)) break;
            coll_iter_next(lead);
        }
    }
out:
    for (int j = 0; j < n; j++) coll_iter_free(&its[j]);
    free(its);
    free(ord);
    buf_free(&cand);
}

static void set_union(struct set_inputs *in, set_emit_fn *fn, void *ctx)
{
    int n = in->n;
    coll_iter *its = xcalloc((size_t)n, sizeof *its);
    for (int j = 0; j < n; j++)
        if (in->live[j]) coll_iter_init(&its[j], in->m[j].version);
    buf cand;
    buf_init(&cand);
    for (;;) {
        int min = -1;
        for (int j = 0; j < n; j++) {
            if (!in->live[j] || !coll_iter_valid(&its[j])) continue;
            if (min < 0) {
                min = j;
                continue;
            }
            size_t ml;
            const char *mm = coll_iter_member(&its[min], &ml);
            if (coll_iter_cmp(&its[j], mm, ml) < 0) min = j;
        }
        if (min < 0) break;
        size_t cl;
        const char *cm = coll_iter_member(&its[min], &cl);
        buf_clear(&cand);
        buf_append(&cand, cm, cl);
        for (int j = 0; j < n; j++)
            if (in->live[j] && coll_iter_valid(&its[j]) &&
                coll_iter_cmp(&its[j], cand.data, cand.len) == 0)
                coll_iter_next(&its[j]);
        if (fn(ctx, cand.data, cand.len)) break;
    }
    for (int j = 0; j < n; j++)
        if (in->live[j]) coll_iter_free(&its[j]);
    free(its);
    buf_free(&cand);
}

static void set_diff(struct set_inputs *in, set_emit_fn *fn, void *ctx)
{
    int n = in->n;
    if (!in->live[0]) return;
    coll_iter *its = xcalloc((size_t)n, sizeof *its);
    for (int j = 0; j < n; j++)
        if (in->live[j]) coll_iter_init(&its[j], in->m[j].version);
    buf cand;
    buf_init(&cand);
    for (; coll_iter_valid(&its[0]); coll_iter_next(&its[0])) {
        size_t cl;
        const char *cm = coll_iter_member(&its[0], &cl);
        buf_clear(&cand);
        buf_append(&cand, cm, cl);
        int found = 0;
        for (int j = 1; j < n && !found; j++) {
            coll_iter *o = &its[j];
            if (!in->live[j] || !coll_iter_valid(o)) continue;
            if (coll_iter_cmp(o, cand.data, cand.len) < 0) coll_iter_seek(o, cand.data, cand.len);
            found = coll_iter_valid(o) && coll_iter_cmp(o, cand.data, cand.len) == 0;
        }
        if (!found && fn(ctx, cand.data, cand.len)) break;
    }
    for (int j = 0; j < n; j++)
        if (in->live[j]) coll_iter_free(&its[j]);
    free(its);
    buf_free(&cand);
}

enum setop { OP_INTER, OP_UNION, OP_DIFF };

static void set_compute(enum setop op, struct set_inputs *in, set_emit_fn *fn, void *ctx)
{
    if (op == OP_INTER) set_inter(in, fn, ctx);
    else if (op == OP_UNION) set_union(in, fn, ctx);
    else set_diff(in, fn, ctx);
}

/* Emitters: into the reply, into a destination set, or just counted. */
struct emit_reply {
    client *c;
    long long n;
};

static int emit_to_reply(void *ctx, const char *mem, size_t ml)
{
    struct emit_reply *er = ctx;
    resp_add_bulk(&er->c->out, mem, ml);
    er->n++;
    return 0;
}

struct emit_store {
    const char *key;
    size_t klen;
    struct meta *m;     /* the destination: recreated at the first member */
    int created;
    buf k;
};

static int emit_to_store(void *ctx, const char *mem, size_t ml)
{
    struct emit_store *es = ctx;
    if (!es->created) {
        db_new_collection(es->key, es->klen, T_SET, es->m);
        es->created = 1;
    }
    enc_data_key(&es->k, es->m->version, mem, ml);
    store_put(srv.st, es->k.data, es->k.len, "", 0);
    es->m->count++;
    return 0;
}

struct emit_count {
    long long n, limit;
};

static int emit_count(void *ctx, const char *mem, size_t ml)
{
    struct emit_count *ec = ctx;
    (void)mem;
    (void)ml;
    ec->n++;
    return ec->limit && ec->n >= ec->limit;
}

static void setop_generic(client *c, enum setop op)
{
    struct set_inputs in;
    int r = inputs_load(c, 1, c->argc - 1, &in);
    if (r == 0) {
        struct emit_reply er = {c, 0};
        size_t mark = resp_defer_array(&c->out);
        set_compute(op, &in, emit_to_reply, &er);
        resp_set_deferred_set(&c->out, mark, c->resp, er.n);
    }
    inputs_free(&in);
}

static void setop_store_generic(client *c, enum setop op)
{
    struct set_inputs in;
    struct meta dm;
    meta_init(&dm);
    int r = inputs_load(c, 2, c->argc - 2, &in);
    if (r == 0 && lookup_any(c, 1, &dm) >= 0) {
        struct emit_store es = {c->argv[1], c->argvlen[1], &dm, 0, {0}};
        buf_init(&es.k);
        set_compute(op, &in, emit_to_store, &es);
        if (es.created) db_write_meta(ARG(c, 1), &dm, 0);
        else db_delete(ARG(c, 1), &dm); /* empty result: the destination goes */
        if (es.created)
            notify_keyspace_event(NOTIFY_SET, op == OP_INTER ? "sinterstore" : op == OP_UNION ? "sunionstore"
                                                                                    : "sdiffstore", ARG(c, 1));
        else if (dm.type != T_NONE) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
        resp_add_int(&c->out, es.created ? (long long)dm.count : 0);
        buf_free(&es.k);
    }
    inputs_free(&in);
    meta_free(&dm);
}

static void sinter_command(client *c) { setop_generic(c, OP_INTER); }
static void sunion_command(client *c) { setop_generic(c, OP_UNION); }
static void sdiff_command(client *c) { setop_generic(c, OP_DIFF); }
static void sinterstore_command(client *c) { setop_store_generic(c, OP_INTER); }
static void sunionstore_command(client *c) { setop_store_generic(c, OP_UNION); }
static void sdiffstore_command(client *c) { setop_store_generic(c, OP_DIFF); }

static void sintercard_command(client *c)
{
    long long numkeys, limit = 0;
    if (arg_ll_msg(c, 1, 1, LLONG_MAX, &numkeys, "ERR numkeys should be greater than 0") < 0)
        return;
    if (numkeys > c->argc - 2) {
        resp_add_error(&c->out, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        if (ARG_IS(c, j, "limit") && j + 1 < c->argc) {
            j++;
            if (arg_ll_msg(c, j, 0, LLONG_MAX, &limit, "ERR LIMIT can't be negative") < 0) return;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    struct set_inputs in;
    if (inputs_load(c, 2, (int)numkeys, &in) == 0) {
        struct emit_count ec = {0, limit};
        set_inter(&in, emit_count, &ec);
        resp_add_int(&c->out, ec.n);
    }
    inputs_free(&in);
}

static void sscan_command(client *c) { coll_scan(c, T_SET, NULL); }

void t_set_register(void)
{
    server_register(CMD_SADD, sadd_command);
    server_register(CMD_SREM, srem_command);
    server_register(CMD_SMEMBERS, smembers_command);
    server_register(CMD_SISMEMBER, sismember_command);
    server_register(CMD_SMISMEMBER, smismember_command);
    server_register(CMD_SCARD, scard_command);
    server_register(CMD_SPOP, spop_command);
    server_register(CMD_SRANDMEMBER, srandmember_command);
    server_register(CMD_SMOVE, smove_command);
    server_register(CMD_SINTER, sinter_command);
    server_register(CMD_SINTERCARD, sintercard_command);
    server_register(CMD_SUNION, sunion_command);
    server_register(CMD_SDIFF, sdiff_command);
    server_register(CMD_SINTERSTORE, sinterstore_command);
    server_register(CMD_SUNIONSTORE, sunionstore_command);
    server_register(CMD_SDIFFSTORE, sdiffstore_command);
    server_register(CMD_SSCAN, sscan_command);
}
