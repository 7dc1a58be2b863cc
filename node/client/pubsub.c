/* pubsub: channels, patterns and their subscribers (see pubsub.h).
 *
 *   channels table           patterns table          client->pstate
 *   "news" -> [c1, c2]       "n*"  -> [c2]           c2: chans [news]
 *   "ads"  -> [c3]                                       pats  [n*]
 *
 * Each table maps a name to a `struct chan` holding its subscribers in the
 * order they came.  Every chan is also on its table's list, in creation
 * order, which PUBLISH walks to match patterns and PUBSUB CHANNELS walks
 * to list names.  A client's state holds the chans it is on, in the order
 * it subscribed, so counts are O(1) and unsubscribe-all needs no lookup.
 * A chan is freed when its last subscriber leaves.
 *
 * Ownership: a chan owns its name and its subscriber array (client
 * pointers, not the clients).  A client's pstate is owned by this module;
 * the free hook removes the client from every chan before it is freed, so
 * no chan ever points to a freed client. */
#include "pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "subcmd.h"
#include "util.h"

struct chan {
    char *name;                   /* owned, NUL-terminated for logs */
    size_t len;
    uint64_t hash;
    struct chan *hnext;           /* bucket chain */
    struct chan *prev, *next;     /* the table's list, creation order */
    client **subs;                /* owned array; the clients are not */
    size_t nsubs, cap;
};

struct chan_table {
    struct chan **buckets;
    size_t nbuckets;              /* a power of two, or 0 */
    size_t count;
    struct chan *head, *tail;
};

struct chan_list {
    struct chan **v;
    size_t n, cap;
};

struct pubsub_state {
    struct chan_list chans;       /* channels, in subscription order */
    struct chan_list pats;        /* patterns, in subscription order */
};

static struct chan_table channels, patterns;

/* ---------------- tables ---------------- */

static uint64_t chan_hash(const char *s, size_t len)
{
    return hash_bytes(s, len, hash_seed());
}

static struct chan *table_find(const struct chan_table *t, const char *name, size_t len)
{
    if (!t->nbuckets) return NULL;
    uint64_t h = chan_hash(name, len);
    for (struct chan *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->len == len && !memcmp(e->name, name, len)) return e;
    return NULL;
}

static void table_grow(struct chan_table *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 16;
    struct chan **b = xcalloc(n, sizeof *b);
    for (struct chan *e = t->head; e; e = e->next) {
        size_t i = e->hash & (n - 1);
        e->hnext = b[i];
        b[i] = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static struct chan *table_get(struct chan_table *t, const char *name, size_t len)
{
    struct chan *e = table_find(t, name, len);
    if (e) return e;
    if (t->count >= t->nbuckets) table_grow(t);
    e = xcalloc(1, sizeof *e);
    e->name = xmemdup(name, len);
    e->len = len;
    e->hash = chan_hash(name, len);
    size_t i = e->hash & (t->nbuckets - 1);
    e->hnext = t->buckets[i];
    t->buckets[i] = e;
    e->prev = t->tail;
    if (t->tail) t->tail->next = e;
    else t->head = e;
    t->tail = e;
    t->count++;
    return e;
}

/* Unlink and free e (it has no subscribers left). */
static void table_remove(struct chan_table *t, struct chan *e)
{
    struct chan **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev) e->prev->next = e->next;
    else t->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else t->tail = e->prev;
    t->count--;
    free(e->name);
    free(e->subs);
    free(e);
}

static void list_push(struct chan_list *l, struct chan *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = e;
}

/* Remove e from l keeping the order; 0, or -1 if absent. */
static int list_remove(struct chan_list *l, const struct chan *e)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == e) {
            memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof *l->v);
            l->n--;
            return 0;
        }
    return -1;
}

static void chan_add_sub(struct chan *e, client *c)
{
    if (e->nsubs == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->subs = xrealloc(e->subs, e->cap * sizeof *e->subs);
    }
    e->subs[e->nsubs++] = c;
}

