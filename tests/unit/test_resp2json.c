/* test_resp2json: the RESP -> JSON mapping of the HTTP API
 * (common/resp2json.c), the error -> HTTP status table, the JSON reader
 * and base64 (common/json.c), and which commands httpapi refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "httpapi.h"
#include "json.h"
#include "reply.h"
#include "resp2json.h"

/* Map a reply and compare with the expected JSON text exactly. */
static void check_map(const char *resp, size_t len, const char *want)
{
    /* The converter is given exactly what the framer frames. */
    reply_scanner sc;
    reply_scanner_init(&sc);
    size_t end = 0;
    assert_int_equal(reply_scan(&sc, resp, len, &end), REPLY_OK);
    assert_int_equal(end, len);
    buf out;
    buf_init(&out);
    assert_int_equal(resp2json(&out, resp, len), 0);
    buf_append_char(&out, 0);
    assert_string_equal(out.data, want);
    buf_free(&out);
}
#define MAP(r, want) check_map(r, sizeof r - 1, want)

static void test_scalars(void **state)
{
    (void)state;
    MAP("+OK\r\n", "\"OK\"");
    MAP("$5\r\nhello\r\n", "\"hello\"");
    MAP("$0\r\n\r\n", "\"\"");
    MAP("$3\r\na\"\n\r\n", "\"a\\\"\\n\"");
    MAP("$2\r\n\x01\x1f\r\n", "\"\\u0001\\u001f\"");
    MAP("$4\r\n\xc3\xa9t\xc3\r\n", "{\"base64\":\"w6l0ww==\"}");     /* cut UTF-8 */
    MAP("$3\r\n\xe2\x82\xac\r\n", "\"\xe2\x82\xac\"");                 /* euro sign */
    MAP("$2\r\n\x00\xff\r\n", "{\"base64\":\"AP8=\"}");
    MAP("$3\r\n\xed\xa0\x80\r\n", "{\"base64\":\"7aCA\"}");           /* a surrogate */
    MAP("$2\r\n\xc0\xaf\r\n", "{\"base64\":\"wK8=\"}");               /* overlong */
    MAP(":42\r\n", "42");
    MAP(":-9223372036854775808\r\n", "-9223372036854775808");
    MAP(",3.25\r\n", "3.25");
    MAP(",1e+300\r\n", "1e+300");
    MAP(",inf\r\n", "\"inf\"");
    MAP(",-inf\r\n", "\"-inf\"");
    MAP(",nan\r\n", "\"nan\"");
    MAP("#t\r\n", "true");
    MAP("#f\r\n", "false");
    MAP("_\r\n", "null");
    MAP("$-1\r\n", "null");
    MAP("*-1\r\n", "null");
    MAP("(3492890328409238509324850943850943825024385\r\n",
        "{\"bignum\":\"3492890328409238509324850943850943825024385\"}");
    MAP("=15\r\ntxt:Some string\r\n", "\"Some string\"");
    MAP("-ERR unknown command 'x'\r\n", "{\"error\":\"ERR unknown command 'x'\"}");
    MAP("!21\r\nSYNTAX invalid syntax\r\n", "{\"error\":\"SYNTAX invalid syntax\"}");
}

static void test_aggregates(void **state)
{
    (void)state;
    MAP("*0\r\n", "[]");
    MAP("*3\r\n:1\r\n$1\r\na\r\n_\r\n", "[1,\"a\",null]");
    MAP("*2\r\n*1\r\n:1\r\n*0\r\n", "[[1],[]]");
    MAP("~2\r\n+a\r\n+b\r\n", "[\"a\",\"b\"]");
    MAP(">2\r\n+message\r\n+x\r\n", "[\"message\",\"x\"]");
    MAP("%0\r\n", "{}");
    MAP("%2\r\n+a\r\n:1\r\n$1\r\nb\r\n*1\r\n#t\r\n", "{\"a\":1,\"b\":[true]}");
    MAP("%1\r\n=7\r\ntxt:key\r\n,1.5\r\n", "{\"key\":1.5}");
    /* A key that is not a string: every pair becomes [k, v]. */
    MAP("%2\r\n+a\r\n:1\r\n:7\r\n:2\r\n", "[[\"a\",1],[7,2]]");
    /* A key that is not UTF-8 cannot be a member name either. */
    MAP("%1\r\n$1\r\n\xff\r\n:1\r\n", "[[{\"base64\":\"/w==\"},1]]");
    MAP("%1\r\n*1\r\n:1\r\n+v\r\n", "[[[1],\"v\"]]");
    /* Attributes are dropped, at the top and inside. */
    MAP("|1\r\n+ttl\r\n:3\r\n+value\r\n", "\"value\"");
    MAP("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", "[1,2]");
    MAP("*1\r\n-WRONGTYPE x\r\n", "[{\"error\":\"WRONGTYPE x\"}]");
}

