/* eval: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT for strata-node, as
 * Redis 7.0 has them, and the dispatcher filter of busy scripts.
 *
 * Script cache: per process, not persisted, not replicated (7.0).  Each
 * body is compiled once into the EVAL lua_State and kept there under a
 * registry reference; a table here maps its sha (lowercase hex) to that
 * reference and its shebang flags, so an EVALSHA finds its chunk without
 * interning strings in Lua.  SCRIPT FLUSH empties it and makes a new state.
 *
 * One commit per script: the inner commands run through server_call on
 * the script client (CLIENT_IN_EXEC: the WAL and the WATCH hooks skip
 * them, nothing is committed in between), so when the EVAL's own
 * server_call ends, its write hooks see store_ops(mark) = every write of
 * the script: ONE LevelDB write and ONE replication record, as an EXEC.
 * A runtime error keeps the writes made before it (CLIENT_KEEP_WRITES:
 * Redis never rolls a script back); SHUTDOWN NOSAVE during a busy script
 * drops them (the script never finished, nobody was told anything). */
#include "eval.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "monitor.h"
#include "script_lua.h"
#include "sha1.h"
#include "slot.h"
#include "subcmd.h"
#include "util.h"

static lua_State *evalL;

static const char ERR_NOSCRIPT[] = "NOSCRIPT No matching script. Please use EVAL.";

/* sha -> chunk: open addressing on the sha's first hex digits (uniform). */
struct cached_script {
    char sha[SHA1_HEX_LEN];
    int ref;        /* luaL_ref in evalL's registry; 0: free slot */
    int flags;
};
static struct cached_script *cache;
static size_t cache_cap, cache_n, cache_bytes;

static size_t cache_slot(const char *sha)
{
    size_t h = 0;
    for (int i = 0; i < 15; i++) h = h * 16 + (size_t)(sha[i] <= '9' ? sha[i] - '0' : sha[i] - 'a' + 10);
    return h & (cache_cap - 1);
}

static struct cached_script *cache_find(const char *sha)
{
    if (!cache_n) return NULL;
    for (size_t i = cache_slot(sha);; i = (i + 1) & (cache_cap - 1)) {
        if (!cache[i].ref) return NULL;
        if (!memcmp(cache[i].sha, sha, SHA1_HEX_LEN)) return &cache[i];
    }
}

static void cache_insert(const struct cached_script *e)
{
    if ((cache_n + 1) * 2 > cache_cap) {
        struct cached_script *old = cache;
        size_t oldcap = cache_cap;
        cache_cap = cache_cap ? cache_cap * 2 : 64;
        cache = xcalloc(cache_cap, sizeof *cache);
        cache_n = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].ref) cache_insert(&old[i]);
        free(old);
    }
    size_t i = cache_slot(e->sha);
    while (cache[i].ref) i = (i + 1) & (cache_cap - 1);
    cache[i] = *e;
    cache_n++;
}

static void cache_clear(void)
{
    free(cache);
    cache = NULL;
    cache_cap = cache_n = cache_bytes = 0;
}

static lua_State *eval_state(void)
{
    if (!evalL) evalL = script_lua_new(0);
    return evalL;
}

/* Push the chunk of `sha` (40 lowercase hex) and return its flags, or
 * return -1 with nothing pushed. */
static int script_find(lua_State *L, const char *sha)
{
    const struct cached_script *e = cache_find(sha);
    if (!e) return -1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref);
    return e->flags;
}

/* Compile body into the cache.  Returns its flags and pushes the chunk, or
 * returns -1 with the error written to out. */
