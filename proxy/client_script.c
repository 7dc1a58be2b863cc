/* client_script: how strata-proxy routes Lua scripts and functions.
 *
 *   EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO
 *       routed by the keys they declare (numkeys at argv[2]), which must
 *       share one slot (else -CROSSSLOT, as Redis Cluster answers).  A
 *       script without keys runs on the owner of slot 0, always the same
 *       group, so its script cache stays warm.  A numkeys that is not a
 *       valid count goes there too, and the node answers the error.
 *       Scripts always run on masters (a NOSCRIPT is healed there).
 *   SCRIPT LOAD / EXISTS / FLUSH, FUNCTION LOAD / DELETE / FLUSH / RESTORE
 *       to every group, merged (merge.h); SCRIPT LOAD and EVAL bodies go
 *       into the sha cache that heals NOSCRIPT (script.h)
 *   SCRIPT KILL, FUNCTION KILL
 *       to every group over the client's admin links: private RESP2
 *       links, one per group, opened on first use, because the shared
 *       link to a group running a long script is stuck behind it
 *   SCRIPT DEBUG                          refused (it needs its own session)
 *   anything else (FUNCTION LIST/DUMP/STATS, HELP, unknown subcommands,
 *   wrong argument counts)                the owner of slot 0 answers */
#include "client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "client.h"
#include "log.h"
#include "merge.h"
#include "proxy.h"
#include "route.h"
#include "script.h"
#include "slot.h"
#include "util.h"
#include "worker.h"

int client_eval_group(struct client *c, int argc, char **argv, const size_t *lens)
{
    long long nk;
    if (argc < 3 || str2ll(argv[2], lens[2], &nk) < 0 || nk <= 0 || nk > argc - 3) return -2;
    int slot = (int)slot_of_key(argv[3], lens[3]);
    for (long long i = 1; i < nk; i++)
        if ((int)slot_of_key(argv[3 + i], lens[3 + i]) != slot) return -1;
    return c->w->route->slot_group[slot];
}

/* SCRIPT LOAD <body> followed by req, into out. */
static void load_then(buf *out, const buf *body, const char *req, size_t len)
{
    buf_append_str(out, "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n");
    merge_add_arg(out, body->data, body->len);
    buf_append(out, req, len);
}

