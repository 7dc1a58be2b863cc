"""Differential testing: the same random commands against two servers.

A `Differ` sends every command to a server under test (strata-node, or later
strata-proxy) and to a reference redis-server, and compares the replies
byte for byte: values, reply types and error texts must be identical.
Commands whose replies are nondeterministic by nature (RANDOMKEY, SCAN
cursors, TTLs that drift, TIME, INFO) carry a checker that compares them by
property instead.

Commands come from generators: one function per command family, registered
in a table with `@generator(family, weight)`.  A generator gets a `Ctx` (the
seeded random source and helpers that pick keys, values and numbers, with
edge cases) and returns a `Cmd`.  New data types plug in by registering their
own generators, in this module or in another one that imports it:

    from difftest import Cmd, generator

    @generator("hash")
    def gen_hset(ctx):
        k = ctx.key()
        return Cmd([b"HSET", k, ctx.field(), ctx.value()], keys=[k], write=True)

Expiring keys: after each write, the Differ asks both servers for the PTTL
of the keys it touched (and compares them).  A key that expires soon has an
"uncertain window" around its deadline, when the two servers may disagree
about it for a millisecond or two; commands that touch such a key wait for
the window to pass, and a command that ran inside a window anyway is not
held to an exact match (its keys are deleted on both sides to resynchronise).

A run is reproducible from its seed: `Differ.run()` reports the seed, the
index of the failing command and the commands before it.  The tests take the
seed from $STRATA_SEED when it is set.

Protocols: `Differ(..., proto=3)` runs the same generators in RESP3 (HELLO 3
on both connections).  Raw replies are compared as in RESP2; property checks
get the replies in their RESP2 shape (resp2_view) after the two replies'
RESP3 types have been found equal (shape_difference).
"""
import os
import random
import socket
import time
from collections import Counter, deque

# --------------------------------------------------------------------------
# A raw RESP2/RESP3 client: it keeps the exact bytes of each reply.
#
# Parsed forms.  RESP2 values parse as before: simple string -> str, error
# -> Error, integer -> int, bulk -> bytes, array -> list, null bulk and
# null array -> None.  RESP3's other types parse into subclasses of those,
# so code written against RESP2 replies keeps working on RESP3 ones and
# code that cares can tell them apart with type():
#
#   _  null            None
#   ,  double          Double (bytes: the text as sent, "1.5", "inf")
#   #  boolean         True / False
#   (  big number      BigNumber (int)
#   !  blob error      BlobError (an Error)
#   =  verbatim        Verbatim (bytes: the text without "txt:"; .format)
#   %  map             Map (list: flat key, value, key, value... as RESP2)
#   ~  set             Set (list)
#   >  push            Push (list)
#   |  attribute       read, kept in RespConn.attribute, then the value it
#                      annotates is returned (the raw bytes hold both)


class Error(bytes):
    """An error reply (the text after '-')."""


class BlobError(Error):
    """A RESP3 blob error ('!'): the same text as an Error."""


class Double(bytes):
    """A RESP3 double (','), kept as the text the server wrote: RESP2
    sends the same text as a bulk string."""

    @property
    def value(self):
        return float(self)


class BigNumber(int):
    """A RESP3 big number ('(')."""


class Verbatim(bytes):
    """A RESP3 verbatim string ('='): the text, with its format ("txt")."""

    format = b"txt"


class Map(list):
    """A RESP3 map ('%'), flat as RESP2 sends it: [k1, v1, k2, v2, ...]."""

    def pairs(self):
        return list(zip(self[::2], self[1::2]))


class Set(list):
    """A RESP3 set ('~'), in the order the server sent it."""


class Push(list):
    """A RESP3 push ('>'): an out-of-band message (pub/sub)."""


class ProtocolError(Exception):
    pass


class RespConn:
    """A blocking connection that sends commands as multibulk requests and
    returns each reply both raw (its exact bytes) and parsed.  With
    proto=3 it sends HELLO 3 on connecting (and on reconnect()) and keeps
    the server's HELLO map in self.hello; a server that refuses HELLO 3
    raises ProtocolError."""

    def __init__(self, host, port, timeout=15.0, proto=2):
        self.addr = (host, port)
        self.timeout = timeout
        self.proto = proto
        self._connect()

    def _connect(self):
        self.sock = socket.create_connection(self.addr, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.attribute = None
        self.hello = None
        if self.proto == 3:
            reply = self.call(b"HELLO", b"3")
            if not isinstance(reply, Map):
                raise ProtocolError(f"HELLO 3 refused by port {self.addr[1]}: {reply!r:.200}")
            self.hello = dict(reply.pairs())

    def reconnect(self):
        """A new connection to the same server, in the same protocol."""
        try:
            self.sock.close()
        except OSError:
            pass
        self._connect()

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, args):
        self.sock.sendall(self.encode(args))

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise ProtocolError("bulk string not followed by CRLF")
        self.pos += n + 2
        return data

    def _count(self, rest, line):
        try:
            return int(rest)
        except ValueError:
            raise ProtocolError(f"bad length in {line[:80]!r}") from None

    def _parse(self):
        line = self._line()
        if not line:
            raise ProtocolError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode("latin-1")
        if t == b"-":
            return Error(rest)
        if t == b":":
            return int(rest)
        if t == b"$":
            n = self._count(rest, line)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = self._count(rest, line)
            return None if n < 0 else [self._parse() for _ in range(n)]
        # RESP3
        if t == b"_":
            if rest:
                raise ProtocolError(f"null with a payload: {line[:80]!r}")
            return None
        if t == b",":
            try:
                float(rest)
            except ValueError:
                raise ProtocolError(f"bad double {line[:80]!r}") from None
            return Double(rest)
        if t == b"#":
            if rest not in (b"t", b"f"):
                raise ProtocolError(f"bad boolean {line[:80]!r}")
            return rest == b"t"
        if t == b"(":
            return BigNumber(self._count(rest, line))
        if t == b"!":
            return BlobError(self._exact(self._count(rest, line)))
        if t == b"=":
            data = self._exact(self._count(rest, line))
            if len(data) < 4 or data[3:4] != b":":
                raise ProtocolError(f"verbatim string without a format: {data[:80]!r}")
            v = Verbatim(data[4:])
            v.format = data[:3]
            return v
        if t == b"%":
            n = self._count(rest, line)
            return Map(self._parse() for _ in range(2 * n))
        if t == b"~":
            return Set(self._parse() for _ in range(self._count(rest, line)))
        if t == b">":
            return Push(self._parse() for _ in range(self._count(rest, line)))
        if t == b"|":
            n = self._count(rest, line)
            self.attribute = Map(self._parse() for _ in range(2 * n))
            return self._parse()
        raise ProtocolError(f"unexpected reply type byte {t!r} in {line[:80]!r}")

    def read(self):
        """(raw bytes, parsed value) of the next reply."""
        start = self.pos
        self.attribute = None
        value = self._parse()
        raw = bytes(self.buf[start:self.pos])
        del self.buf[:self.pos]
        self.pos = 0
        return raw, value

    def call(self, *args):
        self.send(args)
        return self.read()[1]


