"""strata-node's Prometheus endpoint (metrics_listen): the text format is
well formed, its figures agree with what the node answers (DBSIZE, INFO)
and move with the commands sent, a master shows its replica's acked lsn
and lag and the replica its link, other paths are 404, and a bad
metrics_listen stops start-up with a clear message."""
import re
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from harness import free_port, wait_until

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """Parse exposition format 0.0.4 strictly enough to catch mistakes:
    every sample belongs to a family announced by # HELP then # TYPE,
    counters end in _total, values are numbers.  Returns
    ({(name, frozenset(labels)): value}, {name: type})."""
    samples, types, helped = {}, {}, set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helped, f"HELP twice for {name}"
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            assert name in helped, f"TYPE before HELP for {name}"
            assert typ in ("counter", "gauge"), line
            assert name not in types, f"TYPE twice for {name}"
            types[name] = typ
            if typ == "counter":
                assert name.endswith("_total"), f"counter {name} does not end in _total"
            continue
        assert not line.startswith("#"), line
        m = SAMPLE_RE.match(line)
        assert m, f"bad sample line {line!r}"
        name, labels = m.group(1), frozenset(LABEL_RE.findall(m.group(3) or ""))
        assert name.startswith("strata_node_"), name
        assert name in types, f"sample {name} without # TYPE"
        key = (name, labels)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(m.group(4))
    return samples, types


class Metrics:
    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/metrics"

    def fetch(self):
        with urllib.request.urlopen(self.url, timeout=10) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return parse(r.read().decode())[0]

    def get(self, name, **labels):
        return self.fetch().get(("strata_node_" + name, frozenset(labels.items())))


def metrics_node(cluster, name="node", args=()):
    mport = free_port()
    node = cluster.node(name, args=["--metrics_listen", f"127.0.0.1:{mport}"] + list(args))
    return node, Metrics(mport)


def test_metrics_follow_commands(cluster):
    node, m = metrics_node(cluster)
    c = node.client()
    s = m.fetch()
    assert s[("strata_node_replication_role", frozenset({("role", "master")}))] == 1
    assert s[("strata_node_replication_role", frozenset({("role", "replica")}))] == 0
    assert s[("strata_node_keys", frozenset())] == 0
    before = s[("strata_node_commands_processed_total", frozenset())]
    net_in = s[("strata_node_net_input_bytes_total", frozenset())]

    for i in range(25):
        c.set(f"k{i}", "v" * 100)
    c.expire("k0", 1000)
    c.expire("k1", 1000)
    c.get("k3")
    c.get("absent")
    c.delete("k24")

    s = m.fetch()
    set_calls = ("strata_node_commands_total", frozenset({("cmd", "set")}))
    assert s[set_calls] == 25
    assert s[("strata_node_commands_total", frozenset({("cmd", "expire")}))] == 2
    assert s[("strata_node_commands_processed_total", frozenset())] >= before + 30
    assert s[("strata_node_keys", frozenset())] == c.dbsize() == 24
    assert s[("strata_node_keys_with_expire", frozenset())] == 2
    assert s[("strata_node_keyspace_hits_total", frozenset())] >= 1
    assert s[("strata_node_keyspace_misses_total", frozenset())] >= 1
    assert s[("strata_node_net_input_bytes_total", frozenset())] > net_in + 25 * 100
    assert s[("strata_node_connected_clients", frozenset())] >= 1
    assert s[("strata_node_storage_commits_total", frozenset())] >= 1
    assert s[("strata_node_storage_bytes_written_total", frozenset())] > 25 * 100
    assert s[("strata_node_rss_bytes", frozenset())] > 0
    assert s[("strata_node_replication_lsn", frozenset())] == int(c.info("replication")["lsn"])

    # the same figures as INFO, read at the same moment (no command between)
    info = c.info("all")
    s = m.fetch()
    assert s[("strata_node_keyspace_hits_total", frozenset())] == info["keyspace_hits"]
    assert s[("strata_node_expired_keys_total", frozenset())] == info["expired_keys"]
    assert s[set_calls] == info["cmdstat_set"]["calls"]

    c.flushall()
    assert m.get("keys") == 0 == c.dbsize()


