/* leveldb_floor: the single-thread floor of a GET at scale, without a
 * server around it: random leveldb_get of string metadata records ('M'
 * then redis-benchmark's key, "key:" and 12 digits) on a LevelDB that
 * strata-node wrote (stopped first: LevelDB locks its directory), opened
 * with the node's options.  Keys are drawn as redis-benchmark -r draws
 * them (uniform over 0..KEYSPACE-1), so a run over the node's data
 * directory asks what the node's GET benchmark asks.
 *
 *   leveldb_floor DIR GETS KEYSPACE BLOCK_CACHE_MB MAX_OPEN_FILES
 *                 BLOOM_BITS COMPRESSION(0|1) [MAX_FILE_SIZE_MB]
 *
 * Prints one warm-up pass and one timed pass: gets, hits, wall and CPU
 * time per get.  Run by tests/bench/bench_scale.sh. */
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned long long rnd_state = 88172645463325252ULL;

static unsigned long long rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void pass(leveldb_t *db, leveldb_readoptions_t *ro, long gets, long keyspace, const char *what)
{
    char key[32];
    long hits = 0;
    double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < gets; i++) {
        int kl = snprintf(key, sizeof key, "Mkey:%012llu", rnd() % (unsigned long long)keyspace);
        char *err = NULL;
        size_t vl;
        char *v = leveldb_get(db, ro, key, (size_t)kl, &vl, &err);
        if (err) {
            fprintf(stderr, "leveldb_get: %s\n", err);
            exit(1);
        }
        if (v) {
            hits++;
            leveldb_free(v);
        }
    }
    double w = seconds(CLOCK_MONOTONIC) - w0, c = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    printf("floor %-7s %ld gets, %ld hits: %.2f us wall, %.2f us CPU a get, %.0f gets/s\n", what, gets,
           hits, w * 1e6 / (double)gets, c * 1e6 / (double)gets, (double)gets / w);
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: %s DIR GETS KEYSPACE BLOCK_CACHE_MB MAX_OPEN_FILES BLOOM_BITS COMPRESSION [MAX_FILE_SIZE_MB]\n",
                argv[0]);
        return 2;
    }
    long gets = atol(argv[2]), keyspace = atol(argv[3]);
    if (gets <= 0 || keyspace <= 0) return 2;
    leveldb_options_t *o = leveldb_options_create();
    leveldb_cache_t *cache = leveldb_cache_create_lru((size_t)atol(argv[4]) << 20);
    leveldb_filterpolicy_t *bloom = NULL;
    leveldb_options_set_cache(o, cache);
    leveldb_options_set_max_open_files(o, atoi(argv[5]));
    if (atoi(argv[6]) > 0) {
        bloom = leveldb_filterpolicy_create_bloom(atoi(argv[6]));
        leveldb_options_set_filter_policy(o, bloom);
    }
    leveldb_options_set_compression(o, atoi(argv[7]) ? leveldb_snappy_compression : leveldb_no_compression);
    if (argc > 8) leveldb_options_set_max_file_size(o, (size_t)atol(argv[8]) << 20);
    char *err = NULL;
    leveldb_t *db = leveldb_open(o, argv[1], &err);
    if (err) {
        fprintf(stderr, "leveldb_open %s: %s\n", argv[1], err);
        return 1;
    }
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    pass(db, ro, gets, keyspace, "warm-up");
    pass(db, ro, gets, keyspace, "timed");
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    leveldb_options_destroy(o);
    leveldb_cache_destroy(cache);
    if (bloom) leveldb_filterpolicy_destroy(bloom);
    return 0;
}
