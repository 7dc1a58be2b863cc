/* sha1: SHA-1 (FIPS 180-4), one-shot and incremental, and the 40-character
 * lowercase hex form Redis uses for script shas (SCRIPT LOAD, EVALSHA,
 * redis.sha1hex).
 *
 * SHA-1 is not used here for security: it names script bodies, exactly as
 * Redis does, so that a sha computed by a client matches the node's.
 *
 * The context is a plain struct the caller owns (on the stack is fine); no
 * function allocates.  Usage:
 *
 *     sha1_ctx c;
 *     sha1_init(&c);
 *     sha1_update(&c, p, n);       any number of times, any sizes
 *     sha1_final(&c, digest);      c must be re-initialised to be reused
 */
#ifndef STRATA_SHA1_H
#define STRATA_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20
#define SHA1_HEX_LEN 40 /* without the terminating NUL */

typedef struct sha1_ctx {
    uint32_t h[5];
    uint64_t total;         /* bytes hashed so far */
    unsigned char block[64]; /* pending partial block */
    size_t used;            /* bytes in block, < 64 */
} sha1_ctx;

void sha1_init(sha1_ctx *c);
void sha1_update(sha1_ctx *c, const void *data, size_t len);
/* Writes the 20-byte digest. */
void sha1_final(sha1_ctx *c, unsigned char digest[SHA1_DIGEST_LEN]);

/* One-shot digest of data[0..len). */
void sha1_digest(const void *data, size_t len, unsigned char digest[SHA1_DIGEST_LEN]);
/* Lowercase hex of a digest: writes 40 characters and a NUL into out. */
void sha1_to_hex(const unsigned char digest[SHA1_DIGEST_LEN], char out[SHA1_HEX_LEN + 1]);
/* The script sha of Redis: lowercase hex SHA-1 of data, NUL-terminated. */
void sha1_hex(const void *data, size_t len, char out[SHA1_HEX_LEN + 1]);

/* The x86 SHA extensions are used when the CPU has them (checked once, at
 * first use).  sha1_use_hw(0) turns them off and sha1_use_hw(1) back on
 * if available, for tests and benchmarks; returns whether they are now in
 * use.  Both paths give the same digests. */
int sha1_use_hw(int enable);

#endif
