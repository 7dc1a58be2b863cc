/* merge: split requests and merged replies.  See merge.h. */
#include "merge.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

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

/* Parse one raw reply into hiredis objects.  Returns NULL when the bytes
 * are not one complete reply (which a backend link never delivers, but a
 * merge must not crash on).  The caller frees with freeReplyObject. */
static redisReply *parse_reply(const buf *b)
{
    redisReader *r = redisReaderCreate();
    void *rep = NULL;
    if (redisReaderFeed(r, b->data, b->len) != REDIS_OK ||
        redisReaderGetReply(r, &rep) != REDIS_OK)
        rep = NULL;
    redisReaderFree(r);
    return rep;
}

/* Write a parsed reply back as RESP2. */
static void emit(buf *out, const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
        resp_add_bulk(out, r->str, r->len);
        break;
    case REDIS_REPLY_STATUS:
        buf_append_char(out, '+');
        buf_append(out, r->str, r->len);
        buf_append(out, "\r\n", 2);
        break;
    case REDIS_REPLY_ERROR:
        buf_append_char(out, '-');
        buf_append(out, r->str, r->len);
        buf_append(out, "\r\n", 2);
        break;
    case REDIS_REPLY_INTEGER:
        resp_add_int(out, r->integer);
        break;
    case REDIS_REPLY_NIL:
        resp_add_null(out, RESP2);
        break;
    case REDIS_REPLY_ARRAY:
        resp_add_array(out, (long long)r->elements);
        for (size_t i = 0; i < r->elements; i++) emit(out, r->element[i]);
        break;
    default:
        resp_add_null(out, RESP2);
        break;
    }
}

/* Parse every fragment's reply.  If one is missing or an error, append
 * the error to out, free everything and return -1. */
static int parse_all(buf *out, const buf *replies, int n, redisReply **reps)
{
    int bad = -1;
    for (int i = 0; i < n; i++) {
        reps[i] = parse_reply(&replies[i]);
        if (bad < 0 && (!reps[i] || reps[i]->type == REDIS_REPLY_ERROR)) bad = i;
    }
    if (bad < 0) return 0;
    if (reps[bad]) emit(out, reps[bad]);
    else resp_add_error(out, "ERR malformed reply from backend");
    for (int i = 0; i < n; i++)
        if (reps[i]) freeReplyObject(reps[i]);
    return -1;
}

static void free_all(redisReply **reps, int n)
{
    for (int i = 0; i < n; i++)
        if (reps[i]) freeReplyObject(reps[i]);
}

/* Fast path for MGET: every reply is "*N" followed by N bulk strings or
 * nils, so the elements can be located and copied as raw bytes without
 * building objects.  Fills starts/ends (n each) and returns 0, or -1 when
 * the reply has another shape (the caller then takes the general path). */
static int scan_bulks(const buf *b, size_t *offs, size_t *ends, size_t n)
{
    const char *p = b->data, *end = b->data + b->len;
    long long cnt;
    const char *cr;
    if (b->len < 4 || p[0] != '*' || !(cr = memchr(p, '\r', b->len)) ||
        str2ll(p + 1, (size_t)(cr - p - 1), &cnt) < 0 || cnt != (long long)n)
        return -1;
    p = cr + 2;
    for (size_t i = 0; i < n; i++) {
        if (p >= end || *p != '$') return -1;
        cr = memchr(p, '\r', (size_t)(end - p));
        long long bl;
        if (!cr || str2ll(p + 1, (size_t)(cr - p - 1), &bl) < 0) return -1;
        offs[i] = (size_t)(p - b->data);
        p = cr + 2;
        if (bl >= 0) p += bl + 2;
        if (p > end) return -1;
        ends[i] = (size_t)(p - b->data);
    }
    return 0;
}

static int merge_mget_raw(buf *out, const buf *replies, int nfrags, const int *keyfrag, int nkeys)
{
    size_t *cnt = xcalloc((size_t)nfrags, sizeof *cnt);
    for (int k = 0; k < nkeys; k++) cnt[keyfrag[k]]++;
    size_t **offs = xcalloc((size_t)nfrags, sizeof *offs), **ends = xcalloc((size_t)nfrags, sizeof *ends);
    int rc = 0;
    for (int j = 0; j < nfrags && rc == 0; j++) {
        offs[j] = xmalloc(sizeof **offs * (cnt[j] ? cnt[j] : 1));
        ends[j] = xmalloc(sizeof **ends * (cnt[j] ? cnt[j] : 1));
        rc = scan_bulks(&replies[j], offs[j], ends[j], cnt[j]);
    }
    if (rc == 0) {
        size_t total = 0;
        for (int j = 0; j < nfrags; j++) total += replies[j].len;
        buf_reserve(out, total + 32);
        resp_add_array(out, nkeys);
        memset(cnt, 0, sizeof *cnt * (size_t)nfrags);
        for (int k = 0; k < nkeys; k++) {
            int j = keyfrag[k];
            size_t i = cnt[j]++;
            buf_append(out, replies[j].data + offs[j][i], ends[j][i] - offs[j][i]);
        }
    }
    for (int j = 0; j < nfrags; j++) {
        free(offs[j]);
        free(ends[j]);
    }
    free(offs);
    free(ends);
    free(cnt);
    return rc;
}

