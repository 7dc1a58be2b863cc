"""COMMAND on strata-node and strata-proxy against redis-server 7.0.

For every command of common/commands.def and every subcommand of
common/subcmd.c: COMMAND INFO, COMMAND DOCS, COMMAND GETKEYS and
GETKEYSANDFLAGS (argument lists built from Redis's own argument trees,
plus edge cases), COMMAND LIST with each filter, COUNT and the errors,
in RESP2 and RESP3.

Replies are compared byte for byte after two normalisations:
  - order: Redis lists commands and subcommands in its hash table's
    order, which changes with every process; both sides are sorted by
    name before comparing (commands Redis has and Strata lacks are
    dropped from Redis's side);
  - free texts: summaries, complexities, history texts, replaced_by and
    key-spec notes are Strata's own words, replaced by a marker on both
    sides (and checked to be there and, but for bare formulas such as
    O(1), not to be Redis's).
The proxy (RESP2 only) must answer exactly what the node answers.
"""
import os
import re

import pytest

from proxy_util import ProxySetup

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def strata_commands():
    text = open(os.path.join(ROOT, "common", "commands.def")).read()
    return re.findall(r'^CMD\(\s*\w+\s*,\s*"([^"]+)"', text, re.M)


def strata_subcommands():
    text = open(os.path.join(ROOT, "common", "subcmd.c")).read()
    return ["%s|%s" % m for m in re.findall(r'\{\s*"([a-z-]+)",\s*"([a-z-]+)",\s*-?\d+\s*\}', text)]


COMMANDS = strata_commands()
SUBCOMMANDS = strata_subcommands()
ALL = COMMANDS + SUBCOMMANDS
assert len(COMMANDS) > 150 and len(SUBCOMMANDS) > 50  # the patterns still read the tables
UNKNOWN = set()  # Strata's commands redis-server lacks (filled by the fixture)


def known():
    return [n for n in ALL if n not in UNKNOWN]
FREE_TEXT = {b"summary", b"complexity", b"replaced_by"}


# ---- a RESP2/RESP3 reader that keeps the types, and its writer ----

class Conn:
    def __init__(self, port, proto=2):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        self.pos = 0
        if proto == 3:
            r = self.call("HELLO", "3")
            assert r[0] == "%", r

    def send(self, *cmds):
        out = []
        for args in cmds:
            out.append(b"*%d\r\n" % len(args))
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line, self.pos = self.buf[self.pos:i], i + 2
                return line
            self.buf += self.sock.recv(1 << 20) or b""

    def _value(self):
        line = self._line()
        t, rest = chr(line[0]), line[1:]
        if t in "+-:_#,(":
            return (t, rest)
        if t in "$=!":
            n = int(rest)
            if n < 0:
                return (t, None)
            while len(self.buf) < self.pos + n + 2:
                self.buf += self.sock.recv(1 << 20)
            v = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return (t, v)
        if t in "*~>%":
            n = int(rest)
            if n < 0:
                return (t, None)
            return (t, [self._value() for _ in range(n * (2 if t == "%" else 1))])
        raise AssertionError("bad reply line %r" % line)

    def read(self):
        v = self._value()
        self.buf, self.pos = self.buf[self.pos:], 0
        return v

    def call(self, *args):
        self.send(args)
        return self.read()

    def pipeline(self, cmds):
        self.send(*cmds)
        return [self.read() for _ in cmds]


def dump(v):
    t, x = v
    if x is None:
        return b"%s-1\r\n" % t.encode()
    if t in "+-:_#,(":
        return t.encode() + x + b"\r\n"
    if t in "$=!":
        return b"%s%d\r\n%s\r\n" % (t.encode(), len(x), x)
    n = len(x) // 2 if t == "%" else len(x)
    return b"%s%d\r\n" % (t.encode(), n) + b"".join(dump(e) for e in x)


def pairs(v):
    """Key/value pairs of a RESP3 map or a RESP2 flat array."""
    x = v[1]
    return [(x[i], x[i + 1]) for i in range(0, len(x), 2)]


def flat(v, kv):
    return (v[0], [e for p in kv for e in p])


MARK = ("$", b"<free text>")


def canon_info(v):
    """One COMMAND INFO entry: subcommands sorted, key-spec notes masked."""
    if v[1] is None or v[0] != "*":
        return v
    x = list(v[1])
    specs = []
    for ks in x[8][1]:
        specs.append(flat(ks, [(k, MARK if k[1] == b"notes" else e) for k, e in pairs(ks)]))
    x[8] = (x[8][0], specs)
    if x[9][0] == "*":
        x[9] = ("*", sorted((canon_info(s) for s in x[9][1]), key=lambda s: s[1][0][1]))
    return ("*", x)


