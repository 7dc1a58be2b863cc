/* cmdreply: the COMMAND command — COMMAND, COUNT, LIST, INFO, DOCS,
 * GETKEYS, GETKEYSANDFLAGS, HELP — written once for strata-node and
 * strata-proxy, so both answer the same bytes.  The replies have Redis
 * 7.0's shapes in RESP2 and RESP3 (sets and maps where Redis writes them);
 * the data is cmdmeta's.
 *
 * Strata lists its commands in the order of commands.def, a container's
 * subcommands after it in name order; Redis lists them in its hash
 * table's order, which changes from one process to the next. */
#ifndef STRATA_CMDREPLY_H
#define STRATA_CMDREPLY_H

#include <stddef.h>

#include "buf.h"
#include "cmdmeta.h"

/* Append the reply of one COMMAND request (argv[0] is "COMMAND") to out
 * in protocol `proto` (RESP2 or RESP3).  Returns 1 when the reply is an
 * error, else 0.  argv need not be NUL-terminated. */
int cmdreply_command(buf *out, int proto, int argc, char **argv, const size_t *lens);

/* One command's or subcommand's COMMAND INFO entry (10 elements). */
void cmdreply_info(buf *out, int proto, const struct cmd_meta *m);
/* One COMMAND DOCS value (the map, without the name before it). */
void cmdreply_docs(buf *out, int proto, const struct cmd_meta *m);

#endif
