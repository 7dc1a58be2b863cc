/* wal: the replication log.  See wal.h for the key and record layouts.
 *
 * Records of the current batch are gathered in `blk` (one log block) and
 * handed to the store's pending batch by the commit hook, together with
 * the position record ("RWP"), so after a crash the position and the log
 * agree with the data: all three come from one LevelDB write.  A block
 * that grows past WAL_BLOCK_MAX is handed over early and a new one starts
 * (still in the same batch).  Records are never rolled back once appended
 * (a command's writes are undone before its record is made), so the
 * in-memory block only has to be dropped when a commit fails or the store
 * is reopened (wal_publish, wal_open). */
#include "wal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static store *st;
static struct wal_pos pos;
static uint64_t committed;              /* newest record known committed */
static unsigned long long seen_commit_errors;
static buf blk;                         /* records of the block being built */
static uint64_t blk_first;              /* lsn of its first record */
static int pos_dirty;                   /* "RWP" to be written at commit */
static buf live;                        /* framed records since the last clear */
static uint64_t live_prev, live_last;
static int live_on = 1;
static struct wal_stats stats;

/* The last stored block read (wal_read), with a cursor on the record
 * after the last one returned, so a replica fed in lsn order costs one
 * block lookup per block.  Blocks do not change once stored, except by
 * trimming (lsn checks against first_lsn cover it), wal_debug_corrupt and
 * a reopen or failed commit, which drop it. */
static buf rblk;
static uint64_t rblk_first, rblk_last;  /* rblk_last < rblk_first: none */
static size_t rblk_off;                 /* offset of record rblk_cur */
static uint64_t rblk_cur;

static void rblk_drop(void)
{
    rblk_first = 1;
    rblk_last = 0;
    rblk.len = 0;
    if (rblk.cap > (4u << 20)) buf_shrink(&rblk, 0);
}

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

/* Size of the record at `off` in a block of `len` bytes, or the rest of
 * the block if its header is damaged (the record then fails wal_parse
 * where it is used, as a damaged record did before blocks). */
static size_t rec_size(const char *b, size_t len, size_t off)
{
    size_t left = len - off;
    if (left < WAL_REC_HDR) return left;
    size_t n = WAL_REC_HDR + (size_t)get_u32be((const unsigned char *)b + off + 25);
    return n <= left ? n : left;
}

static uint64_t rec_lsn(const char *b, size_t len, size_t off)
{
    return len - off >= 17 ? get_u64be((const unsigned char *)b + off + 9) : 0;
}

/* Newest lsn and time of a block (0 if it holds no whole record). */
static void block_newest(const char *b, size_t len, uint64_t *lsn, uint64_t *time_ms)
{
    size_t off = 0, last = len;
    while (off < len) {
        last = off;
        off += rec_size(b, len, off);
    }
    *lsn = last < len ? rec_lsn(b, len, last) : 0;
    *time_ms = last < len && len - last >= 25 ? get_u64be((const unsigned char *)b + last + 17) : 0;
}

/* Hand the block being built to the pending batch. */
static void block_flush(void)
{
    if (blk.len == 0) return;
    unsigned char k[WAL_KEY_LEN];
    wal_key(k, blk_first);
    store_put_raw(st, (const char *)k, sizeof k, blk.data, blk.len);
    blk.len = 0;
    if (blk.cap > (4u << 20)) buf_shrink(&blk, 0);
}

static void commit_hook(store *s, void *arg)
{
    (void)arg;
    if (s != st) return; /* a store this log no longer uses */
    block_flush();
    if (pos_dirty) {
        write_pos();
        pos_dirty = 0;
    }
}

