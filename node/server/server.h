/* server: the strata-node process — configuration, the event loop, clients
 * and the command dispatcher.
 *
 * One thread runs every command in arrival order (as Redis does), so each
 * command is atomic.  Replies are not sent when a command finishes: they
 * wait in the client's output buffer until the end of the event-loop
 * iteration, when server_before_sleep() commits the iteration's writes as
 * one LevelDB write (fsync'd under `fsync: always`) and only then writes
 * the replies out (group commit). */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H

#include <event2/event.h>
#include <stdint.h>

#include "buf.h"
#include "cmdtable.h"
#include "conf.h"
#include "resp.h"
#include "store.h"
#include "tls.h"

struct subcmd;

enum fsync_policy { FSYNC_ALWAYS = 0, FSYNC_EVERYSEC, FSYNC_NO };

struct node_config {
    char *bind;
    long long port;
    char *dir;
    int fsync;
    long long maxclients;
    char *requirepass;
    char *aclfile;                /* t_acl.c: the ACL file, or empty */
    char *masteruser;             /* the replica-to-master and migration links' */
    char *masterauth;             /* user and password (node_internal_auth) */
    int protected_mode;           /* refuse to start open on a non-loopback address (protmode.h) */
    long long timeout;            /* idle client timeout, seconds; 0 = never */
    char *log;
    int loglevel;
    char *replicaof;              /* "host:port" or empty */
    long long block_cache;
    long long write_buffer;
    long long max_open_files;
    long long meta_cache_entries;
    int compression;
    long long client_query_buffer_limit;
    long long client_output_buffer_limit;
    long long pubsub_output_buffer_limit;  /* pubsub.c: subscribers */
    long long proto_max_bulk_len;
    long long hz;                 /* background task frequency */
    char *pidfile;
    /* replication (node/repl_*.c) */
    long long min_replica_acks;
    long long replica_ack_timeout_ms;
    int replica_ack_fallback;     /* 0 = error (-NOREPLICAS), 1 = async */
    int acked_reads;              /* 1: reads wait for the acks of what they may show */
    long long wal_retention_bytes;
    long long wal_retention_ms;
    long long fence_lease_ms;     /* 0 = no fencing */
    char *notify_keyspace_events; /* notify.c: enabled classes, canonical text */
    long long tracking_table_max_keys; /* tracking.c */
    char *metrics_listen;         /* "host:port" of /metrics (metrics.c), or empty: off */
    char *http_listen;            /* "host:port" of the HTTP API (http.c), or empty: off */
    char *http_cors_origin;       /* its Access-Control-Allow-Origin, or empty: no CORS */
    /* TLS on the client port and the replica's link (common/tls.h), Redis's names */
    TLS_SETTINGS;
    int tls_replication;          /* the link to the master is TLS */
};

extern const struct conf_field node_config_fields[];
/* Checks beyond a field's type and bounds, for the settings that have
 * them (notify_keyspace_events): 0, or -1 with Redis's reason appended to
 * `why`.  Applied to the config file, the command line and CONFIG SET
 * alike.  node_config_check_all checks every such field of srv.cfg. */
int node_config_check(const char *name, const char *value, buf *why);
int node_config_check_all(buf *why);
/* What a setting changed at run time by CONFIG SET sets in motion. */
void node_config_applied(const char *name);

/* client flags */
#define CLIENT_CLOSE_AFTER_REPLY (1u << 0)  /* QUIT, protocol error */
#define CLIENT_PENDING_WRITE     (1u << 1)  /* in srv.pending list */
#define CLIENT_CLOSE_ASAP        (1u << 2)  /* close without flushing */
#define CLIENT_MULTI             (1u << 3)  /* inside MULTI */
#define CLIENT_DIRTY_CAS         (1u << 4)  /* a WATCHed key changed */
#define CLIENT_DIRTY_EXEC        (1u << 5)  /* a command failed to queue */
#define CLIENT_BLOCKED           (1u << 6)  /* waiting in a blocking pop */
#define CLIENT_MASTER            (1u << 7)  /* the link to our master */
#define CLIENT_REPLICA           (1u << 8)  /* a replica streaming from us */
#define CLIENT_WAIT_ACK          (1u << 9)  /* reply held for replica acks */
#define CLIENT_PUBSUB            (1u << 10) /* has subscriptions (pubsub.c) */
#define CLIENT_IN_EXEC           (1u << 11)
#define CLIENT_PAUSED            (1u << 12) /* command held by CLIENT PAUSE (pause.c) */
#define CLIENT_REPLY_OFF         (1u << 13) /* CLIENT REPLY OFF */
#define CLIENT_REPLY_SKIP        (1u << 14) /* drop this command's reply */
#define CLIENT_REPLY_SKIP_NEXT   (1u << 15) /* CLIENT REPLY SKIP: drop the next one's */
#define CLIENT_KEEP_WRITES       (1u << 16) /* script.c: an error reply keeps the command's writes (EVAL, FCALL) */
#define CLIENT_NO_EVICT          (1u << 24) /* CLIENT NO-EVICT on (shown as 'e'; nothing is evicted) */

