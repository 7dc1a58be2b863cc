/* slots: the node's slot table, its commands and its enforcement.  See
 * slots.h for the model and the stored format. */
#include "slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "resp.h"
#include "server.h"
#include "slot.h"
#include "store.h"
#include "topology.h"
#include "util.h"

static const char TABLE_KEY[] = "Rslots";
static const char UNOWNED_KEY[] = "Rslotsx";
#define TABLE_VERSION 1

/* The cached table.  `loaded` is cleared by cluster_invalidate; the next
 * query reads "Rslots" again (through the store's overlay, so a table set
 * by a command not yet committed is already in force) and rebuilds the
 * per-slot index only if the stored value changed. */
static struct {
    int loaded;
    int present;
    buf raw;                           /* the "Rslots" value decoded below */
    struct cluster_table t;
    uint16_t range_of[SLOT_COUNT];     /* slot -> index in t.ranges */
    unsigned char owned[SLOT_COUNT / 8];
    long long unowned;                 /* "Rslotsx"; -1 = not loaded */
} tab = { .unowned = -1 };

static void put_u16be(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static unsigned get_u16be(const unsigned char *p)
{
    return ((unsigned)p[0] << 8) | p[1];
}

/* ---- encoding ---- */

void cluster_table_free(struct cluster_table *t)
{
    for (int i = 0; i < t->nranges; i++) free((char *)t->ranges[i].group);
    free(t->ranges);
    free(t->self);
    memset(t, 0, sizeof *t);
}

int cluster_table_decode(const char *v, size_t len, struct cluster_table *t)
{
    const unsigned char *p = (const unsigned char *)v, *end = p + len;
    char **names = NULL;
    unsigned ngroups = 0, self, nranges, next = 0;
    memset(t, 0, sizeof *t);
    if (len < 5 || p[0] != TABLE_VERSION) return -1;
    self = get_u16be(p + 1);
    ngroups = get_u16be(p + 3);
    p += 5;
    if (ngroups == 0 || ngroups > CLUSTER_MAX_GROUPS || self >= ngroups) return -1;
    names = xcalloc(ngroups, sizeof *names);
    for (unsigned i = 0; i < ngroups; i++) {
        if (p >= end || (size_t)(end - p) < 1u + p[0] || p[0] == 0) goto bad;
        names[i] = xcalloc(1, p[0] + 1u);
        memcpy(names[i], p + 1, p[0]);
        p += 1u + p[0];
    }
    if (end - p < 2) goto bad;
    nranges = get_u16be(p);
    p += 2;
    if (nranges == 0 || (size_t)(end - p) != (size_t)nranges * 14) goto bad;
    t->ranges = xcalloc(nranges, sizeof *t->ranges);
    for (unsigned i = 0; i < nranges; i++, p += 14) {
        struct cluster_range *r = &t->ranges[i];
        r->first = get_u16be(p);
        r->last = get_u16be(p + 2);
        unsigned g = get_u16be(p + 4);
        r->epoch = get_u64be(p + 6);
        if (r->first != next || r->last < r->first || r->last >= SLOT_COUNT || g >= ngroups) goto bad;
        next = r->last + 1;
        r->group = xstrdup(names[g]);
        t->nranges++;
    }
    if (next != SLOT_COUNT) goto bad;
    t->self = xstrdup(names[self]);
    for (unsigned i = 0; i < ngroups; i++) free(names[i]);
    free(names);
    return 0;
bad:
    for (unsigned i = 0; i < ngroups; i++) free(names ? names[i] : NULL);
    free(names);
    cluster_table_free(t);
    return -1;
}

struct parse_ctx {
    uint16_t *owner;        /* slot -> group index + 1; 0 = unassigned */
    unsigned gi;
    int overlap;            /* first slot assigned twice, or -1 */
};

static void parse_range(void *ud, int lo, int hi)
{
    struct parse_ctx *pc = ud;
    for (int s = lo; s <= hi; s++) {
        if (pc->owner[s] && pc->overlap < 0) pc->overlap = s;
        pc->owner[s] = (uint16_t)(pc->gi + 1);
    }
}

int cluster_table_parse(int argc, char **argv, const size_t *argvlen, buf *out, char *err,
                        size_t errlen)
{
    unsigned long long epoch;
    int self = -1, ngroups = (argc - 2) / 2;
    if (argc < 4 || (argc - 2) % 2 != 0) {
        snprintf(err, errlen, "ERR syntax error");
        return -1;
    }
    if (str2ull(argv[1], argvlen[1], &epoch) < 0 || epoch == 0) {
        snprintf(err, errlen, "ERR invalid epoch: a positive integer is expected");
        return -1;
    }
    if (ngroups > CLUSTER_MAX_GROUPS) {
        snprintf(err, errlen, "ERR too many groups (at most %d)", CLUSTER_MAX_GROUPS);
        return -1;
    }
    uint16_t *owner = xcalloc(SLOT_COUNT, sizeof *owner);
    struct parse_ctx pc = { owner, 0, -1 };
    int rc = -1;
    for (int g = 0; g < ngroups; g++) {
        const char *name = argv[2 + 2 * g];
        size_t nl = argvlen[2 + 2 * g];
        if (nl == 0 || nl > CLUSTER_GROUP_MAX_LEN || memchr(name, ' ', nl) || memchr(name, ':', nl)) {
            snprintf(err, errlen, "ERR invalid group name '%.*s'", (int)(nl > 64 ? 64 : nl), name);
            goto done;
        }
        for (int h = 0; h < g; h++)
            if (argvlen[2 + 2 * h] == nl && !memcmp(argv[2 + 2 * h], name, nl)) {
                snprintf(err, errlen, "ERR group '%.*s' given twice", (int)nl, name);
                goto done;
            }
        if (nl == argvlen[0] && !memcmp(name, argv[0], nl)) self = g;
        char perr[160];
        size_t sl = argvlen[3 + 2 * g];
        char *spec = xmalloc(sl + 1); /* topo_parse_slots wants a C string */
        memcpy(spec, argv[3 + 2 * g], sl);
        spec[sl] = '\0';
        pc.gi = (unsigned)g;
        int bad = topo_parse_slots(spec, parse_range, &pc, perr, sizeof perr) < 0;
        free(spec);
        if (bad) {
            snprintf(err, errlen, "ERR slots of '%.*s': %s", (int)nl, name, perr);
            goto done;
        }
    }
    if (pc.overlap >= 0) {
        snprintf(err, errlen, "ERR slot %d is assigned to more than one group", pc.overlap);
        goto done;
    }
    for (int s = 0; s < SLOT_COUNT; s++)
        if (!owner[s]) {
            snprintf(err, errlen, "ERR slot %d is not assigned to any group", s);
            goto done;
        }
    if (self < 0) {
        snprintf(err, errlen, "ERR this node's group '%.*s' is not among the groups",
                 (int)(argvlen[0] > 64 ? 64 : argvlen[0]), argv[0]);
        goto done;
    }
    unsigned char h[14];
    buf_clear(out);
    h[0] = TABLE_VERSION;
    put_u16be(h + 1, (unsigned)self);
    put_u16be(h + 3, (unsigned)ngroups);
    buf_append(out, h, 5);
    for (int g = 0; g < ngroups; g++) {
        unsigned char l = (unsigned char)argvlen[2 + 2 * g];
        buf_append(out, &l, 1);
        buf_append(out, argv[2 + 2 * g], l);
    }
    size_t nmark = out->len;
    buf_append(out, h, 2);
    unsigned n = 0;
    for (int s = 0; s < SLOT_COUNT;) {
        int e = s;
        while (e + 1 < SLOT_COUNT && owner[e + 1] == owner[s]) e++;
        put_u16be(h, (unsigned)s);
        put_u16be(h + 2, (unsigned)e);
        put_u16be(h + 4, owner[s] - 1u);
        put_u64be(h + 6, epoch);
        buf_append(out, h, 14);
        n++;
        s = e + 1;
    }
    put_u16be((unsigned char *)out->data + nmark, n);
    rc = 0;
done:
    free(owner);
    return rc;
}

/* ---- the cache ---- */

static void table_load(void)
{
    buf v;
    if (tab.loaded) return;
    tab.loaded = 1;
    buf_init(&v);
    int r = store_get(srv.st, TABLE_KEY, sizeof TABLE_KEY - 1, &v);
    if (r != 1) {
        /* No table (or a read error, logged by the store: keep the last
         * one we had rather than suddenly owning everything). */
        if (r == 0) {
            tab.present = 0;
            buf_clear(&tab.raw);
            cluster_table_free(&tab.t);
        }
        buf_free(&v);
        return;
    }
    if (tab.present && v.len == tab.raw.len && !memcmp(v.data, tab.raw.data, v.len)) {
        buf_free(&v);
        return;
    }
    struct cluster_table t;
    if (cluster_table_decode(v.data, v.len, &t) < 0) {
        log_error("slot table in \"%s\" is malformed (%zu bytes): keeping the previous view", TABLE_KEY,
                  v.len);
        buf_free(&v);
        return;
    }
    cluster_table_free(&tab.t);
    tab.t = t;
    buf_clear(&tab.raw);
    buf_append(&tab.raw, v.data, v.len);
    memset(tab.owned, 0, sizeof tab.owned);
    for (int i = 0; i < t.nranges; i++) {
        int mine = !strcmp(t.ranges[i].group, t.self);
        for (unsigned s = t.ranges[i].first; s <= t.ranges[i].last; s++) {
            tab.range_of[s] = (uint16_t)i;
            if (mine) tab.owned[s >> 3] |= (unsigned char)(1u << (s & 7));
        }
    }
    tab.present = 1;
    buf_free(&v);
}

void cluster_invalidate(void)
{
    tab.loaded = 0;
    tab.unowned = -1;
}

int cluster_has_table(void)
{
    if (!srv.st) return 0;
    table_load();
    return tab.present;
}

int cluster_owns_slot(unsigned slot)
{
    if (!cluster_has_table()) return 1;
    return slot < SLOT_COUNT && (tab.owned[slot >> 3] >> (slot & 7)) & 1;
}

int cluster_owns_key(const char *key, size_t len)
{
    if (!cluster_has_table()) return 1;
    return cluster_owns_slot(slot_of_key(key, len));
}

const char *cluster_self(void)
{
    return cluster_has_table() ? tab.t.self : NULL;
}

const struct cluster_range *cluster_range_of(unsigned slot)
{
    if (!cluster_has_table() || slot >= SLOT_COUNT) return NULL;
    return &tab.t.ranges[tab.range_of[slot]];
}

int cluster_check_argv(const struct cmd_spec *cmd, int argc, char **argv, const size_t *argvlen,
                       unsigned *slot)
{
    int stack[16], *pos = stack;
    if (!cmd || !cluster_has_table()) return CLUSTER_OK;
    int n = cmd_get_keys(cmd, argc, argv, argvlen, pos, 16);
    if (n <= 0) return CLUSTER_OK;
    if (n > 16) {
        pos = xmalloc((size_t)n * sizeof *pos);
        cmd_get_keys(cmd, argc, argv, argvlen, pos, n);
    }
    int rc = CLUSTER_OK, unowned = 0, multi = 0;
    unsigned first = slot_of_key(argv[pos[0]], argvlen[pos[0]]);
    for (int i = 0; i < n; i++) {
        unsigned s = i ? slot_of_key(argv[pos[i]], argvlen[pos[i]]) : first;
        if (s != first) multi = 1;
        if (!cluster_owns_slot(s)) unowned = 1;
    }
    if (unowned) rc = multi ? CLUSTER_CROSSSLOT : CLUSTER_MOVED;
    if (rc == CLUSTER_MOVED && slot) *slot = first;
    if (pos != stack) free(pos);
    return rc;
}

void cluster_add_moved(buf *out, unsigned slot)
{
    const struct cluster_range *r = cluster_range_of(slot);
    if (!r) return;
    resp_add_errorf(out, "MOVED %u %s:%llu", slot, r->group, (unsigned long long)r->epoch);
}

const char *cluster_script_check_key(const char *key, size_t len, int *script_slot,
                                     int allow_cross_slot)
{
    if (!cluster_has_table()) return NULL;
    unsigned s = slot_of_key(key, len);
    if (!cluster_owns_slot(s)) return CLUSTER_ERR_SCRIPT_NONLOCAL;
    /* A key the script did not declare, in a slot a migration has fenced
     * (migrate.h): its write would come after what the target gets. */
    if (migrate_key_frozen(key, len)) return CLUSTER_ERR_SCRIPT_MIGRATING;
    if (!allow_cross_slot) {
        if (*script_slot < 0) *script_slot = (int)s;
        else if ((unsigned)*script_slot != s) return CLUSTER_ERR_SCRIPT_CROSSSLOT;
    }
    return NULL;
}

/* ---- keys in unowned slots ---- */

static void unowned_load(void)
{
    if (tab.unowned >= 0) return;
    buf v;
    buf_init(&v);
    tab.unowned = 0;
    if (store_get(srv.st, UNOWNED_KEY, sizeof UNOWNED_KEY - 1, &v) == 1 && v.len == 8)
        tab.unowned = (long long)get_u64be((const unsigned char *)v.data);
    buf_free(&v);
}

static void unowned_store(void)
{
    unsigned char v[8];
    put_u64be(v, (uint64_t)tab.unowned);
    store_put(srv.st, UNOWNED_KEY, sizeof UNOWNED_KEY - 1, (const char *)v, 8);
}

unsigned long long cluster_unowned_keys(void)
{
    if (!cluster_has_table()) return 0;
    unowned_load();
    return (unsigned long long)tab.unowned;
}

unsigned long long cluster_key_count(void)
{
    unsigned long long n = db_key_count(), unowned = cluster_unowned_keys();
    return n > unowned ? n - unowned : 0;
}

void cluster_note_key(const char *key, size_t len, int delta)
{
    if (!cluster_has_table() || cluster_owns_key(key, len)) return;
    unowned_load();
    tab.unowned += delta;
    if (tab.unowned < 0) tab.unowned = 0;
    unowned_store();
}

/* Count the stored keys (live or expired but not swept, as "Rkeys" counts
 * them) in slots the table does not own: one walk of the 'M' range, done
 * once when a table is set. */
static long long count_unowned(void)
{
    long long n = 0;
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, "M", 1); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'M') break;
        if (!cluster_owns_key(k + 1, kl - 1)) n++;
    }
    store_iter_free(it);
    return n;
}

