/* slots: the slots this node's group owns (migration.md §8.2), and the
 * enforcement of that ownership on client commands.
 *
 * A node with no table owns every slot: that is every node until the
 * sentinel leader seeds its group's masters from topology.yaml (or an
 * operator runs STRATA SETSLOTS), and it is exactly the behaviour before
 * tables existed.
 *
 * The table covers all 16384 slots as sorted, disjoint ranges; each range
 * names the group that owned it when this node last heard (at seeding, and
 * later at each migration) and the epoch of that claim.  Only the ranges
 * naming the node's own group are authoritative (ownership); the others
 * are hints that -MOVED passes on.  It lives in one 'R' key, written by an
 * ordinary command (so it travels in the replication log: replicas, a
 * promoted replica, full sync and strata-dump/strata-load all carry it):
 *
 *   "Rslots" -> ver:1 (=1) | self:2 | ngroups:2 | (len:1 | name) * ngroups
 *               | nranges:2 | (first:2 | last:2 | group:2 | epoch:8) * nranges
 *   "Rslotsx" -> unowned:8   keys stored in slots the node does not own
 *
 * (big endian; group and self are indexes into the name list).  "Rslotsx"
 * is kept like db.c's "Rkeys" (same batch as the change), so DBSIZE is
 * "Rkeys" - "Rslotsx" in O(1).
 *
 * Errors a client sees (Redis Cluster's texts):
 *
 *   -MOVED <slot> <group>:<epoch>   every key of the command is in <slot>,
 *                                   which the table gives to <group>
 *   -CROSSSLOT Keys in request don't hash to the same slot
 *                                   keys in several slots, some not owned
 *
 * MOVED names a group, not an address: a node knows no other group's
 * members, and the group is what the proxy routes by.  It keeps Redis's
 * two-token shape "<slot> <host>:<port>" (redis-py, Jedis and go-redis
 * split it that way and parse the port as an integer), with the range's
 * epoch in the port's place, so a cluster client still parses it and the
 * proxy learns which claim is newer.  Commands whose keys all sit in owned
 * slots run as before, even across slots (the proxy splits MGET and the
 * like by group, not by slot).  The check runs before a command is queued
 * in MULTI (which then aborts, as in Redis Cluster), on replicas too, and
 * never on the replication link.
 *
 * Keyspace views.  Keys of unowned slots exist only when they were stored
 * before the table, between a migration's commit and its trim (source),
 * or while an import is staged (target; migrate.h).
 * DBSIZE is "Rkeys" - "Rslotsx", O(1).  KEYS, SCAN and RANDOMKEY skip such
 * keys with a CRC16 per 'M' key visited, and only while "Rslotsx" > 0, so
 * a table costs them nothing in the usual case.  With the current
 * encoding ('M' user_key, subkeys by version) a slot range is not a key
 * range: a view or a copy of one range still walks every 'M' key; the
 * slot prefix of migration.md §8.1 would make it one seek. */
#ifndef STRATA_SLOTS_H
#define STRATA_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cmdtable.h"

#define CLUSTER_MAX_GROUPS 1024
#define CLUSTER_GROUP_MAX_LEN 255

/* Redis Cluster's script errors (Redis 7.0 script.c), without an error
 * code: Redis returns them to the script as "ERR <text>". */
#define CLUSTER_ERR_SCRIPT_NONLOCAL "Script attempted to access a non local key in a cluster node"
#define CLUSTER_ERR_SCRIPT_CROSSSLOT "Script attempted to access keys that do not hash to the same slot"
#define CLUSTER_ERR_SCRIPT_MIGRATING "Script attempted to access a key in a slot being migrated: try again"
#define CLUSTER_ERR_CROSSSLOT "CROSSSLOT Keys in request don't hash to the same slot"

struct cluster_range {
    unsigned first, last;   /* inclusive */
    const char *group;      /* owned by the table */
    uint64_t epoch;
};

/* ---- queries (cheap: the table is cached in memory) ---- */

/* 1 if this node has a slot table, else 0 (it owns everything). */
int cluster_has_table(void);
/* 1 if this node owns `slot` (always 1 without a table). */
int cluster_owns_slot(unsigned slot);
/* 1 if this node owns the slot of `key` (CRC16 of the key or its hash tag). */
int cluster_owns_key(const char *key, size_t len);
/* The node's own group name, or NULL without a table.  Static until the
 * table changes. */
