/* t_sort: SORT and SORT_RO, Redis 7.0's semantics on Strata's storage.
 *
 * SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
 *      [ALPHA] [STORE destination]
 *
 * Like Redis, SORT works in memory: the elements of the list, set or
 * sorted set are loaded (with their weights) into one vector, sorted, and
 * the LIMIT range is answered or stored.  This is the one place where a
 * whole collection is held in memory, and Redis does the same; the cost
 * is documented as O(N+M*log(M)).
 *
 * Patterns (BY and GET): the first '*' is replaced by the element; a
 * "->field" after the '*' reads that field of a hash, otherwise the key
 * must hold a string; "#" (GET only) is the element itself.  A pattern
 * without '*' reads nothing: BY without '*' means "do not sort", GET
 * without '*' answers nulls.
 *
 * Cluster rule: the node answers as a standalone Redis does (every
 * pattern allowed).  strata-proxy is the cluster: it refuses BY and GET
 * patterns whose keys may fall in another slot than the sorted key, with
 * Redis Cluster's errors (proxy/ side, see route_sort_check there), so a
 * node never needs to know about groups.
 *
 * Departures: a set sorted with BY nosort (and no STORE) comes out in
 * Strata's member order (byte order), not in Redis's hash-table order,
 * which is unspecified anyway; ALPHA compares bytes (Redis's strcoll() in
 * the C locale, what Debian's redis-server uses by default). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "coll.h"
#include "notify.h"
#include "store.h"
#include "strchunk.h"
#include "util.h"

struct sort_elem {
    char *ele;          /* owned */
    size_t len;
    double score;
    char *cmp;          /* owned: ALPHA weight from BY, NULL when missing */
    size_t cmplen;
};

struct sort_ctx {
    int desc, alpha, bypattern, store;
};

static struct sort_ctx sort_cur;    /* qsort has no context argument in C11 */

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = memcmp(a, b, n);
    if (r) return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* strcoll() of C strings in the C locale: bytes up to the first NUL. */
static int cstr_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    const char *za = memchr(a, 0, al), *zb = memchr(b, 0, bl);
    if (za) al = (size_t)(za - a);
    if (zb) bl = (size_t)(zb - b);
    return bytes_cmp(a, al, b, bl);
}

static int sort_compare(const void *pa, const void *pb)
{
    const struct sort_elem *a = pa, *b = pb;
    int cmp;
    if (!sort_cur.alpha) {
        if (a->score > b->score) cmp = 1;
        else if (a->score < b->score) cmp = -1;
        else cmp = bytes_cmp(a->ele, a->len, b->ele, b->len);
    } else if (sort_cur.bypattern) {
        if (!a->cmp || !b->cmp) cmp = a->cmp == b->cmp ? 0 : !a->cmp ? -1 : 1;
        else if (sort_cur.store) cmp = bytes_cmp(a->cmp, a->cmplen, b->cmp, b->cmplen);
        else cmp = cstr_cmp(a->cmp, a->cmplen, b->cmp, b->cmplen);
    } else {
        cmp = sort_cur.store ? bytes_cmp(a->ele, a->len, b->ele, b->len)
                             : cstr_cmp(a->ele, a->len, b->ele, b->len);
    }
    return sort_cur.desc ? -cmp : cmp;
}

/* Read the value a pattern names for element `ele` into out.  Returns 1
 * (found), 0 (no such key, wrong type, no '*', missing field) or -1 on a
 * storage error (logged). */
static int sort_lookup_pattern(const char *pat, size_t plen, const char *ele, size_t elen, buf *out)
{
    buf_clear(out);
    if (plen == 1 && pat[0] == '#') {
        buf_append(out, ele, elen);
        return 1;
    }
    const char *star = memchr(pat, '*', plen);
    if (!star) return 0;
    const char *field = NULL;
    size_t flen = 0;
    const char *end = pat + plen;
    for (const char *f = star + 1; f + 1 < end; f++) {
        if (f[0] == '-' && f[1] == '>') {
            if (f + 2 < end) {
                field = f + 2;
                flen = (size_t)(end - field);
            }
            break;
        }
    }
    buf key;
    buf_init(&key);
    buf_append(&key, pat, (size_t)(star - pat));
    buf_append(&key, ele, elen);
    const char *post_end = field ? field - 2 : end;
    buf_append(&key, star + 1, (size_t)(post_end - (star + 1)));
    struct meta m;
    meta_init(&m);
    int rc = 0;
    int t = db_lookup(key.data, key.len, &m);
    /* Redis reads pattern keys with lookupKeyRead: hits, misses and
     * keymiss events count as for any read. */
    if (t == T_NONE) {
        srv.stats.keyspace_misses++;
        if (notify_enabled(NOTIFY_KEY_MISS)) notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", key.data, key.len);
    } else if (t > 0) {
        srv.stats.keyspace_hits++;
    }
    if (t < 0) {
        rc = -1;
    } else if (field) {
        if (t == T_HASH) {
            buf dk;
            buf_init(&dk);
            enc_data_key(&dk, m.version, field, flen);
            rc = store_get(srv.st, dk.data, dk.len, out);
            if (rc < 0) rc = -1;
            buf_free(&dk);
        }
    } else if (t == T_STRING) {
        if (!m.chunked) buf_append(out, m.sval, m.slen);
        rc = m.chunked && strchunk_load(&m, out) < 0 ? -1 : 1;
    }
    meta_free(&m);
    buf_free(&key);
    return rc;
}

