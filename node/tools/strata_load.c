/* strata-load: load a strata-dump backup file into an empty node data
 * directory (LedisDB's ledis-load), or (--rdb) import an RDB file written
 * by redis-server 7.0 into one (rdbfile.c).
 *
 * --rdb writes one node's data directory directly, not through the
 * proxy: by default every key of the file lands in that directory (a
 * standalone node or a one-group cluster).  For a cluster, run it once per
 * group on that group's master directory with --config topology.yaml
 * --group NAME (or --slots RANGES): each run keeps the keys of the
 * group's slots, as the proxy would route them.  The directory ends at
 * epoch 1, lsn 1 with an empty log, so replicas full sync once.
 *  Run it while no node uses the
 * directory; the node started on it afterwards sits at the dump's
 * (epoch, lsn) with an empty log, so replicas of it full sync once.
 * Every chunk is checked (CRC-32C) before it is written; on any error the
 * partial database is deleted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dump.h"
#include "rdbfile.h"
#include "server.h"
#include "store.h"
#include "slot.h"
#include "topology.h"
#include "util.h"
#include "wal.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: strata-load --dir DATA_DIR FILE\n"
               "       strata-load --dir DATA_DIR --rdb RDB_FILE [--config TOPOLOGY --group NAME | --slots RANGES]\n"
               "Load a strata-dump file, or an RDB file of redis-server 7.0, into an empty\n"
               "strata-node data directory.\n");
}

static int read_all(FILE *f, void *p, size_t n)
{
    return fread(p, 1, n, f) == n ? 0 : -1;
}

/* --rdb: open the directory as the node would (store.h), refuse a
 * non-empty one, import, then write the replication position. */
static void mark_slots(void *ud, int lo, int hi)
{
    unsigned char *mask = ud;
    for (int s = lo; s <= hi; s++) mask[s] = 1;
}

/* The slot mask of --slots or of --config/--group; 0, or -1 (printed). */
static int slot_mask(const char *slots, const char *config, const char *group, unsigned char *mask)
{
    memset(mask, 0, SLOT_COUNT);
    if (slots) {
        char err[256];
        if (topo_parse_slots(slots, mark_slots, mask, err, sizeof err) < 0) {
            fprintf(stderr, "strata-load: --slots: %s\n", err);
            return -1;
        }
        return 0;
    }
    struct topology t;
    buf errs;
    buf_init(&errs);
    if (topo_load(config, &t, NULL, &errs) < 0) {
        fprintf(stderr, "%.*s", (int)errs.len, errs.data);
        buf_free(&errs);
        return -1;
    }
    buf_free(&errs);
    int g = -1;
    for (int i = 0; i < t.ngroups; i++)
        if (!strcmp(t.groups[i].name, group)) g = i;
    if (g < 0) {
        fprintf(stderr, "strata-load: %s has no group '%s'\n", config, group);
        topo_free(&t);
        return -1;
    }
    for (int s = 0; s < SLOT_COUNT; s++) mask[s] = t.slot_group[s] == g;
    topo_free(&t);
    return 0;
}

