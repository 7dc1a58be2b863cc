/* function: FUNCTION LOAD/LIST/DELETE/FLUSH/STATS/KILL/HELP and FCALL,
 * FCALL_RO, as Redis 7.0 has them.
 *
 * Libraries are data: each is one LevelDB record
 *
 *   'F' library_name  ->  the library's code (with its "#!lua name=" line)
 *
 * written by the command's own batch, so it travels in the command's
 * replication record, a full sync, strata-dump/strata-load, survives a
 * restart and is kept by FLUSHALL (which deletes 'M' records only).  The
 * FUNCTION DUMP/RESTORE use Redis's payload (see below).  The
 * compiled libraries live in one lua_State of their own, rebuilt from the
 * 'F' records when they changed under us: at start-up, after a replica
 * applied a record touching 'F', after a full sync. */
#include "eval.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "script_lua.h"
#include "slot.h"
#include "store.h"
#include "subcmd.h"
#include "util.h"

struct ffunc {
    char *name;
    char *desc;          /* or NULL */
    int flags;           /* SF_* */
    int ref;             /* the callback, in the registry */
};

struct flib {
    char *name;
    char *code;
    size_t codelen;
    struct ffunc *fns;
    int nfns;
};

static lua_State *fnL;
static struct flib *libs;
static int nlibs, caplibs;
static int stale = 1;            /* reload from the store before use */

/* Functions registered by the library being loaded. */
static struct ffunc *pend;
static int npend, cappend;

static void ffunc_free(struct ffunc *f)
{
    free(f->name);
    free(f->desc);
}

static void flib_free(struct flib *l)
{
    for (int i = 0; i < l->nfns; i++) ffunc_free(&l->fns[i]);
    free(l->fns);
    free(l->name);
    free(l->code);
}

