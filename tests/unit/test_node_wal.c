/* test_node_wal: the replication log (node/repl/wal.c), the stream parser
 * (node/repl/repl_proto.c) and the snapshot chunks (node/repl/dump.c), on a real
 * LevelDB store in a temporary directory.
 *
 * What must hold: a record round-trips and any flipped byte is caught by
 * its checksum; a replica applies exactly the record that follows its
 * newest one and nothing of a bad one; the position survives a reopen and
 * a failed-commit reload; trimming honours size, pins and the hard bound;
 * the stream parser gives the same items however the bytes are split; a
 * snapshot loaded elsewhere holds the same entries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "repl_proto.h"
#include "store.h"
#include "util.h"
#include "wal.h"

static char tmpl[64];

static store *open_store(const char *dir)
{
    struct store_opts o = { .block_cache = 1 << 20, .write_buffer = 1 << 20, .max_open_files = 64,
                            .compression = 0, .bloom_bits = 10 };
    char *err = NULL;
    store *s = store_open(dir, &o, &err);
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    strcpy(tmpl, "/tmp/test_node_wal.XXXXXX");
    assert_non_null(mkdtemp(tmpl));
    char dir[128];
    snprintf(dir, sizeof dir, "%s/db", tmpl);
    store *s = open_store(dir);
    wal_keep(1);                /* a new process's default */
    assert_int_equal(wal_open(s), 0);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* A command's writes: puts and a delete through the op log. */
static size_t do_write(store *s, const char *k, const char *v)
{
    size_t mark = store_mark(s);
    store_put(s, k, strlen(k), v, strlen(v));
    store_del(s, "gone", 4);
    return mark;
}

static uint64_t append_cmd_at(store *s, const char *k, const char *v, uint64_t time_ms)
{
    size_t mark = do_write(s, k, v);
    size_t len;
    const char *ops = store_ops(s, mark, &len);
    return wal_append(ops, len, time_ms);
}

static uint64_t append_cmd(store *s, const char *k, const char *v)
{
    return append_cmd_at(s, k, v, 1000);
}

/* n records, each committed alone: n one-record blocks. */
static void commit_records(store *s, int n, const char *v)
{
    for (int i = 0; i < n; i++) {
        append_cmd(s, "Mk", v);
        assert_int_equal(store_commit(s, 0, NULL), 0);
    }
}

/* Close the test's store (*state) and open it again, as a restart does. */
static store *reopen(void **state)
{
    store_close(*state);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/db", tmpl);
    store *s = open_store(dir);
    *state = s;
    assert_int_equal(wal_open(s), 0);
    return s;
}

/* A replica store in <tmpl>/replica that applied records recs[0..n),
 * committing after recs[commit_after] (-1: only at the end) and at the end;
 * the log is now the replica's. */
static store *replica_applying(const buf *recs, int n, int commit_after)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/replica", tmpl);
    store *rs = open_store(dir);
    assert_int_equal(wal_open(rs), 0);
    for (int i = 0; i < n; i++) {
        struct wal_rec wr;
        const char *why;
        assert_int_equal(wal_apply(recs[i].data, recs[i].len, &wr, &why), 0);
        if (i == commit_after) assert_int_equal(store_commit(rs, 0, NULL), 0);
    }
    assert_int_equal(store_commit(rs, 0, NULL), 0);
    return rs;
}

/* Read record lsn into rec (initialised here) and parse it into r. */
static void read_parsed(uint64_t lsn, buf *rec, struct wal_rec *r)
{
    buf_init(rec);
    assert_int_equal(wal_read(lsn, rec), 1);
    assert_int_equal(wal_parse(rec->data, rec->len, r), 0);
    assert_int_equal(r->lsn, lsn);
}

static void test_fresh_position(void **state)
{
    (void)state;
    const struct wal_pos *p = wal_position();
    assert_int_equal(p->epoch, 1);
    assert_int_equal(p->last_lsn, 0);
    assert_true(p->first_lsn > p->last_lsn);
}

