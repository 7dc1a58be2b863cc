/* script_lua: the sandboxed Lua 5.1 environment of EVAL and functions,
 * with Redis 7.0's redis.* API, conversions and error texts.
 *
 * Environment (shared/research/scripting.md, sections 1.2 and 3):
 *   - base, table, string and math are opened one by one (never package,
 *     os or io); print, dofile, loadfile and, as Debian's redis-server
 *     7.0.15 does, getfenv, setfenv and newproxy are removed; debug is
 *     never reachable by scripts; cjson, bit, cmsgpack and struct are
 *     added, and rand48's math.random.
 *   - Global protection without Redis's patched Lua: scripts run with a
 *     proxy as their environment, an empty table whose __index reads the
 *     real globals (raising "Script attempted to access nonexistent global
 *     variable" for a missing one) and whose __newindex raises "Attempt
 *     to modify a readonly table".  Every library table is replaced by
 *     such a proxy as well (reads of missing fields give nil there), and
 *     rawset/setmetatable refuse protected tables, getmetatable shows
 *     what Redis shows, pairs/next see through a proxy.  Known difference:
 *     the order pairs() gives may differ from Redis's (stock Lua hashes
 *     long strings by samples; tables are built in another order).
 *   - loadstring refuses bytecode and gives the chunk the proxy as its
 *     environment; load is wrapped likewise.
 *
 * Heap cap: every lua_State allocates through heap_alloc, which refuses
 * to grow past SCRIPT_HEAP_CAP (256 MiB): a script building an endless
 * table then fails with Lua's "not enough memory" instead of growing the
 * node's RSS without bound (DESIGN.md: memory is bounded by configuration).
 * 256 MiB is far above what real scripts use (BullMQ's largest is a
 * 40 KB body working on a handful of values) and small enough for the
 * small machines a node runs on.  Recursion is capped by Lua itself
 * (LUAI_MAXCALLS, LUAI_MAXCCALLS): "stack overflow" errors.
 *
 * Inner calls (redis.call/pcall) run through server_call on one internal
 * script client flagged CLIENT_IN_EXEC, as EXEC runs its queue: nothing is
 * committed until the script ends (see eval.c for the one commit). */
#include "script_lua.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmdmeta.h"
#include "log.h"
#include "lua_cmsgpack.h"
#include "lua_struct.h"
#include "rand48.h"
#include "rconfig.h"
#include "sha1.h"
#include "slots.h"
#include "subcmd.h"
#include "util.h"

int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

struct script_run *script_cur;

static rand48 script_rand;        /* process-wide, as Redis's */
static int script_rand_ready;
static client *script_client;     /* runs the inner commands */

#define HOOK_COUNT 100000

/* ---------------- the heap ---------------- */

/* Small blocks are kept for reuse (the churn of a run: KEYS and ARGV,
 * argument strings, reply tables) in free lists by 16-byte class, up to
 * HEAP_KEEP bytes per state; every block is a malloc'd one of its class's
 * size, so any of them may also go back to free().  Lua gives the old
 * size of every block it frees or resizes, so no header is needed. */
#define HEAP_SMALL 256
#define HEAP_CLASSES (HEAP_SMALL / 16)
#define HEAP_KEEP (2u << 20)

struct lua_heap {
    size_t used, cap;
    void *free_list[HEAP_CLASSES];
    size_t kept;
};

static void *block_get(struct lua_heap *h, size_t n)
{
    if (n > HEAP_SMALL) return malloc(n);
    size_t k = (n - 1) >> 4;
    void *p = h->free_list[k];
    if (!p) return malloc((k + 1) << 4);
    h->free_list[k] = *(void **)p;
    h->kept -= (k + 1) << 4;
    return p;
}

static void block_put(struct lua_heap *h, void *p, size_t n)
{
    size_t k = (n - 1) >> 4;
    if (n > HEAP_SMALL || h->kept + ((k + 1) << 4) > HEAP_KEEP) {
        free(p);
        return;
    }
    *(void **)p = h->free_list[k];
    h->free_list[k] = p;
    h->kept += (k + 1) << 4;
}

static void heap_release(struct lua_heap *h)
{
    for (int k = 0; k < HEAP_CLASSES; k++)
        while (h->free_list[k]) {
            void *p = h->free_list[k];
            h->free_list[k] = *(void **)p;
            free(p);
        }
    h->kept = 0;
}

static void *heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lua_heap *h = ud;
    if (!ptr) osize = 0;
    if (nsize == 0) {
        if (ptr) block_put(h, ptr, osize);
        h->used -= osize;
        return NULL;
    }
    /* Only growth is refused: Lua assumes a shrink never fails. */
    if (nsize > osize && h->used - osize + nsize > h->cap) return NULL;
    void *p;
    if (!ptr) {
        p = block_get(h, nsize);
    } else if (osize > HEAP_SMALL && nsize > HEAP_SMALL) {
        p = realloc(ptr, nsize);
    } else if (osize <= HEAP_SMALL && nsize <= HEAP_SMALL && (osize - 1) >> 4 == (nsize - 1) >> 4) {
        p = ptr; /* the block's class holds the new size too */
    } else {
        p = block_get(h, nsize);
        if (p) {
            memcpy(p, ptr, osize < nsize ? osize : nsize);
            block_put(h, ptr, osize);
        }
    }
    if (!p) return NULL;
    h->used = h->used - osize + nsize;
    return p;
}

