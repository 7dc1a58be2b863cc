/* protmode: protected mode, as Strata programs apply it when they start.
 *
 * Redis 7.0's protected mode refuses clients from other interfaces while
 * the default user needs no password.  A Strata program checks the same
 * thing once, at start, from its configuration: listening on an address
 * that is not loopback while anyone may connect without a password is a
 * configuration error, unless the operator says so with `protected-mode
 * no` (YAML protected_mode: no, flag --protected-mode no).  Every listener
 * that runs commands counts (the RESP port, the HTTP API); /metrics does
 * not (it only reads counters). */
#ifndef STRATA_PROTMODE_H
#define STRATA_PROTMODE_H

#include "buf.h"

/* Is host a loopback address: 127.0.0.0/8, ::1, ::ffff:127.x.y.z, or a
 * name whose every address is one ("localhost")?  "", "0.0.0.0", "::" and
 * "*" (every interface) are not.  1 or 0. */
int protmode_is_loopback(const char *host);

/* May a program start listening on host (named by `setting` in the
 * message) when `open` (clients may run commands without a password)?
 * Returns 0, or -1 with a one-line message in errs naming the program,
 * the address and `fix` (how to give this program a password). */
int protmode_check(const char *program, const char *setting, const char *host, int open, int protected_mode,
                   const char *fix, buf *errs);

#endif
