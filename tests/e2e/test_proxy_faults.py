"""strata-proxy when things go wrong: a backend killed and restarted
under load, a backend that stops answering, a topology reload that moves
slots, and bad configuration files."""
import signal
import threading
import time

import pytest
import redis

from difftest import Error, RespConn
from proxy_util import ProxySetup, keys_for_group, run_check, wait_until, write_file


def load_loop(setup, keys, stop, stats, deadline):
    """One client, one connection, SET/GET on `keys` until stopped."""
    c = setup.client(socket_timeout=10)
    c.ping()
    i = 0
    while not stop.is_set() and time.monotonic() < deadline:
        k = keys[i % len(keys)]
        try:
            c.set(k, i)
            stats["ok"] += 1
        except redis.ResponseError as e:
            stats["err"] += 1
            stats["last_err"] = str(e)
        except redis.ConnectionError as e:  # the proxy must never drop us
            stats["conn_err"] += 1
            stats["last_conn_err"] = str(e)
        i += 1
        if i >= 200000:
            break


def test_backend_killed_and_restarted_under_load(cluster):
    s = ProxySetup(cluster, 2, proxy_opts={"timeout_ms": 500})
    k1 = keys_for_group(s.ranges, 0, 20, "live")
    k2 = keys_for_group(s.ranges, 1, 20, "dead")
    stop = threading.Event()
    deadline = time.monotonic() + 60
    st1 = {"ok": 0, "err": 0, "conn_err": 0}
    st2 = {"ok": 0, "err": 0, "conn_err": 0}
    t1 = threading.Thread(target=load_loop, args=(s, k1, stop, st1, deadline))
    t2 = threading.Thread(target=load_loop, args=(s, k2, stop, st2, deadline))
    t1.start()
    t2.start()
    try:
        wait_until(lambda: st1["ok"] > 200 and st2["ok"] > 200, 20, what="load running")
        s.backends[1].kill(signal.SIGKILL)
        wait_until(lambda: st2["err"] > 3, 20, what="errors for the dead group")
        ok1_during = st1["ok"]
        wait_until(lambda: st1["ok"] > ok1_during + 200, 20, what="live group keeps serving")
        s.backends[1].start()
        ok2 = st2["ok"]
        wait_until(lambda: st2["ok"] > ok2 + 200, 20, what="dead group back after restart")
    finally:
        stop.set()
        t1.join(30)
        t2.join(30)
    assert st1["err"] == 0 and st1["conn_err"] == 0, st1
    assert st2["conn_err"] == 0, st2
    assert "backend" in st2["last_err"], st2
    info = s.client().info("groups")
    assert "up=1" in info["group_g2"] if isinstance(info["group_g2"], str) else info["group_g2"]["up"] == 1


def test_stopped_backend_times_out_without_shifting_replies(cluster):
    s = ProxySetup(cluster, 2, proxy_opts={"timeout_ms": 300})
    a = keys_for_group(s.ranges, 0, 1, "a")[0]
    b = keys_for_group(s.ranges, 1, 3, "b")
    r = s.client()
    r.set(a, "A")
    for i, k in enumerate(b):
        r.set(k, f"B{i}")
    s.backends[1].proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(redis.ResponseError, match="timeout"):
            r.get(b[0])
        assert time.monotonic() - t0 < 3
        with pytest.raises(redis.ResponseError, match="timeout"):
            r.mget(a, b[1])
        assert r.get(a) == b"A"  # the other group is unaffected
        cid = r.client_id()
    finally:
        s.backends[1].proc.send_signal(signal.SIGCONT)
    # the late replies of the timed-out requests are dropped: every reply
    # now matches its own request
    wait_until(lambda: r.get(b[2]) == b"B2", 10, what="group back")
    for i, k in enumerate(b):
        assert r.get(k) == f"B{i}".encode()
    assert r.mget(b[0], a, b[1]) == [b"B0", b"A", b"B1"]
    assert r.client_id() == cid


def test_sighup_keeps_moved_slot_range(cluster):
    """A SIGHUP that moves slots between groups must not reroute them: their
    keys stay on the old group until a migration moves them (none exists
    yet), so rerouting would hide them (proxy/slotcheck.h)."""
    s = ProxySetup(cluster, 2)
    k = keys_for_group(s.ranges, 0, 1, "mv")[0]
    from proxy_util import key_slot
    slot = key_slot(k)
    r = s.client()
    cid = r.client_id()
    r.set(k, "before")
    assert s.direct(0).get(k) == b"before"
    # move slot..8191 from g1 to g2
    lo0, hi0 = s.ranges[0]
    lo1, hi1 = s.ranges[1]
    s.reload([(lo0, slot - 1), (slot, hi1)] if slot > 0 else [(0, 0), (1, hi1)])
    wait_until(lambda: r.info("server")["reloads"] >= 1, 10, what="reload")
    assert r.get(k) == b"before"
    r.set(k, "after")
    assert s.direct(0).get(k) == b"after"
    assert s.direct(1).get(k) is None
    assert r.info("server")["slots_kept"] == hi0 - slot + 1
    assert "needs a slot migration" in open(s.proxy.log_path, "rb").read().decode(errors="replace")
    assert r.client_id() == cid  # same connection throughout
    # a bad file on reload keeps the running configuration
    with open(s.topo, "w") as f:
        f.write("groups: [\n")
    s.proxy.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert r.get(k) == b"after"
    assert s.proxy.alive()


