/* script_lua: the Lua side of scripting shared by EVAL (eval.c) and
 * functions (function.c): the sandboxed environment, the redis.* API, the
 * conversions between Redis replies and Lua values both ways, the error
 * texts, and the run of one script with its busy-script handling.
 *
 * One run at a time (scripts never nest: EVAL and FCALL are refused
 * inside scripts), described by `script_cur` while it lasts. */
#ifndef STRATA_SCRIPT_LUA_H
#define STRATA_SCRIPT_LUA_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* Shebang flags (Redis 7.0's script flags). */
#define SF_NO_WRITES    (1 << 0)
#define SF_ALLOW_OOM    (1 << 1)
#define SF_ALLOW_STALE  (1 << 2)
#define SF_NO_CLUSTER   (1 << 3)
#define SF_CROSS_SLOT   (1 << 4)
#define SF_COMPAT       (1 << 5)   /* EVAL without a shebang */

/* The Lua heap cap of one lua_State, in bytes: see script_lua.c. */
#define SCRIPT_HEAP_CAP (256u << 20)

struct script_run {
    client *caller;
    const char *name;      /* sha or function name, for error texts */
    int is_function;
    int ro;                /* refuse writes (a *_RO command, no-writes) */
    int wrote;             /* a write command ran: SCRIPT KILL refused */
    int killed;            /* 1: SCRIPT/FUNCTION KILL; 2: SHUTDOWN NOSAVE */
    int busy;              /* past busy-reply-threshold */
    int resp;              /* redis.setresp() */
    uint64_t start_ms;
    int in_load;           /* FUNCTION LOAD's registration run */
    int flags;             /* SF_* of the script or function */
    int key_slot;          /* slot of the keys used so far (the declared
                            * ones first), -1 none: node/cluster's check */
};

extern struct script_run *script_cur;

/* A new sandboxed state (functions: 1 for the FUNCTION engine's).  Aborts
 * if Lua cannot even start.  Free with script_lua_close. */
lua_State *script_lua_new(int functions);
void script_lua_close(lua_State *L);
/* Bytes the state's heap holds now (its allocator's count). */
size_t script_lua_heap_used(lua_State *L);
/* Entries 1..n of the table on top: the strings argv[0..n) (KEYS, ARGV). */
void script_lua_fill_array(lua_State *L, char **argv, const size_t *lens, int n);
/* __index of the globals: raises Redis's "Script attempted to access
 * nonexistent global variable" for the name read. */
int script_lua_global_missing(lua_State *L);
/* Push the error handler every pcall of a script uses. */
void script_lua_push_errh(lua_State *L);

/* Parse a "#!lua flags=..." first line.  *skip gets the bytes to leave out
 * before compiling (the line without its newline), *flags the flags
 * (SF_COMPAT when there is no shebang).  For functions, name= is accepted
 * and copied to libname (size libsize).  Returns 0, or -1 with the error
 * text (without "ERR ") in err. */
int script_shebang(const char *body, size_t len, int functions, int *flags, size_t *skip,
                   char *libname, size_t libsize, char *err, size_t errlen);

/* Run the function at the top of the stack, below it nothing of ours,
 * with `nargs` arguments pushed after it, and write the reply (or the
 * error, with its " script: ..." suffix) to r->caller's output.  The
 * stack is left as it was before the function was pushed. */
void script_lua_run(lua_State *L, struct script_run *r, int nargs);

/* Busy-script control for the dispatcher filter (eval.c). */
int script_is_busy(void);

/* Replace \r and \n by spaces (Redis does it to error and status texts). */
void script_sanitize(char *s, size_t len);

/* Push the readonly proxy of the globals (the env every script runs in). */
void script_lua_push_env(lua_State *L);

#endif