def no_reply_yet(c, wait=0.15):
    """True if nothing has arrived on RespConn c within `wait` seconds."""
    if len(c.buf) > c.pos:
        return False
    c.sock.settimeout(wait)
    try:
        c.sock.recv(1, socket.MSG_PEEK)  # a reply (or EOF) is there
        return False
    except socket.timeout:
        return True
    finally:
        c.sock.settimeout(10)


def blocked_clients(c):
    """blocked_clients of INFO clients, read through RespConn c."""
    for line in c.call(b"INFO", b"clients").split(b"\r\n"):
        if line.startswith(b"blocked_clients:"):
            return int(line.split(b":")[1])
    raise AssertionError("no blocked_clients in INFO clients")


def wait_blocked(c, n, timeout=10):
    """Poll until the server reports exactly n blocked clients."""
    deadline = time.monotonic() + timeout
    while blocked_clients(c) != n:
        assert time.monotonic() < deadline, f"never saw {n} blocked clients"
        time.sleep(0.005)


# --------------------------------------------------------------------------
# Commands and generators


class Cmd:
    """One generated command.

    args      the command and its arguments (bytes)
    keys      the keys it reads or writes (for expiry tracking)
    write     True if it may change the data set: its keys' TTLs are then
              compared on both sides afterwards
    keyspace  True if it looks at the whole key space (KEYS, DBSIZE, SCAN...):
              every pending expiry is waited for first
    check     None to compare the raw replies exactly, else a function
              check(differ, cmd, a, b) -> None or a message, given the parsed
              replies of the server under test (a) and the reference (b)
    """

    __slots__ = ("args", "keys", "write", "keyspace", "check")

    def __init__(self, args, keys=(), write=False, keyspace=False, check=None):
        self.args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.keys = list(keys)
        self.write = write
        self.keyspace = keyspace
        self.check = check

    def __repr__(self):
        return " ".join(_show(a) for a in self.args)


def _show(b, limit=60):
    s = repr(b)[2:-1] if isinstance(b, bytes) else repr(b)
    if len(s) > limit:
        s = s[:limit] + f"...({len(b)} bytes)"
    if not s or " " in s:
        s = '"' + s + '"'
    return s


# family -> list of (generator function, weight)
GENERATORS = {}


def generator(family, weight=1.0):
    """Register a generator function in a command family."""
    def register(fn):
        GENERATORS.setdefault(family, []).append((fn, weight))
        return fn
    return register


