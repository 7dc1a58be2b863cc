#!/usr/bin/python3
"""Nemesis runs: a Strata cluster (2 groups x 3 strata-node, 3
strata-sentinel, strata-proxy), each process in a network namespace of its
own on one bridge, clients through the proxy, and a nemesis injecting
faults at random and in combination; then tests/nemesis/checker.py.

    sudo /usr/bin/python3 tests/nemesis/run.py [--duration S] [--runs N]
         [--seed N] [--mode strata|redis] [--out DIR] [--bin DIR]

--mode redis is the anchor: the same harness against redis-server 7.0 with
Redis Sentinel (redis-server --sentinel), the clients asking the sentinels
for each group's master, since there is no proxy.  Needs root (ip netns,
mount).  Nothing but Debian's Python and redis-py; iproute2 for netns,
veth, bridge and routes.

Layout: bridge nb<tag> in the root namespace (10.<net>.0.254/24, where the
clients run); namespace n<tag>-<proc> per process, its veth's far end
10.<net>.0.<i>.  Every node's data dir is a small tmpfs of its own (the
full-disk fault fills it).

Faults (each lasts a random 1.5-8 s, at most `--max-faults` at once):
  kill          SIGKILL a random process; restarted when the fault ends
  pause         SIGSTOP a random process; SIGCONT when it ends
  part-master   a group's current master alone (its veth down)
  part-master+1 a group's master and one of its replicas against the rest
  part-sent     one sentinel against the other two (nodes reachable by all)
  part-proxy    the proxy cut off from nodes and sentinels (not clients)
  part-random   a random half of the processes against the other half
  disk-full     a node's data filesystem filled to the last block
  disk-slow     every LevelDB write of a node waits 50-1000 ms (strata
                only: the node's test hook STRATA_TEST_DISK_DELAY_FILE,
                see node/storage/store.c; a slowed fsync stalls the node's
                thread as it would on a failing disk)
Partitions between processes are blackhole routes in both namespaces (a
dropped route, not an RST), isolations are the veth set down.  The slow
disk is a test hook rather than a cgroup io.max or dm-delay: the data dirs
are tmpfs (no block device to throttle) and a container has no
device-mapper; the hook delays the node where a slow device would.

Output per run: human-readable lines and <out>/run-<i>.json (operations,
faults, lost writes, violations, longest unavailability per group, time to
recover after the faults stopped), and <out>/summary.json over all runs.
Exit status 1 if any run lost a write, had a violation, or did not recover
within --recover-bound seconds (in strata mode; the anchor only reports).
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------------ helpers

def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def tag_for_group(gi, ngroups=2):
    """A hash tag whose slot belongs to group gi (slots split evenly)."""
    per = 16384 // ngroups
    for i in range(100000):
        t = f"t{i}"
        if crc16(t.encode()) % 16384 // per == gi:
            return t
    raise RuntimeError("no tag")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------ network

class Net:
    """A bridge in the root namespace and one namespace per process."""

    def __init__(self, tag):
        self.tag = tag
        used = sh("ip", "-o", "-4", "addr").stdout
        octet = next(o for o in [100 + (tag + k) % 150 for k in range(150)]
                     if f" 10.{o}." not in used)
        self.net = f"10.{octet}"
        self.br = f"nb{tag}"
        self.ns = {}     # name -> (ns, veth root end, veth ns end, ip)
        sh("ip", "link", "add", self.br, "type", "bridge")
        sh("ip", "addr", "add", f"{self.net}.0.254/24", "dev", self.br)
        sh("ip", "link", "set", self.br, "up")

    def add(self, name, idx):
        ns = f"n{self.tag}-{name}"
        va, vb = f"nv{self.tag}a{idx}", f"nv{self.tag}b{idx}"
        ip = f"{self.net}.0.{idx}"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "master", self.br)
        sh("ip", "link", "set", va, "up")
        sh("ip", "link", "set", vb, "netns", ns)
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ip}/24", "dev", vb)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", vb, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        self.ns[name] = (ns, va, vb, ip)
        return ns, ip

    def isolate(self, name, down=True):
        ns, va, vb, ip = self.ns[name]
        sh("ip", "link", "set", va, "down" if down else "up")

    def cut(self, a, b):
        """Drop traffic between a and b, both ways."""
        for x, y in ((a, b), (b, a)):
            sh("ip", "netns", "exec", self.ns[x][0], "ip", "route", "replace", "blackhole",
               f"{self.ns[y][3]}/32")

    def heal(self):
        for name, (ns, va, vb, ip) in self.ns.items():
            sh("ip", "link", "set", va, "up", check=False)
            sh("ip", "netns", "exec", ns, "ip", "route", "flush", "type", "blackhole", check=False)

    def close(self):
        for name, (ns, va, vb, ip) in self.ns.items():
            sh("ip", "link", "del", va, check=False)
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", self.br, check=False)


# ------------------------------------------------------------------ processes

class Proc:
    def __init__(self, name, kind, ns, ip, port, argv, workdir, group=None, disk=None, env=None):
        self.name, self.kind, self.ns, self.ip, self.port = name, kind, ns, ip, port
        self.argv, self.workdir, self.group, self.disk = argv, workdir, group, disk
        self.env = env
        # The slow-disk knob (outside the node's small filesystem, which
        # the disk-full fault fills); only strata nodes read it.
        self.delay_file = os.path.join(workdir, f"{name}.disk-delay-ms") if env else None
        self.p = None
        self.stopped = False

    def start(self):
        logf = open(os.path.join(self.workdir, f"{self.name}.log"), "ab")
        self.p = subprocess.Popen(["ip", "netns", "exec", self.ns] + self.argv, stdout=logf,
                                  stderr=subprocess.STDOUT, cwd=self.workdir,
                                  preexec_fn=os.setpgrp,
                                  env=dict(os.environ, **self.env) if self.env else None)
        logf.close()
        self.stopped = False

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def kill(self):
        if self.alive():
            if self.stopped:
                os.kill(self.p.pid, signal.SIGCONT)
            os.kill(self.p.pid, signal.SIGKILL)
            self.p.wait()
        self.stopped = False

    def client(self, timeout=2.0):
        return redis.Redis(host=self.ip, port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout)


def wait_ping(proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.client(1).ping():
                return True
        except redis.RedisError:
            pass
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited; see {proc.workdir}/{proc.name}.log")
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} does not answer")


class Cluster:
    """Strata or Redis; names g<G>n<I> (nodes), s<I> (sentinels), proxy."""

    def __init__(self, mode, bindir, workdir, tag):
        self.mode, self.bindir, self.workdir = mode, bindir, workdir
        self.net = Net(tag)
        self.procs = {}
        self.mounts = []
        self.groups = ["g1", "g2"]
        self.layout = []
        for gi, g in enumerate(self.groups):
            for i in range(3):
                self.layout.append((f"{g}n{i}", "node", g, 11 + 10 * gi + i))
        for i in range(3):
            self.layout.append((f"s{i}", "sentinel", None, 31 + i))
        if mode == "strata":
            self.layout.append(("proxy", "proxy", None, 41))

    def ip_of(self, name):
        return self.net.ns[name][3]

    def setup(self):
        for name, kind, g, idx in self.layout:
            self.net.add(name, idx)
        node_addrs = {g: [f"{self.ip_of(n)}:7000" for n, k, gg, _ in self.layout if gg == g]
                      for g in self.groups}
        sent_addrs = [f"{self.ip_of(n)}:26379" for n, k, _, _ in self.layout if k == "sentinel"]
        topo = os.path.join(self.workdir, "topology.yaml")
        if self.mode == "strata":
            lines = ["cluster: nemesis", "groups:"]
            for gi, g in enumerate(self.groups):
                lo, hi = gi * 8192, gi * 8192 + 8191
                lines += [f"  - name: {g}", f'    slots: "{lo}-{hi}"', "    nodes:"]
                lines += [f"      - {a}" for a in node_addrs[g]]
            # (the namespaces' addresses are not loopback and the run has
            # no password: protected mode off, as for the redis-servers)
            lines += ["proxy:", f"  listen: {self.ip_of('proxy')}:6379", "  timeout_ms: 2000",
                      "  protected_mode: no",
                      "  switch_wait_ms: 5000", "  sentinel_poll_ms: 500",
                      "sentinel:", "  addrs: [" + ", ".join(sent_addrs) + "]", "  quorum: 2",
                      "  down_after_ms: 1000", "  failover_timeout_ms: 3000", "  ping_ms: 100",
                      "  timeout_ms: 500", "  protected_mode: no"]
            with open(topo, "w") as f:
                f.write("\n".join(lines) + "\n")
        for name, kind, g, idx in self.layout:
            ns, ip = self.net.ns[name][0], self.ip_of(name)
            d = os.path.join(self.workdir, name)
            os.makedirs(d, exist_ok=True)
            if kind == "node":
                # A small filesystem of its own: the disk-full fault fills it.
                sh("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", d)
                self.mounts.append(d)
                master = node_addrs[g][0]
                first = name.endswith("n0")
                if self.mode == "strata":
                    argv = [os.path.join(self.bindir, "strata-node"), "--bind", ip, "--port", "7000",
                            "--dir", os.path.join(d, "data"), "--min_replica_acks", "1",
                            "--replica_ack_timeout_ms", "1000", "--replica_ack_fallback", "error",
                            "--fence_lease_ms", "1000", "--acked_reads", "yes", "--protected-mode", "no"]
                    if not first:
                        argv += ["--replicaof", master]
                else:
                    conf = os.path.join(d, "redis.conf")
                    with open(conf, "w") as f:
                        f.write(f"bind {ip}\nport 7000\ndir {d}\nappendonly yes\n"
                                "appendfsync everysec\nsave \"\"\nprotected-mode no\n"
                                "min-replicas-to-write 1\nmin-replicas-max-lag 10\n")
                        if not first:
                            f.write(f"replicaof {master.replace(':', ' ')}\n")
                    argv = ["redis-server", conf]
                env = None
                if self.mode == "strata":
                    env = {"STRATA_TEST_HOOKS": "1", "STRATA_TEST_DISK_DELAY_FILE":
                           os.path.join(self.workdir, f"{name}.disk-delay-ms")}
                p = Proc(name, kind, ns, ip, 7000, argv, self.workdir, group=g, disk=d, env=env)
            elif kind == "sentinel":
                if self.mode == "strata":
                    argv = [os.path.join(self.bindir, "strata-sentinel"), "--config", topo, "--port",
                            "26379", "--bind", ip, "--dir", d]
                else:
                    conf = os.path.join(d, "sentinel.conf")
                    with open(conf, "w") as f:
                        f.write(f"bind {ip}\nport 26379\ndir {d}\nprotected-mode no\n")
                        for g2 in self.groups:
                            mh, mp = node_addrs[g2][0].split(":")
                            f.write(f"sentinel monitor {g2} {mh} {mp} 2\n"
                                    f"sentinel down-after-milliseconds {g2} 1000\n"
                                    f"sentinel failover-timeout {g2} 3000\n"
                                    f"sentinel parallel-syncs {g2} 1\n")
                    argv = ["redis-server", conf, "--sentinel"]
                p = Proc(name, kind, ns, ip, 26379, argv, self.workdir)
            else:
                argv = [os.path.join(self.bindir, "strata-proxy"), "--config", topo]
                p = Proc(name, kind, ns, ip, 6379, argv, self.workdir)
            self.procs[name] = p
        # Masters first, then replicas, sentinels, the proxy.
        order = sorted(self.procs.values(), key=lambda p: (p.kind != "node", not p.name.endswith("n0"),
                                                           p.kind == "proxy"))
        for p in order:
            p.start()
            wait_ping(p)
            if p.kind == "node" and not p.name.endswith("n0"):
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    try:
                        if p.client().info("replication").get("master_link_status") == "up":
                            break
                    except redis.RedisError:
                        pass
                    time.sleep(0.1)
        time.sleep(2)  # sentinels meet, the proxy learns the masters

    def nodes(self, group=None):
        return [p for p in self.procs.values() if p.kind == "node" and (group is None or p.group == group)]

    def sentinels(self):
        return [p for p in self.procs.values() if p.kind == "sentinel"]

    def master_of(self, group):
        """The group's master as a reachable sentinel says, else by ROLE."""
        for s in self.sentinels():
            try:
                a = s.client(0.5).execute_command("SENTINEL", "get-master-addr-by-name", group)
                if a:
                    host = a[0].decode()
                    for p in self.nodes(group):
                        if p.ip == host:
                            return p
            except redis.RedisError:
                pass
        return self.nodes(group)[0]

    def close(self, keep):
        for p in self.procs.values():
            try:
                p.kill()
            except OSError:
                pass
        for d in self.mounts:
            sh("umount", "-l", d, check=False)
        self.net.close()


