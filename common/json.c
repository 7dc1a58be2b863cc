/* json: see json.h. */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct jparser {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    int failed;
};

static void jfail(struct jparser *s, const char *what)
{
    if (s->failed) return;
    s->failed = 1;
    snprintf(s->err, s->errlen, "%s at byte %zu", what, (size_t)(s->p - s->start));
}

static void skip_ws(struct jparser *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static void add_utf8(buf *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(b, o, n);
}

static int hex4(struct jparser *s, uint32_t *v)
{
    if (s->end - s->p < 4) return -1;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        char c = s->p[i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    s->p += 4;
    *v = x;
    return 0;
}

/* At the opening quote.  Decodes into out (cleared first). */
static int parse_string(struct jparser *s, buf *out)
{
    buf_clear(out);
    s->p++;
    const char *run = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            buf_append(out, run, (size_t)(s->p - run));
            s->p++;
            return 0;
        }
        if (c < 0x20) {
            jfail(s, "control character in a string");
            return -1;
        }
        if (c != '\\') {
            s->p++;
            continue;
        }
        buf_append(out, run, (size_t)(s->p - run));
        s->p++;
        if (s->p >= s->end) break;
        char e = *s->p++;
        switch (e) {
        case '"': buf_append_char(out, '"'); break;
        case '\\': buf_append_char(out, '\\'); break;
        case '/': buf_append_char(out, '/'); break;
        case 'b': buf_append_char(out, '\b'); break;
        case 'f': buf_append_char(out, '\f'); break;
        case 'n': buf_append_char(out, '\n'); break;
        case 'r': buf_append_char(out, '\r'); break;
        case 't': buf_append_char(out, '\t'); break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(s, &cp) < 0) {
                jfail(s, "bad \\u escape");
                return -1;
            }
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') {
                    jfail(s, "lone surrogate in a \\u escape");
                    return -1;
                }
                s->p += 2;
                if (hex4(s, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    jfail(s, "lone surrogate in a \\u escape");
                    return -1;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                jfail(s, "lone surrogate in a \\u escape");
                return -1;
            }
            add_utf8(out, cp);
            break;
        }
        default:
            s->p--;
            jfail(s, "bad escape in a string");
            return -1;
        }
        run = s->p;
    }
    jfail(s, "unterminated string");
    return -1;
}

static int parse_number(struct jparser *s)
{
    const char *p = s->p;
    if (p < s->end && *p == '-') p++;
    if (p >= s->end) goto bad;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9')
        while (p < s->end && *p >= '0' && *p <= '9') p++;
    else goto bad;
    if (p < s->end && *p == '.') {
        p++;
        if (p >= s->end || *p < '0' || *p > '9') goto bad;
        while (p < s->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-')) p++;
        if (p >= s->end || *p < '0' || *p > '9') goto bad;
        while (p < s->end && *p >= '0' && *p <= '9') p++;
    }
    s->p = p;
    return 0;
bad:
    jfail(s, "bad number");
    return -1;
}

static json *parse_value(struct jparser *s, int depth, buf *tmp);

static void push_item(json *j, json *item, int *cap)
{
    if (j->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        j->items = xrealloc(j->items, (size_t)*cap * sizeof *j->items);
        if (j->type == JSON_OBJECT) {
            j->keys = xrealloc(j->keys, (size_t)*cap * sizeof *j->keys);
            j->keylens = xrealloc(j->keylens, (size_t)*cap * sizeof *j->keylens);
        }
    }
    j->items[j->n++] = item;
}

static json *parse_aggregate(struct jparser *s, int depth, buf *tmp, int is_obj)
{
    json *j = xcalloc(1, sizeof *j);
    j->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
    int cap = 0;
    char close = is_obj ? '}' : ']';
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        size_t klen = 0;
        if (is_obj) {
            skip_ws(s);
            if (s->p >= s->end || *s->p != '"') {
                jfail(s, "expected a member name");
                goto fail;
            }
            if (parse_string(s, tmp) < 0) goto fail;
            klen = tmp->len;
            key = xmemdup(tmp->data ? tmp->data : "", klen);
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                free(key);
                jfail(s, "expected ':'");
                goto fail;
            }
            s->p++;
        }
        json *v = parse_value(s, depth + 1, tmp);
        if (!v) {
            free(key);
            goto fail;
        }
        push_item(j, v, &cap);
        if (is_obj) {
            j->keys[j->n - 1] = key;
            j->keylens[j->n - 1] = klen;
        }
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return j;
        }
        jfail(s, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
fail:
    json_free(j);
    return NULL;
}

