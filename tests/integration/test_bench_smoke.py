#!/usr/bin/python3
"""redis-benchmark smoke test: the standard runs complete, exit 0, print a
result line per test and no error text; the server is fine afterwards.

mem-kv-bench over time (issue 16): a short real run's per-second series in
the JSON, --csv, --hlog (decoded here: HdrHistogram V2 compressed encoding),
the per-second progress line, --svg-log/--svg-time, the warning and
--strict-rate exit when an open-loop run falls short of --rate, `compare`,
the error when no server answers, and output paths checked before the run.

bench/compare.sh's issue-14 scorecard at toy size (--only ttl): the TTL
workload's figures reach the table, ratios and targets included."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import base64  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402

from harness import (RespConn, expect_eq, is_real_redis, parse_args, Runner,  # noqa: E402
                     start_under_test)


def extra(p):
    p.add_argument("--bench", default=None,
                   help="mem-kv-bench binary (default: next to --server)")


args = parse_args(__doc__, extra)
MKB = args.bench or os.path.join(os.path.dirname(os.path.abspath(args.server)), "mem-kv-bench")
if not os.access(MKB, os.X_OK):
    MKB = None
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


# ---------------------------------------------------------------- mem-kv-bench

TMP = tempfile.mkdtemp(prefix="integ_bench_smoke_")
PROGRESS = re.compile(r"^\[\s*[0-9.]+ s\] ([0-9]+) req/s, p99 ([0-9.]+) ms, max ([0-9.]+) ms, "
                      r"([0-9]+) errors$")


def mkb(*argv, timeout=60):
    if MKB is None:
        print("  SKIP: no mem-kv-bench next to the server (pass --bench)")
        return None
    t0 = time.monotonic()
    p = subprocess.run([MKB] + [str(a) for a in argv], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    p.secs = time.monotonic() - t0
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def tmp(name):
    return os.path.join(TMP, name)


def zigzag_counts(payload):
    """HdrHistogram's ZigZag LEB128 counts, negative = a run of zeros."""
    counts, i = [], 0
    while i < len(payload):
        v, shift, n = 0, 0, 0
        while True:
            b = payload[i]
            i += 1
            n += 1
            if n == 9:
                v |= b << shift
                break
            v |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                break
        v = (v >> 1) ^ -(v & 1)
        counts.extend([0] * -v if v < 0 else [v])
    return counts


def decode_hlog_histogram(b64):
    raw = base64.b64decode(b64)
    cookie, clen = struct.unpack(">ii", raw[:8])
    assert cookie & ~0xf0 == 0x1c849304, "compressed cookie %#x" % cookie
    body = zlib.decompress(raw[8:8 + clen])
    cookie, plen, norm, digits, lowest, highest, ratio = struct.unpack(">iiiiqqd", body[:40])
    assert cookie & ~0xf0 == 0x1c849303, "encoding cookie %#x" % cookie
    assert (norm, digits, lowest, highest, ratio) == (0, 2, 1, 2**38 - 1, 1.0), body[:40]
    assert plen == len(body) - 40, (plen, len(body))
    return zigzag_counts(body[40:])


def bucket_low(i):
    """Lowest value of bucket i (2 significant digits, unit 1: 128 sub-buckets)."""
    if i < 256:
        return i
    shift = i // 128 - 1
    return (i - 128 * shift) << shift


