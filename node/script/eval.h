/* eval: EVAL/EVALSHA(_RO) and SCRIPT (eval.c), FUNCTION and FCALL
 * (function.c), and what the two share. */
#ifndef STRATA_EVAL_H
#define STRATA_EVAL_H

#include <lua.h>

#include "server.h"

struct script_run;

/* Registers EVAL*, SCRIPT, FUNCTION, FCALL* and the busy-script filter. */
void eval_register(void);
void function_register(void);

/* numkeys at argv[2] (errors: `notint`, too many, negative): 0, or -1
 * with the error written to c. */
int script_numkeys(client *c, long long *n, const char *notint);
/* Redis's checks before a run with these shebang flags: 0 or -1. */
int script_prepare(client *c, int flags, int ro_cmd);
/* Run the function on top of L's stack with nargs arguments after it
 * for c, with the script's frozen time; its writes are kept on error. */
void script_execute(client *c, lua_State *L, struct script_run *r, int nargs);
void script_add_help(client *c, const char **lines);
/* SCRIPT KILL (function 0) / FUNCTION KILL (1). */
void script_kill(client *c, int function);

/* function.c: a replica applied operations (store.h's op-log format);
 * libraries under the 'F' prefix are reloaded if any changed. */
void function_ops_applied(const char *ops, size_t len);
/* The whole dataset was replaced (full sync): reload every library. */
void function_reload(void);

/* INFO memory's Lua figures (Redis 7.0's used_memory_vm_eval,
 * number_of_cached_scripts, used_memory_scripts_eval, number_of_functions,
 * number_of_libraries, used_memory_vm_functions, used_memory_functions). */
void eval_info_memory(size_t *vm_bytes, size_t *nscripts, size_t *script_bytes);
void function_info_memory(size_t *vm_bytes, size_t *nfunctions, size_t *nlibraries, size_t *code_bytes);

#endif
