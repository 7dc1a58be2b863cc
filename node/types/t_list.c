/* t_list: list commands (pushes and pops, ranges, indexes, LINSERT, LREM,
 * LPOS, moves between lists) and the blocking pops (BLPOP, BRPOP, BLMOVE,
 * BRPOPLPUSH, BLMPOP) on top of blocking.c.
 *
 * Encoding (db.h): the meta record holds head and tail indexes; the
 * elements occupy the contiguous index range [head, tail):
 *
 *   'M' key   -> T_LIST | expire:8 | version:8 | count:8 | head:8 | tail:8
 *   'D' version:8 index:8   -> element          (index big-endian)
 *
 * A new list starts at head = tail = LIST_INITIAL_INDEX (2^63), so pushes
 * on either side never run out of room in practice.  Because the range is
 * contiguous, element i is the key at head+i: LINDEX is one read and
 * LRANGE one seek plus a walk of the requested elements.  Operations in
 * the middle (LINSERT, LREM) shift the elements of the shorter side by
 * one write each, walking with an iterator rather than loading the list;
 * LTRIM deletes what it trims, or copies what it keeps into a fresh
 * version when that is less work (the old version goes to the GC). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "cmd.h"
#include "notify.h"
#include "log.h"
#include "multi.h"
#include "store.h"
#include "util.h"

enum { LIST_HEAD = 0, LIST_TAIL = 1 };

/* ---------------- element access ---------------- */

/* An element's key, 'D' version:8 index:8 (db.h's data key with the
 * index as its member), built on the stack: every list command makes one
 * or more, and a heap buffer for 17 bytes cost more than the encoding. */
#define ELEM_KEY_LEN (SUBKEY_PREFIX + 8)

static void elem_key(unsigned char k[ELEM_KEY_LEN], uint64_t version, uint64_t index)
{
    k[0] = 'D';
    put_u64be(k + 1, version);
    put_u64be(k + SUBKEY_PREFIX, index);
}

/* 1 if the iterator sits on an element of the list with this version. */
static int elem_valid(store_iter *it, uint64_t version)
{
    if (!store_iter_valid(it)) return 0;
    size_t kl;
    const unsigned char *k = (const unsigned char *)store_iter_key(it, &kl);
    return kl == SUBKEY_PREFIX + 8 && k[0] == 'D' && get_u64be(k + 1) == version;
}

/* A new iterator on element i (0-based from the head), walking forward.
 * Caller frees it. */
static store_iter *list_seek(const struct meta *m, uint64_t i)
{
    unsigned char k[ELEM_KEY_LEN];
    elem_key(k, m->version, m->head + i);
    store_iter *it = store_iter_new(srv.st);
    store_iter_seek(it, (const char *)k, sizeof k);
    return it;
}

/* A new iterator on element i, walking backward (towards the head). */
static store_iter *list_seek_rev(const struct meta *m, uint64_t i)
{
    unsigned char k[ELEM_KEY_LEN];
    elem_key(k, m->version, m->head + i + 1);
    store_iter *it = store_iter_new(srv.st);
    store_iter_seek_last_before(it, (const char *)k, sizeof k);
    return it;
}

static void list_corrupt(const char *key, size_t klen)
{
    log_error("list of a %zu-byte key: elements missing between head and tail", klen);
    (void)key;
}

static void elem_put(const struct meta *m, uint64_t index, const char *v, size_t vl)
{
    unsigned char k[ELEM_KEY_LEN];
    elem_key(k, m->version, index);
    store_put(srv.st, (const char *)k, sizeof k, v, vl);
}

static void elem_del(const struct meta *m, uint64_t index)
{
    unsigned char k[ELEM_KEY_LEN];
    elem_key(k, m->version, index);
    store_del(srv.st, (const char *)k, sizeof k);
}

/* Push one element at an end of m (meta updated in memory only). */
static void list_push_one(struct meta *m, int where, const char *v, size_t vl)
{
    if (where == LIST_HEAD) elem_put(m, --m->head, v, vl);
    else elem_put(m, m->tail++, v, vl);
    m->count++;
}

/* Pop one element from an end of a non-empty m into val (meta updated in
 * memory only).  Returns 0, or -1 on a storage error or a missing element
 * (logged). */
static int list_pop_one(struct meta *m, int where, buf *val)
{
    uint64_t idx = where == LIST_HEAD ? m->head : m->tail - 1;
    unsigned char k[ELEM_KEY_LEN];
    elem_key(k, m->version, idx);
    int r = store_get(srv.st, (const char *)k, sizeof k, val);
    if (r == 1) store_del(srv.st, (const char *)k, sizeof k);
    if (r != 1) return -1;
    if (where == LIST_HEAD) m->head++;
    else m->tail--;
    m->count--;
    return 0;
}

