/* worker: one thread with its own libevent loop, its own SO_REUSEPORT
 * listener, its own clients and its own backend connections.
 *
 * Nothing is shared between workers except the routing snapshot
 * (route.h, read-only) and the statistics they publish (stats.h).  Each
 * loop iteration runs every ready callback and then flushes, in one
 * write() per socket, everything those callbacks queued: many clients'
 * requests reach a backend in one write, many replies reach a client in
 * one write (this batching is where a pipelining proxy gains its speed). */
#ifndef STRATA_PROXY_WORKER_H
#define STRATA_PROXY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "stats.h"

struct event_base;
struct event;
struct route;
struct backend;
struct client;
struct msg;
struct frag;

struct worker {
    int id;
    pthread_t thread;
    struct event_base *base;
    int lfd;                        /* listening socket, owned */
    int tls_lfd;                    /* tls_port's, owned, or -1 */
    char laddr[272], tls_laddr[272];/* host:port of each, for CLIENT LIST */
    struct event *accept_ev, *tls_accept_ev, *tick_ev, *notify_ev;
    atomic_int stop;

    struct route *route;            /* retained snapshot in use */
    struct backend **gmaster;       /* per group of route: master link (RESP2) */
    struct backend ***grepl;        /* per group: replica links (RESP2) */
    struct backend **gmaster3;      /* the same in RESP3, NULL until a RESP3 */
    struct backend ***grepl3;       /* client first needs one */
    int *ngrepl;
    unsigned rr;                    /* replica round robin */
    struct backend **pool;          /* shared links, by address */
    int npool, cappool;

    struct client *clients;         /* all clients (doubly linked) */
    long nclients;
    struct client *cflush;          /* clients with output to write */
    struct backend *bflush;         /* backends with requests to write */

    struct msg *free_msgs;
    struct frag *free_frags;
    int nfree_msgs, nfree_frags;

    uint64_t next_client_id;
    unsigned rnd;
    uint64_t now_us;                /* mono_us() at the start of the iteration */

    struct wstats stats;
};

/* Create the workers' listeners (all before any thread runs, so a bind
 * error stops start-up): `port` plain, and `tls_port` (0: none) whose
 * connections are TLS from proxy_g.tls_ctx.  Returns 0 or -1 with a
 * message in errs. */
int worker_init(struct worker *w, int id, const char *host, int port, int tls_port, int reuseport,
                buf *errs);
int worker_start(struct worker *w);
/* Ask the loop to stop (any thread) and wait for it. */
void worker_stop(struct worker *w);
void worker_free(struct worker *w);
/* Tell the worker a new snapshot is published (any thread). */
void worker_notify(struct worker *w);

/* Shared link in protocol `proto` to the master (or, for reads when
 * allowed, a replica) of group g.  RESP3 links open on first use. */
struct backend *worker_backend_for(struct worker *w, int g, int is_read, int proto);
/* Queue a client / backend for the end-of-iteration flush. */
void worker_want_flush_client(struct worker *w, struct client *c);
void worker_want_flush_backend(struct worker *w, struct backend *b);

#endif
