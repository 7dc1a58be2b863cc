"""The whole cluster: two groups of strata-node (min_replica_acks: 1; g1
has two replicas, so its new master still has one to ack its writes; with
a single replica and replica_ack_fallback: error a promoted master refuses
writes until a replica is back), three strata-sentinels and strata-proxy.  A master
is SIGKILLed under write load through the proxy; every acknowledged write
must be readable afterwards, and the write gap is measured and printed.
The old master is restarted and must come back as a replica of the new
one, identical to it."""
import signal
import time

from harness import free_port, wait_until
from proxy_util import keys_for_group
from test_repl_common import logical_dump, wait_synced
from test_sentinel_common import (Writer, addr, check_acked, role, start_group, start_sentinels,
                                  wait_master, write_topology)

RANGES = [(0, 8191), (8192, 16383)]


def test_master_sigkill_under_load_through_proxy(cluster):
    node_args = ["--min_replica_acks", "1", "--replica_ack_timeout_ms", "2000", "--fsync", "always"]
    g1 = start_group(cluster, "g1", nreplicas=2, node_args=node_args)
    g2 = start_group(cluster, "g2", node_args=node_args)
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports,
                          proxy={"timeout_ms": 2000, "switch_wait_ms": 8000,
                                 "sentinel_poll_ms": 200})
    sents = start_sentinels(cluster, topo, ports)
    proxy = cluster.proxy(topo)
    # One writer per group, so the gap of g1 is not hidden by g2's writes.
    w1 = Writer(proxy.client(socket_timeout=10), keys=keys_for_group(RANGES, 0, 5000, "a")).start()
    w2 = Writer(proxy.client(socket_timeout=10), keys=keys_for_group(RANGES, 1, 5000, "b")).start()
    try:
        w1.wait_acked(500)
        w2.wait_acked(500)
        g1[0].kill(signal.SIGKILL)  # returns once the process is gone
        t_kill = time.monotonic()
        wait_until(lambda: w1.first_ok_after(t_kill), 20, interval=0.01,
                   what="a write to g1 succeeds after the kill")
        w1.wait_acked(500)
    finally:
        w1.finish()
        w2.finish()
    first = w1.first_ok_after(t_kill)
    last_before = max([t for t in w1.ok_times if t <= t_kill], default=t_kill)
    print(f"\nwrite gap through the proxy: {1000 * (first - t_kill):.0f} ms after SIGKILL "
          f"({1000 * (first - last_before):.0f} ms since the last write before it); "
          f"{len(w1.acked)} g1 keys acknowledged, {w1.errors} errors; g2 errors {w2.errors}")
    new = next(p for p in g1[1:] if role(p) == "master")
    other = next(p for p in g1[1:] if p is not new)
    wait_master(sents, "g1", addr(new))
    r = proxy.client(socket_timeout=10)
    check_acked(r, w1)
    check_acked(r, w2)
    # g2 never noticed.
    assert w2.errors == 0
    # The old master returns and becomes a replica of the new one, identical.
    g1[0].start()
    for p in (g1[0], other):
        wait_until(lambda p=p: role(p) == "slave" and
                   p.client().info("replication")["master_port"] == new.port, 20,
                   what=f"{p.name} follows the new master")
        wait_synced(new, p)
        assert logical_dump(p.client()) == logical_dump(new.client())
