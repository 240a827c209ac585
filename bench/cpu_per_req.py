#!/usr/bin/python3
"""CPU time per request, server and load generator, mem-kv against Redis.

Throughput on a 2-CPU machine with the load generator on the same CPUs says
little about which server is cheaper: both may be capped by the client, and
noise from other processes moves it by 30 %. This measures instead what each
request costs: the server's user+system CPU time (all its threads, from
/proc/PID/stat) and redis-benchmark's (getrusage of the child), divided by
the number of requests. Those figures include the kernel's network work,
which callgrind (bench/callgrind.sh) leaves out, and vary much less with
machine load than requests per second do.

Usage: bench/cpu_per_req.py [--memkv build/mem-kv-server] [--redis redis-server]
                            [--memkv-args "--threads 1"] [--rounds 3] [--values]
                            [--only set1,get1,...] [--scale 0.25] [--json FILE]
                            [--base OLD-mem-kv-server]
Prints a markdown table: us of server CPU and of client CPU per request
(medians of the rounds), the throughput and the closed-loop p99 that
redis-benchmark saw. Both servers run at once and every round alternates
which of them goes first. Workload ids: set1, get1, set16, get16, mget10,
mget10p16 (`--only` picks some); `--scale` multiplies every request count
(0.25: a quick run); `--json FILE` also writes every round's figures and
the medians there (bench/compare.sh reads it). `--base BIN` also runs a
second mem-kv binary (the build before a change) in the same rounds,
alternated with the other two, and adds its server CPU per request and the
ratio mem-kv / base: a before/after figure that the machine's load moves
less than two separate runs.

--values: large values instead (issue 20): SET and GET of 4 KB, 16 KB,
256 KB and 1 MB values and MGET of 10 x 16 KB, 20 clients, pipeline 1;
then, at 16 KB, the other commands that store a big argument (MSET of 10,
HSET, SETNX, SET NX, SETRANGE at 0, SET XX GET, and APPENDs of 1 KB that
grow values through 16 KB: VALUES_MORE).
Each round starts both servers afresh, alternating which goes first, and
FLUSHALLs between sizes (at most 64 MB of values per size). The table gives
the medians and ranges of server CPU per request and of throughput, and the
ratios mem-kv / Redis (the targets: CPU <= 0.8x, throughput >= 1.25x).
With --base BIN, a third server (the mem-kv build before a change) joins
the rotation and a second table gives mem-kv / base.
"""
import argparse
import os
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, cpu_seconds, wait_ping, write_json  # noqa: E402

KEYS = 100000
MGET10 = ["MGET"] + ["key:__rand_int__"] * 10
# id, label, redis-benchmark arguments, requests
WORKLOADS = [
    ("set1", "SET, pipeline 1", ["-t", "set", "-P", "1"], 200000),
    ("get1", "GET, pipeline 1", ["-t", "get", "-P", "1"], 200000),
    ("set16", "SET, pipeline 16", ["-t", "set", "-P", "16"], 1000000),
    ("get16", "GET, pipeline 16", ["-t", "get", "-P", "16"], 1000000),
    ("mget10", "MGET of 10 keys, pipeline 1", MGET10, 100000),
    ("mget10p16", "MGET of 10 keys, pipeline 16", ["-P", "16"] + MGET10, 300000),
]


