/* lua_struct: binary packing for Lua 5.1 scripts, compatible with the
 * struct module of Redis 7.0.  See lua_struct.h for the formats.
 *
 * Where Redis's copy relies on what x86-64 happens to do with undefined
 * C (casting out-of-range doubles to integers, shifting by 64 or more),
 * this file computes the same results explicitly, so the answers match
 * redis-server on this platform byte for byte and stay defined:
 *   - a number packed as an integer converts as gcc's double -> unsigned
 *     long does there: NaN and values below -2^63 give 2^63, values of
 *     2^64 and more (and +inf) give 0;
 *   - integer fields wider than 8 bytes carry only 8 bytes of value: the
 *     extra bytes are zero when packing and ignored when unpacking, and
 *     the sign of a signed field comes from bit (8n - 1) mod 64. */
#include "lua_struct.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#define STRUCT_MAXINTSIZE 32
#define STRUCT_MAXALIGN 8 /* alignment of double on x86-64 */

enum { STRUCT_BIG = 0, STRUCT_LITTLE = 1 };

typedef struct struct_opts {
    int endian;
    int align;
} struct_opts;

static int struct_native(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b ? STRUCT_LITTLE : STRUCT_BIG;
}

static void struct_defaults(struct_opts *o)
{
    o->endian = struct_native();
    o->align = 1;
}

static int struct_isp2(long x)
{
    return x > 0 && (x & (x - 1)) == 0;
}

/* An optional decimal count after a format character. */
static int struct_getnum(lua_State *L, const char **fmt, int dflt)
{
    if (!isdigit((unsigned char)**fmt)) return dflt;
    int a = 0;
    do {
        int d = **fmt - '0';
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - d) luaL_error(L, "integral size overflow");
        a = a * 10 + d;
        (*fmt)++;
    } while (isdigit((unsigned char)**fmt));
    return a;
}

/* Size in bytes of the field `opt` (reading its count), 0 for options. */
static size_t struct_optsize(lua_State *L, int opt, const char **fmt)
{
    switch (opt) {
    case 'b': case 'B': return 1;
    case 'h': case 'H': return 2;
    case 'l': case 'L': case 'T': return 8;
    case 'f': return 4;
    case 'd': return 8;
    case 'x': return 1;
    case 'c': return (size_t)struct_getnum(L, fmt, 1);
    case 'i': case 'I': {
        int n = struct_getnum(L, fmt, 4);
        if (n > STRUCT_MAXINTSIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", n, STRUCT_MAXINTSIZE);
        return (size_t)n;
    }
    default: return 0;
    }
}

/* Padding before a field of `size` bytes at offset `pos`.  Sizes that are
 * not powers of 2 (i3) give odd paddings; this is the library's formula. */
static size_t struct_toalign(size_t pos, const struct_opts *o, int opt, size_t size)
{
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)o->align) size = (size_t)o->align;
    return (size - (pos & (size - 1))) & (size - 1);
}

