"""Load a server with incompressible values and watch a process's memory.

    python3 node_load.py --port P --pid PID --bytes 4GiB [--value-size 16384]

Sends pipelined SETs of distinct keys until --bytes of values were
acknowledged, sampling VmRSS of --pid while it runs, then reads back a
sample of keys to check they hold what was written.  Prints the figures,
including VmHWM (the peak resident set size) from /proc/PID/status.
Bounded by --max-seconds.  Part of tests/bench (never a pass/fail test).
"""
import argparse
import os
import random
import socket
import sys
import time


def parse_size(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("ib").rstrip("b")
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


def proc_status(pid, field):
    """A field of /proc/PID/status in bytes (VmRSS, VmHWM), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def mib(n):
    return f"{n / (1 << 20):.1f} MiB" if n is not None else "?"


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Replies:
    """Counts simple replies on a socket; fails on anything but +OK."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def expect_ok(self, n):
        while n:
            i = self.buf.find(b"\r\n")
            if i < 0:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk
                continue
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            if line != b"+OK":
                raise RuntimeError(f"unexpected reply {line[:200]!r}")
            n -= 1

    def bulk(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 16)
        i = self.buf.find(b"\r\n")
        n = int(self.buf[1:i])
        self.buf = self.buf[i + 2:]
        if n < 0:
            return None
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(1 << 20)
        v, self.buf = self.buf[:n], self.buf[n + 2:]
        return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="process whose memory is watched")
    ap.add_argument("--bytes", default="4GiB", help="total size of the values to load")
    ap.add_argument("--value-size", default="16KiB")
    ap.add_argument("--pipeline", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=1500)
    opts = ap.parse_args()

    total, vsize = parse_size(opts.bytes), parse_size(opts.value_size)
    count = (total + vsize - 1) // vsize
    # Incompressible values: slices of a random pool at varying offsets, each
    # stamped with its key number so no two values are equal.
    pool = os.urandom(8 << 20)
    rnd = random.Random(1)

    def value(i):
        off = (i * 7919) % (len(pool) - vsize)
        return b"%012d" % i + pool[off + 12:off + vsize]

    sock = socket.create_connection(("127.0.0.1", opts.port), timeout=120)
    replies = Replies(sock)
    start = time.monotonic()
    deadline = start + opts.max_seconds
    peak_sampled, last_print, sent = 0, start, 0
    i = 0
    while i < count and time.monotonic() < deadline:
        n = min(opts.pipeline, count - i)
        sock.sendall(b"".join(encode([b"SET", b"load:%d" % (i + j), value(i + j)])
                              for j in range(n)))
        replies.expect_ok(n)
        i += n
        sent += n * vsize
        now = time.monotonic()
        rss = proc_status(opts.pid, "VmRSS")
        if rss:
            peak_sampled = max(peak_sampled, rss)
        if now - last_print > 10:
            print(f"  {sent / (1 << 30):.2f} GiB loaded, {sent / (now - start) / (1 << 20):.0f} MiB/s,"
                  f" RSS now {mib(rss)}", flush=True)
            last_print = now
    elapsed = time.monotonic() - start

    # Read back a sample.
    bad = 0
    for j in rnd.sample(range(i), min(200, i)):
        sock.sendall(encode([b"GET", b"load:%d" % j]))
        if replies.bulk() != value(j):
            bad += 1
    sock.close()

    hwm = proc_status(opts.pid, "VmHWM")
    print(f"loaded {i} values of {vsize} bytes = {sent / (1 << 30):.2f} GiB in {elapsed:.0f} s "
          f"({sent / elapsed / (1 << 20):.0f} MiB/s)")
    print(f"read back 200 random keys: {'all correct' if not bad else f'{bad} WRONG'}")
    print(f"node RSS: peak (VmHWM) {mib(hwm)}, peak sampled {mib(peak_sampled)}, "
          f"now {mib(proc_status(opts.pid, 'VmRSS'))}")
    if i < count:
        print(f"stopped early after {opts.max_seconds:.0f} s: {count - i} values not loaded")
    return 1 if bad or i < count else 0


if __name__ == "__main__":
    sys.exit(main())
