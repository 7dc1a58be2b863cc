/* client: one client connection — reads requests, routes each through the
 * command table, and writes replies back in request order.
 *
 * Routing (route kinds from commands.def):
 *   RT_KEY         all keys in one group, forwarded as received; else -CROSSSLOT
 *   RT_MGET/MSET/SUM  split per group, merged in the client's order
 *   RT_ALL_*       sent to every group, merged
 *   RT_SCAN        the cursor walks the groups in turn
 *   RT_LOCAL       answered by the proxy (local.c)
 *   RT_TX          MULTI is queued by the proxy and sent whole at EXEC;
 *                  WATCH pins a private link to its keys' group
 *   RT_BLOCK       on a private link to the keys' group
 *   RT_PUBSUB      RESP2: SUBSCRIBE turns the connection into a tunnel to
 *                  the pub/sub group; RESP3: (un)subscriptions go over a
 *                  private RESP3 link to it and the client keeps running
 *                  other commands.  Either way the same subscriptions are
 *                  also made on every other group (keyspace notifications
 *                  happen where the keys live), whose confirmations are
 *                  dropped and whose messages are passed on.  PUBLISH goes
 *                  to the pub/sub group.
 *   RT_EVAL        EVAL* and FCALL*: the declared keys' slot, or the owner of
 *                  slot 0 (client_script.c); NOSCRIPT healed (script.h)
 *   RT_SCRIPT      SCRIPT/FUNCTION: broadcast and merged (client_script.c)
 *   RT_DENY        -ERR naming the command
 * The connection stays open after every error except a protocol error.
 *
 * Protocol: each client speaks RESP2 until HELLO 3.  Its requests go over
 * links in its own protocol (worker_backend_for), so a backend's reply is
 * already what the client must get; the proxy's own replies are written
 * in c->proto.
 *
 * CLIENT TRACKING (RESP3): once on, the client's commands go over private
 * RESP3 links, one per group, each opened with the client's CLIENT
 * TRACKING options (BCAST: on every group at once), so the nodes track
 * exactly what this client read; their invalidation pushes are passed on.
 * With REDIRECT <id> (RESP2 or RESP3), the tracking links are in the
 * client's protocol and each redirects, on its node, to a RESP3 link of
 * the same client opened first (its node-side id from CLIENT ID); the
 * invalidations arriving there go to proxy client <id> as Redis sends
 * them to a redirect target: a push in RESP3, a message on
 * __redis__:invalidate to a RESP2 subscriber. */
#ifndef STRATA_PROXY_CLIENT_H
#define STRATA_PROXY_CLIENT_H

#include <stdint.h>

#include "buf.h"
#include "resp.h"

struct worker;
struct backend;
struct msg;
struct frag;
struct event;
struct tls_conn;

/* c->tls_wait: a TLS operation that waits on the other direction of the
 * fd (tls.h), as on the node (node/server/server.h) */
#define CLIENT_TLS_READ_WANTS_WRITE 1u   /* a read resumes when the fd is writable */
#define CLIENT_TLS_WRITE_WANTS_READ 2u   /* a flush resumes when the fd is readable */

enum tx_state { TX_NONE, TX_QUEUING };

struct client {
    struct worker *w;
    uint64_t id;
    int fd;
    struct tls_conn *tls;        /* owned; NULL: a plain connection (tls.h) */
    unsigned tls_wait;           /* CLIENT_TLS_*_WANTS_* */
    char addr[64];
    char laddr[272];             /* the proxy's end: listen host, port or tls_port */
    struct event *rev, *wev;
    buf in;
    resp_parser parser;
    buf out;
    size_t out_off;
    struct msg *head, *tail;     /* requests in order */
    long nmsgs;
    int authed;
    char *user;                  /* ACL user name (pacl.h), owned */
    uintptr_t user_tag;          /* its tag when the client authenticated */
    int closing;                 /* QUIT or protocol error: close once flushed */
    int in_flush;
    int write_blocked;           /* waiting for EV_WRITE */
    char *name;                  /* CLIENT SETNAME, owned */
    uint64_t created_ms;

