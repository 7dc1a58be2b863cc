/* strata-load: load a strata-dump backup file into an empty node data
 * directory (LedisDB's ledis-load).  Run it while no node uses the
 * directory; the node started on it afterwards sits at the dump's
 * (epoch, lsn) with an empty log, so replicas of it full sync once.
 * Every chunk is checked (CRC-32C) before it is written; on any error the
 * partial database is deleted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: strata-load --dir DATA_DIR FILE\n"
               "Load a strata-dump file into an empty strata-node data directory.\n");
}

static int read_all(FILE *f, void *p, size_t n)
{
    return fread(p, 1, n, f) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("strata-load %s\n", STRATA_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!dir || !path) {
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
