/* rdbfile: an RDB file of redis-server into the store (see rdbfile.h). */
#include "rdbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "rdb.h"
#include "rdbkey.h"
#include "server.h"
#include "slot.h"
#include "store.h"
#include "util.h"

/* Pending bytes between commits.  The pending batch is a sorted overlay
 * (store.c): small batches keep its inserts cheap (4 MB measured about
 * twice as fast as 32 MB on a 800 MB file). */
#define LOAD_COMMIT_BYTES (4u << 20)
/* Mapped bytes already read are dropped from memory in steps of this. */
#define LOAD_DROP_BYTES (64u << 20)

static int commit_failed;

static void load_commit(void)
{
    const char *e = NULL;
    if (store_commit(srv.st, 0, &e) < 0) commit_failed = 1;
}

static int load_body(struct rdb_reader *r, const unsigned char *base, const unsigned char *slots,
                     struct rdbfile_stats *st, char *err, size_t esz, size_t *dropped, uint64_t *crc)
{
    const unsigned char *p;
    if (rdb_read_raw(r, 9, &p) < 0 || memcmp(p, "REDIS", 5) != 0) {
        snprintf(err, esz, "not an RDB file (no REDIS signature)");
        return -1;
    }
    int ver = 0;
    for (int i = 5; i < 9; i++) {
        if (p[i] < '0' || p[i] > '9') {
            snprintf(err, esz, "not an RDB file (bad version)");
            return -1;
        }
        ver = ver * 10 + (p[i] - '0');
    }
    if (ver < 1 || ver > RDB_VERSION) {
        snprintf(err, esz, "RDB version %d is not supported (at most %d)", ver, RDB_VERSION);
        return -1;
    }
    uint64_t expire = 0, db = 0, now = now_ms();
    for (;;) {
        int type;
        const char *s, *v;
        size_t sl, vl;
        uint64_t a, b;
        size_t at = (size_t)(r->p - base);
        if (rdb_read_byte(r, &type) < 0) goto bad;
        switch (type) {
        case RDB_OPCODE_EOF: {
            if (r->end - r->p >= 8) {
                uint64_t want = 0;
                for (int i = 7; i >= 0; i--) want = want << 8 | r->p[i];
                uint64_t got = rdb_crc64(*crc, base + *dropped, (size_t)(r->p - base) - *dropped);
                if (want != 0 && ver >= 5 && want != got) {
                    snprintf(err, esz, "RDB checksum mismatch");
                    return -1;
                }
            }
            return 0;
        }
        case RDB_OPCODE_AUX:
            if (rdb_read_string(r, 0, &s, &sl) < 0 || rdb_read_string(r, 1, &v, &vl) < 0) goto bad;
            continue;
        case RDB_OPCODE_SELECTDB:
            if (rdb_read_len(r, &db) < 0) goto bad;
            continue;
        case RDB_OPCODE_RESIZEDB:
            if (rdb_read_len(r, &a) < 0 || rdb_read_len(r, &b) < 0) goto bad;
            continue;
        case RDB_OPCODE_EXPIRETIME_MS:
            if (rdb_read_raw(r, 8, &p) < 0) goto bad;
            expire = 0;
            for (int i = 7; i >= 0; i--) expire = expire << 8 | p[i];
            continue;
        case RDB_OPCODE_EXPIRETIME:
            if (rdb_read_raw(r, 4, &p) < 0) goto bad;
            expire = ((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24) * 1000;
            continue;
        case RDB_OPCODE_IDLE:
            if (rdb_read_len(r, &a) < 0) goto bad;
            continue;
        case RDB_OPCODE_FREQ:
            if (rdb_read_byte(r, &type) < 0) goto bad;
            continue;
        case RDB_OPCODE_FUNCTION:
            if (rdb_read_string(r, 0, &s, &sl) < 0) goto bad;
            continue;
        case RDB_OPCODE_MODULE_AUX:
            snprintf(err, esz, "module data at offset %zu is not supported", at);
            return -1;
        default:
            break;
        }
        /* A key: its name, then its value. */
        if (rdb_read_string(r, 0, &s, &sl) < 0) goto bad;
        buf key;
        buf_init(&key);
        buf_append(&key, s, sl);
        int other_slot = slots && !slots[slot_of_key(key.data ? key.data : "", key.len)];
        int skip = db != 0 || other_slot || (expire && expire <= now);
        struct meta m;
        meta_init(&m);
        const char *kerr = NULL;
        int rc = rdbkey_restore(key.data, key.len, r, type, expire, &m, skip, 0, &kerr);
        meta_free(&m);
        if (rc < 0) {
            snprintf(err, esz, "key '%.*s' (type %d) at offset %zu: %s", (int)(key.len > 64 ? 64 : key.len),
                     key.data ? key.data : "", type, at, kerr);
            buf_free(&key);
            return -1;
        }
        buf_free(&key);
        if (db != 0) st->other_db++;
        else if (other_slot) st->other_slots++;
        else if (skip) st->expired++;
        else st->keys++;
        expire = 0;
        if (store_pending_bytes(srv.st) > LOAD_COMMIT_BYTES) load_commit();
        /* Keep RSS to what is being read: the pages behind us are done
         * (the reader never looks back; scratch copies hold what it
         * keeps). */
        size_t done = (size_t)(r->p - base) & ~(size_t)(LOAD_DROP_BYTES - 1);
        if (done > *dropped) {
            *crc = rdb_crc64(*crc, base + *dropped, done - *dropped);
            madvise((void *)(base + *dropped), done - *dropped, MADV_DONTNEED);
            *dropped = done;
        }
        if (commit_failed) {
            snprintf(err, esz, "storage write failed");
            return -1;
        }
    }
bad:
    snprintf(err, esz, "malformed RDB file at offset %zu: %s", (size_t)(r->p - base), r->err ? r->err : "?");
    return -1;
}

int rdbfile_load(const char *path, const unsigned char *slots, struct rdbfile_stats *st, char *err,
                 size_t esz)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, esz, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || sb.st_size < 9) {
        snprintf(err, esz, "%s is too short to be an RDB file", path);
        close(fd);
        return -1;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, esz, "cannot map %s: %s", path, strerror(errno));
        return -1;
    }
    madvise(map, (size_t)sb.st_size, MADV_SEQUENTIAL);
    st->bytes = (unsigned long long)sb.st_size;
    srv.cmd_time_ms = now_ms();
    rdbkey_set_flush_hook(load_commit, LOAD_COMMIT_BYTES);
    struct rdb_reader r;
    rdb_reader_init(&r, map, (size_t)sb.st_size);
    size_t dropped = 0;
    uint64_t crc = 0;   /* CRC-64 of base[0..dropped), for the trailer check */
    int rc = load_body(&r, map, slots, st, err, esz, &dropped, &crc);
    rdb_reader_free(&r);
    rdbkey_set_flush_hook(NULL, 0);
    munmap(map, (size_t)sb.st_size);
    if (rc == 0) {
        const char *e = NULL;
        if (store_commit(srv.st, 1, &e) < 0 || commit_failed) {
            snprintf(err, esz, "storage write failed: %s", e ? e : "?");
            return -1;
        }
    }
    return rc;
}
