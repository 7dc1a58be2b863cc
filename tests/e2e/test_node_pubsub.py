"""Pub/sub on strata-node, side by side with redis-server 7.0.

Each scenario runs the same command sequence against a strata-node and a
redis-server and returns a transcript of raw reply bytes (and messages
received); the transcripts must be identical.  Where Redis's order is not
defined (it walks hash tables: PUBSUB CHANNELS, unsubscribe-all, several
patterns matching one message) the scenario sorts before comparing, and
says so.

Covered: (P)(UN)SUBSCRIBE reply shapes and counts, duplicates, unsubscribe
with nothing subscribed, unsubscribe-all, pattern matching (glob classes,
escapes, case), publish counts with several subscribers, binary and large
messages, PUBSUB CHANNELS/NUMSUB/NUMPAT (and its errors), the subscribed-
mode errors (incl. 'container|sub' names, PING's array form, QUIT, RESET),
SUBSCRIBE inside MULTI, CLIENT REPLY OFF with pushes, subscribers leaving
on disconnect; then strata-only properties: PUBLISH is not a write, the
idle timeout spares subscribers, and a subscriber that does not read is
closed at pubsub_output_buffer_limit while the node stays small.
"""
import os
import socket
import time


from difftest import RespConn
from harness import wait_until


def conn(server):
    return RespConn("127.0.0.1", server.port, timeout=10)


def cmd(c, *args):
    """Send one command and return its raw reply."""
    c.send(args)
    return c.read()[0]


def replies(c, n):
    return [c.read()[0] for _ in range(n)]


