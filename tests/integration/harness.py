"""Shared harness for mem-kv integration tests.

Starts a server binary (mem-kv, or a real redis-server standing in for it) on
a free loopback port, waits until it answers PING, stops it, and keeps its
output in a temp file that is printed when a test fails.  Also: a raw RESP
client that can return replies byte for byte, and a tiny test runner that
prints PASS/FAIL/SKIP lines and ends with "N passed, M failed".

Use /usr/bin/python3 (Debian's, which has the redis module).

Command line shared by every test script:
  --server PATH        mem-kv-server binary; the literal "redis-server" starts
                       a real Redis in its place (to self-validate the suite)
  --redis-server PATH  real Redis for differential tests (/usr/bin/redis-server)
  --server-arg ARG     extra argument for mem-kv (repeatable), e.g.
                       --server-arg=--io-threads --server-arg=2
  --only NAME          run only tests whose name contains NAME (repeatable)
  -v                   verbose
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

LOOPBACK = "127.0.0.1"
DEFAULT_REDIS = "/usr/bin/redis-server"


# ---------------------------------------------------------------- arguments

def parse_args(description="", extra=None, argv=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--server", required=True,
                   help="mem-kv-server binary, or 'redis-server' to use real Redis")
    p.add_argument("--redis-server", default=DEFAULT_REDIS,
                   help="real redis-server for differential tests")
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra argument passed to mem-kv (repeatable)")
    p.add_argument("--only", action="append", default=[],
                   help="run only tests whose name contains this (repeatable)")
    p.add_argument("-v", "--verbose", action="store_true")
    if extra:
        extra(p)
    args = p.parse_args(argv)
    env_args = os.environ.get("MEMKV_SERVER_ARGS", "").split()
    args.server_arg = env_args + args.server_arg
    return args


def is_real_redis(args):
    """True when --server names real Redis (self-validation mode)."""
    return os.path.basename(args.server) == "redis-server" and (
        args.server == "redis-server" or _looks_like_redis(args.server))


def _looks_like_redis(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=5).stdout
        return out.startswith(b"Redis server")
    except Exception:
        return False


# ---------------------------------------------------------------- ports

def _port_free(port):
    """Nobody answers on the port, and we can bind it right now."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return False            # someone is listening
    except OSError:
        pass
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((LOOPBACK, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port(rng=random.SystemRandom()):
    for _ in range(200):
        port = rng.randint(20000, 60000)
        if _port_free(port):
            return port
    raise RuntimeError("no free port found in 20000-60000")


# ---------------------------------------------------------------- servers

class ServerError(Exception):
    pass


class Server:
    """One server process.  kind is 'memkv' or 'redis'."""

    def __init__(self, binary, kind, extra_args=(), name=None):
        self.binary = binary
        self.kind = kind
        self.extra_args = list(extra_args)
        self.name = name or kind
        self.proc = None
        self.port = None
        self.host = LOOPBACK
        self.tmpdir = tempfile.mkdtemp(prefix="memkv-integ-%s-" % self.name)
        self.logpath = os.path.join(self.tmpdir, "server.log")
        self.logfile = None
        self.died_early = False
        self.exit_code = None

    def _command(self, port):
        if self.kind == "redis":
            return [self.binary, "--port", str(port), "--bind", LOOPBACK,
                    "--save", "", "--appendonly", "no", "--daemonize", "no",
                    "--dir", self.tmpdir, "--logfile", "", "--protected-mode", "no"]
        return [self.binary, "--port", str(port), "--bind", LOOPBACK] + self.extra_args

    def start(self, timeout=15.0, attempts=5):
        last = None
        for _ in range(attempts):
            port = pick_port()
            cmd = self._command(port)
            self.logfile = open(self.logpath, "ab")
            self.logfile.write(("$ " + " ".join(repr(c) if c == "" else c for c in cmd) + "\n").encode())
            self.logfile.flush()
            # cwd is the temp dir: mem-kv's ./data (persistence) lands there.
            self.proc = subprocess.Popen(cmd, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                                         stdout=self.logfile, stderr=subprocess.STDOUT)
            self.port = port
            ok, why = self._wait_ready(timeout)
            if ok:
                return self
            last = why
            self._kill()
            if "exited" not in why:
                break                      # hung, not a port clash: give up
        self.dump_log()
        raise ServerError("%s did not start: %s" % (self.name, last))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return False, "exited with code %s" % rc
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1.0) as s:
                    s.settimeout(2.0)
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    data = b""
                    while not data.endswith(b"\r\n"):
                        chunk = s.recv(64)
                        if not chunk:
                            break
                        data += chunk
                    if data == b"+PONG\r\n":
                        return True, ""
            except OSError:
                pass
            time.sleep(0.05)
        return False, "no PONG within %.0f s" % timeout

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL.  Returns (clean, message)."""
        if self.proc is None:
            return True, "not started"
        rc = self.proc.poll()
        if rc is not None:
            self.died_early = True
            self.exit_code = rc
            msg = "server died during the tests (exit code %s)" % rc
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
                msg = "exit code %s after SIGTERM" % rc
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                msg = "did not exit within %.0f s of SIGTERM; killed" % timeout
                rc = "killed"
            self.exit_code = rc
        if self.logfile:
            self.logfile.close()
            self.logfile = None
        return rc == 0 and not self.died_early, msg

    def log_text(self, limit=20000):
        try:
            with open(self.logpath, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        if len(data) > limit:
            data = b"...(truncated)...\n" + data[-limit:]
        return data.decode("utf-8", "replace")

    def dump_log(self):
        print("----- %s output (%s) -----" % (self.name, self.logpath))
        print(self.log_text(), end="")
        print("----- end of %s output -----" % self.name)
        sys.stdout.flush()

    def cleanup(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def start_under_test(args, name="server"):
    """The server under test: mem-kv, or real Redis if --server redis-server."""
    if is_real_redis(args):
        binary = args.server if os.path.sep in args.server else (
            shutil.which("redis-server") or DEFAULT_REDIS)
        return Server(binary, "redis", name=name + "(redis)").start()
    return Server(args.server, "memkv", args.server_arg, name=name + "(mem-kv)").start()


def start_reference(args, name="reference"):
    """A real redis-server for differential tests."""
    return Server(args.redis_server, "redis", name=name + "(redis)").start()


# ---------------------------------------------------------------- RESP client

class RespError(Exception):
    """An error reply (-ERR ...).  str(e) is the text without the '-'."""

    def __eq__(self, other):
        return isinstance(other, RespError) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))

    def __repr__(self):
        return "RespError(%r)" % str(self)


class ConnectionClosed(Exception):
    pass


def encode(*args):
    """RESP multibulk for a command; args may be str, bytes or int."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        else:
            b = str(a).encode()
        out.append(b"$%d\r\n" % len(b))
        out.append(b)
        out.append(b"\r\n")
    return b"".join(out)


def encode_many(cmds):
    return b"".join(encode(*c) for c in cmds)


class RespConn:
    """Raw socket RESP client.  read_reply() parses one reply; with raw=True
    it returns (value, exact_bytes_of_the_reply)."""

    mark = None  # start of the raw reply being read (read_reply); subclasses
                 # that set buf and pos themselves get it from here

    def __init__(self, port, host=LOOPBACK, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        # drop parsed bytes once they are many, but never those of the raw
        # reply being read (read_reply's mark)
        base = self.pos if self.mark is None else self.mark
        if base > 1 << 20 and base > len(self.buf) // 2:
            del self.buf[:base]
            self.pos -= base
            if self.mark is not None:
                self.mark = 0
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
        while len(self.buf) - self.pos < n:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def _parse(self):
        line = self._line()
        if not line:
            raise ValueError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return Status(rest.decode("utf-8", "replace"))
        if t == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n + 2)
            if data[-2:] != b"\r\n":
                raise ValueError("bulk not ended by CRLF: %r" % data[-2:])
            return data[:-2]
        if t == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._parse() for _ in range(n)]
        raise ValueError("bad reply type byte %r in line %r" % (t, line[:80]))

    def read_reply(self, raw=False):
        if not raw:
            return self._parse()
        self.mark = self.pos
        try:
            value = self._parse()
            return value, bytes(self.buf[self.mark:self.pos])
        finally:
            self.mark = None

    def call(self, *args, raw=False):
        self.send(encode(*args))
        return self.read_reply(raw=raw)

    def pipeline(self, cmds, raw=False):
        """Send all commands in one write (from a helper thread so that a
        big batch cannot deadlock on full socket buffers), read all replies."""
        data = encode_many(cmds)
        return self.send_and_read(data, len(cmds), raw=raw)

    def send_and_read(self, data, nreplies, raw=False):
        import threading
        err = []

        def sender():
            try:
                self.sock.sendall(data)
            except Exception as e:      # reported after the replies
                err.append(e)
        if len(data) > 65536:
            t = threading.Thread(target=sender, daemon=True)
            t.start()
        else:
            t = None
            sender()
        out = [self.read_reply(raw=raw) for _ in range(nreplies)]
        if t:
            t.join()
        if err:
            raise err[0]
        return out

    def read_until_closed(self, timeout=5.0):
        """Everything the server sends until it closes the connection.
        Returns (bytes, closed: bool)."""
        self.sock.settimeout(timeout)
        data = bytes(self.buf[self.pos:])
        self.pos = len(self.buf)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return data, True
                data += chunk
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True


