/* test_reply: the client-side reply framer and span walker (common/reply.c).
 *
 * Every stream is scanned three ways: whole, one byte at a time and in
 * seeded random splits.  Between calls the bytes not yet framed are moved
 * into a fresh allocation of exactly their size and the old one freed (as
 * a link growing its input buffer would), so under ASan a pointer the
 * scanner kept into an old buffer is caught; each way must give the same
 * trace of replies, errors and leftover bytes.
 *
 * Random replies come from a generator that also writes a canonical dump
 * of each value; walking the bytes with reply_header / reply_next must
 * rebuild the same dump, and the scanner must frame each reply exactly
 * where the generator ended it.
 *
 * The random seed is printed; set STRATA_SEED to replay a run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "reply.h"
#include "resp.h"
#include "util.h"

static unsigned long long rng_state;

static unsigned rnd(void)
{
    /* xorshift64*: reproducible across libcs, unlike rand(). */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 2685821657736338717ULL) >> 32);
}

/* ---- feeding machinery ---- */

struct limits {
    long long max_bulk;     /* 0: the default */
    long long max_elements;
};

static void move_buffer(char **data, size_t *len, size_t drop, const char *extra, size_t n)
{
    size_t keep = *len - drop;
    char *fresh = xmalloc(keep + n ? keep + n : 1);
    if (keep) memcpy(fresh, *data + drop, keep);
    if (n) memcpy(fresh + keep, extra, n);
    free(*data);
    *data = fresh;
    *len = keep + n;
}

/* Scan `in` cut at the sorted offsets cuts[] and write a trace: one line
 * per reply ("OK <type> <is_error> <length>"), "ERR <text>" on an error
 * (then stop), "REST <n>" with the bytes left at the end. */
static void feed(const char *in, size_t len, const size_t *cuts, size_t ncuts, const struct limits *lim,
                 buf *trace)
{
    reply_scanner s;
    reply_scanner_init(&s);
    if (lim && lim->max_bulk) s.max_bulk = lim->max_bulk;
    if (lim && lim->max_elements) s.max_elements = lim->max_elements;
    char *data = NULL;
    size_t dlen = 0, from = 0;
    int failed = 0;
    for (size_t c = 0; c <= ncuts && !failed; c++) {
        size_t to = c < ncuts ? cuts[c] : len;
        if (to < from) to = from;
        move_buffer(&data, &dlen, 0, in + from, to - from);
        from = to;
        for (;;) {
            size_t end = 0;
            int r = reply_scan(&s, data, dlen, &end);
            if (r == REPLY_ERR) {
                buf_printf(trace, "ERR %s\n", s.err);
                /* Sticky: the same verdict whatever comes next. */
                assert_int_equal(reply_scan(&s, "+OK\r\n", 5, &end), REPLY_ERR);
                failed = 1;
                break;
            }
            if (r == REPLY_AGAIN) break;
            assert_int_equal(r, REPLY_OK);
            assert_true(end > 0 && end <= dlen);
            assert_true(s.type != REPLY_ATTR);
            buf_printf(trace, "OK %c %d %zu\n", s.type, s.is_error, end);
            /* A complete reply is also a complete span on its own. */
            assert_int_equal(reply_span(data, end), end);
            move_buffer(&data, &dlen, end, NULL, 0);
        }
    }
    if (!failed) buf_printf(trace, "REST %zu\n", dlen);
    free(data);
}

static void feed_whole(const char *in, size_t len, const struct limits *lim, buf *trace)
{
    feed(in, len, NULL, 0, lim, trace);
}

static void feed_bytes(const char *in, size_t len, const struct limits *lim, buf *trace)
{
    size_t *cuts = xmalloc(sizeof *cuts * (len + 1));
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    feed(in, len, cuts, len, lim, trace);
    free(cuts);
}

static void feed_random(const char *in, size_t len, const struct limits *lim, buf *trace)
{
    size_t n = len ? rnd() % (len < 16 ? len + 1 : 16) : 0;
    size_t *cuts = xmalloc(sizeof *cuts * (n + 1));
    for (size_t i = 0; i < n; i++) cuts[i] = len ? rnd() % (len + 1) : 0;
    for (size_t i = 1; i < n; i++) /* insertion sort */
        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    feed(in, len, cuts, n, lim, trace);
    free(cuts);
}

/* The trace of `in`, after checking that every way of feeding agrees.
 * Returns an allocated string. */
