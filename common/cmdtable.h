/* cmdtable: the shared command table built from commands.def.
 *
 * One table serves the node's dispatcher (arity and flag checks before any
 * handler runs), the proxy's router (key positions, route kind) and the
 * COMMAND replies of both.  Handlers are not here: the node binds them by
 * command id (cmd_id). */
#ifndef STRATA_CMDTABLE_H
#define STRATA_CMDTABLE_H

#include <stddef.h>
#include "buf.h"

enum cmd_flag {
    CF_WRITE    = 1 << 0,
    CF_READ     = 1 << 1,
    CF_DENYOOM  = 1 << 2,
    CF_ADMIN    = 1 << 3,
    CF_PUBSUB   = 1 << 4,
    CF_NOSCRIPT = 1 << 5,
    CF_BLOCKING = 1 << 6,
    CF_LOADING  = 1 << 7,
    CF_STALE    = 1 << 8,
    CF_FAST     = 1 << 9,
    CF_NOAUTH   = 1 << 10,
    /* Flags that only COMMAND INFO shows (Redis 7.0 has them; Strata's
     * dispatcher does not act on them).  commands_meta.def and
     * subcmd_meta.def give them. */
    CF_SKIP_MONITOR      = 1 << 11,
    CF_SKIP_SLOWLOG      = 1 << 12,
    CF_ASKING            = 1 << 13,
    CF_MAY_REPLICATE     = 1 << 14,
    CF_NO_MANDATORY_KEYS = 1 << 15,
    CF_NO_ASYNC_LOADING  = 1 << 16,
    CF_NO_MULTI          = 1 << 17,
    CF_ALLOW_BUSY        = 1 << 18,
    /* Derived, never written in a table: the keys need more than fixed
     * positions (Redis's "movablekeys"). */
    CF_MOVABLEKEYS       = 1 << 19,
};

/* How the proxy forwards a command. */
enum cmd_route {
    RT_KEY,        /* keyed: all keys must map to one group (else -CROSSSLOT) */
    RT_MGET,       /* split by group, merge values in the client's order */
    RT_MSET,       /* split key/value pairs by group, reply +OK */
    RT_SUM,        /* split by group, sum the integer replies (DEL, EXISTS) */
    RT_LOCAL,      /* answered by the proxy itself */
    RT_ALL_SUM,    /* sent to every group, integers summed (DBSIZE) */
    RT_ALL_OK,     /* sent to every group, +OK if all agree (FLUSHALL) */
    RT_ALL_CONCAT, /* sent to every group, arrays concatenated (KEYS) */
    RT_SCAN,       /* cursor walks the groups in turn */
    RT_RANDOM,     /* any group */
    RT_TX,         /* MULTI/EXEC/WATCH: pins the client to one group */
    RT_BLOCK,      /* blocking pops: private connection to the key's group */
    RT_PUBSUB,     /* pub/sub */
    RT_EVAL,       /* EVAL*, FCALL*: numkeys keys in one slot (else
                    * -CROSSSLOT); none: the owner of slot 0 */
    RT_SCRIPT,     /* SCRIPT, FUNCTION: per subcommand, broadcast and
                    * merged, or the owner of slot 0 */
    RT_DENY,       /* refused by the proxy with a clear error */
};

enum cmd_id {
#define CMD(id, name, arity, flags, first, last, step, numkeys, route) CMD_##id,
#include "commands.def"
#undef CMD
    CMD__COUNT
};

struct cmd_spec {
    enum cmd_id id;
    const char *name;     /* lower case */
    int arity;
    unsigned flags;
    int first, last, step;
    int numkeys;          /* index of a numkeys argument, or 0 */
    enum cmd_route route;
};

extern const struct cmd_spec cmd_table[CMD__COUNT];

/* Build the lookup index.  Called once at start-up (idempotent). */
void cmd_table_init(void);
/* Case-insensitive lookup; NULL when unknown. */
const struct cmd_spec *cmd_lookup(const char *name, size_t len);
/* 1 if c is a container of subcommands (CLIENT, CONFIG...: subcmd.h). */
int cmd_is_container(const struct cmd_spec *c);
/* 1 if argc fits the arity, else 0. */
int cmd_arity_ok(const struct cmd_spec *c, int argc);
/* Positions of the key arguments of a command line.  Writes up to `max`
 * indexes into `out` and returns the number of keys (which may exceed
 * `max`; call again with more room), or -1 if a numkeys argument is not a
 * valid count for this argc (the command will reply its own error). */
/* SORT's destination: the index of the argument after the last STORE, or
 * 0 (Redis's sortGetKeys: LIMIT's, GET's and BY's arguments are skipped). */
int cmd_sort_store_key(int argc, char *const *argv, const size_t *argvlen);
int cmd_get_keys(const struct cmd_spec *c, int argc, char **argv,
                 const size_t *argvlen, int *out, int max);

/* Names of CF_* flags as COMMAND INFO lists them, in Redis 7.0's order;
 * returns the count (at most max). */
int cmd_flag_names(unsigned flags, const char **names, int max);

#endif
