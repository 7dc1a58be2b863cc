/* t_geo: geo commands on sorted sets whose scores are 52-bit geohashes
 * (geohash.h): GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH(STORE) and the
 * deprecated GEORADIUS family.
 *
 * A search scans the score ranges of the cell holding the center and of
 * its eight neighbours (each cell is one contiguous score range, one seek
 * in the score index), keeps the points inside the shape, then sorts and
 * trims as Redis 7.0's georadiusGeneric does; replies, the order of
 * argument checks and the error texts are Redis's.
 *
 * Sorting: a full sort uses the C library's qsort, as Redis does; when
 * COUNT keeps fewer results than were found, Redis sorts only the kept
 * range with its pqsort (a Bentley-McIlroy quicksort that skips the
 * partitions outside the range), and points at the same distance come
 * out in the order that algorithm leaves them, so geo_psort below follows
 * the same steps. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zset_internal.h"
#include "cmd.h"
#include "geohash.h"
#include "notify.h"
#include "util.h"

static const char ERR_UNIT[] = "ERR unsupported unit provided. please use M, KM, FT, MI";
static const char ERR_MEMBER[] = "ERR could not decode requested zset member";

/* (lon, lat) from arguments i and i+1.  0, or -1 (replied). */
static int arg_lonlat(client *c, int i, double xy[2])
{
    for (int j = 0; j < 2; j++)
        if (arg_double(c, i + j, &xy[j]) < 0) return -1;
    if (xy[0] < GEO_LONG_MIN || xy[0] > GEO_LONG_MAX || xy[1] < GEO_LAT_MIN || xy[1] > GEO_LAT_MAX) {
        resp_add_errorf(&c->out, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return -1;
    }
    return 0;
}

/* Meters per unit of argument i, or -1 (replied). */
static double arg_unit(client *c, int i)
{
    if (ARG_IS(c, i, "m")) return 1;
    if (ARG_IS(c, i, "km")) return 1000;
    if (ARG_IS(c, i, "ft")) return 0.3048;
    if (ARG_IS(c, i, "mi")) return 1609.34;
    resp_add_error(&c->out, ERR_UNIT);
    return -1;
}

static int arg_double_msg(client *c, int i, double *v, const char *err)
{
    if (str2d(ARG(c, i), v) < 0) {
        resp_add_error(&c->out, err);
        return -1;
    }
    return 0;
}

/* "radius unit" at argument i. */
static int arg_radius(client *c, int i, struct geo_shape *s)
{
    double r;
    if (arg_double_msg(c, i, &r, "ERR need numeric radius") < 0) return -1;
    if (r < 0) {
        resp_add_error(&c->out, "ERR radius cannot be negative");
        return -1;
    }
    s->radius = r;
    double conv = arg_unit(c, i + 1);
    if (conv < 0) return -1;
    s->conversion = conv;
    return 0;
}

/* "width height unit" at argument i. */
static int arg_box(client *c, int i, struct geo_shape *s)
{
    double w, h;
    if (arg_double_msg(c, i, &w, "ERR need numeric width") < 0 ||
        arg_double_msg(c, i + 1, &h, "ERR need numeric height") < 0)
        return -1;
    if (h < 0 || w < 0) {
        resp_add_error(&c->out, "ERR height or width cannot be negative");
        return -1;
    }
    s->width = w;
    s->height = h;
    double conv = arg_unit(c, i + 2);
    if (conv < 0) return -1;
    s->conversion = conv;
    return 0;
}

/* Coordinates of a member: 1 (xy set), 0 (absent or undecodable), -1
 * (storage error). */
static int member_lonlat(const struct meta *m, const char *mem, size_t ml, double xy[2])
{
    double score;
    int r = zset_score(m->version, mem, ml, &score);
    if (r <= 0) return r;
    return geohash_decode_score(score, xy) ? 1 : 0;
}

/* Redis's addReplyHumanLongDouble: a bulk string in RESP2, a double in
 * RESP3, both with 17 decimals and no trailing zeros. */
static void reply_human_double(client *c, double d)
{
    char tmp[5120];
    int n = ld2str_human(tmp, sizeof tmp, (long double)d);
    if (c->resp == RESP3) {
        buf_append(&c->out, ",", 1);
        buf_append(&c->out, tmp, (size_t)n);
        buf_append(&c->out, "\r\n", 2);
    } else {
        resp_add_bulk(&c->out, tmp, (size_t)n);
    }
}

/* Distances: 4 decimals, a bulk string in both protocols.  Redis 7.0
 * rounds d * 10^4 to an integer with llrint (ties to even), which is not
 * always printf's "%.4f" (63003257.57675 prints .5768, not .5767). */
static void reply_distance(client *c, double d)
{
    char tmp[64];
    long long v = llrint(d * 10000.0);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = snprintf(tmp, sizeof tmp, "%s%llu.%04llu", v < 0 ? "-" : "", u / 10000, u % 10000);
    resp_add_bulk(&c->out, tmp, (size_t)n);
}

/* ---------------- GEOADD ---------------- */

static void geoadd_command(client *c)
{
    int xx = 0, nx = 0, idx = 2;
    while (idx < c->argc) {
        if (ARG_IS(c, idx, "nx")) nx = 1;
        else if (ARG_IS(c, idx, "xx")) xx = 1;
        else if (!ARG_IS(c, idx, "ch")) break;
        idx++;
    }
    if ((c->argc - idx) % 3 || (xx && nx)) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    int elements = (c->argc - idx) / 3;
    /* GEOADD is ZADD with the scores computed: build "ZADD key [opts]
     * score member ..." and run ZADD's handler on it, as Redis does. */
    int argc = idx + elements * 2;
    /* The three arrays in one block, on the stack for a few points. */
    size_t need = (size_t)(argc + 1) * (sizeof(char *) + sizeof(size_t)) + 24 * (size_t)(elements + 1);
    _Alignas(max_align_t) char local[512];
    char *block = need <= sizeof local ? local : xmalloc(need);
    char **argv = (char **)block;
    size_t *lens = (size_t *)(argv + argc + 1);
    char *scores = (char *)(lens + argc + 1);
    argv[0] = "zadd";
    lens[0] = 4;
    for (int i = 1; i < idx; i++) {
        argv[i] = c->argv[i];
        lens[i] = c->argvlen[i];
    }
    for (int i = 0; i < elements; i++) {
        double xy[2];
        if (arg_lonlat(c, idx + i * 3, xy) < 0) goto done;
        struct geo_bits h;
        geohash_encode_wgs84(xy[0], xy[1], GEO_STEP_MAX, &h);
        char *s = scores + 24 * i;
        int n = ll2str(s, 24, (long long)geohash_align52(h));
        argv[idx + i * 2] = s;
        lens[idx + i * 2] = (size_t)n;
        argv[idx + i * 2 + 1] = c->argv[idx + i * 3 + 2];
        lens[idx + i * 2 + 1] = c->argvlen[idx + i * 3 + 2];
    }
    int oargc = c->argc;
    char **oargv = c->argv;
    size_t *olens = c->argvlen;
    c->argc = argc;
    c->argv = argv;
    c->argvlen = lens;
    srv.procs[CMD_ZADD](c);
    c->argc = oargc;
    c->argv = oargv;
    c->argvlen = olens;
done:
    if (block != local) free(block);
}

/* ---------------- GEODIST, GEOHASH, GEOPOS ---------------- */

static void geodist_command(client *c)
{
    double to_m = 1;
    if (c->argc == 5) {
        to_m = arg_unit(c, 4);
        if (to_m < 0) return;
    } else if (c->argc > 5) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r == 0) resp_add_null(&c->out, c->resp);
    if (r != 1) goto done;
    double a[2], b[2];
    int ra = member_lonlat(&m, ARG(c, 2), a);
    int rb = ra == 1 ? member_lonlat(&m, ARG(c, 3), b) : 0;
    if (ra < 0 || rb < 0) reply_storage_error(c);
    else if (ra == 0 || rb == 0) resp_add_null(&c->out, c->resp);
    else reply_distance(c, geohash_distance(a[0], a[1], b[0], b[1]) / to_m);
done:
    meta_free(&m);
}

