/* t_acl: ACL users on strata-node (common/acl.c does the rules): the
 * registry, AUTH/HELLO AUTH against users, the check of every command
 * (dispatch hook, at queue time inside MULTI), the re-check at EXEC time
 * and of a script's redis.call, the ACL command, and closing the clients
 * of a deleted user.  requirepass is the default user's password, as in
 * Redis 7.0; `aclfile` is read at start and by ACL LOAD. */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cmd.h"
#include "log.h"
#include "util.h"

static struct acl *acl;

struct acl *node_acl(void) { return acl; }

static void user_gone(void *arg, struct acl_user *u)
{
    (void)arg;
    for (client *c = srv.clients; c; c = c->next) {
        if (c->user != u) continue;
        /* The client running DELUSER on its own user gets its reply. */
        if (c == srv.current) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else client_close(c);
        c->user = NULL;
        c->authed = 0;
    }
}

static void client_info(client *c, buf *o)
{
    size_t at = o->len;
    node_client_info_line(o, c);
    if (o->len > at && o->data[o->len - 1] == '\n') o->len--;
    buf_append_char(o, '\0');
}

static void log_denied(client *c, int r, int ctx, const struct cmd_meta *m, int pos, char **argv, const size_t *lens)
{
    buf ci;
    buf_init(&ci);
    client_info(c, &ci);
    const char *obj = m->fullname;
    size_t olen = strlen(obj);
    if (r == ACL_DENIED_KEY || r == ACL_DENIED_CHANNEL) {
        obj = argv[pos];
        olen = lens[pos];
    }
    const char *un = c->user ? c->user->name : "default";
    acl_log_add(acl, r, ctx, obj, olen, un, strlen(un), ci.data);
    buf_free(&ci);
}

int node_acl_authed_by_default(void)
{
    const struct acl_user *d = acl_default_user(acl);
    return (d->flags & ACL_USER_ON) && (d->flags & ACL_USER_NOPASS);
}

void node_acl_client_init(client *c)
{
    c->user = acl_default_user(acl);
    c->authed = node_acl_authed_by_default();
}

const char *node_acl_username(const client *c)
{
    return c->user ? c->user->name : "default";
}

int node_acl_auth(client *c, const char *user, size_t ulen, const char *pass, size_t plen)
{
    struct acl_user *u = acl_user_get(acl, user, ulen);
    if (!acl_auth(u, pass, plen)) {
        buf ci;
        buf_init(&ci);
        client_info(c, &ci);
        /* The object is the command as the client sent it (AUTH, auth,
         * HELLO), as Redis 7.0 logs it. */
        acl_log_add(acl, ACL_DENIED_AUTH, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL,
                    c->argc ? c->argv[0] : "AUTH", c->argc ? c->argvlen[0] : 4, user, ulen, ci.data);
        buf_free(&ci);
        resp_add_error(&c->out, acl_err_wrongpass);
        return -1;
    }
    c->user = u;
    c->authed = 1;
    return 0;
}

/* The check processCommand makes: refuse before running or queueing. */
/* The client's user's verdict on its current command (ACL_OK for the
 * master's link and for commands the table lacks), with the command's
 * metadata and the denied argument's position. */
static int check_current(client *c, const struct cmd_meta **mp, int *pos)
{
    if (!c->user || (c->flags & CLIENT_MASTER)) return ACL_OK;
    *mp = cmdmeta_lookup_argv(c->argc, c->argv, c->argvlen);
    if (!*mp) return ACL_OK;
    return acl_check(c->user, *mp, c->argc, c->argv, c->argvlen, pos);
}

static int acl_filter(client *c)
{
    const struct cmd_meta *m = NULL;
    int pos = 0;
    int r = check_current(c, &m, &pos);
    if (r == ACL_OK) return 0;
    log_denied(c, r, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL, m, pos, c->argv, c->argvlen);
    acl_add_noperm(&c->out, r, m);
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    return 1;
}

