/* strata-cli: the operator's tool for moving slots between groups (issue
 * 17, migration.md §8.3 "coordinator" and §8.7).
 *
 *   strata-cli reshard   --config topology.yaml [--dry-run] [--yes] [--rate-mb N]
 *   strata-cli rebalance --config topology.yaml [--dry-run] [--yes] [--rate-mb N]
 *   strata-cli status    --config topology.yaml
 *   strata-cli pause|resume|cancel --config topology.yaml [<job>]
 *
 * reshard: the plan is the difference between the file's slot ranges (the
 * intent) and the current map (the masters' tables, cluster.h).  rebalance:
 * the plan spreads the slots evenly over every group of the file (new empty
 * ones included) with the fewest moved (plan.h).  Both print the plan with
 * keys and bytes (STRATA SLOTSINFO on the sources) and an estimated time,
 * ask on a terminal (or take --yes), then run it: STRATA MIGRATE START on
 * each source master, one job per group at a time (a node runs one
 * export or one import), polling STRATA MIGRATE STATUS for progress, and
 * STRATA MIGRATE TARGET when the sentinels name a new master for a job's
 * target group.  The source and target settle each move between themselves, so this program holds no state: a
 * rerun recomputes the plan from the map (finished moves are gone from it),
 * watches jobs still running on the nodes instead of starting them again,
 * and restarts failed or aborted ones.
 *
 * Exit status: 0 done (or nothing to do), 1 error, 2 usage. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cluster.h"
#include "plan.h"
#include "slotmap.h"
#include "topology.h"
#include "util.h"

#define CLI_MAX_JOBS 64
#define CLI_MAX_GROUPS 1024
#define CLI_POLL_MS 200
#define CLI_RETRIES 5
#define CLI_DEFAULT_RATE_MB 64

struct opts {
    const char *cmd, *config, *job;
    int dry_run, yes, rate_given;
    double rate_mb;
    long long debug_fence_ms; /* tests: DEBUG-FENCE-MS on START (hold the switch) */
};

static struct topology topo;
static const char *config_path;
static struct cl_master masters[CLI_MAX_GROUPS];
static volatile sig_atomic_t interrupted;

static void on_int(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: strata-cli reshard   --config FILE [--dry-run] [--yes] [--rate-mb N]\n"
            "       strata-cli rebalance --config FILE [--dry-run] [--yes] [--rate-mb N]\n"
            "       strata-cli status    --config FILE\n"
            "       strata-cli pause|resume|cancel --config FILE [JOB]\n");
    return 2;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("strata-cli: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* The file's group indexes of the map's owners; slots of groups the file
 * does not have are fatal (the group was removed from the file too soon). */
static void map_to_file(const struct slotmap *map, int *current)
{
    for (int s = 0; s < PLAN_SLOTS; s++) current[s] = -1;
    for (int s = 0; s < PLAN_SLOTS;) {
        int o = map->owner[s], e = s;
        while (e + 1 < PLAN_SLOTS && map->owner[e + 1] == o) e++;
        if (o >= 0) {
            int gi = -1;
            for (int g = 0; g < topo.ngroups; g++)
                if (!strcmp(topo.groups[g].name, map->names[o])) gi = g;
            if (gi < 0)
                die("slots %d-%d are owned by group %s, which %s no longer has: put the group back in "
                    "%s (its slots as they are), move its slots to other groups with "
                    "`strata-cli reshard --config %s`, then remove it",
                    s, e, map->names[o], config_path, config_path, config_path);
            for (int i = s; i <= e; i++) current[i] = gi;
        }
        s = e + 1;
    }
}

/* Masters and the current map; dies on what makes a plan impossible. */
static void read_cluster(int *current, int need_all)
{
    buf warn;
    buf_init(&warn);
    int down = cl_find_masters(&topo, masters);
    struct slotmap map;
    slotmap_init(&map);
    int conflicts = cl_read_map(&topo, masters, &map, &warn);
    /* The sentinels' map adds the claims of groups the file lacks (and of
     * masters that did not answer now). */
    cl_sentinel_map(&topo, &map);
    if (warn.len) fprintf(stderr, "%.*s", (int)warn.len, warn.data);
    buf_free(&warn);
    if (conflicts) die("%d slots are claimed by two groups at the same epoch: resolve that first", conflicts);
    map_to_file(&map, current);
    slotmap_free(&map);
    for (int g = 0; g < topo.ngroups && need_all; g++)
        if (!masters[g].port)
            die("group %s is down: none of its nodes answered as a master (and the sentinels named none)",
                topo.groups[g].name);
    (void)down;
}

static void print_ranges_of(const int *owner, int g, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int s = 0; s < PLAN_SLOTS;) {
        if (owner[s] != g) {
            s++;
            continue;
        }
        int e = s;
        while (e + 1 < PLAN_SLOTS && owner[e + 1] == g) e++;
        int w = e == s ? snprintf(out + len, size - len, "%s%d", len ? "," : "", s)
                       : snprintf(out + len, size - len, "%s%d-%d", len ? "," : "", s, e);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
        s = e + 1;
    }
}