static void geohash_command(client *c)
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r < 0) goto done;
    size_t mark = c->out.len;
    resp_add_array(&c->out, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        int f = r == 1 ? member_lonlat(&m, ARG(c, j), xy) : 0;
        if (f < 0) {
            c->out.len = mark;
            reply_storage_error(c);
            goto done;
        }
        if (f == 0) {
            resp_add_null(&c->out, c->resp);
            continue;
        }
        /* The standard geohash covers latitudes -90..90, not the geo
         * index's range: re-encode the decoded point. */
        struct geo_range lon_r = { -180, 180 }, lat_r = { -90, 90 };
        struct geo_bits h;
        geohash_encode(&lon_r, &lat_r, xy[0], xy[1], 26, &h);
        char out[11];
        for (int i = 0; i < 11; i++) {
            /* 52 bits make 10 characters and 2 bits: the 11th is "0". */
            int k = i == 10 ? 0 : (int)((h.bits >> (52 - ((i + 1) * 5))) & 0x1f);
            out[i] = alphabet[k];
        }
        resp_add_bulk(&c->out, out, 11);
    }
done:
    meta_free(&m);
}

static void geopos_command(client *c)
{
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_ZSET);
    if (r < 0) goto done;
    size_t mark = c->out.len;
    resp_add_array(&c->out, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        int f = r == 1 ? member_lonlat(&m, ARG(c, j), xy) : 0;
        if (f < 0) {
            c->out.len = mark;
            reply_storage_error(c);
            goto done;
        }
        if (f == 1) {
            resp_add_array(&c->out, 2);
            reply_human_double(c, xy[0]);
            reply_human_double(c, xy[1]);
        } else {
            resp_add_null_array(&c->out, c->resp);
        }
    }
