/* t_server: connection and server commands — PING, ECHO, QUIT, RESET,
 * SELECT, AUTH, HELLO, INFO, CONFIG, CLIENT, TIME, SHUTDOWN.  (COMMAND is
 * t_command.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "blocking.h"
#include "cmd.h"
#include "conf.h"
#include "promhttp.h"
#include "log.h"
#include "pause.h"
#include "pubsub.h"
#include "subcmd.h"
#include "tracking.h"
#include "util.h"

#define COMPAT_REDIS_VERSION "7.0.15"

static void ping_command(client *c)
{
    if (c->argc > 2) {
        resp_add_arity_error(&c->out, c->cmd->name);
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == RESP2) {
        /* RESP2 subscribed mode: a message-shaped pong, as Redis answers */
        resp_add_array(&c->out, 2);
        resp_add_bulk_str(&c->out, "pong");
        if (c->argc == 2) resp_add_bulk(&c->out, ARG(c, 1));
        else resp_add_bulk_str(&c->out, "");
        return;
    }
    if (c->argc == 2) resp_add_bulk(&c->out, ARG(c, 1));
    else resp_add_simple(&c->out, "PONG");
}

static void echo_command(client *c)
{
    resp_add_bulk(&c->out, ARG(c, 1));
}

static void quit_command(client *c)
{
    resp_add_ok(&c->out);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* Run another command's handler for its effect on c only (its reply is
 * dropped).  multi.c keeps its state private; its own DISCARD and UNWATCH
 * are the way to drop a transaction and its WATCHes. */
static void run_for_effect(client *c, enum cmd_id id, const char *name)
{
    if (!srv.procs[id]) return;
    char *argv[1] = { (char *)name };
    size_t argvlen[1] = { strlen(name) };
    int argc = c->argc;
    char **oargv = c->argv;
    size_t *oargvlen = c->argvlen;
    const struct cmd_spec *cmd = c->cmd;
    size_t out = c->out.len;
    c->argc = 1;
    c->argv = argv;
    c->argvlen = argvlen;
    c->cmd = &cmd_table[id];
    srv.procs[id](c);
    c->argc = argc;
    c->argv = oargv;
    c->argvlen = oargvlen;
    c->cmd = cmd;
    c->out.len = out;
}

/* RESET: the connection as if new (Redis 7.0's list): no transaction, no
 * WATCH, no subscriptions, replies on, RESP2, no name, and not
 * authenticated when a password is required. */
static void reset_command(client *c)
{
    if (c->flags & CLIENT_MULTI) run_for_effect(c, CMD_DISCARD, "discard");
    run_for_effect(c, CMD_UNWATCH, "unwatch");
    pubsub_unsubscribe_all(c);
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
    c->resp = 2;
    free(c->name);
    c->name = NULL;
    c->authed = !(srv.cfg.requirepass && *srv.cfg.requirepass);
    resp_add_simple(&c->out, "RESET");
}

static void select_command(client *c)
{
    long long db;
    if (arg_ll(c, 1, &db) < 0) return;
    if (db < 0 || db >= 16) {
        resp_add_error(&c->out, "ERR DB index is out of range");
        return;
    }
    if (db != 0) {
        resp_add_error(&c->out, "ERR SELECT is not allowed: strata-node has a single database (0)");
        return;
    }
    resp_add_ok(&c->out);
}

static int password_ok(const char *p, size_t len)
{
    const char *want = srv.cfg.requirepass;
    size_t wl = strlen(want);
    /* Compare every byte regardless of where they differ. */
    unsigned diff = (unsigned)(wl ^ len);
    for (size_t i = 0; i < len; i++) diff |= (unsigned char)p[i] ^ (unsigned char)want[i % (wl ? wl : 1)];
    return diff == 0;
}

