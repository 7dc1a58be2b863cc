/* cmdreply: COMMAND and its subcommands.  See cmdreply.h.  The error
 * texts and the order of the checks are Redis 7.0's (commandCommand,
 * commandInfoCommand, commandDocsCommand, commandListCommand,
 * getKeysSubcommandImpl). */
#include "cmdreply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "subcmd.h"
#include "util.h"

#define ARGIS(i, lit) str_eq_nocase(argv[i], lens[i], lit)

/* A set of status strings: Redis's addReplyCommandFlags and friends. */
static void add_status_set(buf *out, int proto, const char **names, int n)
{
    resp_add_set(out, proto, n);
    for (int i = 0; i < n; i++) resp_add_simple(out, names[i]);
}

static void add_keyspec(buf *out, int proto, const struct cmd_keyspec *ks)
{
    resp_add_map(out, proto, ks->notes ? 4 : 3);
    if (ks->notes) {
        resp_add_bulk_str(out, "notes");
        resp_add_bulk_str(out, ks->notes);
    }
    const char *names[16];
    resp_add_bulk_str(out, "flags");
    add_status_set(out, proto, names, cmdmeta_key_flag_names(ks->flags, names, 16));

    if (ks->unknown) {
        for (int i = 0; i < 2; i++) {
            resp_add_bulk_str(out, i ? "find_keys" : "begin_search");
            resp_add_map(out, proto, 2);
            resp_add_bulk_str(out, "type");
            resp_add_bulk_str(out, "unknown");
            resp_add_bulk_str(out, "spec");
            resp_add_map(out, proto, 0);
        }
        return;
    }
    resp_add_bulk_str(out, "begin_search");
    resp_add_map(out, proto, 2);
    resp_add_bulk_str(out, "type");
    if (!ks->bs_keyword) {
        resp_add_bulk_str(out, "index");
        resp_add_bulk_str(out, "spec");
        resp_add_map(out, proto, 1);
        resp_add_bulk_str(out, "index");
        resp_add_int(out, ks->bs_index);
    } else {
        resp_add_bulk_str(out, "keyword");
        resp_add_bulk_str(out, "spec");
        resp_add_map(out, proto, 2);
        resp_add_bulk_str(out, "keyword");
        resp_add_bulk_str(out, ks->keyword);
        resp_add_bulk_str(out, "startfrom");
        resp_add_int(out, ks->startfrom);
    }

    resp_add_bulk_str(out, "find_keys");
    resp_add_map(out, proto, 2);
    resp_add_bulk_str(out, "type");
    resp_add_bulk_str(out, ks->fk_keynum ? "keynum" : "range");
    resp_add_bulk_str(out, "spec");
    resp_add_map(out, proto, 3);
    if (!ks->fk_keynum) {
        resp_add_bulk_str(out, "lastkey");
        resp_add_int(out, ks->lastkey);
        resp_add_bulk_str(out, "keystep");
        resp_add_int(out, ks->keystep);
        resp_add_bulk_str(out, "limit");
        resp_add_int(out, ks->limit);
    } else {
        resp_add_bulk_str(out, "keynumidx");
        resp_add_int(out, ks->keynumidx);
        resp_add_bulk_str(out, "firstkey");
        resp_add_int(out, ks->firstkey);
        resp_add_bulk_str(out, "keystep");
        resp_add_int(out, ks->nkeystep);
    }
}

void cmdreply_info(buf *out, int proto, const struct cmd_meta *m)
{
    const char *names[32];
    resp_add_array(out, 10);
    resp_add_bulk_str(out, m->fullname);
    resp_add_int(out, m->arity);
    add_status_set(out, proto, names,
                   cmd_flag_names(m->flags | (m->movablekeys ? CF_MOVABLEKEYS : 0u), names, 32));
    resp_add_int(out, m->first);
    resp_add_int(out, m->last);
    resp_add_int(out, m->step);

    int nc = 0;
    for (int i = 0; i < ACI__COUNT; i++) nc += (m->acl >> i) & 1;
    resp_add_set(out, proto, nc);
    for (int i = 0; i < ACI__COUNT; i++) {
        if (!((m->acl >> i) & 1)) continue;
        char cat[32];
        snprintf(cat, sizeof cat, "@%s", cmdmeta_acl_name(i));
        resp_add_simple(out, cat);
    }

    resp_add_set(out, proto, m->ntips);
    for (int i = 0; i < m->ntips; i++) resp_add_bulk_str(out, m->tips[i]);

    resp_add_set(out, proto, m->nkeyspecs);
    for (int i = 0; i < m->nkeyspecs; i++) add_keyspec(out, proto, &m->keyspecs[i]);

    if (!m->nsubs) {
        resp_add_set(out, proto, 0); /* Redis: an empty set, an array otherwise */
    } else {
        resp_add_array(out, m->nsubs);
        for (int i = 0; i < m->nsubs; i++) cmdreply_info(out, proto, m->subs[i]);
    }
}

