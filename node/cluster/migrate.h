/* migrate: online slot migration, both ends (migration.md §8.3, with the
 * simplifications listed below).  A job moves a set of slots R from the
 * master of group S (export) to the master of group T (import), copying
 * from a LevelDB snapshot in bounded chunks and catching up from S's own
 * WAL, then switching ownership of R in one step that T decides.
 *
 * Coordinator -> S (strata-cli):
 *
 *   STRATA MIGRATE START <job> <target-group> <host> <port> <ranges>
 *                        [RATE <mb-per-s>] [AUTH <password>]
 *                        [DEBUG-FENCE-MS <ms>]   (tests: hold the fence)
 *   STRATA MIGRATE STATUS | PAUSE <job> | RESUME <job> | CANCEL <job>
 *                 | RATE <job> <mb>
 *                 | TARGET <job> <host> <port>  (T's group failed over)
 *   STRATA SLOTSINFO <ranges>
 *
 * S -> T, over one RESP connection S opens (AUTH first: the one given,
 * else masteruser/masterauth, else requirepass; node_internal_auth):
 *
 *   STRATA IMPORT PREPARE <job> <source-group> <ranges>   -> +OK
 *   STRATA IMPORT APPLY <job> <ops>                       -> :<keys on T in R>
 *   STRATA IMPORT COMMIT <job> <epoch>                    -> *2 :<new epoch> :<keys>
 *   STRATA IMPORT ABORT <job>                             -> +OK
 *   STRATA IMPORT VERDICT <job> <ranges>       -> +importing | +committed | +aborted
 *
 * <ops> is migrate_codec.h's op list.  The copy sends the 'M' records of
 * R and each collection's 'D'/'Z' subkeys (one prefix seek per
 * collection, since subkeys carry the version, not the key); the tail
 * sends the ops of each WAL record after the snapshot that concern R
 * (mig_filter_ops).  Each APPLY is one command on T, so one write batch
 * and one WAL record of T's own: T's replicas receive the import.
 *
 *   S: START  -> "Rmigrate" = copy;  wal kept and pinned at the snapshot
 *   S->T PREPARE   T: "Rimport" = job; R stays unowned on T (no client
 *                  access: -MOVED to S), its keys do not expire there
 *   S->T APPLY*    copy: <= 256 KB or 1000 entries a chunk, at most 8 in
 *                  flight, RATE-limited, a few ms of work per loop turn
 *   S->T APPLY*    catch-up from the WAL, filtered by slot/version
 *   S: FENCE       "Rmigrate" = fence at lsn F; commands on R are parked
 *                  (held, not refused), other slots run on
 *   S->T APPLY*    the records up to F
 *   S->T COMMIT    T: table gives R to T at epoch+1, "Rimport" deleted
 *                  (one write: this is the commit point)
 *   S: table gives R to T at that epoch; parked commands are dispatched
 *      again and get -MOVED; "Rmigrate" = trim
 *   S: TRIM        R's keys deleted through db_delete in batches (so the
 *                  replicas follow and the GC frees the subkeys)
 *
 * Versions.  T remaps every imported collection version to a fresh one
 * of its own (server_new_version), so an import can never collide with
 * T's live or garbage-queued collections whatever the two clocks did.
 * The map lives in T's memory for the job; a restarted T aborts.
 *
 * Failures.  T aborts (drops what it staged, in the background) when the
 * link drops before COMMIT, on ABORT, and at start-up when "Rimport" is
 * still there; keepalive probes on T's end close a link that S lost
 * without a word (S's TCP gave up in a partition), which T, idle, would
 * never see drop.  S fails the job when the link drops before the fence; in
 * or after the fence it keeps R parked and asks T's VERDICT until it
 * gets one.  A restarted S with "Rmigrate" = copy forgets the job; with
 * fence it answers R with -TRYAGAIN until T's verdict; with trim it
 * resumes the trim.
 *
 * Failover (migration.md §8.5).  "Rmigrate" and "Rimport" are replicated
 * writes, so a replica promoted by REPLICAOF NO ONE carries on as a
 * restarted master would: T's new master aborts an uncommitted import
 * and drops the staging; S's new master fails a job in the copy (and
 * tells T to abort it: the coordinator starts it again), keeps R parked
 * in the fence and asks T's verdict, and resumes the trim after the
 * commit.  When T fails over while S waits for a verdict, the
 * coordinator names T's new master with MIGRATE TARGET.  With
 * min_replica_acks >= 1 on T, the COMMIT's reply waits for T's replica
 * like any write, so a commit S heard survives T's failover.
 *
 * Multi-key commands whose keys span R and other slots during a job get
 * -TRYAGAIN (Redis Cluster's text).  Transactions open at the switch are
 * aborted (EXEC answers EXECABORT): their queued commands were checked
 * when R was still owned here. */
#ifndef STRATA_MIGRATE_H
#define STRATA_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "server.h"

/* STRATA MIGRATE / SLOTSINFO / IMPORT; returns 1 if argv[1] was one of
 * them (a reply was added), else 0. */
int migrate_command(client *c);
/* INFO's "migration" section and /metrics families. */
void migrate_info(buf *out);
void migrate_metrics(buf *out);
/* The WAL must be kept (a job reads its tail), and not trimmed from this
 * lsn on (UINT64_MAX: no pin). */
int migrate_needs_log(void);
uint64_t migrate_pin_lsn(void);
/* 1 if the key must not expire now (it is being imported here, or its
 * slot is fenced). */
int migrate_key_frozen(const char *key, size_t len);
/* Release the export's snapshot and iterators (server_cleanup, before
 * the store closes: LevelDB must not close under them). */
void migrate_release_store(void);
/* Registered by cluster_register after its own dispatch check. */
void migrate_register(void);

#endif
