/* lua_struct: the `struct` Lua module as Redis 7.0 ships it (Roberto
 * Ierusalimschy's struct library, release 1.7, with Redis's bounds
 * checks), written for Strata against the stock Lua 5.1.
 *
 *   struct.pack(fmt, v1, ...)       a binary string
 *   struct.unpack(fmt, s [, pos])   the values, then the next position
 *                                   (1-based)
 *   struct.size(fmt)                the size pack would give
 *
 * Format characters:
 *   >  <        big / little endian (default: the host's, little here)
 *   ![n]        align fields to min(n, their size); n a power of 2,
 *               default 8; the default alignment is 1 (packed)
 *   x           one zero byte of padding
 *   b B h H     signed / unsigned 1- and 2-byte integers
 *   l L T       8-byte integers (signed long, unsigned long, size_t)
 *   i[n] I[n]   n-byte integers, n <= 32, default 4
 *   c[n]        n bytes (default 1); pack: c0 is the whole string;
 *               unpack: c0 takes its length from the value just read
 *   s           zero-terminated string
 *   f d         float, double
 *   ' '         ignored
 * Anything else is "invalid format option 'X'" ('=' included: this
 * library has no native-endian option). */
#ifndef STRATA_LUA_STRUCT_H
#define STRATA_LUA_STRUCT_H

#include <lua.h>

/* Create the module table, store it in the global `struct` and leave it
 * on the stack.  Returns 1 (it is a lua_CFunction). */
int lua_struct_open(lua_State *L);

#endif
