/* lua_cmsgpack: MessagePack for Lua 5.1 scripts, byte-compatible with the
 * cmsgpack module of Redis 7.0.  See lua_cmsgpack.h.
 *
 * Encoding (what Redis's copy chooses):
 *
 *   nil, function, userdata, thread   c0
 *   false / true                      c2 / c3
 *   number, integral, finite and in [-2^63, 2^63)
 *                                     the smallest integer form: fixint
 *                                     00..7f / e0..ff, then cc cd ce cf
 *                                     (unsigned) for >= 0, d0 d1 d2 d3
 *                                     (signed) for < 0; -0 is 00
 *   any other number                  ca float if it converts to a float
 *                                     and back unchanged (so +-inf), else
 *                                     cb double (so NaN), big-endian
 *   string                            a0|len (< 32), d9 (<= 255),
 *                                     da (<= 65535), db
 *   table whose keys are exactly the integers 1..N (N <= INT_MAX)
 *                                     array: 90|N (<= 15), dc, dd; the
 *                                     empty table is the empty array 90
 *   any other table                   map: 80|N, de, df; pairs in next()
 *                                     order, each key then its value
 *   a table nested 16 deep            c0 (this also stops cycles)
 *
 * Decoding accepts every type above and: c2/c3, ca/cb, all integer forms
 * (cf above 2^63-1 wraps to a negative number, as on Redis), d9/da/db
 * strings, dc/dd arrays, de/df maps.  The bin, ext and fixext families
 * (c4..c9, d4..d8) and c1 are "Bad data format in input."; running out of
 * bytes is "Missing bytes in input.".  Every read is checked against the
 * bytes left, and each value consumes at least one byte, so hostile input
 * can neither read out of bounds nor loop without consuming.  Nesting is
 * bounded by the Lua stack (LUAI_MAXCSTACK): each level holds a slot, and
 * running out is a Lua "stack overflow (...)" error; the decoder does not
 * recurse in C, so deep input costs no C stack.
 *
 * The Lua stack is used at the same depths and checked at the same points
 * as in Redis's copy, so the stack-overflow errors (thousands of values at
 * once) come at the same counts with the same texts.
 *
 * Known differences from redis-server:
 *   - map pairs come in next() order, and stock Lua 5.1 hashes strings of
 *     32 bytes or more on a sample of their bytes where Redis's Lua hashes
 *     them all, so a map with two or more such keys may list them in
 *     another order (the same bytes otherwise);
 *   - if Lua runs out of memory while a value is being packed or a deeply
 *     nested one (over 32 levels) unpacked, the C buffer in use is not
 *     freed (Redis's copy leaks its pack buffer the same way). */
#include "lua_cmsgpack.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "buf.h"

#define CMSGPACK_MAX_NESTING 16

/* ------------------------------------------------------------------ */
/* Encoding                                                            */

/* The encoder writes into a C buffer; Lua errors (which longjmp) must not
 * happen while it holds one, so a failed stack check is recorded here and
 * raised once the buffer is freed. */
typedef struct cmsgpack_enc {
    lua_State *L;
    buf out;
    const char *stack_err; /* non-NULL: the luaL_checkstack message */
} cmsgpack_enc;

static int cmsgpack_enc_stack(cmsgpack_enc *e, int n, const char *what)
{
    if (e->stack_err) return -1;
    if (!lua_checkstack(e->L, n)) {
        e->stack_err = what;
        return -1;
    }
    return 0;
}