def start(cmd):
    port = free_port()
    proc = subprocess.Popen(cmd + ["--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_ping(port)
    return proc, port


def bench(port, extra, n, with_p99=False):
    """Runs redis-benchmark; returns (client CPU s, requests/s), and the
    closed-loop p99 in ms as a third value if with_p99."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n),
                          "-r", str(KEYS), "--csv"] + extra,
                         capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rps, p99 = 0.0, 0.0
    rows = [line.split('","') for line in out.splitlines() if line.startswith('"')]
    if len(rows) >= 2:  # header, then one row: test, rps, avg, min, p50, p95, p99, max
        row = dict(zip([h.strip('"') for h in rows[0]], [v.strip('"') for v in rows[-1]]))
        rps = float(row.get("rps", 0))
        p99 = float(row.get("p99_latency_ms", 0))
    return (client, rps, p99) if with_p99 else (client, rps)


# --values: (id, label, value bytes, keys, requests); 64 MB of values a size
VALUES = [
    ("4k", "4 KB", 4096, 16384, 40000),
    ("16k", "16 KB", 16384, 4096, 30000),
    ("256k", "256 KB", 262144, 256, 4000),
    ("1m", "1 MB", 1048576, 64, 1000),
]
MGET16K = ["MGET"] + ["key:__rand_int__"] * 10
V16K = "v" * 16384


def _sized(op, args, n, keys=4096):
    return (op, args, n, keys)


# --values: the other commands that store a 16 KB argument (issue 20, the
# paths that keep the parser's buffer as the value): (id, redis-benchmark
# arguments, requests, key range). SETNX and SET NX get fresh keys (a
# range of 10^8: 48 MB for 3000 requests); APPEND adds 1 KB to 64 keys,
# which grow through 16 KB to about 120 KB; SETRANGE and SET XX GET
# overwrite the 16 KB values MSET left.
VALUES_MORE = [
    _sized("MSET10", ["MSET"] + ["key:__rand_int__", V16K] * 10, 3000),
    _sized("HSET", ["HSET", "hash:__rand_int__", "field", V16K], 30000),
    _sized("SETNX", ["SETNX", "new:__rand_int__", V16K], 3000, 100000000),
    _sized("SETNX_OPT", ["SET", "nx:__rand_int__", V16K, "NX"], 3000, 100000000),
    _sized("SETRANGE0", ["SETRANGE", "key:__rand_int__", "0", V16K], 30000),
    _sized("SETXXGET", ["SET", "key:__rand_int__", V16K, "XX", "GET"], 30000),
    _sized("APPEND1K", ["APPEND", "app:__rand_int__", "a" * 1024], 8000, 64),
]
MORE_LABEL = {"MSET10": "MSET 10 keys", "HSET": "HSET", "SETNX": "SETNX",
              "SETNX_OPT": "SET NX", "SETRANGE0": "SETRANGE 0", "SETXXGET": "SET XX GET",
              "APPEND1K": "APPEND 1 KB x 8000 to 64 keys"}


def command(port, *args):
    """Sends one RESP command; returns the first reply bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        msg = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            msg += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(msg)
        return s.recv(4096)


def values_round(cmd, sizes):
    """One round of --values on a fresh server: {(op, size id): (us/req, rps)}
    for the size ids in sizes (all if empty)."""
    proc, port = start(cmd)
    res = {}
    try:
        for sid, _, size, keys, n in VALUES:
            if sizes and sid not in sizes:
                continue
            command(port, "FLUSHALL")
            runs = [("SET", ["-t", "set"], n), ("GET", ["-t", "get"], n)]
            if sid == "16k":
                runs.append(("MGET10", MGET16K, n // 10))
                runs += [(op, extra, cnt, rkeys) for op, extra, cnt, rkeys in VALUES_MORE]
            for run in runs:
                op, extra, cnt = run[:3]
                rkeys = run[3] if len(run) > 3 else keys
                s0 = cpu_seconds(proc.pid)
                _, rps = bench(port, ["-c", "20", "-P", "1", "-d", str(size), "-r", str(rkeys)]
                               + extra, cnt)
                res[(op, sid)] = ((cpu_seconds(proc.pid) - s0) * 1e6 / cnt, rps)
        return res
    finally:
        proc.terminate()
        proc.wait()


def values_main(memkv, redis, rounds, sizes, base=None):
    runs = {"m": [], "r": []}
    order = [("m", memkv), ("r", redis)]
    if base:
        runs["b"] = []
        order.append(("b", base))
    for i in range(rounds):
        k = i % len(order)
        for who, cmd in order[k:] + order[:k]:
            runs[who].append(values_round(cmd, sizes))
    print("# %s, %d CPUs, mem-kv %s, %d rounds (servers alternated), 20 clients, pipeline 1; "
          "medians [min-max]" % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), os.cpu_count(),
                                 " ".join(memkv[1:]), rounds))
    print("| command | value | mem-kv us/req | Redis us/req | CPU ratio | "
          "mem-kv req/s | Redis req/s | throughput ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    keys = [k for k in runs["m"][0]]
    label = {sid: lab for sid, lab, _, _, _ in VALUES}
    label["16k"] = "16 KB"

    def rng(xs, fmt):
        return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(xs), min(xs), max(xs))

    for op, sid in keys:
        mc = [r[(op, sid)][0] for r in runs["m"]]
        rc = [r[(op, sid)][0] for r in runs["r"]]
        mt = [r[(op, sid)][1] for r in runs["m"]]
        rt = [r[(op, sid)][1] for r in runs["r"]]
        print("| %s | %s | %s | %s | %.2f | %s | %s | %.2f |" % (
            "MGET 10 keys" if op == "MGET10" else MORE_LABEL.get(op, op), label[sid], rng(mc, "%.1f"), rng(rc, "%.1f"),
            statistics.median(mc) / statistics.median(rc), rng(mt, "%.0f"), rng(rt, "%.0f"),
            statistics.median(mt) / max(statistics.median(rt), 1)))
    if base:
        print("\nbase %s, same rounds (CPU ratio: mem-kv / base):" % base[0])
        print("| command | value | mem-kv us/req | base us/req | mem-kv / base | base / Redis |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for op, sid in keys:
            mc = [r[(op, sid)][0] for r in runs["m"]]
            bc = [r[(op, sid)][0] for r in runs["b"]]
            rc = [r[(op, sid)][0] for r in runs["r"]]
            print("| %s | %s | %s | %s | %.2f | %.2f |" % (
                "MGET 10 keys" if op == "MGET10" else MORE_LABEL.get(op, op), label[sid],
                rng(mc, "%.1f"), rng(bc, "%.1f"), statistics.median(mc) / statistics.median(bc),
                statistics.median(bc) / statistics.median(rc)))
    return 0


def measure(servers, rounds, workloads, scale):
    """servers: {who: command}. All up at once; every round of every
    workload runs on each, the order rotating, so that a change in the
    machine's load hits all alike. Returns (medians, raw): medians is {who: {workload:
    (server us/req, client us/req, req/s, p99 ms)}}, raw the same with a
    list of every round's tuple in place of each tuple."""
    procs = {who: start(cmd) for who, cmd in servers.items()}
    try:
        for who in procs:
            bench(procs[who][1], ["-t", "set", "-P", "16"], KEYS * 2)  # load the keys
        raw = {who: {w[0]: [] for w in workloads} for who in procs}
        for wid, _, extra, n in workloads:
            n = max(1000, int(n * scale))
            order = list(procs)
            for i in range(rounds):
                k = i % len(order)
                for who in order[k:] + order[:k]:
                    proc, port = procs[who]
                    s0 = cpu_seconds(proc.pid)
                    c, rps, p99 = bench(port, extra, n, with_p99=True)
                    raw[who][wid].append(((cpu_seconds(proc.pid) - s0) * 1e6 / n, c * 1e6 / n,
                                          rps, p99))
        med = {who: {wid: tuple(statistics.median(x[k] for x in runs) for k in range(4))
                     for wid, runs in per.items()} for who, per in raw.items()}
        return med, raw
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memkv", default="build/mem-kv-server")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--memkv-args", default="")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--values", action="store_true",
                    help="large values: 4 KB to 1 MB, 20 clients, pipeline 1")
    ap.add_argument("--only", default="",
                    help="comma-separated workload ids (%s); with --values, size ids (%s)" % (
                        ",".join(w[0] for w in WORKLOADS), ",".join(v[0] for v in VALUES)))
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every workload's request count (e.g. 0.25)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--base", metavar="BIN",
                    help="a second mem-kv-server (before a change), measured in the same rounds")
    a = ap.parse_args()
    memkv = [a.memkv, "--persistence", "off"] + shlex.split(a.memkv_args)
    redis = [a.redis, "--save", "", "--appendonly", "no"]
    if a.values:
        sizes = [x for x in a.only.split(",") if x]
        if any(x not in [v[0] for v in VALUES] for x in sizes):
            ap.error("--values --only takes size ids: %s" % ",".join(v[0] for v in VALUES))
        return values_main(memkv, redis, a.rounds, sizes,
                           [a.base] + memkv[1:] if a.base else None)
    only = [x for x in a.only.split(",") if x]
    unknown = [x for x in only if x not in [w[0] for w in WORKLOADS]]
    if unknown or a.rounds < 1 or a.scale <= 0:
        ap.error("unknown workload id %s" % ",".join(unknown) if unknown
                 else "--rounds and --scale must be positive")
    workloads = [w for w in WORKLOADS if not only or w[0] in only]
    stamp = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
    servers = {"m": memkv, "r": redis}
    if a.base:
        servers["b"] = [a.base] + memkv[1:]
    res, raw = measure(servers, a.rounds, workloads, a.scale)
    m, r = res["m"], res["r"]
    print("# %s, %d CPUs, mem-kv %s, %d rounds (servers alternated), 50 clients, %d keys; "
          "medians" % (stamp, os.cpu_count(), " ".join(memkv[1:]) or "defaults", a.rounds, KEYS))
    print("| workload | mem-kv server us/req | Redis server us/req | ratio | "
          "client us/req (mem-kv / Redis) | mem-kv req/s | Redis req/s | "
          "p99 ms (mem-kv / Redis) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for wid, label, _, _ in workloads:
        ms, mc, mr, mp = m[wid]
        rs, rc, rr, rp = r[wid]
        print("| %s | %.2f | %.2f | %.2f | %.2f / %.2f | %.0f | %.0f | %.2f / %.2f |" % (
            label, ms, rs, ms / rs, mc, rc, mr, rr, mp, rp))
    if a.base:
        print("\nbase %s, same rounds:" % a.base)
        print("| workload | mem-kv server us/req | base server us/req | mem-kv / base | "
              "base / Redis | rounds mem-kv | rounds base |")
        print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
        for wid, label, _, _ in workloads:
            ms, bs, rs = m[wid][0], res["b"][wid][0], r[wid][0]
            print("| %s | %.3f | %.3f | %.3f | %.2f | %s | %s |" % (
                label, ms, bs, ms / bs, bs / rs,
                " ".join("%.3f" % x[0] for x in raw["m"][wid]),
                " ".join("%.3f" % x[0] for x in raw["b"][wid])))
    if a.json:
        names = ("server_us", "client_us", "rps", "p99_ms")
        out = {"date": stamp, "cpus": os.cpu_count(), "memkv": memkv, "redis": redis,
               "rounds": a.rounds, "clients": 50, "keys": KEYS, "workloads": []}
        for wid, label, _, n in workloads:
            w = {"id": wid, "label": label, "requests": max(1000, int(n * a.scale))}
            for who, name in (("m", "memkv"), ("r", "redis")):
                w[name] = dict(zip(names, res[who][wid]))
                w[name]["rounds"] = [dict(zip(names, x)) for x in raw[who][wid]]
            out["workloads"].append(w)
        write_json(a.json, out)
    return 0


sys.exit(main())
