/* t_hll: HyperLogLog commands (PFADD, PFCOUNT, PFMERGE) on string values
 * in Redis 7.0's own representation, so a value copied between
 * redis-server and strata-node with GET/SET keeps counting the same and
 * the bytes GET returns are the bytes Redis would hold.
 *
 * Value layout (every integer little endian):
 *
 *   +------+-----+--------+------------------+---------------------+
 *   | HYLL | enc | 0 0 0  | cardinality:8    | registers ...       |
 *   +------+-----+--------+------------------+---------------------+
 *     4      1     3        bit 63 set: stale  sparse opcodes | dense
 *
 *   enc 0 dense: 16384 registers of 6 bits, packed from the low bit of
 *                each byte up (12288 bytes, the value is 12304 bytes).
 *   enc 1 sparse: run-length opcodes over the 16384 registers:
 *       00xxxxxx           ZERO   xxxxxx+1 registers (1..64) set to 0
 *       01xxxxxx yyyyyyyy  XZERO  14-bit length+1 (1..16384) set to 0
 *       1vvvvvxx           VAL    xx+1 registers (1..4) set to vvvvv+1 (1..32)
 *
 * An element's register is the low 14 bits of MurmurHash64A(element, seed
 * 0xadc83b19); its value is 1 + the number of trailing zero bits of the
 * remaining 50 bits (with bit 50 forced to 1, so at most 51).  A sparse
 * value becomes dense when a register needs a value above 32 or when the
 * value would grow past hll-sparse-max-bytes (CONFIG, 3000 by default).
 * The cardinality estimate is Ertl's improved estimator over the register
 * histogram, which is what Redis 7.0 computes; the estimate is cached in
 * the header and marked stale (bit 63) by every change.
 *
 * Sparse edits reproduce Redis's exact byte sequence: the opcode covering
 * the register is split into at most five bytes and adjacent VAL opcodes
 * of equal value are then merged, scanning a few opcodes from the one
 * before the edit, as hyperloglog.c does. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "rconfig.h"
#include "util.h"

#define HLL_P 14
#define HLL_Q (64 - HLL_P)
#define HLL_REGISTERS (1 << HLL_P)
#define HLL_P_MASK (HLL_REGISTERS - 1)
#define HLL_BITS 6
#define HLL_REGISTER_MAX ((1 << HLL_BITS) - 1)
#define HLL_HDR 16
#define HLL_DENSE_SIZE (HLL_HDR + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_ENC_DENSE 0
#define HLL_ENC_SPARSE 1
#define HLL_ALPHA_INF 0.721347520444481703680

#define SP_IS_ZERO(p) (((*(p)) & 0xc0) == 0)
#define SP_IS_XZERO(p) (((*(p)) & 0xc0) == 0x40)
#define SP_IS_VAL(p) ((*(p)) & 0x80)
#define SP_ZERO_LEN(p) (((*(p)) & 0x3f) + 1)
#define SP_XZERO_LEN(p) (((((*(p)) & 0x3f) << 8) | (*((p) + 1))) + 1)
/* The same for a stored value, where a truncated XZERO may end the
 * value: its missing second byte reads as 0 (Redis reads the string's
 * terminating NUL there). */
#define SP_XZERO_LEN_IN(p, end) (((((*(p)) & 0x3f) << 8) | ((p) + 1 < (end) ? *((p) + 1) : 0)) + 1)
#define SP_VAL_VALUE(p) ((((*(p)) >> 2) & 0x1f) + 1)
#define SP_VAL_LEN(p) (((*(p)) & 0x3) + 1)
#define SP_VAL_MAX_VALUE 32
#define SP_VAL_MAX_LEN 4
#define SP_ZERO_MAX_LEN 64

/* hll-sparse-max-bytes, Redis's CONFIG parameter (rconfig.c). */
static long long sparse_max_bytes(void)
{
    static const struct rconf_param *p;
    if (!p) p = rconf_find("hll-sparse-max-bytes", 20);
    return p ? rconf_pnum(p) : 3000;
}