static const char *const arg_types[] = {
    [ARG_STRING] = "string",         [ARG_INTEGER] = "integer", [ARG_DOUBLE] = "double",
    [ARG_KEY] = "key",               [ARG_PATTERN] = "pattern", [ARG_UNIX_TIME] = "unix-time",
    [ARG_PURE_TOKEN] = "pure-token", [ARG_ONEOF] = "oneof",     [ARG_BLOCK] = "block",
};

static void add_args(buf *out, int proto, const struct cmd_arg *args, int n)
{
    resp_add_array(out, n);
    for (int i = 0; i < n; i++) {
        const struct cmd_arg *a = &args[i];
        int nested = a->type == ARG_ONEOF || a->type == ARG_BLOCK;
        resp_add_map(out, proto,
                     2 + (a->key_spec_index >= 0) + !!a->token + !!a->since + !!a->deprecated_since +
                         !!a->flags + nested);
        resp_add_bulk_str(out, "name");
        resp_add_bulk_str(out, a->name);
        resp_add_bulk_str(out, "type");
        resp_add_bulk_str(out, arg_types[a->type]);
        if (a->key_spec_index >= 0) {
            resp_add_bulk_str(out, "key_spec_index");
            resp_add_int(out, a->key_spec_index);
        }
        if (a->token) {
            resp_add_bulk_str(out, "token");
            resp_add_bulk_str(out, a->token);
        }
        if (a->since) {
            resp_add_bulk_str(out, "since");
            resp_add_bulk_str(out, a->since);
        }
        if (a->deprecated_since) {
            resp_add_bulk_str(out, "deprecated_since");
            resp_add_bulk_str(out, a->deprecated_since);
        }
        if (a->flags) {
            const char *names[3];
            int nf = 0;
            if (a->flags & ARGF_OPTIONAL) names[nf++] = "optional";
            if (a->flags & ARGF_MULTIPLE) names[nf++] = "multiple";
            if (a->flags & ARGF_MULTIPLE_TOKEN) names[nf++] = "multiple_token";
            resp_add_bulk_str(out, "flags");
            add_status_set(out, proto, names, nf);
        }
        if (nested) {
            resp_add_bulk_str(out, "arguments");
            add_args(out, proto, a->args, a->nargs);
        }
    }
}

void cmdreply_docs(buf *out, int proto, const struct cmd_meta *m)
{
    resp_add_map(out, proto,
                 1 + !!m->summary + !!m->since + !!m->complexity + !!m->doc_flags + !!m->deprecated_since +
                     !!m->replaced_by + !!m->nhistory + m->has_args + !!m->nsubs);
    if (m->summary) {
        resp_add_bulk_str(out, "summary");
        resp_add_bulk_str(out, m->summary);
    }
    if (m->since) {
        resp_add_bulk_str(out, "since");
        resp_add_bulk_str(out, m->since);
    }
    resp_add_bulk_str(out, "group");
    resp_add_bulk_str(out, m->group);
    if (m->complexity) {
        resp_add_bulk_str(out, "complexity");
        resp_add_bulk_str(out, m->complexity);
    }
    if (m->doc_flags) {
        const char *names[2];
        int n = 0;
        if (m->doc_flags & DOC_DEPRECATED) names[n++] = "deprecated";
        if (m->doc_flags & DOC_SYSCMD) names[n++] = "syscmd";
        resp_add_bulk_str(out, "doc_flags");
        add_status_set(out, proto, names, n);
    }
    if (m->deprecated_since) {
        resp_add_bulk_str(out, "deprecated_since");
        resp_add_bulk_str(out, m->deprecated_since);
    }
    if (m->replaced_by) {
        resp_add_bulk_str(out, "replaced_by");
        resp_add_bulk_str(out, m->replaced_by);
    }
    if (m->nhistory) {
        resp_add_bulk_str(out, "history");
        resp_add_set(out, proto, m->nhistory);
        for (int i = 0; i < m->nhistory; i++) {
            resp_add_array(out, 2);
            resp_add_bulk_str(out, m->history[i].version);
            resp_add_bulk_str(out, m->history[i].text);
        }
    }
    if (m->has_args) {
        resp_add_bulk_str(out, "arguments");
        add_args(out, proto, m->args, m->nargs);
    }
    if (m->nsubs) {
        resp_add_bulk_str(out, "subcommands");
        resp_add_map(out, proto, m->nsubs);
        for (int i = 0; i < m->nsubs; i++) {
            resp_add_bulk_str(out, m->subs[i]->fullname);
            cmdreply_docs(out, proto, m->subs[i]);
        }
    }
}