# ------------------------------------------------------------------ clients

class Router:
    """Where a key's commands go: the proxy, or (redis mode) the group's
    master as the sentinels name it."""

    def __init__(self, cluster, tags):
        self.c = cluster
        self.tags = tags  # tag -> group
        self.conns = {}

    def conn(self, key):
        if self.c.mode == "strata":
            if "proxy" not in self.conns:
                self.conns["proxy"] = self.c.procs["proxy"].client(3.0)
            return self.conns["proxy"]
        g = self.tags[key[1:key.index("}")]]
        if g not in self.conns:
            m = None
            for s in self.c.sentinels():
                try:
                    a = s.client(0.5).execute_command("SENTINEL", "get-master-addr-by-name", g)
                    if a:
                        m = (a[0].decode(), int(a[1]))
                        break
                except redis.RedisError:
                    pass
            if not m:
                raise redis.ConnectionError("no sentinel answered")
            self.conns[g] = redis.Redis(host=m[0], port=m[1], socket_timeout=2.0,
                                        socket_connect_timeout=1.0)
        return self.conns[g]

    def reset(self, key):
        if self.c.mode == "strata":
            self.conns.pop("proxy", None)
        else:
            self.conns.pop(self.tags[key[1:key.index("}")]], None)


def keyset(tags):
    keys = {"register": [], "counter": [], "list": []}
    for t in tags:
        keys["register"] += [f"{{{t}}}:r{i}" for i in range(4)]
        keys["counter"] += [f"{{{t}}}:c{i}" for i in range(2)]
        keys["list"] += [f"{{{t}}}:l{i}" for i in range(2)]
    return keys


