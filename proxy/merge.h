/* merge: building the requests of a split command and merging the replies
 * of its fragments back into the one reply the client expects.
 *
 * Pure functions over byte buffers (no sockets, no event loop), so they
 * are unit tested on their own (tests/unit/test_proxy_merge.c).  Replies
 * are raw RESP2 or RESP3 as the backends sent them (each fragment over a
 * link in the client's protocol); their elements are copied as they came.
 * `proto` is the client's protocol, for what the proxy writes itself.
 *
 * Error rule for every merge: if any fragment's reply is an error, the
 * client gets the first such error (in fragment order), as it would from
 * a single server that stopped at the first failure. */
#ifndef STRATA_PROXY_MERGE_H
#define STRATA_PROXY_MERGE_H

#include <stddef.h>

#include "buf.h"

/* Append "*argc\r\n" then each argument as a bulk string. */
void merge_add_cmd(buf *out, int argc, char *const *argv, const size_t *lens);
void merge_add_header(buf *out, int argc);
void merge_add_arg(buf *out, const char *p, size_t len);

/* MGET: fragment j answered the keys k with keyfrag[k] == j, in order.
 * Appends an array of nkeys elements in the client's key order. */
void merge_mget(buf *out, int proto, const buf *replies, int nfrags, const int *keyfrag, int nkeys);
/* Integer replies summed (DEL, UNLINK, EXISTS, TOUCH, DBSIZE). */
void merge_sum(buf *out, const buf *replies, int nfrags);
/* INFO: the proxy's text plus the summed keyspaces, as a bulk (RESP2) or
 * a verbatim string (RESP3). */
void merge_info(buf *out, int proto, const char *text, size_t textlen, const buf *replies, int nfrags);
/* +OK when every fragment said +OK (MSET, FLUSHALL). */
void merge_all_ok(buf *out, const buf *replies, int nfrags);
/* Arrays (or sets) concatenated into one array (KEYS). */
void merge_concat(buf *out, const buf *replies, int nfrags);
/* One non-nil bulk chosen at random, or nil (RANDOMKEY). `rnd` is a
 * random number supplied by the caller. */
void merge_random(buf *out, int proto, const buf *replies, int nfrags, unsigned rnd);

/* SCAN over groups: the client's cursor C stands for the backend cursor
 * C / ngroups on group C % ngroups.  Decode returns 0 or -1 (not a valid
 * cursor, or not representable). */
int merge_scan_decode(const char *s, size_t len, int ngroups, int *group,
                      unsigned long long *cursor);
/* Rewrite the reply of group `group` with the proxy's next cursor: the
 * same group when its cursor is not 0, else the next group, else 0. */
void merge_scan(buf *out, const buf *reply, int group, int ngroups);

/* SCRIPT LOAD: the reply every fragment agrees on (the sha), else the
 * first error, else an error saying the groups disagree. */
void merge_same(buf *out, const buf *replies, int nfrags);
/* FUNCTION LOAD/DELETE/FLUSH/RESTORE: the reply when all fragments' bytes
 * are identical (an error all groups gave is passed on), returning 0.
 * Else "-ERR strata-proxy: <what> diverged across groups: <name> replied
 * '<text>', ..." and -1, with the same list (NUL-terminated) in
 * `diverged` for the log.  names[j] names fragment j's group. */
int merge_identical(buf *out, const buf *replies, int nfrags, const char *what,
                    const char *const *names, char *diverged, size_t dsize);
/* SCRIPT EXISTS: per position, 1 only where every fragment says 1. */
void merge_exists_and(buf *out, const buf *replies, int nfrags);
/* SCRIPT KILL / FUNCTION KILL: +OK if any fragment says +OK, else its
 * first -UNKILLABLE, else the first -NOTBUSY, else the first error. */
void merge_kill(buf *out, const buf *replies, int nfrags);

/* Fill `out` (NUL-terminated) with the first element of an array reply
 * if it is a bulk string, else "".  For ROLE checks. */
void merge_first_string(const char *raw, size_t len, char *out, size_t outsize);

#endif