void script_lua_fill_array(lua_State *L, char **argv, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, argv[i], lens[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static char errh_key; /* registry key (its address) of the error handler */

void script_lua_push_errh(lua_State *L)
{
    lua_pushlightuserdata(L, &errh_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

size_t script_lua_heap_used(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud ? ((struct lua_heap *)ud)->used : 0;
}

/* ---------------- errors ---------------- */

/* Push Redis's error table {err="CODE msg"} built from `msg`:
 * "-CODE rest" keeps its code, anything else gets ERR (luaPushErrorBuff). */
static void push_error_table(lua_State *L, const char *msg)
{
    lua_createtable(L, 0, 1); /* sized: no rehash for its one field */
    if (msg[0] == '-') {
        const char *sp = strchr(msg, ' ');
        if (!sp) lua_pushfstring(L, "ERR %s", msg + 1);
        else lua_pushfstring(L, "%s", msg + 1);
    } else {
        lua_pushfstring(L, "ERR %s", msg);
    }
    lua_setfield(L, -2, "err");
}

static int raise_error(lua_State *L, const char *msg)
{
    push_error_table(L, msg);
    return lua_error(L);
}

void script_sanitize(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n') s[i] = ' ';
}

/* The message handler of every run: turns the error into a table
 * {err=..., source=..., line=...} naming where the script was. */
static int error_handler(lua_State *L)
{
    lua_Debug ar;
    int have = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar)) {
        have = 1;
        if (strcmp(ar.what, "C") == 0) have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
    }
    if (!lua_istable(L, 1)) {
        const char *s;
        char tmp[64];
        switch (lua_type(L, 1)) {
        case LUA_TSTRING:
        case LUA_TNUMBER: s = lua_tostring(L, 1); break;
        case LUA_TNIL: s = "nil"; break;
        case LUA_TBOOLEAN: s = lua_toboolean(L, 1) ? "true" : "false"; break;
        default:
            snprintf(tmp, sizeof tmp, "%s: %p", luaL_typename(L, 1), lua_topointer(L, 1));
            s = tmp;
        }
        lua_newtable(L);
        lua_pushfstring(L, "ERR %s", s);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
    }
    if (have) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    lua_settop(L, 1);
    return 1;
}

/* ---------------- protection ---------------- */

static const char RO_SET[] = "strata_ro";   /* registry: protected tables -> true */
static const char ENV_KEY[] = "strata_env"; /* registry: the globals' proxy */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

int script_lua_global_missing(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", k ? k : "?");
}

static int is_protected(lua_State *L, int idx)
{
    if (!lua_istable(L, idx)) return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, RO_SET);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    int p = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return p;
}

/* Replace the table at the top by a readonly proxy of it.  global: reads
 * of missing names raise the nonexistent-global error. */
static void make_proxy(lua_State *L, int global)
{
    int real = lua_gettop(L);
    lua_newtable(L);             /* proxy */
    lua_newtable(L);             /* its metatable */
    /* Reads go through to the real table with no C call on the way; for
     * the globals, a name the real table lacks reaches its own __index,
     * which raises (so from then on C code must not read a missing
     * global: this is done last, when the state is built). */
    lua_pushvalue(L, real);
    lua_setfield(L, -2, "__index");
    if (global) {
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, script_lua_global_missing);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, real);
    }
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, RO_SET);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "strata_real");
    lua_pushvalue(L, -2);
    lua_pushvalue(L, real);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_replace(L, real);
}

void script_lua_push_env(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
}