class Clients:
    def __init__(self, cluster, tags, nclients, seed):
        self.cluster, self.tags = cluster, tags
        self.keys = keyset(list(tags))
        self.history = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i, seed + i), daemon=True)
                        for i in range(nclients)]
        self.seq = 0

    def record(self, o):
        with self.lock:
            self.history.append(o)

    def uniq(self, p):
        with self.lock:
            self.seq += 1
            return f"p{p}-{self.seq}"

    def one(self, router, p, rnd):
        k = self.keys
        tag = rnd.choice(list(self.tags))
        pick = lambda kind: rnd.choice([x for x in k[kind] if x.startswith("{" + tag + "}")])  # noqa
        x = rnd.random()
        if x < 0.2:
            ops = [("write", pick("register"), self.uniq(p))]
        elif x < 0.4:
            ops = [("read", pick("register"), None)]
        elif x < 0.55:
            ops = [("incr", pick("counter"), None)]
        elif x < 0.62:
            ops = [("read", pick("counter"), None)]
        elif x < 0.77:
            ops = [("rpush", pick("list"), self.uniq(p))]
        elif x < 0.87:
            ops = [("lrange", pick("list"), None)]
        else:
            ops = [("write", pick("register"), self.uniq(p)), ("incr", pick("counter"), None),
                   ("rpush", pick("list"), self.uniq(p))]
        key0 = ops[0][1]
        inv = time.monotonic()
        try:
            r = router.conn(key0)
            if len(ops) == 1:
                f, key, v = ops[0]
                if f == "write":
                    res = [r.set(key, v)]
                elif f == "read":
                    res = [r.get(key)]
                elif f == "incr":
                    res = [r.incr(key)]
                elif f == "rpush":
                    res = [r.rpush(key, v)]
                else:
                    res = [r.lrange(key, 0, -1)]
            else:
                pipe = r.pipeline(transaction=True)
                pipe.set(ops[0][1], ops[0][2])
                pipe.incr(ops[1][1])
                pipe.rpush(ops[2][1], ops[2][2])
                res = pipe.execute()
            ret = time.monotonic()
            for (f, key, v), out in zip(ops, res):
                if isinstance(out, bytes):
                    out = out.decode()
                if isinstance(out, list):
                    out = [e.decode() for e in out]
                self.record({"p": p, "f": f, "key": key, "value": v, "inv": inv, "ret": ret,
                             "ok": True, "result": out, "multi": len(ops) > 1})
        except (redis.RedisError, OSError) as e:
            ret = time.monotonic()
            if isinstance(e, (redis.ConnectionError, redis.TimeoutError, OSError)) or \
                    "READONLY" in str(e):
                router.reset(key0)
            definite = self.refused_before_running(str(e))
            for f, key, v in ops:
                if f in ("write", "incr", "rpush"):
                    # The write may have happened (indeterminate), unless the
                    # error is one given before the command runs.
                    self.record({"p": p, "f": f, "key": key, "value": v, "inv": inv,
                                 "ret": ret if definite else None, "ok": False if definite else None,
                                 "result": None, "err": str(e)[:80], "err_at": ret,
                                 "multi": len(ops) > 1})
            time.sleep(0.05)

    def refused_before_running(self, err):
        """Errors a server gives before executing the command.  Strata's
        NOREPLICAS and "lost its lease before its replicas acknowledged"
        can come after the write was applied (semi-sync, fencing): they are
        indeterminate; Redis's NOREPLICAS is checked before the command."""
        if "You can't write against a read only replica" in err or "EXECABORT" in err:
            return True
        if "lost its lease (no majority" in err:
            return True
        return self.cluster.mode == "redis" and err.startswith("NOREPLICAS")

    def run(self, p, seed):
        rnd = random.Random(seed)
        router = Router(self.cluster, self.tags)
        while not self.stop.is_set():
            self.one(router, p, rnd)
            time.sleep(rnd.uniform(0.002, 0.02))

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def final_reads(self, timeout):
        """Read every key once more (final=True), retrying until it works."""
        router = Router(self.cluster, self.tags)
        for kind, ks in self.keys.items():
            for key in ks:
                deadline = time.monotonic() + timeout
                while True:
                    inv = time.monotonic()
                    try:
                        r = router.conn(key)
                        out = r.lrange(key, 0, -1) if kind == "list" else r.get(key)
                        out = [e.decode() for e in out] if kind == "list" else \
                            (out.decode() if out is not None else None)
                        self.record({"p": -1, "f": "lrange" if kind == "list" else "read",
                                     "key": key, "value": None, "inv": inv,
                                     "ret": time.monotonic(), "ok": True, "result": out,
                                     "final": True})
                        break
                    except (redis.RedisError, OSError):
                        router.reset(key)
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"final read of {key} impossible")
                        time.sleep(0.2)


