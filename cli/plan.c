/* plan: reshard and rebalance plans.  See plan.h. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void plan_free(struct plan *p)
{
    free(p->moves);
    free(p->jobs);
    memset(p, 0, sizeof *p);
}

int plan_count(const int *owner, int g)
{
    int n = 0;
    for (int s = 0; s < PLAN_SLOTS; s++) n += owner[s] == g;
    return n;
}

static int move_cmp(const void *a, const void *b)
{
    const struct plan_move *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    if (x->to != y->to) return x->to < y->to ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

int plan_diff(int ngroups, const int *intent, const int *current, struct plan *p)
{
    (void)ngroups;
    memset(p, 0, sizeof *p);
    p->moves = xmalloc(sizeof *p->moves * PLAN_SLOTS);
    for (int s = 0; s < PLAN_SLOTS;) {
        if (current[s] == intent[s] || current[s] < 0) {
            if (current[s] < 0 && intent[s] >= 0) p->unknown++;
            s++;
            continue;
        }
        int e = s;
        while (e + 1 < PLAN_SLOTS && current[e + 1] == current[s] && intent[e + 1] == intent[s]) e++;
        p->moves[p->nmoves++] = (struct plan_move){ s, e, current[s], intent[s] };
        s = e + 1;
    }
    qsort(p->moves, (size_t)p->nmoves, sizeof *p->moves, move_cmp);
    p->jobs = xmalloc(sizeof *p->jobs * (size_t)(p->nmoves ? p->nmoves : 1));
    for (int i = 0; i < p->nmoves;) {
        struct plan_job *j = &p->jobs[p->njobs++];
        memset(j, 0, sizeof *j);
        j->from = p->moves[i].from;
        j->to = p->moves[i].to;
        j->moves = &p->moves[i];
        size_t len = 0;
        while (i < p->nmoves && p->moves[i].from == j->from && p->moves[i].to == j->to &&
               j->nmoves < PLAN_JOB_MAX_RANGES) {
            const struct plan_move *m = &p->moves[i];
            len += (size_t)(m->first == m->last
                                ? snprintf(j->ranges + len, sizeof j->ranges - len, "%s%d", len ? "," : "",
                                           m->first)
                                : snprintf(j->ranges + len, sizeof j->ranges - len, "%s%d-%d",
                                           len ? "," : "", m->first, m->last));
            j->nslots += m->last - m->first + 1;
            j->nmoves++;
            i++;
        }
    }
    return 0;
}

int plan_rebalance(int ngroups, const int *current, int *target)
{
    int *count = xcalloc((size_t)ngroups, sizeof *count);
    int *quota = xcalloc((size_t)ngroups, sizeof *quota);
    int *order = xcalloc((size_t)ngroups, sizeof *order);
    for (int s = 0; s < PLAN_SLOTS; s++)
        if (current[s] >= 0 && current[s] < ngroups) count[current[s]]++;
    /* The extra slots (16384 % n) stay with the groups holding most now
     * (ties: file order), so none of them moves just to move back. */
    for (int g = 0; g < ngroups; g++) order[g] = g;
    for (int i = 1; i < ngroups; i++)
        for (int k = i; k > 0 && count[order[k]] > count[order[k - 1]]; k--) {
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    int base = PLAN_SLOTS / ngroups, extra = PLAN_SLOTS % ngroups;
    for (int i = 0; i < ngroups; i++) quota[order[i]] = base + (i < extra);
    /* Donors keep their lowest slots and free the rest. */
    int *keep = xcalloc((size_t)ngroups, sizeof *keep);
    int freed = 0;
    for (int s = 0; s < PLAN_SLOTS; s++) {
        int g = current[s];
        if (g >= 0 && g < ngroups && keep[g] < quota[g]) {
            keep[g]++;
            target[s] = g;
        } else {
            target[s] = -1;
            freed++;
        }
    }
    /* Freed slots go in slot order to the groups short of their share. */
    int g = 0;
    for (int s = 0; s < PLAN_SLOTS && freed; s++) {
        if (target[s] >= 0) continue;
        while (g < ngroups && keep[g] >= quota[g]) g++;
        if (g >= ngroups) break;
        target[s] = g;
        keep[g]++;
        freed--;
    }
    int moved = 0;
    for (int s = 0; s < PLAN_SLOTS; s++) moved += target[s] != current[s];
    free(count);
    free(quota);
    free(order);
    free(keep);
    return moved;
}

int plan_next_job(const struct plan *p, const unsigned char *started, const unsigned char *busy)
{
    for (int i = 0; i < p->njobs; i++)
        if (!started[i] && !busy[p->jobs[i].from] && !busy[p->jobs[i].to]) return i;
    return -1;
}

const char *plan_fmt_bytes(double bytes, char *out, size_t size)
{
    if (bytes >= 1e9) snprintf(out, size, "%.1f GB", bytes / 1e9);
    else if (bytes >= 1e6) snprintf(out, size, "%.1f MB", bytes / 1e6);
    else if (bytes >= 1e3) snprintf(out, size, "%.0f KB", bytes / 1e3);
    else snprintf(out, size, "%.0f B", bytes);
    return out;
}
