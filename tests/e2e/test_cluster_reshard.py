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

The full move (STRATA MIGRATE on the nodes) is tested once the node side
is merged: see test_reshard_moves_keys_under_load."""
import os
import signal
import subprocess

import pytest
import redis

from harness import binary, free_port, wait_until
from proxy_util import run_check
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
