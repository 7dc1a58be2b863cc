/* cluster: strata-cli's view of the running cluster.  See cluster.h. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "util.h"

#define CL_MAX_CONNS 256

static struct {
    const struct topology *t;   /* borrowed, for the life of the process */
    long long timeout_ms;
    int n;
    struct {
        char host[256];
        int port;
        redisContext *c;
    } conns[CL_MAX_CONNS];
} cl;

void cl_init(const struct topology *t, long long timeout_ms)
{
    cl.t = t;
    cl.timeout_ms = timeout_ms;
}

/* The AUTH for host:port: a sentinel takes the default user's password
 * (it has no other users for clients), a node users.cli (topo_auth_argv:
 * the default user with password: when the file has no users.cli). */
static int cl_auth_argv(const char *host, int port, const char *argv[3])
{
    const struct topology *t = cl.t;
    argv[0] = "AUTH";
    if (!t) return 0;
    for (int i = 0; i < t->nsentinels; i++)
        if (t->sentinels[i].port == port && !strcmp(t->sentinels[i].host, host)) {
            if (!t->password || !t->password[0]) return 0;
            argv[1] = t->password;
            return 2;
        }
    return topo_auth_argv(&t->cli_user, argv);
}

void cl_close_all(void)
{
    for (int i = 0; i < cl.n; i++)
        if (cl.conns[i].c) redisFree(cl.conns[i].c);
    cl.n = 0;
}

static redisContext *cl_connect(const char *host, int port, char *err, size_t errlen)
{
    int slot = -1;
    for (int i = 0; i < cl.n; i++)
        if (cl.conns[i].port == port && !strcmp(cl.conns[i].host, host)) {
            if (cl.conns[i].c) return cl.conns[i].c;
            slot = i;
        }
    if (slot < 0) {
        if (cl.n == CL_MAX_CONNS) {
            snprintf(err, errlen, "too many connections");
            return NULL;
        }
        slot = cl.n++;
        snprintf(cl.conns[slot].host, sizeof cl.conns[slot].host, "%s", host);
        cl.conns[slot].port = port;
        cl.conns[slot].c = NULL;
    }
    struct timeval tv = { (time_t)(cl.timeout_ms / 1000), (suseconds_t)(cl.timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "%s:%d: %s", host, port, c ? c->errstr : "cannot connect");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    const char *av[3];
    int ac = cl_auth_argv(host, port, av);
    if (ac) {
        redisReply *r = redisCommandArgv(c, ac, av, NULL);
        if (!r) {
            snprintf(err, errlen, "%s:%d: %s", host, port, c->errstr);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r); /* refused: the next reply says so (NOAUTH) */
    }
    cl.conns[slot].c = c;
    return c;
}

static void cl_drop(redisContext *c)
{
    for (int i = 0; i < cl.n; i++)
        if (cl.conns[i].c == c) cl.conns[i].c = NULL;
    redisFree(c);
}

redisReply *cl_command(const char *host, int port, char *err, size_t errlen, int argc, const char **argv)
{
    redisContext *c = cl_connect(host, port, err, errlen);
    if (!c) return NULL;
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "%s:%d: %s", host, port, c->errstr[0] ? c->errstr : "no reply");
        cl_drop(c);
    }
    return r;
}

/* The address most sentinels give for group `name`. */
static int cl_master_from_sentinels(const struct topology *t, const char *name, struct cl_master *m)
{
    char hosts[32][256];
    int ports[32], votes[32], n = 0;
    for (int i = 0; i < t->nsentinels && i < 32; i++) {
        char err[256];
        const char *argv[] = { "SENTINEL", "get-master-addr-by-name", name };
        redisReply *r = cl_command(t->sentinels[i].host, t->sentinels[i].port, err, sizeof err, 3, argv);
        if (!r) continue;
        long long port;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING &&
            str2ll(r->element[1]->str, r->element[1]->len, &port) == 0) {
            int k;
            for (k = 0; k < n; k++)
                if (ports[k] == port && !strcmp(hosts[k], r->element[0]->str)) break;
            if (k == n) {
                snprintf(hosts[n], sizeof hosts[n], "%s", r->element[0]->str);
                ports[n] = (int)port;
                votes[n++] = 0;
            }
            votes[k]++;
        }
        freeReplyObject(r);
    }
    int best = -1;
    for (int k = 0; k < n; k++)
        if (best < 0 || votes[k] > votes[best]) best = k;
    if (best < 0) return -1;
    snprintf(m->host, sizeof m->host, "%s", hosts[best]);
    m->port = ports[best];
    return 0;
}

