/* monitor: MONITOR (see monitor.h). */
#include "monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cmd.h"
#include "slowlog.h"
#include "subcmd.h"
#include "util.h"

static client **monitors;   /* in the order they started */
static int nmonitors, capmonitors;

int monitor_is(const client *c)
{
    for (int i = 0; i < nmonitors; i++)
        if (monitors[i] == c) return 1;
    return 0;
}

/* Redis's sdscatrepr: a quoted string with \\ \" \n \r \t \a \b escaped,
 * other printable bytes as they are and the rest as \xNN. */
static void add_repr(buf *o, const char *p, size_t len)
{
    buf_append_char(o, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': buf_append(o, "\\\\", 2); break;
        case '"': buf_append(o, "\\\"", 2); break;
        case '\n': buf_append(o, "\\n", 2); break;
        case '\r': buf_append(o, "\\r", 2); break;
        case '\t': buf_append(o, "\\t", 2); break;
        case '\a': buf_append(o, "\\a", 2); break;
        case '\b': buf_append(o, "\\b", 2); break;
        default:
            if (ch >= 32 && ch < 127) buf_append_char(o, (char)ch);
            else buf_printf(o, "\\x%02x", ch);
        }
    }
    buf_append_char(o, '"');
}

/* Redis does not show admin commands; for containers the flag is the
 * subcommand's (CLIENT ID shows, CLIENT LIST does not; HELP always shows). */
static int is_admin(const client *c)
{
    static const char *const client_admin[] = { "kill", "list", "no-evict", "pause", "unblock", "unpause", NULL };
    if (c->cmd->id == CMD_CLIENT) {
        if (c->argc < 2) return 0;
        for (int i = 0; client_admin[i]; i++)
            if (ARG_IS(c, 1, client_admin[i])) return 1;
        return 0;
    }
    if (!(c->cmd->flags & CF_ADMIN)) return 0;
    if (c->argc >= 2 && ARG_IS(c, 1, "help") && cmd_is_container(c->cmd)) return 0;
    return 1;
}

void monitor_feed(client *c)
{
    if (!nmonitors || !c->cmd || is_admin(c)) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    buf line;
    buf_init(&line);
    buf_printf(&line, "%ld.%06ld [0 %s] ", (long)tv.tv_sec, (long)tv.tv_usec, c->addr);
    for (int j = 0; j < c->argc; j++) {
        if (slowlog_redacted(c, j)) add_repr(&line, "(redacted)", 10);
        else add_repr(&line, c->argv[j], c->argvlen[j]);
        if (j != c->argc - 1) buf_append_char(&line, ' ');
    }
    buf_append_char(&line, '\0');
    for (int i = 0; i < nmonitors; i++) {
        client *m = monitors[i];
        if (m->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY)) continue;
        resp_add_simple(&m->out, line.data);
        client_pending(m);
        client_close_if_over_limit(m, m->out.len - m->out_sent);
    }
    buf_free(&line);
}

static void monitor_command(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        resp_add_error(&c->out, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    /* a replica or a monitor already: nothing, as Redis */
    if ((c->flags & CLIENT_REPLICA) || monitor_is(c)) return;
    if (nmonitors == capmonitors) {
        capmonitors = capmonitors ? capmonitors * 2 : 8;
        monitors = xrealloc(monitors, (size_t)capmonitors * sizeof *monitors);
    }
    monitors[nmonitors++] = c;
    resp_add_ok(&c->out);
}

void monitor_stop(client *c)
{
    for (int i = 0; i < nmonitors; i++)
        if (monitors[i] == c) {
            memmove(&monitors[i], &monitors[i + 1], (size_t)(nmonitors - i - 1) * sizeof monitors[0]);
            nmonitors--;
            return;
        }
}

static void monitor_client_free(client *c) { monitor_stop(c); }

static void monitor_shutdown(void)
{
    free(monitors);
    monitors = NULL;
    nmonitors = capmonitors = 0;
}

void monitor_register(void)
{
    server_register(CMD_MONITOR, monitor_command);
    server_add_free_hook(monitor_client_free);
    server_add_shutdown_hook(monitor_shutdown);
}
