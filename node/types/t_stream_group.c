/* t_stream_group: consumer group commands — XGROUP (CREATE, SETID,
 * DESTROY, CREATECONSUMER, DELCONSUMER, HELP), XACK, XPENDING, XCLAIM and
 * XAUTOCLAIM — and the PEL bookkeeping XREADGROUP shares (t_stream.c).
 *
 * A pending entry lives twice, as in Redis: in the group's PEL ('p',
 * with its consumer, delivery time and count) and in its consumer's PEL
 * ('q'); groups count their PEL and consumers, consumers their pending
 * entries, so XINFO and XPENDING's summary never walk (stream.h). */
#include "t_stream_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "notify.h"
#include "util.h"

/* ---------------- PEL bookkeeping ---------------- */

static void consumer_pending_add(struct sctx *s, struct sgroup *g, const char *name, size_t nl,
                                 long long delta)
{
    uint64_t seen = 0, pending = 0;
    if (stream_consumer_get(s->m.version, g->gid, name, nl, &seen, &pending) != 1) return;
    pending = (uint64_t)((long long)pending + delta);
    stream_consumer_put(s->m.version, g->gid, name, nl, seen, pending);
}

void snack_assign(struct sctx *s, struct sgroup *g, struct sid id, struct snack *n,
                  const char *name, size_t nl, int existed)
{
    if (existed && n->consumer.len == nl && (nl == 0 || memcmp(n->consumer.data, name, nl) == 0)) {
        stream_nack_put(s->m.version, g->gid, id, n);
        return;
    }
    if (existed) {
        stream_cpel_del(s->m.version, g->gid, n->consumer.data, n->consumer.len, id);
        consumer_pending_add(s, g, n->consumer.data, n->consumer.len, -1);
    } else {
        g->pel++;
    }
    buf_clear(&n->consumer);
    buf_append(&n->consumer, name, nl);
    stream_nack_put(s->m.version, g->gid, id, n);
    stream_cpel_put(s->m.version, g->gid, name, nl, id);
    consumer_pending_add(s, g, name, nl, 1);
}

void snack_remove(struct sctx *s, struct sgroup *g, struct sid id, const struct snack *n)
{
    stream_nack_del(s->m.version, g->gid, id);
    stream_cpel_del(s->m.version, g->gid, n->consumer.data, n->consumer.len, id);
    consumer_pending_add(s, g, n->consumer.data, n->consumer.len, -1);
    g->pel--;
}

int sconsumer_touch(client *c, int keyarg, struct sctx *s, const char *gname, size_t gl,
                    struct sgroup *g, const char *name, size_t nl, int create, int norefresh)
{
    uint64_t seen, pending;
    (void)gname;
    (void)gl;
    int r = stream_consumer_get(s->m.version, g->gid, name, nl, &seen, &pending);
    if (r < 0) return -1;
    if (r == 1) {
        if (!norefresh) stream_consumer_put(s->m.version, g->gid, name, nl, srv.cmd_time_ms, pending);
        return 1;
    }
    if (!create) return -1;
    stream_consumer_put(s->m.version, g->gid, name, nl, srv.cmd_time_ms, 0);
    g->consumers++;
    notify_keyspace_event(NOTIFY_STREAM, "xgroup-createconsumer", ARG(c, keyarg));
    return 0;
}

/* Look up key argv[ka] and group argv[ga] for XACK-like commands.
 * Returns 1 (both exist), 0 (either absent), -1 replied. */
static int lookup_group(client *c, int ka, int ga, struct sctx *s, struct sgroup *g)
{
    int r = sctx_lookup(c, ka, s);
    if (r <= 0) return r;
    r = stream_group_get(s->m.version, ARG(c, ga), g);
    if (r < 0) {
        reply_storage_error(c);
        return -1;
    }
    return r;
}

static void reply_nogroup(client *c, int ka, int ga)
{
    resp_add_errorf(&c->out, "NOGROUP No such key '%.*s' or consumer group '%.*s'",
                    (int)c->argvlen[ka], c->argv[ka], (int)c->argvlen[ga], c->argv[ga]);
}

