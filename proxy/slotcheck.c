/* slotcheck: the SIGHUP stop-gap for slot moves, and -t's comparison
 * with the nodes' slot tables.  See slotcheck.h. */
#include "slotcheck.h"

#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "slot.h"
#include "synclink.h"

static int group_index(const struct topology *t, const char *name)
{
    for (int i = 0; i < t->ngroups; i++)
        if (!strcmp(t->groups[i].name, name)) return i;
    return -1;
}

int slotcheck_reload(const struct topology *cur, struct topology *next, const char *path, buf *warn)
{
    int kept = 0, removed = 0;
    const char *file = path && path[0] ? path : "<topology file>";
    for (int s = 0; s < SLOT_COUNT;) {
        const char *from = cur->groups[cur->slot_group[s]].name;
        const char *to = next->groups[next->slot_group[s]].name;
        if (!strcmp(from, to)) {
            s++;
            continue;
        }
        /* The range of consecutive slots with the same (from, to). */
        int e = s;
        while (e + 1 < SLOT_COUNT && !strcmp(cur->groups[cur->slot_group[e + 1]].name, from) &&
               !strcmp(next->groups[next->slot_group[e + 1]].name, to))
            e++;
        int keep = group_index(next, from);
        if (keep >= 0) {
            for (int i = s; i <= e; i++) next->slot_group[i] = (uint16_t)keep;
            kept += e - s + 1;
            buf_printf(warn,
                       "slots %d-%d: the file moves them from group %s to group %s, which needs a "
                       "slot migration: run `strata-cli reshard --config %s`; until it is done they "
                       "stay on %s, whose nodes hold their keys\n",
                       s, e, from, to, file, from);
        } else {
            removed++;
            buf_printf(warn,
                       "slots %d-%d: group %s still owns them, so it cannot be removed from the file: "
                       "put it back, give its slots to other groups and run `strata-cli reshard "
                       "--config %s`, then remove it\n",
                       s, e, from, file);
        }
        s = e + 1;
    }
    return removed ? -1 : kept;
}

/* slotcheck_ask_claims, with the reason it could not ask (-1) in err. */
static int ask(const char *host, int port, const struct topo_user *auth, struct tls_ctx *tls, long long timeout_ms,
               char *group, size_t gsize, unsigned char *owned, struct slotmap *claims, char *err, size_t errlen)
{
    const char *av[3];
    int ac = auth ? topo_auth_argv(auth, av) : 0;
    synclink *l = synclink_open(host, port, tls, timeout_ms, err, errlen);
    int rc = -1;
    if (!l) goto out;
    if (ac) {
        redisReply *a = synclink_command(l, ac, av);
        int ok = a && a->type != REDIS_REPLY_ERROR;
        if (!ok) snprintf(err, errlen, "AUTH: %s", a ? a->str : "no reply");
        if (a) freeReplyObject(a);
        if (!ok) goto out;
    }
    static const char *slots_argv[2] = { "STRATA", "SLOTS" };
    redisReply *r = synclink_command(l, 2, slots_argv);
    if (!r) {
        snprintf(err, errlen, "no reply to STRATA SLOTS");
        goto out;
    }
    if (r->type == REDIS_REPLY_ERROR) rc = 0; /* a redis-server: no table */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 4) {
        rc = 0;
        redisReply *self = r->element[1], *ranges = r->element[3];
        if (self->type == REDIS_REPLY_STRING && ranges->type == REDIS_REPLY_ARRAY && self->len < gsize) {
            rc = 1;
            memcpy(group, self->str, self->len + 1);
            memset(owned, 0, SLOT_COUNT / 8);
            for (size_t i = 0; i < ranges->elements; i++) {
                redisReply *e = ranges->element[i];
                if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
                    e->element[2]->type != REDIS_REPLY_STRING || strcmp(e->element[2]->str, self->str))
                    continue;
                long long lo = e->element[0]->integer, hi = e->element[1]->integer;
                for (long long s = lo < 0 ? 0 : lo; s <= hi && s < SLOT_COUNT; s++)
                    owned[s >> 3] |= (unsigned char)(1u << (s & 7));
                if (claims && e->elements >= 4 && e->element[3]->type == REDIS_REPLY_INTEGER && lo >= 0 &&
                    hi < SLOT_COUNT && lo <= hi)
                    slotmap_claim(claims, (int)lo, (int)hi, self->str, (uint64_t)e->element[3]->integer, NULL);
            }
        }
    }
    freeReplyObject(r);
out:
    synclink_close(l);
    return rc;
}