done:
    meta_free(&m);
}

/* ---------------- searches ---------------- */

struct geo_point {
    double lon, lat, dist, score;
    size_t moff, mlen;  /* the member: names.data + moff */
};

/* The points found; their members are copied one after another into
 * names (one growing buffer, not an allocation per point). */
struct geo_points {
    struct geo_point *p;
    size_t used, cap;
    buf names;
};

static void points_free(struct geo_points *a)
{
    free(a->p);
    buf_free(&a->names);
}

/* Points of the zset in one cell's score range that are inside the
 * shape, in score order, stopping at `limit` points (0: none). */
static int scan_cell(zwalk *w, struct geo_bits cell, const struct geo_shape *s,
                     struct geo_points *a, size_t limit)
{
    struct zscore_range r;
    r.min = (double)geohash_align52(cell);
    cell.bits++;
    r.max = (double)geohash_align52(cell);
    r.minex = 0;
    r.maxex = 1;
    int ok = zwalk_score_start(w, &r);
    while (ok > 0 && zwalk_score_in(w, &r)) {
        double xy[2], dist;
        if (geohash_decode_score(w->score, xy) && geohash_in_shape(s, xy[0], xy[1], &dist)) {
            if (a->used == a->cap) {
                a->cap = a->cap ? a->cap * 2 : 16;
                a->p = xrealloc(a->p, a->cap * sizeof *a->p);
            }
            struct geo_point *g = &a->p[a->used++];
            g->lon = xy[0];
            g->lat = xy[1];
            g->dist = dist;
            g->score = w->score;
            g->moff = a->names.len;
            g->mlen = w->mlen;
            buf_append(&a->names, w->member, w->mlen);
        }
        if (a->used && limit && a->used >= limit) break;
        ok = zwalk_next(w);
    }
    return ok < 0 ? -1 : 0;
}

static int scan_shape(const struct meta *m, const struct geo_shape *s, struct geo_points *a,
                      size_t limit)
{
    struct geo_cells cells;
    geohash_cells_for_shape(s, &cells);
    buf_reserve(&a->names, 256);    /* names.data is never NULL */
    /* One walker (one store iterator) seeks to each cell in turn. */
    zwalk w;
    zwalk_open(&w, m->version, 0);
    int rc = 0, last = 0;
    for (int i = 0; i < 9; i++) {
        struct geo_bits h = cells.cell[i];
        if (h.bits == 0 && h.step == 0) continue;
        /* Huge radii make neighbours coincide: skip a cell equal to the
         * previous one scanned (Redis compares with it only once a
         * neighbour, not the center, was scanned). */
        if (last && h.bits == cells.cell[last].bits && h.step == cells.cell[last].step) continue;
        if (a->used && limit && a->used >= limit) break;
        if (scan_cell(&w, h, s, a, limit) < 0) {
            rc = -1;
            break;
        }
        last = i;
    }
    zwalk_close(&w);
    return rc;
}

static int cmp_asc(const void *x, const void *y)
{
    const struct geo_point *a = x, *b = y;
    if (a->dist > b->dist) return 1;
    if (a->dist == b->dist) return 0;
    return -1;
}

static int cmp_desc(const void *x, const void *y) { return -cmp_asc(x, y); }

/* ---- the partial sort ---- */