static char *scan_all_ways(const char *in, size_t len, const struct limits *lim)
{
    buf whole, t;
    buf_init(&whole);
    buf_init(&t);
    feed_whole(in, len, lim, &whole);
    feed_bytes(in, len, lim, &t);
    if (t.len != whole.len || memcmp(t.data, whole.data, t.len) != 0)
        fail_msg("byte-by-byte trace differs:\n%.*s\nwhole:\n%.*s", (int)t.len, t.data, (int)whole.len,
                 whole.data);
    for (int i = 0; i < 20; i++) {
        buf_clear(&t);
        feed_random(in, len, lim, &t);
        if (t.len != whole.len || memcmp(t.data, whole.data, t.len) != 0)
            fail_msg("random-split trace differs:\n%.*s\nwhole:\n%.*s", (int)t.len, t.data,
                     (int)whole.len, whole.data);
    }
    buf_free(&t);
    buf_append_char(&whole, '\0');
    return whole.data;
}

#define EXPECT_TRACE(in, want)                                      \
    do {                                                            \
        char *got_ = scan_all_ways(in, sizeof(in) - 1, NULL);        \
        if (strcmp(got_, want) != 0)                                \
            fail_msg("%s\ngot:\n%s\nwant:\n%s", #in, got_, want);   \
        free(got_);                                                 \
    } while (0)

#define EXPECT_TRACE_LIM(in, lim, want)                             \
    do {                                                            \
        char *got_ = scan_all_ways(in, sizeof(in) - 1, lim);         \
        if (strcmp(got_, want) != 0)                                \
            fail_msg("%s\ngot:\n%s\nwant:\n%s", #in, got_, want);   \
        free(got_);                                                 \
    } while (0)

/* ---- every type, alone ---- */

struct one {
    const char *bytes;
    char type;     /* s->type */
    int is_error;
    char htype;    /* reply_header's type */
};

static const struct one every_type[] = {
    { "+OK\r\n", '+', 0, '+' },
    { "+\r\n", '+', 0, '+' },
    { "-ERR bad thing\r\n", '-', 1, '-' },
    { ":0\r\n", ':', 0, ':' },
    { ":-9223372036854775808\r\n", ':', 0, ':' },
    { ":9223372036854775807\r\n", ':', 0, ':' },
    { "$3\r\nabc\r\n", '$', 0, '$' },
    { "$0\r\n\r\n", '$', 0, '$' },
    { "$4\r\na\r\nb\r\n", '$', 0, '$' },
    { "$-1\r\n", '$', 0, REPLY_NIL },
    { "*-1\r\n", '*', 0, REPLY_NIL },
    { "_\r\n", '_', 0, REPLY_NIL },
    { ",1.5\r\n", ',', 0, ',' },
    { ",-inf\r\n", ',', 0, ',' },
    { ",nan\r\n", ',', 0, ',' },
    { "#t\r\n", '#', 0, '#' },
    { "#f\r\n", '#', 0, '#' },
    { "(3492890328409238509324850943850943825024385\r\n", '(', 0, '(' },
    { "(-1\r\n", '(', 0, '(' },
    { "!21\r\nSYNTAX invalid syntax\r\n", '!', 1, '!' },
    { "=15\r\ntxt:Some string\r\n", '=', 0, '=' },
    { "=4\r\ntxt:\r\n", '=', 0, '=' },
    { "*0\r\n", '*', 0, '*' },
    { "*2\r\n:1\r\n$1\r\nx\r\n", '*', 0, '*' },
    { "%0\r\n", '%', 0, '%' },
    { "%2\r\n+a\r\n:1\r\n+b\r\n#f\r\n", '%', 0, '%' },
    { "~0\r\n", '~', 0, '~' },
    { "~3\r\n:1\r\n:2\r\n:3\r\n", '~', 0, '~' },
    { ">0\r\n", '>', 0, '>' },
    { ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n", '>', 0, '>' },
    { "|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n", '$', 0, '$' },
    { "|0\r\n:7\r\n", ':', 0, ':' },
    { "|1\r\n+k\r\n+v\r\n-ERR annotated\r\n", '-', 1, '-' },
    { "*1\r\n-ERR inside\r\n", '*', 0, '*' },
};

static void test_every_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof every_type / sizeof every_type[0]; i++) {
        const struct one *o = &every_type[i];
        size_t len = strlen(o->bytes);
        char want[64];
        snprintf(want, sizeof want, "OK %c %d %zu\nREST 0\n", o->type, o->is_error, len);
        char *got = scan_all_ways(o->bytes, len, NULL);
        if (strcmp(got, want) != 0) fail_msg("%s: got %s", o->bytes, got);
        free(got);

        /* Followed by the start of the next reply: framed the same, the
         * rest left over. */
        buf b;
        buf_init(&b);
        buf_append(&b, o->bytes, len);
        buf_append(&b, "*3\r\n:1", 6);
        snprintf(want, sizeof want, "OK %c %d %zu\nREST 6\n", o->type, o->is_error, len);
        got = scan_all_ways(b.data, b.len, NULL);
        if (strcmp(got, want) != 0) fail_msg("%s + more: got %s", o->bytes, got);
        free(got);
        buf_free(&b);

        /* reply_span: the whole value, nothing for any proper prefix. */
        assert_int_equal(reply_span(o->bytes, len), len);
        for (size_t k = 0; k < len; k++)
            if (reply_span(o->bytes, k) != 0) fail_msg("%s: span of a %zu-byte prefix", o->bytes, k);

        struct reply_hdr h;
        assert_int_equal(reply_header(o->bytes, len, &h), 0);
        if (h.type != o->htype) fail_msg("%s: header type %c", o->bytes, h.type);
        assert_true(h.hdrlen > 0 && h.hdrlen <= len);
    }
}

/* ---- headers and walking ---- */

static void test_header_fields(void **state)
{
    (void)state;
    struct reply_hdr h;
    const char *p;

    p = "+PONG\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.len, 4);
    assert_memory_equal(h.str, "PONG", 4);
    assert_int_equal(h.hdrlen, 7);
    assert_int_equal(reply_elements(&h), 0);

    p = ":-42\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.n, -42);
    assert_int_equal(h.hdrlen, 6);

    p = "#t\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.n, 1);
    p = "#f\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.n, 0);

    p = "$5\r\nab\r\nc\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.type, '$');
    assert_int_equal(h.len, 5);
    assert_ptr_equal(h.str, p + 4);
    assert_int_equal(h.hdrlen, strlen(p));

    p = "=8\r\ntxt:abcd\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.len, 8);
    assert_memory_equal(h.str, "txt:abcd", 8);

    p = "!3\r\nERR\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.type, '!');
    assert_memory_equal(h.str, "ERR", 3);

    p = "$-1\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.type, REPLY_NIL);
    assert_int_equal(h.hdrlen, 5);
    assert_int_equal(reply_elements(&h), 0);

    p = "%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.type, '%');
    assert_int_equal(h.n, 2);
    assert_int_equal(reply_elements(&h), 4);
    assert_int_equal(h.hdrlen, 4);

    p = "~3\r\n:1\r\n:2\r\n:3\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(reply_elements(&h), 3);
    p = ">2\r\n:1\r\n:2\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(reply_elements(&h), 2);

    /* An attribute is skipped: the header is the annotated value's and
     * hdrlen counts from the attribute's first byte. */
    p = "|1\r\n+ttl\r\n:10\r\n*2\r\n:1\r\n:2\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.type, '*');
    assert_int_equal(h.n, 2);
    assert_int_equal(h.hdrlen, strlen("|1\r\n+ttl\r\n:10\r\n*2\r\n"));
    p = "|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n|0\r\n$1\r\nx\r\n";
    assert_int_equal(reply_header(p, strlen(p), &h), 0);
    assert_int_equal(h.type, '$');
    assert_int_equal(h.len, 1);
    assert_int_equal(h.str[0], 'x');

    /* Malformed or truncated headers. */
    const char *bad[] = {
        "", "+", "+OK\r", "+OK", ":x\r\n", ":\r\n", "#\r\n", "#tt\r\n", "$x\r\n", "$5\r\nab\r\n",
        "$-2\r\n", "!-1\r\n", "*-2\r\n", "%-1\r\n", "?\r\n", "|1\r\n+a\r\n", "|x\r\n+a\r\n+b\r\n:1\r\n",
        "|1\r", "|1\r\n", "|-1\r\n:1\r\n", "|1\rX+a\r\n+b\r\n:1\r\n",
        "%9223372036854775807\r\n", "|4611686018427387904\r\n:1\r\n",
        "#x\r\n", "_x\r\n", ",\r\n", "(1a\r\n", "(\r\n", ":1.5\r\n", "=3\r\ntxt\r\n", "=5\r\ntxt-x\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (reply_header(bad[i], strlen(bad[i]), &h) != -1) fail_msg("header of %s accepted", bad[i]);
}

/* A reply with its elements walked must give back each element's span. */
static void test_walk(void **state)
{
    (void)state;
    const char *p = "*4\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n|1\r\n+k\r\n+v\r\n#t\r\n%1\r\n+f\r\n~1\r\n,2.5\r\n";
    size_t len = strlen(p);
    assert_int_equal(reply_span(p, len), len);
    struct reply_hdr h;
    assert_int_equal(reply_header(p, len, &h), 0);
    assert_int_equal(reply_elements(&h), 4);
    struct reply_iter it;
    reply_iter_init(&it, p, len, &h);
    const char *e;
    size_t el;
    const char *want[] = { ":1\r\n", "*2\r\n$1\r\na\r\n_\r\n", "|1\r\n+k\r\n+v\r\n#t\r\n",
                           "%1\r\n+f\r\n~1\r\n,2.5\r\n" };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(reply_next(&it, &e, &el), 0);
        assert_int_equal(el, strlen(want[i]));
        assert_memory_equal(e, want[i], el);
    }
    assert_int_equal(reply_next(&it, &e, &el), -1);

    /* Inside the map: key, then the set, whose element is the double. */
    const char *m = want[3];
    assert_int_equal(reply_header(m, strlen(m), &h), 0);
    reply_iter_init(&it, m, strlen(m), &h);
    assert_int_equal(reply_next(&it, &e, &el), 0);
    assert_int_equal(el, 4);
    assert_int_equal(reply_next(&it, &e, &el), 0);
    struct reply_hdr h2;
    assert_int_equal(reply_header(e, el, &h2), 0);
    assert_int_equal(h2.type, '~');
    struct reply_iter it2;
    reply_iter_init(&it2, e, el, &h2);
    const char *e2;
    size_t el2;
    assert_int_equal(reply_next(&it2, &e2, &el2), 0);
    assert_int_equal(reply_header(e2, el2, &h2), 0);
    assert_int_equal(h2.type, ',');
    assert_memory_equal(h2.str, "2.5", 3);
    assert_int_equal(reply_next(&it2, &e2, &el2), -1);
    assert_int_equal(reply_next(&it, &e, &el), -1);

    /* A truncated aggregate: the walk stops at the broken element. */
    const char *t = "*3\r\n:1\r\n$5\r\nab";
    assert_int_equal(reply_header(t, strlen(t), &h), 0);
    reply_iter_init(&it, t, strlen(t), &h);
    assert_int_equal(reply_next(&it, &e, &el), 0);
    assert_int_equal(reply_next(&it, &e, &el), -1);

    /* A scalar: the iterator starts at its end, with nothing to walk. */
    assert_int_equal(reply_header("+x\r\n", 4, &h), 0);
    reply_iter_init(&it, "+x\r\n", 4, &h);
    assert_int_equal(reply_next(&it, &e, &el), -1);
}

/* ---- nesting, attributes, nulls ---- */

static void test_nested_and_attributes(void **state)
{
    (void)state;
    EXPECT_TRACE("*2\r\n%1\r\n$1\r\na\r\n:1\r\n+x\r\n", "OK * 0 23\nREST 0\n");
    EXPECT_TRACE("*3\r\n*0\r\n%0\r\n~1\r\n>0\r\n", "OK * 0 20\nREST 0\n");
    /* An attribute inside an aggregate does not count as an element. */
    EXPECT_TRACE("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n:3\r\n", "OK * 0 24\nOK : 0 4\nREST 0\n");
    /* An attribute whose value is an aggregate, and an attribute inside
     * an attribute. */
    EXPECT_TRACE("|1\r\n+a\r\n*1\r\n:1\r\n+next\r\n", "OK + 0 23\nREST 0\n");
    EXPECT_TRACE("|1\r\n|1\r\n+x\r\n+y\r\n+k\r\n+v\r\n$1\r\nz\r\n", "OK $ 0 31\nREST 0\n");
    EXPECT_TRACE("|1\r\n+k\r\n*-1\r\n:1\r\n", "OK : 0 17\nREST 0\n");
    EXPECT_TRACE("|0\r\n|0\r\n_\r\n", "OK _ 0 11\nREST 0\n");
    /* An attribute alone is not a reply yet. */
    EXPECT_TRACE("|1\r\n+k\r\n+v\r\n", "REST 12\n");
    /* Nulls inside aggregates, and pipelined replies. */
    EXPECT_TRACE("*3\r\n$-1\r\n*-1\r\n_\r\n+OK\r\n:1\r\n", "OK * 0 17\nOK + 0 5\nOK : 0 4\nREST 0\n");
    EXPECT_TRACE(">4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$1\r\nm\r\n+PONG\r\n",
                 "OK > 0 39\nOK + 0 7\nREST 0\n");
    /* A map with an error value is not an error reply. */
    EXPECT_TRACE("%1\r\n+k\r\n-ERR v\r\n", "OK % 0 16\nREST 0\n");
}

static void test_depth_limit(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    for (int i = 0; i < REPLY_MAX_DEPTH; i++) buf_append(&b, "*1\r\n", 4);
    buf_append(&b, ":1\r\n", 4);
    char want[64];
    snprintf(want, sizeof want, "OK * 0 %zu\nREST 0\n", b.len);
    char *got = scan_all_ways(b.data, b.len, NULL);
    assert_string_equal(got, want);
    free(got);
    /* One level more is refused. */
    buf_clear(&b);
    for (int i = 0; i < REPLY_MAX_DEPTH + 1; i++) buf_append(&b, i % 2 ? "%1\r\n+k\r\n" : "*1\r\n", i % 2 ? 8 : 4);
    buf_append(&b, ":1\r\n", 4);
    got = scan_all_ways(b.data, b.len, NULL);
    assert_string_equal(got, "ERR Protocol error: nesting too deep\n");
    free(got);
    /* Attributes count as nesting too. */
    buf_clear(&b);
    for (int i = 0; i < REPLY_MAX_DEPTH + 1; i++) buf_append(&b, "|1\r\n", 4);
    got = scan_all_ways(b.data, b.len, NULL);
    assert_string_equal(got, "ERR Protocol error: nesting too deep\n");
    free(got);
    buf_free(&b);
}

static void test_limits(void **state)
{
    (void)state;
    struct limits lim = { 10, 4 };
    EXPECT_TRACE_LIM("$10\r\n0123456789\r\n", &lim, "OK $ 0 17\nREST 0\n");
    EXPECT_TRACE_LIM("$11\r\n0123456789a\r\n", &lim, "ERR Protocol error: invalid bulk length\n");
    EXPECT_TRACE_LIM("!11\r\n", &lim, "ERR Protocol error: invalid bulk length\n");
    EXPECT_TRACE_LIM("=11\r\n", &lim, "ERR Protocol error: invalid bulk length\n");
    EXPECT_TRACE_LIM("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", &lim, "OK * 0 20\nREST 0\n");
    EXPECT_TRACE_LIM("*5\r\n", &lim, "ERR Protocol error: invalid aggregate length\n");
    EXPECT_TRACE_LIM("~5\r\n", &lim, "ERR Protocol error: invalid aggregate length\n");
    EXPECT_TRACE_LIM(">5\r\n", &lim, "ERR Protocol error: invalid aggregate length\n");
    EXPECT_TRACE_LIM("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", &lim, "OK % 0 20\nREST 0\n");
    /* A map's limit counts its keys and values. */
    EXPECT_TRACE_LIM("%3\r\n", &lim, "ERR Protocol error: invalid aggregate length\n");
    EXPECT_TRACE_LIM("|3\r\n", &lim, "ERR Protocol error: invalid aggregate length\n");
    /* Counts near the top of the range are refused, not overflowed. */
    EXPECT_TRACE("%9223372036854775807\r\n", "ERR Protocol error: invalid aggregate length\n");
    EXPECT_TRACE("|4611686018427387904\r\n", "ERR Protocol error: invalid aggregate length\n");
    EXPECT_TRACE("*9223372036854775807\r\n", "ERR Protocol error: invalid aggregate length\n");
    EXPECT_TRACE("$9223372036854775807\r\n", "ERR Protocol error: invalid bulk length\n");

    /* Lines: up to REPLY_MAX_LINE bytes before the CR are read; a line
     * with no CR in that many bytes is refused, however it arrives. */
    buf b;
    buf_init(&b);
    buf_append_char(&b, '+');
    while (b.len < REPLY_MAX_LINE - 1) buf_append_char(&b, 'x');
    buf_append(&b, "\r\n", 2);
    char want[64];
    snprintf(want, sizeof want, "OK + 0 %zu\nREST 0\n", b.len);
    char *got = scan_all_ways(b.data, b.len, NULL);
    assert_string_equal(got, want);
    free(got);
    buf_clear(&b);
    buf_append_char(&b, '-');
    while (b.len < REPLY_MAX_LINE) buf_append_char(&b, 'x');
    got = scan_all_ways(b.data, b.len, NULL);
    assert_string_equal(got, "ERR Protocol error: line too long\n");
    free(got);
    buf_append(&b, "\r\n", 2);
    got = scan_all_ways(b.data, b.len, NULL);
    assert_string_equal(got, "ERR Protocol error: line too long\n");
    free(got);
    buf_free(&b);
}

/* ---- errors ---- */

struct bad {
    const char *bytes;
    const char *err;
};

static const struct bad bad_replies[] = {
    { "?x\r\n", "unknown reply type" },
    { "\r\n", "unknown reply type" },
    { "*1\r\n@\r\n", "unknown reply type" },
    { "+a\rb\r\n", "CR not followed by LF" },
    { "$1\r\nab\r\n", "bulk string not terminated by CRLF" },
    { "$1\r\na\n\n", "bulk string not terminated by CRLF" },
    { "=4\r\ntxt:X\r\n", "bulk string not terminated by CRLF" },
    { ":abc\r\n", "malformed line value" },
    { ":\r\n", "malformed line value" },
    { ":1.5\r\n", "malformed line value" },
    { ":+1\r\n", "malformed line value" },
    { ":99999999999999999999\r\n", "malformed line value" },
    { ":9223372036854775808\r\n", "malformed line value" },
    { "_x\r\n", "malformed line value" },
    { "#x\r\n", "malformed line value" },
    { "#tt\r\n", "malformed line value" },
    { "#\r\n", "malformed line value" },
    { ",\r\n", "malformed line value" },
    { "(\r\n", "malformed line value" },
    { "(-\r\n", "malformed line value" },
    { "(12a\r\n", "malformed line value" },
    { "$abc\r\n", "invalid bulk length" },
    { "$\r\n", "invalid bulk length" },
    { "$-2\r\n", "invalid bulk length" },
    { "$+1\r\n", "invalid bulk length" },
    { "!-1\r\n", "invalid bulk length" },
    { "=-1\r\n", "invalid bulk length" },
    { "$99999999999999999999\r\n", "invalid bulk length" },
    { "=3\r\ntxt\r\n", "invalid verbatim string" },
    { "=5\r\ntxt-x\r\n", "invalid verbatim string" },
    { "*abc\r\n", "invalid aggregate length" },
    { "*-2\r\n", "invalid aggregate length" },
    { "%-1\r\n", "invalid aggregate length" },
    { "~-1\r\n", "invalid aggregate length" },
    { ">-1\r\n", "invalid aggregate length" },
    { "|-1\r\n", "invalid aggregate length" },
    { "*\r\n", "invalid aggregate length" },
    { "*2\r\n:1\r\n%1\r\n+k\r\n:x\r\n", "malformed line value" },
    { "*1\r\n$?\r\n", "invalid bulk length" },
    { "*?\r\n", "invalid aggregate length" },
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_replies / sizeof bad_replies[0]; i++) {
        const struct bad *b = &bad_replies[i];
        char want[128];
        snprintf(want, sizeof want, "ERR Protocol error: %s\n", b->err);
        char *got = scan_all_ways(b->bytes, strlen(b->bytes), NULL);
        if (strcmp(got, want) != 0) fail_msg("%s: got %s want %s", b->bytes, got, want);
        free(got);
        /* After a good reply, the same error on the next one. */
        buf in;
        buf_init(&in);
        buf_append_str(&in, "+OK\r\n");
        buf_append_str(&in, b->bytes);
        snprintf(want, sizeof want, "OK + 0 5\nERR Protocol error: %s\n", b->err);
        got = scan_all_ways(in.data, in.len, NULL);
        if (strcmp(got, want) != 0) fail_msg("+OK then %s: got %s", b->bytes, got);
        free(got);
        buf_free(&in);
        assert_int_equal(reply_span(b->bytes, strlen(b->bytes)), 0);
    }
}

