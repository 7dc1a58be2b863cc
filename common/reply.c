/* reply: see reply.h.
 *
 * The scanner's state is a stack of open aggregates, each with the number
 * of elements it still expects:
 *
 *   "*2\r\n" "%1\r\n" "$1\r\na\r\n" ":1\r\n" "+x\r\n"
 *    left=[2]  left=[2,2]  [2,1]        [2,0]->[1]  [0] -> complete
 *
 * A value completing at depth d decrements left[d-1]; an aggregate whose
 * count reaches 0 is itself a completed value one level up.  An attribute
 * (|) completing counts for nothing: the value it annotates follows. */
#include "reply.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

void reply_scanner_init(reply_scanner *s)
{
    memset(s, 0, sizeof *s);
    s->max_bulk = REPLY_DEFAULT_MAX_BULK;
    s->max_elements = REPLY_DEFAULT_MAX_ELEMENTS;
    s->bulk = -1;
}

static int fail(reply_scanner *s, const char *msg)
{
    snprintf(s->err, sizeof s->err, "Protocol error: %s", msg);
    s->failed = 1;
    return REPLY_ERR;
}

/* Strict decimal: an optional '-' then 1..19 digits, no overflow. */
static int parse_ll(const char *p, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (n && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 19) return -1;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (unsigned long long)(p[i] - '0');
    }
    if (neg ? v > 9223372036854775808ULL : v > 9223372036854775807ULL) return -1;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* A value just ended at the current depth.  Returns 1 if that completed
 * the whole reply. */
static int value_done(reply_scanner *s)
{
    while (s->depth > 0) {
        if (--s->left[s->depth - 1] > 0) return 0;
        s->depth--;
        if (s->attr[s->depth]) return 0; /* the annotated value follows */
    }
    return 1;
}

static int line_ok(char t, const char *l, size_t n)
{
    long long v;
    switch (t) {
    case ':': return parse_ll(l, n, &v) == 0;
    case '_': return n == 0;
    case '#': return n == 1 && (l[0] == 't' || l[0] == 'f');
    case ',': return n > 0;
    case '(': {
        size_t i = (n && l[0] == '-') ? 1 : 0;
        if (i == n) return 0;
        for (; i < n; i++)
            if (l[i] < '0' || l[i] > '9') return 0;
        return 1;
    }
    default: return 1; /* + and -: any text */
    }
}

int reply_scan(reply_scanner *s, const char *data, size_t len, size_t *end)
{
    if (s->failed) return REPLY_ERR;
    for (;;) {
        if (s->bulk >= 0) {
            size_t need = s->pos + (size_t)s->bulk + 2;
            if (len < need) return REPLY_AGAIN;
            if (data[need - 2] != '\r' || data[need - 1] != '\n')
                return fail(s, "bulk string not terminated by CRLF");
            if (s->bulk_type == '=' && data[s->pos + 3] != ':')
                return fail(s, "invalid verbatim string");
            s->pos = need;
            s->bulk = -1;
            if (value_done(s)) break;
            continue;
        }
        if (s->pos >= len) return REPLY_AGAIN;
        const char *line = data + s->pos;
        size_t avail = len - s->pos;
        const char *cr = memchr(line, '\r', avail < REPLY_MAX_LINE ? avail : REPLY_MAX_LINE);
        if (!cr) {
            if (avail >= REPLY_MAX_LINE) return fail(s, "line too long");
            return REPLY_AGAIN;
        }
        size_t crpos = (size_t)(cr - data);
        if (crpos + 1 >= len) return REPLY_AGAIN;
        if (data[crpos + 1] != '\n') return fail(s, "CR not followed by LF");
        char t = line[0];
        const char *body = line + 1;
        size_t blen = (size_t)(cr - body);
        if (s->depth == 0 && t != '|') s->top = t;
        s->pos = crpos + 2;
        long long n;
        switch (t) {
        case '+': case '-': case ':': case '_': case ',': case '#': case '(':
            if (!line_ok(t, body, blen)) return fail(s, "malformed line value");
            if (value_done(s)) goto complete;
            break;
        case '$': case '!': case '=':
            if (parse_ll(body, blen, &n) < 0) return fail(s, "invalid bulk length");
            if (n == -1 && t == '$') {
                if (value_done(s)) goto complete;
                break;
            }
            if (n < 0 || n > s->max_bulk) return fail(s, "invalid bulk length");
            if (t == '=' && n < 4) return fail(s, "invalid verbatim string");
            s->bulk = n;
            s->bulk_type = t;
            break;
        case '*': case '%': case '~': case '>': case '|': {
            if (parse_ll(body, blen, &n) < 0) return fail(s, "invalid aggregate length");
            if (n == -1 && t == '*') {
                if (value_done(s)) goto complete;
                break;
            }
            /* n is checked before doubling it: 2n may not fit. */
            if (n < 0 || n > s->max_elements) return fail(s, "invalid aggregate length");
            long long elems = (t == '%' || t == '|') ? 2 * n : n;
            if (elems > s->max_elements) return fail(s, "invalid aggregate length");
            if (elems == 0) {
                if (t == '|') break; /* an empty attribute: the value follows */
                if (value_done(s)) goto complete;
                break;
            }
            if (s->depth >= REPLY_MAX_DEPTH) return fail(s, "nesting too deep");
            s->left[s->depth] = elems;
            s->attr[s->depth] = t == '|';
            s->depth++;
            break;
        }
        default:
            return fail(s, "unknown reply type");
        }
    }
complete:
    *end = s->pos;
    s->type = s->top;
    s->is_error = s->top == '-' || s->top == '!';
    s->pos = 0;
    s->depth = 0;
    s->bulk = -1;
    s->top = 0;
    return REPLY_OK;
}

