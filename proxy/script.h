/* script: the proxy's sha -> body cache of Lua scripts, which heals
 * NOSCRIPT.
 *
 * SCRIPT LOAD carries no key, so a routing proxy cannot know which group
 * will later run EVALSHA; Strata broadcasts it (client_script.c), but a
 * group that was down at the time, or a replica promoted since (the
 * script cache of Redis 7.0 is not replicated), still lacks the script.
 * Every body seen in SCRIPT LOAD or EVAL/EVAL_RO is remembered here under
 * its sha; when a group answers an EVALSHA with NOSCRIPT for a sha known
 * here, the proxy sends that group SCRIPT LOAD <body> and the EVALSHA
 * again, once, on the same link, and the client sees only the second
 * reply.  SCRIPT FLUSH through the proxy empties the cache, so a flushed
 * script stays gone (NOSCRIPT) as on Redis.
 *
 * One cache for the whole process (workers share it under a mutex),
 * bounded to SCRIPT_CACHE_MAX scripts and SCRIPT_CACHE_BYTES of bodies;
 * the oldest entries are dropped first. */
#ifndef STRATA_PROXY_SCRIPT_H
#define STRATA_PROXY_SCRIPT_H

#include <stddef.h>

#include "buf.h"

#define SCRIPT_CACHE_MAX 4096
#define SCRIPT_CACHE_BYTES (64u << 20)

/* The lower-case hex sha of a body (41 bytes with the NUL). */
void script_sha(const char *body, size_t len, char sha[41]);
/* Remember a body (copied) under its sha; writes the sha to `sha` when
 * not NULL.  A body larger than the byte bound is not kept. */
void script_cache_put(const char *body, size_t len, char sha[41]);
/* Append the body of `sha` (40 hex digits, any case) to out: 1, or 0 when
 * not known. */
int script_cache_get(const char *sha, size_t shalen, buf *out);
/* Forget every script (SCRIPT FLUSH). */
void script_cache_clear(void);
/* Scripts cached now (tests, INFO). */
size_t script_cache_count(void);
/* Free the cache (at exit). */
void script_cache_free(void);

/* The shas one backend connection's server is known to have (loaded over
 * that connection, or run there as EVAL).  Before an EVALSHA whose sha
 * is cached but not known to its link, the proxy sends SCRIPT LOAD in
 * front of it, so a restarted or newly promoted group never answers
 * NOSCRIPT and the EVALSHA keeps its place among the commands pipelined
 * after it.  The set is emptied when the link reconnects (another server
 * process, or the same one restarted) and forgets everything after a
 * SCRIPT FLUSH through the proxy.  A flush made straight on a node is
 * not seen: the NOSCRIPT retry covers it.  Bounded: past
 * SCRIPT_SET_MAX shas it starts again empty. */
#define SCRIPT_SET_MAX 4096
struct script_set;
/* 1 if the set (may be NULL) holds sha (40 lower-case hex digits). */
int script_set_has(const struct script_set *s, const char *sha);
/* Add sha to *s (created on first use; the caller owns it). */
void script_set_add(struct script_set **s, const char *sha);
void script_set_clear(struct script_set *s);
void script_set_free(struct script_set *s);

/* Function libraries, the FCALL counterpart of the sha cache.  A library
 * is replicated data within its group (node/script/function.c), but a
 * group that was down when FUNCTION LOAD was broadcast never got it, and
 * Redis has no way to fetch a library from elsewhere.  So the proxy keeps
 * the code of every library a FUNCTION LOAD through it loaded on every
 * group (by name, the latest wins); when a group answers an FCALL or
 * FCALL_RO with "Function not found", the proxy sends that group FUNCTION
 * LOAD of every kept library (without REPLACE: libraries the group has
 * stay as they are, and their "already exists" replies are dropped) and
 * the FCALL again, once.  FUNCTION DELETE and FUNCTION FLUSH through the
 * proxy forget libraries, as does FUNCTION RESTORE with FLUSH (the
 * restored libraries themselves are not kept: their code is inside an
 * RDB payload).  A change made straight on a node is not seen.  Bounded
 * to SCRIPT_LIB_MAX libraries and SCRIPT_CACHE_BYTES of code. */
#define SCRIPT_LIB_MAX 256
/* The library name of a FUNCTION LOAD body: its first line is
 * "#!<engine> name=<name> ...".  Returns the name's length (*name points
 * into body), or 0 when the body declares none. */
size_t script_lib_name(const char *body, size_t len, const char **name);
/* Keep body (copied) as the code of its library. */
void script_lib_put(const char *body, size_t len);
/* Forget library `name` (FUNCTION DELETE), or every library. */
void script_lib_del(const char *name, size_t len);
void script_lib_clear(void);
/* Append "FUNCTION LOAD <code>" for every kept library to out; returns
 * how many commands were appended. */
int script_lib_load_all(buf *out);
size_t script_lib_count(void);

#endif