# ------------------------------------------------------------------ nemesis

class Nemesis:
    KINDS = ["kill", "pause", "part-master", "part-master+1", "part-sent", "part-proxy",
             "part-random", "disk-full", "disk-slow"]

    def __init__(self, cluster, rnd, max_faults):
        self.c, self.rnd, self.max_faults = cluster, rnd, max_faults
        self.active = []   # (end time, kind, undo)
        self.faults = []   # records
        self.kinds = [k for k in self.KINDS
                      if cluster.mode == "strata" or k not in ("part-proxy", "disk-slow")]
        self.t0 = time.monotonic()

    def busy(self):
        names = set()
        for _, _, _, n in self.active:
            names |= n
        return names

    def inject(self):
        kind = self.rnd.choice(self.kinds)
        c, rnd = self.c, self.rnd
        busy = self.busy()
        free = [p for p in c.procs.values() if p.name not in busy]
        parts = any(k.startswith("part") for _, k, _, _ in self.active)
        dur = rnd.uniform(1.5, 8.0)
        desc, undo, names = None, None, set()
        if kind in ("kill", "pause") and free:
            p = rnd.choice(free)
            names = {p.name}
            if kind == "kill":
                p.kill()
                desc, undo = f"SIGKILL {p.name}", lambda p=p: (p.start())
            else:
                p.signal(signal.SIGSTOP)
                p.stopped = True
                def cont(p=p):
                    p.signal(signal.SIGCONT)
                    p.stopped = False
                desc, undo = f"SIGSTOP {p.name} {dur:.1f}s", cont
        elif kind.startswith("part") and not parts:
            if kind == "part-master":
                m = c.master_of(rnd.choice(c.groups))
                c.net.isolate(m.name)
                desc = f"isolate master {m.name}"
            elif kind == "part-master+1":
                g = rnd.choice(c.groups)
                m = c.master_of(g)
                r = rnd.choice([p for p in c.nodes(g) if p is not m])
                side = {m.name, r.name}
                self.cut(side)
                desc = f"partition {{{m.name},{r.name}}} | rest"
            elif kind == "part-sent":
                s = rnd.choice(c.sentinels())
                for o in c.sentinels():
                    if o is not s:
                        c.net.cut(s.name, o.name)
                desc = f"partition sentinels {{{s.name}}} | others"
            elif kind == "part-proxy":
                self.cut({"proxy"})
                desc = "partition proxy | cluster"
            else:
                allp = list(c.procs)
                rnd.shuffle(allp)
                side = set(allp[:len(allp) // 2])
                self.cut(side)
                desc = "partition {" + ",".join(sorted(side)) + "} | rest"
            undo = c.net.heal
        elif kind == "disk-full":
            cand = [p for p in c.nodes() if p.name not in busy]
            if cand:
                p = rnd.choice(cand)
                names = {p.name}
                fill = os.path.join(p.disk, "nemesis-fill")
                subprocess.run(["dd", "if=/dev/zero", f"of={fill}", "bs=1M"], capture_output=True,
                               timeout=30)
                desc, undo = f"disk full on {p.name}", lambda f=fill: os.path.exists(f) and os.unlink(f)
        elif kind == "disk-slow":
            cand = [p for p in c.nodes() if p.name not in busy and p.delay_file]
            if cand:
                p = rnd.choice(cand)
                names = {p.name}
                ms = rnd.choice([50, 200, 500, 1000])
                with open(p.delay_file, "w") as f:
                    f.write(f"{ms}\n")
                desc = f"slow disk on {p.name} ({ms} ms per write)"
                undo = lambda f=p.delay_file: os.path.exists(f) and os.unlink(f)
        if desc:
            t = time.monotonic()
            self.active.append((t + dur, kind, undo, names))
            self.faults.append({"kind": kind, "what": desc, "at": round(t - self.t0, 3),
                                "for": round(dur, 3)})
            log(f"nemesis: {desc} for {dur:.1f}s")

    def cut(self, side):
        for a in side:
            for b in self.c.procs:
                if b not in side:
                    self.c.net.cut(a, b)

    def tick(self):
        now = time.monotonic()
        keep = []
        for end, kind, undo, names in self.active:
            if now >= end:
                try:
                    undo()
                except Exception as e:  # noqa: BLE001 - report and go on healing
                    log(f"nemesis: undo of {kind} failed: {e}")
                log(f"nemesis: end {kind}")
            else:
                keep.append((end, kind, undo, names))
        self.active = keep
        if len(self.active) < self.max_faults and self.rnd.random() < 0.5:
            self.inject()

    def heal_all(self):
        for end, kind, undo, names in self.active:
            try:
                undo()
            except Exception as e:  # noqa: BLE001
                log(f"nemesis: undo of {kind} failed: {e}")
        self.active = []
        self.c.net.heal()
        for p in self.c.procs.values():
            if p.stopped:
                p.signal(signal.SIGCONT)
                p.stopped = False
            if not p.alive():
                p.start()
            if p.disk:
                f = os.path.join(p.disk, "nemesis-fill")
                if os.path.exists(f):
                    os.unlink(f)
            if p.delay_file and os.path.exists(p.delay_file):
                os.unlink(p.delay_file)


# ------------------------------------------------------------------ one run

def probe_until_writable(cluster, tags, timeout):
    """Seconds until a write to each group succeeds (None past timeout)."""
    t0 = time.monotonic()
    out = {}
    for tag, g in tags.items():
        router = Router(cluster, tags)
        key = f"{{{tag}}}:probe"
        while True:
            try:
                router.conn(key).set(key, "1")
                out[g] = round(time.monotonic() - t0, 3)
                break
            except (redis.RedisError, OSError):
                router.reset(key)
                if time.monotonic() - t0 > timeout:
                    out[g] = None
                    break
                time.sleep(0.1)
    return out


def one_run(args, i, seed):
    rnd = random.Random(seed)
    tag = (os.getpid() + i) % 1000
    workdir = tempfile.mkdtemp(prefix=f"nemesis-{args.mode}-{i}-", dir=args.tmp)
    log(f"run {i} ({args.mode}, seed {seed}, {args.duration}s): {workdir}")
    cl = Cluster(args.mode, args.bin, workdir, tag)
    result = {"run": i, "mode": args.mode, "seed": seed, "duration_s": args.duration,
              "workdir": workdir}
    clients = None
    try:
        cl.setup()
        tags = {tag_for_group(gi): g for gi, g in enumerate(cl.groups)}
        clients = Clients(cl, tags, args.clients, seed * 100)
        nem = Nemesis(cl, rnd, args.max_faults)
        t_start = time.monotonic()
        clients.start()
        time.sleep(min(3, args.duration / 10))
        nem.t0 = time.monotonic()
        while time.monotonic() - t_start < args.duration:
            nem.tick()
            time.sleep(rnd.uniform(0.5, 2.0))
        t_faults_end = time.monotonic()
        nem.heal_all()
        log("nemesis: healed everything; waiting for writes to succeed")
        recover = probe_until_writable(cl, tags, args.recover_bound)
        time.sleep(3)  # some more traffic on the healed cluster
        clients.finish()
        clients.final_reads(60)
        hist = clients.history
        log(f"checking {len(hist)} operations")
        chk = checker.check(hist, max_steps=args.max_steps)
        group_of = lambda k: tags[k[1:k.index("}")]]  # noqa
        unav = checker.unavailability(hist, group_of, t_start, t_faults_end)
        ok_ops = sum(1 for o in hist if o["ok"] and not o.get("final"))
        indet = sum(1 for o in hist if o["ok"] is None)
        acked_writes = sum(1 for o in hist if o["ok"] and o["f"] in ("write", "incr", "rpush"))
        result.update({
            "ops": len(hist), "ops_ok": ok_ops, "ops_indeterminate": indet,
            "acked_writes": acked_writes,
            "faults": len(nem.faults), "fault_kinds": {k: sum(1 for f in nem.faults if f["kind"] == k)
                                                       for k in nem.KINDS},
            "lost": len(chk["lost"]), "lost_detail": chk["lost"][:50],
            "violations": len(chk["violations"]), "violation_detail": chk["violations"][:50],
            # Keys with a violation (a violation is one message: one read
            # missing one element, one bad INCR reply, one key not
            # linearizable, so a list can give thousands).
            "violating_keys": len({v.split(": ", 1)[0] for v in chk["violations"]}),
            "unknown": chk["unknown"],
            "longest_unavailability_s": {g: round(v[0], 3) for g, v in unav.items()},
            "longest_unavailability_at": {g: [round(v[1] - t_start, 3), round(v[2] - t_start, 3)]
                                          for g, v in unav.items()},
            "recovered_after_s": recover,
            "fault_log": nem.faults,
        })
        with open(os.path.join(workdir, "history.json"), "w") as f:
            json.dump(hist, f)
    except Exception as e:  # noqa: BLE001 - a run that breaks is reported, not hidden
        result["error"] = repr(e)
        log(f"run {i} failed: {e!r}")
        if clients:
            clients.stop.set()
    finally:
        cl.close(args.keep)
    if not args.keep and "error" not in result and result.get("lost") == 0 and \
            result.get("violations") == 0:
        shutil.rmtree(workdir, ignore_errors=True)
        result["workdir"] = None
    return result


def verdict(r, bound):
    bad = []
    if "error" in r:
        bad.append("error")
    if r.get("lost"):
        bad.append("lost")
    if r.get("violations"):
        bad.append("violations")
    if any(v is None or v > bound for v in (r.get("recovered_after_s") or {}).values()):
        bad.append("not recovered")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=30, help="seconds of faults per run")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--mode", choices=["strata", "redis"], default="strata")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-faults", type=int, default=2, help="faults active at once")
    ap.add_argument("--recover-bound", type=float, default=30,
                    help="seconds the cluster may take to take writes after the faults stop")
    ap.add_argument("--max-steps", type=int, default=300000,
                    help="linearizability search bound per register key")
    ap.add_argument("--bin", default=os.environ.get("STRATA_BIN", os.path.join(ROOT, "build-test",
                                                                                "bin")))
    ap.add_argument("--out", default=None, help="directory for the JSON results")
    ap.add_argument("--tmp", default=None, help="where run directories go")
    ap.add_argument("--keep", action="store_true", help="keep run directories")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("nemesis: needs root (network namespaces, mounts)", file=sys.stderr)
        return 2
    for tool in ("ip", "dd", "mount"):
        if not shutil.which(tool):
            print(f"nemesis: {tool} missing (bash deploy/install-deps.sh)", file=sys.stderr)
            return 2
    out = args.out or tempfile.mkdtemp(prefix="nemesis-out-")
    os.makedirs(out, exist_ok=True)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    results = []
    for i in range(args.runs):
        r = one_run(args, i, seed + i)
        results.append(r)
        with open(os.path.join(out, f"run-{i}.json"), "w") as f:
            json.dump(r, f, indent=1)
        bad = verdict(r, args.recover_bound)
        if "error" in r:
            log(f"run {i}: ERROR {r['error']}")
        else:
            log(f"run {i}: ops {r['ops']} (ok {r['ops_ok']}, indeterminate {r['ops_indeterminate']}, "
                f"acked writes {r['acked_writes']}), faults {r['faults']} ("
                + " ".join(f"{k} {n}" for k, n in r["fault_kinds"].items() if n)
                + f"), lost {r['lost']}, "
                f"violations {r['violations']} (in {r['violating_keys']} keys), unknown {len(r['unknown'])}, longest unavailability "
                + ", ".join(f"{g} {v:.1f}s" for g, v in sorted(r["longest_unavailability_s"].items()))
                + ", writable again after " + ", ".join(f"{g} {v}s" for g, v in
                                                        sorted(r["recovered_after_s"].items()))
                + (f" -> {', '.join(bad)}" if bad else " -> ok"))
            for line in (r["lost_detail"][:5] + r["violation_detail"][:5]):
                log(f"  {line}")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"mode": args.mode, "seed": seed, "runs": [
            {k: r.get(k) for k in ("run", "seed", "ops", "ops_ok", "acked_writes", "faults", "lost",
                                   "violations", "violating_keys", "unknown", "longest_unavailability_s",
                                   "recovered_after_s", "error")} for r in results]}, f, indent=1)
    log(f"results in {out}")
    if args.mode == "redis":
        return 0
    return 1 if any(verdict(r, args.recover_bound) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