static void chan_del_sub(struct chan *e, const client *c)
{
    for (size_t i = 0; i < e->nsubs; i++)
        if (e->subs[i] == c) {
            memmove(e->subs + i, e->subs + i + 1, (e->nsubs - i - 1) * sizeof *e->subs);
            e->nsubs--;
            return;
        }
}

/* Is c on chan e?  Scan the shorter of the two lists. */
static int chan_has(const struct chan *e, const client *c, const struct chan_list *mine)
{
    if (mine->n < e->nsubs) {
        for (size_t i = 0; i < mine->n; i++)
            if (mine->v[i] == e) return 1;
        return 0;
    }
    for (size_t i = 0; i < e->nsubs; i++)
        if (e->subs[i] == c) return 1;
    return 0;
}

/* ---------------- subscriptions ---------------- */

unsigned long pubsub_client_count(const client *c)
{
    const struct pubsub_state *ps = c->pstate;
    return ps ? (unsigned long)(ps->chans.n + ps->pats.n) : 0;
}

unsigned long pubsub_client_channels(const client *c)
{
    return c->pstate ? (unsigned long)c->pstate->chans.n : 0;
}

unsigned long pubsub_client_patterns(const client *c)
{
    return c->pstate ? (unsigned long)c->pstate->pats.n : 0;
}

static struct pubsub_state *state_get(client *c)
{
    if (!c->pstate) c->pstate = xcalloc(1, sizeof *c->pstate);
    return c->pstate;
}

/* CLIENT_PUBSUB follows the subscription count; the state goes with it. */
static void state_update(client *c)
{
    if (pubsub_client_count(c)) {
        c->flags |= CLIENT_PUBSUB;
        return;
    }
    c->flags &= ~CLIENT_PUBSUB;
    if (c->pstate) {
        free(c->pstate->chans.v);
        free(c->pstate->pats.v);
        free(c->pstate);
        c->pstate = NULL;
    }
}

/* [kind, name, count]: the confirmation of each (un)subscription.  A NULL
 * name is the nil of an unsubscribe-all with nothing to drop. */
static void reply_confirm(client *c, const char *kind, const char *name, size_t len, unsigned long count)
{
    resp_add_push(&c->out, c->resp, 3);
    resp_add_bulk_str(&c->out, kind);
    if (name) resp_add_bulk(&c->out, name, len);
    else resp_add_null(&c->out, c->resp);
    resp_add_int(&c->out, (long long)count);
}

/* Subscribe c to argv[1..] in table t. */
static void subscribe_generic(client *c, struct chan_table *t, int pattern)
{
    struct pubsub_state *ps = state_get(c);
    struct chan_list *mine = pattern ? &ps->pats : &ps->chans;
    for (int j = 1; j < c->argc; j++) {
        struct chan *e = table_find(t, ARG(c, j));
        if (!e || !chan_has(e, c, mine)) {
            e = table_get(t, ARG(c, j));
            chan_add_sub(e, c);
            list_push(mine, e);
        }
        reply_confirm(c, pattern ? "psubscribe" : "subscribe", ARG(c, j), pubsub_client_count(c));
    }
    state_update(c);
}

/* Take c off all its channels (or patterns); with `reply`, one
 * confirmation each, or the nil form when there is none. */
static void unsubscribe_all_generic(client *c, int pattern, int reply)
{
    struct pubsub_state *ps = c->pstate;
    struct chan_table *t = pattern ? &patterns : &channels;
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    struct chan_list *mine = ps ? (pattern ? &ps->pats : &ps->chans) : NULL;
    if (!mine || mine->n == 0) {
        if (reply) reply_confirm(c, kind, NULL, 0, pubsub_client_count(c));
        return;
    }
    /* In subscription order; each confirmation counts what is left. */
    unsigned long left = pubsub_client_count(c);
    size_t n = mine->n;
    mine->n = 0;
    for (size_t i = 0; i < n; i++) {
        struct chan *e = mine->v[i];
        chan_del_sub(e, c);
        if (reply) reply_confirm(c, kind, e->name, e->len, --left);
        if (e->nsubs == 0) table_remove(t, e);
    }
}