/* ---- subcommands of COMMAND ---- */

static void reply_all_info(buf *out, int proto)
{
    resp_add_array(out, CMD__COUNT);
    for (int i = 0; i < CMD__COUNT; i++) cmdreply_info(out, proto, cmdmeta_get((enum cmd_id)i));
}

static void reply_info(buf *out, int proto, int argc, char **argv, const size_t *lens)
{
    if (argc == 2) {
        reply_all_info(out, proto);
        return;
    }
    resp_add_array(out, argc - 2);
    for (int i = 2; i < argc; i++) {
        const struct cmd_meta *m = cmdmeta_lookup(argv[i], lens[i]);
        if (m) cmdreply_info(out, proto, m);
        else resp_add_null(out, proto);
    }
}

static void reply_docs(buf *out, int proto, int argc, char **argv, const size_t *lens)
{
    if (argc == 2) {
        resp_add_map(out, proto, CMD__COUNT);
        for (int i = 0; i < CMD__COUNT; i++) {
            const struct cmd_meta *m = cmdmeta_get((enum cmd_id)i);
            resp_add_bulk_str(out, m->fullname);
            cmdreply_docs(out, proto, m);
        }
        return;
    }
    size_t mark = resp_defer(out);
    long long n = 0;
    for (int i = 2; i < argc; i++) {
        const struct cmd_meta *m = cmdmeta_lookup(argv[i], lens[i]);
        if (!m) continue; /* Redis leaves unknown names out */
        resp_add_bulk_str(out, m->fullname);
        cmdreply_docs(out, proto, m);
        n++;
    }
    resp_set_deferred_map(out, mark, proto, n);
}

enum list_filter { LF_NONE, LF_MODULE, LF_ACLCAT, LF_PATTERN };

static int list_keep(const struct cmd_meta *m, enum list_filter f, unsigned cat, const char *arg,
                     size_t arglen)
{
    switch (f) {
    case LF_NONE: return 1;
    case LF_MODULE: return 0; /* Strata has no modules: no command belongs to one */
    case LF_ACLCAT: return (m->acl & cat) != 0;
    case LF_PATTERN: return glob_match(arg, arglen, m->fullname, strlen(m->fullname), 1);
    }
    return 0;
}

static int reply_list(buf *out, int argc, char **argv, const size_t *lens)
{
    enum list_filter f = LF_NONE;
    const char *arg = NULL;
    size_t arglen = 0;
    for (int i = 2; i < argc; i++) {
        int more = argc - 1 - i;
        if (ARGIS(i, "filterby") && more == 2) {
            if (ARGIS(i + 1, "module")) f = LF_MODULE;
            else if (ARGIS(i + 1, "aclcat")) f = LF_ACLCAT;
            else if (ARGIS(i + 1, "pattern")) f = LF_PATTERN;
            else {
                resp_add_error(out, resp_err_syntax);
                return 1;
            }
            arg = argv[i + 2];
            arglen = lens[i + 2];
            i += 2;
        } else {
            resp_add_error(out, resp_err_syntax);
            return 1;
        }
    }
    unsigned cat = f == LF_ACLCAT ? cmdmeta_acl_lookup(arg, arglen) : 0;
    size_t mark = resp_defer(out);
    long long n = 0;
    for (int i = 0; i < CMD__COUNT; i++) {
        const struct cmd_meta *m = cmdmeta_get((enum cmd_id)i);
        if (list_keep(m, f, cat, arg, arglen)) {
            resp_add_bulk_str(out, m->fullname);
            n++;
        }
        for (int j = 0; j < m->nsubs; j++) {
            if (!list_keep(m->subs[j], f, cat, arg, arglen)) continue;
            resp_add_bulk_str(out, m->subs[j]->fullname);
            n++;
        }
    }
    resp_set_deferred_array(out, mark, n);
    return 0;
}