struct job_run {
    int started, done, tries;
    int moved;                   /* done, and its slots moved (not failed or cancelled) */
    int from, to;
    char id[128];
    char thost[256];             /* the target address the job was given */
    int tport;
    int unseen;                  /* polls its source did not list it */
    uint64_t retry_at;           /* not before (a node answered BUSY) */
    struct cl_job st;
    long long keys, bytes;       /* estimate from SLOTSINFO */
};

static struct job_run runs[CLI_MAX_JOBS];
static long long debug_fence_ms;

static void print_plan(const struct plan *p, double rate_mb)
{
    char b1[32], b2[32];
    long long tk = 0, tb = 0;
    printf("plan: %d range%s in %d job%s\n", p->nmoves, p->nmoves == 1 ? "" : "s", p->njobs,
           p->njobs == 1 ? "" : "s");
    for (int i = 0; i < p->njobs && i < CLI_MAX_JOBS; i++) {
        const struct plan_job *j = &p->jobs[i];
        char err[256];
        long long k = 0, b = 0;
        int ok = masters[j->from].port &&
                 cl_slotsinfo(&masters[j->from], j->ranges, &k, &b, err, sizeof err) == 0;
        runs[i].keys = k;
        runs[i].bytes = b;
        tk += k;
        tb += b;
        printf("  %s -> %s  slots %s (%d slots)  %s\n", topo.groups[j->from].name, topo.groups[j->to].name,
               j->ranges, j->nslots,
               ok ? (snprintf(b2, sizeof b2, "%lld keys, %s", k, plan_fmt_bytes((double)b, b1, sizeof b1)), b2)
                  : "size unknown");
    }
    double secs = (double)tb / (rate_mb * 1e6);
    printf("total: %lld keys, %s; about %.0f s at %g MB/s per job\n", tk,
           plan_fmt_bytes((double)tb, b1, sizeof b1), secs < 1 ? 1 : secs, rate_mb);
    if (p->unknown)
        printf("note: %d slots have no known owner (their group's master is down): they are not in the plan\n",
               p->unknown);
}