/* c->tls_wait: a TLS operation that waits on the other direction */
#define TLS_READ_WANTS_WRITE 1u   /* a read resumes when the fd is writable */
#define TLS_WRITE_WANTS_READ 2u   /* a flush resumes when the fd is readable */

typedef struct client {
    uint64_t id;
    int fd;
    struct tls_conn *tls;         /* NULL: a plain connection (tls.h) */
    unsigned tls_wait;            /* TLS_*_WANTS_* */
    struct event *rev, *wev;
    char addr[64];
    char laddr[64];
    char *name;                   /* CLIENT SETNAME, owned, or NULL */
    unsigned flags;
    int authed;
    struct acl_user *user;        /* t_acl.c: the ACL user (NULL: deleted, closing) */
    int resp;                     /* protocol version (2) */

    buf qbuf;                     /* unparsed input */
    resp_parser parser;
    buf out;                      /* replies not yet written */
    size_t out_sent;              /* bytes of out already written */

    /* the command being executed: pointers into qbuf (or into a queued
     * copy for MULTI), valid only during the call */
    int argc;
    char **argv;
    size_t *argvlen;
    const struct cmd_spec *cmd;
    const struct cmd_spec *lastcmd;   /* the command running or last run */
    const struct subcmd *lastsub;     /* its subcommand, for a container, or NULL */

    uint64_t ctime_ms, last_ms;
    unsigned long long ncmds;

    struct client *prev, *next;   /* srv.clients */
    struct client *next_pending;  /* srv.pending */

    /* Per-feature state, owned by the module named. */
    struct multi_state *mstate;   /* multi.c */
    struct block_state *bstate;   /* blocking.c */
    struct repl_client *repl;     /* repl_master.c */
    struct pubsub_state *pstate;  /* pubsub.c: subscriptions, or NULL */
    struct pause_hold *phold;     /* pause.c: the held command, or NULL */
    struct tracking_state *tstate; /* tracking.c: CLIENT TRACKING, or NULL */
    struct str_stream *stream;    /* strstream.c: a big reply being sent, or NULL */
    uint64_t wait_lsn;            /* replication: reply waits for this lsn */
} client;

typedef void cmd_proc(client *c);

struct server_stats {
    unsigned long long commands, connections, rejected, expired_keys, evicted;
    unsigned long long keyspace_hits, keyspace_misses, net_in, net_out;
    unsigned long long write_errors;
    /* by command id, subcommands of a container summed (metrics.c);
     * per-subcommand counts are in cmdstats.c */
    unsigned long long cmd_calls[CMD__COUNT];
    unsigned long long cmd_usec[CMD__COUNT];
};

struct server {
    struct node_config cfg;
    const char *config_path;
    struct event_base *base;
    int listen_fd;
    struct event *listen_ev;
    int tls_listen_fd;            /* tls_port's, or -1 */
    struct event *tls_listen_ev;
    struct tls_ctx *tls_ctx;      /* from the tls_* settings, or NULL */
    struct tls_ctx *tls_client_ctx; /* tls_replication: the link to the master, or NULL */
    struct event *cron_ev;
    struct event *sig_ev[3];
    store *st;

    client *clients;              /* all connections */
    unsigned long nclients;
    uint64_t next_client_id;
    client *pending;              /* clients with replies to flush */
    client *current;              /* client whose command is running */

    cmd_proc *procs[CMD__COUNT];  /* handlers, by command id */

