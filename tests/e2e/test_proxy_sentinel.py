"""strata-proxy following a failover announced by Redis Sentinel.

Group g1 is a redis-server master with one replica, watched by three Redis
Sentinels under the master name "g1" (group names are the sentinels'
master names); group g2 is a lone redis-server the sentinels do not know.
Killing g1's master must move g1's traffic to the promoted replica without
clients reconnecting, while g2 is never disturbed.  With read_from_replicas,
reads go to g1's replica and fall back to its master when the replica is
gone."""
import signal
import time

import redis

from proxy_util import ProxySetup, free_port, keys_for_group, topology_text, wait_until, write_file  # noqa: F401


def start_sentinel(cluster, name, master_port):
    port = free_port()
    d = cluster.path(name, "")
    conf = cluster.path(name, "sentinel.conf")
    with open(conf, "w") as f:
        f.write(f"port {port}\nbind 127.0.0.1\ndir {d}\n"
                f"sentinel monitor g1 127.0.0.1 {master_port} 2\n"
                "sentinel down-after-milliseconds g1 800\n"
                "sentinel failover-timeout g1 4000\n"
                "sentinel parallel-syncs g1 1\n")
    return cluster._new(name, ["redis-server", conf, "--sentinel"], port, True, d)


RANGES = [(0, 8191), (8192, 16383)]


def sentinel_cluster(cluster, **proxy_opts):
    """g1 (master + replica, three Redis Sentinels), g2 (lone), a proxy."""
    master = cluster.redis(name="g1-master")
    replica = cluster.redis(name="g1-replica", args=["--replicaof", "127.0.0.1", str(master.port)])
    lone = cluster.redis(name="g2")
    wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", 20,
               what="replica in sync")
    sentinels = [start_sentinel(cluster, f"sentinel{i}", master.port) for i in range(3)]
    for s in sentinels:
        c = s.client()
        wait_until(lambda: len(c.execute_command("SENTINEL", "REPLICAS", "g1")) == 1, 30,
                   what="sentinel sees the replica")
        wait_until(lambda: len(c.execute_command("SENTINEL", "SENTINELS", "g1")) == 2, 30,
                   what="sentinels see each other")
    opts = {"timeout_ms": 1000, "switch_wait_ms": 8000, "sentinel_poll_ms": 500}
    opts.update(proxy_opts)
    text = topology_text(
        [("g1", "0-8191", [f"127.0.0.1:{master.port}", f"127.0.0.1:{replica.port}"]),
         ("g2", "8192-16383", [f"127.0.0.1:{lone.port}"])],
        proxy=opts, sentinel={"addrs": [f"127.0.0.1:{s.port}" for s in sentinels], "quorum": 2})
    proxy = cluster.proxy(write_file(cluster, "topology.yaml", text))
    return master, replica, lone, proxy


def gets_served(node):
    return node.client().info("commandstats").get("cmdstat_get", {}).get("calls", 0)


def test_read_from_replicas(cluster):
    master, replica, lone, proxy = sentinel_cluster(cluster, read_from_replicas=True)
    r = proxy.client(socket_timeout=20)
    k1 = keys_for_group(RANGES, 0, 5, "rr")
    for k in k1:
        assert r.set(k, "v")
    wait_until(lambda: replica.client().get(k1[-1]) == b"v", 10, what="replica has the writes")
    # Reads of g1 go to its replica (the ROLE check that guards masters
    # must not turn a replica away); writes still go to the master.
    before_m, before_r = gets_served(master), gets_served(replica)
    for _ in range(20):
        assert r.mget(k1) == [b"v"] * 5 and r.get(k1[0]) == b"v"
    assert gets_served(replica) - before_r == 20
    assert gets_served(master) == before_m
    assert master.client().get(k1[0]) == b"v"
    # Without the replica, reads fall back to the master.
    replica.kill(signal.SIGKILL)
    wait_until(lambda: r.get(k1[0]) == b"v", 15, what="read served without the replica")
    before_m = gets_served(master)
    for _ in range(5):
        assert r.get(k1[1]) == b"v"
    assert gets_served(master) - before_m == 5


def test_failover_followed(cluster):
    master, replica, lone, proxy = sentinel_cluster(cluster)
    ranges = RANGES
    r = proxy.client(socket_timeout=20)
    k1 = keys_for_group(ranges, 0, 5, "fo")
    k2 = keys_for_group(ranges, 1, 5, "fo")
    for k in k1 + k2:
        r.set(k, "v0")
    cid = r.client_id()
    assert master.client().get(k1[0]) == b"v0"

    master.kill(signal.SIGKILL)
    t0 = time.monotonic()
    # Writes to g1 wait for the switch (bounded by switch_wait_ms) or fail
    # with -ERR; they succeed again once the replica is promoted.
    errors = 0
    done = False
    while time.monotonic() - t0 < 40 and not done:
        try:
            assert r.set(k1[0], "v1")
            done = True
        except redis.ResponseError:
            errors += 1
            time.sleep(0.1)
        # the other group is not affected
        assert r.get(k2[0]) == b"v0"
    assert done, proxy.tail()
    assert replica.client().get(k1[0]) == b"v1"
    assert replica.client().info("replication")["role"] == "master"
    for k in k1:
        assert r.set(k, "v2")
    assert r.mget(k1 + k2) == [b"v2"] * 5 + [b"v0"] * 5
    assert r.client_id() == cid
    info = r.info("server")
    assert info["failovers"] >= 1 and info["sentinel_mode"] == "yes"
    groups = r.info("groups")
    g1 = groups["group_g1"]
    assert str(replica.port) in (g1 if isinstance(g1, str) else g1["master"])