int wal_open(store *s)
{
    st = s;
    blk.len = 0;
    pos_dirty = 0;
    rblk_drop();
    store_set_commit_hook(s, commit_hook, NULL);
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

/* Frame a record as a RESP bulk string ("$len\r\n" rec "\r\n"). */
static void live_add(const char *rec, size_t len, uint64_t lsn)
{
    char num[24];
    int n = 0;
    size_t v = len;
    do {
        num[sizeof num - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (live.len == 0) live_prev = lsn - 1;
    buf_reserve(&live, (size_t)n + len + 5);
    char *p = live.data + live.len;
    *p++ = '$';
    memcpy(p, num + sizeof num - n, (size_t)n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, rec, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    live.len = (size_t)(p - live.data);
    live_last = lsn;
}

/* The record just added at `off` in the block: account for it. */
static void block_added(size_t off, uint64_t epoch, uint64_t lsn, uint32_t crc)
{
    if (off == 0) {
        blk_first = lsn;
        pos.log_bytes += WAL_KEY_LEN;
    }
    if (pos.first_lsn > pos.last_lsn) pos.first_lsn = lsn; /* the log was empty */
    pos.last_epoch = epoch;
    pos.last_lsn = lsn;
    pos.last_crc = crc;
    if (epoch > pos.epoch) pos.epoch = epoch;
    pos.log_bytes += blk.len - off;
    pos_dirty = 1;
}

uint64_t wal_append(const char *ops, size_t oplen, uint64_t time_ms)
{
    uint64_t lsn = pos.last_lsn + 1;
    size_t off = blk.len;
    buf_reserve(&blk, WAL_REC_HDR + oplen);
    unsigned char *h = (unsigned char *)blk.data + off;
    h[0] = 'W';
    put_u64be(h + 1, pos.epoch);
    put_u64be(h + 9, lsn);
    put_u64be(h + 17, time_ms);
    put_u32be(h + 25, (uint32_t)oplen);
    uint32_t crc = crc32c(0, h, 29);
    crc = crc32c(crc, ops, oplen);
    put_u32be(h + 29, crc);
    if (oplen) memcpy(h + WAL_REC_HDR, ops, oplen);
    blk.len = off + WAL_REC_HDR + oplen;
    block_added(off, pos.epoch, lsn, crc);
    if (live_on) live_add(blk.data + off, blk.len - off, lsn);
    stats.appended++;
    if (blk.len >= WAL_BLOCK_MAX) block_flush();
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
    /* A replica has no replicas of its own: no live copy. */
    size_t off = blk.len;
    buf_append(&blk, rec, len);
    block_added(off, r.epoch, r.lsn, r.crc);
    stats.applied++;
    if (blk.len >= WAL_BLOCK_MAX) block_flush();
    /* out points into rec, which the caller owns, as before. */
    *out = r;
    return 0;
}

/* Drop the framed records after `keep` from the live buffer. */
static void live_cut(uint64_t keep)
{
    size_t off = 0;
    while (off < live.len) {
        /* "$n\r\n" frames each record; the buffer is not NUL-terminated,
         * so parse the digits' exact span. */
        const char *p = live.data + off + 1;
        const char *cr = memchr(p, '\r', live.len - off - 1);
        unsigned long long n = 0;
        if (!cr || str2ull(p, (size_t)(cr - p), &n) < 0) break; /* cannot happen: we framed it */
        size_t hdr = (size_t)(cr - (live.data + off)) + 2;
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
        blk.len = 0;
        pos_dirty = 0;
        rblk_drop();
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

void wal_live_enable(int on)
{
    live_on = on;
    if (!on) wal_live_clear();
}

void wal_live_clear(void)
{
    live.len = 0;
    live_prev = live_last = pos.last_lsn;
    if (live.cap > (8u << 20)) buf_shrink(&live, 0);
}

/* Find the record `lsn` in block b (first record first, cursor at
 * (*off, *cur)); copy it into rec.  1 found, 0 not in the block. */
static int block_extract(const char *b, size_t len, uint64_t lsn, size_t *off, uint64_t *cur, buf *rec)
{
    while (*off < len) {
        size_t n = rec_size(b, len, *off);
        if (*cur == lsn) {
            buf_clear(rec);
            buf_append(rec, b + *off, n);
            return 1;
        }
        *off += n;
        (*cur)++;
    }
    return 0;
}

/* Load the stored block holding `lsn` into rblk.  1, 0 none, -1 error. */
static int rblk_load(uint64_t lsn)
{
    unsigned char k[WAL_KEY_LEN];
    wal_key(k, lsn + 1);
    rblk_drop();
    store_iter *it = store_iter_new(st);
    store_iter_seek_last_before(it, (const char *)k, sizeof k);
    int r = 0;
    if (store_iter_valid(it)) {
        size_t kl, vl;
        const char *key = store_iter_key(it, &kl);
        if (wal_is_log_key(key, kl)) {
            const char *v = store_iter_val(it, &vl);
            buf_append(&rblk, v, vl);
            rblk_first = get_u64be((const unsigned char *)key + 3);
            uint64_t t;
            block_newest(rblk.data, rblk.len, &rblk_last, &t);
            if (rblk_last < rblk_first) rblk_last = rblk_first; /* damaged: serve it as is */
            rblk_off = 0;
            rblk_cur = rblk_first;
            r = lsn <= rblk_last;
        }
    }
    store_iter_free(it);
    return r;
}

int wal_read(uint64_t lsn, buf *rec)
{
    if (lsn < pos.first_lsn || lsn > pos.last_lsn) return 0;
    if (blk.len && lsn >= blk_first) {
        size_t off = 0;
        uint64_t cur = blk_first;
        return block_extract(blk.data, blk.len, lsn, &off, &cur, rec);
    }
    if (!(lsn >= rblk_first && lsn <= rblk_last) && rblk_load(lsn) != 1) return 0;
    if (lsn < rblk_cur) {
        rblk_off = 0;
        rblk_cur = rblk_first;
    }
    return block_extract(rblk.data, rblk.len, lsn, &rblk_off, &rblk_cur, rec);
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
    blk.len = 0;
    rblk_drop();
    write_pos();
    pos_dirty = 0;
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
    uint64_t firsts[256];
    int removed = 0;
    /* Collect a bounded run of blocks first, delete after: the iterator
     * is not moved across its own deletions.  The block being built is
     * not in the store yet, so it is never trimmed. */
    while (removed < max_records) {
        int n = 0, stop = 0, recs = 0;
        uint64_t bytes = pos.log_bytes, next_first = pos.first_lsn;
        store_iter *it = store_iter_new(st);
        wal_key(k, pos.first_lsn);
        for (store_iter_seek(it, (const char *)k, sizeof k); store_iter_valid(it) && n < 256;
             store_iter_next(it)) {
            size_t kl, vl;
            const char *key = store_iter_key(it, &kl);
            if (!wal_is_log_key(key, kl)) break;
            const char *v = store_iter_val(it, &vl);
            uint64_t first = get_u64be((const unsigned char *)key + 3), newest, t;
            block_newest(v, vl, &newest, &t);
            if (newest < first) newest = first;
            int nrec = (int)(newest - first + 1);
            if (removed + recs > 0 && removed + recs + nrec > max_records) { stop = 1; break; }
            int over_size = bytes > (uint64_t)retention_bytes;
            int too_old = retention_ms > 0 && t && now > t + (uint64_t)retention_ms;
            if (!over_size && !too_old) { stop = 1; break; }
            if (newest >= pin && bytes <= hard) { stop = 1; break; }
            firsts[n++] = first;
            recs += nrec;
            next_first = newest + 1;
            bytes -= bytes >= vl + WAL_KEY_LEN ? vl + WAL_KEY_LEN : bytes;
        }
        store_iter_free(it);
        if (n == 0) break;
        for (int i = 0; i < n; i++) {
            wal_key(k, firsts[i]);
            store_del_raw(st, (const char *)k, sizeof k);
        }
        pos.log_bytes = bytes;
        pos.first_lsn = next_first;
        removed += recs;
        if (rblk_first < next_first) rblk_drop();
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
    buf_free(&rec);
    if (r != 1) return -1;
    /* wal_read left the record's block in blk or in rblk, with the
     * record at rblk_off. */
    char *b;
    size_t off, len;
    if (blk.len && lsn >= blk_first) {
        off = 0;
        uint64_t cur = blk_first;
        while (cur < lsn) {
            off += rec_size(blk.data, blk.len, off);
            cur++;
        }
        b = blk.data;
        len = blk.len;
    } else {
        b = rblk.data;
        off = rblk_off;
        len = rblk.len;
    }
    size_t n = rec_size(b, len, off);
    if (n < WAL_REC_HDR) return -1;
    size_t at = n > WAL_REC_HDR ? off + n - 1 : off + 20;
    b[at] ^= 0x01;
    if (b == rblk.data) {
        unsigned char k[WAL_KEY_LEN];
        wal_key(k, rblk_first);
        store_put_raw(st, (const char *)k, sizeof k, rblk.data, rblk.len);
        rblk_drop();
    }
    return 0;
}