static int script_compile(lua_State *L, const char *body, size_t len, const char *sha, buf *out)
{
    int flags;
    size_t skip;
    char err[256];
    if (script_shebang(body, len, 0, &flags, &skip, NULL, 0, err, sizeof err) < 0) {
        resp_add_errorf(out, "ERR %s", err);
        return -1;
    }
    if (len - skip > 0 && body[skip] == LUA_SIGNATURE[0]) {
        resp_add_error(out, "ERR Error compiling script (new function): user_script: "
                            "cannot load incompatible bytecode");
        return -1;
    }
    if (luaL_loadbuffer(L, body + skip, len - skip, "@user_script") != 0) {
        const char *m = lua_tostring(L, -1);
        buf e;
        buf_init(&e);
        buf_printf(&e, "ERR Error compiling script (new function): %s", m ? m : "?");
        script_sanitize(e.data, e.len);
        buf_append_char(&e, '\0');
        resp_add_error(out, e.data);
        buf_free(&e);
        lua_pop(L, 1);
        return -1;
    }
    script_lua_push_env(L);
    lua_setfenv(L, -2);
    struct cached_script e;
    memcpy(e.sha, sha, SHA1_HEX_LEN);
    lua_pushvalue(L, -1);
    e.ref = luaL_ref(L, LUA_REGISTRYINDEX); /* > 0: never LUA_NOREF/REFNIL for a function */
    e.flags = flags;
    cache_insert(&e);
    cache_bytes += len;
    return flags;
}