static int safe_rawset(lua_State *L)
{
    if (is_protected(L, 1)) {
        lua_pushstring(L, "Attempt to modify a readonly table"); /* no position, as Redis's */
        return lua_error(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int safe_setmetatable(lua_State *L)
{
    if (is_protected(L, 1)) {
        lua_pushstring(L, "Attempt to modify a readonly table"); /* no position, as Redis's */
        return lua_error(L);
    }
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (luaL_getmetafield(L, 1, "__metatable")) luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* getmetatable: library tables show none, as in Redis; the globals show
 * a readonly view of theirs (registry "strata_mtview"). */
static int safe_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (is_protected(L, 1)) {
        lua_getfield(L, LUA_REGISTRYINDEX, "strata_mtview");
        lua_pushvalue(L, 1);
        lua_rawget(L, -2);
        return 1;
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

/* pairs and next see through a readonly proxy to the table it guards. */
static void push_real(lua_State *L, int idx)
{
    if (is_protected(L, idx)) {
        lua_getfield(L, LUA_REGISTRYINDEX, "strata_real");
        lua_pushvalue(L, idx);
        lua_rawget(L, -2);
        lua_remove(L, -2);
    } else {
        lua_pushvalue(L, idx);
    }
}

static int safe_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    push_real(L, 1);
    lua_pushvalue(L, 2);
    if (lua_next(L, -2)) return 2;
    lua_pushnil(L);
    return 1;
}

static int safe_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* next */
    push_real(L, 1);
    lua_pushnil(L);
    return 3;
}

/* bit.tohex with LuaBitOp 1.0.2's overflow closed (Redis's fix for
 * CVE-2024-31449): a digit count of INT32_MIN would negate to itself and
 * index before the buffer. */
static int safe_tohex(lua_State *L)
{
    if (lua_gettop(L) >= 2 && lua_isnumber(L, 2) && lua_tonumber(L, 2) <= -2147483648.0) {
        lua_pushnumber(L, -2147483647.0);
        lua_replace(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* pcall as Redis wraps it: an error table becomes its err string. */
static int safe_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (st != 0 && lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        if (lua_isstring(L, -1)) lua_replace(L, -2);
        else lua_pop(L, 1);
    }
    lua_pushboolean(L, st == 0);
    lua_insert(L, 1);
    return lua_gettop(L);
}

/* Compile a chunk for loadstring/load: no bytecode, the proxy as env. */
static int load_chunk(lua_State *L, const char *s, size_t len, const char *name)
{
    if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "attempt to load a binary chunk");
        return 2;
    }
    if (luaL_loadbuffer(L, s, len, name) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    script_lua_push_env(L);
    lua_setfenv(L, -2);
    return 1;
}

static int safe_loadstring(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    return load_chunk(L, s, len, name);
}

static int safe_load(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) return luaL_error(L, "reader function must return a string");
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    return load_chunk(L, s, len, name);
}

/* ---------------- replies -> Lua ---------------- */

static const char *line_end(const char *p, const char *end)
{
    const char *q = memchr(p, '\r', (size_t)(end - p));
    return q ? q : end;
}

/* Push the Lua value of the reply at p; returns the byte after it. */
static const char *push_reply(lua_State *L, const char *p, const char *end)
{
    if (p >= end) {
        lua_pushnil(L);
        return end;
    }
    char t = *p++;
    const char *e = line_end(p, end);
    size_t ll = (size_t)(e - p);
    const char *next = e + 2 <= end ? e + 2 : end;
    long long n = 0;
    switch (t) {
    case '+':
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, p, ll);
        lua_setfield(L, -2, "ok");
        return next;
    case '-':
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, p, ll);
        lua_setfield(L, -2, "err");
        return next;
    case ':':
        str2ll(p, ll, &n);
        lua_pushnumber(L, (lua_Number)n);
        return next;
    case '$':
    case '=':
        str2ll(p, ll, &n);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        if (t == '$') {
            lua_pushlstring(L, next, (size_t)n);
        } else {
            lua_createtable(L, 0, 1);
            lua_createtable(L, 0, 2);
            lua_pushlstring(L, next, n >= 3 ? 3 : (size_t)n);
            lua_setfield(L, -2, "format");
            lua_pushlstring(L, next + (n >= 4 ? 4 : n), n >= 4 ? (size_t)n - 4 : 0);
            lua_setfield(L, -2, "string");
            lua_setfield(L, -2, "verbatim_string");
        }
        return next + n + 2 <= end ? next + n + 2 : end;
    case '_':
        lua_pushnil(L);
        return next;
    case '#':
        lua_pushboolean(L, ll > 0 && p[0] == 't');
        return next;
    case ',': {
        char tmp[64];
        size_t m = ll < sizeof tmp - 1 ? ll : sizeof tmp - 1;
        memcpy(tmp, p, m);
        tmp[m] = '\0';
        lua_createtable(L, 0, 1);
        lua_pushnumber(L, strtod(tmp, NULL));
        lua_setfield(L, -2, "double");
        return next;
    }
    case '(':
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, p, ll);
        lua_setfield(L, -2, "big_number");
        return next;
    case '*':
    case '>':
        str2ll(p, ll, &n);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        lua_createtable(L, (int)(n < 1024 ? n : 1024), 0);
        for (long long i = 0; i < n; i++) {
            next = push_reply(L, next, end);
            lua_rawseti(L, -2, (int)i + 1);
        }
        return next;
    case '%':
    case '~':
        str2ll(p, ll, &n);
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, (int)(n < 1024 ? n : 1024));
        for (long long i = 0; i < n; i++) {
            next = push_reply(L, next, end);
            if (t == '%') next = push_reply(L, next, end);
            else lua_pushboolean(L, 1);
            if (lua_isnil(L, -2)) lua_pop(L, 2);
            else lua_settable(L, -3);
        }
        lua_setfield(L, -2, t == '%' ? "map" : "set");
        return next;
    default:
        lua_pushnil(L);
        return end;
    }
}

/* ---------------- Lua -> replies ---------------- */

static void add_error_text(buf *out, const char *s, size_t len)
{
    buf_append_char(out, '-');
    size_t at = out->len;
    buf_append(out, s, len);
    script_sanitize(out->data + at, len);
    buf_append(out, "\r\n", 2);
}

static void add_status_text(buf *out, const char *s, size_t len)
{
    buf_append_char(out, '+');
    size_t at = out->len;
    buf_append(out, s, len);
    script_sanitize(out->data + at, len);
    buf_append(out, "\r\n", 2);
}

static long long lua_num_to_ll(lua_Number d)
{
    if (isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) return LLONG_MIN;
    return (long long)d;
}

/* rawget t[field] (t at idx) and keep it on the stack if its type is
 * `type`; returns 1 then, else pops and returns 0. */
static int field_of_type(lua_State *L, int idx, const char *field, int type)
{
    lua_pushstring(L, field);
    lua_rawget(L, idx);
    if (lua_type(L, -1) == type) return 1;
    lua_pop(L, 1);
    return 0;
}

/* The number of entries of the table at index t (every key, not only
 * 1..n), for the length of a map or set reply. */
