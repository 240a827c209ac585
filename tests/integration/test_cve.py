#!/usr/bin/python3
"""Regression tests named after the Redis CVEs whose class applies to a
string/hash cache (issue 7): oversized counts, integer overflow in lengths
and offsets, unbounded buffers, unauthenticated memory growth, pattern
matching that backtracks without bound, counts that overflow.  Each test
sends what the CVE's exploit sent (or its nearest mem-kv equivalent) and
checks Redis's fixed behaviour: the same error, the connection closed where
Redis closes it, the server still up and its memory bounded.  The script
passes against real redis-server too (--server redis-server; Debian's
7.0.15 carries the fixes), so the replies are Redis's, not ours.

Not applicable to mem-kv (no such feature): Lua (CVE-2021-32626,
CVE-2022-24834, CVE-2024-46981, CVE-2025-49844 ...), sets/sorted sets/
streams/intsets (CVE-2021-32687, CVE-2022-36021's ZRANGESTORE half,
CVE-2023-25155's SRANDMEMBER/ZRANDMEMBER half), BITFIELD, SORT, ACL rules,
redis-cli and redis-check-aof."""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, RespError, Runner, expect_eq, is_real_redis, parse_args  # noqa: E402
from server_opts import proc_rss_bytes, start_with  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
REDIS = is_real_redis(args)
MB = 1 << 20
PASS = "cve-test-password"
I64_MAX = 9223372036854775807
I64_MIN = -9223372036854775808


def server(more, name):
    return R.add_server(start_with(args, more, name))


def stop(srv):
    R.servers.remove(srv)
    clean, msg = srv.stop()
    assert clean, "%s: %s" % (srv.name, msg)
    srv.cleanup()


def closed_with(conn, want, what):
    data, closed = conn.read_until_closed(10)
    expect_eq(data, want, what)
    assert closed, "%s: connection left open" % what


def alive(port, what, password=None):
    with RespConn(port) as c:
        if password:
            expect_eq(c.call("AUTH", password), "OK", "AUTH after " + what)
        expect_eq(c.call("PING"), "PONG", "server up after " + what)


def err(text):
    return RespError(text)


# ------------------------------------------------ unauthenticated growth

@R.test
def cve_2021_32675_unauthenticated_multibulk(ctx):
    """CVE-2021-32675: an unauthenticated client sent huge multibulk counts
    and bulk lengths; the server preallocated for them. Fixed: before AUTH,
    at most 10 arguments of at most 16 KB, else the connection is closed."""
    srv = ctx["auth"]
    base = proc_rss_bytes(srv.proc.pid)
    with RespConn(srv.port) as c:
        c.send(b"*1048576\r\n")
        closed_with(c, b"-ERR Protocol error: unauthenticated multibulk length\r\n",
                    "a 1M-argument count before AUTH")
    with RespConn(srv.port) as c:
        c.send(b"*2\r\n$4\r\nAUTH\r\n$100000\r\n")
        closed_with(c, b"-ERR Protocol error: unauthenticated bulk length\r\n",
                    "a 100 KB argument before AUTH")
    # 200 connections each announcing the most a client may: nothing is
    # reserved for what has not arrived
    socks = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"*10\r\n$16384\r\n")
        socks.append(s)
    time.sleep(0.3)
    grown = proc_rss_bytes(srv.proc.pid) - base
    for s in socks:
        s.close()
    assert grown < 64 * MB, "200 announcing clients grew RSS by %d MB" % (grown >> 20)
    alive(srv.port, "unauthenticated counts", PASS)