int node_acl_exec_check(client *c)
{
    const struct cmd_meta *m = NULL;
    int pos = 0;
    int r = check_current(c, &m, &pos);
    if (r == ACL_OK) return 0;
    log_denied(c, r, ACL_CTX_MULTI, m, pos, c->argv, c->argvlen);
    const char *reason = r == ACL_DENIED_CMD   ? "no permission to execute the command or subcommand"
                         : r == ACL_DENIED_KEY ? "no permission to touch the specified keys"
                         : r == ACL_DENIED_CHANNEL
                             ? "no permission to access one of the channels used as arguments"
                             : "no permission";
    resp_add_errorf(&c->out, "NOPERM ACLs rules changed between the moment the transaction was accumulated and "
                             "the EXEC call. This command is no longer allowed for the following reason: %s",
                    reason);
    return 1;
}

const char *node_acl_script_check(client *caller, const struct cmd_meta *m, int argc, char **argv, size_t *lens)
{
    if (!caller || !caller->user || (caller->flags & CLIENT_MASTER)) return NULL;
    int pos;
    int r = acl_check(caller->user, m, argc, argv, lens, &pos);
    if (r == ACL_OK) return NULL;
    log_denied(caller, r, ACL_CTX_LUA, m, pos, argv, lens);
    switch (r) {
    case ACL_DENIED_CMD: return "The user executing the script can't run this command or subcommand";
    case ACL_DENIED_KEY:
        return "The user executing the script can't access at least one of the keys mentioned in the command "
               "arguments";
    case ACL_DENIED_CHANNEL:
        return "The user executing the script can't publish to the channel mentioned in the command";
    default: return "The user executing the script is lacking the permissions for the command";
    }
}

void node_acl_requirepass_changed(void)
{
    acl_set_requirepass(acl, srv.cfg.requirepass);
}

int node_internal_auth(const char *argv[3])
{
    const char *user = srv.cfg.masteruser, *pass = srv.cfg.masterauth;
    argv[0] = "AUTH";
    if (pass && *pass) {
        /* Redis sends masteruser only together with masterauth. */
        if (user && *user) {
            argv[1] = user;
            argv[2] = pass;
            return 3;
        }
        argv[1] = pass;
        return 2;
    }
    if (srv.cfg.requirepass && *srv.cfg.requirepass) {
        argv[1] = srv.cfg.requirepass;
        return 2;
    }
    return 0;
}

static void acl_command_proc(client *c)
{
    if (c->argc >= 2 && subcmd_check(&c->out, "acl", c->argv[1], c->argvlen[1], c->argc) < 0) return;
    acl_command(acl, c->user, c->resp, c->argc, c->argv, c->argvlen, &c->out);
}

static void node_acl_init(void)
{
    if (!acl) {
        acl = acl_create();
        acl->user_gone = user_gone;
        if (srv.cfg.requirepass && *srv.cfg.requirepass) acl_set_requirepass(acl, srv.cfg.requirepass);
        if (srv.cfg.aclfile && *srv.cfg.aclfile) {
            acl->aclfile = xstrdup(srv.cfg.aclfile);
            if (srv.cfg.requirepass && *srv.cfg.requirepass) {
                log_error("requirepass and aclfile cannot be used together: set the default user's "
                          "password in the ACL file");
                exit(1);
            }
            buf err;
            buf_init(&err);
            if (acl_load_file(acl, srv.cfg.aclfile, &err) < 0) {
                log_error("Error loading the ACL file %s: %.*s", srv.cfg.aclfile, (int)err.len, err.data);
                exit(1);
            }
            buf_free(&err);
        }
    }
}

int node_acl_default_open(void)
{
    node_acl_init();
    return acl_default_open(acl);
}

void t_acl_register(void)
{
    node_acl_init();
    server_register(CMD_ACL, acl_command_proc);
    server_add_dispatch_hook(acl_filter);
}