static long long table_entries(lua_State *L, int t)
{
    long long n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        n++;
        lua_pop(L, 1);
    }
    return n;
}

/* Write the Lua value at the top (popped) as a reply. */
static void lua_to_reply(lua_State *L, buf *out, int proto, int sresp, int depth)
{
    int t = lua_type(L, -1);
    (void)depth;
    if (!lua_checkstack(L, 4)) { /* as Redis: the Lua stack bounds the nesting */
        resp_add_error(out, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        resp_add_bulk(out, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        if (sresp == 2) {
            if (lua_toboolean(L, -1)) resp_add_int(out, 1);
            else resp_add_null(out, proto);
        } else {
            resp_add_bool(out, proto, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        resp_add_int(out, lua_num_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE: {
        int idx = lua_gettop(L);
        size_t len;
        if (field_of_type(L, idx, "err", LUA_TSTRING)) {
            const char *s = lua_tolstring(L, -1, &len);
            add_error_text(out, s, len);
            lua_pop(L, 1);
            break;
        }
        if (field_of_type(L, idx, "ok", LUA_TSTRING)) {
            const char *s = lua_tolstring(L, -1, &len);
            add_status_text(out, s, len);
            lua_pop(L, 1);
            break;
        }
        if (field_of_type(L, idx, "double", LUA_TNUMBER)) {
            resp_add_double(out, proto, lua_tonumber(L, -1));
            lua_pop(L, 1);
            break;
        }
        if (field_of_type(L, idx, "big_number", LUA_TSTRING)) {
            const char *s = lua_tolstring(L, -1, &len);
            if (proto == RESP3) {
                buf_append_char(out, '(');
                size_t at = out->len;
                buf_append(out, s, len);
                script_sanitize(out->data + at, len);
                buf_append(out, "\r\n", 2);
            } else {
                resp_add_bulk(out, s, len);
            }
            lua_pop(L, 1);
            break;
        }
        if (field_of_type(L, idx, "verbatim_string", LUA_TTABLE)) {
            int v = lua_gettop(L);
            lua_getfield(L, v, "format");
            lua_getfield(L, v, "string");
            if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
                size_t fl, sl;
                const char *f = lua_tolstring(L, -2, &fl);
                const char *s = lua_tolstring(L, -1, &sl);
                if (proto == RESP3 && fl == 3) {
                    buf_printf(out, "=%zu\r\n", sl + 4);
                    buf_append(out, f, 3);
                    buf_append_char(out, ':');
                    buf_append(out, s, sl);
                    buf_append(out, "\r\n", 2);
                } else {
                    resp_add_bulk(out, s, sl);
                }
                lua_pop(L, 3);
                break;
            }
            lua_pop(L, 3);
        }
        if (field_of_type(L, idx, "map", LUA_TTABLE)) {
            int m = lua_gettop(L);
            resp_add_map(out, proto, table_entries(L, m));
            lua_pushnil(L);
            while (lua_next(L, m)) {
                lua_pushvalue(L, -2);
                lua_to_reply(L, out, proto, sresp, depth + 1); /* key */
                lua_to_reply(L, out, proto, sresp, depth + 1); /* value */
            }
            lua_pop(L, 1);
            break;
        }
        if (field_of_type(L, idx, "set", LUA_TTABLE)) {
            int m = lua_gettop(L);
            resp_add_set(out, proto, table_entries(L, m));
            lua_pushnil(L);
            while (lua_next(L, m)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_to_reply(L, out, proto, sresp, depth + 1);
            }
            lua_pop(L, 1);
            break;
        }
        size_t mark = resp_defer(out);
        long long n = 0;
        for (;;) {
            lua_rawgeti(L, idx, (int)n + 1);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            n++;
            lua_to_reply(L, out, proto, sresp, depth + 1);
        }
        resp_set_deferred_array(out, mark, n);
        break;
    }
    default:
        resp_add_null(out, proto);
    }
    lua_pop(L, 1);
}

/* ---------------- redis.call ---------------- */

static buf call_args;     /* argument bytes of the inner call */

/* Redis Cluster's rule for the keys of a command a script runs
 * (node/cluster/slots.h): a key in a slot this node's group does not own
 * is refused, so a script cannot write into another group's slots (a key
 * it never declared: the proxy routed it by the declared ones); and a
 * script with a shebang, unless allow-cross-slot-keys, must stay in one
 * slot.  Scripts without a shebang (compat mode) may use several owned
 * slots, as in Redis 7.0.  NULL when the command may run. */
static const char *script_cluster_check(struct script_run *r, const struct cmd_spec *cmd,
                                        int argc, char **argv, const size_t *lens)
{
    int stack[16], *keys = stack;
    int n = cmd_get_keys(cmd, argc, argv, lens, keys, 16);
    if (n > 16) {
        keys = xmalloc(sizeof *keys * (size_t)n);
        n = cmd_get_keys(cmd, argc, argv, lens, keys, n);
    }
    const char *err = NULL;
    int allow_cross = (r->flags & (SF_COMPAT | SF_CROSS_SLOT)) != 0;
    for (int i = 0; i < n && !err; i++)
        err = cluster_script_check_key(argv[keys[i]], lens[keys[i]], &r->key_slot, allow_cross);
    if (keys != stack) free(keys);
    return err;
}

/* What Redis checks for a command a script calls is its subcommand's,
 * for a container (CONFIG HELP may run in a script, CONFIG GET may not),
 * as Redis looks up the subcommand first. */
static const struct cmd_meta *call_meta(const struct cmd_spec *cmd, const struct subcmd *sub, int argc,
                                        char **argv, const size_t *lens)
{
    return sub ? cmdmeta_lookup_argv(argc, argv, lens) : cmdmeta_get(cmd->id);
}

static int redis_call_generic(lua_State *L, int raise)
{
    struct script_run *r = script_cur;
    int argc = lua_gettop(L);
    const char *err = NULL;
    if (!r || r->in_load) return raise_error(L, "redis.call() is not allowed here");
    if (argc == 0) {
        err = "Please specify at least one argument for this redis lib call";
        goto fail;
    }
    /* Copy the arguments: numbers are formatted as Redis does (%.17g),
     * which lua_tolstring would not do. */
    buf_clear(&call_args);
    size_t stack_off[64], *off = stack_off, stack_len[64], *lens = stack_len;
    char *stack_argv[64], **argv = stack_argv;
    if (argc > 64) {
        off = xmalloc(sizeof *off * (size_t)argc);
        lens = xmalloc(sizeof *lens * (size_t)argc);
        argv = xmalloc(sizeof *argv * (size_t)argc);
    }
    for (int i = 1; i <= argc; i++) {
        int t = lua_type(L, i);
        off[i - 1] = call_args.len;
        if (t == LUA_TNUMBER) {
            char num[64];
            int n = snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, i));
            buf_append(&call_args, num, (size_t)n);
            lens[i - 1] = (size_t)n;
        } else if (t == LUA_TSTRING) {
            size_t l;
            const char *s = lua_tolstring(L, i, &l);
            buf_append(&call_args, s, l);
            lens[i - 1] = l;
        } else {
            err = "Lua redis lib command arguments must be strings or integers";
            break;
        }
        buf_append_char(&call_args, '\0');
    }
    if (!err) {
        for (int i = 0; i < argc; i++) argv[i] = call_args.data + off[i];
        client *sc = script_client;
        const struct cmd_spec *cmd = cmd_lookup(argv[0], lens[0]);
        const struct subcmd *sub = NULL;
        const struct cmd_meta *meta = NULL;
        unsigned flags = 0;
        if (!cmd || (!srv.procs[cmd->id])) {
            err = "Unknown Redis command called from script";
        } else if (!cmd_arity_ok(cmd, argc)) {
            err = "Wrong number of args calling Redis command from script";
        } else if (argc >= 2 && cmd_is_container(cmd) &&
                   (!(sub = subcmd_lookup(cmd->name, argv[1], lens[1])) || !subcmd_arity_ok(sub, argc))) {
            err = sub ? "Wrong number of args calling Redis command from script"
                      : "Unknown Redis command called from script";
        } else if ((meta = call_meta(cmd, sub, argc, argv, lens),
                    flags = sub && meta ? meta->flags : cmd->flags) & CF_NOSCRIPT) {
            err = "This Redis command is not allowed from script";
        } else if (meta && (err = node_acl_script_check(srv.current, meta, argc, argv, lens)) != NULL) {
            /* refused by the caller's ACL user (t_acl.c), after NOSCRIPT as in Redis's scriptCall */
        } else if (r->ro && ((flags & CF_WRITE) || cmd->id == CMD_PUBLISH)) {
            err = "Write commands are not allowed from read-only scripts.";
        } else if ((err = script_cluster_check(r, cmd, argc, argv, lens)) != NULL) {
            /* err is the text raised in the script */
        } else {
            if (cmd->flags & CF_WRITE) r->wrote = 1;
            sc->argc = argc;
            sc->argv = argv;
            sc->argvlen = lens;
            sc->cmd = cmd;
            sc->resp = r->resp;
            sc->out.len = 0;
            server_call(sc);
            sc->argc = 0;
            sc->argv = NULL;
            sc->argvlen = NULL;
            push_reply(L, sc->out.data, sc->out.data + sc->out.len);
            sc->out.len = 0;
            if (argc > 64) {
                free(off);
                free(lens);
                free(argv);
            }
            if (raise && lua_istable(L, -1)) {
                lua_getfield(L, -1, "err");
                int is_err = lua_isstring(L, -1);
                lua_pop(L, 1);
                if (is_err) return lua_error(L);
            }
            return 1;
        }
    }
    if (argc > 64) {
        free(off);
        free(lens);
        free(argv);
    }
fail:
    push_error_table(L, err);
    if (raise) return lua_error(L);
    return 1;
}

static int redis_call(lua_State *L)
{
    return redis_call_generic(L, 1);
}

static int redis_pcall(lua_State *L)
{
    return redis_call_generic(L, 0);
}

static int redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments");
        return 1;
    }
    const char *s = lua_tostring(L, 1);
    if (s[0] == '-') {
        push_error_table(L, s);
    } else {
        lua_pushfstring(L, "-%s", s);
        push_error_table(L, lua_tostring(L, -1));
    }
    return 1;
}