/* Persist m after a change: rewrite its meta, or delete the key when it
 * became empty (its elements are already gone). */
/* Redis's listElementsRemoved: the pop's event, then "del" if the pop
 * emptied (and so deleted) the list. */
static void list_popped(const char *key, size_t klen, int where, int emptied)
{
    notify_keyspace_event(NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", key, klen);
    if (emptied) notify_keyspace_event(NOTIFY_GENERIC, "del", key, klen);
}

static void list_save(const char *key, size_t klen, const struct meta *m)
{
    if (m->count == 0) db_delete(key, klen, m);
    else db_write_meta(key, klen, m, m->expire);
}

/* Normalise a Redis index (negative counts from the end) into [0, len);
 * -1 when out of range. */
static long long list_index(long long i, uint64_t len)
{
    if (i < 0) i += (long long)len;
    if (i < 0 || (uint64_t)i >= len) return -1;
    return i;
}

static int parse_where(client *c, int i, int *where)
{
    if (ARG_IS(c, i, "left")) *where = LIST_HEAD;
    else if (ARG_IS(c, i, "right")) *where = LIST_TAIL;
    else {
        resp_add_error(&c->out, resp_err_syntax);
        return -1;
    }
    return 0;
}

/* Pop up to n elements from one end of a live list and reply them as an
 * array (Redis's order: as popped).  When every element goes, the whole
 * collection is deleted in O(1) and the GC reclaims the elements.
 * Returns 0, or -1 (logged, nothing replied) when elements are missing. */
static int list_pop_reply(client *c, const char *key, size_t klen, struct meta *m, int where,
                          uint64_t n)
{
    if (n > m->count) n = m->count;
    if (n == 0) {
        resp_add_array(&c->out, 0);
        return 0;
    }
    int all = n == m->count;
    size_t before = c->out.len;
    store_iter *it = where == LIST_HEAD ? list_seek(m, 0) : list_seek_rev(m, m->count - 1);
    resp_add_array(&c->out, (long long)n);
    for (uint64_t i = 0; i < n; i++) {
        if (!elem_valid(it, m->version)) {
            store_iter_free(it);
            list_corrupt(key, klen);
            c->out.len = before;
            return -1;
        }
        size_t vl, kl;
        const char *v = store_iter_val(it, &vl);
        resp_add_bulk(&c->out, v, vl);
        if (!all) {
            const char *k = store_iter_key(it, &kl);
            buf kc;
            buf_init(&kc);
            buf_append(&kc, k, kl);
            store_del(srv.st, kc.data, kc.len);
            buf_free(&kc);
        }
        if (where == LIST_HEAD) store_iter_next(it);
        else store_iter_prev(it);
    }
    store_iter_free(it);
    if (all) {
        db_delete(key, klen, m);
        list_popped(key, klen, where, 1);
        return 0;
    }
    if (where == LIST_HEAD) m->head += n;
    else m->tail -= n;
    m->count -= n;
    db_write_meta(key, klen, m, m->expire);
    list_popped(key, klen, where, 0);
    return 0;
}

/* ---------------- pushes ---------------- */

static void push_generic(client *c, int where, int only_existing)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        if (only_existing) {
            resp_add_int(&c->out, 0);
            goto done;
        }
        db_new_collection(ARG(c, 1), T_LIST, &m);
    }
    for (int i = 2; i < c->argc; i++) list_push_one(&m, where, ARG(c, i));
    db_write_meta(ARG(c, 1), &m, m.expire);
    notify_keyspace_event(NOTIFY_LIST, where == LIST_HEAD ? "lpush" : "rpush", ARG(c, 1));
    resp_add_int(&c->out, (long long)m.count);
done:
    meta_free(&m);
}

static void lpush_command(client *c) { push_generic(c, LIST_HEAD, 0); }
static void rpush_command(client *c) { push_generic(c, LIST_TAIL, 0); }
static void lpushx_command(client *c) { push_generic(c, LIST_HEAD, 1); }
static void rpushx_command(client *c) { push_generic(c, LIST_TAIL, 1); }

/* ---------------- pops ---------------- */

