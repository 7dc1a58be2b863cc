/* http: strata-proxy's HTTP API (common/httpapi.h), served from the main
 * thread's event loop.  Its links are loopback connections to the proxy's
 * own client listener, so an HTTP request is routed by a worker exactly
 * as a RESP client's: slots, split multi-key commands, CROSSSLOT,
 * failover waits. */
#ifndef STRATA_PROXY_HTTP_H
#define STRATA_PROXY_HTTP_H

#include "buf.h"

struct event_base;

/* Listen on proxy.http_listen.  Returns 0 or -1 with a message in errs.
 * Call after the workers' listeners exist. */
int http_start(struct event_base *base, buf *errs);
void http_stop(void);

#endif
