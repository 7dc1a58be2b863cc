/* repl_replica: the replica side of WAL replication — the link to the
 * master on the event loop, the handshake, applying records, receiving a
 * full sync into a fresh directory and swapping it in, and acks.
 *
 *   CONNECT --(connect)--> CONNECTING --> HANDSHAKE: [AUTH] REPLCONF PSYNC
 *        ^                                   | +CONTINUE       | +FULLSYNC
 *        |                                   v                 v
 *        +------ any error, EOF, timeout -- CONNECTED <---- FULLSYNC
 *                                       (records, acks)  (chunks into
 *                                                         <dir>.sync, swap)
 *
 * CONNECTING is the TCP connect and, with tls_replication, the TLS
 * handshake (the master's certificate checked), under one timeout.
 *
 * A record that fails its checksum (or any check) is not applied: it is
 * counted and logged, the link is closed and the next handshake asks for
 * a full sync, so the replica never keeps a gap or a wrong change. */
#ifndef STRATA_REPL_REPLICA_H
#define STRATA_REPL_REPLICA_H

#include <stdint.h>

#include "buf.h"
#include "server.h"

void repl_replica_init(void);
/* Follow host:port (srv.is_replica must already be set).  Restarts the
 * link if it followed another master. */
void repl_replica_start(const char *host, int port);
/* Stop following (promotion): closes the link, drops a partial full sync. */
void repl_replica_stop(void);
/* Shutdown (a server shutdown hook): closes the link, TLS with its
 * close_notify, quietly. */
void repl_replica_shutdown(void);
/* 1 if the link follows exactly host:port. */
int repl_replica_follows(const char *host, int port);

/* Sleep hook part (after the commit): ack what was applied. */
void repl_replica_after_commit(void);
/* Cron part: reconnect, heartbeat ack, link timeout. */
void repl_replica_cron(void);

void repl_replica_info(buf *o);

/* The link as INFO replication reports it, for the metrics endpoint
 * (metrics.c).  Read-only; figures as of now. */
struct repl_replica_status {
    int link_up;                    /* streaming from the master (master_link_status:up) */
    int sync_in_progress;           /* receiving a full sync */
    uint64_t master_lsn;            /* the master's newest lsn, as last announced */
    uint64_t lag_records;           /* master_lsn minus our committed lsn (0 if ahead) */
    long long last_io_ms_ago;       /* -1 when there is no connection */
    unsigned long long full_syncs, partial_syncs;
};
void repl_replica_status(struct repl_replica_status *st);
void repl_replica_role(client *c);

#endif