static int redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        push_error_table(L, "wrong number or type of arguments");
        return 1;
    }
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) return raise_error(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[SHA1_HEX_LEN + 1];
    sha1_hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) return raise_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1)) return raise_error(L, "First argument must be a number.");
    int level = (int)lua_tonumber(L, 1);
    if (level < 0 || level > 3) return raise_error(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t l;
        const char *s = lua_tolstring(L, i, &l);
        if (!s) continue;
        if (i > 2) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, l);
    }
    luaL_pushresult(&b);
    const char *msg = lua_tostring(L, -1);
    if (level == 3) log_warn("script: %s", msg);
    else if (level == 0) log_debug("script: %s", msg);
    else log_info("script: %s", msg);
    return 0;
}

static int redis_setresp(lua_State *L)
{
    if (lua_gettop(L) != 1) return raise_error(L, "redis.setresp() requires one argument.");
    int v = (int)lua_tonumber(L, 1);
    if (v != 2 && v != 3) return raise_error(L, "RESP version must be 2 or 3.");
    if (script_cur) script_cur->resp = v;
    return 0;
}

/* Accepted and ignored: Strata replicates every effect of a script as one
 * physical record, whatever the flags (research/scripting.md 7.5). */
static int redis_set_repl(lua_State *L)
{
    if (lua_gettop(L) != 1) return raise_error(L, "redis.set_repl() requires one argument.");
    int flags = (int)lua_tonumber(L, 1);
    if (flags & ~3) return raise_error(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

static int redis_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_false(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_nothing(lua_State *L)
{
    (void)L;
    return 0;
}

static int redis_acl_check_cmd(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 1) return raise_error(L, "Please specify at least one argument for this redis lib call");
    size_t l;
    const char *name = lua_tolstring(L, 1, &l);
    const struct cmd_spec *cmd = name ? cmd_lookup(name, l) : NULL;
    if (!cmd || !srv.procs[cmd->id]) return raise_error(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, 1);
    return 1;
}

static void set_int_field(lua_State *L, const char *k, int v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_fn_field(lua_State *L, const char *k, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, k);
}

/* The redis table of scripts (left on the stack). */
static void push_redis_api(lua_State *L)
{
    lua_newtable(L);
    set_fn_field(L, "call", redis_call);
    set_fn_field(L, "pcall", redis_pcall);
    set_fn_field(L, "error_reply", redis_error_reply);
    set_fn_field(L, "status_reply", redis_status_reply);
    set_fn_field(L, "sha1hex", redis_sha1hex);
    set_fn_field(L, "log", redis_log);
    set_fn_field(L, "setresp", redis_setresp);
    set_fn_field(L, "set_repl", redis_set_repl);
    set_fn_field(L, "replicate_commands", redis_true);
    set_fn_field(L, "breakpoint", redis_false);
    set_fn_field(L, "debug", redis_nothing);
    set_fn_field(L, "acl_check_cmd", redis_acl_check_cmd);
    set_int_field(L, "LOG_DEBUG", 0);
    set_int_field(L, "LOG_VERBOSE", 1);
    set_int_field(L, "LOG_NOTICE", 2);
    set_int_field(L, "LOG_WARNING", 3);
    set_int_field(L, "REPL_NONE", 0);
    set_int_field(L, "REPL_AOF", 1);
    set_int_field(L, "REPL_SLAVE", 2);
    set_int_field(L, "REPL_REPLICA", 2);
    set_int_field(L, "REPL_ALL", 3);
    lua_pushstring(L, "7.0.15");
    lua_setfield(L, -2, "REDIS_VERSION");
    set_int_field(L, "REDIS_VERSION_NUM", 0x0007000f);
}

/* ---------------- the state ---------------- */

static void open_lib(lua_State *L, lua_CFunction f, const char *name)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

lua_State *script_lua_new(int functions)
{
    struct lua_heap *h = xcalloc(1, sizeof *h);
    h->cap = SCRIPT_HEAP_CAP;
    lua_State *L = lua_newstate(heap_alloc, h);
    if (!L) {
        log_error("cannot create a Lua state");
        abort();
    }
    if (!script_rand_ready) {
        rand48_init(&script_rand);
        script_rand_ready = 1;
    }
    if (!script_client) {
        script_client = client_create(-1);
        /* Not a connection: CLIENT LIST and INFO do not show it. */
        srv.clients = script_client->next;
        if (srv.clients) srv.clients->prev = NULL;
        script_client->next = script_client->prev = NULL;
        srv.nclients--;
        script_client->flags |= CLIENT_IN_EXEC;
        script_client->authed = 1;
        snprintf(script_client->addr, sizeof script_client->addr, "lua");
    }
    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    open_lib(L, luaopen_bit, "bit");
    lua_getglobal(L, "bit");
    lua_getfield(L, -1, "tohex");
    lua_pushcclosure(L, safe_tohex, 1);
    lua_setfield(L, -2, "tohex");
    lua_pop(L, 1);
    lua_pushcfunction(L, lua_cmsgpack_open);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cmsgpack");
    lua_pushcfunction(L, lua_struct_open);
    lua_call(L, 0, 1);
    lua_setglobal(L, "struct");
    rand48_lua_register(L, &script_rand);
    static const char *removed[] = { "print", "dofile", "loadfile", "getfenv", "setfenv", "newproxy",
                                     "module", "require", "package", "debug", NULL };
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_register(L, "rawset", safe_rawset);
    lua_register(L, "setmetatable", safe_setmetatable);
    lua_register(L, "pcall", safe_pcall);
    lua_register(L, "getmetatable", safe_getmetatable);
    lua_register(L, "next", safe_next);
    lua_getglobal(L, "next");
    lua_pushcclosure(L, safe_pairs, 1);
    lua_setglobal(L, "pairs");
    lua_register(L, "loadstring", safe_loadstring);
    lua_register(L, "load", safe_load);
    push_redis_api(L);
    lua_setglobal(L, "redis");
    (void)functions;

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, RO_SET);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "strata_real");
    /* Library tables become readonly proxies. */
    static const char *libs[] = { "string", "table", "math", "cjson", "bit", "cmsgpack", "struct",
                                  "redis", "coroutine", NULL };
    for (int i = 0; libs[i]; i++) {
        lua_getglobal(L, libs[i]);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        make_proxy(L, 0);
        lua_setglobal(L, libs[i]);
    }
    /* Strings' methods come from the proxy too. */
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_getglobal(L, "string");
        lua_setfield(L, -2, "__index");
        /* getmetatable('') gives a readonly proxy of it: no script can
         * change the string methods of the scripts after it. */
        lua_pushvalue(L, -1);
        make_proxy(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    make_proxy(L, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    lua_newtable(L);                       /* strata_mtview */
    lua_pushvalue(L, -2);
    lua_getmetatable(L, -1);
    make_proxy(L, 0);
    lua_rawset(L, -3);
    lua_setfield(L, LUA_REGISTRYINDEX, "strata_mtview");
    lua_setglobal(L, "_G");
    lua_pushcfunction(L, error_handler);
    lua_pushlightuserdata(L, &errh_key); /* a light key: no string to intern at every run */
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    /* Redis keeps its handler as a global, which pairs(_G) shows. */
    lua_setglobal(L, "__redis__err__handler");
    return L;
}

void script_lua_close(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    lua_close(L);
    heap_release(ud);
    free(ud);
}

/* ---------------- shebang ---------------- */

static const struct {
    const char *name;
    int flag;
} shebang_flags[] = {
    { "no-writes", SF_NO_WRITES }, { "allow-oom", SF_ALLOW_OOM }, { "allow-stale", SF_ALLOW_STALE },
    { "no-cluster", SF_NO_CLUSTER }, { "allow-cross-slot-keys", SF_CROSS_SLOT }, { NULL, 0 },
};

int script_shebang(const char *body, size_t len, int functions, int *flags, size_t *skip,
                   char *libname, size_t libsize, char *err, size_t errlen)
{
    *flags = SF_COMPAT;
    *skip = 0;
    if (libname && libsize) libname[0] = '\0';
    if (len < 2 || body[0] != '#' || body[1] != '!') {
        if (functions) {
            snprintf(err, errlen, "Missing library metadata");
            return -1;
        }
        return 0;
    }
    const char *nl = memchr(body, '\n', len);
    if (!nl) {
        if (!functions) {
            snprintf(err, errlen, "Invalid script shebang");
            return -1;
        }
        nl = body + len;
    }
    *skip = (size_t)(nl - body);
    *flags = 0;
    /* Split the line on spaces. */
    const char *p = body, *end = nl;
    int part = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p >= end) break;
        const char *s = p;
        while (p < end && *p != ' ' && *p != '\t') p++;
        size_t sl = (size_t)(p - s);
        if (part++ == 0) {
            if (sl != 5 || memcmp(s, "#!lua", 5) != 0) {
                if (functions) snprintf(err, errlen, "Engine '%.*s' not found", (int)(sl > 2 ? sl - 2 : 0), s + 2);
                else snprintf(err, errlen, "Unexpected engine in script shebang: %.*s", (int)sl, s);
                return -1;
            }
            continue;
        }
        if (sl >= 6 && memcmp(s, "flags=", 6) == 0 && !functions) {
            const char *f = s + 6, *fe = s + sl;
            while (f < fe) {
                const char *c = memchr(f, ',', (size_t)(fe - f));
                if (!c) c = fe;
                int found = 0;
                for (int i = 0; shebang_flags[i].name; i++)
                    if (strlen(shebang_flags[i].name) == (size_t)(c - f) &&
                        memcmp(shebang_flags[i].name, f, (size_t)(c - f)) == 0) {
                        *flags |= shebang_flags[i].flag;
                        found = 1;
                    }
                if (!found) {
                    snprintf(err, errlen, "Unexpected flag in script shebang: %.*s", (int)(c - f), f);
                    return -1;
                }
                f = c + 1;
            }
        } else if (functions && sl >= 5 && memcmp(s, "name=", 5) == 0) {
            snprintf(libname, libsize, "%.*s", (int)(sl - 5), s + 5);
        } else {
            if (functions) snprintf(err, errlen, "Invalid metadata value given: %.*s", (int)sl, s);
            else snprintf(err, errlen, "Unknown lua shebang option: %.*s", (int)sl, s);
            return -1;
        }
    }
    if (part == 0) {
        snprintf(err, errlen, functions ? "Missing library metadata" : "Invalid engine in script shebang");
        return -1;
    }
    return 0;
}