static void test_record_round_trip_and_checksum(void **state)
{
    store *s = *state;
    assert_int_equal(append_cmd(s, "Mkey", "value"), 1);
    assert_int_equal(append_cmd(s, "Mk2", "v2"), 2);
    buf rec;
    buf_init(&rec);
    assert_int_equal(wal_read(2, &rec), 1);
    struct wal_rec r;
    assert_int_equal(wal_parse(rec.data, rec.len, &r), 0);
    assert_int_equal(r.epoch, 1);
    assert_int_equal(r.lsn, 2);
    assert_int_equal(r.time_ms, 1000);
    assert_int_equal(wal_ops_check(r.ops, r.oplen), 2);
    assert_int_equal(r.crc, wal_position()->last_crc);
    /* Every single flipped bit anywhere is caught. */
    for (size_t i = 0; i < rec.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            rec.data[i] ^= (char)(1 << bit);
            assert_true(wal_parse(rec.data, rec.len, &r) < 0);
            rec.data[i] ^= (char)(1 << bit);
        }
    assert_int_equal(wal_parse(rec.data, rec.len - 1, &r), -1);
    assert_int_equal(wal_read(3, &rec), 0);
    buf_free(&rec);
}

static void test_ops_check(void **state)
{
    (void)state;
    assert_int_equal(wal_ops_check("", 0), 0);
    static const char ok[] = "P\0\0\0\1k\0\0\0\2vvD\0\0\0\1k";
    assert_int_equal(wal_ops_check(ok, sizeof ok - 1), 2);
    for (size_t n = 1; n < sizeof ok - 1; n++)
        if (n != 12) assert_int_equal(wal_ops_check(ok, n), -1); /* 12: the first op alone */
    assert_int_equal(wal_ops_check("X\0\0\0\0", 5), -1);
}

static void test_position_survives_reopen(void **state)
{
    store *s = *state;
    append_cmd(s, "Ma", "1");
    append_cmd(s, "Mb", "2");
    assert_int_equal(store_commit(s, 1, NULL), 0);
    assert_int_equal(wal_publish(), 2);
    struct wal_pos before = *wal_position();
    s = reopen(state);
    assert_memory_equal(&before, wal_position(), sizeof before);
    assert_int_equal(wal_committed_lsn(), 2);
    assert_int_equal(append_cmd(s, "Mc", "3"), 3);
}

static void test_apply_on_replica(void **state)
{
    store *master = *state;
    /* Build three records on the "master", then start over as a replica
     * in a second store. */
    append_cmd(master, "Mx", "1");
    append_cmd(master, "My", "2");
    append_cmd(master, "Mz", "3");
    buf r1, r2, r3;
    buf_init(&r1);
    buf_init(&r2);
    buf_init(&r3);
    assert_int_equal(wal_read(1, &r1), 1);
    assert_int_equal(wal_read(2, &r2), 1);
    assert_int_equal(wal_read(3, &r3), 1);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/replica", tmpl);
    store *rs = open_store(dir);
    assert_int_equal(wal_open(rs), 0);
    const char *why = NULL;
    struct wal_rec wr;
    /* A gap is refused. */
    assert_int_equal(wal_apply(r2.data, r2.len, &wr, &why), -2);
    assert_int_equal(wal_apply(r1.data, r1.len, &wr, &why), 0);
    /* A damaged record is refused and changes nothing. */
    size_t mark = store_mark(rs);
    r2.data[r2.len - 1] ^= 1;
    assert_int_equal(wal_apply(r2.data, r2.len, &wr, &why), -1);
    assert_string_equal(why, "checksum mismatch");
    assert_int_equal(store_mark(rs), mark);
    r2.data[r2.len - 1] ^= 1;
    assert_int_equal(wal_apply(r2.data, r2.len, &wr, &why), 0);
    assert_int_equal(wal_apply(r3.data, r3.len, &wr, &why), 0);
    assert_int_equal(wr.lsn, 3);
    assert_int_equal(wal_ops_check(wr.ops, wr.oplen), 2);
    assert_int_equal(wal_position()->last_lsn, 3);
    buf v;
    buf_init(&v);
    assert_int_equal(store_get(rs, "My", 2, &v), 1);
    assert_memory_equal(v.data, "2", 1);
    assert_int_equal(store_get(rs, "gone", 4, &v), 0);
    /* The replica keeps the very same records in its own log. */
    assert_int_equal(wal_read(3, &v), 1);
    assert_int_equal(v.len, r3.len);
    assert_memory_equal(v.data, r3.data, r3.len);
    /* Raw writes do not enter the op log: nothing to replicate onward. */
    size_t oplen;
    store_ops(rs, 0, &oplen);
    assert_int_equal(oplen, 0);
    /* A new epoch after promotion; records carry it. */
    assert_int_equal(wal_new_epoch(), 2);
    size_t m2 = do_write(rs, "Mw", "4");
    const char *ops = store_ops(rs, m2, &oplen);
    assert_int_equal(wal_append(ops, oplen, 5), 4);
    assert_int_equal(wal_position()->last_epoch, 2);
    buf_free(&v);
    buf_free(&r1);
    buf_free(&r2);
    buf_free(&r3);
    store_close(rs);
    assert_int_equal(wal_open(master), 0);
}

