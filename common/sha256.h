/* sha256: SHA-256 (FIPS 180-4), for ACL password hashes.
 *
 * Redis keeps ACL passwords as the lowercase hex SHA-256 of the password
 * (`#<hash>` in ACL LIST and the ACL file); Strata does the same so an ACL
 * file moves between the two unchanged.  One-shot only: passwords are
 * short. */
#ifndef STRATA_SHA256_H
#define STRATA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

/* The digest of n bytes into out[32]. */
void sha256(const void *data, size_t n, uint8_t out[SHA256_LEN]);
/* The lowercase hex digest into out (65 bytes, NUL-terminated). */
void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1]);

#endif
