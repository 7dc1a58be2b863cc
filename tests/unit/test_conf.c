/* test_conf: the typed settings loader (common/conf.c): every value type,
 * every error message with its line number, the command line and its
 * precedence over the file, and robustness on hostile bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

struct settings {
    long long port;
    long long maxmem;
    long long delta;       /* unbounded int */
    int daemon;
    int fsync;
    char *dir;
    char *name;            /* no default: NULL */
};

static const char *const fsync_names[] = { "always", "everysec", "no", NULL };

static const struct conf_field fields[] = {
    { "port", CONF_INT, offsetof(struct settings, port), "7000", 1, 65535, NULL, 0, "TCP port" },
    { "max_memory", CONF_SIZE, offsetof(struct settings, maxmem), "64mb", 0, 0, NULL, 1, "cache size" },
    { "delta", CONF_INT, offsetof(struct settings, delta), "-5", 0, 0, NULL, 0, NULL },
    { "daemonize", CONF_BOOL, offsetof(struct settings, daemon), "no", 0, 0, NULL, 0, "detach" },
    { "fsync", CONF_ENUM, offsetof(struct settings, fsync), "everysec", 0, 0, fsync_names, 1, "fsync policy" },
    { "dir", CONF_STR, offsetof(struct settings, dir), "/tmp/strata", 0, 0, NULL, 0, "data dir" },
    { "name", CONF_STR, offsetof(struct settings, name), NULL, 0, 0, NULL, 0, "a name" },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

static struct settings S;
static buf E;

static int setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    buf_init(&E);
    assert_int_equal(conf_defaults(fields, &S), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    conf_free(fields, &S);
    buf_free(&E);
    return 0;
}

/* errs as a C string (the buffer is not NUL-terminated by itself). */
static const char *errs_str(void)
{
    buf_append_char(&E, '\0');
    E.len--;
    return E.data ? E.data : "";
}

static int load(const char *text)
{
    return conf_load_string(fields, &S, "t.yaml", text, strlen(text), &E);
}

/* Expect loading `text` to fail with exactly `msg`. */
static void expect_error(const char *text, const char *msg)
{
    buf_clear(&E);
    assert_int_equal(load(text), -1);
    assert_string_equal(errs_str(), msg);
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(S.port, 7000);
    assert_int_equal(S.maxmem, 64 * 1024 * 1024);
    assert_int_equal(S.delta, -5);
    assert_int_equal(S.daemon, 0);
    assert_int_equal(S.fsync, 1);
    assert_string_equal(S.dir, "/tmp/strata");
    assert_null(S.name);
}

static void test_bad_default(void **state)
{
    (void)state;
    static const struct conf_field bad[] = {
        { "port", CONF_INT, offsetof(struct settings, port), "0", 1, 10, NULL, 0, NULL },
        { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
    };
    struct settings s;
    memset(&s, 0, sizeof s);
    assert_int_equal(conf_defaults(bad, &s), -1);
}

static void test_load_all_types(void **state)
{
    (void)state;
    assert_int_equal(load("# settings\n"
                          "port: 7001\n"
                          "max_memory: 1gb\n"
                          "delta: -9223372036854775808\n"
                          "daemonize: yes\n"
                          "fsync: ALWAYS\n"
                          "dir: /var/lib/strata\n"
                          "name: \"with spaces\"\n"), 0);
    assert_int_equal(E.len, 0);
    assert_int_equal(S.port, 7001);
    assert_int_equal(S.maxmem, 1024LL * 1024 * 1024);
    assert_true(S.delta == (-9223372036854775807LL - 1));
    assert_int_equal(S.daemon, 1);
    assert_int_equal(S.fsync, 0);
    assert_string_equal(S.dir, "/var/lib/strata");
    assert_string_equal(S.name, "with spaces");
}

static void test_empty_and_comment_only(void **state)
{
    (void)state;
    assert_int_equal(load(""), 0);
    assert_int_equal(load("# nothing here\n\n"), 0);
    assert_int_equal(load("---\n"), 0);
    assert_int_equal(E.len, 0);
    assert_int_equal(S.port, 7000);
}

static void test_key_spelling(void **state)
{
    (void)state;
    assert_int_equal(load("max-memory: 10kb\nPORT: 80\n"), 0);
    assert_int_equal(S.maxmem, 10240);
    assert_int_equal(S.port, 80);
    assert_non_null(conf_find(fields, "max-memory"));
    assert_non_null(conf_find(fields, "MAX_MEMORY"));
    assert_null(conf_find(fields, "maxmemory"));
    assert_null(conf_find(fields, "max_memory_"));
}

static void test_size_units(void **state)
{
    (void)state;
    static const struct { const char *text; long long bytes; } ok[] = {
        { "0", 0 }, { "123", 123 }, { "5b", 5 }, { "5B", 5 },
        { "1k", 1000 }, { "1kb", 1024 }, { "1KB", 1024 }, { "2K", 2000 },
        { "3m", 3000000 }, { "3mb", 3LL << 20 }, { "3Mb", 3LL << 20 },
        { "2g", 2000000000LL }, { "2gb", 2LL << 30 }, { "2GB", 2LL << 30 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        buf_clear(&E);
        assert_int_equal(conf_set(fields, &S, "max_memory", ok[i].text, NULL, &E), 0);
        assert_true(S.maxmem == ok[i].bytes);
    }
    static const char *const bad[] = { "", "kb", "1.5gb", "10 kb", "-1", "+1", "1tb", "1kbb", "0x10" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_clear(&E);
        S.maxmem = 42;
        assert_int_equal(conf_set(fields, &S, "max_memory", bad[i], NULL, &E), -1);
        assert_int_equal(S.maxmem, 42);  /* unchanged on error */
    }
    buf_clear(&E);
    assert_int_equal(conf_set(fields, &S, "max_memory", "abc", "here", &E), -1);
    assert_string_equal(errs_str(), "here: max_memory: 'abc' is not a size "
                                    "(bytes, or a number with k, kb, m, mb, g or gb)\n");
    buf_clear(&E);
    assert_int_equal(conf_set(fields, &S, "max_memory", "9000000000gb", NULL, &E), -1);
    assert_string_equal(errs_str(), "max_memory: size '9000000000gb' is too large\n");
}

static void test_bools(void **state)
{
    (void)state;
    static const char *const yes[] = { "yes", "YES", "true", "True", "on", "1" };
    static const char *const no[] = { "no", "No", "false", "FALSE", "off", "0" };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(conf_set(fields, &S, "daemonize", yes[i], NULL, &E), 0);
        assert_int_equal(S.daemon, 1);
        assert_int_equal(conf_set(fields, &S, "daemonize", no[i], NULL, &E), 0);
        assert_int_equal(S.daemon, 0);
    }
    assert_int_equal(E.len, 0);
    expect_error("daemonize: maybe\n",
                 "t.yaml:1: daemonize: 'maybe' is not a boolean (yes/no, true/false, on/off, 1/0)\n");
    expect_error("daemonize: 2\n",
                 "t.yaml:1: daemonize: '2' is not a boolean (yes/no, true/false, on/off, 1/0)\n");
}

static void test_enum(void **state)
{
    (void)state;
    assert_int_equal(load("fsync: no\n"), 0);
    assert_int_equal(S.fsync, 2);
    assert_int_equal(load("fsync: EverySec\n"), 0);
    assert_int_equal(S.fsync, 1);
    expect_error("\nfsync: sometimes\n",
                 "t.yaml:2: fsync: 'sometimes' is not one of always|everysec|no\n");
    assert_int_equal(S.fsync, 1);
}

static void test_int_errors(void **state)
{
    (void)state;
    expect_error("dir: /x\nport: 70000\n", "t.yaml:2: port: value 70000 out of range 1..65535\n");
    expect_error("port: 0\n", "t.yaml:1: port: value 0 out of range 1..65535\n");
    expect_error("port: abc\n", "t.yaml:1: port: 'abc' is not an integer\n");
    expect_error("port: 1.5\n", "t.yaml:1: port: '1.5' is not an integer\n");
    expect_error("port: 99999999999999999999\n",
                 "t.yaml:1: port: '99999999999999999999' is not an integer\n");
    /* An unbounded field takes the whole long long range. */
    assert_int_equal(load("delta: 9223372036854775807\n"), 0);
    assert_true(S.delta == 9223372036854775807LL);
}

static void test_unknown_and_duplicate_keys(void **state)
{
    (void)state;
    expect_error("port: 1\n\nx: 2\n", "t.yaml:3: unknown key 'x'\n");
    expect_error("port: 1\ndir: /a\nport: 2\n",
                 "t.yaml:3: key 'port' given twice (first at line 1)\n");
    /* Spelling variants of one key are still the same key. */
    expect_error("max_memory: 1\nmax-memory: 2\n",
                 "t.yaml:2: key 'max-memory' given twice (first at line 1)\n");
    /* All errors are reported, in file order. */
    expect_error("a: 1\nport: 0\nb: 2\n",
                 "t.yaml:1: unknown key 'a'\n"
                 "t.yaml:2: port: value 0 out of range 1..65535\n"
                 "t.yaml:3: unknown key 'b'\n");
}

static void test_shape_errors(void **state)
{
    (void)state;
    expect_error("port:\n  - 1\n  - 2\n", "t.yaml:2: port: expected a single value, not a list\n");
    expect_error("dir: {a: 1}\n", "t.yaml:1: dir: expected a single value, not a mapping\n");
    expect_error("- port\n- 1\n", "t.yaml:1: the file must be a mapping of key: value, not a list\n");
    expect_error("just text\n", "t.yaml:1: the file must be a mapping of key: value, not a value\n");
    expect_error("[a]: 1\n", "t.yaml:1: keys must be plain names, not a list\n");
    expect_error("port: 1\n---\nport: 2\n", "t.yaml:3: only one YAML document is allowed\n");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    buf_clear(&E);
    assert_int_equal(load("port: 1\ndir: [unclosed\n"), -1);
    assert_non_null(strstr(errs_str(), "t.yaml:3: YAML: "));
    buf_clear(&E);
    assert_int_equal(load("port: 1\n  dir: x\n"), -1);
    assert_string_equal(errs_str(), "t.yaml:2: YAML: mapping values are not allowed in this "
                                    "context\n");
    buf_clear(&E);
    assert_int_equal(load("port: \"open\n"), -1);
    assert_string_equal(errs_str(), "t.yaml:2: YAML: found unexpected end of stream "
                                    "(while scanning a quoted scalar at line 1)\n");
}

static void test_hostile_bytes(void **state)
{
    (void)state;
    /* Invalid UTF-8 on line 2: the reader's byte offset becomes a line. */
    static const char bad_utf8[] = "port: 1\ndir: \xff\xfe\n";
    buf_clear(&E);
    assert_int_equal(conf_load_string(fields, &S, "t.yaml", bad_utf8, sizeof bad_utf8 - 1, &E), -1);
    assert_string_equal(errs_str(), "t.yaml:2: YAML: invalid leading UTF-8 octet (byte 0xff)\n");
    /* A raw NUL byte inside the text. */
    static const char nul[] = "port: 1\ndir: a\0b\n";
    buf_clear(&E);
    assert_int_equal(conf_load_string(fields, &S, "t.yaml", nul, sizeof nul - 1, &E), -1);
    assert_non_null(strstr(errs_str(), "t.yaml:2: YAML: control characters are not allowed"));
    /* A NUL made by an escape, in a value and in a key. */
    expect_error("dir: \"a\\0b\"\n", "t.yaml:1: dir: value contains a NUL byte\n");
    expect_error("\"po\\0rt\": 1\n", "t.yaml:1: unknown key 'po\\x00rt'\n");
    /* Only len bytes are read: the text need not be NUL-terminated. */
    char *copy = malloc(7);
    memcpy(copy, "port: 9", 7);
    buf_clear(&E);
    assert_int_equal(conf_load_string(fields, &S, "t.yaml", copy, 7, &E), 0);
    assert_int_equal(S.port, 9);
    free(copy);
    /* Deep nesting is refused before libyaml's quadratic scan gets far. */
    buf deep;
    buf_init(&deep);
    buf_append_str(&deep, "port: 1\ndir: ");
    for (int i = 0; i < 20000; i++) buf_append_char(&deep, '[');
    buf_clear(&E);
    assert_int_equal(conf_load_string(fields, &S, "t.yaml", deep.data, deep.len, &E), -1);
    assert_string_equal(errs_str(), "t.yaml:2: YAML nested deeper than 32 levels\n");
    buf_free(&deep);
    /* Cyclic anchors must not loop. */
    buf_clear(&E);
    assert_int_equal(load("&a [*a]\n"), -1);
}

static void test_set_get(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    assert_int_equal(conf_set(fields, &S, "nope", "1", "cmd", &E), -2);
    assert_string_equal(errs_str(), "cmd: unknown key 'nope'\n");
    buf_clear(&E);
    assert_int_equal(conf_set(fields, &S, "port", "x", NULL, &E), -1);
    assert_string_equal(errs_str(), "port: 'x' is not an integer\n");
    /* Replacing a string frees the old one (ASan would see a leak). */
    assert_int_equal(conf_set(fields, &S, "dir", "/one", NULL, &E), 0);
    assert_int_equal(conf_set(fields, &S, "dir", "/two", NULL, &E), 0);
    assert_int_equal(conf_get(fields, &S, "dir", &out), 0);
    assert_int_equal(conf_get(fields, &S, "max-memory", &out), 0);
    assert_int_equal(conf_get(fields, &S, "daemonize", &out), 0);
    assert_int_equal(conf_get(fields, &S, "fsync", &out), 0);
    assert_int_equal(conf_get(fields, &S, "name", &out), 0);
    assert_int_equal(conf_get(fields, &S, "port", &out), 0);
    assert_int_equal(conf_get(fields, &S, "bogus", &out), -1);
    buf_append_char(&out, '\0');
    assert_string_equal(out.data, "/two67108864noeverysec7000");
    buf_free(&out);
}

/* ---- files and the command line ---- */

static char tmp_path[64];

static const char *write_tmp(const char *text)
{
    strcpy(tmp_path, "/tmp/test_conf_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmp_path;
}

static void test_load_file(void **state)
{
    (void)state;
    char expect[256];
    const char *p = write_tmp("port: 1234\nbogus: 1\n");
    assert_int_equal(conf_load_file(fields, &S, p, &E), -1);
    snprintf(expect, sizeof expect, "%s:2: unknown key 'bogus'\n", p);
    assert_string_equal(errs_str(), expect);
    assert_int_equal(S.port, 1234);
    unlink(p);
    buf_clear(&E);
    assert_int_equal(conf_load_file(fields, &S, p, &E), -1);
    snprintf(expect, sizeof expect, "%s: cannot read: No such file or directory\n", p);
    assert_string_equal(errs_str(), expect);
}

static int cli(int argc, char **argv, const char **cfg, int *test)
{
    static const struct conf_cli c = { "strata-test", NULL, NULL, NULL };
    conf_free(fields, &S);
    memset(&S, 0, sizeof S);
    buf_clear(&E);
    return conf_parse_cli(&c, fields, &S, argc, argv, cfg, test, &E);
}

static void test_cli_overrides_file(void **state)
{
    (void)state;
    const char *p = write_tmp("port: 1234\ndir: /from/file\nfsync: always\n");
    const char *cfg;
    int test;
    char *argv[] = { "prog", "--port", "5555", "--config", (char *)p, "--max-memory", "1kb",
                     "--max_memory", "2kb", "--daemonize=yes", NULL };
    assert_int_equal(cli(10, argv, &cfg, &test), 0);
    assert_int_equal(E.len, 0);
    assert_string_equal(cfg, p);
    assert_int_equal(test, 0);
    assert_int_equal(S.port, 5555);          /* flag beats file */
    assert_string_equal(S.dir, "/from/file"); /* file beats default */
    assert_int_equal(S.fsync, 0);
    assert_int_equal(S.maxmem, 2048);        /* later flag wins */
    assert_int_equal(S.daemon, 1);
    assert_int_equal(S.delta, -5);           /* default */
    unlink(p);
}

static void test_cli_defaults_only(void **state)
{
    (void)state;
    const char *cfg = "unset";
    char *argv[] = { "prog", "-t", NULL };
    int test = 0;
    assert_int_equal(cli(2, argv, &cfg, &test), 0);
    assert_null(cfg);
    assert_int_equal(test, 1);
    assert_int_equal(S.port, 7000);
    assert_string_equal(S.dir, "/tmp/strata");
}

static void test_cli_errors(void **state)
{
    (void)state;
    char *a1[] = { "prog", "--bogus", "1", NULL };
    assert_int_equal(cli(3, a1, NULL, NULL), -1);
    /* "1" is then an unexpected argument too. */
    assert_string_equal(errs_str(), "unknown option '--bogus'\nunknown option '1'\n");
    char *a2[] = { "prog", "--port", NULL };
    assert_int_equal(cli(2, a2, NULL, NULL), -1);
    assert_string_equal(errs_str(), "option '--port' needs a value\n");
    char *a3[] = { "prog", "--port", "0", NULL };
    assert_int_equal(cli(3, a3, NULL, NULL), -1);
    assert_string_equal(errs_str(), "--port: value 0 out of range 1..65535\n");
    char *a4[] = { "prog", "--config", NULL };
    assert_int_equal(cli(2, a4, NULL, NULL), -1);
    assert_string_equal(errs_str(), "option '--config' needs a value\n");
    /* -t reports the file's errors and the flags' errors together. */
    const char *p = write_tmp("port: 70000\n");
    char expect[256];
    char *a5[] = { "prog", "-t", "--config", (char *)p, "--fsync", "never", NULL };
    int test = 0;
    assert_int_equal(cli(6, a5, NULL, &test), -1);
    assert_int_equal(test, 1);
    snprintf(expect, sizeof expect, "%s:1: port: value 70000 out of range 1..65535\n"
             "--fsync: 'never' is not one of always|everysec|no\n", p);
    assert_string_equal(errs_str(), expect);
    unlink(p);
}

/* Run conf_parse_cli with stdout sent to a temp file; return what it printed. */
static char printed[8192];

static int cli_capture(const struct conf_cli *c, int argc, char **argv)
{
    char path[] = "/tmp/test_conf_out_XXXXXX";
    int fd = mkstemp(path), saved, rc;
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(1);
    dup2(fd, 1);
    conf_free(fields, &S);
    memset(&S, 0, sizeof S);
    rc = conf_parse_cli(c, fields, &S, argc, argv, NULL, NULL, &E);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ssize_t n = pread(fd, printed, sizeof printed - 1, 0);
    printed[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void test_cli_help_version(void **state)
{
    (void)state;
    static const struct conf_cli c = { "strata-test", "  --replicaof HOST:PORT\n", NULL, NULL };
    char *a1[] = { "prog", "--version", NULL };
    assert_int_equal(cli_capture(&c, 2, a1), 1);
    assert_string_equal(printed, "strata-test " STRATA_VERSION "\n");
    char *a2[] = { "prog", "--port", "1", "--help", NULL };
    assert_int_equal(cli_capture(&c, 4, a2), 1);
    assert_non_null(strstr(printed, "Usage: strata-test"));
    assert_non_null(strstr(printed, "--max-memory BYTES\n        cache size (default: 64mb)\n"));
    assert_non_null(strstr(printed, "--fsync always|everysec|no\n        fsync policy (default: everysec)\n"));
    assert_non_null(strstr(printed, "--replicaof HOST:PORT"));
    assert_non_null(strstr(printed, "--name TEXT\n        a name\n"));
}

/* extra: takes "--replicaof HOST:PORT" and a bare "--verbose". */
static int extra_calls;
static int extra(void *obj, const char *flag, const char *value, buf *errs)
{
    struct settings *s = obj;
    extra_calls++;
    if (strcmp(flag, "--replicaof") == 0) {
        if (!value) { buf_append_str(errs, "--replicaof needs HOST:PORT\n"); return -1; }
        free(s->name);
        s->name = strdup(value);
        return 1;
    }
    if (strcmp(flag, "--verbose") == 0) { s->delta = 99; return 0; }
    return -1;
}

/* load: a stand-in for the topology loader, sets dir from the path. */
static int load_cb(void *obj, const char *path, buf *errs)
{
    struct settings *s = obj;
    (void)errs;
    return conf_set(fields, s, "dir", path, NULL, errs);
}

static void test_cli_extra_and_load(void **state)
{
    (void)state;
    static const struct conf_cli c = { "strata-test", NULL, extra, load_cb };
    char *argv[] = { "prog", "--verbose", "--replicaof", "10.0.0.1:7000", "--config", "topo.yaml",
                     "--dir", "/flag", "--nope", NULL };
    extra_calls = 0;
    conf_free(fields, &S);
    memset(&S, 0, sizeof S);
    buf_clear(&E);
    assert_int_equal(conf_parse_cli(&c, fields, &S, 9, argv, NULL, NULL, &E), -1);
    assert_string_equal(errs_str(), "unknown option '--nope'\n");
    assert_int_equal(extra_calls, 3);
    assert_int_equal(S.delta, 99);
    assert_string_equal(S.name, "10.0.0.1:7000");
    assert_string_equal(S.dir, "/flag");  /* the flag overrides what load() set */
    char *a2[] = { "prog", "--replicaof", NULL };
    conf_free(fields, &S);  /* conf_parse_cli starts from defaults, it frees nothing */
    buf_clear(&E);
    assert_int_equal(conf_parse_cli(&c, fields, &S, 2, a2, NULL, NULL, &E), -1);
    /* extra wrote its own message: no second "unknown option". */
    assert_string_equal(errs_str(), "--replicaof needs HOST:PORT\n");
}

/* Mutations of a valid file must never crash or leak, and a failure
 * always comes with a message. */
static void test_mutations(void **state)
{
    (void)state;
    static const char base[] = "port: 7001\nmax_memory: 1gb\nfsync: \"no\"\n"
                               "dir: [a, {b: c}]\nname: &x 'y'\ndaemonize: *x\n";
    char text[sizeof base];
    unsigned seed = 12345;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(text, base, sizeof base);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % (sizeof base - 1);
            seed = seed * 1103515245u + 12345u;
            text[pos] = (char)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 8) % sizeof base;
        buf_clear(&E);
        int rc = conf_load_string(fields, &S, "m.yaml", text, len, &E);
        assert_true(rc == 0 || rc == -1);
        if (rc < 0) assert_true(E.len > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_all_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_comment_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_spelling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shape_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_overrides_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_defaults_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_help_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_extra_and_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
