/* backend: one connection from a worker to a Redis-speaking server.
 *
 * Shared links (owner == NULL) carry the requests of every client of the
 * worker for one server in one protocol (RESP2 or RESP3), pipelined:
 * requests are appended to `out` and their fragments to a FIFO; each
 * reply (framed by a reply_scanner) completes the FIFO's head, except
 * RESP3 pushes, which go to a private link's owner (client_push).  Private links (owner != NULL) belong to one
 * client (transactions with WATCH, blocking pops, pub/sub).
 *
 * With tls_backend (proxy_g.backend_tls_ctx) every link is TLS: the TLS
 * handshake runs in CONNECTING, after the TCP connect and within the same
 * timeout; a failure (the node's certificate not verified, a plain port)
 * is logged with its reason and the link is down like any other.
 *
 * States: DOWN -> CONNECTING -> HANDSHAKE (HELLO 3 or AUTH, ROLE, the
 * owner's set-up commands in hs_extra) -> UP.  While not
 * UP, new fragments wait in `waitq` with their own copy of the request
 * and a deadline; they are sent in order once the link is UP, or fail at
 * their deadline.  When an UP link breaks, the fragments already sent fail
 * at once (a write may or may not have happened: never replayed), and the
 * link reconnects with exponential backoff (shared links only).
 *
 * Timeouts: a fragment past its deadline fails with -ERR and becomes an
 * orphan; its late reply is read and dropped, so the link stays up.  Only
 * when the oldest sent fragment has waited four timeouts (a hung server)
 * is the link closed and reopened. */
#ifndef STRATA_PROXY_BACKEND_H
#define STRATA_PROXY_BACKEND_H

#include <stdint.h>

#include "buf.h"
#include "reply.h"

struct worker;
struct client;
struct frag;
struct event;
struct tls_conn;

/* b->tls_wait: a TLS operation waiting on the other direction of the fd
 * (tls.h), as a client's (client.h) */
#define BACKEND_TLS_READ_WANTS_WRITE 1u   /* a read resumes when the fd is writable */
#define BACKEND_TLS_WRITE_WANTS_READ 2u   /* a flush resumes when the fd is readable */

enum backend_state { BS_DOWN, BS_CONNECTING, BS_HANDSHAKE, BS_UP };

struct backend {
    struct worker *w;
    char host[256];
    int port;
    char group[128];            /* group served when created (for stats and re-queueing) */
    struct client *owner;       /* private link of this client, or NULL */
    int fd;
    struct tls_conn *tls;       /* owned; NULL: a plain link (tls.h) */
    unsigned tls_wait;          /* BACKEND_TLS_*_WANTS_* */
    int tls_failed;             /* TLS itself failed (a certificate, a peer's
                                 * alert): the link's end is a warning */
    enum backend_state state;
    struct event *rev, *wev, *retry_ev;
    buf out;                    /* bytes to write, from out_off */
    size_t out_off;
    buf in;                     /* raw replies not yet delivered, from in_off */
    size_t in_off;
    int proto;                  /* RESP2 or RESP3, for the link's whole life */
    reply_scanner scan;         /* frames the reply starting at in_off */
    buf hs_extra;               /* requests sent first on every connection
                                 * (before what waits); an error reply to
                                 * them takes the link down */
    long long hs_int;           /* an integer reply to hs_extra (CLIENT ID), else -1 */
    int held;                   /* created by backend_create_held: no
                                 * connection until backend_release */
    struct frag *head, *tail;   /* sent, awaiting replies */
    struct frag *expire;        /* first sent fragment not yet timed out */
    long inflight;
    struct frag *wait_head, *wait_tail;
    long nwait;
    int hs_pending;             /* handshake replies still expected */
    int tunnel;                 /* pub/sub: replies go straight to owner */
    int retired;                /* no longer in the route: close when idle */
    int in_flush;               /* queued in the worker's flush list */
    int closing_after_flush;
    unsigned backoff_ms;
    uint64_t down_since_us;
    char last_err[256];
    struct backend *flush_next;
    int gidx;                   /* for stats, -1 when unknown */
    int as_master;              /* the route uses it as its group's master */
    struct script_set *shas;    /* scripts its server has (script.h), owned */
};

/* Create a link in protocol `proto` (RESP2 or RESP3) and start
 * connecting.  `owner` NULL for a shared link.  The worker (shared) or
 * the client (private) owns the result.  Connecting starts at once; a
 * caller that sets hs_extra does so before returning to the loop. */
struct backend *backend_create(struct worker *w, const char *host, int port, const char *group,
                               struct client *owner, int proto);
/* The same, without connecting yet: requests wait (with their deadlines)
 * until backend_release, which connects.  For a link whose set-up
 * depends on another link's answer. */
struct backend *backend_create_held(struct worker *w, const char *host, int port,
                                    const char *group, struct client *owner, int proto);
void backend_release(struct backend *b);
/* Fail every fragment (with `why`), close and free. */
void backend_destroy(struct backend *b, const char *why);
/* Send a request.  The backend takes the fragment; `req` is copied.
 * `deadline_us` 0 means none. */
void backend_send(struct backend *b, struct frag *f, const char *req, size_t len,
                  uint64_t deadline_us);
/* Send bytes whose replies are not matched (tunnel mode). */
void backend_send_raw(struct backend *b, const char *req, size_t len);
/* Write out what is queued (called by the worker's flush). */
void backend_flush(struct backend *b);
/* Expire fragments past their deadline; close a hung link. */
void backend_tick(struct backend *b, uint64_t now_us);
/* Move the waiting fragments of `from` to the end of `to`'s queue. */
void backend_move_waiters(struct backend *from, struct backend *to);
/* Nothing sent or waiting. */
int backend_idle(const struct backend *b);

#endif
