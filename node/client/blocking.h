/* blocking: clients waiting on keys (BLPOP, BLMOVE, BLMPOP, BZPOPMIN, ...).
 *
 * A blocking command first tries to serve itself like its non-blocking
 * form.  When there is nothing to take it calls block_client(): the client
 * is parked (CLIENT_BLOCKED, no further input is processed) in a FIFO queue
 * per key, with an optional deadline.
 *
 *   writer's command --> write hook: its keys (cmd_get_keys) that have
 *                        waiters become "ready" (block_signal_key does
 *                        the same by hand)
 *   end of the writer's command (block_serve_ready, called by server_call),
 *   or of the event callback for other writes --> for each ready key,
 *        its waiters in arrival order: retry(c, key) runs as a command of c
 *        (store mark, rollback on an error reply, server_notify_write)
 *        1 = served: c is unblocked and its pipelined input resumes
 *        0 = nothing for c on this key: the walk of this key stops
 *   deadline passes --> null array reply (*-1), c resumes
 *   c disconnects   --> free hook removes it from every queue
 *
 * Waking waits for the end of the writer's command (or of a whole EXEC), so
 * every write hook has seen it before a waiter runs, and happens before the
 * writer's next pipelined command, as in Redis: a pipelined RPUSH then LPOP
 * gives the element to the waiter, not to the LPOP.  A served waiter's
 * writes commit in the same group commit as the push that woke it, before
 * either reply is sent; its own pipelined input runs after the current
 * event callback.  Inside MULTI/EXEC nothing blocks: block_client refuses
 * and the command replies the nil of its non-blocking form, as Redis does.
 *
 * Usage (lists and sorted sets):
 *
 *     static int blpop_retry(client *c, const char *key, size_t klen)
 *     {   ... pop from `key` if it is a non-empty list; reply; return 1;
 *         return 0 if there is nothing (absent, empty or other type) ... }
 *
 *     static void blpop_command(client *c)
 *     {
 *         uint64_t deadline;
 *         if (block_parse_timeout(c, c->argc - 1, &deadline) < 0) return;
 *         ... try every key; if one served, return ...
 *         if (block_client(c, 1, c->argc - 2, 1, deadline, blpop_retry) < 0)
 *             resp_add_null_array(&c->out);      (inside MULTI/EXEC)
 *     }
 *
 * During a retry c->argc/argv/argvlen/cmd are the blocking command's own
 * arguments again (a copy owned by this module), srv.current is c and
 * srv.cmd_time_ms is fresh, so the handler's parsing code can be reused.
 * The key passed is the one that became ready (Redis 7.0 serves a
 * multi-key BLPOP from the key that was pushed, not the first listed).
 *
 * Single-threaded, like the rest of the node. */
#ifndef STRATA_BLOCKING_H
#define STRATA_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* Returns 1 after writing c's reply (a value or an error: an error reply
 * rolls back the retry's writes), 0 if `key` has nothing for c now (c stays
 * blocked, and the waiters queued after it on this key are not tried). */
typedef int block_retry_fn(client *c, const char *key, size_t klen);

/* Install the hooks.  Idempotent: every module that blocks calls it from
 * its register function. */
void block_init(void);

/* Timeout argument in seconds (a double, as Redis reads it: "0.1", "1e3";
 * 0 = forever).  Sets *deadline_ms to an absolute wall-clock time in ms,
 * or 0 for "forever".  Returns 0, or -1 after replying
 * "ERR timeout is negative" / "ERR timeout is not a float or out of range". */
int block_parse_timeout(client *c, int argi, uint64_t *deadline_ms);

/* 1 if c may not block here (inside MULTI/EXEC), else 0. */
int block_denied(const client *c);

/* Park c on the keys argv[first], argv[first+step], ... (nkeys of them)
 * until retry serves it or the deadline (0 = none) passes.  The arguments
 * are copied; c->argv may go away after the call.  Returns 0 (blocked:
 * the handler replies nothing) or -1 when c may not block (block_denied):
 * nothing changed, the caller replies its nil. */
int block_client(client *c, int first, int nkeys, int step, uint64_t deadline_ms,
                 block_retry_fn *retry);

/* A write to `key` happened outside the command's key positions (or from
 * a background task): wake its waiters.  Cheap when nobody waits. */
void block_signal_key(const char *key, size_t klen);

/* Serve the waiters of the keys written so far (server_call calls this
 * after every command outside EXEC).  Cheap when no key is ready. */
void block_serve_ready(void);

/* Unblock c now (CLIENT UNBLOCK): with `error` it gets
 * "-UNBLOCKED client unblocked via CLIENT UNBLOCK", otherwise the timeout
 * reply.  Returns 0, or -1 if c was not blocked. */
int block_unblock(client *c, int error);

/* Unblock every blocked client with the error `msg` (a full error text,
 * e.g. when the node becomes a replica).  Returns how many. */
unsigned long block_unblock_all(const char *msg);

/* Unblock every client for which reply(c, key, klen) returns 1 for one of
 * the keys it waits on (reply has written c's reply: an error).  The slot
 * table calls it when slots leave the node, so clients blocked on them get
 * -MOVED, as Redis Cluster redirects its blocked clients.  Returns how
 * many were unblocked. */
unsigned long block_unblock_keys(int (*reply)(client *c, const char *key, size_t klen));

/* Number of blocked clients (INFO clients: blocked_clients). */
unsigned long block_count(void);

#endif
