/* lua_fixture.h: shared by the unit tests of node/script/lib (test_rand48,
 * test_lua_cmsgpack, test_lua_struct).
 *
 * fx_state() makes the bare lua_State the tests run in: base, table,
 * string and math opened one by one (as Redis does, without io, os or
 * package), then Strata's cmsgpack and struct modules and the rand48
 * math.random.  fx_check_file() replays a fixture recorded from
 * redis-server 7.0 by fixtures/gen_lua_libs.py: each case's body is
 * wrapped by the file's "@wrap" text, loaded under the chunk name
 * "@user_script" (Redis's, so error positions read "user_script:1:"),
 * run in order in one state, and its one-line answer compared with the
 * recorded one.  Every mismatch is printed before the test fails. */
#ifndef STRATA_TEST_LUA_FIXTURE_H
#define STRATA_TEST_LUA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_cmsgpack.h"
#include "lua_struct.h"
#include "rand48.h"

static void fx_open(lua_State *L, lua_CFunction f, const char *name)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* The caller owns both the state (lua_close) and *r, which must outlive it. */
static lua_State *fx_state(rand48 *r)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    fx_open(L, luaopen_base, "");
    fx_open(L, luaopen_table, LUA_TABLIBNAME);
    fx_open(L, luaopen_string, LUA_STRLIBNAME);
    fx_open(L, luaopen_math, LUA_MATHLIBNAME);
    rand48_lua_register(L, r);
    lua_pushcfunction(L, lua_cmsgpack_open);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, lua_struct_open);
    lua_call(L, 0, 0);
    return L;
}

/* Run a script that must return true (cmocka's failure otherwise, with
 * the error or the value it returned); inline: not every test uses it. */
static inline void fx_run_true(lua_State *L, const char *script)
{
    if (luaL_loadbuffer(L, script, strlen(script), "@test") || lua_pcall(L, 0, 1, 0))
        fail_msg("script failed: %s", lua_tostring(L, -1));
    if (!lua_toboolean(L, -1)) fail_msg("script returned %s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* Run a complete script that returns one string; the answer is malloc'd
 * (the caller frees it).  A failure to load or run, or a non-string
 * answer, comes back as "LUAERR <message>". */
static char *fx_run(lua_State *L, const char *script, size_t len)
{
    const char *out;
    size_t outlen;
    char *copy;
    int top = lua_gettop(L);
    if (luaL_loadbuffer(L, script, len, "@user_script") || lua_pcall(L, 0, 1, 0)) {
        const char *e = lua_tostring(L, -1);
        size_t n = strlen(e ? e : "?") + 8;
        copy = malloc(n);
        snprintf(copy, n, "LUAERR %s", e ? e : "?");
    } else if ((out = lua_tolstring(L, -1, &outlen)) == NULL) {
        copy = strdup("LUAERR not a string");
    } else {
        copy = malloc(outlen + 1);
        memcpy(copy, out, outlen);
        copy[outlen] = '\0';
    }
    lua_settop(L, top);
    return copy;
}

static char *fx_slurp(const char *name)
{
    const char *f = __FILE__, *slash = strrchr(f, '/');
    char path[1024];
    snprintf(path, sizeof path, "%.*s/fixtures/%s", slash ? (int)(slash - f) : 1,
             slash ? f : ".", name);
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
    data[n] = '\0';
    fclose(fp);
    return data;
}

/* Replay every case of fixtures/<name> in file order in one state built
 * by fx_state(r).  Returns the number of cases; fails on any mismatch. */
static int fx_check_file(const char *name, rand48 *r)
{
    char *data = fx_slurp(name);
    lua_State *L = fx_state(r);
    const char *before = NULL, *after = NULL;
    int cases = 0, bad = 0;

    for (char *line = data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        char *f1 = strchr(line, '\t');
        char *f2 = f1 ? strchr(f1 + 1, '\t') : NULL;
        assert_non_null(f2);
        *f1++ = '\0';
        *f2++ = '\0';
        if (strcmp(line, "@wrap") == 0) {
            before = f1;
            after = f2;
            continue;
        }
        assert_non_null(before);
        size_t len = strlen(before) + strlen(f1) + strlen(after);
        char *script = malloc(len + 1);
        snprintf(script, len + 1, "%s%s%s", before, f1, after);
        char *got = fx_run(L, script, len);
        if (strcmp(got, f2) != 0) {
            bad++;
            fprintf(stderr, "%s: case '%s'\n  body: %s\n  want: %.400s\n  got:  %.400s\n", name,
                    line, f1, f2, got);
        }
        free(got);
        free(script);
        cases++;
    }
    lua_close(L);
    free(data);
    if (bad) fail_msg("%s: %d of %d cases differ from redis-server", name, bad, cases);
    return cases;
}

#endif
