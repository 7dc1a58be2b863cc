/* test_node_rconfig: node/server/rconfig.c (the Redis-only CONFIG
 * parameters) and the histogram of node/server/cmdstats.c.  Every
 * accepted value's canonical form and every refusal text below was read
 * from redis-server 7.0.15 (CONFIG SET then CONFIG GET); the percentile
 * values are those Redis prints for the same durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmdstats.h"
#include "cmdtable.h"
#include "rconfig.h"

/* value -> canonical text, or NULL with the error expected */
static void check(const char *name, const char *value, const char *canon, const char *err)
{
    const struct rconf_param *p = rconf_find(name, strlen(name));
    assert_non_null(p);
    buf out;
    buf_init(&out);
    const char *e = NULL;
    int r = rconf_check(p, value, strlen(value), &out, &e);
    if (canon) {
        if (r != 0) fail_msg("%s %s refused: %s", name, value, e);
        assert_int_equal(out.len, strlen(canon));
        assert_memory_equal(out.data ? out.data : "", canon, out.len);
    } else {
        assert_int_equal(r, -1);
        assert_string_equal(e, err);
    }
    buf_free(&out);
}

static void test_types(void **state)
{
    (void)state;
    check("maxmemory", "1k", "1000", NULL);
    check("maxmemory", "1KB", "1024", NULL);
    check("maxmemory", "2gb", "2147483648", NULL);
    check("maxmemory", "", "0", NULL);
    check("maxmemory", "18446744073709551616", "18446744073709551615", NULL);
    check("maxmemory", "-1", NULL, "argument must be a memory value");
    check("maxmemory", "1.5mb", NULL, "argument must be a memory value");
    check("stream-node-max-bytes", "99999999999999999999kb", NULL,
          "argument must be between 0 and 9223372036854775807 inclusive");
    check("hash-max-ziplist-entries", "7", "7", NULL);
    check("hash-max-listpack-entries", "-1", NULL, "argument must be between 0 and 9223372036854775807 inclusive");
    check("hash-max-listpack-entries", "1k", NULL, "argument couldn't be parsed into an integer");
    check("hash-max-listpack-value", "1k", "1000", NULL);
    check("list-max-listpack-size", "-6", "-6", NULL);
    check("list-compress-depth", "-1", NULL, "argument must be between 0 and 2147483647 inclusive");
    check("maxmemory-samples", "0", NULL, "argument must be between 1 and 2147483647 inclusive");
    check("slowlog-log-slower-than", "-5", NULL, "argument must be between -1 and 9223372036854775807 inclusive");
    check("maxmemory-clients", "10%", "10%", NULL);
    check("maxmemory-clients", "101%", NULL, "percentage argument must be less or equal to 100");
    check("maxmemory-clients", "x", NULL, "argument must be a memory or percent value");
    check("activedefrag", "no", "no", NULL);
    check("lazyfree-lazy-user-del", "YES", "yes", NULL);
    check("appendonly", "1", NULL, "argument must be 'yes' or 'no'");
    check("appendfsync", "EVERYSEC", "everysec", NULL);
    check("appendfsync", "foo", NULL, "argument(s) must be one of the following: everysec, always, no");
    check("maxmemory-policy", "lru", NULL,
          "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
          "allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
    check("save", "", "", NULL);
    check("save", "+5 07", "5 7", NULL);
    check("save", "3600 1 300 100", "3600 1 300 100", NULL);
    check("save", "1 2 3", NULL, "Invalid save parameters");
    check("save", "0 1", NULL, "Invalid save parameters");
    check("save", "  ", NULL, "Invalid save parameters");
    check("latency-tracking-info-percentiles", "50 99.5", "50 99.5", NULL);
    check("latency-tracking-info-percentiles", "101", NULL,
          "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]");
    check("latency-tracking-info-percentiles", "x", NULL, "Invalid latency-tracking-info-percentiles parameters");
}

static void test_names(void **state)
{
    (void)state;
    const struct rconf_param *p = rconf_find("LUA-TIME-LIMIT", 14);
    assert_non_null(p);
    assert_string_equal(rconf_name(p), "busy-reply-threshold");
    assert_string_equal(rconf_name_used(p, "Lua-Time-Limit", 14), "lua-time-limit");
    assert_null(rconf_find("nosuch", 6));
    assert_true(rconf_immutable(rconf_find("daemonize", 9)));
    assert_false(rconf_immutable(rconf_find("save", 4)));
    /* defaults read as numbers */
    assert_int_equal(rconf_num("slowlog-log-slower-than"), 10000);
    assert_int_equal(rconf_num("latency-tracking"), 1);
    buf out;
    buf_init(&out);
    const char *err;
    assert_int_equal(rconf_check(p, "250", 3, &out, &err), 0);
    rconf_apply(p, out.data, out.len);
    assert_int_equal(rconf_num("lua-time-limit"), 250);
    buf_free(&out);
    double pct[4];
    assert_int_equal(rconf_percentiles(pct, 4), 3);
    assert_true(pct[2] == 99.9);
}

static void test_percentiles(void **state)
{
    (void)state;
    const struct cmd_spec *ping = cmd_lookup("ping", 4);
    assert_non_null(ping);
    struct cmdstat *s = cmdstats_get(ping, NULL);
    for (int i = 0; i < 4; i++) cmdstats_call(s, 1);
    cmdstats_call(s, 100);
    buf o;
    buf_init(&o);
    cmdstats_info_latency(&o);
    buf_append_char(&o, '\0');
    assert_non_null(strstr(o.data, "latency_percentiles_usec_ping:p50=1.003,p99=100.351,p99.9=100.351\r\n"));
    o.len = 0;
    cmdstats_info_commands(&o);
    buf_append_char(&o, '\0');
    assert_non_null(strstr(o.data, "cmdstat_ping:calls=5,usec=104,usec_per_call=20.80,rejected_calls=0,failed_calls=0\r\n"));
    cmdstats_error("-WRONGTYPE Operation", 20);
    cmdstats_error("-ERR x", 6);
    cmdstats_error("-NOSPACEINTHEFIRST32BYTESATALLREALLYNONE", 40);
    o.len = 0;
    cmdstats_info_errors(&o);
    buf_append_char(&o, '\0');
    assert_string_equal(o.data, "# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n");
    cmdstats_reset();
    o.len = 0;
    cmdstats_info_latency(&o);
    buf_append_char(&o, '\0');
    assert_string_equal(o.data, "# Latencystats\r\n");
    buf_free(&o);
}

int main(void)
{
    cmd_table_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_percentiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
