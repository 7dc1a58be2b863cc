/* test_resp: the RESP request parser and reply writer (common/resp.c).
 *
 * The parser is fed every stream three ways: whole, one byte at a time and
 * in seeded random splits.  Between calls the unconsumed bytes are copied
 * into a fresh, exactly sized allocation and the old one is freed, as a
 * server growing its query buffer would do; under ASan any pointer the
 * parser kept into the old buffer is caught.  Every way of feeding must
 * produce the same trace of commands, errors and leftover bytes.
 *
 * Protocol error texts are compared with what redis-server 7.0 answered to
 * the same bytes (fixtures/proto_errors.txt, made by
 * fixtures/gen_proto_errors.py), so this test needs no server.
 *
 * The random seed is printed; set STRATA_SEED to replay a run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "resp.h"
#include "util.h"

/* Fixtures live beside this source file (CMake compiles it by absolute
 * path, so __FILE__ locates them from any build directory). */
static void fixture_path(char *out, size_t n, const char *name)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 1;
    snprintf(out, n, "%.*s/fixtures/%s", dir, slash ? f : ".", name);
}

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

struct feed_cfg {
    long long max_bulk;  /* 0: default */
    long long max_args;
    size_t max_inline;
};

/* Append a printable record of the parser's current command to trace. */
static void trace_command(buf *trace, const resp_parser *p)
{
    buf_printf(trace, "CMD %d", p->argc);
    for (int i = 0; i < p->argc; i++) {
        buf_printf(trace, " %zu:", p->argvlen[i]);
        buf_append(trace, p->argv[i], p->argvlen[i]);
    }
    buf_append_char(trace, '\n');
}

/* Replace *data (of *len bytes) with a fresh allocation holding its bytes
 * from `drop` on plus `extra` bytes; the old block is freed so stale
 * pointers into it fault under ASan. */
static void move_buffer(char **data, size_t *len, size_t drop, const char *extra, size_t n)
{
    size_t keep = *len - drop;
    char *fresh = xmalloc(keep + n);
    if (keep) memcpy(fresh, *data + drop, keep);
    if (n) memcpy(fresh + keep, extra, n);
    free(*data);
    *data = fresh;
    *len = keep + n;
}

/* Feed `in` cut at the sorted offsets in cuts[] and write a trace: one line
 * per command, "ERR <text>" on error (then stop), and "REST <n>" with the
 * number of bytes left unconsumed at the end. */
static void feed(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                 const struct feed_cfg *cfg, buf *trace)
{
    resp_parser p;
    resp_parser_init(&p);
    if (cfg && cfg->max_bulk) p.max_bulk = cfg->max_bulk;
    if (cfg && cfg->max_args) p.max_args = cfg->max_args;
    if (cfg && cfg->max_inline) p.max_inline = cfg->max_inline;

    char *data = NULL;
    size_t dlen = 0, from = 0;
    int failed = 0;
    for (size_t c = 0; c <= ncuts && !failed; c++) {
        size_t to = c < ncuts ? cuts[c] : len;
        if (to < from) to = from;
        move_buffer(&data, &dlen, 0, in + from, to - from);
        from = to;
        for (;;) {
            size_t consumed = 12345;
            int r = resp_parse(&p, data, dlen, &consumed);
            assert_true(consumed <= dlen);
            if (r == RESP_ERR) {
                buf_printf(trace, "ERR %s\n", p.err);
                /* Sticky: the same error again, whatever the input. */
                assert_int_equal(resp_parse(&p, "PING\r\n", 6, &consumed), RESP_ERR);
                assert_int_equal(consumed, 0);
                failed = 1;
                break;
            }
            if (r == RESP_AGAIN) {
                if (p.need) assert_true(p.need > dlen - consumed);
                move_buffer(&data, &dlen, consumed, NULL, 0);
                break;
            }
            assert_int_equal(r, RESP_OK);
            assert_true(consumed > 0);
            /* Multibulk arguments point into the command's bytes; inline
             * ones into the parser's own unescaped copy. */
            for (int i = 0; i < p.argc; i++) {
                if (p.argv[i] >= data && p.argv[i] < data + dlen)
                    assert_true(p.argv[i] + p.argvlen[i] <= data + consumed);
                else
                    assert_true(p.inline_buf && p.argv[i] >= p.inline_buf);
            }
            trace_command(trace, &p);
            move_buffer(&data, &dlen, consumed, NULL, 0);
        }
    }
    if (!failed) buf_printf(trace, "REST %zu\n", dlen);
    free(data);
    resp_parser_free(&p);
}

static void feed_whole(const char *in, size_t len, const struct feed_cfg *cfg, buf *trace)
{
    feed(in, len, NULL, 0, cfg, trace);
}

static void assert_same_trace(const buf *a, const buf *b, const char *what)
{
    if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0) {
        print_error("trace differs (%s)\n--- whole:\n%.*s--- other:\n%.*s", what,
                    (int)a->len, a->data, (int)b->len, b->data);
        fail();
    }
}

/* Whole, byte by byte and `rounds` random splits must agree; returns the
 * whole-feed trace in out (caller frees). */
