/* fuzz_resp: libFuzzer target for the RESP request parser.
 *
 * Input layout:
 *
 *   +--------+--------+----------------------------------+
 *   | cfg:1  | seed:4 | stream (the bytes a client sends) |
 *   +--------+--------+----------------------------------+
 *
 * cfg picks small limits now and then, so the limit paths are reached;
 * seed drives the sizes of the pieces the stream is cut into.  The stream
 * is parsed twice, whole and in pieces (with the unconsumed bytes moved to
 * a fresh allocation before each call, as a server's read buffer does);
 * both runs must produce the same commands and the same error.
 *
 * Invariants checked on every call:
 *   - consumed <= len, and a command consumes at least one byte;
 *   - arguments lie inside the consumed bytes (multibulk) or inside the
 *     parser's own inline buffer, and each is readable (ASan checks);
 *   - an error text starts with "ERR Protocol error: " and is sticky:
 *     the next call fails again, consumes nothing, same text;
 *   - a parsed command written back with the reply writer (as an array of
 *     bulks) parses to the same arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "resp.h"

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz_resp: %s:%d: check failed: %s\n",       \
                    __FILE__, __LINE__, #cond);                           \
            abort();                                                      \
        }                                                                 \
    } while (0)

static const char proto_prefix[] = "ERR Protocol error: ";

static void roundtrip(const resp_parser *p)
{
    buf w;
    buf_init(&w);
    resp_add_array(&w, p->argc);
    for (int i = 0; i < p->argc; i++) resp_add_bulk(&w, p->argv[i], p->argvlen[i]);
    resp_parser q;
    resp_parser_init(&q);
    size_t consumed;
    CHECK(resp_parse(&q, w.data, w.len, &consumed) == RESP_OK);
    CHECK(consumed == w.len);
    CHECK(q.argc == p->argc);
    for (int i = 0; i < p->argc; i++) {
        CHECK(q.argvlen[i] == p->argvlen[i]);
        CHECK(memcmp(q.argv[i], p->argv[i], p->argvlen[i]) == 0);
    }
    resp_parser_free(&q);
    buf_free(&w);
}

static void record(buf *trace, const resp_parser *p)
{
    buf_printf(trace, "%d", p->argc);
    for (int i = 0; i < p->argc; i++) {
        buf_printf(trace, " %zu:", p->argvlen[i]);
        buf_append(trace, p->argv[i], p->argvlen[i]);
    }
    buf_append_char(trace, '\n');
}

/* Parse `in` cut into pieces (all of it at once when seed is 0). */
static void run(const uint8_t *in, size_t len, unsigned cfg, uint32_t seed, buf *trace)
{
    resp_parser p;
    resp_parser_init(&p);
    if (cfg & 1) p.max_bulk = 16;
    if (cfg & 2) p.max_args = 4;
    if (cfg & 4) p.max_inline = 32;

    char *data = NULL;
    size_t dlen = 0, from = 0;
    int failed = 0;
    uint32_t x = seed;
    while (!failed) {
        size_t piece = len - from;
        if (seed) {
            x = x * 1103515245u + 12345u;
            piece = (x >> 16) % 67;
            if (piece > len - from) piece = len - from;
        }
        /* Fresh allocation holding the unconsumed bytes plus the piece. */
        char *fresh = malloc(dlen + piece ? dlen + piece : 1);
        CHECK(fresh);
        if (dlen) memcpy(fresh, data, dlen);
        if (piece) memcpy(fresh + dlen, in + from, piece);
        free(data);
        data = fresh;
        dlen += piece;
        from += piece;
        for (int guard = 0; guard < 100000; guard++) {
            size_t consumed = (size_t)-1;
            int r = resp_parse(&p, data, dlen, &consumed);
            CHECK(consumed <= dlen);
            if (r == RESP_ERR) {
                CHECK(strncmp(p.err, proto_prefix, sizeof proto_prefix - 1) == 0);
                char saved[sizeof p.err];
                memcpy(saved, p.err, sizeof saved);
                CHECK(resp_parse(&p, data, dlen, &consumed) == RESP_ERR);
                CHECK(consumed == 0);
                CHECK(strcmp(saved, p.err) == 0);
                buf_printf(trace, "ERR %s\n", p.err);
                failed = 1;
                break;
            }
            size_t keep = dlen - consumed;
            if (r == RESP_OK) {
                CHECK(consumed > 0);
                CHECK(p.argc > 0);
                for (int i = 0; i < p.argc; i++) {
                    const char *a = p.argv[i];
                    if (a >= data && a < data + dlen)
                        CHECK(a + p.argvlen[i] <= data + consumed);
                    else
                        CHECK(p.inline_buf && a >= p.inline_buf);
                    volatile char sink = 0;
                    for (size_t k = 0; k < p.argvlen[i]; k++) sink ^= a[k];
                    (void)sink;
                }
                record(trace, &p);
                roundtrip(&p);
            } else {
                CHECK(r == RESP_AGAIN);
                if (p.need) CHECK(p.need > keep);
            }
            memmove(data, data + consumed, keep);
            dlen = keep;
            if (r == RESP_AGAIN) break;
        }
        if (from >= len) break;
    }
    if (!failed) buf_printf(trace, "REST %zu\n", dlen);
    free(data);
    resp_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    unsigned cfg = data[0];
    uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                    (uint32_t)data[4] << 24;
    buf whole, split;
    buf_init(&whole);
    buf_init(&split);
    run(data + 5, size - 5, cfg, 0, &whole);
    run(data + 5, size - 5, cfg, seed | 1, &split);
    if (whole.len != split.len || memcmp(whole.data, split.data, whole.len) != 0) {
        fprintf(stderr, "fuzz_resp: whole and split parses differ\n--- whole\n%.*s--- split\n%.*s",
                (int)whole.len, whole.data, (int)split.len, split.data);
        abort();
    }
    buf_free(&whole);
    buf_free(&split);
    return 0;
}
