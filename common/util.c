/* util: see util.h. */
#include "util.h"

#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int str2ull(const char *s, size_t len, unsigned long long *out)
{
    if (len == 0 || len > 20) return -1;
    if (len == 1 && s[0] == '0') { *out = 0; return 0; }
    if (s[0] < '1' || s[0] > '9') return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int str2ll(const char *s, size_t len, long long *out)
{
    unsigned long long v;
    if (len == 0) return -1;
    if (s[0] == '-') {
        if (str2ull(s + 1, len - 1, &v) < 0 || v == 0) return -1;
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
        return 0;
    }
    if (str2ull(s, len, &v) < 0 || v > (unsigned long long)LLONG_MAX) return -1;
    *out = (long long)v;
    return 0;
}

/* No length limit, as Redis's getDoubleFromObject: "0.000...1" written
 * out with hundreds of digits is a valid score there. */
int str2d(const char *s, size_t len, double *out)
{
    char small[256];
    char *end;
    if (len == 0) return -1;
    /* An integer of up to 16 digits and at most 2^53 is exactly a double,
     * so it needs no strtod (scores such as GEOADD's geohashes). */
    size_t neg = s[0] == '-', i = neg;
    if (len > neg && len - neg <= 16) {
        uint64_t u = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') u = u * 10 + (uint64_t)(s[i++] - '0');
        if (i == len && u <= (1ULL << 53)) {
            *out = neg ? -(double)u : (double)u;
            return 0;
        }
    }
    char *tmp = len < sizeof small ? small : xmalloc(len + 1);
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    int ok = 0;
    double v = 0;
    if (!isspace((unsigned char)tmp[0])) {
        errno = 0;
        v = strtod(tmp, &end);
        ok = end == tmp + len && !isnan(v) && /* an embedded NUL is not the end */
             !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO));
    }
    if (tmp != small) free(tmp);
    if (!ok) return -1;
    *out = v;
    return 0;
}

int str2ld(const char *s, size_t len, long double *out)
{
    char tmp[5120];  /* Redis's MAX_LONG_DOUBLE_CHARS: 5120 bytes and more are refused */
    char *end;
    if (len == 0 || len >= sizeof tmp) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (isspace((unsigned char)tmp[0])) return -1;
    errno = 0;
    long double v = strtold(tmp, &end);
    if (end != tmp + len || isnan(v)) return -1; /* an embedded NUL is not the end */
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO))
        return -1;
    *out = v;
    return 0;
}

/* snprintf's "%lld" contract (the length it would write; truncated and
 * NUL-terminated to size), without the cost of a format parse: replies
 * and keys format integers on every request. */
int ll2str(char *buf, size_t size, long long v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    if (size) {
        size_t k = n < size ? n : size - 1;
        memcpy(buf, p, k);
        buf[k] = '\0';
    }
    return (int)n;
}

int d2str(char *buf, size_t size, double v)
{
    if (isinf(v)) return snprintf(buf, size, v > 0 ? "inf" : "-inf");
    return snprintf(buf, size, "%.17g", v);
}

int ld2str_human(char *buf, size_t size, long double v)
{
    if (isinf(v)) return snprintf(buf, size, v > 0 ? "inf" : "-inf");
    int n = snprintf(buf, size, "%.17Lf", v);
    if (n < 0 || (size_t)n >= size) return -1;
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0') n--;
        if (n > 0 && buf[n - 1] == '.') n--;
        buf[n] = '\0';
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') { buf[0] = '0'; buf[1] = '\0'; n = 1; }
    return n;
}

static int fold(int c, int nocase)
{
    return nocase ? tolower(c) : c;
}

