/* acl_cmd: the ACL command (CAT DELUSER DRYRUN GETUSER GENPASS LIST LOAD
 * LOG SAVE SETUSER USERS WHOAMI HELP) with Redis 7.0's replies, shared by
 * the node and the proxy (each over its own users).  See acl.h. */
#include "acl.h"

#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "util.h"

#define ARG_IS(i, lit) str_eq_nocase(argv[i], lens[i], lit)

static const char *help_lines[] = {
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
};

static const char no_aclfile[] =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
    "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order "
    "to store users in the Redis configuration.";

static void add_selector(buf *out, int proto, const struct acl_sel *s)
{
    buf t;
    buf_init(&t);
    resp_add_bulk_str(out, "commands");
    acl_describe_rules(s, &t);
    resp_add_bulk(out, t.data, t.len);
    resp_add_bulk_str(out, "keys");
    buf_clear(&t);
    if (s->flags & ACL_SEL_ALLKEYS) {
        buf_append_str(&t, "~*");
    } else {
        for (int i = 0; i < s->nkeys; i++) {
            if (i) buf_append_char(&t, ' ');
            const struct acl_pat *p = &s->keys[i];
            if (p->perm == ACL_PERM_ALL) buf_append_char(&t, '~');
            else buf_printf(&t, "%%%s%s~", p->perm & ACL_PERM_READ ? "R" : "", p->perm & ACL_PERM_WRITE ? "W" : "");
            buf_append(&t, p->s, p->len);
        }
    }
    resp_add_bulk(out, t.data, t.len);
    resp_add_bulk_str(out, "channels");
    buf_clear(&t);
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        buf_append_str(&t, "&*");
    } else {
        for (int i = 0; i < s->nchans; i++) {
            if (i) buf_append_char(&t, ' ');
            buf_append_char(&t, '&');
            buf_append(&t, s->chans[i].s, s->chans[i].len);
        }
    }
    resp_add_bulk(out, t.data, t.len);
    buf_free(&t);
    (void)proto;
}

static void getuser(struct acl *a, int proto, const char *name, size_t len, buf *out)
{
    const struct acl_user *u = acl_user_get(a, name, len);
    if (!u) {
        resp_add_null(out, proto);
        return;
    }
    static const struct { unsigned f; const char *n; } flags[] = {
        { ACL_USER_ON, "on" }, { ACL_USER_OFF, "off" }, { ACL_USER_NOPASS, "nopass" },
        { ACL_USER_SKIP_SANITIZE, "skip-sanitize-payload" }, { ACL_USER_SANITIZE, "sanitize-payload" },
    };
    resp_add_map(out, proto, 6);
    resp_add_bulk_str(out, "flags");
    int nf = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) nf += !!(u->flags & flags[i].f);
    resp_add_set(out, proto, nf);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (u->flags & flags[i].f) resp_add_bulk_str(out, flags[i].n);
    resp_add_bulk_str(out, "passwords");
    resp_add_array(out, u->npass);
    for (int i = 0; i < u->npass; i++) resp_add_bulk_str(out, u->pass[i]);
    add_selector(out, proto, &u->sels[0]);
    resp_add_bulk_str(out, "selectors");
    resp_add_array(out, u->nsels - 1);
    for (int i = 1; i < u->nsels; i++) {
        resp_add_map(out, proto, 3);
        add_selector(out, proto, &u->sels[i]);
    }
}

static void cat(int argc, char **argv, const size_t *lens, int proto, buf *out)
{
    if (argc == 2) {
        resp_add_array(out, ACI__COUNT);
        for (int i = 0; i < ACI__COUNT; i++) resp_add_bulk_str(out, cmdmeta_acl_name(i));
        return;
    }
    unsigned c = cmdmeta_acl_lookup(argv[2], lens[2]);
    if (!c) {
        resp_add_errorf(out, "ERR Unknown category '%.*s'", (int)(lens[2] > 128 ? 128 : lens[2]), argv[2]);
        return;
    }
    buf t;
    buf_init(&t);
    long long n = 0;
    for (int id = 0; id < CMD__COUNT; id++) {
        const struct cmd_meta *m = cmdmeta_get((enum cmd_id)id);
        if (m->acl & c) {
            resp_add_bulk_str(&t, m->fullname);
            n++;
        }
        for (int j = 0; j < m->nsubs; j++)
            if (m->subs[j]->acl & c) {
                resp_add_bulk_str(&t, m->subs[j]->fullname);
                n++;
            }
    }
    resp_add_array(out, n);
    buf_append(out, t.data, t.len);
    buf_free(&t);
    (void)proto;
}

