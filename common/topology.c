/* topology: reads topology.yaml, the operators' description of the
 * cluster (groups, their slots and nodes, proxy: and sentinel: settings),
 * and checks it as a whole (see topology.h for the schema).
 *
 * The walk is schema-driven over libyaml's document (conf_yaml_parse), one
 * level at a time, so aliases and even cyclic anchors cannot make it
 * recurse.  Whole-file checks run after the walk, on collected records:
 *
 *   - slot coverage: every group's slot ranges go into one list; ranges of
 *     one group are merged (a slot listed twice in a group is an error),
 *     then a sweep over the 16384 slots with a +1/-1 difference array
 *     finds gaps (coverage 0) and overlaps (coverage >= 2).  Because a
 *     group's merged ranges neither touch nor overlap, the set of groups
 *     covering a slot changes at every range boundary, so each segment
 *     between boundaries is one message.
 *   - duplicate host:port and group names: sort, compare neighbours.
 *
 * Everything is O(n log n) in the size of the file, so a hostile file
 * (fuzzing) stays cheap.  Slot messages are capped; the rest are bounded
 * by the file's size. */
#include "topology.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

#define TOPO_NSLOTS 16384
#define TOPO_MAX_GROUPS TOPO_NSLOTS      /* each group owns at least one slot */
#define TOPO_MAX_SLOT_MSGS 20
#define TOPO_MAX_ERRORS 100
#define TOPO_DEFAULT_PRIORITY 100
#define TOPO_HOST_MAX 256

struct topo_range {
    int lo, hi;
    int gi;      /* index in t->groups */
    int line;    /* line of the group's slots: value */
};

struct topo_addr {
    const char *host;  /* borrowed from t */
    int port;
    int line;
    size_t idx;        /* order of appearance */
};

struct topo_ctx {
    const char *path;
    yaml_document_t *doc;
    struct topology *t;
    buf *errs;
    int bad;
    int nerrs;                 /* messages produced by topo_err, shown or not */
    int slots_ok;              /* every group has a valid slots: list */
    struct topo_range *ranges;
    size_t nranges, cranges;
    struct topo_addr *addrs;
    size_t naddrs, caddrs;
};

static void topo_err(struct topo_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void topo_err(struct topo_ctx *c, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    c->bad = 1;
    /* A hostile file can repeat one mistake many times: keep the report
     * (and the memory it takes) bounded. */
    if (++c->nerrs > TOPO_MAX_ERRORS) return;
    if (!c->errs) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_printf(c->errs, "%s:%d: %s\n", c->path, line, msg);
}

static int topo_line(const yaml_node_t *n)
{
    return n->start_mark.line >= INT_MAX ? INT_MAX : (int)n->start_mark.line + 1;
}

static yaml_node_t *topo_node(struct topo_ctx *c, int idx)
{
    return yaml_document_get_node(c->doc, idx);
}

static int topo_is_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE;
}

/* A scalar usable as a C string (no NUL byte inside). */
static const char *topo_text(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE) return NULL;
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) return NULL;
    return (const char *)n->data.scalar.value;
}

static int topo_key_is(const yaml_node_t *k, const char *name)
{
    return k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(name) &&
           memcmp(k->data.scalar.value, name, k->data.scalar.length) == 0;
}

static const char *topo_show_node(char *out, size_t size, const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE) return n->type == YAML_SEQUENCE_NODE ? "[list]" : "{mapping}";
    return conf_show(out, size, (const char *)n->data.scalar.value, n->data.scalar.length);
}

/* An empty plain value ("proxy:" with nothing after it). */
static int topo_is_empty(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0 &&
           n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* ---- slot lists ---- */

/* Parse one decimal slot number s[0..len).  Returns 0, -1 not a number,
 * -2 out of range. */
static int topo_slot_num(const char *s, size_t len, int *out)
{
    int v = 0;
    if (len == 0) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        if (v < TOPO_NSLOTS) v = v * 10 + (s[i] - '0');
    }
    if (v >= TOPO_NSLOTS) return -2;
    *out = v;
    return 0;
}

