/* cursor: see cursor.h. */
#include "cursor.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CURSOR_SLOTS 4096

static struct {
    uint64_t id;
    char *pos;
    size_t len;
} ring[CURSOR_SLOTS];
static uint64_t cursor_seq;

uint64_t cursor_save(const char *pos, size_t len)
{
    if (!cursor_seq) cursor_seq = (now_us() & 0xffffff) + 1;
    cursor_seq++;
    uint64_t id = (cursor_seq << 12) | (cursor_seq & (CURSOR_SLOTS - 1));
    unsigned slot = (unsigned)(id & (CURSOR_SLOTS - 1));
    free(ring[slot].pos);
    ring[slot].pos = xmemdup(pos, len);
    ring[slot].len = len;
    ring[slot].id = id;
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

int cursor_parse(const char *s, size_t len, uint64_t *out)
{
    unsigned long long v;
    if (str2ull(s, len, &v) < 0) return -1;
    *out = v;
    return 0;
}
