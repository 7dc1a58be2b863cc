"""Protected defaults (issue 18): strata-node, strata-proxy and
strata-sentinel listen on loopback unless told otherwise, and one told to
listen on a non-loopback address (here 0.0.0.0, every interface) while
clients need no password refuses to start with a clear message, unless
`protected-mode no` is set (YAML protected_mode / protected-mode, flag
--protected-mode).  A password (requirepass, the topology's password:, an
ACL file whose default user has one or is off) lets it start."""
import subprocess

import redis

from harness import binary, free_port
from proxy_util import topology_text, write_file

REFUSAL = "refusing to start in protected mode"


def _refused(argv, cwd, what):
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    text = out.stdout + out.stderr
    assert out.returncode != 0, f"{argv!r} started:\n{text}"
    assert REFUSAL in text and f"{what} is 0.0.0.0, not a loopback address" in text, text
    assert "protected-mode no" in text, text
    return text


def _listen_addr(port):
    """The local address of the socket listening on port (/proc/net/tcp
    and tcp6), as text."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                local, state = fields[1], fields[3]
                addr, p = local.split(":")
                if state != "0A" or int(p, 16) != port:
                    continue
                if len(addr) == 8:
                    b = bytes.fromhex(addr)[::-1]
                    return ".".join(str(x) for x in b)
                return addr
    return None


def _topo(cluster, name, proxy=None, sentinel=None, password=None):
    return write_file(cluster, name, topology_text([("g1", "0-16383", ["127.0.0.1:1"])], proxy=proxy,
                                                   sentinel=sentinel, password=password))


def test_node_protected_mode(cluster, tmp_path):
    nb = binary("strata-node")

    def argv(*extra):
        return [nb, "--port", str(free_port()), "--dir", str(tmp_path / f"d{free_port()}")] + list(extra)

    text = _refused(argv("--bind", "0.0.0.0"), str(tmp_path), "bind")
    assert "strata-node" in text and "requirepass" in text
    # the HTTP API runs commands too
    _refused(argv("--bind", "127.0.0.1", "--http_listen", f"0.0.0.0:{free_port()}"), str(tmp_path),
             "http_listen")
    # the default user open, other users with passwords: still open to all
    acl = tmp_path / "open.acl"
    acl.write_text("user default on nopass ~* &* +@all\nuser app on >pw ~* +@all\n")
    _refused(argv("--bind", "0.0.0.0", "--aclfile", str(acl)), str(tmp_path), "bind")

    # told otherwise: it starts, on every interface
    n = cluster.node("open", args=["--bind", "0.0.0.0", "--protected-mode", "no"])
    assert _listen_addr(n.port) == "0.0.0.0"
    assert n.client().config_get("protected-mode") == {"protected-mode": "no"}
    assert n.client().set("k", "v")
    # with a password
    n2 = cluster.node("pw", args=["--bind", "0.0.0.0", "--requirepass", "pw"])
    assert n2.client(password="pw").ping()
    assert n2.client(password="pw").config_get("protected-mode") == {"protected-mode": "yes"}
    # an ACL file whose default user is off
    acl2 = tmp_path / "closed.acl"
    acl2.write_text("user default off\nuser app on >pw ~* +@all\n")
    n3 = cluster.node("acl", args=["--bind", "0.0.0.0", "--aclfile", str(acl2)], start=False)
    n3.client = lambda **kw: redis.Redis(port=n3.port, username="app", password="pw", **kw)
    n3.start()
    assert n3.client().ping()
    # Redis's name in the YAML file
    port = free_port()
    cfg = tmp_path / "node.yaml"
    cfg.write_text(f"bind: 0.0.0.0\nport: {port}\ndir: {tmp_path / 'yamlnode'}\nprotected-mode: no\n")
    n4 = cluster._new("yaml", [nb, "--config", str(cfg)], port, start=True)
    assert n4.client().ping() and _listen_addr(port) == "0.0.0.0"
    # and by default, loopback
    port = free_port()
    cluster._new("dflt", [nb, "--port", str(port), "--dir", str(tmp_path / "dflt")], port, start=True)
    assert _listen_addr(port) == "127.0.0.1"


def test_proxy_protected_mode(cluster, tmp_path):
    pb = binary("strata-proxy")
    text = _refused([pb, "--bind", "0.0.0.0", "--port", str(free_port())], str(tmp_path), "listen")
    assert "strata-proxy" in text and "password:" in text
    topo = _topo(cluster, "p1.yaml", proxy={"http_listen": f"0.0.0.0:{free_port()}"})
    _refused([pb, "--config", topo, "--port", str(free_port())], str(tmp_path), "http_listen")
    # told otherwise, in the topology's proxy: section
    topo = _topo(cluster, "p2.yaml", proxy={"listen": "0.0.0.0:1", "protected_mode": "no"})
    p = cluster.proxy(topo, name="open")
    assert _listen_addr(p.port) == "0.0.0.0" and p.client().ping()
    # the topology's password
    topo = _topo(cluster, "p3.yaml", proxy={"listen": "0.0.0.0:1"}, password="pw")
    p2 = cluster.proxy(topo, name="pw")
    assert p2.client(password="pw").ping()
    # an aclfile whose default user has a password
    acl = tmp_path / "p.acl"
    acl.write_text("user default on >dpw ~* &* +@all\n")
    topo = _topo(cluster, "p4.yaml", proxy={"listen": "0.0.0.0:1", "aclfile": str(acl)})
    p3 = cluster.proxy(topo, name="acl")
    assert p3.client(password="dpw").ping()
    # the flag, Redis's name
    p4 = cluster.proxy(_topo(cluster, "p5.yaml"), name="flag", args=["--bind", "0.0.0.0", "--protected-mode", "no"])
    assert _listen_addr(p4.port) == "0.0.0.0"
    # by default, loopback
    p5 = cluster.proxy(_topo(cluster, "p6.yaml"), name="dflt")
    assert _listen_addr(p5.port) == "127.0.0.1"


def test_sentinel_protected_mode(cluster, tmp_path):
    sb = binary("strata-sentinel")
    topo = _topo(cluster, "s1.yaml")
    text = _refused([sb, "--config", topo, "--bind", "0.0.0.0", "--port", str(free_port()), "--dir",
                     str(tmp_path / "s1")], str(tmp_path), "--bind")
    assert "strata-sentinel" in text and "password:" in text
    s = cluster.sentinel(topo, name="open", args=["--bind", "0.0.0.0", "--protected-mode", "no"])
    assert _listen_addr(s.port) == "0.0.0.0" and s.client().ping()
    # in the topology's sentinel: section
    s2 = cluster.sentinel(_topo(cluster, "s2.yaml", sentinel={"protected_mode": "no"}), name="yaml",
                          args=["--bind", "0.0.0.0"])
    assert s2.client().ping()
    s3 = cluster.sentinel(_topo(cluster, "s3.yaml", password="pw"), name="pw", args=["--bind", "0.0.0.0"])
    assert s3.client(password="pw").ping()
    s4 = cluster.sentinel(topo, name="dflt")
    assert _listen_addr(s4.port) == "127.0.0.1"
