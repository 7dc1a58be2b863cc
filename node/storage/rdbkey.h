/* rdbkey: write one key from an RDB value (rdb.h) into the store, element
 * by element as the reader hands them over, so a big collection is never
 * held in memory beyond the serialized bytes themselves.  Used by RESTORE
 * (t_dump.c) and by strata-load --rdb.
 *
 * The key's writes go to the pending batch like any command's; on a
 * failure they are rolled back to where the call started. */
#ifndef STRATA_RDBKEY_H
#define STRATA_RDBKEY_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "rdb.h"

/* Read a value of `rdbtype` from r and make it the value of `key`, with
 * `expire` (ms since the epoch, 0 = none).  `old` is db_lookup's result
 * for the key (cleaned up: the key is replaced).  With dry_run the value
 * is only checked, nothing is written.  check_dups: refuse a set, hash or
 * sorted set that names a member twice (what RESTORE needs; an RDB file
 * redis-server wrote has none, and strata-load skips the extra read); for
 * a stream: a consumer group, consumer or PEL entry named twice.  A
 * stream's consumer PEL entries are checked against the group's PEL on
 * every write pass (their owner is written there), never in a dry run.
 * Returns the key type written (T_*), or -1 with *err set (a static text:
 * malformed or empty value, duplicate member). */
int rdbkey_restore(const char *key, size_t klen, struct rdb_reader *r, int rdbtype, uint64_t expire,
                   struct meta *old, int dry_run, int check_dups, const char **err);

/* Bulk loading (strata-load): call fn whenever the pending batch holds
 * more than `bytes`, even inside one collection, so a huge value is
 * committed in pieces.  Only for a loader that throws the whole database
 * away on failure: a rollback cannot undo what fn committed.  NULL: off. */
void rdbkey_set_flush_hook(void (*fn)(void), size_t bytes);

#endif
