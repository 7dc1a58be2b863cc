/* repl: WAL replication's entry points (repl_register, declared in
 * server.h with the other modules) and a read-only view of its figures —
 * the numbers INFO replication prints, as numbers — for the metrics
 * endpoint (metrics.c). */
#ifndef STRATA_REPL_H
#define STRATA_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "repl_replica.h"

/* One replica attached to this master (strata-dump links are not
 * replicas).  addr is "ip:listening_port", as INFO's slaveN ip=/port=. */
struct repl_replica_view {
    char addr[80];
    uint64_t acked_lsn;             /* newest record it applied and committed */
    uint64_t lag_records;           /* our committed lsn minus acked_lsn */
    uint64_t lag_ms;                /* age of the oldest record it lacks; 0 when caught up */
};

struct repl_view {
    int is_replica;
    uint64_t epoch;                 /* current epoch */
    uint64_t lsn;                   /* newest committed record */
    unsigned long connected_replicas;
    /* master: the replicas (n entries, owned by the view) */
    struct repl_replica_view *replicas;
    size_t n;
    /* replica: the link to the master */
    struct repl_replica_status link;
};

/* Fill v with the figures as of now.  Ownership: v->replicas is
 * allocated here; release it with repl_view_free. */
void repl_view_get(struct repl_view *v);
void repl_view_free(struct repl_view *v);

#endif
