/* wal: the replication log.  See wal.h for the key and record layouts.
 *
 * The position record ("RWP") is rewritten in the same pending batch as
 * every record, so after a crash the position and the log agree with the
 * data: all three come from one LevelDB write.  The overlay keeps one copy
 * of "RWP" per batch, so this costs one extra key per group commit, not
 * one per command. */
#include "wal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static store *st;
static struct wal_pos pos;
static uint64_t committed;              /* newest record known committed */
static unsigned long long seen_commit_errors;
static buf scratch;                     /* the record being built */
static buf live;                        /* framed records since the last clear */
static uint64_t live_prev, live_last;
static struct wal_stats stats;

void wal_key(unsigned char out[WAL_KEY_LEN], uint64_t lsn)
{
    out[0] = 'R';
    out[1] = 'W';
    out[2] = 'L';
    put_u64be(out + 3, lsn);
}

int wal_is_log_key(const char *k, size_t kl)
{
    return kl == WAL_KEY_LEN && memcmp(k, "RWL", 3) == 0;
}

void wal_pos_encode(const struct wal_pos *p, unsigned char out[WAL_POS_LEN])
{
    put_u64be(out, p->epoch);
    put_u64be(out + 8, p->last_epoch);
    put_u64be(out + 16, p->last_lsn);
    put_u32be(out + 24, p->last_crc);
    put_u64be(out + 28, p->first_lsn);
    put_u64be(out + 36, p->log_bytes);
}

int wal_pos_decode(const char *v, size_t len, struct wal_pos *p)
{
    const unsigned char *u = (const unsigned char *)v;
    if (len != WAL_POS_LEN) return -1;
    p->epoch = get_u64be(u);
    p->last_epoch = get_u64be(u + 8);
    p->last_lsn = get_u64be(u + 16);
    p->last_crc = get_u32be(u + 24);
    p->first_lsn = get_u64be(u + 28);
    p->log_bytes = get_u64be(u + 36);
    return 0;
}

static void write_pos(void)
{
    unsigned char v[WAL_POS_LEN];
    wal_pos_encode(&pos, v);
    store_put_raw(st, WAL_POS_KEY, sizeof WAL_POS_KEY - 1, (const char *)v, sizeof v);
}

/* Reads "RWP" through the overlay.  0 (found or fresh node), -1 on error. */
static int load_pos(void)
{
    buf v;
    buf_init(&v);
    int r = store_get(st, WAL_POS_KEY, sizeof WAL_POS_KEY - 1, &v);
    if (r < 0) {
        buf_free(&v);
        return -1;
    }
    if (r == 0 || wal_pos_decode(v.data, v.len, &pos) < 0) {
        if (r == 1) log_warn("replication position record is malformed (%zu bytes): starting a new log", v.len);
        memset(&pos, 0, sizeof pos);
        pos.epoch = 1;
        pos.first_lsn = 1;
    }
    buf_free(&v);
    return 0;
}

int wal_open(store *s)
{
    st = s;
    if (load_pos() < 0) return -1;
    committed = pos.last_lsn;
    seen_commit_errors = store_get_stats(st)->commit_errors;
    wal_live_clear();
    return 0;
}

const struct wal_pos *wal_position(void)
{
    return &pos;
}

uint64_t wal_committed_lsn(void)
{
    return committed;
}

static void live_add(const char *rec, size_t len, uint64_t lsn)
{
    if (live.len == 0) live_prev = lsn - 1;
    buf_printf(&live, "$%zu\r\n", len);
    buf_append(&live, rec, len);
    buf_append(&live, "\r\n", 2);
    live_last = lsn;
}

/* live: 1 to frame the record for streaming (a master's own records; a
 * replica has no replicas of its own, so it skips the copy). */
static void store_record(const char *rec, size_t len, uint64_t epoch, uint64_t lsn, uint32_t crc, int live)
{
    unsigned char k[WAL_KEY_LEN];
    wal_key(k, lsn);
    store_put_raw(st, (const char *)k, sizeof k, rec, len);
    if (pos.first_lsn > pos.last_lsn) pos.first_lsn = lsn; /* the log was empty */
    pos.last_epoch = epoch;
    pos.last_lsn = lsn;
    pos.last_crc = crc;
    if (epoch > pos.epoch) pos.epoch = epoch;
    pos.log_bytes += len + WAL_KEY_LEN;
    write_pos();
    if (live) live_add(rec, len, lsn);
}