class Ctx:
    """The seeded random source and helpers for generators."""

    # A small key space, so that commands collide on the same keys often.
    KEYS = [b"k0", b"k1", b"k2", b"k3", b"k4", b"k5", b"num", b"f",
            b"", b"b\x00in\xff", b"{t}a", b"{t}b", b"sp ace", b"k*", b"k?x",
            b"\xc3\xa9t\xc3\xa9"]

    def __init__(self, seed):
        self.seed = seed
        self.r = random.Random(seed)

    # --- keys and values

    def key(self):
        if self.r.random() < 0.85:
            return self.r.choice(self.KEYS[:8])
        return self.r.choice(self.KEYS)

    def keys(self, lo=1, hi=5):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def value(self):
        x = self.r.random()
        if x < 0.3:
            return self.int_str()
        if x < 0.4:
            return self.float_str()
        if x < 0.5:
            return b""
        if x < 0.55:
            return self.r.choice(b"abcxyz").to_bytes(1, "big") * self.r.randint(200, 5000)
        if x < 0.7:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 40)))
        if x < 0.75:
            return b"a\r\nb\r\n$3\r\n*1\r\n"
        return self.r.choice([b"hello", b"world", b"v", b"value with spaces",
                              b"\xff\xfe", b"\x00", b"-", b"+OK"])

    def cmdname(self, name):
        """The command name, in random letter case now and then."""
        if self.r.random() < 0.1:
            return bytes(c ^ 0x20 if 97 <= c <= 122 and self.r.random() < 0.5 else c
                         for c in name.lower())
        return name

    # --- numbers, with the edge cases parsers get wrong

    INT_EDGES = [b"0", b"1", b"-1", b"9223372036854775807", b"-9223372036854775808",
                 b"9223372036854775806", b"-9223372036854775807",
                 b"9223372036854775808", b"-9223372036854775809",
                 b"18446744073709551616", b"4294967296", b"2147483647", b"-2147483648",
                 b"+1", b"01", b"-0", b" 1", b"1 ", b"1.0", b"1e3", b"0x10", b"",
                 b"abc", b"-", b"12a", b"\x001"]

    def int_str(self):
        x = self.r.random()
        if x < 0.6:
            return str(self.r.randint(-100, 100)).encode()
        if x < 0.8:
            return str(self.r.randint(-2**40, 2**40)).encode()
        return self.r.choice(self.INT_EDGES)

    FLOAT_EDGES = [b"0", b"-0", b"0.0", b"1.5", b"-1.5", b"0.1", b"3.0e3", b"1e-5",
                   b"1E10", b"5.0e-324", b"1.7976931348623157e308", b"1e308", b"1e309",
                   b"-1e308", b"inf", b"-inf", b"+inf", b"nan", b"1.", b".5", b"5e",
                   b"0x1p3", b" 1.5", b"1.5 ", b"1,5", b"", b"abc", b"10.50",
                   b"123456789012345678901234567890", b"0.30000000000000004"]

    def float_str(self):
        x = self.r.random()
        if x < 0.5:
            return repr(round(self.r.uniform(-1000, 1000), self.r.randint(0, 6))).encode()
        if x < 0.65:
            return str(self.r.randint(-1000, 1000)).encode()
        return self.r.choice(self.FLOAT_EDGES)

    def ttl_ms(self):
        """A relative expiry in ms: mostly long, sometimes a few ms."""
        x = self.r.random()
        if x < 0.35:
            return self.r.randint(1, 50)
        if x < 0.85:
            return self.r.randint(100_000, 10_000_000)
        return self.r.choice([0, -1, -100, 9223372036854775807, 9223372036854775,
                              9223372036854776, 2**62])

    def ttl_s(self):
        x = self.r.random()
        if x < 0.8:
            return self.r.randint(100, 100_000)
        return self.r.choice([0, -1, -5, 9223372036854775807, 9223372036854775,
                              9223372036854776, 2**62, 1])

    def abs_ms(self):
        """An absolute unix time in ms: future, soon, past, or absurd."""
        now = int(time.time() * 1000)
        x = self.r.random()
        if x < 0.5:
            return now + self.r.randint(100_000, 10_000_000)
        if x < 0.7:
            return now + self.r.randint(1, 50)
        if x < 0.9:
            return self.r.choice([now - 10_000, 1, 0, -1])
        return self.r.choice([9223372036854775807, 2**62, -9223372036854775808])

    def abs_s(self):
        now = int(time.time())
        x = self.r.random()
        if x < 0.7:
            return now + self.r.randint(100, 100_000)
        if x < 0.9:
            return self.r.choice([now - 100, 1, 0, -1])
        return self.r.choice([9223372036854775807, 9223372036854775, 2**62])

    def index(self):
        x = self.r.random()
        if x < 0.8:
            return self.r.randint(-20, 20)
        return self.r.choice([9223372036854775807, -9223372036854775808, 2**31, -2**31,
                              1000000])

    def pattern(self):
        pieces = [b"*", b"?", b"k", b"k*", b"[0-3]", b"[^0]", b"[a-z]", b"\\*", b"\\?",
                  b"{t}", b"[", b"]", b"x", b"num", b"[!k]", b"\\", b"[\\]]", b"sp ace"]
        return b"".join(self.r.choice(pieces) for _ in range(self.r.randint(1, 3)))


# --------------------------------------------------------------------------
# Property checks for nondeterministic replies


def check_unordered(differ, cmd, a, b):
    """Arrays equal as multisets (KEYS)."""
    if not isinstance(a, list) or not isinstance(b, list):
        return None if a == b else "replies differ"
    return None if sorted(a) == sorted(b) else "different elements"


def check_close(tolerance):
    """Integers equal, or both >= 0 and within `tolerance` of each other
    (TTL, PTTL, EXPIRETIME, PEXPIRETIME of a key both sides set a moment apart)."""
    def check(differ, cmd, a, b):
        if a == b:
            return None
        if isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0 \
                and abs(a - b) <= tolerance:
            return None
        return f"not within {tolerance}"
    return check


def check_time(differ, cmd, a, b):
    if isinstance(b, Error):
        return None if a == b else "error differs"
    if not (isinstance(a, list) and len(a) == 2 and all(isinstance(x, bytes) for x in a)):
        return "TIME is not an array of two bulk strings"
    try:
        sec, usec = int(a[0]), int(a[1])
    except ValueError:
        return "TIME fields are not integers"
    if not 0 <= usec < 1_000_000:
        return "microseconds out of range"
    if abs(sec + usec / 1e6 - time.time()) > 5:
        return "TIME is more than 5 s away from the local clock"
    return None


def check_info(differ, cmd, a, b):
    if isinstance(b, Error) or isinstance(a, Error):
        return None if a == b else "error differs"
    if not isinstance(a, bytes):
        return "INFO is not a string"
    lines = a.split(b"\r\n")
    if any(line and not line.startswith(b"#") and b":" not in line for line in lines):
        return "INFO has a line that is neither a '# Section' nor 'field:value'"
    want = [x for x in b.split(b"\r\n") if x.startswith(b"db0:")]
    have = [x for x in lines if x.startswith(b"db0:")]
    if want or have:
        def keys(xs):
            return xs[0].split(b",")[0] if xs else None
        if keys(want) != keys(have):
            return f"keyspace differs: {keys(have)!r} vs {keys(want)!r}"
    return None


def check_scan(differ, cmd, a, b):
    """Iterate SCAN to its end on each side with the same options; the sets
    of keys found must be equal and every cursor well formed."""
    if isinstance(a, Error) or isinstance(b, Error) or a is None or b is None:
        return None if a == b else "replies differ"
    found = []
    for conn, first in ((differ.a, a), (differ.b, b)):
        keys = set()
        reply = first
        for _ in range(10_000):
            if not (isinstance(reply, list) and len(reply) == 2 and isinstance(reply[0], bytes)
                    and isinstance(reply[1], list)):
                return f"malformed SCAN reply {reply!r:.200}"
            if not reply[0].isdigit():
                return f"SCAN cursor {reply[0]!r} is not a number"
            keys.update(reply[1])
            if reply[0] == b"0":
                break
            reply = conn.call(*([cmd.args[0], reply[0]] + cmd.args[2:]))
        else:
            return "SCAN did not finish in 10000 calls"
        found.append(keys)
    if found[0] != found[1]:
        return f"SCAN keys differ: only here {found[0] - found[1]!r:.200}, " \
               f"only in reference {found[1] - found[0]!r:.200}"
    return None