static int confirm(int yes)
{
    if (yes) return 1;
    if (!isatty(0)) {
        fprintf(stderr, "strata-cli: not a terminal: pass --yes to carry out the plan\n");
        return 0;
    }
    printf("Carry out this plan? [y/N] ");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

/* 1 if two range lists share a slot. */
static void mark(void *ud, int lo, int hi)
{
    unsigned char *bits = ud;
    for (int s = lo; s <= hi; s++) bits[s] = 1;
}
static int ranges_overlap(const char *a, const char *b)
{
    static unsigned char x[PLAN_SLOTS], y[PLAN_SLOTS];
    char err[128];
    memset(x, 0, sizeof x);
    memset(y, 0, sizeof y);
    if (topo_parse_slots(a, mark, x, err, sizeof err) < 0 || topo_parse_slots(b, mark, y, err, sizeof err) < 0)
        return 0;
    for (int s = 0; s < PLAN_SLOTS; s++)
        if (x[s] && y[s]) return 1;
    return 0;
}

/* A job running on j's source that covers its ranges (a CLI that crashed
 * started it): watch it.  Returns 1 when one was adopted. */
static int adopt(struct job_run *r, const struct plan_job *j)
{
    struct cl_job jobs[32];
    char err[256];
    int n = cl_status(&masters[j->from], jobs, 32, err, sizeof err);
    for (int i = 0; i < n; i++)
        if (!strcmp(jobs[i].role, "export") && !cl_state_final(jobs[i].state) &&
            ranges_overlap(jobs[i].ranges, j->ranges)) {
            snprintf(r->id, sizeof r->id, "%s", jobs[i].job);
            r->st = jobs[i];
            r->thost[0] = '\0'; /* unknown: MIGRATE TARGET if the target's master moved */
            r->tport = 0;
            printf("job %s (%s -> %s, slots %s) is already running: watching it\n", r->id,
                   topo.groups[j->from].name, topo.groups[j->to].name, jobs[i].ranges);
            return 1;
        }
    return 0;
}

/* 1 if group g's master runs a job (an export not finished, trim
 * included, or an import being copied) other than `except`, or cannot be
 * asked. */
static int group_busy(int g, const char *except)
{
    struct cl_job jobs[32];
    char err[256];
    if (!masters[g].port) return 1;
    int n = cl_status(&masters[g], jobs, 32, err, sizeof err);
    if (n < 0) return 1;
    for (int i = 0; i < n; i++) {
        if (except && !strcmp(jobs[i].job, except)) continue;
        if (!strcmp(jobs[i].role, "export") && !cl_state_final(jobs[i].state)) return 1;
        if (!strcmp(jobs[i].role, "import") && !cl_state_final(jobs[i].state)) return 1;
    }
    return 0;
}

/* 1 if a node's error means "busy now, ask again later". */
static int is_busy_error(const char *e)
{
    return strstr(e, "BUSY") != NULL;
}

static int start_job(struct job_run *r, const struct plan_job *j, double rate_mb, char *err, size_t errlen)
{
    snprintf(r->id, sizeof r->id, "%s-%s-%d-%lx%d", topo.groups[j->from].name, topo.groups[j->to].name,
             j->moves[0].first, (unsigned long)time(NULL), r->tries);
    char port[16], rate[32];
    snprintf(port, sizeof port, "%d", masters[j->to].port);
    snprintf(rate, sizeof rate, "%g", rate_mb);
    char fence[32];
    const char *argv[14] = { "STRATA", "MIGRATE", "START", r->id, topo.groups[j->to].name, masters[j->to].host,
                             port, j->ranges, "RATE", rate };
    int argc = 10;
    if (debug_fence_ms > 0) {
        snprintf(fence, sizeof fence, "%lld", debug_fence_ms);
        argv[argc++] = "DEBUG-FENCE-MS";
        argv[argc++] = fence;
    }
    /* The source's link to the target: with users.cli in the file the
     * nodes authenticate as their own masteruser/masterauth (the
     * node-to-node user, node_internal_auth); without it, as before, as
     * the default user with password:. */
    if (!topo.cli_user.line && topo.password[0]) {
        argv[argc++] = "AUTH";
        argv[argc++] = topo.password;
    }
    redisReply *rep = cl_command(masters[j->from].host, masters[j->from].port, err, errlen, argc, argv);
    if (!rep) return -1;
    int rc = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s", rep->str);
        rc = -1;
    }
    freeReplyObject(rep);
    if (rc == 0) {
        snprintf(r->thost, sizeof r->thost, "%s", masters[j->to].host);
        r->tport = masters[j->to].port;
        r->unseen = 0;
    }
    if (rc == 0)
        printf("job %s: %s -> %s, slots %s: started\n", r->id, topo.groups[j->from].name, topo.groups[j->to].name,
               j->ranges);
    return rc;
}

static void progress(const struct plan *p, int tty, uint64_t t0, int force)
{
    static uint64_t last_line;
    long long copied = 0, total = 0, lag = 0, rate_bytes = 0;
    int done = 0, slots_done = 0, slots_total = 0;
    for (int i = 0; i < p->njobs; i++) {
        slots_total += p->jobs[i].nslots;
        if (runs[i].done) {
            long long b = runs[i].moved && runs[i].st.bytes_copied ? runs[i].st.bytes_copied : runs[i].bytes;
            if (runs[i].moved) {
                done++;
                slots_done += p->jobs[i].nslots;
                copied += b;
            }
            total += b;
            continue;
        }
        long long tb = runs[i].st.bytes_total ? runs[i].st.bytes_total : runs[i].bytes;
        total += tb;
        if (runs[i].started) {
            copied += runs[i].st.bytes_copied;
            lag += runs[i].st.lag_bytes;
        }
    }
    uint64_t el = now_ms() - t0;
    if (el) rate_bytes = (long long)((double)copied * 1000.0 / (double)el);
    double eta = rate_bytes > 0 ? (double)(total - copied) / (double)rate_bytes : 0;
    char b1[32], b2[32], b3[32];
    if (tty) {
        int width = 30, fill = slots_total ? (int)((long long)width * slots_done / slots_total) : width;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        printf("\r[%s] %d/%d jobs  %.1f MB/s  ETA %.0fs  lag %s   ", bar, done, p->njobs,
               (double)rate_bytes / 1e6, eta, plan_fmt_bytes((double)lag, b1, sizeof b1));
        fflush(stdout);
    } else if (force || now_ms() - last_line >= 2000) {
        last_line = now_ms();
        printf("progress: %d/%d jobs done, %d/%d slots, %s of %s copied, %.1f MB/s, lag %s\n", done, p->njobs,
               slots_done, slots_total, plan_fmt_bytes((double)copied, b1, sizeof b1),
               plan_fmt_bytes((double)total, b2, sizeof b2), (double)rate_bytes / 1e6,
               plan_fmt_bytes((double)lag, b3, sizeof b3));
        fflush(stdout);
    }
}

