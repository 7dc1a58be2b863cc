/* lua_cmsgpack: the `cmsgpack` Lua module as Redis 7.0 ships it
 * (lua-cmsgpack 0.4.0), written for Strata against the stock Lua 5.1.
 *
 *   cmsgpack.pack(v1, ...)              MessagePack of every argument,
 *                                       concatenated
 *   cmsgpack.unpack(s)                  every value encoded in s
 *   cmsgpack.unpack_one(s [, off])      next_off, value
 *   cmsgpack.unpack_limit(s, n [, off]) next_off, up to n values
 *
 * Offsets are 0-based byte positions; next_off is -1 once s is used up.
 * The encodings, the decodings and the error texts are Redis's; see
 * lua_cmsgpack.c for the details and tests/unit/test_lua_cmsgpack.c for
 * the cases recorded from redis-server 7.0. */
#ifndef STRATA_LUA_CMSGPACK_H
#define STRATA_LUA_CMSGPACK_H

#include <lua.h>

/* Create the module table, store it in the global `cmsgpack` and leave it
 * on the stack.  Returns 1 (it is a lua_CFunction). */
int lua_cmsgpack_open(lua_State *L);

#endif
