"""strata-proxy in front of strata-node groups (skipped until a
strata-node binary is built).  The node is looked up next to the proxy,
then in build/bin."""
import os
import random

import pytest
import redis

from harness import BIN, ROOT, free_port
from proxy_util import even_ranges, keys_for_group, topology_text, write_file


def node_binary():
    for d in (BIN, os.path.join(ROOT, "build", "bin")):
        p = os.path.join(d, "strata-node")
        if os.path.exists(p):
            return p
    return None


@pytest.fixture
def node_setup(cluster):
    nb = node_binary()
    if not nb:
        pytest.skip("strata-node not built")
    nodes = []
    for i in range(2):
        port = free_port()
        d = cluster.path(f"node{i}", "data")
        os.makedirs(d, exist_ok=True)
        nodes.append(cluster._new(f"node{i}", [nb, "--port", str(port), "--bind", "127.0.0.1",
                                               "--dir", d], port, True))
    ranges = even_ranges(2)
    text = topology_text([(f"g{i + 1}", f"{lo}-{hi}", [f"127.0.0.1:{n.port}"])
                          for i, ((lo, hi), n) in enumerate(zip(ranges, nodes))],
                         proxy={"timeout_ms": 2000})
    proxy = cluster.proxy(write_file(cluster, "topology.yaml", text))
    return proxy, nodes, ranges


def test_strings_and_multikey_over_nodes(node_setup):
    proxy, nodes, ranges = node_setup
    r = proxy.client()
    keys = keys_for_group(ranges, 0, 10, "n") + keys_for_group(ranges, 1, 10, "n")
    random.Random(1).shuffle(keys)
    assert r.mset({k: f"v:{k}" for k in keys})
    assert r.mget(keys + ["absent"]) == [f"v:{k}".encode() for k in keys] + [None]
    for i, n in enumerate(nodes):
        assert n.client().dbsize() == 10
    assert r.exists(*keys) == 20
    assert r.incr("counter") == 1
    assert r.delete(*keys[:7]) == 7
    assert r.dbsize() == 14
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        r.rename(keys_for_group(ranges, 0, 1, "x")[0], keys_for_group(ranges, 1, 1, "x")[0])