/* STRATA MIGRATE RATE on a job this run adopted (the rate it was
 * started with was another run's). */
static void set_rate(const struct job_run *r, double rate_mb)
{
    char rate[32], err[256];
    snprintf(rate, sizeof rate, "%g", rate_mb);
    const char *argv[] = { "STRATA", "MIGRATE", "RATE", r->id, rate };
    redisReply *rep = cl_command(masters[r->from].host, masters[r->from].port, err, sizeof err, 5, argv);
    if (rep && rep->type != REDIS_REPLY_ERROR) printf("job %s: rate set to %s MB/s\n", r->id, rate);
    if (rep) freeReplyObject(rep);
}

/* The target group of a running job failed over (the sentinels name
 * another master): tell the source (STRATA MIGRATE TARGET), which then
 * asks the new master for the verdict or carries on with it. */
static void follow_target(struct job_run *r)
{
    const struct cl_master *t = &masters[r->to];
    if (!t->port || (r->tport == t->port && !strcmp(r->thost, t->host))) return;
    char port[16], err[256];
    snprintf(port, sizeof port, "%d", t->port);
    const char *argv[] = { "STRATA", "MIGRATE", "TARGET", r->id, t->host, port };
    redisReply *rep = cl_command(masters[r->from].host, masters[r->from].port, err, sizeof err, 6, argv);
    if (!rep) return; /* the source is not reachable now: next poll */
    if (rep->type == REDIS_REPLY_ERROR) {
        /* The job is over (or in no state to change): its STATUS says how. */
        snprintf(err, sizeof err, "%s", rep->str);
        if (r->tport) printf("job %s: STRATA MIGRATE TARGET: %s\n", r->id, err);
    } else if (r->tport) {
        printf("job %s: group %s failed over: its master is now %s:%d\n", r->id, topo.groups[r->to].name,
               t->host, t->port);
    }
    snprintf(r->thost, sizeof r->thost, "%s", t->host);
    r->tport = t->port;
    freeReplyObject(rep);
}

/* A job ended without moving anything: start it again later, or give up
 * after CLI_RETRIES tries (a node's BUSY does not count). */
static void job_retry(struct job_run *r, unsigned char *started, int i, int *failed, int busy)
{
    r->started = 0;
    started[i] = 0;
    /* Back off (0.5, 1, 2, 4 s): a failover takes seconds to settle. */
    r->retry_at = now_ms() + (busy ? 1000 : 500u << (r->tries < 4 ? r->tries : 4));
    if (!busy && ++r->tries >= CLI_RETRIES) {
        r->done = 1;
        started[i] = 1;
        (*failed)++;
    }
}