/* Save group and stream (meta rewritten: WATCH sees the change). */
static void group_save(client *c, struct sctx *s, const struct sgroup *g)
{
    stream_group_put(s->m.version, ARG(c, 2), g);
    sctx_save(c, 1, s);
}

/* ---------------- XGROUP ---------------- */

static void xgroup_help(client *c)
{
    static const char *lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    resp_add_array(&c->out, (long long)n);
    for (size_t i = 0; i < n; i++) resp_add_simple(&c->out, lines[i]);
}

static void subcommand_syntax_error(client *c)
{
    resp_add_errorf(&c->out, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try XGROUP HELP.",
                    (int)(c->argvlen[1] > 128 ? 128 : c->argvlen[1]), c->argv[1]);
}

static void xgroup_command(client *c)
{
    int create = ARG_IS(c, 1, "create"), setid = ARG_IS(c, 1, "setid");
    int mkstream = 0;
    long long entries_read = SCG_INVALID_ENTRIES_READ;
    struct sctx s;
    struct sgroup g;
    int have = 0, have_g = 0;
    meta_init(&s.m);
    memset(&s.h, 0, sizeof s.h);
    memset(&g, 0, sizeof g);
    if (c->argc == 2 && ARG_IS(c, 1, "help")) {
        xgroup_help(c);
        goto done;
    }
    if (c->argc >= 4) {
        for (int i = 5; i < c->argc;) {
            if (create && ARG_IS(c, i, "mkstream")) {
                mkstream = 1;
                i++;
            } else if ((create || setid) && ARG_IS(c, i, "entriesread") && i + 1 < c->argc) {
                if (arg_ll(c, i + 1, &entries_read) < 0) goto done;
                if (entries_read < 0 && entries_read != SCG_INVALID_ENTRIES_READ) {
                    resp_add_error(&c->out, "ERR value for ENTRIESREAD must be positive or -1");
                    goto done;
                }
                i += 2;
            } else {
                subcommand_syntax_error(c);
                goto done;
            }
        }
        int r = sctx_lookup(c, 2, &s);
        if (r < 0) goto done;
        have = r;
        if (!mkstream) {
            if (!have) {
                resp_add_error(&c->out, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
                goto done;
            }
        }
        if (have) {
            r = stream_group_get(s.m.version, ARG(c, 3), &g);
            if (r < 0) {
                reply_storage_error(c);
                goto done;
            }
            have_g = r;
        }
        if (!have_g && (setid || ARG_IS(c, 1, "createconsumer") || ARG_IS(c, 1, "delconsumer"))) {
            resp_add_errorf(&c->out, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                            (int)c->argvlen[3], c->argv[3], (int)c->argvlen[2], c->argv[2]);
            goto done;
        }
    }
    if (create && c->argc >= 5 && c->argc <= 8) {
        struct sid id;
        if (c->argvlen[4] == 1 && c->argv[4][0] == '$') id = s.h.last;
        else if (sid_parse(c, ARG(c, 4), &id, 0, 1, NULL) < 0) goto done;
        if (!have) db_new_collection(ARG(c, 2), T_STREAM, &s.m);
        if (have_g) {
            resp_add_error(&c->out, "BUSYGROUP Consumer Group name already exists");
            goto done;
        }
        g.gid = server_new_version();
        g.last = id;
        g.entries_read = entries_read;
        g.pel = g.consumers = 0;
        stream_group_put(s.m.version, ARG(c, 3), &g);
        s.h.groups++;
        sctx_save(c, 2, &s);
        resp_add_ok(&c->out);
        notify_keyspace_event(NOTIFY_STREAM, "xgroup-create", ARG(c, 2));
    } else if (setid && (c->argc == 5 || c->argc == 7)) {
        struct sid id;
        if (c->argvlen[4] == 1 && c->argv[4][0] == '$') id = s.h.last;
        else if (sid_parse(c, ARG(c, 4), &id, 0, 0, NULL) < 0) goto done;
        g.last = id;
        g.entries_read = entries_read;
        stream_group_put(s.m.version, ARG(c, 3), &g);
        sctx_save(c, 2, &s);
        resp_add_ok(&c->out);
        notify_keyspace_event(NOTIFY_STREAM, "xgroup-setid", ARG(c, 2));
    } else if (ARG_IS(c, 1, "destroy") && c->argc == 4) {
        if (have_g) {
            /* O(1): the group's PEL and consumers are keyed by its gid,
             * never reused; they go with the stream (stream.h). */
            stream_group_del(s.m.version, ARG(c, 3));
            s.h.groups--;
            sctx_save(c, 2, &s);
            resp_add_int(&c->out, 1);
            notify_keyspace_event(NOTIFY_STREAM, "xgroup-destroy", ARG(c, 2));
            block_signal_key(ARG(c, 2));
        } else {
            resp_add_int(&c->out, 0);
        }
    } else if (ARG_IS(c, 1, "createconsumer") && c->argc == 5) {
        int r = sconsumer_touch(c, 2, &s, ARG(c, 3), &g, ARG(c, 4), 1, 1);
        if (r == 0) {
            stream_group_put(s.m.version, ARG(c, 3), &g);
            sctx_save(c, 2, &s);
        }
        resp_add_int(&c->out, r == 0 ? 1 : 0);
    } else if (ARG_IS(c, 1, "delconsumer") && c->argc == 5) {
        uint64_t seen, pending = 0;
        int r = stream_consumer_get(s.m.version, g.gid, ARG(c, 4), &seen, &pending);
        if (r == 1) {
            /* its pending entries leave the group's PEL too */
            buf pre;
            buf_init(&pre);
            stream_cpel_prefix(&pre, s.m.version, g.gid, ARG(c, 4));
            store_iter *it = store_iter_new(srv.st);
            struct sid *ids = NULL;
            size_t n = 0, cap = 0;
            for (store_iter_seek(it, pre.data, pre.len); store_iter_valid(it); store_iter_next(it)) {
                size_t kl;
                const char *k = store_iter_key(it, &kl);
                if (kl != pre.len + 16 || memcmp(k, pre.data, pre.len)) break;
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    ids = xrealloc(ids, cap * sizeof *ids);
                }
                ids[n++] = sid_decode(k + pre.len);
            }
            store_iter_free(it);
            for (size_t i = 0; i < n; i++) {
                stream_nack_del(s.m.version, g.gid, ids[i]);
                stream_cpel_del(s.m.version, g.gid, ARG(c, 4), ids[i]);
            }
            free(ids);
            buf_free(&pre);
            g.pel -= n;
            g.consumers--;
            pending = n;
            stream_consumer_del(s.m.version, g.gid, ARG(c, 4));
            stream_group_put(s.m.version, ARG(c, 3), &g);
            sctx_save(c, 2, &s);
            notify_keyspace_event(NOTIFY_STREAM, "xgroup-delconsumer", ARG(c, 2));
        } else if (r < 0) {
            reply_storage_error(c);
            goto done;
        }
        resp_add_int(&c->out, (long long)pending);
    } else {
        subcommand_syntax_error(c);
    }
done:
    sctx_free(&s);
}

