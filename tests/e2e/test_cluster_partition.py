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


def stop_ns_writer(nsw, stop):
    """Ask the namespace writer to stop (its stop file), SIGKILL after 20 s."""
    open(stop, "w").close()
    try:
        nsw.wait(timeout=20)
    except subprocess.TimeoutExpired:
        nsw.send_signal(signal.SIGKILL)
        nsw.wait()


def cut_and_wait_for_fence(netns, out):
    """Take the namespace's link down; return (cut time, time of the first
    write the master refused for its lease after the cut), as seen by the
    writer inside the namespace that logs to `out`."""
    t_cut = time.monotonic()
    sh("ip", "netns", "exec", netns["ns"], "ip", "link", "set", netns["vb"], "down")

    def fenced_at():
        for ln in read_lines(out):
            if ln[0] == "err" and float(ln[2]) > t_cut and "lease" in ln[3]:
                return float(ln[2])
        return None
    return t_cut, wait_until(fenced_at, 10, interval=0.01, what="the cut-off master refuses writes")


def test_partitioned_master_fences_then_rejoins(cluster, netns):
    ns, host, peer = netns["ns"], netns["host"], netns["peer"]
    node_args = ["--min_replica_acks", "1", "--replica_ack_timeout_ms", "500",
                 "--fence_lease_ms", str(LEASE_MS), "--protected-mode", "no"]
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
        t_cut, t_fence = cut_and_wait_for_fence(netns, out)
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
        stop_ns_writer(nsw, stop)
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


def sentinel_blocked(sents, group):
    """The failover-blocked code some sentinel reports for the group, or None."""
    for s in sents:
        try:
            m = s.client().sentinel_master(group)
        except redis.RedisError:
            continue
        if m.get("failover-blocked"):
            return m["failover-blocked"]
    return None