static void test_lost_batch_not_in_position(void **state)
{
    store *s = *state;
    append_cmd(s, "Ma", "1");
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(wal_publish(), 1);
    wal_live_clear();
    append_cmd(s, "Mb", "2");
    uint64_t prev, last;
    assert_true(wal_live(&prev, &last)->len > 0);
    assert_int_equal(prev, 1);
    assert_int_equal(last, 2);
    /* The batch is lost before it reaches LevelDB (a crash): after a
     * reopen the position is the committed one, record 2 never existed. */
    store_rollback(s, 0);
    reopen(state);
    assert_int_equal(wal_position()->last_lsn, 1);
}

static void test_trim(void **state)
{
    store *s = *state;
    /* One commit per record: one-record blocks, trimmed one by one. */
    commit_records(s, 100, "v");
    uint64_t bytes = wal_position()->log_bytes;
    assert_true(bytes > 0);
    /* Within the retention size: nothing goes. */
    assert_int_equal(wal_trim(UINT64_MAX, (long long)bytes, 0, 1000), 0);
    /* Over it, but pinned at 40: records 1..39 go. */
    assert_int_equal(wal_trim(40, 0, 0, 1000), 39);
    assert_int_equal(wal_position()->first_lsn, 40);
    buf rec;
    buf_init(&rec);
    assert_int_equal(wal_read(39, &rec), 0);
    assert_int_equal(wal_read(40, &rec), 1);
    /* max_records bounds one call. */
    assert_int_equal(wal_trim(UINT64_MAX, 0, 0, 10), 10);
    assert_int_equal(wal_position()->first_lsn, 50);
    /* Unpinned and over size: everything goes; the identity of the newest
     * record stays in the position. */
    uint32_t crc = wal_position()->last_crc;
    assert_int_equal(wal_trim(UINT64_MAX, 0, 0, 1000), 51);
    assert_true(wal_position()->first_lsn > wal_position()->last_lsn);
    assert_int_equal(wal_position()->log_bytes, 0);
    assert_int_equal(wal_position()->last_crc, crc);
    assert_int_equal(append_cmd(s, "Mk", "v"), 101);
    assert_int_equal(wal_position()->first_lsn, 101);
    assert_true(wal_hard_bound(0) >= (64u << 20));
    buf_free(&rec);
}

/* Keys of the store under a 3-byte prefix. */
static int count_prefix(store *s, const char *prefix)
{
    int n = 0;
    store_iter *it = store_iter_new(s);
    for (store_iter_seek(it, prefix, 3); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 3 || memcmp(k, prefix, 3) != 0) break;
        n++;
    }
    store_iter_free(it);
    return n;
}

/* Move the block at `first` between prefixes, as an older node (or a
 * migration cut short by a crash) left it. */
static void move_block(store *s, uint64_t first, const char *from, const char *to)
{
    unsigned char a[WAL_KEY_LEN], b[WAL_KEY_LEN];
    memcpy(a, from, 3);
    memcpy(b, to, 3);
    put_u64be(a + 3, first);
    put_u64be(b + 3, first);
    buf v;
    buf_init(&v);
    assert_int_equal(store_get(s, (const char *)a, sizeof a, &v), 1);
    store_put_raw(s, (const char *)b, sizeof b, v.data, v.len);
    store_del_raw(s, (const char *)a, sizeof a);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    buf_free(&v);
}

/* With the log off, records still number and identify the newest one but
 * nothing is stored, the stored log goes (in runs, resumed after a
 * restart), and turning it back on keeps the batch being built. */
