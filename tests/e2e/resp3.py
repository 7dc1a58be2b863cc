"""A raw connection for tests that compare exact bytes, in either protocol.

difftest.RespConn reads every RESP2 and RESP3 type and keeps each reply's
bytes; this is the same connection with a bytes-first interface: send()
takes the arguments themselves, read() and call() return the exact bytes
of the next reply (or push), and pending() tells whether more has come.
The tests switch protocols themselves (they send HELLO 3 as a command)."""
import socket

from difftest import RespConn


class Resp3Conn(RespConn):
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        super().__init__(host, port, timeout=timeout)

    def send(self, *args):
        super().send(args)

    def read(self):
        """The exact bytes of the next reply (or push)."""
        return super().read()[0]

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
