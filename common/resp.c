/* resp: see resp.h.
 *
 * Request flow through the parser:
 *
 *   bytes --> [header "*N\r\n"] --> N x ["$len\r\n" + len bytes + "\r\n"] --> argv
 *         \-> inline "cmd arg 'quoted arg'\r\n" ---------------------------> argv
 *
 * Arguments of a multibulk request are recorded as offsets from the start
 * of the command, so a caller may grow (and move) its buffer between calls;
 * pointers are made only when the command is complete. */
#include "resp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const resp_err_wrongtype =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
const char *const resp_err_notint = "ERR value is not an integer or out of range";
const char *const resp_err_notfloat = "ERR value is not a valid float";
const char *const resp_err_syntax = "ERR syntax error";
const char *const resp_err_nokey = "ERR no such key";
const char *const resp_err_overflow = "ERR increment or decrement would overflow";
const char *const resp_err_outofrange = "ERR index out of range";

void resp_parser_init(resp_parser *p)
{
    memset(p, 0, sizeof *p);
    p->max_bulk = RESP_DEFAULT_MAX_BULK;
    p->max_args = RESP_DEFAULT_MAX_ARGS;
    p->max_inline = RESP_MAX_INLINE;
    p->bulklen = -1;
}

void resp_parser_free(resp_parser *p)
{
    free(p->argv);
    free(p->argvlen);
    free(p->argoff);
    free(p->inline_buf);
    p->argv = NULL;
    p->argvlen = NULL;
    p->argoff = NULL;
    p->inline_buf = NULL;
}

void resp_parser_reset(resp_parser *p)
{
    p->expect = 0;
    p->pos = 0;
    p->bulklen = -1;
    p->argc = 0;
    p->need = 0;
    p->failed = 0;
    p->err[0] = '\0';
}

static int fail(resp_parser *p, const char *msg)
{
    snprintf(p->err, sizeof p->err, "ERR Protocol error: %s", msg);
    p->failed = 1;
    return RESP_ERR;
}

static void ensure_args(resp_parser *p, long long n)
{
    if (n <= p->argv_cap) return;
    int cap = p->argv_cap ? p->argv_cap : 8;
    while (cap < n) cap *= 2;
    p->argv = xrealloc(p->argv, sizeof(char *) * (size_t)cap);
    p->argvlen = xrealloc(p->argvlen, sizeof(size_t) * (size_t)cap);
    p->argoff = xrealloc(p->argoff, sizeof(size_t) * (size_t)cap);
    p->argv_cap = cap;
}

/* Length-prefix lines ("*N", "$N") end at the first '\r'; the byte after
 * it is skipped without being checked, as Redis does.  Returns 1 with *cr
 * set when the line and its terminator are complete, 0 when more bytes are
 * needed, -1 when the line is longer than `max`.  The verdict depends only
 * on the bytes, not on how they were split between calls: the length is
 * measured up to the '\r' when one is present, so a long line fails the
 * same way whether it arrives whole or a byte at a time. */
static int find_line(const char *data, size_t from, size_t len, size_t max, size_t *cr)
{
    const char *r = memchr(data + from, '\r', len - from);
    size_t linelen = r ? (size_t)(r - (data + from)) : len - from;
    if (linelen > max) return -1;
    if (!r || (size_t)(r - data) + 1 >= len) return 0;
    *cr = (size_t)(r - data);
    return 1;
}

/* An unquoted inline token ends only at these bytes (Redis's
 * sdssplitargs), although leading blanks are skipped with isspace(). */
