/* rand48: the deterministic pseudo-random generator behind Redis's Lua
 * math.random and math.randomseed.
 *
 * Redis replaces Lua's rand()-based math.random with the rand48 family
 * (src/rand.c) so that scripts draw the same sequence on every platform:
 *
 *   state     X, 48 bits
 *   step      X = (0x5DEECE66D * X + 0xB) mod 2^48
 *   next      the top 31 bits of the new X (lrand48)
 *   seed(s)   X = (s as 32 bits) << 16 | 0x330E (srand48)
 *
 * A redis-server starts with X = 0x1234ABCD330E and, since 7.0, never
 * reseeds it by itself: the sequence carries on from script to script
 * until a script calls math.randomseed.
 *
 * The state is a plain struct the caller owns.  rand48_lua_register keeps
 * a pointer to it in the closures it installs, so the state must outlive
 * the lua_State (or the functions must no longer be called); one state
 * may serve several lua_States in turn, as Redis's process-wide one does
 * across SCRIPT FLUSH. */
#ifndef STRATA_RAND48_H
#define STRATA_RAND48_H

#include <stdint.h>

#include <lua.h>

/* Largest value rand48_next returns (2^31 - 1). */
#define RAND48_MAX INT32_MAX

typedef struct rand48 {
    uint64_t x; /* the 48-bit state, in the low bits */
} rand48;

/* The state a fresh redis-server starts with. */
void rand48_init(rand48 *r);
/* srand48(seed): only the low 32 bits of the seed count. */
void rand48_seed(rand48 *r, int32_t seed);
/* lrand48(): advance and return a number in [0, RAND48_MAX]. */
int32_t rand48_next(rand48 *r);
/* Advance and return the [0, 1) number math.random() returns:
 * (next % RAND48_MAX) / RAND48_MAX. */
double rand48_unit(rand48 *r);

/* Replace math.random and math.randomseed in the global table `math`
 * (which must exist) with Redis's versions drawing from *r:
 *   math.random()      a number in [0, 1)
 *   math.random(m)     an integer in [1, m]; m < 1: "interval is empty"
 *   math.random(m, n)  an integer in [m, n]; n < m: "interval is empty"
 *   math.random(a,b,c) error "wrong number of arguments"
 *   math.randomseed(s) rand48_seed(r, s) with s truncated to an int
 * The arguments are read with luaL_checkint, as Lua 5.1's own are. */
void rand48_lua_register(lua_State *L, rand48 *r);

#endif
