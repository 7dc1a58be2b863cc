"""Helpers shared by the strata-sentinel tests (test_sentinel_*.py,
test_cluster_*.py), and the tests of the sentinel's own surface: command
line, SENTINEL commands, pub/sub events, redis-py's Sentinel class,
persisted state across restarts, SIGHUP.

A "group" here is a list of node processes, the first one the initial
master; topology files are written with proxy_util.topology_text.
"""
import os
import signal
import subprocess
import threading
import time

import pytest
import redis
from redis.sentinel import Sentinel

from harness import binary, free_port, wait_until
from proxy_util import topology_text, write_file


# ---------------------------------------------------------------- helpers

def start_group(cluster, name, nreplicas=1, node_args=(), host="127.0.0.1"):
    """A strata-node master and `nreplicas` replicas following it."""
    master = cluster.node(f"{name}-n0", args=list(node_args))
    nodes = [master]
    for i in range(nreplicas):
        nodes.append(cluster.node(f"{name}-n{i + 1}",
                                  args=["--replicaof", f"{host}:{master.port}"] + list(node_args)))
    for r in nodes[1:]:
        wait_until(lambda r=r: r.client().info("replication").get("master_link_status") == "up", 20,
                   what=f"{r.name} in sync")
    return nodes


def addr(p, host="127.0.0.1"):
    return f"{host}:{p.port}"


def write_topology(cluster, groups, sentinel_ports, quorum=2, down_after=1000, sentinel=None,
                   proxy=None, name="topology.yaml"):
    """groups: [(name, slots, [proc or "host:port", ...])]."""
    s = {"addrs": "[" + ", ".join(f"127.0.0.1:{p}" for p in sentinel_ports) + "]",
         "quorum": quorum, "down_after_ms": down_after, "failover_timeout_ms": 3000}
    s.update(sentinel or {})
    g = [(n, slots, [m if isinstance(m, str) else addr(m) for m in members])
         for n, slots, members in groups]
    return write_file(cluster, name, topology_text(g, proxy=proxy, sentinel=s))


def start_sentinels(cluster, topo, ports, env=None, wait_peers=True):
    """One strata-sentinel per port; optionally with extra environment."""
    old = {}
    for k, v in (env or {}).items():
        old[k] = os.environ.get(k)
        os.environ[k] = v
    try:
        sents = [cluster.sentinel(topo, name=f"sentinel{i}", port=p) for i, p in enumerate(ports)]
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if wait_peers:
        for s in sents:
            wait_until(lambda s=s: all(
                "s_down" not in x["flags"] and "disconnected" not in x["flags"]
                for x in sentinel_list(s, group_names(s)[0])) and
                len(sentinel_list(s, group_names(s)[0])) == len(ports) - 1, 10,
                what=f"{s.name} sees its peers")
    return sents


def group_names(sent):
    return [m["name"] for m in sent.client().sentinel_masters().values()]


def sentinel_list(sent, group):
    return sent.client().sentinel_sentinels(group)


def master_addr(sent, group):
    r = sent.client(socket_timeout=2).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", group)
    return None if r is None else f"{r[0].decode()}:{int(r[1])}"


def master_state(sent, group):
    return sent.client(socket_timeout=2).sentinel_master(group)


def wait_master(sents, group, want, timeout=15):
    """Wait until every given (live) sentinel names `want` as the master."""
    def ok():
        return all(master_addr(s, group) == want for s in sents)
    wait_until(ok, timeout, interval=0.02, what=f"sentinels agree {group} master is {want}")


def role(p):
    return p.client(socket_timeout=2).info("replication")["role"]


def node_epoch(p):
    return int(p.client(socket_timeout=2).info("replication")["epoch"])


class Events:
    """Collects pub/sub events of one sentinel in a thread (PSUBSCRIBE *)."""

    def __init__(self, sent):
        self.c = sent.client(socket_timeout=None)
        self.ps = self.c.pubsub()
        self.ps.psubscribe("*")
        self.msgs = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                m = self.ps.get_message(timeout=0.1)
            except Exception:  # noqa: BLE001 - the sentinel may be killed by the test
                return
            if m and m["type"] == "pmessage":
                self.msgs.append((m["channel"].decode(), m["data"].decode()))

    def count(self, channel):
        return sum(1 for c, _ in self.msgs if c == channel)

    def close(self):
        self.stop = True
        self.t.join(timeout=5)
        try:
            self.ps.close()
        except Exception:  # noqa: BLE001
            pass