const char *cluster_self(void);
/* The range holding `slot` (NULL without a table).  Valid until the table
 * changes. */
const struct cluster_range *cluster_range_of(unsigned slot);

/* Check the keys of a command line against the table.
 *   CLUSTER_OK         no table, no keys, or every key in an owned slot
 *   CLUSTER_MOVED      every key in one slot, not owned; *slot gets it
 *   CLUSTER_CROSSSLOT  keys in several slots, at least one not owned */
enum { CLUSTER_OK = 0, CLUSTER_MOVED = 1, CLUSTER_CROSSSLOT = 2 };
int cluster_check_argv(const struct cmd_spec *cmd, int argc, char **argv, const size_t *argvlen,
                       unsigned *slot);
/* Append "-MOVED <slot> <group>:<epoch>" for an unowned slot to out. */
void cluster_add_moved(buf *out, unsigned slot);

/* For scripts (Redis Cluster's rules for a command a script runs): check
 * one key the script touches.  *script_slot is the slot of the keys used
 * so far, -1 at the start of the script.  Returns NULL when the key may be
 * used (and updates *script_slot), else the text to raise in the script:
 * CLUSTER_ERR_SCRIPT_NONLOCAL when its slot is not owned, or, unless
 * `allow_cross_slot` (the script's allow-cross-slot-keys flag),
 * CLUSTER_ERR_SCRIPT_CROSSSLOT when it is in another slot than the keys
 * before it.  Without a table every key passes (as Redis without cluster
 * mode). */
const char *cluster_script_check_key(const char *key, size_t len, int *script_slot,
                                     int allow_cross_slot);

/* ---- keyspace views ---- */

/* Keys in unowned slots (0 without a table), for DBSIZE = keys - this. */
unsigned long long cluster_unowned_keys(void);
/* The node's keys as DBSIZE, INFO keyspace and the metrics count them:
 * db_key_count() less the keys of unowned slots. */
unsigned long long cluster_key_count(void);
/* db.c calls this when it creates (+1) or deletes (-1) a key, so the
 * count of keys in unowned slots follows.  Does nothing without a table. */
void cluster_note_key(const char *key, size_t len, int delta);

/* ---- changes ---- */

/* Parse a table from "self epoch group ranges [group ranges ...]" words
 * (STRATA SETSLOTS's arguments) into an encoded "Rslots" value.  The ranges
 * use topology.yaml's syntax and must cover every slot exactly once; self
 * must be one of the groups.  Returns 0, or -1 with a message (with its
 * error code) in err. */
int cluster_table_parse(int argc, char **argv, const size_t *argvlen, buf *out, char *err,
                        size_t errlen);
/* A decoded table: ranges in slot order, covering 0..16383. */
struct cluster_table {
    char *self;                     /* owned */
    int nranges;
    struct cluster_range *ranges;   /* owned, with their group strings */
};
/* Decode an "Rslots" value into *t (free with cluster_table_free).
 * Returns 0, or -1 if it is malformed (*t then empty). */
int cluster_table_decode(const char *v, size_t len, struct cluster_table *t);
void cluster_table_free(struct cluster_table *t);

/* Forget the cached table and counters (data changed under them:
 * replication, a rolled-back command, a reopened store).  db.c's
 * db_invalidate_counters calls it. */
void cluster_invalidate(void);

/* Slot migration (migrate.c): give the slots set in `bits` (a
 * SLOT_COUNT-bit map) to `group` at `epoch`, in the same pending batch as
 * the running command, and add `unowned_delta` to the count of stored
 * keys in unowned slots (the keys those slots hold here: + when they are
 * given away, - when this node takes them).  Returns 0, or -1 without a
 * table (or with too many groups). */
int cluster_table_reassign(const unsigned char *bits, const char *group, uint64_t epoch,
                           long long unowned_delta);
/* The highest epoch in the table (0 without one). */
uint64_t cluster_max_epoch(void);

/* Register STRATA and the dispatch check (node/server/modules.c). */
void cluster_register(void);

#endif