def canon_docs(v, texts=None, name=b""):
    """One COMMAND DOCS value: free texts masked (and collected in
    `texts` as {(name, field): text}), subcommands sorted."""
    out = []
    for k, e in pairs(v):
        f = k[1]
        if f in FREE_TEXT:
            if texts is not None:
                texts[(name, f)] = e[1]
            e = MARK
        elif f == b"history":
            hist = []
            for i, h in enumerate(e[1]):
                if texts is not None:
                    texts[(name, b"history%d" % i)] = h[1][1][1]
                hist.append((h[0], [h[1][0], MARK]))
            e = (e[0], hist)
        elif f == b"subcommands":
            subs = sorted(pairs(e), key=lambda p: p[0][1])
            e = flat(e, [(sk, canon_docs(sv, texts, sk[1])) for sk, sv in subs])
        out.append((k, e))
    return flat(v, out)


def canon_docs_reply(v, texts=None):
    """A whole COMMAND DOCS reply: entries sorted by name."""
    kv = sorted(pairs(v), key=lambda p: p[0][1])
    return flat(v, [(k, canon_docs(e, texts, k[1])) for k, e in kv])


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    from harness import Cluster
    c = Cluster(prefix="strata-command-")
    try:
        node, redis_ = c.node(), c.redis()
        # A command only Strata has (none today) cannot be compared: it is
        # left out of the comparisons, and must still be described.
        r = Conn(redis_.port)
        unknown = [n for n, v in zip(ALL, r.pipeline([("COMMAND", "INFO", n) for n in ALL]))
                   if v[1][0][1] is None]
        UNKNOWN.update(unknown)
        nc = Conn(node.port)
        for name in unknown:
            info, docs = nc.call("COMMAND", "INFO", name), nc.call("COMMAND", "DOCS", name)
            assert info[1][0][1] is not None and docs[1][1][1][0][1] == b"summary", name
        yield c, node, redis_
    finally:
        c.close()
        assert not c.sanitizer_reports, c.sanitizer_reports


@pytest.fixture(scope="module", params=[2, 3])
def conns(request, servers):
    _, node, redis_ = servers
    return Conn(node.port, request.param), Conn(redis_.port, request.param), request.param


def compare(conns, cmds, canon=lambda v: v):
    """The same requests to both servers: replies equal after canon."""
    node, redis_, proto = conns
    got, want = node.pipeline(cmds), redis_.pipeline(cmds)
    for cmd, g, w in zip(cmds, got, want):
        assert dump(canon(g)) == dump(canon(w)), "RESP%d %r" % (proto, cmd)
    return got, want


def notes(entry, out):
    """{(command, spec index): notes} of a COMMAND INFO entry."""
    for i, ks in enumerate(entry[1][8][1]):
        for k, e in pairs(ks):
            if k[1] == b"notes":
                out[(entry[1][0][1], i)] = e[1]
    if entry[1][9][0] == "*":
        for sub in entry[1][9][1]:
            notes(sub, out)
    return out


def test_info_every_command(conns):
    got, want = compare(conns, [("COMMAND", "INFO", n) for n in known()],
                        canon=lambda v: ("*", [canon_info(e) for e in v[1]]))
    mine, theirs = {}, {}
    for g, w in zip(got, want):
        notes(g[1][0], mine)
        notes(w[1][0], theirs)
    assert set(mine) == set(theirs) and mine
    assert all(text and text != theirs[k] for k, text in mine.items()), mine
    # several names, unknown ones, case, a '|' too many
    compare(conns, [("COMMAND", "INFO", "GET", "nosuch", "Client|List", "get|x", "client|list|x", "client|",
                     "|list", "config|nosuch", "zadd")],
            canon=lambda v: ("*", [canon_info(e) for e in v[1]]))


def test_info_all_and_count(conns):
    node, redis_, _ = conns
    for cmd in (("COMMAND",), ("COMMAND", "INFO")):
        got, want = node.call(*cmd), redis_.call(*cmd)
        g = {e[1][0][1]: canon_info(e) for e in got[1]}
        w = {e[1][0][1]: canon_info(e) for e in want[1]}
        assert sorted(g) == sorted(n.encode() for n in COMMANDS)
        for name in g:
            if name.decode() not in UNKNOWN:
                assert dump(g[name]) == dump(w[name]), name
    assert node.call("COMMAND", "COUNT") == (":", b"%d" % len(COMMANDS))


