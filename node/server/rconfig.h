/* rconfig: Redis 7.0 parameters that CONFIG SET/GET accept for the sake of
 * clients and tools, next to strata-node's own settings (config.c).
 *
 * Each parameter is checked the way Redis 7.0 checks it (yes/no booleans,
 * integers within Redis's bounds, memory values with units, enums, the
 * special formats of `save` and `latency-tracking-info-percentiles`), is
 * kept in its canonical text form and is what CONFIG GET returns.  Most of
 * them change nothing in Strata (see the list at the top of rconfig.c);
 * the few that do are read through rconf_num() by slowlog.c, latency.c and
 * OBJECT ENCODING.
 *
 * Names compare case-insensitively.  A parameter may have one alias
 * (Redis's older name); both names show in CONFIG GET globs, as in Redis. */
#ifndef STRATA_RCONFIG_H
#define STRATA_RCONFIG_H

#include "buf.h"

struct rconf_param;

/* The parameter called `name` (or by its alias), or NULL. */
const struct rconf_param *rconf_find(const char *name, size_t len);
/* Its primary (Redis) name. */
const char *rconf_name(const struct rconf_param *p);
/* The name `name` stands for: p's alias when it is the alias, else p's
 * primary name.  Redis 7.0 treats the two names as two parameters that
 * share a value: errors name the one used, and setting both in one
 * CONFIG SET is not a duplicate. */
const char *rconf_name_used(const struct rconf_param *p, const char *name, size_t len);
int rconf_immutable(const struct rconf_param *p);
/* Refused by CONFIG SET as Redis refuses its protected parameters. */
int rconf_protected(const struct rconf_param *p);
/* Check `value` as Redis would.  On success returns 0 and, if canon is
 * not NULL, appends the canonical text to *canon; on failure returns -1
 * and *err points at Redis's message (static, or valid until the next
 * call).  Nothing is changed. */
int rconf_check(const struct rconf_param *p, const char *value, size_t len, buf *canon, const char **err);
/* Make the canonical text (from rconf_check) the current value. */
void rconf_apply(const struct rconf_param *p, const char *canon, size_t len);
/* Append the current value as CONFIG GET shows it. */
void rconf_get(const struct rconf_param *p, buf *out);

/* Iteration for CONFIG GET globs: every name (primary names and aliases)
 * in turn; i from 0 until NULL.  *param gets the parameter named. */
const char *rconf_nth_name(int i, const struct rconf_param **param);

/* The current value of a numeric or boolean parameter (1/0 for yes/no,
 * the enum index, bytes for memory values); 0 for other types. */
long long rconf_num(const char *name);
/* The same for a parameter found once with rconf_find (fast: no lookup). */
long long rconf_pnum(const struct rconf_param *p);
/* latency-tracking-info-percentiles: fills up to max values, returns how
 * many are set. */
int rconf_percentiles(double *out, int max);

#endif
