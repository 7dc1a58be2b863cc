/* test_acl: common/acl.c — the rule parser (Redis 7.0's texts of ACL LIST
 * and its errors, checked against redis-server 7.0.15 by hand and by
 * tests/e2e/test_acl_diff.py), the checker (commands, first-args, key
 * read/write permissions from the key specs, channels, selectors), the
 * SHA-256 hashes and the ACL file round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "cmdtable.h"
#include "sha256.h"

static int setuser(struct acl *a, const char *name, const char *rules, buf *err)
{
    char *copy = strdup(rules);
    char *argv[64];
    size_t lens[64];
    int n = 0;
    for (char *t = strtok(copy, " "); t && n < 64; t = strtok(NULL, " ")) {
        argv[n] = t;
        lens[n++] = strlen(t);
    }
    buf_clear(err);
    int rc = acl_setuser(a, name, strlen(name), n, argv, lens, err);
    free(copy);
    return rc;
}

static char *describe(struct acl *a, const char *name)
{
    static char out[4096];
    buf b;
    buf_init(&b);
    acl_describe_user(acl_user_get(a, name, strlen(name)), &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data);
    buf_free(&b);
    return out;
}

static int check(struct acl *a, const char *name, const char *line, int *pos)
{
    char *copy = strdup(line);
    char *argv[32];
    size_t lens[32];
    int n = 0;
    for (char *t = strtok(copy, " "); t && n < 32; t = strtok(NULL, " ")) {
        argv[n] = t;
        lens[n++] = strlen(t);
    }
    const struct cmd_meta *m = cmdmeta_lookup_argv(n, argv, lens);
    assert_non_null(m);
    int r = acl_check(acl_user_get(a, name, strlen(name)), m, n, argv, lens, pos);
    free(copy);
    return r;
}

static void test_sha256(void **s)
{
    (void)s;
    char h[65];
    sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(m, strlen(m), h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* what redis-server 7.0 stores for ">p1" */
    sha256_hex("p1", 2, h);
    assert_string_equal(h, "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a");
}

static void test_describe(void **s)
{
    (void)s;
    struct acl *a = acl_create();
    buf err;
    buf_init(&err);
    assert_string_equal(describe(a, "default"), "on nopass ~* &* +@all");
    assert_int_equal(setuser(a, "u1", "", &err), 0);
    assert_string_equal(describe(a, "u1"), "off resetchannels -@all");
    assert_int_equal(setuser(a, "u5", "reset", &err), 0);
    assert_string_equal(describe(a, "u5"), "off sanitize-payload resetchannels -@all");
    assert_int_equal(setuser(a, "u2", "on >p1 ~a* %R~b* %W~c* %RW~d &ch* +get (~x* +set)", &err), 0);
    assert_string_equal(describe(a, "u2"),
                        "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~a* %R~b* %W~c* ~d "
                        "resetchannels &ch* -@all +get (~x* resetchannels -@all +set)");
    assert_int_equal(setuser(a, "u3", "+@all -get", &err), 0);
    assert_string_equal(describe(a, "u3"), "off resetchannels +@all -get");
    assert_int_equal(setuser(a, "u4", "+@all -get +@read", &err), 0);
    assert_string_equal(describe(a, "u4"), "off resetchannels +@all");
    assert_int_equal(setuser(a, "u6", "+select|0 +config|get", &err), 0);
    assert_non_null(strstr(describe(a, "u6"), "+select|0"));
    assert_non_null(strstr(describe(a, "u6"), "+config|get"));
    /* nopass clears the passwords; >pass clears nopass */
    assert_int_equal(setuser(a, "u7", ">a >b <a nopass", &err), 0);
    assert_string_equal(describe(a, "u7"), "off nopass resetchannels -@all");
    buf_free(&err);
    acl_destroy(a);
}

