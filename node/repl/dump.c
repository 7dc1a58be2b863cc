/* dump: snapshot chunks, their loader, backup file headers.  See dump.h.
 *
 * The loader writes straight into a LevelDB database of its own (not the
 * node's store): a full sync fills a fresh directory that replaces the
 * node's data only once complete, and strata-load fills a directory a
 * node will open later. */
#include "dump.h"

#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct dump_source {
    store *st;
    store_snap *snap;
    store_iter *it;
    struct wal_pos pos;
    unsigned long long keys;
};

struct dump_source *dump_source_open(store *st)
{
    struct dump_source *s = xcalloc(1, sizeof *s);
    s->st = st;
    s->snap = store_snapshot(st);
    s->it = store_iter_new_snapshot(st, s->snap);
    /* The position as of the snapshot, from the snapshot itself. */
    store_iter_seek(s->it, WAL_POS_KEY, sizeof WAL_POS_KEY - 1);
    size_t kl, vl;
    int have = 0;
    if (store_iter_valid(s->it)) {
        const char *k = store_iter_key(s->it, &kl);
        if (kl == sizeof WAL_POS_KEY - 1 && memcmp(k, WAL_POS_KEY, kl) == 0) {
            const char *v = store_iter_val(s->it, &vl);
            have = wal_pos_decode(v, vl, &s->pos) == 0;
        }
    }
    if (!have) {
        memset(&s->pos, 0, sizeof s->pos);
        s->pos.epoch = wal_position()->epoch;
        s->pos.first_lsn = 1;
    }
    store_iter_seek_first(s->it);
    return s;
}

const struct wal_pos *dump_source_pos(const struct dump_source *s)
{
    return &s->pos;
}

unsigned long long dump_source_keys(const struct dump_source *s)
{
    return s->keys;
}

int dump_source_next(struct dump_source *s, buf *out, size_t max_bytes)
{
    size_t start = out->len;
    unsigned char h[8] = { 0 };
    uint32_t count = 0;
    buf_append(out, h, 8); /* filled in below */
    while (store_iter_valid(s->it) && out->len - start < max_bytes) {
        size_t kl, vl;
        const char *k = store_iter_key(s->it, &kl);
        if (wal_is_log_key(k, kl) ||
            (kl == sizeof WAL_POS_KEY - 1 && memcmp(k, WAL_POS_KEY, kl) == 0)) {
            store_iter_next(s->it);
            continue;
        }
        const char *v = store_iter_val(s->it, &vl);
        unsigned char l[4];
        put_u32be(l, (uint32_t)kl);
        buf_append(out, l, 4);
        buf_append(out, k, kl);
        put_u32be(l, (uint32_t)vl);
        buf_append(out, l, 4);
        buf_append(out, v, vl);
        count++;
        store_iter_next(s->it);
    }
    if (count == 0) {
        out->len = start;
        return 0;
    }
    put_u32be(h, count);
    put_u32be(h + 4, crc32c(0, out->data + start + 8, out->len - start - 8));
    memcpy(out->data + start, h, 8);
    s->keys += count;
    return 1;
}

void dump_source_close(struct dump_source *s)
{
    if (!s) return;
    store_iter_free(s->it);
    store_snapshot_release(s->st, s->snap);
    free(s);
}

long dump_chunk_check(const char *chunk, size_t len)
{
    const unsigned char *u = (const unsigned char *)chunk;
    if (len < 8) return -1;
    uint32_t count = get_u32be(u);
    if (crc32c(0, u + 8, len - 8) != get_u32be(u + 4)) return -1;
    size_t i = 8;
    for (uint32_t n = 0; n < count; n++) {
        if (len - i < 4) return -1;
        size_t kl = get_u32be(u + i);
        i += 4;
        if (len - i < kl + 4) return -1;
        i += kl;
        size_t vl = get_u32be(u + i);
        i += 4;
        if (len - i < vl) return -1;
        i += vl;
    }
    return i == len ? (long)count : -1;
}

/* ---------------- loader ---------------- */

struct dump_loader {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_filterpolicy_t *filter;
    leveldb_writeoptions_t *wo;
    unsigned long long keys;
};

static void loader_free(struct dump_loader *l)
{
    if (l->db) leveldb_close(l->db);
    if (l->wo) leveldb_writeoptions_destroy(l->wo);
    leveldb_options_destroy(l->opts);
    if (l->filter) leveldb_filterpolicy_destroy(l->filter);
    free(l);
}

