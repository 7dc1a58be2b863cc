"""Resharding from the operator's side (issue 17): strata-cli, the
sentinels' slot map, and what a proxy does with an edited file.

- SIGHUP never hides keys: the issue's 200-key scenario (g1 shrunk to
  0-4095, g2 grown) keeps every key readable; the log and -t name
  `strata-cli reshard --config <file>`; strata-cli's plan shows the move.
- The sentinels aggregate the masters' tables into SENTINEL SLOTS, persist
  it in their state directory and answer it after a restart; a proxy
  started with a file that disagrees routes by that map at once (no
  -MOVED), and with slots_cache it keeps the map for a start without
  sentinels.
- A group that still owns slots cannot be removed: SIGHUP is refused
  (the old configuration stays), -t fails, strata-cli says what to do.
- A new group with `slots: ""` is seeded with an empty table; rebalance
  shows a plan onto it.
- The full move: keys of every type written through a proxy, the file
  edited to give half of g1's slots to g2, `strata-cli reshard` moves them
  while a writer and a reader run through the proxy (every acknowledged
  write is there afterwards, every read sees the latest acknowledged
  value, TTLs are kept); a SIGHUP'd proxy and a proxy started with the old
  file route by the new map without -MOVED.
- status, pause/resume and cancel while a job runs; strata-cli killed with
  SIGKILL mid-move, then run again, adopts the job and finishes it.
- The target group fails over mid-copy or mid-switch: strata-cli finds its
  new master through the sentinels (STRATA MIGRATE TARGET mid-switch) and
  the move finishes there; the source group failing over mid-copy: the job
  is started again on its new master."""
import os
import signal
import subprocess
import threading
import time

import pytest
import redis

from harness import binary, free_port, wait_until
from proxy_util import key_slot, run_check
from test_sentinel_common import start_group, start_sentinels, write_topology

PROXY_OPTS = {"timeout_ms": 2000, "switch_wait_ms": 8000, "sentinel_poll_ms": 200}


def cli(*args, timeout=60):
    p = subprocess.run([binary("strata-cli")] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def sentinel_slots(s):
    r = s.client(socket_timeout=5).execute_command("SENTINEL", "SLOTS")
    return [(int(a), int(b), g.decode(), int(e)) for a, b, g, e in r]


def node_table(n):
    r = n.client(socket_timeout=5).execute_command("STRATA", "SLOTS")
    d = dict(zip(r[0::2], r[1::2]))
    return d[b"group"] and d[b"group"].decode()


@pytest.fixture
def two_groups(cluster):
    g1 = start_group(cluster, "g1")
    g2 = start_group(cluster, "g2")
    ports = [free_port() for _ in range(3)]
    groups = [("g1", "0-8191", g1), ("g2", "8192-16383", g2)]
    topo = write_topology(cluster, groups, ports, proxy=PROXY_OPTS)
    sents = start_sentinels(cluster, topo, ports)
    want = [(0, 8191, "g1", 1), (8192, 16383, "g2", 1)]
    for s in sents:
        wait_until(lambda s=s: sentinel_slots(s) == want, 20, what=f"{s.name} has the map")
    return g1, g2, ports, topo, sents


def log_of(p):
    return open(p.log_path, "rb").read().decode(errors="replace")


def test_sighup_keeps_keys_and_names_the_cli(cluster, two_groups):
    g1, g2, ports, topo, sents = two_groups
    proxy = cluster.proxy(topo)
    r = proxy.client(socket_timeout=10)
    keys = [f"k{i}" for i in range(200)]
    for k in keys:
        assert r.set(k, k)
    # The edit: g1 shrunk to 0-4095, g2 grown to 4096-16383.
    write_topology(cluster, [("g1", "0-4095", g1), ("g2", "4096-16383", g2)], ports, proxy=PROXY_OPTS)
    reloads = r.info("server")["reloads"]
    proxy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: r.info("server")["reloads"] > reloads, 10, what="proxy reload")
    assert [r.get(k) for k in keys] == [k.encode() for k in keys]   # none hidden
    want = f"run `strata-cli reshard --config {topo}`"
    assert want in log_of(proxy), log_of(proxy)[-2000:]
    rc, out = run_check(topo)
    assert rc == 0 and "slots 4096-8191" in out and want in out, out
    # strata-cli's plan: the difference between the file and the tables.
    rc, out = cli("reshard", "--config", topo, "--dry-run")
    assert rc == 0, out
    assert "g1 -> g2  slots 4096-8191 (4096 slots)" in out, out
    assert "dry run: nothing moved" in out
    # Without a terminal and without --yes nothing runs.
    rc, out = cli("reshard", "--config", topo)
    assert rc == 1 and "pass --yes" in out and "nothing moved" in out, out
    rc, out = cli("status", "--config", topo)
    assert "g1" in out and "0-8191" in out and "4096 slots to other groups" in out, out
    # Bad usage is refused clearly.
    assert cli("reshard")[0] == 2
    assert cli("frobnicate", "--config", topo)[0] == 2


