/* cmdmeta: what COMMAND tells about each command beyond dispatch — ACL
 * categories, tips, key specifications, documentation and argument trees,
 * for every command of commands.def and every subcommand of subcmd.c.
 *
 * The data is written in commands_meta.def (by command id) and
 * subcmd_meta.def (by "container|name"), in a compact notation parsed
 * once by cmdmeta_init() (see the notation in commands_meta.def).  Facts
 * (flags, categories, key specs, argument structure, tokens, versions,
 * groups) are Redis 7.0's; the texts (summaries, complexities, history
 * entries, key-spec notes, replacements) are Strata's own words.
 *
 * The parsed entries are built once and never freed; they are read-only
 * afterwards, so the proxy's worker threads share them. */
#ifndef STRATA_CMDMETA_H
#define STRATA_CMDMETA_H

#include <stddef.h>

#include "cmdtable.h"
#include "subcmd.h"

/* ACL categories, in Redis 7.0's order (the order COMMAND INFO lists them). */
#define ACL_CATEGORIES(X)                                                     \
    X(KEYSPACE, "keyspace") X(READ, "read") X(WRITE, "write") X(SET, "set")   \
    X(SORTEDSET, "sortedset") X(LIST, "list") X(HASH, "hash")                 \
    X(STRING, "string") X(BITMAP, "bitmap") X(HYPERLOGLOG, "hyperloglog")     \
    X(GEO, "geo") X(STREAM, "stream") X(PUBSUB, "pubsub") X(ADMIN, "admin")   \
    X(FAST, "fast") X(SLOW, "slow") X(BLOCKING, "blocking")                   \
    X(DANGEROUS, "dangerous") X(CONNECTION, "connection")                     \
    X(TRANSACTION, "transaction") X(SCRIPTING, "scripting")

enum acl_cat_index {
#define X(id, name) ACI_##id,
    ACL_CATEGORIES(X)
#undef X
    ACI__COUNT
};
enum acl_cat {
#define X(id, name) AC_##id = 1u << ACI_##id,
    ACL_CATEGORIES(X)
#undef X
};

/* Key-spec flags (Redis's CMD_KEY_*), in the order Redis names them. */
enum key_flag {
    KF_RO = 1 << 0, KF_RW = 1 << 1, KF_OW = 1 << 2, KF_RM = 1 << 3,
    KF_ACCESS = 1 << 4, KF_UPDATE = 1 << 5, KF_INSERT = 1 << 6, KF_DELETE = 1 << 7,
    KF_NOT_KEY = 1 << 8, KF_INCOMPLETE = 1 << 9, KF_VARIABLE_FLAGS = 1 << 10,
};

enum doc_flag { DOC_DEPRECATED = 1 << 0, DOC_SYSCMD = 1 << 1 };

enum arg_type {
    ARG_STRING, ARG_INTEGER, ARG_DOUBLE, ARG_KEY, ARG_PATTERN, ARG_UNIX_TIME,
    ARG_PURE_TOKEN, ARG_ONEOF, ARG_BLOCK,
};
enum arg_flag { ARGF_OPTIONAL = 1 << 0, ARGF_MULTIPLE = 1 << 1, ARGF_MULTIPLE_TOKEN = 1 << 2 };

struct cmd_keyspec {
    unsigned flags;          /* KF_* */
    int bs_keyword;          /* begin_search: 0 index, 1 keyword */
    int unknown;             /* begin_search and find_keys "unknown" (SORT's STORE, BY, GET) */
    int bs_index;            /* index: position of the first key */
    char *keyword;           /* keyword: the word after which keys start */
    int startfrom;           /* keyword: where to start looking (negative: from the end) */
    int fk_keynum;           /* find_keys: 0 range, 1 keynum */
    int lastkey, keystep, limit;        /* range */
    int keynumidx, firstkey, nkeystep;  /* keynum */
    char *notes;             /* or NULL */
};