def check_randomkey(differ, cmd, a, b):
    if (a is None) != (b is None):
        return "one side has no keys"
    if a is None or isinstance(b, Error):
        return None if a == b else "replies differ"
    if not isinstance(a, bytes):
        return "RANDOMKEY is not a bulk string"
    if differ.b.call(b"EXISTS", a) != 1:
        return f"RANDOMKEY returned {a!r}, which the reference does not have"
    return None


# --------------------------------------------------------------------------
# RESP3 replies as the property checks see them


def resp2_view(v):
    """A RESP3 reply in the shape a check written for RESP2 expects: arrays
    of [x, y] pairs (WITHSCORES, HRANDFIELD WITHVALUES, ZPOPMIN with a
    count, ZMPOP's elements) flattened to [x, y, x, y, ...] as RESP2 sends
    them, at any depth.  Everything else is returned as parsed: the RESP3
    types already parse into subclasses of their RESP2 forms.  (A reply
    that is an array of two-element arrays for another reason, such as an
    EXEC of two-element replies, would be flattened too: no generated
    command with a check gives one.)"""
    if type(v) is not list:
        return v
    if v and all(type(e) is list and len(e) == 2 and
                 not any(isinstance(x, list) for x in e) for e in v):
        return [x for e in v for x in e]
    return [resp2_view(e) for e in v]


def _type_name(v):
    return "null" if v is None else type(v).__name__


def shape_difference(a, b, path="reply"):
    """None if the parsed replies a and b have the same RESP types at the
    same places (the values themselves may differ), else a text naming the
    first place where they do not.  Aggregates are compared element by
    element over their common length, so pages or samples of different
    sizes still compare.  Used in RESP3 for replies that a property check
    compares loosely, so that a map sent as an array, a double as a bulk
    string or flat pairs instead of nested ones are still caught."""
    if type(a) is not type(b):
        return f"{path} is {_type_name(a)} here, {_type_name(b)} in the reference"
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = shape_difference(x, y, f"{path}[{i}]")
            if d:
                return d
    elif isinstance(a, Verbatim) and a.format != b.format:
        return f"{path}: verbatim format {a.format!r} here, {b.format!r} in the reference"
    return None


# --------------------------------------------------------------------------
# The differ


class Mismatch(AssertionError):
    pass