/* ---------------- XACK ---------------- */

static void xack_command(client *c)
{
    struct sctx s;
    struct sgroup g;
    meta_init(&s.m);
    struct sid *ids = NULL;
    int r = lookup_group(c, 1, 2, &s, &g);
    if (r < 0) goto done;
    if (r == 0) {
        resp_add_int(&c->out, 0);
        goto done;
    }
    int n = c->argc - 3;
    ids = xmalloc(sizeof *ids * (size_t)(n ? n : 1));
    for (int j = 0; j < n; j++)
        if (sid_parse(c, ARG(c, j + 3), &ids[j], 0, 1, NULL) < 0) goto done;
    long long acked = 0;
    struct snack nk;
    buf_init(&nk.consumer);
    for (int j = 0; j < n; j++) {
        if (stream_nack_get(s.m.version, g.gid, ids[j], &nk) != 1) continue;
        snack_remove(&s, &g, ids[j], &nk);
        acked++;
    }
    buf_free(&nk.consumer);
    if (acked) group_save(c, &s, &g);
    resp_add_int(&c->out, acked);
done:
    free(ids);
    sctx_free(&s);
}

/* ---------------- XPENDING ---------------- */

static void xpending_command(client *c)
{
    int justinfo = c->argc == 3, carg = 0, sx, ex;
    struct sid start = { 0, 0 }, end = { UINT64_MAX, UINT64_MAX };
    long long count = 0, minidle = 0;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (c->argc >= 6) {
        int si = 3;
        if (ARG_IS(c, 3, "idle")) {
            if (arg_ll(c, 4, &minidle) < 0) return;
            if (c->argc < 8) {
                resp_add_error(&c->out, resp_err_syntax);
                return;
            }
            si += 2;
        }
        if (arg_ll(c, si + 2, &count) < 0) return;
        if (count < 0) count = 0;
        if (sid_parse_interval(c, si, &start, &sx, 0) < 0) return;
        if (sx && sid_incr(&start) < 0) {
            resp_add_error(&c->out, "ERR invalid start ID for the interval");
            return;
        }
        if (sid_parse_interval(c, si + 1, &end, &ex, UINT64_MAX) < 0) return;
        if (ex && sid_decr(&end) < 0) {
            resp_add_error(&c->out, "ERR invalid end ID for the interval");
            return;
        }
        if (si + 3 < c->argc) carg = si + 3;
    }
    struct sctx s;
    struct sgroup g;
    meta_init(&s.m);
    int r = lookup_group(c, 1, 2, &s, &g);
    if (r < 0) goto done;
    if (r == 0) {
        reply_nogroup(c, 1, 2);
        goto done;
    }
    buf pre, k;
    buf_init(&pre);
    buf_init(&k);
    if (justinfo) {
        resp_add_array(&c->out, 4);
        resp_add_int(&c->out, (long long)g.pel);
        if (!g.pel) {
            resp_add_null(&c->out, c->resp);
            resp_add_null(&c->out, c->resp);
            resp_add_null_array(&c->out, c->resp);
        } else {
            stream_gkey(&pre, s.m.version, 'p', g.gid);
            store_iter *it = store_iter_new(srv.st);
            store_iter_seek(it, pre.data, pre.len);
            size_t kl;
            const char *key = store_iter_key(it, &kl);
            sreply_id(c, sid_decode(key + pre.len));
            enc_prefix_end(&k, pre.data, pre.len);
            store_iter_seek_last_before(it, k.data, k.len);
            key = store_iter_key(it, &kl);
            sreply_id(c, sid_decode(key + pre.len));
            store_iter_free(it);
            stream_gkey(&pre, s.m.version, 'c', g.gid);
            it = store_iter_new(srv.st);
            size_t mark = resp_defer(&c->out);
            long long n = 0;
            for (store_iter_seek(it, pre.data, pre.len); store_iter_valid(it); store_iter_next(it)) {
                size_t vl;
                key = store_iter_key(it, &kl);
                if (kl < pre.len || memcmp(key, pre.data, pre.len)) break;
                const char *v = store_iter_val(it, &vl);
                uint64_t pending = vl >= 16 ? get_u64be((const unsigned char *)v + 8) : 0;
                if (!pending) continue;
                resp_add_array(&c->out, 2);
                resp_add_bulk(&c->out, key + pre.len, kl - pre.len);
                resp_add_bulk_ll(&c->out, (long long)pending);
                n++;
            }
            store_iter_free(it);
            resp_set_deferred_array(&c->out, mark, n);
        }
    } else {
        uint64_t seen, pending;
        if (carg && stream_consumer_get(s.m.version, g.gid, ARG(c, carg), &seen, &pending) != 1) {
            resp_add_array(&c->out, 0);
            goto out;
        }
        if (carg) stream_cpel_prefix(&pre, s.m.version, g.gid, ARG(c, carg));
        else stream_gkey(&pre, s.m.version, 'p', g.gid);
        buf_append(&k, pre.data, pre.len);
        sid_append(&k, start);
        uint64_t now = srv.cmd_time_ms;
        size_t mark = resp_defer(&c->out);
        long long n = 0;
        struct snack nk;
        buf_init(&nk.consumer);
        store_iter *it = store_iter_new(srv.st);
        for (store_iter_seek(it, k.data, k.len); count && store_iter_valid(it); store_iter_next(it)) {
            size_t kl;
            const char *key = store_iter_key(it, &kl);
            if (kl != pre.len + 16 || memcmp(key, pre.data, pre.len)) break;
            struct sid id = sid_decode(key + pre.len);
            if (sid_cmp(id, end) > 0) break;
            if (stream_nack_get(s.m.version, g.gid, id, &nk) != 1) continue;
            long long idle = ms_elapsed((uint64_t)now, nk.dtime);
            if (minidle && idle < minidle) continue;
            n++;
            count--;
            resp_add_array(&c->out, 4);
            sreply_id(c, id);
            resp_add_bulk(&c->out, nk.consumer.data, nk.consumer.len);
            resp_add_int(&c->out, idle < 0 ? 0 : idle);
            resp_add_int(&c->out, (long long)nk.dcount);
        }
        store_iter_free(it);
        buf_free(&nk.consumer);
        resp_set_deferred_array(&c->out, mark, n);
    }
out:
    buf_free(&pre);
    buf_free(&k);
done:
    sctx_free(&s);
}

