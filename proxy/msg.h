/* msg: one client request in flight, and its fragments.
 *
 *   client --req--> msg ---+-- frag --> backend g1 FIFO --reply--+
 *                          +-- frag --> backend g2 FIFO --reply--+--> merge --> msg.reply
 *                                                                            |
 *   client <-- replies in request order (client.c drains done msgs) <-------+
 *
 * A msg belongs to its client's queue; a frag belongs to the backend whose
 * FIFO holds it.  frag->msg is cleared when the msg stops caring (the
 * client left, or the fragment timed out): the backend then drops the late
 * reply when it comes, which keeps the FIFO matched without closing the
 * shared connection.  Both come from per-worker free lists (get/put).
 *
 * RESP3 pushes (pub/sub messages, invalidations) match no fragment: they
 * come only on a client's private links and go to that client
 * (client_push), queued behind an (un)subscription still waiting for its
 * turn, so a message never overtakes its subscription's confirmation. */
#ifndef STRATA_PROXY_MSG_H
#define STRATA_PROXY_MSG_H

#include <stdint.h>

#include "buf.h"

struct client;
struct worker;

enum msg_kind {
    MSG_FORWARD,   /* one fragment; its reply is the client's reply */
    MSG_LOCAL,     /* answered by the proxy, reply already in msg.reply */
    MSG_MGET,      /* fragments merged by key order */
    MSG_SUM,       /* integer replies summed */
    MSG_ALL_OK,    /* +OK if all fragments agree */
    MSG_CONCAT,    /* arrays concatenated */
    MSG_RANDOM,    /* one non-nil bulk */
    MSG_SCAN,      /* cursor rewritten */
    MSG_INFO,      /* the proxy's INFO text plus the groups' keyspaces */
    MSG_TUNNEL,    /* pub/sub: every reply of the private link goes out */
    MSG_PUSHCMD,   /* RESP3 (un)subscribe: its pushes are the reply; a PING
                    * sent after it marks the end and is not passed on */
    MSG_EVAL,      /* one fragment, as MSG_FORWARD, except that a NOSCRIPT
                    * for a sha the proxy knows is healed (script.h) */
    MSG_SAME,      /* SCRIPT LOAD: the reply all groups agree on, else
                    * the first error */
    MSG_IDENTICAL, /* FUNCTION LOAD/DELETE/FLUSH/RESTORE: identical replies,
                    * else an error naming the divergence */
    MSG_EXISTS,    /* SCRIPT EXISTS: 1 where every group says 1 */
    MSG_KILL,      /* SCRIPT/FUNCTION KILL: OK if any, else UNKILLABLE,
                    * else NOTBUSY */
};

struct frag {
    struct frag *next;       /* FIFO or wait queue of a backend */
    struct msg *msg;         /* NULL: orphan, the reply will be dropped */
    int idx;                 /* index in msg->frags */
    int hs;                  /* handshake step (backend.c), 0 for requests */
    int gidx;                /* group index in the route of the time, -1 none */
    int skip;                /* replies to drop before the one that completes
                              * this fragment (MULTI ... EXEC sent as one block) */
    uint64_t sent_us;
    uint64_t deadline_us;    /* 0: no deadline (blocking commands) */
    buf req;                 /* request bytes while no connection is up */
};

struct msg {
    struct msg *next;        /* client queue */
    struct client *c;
    int cmd;                 /* cmd_id, -1 when not a table command */
    enum msg_kind kind;
    int proto;               /* the client's protocol when it was sent */
    int done;
    int failed;              /* reply is an error */
    int nfrags, npending;
    struct frag **frags;     /* owned array (pointers to backend-owned frags) */
    struct frag *frag1;      /* storage for frags when nfrags == 1 */
    buf *replies;            /* owned, per fragment, when merging */
    int *keyfrag;            /* owned, MSG_MGET: fragment of each key */
    int nkeys;
    int scan_group, scan_ngroups;
    char *text;              /* owned, MSG_INFO: the proxy's own sections */
    size_t textlen;
    buf reply;               /* finished reply waiting for its turn */
    buf fwd_req;             /* MSG_FORWARD: the request, kept to resend it once
                              * after -MOVED (empty: too big to keep) */
    int fwd_is_read;
    int moved;               /* already resent after a -MOVED */
    int fwd_blocking;        /* a blocking command on the private link: the
                              * -MOVED hop opens one to the new group */
    char sha[41];            /* MSG_EVAL of EVALSHA*: its sha, lower case ("":
                              * not an EVALSHA); fwd_req is sent again after
                              * healing a NOSCRIPT */
    int retried;             /* the NOSCRIPT retry was made */
    uint64_t start_us;
};

struct msg *msg_get(struct worker *w);
/* Release a msg: its fragments are orphaned, not freed (their backends
 * own them). */
void msg_put(struct worker *w, struct msg *m);
/* Allocate the fragment table for n fragments (n >= 1); merging kinds
 * also get a reply buffer per fragment. */
void msg_set_frags(struct msg *m, int n);

struct frag *frag_get(struct worker *w);
void frag_put(struct worker *w, struct frag *f);

#endif
