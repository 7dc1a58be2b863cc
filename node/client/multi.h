/* multi: transactions (MULTI EXEC DISCARD WATCH UNWATCH) for strata-node.
 *
 * The point other modules rely on (replication in particular):
 *
 *   While EXEC runs its queue, the client carries CLIENT_IN_EXEC (and still
 *   CLIENT_MULTI).  Every queued command goes through server_call, so the
 *   write hooks fire once per queued command with CLIENT_IN_EXEC set; then,
 *   after the queue has run and CLIENT_IN_EXEC is cleared, server_call of
 *   the EXEC command itself fires the write hooks once more with the mark
 *   taken before EXEC, so store_ops(mark) is the whole transaction.
 *
 *   A module that wants ONE record per transaction (the WAL) ignores write
 *   notifications while multi_in_exec(c) is true and takes the one for
 *   EXEC (c->cmd->id == CMD_EXEC).  Nothing is committed in between: the
 *   dispatcher never commits early while CLIENT_IN_EXEC is set, so the
 *   transaction reaches LevelDB as one write.
 *
 * Blocking commands must not block while multi_in_exec(c): they answer as
 * if their timeout had expired (Redis's behaviour). */
#ifndef STRATA_MULTI_H
#define STRATA_MULTI_H

#include "server.h"

/* 1 while c's EXEC is running its queued commands. */
static inline int multi_in_exec(const client *c)
{
    return c && (c->flags & CLIENT_IN_EXEC) != 0;
}

/* Invalidate the WATCHes of every key that a batch of operations (store.h's
 * operation-log format) changes, when the batch did not come through
 * server_call: a replica applying its master's records calls this with
 * each record's operations, so a WATCH on a replica fails like Redis's
 * when the master changes the key. */
void multi_signal_ops(const char *ops, size_t len);

/* Fail the WATCH of every watched key that has a record now.  The whole
 * dataset is about to be replaced, or just was (a replica's full sync):
 * called before and after, it flags the keys that existed in the old data
 * or exist in the new, as Redis does when a replica loads its master's
 * snapshot; a key absent from both keeps its WATCH. */
void multi_touch_existing(void);

/* Fail the WATCHes of one key that a command "modified" without writing
 * anything: Redis signals some commands' keys unconditionally (LTRIM of a
 * range that keeps the whole list), and the write hook only sees writes. */
void multi_touch_key(const char *key, size_t klen);

/* The running command of `c` flushed the whole keyspace (FLUSHALL,
 * FLUSHDB): Redis's signalFlushedDb.  The flush's own deletions fail the
 * WATCHes of the keys that existed (through the write hook); caches are
 * told that everything is invalid, once, instead of key by key. */
void multi_signal_flush(client *c);
/* CLIENT LIST's multi= and multi-mem=: the number of commands c has
 * queued since MULTI and the bytes the queue holds (0, 0 outside MULTI). */
void multi_queue_stats(const client *c, int *count, size_t *bytes);

/* EXEC was refused before it ran (a busy script, a lost lease, its
 * arity...), its error appended to c->out at `from`: as Redis's
 * execCommandAbort, the transaction is discarded and the reply becomes
 * "-EXECABORT Transaction discarded because of: <error>".  Without it the
 * connection would stay in MULTI and queue whatever came next. */
void multi_abort_exec(client *c, size_t from);

#endif