/* ---- changes by migration (migrate.c) ---- */

int cluster_table_reassign(const unsigned char *bits, const char *group, uint64_t epoch,
                           long long unowned_delta)
{
    if (!cluster_has_table()) return -1;
    const struct cluster_table *t = &tab.t;
    /* Group names: the table's, then `group` if new; self keeps its name. */
    const char *names[CLUSTER_MAX_GROUPS + 1];
    unsigned ngroups = 0;
    uint16_t *gi = xmalloc(SLOT_COUNT * sizeof *gi);
    uint64_t *ep = xmalloc(SLOT_COUNT * sizeof *ep);
    const char *want[2] = { t->self, group };
    for (int i = -2; i < t->nranges; i++) {
        const char *n = i < 0 ? want[i + 2] : t->ranges[i].group;
        unsigned j = 0;
        while (j < ngroups && strcmp(names[j], n)) j++;
        if (j == ngroups) {
            if (ngroups == CLUSTER_MAX_GROUPS) {
                free(gi);
                free(ep);
                return -1;
            }
            names[ngroups++] = n;
        }
    }
    for (int i = 0; i < t->nranges; i++) {
        unsigned j = 0;
        while (strcmp(names[j], t->ranges[i].group)) j++;
        for (unsigned sl = t->ranges[i].first; sl <= t->ranges[i].last; sl++) {
            gi[sl] = (uint16_t)j;
            ep[sl] = t->ranges[i].epoch;
        }
    }
    for (unsigned sl = 0; sl < SLOT_COUNT; sl++)
        if ((bits[sl >> 3] >> (sl & 7)) & 1) {
            gi[sl] = 1; /* names[1] is `group` (or self, when group is self) */
            if (!strcmp(group, t->self)) gi[sl] = 0;
            ep[sl] = epoch;
        }
    buf v;
    unsigned char h[14];
    buf_init(&v);
    h[0] = TABLE_VERSION;
    put_u16be(h + 1, 0);
    put_u16be(h + 3, ngroups);
    buf_append(&v, h, 5);
    for (unsigned g = 0; g < ngroups; g++) {
        unsigned char l = (unsigned char)strlen(names[g]);
        buf_append(&v, &l, 1);
        buf_append(&v, names[g], l);
    }
    size_t nmark = v.len;
    buf_append(&v, h, 2);
    unsigned n = 0;
    for (unsigned sl = 0; sl < SLOT_COUNT;) {
        unsigned e = sl;
        while (e + 1 < SLOT_COUNT && gi[e + 1] == gi[sl] && ep[e + 1] == ep[sl]) e++;
        put_u16be(h, sl);
        put_u16be(h + 2, e);
        put_u16be(h + 4, gi[sl]);
        put_u64be(h + 6, ep[sl]);
        buf_append(&v, h, 14);
        n++;
        sl = e + 1;
    }
    put_u16be((unsigned char *)v.data + nmark, n);
    free(gi);
    free(ep);
    unowned_load();
    long long unowned = tab.unowned + unowned_delta;
    store_put(srv.st, TABLE_KEY, sizeof TABLE_KEY - 1, v.data, v.len);
    buf_free(&v);
    cluster_invalidate();
    tab.unowned = unowned < 0 ? 0 : unowned;
    unowned_store();
    return 0;
}