static void unsubscribe_generic(client *c, int pattern)
{
    struct chan_table *t = pattern ? &patterns : &channels;
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    if (c->argc == 1) {
        unsubscribe_all_generic(c, pattern, 1);
    } else {
        for (int j = 1; j < c->argc; j++) {
            struct chan *e = table_find(t, ARG(c, j));
            if (e && c->pstate && list_remove(pattern ? &c->pstate->pats : &c->pstate->chans, e) == 0) {
                chan_del_sub(e, c);
                if (e->nsubs == 0) table_remove(t, e);
            }
            reply_confirm(c, kind, ARG(c, j), pubsub_client_count(c));
        }
    }
    state_update(c);
}

void pubsub_unsubscribe_all(client *c)
{
    unsubscribe_all_generic(c, 0, 0);
    unsubscribe_all_generic(c, 1, 0);
    state_update(c);
}

static void subscribe_command(client *c)
{
    subscribe_generic(c, &channels, 0);
}

static void psubscribe_command(client *c)
{
    subscribe_generic(c, &patterns, 1);
}

static void unsubscribe_command(client *c)
{
    unsubscribe_generic(c, 0);
}

static void punsubscribe_command(client *c)
{
    unsubscribe_generic(c, 1);
}

/* ---------------- publishing ---------------- */

/* Redis's stringmatchlen never matches an empty string against a
 * non-empty pattern (not even "*"); KEYS and SCAN do not notice because
 * they special-case "*", but PUBLISH and PUBSUB CHANNELS do. */
static int pubsub_match(const char *pat, size_t plen, const char *s, size_t slen)
{
    if (slen == 0) return plen == 0;
    return glob_match(pat, plen, s, slen, 0);
}

/* Append one message to subscriber s; close s if its unsent output is
 * over the limit (it cannot keep up, and its buffer would grow without
 * bound).  Returns 1 if delivered, 0 if s is closing. */
static int deliver(client *s, const struct chan *pat, const char *ch, size_t chlen, const char *msg,
                   size_t msglen)
{
    if (s->flags & CLIENT_CLOSE_ASAP) return 0;
    if (pat) {
        resp_add_push(&s->out, s->resp, 4);
        resp_add_bulk_str(&s->out, "pmessage");
        resp_add_bulk(&s->out, pat->name, pat->len);
    } else {
        resp_add_push(&s->out, s->resp, 3);
        resp_add_bulk_str(&s->out, "message");
    }
    resp_add_bulk(&s->out, ch, chlen);
    resp_add_bulk(&s->out, msg, msglen);
    client_pending(s);
    size_t unsent = s->out.len - s->out_sent;
    if ((long long)unsent > srv.cfg.pubsub_output_buffer_limit) {
        log_warn("client id=%llu addr=%s closed for overcoming of output buffer limits "
                 "(pubsub: %zu unsent bytes > pubsub_output_buffer_limit %lld)",
                 (unsigned long long)s->id, s->addr, unsent, srv.cfg.pubsub_output_buffer_limit);
        client_close(s);
    }
    return 1;
}

long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t msglen)
{
    long long receivers = 0;
    struct chan *e = table_find(&channels, ch, chlen);
    if (e)
        for (size_t i = 0; i < e->nsubs; i++) receivers += deliver(e->subs[i], NULL, ch, chlen, msg, msglen);
    for (struct chan *p = patterns.head; p; p = p->next) {
        if (!pubsub_match(p->name, p->len, ch, chlen)) continue;
        for (size_t i = 0; i < p->nsubs; i++) receivers += deliver(p->subs[i], p, ch, chlen, msg, msglen);
    }
    return receivers;
}

static void publish_command(client *c)
{
    resp_add_int(&c->out, pubsub_publish(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]));
}

/* ---------------- PUBSUB ---------------- */

static const char *const pubsub_help[] = {
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
};