struct cmd_arg {
    char *name;
    enum arg_type type;
    int key_spec_index;      /* -1: none */
    char *token;             /* or NULL */
    char *since;             /* or NULL */
    char *deprecated_since;  /* or NULL */
    unsigned flags;          /* ARGF_* */
    int nargs;               /* children of a block or oneof */
    struct cmd_arg *args;
};

struct cmd_history {
    char *version;
    char *text;
};

struct cmd_meta {
    const char *fullname;     /* "get", "client|list" */
    const struct cmd_spec *spec;  /* the table entry (of the container, for a subcommand) */
    const struct subcmd *sub;     /* NULL for a top-level command */
    const struct cmd_meta *parent;
    int arity;
    unsigned flags;           /* CF_*, as COMMAND INFO lists them */
    int first, last, step;
    unsigned acl;             /* AC_* */
    int movablekeys;
    int ntips;
    char **tips;
    int nkeyspecs;
    struct cmd_keyspec *keyspecs;
    /* COMMAND DOCS */
    const char *summary, *since, *group, *complexity, *deprecated_since, *replaced_by;
    unsigned doc_flags;       /* DOC_* */
    int nhistory;
    struct cmd_history *history;
    int has_args;             /* 0: no "arguments" field at all */
    int nargs;
    struct cmd_arg *args;
    int nsubs;                /* subcommands, sorted by name */
    const struct cmd_meta **subs;
};

/* Parse the metadata of every command and subcommand.  Called by
 * cmd_table_init() at start-up (idempotent); aborts with a message naming
 * the entry when the notation is malformed, so a bad edit of the .def
 * files fails every test at once.  A command or subcommand without an
 * entry (just added to commands.def or subcmd.c) is described with what
 * the tables know; cmdmeta_unmatched() counts those, for the tests. */
void cmdmeta_init(void);
/* How many commands and subcommands have no entry, plus entries of
 * subcmd_meta.def naming no subcommand of subcmd.c.  0 when complete. */
int cmdmeta_unmatched(void);

/* The entry of a command (never NULL once initialised). */
const struct cmd_meta *cmdmeta_get(enum cmd_id id);
/* A command or subcommand by name as COMMAND INFO/DOCS take it: "get",
 * "client|list" (case-insensitive).  NULL when unknown, when the name has
 * more than one '|', or names a subcommand of a command without any. */
const struct cmd_meta *cmdmeta_lookup(const char *name, size_t len);
/* A command line as COMMAND GETKEYS takes it: argv[0] and, for a
 * container with argc > 1, its subcommand argv[1].  NULL when unknown. */
const struct cmd_meta *cmdmeta_lookup_argv(int argc, char **argv, const size_t *lens);

/* The name of ACL category bit i (0..ACI__COUNT-1), without '@'. */
const char *cmdmeta_acl_name(int i);
/* The AC_* bit of a category name (case-insensitive, no '@'), or 0. */
unsigned cmdmeta_acl_lookup(const char *name, size_t len);

/* Key-spec flag names of `flags` in Redis's order; returns the count. */
int cmdmeta_key_flag_names(unsigned flags, const char **names, int max);

struct cmd_key {
    int pos;                  /* index in argv */
    unsigned flags;           /* KF_* */
};
/* Keys of a command line (argv[0] is the command), as Redis 7.0's COMMAND
 * GETKEYS finds them: through the key specs, else the way Redis's own
 * key-finding functions of the numkeys commands and SET do.  Writes up to
 * `max` keys and returns how many there are (may exceed max); 0 when the
 * arguments name no valid keys. */
int cmdmeta_get_keys(const struct cmd_meta *m, int argc, char **argv, const size_t *lens,
                     struct cmd_key *out, int max);

/* 1 if m has keys at all (Redis's doesCommandHaveKeys). */
int cmdmeta_has_keys(const struct cmd_meta *m);

#endif
