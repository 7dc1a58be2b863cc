"""strata-node's server surface against redis-server 7.0, in RESP2 and RESP3:
CONFIG GET/SET of the Redis-only parameters (valid and invalid values, the
error texts, several names per call, aliases, globs), INFO section
selection and the commandstats / errorstats / latencystats fields, SLOWLOG,
LATENCY, MONITOR lines, CLIENT LIST / INFO fields and flags, OBJECT,
EXPIRETIME rounding and MEMORY.

Replies that are deterministic are compared byte for byte on both servers
(the same command sequence on fresh connections); the rest (durations,
addresses, memory figures) are checked as properties.  One node and one
redis-server serve the whole module; every test puts back what it changes.
"""
import os
import re
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from difftest import Error, ProtocolError, RespConn  # noqa: E402
from harness import Cluster  # noqa: E402


class Resp3Conn(RespConn):
    """RespConn that also reads RESP3 types (maps and sets as lists,
    verbatim strings as their text, null, doubles, booleans, pushes)."""

    def _parse(self):
        line = self._line()
        if not line:
            raise ProtocolError("empty reply line")
        t, rest = line[:1], line[1:]
        if t in (b"%",):
            return [self._parse() for _ in range(2 * int(rest))]
        if t in (b"~", b">"):
            return [self._parse() for _ in range(int(rest))]
        if t == b"=":
            data = self._exact(int(rest))
            return data[4:]
        if t == b"_":
            return None
        if t == b",":
            return float(rest)
        if t == b"#":
            return rest == b"t"
        if t == b"(":
            return int(rest)
        if t == b"+":
            return rest.decode("latin-1")
        if t == b"-":
            return Error(rest)
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._parse() for _ in range(n)]
        raise ProtocolError(f"unexpected reply type byte {t!r}")


@pytest.fixture(scope="module")
def servers():
    c = Cluster(prefix="strata-surface-")
    node, redis_ = c.node(), c.redis()
    yield node, redis_
    c.close()
    if c.sanitizer_reports:  # a sanitizer build reported (leaks show at exit)
        pytest.fail("sanitizer report in a server log:\n" + "\n".join(c.sanitizer_reports.values()))


def conn(server, proto=2):
    c = Resp3Conn("127.0.0.1", server.port, timeout=10)
    if proto == 3:
        c.call(b"HELLO", b"3")
    return c


def raw(c, *args):
    c.send([a if isinstance(a, bytes) else str(a).encode() for a in args])
    return c.read()


def both(servers, *args, proto=2):
    """The raw replies of one command on fresh connections to both."""
    out = []
    for s in servers:
        c = conn(s, proto)
        out.append(raw(c, *args)[0])
        c.close()
    return out


def same(servers, *args, proto=2):
    got, want = both(servers, *args, proto=proto)
    assert got == want, f"{args!r} (RESP{proto}): strata {got!r} != redis {want!r}"
    return got


def as_dict(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


# --------------------------------------------------------------------------
# CONFIG

BOOL = ["yes", "no", "YES", "No", "maybe", "1", "", "yes "]
INTV = ["0", "1", "-1", "5", "100", "1000", "2147483647", "2147483648", "9223372036854775807",
        "9223372036854775808", "-2147483649", "abc", "1.5", "+1", "01", "", " 1", "1k"]
MEMV = ["0", "5", "1k", "1kb", "1K", "1KB", "2m", "2mb", "1g", "1gb", "1b", "-1", "1x", "", "1.5mb",
        "kb", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "18446744073709551616", "99999999999999999999kb"]

# name -> values to try (Redis's default is put back afterwards)
PARAMS = {
    "hash-max-listpack-entries": INTV, "hash-max-ziplist-entries": INTV,
    "hash-max-listpack-value": INTV, "hash-max-ziplist-value": INTV,
    "zset-max-listpack-entries": INTV, "zset-max-ziplist-entries": INTV,
    "zset-max-listpack-value": INTV, "zset-max-ziplist-value": INTV,
    "list-max-listpack-size": INTV, "list-max-ziplist-size": INTV, "list-compress-depth": INTV,
    "set-max-intset-entries": INTV, "stream-node-max-entries": INTV, "stream-node-max-bytes": MEMV,
    "hll-sparse-max-bytes": MEMV, "activerehashing": BOOL, "dynamic-hz": BOOL, "jemalloc-bg-thread": BOOL,
    "save": ["", "3600 1", "3600 1 300 100 60 10000", "1 2 3", "0 1", "1 -1", "  ", "+5 07", "a b",
             "5 0", "1  2", "3600 1 ", "99999999999 1"],
    "rdbcompression": BOOL, "stop-writes-on-bgsave-error": BOOL,
    "rdb-save-incremental-fsync": BOOL, "rdb-del-sync-files": BOOL,
    "appendonly": ["no", "NO", "1", "maybe"],
    "appendfsync": ["always", "everysec", "no", "EVERYSEC", "Always", "sometimes", ""],
    "no-appendfsync-on-rewrite": BOOL, "auto-aof-rewrite-percentage": INTV,
    "auto-aof-rewrite-min-size": MEMV, "aof-use-rdb-preamble": BOOL, "aof-load-truncated": BOOL,
    "aof-rewrite-incremental-fsync": BOOL, "aof-timestamp-enabled": BOOL,
    "maxmemory": MEMV,
    "maxmemory-policy": ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
                         "allkeys-lfu", "allkeys-random", "noeviction", "NoEviction", "lru", ""],
    "maxmemory-samples": INTV, "maxmemory-eviction-tenacity": INTV,
    "maxmemory-clients": MEMV + ["10%", "100%", "101%", "0%", "-1%", "%", "1.5%"],
    "lfu-log-factor": INTV, "lfu-decay-time": INTV,
    "lazyfree-lazy-eviction": BOOL, "lazyfree-lazy-expire": BOOL, "lazyfree-lazy-server-del": BOOL,
    "lazyfree-lazy-user-del": BOOL, "lazyfree-lazy-user-flush": BOOL, "replica-lazy-flush": BOOL,
    "slave-lazy-flush": BOOL,
    "activedefrag": BOOL, "active-defrag-ignore-bytes": MEMV, "active-defrag-threshold-lower": INTV,
    "active-defrag-threshold-upper": INTV, "active-defrag-cycle-min": INTV, "active-defrag-cycle-max": INTV,
    "active-defrag-max-scan-fields": INTV, "active-expire-effort": INTV,
    "slowlog-log-slower-than": INTV, "slowlog-max-len": INTV, "latency-monitor-threshold": INTV,
    "latency-tracking": BOOL,
    "latency-tracking-info-percentiles": ["50 99 99.9", "50", "", "0 100", "101", "-1", "x", "50  99",
                                          "99.99 1.5", "1e1", "50 99.9 "],
    "busy-reply-threshold": INTV, "lua-time-limit": INTV,
    "tcp-keepalive": INTV, "protected-mode": BOOL, "tracking-table-max-keys": INTV, "acllog-max-len": INTV,
    "hz": INTV + ["500", "501", "1"],  # strata-node's own setting, clamped to 1..500 as Redis
    "shutdown-timeout": INTV, "crash-log-enabled": BOOL, "crash-memcheck-enabled": BOOL,
    "propagation-error-behavior": ["ignore", "panic", "PANIC-ON-REPLICAS", "x", ""], "aof-disable-auto-gc": BOOL,
}
IMMUTABLE = ["daemonize", "rdbchecksum", "io-threads", "cluster-enabled", "appendfilename", "appenddirname",
             "enable-debug-command", "enable-protected-configs", "enable-module-command", "databases",
             "syslog-enabled", "supervised", "always-show-logo", "set-proc-title", "disable-thp", "dbfilename"]


