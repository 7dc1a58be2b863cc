/* acl: Redis 7.0's ACL users, shared by strata-node and strata-proxy.
 *
 * A `struct acl` holds the users (the `default` user always exists), the
 * ACL LOG and the name of the ACL file.  A user has flags (on/off, nopass,
 * sanitize-payload), SHA-256 password hashes and selectors: the root
 * selector first, then those added with "(...)".  A selector allows
 * commands (a bit per command and per subcommand of the one command
 * table, plus "first-arg" rules such as +select|0), key patterns with
 * read/write permissions (~pat, %R~pat, %W~pat) and channel patterns
 * (&pat).  A command is allowed when one selector allows it all.
 *
 * The command table drives everything: categories come from
 * commands_meta.def / subcmd_meta.def, and the keys a command touches and
 * whether it reads or writes each come from their key specs (access ->
 * read; insert, delete, update -> write), as Redis's ACLSelectorCheckKey.
 *
 * Users are created and freed only here.  A program keeps a pointer to its
 * clients' user: SETUSER changes a user in place (the pointer stays good);
 * DELUSER and ACL LOAD free users after calling the `user_gone` hook, in
 * which the program must drop (close) every client of that user.  The
 * `user_changed` hook runs after a user's rules change (SETUSER) so a
 * program can close subscribers whose channels are no longer allowed, as
 * Redis 7.0 does.
 *
 * Not thread-safe: the node has one thread; the proxy serialises ACL
 * changes and checks with its own lock (proxy/pacl.h). */
#ifndef STRATA_ACL_H
#define STRATA_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cmdmeta.h"

/* Results of a check (Redis's ACL_OK, ACL_DENIED_*; the order matters:
 * the "most relevant" refusal among selectors is the highest). */
enum { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2, ACL_DENIED_AUTH = 3, ACL_DENIED_CHANNEL = 4 };

/* ACL LOG contexts */
enum { ACL_CTX_TOPLEVEL = 0, ACL_CTX_MULTI = 1, ACL_CTX_LUA = 2 };

/* user flags (the order is Redis's ACLUserFlags, the order GETUSER lists) */
#define ACL_USER_ON            (1u << 0)
#define ACL_USER_OFF           (1u << 1)
#define ACL_USER_NOPASS        (1u << 2)
#define ACL_USER_SKIP_SANITIZE (1u << 3)
#define ACL_USER_SANITIZE      (1u << 4)

#define ACL_PERM_READ  1u
#define ACL_PERM_WRITE 2u
#define ACL_PERM_ALL   3u

struct acl_pat {
    char *s;
    size_t len;
    unsigned perm;          /* ACL_PERM_* (key patterns; 0 for channels) */
};

#define ACL_SEL_ROOT        (1u << 0)
#define ACL_SEL_ALLKEYS     (1u << 1)
#define ACL_SEL_ALLCHANNELS (1u << 2)
#define ACL_SEL_FUTURE      (1u << 3)  /* +@all: commands added later too */

struct acl_sel {
    unsigned flags;
    uint8_t *bits;          /* one bit per command index (acl_cmd_count) */
    char ***firstargs;      /* per command index: NULL or a NULL-ended list */
    struct acl_pat *keys;
    int nkeys;
    struct acl_pat *chans;
    int nchans;
};

struct acl_user {
    char *name;
    unsigned flags;
    char **pass;            /* lowercase hex SHA-256 */
    int npass;
    struct acl_sel *sels;   /* sels[0] is the root selector */
    int nsels;
    void *prog;             /* the program's own use (free) */
};

struct acl_log_entry {
    long long count;
    int reason;             /* ACL_DENIED_* */
    int context;            /* ACL_CTX_* */
    char *object, *username, *cinfo;
    uint64_t ctime_ms;
};

struct acl {
    struct acl_user **users;    /* sorted by name */
    int nusers;
    struct acl_log_entry *log;  /* newest first */
    int nlog;
    long long log_max;          /* acllog-max-len */
    char *aclfile;              /* or NULL */
    void (*user_gone)(void *arg, struct acl_user *u);
    void (*user_changed)(void *arg, struct acl_user *u);
    void *hook_arg;
};