static void test_sticky_and_init(void **state)
{
    (void)state;
    reply_scanner s;
    reply_scanner_init(&s);
    size_t end = 99;
    assert_int_equal(reply_scan(&s, ":x\r\n", 4, &end), REPLY_ERR);
    assert_string_equal(s.err, "Protocol error: malformed line value");
    assert_int_equal(end, 99);
    assert_int_equal(reply_scan(&s, "+OK\r\n", 5, &end), REPLY_ERR);
    assert_int_equal(reply_scan(&s, "", 0, &end), REPLY_ERR);
    assert_string_equal(s.err, "Protocol error: malformed line value");
    reply_scanner_init(&s);
    assert_int_equal(reply_scan(&s, "+OK\r\n", 5, &end), REPLY_OK);
    assert_int_equal(end, 5);
    /* Empty input and a partial reply are not errors; resuming with the
     * full bytes (in another buffer) finds the end. */
    assert_int_equal(reply_scan(&s, "", 0, &end), REPLY_AGAIN);
    assert_int_equal(reply_scan(&s, "*2\r\n$3\r\nab", 10, &end), REPLY_AGAIN);
    char *copy = xmemdup("*2\r\n$3\r\nabc\r\n:1\r\n", 17);
    assert_int_equal(reply_scan(&s, copy, 17, &end), REPLY_OK);
    assert_int_equal(end, 17);
    assert_int_equal(s.type, '*');
    assert_int_equal(s.is_error, 0);
    free(copy);
    /* The scanner is ready for the next reply at once. */
    assert_int_equal(reply_scan(&s, "!1\r\nx\r\n", 7, &end), REPLY_OK);
    assert_int_equal(s.type, '!');
    assert_int_equal(s.is_error, 1);
}