static void feed_all_ways(const char *in, size_t len, const struct feed_cfg *cfg,
                          int rounds, buf *out)
{
    buf_init(out);
    feed_whole(in, len, cfg, out);

    size_t *cuts = xmalloc(sizeof(size_t) * (len + 1));
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    buf t;
    buf_init(&t);
    feed(in, len, cuts, len, cfg, &t);
    assert_same_trace(out, &t, "byte by byte");

    for (int r = 0; r < rounds; r++) {
        size_t n = len ? rnd() % (len < 40 ? len : 40) : 0, pos = 0;
        for (size_t i = 0; i < n; i++) {
            pos += 1 + rnd() % (len / (n + 1) + 1);
            if (pos > len) pos = len;
            cuts[i] = pos;
        }
        buf_clear(&t);
        feed(in, len, cuts, n, cfg, &t);
        assert_same_trace(out, &t, "random split");
    }
    buf_free(&t);
    free(cuts);
}

static void expect_trace(const char *in, size_t len, const struct feed_cfg *cfg, const char *want)
{
    buf got;
    feed_all_ways(in, len, cfg, 20, &got);
    if (got.len != strlen(want) || memcmp(got.data, want, got.len) != 0) {
        print_error("input %.*s\nwant:\n%sgot:\n%.*s", (int)(len > 200 ? 200 : len), in, want,
                    (int)got.len, got.data);
        fail();
    }
    buf_free(&got);
}

#define EXPECT(lit, want) expect_trace(lit, sizeof(lit) - 1, NULL, want)

/* ---- valid requests ---- */

static void test_multibulk_basic(void **state)
{
    (void)state;
    resp_parser p;
    resp_parser_init(&p);
    const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
    size_t consumed;
    assert_int_equal(resp_parse(&p, in, sizeof in - 1, &consumed), RESP_OK);
    assert_int_equal(consumed, sizeof in - 1);
    assert_int_equal(p.argc, 3);
    assert_int_equal(p.argvlen[0], 3);
    assert_memory_equal(p.argv[0], "SET", 3);
    assert_ptr_equal(p.argv[1], in + 17);
    assert_memory_equal(p.argv[2], "value", 5);
    assert_int_equal(p.need, 0);
    /* Nothing left: AGAIN, nothing consumed. */
    assert_int_equal(resp_parse(&p, in, 0, &consumed), RESP_AGAIN);
    assert_int_equal(consumed, 0);
    resp_parser_free(&p);

    EXPECT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n", "CMD 3 3:SET 1:k 5:value\nREST 0\n");
}

static void test_empty_and_binary_args(void **state)
{
    (void)state;
    EXPECT("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n", "CMD 3 3:SET 0: 0:\nREST 0\n");
    /* CR LF inside a bulk is data, and so is a NUL. */
    static const char bin[] = "*2\r\n$4\r\nECHO\r\n$7\r\na\r\nb\0c\r\r\n";
    buf got;
    feed_all_ways(bin, sizeof bin - 1, NULL, 30, &got);
    static const char want[] = "CMD 2 4:ECHO 7:a\r\nb\0c\r\nREST 0\n";
    assert_int_equal(got.len, sizeof want - 1);
    assert_memory_equal(got.data, want, sizeof want - 1);
    buf_free(&got);
}

static void test_pipelining(void **state)
{
    (void)state;
    const char in[] = "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n*1\r\n$4\r\nPI";
    resp_parser p;
    resp_parser_init(&p);
    size_t off = 0, consumed, len = sizeof in - 1;
    assert_int_equal(resp_parse(&p, in, len, &consumed), RESP_OK);
    assert_int_equal(consumed, 14);
    off += consumed;
    assert_int_equal(resp_parse(&p, in + off, len - off, &consumed), RESP_OK);
    assert_int_equal(consumed, 20);
    assert_int_equal(p.argc, 2);
    assert_memory_equal(p.argv[1], "a", 1);
    off += consumed;
    assert_int_equal(resp_parse(&p, in + off, len - off, &consumed), RESP_OK);
    assert_int_equal(consumed, 6); /* inline "PING\r\n" */
    assert_int_equal(p.argc, 1);
    off += consumed;
    assert_int_equal(resp_parse(&p, in + off, len - off, &consumed), RESP_AGAIN);
    assert_int_equal(consumed, 0);
    assert_int_equal(p.need, 14); /* all of "*1\r\n$4\r\nPING\r\n" */
    resp_parser_free(&p);

    EXPECT("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n*1\r\n$4\r\nPI",
           "CMD 1 4:PING\nCMD 2 3:GET 1:a\nCMD 1 4:PING\nREST 10\n");
}

static void test_skipped_requests(void **state)
{
    (void)state;
    resp_parser p;
    resp_parser_init(&p);
    size_t consumed;
    assert_int_equal(resp_parse(&p, "*0\r\n", 4, &consumed), RESP_AGAIN);
    assert_int_equal(consumed, 4);
    assert_int_equal(resp_parse(&p, "*-1\r\n", 5, &consumed), RESP_AGAIN);
    assert_int_equal(consumed, 5);
    assert_int_equal(resp_parse(&p, "\r\n", 2, &consumed), RESP_AGAIN);
    assert_int_equal(consumed, 2);
    assert_int_equal(resp_parse(&p, "  \t \n", 5, &consumed), RESP_AGAIN);
    assert_int_equal(consumed, 5);
    resp_parser_free(&p);

    /* Redis ignores any non-positive count, and empty inline lines. */
    EXPECT("*0\r\n*-1\r\n*-5\r\n\r\n\n   \r\n*1\r\n$4\r\nPING\r\n", "CMD 1 4:PING\nREST 0\n");
    EXPECT("\r\n\n  \r\nPING\r\n*0\r\n", "CMD 1 4:PING\nREST 0\n");
}

