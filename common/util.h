/* util: strict number parsing and formatting with Redis's rules, glob
 * matching, clocks and big-endian codecs.
 *
 * Parsers return 0 on success and -1 when the text is not exactly a number
 * of that kind (no spaces, no '+', no leading zeros for integers, no
 * trailing bytes, no overflow). */
#ifndef STRATA_UTIL_H
#define STRATA_UTIL_H

#include <stddef.h>
#include <stdint.h>

int str2ll(const char *s, size_t len, long long *out);
int str2ull(const char *s, size_t len, unsigned long long *out);
/* Double as Redis reads scores: "inf", "-inf", "+inf" allowed, NaN not. */
int str2d(const char *s, size_t len, double *out);
/* Long double as INCRBYFLOAT reads it. */
int str2ld(const char *s, size_t len, long double *out);

/* Formatting: write into buf (NUL-terminated), return the length. */
int ll2str(char *buf, size_t size, long long v);
/* Redis 7.0's reply form of a double: "%.17g", "inf", "-inf". */
int d2str(char *buf, size_t size, double v);
/* INCRBYFLOAT's human form: fixed point, no exponent, trailing zeros cut. */
int ld2str_human(char *buf, size_t size, long double v);
/* Redis's INFO *_human form of a byte count: "520B", "37.00K", "1.06M"... */
void bytes_to_human(char *buf, size_t size, unsigned long long n);

/* Glob-style match (*, ?, [a-z], [^x], \x) as KEYS and SCAN MATCH use.
 * Like Redis, an empty string matches only the empty pattern. */
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

uint64_t now_ms(void);
uint64_t now_us(void);
uint64_t mono_us(void);

static inline void put_u64be(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) { p[i] = (unsigned char)v; v >>= 8; }
}
static inline uint64_t get_u64be(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}
static inline void put_u32be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);  p[3] = (unsigned char)v;
}
static inline uint32_t get_u32be(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Case-insensitive compare of a counted string with a C string literal. */
int str_eq_nocase(const char *s, size_t len, const char *lit);

/* Parse "host:port" (also "[::1]:port").  host is written NUL-terminated
 * into hostbuf.  Returns 0 or -1. */
int parse_hostport(const char *s, char *hostbuf, size_t hostsize, int *port);

/* nhex random lowercase hex digits from /dev/urandom into out (nhex + 1
 * bytes, NUL-terminated): a node's run id, a sentinel's id.  0 or -1. */
int random_hex(char *out, size_t nhex);

/* Hash of n bytes for in-memory hash tables (8 bytes a step, then a
 * final mix, so every output bit depends on every input byte).  Tables
 * whose keys come from clients (watched keys, blocked keys, channels)
 * pass hash_seed(), so keys that collide cannot be prepared in advance;
 * it is not a cryptographic hash. */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);
/* A random value, drawn once per process. */
uint64_t hash_seed(void);

/* mkdir -p: create a directory and its parents (mode 0755).  0 or -1. */
int mkdir_p(const char *path);

/* Replace the file at path by len bytes of data so that a crash leaves the
 * old file or the new one: written to path.tmp, fsynced, renamed over path,
 * and the directory fsynced.  0, or -1 with errno set. */
int write_file_durable(const char *path, const void *data, size_t len);

/* CRC-32C (Castagnoli), for record checksums.  Not thread-safe on first call
 * before crc32c_init() has run; call it once at start-up. */
void crc32c_init(void);
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
