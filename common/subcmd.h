/* subcmd: Redis 7.0's subcommands of the container commands Strata has
 * (CLIENT, COMMAND, CONFIG, LATENCY, MEMORY, OBJECT, PUBSUB, SLOWLOG), with
 * their arities.  Shared by the node and the proxy.
 *
 * The shared command table (common/commands.def) flattens containers into
 * one entry each, which is all dispatch and routing need.  Some replies
 * however name the subcommand the way Redis's dispatcher does, as
 * "container|sub": the arity error of a subcommand and the refusal of a
 * command in subscribed mode ("ERR Can't execute 'client|info': ...").
 * This table answers those; it does not route anything. */
#ifndef STRATA_SUBCMD_H
#define STRATA_SUBCMD_H

#include <stddef.h>

#include "buf.h"

struct subcmd {
    const char *container;  /* lower case: "client" */
    const char *name;       /* lower case: "info" */
    int arity;              /* Redis convention, counting the container */
};

/* Every subcommand, grouped by container; *n gets the count.  Static. */
const struct subcmd *subcmd_all(size_t *n);

/* 1 if `name` (lower case) is a container command, else 0. */
int subcmd_is_container(const char *name);

/* The subcommand argv[1] of container `name`, case-insensitively, or NULL
 * when Redis does not know it.  The result is static. */
const struct subcmd *subcmd_lookup(const char *name, const char *sub, size_t sublen);

/* 1 if argc (container and subcommand included) fits s->arity, else 0. */
int subcmd_arity_ok(const struct subcmd *s, int argc);

/* Check argv[1] of container `name` as Redis's dispatcher does before
 * running it.  Returns 0 when the subcommand exists and argc fits; else -1
 * after appending Redis's error to `out`:
 *   "ERR unknown subcommand '<sub>'. Try <NAME> HELP."
 *   "ERR wrong number of arguments for '<name>|<sub>' command" */
int subcmd_check(buf *out, const char *name, const char *sub, size_t sublen, int argc);

#endif
