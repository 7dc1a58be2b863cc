/* strchunk: strings longer than STR_INLINE_MAX bytes, stored in chunks.
 *
 * A short string lives inline in its meta record (db.h), so GET and SET
 * stay one LevelDB read or write.  A longer one has a meta record with its
 * length and a version, and its bytes in fixed-size chunks keyed by that
 * version:
 *
 *   'M' user_key                 -> 0x81 | expire_ms:8 | version:8 | length:8
 *   'D' version:8 chunk_index:8  -> up to STR_CHUNK_SIZE bytes
 *
 * Chunk i holds bytes [i * STR_CHUNK_SIZE, (i + 1) * STR_CHUNK_SIZE) of the
 * value.  A chunk may be absent, or shorter than its span: the missing
 * bytes are zeros.  So a sparse bitmap (SETBIT at far offsets, SETRANGE
 * past the end) stores only the chunks that were written, and a write
 * touches only the chunks it covers.  No chunk ever holds bytes beyond the
 * string's length: a chunked string only grows in place (APPEND, SETRANGE,
 * SETBIT, BITFIELD); anything that replaces it (SET, BITOP) writes a new
 * version and the old one's chunks go to the GC like a collection's
 * subkeys ('D' range of the version), so DEL, overwrite and expiry stay
 * O(1).
 *
 * A chunked string never shrinks back inline except by being replaced. */
#ifndef STRATA_STRCHUNK_H
#define STRATA_STRCHUNK_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "db.h"

#define STR_CHUNK_SIZE 16384
#define STR_INLINE_MAX 16384   /* longer values are chunked */

void enc_chunk_key(buf *out, uint64_t version, uint64_t idx);

/* Copy bytes [off, off + len) of a live string (inline or chunked) to out;
 * the range must lie inside the value.  0, or -1 on a storage error. */
int strchunk_read(const struct meta *m, size_t off, size_t len, char *out);
/* The whole value, appended to out.  0 or -1. */
int strchunk_load(const struct meta *m, buf *out);
/* Visit bytes [off, off + len) of a live string in order, in pieces:
 * fn(arg, pos, data, n) with data NULL for a run of n zero bytes (absent
 * chunks and the unstored ends of short ones), so a sparse bitmap costs
 * only its stored chunks.  A chunked string is walked with one iterator
 * (the pieces point into it: valid during the call only; fn must not
 * write to the store).  Stops at the first nonzero return of fn and
 * returns it; 0 at the end, -1 on a storage error. */
typedef int (*strchunk_fn)(void *arg, size_t pos, const unsigned char *data, size_t n);
int strchunk_scan(const struct meta *m, size_t off, size_t len, strchunk_fn fn, void *arg);

/* Write len bytes at off into the chunks of a chunked string (m->version),
 * merging with the chunks already there.  `fresh`: the version has no
 * chunk yet (nothing to read).  All-zero data is not stored where no
 * chunk exists.  The caller updates the length in the meta. */
int strchunk_write(const struct meta *m, size_t off, const char *data, size_t len, int fresh);

/* Write len bytes at off into the string at key (m: its db_lookup result,
 * a live string or nothing), extending it with zeros as needed: the
 * result stays inline while it fits, else it is (or becomes) chunked and
 * only the chunks the write covers are touched.  data NULL: len zero
 * bytes, only as an extension (off >= the current length), which on a
 * chunked string writes no chunk at all.  Keeps the expire.  m is
 * stale afterwards.  0, or -1 on a storage error. */
int strchunk_write_at(const char *key, size_t klen, struct meta *m, size_t off,
                      const char *data, size_t len);

/* Copy every stored chunk of version `from` under version `to`. */
void strchunk_copy_chunks(uint64_t from, uint64_t to);

/* Turn a live inline string (or an absent key) into a chunked one holding
 * the same bytes, so the caller can then write into it in place; keeps
 * the expire.  m is updated (chunked, new version); the meta is written
 * by the caller (db_write_meta with prev_expire 0). */
void strchunk_convert(const char *key, size_t klen, struct meta *m);

#endif