static const char ERR_NOT_HLL[] = "WRONGTYPE Key is not a valid HyperLogLog string value.";
static const char ERR_CORRUPT[] = "INVALIDOBJ Corrupted HLL object detected";

static void sp_val_set(uint8_t *p, int val, int len)
{
    *p = (uint8_t)(0x80 | ((val - 1) << 2) | (len - 1));
}

static void sp_zero_set(uint8_t *p, int len)
{
    *p = (uint8_t)(len - 1);
}

static void sp_xzero_set(uint8_t *p, int len)
{
    p[0] = (uint8_t)(((len - 1) >> 8) | 0x40);
    p[1] = (uint8_t)((len - 1) & 0xff);
}

/* A value being edited.  data has room for a dense value plus one byte,
 * because a dense register access reads the byte after the last one.
 * Owned; freed by hll_free. */
struct hll {
    uint8_t *data;
    size_t len;
};

static void hll_free(struct hll *h)
{
    free(h->data);
    h->data = NULL;
}

static void hll_from(struct hll *h, const char *v, size_t len)
{
    h->data = xcalloc(1, HLL_DENSE_SIZE + 8);
    memcpy(h->data, v, len);
    h->len = len;
}

/* An empty sparse value: one XZERO opcode covering every register. */
static void hll_create(struct hll *h)
{
    h->data = xcalloc(1, HLL_DENSE_SIZE + 8);
    memcpy(h->data, "HYLL", 4);
    h->data[4] = HLL_ENC_SPARSE;
    sp_xzero_set(h->data + HLL_HDR, HLL_REGISTERS);
    h->len = HLL_HDR + 2;
}

static void hll_invalidate(struct hll *h)
{
    h->data[15] |= 0x80;
}

/* Is a string value a HyperLogLog (the checks of Redis's isHLLObjectOrReply)? */
static int hll_valid(const char *v, size_t len)
{
    if (len < HLL_HDR || memcmp(v, "HYLL", 4) != 0) return 0;
    unsigned enc = (unsigned char)v[4];
    if (enc > HLL_ENC_SPARSE) return 0;
    if (enc == HLL_ENC_DENSE && len != HLL_DENSE_SIZE) return 0;
    return 1;
}

/* ---------------- hashing ---------------- */

/* MurmurHash64A (Austin Appleby), reading 8-byte words little endian as
 * Redis does on every platform. */
