/* dump: consistent copies of a node's data, in one chunk format shared by
 * the full sync a master streams to a replica and by the backup files of
 * strata-dump / strata-load (LedisDB's ledis-dump / ledis-load).
 *
 * A copy is an iteration of a LevelDB snapshot together with the WAL
 * position read from that same snapshot, so the copy is exactly the state
 * after record `lsn`, and a replica loaded from it continues at lsn + 1.
 * The log records themselves and the position key are node-local and left
 * out; the loader writes a fresh position (empty log at that lsn).
 *
 * Chunk (about 1 MiB):
 *
 *   count:4 | crc:4 | (klen:4 | key | vlen:4 | value) * count
 *   crc = crc32c of the entries
 *
 * Backup file:
 *
 *   "STRATADUMP01" | position:44 (wal.h) | hcrc:4          header
 *   (len:4 | chunk) *                                       len > 0
 *   0:4 | nkeys:8                                           end
 *   hcrc = crc32c of magic and position; big endian throughout. */
#ifndef STRATA_DUMP_H
#define STRATA_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "store.h"
#include "wal.h"

#define DUMP_MAGIC "STRATADUMP01"
#define DUMP_MAGIC_LEN 12
#define DUMP_HEADER_LEN (DUMP_MAGIC_LEN + WAL_POS_LEN + 4)
#define DUMP_CHUNK_BYTES (1u << 20)

/* Reading side: a snapshot of `st` and its position.  Returns NULL on a
 * storage error (logged).  The source holds a LevelDB snapshot until
 * dump_source_close. */
struct dump_source;
struct dump_source *dump_source_open(store *st);
const struct wal_pos *dump_source_pos(const struct dump_source *s);
/* Append the next chunk of about max_bytes to out.  Returns 1, or 0 when
 * the snapshot is exhausted (nothing appended). */
int dump_source_next(struct dump_source *s, buf *out, size_t max_bytes);
unsigned long long dump_source_keys(const struct dump_source *s);
void dump_source_close(struct dump_source *s);

/* Check a chunk's structure and checksum.  Returns its entry count or -1. */
long dump_chunk_check(const char *chunk, size_t len);

/* Writing side: a LevelDB database in `dir`, which must be absent or an
 * empty database.  NULL and a malloc'd *err on failure. */
struct dump_loader;
struct dump_loader *dump_loader_open(const char *dir, char **err);
/* Write one chunk (checked first; nothing is written from a bad chunk).
 * Returns 0 or -1 with a static *err. */
int dump_loader_chunk(struct dump_loader *l, const char *chunk, size_t len, const char **err);
unsigned long long dump_loader_keys(const struct dump_loader *l);
/* Write the position (an empty log at p's lsn), sync and close.  The
 * loader is freed in every case.  Returns 0 or -1 (*err malloc'd). */
int dump_loader_finish(struct dump_loader *l, const struct wal_pos *p, char **err);
/* Close and delete the partial database.  The loader is freed. */
void dump_loader_abort(struct dump_loader *l, const char *dir);

/* Delete a LevelDB database directory (no error if absent).  0 or -1. */
int dump_destroy_dir(const char *dir);

/* Backup file header. */
void dump_header_encode(const struct wal_pos *p, unsigned char out[DUMP_HEADER_LEN]);
int dump_header_decode(const unsigned char *h, size_t len, struct wal_pos *p);

#endif
