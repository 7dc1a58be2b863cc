/* promhttp: a Prometheus text-format endpoint on a libevent loop, shared by
 * strata-node and strata-proxy.  GET (or HEAD) /metrics answers what the
 * program's render function appends (text format 0.0.4); every other path
 * is a 404 naming the program.  One endpoint per process. */
#ifndef STRATA_PROMHTTP_H
#define STRATA_PROMHTTP_H

#include "buf.h"

struct event_base;

/* Appends the whole exposition to out. */
typedef void promhttp_render_fn(buf *out);

/* Listen on addr ("host:port") with base.  Returns 0, or -1 with one line
 * in errs saying why (bad address, or the bind error). */
int promhttp_start(struct event_base *base, const char *addr, const char *program,
                   promhttp_render_fn *render, buf *errs);
/* Stop listening and free the server (safe when not started). */
void promhttp_stop(void);

/* Resident set size of this process in bytes (from /proc/self/statm), or 0. */
long long proc_rss_bytes(void);

#endif
