/* rdb: Redis 7.0's value serialization (see rdb.h for the formats). */
#include "rdb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "util.h"

/* ---------------- CRC-64 Jones ---------------- */

#define CRC64_POLY_REFLECTED UINT64_C(0x95ac9329ac4bc9b5)

static uint64_t crc64_table[8][256];
static int crc64_ready;

static void crc64_init(void)
{
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc64_table[0][i] = c;
    }
    /* slicing by 8: table[k][i] is the CRC of byte i followed by k zeros */
    for (int i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            crc64_table[k][i] = crc64_table[0][crc64_table[k - 1][i] & 0xff] ^ (crc64_table[k - 1][i] >> 8);
    crc64_ready = 1;
}

uint64_t rdb_crc64(uint64_t crc, const void *p, size_t len)
{
    if (!crc64_ready) crc64_init();
    const unsigned char *s = p;
    while (len >= 8) {
        uint64_t w = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 | (uint64_t)s[3] << 24 |
                     (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 | (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
        crc ^= w;
        crc = crc64_table[7][crc & 0xff] ^ crc64_table[6][(crc >> 8) & 0xff] ^
              crc64_table[5][(crc >> 16) & 0xff] ^ crc64_table[4][(crc >> 24) & 0xff] ^
              crc64_table[3][(crc >> 32) & 0xff] ^ crc64_table[2][(crc >> 40) & 0xff] ^
              crc64_table[1][(crc >> 48) & 0xff] ^ crc64_table[0][crc >> 56];
        s += 8;
        len -= 8;
    }
    while (len--) crc = crc64_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---------------- LZF ---------------- */

size_t rdb_lzf_decompress(const void *in, size_t inlen, void *out, size_t outlen)
{
    const unsigned char *ip = in, *in_end = ip + inlen;
    unsigned char *op = out, *out_end = op + outlen;
    while (ip < in_end) {
        unsigned ctrl = *ip++;
        if (ctrl < (1u << 5)) {        /* a literal run of ctrl+1 bytes */
            ctrl++;
            if ((size_t)(out_end - op) < ctrl || (size_t)(in_end - ip) < ctrl) return 0;
            memcpy(op, ip, ctrl);
            op += ctrl;
            ip += ctrl;
        } else {                       /* a back reference */
            size_t len = ctrl >> 5;
            if (ip >= in_end) return 0;
            if (len == 7) {
                len += *ip++;
                if (ip >= in_end) return 0;
            }
            size_t dist = ((size_t)(ctrl & 0x1f) << 8) + *ip++ + 1;
            if (dist > (size_t)(op - (unsigned char *)out)) return 0;
            if ((size_t)(out_end - op) < len + 2) return 0;
            const unsigned char *ref = op - dist;
            for (size_t i = 0; i < len + 2; i++) *op++ = *ref++;   /* may overlap */
        }
    }
    return (size_t)(op - (unsigned char *)out);
}

/* ---------------- reader primitives ---------------- */

void rdb_reader_init(struct rdb_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->end = r->p + len;
    for (int i = 0; i < 3; i++) buf_init(&r->scratch[i]);
    r->err = NULL;
}

void rdb_reader_free(struct rdb_reader *r)
{
    for (int i = 0; i < 3; i++) buf_free(&r->scratch[i]);
}

static int fail(struct rdb_reader *r, const char *why)
{
    r->err = why;
    return -1;
}

int rdb_read_raw(struct rdb_reader *r, size_t n, const unsigned char **p)
{
    if ((size_t)(r->end - r->p) < n) return fail(r, "unexpected end of data");
    *p = r->p;
    r->p += n;
    return 0;
}

int rdb_read_byte(struct rdb_reader *r, int *v)
{
    const unsigned char *p;
    if (rdb_read_raw(r, 1, &p) < 0) return -1;
    *v = p[0];
    return 0;
}

/* A length, or (encoded = 1) the string encoding number of 11xxxxxx. */
static int read_len_enc(struct rdb_reader *r, uint64_t *len, int *encoded)
{
    const unsigned char *p;
    *encoded = 0;
    if (rdb_read_raw(r, 1, &p) < 0) return -1;
    int type = (p[0] & 0xc0) >> 6;
    if (type == 3) {
        *encoded = 1;
        *len = p[0] & 0x3f;
    } else if (type == 0) {
        *len = p[0] & 0x3f;
    } else if (type == 1) {
        unsigned hi = p[0] & 0x3f;
        if (rdb_read_raw(r, 1, &p) < 0) return -1;
        *len = (uint64_t)hi << 8 | p[0];
    } else if (p[0] == 0x80) {
        if (rdb_read_raw(r, 4, &p) < 0) return -1;
        *len = get_u32be(p);
    } else if (p[0] == 0x81) {
        if (rdb_read_raw(r, 8, &p) < 0) return -1;
        *len = get_u64be(p);
    } else {
        return fail(r, "unknown length encoding");
    }
    return 0;
}

int rdb_read_len(struct rdb_reader *r, uint64_t *len)
{
    int enc;
    if (read_len_enc(r, len, &enc) < 0) return -1;
    if (enc) return fail(r, "a string encoding where a length belongs");
    return 0;
}

int rdb_read_string(struct rdb_reader *r, int slot, const char **s, size_t *len)
{
    uint64_t l;
    int enc;
    const unsigned char *p;
    if (read_len_enc(r, &l, &enc) < 0) return -1;
    buf *sc = &r->scratch[slot];
    if (!enc) {
        if (rdb_read_raw(r, (size_t)l, &p) < 0) return -1;
        *s = (const char *)p;
        *len = (size_t)l;
        return 0;
    }
    long long v;
    switch (l) {
    case 0:
        if (rdb_read_raw(r, 1, &p) < 0) return -1;
        v = (int8_t)p[0];
        break;
    case 1:
        if (rdb_read_raw(r, 2, &p) < 0) return -1;
        v = (int16_t)(p[0] | p[1] << 8);
        break;
    case 2:
        if (rdb_read_raw(r, 4, &p) < 0) return -1;
        v = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        break;
    case 3: {
        uint64_t clen, plen;
        if (rdb_read_len(r, &clen) < 0 || rdb_read_len(r, &plen) < 0) return -1;
        if (rdb_read_raw(r, (size_t)clen, &p) < 0) return -1;
        if (plen > (uint64_t)1 << 40) return fail(r, "LZF string too long");
        buf_clear(sc);
        buf_reserve(sc, (size_t)plen + 1);
        if (plen && rdb_lzf_decompress(p, (size_t)clen, sc->data, (size_t)plen) != plen)
            return fail(r, "invalid LZF compressed string");
        sc->len = (size_t)plen;
        *s = sc->data ? sc->data : "";
        *len = sc->len;
        return 0;
    }
    default: return fail(r, "unknown string encoding");
    }
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    buf_clear(sc);
    buf_append(sc, tmp, (size_t)n);
    *s = sc->data;
    *len = sc->len;
    return 0;
}

/* ---------------- compact encodings ---------------- */

/* One entry of a ziplist or listpack: either a string (s, len) or an
 * integer formatted into num. */
struct entry {
    const char *s;
    size_t len;
    char num[24];
};

static void entry_int(struct entry *e, long long v)
{
    e->len = (size_t)snprintf(e->num, sizeof e->num, "%lld", v);
    e->s = e->num;
}

static long long sign_extend(uint64_t v, int bits)
{
    uint64_t m = (uint64_t)1 << (bits - 1);
    v &= bits == 64 ? ~UINT64_C(0) : (((uint64_t)1 << bits) - 1);
    return (long long)((v ^ m) - m);
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Bytes of an entry's backlen (Redis's lpEncodeBacklen thresholds). */
static size_t lp_backlen_size(size_t l)
{
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/* Listpack: total:4 count:2 entries 0xff.  Entry: encoding+data, then
 * backlen (1..5 bytes).  Returns 1 and the entry at *pos (advanced), 0 at
 * the end marker, -1 if malformed. */
static int lp_next(const unsigned char **pos, const unsigned char *end, struct entry *e)
{
    const unsigned char *p = *pos;
    if (p >= end) return -1;
    unsigned b = p[0];
    size_t hdr, dlen = 0;
    if (b == 0xff) return 0;
    if ((b & 0x80) == 0) {
        entry_int(e, b & 0x7f);
        hdr = 1;
    } else if ((b & 0xc0) == 0x80) {
        hdr = 1;
        dlen = b & 0x3f;
    } else if ((b & 0xe0) == 0xc0) {
        if (end - p < 2) return -1;
        entry_int(e, sign_extend((uint64_t)(b & 0x1f) << 8 | p[1], 13));
        hdr = 2;
    } else if ((b & 0xf0) == 0xe0) {
        if (end - p < 2) return -1;
        hdr = 2;
        dlen = (size_t)(b & 0x0f) << 8 | p[1];
    } else if (b == 0xf0) {
        if (end - p < 5) return -1;
        hdr = 5;
        dlen = (size_t)get_le(p + 1, 4);
    } else if (b >= 0xf1 && b <= 0xf4) {
        static const int nb[] = { 2, 3, 4, 8 };
        int n = nb[b - 0xf1];
        if (end - p < 1 + n) return -1;
        entry_int(e, sign_extend(get_le(p + 1, n), n * 8));
        hdr = 1 + (size_t)n;
    } else {
        return -1;
    }
    if ((b & 0xc0) == 0x80 || (b & 0xf0) == 0xe0 || b == 0xf0) {
        if ((size_t)(end - p) < hdr + dlen) return -1;
        e->s = (const char *)p + hdr;
        e->len = dlen;
        hdr += dlen;
    }
    size_t l = hdr;
    size_t back = lp_backlen_size(l);
    if ((size_t)(end - p) < l + back) return -1;
    *pos = p + l + back;
    return 1;
}

/* Ziplist: zlbytes:4 zltail:4 zllen:2 entries 0xff.  Entry: prevlen (1
 * byte, or 0xfe + 4), encoding, data. */
static int zl_next(const unsigned char **pos, const unsigned char *end, struct entry *e)
{
    const unsigned char *p = *pos;
    if (p >= end) return -1;
    if (p[0] == 0xff) return 0;
    p += p[0] == 0xfe ? 5 : 1;
    if (p >= end) return -1;
    unsigned b = p[0];
    size_t need;
    if ((b & 0xc0) == 0x00 || (b & 0xc0) == 0x40 || (b & 0xc0) == 0x80) {
        size_t hdr, len;
        if ((b & 0xc0) == 0x00) {
            hdr = 1;
            len = b & 0x3f;
        } else if ((b & 0xc0) == 0x40) {
            if (end - p < 2) return -1;
            hdr = 2;
            len = (size_t)(b & 0x3f) << 8 | p[1];
        } else {
            if (end - p < 5) return -1;
            hdr = 5;
            len = get_u32be(p + 1);
        }
        if ((size_t)(end - p) < hdr + len) return -1;
        e->s = (const char *)p + hdr;
        e->len = len;
        *pos = p + hdr + len;
        return 1;
    }
    long long v;
    switch (b) {
    case 0xc0: need = 2; break;
    case 0xd0: need = 4; break;
    case 0xe0: need = 8; break;
    case 0xf0: need = 3; break;
    case 0xfe: need = 1; break;
    default:
        if (b >= 0xf1 && b <= 0xfd) {
            entry_int(e, (long long)(b & 0x0f) - 1);
            *pos = p + 1;
            return 1;
        }
        return -1;
    }
    if ((size_t)(end - p) < 1 + need) return -1;
    v = sign_extend(get_le(p + 1, (int)need), (int)need * 8);
    entry_int(e, v);
    *pos = p + 1 + need;
    return 1;
}

typedef int next_fn(const unsigned char **pos, const unsigned char *end, struct entry *e);

static double parse_score(const char *s, size_t len, int *ok)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp) {
        *ok = 0;
        return 0;
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *e;
    errno = 0;
    double d = strtod(tmp, &e);
    *ok = *e == 0 && !isnan(d);
    return d;
}

/* Walk a ziplist or listpack blob; `pairs` elements come two by two (hash
 * field/value, zset member/score).  Returns the element count or -1. */
static long long read_packed(struct rdb_reader *r, const char *blob, size_t bl, int ziplist, int type,
                             const struct rdb_value_cb *cb, void *ctx)
{
    size_t hdr = ziplist ? 10 : 6;
    if (bl < hdr + 1) return fail(r, "packed encoding too short");
    const unsigned char *pos = (const unsigned char *)blob + hdr, *end = (const unsigned char *)blob + bl;
    next_fn *next = ziplist ? zl_next : lp_next;
    int pairs = type == T_HASH || type == T_ZSET;
    long long n = 0;
    struct entry a, b;
    for (;;) {
        int k = next(&pos, end, &a);
        if (k < 0) return fail(r, "malformed packed encoding");
        if (k == 0) break;
        if (!pairs) {
            if (cb->elem(ctx, a.s, a.len, NULL, 0, 0)) return fail(r, NULL);
            n++;
            continue;
        }
        /* a.s may point into a.num: keep a copy before b overwrites nothing */
        k = next(&pos, end, &b);
        if (k <= 0) return fail(r, "malformed packed encoding (odd entry count)");
        if (type == T_HASH) {
            if (cb->elem(ctx, a.s, a.len, b.s, b.len, 0)) return fail(r, NULL);
        } else {
            int ok;
            double sc = parse_score(b.s, b.len, &ok);
            if (!ok) return fail(r, "bad score in a packed sorted set");
            if (cb->elem(ctx, a.s, a.len, NULL, 0, sc)) return fail(r, NULL);
        }
        n++;
    }
    return n;
}

static long long read_intset(struct rdb_reader *r, const char *blob, size_t bl, const struct rdb_value_cb *cb,
                             void *ctx)
{
    const unsigned char *p = (const unsigned char *)blob;
    if (bl < 8) return fail(r, "intset too short");
    uint32_t enc = (uint32_t)get_le(p, 4), len = (uint32_t)get_le(p + 4, 4);
    if ((enc != 2 && enc != 4 && enc != 8) || (uint64_t)len * enc != bl - 8) return fail(r, "malformed intset");
    for (uint32_t i = 0; i < len; i++) {
        struct entry e;
        entry_int(&e, sign_extend(get_le(p + 8 + (size_t)i * enc, (int)enc), (int)enc * 8));
        if (cb->elem(ctx, e.s, e.len, NULL, 0, 0)) return fail(r, NULL);
    }
    return len;
}


/* ---------------- streams ---------------- */

static int lp_int(const struct entry *e, long long *v)
{
    return str2ll(e->s, e->len, v);
}

/* Room for n entries in *arr (capacity *cap).  Entries hold pointers into
 * themselves (num), so an array is only grown before it is filled. */
static int entries_reserve(struct entry **arr, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    size_t c = *cap ? *cap : 8;
    while (c < n) c *= 2;
    struct entry *a = realloc(*arr, c * sizeof *a);
    if (!a) return -1;
    *arr = a;
    *cap = c;
    return 0;
}

struct lp_scan {
    const unsigned char *pos, *end;
    struct rdb_reader *r;
};

/* The next listpack element (1), or -1 (r->err set) at the end or on a
 * malformed element: a stream listpack never ends in mid-entry. */
static int lp_scan_next(struct lp_scan *ls, struct entry *e)
{
    int k = lp_next(&ls->pos, ls->end, e);
    if (k <= 0) return fail(ls->r, k < 0 ? "malformed stream listpack" : "truncated stream listpack entry");
    return 1;
}

static int lp_scan_int(struct lp_scan *ls, long long *v)
{
    struct entry e;
    if (lp_scan_next(ls, &e) < 0) return -1;
    if (lp_int(&e, v) < 0) return fail(ls->r, "a stream listpack number is not an integer");
    return 0;
}

/* One listpack node of a stream: the master entry, then every entry. */
static int read_stream_node(struct rdb_reader *r, struct sid master, const char *blob, size_t bl,
                            const struct rdb_stream_cb *cb, void *ctx, uint64_t *live_out,
                            struct entry **mf, size_t *mfcap, struct entry **ef, size_t *efcap,
                            const char ***pp, size_t **pl, size_t *pcap)
{
    const unsigned char *u = (const unsigned char *)blob;
    if (bl < 7 || get_le(u, 4) != bl || u[bl - 1] != 0xff) return fail(r, "malformed stream listpack header");
    struct lp_scan ls = { u + 6, u + bl, r };
    long long live, deleted, nmf, zero;
    if (ls.pos < ls.end && *ls.pos == 0xff) return fail(r, "empty listpack inside a stream");
    if (lp_scan_int(&ls, &live) < 0 || lp_scan_int(&ls, &deleted) < 0 || lp_scan_int(&ls, &nmf) < 0)
        return -1;
    if (live < 0 || deleted < 0 || nmf < 0 || (uint64_t)nmf > bl / 2)
        return fail(r, "bad master entry in a stream listpack");
    if (entries_reserve(mf, mfcap, (size_t)nmf) < 0) return fail(r, "out of memory");
    for (long long i = 0; i < nmf; i++)
        if (lp_scan_next(&ls, &(*mf)[i]) < 0) return -1;
    if (lp_scan_int(&ls, &zero) < 0) return -1;
    if (zero != 0) return fail(r, "bad master entry terminator in a stream listpack");
    if (cb->node(ctx, master, bl, (uint64_t)live, (uint64_t)deleted)) return fail(r, NULL);
    uint64_t seen_live = 0, seen_deleted = 0;
    for (;;) {
        if (ls.pos < ls.end && *ls.pos == 0xff) break;
        long long flags, dms, dseq, nf, lpcount;
        if (lp_scan_int(&ls, &flags) < 0 || lp_scan_int(&ls, &dms) < 0 || lp_scan_int(&ls, &dseq) < 0) return -1;
        if (flags < 0 || flags > 3) return fail(r, "bad stream entry flags");
        int same = (flags & 2) != 0;
        if (same) {
            nf = nmf;
        } else {
            if (lp_scan_int(&ls, &nf) < 0) return -1;
            if (nf < 0 || (uint64_t)nf > bl / 2) return fail(r, "bad stream entry field count");
        }
        size_t n = (size_t)nf * 2;
        if (entries_reserve(ef, efcap, n) < 0) return fail(r, "out of memory");
        if (n > *pcap) {
            const char **a = realloc(*pp, n * sizeof *a);
            size_t *b = a ? realloc(*pl, n * sizeof *b) : NULL;
            if (a) *pp = a;
            if (!b) return fail(r, "out of memory");
            *pl = b;
            *pcap = n;
        }
        /* with the master's fields only the values follow; otherwise
         * field and value alternate */
        for (long long i = 0; i < nf; i++) {
            if (!same && lp_scan_next(&ls, &(*ef)[2 * i]) < 0) return -1;
            if (lp_scan_next(&ls, &(*ef)[2 * i + 1]) < 0) return -1;
        }
        if (lp_scan_int(&ls, &lpcount) < 0) return -1;
        if (lpcount != (same ? nf + 3 : 2 * nf + 4)) return fail(r, "bad stream entry lp-count");
        for (size_t i = 0; i < n; i++) {
            const struct entry *e = (same && i % 2 == 0) ? &(*mf)[i / 2] : &(*ef)[i];
            (*pp)[i] = e->s;
            (*pl)[i] = e->len;
        }
        struct sid id = { master.ms + (uint64_t)dms, master.seq + (uint64_t)dseq };
        int del = (flags & 1) != 0;
        if (del) seen_deleted++;
        else seen_live++;
        if (cb->entry(ctx, id, del, del ? 0 : n, *pp, *pl)) return fail(r, NULL);
    }
    if (ls.pos + 1 != ls.end) return fail(r, "data after the end of a stream listpack");
    if (seen_live != (uint64_t)live || seen_deleted != (uint64_t)deleted)
        return fail(r, "stream listpack counts disagree with its entries");
    *live_out += seen_live;
    return 0;
}

static int read_sid_lens(struct rdb_reader *r, struct sid *id)
{
    return rdb_read_len(r, &id->ms) < 0 || rdb_read_len(r, &id->seq) < 0 ? -1 : 0;
}

static int read_raw_sid(struct rdb_reader *r, struct sid *id)
{
    const unsigned char *p;
    if (rdb_read_raw(r, 16, &p) < 0) return -1;
    id->ms = get_u64be(p);
    id->seq = get_u64be(p + 8);
    return 0;
}

static int read_ms(struct rdb_reader *r, uint64_t *ms)
{
    const unsigned char *p;
    if (rdb_read_raw(r, 8, &p) < 0) return -1;
    *ms = get_le(p, 8);
    return 0;
}

static long long read_stream_rest(struct rdb_reader *r, int v2, const struct rdb_stream_cb *cb, void *ctx,
                                  uint64_t live)
{
    struct rdb_stream_meta m;
    memset(&m, 0, sizeof m);
    m.have_v2 = v2;
    if (rdb_read_len(r, &m.length) < 0 || read_sid_lens(r, &m.last) < 0) return -1;
    if (v2) {
        if (read_sid_lens(r, &m.first) < 0 || read_sid_lens(r, &m.maxdel) < 0 || rdb_read_len(r, &m.added) < 0)
            return -1;
    } else {
        m.added = m.length;
    }
    if (rdb_read_len(r, &m.groups) < 0) return -1;
    if (cb->meta(ctx, &m)) return fail(r, NULL);
    for (uint64_t g = 0; g < m.groups; g++) {
        const char *name;
        size_t nl;
        struct sid last;
        uint64_t er = UINT64_MAX, pel, ncons;
        if (rdb_read_string(r, 0, &name, &nl) < 0 || read_sid_lens(r, &last) < 0) return -1;
        if (v2 && rdb_read_len(r, &er) < 0) return -1;
        if (cb->group(ctx, name, nl, last, (long long)er)) return fail(r, NULL);
        if (rdb_read_len(r, &pel) < 0) return -1;
        for (uint64_t i = 0; i < pel; i++) {
            struct sid id;
            uint64_t dtime, dcount;
            if (read_raw_sid(r, &id) < 0 || read_ms(r, &dtime) < 0 || rdb_read_len(r, &dcount) < 0) return -1;
            if (cb->nack(ctx, id, dtime, dcount)) return fail(r, NULL);
        }
        if (rdb_read_len(r, &ncons) < 0) return -1;
        for (uint64_t i = 0; i < ncons; i++) {
            uint64_t seen, cp;
            if (rdb_read_string(r, 0, &name, &nl) < 0 || read_ms(r, &seen) < 0) return -1;
            if (cb->consumer(ctx, name, nl, seen)) return fail(r, NULL);
            if (rdb_read_len(r, &cp) < 0) return -1;
            for (uint64_t j = 0; j < cp; j++) {
                struct sid id;
                if (read_raw_sid(r, &id) < 0) return -1;
                if (cb->cpel(ctx, id)) return fail(r, NULL);
            }
        }
        if (cb->group_end(ctx)) return fail(r, NULL);
    }
    if (m.length != live) return fail(r, "stream length disagrees with its entries");
    return (long long)live;
}

static long long read_stream(struct rdb_reader *r, int v2, const struct rdb_stream_cb *cb, void *ctx)
{
    uint64_t nodes, live = 0;
    if (rdb_read_len(r, &nodes) < 0) return -1;
    struct entry *mf = NULL, *ef = NULL;
    const char **pp = NULL;
    size_t *pl = NULL, mfcap = 0, efcap = 0, pcap = 0;
    long long rc = 0;
    for (uint64_t i = 0; i < nodes && rc == 0; i++) {
        const char *key, *lp;
        size_t kl, lpl;
        if (rdb_read_string(r, 0, &key, &kl) < 0) {
            rc = -1;
            break;
        }
        if (kl != 16) {
            rc = fail(r, "stream node key is not the size of a stream ID");
            break;
        }
        struct sid master = { get_u64be((const unsigned char *)key), get_u64be((const unsigned char *)key + 8) };
        if (rdb_read_string(r, 2, &lp, &lpl) < 0) {
            rc = -1;
            break;
        }
        rc = read_stream_node(r, master, lp, lpl, cb, ctx, &live, &mf, &mfcap, &ef, &efcap, &pp, &pl, &pcap);
    }
    free(mf);
    free(ef);
    free(pp);
    free(pl);
    if (rc < 0) return -1;
    return read_stream_rest(r, v2, cb, ctx, live);
}

/* ---------------- values ---------------- */

int rdb_type_to_key_type(int t)
{
    switch (t) {
    case RDB_TYPE_STRING: return T_STRING;
    case RDB_TYPE_LIST: case RDB_TYPE_LIST_ZIPLIST: case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2: return T_LIST;
    case RDB_TYPE_SET: case RDB_TYPE_SET_INTSET: return T_SET;
    case RDB_TYPE_ZSET: case RDB_TYPE_ZSET_2: case RDB_TYPE_ZSET_ZIPLIST: case RDB_TYPE_ZSET_LISTPACK:
        return T_ZSET;
    case RDB_TYPE_HASH: case RDB_TYPE_HASH_ZIPLIST: case RDB_TYPE_HASH_LISTPACK: return T_HASH;
    case RDB_TYPE_STREAM_LISTPACKS: case RDB_TYPE_STREAM_LISTPACKS_2: return T_STREAM;
    default: return T_NONE;
    }
}

long long rdb_read_value(struct rdb_reader *r, int rdbtype, const struct rdb_value_cb *cb, void *ctx)
{
    int type = rdb_type_to_key_type(rdbtype);
    if (type == T_NONE) return fail(r, "unsupported value type");
    if (type == T_STREAM && !cb->stream) return fail(r, "streams are not read here");
    if (cb->begin(ctx, type)) return fail(r, NULL);
    const char *s, *v;
    size_t sl, vl;
    uint64_t len;
    long long n = 0;
    switch (rdbtype) {
    case RDB_TYPE_STRING:
        if (rdb_read_string(r, 0, &s, &sl) < 0) return -1;
        if (cb->string(ctx, s, sl)) return fail(r, NULL);
        return 1;
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
        if (rdb_read_len(r, &len) < 0) return -1;
        for (uint64_t i = 0; i < len; i++) {
            if (rdb_read_string(r, 0, &s, &sl) < 0) return -1;
            if (cb->elem(ctx, s, sl, NULL, 0, 0)) return fail(r, NULL);
        }
        return (long long)len;
    case RDB_TYPE_HASH:
        if (rdb_read_len(r, &len) < 0) return -1;
        for (uint64_t i = 0; i < len; i++) {
            if (rdb_read_string(r, 0, &s, &sl) < 0 || rdb_read_string(r, 1, &v, &vl) < 0) return -1;
            if (cb->elem(ctx, s, sl, v, vl, 0)) return fail(r, NULL);
        }
        return (long long)len;
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
        if (rdb_read_len(r, &len) < 0) return -1;
        for (uint64_t i = 0; i < len; i++) {
            double sc;
            const unsigned char *p;
            if (rdb_read_string(r, 0, &s, &sl) < 0) return -1;
            if (rdbtype == RDB_TYPE_ZSET_2) {
                if (rdb_read_raw(r, 8, &p) < 0) return -1;
                uint64_t bits = get_le(p, 8);
                memcpy(&sc, &bits, 8);
            } else {
                int l;
                if (rdb_read_byte(r, &l) < 0) return -1;
                if (l == 253) sc = NAN;
                else if (l == 254) sc = INFINITY;
                else if (l == 255) sc = -INFINITY;
                else {
                    int ok;
                    if (rdb_read_raw(r, (size_t)l, &p) < 0) return -1;
                    sc = parse_score((const char *)p, (size_t)l, &ok);
                    if (!ok) return fail(r, "bad score");
                }
            }
            if (isnan(sc)) return fail(r, "NaN score");
            if (cb->elem(ctx, s, sl, NULL, 0, sc)) return fail(r, NULL);
        }
        return (long long)len;
    case RDB_TYPE_SET_INTSET:
        if (rdb_read_string(r, 2, &s, &sl) < 0) return -1;
        return read_intset(r, s, sl, cb, ctx);
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
        if (rdb_read_string(r, 2, &s, &sl) < 0) return -1;
        return read_packed(r, s, sl, 1, type, cb, ctx);
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_HASH_LISTPACK:
        if (rdb_read_string(r, 2, &s, &sl) < 0) return -1;
        return read_packed(r, s, sl, 0, type, cb, ctx);
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
        return read_stream(r, rdbtype == RDB_TYPE_STREAM_LISTPACKS_2, cb->stream, ctx);
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        if (rdb_read_len(r, &len) < 0) return -1;
        for (uint64_t i = 0; i < len; i++) {
            uint64_t container = 2;
            if (rdbtype == RDB_TYPE_LIST_QUICKLIST_2 && rdb_read_len(r, &container) < 0) return -1;
            if (rdb_read_string(r, 2, &s, &sl) < 0) return -1;
            if (container == 1) {
                if (cb->elem(ctx, s, sl, NULL, 0, 0)) return fail(r, NULL);
                n++;
                continue;
            }
            if (container != 2) return fail(r, "unknown quicklist container");
            long long k = read_packed(r, s, sl, rdbtype == RDB_TYPE_LIST_QUICKLIST, T_LIST, cb, ctx);
            if (k < 0) return -1;
            n += k;
        }
        return n;
    }
    return fail(r, "unsupported value type");
}

int rdb_payload_check(const void *p, size_t len, size_t *value_len)
{
    const unsigned char *u = p;
    if (len < 10) return -1;
    unsigned ver = u[len - 10] | (unsigned)u[len - 9] << 8;
    if (ver > RDB_VERSION) return -1;
    uint64_t crc = get_le(u + len - 8, 8);
    if (rdb_crc64(0, u, len - 8) != crc) return -1;
    *value_len = len - 10;
    return 0;
}

/* ---------------- writing ---------------- */

void rdb_write_type(buf *out, int type)
{
    unsigned char t = (unsigned char)type;
    buf_append(out, (const char *)&t, 1);
}

void rdb_write_len(buf *out, uint64_t len)
{
    unsigned char b[9];
    size_t n;
    if (len < 64) {
        b[0] = (unsigned char)len;
        n = 1;
    } else if (len < 16384) {
        b[0] = (unsigned char)(0x40 | (len >> 8));
        b[1] = (unsigned char)len;
        n = 2;
    } else if (len <= UINT32_MAX) {
        b[0] = 0x80;
        put_u32be(b + 1, (uint32_t)len);
        n = 5;
    } else {
        b[0] = 0x81;
        put_u64be(b + 1, len);
        n = 9;
    }
    buf_append(out, (const char *)b, n);
}

void rdb_write_string(buf *out, const char *s, size_t len)
{
    long long v;
    if (len > 0 && len <= 11 && str2ll(s, len, &v) == 0) {
        unsigned char b[5];
        size_t n;
        if (v >= INT8_MIN && v <= INT8_MAX) {
            b[0] = 0xc0;
            b[1] = (unsigned char)(int8_t)v;
            n = 2;
        } else if (v >= INT16_MIN && v <= INT16_MAX) {
            b[0] = 0xc1;
            b[1] = (unsigned char)(v & 0xff);
            b[2] = (unsigned char)((v >> 8) & 0xff);
            n = 3;
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            b[0] = 0xc2;
            for (int i = 0; i < 4; i++) b[1 + i] = (unsigned char)(((uint64_t)v >> (8 * i)) & 0xff);
            n = 5;
        } else {
            n = 0;
        }
        if (n) {
            buf_append(out, (const char *)b, n);
            return;
        }
    }
    rdb_write_len(out, len);
    buf_append(out, s, len);
}

void rdb_write_double(buf *out, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(bits >> (8 * i));
    buf_append(out, (const char *)b, 8);
}

void rdb_write_ms(buf *out, uint64_t ms)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(ms >> (8 * i));
    buf_append(out, (const char *)b, 8);
}

void rdb_write_sid(buf *out, struct sid id)
{
    unsigned char b[16];
    put_u64be(b, id.ms);
    put_u64be(b + 8, id.seq);
    buf_append(out, (const char *)b, 16);
}

void rdb_write_footer(buf *out, size_t start)
{
    unsigned char b[8] = { RDB_VERSION & 0xff, RDB_VERSION >> 8 };
    buf_append(out, (const char *)b, 2);
    uint64_t crc = rdb_crc64(0, out->data + start, out->len - start);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(crc >> (8 * i));
    buf_append(out, (const char *)b, 8);
}

/* ---------------- compact encodings (writing) ---------------- */

void rdb_lp_init(struct rdb_lp *lp)
{
    buf_init(&lp->b);
    buf_append(&lp->b, "\0\0\0\0\0\0", 6);
    lp->count = 0;
}

void rdb_lp_free(struct rdb_lp *lp)
{
    buf_free(&lp->b);
}

void rdb_lp_append(struct rdb_lp *lp, const char *s, size_t len)
{
    unsigned char h[9];
    size_t hl;
    long long v;
    if (len > 0 && len <= 20 && str2ll(s, len, &v) == 0) {
        uint64_t u = (uint64_t)v;
        if (v >= 0 && v <= 127) {
            h[0] = (unsigned char)v;
            hl = 1;
        } else if (v >= -4096 && v <= 4095) {
            u &= 0x1fff;
            h[0] = (unsigned char)(0xc0 | (u >> 8));
            h[1] = (unsigned char)u;
            hl = 2;
        } else {
            int nb = v >= -32768 && v <= 32767 ? 2 : v >= -8388608 && v <= 8388607 ? 3
                   : v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
            h[0] = (unsigned char)(nb == 2 ? 0xf1 : nb == 3 ? 0xf2 : nb == 4 ? 0xf3 : 0xf4);
            for (int i = 0; i < nb; i++) h[1 + i] = (unsigned char)(u >> (8 * i));
            hl = 1 + (size_t)nb;
        }
        buf_append(&lp->b, h, hl);
        len = 0;
    } else {
        if (len < 64) {
            h[0] = (unsigned char)(0x80 | len);
            hl = 1;
        } else if (len < 4096) {
            h[0] = (unsigned char)(0xe0 | (len >> 8));
            h[1] = (unsigned char)len;
            hl = 2;
        } else {
            h[0] = 0xf0;
            for (int i = 0; i < 4; i++) h[1 + i] = (unsigned char)(len >> (8 * i));
            hl = 5;
        }
        buf_append(&lp->b, h, hl);
        buf_append(&lp->b, s, len);
    }
    /* backlen: the entry's size, 7 bits a byte, most significant first,
     * every byte but the first flagged 128 */
    size_t l = hl + len, n = lp_backlen_size(l);
    unsigned char bl[5];
    for (size_t i = 0; i < n; i++) {
        bl[i] = (unsigned char)((l >> (7 * (n - 1 - i))) & 127);
        if (i > 0) bl[i] |= 128;
    }
    buf_append(&lp->b, bl, n);
    lp->count++;
}

void rdb_lp_append_int(struct rdb_lp *lp, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", v);
    rdb_lp_append(lp, num, (size_t)n);
}

void rdb_lp_finish(struct rdb_lp *lp)
{
    buf_append(&lp->b, "\xff", 1);
    unsigned char *p = (unsigned char *)lp->b.data;
    uint32_t total = (uint32_t)lp->b.len;
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(total >> (8 * i));
    unsigned cnt = lp->count < 65535 ? lp->count : 65535;
    p[4] = (unsigned char)cnt;
    p[5] = (unsigned char)(cnt >> 8);
}

static int ll_cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

void rdb_write_intset(buf *out, long long *v, size_t n)
{
    qsort(v, n, sizeof *v, ll_cmp);
    int w = 2;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < INT32_MIN || v[i] > INT32_MAX) w = 8;
        else if ((v[i] < INT16_MIN || v[i] > INT16_MAX) && w < 4) w = 4;
    }
    buf blob;
    buf_init(&blob);
    unsigned char h[8];
    for (int i = 0; i < 4; i++) h[i] = (unsigned char)((unsigned)w >> (8 * i));
    for (int i = 0; i < 4; i++) h[4 + i] = (unsigned char)((uint64_t)n >> (8 * i));
    buf_append(&blob, h, 8);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < w; k++) h[k] = (unsigned char)((uint64_t)v[i] >> (8 * k));
        buf_append(&blob, h, (size_t)w);
    }
    rdb_write_len(out, blob.len);
    buf_append(out, blob.data, blob.len);
    buf_free(&blob);
}

size_t rdb_score_string(char *out, size_t size, double d)
{
    if (isinf(d)) return (size_t)snprintf(out, size, "%s", d > 0 ? "inf" : "-inf");
    if (d == 0) return (size_t)snprintf(out, size, "0");
    if (d > -4503599627370495.0 && d < 4503599627370496.0 && d == (double)(long long)d)
        return (size_t)snprintf(out, size, "%lld", (long long)d);
    return (size_t)snprintf(out, size, "%.17g", d);
}