    struct backend *priv;        /* private link, owned */
    struct event *moved_ev;      /* resends moved_msg (a blocking command that
                                  * got -MOVED) on a private link to
                                  * moved_group, out of the old link's callback */
    struct msg *moved_msg;
    int moved_group;
    int priv_group;              /* group of priv's server when created */
    enum tx_state tx;
    buf tx_buf;                  /* queued commands of MULTI */
    int tx_count;
    buf tx_shas;                 /* shas of the queued EVALSHAs, 40 bytes each */
    int tx_group;                /* -1: no key seen yet */
    int tx_dirty;                /* EXEC will abort */
    int watch_group;             /* -1: nothing watched */
    uint64_t tx_route;           /* route version when the WATCH or MULTI began; 0: none */
    int watch_lost;              /* the private link holding the WATCH went away */
    struct msg *tunnel;          /* pub/sub tunnel msg, or NULL */
    int proto;                   /* RESP2 or RESP3 (HELLO) */
    struct backend **sub;        /* per group: pub/sub links (RESP3: all of
                                  * them; RESP2: the groups other than the
                                  * tunnel's), owned, NULL when none */
    int nsub;
    struct msg *push_wait;       /* RESP3: the last (un)subscribe msg not yet
                                  * drained; messages queue behind it */
    int tracking;                /* CLIENT TRACKING on */
    int tracking_fwd;            /* ... and the commands go over tracking
                                  * links (not for RESP2 without REDIRECT,
                                  * which can receive no invalidations) */
    int tracking_bcast;
    int tracking_optin, tracking_optout, tracking_noloop;
    buf tracking_opts;           /* the options after ON (REDIRECT left
                                  * out), as bulks, forwarded to the nodes */
    int tracking_nopts;
    uint64_t tracking_redirect;  /* proxy client id (REDIRECT), 0 none */
    struct backend **trk;        /* per group: tracking links, owned */
    int ntrk;
    struct backend **inv;        /* REDIRECT: per group, the RESP3 link
                                  * the node redirects invalidations to */
    int ninv;
    struct backend **adm;        /* per group: admin link for SCRIPT KILL and
                                  * FUNCTION KILL (client_script.c), owned */
    int nadm;
    int caching;                 /* CLIENT CACHING for the next command:
                                  * 0 none, 1 yes, 2 no */

    struct client *prev, *next;
    struct client *flush_next;
};

/* Take over an accepted socket, and tls (NULL: plain), a TLS connection
 * over it whose handshake runs in the first reads. */
void client_create(struct worker *w, int fd, const char *addr, const char *laddr,
                   struct tls_conn *tls);
/* Close and free (orphans its fragments). */
void client_destroy(struct client *c);
/* Write pending output; returns -1 if the client was destroyed. */
int client_flush(struct client *c);

/* A fragment finished: raw reply bytes (an error reply when the backend
 * failed it).  Called by backend.c for fragments whose msg is set. */
void client_frag_done(struct frag *f, const char *raw, size_t len, int is_error);
/* A reply on a tunnel link `b` of c (RESP2 pub/sub). */
void client_tunnel_data(struct client *c, struct backend *b, const char *raw, size_t len);
/* A RESP3 push on private link `b` of c (pub/sub, invalidation). */
void client_push(struct client *c, struct backend *b, const char *raw, size_t len);
/* Timers of the client's private links. */
void client_tick(struct client *c, uint64_t now_us);
/* Turn tracking on with the options `opts` (nopts bulks after ON, without
 * REDIRECT; copied) and the proxy client `redirect` (0: none), or off
 * (on == 0): the tracking links are closed, and when on reopened with the
 * options (BCAST: on every group now). */
void client_set_tracking(struct client *c, int on, const char *opts, size_t len, int nopts,
                         int bcast, uint64_t redirect);
/* A private link of c finished its handshake. */
void client_link_ready(struct client *c, struct backend *b);
/* The client of this worker with proxy id `id`, or NULL. */
struct client *client_by_id(struct worker *w, uint64_t id);
/* Free the calling worker thread's scratch memory (at thread exit). */
void client_thread_cleanup(void);
/* The private link broke or was closed. */
void client_priv_lost(struct client *c, struct backend *b);

#endif