int slotcheck_ask(const char *host, int port, const struct topo_user *auth, struct tls_ctx *tls,
                  long long timeout_ms, char *group, size_t gsize, unsigned char *owned)
{
    char err[256];
    return ask(host, port, auth, tls, timeout_ms, group, gsize, owned, NULL, err, sizeof err);
}

int slotcheck_ask_claims(const char *host, int port, const struct topo_user *auth, struct tls_ctx *tls,
                         long long timeout_ms, char *group, size_t gsize, unsigned char *owned,
                         struct slotmap *claims)
{
    char err[256];
    return ask(host, port, auth, tls, timeout_ms, group, gsize, owned, claims, err, sizeof err);
}

/* The sentinels' map (SENTINEL SLOTS, sentinel/slotagg.h): ranges owned
 * by groups the file does not have.  Returns how many slots, -1 when no
 * sentinel answered. */
static int slotcheck_sentinels(const struct topology *t, long long timeout_ms, const char *file, buf *warn)
{
    struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
    for (int i = 0; i < t->nsentinels; i++) {
        redisContext *ctx = redisConnectWithTimeout(t->sentinels[i].host, t->sentinels[i].port, tv);
        if (!ctx || ctx->err) {
            if (ctx) redisFree(ctx);
            continue;
        }
        redisSetTimeout(ctx, tv);
        if (t->password && t->password[0]) {
            redisReply *a = redisCommand(ctx, "AUTH %s", t->password);
            if (a) freeReplyObject(a);
        }
        redisReply *r = redisCommand(ctx, "SENTINEL SLOTS");
        int n = -1;
        if (r && r->type == REDIS_REPLY_ARRAY) {
            n = 0;
            for (size_t k = 0; k < r->elements; k++) {
                redisReply *e = r->element[k];
                if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || e->element[2]->type != REDIS_REPLY_STRING ||
                    group_index(t, e->element[2]->str) >= 0)
                    continue;
                buf_printf(warn,
                           "slots %lld-%lld: group %s owns them (sentinels' map) but the file no longer "
                           "has it: a group that owns slots cannot be removed; put it back, give its "
                           "slots to other groups and run `strata-cli reshard --config %s`, then remove it\n",
                           e->element[0]->integer, e->element[1]->integer, e->element[2]->str, file);
                n += (int)(e->element[1]->integer - e->element[0]->integer + 1);
            }
        }
        if (r) freeReplyObject(r);
        redisFree(ctx);
        if (n >= 0) return n;
    }
    return -1;
}

int slotcheck_nodes(const struct topology *t, const char *path, long long timeout_ms, struct tls_ctx *tls,
                    buf *warn)
{
    const char *file = path && path[0] ? path : "<topology file>";
    int owner[SLOT_COUNT];
    int differ = 0;
    for (int s = 0; s < SLOT_COUNT; s++) owner[s] = -1;
    unsigned char owned[SLOT_COUNT / 8];
    char self[256], err[256] = "";
    for (int g = 0; g < t->ngroups; g++) {
        int answered = 0;
        for (int i = 0; i < t->groups[g].nnodes && !answered; i++) {
            const struct topo_node *n = &t->groups[g].nodes[i];
            int rc = ask(n->host, n->port, &t->proxy_user, tls, timeout_ms, self, sizeof self, owned, NULL, err,
                         sizeof err);
            answered = rc >= 0;
            int gi = rc == 1 ? group_index(t, self) : -1;
            for (int s = 0; gi >= 0 && s < SLOT_COUNT; s++)
                if ((owned[s >> 3] >> (s & 7)) & 1) owner[s] = gi;
        }
        if (!answered)
            buf_printf(warn, "group %s: no node answered STRATA SLOTS (last: %s): its slot table was not checked\n",
                       t->groups[g].name, err);
    }
    for (int s = 0; s < SLOT_COUNT;) {
        int o = owner[s];
        if (o < 0 || o == t->slot_group[s]) {
            s++;
            continue;
        }
        int e = s;
        while (e + 1 < SLOT_COUNT && owner[e + 1] == o && t->slot_group[e + 1] == t->slot_group[s]) e++;
        buf_printf(warn,
                   "slots %d-%d: the file gives them to group %s but group %s owns them; moving them "
                   "needs a slot migration: run `strata-cli reshard --config %s` (a running proxy "
                   "keeps them on %s until then)\n",
                   s, e, t->groups[t->slot_group[s]].name, t->groups[o].name, file, t->groups[o].name);
        differ += e - s + 1;
        s = e + 1;
    }
    if (t->nsentinels && slotcheck_sentinels(t, timeout_ms, file, warn) > 0) return -1;
    return differ;
}