static void pop_generic(client *c, int where)
{
    long long count = 0;
    int hascount = c->argc == 3;
    if (c->argc > 3) {
        resp_add_arity_error(&c->out, c->cmd->name);
        return;
    }
    if (hascount && (str2ll(ARG(c, 2), &count) < 0 || count < 0)) {
        resp_add_error(&c->out, "ERR value is out of range, must be positive");
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        if (hascount) resp_add_null_array(&c->out, c->resp);
        else resp_add_null(&c->out, c->resp);
        goto done;
    }
    if (!hascount) {
        buf v;
        buf_init(&v);
        if (list_pop_one(&m, where, &v) < 0) {
            list_corrupt(ARG(c, 1));
            reply_storage_error(c);
        } else {
            list_save(ARG(c, 1), &m);
            list_popped(ARG(c, 1), where, m.count == 0);
            resp_add_bulk(&c->out, v.data, v.len);
        }
        buf_free(&v);
        goto done;
    }
    if (list_pop_reply(c, ARG(c, 1), &m, where, (uint64_t)count) < 0) reply_storage_error(c);
done:
    meta_free(&m);
}

static void lpop_command(client *c) { pop_generic(c, LIST_HEAD); }
static void rpop_command(client *c) { pop_generic(c, LIST_TAIL); }

/* ---------------- reads ---------------- */

static void llen_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r >= 0) resp_add_int(&c->out, r ? (long long)m.count : 0);
    meta_free(&m);
}

static void lindex_command(client *c)
{
    struct meta m;
    long long idx;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
        goto done;
    }
    if (arg_ll(c, 2, &idx) < 0) goto done;
    idx = list_index(idx, m.count);
    if (idx < 0) {
        resp_add_null(&c->out, c->resp);
        goto done;
    }
    unsigned char k[ELEM_KEY_LEN];
    buf v;
    buf_init(&v);
    elem_key(k, m.version, m.head + (uint64_t)idx);
    int g = store_get(srv.st, (const char *)k, sizeof k, &v);
    if (g == 1) resp_add_bulk(&c->out, v.data, v.len);
    else reply_storage_error(c);
    buf_free(&v);
done:
    meta_free(&m);
}

/* Redis's start/stop normalisation for LRANGE and LTRIM: sets *from and
 * *n (elements kept), *n = 0 for an empty range. */
static void list_range(long long start, long long end, uint64_t len, uint64_t *from, uint64_t *n)
{
    long long llen = (long long)len;
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        *from = 0;
        *n = 0;
        return;
    }
    if (end >= llen) end = llen - 1;
    *from = (uint64_t)start;
    *n = (uint64_t)(end - start + 1);
}

static void lrange_command(client *c)
{
    long long start, end;
    if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_array(&c->out, 0);
        goto done;
    }
    uint64_t from, n;
    list_range(start, end, m.count, &from, &n);
    if (n == 0) {
        resp_add_array(&c->out, 0);
        goto done;
    }
    size_t out_before = c->out.len;
    store_iter *it = list_seek(&m, from);
    resp_add_array(&c->out, (long long)n);
    /* Checking an element is one comparison of the iterator's key with
     * the key it must have, nothing decoded or copied; values go straight
     * into the reply. */
    unsigned char want[ELEM_KEY_LEN];
    for (uint64_t i = 0; i < n; i++) {
        size_t kl = 0, vl;
        if (i > 0) store_iter_next(it);
        elem_key(want, m.version, m.head + from + i);
        const char *k = store_iter_valid(it) ? store_iter_key(it, &kl) : NULL;
        if (!k || kl != sizeof want || memcmp(k, want, sizeof want) != 0) {
            list_corrupt(ARG(c, 1));
            c->out.len = out_before;
            reply_storage_error(c);
            break;
        }
        const char *v = store_iter_val(it, &vl);
        resp_add_bulk(&c->out, v, vl);
    }
    store_iter_free(it);
done:
    meta_free(&m);
}

/* ---------------- in-place and middle updates ---------------- */

static void lset_command(client *c)
{
    long long idx;
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_error(&c->out, resp_err_nokey);
        goto done;
    }
    if (arg_ll(c, 2, &idx) < 0) goto done;
    idx = list_index(idx, m.count);
    if (idx < 0) {
        resp_add_error(&c->out, resp_err_outofrange);
        goto done;
    }
    elem_put(&m, m.head + (uint64_t)idx, ARG(c, 3));
    notify_keyspace_event(NOTIFY_LIST, "lset", ARG(c, 1));
    resp_add_ok(&c->out);
done:
    meta_free(&m);
}

/* Copy n elements starting at element `from` of m into a fresh version
 * and make it the list (LTRIM keeping few of many).  Returns 0 or -1. */
