/* t_stream: stream commands — XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM,
 * XSETID, XREAD and XREADGROUP (blocking through blocking.c) and XINFO.
 * The consumer group commands are in t_stream_group.c; the records on
 * disk in stream.c (layout diagram in stream.h).
 *
 * Replies, errors and the order of the checks follow Redis 7.0's
 * t_stream.c.  Known differences:
 *   - Redis trims with "~" by whole listpack nodes.  Node boundaries are
 *     reproduced ('n' records, stream.h) with exact entry counts but
 *     estimated byte sizes, so with entries of hundreds of bytes a node
 *     may end one entry earlier or later than in Redis.
 *   - WATCH: every stream write here touches the key, while Redis leaves
 *     a WATCH intact after writes that only change consumer group state
 *     (XACK, XGROUP SETID/CREATECONSUMER, XSETID; XREADGROUP, whose keys
 *     are not at fixed positions, does leave it here too): an EXEC may
 *     fail where Redis's would run, never the other way round. */
#include "t_stream_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "notify.h"
#include "rconfig.h"
#include "util.h"

static const char ERR_BADID[] = "ERR Invalid stream ID specified as stream command argument";

/* ---------------- shared helpers ---------------- */

/* Redis's string2ull: string2ll, else strtoull (which takes what
 * string2ll refuses: values above LLONG_MAX, a '+', leading blanks). */