/* Append a type byte and the low `n` bytes of v, big-endian. */
static void cmsgpack_put(cmsgpack_enc *e, unsigned char type, uint64_t v, int n)
{
    unsigned char b[9];
    b[0] = type;
    for (int i = 0; i < n; i++) b[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    buf_append(&e->out, b, (size_t)n + 1);
}

static void cmsgpack_put_int(cmsgpack_enc *e, int64_t n)
{
    if (n >= 0) {
        uint64_t u = (uint64_t)n;
        if (u <= 0x7f) {
            unsigned char b = (unsigned char)u;
            buf_append(&e->out, &b, 1);
        } else if (u <= 0xff) {
            cmsgpack_put(e, 0xcc, u, 1);
        } else if (u <= 0xffff) {
            cmsgpack_put(e, 0xcd, u, 2);
        } else if (u <= 0xffffffffu) {
            cmsgpack_put(e, 0xce, u, 4);
        } else {
            cmsgpack_put(e, 0xcf, u, 8);
        }
    } else {
        uint64_t u = (uint64_t)n; /* two's complement bytes */
        if (n >= -32) {
            unsigned char b = (unsigned char)(u & 0xff);
            buf_append(&e->out, &b, 1);
        } else if (n >= -128) {
            cmsgpack_put(e, 0xd0, u, 1);
        } else if (n >= -32768) {
            cmsgpack_put(e, 0xd1, u, 2);
        } else if (n >= -2147483648LL) {
            cmsgpack_put(e, 0xd2, u, 4);
        } else {
            cmsgpack_put(e, 0xd3, u, 8);
        }
    }
}

static void cmsgpack_put_double(cmsgpack_enc *e, double d)
{
    /* Only a value that survives double -> float -> double is sent as a
     * float.  NaN never compares equal, so it is always a double; the
     * range test keeps the conversion of huge values well defined. */
    if (!isnan(d) && (isinf(d) || fabs(d) <= FLT_MAX) && (double)(float)d == d) {
        float f = (float)d;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        cmsgpack_put(e, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, 8);
        cmsgpack_put(e, 0xcb, bits, 8);
    }
}

static void cmsgpack_put_number(cmsgpack_enc *e, lua_Number n)
{
    /* 2^63 is exact in a double; [-2^63, 2^63) is the int64 range. */
    if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && floor(n) == n)
        cmsgpack_put_int(e, (int64_t)n);
    else
        cmsgpack_put_double(e, n);
}

static void cmsgpack_put_str(cmsgpack_enc *e, const char *s, size_t len)
{
    if (len < 32) {
        unsigned char b = (unsigned char)(0xa0 | len);
        buf_append(&e->out, &b, 1);
    } else if (len <= 0xff) {
        cmsgpack_put(e, 0xd9, len, 1);
    } else if (len <= 0xffff) {
        cmsgpack_put(e, 0xda, len, 2);
    } else {
        /* Lengths past 32 bits are written modulo 2^32, as Redis does; no
         * script can build such a string within proto-max-bulk-len. */
        cmsgpack_put(e, 0xdb, len & 0xffffffffu, 4);
    }
    buf_append(&e->out, s, len);
}

static void cmsgpack_put_header(cmsgpack_enc *e, unsigned char fix, unsigned char t16,
                                size_t n)
{
    if (n <= 15) {
        unsigned char b = (unsigned char)(fix | n);
        buf_append(&e->out, &b, 1);
    } else if (n <= 0xffff) {
        cmsgpack_put(e, t16, n, 2);
    } else {
        cmsgpack_put(e, (unsigned char)(t16 + 1), n & 0xffffffffu, 4);
    }
}

static void cmsgpack_encode(cmsgpack_enc *e, int level);

/* Is the table on top made of exactly the keys 1..N?  Keys must be
 * numbers (not numeric strings), positive integers no larger than
 * INT_MAX; with no repeated keys, the largest equal to the count means
 * there is no hole.  The empty table qualifies (N = 0). */
static int cmsgpack_is_array(cmsgpack_enc *e)
{
    lua_State *L = e->L;
    int top = lua_gettop(L);
    long long count = 0, max = 0;

    if (cmsgpack_enc_stack(e, 2, "in function table_is_an_array") < 0) return 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_Number k;
        if (lua_type(L, -1) != LUA_TNUMBER || (k = lua_tonumber(L, -1)) <= 0 ||
            k > INT_MAX || floor(k) != k) {
            lua_settop(L, top);
            return 0;
        }
        if ((long long)k > max) max = (long long)k;
        count++;
    }
    lua_settop(L, top);
    return max == count;
}

static void cmsgpack_encode_table(cmsgpack_enc *e, int level)
{
    lua_State *L = e->L;
    int array = cmsgpack_is_array(e);
    if (e->stack_err) return;

    if (array) {
        size_t n = lua_objlen(L, -1);
        cmsgpack_put_header(e, 0x90, 0xdc, n);
        if (cmsgpack_enc_stack(e, 1, "in function mp_encode_lua_table_as_array") < 0)
            return;
        for (size_t i = 1; i <= n && !e->stack_err; i++) {
            lua_pushnumber(L, (lua_Number)i);
            lua_gettable(L, -2);
            cmsgpack_encode(e, level + 1);
        }
        return;
    }

    size_t n = 0;
    if (cmsgpack_enc_stack(e, 3, "in function mp_encode_lua_table_as_map") < 0) return;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    cmsgpack_put_header(e, 0x80, 0xde, n);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        /* ... key value: encode a copy of the key, then the value (each
         * call pops what it encodes), leaving the key for lua_next. */
        lua_pushvalue(L, -2);
        cmsgpack_encode(e, level + 1);
        cmsgpack_encode(e, level + 1);
        if (e->stack_err) return;
    }
}