def test_sentinels_map_persisted_and_restarted_proxy(cluster, two_groups):
    g1, g2, ports, topo, sents = two_groups
    # Persisted in the state directory, answered after a restart.
    state = cluster.path("sentinel0", "state", "slots.map")
    assert os.path.exists(state), state
    assert open(state).read() == "strata-slotmap 1\n0 8191 g1 1\n8192 16383 g2 1\n"
    sents[0].stop()
    sents[0].start()
    assert sentinel_slots(sents[0]) == [(0, 8191, "g1", 1), (8192, 16383, "g2", 1)]
    # A proxy whose file disagrees routes by the sentinels' map at once.
    moved = write_topology(cluster, [("g1", "0-100", g1), ("g2", "101-16383", g2)], ports,
                           proxy=dict(PROXY_OPTS, slots_cache=cluster.path("proxy-cache.map")),
                           name="edited.yaml")
    proxy = cluster.proxy(moved, name="proxy-edited")
    r = proxy.client(socket_timeout=10)
    keys = [f"x{i}" for i in range(100)]
    for k in keys:
        assert r.set(k, k)
    assert r.mget(keys) == [k.encode() for k in keys]
    assert r.info("server")["moved"] == 0
    # Each key went to the group that owns it (no key stored in an unowned slot).
    assert g1[0].client().dbsize() == sum(1 for k in keys if g1_slot(k))
    assert g2[0].client().dbsize() == sum(1 for k in keys if not g1_slot(k))
    wait_until(lambda: os.path.exists(cluster.path("proxy-cache.map")), 10, what="cache written")
    assert "0 8191 g1 1" in open(cluster.path("proxy-cache.map")).read()


def g1_slot(k):
    from proxy_util import key_slot
    return key_slot(k) <= 8191


def test_group_removal_refused(cluster, two_groups):
    g1, g2, ports, topo, sents = two_groups
    proxy = cluster.proxy(topo)
    r = proxy.client(socket_timeout=10)
    keys = [f"r{i}" for i in range(50)]
    for k in keys:
        assert r.set(k, k)
    reloads = r.info("server")["reloads"]
    only_g1 = write_topology(cluster, [("g1", "0-16383", g1)], ports, proxy=PROXY_OPTS)
    proxy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload refused" in log_of(proxy), 10, what="reload refused")
    assert "group g2 still owns them, so it cannot be removed from the file" in log_of(proxy)
    assert r.info("server")["reloads"] == reloads
    assert [r.get(k) for k in keys] == [k.encode() for k in keys]
    rc, out = run_check(only_g1)
    assert rc == 1 and "group g2 owns them (sentinels' map) but the file no longer has it" in out, out
    rc, out = cli("reshard", "--config", only_g1, "--dry-run")
    assert rc == 1 and "owned by group g2, which" in out and "then remove it" in out, out


