/* cluster: what strata-cli asks the running cluster, synchronously with
 * hiredis and short timeouts:
 *
 *   - each group's master: the sentinels' answer (SENTINEL
 *     get-master-addr-by-name, the address most sentinels give), else the
 *     node of the group whose ROLE says master;
 *   - the current slot map: every master's STRATA SLOTS, its own ranges
 *     with their epochs as claims (slotmap.h);
 *   - the migration jobs a master runs (STRATA MIGRATE STATUS) and the
 *     sizes of ranges (STRATA SLOTSINFO).
 *
 * Connections are cached per address for the life of the process. */
#ifndef STRATA_CLI_CLUSTER_H
#define STRATA_CLI_CLUSTER_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "slotmap.h"
#include "topology.h"

struct cl_master {
    char host[256];
    int port;              /* 0: no master found (group down) */
    int has_table;         /* its STRATA SLOTS showed a table */
    char self[128];        /* the group its table names */
};

/* One job of STRATA MIGRATE STATUS. */
struct cl_job {
    char job[128], role[16], state[16], ranges[1024], peer[300], last_error[256];
    long long keys_copied, bytes_copied, keys_total, bytes_total, lag_bytes, lag_records, rate_mb,
        fence_ms, elapsed_ms;
};

/* Set the topology (its users.cli and password: say how connections
 * authenticate; t must outlive them) and the timeout of every connection. */
void cl_init(const struct topology *t, long long timeout_ms);
void cl_close_all(void);

/* A command on host:port; NULL if the node cannot be reached (err gets
 * why).  The reply is the caller's (freeReplyObject). */
redisReply *cl_command(const char *host, int port, char *err, size_t errlen, int argc,
                       const char **argv);

/* Find every group's master into m[t->ngroups].  Returns the number of
 * groups without one. */
int cl_find_masters(const struct topology *t, struct cl_master *m);

/* The slot map the masters' tables give: each master's own ranges as
 * claims.  names of the map are group names.  Returns the number of
 * conflicting slots (two groups claiming a slot at one epoch); `warn`
 * gets a line per problem. */
int cl_read_map(const struct topology *t, struct cl_master *m, struct slotmap *map, buf *warn);

/* Merge the sentinels' maps (SENTINEL SLOTS, sentinel/slotagg.h) into
 * map: they also know groups the file no longer lists.  Returns how many
 * sentinels answered. */
int cl_sentinel_map(const struct topology *t, struct slotmap *map);

/* STRATA MIGRATE STATUS of one master: jobs into out (up to max).
 * Returns the number, or -1 if it could not be asked (err). */
int cl_status(const struct cl_master *m, struct cl_job *out, int max, char *err, size_t errlen);

/* STRATA SLOTSINFO <ranges> on a master: total keys and bytes.  Returns
 * 0, or -1 (err; *keys and *bytes then 0). */
int cl_slotsinfo(const struct cl_master *m, const char *ranges, long long *keys, long long *bytes,
                 char *err, size_t errlen);

/* 1 if a job's state is final (done, aborted, failed). */
int cl_state_final(const char *state);

#endif
