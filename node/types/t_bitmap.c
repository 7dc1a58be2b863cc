/* t_bitmap: bit commands on strings (SETBIT, GETBIT, BITCOUNT, BITPOS,
 * BITOP, BITFIELD, BITFIELD_RO) and LCS, with Redis 7.0's replies and
 * errors (its bitops.c and t_string.c are the reference for every check
 * and its order).
 *
 * Strings may be inline or chunked (strchunk.h).  Single-bit and bitfield
 * operations read and write only the few bytes they touch; BITCOUNT and
 * BITPOS walk the range with strchunk_scan, so the absent chunks of a
 * sparse bitmap cost nothing; BITOP works one chunk-sized window at a
 * time. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "notify.h"
#include "strchunk.h"
#include "util.h"

static const char err_bitoffset[] = "ERR bit offset is not an integer or out of range";

/* A bit offset argument; `hash`: "#N" means N * bits (BITFIELD). */
static int bit_offset_arg(client *c, int i, uint64_t *off, int hash, int bits)
{
    const char *p = c->argv[i];
    size_t n = c->argvlen[i];
    int usehash = n > 0 && p[0] == '#' && hash && bits > 0;
    long long v;
    if (str2ll(p + usehash, n - (size_t)usehash, &v) < 0) {
        resp_add_error(&c->out, err_bitoffset);
        return -1;
    }
    if (usehash) v = (long long)((unsigned long long)v * (unsigned long long)bits);
    if (v < 0 || (v >> 3) >= srv.cfg.proto_max_bulk_len) {
        resp_add_error(&c->out, err_bitoffset);
        return -1;
    }
    *off = (uint64_t)v;
    return 0;
}

/* n bytes at off of a live string (or nothing), zeros past its end. */
static int read_padded(const struct meta *m, uint64_t off, size_t n, unsigned char *out)
{
    memset(out, 0, n);
    if (m->type != T_STRING || off >= m->slen) return 0;
    size_t have = m->slen - off < n ? (size_t)(m->slen - off) : n;
    return strchunk_read(m, (size_t)off, have, (char *)out);
}

/* Grow the string at key to at least `len` bytes (zeros), creating it if
 * absent, as Redis's lookupStringForBitCommand does.  Returns 1 if it was
 * created or grew, 0 if not, -1 on a storage error (replied).  m is looked
 * up again afterwards. */
static int grow_string(client *c, struct meta *m, size_t len)
{
    int live = m->type == T_STRING;
    size_t olen = live ? m->slen : 0;
    if (live && olen >= len) return 0;
    if (strchunk_write_at(ARG(c, 1), m, olen, NULL, len - olen) < 0 || db_lookup(ARG(c, 1), m) < 0) {
        reply_storage_error(c);
        return -1;
    }
    return 1;
}

/* ---------------- SETBIT / GETBIT ---------------- */

static void setbit_command(client *c)
{
    uint64_t off;
    long long on;
    struct meta m;
    if (bit_offset_arg(c, 2, &off, 0, 0) < 0) return;
    if (str2ll(ARG(c, 3), &on) < 0 || (on & ~1LL)) {
        resp_add_error(&c->out, "ERR bit is not an integer or out of range");
        return;
    }
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_STRING);
    if (r < 0) goto done;
    size_t byte = (size_t)(off >> 3);
    int bit = 7 - (int)(off & 7);
    unsigned char b = 0;
    if (read_padded(&m, byte, 1, &b) < 0) {
        reply_storage_error(c);
        goto done;
    }
    int old = (b >> bit) & 1;
    int grows = r == 0 || byte >= m.slen;
    if (grows || old != on) {
        b = (unsigned char)((b & ~(1 << bit)) | ((int)on << bit));
        int rc;
        if (r == 1 && byte < m.slen) {
            rc = strchunk_write_at(ARG(c, 1), &m, byte, (const char *)&b, 1);
        } else {
            size_t olen = r == 1 ? m.slen : 0;
            rc = b ? strchunk_write_at(ARG(c, 1), &m, byte, (const char *)&b, 1)
                   : strchunk_write_at(ARG(c, 1), &m, olen, NULL, byte + 1 - olen);
        }
        if (rc < 0) {
            reply_storage_error(c);
            goto done;
        }
        notify_keyspace_event(NOTIFY_STRING, "setbit", ARG(c, 1));
    }
    resp_add_int(&c->out, old);
