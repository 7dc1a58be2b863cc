/* sha1: SHA-1 as specified in FIPS 180-4 section 6.1.  See sha1.h.
 *
 * The message is consumed in 64-byte blocks; a partial block waits in the
 * context.  Words are read big-endian byte by byte, so the code does not
 * depend on the host's byte order or on alignment. */
#include "sha1.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define SHA1_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static uint32_t sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* The 80 rounds, unrolled through macros so that the compiler keeps the
 * five working variables in registers and renames them instead of
 * moving them: each round computes into `e` and rotates `b`, and the
 * next round is called with the names shifted.  The message schedule
 * lives in a 16-word ring (W(t) for t >= 16 is computed in place). */
#define SHA1_F1(b, c, d) (((c ^ d) & b) ^ d)
#define SHA1_F2(b, c, d) (b ^ c ^ d)
#define SHA1_F3(b, c, d) (((b | c) & d) | (b & c))
#define SHA1_W(t) (w[(t) & 15] = sha1_rol(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ \
                                           w[((t) + 2) & 15] ^ w[(t) & 15], 1))
#define SHA1_R(a, b, c, d, e, f, k, wt)                       \
    do {                                                      \
        e += sha1_rol(a, 5) + f(b, c, d) + (k) + (wt);        \
        b = sha1_rol(b, 30);                                  \
    } while (0)
#define SHA1_R5(t, f, k, wa, wb, wc, wd, we)                 \
    do {                                                      \
        SHA1_R(a, b, c, d, e, f, k, wa);                      \
        SHA1_R(e, a, b, c, d, f, k, wb);                      \
        SHA1_R(d, e, a, b, c, f, k, wc);                      \
        SHA1_R(c, d, e, a, b, f, k, wd);                      \
        SHA1_R(b, c, d, e, a, f, k, we);                      \
    } while (0)
#define SHA1_R5_FIRST(t, f, k) \
    SHA1_R5(t, f, k, w[(t)], w[(t) + 1], w[(t) + 2], w[(t) + 3], w[(t) + 4])
#define SHA1_R5_NEXT(t, f, k) \
    SHA1_R5(t, f, k, SHA1_W(t), SHA1_W((t) + 1), SHA1_W((t) + 2), SHA1_W((t) + 3), SHA1_W((t) + 4))

static void sha1_block_c(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[16];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    const uint32_t k1 = 0x5a827999u, k2 = 0x6ed9eba1u, k3 = 0x8f1bbcdcu, k4 = 0xca62c1d6u;
    SHA1_R5_FIRST(0, SHA1_F1, k1);
    SHA1_R5_FIRST(5, SHA1_F1, k1);
    SHA1_R5_FIRST(10, SHA1_F1, k1);
    SHA1_R(a, b, c, d, e, SHA1_F1, k1, w[15]);
    SHA1_R(e, a, b, c, d, SHA1_F1, k1, SHA1_W(16));
    SHA1_R(d, e, a, b, c, SHA1_F1, k1, SHA1_W(17));
    SHA1_R(c, d, e, a, b, SHA1_F1, k1, SHA1_W(18));
    SHA1_R(b, c, d, e, a, SHA1_F1, k1, SHA1_W(19));
    for (int t = 20; t < 40; t += 5) SHA1_R5_NEXT(t, SHA1_F2, k2);
    for (int t = 40; t < 60; t += 5) SHA1_R5_NEXT(t, SHA1_F3, k3);
    for (int t = 60; t < 80; t += 5) SHA1_R5_NEXT(t, SHA1_F2, k4);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

#ifdef SHA1_X86
/* The same compression with the x86 SHA extensions (SHA-NI), several
 * times faster.  The state sits in two registers: A B C D in one, A in
 * the highest lane, and E in the highest lane of another.  Each group of
 * four rounds takes the next four schedule words; sha1msg1, xor and
 * sha1msg2 extend the schedule three, two and one groups ahead. */
__attribute__((target("sha,sse4.1,ssse3"))) static void
sha1_blocks_ni(uint32_t h[5], const unsigned char *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h), 0x1b);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);

    for (; nblocks; nblocks--, p += 64) {
        const __m128i abcd_in = abcd, e_in = e0;
        __m128i msg[4], e = e0, saved = abcd;
        for (int i = 0; i < 4; i++)
            msg[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)),
                                      bswap);