@R.test
def memkv_bench_series(ctx):
    port = ctx["srv"].port
    files = {k: tmp("run." + k) for k in ("json", "csv", "hlog", "svglog", "svgtime")}
    p = mkb("-p", port, "-c", 2, "-d", 2.5, "--progress", "--json", files["json"],
            "--csv", files["csv"], "--hlog", files["hlog"], "--svg-log", files["svglog"],
            "--svg-time", files["svgtime"])
    if p is None:
        return
    assert p.returncode == 0, "exit %d\n%s\n%s" % (p.returncode, p.out, p.err)
    # the progress line: one line per second on a non-terminal, that second's figures
    prog = [m for m in (PROGRESS.match(ln) for ln in p.err.splitlines()) if m]
    assert len(prog) >= 2, "progress lines: %r" % p.err
    assert all(int(m.group(1)) > 0 for m in prog), p.err
    d = json.load(open(files["json"]))
    expect_eq(d["version"] != "", True, "version in the JSON")
    assert "--csv" in d["command_line"] and d["command_line"].startswith(MKB), d["command_line"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", d["started_utc"]), d["started_utc"]
    assert abs(d["started_unix"] - time.time()) < 60, d["started_unix"]
    ser = d["series"]
    assert len(ser) >= 3, "series of a 2.5 s run: %r" % ser
    expect_eq(sum(x["requests"] for x in ser), d["requests"], "series requests sum to the total")
    expect_eq(sum(x["errors"] for x in ser), d["errors"], "series errors sum to the total")
    for x in ser:
        assert x["p50_ms"] <= x["p99_ms"] <= x["max_ms"] * 1.01, x
        assert abs(x["rate_rps"] - x["requests"] / x["interval_s"]) <= 1 + x["rate_rps"] * 2e-3, x
    expect_eq([round(x["t_s"]) for x in ser[:3]], [0, 1, 2], "seconds of the series")
    rows = open(files["csv"]).read().splitlines()
    expect_eq(rows[0], "t_s,interval_s,requests,rate_rps,p50_ms,p99_ms,max_ms,errors", "CSV header")
    expect_eq([int(r.split(",")[2]) for r in rows[1:]], [x["requests"] for x in ser],
              "CSV requests per second")
    # the interval log: header lines, then one decodable histogram per second
    lines = open(files["hlog"]).read().splitlines()
    assert "#[Histogram log format version 1.3]" in lines, lines[:5]
    assert any(ln.startswith("#[StartTime: ") for ln in lines), lines[:5]
    legend = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
    data = lines[lines.index(legend) + 1:]
    expect_eq(len(data), len([x for x in ser if x["requests"]]), "one .hlog line per second")
    for ln, x in zip(data, [x for x in ser if x["requests"]]):
        start, length, mx, b64 = ln.split(",")
        assert b64.startswith("HISTF"), b64[:10]
        counts = decode_hlog_histogram(b64)
        expect_eq(sum(counts), x["requests"], ".hlog histogram total at %s s" % start)
        top = max(i for i, c in enumerate(counts) if c)
        assert abs(bucket_low(top) / 1e6 - float(mx)) <= float(mx) * 0.01 + 0.001, (top, mx)
        expect_eq(abs(float(start) - x["t_s"]) < 0.002, True, "interval start")
    for k in ("svglog", "svgtime"):
        svg = open(files[k]).read()
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "polyline" in svg, k
    assert "log scale" in open(files["svglog"]).read()
    assert "p99 latency (ms)" in open(files["svgtime"]).read()


@R.test
def memkv_bench_rate_warning_strict_compare(ctx):
    port = ctx["srv"].port
    # an open loop that cannot keep up: 2000 requests due within 2 ms on one connection
    p = mkb("-p", port, "-c", 1, "-n", 2000, "--rate", 1000000, "-q", "--json", tmp("short.json"))
    if p is None:
        return
    assert p.returncode == 0, "exit %d\n%s" % (p.returncode, p.err)
    assert re.search(r"warning: achieved [0-9]+ req/s, [0-9.]+ % below --rate 1000000", p.err), p.err
    expect_eq(json.load(open(tmp("short.json")))["rate_short"], True, "rate_short in the JSON")
    p = mkb("-p", port, "-c", 1, "-n", 2000, "--rate", 1000000, "-q", "--strict-rate")
    expect_eq(p.returncode, 3, "--strict-rate exit status when short (stderr %r)" % p.err)
    # a rate that is kept: no warning, exit 0 even with --strict-rate
    p = mkb("-p", port, "-c", 1, "-n", 100, "--rate", 200, "-q", "--strict-rate",
            "--json", tmp("kept.json"))
    assert p.returncode == 0 and "warning" not in p.err, (p.returncode, p.err)
    expect_eq(json.load(open(tmp("kept.json")))["rate_short"], False, "rate kept")
    # compare prints B/A ratios
    p = mkb("compare", tmp("kept.json"), tmp("short.json"))
    assert p.returncode == 0, p.err
    a, b = (json.load(open(tmp(f))) for f in ("kept.json", "short.json"))
    m = re.search(r"^throughput req/s\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", p.out, re.M)
    assert m, p.out
    ratio = b["throughput_rps"] / a["throughput_rps"]
    assert abs(float(m.group(3)) - ratio) <= 0.0005 + ratio * 1e-3, (m.group(0), ratio)
    assert re.search(r"^\s+p99\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$", p.out, re.M), p.out
    # the overlay plot with a log latency axis
    p = mkb("plot", "--log", "--svg", tmp("cmp.svg"), "--label", "kept", tmp("kept.json"),
            "--label", "short", tmp("short.json"))
    assert p.returncode == 0, p.err
    svg = open(tmp("cmp.svg")).read()
    assert "log scale" in svg and svg.count("<polyline") == 2 and ">short<" in svg, svg[:300]
    p = mkb("compare", tmp("kept.json"), tmp("nonexistent.json"))
    assert p.returncode == 1 and "nonexistent.json" in p.err, (p.returncode, p.err)


@R.test
def memkv_bench_no_server(ctx):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]  # bound, not listening: connections are refused
    try:
        p = mkb("-p", port, "-c", 2, "-d", 1, "--json", tmp("none.json"), "--hlog",
                tmp("none.hlog"), timeout=20)
    finally:
        s.close()
    if p is None:
        return
    expect_eq(p.returncode, 1, "exit status with no server (stderr %r)" % p.err)
    assert "no server answers" in p.err and "refused" in p.err, p.err
    expect_eq(p.out, "", "no result table when nothing answered")
    assert not os.path.exists(tmp("none.json")), "a JSON file of a run that never ran"
    assert not os.path.exists(tmp("none.hlog")), "an .hlog file of a run that never ran"


