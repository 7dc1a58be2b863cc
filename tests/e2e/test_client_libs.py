"""Real client libraries that run Lua scripts, end to end through
strata-proxy:

  ioredis                defineCommand (EVALSHA, EVAL on NOSCRIPT), pipelines,
                         two connections, SCRIPT LOAD then EVALSHA anywhere
  node-redis             defineScript over RESP3: EVALSHA(_RO), EVAL(_RO) on
                         NOSCRIPT, IS_READ_ONLY scripts refused a write, MULTI
  redlock 4              lock / refused second lock / extend / unlock
  rate-limiter-flexible  RateLimiterRedis (its ioredis defineCommand)
  bull 4                 add / process / complete / fail / delayed jobs on a
                         {q}-prefixed queue (cmsgpack, bit, cjson, PUBLISH)
  limits (Debian)        python3-limits' moving and fixed windows (its
                         moving_window.lua returns {oldest, a}, oldest nil
                         at first: the truncate-at-nil rule)

Each runs against the real cluster (two strata-node groups with a replica
each, three sentinels, the proxy) and against a proxy in front of two
redis-server groups, which checks the proxy's part on its own.  The npm
packages are installed outside the tree from the committed
tests/e2e/js/package-lock.json, as test_client_noderedis.py does."""
import json
import os
import subprocess
import time

import pytest

from harness import free_port
from proxy_util import ProxySetup, keys_for_group
from test_client_noderedis import node_modules  # noqa: F401 - the npm ci fixture
from test_sentinel_common import start_group, start_sentinels, write_topology

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")
RANGES = [(0, 8191), (8192, 16383)]


@pytest.fixture(params=["strata", "redis"])
def proxied(request, cluster):
    """(proxy port, slot ranges): the strata-node cluster, or redis-server groups."""
    if request.param == "redis":
        setup = ProxySetup(cluster, 2, ranges=RANGES, proxy_opts={"timeout_ms": 3000})
        return setup.proxy.port, RANGES
    g1 = start_group(cluster, "g1")
    g2 = start_group(cluster, "g2")
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports,
                          proxy={"timeout_ms": 3000})
    start_sentinels(cluster, topo, ports)
    proxy = cluster.proxy(topo)
    return proxy.port, RANGES


def keys(ranges, tag):
    return {"a": keys_for_group(ranges, 0, 2, prefix=f"lib{tag}a"),
            "b": keys_for_group(ranges, 1, 2, prefix=f"lib{tag}b")}


def run_js(modules, port, scenario, k):
    env = dict(os.environ, NODE_PATH=modules)
    p = subprocess.run(["node", os.path.join(JS, "libs_check.js"), str(port), scenario,
                        json.dumps(k)], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0 and f"ok {scenario}" in p.stdout, \
        f"{scenario} failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}"


@pytest.mark.parametrize("scenario", ["ioredis", "noderedis", "redlock", "ratelimiter", "bull"])
def test_npm_library(node_modules, proxied, scenario):  # noqa: F811 - fixture
    port, ranges = proxied
    run_js(node_modules, port, scenario, keys(ranges, scenario))


def test_python_limits(proxied):
    limits = pytest.importorskip("limits", reason="Debian's python3-limits (install-deps.sh)")
    from limits.storage import RedisStorage
    from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
    port, ranges = proxied
    storage = RedisStorage(f"redis://127.0.0.1:{port}")
    assert storage.check()
    item = limits.parse("3/minute")
    moving = MovingWindowRateLimiter(storage)
    fixed = FixedWindowRateLimiter(storage)
    ks = keys(ranges, "lim")
    for k in ks["a"] + ks["b"]:
        for strategy in (moving, fixed):
            # the first stats of a moving window run its script on an empty key
            reset, remaining = strategy.get_window_stats(item, k, type(strategy).__name__)
            assert remaining == 3
            assert [strategy.hit(item, k, type(strategy).__name__) for _ in range(4)] == \
                [True, True, True, False]
            assert not strategy.test(item, k, type(strategy).__name__)
            reset, remaining = strategy.get_window_stats(item, k, type(strategy).__name__)
            assert remaining == 0 and reset >= time.time() - 1