static int list_rebuild(const char *key, size_t klen, struct meta *m, uint64_t from, uint64_t n)
{
    struct meta fresh;
    meta_init(&fresh);
    uint64_t expire = m->expire;
    store_iter *it = list_seek(m, from);
    int rc = 0;
    /* The new version is greater than every existing one, so its keys sort
     * after the old list's and the walk never meets them. */
    fresh.version = server_new_version();
    fresh.type = T_LIST;
    fresh.head = fresh.tail = LIST_INITIAL_INDEX;
    for (uint64_t i = 0; i < n; i++, store_iter_next(it)) {
        if (!elem_valid(it, m->version)) {
            rc = -1;
            break;
        }
        size_t vl;
        const char *v = store_iter_val(it, &vl);
        list_push_one(&fresh, LIST_TAIL, v, vl);
    }
    store_iter_free(it);
    if (rc == 0) {
        /* Retire the old version (expire index and GC), then write the new
         * meta with the same expire. */
        uint64_t version = fresh.version;
        db_new_collection(key, klen, T_LIST, m);
        m->version = version;
        m->head = fresh.head;
        m->tail = fresh.tail;
        m->count = fresh.count;
        m->expire = expire;
        db_write_meta(key, klen, m, 0);
    }
    meta_free(&fresh);
    return rc;
}

static void ltrim_command(client *c)
{
    long long start, end;
    if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_ok(&c->out);
        goto done;
    }
    uint64_t from, n;
    list_range(start, end, m.count, &from, &n);
    if (n == 0) {
        db_delete(ARG(c, 1), &m);
    } else if (n == m.count) {
        /* Nothing to trim, but Redis signals the key all the same: a
         * WATCH on it fails. */
        multi_touch_key(ARG(c, 1));
    } else if (n < m.count - n) {
        if (list_rebuild(ARG(c, 1), &m, from, n) < 0) {
            list_corrupt(ARG(c, 1));
            reply_storage_error(c);
            goto done;
        }
    } else {
        uint64_t rtrim = m.count - from - n;
        for (uint64_t i = 0; i < from; i++) elem_del(&m, m.head + i);
        for (uint64_t i = 0; i < rtrim; i++) elem_del(&m, m.tail - 1 - i);
        m.head += from;
        m.tail -= rtrim;
        m.count = n;
        db_write_meta(ARG(c, 1), &m, m.expire);
    }
    notify_keyspace_event(NOTIFY_LIST, "ltrim", ARG(c, 1));
    if (n == 0) notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
    resp_add_ok(&c->out);
done:
    meta_free(&m);
}

static int elem_eq(store_iter *it, const char *e, size_t el)
{
    size_t vl;
    const char *v = store_iter_val(it, &vl);
    return vl == el && memcmp(v, e, el) == 0;
}

/* Move the current element of `it` to index `to` (a position the walk has
 * already left behind). */
static void elem_move_to(const struct meta *m, store_iter *it, uint64_t to)
{
    size_t vl;
    const char *v = store_iter_val(it, &vl);
    buf copy;
    buf_init(&copy);
    buf_append(&copy, v, vl);
    elem_put(m, to, copy.data, copy.len);
    buf_free(&copy);
}