static int is_token_end(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Split an inline request into arguments (double quotes with \n \r \t \b
 * \a \\ \" \xHH escapes, single quotes with \' only), into p->inline_buf. */
static int parse_inline(resp_parser *p, const char *line, size_t len)
{
    free(p->inline_buf);
    p->inline_buf = xmalloc(len + 1);
    char *o = p->inline_buf;
    size_t i = 0;
    int argc = 0;

    for (;;) {
        while (i < len && isspace((unsigned char)line[i])) i++;
        if (i >= len) break;
        char *start = o;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            char c = i < len ? line[i] : '\0';
            if (inq) {
                if (i >= len) return fail(p, "unbalanced quotes in request");
                if (c == '\\' && i + 3 < len && line[i + 1] == 'x' &&
                    isxdigit((unsigned char)line[i + 2]) && isxdigit((unsigned char)line[i + 3])) {
                    char hex[3] = { line[i + 2], line[i + 3], 0 };
                    *o++ = (char)strtol(hex, NULL, 16);
                    i += 3;
                } else if (c == '\\' && i + 1 < len) {
                    char e = line[++i];
                    *o++ = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' :
                           e == 'b' ? '\b' : e == 'a' ? '\a' : e;
                } else if (c == '"') {
                    if (i + 1 < len && !isspace((unsigned char)line[i + 1]))
                        return fail(p, "unbalanced quotes in request");
                    done = 1;
                } else {
                    *o++ = c;
                }
            } else if (insq) {
                if (i >= len) return fail(p, "unbalanced quotes in request");
                if (c == '\\' && i + 1 < len && line[i + 1] == '\'') {
                    *o++ = '\'';
                    i++;
                } else if (c == '\'') {
                    if (i + 1 < len && !isspace((unsigned char)line[i + 1]))
                        return fail(p, "unbalanced quotes in request");
                    done = 1;
                } else {
                    *o++ = c;
                }
            } else if (i >= len || is_token_end(c)) {
                done = 1;
                i--;
            } else if (c == '"') {
                inq = 1;
            } else if (c == '\'') {
                insq = 1;
            } else {
                *o++ = c;
            }
            i++;
        }
        ensure_args(p, argc + 1);
        p->argv[argc] = start;
        p->argvlen[argc] = (size_t)(o - start);
        argc++;
    }
    p->argc = argc;
    return RESP_OK;
}

int resp_parse(resp_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    p->need = 0;
    if (p->failed) return RESP_ERR;

    for (;;) {
        if (p->expect == 0) {
            /* Start of a command: multibulk header or inline line. */
            size_t start = *consumed;
            if (start >= len) return RESP_AGAIN;
            if (data[start] != '*') {
                const char *nl = memchr(data + start, '\n', len - start);
                if (!nl) {
                    if (len - start > p->max_inline) return fail(p, "too big inline request");
                    return RESP_AGAIN;
                }
                size_t linelen = (size_t)(nl - (data + start));
                if (linelen > p->max_inline) return fail(p, "too big inline request");
                size_t end = linelen;
                if (end > 0 && data[start + end - 1] == '\r') end--;
                *consumed = start + linelen + 1;
                if (parse_inline(p, data + start, end) != RESP_OK) return RESP_ERR;
                if (p->argc == 0) continue; /* empty line: skipped */
                return RESP_OK;
            }
            size_t cr;
            int r = find_line(data, start, len, p->max_inline, &cr);
            if (r < 0) return fail(p, "too big mbulk count string");
            if (r == 0) return RESP_AGAIN;
            long long n;
            if (str2ll(data + start + 1, cr - start - 1, &n) < 0 || n > p->max_args)
                return fail(p, "invalid multibulk length");
            if (n <= 0) {
                *consumed = cr + 2;
                continue; /* "*0" and "*-1" are ignored */
            }
            p->expect = n;
            p->argc = 0;
            p->pos = cr + 2 - start;
            p->bulklen = -1;
            ensure_args(p, n < 1024 ? n : 1024);
        }

        /* Inside a multibulk: offsets are relative to the command start. */
        const char *base = data + *consumed;
        size_t avail = len - *consumed;
        while (p->argc < p->expect) {
            if (p->bulklen < 0) {
                if (p->pos >= avail) return RESP_AGAIN;
                /* Like Redis, look at the '$' only once the line is complete. */
                size_t cr;
                int r = find_line(base, p->pos, avail, p->max_inline, &cr);
                if (r < 0) return fail(p, "too big bulk count string");
                if (r == 0) return RESP_AGAIN;
                if (base[p->pos] != '$') {
                    char msg[64];
                    snprintf(msg, sizeof msg, "expected '$', got '%c'", base[p->pos]);
                    return fail(p, msg);
                }
                long long bl;
                if (str2ll(base + p->pos + 1, cr - p->pos - 1, &bl) < 0 ||
                    bl < 0 || bl > p->max_bulk)
                    return fail(p, "invalid bulk length");
                p->bulklen = bl;
                p->pos = cr + 2;
            }
            if (avail - p->pos < (size_t)p->bulklen + 2) {
                /* Counted from the command start: the caller drops the
                 * skipped bytes in `consumed` before growing its buffer. */
                p->need = p->pos + (size_t)p->bulklen + 2;
                return RESP_AGAIN;
            }
            ensure_args(p, p->argc + 1);
            p->argoff[p->argc] = p->pos;
            p->argvlen[p->argc] = (size_t)p->bulklen;
            p->argc++;
            p->pos += (size_t)p->bulklen + 2;
            p->bulklen = -1;
        }
        for (int i = 0; i < p->argc; i++) p->argv[i] = (char *)base + p->argoff[i];
        *consumed += p->pos;
        p->expect = 0;
        p->pos = 0;
        return RESP_OK;
    }
}

/* ---- reply writer ---- */

/* Decimal digits of v into d (at least 20 bytes); returns their count.
 * Replies write a length or an integer for nearly every value, and
 * snprintf's format parsing cost more than the rest of building a short
 * bulk: two digits per step from a table instead. */
static size_t fmt_u64(char *d, uint64_t v)
{
    static const char pairs[201] =
        "0001020304050607080910111213141516171819"
        "2021222324252627282930313233343536373839"
        "4041424344454647484950515253545556575859"
        "6061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char tmp[20];
    size_t i = sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--i] = pairs[r + 1];
        tmp[--i] = pairs[r];
    }
    if (v >= 10) {
        tmp[--i] = pairs[v * 2 + 1];
        tmp[--i] = pairs[v * 2];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    size_t n = sizeof tmp - i;
    memcpy(d, tmp + i, n);
    return n;
}