static int load_rdb(const char *dir, const char *path, const unsigned char *slots)
{
    struct store_opts so = { .block_cache = 8 << 20, .write_buffer = 64 << 20, .max_open_files = 1000,
                             .compression = 1, .bloom_bits = 10, .meta_cache_slots = 0 };
    char *err = NULL;
    if (mkdir_p(dir) < 0) {
        fprintf(stderr, "strata-load: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    srv.st = store_open(dir, &so, &err);
    if (!srv.st) {
        fprintf(stderr, "strata-load: cannot open %s: %s\n", dir, err);
        free(err);
        return 1;
    }
    store_iter *it = store_iter_new(srv.st);
    store_iter_seek_first(it);
    int empty = !store_iter_valid(it);
    store_iter_free(it);
    if (!empty) {
        fprintf(stderr, "strata-load: cannot load into %s: the target database is not empty\n", dir);
        store_close(srv.st);
        return 1;
    }
    srv.next_version = db_load_version_hwm();
    struct rdbfile_stats st;
    char msg[512];
    uint64_t t0 = now_us();
    int rc = rdbfile_load(path, slots, &st, msg, sizeof msg);
    if (rc == 0) {
        struct wal_pos pos = { .epoch = 1, .last_epoch = 1, .last_lsn = 1, .first_lsn = 2 };
        unsigned char v[WAL_POS_LEN];
        wal_pos_encode(&pos, v);
        store_put_raw(srv.st, WAL_POS_KEY, sizeof WAL_POS_KEY - 1, (const char *)v, sizeof v);
        const char *cerr = NULL;
        if (store_commit(srv.st, 1, &cerr) < 0) {
            snprintf(msg, sizeof msg, "storage write failed: %s", cerr ? cerr : "?");
            rc = -1;
        }
    }
    store_close(srv.st);
    srv.st = NULL;
    if (rc < 0) {
        fprintf(stderr, "strata-load: %s: %s\n", path, msg);
        dump_destroy_dir(dir);
        return 1;
    }
    double secs = (double)(now_us() - t0) / 1e6;
    printf("strata-load: %s: %llu keys loaded into %s (%llu already expired, %llu of other databases, "
           "%llu of other slots skipped); %.1f MB in %.2f s, %.1f MB/s\n",
           path, st.keys, dir, st.expired, st.other_db, st.other_slots, (double)st.bytes / 1e6, secs,
           secs > 0 ? (double)st.bytes / 1e6 / secs : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *path = NULL, *rdb = NULL, *slots = NULL, *config = NULL, *group = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("strata-load %s\n", STRATA_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--rdb") && i + 1 < argc) {
            rdb = argv[++i];
        } else if (!strcmp(argv[i], "--slots") && i + 1 < argc) {
            slots = argv[++i];
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--group") && i + 1 < argc) {
            group = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (dir && rdb && !path && !!config == !!group && !(slots && config)) {
        static unsigned char mask[SLOT_COUNT];
        if ((slots || config) && slot_mask(slots, config, group, mask) < 0) return 2;
        crc32c_init();
        return load_rdb(dir, rdb, slots || config ? mask : NULL);
    }
    if (!dir || !path || rdb || slots || config || group) {
        usage(stderr);
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "strata-load: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    unsigned char hdr[DUMP_HEADER_LEN];
    struct wal_pos pos;
    if (read_all(f, hdr, sizeof hdr) < 0 || dump_header_decode(hdr, sizeof hdr, &pos) < 0) {
        fprintf(stderr, "strata-load: %s is not a strata-dump file (bad header)\n", path);
        fclose(f);
        return 1;
    }
    char *err = NULL;
    struct dump_loader *l = dump_loader_open(dir, &err);
    if (!l) {
        fprintf(stderr, "strata-load: cannot load into %s: %s\n", dir, err);
        free(err);
        fclose(f);
        return 1;
    }
    buf chunk;
    buf_init(&chunk);
    int bad = 0;
    unsigned long long nkeys = 0;
    for (;;) {
        unsigned char lb[4];
        if (read_all(f, lb, 4) < 0) {
            fprintf(stderr, "strata-load: %s is truncated\n", path);
            bad = 1;
            break;
        }
        uint32_t n = get_u32be(lb);
        if (n == 0) {
            unsigned char kb[8];
            if (read_all(f, kb, 8) < 0) {
                fprintf(stderr, "strata-load: %s is truncated\n", path);
                bad = 1;
            }
            nkeys = get_u64be(kb);
            break;
        }
        buf_clear(&chunk);
        buf_reserve(&chunk, n);
        const char *cerr;
        if (read_all(f, chunk.data, n) < 0) {
            fprintf(stderr, "strata-load: %s is truncated\n", path);
            bad = 1;
            break;
        }
        chunk.len = n;
        if (dump_loader_chunk(l, chunk.data, chunk.len, &cerr) < 0) {
            fprintf(stderr, "strata-load: %s: %s\n", path, cerr);
            bad = 1;
            break;
        }
    }
    fclose(f);
    buf_free(&chunk);
    if (!bad && nkeys != dump_loader_keys(l)) {
        fprintf(stderr, "strata-load: the file announces %llu keys but holds %llu\n", nkeys, dump_loader_keys(l));
        bad = 1;
    }
    if (bad) {
        dump_loader_abort(l, dir);
        return 1;
    }
    unsigned long long keys = dump_loader_keys(l);
    if (dump_loader_finish(l, &pos, &err) < 0) {
        fprintf(stderr, "strata-load: cannot finish %s: %s\n", dir, err);
        free(err);
        return 1;
    }
    printf("strata-load: %s: %llu keys loaded into %s at epoch %llu, lsn %llu\n", path, keys, dir,
           (unsigned long long)pos.epoch, (unsigned long long)pos.last_lsn);
    return 0;
}