static int topo_is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* One pass over the list; cb NULL = check only. */
static int topo_slots_pass(const char *s, void (*cb)(void *ud, int lo, int hi), void *ud,
                           char *err, size_t errlen)
{
    char shown[CONF_SHOW_SIZE];
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *a = p, *z = p + len, *dash;
        int lo, hi, r;
        while (a < z && topo_is_space(*a)) a++;
        while (z > a && topo_is_space(z[-1])) z--;
        conf_show(shown, sizeof shown, a, (size_t)(z - a));
        if (a == z) {
            snprintf(err, errlen, "empty item in slot list '%s'",
                     conf_show(shown, sizeof shown, s, strlen(s)));
            return -1;
        }
        dash = memchr(a, '-', (size_t)(z - a));
        if (dash) {
            const char *l_end = dash, *h_start = dash + 1;
            while (l_end > a && topo_is_space(l_end[-1])) l_end--;
            while (h_start < z && topo_is_space(*h_start)) h_start++;
            r = topo_slot_num(a, (size_t)(l_end - a), &lo);
            if (r == 0) r = topo_slot_num(h_start, (size_t)(z - h_start), &hi);
        } else {
            r = topo_slot_num(a, (size_t)(z - a), &lo);
            hi = lo;
        }
        if (r == -1) {
            snprintf(err, errlen, "bad slot range '%s' (expected N or N-M)", shown);
            return -1;
        }
        if (r == -2) {
            snprintf(err, errlen, "slot range '%s' is out of bounds 0..16383", shown);
            return -1;
        }
        if (lo > hi) {
            snprintf(err, errlen, "bad slot range '%s' (start after end)", shown);
            return -1;
        }
        if (cb) cb(ud, lo, hi);
        if (!end) return 0;
        p = end + 1;
    }
}

int topo_parse_slots(const char *s, void (*cb)(void *ud, int lo, int hi), void *ud,
                     char *err, size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) { err = dummy; errlen = sizeof dummy; }
    err[0] = '\0';
    /* An empty list (or only blanks): no slots.  A group that owns none
     * (a new group waiting for `strata-cli rebalance`) says slots: "". */
    const char *q = s;
    while (topo_is_space(*q)) q++;
    if (!*q) return 0;
    if (topo_slots_pass(s, NULL, NULL, err, errlen) < 0) return -1;
    return topo_slots_pass(s, cb, ud, err, errlen);
}

struct topo_slot_ud {
    struct topo_ctx *c;
    int gi, line;
};

static void topo_add_range(void *ud, int lo, int hi)
{
    struct topo_slot_ud *u = ud;
    struct topo_ctx *c = u->c;
    if (c->nranges == c->cranges) {
        c->cranges = c->cranges ? c->cranges * 2 : 16;
        c->ranges = xrealloc(c->ranges, c->cranges * sizeof *c->ranges);
    }
    c->ranges[c->nranges++] = (struct topo_range){ lo, hi, u->gi, u->line };
}

/* ---- addresses ---- */

static void topo_add_addr(struct topo_ctx *c, const char *host, int port, int line)
{
    if (c->naddrs == c->caddrs) {
        c->caddrs = c->caddrs ? c->caddrs * 2 : 16;
        c->addrs = xrealloc(c->addrs, c->caddrs * sizeof *c->addrs);
    }
    c->addrs[c->naddrs] = (struct topo_addr){ host, port, line, c->naddrs };
    c->naddrs++;
}

/* Parse a "host:port" scalar into n (host owned by n).  `what` prefixes
 * messages.  Returns 0 or -1. */
static int topo_parse_addr(struct topo_ctx *c, const yaml_node_t *v, const char *what,
                           struct topo_node *n)
{
    char host[TOPO_HOST_MAX], shown[CONF_SHOW_SIZE];
    const char *s = topo_text(v);
    int port;
    if (!s || parse_hostport(s, host, sizeof host, &port) < 0) {
        topo_err(c, topo_line(v), "%s: '%s' is not host:port", what,
                 topo_show_node(shown, sizeof shown, v));
        return -1;
    }
    n->host = xstrdup(host);
    n->port = port;
    topo_add_addr(c, n->host, port, topo_line(v));
    return 0;
}

/* ---- groups ---- */

/* Group names travel in space-separated sentinel messages. */
static int topo_valid_name(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) return 0;
    return 1;
}

