#!/usr/bin/python3
"""mem-kv's plain-text protocol: lines ended by a bare LF get plain lines back
(OK, the value, (nil), MGET values space-separated, DEL -> OK, integers as
digits, errors as 'ERR ...'), over a raw socket and through nc -q1 / nc -N;
on the same connection CRLF inline commands and RESP still get RESP.

Real Redis does not speak this protocol: with --server redis-server every
test SKIPs, unless --plain-proxy is given, which puts plain_proxy.py (a model
of the protocol in front of Redis) in the server's place, to validate the
tests themselves."""

import json
import os
import random
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (encode, expect_eq, is_real_redis, parse_args,  # noqa: E402
                     Runner, Skip, start_under_test, short)


def extra(p):
    p.add_argument("--plain-proxy", action="store_true",
                   help="with --server redis-server: test the plain_proxy.py model")


args = parse_args(__doc__, extra)
R = Runner(args)
REAL = is_real_redis(args)
if REAL and not args.plain_proxy:
    SKIP = "plain-text protocol is mem-kv only (--server is redis-server)"
else:
    SKIP = None


class PlainConn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        """One reply line, without its '\\n'.  Fails on a '\\r' before it."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        i = self.buf.index(b"\n")
        ln, self.buf = self.buf[:i], self.buf[i + 1:]
        return ln

    def cmd(self, text):
        self.send(text.encode() + b"\n" if isinstance(text, str) else text + b"\n")
        ln = self.line()
        if ln.endswith(b"\r"):
            raise AssertionError("plain reply to %r ends with CRLF: %r" % (text, ln))
        return ln.decode("utf-8", "replace")

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def conn(ctx):
    return PlainConn(ctx["port"])


def plain_test(fn):
    def t(ctx):
        if SKIP:
            raise Skip(SKIP)
        fn(ctx)
    t.__name__ = fn.__name__
    return R.test(t)


@plain_test
def set_get(ctx):
    with conn(ctx) as c:
        expect_eq(c.cmd("SET user_1 Alice"), "OK", "SET")
        expect_eq(c.cmd("GET user_1"), "Alice", "GET")
        expect_eq(c.cmd("set user_2 Bob"), "OK", "lowercase set")
        expect_eq(c.cmd("get user_2"), "Bob", "lowercase get")


@plain_test
def get_missing(ctx):
    with conn(ctx) as c:
        expect_eq(c.cmd("GET nobody_here"), "(nil)", "GET missing")


@plain_test
def mget(ctx):
    with conn(ctx) as c:
        c.cmd("SET pm_a 1")
        c.cmd("SET pm_c 3")
        expect_eq(c.cmd("MGET pm_a pm_b pm_c"), "1 (nil) 3", "MGET")
        expect_eq(c.cmd("MGET pm_b"), "(nil)", "MGET one missing")
        expect_eq(c.cmd("MGET pm_c pm_a"), "3 1", "MGET order")


@plain_test
def del_answers_ok(ctx):
    with conn(ctx) as c:
        c.cmd("SET pd_k v")
        expect_eq(c.cmd("DEL pd_k"), "OK", "DEL existing")
        expect_eq(c.cmd("GET pd_k"), "(nil)", "GET after DEL")
        expect_eq(c.cmd("DEL pd_k"), "OK", "DEL missing")


@plain_test
def errors(ctx):
    with conn(ctx) as c:
        r = c.cmd("BOGUS a b")
        assert r.startswith("ERR "), "unknown command: %r" % r
        assert "unknown command" in r, r
        r = c.cmd("GET")
        expect_eq(r, "ERR wrong number of arguments for 'get' command", "arity error")
        c.cmd("SET pe_s abc")
        expect_eq(c.cmd("INCR pe_s"), "ERR value is not an integer or out of range", "INCR error")
        expect_eq(c.cmd("PING"), "PONG", "connection usable after errors")


@plain_test
def integers(ctx):
    with conn(ctx) as c:
        expect_eq(c.cmd("INCR pi_n"), "1", "INCR")
        expect_eq(c.cmd("INCR pi_n"), "2", "INCR")
        expect_eq(c.cmd("INCRBY pi_n 40"), "42", "INCRBY")
        expect_eq(c.cmd("DECR pi_n"), "41", "DECR")
        expect_eq(c.cmd("EXISTS pi_n pi_none"), "1", "EXISTS")
        expect_eq(c.cmd("APPEND pi_n 0"), "3", "APPEND")


@plain_test
def ttl(ctx):
    with conn(ctx) as c:
        expect_eq(c.cmd("SET pt_k v EX 100"), "OK", "SET EX")
        t = int(c.cmd("TTL pt_k"))
        assert 99 <= t <= 100, "TTL %d" % t
        expect_eq(c.cmd("TTL pt_none"), "-2", "TTL missing")
        c.cmd("SET pt_p v")
        expect_eq(c.cmd("TTL pt_p"), "-1", "TTL persistent")
        expect_eq(c.cmd("SET model:1 prediction EX 3600"), "OK", "SET EX 3600")
        t = int(c.cmd("TTL model:1"))
        assert 3599 <= t <= 3600, "TTL %d" % t


@plain_test
def ping_echo_quotes_tabs(ctx):
    with conn(ctx) as c:
        expect_eq(c.cmd("PING"), "PONG", "PING")
        expect_eq(c.cmd("ECHO hi"), "hi", "ECHO")
        expect_eq(c.cmd('SET "my key" "hello world"'), "OK", "quoted SET")
        expect_eq(c.cmd('GET "my key"'), "hello world", "quoted GET")
        expect_eq(c.cmd("GET\t'my key'"), "hello world", "tab and single quotes")
        expect_eq(c.cmd("   GET    'my key'   "), "hello world", "extra spaces")


@plain_test
def empty_lines_ignored(ctx):
    with conn(ctx) as c:
        c.send(b"\n\n")
        expect_eq(c.cmd("PING"), "PONG", "PING after empty lines")


@plain_test
def pipelined_one_write(ctx):
    lines, want, last = [], [], {}
    for i in range(300):
        lines.append(b"SET pp_%d val%d\n" % (i % 13, i)); want.append(b"OK")
        lines.append(b"GET pp_%d\n" % (i % 13)); want.append(b"val%d" % i)
        last[i % 13] = b"val%d" % i
    lines.append(b"MGET pp_0 pp_1 pp_none\n")
    want.append(last[0] + b" " + last[1] + b" (nil)")
    with conn(ctx) as c:
        c.send(b"".join(lines))
        got = [c.line() for _ in want]
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            raise AssertionError("reply %d to %s: expected %r, got %r" % (i, lines[i], w, g))


@plain_test
def pipelined_random_splits(ctx):
    rng = random.Random(99)
    lines, want = [], []
    for i in range(400):
        lines.append(b"SET ps_%d v%d\n" % (i % 7, i)); want.append(b"OK")
        lines.append(b"GET ps_%d\n" % (i % 7)); want.append(b"v%d" % i)
        lines.append(b"INCR ps_n\n"); want.append(b"%d" % (i + 1))
    data = b"".join(lines)
    with conn(ctx) as c:
        i = 0
        while i < len(data):
            n = rng.randint(1, 7)
            c.send(data[i:i + n])
            i += n
            if rng.random() < 0.01:
                time.sleep(0.001)
        got = [c.line() for _ in want]
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            raise AssertionError("reply %d to %r: expected %r, got %r" % (i, lines[i], w, g))


@plain_test
def mixed_with_inline_and_resp(ctx):
    with conn(ctx) as c:
        c.cmd("SET mx_user Alice")
        c.send(b"PING\r\n")
        expect_eq(c.exact(7), b"+PONG\r\n", "CRLF inline PING gets RESP")
        expect_eq(c.cmd("GET mx_user"), "Alice", "plain GET after inline")
        c.send(b"GET mx_user\r\n")
        expect_eq(c.exact(11), b"$5\r\nAlice\r\n", "CRLF inline GET gets RESP")
        c.send(encode("GET", "mx_user"))
        expect_eq(c.exact(11), b"$5\r\nAlice\r\n", "RESP GET gets RESP")
        c.send(b"GET mx_user\nPING\r\n" + encode("ECHO", "e") + b"GET mx_none\n")
        expect_eq(c.exact(6 + 7 + 7 + 6), b"Alice\n+PONG\r\n$1\r\ne\r\n(nil)\n",
                  "mixed in one write")


def run_nc(ctx, flag, data, timeout=15):
    cmd = ["nc", flag, "127.0.0.1", str(ctx["port"])]
    t0 = time.monotonic()
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    return p, time.monotonic() - t0


NC_SCRIPT = (b"SET nc_user_1 Alice\nGET nc_user_1\nGET nc_nobody\nMGET nc_user_1 nc_nobody\n"
             b"INCR nc_n\nSET nc_t v EX 100\nTTL nc_t\nDEL nc_user_1\nGET nc_user_1\n")
NC_WANT = b"OK\nAlice\n(nil)\nAlice (nil)\n1\nOK\n100\nOK\n(nil)\n"


@plain_test
def nc_q1(ctx):
    p, took = run_nc(ctx, "-q1", NC_SCRIPT)
    expect_eq(p.stdout.replace(b"\n99\n", b"\n100\n"), NC_WANT, "nc -q1 output")


@plain_test
def nc_N(ctx):
    """nc -N shuts down its write side at EOF and waits for the server to
    close: the server must flush every reply, then close."""
    p, took = run_nc(ctx, "-N", NC_SCRIPT.replace(b"nc_n", b"nc_m"))
    expect_eq(p.stdout.replace(b"\n99\n", b"\n100\n"), NC_WANT, "nc -N output")
    assert took < 5, "nc -N took %.1f s: server did not close after EOF" % took


@plain_test
def nc_many_lines(ctx):
    data = b"".join(b"SET ncm_%d %d\n" % (i, i) for i in range(2000))
    data += b"".join(b"GET ncm_%d\n" % i for i in range(2000))
    p, took = run_nc(ctx, "-N", data)
    want = b"OK\n" * 2000 + b"".join(b"%d\n" % i for i in range(2000))
    if p.stdout != want:
        raise AssertionError("nc -N with 4000 lines: got %s" % short(p.stdout))


@plain_test
def stats_json(ctx):
    if REAL:
        raise Skip("STATS is mem-kv's own command")
    with conn(ctx) as c:
        r = c.cmd("STATS")
    try:
        obj = json.loads(r)
    except ValueError as e:
        raise AssertionError("STATS is not one line of JSON: %r (%s)" % (r[:200], e))
    assert isinstance(obj, dict) and "keys" in obj, "STATS lacks 'keys': %r" % r[:200]


@plain_test
def unbalanced_quotes_closes(ctx):
    with conn(ctx) as c:
        c.send(b'SET "abc\n')
        c.sock.settimeout(5)
        data = b""
        try:
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            raise AssertionError("connection not closed after a protocol error; got %r" % data)
    assert b"unbalanced quotes" in data, data
    with conn(ctx) as c2:
        expect_eq(c2.cmd("PING"), "PONG", "new connection works")


def setup(runner):
    if SKIP:
        return {}
    srv = runner.add_server(start_under_test(args))
    if REAL and args.plain_proxy:
        from plain_proxy import PlainProxy
        return {"port": PlainProxy(srv.port).port}
    return {"port": srv.port}


sys.exit(R.run(setup=setup))
