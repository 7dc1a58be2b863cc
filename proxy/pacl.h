/* pacl: ACL users at strata-proxy, the front door (common/acl.c does the
 * rules).  One registry for every worker thread, behind one mutex: AUTH,
 * HELLO AUTH, the check of every command before it is queued or
 * forwarded, ACL LOG of refusals, and the ACL command.
 *
 * Users come from the proxy's `aclfile` (proxy: section, or --aclfile),
 * read at start and by ACL LOAD; without one, the default user's password
 * is the topology's `password:`, as requirepass on a node.
 *
 * A client keeps its user's name and a tag (u->prog) given when it
 * authenticated.  DELUSER and ACL LOAD free users (any thread); a client
 * whose user is gone is closed at its next command (pacl_check), so no
 * worker touches a freed user. */
#ifndef STRATA_PROXY_PACL_H
#define STRATA_PROXY_PACL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct client;

/* Create the registry (before the workers start).  aclfile may be NULL or
 * "".  Returns 0, or -1 with a message in errs. */
int pacl_init(const char *aclfile, const char *password, buf *errs);
void pacl_shutdown(void);
/* The topology's password after a reload (SIGHUP): without an aclfile it
 * becomes the default user's, as CONFIG SET requirepass (clients already
 * authenticated stay so). */
void pacl_set_password(const char *password);

/* Is the default user on with nopass (protmode.h)? */
int pacl_default_open(void);

/* A new client: the default user; authed when that user needs no
 * password. */
void pacl_client_init(struct client *c);
void pacl_client_free(struct client *c);

/* AUTH [user] pass / HELLO AUTH.  user NULL: the one-argument form.
 * Returns 0 (c->authed set), or 1 after writing the error to out. */
int pacl_auth(struct client *c, const char *cmdname, size_t cnlen, const char *user, size_t ulen,
              const char *pass, size_t plen, buf *out);

/* May c run this line?  0: yes.  1: refused (NOPERM written to out, ACL
 * LOG entry added).  -1: the client's user was deleted: close it. */
int pacl_check(struct client *c, int argc, char **argv, const size_t *lens, buf *out);

/* The same at EXEC for a queued command (the rules may have changed
 * since): 0 allowed; 1 refused, Redis's EXEC-time NOPERM text (without
 * '-') appended to text, ACL LOG entry added; -1 the user was deleted. */
int pacl_exec_check(struct client *c, int argc, char **argv, const size_t *lens, buf *text);

/* Is c's user the default one with every right and no password (no
 * check needed)? */
int pacl_open(const struct client *c);

/* ACL ... (argv[0] is "acl"). */
void pacl_command(struct client *c, int argc, char **argv, const size_t *lens, buf *out);

#endif