static void test_errors(void **s)
{
    (void)s;
    struct acl *a = acl_create();
    buf err;
    buf_init(&err);
    struct { const char *rules, *msg; } cases[] = {
        { "%~x", "Error in ACL SETUSER modifier '%~x': Syntax error" },
        { "~* ~x", "Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) "
                   "is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of "
                   "patterns" },
        { "<zz", "Error in ACL SETUSER modifier '<zz': The password you are trying to remove from the user does "
                 "not exist" },
        { "#zz", "Error in ACL SETUSER modifier '#zz': The password hash must be exactly 64 characters and contain "
                 "only lowercase hexadecimal characters" },
        { "+nosuch", "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL" },
        { "+config|get|x", "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is "
                           "not supported" },
        { "-get|x", "Error in ACL SETUSER modifier '-get|x': Unknown command or category name in ACL" },
        { "+select|", "Error in ACL SETUSER modifier '+select|': Syntax error" },
        { "foo", "Error in ACL SETUSER modifier 'foo': Syntax error" },
        { "(+get", "Unmatched parenthesis in acl selector starting at '(+get'." },
        { "(on)", "Error in ACL SETUSER modifier '(on)': Syntax error" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(setuser(a, "e", cases[i].rules, &err), -1);
        buf_append_char(&err, '\0');
        assert_string_equal(err.data, cases[i].msg);
    }
    /* all or nothing: the failed calls left no user behind */
    assert_null(acl_user_get(a, "e", 1));
    assert_int_equal(setuser(a, "a b", "", &err), -1);
    buf_free(&err);
    acl_destroy(a);
}

static void test_check(void **s)
{
    (void)s;
    struct acl *a = acl_create();
    buf err;
    buf_init(&err);
    int pos;
    assert_int_equal(setuser(a, "u", "on nopass +get +set +lmove +publish +psubscribe +select|0 "
                                      "%R~r* %W~w* ~k* &c1 &p*", &err), 0);
    assert_int_equal(check(a, "u", "get k1", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "get x", &pos), ACL_DENIED_KEY);
    assert_int_equal(pos, 1);
    assert_int_equal(check(a, "u", "hget k1 f", &pos), ACL_DENIED_CMD);
    assert_int_equal(check(a, "u", "get r1", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "set r1 v", &pos), ACL_DENIED_KEY);
    assert_int_equal(check(a, "u", "set w1 v", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "get w1", &pos), ACL_DENIED_KEY);
    /* LMOVE reads and writes its source, writes its destination */
    assert_int_equal(check(a, "u", "lmove k1 w1 left left", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "lmove r1 k1 left left", &pos), ACL_DENIED_KEY);
    assert_int_equal(pos, 1);
    assert_int_equal(check(a, "u", "publish c1 m", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "publish c2 m", &pos), ACL_DENIED_CHANNEL);
    /* PSUBSCRIBE patterns are compared literally */
    assert_int_equal(check(a, "u", "psubscribe p*", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "psubscribe p1", &pos), ACL_DENIED_CHANNEL);
    assert_int_equal(check(a, "u", "select 0", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "select 1", &pos), ACL_DENIED_CMD);
    /* AUTH is never refused */
    assert_int_equal(check(a, "u", "auth x", &pos), ACL_OK);
    /* a second selector allows what the root does not */
    assert_int_equal(setuser(a, "u", "(+hget ~h*)", &err), 0);
    assert_int_equal(check(a, "u", "hget h1 f", &pos), ACL_OK);
    assert_int_equal(check(a, "u", "hget k1 f", &pos), ACL_DENIED_KEY);
    /* categories */
    assert_int_equal(setuser(a, "v", "on nopass +@hash -hdel allkeys", &err), 0);
    assert_int_equal(check(a, "v", "hset h f v", &pos), ACL_OK);
    assert_int_equal(check(a, "v", "hdel h f", &pos), ACL_DENIED_CMD);
    assert_int_equal(check(a, "v", "config get x", &pos), ACL_DENIED_CMD);
    assert_int_equal(setuser(a, "v", "+config|get", &err), 0);
    assert_int_equal(check(a, "v", "config get x", &pos), ACL_OK);
    assert_int_equal(check(a, "v", "config set x y", &pos), ACL_DENIED_CMD);
    /* passwords */
    assert_int_equal(setuser(a, "w", "on >secret", &err), 0);
    assert_true(acl_auth(acl_user_get(a, "w", 1), "secret", 6));
    assert_false(acl_auth(acl_user_get(a, "w", 1), "secreT", 6));
    assert_int_equal(setuser(a, "w", "off", &err), 0);
    assert_false(acl_auth(acl_user_get(a, "w", 1), "secret", 6));
    buf_free(&err);
    acl_destroy(a);
}

static void test_file(void **s)
{
    (void)s;
    struct acl *a = acl_create();
    buf err;
    buf_init(&err);
    char path[] = "/tmp/test_acl_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(setuser(a, "app", "on >pw ~app:* +@read +@write (+get ~x)", &err), 0);
    assert_int_equal(setuser(a, "default", "resetpass >dpw", &err), 0);
    char want_app[4096], want_def[4096];
    strcpy(want_app, describe(a, "app"));
    strcpy(want_def, describe(a, "default"));
    assert_int_equal(acl_save_file(a, path, &err), 0);
    struct acl *b = acl_create();
    assert_int_equal(acl_load_file(b, path, &err), 0);
    assert_string_equal(describe(b, "app"), want_app);
    assert_string_equal(describe(b, "default"), want_def);
    /* a bad line changes nothing */
    FILE *f = fopen(path, "a");
    fputs("user bad +nosuch\n", f);
    fclose(f);
    buf_clear(&err);
    assert_int_equal(acl_load_file(b, path, &err), -1);
    assert_non_null(acl_user_get(b, "app", 3));
    acl_destroy(b);
    acl_destroy(a);
    unlink(path);
    buf_free(&err);
}

int main(void)
{
    cmd_table_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),   cmocka_unit_test(test_describe), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_check),    cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