def test_new_empty_group_and_rebalance_plan(cluster, two_groups):
    g1, g2, ports, topo, sents = two_groups
    g3 = start_group(cluster, "g3")
    three = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2), ("g3", "", g3)],
                           ports, proxy=PROXY_OPTS)
    rc, out = run_check(three)
    assert rc == 0, out
    for s in sents:
        s.proc.send_signal(signal.SIGHUP)
    # The new group's master gets a table owning nothing (seeded from the file).
    wait_until(lambda: node_table(g3[0]) == "g3", 20, what="g3 seeded")
    rc, out = cli("reshard", "--config", three, "--dry-run")
    assert rc == 0 and "nothing to move" in out, out
    rc, out = cli("rebalance", "--config", three, "--dry-run")
    assert rc == 0, out
    assert "g1 -> g3  slots 5462-8191 (2730 slots)" in out, out
    assert "g2 -> g3  slots 13653-16383 (2731 slots)" in out, out
    assert 'g3: slots: "5462-8191,13653-16383"' in out, out


# ---------------------------------------------------------------- moves

from test_cluster_migrate import check_key, in_move, keys_in, load_every_type  # noqa: E402

HALF = [("g1", "4096-8191"), ("g2", "0-4095,8192-16383")]   # half of g1's slots to g2


def edit(cluster, g1, g2, ports, name="topology.yaml"):
    return write_topology(cluster, [(HALF[0][0], HALF[0][1], g1), (HALF[1][0], HALF[1][1], g2)], ports,
                          proxy=PROXY_OPTS, name=name)