static void test_line_terminator(void **state)
{
    (void)state;
    /* Redis ends a length line at '\r' and skips the next byte unchecked;
     * nor does it check the two bytes after bulk data. */
    EXPECT("*1\rX$4\r\nPING\r\n", "CMD 1 4:PING\nREST 0\n");
    EXPECT("*1\r\n$4\r\npingXY*1\r\n$4\r\nping\r\n", "CMD 1 4:ping\nCMD 1 4:ping\nREST 0\n");
    /* A length line whose terminator has not fully arrived waits. */
    EXPECT("*1\r", "REST 3\n");
    EXPECT("*1\r\n$4\r", "REST 7\n");
}

static void test_inline(void **state)
{
    (void)state;
    EXPECT("SET a b\r\n", "CMD 3 3:SET 1:a 1:b\nREST 0\n");
    EXPECT("SET a b\n", "CMD 3 3:SET 1:a 1:b\nREST 0\n");
    EXPECT("  SET   a\tb  \r\n", "CMD 3 3:SET 1:a 1:b\nREST 0\n");
    EXPECT("SET \"a b\" 'c d'\r\n", "CMD 3 3:SET 3:a b 3:c d\nREST 0\n");
    EXPECT("ECHO \"\\x41\\n\"\r\n", "CMD 2 4:ECHO 2:A\n\nREST 0\n");
    EXPECT("ECHO \"\\x4g\\t\\r\\b\\a\\\\\\\"\\q\"\r\n", "CMD 2 4:ECHO 10:x4g\t\r\b\a\\\"q\nREST 0\n");
    EXPECT("ECHO 'it\\'s' 'a\\nb'\r\n", "CMD 3 4:ECHO 4:it's 4:a\\nb\nREST 0\n");
    EXPECT("ECHO foo\"bar baz\"\r\n", "CMD 2 4:ECHO 10:foobar baz\nREST 0\n");
    EXPECT("ECHO \"\" ''\r\n", "CMD 3 4:ECHO 0: 0:\nREST 0\n");
    /* Only space, tab, CR and LF end a bare token (\v does not), but any
     * isspace() byte may precede one: checked against redis-server 7.0. */
    EXPECT("ECHO a\vb\r\n", "CMD 2 4:ECHO 3:a\vb\nREST 0\n");
    EXPECT("ECHO \va\r\n", "CMD 2 4:ECHO 1:a\nREST 0\n");
    EXPECT("ECHO \"a\"\v\r\n", "CMD 2 4:ECHO 1:a\nREST 0\n");
    /* An inline line without its newline waits. */
    EXPECT("PING", "REST 4\n");
}

static void test_inline_unbalanced(void **state)
{
    (void)state;
    const char *const bad[] = {
        "SET \"a b\r\n", "SET 'a b\r\n", "SET \"a\"b\r\n", "SET 'a'b c\r\n",
        "ECHO \"abc\\\"\r\n", "ECHO \"abc\\\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_trace(bad[i], strlen(bad[i]), NULL,
                     "ERR ERR Protocol error: unbalanced quotes in request\n");
}

/* ---- protocol errors ---- */

static void test_protocol_errors(void **state)
{
    (void)state;
    EXPECT("*1\r\nx\r\n", "ERR ERR Protocol error: expected '$', got 'x'\n");
    EXPECT("*abc\r\n", "ERR ERR Protocol error: invalid multibulk length\n");
    EXPECT("*01\r\n$4\r\nping\r\n", "ERR ERR Protocol error: invalid multibulk length\n");
    EXPECT("*+1\r\n", "ERR ERR Protocol error: invalid multibulk length\n");
    EXPECT("*\r\n", "ERR ERR Protocol error: invalid multibulk length\n");
    EXPECT("*1\r\n$-1\r\n", "ERR ERR Protocol error: invalid bulk length\n");
    EXPECT("*1\r\n$04\r\nping\r\n", "ERR ERR Protocol error: invalid bulk length\n");
    EXPECT("*1\r\n$\r\n", "ERR ERR Protocol error: invalid bulk length\n");
    /* Commands before the error are still delivered. */
    EXPECT("PING\r\n*2\r\n$4\r\nECHO\r\n$99999999999999999999999999999999\r\n",
           "CMD 1 4:PING\nERR ERR Protocol error: invalid bulk length\n");
    /* Redis reports a missing '$' only once the line is complete. */
    EXPECT("*1\r\nx", "REST 5\n");
}

/* Each line of the fixture: hex of the bytes sent, a tab, and the error
 * line redis-server 7.0 answered (without "-" and CRLF). */
