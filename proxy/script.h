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

#endif