/* ---- random replies ---- */

/* A random value into out (its bytes) and dump (a canonical rendering of
 * what reply_header sees: attributes left out).  Returns the value's first
 * byte (its type as the scanner reports it). */
static char gen_value(buf *out, buf *dump, int depth)
{
    unsigned k = rnd() % (depth >= 6 ? 11 : 17);
    if (rnd() % 12 == 0 && depth < 6) {
        /* an attribute before the value */
        unsigned n = rnd() % 3;
        buf_printf(out, "|%u\r\n", n);
        buf scratch;
        buf_init(&scratch);
        for (unsigned i = 0; i < 2 * n; i++) gen_value(out, &scratch, depth + 1);
        buf_free(&scratch);
    }
    size_t vstart = out->len;
    switch (k) {
    case 0: {
        unsigned n = rnd() % 20;
        buf_append_char(out, '+');
        buf_append_char(dump, '+');
        for (unsigned i = 0; i < n; i++) {
            char c = (char)('a' + rnd() % 26);
            buf_append_char(out, c);
            buf_append_char(dump, c);
        }
        buf_append(out, "\r\n", 2);
        buf_append_char(dump, ';');
        break;
    }
    case 1:
        buf_append_str(out, "-ERR e\r\n");
        buf_append_str(dump, "-ERR e;");
        break;
    case 2: {
        long long v = (long long)(((unsigned long long)rnd() << 32) | rnd()) >> (rnd() % 64);
        buf_printf(out, ":%lld\r\n", v);
        buf_printf(dump, ":%lld;", v);
        break;
    }
    case 3: case 4: {
        size_t n = rnd() % 4 == 0 ? rnd() % 3000 : rnd() % 12;
        buf_printf(out, "$%zu\r\n", n);
        buf_printf(dump, "$%zu:", n);
        for (size_t i = 0; i < n; i++) {
            /* any byte, CR and LF included */
            char c = rnd() % 4 == 0 ? "\r\n\0$"[rnd() % 4] : (char)('a' + rnd() % 26);
            buf_append_char(out, c);
            buf_append_char(dump, c);
        }
        buf_append(out, "\r\n", 2);
        buf_append_char(dump, ';');
        break;
    }
    case 5: {
        const char *nulls[] = { "$-1\r\n", "*-1\r\n", "_\r\n" };
        buf_append_str(out, nulls[rnd() % 3]);
        buf_append_str(dump, "_;");
        break;
    }
    case 6: {
        const char *d[] = { "1.5", "-0", "inf", "-inf", "nan", "1e+300", "3" };
        const char *v = d[rnd() % 7];
        buf_printf(out, ",%s\r\n", v);
        buf_printf(dump, ",%s;", v);
        break;
    }
    case 7: {
        int t = rnd() % 2;
        buf_printf(out, "#%c\r\n", t ? 't' : 'f');
        buf_printf(dump, "#%d;", t);
        break;
    }
    case 8:
        buf_append_str(out, "(-12345678901234567890123\r\n");
        buf_append_str(dump, "(-12345678901234567890123;");
        break;
    case 9:
        buf_append_str(out, "!8\r\nERR\r\nbad\r\n");
        buf_append_str(dump, "!8:ERR\r\nbad;");
        break;
    case 10:
        buf_append_str(out, "=9\r\ntxt:hello\r\n");
        buf_append_str(dump, "=9:txt:hello;");
        break;
    default: {
        const char types[] = "*%~>**";
        char t = types[rnd() % 6];
        unsigned n = rnd() % 5;
        buf_printf(out, "%c%u\r\n", t, n);
        buf_printf(dump, "%c%u[", t, n);
        unsigned elems = t == '%' ? 2 * n : n;
        for (unsigned i = 0; i < elems; i++) gen_value(out, dump, depth + 1);
        buf_append_char(dump, ']');
        break;
    }
    }
    return out->data[vstart];
}

