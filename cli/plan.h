/* plan: what strata-cli reshard and rebalance compute before they move
 * anything — pure functions over slot -> group arrays, no I/O.
 *
 * Groups are indexes 0..ngroups-1 (the topology file's order); an owner
 * of -1 is a slot whose owner is unknown (no master claimed it).
 *
 *   intent   the file's slot ranges (topology.slot_group)
 *   current  the map the masters' tables give (slotmap.h), in file indexes
 *
 * A *move* is a maximal run of consecutive slots going from one group to
 * one other group.  A *job* is what one STRATA MIGRATE START carries: all
 * the moves of one (from, to) pair, as a topology-style range list, at
 * most PLAN_JOB_MAX_RANGES ranges each (so its argument stays short; the
 * rest go to further jobs of the same pair). */
#ifndef STRATA_CLI_PLAN_H
#define STRATA_CLI_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_SLOTS 16384
#define PLAN_JOB_MAX_RANGES 64

struct plan_move {
    int first, last;     /* inclusive */
    int from, to;        /* group indexes */
};

struct plan_job {
    int from, to;
    int nmoves;
    struct plan_move *moves;   /* borrowed from the plan's moves array */
    int nslots;
    char ranges[PLAN_JOB_MAX_RANGES * 12 + 1];  /* "0-99,200" */
};

struct plan {
    int nmoves;
    struct plan_move *moves;   /* owned, in (from, to, slot) order */
    int njobs;
    struct plan_job *jobs;     /* owned */
    int unknown;               /* slots the intent moves whose owner is unknown (not moved) */
};

/* The moves that turn `current` into `intent`, grouped into jobs.  Slots
 * whose current owner is -1 are counted in p->unknown and left out.
 * Returns 0 (p filled; free with plan_free). */
int plan_diff(int ngroups, const int *intent, const int *current, struct plan *p);
void plan_free(struct plan *p);

/* Spread the slots evenly over ngroups groups with the fewest moved:
 * every group ends with 16384 / ngroups slots or one more (the groups
 * holding the most now keep the extra ones), a group above its share
 * gives away its highest slots, and the freed slots go, in slot order, to
 * the groups below theirs, in group order.  Slots with owner -1 go to
 * groups below their share as well.  Writes the target into `target`.
 * Returns the number of slots whose owner changes. */
int plan_rebalance(int ngroups, const int *current, int *target);

/* Number of slots owned by group g in owner[]. */
int plan_count(const int *owner, int g);

/* Scheduling: a node runs one job at a time, export or import (STRATA
 * MIGRATE START and IMPORT PREPARE answer BUSY otherwise), so a group
 * takes part in at most one job at a time.  `busy[g]` says which groups
 * do; returns the index of the first job not yet started (started[i] ==
 * 0) whose two groups are free, or -1. */
int plan_next_job(const struct plan *p, const unsigned char *started, const unsigned char *busy);

/* "12.3 MB", "870 KB", "12 B" into out. */
const char *plan_fmt_bytes(double bytes, char *out, size_t size);

#endif