typedef int geo_cmp(const void *, const void *);

static void pt_swap(struct geo_point *a, struct geo_point *b)
{
    struct geo_point t = *a;
    *a = *b;
    *b = t;
}

/* Swap the n elements from a with the n from b, pairwise. */
static void pt_vecswap(struct geo_point *a, struct geo_point *b, size_t n)
{
    for (size_t i = 0; i < n; i++) pt_swap(a + i, b + i);
}

static struct geo_point *pt_med3(struct geo_point *a, struct geo_point *b, struct geo_point *c,
                                 geo_cmp *cmp)
{
    if (cmp(a, b) < 0) return cmp(b, c) < 0 ? b : (cmp(a, c) < 0 ? c : a);
    return cmp(b, c) > 0 ? b : (cmp(a, c) < 0 ? a : c);
}

static void pt_insertion(struct geo_point *a, size_t n, geo_cmp *cmp)
{
    for (size_t m = 1; m < n; m++)
        for (size_t l = m; l > 0 && cmp(&a[l - 1], &a[l]) > 0; l--) pt_swap(&a[l], &a[l - 1]);
}

/* Sort a[0..n) enough that the elements of ranks lo..hi (indexes into
 * the whole array `base`) are in their sorted places. */
static void geo_psort_range(struct geo_point *base, struct geo_point *a, size_t n, geo_cmp *cmp,
                            size_t lo, size_t hi)
{
    for (;;) {
        if (n < 7) {
            pt_insertion(a, n, cmp);
            return;
        }
        struct geo_point *pm = a + n / 2;
        if (n > 7) {
            struct geo_point *pl = a, *pn = a + n - 1;
            if (n > 40) {
                size_t d = n / 8;
                pl = pt_med3(pl, pl + d, pl + 2 * d, cmp);
                pm = pt_med3(pm - d, pm, pm + d, cmp);
                pn = pt_med3(pn - 2 * d, pn - d, pn, cmp);
            }
            pm = pt_med3(pl, pm, pn, cmp);
        }
        pt_swap(a, pm);
        /* Partition around a[0]: equal elements gather at both ends
         * ([a+1, pa) and (pd, end)), then move to the middle. */
        struct geo_point *pa = a + 1, *pb = a + 1, *pc = a + n - 1, *pd = a + n - 1;
        int swapped = 0, r;
        for (;;) {
            while (pb <= pc && (r = cmp(pb, a)) <= 0) {
                if (r == 0) {
                    swapped = 1;
                    pt_swap(pa, pb);
                    pa++;
                }
                pb++;
            }
            while (pb <= pc && (r = cmp(pc, a)) >= 0) {
                if (r == 0) {
                    swapped = 1;
                    pt_swap(pc, pd);
                    pd--;
                }
                pc--;
            }
            if (pb > pc) break;
            pt_swap(pb, pc);
            swapped = 1;
            pb++;
            pc--;
        }
        if (!swapped) {
            pt_insertion(a, n, cmp);
            return;
        }
        struct geo_point *pn = a + n;
        size_t k = (size_t)(pa - a) < (size_t)(pb - pa) ? (size_t)(pa - a) : (size_t)(pb - pa);
        pt_vecswap(a, pb - k, k);
        k = (size_t)(pd - pc) < (size_t)(pn - pd - 1) ? (size_t)(pd - pc) : (size_t)(pn - pd - 1);
        pt_vecswap(pb, pn - k, k);
        /* Recurse into a side only if it holds part of the wanted ranks. */
        size_t left = (size_t)(pb - pa);
        if (left > 1) {
            size_t s = (size_t)(a - base), e = s + left - 1;
            if (!((lo < s && hi < s) || (lo > e && hi > e))) geo_psort_range(base, a, left, cmp, lo, hi);
        }
        size_t right = (size_t)(pd - pc);
        if (right <= 1) return;
        a = pn - right;
        n = right;
        size_t s = (size_t)(a - base), e = s + right - 1;
        if ((lo < s && hi < s) || (lo > e && hi > e)) return;
    }
}

#define GEO_RADIUS_COORDS (1 << 0)  /* GEORADIUS */
#define GEO_RADIUS_MEMBER (1 << 1)  /* GEORADIUSBYMEMBER */
#define GEO_NOSTORE       (1 << 2)  /* the _RO forms */
#define GEO_SEARCH        (1 << 3)  /* GEOSEARCH */
#define GEO_SEARCHSTORE   (1 << 4)  /* GEOSEARCHSTORE */