class Writer:
    """Writes SET key value in a thread through one client and remembers
    every acknowledged write.  Bounded by count and time."""

    def __init__(self, client, prefix="w", max_writes=200000, max_seconds=60, keys=None,
                 pause=0.0):
        self.c = client
        self.prefix = prefix
        self.max_writes = max_writes
        self.max_seconds = max_seconds
        self.keys = keys
        self.pause = pause
        self.acked = {}        # key -> value
        self.errors = 0
        self.ok_times = []     # monotonic time of each acknowledged write
        self.ok_sent = []      # ... and when it was sent
        self.err_times = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t.start()
        return self

    def _run(self):
        t0 = time.monotonic()
        i = 0
        while not self.stop and i < self.max_writes and time.monotonic() - t0 < self.max_seconds:
            k = self.keys[i % len(self.keys)] if self.keys else f"{self.prefix}:{i}"
            v = f"{i}"
            sent = time.monotonic()
            try:
                if self.c.set(k, v):
                    self.acked[k] = v
                    self.ok_times.append(time.monotonic())
                    self.ok_sent.append(sent)
            except (redis.ResponseError, redis.ConnectionError, redis.TimeoutError):
                self.errors += 1
                self.err_times.append(time.monotonic())
                time.sleep(0.005)
            i += 1
            if self.pause:
                time.sleep(self.pause)

    def wait_acked(self, n, timeout=20):
        base = len(self.ok_times)
        wait_until(lambda: len(self.ok_times) >= base + n, timeout, what=f"{n} more acked writes")

    def first_ok_after(self, t):
        """When the first write sent after t was acknowledged (a reply
        read after t may have been sent by a server before t)."""
        return next((done for sent, done in zip(self.ok_sent, self.ok_times) if sent > t), None)

    def finish(self):
        self.stop = True
        self.t.join(timeout=120)
        assert not self.t.is_alive()


def check_acked(client, writer):
    """Every acknowledged write of `writer` reads back with its value (the
    last acknowledged value of a key wins: values only grow)."""
    missing = []
    keys = list(writer.acked)
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        vals = client.mget(chunk)
        for k, v in zip(chunk, vals):
            if v is None or int(v) < int(writer.acked[k]):
                missing.append((k, writer.acked[k], v))
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"


# ---------------------------------------------------------------- tests

