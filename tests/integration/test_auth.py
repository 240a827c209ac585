#!/usr/bin/python3
"""Access control (issue 7, "Access"): requirepass with AUTH and HELLO AUTH,
NOAUTH before it, WRONGPASS, the limits of a client that has not
authenticated (CVE-2021-32675: argument count and length; CVE-2025-21605:
output buffer), CONFIG SET requirepass, the plain-text protocol, redis-cli,
redis-benchmark and redis-py with a password, and protected mode.  The same
script passes against real redis-server (--server redis-server) except for
mem-kv's own figures and the plain-text protocol."""

import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Runner, Skip, encode, expect_eq,  # noqa: E402
                     info_fields, is_real_redis, parse_args)
from server_opts import non_loopback_ipv4, start_with  # noqa: E402

try:
    import redis
except ImportError:
    sys.exit("the redis module is missing: run this with /usr/bin/python3 (python3-redis)")

args = parse_args(__doc__)
R = Runner(args)
REDIS = is_real_redis(args)
PASS = "s3cr3t-pass"
NOAUTH = RespError("NOAUTH Authentication required.")
WRONGPASS = RespError("WRONGPASS invalid username-password pair or user is disabled.")


def stop(srv):
    R.servers.remove(srv)
    clean, msg = srv.stop()
    assert clean, "%s: %s" % (srv.name, msg)
    srv.cleanup()


def closed_with(conn, want, what):
    data, closed = conn.read_until_closed(10)
    expect_eq(data, want, what)
    assert closed, "%s: connection left open" % what


def auth_failures(port):
    """mem-kv's count of failed AUTHs (STATS), or None on Redis 7.0."""
    if REDIS:
        return None
    with RespConn(port) as c:
        c.call("AUTH", PASS)
        return int(info_fields(c.call("INFO", "stats"))["acl_access_denied_auth"])


# ---------------------------------------------------------------- AUTH