def cli_bg(*args):
    return subprocess.Popen([binary("strata-cli")] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def export_jobs(n):
    out = []
    for j in n.client(socket_timeout=5).execute_command("STRATA", "MIGRATE", "STATUS"):
        d = {k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in zip(j[0::2], j[1::2])}
        if d["role"] == "export":
            out.append(d)
    return out


def owns(n, lo, hi, group, epoch):
    r = n.client(socket_timeout=5).execute_command("STRATA", "SLOTS")
    ranges = dict(zip(r[0::2], r[1::2]))[b"ranges"]
    return [lo, hi, group.encode(), epoch] in [list(x) for x in ranges]


class Load:
    """A writer and a reader through the proxy.  The writer SETs keys of
    both halves of g1 (and of g2) with increasing values and records the
    acknowledged ones; the reader GETs the same keys and checks each read
    is at least the value acknowledged before it asked (the latest
    acknowledged write is never missed)."""

    def __init__(self, port, seconds=120):
        self.port, self.seconds = port, seconds
        self.keys = keys_in(0, 4095, 150, "w") + keys_in(4096, 16383, 50, "w")
        self.acked = {}
        self.errors = []
        self.reads = self.writes = 0
        self.stop_flag = threading.Event()
        self.th = [threading.Thread(target=self.writer), threading.Thread(target=self.reader)]

    def writer(self):
        c = redis.Redis(port=self.port, socket_timeout=20)
        deadline = time.monotonic() + self.seconds
        i = 0
        try:
            while not self.stop_flag.is_set() and time.monotonic() < deadline and i < 500_000:
                k = self.keys[i % len(self.keys)]
                assert c.set(k, str(i))
                self.acked[k] = i
                self.writes += 1
                i += 1
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.errors.append("writer: " + repr(e))

    def reader(self):
        c = redis.Redis(port=self.port, socket_timeout=20)
        deadline = time.monotonic() + self.seconds
        i = 0
        try:
            while not self.stop_flag.is_set() and time.monotonic() < deadline and i < 500_000:
                k = self.keys[(i * 7) % len(self.keys)]
                before = self.acked.get(k)
                v = c.get(k)
                if before is not None:
                    assert v is not None and int(v) >= before, (k, v, before)
                self.reads += 1
                i += 1
        except Exception as e:  # noqa: BLE001
            self.errors.append("reader: " + repr(e))

    def start(self):
        for t in self.th:
            t.start()
        wait_until(lambda: self.writes > 200 and self.reads > 200 or self.errors, 20, what="load running")
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.th:
            t.join(60)
        assert not self.errors, self.errors
        assert self.writes > 200 and self.reads > 200


def test_reshard_moves_keys_under_load(cluster, two_groups):
    g1, g2, ports, topo, sents = two_groups
    old_file = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports,
                              proxy=PROXY_OPTS, name="old.yaml")
    proxy = cluster.proxy(topo)
    r = proxy.client(socket_timeout=20)
    exp = load_every_type(r, 20_000)
    ttl_keys = [k for k in exp if k.startswith("ttl:")]
    expire_before = {k: r.pexpiretime(k) for k in ttl_keys}
    assert all(v > 0 for v in expire_before.values())
    moving = [k for k in exp if in_move(k)]
    assert g1[0].client().dbsize() == sum(1 for k in exp if key_slot(k) <= 8191)

    edit(cluster, g1, g2, ports)
    load = Load(proxy.port).start()
    rc, out = cli("reshard", "--config", topo, "--yes", "--rate-mb", "4", timeout=180)
    load.stop()
    assert rc == 0, out
    assert "g1 -> g2  slots 0-4095 (4096 slots)" in out, out
    assert "job g1-g2-0-" in out and ": done (" in out, out
    assert "done: the slot map matches the plan" in out, out
    # Both masters' tables and the sentinels' map: 0-4095 is g2's, epoch 2.
    assert owns(g1[0], 0, 4095, "g2", 2) and owns(g2[0], 0, 4095, "g2", 2)
    for s in sents:
        wait_until(lambda s=s: (0, 4095, "g2", 2) in sentinel_slots(s), 10, what="sentinels' map")
    # Every key and every acknowledged write, through the proxy and on the
    # owner; TTLs kept to the millisecond.
    for k, want in exp.items():
        check_key(r, k, want)
        check_key(g2[0].client() if in_move(k) or key_slot(k) > 8191 else g1[0].client(), k, want)
    for k, v in load.acked.items():
        assert r.get(k) == str(v).encode(), k
    for k in ttl_keys:
        assert r.pexpiretime(k) == expire_before[k], k
    # g1 kept only its half (the source trimmed what it gave).
    all_keys = set(exp) | set(load.acked)
    wait_until(lambda: g1[0].client().dbsize() == sum(1 for k in all_keys if 4096 <= key_slot(k) <= 8191),
               20, what="source trimmed")
    assert g2[0].client().dbsize() == sum(1 for k in all_keys if in_move(k) or key_slot(k) > 8191)
    tab = g1[0].client().execute_command("STRATA", "SLOTS")
    assert dict(zip(tab[0::2], tab[1::2]))[b"unowned_keys"] == 0
    with pytest.raises(redis.ResponseError, match="^MOVED"):
        g1[0].client().get(moving[0])

    # SIGHUP: the file now matches the map; nothing is kept back, no hop.
    reloads = r.info("server")["reloads"]
    proxy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: r.info("server")["reloads"] > reloads, 10, what="proxy reload")
    assert "needs a slot migration" not in log_of(proxy)
    moved = r.info("server")["moved"]
    for k in moving:
        check_key(r, k, exp[k])
    assert r.info("server")["moved"] == moved
    rc, out = run_check(topo)
    assert rc == 0 and "needs a slot migration" not in out, out
    # A restarted proxy, and a new one given the old file: both route by the
    # sentinels' map at once.
    proxy.stop()
    proxy.start()
    r = proxy.client(socket_timeout=20)
    for k in moving:
        check_key(r, k, exp[k])
    assert r.info("server")["moved"] == 0
    old = cluster.proxy(old_file, name="proxy-old")
    ro = old.client(socket_timeout=20)
    for k in moving:
        check_key(ro, k, exp[k])
    assert ro.set(moving[0], "new") and g2[0].client().get(moving[0]) == b"new"
    assert ro.info("server")["moved"] == 0
    # Nothing left to do.
    rc, out = cli("reshard", "--config", topo, "--yes")
    assert rc == 0 and "nothing to move" in out, out


