/* mon: watching the storage nodes.  See mon.h. */
#include "mon.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "link.h"
#include "log.h"
#include "server.h"
#include "slotagg.h"
#include "slotseed.h"
#include "util.h"

/* A node following the wrong master is re-pointed only after this long
 * (longer than a hello period, so a config this sentinel has not heard of
 * yet arrives first), and at most once per this period. */
#define MON_RECONF_DELAY_MS 1000

const char *mon_addr(const struct snode *n, char *out, size_t size)
{
    snprintf(out, size, "%s:%d", n->host, n->port);
    return out;
}

int mon_node_fresh(const struct snode *n, uint64_t now)
{
    uint64_t fresh = (uint64_t)snt.conf.s.ping_ms * 5;
    if (fresh < 1000) fresh = 1000;
    return !n->sdown && link_up(n->link) && n->info_ms && now - n->info_ms <= fresh;
}

/* n->ip: the address n->host resolves to now, so a master's slaveN line
 * (which names the address it sees) matches a topology written with host
 * names.  Blocking, but only at start and on SIGHUP. */
static void mon_resolve(struct snode *n)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    n->ip[0] = '\0';
    if (getaddrinfo(n->host, NULL, &hints, &res) != 0 || !res) return;
    if (getnameinfo(res->ai_addr, res->ai_addrlen, n->ip, sizeof n->ip, NULL, 0, NI_NUMERICHOST) != 0)
        n->ip[0] = '\0';
    freeaddrinfo(res);
}

void mon_start(void)
{
    for (int gi = 0; gi < snt.ngroups; gi++) {
        struct sgroup *g = &snt.groups[gi];
        for (int i = 0; i < g->nnodes; i++) {
            struct snode *n = &g->nodes[i];
            char name[160];
            snprintf(name, sizeof name, "node %s", g->name);
            n->link = link_create(snt.base, name, n->host, n->port, &snt.conf.topo.sentinel_user,
                                  snt.conf.s.timeout_ms);
            mon_resolve(n);
            /* Kept across a reload, so a reload does not reset sdown. */
            if (!n->last_ok_ms) n->last_ok_ms = now_ms();
        }
    }
}

void mon_stop(void)
{
    for (int gi = 0; gi < snt.ngroups; gi++)
        for (int i = 0; i < snt.groups[gi].nnodes; i++) {
            link_destroy(snt.groups[gi].nodes[i].link);
            snt.groups[gi].nodes[i].link = NULL;
        }
}

/* ---- replies ---- */

static void mon_ping_cb(struct link *l, redisReply *r, void *privdata)
{
    struct snode *n = privdata;
    (void)l;
    n->ping_pending = 0;
    if (!r) return;
    if ((r->type == REDIS_REPLY_STATUS && !strcasecmp(r->str, "PONG")) ||
        (r->type == REDIS_REPLY_ERROR &&
         (!strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "MASTERDOWN", 10) ||
          /* a node running a busy script is alive: it serves acks and
           * SCRIPT KILL, and fails over nothing by being slow */
          !strncmp(r->str, "BUSY", 4))))
        n->last_ok_ms = now_ms();
}

/* Value of "key:" in an INFO line, or NULL. */
static const char *mon_field(const char *line, size_t len, const char *key, size_t *vlen)
{
    size_t kl = strlen(key);
    if (len <= kl || memcmp(line, key, kl) != 0 || line[kl] != ':') return NULL;
    *vlen = len - kl - 1;
    return line + kl + 1;
}

static uint64_t mon_num(const char *v, size_t len)
{
    unsigned long long x = 0;
    if (str2ull(v, len, &x) < 0) return 0;
    return x;
}