/* Rebuild the dump of the value at p (exactly len bytes) from its bytes,
 * checking that every element's span stays inside its parent. */
static void walk_dump(const char *p, size_t len, buf *dump)
{
    struct reply_hdr h;
    assert_int_equal(reply_header(p, len, &h), 0);
    assert_true(h.hdrlen <= len);
    switch (h.type) {
    case '+': case '-': case ',': case '(':
        buf_append_char(dump, h.type);
        buf_append(dump, h.str, h.len);
        buf_append_char(dump, ';');
        assert_int_equal(h.hdrlen, len);
        return;
    case ':':
        buf_printf(dump, ":%lld;", h.n);
        return;
    case '#':
        buf_printf(dump, "#%lld;", h.n);
        return;
    case REPLY_NIL:
        buf_append_str(dump, "_;");
        return;
    case '$': case '!': case '=':
        buf_printf(dump, "%c%zu:", h.type, h.len);
        buf_append(dump, h.str, h.len);
        buf_append_char(dump, ';');
        assert_true(h.str >= p && h.str + h.len + 2 == p + len);
        assert_int_equal(h.hdrlen, len);
        return;
    default: {
        buf_printf(dump, "%c%lld[", h.type, h.n);
        struct reply_iter it;
        reply_iter_init(&it, p, len, &h);
        const char *e;
        size_t el;
        long long count = 0;
        while (reply_next(&it, &e, &el) == 0) {
            assert_true(e >= p + h.hdrlen && e + el <= p + len);
            walk_dump(e, el, dump);
            count++;
        }
        assert_int_equal(count, reply_elements(&h));
        assert_ptr_equal(it.p, p + len);
        buf_append_char(dump, ']');
        return;
    }
    }
}

