/* fuzz_lua: libFuzzer target for the Lua support modules that read
 * untrusted bytes: cmsgpack's decoders and struct.unpack/struct.size
 * (node/scripting).
 *
 * Input layout:
 *
 *   +---------+------------------------------------------------------+
 *   | mode:1  | rest                                                 |
 *   +---------+------------------------------------------------------+
 *
 *   mode even: rest is MessagePack; it goes through cmsgpack.unpack, and
 *              through unpack_one and unpack_limit at offsets taken from
 *              the mode byte
 *   mode odd:  rest is a struct format (up to the first NUL, at most 40
 *              bytes) then data, for struct.unpack at offset 1 + mode/2 % 4,
 *              struct.size and struct.pack of what unpack returned
 *
 * Every call runs under lua_pcall, so the modules' Lua errors are
 * expected; ASan and UBSan catch what is not.  Invariants:
 *   - what cmsgpack.unpack accepts repacks (pack of the values); the
 *     repacked string unpacks again unless a map key was cut to nil at
 *     the nesting limit; after two rounds the length is stable:
 *     #pack(unpack(s)) == #s (unless pack refuses so many arguments);
 *   - for a format without s or c0, a successful unpack at offset 1
 *     advances by exactly struct.size(fmt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_cmsgpack.h"
#include "lua_struct.h"

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz_lua: %s:%d: check failed: %s\n",        \
                    __FILE__, __LINE__, #cond);                           \
            abort();                                                      \
        }                                                                 \
    } while (0)

static lua_State *fuzz_state(void)
{
    static lua_State *L;
    if (L) return L;
    L = luaL_newstate();
    CHECK(L != NULL);
    lua_pushcfunction(L, luaopen_base);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, luaopen_table);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, luaopen_string);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, lua_cmsgpack_open);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, lua_struct_open);
    lua_call(L, 0, 0);
    lua_settop(L, 0);
    return L;
}

/* Push module.fn. */
static void fuzz_fn(lua_State *L, const char *module, const char *fn)
{
    lua_getglobal(L, module);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
}

/* pack(values at [from, top]) -> string pushed, or 0 if pack refused. */
static int fuzz_repack(lua_State *L, int from)
{
    int n = lua_gettop(L) - from + 1;
    if (n == 0) return 0;
    if (!lua_checkstack(L, n + 2)) return 0;
    fuzz_fn(L, "cmsgpack", "pack");
    for (int i = 0; i < n; i++) lua_pushvalue(L, from + i);
    if (lua_pcall(L, n, 1, 0) != 0) {
        lua_pop(L, 1); /* too many arguments or a stack overflow */
        return 0;
    }
    return 1;
}

/* Why the last fuzz_round failed (a static string). */
static const char *fuzz_round_err;

/* unpack(s) then pack(values): the new string is pushed, or 0 if either
 * step failed (the stack is then as it was). */
static int fuzz_round(lua_State *L, const char *s, size_t n)
{
    int base = lua_gettop(L);
    fuzz_fn(L, "cmsgpack", "unpack");
    lua_pushlstring(L, s, n);
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != 0) {
        const char *e = lua_tostring(L, -1);
        fuzz_round_err = e && strcmp(e, "table index is nil") == 0 ? "nil key" : "unpack";
        lua_settop(L, base);
        return 0;
    }
    if (!fuzz_repack(L, base + 1)) {
        fuzz_round_err = "pack";
        lua_settop(L, base);
        return 0;
    }
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return 1;
}

static void fuzz_cmsgpack(lua_State *L, unsigned mode, const char *p, size_t n)
{
    /* The first round may cut nesting at 16 levels, leaving nils that the
     * second round drops (a table {nil} packs as an empty array) or that
     * it cannot decode (a map key cut to nil: "table index is nil", as on
     * Redis); from then on the bytes must not change. */
    if (fuzz_round(L, p, n)) {
        size_t l2, l3, l4;
        const char *s2 = lua_tolstring(L, -1, &l2);
        if (fuzz_round(L, s2, l2)) {
            const char *s3 = lua_tolstring(L, -1, &l3);
            CHECK(fuzz_round(L, s3, l3));
            lua_tolstring(L, -1, &l4);
            /* The same length: not the same bytes, since the order of a
             * map's pairs follows how its table was filled (as on Redis:
             * pack(unpack(s)) may reorder pairs). */
            CHECK(l3 == l4);
        } else {
            CHECK(strcmp(fuzz_round_err, "unpack") != 0);
        }
    }
    lua_settop(L, 0);

    fuzz_fn(L, "cmsgpack", "unpack_one");
    lua_pushlstring(L, p, n);
    lua_pushinteger(L, (lua_Integer)(mode >> 1) % 8 - 1);
    (void)lua_pcall(L, 2, LUA_MULTRET, 0);
    lua_settop(L, 0);

    fuzz_fn(L, "cmsgpack", "unpack_limit");
    lua_pushlstring(L, p, n);
    lua_pushinteger(L, (lua_Integer)(mode >> 4));
    lua_pushinteger(L, (lua_Integer)(mode >> 1) % 4);
    (void)lua_pcall(L, 3, LUA_MULTRET, 0);
    lua_settop(L, 0);
}

static void fuzz_struct(lua_State *L, unsigned mode, const char *p, size_t n)
{
    char fmt[41];
    size_t fl = 0;
    while (fl < n && fl < 40 && p[fl] != '\0') fl++;
    memcpy(fmt, p, fl);
    fmt[fl] = '\0';
    const char *data = p + fl + (fl < n);
    size_t dl = n - fl - (fl < n);
    lua_Integer off = 1 + (lua_Integer)(mode >> 1) % 4;

    fuzz_fn(L, "struct", "unpack");
    lua_pushstring(L, fmt);
    lua_pushlstring(L, data, dl);
    lua_pushinteger(L, off);
    int ok = lua_pcall(L, 3, LUA_MULTRET, 0) == 0;
    int nvals = lua_gettop(L);
    if (ok && off == 1 && !strchr(fmt, 's') && !strstr(fmt, "c0")) {
        lua_Number next = lua_tonumber(L, -1);
        fuzz_fn(L, "struct", "size");
        lua_pushstring(L, fmt);
        if (lua_pcall(L, 1, 1, 0) == 0) CHECK(lua_tonumber(L, -1) == next - 1);
        lua_pop(L, 1);
    }
    if (ok && lua_checkstack(L, nvals + 2)) {
        /* Pack what came out (minus the position): errors are fine. */
        fuzz_fn(L, "struct", "pack");
        lua_pushstring(L, fmt);
        for (int i = 1; i < nvals; i++) lua_pushvalue(L, i);
        (void)lua_pcall(L, nvals, 1, 0);
    }
    lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    lua_State *L = fuzz_state();
    unsigned mode = data[0];
    if (mode & 1)
        fuzz_struct(L, mode, (const char *)data + 1, size - 1);
    else
        fuzz_cmsgpack(L, mode, (const char *)data + 1, size - 1);
    lua_gc(L, LUA_GCSTEP, 10);
    return 0;
}