uint64_t cluster_max_epoch(void)
{
    uint64_t m = 0;
    if (!cluster_has_table()) return 0;
    for (int i = 0; i < tab.t.nranges; i++)
        if (tab.t.ranges[i].epoch > m) m = tab.t.ranges[i].epoch;
    return m;
}

/* ---- commands ---- */

static void reply_table(client *c)
{
    int present = cluster_has_table();
    resp_add_map(&c->out, c->resp, 3);
    resp_add_bulk_str(&c->out, "group");
    if (present) resp_add_bulk_str(&c->out, tab.t.self);
    else resp_add_null(&c->out, c->resp);
    resp_add_bulk_str(&c->out, "ranges");
    resp_add_array(&c->out, present ? tab.t.nranges : 0);
    for (int i = 0; present && i < tab.t.nranges; i++) {
        const struct cluster_range *r = &tab.t.ranges[i];
        resp_add_array(&c->out, 4);
        resp_add_int(&c->out, r->first);
        resp_add_int(&c->out, r->last);
        resp_add_bulk_str(&c->out, r->group);
        resp_add_int(&c->out, (long long)r->epoch);
    }
    resp_add_bulk_str(&c->out, "unowned_keys");
    resp_add_int(&c->out, (long long)cluster_unowned_keys());
}