static void test_random_streams(void **state)
{
    (void)state;
    for (int round = 0; round < 300; round++) {
        buf in, want_dump, want_trace;
        buf_init(&in);
        buf_init(&want_dump);
        buf_init(&want_trace);
        int nreplies = 1 + (int)(rnd() % 6);
        size_t *ends = xmalloc(sizeof *ends * (size_t)nreplies);
        for (int i = 0; i < nreplies; i++) {
            size_t start = in.len;
            char t = gen_value(&in, &want_dump, 0);
            buf_append_char(&want_dump, '\n');
            ends[i] = in.len;
            buf_printf(&want_trace, "OK %c %d %zu\n", t, t == '-' || t == '!', ends[i] - start);
        }
        /* a partial reply at the end, sometimes */
        size_t tail = 0;
        if (rnd() % 2) {
            buf extra, scratch;
            buf_init(&extra);
            buf_init(&scratch);
            gen_value(&extra, &scratch, 0);
            tail = rnd() % extra.len;
            buf_append(&in, extra.data, tail);
            buf_free(&extra);
            buf_free(&scratch);
        }
        buf_printf(&want_trace, "REST %zu\n", tail);
        buf_append_char(&want_trace, '\0');

        char *got = scan_all_ways(in.data, in.len, NULL);
        if (strcmp(got, want_trace.data) != 0)
            fail_msg("round %d: trace\n%s\nwant\n%s", round, got, want_trace.data);
        free(got);

        buf dump;
        buf_init(&dump);
        size_t start = 0;
        for (int i = 0; i < nreplies; i++) {
            assert_int_equal(reply_span(in.data + start, in.len - start), ends[i] - start);
            walk_dump(in.data + start, ends[i] - start, &dump);
            buf_append_char(&dump, '\n');
            start = ends[i];
        }
        if (dump.len != want_dump.len || memcmp(dump.data, want_dump.data, dump.len) != 0)
            fail_msg("round %d: walk\n%.*s\nwant\n%.*s", round, (int)dump.len, dump.data,
                     (int)want_dump.len, want_dump.data);
        buf_free(&dump);
        free(ends);
        buf_free(&in);
        buf_free(&want_dump);
        buf_free(&want_trace);
    }
}