def test_config_set_get_every_noop_parameter(servers):
    node, redis_ = servers
    cs = [conn(node), conn(redis_)]
    c3 = [conn(node, 3), conn(redis_, 3)]
    for name, values in PARAMS.items():
        default = [raw(c, "CONFIG", "GET", name)[1] for c in cs]
        assert default[0] == default[1], (name, default)
        for v in values:
            got = [raw(c, "CONFIG", "SET", name, v)[0] for c in cs]
            assert got[0] == got[1], (name, v, got)
            got = [raw(c, "CONFIG", "GET", name)[0] for c in cs]
            assert got[0] == got[1], (name, v, got)
            got = [raw(c, "CONFIG", "GET", name)[0] for c in c3]
            assert got[0] == got[1], (name, v, "RESP3", got)
        for c in cs:
            assert raw(c, "CONFIG", "SET", name, default[1][1])[1] == "OK"


def test_config_immutable_and_errors(servers):
    for name in IMMUTABLE:
        same(servers, "CONFIG", "SET", name, "no")
        if name != "databases":  # Strata has one database: 1, Redis 16
            same(servers, "CONFIG", "GET", name)
    for args in (["CONFIG", "SET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "1", "x"],
                 ["CONFIG", "SET", "nosuch", "1"], ["CONFIG", "SET", "maxmemory", "x", "nosuch", "1"],
                 ["CONFIG", "SET", "nosuch", "1", "other", "2"], ["CONFIG", "SET", "MaxMemory", "x"],
                 ["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"],
                 ["CONFIG", "SET", "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"],
                 ["CONFIG", "SET", "maxmemory", "1", "daemonize", "yes"],
                 ["CONFIG", "SET", "daemonize", "yes", "nosuch", "1"],
                 ["CONFIG", "SET", "maxmemory", "x", "daemonize", "yes"],
                 ["CONFIG", "GET"], ["CONFIG"], ["CONFIG", "FOO"], ["CONFIG", "HELP"], ["CONFIG", "HELP", "x"],
                 ["CONFIG", "RESETSTAT", "x"], ["CONFIG", "GET", "nosuch"], ["CONFIG", "SET", "timeout", "abc"],
                 ["CONFIG", "SET", "maxclients", "x"], ["CONFIG", "REWRITE"]):
        same(servers, *args)
        same(servers, *args, proto=3)


def test_config_loglevel_takes_redis_names(servers):
    c = conn(servers[0])
    for redis_name, strata_name in (("notice", b"info"), ("VERBOSE", b"debug"), ("warning", b"warning")):
        assert raw(c, "CONFIG", "SET", "loglevel", redis_name)[1] == "OK"
        assert raw(c, "CONFIG", "GET", "loglevel")[1] == [b"loglevel", strata_name]
    raw(c, "CONFIG", "SET", "loglevel", "info")
    for s in servers:  # both refuse an unknown level, each listing its own
        assert raw(conn(s), "CONFIG", "SET", "loglevel", "x")[1].startswith(
            b"ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, ")


def test_config_set_is_all_or_nothing(servers):
    node, redis_ = servers
    for s in servers:
        c = conn(s)
        assert raw(c, "CONFIG", "SET", "maxmemory-samples", "7", "lfu-log-factor", "x")[1].startswith(
            b"ERR CONFIG SET failed (possibly related to argument 'lfu-log-factor')")
        assert raw(c, "CONFIG", "GET", "maxmemory-samples")[1] == [b"maxmemory-samples", b"5"]
        assert raw(c, "CONFIG", "SET", "maxmemory-samples", "7", "lfu-log-factor", "3")[1] == "OK"
        assert raw(c, "CONFIG", "GET", "lfu-log-factor")[1] == [b"lfu-log-factor", b"3"]
        raw(c, "CONFIG", "SET", "maxmemory-samples", "5", "lfu-log-factor", "10")


def test_config_get_patterns_and_aliases(servers):
    node, redis_ = servers
    for pats in (["hash-max-*"], ["zset-max-*"], ["lazyfree-*"], ["slowlog-*"], ["latency-*"],
                 ["active-defrag-*"], ["maxmemory*"], ["stream-node-*"], ["list-*"], ["*-max-ziplist-*"],
                 ["hash-max-?istpack-entries"], ["hash-max-listpack-[ev]*"],
                 ["maxmemory", "MAXMEMORY"], ["MAXMEMORY"], ["Hash-Max-Ziplist-Entries"],
                 ["maxmemory", "maxmemory-policy", "appendonly", "save"], ["slave-lazy-flush"],
                 ["lua-time-limit", "busy-reply-threshold"], ["slowlog-*", "slowlog-max-len"]):
        got = [as_dict(raw(conn(s), "CONFIG", "GET", *pats)[1]) for s in servers]
        assert got[0] == got[1], (pats, got)
    # one name: the same bytes, a map in RESP3
    assert same(servers, "CONFIG", "GET", "maxmemory", proto=3).startswith(b"%1\r\n")
    same(servers, "CONFIG", "GET", "nosuch", "nosuch*", proto=3)


# --------------------------------------------------------------------------
# INFO


def headers(text):
    return [line for line in text.split(b"\r\n") if line.startswith(b"#")]


def test_info_sections(servers):
    for args in ([], ["default"], ["all"], ["everything"], ["server"], ["SERVER", "keyspace"],
                 ["keyspace", "server"], ["commandstats"], ["errorstats", "latencystats"],
                 ["cluster", "modules"], ["cpu", "memory", "stats"], ["default", "commandstats"],
                 ["all", "server"], ["Clients", "persistence", "replication"]):
        got = [headers(raw(conn(s), "INFO", *args)[1]) for s in servers]
        assert got[0] == got[1], (args, got)
    for proto in (2, 3):
        same(servers, "INFO", "cluster", "modules", proto=proto)
        same(servers, "INFO", "foo", proto=proto)
        same(servers, "INFO", "modules", proto=proto)
    text = raw(conn(servers[0]), "INFO")[1]
    assert text.endswith(b"\r\n") and not text.endswith(b"\r\n\r\n")
    assert b"\r\n\r\n# Clients\r\n" in text
    assert raw(conn(servers[0], 3), "INFO", "server")[0].startswith(b"=")


def stats_lines(text, prefix):
    out = {}
    for line in text.split(b"\r\n"):
        if line.startswith(prefix):
            k, v = line.split(b":", 1)
            out[k] = dict(kv.split(b"=") for kv in v.split(b","))
    return out


STATS_SEQUENCE = [
    ["SET", "st:k", "v"], ["GET", "st:k"], ["INCR", "st:k"], ["LPUSH", "st:k", "x"], ["NOSUCHCMD"],
    ["GET"], ["CONFIG", "FOO"], ["CONFIG", "GET"], ["CONFIG", "GET", "maxmemory"], ["CLIENT", "ID"],
    ["MULTI"], ["SET", "st:a"], ["EXEC"], ["MULTI"], ["INCR", "st:k"], ["SET", "st:b", "1"], ["EXEC"],
    ["OBJECT", "nosuch"], ["OBJECT", "ENCODING"], ["DEL", "st:k", "st:b"], ["EXEC"], ["DISCARD"],
    ["MULTI"], ["WATCH", "st:k"], ["CONFIG", "NOPE"], ["EXEC"], ["AUTH", "x"], ["HELLO", "4"],
    ["CLIENT", "KILL", "TYPE", "nope"], ["SELECT", "99"], ["SUBSCRIBE", "st:ch"], ["GET", "st:k"], ["PING"],
    ["UNSUBSCRIBE"],
]


def test_commandstats_errorstats_latencystats(servers):
    texts = []
    for s in servers:
        c = conn(s)
        assert raw(c, "CONFIG", "RESETSTAT")[1] == "OK"
        for args in STATS_SEQUENCE:
            raw(c, *args)
        texts.append(raw(c, "INFO", "commandstats", "errorstats", "latencystats", "stats")[1])
    node_t, redis_t = texts
    assert stats_lines(node_t, b"errorstat_") == stats_lines(redis_t, b"errorstat_")
    got, want = stats_lines(node_t, b"cmdstat_"), stats_lines(redis_t, b"cmdstat_")
    assert set(got) == set(want)
    for name in want:
        assert list(got[name]) == [b"calls", b"usec", b"usec_per_call", b"rejected_calls", b"failed_calls"]
        for f in (b"calls", b"rejected_calls", b"failed_calls"):
            assert got[name][f] == want[name][f], (name, f, got[name], want[name])
    lat = stats_lines(node_t, b"latency_percentiles_usec_")
    assert set(lat) == set(stats_lines(redis_t, b"latency_percentiles_usec_"))
    for name, pct in lat.items():
        assert list(pct) == [b"p50", b"p99", b"p99.9"]
        vals = [float(v) for v in pct.values()]
        assert vals == sorted(vals) and all(re.fullmatch(rb"\d+\.\d{3}", v) for v in pct.values())
    for t in texts:
        assert re.search(rb"\r\ntotal_error_replies:\d+\r\n", t)
    tot = [int(re.search(rb"total_error_replies:(\d+)", t).group(1)) for t in texts]
    assert tot[0] == tot[1]


def test_latencystats_percentile_config(servers):
    node = servers[0]
    c = conn(node)
    assert raw(c, "CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.5")[1] == "OK"
    for _ in range(3):
        raw(c, "PING")
    text = raw(c, "INFO", "latencystats")[1]
    assert re.search(rb"latency_percentiles_usec_ping:p50=\d+\.\d{3},p99\.5=\d+\.\d{3}\r\n", text)
    raw(c, "CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")
    raw(c, "CONFIG", "SET", "latency-tracking", "no")
    assert b"latency_percentiles_usec_ping" not in raw(c, "INFO", "latencystats")[1]
    raw(c, "CONFIG", "RESETSTAT")
    raw(c, "PING")
    raw(c, "CONFIG", "SET", "latency-tracking", "yes")
    assert b"latency_percentiles_usec_ping" not in raw(c, "INFO", "latencystats")[1]


# --------------------------------------------------------------------------
# SLOWLOG


def slowlog_view(entries, peer):
    out = []
    for e in entries:
        assert len(e) == 6 and all(isinstance(x, int) for x in e[:3]) and e[2] >= 0
        assert e[4] == peer
        out.append((e[3], e[5]))
    return out


def test_slowlog(servers):
    views = []
    for s in servers:
        c = conn(s)
        peer = ("127.0.0.1:%d" % c.sock.getsockname()[1]).encode()
        assert raw(c, "SLOWLOG", "RESET")[1] == "OK"
        raw(c, "CONFIG", "SET", "slowlog-log-slower-than", "0")
        raw(c, "CLIENT", "SETNAME", "surface")
        raw(c, "SET", "sl:k", "x" * 200)
        raw(c, "RPUSH", "sl:l", *[str(i) for i in range(40)])
        raw(c, "AUTH", "secret")
        raw(c, "AUTH", "user", "secret")
        raw(c, "ECHO", "hi")
        raw(c, "MULTI")
        raw(c, "GET", "sl:k")
        raw(c, "EXEC")
        raw(c, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
        assert raw(c, "SLOWLOG", "LEN")[1] == 9  # EXEC is not logged, the GET it ran is
        entries = raw(c, "SLOWLOG", "GET", "-1")[1]
        views.append(slowlog_view(entries, peer))
        assert [e[0] for e in entries] == sorted((e[0] for e in entries), reverse=True)
        assert len(raw(c, "SLOWLOG", "GET")[1]) == 9
        assert len(raw(c, "SLOWLOG", "GET", "2")[1]) == 2
        assert raw(c, "SLOWLOG", "GET", "0")[1] == []
        raw(c, "CONFIG", "SET", "slowlog-max-len", "3")
        raw(c, "CONFIG", "SET", "slowlog-log-slower-than", "0")
        raw(c, "PING")
        raw(c, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
        assert raw(c, "SLOWLOG", "LEN")[1] == 3
        raw(c, "CONFIG", "SET", "slowlog-max-len", "128")
        assert raw(c, "SLOWLOG", "RESET")[1] == "OK"
        assert raw(c, "SLOWLOG", "LEN")[1] == 0
        raw(c, "DEL", "sl:k", "sl:l")
    assert views[0] == views[1]
    for args in (["SLOWLOG", "GET", "x"], ["SLOWLOG", "GET", "-2"], ["SLOWLOG", "GET", "1", "2"],
                 ["SLOWLOG", "LEN", "x"], ["SLOWLOG", "RESET", "x"], ["SLOWLOG"], ["SLOWLOG", "FOO"],
                 ["SLOWLOG", "HELP"], ["slowlog", "help"]):
        same(servers, *args)
        same(servers, *args, proto=3)


# --------------------------------------------------------------------------
# LATENCY


def test_latency_deterministic_replies(servers):
    for proto in (2, 3):
        same(servers, "LATENCY", "RESET", proto=proto)
        for args in (["LATENCY", "LATEST"], ["LATENCY", "HISTORY", "command"], ["LATENCY", "RESET", "x", "y"],
                     ["LATENCY", "GRAPH", "command"], ["LATENCY", "DOCTOR"], ["LATENCY", "HELP"],
                     ["LATENCY", "HISTOGRAM", "nosuch"], ["LATENCY", "FOO"], ["LATENCY", "GRAPH"],
                     ["LATENCY", "HISTORY"], ["LATENCY"], ["LATENCY", "LATEST", "x"]):
            same(servers, *args, proto=proto)
    for s in servers:
        raw(conn(s), "CONFIG", "SET", "latency-monitor-threshold", "100")
    same(servers, "LATENCY", "DOCTOR")
    same(servers, "LATENCY", "DOCTOR", proto=3)
    for s in servers:
        raw(conn(s), "CONFIG", "SET", "latency-monitor-threshold", "0")


def _hist_top(level):
    """The highest value counted with `level` ns (2 significant digits)."""
    b = max(level | 255, 1).bit_length() - 8
    return ((level >> b) << b) + (1 << b) - 1


HIST_LEVELS = {_hist_top(1024 << k) // 1000 for k in range(24)}  # 1, 2, 4, 8, 16, 33, 66, ...


def test_latency_histogram(servers):
    shapes = []
    for s in servers:
        c = conn(s)
        raw(c, "CONFIG", "RESETSTAT")
        for i in range(20):
            raw(c, "SET", "lh:%d" % i, "v")
        raw(c, "CLIENT", "ID")
        for proto_c in (c, conn(s, 3)):
            h = as_dict(raw(proto_c, "LATENCY", "HISTOGRAM", "set", "client", "nosuch")[1])
            shapes.append(sorted(h))
            info = as_dict(h[b"set"])
            assert info[b"calls"] == 20
            buckets = info[b"histogram_usec"]
            keys, counts = buckets[0::2], buckets[1::2]
            assert counts == sorted(counts) and counts[-1] == 20
            # each bucket is a power of two of nanoseconds from 1024, reported
            # as the highest value of its counter in whole microseconds
            assert keys == sorted(set(keys)), keys
            assert all(k in HIST_LEVELS for k in keys), keys
        for i in range(20):
            raw(c, "DEL", "lh:%d" % i)
    assert shapes[0] == shapes[2] == [b"client|id", b"set"]
    assert shapes[1] == shapes[3] == shapes[0]


def test_latency_events_are_recorded(servers):
    node = servers[0]
    c = conn(node)
    raw(c, "CONFIG", "SET", "latency-monitor-threshold", "1")
    big = [str(i) for i in range(40000)]
    try:
        seen = None
        for _ in range(20):
            raw(c, "SADD", "lat:s", *big)
            raw(c, "SMEMBERS", "lat:s")
            latest = raw(c, "LATENCY", "LATEST")[1]
            seen = [e for e in latest if e[0] == b"command"]
            if seen:
                break
        assert seen, "no command latency event"
        name, when, ms, worst = seen[0]
        assert abs(when - time.time()) < 60 and 1 <= ms <= worst
        hist = raw(c, "LATENCY", "HISTORY", "command")[1]
        assert hist and all(len(x) == 2 and x[1] >= 1 for x in hist)
        graph = raw(c, "LATENCY", "GRAPH", "command")[1]
        assert graph.startswith(b"command - high ")
        doctor = raw(c, "LATENCY", "DOCTOR")[1]
        assert b"command" in doctor
        assert raw(c, "LATENCY", "RESET", "command")[1] == 1
        assert raw(c, "LATENCY", "HISTORY", "command")[1] == []
    finally:
        raw(c, "CONFIG", "SET", "latency-monitor-threshold", "0")
        raw(c, "DEL", "lat:s")


# --------------------------------------------------------------------------
# MONITOR

MONITOR_LINE = re.compile(r"^(\d+)\.(\d{6}) \[0 127\.0\.0\.1:(\d+)\] (.*)$")


def monitor_lines(server):
    m = conn(server)
    assert raw(m, "MONITOR")[1] == "OK"
    c = conn(server)
    port = c.sock.getsockname()[1]
    for args in (["SET", "mon:a", b'b c"\n\x01\xc3\xa9\\\t\r\x07\x08'], ["GET", "mon:a"], ["AUTH", "pw"],
                 ["CONFIG", "GET", "maxmemory"], ["CLIENT", "LIST"], ["CLIENT", "ID"], ["NOSUCH"], ["GET"],
                 ["MULTI"], ["SET", "mon:b", "1"], ["INCR", "mon:b"], ["EXEC"], ["SLOWLOG", "LEN"],
                 ["CLIENT", "SETNAME", "x"], ["DEL", "mon:a", "mon:b"], ["ECHO", "done"]):
        raw(c, *args)
    lines = []
    while True:
        line = m.read()[1]
        g = MONITOR_LINE.match(line)
        assert g, line
        assert int(g.group(3)) == port and abs(int(g.group(1)) - time.time()) < 60
        lines.append(g.group(4))
        if g.group(4) == '"ECHO" "done"':
            return lines


def test_monitor_lines(servers):
    got, want = monitor_lines(servers[0]), monitor_lines(servers[1])
    assert got == want
    assert '"AUTH" "(redacted)"' in got
    same(servers, "MONITOR", "x")


# --------------------------------------------------------------------------
# CLIENT LIST / INFO

FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub", "multi",
          "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "events",
          "cmd", "user", "redir", "resp"]


def parse_client_line(line):
    out = {}
    for kv in line.split(b" "):
        k, v = kv.split(b"=", 1)
        out[k.decode()] = v.decode()
    return out


def client_scenarios(server):
    """(flags, multi, cmd, name, resp, sub, psub) of clients in several
    states, read with CLIENT LIST ID from an observer."""
    obs = conn(server)
    out = []

    def look(c):
        cid = raw(c, "CLIENT", "ID")[1] if not hasattr(c, "cid") else c.cid
        c.cid = cid
        text = raw(obs, "CLIENT", "LIST", "ID", str(cid))[1]
        assert text.endswith(b"\n") and text.count(b"\n") == 1
        f = parse_client_line(text[:-1])
        assert list(f) == FIELDS
        out.append(tuple(f[k] for k in ("flags", "multi", "cmd", "name", "resp", "sub", "psub", "db", "user",
                                        "redir")))

    a = conn(server)
    look(a)
    raw(a, "CLIENT", "SETNAME", "alpha")
    raw(a, "GET", "cl:x")
    look(a)
    raw(a, "MULTI")
    raw(a, "SET", "cl:x", "1")
    raw(a, "INCR", "cl:x")
    look(a)
    raw(a, "DISCARD")
    raw(a, "WATCH", "cl:x")
    raw(obs, "SET", "cl:x", "2")
    look(a)
    raw(a, "UNWATCH")
    raw(a, "CLIENT", "NO-EVICT", "on")
    look(a)
    raw(a, "CLIENT", "NO-EVICT", "off")
    b = conn(server, 3)
    look(b)
    raw(b, "SUBSCRIBE", "ch1", "ch2")
    raw(b, "PSUBSCRIBE", "p*")
    look(b)
    m = conn(server)
    look(m)
    raw(m, "MONITOR")
    look(m)
    raw(obs, "DEL", "cl:x")
    return out


def test_client_list_fields_and_flags(servers):
    got, want = client_scenarios(servers[0]), client_scenarios(servers[1])
    assert got == want
    for s in servers:
        c = conn(s)
        f = parse_client_line(raw(c, "CLIENT", "INFO")[1].rstrip(b"\n"))
        assert list(f) == FIELDS and f["cmd"] == "client|info" and f["flags"] == "N"
        assert f["addr"] == "127.0.0.1:%d" % c.sock.getsockname()[1]
        assert f["laddr"] == "127.0.0.1:%d" % s.port
        assert f["argv-mem"] == "10" and f["events"] == "r"
        r3 = raw(conn(s, 3), "CLIENT", "INFO")[0]
        assert re.match(rb"=\d+\r\ntxt:id=", r3)


def test_client_list_filters(servers):
    for s in servers:
        c = conn(s)
        sub = conn(s)
        raw(sub, "SUBSCRIBE", "x")
        ids = [int(parse_client_line(line)["id"]) for line in raw(c, "CLIENT", "LIST")[1].splitlines()]
        assert ids == sorted(ids) and len(ids) >= 2
        pubsub = raw(c, "CLIENT", "LIST", "TYPE", "pubsub")[1].splitlines()
        assert [parse_client_line(x)["flags"] for x in pubsub] == ["P"]
        assert raw(c, "CLIENT", "LIST", "TYPE", "master")[1] == b""
        assert raw(c, "CLIENT", "LIST", "TYPE", "replica")[1] == b""
        normal = raw(c, "CLIENT", "LIST", "TYPE", "NORMAL")[1].splitlines()
        assert all(parse_client_line(x)["flags"] != "P" for x in normal) and normal
        my = raw(c, "CLIENT", "ID")[1]
        two = raw(c, "CLIENT", "LIST", "ID", str(my), "999999", str(my))[1].splitlines()
        assert [int(parse_client_line(x)["id"]) for x in two] == [my, my]
        sub.close()
    for args in (["CLIENT", "LIST", "TYPE", "foo"], ["CLIENT", "LIST", "ID", "x"], ["CLIENT", "LIST", "ID", "1", "x"],
                 ["CLIENT", "LIST", "foo"], ["CLIENT", "LIST", "TYPE"], ["CLIENT", "LIST", "TYPE", "normal", "x"],
                 ["CLIENT", "LIST", "ID", "999999"], ["CLIENT", "LIST", "ID", "-1"], ["CLIENT", "INFO", "x"],
                 ["CLIENT", "NO-EVICT", "maybe"], ["CLIENT", "HELP"], ["CLIENT", "HELP", "x"]):
        same(servers, *args)
        same(servers, *args, proto=3)


# --------------------------------------------------------------------------
# OBJECT

OBJECT_KEYS = [
    ("ob:s1", ["SET", "ob:s1", "1"]), ("ob:s2", ["SET", "ob:s2", "-123"]),
    ("ob:s3", ["SET", "ob:s3", "12345678901234567890"]), ("ob:s4", ["SET", "ob:s4", "01"]),
    ("ob:s5", ["SET", "ob:s5", "-0"]), ("ob:s6", ["SET", "ob:s6", "a" * 44]), ("ob:s7", ["SET", "ob:s7", "a" * 45]),
    ("ob:s8", ["SET", "ob:s8", ""]), ("ob:s9", ["SET", "ob:s9", "9223372036854775807"]),
    ("ob:s10", ["SET", "ob:s10", "9223372036854775808"]), ("ob:s11", ["SET", "ob:s11", "10000"]),
    ("ob:s12", ["SET", "ob:s12", "9999"]), ("ob:s13", ["SET", "ob:s13", " 1"]),
    ("ob:h1", ["HSET", "ob:h1", "f", "v", "g", "w"]), ("ob:h2", ["HSET", "ob:h2", "f", "v" * 65]),
    ("ob:h3", ["HSET", "ob:h3", "f" * 65, "v"]), ("ob:h4", ["HSET", "ob:h4"] + [str(i) for i in range(1026)]),
    ("ob:t1", ["SADD", "ob:t1", "1", "2", "-3"]), ("ob:t2", ["SADD", "ob:t2", "1", "a"]),
    ("ob:t3", ["SADD", "ob:t3"] + [str(i) for i in range(513)]), ("ob:t4", ["SADD", "ob:t4", "01"]),
    ("ob:z1", ["ZADD", "ob:z1", "1", "a", "2", "b"]), ("ob:z2", ["ZADD", "ob:z2", "1", "m" * 65]),
    ("ob:z3", ["ZADD", "ob:z3"] + [x for i in range(129) for x in (str(i), "m%d" % i)]),
    ("ob:l1", ["RPUSH", "ob:l1", "a", "b"]), ("ob:l2", ["RPUSH", "ob:l2"] + ["x" * 100] * 200),
]


def test_object(servers):
    for s in servers:
        c = conn(s)
        for _, cmd in OBJECT_KEYS:
            raw(c, *cmd)
    for key, _ in OBJECT_KEYS + [("ob:nosuch", None)]:
        for sub in ("ENCODING", "REFCOUNT", "FREQ"):
            same(servers, "OBJECT", sub, key)
            same(servers, "OBJECT", sub, key, proto=3)
    for args in (["OBJECT", "HELP"], ["OBJECT", "help", "x"], ["OBJECT", "FOO", "k"], ["OBJECT"],
                 ["OBJECT", "ENCODING"], ["OBJECT", "ENCODING", "a", "b"]):
        same(servers, *args)
    # thresholds come from CONFIG SET
    for s in servers:
        c = conn(s)
        raw(c, "CONFIG", "SET", "hash-max-listpack-entries", "2", "set-max-intset-entries", "1",
            "zset-max-listpack-value", "3")
        raw(c, "HSET", "ob:h9", "a", "1", "b", "2", "c", "3")
        raw(c, "SADD", "ob:t9", "1", "2")
        raw(c, "ZADD", "ob:z9", "1", "abcd")
    for key in ("ob:h9", "ob:t9", "ob:z9"):
        same(servers, "OBJECT", "ENCODING", key)
    for s in servers:
        c = conn(s)
        raw(c, "CONFIG", "SET", "hash-max-listpack-entries", "512", "set-max-intset-entries", "512",
            "zset-max-listpack-value", "64")
        raw(c, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    for sub in ("FREQ", "IDLETIME"):
        node_r, redis_r = both(servers, "OBJECT", sub, "ob:s1")
        if sub == "IDLETIME":
            assert node_r == redis_r
        else:  # Redis counts, Strata does not track: an error naming it
            assert node_r.startswith(b"-ERR") and redis_r.startswith(b":")
    for s in servers:
        c = conn(s)
        raw(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
        raw(c, "DEL", *[k for k, _ in OBJECT_KEYS], "ob:h9", "ob:t9", "ob:z9")


# --------------------------------------------------------------------------
# EXPIRETIME / TTL


def test_expiretime_rounding(servers):
    far = 4102444800000  # 2100-01-01
    # the last two: rounding near LLONG_MAX must not overflow (UBSan)
    for ms in (far + 499, far + 500, far + 501, far + 999, far + 1000, far + 1,
               9223372036854775807, 9223372036854775300):
        for s in servers:
            c = conn(s)
            raw(c, "SET", "et:k", "v")
            assert raw(c, "PEXPIREAT", "et:k", str(ms))[1] == 1
        same(servers, "EXPIRETIME", "et:k")
        same(servers, "PEXPIRETIME", "et:k")
    for s in servers:
        c = conn(s)
        pt = raw(c, "PEXPIRETIME", "et:k")[1]
        now = int(time.time() * 1000)
        ttl = raw(c, "TTL", "et:k")[1]
        # in integers: the last expire set is near 2^63, past a double's
        # exact integers
        assert abs(ttl * 1000 - (pt - now)) <= 1500
        raw(c, "SET", "et:k", "v")
        raw(c, "PEXPIRE", "et:k", "100400")
        assert raw(c, "TTL", "et:k")[1] == 100  # 100.4 s rounds down
        raw(c, "PEXPIRE", "et:k", "100900")
        assert raw(c, "TTL", "et:k")[1] == 101  # 100.9 s (minus a few ms) rounds up
    same(servers, "DEL", "et:k")
    for args in (["EXPIRETIME", "et:k"], ["PEXPIRETIME", "et:k"], ["EXPIRETIME"], ["TTL", "et:k"]):
        same(servers, *args)
    for s in servers:
        raw(conn(s), "SET", "et:p", "v")
    same(servers, "EXPIRETIME", "et:p")
    same(servers, "DEL", "et:p")


# --------------------------------------------------------------------------
# MEMORY


def test_memory(servers):
    node = servers[0]
    for proto in (2, 3):
        for args in (["MEMORY", "USAGE", "mem:nosuch"], ["MEMORY", "USAGE", "k", "SAMPLES", "x"],
                     ["MEMORY", "USAGE", "k", "SAMPLES", "-1"], ["MEMORY", "USAGE", "k", "foo"],
                     ["MEMORY", "USAGE", "k", "SAMPLES"], ["MEMORY", "HELP"], ["MEMORY", "FOO"],
                     ["MEMORY", "USAGE"], ["MEMORY", "PURGE"], ["MEMORY", "STATS", "x"]):
            same(servers, *args, proto=proto)
    c = conn(node)
    raw(c, "SET", "mem:s", "x" * 10)
    small = raw(c, "MEMORY", "USAGE", "mem:s")[1]
    raw(c, "SET", "mem:s", "x" * 10000)
    assert raw(c, "MEMORY", "USAGE", "mem:s")[1] >= small + 9990
    raw(c, "HSET", "mem:h", *[x for i in range(1000) for x in ("field%04d" % i, "v" * 20)])
    all_ = raw(c, "MEMORY", "USAGE", "mem:h", "SAMPLES", "0")[1]
    est = raw(c, "MEMORY", "USAGE", "mem:h")[1]
    assert 1000 * 29 <= all_ <= 1000 * 60 and abs(est - all_) <= all_ * 0.1
    raw(c, "DEL", "mem:s", "mem:h")
    stats = [as_dict(raw(conn(s, 3), "MEMORY", "STATS")[1]) for s in servers]
    assert set(stats[1]) <= set(stats[0])
    assert isinstance(stats[0][b"dataset.percentage"], float) and stats[0][b"total.allocated"] > 0
    assert raw(conn(node, 3), "MEMORY", "DOCTOR")[0].startswith(b"=")
    assert raw(conn(node), "MEMORY", "MALLOC-STATS")[1].startswith(b"<malloc")


def test_reset_ends_monitor_keeps_no_evict(servers):
    out = []
    for s in servers:
        c = conn(s)
        got = [raw(c, *args)[0] for args in (["CLIENT", "NO-EVICT", "on"], ["MONITOR"], ["RESET"], ["PING"])]
        flags = parse_client_line(raw(c, "CLIENT", "INFO")[1].rstrip(b"\n"))["flags"]
        out.append((got, flags))
    assert out[0] == out[1]
    assert out[0][1] == "e"


def test_info_memory_shows_maxmemory_settings(servers):
    for s in servers:
        c = conn(s)
        raw(c, "CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy", "allkeys-lru")
        text = raw(c, "INFO", "memory")[1]
        raw(c, "CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")
        assert b"\r\nmaxmemory:1048576\r\n" in text and b"\r\nmaxmemory_policy:allkeys-lru\r\n" in text


def test_config_get_star_is_a_map_of_unique_names(servers):
    node = servers[0]
    flat = raw(conn(node, 3), "CONFIG", "GET", "*")[1]
    names = flat[0::2]
    assert len(names) == len(set(names))
    assert {n.encode() for n in PARAMS} <= set(names)
    assert {b"fsync", b"block-cache", b"maxclients", b"databases"} <= set(names)
    assert raw(conn(node), "CONFIG", "GET", "*")[0].startswith(b"*%d\r\n" % len(flat))


def test_memory_usage_grows_with_every_type(servers):
    c = conn(servers[0])
    for key, small, big in (("mu:z", ["ZADD", "mu:z", "1", "a"], ["ZADD", "mu:z"] + [x for i in range(300) for x in (str(i), "m%d" % i)]),
                            ("mu:l", ["RPUSH", "mu:l", "a"], ["RPUSH", "mu:l"] + ["x" * 30] * 300),
                            ("mu:t", ["SADD", "mu:t", "a"], ["SADD", "mu:t"] + ["m%d" % i for i in range(300)])):
        raw(c, *small)
        one = raw(c, "MEMORY", "USAGE", key, "SAMPLES", "0")[1]
        raw(c, *big)
        many = raw(c, "MEMORY", "USAGE", key, "SAMPLES", "0")[1]
        assert 0 < one < many and many >= 300 * 2, (key, one, many)
        raw(c, "DEL", key)


def test_client_kill_filters(servers):
    for args in (["CLIENT", "KILL", "ID", "999999"], ["CLIENT", "KILL", "ID", "x"], ["CLIENT", "KILL", "ID", "0"],
                 ["CLIENT", "KILL", "TYPE", "foo"], ["CLIENT", "KILL", "TYPE", "master"],
                 ["CLIENT", "KILL", "TYPE", "replica", "USER", "default"], ["CLIENT", "KILL", "USER", "nosuch"],
                 ["CLIENT", "KILL", "foo", "bar"], ["CLIENT", "KILL", "1.2.3.4:5"],
                 ["CLIENT", "KILL", "ID", "1", "SKIPME", "maybe"], ["CLIENT", "KILL", "ID"],
                 ["CLIENT", "KILL", "ID", "1", "TYPE"], ["CLIENT", "KILL", "LADDR", "x", "ADDR", "y"],
                 ["CLIENT", "KILL", "ADDR", "1.2.3.4:5", "ID", "x"]):
        same(servers, *args)
    for s in servers:
        victim, killer = conn(s), conn(s)
        vid = raw(victim, "CLIENT", "ID")[1]
        kid = raw(killer, "CLIENT", "ID")[1]
        # SKIPME is yes by default: the caller's own id kills nothing
        assert raw(killer, "CLIENT", "KILL", "ID", str(kid))[1] == 0
        assert raw(killer, "CLIENT", "KILL", "ID", str(vid), "TYPE", "normal")[1] == 1
        assert raw(killer, "CLIENT", "LIST", "ID", str(vid))[1] == b""
        addr = "127.0.0.1:%d" % killer.sock.getsockname()[1]
        assert raw(killer, "CLIENT", "KILL", addr)[1] == "OK"  # the old form spares nobody


def test_unblocked_error_is_counted(servers):
    texts = []
    for s in servers:
        c, b = conn(s), conn(s)
        raw(c, "CONFIG", "RESETSTAT")
        bid = raw(b, "CLIENT", "ID")[1]
        b.send([b"BLPOP", b"ub:list", b"0"])
        deadline = time.time() + 5
        while b"blocked_clients:1" not in raw(c, "INFO", "clients")[1]:
            assert time.time() < deadline
            time.sleep(0.01)
        assert raw(c, "CLIENT", "UNBLOCK", str(bid), "ERROR")[1] == 1
        assert b.read()[1].startswith(b"UNBLOCKED")
        texts.append(raw(c, "INFO", "errorstats", "commandstats")[1])
    got, want = (stats_lines(t, b"errorstat_") for t in texts)
    assert got == want and got[b"errorstat_UNBLOCKED"] == {b"count": b"1"}
    got, want = (stats_lines(t, b"cmdstat_blpop") for t in texts)
    assert got[b"cmdstat_blpop"][b"failed_calls"] == want[b"cmdstat_blpop"][b"failed_calls"] == b"1"
    assert got[b"cmdstat_blpop"][b"calls"] == want[b"cmdstat_blpop"][b"calls"]


def info_keys(text):
    return [line.split(b":", 1)[0] for line in text.split(b"\r\n") if line and not line.startswith(b"#")]


def test_info_server_and_clients_fields_in_redis_order(servers):
    for section, must in (("server", {b"redis_version", b"redis_mode", b"os", b"arch_bits", b"multiplexing_api",
                                      b"gcc_version", b"process_id", b"run_id", b"tcp_port", b"server_time_usec",
                                      b"uptime_in_seconds", b"hz", b"configured_hz", b"executable",
                                      b"config_file", b"io_threads_active"}),
                          ("clients", {b"connected_clients", b"cluster_connections", b"maxclients",
                                       b"client_recent_max_input_buffer", b"client_recent_max_output_buffer",
                                       b"blocked_clients"}),
                          ("stats", {b"total_connections_received", b"total_commands_processed", b"expired_keys",
                                     b"keyspace_hits", b"keyspace_misses", b"total_error_replies"})):
        got, want = (info_keys(raw(conn(s), "INFO", section)[1]) for s in servers)
        common = [k for k in got if k in want]
        assert common == [k for k in want if k in got], section
        assert must <= set(common), must - set(common)


def test_blocked_command_counted_not_slowlogged(servers):
    views = []
    for s in servers:
        c, b = conn(s), conn(s)
        raw(c, "CONFIG", "RESETSTAT")
        raw(c, "SLOWLOG", "RESET")
        raw(c, "CONFIG", "SET", "slowlog-log-slower-than", "0")
        b.send([b"BLPOP", b"bl:q", b"0.2"])
        assert b.read()[1] is None
        b.send([b"BLPOP", b"bl:q", b"0"])
        deadline = time.time() + 5
        while b"blocked_clients:1" not in raw(c, "INFO", "clients")[1]:
            assert time.time() < deadline
            time.sleep(0.01)
        raw(c, "RPUSH", "bl:q", "x")
        assert b.read()[1] == [b"bl:q", b"x"]
        raw(c, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
        logged = [e[3][0].lower() for e in raw(c, "SLOWLOG", "GET", "-1")[1]]
        assert logged.count(b"blpop") <= 1
        calls = stats_lines(raw(c, "INFO", "commandstats")[1], b"cmdstat_blpop")[b"cmdstat_blpop"][b"calls"]
        served_after_push = b"blpop" in logged and logged.index(b"blpop") < logged.index(b"rpush")
        views.append((b"blpop" in logged, served_after_push, calls))
    # the served BLPOP is logged when served (after the RPUSH), the
    # timed-out one never
    assert views[0] == views[1] == (True, True, b"2")
