/* proxy: process-wide state and snapshot publication.  See proxy.h. */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pacl.h"
#include "sentwatch.h"
#include "slotcheck.h"
#include "worker.h"

struct proxy proxy_g = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct route *proxy_route_acquire(void)
{
    pthread_mutex_lock(&proxy_g.lock);
    struct route *r = route_retain(proxy_g.route);
    pthread_mutex_unlock(&proxy_g.lock);
    return r;
}

void proxy_publish_locked(void)
{
    struct route *r = route_build(&proxy_g.conf.topo, &proxy_g.conf.s, proxy_g.masters,
                                  proxy_g.nmasters, proxy_g.route, proxy_g.nworkers,
                                  ++proxy_g.version);
    struct route *old = proxy_g.route;
    proxy_g.route = r;
    if (old) route_release(old);
    for (int i = 0; i < proxy_g.nworkers; i++) worker_notify(&proxy_g.workers[i]);
}

/* Does any tls_* setting of b differ from a's?  They are read at start
 * (proxy_g.tls_ctx, the workers' listeners), so a reload only says so. */
static int tls_settings_differ(const struct pconf *a, const struct pconf *b)
{
    int differ = 0;
    buf va, vb;
    buf_init(&va);
    buf_init(&vb);
    for (const struct conf_field *f = pconf_fields(); f->name && !differ; f++) {
        if (strncmp(f->name, "tls_", 4) != 0) continue;
        va.len = vb.len = 0;
        conf_get(pconf_fields(), a, f->name, &va);
        conf_get(pconf_fields(), b, f->name, &vb);
        differ = va.len != vb.len || (va.len && memcmp(va.data, vb.data, va.len) != 0);
    }
    buf_free(&va);
    buf_free(&vb);
    return differ;
}

int proxy_reload(void)
{
    struct pconf next;
    buf errs;
    buf_init(&errs);
    int rc = pconf_load(&next, proxy_g.argc, proxy_g.argv, NULL, &errs);
    if (rc != 0) {
        log_error("reload failed, keeping the running configuration:\n%.*s", (int)errs.len,
                  errs.data ? errs.data : "");
        buf_free(&errs);
        pconf_free(&next);
        return -1;
    }
    buf_free(&errs);
    if (next.listen_port != proxy_g.conf.listen_port ||
        strcmp(next.listen_host, proxy_g.conf.listen_host) != 0 ||
        next.s.threads != proxy_g.conf.s.threads)
        log_warn("reload: listen address and threads change only at restart");
    if (tls_settings_differ(&proxy_g.conf, &next))
        log_warn("reload: the tls_* settings change only at restart");
    pthread_mutex_lock(&proxy_g.lock);
    /* Slots the file moves stay with the group that holds their keys
     * until strata-cli has moved them (slotcheck.h). */
    buf warn;
    buf_init(&warn);
    int kept = slotcheck_reload(&proxy_g.conf.topo, &next.topo, proxy_g.config_file, &warn);
    if (kept < 0) {
        pthread_mutex_unlock(&proxy_g.lock);
        log_error("reload refused, keeping the running configuration:\n%.*s", (int)warn.len, warn.data);
        buf_free(&warn);
        pconf_free(&next);
        return -1;
    }
    if (warn.len)
        log_warn("reload: the file moves slots between groups:\n%.*s", (int)warn.len, warn.data);
    buf_free(&warn);
    if (kept) atomic_fetch_add(&proxy_g.slots_kept, (unsigned long)kept);
    struct pconf old = proxy_g.conf;
    proxy_g.conf = next;
    /* Keep what cannot change without a restart. */
    proxy_g.conf.listen_port = old.listen_port;
    snprintf(proxy_g.conf.listen_host, sizeof proxy_g.conf.listen_host, "%s", old.listen_host);
    proxy_g.conf.s.threads = old.s.threads;
    proxy_g.conf.s.tls_port = old.s.tls_port; /* its listeners and tls_ctx stay */
    /* Sentinel-reported masters stay valid for groups that still exist. */
    proxy_publish_locked();
    pthread_mutex_unlock(&proxy_g.lock);
    log_level_current = proxy_g.conf.s.log_level;
    pacl_set_password(proxy_g.conf.topo.password);
    pconf_free(&old);
    atomic_fetch_add(&proxy_g.reloads, 1);
    log_info("reloaded %s: %d groups, snapshot %llu", proxy_g.config_file,
             proxy_g.conf.topo.ngroups, (unsigned long long)proxy_g.version);
    sentwatch_refresh();
    return 0;
}

