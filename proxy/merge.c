/* merge: split requests and merged replies.  See merge.h.
 *
 * Every merge works on the raw spans of the fragments' replies
 * (reply_header / reply_next from common/reply.h): elements are copied
 * byte for byte, so a bulk, a double or a map inside an array reaches the
 * client exactly as the backend wrote it in the client's protocol.  Only
 * the headers the proxy writes itself (the array of MGET, a nil, INFO's
 * text) depend on the protocol, and take it as an argument. */
#include "merge.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "resp.h"
#include "util.h"

void merge_add_header(buf *out, int argc)
{
    resp_add_array(out, argc);
}

void merge_add_arg(buf *out, const char *p, size_t len)
{
    resp_add_bulk(out, p, len);
}

void merge_add_cmd(buf *out, int argc, char *const *argv, const size_t *lens)
{
    merge_add_header(out, argc);
    for (int i = 0; i < argc; i++) merge_add_arg(out, argv[i], lens[i]);
}

static const char err_malformed[] = "ERR malformed reply from backend";
static const char err_type[] = "ERR unexpected reply type from backend";

/* Span of the value at p (len bytes available), or 0 when it is not
 * complete there.  Scalars, which are nearly every element of a merged
 * reply, are measured here from their header line; aggregates take
 * reply_span. */
static size_t elem_span(const char *p, size_t len)
{
    if (len < 3) return 0;
    const char *cr = memchr(p, '\r', len);
    if (!cr || (size_t)(cr - p) + 1 >= len || cr[1] != '\n') return 0;
    size_t line = (size_t)(cr - p) + 2;
    switch (p[0]) {
    case '$': case '=': case '!': {
        long long n;
        if (str2ll(p + 1, (size_t)(cr - p - 1), &n) < 0) return 0;
        if (n < 0) return p[0] == '$' && n == -1 ? line : 0;
        if ((unsigned long long)n > len - line || len - line - (size_t)n < 2) return 0;
        return line + (size_t)n + 2;
    }
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        return line;
    default:
        return reply_span(p, len);
    }
}

/* The next element of an aggregate: 1 with its span, 0 at the end, -1
 * when the bytes left are not a complete element. */
static int next_elem(struct reply_iter *it, const char **e, size_t *elen)
{
    if (it->p >= it->end) return 0;
    size_t n = elem_span(it->p, (size_t)(it->end - it->p));
    if (n == 0) return -1;
    *e = it->p;
    *elen = n;
    it->p += n;
    return 1;
}

static int is_error_type(char t)
{
    return t == REPLY_ERROR || t == REPLY_BLOBERR;
}

/* Read the header of every fragment's reply into hs.  If one has no
 * valid header, or is an error, append that error (the first in fragment
 * order) to out and return -1.  (Each reply was framed whole by its link;
 * the elements are checked as they are walked.) */
static int headers_all(buf *out, const buf *replies, int n, struct reply_hdr *hs)
{
    for (int i = 0; i < n; i++) {
        if (replies[i].len == 0 || reply_header(replies[i].data, replies[i].len, &hs[i]) < 0) {
            resp_add_error(out, err_malformed);
            return -1;
        }
        if (is_error_type(hs[i].type)) {
            buf_append(out, replies[i].data, replies[i].len);
            return -1;
        }
    }
    return 0;
}

static int is_array(const struct reply_hdr *h)
{
    return h->type == REPLY_ARRAY || h->type == REPLY_SET;
}

void merge_mget(buf *out, int proto, const buf *replies, int nfrags, const int *keyfrag,
                int nkeys)
{
    struct reply_hdr *hs = xcalloc((size_t)nfrags, sizeof *hs);
    struct reply_iter *its = xcalloc((size_t)nfrags, sizeof *its);
    long long *used = xcalloc((size_t)nfrags, sizeof *used);
    if (headers_all(out, replies, nfrags, hs) < 0) goto done;
    size_t total = 0;
    for (int j = 0; j < nfrags; j++) {
        if (!is_array(&hs[j])) {
            resp_add_error(out, err_type);
            goto done;
        }
        reply_iter_init(&its[j], replies[j].data, replies[j].len, &hs[j]);
        total += replies[j].len;
    }
    buf_reserve(out, total + 32);
    size_t start = out->len;
    resp_add_array(out, nkeys);
    for (int k = 0; k < nkeys; k++) {
        const char *e;
        size_t elen;
        int j = keyfrag[k];
        int rc = used[j] < hs[j].n ? next_elem(&its[j], &e, &elen) : 0;
        if (rc > 0) {
            used[j]++;
            buf_append(out, e, elen);
        } else if (rc == 0 && used[j] >= hs[j].n) {
            resp_add_null(out, proto);   /* fewer elements than keys */
        } else {
            out->len = start;
            resp_add_error(out, err_malformed);
            break;
        }
    }
done:
    free(used);
    free(its);
    free(hs);
}