static void test_protocol_errors_vs_redis(void **state)
{
    (void)state;
    char path[4096];
    fixture_path(path, sizeof path, "proto_errors.txt");
    FILE *f = fopen(path, "r");
    if (!f) print_error("cannot open %s\n", path);
    assert_non_null(f);
    char line[8192];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        char *want = tab + 1;
        want[strcspn(want, "\n")] = '\0';
        size_t hl = strlen(line);
        char *in = xmalloc(hl / 2 + 1);
        for (size_t i = 0; i < hl / 2; i++) {
            unsigned v;
            assert_int_equal(sscanf(line + 2 * i, "%2x", &v), 1);
            in[i] = (char)v;
        }
        buf got;
        feed_all_ways(in, hl / 2, NULL, 5, &got);
        /* The trace's last line is the error. */
        char expect[600];
        snprintf(expect, sizeof expect, "ERR %s\n", want);
        size_t el = strlen(expect);
        if (got.len < el || memcmp(got.data + got.len - el, expect, el) != 0) {
            print_error("input %s: want %s got %.*s\n", line, want, (int)got.len, got.data);
            fail();
        }
        buf_free(&got);
        free(in);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 10);
}

static char *repeat(char c, size_t n, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = xmalloc(pl + n + sl + 1);
    memcpy(s, prefix, pl);
    memset(s + pl, c, n);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

static void test_too_big_lines(void **state)
{
    (void)state;
    struct feed_cfg cfg = { 0, 0, 64 };
    /* Inline: a line of exactly max_inline bytes passes, one more fails,
     * whether the newline has arrived or not. */
    char *s = repeat('a', 64, "", "\r\n");
    expect_trace(s, strlen(s) - 2, &cfg, "REST 64\n");
    free(s);
    s = repeat('a', 63, "", "\r\n");
    buf got;
    feed_all_ways(s, strlen(s), &cfg, 10, &got);
    assert_int_equal(got.len, strlen("CMD 1 63:") + 63 + strlen("\nREST 0\n"));
    buf_free(&got);
    free(s);
    s = repeat('a', 65, "", "\r\n");
    expect_trace(s, strlen(s), &cfg, "ERR ERR Protocol error: too big inline request\n");
    expect_trace(s, strlen(s) - 2, &cfg, "ERR ERR Protocol error: too big inline request\n");
    free(s);

    s = repeat('1', 80, "*", "\r\n");
    expect_trace(s, strlen(s), &cfg, "ERR ERR Protocol error: too big mbulk count string\n");
    expect_trace(s, strlen(s) - 2, &cfg, "ERR ERR Protocol error: too big mbulk count string\n");
    free(s);
    /* Long but under the limit: just an invalid number, as in Redis. */
    s = repeat('1', 40, "*", "\r\n");
    expect_trace(s, strlen(s), &cfg, "ERR ERR Protocol error: invalid multibulk length\n");
    free(s);

    s = repeat('1', 80, "*1\r\n$", "\r\n");
    expect_trace(s, strlen(s), &cfg, "ERR ERR Protocol error: too big bulk count string\n");
    expect_trace(s, strlen(s) - 2, &cfg, "ERR ERR Protocol error: too big bulk count string\n");
    free(s);
    s = repeat('x', 80, "*1\r\n", "");
    expect_trace(s, strlen(s), &cfg, "ERR ERR Protocol error: too big bulk count string\n");
    free(s);

    /* The default limit is Redis's 64 KiB (PROTO_INLINE_MAX_SIZE). */
    s = repeat('a', 64 * 1024 + 1, "", "");
    resp_parser p;
    resp_parser_init(&p);
    size_t consumed;
    assert_int_equal(resp_parse(&p, s, strlen(s), &consumed), RESP_ERR);
    assert_string_equal(p.err, "ERR Protocol error: too big inline request");
    resp_parser_free(&p);
    free(s);
}

static void test_limits(void **state)
{
    (void)state;
    struct feed_cfg cfg = { 10, 3, 0 };
    EXPECT("*1\r\n$10\r\n0123456789\r\n", "CMD 1 10:0123456789\nREST 0\n");
    expect_trace("*1\r\n$10\r\n0123456789\r\n", 21, &cfg, "CMD 1 10:0123456789\nREST 0\n");
    expect_trace("*1\r\n$11\r\n01234567890\r\n", 22, &cfg,
                 "ERR ERR Protocol error: invalid bulk length\n");
    expect_trace("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 25, &cfg,
                 "CMD 3 1:a 1:b 1:c\nREST 0\n");
    expect_trace("*4\r\n", 4, &cfg, "ERR ERR Protocol error: invalid multibulk length\n");
    /* Default bulk limit: 512 MB, as Redis's proto-max-bulk-len. */
    EXPECT("*1\r\n$536870912\r\n", "REST 16\n");
    EXPECT("*1\r\n$536870913\r\n", "ERR ERR Protocol error: invalid bulk length\n");
}

static void test_sticky_and_reset(void **state)
{
    (void)state;
    resp_parser p;
    resp_parser_init(&p);
    size_t consumed;
    assert_int_equal(resp_parse(&p, "*x\r\n", 4, &consumed), RESP_ERR);
    assert_string_equal(p.err, "ERR Protocol error: invalid multibulk length");
    assert_int_equal(resp_parse(&p, "PING\r\n", 6, &consumed), RESP_ERR);
    assert_int_equal(consumed, 0);
    assert_string_equal(p.err, "ERR Protocol error: invalid multibulk length");
    resp_parser_reset(&p);
    assert_int_equal(resp_parse(&p, "PING\r\n", 6, &consumed), RESP_OK);
    assert_int_equal(consumed, 6);
    assert_int_equal(p.argc, 1);

    /* Reset also forgets a half-parsed command. */
    assert_int_equal(resp_parse(&p, "*2\r\n$3\r\nGET\r\n", 13, &consumed), RESP_AGAIN);
    resp_parser_reset(&p);
    assert_int_equal(resp_parse(&p, "*1\r\n$4\r\nPING\r\n", 14, &consumed), RESP_OK);
    assert_int_equal(p.argc, 1);
    assert_memory_equal(p.argv[0], "PING", 4);
    resp_parser_free(&p);
}

static void test_need_hint(void **state)
{
    (void)state;
    resp_parser p;
    resp_parser_init(&p);
    size_t consumed;
    /* Waiting for a header: no hint. */
    assert_int_equal(resp_parse(&p, "*2\r\n$3", 6, &consumed), RESP_AGAIN);
    assert_int_equal(p.need, 0);
    /* Inside a bulk: bytes up to the end of that bulk and its CRLF. */
    const char in[] = "*2\r\n$3\r\nSET\r\n$100\r\nabc";
    assert_int_equal(resp_parse(&p, in, sizeof in - 1, &consumed), RESP_AGAIN);
    assert_int_equal(p.need, 13 + 6 + 100 + 2);
    resp_parser_reset(&p);

    /* Counted from the command start, after skipped lines are dropped. */
    const char in2[] = "\r\n*0\r\n*1\r\n$100\r\nab";
    assert_int_equal(resp_parse(&p, in2, sizeof in2 - 1, &consumed), RESP_AGAIN);
    assert_int_equal(consumed, 6);
    assert_int_equal(p.need, 4 + 6 + 100 + 2);
    /* Feeding exactly `need` bytes (after dropping consumed) completes it. */
    char *full = xmalloc(p.need);
    memcpy(full, in2 + 6, sizeof in2 - 1 - 6);
    memset(full + sizeof in2 - 1 - 6, 'z', p.need - (sizeof in2 - 1 - 6));
    memcpy(full + p.need - 2, "\r\n", 2);
    size_t need = p.need;
    assert_int_equal(resp_parse(&p, full, need, &consumed), RESP_OK);
    assert_int_equal(consumed, need);
    assert_int_equal(p.argvlen[0], 100);
    assert_int_equal(p.need, 0);
    free(full);
    resp_parser_free(&p);
}

/* Random valid streams: the generator knows what it encoded, so the
 * expected trace is built alongside the bytes. */
static void test_random_streams(void **state)
{
    (void)state;
    for (int round = 0; round < 60; round++) {
        buf in, want;
        buf_init(&in);
        buf_init(&want);
        int ncmd = 1 + (int)(rnd() % 12);
        for (int c = 0; c < ncmd; c++) {
            unsigned kind = rnd() % 10;
            if (kind == 0) {
                buf_append_str(&in, rnd() % 2 ? "*0\r\n" : "\r\n");
                continue;
            }
            if (kind <= 2) {
                /* inline: bare alphanumeric tokens */
                int argc = 1 + (int)(rnd() % 4);
                buf_printf(&want, "CMD %d", argc);
                for (int a = 0; a < argc; a++) {
                    char tok[16];
                    size_t tl = 1 + rnd() % 10;
                    for (size_t i = 0; i < tl; i++) tok[i] = (char)('a' + rnd() % 26);
                    if (a) buf_append_char(&in, ' ');
                    buf_append(&in, tok, tl);
                    buf_printf(&want, " %zu:", tl);
                    buf_append(&want, tok, tl);
                }
                buf_append_str(&in, rnd() % 2 ? "\r\n" : "\n");
                buf_append_char(&want, '\n');
                continue;
            }
            int argc = 1 + (int)(rnd() % 6);
            buf_printf(&in, "*%d\r\n", argc);
            buf_printf(&want, "CMD %d", argc);
            for (int a = 0; a < argc; a++) {
                size_t al = rnd() % 5 == 0 ? 0 : rnd() % 300;
                char arg[300];
                for (size_t i = 0; i < al; i++) {
                    unsigned k = rnd() % 8;
                    arg[i] = k == 0 ? '\r' : k == 1 ? '\n' : (char)rnd();
                }
                buf_printf(&in, "$%zu\r\n", al);
                buf_append(&in, arg, al);
                buf_append_str(&in, "\r\n");
                buf_printf(&want, " %zu:", al);
                buf_append(&want, arg, al);
            }
            buf_append_char(&want, '\n');
        }
        buf_append_str(&want, "REST 0\n");
        buf got;
        feed_all_ways(in.data, in.len, NULL, 10, &got);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        buf_free(&got);
        buf_free(&in);
        buf_free(&want);
    }
}

/* ---- reply writer ---- */

#define ASSERT_BUF(b, lit)                                  \
    do {                                                    \
        assert_int_equal((b)->len, sizeof(lit) - 1);        \
        assert_memory_equal((b)->data, lit, sizeof(lit) - 1); \
    } while (0)

static void test_writer(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    resp_add_simple(&b, "PONG");
    ASSERT_BUF(&b, "+PONG\r\n");
    buf_clear(&b);
    resp_add_ok(&b);
    ASSERT_BUF(&b, "+OK\r\n");
    buf_clear(&b);
    resp_add_error(&b, "ERR bad");
    ASSERT_BUF(&b, "-ERR bad\r\n");
    buf_clear(&b);
    resp_add_errorf(&b, "ERR unknown command '%s'", "foo");
    ASSERT_BUF(&b, "-ERR unknown command 'foo'\r\n");
    buf_clear(&b);
    resp_add_int(&b, 0);
    resp_add_int(&b, -1);
    resp_add_int(&b, 9223372036854775807LL);
    resp_add_int(&b, -9223372036854775807LL - 1);
    ASSERT_BUF(&b, ":0\r\n:-1\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
    buf_clear(&b);
    resp_add_bulk(&b, "a\r\nb\0", 5);
    resp_add_bulk(&b, "", 0);
    resp_add_bulk_str(&b, "hello");
    ASSERT_BUF(&b, "$5\r\na\r\nb\0\r\n$0\r\n\r\n$5\r\nhello\r\n");
    buf_clear(&b);
    resp_add_bulk_ll(&b, -42);
    resp_add_bulk_ll(&b, -9223372036854775807LL - 1);
    ASSERT_BUF(&b, "$3\r\n-42\r\n$20\r\n-9223372036854775808\r\n");
    buf_clear(&b);
    resp_add_bulk_double(&b, 1.1);
    resp_add_bulk_double(&b, 1.0 / 0.0);
    resp_add_bulk_double(&b, -1.0 / 0.0);
    resp_add_bulk_double(&b, 3.0);
    resp_add_bulk_double(&b, 1e300);
    ASSERT_BUF(&b, "$18\r\n1.1000000000000001\r\n$3\r\ninf\r\n$4\r\n-inf\r\n$1\r\n3\r\n"
                   "$23\r\n1.0000000000000001e+300\r\n");
    buf_clear(&b);
    resp_add_null(&b, RESP2);
    resp_add_null_array(&b, RESP2);
    resp_add_array(&b, 0);
    resp_add_array(&b, 3);
    ASSERT_BUF(&b, "$-1\r\n*-1\r\n*0\r\n*3\r\n");
    buf_clear(&b);
    resp_add_arity_error(&b, "get");
    ASSERT_BUF(&b, "-ERR wrong number of arguments for 'get' command\r\n");
    buf_clear(&b);
    resp_add_error(&b, resp_err_wrongtype);
    resp_add_error(&b, resp_err_notint);
    resp_add_error(&b, resp_err_syntax);
    ASSERT_BUF(&b, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
                   "-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n");
    buf_free(&b);

    /* A large bulk goes through the growth path. */
    buf_init(&b);
    char *big = xmalloc(100000);
    memset(big, 'q', 100000);
    resp_add_bulk(&b, big, 100000);
    assert_int_equal(b.len, 9 + 100000 + 2);
    assert_memory_equal(b.data, "$100000\r\n", 9);
    assert_memory_equal(b.data + 9 + 100000, "\r\n", 2);
    free(big);
    buf_free(&b);
}

/* Integers and lengths are formatted without printf: every digit count,
 * both signs and both ends of the range must read as printf's "%lld". */
static void test_writer_integers_like_printf(void **state)
{
    (void)state;
    buf b, want;
    buf_init(&b);
    buf_init(&want);
    long long v = 1;
    for (int digits = 1; digits <= 19; digits++) {
        if (digits > 1) v *= 10;
        const long long around[] = { v - 1, v, v + 1, 2 * v - 1, 5 * v, 9 * v, LLONG_MAX };
        for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
            for (int sign = 1; sign >= -1; sign -= 2) {
                long long x = around[i] * sign;
                buf_clear(&b);
                buf_clear(&want);
                resp_add_int(&b, x);
                resp_add_array(&b, x);
                resp_add_bulk_ll(&b, x);
                char digits_txt[32];
                int n = snprintf(digits_txt, sizeof digits_txt, "%lld", x);
                buf_printf(&want, ":%lld\r\n*%lld\r\n$%d\r\n%lld\r\n", x, x, n, x);
                assert_int_equal(b.len, want.len);
                assert_memory_equal(b.data, want.data, want.len);
            }
        }
    }
    for (int i = 0; i < 10000; i++) {
        unsigned long long u = ((unsigned long long)rnd() << 32) | rnd();
        long long x = (long long)(u >> (1 + rnd() % 63)) * (rnd() % 2 ? 1 : -1);
        buf_clear(&b);
        buf_clear(&want);
        resp_add_int(&b, x);
        buf_printf(&want, ":%lld\r\n", x);
        assert_int_equal(b.len, want.len);
        assert_memory_equal(b.data, want.data, want.len);
    }
    buf_free(&b);
    buf_free(&want);
}

static void test_error_sanitised(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    resp_add_error(&b, "ERR line1\r\nline2\nx\ry");
    ASSERT_BUF(&b, "-ERR line1  line2 x y\r\n");
    buf_clear(&b);
    resp_add_errorf(&b, "ERR %s", "a\nb");
    ASSERT_BUF(&b, "-ERR a b\r\n");
    buf_free(&b);
}

static void test_deferred_arrays(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    /* *2 [ *3 [1 2 *0[]] , "x" ] with prefix bytes before the outer array */
    resp_add_ok(&b);
    size_t outer = resp_defer_array(&b);
    size_t inner = resp_defer_array(&b);
    resp_add_int(&b, 1);
    resp_add_int(&b, 2);
    size_t innermost = resp_defer_array(&b);
    resp_set_deferred_array(&b, innermost, 0);
    resp_set_deferred_array(&b, inner, 3);
    resp_add_bulk_str(&b, "x");
    resp_set_deferred_array(&b, outer, 2);
    ASSERT_BUF(&b, "+OK\r\n*2\r\n*3\r\n:1\r\n:2\r\n*0\r\n$1\r\nx\r\n");
    buf_clear(&b);

    /* A deferred array holding many elements, and a huge count. */
    size_t m = resp_defer_array(&b);
    for (int i = 0; i < 1000; i++) resp_add_int(&b, i);
    resp_set_deferred_array(&b, m, 1000);
    assert_memory_equal(b.data, "*1000\r\n:0\r\n:1\r\n", 15);
    assert_memory_equal(b.data + b.len - 6, ":999\r\n", 6);
    buf_clear(&b);
    m = resp_defer_array(&b);
    resp_set_deferred_array(&b, m, 9223372036854775807LL);
    ASSERT_BUF(&b, "*9223372036854775807\r\n");
    buf_clear(&b);
    m = resp_defer_array(&b);
    resp_set_deferred_array(&b, m, -1);
    ASSERT_BUF(&b, "*-1\r\n");

    /* The writer's output parses back as requests (a round trip). */
    buf_clear(&b);
    size_t a = resp_defer_array(&b);
    resp_add_bulk_str(&b, "SET");
    resp_add_bulk(&b, "k\r\n", 3);
    resp_add_bulk(&b, "", 0);
    resp_set_deferred_array(&b, a, 3);
    resp_parser p;
    resp_parser_init(&p);
    size_t consumed;
    assert_int_equal(resp_parse(&p, b.data, b.len, &consumed), RESP_OK);
    assert_int_equal(consumed, b.len);
    assert_int_equal(p.argc, 3);
    assert_int_equal(p.argvlen[1], 3);
    assert_int_equal(p.argvlen[2], 0);
    resp_parser_free(&p);
    buf_free(&b);
}

/* ---- RESP3 writer ---- */

static size_t unhex(const char *h, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        char t[3] = { h[i], h[i + 1], 0 };
        out[o++] = (char)strtol(t, NULL, 16);
    }
    return o;
}