static void test_keep_off(void **state)
{
    store *s = *state;
    buf rec;
    buf_init(&rec);
    commit_records(s, 10, "v");
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 10);
    wal_keep(0);
    assert_int_equal(wal_keeping(), 0);
    assert_int_equal(wal_position()->first_lsn, 11);
    assert_int_equal(wal_position()->log_bytes, 0);
    assert_int_equal(wal_read(5, &rec), 0);

    /* A batch while off: readable until its commit, then gone. */
    for (int i = 0; i < 3; i++) append_cmd(s, "Mk", "w");
    assert_int_equal(wal_read(12, &rec), 1);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(wal_publish(), 13);
    assert_int_equal(wal_position()->last_lsn, 13);
    assert_int_equal(wal_position()->first_lsn, 14);
    assert_int_equal(wal_position()->log_bytes, 0);
    assert_int_equal(wal_read(13, &rec), 0);
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 10);

    /* The old blocks go in runs of at most max_records. */
    assert_int_equal(wal_trim(UINT64_MAX, 1LL << 40, 0, 4), 0);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 6);
    assert_int_equal(wal_trim(UINT64_MAX, 1LL << 40, 0, 1000), 0);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 0);

    /* The position survives a restart. */
    uint32_t crc = wal_position()->last_crc;
    s = reopen(state);
    assert_int_equal(wal_position()->last_lsn, 13);
    assert_int_equal(wal_position()->first_lsn, 14);
    assert_int_equal(wal_position()->last_crc, crc);

    /* Turned on before the commit (a PSYNC in the middle of a batch):
     * the whole batch is stored. */
    wal_keep(0);
    append_cmd(s, "Mk", "x");
    append_cmd(s, "Mk", "y");
    wal_keep(1);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(wal_position()->first_lsn, 14);
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 1);
    struct wal_rec r;
    buf got;
    for (uint64_t lsn = 14; lsn <= 15; lsn++) {
        read_parsed(lsn, &got, &r);
        buf_free(&got);
    }

    /* Off again; the drop is cut short by a restart and resumed. */
    commit_records(s, 3, "z");
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 4);
    wal_keep(0);
    assert_int_equal(wal_trim(UINT64_MAX, 1LL << 40, 0, 1), 0);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 3);
    wal_keep(1);
    s = reopen(state);
    assert_int_equal(wal_position()->first_lsn, 19);
    append_cmd(s, "Mk", "kept");   /* a block at 19 is not left over */
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(wal_trim(UINT64_MAX, 1LL << 40, 0, 1000), 0);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 1);
    read_parsed(19, &got, &r);
    buf_free(&got);
    assert_int_equal(wal_read(18, &rec), 0);
    buf_free(&rec);
}

/* A log stored under "RWL" by an older node, whole or with a migration
 * cut short (some blocks already under "AWL"), is under "AWL" after the
 * next open and reads back record for record. */
static void test_old_log_prefix_moved(void **state)
{
    store *s = *state;
    for (int i = 0; i < 30; i++) {
        append_cmd(s, "Mk", "v");
        if (i % 10 == 9) assert_int_equal(store_commit(s, 0, NULL), 0);
    }
    assert_int_equal(wal_publish(), 30);
    buf before[30], rec;
    for (int i = 0; i < 30; i++) {
        buf_init(&before[i]);
        assert_int_equal(wal_read((uint64_t)i + 1, &before[i]), 1);
    }
    for (int round = 0; round < 2; round++) {
        /* Round 0: every block under the old prefix; round 1: the first. */
        move_block(s, 1, WAL_KEY_PREFIX, "RWL");
        if (round == 0) {
            move_block(s, 11, WAL_KEY_PREFIX, "RWL");
            move_block(s, 21, WAL_KEY_PREFIX, "RWL");
        }
        assert_int_equal(count_prefix(s, "RWL"), round == 0 ? 3 : 1);
        s = reopen(state);
        assert_int_equal(count_prefix(s, "RWL"), 0);
        assert_int_equal(count_prefix(s, WAL_KEY_PREFIX), 3);
        for (int i = 0; i < 30; i++) {
            buf_init(&rec);
            assert_int_equal(wal_read((uint64_t)i + 1, &rec), 1);
            assert_int_equal(rec.len, before[i].len);
            assert_memory_equal(rec.data, before[i].data, rec.len);
            buf_free(&rec);
        }
    }
    assert_int_equal(append_cmd(s, "Mk", "v"), 31);
    for (int i = 0; i < 30; i++) buf_free(&before[i]);
}