static void topo_parse_node(struct topo_ctx *c, struct topo_group *g, const char *label,
                            int num, yaml_node_t *item)
{
    char what[CONF_SHOW_SIZE + 64], shown[CONF_SHOW_SIZE];
    struct topo_node *n = &g->nodes[g->nnodes];
    n->priority = TOPO_DEFAULT_PRIORITY;
    snprintf(what, sizeof what, "%s: node #%d", label, num);
    if (item->type == YAML_SCALAR_NODE) {
        if (topo_parse_addr(c, item, what, n) == 0) g->nnodes++;
        return;
    }
    if (item->type != YAML_MAPPING_NODE) {
        topo_err(c, topo_line(item),
                 "%s must be \"host:port\" or {addr: \"host:port\", priority: N}, not a list",
                 what);
        return;
    }
    yaml_node_t *addr = NULL, *prio = NULL;
    int addr_line = 0, prio_line = 0;
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
        yaml_node_t *k = topo_node(c, p->key), *v = topo_node(c, p->value);
        if (!k || !v) continue;
        if (topo_key_is(k, "addr") || topo_key_is(k, "priority")) {
            int is_addr = topo_key_is(k, "addr");
            int *seen = is_addr ? &addr_line : &prio_line;
            if (*seen) {
                topo_err(c, topo_line(k), "%s: key '%s' given twice (first at line %d)", what,
                         is_addr ? "addr" : "priority", *seen);
                continue;
            }
            *seen = topo_line(k);
            if (is_addr) addr = v; else prio = v;
        } else {
            topo_err(c, topo_line(k), "%s: unknown key '%s' (expected addr, priority)", what,
                     topo_show_node(shown, sizeof shown, k));
        }
    }
    if (!addr) {
        topo_err(c, topo_line(item), "%s: missing 'addr'", what);
        return;
    }
    if (prio) {
        const char *s = topo_text(prio);
        long long v;
        if (!s || str2ll(s, strlen(s), &v) < 0 || v < 0 || v > INT_MAX) {
            topo_err(c, topo_line(prio), "%s: priority '%s' is not an integer >= 0", what,
                     topo_show_node(shown, sizeof shown, prio));
            return;
        }
        n->priority = (int)v;
    }
    if (topo_parse_addr(c, addr, what, n) == 0) g->nnodes++;
}

static void topo_parse_nodes(struct topo_ctx *c, struct topo_group *g, const char *label,
                             yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        topo_err(c, topo_line(v),
                 "%s: nodes must be a list of \"host:port\" or {addr: \"host:port\", priority: N}",
                 label);
        return;
    }
    long n = v->data.sequence.items.top - v->data.sequence.items.start;
    if (n == 0) {
        topo_err(c, topo_line(v), "%s: at least one node is required", label);
        return;
    }
    if (n > TOPO_MAX_NODES) {
        topo_err(c, topo_line(v), "%s: too many nodes (%ld, at most %d)", label, n,
                 TOPO_MAX_NODES);
        return;
    }
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = topo_node(c, v->data.sequence.items.start[i]);
        if (item) topo_parse_node(c, g, label, (int)i + 1, item);
    }
}