def test_status_pause_resume_cancel_and_killed_cli(cluster, two_groups):
    g1, g2, ports, topo, sents = two_groups
    proxy = cluster.proxy(topo)
    r = proxy.client(socket_timeout=20)
    exp = load_every_type(r, 60_000)
    edit(cluster, g1, g2, ports)
    # Slow (0.2 MB/s): the job is caught mid-copy.
    p = cli_bg("reshard", "--config", topo, "--yes", "--rate-mb", "0.2")
    try:
        wait_until(lambda: [j for j in export_jobs(g1[0]) if j["keys_copied"] > 0], 30, what="copy under way")
        job = export_jobs(g1[0])[0]["job"]
        rc, out = cli("status", "--config", topo)
        assert rc == 0 and f"job {job}  g1 export  copy  slots 0-4095  peer g2" in out, out
        assert f"g2 import  copy  slots 0-4095  peer g1" in out, out
        # pause / resume
        rc, out = cli("pause", "--config", topo)
        assert rc == 0 and f"job {job}: pause" in out, out
        assert export_jobs(g1[0])[0]["state"] == "paused"
        n = export_jobs(g1[0])[0]["bytes_copied"]
        time.sleep(2)   # longer than a chunk takes at 0.2 MB/s
        assert export_jobs(g1[0])[0]["bytes_copied"] == n
        rc, out = cli("status", "--config", topo)
        assert f"job {job}  g1 export  paused" in out, out
        rc, out = cli("resume", "--config", topo, job)
        assert rc == 0 and f"job {job}: resume" in out, out
        wait_until(lambda: export_jobs(g1[0])[0]["bytes_copied"] > n, 10, what="copy resumed")
        rc, out = cli("pause", "--config", topo, "nope")
        assert rc == 1 and "no running export job of that id" in out, out
        # cancel: the job aborts, the running strata-cli stops without
        # starting it again, nothing moved.
        rc, out = cli("cancel", "--config", topo)
        assert rc == 0 and f"job {job}: cancel" in out, out
        out = p.communicate(timeout=30)[0].decode()
        assert p.returncode == 1 and f"job {job}: aborted: cancelled" in out, out
        assert "1 job cancelled" in out, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert owns(g1[0], 0, 8191, "g1", 1)
    wait_until(lambda: g2[0].client().info("migration").get("migrate_trimming") == 0, 30)
    for k, want in exp.items():
        check_key(r, k, want)

    # SIGKILL of strata-cli mid-move: the job runs on; a rerun adopts it
    # (at its own rate) and finishes.
    p = cli_bg("reshard", "--config", topo, "--yes", "--rate-mb", "0.2")
    try:
        wait_until(lambda: [j for j in export_jobs(g1[0]) if j["state"] == "copy" and j["keys_copied"] > 0],
                   30, what="copy under way")
        p.kill()
        p.wait()
        job = [j for j in export_jobs(g1[0]) if j["state"] == "copy"][0]["job"]
        n = export_jobs(g1[0])[0]["bytes_copied"]
        # The node carries on alone.
        wait_until(lambda: export_jobs(g1[0])[0]["bytes_copied"] > n, 15, what="copy goes on")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    rc, out = cli("reshard", "--config", topo, "--yes", "--rate-mb", "20", timeout=180)
    assert rc == 0, out
    assert f"job {job} (g1 -> g2, slots 0-4095) is already running: watching it" in out, out
    assert f"job {job}: rate set to 20 MB/s" in out, out
    assert f"job {job}: done" in out and "done: the slot map matches the plan" in out, out
    assert owns(g2[0], 0, 4095, "g2", 2)
    for k, want in exp.items():
        check_key(r, k, want)
    rc, out = cli("status", "--config", topo)
    assert "g2" in out and "0-4095,8192-16383" in out and "to other groups" not in out, out


