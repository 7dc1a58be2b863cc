/* strata-dump: write a consistent snapshot of a running strata-node to a
 * backup file (LedisDB's ledis-dump).
 *
 * The tool asks the node for the same snapshot a replica's full sync gets
 * (PSYNC ? -1 DUMP): a LevelDB snapshot iterated together with the
 * replication position it was taken at, so the file holds exactly the
 * state after record `lsn`.  The file is written to FILE.tmp, fsync'd and
 * renamed, so FILE is either complete or absent.  Format: dump.h. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: strata-dump [--host HOST] [--port PORT] [--pass PASSWORD] FILE\n"
               "Write a consistent snapshot of a running strata-node to FILE.\n"
               "Defaults: --host 127.0.0.1 --port 7000.\n");
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *pass = NULL, *path = NULL;
    int port = 7000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("strata-dump %s\n", STRATA_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            host = argv[++i];
        } else if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--pass") && i + 1 < argc) {
            pass = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!path || port <= 0 || port > 65535) {
        usage(stderr);
        return 2;
    }
    struct timeval tv = { 60, 0 };
    redisContext *rc = redisConnectWithTimeout(host, port, tv);
    if (!rc || rc->err) {
        fprintf(stderr, "strata-dump: cannot connect to %s:%d: %s\n", host, port, rc ? rc->errstr : "out of memory");
        return 1;
    }
    redisSetTimeout(rc, tv);
    redisReply *r;
    if (pass) {
        r = redisCommand(rc, "AUTH %s", pass);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "strata-dump: AUTH failed: %s\n", r ? r->str : rc->errstr);
            return 1;
        }
        freeReplyObject(r);
    }
    r = redisCommand(rc, "PSYNC ? -1 DUMP");
    unsigned long long e, le, l;
    unsigned crc;
    if (!r || r->type != REDIS_REPLY_STATUS ||
        sscanf(r->str, "FULLSYNC %llu %llu %llu %u", &e, &le, &l, &crc) != 4) {
        fprintf(stderr, "strata-dump: the node refused the dump: %s\n",
                r ? (r->str ? r->str : "unexpected reply") : rc->errstr);
        return 1;
    }
    freeReplyObject(r);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "strata-dump: cannot create %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    struct wal_pos pos = { .epoch = e, .last_epoch = le, .last_lsn = l, .last_crc = crc,
                           .first_lsn = l + 1, .log_bytes = 0 };
    unsigned char hdr[DUMP_HEADER_LEN];
    dump_header_encode(&pos, hdr);
    int bad = write_all(f, hdr, sizeof hdr);
    unsigned long long keys = 0, bytes = 0, nkeys = 0;
    for (;;) {
        if (redisGetReply(rc, (void **)&r) != REDIS_OK || !r) {
            fprintf(stderr, "strata-dump: connection lost: %s\n", rc->errstr);
            bad = 1;
            break;
        }
        if (r->type == REDIS_REPLY_STRING) {
            long n = dump_chunk_check(r->str, r->len);
            unsigned char lb[4];
            put_u32be(lb, (uint32_t)r->len);
            if (n < 0) {
                fprintf(stderr, "strata-dump: a chunk fails its checksum\n");
                bad = 1;
            } else {
                bad |= write_all(f, lb, 4) | write_all(f, r->str, r->len);
                keys += (unsigned long long)n;
                bytes += r->len;
            }
        } else if (r->type == REDIS_REPLY_STATUS && sscanf(r->str, "FULLSYNCEND %llu", &nkeys) == 1) {
            freeReplyObject(r);
            break;
        } else {
            fprintf(stderr, "strata-dump: unexpected reply from the node\n");
            bad = 1;
        }
        freeReplyObject(r);
        if (bad) break;
    }
    redisFree(rc);
    if (!bad && nkeys != keys) {
        fprintf(stderr, "strata-dump: the node announced %llu keys, %llu arrived\n", nkeys, keys);
        bad = 1;
    }
    if (!bad) {
        unsigned char end[12] = { 0 };
        put_u64be(end + 4, keys);
        bad |= write_all(f, end, sizeof end);
        bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    }
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) < 0) {
        fprintf(stderr, "strata-dump: dump failed; %s removed\n", tmp);
        unlink(tmp);
        return 1;
    }
    printf("strata-dump: %s: %llu keys, %.1f MB, epoch %llu, lsn %llu\n", path, keys, (double)bytes / 1e6, e, l);
    return 0;
}
