/* test_lua_struct: the struct Lua module (node/script/lib/lua_struct.c).
 *
 * fixtures/lua_struct.txt (made by fixtures/gen_lua_libs.py) holds what
 * redis-server 7.0 answered for ~2100 cases: every integer format and
 * size (i1..i32, I, l, L, T) in both byte orders with boundary and
 * out-of-range values (NaN, inf, 2^63, 2^64), packing and unpacking, f
 * and d, x, c with counts, c0 both ways, s, alignment with '!' '!n' and
 * non-power-of-2 sizes, offsets, struct.size, and the error texts
 * (including '=' and bad counts).  The test replays them, then checks
 * random round trips and random formats on random data (run it under
 * -DSTRATA_SANITIZE=ON to check the bounds). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lua_fixture.h"

static void test_redis_fixture(void **state)
{
    rand48 r;
    rand48_init(&r);
    assert_true(fx_check_file("lua_struct.txt", &r) >= 2000);
}

/* Random formats of integer, float and string fields, with random
 * options, pack then unpack to the same values and the size struct.size
 * predicts. */
static void test_round_trip(void **state)
{
    rand48 r;
    rand48_seed(&r, 5);
    lua_State *L = fx_state(&r);
    fx_run_true(L,
             "local ints = {{'b', -128, 127}, {'B', 0, 255}, {'h', -32768, 32767}, {'H', 0, 65535}, "
             "  {'i', -2147483648, 2147483647}, {'I', 0, 4294967295}, {'l', -2^53, 2^53}, "
             "  {'L', 0, 2^53}, {'i3', -8388608, 8388607}, {'I5', 0, 2^40 - 1}, {'i8', -2^53, 2^53}} "
             "for iter = 1, 3000 do "
             "  local fmt, vals, nostr = {}, {}, true "
             "  if math.random(2) == 1 then fmt[1] = ({'<', '>', '!', '!2', '!4', '!8'})[math.random(6)] end "
             "  for f = 1, math.random(0, 8) do local k = math.random(1, 14) "
             "    if k <= 11 then local d = ints[k] fmt[#fmt + 1] = d[1] "
             "      vals[#vals + 1] = math.random() < 0.2 and d[2] or math.random() < 0.25 and d[3] or "
             "        math.floor(d[2] + (d[3] - d[2]) * math.random()) "
             "    elseif k == 12 then fmt[#fmt + 1] = 'd' vals[#vals + 1] = math.random() * 1e10 "
             "    elseif k == 13 then fmt[#fmt + 1] = 'f' vals[#vals + 1] = math.random(-1000, 1000) / 4 "
             "    else fmt[#fmt + 1] = 'c3' vals[#vals + 1] = string.char(math.random(0, 255), 65, 0) end "
             "    if math.random(5) == 1 then fmt[#fmt + 1] = ({'<', '>', ' ', 'x'})[math.random(4)] end "
             "  end "
             "  fmt = table.concat(fmt) "
             "  local s = struct.pack(fmt, unpack(vals)) "
             "  if #s ~= struct.size(fmt) then return 'size of ' .. fmt end "
             "  local back = {struct.unpack(fmt, s)} "
             "  if #back ~= #vals + 1 or back[#back] ~= #s + 1 then return 'count of ' .. fmt end "
             "  for i = 1, #vals do if back[i] ~= vals[i] then return fmt .. ' field ' .. i .. ': ' .. tostring(vals[i]) .. ' ~= ' .. tostring(back[i]) end end "
             "end return true");
    lua_close(L);
}

/* Random formats over random short data and offsets: no crash and no
 * read past the data (ASan); errors are the library's. */
static void test_fuzz(void **state)
{
    static const char alphabet[] = "bBhHlLTiIfdxcs<>! 012345678913c0c0i9!4!3s=";
    rand48 r;
    rand48_seed(&r, 77);
    lua_State *L = fx_state(&r);
    char fmt[24];
    unsigned char data[40];
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 40000; iter++) {
        size_t flen = (size_t)(rand48_next(&r) % (int)(sizeof fmt - 1));
        for (size_t i = 0; i < flen; i++)
            fmt[i] = alphabet[rand48_next(&r) % (int)(sizeof alphabet - 1)];
        fmt[flen] = '\0';
        size_t dlen = (size_t)(rand48_next(&r) % (int)sizeof data);
        for (size_t i = 0; i < dlen; i++)
            data[i] = (unsigned char)((rand48_next(&r) & 1) ? rand48_next(&r) % 4 : rand48_next(&r));
        int which = iter % 3;
        lua_getglobal(L, "struct");
        lua_getfield(L, -1, which == 0 ? "unpack" : which == 1 ? "size" : "pack");
        lua_remove(L, -2);
        lua_pushstring(L, fmt);
        int nargs = 1;
        if (which == 0) {
            lua_pushlstring(L, (const char *)data, dlen);
            lua_pushinteger(L, rand48_next(&r) % (int)(dlen + 3) - 1);
            nargs += 2;
        } else if (which == 2) {
            for (int i = 0; i < 6; i++) {
                if (rand48_next(&r) & 1)
                    lua_pushnumber(L, (double)rand48_next(&r) - 1e9);
                else
                    lua_pushlstring(L, (const char *)data, dlen);
                nargs++;
            }
        }
        if (lua_pcall(L, nargs, LUA_MULTRET, 0) == 0) {
            ok++;
        } else {
            assert_non_null(lua_tostring(L, -1));
            failed++;
        }
        lua_settop(L, 0);
    }
    assert_true(ok > 1000 && failed > 1000);
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_fixture),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
