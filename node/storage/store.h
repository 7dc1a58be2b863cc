/* store: Strata's view of LevelDB — committed data plus the writes of the
 * current group commit, which are not yet in LevelDB.
 *
 *        commands (one event-loop iteration, or one MULTI/EXEC)
 *              |  store_put / store_del            store_get / store_iter_*
 *              v                                        |
 *     +-------------------+   merged view (pending wins) |
 *     | pending overlay   |<-----------------------------+
 *     | (skiplist) + the  |                               \
 *     | LevelDB WriteBatch|                                \--> LevelDB
 *     +-------------------+
 *              | store_commit(sync): one leveldb_write, then the overlay is cleared
 *              v
 *           LevelDB
 *
 * Why an overlay: the node answers a client only after its write is durable
 * (group commit, DESIGN.md), and an EXEC must commit as one LevelDB write
 * while its later commands read what its earlier commands wrote.  Both need
 * reads that see writes not yet handed to LevelDB.
 *
 * Each put/delete is also appended to an operation log (store_ops) that the
 * replication layer turns into a WAL record per command; puts made with
 * store_put_raw are left out of it (the WAL's own records, node state).
 *
 * Single-threaded: one event loop owns the store. */
#ifndef STRATA_STORE_H
#define STRATA_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

typedef struct store store;
typedef struct store_iter store_iter;

struct store_opts {
    long long block_cache;    /* bytes */
    long long write_buffer;   /* bytes */
    int max_open_files;
    int compression;          /* 0 none, 1 snappy */
    int bloom_bits;           /* 0 = no filter */
    int meta_cache_slots;     /* read cache of 'M' and 'D' records (rounded up to a power of two); 0 = off */
};

/* Open (creating if missing) the LevelDB database in `dir`.  Returns NULL
 * and a malloc'd message in *err on failure (caller frees). */
store *store_open(const char *dir, const struct store_opts *o, char **err);
/* Commit nothing: pending writes are dropped.  Call store_commit first. */
void store_close(store *s);

/* Point read through the overlay.  Returns 1 and the value in *val
 * (replacing its content), 0 if absent, -1 on a LevelDB error (logged). */
int store_get(store *s, const char *k, size_t kl, buf *val);
/* Hint that k will be read soon: starts loading its read-cache entry, so
 * a command that reads many keys overlaps their cache misses. */
void store_prefetch(store *s, const char *k, size_t kl);
void store_put(store *s, const char *k, size_t kl, const char *v, size_t vl);
void store_del(store *s, const char *k, size_t kl);
/* store_put with the value given in two pieces (v1 then v2), which
 * saves a caller that prefixes a header (a string's meta record) a copy. */
void store_put2(store *s, const char *k, size_t kl, const char *v1, size_t v1l, const char *v2, size_t v2l);
/* Same, without recording the change in the operation log. */
void store_put_raw(store *s, const char *k, size_t kl, const char *v, size_t vl);
void store_del_raw(store *s, const char *k, size_t kl);

/* Pending state. */
int store_dirty(const store *s);             /* 1 if anything is pending */
size_t store_pending_bytes(const store *s);
/* Write all pending changes as one LevelDB write (sync: fsync the log).
 * Returns 0, or -1 on error (logged; the pending changes are dropped and
 * *err, if given, gets a static description). */
int store_commit(store *s, int sync, const char **err);
/* Drop every pending change as if its commit had failed (counted in
 * commit_errors, so observers such as the WAL reload their position).
 * Used when the store must not be written at all (after a write error). */
void store_discard(store *s);
/* A function store_commit calls before it builds the LevelDB write, so a
 * layer that gathers its own writes for the batch (the replication log
 * packs a group commit's records into one value) can add them with
 * store_put_raw and they commit together with the data.  One per store;
 * NULL removes it.  `arg` is not owned. */
void store_set_commit_hook(store *s, void (*fn)(store *s, void *arg), void *arg);
/* fsync LevelDB's log without new data, waiting for it (shutdown). */
int store_sync(store *s);
/* The same without stalling the caller (fsync: everysec): a background
 * thread fsyncs LevelDB's log files, which makes every commit made before
 * the call durable.  Returns 0 if started, 1 if the previous one has not
 * been collected yet (nothing started). */
int store_sync_start(store *s);
/* Collect a finished background fsync: 1 if one finished since the last
 * call (*ok: it succeeded; counted in stats.syncs), else 0. */
int store_sync_finished(store *s, int *ok);

/* Savepoints: undo the pending changes made since a mark (a command that
 * failed half way, a DISCARD).  Marks are positions in the operation
 * sequence of the current pending batch. */
size_t store_mark(const store *s);
void store_rollback(store *s, size_t mark);

/* Operation log of the pending batch since `mark`, serialised as
 *   op:1 ('P' or 'D') | klen:4 | key | [vlen:4 | value]   (big endian)
 * Valid until the next change to the store. */
const char *store_ops(const store *s, size_t mark, size_t *len);

/* Free the LevelDB iterator the store keeps for reuse between commands
 * (it pins table files and memtables).  Call when the loop goes idle. */
void store_release_iter(store *s);

/* Merged iterator over committed + pending data.  Valid only while the
 * store is not committed: drop iterators before store_commit. */
store_iter *store_iter_new(store *s);
void store_iter_free(store_iter *it);
void store_iter_seek(store_iter *it, const char *k, size_t kl);   /* first >= k */
void store_iter_seek_last_before(store_iter *it, const char *k, size_t kl); /* last < k */
void store_iter_seek_first(store_iter *it);
void store_iter_seek_last(store_iter *it);
int store_iter_valid(const store_iter *it);
void store_iter_next(store_iter *it);
void store_iter_prev(store_iter *it);
const char *store_iter_key(const store_iter *it, size_t *len);
const char *store_iter_val(const store_iter *it, size_t *len);

/* Maintenance and introspection. */
void store_compact_range(store *s, const char *a, size_t al, const char *b, size_t bl);
/* The same on a background thread (started on first use; store_close
 * waits for the running compaction and drops queued ones), so the event
 * loop does not wait for it: LevelDB is thread-safe.  The keys are copied. */
void store_compact_range_async(store *s, const char *a, size_t al, const char *b, size_t bl);
/* Compactions queued or running on that thread. */
unsigned store_compactions_pending(store *s);
/* LevelDB property ("leveldb.stats", ...), malloc'd or NULL. */
char *store_property(store *s, const char *name);
/* Files at LevelDB's level 0: from 8, LevelDB delays every write by 1 ms,
 * and from 12 stops writes, until compaction catches up. */
unsigned store_level0_files(store *s);
uint64_t store_approx_size(store *s, const char *a, size_t al, const char *b, size_t bl);

struct store_stats {
    unsigned long long commits, syncs, commit_errors;
    unsigned long long bytes_written;
    unsigned long long meta_cache_hits, meta_cache_misses;
};
const struct store_stats *store_get_stats(const store *s);

/* Used by the full-sync and dump tools: a consistent snapshot iterator over
 * committed data only. */
typedef struct store_snap store_snap;
store_snap *store_snapshot(store *s);
void store_snapshot_release(store *s, store_snap *snap);
store_iter *store_iter_new_snapshot(store *s, store_snap *snap);

#endif
