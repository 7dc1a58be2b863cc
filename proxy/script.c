/* script: the sha -> body cache.  See script.h.
 *
 * A chained hash table on the sha (its first bytes are already uniformly
 * distributed) plus a FIFO of insertion order for eviction. */
#include "script.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
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
static atomic_uint generation;   /* bumped by every SCRIPT FLUSH */
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
    atomic_fetch_add(&generation, 1);
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
    script_lib_clear();
}

/* ---- function libraries: a small array, most recently loaded last ---- */

struct lib {
    size_t nlen, len;
    const char *name;     /* points into body */
    char *body;
};

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lib libs[SCRIPT_LIB_MAX];
static int nlibs;
static size_t lib_bytes;

size_t script_lib_name(const char *body, size_t len, const char **name)
{
    if (len < 2 || body[0] != '#' || body[1] != '!') return 0;
    const char *end = memchr(body, '\n', len);
    if (!end) end = body + len;
    const char *p = body + 2;
    while (p < end) {
        while (p < end && *p == ' ') p++;
        const char *w = p;
        while (p < end && *p != ' ') p++;
        if (p - w > 5 && !memcmp(w, "name=", 5)) {
            *name = w + 5;
            return (size_t)(p - w - 5);
        }
    }
    return 0;
}

static void lib_drop(int i)
{
    lib_bytes -= libs[i].len;
    free(libs[i].body);
    memmove(&libs[i], &libs[i + 1], sizeof *libs * (size_t)(nlibs - i - 1));
    nlibs--;
}

static int lib_find(const char *name, size_t nlen)
{
    for (int i = 0; i < nlibs; i++)
        if (libs[i].nlen == nlen && !memcmp(libs[i].name, name, nlen)) return i;
    return -1;
}

void script_lib_put(const char *body, size_t len)
{
    const char *name;
    size_t nlen = script_lib_name(body, len, &name);
    if (!nlen || len > SCRIPT_CACHE_BYTES) return;
    pthread_mutex_lock(&lib_lock);
    int i = lib_find(name, nlen);
    if (i >= 0) lib_drop(i);
    while (nlibs && (nlibs >= SCRIPT_LIB_MAX || lib_bytes + len > SCRIPT_CACHE_BYTES)) lib_drop(0);
    struct lib *l = &libs[nlibs++];
    l->body = xmalloc(len);
    memcpy(l->body, body, len);
    l->len = len;
    l->name = l->body + (name - body);
    l->nlen = nlen;
    lib_bytes += len;
    pthread_mutex_unlock(&lib_lock);
}

void script_lib_del(const char *name, size_t len)
{
    pthread_mutex_lock(&lib_lock);
    int i = lib_find(name, len);
    if (i >= 0) lib_drop(i);
    pthread_mutex_unlock(&lib_lock);
}

void script_lib_clear(void)
{
    pthread_mutex_lock(&lib_lock);
    while (nlibs) lib_drop(nlibs - 1);
    pthread_mutex_unlock(&lib_lock);
}

int script_lib_load_all(buf *out)
{
    pthread_mutex_lock(&lib_lock);
    for (int i = 0; i < nlibs; i++) {
        buf_append_str(out, "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n");
        merge_add_arg(out, libs[i].body, libs[i].len);
    }
    int n = nlibs;
    pthread_mutex_unlock(&lib_lock);
    return n;
}

size_t script_lib_count(void)
{
    pthread_mutex_lock(&lib_lock);
    size_t n = (size_t)nlibs;
    pthread_mutex_unlock(&lib_lock);
    return n;
}

/* ---- per-link sets: open addressing over the 40 hex digits ---- */

struct script_set {
    unsigned gen;         /* generation the entries belong to */
    size_t n, cap;        /* cap a power of two, at most half full */
    char (*slots)[40];    /* an empty slot starts with '\0' */
};

static size_t set_pos(const struct script_set *s, const char *sha)
{
    return bucket_of(sha) & (s->cap - 1);
}

int script_set_has(const struct script_set *s, const char *sha)
{
    if (!s || s->n == 0 || s->gen != atomic_load(&generation)) return 0;
    for (size_t i = set_pos(s, sha);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slots[i][0]) return 0;
        if (!memcmp(s->slots[i], sha, 40)) return 1;
    }
}

static void set_insert(struct script_set *s, const char *sha)
{
    for (size_t i = set_pos(s, sha);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slots[i][0]) {
            memcpy(s->slots[i], sha, 40);
            s->n++;
            return;
        }
        if (!memcmp(s->slots[i], sha, 40)) return;
    }
}

void script_set_add(struct script_set **sp, const char *sha)
{
    struct script_set *s = *sp;
    if (!s) {
        s = *sp = xcalloc(1, sizeof *s);
        s->cap = 16;
        s->slots = xcalloc(s->cap, sizeof *s->slots);
        s->gen = atomic_load(&generation);
    }
    unsigned gen = atomic_load(&generation);
    if (s->gen != gen || s->n >= SCRIPT_SET_MAX) {
        script_set_clear(s);
        s->gen = gen;
    }
    if ((s->n + 1) * 2 > s->cap) {
        struct script_set old = *s;
        s->cap *= 2;
        s->n = 0;
        s->slots = xcalloc(s->cap, sizeof *s->slots);
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i][0]) set_insert(s, old.slots[i]);
        free(old.slots);
    }
    set_insert(s, sha);
}

void script_set_clear(struct script_set *s)
{
    if (!s) return;
    memset(s->slots, 0, s->cap * sizeof *s->slots);
    s->n = 0;
}

void script_set_free(struct script_set *s)
{
    if (!s) return;
    free(s->slots);
    free(s);
}