enum { SORT_NONE, SORT_ASC, SORT_DESC };

static void georadius_generic(client *c, int src, int flags)
{
    struct meta m;
    struct geo_shape s;
    struct geo_points pts = { 0 };
    int store = 0, storedist = 0;
    memset(&s, 0, sizeof s);
    meta_init(&m);
    int r = lookup_typed(c, src, &m, T_ZSET);
    if (r < 0) goto done;

    int base;
    if (flags & GEO_RADIUS_COORDS) {
        base = 6;
        s.type = GEO_CIRCLE;
        double xy[2];
        if (arg_lonlat(c, 2, xy) < 0) goto done;
        s.lon = xy[0];
        s.lat = xy[1];
        if (arg_radius(c, base - 2, &s) < 0) goto done;
    } else if (flags & GEO_RADIUS_MEMBER) {
        base = 5;
        if (r == 1) {
            s.type = GEO_CIRCLE;
            double xy[2];
            int f = member_lonlat(&m, ARG(c, 2), xy);
            if (f <= 0) {
                if (f < 0) reply_storage_error(c);
                else resp_add_error(&c->out, ERR_MEMBER);
                goto done;
            }
            s.lon = xy[0];
            s.lat = xy[1];
            if (arg_radius(c, base - 2, &s) < 0) goto done;
        }
    } else {
        base = 2;
        if (flags & GEO_SEARCHSTORE) {
            base = 3;
            store = 1;
        }
    }

    int withdist = 0, withhash = 0, withcoord = 0;
    int frommember = 0, fromloc = 0, byradius = 0, bybox = 0;
    int sort = SORT_NONE, any = 0;
    long long count = 0;
    int remaining = c->argc - base;
    for (int i = 0; i < remaining; i++) {
        int a = base + i;
        if (ARG_IS(c, a, "withdist")) {
            withdist = 1;
        } else if (ARG_IS(c, a, "withhash")) {
            withhash = 1;
        } else if (ARG_IS(c, a, "withcoord")) {
            withcoord = 1;
        } else if (ARG_IS(c, a, "any")) {
            any = 1;
        } else if (ARG_IS(c, a, "asc")) {
            sort = SORT_ASC;
        } else if (ARG_IS(c, a, "desc")) {
            sort = SORT_DESC;
        } else if (ARG_IS(c, a, "count") && i + 1 < remaining) {
            if (arg_ll(c, a + 1, &count) < 0) goto done;
            if (count <= 0) {
                resp_add_error(&c->out, "ERR COUNT must be > 0");
                goto done;
            }
            i++;
        } else if ((ARG_IS(c, a, "store") || ARG_IS(c, a, "storedist")) && i + 1 < remaining &&
                   !(flags & (GEO_NOSTORE | GEO_SEARCH))) {
            store = a + 1;
            storedist = ARG_IS(c, a, "storedist");
            i++;
        } else if (ARG_IS(c, a, "storedist") && (flags & GEO_SEARCHSTORE)) {
            storedist = 1;
        } else if (ARG_IS(c, a, "frommember") && i + 1 < remaining && (flags & GEO_SEARCH) &&
                   !fromloc) {
            if (r == 1) {
                double xy[2];
                int f = member_lonlat(&m, ARG(c, a + 1), xy);
                if (f <= 0) {
                    if (f < 0) reply_storage_error(c);
                    else resp_add_error(&c->out, ERR_MEMBER);
                    goto done;
                }
                s.lon = xy[0];
                s.lat = xy[1];
            }
            frommember = 1;
            i++;
        } else if (ARG_IS(c, a, "fromlonlat") && i + 2 < remaining && (flags & GEO_SEARCH) &&
                   !frommember) {
            double xy[2];
            if (arg_lonlat(c, a + 1, xy) < 0) goto done;
            s.lon = xy[0];
            s.lat = xy[1];
            fromloc = 1;
            i += 2;
        } else if (ARG_IS(c, a, "byradius") && i + 2 < remaining && (flags & GEO_SEARCH) &&
                   !bybox) {
            if (arg_radius(c, a + 1, &s) < 0) goto done;
            s.type = GEO_CIRCLE;
            byradius = 1;
            i += 2;
        } else if (ARG_IS(c, a, "bybox") && i + 3 < remaining && (flags & GEO_SEARCH) &&
                   !byradius) {
            if (arg_box(c, a + 1, &s) < 0) goto done;
            s.type = GEO_BOX;
            bybox = 1;
            i += 3;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
    }
    if (store && (withdist || withhash || withcoord)) {
        resp_add_errorf(&c->out, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                        (flags & GEO_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        goto done;
    }
    if ((flags & GEO_SEARCH) && !(frommember || fromloc)) {
        resp_add_errorf(&c->out, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                        (int)c->argvlen[0], c->argv[0]);
        goto done;
    }
    if ((flags & GEO_SEARCH) && !(byradius || bybox)) {
        resp_add_errorf(&c->out, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                        (int)c->argvlen[0], c->argv[0]);
        goto done;
    }
    if (any && !count) {
        resp_add_error(&c->out, "ERR the ANY argument requires COUNT argument");
        goto done;
    }

    struct zsink sink;
    if (r == 0) {
        if (store) {
            /* No source: the destination is deleted, the reply is 0. */
            zsink_begin(&sink, c, store, 0);
            zsink_end(&sink);
        } else {
            resp_add_array(&c->out, 0);
        }
        goto done;
    }
    if (count != 0 && sort == SORT_NONE && !any) sort = SORT_ASC;
    if (scan_shape(&m, &s, &pts, any ? (size_t)count : 0) < 0) {
        reply_storage_error(c);
        goto done;
    }
    long long found = (long long)pts.used;
    long long n = (count == 0 || found < count) ? found : count;
    if (sort != SORT_NONE && pts.used > 1) {
        geo_cmp *cmp = sort == SORT_ASC ? cmp_asc : cmp_desc;
        if (n == found) qsort(pts.p, pts.used, sizeof *pts.p, cmp);
        else geo_psort_range(pts.p, pts.p, pts.used, cmp, 0, (size_t)(n - 1));
    }

    if (!store) {
        int opts = withdist + withhash + withcoord;
        resp_add_array(&c->out, n);
        for (long long i = 0; i < n; i++) {
            struct geo_point *g = &pts.p[i];
            if (opts) resp_add_array(&c->out, opts + 1);
            resp_add_bulk(&c->out, pts.names.data + g->moff, g->mlen);
            if (withdist) reply_distance(c, g->dist / s.conversion);
            if (withhash) resp_add_int(&c->out, (long long)g->score);
            if (withcoord) {
                resp_add_array(&c->out, 2);
                reply_human_double(c, g->lon);
                reply_human_double(c, g->lat);
            }
        }
        goto done;
    }
    zsink_begin(&sink, c, store, 0);
    for (long long i = 0; i < n; i++) {
        struct geo_point *g = &pts.p[i];
        double score = storedist ? g->dist / s.conversion : g->score;
        if (zsink_emit(&sink, pts.names.data + g->moff, g->mlen, score) < 0) {
            zsink_abort(&sink);
            reply_storage_error(c);
            goto done;
        }
    }
    zsink_end(&sink);
done:
    points_free(&pts);
    meta_free(&m);
}

static void georadius_command(client *c) { georadius_generic(c, 1, GEO_RADIUS_COORDS); }
static void georadius_ro_command(client *c) { georadius_generic(c, 1, GEO_RADIUS_COORDS | GEO_NOSTORE); }
static void georadiusbymember_command(client *c) { georadius_generic(c, 1, GEO_RADIUS_MEMBER); }
static void georadiusbymember_ro_command(client *c)
{
    georadius_generic(c, 1, GEO_RADIUS_MEMBER | GEO_NOSTORE);
}
static void geosearch_command(client *c) { georadius_generic(c, 1, GEO_SEARCH); }
static void geosearchstore_command(client *c) { georadius_generic(c, 2, GEO_SEARCH | GEO_SEARCHSTORE); }

void t_geo_register(void)
{
    server_register(CMD_GEOADD, geoadd_command);
    server_register(CMD_GEODIST, geodist_command);
    server_register(CMD_GEOHASH, geohash_command);
    server_register(CMD_GEOPOS, geopos_command);
    server_register(CMD_GEOSEARCH, geosearch_command);
    server_register(CMD_GEOSEARCHSTORE, geosearchstore_command);
    server_register(CMD_GEORADIUS, georadius_command);
    server_register(CMD_GEORADIUS_RO, georadius_ro_command);
    server_register(CMD_GEORADIUSBYMEMBER, georadiusbymember_command);
    server_register(CMD_GEORADIUSBYMEMBER_RO, georadiusbymember_ro_command);
}