static void dryrun(struct acl *a, int argc, char **argv, const size_t *lens, buf *out)
{
    const struct acl_user *u = acl_user_get(a, argv[2], lens[2]);
    if (!u) {
        resp_add_errorf(out, "ERR User '%.*s' not found", (int)(lens[2] > 128 ? 128 : lens[2]), argv[2]);
        return;
    }
    const struct cmd_meta *m = cmdmeta_lookup_argv(argc - 3, argv + 3, lens + 3);
    if (!m) {
        resp_add_errorf(out, "ERR Command '%.*s' not found", (int)(lens[3] > 128 ? 128 : lens[3]), argv[3]);
        return;
    }
    if (m->arity >= 0 ? argc - 3 != m->arity : argc - 3 < -m->arity) {
        resp_add_errorf(out, "ERR wrong number of arguments for '%s' command", m->fullname);
        return;
    }
    int pos;
    int r = acl_check(u, m, argc - 3, argv + 3, lens + 3, &pos);
    if (r == ACL_OK) {
        resp_add_ok(out);
        return;
    }
    buf t;
    buf_init(&t);
    if (r == ACL_DENIED_CMD)
        buf_printf(&t, "This user has no permissions to run the '%s' command", m->fullname);
    else
        buf_printf(&t, "This user has no permissions to access the '%.*s' %s", (int)lens[3 + pos], argv[3 + pos],
                   r == ACL_DENIED_KEY ? "key" : "channel");
    resp_add_bulk(out, t.data, t.len);
    buf_free(&t);
}

static void log_reply(struct acl *a, int argc, char **argv, const size_t *lens, int proto, buf *out)
{
    long long count = 10;
    if (argc == 3) {
        if (ARG_IS(2, "reset")) {
            acl_log_reset(a);
            resp_add_ok(out);
            return;
        }
        if (str2ll(argv[2], lens[2], &count) < 0) {
            resp_add_error(out, "ERR value is not an integer or out of range");
            return;
        }
        if (count < 0) count = 0;
    }
    long long n = count < a->nlog ? count : a->nlog;
    uint64_t now = now_ms();
    static const char *reasons[] = { "", "command", "key", "auth", "channel" };
    static const char *contexts[] = { "toplevel", "multi", "lua" };
    resp_add_array(out, n);
    for (long long i = 0; i < n; i++) {
        const struct acl_log_entry *e = &a->log[i];
        resp_add_map(out, proto, 7);
        resp_add_bulk_str(out, "count");
        resp_add_int(out, e->count);
        resp_add_bulk_str(out, "reason");
        resp_add_bulk_str(out, reasons[e->reason]);
        resp_add_bulk_str(out, "context");
        resp_add_bulk_str(out, contexts[e->context]);
        resp_add_bulk_str(out, "object");
        resp_add_bulk_str(out, e->object);
        resp_add_bulk_str(out, "username");
        resp_add_bulk_str(out, e->username);
        resp_add_bulk_str(out, "age-seconds");
        resp_add_double(out, proto, (double)(now > e->ctime_ms ? now - e->ctime_ms : 0) / 1000.0);
        resp_add_bulk_str(out, "client-info");
        resp_add_bulk_str(out, e->cinfo);
    }
}

