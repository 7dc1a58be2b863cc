"""CLIENT subcommands the cluster relies on (UNBLOCK, PAUSE/UNPAUSE, REPLY,
NO-EVICT) and RESET, on strata-node, with redis-server 7.0 as reference.

Deterministic replies (errors, REPLY ON/OFF/SKIP sequences, UNBLOCK
results, RESET) are compared byte for byte.  Pause timing is asserted as
properties that hold for both servers: a write sent during a 300 ms WRITE
pause is answered only once the pause is over, reads are served meanwhile,
pipelined commands after a held one wait behind it, ALL holds everything,
UNPAUSE releases at once.
"""
import time

import pytest

from difftest import RespConn, blocked_clients, no_reply_yet
from harness import wait_until


@pytest.fixture(params=["node", "redis"])
def server(request, cluster):
    return cluster.node() if request.param == "node" else cluster.redis()


def conn(server):
    return RespConn("127.0.0.1", server.port, timeout=10)


def cmd(c, *args):
    c.send(args)
    return c.read()[0]


def run_both(pair, scenario):
    node, redis_ = pair
    got, want = scenario(node), scenario(redis_)
    assert len(got) == len(want), (got, want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"step {i}: strata {g!r} != redis {w!r}"






ERROR_CASES = [
    ["CLIENT", "UNBLOCK"], ["CLIENT", "UNBLOCK", "x"], ["CLIENT", "UNBLOCK", "999999"],
    ["CLIENT", "UNBLOCK", "999999", "error"], ["CLIENT", "UNBLOCK", "999999", "TIMEOUT"],
    ["CLIENT", "UNBLOCK", "999999", "foo"], ["CLIENT", "UNBLOCK", "x", "foo"], ["CLIENT", "UNBLOCK", "-1"],
    ["CLIENT", "UNBLOCK", "0"], ["client", "unblock", "1", "timeout", "x"],
    ["CLIENT", "PAUSE"], ["CLIENT", "PAUSE", "x"], ["CLIENT", "PAUSE", "-1"], ["CLIENT", "PAUSE", "1.5"],
    ["CLIENT", "PAUSE", "10", "foo"], ["CLIENT", "PAUSE", "x", "foo"], ["CLIENT", "PAUSE", "-5", "write"],
    ["client", "pause", "10", "write", "x"], ["CLIENT", "PAUSE", "99999999999999999999"],
    ["CLIENT", "PAUSE", "0"], ["CLIENT", "PAUSE", "0", "all"], ["CLIENT", "PAUSE", "0", "WRITE"],
    ["CLIENT", "UNPAUSE", "x"], ["CLIENT", "UNPAUSE"], ["client", "unpause"],
    ["CLIENT", "REPLY"], ["CLIENT", "REPLY", "x"], ["CLIENT", "REPLY", "on", "x"], ["CLIENT", "REPLY", "ON"],
    ["CLIENT", "NO-EVICT"], ["CLIENT", "NO-EVICT", "x"], ["CLIENT", "NO-EVICT", "on"],
    ["CLIENT", "no-evict", "OFF"], ["CLIENT", "NO-EVICT", "on", "x"],
    ["RESET", "x"], ["reset"],
]


def test_errors_and_simple_replies(pair):
    def scenario(srv):
        c = conn(srv)
        return [cmd(c, *args) for args in ERROR_CASES]
    run_both(pair, scenario)


# COMMAND: subcommand arity errors come first; GETKEYS on a keyless command
# and INFO of an unknown name (a null bulk) answer as Redis 7.0 does.
COMMAND_CASES = [
    ["COMMAND", "COUNT", "x"], ["COMMAND", "HELP", "x"], ["COMMAND", "FOO"], ["command", "foo", "x"],
    ["COMMAND", "GETKEYS"], ["COMMAND", "GETKEYS", "GET"], ["COMMAND", "GETKEYS", "nosuch"],
    ["COMMAND", "GETKEYS", "nosuch", "a"], ["COMMAND", "GETKEYS", "PING", "x"],
    ["COMMAND", "GETKEYS", "config", "get", "x"], ["COMMAND", "GETKEYS", "GET", "a", "b"],
    ["COMMAND", "GETKEYS", "get", "a"], ["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
    ["command", "getkeys", "zunionstore", "d", "2", "a", "b"], ["COMMAND", "INFO", "nosuch"],
    ["COMMAND", "INFO", "nosuch", "other"], ["COMMAND", "DOCS", "nosuch"],
]

# CONFIG: the same order (subcommand, arity, then the subcommand's own errors).
CONFIG_CASES = [
    ["CONFIG"], ["CONFIG", "HELP", "x"], ["CONFIG", "GET"], ["config", "Get"], ["CONFIG", "SET"],
    ["CONFIG", "SET", "a"], ["CONFIG", "SET", "a", "b", "c"], ["CONFIG", "SET", "loglevel"],
    ["CONFIG", "SET", "nosuch", "1"], ["CONFIG", "RESETSTAT", "x"], ["CONFIG", "REWRITE", "x"],
    ["CONFIG", "FOO"], ["CONFIG", "GET", "nosuch"],
]


def run_cases(pair, cases):
    """Each command of `cases` on one connection per server; same replies."""
    def scenario(srv):
        c = conn(srv)
        return [cmd(c, *args) for args in cases]
    run_both(pair, scenario)


def test_config_errors(pair):
    run_cases(pair, CONFIG_CASES)


def test_hello_setname_checks_the_name(pair):
    """HELLO SETNAME follows CLIENT SETNAME: no spaces or control bytes,
    and an empty name clears it."""
    def scenario(srv):
        c = conn(srv)
        out = [cmd(c, "HELLO", "2", "SETNAME", "a b"), cmd(c, "CLIENT", "GETNAME")]
        cmd(c, "HELLO", "2", "SETNAME", "ok")  # its reply holds the client id
        out.append(cmd(c, "CLIENT", "GETNAME"))
        out.append(cmd(c, "HELLO", "2", "SETNAME", "bad\nname"))
        out.append(cmd(c, "CLIENT", "GETNAME"))
        cmd(c, "HELLO", "2", "SETNAME", "")
        out.append(cmd(c, "CLIENT", "GETNAME"))
        out.append(cmd(c, "HELLO", "3", "SETNAME", "a b"))  # the name is checked first
        return out
    run_both(pair, scenario)


def test_command_errors(pair):
    run_cases(pair, COMMAND_CASES)


def test_client_reply_modes(pair):
    seq = [
        ["CLIENT", "REPLY", "OFF"], ["PING"], ["SET", "k", "v"], ["nosuch"], ["GET"], ["CLIENT", "REPLY", "ON"],
        ["GET", "k"],
        ["CLIENT", "REPLY", "SKIP"], ["PING"], ["PING", "x"],
        ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "SKIP"], ["PING", "y"], ["PING", "y2"],
        ["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"], ["PING", "z"], ["CLIENT", "REPLY", "ON"],
        ["CLIENT", "REPLY", "SKIP"], ["nosuch"], ["PING", "after-unknown"],
        ["CLIENT", "REPLY", "SKIP"], ["MULTI"], ["SET", "k", "w"], ["EXEC"], ["GET", "k"],
        ["CLIENT", "REPLY", "OFF"], ["MULTI"], ["INCR", "n"], ["EXEC"], ["CLIENT", "REPLY", "ON"], ["GET", "n"],
        ["CLIENT", "REPLY", "OFF"], ["RESET"], ["PING", "after-reset"],
    ]

    def scenario(srv):
        c = conn(srv)
        for args in seq:
            c.send(args)
        c.send(["PING", "end"])
        out = []
        while True:
            raw, v = c.read()
            out.append(raw)
            if v == b"end":
                return out
    run_both(pair, scenario)


def test_reset(pair):
    def scenario(srv):
        c, other = conn(srv), conn(srv)
        t = [cmd(c, "CLIENT", "SETNAME", "me"), cmd(c, "MULTI"), cmd(c, "SET", "a", "1"), cmd(c, "RESET"),
             cmd(c, "EXEC"), cmd(c, "GET", "a"), cmd(c, "CLIENT", "GETNAME")]
        # RESET forgets WATCHes: the EXEC after it is not aborted by the change
        t += [cmd(c, "WATCH", "w"), cmd(other, "SET", "w", "changed"), cmd(c, "RESET"), cmd(c, "MULTI"),
              cmd(c, "SET", "w", "mine"), cmd(c, "EXEC"), cmd(c, "GET", "w")]
        return t
    run_both(pair, scenario)


def test_reset_requires_auth_again(cluster):
    for srv in (cluster.node(name="n", args=["--requirepass", "pw"]),
                cluster.redis(name="r", args=["--requirepass", "pw"])):
        c = conn(srv)
        assert c.call(b"AUTH", b"pw") == "OK"
        assert c.call(b"RESET") == "RESET"
        assert cmd(c, "GET", "x") == b"-NOAUTH Authentication required.\r\n"


def test_unblock(pair):
    def scenario(srv):
        ctl, b = conn(srv), conn(srv)
        t = []
        bid = b.call(b"CLIENT", b"ID")
        b.send(["BLPOP", "l", "0"])
        wait_until(lambda: blocked_clients(ctl) == 1, what="blocked")
        t.append(cmd(ctl, "CLIENT", "UNBLOCK", str(bid)))           # TIMEOUT: the nil of a timeout
        t.append(b.read()[0])
        b.send(["BLMOVE", "l", "m", "LEFT", "RIGHT", "0"])
        wait_until(lambda: blocked_clients(ctl) == 1, what="blocked again")
        t.append(cmd(ctl, "CLIENT", "UNBLOCK", str(bid), "ERROR"))  # -UNBLOCKED
        t.append(b.read()[0])
        t.append(cmd(ctl, "CLIENT", "UNBLOCK", str(bid)))           # not blocked: 0
        t.append(cmd(b, "PING"))                                     # the connection goes on
        t.append(cmd(ctl, "CLIENT", "UNBLOCK", str(ctl.call(b"CLIENT", b"ID"))))  # itself: 0
        return t
    run_both(pair, scenario)


def test_write_pause_holds_writes_serves_reads(server):
    ctl, w, r = conn(server), conn(server), conn(server)
    assert ctl.call(b"SET", b"k", b"before") == "OK"
    t0 = time.monotonic()
    assert ctl.call(b"CLIENT", b"PAUSE", b"300", b"WRITE") == "OK"
    w.send(["SET", "k", "during"])
    assert r.call(b"GET", b"k") == b"before"                    # reads are served meanwhile
    assert r.call(b"PING") == "PONG"
    assert time.monotonic() - t0 < 0.25
    assert no_reply_yet(w, 0.1)
    assert w.read()[1] == "OK"                                  # the write completes...
    assert time.monotonic() - t0 >= 0.29                        # ...only after the pause
    assert r.call(b"GET", b"k") == b"during"


def test_write_pause_pipeline_order(server):
    """A held write holds the rest of its client's pipeline behind it."""
    ctl, c = conn(server), conn(server)
    ctl.call(b"SET", b"k", b"1")
    t0 = time.monotonic()
    ctl.call(b"CLIENT", b"PAUSE", b"300", b"WRITE")
    c.send(["GET", "k"])
    c.send(["INCR", "k"])
    c.send(["GET", "k"])
    c.send(["PUBLISH", "ch", "m"])                              # may-replicate: held too in Redis
    assert c.read()[1] == b"1"
    assert time.monotonic() - t0 < 0.25
    assert no_reply_yet(c, 0.1)
    assert c.read()[1] == 2
    assert time.monotonic() - t0 >= 0.29
    assert c.read()[1] == b"2"
    assert c.read()[1] == 0


def test_write_pause_holds_writes_inside_multi(server):
    ctl, c = conn(server), conn(server)
    assert c.call(b"MULTI") == "OK"
    assert c.call(b"GET", b"k") == "QUEUED"
    t0 = time.monotonic()
    ctl.call(b"CLIENT", b"PAUSE", b"300", b"WRITE")
    c.send(["SET", "k", "v"])                                   # held even while queueing
    assert no_reply_yet(c, 0.15)
    assert c.read()[1] == "QUEUED"
    assert time.monotonic() - t0 >= 0.29
    assert c.call(b"EXEC") == [None, "OK"]


def test_pause_all_holds_everything(server):
    """ALL holds every command, CLIENT UNPAUSE included (Redis 7.0)."""
    ctl, c, other = conn(server), conn(server), conn(server)
    t0 = time.monotonic()
    assert ctl.call(b"CLIENT", b"PAUSE", b"300", b"ALL") == "OK"
    c.send(["PING"])
    c.send(["GET", "x"])
    other.send(["CLIENT", "UNPAUSE"])
    assert no_reply_yet(c, 0.15) and no_reply_yet(other, 0.01)
    assert c.read()[1] == "PONG"
    assert time.monotonic() - t0 >= 0.29
    assert c.read()[1] is None
    assert other.read()[1] == "OK"


def test_unpause_releases_at_once(server):
    ctl, c = conn(server), conn(server)
    t0 = time.monotonic()
    assert ctl.call(b"CLIENT", b"PAUSE", b"20000", b"WRITE") == "OK"
    c.send(["SET", "k", "v"])
    assert no_reply_yet(c, 0.2)
    assert ctl.call(b"CLIENT", b"UNPAUSE") == "OK"            # not a write: served
    assert c.read()[1] == "OK"
    assert time.monotonic() - t0 < 5


def test_pause_only_grows(server):
    """A shorter pause does not cut a longer one, WRITE does not downgrade
    ALL, and a WRITE pause becomes ALL when asked."""
    ctl, c = conn(server), conn(server)
    t0 = time.monotonic()
    ctl.call(b"CLIENT", b"PAUSE", b"600", b"WRITE")
    ctl.call(b"CLIENT", b"PAUSE", b"10", b"WRITE")             # shorter: no effect
    assert ctl.call(b"GET", b"x") is None                      # reads still served
    ctl.call(b"CLIENT", b"PAUSE", b"10", b"ALL")               # upgrades to ALL until the same end
    c.send(["GET", "x"])
    assert no_reply_yet(c, 0.3)
    assert c.read()[1] is None
    assert time.monotonic() - t0 >= 0.55


def test_held_client_disconnects(server):
    ctl, c = conn(server), conn(server)
    ctl.call(b"CLIENT", b"PAUSE", b"300", b"WRITE")
    c.send(["SET", "k", "v"])
    c.send(["SET", "k2", "v2"])
    time.sleep(0.05)
    c.close()
    time.sleep(0.4)
    assert ctl.call(b"PING") == "PONG"
    assert ctl.call(b"EXISTS", b"k") in (0, 1)                 # Redis runs it or not; no crash either way


def test_paused_client_not_unblocked(cluster):
    """CLIENT UNBLOCK does not release a client held by a pause (0, as later
    Redis versions answer).  strata-node only: redis-server 7.0.15 crashes
    on this (its postponed client is unblocked with no timeout reply)."""
    server = cluster.node()
    ctl, c = conn(server), conn(server)
    cid = c.call(b"CLIENT", b"ID")
    ctl.call(b"CLIENT", b"PAUSE", b"300", b"WRITE")
    c.send(["SET", "k", "v"])
    time.sleep(0.05)
    assert ctl.call(b"CLIENT", b"UNBLOCK", str(cid).encode()) == 0
    assert ctl.call(b"CLIENT", b"UNBLOCK", str(cid).encode(), b"ERROR") == 0
    assert c.read()[1] == "OK"


def test_node_pause_spares_background_writes(cluster):
    """strata-node only: a key that expires during a WRITE pause is not
    removed by the active expiry cycle until the pause ends (Redis pauses
    expiry too), so the pause adds no replication record."""
    node = cluster.node(args=["--hz", "100"])
    c = conn(node)

    def lsn():
        for line in c.call(b"INFO", b"replication").split(b"\r\n"):
            if line.startswith(b"lsn:"):
                return int(line.split(b":")[1])
        raise AssertionError("no lsn in INFO replication")

    c.call(b"SET", b"e", b"v", b"PX", b"150")
    c.call(b"CLIENT", b"PAUSE", b"600", b"WRITE")
    lsn0 = lsn()
    time.sleep(0.4)                                  # the key expired 250 ms ago
    assert lsn() == lsn0
    c.call(b"CLIENT", b"UNPAUSE")
    wait_until(lambda: lsn() > lsn0, what="the expiry recorded after the pause")


@pytest.mark.parametrize("cmd_args", [
    [b"HRANDFIELD", b"h", b"-9223372036854775807"],
    [b"HRANDFIELD", b"h", b"-4611686018427387903", b"WITHVALUES"],
    [b"SRANDMEMBER", b"s", b"-9223372036854775807"],
])
def test_node_huge_reply_closes_client(cluster, cmd_args):
    """strata-node only: a reply that would pass client_output_buffer_limit
    while it is built (a huge negative count repeats members without end)
    closes that client, with a line in the log, and the node keeps serving.
    redis-server 7.0.15 builds the whole reply and was killed by the kernel
    for lack of memory when we tried it."""
    node = cluster.node(args=["--client-output-buffer-limit", "1mb"])
    ctl = conn(node)
    ctl.call(b"HSET", b"h", b"a", b"1", b"b", b"2")
    ctl.call(b"SADD", b"s", b"a")
    c = conn(node)
    c.send(cmd_args)
    with pytest.raises((ConnectionError, EOFError, OSError)):
        c.read()
    assert ctl.call(b"PING") == "PONG"
    assert ctl.call(b"HRANDFIELD", b"h", b"-3") and ctl.call(b"SRANDMEMBER", b"s", b"-2") == [b"a", b"a"]
    wait_until(lambda: b"closed: output buffer over the limit" in node.tail().encode(),
               what="the close in the log")