/* The writer's RESP3 output, read back. */
static void test_writer_round_trip(void **state)
{
    (void)state;
    for (int proto = RESP2; proto <= RESP3; proto++) {
        buf b;
        buf_init(&b);
        size_t m = resp_defer(&b);
        resp_add_bulk_str(&b, "server");
        resp_add_bulk_str(&b, "strata");
        resp_add_bulk_str(&b, "null");
        resp_add_null(&b, proto);
        resp_add_bulk_str(&b, "set");
        resp_add_set(&b, proto, 2);
        resp_add_double(&b, proto, 0.5);
        resp_add_bool(&b, proto, 1);
        resp_add_bulk_str(&b, "text");
        resp_add_verbatim(&b, proto, "a\r\nb", 4);
        resp_set_deferred_map(&b, m, proto, 4);
        resp_add_push(&b, proto, 1);
        resp_add_null_array(&b, proto);
        char want[128];
        size_t first = reply_span(b.data, b.len);
        assert_true(first > 0);
        snprintf(want, sizeof want, "OK %c 0 %zu\nOK %c 0 %zu\nREST 0\n", proto == RESP3 ? '%' : '*',
                 first, proto == RESP3 ? '>' : '*', b.len - first);
        char *got = scan_all_ways(b.data, b.len, NULL);
        assert_string_equal(got, want);
        free(got);
        struct reply_hdr h;
        assert_int_equal(reply_header(b.data, first, &h), 0);
        assert_int_equal(reply_elements(&h), 8);
        buf_free(&b);
    }
}

int main(void)
{
    const char *env = getenv("STRATA_SEED");
    unsigned long long seed = env ? strtoull(env, NULL, 10) : (unsigned long long)time(NULL);
    if (!seed) seed = 1;
    printf("test_reply: seed %llu (set STRATA_SEED to replay)\n", seed);
    rng_state = seed;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_nested_and_attributes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sticky_and_init),
        cmocka_unit_test(test_random_streams),
        cmocka_unit_test(test_writer_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