/* ---------------- running ---------------- */

static const struct rconf_param *busy_param;
static client *busy_head;        /* srv.pending when busy mode began */
static int caller_rev, caller_wev;

int script_is_busy(void)
{
    return script_cur && script_cur->busy;
}

static void busy_begin(struct script_run *r)
{
    r->busy = 1;
    srv.script_busy = 1;
    log_warn("Slow script detected: still in execution after %llu milliseconds. "
             "You can try killing the script using the %s command.",
             (unsigned long long)(now_ms() - r->start_ms), r->is_function ? "FUNCTION KILL" : "SCRIPT KILL");
    busy_head = srv.pending;
    client *c = r->caller;
    /* The caller is in the middle of a command: nothing of it may run
     * until the script ends. */
    caller_rev = c->rev && event_pending(c->rev, EV_READ, NULL);
    caller_wev = c->wev && event_pending(c->wev, EV_WRITE, NULL);
    if (c->rev) event_del(c->rev);
    if (c->wev) event_del(c->wev);
}

static void busy_end(struct script_run *r)
{
    client *c = r->caller;
    if (!(c->flags & CLIENT_CLOSE_ASAP)) {
        if (caller_rev) event_add(c->rev, NULL);
        if (caller_wev) event_add(c->wev, NULL);
    }
    r->busy = 0;
    srv.script_busy = 0;
}

