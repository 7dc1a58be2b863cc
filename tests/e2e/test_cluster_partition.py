"""A network partition, made with a network namespace and a veth pair
created by the test itself (needs root; skipped otherwise).

    root namespace                           namespace stp<pid>
    sentinels x3, proxy (127.0.0.1)          master of g1 (binds 0.0.0.0 there)
    replicas of g1 on 10.R.S.1   --veth--    10.R.S.2, and a client writing to it
                                             over the namespace's own loopback

g1 runs min_replica_acks 1 (error fallback) with two replicas and
fence_lease_ms 800.  Taking the namespace's end of the veth down cuts the
master off from the sentinels and both replicas while its local client
keeps writing.  Checked: the master refuses writes (lease error) within its
lease; the sentinels promote a replica; nothing the old master acknowledged
is lost; after healing the old master follows the new one and ends
identical to it."""
import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from harness import binary, free_port, wait_until
from test_repl_common import logical_dump, wait_synced
from test_sentinel_common import (Writer, check_acked, role, start_sentinels, wait_master,
                                  write_topology)

LEASE_MS = 800

NS_WRITER = r'''
import os, sys, time, redis
port, out, stop, max_s = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=3)
t0 = time.monotonic()
i = 0
with open(out, "w", buffering=1) as f:
    while time.monotonic() - t0 < max_s and i < 200000 and not os.path.exists(stop):
        try:
            r.set(f"ns:{i}", i)
            f.write(f"ok {i} {time.monotonic()}\n")
        except redis.ResponseError as e:
            f.write(f"err {i} {time.monotonic()} {e}\n")
            time.sleep(0.01)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            f.write(f"down {i} {time.monotonic()} {e}\n")
            time.sleep(0.01)
        i += 1
        time.sleep(0.002)
'''