/* Encode the value on top of the stack and pop it. */
static void cmsgpack_encode(cmsgpack_enc *e, int level)
{
    lua_State *L = e->L;
    int t = lua_type(L, -1);
    if (e->stack_err) {
        lua_pop(L, 1);
        return;
    }
    if (t == LUA_TTABLE && level == CMSGPACK_MAX_NESTING) t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        cmsgpack_put_str(e, s, len);
        break;
    }
    case LUA_TBOOLEAN: {
        unsigned char b = lua_toboolean(L, -1) ? 0xc3 : 0xc2;
        buf_append(&e->out, &b, 1);
        break;
    }
    case LUA_TNUMBER:
        cmsgpack_put_number(e, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        cmsgpack_encode_table(e, level);
        break;
    default: {
        unsigned char b = 0xc0;
        buf_append(&e->out, &b, 1);
        break;
    }
    }
    lua_pop(L, 1);
}

static int cmsgpack_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, nargs))
        return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");

    cmsgpack_enc e = {.L = L, .stack_err = NULL};
    buf_init(&e.out);
    for (int i = 1; i <= nargs; i++) {
        int top = lua_gettop(L);
        if (cmsgpack_enc_stack(&e, 1, "in function mp_check") < 0) break;
        lua_pushvalue(L, i);
        cmsgpack_encode(&e, 0);
        if (e.stack_err) {
            lua_settop(L, top);
            break;
        }
        /* One string per argument, joined at the end. */
        lua_pushlstring(L, e.out.data ? e.out.data : "", e.out.len);
        buf_clear(&e.out);
    }
    buf_free(&e.out);
    if (e.stack_err) return luaL_error(L, "stack overflow (%s)", e.stack_err);
    lua_concat(L, nargs);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

/* The decoder is a loop over an explicit stack of open arrays and maps,
 * not a recursion: the nesting depth is bounded only by the Lua stack
 * (thousands of levels), which must not turn into C stack depth.  Values
 * go on the Lua stack exactly as a recursive decoder would put them:
 *
 *   array being filled:  ... table index      (then the element)
 *   map being filled:    ... table [key]      (then the key or value)
 *
 * Like the encoder, it holds C memory (the frames once they outgrow the
 * inline ones), so the errors it can meet are returned, and raised only
 * after the memory is freed. */

enum {
    CMSGPACK_OK = 0,
    CMSGPACK_EOF,       /* "Missing bytes in input." */
    CMSGPACK_BADFMT,    /* "Bad data format in input." */
    CMSGPACK_STACK,     /* "stack overflow (<stack_err>)" */
    CMSGPACK_NIL_KEY,   /* "table index is nil", as lua_settable says it */
    CMSGPACK_NAN_KEY,   /* "table index is NaN" */
};

#define CMSGPACK_INLINE_FRAMES 32

typedef struct cmsgpack_frame {
    uint32_t left;  /* elements (arrays) or pairs (maps) still to read */
    uint32_t next;  /* arrays: index of the next element; maps: 1 once
                     * the key of the current pair is on the stack */
    unsigned char map;
} cmsgpack_frame;

typedef struct cmsgpack_dec {
    lua_State *L;
    const unsigned char *p;
    size_t left;
    const char *stack_err;
    cmsgpack_frame *frames; /* inline_frames or a heap copy */
    size_t depth, cap;
    cmsgpack_frame inline_frames[CMSGPACK_INLINE_FRAMES];
} cmsgpack_dec;

static void cmsgpack_dec_init(cmsgpack_dec *d, lua_State *L, const unsigned char *p, size_t n)
{
    d->L = L;
    d->p = p;
    d->left = n;
    d->stack_err = NULL;
    d->frames = d->inline_frames;
    d->depth = 0;
    d->cap = CMSGPACK_INLINE_FRAMES;
}

static void cmsgpack_dec_free(cmsgpack_dec *d)
{
    if (d->frames != d->inline_frames) free(d->frames);
    d->frames = d->inline_frames;
    d->cap = CMSGPACK_INLINE_FRAMES;
}