/* Checks user/password as Redis's default user would; replies on error. */
static int auth_check(client *c, int user_arg, int pass_arg)
{
    if (!srv.cfg.requirepass || !*srv.cfg.requirepass) {
        if (user_arg == 0) {
            resp_add_error(&c->out, "ERR AUTH <password> called without any password configured "
                                    "for the default user. Are you sure your configuration is correct?");
            return -1;
        }
        if (ARG_IS(c, user_arg, "default")) return 0;
        resp_add_error(&c->out, "WRONGPASS invalid username-password pair or user is disabled.");
        return -1;
    }
    if ((user_arg && !ARG_IS(c, user_arg, "default")) || !password_ok(ARG(c, pass_arg))) {
        resp_add_error(&c->out, "WRONGPASS invalid username-password pair or user is disabled.");
        return -1;
    }
    c->authed = 1;
    return 0;
}

static void auth_command(client *c)
{
    if (c->argc > 3) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (auth_check(c, c->argc == 3 ? 1 : 0, c->argc - 1) == 0) resp_add_ok(&c->out);
}

/* CLIENT SETNAME and HELLO SETNAME: Redis's clientSetName.  An empty name
 * clears the name.  Returns 0, or -1 after replying the error (the name
 * is then unchanged).  The name is copied. */
static int client_set_name(client *c, const char *name, size_t len)
{
    if (!resp_check_client_name(&c->out, name, len)) return -1;
    free(c->name);
    c->name = len ? xmemdup(name, len) : NULL;
    return 0;
}