/* Run every job of p; returns 0 when all are done. */
static int run_plan(const struct plan *p, const struct opts *o)
{
    int tty = isatty(1);
    uint64_t t0 = now_ms(), refreshed = now_ms();
    unsigned char started[CLI_MAX_JOBS] = { 0 };
    int failed = 0, cancelled = 0;
    for (;;) {
        if (interrupted) {
            if (tty) printf("\n");
            printf("interrupted: the jobs already started keep running on the nodes; rerun the same "
                   "command to watch them, or `strata-cli cancel` them\n");
            return 1;
        }
        /* Masters move on failover: ask the sentinels again each second. */
        if (now_ms() - refreshed >= 1000) {
            cl_find_masters(&topo, masters);
            refreshed = now_ms();
        }
        unsigned char busy[CLI_MAX_GROUPS] = { 0 };
        for (int i = 0; i < p->njobs; i++) {
            struct job_run *r = &runs[i];
            if (r->done || !r->started) continue;
            busy[r->from] = busy[r->to] = 1;
            if (!masters[r->from].port) continue; /* the source is failing over */
            struct cl_job jobs[32];
            char err[256];
            int n = cl_status(&masters[r->from], jobs, 32, err, sizeof err);
            if (n < 0) continue; /* not reachable now: the job goes on without us */
            int found = 0;
            for (int k = 0; k < n; k++) {
                if (strcmp(jobs[k].job, r->id) != 0 || strcmp(jobs[k].role, "export") != 0) continue;
                found = 1;
                r->st = jobs[k];
            }
            if (!found) {
                /* A new master of the source that never heard of it. */
                if (++r->unseen >= 25) {
                    printf("job %s: no longer known on %s:%d (group %s failed over?): starting it again\n", r->id,
                           masters[r->from].host, masters[r->from].port, topo.groups[r->from].name);
                    job_retry(r, started, i, &failed, 0);
                }
                continue;
            }
            r->unseen = 0;
            if (!strcmp(r->st.state, "done")) {
                r->done = r->moved = 1;
                busy[r->from] = busy[r->to] = 0;
                if (tty) printf("\n");
                printf("job %s: done (%lld keys, %lld bytes, fence %lld ms, %lld ms)\n", r->id, r->st.keys_copied,
                       r->st.bytes_copied, r->st.fence_ms, r->st.elapsed_ms);
            } else if (!strcmp(r->st.state, "aborted") || !strcmp(r->st.state, "failed")) {
                if (tty) printf("\n");
                printf("job %s: %s%s%s\n", r->id, r->st.state, r->st.last_error[0] ? ": " : "", r->st.last_error);
                busy[r->from] = busy[r->to] = 0;
                if (!strcmp(r->st.last_error, "cancelled")) {
                    r->done = 1; /* strata-cli cancel: not started again */
                    cancelled++;
                } else {
                    job_retry(r, started, i, &failed, is_busy_error(r->st.last_error));
                }
            } else {
                follow_target(r);
            }
        }
        for (;;) {
            int i = plan_next_job(p, started, busy);
            if (i < 0) break;
            struct job_run *r = &runs[i];
            const struct plan_job *j = &p->jobs[i];
            r->from = j->from;
            r->to = j->to;
            /* Not yet, or a node still busy (a trim, another coordinator's
             * job): leave both groups for this turn. */
            if (now_ms() < r->retry_at || !masters[j->from].port || !masters[j->to].port) {
                busy[j->from] = busy[j->to] = 1;
                continue;
            }
            started[i] = 1;
            char err[256];
            if (adopt(r, j)) {
                if (o->rate_given) set_rate(r, o->rate_mb);
                r->started = 1;
                busy[j->from] = busy[j->to] = 1;
                continue;
            }
            if (group_busy(j->from, NULL) || group_busy(j->to, NULL)) {
                started[i] = 0;
                r->retry_at = now_ms() + 1000;
                busy[j->from] = busy[j->to] = 1;
                continue;
            }
            if (start_job(r, j, o->rate_mb, err, sizeof err) == 0) {
                r->started = 1;
                busy[j->from] = busy[j->to] = 1;
            } else {
                int b = is_busy_error(err);
                if (!b)
                    fprintf(stderr, "strata-cli: job %s -> %s (slots %s) did not start: %s\n",
                            topo.groups[j->from].name, topo.groups[j->to].name, j->ranges, err);
                job_retry(r, started, i, &failed, b);
                busy[j->from] = busy[j->to] = 1;
            }
        }
        int all = 1;
        for (int i = 0; i < p->njobs; i++) all &= runs[i].done;
        progress(p, tty, t0, all);
        if (all) break;
        usleep(CLI_POLL_MS * 1000);
    }
    if (tty) printf("\n");
    if (cancelled)
        fprintf(stderr, "strata-cli: %d job%s cancelled (`strata-cli cancel`): rerun the command to move "
                        "them again\n", cancelled, cancelled == 1 ? "" : "s");
    if (failed) {
        fprintf(stderr, "strata-cli: %d job%s failed %d times: rerun the command to retry\n", failed,
                failed == 1 ? "" : "s", CLI_RETRIES);
        return 1;
    }
    return cancelled ? 1 : 0;
}