done:
    meta_free(&m);
}

static void getbit_command(client *c)
{
    uint64_t off;
    struct meta m;
    if (bit_offset_arg(c, 2, &off, 0, 0) < 0) return;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_STRING);
    unsigned char b = 0;
    if (r == 1 && read_padded(&m, off >> 3, 1, &b) < 0) {
        reply_storage_error(c);
        r = -1;
    }
    if (r >= 0) resp_add_int(&c->out, (b >> (7 - (off & 7))) & 1);
    meta_free(&m);
}

/* ---------------- BITCOUNT / BITPOS ---------------- */

/* Bits set in a 64-bit word, without relying on a popcnt instruction
 * (the build does not target one; the libgcc fallback is several times
 * slower than this). */
static inline int popcount64(uint64_t x)
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (int)((x * UINT64_C(0x0101010101010101)) >> 56);
}

static int count_piece(void *arg, size_t pos, const unsigned char *p, size_t n)
{
    (void)pos;
    long long *count = arg;
    if (!p) return 0;
    size_t i = 0;
    long long c = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        c += popcount64(w[0]) + popcount64(w[1]) + popcount64(w[2]) + popcount64(w[3]);
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        c += popcount64(w);
    }
    for (; i < n; i++) c += popcount64(p[i]);
    *count += c;
    return 0;
}

/* Parse and normalise a BYTE/BIT range as Redis's bitcount and bitpos
 * do: on success [*start, *end] are byte indexes inside the string (or
 * start > end: empty) and the masks cover the bits outside a BIT range in
 * its edge bytes. */
static void range_normalise(long long totlen, int isbit, long long *start, long long *end,
                            unsigned char *first_mask, unsigned char *last_mask)
{
    if (isbit) totlen <<= 3;
    if (*start < 0) *start = totlen + *start;
    if (*end < 0) *end = totlen + *end;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= totlen) *end = totlen - 1;
    *first_mask = *last_mask = 0;
    if (isbit && *start <= *end) {
        *first_mask = (unsigned char)(~((1 << (8 - (*start & 7))) - 1) & 0xff);
        *last_mask = (unsigned char)((1 << (7 - (*end & 7))) - 1);
        *start >>= 3;
        *end >>= 3;
    }
}

static int unit_arg(client *c, int i, int *isbit)
{
    if (ARG_IS(c, i, "bit")) *isbit = 1;
    else if (ARG_IS(c, i, "byte")) *isbit = 0;
    else {
        resp_add_error(&c->out, resp_err_syntax);
        return -1;
    }
    return 0;
}

static void bitcount_command(client *c)
{
    long long start, end;
    int isbit = 0;
    unsigned char fmask = 0, lmask = 0;
    struct meta m;
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_STRING);
    if (r == 0) resp_add_int(&c->out, 0);
    if (r != 1) goto done;
    long long len = (long long)m.slen;
    if (c->argc == 4 || c->argc == 5) {
        if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) goto done;
        if (start < 0 && end < 0 && start > end) {
            resp_add_int(&c->out, 0);
            goto done;
        }
        if (c->argc == 5 && unit_arg(c, 4, &isbit) < 0) goto done;
        range_normalise(len, isbit, &start, &end, &fmask, &lmask);
    } else if (c->argc == 2) {
        start = 0;
        end = len - 1;
    } else {
        resp_add_error(&c->out, resp_err_syntax);
        goto done;
    }
    if (start > end) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    long long count = 0;
    if (strchunk_scan(&m, (size_t)start, (size_t)(end - start + 1), count_piece, &count) < 0) {
        reply_storage_error(c);
        goto done;
    }
    if (fmask || lmask) {
        unsigned char fl[2] = {0, 0}, b;
        if (fmask && read_padded(&m, (uint64_t)start, 1, &b) == 0) fl[0] = b & fmask;
        if (lmask && read_padded(&m, (uint64_t)end, 1, &b) == 0) fl[1] = b & lmask;
        count -= popcount64(fl[0]) + popcount64(fl[1]);
    }
    resp_add_int(&c->out, count);