/* Load every element of m in its native order (list order, set member
 * order, zset score order) into *vec.  Returns the count, or -1 on a
 * storage error. */
static long long sort_load(const struct meta *m, struct sort_elem **vec)
{
    size_t cap = m->count ? (size_t)m->count : 1, n = 0;
    struct sort_elem *v = xcalloc(cap, sizeof *v);
    buf prefix;
    buf_init(&prefix);
    if (m->type == T_ZSET) enc_zscore_prefix(&prefix, m->version);
    else enc_data_prefix(&prefix, m->version);
    size_t skip = m->type == T_ZSET ? prefix.len + 8 : prefix.len;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, prefix.data, prefix.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len) != 0) break;
        const char *val;
        size_t len;
        if (m->type == T_LIST) {
            val = store_iter_val(it, &vl);
            len = vl;
        } else {
            if (kl < skip) continue;
            val = k + skip;
            len = kl - skip;
        }
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof *v);
            memset(v + n, 0, (cap - n) * sizeof *v);
        }
        v[n].ele = xmalloc(len ? len : 1);
        memcpy(v[n].ele, val, len);
        v[n].len = len;
        n++;
    }
    store_iter_free(it);
    buf_free(&prefix);
    *vec = v;
    return (long long)n;
}

static void sort_free(struct sort_elem *v, long long n)
{
    for (long long i = 0; i < n; i++) {
        free(v[i].ele);
        free(v[i].cmp);
    }
    free(v);
}

/* Store the result as a list at `dst` (replacing it), or delete dst when
 * there is nothing to store. */
static int sort_store(client *c, int di, struct sort_elem *v, long long start, long long end,
                      const int *gets, int ngets, long long outputlen)
{
    struct meta dm;
    meta_init(&dm);
    int t = db_lookup(ARG(c, di), &dm);
    if (t < 0) {
        meta_free(&dm);
        return -1;
    }
    if (outputlen == 0) {
        if (t != T_NONE) {
            db_delete(ARG(c, di), &dm);
            notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, di));
        } else if (dm.expired) {
            db_delete(ARG(c, di), &dm);
        }
        meta_free(&dm);
        return 0;
    }
    db_new_collection(ARG(c, di), T_LIST, &dm);
    dm.head = dm.tail = LIST_INITIAL_INDEX;
    buf k, val;
    buf_init(&k);
    buf_init(&val);
    int rc = 0;
    for (long long j = start; j <= end && rc == 0; j++) {
        for (int g = 0; g < (ngets ? ngets : 1); g++) {
            const char *p;
            size_t pl;
            if (!ngets) {
                p = v[j].ele;
                pl = v[j].len;
            } else {
                int r = sort_lookup_pattern(ARG(c, gets[g]), v[j].ele, v[j].len, &val);
                if (r < 0) {
                    rc = -1;
                    break;
                }
                if (r == 0) buf_clear(&val);
                p = val.data;
                pl = val.len;
            }
            unsigned char idx[8];
            put_u64be(idx, dm.tail++);
            enc_data_key(&k, dm.version, (const char *)idx, 8);
            store_put(srv.st, k.data, k.len, p ? p : "", pl);
            dm.count++;
        }
    }
    buf_free(&k);
    buf_free(&val);
    if (rc == 0) {
        db_write_meta(ARG(c, di), &dm, 0);
        notify_keyspace_event(NOTIFY_LIST, "sortstore", ARG(c, di));
    }
    meta_free(&dm);
    return rc;
}

