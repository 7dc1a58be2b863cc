/* pacl: ACL users at strata-proxy (see pacl.h). */
#include "pacl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "client.h"
#include "cmdmeta.h"
#include "local.h"
#include "resp.h"
#include "subcmd.h"
#include "util.h"

static struct acl *acl;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t next_tag;
/* 1 while the default user is "on nopass ~* &* +@all" and alone in its
 * selectors: its clients then skip the lock. */
static atomic_int open_default;
/* The topology password applied to the default user (no aclfile), owned */
static char *applied_password;

/* Under the lock. */
static uintptr_t tag_of(struct acl_user *u)
{
    if (!u->prog) u->prog = (void *)++next_tag;
    return (uintptr_t)u->prog;
}

static void recompute_open(void)
{
    struct acl_user *d = acl_default_user(acl);
    buf b;
    buf_init(&b);
    acl_describe_user(d, &b);
    buf_append_char(&b, '\0');
    int open = d->nsels == 1 && (d->flags & ACL_USER_ON) && (d->flags & ACL_USER_NOPASS) &&
               b.len >= 13 && !strcmp(b.data + b.len - 13, " ~* &* +@all");
    buf_free(&b);
    atomic_store(&open_default, open);
}

int pacl_init(const char *aclfile, const char *password, buf *errs)
{
    acl = acl_create();
    applied_password = xstrdup(password ? password : "");
    if (*applied_password) acl_set_requirepass(acl, applied_password);
    if (aclfile && *aclfile) {
        acl->aclfile = xstrdup(aclfile);
        buf err;
        buf_init(&err);
        if (acl_load_file(acl, aclfile, &err) < 0) {
            buf_printf(errs, "Error loading the ACL file %s: %.*s\n", aclfile, (int)err.len, err.data);
            buf_free(&err);
            return -1;
        }
        buf_free(&err);
    }
    tag_of(acl_default_user(acl));
    recompute_open();
    return 0;
}

void pacl_shutdown(void)
{
    if (acl) acl_destroy(acl);
    acl = NULL;
    free(applied_password);
    applied_password = NULL;
}

void pacl_set_password(const char *password)
{
    if (!password) password = "";
    pthread_mutex_lock(&lock);
    if (acl && !acl->aclfile && strcmp(password, applied_password) != 0) {
        free(applied_password);
        applied_password = xstrdup(password);
        acl_set_requirepass(acl, applied_password);
        recompute_open();
    }
    pthread_mutex_unlock(&lock);
}

int pacl_default_open(void)
{
    pthread_mutex_lock(&lock);
    int open = acl_default_open(acl);
    pthread_mutex_unlock(&lock);
    return open;
}

static int is_default(const struct client *c)
{
    return c->user && !strcmp(c->user, "default");
}

void pacl_client_init(struct client *c)
{
    c->user = xstrdup("default");
    pthread_mutex_lock(&lock);
    struct acl_user *d = acl_default_user(acl);
    c->user_tag = tag_of(d);
    c->authed = (d->flags & ACL_USER_ON) && (d->flags & ACL_USER_NOPASS);
    pthread_mutex_unlock(&lock);
}

void pacl_client_free(struct client *c)
{
    free(c->user);
    c->user = NULL;
}

/* The client's user, or NULL if it was deleted.  Under the lock. */
static struct acl_user *user_of(const struct client *c)
{
    struct acl_user *u = acl_user_get(acl, c->user, strlen(c->user));
    return u && (uintptr_t)u->prog == c->user_tag ? u : NULL;
}

static void cinfo(const struct client *c, buf *ci)
{
    local_client_line(ci, c);
    if (ci->len && ci->data[ci->len - 1] == '\n') ci->len--;
    buf_append_char(ci, '\0');
}