static void cmsgpack_dec_open(cmsgpack_dec *d, int map, uint32_t n)
{
    if (d->depth == d->cap) {
        size_t cap = 2 * d->cap;
        cmsgpack_frame *f = xmalloc(cap * sizeof *f);
        memcpy(f, d->frames, d->depth * sizeof *f);
        cmsgpack_dec_free(d);
        d->frames = f;
        d->cap = cap;
    }
    cmsgpack_frame *f = &d->frames[d->depth++];
    f->left = n;
    f->next = map ? 0 : 1;
    f->map = (unsigned char)map;
}

static uint64_t cmsgpack_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

static void cmsgpack_dec_skip(cmsgpack_dec *d, size_t n)
{
    d->p += n;
    d->left -= n;
}

/* Read one item at the cursor: push a scalar, or push a new table and
 * open a frame for its contents.  Returns an error, or CMSGPACK_OK with
 * *complete set when the pushed value needs nothing more (a scalar or an
 * empty container). */
static int cmsgpack_dec_item(cmsgpack_dec *d, int *complete)
{
    lua_State *L = d->L;
    *complete = 1;
    if (d->left < 1) return CMSGPACK_EOF;
    if (!lua_checkstack(L, 1)) {
        d->stack_err = "too many return values at once; use unpack_one or unpack_limit instead.";
        return CMSGPACK_STACK;
    }

    unsigned char t = d->p[0];
    int size = 0; /* bytes after the type byte for the fixed-size forms */
    switch (t) {
    case 0xcc: case 0xd0: case 0xd9: size = 1; break;
    case 0xcd: case 0xd1: case 0xda: case 0xdc: case 0xde: size = 2; break;
    case 0xce: case 0xd2: case 0xca: case 0xdb: case 0xdd: case 0xdf: size = 4; break;
    case 0xcf: case 0xd3: case 0xcb: size = 8; break;
    default: break;
    }
    if (d->left - 1 < (size_t)size) return CMSGPACK_EOF;
    uint64_t v = cmsgpack_be(d->p + 1, size);
    size_t hdr = 1 + (size_t)size;
    int map;

    if (t <= 0x7f) {
        lua_pushinteger(L, t);
    } else if (t >= 0xe0) {
        lua_pushinteger(L, (int)t - 256);
    } else if (t >= 0xa0 && t <= 0xbf) {
        v = t & 0x1f;
        goto string;
    } else if (t >= 0x80 && t <= 0x9f) {
        map = t < 0x90;
        v = t & 0x0f;
        goto container;
    } else {
        switch (t) {
        case 0xc0: lua_pushnil(L); break;
        case 0xc2: lua_pushboolean(L, 0); break;
        case 0xc3: lua_pushboolean(L, 1); break;
        case 0xcc: case 0xcd: case 0xce:
            lua_pushinteger(L, (lua_Integer)v);
            break;
        case 0xcf:
            /* Redis pushes the uint64 as a lua_Integer: past 2^63-1 it
             * wraps to a negative number. */
            lua_pushinteger(L, (lua_Integer)(int64_t)v);
            break;
        case 0xd0: lua_pushinteger(L, (int8_t)v); break;
        case 0xd1: lua_pushinteger(L, (int16_t)v); break;
        case 0xd2: lua_pushinteger(L, (int32_t)v); break;
        case 0xd3: lua_pushnumber(L, (lua_Number)(int64_t)v); break;
        case 0xca: {
            uint32_t bits = (uint32_t)v;
            float f;
            memcpy(&f, &bits, 4);
            lua_pushnumber(L, f);
            break;
        }
        case 0xcb: {
            double x;
            memcpy(&x, &v, 8);
            lua_pushnumber(L, x);
            break;
        }
        case 0xd9: case 0xda: case 0xdb:
            goto string;
        case 0xdc: case 0xdd:
            map = 0;
            goto container;
        case 0xde: case 0xdf:
            map = 1;
            goto container;
        default: /* c1, bin, ext, fixext */
            return CMSGPACK_BADFMT;
        }
    }
    cmsgpack_dec_skip(d, hdr);
    return CMSGPACK_OK;

string:
    if (d->left - hdr < v) return CMSGPACK_EOF;
    lua_pushlstring(L, (const char *)d->p + hdr, (size_t)v);
    cmsgpack_dec_skip(d, hdr + (size_t)v);
    return CMSGPACK_OK;

container:
    cmsgpack_dec_skip(d, hdr);
    lua_newtable(L);
    if (!map && !lua_checkstack(L, 1)) {
        d->stack_err = "in function mp_decode_to_lua_array";
        return CMSGPACK_STACK;
    }
    if (v > 0) {
        cmsgpack_dec_open(d, map, (uint32_t)v);
        if (!map) lua_pushnumber(L, 1);
        *complete = 0;
    }
    return CMSGPACK_OK;
}