uint64_t wal_append(const char *ops, size_t oplen, uint64_t time_ms)
{
    uint64_t lsn = pos.last_lsn + 1;
    unsigned char h[WAL_REC_HDR];
    h[0] = 'W';
    put_u64be(h + 1, pos.epoch);
    put_u64be(h + 9, lsn);
    put_u64be(h + 17, time_ms);
    put_u32be(h + 25, (uint32_t)oplen);
    uint32_t crc = crc32c(0, h, 29);
    crc = crc32c(crc, ops, oplen);
    put_u32be(h + 29, crc);
    buf_clear(&scratch);
    buf_append(&scratch, h, sizeof h);
    buf_append(&scratch, ops, oplen);
    store_record(scratch.data, scratch.len, pos.epoch, lsn, crc, 1);
    stats.appended++;
    if (scratch.cap > (4u << 20)) buf_shrink(&scratch, 0);
    return lsn;
}

int wal_parse(const char *rec, size_t len, struct wal_rec *out)
{
    const unsigned char *u = (const unsigned char *)rec;
    if (len < WAL_REC_HDR || u[0] != 'W') return -1;
    uint32_t oplen = get_u32be(u + 25);
    if ((size_t)oplen != len - WAL_REC_HDR) return -1;
    out->epoch = get_u64be(u + 1);
    out->lsn = get_u64be(u + 9);
    out->time_ms = get_u64be(u + 17);
    out->crc = get_u32be(u + 29);
    out->ops = rec + WAL_REC_HDR;
    out->oplen = oplen;
    uint32_t crc = crc32c(0, u, 29);
    crc = crc32c(crc, out->ops, out->oplen);
    return crc == out->crc ? 0 : -2;
}

uint32_t wal_rec_crc(const char *rec, size_t len)
{
    return len >= WAL_REC_HDR ? get_u32be((const unsigned char *)rec + 29) : 0;
}

long wal_ops_check(const char *ops, size_t len)
{
    const unsigned char *u = (const unsigned char *)ops;
    size_t i = 0;
    long n = 0;
    while (i < len) {
        unsigned char op = u[i];
        if ((op != 'P' && op != 'D') || len - i < 5) return -1;
        size_t kl = get_u32be(u + i + 1);
        i += 5;
        if (len - i < kl) return -1;
        i += kl;
        if (op == 'P') {
            if (len - i < 4) return -1;
            size_t vl = get_u32be(u + i);
            i += 4;
            if (len - i < vl) return -1;
            i += vl;
        }
        n++;
    }
    return n;
}

/* ops must have passed wal_ops_check. */
static void ops_apply(const char *ops, size_t len)
{
    const unsigned char *u = (const unsigned char *)ops;
    size_t i = 0;
    while (i < len) {
        unsigned char op = u[i];
        size_t kl = get_u32be(u + i + 1);
        const char *k = ops + i + 5;
        i += 5 + kl;
        if (op == 'P') {
            size_t vl = get_u32be(u + i);
            store_put_raw(st, k, kl, ops + i + 4, vl);
            i += 4 + vl;
        } else {
            store_del_raw(st, k, kl);
        }
    }
}

int wal_apply(const char *rec, size_t len, struct wal_rec *out, const char **why)
{
    struct wal_rec r;
    int pr = wal_parse(rec, len, &r);
    if (pr == -1) {
        *why = "malformed record";
        return -1;
    }
    if (pr == -2) {
        *why = "checksum mismatch";
        return -1;
    }
    if (wal_ops_check(r.ops, r.oplen) < 0) {
        *why = "malformed operations";
        return -1;
    }
    if (r.lsn != pos.last_lsn + 1 || r.epoch < pos.last_epoch) {
        *why = "record does not follow the newest record held";
        return -2;
    }
    ops_apply(r.ops, r.oplen);
    store_record(rec, len, r.epoch, r.lsn, r.crc, 0);
    stats.applied++;
    *out = r;
    return 0;
}

/* Drop the framed records after `keep` from the live buffer. */
static void live_cut(uint64_t keep)
{
    size_t off = 0;
    while (off < live.len) {
        const char *p = live.data + off + 1;
        char *end;
        size_t n = strtoull(p, &end, 10);
        size_t hdr = (size_t)(end - (live.data + off)) + 2;
        uint64_t lsn = get_u64be((const unsigned char *)live.data + off + hdr + 9);
        if (lsn > keep) break;
        live_last = lsn;
        off += hdr + n + 2;
    }
    live.len = off;
}

uint64_t wal_publish(void)
{
    unsigned long long errs = store_get_stats(st)->commit_errors;
    if (errs != seen_commit_errors) {
        /* A commit failed: the batch, its records and its "RWP" are gone.
         * LevelDB holds the truth again; the overlay was emptied. */
        seen_commit_errors = errs;
        if (load_pos() < 0) log_error("cannot reload the replication position after a failed commit");
        log_warn("a commit failed: replication log back at lsn %llu", (unsigned long long)pos.last_lsn);
        live_cut(pos.last_lsn);
    }
    committed = pos.last_lsn;
    return committed;
}