@pytest.mark.parametrize("mode", ["safe", "available"])
def test_master_cut_off_with_one_replica(cluster, netns, mode):
    """The master and one replica (r1) in the namespace; the sentinels and
    the other replica (r2) outside.  r1's acks keep arriving at the master,
    so only the sentinels' majority lease can fence it, and until then the
    master acknowledges writes that only r1 holds.

    safe (the default): the sentinels hear 1 of 2 replicas, 2 needed with
    min_replica_acks 1 (sentinel/failover.h), so they promote nothing and
    say why (failover-blocked in SENTINEL MASTER, failover_blocked= in
    INFO); after healing the group has a master again and not one
    acknowledged write is lost.

    available: r2 is promoted after the fence; writes acknowledged between
    the cut and the fence (r1 acked them) are not on r2.  The test checks
    that every lost write is in that window and prints how many there were
    (the loss `promotion: available` accepts)."""
    ns, host, peer = netns["ns"], netns["host"], netns["peer"]
    node_args = ["--min_replica_acks", "1", "--replica_ack_timeout_ms", "500",
                 "--fence_lease_ms", str(LEASE_MS), "--protected-mode", "no"]

    def ns_node(name, extra):
        port = free_port()
        p = cluster._new(name, ["ip", "netns", "exec", ns, binary("strata-node"), "--port",
                                str(port), "--bind", "0.0.0.0", "--dir",
                                cluster.path(name, "data")] + extra + node_args, port, start=False)
        p.client = lambda **kw: redis.Redis(host=peer, port=port, **{"socket_timeout": 5, **kw})
        return p.start()

    master = ns_node("g1-n0", [])
    r1 = ns_node("g1-n1", ["--replicaof", f"{peer}:{master.port}"])
    r2 = cluster.node("g1-n2", start=False, args=["--replicaof", f"{peer}:{master.port}"] + node_args)
    r2.args[r2.args.index("--bind") + 1] = host
    r2.client = lambda **kw: redis.Redis(host=host, port=r2.port, **{"socket_timeout": 5, **kw})
    r2.start()
    for p in (r1, r2):
        wait_until(lambda p=p: p.client().info("replication").get("master_link_status") == "up", 20,
                   what=f"{p.name} in sync")
    sports = [free_port() for _ in range(3)]
    members = [f"{peer}:{master.port}", f"{peer}:{r1.port}", f"{host}:{r2.port}"]
    topo = write_topology(cluster, [("g1", "0-16383", members)], sports)
    if mode == "available":
        with open(topo) as f:
            text = f.read()
        with open(topo, "w") as f:
            f.write(text.replace('    slots: "0-16383"\n', '    slots: "0-16383"\n'
                                 '    promotion: available\n', 1))
    sents = start_sentinels(cluster, topo, sports)
    assert sents[0].client().sentinel_master("g1")["promotion"] == mode
    # The sentinels hold the lease now (3 of 3 renew it), not r1's acks.
    wait_until(lambda: master.client().info("replication").get("fence_sentinels") == "3/3", 10,
               what="the master leased by the sentinels")

    script = cluster.path("ns_writer.py")
    with open(script, "w") as f:
        f.write(NS_WRITER)
    out, stop = cluster.path("ns_writer.out"), cluster.path("ns_writer.stop")
    nsw = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, script, str(master.port), out,
                            stop, "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: sum(1 for ln in read_lines(out) if ln[0] == "ok") >= 200, 20,
                   what="namespace client writing")
        t_cut, t_fence = cut_and_wait_for_fence(netns, out)
        # r1 still follows it inside the namespace: its acks did not help.
        assert r1_link_up(r1, ns, peer)
        if mode == "safe":
            code = wait_until(lambda: sentinel_blocked(sents, "g1"), 20,
                              what="a sentinel refuses the failover and says why")
            assert code == "not-enough-replicas"
            info = next(s.client().info("sentinel") for s in sents
                        if sentinel_blocked([s], "g1"))
            assert info["master0"]["failover_blocked"] == "not-enough-replicas"
            assert role(r2) == "slave", "r2 was promoted without r1's position"
        else:
            wait_until(lambda: role(r2) == "master", 15, what="r2 promoted")
            t_promoted = time.monotonic()
            wait_master(sents, "g1", f"{host}:{r2.port}")
        ok = [ln for ln in read_lines(out) if ln[0] == "ok"]
        late = [ln for ln in ok if float(ln[2]) > t_fence]
        assert not late, f"the fenced master acknowledged writes: {late[:3]}"
        # Heal.
        sh("ip", "netns", "exec", ns, "ip", "link", "set", netns["vb"], "up")
        if mode == "safe":
            # Whoever ends up master (the old one resuming its lease, or r1
            # promoted now that its position is heard), it takes writes.
            def writable_master():
                for p in (master, r1, r2):
                    try:
                        if role(p) == "master" and p.client().set("after-heal", "1"):
                            return p
                    except redis.RedisError:
                        pass
                return None
            final = wait_until(writable_master, 30, what="a writable master after healing")
        else:
            final = r2
        others = [p for p in (master, r1, r2) if p is not final]
        for p in others:
            wait_until(lambda p=p: role(p) == "slave" and
                       p.client().info("replication")["master_port"] == final.port and
                       p.client().info("replication")["master_link_status"] == "up", 20,
                       what=f"{p.name} follows {final.name}")
        wait_until(lambda: final.client().set("after-promotion", "1"), 10,
                   what=f"{final.name} takes writes")
    finally:
        stop_ns_writer(nsw, stop)
    assert t_fence - t_cut <= LEASE_MS / 1000 + 1.0
    acked = {f"ns:{ln[1]}": (ln[1], float(ln[2])) for ln in read_lines(out) if ln[0] == "ok"}
    keys = list(acked)
    vals = final.client().mget(keys) if keys else []
    lost = [(k, acked[k][1]) for k, v in zip(keys, vals) if v is None or int(v) < int(acked[k][0])]
    window = [k for k, t in acked.values() if t_cut < t <= t_fence]
    print(f"\n{mode}: master+r1 cut off: fenced {1000 * (t_fence - t_cut):.0f} ms after the cut "
          f"(fence_lease_ms {LEASE_MS}); acknowledged between the cut and the fence: "
          f"{len(window)}; lost: {len(lost)}; final master {final.name}")
    if mode == "safe":
        assert not lost, f"{len(lost)} acknowledged writes lost: {lost[:5]}"
    else:
        assert t_promoted > t_fence
        before_cut = [k for k, t in lost if t <= t_cut]
        assert not before_cut, f"writes acknowledged before the cut are lost: {before_cut[:5]}"
        outside = [k for k, t in lost if t > t_fence]
        assert not outside, f"lost writes acknowledged after the fence: {outside[:5]}"
    # Everyone ends identical to the final master.
    for p in others:
        wait_synced(final, p)
        assert logical_dump(p.client()) == logical_dump(final.client())


def r1_link_up(r1, ns, peer):
    """r1's view, asked from inside the namespace (the veth is down)."""
    res = subprocess.run(["ip", "netns", "exec", ns, "redis-cli", "-h", "127.0.0.1", "-p",
                          str(r1.port), "info", "replication"], capture_output=True, text=True,
                         timeout=20)
    return "master_link_status:up" in res.stdout