size_t reply_span(const char *p, size_t len)
{
    reply_scanner s;
    reply_scanner_init(&s);
    size_t end;
    return reply_scan(&s, p, len, &end) == REPLY_OK ? end : 0;
}

int reply_header(const char *p, size_t len, struct reply_hdr *h)
{
    size_t off = 0;
    memset(h, 0, sizeof *h);
    while (off < len && p[off] == '|') {
        /* Skip the attribute: its header and its 2n elements (reply_span
         * of "|..." would cover the annotated value too). */
        const char *cr = memchr(p + off, '\r', len - off);
        long long n;
        if (!cr || (size_t)(cr - p) + 1 >= len || cr[1] != '\n') return -1;
        if (parse_ll(p + off + 1, (size_t)(cr - p - off - 1), &n) < 0 || n < 0 || n > LLONG_MAX / 2)
            return -1;
        size_t q = (size_t)(cr - p) + 2;
        for (long long i = 0; i < 2 * n; i++) {
            size_t e = reply_span(p + q, len - q);
            if (e == 0) return -1;
            q += e;
        }
        off = q;
    }
    if (off >= len) return -1;
    const char *cr = memchr(p + off, '\r', len - off);
    if (!cr || (size_t)(cr - p) + 1 >= len || cr[1] != '\n') return -1;
    char t = p[off];
    const char *body = p + off + 1;
    size_t blen = (size_t)(cr - body);
    size_t linelen = (size_t)(cr - p) + 2;
    long long n = 0;
    h->type = t;
    /* The same checks of a line's value as the scanner's. */
    if (strchr("+-:_,#(", t) && !line_ok(t, body, blen)) return -1;
    switch (t) {
    case '+': case '-': case ',': case '(': case '_':
        h->str = body;
        h->len = blen;
        h->hdrlen = linelen;
        return 0;
    case ':':
        if (parse_ll(body, blen, &n) < 0) return -1;
        h->n = n;
        h->str = body;
        h->len = blen;
        h->hdrlen = linelen;
        return 0;
    case '#':
        if (blen != 1) return -1;
        h->n = body[0] == 't';
        h->str = body;
        h->len = 1;
        h->hdrlen = linelen;
        return 0;
    case '$': case '!': case '=':
        if (parse_ll(body, blen, &n) < 0) return -1;
        if (n == -1 && t == '$') {
            h->type = REPLY_NIL;
            h->hdrlen = linelen;
            return 0;
        }
        if (n < 0 || linelen + (size_t)n + 2 > len) return -1;
        if (t == '=' && (n < 4 || p[linelen + 3] != ':')) return -1;
        h->str = p + linelen;
        h->len = (size_t)n;
        h->hdrlen = linelen + (size_t)n + 2;
        return 0;
    case '*': case '%': case '~': case '>':
        if (parse_ll(body, blen, &n) < 0) return -1;
        if (n == -1 && t == '*') {
            h->type = REPLY_NIL;
            h->hdrlen = linelen;
            return 0;
        }
        if (n < 0 || (t == '%' && n > LLONG_MAX / 2)) return -1; /* reply_elements doubles it */
        h->n = n;
        h->hdrlen = linelen;
        return 0;
    default:
        return -1;
    }
}

long long reply_elements(const struct reply_hdr *h)
{
    switch (h->type) {
    case '*': case '~': case '>': return h->n;
    case '%': case '|': return 2 * h->n;
    default: return 0;
    }
}

void reply_iter_init(struct reply_iter *it, const char *p, size_t len, const struct reply_hdr *h)
{
    it->p = p + (h->hdrlen < len ? h->hdrlen : len);
    it->end = p + len;
}

int reply_next(struct reply_iter *it, const char **elem, size_t *elen)
{
    if (it->p >= it->end) return -1;
    size_t n = reply_span(it->p, (size_t)(it->end - it->p));
    if (n == 0) return -1;
    *elem = it->p;
    *elen = n;
    it->p += n;
    return 0;
}
