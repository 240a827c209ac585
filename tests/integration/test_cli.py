#!/usr/bin/python3
"""redis-cli against the server: one-shot commands and their printed output
(raw and --no-raw), commands from stdin, -x, -r, --scan, --pipe, INFO."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import expect_eq, info_fields, parse_args, Runner, start_under_test  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
CLI = "/usr/bin/redis-cli"


def cli(ctx, *argv, stdin=None, timeout=30, opts=()):
    cmd = [CLI, "-h", "127.0.0.1", "-p", str(ctx["srv"].port)] + list(opts) + list(argv)
    if stdin is None:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    else:
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("%s exited %d: %r %r" % (cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout.decode("utf-8", "replace")


def out(ctx, *argv, **kw):
    """Output with the final newline removed."""
    s = cli(ctx, *argv, **kw)
    assert s.endswith("\n"), "output does not end with a newline: %r" % s
    return s[:-1]


@R.test
def ping(ctx):
    expect_eq(out(ctx, "PING"), "PONG", "PING")
    expect_eq(out(ctx, "ping", "hello"), "hello", "PING hello")


@R.test
def echo(ctx):
    expect_eq(out(ctx, "ECHO", "hello world"), "hello world", "ECHO")


@R.test
def set_get(ctx):
    expect_eq(out(ctx, "SET", "cli:k", "v1"), "OK", "SET")
    expect_eq(out(ctx, "GET", "cli:k"), "v1", "GET")
    expect_eq(out(ctx, "SET", "cli:sp", "a b  c"), "OK", "SET with spaces")
    expect_eq(out(ctx, "GET", "cli:sp"), "a b  c", "GET with spaces")
    expect_eq(out(ctx, "GET", "cli:missing"), "", "GET missing (raw mode prints an empty line)")
    expect_eq(out(ctx, "DEL", "cli:sp", "cli:missing"), "1", "DEL")


@R.test
def integers(ctx):
    expect_eq(out(ctx, "INCR", "cli:n"), "1", "INCR")
    expect_eq(out(ctx, "INCRBY", "cli:n", "41"), "42", "INCRBY")
    expect_eq(out(ctx, "DECR", "cli:n"), "41", "DECR")
    expect_eq(out(ctx, "EXISTS", "cli:n", "cli:none"), "1", "EXISTS")


@R.test
def mget(ctx):
    out(ctx, "SET", "cli:m1", "x")
    out(ctx, "SET", "cli:m3", "z")
    expect_eq(out(ctx, "MGET", "cli:m1", "cli:m2", "cli:m3"), "x\n\nz", "MGET (raw)")
    expect_eq(out(ctx, "MGET", "cli:m1", "cli:m2", opts=["--no-raw"]),
              '1) "x"\n2) (nil)', "MGET --no-raw")


@R.test
def no_raw_formatting(ctx):
    expect_eq(out(ctx, "GET", "cli:missing", opts=["--no-raw"]), "(nil)", "nil")
    expect_eq(out(ctx, "INCR", "cli:nr", opts=["--no-raw"]), "(integer) 1", "integer")
    expect_eq(out(ctx, "SET", "cli:nr2", "v", opts=["--no-raw"]), "OK", "status")
    expect_eq(out(ctx, "GET", "cli:nr2", opts=["--no-raw"]), '"v"', "bulk")


@R.test
def errors(ctx):
    s = cli(ctx, "FOO", "a", "b")
    expect_eq(s.strip("\n"), "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ",
              "unknown command")
    s = cli(ctx, "GET")
    expect_eq(s.strip("\n"), "ERR wrong number of arguments for 'get' command", "arity")
    s = cli(ctx, "FOO", opts=["--no-raw"])
    assert s.startswith("(error) ERR unknown command 'FOO'"), s


@R.test
def ttl(ctx):
    expect_eq(out(ctx, "SET", "cli:t", "v", "EX", "100"), "OK", "SET EX")
    t = int(out(ctx, "TTL", "cli:t"))
    assert 99 <= t <= 100, "TTL %d" % t
    expect_eq(out(ctx, "TTL", "cli:missing"), "-2", "TTL missing")
    expect_eq(out(ctx, "TTL", "cli:k"), "-1", "TTL persistent")


@R.test
def dbsize_and_info(ctx):
    out(ctx, "FLUSHDB")
    for i in range(7):
        out(ctx, "SET", "cli:d%d" % i, str(i))
    out(ctx, "EXPIRE", "cli:d0", "1000")
    out(ctx, "EXPIRE", "cli:d1", "1000")
    expect_eq(out(ctx, "DBSIZE"), "7", "DBSIZE")
    info = cli(ctx, "INFO")
    for needle in ("# Server", "redis_version:", "# Keyspace", "db0:keys="):
        assert needle in info, "INFO lacks %r" % needle
    assert "\r\n" in info, "INFO lines should end in CRLF as in Redis"
    f = info_fields(info)
    expect_eq(f.get("db0", "").split(",")[:2], ["keys=7", "expires=2"], "INFO db0")
    assert re.match(r"^\d+\.\d+\.\d+$", f["redis_version"]), f["redis_version"]
    ks = cli(ctx, "INFO", "keyspace")
    assert "# Keyspace" in ks and "db0:keys=7,expires=2" in ks, ks
    assert "# Server" not in ks, "INFO keyspace should hold only that section"
    mem = info_fields(cli(ctx, "INFO", "memory"))
    assert int(mem["used_memory"]) > 0, mem


@R.test
def commands_from_stdin(ctx):
    s = cli(ctx, stdin=b"SET cli:in 1\nGET cli:in\nINCR cli:in\nECHO \"x y\"\n")
    expect_eq(s, "OK\n1\n2\nx y\n", "stdin output")


@R.test
def value_from_stdin_x(ctx):
    expect_eq(out(ctx, "SET", "cli:x", opts=["-x"], stdin=b"a\x00b\r\nc"), "OK", "SET -x")
    expect_eq(out(ctx, "STRLEN", "cli:x"), "6", "STRLEN")
    expect_eq(out(ctx, "GET", "cli:x", opts=["--no-raw"]), '"a\\x00b\\r\\nc"', "GET --no-raw")


@R.test
def repeat(ctx):
    expect_eq(out(ctx, "INCR", "cli:r", opts=["-r", "5"]), "1\n2\n3\n4\n5", "-r 5 INCR")


@R.test
def scan_pattern(ctx):
    body = b"".join(b"SET cli:scan:%d %d\n" % (i, i) for i in range(300))
    cli(ctx, stdin=body)
    s = cli(ctx, "--scan", "--pattern", "cli:scan:*")
    keys = set(s.split())
    expect_eq(keys, {"cli:scan:%d" % i for i in range(300)}, "--scan keys")


@R.test
def pipe_mass_insert(ctx):
    n = 20000
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k)
                    for k in (b"cli:pipe:%d" % i for i in range(n)))
    s = cli(ctx, stdin=data, opts=["--pipe"], timeout=60)
    assert "errors: 0, replies: %d" % n in s, s
    s = cli(ctx, "--scan", "--pattern", "cli:pipe:*")
    expect_eq(len(set(s.split())), n, "keys after --pipe")


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
