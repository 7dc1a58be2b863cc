/* wal: the replication log — one record per write command (per EXEC for a
 * transaction), stored in LevelDB under "AWL" keys in the SAME pending batch
 * as the data it describes, so a record and its data commit together or
 * not at all.
 *
 * A record is identified by (epoch, lsn): lsn grows by one per record and
 * never repeats on a node; epoch grows at each promotion (REPLICAOF NO ONE).
 * The record carries the command's physical changes (store_ops), so a
 * replica that applies it becomes byte-identical to its master, and its
 * CRC-32C, so a damaged record is refused instead of applied.
 *
 * LevelDB keys (big endian):
 *
 *   "AWL" first_lsn:8 -> log block: the records of one group commit
 *                        (below), first_lsn the lsn of the first of them;
 *                        stored with each record's header packed into a
 *                        few bytes (wal.c, "stored blocks"), and rebuilt
 *                        to the exact record bytes when read
 *   "RWP"             -> position: epoch:8 | last_epoch:8 | last_lsn:8 |
 *                        last_crc:4 | first_lsn:8 | log_bytes:8
 *
 *   epoch       the node's current epoch (what its next record will carry)
 *   last_*      identity of the newest record the node holds or applied,
 *               kept even when the log is trimmed away, so a replica that
 *               is exactly up to date can always be recognised
 *   first_lsn   oldest record still in the log (> last_lsn: log empty)
 *   log_bytes   total size of the retained blocks (values + keys)
 *
 * Why blocks: one LevelDB entry per group commit instead of one per
 * command halves the memtable inserts of a write.  Each record keeps its
 * own framing and checksum, so records are still streamed, verified and
 * compared one by one, from any lsn.  A block holds consecutive lsns
 * (first_lsn, first_lsn + 1, ...) and at most about WAL_BLOCK_MAX bytes;
 * a log written one record per key (older nodes) is a log of one-record
 * blocks, so both read the same.
 *
 *   "AWL" 17 -> | record 17 | record 18 | record 19 |
 *   "AWL" 20 -> | record 20 |
 *
 * Why "AWL": the blocks sort before every data key ('D' 'E' 'G' 'M' 'Z').
 * LevelDB compacts a file with every file of the next level whose key
 * range overlaps it, and a memtable's range runs from its smallest key to
 * its largest.  Under "RWL" (older nodes) the whole retained log sat
 * between the 'D'/'M' keys and the 'Z' keys that every write spans, so
 * each compaction rewrote the log again: measured with redis-benchmark
 * ZADD at pipeline 1 (bench_types.sh's order, three rounds), LevelDB's
 * compaction thread wrote 75/113/172 MB per 200k ZADDs with "RWL" against
 * 44/71/114 MB with "AWL".  Blocks are appended at the top of their range,
 * so a memtable now only overlaps the newest part of the log (trimming
 * adds the oldest part: see wal_trim).  wal_open moves an "RWL" log to
 * "AWL" (wal.c, migrate_log).
 *
 * Record:
 *
 *    0     1          9          17         25        29        33
 *    +-----+----------+----------+----------+---------+---------+-----------+
 *    | 'W' | epoch:8  | lsn:8    | time:8   | oplen:4 | crc:4   | ops       |
 *    +-----+----------+----------+----------+---------+---------+-----------+
 *    crc = crc32c(bytes 0..28 || ops); time in ms since the Unix epoch
 *    ops = (op:1 'P'|'D' | klen:4 | key | ['P': vlen:4 | value])*
 *
 * Records of the batch being built are kept in memory and reach the
 * store's pending batch when it commits (store_set_commit_hook), together
 * with one "RWP", so the log, the position and the data still come from
 * one LevelDB write.
 *
 * A node that no replica could read from keeps no log (wal_keep), as
 * Redis has no backlog until a replica connects: the log was most of the
 * LevelDB writes and compaction work of a lone master.
 *
 * The log is trimmed by size and age (wal_trim), never below a pin that the
 * caller computes (replicas still being fed, running full syncs), within a
 * hard bound, a whole block at a time, and in runs: trimming starts when
 * the log is a quarter over its retention and goes down to it.  Each node trims its own log (its
 * block boundaries are its own); trimming is not replicated.
 *
 * Single-threaded, like the store. */
#ifndef STRATA_WAL_H
#define STRATA_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

#define WAL_REC_HDR 33
#define WAL_KEY_PREFIX "AWL"
#define WAL_KEY_LEN 11              /* WAL_KEY_PREFIX + first_lsn:8 */
#define WAL_BLOCK_MAX (1u << 20)    /* a fuller block goes to the batch, a new one starts */
#define WAL_POS_KEY "RWP"

/* A decoded record (pointers into the record's bytes). */
struct wal_rec {
    uint64_t epoch, lsn, time_ms;
    uint32_t crc;
    const char *ops;                /* points into the record */
    size_t oplen;
};

struct wal_pos {
    uint64_t epoch;                 /* current epoch */
    uint64_t last_epoch, last_lsn;  /* newest record held */
    uint32_t last_crc;
    uint64_t first_lsn;             /* oldest retained record */
    uint64_t log_bytes;
};

/* Load the position from the store (a fresh node: epoch 1, empty log),
 * first moving a log stored by older nodes under "RWL" to "AWL" (its own
 * commits).  Returns 0, or -1 on a storage error (logged). */
int wal_open(store *st);

