/* cursor: SCAN-family cursors.  The keyspace is ordered in LevelDB, so a
 * scan's position is a key, but Redis clients expect an integer cursor.
 * A cursor is a number that maps to the saved position (the next key to
 * visit) in a fixed ring of slots; 0 starts a scan.  A cursor whose slot
 * was reused by later scans is reported invalid rather than silently
 * restarted, so a client never mistakes a truncated scan for a full one. */
#ifndef STRATA_CURSOR_H
#define STRATA_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Save a position; returns its cursor (never 0). */
uint64_t cursor_save(const char *pos, size_t len);
/* Load a cursor's position into out.  0 ok, -1 unknown cursor. */
int cursor_load(uint64_t cursor, buf *out);
/* Parse the cursor argument as Redis does: -1 if not an unsigned integer. */
int cursor_parse(const char *s, size_t len, uint64_t *out);

#endif
