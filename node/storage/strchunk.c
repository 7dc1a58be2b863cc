/* strchunk: chunked big strings.  See strchunk.h. */
#include "strchunk.h"

#include <string.h>

#include "server.h"
#include "store.h"
#include "strstream.h"
#include "util.h"

void enc_chunk_key(buf *out, uint64_t version, uint64_t idx)
{
    unsigned char b[8];
    enc_data_prefix(out, version);
    put_u64be(b, idx);
    buf_append(out, b, 8);
}

int strchunk_read(const struct meta *m, size_t off, size_t len, char *out)
{
    if (len == 0) return 0; /* out may be NULL then (an empty buffer) */
    if (!m->chunked) {
        memcpy(out, m->sval + off, len);
        return 0;
    }
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    int rc = 0;
    while (len > 0) {
        uint64_t idx = off / STR_CHUNK_SIZE;
        size_t in = off % STR_CHUNK_SIZE;
        size_t n = STR_CHUNK_SIZE - in < len ? STR_CHUNK_SIZE - in : len;
        enc_chunk_key(&k, m->version, idx);
        int r = store_get(srv.st, k.data, k.len, &v);
        if (r < 0) {
            rc = -1;
            break;
        }
        size_t have = r == 1 && v.len > in ? v.len - in : 0;
        if (have > n) have = n;
        if (have) memcpy(out, v.data + in, have);
        if (have < n) memset(out + have, 0, n - have);
        out += n;
        off += n;
        len -= n;
    }
    buf_free(&k);
    buf_free(&v);
    return rc;
}

int strchunk_load(const struct meta *m, buf *out)
{
    buf_reserve(out, m->slen);
    if (strchunk_read(m, 0, m->slen, out->data + out->len) < 0) return -1;
    out->len += m->slen;
    return 0;
}

static int all_zero(const char *p, size_t n)
{
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if (w) return 0;
        p += 8;
        n -= 8;
    }
    while (n--)
        if (*p++) return 0;
    return 1;
}

int strchunk_write(const struct meta *m, size_t off, const char *data, size_t len, int fresh)
{
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    int rc = 0;
    while (len > 0) {
        uint64_t idx = off / STR_CHUNK_SIZE;
        size_t in = off % STR_CHUNK_SIZE;
        size_t n = STR_CHUNK_SIZE - in < len ? STR_CHUNK_SIZE - in : len;
        enc_chunk_key(&k, m->version, idx);
        int r = 0;
        buf_clear(&v);
        if (!fresh && !(in == 0 && n == STR_CHUNK_SIZE)) {
            r = store_get(srv.st, k.data, k.len, &v);
            if (r < 0) {
                rc = -1;
                break;
            }
        }
        if (r == 0 && all_zero(data, n)) {
            /* absent chunk: already reads as zeros */
        } else if (r == 0 && in == 0) {
            store_put(srv.st, k.data, k.len, data, n);
        } else {
            if (v.len < in + n) {
                buf_reserve(&v, in + n - v.len);
                memset(v.data + v.len, 0, in + n - v.len);
                v.len = in + n;
            }
            memcpy(v.data + in, data, n);
            store_put(srv.st, k.data, k.len, v.data, v.len);
        }
        data += n;
        off += n;
        len -= n;
    }
    buf_free(&k);
    buf_free(&v);
    return rc;
}

void strchunk_copy_chunks(uint64_t from, uint64_t to)
{
    buf p, k;
    buf_init(&p);
    buf_init(&k);
    enc_data_prefix(&p, from);
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, p.data, p.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *key = store_iter_key(it, &kl);
        if (kl != SUBKEY_PREFIX + 8 || memcmp(key, p.data, p.len) != 0) break;
        const char *val = store_iter_val(it, &vl);
        enc_chunk_key(&k, to, get_u64be((const unsigned char *)key + SUBKEY_PREFIX));
        store_put(srv.st, k.data, k.len, val, vl);
    }
    store_iter_free(it);
    buf_free(&p);
    buf_free(&k);
}