@R.test
def cve_2025_21605_unauthenticated_output_buffer(ctx):
    """CVE-2025-21605: an unauthenticated client that kept sending commands
    and never read the -NOAUTH replies grew its output buffer without
    bound. Fixed: such a client is closed once a small buffer is full."""
    srv = ctx["auth"]
    base = proc_rss_bytes(srv.proc.pid)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    sent, closed = 0, False
    chunk = b"*1\r\n$3\r\nGET\r\n" * 4096  # each one answered -NOAUTH (or arity)
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline and sent < 512 * MB:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        closed = True
    finally:
        s.close()
    grown = proc_rss_bytes(srv.proc.pid) - base
    assert closed, "the client was not disconnected after %d MB of unread replies" % (sent >> 20)
    assert grown < 64 * MB, "RSS grew by %d MB" % (grown >> 20)
    alive(srv.port, "an unread NOAUTH flood", PASS)


# ------------------------------------------------ lengths that overflow

@R.test
def cve_2021_32627_32628_bulk_length_overflow(ctx):
    """CVE-2021-32627/32628 (and the proto-max-bulk-len family): bulk
    lengths that overflow 32/64-bit arithmetic or exceed the limit must be
    refused before anything is allocated."""
    port = ctx["plain"].port
    for bad in (b"$9223372036854775807", b"$99999999999999999999", b"$536870913",
                b"$-5", b"$12x"):
        with RespConn(port) as c:
            c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" + bad + b"\r\n")
            closed_with(c, b"-ERR Protocol error: invalid bulk length\r\n", bad.decode())
    for bad in (b"*9223372036854775807", b"*99999999999999999999", b"*3000000000"):
        with RespConn(port) as c:
            c.send(bad + b"\r\n")
            closed_with(c, b"-ERR Protocol error: invalid multibulk length\r\n", bad.decode())
    alive(port, "overflowing lengths")


@R.test
def cve_2021_41099_large_proto_max_bulk_len(ctx):
    """CVE-2021-41099: with proto-max-bulk-len raised very high, a bulk length
    near the limit overflowed the query buffer's size computation. A huge
    announced bulk must not be allocated up front: memory follows the bytes
    that actually arrive (bounded by client-query-buffer-limit)."""
    big = str(1 << 40) if not REDIS else "4611686018427387903"
    srv = server(["--proto-max-bulk-len", big], "bulklen")
    try:
        base = proc_rss_bytes(srv.proc.pid)
        socks = []
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % ((1 << 40) - 1) + b"x" * 1000)
            socks.append(s)
        time.sleep(0.5)
        grown = proc_rss_bytes(srv.proc.pid) - base
        alive(srv.port, "announced 1 TB bulks")
        for s in socks:
            s.close()
        assert grown < 64 * MB, "8 announced 1 TB bulks grew RSS by %d MB" % (grown >> 20)
    finally:
        stop(srv)


@R.test
def cve_2022_35977_setrange_append_overflow(ctx):
    """CVE-2022-35977: SETRANGE and APPEND (and SORT) overflowed the size
    check (offset + length) and crashed or corrupted memory. The result may
    not exceed proto-max-bulk-len, checked without overflow."""
    srv = ctx["small"]  # --proto-max-bulk-len 1mb
    with RespConn(srv.port) as c:
        expect_eq(c.call("SETRANGE", "sr", MB - 1, "ab"),
                  err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
                  "SETRANGE past the limit")
        expect_eq(c.call("SETRANGE", "sr", I64_MAX, "x"),
                  err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
                  "SETRANGE at INT64_MAX")
        expect_eq(c.call("SETRANGE", "sr", -1, "x"), err("ERR offset is out of range"),
                  "negative offset")
        expect_eq(c.call("EXISTS", "sr"), 0, "nothing was made")
        expect_eq(c.call("SETRANGE", "sr", MB - 1, "a"), MB, "exactly the limit is fine")
        expect_eq(c.call("APPEND", "sr", "b"),
                  err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
                  "APPEND past the limit")
        expect_eq(c.call("STRLEN", "sr"), MB, "unchanged")
        expect_eq(c.call("GETRANGE", "sr", I64_MAX, I64_MIN), b"", "GETRANGE at the extremes")
        expect_eq(c.call("GETRANGE", "sr", I64_MIN, 2), b"\x00\x00\x00", "from INT64_MIN")
    alive(srv.port, "SETRANGE/APPEND overflow")


