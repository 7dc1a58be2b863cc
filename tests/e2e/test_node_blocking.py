"""Blocking list pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) on
strata-node, with the same scenarios run against redis-server 7.0 so the
expectations are Redis's own: waiters served in arrival order, timeouts,
BLMOVE chains that wake the next waiter, pushes inside MULTI/EXEC waking
waiters only after EXEC, clients that disconnect while blocked, blocking
commands inside MULTI that do not block, pipelined input held behind a
blocked command, and a destination of the wrong type.

Blocked state is observed through INFO clients (blocked_clients), polled,
never assumed after a sleep.
"""
import time

import pytest

from difftest import Error, RespConn, blocked_clients, no_reply_yet, wait_blocked


@pytest.fixture(params=["node", "redis"])
def server(request, cluster):
    return cluster.node() if request.param == "node" else cluster.redis()


def conn(server):
    return RespConn("127.0.0.1", server.port, timeout=10)








def test_waiters_served_in_arrival_order(server):
    ctl = conn(server)
    clients = []
    for i in range(5):
        c = conn(server)
        c.send([b"BLPOP", b"q", b"0"])
        wait_blocked(ctl, i + 1)
        clients.append(c)
    # One element: only the oldest waiter gets it.
    assert ctl.call(b"RPUSH", b"q", b"first") == 1
    assert clients[0].read()[1] == [b"q", b"first"]
    wait_blocked(ctl, 4)
    assert all(no_reply_yet(c, 0.05) for c in clients[1:])
    # Several elements in one push: one each, in order.
    assert ctl.call(b"RPUSH", b"q", b"e1", b"e2", b"e3") == 3
    for i, c in enumerate(clients[1:4]):
        assert c.read()[1] == [b"q", b"e%d" % (i + 1)]
    assert ctl.call(b"LLEN", b"q") == 0
    wait_blocked(ctl, 1)
    # A client that blocks again goes to the back of the queue.
    clients[0].send([b"BRPOP", b"q", b"0"])
    wait_blocked(ctl, 2)
    assert ctl.call(b"LPUSH", b"q", b"x", b"y") == 2
    assert clients[4].read()[1] == [b"q", b"y"]   # BLPOP takes the head
    assert clients[0].read()[1] == [b"q", b"x"]
    assert ctl.call(b"EXISTS", b"q") == 0


def test_multikey_waiter_served_from_the_pushed_key(server):
    ctl, c = conn(server), conn(server)
    c.send([b"BRPOP", b"k1", b"k2", b"k3", b"0"])
    wait_blocked(ctl, 1)
    ctl.call(b"RPUSH", b"k2", b"a", b"b")
    assert c.read()[1] == [b"k2", b"b"]
    assert ctl.call(b"LRANGE", b"k2", b"0", b"-1") == [b"a"]
    # BLMPOP with a count takes several at once.
    c.send([b"BLMPOP", b"0", b"2", b"m1", b"m2", b"LEFT", b"COUNT", b"3"])
    wait_blocked(ctl, 1)
    ctl.call(b"RPUSH", b"m2", b"1", b"2", b"3", b"4")
    assert c.read()[1] == [b"m2", [b"1", b"2", b"3"]]
    assert ctl.call(b"LRANGE", b"m2", b"0", b"-1") == [b"4"]


@pytest.mark.parametrize("cmd", [
    [b"BLPOP", b"none1", b"none2", b"0.1"],
    [b"BRPOP", b"none1", b"0.1"],
    [b"BLMOVE", b"none1", b"dst", b"LEFT", b"RIGHT", b"0.1"],
    [b"BRPOPLPUSH", b"none1", b"dst", b"0.1"],
    [b"BLMPOP", b"0.1", b"1", b"none1", b"RIGHT", b"COUNT", b"2"],
])
def test_timeout_replies_null_array(server, cmd):
    ctl, c = conn(server), conn(server)
    t0 = time.monotonic()
    c.send(cmd)
    raw, value = c.read()
    assert raw == b"*-1\r\n"
    assert time.monotonic() - t0 >= 0.09   # it did wait for the timeout
    assert blocked_clients(ctl) == 0
    assert c.call(b"PING") == "PONG"        # and the connection goes on
    assert ctl.call(b"EXISTS", b"dst") == 0


@pytest.mark.parametrize("timeout", [b"0.0001", b"0.0009", b"1e-10"])
def test_sub_millisecond_timeout_rounds_up(server, timeout):
    """Redis 7.0 rounds a timeout up to whole milliseconds: under 1 ms is
    1 ms (a nil soon), not 0 (wait forever)."""
    c = conn(server)
    c.send([b"BLPOP", b"none1", timeout])
    raw, _ = c.read()
    assert raw == b"*-1\r\n"


