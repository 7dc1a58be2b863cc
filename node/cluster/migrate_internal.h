/* migrate_internal: what the export side (migrate.c), the import side
 * (import.c) and their shared pieces (migrate_common.c: job state in the
 * 'R' keys, the background trim/drop) share.  Not for other modules:
 * their interface is migrate.h. */
#ifndef STRATA_MIGRATE_INTERNAL_H
#define STRATA_MIGRATE_INTERNAL_H

#include <event2/event.h>
#include <hiredis/async.h>
#include <stdint.h>

#include "buf.h"
#include "migrate_codec.h"
#include "server.h"
#include "slots.h"
#include "store.h"
#include "topology.h"
#include "util.h"

#define CHUNK_BYTES (256u << 10)
#define CHUNK_ENTRIES 1000
#define MAX_INFLIGHT 8
#define STEP_BUDGET_US 3000
#define FENCE_LAG_RECORDS 200          /* start the fence below this lag */
#define TRIM_BATCH 500                 /* keys deleted per trim turn */
#define TRIM_VISIT 5000                /* 'M' keys visited per trim turn */
#define RESOLVE_RETRY_MS 500
/* TCP keepalive on T's end of the import link: idle seconds, probe
 * interval, probes (a source gone without a word is noticed in ~16 s). */
#define IMPORT_KEEPIDLE_S 10
#define IMPORT_KEEPINTVL_S 2
#define IMPORT_KEEPCNT 3
#define SLOTSINFO_VISIT 200000         /* keys a SLOTSINFO walks before extrapolating */

#define MIG_EXPORT_KEY "Rmigrate"
#define MIG_IMPORT_KEY "Rimport"

enum mstate {
    MS_NONE = 0, MS_PREPARE, MS_COPY, MS_CATCHUP, MS_FENCE, MS_COMMIT, MS_TRIM, MS_DONE,
    MS_ABORTED, MS_FAILED, MS_RESOLVE
};
extern const char *const mig_state_names[];

struct job {
    int used;                       /* a job was started (current or last) */
    int role;                       /* 0 export, 1 import */
    char id[128];
    char peer[CLUSTER_GROUP_MAX_LEN + 1];
    char host[256];
    int port;
    char *auth;                     /* owned or NULL */
    struct mig_ranges r;
    int state;
    int paused;
    unsigned long long keys_copied, bytes_copied, keys_total, bytes_total;
    unsigned long long lag_bytes, lag_records;
    double rate_mb;                 /* 0: unlimited */
    uint64_t fence_ms, start_ms, end_ms, fence_start_us;
    char last_error[256];

    /* export */
    redisAsyncContext *ac;
    unsigned gen;                   /* tags callbacks of this connection */
    int inflight;
    size_t inflight_bytes[MAX_INFLIGHT]; /* sizes of the chunks in flight, in order */
    unsigned send_i, ack_i;
    store_snap *snap;
    store_iter *mit, *sit;          /* 'M' walk; the current collection's subkeys */
    int walk_done;
    char sub_tag;                   /* 'D' or 'Z' while in a collection, else 0 */
    unsigned char sub_prefix[9];
    uint64_t snap_lsn, sent_lsn, fence_lsn;
    struct mig_vmap vset;
    double tokens;                  /* rate limiter, bytes */
    uint64_t tokens_us;
    long long moved_keys;           /* keys T holds in R at commit */
    uint64_t debug_fence_ms;        /* tests: hold the fence this long before COMMIT */

    /* import */
    struct mig_vmap remap;
    long long imp_keys;
    uint64_t link_id;
};

extern struct job mig_ex, mig_im;   /* the export and the import job of this node */

/* Trimming (export, after commit) and dropping (import, after abort):
 * the same background delete of unowned keys in a slot set. */
struct mig_trim {
    int on;
    int role;                       /* which state key to clear at the end */
    struct mig_ranges r;
    buf cursor;                     /* last 'M' key visited */
    unsigned long long deleted;
};
extern struct mig_trim mig_trim;
extern struct event *mig_trim_ev;

/* Slots known to hold no key of an unowned slot here since start: each
 * finished trim or drop adds its slots.  An import into slots not known
 * clean while the node stores unowned keys first drops what it has there
 * (keys from before the slot table would come back to life at the
 * commit). */
extern struct mig_ranges mig_clean;

/* A background write (outside any command): its changes become one WAL
 * record through the write hooks, and commit with the loop's batch. */
#define BG_WRITE(body)                                                                            \
    do {                                                                                          \
        size_t mark_ = store_mark(srv.st);                                                        \
        srv.cmd_time_ms = now_ms();                                                               \
        body;                                                                                     \
        if (store_mark(srv.st) != mark_) server_notify_write(NULL, mark_);                        \
    } while (0)

void mig_set_error(struct job *j, const char *msg);
int mig_is_fenced(void);
int mig_export_running(void);
int mig_import_running(void);
/* "Rmigrate"/"Rimport": state:1 | idlen:1 id | peerlen:1 peer | hostlen:1 host
 * | port:2 | slots bitmap (2048).  States: 'C' copy, 'F' fence, 'T' trim
 * (export); 'I' importing, 'X' dropping (import). */
void mig_state_store(const char *name, char st, const struct job *j);
int mig_state_load(const char *name, char *st, struct job *j);
void mig_job_reset(struct job *j, int role);
/* Start the background delete of R's unowned keys; role 1 clears
 * "Rimport" at the end, 0 "Rmigrate" (and the export job is done). */
void mig_trim_start(int role, const struct mig_ranges *r);
void mig_trim_cb(evutil_socket_t fd, short what, void *arg);

/* import.c */
/* -READONLY, -MISCONF or no slot table: a reply was added, returns 1. */
int mig_refuse_unless_master(client *c);
void mig_import_command(client *c);
/* The link from the source closed (free hook): abort an import running
 * on it. */
void mig_import_link_closed(client *c);
/* At start-up on a master: a stored "Rimport" is an import that was not
 * committed: drop what was staged. */
void mig_import_recover(void);

#endif
