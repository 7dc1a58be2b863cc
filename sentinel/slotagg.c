/* slotagg: the aggregated slot map.  See slotagg.h. */
#include "slotagg.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "link.h"
#include "log.h"
#include "mon.h"
#include "resp.h"
#include "server.h"
#include "util.h"

#define SLOTAGG_FILE "slots.map"

static struct slotmap map;
static int map_ready;
static uint64_t conflict_ms[SLOTMAP_SLOTS / 64];  /* last alert per 64-slot block */

static void slotagg_path(char *out, size_t n)
{
    snprintf(out, n, "%s/%s", snt.conf.dir, SLOTAGG_FILE);
}

static void slotagg_ensure(void)
{
    if (!map_ready) {
        slotmap_init(&map);
        map_ready = 1;
    }
}

int slotagg_load(void)
{
    char path[4096], err[300];
    slotagg_ensure();
    slotagg_path(path, sizeof path);
    int rc = slotmap_load(&map, path, err, sizeof err);
    if (rc < 0) {
        log_error("%s; move it away to start with an empty map (the masters' tables rebuild it)", err);
        return -1;
    }
    if (rc == 1)
        log_info("slot map loaded from %s: %d slots claimed, epoch %llu", path, slotmap_claimed(&map),
                 (unsigned long long)slotmap_max_epoch(&map));
    return 0;
}

const struct slotmap *slotagg_map(void)
{
    slotagg_ensure();
    return &map;
}

int slotagg_note(const redisReply *r, uint64_t now)
{
    slotagg_ensure();
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4) return 0;
    const redisReply *self = r->element[1], *ranges = r->element[3];
    if (self->type != REDIS_REPLY_STRING || ranges->type != REDIS_REPLY_ARRAY) return 0;
    struct slotmap before;
    slotmap_copy(&before, &map);
    int changed = 0;
    for (size_t i = 0; i < ranges->elements; i++) {
        const redisReply *e = ranges->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || e->element[2]->type != REDIS_REPLY_STRING ||
            strcmp(e->element[2]->str, self->str) != 0 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[3]->type != REDIS_REPLY_INTEGER)
            continue;
        int lo = (int)e->element[0]->integer, hi = (int)e->element[1]->integer;
        uint64_t epoch = (uint64_t)e->element[3]->integer;
        int c = slotmap_claim(&map, lo, hi, self->str, epoch, &changed);
        if (c > 0 && lo >= 0 && lo < SLOTMAP_SLOTS) {
            uint64_t *last = &conflict_ms[lo / 64];
            if (!*last || now - *last >= SLOTAGG_CONFLICT_MS) {
                *last = now;
                log_warn("slots %d-%d: group %s claims them at epoch %llu, but %d of them are claimed by "
                         "another group at the same epoch: keeping the first claim", lo, hi, self->str,
                         (unsigned long long)epoch, c);
                server_publish("+slots-conflict", "%d-%d %s %llu", lo, hi, self->str,
                               (unsigned long long)epoch);
            }
        }
    }
    if (changed) {
        /* Publish each changed range (a claim changes a slot only with a
         * higher epoch). */
        for (int s = 0; s < SLOTMAP_SLOTS;) {
            if (map.epoch[s] == before.epoch[s] || map.owner[s] < 0) {
                s++;
                continue;
            }
            int e = s;
            while (e + 1 < SLOTMAP_SLOTS && map.owner[e + 1] == map.owner[s] && map.epoch[e + 1] == map.epoch[s] &&
                   map.epoch[e + 1] != before.epoch[e + 1])
                e++;
            const char *g = map.names[map.owner[s]];
            log_info("slots %d-%d: group %s at epoch %llu", s, e, g, (unsigned long long)map.epoch[s]);
            server_publish("+slots", "%llu %d-%d %s", (unsigned long long)map.epoch[s], s, e, g);
            s = e + 1;
        }
        char path[4096];
        slotagg_path(path, sizeof path);
        if (slotmap_save(&map, path) < 0) log_error("cannot write the slot map %s", path);
    }
    slotmap_free(&before);
    return changed;
}

static void slotagg_cb(struct link *l, redisReply *r, void *privdata)
{
    struct snode *n = privdata;
    (void)l;
    n->agg_pending = 0;
    if (r) slotagg_note(r, now_ms());
}

void slotagg_tick(struct sgroup *g, uint64_t now)
{
    int mi = snt_master_index(g);
    if (mi < 0) return;
    struct snode *n = &g->nodes[mi];
    if (n->agg_pending || !n->is_strata || n->role != SNODE_MASTER || !mon_node_fresh(n, now)) return;
    if (now - n->agg_ms < SLOTAGG_MS) return;
    n->agg_ms = now;
    if (link_command(n->link, slotagg_cb, n, "STRATA SLOTS") == 0) n->agg_pending = 1;
}

void slotagg_reply(buf *out)
{
    slotagg_ensure();
    static struct slotmap_range r[SLOTMAP_SLOTS];
    int n = slotmap_ranges(&map, r), claimed = 0;
    for (int i = 0; i < n; i++) claimed += r[i].group >= 0;
    resp_add_array(out, claimed);
    for (int i = 0; i < n; i++) {
        if (r[i].group < 0) continue;
        resp_add_array(out, 4);
        resp_add_int(out, r[i].first);
        resp_add_int(out, r[i].last);
        resp_add_bulk_str(out, map.names[r[i].group]);
        resp_add_int(out, (long long)r[i].epoch);
    }
}
