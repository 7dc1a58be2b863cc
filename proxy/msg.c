/* msg: request records and fragments with per-worker free lists.
 * See msg.h for the flow. */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

#include "worker.h"

/* Free lists keep a bounded number of objects so a burst does not pin its
 * peak memory forever. */
#define MSG_FREE_MAX 4096
#define FRAG_FREE_MAX 4096

struct msg *msg_get(struct worker *w)
{
    struct msg *m = w->free_msgs;
    if (m) {
        w->free_msgs = m->next;
        w->nfree_msgs--;
        buf b = m->reply, fr = m->fwd_req;
        memset(m, 0, sizeof *m);
        m->reply = b;
        m->fwd_req = fr;
        buf_clear(&m->reply);
        buf_clear(&m->fwd_req);
    } else {
        m = xcalloc(1, sizeof *m);
    }
    m->cmd = -1;
    return m;
}

void msg_set_frags(struct msg *m, int n)
{
    m->nfrags = n;
    m->npending = n;
    if (n == 1) {
        m->frags = &m->frag1;
    } else {
        m->frags = xcalloc((size_t)n, sizeof *m->frags);
    }
    if (m->kind != MSG_FORWARD && m->kind != MSG_TUNNEL && m->kind != MSG_PUSHCMD &&
        m->kind != MSG_EVAL) {
        m->replies = xcalloc((size_t)n, sizeof *m->replies);
    }
}

void msg_put(struct worker *w, struct msg *m)
{
    for (int i = 0; i < m->nfrags; i++)
        if (m->frags[i]) m->frags[i]->msg = NULL;
    if (m->frags && m->frags != &m->frag1) free(m->frags);
    if (m->replies) {
        for (int i = 0; i < m->nfrags; i++) buf_free(&m->replies[i]);
        free(m->replies);
    }
    free(m->keyfrag);
    free(m->text);
    m->frags = NULL;
    m->replies = NULL;
    m->keyfrag = NULL;
    m->text = NULL;
    if (w->nfree_msgs < MSG_FREE_MAX) {
        buf_shrink(&m->reply, 4096);
        buf_shrink(&m->fwd_req, 4096);
        m->next = w->free_msgs;
        w->free_msgs = m;
        w->nfree_msgs++;
    } else {
        buf_free(&m->reply);
        buf_free(&m->fwd_req);
        free(m);
    }
}

struct frag *frag_get(struct worker *w)
{
    struct frag *f = w->free_frags;
    if (f) {
        w->free_frags = f->next;
        w->nfree_frags--;
        buf b = f->req;
        memset(f, 0, sizeof *f);
        f->req = b;
        buf_clear(&f->req);
    } else {
        f = xcalloc(1, sizeof *f);
    }
    f->gidx = -1;
    return f;
}

void frag_put(struct worker *w, struct frag *f)
{
    if (w->nfree_frags < FRAG_FREE_MAX) {
        buf_shrink(&f->req, 1024);
        f->next = w->free_frags;
        w->free_frags = f;
        w->nfree_frags++;
    } else {
        buf_free(&f->req);
        free(f);
    }
}