class Status(str):
    """A +status reply; compares equal to its text (a str)."""

    def __repr__(self):
        return "+" + str.__str__(self)


def info_fields(text):
    """INFO text -> dict of field -> value (strings)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


# ---------------------------------------------------------------- runner

class Skip(Exception):
    pass


class Runner:
    """Collects tests; run() prints PASS/FAIL/SKIP per test and the summary.

    A test is a function taking the runner's context (ctx); it fails by
    raising (assert, exception), skips by raising Skip(reason)."""

    def __init__(self, args):
        self.args = args
        self.tests = []
        self.servers = []
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def test(self, fn=None, name=None):
        def reg(f):
            self.tests.append((name or f.__name__, f))
            return f
        return reg(fn) if fn else reg

    def add_server(self, srv):
        self.servers.append(srv)
        return srv

    def _selected(self, name):
        return not self.args.only or any(o in name for o in self.args.only)

    def _report(self, status, name, detail=""):
        line = "%s: %s" % (status, name)
        if detail:
            line += " -- " + detail
        print(line)
        sys.stdout.flush()

    def run(self, ctx=None, setup=None):
        t_all = time.monotonic()
        try:
            if setup:
                ctx = setup(self)
        except Exception as e:
            traceback.print_exc()
            self._report("FAIL", "setup", "%s: %s" % (type(e).__name__, e))
            self.failed += 1
            return self.finish(t_all)
        for name, fn in self.tests:
            if not self._selected(name):
                continue
            t0 = time.monotonic()
            try:
                fn(ctx)
            except Skip as s:
                self.skipped += 1
                self._report("SKIP", name, str(s))
                continue
            except Exception as e:
                self.failed += 1
                self.failures.append(name)
                if not isinstance(e, AssertionError):
                    traceback.print_exc()
                detail = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
                if type(e) is AssertionError:
                    fr = [f for f in traceback.extract_tb(e.__traceback__)
                          if not f.filename.endswith("harness.py")] or \
                        traceback.extract_tb(e.__traceback__)
                    f = fr[-1]
                    detail += " [at %s:%d: %s]" % (os.path.basename(f.filename), f.lineno,
                                                   (f.line or "").strip())
                if len(detail) > 4000:
                    detail = detail[:4000] + "...(truncated)"
                self._report("FAIL", name, detail)
                for srv in self.servers:
                    if not srv.alive():
                        print("note: %s is no longer running" % srv.name)
                continue
            self.passed += 1
            self._report("PASS", name, "%.2fs" % (time.monotonic() - t0))
        return self.finish(t_all)

    def finish(self, t_all):
        for srv in self.servers:
            clean, msg = srv.stop()
            if not clean:
                self.failed += 1
                self._report("FAIL", "%s shutdown" % srv.name, msg)
        if self.failed:
            for srv in self.servers:
                srv.dump_log()
        for srv in self.servers:
            if not self.failed:
                srv.cleanup()
        if self.skipped:
            print("%d skipped" % self.skipped)
        print("(%.1fs)" % (time.monotonic() - t_all))
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.stdout.flush()
        return 1 if self.failed else 0


def expect_eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: expected %r, got %r" % (what or "value", want, got))


def short(b, n=200):
    r = repr(b)
    return r if len(r) <= n else r[:n] + "...(%d bytes)" % len(b)