static void lrem_command(client *c)
{
    long long count;
    if (arg_ll(c, 2, &count) < 0) return;
    const char *e = c->argv[3];
    size_t el = c->argvlen[3];
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    /* Pass 1: walk from the end Redis starts at, up to |count| matches;
     * the removed elements are then exactly the matches within [lo, hi]. */
    uint64_t limit = count == 0 ? UINT64_MAX : count > 0 ? (uint64_t)count : (uint64_t)0 - (uint64_t)count;
    uint64_t k = 0, lo = 0, hi = 0;
    int rev = count < 0;
    store_iter *it = rev ? list_seek_rev(&m, m.count - 1) : list_seek(&m, 0);
    for (uint64_t i = 0; i < m.count && k < limit; i++) {
        if (!elem_valid(it, m.version)) break;
        if (elem_eq(it, e, el)) {
            uint64_t pos = rev ? m.count - 1 - i : i;
            if (k == 0) lo = hi = pos;
            if (pos < lo) lo = pos;
            if (pos > hi) hi = pos;
            k++;
        }
        if (rev) store_iter_prev(it);
        else store_iter_next(it);
    }
    store_iter_free(it);
    if (k == 0) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    if (k == m.count) {
        db_delete(ARG(c, 1), &m);
        notify_keyspace_event(NOTIFY_LIST, "lrem", ARG(c, 1));
        notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 1));
        resp_add_int(&c->out, (long long)k);
        goto done;
    }
    /* Pass 2: close the gaps by shifting the shorter side: the elements
     * before hi towards the tail, or those after lo towards the head. */
    uint64_t shifted = 0;
    if (hi + 1 <= m.count - lo) {
        it = list_seek_rev(&m, hi);
        for (uint64_t i = hi + 1; i-- > 0;) {
            if (!elem_valid(it, m.version)) break;
            if (i >= lo && elem_eq(it, e, el)) shifted++;
            else if (shifted) elem_move_to(&m, it, m.head + i + shifted);
            store_iter_prev(it);
        }
        store_iter_free(it);
        for (uint64_t i = 0; i < k; i++) elem_del(&m, m.head + i);
        m.head += k;
    } else {
        it = list_seek(&m, lo);
        for (uint64_t i = lo; i < m.count; i++) {
            if (!elem_valid(it, m.version)) break;
            if (i <= hi && elem_eq(it, e, el)) shifted++;
            else if (shifted) elem_move_to(&m, it, m.head + i - shifted);
            store_iter_next(it);
        }
        store_iter_free(it);
        for (uint64_t i = 0; i < k; i++) elem_del(&m, m.tail - 1 - i);
        m.tail -= k;
    }
    if (shifted != k) {
        list_corrupt(ARG(c, 1));
        reply_storage_error(c);
        goto done;
    }
    m.count -= k;
    db_write_meta(ARG(c, 1), &m, m.expire);
    notify_keyspace_event(NOTIFY_LIST, "lrem", ARG(c, 1));
    resp_add_int(&c->out, (long long)k);
done:
    meta_free(&m);
}