@R.test
def cve_2022_35951_style_counter_overflow(ctx):
    """Integer overflow in counters and expiry arithmetic (the class of
    CVE-2022-35951 and of the EXPIRE overflows fixed in Redis 7.0): every
    operation that would wrap answers an error and changes nothing."""
    with RespConn(ctx["plain"].port) as c:
        c.call("DEL", "i", "f", "e", "h")
        expect_eq(c.call("INCRBY", "i", I64_MAX), I64_MAX, "to INT64_MAX")
        expect_eq(c.call("INCRBY", "i", 1), err("ERR increment or decrement would overflow"),
                  "INCRBY past INT64_MAX")
        expect_eq(c.call("INCR", "i"), err("ERR increment or decrement would overflow"), "INCR")
        expect_eq(c.call("DECRBY", "i", I64_MIN), err("ERR decrement would overflow"),
                  "DECRBY INT64_MIN")
        expect_eq(c.call("GET", "i"), str(I64_MAX).encode(), "unchanged")
        expect_eq(c.call("HINCRBY", "h", "f", I64_MAX), I64_MAX, "HINCRBY to INT64_MAX")
        expect_eq(c.call("HINCRBY", "h", "f", 1), err("ERR increment or decrement would overflow"),
                  "HINCRBY past INT64_MAX")
        expect_eq(c.call("SET", "e", "v"), "OK", "set")
        for cmd in (("SET", "e", "v", "EX", I64_MAX), ("SET", "e", "v", "PX", I64_MAX)):
            expect_eq(c.call(*cmd), err("ERR invalid expire time in 'set' command"), str(cmd))
        expect_eq(c.call("EXPIRE", "e", I64_MAX), err("ERR invalid expire time in 'expire' command"),
                  "EXPIRE INT64_MAX")
        expect_eq(c.call("PEXPIRE", "e", I64_MAX),
                  err("ERR invalid expire time in 'pexpire' command"), "PEXPIRE INT64_MAX")
        expect_eq(c.call("GETEX", "e", "EX", I64_MAX),
                  err("ERR invalid expire time in 'getex' command"), "GETEX EX INT64_MAX")
        expect_eq(c.call("TTL", "e"), -1, "no TTL was set")
        expect_eq(c.call("INCRBYFLOAT", "f", "inf"),
                  err("ERR increment would produce NaN or Infinity"), "INCRBYFLOAT inf")
        expect_eq(c.call("EXISTS", "f"), 0, "nothing made")


# ------------------------------------------------ counts that overflow

