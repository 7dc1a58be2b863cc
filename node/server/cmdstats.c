/* cmdstats: command and error statistics (see cmdstats.h).
 *
 * Histogram layout (that of HdrHistogram with lowest value 1, highest
 * 1e9 and 2 significant digits, as Redis 7.0 configures it):
 *
 *   values 0..255 ns          one counter each (bucket 0, both halves)
 *   bucket b >= 1: values [128 << b, 256 << b), 128 counters of width 1 << b
 *
 * A value's counter index is ((b + 1) << 7) + (v >> b) - 128, where
 * b = bit length of (v | 255) - 8.  A counter stands for the range
 * [lowest, lowest + width), and a percentile is reported as the highest
 * value of the counter's range, so 1000 ns prints as 1.003 us. */
#include "cmdstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "rconfig.h"
#include "util.h"

#define HIST_HALF_MAG 7
#define HIST_HALF 128
#define HIST_BUCKETS 23
#define HIST_LEN ((HIST_BUCKETS + 1) * HIST_HALF)
#define HIST_MIN 1
#define HIST_MAX 1000000000LL

struct hist {
    long long total;
    long long counts[HIST_LEN];
};

struct cmdstat {
    const struct cmd_spec *cmd;
    const struct subcmd *sub;
    unsigned long long calls, usec, rejected, failed;
    struct hist *h;
    struct cmdstat *next;   /* all stats, in creation order */
};

static struct cmdstat *by_id[CMD__COUNT];  /* commands without subcommands */
static struct cmdstat *all, **all_tail = &all;

/* Error codes, sorted by name (Redis keeps them in a radix tree). */
#define MAX_ERROR_CODES 128
static struct {
    char code[33];
    unsigned long long count;
} errs[MAX_ERROR_CODES];
static int nerrs;
static unsigned long long total_errors;

static void full_name(const struct cmdstat *s, char *out, size_t size)
{
    if (s->sub) snprintf(out, size, "%s|%s", s->cmd->name, s->sub->name);
    else snprintf(out, size, "%s", s->cmd->name);
}

const struct subcmd *cmdstats_subcmd(const struct cmd_spec *cmd, int argc, const char *arg1, size_t arg1len)
{
    if (argc < 2 || !cmd_is_container(cmd)) return NULL;
    return subcmd_lookup(cmd->name, arg1, arg1len);
}

/* A subcommand's stats are chained through this side table so that the
 * `next` list keeps creation order for INFO. */
struct sub_link {
    struct cmdstat *s;
    struct sub_link *next;
};
static struct sub_link *sub_links[CMD__COUNT];

struct cmdstat *cmdstats_get(const struct cmd_spec *cmd, const struct subcmd *sub)
{
    struct cmdstat *s;
    if (!sub) {
        if (by_id[cmd->id]) return by_id[cmd->id];
    } else {
        for (struct sub_link *l = sub_links[cmd->id]; l; l = l->next)
            if (l->s->sub == sub) return l->s;
    }
    s = xcalloc(1, sizeof *s);
    s->cmd = cmd;
    s->sub = sub;
    *all_tail = s;
    all_tail = &s->next;
    if (!sub) {
        by_id[cmd->id] = s;
    } else {
        struct sub_link *l = xmalloc(sizeof *l);
        l->s = s;
        l->next = sub_links[cmd->id];
        sub_links[cmd->id] = l;
    }
    return s;
}

/* ---- histogram ---- */

static int hist_bucket(long long v)
{
    unsigned long long x = (unsigned long long)v | 255u;
    int bits = 64 - __builtin_clzll(x);
    return bits - (HIST_HALF_MAG + 1);
}

static int hist_index(long long v)
{
    int b = hist_bucket(v);
    long long sub = v >> b;
    return ((b + 1) << HIST_HALF_MAG) + (int)(sub - HIST_HALF);
}

/* The lowest value counted at index i, and the width of its range. */
static long long hist_value_at(int i, long long *width)
{
    int b = (i >> HIST_HALF_MAG) - 1;
    long long sub = (i & (HIST_HALF - 1)) + HIST_HALF;
    if (b < 0) {
        sub -= HIST_HALF;
        b = 0;
    }
    if (width) *width = 1LL << b;
    return sub << b;
}

static long long hist_highest_equivalent(long long v)
{
    long long width;
    long long low = hist_value_at(hist_index(v), &width);
    return low + width - 1;
}

static void hist_record(struct hist *h, long long ns)
{
    if (ns < HIST_MIN) ns = HIST_MIN;
    if (ns > HIST_MAX) ns = HIST_MAX;
    h->counts[hist_index(ns)]++;
    h->total++;
}

static long long hist_percentile(const struct hist *h, double pct)
{
    if (pct > 100.0) pct = 100.0;
    long long want = (long long)(pct / 100.0 * (double)h->total + 0.5);
    if (want < 1) want = 1;
    long long seen = 0;
    for (int i = 0; i < HIST_LEN; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            long long width;
            long long low = hist_value_at(i, &width);
            return pct == 0.0 ? low : low + width - 1;
        }
    }
    return 0;
}

/* ---- counting ---- */

void cmdstats_call(struct cmdstat *s, uint64_t usec)
{
    s->calls++;
    s->usec += usec;
    static const struct rconf_param *tracking;
    if (!tracking) tracking = rconf_find("latency-tracking", 16);
    if (!rconf_pnum(tracking)) return;
    if (!s->h) s->h = xcalloc(1, sizeof *s->h);
    hist_record(s->h, (long long)(usec > (uint64_t)HIST_MAX ? (uint64_t)HIST_MAX : usec * 1000));
}

