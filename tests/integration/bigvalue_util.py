"""Helpers of the large-value tests (test_bigvalues*.py): values with
CR, LF and NUL in them, streams sent whole, byte at a time or in random
pieces, and a reader that returns each reply's exact bytes."""

import random
import threading
import time

MB = 1 << 20


def value(n, seed):
    """n bytes that differ per seed, with CR, LF and NUL in them."""
    rnd = random.Random(seed * 7919 + n)
    base = bytes(rnd.randrange(256) for _ in range(min(n, 4093))) or b""
    return (base * (n // max(len(base), 1) + 1))[:n]


def bulk(v):
    return b"$%d\r\n%s\r\n" % (len(v), v)


def send_pieces(sock, data, mode, rnd):
    """Sends data in one write, byte at a time, or in random pieces."""
    if mode == "whole":
        sock.sendall(data)
    elif mode == "bytes":
        for i in range(len(data)):
            sock.sendall(data[i:i + 1])
    else:
        i = 0
        while i < len(data):
            k = rnd.choice((1, 2, 3, 100, 4095, 16383, 16384, 16385, 32769, 70000, 300000))
            sock.sendall(data[i:i + k])
            i += k


class RawReader:
    """Reads whole replies off a socket and returns their exact bytes."""

    def __init__(self, sock, pause=0.0, chunk=1 << 20):
        self.sock, self.buf, self.pos = sock, bytearray(), 0
        self.pause, self.chunk = pause, chunk

    def _fill(self):
        if self.pause:
            time.sleep(self.pause)
        data = self.sock.recv(self.chunk)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _skip_line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _skip(self):
        line = self._skip_line()
        if line[:1] == b"$" and int(line[1:]) >= 0:
            need = self.pos + int(line[1:]) + 2
            while len(self.buf) < need:
                self._fill()
            self.pos = need
        elif line[:1] == b"*":
            for _ in range(max(int(line[1:]), 0)):
                self._skip()

    def reply(self):
        if self.pos > 8 * MB:  # between replies only
            del self.buf[:self.pos]
            self.pos = 0
        start = self.pos
        self._skip()
        return bytes(self.buf[start:self.pos])


def send_and_read(sock, stream, n_replies, mode="whole", seed=0, reader=None):
    """Sends stream (by mode, from a thread) while reading n_replies."""
    err = []

    def sender():
        try:
            send_pieces(sock, stream, mode, random.Random(seed))
        except Exception as e:  # reported after the replies
            err.append(e)
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    reader = reader or RawReader(sock)
    got = [reader.reply() for _ in range(n_replies)]
    t.join()
    if err:
        raise err[0]
    return got