static int parse_ull(const char *s, unsigned long long *v)
{
    long long ll;
    if (str2ll(s, strlen(s), &ll) == 0) {
        if (ll < 0) return -1;
        *v = (unsigned long long)ll;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    *v = strtoull(s, &end, 10);
    if (errno == EINVAL || errno == ERANGE || !(*s != '\0' && *end == '\0')) return -1;
    return 0;
}

int sid_parse(client *c, const char *s, size_t len, struct sid *id, uint64_t missing_seq,
              int strict, int *seq_given)
{
    char b[128];
    unsigned long long ms, seq;
    if (len > sizeof b - 1) goto invalid;
    memcpy(b, s, len);
    b[len] = '\0';
    if (strict && (b[0] == '-' || b[0] == '+') && b[1] == '\0') goto invalid;
    if (seq_given) *seq_given = 1;
    if (b[0] == '-' && b[1] == '\0') {
        id->ms = id->seq = 0;
        return 0;
    }
    if (b[0] == '+' && b[1] == '\0') {
        id->ms = id->seq = UINT64_MAX;
        return 0;
    }
    char *dot = strchr(b, '-');
    if (dot) *dot = '\0';
    if (parse_ull(b, &ms) < 0) goto invalid;
    if (dot) {
        if (seq_given && dot[1] == '*' && dot[2] == '\0') {
            seq = 0;
            *seq_given = 0;
        } else if (parse_ull(dot + 1, &seq) < 0) {
            goto invalid;
        }
    } else {
        seq = missing_seq;
    }
    id->ms = ms;
    id->seq = seq;
    return 0;
invalid:
    if (c) resp_add_error(&c->out, ERR_BADID);
    return -1;
}

int sid_parse_interval(client *c, int i, struct sid *id, int *ex, uint64_t missing_seq)
{
    const char *p = c->argv[i];
    size_t len = c->argvlen[i];
    *ex = len > 1 && p[0] == '(';
    if (*ex) return sid_parse(c, p + 1, len - 1, id, missing_seq, 1, NULL);
    return sid_parse(c, p, len, id, missing_seq, 0, NULL);
}

int sarg_ll(client *c, int i, long long *v, const char *msg)
{
    if (str2ll(c->argv[i], c->argvlen[i], v) == 0) return 0;
    resp_add_error(&c->out, msg);
    return -1;
}

int sctx_lookup(client *c, int i, struct sctx *s)
{
    int r = lookup_typed(c, i, &s->m, T_STREAM);
    if (r <= 0) {
        memset(&s->h, 0, sizeof s->h);
        return r;
    }
    if (stream_hdr_load(s->m.version, &s->h) < 0) {
        reply_storage_error(c);
        return -1;
    }
    return 1;
}

void sctx_save(client *c, int i, struct sctx *s)
{
    db_write_meta(ARG(c, i), &s->m, s->m.expire);
    stream_hdr_save(s->m.version, &s->h);
}

void sctx_free(struct sctx *s)
{
    meta_free(&s->m);
}

void sreply_id(client *c, struct sid id)
{
    char b[48];
    size_t n = sid_fmt(b, id);
    resp_add_bulk(&c->out, b, n);
}

void sreply_entry(client *c, struct sid id, const char *v, size_t vl)
{
    resp_add_array(&c->out, 2);
    sreply_id(c, id);
    const unsigned char *p = (const unsigned char *)v;
    uint32_t n;
    size_t off;
    stream_entry_decode(v, vl, &n, NULL, &off);
    resp_add_array(&c->out, n);
    for (uint32_t i = 0; i < n && off + 4 <= vl; i++) {
        uint32_t l = get_u32be(p + off);
        off += 4;
        resp_add_bulk(&c->out, v + off, l);
        off += l;
    }
}

int sreply_lookup(client *c, uint64_t ver, struct sid id)
{
    buf v;
    buf_init(&v);
    int r = stream_entry_get(ver, id, &v);
    if (r == 1) sreply_entry(c, id, v.data, v.len);
    buf_free(&v);
    return r == 1;
}

struct sid stream_first_id(const struct sctx *s)
{
    struct sid id = { 0, 0 };
    if (s->m.count) stream_edge(s->m.version, 0, &id);
    return id;
}

static int sid_zero(struct sid id)
{
    return id.ms == 0 && id.seq == 0;
}

long long stream_estimate_distance(const struct sctx *s, struct sid id)
{
    if (!s->h.added) return 0;
    if (!s->m.count && sid_cmp(id, s->h.last) < 1) return (long long)s->h.added;
    int cmp_last = sid_cmp(id, s->h.last);
    if (cmp_last == 0) return (long long)s->h.added;
    if (cmp_last > 0) return SCG_INVALID_ENTRIES_READ;
    struct sid first = stream_first_id(s);
    int cmp_id_first = sid_cmp(id, first);
    int cmp_xdel_first = sid_cmp(s->h.maxdel, first);
    if (sid_zero(s->h.maxdel) || cmp_xdel_first < 0) {
        if (cmp_id_first < 0) return (long long)(s->h.added - s->m.count);
        if (cmp_id_first == 0) return (long long)(s->h.added - s->m.count + 1);
    }
    return SCG_INVALID_ENTRIES_READ;
}

int stream_range_has_tombstones(const struct sctx *s, struct sid start)
{
    if (!s->m.count || sid_zero(s->h.maxdel)) return 0;
    struct sid first = stream_first_id(s);
    if (sid_cmp(first, s->h.maxdel) > 0) return 0;
    return sid_cmp(start, s->h.maxdel) <= 0;
}

void sreply_lag(client *c, const struct sctx *s, const struct sgroup *g)
{
    if (!s->h.added) {
        resp_add_int(&c->out, 0);
    } else if (g->entries_read != SCG_INVALID_ENTRIES_READ && !stream_range_has_tombstones(s, g->last)) {
        resp_add_int(&c->out, (long long)s->h.added - g->entries_read);
    } else {
        long long er = stream_estimate_distance(s, g->last);
        if (er != SCG_INVALID_ENTRIES_READ) resp_add_int(&c->out, (long long)s->h.added - er);
        else resp_add_null(&c->out, c->resp);
    }
}

/* ---------------- trimming ---------------- */

enum { TRIM_NONE, TRIM_MAXLEN, TRIM_MINID };


struct add_args {
    int strategy, approx, nomkstream, id_given, seq_given;
    long long maxlen, limit;
    struct sid minid, id;
};

static long long node_entries(void)
{
    return rconf_num("stream-node-max-entries");
}

/* Bytes an entry adds to its listpack node, estimated: each element with
 * its one or two header bytes and its back-length byte, plus the entry's
 * flags, ID deltas and element count. */
static uint64_t entry_bytes(int n, const size_t *len)
{
    uint64_t b = 8;
    for (int i = 0; i < n; i++) b += len[i] + (len[i] < 64 ? 2 : len[i] < 4096 ? 3 : 6);
    return b;
}

/* The node a new entry goes to (Redis's streamAppendItem: a new node when
 * the tail one is full by entries or by bytes). */
static int node_append(struct sctx *s, struct sid id, int n, const size_t *len, struct sid *back)
{
    int out_of_order = 0;
    struct snode tail;
    uint64_t eb = entry_bytes(n, len);
    long long max_entries = node_entries();
    long long max_bytes = rconf_num("stream-node-max-bytes");
    if (max_bytes <= 0 || max_bytes > (1LL << 30)) max_bytes = 1LL << 30;
    uint64_t tl = 0;
    for (int i = 0; i < n; i++) tl += len[i];
    int have = stream_node_edge(s->m.version, 1, &tail);
    if (have && (tail.bytes + tl >= (uint64_t)max_bytes ||
                 (max_entries && (long long)tail.total >= max_entries)))
        have = 0;
    if (have && sid_cmp(id, tail.first) < 0) {
        /* XSETID moved the last ID back on a stream whose only node has
         * no live entry left (an exact MINID trim leaves one): Redis
         * appends to it, below its master ID.  Re-key it, so it still
         * holds every ID from its first one on. */
        stream_node_del(s->m.version, tail.first);
        tail.first = id;
    }
    if (!have) {
        /* a new listpack: header, the master entry (fields, counters) */
        tail.first = id;
        tail.live = tail.total = 0;
        tail.bytes = 7 + 16 + eb;
        tail.max = id;
        s->h.nodes++;
    } else if (sid_cmp(tail.max, id) > 0) {
        *back = tail.max;
        out_of_order = 1;
    }
    tail.live++;
    tail.total++;
    tail.bytes += eb;
    tail.last = id;
    if (sid_cmp(id, tail.max) > 0) tail.max = id;
    stream_node_put(s->m.version, &tail);
    return out_of_order;
}

/* Delete one live entry (and its node when it was the node's last live
 * entry, as Redis frees an emptied listpack). */
static void stream_remove_entry(struct sctx *s, struct sid id)
{
    struct snode nd;
    stream_entry_del(s->m.version, id);
    s->m.count--;
    if (stream_node_of(s->m.version, id, &nd)) {
        if (nd.live <= 1) {
            stream_node_del(s->m.version, nd.first);
            s->h.nodes--;
        } else {
            nd.live--;
            stream_node_put(s->m.version, &nd);
        }
    }
}

/* Delete entries from the head as Redis's streamTrim: whole nodes while
 * they may go, then (exact trimming only) entries inside the first node
 * that stays.  Returns the number deleted. */
static long long stream_trim(struct sctx *s, const struct add_args *a)
{
    long long deleted = 0;
    struct snode nd;
    while (stream_node_edge(s->m.version, 0, &nd)) {
        if (a->strategy == TRIM_MAXLEN && (long long)s->m.count <= a->maxlen) break;
        long long entries = (long long)nd.live;
        if (a->limit && deleted + entries > a->limit) break;
        struct snode next;
        int has_next = stream_node_next(s->m.version, &nd, &next);
        int remove;
        if (a->strategy == TRIM_MAXLEN) {
            remove = (long long)s->m.count - entries >= a->maxlen;
        } else {
            /* Redis compares the node's last entry, deleted or not */
            remove = sid_cmp(nd.last, a->minid) < 0;
        }
        stream_iter si;
        stream_iter_open(&si, s->m.version, nd.first, 0);
        if (remove) {
            while (si.valid && (!has_next || sid_cmp(si.id, next.first) < 0)) {
                stream_entry_del(s->m.version, si.id);
                s->m.count--;
                deleted++;
                stream_iter_next(&si);
            }
            stream_iter_close(&si);
            stream_node_del(s->m.version, nd.first);
            s->h.nodes--;
            continue;
        }
        if (a->approx) {
            stream_iter_close(&si);
            break;
        }
        long long from_node = 0;
        while (si.valid && (!has_next || sid_cmp(si.id, next.first) < 0)) {
            int stop;
            if (a->strategy == TRIM_MAXLEN) {
                stop = (long long)s->m.count <= a->maxlen;
            } else {
                /* Redis walks the node in append order and stops at the
                 * first entry, deleted or not, at or above minid */
                size_t vl, off;
                uint32_t nf;
                struct sid back;
                const char *v = stream_iter_val(&si, &vl);
                stop = sid_cmp(si.id, a->minid) >= 0 ||
                       (stream_entry_decode(v, vl, &nf, &back, &off) && sid_cmp(back, a->minid) >= 0);
            }
            if (stop) break;
            stream_entry_del(s->m.version, si.id);
            s->m.count--;
            from_node++;
            stream_iter_next(&si);
        }
        stream_iter_close(&si);
        if (from_node) {
            nd.live -= (uint64_t)from_node;
            stream_node_put(s->m.version, &nd);
            deleted += from_node;
        }
        break;
    }
    return deleted;
}

/* streamParseAddOrTrimArgsOrReply: returns the index of the ID (XADD) or
 * the end, or -1 after replying. */
static int parse_add_args(client *c, struct add_args *a, int xadd)
{
    int i = 2, limit_given = 0;
    memset(a, 0, sizeof *a);
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        const char *o = c->argv[i];
        size_t ol = c->argvlen[i];
        if (xadd && ol == 1 && o[0] == '*') break;
        if ((ARG_IS(c, i, "maxlen") || ARG_IS(c, i, "minid")) && more) {
            int maxlen = ARG_IS(c, i, "maxlen");
            if (a->strategy != TRIM_NONE) {
                resp_add_error(&c->out, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return -1;
            }
            a->approx = 0;
            const char *n = c->argv[i + 1];
            if (more >= 2 && c->argvlen[i + 1] == 1 && n[0] == '~') {
                a->approx = 1;
                i++;
            } else if (more >= 2 && c->argvlen[i + 1] == 1 && n[0] == '=') {
                i++;
            }
            if (maxlen) {
                if (arg_ll(c, i + 1, &a->maxlen) < 0) return -1;
                if (a->maxlen < 0) {
                    resp_add_error(&c->out, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->strategy = TRIM_MAXLEN;
            } else {
                if (sid_parse(c, ARG(c, i + 1), &a->minid, 0, 1, NULL) < 0) return -1;
                a->strategy = TRIM_MINID;
            }
            i++;
        } else if (ARG_IS(c, i, "limit") && more) {
            if (arg_ll(c, i + 1, &a->limit) < 0) return -1;
            if (a->limit < 0) {
                resp_add_error(&c->out, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && ARG_IS(c, i, "nomkstream")) {
            a->nomkstream = 1;
        } else if (xadd) {
            if (sid_parse(c, ARG(c, i), &a->id, 0, 1, &a->seq_given) < 0) return -1;
            a->id_given = 1;
            break;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return -1;
        }
    }
    if (a->limit && a->strategy == TRIM_NONE) {
        resp_add_error(&c->out, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && a->strategy == TRIM_NONE) {
        resp_add_error(&c->out, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given) {
        if (!a->approx) {
            resp_add_error(&c->out, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return -1;
        }
    } else if (a->approx) {
        a->limit = 100 * rconf_num("stream-node-max-entries");
        if (a->limit <= 0 || a->limit > 10000) a->limit = 10000;
    } else {
        a->limit = 0;
    }
    return i;
}

/* ---------------- XADD, XLEN, XDEL, XTRIM, XSETID ---------------- */

static void xadd_command(client *c)
{
    struct add_args a;
    int i = parse_add_args(c, &a, 1);
    if (i < 0) return;
    if (c->argc - i < 3 || (c->argc - i - 1) % 2 != 0) {
        resp_add_arity_error(&c->out, "xadd");
        return;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        resp_add_error(&c->out, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    struct sctx s;
    meta_init(&s.m);
    int r = sctx_lookup(c, 1, &s);
    if (r < 0) goto done;
    if (r == 0) {
        if (a.nomkstream) {
            resp_add_null(&c->out, c->resp);
            goto done;
        }
        db_new_collection(ARG(c, 1), T_STREAM, &s.m);
    }
    if (s.h.last.ms == UINT64_MAX && s.h.last.seq == UINT64_MAX) {
        resp_add_error(&c->out, "ERR The stream has exhausted the last possible ID, unable to add more items");
        goto done_abort;
    }
    struct sid id;
    if (a.id_given) {
        if (a.seq_given) {
            id = a.id;
        } else if (s.h.last.ms == a.id.ms) {
            if (s.h.last.seq == UINT64_MAX) goto too_small;
            id = s.h.last;
            id.seq++;
        } else {
            id = a.id;
        }
    } else {
        uint64_t ms = now_ms();
        if (ms > s.h.last.ms) {
            id.ms = ms;
            id.seq = 0;
        } else {
            id = s.h.last;
            sid_incr(&id);
        }
    }
    if (sid_cmp(id, s.h.last) <= 0) goto too_small;
    struct sid back;
    int has_back = node_append(&s, id, c->argc - i - 1, c->argvlen + i + 1, &back);
    stream_entry_put(s.m.version, id, c->argc - i - 1, c->argv + i + 1, c->argvlen + i + 1,
                     has_back ? &back : NULL);
    s.m.count++;
    s.h.added++;
    s.h.last = id;
    sreply_id(c, id);
    notify_keyspace_event(NOTIFY_STREAM, "xadd", ARG(c, 1));
    if (a.strategy != TRIM_NONE && stream_trim(&s, &a))
        notify_keyspace_event(NOTIFY_STREAM, "xtrim", ARG(c, 1));
    sctx_save(c, 1, &s);
    goto done;
too_small:
    resp_add_error(&c->out, "ERR The ID specified in XADD is equal or smaller than the target stream top item");
done_abort:
    /* a stream created by this call is rolled back with the error reply */
done:
    sctx_free(&s);
}

static void xlen_command(client *c)
{
    struct sctx s;
    meta_init(&s.m);
    int r = lookup_typed(c, 1, &s.m, T_STREAM);
    if (r >= 0) resp_add_int(&c->out, r ? (long long)s.m.count : 0);
    sctx_free(&s);
}

static void xdel_command(client *c)
{
    struct sid ids[16], *idv = ids;
    int n = c->argc - 2;
    struct sctx s;
    meta_init(&s.m);
    /* Redis looks the key up first: a missing key answers 0 whatever
     * the IDs. */
    int r = sctx_lookup(c, 1, &s);
    if (r <= 0) {
        if (r == 0) resp_add_int(&c->out, 0);
        sctx_free(&s);
        return;
    }
    if (n > 16) idv = xmalloc(sizeof *idv * (size_t)n);
    for (int j = 0; j < n; j++)
        if (sid_parse(c, ARG(c, j + 2), &idv[j], 0, 1, NULL) < 0) goto out;
    long long deleted = 0;
    buf v;
    buf_init(&v);
    for (int j = 0; j < n; j++) {
        if (stream_entry_get(s.m.version, idv[j], &v) != 1) continue;
        stream_remove_entry(&s, idv[j]);
        deleted++;
        if (sid_cmp(idv[j], s.h.maxdel) > 0) s.h.maxdel = idv[j];
    }
    buf_free(&v);
    if (deleted) {
        sctx_save(c, 1, &s);
        notify_keyspace_event(NOTIFY_STREAM, "xdel", ARG(c, 1));
    }
    resp_add_int(&c->out, deleted);
out:
    sctx_free(&s);
    if (idv != ids) free(idv);
}

static void xtrim_command(client *c)
{
    struct add_args a;
    if (parse_add_args(c, &a, 0) < 0) return;
    struct sctx s;
    meta_init(&s.m);
    int r = sctx_lookup(c, 1, &s);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    long long deleted = stream_trim(&s, &a);
    if (deleted) {
        sctx_save(c, 1, &s);
        notify_keyspace_event(NOTIFY_STREAM, "xtrim", ARG(c, 1));
    }
    resp_add_int(&c->out, deleted);
done:
    sctx_free(&s);
}

static void xsetid_command(client *c)
{
    struct sid id, maxdel = { 0, 0 };
    long long added = -1;
    if (sid_parse(c, ARG(c, 2), &id, 0, 1, NULL) < 0) return;
    for (int i = 3; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        if (ARG_IS(c, i, "entriesadded") && more) {
            if (arg_ll(c, i + 1, &added) < 0) return;
            if (added < 0) {
                resp_add_error(&c->out, "ERR entries_added must be positive");
                return;
            }
            i++;
        } else if (ARG_IS(c, i, "maxdeletedid") && more) {
            if (sid_parse(c, ARG(c, i + 1), &maxdel, 0, 1, NULL) < 0) return;
            if (sid_cmp(id, maxdel) < 0) {
                resp_add_error(&c->out, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
            i++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    struct sctx s;
    meta_init(&s.m);
    int r = sctx_lookup(c, 1, &s);
    if (r <= 0) {
        if (r == 0) resp_add_error(&c->out, "ERR no such key");
        goto done;
    }
    if (s.m.count > 0) {
        struct sid top;
        stream_edge(s.m.version, 1, &top);
        if (sid_cmp(id, top) < 0) {
            resp_add_error(&c->out, "ERR The ID specified in XSETID is smaller than the target stream top item");
            goto done;
        }
        if (added != -1 && (long long)s.m.count > added) {
            resp_add_error(&c->out, "ERR The entries_added specified in XSETID is smaller than the target stream length");
            goto done;
        }
    }
    s.h.last = id;
    if (added != -1) s.h.added = (uint64_t)added;
    if (!sid_zero(maxdel)) s.h.maxdel = maxdel;
    sctx_save(c, 1, &s);
    notify_keyspace_event(NOTIFY_STREAM, "xsetid", ARG(c, 1));
    resp_add_ok(&c->out);
done:
    sctx_free(&s);
}

/* ---------------- XRANGE, XREVRANGE ---------------- */

/* Reply entries in [start, end] (rev: from end down), at most count
 * (0 = all).  Returns how many. */
static long long reply_range(client *c, uint64_t ver, struct sid start, struct sid end,
                             long long count, int rev)
{
    size_t mark = resp_defer(&c->out);
    long long n = 0;
    stream_iter si;
    stream_iter_open(&si, ver, rev ? end : start, rev);
    for (; si.valid && (!count || n < count); stream_iter_next(&si)) {
        if (!rev && sid_cmp(si.id, end) > 0) break;
        if (rev && sid_cmp(si.id, start) < 0) break;
        size_t vl;
        const char *v = stream_iter_val(&si, &vl);
        sreply_entry(c, si.id, v, vl);
        n++;
    }
    stream_iter_close(&si);
    resp_set_deferred_array(&c->out, mark, n);
    return n;
}

static void xrange_generic(client *c, int rev)
{
    int sa = rev ? 3 : 2, ea = rev ? 2 : 3, sx, ex;
    struct sid start, end;
    long long count = -1;
    if (sid_parse_interval(c, sa, &start, &sx, 0) < 0) return;
    if (sx && sid_incr(&start) < 0) {
        resp_add_error(&c->out, "ERR invalid start ID for the interval");
        return;
    }
    if (sid_parse_interval(c, ea, &end, &ex, UINT64_MAX) < 0) return;
    if (ex && sid_decr(&end) < 0) {
        resp_add_error(&c->out, "ERR invalid end ID for the interval");
        return;
    }
    for (int j = 4; j < c->argc; j++) {
        if (ARG_IS(c, j, "count") && c->argc - j - 1 >= 1) {
            if (arg_ll(c, j + 1, &count) < 0) return;
            if (count < 0) count = 0;
            j++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_STREAM);
    if (r == 0) resp_add_array(&c->out, 0);
    else if (r == 1 && count == 0) resp_add_null_array(&c->out, c->resp);
    else if (r == 1) reply_range(c, m.version, start, end, count == -1 ? 0 : count, rev);
    meta_free(&m);
}

static void xrange_command(client *c) { xrange_generic(c, 0); }
static void xrevrange_command(client *c) { xrange_generic(c, 1); }

/* ---------------- XREAD, XREADGROUP ---------------- */

#define XREAD_BLOCKED_DEFAULT_COUNT 1000

struct xread_args {
    long long timeout;          /* -1: no BLOCK */
    uint64_t deadline;
    long long count;
    int streams_arg, nstreams, noack, group;
    int garg, carg;             /* argv of group and consumer names */
};

static int xread_parse(client *c, struct xread_args *x)
{
    int xrg = c->cmd->id == CMD_XREADGROUP;
    memset(x, 0, sizeof *x);
    x->timeout = -1;
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (ARG_IS(c, i, "block") && more) {
            i++;
            long long t;
            if (sarg_ll(c, i, &t, "ERR timeout is not an integer or out of range") < 0)
                return -1;
            if (t < 0) {
                resp_add_error(&c->out, "ERR timeout is negative");
                return -1;
            }
            x->timeout = t;
            x->deadline = t ? srv.cmd_time_ms + (uint64_t)t : 0;
        } else if (ARG_IS(c, i, "count") && more) {
            i++;
            if (arg_ll(c, i, &x->count) < 0) return -1;
            if (x->count < 0) x->count = 0;
        } else if (ARG_IS(c, i, "streams") && more) {
            x->streams_arg = i + 1;
            x->nstreams = c->argc - x->streams_arg;
            if (x->nstreams % 2) {
                resp_add_errorf(&c->out, "ERR Unbalanced %s list of streams: for each stream key an ID or '%c' must be specified.",
                                xrg ? "XREADGROUP" : "XREAD", xrg ? '>' : '$');
                return -1;
            }
            x->nstreams /= 2;
            break;
        } else if (ARG_IS(c, i, "group") && more >= 2) {
            if (!xrg) {
                resp_add_error(&c->out, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return -1;
            }
            x->group = 1;
            x->garg = i + 1;
            x->carg = i + 2;
            i += 2;
        } else if (ARG_IS(c, i, "noack")) {
            if (!xrg) {
                resp_add_error(&c->out, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return -1;
            }
            x->noack = 1;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return -1;
        }
    }
    if (!x->streams_arg) {
        resp_add_error(&c->out, resp_err_syntax);
        return -1;
    }
    if (xrg && !x->group) {
        resp_add_error(&c->out, "ERR Missing GROUP option for XREADGROUP");
        return -1;
    }
    return 0;
}

static const struct sid SID_MAX = { UINT64_MAX, UINT64_MAX };

/* Deliver new entries after `start` to a group's consumer (XREADGROUP >):
 * PEL records, group last ID and entries-read as streamReplyWithRange. */
static long long reply_group_new(client *c, struct sctx *s, struct sgroup *g, struct sid start,
                                 long long count, int noack, const char *cname, size_t cl)
{
    size_t mark = resp_defer(&c->out);
    long long n = 0;
    uint64_t now = srv.cmd_time_ms;
    stream_iter si;
    struct snack nk;
    buf_init(&nk.consumer);
    stream_iter_open(&si, s->m.version, start, 0);
    for (; si.valid; stream_iter_next(&si)) {
        struct sid id = si.id;
        if (sid_cmp(id, g->last) > 0) {
            if (g->entries_read != SCG_INVALID_ENTRIES_READ && !stream_range_has_tombstones(s, id))
                g->entries_read++;
            else if (s->h.added)
                g->entries_read = stream_estimate_distance(s, id);
            g->last = id;
        }
        size_t vl;
        const char *v = stream_iter_val(&si, &vl);
        sreply_entry(c, id, v, vl);
        if (!noack) {
            int had = stream_nack_get(s->m.version, g->gid, id, &nk);
            nk.dtime = now;
            nk.dcount = 1;
            snack_assign(s, g, id, &nk, cname, cl, had == 1);
        }
        n++;
        if (count && n == count) break;
    }
    stream_iter_close(&si);
    buf_free(&nk.consumer);
    resp_set_deferred_array(&c->out, mark, n);
    return n;
}

/* XREADGROUP with an ID: the consumer's own pending entries after it. */
static long long reply_group_history(client *c, struct sctx *s, struct sgroup *g, struct sid start,
                                     long long count, const char *cname, size_t cl)
{
    size_t mark = resp_defer(&c->out);
    long long n = 0;
    buf pre, k;
    buf_init(&pre);
    buf_init(&k);
    stream_cpel_prefix(&pre, s->m.version, g->gid, cname, cl);
    buf_append(&k, pre.data, pre.len);
    sid_append(&k, start);
    struct snack nk;
    buf_init(&nk.consumer);
    /* Collect the IDs first: the loop writes PEL records under the walk. */
    struct sid *ids = NULL;
    size_t nids = 0, cap = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, k.data, k.len); store_iter_valid(it) && (!count || (long long)nids < count);
         store_iter_next(it)) {
        size_t kl;
        const char *key = store_iter_key(it, &kl);
        if (kl != pre.len + 16 || memcmp(key, pre.data, pre.len)) break;
        if (nids == cap) {
            cap = cap ? cap * 2 : 16;
            ids = xrealloc(ids, cap * sizeof *ids);
        }
        ids[nids++] = sid_decode(key + pre.len);
    }
    store_iter_free(it);
    for (size_t i = 0; i < nids; i++) {
        if (sreply_lookup(c, s->m.version, ids[i])) {
            if (stream_nack_get(s->m.version, g->gid, ids[i], &nk) == 1) {
                nk.dtime = srv.cmd_time_ms;
                nk.dcount++;
                stream_nack_put(s->m.version, g->gid, ids[i], &nk);
            }
        } else {
            resp_add_array(&c->out, 2);
            sreply_id(c, ids[i]);
            resp_add_null_array(&c->out, c->resp);
        }
        n++;
    }
    free(ids);
    buf_free(&nk.consumer);
    buf_free(&pre);
    buf_free(&k);
    resp_set_deferred_array(&c->out, mark, n);
    return n;
}

/* The XREAD / XREADGROUP call proper, also run by the blocking retry
 * (retry_key: the key that became ready, or NULL).  Returns 1 if it
 * replied, 0 if there was nothing to serve (nothing replied). */
static int xread_serve(client *c, const struct xread_args *x, const char *retry_key, size_t rkl)
{
    int xrg = x->group;
    struct sid *ids = xcalloc((size_t)x->nstreams, sizeof *ids);
    int rc = 1;
    struct sctx s;
    meta_init(&s.m);
    for (int i = 0; i < x->nstreams; i++) {
        int ka = x->streams_arg + i, ia = ka + x->nstreams;
        if (retry_key) {
            /* the blocking retry: only the ready key, IDs as blocked */
            if (c->argvlen[ka] != rkl || memcmp(c->argv[ka], retry_key, rkl)) continue;
        }
        int r;
        if (retry_key) {
            /* A waiter's key that is no stream: XREAD keeps waiting,
             * XREADGROUP gets Redis's UNBLOCKED error below. */
            r = db_lookup(ARG(c, ka), &s.m);
            if (r < 0) {
                reply_storage_error(c);
                goto out;
            }
            if (r != T_STREAM) {
                if (!xrg) {
                    rc = 0;
                    goto out;
                }
                r = 0;
            } else if (stream_hdr_load(s.m.version, &s.h) < 0) {
                reply_storage_error(c);
                goto out;
            } else {
                r = 1;
            }
        } else {
            r = sctx_lookup(c, ka, &s);
        }
        if (r < 0) goto out;
        struct sgroup g;
        if (xrg) {
            if (r == 0 || stream_group_get(s.m.version, ARG(c, x->garg), &g) != 1) {
                if (retry_key) {
                    if (r == 0) resp_add_error(&c->out, "UNBLOCKED the stream key no longer exists");
                    else resp_add_error(&c->out, "NOGROUP the consumer group this client was blocked on no longer exists");
                } else {
                    resp_add_errorf(&c->out, "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with GROUP option",
                                    (int)c->argvlen[ka], c->argv[ka], (int)c->argvlen[x->garg], c->argv[x->garg]);
                }
                goto out;
            }
        }
        if (c->argvlen[ia] == 1 && c->argv[ia][0] == '$') {
            if (xrg) {
                resp_add_error(&c->out, "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
                goto out;
            }
            ids[i] = s.h.last;
        } else if (c->argvlen[ia] == 1 && c->argv[ia][0] == '>') {
            if (!xrg) {
                resp_add_error(&c->out, "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
                goto out;
            }
            ids[i] = SID_MAX;
        } else if (sid_parse(c, ARG(c, ia), &ids[i], 0, 1, NULL) < 0) {
            goto out;
        }
    }
    long long served = 0;
    size_t mark = resp_defer(&c->out);
    for (int i = 0; i < x->nstreams; i++) {
        int ka = x->streams_arg + i;
        if (retry_key && (c->argvlen[ka] != rkl || memcmp(c->argv[ka], retry_key, rkl))) continue;
        int r = sctx_lookup(c, ka, &s);
        if (r < 0) goto out;
        if (r == 0) continue;
        struct sgroup g;
        struct sid gt = ids[i];
        int sync = 0, history = 0;
        if (xrg) {
            stream_group_get(s.m.version, ARG(c, x->garg), &g);
            if (sid_cmp(gt, SID_MAX) != 0) {
                sync = history = 1;
            } else if (s.m.count) {
                struct sid maxid;
                stream_edge(s.m.version, 1, &maxid);
                if (sid_cmp(maxid, g.last) > 0) {
                    sync = 1;
                    gt = g.last;
                }
            }
        } else if (s.m.count) {
            struct sid maxid;
            stream_edge(s.m.version, 1, &maxid);
            if (sid_cmp(maxid, gt) > 0) sync = 1;
        }
        if (!sync) continue;
        served++;
        struct sid start = gt;
        sid_incr(&start);
        if (c->resp == RESP2) resp_add_array(&c->out, 2);
        resp_add_bulk(&c->out, ARG(c, ka));
        long long count = x->count;
        if (retry_key && !count) count = XREAD_BLOCKED_DEFAULT_COUNT;
        if (xrg) {
            sconsumer_touch(c, ka, &s, ARG(c, x->garg), &g, ARG(c, x->carg), 1, 0);
            if (history) reply_group_history(c, &s, &g, start, count, ARG(c, x->carg));
            else reply_group_new(c, &s, &g, start, count, x->noack, ARG(c, x->carg));
            /* group records only: like Redis, no touch of the key (WATCH) */
            stream_group_put(s.m.version, ARG(c, x->garg), &g);
        } else {
            reply_range(c, s.m.version, start, SID_MAX, count, 0);
        }
    }
    if (served) {
        if (c->resp == RESP2) resp_set_deferred_array(&c->out, mark, served);
        else resp_set_deferred_map(&c->out, mark, c->resp, served);
    } else {
        c->out.len = mark;
        rc = 0;
    }
out:
    sctx_free(&s);
    free(ids);
    return rc;
}

static int xread_retry(client *c, const char *key, size_t klen)
{
    struct xread_args x;
    size_t mark = c->out.len;
    if (xread_parse(c, &x) < 0) return 1;
    int r = xread_serve(c, &x, key, klen);
    if (!r) c->out.len = mark;
    return r;
}

static void xread_command(client *c)
{
    struct xread_args x;
    if (xread_parse(c, &x) < 0) return;
    size_t mark = c->out.len;
    if (xread_serve(c, &x, NULL, 0)) return;
    if (c->out.len != mark) return; /* an error */
    if (x.timeout == -1) {
        resp_add_null_array(&c->out, c->resp);
        return;
    }
    /* Block: "$" becomes the last ID now, so the retry waits for entries
     * added after this call (Redis resolves it when it blocks). */
    char **argv = xmalloc(sizeof *argv * (size_t)c->argc);
    size_t *argvlen = xmalloc(sizeof *argvlen * (size_t)c->argc);
    char (*idbuf)[48] = xcalloc((size_t)x.nstreams, 48);
    memcpy(argv, c->argv, sizeof *argv * (size_t)c->argc);
    memcpy(argvlen, c->argvlen, sizeof *argvlen * (size_t)c->argc);
    struct meta m;
    meta_init(&m);
    for (int i = 0; i < x.nstreams; i++) {
        int ia = x.streams_arg + x.nstreams + i;
        if (argvlen[ia] == 1 && argv[ia][0] == '$') {
            struct stream_hdr h;
            memset(&h, 0, sizeof h);
            if (db_lookup(ARG(c, x.streams_arg + i), &m) == T_STREAM) stream_hdr_load(m.version, &h);
            argvlen[ia] = sid_fmt(idbuf[i], h.last);
            argv[ia] = idbuf[i];
        }
    }
    meta_free(&m);
    char **oargv = c->argv;
    size_t *oargvlen = c->argvlen;
    c->argv = argv;
    c->argvlen = argvlen;
    int r = block_client(c, x.streams_arg, x.nstreams, 1, x.deadline, xread_retry);
    c->argv = oargv;
    c->argvlen = oargvlen;
    free(argv);
    free(argvlen);
    free(idbuf);
    if (r < 0) resp_add_null_array(&c->out, c->resp);
}

/* ---------------- XINFO ---------------- */

static void xinfo_help(client *c)
{
    static const char *lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    resp_add_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++) resp_add_simple(&c->out, lines[i]);
}

static void reply_group_info(client *c, const struct sctx *s, const char *name, size_t nl,
                             const struct sgroup *g)
{
    resp_add_map(&c->out, c->resp, 6);
    resp_add_bulk_str(&c->out, "name");
    resp_add_bulk(&c->out, name, nl);
    resp_add_bulk_str(&c->out, "consumers");
    resp_add_int(&c->out, (long long)g->consumers);
    resp_add_bulk_str(&c->out, "pending");
    resp_add_int(&c->out, (long long)g->pel);
    resp_add_bulk_str(&c->out, "last-delivered-id");
    sreply_id(c, g->last);
    resp_add_bulk_str(&c->out, "entries-read");
    if (g->entries_read != SCG_INVALID_ENTRIES_READ) resp_add_int(&c->out, g->entries_read);
    else resp_add_null(&c->out, c->resp);
    resp_add_bulk_str(&c->out, "lag");
    sreply_lag(c, s, g);
}

/* Walk records 'D' ver kind [gid]: fn per key suffix and value. */
typedef void walk_fn(client *c, void *ctx, const char *k, size_t kl, const char *v, size_t vl);
static long long walk_prefix(client *c, const buf *pre, long long max, walk_fn *fn, void *ctx)
{
    long long n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, pre->data, pre->len); store_iter_valid(it) && (!max || n < max);
         store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < pre->len || memcmp(k, pre->data, pre->len)) break;
        const char *v = store_iter_val(it, &vl);
        fn(c, ctx, k + pre->len, kl - pre->len, v, vl);
        n++;
    }
    store_iter_free(it);
    return n;
}

static void group_info_fn(client *c, void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    const struct sctx *s = ctx;
    struct sgroup g;
    (void)v;
    (void)vl;
    if (stream_group_get(s->m.version, k, kl, &g) == 1) reply_group_info(c, s, k, kl, &g);
}

struct cinfo_ctx {
    const struct sctx *s;
    struct sgroup *g;
    int full;
    long long count;
};

static void consumer_info_fn(client *c, void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct cinfo_ctx *ci = ctx;
    uint64_t seen = vl >= 16 ? get_u64be((const unsigned char *)v) : 0;
    uint64_t pending = vl >= 16 ? get_u64be((const unsigned char *)v + 8) : 0;
    if (!ci->full) {
        resp_add_map(&c->out, c->resp, 3);
        resp_add_bulk_str(&c->out, "name");
        resp_add_bulk(&c->out, k, kl);
        resp_add_bulk_str(&c->out, "pending");
        resp_add_int(&c->out, (long long)pending);
        resp_add_bulk_str(&c->out, "idle");
        long long idle = ms_elapsed(srv.cmd_time_ms, seen);
        resp_add_int(&c->out, idle < 0 ? 0 : idle);
        return;
    }
    resp_add_map(&c->out, c->resp, 4);
    resp_add_bulk_str(&c->out, "name");
    resp_add_bulk(&c->out, k, kl);
    resp_add_bulk_str(&c->out, "seen-time");
    resp_add_int(&c->out, (long long)seen);
    resp_add_bulk_str(&c->out, "pel-count");
    resp_add_int(&c->out, (long long)pending);
    resp_add_bulk_str(&c->out, "pending");
    buf pre;
    buf_init(&pre);
    stream_cpel_prefix(&pre, ci->s->m.version, ci->g->gid, k, kl);
    size_t mark = resp_defer(&c->out);
    long long n = 0;
    store_iter *it = store_iter_new(srv.st);
    struct snack nk;
    buf_init(&nk.consumer);
    for (store_iter_seek(it, pre.data, pre.len); store_iter_valid(it) && (!ci->count || n < ci->count);
         store_iter_next(it)) {
        size_t ikl;
        const char *ik = store_iter_key(it, &ikl);
        if (ikl != pre.len + 16 || memcmp(ik, pre.data, pre.len)) break;
        struct sid id = sid_decode(ik + pre.len);
        if (stream_nack_get(ci->s->m.version, ci->g->gid, id, &nk) != 1) continue;
        resp_add_array(&c->out, 3);
        sreply_id(c, id);
        resp_add_int(&c->out, (long long)nk.dtime);
        resp_add_int(&c->out, (long long)nk.dcount);
        n++;
    }
    store_iter_free(it);
    buf_free(&nk.consumer);
    buf_free(&pre);
    resp_set_deferred_array(&c->out, mark, n);
}

static void pel_full_fn(client *c, void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    (void)ctx;
    if (kl != 16 || vl < 16) return;
    resp_add_array(&c->out, 4);
    sreply_id(c, sid_decode(k));
    resp_add_bulk(&c->out, v + 16, vl - 16);
    resp_add_int(&c->out, (long long)get_u64be((const unsigned char *)v));
    resp_add_int(&c->out, (long long)get_u64be((const unsigned char *)v + 8));
}

static void group_full_fn(client *c, void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct cinfo_ctx *ci = ctx;
    struct sgroup g;
    (void)v;
    (void)vl;
    if (stream_group_get(ci->s->m.version, k, kl, &g) != 1) return;
    resp_add_map(&c->out, c->resp, 7);
    resp_add_bulk_str(&c->out, "name");
    resp_add_bulk(&c->out, k, kl);
    resp_add_bulk_str(&c->out, "last-delivered-id");
    sreply_id(c, g.last);
    resp_add_bulk_str(&c->out, "entries-read");
    if (g.entries_read != SCG_INVALID_ENTRIES_READ) resp_add_int(&c->out, g.entries_read);
    else resp_add_null(&c->out, c->resp);
    resp_add_bulk_str(&c->out, "lag");
    sreply_lag(c, ci->s, &g);
    resp_add_bulk_str(&c->out, "pel-count");
    resp_add_int(&c->out, (long long)g.pel);
    resp_add_bulk_str(&c->out, "pending");
    buf pre;
    buf_init(&pre);
    stream_gkey(&pre, ci->s->m.version, 'p', g.gid);
    size_t mark = resp_defer(&c->out);
    long long n = walk_prefix(c, &pre, ci->count, pel_full_fn, NULL);
    resp_set_deferred_array(&c->out, mark, n);
    resp_add_bulk_str(&c->out, "consumers");
    stream_gkey(&pre, ci->s->m.version, 'c', g.gid);
    struct cinfo_ctx sub = { ci->s, &g, 1, ci->count };
    mark = resp_defer(&c->out);
    n = walk_prefix(c, &pre, 0, consumer_info_fn, &sub);
    resp_set_deferred_array(&c->out, mark, n);
    buf_free(&pre);
}

static void xinfo_stream(client *c, struct sctx *s, int full, long long count)
{
    long long keys = (long long)s->h.nodes;
    resp_add_map(&c->out, c->resp, full ? 9 : 10);
    resp_add_bulk_str(&c->out, "length");
    resp_add_int(&c->out, (long long)s->m.count);
    resp_add_bulk_str(&c->out, "radix-tree-keys");
    resp_add_int(&c->out, keys);
    resp_add_bulk_str(&c->out, "radix-tree-nodes");
    resp_add_int(&c->out, keys + 1);
    resp_add_bulk_str(&c->out, "last-generated-id");
    sreply_id(c, s->h.last);
    resp_add_bulk_str(&c->out, "max-deleted-entry-id");
    sreply_id(c, s->h.maxdel);
    resp_add_bulk_str(&c->out, "entries-added");
    resp_add_int(&c->out, (long long)s->h.added);
    resp_add_bulk_str(&c->out, "recorded-first-entry-id");
    sreply_id(c, stream_first_id(s));
    struct sid zero = { 0, 0 };
    buf pre;
    buf_init(&pre);
    if (!full) {
        resp_add_bulk_str(&c->out, "groups");
        resp_add_int(&c->out, (long long)s->h.groups);
        struct sid first, last;
        resp_add_bulk_str(&c->out, "first-entry");
        if (s->m.count && stream_edge(s->m.version, 0, &first)) sreply_lookup(c, s->m.version, first);
        else resp_add_null(&c->out, c->resp);
        resp_add_bulk_str(&c->out, "last-entry");
        if (s->m.count && stream_edge(s->m.version, 1, &last)) sreply_lookup(c, s->m.version, last);
        else resp_add_null(&c->out, c->resp);
    } else {
        resp_add_bulk_str(&c->out, "entries");
        reply_range(c, s->m.version, zero, SID_MAX, count, 0);
        resp_add_bulk_str(&c->out, "groups");
        stream_key(&pre, s->m.version, 'g');
        struct cinfo_ctx ci = { s, NULL, 1, count };
        size_t mark = resp_defer(&c->out);
        long long n = walk_prefix(c, &pre, 0, group_full_fn, &ci);
        resp_set_deferred_array(&c->out, mark, n);
    }
    buf_free(&pre);
}

static void xinfo_command(client *c)
{
    if (ARG_IS(c, 1, "help")) {
        xinfo_help(c);
        return;
    }
    struct sctx s;
    meta_init(&s.m);
    int stream = ARG_IS(c, 1, "stream"), full = 0;
    long long count = 10;
    int r = lookup_typed(c, 2, &s.m, T_STREAM);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_error(&c->out, "ERR no such key");
        goto done;
    }
    if (stream_hdr_load(s.m.version, &s.h) < 0) {
        reply_storage_error(c);
        goto done;
    }
    if (stream && c->argc > 3) {
        /* XINFO STREAM key FULL [COUNT n] */
        if (c->argc > 6 || !ARG_IS(c, 3, "full")) {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
        full = 1;
        if (c->argc > 4) {
            if (c->argc != 6 || !ARG_IS(c, 4, "count")) {
                resp_add_error(&c->out, resp_err_syntax);
                goto done;
            }
            if (arg_ll(c, 5, &count) < 0) goto done;
            if (count < 0) count = 0;
        }
    }
    buf pre;
    buf_init(&pre);
    if (stream) {
        xinfo_stream(c, &s, full, count);
    } else if (ARG_IS(c, 1, "groups")) {
        stream_key(&pre, s.m.version, 'g');
        size_t mark = resp_defer(&c->out);
        long long n = walk_prefix(c, &pre, 0, group_info_fn, &s);
        resp_set_deferred_array(&c->out, mark, n);
    } else {
        struct sgroup g;
        if (stream_group_get(s.m.version, ARG(c, 3), &g) != 1) {
            resp_add_errorf(&c->out, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                            (int)c->argvlen[3], c->argv[3], (int)c->argvlen[2], c->argv[2]);
        } else {
            stream_gkey(&pre, s.m.version, 'c', g.gid);
            struct cinfo_ctx ci = { &s, &g, 0, 0 };
            size_t mark = resp_defer(&c->out);
            long long n = walk_prefix(c, &pre, 0, consumer_info_fn, &ci);
            resp_set_deferred_array(&c->out, mark, n);
        }
    }
    buf_free(&pre);
done:
    sctx_free(&s);
}

void t_stream_register(void)
{
    block_init();
    server_register(CMD_XADD, xadd_command);
    server_register(CMD_XLEN, xlen_command);
    server_register(CMD_XDEL, xdel_command);
    server_register(CMD_XTRIM, xtrim_command);
    server_register(CMD_XSETID, xsetid_command);
    server_register(CMD_XRANGE, xrange_command);
    server_register(CMD_XREVRANGE, xrevrange_command);
    server_register(CMD_XREAD, xread_command);
    server_register(CMD_XREADGROUP, xread_command);
    server_register(CMD_XINFO, xinfo_command);
    t_stream_group_register();
}
