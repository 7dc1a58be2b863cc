"""Helpers for the strata-proxy end-to-end tests.

Topology files are written by hand (no YAML library needed); slots of a
key are computed here with the same CRC16/hash-tag rule as the proxy, so
tests can pick keys that land in each group on purpose.
"""
import os
import signal

from harness import binary, free_port, wait_until  # noqa: F401 - re-exported


def crc16(data: bytes) -> int:
    """CRC16-XMODEM, as Redis Cluster uses for key slots."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def key_slot(key) -> int:
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % 16384


def even_ranges(n):
    """n contiguous slot ranges covering 0..16383."""
    bounds = [i * 16384 // n for i in range(n + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(n)]


def group_of(key, ranges):
    s = key_slot(key)
    for i, (lo, hi) in enumerate(ranges):
        if lo <= s <= hi:
            return i
    raise AssertionError("slot not covered")


def keys_for_group(ranges, g, count, prefix="k"):
    """`count` distinct keys whose slots fall in ranges[g]."""
    out, i = [], 0
    while len(out) < count:
        k = f"{prefix}:{i}"
        if group_of(k, ranges) == g:
            out.append(k)
        i += 1
    return out


def topology_text(groups, proxy=None, password=None, sentinel=None, cluster="test"):
    """groups: list of (name, slots, [addr, ...]); slots is a string."""
    lines = [f"cluster: {cluster}"]
    if password is not None:
        lines.append(f'password: "{password}"')
    lines.append("groups:")
    for name, slots, nodes in groups:
        lines.append(f"  - name: {name}")
        lines.append(f'    slots: "{slots}"')
        lines.append("    nodes:")
        for n in nodes:
            lines.append(f"      - {n}")
    if proxy:
        lines.append("proxy:")
        for k, v in proxy.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append(f"  {k}: {v}")
    if sentinel:
        lines.append("sentinel:")
        for k, v in sentinel.items():
            if isinstance(v, list):
                v = "[" + ", ".join(v) + "]"
            lines.append(f"  {k}: {v}")
    return "\n".join(lines) + "\n"


def write_file(cluster, name, text):
    path = cluster.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


class ProxySetup:
    """n groups of one redis-server each, and a strata-proxy in front."""

    def __init__(self, cluster, ngroups, proxy_opts=None, password=None, args=(),
                 backend_args=(), ranges=None):
        self.cluster = cluster
        self.ranges = ranges or even_ranges(ngroups)
        self.password = password
        self.backends = [cluster.redis(name=f"redis-g{i + 1}", args=list(backend_args))
                         for i in range(ngroups)]
        if password:
            # set after start: the harness's readiness probe has no password
            for b in self.backends:
                b.client().config_set("requirepass", password)
        self.proxy_opts = dict(proxy_opts or {})
        self.proxy_opts.setdefault("timeout_ms", 1000)
        self.topo = write_file(cluster, "topology.yaml", self.text())
        self.proxy = cluster.proxy(self.topo, args=list(args), start=False)
        self.proxy.start(wait=False)
        self.wait_ready()

    def text(self, ranges=None):
        ranges = ranges or self.ranges
        groups = [(f"g{i + 1}", f"{lo}-{hi}", [f"127.0.0.1:{b.port}"])
                  for i, ((lo, hi), b) in enumerate(zip(ranges, self.backends))]
        return topology_text(groups, proxy=self.proxy_opts, password=self.password)

    def wait_ready(self):
        def ping():
            if self.proxy.proc.poll() is not None:
                raise RuntimeError(f"proxy exited: {self.proxy.tail()}")
            return self.client(socket_timeout=1).ping()
        wait_until(ping, 15, what="proxy ready")

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        if self.password:
            kw.setdefault("password", self.password)
        return self.proxy.client(**kw)

    def direct(self, g, **kw):
        """A client straight to group g's backend."""
        kw.setdefault("socket_timeout", 10)
        if self.password:
            kw.setdefault("password", self.password)
        return self.backends[g].client(**kw)

    def reload(self, ranges):
        """Rewrite the topology with new slot ranges and send SIGHUP."""
        self.ranges = ranges
        with open(self.topo, "w") as f:
            f.write(self.text(ranges))
        self.proxy.proc.send_signal(signal.SIGHUP)


def run_check(config_path):
    """strata-proxy -t on a file: (exit code, stdout + stderr)."""
    import subprocess
    p = subprocess.run([binary("strata-proxy"), "--config", config_path, "-t"],
                       capture_output=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def file_exists(p):
    return os.path.exists(p)