done:
    meta_free(&m);
}

/* Redis's redisBitpos over n bytes: the first bit equal to `bit`, or -1
 * (looking for 1) / n * 8 (looking for 0) when there is none. */
static long long bitpos_bytes(const unsigned char *p, size_t n, int bit)
{
    unsigned char skip = bit ? 0 : 0xff;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == skip) continue;
        for (int j = 7; j >= 0; j--)
            if (((p[i] >> j) & 1) == bit) return (long long)i * 8 + (7 - j);
    }
    return bit ? -1 : (long long)n * 8;
}

struct bitpos_scan {
    int bit;
    size_t from;      /* byte the scan started at */
    long long found;  /* bit position relative to `from` */
};

static int bitpos_piece(void *arg, size_t pos, const unsigned char *p, size_t n)
{
    struct bitpos_scan *s = arg;
    long long rel = (long long)(pos - s->from) * 8;
    if (!p) {
        if (s->bit) return 0;
        s->found = rel;   /* a zero byte: its first bit */
        return 1;
    }
    long long q = bitpos_bytes(p, n, s->bit);
    if (q == -1 || q == (long long)n * 8) return 0;
    s->found = rel + q;
    return 1;
}

/* redisBitpos over bytes [from, from + n) of a string. */
static int bitpos_range(const struct meta *m, size_t from, size_t n, int bit, long long *pos)
{
    struct bitpos_scan s = {bit, from, -1};
    int r = strchunk_scan(m, from, n, bitpos_piece, &s);
    if (r < 0) return -1;
    *pos = r ? s.found : bit ? -1 : (long long)n * 8;
    return 0;
}

static void bitpos_command(client *c)
{
    long long bit, start, end = 0;
    int isbit = 0, end_given = 0;
    unsigned char fmask = 0, lmask = 0;
    struct meta m;
    if (arg_ll(c, 2, &bit) < 0) return;
    if (bit != 0 && bit != 1) {
        resp_add_error(&c->out, "ERR The bit argument must be 1 or 0.");
        return;
    }
    meta_init(&m);
    int r = lookup_typed(c, 1, &m, T_STRING);
    if (r == 0) resp_add_int(&c->out, bit ? -1 : 0);
    if (r != 1) goto done;
    long long len = (long long)m.slen;
    if (c->argc >= 4 && c->argc <= 6) {
        if (arg_ll(c, 3, &start) < 0) goto done;
        if (c->argc == 6 && unit_arg(c, 5, &isbit) < 0) goto done;
        if (c->argc >= 5) {
            if (arg_ll(c, 4, &end) < 0) goto done;
            end_given = 1;
        } else {
            end = isbit ? (len << 3) + 7 : len - 1;
        }
        range_normalise(len, isbit, &start, &end, &fmask, &lmask);
    } else if (c->argc == 3) {
        start = 0;
        end = len - 1;
    } else {
        resp_add_error(&c->out, resp_err_syntax);
        goto done;
    }
    if (start > end) {
        resp_add_int(&c->out, -1);
        goto done;
    }
    long long bytes = end - start + 1, pos;
    unsigned char t;
    int b = (int)bit;
    if (fmask) {
        if (read_padded(&m, (uint64_t)start, 1, &t) < 0) goto storage_error;
        t = b ? (unsigned char)(t & ~fmask) : (unsigned char)(t | fmask);
        if (lmask && bytes == 1) t = b ? (unsigned char)(t & ~lmask) : (unsigned char)(t | lmask);
        pos = bitpos_bytes(&t, 1, b);
        if (bytes == 1 || (pos != -1 && pos != 8)) goto result;
        start++;
        bytes--;
    }
    long long cur = bytes - (lmask ? 1 : 0);
    if (cur > 0) {
        if (bitpos_range(&m, (size_t)start, (size_t)cur, b, &pos) < 0) goto storage_error;
        if (bytes == cur || (pos != -1 && pos != cur << 3)) goto result;
        start += cur;
        bytes -= cur;
    }
    if (read_padded(&m, (uint64_t)end, 1, &t) < 0) goto storage_error;
    t = b ? (unsigned char)(t & ~lmask) : (unsigned char)(t | lmask);
    pos = bitpos_bytes(&t, 1, b);
result:
    if (end_given && b == 0 && pos == bytes << 3) {
        resp_add_int(&c->out, -1);
        goto done;
    }
    if (pos != -1) pos += start << 3;
    resp_add_int(&c->out, pos);
    goto done;
storage_error:
    reply_storage_error(c);
done:
    meta_free(&m);
}