static int name_ok(const char *s, size_t len)
{
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

static const char ERR_NAME[] = "Library names can only contain letters, numbers, or underscores(_) and must be "
                               "at least one character long";

static int load_error(lua_State *L, const char *msg)
{
    lua_newtable(L);
    lua_pushfstring(L, "ERR %s", msg);
    lua_setfield(L, -2, "err");
    return lua_error(L);
}

static const struct {
    const char *name;
    int flag;
} fflags[] = {
    { "no-writes", SF_NO_WRITES }, { "allow-oom", SF_ALLOW_OOM }, { "allow-stale", SF_ALLOW_STALE },
    { "no-cluster", SF_NO_CLUSTER }, { "allow-cross-slot-keys", SF_CROSS_SLOT }, { NULL, 0 },
};

/* redis.register_function(name, fn) or ({function_name=, callback=, flags=, description=}). */
static int register_function(lua_State *L)
{
    int argc = lua_gettop(L);
    const char *name = NULL, *desc = NULL;
    size_t nlen = 0;
    int flags = 0;
    int cb = 0;
    if (argc == 2) {
        if (lua_type(L, 1) != LUA_TSTRING) return load_error(L, "first argument to redis.register_function must be a string");
        if (lua_type(L, 2) != LUA_TFUNCTION) return load_error(L, "second argument to redis.register_function must be a function");
        name = lua_tolstring(L, 1, &nlen);
        cb = 2;
    } else if (argc == 1 && lua_istable(L, 1)) {
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (!strcmp(k, "function_name")) {
                if (lua_type(L, -1) != LUA_TSTRING) return load_error(L, "function_name argument given to redis.register_function must be a string");
                name = lua_tolstring(L, -1, &nlen);
            } else if (!strcmp(k, "description")) {
                if (lua_type(L, -1) != LUA_TSTRING) return load_error(L, "description argument given to redis.register_function must be a string");
                desc = lua_tostring(L, -1);
            } else if (!strcmp(k, "callback")) {
                if (lua_type(L, -1) != LUA_TFUNCTION) return load_error(L, "callback argument given to redis.register_function must be a function");
            } else if (!strcmp(k, "flags")) {
                if (!lua_istable(L, -1)) return load_error(L, "flags argument to redis.register_function must be a table representing function flags");
                for (int j = 1;; j++) {
                    lua_rawgeti(L, -1, j);
                    if (lua_isnil(L, -1)) {
                        lua_pop(L, 1);
                        break;
                    }
                    const char *f = lua_tostring(L, -1);
                    int found = 0;
                    for (int i = 0; f && fflags[i].name; i++)
                        if (!strcmp(f, fflags[i].name)) {
                            flags |= fflags[i].flag;
                            found = 1;
                        }
                    lua_pop(L, 1);
                    if (!found) return load_error(L, "unknown flag given");
                }
            } else {
                return load_error(L, "unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        if (!name) return load_error(L, "redis.register_function must get a function name argument");
        lua_getfield(L, 1, "callback");
        if (!lua_isfunction(L, -1)) return load_error(L, "redis.register_function must get a callback argument");
        cb = lua_gettop(L);
    } else {
        return load_error(L, "wrong number of arguments to redis.register_function");
    }
    if (!name_ok(name, nlen)) return load_error(L, ERR_NAME);
    for (int i = 0; i < npend; i++)
        if (!strcmp(pend[i].name, name)) return load_error(L, "Function already exists in the library");
    if (npend == cappend) {
        cappend = cappend ? cappend * 2 : 8;
        pend = xrealloc(pend, sizeof *pend * (size_t)cappend);
    }
    struct ffunc *f = &pend[npend++];
    f->name = xmemdup(name, nlen);
    f->desc = desc ? xstrdup(desc) : NULL;
    f->flags = flags;
    lua_pushvalue(L, cb);
    f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static void pend_drop(lua_State *L)
{
    for (int i = 0; i < npend; i++) {
        if (L) luaL_unref(L, LUA_REGISTRYINDEX, pend[i].ref);
        ffunc_free(&pend[i]);
    }
    npend = 0;
}

static lua_State *fn_state(void)
{
    if (!fnL) {
        fnL = script_lua_new(1);
        /* The API of a library's load run: register_function, log and the
         * version fields; anything else is a nonexistent "global". */
        lua_newtable(fnL);
        lua_pushcfunction(fnL, register_function);
        lua_setfield(fnL, -2, "register_function");
        lua_getglobal(fnL, "redis");
        lua_getfield(fnL, -1, "log");
        lua_setfield(fnL, -3, "log");
        static const char *copy[] = { "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                                      "REDIS_VERSION", "REDIS_VERSION_NUM", NULL };
        for (int i = 0; copy[i]; i++) {
            lua_getfield(fnL, -1, copy[i]);
            lua_setfield(fnL, -3, copy[i]);
        }
        lua_pop(fnL, 1);
        lua_setfield(fnL, LUA_REGISTRYINDEX, "strata_loadapi");
    }
    return fnL;
}

/* Parse "#!lua name=<lib>" (the first line).  Returns 0 with the name and
 * the line's length, or -1 with the error. */
static int parse_meta(const char *code, size_t len, char *name, size_t nsize, size_t *skip, const char **err,
                      char *errbuf, size_t errlen)
{
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        *err = "Missing library metadata";
        return -1;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        *err = "Invalid library metadata";
        return -1;
    }
    *skip = (size_t)(nl - code);
    const char *p = code + 2, *end = nl;
    const char *eng = p;
    while (p < end && *p != ' ') p++;
    if ((size_t)(p - eng) != 3 || memcmp(eng, "lua", 3) != 0) {
        snprintf(errbuf, errlen, "Engine '%.*s' not found", (int)(p - eng), eng);
        *err = errbuf;
        return -1;
    }
    int have = 0;
    while (p < end) {
        while (p < end && *p == ' ') p++;
        if (p >= end) break;
        const char *s = p;
        while (p < end && *p != ' ') p++;
        size_t sl = (size_t)(p - s);
        if (sl >= 5 && memcmp(s, "name=", 5) == 0) {
            if (have) {
                *err = "Invalid metadata value, name argument was given multiple times";
                return -1;
            }
            have = 1;
            snprintf(name, nsize, "%.*s", (int)(sl - 5), s + 5);
            if (!name_ok(s + 5, sl - 5) || sl - 5 >= nsize) {
                *err = ERR_NAME;
                return -1;
            }
        } else {
            snprintf(errbuf, errlen, "Invalid metadata value given: %.*s", (int)sl, s);
            *err = errbuf;
            return -1;
        }
    }
    if (!have) {
        *err = "Library name was not given";
        return -1;
    }
    return 0;
}

static struct flib *lib_find(const char *name)
{
    for (int i = 0; i < nlibs; i++)
        if (!strcmp(libs[i].name, name)) return &libs[i];
    return NULL;
}

static struct ffunc *func_find(const char *name, size_t len)
{
    for (int i = 0; i < nlibs; i++)
        for (int j = 0; j < libs[i].nfns; j++)
            if (strlen(libs[i].fns[j].name) == len && !memcmp(libs[i].fns[j].name, name, len)) return &libs[i].fns[j];
    return NULL;
}

static void lib_remove(const char *name)
{
    for (int i = 0; i < nlibs; i++)
        if (!strcmp(libs[i].name, name)) {
            for (int j = 0; j < libs[i].nfns; j++) luaL_unref(fnL, LUA_REGISTRYINDEX, libs[i].fns[j].ref);
            flib_free(&libs[i]);
            libs[i] = libs[--nlibs];
            return;
        }
}

static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_getfield(L, LUA_REGISTRYINDEX, "strata_loadstart");
    uint64_t t0 = (uint64_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (now_ms() - t0 > 500) {
        lua_sethook(L, load_hook, LUA_MASKLINE, 0);
        load_error(L, "FUNCTION LOAD timeout");
    }
}

/* Compile and register library code.  replace: an existing library of
 * that name may be replaced.  On success returns 0 and *out_name gets the
 * library (owned by the table); else -1 with the error in err. */
static int lib_create(const char *code, size_t len, int replace, const char **out_name, buf *err)
{
    char name[256], ebuf[300];
    size_t skip;
    const char *e = NULL;
    if (parse_meta(code, len, name, sizeof name, &skip, &e, ebuf, sizeof ebuf) < 0) {
        buf_printf(err, "ERR %s", e);
        return -1;
    }
    if (lib_find(name) && !replace) {
        buf_printf(err, "ERR Library '%s' already exists", name);
        return -1;
    }
    lua_State *L = fn_state();
    if (luaL_loadbuffer(L, code + skip, len - skip, "@user_function") != 0) {
        buf_printf(err, "ERR Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    /* The chunk runs in its own globals proxy where `redis` is the load
     * API; the functions it registers find the real one at call time. */
    script_lua_push_env(L);
    lua_setfenv(L, -2);
    lua_getglobal(L, "redis");
    int saved_redis = luaL_ref(L, LUA_REGISTRYINDEX);
    /* A copy of the load API whose missing fields raise the
     * nonexistent-global error, as Redis's does. */
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "strata_loadapi");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -5);
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, script_lua_global_missing);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setglobal(L, "redis");
    pend_drop(NULL);
    lua_pushnumber(L, (lua_Number)now_ms());
    lua_setfield(L, LUA_REGISTRYINDEX, "strata_loadstart");
    script_lua_push_errh(L);
    lua_insert(L, -2);
    lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
    int st = lua_pcall(L, 0, 0, -2);
    lua_sethook(L, NULL, 0, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, saved_redis);
    lua_setglobal(L, "redis");
    luaL_unref(L, LUA_REGISTRYINDEX, saved_redis);
    if (st != 0) {
        const char *m = NULL;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            m = lua_tostring(L, -1);
            lua_pop(L, 1);
        } else {
            m = lua_tostring(L, -1);
        }
        buf_printf(err, "ERR Error registering functions: %s", m ? m : "unknown error");
        lua_pop(L, 2);
        pend_drop(L);
        return -1;
    }
    lua_pop(L, 1);
    if (npend == 0) {
        buf_printf(err, "ERR No functions registered");
        return -1;
    }
    for (int i = 0; i < npend; i++) {
        struct ffunc *f = func_find(pend[i].name, strlen(pend[i].name));
        if (f) {
            /* Allowed only when it belongs to the library being replaced. */
            struct flib *old = lib_find(name);
            int mine = 0;
            for (int j = 0; old && j < old->nfns; j++) mine |= &old->fns[j] == f;
            if (!mine) {
                buf_printf(err, "ERR Function %s already exists", pend[i].name);
                pend_drop(L);
                return -1;
            }
        }
    }
    lib_remove(name);
    if (nlibs == caplibs) {
        caplibs = caplibs ? caplibs * 2 : 8;
        libs = xrealloc(libs, sizeof *libs * (size_t)caplibs);
    }
    struct flib *l = &libs[nlibs++];
    l->name = xstrdup(name);
    l->code = xmemdup(code, len);
    l->codelen = len;
    l->fns = pend;
    l->nfns = npend;
    pend = NULL;
    npend = cappend = 0;
    *out_name = l->name;
    return 0;
}

static void libs_clear(void)
{
    for (int i = 0; i < nlibs; i++) flib_free(&libs[i]);
    nlibs = 0;
    if (fnL) script_lua_close(fnL);
    fnL = NULL;
}

/* Rebuild every library from the 'F' records. */
static void libs_reload(void)
{
    libs_clear();
    stale = 0;
    store_iter *it = store_iter_new(srv.st);
    buf err;
    buf_init(&err);
    for (store_iter_seek(it, "F", 1); store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < 1 || k[0] != 'F') break;
        const char *v = store_iter_val(it, &vl);
        const char *nm;
        buf_clear(&err);
        if (lib_create(v, vl, 1, &nm, &err) < 0)
            log_warn("function library '%.*s' not loaded: %.*s", (int)(kl - 1), k + 1, (int)err.len, err.data);
    }
    buf_free(&err);
    store_iter_free(it);
}

static void ensure_loaded(void)
{
    if (stale) libs_reload();
}

void function_info_memory(size_t *vm_bytes, size_t *nfunctions, size_t *nlibraries, size_t *code_bytes)
{
    ensure_loaded();
    size_t nf = 0, bytes = 0;
    for (int i = 0; i < nlibs; i++) {
        nf += (size_t)libs[i].nfns;
        bytes += libs[i].codelen + sizeof libs[i] + (size_t)libs[i].nfns * sizeof *libs[i].fns;
    }
    *vm_bytes = script_lua_heap_used(fn_state());
    *nfunctions = nf;
    *nlibraries = (size_t)nlibs;
    *code_bytes = bytes;
}

void function_reload(void)
{
    stale = 1;
}

void function_ops_applied(const char *ops, size_t len)
{
    const char *p = ops, *end = ops + len;
    while (end - p >= 5) {
        char op = p[0];
        size_t kl = get_u32be((const unsigned char *)p + 1);
        const char *k = p + 5;
        if (kl >= 1 && k[0] == 'F') {
            stale = 1;
            return;
        }
        p = k + kl;
        if (op == 'P') {
            if (end - p < 4) break;
            p += 4 + get_u32be((const unsigned char *)p);
        }
    }
}

static void lib_key(buf *k, const char *name)
{
    buf_clear(k);
    buf_append_char(k, 'F');
    buf_append(k, name, strlen(name));
}

static int refuse_on_replica(client *c)
{
    if (srv.is_replica && !(c->flags & CLIENT_MASTER)) {
        resp_add_error(&c->out, "READONLY You can't write against a read only replica.");
        return 1;
    }
    return 0;
}

static void function_load(client *c)
{
    int replace = 0, ci = 2;
    if (c->argc == 4 && ARG_IS(c, 2, "replace")) {
        replace = 1;
        ci = 3;
    } else if (c->argc != 3) {
        resp_add_errorf(&c->out, "ERR Unknown option given: %.*s", (int)c->argvlen[2], c->argv[2]);
        return;
    }
    if (refuse_on_replica(c)) return;
    buf err;
    buf_init(&err);
    const char *name;
    if (lib_create(c->argv[ci], c->argvlen[ci], replace, &name, &err) < 0) {
        buf_append_char(&err, '\0');
        resp_add_error(&c->out, err.data);
        buf_free(&err);
        return;
    }
    lib_key(&err, name);
    store_put(srv.st, err.data, err.len, c->argv[ci], c->argvlen[ci]);
    resp_add_bulk_str(&c->out, name);
    buf_free(&err);
}

static void add_flags(client *c, int flags)
{
    int n = 0;
    for (int i = 0; fflags[i].name; i++) n += (flags & fflags[i].flag) != 0;
    resp_add_set(&c->out, c->resp, n);
    for (int i = 0; fflags[i].name; i++)
        if (flags & fflags[i].flag) resp_add_simple(&c->out, fflags[i].name);
}

static void function_list(client *c)
{
    int withcode = 0;
    const char *pat = NULL;
    size_t patlen = 0;
    for (int i = 2; i < c->argc; i++) {
        if (ARG_IS(c, i, "withcode") && !withcode) {
            withcode = 1;
        } else if (ARG_IS(c, i, "libraryname") && !pat) {
            if (i + 1 >= c->argc) {
                resp_add_error(&c->out, "ERR library name argument was not given");
                return;
            }
            pat = c->argv[++i];
            patlen = c->argvlen[i];
        } else {
            resp_add_errorf(&c->out, "ERR Unknown argument %.*s", (int)c->argvlen[i], c->argv[i]);
            return;
        }
    }
    int n = 0;
    for (int i = 0; i < nlibs; i++)
        n += !pat || glob_match(pat, patlen, libs[i].name, strlen(libs[i].name), 0);
    resp_add_array(&c->out, n);
    for (int i = 0; i < nlibs; i++) {
        struct flib *l = &libs[i];
        if (pat && !glob_match(pat, patlen, l->name, strlen(l->name), 0)) continue;
        resp_add_map(&c->out, c->resp, withcode ? 4 : 3);
        resp_add_bulk_str(&c->out, "library_name");
        resp_add_bulk_str(&c->out, l->name);
        resp_add_bulk_str(&c->out, "engine");
        resp_add_bulk_str(&c->out, "LUA");
        resp_add_bulk_str(&c->out, "functions");
        resp_add_array(&c->out, l->nfns);
        for (int j = l->nfns - 1; j >= 0; j--) {
            struct ffunc *f = &l->fns[j];
            resp_add_map(&c->out, c->resp, 3);
            resp_add_bulk_str(&c->out, "name");
            resp_add_bulk_str(&c->out, f->name);
            resp_add_bulk_str(&c->out, "description");
            if (f->desc) resp_add_bulk_str(&c->out, f->desc);
            else resp_add_null(&c->out, c->resp);
            resp_add_bulk_str(&c->out, "flags");
            add_flags(c, f->flags);
        }
        if (withcode) {
            resp_add_bulk_str(&c->out, "library_code");
            resp_add_bulk(&c->out, l->code, l->codelen);
        }
    }
}

static void function_stats(client *c)
{
    resp_add_map(&c->out, c->resp, 2);
    resp_add_bulk_str(&c->out, "running_script");
    struct script_run *r = script_cur;
    if (r && r->is_function) {
        resp_add_map(&c->out, c->resp, 3);
        resp_add_bulk_str(&c->out, "name");
        resp_add_bulk_str(&c->out, r->name);
        resp_add_bulk_str(&c->out, "command");
        client *cl = r->caller;
        resp_add_array(&c->out, cl->argc);
        for (int i = 0; i < cl->argc; i++) resp_add_bulk(&c->out, cl->argv[i], cl->argvlen[i]);
        resp_add_bulk_str(&c->out, "duration_ms");
        resp_add_int(&c->out, (long long)(now_ms() - r->start_ms));
    } else {
        resp_add_null(&c->out, c->resp);
    }
    int nf = 0;
    for (int i = 0; i < nlibs; i++) nf += libs[i].nfns;
    resp_add_bulk_str(&c->out, "engines");
    resp_add_map(&c->out, c->resp, 1);
    resp_add_bulk_str(&c->out, "LUA");
    resp_add_map(&c->out, c->resp, 2);
    resp_add_bulk_str(&c->out, "libraries_count");
    resp_add_int(&c->out, nlibs);
    resp_add_bulk_str(&c->out, "functions_count");
    resp_add_int(&c->out, nf);
}


/* ---------------- FUNCTION DUMP / RESTORE ----------------
 *
 * Redis's payload (an RDB fragment):
 *
 *   ( 0xf5 | rdb string: the library's code )*   version:2 (10, LE)   crc64:8 (LE)
 *
 * rdb string = length | bytes, or 0xc3 | clen | len | LZF data; lengths
 * are 00xxxxxx, 01xxxxxx xxxxxxxx, 0x80 + 4 bytes BE, 0x81 + 8 bytes BE.
 * The CRC is Redis's CRC-64 (Jones polynomial, reflected) of everything
 * before it.  Strata writes strings uncompressed (Redis reads them), and
 * reads both forms, so payloads travel both ways. */

#define RDB_OPCODE_FUNCTION2 0xf5
#define RDB_VERSION 10

static uint64_t crc64_jones(uint64_t crc, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
    }
    return crc;
}

