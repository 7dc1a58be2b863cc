"""Crash test: SIGKILL strata-node under write load with `fsync: always`,
restart it on the same data directory, and check that every acknowledged
write is there with its exact value (and every acknowledged delete is
absent).  A write that was sent but not answered when the node died may or
may not have happened; nothing else may differ.  Several rounds accumulate
on the same directory."""
import hashlib
import random
import threading
import time
from collections import Counter

from difftest import Error, RespConn
from harness import wait_until

ROUNDS = 4
WRITERS = 4
MAX_OPS_PER_WRITER = 50_000   # per round; the kill normally comes far earlier
MIN_OPS_PER_ROUND = 200       # acknowledged ops before the kill may come
LOAD_SECONDS = (0.0, 0.8)     # then the kill comes after this long


def value_for(round_no, writer, i):
    """A deterministic value of varying size (up to ~4 KiB), binary."""
    seed = hashlib.sha256(b"%d:%d:%d" % (round_no, writer, i)).digest()
    return seed * (1 + i % 128)


class Model:
    """What the node must hold: for each key, the set of values it may have
    (None meaning absent).  An acknowledged op narrows a key to one value; an
    op in flight at the kill widens it to {acknowledged, in flight}."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}      # key -> value or None, from acknowledged ops
        self.pending = {}    # key -> Counter of values of ops sent, not yet answered
        self.acked = 0

    def maybe(self, key, value):
        """An op is about to be sent."""
        with self.lock:
            self.pending.setdefault(key, Counter())[value] += 1

    def ack(self, key, value):
        """Its reply came back: the op is durable."""
        with self.lock:
            self.state[key] = value
            self.acked += 1
            left = self.pending[key]
            left[value] -= 1
            if left[value] == 0:
                del left[value]
            if not left:
                del self.pending[key]

    def settle(self, actual):
        """After a restart: a key with an op in flight at the kill holds
        either its acknowledged value or one of the in-flight ones."""
        for key, vals in self.pending.items():
            allowed = set(vals) | {self.state.get(key)}
            assert actual[key] in allowed, (key, actual[key][:40] if actual[key] else None)
            self.state[key] = actual[key]
        self.pending.clear()


def writer(port, round_no, w, model, stop):
    rnd = random.Random(round_no * 100 + w)
    try:
        c = RespConn("127.0.0.1", port, timeout=10)
    except OSError:
        return
    keys = [b"w%d:%d" % (w, j) for j in range(300)]
    counter = b"counter:%d" % w
    i = 0
    try:
        while i < MAX_OPS_PER_WRITER and not stop.is_set():
            op = rnd.random()
            if w == 0 and op < 0.5:
                # A pipelined batch: replies come back in order, each one
                # acknowledging a durable write.
                batch = []
                for _ in range(rnd.randint(2, 40)):
                    k = rnd.choice(keys)
                    v = value_for(round_no, w, i)
                    i += 1
                    batch.append((k, v))
                    model.maybe(k, v)
                c.send_raw(b"".join(RespConn.encode([b"SET", k, v]) for k, v in batch))
                for k, v in batch:
                    _, r = c.read()
                    assert r == "OK", r
                    model.ack(k, v)
                continue
            k = rnd.choice(keys)
            if op < 0.15:
                model.maybe(k, None)
                r = c.call(b"DEL", k)
                assert isinstance(r, int), r
                model.ack(k, None)
            elif op < 0.3:
                with model.lock:
                    cur = model.state.get(counter)
                nxt = b"%d" % (int(cur or b"0") + 1)
                model.maybe(counter, nxt)
                r = c.call(b"INCR", counter)
                assert r == int(nxt), (r, nxt)
                model.ack(counter, nxt)
            else:
                v = value_for(round_no, w, i)
                model.maybe(k, v)
                r = c.call(b"SET", k, v)
                assert r == "OK", r
                model.ack(k, v)
            i += 1
    except (OSError, ConnectionError):
        pass  # the node was killed
    finally:
        c.close()


def read_all(port, keys):
    c = RespConn("127.0.0.1", port, timeout=30)
    keys = sorted(keys)
    out = {}
    for j in range(0, len(keys), 500):
        chunk = keys[j:j + 500]
        vals = c.call(b"MGET", *chunk)
        assert not isinstance(vals, Error), vals
        out.update(zip(chunk, vals))
    c.close()
    return out


def test_sigkill_under_write_load_keeps_acknowledged_writes(cluster):
    node = cluster.node(args=["--fsync", "always"])
    model = Model()
    rnd = random.Random()
    for round_no in range(ROUNDS):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(node.port, round_no, w, model, stop))
                   for w in range(WRITERS)]
        for t in threads:
            t.start()
        # Let the load build up (bounded in time), then kill at a random moment.
        start = model.acked
        wait_until(lambda: model.acked - start >= MIN_OPS_PER_ROUND, timeout=30,
                   what=f"{MIN_OPS_PER_ROUND} acknowledged writes")
        time.sleep(rnd.uniform(*LOAD_SECONDS))
        in_flight = sum(sum(c.values()) for c in model.pending.values())
        node.kill()          # SIGKILL, mid-load
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        print(f"round {round_no}: killed after {model.acked} acknowledged ops, "
              f"about {in_flight} in flight")

        node.start()
        keys = set(model.state) | set(model.pending)
        actual = read_all(node.port, keys)
        model.settle(actual)
        wrong = [k for k in keys if actual[k] != model.state[k]]
        assert not wrong, (f"round {round_no}: {len(wrong)} keys differ from the "
                           f"acknowledged writes, e.g. {wrong[:5]}")
        # Nothing else appeared.
        present = sum(1 for k in keys if model.state[k] is not None)
        assert node.client().dbsize() == present
    # The node still takes writes after all this.
    assert node.client().set("after", "crashes")


def test_everysec_syncs_under_constant_load(cluster):
    """fsync: everysec must fsync about once a second even when no loop
    iteration is free of writes: one client keeps a deep pipeline of SETs
    in flight (its socket never runs dry) for LOAD seconds, and nothing
    else talks to the node until the load stops."""
    import socket
    LOAD = 3.5
    node = cluster.node(args=["--fsync", "everysec"])
    before = node.client().info("persistence")["storage_syncs"]
    s = socket.create_connection(("127.0.0.1", node.port))
    s.settimeout(10)
    req = b"*3\r\n$3\r\nSET\r\n$4\r\nload\r\n$5\r\nvalue\r\n" * 256
    sent = 0
    received = 0
    deadline = time.monotonic() + LOAD

    def drain():
        nonlocal received
        got = 0
        while received < sent or time.monotonic() < deadline:
            chunk = s.recv(1 << 16)
            if not chunk:
                return
            got += len(chunk)
            received = got // len(b"+OK\r\n")   # every reply is +OK

    reader = threading.Thread(target=drain)
    sent = 256
    s.sendall(req)
    reader.start()
    # Keep at most ~8k commands outstanding: enough that the node always has
    # input, bounded so the socket buffers never stall the writer for long.
    while time.monotonic() < deadline:
        if sent - received < 8192:
            s.sendall(req)
            sent += 256
        else:
            time.sleep(0.0005)
    reader.join(timeout=30)
    s.close()
    assert not reader.is_alive()
    assert received == sent
    # The idle iteration after the load may add one sync of its own.
    syncs = node.client().info("persistence")["storage_syncs"] - before
    assert syncs >= int(LOAD) - 1, f"{syncs} fsyncs in {LOAD}s of constant writes"
