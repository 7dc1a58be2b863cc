/* latency: the latency monitor (see latency.h). */
#include "latency.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "cmdstats.h"
#include "rconfig.h"
#include "server.h"
#include "subcmd.h"
#include "util.h"

#define LATENCY_TS_LEN 160
#define LATENCY_MAX_EVENTS 16

struct latency_sample {
    long long time;     /* unix seconds; 0: unused */
    long long ms;
};

struct latency_series {
    char name[32];
    int idx;            /* next slot to write */
    long long max;      /* all-time maximum */
    struct latency_sample s[LATENCY_TS_LEN];
};

static struct latency_series events[LATENCY_MAX_EVENTS];
static int nevents;

static struct latency_series *series_find(const char *name, size_t len)
{
    for (int i = 0; i < nevents; i++)
        if (strlen(events[i].name) == len && !memcmp(events[i].name, name, len)) return &events[i];
    return NULL;
}

void latency_sample(const char *event, long long ms)
{
    static const struct rconf_param *threshold;
    if (!threshold) threshold = rconf_find("latency-monitor-threshold", 25);
    long long t = rconf_pnum(threshold);
    if (!t || ms < t) return;
    struct latency_series *ts = series_find(event, strlen(event));
    if (!ts) {
        if (nevents == LATENCY_MAX_EVENTS) return;
        ts = &events[nevents++];
        memset(ts, 0, sizeof *ts);
        snprintf(ts->name, sizeof ts->name, "%s", event);
    }
    long long now = (long long)time(NULL);
    if (ms > ts->max) ts->max = ms;
    int prev = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    if (ts->s[prev].time == now) { /* one sample a second: the worst */
        if (ms > ts->s[prev].ms) ts->s[prev].ms = ms;
        return;
    }
    ts->s[ts->idx].time = now;
    ts->s[ts->idx].ms = ms;
    ts->idx = (ts->idx + 1) % LATENCY_TS_LEN;
}

static void latency_help(client *c)
{
    static const char *const lines[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    };
    resp_add_array(&c->out, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) resp_add_simple(&c->out, lines[i]);
}

/* The used samples of ts, oldest first, into out; returns how many. */
static int series_samples(const struct latency_series *ts, struct latency_sample *out)
{
    int n = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        const struct latency_sample *s = &ts->s[(ts->idx + j) % LATENCY_TS_LEN];
        if (s->time) out[n++] = *s;
    }
    return n;
}

static void latency_latest(client *c)
{
    resp_add_array(&c->out, nevents);
    for (int i = 0; i < nevents; i++) {
        const struct latency_series *ts = &events[i];
        int last = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
        resp_add_array(&c->out, 4);
        resp_add_bulk_str(&c->out, ts->name);
        resp_add_int(&c->out, ts->s[last].time);
        resp_add_int(&c->out, ts->s[last].ms);
        resp_add_int(&c->out, ts->max);
    }
}

static void latency_history(client *c)
{
    struct latency_series *ts = series_find(ARG(c, 2));
    if (!ts) {
        resp_add_array(&c->out, 0);
        return;
    }
    struct latency_sample s[LATENCY_TS_LEN];
    int n = series_samples(ts, s);
    resp_add_array(&c->out, n);
    for (int i = 0; i < n; i++) {
        resp_add_array(&c->out, 2);
        resp_add_int(&c->out, s[i].time);
        resp_add_int(&c->out, s[i].ms);
    }
}

static void series_reset(struct latency_series *ts)
{
    int i = (int)(ts - events);
    memmove(&events[i], &events[i + 1], (size_t)(nevents - i - 1) * sizeof events[0]);
    nevents--;
}

static void latency_reset(client *c)
{
    long long n = 0;
    if (c->argc == 2) {
        n = nevents;
        nevents = 0;
    } else {
        for (int j = 2; j < c->argc; j++) {
            struct latency_series *ts = series_find(ARG(c, j));
            if (ts) {
                series_reset(ts);
                n++;
            }
        }
    }
    resp_add_int(&c->out, n);
}

/* GRAPH: the samples as vertical bars, oldest on the left, one column
 * each, 10 rows scaled from the lowest to the highest sample, then how
 * long ago each column was (in seconds, written downwards). */