static void rdb_put_len(buf *out, uint64_t len)
{
    unsigned char b[9];
    if (len < 64) {
        b[0] = (unsigned char)len;
        buf_append(out, b, 1);
    } else if (len < 16384) {
        b[0] = (unsigned char)(0x40 | (len >> 8));
        b[1] = (unsigned char)(len & 0xff);
        buf_append(out, b, 2);
    } else if (len <= 0xffffffffULL) {
        b[0] = 0x80;
        put_u32be(b + 1, (uint32_t)len);
        buf_append(out, b, 5);
    } else {
        b[0] = 0x81;
        put_u64be(b + 1, len);
        buf_append(out, b, 9);
    }
}

/* Read a length at *p; returns 0, or -1.  *enc: the 0xc0.. special form. */
static int rdb_get_len(const unsigned char **p, const unsigned char *end, uint64_t *len, int *enc)
{
    if (*p >= end) return -1;
    unsigned char t = **p;
    *enc = -1;
    switch (t >> 6) {
    case 0: *len = t & 0x3f; *p += 1; return 0;
    case 1:
        if (end - *p < 2) return -1;
        *len = ((uint64_t)(t & 0x3f) << 8) | (*p)[1];
        *p += 2;
        return 0;
    case 2:
        if (t == 0x80 && end - *p >= 5) {
            *len = get_u32be(*p + 1);
            *p += 5;
            return 0;
        }
        if (t == 0x81 && end - *p >= 9) {
            *len = get_u64be(*p + 1);
            *p += 9;
            return 0;
        }
        return -1;
    default:
        *enc = t & 0x3f;
        *p += 1;
        return 0;
    }
}

