/* repl_master: the master side of WAL replication — replicas attached
 * with PSYNC (incremental streaming or full sync), their acks, the
 * semi-synchronous hold of writers' replies, WAIT, log retention pins and
 * the fencing lease.
 *
 *   write command --> write hook: wal_append (same batch as the data);
 *                     semi-sync: the writer is marked to be held
 *   end of the loop iteration (sleep hook, after the commit):
 *        wal_publish -> new records appended to every caught-up replica's
 *        output (lagging ones are fed from the log on their write event);
 *        marked writers get CLIENT_WAIT_ACK so their replies stay queued
 *   REPLCONF ACK lsn from a replica --> writers whose lsn K replicas hold
 *        are released (client_pending), others time out
 *
 * Holding a writer only parks its reply: the loop keeps serving every
 * other client, and writers that arrive meanwhile join the next group
 * commit and park on their own lsn. */
#ifndef STRATA_REPL_MASTER_H
#define STRATA_REPL_MASTER_H

#include <stdint.h>

#include "buf.h"
#include "server.h"

void repl_master_init(void);
/* Write hook (server_add_write_hook). */
void repl_master_write_hook(client *c, size_t mark);
/* Part of the sleep hook, after wal_publish: stream, park writers. */
void repl_master_after_commit(void);
/* Part of the cron hook: heartbeats, link timeouts, log trimming. */
void repl_master_cron(void);
/* Free hook. */
void repl_master_client_freed(client *c);

/* This node stops being a master (REPLICAOF host port), or its store is
 * about to be replaced: replica and dump links are closed, their
 * snapshots released at once, and held writers are answered. */
void repl_master_drop_replicas(void);
/* This node became a master (start-up or REPLICAOF NO ONE): the fencing
 * lease starts now. */
void repl_master_promoted(void);
/* A replica acked.  This renews the fencing lease only on a master no
 * sentinel ever renewed (REPLCONF sentinel-count N sentinel-renew ID):
 * once sentinels watch it, the lease needs a majority of them. */
void repl_fence_renew(void);

/* srv.write_allowed: refuses writes when fenced, or when semi-sync with
 * the error fallback cannot possibly be met (fewer good replicas than
 * min_replica_acks), as Redis's min-replicas-to-write does. */
int repl_master_write_allowed(client *c, const char **err);
/* acked_reads: yes.  A fenced master refuses reads (a replica may have
 * been promoted and taken newer writes): 0 with *err set (static), else 1.
 * The hook, after a read ran, holds its reply as a write's is held until
 * min_replica_acks replicas have every record this master holds (the read
 * may show any of them), or answers -NOREPLICAS in its place on the ack
 * timeout: a read never shows a write that a failover can still lose. */
int repl_master_read_allowed(client *c, const char **err);
void repl_master_read_hook(client *c);
/* srv.fenced_now: the lease, checked now (see server.h). */
int repl_master_fenced_now(void);

/* INFO replication (master part: connected_slaves, slaveN lines, ...)
 * and ROLE's list of replicas. */
void repl_master_info(buf *o);
/* Every streaming replica (not dump clients): its address as the master
 * sees it, its announced listening port and the lsn it acked. */
typedef void repl_replica_fn(void *ctx, const char *ip, long long port, uint64_t acked_lsn);
void repl_master_each_replica(repl_replica_fn *fn, void *ctx);
void repl_master_role(client *c);
unsigned long repl_master_nreplicas(void);

/* Command handlers. */
void repl_psync_command(client *c);
void repl_replconf_command(client *c);
void repl_wait_command(client *c);

#endif
