"""A model of mem-kv's plain-text protocol, for validating test_plain.py
without mem-kv: a threaded TCP proxy in front of a real redis-server.

Per request: a line starting with '*' (RESP) or ended by CRLF (inline) is
forwarded as is and the RESP reply relayed; a line ended by a bare LF is
split like an inline command, sent to Redis, and its reply rewritten as a
plain line per docs/protocol.md (OK, the value, (nil), integers as digits,
arrays space-separated, errors as 'ERR <message>', DEL -> OK).

Only for self-validation (test_plain.py --server redis-server --plain-proxy);
it is not part of what the tests check.
"""

import shlex
import socket
import threading

from harness import RespConn, RespError, Status, encode


def plain_line(cmd, value):
    if isinstance(value, RespError):
        m = str(value)
        return (m if m.startswith("ERR ") else "ERR " + m).encode()
    if cmd and cmd[0].upper() == b"DEL" and isinstance(value, int):
        return b"OK"
    if isinstance(value, Status):
        return str(value).encode()
    if value is None:
        return b"(nil)"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        return b" ".join(plain_line(None, v) for v in value)
    raise ValueError(value)


class PlainProxy:
    def __init__(self, redis_port):
        self.redis_port = redis_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        up = RespConn(self.redis_port)
        buf = b""
        try:
            while True:
                req = self._next_request(c, buf)
                if req is None:
                    break
                kind, payload, buf = req
                if kind == "raw":
                    up.send(payload)
                    _, raw = up.read_reply(raw=True)
                    c.sendall(raw)
                    if raw.startswith(b"-ERR Protocol error"):
                        break
                elif kind == "plain":
                    try:
                        argv = [a.encode("latin-1") for a in
                                shlex.split(payload.decode("latin-1"), posix=True)]
                    except ValueError:
                        c.sendall(b"ERR Protocol error: unbalanced quotes in request\n")
                        break
                    if not argv:
                        continue
                    up.send(encode(*argv))
                    c.sendall(plain_line(argv, up.read_reply()) + b"\n")
        except OSError:
            pass
        finally:
            up.close()
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    @staticmethod
    def _next_request(c, buf):
        while True:
            if buf.startswith(b"*"):
                r = PlainProxy._multibulk_len(buf)
                if r is not None:
                    return "raw", buf[:r], buf[r:]
            else:
                i = buf.find(b"\n")
                if i >= 0:
                    line, rest = buf[:i + 1], buf[i + 1:]
                    if line.endswith(b"\r\n"):
                        if line == b"\r\n":
                            buf = rest
                            continue
                        return "raw", line, rest
                    return "plain", line[:-1], rest
            chunk = c.recv(65536)
            if not chunk:
                return None
            buf += chunk

    @staticmethod
    def _multibulk_len(buf):
        """Length of the complete multibulk at the start of buf, or None."""
        i = buf.find(b"\r\n")
        if i < 0:
            return None
        n = int(buf[1:i])
        pos = i + 2
        for _ in range(max(n, 0)):
            j = buf.find(b"\r\n", pos)
            if j < 0:
                return None
            ln = int(buf[pos + 1:j])
            pos = j + 2 + ln + 2
            if pos > len(buf):
                return None
        return pos

    def close(self):
        self.lsock.close()
