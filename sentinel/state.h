/* state: what strata-sentinel persists in STATE_DIR, so a restart keeps
 * its identity, every group's current master and config epoch, and the
 * votes it cast (a sentinel must never vote twice in one epoch, even
 * across a crash).
 *
 * File STATE_DIR/sentinel.state, text, one record per line:
 *
 *   strata-sentinel-state 1
 *   myid <40 hex digits>
 *   group <name> <config_epoch> <master host:port> <vote_epoch> <vote leader id or ->
 *
 * It is rewritten whole: written to sentinel.state.tmp, fsynced, renamed
 * over the old file, and the directory fsynced, so a crash leaves either
 * the old or the new state.  Groups of the file that the topology no longer
 * has are dropped; groups the file lacks start at epoch 0 with the
 * topology's first node as master.  topology.yaml itself is never written. */
#ifndef STRATA_SENTINEL_STATE_H
#define STRATA_SENTINEL_STATE_H

/* Read the state into snt (myid, groups' persisted fields), creating the
 * directory and a new id if there is none.  Returns 0, or -1 if the file
 * exists but cannot be read or parsed (logged: refusing to start is safer
 * than forgetting votes). */
int state_load(void);
/* Write the state durably.  Returns 0 or -1 (logged).  A vote or a config
 * change is acted upon only after this returned 0. */
int state_save(void);

#endif