def sh(*args):
    subprocess.run(list(args), check=True, capture_output=True, timeout=20)


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    tag = os.getpid() % 100000
    ns, va, vb = f"stp{tag}", f"stpa{tag}", f"stpb{tag}"
    net = f"10.{200 + tag % 50}.{tag % 250}"
    try:
        sh("ip", "netns", "add", ns)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        pytest.skip(f"ip netns does not work here: {e}")
    try:
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", vb, "netns", ns)
        sh("ip", "addr", "add", f"{net}.1/30", "dev", va)
        sh("ip", "link", "set", va, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{net}.2/30", "dev", vb)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", vb, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield {"ns": ns, "va": va, "vb": vb, "host": f"{net}.1", "peer": f"{net}.2"}
    finally:
        subprocess.run(["ip", "link", "del", va], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def read_lines(path):
    try:
        with open(path) as f:
            return [ln.split(" ", 3) for ln in f.read().splitlines() if ln.count(" ") >= 2]
    except OSError:
        return []


def test_partitioned_master_fences_then_rejoins(cluster, netns):
    ns, host, peer = netns["ns"], netns["host"], netns["peer"]
    node_args = ["--min_replica_acks", "1", "--replica_ack_timeout_ms", "500",
                 "--fence_lease_ms", str(LEASE_MS)]
    # The master inside the namespace.
    mport = free_port()
    mdir = cluster.path("g1-n0", "data")
    master = cluster._new("g1-n0", ["ip", "netns", "exec", ns, binary("strata-node"), "--port",
                                    str(mport), "--bind", "0.0.0.0", "--dir", mdir] + node_args,
                          mport, start=False)
    master.client = lambda **kw: redis.Redis(host=peer, port=mport,
                                             **{"socket_timeout": 5, **kw})
    master.start()
    reps = []
    for i in (1, 2):
        p = cluster.node(f"g1-n{i}", start=False, args=["--replicaof", f"{peer}:{mport}"] + node_args)
        p.args[p.args.index("--bind") + 1] = host
        p.client = lambda p=p, **kw: redis.Redis(host=host, port=p.port,
                                                 **{"socket_timeout": 5, **kw})
        p.start()
        reps.append(p)
    for p in reps:
        wait_until(lambda p=p: p.client().info("replication").get("master_link_status") == "up", 20,
                   what=f"{p.name} in sync")
    sports = [free_port() for _ in range(3)]
    members = [f"{peer}:{mport}"] + [f"{host}:{p.port}" for p in reps]
    topo = write_topology(cluster, [("g1", "0-16383", members)], sports,
                          proxy={"timeout_ms": 2000, "switch_wait_ms": 8000,
                                 "sentinel_poll_ms": 200})
    sents = start_sentinels(cluster, topo, sports)
    proxy = cluster.proxy(topo)

    # A client next to the master (inside the namespace) and one through the proxy.
    script = cluster.path("ns_writer.py")
    with open(script, "w") as f:
        f.write(NS_WRITER)
    out, stop = cluster.path("ns_writer.out"), cluster.path("ns_writer.stop")
    nsw = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, script, str(mport), out,
                            stop, "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = Writer(proxy.client(socket_timeout=10), prefix="px").start()
    try:
        w.wait_acked(200)
        wait_until(lambda: sum(1 for ln in read_lines(out) if ln[0] == "ok") >= 200, 20,
                   what="namespace client writing")
        t_cut = time.monotonic()
        sh("ip", "netns", "exec", ns, "ip", "link", "set", netns["vb"], "down")

        def fenced_at():
            for ln in read_lines(out):
                if ln[0] == "err" and float(ln[2]) > t_cut and "lease" in ln[3]:
                    return float(ln[2])
            return None
        t_fence = wait_until(fenced_at, 10, interval=0.01, what="the cut-off master refuses writes")
        print(f"\npartitioned master refused writes {1000 * (t_fence - t_cut):.0f} ms after the cut "
              f"(fence_lease_ms {LEASE_MS})")
        assert t_fence - t_cut <= LEASE_MS / 1000 + 1.0
        # The majority side promotes a replica; the proxy's writes go on.
        wait_until(lambda: any(role(p) == "master" for p in reps), 15, what="a replica promoted")
        new = next(p for p in reps if role(p) == "master")
        wait_master(sents, "g1", f"{host}:{new.port}")
        w.wait_acked(200)
        # Still cut off: the old master accepted nothing after its fence.
        late_ok = [ln for ln in read_lines(out) if ln[0] == "ok" and float(ln[2]) > t_fence]
        assert not late_ok, f"the fenced master acknowledged writes: {late_ok[:3]}"
        # Heal.
        sh("ip", "netns", "exec", ns, "ip", "link", "set", netns["vb"], "up")
        wait_until(lambda: role(master) == "slave" and
                   master.client().info("replication")["master_port"] == new.port, 20,
                   what="the old master follows the new one")
        w.wait_acked(200)
    finally:
        open(stop, "w").close()
        try:
            nsw.wait(timeout=20)
        except subprocess.TimeoutExpired:
            nsw.send_signal(signal.SIGKILL)
            nsw.wait()
        w.finish()
    # Nothing acknowledged is lost: the proxy's writes, and the namespace
    # client's (all from before the cut, acked by a replica).
    nc = new.client()
    check_acked(nc, w)
    ns_acked = {f"ns:{ln[1]}": ln[1] for ln in read_lines(out) if ln[0] == "ok"}
    vals = nc.mget(list(ns_acked)) if ns_acked else []
    lost = [k for k, v in zip(ns_acked, vals) if v is None or int(v) < int(ns_acked[k])]
    assert not lost, f"{len(lost)} writes acknowledged by the old master are lost: {lost[:5]}"
    assert max(float(ln[2]) for ln in read_lines(out) if ln[0] == "ok") < t_fence
    # The old master ends identical to the new one.
    wait_synced(new, master)
    assert logical_dump(master.client()) == logical_dump(nc)