static uint64_t murmur64a(const uint8_t *key, size_t len, uint32_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ ((uint64_t)len * m);
    const uint8_t *end = key + (len - (len & 7));
    while (key != end) {
        uint64_t k = 0;
        for (int i = 7; i >= 0; i--) k = (k << 8) | key[i];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
        key += 8;
    }
    switch (len & 7) {
    case 7: h ^= (uint64_t)key[6] << 48; /* fall through */
    case 6: h ^= (uint64_t)key[5] << 40; /* fall through */
    case 5: h ^= (uint64_t)key[4] << 32; /* fall through */
    case 4: h ^= (uint64_t)key[3] << 24; /* fall through */
    case 3: h ^= (uint64_t)key[2] << 16; /* fall through */
    case 2: h ^= (uint64_t)key[1] << 8;  /* fall through */
    case 1:
        h ^= (uint64_t)key[0];
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

/* The register of an element and the value it offers it. */
static int hll_pat_len(const char *ele, size_t len, long *reg)
{
    uint64_t hash = murmur64a((const uint8_t *)ele, len, 0xadc83b19U);
    *reg = (long)(hash & HLL_P_MASK);
    hash >>= HLL_P;
    hash |= (uint64_t)1 << HLL_Q;
    int count = 1;
    uint64_t bit = 1;
    while ((hash & bit) == 0) {
        count++;
        bit <<= 1;
    }
    return count;
}

/* ---------------- dense ---------------- */

static int dense_get(const uint8_t *regs, long i)
{
    unsigned long byte = (unsigned long)i * HLL_BITS / 8;
    unsigned long fb = (unsigned long)i * HLL_BITS & 7;
    unsigned long b0 = regs[byte], b1 = regs[byte + 1];
    return (int)(((b0 >> fb) | (b1 << (8 - fb))) & HLL_REGISTER_MAX);
}

static void dense_put(uint8_t *regs, long i, int val)
{
    unsigned long byte = (unsigned long)i * HLL_BITS / 8;
    unsigned long fb = (unsigned long)i * HLL_BITS & 7;
    unsigned long fb8 = 8 - fb;
    unsigned long v = (unsigned long)val;
    regs[byte] &= (uint8_t)~(HLL_REGISTER_MAX << fb);
    regs[byte] |= (uint8_t)(v << fb);
    regs[byte + 1] &= (uint8_t)~(HLL_REGISTER_MAX >> fb8);
    regs[byte + 1] |= (uint8_t)(v >> fb8);
}

static int dense_set(uint8_t *regs, long i, int val)
{
    if (val > dense_get(regs, i)) {
        dense_put(regs, i, val);
        return 1;
    }
    return 0;
}

/* Convert a sparse value to dense in place (the header, cached
 * cardinality included, is kept).  0, or -1 if the opcodes do not cover
 * exactly the 16384 registers. */
static int hll_to_dense(struct hll *h)
{
    if (h->data[4] == HLL_ENC_DENSE) return 0;
    uint8_t *dense = xcalloc(1, HLL_DENSE_SIZE + 8);
    memcpy(dense, h->data, HLL_HDR);
    dense[4] = HLL_ENC_DENSE;
    const uint8_t *p = h->data + HLL_HDR, *end = h->data + h->len;
    long idx = 0;
    while (p < end) {
        if (SP_IS_ZERO(p)) {
            idx += SP_ZERO_LEN(p);
            p++;
        } else if (SP_IS_XZERO(p)) {
            idx += SP_XZERO_LEN(p);
            p += 2;
        } else {
            int run = SP_VAL_LEN(p), val = SP_VAL_VALUE(p);
            if (run + idx > HLL_REGISTERS) break;
            while (run--) dense_put(dense + HLL_HDR, idx++, val);
            p++;
        }
    }
    if (idx != HLL_REGISTERS) {
        free(dense);
        return -1;
    }
    free(h->data);
    h->data = dense;
    h->len = HLL_DENSE_SIZE;
    return 0;
}

/* ---------------- sparse ---------------- */

/* Where a scan of the opcodes may resume: an opcode boundary (off), the
 * opcode before it (prev_off, -1 if none) and the first register it
 * covers.  PFMERGE sets registers in ascending order, and an edit only
 * changes the bytes from the opcode before the edited one on, so each
 * call can resume from that opcode instead of rescanning from the start
 * (the bytes produced are the same). */
struct sp_hint {
    long off, prev_off, first;
};

/* Set register `index` to `count` if that raises it.  Returns 1 (changed),
 * 0 (unchanged) or -1 (corrupt value).  May convert the value to dense.
 * hint (may be NULL) must come from an earlier call on the same value
 * with a lower index, or have off -1. */
static int sparse_set(struct hll *h, long index, int count, struct sp_hint *hint)
{
    if (count > SP_VAL_MAX_VALUE) goto promote;
    uint8_t *sparse = h->data + HLL_HDR, *p = sparse, *end = h->data + h->len;
    uint8_t *prev = NULL, *pprev = NULL, *next;
    long first = 0, span = 0, prev_first = 0;
    if (hint && hint->off >= 0) {
        p = sparse + hint->off;
        prev = hint->prev_off >= 0 ? sparse + hint->prev_off : NULL;
        first = hint->first;
    }
    uint8_t *start = p;
    while (p < end) {
        long oplen = 1;
        if (SP_IS_ZERO(p)) {
            span = SP_ZERO_LEN(p);
        } else if (SP_IS_VAL(p)) {
            span = SP_VAL_LEN(p);
        } else {
            span = SP_XZERO_LEN(p);
            oplen = 2;
        }
        if (index <= first + span - 1) break;
        pprev = prev;
        prev = p;
        prev_first = first;
        p += oplen;
        first += span;
    }
    if (hint) {
        /* The opcode before the one found stays a boundary whatever the
         * edit does; if the scan did not move, start over next time. */
        if (p != start && prev) {
            hint->off = prev - sparse;
            hint->prev_off = pprev ? pprev - sparse : -1;
            hint->first = prev_first;
        } else {
            hint->off = -1;
        }
    }
    if (span == 0 || p >= end) return -1;
    next = SP_IS_XZERO(p) ? p + 2 : p + 1;
    if (next >= end) next = NULL;

    int is_zero = 0, is_xzero = 0, is_val = 0;
    long runlen;
    if (SP_IS_ZERO(p)) {
        is_zero = 1;
        runlen = SP_ZERO_LEN(p);
    } else if (SP_IS_XZERO(p)) {
        is_xzero = 1;
        runlen = SP_XZERO_LEN(p);
    } else {
        is_val = 1;
        runlen = SP_VAL_LEN(p);
    }

    if (is_val) {
        if (SP_VAL_VALUE(p) >= count) return 0;
        if (runlen == 1) {
            sp_val_set(p, count, 1);
            goto updated;
        }
    }
    if (is_zero && runlen == 1) {
        sp_val_set(p, count, 1);
        goto updated;
    }

    /* The general case: the opcode becomes up to three opcodes (at most
     * five bytes): the registers before `index`, the new VAL, those after. */
    uint8_t seq[5], *n = seq;
    long last = first + span - 1, len;
    if (is_zero || is_xzero) {
        if (index != first) {
            len = index - first;
            if (len > SP_ZERO_MAX_LEN) {
                sp_xzero_set(n, (int)len);
                n += 2;
            } else {
                sp_zero_set(n++, (int)len);
            }
        }
        sp_val_set(n++, count, 1);
        if (index != last) {
            len = last - index;
            if (len > SP_ZERO_MAX_LEN) {
                sp_xzero_set(n, (int)len);
                n += 2;
            } else {
                sp_zero_set(n++, (int)len);
            }
        }
    } else {
        int cur = SP_VAL_VALUE(p);
        if (index != first) sp_val_set(n++, cur, (int)(index - first));
        sp_val_set(n++, count, 1);
        if (index != last) sp_val_set(n++, cur, (int)(last - index));
    }
    long seqlen = n - seq;
    long oldlen = is_xzero ? 2 : 1;
    long delta = seqlen - oldlen;
    if (delta > 0 && (long long)h->len + delta > sparse_max_bytes()) goto promote;
    if (delta && next) memmove(next + delta, next, (size_t)(end - next));
    h->len = (size_t)((long)h->len + delta);
    memcpy(p, seq, (size_t)seqlen);
    end += delta;

updated:
    /* Merge adjacent VAL opcodes of equal value, from the opcode before
     * the edit, over at most five opcodes. */
    p = prev ? prev : sparse;
    int scan = 5;
    while (p < end && scan--) {
        if (SP_IS_XZERO(p)) {
            p += 2;
            continue;
        } else if (SP_IS_ZERO(p)) {
            p++;
            continue;
        }
        if (p + 1 < end && SP_IS_VAL(p + 1)) {
            int v1 = SP_VAL_VALUE(p), v2 = SP_VAL_VALUE(p + 1);
            if (v1 == v2) {
                int l = SP_VAL_LEN(p) + SP_VAL_LEN(p + 1);
                if (l <= SP_VAL_MAX_LEN) {
                    sp_val_set(p + 1, v1, l);
                    memmove(p, p + 1, (size_t)(end - p - 1));
                    h->len--;
                    end--;
                    continue; /* try to merge with the next one too */
                }
            }
        }
        p++;
    }
    hll_invalidate(h);
    return 1;

promote:
    if (hll_to_dense(h) < 0) return -1;
    return dense_set(h->data + HLL_HDR, index, count);
}

/* Add an element: 1 (a register changed), 0, or -1 (corrupt). */
static int hll_add(struct hll *h, const char *ele, size_t len)
{
    long reg;
    int count = hll_pat_len(ele, len, &reg);
    if (h->data[4] == HLL_ENC_DENSE) return dense_set(h->data + HLL_HDR, reg, count);
    if (h->data[4] == HLL_ENC_SPARSE) return sparse_set(h, reg, count, NULL);
    return -1;
}

/* ---------------- counting ---------------- */

/* max[i] = max(max[i], register i of the value).  0, or -1 if corrupt. */
static int hll_merge_into(uint8_t *max, const uint8_t *v, size_t len)
{
    if (v[4] == HLL_ENC_DENSE) {
        /* Four registers fill three bytes exactly: decode them together,
         * written out four times (the compiler at -O2 keeps an inner loop,
         * which doubled the instructions). */
        const uint8_t *r = v + HLL_HDR;
        for (long i = 0; i < HLL_REGISTERS; i += 4, r += 3) {
            uint32_t w = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16;
            uint8_t *mx = max + i;
            /* no branch: register values are random */
#define HLL_MAX_IN(k)                                                  \
    do {                                                               \
        uint8_t x = (uint8_t)((w >> (6 * (k))) & HLL_REGISTER_MAX);    \
        mx[k] = x > mx[k] ? x : mx[k];                                 \
    } while (0)
            HLL_MAX_IN(0);
            HLL_MAX_IN(1);
            HLL_MAX_IN(2);
            HLL_MAX_IN(3);
#undef HLL_MAX_IN
        }
        return 0;
    }
    /* Any opcode running past the last register makes the value corrupt
     * (Redis 7.0.12 and later check every opcode here). */
    const uint8_t *p = v + HLL_HDR, *end = v + len;
    long i = 0;
    while (p < end) {
        long run;
        if (SP_IS_ZERO(p)) {
            run = SP_ZERO_LEN(p);
            if (run + i > HLL_REGISTERS) return -1;
            i += run;
            p++;
        } else if (SP_IS_XZERO(p)) {
            run = SP_XZERO_LEN_IN(p, end);
            if (run + i > HLL_REGISTERS) return -1;
            i += run;
            p += 2;
        } else {
            int val = SP_VAL_VALUE(p);
            run = SP_VAL_LEN(p);
            if (run + i > HLL_REGISTERS) return -1;
            while (run--) {
                if (val > max[i]) max[i] = (uint8_t)val;
                i++;
            }
            p++;
        }
    }
    return i == HLL_REGISTERS ? 0 : -1;
}

static double hll_sigma(double x)
{
    if (x == 1.) return INFINITY;
    double zp, y = 1, z = x;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (zp != z);
    return z;
}

static double hll_tau(double x)
{
    if (x == 0. || x == 1.) return 0.;
    double zp, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zp != z);
    return z / 3;
}

/* The estimate from a histogram of register values (Ertl's estimator). */
static uint64_t hll_estimate(const int *histo)
{
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma(histo[0] / m);
    return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}

/* Cardinality of one value: 0, or -1 if corrupt. */
static int hll_count_value(const uint8_t *v, size_t len, uint64_t *card)
{
    int histo[HLL_Q + 2] = {0};
    if (v[4] == HLL_ENC_DENSE) {
        const uint8_t *r = v + HLL_HDR;
        for (long i = 0; i < HLL_REGISTERS; i += 4, r += 3) {
            uint32_t w = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16;
            histo[w & 63]++;
            histo[(w >> 6) & 63]++;
            histo[(w >> 12) & 63]++;
            histo[(w >> 18) & 63]++;
        }
    } else {
        const uint8_t *p = v + HLL_HDR, *end = v + len;
        long idx = 0;
        while (p < end) {
            if (SP_IS_ZERO(p)) {
                idx += SP_ZERO_LEN(p);
                histo[0] += SP_ZERO_LEN(p);
                p++;
            } else if (SP_IS_XZERO(p)) {
                idx += SP_XZERO_LEN_IN(p, end);
                histo[0] += SP_XZERO_LEN_IN(p, end);
                p += 2;
            } else {
                idx += SP_VAL_LEN(p);
                histo[SP_VAL_VALUE(p)] += SP_VAL_LEN(p);
                p++;
            }
        }
        if (idx != HLL_REGISTERS) return -1;
    }
    *card = hll_estimate(histo);
    return 0;
}

/* ---------------- commands ---------------- */

/* Look up argument i as a HyperLogLog: 1 (m holds it), 0 (absent), -1
 * (replied WRONGTYPE or a storage error). */
static int lookup_hll(client *c, int i, struct meta *m)
{
    int r = lookup_typed(c, i, m, T_STRING);
    /* a chunked string is longer than any HyperLogLog (a dense one is
     * 12304 bytes), and its bytes are not in m->sval */
    if (r == 1 && (m->chunked || !hll_valid(m->sval, m->slen))) {
        resp_add_error(&c->out, ERR_NOT_HLL);
        return -1;
    }
    return r;
}

static void pfadd_command(client *c)
{
    struct meta m;
    struct hll h = {0};
    meta_init(&m);
    int r = lookup_hll(c, 1, &m);
    if (r < 0) goto done;
    int updated = 0;
    if (r == 0) {
        hll_create(&h);
        updated = 1;
    } else {
        hll_from(&h, m.sval, m.slen);
    }
    for (int j = 2; j < c->argc; j++) {
        int a = hll_add(&h, ARG(c, j));
        if (a < 0) {
            resp_add_error(&c->out, ERR_CORRUPT);
            goto done;
        }
        updated += a;
    }
    if (updated) {
        hll_invalidate(&h);
        db_set_string(ARG(c, 1), (const char *)h.data, h.len, r == 1 ? m.expire : 0, &m);
        notify_keyspace_event(NOTIFY_STRING, "pfadd", ARG(c, 1));
    }
    resp_add_int(&c->out, updated ? 1 : 0);
done:
    hll_free(&h);
    meta_free(&m);
}

static void pfcount_command(client *c)
{
    struct meta m;
    meta_init(&m);
    if (c->argc > 2) {
        /* The union: the maximum of every register over the keys. */
        uint8_t *max = xcalloc(1, HLL_REGISTERS);
        for (int j = 1; j < c->argc; j++) db_prefetch(ARG(c, j));
        for (int j = 1; j < c->argc; j++) {
            int r = lookup_hll(c, j, &m);
            if (r < 0) goto multi_done;
            if (r == 0) continue;
            if (hll_merge_into(max, (const uint8_t *)m.sval, m.slen) < 0) {
                resp_add_error(&c->out, ERR_CORRUPT);
                goto multi_done;
            }
        }
        int histo[HLL_Q + 2] = {0};
        for (long i = 0; i < HLL_REGISTERS; i += 4) {
            histo[max[i]]++;
            histo[max[i + 1]]++;
            histo[max[i + 2]]++;
            histo[max[i + 3]]++;
        }
        resp_add_int(&c->out, (long long)hll_estimate(histo));
    multi_done:
        free(max);
        meta_free(&m);
        return;
    }
    int r = lookup_hll(c, 1, &m);
    if (r == 0) resp_add_int(&c->out, 0);
    if (r != 1) goto done;
    const uint8_t *v = (const uint8_t *)m.sval;
    uint64_t card = 0;
    if (!(v[15] & 0x80)) {
        for (int i = 7; i >= 0; i--) card = (card << 8) | v[8 + i];
    } else {
        if (hll_count_value(v, m.slen, &card) < 0) {
            resp_add_error(&c->out, ERR_CORRUPT);
            goto done;
        }
        /* Cache the estimate in the value, as Redis does (a write; a
         * replica leaves its copy as the master sent it). */
        if (!srv.is_replica) {
            struct hll h;
            hll_from(&h, m.sval, m.slen);
            for (int i = 0; i < 8; i++) h.data[8 + i] = (uint8_t)(card >> (8 * i));
            db_set_string(ARG(c, 1), (const char *)h.data, h.len, m.expire, &m);
            hll_free(&h);
        }
    }
    resp_add_int(&c->out, (long long)card);
done:
    meta_free(&m);
}

static void pfmerge_command(client *c)
{
    struct meta m;
    struct hll h = {0};
    uint8_t *max = xcalloc(1, HLL_REGISTERS);
    int use_dense = 0;
    meta_init(&m);
    for (int j = 1; j < c->argc; j++) db_prefetch(ARG(c, j));
    for (int j = 1; j < c->argc; j++) {
        int r = lookup_hll(c, j, &m);
        if (r < 0) goto done;
        if (r == 0) continue;
        if (m.sval[4] == HLL_ENC_DENSE) use_dense = 1;
        if (hll_merge_into(max, (const uint8_t *)m.sval, m.slen) < 0) {
            resp_add_error(&c->out, ERR_CORRUPT);
            goto done;
        }
    }
    /* The destination keeps its own bytes (and expire) and takes the
     * merged registers; it is dense if any input was. */
    int r = lookup_hll(c, 1, &m);
    if (r < 0) goto done;
    if (r == 0) hll_create(&h);
    else hll_from(&h, m.sval, m.slen);
    if (use_dense && hll_to_dense(&h) < 0) {
        resp_add_error(&c->out, ERR_CORRUPT);
        goto done;
    }
    struct sp_hint hint = { -1, -1, 0 };
    for (long i = 0; i < HLL_REGISTERS; i++) {
        if (max[i] == 0) continue;
        if (h.data[4] == HLL_ENC_DENSE) dense_set(h.data + HLL_HDR, i, max[i]);
        else sparse_set(&h, i, max[i], &hint);
    }
    hll_invalidate(&h);
    db_set_string(ARG(c, 1), (const char *)h.data, h.len, r == 1 ? m.expire : 0, &m);
    notify_keyspace_event(NOTIFY_STRING, "pfadd", ARG(c, 1));
    resp_add_ok(&c->out);
done:
    free(max);
    hll_free(&h);
    meta_free(&m);
}

/* ---------------- PFDEBUG, PFSELFTEST ---------------- */

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key, as Redis 7.0 answers them
 * (GETREG and TODENSE leave the value dense, as there). */
static void pfdebug_command(client *c)
{
    struct meta m;
    struct hll h = { 0 };
    meta_init(&m);
    int r = lookup_hll(c, 2, &m);
    if (r == 0) resp_add_error(&c->out, "ERR The specified key does not exist");
    if (r != 1) goto done;
    int sparse = m.sval[4] == HLL_ENC_SPARSE;
    if (ARG_IS(c, 1, "getreg") || ARG_IS(c, 1, "todense")) {
        int getreg = ARG_IS(c, 1, "getreg");
        hll_from(&h, m.sval, m.slen);
        if (sparse) {
            if (hll_to_dense(&h) < 0) {
                resp_add_error(&c->out, ERR_CORRUPT);
                goto done;
            }
            db_set_string(ARG(c, 2), (const char *)h.data, h.len, m.expire, &m);
        }
        if (!getreg) {
            resp_add_int(&c->out, sparse);
            goto done;
        }
        resp_add_array(&c->out, HLL_REGISTERS);
        for (long i = 0; i < HLL_REGISTERS; i++) resp_add_int(&c->out, dense_get(h.data + HLL_HDR, i));
    } else if (ARG_IS(c, 1, "decode")) {
        if (!sparse) {
            resp_add_error(&c->out, "ERR HLL encoding is not sparse");
            goto done;
        }
        buf out;
        buf_init(&out);
        const uint8_t *p = (const uint8_t *)m.sval + HLL_HDR, *end = (const uint8_t *)m.sval + m.slen;
        char tmp[32];
        while (p < end) {
            int n;
            if (SP_IS_ZERO(p)) {
                n = snprintf(tmp, sizeof tmp, "z:%d ", SP_ZERO_LEN(p));
                p++;
            } else if (SP_IS_XZERO(p)) {
                n = snprintf(tmp, sizeof tmp, "Z:%d ", SP_XZERO_LEN_IN(p, end));
                p += 2;
            } else {
                n = snprintf(tmp, sizeof tmp, "v:%d,%d ", SP_VAL_VALUE(p), SP_VAL_LEN(p));
                p++;
            }
            buf_append(&out, tmp, (size_t)n);
        }
        if (out.len) out.len--; /* the last space */
        resp_add_bulk(&c->out, out.len ? out.data : "", out.len);
        buf_free(&out);
    } else if (ARG_IS(c, 1, "encoding")) {
        resp_add_simple(&c->out, sparse ? "sparse" : "dense");
    } else {
        resp_add_errorf(&c->out, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)c->argvlen[1], c->argv[1]);
    }
done:
    hll_free(&h);
    meta_free(&m);
}

