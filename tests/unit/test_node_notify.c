/* test_node_notify: node/client/notify.h — parsing of the class string and
 * its canonical text, checked against what redis-server 7.0.15 answers to
 * CONFIG SET / CONFIG GET notify-keyspace-events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "notify.h"

static const char *canon(const char *in)
{
    static char out[32];
    int f = notify_parse(in, strlen(in));
    if (f < 0) return NULL;
    return notify_flags_string(f, out);
}

static void test_canonical_forms(void **state)
{
    (void)state;
    /* redis-server 7.0.15: CONFIG SET x then CONFIG GET shows y */
    assert_string_equal(canon("KEA"), "AKE");
    assert_string_equal(canon("AKE"), "AKE");
    assert_string_equal(canon("KEAnm"), "AKEm");   /* 'n' is not shown next to 'A' */
    assert_string_equal(canon("g$lshzxetd"), "A");
    assert_string_equal(canon("Kn"), "nK");
    assert_string_equal(canon("mE"), "Em");
    assert_string_equal(canon(""), "");
    assert_string_equal(canon("AAg"), "A");
    assert_string_equal(canon("Kdte"), "etdK");
    assert_string_equal(canon("x$"), "$x");
}

static void test_flags(void **state)
{
    (void)state;
    assert_int_equal(notify_parse("KEAn", 4), NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT | NOTIFY_NEW);
    assert_int_equal(notify_parse("A", 1) & (NOTIFY_NEW | NOTIFY_KEY_MISS), 0);
    assert_int_equal(notify_parse("", 0), 0);
    assert_int_equal(notify_parse("m", 1), NOTIFY_KEY_MISS);
}

static void test_refused(void **state)
{
    (void)state;
    assert_int_equal(notify_parse("Q", 1), -1);
    assert_int_equal(notify_parse("KEA ", 4), -1);
    assert_int_equal(notify_parse("k", 1), -1);
    assert_int_equal(notify_parse("a", 1), -1);
    assert_int_equal(notify_parse("K\0E", 3), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