/* One pass of the event loop while the script runs: other clients get
 * -BUSY (or run their allow-busy command), replicas' acks are read.
 * Nothing is committed (server_commit refuses while busy) and no WAL is
 * shipped (neither the sleep hooks nor the timers run).  Replies to clients answered
 * during the pass are flushed at once; those that were already waiting
 * for the iteration's commit keep waiting. */
static void busy_serve(void)
{
    server_poll_busy(script_cur->caller);
    for (client *c = srv.pending; c && c != busy_head; c = c->next_pending)
        if (!(c->flags & (CLIENT_CLOSE_ASAP | CLIENT_WAIT_ACK)) && c->out.len > c->out_sent)
            server_flush_client(c);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct script_run *r = script_cur;
    if (!r) return;
    if (!r->killed) {
        uint64_t now = now_ms();
        if (!busy_param) busy_param = rconf_find("busy-reply-threshold", 20);
        long long thr = busy_param ? rconf_pnum(busy_param) : 5000;
        if (!r->busy && thr > 0 && now - r->start_ms >= (uint64_t)thr) busy_begin(r);
        if (r->busy) busy_serve();
        if (srv.shutdown_asap) r->killed = 2;
    }
    if (r->killed) {
        /* From now on at every line, so a pcall cannot swallow it. */
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
        raise_error(L, r->is_function ? "Script killed by user with FUNCTION KILL..."
                                      : "Script killed by user with SCRIPT KILL...");
    }
}