void cmdstats_rejected(struct cmdstat *s) { s->rejected++; }
void cmdstats_failed(struct cmdstat *s) { s->failed++; }

void cmdstats_error(const char *reply, size_t len)
{
    const char *code = "ERR";
    size_t clen = 3;
    if (len > 1 && reply[0] == '-') {
        size_t lim = len < 32 ? len : 32;
        const char *sp = memchr(reply, ' ', lim);
        if (sp) {
            code = reply + 1;
            clen = (size_t)(sp - reply) - 1;
        }
    }
    total_errors++;
    int lo = 0, hi = nerrs;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int cmp = strncmp(errs[mid].code, code, clen);
        if (cmp == 0 && errs[mid].code[clen]) cmp = 1;
        if (cmp == 0) {
            errs[mid].count++;
            return;
        }
        if (cmp < 0) lo = mid + 1;
        else hi = mid;
    }
    if (nerrs == MAX_ERROR_CODES) return; /* bounded: a new code past the limit is not tracked */
    memmove(&errs[lo + 1], &errs[lo], (size_t)(nerrs - lo) * sizeof errs[0]);
    memcpy(errs[lo].code, code, clen);
    errs[lo].code[clen] = '\0';
    errs[lo].count = 1;
    nerrs++;
}

unsigned long long cmdstats_total_errors(void) { return total_errors; }

/* ---- reports ---- */

void cmdstats_info_commands(buf *o)
{
    buf_printf(o, "# Commandstats\r\n");
    for (struct cmdstat *s = all; s; s = s->next) {
        if (!s->calls && !s->failed && !s->rejected) continue;
        char name[96];
        full_name(s, name, sizeof name);
        buf_printf(o, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
                   name, s->calls, s->usec, s->calls ? (double)s->usec / (double)s->calls : 0.0, s->rejected,
                   s->failed);
    }
}

void cmdstats_info_errors(buf *o)
{
    buf_printf(o, "# Errorstats\r\n");
    for (int i = 0; i < nerrs; i++) buf_printf(o, "errorstat_%s:count=%llu\r\n", errs[i].code, errs[i].count);
}

static void add_trimmed(buf *o, double d)
{
    char tmp[512];
    int n = snprintf(tmp, sizeof tmp, "%f", d);
    if (strchr(tmp, '.')) {
        while (n > 0 && tmp[n - 1] == '0') n--;
        if (n > 0 && tmp[n - 1] == '.') n--;
    }
    buf_append(o, tmp, (size_t)n);
}

void cmdstats_info_latency(buf *o)
{
    double pct[32];
    int np = rconf_percentiles(pct, 32);
    buf_printf(o, "# Latencystats\r\n");
    if (!rconf_num("latency-tracking")) return; /* Redis shows nothing while tracking is off */
    for (struct cmdstat *s = all; s; s = s->next) {
        if (!s->h) continue;
        char name[96];
        full_name(s, name, sizeof name);
        buf_printf(o, "latency_percentiles_usec_%s:", name);
        for (int i = 0; i < np; i++) {
            buf_printf(o, "%sp", i ? "," : "");
            add_trimmed(o, pct[i]);
            buf_printf(o, "=%.3f", (double)hist_percentile(s->h, pct[i]) / 1000.0);
        }
        buf_printf(o, "\r\n");
    }
}

void cmdstats_reset(void)
{
    for (struct cmdstat *s = all; s; s = s->next) {
        s->calls = s->usec = s->rejected = s->failed = 0;
        free(s->h);
        s->h = NULL;
    }
    nerrs = 0;
    total_errors = 0;
}

/* One command's entry: calls, then the cumulative counts at 1, 2, 4, ...
 * microseconds (each power of two from 1024 ns, reported as the highest
 * value of its counter in whole microseconds), only where the count
 * grows, as Redis's fillCommandCDF. */
static void reply_histogram(buf *out, int proto, const struct cmdstat *s)
{
    resp_add_map(out, proto, 2);
    resp_add_bulk_str(out, "calls");
    resp_add_int(out, s->h->total);
    resp_add_bulk_str(out, "histogram_usec");
    size_t mark = resp_defer(out);
    long long n = 0, prev = 0, seen = 0;
    int i = 0;
    for (long long level = 1024; seen < s->h->total && level <= 2 * HIST_MAX; level <<= 1) {
        long long top = hist_highest_equivalent(level);
        for (; i < HIST_LEN && hist_value_at(i, NULL) <= top; i++) seen += s->h->counts[i];
        if (seen > prev) {
            resp_add_int(out, top / 1000);
            resp_add_int(out, seen);
            n++;
        }
        prev = seen;
    }
    resp_set_deferred_map(out, mark, proto, n);
}

void cmdstats_reply_histograms(buf *out, int proto, int argc, char **argv, size_t *argvlen)
{
    size_t mark = resp_defer(out);
    long long n = 0;
    for (int j = 0; j < (argc ? argc : 1); j++) {
        for (struct cmdstat *s = all; s; s = s->next) {
            if (!s->h) continue;
            char name[96];
            full_name(s, name, sizeof name);
            /* a container's name stands for all its subcommands */
            if (argc && !str_eq_nocase(argv[j], argvlen[j], name) &&
                !(s->sub && str_eq_nocase(argv[j], argvlen[j], s->cmd->name)))
                continue;
            resp_add_bulk_str(out, name);
            reply_histogram(out, proto, s);
            n++;
        }
    }
    resp_set_deferred_map(out, mark, proto, n);
}
