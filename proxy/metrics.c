/* metrics: see metrics.h. */
#include "metrics.h"

#include "promhttp.h"
#include "stats.h"

int metrics_start(struct event_base *base, const char *addr, buf *errs)
{
    return promhttp_start(base, addr, "strata-proxy", stats_prometheus, errs);
}

void metrics_stop(void)
{
    promhttp_stop();
}
