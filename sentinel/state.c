/* state: the persisted state of strata-sentinel.  See state.h. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "sentinel.h"
#include "util.h"

#define STATE_FILE "sentinel.state"
#define STATE_MAGIC "strata-sentinel-state 1"

static void state_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", snt.conf.dir, name);
}

static int state_new_id(char *out)
{
    if (random_hex(out, SNT_ID_LEN) < 0) {
        log_error("cannot read /dev/urandom for a sentinel id: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int state_is_id(const char *s)
{
    if (strlen(s) != SNT_ID_LEN) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

/* One "group ..." line.  Returns 0 or -1. */
static int state_parse_group(char *line)
{
    char *save = NULL;
    char *name = strtok_r(line, " ", &save);
    char *cepoch = strtok_r(NULL, " ", &save);
    char *addr = strtok_r(NULL, " ", &save);
    char *vepoch = strtok_r(NULL, " ", &save);
    char *leader = strtok_r(NULL, " ", &save);
    unsigned long long ce, ve;
    char host[SNT_HOST_MAX];
    int port;
    if (!leader || str2ull(cepoch, strlen(cepoch), &ce) < 0 ||
        str2ull(vepoch, strlen(vepoch), &ve) < 0 ||
        parse_hostport(addr, host, sizeof host, &port) < 0 ||
        (strcmp(leader, "-") != 0 && !state_is_id(leader)))
        return -1;
    int gi = snt_group_find(name);
    if (gi < 0) {
        log_info("state: group %s is no longer in the topology; forgetting it", name);
        return 0;
    }
    struct sgroup *g = &snt.groups[gi];
    g->config_epoch = ce;
    g->vote_epoch = ve;
    snprintf(g->vote_leader, sizeof g->vote_leader, "%s", strcmp(leader, "-") ? leader : "");
    g->vote_ms = now_ms();
    if (snt_node_find(g, host, port) < 0) {
        log_warn("state: group %s: master %s is no longer listed in the topology; "
                 "using the first node %s:%d", name, addr, g->nodes[0].host, g->nodes[0].port);
        return 0;
    }
    snprintf(g->master_host, sizeof g->master_host, "%s", host);
    g->master_port = port;
    return 0;
}

int state_load(void)
{
    char path[4096];
    if (mkdir_p(snt.conf.dir) < 0) {
        log_error("cannot create the state directory %s: %s", snt.conf.dir, strerror(errno));
        return -1;
    }
    state_path(path, sizeof path, STATE_FILE);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT) {
            log_error("cannot read %s: %s", path, strerror(errno));
            return -1;
        }
        if (state_new_id(snt.myid) < 0) return -1;
        log_info("new sentinel id %s; state in %s", snt.myid, path);
        return state_save();
    }
    char line[2048];
    int lineno = 0, ok = 1, have_id = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (lineno == 1) {
            if (strcmp(line, STATE_MAGIC) != 0) ok = 0;
        } else if (!strncmp(line, "myid ", 5) && state_is_id(line + 5)) {
            memcpy(snt.myid, line + 5, SNT_ID_LEN + 1);
            have_id = 1;
        } else if (!strncmp(line, "group ", 6)) {
            if (state_parse_group(line + 6) < 0) ok = 0;
        } else if (n) {
            ok = 0;
        }
        if (!ok) break;
    }
    fclose(f);
    if (!ok || !have_id) {
        log_error("%s:%d: not a valid sentinel state file; move it away to start afresh", path,
                  lineno);
        return -1;
    }
    log_info("state loaded from %s: sentinel id %s", path, snt.myid);
    return 0;
}

int state_save(void)
{
    char path[4096];
    state_path(path, sizeof path, STATE_FILE);
    buf b;
    buf_init(&b);
    buf_printf(&b, "%s\nmyid %s\n", STATE_MAGIC, snt.myid);
    for (int i = 0; i < snt.ngroups; i++) {
        const struct sgroup *g = &snt.groups[i];
        buf_printf(&b, "group %s %llu %s:%d %llu %s\n", g->name, (unsigned long long)g->config_epoch,
                   g->master_host, g->master_port, (unsigned long long)g->vote_epoch,
                   g->vote_leader[0] ? g->vote_leader : "-");
    }
    int rc = write_file_durable(path, b.data, b.len);
    if (rc < 0) log_error("cannot write the sentinel state %s: %s", path, strerror(errno));
    buf_free(&b);
    return rc;
}
