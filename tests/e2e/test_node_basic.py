"""strata-node as a process and a server: command line, configuration
errors, signals, restart, pipelining, concurrency, client limits, passwords,
broken protocol.  Where Redis defines the reply, the node's reply is compared
with a real redis-server's, byte for byte."""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from difftest import Error, RespConn
from harness import binary, wait_until


def run_node(*args, timeout=30):
    return subprocess.run([binary("strata-node")] + list(args), capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def conn(proc):
    return RespConn("127.0.0.1", proc.port, timeout=15)


def closed_by_server(sock, timeout=10.0):
    """True once the server has closed the connection (EOF or reset)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


# --- command line ---------------------------------------------------------------

def test_help_and_version():
    r = run_node("--help")
    assert r.returncode == 0
    out = r.stdout + r.stderr
    for flag in (b"--port", b"--dir", b"--fsync", b"--requirepass", b"--config"):
        assert flag in out
    r = run_node("--version")
    assert r.returncode == 0
    assert b"strata-node" in r.stdout + r.stderr


def test_check_config_reports_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("port: 7000\nfsync: sometimes\nbogus_key: 1\n")
    r = run_node("-t", "--config", str(bad))
    assert r.returncode != 0
    err = (r.stdout + r.stderr).decode()
    assert f"{bad}:2" in err or "bad.yaml:2" in err, err
    assert "sometimes" in err
    assert f"{bad}:3" in err or "bad.yaml:3" in err, err
    assert "bogus_key" in err

    good = tmp_path / "good.yaml"
    good.write_text("port: 7000\nfsync: always\n")
    assert run_node("-t", "--config", str(good)).returncode == 0
    assert run_node("--test-config", "--config", str(good)).returncode == 0

    # Not YAML at all, a missing file, a bad flag: refused, never started.
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: [7000\n")
    assert run_node("-t", "--config", str(broken)).returncode != 0
    assert run_node("-t", "--config", str(tmp_path / "missing.yaml")).returncode != 0
    assert run_node("-t", "--fsync", "sometimes").returncode != 0
    assert run_node("-t", "--no-such-flag", "1").returncode != 0


def test_bad_config_refuses_to_start(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("port: not-a-number\n")
    r = run_node("--config", str(bad), "--dir", str(tmp_path / "data"))
    assert r.returncode != 0
    assert b"bad.yaml:1" in r.stdout + r.stderr


# --- signals, shutdown, restart ---------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_clean_exit(cluster, sig):
    node = cluster.node()
    c = node.client()
    c.set("k", "v")
    node.proc.send_signal(sig)
    assert node.proc.wait(timeout=20) == 0
    # The data directory is closed cleanly: it opens again with the data.
    node2 = cluster.node("node-again", args=["--dir", cluster.path("node", "data")])
    assert node2.client().get("k") == b"v"


def test_shutdown_command(cluster):
    node = cluster.node()
    c = conn(node)
    assert c.call(b"SET", b"k", b"v") == "OK"
    c.send([b"SHUTDOWN"])
    assert closed_by_server(c.sock)
    assert node.proc.wait(timeout=20) == 0


def test_restart_keeps_data(cluster):
    node = cluster.node()
    c = node.client()
    values = {f"key:{i}".encode(): os.urandom(i % 300) for i in range(500)}
    values[b""] = b"empty key"
    values[b"bin\x00\xff"] = b"\x00\r\n\xff"
    c.mset(values)
    c.set("counter", 41)
    c.incr("counter")
    c.set("with-ttl", "x", ex=1000)
    c.set("gone", "x", px=50)
    c.delete("key:7")
    time.sleep(0.1)
    assert node.stop() == 0

    node.start()
    c = node.client()
    del values[b"key:7"]
    keys = sorted(values)
    assert c.mget(keys) == [values[k] for k in keys]
    assert c.get("counter") == b"42"
    assert c.exists("key:7", "gone") == 0
    assert 990 <= c.ttl("with-ttl") <= 1000
    assert c.ttl("counter") == -1
    assert c.dbsize() == len(values) + 2


# --- pipelining and concurrency --------------------------------------------------------

def test_pipeline_10000_commands_in_order(cluster):
    node = cluster.node()
    c = conn(node)
    n = 10_000
    reqs = []
    for i in range(n):
        if i % 3 == 0:
            reqs.append([b"SET", b"p:%d" % i, b"v%d" % i])
        elif i % 3 == 1:
            reqs.append([b"GET", b"p:%d" % (i - 1)])
        else:
            reqs.append([b"INCR", b"p:counter"])
    c.send_raw(b"".join(RespConn.encode(r) for r in reqs))
    incr = 0
    for i in range(n):
        _, v = c.read()
        if i % 3 == 0:
            assert v == "OK", (i, v)
        elif i % 3 == 1:
            assert v == b"v%d" % (i - 1), (i, v)
        else:
            incr += 1
            assert v == incr, (i, v)
    assert c.call(b"DBSIZE") == n // 3 + (1 if n % 3 else 0) + 1


def test_pipeline_split_at_every_byte(cluster):
    """A request stream arriving a few bytes at a time is parsed the same."""
    node = cluster.node()
    c = conn(node)
    stream = b"".join(RespConn.encode(r) for r in
                      [[b"SET", b"a", b"x" * 100], [b"APPEND", b"a", b"yz"], [b"GET", b"a"]])
    stream += b"PING\r\nECHO inline\r\n"
    for i in range(len(stream)):
        c.send_raw(stream[i:i + 1])
        if i % 7 == 0:
            time.sleep(0.001)
    assert [c.read()[1] for _ in range(5)] == ["OK", 102, b"x" * 100 + b"yz", "PONG", b"inline"]


def test_many_concurrent_clients(cluster):
    node = cluster.node()
    clients, per_client = 50, 100
    errors = []

    def worker(w):
        try:
            c = conn(node)
            for i in range(per_client):
                assert c.call(b"SET", b"c:%d:%d" % (w, i), b"%d" % (w * i)) == "OK"
                assert c.call(b"INCR", b"shared") > 0
            got = c.call(b"MGET", *[b"c:%d:%d" % (w, i) for i in range(per_client)])
            assert got == [b"%d" % (w * i) for i in range(per_client)]
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((w, repr(e)))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    c = node.client()
    assert c.get("shared") == str(clients * per_client).encode()
    assert c.dbsize() == clients * per_client + 1


# --- limits and authentication ------------------------------------------------------------

def test_maxclients(cluster):
    node = cluster.node(args=["--maxclients", "4"])
    ref = cluster.redis(args=["--maxclients", "4"])
    replies = []
    for server in (node, ref):
        held = [conn(server) for _ in range(4)]
        for h in held:
            assert h.call(b"PING") == "PONG"
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        extra.sendall(b"PING\r\n")
        data = b""
        extra.settimeout(10)
        while True:
            try:
                chunk = extra.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        extra.close()
        replies.append(data)
        # A slot frees up when a client leaves.
        held.pop().close()
        wait_until(lambda: conn(server).call(b"PING") == "PONG", timeout=10,
                   what="a free client slot")
        for h in held:
            assert h.call(b"PING") == "PONG"
            h.close()
    assert replies[0] == replies[1] == b"-ERR max number of clients reached\r\n"


AUTH_SCRIPT = [
    [b"GET", b"k"],
    [b"SET", b"k", b"v"],
    [b"PING"],
    [b"AUTH"],
    [b"AUTH", b"wrong"],
    [b"AUTH", b"default", b"wrong"],
    [b"AUTH", b"nobody", b"s3cret"],
    [b"AUTH", b"a", b"b", b"c"],
    [b"GET", b"k"],
    [b"AUTH", b"s3cret"],
    [b"SET", b"k", b"v"],
    [b"GET", b"k"],
    [b"AUTH", b"wrong"],
    [b"GET", b"k"],
    [b"AUTH", b"default", b"s3cret"],
    [b"GET", b"k"],
]


def same_replies(node, ref, script):
    """Send each command of `script` to both servers on one connection
    each; the raw replies must be equal."""
    a, b = conn(node), conn(ref)
    for cmd in script:
        a.send(cmd)
        b.send(cmd)
        ra, rb = a.read()[0], b.read()[0]
        assert ra == rb, (cmd, ra, rb)


def test_requirepass_and_auth_match_redis(cluster):
    node = cluster.node(args=["--requirepass", "s3cret"])
    ref = cluster.redis(args=["--requirepass", "s3cret"])
    same_replies(node, ref, AUTH_SCRIPT)
    # HELLO with AUTH, on fresh connections.
    for args in ([b"HELLO", b"2", b"AUTH", b"default", b"wrong"],):
        ra = conn(node).call(*args)
        rb = conn(ref).call(*args)
        assert ra == rb


def test_auth_without_password_matches_redis(cluster):
    node, ref = cluster.node(), cluster.redis()
    for cmd in ([b"AUTH", b"x"], [b"AUTH", b"default", b"x"]):
        assert conn(node).call(*cmd) == conn(ref).call(*cmd)


def test_idle_timeout_closes_clients(cluster):
    node = cluster.node(args=["--timeout", "1"])
    c = conn(node)
    assert c.call(b"PING") == "PONG"
    assert closed_by_server(c.sock, timeout=15)
    assert conn(node).call(b"PING") == "PONG"


# --- protocol -------------------------------------------------------------------------

BROKEN = [
    b"*1\r\n$abc\r\n",                          # invalid bulk length
    b"*abc\r\n",                                # invalid multibulk length
    b"*1\r\nxyz\r\n",                           # expected '$'
    b"*2\r\n$3\r\nGET\r\n$-5\r\n",              # negative bulk length
    b"*1\r\n$536870913\r\n",                    # bulk longer than proto-max-bulk-len
    b"*2147483648\r\n",                         # more arguments than Redis accepts (INT_MAX)
    b'SET "unbalanced\r\n',                     # inline with unbalanced quotes
]


@pytest.mark.parametrize("data", BROKEN, ids=range(len(BROKEN)))
def test_broken_protocol_gets_error_and_close(cluster, data):
    node, ref = cluster.node(), cluster.redis()
    replies = []
    for server in (node, ref):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"PING\r\n" + data)
        got = b""
        s.settimeout(10)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        replies.append(got)
        assert conn(server).call(b"PING") == "PONG"  # the server lives
    assert replies[0] == replies[1], replies
    assert replies[0].startswith(b"+PONG\r\n-ERR Protocol error")


def test_oversized_inline_request(cluster):
    """More than 64 KiB without a newline: an error, a close, the server lives.
    (Only a little more, so the server has read it all when it closes and the
    reply is not lost to a TCP reset.)"""
    node, ref = cluster.node(), cluster.redis()
    replies = []
    for server in (node, ref):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            s.sendall(b"x" * 66_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        replies.append(got)
        assert conn(server).call(b"PING") == "PONG"
    assert replies[0] == replies[1] == b"-ERR Protocol error: too big inline request\r\n"


def test_query_buffer_limit(cluster):
    """A request bigger than the query buffer limit: the client is closed,
    the server lives and its memory stays bounded."""
    node = cluster.node(args=["--client-query-buffer-limit", "1mb"])
    s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n")
    try:
        for _ in range(40):
            s.sendall(b"x" * 100_000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_by_server(s)
    s.close()
    c = conn(node)
    assert c.call(b"PING") == "PONG"
    assert c.call(b"EXISTS", b"k") == 0


def test_quit(cluster):
    node, ref = cluster.node(), cluster.redis()
    for server in (node, ref):
        c = conn(server)
        c.send([b"QUIT"])
        assert c.read()[0] == b"+OK\r\n"
        assert closed_by_server(c.sock)


def test_select(cluster):
    node = cluster.node()
    c = conn(node)
    assert c.call(b"SELECT", b"0") == "OK"
    r = c.call(b"SELECT", b"1")
    assert isinstance(r, Error) and r.startswith(b"ERR"), r
    # The connection stays open and on database 0.
    assert c.call(b"SET", b"k", b"v") == "OK"
    assert c.call(b"SELECT", b"0") == "OK"
    assert c.call(b"GET", b"k") == b"v"


def test_binary_and_large_values(cluster):
    node = cluster.node()
    c = conn(node)
    big = os.urandom(8 * 1024 * 1024)
    assert c.call(b"SET", b"big", big) == "OK"
    assert c.call(b"GET", b"big") == big
    assert c.call(b"STRLEN", b"big") == len(big)
    every_byte = bytes(range(256))
    assert c.call(b"SET", every_byte, every_byte) == "OK"
    assert c.call(b"GET", every_byte) == every_byte
    assert c.call(b"SET", b"", b"") == "OK"
    assert c.call(b"GET", b"") == b""


def test_info_run_id_and_read_cache(cluster):
    """INFO server has a run_id like Redis's (40 hex digits, new at each
    start); INFO persistence counts the read cache's hits and misses."""
    n = cluster.node()
    c = n.client()
    rid = c.info("server")["run_id"]
    assert len(rid) == 40 and all(ch in "0123456789abcdef" for ch in rid)
    assert c.info("server")["run_id"] == rid
    c.set("k", "v")
    before = c.info("persistence")
    for _ in range(5):
        c.set("k", "v")        # each SET reads k's metadata: cached after the first
    after = c.info("persistence")
    assert after["meta_cache_hits"] >= before["meta_cache_hits"] + 5
    n.stop()
    n.start()
    assert n.client().info("server")["run_id"] != rid