/* The current position (in memory; includes records not yet committed). */
const struct wal_pos *wal_position(void);
/* The newest record known to be committed (see wal_publish). */
uint64_t wal_committed_lsn(void);

/* Append a record holding `ops` to the pending batch (master side).
 * Returns its lsn. */
uint64_t wal_append(const char *ops, size_t oplen, uint64_t time_ms);

/* Append a record received from the master (replica side): the record is
 * verified, its ops are applied to the pending batch with raw writes and
 * the record is stored as is; *out describes it (pointers into rec).
 * Returns 0; -1 if the record is malformed or
 * fails its checksum (nothing is applied); -2 if it does not follow the
 * newest record (wrong lsn or an older epoch; nothing is applied).  `why`
 * gets a static description on failure. */
int wal_apply(const char *rec, size_t len, struct wal_rec *out, const char **why);

/* Called once per loop iteration after the commit: records appended so
 * far are committed, unless a commit failed since the last call, in which
 * case the position is reloaded from LevelDB and the live buffer is cut
 * back to what was committed.  Returns the committed lsn. */
uint64_t wal_publish(void);

/* Whether wal_append also frames its records for the live buffer (the
 * replication master turns it off while no replica is attached, so a
 * lone master does not copy every record).  Turning it off empties it. */
void wal_live_enable(int on);

/* Records appended by wal_append (not those a replica applies: chained
 * replication is not supported) since the last wal_live_clear, framed as
 * RESP bulk strings for the wire, with the lsn of the record before the first of them
 * (`*prev`) and of the last (`*last`).  Only committed records are in it
 * once wal_publish has run. */
const buf *wal_live(uint64_t *prev, uint64_t *last);
void wal_live_clear(void);

/* Read the record `lsn` into rec (replacing its content), committed or
 * not.  Returns 1, 0 if the log does not hold it, -1 on a storage error.
 * Reading lsns in increasing order is cheap: the last block read is
 * kept. */
int wal_read(uint64_t lsn, buf *rec);

/* Decode a record without trusting it.  Returns 0, -1 if malformed,
 * -2 if the checksum does not match. */
int wal_parse(const char *rec, size_t len, struct wal_rec *out);
/* Checksum of a record as stored in its header (0 if too short). */
uint32_t wal_rec_crc(const char *rec, size_t len);

/* Validate a serialized op list (store_ops format).  Returns the number of
 * ops, or -1 if malformed. */
long wal_ops_check(const char *ops, size_t len);

/* Start a new epoch (promotion): max(epoch, last_epoch) + 1, written to
 * the pending batch.  Returns the new epoch. */
uint64_t wal_new_epoch(void);

/* After a full sync the store was replaced: the log is empty and the node
 * sits exactly at (epoch, last_epoch, last_lsn, last_crc).  Writes the
 * position to the pending batch. */
void wal_reset(uint64_t epoch, uint64_t last_epoch, uint64_t last_lsn, uint32_t last_crc);

/* Encode/decode the position value (for full sync and dump files). */
#define WAL_POS_LEN 44
void wal_pos_encode(const struct wal_pos *p, unsigned char out[WAL_POS_LEN]);
int wal_pos_decode(const char *v, size_t len, struct wal_pos *p);

/* Trim old records (by wal_retention_bytes / wal_retention_ms) but never
 * those >= pin, unless the log exceeds the hard bound.  A run of trims
 * starts once the log is over 5/4 of a retention and goes on, call after
 * call, until it is within both.  Whole blocks go:
 * a block is old when its newest record is, and pinned when its newest
 * record is >= pin.  Deletes blocks in the pending batch, holding at most
 * `max_records` records (at least one block if any may go).  Returns how
 * many records were removed.  A call that finds blocks left over by
 * wal_keep(0) (or a restart in the middle of dropping them) deletes up to
 * `max_records` of those instead and returns 0. */
int wal_trim(uint64_t pin, long long retention_bytes, long long retention_ms, int max_records);
/* The hard bound on a pinned log for a retention size. */
uint64_t wal_hard_bound(long long retention_bytes);

/* Whether records are stored: on by default.  Off, every record still
 * gets its lsn, epoch and checksum (the position moves on and names the
 * newest record, so an exactly up-to-date replica is still recognised),
 * but the log holds only the batch being built, which is dropped instead
 * of stored when it is flushed.  Turning it off drops the stored log:
 * first_lsn moves past it at once and wal_trim deletes its blocks in runs.
 * Turning it on keeps the batch being built, so a full sync that takes
 * its snapshot now finds every later record in the log.  The replication
 * layer decides (repl_master.c, keep_log). */
void wal_keep(int on);
int wal_keeping(void);

/* Key of the block starting at record `lsn` (WAL_KEY_LEN bytes). */
void wal_key(unsigned char out[WAL_KEY_LEN], uint64_t lsn);
/* 1 if a LevelDB key belongs to the log itself (blocks), which full
 * syncs and dumps leave out. */
int wal_is_log_key(const char *k, size_t kl);

/* Statistics for INFO. */
struct wal_stats {
    unsigned long long appended, applied, trimmed, bad_records;
};
const struct wal_stats *wal_get_stats(void);
/* Count a record refused by a replica (checksum, framing). */
void wal_count_bad(void);

/* Test hook: flip one byte of the stored record `lsn` (in its ops, or its
 * header if it has none).  Returns 0, or -1 if the log does not hold it. */
int wal_debug_corrupt(uint64_t lsn);

#endif