/* numkeys at argv[2]: 0 and *n, or -1 with the error written. */
int script_numkeys(client *c, long long *n, const char *notint)
{
    if (str2ll(c->argv[2], c->argvlen[2], n) < 0) {
        resp_add_error(&c->out, notint);
        return -1;
    }
    if (*n > c->argc - 3) {
        resp_add_error(&c->out, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    if (*n < 0) {
        resp_add_error(&c->out, "ERR Number of keys can't be negative");
        return -1;
    }
    return 0;
}

/* The checks Redis makes before a script with these flags runs
 * (scriptPrepareForRun).  Returns 0, or -1 with the error written. */
int script_prepare(client *c, int flags, int ro_cmd)
{
    if (!(flags & SF_COMPAT)) {
        if (ro_cmd && !(flags & SF_NO_WRITES)) {
            resp_add_error(&c->out, "ERR Can not execute a script with write flag using *_ro command.");
            return -1;
        }
        if (!(flags & SF_NO_WRITES) && srv.is_replica && !(c->flags & CLIENT_MASTER)) {
            resp_add_error(&c->out, "READONLY You can't write against a read only replica.");
            return -1;
        }
    }
    return 0;
}

/* KEYS and ARGV of the EVAL state, kept from one run to the next.  No
 * script can keep a reference to them past its run (globals are
 * readonly, library tables are proxies, there is no getfenv), so reusing
 * them is invisible, provided what a run changed is undone: the entries
 * are rewritten and those past the new length cleared, and a table given
 * a metatable or keys beyond its array is replaced by a new one. */
struct arg_table {
    int ref;   /* registry reference, 0 before the first run */
    int len;   /* entries this side wrote last time */
};
static struct arg_table keys_table, argv_table;

/* Set the KEYS or ARGV global to argv[from .. from+n). */
static void set_array_global(lua_State *L, client *c, int from, int n, const char *name,
                             struct arg_table *t)
{
    if (t->ref) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
        if (!lua_getmetatable(L, -1)) {
            script_lua_fill_array(L, c->argv + from, c->argvlen + from, n);
            for (int i = n; i < t->len; i++) {
                lua_pushnil(L);
                lua_rawseti(L, -2, i + 1);
            }
            if (n) lua_pushinteger(L, n);
            else lua_pushnil(L);
            if (!lua_next(L, -2)) { /* nothing after entry n: clean */
                lua_pop(L, 1);
                t->len = n;
                return;
            }
            lua_pop(L, 2);
        } else {
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    }
    lua_createtable(L, n, 0);
    script_lua_fill_array(L, c->argv + from, c->argvlen + from, n);
    lua_pushvalue(L, -1);
    lua_setglobal(L, name);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->len = n;
}

/* Run the chunk on top of the stack for c; the script's frozen time and
 * kept writes are set up here. */
void script_execute(client *c, lua_State *L, struct script_run *r, int nargs)
{
    size_t mark = store_mark(srv.st);
    uint64_t saved = srv.script_time_ms;
    srv.script_time_ms = now_ms();
    r->caller = c;
    monitor_feed(c); /* before the commands it runs, as Redis shows it */
    script_lua_run(L, r, nargs);
    srv.script_time_ms = saved;
    if (r->killed == 2) {
        /* SHUTDOWN NOSAVE: the half-done script is not committed. */
        store_rollback(srv.st, mark);
    } else {
        c->flags |= CLIENT_KEEP_WRITES;
    }
}

static void eval_generic(client *c, int by_sha, int ro_cmd)
{
    long long numkeys;
    if (script_numkeys(c, &numkeys, "ERR value is not an integer or out of range") < 0) return;
    lua_State *L = eval_state();
    char sha[SHA1_HEX_LEN + 1];
    int flags;
    if (by_sha) {
        if (c->argvlen[1] != SHA1_HEX_LEN) {
            resp_add_error(&c->out, ERR_NOSCRIPT);
            return;
        }
        for (int i = 0; i < SHA1_HEX_LEN; i++) sha[i] = (char)tolower((unsigned char)c->argv[1][i]);
        sha[SHA1_HEX_LEN] = '\0';
        flags = script_find(L, sha);
        if (flags < 0) {
            resp_add_error(&c->out, ERR_NOSCRIPT);
            return;
        }
    } else {
        sha1_hex(c->argv[1], c->argvlen[1], sha);
        flags = script_find(L, sha);
        if (flags < 0) flags = script_compile(L, c->argv[1], c->argvlen[1], sha, &c->out);
        if (flags < 0) return;
    }
    if (script_prepare(c, flags, ro_cmd) < 0) {
        lua_pop(L, 1);
        return;
    }
    set_array_global(L, c, 3, (int)numkeys, "KEYS", &keys_table);
    set_array_global(L, c, 3 + (int)numkeys, c->argc - 3 - (int)numkeys, "ARGV", &argv_table);
    struct script_run r;
    memset(&r, 0, sizeof r);
    r.name = sha;
    r.ro = ro_cmd || (flags & SF_NO_WRITES);
    r.flags = flags;
    r.key_slot = numkeys > 0 ? (int)slot_of_key(c->argv[3], c->argvlen[3]) : -1;
    script_execute(c, L, &r, 0);
}

static void eval_command(client *c)
{
    eval_generic(c, 0, 0);
}

static void evalsha_command(client *c)
{
    eval_generic(c, 1, 0);
}

static void eval_ro_command(client *c)
{
    eval_generic(c, 0, 1);
}

static void evalsha_ro_command(client *c)
{
    eval_generic(c, 1, 1);
}

static const char *script_help[] = {
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
    NULL,
};

void script_add_help(client *c, const char **lines)
{
    int n = 0;
    while (lines[n]) n++;
    resp_add_array(&c->out, n);
    for (int i = 0; i < n; i++) resp_add_simple(&c->out, lines[i]);
}

/* SCRIPT KILL / FUNCTION KILL. */
void script_kill(client *c, int function)
{
    struct script_run *r = script_cur;
    if (!r) {
        resp_add_error(&c->out, "NOTBUSY No scripts in execution right now.");
        return;
    }
    if (r->is_function != function) {
        resp_add_errorf(&c->out, "BUSY Redis is busy running a script. You can only call %s or SHUTDOWN NOSAVE.",
                        r->is_function ? "FUNCTION KILL" : "SCRIPT KILL");
        return;
    }
    if (r->wrote) {
        resp_add_error(&c->out, "UNKILLABLE Sorry the script already executed write commands against the "
                                "dataset. You can either wait the script termination or kill the server in a "
                                "hard way using the SHUTDOWN NOSAVE command.");
        return;
    }
    r->killed = 1;
    resp_add_ok(&c->out);
}

static void script_command(client *c)
{
    if (ARG_IS(c, 1, "load")) {
        lua_State *L = eval_state();
        char sha[SHA1_HEX_LEN + 1];
        sha1_hex(c->argv[2], c->argvlen[2], sha);
        if (script_find(L, sha) < 0 && script_compile(L, c->argv[2], c->argvlen[2], sha, &c->out) < 0) return;
        lua_pop(L, 1);
        resp_add_bulk(&c->out, sha, SHA1_HEX_LEN);
    } else if (ARG_IS(c, 1, "exists")) {
        lua_State *L = eval_state();
        resp_add_array(&c->out, c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            char sha[SHA1_HEX_LEN + 1];
            int found = 0;
            if (c->argvlen[i] == SHA1_HEX_LEN) {
                for (int j = 0; j < SHA1_HEX_LEN; j++) sha[j] = (char)tolower((unsigned char)c->argv[i][j]);
                sha[SHA1_HEX_LEN] = '\0';
                if (script_find(L, sha) >= 0) {
                    lua_pop(L, 1);
                    found = 1;
                }
            }
            resp_add_int(&c->out, found);
        }
    } else if (ARG_IS(c, 1, "flush")) {
        if (c->argc > 3 || (c->argc == 3 && !ARG_IS(c, 2, "sync") && !ARG_IS(c, 2, "async"))) {
            resp_add_error(&c->out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
        if (evalL) script_lua_close(evalL);
        evalL = NULL;
        cache_clear();
        keys_table.ref = argv_table.ref = 0; /* their state is gone */
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 1, "kill")) {
        script_kill(c, 0);
    } else if (ARG_IS(c, 1, "debug")) {
        /* Redis's LDB forks a debugging session per script: strata-node
         * has none, so only "no" (the state it is always in) is accepted. */
        if (ARG_IS(c, 2, "no")) resp_add_ok(&c->out);
        else if (ARG_IS(c, 2, "yes") || ARG_IS(c, 2, "sync"))
            resp_add_error(&c->out, "ERR SCRIPT DEBUG is not supported by strata-node (no Lua debugger)");
        else resp_add_error(&c->out, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    } else if (ARG_IS(c, 1, "help")) {
        script_add_help(c, script_help);
    } else {
        subcmd_check(&c->out, "script", c->argv[1], c->argvlen[1], c->argc);
    }
}

/* While a script is busy every other command gets -BUSY, but for those
 * Redis flags allow-busy (and SHUTDOWN NOSAVE, SCRIPT/FUNCTION KILL). */
static int busy_filter(client *c)
{
    if (!script_is_busy()) return 0;
    enum cmd_id id = c->cmd->id;
    int fn = script_cur->is_function;
    int allowed = id == CMD_AUTH || id == CMD_HELLO || id == CMD_MULTI || id == CMD_DISCARD ||
                  id == CMD_WATCH || id == CMD_UNWATCH || id == CMD_RESET || id == CMD_QUIT ||
                  id == CMD_REPLCONF;
    if (id == CMD_SHUTDOWN)
        for (int i = 1; i < c->argc; i++)
            if (ARG_IS(c, i, "nosave")) allowed = 1;
    if (c->argc >= 2 && id == CMD_SCRIPT && !fn && ARG_IS(c, 1, "kill")) allowed = 1;
    if (c->argc >= 2 && id == CMD_FUNCTION && fn && (ARG_IS(c, 1, "kill") || ARG_IS(c, 1, "stats")))
        allowed = 1;
    if (allowed) return 0;
    resp_add_errorf(&c->out, "BUSY Redis is busy running a script. You can only call %s or SHUTDOWN NOSAVE.",
                    fn ? "FUNCTION KILL" : "SCRIPT KILL");
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    return 1;
}

void eval_info_memory(size_t *vm_bytes, size_t *nscripts, size_t *script_bytes)
{
    *vm_bytes = script_lua_heap_used(eval_state());
    *nscripts = cache_n;
    /* the bodies, and what each entry of the cache costs here */
    *script_bytes = cache_bytes + cache_n * sizeof(struct cached_script);
}

void eval_register(void)
{
    server_register(CMD_EVAL, eval_command);
    server_register(CMD_EVALSHA, evalsha_command);
    server_register(CMD_EVAL_RO, eval_ro_command);
    server_register(CMD_EVALSHA_RO, evalsha_ro_command);
    server_register(CMD_SCRIPT, script_command);
    server_add_dispatch_hook(busy_filter);
    function_register();
}