#define SHA1_NI_GROUP(g, f)                                                      \
    do {                                                                         \
        e = (g) == 0 ? _mm_add_epi32(e, msg[0]) : _mm_sha1nexte_epu32(saved, msg[(g) & 3]); \
        if ((g) >= 3 && (g) <= 18)                                               \
            msg[((g) + 1) & 3] = _mm_sha1msg2_epu32(msg[((g) + 1) & 3], msg[(g) & 3]); \
        saved = abcd;                                                            \
        abcd = _mm_sha1rnds4_epu32(abcd, e, f);                                  \
        if ((g) >= 1 && (g) <= 16)                                               \
            msg[((g) - 1) & 3] = _mm_sha1msg1_epu32(msg[((g) - 1) & 3], msg[(g) & 3]); \
        if ((g) >= 2 && (g) <= 17)                                               \
            msg[((g) - 2) & 3] = _mm_xor_si128(msg[((g) - 2) & 3], msg[(g) & 3]); \
    } while (0)

        SHA1_NI_GROUP(0, 0);
        SHA1_NI_GROUP(1, 0);
        SHA1_NI_GROUP(2, 0);
        SHA1_NI_GROUP(3, 0);
        SHA1_NI_GROUP(4, 0);
        SHA1_NI_GROUP(5, 1);
        SHA1_NI_GROUP(6, 1);
        SHA1_NI_GROUP(7, 1);
        SHA1_NI_GROUP(8, 1);
        SHA1_NI_GROUP(9, 1);
        SHA1_NI_GROUP(10, 2);
        SHA1_NI_GROUP(11, 2);
        SHA1_NI_GROUP(12, 2);
        SHA1_NI_GROUP(13, 2);
        SHA1_NI_GROUP(14, 2);
        SHA1_NI_GROUP(15, 3);
        SHA1_NI_GROUP(16, 3);
        SHA1_NI_GROUP(17, 3);
        SHA1_NI_GROUP(18, 3);
        SHA1_NI_GROUP(19, 3);
#undef SHA1_NI_GROUP

        e0 = _mm_sha1nexte_epu32(saved, e_in);
        abcd = _mm_add_epi32(abcd, abcd_in);
    }
    _mm_storeu_si128((__m128i *)(void *)h, _mm_shuffle_epi32(abcd, 0x1b));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static int sha1_cpu_has_ni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & bit_SHA) != 0;
}
#endif

/* -1 until first use, then 1 if SHA-NI is used, else 0. */
static atomic_int sha1_hw = -1;

int sha1_use_hw(int enable)
{
#ifdef SHA1_X86
    int on = enable && sha1_cpu_has_ni();
#else
    int on = 0;
    (void)enable;
#endif
    atomic_store_explicit(&sha1_hw, on, memory_order_relaxed);
    return on;
}

static void sha1_blocks(uint32_t h[5], const unsigned char *p, size_t nblocks)
{
    int hw = atomic_load_explicit(&sha1_hw, memory_order_relaxed);
    if (hw < 0) hw = sha1_use_hw(1);
#ifdef SHA1_X86
    if (hw) {
        sha1_blocks_ni(h, p, nblocks);
        return;
    }
#endif
    for (; nblocks; nblocks--, p += 64) sha1_block_c(h, p);
}

void sha1_init(sha1_ctx *c)
{
    c->h[0] = 0x67452301u;
    c->h[1] = 0xefcdab89u;
    c->h[2] = 0x98badcfeu;
    c->h[3] = 0x10325476u;
    c->h[4] = 0xc3d2e1f0u;
    c->total = 0;
    c->used = 0;
}

void sha1_update(sha1_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    c->total += len;
    if (c->used) {
        size_t take = 64 - c->used;
        if (take > len) take = len;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        len -= take;
        if (c->used < 64) return;
        sha1_blocks(c->h, c->block, 1);
        c->used = 0;
    }
    if (len >= 64) {
        sha1_blocks(c->h, p, len / 64);
        p += len / 64 * 64;
        len %= 64;
    }
    if (len) {
        memcpy(c->block, p, len);
        c->used = len;
    }
}

void sha1_final(sha1_ctx *c, unsigned char digest[SHA1_DIGEST_LEN])
{
    /* Padding: 0x80, zeros up to 56 mod 64, then the bit length as a
     * 64-bit big-endian number. */
    uint64_t bits = c->total * 8;
    unsigned char pad[72];
    size_t padlen = (c->used < 56) ? 56 - c->used : 120 - c->used;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    uint64_t total = c->total;
    sha1_update(c, pad, padlen + 8);
    c->total = total;
    for (int i = 0; i < 5; i++) {
        digest[4 * i] = (unsigned char)(c->h[i] >> 24);
        digest[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        digest[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        digest[4 * i + 3] = (unsigned char)c->h[i];
    }
}

void sha1_digest(const void *data, size_t len, unsigned char digest[SHA1_DIGEST_LEN])
{
    sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, data, len);
    sha1_final(&c, digest);
}

void sha1_to_hex(const unsigned char digest[SHA1_DIGEST_LEN], char out[SHA1_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SHA1_DIGEST_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[SHA1_HEX_LEN] = '\0';
}

void sha1_hex(const void *data, size_t len, char out[SHA1_HEX_LEN + 1])
{
    unsigned char d[SHA1_DIGEST_LEN];
    sha1_digest(data, len, d);
    sha1_to_hex(d, out);
}
