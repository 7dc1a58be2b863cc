"""Bit commands and big (chunked) strings on strata-node.

Strings longer than 16 KiB are stored in 16 KiB chunks (node/storage/
strchunk.h).  These tests check, against redis-server 7.0:
  - seeded differential runs of the bit commands (family "bitmap") and of
    big-string operations (family "bigstring", diff_bitmap.py), in RESP2
    and RESP3;
  - chunk boundary cases written out by hand: writes spanning chunks,
    SETRANGE with gaps, APPEND growing an inline string past the threshold
    and back to inline via SET, COPY/RENAME/expiry of chunked strings;
  - a 512 MB sparse bitmap: SETBIT at a few far offsets stores only the
    chunks written (the data directory stays small), BITCOUNT/BITPOS skip
    the absent chunks, DEL is O(1) and the GC reclaims the rest;
  - replication carries chunked strings to a replica.
"""
import os
import subprocess
import time

import pytest
import redis

import diff_bitmap  # noqa: F401  (registers the generators)
from difftest import BASE_SEED, n, run_diff
from harness import wait_until
from test_repl_common import start_replica, wait_synced

CHUNK = 16384


# --- differential runs ------------------------------------------------------

@pytest.mark.parametrize("proto", [2, 3])
def test_bitmap_diff(pair, proto):
    node, ref = pair
    run_diff(node.port, ref.port, BASE_SEED + 300, n(4000), families=["bitmap"], proto=proto)


@pytest.mark.parametrize("proto", [2, 3])
def test_bigstring_diff(pair, proto):
    node, ref = pair
    run_diff(node.port, ref.port, BASE_SEED + 310, n(1500), families=["bigstring"], proto=proto)


def test_bitmap_mixed_with_strings_and_keys(pair):
    node, ref = pair
    run_diff(node.port, ref.port, BASE_SEED + 320, n(2500),
             families=["bitmap", "bigstring", "string", "keys"])


# --- hand-written boundary cases --------------------------------------------

def both(pair):
    node, ref = pair
    return node.client(), ref.client()


def call(c, *cmd):
    try:
        return c.execute_command(*cmd)
    except redis.ResponseError as e:
        return ("error", str(e))


def same(a, b, *cmd):
    """Run cmd on both; replies (or error texts) must be equal."""
    ra, rb = call(a, *cmd), call(b, *cmd)
    assert ra == rb, cmd
    return ra


