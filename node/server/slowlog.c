/* slowlog: the slow log (see slowlog.h). */
#include "slowlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "rconfig.h"
#include "subcmd.h"
#include "util.h"

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_STRING 128

struct slowlog_entry {
    long long id;
    long long time;          /* unix seconds */
    long long duration;      /* microseconds */
    int argc;
    char **argv;             /* owned copies */
    size_t *argvlen;
    char *peer, *name;       /* owned */
    struct slowlog_entry *next, *prev;
};

static struct slowlog_entry *head, *tail;  /* newest first */
static unsigned long long nentries;
static long long next_id;

static void entry_free(struct slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++) free(e->argv[i]);
    free(e->argv);
    free(e->argvlen);
    free(e->peer);
    free(e->name);
    free(e);
}

int slowlog_redacted(const client *c, int j)
{
    if (!c->cmd || j < 1) return 0;
    if (c->cmd->id == CMD_AUTH) return 1;
    if (c->cmd->id == CMD_HELLO) {
        /* HELLO protover [AUTH user pass] [SETNAME name]: the options as
         * helloCommand parses them */
        for (int k = 2; k < c->argc;) {
            if (str_eq_nocase(c->argv[k], c->argvlen[k], "auth") && k + 2 < c->argc) {
                if (j == k + 1 || j == k + 2) return 1;
                k += 3;
            } else if (str_eq_nocase(c->argv[k], c->argvlen[k], "setname") && k + 1 < c->argc) {
                k += 2;
            } else {
                break;
            }
        }
        return 0;
    }
    if (c->cmd->id == CMD_CONFIG && c->argc >= 4 && str_eq_nocase(c->argv[1], c->argvlen[1], "set") && j >= 3 &&
        j % 2 == 1)
        return str_eq_nocase(c->argv[j - 1], c->argvlen[j - 1], "requirepass") ||
               str_eq_nocase(c->argv[j - 1], c->argvlen[j - 1], "masterauth") ||
               str_eq_nocase(c->argv[j - 1], c->argvlen[j - 1], "masteruser");
    return 0;
}

static void trim_to(unsigned long long max)
{
    while (nentries > max && tail) {
        struct slowlog_entry *e = tail;
        tail = e->prev;
        if (tail) tail->next = NULL;
        else head = NULL;
        entry_free(e);
        nentries--;
    }
}

void slowlog_offer(client *c, uint64_t usec)
{
    static const struct rconf_param *slower, *maxlen;
    if (!slower) {
        slower = rconf_find("slowlog-log-slower-than", 23);
        maxlen = rconf_find("slowlog-max-len", 15);
    }
    long long threshold = rconf_pnum(slower);
    if (threshold < 0 || (long long)usec < threshold) return;
    struct slowlog_entry *e = xcalloc(1, sizeof *e);
    int argc = c->argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : c->argc;
    e->argc = argc;
    e->argv = xmalloc((size_t)argc * sizeof *e->argv);
    e->argvlen = xmalloc((size_t)argc * sizeof *e->argvlen);
    for (int j = 0; j < argc; j++) {
        buf b;
        buf_init(&b);
        if (argc != c->argc && j == argc - 1)
            buf_printf(&b, "... (%d more arguments)", c->argc - argc + 1);
        else if (slowlog_redacted(c, j))
            buf_printf(&b, "(redacted)");
        else if (c->argvlen[j] > SLOWLOG_MAX_STRING) {
            buf_append(&b, c->argv[j], SLOWLOG_MAX_STRING);
            buf_printf(&b, "... (%lu more bytes)", (unsigned long)(c->argvlen[j] - SLOWLOG_MAX_STRING));
        } else {
            buf_append(&b, c->argv[j], c->argvlen[j]);
        }
        e->argvlen[j] = b.len;
        e->argv[j] = xmemdup(b.data ? b.data : "", b.len);
        buf_free(&b);
    }
    e->time = (long long)time(NULL);
    e->duration = (long long)usec;
    e->id = next_id++;
    e->peer = xmemdup(c->addr, strlen(c->addr));
    e->name = c->name ? xmemdup(c->name, strlen(c->name)) : xmemdup("", 0);
    e->next = head;
    if (head) head->prev = e;
    head = e;
    if (!tail) tail = e;
    nentries++;
    trim_to((unsigned long long)rconf_pnum(maxlen));
}

static void slowlog_help(client *c)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    };
    resp_add_array(&c->out, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) resp_add_simple(&c->out, lines[i]);
}

static void slowlog_command(client *c)
{
    if (subcmd_check(&c->out, "slowlog", ARG(c, 1), c->argc) < 0) return;
    if (ARG_IS(c, 1, "help") && c->argc == 2) {
        slowlog_help(c);
    } else if (ARG_IS(c, 1, "reset") && c->argc == 2) {
        trim_to(0);
        resp_add_ok(&c->out);
    } else if (ARG_IS(c, 1, "len") && c->argc == 2) {
        resp_add_int(&c->out, (long long)nentries);
    } else if (ARG_IS(c, 1, "get") && c->argc <= 3) {
        long long count = 10;
        if (c->argc == 3) {
            if (str2ll(ARG(c, 2), &count) < 0 || count < -1) {
                resp_add_error(&c->out, "ERR count should be greater than or equal to -1");
                return;
            }
            if (count == -1) count = (long long)nentries;
        }
        if (count > (long long)nentries) count = (long long)nentries;
        resp_add_array(&c->out, count);
        struct slowlog_entry *e = head;
        for (long long i = 0; i < count && e; i++, e = e->next) {
            resp_add_array(&c->out, 6);
            resp_add_int(&c->out, e->id);
            resp_add_int(&c->out, e->time);
            resp_add_int(&c->out, e->duration);
            resp_add_array(&c->out, e->argc);
            for (int j = 0; j < e->argc; j++) resp_add_bulk(&c->out, e->argv[j], e->argvlen[j]);
            resp_add_bulk_str(&c->out, e->peer);
            resp_add_bulk_str(&c->out, e->name);
        }
    } else {
        resp_add_errorf(&c->out, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try SLOWLOG HELP.",
                        (int)(c->argvlen[1] > 128 ? 128 : c->argvlen[1]), c->argv[1]);
    }
}

static void slowlog_shutdown(void) { trim_to(0); }

void slowlog_register(void)
{
    server_register(CMD_SLOWLOG, slowlog_command);
    server_add_shutdown_hook(slowlog_shutdown);
}