const buf *wal_live(uint64_t *prev, uint64_t *last)
{
    *prev = live_prev;
    *last = live.len ? live_last : live_prev;
    return &live;
}

void wal_live_clear(void)
{
    live.len = 0;
    live_prev = live_last = pos.last_lsn;
    if (live.cap > (8u << 20)) buf_shrink(&live, 0);
}

int wal_read(uint64_t lsn, buf *rec)
{
    if (lsn < pos.first_lsn || lsn > pos.last_lsn) return 0;
    unsigned char k[WAL_KEY_LEN];
    wal_key(k, lsn);
    return store_get(st, (const char *)k, sizeof k, rec);
}

uint64_t wal_new_epoch(void)
{
    uint64_t e = pos.epoch > pos.last_epoch ? pos.epoch : pos.last_epoch;
    pos.epoch = e + 1;
    write_pos();
    return pos.epoch;
}

void wal_reset(uint64_t epoch, uint64_t last_epoch, uint64_t last_lsn, uint32_t last_crc)
{
    pos.epoch = epoch > last_epoch ? epoch : last_epoch;
    pos.last_epoch = last_epoch;
    pos.last_lsn = last_lsn;
    pos.last_crc = last_crc;
    pos.first_lsn = last_lsn + 1;
    pos.log_bytes = 0;
    write_pos();
    committed = last_lsn;
    wal_live_clear();
}

uint64_t wal_hard_bound(long long retention_bytes)
{
    uint64_t b = (uint64_t)(retention_bytes > 0 ? retention_bytes : 0) * 4;
    return b > (64u << 20) ? b : (64u << 20);
}

int wal_trim(uint64_t pin, long long retention_bytes, long long retention_ms, int max_records)
{
    if (pos.first_lsn > pos.last_lsn || max_records <= 0) return 0;
    uint64_t hard = wal_hard_bound(retention_bytes);
    uint64_t now = now_ms();
    unsigned char k[WAL_KEY_LEN];
    uint64_t lsns[256];
    int removed = 0;
    /* Collect a bounded run of records first, delete after: the iterator
     * is not moved across its own deletions. */
    while (removed < max_records) {
        int n = 0, stop = 0;
        uint64_t bytes = pos.log_bytes;
        store_iter *it = store_iter_new(st);
        wal_key(k, pos.first_lsn);
        for (store_iter_seek(it, (const char *)k, sizeof k);
             store_iter_valid(it) && n < 256 && removed + n < max_records; store_iter_next(it)) {
            size_t kl, vl;
            const char *key = store_iter_key(it, &kl);
            if (!wal_is_log_key(key, kl)) break;
            const char *v = store_iter_val(it, &vl);
            uint64_t lsn = get_u64be((const unsigned char *)key + 3);
            int over_size = bytes > (uint64_t)retention_bytes;
            int too_old = retention_ms > 0 && vl >= WAL_REC_HDR &&
                          now > get_u64be((const unsigned char *)v + 17) + (uint64_t)retention_ms;
            if (!over_size && !too_old) { stop = 1; break; }
            if (lsn >= pin && bytes <= hard) { stop = 1; break; }
            lsns[n++] = lsn;
            bytes -= bytes >= vl + WAL_KEY_LEN ? vl + WAL_KEY_LEN : bytes;
        }
        store_iter_free(it);
        if (n == 0) break;
        for (int i = 0; i < n; i++) {
            wal_key(k, lsns[i]);
            store_del_raw(st, (const char *)k, sizeof k);
        }
        pos.log_bytes = bytes;
        pos.first_lsn = lsns[n - 1] + 1;
        removed += n;
        if (stop || n < 256) break;
    }
    if (removed) {
        if (pos.first_lsn > pos.last_lsn) pos.log_bytes = 0;
        write_pos();
        stats.trimmed += (unsigned long long)removed;
    }
    return removed;
}

const struct wal_stats *wal_get_stats(void)
{
    return &stats;
}

void wal_count_bad(void)
{
    stats.bad_records++;
}

int wal_debug_corrupt(uint64_t lsn)
{
    buf rec;
    buf_init(&rec);
    int r = wal_read(lsn, &rec);
    if (r != 1 || rec.len < WAL_REC_HDR) {
        buf_free(&rec);
        return -1;
    }
    size_t at = rec.len > WAL_REC_HDR ? rec.len - 1 : 20;
    rec.data[at] ^= 0x01;
    unsigned char k[WAL_KEY_LEN];
    wal_key(k, lsn);
    store_put_raw(st, (const char *)k, sizeof k, rec.data, rec.len);
    buf_free(&rec);
    return 0;
}