def test_info_level0_files(cluster):
    """INFO persistence storage_level0_files is LevelDB's count of level-0
    files (writes slow down from 8): 0 on a fresh node, and more once
    memtables of overlapping keys are flushed.  With a 1 MB write buffer,
    rewriting the same 1000 keys with 1 KB values fills a memtable about
    each round; the first flushes go to deeper levels, a later one that
    overlaps them stays at level 0 (at most 20 rounds)."""
    node = cluster.node(args=["--write_buffer", "1mb", "--fsync", "no"])
    c = node.client()
    assert c.info("persistence")["storage_level0_files"] == 0
    value = b"x" * 1024
    for rnd in range(20):
        p = c.pipeline(transaction=False)
        for i in range(1000):
            p.set(f"key:{i}", value)
        p.execute()
        if c.info("persistence")["storage_level0_files"] > 0:
            break
    else:
        pytest.fail("no level-0 file after 20 MB of overlapping writes")
    print(f"level-0 file after {rnd + 1} rounds")


def test_debug_is_refused_as_redis_refuses_it(cluster):
    """Redis 7.0 refuses DEBUG by default (enable-debug-command no) before
    queueing it: same error text, arity checked first, EXECABORT in MULTI."""
    node, ref = cluster.node(), cluster.redis()
    script = [[b"DEBUG", b"SLEEP", b"0"], [b"DEBUG"], [b"MULTI"], [b"DEBUG", b"SLEEP", b"0"],
              [b"SET", b"k", b"v"], [b"EXEC"], [b"EXISTS", b"k"]]
    same_replies(node, ref, script)


def test_lastsave_is_the_last_fsync(cluster):
    """LASTSAVE and INFO's rdb_* fields: the data is 'saved' when every
    acknowledged write is on disk.  everysec: a second after writes stop;
    fsync no: never after the start."""
    t0 = int(time.time())
    node = cluster.node(args=["--fsync", "everysec"])
    c = node.client()
    start = c.lastsave()
    assert t0 - 1 <= int(start.timestamp()) <= int(time.time())
    time.sleep(1.1)              # the next save is at a later second
    c.set("a", "1")
    c.set("b", "2")
    wrote = int(time.time())
    wait_until(lambda: c.info("persistence")["rdb_changes_since_last_save"] == 0, timeout=10,
               what="the writes to be fsynced")
    info = c.info("persistence")
    assert info["rdb_last_save_time"] >= wrote
    assert int(c.lastsave().timestamp()) == info["rdb_last_save_time"]

    lazy = cluster.node("lazy", args=["--fsync", "no"]).client()
    first = lazy.lastsave()
    lazy.set("a", "1")
    lazy.incr("n")
    time.sleep(1.2)
    assert lazy.lastsave() == first
    assert lazy.info("persistence")["rdb_changes_since_last_save"] == 2