/* The text of an INFO reply: a bulk, or a verbatim string without its
 * "txt:" prefix.  Returns 0, or -1 when the reply is something else. */
static int info_text(const buf *r, const char **p, size_t *len)
{
    struct reply_hdr h;
    if (r->len == 0 || reply_header(r->data, r->len, &h) < 0) return -1;
    if (h.type == REPLY_STRING) {
        *p = h.str;
        *len = h.len;
        return 0;
    }
    if (h.type == REPLY_VERBATIM && h.len >= 4) {
        *p = h.str + 4;
        *len = h.len - 4;
        return 0;
    }
    return -1;
}

/* INFO through the proxy: its own sections (text), then one Keyspace
 * section summing the groups' "db0:keys=..,expires=.." lines.  A group
 * that did not answer with its INFO text (down, timed out) is left out
 * rather than failing the whole INFO, which operators need most when a
 * group is in trouble; INFO groups says which one is down. */
void merge_info(buf *out, int proto, const char *text, size_t textlen, const buf *replies,
                int nfrags)
{
    unsigned long long keys = 0, expires = 0;
    for (int j = 0; j < nfrags; j++) {
        const char *t;
        size_t tl;
        if (info_text(&replies[j], &t, &tl) < 0) continue;
        /* sscanf needs a NUL: copy the text (a keyspace section is short) */
        char *s = xmemdup(t, tl);
        s = xrealloc(s, tl + 1);
        s[tl] = '\0';
        const char *db = strstr(s, "\ndb0:");
        if (!db && strncmp(s, "db0:", 4) == 0) db = s - 1;
        unsigned long long k, e;
        if (db && sscanf(db + 1, "db0:keys=%llu,expires=%llu", &k, &e) == 2) {
            keys += k;
            expires += e;
        }
        free(s);
    }
    buf b;
    buf_init(&b);
    if (textlen) {
        buf_append(&b, text, textlen);
        buf_append_str(&b, "\r\n");
    }
    buf_append_str(&b, "# Keyspace\r\n");
    if (keys) buf_printf(&b, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", keys, expires);
    resp_add_verbatim(out, proto, b.data, b.len);
    buf_free(&b);
}

void merge_sum(buf *out, const buf *replies, int nfrags)
{
    struct reply_hdr *hs = xcalloc((size_t)nfrags, sizeof *hs);
    if (headers_all(out, replies, nfrags, hs) == 0) {
        long long sum = 0;
        int ok = 1;
        for (int j = 0; j < nfrags; j++) {
            if (hs[j].type != REPLY_INTEGER) ok = 0;
            else sum += hs[j].n;
        }
        if (ok) resp_add_int(out, sum);
        else resp_add_error(out, err_type);
    }
    free(hs);
}

void merge_all_ok(buf *out, const buf *replies, int nfrags)
{
    struct reply_hdr *hs = xcalloc((size_t)nfrags, sizeof *hs);
    if (headers_all(out, replies, nfrags, hs) == 0) resp_add_ok(out);
    free(hs);
}

void merge_concat(buf *out, const buf *replies, int nfrags)
{
    struct reply_hdr *hs = xcalloc((size_t)nfrags, sizeof *hs);
    if (headers_all(out, replies, nfrags, hs) == 0) {
        long long total = 0;
        int ok = 1;
        for (int j = 0; j < nfrags; j++) {
            if (!is_array(&hs[j])) ok = 0;
            else total += hs[j].n;
        }
        if (!ok) {
            resp_add_error(out, err_type);
        } else {
            resp_add_array(out, total);
            for (int j = 0; j < nfrags; j++)
                buf_append(out, replies[j].data + hs[j].hdrlen, replies[j].len - hs[j].hdrlen);
            /* (each reply was framed whole by its link, so its elements
             * are exactly the bytes after its header) */
        }
    }
    free(hs);
}

void merge_random(buf *out, int proto, const buf *replies, int nfrags, unsigned rnd)
{
    struct reply_hdr *hs = xcalloc((size_t)nfrags, sizeof *hs);
    if (headers_all(out, replies, nfrags, hs) == 0) {
        int *cand = xmalloc(sizeof *cand * (size_t)(nfrags > 0 ? nfrags : 1)), n = 0;
        for (int j = 0; j < nfrags; j++)
            if (hs[j].type == REPLY_STRING) cand[n++] = j;
        if (n == 0) resp_add_null(out, proto);
        else buf_append(out, replies[cand[rnd % (unsigned)n]].data, replies[cand[rnd % (unsigned)n]].len);
        free(cand);
    }
    free(hs);
}

int merge_scan_decode(const char *s, size_t len, int ngroups, int *group,
                      unsigned long long *cursor)
{
    unsigned long long c;
    if (ngroups <= 0 || str2ull(s, len, &c) < 0) return -1;
    *group = (int)(c % (unsigned long long)ngroups);
    *cursor = c / (unsigned long long)ngroups;
    return 0;
}

void merge_scan(buf *out, const buf *reply, int group, int ngroups)
{
    struct reply_hdr h, ch, kh;
    if (headers_all(out, reply, 1, &h) < 0) return;
    struct reply_iter it;
    const char *cur, *keys;
    size_t curlen, keyslen;
    unsigned long long bc;
    reply_iter_init(&it, reply->data, reply->len, &h);
    if (h.type != REPLY_ARRAY || h.n != 2 || next_elem(&it, &cur, &curlen) <= 0 ||
        next_elem(&it, &keys, &keyslen) <= 0 || reply_header(cur, curlen, &ch) < 0 ||
        ch.type != REPLY_STRING || str2ull(ch.str, ch.len, &bc) < 0 ||
        reply_header(keys, keyslen, &kh) < 0 || !is_array(&kh)) {
        resp_add_error(out, err_type);
        return;
    }
    unsigned long long next;
    if (bc != 0) {
        if (bc > (ULLONG_MAX - (unsigned long long)group) / (unsigned long long)ngroups) {
            /* The backend's cursor does not fit once the group is folded in. */
            resp_add_error(out, "ERR backend cursor too large for the proxy");
            return;
        }
        next = bc * (unsigned long long)ngroups + (unsigned long long)group;
    } else {
        next = group + 1 < ngroups ? (unsigned long long)(group + 1) : 0;
    }
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", next);
    resp_add_array(out, 2);
    resp_add_bulk(out, tmp, (size_t)n);
    buf_append(out, keys, keyslen);
}

void merge_first_string(const char *raw, size_t len, char *out, size_t outsize)
{
    struct reply_hdr h, eh;
    struct reply_iter it;
    const char *e;
    size_t elen;
    out[0] = '\0';
    if (reply_span(raw, len) == 0 || reply_header(raw, len, &h) < 0 || h.type != REPLY_ARRAY)
        return;
    reply_iter_init(&it, raw, len, &h);
    if (h.n > 0 && reply_next(&it, &e, &elen) == 0 && reply_header(e, elen, &eh) == 0 &&
        eh.type == REPLY_STRING)
        snprintf(out, outsize, "%.*s", (int)eh.len, eh.str);
}

/* ---- scripting (SCRIPT and FUNCTION broadcasts) ---- */

static int same_bytes(const buf *a, const buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

void merge_same(buf *out, const buf *replies, int nfrags)
{
    struct reply_hdr *hs = xcalloc((size_t)nfrags, sizeof *hs);
    if (headers_all(out, replies, nfrags, hs) == 0) {
        int same = 1;
        for (int j = 1; j < nfrags; j++) same = same && same_bytes(&replies[0], &replies[j]);
        if (same) buf_append(out, replies[0].data, replies[0].len);
        else resp_add_error(out, "ERR strata-proxy: the groups returned different replies");
    }
    free(hs);
}

/* A short printable summary of a reply for the divergence error: the
 * payload of a scalar (errors without their '-'), else its type. */
static void reply_summary(char *dst, size_t size, const buf *r)
{
    struct reply_hdr h;
    if (r->len == 0 || reply_header(r->data, r->len, &h) < 0) {
        snprintf(dst, size, "(no reply)");
        return;
    }
    if (h.str && h.type != REPLY_ARRAY && h.type != REPLY_MAP && h.type != REPLY_SET) {
        size_t n = h.len > 80 ? 80 : h.len;
        snprintf(dst, size, "'%.*s'", (int)n, h.str);
        for (char *p = dst; *p; p++)
            if (*p == '\r' || *p == '\n') *p = ' ';
        return;
    }
    snprintf(dst, size, "(an aggregate of %lld)", h.n);
}

int merge_identical(buf *out, const buf *replies, int nfrags, const char *what,
                    const char *const *names, char *diverged, size_t dsize)
{
    int same = 1;
    for (int j = 1; j < nfrags; j++) same = same && same_bytes(&replies[0], &replies[j]);
    if (same && nfrags > 0 && replies[0].len) {
        buf_append(out, replies[0].data, replies[0].len);
        return 0;
    }
    /* Name every group with its reply, for the client and the log. */
    size_t off = 0;
    diverged[0] = '\0';
    for (int j = 0; j < nfrags && off + 1 < dsize; j++) {
        char s[128];
        reply_summary(s, sizeof s, &replies[j]);
        int n = snprintf(diverged + off, dsize - off, "%s%s replied %s", j ? ", " : "",
                         names[j], s);
        if (n < 0) break;
        off += (size_t)n;
        if (off >= dsize) off = dsize - 1;
    }
    char e[600];
    snprintf(e, sizeof e, "ERR strata-proxy: %s diverged across groups: %s", what, diverged);
    resp_add_error(out, e);
    return -1;
}

void merge_exists_and(buf *out, const buf *replies, int nfrags)
{
    struct reply_hdr *hs = xcalloc((size_t)nfrags, sizeof *hs);
    struct reply_iter *its = xcalloc((size_t)nfrags, sizeof *its);
    if (headers_all(out, replies, nfrags, hs) < 0) goto done;
    for (int j = 0; j < nfrags; j++) {
        if (!is_array(&hs[j]) || hs[j].n != hs[0].n) {
            resp_add_error(out, err_type);
            goto done;
        }
        reply_iter_init(&its[j], replies[j].data, replies[j].len, &hs[j]);
    }
    size_t start = out->len;
    resp_add_array(out, hs[0].n);
    for (long long k = 0; k < hs[0].n; k++) {
        int all = 1;
        for (int j = 0; j < nfrags; j++) {
            const char *e;
            size_t elen;
            struct reply_hdr eh;
            if (next_elem(&its[j], &e, &elen) <= 0 || reply_header(e, elen, &eh) < 0 ||
                eh.type != REPLY_INTEGER) {
                out->len = start;
                resp_add_error(out, err_malformed);
                goto done;
            }
            if (eh.n == 0) all = 0;
        }
        resp_add_int(out, all);
    }
done:
    free(hs);
    free(its);
}

static int error_is(const buf *r, const char *code)
{
    size_t n = strlen(code);
    return r->len > n + 1 && r->data[0] == '-' && memcmp(r->data + 1, code, n) == 0 &&
           (r->data[n + 1] == ' ' || r->data[n + 1] == '\r');
}

void merge_kill(buf *out, const buf *replies, int nfrags)
{
    int unkillable = -1, notbusy = -1, other = -1;
    for (int j = 0; j < nfrags; j++) {
        const buf *r = &replies[j];
        if (r->len >= 3 && r->data[0] == '+') {
            resp_add_ok(out);   /* one group was running the script: killed */
            return;
        }
        if (error_is(r, "UNKILLABLE")) {
            if (unkillable < 0) unkillable = j;
        } else if (error_is(r, "NOTBUSY")) {
            if (notbusy < 0) notbusy = j;
        } else if (other < 0) {
            other = j;
        }
    }
    int j = unkillable >= 0 ? unkillable : notbusy >= 0 ? notbusy : other;
    if (j >= 0 && replies[j].len) buf_append(out, replies[j].data, replies[j].len);
    else resp_add_error(out, err_malformed);
}
