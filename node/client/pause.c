/* pause: held clients of CLIENT PAUSE (see pause.h).
 *
 * State: the pause (type, end), a timer at its end, and a FIFO of held
 * clients linked through their pause_hold.  Each hold owns a copy of its
 * client's command (the original pointed into the query buffer, which is
 * consumed as soon as dispatch returns).  The free hook takes a closing
 * client off the FIFO, so the FIFO never holds a freed client. */
#include "pause.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

struct pause_hold {
    int argc;
    char **argv;
    size_t *argvlen;
    char *argbuf;                 /* the argument bytes, each NUL-terminated */
    client *prev, *next;          /* FIFO of held clients */
};

static struct {
    enum pause_type type;
    uint64_t end_ms;
    struct event *timer;          /* fires at end_ms */
    struct event *resume_ev;      /* runs the resume pass */
    client *head, *tail;          /* held clients, oldest first */
} pz;

/* ---------------- holding ---------------- */

static void hold_free(struct pause_hold *h)
{
    free(h->argv);
    free(h->argvlen);
    free(h->argbuf);
    free(h);
}

static void hold_unlink(client *c)
{
    struct pause_hold *h = c->phold;
    if (h->prev) h->prev->phold->next = h->next;
    else pz.head = h->next;
    if (h->next) h->next->phold->prev = h->prev;
    else pz.tail = h->prev;
    h->prev = h->next = NULL;
}

/* Copy c's command and queue c at the tail. */
static void hold_client(client *c)
{
    struct pause_hold *h = xcalloc(1, sizeof *h);
    h->argc = c->argc;
    client_copy_argv(c, &h->argv, &h->argvlen, &h->argbuf);
    h->prev = pz.tail;
    if (pz.tail) pz.tail->phold->next = c;
    else pz.head = c;
    pz.tail = c;
    c->phold = h;
    c->flags |= CLIENT_PAUSED;
}

/* Commands a WRITE pause covers: what would write or propagate in Redis
 * (PUBLISH is "may-replicate" there).  multi.c keeps the queue private,
 * so an EXEC is held whatever its transaction holds: at worst a read-only
 * transaction waits for the pause too. */
static int pause_covers(const client *c)
{
    if (pz.type == PAUSE_ALL) return 1;
    return (c->cmd->flags & CF_WRITE) || c->cmd->id == CMD_PUBLISH ||
           (c->cmd->id == CMD_EXEC && (c->flags & CLIENT_MULTI));
}

enum pause_type pause_current(void)
{
    if (pz.type != PAUSE_NONE && now_ms() >= pz.end_ms) pause_end();
    return pz.type;
}

static int pause_filter(client *c)
{
    if (pause_current() == PAUSE_NONE) return 0;
    if (c->flags & (CLIENT_MASTER | CLIENT_REPLICA)) return 0;
    if (!pause_covers(c)) return 0;
    hold_client(c);
    return 1;
}

/* ---------------- resuming ---------------- */

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    /* Take the whole FIFO: a client held again during this pass joins a
     * new one and waits for the next pass. */
    client *c = pz.head;
    pz.head = pz.tail = NULL;
    while (c) {
        struct pause_hold *h = c->phold;
        client *next = h->next;
        c->phold = NULL;
        c->flags &= ~CLIENT_PAUSED;
        if (!(c->flags & CLIENT_CLOSE_ASAP)) {
            c->argc = h->argc;
            c->argv = h->argv;
            c->argvlen = h->argvlen;
            server_dispatch(c); /* a new pause copies the command again */
            c->argc = 0;
            c->argv = NULL;
            c->argvlen = NULL;
            if (c->qbuf.len) client_process_input(c);
        }
        hold_free(h);
        c = next;
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    pause_current(); /* ends the pause if its time has come */
    uint64_t now = now_ms();
    if (pz.type != PAUSE_NONE && pz.end_ms > now) {
        /* woke early (clock step): wait for the rest */
        uint64_t left = pz.end_ms - now;
        struct timeval tv = { (time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000) };
        evtimer_add(pz.timer, &tv);
    }
}

void pause_start(enum pause_type type, uint64_t end_ms)
{
    uint64_t now = now_ms();
    if (pause_current() == PAUSE_NONE && end_ms <= now) return;
    if (type > pz.type) pz.type = type;
    if (end_ms > pz.end_ms) pz.end_ms = end_ms;
    srv.writes_paused = 1;
    uint64_t left = pz.end_ms - now;
    /* libevent wants a timeval; a century is "until UNPAUSE" in practice. */
    if (left > UINT64_C(3153600000000)) left = UINT64_C(3153600000000);
    struct timeval tv = { (time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000) };
    evtimer_add(pz.timer, &tv);
}

void pause_end(void)
{
    if (pz.type == PAUSE_NONE) return;
    pz.type = PAUSE_NONE;
    pz.end_ms = 0;
    srv.writes_paused = 0;
    evtimer_del(pz.timer);
    /* Not here: this may run inside another client's command (UNPAUSE). */
    if (pz.head) event_active(pz.resume_ev, EV_TIMEOUT, 0);
}

static void pause_free_hook(client *c)
{
    if (!c->phold) return;
    hold_unlink(c);
    hold_free(c->phold);
    c->phold = NULL;
}

void pause_register(void)
{
    pz.timer = evtimer_new(srv.base, timer_cb, NULL);
    pz.resume_ev = event_new(srv.base, -1, 0, resume_cb, NULL);
    server_add_dispatch_hook(pause_filter);
    server_add_free_hook(pause_free_hook);
}