@R.test
def noauth_before_auth(ctx):
    port = ctx["port"]
    with RespConn(port) as c:
        for cmd in (["GET", "a"], ["SET", "a", "1"], ["PING"], ["DBSIZE"], ["INFO"],
                    ["CLIENT", "SETNAME", "x"], ["CONFIG", "GET", "timeout"], ["MGET", "a", "b"]):
            expect_eq(c.call(*cmd), NOAUTH, " ".join(cmd))
        # as Redis: unknown commands and wrong arity are reported first
        expect_eq(c.call("GET"), RespError("ERR wrong number of arguments for 'get' command"),
                  "arity before NOAUTH")
        expect_eq(c.call("NOSUCH"),
                  RespError("ERR unknown command 'NOSUCH', with args beginning with: "),
                  "unknown command before NOAUTH")
        c.send(b"PING\r\n")
        expect_eq(c.read_reply(), NOAUTH, "inline")
        expect_eq(c.call("HELLO"), RespError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time"), "HELLO")
    with RespConn(port) as c:
        c.send(encode("QUIT"))
        closed_with(c, b"+OK\r\n", "QUIT needs no AUTH")


@R.test
def auth_password_and_default_user(ctx):
    port = ctx["port"]
    fails0 = auth_failures(port)
    with RespConn(port) as c:
        expect_eq(c.call("AUTH", "wrong"), WRONGPASS, "AUTH wrong")
        expect_eq(c.call("AUTH", "default", "wrong"), WRONGPASS, "AUTH default wrong")
        expect_eq(c.call("AUTH", "someone", PASS), WRONGPASS, "AUTH other user")
        expect_eq(c.call("AUTH", PASS[:-1]), WRONGPASS, "a prefix of the password")
        expect_eq(c.call("AUTH", PASS + "x"), WRONGPASS, "the password and more")
        expect_eq(c.call("AUTH", "a", "b", "c"), RespError("ERR syntax error"), "AUTH 3 args")
        expect_eq(c.call("GET", "a"), NOAUTH, "still not authenticated")
        expect_eq(c.call("AUTH", PASS), "OK", "AUTH password")
        expect_eq(c.call("SET", "auth:k", "v"), "OK", "SET after AUTH")
        expect_eq(c.call("AUTH", "wrong"), WRONGPASS, "a failed AUTH afterwards")
        expect_eq(c.call("GET", "auth:k"), b"v", "... keeps the connection authenticated")
    with RespConn(port) as c:
        expect_eq(c.call("AUTH", "default", PASS), "OK", "AUTH default password")
        expect_eq(c.call("GET", "auth:k"), b"v", "GET")
    with RespConn(port) as c:
        expect_eq(c.call("HELLO", "2", "AUTH", "default", "nope"), WRONGPASS, "HELLO AUTH wrong")
        got = c.call("HELLO", "2", "AUTH", "default", PASS, "SETNAME", "me")
        assert isinstance(got, list) and got[:2] == [b"server", b"redis"], got
        expect_eq(c.call("CLIENT", "GETNAME"), b"me", "HELLO SETNAME after AUTH")
    fails1 = auth_failures(port)
    if fails0 is not None:
        expect_eq(fails1 - fails0, 7, "failed AUTHs counted in INFO")
        with RespConn(port) as c:
            c.call("AUTH", PASS)
            import json
            st = json.loads(c.call("STATS"))
            assert st["auth_failures"] >= 7, st


@R.test
def unauthenticated_limits(ctx):
    """CVE-2021-32675: before AUTH, at most 10 arguments of at most 16384
    bytes; over that: Redis's error and the connection closed."""
    port = ctx["port"]
    with RespConn(port) as c:
        c.send(b"*11\r\n")
        closed_with(c, b"-ERR Protocol error: unauthenticated multibulk length\r\n", "*11")
    with RespConn(port) as c:
        c.send(b"*2000000\r\n")
        closed_with(c, b"-ERR Protocol error: unauthenticated multibulk length\r\n", "*2000000")
    with RespConn(port) as c:
        c.send(b"*2\r\n$3\r\nGET\r\n$16385\r\n")
        closed_with(c, b"-ERR Protocol error: unauthenticated bulk length\r\n", "$16385")
    with RespConn(port) as c:
        expect_eq(c.call(*(["MGET"] + ["k"] * 9)), NOAUTH, "10 arguments are allowed")
        expect_eq(c.call("GET", "k" * 16384), NOAUTH, "16384 bytes are allowed")
        expect_eq(c.call("AUTH", PASS), "OK", "AUTH")
        expect_eq(c.call(*(["MGET"] + ["k"] * 20)), [None] * 20, "after AUTH: 21 arguments")
        expect_eq(c.call("SET", "auth:big", b"x" * 100000), "OK", "after AUTH: 100 KB")
        expect_eq(c.call("STRLEN", "auth:big"), 100000, "strlen")


@R.test
def unauthenticated_output_buffer(ctx):
    """CVE-2025-21605: a client that never authenticates and never reads its
    NOAUTH replies is closed instead of growing an output buffer."""
    s = socket.create_connection(("127.0.0.1", ctx["port"]), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sent, closed = 0, False
    try:
        chunk = b"PING\r\n" * 1000
        while sent < 200 * 1000 * 1000:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        closed = True
    s.close()
    assert closed, "sent %d bytes of PING before AUTH without being closed" % sent
    with RespConn(ctx["port"]) as c:
        expect_eq(c.call("AUTH", PASS), "OK", "server fine")


# ---------------------------------------------------------------- CONFIG SET

@R.test
def config_set_requirepass(ctx):
    srv = R.add_server(start_with(args, [], "nopass"))
    try:
        a = RespConn(srv.port)
        expect_eq(a.call("AUTH", "x"), RespError(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"), "AUTH without a password set")
        expect_eq(a.call("AUTH", "default", "anything"), "OK", "the default user has nopass")
        expect_eq(a.call("CONFIG", "SET", "requirepass", "newpass"), "OK", "CONFIG SET")
        expect_eq(a.call("PING"), "PONG", "a client connected before stays authenticated")
        expect_eq(a.call("CONFIG", "GET", "requirepass"), [b"requirepass", b"newpass"], "GET")
        with RespConn(srv.port) as b:
            expect_eq(b.call("PING"), NOAUTH, "a new client must AUTH")
            expect_eq(b.call("AUTH", "newpass"), "OK", "AUTH with the new password")
            expect_eq(b.call("PING"), "PONG", "then it may")
        with RespConn(srv.port) as b:
            expect_eq(b.call("PING"), NOAUTH, "not yet authenticated")
            expect_eq(a.call("CONFIG", "SET", "requirepass", ""), "OK", "remove the password")
            expect_eq(b.call("PING"), "PONG", "no password: nobody needs AUTH")
        with RespConn(srv.port) as c:
            expect_eq(c.call("PING"), "PONG", "new client without AUTH")
        expect_eq(a.call("CONFIG", "SET", "timeout"),
                  RespError("ERR wrong number of arguments for 'config|set' command"), "arity")
        expect_eq(a.call("CONFIG", "SET", "nosuchoption", "1"), RespError(
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuchoption'"),
            "unknown option")
        expect_eq(a.call("CONFIG", "SET", "timeout", "x"), RespError(
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't "
            "be parsed into an integer"), "bad timeout")
        a.close()
    finally:
        stop(srv)


@R.test
def config_file_and_plain_protocol(ctx):
    if REDIS:
        raise Skip("mem-kv's --config and plain-text protocol")
    cfg = os.path.join(ctx["tmp"], "auth.conf")
    with open(cfg, "w") as f:
        f.write("# test\nrequirepass filepass\n")
    srv = R.add_server(start_with(args, ["--config", cfg], "conf"))
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            f = s.makefile("rb")
            s.sendall(b"GET x\n")
            expect_eq(f.readline(), b"ERR NOAUTH Authentication required.\n", "plain NOAUTH")
            s.sendall(b"AUTH nope\n")
            expect_eq(f.readline(),
                      b"ERR WRONGPASS invalid username-password pair or user is disabled.\n",
                      "plain WRONGPASS")
            s.sendall(b"AUTH filepass\nSET x 1\nGET x\n")
            expect_eq([f.readline() for _ in range(3)], [b"OK\n", b"OK\n", b"1\n"], "plain")
    finally:
        stop(srv)


# ---------------------------------------------------------------- real clients

@R.test
def redis_cli_benchmark_and_py(ctx):
    port = str(ctx["port"])
    out = subprocess.run(["redis-cli", "-p", port, "--no-auth-warning", "-a", PASS, "PING"],
                         capture_output=True, text=True, timeout=30)
    expect_eq(out.stdout.strip(), "PONG", "redis-cli -a")
    out = subprocess.run(["redis-cli", "-p", port, "GET", "x"], capture_output=True, text=True,
                         timeout=30)
    assert "NOAUTH" in out.stdout + out.stderr, out
    out = subprocess.run(["redis-benchmark", "-p", port, "-a", PASS, "-t", "set,get", "-n",
                          "2000", "-c", "4", "-q"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.count("requests per second") == 2, out
    assert "NOAUTH" not in out.stdout + out.stderr, out
    r = redis.Redis(host="127.0.0.1", port=ctx["port"], password=PASS, socket_timeout=30)
    assert r.set("py:k", "v") is True
    expect_eq(r.get("py:k"), b"v", "redis-py with password")
    r2 = redis.Redis(host="127.0.0.1", port=ctx["port"], username="default", password=PASS)
    expect_eq(r2.get("py:k"), b"v", "redis-py with username default")
    bad = redis.Redis(host="127.0.0.1", port=ctx["port"], password="wrong")
    try:
        bad.ping()
        raise AssertionError("a wrong password was accepted")
    except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
        assert "WRONGPASS" in str(e) or "invalid" in str(e), e
    nopw = redis.Redis(host="127.0.0.1", port=ctx["port"])
    try:
        nopw.get("py:k")
        raise AssertionError("no password was accepted")
    except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
        assert "uthentication required" in str(e), e


# ---------------------------------------------------------------- protected mode

def connect_from(addr, port):
    return RespConn(port, host=addr)


@R.test
def protected_mode(ctx):
    ip = non_loopback_ipv4()
    if ip is None:
        raise Skip("this machine has no non-loopback IPv4 address (hostname -I)")
    srv = R.add_server(start_with(args, ["--bind", "0.0.0.0", "--protected-mode", "yes"],
                                  "protected"))
    try:
        with connect_from(ip, srv.port) as c:
            data, closed = c.read_until_closed(10)
            assert closed and data.startswith(b"-DENIED ") and data.endswith(b"\r\n"), data
            assert b"running in protected mode" in data and b"'--protected-mode no'" in data, data
            assert data.count(b"\r\n") == 1, data
        with RespConn(srv.port) as lo:
            expect_eq(lo.call("PING"), "PONG", "loopback is allowed")
            expect_eq(lo.call("CONFIG", "GET", "protected-mode"), [b"protected-mode", b"yes"],
                      "CONFIG GET")
            # a password lifts protected mode: remote clients get to AUTH
            expect_eq(lo.call("CONFIG", "SET", "requirepass", PASS), "OK", "set a password")
            with connect_from(ip, srv.port) as c:
                expect_eq(c.call("PING"), NOAUTH, "remote client with a password set")
                expect_eq(c.call("AUTH", PASS), "OK", "remote AUTH")
                expect_eq(c.call("PING"), "PONG", "remote PING")
            expect_eq(lo.call("CONFIG", "SET", "requirepass", ""), "OK", "no password again")
            with connect_from(ip, srv.port) as c:
                assert c.read_until_closed(10)[0].startswith(b"-DENIED"), "denied again"
            expect_eq(lo.call("CONFIG", "SET", "protected-mode", "no"), "OK", "turn it off")
            with connect_from(ip, srv.port) as c:
                expect_eq(c.call("PING"), "PONG", "protected mode off at run time")
    finally:
        stop(srv)
    srv = R.add_server(start_with(args, ["--bind", "0.0.0.0", "--protected-mode", "no"],
                                  "unprotected"))
    try:
        with connect_from(ip, srv.port) as c:
            expect_eq(c.call("PING"), "PONG", "--protected-mode no")
    finally:
        stop(srv)


def setup(runner):
    import tempfile
    srv = runner.add_server(start_with(args, ["--requirepass", PASS], "auth"))
    return {"srv": srv, "port": srv.port, "tmp": tempfile.mkdtemp(prefix="memkv-auth-")}


sys.exit(R.run(setup=setup))