static void topo_parse_group(struct topo_ctx *c, int gi, yaml_node_t *gn)
{
    struct topo_group *g = &c->t->groups[gi];
    char label[CONF_SHOW_SIZE + 32], shown[CONF_SHOW_SIZE];
    yaml_node_t *name = NULL, *slots = NULL, *nodes = NULL, *promotion = NULL;
    /* first[i]: the first pair for name, slots, nodes, promotion. */
    yaml_node_pair_t *first[4] = { NULL, NULL, NULL, NULL };
    static const char *const gkeys[4] = { "name", "slots", "nodes", "promotion" };

    g->line = topo_line(gn);
    snprintf(label, sizeof label, "group #%d", gi + 1);
    if (gn->type != YAML_MAPPING_NODE) {
        topo_err(c, g->line, "%s must be a mapping with name, slots and nodes", label);
        c->slots_ok = 0;
        return;
    }
    /* Find the keys first: messages name the group whatever the key order. */
    for (yaml_node_pair_t *p = gn->data.mapping.pairs.start; p < gn->data.mapping.pairs.top; p++) {
        yaml_node_t *k = topo_node(c, p->key);
        for (int i = 0; k && i < 4; i++)
            if (topo_key_is(k, gkeys[i]) && !first[i]) first[i] = p;
    }
    if (first[0]) name = topo_node(c, first[0]->value);
    if (first[1]) slots = topo_node(c, first[1]->value);
    if (first[2]) nodes = topo_node(c, first[2]->value);
    if (first[3]) promotion = topo_node(c, first[3]->value);
    if (name) {
        const char *s = topo_text(name);
        if (!topo_valid_name(s)) {
            topo_err(c, topo_line(name),
                     "%s: name '%s' must be non-empty, without spaces or control characters",
                     label, topo_show_node(shown, sizeof shown, name));
        } else {
            g->name = xstrdup(s);
            snprintf(label, sizeof label, "group %s", conf_show(shown, sizeof shown, s, strlen(s)));
        }
    }
    /* Unknown and repeated keys, in file order. */
    for (yaml_node_pair_t *p = gn->data.mapping.pairs.start; p < gn->data.mapping.pairs.top; p++) {
        yaml_node_t *k = topo_node(c, p->key);
        int which = -1;
        if (!k) continue;
        for (int i = 0; i < 4; i++)
            if (topo_key_is(k, gkeys[i])) which = i;
        if (which < 0)
            topo_err(c, topo_line(k),
                     "%s: unknown key '%s' (expected name, slots, nodes, promotion)",
                     label, topo_show_node(shown, sizeof shown, k));
        else if (p != first[which])
            topo_err(c, topo_line(k), "%s: key '%s' given twice (first at line %d)", label,
                     gkeys[which], topo_line(topo_node(c, first[which]->key)));
    }
    if (!name) topo_err(c, g->line, "%s: missing 'name'", label);
    if (!slots) {
        topo_err(c, g->line, "%s: missing 'slots'", label);
        c->slots_ok = 0;
    } else {
        const char *s = topo_text(slots);
        char err[512];
        struct topo_slot_ud ud = { c, gi, topo_line(slots) };
        if (!s) {
            topo_err(c, topo_line(slots),
                     "%s: slots must be a string of ranges like \"0-100,200-300\"", label);
            c->slots_ok = 0;
        } else if (topo_parse_slots(s, topo_add_range, &ud, err, sizeof err) < 0) {
            topo_err(c, topo_line(slots), "%s: slots: %s", label, err);
            c->slots_ok = 0;
        }
    }
    if (!nodes) topo_err(c, g->line, "%s: missing 'nodes'", label);
    else topo_parse_nodes(c, g, label, nodes);
    if (promotion) {
        const char *s = topo_text(promotion);
        if (s && !strcmp(s, "safe")) g->promotion_available = 0;
        else if (s && !strcmp(s, "available")) g->promotion_available = 1;
        else
            topo_err(c, topo_line(promotion), "%s: promotion '%s' must be safe or available",
                     label, topo_show_node(shown, sizeof shown, promotion));
    }
}

static void topo_parse_groups(struct topo_ctx *c, yaml_node_t *v)
{
    long n;
    if (v->type != YAML_SEQUENCE_NODE) {
        topo_err(c, topo_line(v), "groups must be a list of groups");
        c->slots_ok = 0;
        return;
    }
    n = v->data.sequence.items.top - v->data.sequence.items.start;
    if (n == 0) {
        topo_err(c, topo_line(v), "groups: at least one group is required");
        c->slots_ok = 0;
        return;
    }
    if (n > TOPO_MAX_GROUPS) {
        topo_err(c, topo_line(v), "groups: too many groups (%ld, at most %d)", n, TOPO_MAX_GROUPS);
        c->slots_ok = 0;
        return;
    }
    c->t->groups = xcalloc((size_t)n, sizeof *c->t->groups);
    c->t->ngroups = (int)n;
    for (long i = 0; i < n; i++) {
        yaml_node_t *gn = topo_node(c, v->data.sequence.items.start[i]);
        if (gn) topo_parse_group(c, (int)i, gn);
    }
}

/* ---- sections ---- */

static void topo_parse_sentinel_addrs(struct topo_ctx *c, yaml_node_t *v)
{
    long n;
    if (v->type != YAML_SEQUENCE_NODE) {
        topo_err(c, topo_line(v), "sentinel.addrs must be a list of \"host:port\"");
        return;
    }
    n = v->data.sequence.items.top - v->data.sequence.items.start;
    if (n == 0) {
        topo_err(c, topo_line(v), "sentinel.addrs: at least one address is required");
        return;
    }
    c->t->sentinels = xcalloc((size_t)n, sizeof *c->t->sentinels);
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = topo_node(c, v->data.sequence.items.start[i]);
        struct topo_node *sn = &c->t->sentinels[c->t->nsentinels];
        char what[64];
        if (!item) continue;
        snprintf(what, sizeof what, "sentinel.addrs #%ld", i + 1);
        sn->priority = TOPO_DEFAULT_PRIORITY;
        if (topo_parse_addr(c, item, what, sn) == 0) c->t->nsentinels++;
    }
}