static int reply_getkeys(buf *out, int proto, int argc, char **argv, const size_t *lens, int with_flags)
{
    const struct cmd_meta *m = cmdmeta_lookup_argv(argc - 2, argv + 2, lens + 2);
    if (!m) {
        resp_add_error(out, "ERR Invalid command specified");
        return 1;
    }
    if (!cmdmeta_has_keys(m)) {
        resp_add_error(out, "ERR The command has no key arguments");
        return 1;
    }
    int n = argc - 2;
    if ((m->arity > 0 && m->arity != n) || n < -m->arity) {
        resp_add_error(out, "ERR Invalid number of arguments specified for command");
        return 1;
    }
    int nk = cmdmeta_get_keys(m, n, argv + 2, lens + 2, NULL, 0);
    if (nk == 0) {
        if (m->flags & CF_NO_MANDATORY_KEYS) {
            resp_add_array(out, 0);
            return 0;
        }
        resp_add_error(out, "ERR Invalid arguments specified for command");
        return 1;
    }
    struct cmd_key *keys = xcalloc((size_t)nk, sizeof *keys);
    cmdmeta_get_keys(m, n, argv + 2, lens + 2, keys, nk);
    resp_add_array(out, nk);
    for (int i = 0; i < nk; i++) {
        int at = keys[i].pos + 2;
        if (!with_flags) {
            resp_add_bulk(out, argv[at], lens[at]);
            continue;
        }
        const char *names[16];
        resp_add_array(out, 2);
        resp_add_bulk(out, argv[at], lens[at]);
        add_status_set(out, proto, names, cmdmeta_key_flag_names(keys[i].flags, names, 16));
    }
    free(keys);
    return 0;
}

/* Strata's own wording; the first and last lines are the frame every
 * HELP of Redis shares. */
static void reply_help(buf *out)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Describe every command (as INFO does for each).",
        "COUNT",
        "    The number of commands, subcommands not counted.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Names of the commands and subcommands, optionally only those of a",
        "    module (Strata has none), of an ACL category or matching a glob pattern.",
        "INFO [<command-name> ...]",
        "    Name, arity, flags, key positions, ACL categories, tips, key",
        "    specifications and subcommands of the given commands (all by default).",
        "DOCS [<command-name> ...]",
        "    Summary, versions, complexity, history and argument structure of the",
        "    given commands (all by default).",
        "GETKEYS <full-command>",
        "    The key names a complete command line would touch.",
        "GETKEYSANDFLAGS <full-command>",
        "    The same keys, each with how the command uses it.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    resp_add_array(out, (long long)n);
    for (size_t i = 0; i < n; i++) resp_add_simple(out, lines[i]);
}

int cmdreply_command(buf *out, int proto, int argc, char **argv, const size_t *lens)
{
    if (argc == 1) {
        reply_all_info(out, proto);
        return 0;
    }
    /* Unknown subcommands and wrong arities get Redis's errors before any
     * subcommand runs (COMMAND GETKEYS GET is an arity error). */
    if (subcmd_check(out, "command", argv[1], lens[1], argc) < 0) return 1;
    if (ARGIS(1, "count")) {
        resp_add_int(out, CMD__COUNT);
        return 0;
    }
    if (ARGIS(1, "info")) {
        reply_info(out, proto, argc, argv, lens);
        return 0;
    }
    if (ARGIS(1, "docs")) {
        reply_docs(out, proto, argc, argv, lens);
        return 0;
    }
    if (ARGIS(1, "list")) return reply_list(out, argc, argv, lens);
    if (ARGIS(1, "getkeys")) return reply_getkeys(out, proto, argc, argv, lens, 0);
    if (ARGIS(1, "getkeysandflags")) return reply_getkeys(out, proto, argc, argv, lens, 1);
    if (ARGIS(1, "help")) {
        reply_help(out);
        return 0;
    }
    /* A subcommand subcmd.c lists but this file does not answer. */
    resp_add_errorf(out, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                    (int)(lens[1] > 128 ? 128 : lens[1]), argv[1]);
    return 1;
}
