/* modules: registration of the node's feature modules (data types beyond
 * strings, transactions, blocking, replication).  One line per module, so
 * adding a module touches one line here and nothing in the server core. */
#include "server.h"

#include "eval.h"
#include "latency.h"
#include "monitor.h"
#include "slots.h"
#include "slowlog.h"

void server_register_modules(void)
{
    t_hash_register();
    t_set_register();
    t_zset_register();
    t_hll_register();
    t_geo_register();
    repl_register();
    multi_register();
    t_copy_register();
    t_sort_register();
    t_dump_register();
    t_list_register();
    pubsub_register();
    pause_register();
    metrics_register();
    http_register();
    notify_register();
    tracking_register();
    slowlog_register();
    latency_register();
    monitor_register();
    t_memory_register();
    cluster_register();
    t_stream_register();
    eval_register();
}
