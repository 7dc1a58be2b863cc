/* slotmap: a cluster's current slot map, built from claims.  See
 * slotmap.h. */
#include "slotmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define SLOTMAP_MAGIC "strata-slotmap 1"

void slotmap_init(struct slotmap *m)
{
    m->ngroups = 0;
    m->names = NULL;
    for (int s = 0; s < SLOTMAP_SLOTS; s++) {
        m->owner[s] = -1;
        m->epoch[s] = 0;
    }
}

void slotmap_free(struct slotmap *m)
{
    for (int i = 0; i < m->ngroups; i++) free(m->names[i]);
    free(m->names);
    m->names = NULL;
    m->ngroups = 0;
}

void slotmap_copy(struct slotmap *dst, const struct slotmap *src)
{
    memcpy(dst->owner, src->owner, sizeof dst->owner);
    memcpy(dst->epoch, src->epoch, sizeof dst->epoch);
    dst->ngroups = src->ngroups;
    dst->names = src->ngroups ? xcalloc((size_t)src->ngroups, sizeof *dst->names) : NULL;
    for (int i = 0; i < src->ngroups; i++) dst->names[i] = xstrdup(src->names[i]);
}

int slotmap_find(const struct slotmap *m, const char *name)
{
    for (int i = 0; i < m->ngroups; i++)
        if (!strcmp(m->names[i], name)) return i;
    return -1;
}

int slotmap_group(struct slotmap *m, const char *name)
{
    int i = slotmap_find(m, name);
    if (i >= 0) return i;
    if (m->ngroups >= SLOTMAP_MAX_GROUPS) return -1;
    char **n = xmalloc(sizeof *n * (size_t)(m->ngroups + 1));
    if (m->ngroups) memcpy(n, m->names, sizeof *n * (size_t)m->ngroups);
    free(m->names);
    m->names = n;
    m->names[m->ngroups] = xstrdup(name);
    return m->ngroups++;
}

int slotmap_claim(struct slotmap *m, int lo, int hi, const char *group, uint64_t epoch, int *changed)
{
    if (lo < 0 || hi >= SLOTMAP_SLOTS || lo > hi || epoch == 0 || !group[0]) return -1;
    int g = slotmap_group(m, group);
    if (g < 0) return -1;
    int conflicts = 0;
    for (int s = lo; s <= hi; s++) {
        if (epoch > m->epoch[s]) {
            if (changed) (*changed)++;
            m->owner[s] = (int16_t)g;
            m->epoch[s] = epoch;
        } else if (epoch == m->epoch[s] && m->owner[s] != g) {
            conflicts++;
        }
    }
    return conflicts;
}

int slotmap_merge(struct slotmap *m, const struct slotmap *src, int *changed)
{
    struct slotmap_range *r = xmalloc(sizeof *r * SLOTMAP_SLOTS);
    int n = slotmap_ranges(src, r), conflicts = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].group < 0) continue;
        int c = slotmap_claim(m, r[i].first, r[i].last, src->names[r[i].group], r[i].epoch, changed);
        if (c > 0) conflicts += c;
    }
    free(r);
    return conflicts;
}

int slotmap_ranges(const struct slotmap *m, struct slotmap_range *out)
{
    int n = 0;
    for (int s = 0; s < SLOTMAP_SLOTS;) {
        int e = s;
        while (e + 1 < SLOTMAP_SLOTS && m->owner[e + 1] == m->owner[s] && m->epoch[e + 1] == m->epoch[s])
            e++;
        out[n].first = s;
        out[n].last = e;
        out[n].group = m->owner[s];
        out[n].epoch = m->epoch[s];
        n++;
        s = e + 1;
    }
    return n;
}

uint64_t slotmap_max_epoch(const struct slotmap *m)
{
    uint64_t e = 0;
    for (int s = 0; s < SLOTMAP_SLOTS; s++)
        if (m->epoch[s] > e) e = m->epoch[s];
    return e;
}

int slotmap_claimed(const struct slotmap *m)
{
    int n = 0;
    for (int s = 0; s < SLOTMAP_SLOTS; s++) n += m->owner[s] >= 0;
    return n;
}

void slotmap_format(const struct slotmap *m, buf *out)
{
    struct slotmap_range *r = xmalloc(sizeof *r * SLOTMAP_SLOTS);
    int n = slotmap_ranges(m, r);
    buf_printf(out, "%s\n", SLOTMAP_MAGIC);
    for (int i = 0; i < n; i++)
        if (r[i].group >= 0)
            buf_printf(out, "%d %d %s %llu\n", r[i].first, r[i].last, m->names[r[i].group],
                       (unsigned long long)r[i].epoch);
    free(r);
}

int slotmap_parse(struct slotmap *m, const char *text, size_t len, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[512];
        lineno++;
        if (ll >= sizeof line) {
            snprintf(err, errlen, "line %d: too long", lineno);
            return -1;
        }
        memcpy(line, p, ll);
        line[ll] = '\0';
        if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
        p = nl ? nl + 1 : end;
        if (lineno == 1) {
            if (strcmp(line, SLOTMAP_MAGIC) != 0) {
                snprintf(err, errlen, "line 1: not a slot map (expected '%s')", SLOTMAP_MAGIC);
                return -1;
            }
            continue;
        }
        if (!ll) continue;
        char group[256];
        int lo, hi, used = 0;
        unsigned long long epoch;
        if (sscanf(line, "%d %d %255s %llu%n", &lo, &hi, group, &epoch, &used) != 4 ||
            (size_t)used != ll || slotmap_claim(m, lo, hi, group, epoch, NULL) < 0) {
            snprintf(err, errlen, "line %d: expected '<first> <last> <group> <epoch>'", lineno);
            return -1;
        }
    }
    if (lineno == 0) {
        snprintf(err, errlen, "empty file");
        return -1;
    }
    return 0;
}

int slotmap_save(const struct slotmap *m, const char *path)
{
    buf b;
    buf_init(&b);
    slotmap_format(m, &b);
    int rc = write_file_durable(path, b.data, b.len);
    int saved = errno;
    buf_free(&b);
    errno = saved;
    return rc;
}

int slotmap_load(struct slotmap *m, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf b;
    buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    char perr[200];
    int rc = 1;
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    } else if (slotmap_parse(m, b.data ? b.data : "", b.len, perr, sizeof perr) < 0) {
        snprintf(err, errlen, "%s: %s", path, perr);
        rc = -1;
    }
    buf_free(&b);
    return rc;
}