/* Create the registry with the default user "on nopass ~* &* +@all".
 * cmd_table_init() must have run.  acl_destroy frees everything (no
 * hooks run). */
struct acl *acl_create(void);
void acl_destroy(struct acl *a);

/* Number of command indexes: commands, then subcommands. */
int acl_cmd_count(void);
/* The index of a command or subcommand entry. */
int acl_cmd_index(const struct cmd_meta *m);

struct acl_user *acl_user_get(const struct acl *a, const char *name, size_t len);
struct acl_user *acl_default_user(const struct acl *a);

/* Apply rules to the user `name` (created when absent), all or nothing,
 * as ACL SETUSER.  Returns 0; or -1 with Redis's error text (without
 * "ERR ") in `err`.  The hooks run for an existing user. */
int acl_setuser(struct acl *a, const char *name, size_t nlen, int argc, char **argv, const size_t *lens, buf *err);

/* Delete a user (never "default"): the user_gone hook runs first.
 * Returns 1 if deleted, 0 if absent. */
int acl_deluser(struct acl *a, const char *name, size_t len);

/* Set the default user's password as requirepass does: "" -> nopass,
 * else resetpass >pass. */
void acl_set_requirepass(struct acl *a, const char *pass);

/* Password check as AUTH: user on and (nopass or a matching hash).
 * 1 if good, else 0.  Compares hashes in time independent of where they
 * differ. */
int acl_auth(const struct acl_user *u, const char *pass, size_t len);

/* May user u run this command line?  m is the entry of argv (the
 * subcommand's for a container).  Returns ACL_OK or ACL_DENIED_CMD/KEY/
 * CHANNEL; *errpos gets the argv index of the refused key or channel. */
int acl_check(const struct acl_user *u, const struct cmd_meta *m, int argc, char **argv, const size_t *lens,
              int *errpos);
/* May subscribers of `u` keep channel (or pattern) ch?  1 or 0. */
int acl_check_channel(const struct acl_user *u, const char *ch, size_t len, int is_pattern);

/* Describe a user as ACL LIST does (without "user <name> "). */
void acl_describe_user(const struct acl_user *u, buf *out);
/* The command rules of a selector ("+@all -get", ...). */
void acl_describe_rules(const struct acl_sel *s, buf *out);

/* Add an ACL LOG entry, or count it with a matching recent one.  object:
 * the command's full name, the key or the channel; for ACL_DENIED_AUTH
 * pass "AUTH".  cinfo: the client's CLIENT LIST line. */
void acl_log_add(struct acl *a, int reason, int context, const char *object, size_t olen, const char *username,
                 size_t ulen, const char *cinfo);
void acl_log_reset(struct acl *a);

/* Whether the default user is on and needs no password: anyone who can
 * connect may run its commands (what protected mode guards against). */
int acl_default_open(const struct acl *a);

/* Whether any user other than the default one exists, or the default
 * user needs a password: a server that is "protected". */
int acl_has_auth(const struct acl *a);

/* The ACL file.  acl_load_file replaces every user by the file's (the
 * default user keeps its object and takes the file's rules, or Redis's
 * defaults when the file does not name it); on any error nothing changes
 * and `err` gets Redis-style messages.  acl_save_file writes every user
 * (temp file, then rename).  0 or -1. */
int acl_load_file(struct acl *a, const char *path, buf *err);
int acl_save_file(struct acl *a, const char *path, buf *err);

/* Run an ACL subcommand (argv[0] is "acl"): the program has checked the
 * subcommand and its arity.  me: the caller's user; cinfo: its CLIENT LIST
 * line (ACL LOG of DRYRUN does not log).  The reply goes to out in proto. */
void acl_command(struct acl *a, const struct acl_user *me, int proto, int argc, char **argv, const size_t *lens,
                 buf *out);

/* Redis's NOPERM error for a refused command (the text processCommand
 * gives), appended to out. */
void acl_add_noperm(buf *out, int reason, const struct cmd_meta *m);

/* Redis's exact texts */
extern const char acl_err_wrongpass[];  /* "WRONGPASS invalid username-password pair or user is disabled." */

#endif