/* "<prefix><n>\r\n" at d (at least RESP_LEN_MAX bytes); returns its length. */
#define RESP_LEN_MAX 24
static size_t fmt_prefixed_len(char *d, char prefix, long long n)
{
    size_t l = 0;
    d[l++] = prefix;
    if (n < 0) {
        d[l++] = '-';
        l += fmt_u64(d + l, 0 - (uint64_t)n);
    } else {
        l += fmt_u64(d + l, (uint64_t)n);
    }
    d[l++] = '\r';
    d[l++] = '\n';
    return l;
}

static void add_prefixed_len(buf *out, char prefix, long long n)
{
    buf_reserve(out, RESP_LEN_MAX);
    out->len += fmt_prefixed_len(out->data + out->len, prefix, n);
}

void resp_add_simple(buf *out, const char *s)
{
    buf_append_char(out, '+');
    buf_append_str(out, s);
    buf_append(out, "\r\n", 2);
}

void resp_add_ok(buf *out)
{
    buf_append(out, "+OK\r\n", 5);
}

void resp_add_error(buf *out, const char *msg)
{
    buf_append_char(out, '-');
    /* An error line must not contain CR or LF: replace them, as Redis does. */
    size_t start = out->len;
    buf_append_str(out, msg);
    for (size_t i = start; i < out->len; i++)
        if (out->data[i] == '\r' || out->data[i] == '\n') out->data[i] = ' ';
    buf_append(out, "\r\n", 2);
}

void resp_add_errorf(buf *out, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp_add_error(out, msg);
}

void resp_add_int(buf *out, long long v)
{
    add_prefixed_len(out, ':', v);
}

void resp_add_bulk(buf *out, const void *p, size_t len)
{
    /* One reservation, then header, value and terminator written in place. */
    buf_reserve(out, RESP_LEN_MAX + len + 2);
    char *d = out->data + out->len;
    d += fmt_prefixed_len(d, '$', (long long)len);
    if (len) memcpy(d, p, len);
    d += len;
    d[0] = '\r';
    d[1] = '\n';
    out->len = (size_t)(d + 2 - out->data);
}

void resp_add_bulk_str(buf *out, const char *s)
{
    resp_add_bulk(out, s, strlen(s));
}