int glob_match(const char *p, size_t plen, const char *s, size_t slen, int nocase)
{
    /* As Redis's matcher: an empty string matches only an empty pattern
     * (not even "*"; KEYS and SCAN special-case a bare "*" themselves). */
    if (slen == 0) return plen == 0;
    /* Iterative matcher with single-star backtracking: linear in practice
     * and immune to the exponential blow-up of naive recursion. */
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen) {
            char c = p[pi];
            if (c == '*') {
                while (pi < plen && p[pi] == '*') pi++;
                if (pi == plen) return 1;
                star_p = pi;
                star_s = si;
                continue;
            }
            if (c == '?') { pi++; si++; continue; }
            if (c == '[') {
                size_t j = pi + 1;
                int neg = 0, match = 0;
                if (j < plen && p[j] == '^') { neg = 1; j++; }
                for (;;) {
                    if (j >= plen) { j--; break; } /* unterminated: treat as end */
                    if (p[j] == ']') break;
                    if (p[j] == '\\' && j + 1 < plen) {
                        j++;
                        if (fold((unsigned char)p[j], nocase) == fold((unsigned char)s[si], nocase)) match = 1;
                    } else if (j + 2 < plen && p[j + 1] == '-') {
                        int a = fold((unsigned char)p[j], nocase), b = fold((unsigned char)p[j + 2], nocase);
                        int x = fold((unsigned char)s[si], nocase);
                        if (a > b) { int t = a; a = b; b = t; }
                        if (x >= a && x <= b) match = 1;
                        j += 2;
                    } else if (fold((unsigned char)p[j], nocase) == fold((unsigned char)s[si], nocase)) {
                        match = 1;
                    }
                    j++;
                }
                if (neg) match = !match;
                if (match) { pi = j + 1; si++; continue; }
            } else {
                if (c == '\\' && pi + 1 < plen) { pi++; c = p[pi]; }
                if (fold((unsigned char)c, nocase) == fold((unsigned char)s[si], nocase)) {
                    pi++; si++; continue;
                }
            }
        }
        if (star_p == (size_t)-1) return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*') pi++;
    return pi == plen;
}

uint64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

uint64_t now_ms(void)
{
    return now_us() / 1000u;
}

uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int str_eq_nocase(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return n == len && strncasecmp(s, lit, n) == 0;
}

int parse_hostport(const char *s, char *hostbuf, size_t hostsize, int *port)
{
    const char *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return -1;
        hlen = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostsize) return -1;
    long long p;
    if (str2ll(colon + 1, strlen(colon + 1), &p) < 0 || p < 1 || p > 65535) return -1;
    memcpy(hostbuf, s, hlen);
    hostbuf[hlen] = '\0';
    *port = (int)p;
    return 0;
}

static uint32_t crc32c_table[256];
static int crc32c_ready;
static int crc32c_hw;

void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
    crc32c_ready = 1;
}

#if defined(__x86_64__)
/* SSE4.2's crc32 instruction computes CRC-32C directly, 8 bytes at a time:
 * an order of magnitude faster than the table for replication records. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p,
                                                              size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint32_t *table = crc32c_table;
    const unsigned char *p = data;
    if (!crc32c_ready) crc32c_init();
#if defined(__x86_64__)
    if (crc32c_hw) return ~crc32c_sse42(~crc, p, len);
#endif
    crc = ~crc;
    while (len--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int random_hex(char *out, size_t nhex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t need = (nhex + 1) / 2;
    if (need > sizeof raw) return -1;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = read(fd, raw, need);
    close(fd);
    if (got != (ssize_t)need) return -1;
    for (size_t i = 0; i < nhex; i++) out[i] = digits[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[nhex] = '\0';
    return 0;
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *k = p;
    uint64_t h = seed ^ 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, k, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        k += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n) memcpy(&w, k, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h;
}

uint64_t hash_seed(void)
{
    static uint64_t seed;
    static int drawn;
    if (!drawn) {
        char hex[17];
        if (random_hex(hex, 16) == 0) seed = strtoull(hex, NULL, 16);
        else seed = now_us() ^ ((uint64_t)getpid() << 32);
        drawn = 1;
    }
    return seed;
}

int mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
            tmp[i] = c;
        }
    }
    return 0;
}

int write_file_durable(const char *path, const void *data, size_t len)
{
    char tmp[4096], dir[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int rc = off == len && fsync(fd) == 0 ? 0 : -1;
    if (rc < 0 && !errno) errno = EIO;
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = -1;
        saved = errno;
    }
    if (rc < 0) {
        unlink(tmp);
        errno = saved;
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    rc = fsync(dfd);
    saved = errno;
    close(dfd);
    errno = saved;
    return rc;
}

void bytes_to_human(char *buf, size_t size, unsigned long long n)
{
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(buf, size, "%lluB", n);
        return;
    }
    double d = (double)n / 1024;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    snprintf(buf, size, "%.2f%c", d, units[u]);
}
