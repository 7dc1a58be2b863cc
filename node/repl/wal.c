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
static uint64_t blk_epoch, blk_time;    /* its last record's epoch and time */
static int pos_dirty;                   /* "RWP" to be written at commit */
static int trimming;                    /* in a run of trims (wal_trim) */
static int keep = 1;                    /* blocks are stored (wal_keep) */
static uint64_t drop_below;             /* stored blocks under this lsn are left over (0: none) */
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

/* ---------------- stored blocks ----------------
 *
 * A block is stored compact: the marker BLK_COMPACT, then per record
 *
 *   flags:1 | [epoch:8] | time:8 or dtime:varint | oplen:varint | crc:4 | ops
 *
 * flags bit 0: the epoch follows (first record, or it changed); bit 1: the
 * time follows whole (it went back), else as the (LEB128) increase over
 * the previous record's.  The lsn is implied (first_lsn + index) and the
 * 'W' tag is constant, so a record is its 33-byte header rebuilt from
 * these fields plus its ops, byte for byte, and its checksum still covers
 * all of it: a damaged field fails the check where the record is used.
 * Why: the log was two thirds of the bytes a SET wrote to LevelDB, and
 * LevelDB compresses and rewrites every stored byte at each level, so its
 * compaction thread spent more CPU on the log than on the data (measured:
 * 250 vs 89 ticks for 2M SETs).  The compact header is 7 bytes instead of
 * 33 (a SET's record: 45 bytes instead of 71).
 *
 * Blocks written by older versions are plain records back to back (they
 * start with the 'W' of their first record) and are read as they are. */
#define BLK_COMPACT 'C'
#define BLK_F_EPOCH 1
#define BLK_F_TIME 2

struct blk_cur {
    const char *b;
    size_t len, off;    /* off: the record at lsn */
    uint64_t lsn;
    uint64_t epoch, time;   /* the previous record's (compact blocks) */
    int compact;
};

static struct blk_cur rcur;             /* in rblk: the record after the last one returned */

static void rblk_drop(void)
{
    rblk_first = 1;
    rblk_last = 0;
    rblk.len = 0;
    if (rblk.cap > (4u << 20)) buf_shrink(&rblk, 0);
}

void wal_key(unsigned char out[WAL_KEY_LEN], uint64_t lsn)
{
    memcpy(out, WAL_KEY_PREFIX, 3);
    put_u64be(out + 3, lsn);
}

