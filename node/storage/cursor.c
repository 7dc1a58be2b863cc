/* cursor: see cursor.h. */
#include "cursor.h"

#include <stdio.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

/* CURSOR_SLOTS (cursor.h) cursors at most, holding CURSOR_BYTES of
 * positions at most: a save that goes over the budget drops the oldest
 * positions first.  Why so many: the ring is shared by every client, and a
 * slow client's scan failed once 4096 other SCAN calls had run since its
 * last one (a few hundred scanning clients reach that in seconds).  The
 * slots cost 24 bytes each, touched only once used. */
#define CURSOR_BYTES (16u << 20)

static struct {
    uint64_t id;
    char *pos;
    size_t len;
} ring[CURSOR_SLOTS];
static uint64_t cursor_seq;
static size_t ring_bytes;

static void slot_free(unsigned slot)
{
    if (!ring[slot].pos) return;
    ring_bytes -= ring[slot].len + 1;
    free(ring[slot].pos);
    ring[slot].pos = NULL;
    ring[slot].len = 0;
}

uint64_t cursor_save(const char *pos, size_t len)
{
    if (!cursor_seq) cursor_seq = (now_us() & 0xffffff) + 1;
    cursor_seq++;
    uint64_t id = (cursor_seq << CURSOR_SLOT_BITS) | (cursor_seq & (CURSOR_SLOTS - 1));
    unsigned slot = (unsigned)(id & (CURSOR_SLOTS - 1));
    slot_free(slot);
    ring[slot].pos = xmemdup(pos, len);
    ring[slot].len = len;
    ring[slot].id = id;
    ring_bytes += len + 1;
    /* Over budget: the oldest positions go first (slots fill in order,
     * so the oldest follows this one); this one always stays. */
    for (unsigned i = 1; ring_bytes > CURSOR_BYTES && i < CURSOR_SLOTS; i++)
        slot_free((slot + i) & (CURSOR_SLOTS - 1));
    return id;
}

int cursor_load(uint64_t cursor, buf *out)
{
    unsigned slot = (unsigned)(cursor & (CURSOR_SLOTS - 1));
    if (ring[slot].id != cursor || !ring[slot].pos) return -1;
    buf_clear(out);
    buf_append(out, ring[slot].pos, ring[slot].len);
    return 0;
}

/* Redis 7.0 (parseScanCursorOrReply) reads the cursor with strtoul on the
 * NUL-terminated argument and refuses only a leading space, bytes left
 * over and overflow, so "", "00", "+5" and "-1" (ULONG_MAX) are cursors
 * there and an embedded NUL ends the number.  Do exactly the same. */
int cursor_parse(const char *s, size_t len, uint64_t *out)
{
    char small[64];
    char *tmp = len < sizeof small ? small : xmalloc(len + 1);
    char *end;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    unsigned long long v = strtoull(tmp, &end, 10);
    int ok = !isspace((unsigned char)tmp[0]) && *end == '\0' && errno != ERANGE;
    if (tmp != small) free(tmp);
    if (!ok) return -1;
    *out = v;
    return 0;
}

int scan_parse_opts(client *c, int from, int allow_type, struct scan_opts *o)
{
    memset(o, 0, sizeof *o);
    o->count = 10;
    for (int j = from; j < c->argc; j += 2) {
        if (j + 1 >= c->argc) {
            resp_add_error(&c->out, resp_err_syntax);
            return -1;
        }
        if (ARG_IS(c, j, "count")) {
            if (arg_ll(c, j + 1, &o->count) < 0) return -1;
            if (o->count < 1) {
                resp_add_error(&c->out, resp_err_syntax);
                return -1;
            }
        } else if (ARG_IS(c, j, "match")) {
            o->pat = c->argv[j + 1];
            o->plen = c->argvlen[j + 1];
            if (o->plen == 1 && o->pat[0] == '*') o->pat = NULL; /* everything, "" too */
        } else if (allow_type && ARG_IS(c, j, "type")) {
            o->type = c->argv[j + 1];
            o->tlen = c->argvlen[j + 1];
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            return -1;
        }
    }
    return 0;
}

int scan_match(const struct scan_opts *o, const char *s, size_t len)
{
    return !o->pat || glob_match(o->pat, o->plen, s, len, 0);
}

void scan_reply(client *c, uint64_t next, const buf *items, long long n)
{
    char cs[32];
    int cl = snprintf(cs, sizeof cs, "%llu", (unsigned long long)next);
    resp_add_array(&c->out, 2);
    resp_add_bulk(&c->out, cs, (size_t)cl);
    resp_add_array(&c->out, n);
    buf_append(&c->out, items->data, items->len);
}