int pacl_auth(struct client *c, const char *cmdname, size_t cnlen, const char *user, size_t ulen,
              const char *pass, size_t plen, buf *out)
{
    pthread_mutex_lock(&lock);
    if (!user) {
        const struct acl_user *d = acl_default_user(acl);
        if ((d->flags & ACL_USER_NOPASS) && (d->flags & ACL_USER_ON)) {
            pthread_mutex_unlock(&lock);
            resp_add_error(out, "ERR AUTH <password> called without any password configured "
                                "for the default user. Are you sure your configuration is correct?");
            return 1;
        }
        user = "default";
        ulen = 7;
    }
    struct acl_user *u = acl_user_get(acl, user, ulen);
    if (!acl_auth(u, pass, plen)) {
        buf ci;
        buf_init(&ci);
        cinfo(c, &ci);
        acl_log_add(acl, ACL_DENIED_AUTH, c->tx ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL, cmdname, cnlen, user, ulen,
                    ci.data);
        buf_free(&ci);
        pthread_mutex_unlock(&lock);
        resp_add_error(out, acl_err_wrongpass);
        return 1;
    }
    free(c->user);
    c->user = xstrdup(u->name);
    c->user_tag = tag_of(u);
    pthread_mutex_unlock(&lock);
    c->authed = 1;
    return 0;
}

int pacl_open(const struct client *c)
{
    return is_default(c) && atomic_load(&open_default);
}

/* Check and log a refusal: ACL_OK or ACL_DENIED_*, -1 if the user is gone.
 * *mp gets the command's entry. */
static int check_logged(struct client *c, int argc, char **argv, const size_t *lens, const struct cmd_meta **mp)
{
    const struct cmd_meta *m = cmdmeta_lookup_argv(argc, argv, lens);
    *mp = m;
    if (!m) return ACL_OK;
    pthread_mutex_lock(&lock);
    struct acl_user *u = user_of(c);
    if (!u) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    int pos = 0;
    int r = acl_check(u, m, argc, argv, lens, &pos);
    if (r != ACL_OK) {
        buf ci;
        buf_init(&ci);
        cinfo(c, &ci);
        const char *obj = m->fullname;
        size_t olen = strlen(obj);
        if (r == ACL_DENIED_KEY || r == ACL_DENIED_CHANNEL) {
            obj = argv[pos];
            olen = lens[pos];
        }
        acl_log_add(acl, r, c->tx ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL, obj, olen, u->name, strlen(u->name),
                    ci.data);
        buf_free(&ci);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

int pacl_check(struct client *c, int argc, char **argv, const size_t *lens, buf *out)
{
    if (pacl_open(c)) return 0;
    const struct cmd_meta *m;
    int r = check_logged(c, argc, argv, lens, &m);
    if (r < 0) return -1;
    if (r == ACL_OK) return 0;
    acl_add_noperm(out, r, m);
    return 1;
}

int pacl_exec_check(struct client *c, int argc, char **argv, const size_t *lens, buf *text)
{
    if (pacl_open(c)) return 0;
    const struct cmd_meta *m;
    int r = check_logged(c, argc, argv, lens, &m);
    if (r < 0) return -1;
    if (r == ACL_OK) return 0;
    /* Redis 7.0's execCommand text */
    buf_printf(text,
               "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
               "This command is no longer allowed for the following reason: %s",
               r == ACL_DENIED_CMD     ? "no permission to execute the command or subcommand"
               : r == ACL_DENIED_KEY   ? "no permission to touch the specified keys"
               : r == ACL_DENIED_CHANNEL ? "no permission to access one of the channels used as arguments"
                                       : "no permission");
    return 1;
}

void pacl_command(struct client *c, int argc, char **argv, const size_t *lens, buf *out)
{
    if (argc >= 2 && subcmd_check(out, "acl", argv[1], lens[1], argc) < 0) return;
    pthread_mutex_lock(&lock);
    struct acl_user *u = user_of(c);
    if (u) acl_command(acl, u, c->proto, argc, argv, lens, out);
    else resp_add_error(out, "ERR the client's user was deleted");
    recompute_open();
    pthread_mutex_unlock(&lock);
}
