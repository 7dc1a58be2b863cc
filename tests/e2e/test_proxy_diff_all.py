"""Differential runs of every data-type family through strata-proxy, in
RESP2 and RESP3: the proxy in front of one strata-node group (all slots,
so every multi-key command is legal) against one redis-server, with the
generators, seeds and byte-for-byte comparison of the node's own
differential tests (difftest.py).  What the node writes in either
protocol must reach the client unchanged through the proxy's shared
links, merges (KEYS, SCAN, DBSIZE, MGET, DEL...) and private links
(blocking pops, MULTI).  Cross-group splitting is test_proxy_diff's and
test_proxy_resp3's."""
import pytest

import diff_bitmap  # noqa: F401 - registers the bitmap and bigstring families
import diff_hllgeo  # noqa: F401 - hll, geo
import diff_stream  # noqa: F401 - stream
from difftest import BASE_SEED, n, run_diff
from proxy_util import topology_text, write_file
from test_node_resp3 import TYPE_FAMILIES

FAMILIES = TYPE_FAMILIES + ["bitmap", "bigstring", "hll", "geo", "stream"]


@pytest.fixture
def via_proxy(cluster):
    node = cluster.node("node")
    text = topology_text([("g1", "0-16383", [f"127.0.0.1:{node.port}"])], proxy={"timeout_ms": 5000})
    proxy = cluster.proxy(write_file(cluster, "topology.yaml", text))
    return proxy, cluster.redis("reference")


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("offset", [50, 51])
def test_proxy_diff_all_families(via_proxy, proto, offset):
    proxy, ref = via_proxy
    _, done = run_diff(proxy, ref, BASE_SEED + offset, n(6000), proto=proto, families=FAMILIES)
    assert done == n(6000)