/* Trimming goes in runs: nothing while the log is within 5/4 of the
 * retention, then down to the retention, then nothing again until the
 * log is over 5/4 of it once more. */
static void test_trim_runs(void **state)
{
    store *s = *state;
    /* One commit per record: one-record blocks of one size. */
    append_cmd(s, "Mk", "v");
    assert_int_equal(store_commit(s, 0, NULL), 0);
    uint64_t one = wal_position()->log_bytes;
    for (int i = 1; i < 100; i++) {
        append_cmd(s, "Mk", "v");
        assert_int_equal(store_commit(s, 0, NULL), 0);
    }
    assert_int_equal(wal_position()->log_bytes, 100 * one);
    long long retention = (long long)(80 * one + one / 2);     /* 80 blocks and a half */
    /* 100 blocks are under 5/4 of 80.5: no run starts. */
    assert_int_equal(wal_trim(UINT64_MAX, retention, 0, 1000), 0);
    commit_records(s, 2, "v");
    /* 102 blocks: over 100.6, so a run takes the log down to 80. */
    assert_int_equal(wal_trim(UINT64_MAX, retention, 0, 1000), 22);
    assert_int_equal(wal_position()->log_bytes, 80 * one);
    assert_int_equal(wal_position()->first_lsn, 23);
    /* Over the retention again, but not over 5/4 of it: the run is over. */
    commit_records(s, 10, "v");
    assert_int_equal(wal_trim(UINT64_MAX, retention, 0, 1000), 0);
    /* A run cut by max_records goes on at the next call, down to 80. */
    commit_records(s, 12, "v");
    assert_int_equal(wal_position()->log_bytes, 102 * one);
    assert_int_equal(wal_trim(UINT64_MAX, retention, 0, 5), 5);
    assert_int_equal(wal_trim(UINT64_MAX, retention, 0, 1000), 17);
    assert_int_equal(wal_position()->log_bytes, 80 * one);
}

/* The records of one group commit share one block: every record can be
 * read back by lsn (in order, out of order, after a reopen), a damaged
 * record in a block is caught by its own checksum, trimming takes whole
 * blocks and respects a pin inside a block, and a replica's log built
 * from the same records in other blocks serves the same bytes. */
