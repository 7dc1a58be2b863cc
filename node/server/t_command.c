/* t_command: the COMMAND command — the node's view of the shared command
 * table (common/cmdtable, common/subcmd). */
#include "cmd.h"
#include "subcmd.h"
#include "util.h"

static void command_command(client *c)
{
    if (c->argc == 1) {
        resp_add_array(&c->out, CMD__COUNT);
        for (int i = 0; i < CMD__COUNT; i++) cmd_reply_info(&c->out, &cmd_table[i]);
        return;
    }
    if (ARG_IS(c, 1, "count") && c->argc == 2) {
        resp_add_int(&c->out, CMD__COUNT);
        return;
    }
    /* Unknown subcommands and wrong arities get Redis's errors before any
     * subcommand runs (COMMAND GETKEYS GET is an arity error, not a
     * GETKEYS error). */
    if (subcmd_check(&c->out, "command", ARG(c, 1), c->argc) < 0) return;
    if (ARG_IS(c, 1, "info")) {
        if (c->argc == 2) {
            resp_add_array(&c->out, CMD__COUNT);
            for (int i = 0; i < CMD__COUNT; i++) cmd_reply_info(&c->out, &cmd_table[i]);
            return;
        }
        resp_add_array(&c->out, c->argc - 2);
        for (int j = 2; j < c->argc; j++) {
            const struct cmd_spec *s = cmd_lookup(ARG(c, j));
            if (s) cmd_reply_info(&c->out, s);
            else resp_add_null(&c->out, c->resp); /* Redis: a null bulk, $-1 */
        }
        return;
    }
    if (ARG_IS(c, 1, "docs")) {
        size_t mark = resp_defer_array(&c->out);
        long long n = 0;
        for (int i = 0; i < CMD__COUNT; i++) {
            int want = c->argc == 2;
            for (int j = 2; j < c->argc && !want; j++)
                want = str_eq_nocase(ARG(c, j), cmd_table[i].name);
            if (!want) continue;
            cmd_reply_docs_empty(&c->out, &cmd_table[i]);
            n += 2;
        }
        resp_set_deferred_array(&c->out, mark, n);
        return;
    }
    if (ARG_IS(c, 1, "list") && c->argc == 2) {
        resp_add_array(&c->out, CMD__COUNT);
        for (int i = 0; i < CMD__COUNT; i++) resp_add_bulk_str(&c->out, cmd_table[i].name);
        return;
    }
    if (ARG_IS(c, 1, "getkeys")) {
        const struct cmd_spec *s = cmd_lookup(ARG(c, 2));
        if (!s) {
            resp_add_error(&c->out, "ERR Invalid command specified");
            return;
        }
        if (s->first == 0 && s->numkeys == 0) { /* checked before the arity, as Redis does */
            resp_add_error(&c->out, "ERR The command has no key arguments");
            return;
        }
        if (!cmd_arity_ok(s, c->argc - 2)) {
            resp_add_error(&c->out, "ERR Invalid number of arguments specified for command");
            return;
        }
        int pos[256];
        int n = cmd_get_keys(s, c->argc - 2, c->argv + 2, c->argvlen + 2, pos, 256);
        if (n <= 0) {
            resp_add_error(&c->out, "ERR Invalid arguments specified for command");
            return;
        }
        if (n > 256) n = 256;
        resp_add_array(&c->out, n);
        for (int i = 0; i < n; i++) resp_add_bulk(&c->out, ARG(c, pos[i] + 2));
        return;
    }
    resp_add_errorf(&c->out, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.", (int)c->argvlen[1], c->argv[1]);
}

void t_command_register(void)
{
    server_register(CMD_COMMAND, command_command);
}