static int cmd_move(const struct opts *o, int rebalance)
{
    static int current[PLAN_SLOTS], target[PLAN_SLOTS];
    read_cluster(current, 0);
    if (rebalance) {
        plan_rebalance(topo.ngroups, current, target);
    } else {
        for (int s = 0; s < PLAN_SLOTS; s++) target[s] = topo.slot_group[s];
    }
    struct plan p;
    plan_diff(topo.ngroups, target, current, &p);
    if (p.njobs > CLI_MAX_JOBS) die("the plan has %d jobs, more than %d: move fewer ranges at once", p.njobs,
                                    CLI_MAX_JOBS);
    if (p.nmoves == 0) {
        printf("nothing to move: the slot map already matches %s\n", rebalance ? "an even spread" : "the file");
        plan_free(&p);
        return 0;
    }
    for (int i = 0; i < p.njobs; i++) {
        if (!masters[p.jobs[i].from].port)
            die("group %s is down: none of its nodes answered as a master, so it cannot export slots %s",
                topo.groups[p.jobs[i].from].name, p.jobs[i].ranges);
        if (!masters[p.jobs[i].to].port)
            die("group %s is down: none of its nodes answered as a master, so it cannot import slots %s",
                topo.groups[p.jobs[i].to].name, p.jobs[i].ranges);
    }
    print_plan(&p, o->rate_mb);
    if (rebalance) {
        printf("after the move, set the file's slots to:\n");
        char ranges[8192];
        for (int g = 0; g < topo.ngroups; g++) {
            print_ranges_of(target, g, ranges, sizeof ranges);
            printf("  %s: slots: \"%s\"\n", topo.groups[g].name, ranges);
        }
    }
    int rc = 0;
    if (o->dry_run) {
        printf("dry run: nothing moved\n");
    } else if (!confirm(o->yes)) {
        printf("nothing moved\n");
        rc = 1;
    } else {
        rc = run_plan(&p, o);
        if (rc == 0) {
            read_cluster(current, 0);
            int left = 0;
            for (int s = 0; s < PLAN_SLOTS; s++) left += current[s] != target[s] && current[s] >= 0;
            if (left) {
                fprintf(stderr, "strata-cli: %d slots are still not where the plan puts them\n", left);
                rc = 1;
            } else {
                printf("done: the slot map matches the plan\n");
            }
        }
    }
    plan_free(&p);
    return rc;
}

static int cmd_status(void)
{
    static int current[PLAN_SLOTS];
    read_cluster(current, 0);
    char ranges[8192];
    printf("slot map (masters' tables):\n");
    for (int g = 0; g < topo.ngroups; g++) {
        print_ranges_of(current, g, ranges, sizeof ranges);
        printf("  %-12s %s:%d  %5d slots  %s\n", topo.groups[g].name,
               masters[g].port ? masters[g].host : "(down)", masters[g].port, plan_count(current, g),
               ranges[0] ? ranges : "-");
    }
    int differ = 0;
    for (int s = 0; s < PLAN_SLOTS; s++) differ += current[s] >= 0 && current[s] != topo.slot_group[s];
    if (differ)
        printf("the file gives %d slots to other groups than the map: `strata-cli reshard --config FILE` "
               "moves them\n", differ);
    int njobs = 0;
    for (int g = 0; g < topo.ngroups; g++) {
        if (!masters[g].port) continue;
        struct cl_job jobs[32];
        char err[256];
        int n = cl_status(&masters[g], jobs, 32, err, sizeof err);
        if (n < 0) {
            printf("group %s: %s\n", topo.groups[g].name, err);
            continue;
        }
        for (int i = 0; i < n; i++, njobs++) {
            const struct cl_job *j = &jobs[i];
            char b1[32], b2[32], b3[32];
            printf("job %s  %s %s  %s  slots %s  peer %s  %lld/%lld keys  %s/%s  lag %s  %lld MB/s%s%s\n", j->job,
                   topo.groups[g].name, j->role, j->state, j->ranges, j->peer, j->keys_copied, j->keys_total,
                   plan_fmt_bytes((double)j->bytes_copied, b1, sizeof b1),
                   plan_fmt_bytes((double)j->bytes_total, b2, sizeof b2),
                   plan_fmt_bytes((double)j->lag_bytes, b3, sizeof b3), j->rate_mb,
                   j->last_error[0] ? "  error: " : "", j->last_error);
        }
    }
    if (!njobs) printf("no migration jobs\n");
    return 0;
}