static void test_bad_reply(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    assert_int_equal(resp2json(&out, "?x\r\n", 4), -1);
    buf_clear(&out);
    assert_int_equal(resp2json(&out, "*2\r\n:1\r\n", 8), -1); /* truncated */
    buf_free(&out);
}

static int status(const char *e)
{
    return resp2json_http_status(e, strlen(e));
}

static void test_status(void **state)
{
    (void)state;
    assert_int_equal(status("NOAUTH Authentication required."), 401);
    assert_int_equal(status("WRONGPASS invalid username-password pair or user is disabled."), 401);
    assert_int_equal(status("NOPERM this user has no permissions"), 403);
    assert_int_equal(status("ERR unknown command 'x', with args beginning with: "), 404);
    assert_int_equal(status("ERR unknown subcommand 'x'. Try CLIENT HELP."), 404);
    assert_int_equal(status("ERR syntax error"), 400);
    assert_int_equal(status("ERR wrong number of arguments for 'get' command"), 400);
    assert_int_equal(status("WRONGTYPE Operation against a key holding the wrong kind of value"), 400);
    assert_int_equal(status("CROSSSLOT Keys in request don't hash to the same slot"), 400);
    assert_int_equal(status("EXECABORT Transaction discarded because of previous errors."), 400);
    assert_int_equal(status("LOADING Redis is loading the dataset in memory"), 503);
    assert_int_equal(status("READONLY You can't write against a read only replica."), 503);
    assert_int_equal(status("BUSY Redis is busy running a script."), 503);
    assert_int_equal(status("ERR max number of clients reached"), 503);
    assert_int_equal(status("OOM command not allowed"), 507);
    assert_int_equal(status("ERR backend unavailable 127.0.0.1:7001 (group g1): refused"), 502);
    assert_int_equal(status("NOAUTHX"), 400);
}