static void setslots(client *c)
{
    char err[256];
    const char *werr = NULL;
    buf v;
    if (srv.is_replica && !(c->flags & CLIENT_MASTER)) {
        resp_add_error(&c->out, "READONLY You can't write against a read only replica.");
        return;
    }
    if (srv.write_error) {
        resp_add_error(&c->out, "MISCONF Errors writing to the data directory: "
                                "writes are refused until a commit succeeds (see the node log)");
        return;
    }
    /* (STRATA is not a write command as a whole, so the dispatcher's write
     * checks do not run for SETSLOTS: they are made here.) */
    if (srv.write_allowed && !(c->flags & CLIENT_MASTER) && !srv.write_allowed(c, &werr)) {
        resp_add_error(&c->out, werr);
        return;
    }
    if (cluster_has_table()) {
        resp_add_error(&c->out, "ERR this node already has a slot table: ownership changes only by "
                                "migration");
        return;
    }
    buf_init(&v);
    if (cluster_table_parse(c->argc - 2, c->argv + 2, c->argvlen + 2, &v, err, sizeof err) < 0) {
        resp_add_error(&c->out, err);
        buf_free(&v);
        return;
    }
    /* An ordinary write of the running command: it becomes this command's
     * replication record, so replicas get the same table. */
    store_put(srv.st, TABLE_KEY, sizeof TABLE_KEY - 1, v.data, v.len);
    buf_free(&v);
    cluster_invalidate();
    cluster_has_table(); /* load it: the log line below names it */
    tab.unowned = count_unowned();
    unowned_store();
    log_info("slot table set: this node's group is '%s', %d ranges, %lld stored keys in slots it "
             "does not own", tab.t.self, tab.t.nranges, tab.unowned);
    resp_add_ok(&c->out);
}

