/* resp2json: see resp2json.h.  Walks a complete reply with reply_header /
 * reply_next (reply.h), so nothing is copied but the output. */
#include "resp2json.h"

#include <string.h>
#include <strings.h>

#include "json.h"
#include "reply.h"

static void add_text(buf *out, const char *p, size_t len)
{
    if (json_utf8_valid(p, len)) {
        json_add_string(out, p, len);
        return;
    }
    buf_append_str(out, "{\"base64\":\"");
    json_add_base64(out, p, len);
    buf_append_str(out, "\"}");
}

/* A double's text is a JSON number unless it is inf/nan (Redis writes
 * "inf", "-inf", "nan"); checked by grammar rather than by prefix so any
 * text a server sends maps to valid JSON. */
static int is_json_number(const char *p, size_t len)
{
    size_t i = 0;
    if (i < len && p[i] == '-') i++;
    if (i >= len) return 0;
    if (p[i] == '0') i++;
    else if (p[i] >= '1' && p[i] <= '9')
        while (i < len && p[i] >= '0' && p[i] <= '9') i++;
    else return 0;
    if (i < len && p[i] == '.') {
        if (++i >= len || p[i] < '0' || p[i] > '9') return 0;
        while (i < len && p[i] >= '0' && p[i] <= '9') i++;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-')) i++;
        if (i >= len || p[i] < '0' || p[i] > '9') return 0;
        while (i < len && p[i] >= '0' && p[i] <= '9') i++;
    }
    return i == len;
}

/* The text of a string-like value (for map keys), or -1 if it is not one. */
static int string_payload(const struct reply_hdr *h, const char **p, size_t *len)
{
    switch (h->type) {
    case REPLY_STATUS:
    case REPLY_STRING:
        *p = h->str;
        *len = h->len;
        return 0;
    case REPLY_VERBATIM:
        *p = h->str + 4;
        *len = h->len - 4;
        return 0;
    default: return -1;
    }
}

static int convert(buf *out, const char *p, size_t len, int depth);

static int convert_map(buf *out, const char *p, size_t len, const struct reply_hdr *h, int depth)
{
    struct reply_iter it;
    const char *e;
    size_t el;
    /* First pass: may the keys be object member names? */
    int as_object = 1;
    reply_iter_init(&it, p, len, h);
    for (long long i = 0; i < 2 * h->n; i++) {
        if (reply_next(&it, &e, &el) < 0) return -1;
        if (i % 2) continue;
        struct reply_hdr kh;
        const char *ks;
        size_t kl;
        if (reply_header(e, el, &kh) < 0) return -1;
        if (string_payload(&kh, &ks, &kl) < 0 || !json_utf8_valid(ks, kl)) as_object = 0;
    }
    buf_append_char(out, as_object ? '{' : '[');
    reply_iter_init(&it, p, len, h);
    for (long long i = 0; i < h->n; i++) {
        if (i) buf_append_char(out, ',');
        if (reply_next(&it, &e, &el) < 0) return -1;
        if (as_object) {
            struct reply_hdr kh;
            const char *ks;
            size_t kl;
            if (reply_header(e, el, &kh) < 0 || string_payload(&kh, &ks, &kl) < 0) return -1;
            json_add_string(out, ks, kl);
            buf_append_char(out, ':');
        } else {
            buf_append_char(out, '[');
            if (convert(out, e, el, depth + 1) < 0) return -1;
            buf_append_char(out, ',');
        }
        if (reply_next(&it, &e, &el) < 0) return -1;
        if (convert(out, e, el, depth + 1) < 0) return -1;
        if (!as_object) buf_append_char(out, ']');
    }
    buf_append_char(out, as_object ? '}' : ']');
    return 0;
}

static int convert(buf *out, const char *p, size_t len, int depth)
{
    struct reply_hdr h;
    if (depth > REPLY_MAX_DEPTH || reply_header(p, len, &h) < 0) return -1;
    switch (h.type) {
    case REPLY_STATUS:
    case REPLY_STRING: add_text(out, h.str, h.len); return 0;
    case REPLY_VERBATIM:
        if (h.len < 4) return -1;
        add_text(out, h.str + 4, h.len - 4);
        return 0;
    case REPLY_ERROR:
    case REPLY_BLOBERR:
        buf_append_str(out, "{\"error\":");
        add_text(out, h.str, h.len);
        buf_append_char(out, '}');
        return 0;
    case REPLY_INTEGER: buf_printf(out, "%lld", h.n); return 0;
    case REPLY_DOUBLE:
        if (is_json_number(h.str, h.len)) buf_append(out, h.str, h.len);
        else add_text(out, h.str, h.len);
        return 0;
    case REPLY_BIGNUM:
        buf_append_str(out, "{\"bignum\":");
        add_text(out, h.str, h.len);
        buf_append_char(out, '}');
        return 0;
    case REPLY_BOOL: buf_append_str(out, h.n ? "true" : "false"); return 0;
    case REPLY_NIL: buf_append_str(out, "null"); return 0;
    case REPLY_MAP: return convert_map(out, p, len, &h, depth);
    case REPLY_ARRAY:
    case REPLY_SET:
    case REPLY_PUSH: {
        struct reply_iter it;
        const char *e;
        size_t el;
        reply_iter_init(&it, p, len, &h);
        buf_append_char(out, '[');
        for (long long i = 0; i < h.n; i++) {
            if (i) buf_append_char(out, ',');
            if (reply_next(&it, &e, &el) < 0 || convert(out, e, el, depth + 1) < 0) return -1;
        }
        buf_append_char(out, ']');
        return 0;
    }
    default: return -1;
    }
}

int resp2json(buf *out, const char *p, size_t len)
{
    return convert(out, p, len, 0);
}

static int starts(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && !strncasecmp(p, prefix, n);
}

int resp2json_http_status(const char *err, size_t len)
{
    static const char *const unavailable[] = {
        "LOADING ", "BUSY ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ", "NOREPLICAS ",
        "READONLY ", "MISCONF ", "FENCED ", "ERR max number of clients reached", NULL,
    };
    if (starts(err, len, "NOAUTH ") || starts(err, len, "WRONGPASS ")) return 401;
    if (starts(err, len, "NOPERM ")) return 403;
    if (starts(err, len, "ERR unknown command") || starts(err, len, "ERR unknown subcommand")) return 404;
    if (starts(err, len, "OOM ")) return 507;
    if (starts(err, len, "ERR backend ")) return 502;
    for (int i = 0; unavailable[i]; i++)
        if (starts(err, len, unavailable[i])) return 503;
    return 400;
}
