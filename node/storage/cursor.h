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

/* Cursors kept at once (see cursor.c for the byte budget). */
#define CURSOR_SLOT_BITS 16
#define CURSOR_SLOTS (1u << CURSOR_SLOT_BITS)

/* Save a position; returns its cursor (never 0). */
uint64_t cursor_save(const char *pos, size_t len);
/* Load a cursor's position into out.  0 ok, -1 unknown cursor. */
int cursor_load(uint64_t cursor, buf *out);
/* Parse the cursor argument as Redis does: -1 if not an unsigned integer. */
int cursor_parse(const char *s, size_t len, uint64_t *out);

/* SCAN-family options (COUNT, MATCH, and TYPE for SCAN itself), parsed as
 * Redis does: pairs after `from`; COUNT < 1 or an unknown option is a
 * syntax error; MATCH * means no filter. */
struct client;
struct scan_opts {
    long long count;             /* default 10 */
    const char *pat;             /* NULL: no MATCH filter */
    size_t plen;
    const char *type;            /* SCAN's TYPE argument, or NULL */
    size_t tlen;
};
/* Returns 0, or -1 after replying the error. */
int scan_parse_opts(struct client *c, int from, int allow_type, struct scan_opts *o);
/* 1 if s passes the MATCH filter. */
int scan_match(const struct scan_opts *o, const char *s, size_t len);
/* Reply [next-cursor, [items...]] where `items` holds n encoded replies. */
void scan_reply(struct client *c, uint64_t next, const buf *items, long long n);

#endif