static void linsert_command(client *c)
{
    int after;
    if (ARG_IS(c, 2, "after")) after = 1;
    else if (ARG_IS(c, 2, "before")) after = 0;
    else {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    /* Find the pivot from the head. */
    store_iter *it = list_seek(&m, 0);
    uint64_t p = 0;
    int found = 0;
    for (; p < m.count && elem_valid(it, m.version); p++, store_iter_next(it)) {
        if (elem_eq(it, ARG(c, 3))) {
            found = 1;
            break;
        }
    }
    store_iter_free(it);
    if (!found) {
        resp_add_int(&c->out, -1);
        goto done;
    }
    /* The new element becomes element q; shift the shorter side by one. */
    uint64_t q = p + (uint64_t)after;
    if (q <= m.count - q) {
        /* elements [0, q) move one step towards the head */
        it = list_seek(&m, 0);
        for (uint64_t i = 0; i < q; i++, store_iter_next(it)) {
            if (!elem_valid(it, m.version)) break;
            elem_move_to(&m, it, m.head + i - 1);
        }
        store_iter_free(it);
        m.head--;
    } else {
        /* elements [q, count) move one step towards the tail */
        it = list_seek_rev(&m, m.count - 1);
        for (uint64_t i = m.count; i-- > q; store_iter_prev(it)) {
            if (!elem_valid(it, m.version)) break;
            elem_move_to(&m, it, m.head + i + 1);
        }
        store_iter_free(it);
        m.tail++;
    }
    elem_put(&m, m.head + q, ARG(c, 4));
    m.count++;
    db_write_meta(ARG(c, 1), &m, m.expire);
    notify_keyspace_event(NOTIFY_LIST, "linsert", ARG(c, 1));
    resp_add_int(&c->out, (long long)m.count);
done:
    meta_free(&m);
}

static void lpos_command(client *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = j + 1 < c->argc;
        if (ARG_IS(c, j, "rank") && more) {
            if (arg_ll(c, ++j, &rank) < 0) return;
            if (rank == 0) {
                resp_add_error(&c->out, "ERR RANK can't be zero: use 1 to start from the first "
                                        "match, 2 from the second ... or use negative to start "
                                        "from the end of the list");
                return;
            }
        } else if (ARG_IS(c, j, "count") && more) {
            j++;
            if (str2ll(ARG(c, j), &count) < 0 || count < 0) {
                resp_add_error(&c->out, "ERR COUNT can't be negative");
                return;
            }
        } else if (ARG_IS(c, j, "maxlen") && more) {
            j++;
            if (str2ll(ARG(c, j), &maxlen) < 0 || maxlen < 0) {
                resp_add_error(&c->out, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        if (count != -1) resp_add_array(&c->out, 0);
        else resp_add_null(&c->out, c->resp);
        goto done;
    }
    /* Negative rank: from the tail.  Redis negates the rank in a long, so
     * LLONG_MIN stays negative and then matches from the first hit on;
     * the unsigned arithmetic below reproduces that without overflow. */
    int rev = rank < 0;
    uint64_t urank = rev ? (uint64_t)0 - (uint64_t)rank : (uint64_t)rank;
    int rank_any = (long long)urank < 0; /* LLONG_MIN */
    uint64_t scan = (maxlen == 0 || (uint64_t)maxlen > m.count) ? m.count : (uint64_t)maxlen;
    store_iter *it = rev ? list_seek_rev(&m, m.count - 1) : list_seek(&m, 0);
    size_t mark = 0;
    long long found = -1, n = 0;
    uint64_t matches = 0;
    if (count != -1) mark = resp_defer_array(&c->out);
    for (uint64_t i = 0; i < scan && elem_valid(it, m.version); i++) {
        if (elem_eq(it, ARG(c, 2))) {
            matches++;
            if (rank_any || matches >= urank) {
                long long pos = rev ? (long long)(m.count - 1 - i) : (long long)i;
                if (count == -1) {
                    found = pos;
                    break;
                }
                resp_add_int(&c->out, pos);
                n++;
                /* Redis stops at matches - rank + 1 >= count; with the
                 * LLONG_MIN rank that difference wraps negative: no stop. */
                if (count && !rank_any && matches - urank + 1 >= (uint64_t)count) break;
            }
        }
        if (rev) store_iter_prev(it);
        else store_iter_next(it);
    }
    store_iter_free(it);
    if (count != -1) resp_set_deferred_array(&c->out, mark, n);
    else if (found >= 0) resp_add_int(&c->out, found);
    else resp_add_null(&c->out, c->resp);
done:
    meta_free(&m);
}

/* ---------------- moves between lists ---------------- */

/* Pop from src (argv[si]) at `from` and push to dst (argv[di]) at `to`;
 * the source is a live, non-empty list in *sm.  Replies the element or an
 * error (WRONGTYPE for the destination).  Returns 0 or -1 (replied). */
static int move_element(client *c, int si, int di, struct meta *sm, int from, int to)
{
    struct meta dm;
    buf v;
    int rc = -1;
    meta_init(&dm);
    buf_init(&v);
    int same = c->argvlen[si] == c->argvlen[di] &&
               memcmp(c->argv[si], c->argv[di], c->argvlen[si]) == 0;
    if (!same) {
        int r = lookup_typed(c, di, &dm, T_LIST);
        if (r < 0) goto done;
    }
    if (list_pop_one(sm, from, &v) < 0) {
        list_corrupt(ARG(c, si));
        reply_storage_error(c);
        goto done;
    }
    if (same) {
        /* Rotation: the list never becomes empty in between, so it keeps
         * its version and TTL. */
        list_push_one(sm, to, v.data, v.len);
        db_write_meta(ARG(c, si), sm, sm->expire);
    } else {
        list_save(ARG(c, si), sm);
        if (dm.type == T_NONE) db_new_collection(ARG(c, di), T_LIST, &dm);
        list_push_one(&dm, to, v.data, v.len);
        db_write_meta(ARG(c, di), &dm, dm.expire);
    }
    notify_keyspace_event(NOTIFY_LIST, to == LIST_HEAD ? "lpush" : "rpush", ARG(c, di));
    list_popped(ARG(c, si), from, sm->count == 0);
    resp_add_bulk(&c->out, v.data, v.len);
    rc = 0;
done:
    buf_free(&v);
    meta_free(&dm);
    return rc;
}

/* LMOVE / RPOPLPUSH: the destination's type is checked before anything
 * moves, but only when the source exists (as Redis). */
static void lmove_generic(client *c, int from, int to)
{
    struct meta sm;
    meta_init(&sm);
    int r = lookup_typed(c, 1, &sm, T_LIST);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_null(&c->out, c->resp);
        goto done;
    }
    move_element(c, 1, 2, &sm, from, to);
done:
    meta_free(&sm);
}

static void rpoplpush_command(client *c) { lmove_generic(c, LIST_TAIL, LIST_HEAD); }

static void lmove_command(client *c)
{
    int from, to;
    if (parse_where(c, 3, &from) < 0 || parse_where(c, 4, &to) < 0) return;
    lmove_generic(c, from, to);
}

/* LMPOP/BLMPOP arguments: numkeys at argv[ni], then the keys, the side
 * and an optional COUNT.  Returns 0 or -1 (replied). */
static int mpop_parse(client *c, int ni, long long *numkeys, int *where, long long *count)
{
    if (str2ll(ARG(c, ni), numkeys) < 0 || *numkeys <= 0) {
        resp_add_error(&c->out, "ERR numkeys should be greater than 0");
        return -1;
    }
    if (*numkeys >= c->argc - ni - 1) {
        resp_add_error(&c->out, resp_err_syntax);
        return -1;
    }
    int wi = ni + (int)*numkeys + 1;
    if (parse_where(c, wi, where) < 0) return -1;
    *count = -1;
    for (int j = wi + 1; j < c->argc; j++) {
        if (*count == -1 && ARG_IS(c, j, "count") && j + 1 < c->argc) {
            j++;
            if (str2ll(ARG(c, j), count) < 0 || *count <= 0) {
                resp_add_error(&c->out, "ERR count should be greater than 0");
                return -1;
            }
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return -1;
        }
    }
    if (*count == -1) *count = 1;
    return 0;
}

/* Pop for LMPOP from argv[ki] if it is a non-empty list: replies
 * [key, [elements]] and returns 1; 0 if absent; -1 after an error. */
static int mpop_key(client *c, int ki, int where, long long count)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, ki, &m, T_LIST);
    if (r == 1) {
        size_t before = c->out.len;
        resp_add_array(&c->out, 2);
        resp_add_bulk(&c->out, ARG(c, ki));
        if (list_pop_reply(c, ARG(c, ki), &m, where, (uint64_t)count) < 0) {
            c->out.len = before;
            reply_storage_error(c);
            r = -1;
        }
    }
    meta_free(&m);
    return r;
}