    uint64_t cmd_time_ms;         /* "now" for the running command */
    uint64_t start_ms;
    char run_id[41];              /* random per process, as Redis's (INFO server) */
    uint64_t last_sync_us;        /* last fsync of LevelDB's log started (mono_us) */
    int unsynced;                 /* commits since then (fsync: everysec) */
    uint64_t sync_req_ms;         /* when the running background fsync started (wall clock) */
    unsigned long long sync_req_dirty; /* srv.dirty then */
    uint64_t last_save_ms;        /* wall clock of the last point where every
                                     acknowledged write was on disk (LASTSAVE) */
    unsigned long long dirty_at_save; /* srv.dirty then */
    uint64_t next_version;        /* collection versions, never reused */
    int shutdown_asap;
    int exit_code;
    int write_error;              /* the last commit failed: refuse writes */
    int is_replica;               /* set by the replication module */
    int fenced;                   /* writes refused: lost the lease */
    int writes_paused;            /* CLIENT PAUSE (pause.c): no background writes either */
    unsigned long long dirty;     /* writes since start */
    int script_busy;              /* a script runs past busy-reply-threshold (script_lua.c):
                                     nothing is committed, no background write runs */
    uint64_t script_time_ms;      /* a script's start: "now" of its commands (0: none) */

    /* Installed by the replication module (NULL when absent). */
    void (*info_replication)(buf *out);
    /* May refuse a write (fencing, missing replicas): returns 0 and sets
     * *err to a full error text to refuse. */
    int (*write_allowed)(client *c, const char **err);
    /* Reads (CF_READ, not CF_WRITE): checked before, hooked after. */
    int (*read_allowed)(client *c, const char **err);
    void (*read_hook)(client *c);
    /* 1 if this master lost its fencing lease, checked now (NULL: never).
     * Background writes (active and lazy expiry, GC) skip while fenced: a
     * master that may have been replaced must not add to its history. */
    int (*fenced_now)(void);

    struct server_stats stats;
};

extern struct server srv;

/* Bind a handler to a command id (done by each t_*.c's register function). */
void server_register(enum cmd_id id, cmd_proc *proc);

/* Clients.  Replies are appended to c->out; client_pending schedules the
 * flush at the end of the loop iteration.  client_close only marks the
 * client: it is freed in server_before_sleep, so a pointer to it stays
 * valid until then. */
client *client_create(int fd);      /* fd < 0: an internal client */
void client_pending(client *c);
void client_close(client *c);
/* Close c (logged) if `pending` bytes of output are over
 * client_output_buffer_limit: a reply being built (a huge negative
 * HRANDFIELD or SRANDMEMBER count) or one the client does not read.
 * Returns 1 if it was closed. */
int client_close_if_over_limit(client *c, size_t pending);
/* Run the complete commands waiting in c->qbuf (after an unblock). */
void client_process_input(client *c);
/* A copy of c's command line that outlives the query buffer (parked,
 * paused and blocked clients): *argv and *argvlen are arrays of c->argc,
 * the bytes in *argbuf, each argument NUL-terminated.  Free the three
 * with free(). */
void client_copy_argv(const client *c, char ***argv, size_t **argvlen, char **argbuf);
/* Write out as much of c->out as the socket takes (busy scripts answer
 * other clients this way).  Returns 0, or -1 if c was closed. */
int server_flush_client(client *c);
/* One round of I/O for every client but `skip` while a script is busy
 * (script_lua.c); see server.c. */
void server_poll_busy(client *skip);

/* Hooks for feature modules, called in registration order:
 *   write: after every command (or background task, c == NULL) that
 *          changed the store; `mark` is the store_mark before it, so
 *          store_ops(st, mark) is exactly its changes.
 *   free:  before a client is freed.
 *   sleep: in server_before_sleep, after the commit, before replies go out.
 *   cron:  at `hz`.
 *   shutdown: in server_cleanup, after the store is closed and before the
 *          event base is freed (a module frees its own events there). */
void server_add_write_hook(void (*fn)(client *c, size_t mark));
void server_add_free_hook(void (*fn)(client *c));
void server_add_sleep_hook(void (*fn)(void));
void server_add_cron_hook(void (*fn)(void));
void server_add_shutdown_hook(void (*fn)(void));
/* Dispatch filters: called by server_dispatch for a known command with a
 * valid arity from an authenticated client, before MULTI queueing and
 * execution.  A filter returns 1 when it took the command over (replied an
 * error, or held the client until later), else 0. */
void server_add_dispatch_hook(int (*fn)(client *c));
void server_notify_write(client *c, size_t mark);
/* Queues a command inside MULTI (set by multi.c; NULL: MULTI unsupported). */
extern void (*server_multi_queue)(client *c);
void server_before_sleep(void);

/* Execute c->argc/c->argv as one command (arity, auth, replica checks,
 * then the handler, then the WAL hook).  Used by the network layer and by
 * EXEC for queued commands. */
void server_call(client *c);
void server_dispatch(client *c);

/* Close and reopen the store in place (after a write error), keeping the
 * replication log's view in step.  Aborts if LevelDB cannot be reopened. */