static int cmd_control(const struct opts *o)
{
    static int current[PLAN_SLOTS];
    read_cluster(current, 0);
    const char *verb = !strcmp(o->cmd, "pause") ? "PAUSE" : !strcmp(o->cmd, "resume") ? "RESUME" : "CANCEL";
    int hits = 0, errors = 0;
    for (int g = 0; g < topo.ngroups; g++) {
        if (!masters[g].port) continue;
        struct cl_job jobs[32];
        char err[256];
        int n = cl_status(&masters[g], jobs, 32, err, sizeof err);
        for (int i = 0; i < n; i++) {
            if (strcmp(jobs[i].role, "export") != 0 || cl_state_final(jobs[i].state)) continue;
            if (o->job && strcmp(jobs[i].job, o->job) != 0) continue;
            const char *argv[] = { "STRATA", "MIGRATE", verb, jobs[i].job };
            redisReply *r = cl_command(masters[g].host, masters[g].port, err, sizeof err, 4, argv);
            hits++;
            if (!r || r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "strata-cli: job %s: %s\n", jobs[i].job, r ? r->str : err);
                errors++;
            } else {
                printf("job %s: %s\n", jobs[i].job, o->cmd);
            }
            if (r) freeReplyObject(r);
        }
    }
    if (!hits) {
        fprintf(stderr, "strata-cli: %s\n", o->job ? "no running export job of that id" : "no running jobs");
        return 1;
    }
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct opts o = { .rate_mb = CLI_DEFAULT_RATE_MB };
    if (argc < 2) return usage();
    o.cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) o.config = argv[++i];
        else if (!strcmp(argv[i], "--dry-run")) o.dry_run = 1;
        else if (!strcmp(argv[i], "--yes") || !strcmp(argv[i], "-y")) o.yes = 1;
        else if (!strcmp(argv[i], "--rate-mb") && i + 1 < argc) {
            if (str2d(argv[i + 1], strlen(argv[i + 1]), &o.rate_mb) < 0 || !(o.rate_mb > 0) || o.rate_mb > 1e6) {
                fprintf(stderr, "strata-cli: --rate-mb wants a positive number of MB/s\n");
                return 2;
            }
            o.rate_given = 1;
            i++;
        } else if (!strcmp(argv[i], "--debug-fence-ms") && i + 1 < argc) {
            /* For tests, not in the usage: the nodes hold each switch this long. */
            if (str2ll(argv[i + 1], strlen(argv[i + 1]), &o.debug_fence_ms) < 0 || o.debug_fence_ms < 0) return usage();
            debug_fence_ms = o.debug_fence_ms;
            i++;
        } else if (argv[i][0] != '-' && !o.job) o.job = argv[i];
        else {
            fprintf(stderr, "strata-cli: unknown argument '%s'\n", argv[i]);
            return usage();
        }
    }
    int is_move = !strcmp(o.cmd, "reshard") || !strcmp(o.cmd, "rebalance");
    int is_ctl = !strcmp(o.cmd, "pause") || !strcmp(o.cmd, "resume") || !strcmp(o.cmd, "cancel");
    if (!is_move && !is_ctl && strcmp(o.cmd, "status") != 0) {
        fprintf(stderr, "strata-cli: unknown command '%s'\n", o.cmd);
        return usage();
    }
    if (!o.config) {
        fprintf(stderr, "strata-cli: --config FILE is required\n");
        return 2;
    }
    if (o.job && !is_ctl) return usage();
    config_path = o.config;
    buf errs;
    buf_init(&errs);
    if (topo_load(o.config, &topo, NULL, &errs) < 0) {
        fprintf(stderr, "%.*s", (int)errs.len, errs.data ? errs.data : "");
        buf_free(&errs);
        return 1;
    }
    buf_free(&errs);
    if (topo.ngroups > CLI_MAX_GROUPS) die("too many groups");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_int);
    signal(SIGTERM, on_int);
    cl_init(&topo, 1000);
    int rc = is_move ? cmd_move(&o, !strcmp(o.cmd, "rebalance")) : is_ctl ? cmd_control(&o) : cmd_status();
    cl_close_all();
    topo_free(&topo);
    return rc;
}