static void latency_graph(client *c)
{
    struct latency_series *ts = series_find(ARG(c, 2));
    if (!ts) {
        resp_add_errorf(&c->out, "ERR No samples available for event '%.*s'", (int)c->argvlen[2], c->argv[2]);
        return;
    }
    struct latency_sample s[LATENCY_TS_LEN];
    int n = series_samples(ts, s);
    long long lo = s[0].ms, hi = s[0].ms, now = (long long)time(NULL);
    for (int i = 1; i < n; i++) {
        if (s[i].ms < lo) lo = s[i].ms;
        if (s[i].ms > hi) hi = s[i].ms;
    }
    buf o;
    buf_init(&o);
    buf_printf(&o, "%s - high %lld ms, low %lld ms (all time high %lld ms)\n", ts->name, hi, lo, ts->max);
    for (int i = 0; i < 80; i++) buf_append_char(&o, '-');
    buf_append_char(&o, '\n');
    const int rows = 10;
    for (int r = rows; r >= 1; r--) {
        for (int i = 0; i < n; i++) {
            long long h = hi == lo ? rows : 1 + (s[i].ms - lo) * (rows - 1) / (hi - lo);
            buf_append_char(&o, h >= r ? '#' : ' ');
        }
        buf_append_char(&o, '\n');
    }
    char ago[LATENCY_TS_LEN][24];
    size_t depth = 0;
    for (int i = 0; i < n; i++) {
        snprintf(ago[i], sizeof ago[i], "%llds", now - s[i].time);
        if (strlen(ago[i]) > depth) depth = strlen(ago[i]);
    }
    for (size_t d = 0; d < depth; d++) {
        for (int i = 0; i < n; i++) buf_append_char(&o, d < strlen(ago[i]) ? ago[i][d] : ' ');
        buf_append_char(&o, '\n');
    }
    resp_add_verbatim(&c->out, c->resp, o.data, o.len);
    buf_free(&o);
}

/* DOCTOR: per event, how many spikes, their average and spread, how often
 * they came, and the worst; then what in Strata usually causes each. */
static void latency_doctor(client *c)
{
    buf o;
    buf_init(&o);
    if (!rconf_num("latency-monitor-threshold")) {
        buf_printf(&o, "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
                       "You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable "
                       "it. If we weren't in a deep space mission I'd suggest to take a look at "
                       "https://redis.io/topics/latency-monitor.\n");
    } else if (nevents == 0) {
        buf_printf(&o, "Dave, no latency spike was observed during the lifetime of this Redis instance, not in "
                       "the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, "
                       "and think things over.\n");
    } else {
        buf_printf(&o, "Dave, this strata-node saw latency spikes over the %lld ms threshold:\n\n",
                   rconf_num("latency-monitor-threshold"));
        int used_cmd = 0, used_disk = 0, used_bg = 0;
        for (int i = 0; i < nevents; i++) {
            struct latency_sample s[LATENCY_TS_LEN];
            int n = series_samples(&events[i], s);
            double sum = 0, dev = 0;
            for (int k = 0; k < n; k++) sum += (double)s[k].ms;
            double avg = n ? sum / n : 0;
            for (int k = 0; k < n; k++) dev += fabs((double)s[k].ms - avg);
            long long period = n > 1 ? (s[n - 1].time - s[0].time) / (n - 1) : 0;
            buf_printf(&o, "%d. %s: %d latency spikes (average %.0fms, mean deviation %.0fms, period %lld sec). "
                           "Worst all time event %lldms.\n",
                       i + 1, events[i].name, n, avg, n ? dev / n : 0.0, period, events[i].max);
            if (!strcmp(events[i].name, "command") || !strcmp(events[i].name, "fast-command")) used_cmd = 1;
            else if (!strcmp(events[i].name, "commit")) used_disk = 1;
            else used_bg = 1;
        }
        buf_printf(&o, "\nWhat I would look at:\n\n");
        if (used_cmd)
            buf_printf(&o, "- Slow commands: SLOWLOG GET shows which ones.  Commands over whole collections "
                           "(SMEMBERS, HGETALL, ZRANGE 0 -1, KEYS) read every record from LevelDB; prefer "
                           "SCAN-style iteration or ranges.\n");
        if (used_disk)
            buf_printf(&o, "- Slow commits or fsyncs: the disk under the data directory is slow or busy.  "
                           "`fsync: everysec` takes the fsync off the reply path; a smaller write_buffer "
                           "makes compactions shorter.\n");
        if (used_bg)
            buf_printf(&o, "- Slow background cycles (expiry sweep, deletion of old collections): an expiry "
                           "sweep stops after a quarter of a cron period, so a higher `hz` makes each one "
                           "shorter; many keys expiring at once keep it busy for a while.\n");
    }
    resp_add_verbatim(&c->out, c->resp, o.data, o.len);
    buf_free(&o);
}

static void latency_command(client *c)
{
    if (subcmd_check(&c->out, "latency", ARG(c, 1), c->argc) < 0) return;
    if (ARG_IS(c, 1, "latest")) latency_latest(c);
    else if (ARG_IS(c, 1, "history")) latency_history(c);
    else if (ARG_IS(c, 1, "reset")) latency_reset(c);
    else if (ARG_IS(c, 1, "graph")) latency_graph(c);
    else if (ARG_IS(c, 1, "doctor")) latency_doctor(c);
    else if (ARG_IS(c, 1, "histogram"))
        cmdstats_reply_histograms(&c->out, c->resp, c->argc - 2, c->argv + 2, c->argvlen + 2);
    else latency_help(c);
}

void latency_register(void)
{
    server_register(CMD_LATENCY, latency_command);
}