static void test_blocks(void **state)
{
    store *s = *state;
    buf recs[30], rec;
    buf_init(&rec);
    for (int i = 0; i < 30; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(append_cmd(s, "Mk", v), (uint64_t)i + 1);
        if (i == 9 || i == 19 || i == 29) assert_int_equal(store_commit(s, 0, NULL), 0);
    }
    assert_int_equal(wal_publish(), 30);
    /* Three blocks: "AWL" 1, 11 and 21. */
    int blocks = 0;
    store_iter *it = store_iter_new(s);
    for (store_iter_seek(it, WAL_KEY_PREFIX, 3); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (!wal_is_log_key(k, kl)) break;
        assert_int_equal(get_u64be((const unsigned char *)k + 3), (uint64_t)blocks * 10 + 1);
        blocks++;
    }
    store_iter_free(it);
    assert_int_equal(blocks, 3);
    for (int i = 0; i < 30; i++) {
        buf_init(&recs[i]);
        assert_int_equal(wal_read((uint64_t)i + 1, &recs[i]), 1);
        struct wal_rec r;
        assert_int_equal(wal_parse(recs[i].data, recs[i].len, &r), 0);
        assert_int_equal(r.lsn, (uint64_t)i + 1);
    }
    /* Backwards and after a reopen: the same bytes. */
    s = reopen(state);
    for (int i = 29; i >= 0; i--) {
        assert_int_equal(wal_read((uint64_t)i + 1, &rec), 1);
        assert_int_equal(rec.len, recs[i].len);
        assert_memory_equal(rec.data, recs[i].data, rec.len);
    }
    assert_int_equal(wal_read(31, &rec), 0);
    /* A replica applies them in other batches: its blocks differ, its
     * records do not. */
    store *rs = replica_applying(recs, 30, 4);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(wal_read((uint64_t)i + 1, &rec), 1);
        assert_memory_equal(rec.data, recs[i].data, rec.len);
    }
    store_close(rs);
    assert_int_equal(wal_open(s), 0);
    /* A damaged record inside a block: only that record fails. */
    assert_int_equal(wal_debug_corrupt(15), 0);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    struct wal_rec r;
    assert_int_equal(wal_read(15, &rec), 1);
    assert_int_equal(wal_parse(rec.data, rec.len, &r), -2);
    assert_int_equal(wal_read(16, &rec), 1);
    assert_int_equal(wal_parse(rec.data, rec.len, &r), 0);
    assert_int_equal(wal_read(14, &rec), 1);
    assert_int_equal(wal_parse(rec.data, rec.len, &r), 0);
    /* Pinned at 15 (inside the second block): only the first block goes. */
    uint64_t bytes = wal_position()->log_bytes;
    assert_int_equal(wal_trim(15, 0, 0, 1000), 10);
    assert_int_equal(wal_position()->first_lsn, 11);
    assert_true(wal_position()->log_bytes < bytes);
    assert_int_equal(wal_read(10, &rec), 0);
    assert_int_equal(wal_read(11, &rec), 1);
    assert_memory_equal(rec.data, recs[10].data, rec.len);
    /* max_records below a block still removes one block (progress). */
    assert_int_equal(wal_trim(UINT64_MAX, 0, 0, 3), 10);
    assert_int_equal(wal_position()->first_lsn, 21);
    assert_int_equal(wal_trim(UINT64_MAX, 0, 0, 1000), 10);
    assert_true(wal_position()->first_lsn > wal_position()->last_lsn);
    assert_int_equal(wal_position()->log_bytes, 0);
    for (int i = 0; i < 30; i++) buf_free(&recs[i]);
    buf_free(&rec);
}

/* Blocks are stored compact (a few bytes of header a record instead of
 * WAL_REC_HDR) and rebuilt byte for byte, across epoch changes and a clock
 * that goes back inside one block; blocks of plain records, as older
 * versions stored them, read the same. */