static void test_json_reader(void **state)
{
    (void)state;
    char err[128];
    const char *text = " [\"SET\", \"k\\u00e9\\ud83d\\ude00\\n\\\"\", 12.5e3, {\"base64\": \"AA==\"}, true, null, [], {}] ";
    json *j = json_parse(text, strlen(text), err, sizeof err);
    assert_non_null(j);
    assert_int_equal(j->type, JSON_ARRAY);
    assert_int_equal(j->n, 8);
    assert_string_equal(j->items[0]->str, "SET");
    assert_int_equal(j->items[1]->len, 1 + 2 + 4 + 2);
    assert_memory_equal(j->items[1]->str, "k\xc3\xa9\xf0\x9f\x98\x80\n\"", 9);
    assert_int_equal(j->items[2]->type, JSON_NUMBER);
    assert_string_equal(j->items[2]->str, "12.5e3");
    const json *b = json_get(j->items[3], "base64");
    assert_non_null(b);
    assert_string_equal(b->str, "AA==");
    assert_int_equal(j->items[4]->type, JSON_BOOL);
    assert_int_equal(j->items[4]->b, 1);
    assert_int_equal(j->items[5]->type, JSON_NULL);
    assert_int_equal(j->items[6]->n, 0);
    assert_int_equal(j->items[7]->type, JSON_OBJECT);
    json_free(j);

    /* A NUL in a string is kept. */
    j = json_parse("\"a\\u0000b\"", 10, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(j->len, 3);
    assert_memory_equal(j->str, "a\0b", 3);
    json_free(j);

    static const char *const bad[] = {
        "", "[", "[1,]", "[1 2]", "{\"a\"}", "{\"a\":1,}", "\"abc", "\"\\x\"", "01", "1.", "-",
        "[1] x", "\"\\ud800\"", "\"\\udc00x\"", "tru", "\"a\tb\"", "{1:2}", NULL,
    };
    for (int i = 0; bad[i]; i++) {
        json *x = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        if (x) fail_msg("accepted bad JSON: %s", bad[i]);
        assert_non_null(strstr(err, "at byte"));
    }
    /* Nesting is bounded. */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_null(json_parse(deep, 200, err, sizeof err));
    assert_non_null(strstr(err, "nesting too deep"));
    assert_non_null(j = json_parse(deep + 100 - JSON_MAX_DEPTH, 2 * JSON_MAX_DEPTH, err, sizeof err));
    json_free(j);
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (int i = 0; i < 7; i++) {
        buf b;
        buf_init(&b);
        json_add_base64(&b, plain[i], strlen(plain[i]));
        assert_int_equal(b.len, strlen(enc[i]));
        if (b.len) assert_memory_equal(b.data, enc[i], b.len);
        buf_free(&b);
        size_t n;
        char *d = json_base64_decode(enc[i], strlen(enc[i]), &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
    size_t n;
    assert_null(json_base64_decode("Zm9v!", 5, &n));
    assert_null(json_base64_decode("Z", 1, &n));
}

static const char *refusal(int argc, ...)
{
    static char *argv[16];
    static size_t lens[16];
    static char tmp[256];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        argv[i] = va_arg(ap, char *);
        lens[i] = strlen(argv[i]);
    }
    va_end(ap);
    return httpapi_refusal(argc, argv, lens, tmp, sizeof tmp);
}

static void test_refusals(void **state)
{
    (void)state;
    const char *r = refusal(2, "subscribe", "ch");
    assert_non_null(r);
    assert_string_equal(r, "ERR SUBSCRIBE is not available over HTTP: it needs a connection that lasts "
                           "across requests (use RESP)");
    assert_non_null(refusal(1, "MONITOR"));
    assert_non_null(refusal(2, "Hello", "3"));
    assert_non_null(refusal(1, "quit"));
    assert_non_null(refusal(2, "select", "0"));
    assert_non_null(refusal(3, "client", "reply", "off"));
    assert_non_null(refusal(3, "client", "tracking", "on"));
    assert_null(refusal(2, "client", "list"));
    assert_null(refusal(2, "client", "id"));
    r = refusal(3, "blpop", "l", "0");
    assert_non_null(r);
    assert_non_null(strstr(r, "BLPOP with a timeout of 0"));
    assert_non_null(refusal(3, "brpop", "l", "0.0"));
    assert_null(refusal(3, "blpop", "l", "0.5"));
    assert_non_null(refusal(6, "blmove", "a", "b", "left", "right", "0"));
    assert_non_null(refusal(5, "bzmpop", "0", "1", "z", "min"));
    assert_null(refusal(5, "bzmpop", "1", "1", "z", "min"));
    assert_non_null(refusal(6, "xread", "block", "0", "streams", "s", "$"));
    assert_null(refusal(6, "xread", "block", "10", "streams", "s", "$"));
    assert_null(refusal(6, "xread", "count", "0", "streams", "s", "$"));
    /* "block" after STREAMS is a key name, not the option. */
    assert_null(refusal(6, "xread", "streams", "block", "0", "0", "0"));
    assert_non_null(refusal(3, "wait", "1", "0"));
    assert_null(refusal(3, "wait", "1", "100"));
    assert_null(refusal(3, "set", "k", "v"));
    assert_null(refusal(1, "multi")); /* checked per pipeline */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),      cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_bad_reply),    cmocka_unit_test(test_status),
        cmocka_unit_test(test_json_reader),  cmocka_unit_test(test_base64),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
