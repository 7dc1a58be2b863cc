"""node-redis (npm `redis`, the major version locked in tests/e2e/js) end
to end through strata-proxy, with its default options: it opens every
connection with HELLO 3 and has no RESP2 fallback, so this is the RESP3
path of a real client library.

The cluster is the real one: two strata-node groups with a replica each,
three strata-sentinels and the proxy.  node-redis is installed outside
the tree from the committed package-lock.json (`npm ci`, into
$STRATA_JS_DIR, default ~/.cache/strata-js, again only when the lock file
changed), so a fresh machine with node and npm gets the same version.

Client-side caching (`RESP: 3, clientSideCache`) runs against the
strata-node cluster, and against a proxy in front of redis-server groups,
which checks the proxy's part on its own."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from harness import free_port
from proxy_util import ProxySetup, keys_for_group
from test_sentinel_common import start_group, start_sentinels, write_topology

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")
RANGES = [(0, 8191), (8192, 16383)]


@pytest.fixture(scope="module")
def node_modules():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed (Debian: nodejs, npm)")
    dest = os.environ.get("STRATA_JS_DIR") or os.path.expanduser("~/.cache/strata-js")
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(JS, "package-lock.json"), "rb") as f:
        lock = f.read()
    stamp = os.path.join(dest, ".lock-sha256")
    want = hashlib.sha256(lock).hexdigest()
    have = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if have != want or not os.path.isdir(os.path.join(dest, "node_modules", "redis")):
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(JS, name), os.path.join(dest, name))
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", dest],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"npm ci failed:\n{p.stdout}\n{p.stderr}"
        with open(stamp, "w") as f:
            f.write(want)
    return os.path.join(dest, "node_modules")


def run_js(node_modules, port, scenario, keys):
    env = dict(os.environ, NODE_PATH=node_modules)
    p = subprocess.run(["node", os.path.join(JS, "noderedis_check.js"), str(port), scenario,
                        json.dumps(keys)], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0 and f"ok {scenario}" in p.stdout, \
        f"node-redis {scenario} failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}"


def some_keys(ranges, tag):
    return {"a": keys_for_group(ranges, 0, 2, prefix=f"nr{tag}a"),
            "b": keys_for_group(ranges, 1, 2, prefix=f"nr{tag}b")}


@pytest.fixture
def strata(cluster):
    """Two strata-node groups (master + replica), three sentinels, a proxy."""
    g1 = start_group(cluster, "g1")
    g2 = start_group(cluster, "g2")
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports,
                          proxy={"timeout_ms": 2000})
    start_sentinels(cluster, topo, ports)
    proxy = cluster.proxy(topo)
    proxy.groups = (g1, g2)
    return proxy


def test_noderedis_defaults_strings_hashes_multi(node_modules, strata):
    keys = some_keys(RANGES, "s")
    run_js(node_modules, strata.port, "basic", keys)
    # the writes went where the slots say, and the replicas have them
    g1, g2 = strata.groups
    r = strata.client()
    r.set(keys["a"][1], "x")
    r.set(keys["b"][1], "y")
    assert g1[0].client().get(keys["a"][1]) == b"x" and g2[0].client().get(keys["b"][1]) == b"y"


def test_noderedis_pubsub(node_modules, strata):
    run_js(node_modules, strata.port, "pubsub", some_keys(RANGES, "p"))


def test_noderedis_client_side_cache_strata(node_modules, strata):
    run_js(node_modules, strata.port, "cache", some_keys(RANGES, "c"))


def test_noderedis_client_side_cache_redis_backends(node_modules, cluster):
    setup = ProxySetup(cluster, 2)
    run_js(node_modules, setup.proxy.port, "cache", some_keys(setup.ranges, "r"))
    run_js(node_modules, setup.proxy.port, "basic", some_keys(setup.ranges, "rb"))