static int lzf_decompress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outlen)
{
    const unsigned char *ip = in, *iend = in + inlen;
    unsigned char *op = out, *oend = out + outlen;
    while (ip < iend) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) {
            ctrl++;
            if ((size_t)(oend - op) < ctrl || (size_t)(iend - ip) < ctrl) return -1;
            memcpy(op, ip, ctrl);
            op += ctrl;
            ip += ctrl;
        } else {
            size_t len = ctrl >> 5;
            if (len == 7) {
                if (ip >= iend) return -1;
                len += *ip++;
            }
            if (ip >= iend) return -1;
            size_t back = ((size_t)(ctrl & 0x1f) << 8) + *ip++ + 1;
            len += 2;
            if ((size_t)(op - out) < back || (size_t)(oend - op) < len) return -1;
            const unsigned char *ref = op - back;
            while (len--) *op++ = *ref++;
        }
    }
    return op == oend ? 0 : -1;
}

/* One rdb string at *p into out (cleared first); 0 or -1. */
static int rdb_get_string(const unsigned char **p, const unsigned char *end, buf *out)
{
    uint64_t len;
    int enc;
    buf_clear(out);
    if (rdb_get_len(p, end, &len, &enc) < 0) return -1;
    if (enc < 0) {
        if ((uint64_t)(end - *p) < len) return -1;
        buf_append(out, *p, (size_t)len);
        *p += len;
        return 0;
    }
    if (enc == 3) { /* LZF */
        uint64_t clen, ulen;
        int e2;
        if (rdb_get_len(p, end, &clen, &e2) < 0 || e2 >= 0) return -1;
        if (rdb_get_len(p, end, &ulen, &e2) < 0 || e2 >= 0) return -1;
        if ((uint64_t)(end - *p) < clen || ulen > (64u << 20)) return -1;
        buf_reserve(out, (size_t)ulen + 1);
        if (lzf_decompress(*p, (size_t)clen, (unsigned char *)out->data, (size_t)ulen) < 0) return -1;
        out->len = (size_t)ulen;
        *p += clen;
        return 0;
    }
    /* 0..2: an integer of 1, 2 or 4 bytes, little endian */
    int nb = enc == 0 ? 1 : enc == 1 ? 2 : enc == 2 ? 4 : 0;
    if (!nb || end - *p < nb) return -1;
    long long v = 0;
    for (int i = nb - 1; i >= 0; i--) v = (v << 8) | (*p)[i];
    if (nb == 1) v = (signed char)v;
    else if (nb == 2) v = (int16_t)v;
    else v = (int32_t)v;
    *p += nb;
    buf_printf(out, "%lld", v);
    return 0;
}