@pytest.mark.parametrize("side,phase", [("target", "copy"), ("target", "fence"), ("source", "copy")])
def test_failover_mid_move(cluster, side, phase):
    """g2 (the target) loses its master mid-copy or mid-switch (the nodes
    hold the fence 6 s): the sentinels promote its replica and strata-cli
    finds it through them.  Mid-copy the source fails the job and
    strata-cli starts it again against the new master; mid-switch the
    source waits for the target's verdict, strata-cli names the new master
    (STRATA MIGRATE TARGET), which aborted the uncommitted import, and the
    job is started again.  Either way the move finishes there, and every
    key is readable through the proxy.  When g1 (the source) fails over
    mid-copy, its new master fails the job (it was promoted) and strata-cli
    starts it again from there."""
    semi = ["--min_replica_acks", "1", "--replica_ack_timeout_ms", "500", "--replica_ack_fallback", "async"]
    g1 = start_group(cluster, "g1", node_args=semi)
    g2 = start_group(cluster, "g2", node_args=semi)
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports, proxy=PROXY_OPTS)
    sents = start_sentinels(cluster, topo, ports)
    for s in sents:
        wait_until(lambda s=s: sentinel_slots(s) == [(0, 8191, "g1", 1), (8192, 16383, "g2", 1)], 20,
                   what="map")
    proxy = cluster.proxy(topo)
    r = proxy.client(socket_timeout=20)
    exp = load_every_type(r, 40_000 if phase == "copy" else 3_000)
    edit(cluster, g1, g2, ports)
    if phase == "copy":
        p = cli_bg("reshard", "--config", topo, "--yes", "--rate-mb", "0.3")
    else:
        p = cli_bg("reshard", "--config", topo, "--yes", "--debug-fence-ms", "6000")
    try:
        if phase == "copy":
            wait_until(lambda: [j for j in export_jobs(g1[0]) if j["keys_copied"] > 0], 30, what="copy under way")
        else:
            wait_until(lambda: [j for j in export_jobs(g1[0]) if j["state"] == "fence"], 30, what="fence")
        (g2 if side == "target" else g1)[0].kill()
        out = p.communicate(timeout=240)[0].decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out
    assert "done: the slot map matches the plan" in out, out
    if phase == "fence":
        assert f"group g2 failed over: its master is now 127.0.0.1:{g2[1].port}" in out, out
        assert "aborted: the target aborted the import" in out, out
    if side == "source":
        assert "promoted" in out, out
        assert g1[1].client().execute_command("ROLE")[0] == b"master"
        assert owns(g1[1], 4096, 8191, "g1", 1) and owns(g2[0], 0, 4095, "g2", 2)
        for k, want in exp.items():
            check_key(r, k, want)
        return
    new = g2[1]
    assert new.client().execute_command("ROLE")[0] == b"master"
    assert owns(new, 0, 4095, "g2", 2)
    for k, want in exp.items():
        check_key(r, k, want)
    for k in [k for k in exp if in_move(k)][:100]:
        assert new.client().exists(k) == 1, k


