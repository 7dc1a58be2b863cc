/* fuzz_reply: libFuzzer target for the client-side reply framer and span
 * walker (common/reply.c), and for the RESP3 writer read back through it.
 *
 * Input layout:
 *
 *   +--------+--------+------------------------------------------+
 *   | cfg:1  | seed:4 | bytes: a reply stream, and a writer script |
 *   +--------+--------+------------------------------------------+
 *
 * cfg picks small limits now and then (so the limit paths are reached)
 * and the protocol of the writer script; seed drives the sizes of the
 * pieces the stream is cut into.
 *
 * Checks, on the bytes as a stream of replies:
 *   - scanned whole and scanned in pieces (the bytes not yet framed moved
 *     to a fresh allocation of exactly their size after every call), the
 *     same replies come out, with the same types, then the same error or
 *     the same number of bytes left over;
 *   - an error is sticky and starts with "Protocol error: ";
 *   - every reply found is a valid span: reply_span gives its length,
 *     reply_header reads it (with the scanner's type, nulls aside), and
 *     walking its elements with reply_next, recursively, gives exactly
 *     reply_elements spans that tile the aggregate after its header.
 *
 * On the bytes as a script: each byte picks a value for the writer (bulk,
 * integer, double from any 64 bits, boolean, nulls, verbatim, maps, sets,
 * pushes, arrays, deferred headers); what the writer wrote must scan as
 * exactly the number of values written, with no error and nothing left. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "reply.h"
#include "resp.h"

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz_reply: %s:%d: check failed: %s\n",      \
                    __FILE__, __LINE__, #cond);                           \
            abort();                                                      \
        }                                                                 \
    } while (0)

static const char err_prefix[] = "Protocol error: ";

/* Walk the complete value at p[0..len) and its elements, recursively. */
static void walk(const char *p, size_t len, char scan_type, int depth)
{
    CHECK(depth <= REPLY_MAX_DEPTH + 1);
    CHECK(reply_span(p, len) == len);
    struct reply_hdr h;
    CHECK(reply_header(p, len, &h) == 0);
    CHECK(h.hdrlen > 0 && h.hdrlen <= len);
    if (scan_type) {
        if (h.type == REPLY_NIL) CHECK(scan_type == '$' || scan_type == '*' || scan_type == '_');
        else CHECK(h.type == scan_type);
    }
    if (h.str) CHECK(h.str >= p && h.str + h.len <= p + len);
    long long n = reply_elements(&h);
    if (n == 0) {
        /* A scalar or an empty aggregate: the header is all of it. */
        CHECK(h.hdrlen == len);
        return;
    }
    struct reply_iter it;
    reply_iter_init(&it, p, len, &h);
    const char *e, *expect = p + h.hdrlen;
    size_t el;
    long long count = 0;
    while (reply_next(&it, &e, &el) == 0) {
        CHECK(e == expect);
        CHECK(el > 0 && e + el <= p + len);
        walk(e, el, 0, depth + 1);
        expect = e + el;
        count++;
    }
    CHECK(count == n);
    CHECK(expect == p + len);
}

/* Scan `in` cut into pieces (all at once when seed is 0); a trace line per
 * reply, then "ERR <text>" or "REST <n>". */
static void run(const uint8_t *in, size_t len, unsigned cfg, uint32_t seed, buf *trace)
{
    reply_scanner s;
    reply_scanner_init(&s);
    if (cfg & 1) s.max_bulk = 16;
    if (cfg & 2) s.max_elements = 5;
    char *data = NULL;
    size_t dlen = 0, from = 0;
    int failed = 0;
    uint32_t x = seed;
    while (!failed) {
        size_t piece = len - from;
        if (seed) {
            x = x * 1103515245u + 12345u;
            piece = (x >> 16) % 37;
            if (piece > len - from) piece = len - from;
        }
        char *fresh = malloc(dlen + piece ? dlen + piece : 1);
        CHECK(fresh);
        if (dlen) memcpy(fresh, data, dlen);
        if (piece) memcpy(fresh + dlen, in + from, piece);
        free(data);
        data = fresh;
        dlen += piece;
        from += piece;
        for (;;) {
            size_t end = (size_t)-1;
            int r = reply_scan(&s, data, dlen, &end);
            if (r == REPLY_ERR) {
                CHECK(strncmp(s.err, err_prefix, sizeof err_prefix - 1) == 0);
                char saved[sizeof s.err];
                memcpy(saved, s.err, sizeof saved);
                CHECK(reply_scan(&s, data, dlen, &end) == REPLY_ERR);
                CHECK(strcmp(saved, s.err) == 0);
                buf_printf(trace, "ERR %s\n", s.err);
                failed = 1;
                break;
            }
            if (r == REPLY_AGAIN) break;
            CHECK(r == REPLY_OK);
            CHECK(end > 0 && end <= dlen);
            CHECK(s.type != REPLY_ATTR);
            CHECK(s.is_error == (s.type == '-' || s.type == '!'));
            buf_printf(trace, "%c %zu\n", s.type, end);
            walk(data, end, s.type, 0);
            /* The rest moves to a fresh, exactly sized block. */
            size_t keep = dlen - end;
            char *rest = malloc(keep ? keep : 1);
            CHECK(rest);
            if (keep) memcpy(rest, data + end, keep);
            free(data);
            data = rest;
            dlen = keep;
        }
        if (from >= len) break;
    }
    if (!failed) buf_printf(trace, "REST %zu\n", dlen);
    free(data);
}