void merge_mget(buf *out, const buf *replies, int nfrags, const int *keyfrag, int nkeys)
{
    if (merge_mget_raw(out, replies, nfrags, keyfrag, nkeys) == 0) return;

    redisReply **reps = xcalloc((size_t)nfrags, sizeof *reps);
    size_t *pos = xcalloc((size_t)nfrags, sizeof *pos);
    if (parse_all(out, replies, nfrags, reps) < 0) goto done;
    for (int j = 0; j < nfrags; j++) {
        if (reps[j]->type != REDIS_REPLY_ARRAY) {
            resp_add_error(out, "ERR unexpected reply type from backend");
            goto freed;
        }
    }
    resp_add_array(out, nkeys);
    for (int k = 0; k < nkeys; k++) {
        redisReply *a = reps[keyfrag[k]];
        if (pos[keyfrag[k]] < a->elements) emit(out, a->element[pos[keyfrag[k]]++]);
        else resp_add_null(out, RESP2);
    }
freed:
    free_all(reps, nfrags);
done:
    free(pos);
    free(reps);
}

/* INFO through the proxy: its own sections (text), then one Keyspace
 * section summing the groups' "db0:keys=..,expires=.." lines.  A group
 * that did not answer with its INFO text (down, timed out) is left out
 * rather than failing the whole INFO, which operators need most when a
 * group is in trouble; INFO groups says which one is down. */
void merge_info(buf *out, const char *text, size_t textlen, const buf *replies, int nfrags)
{
    unsigned long long keys = 0, expires = 0;
    for (int j = 0; j < nfrags; j++) {
        redisReply *r = parse_reply(&replies[j]);
        if (!r) continue;
        if (r->type == REDIS_REPLY_STRING) {
            const char *db = strstr(r->str, "\ndb0:");
            unsigned long long k, e;
            if (db && sscanf(db + 1, "db0:keys=%llu,expires=%llu", &k, &e) == 2) {
                keys += k;
                expires += e;
            }
        }
        freeReplyObject(r);
    }
    buf b;
    buf_init(&b);
    if (textlen) {
        buf_append(&b, text, textlen);
        buf_append_str(&b, "\r\n");
    }
    buf_append_str(&b, "# Keyspace\r\n");
    if (keys) buf_printf(&b, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", keys, expires);
    resp_add_bulk(out, b.data, b.len);
    buf_free(&b);
}

void merge_sum(buf *out, const buf *replies, int nfrags)
{
    redisReply **reps = xcalloc((size_t)nfrags, sizeof *reps);
    if (parse_all(out, replies, nfrags, reps) == 0) {
        long long sum = 0;
        int ok = 1;
        for (int j = 0; j < nfrags; j++) {
            if (reps[j]->type != REDIS_REPLY_INTEGER) ok = 0;
            else sum += reps[j]->integer;
        }
        if (ok) resp_add_int(out, sum);
        else resp_add_error(out, "ERR unexpected reply type from backend");
        free_all(reps, nfrags);
    }
    free(reps);
}

void merge_all_ok(buf *out, const buf *replies, int nfrags)
{
    redisReply **reps = xcalloc((size_t)nfrags, sizeof *reps);
    if (parse_all(out, replies, nfrags, reps) == 0) {
        resp_add_ok(out);
        free_all(reps, nfrags);
    }
    free(reps);
}

void merge_concat(buf *out, const buf *replies, int nfrags)
{
    redisReply **reps = xcalloc((size_t)nfrags, sizeof *reps);
    if (parse_all(out, replies, nfrags, reps) == 0) {
        size_t total = 0;
        int ok = 1;
        for (int j = 0; j < nfrags; j++) {
            if (reps[j]->type != REDIS_REPLY_ARRAY) ok = 0;
            else total += reps[j]->elements;
        }
        if (!ok) {
            resp_add_error(out, "ERR unexpected reply type from backend");
        } else {
            resp_add_array(out, (long long)total);
            for (int j = 0; j < nfrags; j++)
                for (size_t i = 0; i < reps[j]->elements; i++) emit(out, reps[j]->element[i]);
        }
        free_all(reps, nfrags);
    }
    free(reps);
}

void merge_random(buf *out, const buf *replies, int nfrags, unsigned rnd)
{
    redisReply **reps = xcalloc((size_t)nfrags, sizeof *reps);
    if (parse_all(out, replies, nfrags, reps) == 0) {
        int cand[nfrags > 0 ? nfrags : 1], n = 0;
        for (int j = 0; j < nfrags; j++)
            if (reps[j]->type == REDIS_REPLY_STRING) cand[n++] = j;
        if (n == 0) resp_add_null(out, RESP2);
        else emit(out, reps[cand[rnd % (unsigned)n]]);
        free_all(reps, nfrags);
    }
    free(reps);
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
    redisReply *r = parse_reply(reply);
    if (!r) {
        resp_add_error(out, "ERR malformed reply from backend");
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        emit(out, r);
        freeReplyObject(r);
        return;
    }
    unsigned long long bc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        str2ull(r->element[0]->str, r->element[0]->len, &bc) < 0 ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        resp_add_error(out, "ERR unexpected reply type from backend");
        freeReplyObject(r);
        return;
    }
    unsigned long long next;
    if (bc != 0) {
        if (bc > (ULLONG_MAX - (unsigned long long)group) / (unsigned long long)ngroups) {
            /* The backend's cursor does not fit once the group is folded in. */
            resp_add_error(out, "ERR backend cursor too large for the proxy");
            freeReplyObject(r);
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
    emit(out, r->element[1]);
    freeReplyObject(r);
}

void merge_first_string(const char *raw, size_t len, char *out, size_t outsize)
{
    buf b = { (char *)raw, len, len };
    out[0] = '\0';
    redisReply *r = parse_reply(&b);
    if (!r) return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_STRING)
        snprintf(out, outsize, "%.*s", (int)r->element[0]->len, r->element[0]->str);
    freeReplyObject(r);
}