void client_eval(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                 const size_t *lens, const char *req, size_t len)
{
    int g = client_eval_group(c, argc, argv, lens);
    if (g == -1) {
        client_reply_error(c, spec->id, client_err_crossslot);
        return;
    }
    if (g < 0) g = route_pubsub_group(c->w->route);
    struct backend *b = client_link_for(c, g, 0);
    struct msg *m = client_msg_new(c, spec, MSG_EVAL);
    msg_set_frags(m, 1);
    /* kept for a -MOVED hop (client.c) and the NOSCRIPT retry */
    if (len <= CLIENT_FWD_KEEP_MAX) buf_append(&m->fwd_req, req, len);
    if (spec->id == CMD_EVAL || spec->id == CMD_EVAL_RO) {
        char sha[41];
        script_cache_put(argv[1], lens[1], sha);
        script_set_add(&b->shas, sha);   /* EVAL caches it on the server too */
    } else if ((spec->id == CMD_EVALSHA || spec->id == CMD_EVALSHA_RO) && lens[1] == 40) {
        for (int i = 0; i < 40; i++) {
            char ch = argv[1][i];
            m->sha[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        m->sha[40] = '\0';
        if (!script_set_has(b->shas, m->sha)) {
            buf body;
            buf_init(&body);
            if (script_cache_get(m->sha, 40, &body)) {
                /* The link's server may not have it (a new connection,
                 * perhaps to a restarted or promoted node): load it in
                 * front, in the same place of the pipeline. */
                buf both;
                buf_init(&both);
                load_then(&both, &body, req, len);
                script_set_add(&b->shas, m->sha);
                atomic_fetch_add(&proxy_g.script_loads, 1);
                m->retried = 1;
                client_send_skip(c, m, 0, g, b, both.data, both.len, 1);
                buf_free(&both);
                buf_free(&body);
                return;
            }
            buf_free(&body);
        }
    }
    client_send(c, m, 0, g, b, req, len);
}

/* An FCALL answered "Function not found": load every library the proxy
 * keeps in front of it (script.h) and send it again, once. */
static int fcall_heal(struct client *c, struct msg *m, int gidx)
{
    buf req;
    buf_init(&req);
    int n = script_lib_load_all(&req);
    if (!n) {
        buf_free(&req);
        return 0;
    }
    log_info("group %s has no function for an FCALL: loading the %d librar%s kept here and retrying",
             c->w->route->groups[gidx].name, n, n == 1 ? "y" : "ies");
    buf_append(&req, m->fwd_req.data, m->fwd_req.len);
    m->retried = 1;
    atomic_fetch_add(&proxy_g.function_heals, 1);
    /* The loads' replies are dropped: OK where the library was missing,
     * "already exists" where it was there. */
    client_send_skip(c, m, 0, gidx, client_link_for(c, gidx, 0), req.data, req.len, n);
    buf_free(&req);
    return 1;
}

int client_eval_heal(struct client *c, struct msg *m, int gidx, const char *raw, size_t len)
{
    struct route *r = c->w->route;
    static const char not_found[] = "-ERR Function not found";
    if ((m->cmd == CMD_FCALL || m->cmd == CMD_FCALL_RO) && !m->retried && m->fwd_req.len &&
        len >= sizeof not_found - 1 && !memcmp(raw, not_found, sizeof not_found - 1) && gidx >= 0 &&
        gidx < r->ngroups)
        return fcall_heal(c, m, gidx);
    if (m->retried || !m->sha[0] || !m->fwd_req.len || len < 10 || memcmp(raw, "-NOSCRIPT", 9) != 0 ||
        gidx < 0 || gidx >= r->ngroups)
        return 0;
    buf body, req;
    buf_init(&body);
    if (!script_cache_get(m->sha, 40, &body)) {
        buf_free(&body);
        return 0;
    }
    log_info("group %s has no script %s: loading it there and retrying", r->groups[gidx].name,
             m->sha);
    buf_init(&req);
    load_then(&req, &body, m->fwd_req.data, m->fwd_req.len);
    m->retried = 1;
    atomic_fetch_add(&proxy_g.noscript_retries, 1);
    /* SCRIPT LOAD's reply is dropped; an error there (the group lost the
     * script again, or cannot compile it) comes back as the retry's own
     * NOSCRIPT, which the client then sees. */
    struct backend *b = client_link_for(c, gidx, 0);
    script_set_add(&b->shas, m->sha);
    client_send_skip(c, m, 0, gidx, b, req.data, req.len, 1);
    buf_free(&body);
    buf_free(&req);
    return 1;
}

int client_script_preload(struct client *c, struct backend *b, buf *out)
{
    int n = 0;
    buf body;
    buf_init(&body);
    for (size_t off = 0; off + 40 <= c->tx_shas.len; off += 40) {
        char sha[41];
        for (int i = 0; i < 40; i++) {
            char ch = c->tx_shas.data[off + (size_t)i];
            sha[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        sha[40] = '\0';
        buf_clear(&body);
        if (script_set_has(b->shas, sha) || !script_cache_get(sha, 40, &body)) continue;
        buf_append_str(out, "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n");
        merge_add_arg(out, body.data, body.len);
        script_set_add(&b->shas, sha);
        atomic_fetch_add(&proxy_g.script_loads, 1);
        n++;
    }
    buf_free(&body);
    return n;
}

/* The admin link of c to group g (see the file comment), reopened when the
 * group's master changed. */
static struct backend *admin_for(struct client *c, int g)
{
    struct route *r = c->w->route;
    if (c->nadm < r->ngroups) {
        c->adm = xrealloc(c->adm, sizeof *c->adm * (size_t)r->ngroups);
        for (int i = c->nadm; i < r->ngroups; i++) c->adm[i] = NULL;
        c->nadm = r->ngroups;
    }
    const struct route_group *rg = &r->groups[g];
    struct backend *b = c->adm[g];
    if (b && (b->port != rg->master.port || strcmp(b->host, rg->master.host) != 0) &&
        backend_idle(b)) {
        c->adm[g] = NULL;
        backend_destroy(b, "group master changed");
        b = NULL;
    }
    if (!b) {
        b = backend_create(c->w, rg->master.host, rg->master.port, rg->name, c, RESP2);
        b->gidx = g;
        c->adm[g] = b;
    }
    return b;
}

static void script_kill(struct client *c, const struct cmd_spec *spec, const char *req,
                        size_t len)
{
    struct route *r = c->w->route;
    struct msg *m = client_msg_new(c, spec, MSG_KILL);
    msg_set_frags(m, r->ngroups);
    for (int g = 0; g < r->ngroups; g++)
        client_send_skip(c, m, g, g, admin_for(c, g), req, len, 0);
}

/* What a broadcast FUNCTION subcommand (index into client_script's
 * bcast) does to the proxy's library cache: LOAD keeps its code in
 * m->fwd_req until every group has answered (client_merge_identical
 * keeps it if any group loaded it); DELETE and FLUSH forget at once. */
static void lib_note(struct msg *m, int sub, int argc, char **argv, const size_t *lens)
{
    if (sub == 0 && (argc == 3 || argc == 4)) {
        buf_clear(&m->fwd_req);
        buf_append(&m->fwd_req, argv[argc - 1], lens[argc - 1]);
    } else if (sub == 1 && argc == 3) {
        script_lib_del(argv[2], lens[2]);
    } else if (sub == 2 || (sub == 3 && argc == 4 && str_eq_nocase(argv[3], lens[3], "flush"))) {
        script_lib_clear();
    }
}

void client_merge_identical(struct client *c, struct msg *m, buf *out)
{
    struct route *r = c->w->route;
    const char **names = xcalloc((size_t)m->nfrags, sizeof *names);
    for (int j = 0; j < m->nfrags; j++) names[j] = j < r->ngroups ? r->groups[j].name : "?";
    char diverged[400];
    const char *what = m->text ? m->text : "FUNCTION";
    if (merge_identical(out, m->replies, m->nfrags, what, names, diverged, sizeof diverged) < 0)
        log_warn("%s diverged across groups: %s", what, diverged);
    /* Keep a loaded library's code if any group took it: a group that
     * was down is just the one to heal later. */
    if (m->fwd_req.len && !strcmp(what, "FUNCTION LOAD"))
        for (int j = 0; j < m->nfrags; j++)
            if (m->replies[j].len && m->replies[j].data[0] != '-') {
                script_lib_put(m->fwd_req.data, m->fwd_req.len);
                break;
            }
    free(names);
}

void client_script(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                   const size_t *lens, const char *req, size_t len)
{
    const char *sub = argv[1];
    size_t sl = lens[1];
    if (spec->id == CMD_SCRIPT) {
        if (str_eq_nocase(sub, sl, "load") && argc == 3) {
            char sha[41];
            script_cache_put(argv[2], lens[2], sha);
            client_to_all(c, spec, MSG_SAME, req, len);
            for (int g = 0; g < c->w->route->ngroups; g++)
                script_set_add(&client_link_for(c, g, 0)->shas, sha);
            return;
        }
        if (str_eq_nocase(sub, sl, "exists") && argc >= 3) {
            client_to_all(c, spec, MSG_EXISTS, req, len);
            return;
        }
        if (str_eq_nocase(sub, sl, "flush") && argc <= 3) {
            script_cache_clear();
            client_to_all(c, spec, MSG_ALL_OK, req, len);
            return;
        }
        if (str_eq_nocase(sub, sl, "kill") && argc == 2) {
            script_kill(c, spec, req, len);
            return;
        }
        if (str_eq_nocase(sub, sl, "debug")) {
            client_reply_error(c, spec->id,
                               "ERR command 'script|debug' is not supported by strata-proxy");
            return;
        }
    } else {
        static const char *const bcast[] = { "load", "delete", "flush", "restore" };
        static const char *const upper[] = { "FUNCTION LOAD", "FUNCTION DELETE",
                                             "FUNCTION FLUSH", "FUNCTION RESTORE" };
        for (int i = 0; i < 4; i++) {
            if (!str_eq_nocase(sub, sl, bcast[i])) continue;
            struct msg *m = client_msg_new(c, spec, MSG_IDENTICAL);
            m->text = xstrdup(upper[i]);
            lib_note(m, i, argc, argv, lens);
            struct route *r = c->w->route;
            msg_set_frags(m, r->ngroups);
            for (int g = 0; g < r->ngroups; g++)
                client_send(c, m, g, g, client_link_for(c, g, 0), req, len);
            return;
        }
        if (str_eq_nocase(sub, sl, "kill") && argc == 2) {
            script_kill(c, spec, req, len);
            return;
        }
    }
    /* FUNCTION LIST/DUMP/STATS, HELP, errors: the default group. */
    int g = route_pubsub_group(c->w->route);
    struct msg *m = client_msg_new(c, spec, MSG_FORWARD);
    msg_set_frags(m, 1);
    client_send(c, m, 0, g, client_link_for(c, g, 0), req, len);
}