@R.test
def cve_2023_22458_25155_hrandfield_count(ctx):
    """CVE-2023-22458 (HRANDFIELD with a count near INT64_MIN hit an
    assertion: the server died) and CVE-2023-25155 (SRANDMEMBER/ZRANDMEMBER/
    HRANDFIELD counts whose doubling for WITHVALUES overflowed)."""
    with RespConn(ctx["plain"].port) as c:
        c.call("DEL", "hr")
        expect_eq(c.call("HSET", "hr", "a", "1", "b", "2"), 2, "hset")
        expect_eq(c.call("HRANDFIELD", "hr", I64_MIN),
                  err("ERR value is out of range, value must between -9223372036854775807 and "
                      "9223372036854775807"), "HRANDFIELD INT64_MIN")
        for n in (-I64_MAX, I64_MAX, -(I64_MAX // 2) - 2, I64_MAX // 2 + 2):
            expect_eq(c.call("HRANDFIELD", "hr", n, "WITHVALUES"), err("ERR value is out of range"),
                      "HRANDFIELD %d WITHVALUES" % n)
        expect_eq(sorted(c.call("HRANDFIELD", "hr", I64_MAX)), [b"a", b"b"], "a huge positive count")
        expect_eq(len(c.call("HRANDFIELD", "hr", -5, "WITHVALUES")), 10, "repeats with values")
    alive(ctx["plain"].port, "HRANDFIELD counts")


@R.test
def cve_2023_28856_hincrbyfloat(ctx):
    """CVE-2023-28856: HINCRBYFLOAT could create a hash field whose value is
    not a valid number, crashing the server later. Bad increments and bad
    stored values are refused and nothing is stored."""
    with RespConn(ctx["plain"].port) as c:
        c.call("DEL", "hf")
        for bad in ("inf", "-inf", "nan", "1e5000", "x"):
            got = c.call("HINCRBYFLOAT", "hf", "f", bad)
            assert isinstance(got, RespError), "HINCRBYFLOAT %s answered %r" % (bad, got)
        expect_eq(c.call("EXISTS", "hf"), 0, "no field was created")
        expect_eq(c.call("HSET", "hf", "s", "abc"), 1, "a non-number field")
        expect_eq(c.call("HINCRBYFLOAT", "hf", "s", "1"), err("ERR hash value is not a float"),
                  "on a non-number")
        expect_eq(c.call("HINCRBYFLOAT", "hf", "n", "1.5"), b"1.5", "a fresh field")
        got = c.call("HINCRBYFLOAT", "hf", "n", "1e308")
        assert isinstance(got, bytes) and float(got) > 1e307, "1e308 increment: %r" % got
        expect_eq(c.call("HGET", "hf", "n"), got, "stored as answered")
        expect_eq(c.call("HGET", "hf", "s"), b"abc", "unchanged")
    alive(ctx["plain"].port, "HINCRBYFLOAT")


# ------------------------------------------------ pattern matching

PATTERNS = ["*a" * 40 + "*b", "a*" * 300 + "b", "*" * 10000 + "b", "[a-" * 2000,
            "\\" * 5001, "[" * 5000 + "a", "?" * 3001 + "*b" * 50]


@R.test
def cve_2022_36021_glob_backtracking(ctx):
    """CVE-2022-36021 (and CVE-2024-31228, unbounded pattern length): KEYS,
    SCAN MATCH and HSCAN MATCH with patterns that make a naive matcher
    backtrack exponentially, against long keys and fields. Each call must
    finish quickly (a naive matcher needs longer than the age of the
    universe for the first pattern) and answer correctly."""
    with RespConn(ctx["plain"].port, timeout=30) as c:
        long_key = "a" * 3000
        c.call("SET", long_key, "v")
        c.call("HSET", "hg", long_key, "v")
        worst = 0.0
        for pat in PATTERNS:
            for cmd in (("KEYS", pat), ("SCAN", 0, "MATCH", pat, "COUNT", 1000),
                        ("HSCAN", "hg", 0, "MATCH", pat, "COUNT", 1000)):
                t0 = time.monotonic()
                got = c.call(*cmd)
                took = time.monotonic() - t0
                worst = max(worst, took)
                assert took < 2.0, "%s with a %d-byte pattern took %.1f s" % (
                    cmd[0], len(pat), took)
                assert not isinstance(got, RespError), "%s: %r" % (cmd[0], got)
        expect_eq(c.call("KEYS", "a*a*a*"), [long_key.encode()], "a matching pattern still matches")
        c.call("DEL", long_key, "hg")
        print("  %d patterns x KEYS/SCAN/HSCAN, slowest %.3f s" % (len(PATTERNS), worst))


def setup(runner):
    return {
        "plain": runner.add_server(start_with(args, [], "cve")),
        "small": runner.add_server(start_with(args, ["--proto-max-bulk-len", "1mb"], "cve-small")),
        "auth": runner.add_server(start_with(args, ["--requirepass", PASS], "cve-auth")),
    }


sys.exit(R.run(setup=setup))
