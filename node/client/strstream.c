/* strstream: big GET replies in steps.  See strstream.h. */
#include "strstream.h"

#include <stdlib.h>
#include <string.h>

#include "strchunk.h"

struct str_stream {
    uint64_t version;
    size_t off, len;
};

/* Open streams' versions, with how many streams read each. */
static struct pin { uint64_t version; int refs; } *pins;
static int npins, pins_cap;

static void pin(uint64_t v)
{
    for (int i = 0; i < npins; i++)
        if (pins[i].version == v) {
            pins[i].refs++;
            return;
        }
    if (npins == pins_cap) {
        pins_cap = pins_cap ? pins_cap * 2 : 8;
        pins = xrealloc(pins, sizeof *pins * (size_t)pins_cap);
    }
    pins[npins++] = (struct pin){v, 1};
}

static void unpin(uint64_t v)
{
    for (int i = 0; i < npins; i++)
        if (pins[i].version == v) {
            if (--pins[i].refs == 0) pins[i] = pins[--npins];
            return;
        }
}

int strstream_pinned(uint64_t version)
{
    for (int i = 0; i < npins; i++)
        if (pins[i].version == version) return 1;
    return 0;
}

int strstream_active(void)
{
    return npins > 0;
}

int strstream_eligible(const client *c, const struct meta *m)
{
    return m->chunked && m->slen >= STRSTREAM_MIN && c->fd >= 0 && !c->stream && !srv.is_replica &&
           !c->tstate && !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP |
                                       CLIENT_MASTER | CLIENT_PUBSUB));
}

void strstream_start(client *c, const struct meta *m)
{
    struct str_stream *s = xmalloc(sizeof *s);
    s->version = m->version;
    s->off = 0;
    s->len = m->slen;
    buf_printf(&c->out, "$%zu\r\n", m->slen);
    pin(s->version);
    c->stream = s;
}

static void stream_free(client *c)
{
    if (!c->stream) return;
    unpin(c->stream->version);
    free(c->stream);
    c->stream = NULL;
}

int strstream_pump(client *c)
{
    struct str_stream *s = c->stream;
    struct meta m;
    meta_init(&m);
    m.type = T_STRING;
    m.chunked = 1;
    m.version = s->version;
    m.count = m.slen = s->len;
    size_t n = s->len - s->off < STRSTREAM_STEP ? s->len - s->off : STRSTREAM_STEP;
    buf_reserve(&c->out, n + 2);
    if (strchunk_read(&m, s->off, n, c->out.data + c->out.len) < 0)
        memset(c->out.data + c->out.len, 0, n); /* logged; the protocol stays intact */
    c->out.len += n;
    s->off += n;
    if (s->off < s->len) return 1;
    buf_append(&c->out, "\r\n", 2);
    stream_free(c);
    return 0;
}

void strstream_init(void)
{
    server_add_free_hook(stream_free);
}
