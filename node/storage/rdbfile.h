/* rdbfile: import an RDB file written by redis-server 7.0 (RDB version
 * <= 10) into the store srv.st, for strata-load --rdb.
 *
 * File layout:
 *
 *   "REDIS" version:4 (ASCII digits)
 *   ( 0xFA AUX name value              metadata, skipped
 *   | 0xFE SELECTDB db                 only db 0 is imported
 *   | 0xFB RESIZEDB size expires       hints, skipped
 *   | 0xFC EXPIRETIME_MS ms:8 LE       applies to the next key
 *   | 0xFD EXPIRETIME s:4 LE           (older files)
 *   | 0xF8 IDLE len | 0xF9 FREQ byte   LRU/LFU of the next key, ignored
 *   | 0xF5 FUNCTION2 code              Redis functions, skipped
 *   | type key value                   one key (rdb.h) )*
 *   0xFF CRC-64:8 LE                   0 when redis-server had rdbchecksum no
 *
 * Expiry times stay absolute; a key already expired is skipped (as a
 * Redis master skips it on load).  The file is mapped, so reading costs
 * no copy and no memory beyond the page cache. */
#ifndef STRATA_RDBFILE_H
#define STRATA_RDBFILE_H

#include <stddef.h>
#include <stdint.h>

struct rdbfile_stats {
    unsigned long long keys;            /* written */
    unsigned long long expired;         /* skipped: expired already */
    unsigned long long other_db;        /* skipped: not in db 0 */
    unsigned long long other_slots;     /* skipped: slot not in the mask */
    unsigned long long bytes;           /* file size */
};

/* Load `path` into srv.st, committing as it goes.  slots: NULL for every
 * key, else 16384 flags: only keys whose slot (slot.h) is flagged are
 * loaded (one group's share of a cluster).  Returns 0, or -1 with a
 * message in err (err_size bytes). */
int rdbfile_load(const char *path, const unsigned char *slots, struct rdbfile_stats *st, char *err,
                 size_t err_size);

#endif