static int cl_is_master(const char *host, int port)
{
    char err[256];
    const char *argv[] = { "ROLE" };
    redisReply *r = cl_command(host, port, err, sizeof err, 1, argv);
    int yes = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
              r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "master");
    if (r) freeReplyObject(r);
    return yes;
}

int cl_find_masters(const struct topology *t, struct cl_master *m)
{
    int down = 0;
    for (int g = 0; g < t->ngroups; g++) {
        memset(&m[g], 0, sizeof m[g]);
        const struct topo_group *tg = &t->groups[g];
        if (t->nsentinels && cl_master_from_sentinels(t, tg->name, &m[g]) == 0 &&
            cl_is_master(m[g].host, m[g].port))
            continue;
        m[g].port = 0;
        for (int i = 0; i < tg->nnodes; i++)
            if (cl_is_master(tg->nodes[i].host, tg->nodes[i].port)) {
                snprintf(m[g].host, sizeof m[g].host, "%s", tg->nodes[i].host);
                m[g].port = tg->nodes[i].port;
                break;
            }
        down += m[g].port == 0;
    }
    return down;
}

/* A field of a flat field/value array (RESP2 map). */
static const redisReply *cl_field(const redisReply *r, const char *name)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, name))
            return r->element[i + 1];
    return NULL;
}

int cl_read_map(const struct topology *t, struct cl_master *m, struct slotmap *map, buf *warn)
{
    int conflicts = 0;
    for (int g = 0; g < t->ngroups; g++) {
        if (!m[g].port) continue;
        char err[256];
        const char *argv[] = { "STRATA", "SLOTS" };
        redisReply *r = cl_command(m[g].host, m[g].port, err, sizeof err, 2, argv);
        if (!r) {
            buf_printf(warn, "group %s: its master %s:%d did not answer STRATA SLOTS: %s\n",
                       t->groups[g].name, m[g].host, m[g].port, err);
            m[g].port = 0;
            continue;
        }
        const redisReply *self = cl_field(r, "group"), *ranges = cl_field(r, "ranges");
        if (self && self->type == REDIS_REPLY_STRING && ranges && ranges->type == REDIS_REPLY_ARRAY) {
            m[g].has_table = 1;
            snprintf(m[g].self, sizeof m[g].self, "%s", self->str);
            if (strcmp(self->str, t->groups[g].name) != 0)
                buf_printf(warn, "group %s: its master %s:%d says it belongs to group %s\n",
                           t->groups[g].name, m[g].host, m[g].port, self->str);
            for (size_t i = 0; i < ranges->elements; i++) {
                const redisReply *e = ranges->element[i];
                if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || e->element[2]->type != REDIS_REPLY_STRING ||
                    strcmp(e->element[2]->str, self->str) != 0)
                    continue;
                int c = slotmap_claim(map, (int)e->element[0]->integer, (int)e->element[1]->integer, self->str,
                                      (uint64_t)e->element[3]->integer, NULL);
                if (c > 0) {
                    buf_printf(warn, "group %s claims %d slots of %lld-%lld that another group claims at the "
                                     "same epoch %lld\n",
                               self->str, c, e->element[0]->integer, e->element[1]->integer,
                               e->element[3]->integer);
                    conflicts += c;
                }
            }
        } else if (r->type == REDIS_REPLY_ERROR) {
            buf_printf(warn, "group %s: its master %s:%d has no STRATA SLOTS (%s)\n", t->groups[g].name,
                       m[g].host, m[g].port, r->str);
        }
        freeReplyObject(r);
    }
    return conflicts;
}

int cl_sentinel_map(const struct topology *t, struct slotmap *map)
{
    int answered = 0;
    for (int i = 0; i < t->nsentinels; i++) {
        char err[256];
        const char *argv[] = { "SENTINEL", "SLOTS" };
        redisReply *r = cl_command(t->sentinels[i].host, t->sentinels[i].port, err, sizeof err, 2, argv);
        if (!r) continue;
        if (r->type == REDIS_REPLY_ARRAY) {
            answered++;
            for (size_t k = 0; k < r->elements; k++) {
                const redisReply *e = r->element[k];
                if (e->type == REDIS_REPLY_ARRAY && e->elements >= 4 && e->element[0]->type == REDIS_REPLY_INTEGER &&
                    e->element[1]->type == REDIS_REPLY_INTEGER && e->element[2]->type == REDIS_REPLY_STRING &&
                    e->element[3]->type == REDIS_REPLY_INTEGER)
                    slotmap_claim(map, (int)e->element[0]->integer, (int)e->element[1]->integer, e->element[2]->str,
                                  (uint64_t)e->element[3]->integer, NULL);
            }
        }
        freeReplyObject(r);
    }
    return answered;
}

