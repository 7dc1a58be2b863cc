/* fuzz_yaml: libFuzzer target for the YAML loaders, topo_load_string()
 * (topology.yaml) and conf_load_string() (flat program settings).
 *
 * The input is the file text itself, any bytes.  Invariants: each loader
 * returns 0 or -1; on -1 it explains itself in errs, one message per line,
 * each starting with the name given for the file; on success every slot
 * belongs to a real group and every node has a valid port.  Everything is
 * freed (LeakSanitizer checks). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "topology.h"

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz_yaml: %s:%d: check failed: %s\n",       \
                    __FILE__, __LINE__, #cond);                           \
            abort();                                                      \
        }                                                                 \
    } while (0)

struct settings {
    long long port;
    long long maxmem;
    int flag;
    int mode;
    char *dir;
    char *name;
};

static const char *const modes[] = { "always", "everysec", "no", NULL };

static const struct conf_field fields[] = {
    { "port", CONF_INT, offsetof(struct settings, port), "7000", 1, 65535, NULL, 0, NULL },
    { "max_memory", CONF_SIZE, offsetof(struct settings, maxmem), "64mb", 0, 0, NULL, 0, NULL },
    { "flag", CONF_BOOL, offsetof(struct settings, flag), "no", 0, 0, NULL, 0, NULL },
    { "mode", CONF_ENUM, offsetof(struct settings, mode), "everysec", 0, 0, modes, 0, NULL },
    { "dir", CONF_STR, offsetof(struct settings, dir), "/tmp", 0, 0, NULL, 0, NULL },
    { "name", CONF_STR, offsetof(struct settings, name), NULL, 0, 0, NULL, 0, NULL },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

struct proxy_settings {
    char *listen;
    long long threads;
    int read_from_replicas;
    long long timeout_ms;
};

struct sentinel_settings {
    long long quorum;
    long long down_after_ms;
};

static const struct conf_field proxy_fields[] = {
    { "listen", CONF_STR, offsetof(struct proxy_settings, listen), "127.0.0.1:6379", 0, 0, NULL, 0, NULL },
    { "threads", CONF_INT, offsetof(struct proxy_settings, threads), "1", 1, 64, NULL, 0, NULL },
    { "read_from_replicas", CONF_BOOL, offsetof(struct proxy_settings, read_from_replicas), "no", 0, 0, NULL, 0, NULL },
    { "timeout_ms", CONF_INT, offsetof(struct proxy_settings, timeout_ms), "2000", 1, 3600000, NULL, 0, NULL },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

static const struct conf_field sentinel_fields[] = {
    { "quorum", CONF_INT, offsetof(struct sentinel_settings, quorum), "2", 1, 100, NULL, 0, NULL },
    { "down_after_ms", CONF_INT, offsetof(struct sentinel_settings, down_after_ms), "1000", 1, 3600000, NULL, 0, NULL },
    { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL },
};

/* Every message line starts with "fuzz.yaml". */
static void check_errs(const buf *errs)
{
    CHECK(errs->len > 0);
    size_t i = 0;
    while (i < errs->len) {
        CHECK(errs->len - i >= 9 && memcmp(errs->data + i, "fuzz.yaml", 9) == 0);
        const char *nl = memchr(errs->data + i, '\n', errs->len - i);
        if (!nl) break;
        i = (size_t)(nl - errs->data) + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    buf errs;
    buf_init(&errs);

    struct topology t;
    struct proxy_settings ps;
    struct sentinel_settings ss;
    memset(&ps, 0, sizeof ps);
    memset(&ss, 0, sizeof ss);
    CHECK(conf_defaults(proxy_fields, &ps) == 0);
    CHECK(conf_defaults(sentinel_fields, &ss) == 0);
    struct topo_sections sec = { proxy_fields, &ps, sentinel_fields, &ss };
    int r = topo_load_string("fuzz.yaml", text, size, &t, (size && (data[0] & 1)) ? &sec : NULL, &errs);
    CHECK(r == 0 || r == -1);
    if (r == 0) {
        CHECK(t.ngroups > 0 && t.groups);
        for (int s = 0; s < 16384; s++) CHECK(t.slot_group[s] < t.ngroups);
        for (int g = 0; g < t.ngroups; g++) {
            CHECK(t.groups[g].nnodes >= 1 && t.groups[g].nnodes <= TOPO_MAX_NODES);
            for (int n = 0; n < t.groups[g].nnodes; n++) {
                CHECK(t.groups[g].nodes[n].host);
                CHECK(t.groups[g].nodes[n].port >= 1 && t.groups[g].nodes[n].port <= 65535);
            }
        }
        for (int n = 0; n < t.nsentinels; n++)
            CHECK(t.sentinels[n].port >= 1 && t.sentinels[n].port <= 65535);
    } else {
        check_errs(&errs);
    }
    topo_free(&t);
    conf_free(proxy_fields, &ps);
    conf_free(sentinel_fields, &ss);

    buf_clear(&errs);
    struct settings st;
    memset(&st, 0, sizeof st);
    CHECK(conf_defaults(fields, &st) == 0);
    r = conf_load_string(fields, &st, "fuzz.yaml", text, size, &errs);
    CHECK(r == 0 || r == -1);
    if (r == 0) {
        CHECK(st.port >= 1 && st.port <= 65535);
        CHECK(st.maxmem >= 0);
        CHECK(st.flag == 0 || st.flag == 1);
        CHECK(st.mode >= 0 && st.mode <= 2);
    } else {
        check_errs(&errs);
    }
    conf_free(fields, &st);
    buf_free(&errs);
    return 0;
}
