/* main: strata-node's entry point — configuration, start-up, the loop,
 * clean shutdown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "server.h"

int main(int argc, char **argv)
{
    buf errs;
    const char *config_path = NULL;
    int test_only = 0;
    struct conf_cli cli = {
        .program = "strata-node",
        .usage_extra = "A Redis-compatible storage node keeping its data in LevelDB.\n",
    };

    buf_init(&errs);
    int r = conf_parse_cli(&cli, node_config_fields, &srv.cfg, argc, argv, &config_path,
                           &test_only, &errs);
    if (r < 0) {
        fprintf(stderr, "%.*s", (int)errs.len, errs.data ? errs.data : "");
        buf_free(&errs);
        conf_free(node_config_fields, &srv.cfg);
        return 1;
    }
    buf_free(&errs);
    if (r == 1) {
        conf_free(node_config_fields, &srv.cfg);
        return 0;
    }
    buf why;
    buf_init(&why);
    if (node_config_check_all(&why) < 0) {
        fprintf(stderr, "strata-node: %.*s\n", (int)why.len, why.data);
        buf_free(&why);
        conf_free(node_config_fields, &srv.cfg);
        return 1;
    }
    buf_free(&why);
    if (test_only) {
        printf("strata-node: configuration %s is OK\n", config_path ? config_path : "(defaults)");
        conf_free(node_config_fields, &srv.cfg);
        return 0;
    }
    srv.config_path = config_path;
    if (log_init("node", srv.cfg.log, srv.cfg.loglevel) < 0)
        fprintf(stderr, "strata-node: cannot open log file %s, logging to stderr\n", srv.cfg.log);

    int code = 1;
    if (server_init() == 0) {
        if (srv.cfg.pidfile && *srv.cfg.pidfile) {
            FILE *f = fopen(srv.cfg.pidfile, "w");
            if (f) {
                fprintf(f, "%d\n", (int)getpid());
                fclose(f);
            }
        }
        code = server_run();
        log_info("shutdown complete");
    }
    server_cleanup();
    if (srv.cfg.pidfile && *srv.cfg.pidfile) unlink(srv.cfg.pidfile);
    conf_free(node_config_fields, &srv.cfg);
    return code;
}