/* One "slaveN:ip=..,port=..,..." line of a master. */
static void mon_parse_slave(struct sgroup *g, const char *v, size_t len)
{
    char ip[SNT_HOST_MAX] = "";
    int port = 0;
    uint64_t acked = 0;
    int have_acked = 0;
    const char *p = v, *end = v + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq) {
            size_t kl = (size_t)(eq - p), vl = (size_t)(e - eq - 1);
            if (kl == 2 && !memcmp(p, "ip", 2) && vl < sizeof ip) {
                memcpy(ip, eq + 1, vl);
                ip[vl] = '\0';
            } else if (kl == 4 && !memcmp(p, "port", 4)) {
                port = (int)mon_num(eq + 1, vl);
            } else if (kl == 9 && !memcmp(p, "acked_lsn", 9)) {
                acked = mon_num(eq + 1, vl);
                have_acked = 1;
            } else if (kl == 6 && !memcmp(p, "offset", 6) && !have_acked) {
                acked = mon_num(eq + 1, vl);
            }
        }
        p = e + 1;
    }
    /* The floor grows whether or not the line matches a node: a write a
     * replica we cannot name acknowledged is still acknowledged. */
    if (acked > g->acked_floor) g->acked_floor = acked;
    int i = mon_match_replica(g, ip, port);
    if (i >= 0) g->nodes[i].acked_lsn = acked;
}

int mon_match_replica(const struct sgroup *g, const char *ip, int port)
{
    int by_port = -1, nport = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const struct snode *n = &g->nodes[i];
        if (n->port != port) continue;
        if (!strcmp(n->host, ip) || (n->ip[0] && !strcmp(n->ip, ip))) return i;
        by_port = i;
        nport++;
    }
    return nport == 1 ? by_port : -1;
}