int wal_is_log_key(const char *k, size_t kl)
{
    return kl == WAL_KEY_LEN && memcmp(k, WAL_KEY_PREFIX, 3) == 0;
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

/* Size of the record at `off` in a plain block of `len` bytes, or the
 * rest of the block if its header is damaged (the record then fails
 * wal_parse where it is used, as a damaged record did before blocks). */
static size_t rec_size(const char *b, size_t len, size_t off)
{
    size_t left = len - off;
    if (left < WAL_REC_HDR) return left;
    size_t n = WAL_REC_HDR + (size_t)get_u32be((const unsigned char *)b + off + 25);
    return n <= left ? n : left;
}

static void cur_init(struct blk_cur *c, const char *b, size_t len, uint64_t first_lsn)
{
    c->b = b;
    c->len = len;
    c->compact = len > 0 && b[0] == BLK_COMPACT;
    c->off = c->compact ? 1 : 0;
    c->lsn = first_lsn;
    c->epoch = c->time = 0;
}

static int get_varint(const unsigned char *p, size_t left, uint64_t *v, size_t *used)
{
    uint64_t x = 0;
    for (size_t i = 0; i < left && i < 10; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            *used = i + 1;
            return 0;
        }
    }
    return -1;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* The record at the cursor: its stored size, and (compact blocks) its
 * header fields.  Returns 0, or -1 if it is damaged, in which case it is
 * the rest of the block. */
static int cur_peek(const struct blk_cur *c, size_t *size, struct wal_rec *h)
{
    const unsigned char *u = (const unsigned char *)c->b + c->off;
    size_t left = c->len - c->off, i = 1, n;
    *size = left;
    if (!c->compact) {
        *size = rec_size(c->b, c->len, c->off);
        return *size >= WAL_REC_HDR ? 0 : -1;
    }
    if (left < 1) return -1;
    h->epoch = c->epoch;
    if (u[0] & BLK_F_EPOCH) {
        if (left - i < 8) return -1;
        h->epoch = get_u64be(u + i);
        i += 8;
    }
    if (u[0] & BLK_F_TIME) {
        if (left - i < 8) return -1;
        h->time_ms = get_u64be(u + i);
        i += 8;
    } else {
        uint64_t d;
        if (get_varint(u + i, left - i, &d, &n) < 0) return -1;
        h->time_ms = c->time + d;
        i += n;
    }
    uint64_t oplen;
    if (get_varint(u + i, left - i, &oplen, &n) < 0 || oplen > UINT32_MAX) return -1;
    i += n;
    if (left - i < 4 || left - i - 4 < oplen) return -1;
    h->crc = get_u32be(u + i);
    i += 4;
    h->ops = (const char *)u + i;
    h->oplen = (size_t)oplen;
    h->lsn = c->lsn;
    *size = i + (size_t)oplen;
    return 0;
}

/* Move past the record at the cursor.  0, or -1 at the end of the block. */
static int cur_next(struct blk_cur *c)
{
    if (c->off >= c->len) return -1;
    size_t size;
    struct wal_rec h;
    if (cur_peek(c, &size, &h) == 0 && c->compact) {
        c->epoch = h.epoch;
        c->time = h.time_ms;
    }
    c->off += size;
    c->lsn++;
    return 0;
}

/* Rebuild the record at the cursor, byte for byte as it was appended. */
static void cur_record(const struct blk_cur *c, buf *rec)
{
    size_t size;
    struct wal_rec h;
    buf_clear(rec);
    if (cur_peek(c, &size, &h) < 0 || !c->compact) {
        buf_append(rec, c->b + c->off, size);   /* plain, or damaged: as stored */
        return;
    }
    buf_reserve(rec, WAL_REC_HDR + h.oplen);
    unsigned char *p = (unsigned char *)rec->data;
    p[0] = 'W';
    put_u64be(p + 1, h.epoch);
    put_u64be(p + 9, h.lsn);
    put_u64be(p + 17, h.time_ms);
    put_u32be(p + 25, (uint32_t)h.oplen);
    put_u32be(p + 29, h.crc);
    if (h.oplen) memcpy(p + WAL_REC_HDR, h.ops, h.oplen);
    rec->len = WAL_REC_HDR + h.oplen;
}

/* Newest lsn and time of a block whose first record is `first` (*lsn <
 * first if it holds no record). */
static void block_newest(const char *b, size_t len, uint64_t first, uint64_t *lsn, uint64_t *time_ms)
{
    struct blk_cur c;
    cur_init(&c, b, len, first);
    *lsn = first - 1;
    *time_ms = 0;
    while (c.off < c.len) {
        size_t size;
        struct wal_rec h;
        if (cur_peek(&c, &size, &h) == 0)
            *time_ms = c.compact ? h.time_ms
                                 : get_u64be((const unsigned char *)c.b + c.off + 17);
        *lsn = c.lsn;
        cur_next(&c);
    }
}

/* Append a record to the block being built, compact (see above). */
static void block_put(uint64_t epoch, uint64_t time_ms, uint32_t crc, const char *ops, size_t oplen)
{
    if (blk.len == 0) {
        buf_append(&blk, (const char *)&(char){ BLK_COMPACT }, 1);
        blk_epoch = blk_time = 0;
    }
    buf_reserve(&blk, 1 + 8 + 10 + 10 + 4 + oplen);
    unsigned char *p = (unsigned char *)blk.data + blk.len, *q = p + 1;
    unsigned char flags = 0;
    if (epoch != blk_epoch || blk.len == 1) {
        flags |= BLK_F_EPOCH;
        put_u64be(q, epoch);
        q += 8;
    }
    if (time_ms < blk_time) {
        flags |= BLK_F_TIME;
        put_u64be(q, time_ms);
        q += 8;
    } else {
        q += put_varint(q, time_ms - blk_time);
    }
    q += put_varint(q, oplen);
    put_u32be(q, crc);
    q += 4;
    if (oplen) memcpy(q, ops, oplen);
    q += oplen;
    p[0] = flags;
    blk.len = (size_t)((char *)q - blk.data);
    blk_epoch = epoch;
    blk_time = time_ms;
}

/* Hand the block being built to the pending batch, or, while no log is
 * kept, drop it: the log is then empty again, its position past it. */
static void block_flush(void)
{
    if (blk.len == 0) return;
    if (keep) {
        unsigned char k[WAL_KEY_LEN];
        wal_key(k, blk_first);
        store_put_raw(st, (const char *)k, sizeof k, blk.data, blk.len);
    } else {
        pos.first_lsn = pos.last_lsn + 1;
        pos.log_bytes = 0;
        pos_dirty = 1;
    }
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

#define BLOCK_BATCH 256   /* blocks collected at a time (collect_blocks) */

/* The first lsns of the first `max` blocks stored under `prefix` (3
 * bytes) whose first lsn is below `below`, in order.
 * Callers delete or move what it found afterwards: the iterator is not
 * moved across its own batch's writes.  Returns how many. */
static int collect_blocks(const char *prefix, uint64_t below, uint64_t *firsts, int max)
{
    int n = 0;
    store_iter *it = store_iter_new(st);
    for (store_iter_seek(it, prefix, 3); store_iter_valid(it) && n < max; store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl != WAL_KEY_LEN || memcmp(k, prefix, 3) != 0) break;
        uint64_t first = get_u64be((const unsigned char *)k + 3);
        if (first >= below) break;
        firsts[n++] = first;
    }
    store_iter_free(it);
    return n;
}

/* Move a log stored under "RWL" (nodes before the log sorted first, see
 * wal.h) to "AWL", BLOCK_BATCH blocks a commit.  Each commit puts the
 * new keys and deletes the old ones in one LevelDB write, so after a
 * crash every block is under exactly one prefix and the next start moves
 * the rest.  Nothing else reads "RWL".  Returns 0 or -1 (logged). */
#define OLD_KEY_PREFIX "RWL"

static int migrate_log(void)
{
    unsigned long long moved = 0;
    buf v;
    buf_init(&v);
    for (;;) {
        uint64_t firsts[BLOCK_BATCH];
        int n = collect_blocks(OLD_KEY_PREFIX, UINT64_MAX, firsts, BLOCK_BATCH);
        if (n == 0) break;
        for (int i = 0; i < n; i++) {
            unsigned char ok[WAL_KEY_LEN], nk[WAL_KEY_LEN];
            memcpy(ok, OLD_KEY_PREFIX, 3);
            put_u64be(ok + 3, firsts[i]);
            wal_key(nk, firsts[i]);
            int r = store_get(st, (const char *)ok, sizeof ok, &v);
            if (r < 0) {
                buf_free(&v);
                return -1;
            }
            if (r == 0) continue;
            store_put_raw(st, (const char *)nk, sizeof nk, v.data, v.len);
            store_del_raw(st, (const char *)ok, sizeof ok);
        }
        if (store_commit(st, 0, NULL) < 0) {
            buf_free(&v);
            return -1;
        }
        moved += (unsigned long long)n;
    }
    buf_free(&v);
    if (moved) log_info("replication log: moved %llu blocks from \"" OLD_KEY_PREFIX "\" to \"" WAL_KEY_PREFIX "\" keys", moved);
    return 0;
}

int wal_open(store *s)
{
    st = s;
    blk.len = 0;
    pos_dirty = 0;
    trimming = 0;
    rblk_drop();
    store_set_commit_hook(s, commit_hook, NULL);
    if (migrate_log() < 0) return -1;
    if (load_pos() < 0) return -1;
    drop_below = pos.first_lsn;   /* a drop cut short by a restart: wal_trim ends it */
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

/* Frame a record (hdr then ops) as a RESP bulk string ("$len\r\n" rec "\r\n"). */
static void live_add(const unsigned char *hdr, const char *ops, size_t oplen, uint64_t lsn)
{
    char num[24];
    int n = 0;
    size_t len = WAL_REC_HDR + oplen, v = len;
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
    memcpy(p, hdr, WAL_REC_HDR);
    p += WAL_REC_HDR;
    if (oplen) memcpy(p, ops, oplen);
    p += oplen;
    *p++ = '\r';
    *p++ = '\n';
    live.len = (size_t)(p - live.data);
    live_last = lsn;
}

/* The record just added to the block, which was `off` bytes long before
 * it (0: the record started the block): account for it. */
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
    unsigned char h[WAL_REC_HDR];
    h[0] = 'W';
    put_u64be(h + 1, pos.epoch);
    put_u64be(h + 9, lsn);
    put_u64be(h + 17, time_ms);
    put_u32be(h + 25, (uint32_t)oplen);
    uint32_t crc = crc32c(0, h, 29);
    crc = crc32c(crc, ops, oplen);
    put_u32be(h + 29, crc);
    block_put(pos.epoch, time_ms, crc, ops, oplen);
    block_added(off, pos.epoch, lsn, crc);
    if (live_on) live_add(h, ops, oplen, lsn);
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
    /* A replica has no replicas of its own: no live copy.  The record
     * passed its checksum, so its compact form rebuilds it exactly. */
    size_t off = blk.len;
    block_put(r.epoch, r.time_ms, r.crc, r.ops, r.oplen);
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

/* Move the cursor to the record `lsn` (from where it is, forward) and
 * rebuild it into rec.  1 found, 0 not in the block.  The cursor stays on
 * the record found. */
static int block_extract(struct blk_cur *c, uint64_t lsn, buf *rec)
{
    while (c->off < c->len) {
        if (c->lsn == lsn) {
            cur_record(c, rec);
            return 1;
        }
        cur_next(c);
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
            block_newest(rblk.data, rblk.len, rblk_first, &rblk_last, &t);
            if (rblk_last < rblk_first) rblk_last = rblk_first; /* damaged: serve it as is */
            cur_init(&rcur, rblk.data, rblk.len, rblk_first);
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
        struct blk_cur c;
        cur_init(&c, blk.data, blk.len, blk_first);
        return block_extract(&c, lsn, rec);
    }
    if (!(lsn >= rblk_first && lsn <= rblk_last) && rblk_load(lsn) != 1) return 0;
    if (lsn < rcur.lsn) cur_init(&rcur, rblk.data, rblk.len, rblk_first);
    return block_extract(&rcur, lsn, rec);
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
    trimming = 0;
    drop_below = 0;     /* the store was replaced: nothing is left over */
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

void wal_keep(int on)
{
    on = !!on;
    if (on == keep) return;
    keep = on;
    if (on) {
        log_info("replication log: kept again from lsn %llu", (unsigned long long)pos.first_lsn);
        return;
    }
    /* The stored log goes at once for readers (first_lsn moves past it)
     * and from LevelDB in runs (wal_trim); the block being built, if any,
     * is the whole log until it is flushed and dropped. */
    drop_below = blk.len ? blk_first : pos.last_lsn + 1;
    log_info("replication log: not kept while no replica may read it (records before lsn %llu dropped)",
             (unsigned long long)drop_below);
    pos.first_lsn = drop_below;
    pos.log_bytes = blk.len ? blk.len + WAL_KEY_LEN : 0;
    pos_dirty = 1;
    trimming = 0;
    rblk_drop();
}

int wal_keeping(void)
{
    return keep;
}

/* Delete up to `max` stored blocks under drop_below (a log no longer kept,
 * or the rest of one whose drop a restart cut short).  Keys only: no block
 * is read.  Returns how many went. */
static int drop_left_over(int max)
{
    int dropped = 0;
    while (drop_below && dropped < max) {
        uint64_t firsts[BLOCK_BATCH];
        int want = max - dropped < BLOCK_BATCH ? max - dropped : BLOCK_BATCH;
        int n = collect_blocks(WAL_KEY_PREFIX, drop_below, firsts, want);
        for (int i = 0; i < n; i++) {
            unsigned char k[WAL_KEY_LEN];
            wal_key(k, firsts[i]);
            store_del_raw(st, (const char *)k, sizeof k);
        }
        dropped += n;
        if (n < want) drop_below = 0; /* none left */
    }
    return dropped;
}

/* Why runs: a trim's deletions sit at the bottom of the log's key range
 * and new blocks at its top, so a memtable holding both spans the whole
 * retained log, and LevelDB's compaction of it rewrites every overlapping
 * file of the log again (wal.h, why "AWL").  Trimming a little at every
 * call put such a memtable behind every flush; a run trims a quarter of
 * the retention at once and leaves the memtables between runs clear of
 * the old log. */
int wal_trim(uint64_t pin, long long retention_bytes, long long retention_ms, int max_records)
{
    if (max_records <= 0) return 0;
    if (drop_left_over(max_records) > 0) return 0; /* one kind of deletion a call */
    if (pos.first_lsn > pos.last_lsn) return 0;
    uint64_t hard = wal_hard_bound(retention_bytes);
    uint64_t now = now_ms();
    unsigned char k[WAL_KEY_LEN];
    uint64_t firsts[256];
    int removed = 0;
    /* Outside a run, a block goes only when the log is over 5/4 of a
     * retention; the run then goes down to the retention itself. */
    uint64_t start_bytes = (uint64_t)retention_bytes + (uint64_t)retention_bytes / 4;
    uint64_t start_ms = (uint64_t)retention_ms + (uint64_t)retention_ms / 4;
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
            block_newest(v, vl, first, &newest, &t);
            if (newest < first) newest = first;
            int nrec = (int)(newest - first + 1);
            if (removed + recs > 0 && removed + recs + nrec > max_records) { stop = 1; break; }
            int over_size = bytes > (trimming ? (uint64_t)retention_bytes : start_bytes);
            int too_old = retention_ms > 0 && t &&
                          now > t + (trimming ? (uint64_t)retention_ms : start_ms);
            if (!over_size && !too_old) { trimming = 0; stop = 1; break; }
            trimming = 1;
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
        if (pos.first_lsn > pos.last_lsn) {
            pos.log_bytes = 0;
            trimming = 0;
        }
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
     * record at the cursor.  Flip a bit of its last stored byte (an op, or
     * its checksum): the rebuilt record then fails its check. */
    struct blk_cur c;
    char *b;
    if (blk.len && lsn >= blk_first) {
        cur_init(&c, blk.data, blk.len, blk_first);
        while (c.lsn < lsn) cur_next(&c);
        b = blk.data;
    } else {
        c = rcur;
        b = rblk.data;
    }
    size_t size;
    struct wal_rec h;
    if (cur_peek(&c, &size, &h) < 0) return -1;
    b[c.off + size - 1] ^= 0x01;
    if (b == rblk.data) {
        unsigned char k[WAL_KEY_LEN];
        wal_key(k, rblk_first);
        store_put_raw(st, (const char *)k, sizeof k, rblk.data, rblk.len);
        rblk_drop();
    }
    return 0;
}