def test_tiny_negative_timeout_waits_forever(server):
    """...and -0.0001 rounds up to 0, which means no timeout at all."""
    ctl, c = conn(server), conn(server)
    c.send([b"BLPOP", b"none1", b"-0.0001"])
    wait_blocked(ctl, 1)
    assert no_reply_yet(c, 0.2)
    assert ctl.call(b"RPUSH", b"none1", b"v") == 1
    assert c.read()[1] == [b"none1", b"v"]


def test_blmove_chain_wakes_the_next_waiter(server):
    """A waiter on dst, then a BLMOVE waiter from src to dst: one push to
    src moves the element to dst, which serves the first waiter too."""
    ctl, waiter, mover = conn(server), conn(server), conn(server)
    waiter.send([b"BLPOP", b"dst", b"0"])
    wait_blocked(ctl, 1)
    mover.send([b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0"])
    wait_blocked(ctl, 2)
    ctl.call(b"RPUSH", b"src", b"a", b"b")
    assert mover.read()[1] == b"b"
    assert waiter.read()[1] == [b"dst", b"b"]
    assert ctl.call(b"LRANGE", b"src", b"0", b"-1") == [b"a"]
    assert ctl.call(b"EXISTS", b"dst") == 0
    wait_blocked(ctl, 0)
    # BRPOPLPUSH onto a list that exists.
    ctl.call(b"RPUSH", b"dst2", b"old")
    mover.send([b"BRPOPLPUSH", b"src2", b"dst2", b"0"])
    wait_blocked(ctl, 1)
    ctl.call(b"LPUSH", b"src2", b"new")
    assert mover.read()[1] == b"new"
    assert ctl.call(b"LRANGE", b"dst2", b"0", b"-1") == [b"new", b"old"]
    assert ctl.call(b"EXISTS", b"src2") == 0


def test_blmove_to_wrong_type_destination(server):
    ctl, c = conn(server), conn(server)
    ctl.call(b"SET", b"str", b"v")
    c.send([b"BLMOVE", b"src", b"str", b"LEFT", b"LEFT", b"0"])
    wait_blocked(ctl, 1)
    ctl.call(b"RPUSH", b"src", b"x")
    value = c.read()[1]
    assert isinstance(value, Error) and value.startswith(b"WRONGTYPE")
    assert ctl.call(b"LRANGE", b"src", b"0", b"-1") == [b"x"]  # nothing moved
    assert ctl.call(b"GET", b"str") == b"v"


def test_key_of_another_type_keeps_the_waiter_blocked(server):
    ctl, c = conn(server), conn(server)
    c.send([b"BLPOP", b"k", b"0"])
    wait_blocked(ctl, 1)
    ctl.call(b"SET", b"k", b"string")
    assert no_reply_yet(c)
    assert blocked_clients(ctl) == 1
    ctl.call(b"DEL", b"k")
    ctl.call(b"RPUSH", b"k", b"v")
    assert c.read()[1] == [b"k", b"v"]


def test_push_inside_multi_wakes_after_exec(server):
    ctl, c, tx = conn(server), conn(server), conn(server)
    c.send([b"BLPOP", b"q", b"0"])
    wait_blocked(ctl, 1)
    assert tx.call(b"MULTI") == "OK"
    assert tx.call(b"RPUSH", b"q", b"a") == "QUEUED"
    assert tx.call(b"RPUSH", b"q", b"b") == "QUEUED"
    assert tx.call(b"LLEN", b"q") == "QUEUED"
    assert no_reply_yet(c)
    assert blocked_clients(ctl) == 1
    # Inside EXEC the waiter is not served between the commands: LLEN sees 2.
    assert tx.call(b"EXEC") == [1, 2, 2]
    assert c.read()[1] == [b"q", b"a"]
    assert ctl.call(b"LRANGE", b"q", b"0", b"-1") == [b"b"]


def test_disconnect_while_blocked(server):
    ctl, gone, stays = conn(server), conn(server), conn(server)
    gone.send([b"BLPOP", b"q", b"0"])
    wait_blocked(ctl, 1)
    stays.send([b"BLPOP", b"q", b"0"])
    wait_blocked(ctl, 2)
    gone.close()
    wait_blocked(ctl, 1)
    ctl.call(b"RPUSH", b"q", b"a", b"b")
    assert stays.read()[1] == [b"q", b"a"]
    assert ctl.call(b"LRANGE", b"q", b"0", b"-1") == [b"b"]  # the gone client took nothing
    # And alone: the element stays in the list.
    gone = conn(server)
    gone.send([b"BLPOP", b"q2", b"0"])
    wait_blocked(ctl, 1)
    gone.close()
    wait_blocked(ctl, 0)
    ctl.call(b"RPUSH", b"q2", b"kept")
    assert ctl.call(b"LRANGE", b"q2", b"0", b"-1") == [b"kept"]


def test_blocking_commands_inside_multi_do_not_block(server):
    ctl, tx = conn(server), conn(server)
    ctl.call(b"RPUSH", b"full", b"x")
    tx.call(b"MULTI")
    for cmd in ([b"BLPOP", b"empty", b"0"], [b"BRPOP", b"empty", b"0"],
                [b"BLMOVE", b"empty", b"d", b"LEFT", b"LEFT", b"0"],
                [b"BRPOPLPUSH", b"empty", b"d", b"0"],
                [b"BLMPOP", b"0", b"1", b"empty", b"LEFT"],
                [b"BLPOP", b"empty", b"full", b"0"]):
        assert tx.call(*cmd) == "QUEUED"
    tx.send([b"EXEC"])
    raw, value = tx.read()
    assert raw == (b"*6\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n"
                   b"*2\r\n$4\r\nfull\r\n$1\r\nx\r\n")
    assert blocked_clients(ctl) == 0
    assert ctl.call(b"EXISTS", b"full") == 0


def test_pipelined_commands_wait_behind_a_blocked_one(server):
    ctl, c = conn(server), conn(server)
    c.send_raw(RespConn.encode([b"BLPOP", b"q", b"0"]) + RespConn.encode([b"RPUSH", b"out", b"1"]) +
               RespConn.encode([b"LLEN", b"q"]))
    wait_blocked(ctl, 1)
    assert ctl.call(b"EXISTS", b"out") == 0   # the RPUSH behind BLPOP has not run
    ctl.call(b"RPUSH", b"q", b"a", b"b")
    assert c.read()[1] == [b"q", b"a"]
    assert c.read()[1] == 1
    assert c.read()[1] == 1
    assert ctl.call(b"LRANGE", b"out", b"0", b"-1") == [b"1"]


def test_waiter_served_between_pipelined_commands(server):
    """A waiter is served right after the command that pushed, before the
    pusher's next pipelined command: RPUSH then LPOP in one pipeline gives
    the element to the blocked client, and the LPOP finds nothing."""
    ctl, waiter, pusher = conn(server), conn(server), conn(server)
    waiter.send([b"BLPOP", b"pq", b"5"])
    wait_blocked(ctl, 1)
    pusher.send_raw(RespConn.encode([b"RPUSH", b"pq", b"x"]) + RespConn.encode([b"LPOP", b"pq"]) +
                    RespConn.encode([b"RPUSH", b"pq", b"y", b"z"]) + RespConn.encode([b"LPOP", b"pq"]))
    assert pusher.read()[1] == 1
    assert pusher.read()[1] is None
    assert pusher.read()[1] == 2
    assert pusher.read()[1] == b"y"
    assert waiter.read()[1] == [b"pq", b"x"]
    assert ctl.call(b"LRANGE", b"pq", b"0", b"-1") == [b"z"]


def test_many_waiters_one_push(server):
    ctl = conn(server)
    clients = []
    for i in range(20):
        c = conn(server)
        c.send([b"BRPOP", b"many", b"5"])
        wait_blocked(ctl, i + 1)
        clients.append(c)
    ctl.call(b"RPUSH", b"many", *[b"%d" % i for i in range(25)])
    got = [c.read()[1] for c in clients]
    assert got == [[b"many", b"%d" % (24 - i)] for i in range(20)]
    assert ctl.call(b"LRANGE", b"many", b"0", b"-1") == [b"%d" % i for i in range(5)]
    wait_blocked(ctl, 0)


def test_served_pop_is_committed(cluster):
    """The pop served to a waiter is in the store when the reply arrives:
    a node killed (SIGKILL) right after comes back with the list without it."""
    node = cluster.node()
    ctl, c = conn(node), conn(node)
    c.send([b"BLPOP", b"q", b"0"])
    wait_blocked(ctl, 1)
    ctl.call(b"RPUSH", b"q", b"a", b"b")
    assert c.read()[1] == [b"q", b"a"]
    ctl.close()
    c.close()
    node.kill()
    node.start()
    ctl = conn(node)
    assert ctl.call(b"LRANGE", b"q", b"0", b"-1") == [b"b"]