void mon_parse_info(struct sgroup *g, struct snode *n, const char *text, uint64_t now)
{
    int is_strata = 0, have_slave_off = 0, have_master_off = 0;
    uint64_t slave_off = 0, master_off = 0, lsn = 0, epoch = 0, last_epoch = 0, lease_ms = 0;
    enum snode_role role = SNODE_UNKNOWN;
    char mhost[SNT_HOST_MAX] = "", runid[SNT_ID_LEN + 1] = "";
    int mport = 0, link_up_ = 0, fenced = 0, have_acks = 0, degraded = 0;
    long long min_acks = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t ll = len;
        if (ll && p[ll - 1] == '\r') ll--;
        const char *v;
        size_t vl;
        if ((v = mon_field(p, ll, "run_id", &vl))) {
            if (vl < sizeof runid) {
                memcpy(runid, v, vl);
                runid[vl] = '\0';
            }
        } else if ((v = mon_field(p, ll, "role", &vl))) {
            role = vl == 6 && !memcmp(v, "master", 6) ? SNODE_MASTER : SNODE_REPLICA;
        } else if ((v = mon_field(p, ll, "master_host", &vl)) && vl < sizeof mhost) {
            memcpy(mhost, v, vl);
            mhost[vl] = '\0';
        } else if ((v = mon_field(p, ll, "master_port", &vl))) {
            mport = (int)mon_num(v, vl);
        } else if ((v = mon_field(p, ll, "master_link_status", &vl))) {
            link_up_ = vl == 2 && !memcmp(v, "up", 2);
        } else if ((v = mon_field(p, ll, "lsn", &vl))) {
            lsn = mon_num(v, vl);
            is_strata = 1;
        } else if ((v = mon_field(p, ll, "epoch", &vl))) {
            epoch = mon_num(v, vl);
        } else if ((v = mon_field(p, ll, "last_record_epoch", &vl))) {
            last_epoch = mon_num(v, vl);
        } else if ((v = mon_field(p, ll, "fenced", &vl))) {
            fenced = vl == 1 && v[0] == '1';
        } else if ((v = mon_field(p, ll, "min_replica_acks", &vl))) {
            min_acks = (long long)mon_num(v, vl);
            have_acks = 1;
        } else if ((v = mon_field(p, ll, "semi_sync_status", &vl))) {
            degraded = vl == 8 && !memcmp(v, "degraded", 8);
        } else if ((v = mon_field(p, ll, "fence_lease_ms", &vl))) {
            lease_ms = mon_num(v, vl);
        } else if ((v = mon_field(p, ll, "slave_repl_offset", &vl))) {
            slave_off = mon_num(v, vl);
            have_slave_off = 1;
        } else if ((v = mon_field(p, ll, "master_repl_offset", &vl))) {
            master_off = mon_num(v, vl);
            have_master_off = 1;
        } else if (g && ll > 5 && !memcmp(p, "slave", 5) && p[5] >= '0' && p[5] <= '9') {
            const char *colon = memchr(p, ':', ll);
            if (colon) mon_parse_slave(g, colon + 1, ll - (size_t)(colon + 1 - p));
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (role == SNODE_UNKNOWN) return;
    n->role = role;
    if (runid[0]) snprintf(n->runid, sizeof n->runid, "%s", runid);
    n->is_strata = is_strata;
    n->epoch = epoch;
    n->last_epoch = last_epoch;
    n->fenced = fenced;
    n->lease_ms = lease_ms;
    /* Kept from its last INFO as a master: what a failover replacing it
     * must assume its acknowledgements meant (failover.h). */
    if (role == SNODE_MASTER && have_acks) {
        n->acks_known = 1;
        n->min_acks = min_acks;
        n->semi_degraded = degraded;
    }
    if (is_strata) n->lsn = lsn;
    else if (role == SNODE_REPLICA && have_slave_off) n->lsn = slave_off;
    else if (have_master_off) n->lsn = master_off;
    if (role == SNODE_REPLICA) {
        snprintf(n->master_host, sizeof n->master_host, "%s", mhost);
        n->master_port = mport;
        n->master_link_up = link_up_;
    } else {
        n->master_host[0] = '\0';
        n->master_port = 0;
        n->master_link_up = 0;
    }
    n->info_ms = now;
}

static void mon_info_cb(struct link *l, redisReply *r, void *privdata)
{
    struct snode *n = privdata;
    (void)l;
    n->info_pending = 0;
    if (!r || r->type != REDIS_REPLY_STRING) return;
    n->info_asked_ms = n->last_info_sent_ms;
    /* Find the group: nodes live inside their group's array. */
    struct sgroup *g = NULL;
    for (int gi = 0; gi < snt.ngroups && !g; gi++)
        if (n >= snt.groups[gi].nodes && n < snt.groups[gi].nodes + snt.groups[gi].nnodes)
            g = &snt.groups[gi];
    mon_parse_info(g, n, r->str, now_ms());
}

static void mon_ignore_cb(struct link *l, redisReply *r, void *privdata)
{
    (void)l;
    (void)privdata;
    if (r && r->type == REDIS_REPLY_ERROR) log_debug("node replied %s", r->str);
}

/* ---- per tick ---- */

static void mon_check_sdown(struct sgroup *g, struct snode *n, uint64_t now)
{
    int down = now > n->last_ok_ms && now - n->last_ok_ms > (uint64_t)snt.conf.s.down_after_ms;
    if (down == n->sdown) return;
    n->sdown = down;
    n->sdown_since_ms = down ? now : 0;
    int is_master = snt_master_index(g) == (int)(n - g->nodes);
    if (is_master)
        server_publish(down ? "+sdown" : "-sdown", "master %s %s %d", g->name, n->host, n->port);
    else
        server_publish(down ? "+sdown" : "-sdown", "slave %s:%d %s %d @ %s %s %d", n->host, n->port,
                       n->host, n->port, g->name, g->master_host, g->master_port);
}

uint64_t mon_lease_age(const struct snode *n, uint64_t now)
{
    uint64_t last = n->lease_sent_ms ? n->lease_sent_ms : snt.start_ms;
    return now > last ? now - last : 0;
}

int mon_may_renew(const struct sgroup *g, uint64_t now)
{
    if (g->fo.state != FO_NONE || g->odown) return 0;
    /* A vote for a failover of this group that has not produced a new
     * config yet: the leader counts on this sentinel's silence. */
    if (g->vote_epoch > g->config_epoch && now - g->vote_ms < (uint64_t)snt.conf.s.failover_timeout_ms)
        return 0;
    return 1;
}

/* Renew the config master's lease; see mon.h for when and why. */
static void mon_renew_lease(struct sgroup *g, uint64_t now)
{
    int mi = snt_master_index(g);
    if (mi < 0 || !mon_may_renew(g, now)) return;
    struct snode *m = &g->nodes[mi];
    if (!m->is_strata || m->role != SNODE_MASTER || m->sdown || !link_up(m->link)) return;
    /* Only over a link that answers: a renewal written into a link that
     * went quiet may sit in the socket and arrive long after it was sent
     * (link_close then drops it).  Three ping periods of silence stop them. */
    uint64_t last_reply = link_stats(m->link)->last_reply_ms;
    if (!last_reply || now - last_reply > 3 * (uint64_t)snt.conf.s.ping_ms) return;
    if (snt_reachable_sentinels(now) < snt_majority()) return;
    if (now - m->lease_sent_ms < (uint64_t)snt.conf.s.ping_ms) return;
    /* sentinel-time: our monotonic ms, so the node can tell a renewal
     * that waited on the way (repl_master.c, fence_sentinel_renew). */
    if (link_command(m->link, mon_ignore_cb, NULL,
                     "REPLCONF sentinel-count %d sentinel-renew %s sentinel-time %llu",
                     snt.nsentinels, snt.myid, (unsigned long long)(mono_us() / 1000)) == 0)
        m->lease_sent_ms = now;
}

static void mon_reconf(struct sgroup *g, uint64_t now)
{
    int mi = snt_master_index(g);
    if (mi < 0 || g->fo.state != FO_NONE) return;
    struct snode *m = &g->nodes[mi];
    if (!mon_node_fresh(m, now) || m->role != SNODE_MASTER) return;
    for (int i = 0; i < g->nnodes; i++) {
        struct snode *n = &g->nodes[i];
        if (i == mi) continue;
        int wrong = mon_node_fresh(n, now) &&
                    (n->role == SNODE_MASTER ||
                     (n->role == SNODE_REPLICA &&
                      (strcmp(n->master_host, m->host) != 0 || n->master_port != m->port)));
        if (!wrong) {
            n->misconf_since_ms = 0;
            continue;
        }
        if (!n->misconf_since_ms) n->misconf_since_ms = now;
        if (now - n->misconf_since_ms < MON_RECONF_DELAY_MS ||
            now - n->reconf_sent_ms < MON_RECONF_DELAY_MS)
            continue;
        if (n->role == SNODE_MASTER && n->is_strata && m->is_strata && n->epoch > m->epoch) {
            if (now - n->reconf_sent_ms >= 10 * MON_RECONF_DELAY_MS) {
                log_warn("group %s: %s:%d is a master at epoch %llu, newer than the config master "
                         "%s:%d (epoch %llu); leaving it alone", g->name, n->host, n->port,
                         (unsigned long long)n->epoch, m->host, m->port, (unsigned long long)m->epoch);
                n->reconf_sent_ms = now;
            }
            continue;
        }
        n->reconf_sent_ms = now;
        if (link_command(n->link, mon_ignore_cb, NULL, "REPLICAOF %s %d", m->host, m->port) == 0)
            server_publish(n->role == SNODE_MASTER ? "+convert-to-slave" : "+fix-slave-config",
                           "slave %s:%d %s %d @ %s %s %d", n->host, n->port, n->host, n->port,
                           g->name, m->host, m->port);
    }
}

void mon_tick(uint64_t now)
{
    for (int gi = 0; gi < snt.ngroups; gi++) {
        struct sgroup *g = &snt.groups[gi];
        for (int i = 0; i < g->nnodes; i++) {
            struct snode *n = &g->nodes[i];
            link_tick(n->link, now);
            if (!link_up(n->link)) {
                n->ping_pending = n->info_pending = 0;
            } else {
                uint64_t period = (uint64_t)snt.conf.s.ping_ms;
                if (!n->ping_pending && now - n->last_ping_sent_ms >= period &&
                    link_command(n->link, mon_ping_cb, n, "PING") == 0) {
                    n->ping_pending = 1;
                    n->last_ping_sent_ms = now;
                }
                if (!n->info_pending && now - n->last_info_sent_ms >= period &&
                    link_command(n->link, mon_info_cb, n, "INFO server replication") == 0) {
                    n->info_pending = 1;
                    n->last_info_sent_ms = now;
                }
            }
            mon_check_sdown(g, n, now);
        }
        mon_renew_lease(g, now);
        mon_reconf(g, now);
        slotseed_tick(g, now);
        slotagg_tick(g, now);
    }
}