static void function_dump(client *c)
{
    buf out;
    buf_init(&out);
    for (int i = 0; i < nlibs; i++) {
        buf_append_char(&out, (char)RDB_OPCODE_FUNCTION2);
        rdb_put_len(&out, libs[i].codelen);
        buf_append(&out, libs[i].code, libs[i].codelen);
    }
    unsigned char t[8];
    t[0] = RDB_VERSION & 0xff;
    t[1] = RDB_VERSION >> 8;
    buf_append(&out, t, 2);
    uint64_t crc = crc64_jones(0, (const unsigned char *)out.data, out.len);
    for (int i = 0; i < 8; i++) t[i] = (unsigned char)(crc >> (8 * i));
    buf_append(&out, t, 8);
    resp_add_bulk(&c->out, out.data, out.len);
    buf_free(&out);
}

static void function_restore(client *c)
{
    enum { P_APPEND, P_REPLACE, P_FLUSH } policy = P_APPEND;
    if (c->argc == 4) {
        if (ARG_IS(c, 3, "append")) policy = P_APPEND;
        else if (ARG_IS(c, 3, "replace")) policy = P_REPLACE;
        else if (ARG_IS(c, 3, "flush")) policy = P_FLUSH;
        else {
            resp_add_error(&c->out, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    } else if (c->argc > 4) {
        resp_add_error(&c->out, "ERR syntax error");
        return;
    }
    const unsigned char *p = (const unsigned char *)c->argv[2];
    size_t len = c->argvlen[2];
    if (len < 10 || (p[len - 10] | (p[len - 9] << 8)) > RDB_VERSION) {
        resp_add_error(&c->out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    uint64_t crc = 0;
    for (int i = 7; i >= 0; i--) crc = (crc << 8) | p[len - 8 + i];
    if (crc64_jones(0, p, len - 8) != crc) {
        resp_add_error(&c->out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    if (refuse_on_replica(c)) return;
    /* Read every library first: nothing changes unless all of it is good. */
    const unsigned char *q = p, *end = p + len - 10;
    buf code, err, key;
    buf_init(&code);
    buf_init(&err);
    buf_init(&key);
    struct { char *code; size_t len; char name[256]; } *items = NULL;
    int nitems = 0;
    const char *fail = NULL;
    while (q < end && !fail) {
        if (*q++ != RDB_OPCODE_FUNCTION2 || rdb_get_string(&q, end, &code) < 0) {
            fail = "ERR given payload is not a valid function library dump";
            break;
        }
        items = xrealloc(items, sizeof *items * (size_t)(nitems + 1));
        items[nitems].code = xmemdup(code.data, code.len);
        items[nitems].len = code.len;
        size_t skip;
        const char *e = NULL;
        char eb[300];
        if (parse_meta(code.data, code.len, items[nitems].name, sizeof items[nitems].name, &skip, &e, eb, sizeof eb) < 0) {
            buf_printf(&err, "ERR %s", e);
            fail = err.data;
        } else if (policy == P_APPEND && lib_find(items[nitems].name)) {
            buf_printf(&err, "ERR Library %s already exists", items[nitems].name);
            fail = err.data;
        }
        nitems++;
    }
    if (!fail) {
        if (policy == P_FLUSH) {
            for (int i = 0; i < nlibs; i++) {
                lib_key(&key, libs[i].name);
                store_del(srv.st, key.data, key.len);
            }
            libs_clear();
        }
        for (int i = 0; i < nitems && !fail; i++) {
            const char *nm;
            buf_clear(&err);
            if (lib_create(items[i].code, items[i].len, 1, &nm, &err) < 0) {
                buf_append_char(&err, '\0');
                fail = err.data;
                break;
            }
            lib_key(&key, nm);
            store_put(srv.st, key.data, key.len, items[i].code, items[i].len);
        }
    }
    for (int i = 0; i < nitems; i++) free(items[i].code);
    free(items);
    if (fail) {
        buf_append_char(&err, '\0');
        resp_add_error(&c->out, fail);
    } else {
        resp_add_ok(&c->out);
    }
    buf_free(&code);
    buf_free(&err);
    buf_free(&key);
}

static const char *function_help[] = {
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION "
    "RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
    NULL,
};

static void function_command(client *c)
{
    if (ARG_IS(c, 1, "kill")) {
        script_kill(c, 1);
        return;
    }
    if (ARG_IS(c, 1, "help")) {
        script_add_help(c, function_help);
        return;
    }
    ensure_loaded();
    if (ARG_IS(c, 1, "load")) {
        function_load(c);
    } else if (ARG_IS(c, 1, "list")) {
        function_list(c);
    } else if (ARG_IS(c, 1, "stats")) {
        function_stats(c);
    } else if (ARG_IS(c, 1, "dump")) {
        function_dump(c);
    } else if (ARG_IS(c, 1, "restore")) {
        function_restore(c);
    } else if (ARG_IS(c, 1, "delete")) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)c->argvlen[2], c->argv[2]);
        if (!lib_find(name) || c->argvlen[2] >= sizeof name) {
            resp_add_error(&c->out, "ERR Library not found");
            return;
        }
        if (refuse_on_replica(c)) return;
        lib_remove(name);
        buf k;
        buf_init(&k);
        lib_key(&k, name);
        store_del(srv.st, k.data, k.len);
        buf_free(&k);
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 1, "flush")) {
        if (c->argc > 3 || (c->argc == 3 && !ARG_IS(c, 2, "sync") && !ARG_IS(c, 2, "async"))) {
            resp_add_error(&c->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            return;
        }
        if (refuse_on_replica(c)) return;
        buf k;
        buf_init(&k);
        for (int i = 0; i < nlibs; i++) {
            lib_key(&k, libs[i].name);
            store_del(srv.st, k.data, k.len);
        }
        buf_free(&k);
        libs_clear();
        resp_add_ok(&c->out);
    } else {
        subcmd_check(&c->out, "function", c->argv[1], c->argvlen[1], c->argc);
    }
}

static void fcall_generic(client *c, int ro_cmd)
{
    ensure_loaded();
    struct ffunc *f = func_find(c->argv[1], c->argvlen[1]);
    if (!f) {
        resp_add_error(&c->out, "ERR Function not found");
        return;
    }
    long long numkeys;
    if (script_numkeys(c, &numkeys, "ERR Bad number of keys provided") < 0) return;
    if (script_prepare(c, f->flags, ro_cmd) < 0) return;
    lua_State *L = fnL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
    lua_createtable(L, (int)numkeys, 0);
    script_lua_fill_array(L, c->argv + 3, c->argvlen + 3, (int)numkeys);
    int na = c->argc - 3 - (int)numkeys;
    lua_createtable(L, na, 0);
    script_lua_fill_array(L, c->argv + 3 + numkeys, c->argvlen + 3 + numkeys, na);
    struct script_run r;
    memset(&r, 0, sizeof r);
    r.name = f->name;
    r.is_function = 1;
    r.ro = ro_cmd || (f->flags & SF_NO_WRITES);
    r.flags = f->flags;
    r.key_slot = numkeys > 0 ? (int)slot_of_key(c->argv[3], c->argvlen[3]) : -1;
    script_execute(c, L, &r, 2);
}

static void fcall_command(client *c)
{
    fcall_generic(c, 0);
}

static void fcall_ro_command(client *c)
{
    fcall_generic(c, 1);
}

void function_register(void)
{
    server_register(CMD_FUNCTION, function_command);
    server_register(CMD_FCALL, fcall_command);
    server_register(CMD_FCALL_RO, fcall_ro_command);
}
