/* cmd: small helpers shared by the command modules (t_*.c): argument
 * parsing that replies Redis's error on failure, and typed key lookup.
 *
 * Convention: a helper that returns -1 has already written the error
 * reply; the handler just returns. */
#ifndef STRATA_CMD_H
#define STRATA_CMD_H

#include "db.h"
#include "server.h"

#define ARG(c, i) ((c)->argv[i]), ((c)->argvlen[i])
#define ARG_IS(c, i, lit) str_eq_nocase((c)->argv[i], (c)->argvlen[i], (lit))

/* Integer argument; -1 after replying "value is not an integer or out of range". */
int arg_ll(client *c, int i, long long *v);
/* Integer argument within [min, max]; out of range replies `range_err`
 * (a full error text) or the not-an-integer error when NULL. */
int arg_ll_range(client *c, int i, long long min, long long max, long long *v,
                 const char *range_err);
/* Double argument (scores): -1 after replying "value is not a valid float". */
int arg_double(client *c, int i, double *v);

/* Look up argv[i] expecting `type`.  Returns 1 (live, of that type),
 * 0 (absent or expired; m describes what is left for cleanup), or -1
 * after replying WRONGTYPE or a storage error. */
int lookup_typed(client *c, int i, struct meta *m, int type);
/* Same for any key (no type check). */
int lookup_any(client *c, int i, struct meta *m);

/* The positions of the keys in c's command line (from the command
 * table): written into `small` when they fit its `nsmall` slots, else into
 * a malloc'd array.  Returns the number of keys and sets *pos; the caller
 * frees *pos when it is not `small`. */
int cmd_key_positions(const client *c, int *small, int nsmall, int **pos);

/* Reply a storage failure (details are in the log). */
void reply_storage_error(client *c);

#endif