class Differ:
    """Runs generated commands on `a` (the server under test) and `b` (the
    reference) and compares the replies.

    proto=3 speaks RESP3 on both connections (HELLO 3 first, and again
    after reconnect()).  Replies are still compared byte for byte; for a
    command with a property check, the two replies must also have the
    same RESP3 types in the same places (shape_difference), and the check
    gets them through resp2_view, so that one check serves both
    protocols."""

    HISTORY = 30        # commands shown before a mismatch
    SHORT_TTL_MS = 300_000  # keys expiring sooner than this (in a run) are tracked
    SLACK = 0.015        # seconds of uncertainty around each expiry

    def __init__(self, a_port, b_port, seed=None, families=None, weights=None, host="127.0.0.1",
                 flush=True, proto=2):
        if seed is None:
            seed = int(os.environ.get("STRATA_SEED") or random.SystemRandom().randrange(1 << 32))
        self.seed = seed
        self.ctx = Ctx(seed)
        self.proto = proto
        self.a = RespConn(host, a_port, proto=proto)
        self.b = RespConn(host, b_port, proto=proto)
        if flush:  # start both from an empty data set (keys left over could expire)
            for conn in (self.a, self.b):
                if conn.call(b"FLUSHALL") != "OK":
                    raise RuntimeError(f"FLUSHALL failed on port {conn.addr[1]}")
        self.history = deque(maxlen=self.HISTORY)
        self.windows = {}   # key -> (start, end) on time.monotonic() of its expiry
        self.volatile = set()  # keys that had a short TTL since the last settle
        self.ambiguous = 0  # commands that ran inside an expiry window
        self.waits = 0.0    # seconds spent waiting for expiry windows
        # (command name, reply type byte) -> count: what a run covered
        self.stats = Counter()
        families = families or sorted(GENERATORS)
        table = []
        for fam in families:
            for fn, w in GENERATORS[fam]:
                table.append((fn, w * (weights or {}).get(fam, 1.0)))
        self.gens = [fn for fn, _ in table]
        self.cum = []
        total = 0.0
        for _, w in table:
            total += w
            self.cum.append(total)

    def close(self):
        self.a.close()
        self.b.close()

    def reconnect(self):
        """New connections to both servers (in the Differ's protocol)."""
        self.a.reconnect()
        self.b.reconnect()

    def coverage(self):
        """A short text: per command, how many replies of each type."""
        per = {}
        for (name, t), n in self.stats.items():
            per.setdefault(name, Counter())[t.decode()] += n
        return ", ".join(f"{name.decode(errors='replace')}[" +
                         " ".join(f"{t}{n}" for t, n in sorted(c.items())) + "]"
                         for name, c in sorted(per.items()) if len(name) < 20)

    def pick(self):
        return self.ctx.r.choices(self.gens, cum_weights=self.cum)[0]

    # --- expiry windows

    def _wait_windows(self, keys):
        now = time.monotonic()
        end = 0.0
        for k in list(self.windows):
            s, e = self.windows[k]
            if e < now:
                del self.windows[k]
            elif keys is None or k in keys:
                if s - self.SLACK < now + 0.002:
                    end = max(end, e)
        if end > now:
            time.sleep(end - now)
            self.waits += end - now

    def _in_window(self, keys, t0, t1):
        for k, (s, e) in self.windows.items():
            if (keys is None or k in keys) and t0 <= e and t1 >= s:
                return True
        return False

    def _settle(self):
        """Wait out every pending expiry, then make the reference reap the
        expired keys (a key past its TTL still counts in Redis's DBSIZE until
        something touches it)."""
        self._wait_windows(None)
        for k in self.volatile:
            self.both([b"EXISTS", k])
        now = time.monotonic()
        # Keys whose expiry is still to come stay tracked.
        self.volatile = {k for k in self.volatile if k in self.windows and self.windows[k][1] > now}

    def _track(self, keys, t0):
        """Compare the TTLs of `keys` and record short ones as windows."""
        for k in dict.fromkeys(keys):
            ra, rb = self.both([b"PTTL", k])
            t1 = time.monotonic()
            a, b = ra[1], rb[1]
            close = isinstance(a, int) and isinstance(b, int) and (
                (a >= 0 and b >= 0 and abs(a - b) <= 250) or
                # one side saw a key that expires within ms as already gone
                (min(a, b) == -2 and 0 <= max(a, b) <= 100))
            if a != b and not close:
                if not self._in_window([k], t0, t1):
                    raise self._mismatch(Cmd([b"PTTL", k]), ra, rb,
                                         "TTLs differ after the previous command")
            ttls = [x[1] for x in (ra, rb) if isinstance(x[1], int) and x[1] >= 0]
            if ttls and min(ttls) < self.SHORT_TTL_MS:
                self.windows[k] = (t0 + min(ttls) / 1000 - self.SLACK,
                                   t1 + max(ttls) / 1000 + self.SLACK)
                self.volatile.add(k)
            elif not ttls:
                self.windows.pop(k, None)

    # --- sending

    def both(self, args):
        """Send to both servers, read both replies: ((raw, parsed), (raw, parsed))."""
        self.a.send(args)
        self.b.send(args)
        return self.a.read(), self.b.read()

    def _mismatch(self, cmd, ra, rb, why, index=None):
        lines = [f"differential test mismatch: {why}",
                 f"  seed {self.seed} (replay with STRATA_SEED={self.seed})",
                 f"  command #{index if index is not None else '?'}: {cmd!r}",
                 f"  strata:    {ra[0][:400]!r}",
                 f"  reference: {rb[0][:400]!r}",
                 f"  the {len(self.history)} commands before it, with the reference's replies:"]
        for i, c, rep in self.history:
            lines.append(f"    #{i}: {c!r}  ->  {rep[:120]!r}")
        return Mismatch("\n".join(lines))

    def execute(self, cmd, index=None):
        keys = None if cmd.keyspace else set(cmd.keys)
        if cmd.keyspace:
            self._settle()
        elif keys:
            self._wait_windows(keys)
        t0 = time.monotonic()
        try:
            ra, rb = self.both(cmd.args)
        except (OSError, ProtocolError, ValueError) as e:
            # The server under test hung, closed the connection or sent garbage.
            raise self._mismatch(cmd, (repr(e).encode(),), (b"?",),
                                 "no valid reply from a server", index) from e
        t1 = time.monotonic()
        uncertain = (keys is None or bool(keys)) and self._in_window(keys, t0, t1)
        if cmd.check is None:
            why = None if ra[0] == rb[0] else "replies differ"
        elif self.proto == 3:
            why = shape_difference(ra[1], rb[1]) or \
                cmd.check(self, cmd, resp2_view(ra[1]), resp2_view(rb[1]))
        else:
            why = cmd.check(self, cmd, ra[1], rb[1])
        if why is not None:
            if not uncertain:
                raise self._mismatch(cmd, ra, rb, why, index)
            # The command raced an expiry: resynchronise its keys.
            self.ambiguous += 1
            for k in keys or ():
                self.both([b"DEL", k])
                self.windows.pop(k, None)
        self.history.append((index, cmd, rb[0]))
        self.stats[(cmd.args[0].upper(), rb[0][:1])] += 1
        if cmd.write and cmd.keys:
            self._track(cmd.keys, t0)
        elif cmd.write:  # FLUSHDB and friends: nothing is left to expire
            self.windows.clear()
            self.volatile.clear()
        return ra, rb

    def run(self, count, max_seconds=None, keep_going=False):
        """Run `count` generated commands (fewer if `max_seconds` passes).
        Returns the number run.  Raises Mismatch on the first difference,
        or with keep_going, records it in self.mismatches, brings both sides
        back in step (deletes the command's keys, or flushes both for a
        key-space command) and goes on."""
        self.mismatches = []
        deadline = time.monotonic() + max_seconds if max_seconds else None
        for i in range(count):
            if deadline and time.monotonic() > deadline:
                return i
            cmd = self.pick()(self.ctx)
            try:
                self.execute(cmd, i)
            except Mismatch as e:
                if not keep_going:
                    raise
                self.mismatches.append((i, cmd, e))
                if cmd.keyspace or not cmd.keys:
                    self.both([b"FLUSHALL"])
                    self.windows.clear()
                    self.volatile.clear()
                else:
                    for k in cmd.keys:
                        self.both([b"DEL", k])
                        self.windows.pop(k, None)
        return count


# --------------------------------------------------------------------------
# Generators: strings


def _arity_error_variant(ctx, args, lo, hi=None):
    """Sometimes drop or add arguments to provoke arity errors."""
    if ctx.r.random() < 0.05:
        n = ctx.r.randint(0, max(0, lo - 2))
        return args[:1 + n]
    if hi is not None and ctx.r.random() < 0.05:
        return args + [ctx.value() for _ in range(ctx.r.randint(1, 3))]
    return args


@generator("string", 3)
def gen_get(ctx):
    k = ctx.key()
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"GET"), k], 2, 2), keys=[k])


def _set_expiry_opts(ctx):
    x = ctx.r.random()
    if x < 0.25:
        return [b"PX", ctx.ttl_ms()]
    if x < 0.45:
        return [b"EX", ctx.ttl_s()]
    if x < 0.55:
        return [b"EXAT", ctx.abs_s()]
    if x < 0.65:
        return [b"PXAT", ctx.abs_ms()]
    if x < 0.75:
        return [b"KEEPTTL"]
    if x < 0.8:
        return [ctx.r.choice([b"EX", b"PX", b"EXAT", b"PXAT"]), ctx.r.choice(ctx.INT_EDGES)]
    if x < 0.83:
        return [ctx.r.choice([b"EX", b"PX"])]  # the value is missing
    return []