static json *parse_value(struct jparser *s, int depth, buf *tmp)
{
    skip_ws(s);
    if (depth > JSON_MAX_DEPTH) {
        jfail(s, "nesting too deep");
        return NULL;
    }
    if (s->p >= s->end) {
        jfail(s, "unexpected end of input");
        return NULL;
    }
    char c = *s->p;
    if (c == '{' || c == '[') return parse_aggregate(s, depth, tmp, c == '{');
    json *j = xcalloc(1, sizeof *j);
    size_t left = (size_t)(s->end - s->p);
    if (c == '"') {
        if (parse_string(s, tmp) < 0) goto fail;
        j->type = JSON_STRING;
        j->len = tmp->len;
        j->str = xmemdup(tmp->data ? tmp->data : "", tmp->len);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        const char *from = s->p;
        if (parse_number(s) < 0) goto fail;
        j->type = JSON_NUMBER;
        j->len = (size_t)(s->p - from);
        j->str = xmemdup(from, j->len);
    } else if (left >= 4 && !memcmp(s->p, "true", 4)) {
        j->type = JSON_BOOL;
        j->b = 1;
        s->p += 4;
    } else if (left >= 5 && !memcmp(s->p, "false", 5)) {
        j->type = JSON_BOOL;
        s->p += 5;
    } else if (left >= 4 && !memcmp(s->p, "null", 4)) {
        j->type = JSON_NULL;
        s->p += 4;
    } else {
        jfail(s, "unexpected character");
        goto fail;
    }
    return j;
fail:
    free(j);
    return NULL;
}

json *json_parse(const char *p, size_t len, char *err, size_t errlen)
{
    struct jparser s = { p, p + len, p, err, errlen, 0 };
    buf tmp;
    buf_init(&tmp);
    json *j = parse_value(&s, 1, &tmp);
    buf_free(&tmp);
    if (!j) return NULL;
    skip_ws(&s);
    if (s.p != s.end) {
        jfail(&s, "trailing characters");
        json_free(j);
        return NULL;
    }
    return j;
}

void json_free(json *j)
{
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        json_free(j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->keylens);
    free(j->str);
    free(j);
}

const json *json_get(const json *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t kl = strlen(key);
    for (int i = 0; i < obj->n; i++)
        if (obj->keylens[i] == kl && !memcmp(obj->keys[i], key, kl)) return obj->items[i];
    return NULL;
}

int json_utf8_valid(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p, *e = s + len;
    while (s < e) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        int n;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) n = 1, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) n = 3, cp = c & 0x07, min = 0x10000;
        else return 0;
        if (e - s <= n) return 0;
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return 0;
        s += n + 1;
    }
    return 1;
}

void json_add_string(buf *out, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(out, len + 2);
    buf_append_char(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_append(out, p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_append_str(out, "\\\""); break;
        case '\\': buf_append_str(out, "\\\\"); break;
        case '\n': buf_append_str(out, "\\n"); break;
        case '\r': buf_append_str(out, "\\r"); break;
        case '\t': buf_append_str(out, "\\t"); break;
        case '\b': buf_append_str(out, "\\b"); break;
        case '\f': buf_append_str(out, "\\f"); break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            buf_append(out, u, 6);
        }
        }
    }
    buf_append(out, p + run, len - run);
    buf_append_char(out, '"');
}

void json_add_cstr(buf *out, const char *s)
{
    json_add_string(out, s, strlen(s));
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void json_add_base64(buf *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    buf_reserve(out, (len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
        char o[4] = { b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63] };
        buf_append(out, o, 4);
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len) v |= (uint32_t)p[i + 1] << 8;
        char o[4] = { b64[v >> 18], b64[(v >> 12) & 63], i + 1 < len ? b64[(v >> 6) & 63] : '=', '=' };
        buf_append(out, o, 4);
    }
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

char *json_base64_decode(const char *s, size_t len, size_t *outlen)
{
    while (len && s[len - 1] == '=') len--;
    if (len % 4 == 1) return NULL;
    char *out = xmalloc(len / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    *outlen = o;
    return out;
}