static void lmpop_command(client *c)
{
    long long numkeys, count;
    int where;
    if (mpop_parse(c, 1, &numkeys, &where, &count) < 0) return;
    for (int i = 0; i < numkeys; i++) {
        int r = mpop_key(c, 2 + i, where, count);
        if (r != 0) return;
    }
    resp_add_null_array(&c->out, c->resp);
}

/* ---------------- blocking pops ---------------- */

/* 1 if argv-style key equals the ready key. */
static int key_is(client *c, int i, const char *key, size_t klen)
{
    return c->argvlen[i] == klen && memcmp(c->argv[i], key, klen) == 0;
}

/* BLPOP/BRPOP: pop one from argv[ki] (a live list), reply [key, elem]. */
static int bpop_serve(client *c, int ki, struct meta *m, int where)
{
    buf v;
    buf_init(&v);
    int rc = 0;
    if (list_pop_one(m, where, &v) < 0) {
        list_corrupt(ARG(c, ki));
        reply_storage_error(c);
        rc = -1;
    } else {
        list_save(ARG(c, ki), m);
        list_popped(ARG(c, ki), where, m->count == 0);
        resp_add_array(&c->out, 2);
        resp_add_bulk(&c->out, ARG(c, ki));
        resp_add_bulk(&c->out, v.data, v.len);
    }
    buf_free(&v);
    return rc;
}

/* Find the argv index of the ready key among argv[first..last]. */
static int key_arg(client *c, int first, int last, const char *key, size_t klen)
{
    for (int i = first; i <= last; i++)
        if (key_is(c, i, key, klen)) return i;
    return -1;
}

/* A retry's look at the ready key: 1 live list, 0 nothing to take (absent
 * or another type: Redis 7.0 keeps such a client blocked). */
static int retry_lookup(const char *key, size_t klen, struct meta *m)
{
    return db_lookup(key, klen, m) == T_LIST;
}

static int bpop_retry(client *c, const char *key, size_t klen)
{
    int where = c->cmd->id == CMD_BLPOP ? LIST_HEAD : LIST_TAIL;
    int ki = key_arg(c, 1, c->argc - 2, key, klen);
    if (ki < 0) return 0;
    struct meta m;
    meta_init(&m);
    int served = 0;
    if (retry_lookup(key, klen, &m)) {
        bpop_serve(c, ki, &m, where);
        served = 1;
    }
    meta_free(&m);
    return served;
}

static void bpop_generic(client *c, int where)
{
    uint64_t deadline;
    if (block_parse_timeout(c, c->argc - 1, &deadline) < 0) return;
    struct meta m;
    meta_init(&m);
    for (int i = 1; i < c->argc - 1; i++) {
        int r = lookup_typed(c, i, &m, T_LIST);
        if (r < 0) goto done;
        if (r == 1) {
            bpop_serve(c, i, &m, where);
            goto done;
        }
    }
    if (block_client(c, 1, c->argc - 2, 1, deadline, bpop_retry) < 0)
        resp_add_null_array(&c->out, c->resp);
done:
    meta_free(&m);
}

