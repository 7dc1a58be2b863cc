"""Streams through strata-proxy over two strata-node groups: XREAD and
XREADGROUP find their keys after STREAMS (as Redis's key specs say), so
the proxy routes them to the group of their keys, blocks them on a
private link with BLOCK, and refuses keys of two groups with CROSSSLOT,
as Redis Cluster does."""
import threading
import time

import pytest
import redis

from proxy_util import even_ranges, keys_for_group, topology_text, write_file


@pytest.fixture
def env(cluster):
    nodes = [cluster.node(f"node{i}") for i in range(2)]
    ranges = even_ranges(2)
    text = topology_text([(f"g{i + 1}", f"{lo}-{hi}", [f"127.0.0.1:{n.port}"])
                          for i, ((lo, hi), n) in enumerate(zip(ranges, nodes))],
                         proxy={"timeout_ms": 5000})
    proxy = cluster.proxy(write_file(cluster, "topology.yaml", text))
    return proxy, nodes, ranges


def test_xread_and_groups_route_by_their_keys(env):
    proxy, nodes, ranges = env
    p = proxy.client()
    k1, = keys_for_group(ranges, 0, 1, "s")
    k2, = keys_for_group(ranges, 1, 1, "s")
    for k in (k1, k2):
        assert p.xadd(k, {"f": "1"}, id="1-1") == b"1-1"
        assert p.xadd(k, {"f": "2"}, id="2-1") == b"2-1"
    # each key's entries are on its own group's node only
    assert nodes[0].client().xlen(k1) == 2 and nodes[0].client().exists(k2) == 0
    assert nodes[1].client().xlen(k2) == 2 and nodes[1].client().exists(k1) == 0
    assert p.xread({k1: "0"}) == [[k1.encode(), [(b"1-1", {b"f": b"1"}), (b"2-1", {b"f": b"2"})]]]
    assert p.xread({k2: "1-1"}, count=1) == [[k2.encode(), [(b"2-1", {b"f": b"2"})]]]
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        p.xread({k1: "0", k2: "0"})
    p.xgroup_create(k2, "g", id="0")
    got = p.xreadgroup("g", "c1", {k2: ">"}, count=1)
    assert got == [[k2.encode(), [(b"1-1", {b"f": b"1"})]]]
    assert p.xack(k2, "g", "1-1") == 1
    # a malformed STREAMS list gets the node's own error
    with pytest.raises(redis.ResponseError, match="Unbalanced"):
        p.execute_command("XREAD", "STREAMS", k1, k2, "0")


def test_blocking_xread_through_the_proxy(env):
    proxy, nodes, ranges = env
    k, = keys_for_group(ranges, 1, 1, "b")
    waiter = proxy.client(socket_timeout=10)
    result = {}

    def wait():
        result["r"] = waiter.xread({k: "$"}, block=5000)
    t = threading.Thread(target=wait)
    t.start()
    # the waiter is blocked on the node of k's group
    deadline = time.monotonic() + 5
    while nodes[1].client().info("clients")["blocked_clients"] != 1:
        assert time.monotonic() < deadline, "XREAD BLOCK never blocked on the node"
        time.sleep(0.01)
    proxy.client().xadd(k, {"v": "x"}, id="5-1")
    t.join(10)
    assert result["r"] == [[k.encode(), [(b"5-1", {b"v": b"x"})]]]
    # and a timeout answers nil
    assert proxy.client(socket_timeout=10).xread({k: "$"}, block=50) in (None, [])