class ProxiesLoad:
    """A writer and a reader through each of several proxies, which the
    test kills and restarts.  Each writer SETs its own keys (of the moving
    half of g1, the other half and g2) with increasing values; a write
    whose reply is lost (its proxy died) is sent again with the same value
    until a proxy acknowledges it, so afterwards every key holds exactly
    its last acknowledged value.  Each reader GETs every writer's keys and
    checks each read is at least the value acknowledged before it asked.
    Connection errors (a proxy down) are counted and retried; any other
    error fails the test."""

    def __init__(self, proxies, seconds=90):
        self.proxies, self.seconds = proxies, seconds
        self.keys = [keys_in(0, 4095, 60, f"w{i}") + keys_in(4096, 16383, 20, f"w{i}")
                     for i in range(len(proxies))]
        self.all_keys = [k for ks in self.keys for k in ks]
        self.acked = {}
        self.pending = {}           # key -> value sent, not acknowledged when the writer stopped
        self.errors = []
        self.down = [0] * len(proxies)
        self.writes = [0] * len(proxies)
        self.reads = [0] * len(proxies)
        self.stop_flag = threading.Event()
        self.th = [threading.Thread(target=self.writer, args=(i,)) for i in range(len(proxies))] + \
                  [threading.Thread(target=self.reader, args=(i,)) for i in range(len(proxies))]

    def _retry(self, i, fn, deadline):
        """fn() through proxy i, again while the proxy is down; None if
        the time is up."""
        while time.monotonic() < deadline:
            try:
                return fn()
            except (redis.ConnectionError, redis.TimeoutError):
                self.down[i] += 1
                time.sleep(0.05)
        return None

    def writer(self, i):
        c = redis.Redis(port=self.proxies[i].port, socket_timeout=20)
        keys = self.keys[i]
        deadline = time.monotonic() + self.seconds
        n = 0
        try:
            while not self.stop_flag.is_set() and time.monotonic() < deadline and n < 500_000:
                k, v = keys[n % len(keys)], n
                self.pending[k] = v
                if self._retry(i, lambda: c.set(k, str(v)), deadline) is None:
                    return                     # out of time with this write unacknowledged
                assert self.pending.pop(k) == v
                self.acked[k] = v
                self.writes[i] += 1
                n += 1
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.errors.append(f"writer {i}: {e!r}")

    def reader(self, i):
        c = redis.Redis(port=self.proxies[i].port, socket_timeout=20)
        deadline = time.monotonic() + self.seconds
        n = 0
        try:
            while not self.stop_flag.is_set() and time.monotonic() < deadline and n < 500_000:
                k = self.all_keys[(n * 7) % len(self.all_keys)]
                before = self.acked.get(k)
                v = self._retry(i, lambda: (c.get(k),), deadline)
                if v is None:
                    return
                v = v[0]
                if before is not None:
                    assert v is not None and int(v) >= before, (k, v, before)
                self.reads[i] += 1
                n += 1
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"reader {i}: {e!r}")

    def progress(self):
        return sum(self.writes) + sum(self.reads)

    def wait_progress(self, n=200, timeout=20):
        base = [self.writes[:], self.reads[:]]
        wait_until(lambda: self.errors or all(w - b >= n for w, b in zip(self.writes, base[0])) and
                   all(r - b >= n for r, b in zip(self.reads, base[1])), timeout,
                   what="load running through every proxy")
        assert not self.errors, self.errors

    def start(self):
        for t in self.th:
            t.start()
        self.wait_progress()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.th:
            t.join(60)
        assert not any(t.is_alive() for t in self.th)
        assert not self.errors, self.errors
        assert not self.pending, f"writes never acknowledged: {self.pending}"


