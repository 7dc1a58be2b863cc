/* cmdstats: per-command counters and latency histograms, and error
 * counts by error code, as Redis 7.0 keeps them for INFO commandstats,
 * errorstats and latencystats and for LATENCY HISTOGRAM.
 *
 * A command's statistics are keyed by its full name: the command, or
 * "container|sub" for a subcommand (Redis 7.0 counts CLIENT LIST as
 * client|list).  Counted by the dispatcher (server.c):
 *   calls, usec      every execution of the handler
 *   rejected_calls   refused before the handler ran (arity, NOAUTH, READONLY, ...)
 *   failed_calls     the handler replied an error
 * Durations go into a histogram with the bucket layout of the HDR
 * histogram Redis uses (1 ns .. 1 s, two significant digits), so the
 * percentiles print the same values Redis prints for the same samples. */
#ifndef STRATA_CMDSTATS_H
#define STRATA_CMDSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cmdtable.h"
#include "subcmd.h"

struct cmdstat;

/* The statistics of cmd (sub may be NULL), created on first use.  Never
 * freed before exit; the pointer stays valid. */
struct cmdstat *cmdstats_get(const struct cmd_spec *cmd, const struct subcmd *sub);
/* The subcommand argv[1] names when cmd is a container with subcommands
 * and argc >= 2, else NULL. */
const struct subcmd *cmdstats_subcmd(const struct cmd_spec *cmd, int argc, const char *arg1, size_t arg1len);

void cmdstats_call(struct cmdstat *s, uint64_t usec);
void cmdstats_rejected(struct cmdstat *s);
void cmdstats_failed(struct cmdstat *s);
/* An error reply went out: reply[0..len) starts with '-'.  Counted by
 * its code (the first word, as Redis's errorstats). */
void cmdstats_error(const char *reply, size_t len);
unsigned long long cmdstats_total_errors(void);

/* INFO sections, headers included. */
void cmdstats_info_commands(buf *o);
void cmdstats_info_errors(buf *o);
void cmdstats_info_latency(buf *o);
/* CONFIG RESETSTAT: every counter, histogram and error count. */
void cmdstats_reset(void);

/* LATENCY HISTOGRAM [name ...]: the map Redis replies. */
void cmdstats_reply_histograms(buf *out, int proto, int argc, char **argv, size_t *argvlen);

#endif
