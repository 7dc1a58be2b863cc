/* local: commands strata-proxy answers itself — PING, ECHO, QUIT,
 * SELECT 0, AUTH, HELLO 2, INFO, COMMAND, CLIENT (name/id), TIME — and the
 * error texts the router shares (unknown command, unsupported command). */
#ifndef STRATA_PROXY_LOCAL_H
#define STRATA_PROXY_LOCAL_H

#include <stddef.h>

#include "buf.h"
#include "cmdtable.h"

struct client;

/* Append the reply of an RT_LOCAL command to out.  Returns 1 when the
 * reply is an error, else 0.  May set c->closing (QUIT) or c->authed. */
int local_exec(struct client *c, const struct cmd_spec *spec, int argc, char **argv,
               const size_t *lens, buf *out);
/* The client's CLIENT LIST line (with its newline). */
void local_client_line(buf *b, const struct client *c);
/* Redis 7.0's "ERR unknown command 'x', with args beginning with: 'a' ". */
void local_unknown_command(buf *out, int argc, char **argv, const size_t *lens);
/* UNSUBSCRIBE / PUNSUBSCRIBE outside pub/sub mode: one reply per
 * argument (or one with a nil channel), each with count 0, as Redis does. */
void local_unsubscribe(buf *out, const char *kind, int argc, char **argv, const size_t *lens);

#endif