static void blpop_command(client *c) { bpop_generic(c, LIST_HEAD); }
static void brpop_command(client *c) { bpop_generic(c, LIST_TAIL); }

/* BLMOVE src dst from to timeout / BRPOPLPUSH src dst timeout. */
static int blmove_sides(client *c, int *from, int *to)
{
    *from = LIST_TAIL;
    *to = LIST_HEAD;
    if (c->cmd->id == CMD_BRPOPLPUSH) return 0;
    if (parse_where(c, 3, from) < 0 || parse_where(c, 4, to) < 0) return -1;
    return 0;
}

static int blmove_retry(client *c, const char *key, size_t klen)
{
    int from, to;
    if (!key_is(c, 1, key, klen)) return 0;
    if (blmove_sides(c, &from, &to) < 0) return 0; /* validated when the client blocked */
    struct meta sm;
    meta_init(&sm);
    int served = 0;
    if (retry_lookup(key, klen, &sm)) {
        move_element(c, 1, 2, &sm, from, to); /* a WRONGTYPE destination is served an error */
        served = 1;
    }
    meta_free(&sm);
    return served;
}

static void blmove_generic(client *c, int timeout_arg)
{
    uint64_t deadline;
    int from, to;
    /* Redis checks the sides before the timeout. */
    if (blmove_sides(c, &from, &to) < 0) return;
    if (block_parse_timeout(c, timeout_arg, &deadline) < 0) return;
    struct meta sm;
    meta_init(&sm);
    int r = lookup_typed(c, 1, &sm, T_LIST);
    if (r < 0) goto done;
    if (r == 1) {
        move_element(c, 1, 2, &sm, from, to);
        goto done;
    }
    if (block_client(c, 1, 1, 1, deadline, blmove_retry) < 0) resp_add_null(&c->out, c->resp);
done:
    meta_free(&sm);
}

static void brpoplpush_command(client *c) { blmove_generic(c, 3); }

static void blmove_command(client *c)
{
    int from, to;
    if (parse_where(c, 3, &from) < 0 || parse_where(c, 4, &to) < 0) return;
    blmove_generic(c, 5);
}

static int blmpop_retry(client *c, const char *key, size_t klen)
{
    long long numkeys, count;
    int where;
    size_t before = c->out.len;
    if (mpop_parse(c, 2, &numkeys, &where, &count) < 0) {
        c->out.len = before; /* validated when the client blocked */
        return 0;
    }
    int ki = key_arg(c, 3, 2 + (int)numkeys, key, klen);
    if (ki < 0) return 0;
    struct meta m;
    meta_init(&m);
    int served = retry_lookup(key, klen, &m);
    meta_free(&m);
    if (!served) return 0;
    mpop_key(c, ki, where, count);
    return 1;
}

static void blmpop_command(client *c)
{
    long long numkeys, count;
    int where;
    uint64_t deadline;
    if (mpop_parse(c, 2, &numkeys, &where, &count) < 0) return;
    if (block_parse_timeout(c, 1, &deadline) < 0) return;
    for (int i = 0; i < numkeys; i++) {
        int r = mpop_key(c, 3 + i, where, count);
        if (r != 0) return;
    }
    if (block_client(c, 3, (int)numkeys, 1, deadline, blmpop_retry) < 0)
        resp_add_null_array(&c->out, c->resp);
}

void t_list_register(void)
{
    block_init();
    server_register(CMD_LPUSH, lpush_command);
    server_register(CMD_RPUSH, rpush_command);
    server_register(CMD_LPUSHX, lpushx_command);
    server_register(CMD_RPUSHX, rpushx_command);
    server_register(CMD_LPOP, lpop_command);
    server_register(CMD_RPOP, rpop_command);
    server_register(CMD_LLEN, llen_command);
    server_register(CMD_LRANGE, lrange_command);
    server_register(CMD_LINDEX, lindex_command);
    server_register(CMD_LSET, lset_command);
    server_register(CMD_LTRIM, ltrim_command);
    server_register(CMD_LREM, lrem_command);
    server_register(CMD_LINSERT, linsert_command);
    server_register(CMD_LPOS, lpos_command);
    server_register(CMD_RPOPLPUSH, rpoplpush_command);
    server_register(CMD_LMOVE, lmove_command);
    server_register(CMD_LMPOP, lmpop_command);
    server_register(CMD_BLPOP, blpop_command);
    server_register(CMD_BRPOP, brpop_command);
    server_register(CMD_BLMOVE, blmove_command);
    server_register(CMD_BRPOPLPUSH, brpoplpush_command);
    server_register(CMD_BLMPOP, blmpop_command);
}