def test_docs_every_command(conns):
    node, redis_, _ = conns
    mine, theirs = {}, {}
    got, want = node.pipeline([("COMMAND", "DOCS", n) for n in known()]), \
        redis_.pipeline([("COMMAND", "DOCS", n) for n in known()])
    for n, g, w in zip(known(), got, want):
        assert dump(canon_docs_reply(g, mine)) == dump(canon_docs_reply(w, theirs)), n
    # Strata's texts are there wherever Redis has one, and are its own.
    assert set(mine) == set(theirs)
    for k, text in mine.items():
        assert text, k
        if k[1] == b"summary" or k[1].startswith(b"history") or b" " in text:
            # (a bare formula such as O(1) is a fact, not a text)
            assert text != theirs[k], "%r is Redis's text" % (k,)
    compare(conns, [("COMMAND", "DOCS", "get", "nosuch", "CLIENT|kill", "get", "x|y|z"),
                    ("COMMAND", "DOCS", "nosuch")], canon=canon_docs_reply)


def test_docs_all(conns):
    node, redis_, _ = conns
    got = canon_docs_reply(node.call("COMMAND", "DOCS"))
    want = {k[1]: v for k, v in pairs(canon_docs_reply(redis_.call("COMMAND", "DOCS")))}
    names = [k[1] for k, _ in pairs(got)]
    assert names == sorted(n.encode() for n in COMMANDS)
    for k, v in pairs(got):
        if k[1].decode() not in UNKNOWN:
            assert dump(v) == dump(want[k[1]]), k


def test_list_filters(conns):
    node, redis_, _ = conns
    have = set(n.encode() for n in ALL)
    cats = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
            "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
            "connection", "transaction", "scripting", "READ", "@read", "nosuch"]
    filters = [()] + [("FILTERBY", "ACLCAT", c) for c in cats] + \
        [("FILTERBY", "PATTERN", p) for p in ("*", "get*", "GET*", "client|*", "*|*", "z?add", "[a-c]*", "x")] + \
        [("FILTERBY", "MODULE", "x"), ("filterby", "module", "")]
    for f in filters:
        g, w = node.call("COMMAND", "LIST", *f), redis_.call("COMMAND", "LIST", *f)
        assert g[0] == w[0] == "*"
        gn = sorted(e[1] for e in g[1] if e[1].decode() not in UNKNOWN)
        wn = sorted(e[1] for e in w[1] if e[1] in have)
        assert gn == wn, f
    assert sorted(e[1] for e in node.call("COMMAND", "LIST")[1]) == sorted(have)
    errors = [("COMMAND", "LIST", "x"), ("COMMAND", "LIST", "FILTERBY", "x", "y"),
              ("COMMAND", "LIST", "FILTERBY", "PATTERN"), ("COMMAND", "LIST", "FILTERBY", "PATTERN", "a", "b"),
              ("COMMAND", "LIST", "FILTERBY", "PATTERN", "a", "FILTERBY", "ACLCAT", "read")]
    compare(conns, errors)


# ---- GETKEYS: argument lists from Redis's argument trees ----

def sample(args, n):
    """A command line for an argument tree: each argument once, or twice
    if multiple; integers are 2 so that a numkeys count matches the two
    keys that follow; optional arguments are in (full) or out, and a
    oneof takes its first choice (or its last, in the full line)."""
    out = []
    for a in args:
        d = {k[1]: v for k, v in pairs(a)}
        flags = [f[1] for f in d[b"flags"][1]] if b"flags" in d else []
        if b"optional" in flags and not n["full"]:
            continue
        times = 2 if b"multiple" in flags else 1
        for _ in range(times):
            if b"token" in d and (d[b"type"][1] != b"pure-token"):
                out.append(d[b"token"][1])
            t = d[b"type"][1]
            if t == b"pure-token":
                out.append(d[b"token"][1])
            elif t == b"key":
                n["k"] += 1
                out.append(b"key%d" % n["k"])
            elif t in (b"integer", b"double", b"unix-time"):
                out.append(b"2")
            elif t == b"oneof":  # the first choice, or the last in the full line
                choices = d[b"arguments"][1]
                out += sample(choices[-1:] if n["full"] else choices[:1], n)
            elif t == b"block":
                out += sample(d[b"arguments"][1], n)
            else:
                out.append(d[b"name"][1])
    return out


def command_lines(redis_):
    c = Conn(redis_.port, 2)
    lines = []
    for name in known():
        docs = pairs(c.call("COMMAND", "DOCS", name))[0][1]
        d = {k[1]: v for k, v in pairs(docs)}
        args = d[b"arguments"][1] if b"arguments" in d else []
        head = [p.encode() for p in name.split("|")]
        for full in (False, True):
            lines.append(head + sample(args, {"k": 0, "full": full}))
    return lines


