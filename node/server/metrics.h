/* metrics: strata-node's Prometheus endpoint.  With `metrics_listen`
 * set, an evhttp server on the node's own event loop answers GET /metrics
 * with the figures INFO reports, in the text exposition format 0.0.4
 * (names strata_node_*, counters ending in _total, as the proxy's
 * strata_proxy_*), and 404 for any other path.  metrics_register (declared
 * in server.h with the other modules) starts it.
 *
 * A scrape runs between two commands on the loop, like INFO: it reads the
 * same counters, never the data. */
#ifndef STRATA_NODE_METRICS_H
#define STRATA_NODE_METRICS_H

#include "buf.h"

/* Append the current exposition text to out (the caller owns out). */
void metrics_render(buf *out);

#endif
