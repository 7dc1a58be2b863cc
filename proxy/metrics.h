/* metrics: the Prometheus /metrics endpoint (libevent's evhttp), served
 * from the main thread's event loop so it never delays a worker. */
#ifndef STRATA_PROXY_METRICS_H
#define STRATA_PROXY_METRICS_H

#include "buf.h"

struct event_base;

/* Listen on addr ("host:port").  Returns 0 or -1 with a message in errs. */
int metrics_start(struct event_base *base, const char *addr, buf *errs);
void metrics_stop(void);

#endif