/* ---------------- XCLAIM, XAUTOCLAIM ---------------- */

static void xclaim_command(client *c)
{
    struct sctx s;
    struct sgroup g;
    meta_init(&s.m);
    long long minidle, retrycount = -1, deliverytime = -1;
    int force = 0, justid = 0, j, changed = 0;
    struct snack nk;
    buf_init(&nk.consumer);
    int r = lookup_group(c, 1, 2, &s, &g);
    if (r < 0) goto done;
    if (r == 0) {
        reply_nogroup(c, 1, 2);
        goto done;
    }
    if (sarg_ll(c, 4, &minidle, "ERR Invalid min-idle-time argument for XCLAIM") < 0)
        goto done;
    if (minidle < 0) minidle = 0;
    struct sid id;
    for (j = 5; j < c->argc; j++)
        if (sid_parse(NULL, ARG(c, j), &id, 0, 1, NULL) < 0) break;
    int last_id_arg = j - 1;
    long long now = (long long)srv.cmd_time_ms;
    struct sid last_id = { 0, 0 };
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (ARG_IS(c, j, "force")) {
            force = 1;
        } else if (ARG_IS(c, j, "justid")) {
            justid = 1;
        } else if (ARG_IS(c, j, "idle") && more) {
            j++;
            if (sarg_ll(c, j, &deliverytime, "ERR Invalid IDLE option argument for XCLAIM") < 0)
                goto done;
            deliverytime = ms_elapsed((uint64_t)now, (uint64_t)deliverytime);   /* wraps as in Redis */
        } else if (ARG_IS(c, j, "time") && more) {
            j++;
            if (sarg_ll(c, j, &deliverytime, "ERR Invalid TIME option argument for XCLAIM") < 0)
                goto done;
        } else if (ARG_IS(c, j, "retrycount") && more) {
            j++;
            if (sarg_ll(c, j, &retrycount, "ERR Invalid RETRYCOUNT option argument for XCLAIM") < 0)
                goto done;
        } else if (ARG_IS(c, j, "lastid") && more) {
            j++;
            if (sid_parse(c, ARG(c, j), &last_id, 0, 1, NULL) < 0) goto done;
        } else {
            resp_add_errorf(&c->out, "ERR Unrecognized XCLAIM option '%.*s'", (int)c->argvlen[j], c->argv[j]);
            goto done;
        }
    }
    if (sid_cmp(last_id, g.last) > 0) {
        g.last = last_id;
        changed = 1;
    }
    if (deliverytime != -1) {
        if (deliverytime < 0 || deliverytime > now) deliverytime = now;
    } else {
        deliverytime = now;
    }
    int have_consumer = 0;
    size_t mark = resp_defer(&c->out);
    long long n = 0;
    buf v;
    buf_init(&v);
    for (j = 5; j <= last_id_arg; j++) {
        sid_parse(NULL, ARG(c, j), &id, 0, 1, NULL);
        int had = stream_nack_get(s.m.version, g.gid, id, &nk) == 1;
        if (stream_entry_get(s.m.version, id, &v) != 1) {
            if (had) {
                snack_remove(&s, &g, id, &nk);
                changed = 1;
            }
            continue;
        }
        int created = 0;
        if (force && !had) {
            buf_clear(&nk.consumer);
            nk.dtime = (uint64_t)now;
            nk.dcount = 1;
            created = 1;
        }
        if (!had && !created) continue;
        if (had && minidle) {
            long long idle = ms_elapsed((uint64_t)now, nk.dtime);
            if (idle < minidle) continue;
        }
        if (!have_consumer) {
            sconsumer_touch(c, 1, &s, ARG(c, 2), &g, ARG(c, 3), 1, 0);
            have_consumer = 1;
        }
        nk.dtime = (uint64_t)deliverytime;
        if (retrycount >= 0) nk.dcount = (uint64_t)retrycount;
        else if (!justid) nk.dcount++;
        snack_assign(&s, &g, id, &nk, ARG(c, 3), had);
        changed = 1;
        if (justid) sreply_id(c, id);
        else sreply_entry(c, id, v.data, v.len);
        n++;
    }
    buf_free(&v);
    resp_set_deferred_array(&c->out, mark, n);
    if (changed || have_consumer) group_save(c, &s, &g);