/* Write the fixture's value of `kind` / `arg` in protocol proto into b;
 * with `deferred`, aggregates go through resp_defer and resp_set_deferred_*. */
static void write_case(buf *b, const char *kind, const char *arg, int proto, int deferred)
{
    char elems[64][128];
    size_t elen[64];
    int n = 0;
    if (!strcmp(kind, "map") || !strcmp(kind, "set")) {
        const char *p = arg;
        while (*p || (n > 0 && p[-1] == ',')) {
            const char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            assert_true(n < 64 && l / 2 <= sizeof elems[0]);
            elen[n] = unhex(p, l, elems[n]);
            n++;
            p += l;
            if (!comma) break;
            p++;
        }
    }
    if (!strcmp(kind, "double")) {
        unsigned long long bits = strtoull(arg, NULL, 16);
        double d;
        memcpy(&d, &bits, sizeof d);
        resp_add_double(b, proto, d);
    } else if (!strcmp(kind, "bool")) {
        resp_add_bool(b, proto, atoi(arg));
    } else if (!strcmp(kind, "null")) {
        resp_add_null(b, proto);
    } else if (!strcmp(kind, "null_array")) {
        resp_add_null_array(b, proto);
    } else if (!strcmp(kind, "map") || !strcmp(kind, "set")) {
        int map = kind[0] == 'm';
        size_t mark = 0;
        if (deferred) mark = resp_defer(b);
        else if (map) resp_add_map(b, proto, n / 2);
        else resp_add_set(b, proto, n);
        for (int i = 0; i < n; i++) resp_add_bulk(b, elems[i], elen[i]);
        if (deferred && map) resp_set_deferred_map(b, mark, proto, n / 2);
        else if (deferred) resp_set_deferred_set(b, mark, proto, n);
    } else if (!strcmp(kind, "push")) {
        char chan[128];
        size_t cl = unhex(arg, strlen(arg), chan);
        resp_add_push(b, proto, 3);
        resp_add_bulk_str(b, "subscribe");
        resp_add_bulk(b, chan, cl);
        resp_add_int(b, 1);
    } else if (!strcmp(kind, "verbatim")) {
        size_t l = strlen(arg);
        char *text = xmalloc(l / 2 + 1);
        size_t tl = unhex(arg, l, text);
        resp_add_verbatim(b, proto, text, tl);
        free(text);
    } else {
        fail_msg("unknown fixture kind %s", kind);
    }
}