def test_proxy_killed_mid_move(cluster, two_groups):
    """SIGKILL of a proxy during the copy and of another during the switch
    (the nodes hold the fence 2.5 s), each restarted at once, while a
    writer and a reader run through both and strata-cli reshard moves half
    of g1 to g2.  Neither proxy's file is edited (the operator edits the
    one strata-cli reads).  Afterwards every acknowledged write, and every
    key written before, reads back through both proxies; each key is stored
    once (the owner has it, DBSIZEs add up after the trim); both restarted
    proxies send the moved slots to g2 directly (no -MOVED) and writes
    there land on g2's master; the move finished."""
    g1, g2, ports, topo, sents = two_groups
    opts = dict(PROXY_OPTS, timeout_ms=6000)   # longer than the fence is held
    old_file = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports,
                              proxy=opts, name="proxies.yaml")
    old_text = open(old_file).read()
    pa = cluster.proxy(old_file, name="proxy-a")
    pb = cluster.proxy(old_file, name="proxy-b")
    exp = load_every_type(pa.client(socket_timeout=20), 20_000)
    moving = [k for k in exp if in_move(k)]

    edit(cluster, g1, g2, ports)
    load = ProxiesLoad([pa, pb]).start()
    p = cli_bg("reshard", "--config", topo, "--yes", "--rate-mb", "0.5", "--debug-fence-ms", "2500")
    try:
        # The copy: proxy a dies and comes back on the same port.
        wait_until(lambda: [j for j in export_jobs(g1[0]) if j["state"] == "copy" and j["keys_copied"] > 0],
                   30, what="copy under way")
        pa.kill()
        pa.start()
        assert export_jobs(g1[0])[0]["state"] == "copy", "the copy ended before proxy a was back"
        load.wait_progress()
        # The switch: proxy b dies inside the fence, comes back while
        # the slots are parked or just after the commit.
        wait_until(lambda: export_jobs(g1[0])[0]["state"] in ("fence", "commit", "trim", "done"), 60,
                   interval=0.01, what="fence")
        assert export_jobs(g1[0])[0]["state"] == "fence"
        pb.kill()
        pb.start()
        out = p.communicate(timeout=120)[0].decode()
        load.wait_progress()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    load.stop()
    assert p.returncode == 0, out
    assert ": done (" in out and "done: the slot map matches the plan" in out, out
    assert min(load.down) > 0, "a proxy was killed under each client"
    assert owns(g1[0], 0, 4095, "g2", 2) and owns(g2[0], 0, 4095, "g2", 2)
    assert open(old_file).read() == old_text
    # Every key and acknowledged write, through either proxy.
    for px in (pa, pb):
        r = px.client(socket_timeout=20)
        for k, want in exp.items():
            check_key(r, k, want)
        got = r.mget(list(load.acked))
        bad = [(k, v, g) for (k, v), g in zip(load.acked.items(), got) if g != str(v).encode()]
        assert not bad, bad[:5]
    # Each key once: on its owner, and the DBSIZEs add up once trimmed.
    all_keys = set(exp) | set(load.acked)
    on_g2 = {k for k in all_keys if in_move(k) or key_slot(k) > 8191}
    wait_until(lambda: g1[0].client().dbsize() == len(all_keys) - len(on_g2), 30, what="source trimmed")
    assert g2[0].client().dbsize() == len(on_g2)
    assert all(g2[0].client().exists(k) == 1 for k in moving)
    # The restarted proxies send the moved slots to g2 (the sentinels'
    # map; their own file still says g1): once their map has caught up,
    # reading every moved key costs no -MOVED.
    for px in (pa, pb):
        r = px.client(socket_timeout=20)

        def no_hop():
            before = r.info("server")["moved"]
            for k in moving:
                check_key(r, k, exp[k])
            return r.info("server")["moved"] == before
        wait_until(no_hop, 10, what=f"{px.name} routes the moved slots to g2")
    for px, k in zip((pa, pb), [k for k in moving if exp[k][0] == "string"]):
        assert px.client().set(k, px.name) and g2[0].client().get(k) == px.name.encode()
    # A proxy started now from the same old file: right at once.
    pc = cluster.proxy(old_file, name="proxy-c")
    rc_ = pc.client(socket_timeout=20)
    for k in moving:
        assert rc_.exists(k) == 1, k
    assert rc_.info("server")["moved"] == 0
    rc, out = cli("reshard", "--config", topo, "--yes")
    assert rc == 0 and "nothing to move" in out, out