struct dump_loader *dump_loader_open(const char *dir, char **err)
{
    struct dump_loader *l = xcalloc(1, sizeof *l);
    char *lerr = NULL;
    l->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(l->opts, 1);
    leveldb_options_set_write_buffer_size(l->opts, 64u << 20);
    leveldb_options_set_compression(l->opts, leveldb_snappy_compression);
    /* The node's store opens with a 10-bit bloom filter: build the same. */
    l->filter = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_filter_policy(l->opts, l->filter);
    if (mkdir_p(dir) < 0) {
        *err = xstrdup("cannot create the directory");
        loader_free(l);
        return NULL;
    }
    l->db = leveldb_open(l->opts, dir, &lerr);
    if (lerr) {
        *err = xstrdup(lerr);
        leveldb_free(lerr);
        l->db = NULL;
        loader_free(l);
        return NULL;
    }
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_iterator_t *it = leveldb_create_iterator(l->db, ro);
    leveldb_iter_seek_to_first(it);
    int empty = !leveldb_iter_valid(it);
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(ro);
    if (!empty) {
        *err = xstrdup("the target database is not empty");
        loader_free(l);
        return NULL;
    }
    l->wo = leveldb_writeoptions_create();
    return l;
}

int dump_loader_chunk(struct dump_loader *l, const char *chunk, size_t len, const char **err)
{
    long count = dump_chunk_check(chunk, len);
    if (count < 0) {
        *err = "snapshot chunk fails its checksum or is malformed";
        return -1;
    }
    const unsigned char *u = (const unsigned char *)chunk;
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    size_t i = 8;
    for (long n = 0; n < count; n++) {
        size_t kl = get_u32be(u + i);
        const char *k = chunk + i + 4;
        i += 4 + kl;
        size_t vl = get_u32be(u + i);
        leveldb_writebatch_put(wb, k, kl, chunk + i + 4, vl);
        i += 4 + vl;
    }
    char *lerr = NULL;
    leveldb_write(l->db, l->wo, wb, &lerr);
    leveldb_writebatch_destroy(wb);
    if (lerr) {
        log_error("writing a snapshot chunk: %s", lerr);
        leveldb_free(lerr);
        *err = "storage write failed";
        return -1;
    }
    l->keys += (unsigned long long)count;
    return 0;
}

unsigned long long dump_loader_keys(const struct dump_loader *l)
{
    return l->keys;
}

int dump_loader_finish(struct dump_loader *l, const struct wal_pos *p, char **err)
{
    struct wal_pos np = *p;
    np.first_lsn = np.last_lsn + 1;
    np.log_bytes = 0;
    if (np.epoch < np.last_epoch) np.epoch = np.last_epoch;
    unsigned char v[WAL_POS_LEN];
    wal_pos_encode(&np, v);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(wo, 1);
    char *lerr = NULL;
    leveldb_put(l->db, wo, WAL_POS_KEY, sizeof WAL_POS_KEY - 1, (const char *)v, sizeof v, &lerr);
    leveldb_writeoptions_destroy(wo);
    int r = 0;
    if (lerr) {
        *err = xstrdup(lerr);
        leveldb_free(lerr);
        r = -1;
    }
    loader_free(l);
    return r;
}

void dump_loader_abort(struct dump_loader *l, const char *dir)
{
    if (!l) return;
    loader_free(l);
    dump_destroy_dir(dir);
}

int dump_destroy_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) < 0) return 0;
    leveldb_options_t *o = leveldb_options_create();
    char *lerr = NULL;
    leveldb_destroy_db(o, dir, &lerr);
    leveldb_options_destroy(o);
    if (lerr) {
        log_warn("cannot remove %s: %s", dir, lerr);
        leveldb_free(lerr);
        return -1;
    }
    rmdir(dir);
    return 0;
}

void dump_header_encode(const struct wal_pos *p, unsigned char out[DUMP_HEADER_LEN])
{
    memcpy(out, DUMP_MAGIC, DUMP_MAGIC_LEN);
    wal_pos_encode(p, out + DUMP_MAGIC_LEN);
    put_u32be(out + DUMP_MAGIC_LEN + WAL_POS_LEN, crc32c(0, out, DUMP_MAGIC_LEN + WAL_POS_LEN));
}

int dump_header_decode(const unsigned char *h, size_t len, struct wal_pos *p)
{
    if (len < DUMP_HEADER_LEN || memcmp(h, DUMP_MAGIC, DUMP_MAGIC_LEN) != 0) return -1;
    if (crc32c(0, h, DUMP_MAGIC_LEN + WAL_POS_LEN) != get_u32be(h + DUMP_MAGIC_LEN + WAL_POS_LEN))
        return -1;
    return wal_pos_decode((const char *)h + DUMP_MAGIC_LEN, WAL_POS_LEN, p);
}