static void test_block_formats(void **state)
{
    store *s = *state;
    buf recs[12], rec;
    buf_init(&rec);
    size_t plain_bytes = 0;
    /* Master side: times 5000, 5001, 5001, 4000 (clock went back), ... */
    static const uint64_t times[6] = { 5000, 5001, 5001, 4000, 4000, 900000000000ull };
    for (int i = 0; i < 6; i++)
        assert_int_equal(append_cmd_at(s, "Mk", "value", times[i]), (uint64_t)i + 1);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    wal_publish();
    for (int i = 0; i < 6; i++) {
        struct wal_rec r;
        read_parsed((uint64_t)i + 1, &recs[i], &r);
        assert_int_equal(r.time_ms, times[i]);
        plain_bytes += recs[i].len;
    }
    buf v;
    buf_init(&v);
    unsigned char k[WAL_KEY_LEN];
    wal_key(k, 1);
    assert_int_equal(store_get(s, (const char *)k, sizeof k, &v), 1);
    assert_true(v.len < plain_bytes - 6 * 20);   /* compact headers */
    /* Records of a later epoch, applied by a replica in one batch with
     * the first ones: the epoch changes inside its block. */
    uint64_t e2 = wal_new_epoch();
    for (int i = 6; i < 12; i++)
        assert_int_equal(append_cmd_at(s, "Mk", "v2", 7000 + (uint64_t)i), (uint64_t)i + 1);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    wal_publish();
    for (int i = 6; i < 12; i++) {
        struct wal_rec r;
        read_parsed((uint64_t)i + 1, &recs[i], &r);
        assert_int_equal(r.epoch, e2);
    }
    char dir[128];
    store *rs = replica_applying(recs, 12, -1);
    wal_publish();
    for (int i = 11; i >= 0; i--) {
        assert_int_equal(wal_read((uint64_t)i + 1, &rec), 1);
        assert_int_equal(rec.len, recs[i].len);
        assert_memory_equal(rec.data, recs[i].data, rec.len);
    }
    store_close(rs);
    /* An older node's log: plain records back to back in two blocks. */
    snprintf(dir, sizeof dir, "%s/old", tmpl);
    store *os = open_store(dir);
    buf b1, b2;
    buf_init(&b1);
    buf_init(&b2);
    for (int i = 0; i < 12; i++) buf_append(i < 7 ? &b1 : &b2, recs[i].data, recs[i].len);
    wal_key(k, 1);
    store_put_raw(os, (const char *)k, sizeof k, b1.data, b1.len);
    wal_key(k, 8);
    store_put_raw(os, (const char *)k, sizeof k, b2.data, b2.len);
    struct wal_pos p = { .epoch = e2, .last_epoch = e2, .last_lsn = 12,
                         .last_crc = wal_rec_crc(recs[11].data, recs[11].len), .first_lsn = 1,
                         .log_bytes = b1.len + b2.len + 2 * WAL_KEY_LEN };
    unsigned char pv[WAL_POS_LEN];
    wal_pos_encode(&p, pv);
    store_put_raw(os, WAL_POS_KEY, sizeof WAL_POS_KEY - 1, (const char *)pv, sizeof pv);
    assert_int_equal(store_commit(os, 0, NULL), 0);
    assert_int_equal(wal_open(os), 0);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(wal_read((uint64_t)i + 1, &rec), 1);
        assert_int_equal(rec.len, recs[i].len);
        assert_memory_equal(rec.data, recs[i].data, rec.len);
    }
    /* It grows with compact blocks and trims whole plain blocks. */
    assert_int_equal(append_cmd(os, "Mk", "new"), 13);
    assert_int_equal(store_commit(os, 0, NULL), 0);
    wal_publish();
    assert_int_equal(wal_read(13, &rec), 1);
    struct wal_rec r;
    assert_int_equal(wal_parse(rec.data, rec.len, &r), 0);
    assert_int_equal(wal_trim(8, 0, 0, 1000), 7);
    assert_int_equal(wal_position()->first_lsn, 8);
    assert_int_equal(wal_read(8, &rec), 1);
    assert_memory_equal(rec.data, recs[7].data, rec.len);
    store_close(os);
    assert_int_equal(wal_open(s), 0);
    for (int i = 0; i < 12; i++) buf_free(&recs[i]);
    buf_free(&b1);
    buf_free(&b2);
    buf_free(&v);
    buf_free(&rec);
}

/* A batch bigger than WAL_BLOCK_MAX is split into several blocks, in the
 * same commit. */
static void test_big_batch_splits(void **state)
{
    store *s = *state;
    static char val[100000];
    memset(val, 'x', sizeof val);
    int n = (int)(3 * WAL_BLOCK_MAX / sizeof val);
    for (int i = 0; i < n; i++) {
        size_t mark = store_mark(s);
        store_put(s, "Mbig", 4, val, sizeof val);
        size_t len;
        const char *ops = store_ops(s, mark, &len);
        wal_append(ops, len, 1);
    }
    assert_int_equal(store_commit(s, 0, NULL), 0);
    int blocks = 0;
    store_iter *it = store_iter_new(s);
    for (store_iter_seek(it, WAL_KEY_PREFIX, 3); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (!wal_is_log_key(k, kl)) break;
        store_iter_val(it, &vl);
        assert_true(vl < WAL_BLOCK_MAX + sizeof val + WAL_REC_HDR + 64);
        blocks++;
    }
    store_iter_free(it);
    assert_true(blocks >= 3);
    buf rec;
    buf_init(&rec);
    struct wal_rec r;
    for (int i = 1; i <= n; i++) {
        assert_int_equal(wal_read((uint64_t)i, &rec), 1);
        assert_int_equal(wal_parse(rec.data, rec.len, &r), 0);
        assert_int_equal(r.lsn, (uint64_t)i);
    }
    buf_free(&rec);
}