@generator("string", 4)
def gen_set(ctx):
    k = ctx.key()
    args = [ctx.cmdname(b"SET"), k, ctx.value()]
    opts = []
    if ctx.r.random() < 0.6:
        opts += _set_expiry_opts(ctx)
    if ctx.r.random() < 0.3:
        opts.append(ctx.r.choice([b"NX", b"XX", b"nx", b"xx"]))
    if ctx.r.random() < 0.2:
        opts.append(b"GET")
    if ctx.r.random() < 0.08:  # conflicting or unknown options
        opts += ctx.r.choice([[b"NX", b"XX"], [b"EX", 10, b"PX", 10], [b"KEEPTTL", b"EX", 5],
                              [b"FOO"], [b"GET", b"GET"], [b"EX", 10, b"EX", 10]])
    if ctx.r.random() < 0.1:
        ctx.r.shuffle(opts)
    return Cmd(_arity_error_variant(ctx, args + opts, 3), keys=[k], write=True)


@generator("string")
def gen_setnx(ctx):
    k = ctx.key()
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"SETNX"), k, ctx.value()], 3, 3),
               keys=[k], write=True)


@generator("string")
def gen_setex(ctx):
    k = ctx.key()
    if ctx.r.random() < 0.5:
        args = [b"SETEX", k, ctx.ttl_s(), ctx.value()]
    else:
        args = [b"PSETEX", k, ctx.ttl_ms(), ctx.value()]
    if ctx.r.random() < 0.05:
        args[2] = ctx.r.choice(ctx.INT_EDGES)
    return Cmd(_arity_error_variant(ctx, args, 4, 4), keys=[k], write=True)


@generator("string")
def gen_getset_getdel(ctx):
    k = ctx.key()
    if ctx.r.random() < 0.5:
        args = [b"GETSET", k, ctx.value()]
    else:
        args = [b"GETDEL", k]
    return Cmd(_arity_error_variant(ctx, args, len(args), len(args)), keys=[k], write=True)


@generator("string")
def gen_getex(ctx):
    k = ctx.key()
    args = [b"GETEX", k]
    x = ctx.r.random()
    if x < 0.2:
        args += [b"PX", ctx.ttl_ms()]
    elif x < 0.35:
        args += [b"EX", ctx.ttl_s()]
    elif x < 0.45:
        args += [b"EXAT", ctx.abs_s()]
    elif x < 0.55:
        args += [b"PXAT", ctx.abs_ms()]
    elif x < 0.7:
        args += [b"PERSIST"]
    elif x < 0.78:
        args += ctx.r.choice([[b"EX", 10, b"PX", 10], [b"PERSIST", b"EX", 10], [b"FOO"],
                              [b"EX"], [b"EX", b"abc"], [b"PERSIST", b"PERSIST"]])
    return Cmd(args, keys=[k], write=True)


@generator("string", 2)
def gen_mget(ctx):
    ks = ctx.keys(1, 6)
    return Cmd([ctx.cmdname(b"MGET")] + ks if ctx.r.random() > 0.03 else [b"MGET"], keys=ks)


@generator("string", 2)
def gen_mset(ctx):
    ks = ctx.keys(1, 4)
    args = [ctx.r.choice([b"MSET", b"MSETNX"])]
    for k in ks:
        args += [k, ctx.value()]
    if ctx.r.random() < 0.05:
        args = args[:-1]  # odd number of arguments
    return Cmd(args, keys=ks, write=True)


@generator("string", 5)
def gen_incr(ctx):
    k = ctx.r.choice([b"num", b"num", b"k0", b"k1", ctx.key()])
    x = ctx.r.random()
    if x < 0.25:
        args = [ctx.cmdname(b"INCR"), k]
    elif x < 0.4:
        args = [b"DECR", k]
    elif x < 0.7:
        args = [ctx.cmdname(b"INCRBY"), k, ctx.int_str()]
    else:
        args = [b"DECRBY", k, ctx.int_str()]
    x = ctx.r.random()
    if x < 0.05:  # start from a boundary value
        return Cmd([b"SET", k, ctx.r.choice(ctx.INT_EDGES)], keys=[k], write=True)
    if x < 0.15:  # or from a plain integer, so that more increments succeed
        return Cmd([b"SET", k, ctx.r.randint(-1000, 1000)], keys=[k], write=True)
    return Cmd(_arity_error_variant(ctx, args, len(args), len(args)), keys=[k], write=True)


@generator("string", 3)
def gen_incrbyfloat(ctx):
    k = ctx.r.choice([b"f", b"f", b"num", ctx.key()])
    x = ctx.r.random()
    if x < 0.1:
        return Cmd([b"SET", k, ctx.float_str()], keys=[k], write=True)
    if x < 0.2:
        return Cmd([b"SET", k, repr(ctx.r.uniform(-1e6, 1e6)).encode()], keys=[k], write=True)
    return Cmd(_arity_error_variant(ctx, [b"INCRBYFLOAT", k, ctx.float_str()], 3, 3),
               keys=[k], write=True)


@generator("string", 2)
def gen_append_strlen(ctx):
    k = ctx.key()
    if ctx.r.random() < 0.5:
        return Cmd(_arity_error_variant(ctx, [b"APPEND", k, ctx.value()], 3, 3),
                   keys=[k], write=True)
    return Cmd(_arity_error_variant(ctx, [b"STRLEN", k], 2, 2), keys=[k])


@generator("string", 2)
def gen_getrange(ctx):
    k = ctx.key()
    name = ctx.r.choice([b"GETRANGE", b"GETRANGE", b"SUBSTR"])
    args = [name, k, ctx.index(), ctx.index()]
    if ctx.r.random() < 0.05:
        args[ctx.r.randint(2, 3)] = ctx.r.choice(ctx.INT_EDGES)
    return Cmd(_arity_error_variant(ctx, args, 4, 4), keys=[k])