/* fixtures/resp3_writer.txt (gen_resp3_writer.py): what redis-server 7.0
 * sent for each value on a RESP2 and on a RESP3 connection. */
static void test_writer_resp3_vs_redis(void **state)
{
    (void)state;
    char path[4096];
    fixture_path(path, sizeof path, "resp3_writer.txt");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int cases = 0;
    buf b;
    buf_init(&b);
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (line[0] == '#') continue;
        if (line[got - 1] == '\n') line[--got] = '\0';
        char *fields[4];
        char *p = line;
        for (int i = 0; i < 4; i++) {
            fields[i] = p;
            char *tab = strchr(p, '\t');
            if (i < 3) {
                assert_non_null(tab);
                *tab = '\0';
                p = tab + 1;
            }
        }
        for (int proto = RESP2; proto <= RESP3; proto++) {
            const char *hex = fields[proto == RESP2 ? 2 : 3];
            size_t hl = strlen(hex);
            char *want = xmalloc(hl / 2 + 1);
            size_t wl = unhex(hex, hl, want);
            for (int deferred = 0; deferred <= 1; deferred++) {
                if (deferred && strcmp(fields[0], "map") && strcmp(fields[0], "set")) continue;
                buf_clear(&b);
                write_case(&b, fields[0], fields[1], proto, deferred);
                if (b.len != wl || memcmp(b.data, want, wl) != 0)
                    fail_msg("%s %s RESP%d%s: wrote %.*s", fields[0], fields[1], proto,
                             deferred ? " (deferred)" : "", (int)b.len, b.data);
            }
            free(want);
        }
        cases++;
    }
    free(line);
    fclose(f);
    buf_free(&b);
    assert_true(cases >= 25);
}