static void strata_command(client *c)
{
    if (ARG_IS(c, 1, "slots")) {
        reply_table(c);
    } else if (ARG_IS(c, 1, "setslots")) {
        setslots(c);
    } else if (migrate_command(c)) {
        /* STRATA MIGRATE / IMPORT / SLOTSINFO (migrate.c) */
    } else if (ARG_IS(c, 1, "help")) {
        static const char *const help[] = {
            "STRATA <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SLOTS",
            "    Return this node's slot table: its group, the ranges (first, last, group,",
            "    epoch) and how many stored keys sit in slots it does not own.",
            "SETSLOTS <self-group> <epoch> <group> <ranges> [<group> <ranges> ...]",
            "    Set the initial slot table (masters only, once): every slot must be given",
            "    to exactly one group, ranges as in topology.yaml (\"0-100,200\").",
            "MIGRATE START <job> <target-group> <host> <port> <ranges> [RATE <mb>] [AUTH <pw>]",
            "    Move the given slots' keys to the master of another group, online (migrate.h).",
            "MIGRATE STATUS | PAUSE <job> | RESUME <job> | CANCEL <job> | RATE <job> <mb>",
            "    Show or steer this node's migration jobs.",
            "SLOTSINFO <ranges>",
            "    Keys and estimated bytes stored in each range.",
            "IMPORT PREPARE|APPLY|COMMIT|ABORT|VERDICT ...",
            "    The target side of a migration (sent by the source node).",
            "HELP",
            "    Print this help.",
        };
        size_t n = sizeof help / sizeof help[0];
        resp_add_array(&c->out, (long long)n);
        for (size_t i = 0; i < n; i++) resp_add_simple(&c->out, help[i]);
    }
}

/* Dispatch check: a command whose keys are not all in owned slots is
 * refused before it runs (or is queued in MULTI, which then aborts, as in
 * Redis Cluster).  The replication link is never checked: its records
 * are the master's decisions. */
static int cluster_dispatch_check(client *c)
{
    unsigned slot = 0;
    if (c->flags & CLIENT_MASTER) return 0;
    int r = cluster_check_argv(c->cmd, c->argc, c->argv, c->argvlen, &slot);
    if (r == CLUSTER_OK) return 0;
    if (r == CLUSTER_MOVED) cluster_add_moved(&c->out, slot);
    else resp_add_error(&c->out, CLUSTER_ERR_CROSSSLOT);
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    return 1;
}

void cluster_register(void)
{
    buf_init(&tab.raw);
    server_register(CMD_STRATA, strata_command);
    server_add_dispatch_hook(cluster_dispatch_check);
    migrate_register(); /* its dispatch check runs after the table's */
}
