/* strata-proxy: one Redis endpoint in front of many master-replica groups.
 *
 *   strata-proxy --config topology.yaml [--port N] [--bind ADDR] [--log FILE] [-t]
 *
 * The main thread parses the configuration, starts the sentinel watcher
 * and the worker threads (worker.c), then waits for signals: SIGHUP
 * reloads the topology, SIGTERM/SIGINT stop the proxy cleanly.  It also
 * serves /metrics when metrics_listen is set. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "cmdtable.h"
#include "log.h"
#include "http.h"
#include "metrics.h"
#include "pacl.h"
#include "pconf.h"
#include "httpapi.h"
#include "protmode.h"
#include "proxy.h"
#include "route.h"
#include "sentwatch.h"
#include "slotcheck.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

static struct event_base *main_base;

/* The TLS contexts the settings ask for: the client port's (tls_port) and
 * that of the links to the nodes (tls_backend), each NULL when not asked
 * for.  0, or -1 with the reason in err (naming which) and nothing to free. */
static int proxy_tls_contexts(tls_ctx **server, tls_ctx **backend, char *err, size_t errlen)
{
    char why[512];
    *server = *backend = NULL;
    if (proxy_g.conf.s.tls_port && !(*server = tls_settings_server_ctx(&proxy_g.conf.s.tls, why, sizeof why))) {
        snprintf(err, errlen, "TLS: %s", why);
        return -1;
    }
    if (proxy_g.conf.s.tls_backend && !(*backend = tls_settings_client_ctx(&proxy_g.conf.s.tls, why, sizeof why))) {
        snprintf(err, errlen, "TLS to the nodes (tls_backend): %s", why);
        tls_ctx_destroy(*server);
        *server = NULL;
        return -1;
    }
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    if (sig == SIGHUP) {
        log_info("SIGHUP: reloading the topology");
        log_reopen();
        proxy_reload();
        return;
    }
    log_info("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopexit(main_base, NULL);
}

int main(int argc, char **argv)
{
    buf errs;
    buf_init(&errs);
    int test_only = 0;

    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    cmd_table_init();

    int rc = pconf_load(&proxy_g.conf, argc, argv, &test_only, &errs);
    if (rc == 1) {
        pconf_free(&proxy_g.conf);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "%.*s", (int)errs.len, errs.data ? errs.data : "");
        if (errs.len && errs.data[errs.len - 1] != '\n') fputc('\n', stderr);
        buf_free(&errs);
        pconf_free(&proxy_g.conf);
        return 1;
    }
    if (test_only) {
        /* the certificates are part of the configuration to check */
        char err[600];
        tls_ctx *server_tls, *backend_tls;
        if (proxy_tls_contexts(&server_tls, &backend_tls, err, sizeof err) < 0) {
            printf("error: %s\n", err);
            pconf_free(&proxy_g.conf);
            buf_free(&errs);
            return 1;
        }
        tls_ctx_destroy(server_tls);
        printf("%s: configuration OK: %d groups, listen %s:%d\n",
               proxy_g.conf.config_path ? proxy_g.conf.config_path : "(defaults)",
               proxy_g.conf.topo.ngroups, proxy_g.conf.listen_host, proxy_g.conf.listen_port);
        /* Slots the file gives to another group than the nodes' tables
         * (slotcheck.h): a warning, the file itself is valid. */
        buf warn;
        buf_init(&warn);
        int differ = proxy_g.conf.config_path
                         ? slotcheck_nodes(&proxy_g.conf.topo, proxy_g.conf.config_path, 200, backend_tls, &warn)
                         : 0;
        tls_ctx_destroy(backend_tls);
        if (differ < 0) printf("error: a group that owns slots is missing from the file:\n");
        else if (differ > 0) printf("warning: the file moves slots that nodes own:\n");
        if (warn.len) printf("%.*s", (int)warn.len, warn.data);
        buf_free(&warn);
        pconf_free(&proxy_g.conf);
        buf_free(&errs);
        return differ < 0 ? 1 : 0;
    }
    if (log_init("proxy", proxy_g.conf.log_path, proxy_g.conf.s.log_level) < 0) {
        fprintf(stderr, "cannot open log file %s\n", proxy_g.conf.log_path);
        pconf_free(&proxy_g.conf);
        return 1;
    }

    if (pacl_init(proxy_g.conf.s.aclfile, proxy_g.conf.topo.password, &errs) < 0) {
        log_error("%.*s", (int)errs.len, errs.data);
        fprintf(stderr, "%.*s", (int)errs.len, errs.data);
        pacl_shutdown();
        pconf_free(&proxy_g.conf);
        buf_free(&errs);
        return 1;
    }

    if (proxy_g.conf.s.protected_mode) {
        /* protected mode (protmode.h): the client port and the HTTP API.
         * tls_port listens on the host of listen: the same check covers it. */
        static const char fix[] = "password: in the topology (or an aclfile whose default user has a password "
                                  "or is off)";
        int open = pacl_default_open();
        int rc = protmode_check("strata-proxy", "listen", proxy_g.conf.listen_host, open, 1, fix, &errs);
        if (rc == 0 && proxy_g.conf.s.http_listen && *proxy_g.conf.s.http_listen) {
            char host[256];
            int hport;
            /* an address that does not parse is httpapi_start's error to give */
            if (httpapi_listen_addr(proxy_g.conf.s.http_listen, host, sizeof host, &hport) == 0)
                rc = protmode_check("strata-proxy", "http_listen", host, open, 1, fix, &errs);
        }
        if (rc < 0) {
            log_error("%.*s", (int)errs.len - 1, errs.data);
            if (proxy_g.conf.log_path) fprintf(stderr, "%.*s", (int)errs.len, errs.data);
            pacl_shutdown();
            pconf_free(&proxy_g.conf);
            buf_free(&errs);
            return 1;
        }
    }

    {
        char err[600];
        if (proxy_tls_contexts(&proxy_g.tls_ctx, &proxy_g.backend_tls_ctx, err, sizeof err) < 0) {
            log_error("%s", err);
            if (proxy_g.conf.log_path) fprintf(stderr, "strata-proxy: %s\n", err);
            pacl_shutdown();
            pconf_free(&proxy_g.conf);
            buf_free(&errs);
            return 1;
        }
    }
    if (proxy_g.conf.s.tls_backend && proxy_g.conf.topo.has_sentinel && proxy_g.conf.topo.nsentinels)
        log_warn("tls_backend with sentinels: the sentinels reach the nodes in plain TCP at the topology's "
                 "addresses, which tls_backend makes TLS ports, so they cannot monitor them");

    proxy_g.argc = argc;
    proxy_g.argv = argv;
    proxy_g.start_ms = now_ms();
    snprintf(proxy_g.config_file, sizeof proxy_g.config_file, "%s",
             proxy_g.conf.config_path ? proxy_g.conf.config_path : "");
    proxy_g.nworkers = (int)proxy_g.conf.s.threads;
    proxy_g.workers = xcalloc((size_t)proxy_g.nworkers, sizeof *proxy_g.workers);

    pthread_mutex_lock(&proxy_g.lock);
    proxy_publish_locked();
    pthread_mutex_unlock(&proxy_g.lock);
    if (sentwatch_start() < 0) log_warn("cannot start the sentinel watcher");

    int ok = 1;
    int started = 0;
    for (int i = 0; i < proxy_g.nworkers && ok; i++) {
        if (worker_init(&proxy_g.workers[i], i, proxy_g.conf.listen_host, proxy_g.conf.listen_port,
                        (int)proxy_g.conf.s.tls_port, proxy_g.nworkers > 1, &errs) < 0)
            ok = 0;
        else
            started = i + 1;
    }

    main_base = event_base_new();
    struct event *sigs[3] = { NULL, NULL, NULL };
    if (ok && proxy_g.conf.s.metrics_listen && proxy_g.conf.s.metrics_listen[0] &&
        metrics_start(main_base, proxy_g.conf.s.metrics_listen, &errs) < 0)
        ok = 0;
    if (ok && proxy_g.conf.s.http_listen && proxy_g.conf.s.http_listen[0] &&
        http_start(main_base, &errs) < 0)
        ok = 0;

    if (ok) {
        int signums[3] = { SIGINT, SIGTERM, SIGHUP };
        for (int i = 0; i < 3; i++) {
            sigs[i] = evsignal_new(main_base, signums[i], on_signal, NULL);
            event_add(sigs[i], NULL);
        }
        /* Workers must not take the signals: block them while starting. */
        sigset_t all, old;
        sigemptyset(&all);
        sigaddset(&all, SIGINT);
        sigaddset(&all, SIGTERM);
        sigaddset(&all, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (int i = 0; i < proxy_g.nworkers; i++) worker_start(&proxy_g.workers[i]);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        log_info("strata-proxy %s listening on %s:%d, %d thread(s), %d group(s)%s", STRATA_VERSION,
                 proxy_g.conf.listen_host, proxy_g.conf.listen_port, proxy_g.nworkers,
                 proxy_g.conf.topo.ngroups, proxy_g.conf.topo.has_sentinel ? ", sentinels" : "");
        if (proxy_g.tls_ctx)
            log_info("TLS clients on %s:%lld (client certificates: %s)", proxy_g.conf.listen_host,
                     proxy_g.conf.s.tls_port, tls_auth_names[proxy_g.conf.s.tls_auth_clients]);
        if (proxy_g.backend_tls_ctx)
            log_info("TLS to the nodes (tls_backend), certificates checked against %s",
                     *proxy_g.conf.s.tls_ca_cert_file ? proxy_g.conf.s.tls_ca_cert_file : proxy_g.conf.s.tls_ca_cert_dir);
        event_base_dispatch(main_base);
        for (int i = 0; i < proxy_g.nworkers; i++) worker_stop(&proxy_g.workers[i]);
    } else {
        log_error("%.*s", (int)(errs.len && errs.data[errs.len - 1] == '\n' ? errs.len - 1 : errs.len),
                  errs.data ? errs.data : "");
    }

    sentwatch_stop();
    metrics_stop();
    http_stop();
    for (int i = 0; i < 3; i++)
        if (sigs[i]) event_free(sigs[i]);
    for (int i = 0; i < started; i++) worker_free(&proxy_g.workers[i]);
    if (!ok && started < proxy_g.nworkers) worker_free(&proxy_g.workers[started]);
    free(proxy_g.workers);
    /* after the workers' clients: their connections hold references */
    tls_ctx_destroy(proxy_g.tls_ctx);
    proxy_g.tls_ctx = NULL;
    tls_ctx_destroy(proxy_g.backend_tls_ctx);
    proxy_g.backend_tls_ctx = NULL;
    event_base_free(main_base);
    pthread_mutex_lock(&proxy_g.lock);
    route_release(proxy_g.route);
    proxy_g.route = NULL;
    pthread_mutex_unlock(&proxy_g.lock);
    free(proxy_g.masters);
    pacl_shutdown();
    pconf_free(&proxy_g.conf);
    buf_free(&errs);
    libevent_global_shutdown();
    if (ok) log_info("bye");
    return ok ? 0 : 1;
}