done:
    buf_free(&nk.consumer);
    sctx_free(&s);
}

static void xautoclaim_command(client *c)
{
    struct sctx s;
    struct sgroup g;
    meta_init(&s.m);
    long long minidle, count = 100;
    int justid = 0, sx;
    struct sid start;
    struct snack nk;
    buf_init(&nk.consumer);
    struct sid *deleted = NULL;
    if (sarg_ll(c, 4, &minidle, "ERR Invalid min-idle-time argument for XAUTOCLAIM") < 0)
        goto done;
    if (minidle < 0) minidle = 0;
    if (sid_parse_interval(c, 5, &start, &sx, 0) < 0) goto done;
    if (sx && sid_incr(&start) < 0) {
        resp_add_error(&c->out, "ERR invalid start ID for the interval");
        goto done;
    }
    for (int j = 6; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (ARG_IS(c, j, "count") && more) {
            if (sarg_ll(c, j + 1, &count, "ERR COUNT must be > 0") < 0) goto done;
            if (count < 1 || count > LONG_MAX / 16) {
                resp_add_error(&c->out, "ERR COUNT must be > 0");
                goto done;
            }
            j++;
        } else if (ARG_IS(c, j, "justid")) {
            justid = 1;
        } else {
            resp_add_error(&c->out, resp_err_syntax);
            goto done;
        }
    }
    int r = lookup_group(c, 1, 2, &s, &g);
    if (r < 0) goto done;
    if (r == 0) {
        reply_nogroup(c, 1, 2);
        goto done;
    }
    long long attempts = count * 10, n = 0, ndel = 0;
    long long now = (long long)srv.cmd_time_ms;
    deleted = xmalloc(sizeof *deleted * (size_t)(count < 1024 ? count : 1024));
    size_t delcap = (size_t)(count < 1024 ? count : 1024);
    buf pre, k, v;
    buf_init(&pre);
    buf_init(&k);
    buf_init(&v);
    stream_gkey(&pre, s.m.version, 'p', g.gid);
    /* The PEL IDs to examine first (the loop rewrites PEL records). */
    struct sid *ids = NULL;
    size_t nids = 0, cap = 0;
    int more_after = 0;
    struct sid next = { 0, 0 };
    buf_append(&k, pre.data, pre.len);
    sid_append(&k, start);
    store_iter *it = store_iter_new(srv.st);
    for (store_iter_seek(it, k.data, k.len); store_iter_valid(it); store_iter_next(it)) {
        size_t kl;
        const char *key = store_iter_key(it, &kl);
        if (kl != pre.len + 16 || memcmp(key, pre.data, pre.len)) break;
        if ((long long)nids >= attempts || (long long)nids >= count * 10) {
            more_after = 1;
            next = sid_decode(key + pre.len);
            break;
        }
        if (nids == cap) {
            cap = cap ? cap * 2 : 64;
            ids = xrealloc(ids, cap * sizeof *ids);
        }
        ids[nids++] = sid_decode(key + pre.len);
    }
    store_iter_free(it);
    int have_consumer = 0, changed = 0;
    resp_add_array(&c->out, 3);
    size_t cursor_mark = c->out.len;
    resp_add_bulk(&c->out, "0-0", 3); /* placeholder, replaced below */
    size_t arr_mark = resp_defer(&c->out);
    size_t i;
    for (i = 0; i < nids && attempts && count; i++) {
        attempts--;
        struct sid id = ids[i];
        if (stream_nack_get(s.m.version, g.gid, id, &nk) != 1) continue;
        if (stream_entry_get(s.m.version, id, &v) != 1) {
            snack_remove(&s, &g, id, &nk);
            changed = 1;
            if ((size_t)ndel == delcap) {
                delcap *= 2;
                deleted = xrealloc(deleted, sizeof *deleted * delcap);
            }
            deleted[ndel++] = id;
            count--;
            continue;
        }
        if (minidle && ms_elapsed((uint64_t)now, nk.dtime) < minidle) continue;
        if (!have_consumer) {
            sconsumer_touch(c, 1, &s, ARG(c, 2), &g, ARG(c, 3), 1, 0);
            have_consumer = 1;
        }
        nk.dtime = (uint64_t)now;
        if (!justid) nk.dcount++;
        snack_assign(&s, &g, id, &nk, ARG(c, 3), 1);
        changed = 1;
        if (justid) sreply_id(c, id);
        else sreply_entry(c, id, v.data, v.len);
        n++;
        count--;
    }
    /* The cursor: the PEL entry after the last one examined, or 0-0. */
    struct sid cursor = { 0, 0 };
    if (i < nids) cursor = ids[i];
    else if (more_after) cursor = next;
    resp_set_deferred_array(&c->out, arr_mark, n);
    {
        /* splice the cursor in place of the placeholder */
        buf tail;
        buf_init(&tail);
        size_t ph = cursor_mark + 9; /* "$3\r\n0-0\r\n" */
        buf_append(&tail, c->out.data + ph, c->out.len - ph);
        c->out.len = cursor_mark;
        sreply_id(c, cursor);
        buf_append(&c->out, tail.data, tail.len);
        buf_free(&tail);
    }
    resp_add_array(&c->out, ndel);
    for (long long d = 0; d < ndel; d++) sreply_id(c, deleted[d]);
    if (changed || have_consumer) group_save(c, &s, &g);
    free(ids);
    buf_free(&pre);
    buf_free(&k);
    buf_free(&v);
done:
    free(deleted);
    buf_free(&nk.consumer);
    sctx_free(&s);
}

void t_stream_group_register(void)
{
    server_register(CMD_XGROUP, xgroup_command);
    server_register(CMD_XACK, xack_command);
    server_register(CMD_XPENDING, xpending_command);
    server_register(CMD_XCLAIM, xclaim_command);
    server_register(CMD_XAUTOCLAIM, xautoclaim_command);
}