/* ---------------- BITOP ---------------- */

enum { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

static void bitop_command(client *c)
{
    int op;
    if (ARG_IS(c, 1, "and")) op = BITOP_AND;
    else if (ARG_IS(c, 1, "or")) op = BITOP_OR;
    else if (ARG_IS(c, 1, "xor")) op = BITOP_XOR;
    else if (ARG_IS(c, 1, "not")) op = BITOP_NOT;
    else {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (op == BITOP_NOT && c->argc != 4) {
        resp_add_error(&c->out, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    int nsrc = c->argc - 3;
    struct meta *src = xmalloc(sizeof *src * (size_t)nsrc);
    struct meta dst;
    buf win, res;
    buf_init(&win);
    buf_init(&res);
    meta_init(&dst);
    size_t maxlen = 0;
    int nlooked = 0;
    for (int j = 0; j < nsrc; j++) {
        meta_init(&src[j]);
        nlooked++;
        int r = lookup_typed(c, j + 3, &src[j], T_STRING);
        if (r < 0) goto done;
        if (r == 1 && src[j].slen > maxlen) maxlen = src[j].slen;
        if (r == 0) src[j].type = T_NONE;
    }
    if (db_lookup(ARG(c, 2), &dst) < 0) {
        reply_storage_error(c);
        goto done;
    }
    if (maxlen == 0) {
        if (dst.type != T_NONE) {
            db_delete(ARG(c, 2), &dst);
            notify_keyspace_event(NOTIFY_GENERIC, "del", ARG(c, 2));
        }
        resp_add_int(&c->out, 0);
        goto done;
    }
    /* The result goes to a fresh record; sources keep reading their own
     * (a replaced source's chunks stay until the GC runs, after the
     * command). */
    int chunked = maxlen > STR_INLINE_MAX;
    size_t step = chunked ? STR_CHUNK_SIZE : maxlen;
    struct meta out;
    if (chunked) {
        out = dst;
        db_new_chunked(ARG(c, 2), &out, 0);
    } else {
        buf_reserve(&res, maxlen);
    }
    buf_reserve(&win, step);
    unsigned char *w = (unsigned char *)win.data;
    for (size_t at = 0; at < maxlen; at += step) {
        size_t n = maxlen - at < step ? maxlen - at : step;
        unsigned char *o = chunked ? (unsigned char *)res.data : (unsigned char *)res.data + at;
        if (chunked && res.cap < n) {
            buf_reserve(&res, n);
            o = (unsigned char *)res.data;
        }
        for (int j = 0; j < nsrc; j++) {
            if (read_padded(&src[j], at, n, j == 0 ? o : w) < 0) {
                reply_storage_error(c);
                goto done;
            }
            if (j == 0) {
                if (op == BITOP_NOT)
                    for (size_t i = 0; i < n; i++) o[i] = (unsigned char)~o[i];
                continue;
            }
            if (op == BITOP_AND)
                for (size_t i = 0; i < n; i++) o[i] &= w[i];
            else if (op == BITOP_OR)
                for (size_t i = 0; i < n; i++) o[i] |= w[i];
            else
                for (size_t i = 0; i < n; i++) o[i] ^= w[i];
        }
        if (chunked && strchunk_write(&out, at, (const char *)o, n, 1) < 0) {
            reply_storage_error(c);
            goto done;
        }
    }
    if (chunked) {
        out.count = out.slen = maxlen;
        db_write_meta(ARG(c, 2), &out, 0);
    } else {
        db_set_string(ARG(c, 2), res.data, maxlen, 0, &dst);
    }
    notify_keyspace_event(NOTIFY_STRING, "set", ARG(c, 2));
    resp_add_int(&c->out, (long long)maxlen);
done:
    for (int j = 0; j < nlooked; j++) meta_free(&src[j]);
    free(src);
    meta_free(&dst);
    buf_free(&win);
    buf_free(&res);
}

/* ---------------- BITFIELD ---------------- */

enum { BF_GET, BF_SET, BF_INCRBY };
enum { BF_WRAP, BF_SAT, BF_FAIL };

struct bf_op {
    uint64_t offset;
    int64_t i64;
    int opcode, owtype, bits, sign;
};

static uint64_t bf_get_unsigned(const unsigned char *p, uint64_t offset, int bits)
{
    uint64_t value = 0;
    for (int j = 0; j < bits; j++, offset++) {
        uint64_t bitval = (p[offset >> 3] >> (7 - (offset & 7))) & 1;
        value = (value << 1) | bitval;
    }
    return value;
}

static int64_t bf_get_signed(const unsigned char *p, uint64_t offset, int bits)
{
    uint64_t u = bf_get_unsigned(p, offset, bits);
    if (bits < 64 && (u & ((uint64_t)1 << (bits - 1)))) u |= ((uint64_t)-1) << bits;
    return (int64_t)u;
}

static void bf_set(unsigned char *p, uint64_t offset, int bits, uint64_t value)
{
    for (int j = 0; j < bits; j++, offset++) {
        unsigned bitval = (value & ((uint64_t)1 << (bits - 1 - j))) != 0;
        int bit = 7 - (int)(offset & 7);
        unsigned char *b = p + (offset >> 3);
        *b = (unsigned char)((*b & ~(1 << bit)) | (bitval << bit));
    }
}

/* Redis's checkUnsignedBitfieldOverflow / checkSignedBitfieldOverflow. */
static int bf_overflow_unsigned(uint64_t value, int64_t incr, int bits, int owtype, uint64_t *limit)
{
    uint64_t max = bits == 64 ? UINT64_MAX : (((uint64_t)1 << bits) - 1);
    int64_t maxincr = (int64_t)(max - value);
    int64_t minincr = (int64_t)(0 - value);
    if (value > max || (incr > 0 && incr > maxincr)) {
        if (owtype == BF_WRAP) goto wrap;
        if (owtype == BF_SAT) *limit = max;
        return 1;
    } else if (incr < 0 && incr < minincr) {
        if (owtype == BF_WRAP) goto wrap;
        if (owtype == BF_SAT) *limit = 0;
        return -1;
    }
    return 0;
wrap:
    *limit = (value + (uint64_t)incr) & ~(((uint64_t)-1) << bits);
    return 1;
}

static int bf_overflow_signed(int64_t value, int64_t incr, int bits, int owtype, int64_t *limit)
{
    int64_t max = bits == 64 ? INT64_MAX : (((int64_t)1 << (bits - 1)) - 1);
    int64_t min = (-max) - 1;
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    if (value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr)) {
        if (owtype == BF_WRAP) goto wrap;
        if (owtype == BF_SAT) *limit = max;
        return 1;
    } else if (value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr)) {
        if (owtype == BF_WRAP) goto wrap;
        if (owtype == BF_SAT) *limit = min;
        return -1;
    }
    return 0;
wrap: {
        uint64_t msb = (uint64_t)1 << (bits - 1);
        uint64_t r = (uint64_t)value + (uint64_t)incr;
        if (bits < 64) {
            uint64_t mask = ((uint64_t)-1) << bits;
            if (r & msb) r |= mask;
            else r &= ~mask;
        }
        *limit = (int64_t)r;
    }
    return 1;
}

static int bf_type_arg(client *c, int i, int *sign, int *bits)
{
    const char *p = c->argv[i];
    size_t n = c->argvlen[i];
    long long v;
    /* Redis reads the type as a C string: it ends at a NUL byte. */
    size_t cl = strnlen(p, n);
    if (cl == 0 || (p[0] != 'i' && p[0] != 'u') || str2ll(p + 1, cl - 1, &v) < 0 || v < 1 ||
        (p[0] == 'i' && v > 64) || (p[0] == 'u' && v > 63)) {
        resp_add_error(&c->out, "ERR Invalid bitfield type. Use something like i16 u8. "
                                "Note that u64 is not supported but i64 is.");
        return -1;
    }
    *sign = p[0] == 'i';
    *bits = (int)v;
    return 0;
}

static void bitfield_generic(client *c, int ro)
{
    struct bf_op *ops = NULL;
    int nops = 0, owtype = BF_WRAP, readonly = 1, changes = 0;
    uint64_t highest = 0;
    struct meta m;
    meta_init(&m);
    for (int j = 2; j < c->argc; j++) {
        int rem = c->argc - j - 1, opcode, sign = 0, bits = 0;
        long long i64 = 0;
        uint64_t off;
        if (ARG_IS(c, j, "get") && rem >= 2) opcode = BF_GET;
        else if (ARG_IS(c, j, "set") && rem >= 3) opcode = BF_SET;
        else if (ARG_IS(c, j, "incrby") && rem >= 3) opcode = BF_INCRBY;
        else if (ARG_IS(c, j, "overflow") && rem >= 1) {
            j++;
            if (ARG_IS(c, j, "wrap")) owtype = BF_WRAP;
            else if (ARG_IS(c, j, "sat")) owtype = BF_SAT;
            else if (ARG_IS(c, j, "fail")) owtype = BF_FAIL;
            else {
                resp_add_error(&c->out, "ERR Invalid OVERFLOW type specified");
                goto done;
            }
            continue;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
        if (bf_type_arg(c, j + 1, &sign, &bits) < 0) goto done;
        if (bit_offset_arg(c, j + 2, &off, 1, bits) < 0) goto done;
        if (opcode != BF_GET) {
            readonly = 0;
            if (highest < off + (uint64_t)bits - 1) highest = off + (uint64_t)bits - 1;
            if (arg_ll(c, j + 3, &i64) < 0) goto done;
        }
        ops = xrealloc(ops, sizeof *ops * (size_t)(nops + 1));
        ops[nops] = (struct bf_op){off, i64, opcode, owtype, bits, sign};
        nops++;
        j += 3 - (opcode == BF_GET);
    }
    /* Redis refuses a write in BITFIELD_RO before it looks the key up. */
    if (!readonly && ro) {
        resp_add_error(&c->out, "ERR BITFIELD_RO only supports the GET subcommand");
        goto done;
    }
    if (lookup_typed(c, 1, &m, T_STRING) < 0) goto done;
    if (!readonly) {
        int g = grow_string(c, &m, (size_t)(highest >> 3) + 1);
        if (g < 0) goto done;
    }
    resp_add_array(&c->out, nops);
    for (int j = 0; j < nops; j++) {
        struct bf_op *op = &ops[j];
        unsigned char w[9];
        uint64_t byte = op->offset >> 3, rel = op->offset - byte * 8;
        if (read_padded(&m, byte, 9, w) < 0) {
            reply_storage_error(c);
            goto done;
        }
        if (op->opcode == BF_GET) {
            if (op->sign) resp_add_int(&c->out, bf_get_signed(w, rel, op->bits));
            else resp_add_int(&c->out, (long long)bf_get_unsigned(w, rel, op->bits));
            continue;
        }
        int overflow, write = 1;
        uint64_t newval;
        if (op->sign) {
            int64_t oldval = bf_get_signed(w, rel, op->bits), nv, wrapped = 0, ret;
            if (op->opcode == BF_INCRBY) {
                overflow = bf_overflow_signed(oldval, op->i64, op->bits, op->owtype, &wrapped);
                nv = overflow ? wrapped : (int64_t)((uint64_t)oldval + (uint64_t)op->i64);
                ret = nv;
            } else {
                nv = op->i64;
                overflow = bf_overflow_signed(nv, 0, op->bits, op->owtype, &wrapped);
                if (overflow) nv = wrapped;
                ret = oldval;
            }
            newval = (uint64_t)nv;
            if (overflow && op->owtype == BF_FAIL) write = 0;
            else resp_add_int(&c->out, ret);
        } else {
            uint64_t oldval = bf_get_unsigned(w, rel, op->bits), nv, wrapped = 0, ret;
            if (op->opcode == BF_INCRBY) {
                nv = oldval + (uint64_t)op->i64;
                overflow = bf_overflow_unsigned(oldval, op->i64, op->bits, op->owtype, &wrapped);
                if (overflow) nv = wrapped;
                ret = nv;
            } else {
                nv = (uint64_t)op->i64;
                overflow = bf_overflow_unsigned(nv, 0, op->bits, op->owtype, &wrapped);
                if (overflow) nv = wrapped;
                ret = oldval;
            }
            newval = nv;
            if (overflow && op->owtype == BF_FAIL) write = 0;
            else resp_add_int(&c->out, (long long)ret);
        }
        changes++;
        if (!write) {
            resp_add_null(&c->out, c->resp);
            continue;
        }
        bf_set(w, rel, op->bits, newval);
        size_t nbytes = (size_t)((rel + (uint64_t)op->bits - 1) >> 3) + 1;
        if (strchunk_write_at(ARG(c, 1), &m, (size_t)byte, (const char *)w, nbytes) < 0 ||
            db_lookup(ARG(c, 1), &m) < 0) {
            reply_storage_error(c);
            goto done;
        }
    }
    if (changes) notify_keyspace_event(NOTIFY_STRING, "setbit", ARG(c, 1));
done:
    free(ops);
    meta_free(&m);
}

static void bitfield_command(client *c) { bitfield_generic(c, 0); }
static void bitfield_ro_command(client *c) { bitfield_generic(c, 1); }

/* ---------------- LCS ---------------- */

static void lcs_command(client *c)
{
    struct meta ma, mb;
    buf a, b, matches;
    uint32_t *dp = NULL;
    char *result = NULL;
    long long minmatchlen = 0;
    int getlen = 0, getidx = 0, withmatchlen = 0;
    meta_init(&ma);
    meta_init(&mb);
    buf_init(&a);
    buf_init(&b);
    buf_init(&matches);
    int ra = lookup_any(c, 1, &ma);
    if (ra < 0) goto done;
    int rb = lookup_any(c, 2, &mb);
    if (rb < 0) goto done;
    if ((ra == 1 && ma.type != T_STRING) || (rb == 1 && mb.type != T_STRING)) {
        resp_add_error(&c->out, "ERR The specified keys must contain string values");
        goto done;
    }
    if ((ra == 1 && strchunk_load(&ma, &a) < 0) || (rb == 1 && strchunk_load(&mb, &b) < 0)) {
        reply_storage_error(c);
        goto done;
    }
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (ARG_IS(c, j, "idx")) getidx = 1;
        else if (ARG_IS(c, j, "len")) getlen = 1;
        else if (ARG_IS(c, j, "withmatchlen")) withmatchlen = 1;
        else if (ARG_IS(c, j, "minmatchlen") && more) {
            if (arg_ll(c, j + 1, &minmatchlen) < 0) goto done;
            if (minmatchlen < 0) minmatchlen = 0;
            j++;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
    }
    if (getidx && getlen) {
        resp_add_error(&c->out, "ERR If you want both the length and indexes, please just use IDX.");
        goto done;
    }
    if (a.len >= UINT32_MAX - 1 || b.len >= UINT32_MAX - 1) {
        resp_add_error(&c->out, "ERR String too long for LCS");
        goto done;
    }
    uint32_t alen = (uint32_t)a.len, blen = (uint32_t)b.len;
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    unsigned long long bytes = cells * sizeof(uint32_t);
    if (bytes > (unsigned long long)srv.cfg.proto_max_bulk_len) {
        resp_add_error(&c->out, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        goto done;
    }
    dp = malloc((size_t)bytes);
    if (!dp) {
        resp_add_error(&c->out, "ERR Insufficient memory, failed allocating transient memory for LCS");
        goto done;
    }
    const unsigned char *pa = (const unsigned char *)a.data, *pb = (const unsigned char *)b.data;
#define LCS(A, B) dp[(B) + (size_t)(A) * (blen + 1)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0) LCS(i, j) = 0;
            else if (pa[i - 1] == pb[j - 1]) LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else {
                uint32_t l1 = LCS(i - 1, j), l2 = LCS(i, j - 1);
                LCS(i, j) = l1 > l2 ? l1 : l2;
            }
        }
    }
    uint32_t idx = LCS(alen, blen);
    uint32_t as = alen, ae = 0, bs = 0, be = 0, nmatches = 0;
    int compute = getidx || !getlen;
    if (compute) result = xmalloc(idx ? idx : 1);
    uint32_t i = alen, j = blen;
    while (compute && i > 0 && j > 0) {
        int emit = 0;
        if (pa[i - 1] == pb[j - 1]) {
            result[idx - 1] = (char)pa[i - 1];
            if (as == alen) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = 1;
            }
            if (as == 0 || bs == 0) emit = 1;
            idx--;
            i--;
            j--;
        } else {
            uint32_t l1 = LCS(i - 1, j), l2 = LCS(i, j - 1);
            if (l1 > l2) i--;
            else j--;
            if (as != alen) emit = 1;
        }
        uint32_t mlen = ae - as + 1;
        if (emit) {
            if (getidx && (minmatchlen == 0 || mlen >= minmatchlen)) {
                resp_add_array(&matches, 2 + withmatchlen);
                resp_add_array(&matches, 2);
                resp_add_int(&matches, as);
                resp_add_int(&matches, ae);
                resp_add_array(&matches, 2);
                resp_add_int(&matches, bs);
                resp_add_int(&matches, be);
                if (withmatchlen) resp_add_int(&matches, mlen);
                nmatches++;
            }
            as = alen;
        }
    }
    if (getidx) {
        resp_add_map(&c->out, c->resp, 2);
        resp_add_bulk_str(&c->out, "matches");
        resp_add_array(&c->out, nmatches);
        buf_append(&c->out, matches.data, matches.len);
        resp_add_bulk_str(&c->out, "len");
        resp_add_int(&c->out, LCS(alen, blen));
    } else if (getlen) {
        resp_add_int(&c->out, idx);
    } else {
        resp_add_bulk(&c->out, result, LCS(alen, blen));
    }
#undef LCS
done:
    free(dp);
    free(result);
    meta_free(&ma);
    meta_free(&mb);
    buf_free(&a);
    buf_free(&b);
    buf_free(&matches);
}

void t_bitmap_register(void)
{
    server_register(CMD_SETBIT, setbit_command);
    server_register(CMD_GETBIT, getbit_command);
    server_register(CMD_BITCOUNT, bitcount_command);
    server_register(CMD_BITPOS, bitpos_command);
    server_register(CMD_BITOP, bitop_command);
    server_register(CMD_BITFIELD, bitfield_command);
    server_register(CMD_BITFIELD_RO, bitfield_ro_command);
    server_register(CMD_LCS, lcs_command);
}