void proxy_set_masters(const struct route_master *m, int n)
{
    pthread_mutex_lock(&proxy_g.lock);
    int changed = n != proxy_g.nmasters ||
                  (n > 0 && memcmp(m, proxy_g.masters, sizeof *m * (size_t)n) != 0);
    if (changed) {
        for (int i = 0; i < n; i++) {
            int known = 0;
            for (int j = 0; j < proxy_g.nmasters; j++) {
                if (!strcmp(proxy_g.masters[j].group, m[i].group)) {
                    known = 1;
                    if (strcmp(proxy_g.masters[j].addr.host, m[i].addr.host) ||
                        proxy_g.masters[j].addr.port != m[i].addr.port) {
                        log_info("group %s: master is now %s:%d (was %s:%d)", m[i].group,
                                 m[i].addr.host, m[i].addr.port, proxy_g.masters[j].addr.host,
                                 proxy_g.masters[j].addr.port);
                        atomic_fetch_add(&proxy_g.failovers, 1);
                    }
                }
            }
            if (!known)
                log_info("group %s: master %s:%d (sentinels)", m[i].group, m[i].addr.host,
                         m[i].addr.port);
        }
        free(proxy_g.masters);
        proxy_g.masters = n ? xmalloc(sizeof *m * (size_t)n) : NULL;
        if (n) memcpy(proxy_g.masters, m, sizeof *m * (size_t)n);
        proxy_g.nmasters = n;
        proxy_publish_locked();
    }
    pthread_mutex_unlock(&proxy_g.lock);
}

void proxy_request_refresh(void)
{
    sentwatch_refresh();
}

int proxy_parse_moved(const char *raw, size_t len, unsigned *slot, char *group, size_t gsize)
{
    static const char pfx[] = "-MOVED ";
    size_t i = sizeof pfx - 1, gs, colon = 0;
    unsigned v = 0;
    if (len < i || memcmp(raw, pfx, i) != 0) return -1;
    size_t ds = i;
    while (i < len && raw[i] >= '0' && raw[i] <= '9' && i - ds < 6) v = v * 10 + (unsigned)(raw[i++] - '0');
    if (i == ds || i >= len || raw[i] != ' ' || v >= 16384) return -1;
    gs = ++i;
    while (i < len && raw[i] != '\r') {
        if (raw[i] == ':') colon = i;
        i++;
    }
    if (!colon || colon == gs) return -1;
    *slot = v;
    if (group) {
        if (colon - gs >= gsize) return -1;
        memcpy(group, raw + gs, colon - gs);
        group[colon - gs] = '\0';
    }
    return 0;
}

void proxy_note_moved(const char *raw, size_t len)
{
    unsigned slot;
    char group[256];
    if (proxy_parse_moved(raw, len, &slot, group, sizeof group) < 0) return;
    atomic_fetch_add(&proxy_g.moved, 1);
    pthread_mutex_lock(&proxy_g.lock);
    struct topology *t = &proxy_g.conf.topo;
    int gi = -1;
    for (int i = 0; i < t->ngroups; i++)
        if (!strcmp(t->groups[i].name, group)) gi = i;
    if (gi >= 0 && t->slot_group[slot] != gi) {
        log_warn("slot %u: group %s's node answered -MOVED: group %s owns it; routing it there", slot,
                 t->groups[t->slot_group[slot]].name, group);
        t->slot_group[slot] = (uint16_t)gi;
        proxy_publish_locked();
    } else if (gi < 0) {
        log_warn("slot %u: a node answered -MOVED naming group %s, which the topology does not have",
                 slot, group);
    }
    pthread_mutex_unlock(&proxy_g.lock);
    proxy_request_refresh();
}

void proxy_apply_claims(const char *group, const unsigned char *owned)
{
    pthread_mutex_lock(&proxy_g.lock);
    struct topology *t = &proxy_g.conf.topo;
    int gi = -1, changed = 0;
    for (int i = 0; i < t->ngroups; i++)
        if (!strcmp(t->groups[i].name, group)) gi = i;
    for (int s = 0; gi >= 0 && s < SLOT_COUNT;) {
        if (!((owned[s >> 3] >> (s & 7)) & 1) || t->slot_group[s] == gi) {
            s++;
            continue;
        }
        int e = s, from = t->slot_group[s];
        while (e + 1 < SLOT_COUNT && ((owned[(e + 1) >> 3] >> ((e + 1) & 7)) & 1) &&
               t->slot_group[e + 1] == from)
            e++;
        log_warn("slots %d-%d: group %s's table owns them (the file says %s): routing them to %s", s, e,
                 group, t->groups[from].name, group);
        for (int i = s; i <= e; i++) t->slot_group[i] = (uint16_t)gi;
        changed = 1;
        s = e + 1;
    }
    if (changed) proxy_publish_locked();
    pthread_mutex_unlock(&proxy_g.lock);
}
