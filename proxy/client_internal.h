/* client_internal: what client.c shares with client_script.c (the routing
 * of EVAL*, FCALL*, SCRIPT and FUNCTION), which lives in its own file to
 * keep client.c a readable size.  Not for other modules. */
#ifndef STRATA_PROXY_CLIENT_INTERNAL_H
#define STRATA_PROXY_CLIENT_INTERNAL_H

#include <stddef.h>

#include "cmdtable.h"
#include "msg.h"

struct client;
struct backend;

extern const char client_err_crossslot[];

/* Requests kept for a -MOVED hop or a NOSCRIPT retry (bytes). */
#define CLIENT_FWD_KEEP_MAX (64 * 1024)

/* A new msg of `kind` at the tail of c's queue (owned by the queue). */
struct msg *client_msg_new(struct client *c, const struct cmd_spec *spec, enum msg_kind kind);
/* Send fragment idx of m to backend b (of group g), with the client's
 * CLIENT CACHING prefix when one applies. */
void client_send(struct client *c, struct msg *m, int idx, int g, struct backend *b,
                 const char *req, size_t len);
/* The same, where the first `skip` replies of req are dropped (a set-up
 * command sent in front of the request); no CLIENT CACHING prefix. */
void client_send_skip(struct client *c, struct msg *m, int idx, int g, struct backend *b,
                      const char *req, size_t len, int skip);
/* The link a request of c for group g goes over (shared, or tracking). */
struct backend *client_link_for(struct client *c, int g, int is_read);
/* req to every group as the fragments of a new msg of `kind` (fragment j
 * goes to group j). */
struct msg *client_to_all(struct client *c, const struct cmd_spec *spec, enum msg_kind kind,
                          const char *req, size_t len);
void client_reply_error(struct client *c, int cmd, const char *err);

/* client_script.c */

/* Group of an EVAL* and FCALL* line: >= 0, -1 when its keys are in different
 * slots, -2 when it declares none (or numkeys is not valid: the node
 * answers that). */
int client_eval_group(struct client *c, int argc, char **argv, const size_t *lens);
/* EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO (RT_EVAL). */
void client_eval(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                 const size_t *lens, const char *req, size_t len);
/* SCRIPT and FUNCTION (RT_SCRIPT). */
void client_script(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
                   const size_t *lens, const char *req, size_t len);
/* A MSG_EVAL fragment of group gidx answered the error raw: if it is a
 * NOSCRIPT the proxy can heal, the script is loaded there and the request
 * sent again (returns 1: m is still pending); else 0. */
int client_eval_heal(struct client *c, struct msg *m, int gidx, const char *raw, size_t len);
/* EXEC of a MULTI with EVALSHAs (c->tx_shas) over link b: append to out
 * a SCRIPT LOAD for each of their scripts the proxy knows and b's server
 * may lack; returns how many (their replies are to be skipped). */
int client_script_preload(struct client *c, struct backend *b, buf *out);
/* Merge the replies of a finished MSG_IDENTICAL into out (logs a
 * divergence). */
void client_merge_identical(struct client *c, struct msg *m, buf *out);

#endif