void server_store_reopen(void);

/* Commit the pending writes now (a command boundary); returns 0 or -1. */
int server_commit(void);
/* Record that every acknowledged write is on disk (an fsync succeeded). */
void server_note_saved(void);

/* Replace the node's data by the complete LevelDB database in `newdir`
 * (a finished full sync): commit, close the store, rename cfg.dir to
 * "<dir>.old", move newdir to cfg.dir, reopen, reload the version
 * high-water mark and the cached counters.  "<dir>.old" must not exist;
 * the caller deletes it afterwards.  If a rename fails the old data is
 * put back.  srv.st changes: pointers into the old store are invalid.
 * Returns 0, or -1 (logged). */
int server_store_replace(const char *newdir);

/* Start-up and the loop (main.c). */
int server_init(void);
int server_run(void);
void server_cleanup(void);

/* A new never-reused version for a collection being (re)created. */
uint64_t server_new_version(void);

/* Client lookup for CLIENT KILL, blocking wake-ups. */
client *server_client_by_id(uint64_t id);

/* Clamp cfg.hz to 1..500 (as Redis does) and run the cron at that
 * frequency from now on (start-up and CONFIG SET hz). */
void server_apply_hz(void);

/* CONFIG RESETSTAT: srv.stats, command and error statistics. */
void server_reset_stats(void);

/* Command modules' registration functions.  server_register_modules()
 * (modules.c) calls those of the optional modules, one line each. */
void t_string_register(void);
void t_bitmap_register(void);
void t_keys_register(void);
void t_server_register(void);
/* t_acl.c: ACL users (see its top comment) */
void t_acl_register(void);
struct acl *node_acl(void);
void node_acl_client_init(client *c);
int node_acl_authed_by_default(void);
const char *node_acl_username(const client *c);
/* AUTH user pass: 0, or -1 after replying -WRONGPASS (and logging it). */
int node_acl_auth(client *c, const char *user, size_t ulen, const char *pass, size_t plen);
/* At EXEC, per queued command: 0, or 1 after replying the refusal. */
int node_acl_exec_check(client *c);
/* redis.call of a script run by caller: NULL, or the error to raise. */
struct cmd_meta;
const char *node_acl_script_check(client *caller, const struct cmd_meta *m, int argc, char **argv,
                                  size_t *lens);
void node_acl_requirepass_changed(void);
/* The AUTH this node sends on its own links to other nodes (replica to
 * master, migration source to target), in argv[0..n) (borrowed from
 * srv.cfg): "AUTH masteruser masterauth", "AUTH masterauth" without a
 * masteruser, as Redis; without masterauth, "AUTH requirepass" (the
 * default user, as every node of a group shares it), or nothing (n = 0)
 * when that is empty too.  Returns n. */
int node_internal_auth(const char *argv[3]);
/* t_acl.c: the default user is on with nopass (the ACL users are read
 * from requirepass / aclfile on the first call). */
int node_acl_default_open(void);
/* t_server.c: the CLIENT LIST line of a client (with its newline). */
void node_client_info_line(buf *o, client *x);
void t_command_register(void);      /* t_command.c: COMMAND */
void t_hash_register(void);
void t_set_register(void);
void t_zset_register(void);
void t_hll_register(void);         /* t_hll.c: PFADD, PFCOUNT, PFMERGE */
void t_geo_register(void);         /* t_geo.c: GEOADD, GEOSEARCH, ... */
void repl_register(void);           /* repl.c: WAL replication */
void multi_register(void);          /* multi.c: MULTI/EXEC/WATCH */
void t_copy_register(void);         /* t_copy.c: COPY, OBJECT */
void t_sort_register(void);         /* t_sort.c: SORT, SORT_RO */
void t_dump_register(void);         /* t_dump.c: DUMP, RESTORE */
void t_list_register(void);         /* t_list.c: lists and blocking pops */
void pubsub_register(void);         /* pubsub.c: SUBSCRIBE, PUBLISH, PUBSUB */
void pause_register(void);          /* pause.c: CLIENT PAUSE's held clients */
void metrics_register(void);        /* metrics.c: Prometheus /metrics (metrics_listen) */
void http_register(void);           /* http.c: the HTTP API (http_listen) */
void notify_register(void);         /* notify.c: keyspace notifications */
void tracking_register(void);       /* tracking.c: CLIENT TRACKING, client-side caching */
void t_memory_register(void);       /* t_memory.c: MEMORY */
void t_stream_register(void);       /* t_stream.c: streams and consumer groups */
void server_register_modules(void);

#endif