BAD_FILES = {
    "gap": ("groups:\n  - name: g1\n    slots: \"0-100\"\n    nodes: [127.0.0.1:7001]\n",
            ["not assigned"]),
    "overlap": ("groups:\n  - name: g1\n    slots: \"0-9000\"\n    nodes: [127.0.0.1:7001]\n"
                "  - name: g2\n    slots: \"8000-16383\"\n    nodes: [127.0.0.1:7002]\n",
                ["8000-9000"]),
    "unknown_key": ("groups:\n  - name: g1\n    slots: \"0-16383\"\n    nodes: [127.0.0.1:7001]\n"
                    "bogus: 1\n", ["bogus"]),
    "bad_threads": ("groups:\n  - name: g1\n    slots: \"0-16383\"\n    nodes: [127.0.0.1:7001]\n"
                    "proxy:\n  threads: 0\n", ["threads"]),
    "bad_timeout": ("groups:\n  - name: g1\n    slots: \"0-16383\"\n    nodes: [127.0.0.1:7001]\n"
                    "proxy:\n  timeout_ms: soon\n", ["timeout_ms"]),
    "unknown_proxy_key": ("groups:\n  - name: g1\n    slots: \"0-16383\"\n    nodes: [127.0.0.1:7001]\n"
                          "proxy:\n  colour: blue\n", ["colour"]),
    "bad_yaml": ("groups: [\n  - name: g1\n", [":"]),
    "bad_listen": ("groups:\n  - name: g1\n    slots: \"0-16383\"\n    nodes: [127.0.0.1:7001]\n"
                   "proxy:\n  listen: nowhere\n", ["listen"]),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_config_errors(cluster, kind):
    text, needles = BAD_FILES[kind]
    path = write_file(cluster, f"{kind}.yaml", text)
    rc, out = run_check(path)
    assert rc != 0, out
    for n in needles:
        assert n in out, out
    if kind not in ("bad_listen",):
        assert path + ":" in out, out  # file:line form


def test_config_ok_and_missing_file(cluster):
    good = write_file(cluster, "good.yaml",
                      "groups:\n  - name: g1\n    slots: \"0-16383\"\n    nodes: [127.0.0.1:7001]\n")
    rc, out = run_check(good)
    assert rc == 0, out
    rc, out = run_check(cluster.path("missing.yaml"))
    assert rc != 0 and "missing.yaml" in out


def test_transactions_across_a_reload(cluster):
    """A reload that changes where a watched or queued key is routed ends
    those transactions: EXEC after a WATCH answers as a failed WATCH (the
    client retries), a MULTI without WATCH gets EXECABORT; nothing reaches
    the old server.  A new transaction goes to the new one.  (The key's
    group gets another node in the file: a reload never moves a slot to
    another group, nor drops a group that owns slots, see
    test_sighup_keeps_moved_slot_range and test_cluster_reshard.py.)"""
    s = ProxySetup(cluster, 2)
    k = keys_for_group(s.ranges, 0, 1, "tx")[0]
    from proxy_util import key_slot
    assert key_slot(k) > 0
    probes = keys_for_group(s.ranges, 0, 5, "probe")
    r = s.client()
    w = s.client().pipeline(transaction=True)
    w.watch(k)
    q = RespConn("127.0.0.1", s.proxy.port, timeout=10)
    assert q.call(b"MULTI") == "OK"
    assert q.call(b"SET", k.encode(), b"q") == "QUEUED"
    from proxy_util import topology_text
    moved_to = cluster.redis(name="redis-g1-new")
    (lo0, hi0), (lo1, hi1) = s.ranges
    with open(s.topo, "w") as f:
        f.write(topology_text([("g1", f"{lo0}-{hi0}", [f"127.0.0.1:{moved_to.port}"]),
                               ("g2", f"{lo1}-{hi1}", [f"127.0.0.1:{s.backends[1].port}"])],
                              proxy=s.proxy_opts))
    s.proxy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: r.info("server")["reloads"] >= 1, 10, what="reload")

    def probe_moved():
        r.set(probes[-1], "p")
        return moved_to.client().get(probes[-1]) == b"p"
    wait_until(probe_moved, 10, what="worker on the new routing")
    w.multi()
    w.set(k, "w")
    with pytest.raises(redis.WatchError):
        w.execute()
    reply = q.call(b"EXEC")
    assert isinstance(reply, Error) and reply.startswith(b"EXECABORT"), reply
    assert s.direct(0).get(k) is None and moved_to.client().get(k) is None
    p = r.pipeline(transaction=True)
    p.watch(k)
    p.multi()
    p.set(k, "new")
    assert p.execute() == [True]
    assert moved_to.client().get(k) == b"new"