@R.test
def memkv_bench_unwritable_output(ctx):
    port = ctx["srv"].port
    with RespConn(port) as c:
        before = c.call("DBSIZE")
    os.makedirs(tmp("adir"), exist_ok=True)
    for opt, path in (("--json", "/nonexistent-dir/x.json"), ("--csv", tmp("adir")),
                      ("--hlog", "/nonexistent-dir/x.hlog"), ("--hgrm", "/nonexistent-dir/x"),
                      ("--svg-time", "/nonexistent-dir/t.svg")):
        p = mkb("-p", port, "-c", 2, "-d", 30, "--ratio", "1:0:0", "--keys", 1000000,
                "--key-prefix", "unwritable:", opt, path, timeout=10)
        if p is None:
            return
        expect_eq(p.returncode, 2, "%s %s: exit status (stderr %r)" % (opt, path, p.err))
        assert opt in p.err and ("cannot write" in p.err or "directory" in p.err), p.err
        assert p.secs < 5, "%s: %.1f s: the run happened before the check" % (opt, p.secs)
        expect_eq(p.out, "", "%s: no run, no table" % opt)
    with RespConn(port) as c:
        expect_eq(c.call("DBSIZE"), before, "no SET was sent")


COMPARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                       "compare.sh")
NUM = r"([0-9]+(?:\.[0-9]+)?)"


@R.test
def compare_sh_ttl_scorecard(ctx):
    """compare.sh --only ttl, 2000 keys, 0.5 s runs (~5 s): three servers of
    its own (mem-kv with and without EX, Redis), one table row per figure."""
    if MKB is None or is_real_redis(args):
        print("  SKIP: needs mem-kv-server and mem-kv-bench")
        return
    p = subprocess.run([COMPARE, "--memkv", args.server, "--bench", MKB, "--only", "ttl",
                        "--ttl-keys", "2000", "--ttl-rates", "500", "--rounds", "1",
                        "--ttl-duration", "0.5"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and "failed" not in p.stderr, (p.returncode, p.stderr, p.stdout)
    assert "### Issue 14 scorecard" in p.stdout and "| workload |" not in p.stdout, p.stdout
    assert "2000 keys (16-byte keys, 32-byte values) set with EX 86400" in p.stdout, p.stdout
    m = re.search(r"^\| idle CPU, %% of a core \| %s \| %s \| %s \| .* \| <= 1 %% of a core \| "
                  r"(\*\*yes\*\*|no) \|$" % (NUM, NUM, NUM), p.stdout, re.M)
    assert m, p.stdout
    m = re.search(r"^\| GET at 500 req/s: achieved req/s \| %s \| %s \| %s \|" % (NUM, NUM, NUM),
                  p.stdout, re.M)
    assert m and all(float(x) > 0 for x in m.groups()), p.stdout
    for pct in ("p50", "p99", "p99.9"):
        m = re.search(r"^\| GET at 500 req/s: %s \| %s \| %s \| %s \| %s \| %s \|"
                      % (re.escape(pct), NUM, NUM, NUM, NUM, NUM), p.stdout, re.M)
        assert m, (pct, p.stdout)
        ttl, plain, redis, r1, r2 = (float(x) for x in m.groups())
        assert ttl > 0 and plain > 0 and redis > 0, m.group(0)
        # ratios as printed: 2 decimals (3 below 0.1)
        for shown, exact in ((r1, ttl / redis), (r2, ttl / plain)):
            assert abs(shown - exact) <= 0.006 + 0.005 * exact, (m.group(0), exact)
    assert re.search(r"^\| GET at 500 req/s: p99 \|.*\| <= 1.00x Redis, <= 1.20x no TTL \| "
                     r"(\*\*yes\*\*|no) \|$", p.stdout, re.M), p.stdout
    p = subprocess.run([COMPARE, "--memkv", args.server, "--bench", MKB, "--only", "ttl,nosuch"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    expect_eq(p.returncode, 2, "exit status for an unknown id (stderr %r)" % p.stderr)
    assert "unknown workload id nosuch" in p.stderr, p.stderr


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
