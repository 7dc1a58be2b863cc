/* rand48: Redis's math.random generator.  See rand48.h.
 *
 * Redis computes the 48-bit arithmetic in three 16-bit limbs; a 64-bit
 * product reduced modulo 2^48 gives the same numbers more simply. */
#include "rand48.h"

#include <math.h>

#include <lauxlib.h>

#define RAND48_MASK ((UINT64_C(1) << 48) - 1)
#define RAND48_A UINT64_C(0x5DEECE66D)
#define RAND48_C UINT64_C(0xB)
#define RAND48_LOW 0x330E

void rand48_init(rand48 *r)
{
    r->x = UINT64_C(0x1234ABCD330E);
}

void rand48_seed(rand48 *r, int32_t seed)
{
    r->x = ((uint64_t)(uint32_t)seed << 16) | RAND48_LOW;
}

int32_t rand48_next(rand48 *r)
{
    r->x = (RAND48_A * r->x + RAND48_C) & RAND48_MASK;
    return (int32_t)(r->x >> 17);
}

double rand48_unit(rand48 *r)
{
    return (double)(rand48_next(r) % RAND48_MAX) / (double)RAND48_MAX;
}

static int rand48_lua_random(lua_State *L)
{
    rand48 *r = lua_touserdata(L, lua_upvalueindex(1));
    double u = rand48_unit(r);
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, u);
        return 1;
    case 1: {
        int hi = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= hi, 1, "interval is empty");
        lua_pushnumber(L, floor(u * hi) + 1);
        return 1;
    }
    case 2: {
        int lo = luaL_checkint(L, 1);
        int hi = luaL_checkint(L, 2);
        luaL_argcheck(L, lo <= hi, 2, "interval is empty");
        /* The width is computed in int by Redis and wraps for the full
         * int range (to 0, so the answer is lo); do the same without
         * signed overflow. */
        int width = (int)(uint32_t)((int64_t)hi - lo + 1);
        lua_pushnumber(L, floor(u * width) + lo);
        return 1;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
}

static int rand48_lua_randomseed(lua_State *L)
{
    rand48 *r = lua_touserdata(L, lua_upvalueindex(1));
    rand48_seed(r, (int32_t)luaL_checkint(L, 1));
    return 0;
}

void rand48_lua_register(lua_State *L, rand48 *r)
{
    lua_getglobal(L, "math");
    lua_pushlightuserdata(L, r);
    lua_pushcclosure(L, rand48_lua_random, 1);
    lua_setfield(L, -2, "random");
    lua_pushlightuserdata(L, r);
    lua_pushcclosure(L, rand48_lua_randomseed, 1);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
}