/* ' ', '<', '>', '!n'; anything else is an error. */
static void struct_control(lua_State *L, int opt, const char **fmt, struct_opts *o)
{
    switch (opt) {
    case ' ': return;
    case '>': o->endian = STRUCT_BIG; return;
    case '<': o->endian = STRUCT_LITTLE; return;
    case '!': {
        int a = struct_getnum(L, fmt, STRUCT_MAXALIGN);
        if (!struct_isp2(a)) luaL_error(L, "alignment %d is not a power of 2", a);
        o->align = a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

/* double -> unsigned 64-bit as gcc compiles the cast on x86-64 (see the
 * file comment): truncation in range, fixed values out of it. */
static uint64_t struct_d2u(double n)
{
    if (n >= 9223372036854775808.0) /* 2^63 */
        return n < 18446744073709551616.0 ? (uint64_t)n : 0;
    if (n >= -9223372036854775808.0) return (uint64_t)(int64_t)n;
    return UINT64_C(1) << 63; /* NaN, below -2^63 */
}

static void struct_putint(lua_State *L, luaL_Buffer *b, int arg, int endian, size_t size)
{
    uint64_t v = struct_d2u(luaL_checknumber(L, arg));
    char bytes[STRUCT_MAXINTSIZE];
    for (size_t i = 0; i < size; i++) {
        unsigned char byte = i < 8 ? (unsigned char)(v >> (8 * i)) : 0;
        bytes[endian == STRUCT_LITTLE ? i : size - 1 - i] = (char)byte;
    }
    luaL_addlstring(b, bytes, size);
}

static lua_Number struct_getint(const unsigned char *p, int endian, int issigned, size_t size)
{
    /* Only the 8 least significant bytes count. */
    uint64_t v = 0;
    for (size_t i = 0; i < size && i < 8; i++) {
        size_t at = endian == STRUCT_LITTLE ? i : size - 1 - i;
        v |= (uint64_t)p[at] << (8 * i);
    }
    if (!issigned) return (lua_Number)v;
    uint64_t mask = ~UINT64_C(0) << ((size * 8 - 1) & 63);
    if (v & mask) v |= mask;
    return (lua_Number)(int64_t)v;
}

/* Copy n bytes of a float or double, reversed if the order asked for is
 * not the host's. */
static void struct_copy(void *dst, const void *src, size_t n, int endian)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    if (endian == struct_native()) {
        memcpy(d, s, n);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = s[n - 1 - i];
    }
}

static int struct_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct_opts o;
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;

    struct_defaults(&o);
    lua_pushnil(L); /* keeps the buffer's stack use above the arguments */
    luaL_buffinit(L, &b);
    while (*fmt) {
        int opt = (unsigned char)*fmt++;
        size_t size = struct_optsize(L, opt, &fmt);
        size_t pad = struct_toalign(total, &o, opt, size);
        total += pad;
        while (pad--) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H':
        case 'l': case 'L': case 'T': case 'i': case 'I':
            struct_putint(L, &b, arg++, o.endian, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            char out[4];
            struct_copy(out, &f, 4, o.endian);
            luaL_addlstring(&b, out, 4);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            char out[8];
            struct_copy(out, &d, 8, o.endian);
            luaL_addlstring(&b, out, 8);
            break;
        }
        case 'c': case 's': {
            size_t len;
            const char *s = luaL_checklstring(L, arg++, &len);
            if (size == 0) size = len;
            /* The library names the argument after the string's. */
            luaL_argcheck(L, len >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            struct_control(L, opt, &fmt, &o);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static int struct_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    struct_opts o;
    int n = 0; /* values pushed */

    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    struct_defaults(&o);
    while (*fmt) {
        int opt = (unsigned char)*fmt++;
        size_t size = struct_optsize(L, opt, &fmt);
        pos += struct_toalign(pos, &o, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        const unsigned char *p = (const unsigned char *)data + pos;
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H':
        case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, struct_getint(p, o.endian, islower(opt), size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            struct_copy(&f, p, 4, o.endian);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            struct_copy(&d, p, 8, o.endian);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)struct_d2u(lua_tonumber(L, -1));
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, (const char *)p, size);
            n++;
            break;
        case 's': {
            const unsigned char *end = memchr(p, '\0', ld - pos);
            if (!end) luaL_error(L, "unfinished string in data");
            size = (size_t)(end - p) + 1;
            lua_pushlstring(L, (const char *)p, size - 1);
            n++;
            break;
        }
        default:
            struct_control(L, opt, &fmt, &o);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)(pos + 1));
    return n + 1;
}

static int struct_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    struct_opts o;
    size_t pos = 0;

    struct_defaults(&o);
    while (*fmt) {
        int opt = (unsigned char)*fmt++;
        size_t size = struct_optsize(L, opt, &fmt);
        pos += struct_toalign(pos, &o, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        /* Unknown letters and digits count as size 0, as in the library;
         * unknown punctuation is an error. */
        if (!isalnum(opt)) struct_control(L, opt, &fmt, &o);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int lua_struct_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", struct_pack},
        {"unpack", struct_unpack},
        {"size", struct_size},
        {NULL, NULL},
    };
    luaL_register(L, "struct", fns);
    return 1;
}