/* Append the reply for the error object at the top of the stack. */
static void add_script_error(lua_State *L, struct script_run *r, buf *out)
{
    buf msg;
    buf_init(&msg);
    if (lua_istable(L, -1)) {
        int t = lua_gettop(L);
        lua_getfield(L, t, "err");
        lua_getfield(L, t, "source");
        lua_getfield(L, t, "line");
        const char *e = lua_tostring(L, -3);
        buf_printf(&msg, "%s", e ? e : "ERR unknown error");
        if (lua_isstring(L, -2) && lua_isnumber(L, -1))
            buf_printf(&msg, " script: %s, on %s:%d.", r->name, lua_tostring(L, -2), (int)lua_tonumber(L, -1));
        lua_pop(L, 3);
    } else {
        const char *s = lua_tostring(L, -1);
        buf_printf(&msg, "ERR Error running script %s, %.100s", r->name, s ? s : "execution failure");
    }
    add_error_text(out, msg.data, msg.len);
    buf_free(&msg);
}

/* Collector pacing.  Lua 5.1 starts a cycle once the heap reaches
 * pause% of what the last cycle left alive, and a cycle marks everything
 * alive.  A scripting state keeps little alive (its libraries, tens of
 * KB) and each run leaves a few hundred bytes of garbage (KEYS, ARGV, the
 * replies as tables), so the default 200% (or Redis's forced step every
 * 50 runs) marks the whole heap every few dozen runs: a tenth of an
 * EVALSHA's instructions.  The pause is set so that the next cycle
 * starts about GC_SLACK_KB further on; for a heap of GC_SLACK_KB or more
 * it is Lua's 200%, so garbage never brings a state near its cap. */
#define GC_SLACK_KB 1024

static void gc_pace(lua_State *L)
{
    long long kb = lua_gc(L, LUA_GCCOUNT, 0);
    long long pause = kb > 0 ? 100 * (kb + GC_SLACK_KB) / kb : 10000;
    if (pause > 10000) pause = 10000;
    if (pause < 200) pause = 200;
    lua_gc(L, LUA_GCSETPAUSE, (int)pause);
}

void script_lua_run(lua_State *L, struct script_run *r, int nargs)
{
    int base = lua_gettop(L) - nargs - 1;
    script_lua_push_errh(L);
    lua_insert(L, base + 1);
    r->start_ms = now_ms();
    if (!r->resp) r->resp = 2;
    script_cur = r;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_COUNT);
    int st = lua_pcall(L, nargs, 1, base + 1);
    lua_sethook(L, NULL, 0, 0);
    if (r->busy) busy_end(r);
    script_cur = NULL;
    client *c = r->caller;
    if (st != 0) {
        add_script_error(L, r, &c->out);
        lua_pop(L, 1);
        if (st == LUA_ERRMEM) lua_gc(L, LUA_GCCOLLECT, 0);
    } else {
        lua_to_reply(L, &c->out, c->resp, r->resp, 0);
    }
    lua_settop(L, base);
    gc_pace(L);
}
