#!/usr/bin/python3
"""redis-benchmark smoke test: the standard runs complete, exit 0, print a
result line per test and no error text; the server is fine afterwards."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, expect_eq, parse_args, Runner, start_under_test  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
BENCH = "/usr/bin/redis-benchmark"
RESULT = re.compile(r"^\s*(.+?): ([0-9.]+) requests per second")
ERROR_TEXT = re.compile(r"error|ERR|WARN|Could not|refused|reset|timeout", re.I)


def bench(ctx, *argv, timeout=150):
    cmd = [BENCH, "-h", "127.0.0.1", "-p", str(ctx["srv"].port)] + list(argv)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    text = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    results = {}
    for seg in re.split(r"[\r\n]", text):
        m = RESULT.match(seg)
        if m:
            results[m.group(1)] = float(m.group(2))
    for name, rps in results.items():
        print("  %-16s %12.0f requests per second" % (name, rps))
    assert p.returncode == 0, "redis-benchmark exited %d\n%s\n%s" % (p.returncode, text[-2000:], err)
    bad = [ln for ln in re.split(r"[\r\n]", text + "\n" + err)
           if ERROR_TEXT.search(ln) and not ln.startswith("WARNING: Keepalive disabled")]
    assert not bad, "error text in redis-benchmark output: %r" % bad[:5]
    return results


def check_tests(results, names):
    missing = [n for n in names if n not in results]
    assert not missing, "no result line for %s (got %s)" % (missing, sorted(results))
    zero = [n for n in names if results[n] <= 0]
    assert not zero, "zero throughput for %s" % zero


@R.test
def standard_pipelined(ctx):
    r = bench(ctx, "-t", "ping_inline,ping_mbulk,set,get,incr,mset",
              "-n", "100000", "-c", "50", "-P", "16", "-q")
    check_tests(r, ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"])
    with RespConn(ctx["srv"].port) as c:
        expect_eq(c.call("STRLEN", "key:__rand_int__"), 3, "value written by the SET test")
        v = int(c.call("GET", "counter:__rand_int__"))
        expect_eq(v, 100000, "counter after 100000 INCRs")


@R.test
def random_keys_unpipelined(ctx):
    r = bench(ctx, "-t", "set,get", "-n", "20000", "-c", "20", "-r", "100000", "-d", "64", "-q")
    check_tests(r, ["SET", "GET"])
    with RespConn(ctx["srv"].port) as c:
        n = c.call("DBSIZE")
        assert n > 10000, "DBSIZE %d after 20000 SETs over 100000 random keys" % n
        expect_eq(c.call("PING"), "PONG", "PING after the benchmark")


@R.test
def keepalive_off_connections(ctx):
    """-k 0: a new connection per request."""
    r = bench(ctx, "-t", "ping_mbulk,set", "-n", "3000", "-c", "10", "-k", "0", "-q")
    check_tests(r, ["PING_MBULK", "SET"])


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