static void pubsub_command(client *c)
{
    if (subcmd_check(&c->out, "pubsub", ARG(c, 1), c->argc) < 0) return;
    if (ARG_IS(c, 1, "help")) {
        size_t n = sizeof pubsub_help / sizeof pubsub_help[0];
        resp_add_array(&c->out, (long long)n);
        for (size_t i = 0; i < n; i++) resp_add_simple(&c->out, pubsub_help[i]);
    } else if ((ARG_IS(c, 1, "channels") || ARG_IS(c, 1, "shardchannels")) && c->argc <= 3) {
        /* Strata has no shard channels (no cluster bus): always empty. */
        size_t mark = resp_defer_array(&c->out);
        long long n = 0;
        if (ARG_IS(c, 1, "channels"))
            for (struct chan *e = channels.head; e; e = e->next) {
                if (c->argc == 3 && !pubsub_match(c->argv[2], c->argvlen[2], e->name, e->len)) continue;
                resp_add_bulk(&c->out, e->name, e->len);
                n++;
            }
        resp_set_deferred_array(&c->out, mark, n);
    } else if (ARG_IS(c, 1, "numsub") || ARG_IS(c, 1, "shardnumsub")) {
        int shard = ARG_IS(c, 1, "shardnumsub");
        resp_add_array(&c->out, (long long)(c->argc - 2) * 2);
        for (int j = 2; j < c->argc; j++) {
            struct chan *e = shard ? NULL : table_find(&channels, ARG(c, j));
            resp_add_bulk(&c->out, ARG(c, j));
            resp_add_int(&c->out, e ? (long long)e->nsubs : 0);
        }
    } else if (ARG_IS(c, 1, "numpat")) {
        /* Redis 7.0 counts distinct patterns, not subscriptions. */
        resp_add_int(&c->out, (long long)patterns.count);
    } else {
        resp_add_errorf(&c->out, "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                                 "Try PUBSUB HELP.", (int)(c->argvlen[1] > 128 ? 128 : c->argvlen[1]),
                        c->argv[1]);
    }
}

/* ---------------- subscribed mode ---------------- */

/* Dispatch filter: a RESP2 client with subscriptions can only receive
 * messages, so Redis lets it run nothing but these. */
static int pubsub_filter(client *c)
{
    if (!(c->flags & CLIENT_PUBSUB) || c->resp != 2) return 0;
    switch (c->cmd->id) {
    case CMD_SUBSCRIBE: case CMD_UNSUBSCRIBE: case CMD_PSUBSCRIBE: case CMD_PUNSUBSCRIBE:
    case CMD_PING: case CMD_QUIT: case CMD_RESET:
        return 0;
    default:
        break;
    }
    char name[96];
    snprintf(name, sizeof name, "%s", c->cmd->name);
    if (c->argc >= 2 && cmd_is_container(c->cmd)) {
        /* Redis resolves the subcommand (and its arity) before this check
         * and names it "container|sub". */
        if (subcmd_check(&c->out, c->cmd->name, ARG(c, 1), c->argc) < 0) goto refused;
        snprintf(name, sizeof name, "%s|%s", c->cmd->name,
                 subcmd_lookup(c->cmd->name, ARG(c, 1))->name);
    }
    /* Redis turns any refusal of EXEC into an EXECABORT. */
    resp_add_errorf(&c->out, "%s Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                             "QUIT / RESET are allowed in this context",
                    c->cmd->id == CMD_EXEC ? "EXECABORT Transaction discarded because of:" : "ERR", name);
refused:
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    return 1;
}

static void pubsub_free_hook(client *c)
{
    if (c->pstate) pubsub_unsubscribe_all(c);
}

void pubsub_register(void)
{
    server_register(CMD_SUBSCRIBE, subscribe_command);
    server_register(CMD_UNSUBSCRIBE, unsubscribe_command);
    server_register(CMD_PSUBSCRIBE, psubscribe_command);
    server_register(CMD_PUNSUBSCRIBE, punsubscribe_command);
    server_register(CMD_PUBLISH, publish_command);
    server_register(CMD_PUBSUB, pubsub_command);
    server_add_free_hook(pubsub_free_hook);
    server_add_dispatch_hook(pubsub_filter);
}