/* ---- writer script ---- */

struct script {
    const uint8_t *p, *end;
};

static unsigned next_byte(struct script *sc)
{
    return sc->p < sc->end ? *sc->p++ : 0;
}

/* Write one value chosen by the script; returns 1. */
static int write_value(struct script *sc, int proto, buf *out, int depth)
{
    unsigned op = next_byte(sc);
    unsigned kind = depth >= 8 ? op % 9 : op % 14;
    switch (kind) {
    case 0: {
        size_t n = next_byte(sc) % 40;
        if (n > (size_t)(sc->end - sc->p)) n = (size_t)(sc->end - sc->p);
        resp_add_bulk(out, sc->p, n);
        sc->p += n;
        break;
    }
    case 1: {
        long long v = 0;
        for (int i = 0; i < 8; i++) v = (long long)((unsigned long long)v << 8 | next_byte(sc));
        resp_add_int(out, v);
        break;
    }
    case 2: {
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | next_byte(sc);
        double d;
        memcpy(&d, &bits, sizeof d);
        resp_add_double(out, proto, d);
        break;
    }
    case 3: resp_add_bool(out, proto, (int)(next_byte(sc) & 1)); break;
    case 4: resp_add_null(out, proto); break;
    case 5: resp_add_null_array(out, proto); break;
    case 6: {
        size_t n = next_byte(sc) % 40;
        if (n > (size_t)(sc->end - sc->p)) n = (size_t)(sc->end - sc->p);
        resp_add_verbatim(out, proto, (const char *)sc->p, n);
        sc->p += n;
        break;
    }
    case 7: {
        /* An error line: the writer replaces CR and LF. */
        char msg[32];
        size_t n = next_byte(sc) % sizeof msg;
        size_t i;
        for (i = 0; i < n && sc->p < sc->end; i++) {
            char c = (char)*sc->p++;
            msg[i] = c ? c : '0';
        }
        msg[i] = '\0';
        resp_add_error(out, msg);
        break;
    }
    case 8: resp_add_ok(out); break;
    default: {
        unsigned n = next_byte(sc) % 5;
        unsigned how = kind - 9; /* 0 array, 1 map, 2 set, 3 push, 4 deferred map */
        size_t mark = 0;
        if (how == 0) resp_add_array(out, n);
        else if (how == 1) resp_add_map(out, proto, n);
        else if (how == 2) resp_add_set(out, proto, n);
        else if (how == 3) resp_add_push(out, proto, n);
        else mark = resp_defer(out);
        unsigned elems = how == 1 || how == 4 ? 2 * n : n;
        for (unsigned i = 0; i < elems; i++) write_value(sc, proto, out, depth + 1);
        if (how == 4) resp_set_deferred_map(out, mark, proto, n);
        break;
    }
    }
    return 1;
}

static void writer_round_trip(const uint8_t *in, size_t len, int proto)
{
    struct script sc = { in, in + len };
    buf out;
    buf_init(&out);
    int values = 0;
    while (sc.p < sc.end && values < 64) values += write_value(&sc, proto, &out, 0);
    reply_scanner s;
    reply_scanner_init(&s);
    size_t off = 0;
    int found = 0;
    while (off < out.len) {
        size_t end;
        int r = reply_scan(&s, out.data + off, out.len - off, &end);
        if (r != REPLY_OK) {
            fprintf(stderr, "fuzz_reply: writer output does not scan (%s) at %zu: %.*s\n",
                    r == REPLY_ERR ? s.err : "incomplete", off, (int)(out.len - off), out.data + off);
            abort();
        }
        walk(out.data + off, end, s.type, 0);
        off += end;
        found++;
    }
    CHECK(found == values);
    buf_free(&out);
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
        fprintf(stderr, "fuzz_reply: whole and split scans differ\n--- whole\n%.*s--- split\n%.*s",
                (int)whole.len, whole.data, (int)split.len, split.data);
        abort();
    }
    buf_free(&whole);
    buf_free(&split);
    writer_round_trip(data + 5, size - 5, cfg & 4 ? RESP3 : RESP2);
    return 0;
}