int cl_state_final(const char *state)
{
    return !strcmp(state, "done") || !strcmp(state, "aborted") || !strcmp(state, "failed");
}

static void cl_str(const redisReply *v, char *out, size_t size)
{
    if (!v) return;
    if (v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS || v->type == REDIS_REPLY_ERROR)
        snprintf(out, size, "%s", v->str);
    else if (v->type == REDIS_REPLY_INTEGER)
        snprintf(out, size, "%lld", v->integer);
}

static long long cl_num(const redisReply *v)
{
    long long x = 0;
    if (!v) return 0;
    if (v->type == REDIS_REPLY_INTEGER) return v->integer;
    if (v->type == REDIS_REPLY_STRING) str2ll(v->str, v->len, &x);
    return x;
}

int cl_status(const struct cl_master *m, struct cl_job *out, int max, char *err, size_t errlen)
{
    const char *argv[] = { "STRATA", "MIGRATE", "STATUS" };
    redisReply *r = cl_command(m->host, m->port, err, errlen, 3, argv);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "%s:%d: STRATA MIGRATE STATUS: %s", m->host, m->port,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; i < r->elements && n < max; i++) {
        const redisReply *j = r->element[i];
        if (j->type != REDIS_REPLY_ARRAY) continue;
        struct cl_job *o = &out[n++];
        memset(o, 0, sizeof *o);
        cl_str(cl_field(j, "job"), o->job, sizeof o->job);
        cl_str(cl_field(j, "role"), o->role, sizeof o->role);
        cl_str(cl_field(j, "state"), o->state, sizeof o->state);
        cl_str(cl_field(j, "ranges"), o->ranges, sizeof o->ranges);
        cl_str(cl_field(j, "peer"), o->peer, sizeof o->peer);
        cl_str(cl_field(j, "last_error"), o->last_error, sizeof o->last_error);
        o->keys_copied = cl_num(cl_field(j, "keys_copied"));
        o->bytes_copied = cl_num(cl_field(j, "bytes_copied"));
        o->keys_total = cl_num(cl_field(j, "keys_total"));
        o->bytes_total = cl_num(cl_field(j, "bytes_total"));
        o->lag_bytes = cl_num(cl_field(j, "lag_bytes"));
        o->lag_records = cl_num(cl_field(j, "lag_records"));
        o->rate_mb = cl_num(cl_field(j, "rate_mb"));
        o->fence_ms = cl_num(cl_field(j, "fence_ms"));
        o->elapsed_ms = cl_num(cl_field(j, "elapsed_ms"));
    }
    freeReplyObject(r);
    return n;
}

/* Sum "keys" and "bytes" wherever they appear in a SLOTSINFO reply: per
 * range as field/value pairs, or as [first, last, keys, bytes]. */
static void cl_sum_info(const redisReply *r, long long *keys, long long *bytes, int depth)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || depth > 4) return;
    const redisReply *k = cl_field(r, "keys"), *b = cl_field(r, "bytes");
    if (k || b) {
        *keys += cl_num(k);
        *bytes += cl_num(b);
        return;
    }
    if (r->elements == 4 && r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[2]->type == REDIS_REPLY_INTEGER && r->element[3]->type == REDIS_REPLY_INTEGER) {
        *keys += r->element[2]->integer;
        *bytes += r->element[3]->integer;
        return;
    }
    for (size_t i = 0; i < r->elements; i++) cl_sum_info(r->element[i], keys, bytes, depth + 1);
}

int cl_slotsinfo(const struct cl_master *m, const char *ranges, long long *keys, long long *bytes,
                 char *err, size_t errlen)
{
    *keys = *bytes = 0;
    const char *argv[] = { "STRATA", "SLOTSINFO", ranges };
    redisReply *r = cl_command(m->host, m->port, err, errlen, 3, argv);
    if (!r) return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s", r->str);
        rc = -1;
    } else {
        cl_sum_info(r, keys, bytes, 0);
    }
    freeReplyObject(r);
    return rc;
}