static void topo_parse_section(struct topo_ctx *c, const char *name, yaml_node_t *v,
                               const struct conf_field *fields, void *obj)
{
    static const char *const sentinel_skip[] = { "addrs", NULL };
    int is_sentinel = strcmp(name, "sentinel") == 0;
    if (is_sentinel) c->t->has_sentinel = 1;
    if (topo_is_empty(v)) return;
    if (!obj) fields = NULL;
    if (conf_load_node(fields, obj, c->doc, v, c->path, name,
                       is_sentinel ? sentinel_skip : NULL, c->errs) < 0)
        c->bad = 1;
    if (!is_sentinel || v->type != YAML_MAPPING_NODE) return;
    /* conf_load_node reported any repeat of addrs: use the first. */
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = topo_node(c, p->key), *val = topo_node(c, p->value);
        if (k && val && topo_key_is(k, "addrs")) {
            topo_parse_sentinel_addrs(c, val);
            break;
        }
    }
}

static void topo_parse_string_key(struct topo_ctx *c, const char *name, yaml_node_t *v,
                                  char **out)
{
    const char *s = topo_text(v);
    if (!s) {
        topo_err(c, topo_line(v), "%s must be a string%s", name,
                 topo_is_scalar(v) ? " without NUL bytes" : "");
        return;
    }
    free(*out);
    *out = xstrdup(s);
}

/* ---- users: the internal links' own ACL users ---- */

static void topo_parse_user(struct topo_ctx *c, const char *link, yaml_node_t *v,
                            struct topo_user *u)
{
    static const char *const ukeys[2] = { "user", "password" };
    yaml_node_t *val[2] = { NULL, NULL };
    int seen[2] = { 0, 0 };
    char shown[CONF_SHOW_SIZE];

    u->line = topo_line(v);
    if (v->type != YAML_MAPPING_NODE) {
        topo_err(c, topo_line(v), "users.%s must be a mapping {user: NAME, password: PASS}", link);
        return;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = topo_node(c, p->key), *x = topo_node(c, p->value);
        int which = -1;
        if (!k || !x) continue;
        for (int i = 0; i < 2; i++)
            if (topo_key_is(k, ukeys[i])) which = i;
        if (which < 0) {
            topo_err(c, topo_line(k), "users.%s: unknown key '%s' (expected user, password)", link,
                     topo_show_node(shown, sizeof shown, k));
        } else if (seen[which]) {
            topo_err(c, topo_line(k), "users.%s: key '%s' given twice (first at line %d)", link,
                     ukeys[which], seen[which]);
        } else {
            seen[which] = topo_line(k);
            val[which] = x;
        }
    }
    if (!val[0]) {
        topo_err(c, topo_line(v), "users.%s: missing 'user'", link);
    } else {
        const char *s = topo_text(val[0]);
        /* A user name travels in AUTH and in ACL lines: one word. */
        if (!topo_valid_name(s))
            topo_err(c, topo_line(val[0]),
                     "users.%s: user '%s' must be non-empty, without spaces or control characters",
                     link, topo_show_node(shown, sizeof shown, val[0]));
        else
            u->user = xstrdup(s);
    }
    if (!val[1]) {
        topo_err(c, topo_line(v), "users.%s: missing 'password'", link);
    } else {
        const char *s = topo_text(val[1]);
        if (!s)
            topo_err(c, topo_line(val[1]), "users.%s: password must be a string%s", link,
                     topo_is_scalar(val[1]) ? " without NUL bytes" : "");
        else
            u->password = xstrdup(s);
    }
}

static void topo_parse_users(struct topo_ctx *c, yaml_node_t *v)
{
    static const char *const links[3] = { "proxy", "sentinel", "cli" };
    struct topo_user *dst[3] = { &c->t->proxy_user, &c->t->sentinel_user, &c->t->cli_user };
    char shown[CONF_SHOW_SIZE];

    if (topo_is_empty(v)) return;
    if (v->type != YAML_MAPPING_NODE) {
        topo_err(c, topo_line(v), "users must be a mapping of proxy:, sentinel:, cli:");
        return;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = topo_node(c, p->key), *x = topo_node(c, p->value);
        int which = -1;
        if (!k || !x) continue;
        for (int i = 0; i < 3; i++)
            if (topo_key_is(k, links[i])) which = i;
        if (which < 0)
            topo_err(c, topo_line(k), "users: unknown link '%s' (expected proxy, sentinel, cli)",
                     topo_show_node(shown, sizeof shown, k));
        else if (dst[which]->line)
            topo_err(c, topo_line(k), "users: key '%s' given twice (first at line %d)", links[which],
                     dst[which]->line);
        else
            topo_parse_user(c, links[which], x, dst[which]);
    }
}

