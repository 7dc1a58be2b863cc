/* test_lua_cmsgpack: the cmsgpack Lua module (node/script/lib/lua_cmsgpack.c).
 *
 * fixtures/lua_cmsgpack.txt (made by fixtures/gen_lua_libs.py) holds what
 * redis-server 7.0 answered for ~290 cases: integers at every encoding
 * boundary, floats and doubles (-0, NaN, inf, huge, tiny), strings of
 * 0..100000 bytes, arrays and maps around 15/16/65535/65536 entries,
 * sparse and mixed tables, nesting 1..20 and cycles, 4000+ arguments,
 * every type byte alone, hostile lengths, truncation at every byte,
 * thousands of values or levels (the Lua stack limit), unpack_one and
 * unpack_limit offsets, and the error texts.  The test replays them, then
 * checks round trips and feeds random and truncated bytes (run it under
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
    assert_true(fx_check_file("lua_cmsgpack.txt", &r) >= 250);
}

/* Random values packed, unpacked and packed again give the same bytes;
 * numbers and strings come back equal. */
static void test_round_trip(void **state)
{
    rand48 r;
    rand48_seed(&r, 99);
    lua_State *L = fx_state(&r);
    fx_run_true(L,
             "local function gen(depth) "
             "  local k = math.random(1, depth > 3 and 6 or 8) "
             "  if k == 1 then return math.random(-2147483647, 2147483647) * math.random(1, 2147483647) "
             "  elseif k == 2 then return (math.random() - 0.5) * 10 ^ math.random(-300, 300) "
             "  elseif k == 3 then return string.rep(string.char(math.random(0, 255)), math.random(0, 300)) "
             "  elseif k == 4 then return math.random(1, 2) == 1 "
             "  elseif k == 5 then return math.random(-40, 300) "
             "  elseif k == 6 then return math.random(-70000, 70000) "
             "  elseif k == 7 then local t = {} for i = 1, math.random(0, 20) do t[i] = gen(depth + 1) end return t "
             "  else local t = {} for i = 1, math.random(0, 20) do t['k' .. math.random(1, 50)] = gen(depth + 1) end return t end "
             "end "
             "local function same(a, b) "
             "  if type(a) ~= type(b) then return false end "
             "  if type(a) ~= 'table' then return a == b end "
             "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end "
             "  for k in pairs(b) do if a[k] == nil then return false end end return true "
             "end "
             "for i = 1, 2000 do "
             "  local v = gen(0) local s = cmsgpack.pack(v) local back = cmsgpack.unpack(s) "
             "  if not same(v, back) or cmsgpack.pack(back) ~= s then return 'mismatch at ' .. i end "
             "  local off, again = cmsgpack.unpack_one(s .. s, 0) "
             "  if off ~= #s or cmsgpack.pack(again) ~= s then return 'unpack_one at ' .. i end "
             "end return true");
    lua_close(L);
}

/* Every proper prefix of one packed value is "Missing bytes in input.";
 * every longer string decodes or fails cleanly. */
static void test_truncation(void **state)
{
    rand48 r;
    rand48_init(&r);
    lua_State *L = fx_state(&r);
    fx_run_true(L,
             "local vals = { {1, 2, {3, {4, {5}}}}, {a = 'x', b = {c = 2^40, d = -2^40}}, "
             "  string.rep('s', 300), string.rep('t', 70000), 1.5, 0.1, -129, 2^33, -2^33, "
             "  {[1] = true, [2] = false, [10] = 'ten'}, {{}, {}, {{}}} } "
             "for _, v in ipairs(vals) do local s = cmsgpack.pack(v) "
             "  for k = 1, #s - 1, (#s > 1000 and 997 or 1) do local p = s:sub(1, k) "
             "    local ok, e = pcall(cmsgpack.unpack, p) "
             "    if ok or not e:find('Missing bytes in input.', 1, true) then return 'prefix ' .. k end "
             "    ok, e = pcall(cmsgpack.unpack_one, p) "
             "    if ok or not e:find('Missing bytes in input.', 1, true) then return 'one prefix ' .. k end "
             "  end "
             "end return true");
    lua_close(L);
}

/* Random bytes, biased towards type bytes and short lengths, through all
 * three decoders at random offsets: no crash, no read past the string
 * (ASan), and an error or values. */
static void test_fuzz(void **state)
{
    static const unsigned char interesting[] = {
        0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa5, 0xbf, 0xc0, 0xc1,
        0xc2, 0xc3, 0xc4, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3,
        0xd4, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
    };
    rand48 r;
    rand48_seed(&r, 2024);
    lua_State *L = fx_state(&r);
    unsigned char data[96];
    const char *fns[] = {"unpack", "unpack_one", "unpack_limit"};
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 40000; iter++) {
        size_t len = (size_t)(rand48_next(&r) % (int)sizeof data);
        for (size_t i = 0; i < len; i++) {
            int32_t x = rand48_next(&r);
            data[i] = (x & 1) ? interesting[(x >> 1) % (int)sizeof interesting]
                              : (x & 2) ? (unsigned char)((x >> 2) % 4) : (unsigned char)(x >> 8);
        }
        const char *fn = fns[iter % 3];
        lua_getglobal(L, "cmsgpack");
        lua_getfield(L, -1, fn);
        lua_remove(L, -2);
        lua_pushlstring(L, (const char *)data, len);
        int nargs = 1;
        if (iter % 3 == 2) {
            lua_pushinteger(L, rand48_next(&r) % 5);
            nargs++;
        }
        if (iter % 3 != 0) {
            lua_pushinteger(L, (lua_Integer)(rand48_next(&r) % (int)(len + 2)) - 1);
            nargs++;
        }
        if (lua_pcall(L, nargs, LUA_MULTRET, 0) == 0) {
            ok++;
        } else {
            const char *e = lua_tostring(L, -1);
            assert_non_null(e);
            assert_true(strstr(e, "Missing bytes") || strstr(e, "Bad data format") ||
                        strstr(e, "table index is") || strstr(e, "Invalid request") ||
                        strstr(e, "Start offset"));
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
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
