/* t_stream_internal: helpers shared by the stream command files
 * (t_stream.c: entries, XREAD/XREADGROUP, XINFO; t_stream_group.c:
 * XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM).  Storage: stream.h. */
#ifndef STRATA_T_STREAM_INTERNAL_H
#define STRATA_T_STREAM_INTERNAL_H

#include "cmd.h"
#include "stream.h"

#define SCG_INVALID_ENTRIES_READ (-1LL)

/* A stream a command works on: its meta (length in m.count) and header. */
struct sctx {
    struct meta m;
    struct stream_hdr h;
};

/* Parse a stream ID as Redis's streamGenericParseIDOrReply: "-" and "+"
 * (not when strict), "ms" (seq = missing_seq), "ms-seq", and with
 * seq_given "ms-*".  Returns 0, or -1 after replying the error when c. */
int sid_parse(client *c, const char *s, size_t len, struct sid *id, uint64_t missing_seq,
              int strict, int *seq_given);
/* "(" exclusive form (XRANGE, XPENDING, XAUTOCLAIM). */
int sid_parse_interval(client *c, int i, struct sid *id, int *ex, uint64_t missing_seq);

/* Look argv[i] up as a stream: 1 live, 0 absent, -1 replied (WRONGTYPE,
 * storage error).  The header is loaded for a live stream. */
int sctx_lookup(client *c, int i, struct sctx *s);
/* Write back meta and header (every stream write rewrites the meta, so
 * WATCH and tracking see the change). */
void sctx_save(client *c, int i, struct sctx *s);
void sctx_free(struct sctx *s);

void sreply_id(client *c, struct sid id);
/* One entry [id, [field, value, ...]] from its encoded value. */
void sreply_entry(client *c, struct sid id, const char *v, size_t vl);
/* Fetch and reply entry id: 1, or 0 (nothing replied) if absent. */
int sreply_lookup(client *c, uint64_t ver, struct sid id);

/* Redis 7.0's streamEstimateDistanceFromFirstEverEntry and
 * streamRangeHasTombstones (end NULL = +inf). */
long long stream_estimate_distance(const struct sctx *s, struct sid id);
int stream_range_has_tombstones(const struct sctx *s, struct sid start);
/* The group's lag reply (XINFO GROUPS). */
void sreply_lag(client *c, const struct sctx *s, const struct sgroup *g);
struct sid stream_first_id(const struct sctx *s);

/* Consumer of group g by name: 1 existing (seen time refreshed unless
 * norefresh), 0 created now (with the xgroup-createconsumer event when
 * create), -1 absent and not created / storage error. */
int sconsumer_touch(client *c, int keyarg, struct sctx *s, const char *gname, size_t gl,
                    struct sgroup *g, const char *name, size_t nl, int create, int norefresh);
/* Move/assign a pending entry to consumer `name` (adjusting pending
 * counts); old consumer is n->consumer (empty: none). */
void snack_assign(struct sctx *s, struct sgroup *g, struct sid id, struct snack *n,
                  const char *name, size_t nl, int existed);
/* Remove a pending entry from the group and its consumer. */
void snack_remove(struct sctx *s, struct sgroup *g, struct sid id, const struct snack *n);

/* Integer argument whose parse error is `msg` (Redis's
 * getLongLongFromObjectOrReply with a message).  0, or -1 replied. */
int sarg_ll(client *c, int i, long long *v, const char *msg);

void t_stream_group_register(void);

#endif