static void test_proto_split_anywhere(void **state)
{
    (void)state;
    static const char stream[] = "+OK\r\n+CONTINUE 3 17\r\n$5\r\nab\r\nc\r\n$0\r\n\r\n-ERR no\r\n";
    size_t n = sizeof stream - 1;
    for (size_t cut = 0; cut <= n; cut++) {
        /* Feed the first `cut` bytes, then everything. */
        buf in;
        buf_init(&in);
        buf_append(&in, stream, cut);
        struct repl_item items[8];
        char copies[8][32];
        int count = 0;
        size_t off = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (;;) {
                size_t used;
                const char *err;
                int r = repl_proto_next(in.data + off, in.len - off, &used, &items[count], &err);
                assert_true(r >= 0);
                if (r == 0) break;
                memcpy(copies[count], items[count].data, items[count].len);
                off += used;
                count++;
            }
            buf_clear(&in);
            buf_append(&in, stream, n);
        }
        assert_int_equal(count, 5);
        assert_int_equal(items[1].type, '+');
        assert_memory_equal(copies[1], "CONTINUE 3 17", 13);
        assert_int_equal(items[2].type, '$');
        assert_int_equal(items[2].len, 5);
        assert_memory_equal(copies[2], "ab\r\nc", 5);
        assert_int_equal(items[3].len, 0);
        assert_int_equal(items[4].type, '-');
        buf_free(&in);
    }
    size_t used;
    const char *err = NULL;
    struct repl_item it;
    assert_int_equal(repl_proto_next("*1\r\n", 4, &used, &it, &err), -1);
    assert_int_equal(repl_proto_next("$x\r\n", 4, &used, &it, &err), -1);
    assert_int_equal(repl_proto_next("$3\r\nabcXY", 9, &used, &it, &err), -1);
}

static void test_snapshot_chunks_load_elsewhere(void **state)
{
    store *s = *state;
    char val[300];
    memset(val, 'x', sizeof val);
    for (int i = 0; i < 5000; i++) {
        char k[32];
        snprintf(k, sizeof k, "Mkey%05d", i);
        store_put(s, k, strlen(k), val, (size_t)(i % 300));
    }
    size_t len;
    const char *ops = store_ops(s, 0, &len);
    wal_append(ops, len, 1);
    assert_int_equal(store_commit(s, 0, NULL), 0);
    struct dump_source *src = dump_source_open(s);
    assert_int_equal(dump_source_pos(src)->last_lsn, 1);
    store_put(s, "Mlater", 6, "1", 1); /* after the snapshot: not in it */
    assert_int_equal(store_commit(s, 0, NULL), 0);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/loaded", tmpl);
    char *err = NULL;
    struct dump_loader *l = dump_loader_open(dir, &err);
    assert_non_null(l);
    buf chunk;
    buf_init(&chunk);
    int chunks = 0;
    while (dump_source_next(src, &chunk, 64 * 1024)) {
        const char *cerr;
        assert_true(dump_chunk_check(chunk.data, chunk.len) > 0);
        chunk.data[chunk.len / 2] ^= 4;
        assert_int_equal(dump_chunk_check(chunk.data, chunk.len), -1);
        assert_int_equal(dump_loader_chunk(l, chunk.data, chunk.len, &cerr), -1);
        chunk.data[chunk.len / 2] ^= 4;
        assert_int_equal(dump_loader_chunk(l, chunk.data, chunk.len, &cerr), 0);
        buf_clear(&chunk);
        chunks++;
    }
    assert_true(chunks > 5);
    /* data keys only: the log record and the position stay out */
    assert_int_equal(dump_source_keys(src), 5000);
    assert_int_equal(dump_loader_keys(l), 5000);
    assert_int_equal(dump_loader_finish(l, dump_source_pos(src), &err), 0);
    dump_source_close(src);
    store *t = open_store(dir);
    buf v;
    buf_init(&v);
    assert_int_equal(store_get(t, "Mkey04999", 9, &v), 1);
    assert_int_equal(v.len, 4999 % 300);
    assert_int_equal(store_get(t, "Mlater", 6, &v), 0);
    assert_int_equal(store_get(t, WAL_POS_KEY, 3, &v), 1);
    struct wal_pos p;
    assert_int_equal(wal_pos_decode(v.data, v.len, &p), 0);
    assert_int_equal(p.last_lsn, 1);
    assert_int_equal(p.first_lsn, 2);
    buf_free(&v);
    buf_free(&chunk);
    store_close(t);
    /* Loading over a non-empty database is refused. */
    assert_null(dump_loader_open(dir, &err));
    free(err);
}

int main(void)
{
    crc32c_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_round_trip_and_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_position_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_on_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_batch_not_in_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_log_prefix_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_batch_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proto_split_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_chunks_load_elsewhere, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