static void test_writer_resp3(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    resp_add_null(&b, RESP3);
    resp_add_null_array(&b, RESP3);
    resp_add_map(&b, RESP3, 0);
    resp_add_map(&b, RESP2, 0);
    resp_add_map(&b, RESP3, 12);
    resp_add_map(&b, RESP2, 12);
    resp_add_set(&b, RESP3, 7);
    resp_add_push(&b, RESP3, 4);
    resp_add_push(&b, RESP2, 4);
    ASSERT_BUF(&b, "_\r\n_\r\n%0\r\n*0\r\n%12\r\n*24\r\n~7\r\n>4\r\n*4\r\n");
    buf_clear(&b);
    resp_add_bool(&b, RESP3, 7);
    resp_add_bool(&b, RESP2, 7);
    resp_add_double(&b, RESP3, 2.0);
    resp_add_double(&b, RESP2, 2.0);
    resp_add_double(&b, RESP3, -1.0 / 0.0);
    ASSERT_BUF(&b, "#t\r\n:1\r\n,2\r\n$1\r\n2\r\n,-inf\r\n");
    buf_clear(&b);
    resp_add_verbatim(&b, RESP3, "", 0);
    resp_add_verbatim(&b, RESP2, "", 0);
    resp_add_verbatim(&b, RESP3, "a\r\nb", 4);
    resp_add_verbatim(&b, RESP2, "a\r\nb", 4);
    ASSERT_BUF(&b, "=4\r\ntxt:\r\n$0\r\n\r\n=8\r\ntxt:a\r\nb\r\n$4\r\na\r\nb\r\n");
    buf_clear(&b);

    /* Deferred maps and sets nested, with bytes before them; the largest
     * counts fit the reserved room. */
    resp_add_ok(&b);
    size_t outer = resp_defer(&b);
    resp_add_bulk_str(&b, "k");
    size_t inner = resp_defer(&b);
    resp_add_int(&b, 1);
    resp_add_int(&b, 2);
    resp_set_deferred_set(&b, inner, RESP3, 2);
    resp_set_deferred_map(&b, outer, RESP3, 1);
    ASSERT_BUF(&b, "+OK\r\n%1\r\n$1\r\nk\r\n~2\r\n:1\r\n:2\r\n");
    buf_clear(&b);
    outer = resp_defer(&b);
    resp_add_bulk_str(&b, "k");
    inner = resp_defer(&b);
    resp_add_int(&b, 1);
    resp_set_deferred_set(&b, inner, RESP2, 1);
    resp_set_deferred_map(&b, outer, RESP2, 1);
    ASSERT_BUF(&b, "*2\r\n$1\r\nk\r\n*1\r\n:1\r\n");
    buf_clear(&b);
    size_t m = resp_defer(&b);
    resp_set_deferred_map(&b, m, RESP3, 9223372036854775807LL);
    m = resp_defer(&b);
    resp_set_deferred_set(&b, m, RESP3, -9223372036854775807LL - 1);
    m = resp_defer(&b);
    resp_set_deferred_map(&b, m, RESP2, 4611686018427387903LL);
    ASSERT_BUF(&b, "%9223372036854775807\r\n~-9223372036854775808\r\n*9223372036854775806\r\n");
    buf_free(&b);
}

int main(void)
{
    const char *env = getenv("STRATA_SEED");
    unsigned long long seed = env ? strtoull(env, NULL, 10) : (unsigned long long)time(NULL);
    if (!seed) seed = 1;
    printf("test_resp: seed %llu (set STRATA_SEED to replay)\n", seed);
    rng_state = seed;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk_basic),
        cmocka_unit_test(test_empty_and_binary_args),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_skipped_requests),
        cmocka_unit_test(test_line_terminator),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_inline_unbalanced),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_protocol_errors_vs_redis),
        cmocka_unit_test(test_too_big_lines),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_sticky_and_reset),
        cmocka_unit_test(test_need_hint),
        cmocka_unit_test(test_random_streams),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_integers_like_printf),
        cmocka_unit_test(test_error_sanitised),
        cmocka_unit_test(test_deferred_arrays),
        cmocka_unit_test(test_writer_resp3_vs_redis),
        cmocka_unit_test(test_writer_resp3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