/* A link that users: does not name authenticates as before: the default
 * user with the topology's password. */
static void topo_user_default(struct topo_user *u, const char *password)
{
    if (!u->user) u->user = xstrdup("default");
    if (!u->password) u->password = xstrdup(password ? password : "");
}

int topo_auth_argv(const struct topo_user *u, const char *argv[3])
{
    const char *user = u && u->user ? u->user : "default";
    const char *pw = u && u->password ? u->password : "";
    argv[0] = "AUTH";
    if (strcmp(user, "default") != 0) {
        argv[1] = user;
        argv[2] = pw;
        return 3;
    }
    if (!pw[0]) return 0;
    argv[1] = pw;
    return 2;
}

/* ---- whole-file checks ---- */

static int topo_range_cmp_group(const void *pa, const void *pb)
{
    const struct topo_range *a = pa, *b = pb;
    if (a->gi != b->gi) return a->gi < b->gi ? -1 : 1;
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    return (a->hi > b->hi) - (a->hi < b->hi);
}

static const char *topo_gname(struct topo_ctx *c, int gi, char *out, size_t size)
{
    const char *n = c->t->groups[gi].name;
    if (n) return conf_show(out, size, n, strlen(n));
    snprintf(out, size, "group #%d", gi + 1);
    return out;
}

static void topo_fmt_slots(char *out, size_t size, int lo, int hi)
{
    if (lo == hi) snprintf(out, size, "slot %d is", lo);
    else snprintf(out, size, "slots %d-%d are", lo, hi);
}

/* Merge each group's ranges (reporting slots it lists twice), leaving
 * c->ranges sorted by group, disjoint and non-adjacent within a group. */
static void topo_merge_ranges(struct topo_ctx *c)
{
    size_t out = 0;
    char gname[CONF_SHOW_SIZE], what[64];
    if (c->nranges > 1) qsort(c->ranges, c->nranges, sizeof *c->ranges, topo_range_cmp_group);
    for (size_t i = 0; i < c->nranges; i++) {
        struct topo_range r = c->ranges[i];
        if (out > 0 && c->ranges[out - 1].gi == r.gi && r.lo <= c->ranges[out - 1].hi + 1) {
            struct topo_range *prev = &c->ranges[out - 1];
            if (r.lo <= prev->hi) {
                int end = r.hi < prev->hi ? r.hi : prev->hi;
                topo_fmt_slots(what, sizeof what, r.lo, end);
                topo_err(c, r.line, "group %s: %s listed more than once",
                         topo_gname(c, r.gi, gname, sizeof gname), what);
            }
            if (r.hi > prev->hi) prev->hi = r.hi;
            continue;
        }
        c->ranges[out++] = r;
    }
    c->nranges = out;
}

static void topo_check_slots(struct topo_ctx *c, int groups_line)
{
    /* diff[s]: coverage change at slot s; cut[s]: a range starts or ends
     * there.  diff is non-zero only where cut is set. */
    int *diff = xcalloc(TOPO_NSLOTS + 1, sizeof *diff);
    unsigned char *cut = xcalloc(TOPO_NSLOTS + 1, 1);
    int cov = 0, msgs = 0, more = 0;
    char what[64];

    topo_merge_ranges(c);
    cut[0] = 1;
    for (size_t i = 0; i < c->nranges; i++) {
        diff[c->ranges[i].lo]++;
        diff[c->ranges[i].hi + 1]--;
        cut[c->ranges[i].lo] = cut[c->ranges[i].hi + 1] = 1;
    }
    for (int s = 0, e; s < TOPO_NSLOTS; s = e) {
        cov += diff[s];
        for (e = s + 1; e < TOPO_NSLOTS && !cut[e]; e++) {}
        /* Segment [s, e-1] has constant coverage `cov`. */
        if (cov == 1) continue;
        if (msgs >= TOPO_MAX_SLOT_MSGS) {
            more++;
            continue;
        }
        msgs++;
        topo_fmt_slots(what, sizeof what, s, e - 1);
        if (cov == 0) {
            topo_err(c, groups_line, "%s not assigned to any group", what);
            continue;
        }
        /* Name the groups (in file order) and point at the last one's slots. */
        buf names;
        int count = 0, line = 0;
        char gname[CONF_SHOW_SIZE];
        buf_init(&names);
        for (size_t i = 0; i < c->nranges; i++) {
            const struct topo_range *r = &c->ranges[i];
            if (r->lo > s || r->hi < s) continue;
            if (r->line > line) line = r->line;
            count++;
            if (count > 1) buf_append_str(&names, cov == 2 ? " and " : ", ");
            buf_append_str(&names, topo_gname(c, r->gi, gname, sizeof gname));
        }
        buf_append_char(&names, '\0');
        topo_err(c, line, "%s assigned to %s %s", what,
                 cov == 2 ? "both" : "more than one group:", names.data);
        buf_free(&names);
    }
    free(diff);
    free(cut);
    if (more)
        topo_err(c, groups_line, "%d more slot ranges are unassigned or assigned twice", more);
    if (c->bad) return;
    for (size_t i = 0; i < c->nranges; i++)
        for (int s = c->ranges[i].lo; s <= c->ranges[i].hi; s++)
            c->t->slot_group[s] = (uint16_t)c->ranges[i].gi;
}