@generator("string", 2)
def gen_setrange(ctx):
    k = ctx.key()
    x = ctx.r.random()
    if x < 0.8:
        off = ctx.r.randint(0, 64)
    elif x < 0.9:
        off = ctx.r.randint(0, 5000)
    else:
        # Never 512 MiB minus a little: that would really allocate 512 MiB.
        off = ctx.r.choice([-1, -100, 536870912, 536870913, 9223372036854775807, b"abc", b"1.5"])
    val = ctx.value() if ctx.r.random() < 0.9 else b""
    return Cmd(_arity_error_variant(ctx, [b"SETRANGE", k, off, val], 4, 4), keys=[k], write=True)


# --------------------------------------------------------------------------
# Generators: generic key commands


@generator("keys", 2)
def gen_del_exists(ctx):
    ks = ctx.keys(1, 4)
    name = ctx.r.choice([b"DEL", b"UNLINK", b"EXISTS", b"EXISTS", b"TOUCH"])
    args = [ctx.cmdname(name)] + ks
    if ctx.r.random() < 0.03:
        args = args[:1]
    return Cmd(args, keys=ks, write=name in (b"DEL", b"UNLINK"))


@generator("keys")
def gen_type(ctx):
    k = ctx.key()
    return Cmd(_arity_error_variant(ctx, [b"TYPE", k], 2, 2), keys=[k])