def test_metrics_other_paths_are_404(cluster):
    node, m = metrics_node(cluster)
    for path in ("/", "/metric", "/metrics/x", "/favicon.ico"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(m.url.replace("/metrics", path), timeout=10)
        assert e.value.code == 404, path
    assert m.get("uptime_seconds") is not None
    assert node.client().config_get("metrics-listen")["metrics-listen"] == m.url[len("http://"):-len("/metrics")]
    assert node.stop() == 0


def test_metrics_off_by_default(cluster):
    node = cluster.node()
    assert node.client().config_get("metrics-listen") == {"metrics-listen": ""}


def test_metrics_replication(cluster):
    master, mm = metrics_node(cluster, "master")
    replica, rm = metrics_node(cluster, "replica", args=["--replicaof", f"127.0.0.1:{master.port}"])
    addr = f"127.0.0.1:{replica.port}"
    lbl = frozenset({("addr", addr)})

    wait_until(lambda: rm.get("master_link_up") == 1, 30, what="replica link up in its metrics")
    s = rm.fetch()
    assert s[("strata_node_replication_role", frozenset({("role", "replica")}))] == 1
    assert s[("strata_node_replication_role", frozenset({("role", "master")}))] == 0

    c = master.client()
    pipe = c.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"key:{i}", i)
    pipe.execute()
    master_lsn = int(c.info("replication")["lsn"])
    assert master_lsn >= 500

    def settled():
        s = mm.fetch()
        return (s.get(("strata_node_replica_acked_lsn", lbl)) == master_lsn
                and s[("strata_node_replication_lsn", frozenset())] == master_lsn
                and s) or None
    s = wait_until(settled, 30, what="the replica's acked lsn reaching the master's lsn")
    assert s[("strata_node_connected_replicas", frozenset())] == 1
    assert s[("strata_node_replica_lag_records", lbl)] == 0
    assert s[("strata_node_replica_lag_milliseconds", lbl)] == 0
    assert s[("strata_node_keys", frozenset())] == 500

    r = rm.fetch()
    assert r[("strata_node_master_link_up", frozenset())] == 1
    assert r[("strata_node_replication_lsn", frozenset())] == master_lsn
    assert r[("strata_node_keys", frozenset())] == 500 == replica.client().dbsize()
    wait_until(lambda: rm.get("master_lag_records") == 0, 10, what="replica lag 0")
    assert r[("strata_node_replication_epoch", frozenset())] == s[("strata_node_replication_epoch", frozenset())]

    # a stopped replica falls behind: records and the age of the oldest one
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        for i in range(10):
            c.set(f"late:{i}", i)
        time.sleep(0.3)  # the lag in ms must show the time waited
        s = mm.fetch()
        assert s[("strata_node_replica_acked_lsn", lbl)] == master_lsn
        assert s[("strata_node_replica_lag_records", lbl)] == 10
        assert s[("strata_node_replica_lag_milliseconds", lbl)] >= 300
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: mm.get("replica_lag_records", addr=addr) == 0, 30, what="replica caught up again")
    assert mm.get("replica_lag_milliseconds", addr=addr) == 0

    # the link goes down with the master; the replica's metrics say so
    master.stop()
    wait_until(lambda: rm.get("master_link_up") == 0, 30, what="replica link down in its metrics")


def start_failing(cluster, name, listen):
    node = cluster.node(name, args=["--metrics_listen", listen], start=False)
    node.start(wait=False)
    rc = node.proc.wait(timeout=30)
    return rc, node.tail()


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:99999", "127.0.0.1:", "no-such-host.invalid:9122"])
def test_bad_metrics_listen_fails_startup(cluster, listen):
    rc, log = start_failing(cluster, "bad", listen)
    assert rc != 0
    assert "metrics_listen" in log and listen in log, log


def test_metrics_port_in_use_fails_startup(cluster):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        listen = f"127.0.0.1:{s.getsockname()[1]}"
        rc, log = start_failing(cluster, "taken", listen)
    assert rc != 0
    assert "cannot listen for /metrics on " + listen in log and "in use" in log, log