static int topo_addr_cmp(const void *pa, const void *pb)
{
    const struct topo_addr *a = pa, *b = pb;
    int r = strcmp(a->host, b->host);
    if (r) return r;
    if (a->port != b->port) return a->port < b->port ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static void topo_check_addrs(struct topo_ctx *c)
{
    char shown[CONF_SHOW_SIZE];
    if (c->naddrs > 1) qsort(c->addrs, c->naddrs, sizeof *c->addrs, topo_addr_cmp);
    for (size_t i = 1, first = 0; i < c->naddrs; i++) {
        const struct topo_addr *a = &c->addrs[first], *b = &c->addrs[i];
        if (strcmp(a->host, b->host) != 0 || a->port != b->port) {
            first = i;
            continue;
        }
        conf_show(shown, sizeof shown, b->host, strlen(b->host));
        topo_err(c, b->line, strchr(b->host, ':') ? "address [%s]:%d is listed twice (first at line %d)"
                                                  : "address %s:%d is listed twice (first at line %d)",
                 shown, b->port, a->line);
    }
}

struct topo_name {
    const char *name;
    int gi;
};

static int topo_name_cmp(const void *pa, const void *pb)
{
    const struct topo_name *a = pa, *b = pb;
    int r = strcmp(a->name, b->name);
    return r ? r : (a->gi > b->gi) - (a->gi < b->gi);
}

static void topo_check_names(struct topo_ctx *c)
{
    struct topology *t = c->t;
    struct topo_name *v = xcalloc((size_t)t->ngroups, sizeof *v);
    char shown[CONF_SHOW_SIZE];
    int n = 0;
    for (int i = 0; i < t->ngroups; i++)
        if (t->groups[i].name) v[n++] = (struct topo_name){ t->groups[i].name, i };
    if (n > 1) qsort(v, (size_t)n, sizeof *v, topo_name_cmp);
    for (int i = 1, first = 0; i < n; i++) {
        if (strcmp(v[first].name, v[i].name) != 0) {
            first = i;
            continue;
        }
        topo_err(c, t->groups[v[i].gi].line, "group name '%s' is used twice (first at line %d)",
                 conf_show(shown, sizeof shown, v[i].name, strlen(v[i].name)),
                 t->groups[v[first].gi].line);
    }
    free(v);
}

/* ---- entry points ---- */

void topo_free(struct topology *t)
{
    if (!t) return;
    free(t->cluster);
    free(t->password);
    free(t->proxy_user.user);
    free(t->proxy_user.password);
    free(t->sentinel_user.user);
    free(t->sentinel_user.password);
    free(t->cli_user.user);
    free(t->cli_user.password);
    for (int i = 0; t->groups && i < t->ngroups; i++) {
        free(t->groups[i].name);
        for (int j = 0; j < TOPO_MAX_NODES; j++) free(t->groups[i].nodes[j].host);
    }
    free(t->groups);
    for (int i = 0; t->sentinels && i < t->nsentinels; i++) free(t->sentinels[i].host);
    free(t->sentinels);
    memset(t, 0, sizeof *t);
}

static void topo_parse_root(struct topo_ctx *c, yaml_node_t *root,
                            const struct topo_sections *sec)
{
    static const char *const keys[] = { "cluster", "password", "groups", "proxy", "sentinel", "users" };
    int seen[6] = { 0 };
    int groups_line = 0;
    char shown[CONF_SHOW_SIZE];

    if (!root || (topo_is_empty(root))) {
        topo_err(c, 1, "the file is empty: expected a mapping with cluster, groups, proxy, sentinel");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        topo_err(c, topo_line(root),
                 "the file must be a mapping (cluster:, groups:, proxy:, sentinel:), not %s",
                 root->type == YAML_SEQUENCE_NODE ? "a list" : "a single value");
        return;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = topo_node(c, p->key), *v = topo_node(c, p->value);
        int which = -1;
        if (!k || !v) continue;
        for (int i = 0; i < 6; i++)
            if (topo_key_is(k, keys[i])) which = i;
        if (which < 0) {
            if (k->type != YAML_SCALAR_NODE)
                topo_err(c, topo_line(k), "keys must be plain names, not %s",
                         k->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping");
            else
                topo_err(c, topo_line(k), "unknown key '%s'", topo_show_node(shown, sizeof shown, k));
            continue;
        }
        if (seen[which]) {
            topo_err(c, topo_line(k), "key '%s' given twice (first at line %d)", keys[which],
                     seen[which]);
            continue;
        }
        seen[which] = topo_line(k);
        switch (which) {
        case 0: topo_parse_string_key(c, "cluster", v, &c->t->cluster); break;
        case 1: topo_parse_string_key(c, "password", v, &c->t->password); break;
        case 2: groups_line = topo_line(k); topo_parse_groups(c, v); break;
        case 3:
            topo_parse_section(c, "proxy", v, sec ? sec->proxy_fields : NULL,
                               sec ? sec->proxy_obj : NULL);
            break;
        case 4:
            topo_parse_section(c, "sentinel", v, sec ? sec->sentinel_fields : NULL,
                               sec ? sec->sentinel_obj : NULL);
            break;
        case 5: topo_parse_users(c, v); break;
        }
    }
    if (!seen[2]) {
        topo_err(c, topo_line(root), "missing 'groups'");
        return;
    }
    topo_check_names(c);
    topo_check_addrs(c);
    if (c->slots_ok && c->t->ngroups > 0) topo_check_slots(c, groups_line);
}

int topo_load_string(const char *name, const char *text, size_t len, struct topology *t,
                     const struct topo_sections *sec, buf *errs)
{
    yaml_document_t doc;
    struct topo_ctx c;

    memset(t, 0, sizeof *t);
    if (conf_yaml_parse(name, text, len, &doc, errs) < 0) return -1;
    memset(&c, 0, sizeof c);
    c.path = name;
    c.doc = &doc;
    c.t = t;
    c.errs = errs;
    c.slots_ok = 1;
    t->cluster = xstrdup("");
    t->password = xstrdup("");
    topo_parse_root(&c, yaml_document_get_root_node(&doc), sec);
    topo_user_default(&t->proxy_user, t->password);
    topo_user_default(&t->sentinel_user, t->password);
    topo_user_default(&t->cli_user, t->password);
    if (c.nerrs > TOPO_MAX_ERRORS && errs)
        buf_printf(errs, "%s: %d more errors not shown\n", name, c.nerrs - TOPO_MAX_ERRORS);
    free(c.ranges);
    free(c.addrs);
    yaml_document_delete(&doc);
    if (c.bad) {
        topo_free(t);
        return -1;
    }
    return 0;
}

int topo_load(const char *path, struct topology *t, const struct topo_sections *sec, buf *errs)
{
    buf text;
    int rc;
    memset(t, 0, sizeof *t);
    buf_init(&text);
    if (conf_read_file(path, &text, errs) < 0) {
        buf_free(&text);
        return -1;
    }
    rc = topo_load_string(path, text.data, text.len, t, sec, errs);
    buf_free(&text);
    return rc;
}

void topo_default(struct topology *t)
{
    memset(t, 0, sizeof *t);
    t->cluster = xstrdup("");
    t->password = xstrdup("");
    topo_user_default(&t->proxy_user, "");
    topo_user_default(&t->sentinel_user, "");
    topo_user_default(&t->cli_user, "");
    t->ngroups = 1;
    t->groups = xcalloc(1, sizeof *t->groups);
    t->groups[0].name = xstrdup("default");
    t->groups[0].nnodes = 1;
    t->groups[0].nodes[0].host = xstrdup("127.0.0.1");
    t->groups[0].nodes[0].port = 7000;
    t->groups[0].nodes[0].priority = 100;
    /* slot_group is all zeros: every slot belongs to group 0 */
}
