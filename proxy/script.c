/* script: the sha -> body cache.  See script.h.
 *
 * A chained hash table on the sha (its first bytes are already uniformly
 * distributed) plus a FIFO of insertion order for eviction. */
#include "script.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"
#include "util.h"

#define NBUCKETS 8192

struct sentry {
    struct sentry *hnext;        /* hash chain */
    struct sentry *older, *newer; /* FIFO, oldest first */
    char sha[41];
    size_t len;
    char body[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sentry *buckets[NBUCKETS];
static struct sentry *oldest, *newest;
static size_t count, bytes;

static unsigned bucket_of(const char *sha)
{
    unsigned h = 0;
    for (int i = 0; i < 8; i++) {
        int c = sha[i];
        h = h * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return h % NBUCKETS;
}

static void lower_sha(const char *in, char out[41])
{
    for (int i = 0; i < 40; i++) out[i] = (char)tolower((unsigned char)in[i]);
    out[40] = '\0';
}

void script_sha(const char *body, size_t len, char sha[41])
{
    sha1_hex(body, len, sha);
}

static struct sentry *find(const char *sha)
{
    for (struct sentry *e = buckets[bucket_of(sha)]; e; e = e->hnext)
        if (!memcmp(e->sha, sha, 40)) return e;
    return NULL;
}

static void unlink_entry(struct sentry *e)
{
    struct sentry **pp = &buckets[bucket_of(e->sha)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->older) e->older->newer = e->newer;
    else oldest = e->newer;
    if (e->newer) e->newer->older = e->older;
    else newest = e->older;
    count--;
    bytes -= e->len;
    free(e);
}

void script_cache_put(const char *body, size_t len, char sha_out[41])
{
    char sha[41];
    script_sha(body, len, sha);
    if (sha_out) memcpy(sha_out, sha, 41);
    if (len > SCRIPT_CACHE_BYTES) return;
    pthread_mutex_lock(&lock);
    if (!find(sha)) {
        while (oldest && (count >= SCRIPT_CACHE_MAX || bytes + len > SCRIPT_CACHE_BYTES))
            unlink_entry(oldest);
        struct sentry *e = xmalloc(sizeof *e + len);
        memcpy(e->sha, sha, 41);
        e->len = len;
        memcpy(e->body, body, len);
        unsigned b = bucket_of(sha);
        e->hnext = buckets[b];
        buckets[b] = e;
        e->older = newest;
        e->newer = NULL;
        if (newest) newest->newer = e;
        else oldest = e;
        newest = e;
        count++;
        bytes += len;
    }
    pthread_mutex_unlock(&lock);
}

int script_cache_get(const char *shain, size_t shalen, buf *out)
{
    if (shalen != 40) return 0;
    char sha[41];
    lower_sha(shain, sha);
    int found = 0;
    pthread_mutex_lock(&lock);
    struct sentry *e = find(sha);
    if (e) {
        buf_append(out, e->body, e->len);
        found = 1;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void script_cache_clear(void)
{
    pthread_mutex_lock(&lock);
    while (oldest) unlink_entry(oldest);
    pthread_mutex_unlock(&lock);
}

size_t script_cache_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}

void script_cache_free(void)
{
    script_cache_clear();
}
