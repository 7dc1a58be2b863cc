/* test_rand48: Redis's math.random generator (node/script/lib/rand48.c).
 *
 * The C API against the rand48 definition, then fixtures/rand48.txt (made
 * by fixtures/gen_lua_libs.py on a fresh redis-server 7.0): math.random in
 * all three forms, math.randomseed with odd seeds, the errors, and the
 * state a server starts with and carries from one script to the next.
 * The cases are replayed in order on one fresh state, as recorded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lua_fixture.h"

static void test_c_api(void **state)
{
    rand48 r;
    rand48_seed(&r, 1);
    assert_true(r.x == 0x1330E);
    /* X1 = (0x5DEECE66D * 0x1330E + 0xB) mod 2^48, next = X1 >> 17. */
    uint64_t x = (UINT64_C(0x5DEECE66D) * 0x1330E + 0xB) & ((UINT64_C(1) << 48) - 1);
    assert_int_equal(rand48_next(&r), (int32_t)(x >> 17));
    /* The research vector: seed 1, two math.random(100) draws are 5, 46. */
    rand48_seed(&r, 1);
    assert_int_equal((int)(rand48_unit(&r) * 100) + 1, 5);
    assert_int_equal((int)(rand48_unit(&r) * 100) + 1, 46);
    /* Negative seeds keep their 32 bits; the state stays within 48 bits. */
    rand48_seed(&r, -1);
    assert_true(r.x == ((UINT64_C(0xffffffff) << 16) | 0x330E));
    for (int i = 0; i < 1000; i++) {
        int32_t v = rand48_next(&r);
        assert_true(v >= 0 && v <= RAND48_MAX);
        assert_true(r.x < (UINT64_C(1) << 48));
        double u = rand48_unit(&r);
        assert_true(u >= 0.0 && u < 1.0);
    }
    rand48_init(&r);
    assert_true(r.x == UINT64_C(0x1234ABCD330E));
}

static void test_redis_fixture(void **state)
{
    rand48 r;
    rand48_init(&r);
    assert_true(fx_check_file("rand48.txt", &r) >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_api),
        cmocka_unit_test(test_redis_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
