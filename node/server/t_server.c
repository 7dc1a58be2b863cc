/* t_server: connection and server commands — PING, ECHO, QUIT, RESET,
 * SELECT, AUTH, HELLO, INFO, CONFIG, CLIENT, TIME, SHUTDOWN (COMMAND is
 * t_command.c).
 *
 * CONFIG serves two tables: strata-node's settings (config.c, also YAML
 * keys and flags) and the Redis-only parameters (rconfig.c).  INFO's
 * commandstats/errorstats/latencystats come from cmdstats.c; SLOWLOG,
 * LATENCY, MONITOR and MEMORY have their own files (slowlog.c,
 * latency.c, monitor.c, t_memory.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "acl.h"
#include "blocking.h"
#include "cmdstats.h"
#include "cmd.h"
#include "conf.h"
#include "eval.h"
#include "promhttp.h"
#include "log.h"
#include "migrate.h"
#include "monitor.h"
#include "multi.h"
#include "pause.h"
#include "pubsub.h"
#include "rconfig.h"
#include "slots.h"
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
 * WATCH, no subscriptions, not a monitor, replies on, RESP2, no name, and
 * not authenticated when a password is required.  NO-EVICT stays, as in
 * Redis. */
static void reset_command(client *c)
{
    if (c->flags & CLIENT_MULTI) run_for_effect(c, CMD_DISCARD, "discard");
    run_for_effect(c, CMD_UNWATCH, "unwatch");
    pubsub_unsubscribe_all(c);
    monitor_stop(c);
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
    c->resp = 2;
    free(c->name);
    c->name = NULL;
    node_acl_client_init(c);
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

/* AUTH [user] pass and HELLO's AUTH, against the ACL users (t_acl.c):
 * the one-argument form is the default user's, as in Redis 7.0. */
static int auth_check(client *c, int user_arg, int pass_arg)
{
    if (user_arg == 0) {
        const struct acl_user *d = acl_default_user(node_acl());
        if ((d->flags & ACL_USER_NOPASS) && (d->flags & ACL_USER_ON)) {
            resp_add_error(&c->out, "ERR AUTH <password> called without any password configured "
                                    "for the default user. Are you sure your configuration is correct?");
            return -1;
        }
        return node_acl_auth(c, "default", 7, ARG(c, pass_arg));
    }
    return node_acl_auth(c, ARG(c, user_arg), ARG(c, pass_arg));
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
                                "otherwise the HELLO AUTH <user> <pass> option can be used to "
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

/* INFO [section ...] (Redis 7.0): any number of section names in any
 * case, plus "default" (the sections INFO alone shows), "all" and
 * "everything" (every section; Strata has no module sections, so the two
 * are the same).  Sections come in Redis's order whatever the order of
 * the arguments; unknown names add nothing.  Sections are separated by
 * an empty line.  Returns 1 if `name` is wanted, and starts its text in
 * o (the separator). */
/* Redis 7.0's Lua lines of INFO memory, in its order. */
static void info_lua_memory(buf *o)
{
    size_t evm, nscripts, sbytes, fvm, nfn, nlib, fbytes;
    eval_info_memory(&evm, &nscripts, &sbytes);
    function_info_memory(&fvm, &nfn, &nlib, &fbytes);
    char eh[32], th[32], sh[32];
    bytes_to_human(eh, sizeof eh, evm);
    bytes_to_human(th, sizeof th, evm + fvm);
    bytes_to_human(sh, sizeof sh, sbytes + fbytes);
    buf_printf(o, "used_memory_lua:%zu\r\nused_memory_vm_eval:%zu\r\nused_memory_lua_human:%s\r\n"
                  "used_memory_scripts_eval:%zu\r\nnumber_of_cached_scripts:%zu\r\nnumber_of_functions:%zu\r\n"
                  "number_of_libraries:%zu\r\nused_memory_vm_functions:%zu\r\nused_memory_vm_total:%zu\r\n"
                  "used_memory_vm_total_human:%s\r\nused_memory_functions:%zu\r\nused_memory_scripts:%zu\r\n"
                  "used_memory_scripts_human:%s\r\n",
               evm, evm, eh, sbytes, nscripts, nfn, nlib, fvm, evm + fvm, th, fbytes, sbytes + fbytes, sh);
}

static int section_wanted(client *c, buf *o, const char *name, int dflt)
{
    int want = c->argc < 2 ? dflt : 0;
    for (int i = 1; i < c->argc && !want; i++)
        want = ARG_IS(c, i, name) || ARG_IS(c, i, "all") || ARG_IS(c, i, "everything") ||
               (ARG_IS(c, i, "default") && dflt);
    if (want && o->len) buf_append(o, "\r\n", 2);
    return want;
}

static void info_command(client *c)
{
    buf o;
    buf_init(&o);
    uint64_t now = now_ms();
    if (section_wanted(c, &o, "server", 1)) {
        struct utsname u;
        uname(&u);
        char exe[512];
        ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[el > 0 ? el : 0] = '\0';
        /* Redis's fields in Redis's order, where Strata has a true value;
         * strata_version and data_dir are Strata's own. */
        buf_printf(&o, "# Server\r\nredis_version:%s\r\nstrata_version:%s\r\nredis_mode:standalone\r\n"
                       "os:%s %s %s\r\narch_bits:%d\r\nmonotonic_clock:POSIX clock_gettime\r\n"
                       "multiplexing_api:%s\r\natomicvar_api:c11-builtin\r\ngcc_version:%d.%d.%d\r\n"
                       "process_id:%d\r\nprocess_supervised:no\r\nrun_id:%s\r\ntcp_port:%lld\r\n"
                       "server_time_usec:%llu\r\nuptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\nhz:%lld\r\n"
                       "configured_hz:%lld\r\nexecutable:%s\r\nconfig_file:%s\r\nio_threads_active:0\r\n"
                       "data_dir:%s\r\n",
                   COMPAT_REDIS_VERSION, STRATA_VERSION, u.sysname, u.release, u.machine,
                   (int)(sizeof(void *) * 8), event_base_get_method(srv.base),
#ifdef __GNUC__
                   __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                   0, 0, 0,
#endif
                   (int)getpid(), srv.run_id, srv.cfg.port, (unsigned long long)now_us(),
                   (unsigned long long)((now - srv.start_ms) / 1000),
                   (unsigned long long)((now - srv.start_ms) / 86400000), srv.cfg.hz, srv.cfg.hz, exe,
                   srv.config_path ? srv.config_path : "", srv.cfg.dir);
    }
    if (section_wanted(c, &o, "clients", 1)) {
        unsigned long blocked = 0;
        size_t max_in = 0, max_out = 0;
        for (client *x = srv.clients; x; x = x->next) {
            blocked += !!(x->flags & CLIENT_BLOCKED);
            if (x->qbuf.len > max_in) max_in = x->qbuf.len;
            if (x->out.len - x->out_sent > max_out) max_out = x->out.len - x->out_sent;
        }
        /* client_recent_max_*: the largest input and unsent output held
         * by a client now (Redis keeps the peak of the last seconds) */
        buf_printf(&o, "# Clients\r\nconnected_clients:%lu\r\ncluster_connections:0\r\nmaxclients:%lld\r\n"
                       "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\n"
                       "blocked_clients:%lu\r\n",
                   srv.nclients, srv.cfg.maxclients, max_in, max_out, blocked);
    }
    if (section_wanted(c, &o, "memory", 1)) {
        long long rss = proc_rss_bytes();
        char *mem = store_property(srv.st, "leveldb.approximate-memory-usage");
        /* maxmemory and its policy as CONFIG SET left them: nothing is
         * evicted (rconfig.c) */
        buf policy;
        buf_init(&policy);
        rconf_get(rconf_find("maxmemory-policy", 16), &policy);
        buf_printf(&o, "# Memory\r\nused_memory:%lld\r\nused_memory_rss:%lld\r\nused_memory_peak:%lld\r\n"
                       "maxmemory:%llu\r\nmaxmemory_policy:%.*s\r\nmem_allocator:libc\r\nleveldb_block_cache:%lld\r\n"
                       "leveldb_write_buffer:%lld\r\nleveldb_memory_usage:%s\r\npending_write_bytes:%zu\r\n",
                   rss, rss, peak_rss_bytes(), (unsigned long long)rconf_num("maxmemory"), (int)policy.len,
                   policy.data ? policy.data : "", srv.cfg.block_cache, srv.cfg.write_buffer, mem ? mem : "0",
                   store_pending_bytes(srv.st));
        buf_free(&policy);
        free(mem);
        info_lua_memory(&o);
    }
    if (section_wanted(c, &o, "persistence", 1)) {
        const struct store_stats *ss = store_get_stats(srv.st);
        uint64_t disk = store_approx_size(srv.st, "", 0, "\xff\xff\xff\xff", 4);
        buf_printf(&o, "# Persistence\r\nloading:0\r\nstorage_engine:leveldb\r\nfsync:%s\r\n"
                       "rdb_changes_since_last_save:%llu\r\nrdb_last_save_time:%llu\r\naof_enabled:0\r\n"
                       "storage_commits:%llu\r\nstorage_syncs:%llu\r\nstorage_write_errors:%llu\r\n"
                       "storage_bytes_written:%llu\r\nstorage_disk_bytes:%llu\r\n"
                       "storage_level0_files:%u\r\n"
                       "gc_pending_collections:%llu\r\nmeta_cache_hits:%llu\r\nmeta_cache_misses:%llu\r\n",
                   srv.cfg.fsync == FSYNC_ALWAYS ? "always" : srv.cfg.fsync == FSYNC_EVERYSEC ? "everysec" : "no",
                   srv.dirty - srv.dirty_at_save, (unsigned long long)(srv.last_save_ms / 1000),
                   ss->commits, ss->syncs, ss->commit_errors, ss->bytes_written,
                   (unsigned long long)disk, store_level0_files(srv.st), db_gc_pending(),
                   ss->meta_cache_hits, ss->meta_cache_misses);
    }
    if (section_wanted(c, &o, "stats", 1)) {
        buf_printf(&o, "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                       "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
                       "rejected_connections:%llu\r\nexpired_keys:%llu\r\nevicted_keys:0\r\n"
                       "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\ntotal_error_replies:%llu\r\n",
                   srv.stats.connections, srv.stats.commands, srv.stats.net_in, srv.stats.net_out,
                   srv.stats.rejected, srv.stats.expired_keys, srv.stats.keyspace_hits,
                   srv.stats.keyspace_misses, cmdstats_total_errors());
    }
    if (section_wanted(c, &o, "replication", 1)) {
        if (srv.info_replication) {
            srv.info_replication(&o);
            /* repl.c ends its section with an empty line: the separator
             * is added here */
            if (o.len >= 4 && !memcmp(o.data + o.len - 4, "\r\n\r\n", 4)) o.len -= 2;
        } else buf_printf(&o, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
    }
    if (section_wanted(c, &o, "cpu", 1)) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        buf_printf(&o, "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n",
                   (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
                   (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    }
    if (section_wanted(c, &o, "modules", 1)) buf_printf(&o, "# Modules\r\n");
    if (section_wanted(c, &o, "commandstats", 0)) cmdstats_info_commands(&o);
    if (section_wanted(c, &o, "errorstats", 1)) cmdstats_info_errors(&o);
    if (section_wanted(c, &o, "latencystats", 0)) cmdstats_info_latency(&o);
    if (section_wanted(c, &o, "cluster", 1)) buf_printf(&o, "# Cluster\r\ncluster_enabled:0\r\n");
    if (section_wanted(c, &o, "keyspace", 1)) {
        buf_printf(&o, "# Keyspace\r\n");
        unsigned long long keys = cluster_key_count(); /* as DBSIZE: owned slots only */
        if (keys) buf_printf(&o, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", keys, db_expire_count());
    }
    /* Strata's own section (slot migration, migrate.h): only when named,
     * so "all" and "everything" list Redis's sections alone. */
    for (int i = 1; i < c->argc; i++)
        if (ARG_IS(c, i, "migration")) {
            if (o.len) buf_append(&o, "\r\n", 2);
            migrate_info(&o);
            break;
        }
    resp_add_verbatim(&c->out, c->resp, o.data ? o.data : "", o.len);
    buf_free(&o);
}

/* ---------------- CONFIG ---------------- */

/* A parameter named in CONFIG GET/SET: one of strata-node's settings
 * (config.c) or a Redis-only one (rconfig.c). */
struct config_ref {
    const struct conf_field *field;
    const struct rconf_param *rparam;
    const char *used;             /* rparam: the name used (primary or alias) */
};

static void config_name(const char *n, char *out, size_t size)
{
    size_t i = 0;
    for (; n[i] && i + 1 < size; i++) out[i] = n[i] == '_' ? '-' : n[i];
    out[i] = '\0';
}

static int config_lookup(const char *name, size_t len, struct config_ref *ref)
{
    char tmp[128];
    ref->field = NULL;
    ref->rparam = rconf_find(name, len);
    if (ref->rparam) {
        ref->used = rconf_name_used(ref->rparam, name, len);
        return 1;
    }
    if (len >= sizeof tmp || memchr(name, '\0', len)) return 0;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    ref->field = conf_find(node_config_fields, tmp);
    return ref->field != NULL;
}

static int config_same(const struct config_ref *a, const struct config_ref *b)
{
    return a->field == b->field && a->rparam == b->rparam && (!a->rparam || a->used == b->used);
}

static void config_value(const struct config_ref *ref, buf *out)
{
    if (ref->rparam) rconf_get(ref->rparam, out);
    else conf_get(node_config_fields, &srv.cfg, ref->field->name, out);
}

/* CONFIG GET pattern...: Redis 7.0's rules.  A name without glob
 * characters is looked up (any case, aliases too) and answered under the
 * name as given; a pattern matches every name, primary and alias, and
 * answers each matching name.  A parameter is answered once per name. */
struct config_match {
    char name[128];
    struct config_ref ref;
};

static void config_get(client *c)
{
    struct config_match *m = NULL;
    size_t n = 0, cap = 0;
    for (int j = 2; j < c->argc; j++) {
        const char *pat = c->argv[j];
        size_t plen = c->argvlen[j];
        int glob = memchr(pat, '*', plen) || memchr(pat, '?', plen) || memchr(pat, '[', plen);
        for (int k = 0;; k++) {
            const char *name;
            struct config_ref ref = { NULL, NULL, NULL };
            char dashed[128];
            if (!glob) {
                if (k > 0 || plen >= sizeof dashed || !config_lookup(pat, plen, &ref)) break;
                memcpy(dashed, pat, plen);
                dashed[plen] = '\0';
                name = dashed;
            } else {
                const struct rconf_param *rp;
                name = rconf_nth_name(k, &rp);
                if (!name) break;
                ref.rparam = rp;
                ref.used = name;
                if (!glob_match(pat, plen, name, strlen(name), 1)) continue;
            }
            int dup = 0;
            for (size_t i = 0; i < n && !dup; i++)
                dup = !strcasecmp(m[i].name, name);
            if (dup) continue;
            if (n == cap) m = xrealloc(m, (cap = cap ? cap * 2 : 16) * sizeof *m);
            snprintf(m[n].name, sizeof m[n].name, "%s", name);
            m[n].ref = ref;
            n++;
        }
        if (!glob) continue;
        for (const struct conf_field *f = node_config_fields; f->name; f++) {
            char dashed[128];
            config_name(f->name, dashed, sizeof dashed);
            if (!glob_match(pat, plen, dashed, strlen(dashed), 1) && !glob_match(pat, plen, f->name, strlen(f->name), 1))
                continue;
            int dup = 0;
            /* (a Redis name answered by rconfig, protected-mode, shadows
             * the node setting of the same name) */
            for (size_t i = 0; i < n && !dup; i++) dup = m[i].ref.field == f || !strcasecmp(m[i].name, dashed);
            if (dup) continue;
            if (n == cap) m = xrealloc(m, (cap = cap ? cap * 2 : 16) * sizeof *m);
            snprintf(m[n].name, sizeof m[n].name, "%s", dashed);
            m[n].ref.field = f;
            m[n].ref.rparam = NULL;
            m[n].ref.used = NULL;
            n++;
        }
    }
    resp_add_map(&c->out, c->resp, (long long)n);
    for (size_t i = 0; i < n; i++) {
        buf val;
        buf_init(&val);
        config_value(&m[i].ref, &val);
        resp_add_bulk_str(&c->out, m[i].name);
        resp_add_bulk(&c->out, val.data ? val.data : "", val.len);
        buf_free(&val);
    }
    free(m);
}

/* The reason a value of one of strata-node's settings was refused, in
 * the words Redis uses for a parameter of the same type (with Strata's
 * bounds); conf.c's own message (`errs`) for the other types. */
static void config_value_error(const struct conf_field *f, const char *value, const buf *errs, buf *why)
{
    long long ll;
    switch (f->type) {
    case CONF_INT:
        if (str2ll(value, strlen(value), &ll) < 0) buf_printf(why, "argument couldn't be parsed into an integer");
        else buf_printf(why, "argument must be between %lld and %lld inclusive", f->min, f->max);
        return;
    case CONF_SIZE:
        /* conf.c says "out of range" for a size that parsed */
        if (errs->data && memmem(errs->data, errs->len, "out of range", 12))
            buf_printf(why, "argument must be between %lld and %lld inclusive", f->min, f->max);
        else buf_printf(why, "argument must be a memory value");
        return;
    case CONF_BOOL: buf_printf(why, "argument must be 'yes' or 'no'"); return;
    case CONF_ENUM:
        buf_printf(why, "argument(s) must be one of the following: ");
        for (int i = 0; f->enum_names[i]; i++) buf_printf(why, "%s%s", i ? ", " : "", f->enum_names[i]);
        return;
    default: buf_append(why, errs->data ? errs->data : "", errs->len); return;
    }
}

/* CONFIG SET name value [name value ...]: all or nothing, checked in
 * Redis 7.0's order.  First every name, in order: the first unknown,
 * immutable or repeated name fails the whole command and is the one
 * named.  Then every value is checked before any is applied, so a
 * bad value leaves every parameter as it was. */
static void config_set(client *c)
{
    if (c->argc % 2) { /* a name without a value */
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    int npairs = (c->argc - 2) / 2;
    struct config_ref *refs = xmalloc((size_t)npairs * sizeof *refs);
    buf *canon = xmalloc((size_t)npairs * sizeof *canon);
    for (int i = 0; i < npairs; i++) buf_init(&canon[i]);
    int unknown = -1, bad = -1;
    const char *errstr = NULL;
    for (int i = 0; i < npairs; i++) {
        int j = 2 + 2 * i;
        if (!config_lookup(ARG(c, j), &refs[i])) {
            if (unknown < 0 && bad < 0) unknown = j;
            continue;
        }
        if (unknown >= 0 || bad >= 0) continue;
        if ((refs[i].rparam && rconf_immutable(refs[i].rparam)) || (refs[i].field && !refs[i].field->runtime)) {
            errstr = "can't set immutable config";
            bad = j;
            continue;
        }
        if (refs[i].rparam && rconf_protected(refs[i].rparam)) {
            errstr = "can't set protected config";
            bad = j;
            continue;
        }
        for (int k = 0; k < i; k++)
            if (config_same(&refs[k], &refs[i])) {
                errstr = "duplicate parameter";
                bad = j;
                break;
            }
    }
    if (unknown >= 0) {
        resp_add_errorf(&c->out, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                        (int)c->argvlen[unknown], c->argv[unknown]);
        goto out;
    }
    if (bad >= 0) {
        resp_add_errorf(&c->out, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                        (int)c->argvlen[bad], c->argv[bad], errstr);
        goto out;
    }
    for (int i = 0; i < npairs; i++) {
        const char *v = c->argv[3 + 2 * i];
        size_t vlen = c->argvlen[3 + 2 * i];
        char dashed[128];
        if (refs[i].rparam) {
            if (rconf_check(refs[i].rparam, v, vlen, &canon[i], &errstr) == 0) continue;
            resp_add_errorf(&c->out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                            refs[i].used, errstr);
            goto out;
        }
        /* strata-node's own setting: checked on a scratch struct, then
         * kept as text for the apply pass. */
        struct node_config scratch;
        memset(&scratch, 0, sizeof scratch);
        buf errs;
        buf_init(&errs);
        char *value;
        /* Redis's log levels verbose and notice are Strata's debug and info */
        if (!strcmp(refs[i].field->name, "loglevel") && str_eq_nocase(v, vlen, "verbose")) value = xstrdup("debug");
        else if (!strcmp(refs[i].field->name, "loglevel") && str_eq_nocase(v, vlen, "notice")) value = xstrdup("info");
        else value = xmemdup(v, vlen);
        int r = memchr(v, '\0', vlen) ? -1 : conf_set(node_config_fields, &scratch, refs[i].field->name, value, NULL, &errs);
        conf_free(node_config_fields, &scratch);
        if (r == 0 && node_config_check(refs[i].field->name, value, &errs) < 0) r = -1;
        if (r < 0) {
            config_name(refs[i].field->name, dashed, sizeof dashed);
            while (errs.len && errs.data[errs.len - 1] == '\n') errs.len--;
            buf why;
            buf_init(&why);
            config_value_error(refs[i].field, value, &errs, &why);
            resp_add_errorf(&c->out, "ERR CONFIG SET failed (possibly related to argument '%s') - %.*s", dashed,
                            (int)why.len, why.data ? why.data : "");
            buf_free(&why);
            buf_free(&errs);
            free(value);
            goto out;
        }
        buf_free(&errs);
        buf_append(&canon[i], value, strlen(value));
        free(value);
    }
    for (int i = 0; i < npairs; i++) {
        if (refs[i].rparam) {
            rconf_apply(refs[i].rparam, canon[i].data ? canon[i].data : "", canon[i].len);
            continue;
        }
        buf_append_char(&canon[i], '\0');
        conf_set(node_config_fields, &srv.cfg, refs[i].field->name, canon[i].data, NULL, NULL);
        node_config_applied(refs[i].field->name);
    }
    resp_add_ok(&c->out);
out:
    for (int i = 0; i < npairs; i++) buf_free(&canon[i]);
    free(canon);
    free(refs);
}

static void config_help(client *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    resp_add_array(&c->out, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) resp_add_simple(&c->out, lines[i]);
}

static void config_command(client *c)
{
    /* Unknown subcommands and wrong arities (CONFIG HELP x, CONFIG GET)
     * get Redis's errors before any subcommand runs. */
    if (subcmd_check(&c->out, "config", ARG(c, 1), c->argc) < 0) return;
    if (ARG_IS(c, 1, "get")) {
        config_get(c);
    } else if (ARG_IS(c, 1, "set")) {
        config_set(c);
    } else if (ARG_IS(c, 1, "resetstat")) {
        server_reset_stats();
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 1, "help")) {
        config_help(c);
    } else {
        /* REWRITE: the YAML file is the operators' to edit, never
         * rewritten by the node. */
        if (!srv.config_path) resp_add_error(&c->out, "ERR The server is running without a config file");
        else resp_add_error(&c->out, "ERR CONFIG REWRITE is not supported: edit the node's YAML file");
    }
}

/* ---------------- CLIENT ---------------- */

/* One line of CLIENT LIST / CLIENT INFO with Redis 7.0's fields in its
 * order.  Strata's buffers map onto Redis's fields as:
 *   qbuf / qbuf-free   unparsed input bytes / the rest of the input buffer
 *   argv-mem           bytes of the arguments of the command running now
 *   multi-mem          bytes held by the MULTI queue
 *   rbs / rbp          the output buffer's size / bytes in it
 *   obl / oll / omem   unsent reply bytes / 0 / 0 (one flat output buffer)
 *   tot-mem            the client structure plus its buffers
 * user is always "default" (no ACL users). */
void node_client_info_line(buf *o, client *x)
{
    uint64_t now = now_ms();
    char flags[24], *p = flags, events[3], *e = events;
    if (monitor_is(x)) *p++ = 'O';
    else if (x->flags & CLIENT_REPLICA) *p++ = 'S';
    if (x->flags & CLIENT_MASTER) *p++ = 'M';
    if (x->flags & CLIENT_PUBSUB) *p++ = 'P';
    if (x->flags & CLIENT_MULTI) *p++ = 'x';
    if (x->flags & CLIENT_BLOCKED) *p++ = 'b';
    for (const char *t = tracking_flags_string(x); *t; t++) *p++ = *t; /* t, R, B */
    if (x->flags & CLIENT_DIRTY_CAS) *p++ = 'd';
    if (x->flags & CLIENT_CLOSE_AFTER_REPLY) *p++ = 'c';
    if (x->flags & CLIENT_CLOSE_ASAP) *p++ = 'A';
    if (x->flags & CLIENT_NO_EVICT) *p++ = 'e';
    if (p == flags) *p++ = 'N';
    *p = '\0';
    if (x->rev && event_pending(x->rev, EV_READ, NULL)) *e++ = 'r';
    if (x->wev && event_pending(x->wev, EV_WRITE, NULL)) *e++ = 'w';
    *e = '\0';
    int nq = 0;
    size_t qbytes = 0;
    if (x->flags & CLIENT_MULTI) multi_queue_stats(x, &nq, &qbytes);
    size_t argv_mem = 0;
    if (x == srv.current)
        for (int j = 0; j < x->argc; j++) argv_mem += x->argvlen[j];
    char cmdname[96];
    if (!x->lastcmd) snprintf(cmdname, sizeof cmdname, "NULL");
    else if (x->lastsub) snprintf(cmdname, sizeof cmdname, "%s|%s", x->lastcmd->name, x->lastsub->name);
    else snprintf(cmdname, sizeof cmdname, "%s", x->lastcmd->name);
    size_t tot = sizeof *x + x->qbuf.cap + x->out.cap + argv_mem + qbytes;
    buf_printf(o, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=0 sub=%lu psub=%lu "
                  "ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=%zu rbp=%zu obl=%zu "
                  "oll=0 omem=0 tot-mem=%zu events=%s cmd=%s user=%s redir=%lld resp=%d\n",
               (unsigned long long)x->id, x->addr, x->laddr, x->fd, x->name ? x->name : "",
               (unsigned long long)((now - x->ctime_ms) / 1000), (unsigned long long)((now - x->last_ms) / 1000),
               flags, pubsub_client_channels(x), pubsub_client_patterns(x), (x->flags & CLIENT_MULTI) ? nq : -1,
               x->qbuf.len, x->qbuf.cap - x->qbuf.len, argv_mem, qbytes, x->out.cap, x->out.len,
               x->out.len - x->out_sent, tot, events, cmdname, node_acl_username(x), tracking_redirect_id(x), x->resp);
}

/* Redis's client types: 0 normal, 1 master, 2 replica, 3 pubsub; -1 if
 * `name` is none of them. */
static int client_type_by_name(const char *name, size_t len)
{
    static const char *const names[] = { "normal", "master", "replica", "slave", "pubsub" };
    static const int types[] = { 0, 1, 2, 2, 3 };
    for (int i = 0; i < 5; i++)
        if (str_eq_nocase(name, len, names[i])) return types[i];
    return -1;
}

static int client_type(const client *x)
{
    return (x->flags & CLIENT_MASTER) ? 1 : (x->flags & CLIENT_REPLICA) ? 2 : (x->flags & CLIENT_PUBSUB) ? 3 : 0;
}

/* CLIENT LIST [TYPE normal|master|replica|slave|pubsub] [ID id ...]
 * (Redis 7.0: one filter at most), oldest connection first. */
static void client_list(client *c)
{
    int type = -1; /* 0 normal, 1 master, 2 replica, 3 pubsub */
    buf o;
    buf_init(&o);
    if (c->argc == 4 && ARG_IS(c, 2, "type")) {
        type = client_type_by_name(ARG(c, 3));
        if (type < 0) {
            resp_add_errorf(&c->out, "ERR Unknown client type '%.*s'", (int)c->argvlen[3], c->argv[3]);
            return;
        }
    } else if (c->argc > 3 && ARG_IS(c, 2, "id")) {
        for (int j = 3; j < c->argc; j++) {
            long long id;
            if (str2ll(ARG(c, j), &id) < 0) {
                resp_add_error(&c->out, "ERR Invalid client ID");
                buf_free(&o);
                return;
            }
            client *x = id > 0 ? server_client_by_id((uint64_t)id) : NULL;
            if (x && x->fd >= 0) node_client_info_line(&o, x);
        }
        resp_add_verbatim(&c->out, c->resp, o.data ? o.data : "", o.len);
        buf_free(&o);
        return;
    } else if (c->argc != 2) {
        resp_add_error(&c->out, resp_err_syntax);
        return;
    }
    client *last = srv.clients;
    while (last && last->next) last = last->next;
    for (client *x = last; x; x = x->prev) {
        if (x->fd < 0) continue;
        if (type >= 0 && client_type(x) != type) continue;
        node_client_info_line(&o, x);
    }
    resp_add_verbatim(&c->out, c->resp, o.data ? o.data : "", o.len);
    buf_free(&o);
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
    int done = x && x != c && block_unblock(x, error) == 0;
    if (done && error && x->lastcmd) {
        /* x's command failed with -UNBLOCKED: counted as Redis counts it */
        static const char unblocked[] = "-UNBLOCKED client unblocked via CLIENT UNBLOCK";
        cmdstats_error(unblocked, sizeof unblocked - 1);
        cmdstats_failed(cmdstats_get(x->lastcmd, x->lastsub));
    }
    resp_add_int(&c->out, done);
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
        /* Nothing is ever evicted from a node (data lives on disk); the
         * flag is kept for CLIENT LIST ('e'). */
        if (ARG_IS(c, 2, "on")) c->flags |= CLIENT_NO_EVICT;
        else if (ARG_IS(c, 2, "off")) c->flags &= ~CLIENT_NO_EVICT;
        else {
            resp_add_error(&c->out, resp_err_syntax);
            break;
        }
        resp_add_ok(&c->out);
        break;
    }
    return 1;
}

/* CLIENT KILL addr (the old form: "OK" or "No such client"), or CLIENT
 * KILL <filter> <value> ... with Redis 7.0's filters ID, TYPE, ADDR,
 * LADDR, USER (only "default" exists) and SKIPME (yes by default: the
 * caller is spared), replying how many were killed. */
static void client_kill(client *c)
{
    const char *addr = NULL, *laddr = NULL;
    size_t addrlen = 0, laddrlen = 0;
    long long id = 0;
    int type = -1, skipme = 1;
    if (c->argc == 3) {
        addr = c->argv[2];
        addrlen = c->argvlen[2];
        skipme = 0;
    } else {
        for (int i = 2; i < c->argc; i += 2) {
            if (i + 1 >= c->argc) {
                resp_add_error(&c->out, resp_err_syntax);
                return;
            }
            if (ARG_IS(c, i, "id")) {
                if (str2ll(ARG(c, i + 1), &id) < 0 || id < 1) {
                    resp_add_error(&c->out, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (ARG_IS(c, i, "type")) {
                type = client_type_by_name(ARG(c, i + 1));
                if (type < 0) {
                    resp_add_errorf(&c->out, "ERR Unknown client type '%.*s'", (int)c->argvlen[i + 1], c->argv[i + 1]);
                    return;
                }
            } else if (ARG_IS(c, i, "addr")) {
                addr = c->argv[i + 1];
                addrlen = c->argvlen[i + 1];
            } else if (ARG_IS(c, i, "laddr")) {
                laddr = c->argv[i + 1];
                laddrlen = c->argvlen[i + 1];
            } else if (ARG_IS(c, i, "user")) {
                if (!(c->argvlen[i + 1] == 7 && !memcmp(c->argv[i + 1], "default", 7))) {
                    resp_add_errorf(&c->out, "ERR No such user '%.*s'", (int)c->argvlen[i + 1], c->argv[i + 1]);
                    return;
                }
            } else if (ARG_IS(c, i, "skipme")) {
                if (ARG_IS(c, i + 1, "yes")) skipme = 1;
                else if (ARG_IS(c, i + 1, "no")) skipme = 0;
                else {
                    resp_add_error(&c->out, resp_err_syntax);
                    return;
                }
            } else {
                resp_add_error(&c->out, resp_err_syntax);
                return;
            }
        }
    }
    long long killed = 0;
    for (client *x = srv.clients; x; x = x->next) {
        if (x->fd < 0 || (x->flags & CLIENT_CLOSE_ASAP)) continue;
        if (addr && !(strlen(x->addr) == addrlen && !memcmp(x->addr, addr, addrlen))) continue;
        if (laddr && !(strlen(x->laddr) == laddrlen && !memcmp(x->laddr, laddr, laddrlen))) continue;
        if (type >= 0 && client_type(x) != type) continue;
        if (id && (long long)x->id != id) continue;
        if (x == c && skipme) continue;
        if (x == c) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else client_close(x);
        killed++;
    }
    if (c->argc == 3) {
        if (killed) resp_add_ok(&c->out);
        else resp_add_error(&c->out, "ERR No such client");
    } else {
        resp_add_int(&c->out, killed);
    }
}

/* Redis 7.0's text (TRACKING and its kin are tracking.c's). */
static void client_help(client *c)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    };
    resp_add_array(&c->out, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) resp_add_simple(&c->out, lines[i]);
}

static void client_command(client *c)
{
    if (client_control(c) || tracking_client_command(c)) return;
    if (ARG_IS(c, 1, "id") && c->argc == 2) {
        resp_add_int(&c->out, (long long)c->id);
    } else if (ARG_IS(c, 1, "help") && c->argc == 2) {
        client_help(c);
    } else if (ARG_IS(c, 1, "getname") && c->argc == 2) {
        if (c->name) resp_add_bulk_str(&c->out, c->name);
        else resp_add_null(&c->out, c->resp);
    } else if (ARG_IS(c, 1, "setname") && c->argc == 3) {
        if (client_set_name(c, ARG(c, 2)) == 0) resp_add_ok(&c->out);
    } else if (ARG_IS(c, 1, "list")) {
        client_list(c);
    } else if (ARG_IS(c, 1, "info") && c->argc == 2) {
        buf o;
        buf_init(&o);
        node_client_info_line(&o, c);
        resp_add_verbatim(&c->out, c->resp, o.data, o.len);
        buf_free(&o);
    } else if (ARG_IS(c, 1, "kill") && c->argc >= 3) {
        client_kill(c);
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