void strchunk_convert(const char *key, size_t klen, struct meta *m)
{
    buf old;
    buf_init(&old);
    int live = m->type == T_STRING;
    uint64_t expire = live ? m->expire : 0;
    if (live) buf_append(&old, m->sval, m->slen);
    db_new_chunked(key, klen, m, expire);
    if (old.len) strchunk_write(m, 0, old.data, old.len, 1);
    m->count = m->slen = old.len;
    buf_free(&old);
}

int strchunk_write_at(const char *key, size_t klen, struct meta *m, size_t off,
                      const char *data, size_t len)
{
    int live = m->type == T_STRING;
    size_t olen = live ? m->slen : 0;
    size_t nlen = off + len > olen ? off + len : olen;
    if (!(live && m->chunked) && nlen <= STR_INLINE_MAX) {
        buf v;
        buf_init(&v);
        buf_reserve(&v, nlen ? nlen : 1);
        if (olen) memcpy(v.data, m->sval, olen);
        if (off > olen) memset(v.data + olen, 0, off - olen);
        if (len && data) memcpy(v.data + off, data, len);
        else if (len) memset(v.data + off, 0, len);
        v.len = nlen;
        db_set_string(key, klen, v.data, v.len, live ? m->expire : 0, m);
        buf_free(&v);
        return 0;
    }
    uint64_t prev_expire = m->expire;
    if (!(live && m->chunked)) {
        strchunk_convert(key, klen, m);
        prev_expire = 0;
    } else if (strstream_pinned(m->version)) {
        /* a reply still streams this version: write a copy instead */
        uint64_t from = m->version;
        db_new_chunked(key, klen, m, m->expire);
        strchunk_copy_chunks(from, m->version);
        m->count = m->slen = olen;
        prev_expire = 0;
    }
    if (data && strchunk_write(m, off, data, len, 0) < 0) return -1;
    m->count = m->slen = nlen;
    db_write_meta(key, klen, m, prev_expire);
    return 0;
}

int strchunk_scan(const struct meta *m, size_t off, size_t len, strchunk_fn fn, void *arg)
{
    if (len == 0) return 0;
    if (!m->chunked) return fn(arg, off, (const unsigned char *)m->sval + off, len);
    buf k;
    buf_init(&k);
    enc_chunk_key(&k, m->version, off / STR_CHUNK_SIZE);
    store_iter *it = store_iter_new(srv.st);
    store_iter_seek(it, k.data, k.len);
    size_t pos = off, end = off + len;
    int rc = 0;
    while (pos < end && rc == 0) {
        size_t kl, vl;
        const char *key = store_iter_valid(it) ? store_iter_key(it, &kl) : NULL;
        if (!key || kl != SUBKEY_PREFIX + 8 || memcmp(key, k.data, SUBKEY_PREFIX) != 0) {
            rc = fn(arg, pos, NULL, end - pos);
            break;
        }
        size_t cstart = (size_t)get_u64be((const unsigned char *)key + SUBKEY_PREFIX) * STR_CHUNK_SIZE;
        if (cstart >= end) {
            rc = fn(arg, pos, NULL, end - pos);
            break;
        }
        if (cstart > pos) {
            rc = fn(arg, pos, NULL, cstart - pos);
            pos = cstart;
            continue;
        }
        const unsigned char *val = (const unsigned char *)store_iter_val(it, &vl);
        size_t dend = cstart + vl < end ? cstart + vl : end;
        size_t cend = cstart + STR_CHUNK_SIZE < end ? cstart + STR_CHUNK_SIZE : end;
        if (pos < dend) {
            rc = fn(arg, pos, val + (pos - cstart), dend - pos);
            pos = dend;
        }
        if (rc == 0 && pos < cend) {
            rc = fn(arg, pos, NULL, cend - pos);
            pos = cend;
        }
        store_iter_next(it);
    }
    store_iter_free(it);
    buf_free(&k);
    return rc;
}