static void sort_generic(client *c, int readonly)
{
    int desc = 0, alpha = 0, dontsort = 0;
    long long limit_start = 0, limit_count = -1;
    int by = 0, store = 0, ngets = 0;
    int *gets = xmalloc(sizeof(int) * (size_t)c->argc);
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (ARG_IS(c, j, "asc")) {
            desc = 0;
        } else if (ARG_IS(c, j, "desc")) {
            desc = 1;
        } else if (ARG_IS(c, j, "alpha")) {
            alpha = 1;
        } else if (ARG_IS(c, j, "limit") && left >= 2) {
            if (arg_ll(c, j + 1, &limit_start) < 0 || arg_ll(c, j + 2, &limit_count) < 0) goto out;
            j += 2;
        } else if (!readonly && ARG_IS(c, j, "store") && left >= 1) {
            store = ++j;
        } else if (ARG_IS(c, j, "by") && left >= 1) {
            by = ++j;
            if (!memchr(c->argv[j], '*', c->argvlen[j])) dontsort = 1;
        } else if (ARG_IS(c, j, "get") && left >= 1) {
            gets[ngets++] = ++j;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto out;
        }
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_any(c, 1, &m);
    if (r < 0) {
        meta_free(&m);
        goto out;
    }
    if (r == 1 && m.type != T_LIST && m.type != T_SET && m.type != T_ZSET) {
        resp_add_error(&c->out, resp_err_wrongtype);
        meta_free(&m);
        goto out;
    }
    int type = r == 1 ? m.type : T_LIST;
    /* A set in no order would make STORE's result depend on the
     * encoding: Redis sorts it (ALPHA) then.  (Redis does the same for a
     * SORT run from a script; when EVAL reaches the node, its client flag
     * belongs in this test.) */
    if (dontsort && type == T_SET && store) {
        dontsort = 0;
        alpha = 1;
        by = 0;
    }
    struct sort_elem *v = NULL;
    long long n = 0;
    if (r == 1) {
        n = sort_load(&m, &v);
    } else {
        v = xcalloc(1, sizeof *v);
    }
    meta_free(&m);
    if (n < 0) {
        reply_storage_error(c);
        goto out;
    }
    long long start = limit_start < 0 ? 0 : limit_start > n ? n : limit_start;
    long long count = limit_count < -1 ? -1 : limit_count > n ? n : limit_count;
    long long end = count < 0 ? n - 1 : start + count - 1;
    if (start >= n) {
        start = n - 1;
        end = n - 2;
    }
    if (end >= n) end = n - 1;

    int conv_error = 0;
    buf val;
    buf_init(&val);
    if (dontsort) {
        if (desc && (type == T_LIST || type == T_ZSET)) {
            for (long long i = 0, k = n - 1; i < k; i++, k--) {
                struct sort_elem t = v[i];
                v[i] = v[k];
                v[k] = t;
            }
        }
    } else {
        for (long long j = 0; j < n; j++) {
            const char *bv;
            size_t bl;
            if (by) {
                int lr = sort_lookup_pattern(ARG(c, by), v[j].ele, v[j].len, &val);
                if (lr < 0) {
                    buf_free(&val);
                    sort_free(v, n);
                    reply_storage_error(c);
                    goto out;
                }
                if (lr == 0) continue;
                bv = val.data ? val.data : "";
                bl = val.len;
            } else {
                bv = v[j].ele;
                bl = v[j].len;
            }
            if (alpha) {
                if (by) {
                    v[j].cmp = xmalloc(bl ? bl : 1);
                    memcpy(v[j].cmp, bv, bl);
                    v[j].cmplen = bl;
                }
            } else {
                /* strtod on the value up to its end (or first NUL), as
                 * Redis parses an sds. */
                char tmp[128], *s = bl < sizeof tmp ? tmp : xmalloc(bl + 1), *eptr;
                memcpy(s, bv, bl);
                s[bl] = 0;
                errno = 0;
                v[j].score = strtod(s, &eptr);
                if (*eptr != '\0' || errno == ERANGE || isnan(v[j].score)) conv_error = 1;
                if (s != tmp) free(s);
            }
        }
        sort_cur.desc = desc;
        sort_cur.alpha = alpha;
        sort_cur.bypattern = by != 0;
        sort_cur.store = store != 0;
        if (n > 1) qsort(v, (size_t)n, sizeof *v, sort_compare);
    }

    long long outputlen = ngets ? (long long)ngets * (end - start + 1) : end - start + 1;
    if (conv_error) {
        resp_add_error(&c->out, "ERR One or more scores can't be converted into double");
    } else if (!store) {
        resp_add_array(&c->out, outputlen);
        for (long long j = start; j <= end; j++) {
            if (!ngets) resp_add_bulk(&c->out, v[j].ele, v[j].len);
            for (int g = 0; g < ngets; g++) {
                int lr = sort_lookup_pattern(ARG(c, gets[g]), v[j].ele, v[j].len, &val);
                if (lr == 1) resp_add_bulk(&c->out, val.data ? val.data : "", val.len);
                else resp_add_null(&c->out, c->resp);
            }
        }
    } else {
        if (sort_store(c, store, v, start, end, gets, ngets, outputlen) < 0) reply_storage_error(c);
        else resp_add_int(&c->out, outputlen);
    }
    buf_free(&val);
    sort_free(v, n);
out:
    free(gets);
}

static void sort_command(client *c) { sort_generic(c, 0); }
static void sort_ro_command(client *c) { sort_generic(c, 1); }

void t_sort_register(void)
{
    server_register(CMD_SORT, sort_command);
    server_register(CMD_SORT_RO, sort_ro_command);
}