@generator("keys", 3)
def gen_expire(ctx):
    k = ctx.key()
    name = ctx.r.choice([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"])
    t = {b"EXPIRE": ctx.ttl_s, b"PEXPIRE": ctx.ttl_ms,
         b"EXPIREAT": ctx.abs_s, b"PEXPIREAT": ctx.abs_ms}[name]()
    if ctx.r.random() < 0.05:
        t = ctx.r.choice(ctx.INT_EDGES)
    args = [ctx.cmdname(name), k, t]
    if ctx.r.random() < 0.35:
        args.append(ctx.r.choice([b"NX", b"XX", b"GT", b"LT", b"gt", b"nx"]))
    if ctx.r.random() < 0.06:
        args.append(ctx.r.choice([b"NX", b"XX", b"GT", b"LT", b"FOO"]))
    return Cmd(_arity_error_variant(ctx, args, 3), keys=[k], write=True)


@generator("keys", 2)
def gen_ttl(ctx):
    k = ctx.key()
    name = ctx.r.choice([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"])
    # PTTL/PEXPIRETIME: the two sides set the expiry a moment apart.
    tol = {b"TTL": 1, b"EXPIRETIME": 1, b"PTTL": 250, b"PEXPIRETIME": 250}[name]
    return Cmd(_arity_error_variant(ctx, [name, k], 2, 2), keys=[k], check=check_close(tol))


@generator("keys")
def gen_persist(ctx):
    k = ctx.key()
    return Cmd(_arity_error_variant(ctx, [b"PERSIST", k], 2, 2), keys=[k], write=True)


@generator("keys")
def gen_rename(ctx):
    src, dst = ctx.key(), ctx.key()
    name = ctx.r.choice([b"RENAME", b"RENAMENX"])
    return Cmd(_arity_error_variant(ctx, [name, src, dst], 3, 3), keys=[src, dst], write=True)


@generator("keys", 0.6)
def gen_keys(ctx):
    pat = ctx.pattern() if ctx.r.random() < 0.8 else b"*"
    return Cmd([b"KEYS", pat], keyspace=True, check=check_unordered)


@generator("keys", 0.6)
def gen_scan(ctx):
    args = [b"SCAN", b"0"]
    if ctx.r.random() < 0.5:
        args += [b"MATCH", ctx.pattern()]
    if ctx.r.random() < 0.5:
        args += [b"COUNT", ctx.r.choice([1, 2, 5, 10, 100])]
    if ctx.r.random() < 0.3:
        args += [b"TYPE", ctx.r.choice([b"string", b"hash", b"list", b"STRING", b"none"])]
    if ctx.r.random() < 0.08:  # bad arguments: answered exactly
        args = ctx.r.choice([[b"SCAN", b"abc"], [b"SCAN", b"1x"], [b"SCAN", b"0", b"COUNT", 0],
                             [b"SCAN", b"0", b"COUNT", b"x"], [b"SCAN", b"0", b"FOO", b"1"],
                             [b"SCAN", b"0", b"MATCH"], [b"SCAN"]])
        return Cmd(args, keyspace=True)
    return Cmd(args, keyspace=True, check=check_scan)


@generator("keys", 0.4)
def gen_randomkey(ctx):
    if ctx.r.random() < 0.05:
        return Cmd([b"RANDOMKEY", b"x"])
    return Cmd([b"RANDOMKEY"], keyspace=True, check=check_randomkey)


@generator("keys", 0.5)
def gen_dbsize(ctx):
    return Cmd(_arity_error_variant(ctx, [b"DBSIZE"], 1, 1), keyspace=True)


@generator("keys", 0.04)
def gen_flush(ctx):
    args = [ctx.r.choice([b"FLUSHDB", b"FLUSHALL"])]
    if ctx.r.random() < 0.3:
        args.append(ctx.r.choice([b"SYNC", b"ASYNC", b"sync", b"FOO"]))
    return Cmd(args, keyspace=True, write=True)


# --------------------------------------------------------------------------
# Generators: connection and server commands


@generator("server", 0.5)
def gen_ping_echo(ctx):
    x = ctx.r.random()
    if x < 0.4:
        return Cmd([b"PING"])
    if x < 0.6:
        return Cmd([b"PING", ctx.value()])
    if x < 0.65:
        return Cmd([b"PING", b"a", b"b"])
    if x < 0.95:
        return Cmd([b"ECHO", ctx.value()])
    return Cmd(ctx.r.choice([[b"ECHO"], [b"ECHO", b"a", b"b"]]))


@generator("server", 0.2)
def gen_select(ctx):
    # SELECT with a database other than 0 is a documented difference (the
    # node has one database); test_node_basic checks its error.
    return Cmd(ctx.r.choice([[b"SELECT", b"0"], [b"SELECT"], [b"SELECT", b"abc"],
                             [b"SELECT", b"0", b"1"], [b"SELECT", b"-1"]]))


@generator("server", 0.3)
def gen_unknown(ctx):
    args = [ctx.r.choice([b"FOO", b"getx", b"SETT", b"x" * 200, b"\x01bin"])]
    args += [ctx.value()[:30] for _ in range(ctx.r.randint(0, 3))]
    return Cmd(args)


@generator("server", 0.1)
def gen_time(ctx):
    if ctx.r.random() < 0.1:
        return Cmd([b"TIME", b"x"])
    return Cmd([b"TIME"], check=check_time)


@generator("server", 0.05)
def gen_info(ctx):
    args = [b"INFO"] + ([ctx.r.choice([b"keyspace", b"server", b"KEYSPACE"])]
                        if ctx.r.random() < 0.7 else [])
    return Cmd(args, keyspace=True, check=check_info)


def main():
    """Command line: compare two running servers, e.g.
    python3 difftest.py --a 7000 --b 6379 --seed 1 --count 5000 --keep-going"""
    import argparse
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--a", type=int, required=True, help="port of the server under test")
    ap.add_argument("--b", type=int, required=True, help="port of the reference redis-server")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--families", help="comma separated, default all: " + ",".join(sorted(GENERATORS)))
    ap.add_argument("--keep-going", action="store_true", help="report every mismatch, not the first")
    ap.add_argument("--history", type=int, default=Differ.HISTORY)
    ap.add_argument("--proto", type=int, choices=(2, 3), default=2, help="RESP2 or RESP3 (HELLO 3)")
    opts = ap.parse_args()
    Differ.HISTORY = opts.history
    d = Differ(opts.a, opts.b, seed=opts.seed, proto=opts.proto,
               families=opts.families.split(",") if opts.families else None)
    print(f"seed {d.seed}")
    try:
        n = d.run(opts.count, keep_going=opts.keep_going)
    except Mismatch as e:
        print(e)
        return 1
    for i, cmd, e in d.mismatches:
        print(f"{e}\n")
    print(f"{n} commands, {len(d.mismatches)} mismatches, {d.ambiguous} raced an expiry")
    print("coverage:", d.coverage())
    return 1 if d.mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())


# --- shared by the per-type differential tests --------------------------------

# One seed per test session, printed by every run; STRATA_SEED replays it.
BASE_SEED = int(os.environ.get("STRATA_SEED") or random.SystemRandom().randrange(1 << 32))
# STRATA_DIFF_COUNT scales the number of commands of every run.
SCALE = float(os.environ.get("STRATA_DIFF_COUNT", "1"))


def n(count):
    """A command count scaled by STRATA_DIFF_COUNT."""
    return max(1, int(count * SCALE))


def run_diff(a, b, seed, count, max_seconds=240, **kw):
    """Run `count` generated commands against a (strata) and b (the
    reference): ports, or processes with a .port.  Prints the seed first
    and the coverage after; raises Mismatch on the first difference.
    Returns (differ, commands run)."""
    a_port, b_port = getattr(a, "port", a), getattr(b, "port", b)
    fams = f", families {kw['families']}" if kw.get("families") else ""
    proto = ", RESP3" if kw.get("proto") == 3 else ""
    print(f"differential run: seed {seed} (STRATA_SEED={seed} replays it), {count} commands{fams}{proto}")
    d = Differ(a_port, b_port, seed=seed, **kw)
    try:
        done = d.run(count, max_seconds=max_seconds)
        print(f"ran {done} commands, {d.ambiguous} raced an expiry, "
              f"{d.waits:.1f}s waited for expiries")
        print("coverage:", d.coverage())
        return d, done
    finally:
        d.close()


def cross_type_command(ctx, key=None):
    """Other commands on the keys a type's generators use: overwrite by a
    string, DEL, RENAME, EXPIRE (long, or a few ms), PERSIST, TYPE, EXISTS.
    `key` picks a key (default ctx.key)."""
    key = key or (lambda c: c.key())
    k = key(ctx)
    x = ctx.r.random()
    if x < 0.25:
        return Cmd([b"SET", k, ctx.value()], keys=[k], write=True)
    if x < 0.4:
        return Cmd([b"DEL", k], keys=[k], write=True)
    if x < 0.5:
        dst = key(ctx)
        return Cmd([ctx.r.choice([b"RENAME", b"RENAMENX"]), k, dst], keys=[k, dst], write=True)
    if x < 0.6:
        return Cmd([b"EXPIRE", k, ctx.r.randint(100, 100000)], keys=[k], write=True)
    if x < 0.7:
        return Cmd([b"PEXPIRE", k, ctx.r.randint(1, 30)], keys=[k], write=True)
    if x < 0.75:
        return Cmd([b"PERSIST", k], keys=[k], write=True)
    if x < 0.9:
        return Cmd([b"TYPE", k], keys=[k])
    return Cmd([b"EXISTS", k], keys=[k])


def pairs_of(reply):
    """[f1, v1, f2, v2, ...] -> [(f1, v1), (f2, v2), ...]; RESP3's nested
    pairs [[f1, v1], [f2, v2], ...] give the same."""
    if reply and all(type(e) is list and len(e) == 2 for e in reply):
        return [tuple(e) for e in reply]
    return list(zip(reply[::2], reply[1::2]))


def scan_all(conn, args, first, pairs=False, max_calls=100_000):
    """Follow a SCAN-family reply (first, to the command args) to its end on
    conn.  Returns (elements seen, None) or (None, what was wrong); with
    pairs, every page must hold field/value pairs (an even count)."""
    seen = []
    reply = first
    for _ in range(max_calls):
        if not (isinstance(reply, list) and len(reply) == 2 and isinstance(reply[0], bytes)
                and isinstance(reply[1], list)):
            return None, f"malformed scan reply {reply!r:.200}"
        if not reply[0].isdigit():
            return None, f"cursor {reply[0]!r} is not a number"
        if pairs and len(reply[1]) % 2:
            return None, "odd number of elements"
        seen.extend(reply[1])
        if reply[0] == b"0":
            return seen, None
        reply = conn.call(*([args[0], args[1], reply[0]] + args[3:]))
    return None, f"scan did not finish in {max_calls} calls"