def test_chunk_boundaries(pair):
    a, b = both(pair)
    # a write spanning three chunks, then reads across every boundary
    v = bytes(range(256)) * (3 * CHUNK // 256 + 10)
    for c in (a, b):
        c.setrange("s", CHUNK - 5, v)
    for lo, hi in [(0, CHUNK), (CHUNK - 6, CHUNK + 6), (2 * CHUNK - 1, 2 * CHUNK), (0, -1),
                   (-CHUNK - 3, -1), (4 * CHUNK, 5 * CHUNK), (3 * CHUNK + 1, 3 * CHUNK + 1)]:
        same(a, b, "GETRANGE", "s", lo, hi)
    same(a, b, "STRLEN", "s")
    same(a, b, "GET", "s")
    # SETRANGE far past the end leaves a gap of zeros (absent chunks)
    same(a, b, "SETRANGE", "s", 9 * CHUNK + 3, b"tail")
    same(a, b, "GETRANGE", "s", 4 * CHUNK - 2, 4 * CHUNK + 2)
    same(a, b, "GET", "s")
    same(a, b, "BITCOUNT", "s")
    same(a, b, "BITCOUNT", "s", 4 * CHUNK, -1)
    same(a, b, "BITPOS", "s", 0, 2 * CHUNK)
    same(a, b, "BITPOS", "s", 1, 4 * CHUNK)
    same(a, b, "BITPOS", "s", 1, 4 * CHUNK * 8 + 3, -1, "BIT")
    # bits and bitfields across a chunk boundary
    for off in (CHUNK * 8 - 1, CHUNK * 8, 2 * CHUNK * 8 + 7):
        same(a, b, "SETBIT", "s", off, 1)
        same(a, b, "GETBIT", "s", off)
    same(a, b, "BITFIELD", "s", "SET", "i64", CHUNK * 8 - 30, -12345678901, "GET", "u63", CHUNK * 8 - 31,
         "INCRBY", "u17", 2 * CHUNK * 8 - 9, 100000)
    same(a, b, "GET", "s")
    assert a.object("encoding", "s") == b.object("encoding", "s")


def test_append_past_threshold_and_back(pair):
    a, b = both(pair)
    node = pair[0]
    for c in (a, b):
        c.set("g", "x" * 100)
        c.expire("g", 1000)
    step = b"0123456789abcdef" * 100
    for _ in range(15):
        same(a, b, "APPEND", "g", step)
    assert len(a.get("g")) > CHUNK  # now chunked on strata
    same(a, b, "GET", "g")
    assert a.object("encoding", "g") == b.object("encoding", "g")
    assert 990 <= a.ttl("g") <= 1000  # APPEND keeps the TTL
    same(a, b, "APPEND", "g", b"")
    same(a, b, "INCR", "g")
    same(a, b, "INCRBYFLOAT", "g", "1")
    # COPY and RENAME of a chunked string
    same(a, b, "COPY", "g", "g2")
    same(a, b, "RENAME", "g2", "g3")
    same(a, b, "GET", "g3")
    same(a, b, "SETRANGE", "g3", 0, b"changed")
    assert a.getrange("g", 0, 6) != b"changed"
    # back to a small inline value
    same(a, b, "SET", "g", "small")
    same(a, b, "GET", "g")
    assert a.object("encoding", "g") == b.object("encoding", "g")
    same(a, b, "SET", "g", "12345")
    assert a.object("encoding", "g") == b.object("encoding", "g")
    same(a, b, "DEL", "g3")
    same(a, b, "DBSIZE")
    # the dead versions are reclaimed by the GC
    wait_until(lambda: a.info("persistence").get("gc_pending_collections", 0) == 0, timeout=15,
               what="gc queue drained")
    # expiry of a chunked string
    for c in (a, b):
        c.set("e", b"z" * (3 * CHUNK), px=150)
    same(a, b, "STRLEN", "e")
    time.sleep(0.3)
    same(a, b, "GET", "e")
    same(a, b, "EXISTS", "e")


def test_size_limits(pair):
    a, b = both(pair)
    for cmd in [("SETRANGE", "l", 512 * 1024 * 1024 - 1, "ab"),
                ("SETRANGE", "l", 512 * 1024 * 1024, "a"),
                ("SETRANGE", "l", -1, "a"),
                ("SETBIT", "l", 8 * 512 * 1024 * 1024, 1),
                ("SETBIT", "l", -1, 1),
                ("BITFIELD", "l", "SET", "u8", 8 * 512 * 1024 * 1024, 1),
                ("GETBIT", "l", 8 * 512 * 1024 * 1024)]:
        assert isinstance(same(a, b, *cmd), tuple), cmd  # refused on both


# --- a 512 MB sparse bitmap ---------------------------------------------------

def du(path):
    return int(subprocess.check_output(["du", "-sb", path]).split()[0])


def test_sparse_512mb_bitmap(cluster):
    node = cluster.node()
    c = node.client()
    last = 8 * 512 * 1024 * 1024 - 1
    offsets = [0, 12345, 8 * 100 * 1024 * 1024 + 5, last]
    t0 = time.monotonic()
    for off in offsets:
        assert c.setbit("sparse", off, 1) == 0
    t_set = time.monotonic() - t0
    assert c.strlen("sparse") == 512 * 1024 * 1024
    assert c.getbit("sparse", last) == 1 and c.getbit("sparse", last - 1) == 0
    t0 = time.monotonic()
    assert c.bitcount("sparse") == len(offsets)
    assert c.execute_command("BITCOUNT", "sparse", 1, -1) == len(offsets) - 1
    assert c.execute_command("BITPOS", "sparse", 1, 2000) == offsets[2]
    assert c.execute_command("BITPOS", "sparse", 1, -1, -1, "BIT") == last
    assert c.execute_command("BITPOS", "sparse", 0) == 1
    t_read = time.monotonic() - t0
    assert c.getrange("sparse", -2, -1) == b"\x00\x01"
    # the largest SETRANGE allowed, on a fresh key: one chunk stored
    assert c.setrange("edge", 512 * 1024 * 1024 - 1, "e") == 512 * 1024 * 1024
    assert c.getrange("edge", -3, -1) == b"\x00\x00e"
    assert c.bitcount("edge") == 4
    print(f"4 SETBITs {t_set * 1000:.1f} ms, counts/positions {t_read * 1000:.1f} ms")
    # absent chunks are not stored: the directory holds a few chunks, not 512 MB
    assert du(node.dir) < 64 * 1024 * 1024
    assert t_set < 2.0 and t_read < 5.0
    t0 = time.monotonic()
    assert c.delete("sparse") == 1
    t_del = time.monotonic() - t0
    print(f"DEL {t_del * 1000:.1f} ms")
    assert c.exists("sparse") == 0
    assert t_del < 0.5
    wait_until(lambda: c.info("persistence").get("gc_pending_collections", 0) == 0, timeout=15,
               what="gc queue drained")


# --- replication ----------------------------------------------------------------

def test_replica_gets_chunked_strings(cluster):
    master = cluster.node("master")
    m = master.client()
    m.set("before", b"b" * (5 * CHUNK + 7))
    m.setbit("bits", 10 * CHUNK * 8 + 1, 1)
    replica = start_replica(cluster, master)   # full sync carries them
    wait_synced(master, replica)
    m.append("before", b"+more")
    m.setrange("after", 3 * CHUNK - 2, b"spans")
    m.copy("before", "copied")
    wait_synced(master, replica)
    r = replica.client()
    for k in ("before", "bits", "after", "copied"):
        assert r.get(k) == m.get(k), k
    m.set("before", "small again")
    m.delete("bits")
    wait_synced(master, replica)
    assert r.get("before") == b"small again"
    assert r.exists("bits") == 0


# --- streamed GET of a big string -----------------------------------------------

def read_exact(sock, n):
    out = bytearray()
    while len(out) < n:
        b = sock.recv(min(1 << 20, n - len(out)))
        assert b, "connection closed"
        out += b
    return bytes(out)


def test_big_get_streams_a_consistent_value(cluster):
    """A GET of a big value is sent in steps after the command ran: the
    reply is still the value as of the GET while other clients change or
    delete the key, and the commands pipelined behind it answer after it."""
    import socket
    node = cluster.node()
    c = node.client()
    size = 5 * 1024 * 1024 + 3
    value = bytes(i * 7 % 251 for i in range(size))
    p = c.pipeline(transaction=False)
    for i in range(0, size, 1 << 20):
        p.setrange("big", i, value[i:i + (1 << 20)])
    p.execute()
    assert c.strlen("big") == size
    s = socket.create_connection(("127.0.0.1", node.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(b"GET big\r\nPING\r\n")
    time.sleep(0.2)  # the node has started the reply; the socket is full
    # other clients are served meanwhile, and their changes do not leak in
    assert c.setrange("big", 0, b"ZZZ") == size
    assert c.append("big", b"tail") == size + 4
    assert c.getrange("big", 0, 2) == b"ZZZ"
    assert c.get("big") == b"ZZZ" + value[3:] + b"tail"
    assert c.delete("big") == 1
    header = b"$%d\r\n" % size
    got = read_exact(s, len(header) + size + 2 + len(b"+PONG\r\n"))
    assert got == header + value + b"\r\n+PONG\r\n"
    s.close()
    wait_until(lambda: c.info("persistence").get("gc_pending_collections", 0) == 0, timeout=15,
               what="gc queue drained after the stream")
    # a client that goes away in the middle of a stream releases it
    c.set("big2", value)
    s = socket.create_connection(("127.0.0.1", node.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(b"GET big2\r\n")
    time.sleep(0.1)
    s.close()
    assert c.delete("big2") == 1
    wait_until(lambda: c.info("persistence").get("gc_pending_collections", 0) == 0, timeout=15,
               what="gc queue drained after a closed stream")
    # inside MULTI the value is sent whole, in order with the other replies
    c.set("big3", value)
    p = c.pipeline(transaction=True)
    p.get("big3")
    p.strlen("big3")
    assert p.execute() == [value, size]