/* PFSELFTEST: checks of this implementation, answered +OK or with
 * TESTFAILED and what went wrong (Redis's own test does the same kind of
 * checks at a larger scale):
 *   1. every dense register holds what was written to it, neighbours
 *      untouched;
 *   2. the same elements added to a value kept sparse (as long as it
 *      can be) and to one forced dense give the same estimate;
 *   3. estimates stay within 5 standard errors (5 * 1.04 / sqrt(16384))
 *      of the true count up to 100,000 elements. */
static void pfselftest_command(client *c)
{
    uint8_t *regs = xcalloc(1, HLL_DENSE_SIZE + 8), *want = xcalloc(1, HLL_REGISTERS);
    struct hll sp, de;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    const char *err = NULL;
    char msg[128];
    for (int round = 0; round < 4 && !err; round++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            want[i] = (uint8_t)((seed >> 33) & HLL_REGISTER_MAX);
            dense_put(regs, i, want[i]);
        }
        for (long i = 0; i < HLL_REGISTERS && !err; i++)
            if (dense_get(regs, i) != want[i]) err = "TESTFAILED Register error";
    }
    hll_create(&sp);
    hll_create(&de);
    hll_to_dense(&de);
    for (long j = 1; j <= 100000 && !err; j++) {
        char ele[24];
        int n = ll2str(ele, sizeof ele, (long long)(j * 2654435761LL));
        if (hll_add(&sp, ele, (size_t)n) < 0 || hll_add(&de, ele, (size_t)n) < 0) {
            err = "TESTFAILED corrupted value";
            break;
        }
        if (j == 10 || j == 100 || j == 1000 || j == 3000 || j == 10000 || j == 100000) {
            uint64_t a, b;
            if (hll_count_value(sp.data, sp.len, &a) < 0 || hll_count_value(de.data, de.len, &b) < 0) {
                err = "TESTFAILED corrupted value";
            } else if (a != b) {
                err = "TESTFAILED Sparse and dense representation mismatch";
            } else {
                double abserr = fabs((double)a - (double)j);
                double maxerr = (double)j * 5 * 1.04 / sqrt((double)HLL_REGISTERS);
                if (j < 100) maxerr = j < 10 ? 1 : 2; /* small counts are exact or nearly */
                if (abserr > maxerr) {
                    snprintf(msg, sizeof msg, "TESTFAILED Too big error. card:%ld abserr:%f", j, abserr);
                    err = msg;
                }
            }
        }
    }
    hll_free(&sp);
    hll_free(&de);
    free(regs);
    free(want);
    if (err) resp_add_error(&c->out, err);
    else resp_add_ok(&c->out);
}

void t_hll_register(void)
{
    server_register(CMD_PFDEBUG, pfdebug_command);
    server_register(CMD_PFSELFTEST, pfselftest_command);
    server_register(CMD_PFADD, pfadd_command);
    server_register(CMD_PFCOUNT, pfcount_command);
    server_register(CMD_PFMERGE, pfmerge_command);
}
