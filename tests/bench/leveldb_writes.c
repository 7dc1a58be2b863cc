/* leveldb_writes: what a group commit of small writes costs LevelDB itself,
 * for a range of write buffer (memtable) sizes, without a server around it.
 *
 * Each batch looks like one event-loop iteration of SET at pipeline 16 with
 * 50 clients: 800 puts of 12-byte values under 17-byte keys drawn from a
 * 100,000-key space, plus one log block value (the node's WAL block).  The
 * figures are CPU time per put: on the writing thread (the node's event
 * loop pays this) and in the whole process (adds LevelDB's compaction
 * thread), so they hold on a shared machine where wall-clock rates do not.
 *
 *   leveldb_writes DIR PUTS COMPRESSION(0|1) WRITE_BUFFER_MB...
 *
 * Run by tests/bench/bench_leveldb.sh. */
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 800
#define KEYSPACE 100000
#define WAL_BYTES (BATCH * 45)

static double cpu_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int run(const char *dir, long puts, int compression, long wb_mb)
{
    leveldb_options_t *o = leveldb_options_create();
    leveldb_filterpolicy_t *bloom = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_create_if_missing(o, 1);
    leveldb_options_set_write_buffer_size(o, (size_t)wb_mb << 20);
    leveldb_options_set_compression(o, compression ? leveldb_snappy_compression : leveldb_no_compression);
    leveldb_options_set_filter_policy(o, bloom);
    char *err = NULL;
    leveldb_destroy_db(o, dir, &err);
    leveldb_free(err);
    err = NULL;
    leveldb_t *db = leveldb_open(o, dir, &err);
    if (err) {
        fprintf(stderr, "leveldb_writes: %s: %s\n", dir, err);
        return -1;
    }
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    static char wal[WAL_BYTES];
    for (size_t i = 0; i < sizeof wal; i++) wal[i] = (char)('a' + i * 7 % 26);
    char k[32], v[12];
    memset(v, 'x', sizeof v);
    unsigned rnd = 12345;
    double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID), p0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (long done = 0; done < puts && !err; done += BATCH) {
        leveldb_writebatch_t *b = leveldb_writebatch_create();
        for (int j = 0; j < BATCH; j++) {
            rnd = rnd * 1103515245u + 12345u;
            int kl = snprintf(k, sizeof k, "Mkey:%012u", (rnd >> 8) % KEYSPACE);
            leveldb_writebatch_put(b, k, (size_t)kl, v, sizeof v);
        }
        int kl = snprintf(k, sizeof k, "AWL%012ld", done);
        leveldb_writebatch_put(b, k, (size_t)kl, wal, sizeof wal);
        leveldb_write(db, wo, b, &err);
        leveldb_writebatch_destroy(b);
    }
    double t1 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID), p1 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    if (err) fprintf(stderr, "leveldb_writes: write failed: %s\n", err);
    else
        printf("write_buffer %3ld MB  compression %-6s  writer %5.0f ns/put  all threads %5.0f ns/put\n",
               wb_mb, compression ? "snappy" : "none", (t1 - t0) / (double)puts * 1e9,
               (p1 - p0) / (double)puts * 1e9);
    leveldb_close(db);
    leveldb_writeoptions_destroy(wo);
    leveldb_destroy_db(o, dir, &err);
    leveldb_options_destroy(o);
    leveldb_filterpolicy_destroy(bloom);
    return err ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: leveldb_writes DIR PUTS COMPRESSION(0|1) WRITE_BUFFER_MB...\n");
        return 2;
    }
    long puts = atol(argv[2]);
    int compression = atoi(argv[3]);
    for (int i = 4; i < argc; i++)
        if (run(argv[1], puts, compression, atol(argv[i])) < 0) return 1;
    return 0;
}