static void hello_command(client *c)
{
    long long ver = 0;
    int j = 1;
    if (c->argc >= 2) {
        if (str2ll(ARG(c, 1), &ver) < 0) {
            resp_add_error(&c->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        j = 2;
        if (ver < 2 || ver > 3) {
            resp_add_error(&c->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const char *name = NULL;
    size_t namelen = 0;
    for (; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (ARG_IS(c, j, "auth") && more >= 2) {
            if (auth_check(c, j + 1, j + 2) < 0) return;
            j += 2;
        } else if (ARG_IS(c, j, "setname") && more >= 1) {
            name = c->argv[j + 1];
            namelen = c->argvlen[j + 1];
            j++;
        } else {
            resp_add_errorf(&c->out, "ERR Syntax error in HELLO option '%.*s'", (int)c->argvlen[j], c->argv[j]);
            return;
        }
    }
    if (!c->authed) {
        resp_add_error(&c->out, "NOAUTH HELLO must be called with the client already authenticated, "
                                "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                                "authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    /* Redis sets the name (or refuses it) before it switches protocol. */
    if (name && client_set_name(c, name, namelen) < 0) return;
    if (ver) c->resp = (int)ver;
    resp_add_map(&c->out, c->resp, 7);
    resp_add_bulk_str(&c->out, "server");
    resp_add_bulk_str(&c->out, "redis");
    resp_add_bulk_str(&c->out, "version");
    resp_add_bulk_str(&c->out, COMPAT_REDIS_VERSION);
    resp_add_bulk_str(&c->out, "proto");
    resp_add_int(&c->out, c->resp);
    resp_add_bulk_str(&c->out, "id");
    resp_add_int(&c->out, (long long)c->id);
    resp_add_bulk_str(&c->out, "mode");
    resp_add_bulk_str(&c->out, "standalone");
    resp_add_bulk_str(&c->out, "role");
    resp_add_bulk_str(&c->out, srv.is_replica ? "replica" : "master");
    resp_add_bulk_str(&c->out, "modules");
    resp_add_array(&c->out, 0);
}

/* ---------------- INFO ---------------- */

static long long peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long)ru.ru_maxrss * 1024;
}

static int section_wanted(client *c, const char *name, int dflt)
{
    if (c->argc < 2) return dflt;
    for (int i = 1; i < c->argc; i++) {
        if (ARG_IS(c, i, name) || ARG_IS(c, i, "all") || ARG_IS(c, i, "everything")) return 1;
        if (ARG_IS(c, i, "default") && dflt) return 1;
    }
    return 0;
}

static void info_command(client *c)
{
    buf o;
    buf_init(&o);
    uint64_t now = now_ms();
    if (section_wanted(c, "server", 1)) {
        struct utsname u;
        uname(&u);
        buf_printf(&o, "# Server\r\nredis_version:%s\r\nstrata_version:%s\r\nredis_mode:standalone\r\n"
                       "os:%s %s %s\r\narch_bits:%d\r\nprocess_id:%d\r\nrun_id:%s\r\ntcp_port:%lld\r\n"
                       "uptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\nhz:%lld\r\n"
                       "config_file:%s\r\ndata_dir:%s\r\n\r\n",
                   COMPAT_REDIS_VERSION, STRATA_VERSION, u.sysname, u.release, u.machine,
                   (int)(sizeof(void *) * 8), (int)getpid(), srv.run_id, srv.cfg.port,
                   (unsigned long long)((now - srv.start_ms) / 1000),
                   (unsigned long long)((now - srv.start_ms) / 86400000), srv.cfg.hz,
                   srv.config_path ? srv.config_path : "", srv.cfg.dir);
    }
    if (section_wanted(c, "clients", 1)) {
        unsigned long blocked = 0;
        for (client *x = srv.clients; x; x = x->next) blocked += !!(x->flags & CLIENT_BLOCKED);
        buf_printf(&o, "# Clients\r\nconnected_clients:%lu\r\nblocked_clients:%lu\r\nmaxclients:%lld\r\n\r\n",
                   srv.nclients, blocked, srv.cfg.maxclients);
    }
    if (section_wanted(c, "memory", 1)) {
        long long rss = proc_rss_bytes();
        char *mem = store_property(srv.st, "leveldb.approximate-memory-usage");
        buf_printf(&o, "# Memory\r\nused_memory:%lld\r\nused_memory_rss:%lld\r\nused_memory_peak:%lld\r\n"
                       "maxmemory:0\r\nmem_allocator:libc\r\nleveldb_block_cache:%lld\r\n"
                       "leveldb_write_buffer:%lld\r\nleveldb_memory_usage:%s\r\npending_write_bytes:%zu\r\n\r\n",
                   rss, rss, peak_rss_bytes(), srv.cfg.block_cache, srv.cfg.write_buffer,
                   mem ? mem : "0", store_pending_bytes(srv.st));
        free(mem);
    }
    if (section_wanted(c, "persistence", 1)) {
        const struct store_stats *ss = store_get_stats(srv.st);
        uint64_t disk = store_approx_size(srv.st, "", 0, "\xff\xff\xff\xff", 4);
        buf_printf(&o, "# Persistence\r\nloading:0\r\nstorage_engine:leveldb\r\nfsync:%s\r\n"
                       "rdb_changes_since_last_save:%llu\r\nrdb_last_save_time:%llu\r\naof_enabled:0\r\n"
                       "storage_commits:%llu\r\nstorage_syncs:%llu\r\nstorage_write_errors:%llu\r\n"
                       "storage_bytes_written:%llu\r\nstorage_disk_bytes:%llu\r\n"
                       "storage_level0_files:%u\r\n"
                       "gc_pending_collections:%llu\r\nmeta_cache_hits:%llu\r\nmeta_cache_misses:%llu\r\n\r\n",
                   srv.cfg.fsync == FSYNC_ALWAYS ? "always" : srv.cfg.fsync == FSYNC_EVERYSEC ? "everysec" : "no",
                   srv.dirty - srv.dirty_at_save, (unsigned long long)(srv.last_save_ms / 1000),
                   ss->commits, ss->syncs, ss->commit_errors, ss->bytes_written,
                   (unsigned long long)disk, store_level0_files(srv.st), db_gc_pending(),
                   ss->meta_cache_hits, ss->meta_cache_misses);
    }
    if (section_wanted(c, "stats", 1)) {
        buf_printf(&o, "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                       "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
                       "rejected_connections:%llu\r\nexpired_keys:%llu\r\nevicted_keys:0\r\n"
                       "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n\r\n",
                   srv.stats.connections, srv.stats.commands, srv.stats.net_in, srv.stats.net_out,
                   srv.stats.rejected, srv.stats.expired_keys, srv.stats.keyspace_hits,
                   srv.stats.keyspace_misses);
    }
    if (section_wanted(c, "replication", 1)) {
        if (srv.info_replication) srv.info_replication(&o);
        else buf_printf(&o, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
    }
    if (section_wanted(c, "cpu", 1)) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        buf_printf(&o, "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n\r\n",
                   (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
                   (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    }
    if (section_wanted(c, "commandstats", 0)) {
        buf_printf(&o, "# Commandstats\r\n");
        for (int i = 0; i < CMD__COUNT; i++) {
            unsigned long long n = srv.stats.cmd_calls[i];
            if (!n) continue;
            buf_printf(&o, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f\r\n", cmd_table[i].name, n,
                       srv.stats.cmd_usec[i], (double)srv.stats.cmd_usec[i] / (double)n);
        }
        buf_printf(&o, "\r\n");
    }
    if (section_wanted(c, "keyspace", 1)) {
        buf_printf(&o, "# Keyspace\r\n");
        unsigned long long keys = db_key_count();
        if (keys) buf_printf(&o, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", keys, db_expire_count());
    }
    if (o.len >= 2 && o.data[o.len - 1] == '\n' && o.data[o.len - 3] == '\n') o.len -= 2;
    resp_add_bulk(&c->out, o.data ? o.data : "", o.len);
    buf_free(&o);
}

/* ---------------- CONFIG ---------------- */

/* Names Redis clients and tools ask for, answered with fixed values that
 * are true of Strata (no RDB snapshots, no AOF). */
static const char *const compat_config[][2] = {
    { "save", "" }, { "appendonly", "no" }, { "databases", "1" },
};

static void config_name(const char *n, char *out, size_t size)
{
    size_t i = 0;
    for (; n[i] && i + 1 < size; i++) out[i] = n[i] == '_' ? '-' : n[i];
    out[i] = '\0';
}

static void config_command(client *c)
{
    /* Unknown subcommands and wrong arities (CONFIG HELP x, CONFIG GET)
     * get Redis's errors before any subcommand runs. */
    if (subcmd_check(&c->out, "config", ARG(c, 1), c->argc) < 0) return;
    if (ARG_IS(c, 1, "get") && c->argc >= 3) {
        buf items;
        buf_init(&items);
        long long n = 0;
        for (const struct conf_field *f = node_config_fields; f->name; f++) {
            char dashed[64];
            config_name(f->name, dashed, sizeof dashed);
            for (int j = 2; j < c->argc; j++) {
                if (glob_match(ARG(c, j), dashed, strlen(dashed), 1) ||
                    glob_match(ARG(c, j), f->name, strlen(f->name), 1)) {
                    buf val;
                    buf_init(&val);
                    conf_get(node_config_fields, &srv.cfg, f->name, &val);
                    resp_add_bulk_str(&items, dashed);
                    resp_add_bulk(&items, val.data ? val.data : "", val.len);
                    buf_free(&val);
                    n += 2;
                    break;
                }
            }
        }
        for (size_t i = 0; i < sizeof compat_config / sizeof compat_config[0]; i++)
            for (int j = 2; j < c->argc; j++)
                if (glob_match(ARG(c, j), compat_config[i][0], strlen(compat_config[i][0]), 1)) {
                    resp_add_bulk_str(&items, compat_config[i][0]);
                    resp_add_bulk_str(&items, compat_config[i][1]);
                    n += 2;
                    break;
                }
        resp_add_array(&c->out, n);
        buf_append(&c->out, items.data, items.len);
        buf_free(&items);
        return;
    }
    if (ARG_IS(c, 1, "set") && c->argc % 2) { /* a name without a value */
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    if (ARG_IS(c, 1, "set")) {
        /* Validate every pair on a copy first: all or nothing, as Redis. */
        struct node_config copy = srv.cfg;
        for (int j = 2; j < c->argc; j += 2) {
            char name[128], *value;
            if (c->argvlen[j] >= sizeof name) goto unknown;
            memcpy(name, c->argv[j], c->argvlen[j]);
            name[c->argvlen[j]] = '\0';
            const struct conf_field *f = conf_find(node_config_fields, name);
            if (!f) goto unknown;
            if (!f->runtime) {
                resp_add_errorf(&c->out, "ERR CONFIG SET failed (possibly related to argument '%s') - "
                                         "can't set immutable config", name);
                return;
            }
            buf errs;
            buf_init(&errs);
            value = xmemdup(c->argv[j + 1], c->argvlen[j + 1]);
            (void)copy;
            int r = conf_set(node_config_fields, &srv.cfg, name, value, NULL, &errs);
            free(value);
            if (r < 0) {
                while (errs.len && (errs.data[errs.len - 1] == '\n')) errs.len--;
                resp_add_errorf(&c->out, "ERR CONFIG SET failed (possibly related to argument '%s') - %.*s",
                                name, (int)errs.len, errs.data ? errs.data : "");
                buf_free(&errs);
                return;
            }
            buf_free(&errs);
            if (!strcmp(f->name, "loglevel")) log_level_current = srv.cfg.loglevel;
        }
        resp_add_ok(&c->out);
        return;
    unknown:
        resp_add_errorf(&c->out, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                        (int)c->argvlen[2], c->argv[2]);
        return;
    }
    if (ARG_IS(c, 1, "resetstat") && c->argc == 2) {
        memset(&srv.stats, 0, sizeof srv.stats);
        resp_add_ok(&c->out);
        return;
    }
    resp_add_errorf(&c->out, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.", (int)c->argvlen[1], c->argv[1]);
}

/* ---------------- CLIENT ---------------- */

static void client_info_line(buf *o, client *x)
{
    uint64_t now = now_ms();
    buf_printf(o, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s%s%s%s%s db=0 "
                  "sub=%lu psub=%lu multi=%d qbuf=%zu obl=%zu cmd=%s\n",
               (unsigned long long)x->id, x->addr, x->laddr, x->fd, x->name ? x->name : "",
               (unsigned long long)((now - x->ctime_ms) / 1000),
               (unsigned long long)((now - x->last_ms) / 1000),
               (x->flags & CLIENT_REPLICA) ? "S" : "", (x->flags & CLIENT_MASTER) ? "M" : "",
               (x->flags & CLIENT_BLOCKED) ? "b" : "", (x->flags & CLIENT_PUBSUB) ? "P" : "",
               (x->flags & (CLIENT_REPLICA | CLIENT_MASTER | CLIENT_BLOCKED | CLIENT_PUBSUB)) ? "" : "N",
               pubsub_client_channels(x), pubsub_client_patterns(x), (x->flags & CLIENT_MULTI) ? 0 : -1, x->qbuf.len, x->out.len - x->out_sent,
               x->lastcmd ? x->lastcmd->name : "NULL");
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: only clients waiting on keys
 * (blocking.c); a client held by CLIENT PAUSE is not released (Redis 7.0). */
static void client_unblock(client *c)
{
    int error = 0;
    long long id;
    if (c->argc == 4) {
        if (ARG_IS(c, 3, "error")) error = 1;
        else if (!ARG_IS(c, 3, "timeout")) {
            resp_add_error(&c->out, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    if (arg_ll(c, 2, &id) < 0) return;
    client *x = id > 0 ? server_client_by_id((uint64_t)id) : NULL;
    resp_add_int(&c->out, x && x != c && block_unblock(x, error) == 0);
}

/* CLIENT PAUSE ms [WRITE|ALL] (ALL by default), checked in Redis's order:
 * the mode, then the timeout. */
static void client_pause(client *c)
{
    enum pause_type type = PAUSE_ALL;
    long long ms;
    if (c->argc == 4) {
        if (ARG_IS(c, 3, "write")) type = PAUSE_WRITE;
        else if (!ARG_IS(c, 3, "all")) {
            resp_add_error(&c->out, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    if (str2ll(ARG(c, 2), &ms) < 0) {
        resp_add_error(&c->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        resp_add_error(&c->out, "ERR timeout is negative");
        return;
    }
    uint64_t now = now_ms();
    uint64_t end = (uint64_t)ms > UINT64_MAX - now ? UINT64_MAX : now + (uint64_t)ms;
    log_info("CLIENT PAUSE %s %lld ms by client id=%llu addr=%s", type == PAUSE_ALL ? "ALL" : "WRITE",
             ms, (unsigned long long)c->id, c->addr);
    pause_start(type, end);
    resp_add_ok(&c->out);
}

/* CLIENT REPLY ON|OFF|SKIP: flags that server_dispatch applies after each
 * command.  OFF and SKIP reply nothing themselves. */
static void client_reply(client *c)
{
    if (ARG_IS(c, 2, "on")) {
        c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 2, "off")) {
        c->flags |= CLIENT_REPLY_OFF;
    } else if (ARG_IS(c, 2, "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF)) c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        resp_add_error(&c->out, resp_err_syntax);
    }
}

/* The subcommands above plus UNPAUSE and NO-EVICT.  Returns 1 if argv[1]
 * is one of them (and replied), else 0. */
static int client_control(client *c)
{
    static const char *const mine[] = { "unblock", "pause", "unpause", "reply", "no-evict" };
    int which = -1;
    for (int i = 0; i < 5 && which < 0; i++)
        if (ARG_IS(c, 1, mine[i])) which = i;
    if (which < 0) return 0;
    if (subcmd_check(&c->out, "client", ARG(c, 1), c->argc) < 0) return 1;
    if ((which == 0 || which == 1) && c->argc > 4) {
        resp_add_errorf(&c->out, "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                                 "Try CLIENT HELP.", (int)c->argvlen[1], c->argv[1]);
        return 1;
    }
    switch (which) {
    case 0: client_unblock(c); break;
    case 1: client_pause(c); break;
    case 2:
        pause_end();
        resp_add_ok(&c->out);
        break;
    case 3: client_reply(c); break;
    default:
        /* Nothing is ever evicted from a node (data lives on disk). */
        if (ARG_IS(c, 2, "on") || ARG_IS(c, 2, "off")) resp_add_ok(&c->out);
        else resp_add_error(&c->out, resp_err_syntax);
        break;
    }
    return 1;
}

static void client_command(client *c)
{
    if (client_control(c) || tracking_client_command(c)) return;
    if (ARG_IS(c, 1, "id") && c->argc == 2) {
        resp_add_int(&c->out, (long long)c->id);
    } else if (ARG_IS(c, 1, "getname") && c->argc == 2) {
        if (c->name) resp_add_bulk_str(&c->out, c->name);
        else resp_add_null(&c->out, c->resp);
    } else if (ARG_IS(c, 1, "setname") && c->argc == 3) {
        if (client_set_name(c, ARG(c, 2)) == 0) resp_add_ok(&c->out);
    } else if (ARG_IS(c, 1, "list") && c->argc == 2) {
        buf o;
        buf_init(&o);
        for (client *x = srv.clients; x; x = x->next)
            if (x->fd >= 0) client_info_line(&o, x);
        resp_add_bulk(&c->out, o.data ? o.data : "", o.len);
        buf_free(&o);
    } else if (ARG_IS(c, 1, "info") && c->argc == 2) {
        buf o;
        buf_init(&o);
        client_info_line(&o, c);
        resp_add_bulk(&c->out, o.data, o.len);
        buf_free(&o);
    } else if (ARG_IS(c, 1, "kill") && c->argc >= 3) {
        if (c->argc == 3) { /* old form: CLIENT KILL addr */
            for (client *x = srv.clients; x; x = x->next)
                if (str_eq_nocase(ARG(c, 2), x->addr) && !(x->flags & CLIENT_CLOSE_ASAP)) {
                    if (x == c) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
                    else client_close(x);
                    resp_add_ok(&c->out);
                    return;
                }
            resp_add_error(&c->out, "ERR No such client");
            return;
        }
        long long killed = 0;
        if (c->argc % 2 != 0) {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
        for (client *x = srv.clients; x; x = x->next) {
            int match = x->fd >= 0 && !(x->flags & CLIENT_CLOSE_ASAP);
            for (int j = 2; j < c->argc && match; j += 2) {
                if (ARG_IS(c, j, "id")) {
                    long long id;
                    if (str2ll(ARG(c, j + 1), &id) < 0) {
                        resp_add_error(&c->out, "ERR client-id should be greater than 0");
                        return;
                    }
                    match = (long long)x->id == id;
                } else if (ARG_IS(c, j, "addr")) {
                    match = str_eq_nocase(ARG(c, j + 1), x->addr);
                } else if (ARG_IS(c, j, "laddr")) {
                    match = str_eq_nocase(ARG(c, j + 1), x->laddr);
                } else if (ARG_IS(c, j, "skipme")) {
                    match = !(ARG_IS(c, j + 1, "yes") && x == c);
                } else {
                    resp_add_error(&c->out, resp_err_syntax);
                    return;
                }
            }
            if (!match) continue;
            if (x == c) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            else client_close(x);
            killed++;
        }
        resp_add_int(&c->out, killed);
    } else {
        resp_add_errorf(&c->out, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.", (int)c->argvlen[1], c->argv[1]);
    }
}

static void time_command(client *c)
{
    uint64_t us = now_us();
    resp_add_array(&c->out, 2);
    resp_add_bulk_ll(&c->out, (long long)(us / 1000000));
    resp_add_bulk_ll(&c->out, (long long)(us % 1000000));
}

/* The time of the last fsync that left every acknowledged write on disk
 * (server_note_saved), or of the start: strata-node has no snapshots, so
 * this is its answer to "when was the data last saved". */
static void lastsave_command(client *c)
{
    resp_add_int(&c->out, (long long)(srv.last_save_ms / 1000));
}

static void shutdown_command(client *c)
{
    for (int j = 1; j < c->argc; j++) {
        if (!ARG_IS(c, j, "nosave") && !ARG_IS(c, j, "save") && !ARG_IS(c, j, "now") &&
            !ARG_IS(c, j, "force")) {
            resp_add_error(&c->out, resp_err_syntax);
            return;
        }
    }
    log_info("SHUTDOWN requested by client id=%llu addr=%s", (unsigned long long)c->id, c->addr);
    srv.shutdown_asap = 1;
    event_base_loopbreak(srv.base);
}

void t_server_register(void)
{
    server_register(CMD_PING, ping_command);
    server_register(CMD_ECHO, echo_command);
    server_register(CMD_QUIT, quit_command);
    server_register(CMD_RESET, reset_command);
    server_register(CMD_SELECT, select_command);
    server_register(CMD_AUTH, auth_command);
    server_register(CMD_HELLO, hello_command);
    server_register(CMD_INFO, info_command);
    server_register(CMD_CONFIG, config_command);
    server_register(CMD_CLIENT, client_command);
    server_register(CMD_TIME, time_command);
    server_register(CMD_LASTSAVE, lastsave_command);
    server_register(CMD_SHUTDOWN, shutdown_command);
}