EDGE = [
    ["set", "k", "v", "get"], ["set", "k", "v", "GET", "ex", "1"], ["set", "k", "v", "nx"],
    ["set", "k"], ["zunionstore", "d", "0", "a"], ["zunionstore", "d", "1x", "a"],
    ["zunionstore", "d", "-1", "a"], ["zunionstore", "d", "3", "a", "b"],
    ["zunionstore", "d", "1", "a", "weights", "1"], ["zinterstore", "d", " 1", "a"],
    ["zunionstore", "d", "4294967297", "a"], ["zunionstore", "d", "99999999999999999999", "a"],
    ["zunionstore", "d", "-4294967295", "a"], ["lmpop", "4294967297x", "a", "left"],
    ["zdiff", "2", "a"], ["zdiff", "+1", "a"], ["zintercard", "1", "a", "limit", "2"],
    ["sintercard", "0", "a"], ["lmpop", "1", "a", "left"], ["lmpop", "2", "a", "left"],
    ["lmpop", "x", "a", "left"], ["blmpop", "0", "1", "a", "left"],
    ["blmpop", "0", "0", "a", "left"], ["zmpop", "1", "a", "min"],
    ["bzmpop", "1", "2", "a", "b", "max"], ["mset", "a", "1", "b"], ["mset", "a", "1", "b", "2"],
    ["blpop", "a", "b", "0"], ["memory", "usage", "k"], ["memory", "usage"],
    ["memory", "nosuch", "k"], ["object", "encoding", "k"], ["object", "help"], ["client", "list"],
    ["get"], ["get", "a", "b"], ["nosuch", "a"], ["GET", "a"], ["Memory", "USAGE", "k"], ["ping"],
    ["rename", "a", "b"], ["copy", "a", "b", "db", "1"], ["zrangestore", "d", "s", "0", "1"],
]


def test_getkeys(conns, servers):
    lines = command_lines(servers[2]) + [[a.encode() for a in e] for e in EDGE]
    compare(conns, [["COMMAND", "GETKEYS"] + ln for ln in lines])
    compare(conns, [["COMMAND", "GETKEYSANDFLAGS"] + ln for ln in lines])
    compare(conns, [("COMMAND", "GETKEYS"), ("COMMAND", "GETKEYS", "get"),
                    ("COMMAND", "GETKEYSANDFLAGS", "get")])


def test_errors_and_help(conns):
    compare(conns, [("COMMAND", "nosuch"), ("COMMAND", "COUNT", "x"), ("COMMAND", "HELP", "x"),
                    ("COMMAND", "GETKEYS", "x"), ("COMMAND", "DOCS", "x", "y")])
    node, redis_, _ = conns
    g, w = node.call("COMMAND", "HELP"), redis_.call("COMMAND", "HELP")
    assert g[0] == w[0] == "*" and all(e[0] == "+" for e in g[1])
    assert g[1][0] == w[1][0] and g[1][-2:] == w[1][-2:]  # Redis's frame, Strata's words
    for sub in (b"COUNT", b"LIST", b"INFO", b"DOCS", b"GETKEYS", b"GETKEYSANDFLAGS"):
        assert any(e[1].startswith(sub) for e in g[1]), sub


def test_proxy_answers_as_the_node(servers):
    cluster, node, redis_ = servers
    proxy = ProxySetup(cluster, 1).proxy
    p, n, r = Conn(proxy.port), Conn(node.port), Conn(redis_.port)
    sample_names = ["get", "set", "zunionstore", "client", "client|kill", "memory|usage", "command",
                    "config|set", "blmpop", "getset", "nosuch"]
    cmds = [("COMMAND", "INFO") + tuple(sample_names), ("COMMAND", "DOCS") + tuple(sample_names),
            ("COMMAND", "COUNT"), ("COMMAND", "LIST"), ("COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash"),
            ("COMMAND", "GETKEYS", "zunionstore", "d", "2", "a", "b"),
            ("COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "get"), ("COMMAND", "nosuch"),
            ("COMMAND",), ("COMMAND", "DOCS"), ("COMMAND", "HELP")]
    for cmd, pv, nv in zip(cmds, p.pipeline(cmds), n.pipeline(cmds)):
        assert dump(pv) == dump(nv), cmd
    got, want = p.call(*cmds[0]), r.call(*cmds[0])
    assert dump(("*", [canon_info(e) for e in got[1]])) == dump(("*", [canon_info(e) for e in want[1]]))
    got, want = p.call(*cmds[1]), r.call(*cmds[1])
    assert dump(canon_docs_reply(got)) == dump(canon_docs_reply(want))