void acl_command(struct acl *a, const struct acl_user *me, int proto, int argc, char **argv, const size_t *lens,
                 buf *out)
{
    if (ARG_IS(1, "setuser")) {
        buf err;
        buf_init(&err);
        if (acl_setuser(a, argv[2], lens[2], argc - 3, argv + 3, lens + 3, &err) == 0) resp_add_ok(out);
        else resp_add_errorf(out, "ERR %.*s", (int)err.len, err.data);
        buf_free(&err);
    } else if (ARG_IS(1, "getuser")) {
        getuser(a, proto, argv[2], lens[2], out);
    } else if (ARG_IS(1, "deluser")) {
        for (int i = 2; i < argc; i++)
            if (lens[i] == 7 && !memcmp(argv[i], "default", 7)) {
                resp_add_error(out, "ERR The 'default' user cannot be removed");
                return;
            }
        long long n = 0;
        for (int i = 2; i < argc; i++) n += acl_deluser(a, argv[i], lens[i]);
        resp_add_int(out, n);
    } else if (ARG_IS(1, "list")) {
        resp_add_array(out, a->nusers);
        buf t;
        buf_init(&t);
        for (int i = 0; i < a->nusers; i++) {
            buf_clear(&t);
            buf_printf(&t, "user %s ", a->users[i]->name);
            acl_describe_user(a->users[i], &t);
            resp_add_bulk(out, t.data, t.len);
        }
        buf_free(&t);
    } else if (ARG_IS(1, "users")) {
        resp_add_array(out, a->nusers);
        for (int i = 0; i < a->nusers; i++) resp_add_bulk_str(out, a->users[i]->name);
    } else if (ARG_IS(1, "whoami")) {
        resp_add_bulk_str(out, me ? me->name : "default");
    } else if (ARG_IS(1, "cat")) {
        if (argc > 3) {
            resp_add_error(out, "ERR unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP.");
            return;
        }
        cat(argc, argv, lens, proto, out);
    } else if (ARG_IS(1, "dryrun")) {
        dryrun(a, argc, argv, lens, out);
    } else if (ARG_IS(1, "genpass")) {
        long long bits = 256;
        if (argc > 3) {
            resp_add_error(out, "ERR unknown subcommand or wrong number of arguments for 'genpass'. Try ACL HELP.");
            return;
        }
        if (argc == 3 && str2ll(argv[2], lens[2], &bits) < 0) {
            resp_add_error(out, "ERR value is not an integer or out of range");
            return;
        }
        if (bits <= 0 || bits > 4096) {
            resp_add_error(out, "ERR ACL GENPASS argument must be the number of bits for the output password, "
                                "a positive number up to 4096");
            return;
        }
        size_t chars = (size_t)(bits + 3) / 4;
        char hex[1025 + 128];
        for (size_t done = 0; done < chars; done += 128) {
            size_t k = chars - done < 128 ? chars - done : 128;
            if (random_hex(hex + done, k) < 0) {
                resp_add_error(out, "ERR Failed to read from /dev/urandom");
                return;
            }
        }
        resp_add_bulk(out, hex, chars);
    } else if (ARG_IS(1, "log")) {
        if (argc > 3) {
            resp_add_error(out, "ERR unknown subcommand or wrong number of arguments for 'log'. Try ACL HELP.");
            return;
        }
        log_reply(a, argc, argv, lens, proto, out);
    } else if (ARG_IS(1, "load") || ARG_IS(1, "save")) {
        if (!a->aclfile || !*a->aclfile) {
            resp_add_error(out, no_aclfile);
            return;
        }
        buf err;
        buf_init(&err);
        int rc = ARG_IS(1, "load") ? acl_load_file(a, a->aclfile, &err) : acl_save_file(a, a->aclfile, &err);
        if (rc == 0) resp_add_ok(out);
        else resp_add_errorf(out, "ERR %.*s", (int)err.len, err.data);
        buf_free(&err);
    } else if (ARG_IS(1, "help")) {
        size_t n = sizeof help_lines / sizeof help_lines[0];
        resp_add_array(out, (long long)n);
        for (size_t i = 0; i < n; i++) resp_add_simple(out, help_lines[i]);
    } else {
        resp_add_errorf(out, "ERR unknown subcommand '%.*s'. Try ACL HELP.", (int)(lens[1] > 128 ? 128 : lens[1]),
                        argv[1]);
    }
}