/* Decode one whole value (with everything nested in it) and push it. */
static int cmsgpack_dec_value(cmsgpack_dec *d)
{
    lua_State *L = d->L;
    for (;;) {
        int complete, err = cmsgpack_dec_item(d, &complete);
        if (err) return err;
        /* Store each completed value in its container; a container
         * that fills up is itself a completed value. */
        while (complete) {
            if (d->depth == 0) return CMSGPACK_OK;
            cmsgpack_frame *f = &d->frames[d->depth - 1];
            if (f->map && f->next == 0) { /* that was the key */
                f->next = 1;
                break;
            }
            if (f->map) {
                int kt = lua_type(L, -2);
                if (kt == LUA_TNIL) return CMSGPACK_NIL_KEY;
                if (kt == LUA_TNUMBER && isnan(lua_tonumber(L, -2))) return CMSGPACK_NAN_KEY;
                f->next = 0;
            }
            lua_settable(L, -3);
            if (--f->left == 0) {
                d->depth--;
                continue;
            }
            if (!f->map) lua_pushnumber(L, (lua_Number)++f->next);
            complete = 0;
        }
    }
}

/* The string is at index 1.  limit 0 with offset 0 means "all values, and
 * no offset returned" (unpack); otherwise up to `limit` values are
 * decoded from `offset` and the next offset comes first. */
static int cmsgpack_unpack_full(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int all = (limit == 0 && offset == 0);

    /* Redis prints the input length where the limit belongs; kept. */
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset,
                          (int)len);
    if (all) limit = INT_MAX;

    cmsgpack_dec d;
    cmsgpack_dec_init(&d, L, (const unsigned char *)s + offset, len - (size_t)offset);
    int n = 0, err = CMSGPACK_OK;
    while (d.left > 0 && n < limit) {
        d.depth = 0;
        if ((err = cmsgpack_dec_value(&d)) != CMSGPACK_OK) break;
        n++;
    }
    cmsgpack_dec_free(&d);
    switch (err) {
    case CMSGPACK_EOF: return luaL_error(L, "Missing bytes in input.");
    case CMSGPACK_BADFMT: return luaL_error(L, "Bad data format in input.");
    case CMSGPACK_STACK: return luaL_error(L, "stack overflow (%s)", d.stack_err);
    /* These two come from lua_settable without a position; so here. */
    case CMSGPACK_NIL_KEY: lua_pushliteral(L, "table index is nil"); return lua_error(L);
    case CMSGPACK_NAN_KEY: lua_pushliteral(L, "table index is NaN"); return lua_error(L);
    default: break;
    }
    if (all) return n;

    luaL_checkstack(L, 1, "in function mp_unpack_full");
    lua_pushinteger(L, d.left == 0 ? -1 : (lua_Integer)(len - d.left));
    lua_insert(L, 2);
    return n + 1;
}

static int cmsgpack_unpack(lua_State *L)
{
    return cmsgpack_unpack_full(L, 0, 0);
}

/* Keep only the first argument (none stays none). */
static void cmsgpack_keep_first(lua_State *L)
{
    if (lua_gettop(L) > 1) lua_settop(L, 1);
}

static int cmsgpack_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    cmsgpack_keep_first(L);
    return cmsgpack_unpack_full(L, 1, offset);
}

static int cmsgpack_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    cmsgpack_keep_first(L);
    return cmsgpack_unpack_full(L, limit, offset);
}

int lua_cmsgpack_open(lua_State *L)
{
    static const struct {
        const char *name;
        lua_CFunction fn;
    } fns[] = {
        {"pack", cmsgpack_pack},
        {"unpack", cmsgpack_unpack},
        {"unpack_one", cmsgpack_unpack_one},
        {"unpack_limit", cmsgpack_unpack_limit},
    };
    lua_newtable(L);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushcfunction(L, fns[i].fn);
        lua_setfield(L, -2, fns[i].name);
    }
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    lua_pushvalue(L, -1);
    lua_setglobal(L, "cmsgpack");
    return 1;
}