def test_cli_help_version_and_config_errors(cluster):
    exe = binary("strata-sentinel")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "--dir" in out.stdout and "--down-after-ms" in out.stdout
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.strip()
    bad = write_file(cluster, "bad.yaml", topology_text(
        [("g1", "0-16383", ["127.0.0.1:7001"])],
        sentinel={"addrs": "[127.0.0.1:26390]", "quorum": 1, "down_after": 5}))
    out = subprocess.run([exe, "--config", bad, "--port", "26390", "-t"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode != 0 and "down_after" in out.stderr and ":" in out.stderr
    good = write_file(cluster, "good.yaml", topology_text(
        [("g1", "0-16383", ["127.0.0.1:7001"])],
        sentinel={"addrs": "[127.0.0.1:26390, 127.0.0.1:26391]", "quorum": 2}))
    out = subprocess.run([exe, "--config", good, "--port", "26390", "-t"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    # A port that is not in sentinel.addrs is refused with a clear message.
    out = subprocess.run([exe, "--config", good, "--port", "26399", "-t"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode != 0 and "not listed in sentinel.addrs" in out.stderr
    # quorum above the number of sentinels
    q = write_file(cluster, "q.yaml", topology_text(
        [("g1", "0-16383", ["127.0.0.1:7001"])],
        sentinel={"addrs": "[127.0.0.1:26390]", "quorum": 2}))
    out = subprocess.run([exe, "--config", q, "--port", "26390", "-t"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode != 0 and "quorum" in out.stderr


def test_defaults_and_sigterm(cluster):
    """No --config: one group "default" on 127.0.0.1:7000, a lone sentinel."""
    s = cluster.sentinel(None, name="lone", start=False)
    s.args = [a for a in s.args if a not in ("--config", None)]
    s.start()
    c = s.client()
    assert c.ping()
    m = c.sentinel_master("default")
    assert m["ip"] == "127.0.0.1" and m["port"] == 7000 and m["quorum"] == 1
    assert c.execute_command("ROLE") == [b"sentinel", [b"default"]]
    assert c.info("server")["redis_mode"] == "sentinel"
    assert s.stop() == 0


def test_commands_pubsub_and_redis_py(cluster):
    g1 = start_group(cluster, "g1")
    g2 = start_group(cluster, "g2")
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports)
    sents = start_sentinels(cluster, topo, ports)
    c = sents[0].client()
    masters = c.sentinel_masters()
    assert set(masters) == {"g1", "g2"}
    assert masters["g1"]["port"] == g1[0].port and masters["g1"]["is_master"]
    assert masters["g1"]["num-other-sentinels"] == 2 and masters["g1"]["quorum"] == 2
    assert master_addr(sents[1], "g2") == addr(g2[0])
    assert c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope") is None
    with pytest.raises(redis.ResponseError, match="No such master"):
        c.sentinel_master("nope")
    # Replicas, with the node's replication position ("b" is in g1's
    # slots: the sentinels seed g1's master with its table).
    g1[0].client().set("b", "1")
    lsn = int(g1[0].client().info("replication")["lsn"])  # the seeding was a record too
    wait_until(lambda: int(c.sentinel_slaves("g1")[0]["lsn"]) == lsn, 5, what="replica lsn seen")
    reps = c.sentinel_slaves("g1")
    assert len(reps) == 1 and reps[0]["port"] == g1[1].port and reps[0]["is_slave"]
    assert reps[0]["master-port"] == g1[0].port
    assert c.execute_command("SENTINEL", "REPLICAS", "g1")[0][1] == f"127.0.0.1:{g1[1].port}".encode()
    assert len(c.sentinel_sentinels("g1")) == 2
    assert c.execute_command("SENTINEL", "CKQUORUM", "g1").startswith(b"OK 3 usable")
    assert len(c.execute_command("SENTINEL", "MYID")) == 40
    # redis-py's Sentinel finds masters and replicas through strata-sentinel.
    rs = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=2)
    assert rs.discover_master("g1") == ("127.0.0.1", g1[0].port)
    assert rs.discover_slaves("g2") == [("127.0.0.1", g2[1].port)]
    m = rs.master_for("g2", socket_timeout=2)
    assert m.set("via-sentinel-2", "yes") and g2[0].client().get("via-sentinel-2") == b"yes"  # a g2 slot
    # Pub/sub: SUBSCRIBE and PSUBSCRIBE both get +sdown of a replica.
    sub = sents[0].client().pubsub()
    sub.subscribe("+sdown")
    ev = Events(sents[0])
    assert sub.get_message(timeout=2)["type"] == "subscribe"
    g2[1].kill(signal.SIGKILL)
    msg = None
    deadline = time.monotonic() + 10
    while msg is None and time.monotonic() < deadline:
        m2 = sub.get_message(timeout=0.5)
        if m2 and m2["type"] == "message":
            msg = m2["data"].decode()
    assert msg == f"slave 127.0.0.1:{g2[1].port} 127.0.0.1 {g2[1].port} @ g2 127.0.0.1 {g2[0].port}"
    wait_until(lambda: ev.count("+sdown") >= 1, 5, what="+sdown by pattern")
    ev.close()
    sub.close()
    wait_until(lambda: "s_down" in c.sentinel_slaves("g2")[0]["flags"], 5, what="replica s_down")
    # A replica going down never fails the master over.
    assert master_addr(sents[0], "g2") == addr(g2[0])
    # Password-less sentinel: AUTH is an error, as in Redis.
    with pytest.raises(redis.ResponseError, match="without any password"):
        c.execute_command("AUTH", "x")


def test_state_survives_restart_and_sighup_keeps_failover(cluster):
    g1 = start_group(cluster, "g1")
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-16383", g1)], ports)
    sents = start_sentinels(cluster, topo, ports)
    myid = sents[0].client().execute_command("SENTINEL", "MYID")
    g1[0].kill(signal.SIGKILL)
    wait_master(sents, "g1", addr(g1[1]))
    epoch = master_state(sents[0], "g1")["config-epoch"]
    assert epoch >= 1
    # Restart a sentinel: same id, same master, same epoch.
    sents[0].stop()
    sents[0].start()
    assert sents[0].client().execute_command("SENTINEL", "MYID") == myid
    assert master_addr(sents[0], "g1") == addr(g1[1])
    assert master_state(sents[0], "g1")["config-epoch"] == epoch
    # The operator edits the file (down_after_ms) and sends SIGHUP: the
    # failover stays, and the file is not rewritten.
    before = open(topo).read()
    write_topology(cluster, [("g1", "0-16383", g1)], ports, down_after=1500)
    edited = open(topo).read()
    assert edited != before
    for s in sents:
        s.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: all(master_state(s, "g1")["down-after-milliseconds"] == 1500 for s in sents),
               5, what="reload")
    assert all(master_addr(s, "g1") == addr(g1[1]) for s in sents)
    assert open(topo).read() == edited
    for s in sents:
        assert s.alive()
