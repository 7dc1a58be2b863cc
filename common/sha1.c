/* sha1: SHA-1 as specified in FIPS 180-4 section 6.1.  See sha1.h.
 *
 * The message is consumed in 64-byte blocks; a partial block waits in the
 * context.  Words are read big-endian byte by byte, so the code does not
 * depend on the host's byte order or on alignment. */
#include "sha1.h"

#include <string.h>

static uint32_t sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = sha1_rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6u;
        }
        uint32_t tmp = sha1_rol(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = sha1_rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
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
        sha1_block(c->h, c->block);
        c->used = 0;
    }
    while (len >= 64) {
        sha1_block(c->h, p);
        p += 64;
        len -= 64;
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
