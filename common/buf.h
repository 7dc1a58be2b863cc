/* buf: a growable byte buffer (data, len, cap).
 *
 * The buffer owns `data`.  `buf_init` gives an empty buffer with no
 * allocation; `buf_free` releases it and leaves it empty and reusable.
 * Allocation failure aborts the process (as Redis's zmalloc does): a server
 * that cannot allocate a few bytes cannot answer anyone sensibly.
 * `buf_reserve` may move `data`: pointers into it are then stale. */
#ifndef STRATA_BUF_H
#define STRATA_BUF_H

#include <stddef.h>
#include <stdarg.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
/* Make room for at least `extra` more bytes after len. */
void buf_reserve(buf *b, size_t extra);
void buf_append(buf *b, const void *p, size_t n);
void buf_append_str(buf *b, const char *s);
void buf_append_char(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (memmove of the rest). */
void buf_consume(buf *b, size_t n);
void buf_clear(buf *b);
/* Shrink the allocation to `keep` bytes if it is larger and mostly unused. */
void buf_shrink(buf *b, size_t keep);

/* Allocation helpers that abort on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* Zeroed, at a multiple of align (a power of two, of pointer size at
 * least); free() releases it. */
void *xcalloc_aligned(size_t align, size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xmemdup(const void *p, size_t n); /* NUL-terminated copy */

#endif