void resp_add_bulk_ll(buf *out, long long v)
{
    char tmp[24];
    size_t n = 0;
    if (v < 0) {
        tmp[n++] = '-';
        n += fmt_u64(tmp + n, 0 - (uint64_t)v);
    } else {
        n += fmt_u64(tmp, (uint64_t)v);
    }
    resp_add_bulk(out, tmp, n);
}

void resp_add_bulk_double(buf *out, double v)
{
    char tmp[64];
    int n = d2str(tmp, sizeof tmp, v);
    resp_add_bulk(out, tmp, (size_t)n);
}

void resp_add_array(buf *out, long long n)
{
    add_prefixed_len(out, '*', n);
}

void resp_add_null(buf *out, int proto)
{
    if (proto == RESP3) buf_append(out, "_\r\n", 3);
    else buf_append(out, "$-1\r\n", 5);
}

void resp_add_null_array(buf *out, int proto)
{
    if (proto == RESP3) buf_append(out, "_\r\n", 3);
    else buf_append(out, "*-1\r\n", 5);
}

void resp_add_map(buf *out, int proto, long long npairs)
{
    if (proto == RESP3) add_prefixed_len(out, '%', npairs);
    else add_prefixed_len(out, '*', npairs * 2);
}

void resp_add_set(buf *out, int proto, long long n)
{
    add_prefixed_len(out, proto == RESP3 ? '~' : '*', n);
}

void resp_add_push(buf *out, int proto, long long n)
{
    add_prefixed_len(out, proto == RESP3 ? '>' : '*', n);
}

void resp_add_double(buf *out, int proto, double v)
{
    if (proto != RESP3) {
        resp_add_bulk_double(out, v);
        return;
    }
    char tmp[64];
    int n = d2str(tmp, sizeof tmp, v);
    buf_reserve(out, (size_t)n + 3);
    out->data[out->len++] = ',';
    memcpy(out->data + out->len, tmp, (size_t)n);
    out->len += (size_t)n;
    buf_append(out, "\r\n", 2);
}

void resp_add_bool(buf *out, int proto, int v)
{
    if (proto == RESP3) buf_append(out, v ? "#t\r\n" : "#f\r\n", 4);
    else buf_append(out, v ? ":1\r\n" : ":0\r\n", 4);
}

void resp_add_verbatim(buf *out, int proto, const char *p, size_t len)
{
    if (proto != RESP3) {
        resp_add_bulk(out, p, len);
        return;
    }
    add_prefixed_len(out, '=', (long long)len + 4);
    buf_append(out, "txt:", 4);
    buf_append(out, p, len);
    buf_append(out, "\r\n", 2);
}

#define DEFER_WIDTH 24

size_t resp_defer(buf *out)
{
    size_t mark = out->len;
    buf_reserve(out, DEFER_WIDTH);
    memset(out->data + out->len, ' ', DEFER_WIDTH);
    out->len += DEFER_WIDTH;
    return mark;
}

static void set_deferred(buf *out, size_t mark, char prefix, long long n)
{
    char tmp[RESP_LEN_MAX];
    size_t l = fmt_prefixed_len(tmp, prefix, n);
    size_t tail = out->len - mark - DEFER_WIDTH;
    memcpy(out->data + mark, tmp, l);
    memmove(out->data + mark + l, out->data + mark + DEFER_WIDTH, tail);
    out->len -= DEFER_WIDTH - l;
}

void resp_set_deferred_array(buf *out, size_t mark, long long n)
{
    set_deferred(out, mark, '*', n);
}

void resp_set_deferred_map(buf *out, size_t mark, int proto, long long npairs)
{
    if (proto == RESP3) set_deferred(out, mark, '%', npairs);
    else set_deferred(out, mark, '*', npairs * 2);
}

void resp_set_deferred_set(buf *out, size_t mark, int proto, long long n)
{
    set_deferred(out, mark, proto == RESP3 ? '~' : '*', n);
}

void resp_add_arity_error(buf *out, const char *name)
{
    resp_add_errorf(out, "ERR wrong number of arguments for '%s' command", name);
}

int resp_check_client_name(buf *out, const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '!' || name[i] > '~') {
            resp_add_error(out, "ERR Client names cannot contain spaces, newlines or special characters.");
            return 0;
        }
    }
    return 1;
}