def run_both(pair, scenario):
    """Run scenario(server) on both servers; assert equal transcripts."""
    node, redis_ = pair
    got = scenario(node)
    want = scenario(redis_)
    assert len(got) == len(want), (got, want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"step {i}: strata {g!r} != redis {w!r}"
    return got


def numsub(c, ch):
    r = c.call(b"PUBSUB", b"NUMSUB", ch)
    return r[1]


def test_subscribe_shapes_and_counts(pair):
    def scenario(srv):
        a = conn(srv)
        t = []
        t.append(cmd(a, "UNSUBSCRIBE"))                 # nothing subscribed: nil channel, 0
        t.append(cmd(a, "PUNSUBSCRIBE"))
        a.send(["UNSUBSCRIBE", "x", "y"])
        t += replies(a, 2)                              # not subscribed: one reply each, count 0
        a.send(["SUBSCRIBE", "a", "b", "a"])            # duplicate: count does not grow
        t += replies(a, 3)
        a.send(["PSUBSCRIBE", "p*", "a"])               # patterns share the count
        t += replies(a, 2)
        a.send(["UNSUBSCRIBE", "b", "zz"])
        t += replies(a, 2)
        t.append(cmd(a, "PUNSUBSCRIBE", "a"))
        t.append(cmd(a, "UNSUBSCRIBE"))                 # the one channel left
        t.append(cmd(a, "UNSUBSCRIBE"))                 # only a pattern left: nil, count 1
        t.append(cmd(a, "PING"))                        # still subscribed (pattern)
        t.append(cmd(a, "PUNSUBSCRIBE"))
        t.append(cmd(a, "PING"))                        # out of subscribed mode: +PONG
        t.append(cmd(a, "SET", "k", "v"))
        a.close()
        return t
    run_both(pair, scenario)


def test_unsubscribe_all_many(pair):
    """UNSUBSCRIBE / PUNSUBSCRIBE without arguments drop everything; Redis
    replies in hash-table order, so names are compared as a set and the
    counts as a sequence (each reply counts what is left)."""
    def scenario(srv):
        a = conn(srv)
        chans = [f"ch{i}" for i in range(20)]
        pats = [f"p{i}*" for i in range(5)]
        a.send(["SUBSCRIBE"] + chans)
        t = replies(a, 20)
        a.send(["PSUBSCRIBE"] + pats)
        t += replies(a, 5)
        a.send(["UNSUBSCRIBE"])
        got = [a.read()[1] for _ in range(20)]
        t.append(repr(sorted(x[1] for x in got)).encode())
        t.append(repr([(x[0], x[2]) for x in got]).encode())
        a.send(["PUNSUBSCRIBE"])
        got = [a.read()[1] for _ in range(5)]
        t.append(repr(sorted(x[1] for x in got)).encode())
        t.append(repr([(x[0], x[2]) for x in got]).encode())
        t.append(cmd(a, "PING"))
        a.close()
        return t
    run_both(pair, scenario)


def test_publish_counts_and_messages(pair):
    def scenario(srv):
        pub = conn(srv)
        t = []
        subs = [conn(srv) for _ in range(5)]
        for i, s in enumerate(subs):
            s.send(["SUBSCRIBE", "news"] + (["sport"] if i % 2 else []))
            t += replies(s, 2 if i % 2 else 1)
        psubs = [conn(srv) for _ in range(3)]
        for s in psubs:
            t.append(cmd(s, "PSUBSCRIBE", "n?ws"))
        both = conn(srv)                         # a channel and a pattern: two messages
        t.append(cmd(both, "SUBSCRIBE", "news"))
        t.append(cmd(both, "PSUBSCRIBE", "ne*"))
        t.append(cmd(pub, "PUBLISH", "news", "hello"))     # 5 + 3 + 2
        t.append(cmd(pub, "PUBLISH", "sport", "goal"))     # 2
        t.append(cmd(pub, "PUBLISH", "nobody", "x"))       # 0
        t.append(cmd(pub, "PUBLISH", "nEws", "case"))      # patterns are case-sensitive: 0
        for i, s in enumerate(subs):
            t.append(s.read()[0])
            if i % 2:
                t.append(s.read()[0])
        for s in psubs:
            t.append(s.read()[0])
        t.append(b"".join(sorted(replies(both, 2))))      # channel then pattern in Redis; sort anyway
        # unsubscribing changes the counts at once
        t.append(cmd(subs[0], "UNSUBSCRIBE", "news"))
        t.append(cmd(psubs[0], "PUNSUBSCRIBE"))
        t.append(cmd(pub, "PUBLISH", "news", "again"))     # 4 + 2 + 2
        for c in subs + psubs + [both, pub]:
            c.close()
        return t
    run_both(pair, scenario)


def test_pattern_matching(pair):
    pats = ["h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h\\*llo", "*", "x[", "\\", "H*"]
    chans = ["hello", "hallo", "hllo", "heeeello", "hbllo", "h*llo", "x[", "\\", "", "Hello"]

    def scenario(srv):
        t = []
        pub = conn(srv)
        subs = []
        for p in pats:
            s = conn(srv)
            t.append(cmd(s, "PSUBSCRIBE", p))
            t.append(cmd(s, "SUBSCRIBE", "zz-end"))   # a marker every subscriber gets last
            subs.append(s)
        for ch in chans:
            t.append(cmd(pub, "PUBLISH", ch, "m:" + ch))
        t.append(cmd(pub, "PUBLISH", "zz-end", "end"))
        for s in subs:                                # each got exactly what its pattern matches
            while True:
                raw, v = s.read()
                t.append(raw)
                if v[0] == b"message" and v[1] == b"zz-end":
                    break
        for s in subs + [pub]:
            s.close()
        return t
    run_both(pair, scenario)


def test_binary_and_large_messages(pair):
    big = os.urandom(1 << 20)

    def scenario(srv):
        t = []
        s, pub = conn(srv), conn(srv)
        t.append(cmd(s, "SUBSCRIBE", b"bin\r\n\x00ch"))
        t.append(cmd(s, "PSUBSCRIBE", b"bin*"))
        for msg in (b"", b"\r\n", b"a\x00b\xff", big):
            t.append(cmd(pub, "PUBLISH", b"bin\r\n\x00ch", msg))
            t += replies(s, 2)
        s.close()
        pub.close()
        return t
    run_both(pair, scenario)


def test_pubsub_introspection(pair):
    def scenario(srv):
        t = []
        ctl = conn(srv)
        for args in (["PUBSUB"], ["PUBSUB", "x"], ["PUBSUB", "CHANNELS"], ["PUBSUB", "CHANNELS", "a", "b"],
                     ["PUBSUB", "NUMSUB"], ["PUBSUB", "NUMSUB", "a", "b"], ["PUBSUB", "NUMPAT"],
                     ["PUBSUB", "NUMPAT", "x"], ["PUBSUB", "help"], ["PUBSUB", "HELP", "x"],
                     ["PUBSUB", "SHARDCHANNELS"], ["PUBSUB", "SHARDNUMSUB", "a"], ["PUBLISH"],
                     ["PUBLISH", "a"], ["PUBLISH", "a", "b", "c"]):
            t.append(cmd(ctl, *args))
        a, b = conn(srv), conn(srv)
        a.send(["SUBSCRIBE", "news.it", "news.fr", "sport"])
        t += replies(a, 3)
        b.send(["SUBSCRIBE", "news.it", "weather"])
        t += replies(b, 2)
        a.send(["PSUBSCRIBE", "news.*", "x*"])
        t += replies(a, 2)
        b.send(["PSUBSCRIBE", "news.*", "y*"])
        t += replies(b, 2)
        t.append(cmd(b, "SUBSCRIBE", ""))                # "*" does not match "" in Redis
        for pat in (None, "news.*", "*o*", "nomatch", "NEWS.*", "*", ""):
            r = ctl.call(b"PUBSUB", b"CHANNELS", *([pat] if pat else []))
            t.append(repr(sorted(r)).encode())          # hash-table order in Redis
        t.append(cmd(ctl, "PUBSUB", "NUMSUB", "news.it", "news.fr", "sport", "weather", "none", "news.*"))
        t.append(cmd(ctl, "PUBSUB", "NUMPAT"))          # distinct patterns (Redis 7.0): 3
        t.append(cmd(b, "UNSUBSCRIBE", "news.it"))
        t.append(cmd(b, "PUNSUBSCRIBE", "news.*"))
        t.append(cmd(ctl, "PUBSUB", "NUMSUB", "news.it", "weather"))
        t.append(cmd(ctl, "PUBSUB", "NUMPAT"))
        # a subscriber that disconnects leaves every channel
        a.close()
        wait_until(lambda: numsub(ctl, b"sport") == 0, what="disconnected subscriber dropped")
        wait_until(lambda: ctl.call(b"PUBSUB", b"NUMPAT") == 1, what="its patterns dropped")
        t.append(repr(sorted(ctl.call(b"PUBSUB", b"CHANNELS"))).encode())
        t.append(cmd(ctl, "PUBLISH", "news.it", "x"))
        t.append(cmd(ctl, "PUBLISH", "weather", "x"))
        b.close()
        ctl.close()
        return t
    run_both(pair, scenario)


def test_subscribed_mode_errors(pair):
    def scenario(srv):
        t = []
        a = conn(srv)
        a.send(["SUBSCRIBE", "a"])
        t.append(a.read()[0])
        for args in (["PING"], ["PING", "hi"], ["ping", ""], ["PING", "a", "b"], ["GET", "x"], ["get"],
                     ["SET", "k", "v"], ["PUBLISH", "a", "b"], ["PUBSUB", "NUMPAT"], ["PUBSUB", "nosuch"],
                     ["PUBSUB", "NUMPAT", "x"], ["CLIENT", "INFO"], ["client", "list"], ["CLIENT", "nosuch"],
                     ["CLIENT", "INFO", "x"], ["CONFIG", "GET", "x"], ["CONFIG", "GET"], ["COMMAND"],
                     ["COMMAND", "COUNT"], ["OBJECT", "ENCODING", "k"], ["MULTI"], ["EXEC"], ["WATCH", "k"],
                     ["nosuchcommand", "x"], ["ECHO", "x"], ["INFO"], ["SELECT", "0"], ["AUTH", "x"],
                     ["HELLO"], ["BLPOP", "l", "0"], ["CLIENT", "PAUSE", "10"], ["CLIENT", "REPLY", "OFF"]):
            t.append(cmd(a, *args))
        t.append(cmd(a, "PSUBSCRIBE", "p*"))
        t.append(cmd(a, "PUNSUBSCRIBE", "p*"))
        t.append(cmd(a, "UNSUBSCRIBE", "nosuch"))
        t.append(cmd(a, "PING"))                        # still subscribed to "a"
        t.append(cmd(a, "RESET"))                       # leaves subscribed mode
        t.append(cmd(a, "PING"))
        t.append(cmd(a, "GET", "x"))
        ctl = conn(srv)
        t.append(cmd(ctl, "PUBSUB", "NUMSUB", "a"))    # RESET dropped the subscription
        # QUIT is allowed: +OK, then the connection closes
        t.append(cmd(ctl, "SUBSCRIBE", "q"))
        t.append(cmd(ctl, "QUIT"))
        ctl.sock.settimeout(5)
        t.append(ctl.sock.recv(10))
        a.close()
        return t
    run_both(pair, scenario)


def test_subscribe_inside_multi_and_reply_off(pair):
    def scenario(srv):
        t = []
        a, pub = conn(srv), conn(srv)
        a.send(["MULTI"])
        a.send(["SUBSCRIBE", "m1", "m2"])
        a.send(["EXEC"])
        t += replies(a, 3)                              # the EXEC array holds both confirmations
        t.append(cmd(a, "GET", "x"))                    # now subscribed
        t.append(cmd(pub, "PUBLISH", "m2", "v"))
        t.append(a.read()[0])
        t.append(cmd(a, "RESET"))
        # CLIENT REPLY OFF: replies are dropped, pub/sub pushes are not
        a.send(["CLIENT", "REPLY", "OFF"])
        a.send(["SET", "k", "v"])
        a.send(["SUBSCRIBE", "r"])
        t.append(a.read()[0])
        t.append(cmd(pub, "PUBLISH", "r", "pushed"))
        t.append(a.read()[0])
        t.append(cmd(a, "UNSUBSCRIBE"))
        a.send(["GET", "k"])
        t.append(cmd(a, "CLIENT", "REPLY", "ON"))
        t.append(cmd(a, "GET", "k"))
        a.close()
        pub.close()
        return t
    run_both(pair, scenario)


# ---------------------------------------------------------------------------
# strata-node only


def info_field(c, section, name):
    for line in c.call(b"INFO", section.encode()).split(b"\r\n"):
        if line.startswith(name.encode() + b":"):
            return line.split(b":", 1)[1].decode()
    raise AssertionError(f"no {name} in INFO {section}")


def test_publish_is_not_a_write(cluster):
    node = cluster.node()
    ctl, s = conn(node), conn(node)
    s.call(b"SUBSCRIBE", b"c")
    dirty = info_field(ctl, "persistence", "rdb_changes_since_last_save")
    commits = info_field(ctl, "persistence", "storage_commits")
    for i in range(50):
        assert ctl.call(b"PUBLISH", b"c", b"m%d" % i) == 1
    for i in range(50):
        assert s.read()[1] == [b"message", b"c", b"m%d" % i]
    assert info_field(ctl, "persistence", "rdb_changes_since_last_save") == dirty
    assert info_field(ctl, "persistence", "storage_commits") == commits
    assert ctl.call(b"DBSIZE") == 0


def test_idle_timeout_spares_subscribers(cluster):
    node = cluster.node(args=["--timeout", "1"])
    s, idle = conn(node), conn(node)
    s.call(b"SUBSCRIBE", b"c")
    assert idle.call(b"PING") == "PONG"
    idle.sock.settimeout(6)
    assert idle.sock.recv(10) == b""                    # the idle client is closed...
    time.sleep(1.2)                                     # (one more timeout period, to be sure)
    pub = conn(node)
    assert pub.call(b"PUBLISH", b"c", b"still here") == 1   # ...the subscriber is not
    assert s.read()[1] == [b"message", b"c", b"still here"]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_subscriber_closed_at_output_limit(cluster):
    node = cluster.node(args=["--pubsub-output-buffer-limit", "1mb"])
    assert conn(node).call(b"CONFIG", b"GET", b"pubsub-output-buffer-limit")[1] == b"1048576"
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", node.port))
    slow.sendall(RespConn.encode([b"SUBSCRIBE", b"flood"]))
    fast = conn(node)                                    # a subscriber that reads keeps up
    fast.call(b"SUBSCRIBE", b"flood")
    pub = conn(node)
    wait_until(lambda: numsub(pub, b"flood") == 2, what="two subscribers")
    base = rss_kb(node.proc.pid)
    msg = b"x" * 65536
    counts = []
    for _ in range(400):                                 # 25 MiB published, never read by `slow`
        counts.append(pub.call(b"PUBLISH", b"flood", msg))
        fast.read()
    assert counts[0] == 2 and counts[-1] == 1            # `slow` was dropped on the way
    assert numsub(pub, b"flood") == 1
    assert pub.call(b"PING") == "PONG"
    wait_until(lambda: b"closed for overcoming of output buffer limits" in open(node.log_path, "rb").read(),
               what="the log line")
    # the node did not keep 25 MiB of unsent messages around
    assert rss_kb(node.proc.pid) - base < 16 * 1024
    slow.close()
