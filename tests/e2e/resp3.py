"""A raw RESP2/RESP3 connection for tests that compare exact bytes.

difftest.RespConn reads RESP2 only; keyspace notifications and client
tracking need RESP3's push ('>'), map ('%'), set ('~') and null ('_').
read() returns the exact bytes of the next reply, whatever its type."""
import socket


class Resp3Conn:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

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

    def _skip(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        self.pos += n + 2

    def _value(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
            return
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n >= 0:
                self._skip(n)
            return
        if t in (b"*", b"~", b">"):
            for _ in range(max(int(rest), 0)):
                self._value()
            return
        if t in (b"%", b"|"):
            for _ in range(2 * int(rest)):
                self._value()
            if t == b"|":
                self._value()
            return
        raise ValueError(f"unexpected RESP type in {line[:60]!r}")

    def read(self):
        """The exact bytes of the next reply (or push)."""
        start = self.pos
        self._value()
        raw = bytes(self.buf[start:self.pos])
        del self.buf[:self.pos]
        self.pos = 0
        return raw

    def call(self, *args):
        self.send(*args)
        return self.read()

    def pending(self, wait=0.05):
        """Whether more bytes arrive within `wait` seconds (or are buffered)."""
        if len(self.buf) > self.pos:
            return True
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(old)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk
        return True
