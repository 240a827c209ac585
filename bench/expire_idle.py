#!/usr/bin/python3
"""Idle cost of keys with a TTL (issue 14): servers holding N keys set with
`SET key v EX 86400` (16-byte keys, 32-byte values), nothing due.

For each server, in one run: start it on a free loopback port, fill it with
`redis-cli --pipe`, let it settle, then
  1. CPU of the idle server: utime+stime from /proc/PID/stat over --idle
     seconds, as a percentage of one core (all the servers idle together:
     each one's own CPU time is counted);
  2. open-loop GET latency: mem-kv-bench at --rate requests/s over the same
     keys (uniform; every GET a hit), one server at a time, --rounds rounds
     alternating between servers; p50/p99/p99.9/max of each round, and the
     time the server's threads waited for a CPU meanwhile (schedstat
     run_delay: on a shared machine, the part of the tail that is not the
     server's doing).

Usage:
  bench/expire_idle.py --server mem-kv=build/mem-kv-server \\
                       --server redis=/usr/bin/redis-server [--keys 1000000]
                       [--server plain=build/mem-kv-server --no-ttl plain]
                       [--rate 2000,20000] [--json FILE] [--bench PATH]
A mem-kv server runs with --persistence off and a Redis one with no
save/appendonly unless the command line after '=' has more arguments.
`--no-ttl LABEL`: that server's keys are set without EX (the baseline the
TTL figures are compared with). `--rate` takes one rate or several, comma-
separated: every round runs each rate on each server, the servers' order
reversed every other round. Prints markdown tables; `--json FILE` also
writes every round's figures and the medians there (bench/compare.sh reads
it).
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, cpu_seconds, loadavg, wait_ping, write_json  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def run_delay_ms(pid):
    """Time the process's threads spent runnable but waiting for a CPU
    (/proc/PID/task/*/schedstat, second field): what a loaded machine adds."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[1])
        except OSError:
            pass
    return total / 1e6


def start(cmdline, tmp):
    argv = shlex.split(cmdline)
    port = free_port()
    if os.path.basename(argv[0]) == "redis-server":
        if len(argv) == 1:
            argv += ["--save", "", "--appendonly", "no"]
        argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", tmp]
    else:
        if len(argv) == 1:
            argv += ["--persistence", "off"]
        argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", os.path.join(tmp, "data")]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(port)
    return proc, port


def write_fill(path, n, ttl):
    """SET key:%012d <32 bytes> [EX ttl] (no EX when ttl is 0)."""
    tail = b"$2\r\nEX\r\n$%d\r\n%d\r\n" % (len(str(ttl)), ttl) if ttl else b""
    head = b"*5\r\n$3\r\nSET\r\n" if ttl else b"*3\r\n$3\r\nSET\r\n"
    with open(path, "wb") as out:
        for i in range(n):
            out.write(head + b"$16\r\nkey:%012d\r\n$32\r\n%s\r\n" % (i, b"v" * 32) + tail)


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), check=True,
                          capture_output=True, text=True).stdout


def info_field(port, section, name):
    for line in cli(port, "INFO", section).splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def open_loop(port, a, rate, tmp):
    """One open-loop GET run at rate req/s; returns {p50, p99, p99.9, max}
    in ms and the achieved rps."""
    out = os.path.join(tmp, "run.json")
    # keys: the prefix plus the index padded to 6 digits = key:%012d
    subprocess.run([a.bench, "-p", str(port), "-t", "1", "-c", str(a.clients), "--rate",
                    str(rate), "-r", "0:1:0", "-k", str(a.keys), "--key-prefix",
                    "key:" + "0" * (12 - len(str(a.keys - 1))), "-d", str(a.duration),
                    "-w", str(a.warmup), "-q", "--json", out], check=True,
                   stdout=subprocess.DEVNULL)
    with open(out) as f:
        j = json.load(f)
    get = j["commands"]["GET"]
    if j["errors"] or get["misses"]:
        raise SystemExit("open-loop run: %d errors, %d misses" % (j["errors"], get["misses"]))
    res = {k: get["latency_ms"][k] for k in ("p50", "p99", "p99.9", "max")}
    res["rps"] = j["throughput_rps"]
    return res


def fill(port, label, path, a):
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f, check=True,
                       stdout=subprocess.DEVNULL)
    keys = int(cli(port, "DBSIZE"))
    if keys != a.keys:
        raise SystemExit("%s holds %d keys, not %d" % (label, keys, a.keys))


def idle_cpu(servers, a):
    """Every server idle together for a.idle s: {label: (% of a core,
    expire_cycle_cpu_milliseconds over it or None)}."""
    c0 = {s["label"]: cpu_seconds(s["proc"].pid) for s in servers}
    ms0 = {s["label"]: info_field(s["port"], "stats", "expire_cycle_cpu_milliseconds")
           for s in servers}
    time.sleep(a.idle)
    res = {}
    for s in servers:
        lab = s["label"]
        pct = 100.0 * (cpu_seconds(s["proc"].pid) - c0[lab]) / a.idle
        ms1 = info_field(s["port"], "stats", "expire_cycle_cpu_milliseconds")
        res[lab] = (pct, int(ms1) - int(ms0[lab]) if ms0[lab] is not None else None)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", required=True, help="LABEL=COMMAND")
    ap.add_argument("--no-ttl", action="append", default=[], metavar="LABEL",
                    help="fill this server without EX")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--ttl", type=int, default=86400, help="EX of every key; 0: none")
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--rate", default="2000", help="req/s, or several: 2000,20000")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "build", "mem-kv-bench"))
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    a = ap.parse_args()
    try:
        rates = [int(x) for x in a.rate.split(",")]
    except ValueError:
        ap.error("--rate: integers, comma-separated")
    specs = [spec.split("=", 1) for spec in a.server]
    if any(len(x) != 2 for x in specs) or any(x not in [s[0] for s in specs] for x in a.no_ttl):
        ap.error("--server LABEL=COMMAND; --no-ttl names one of those labels")
    servers = []
    stamp = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
    with tempfile.TemporaryDirectory() as tmp:
        fills = {}
        try:
            for label, cmd in specs:
                ttl = 0 if label in a.no_ttl else a.ttl
                if ttl not in fills:
                    fills[ttl] = os.path.join(tmp, "fill%d.resp" % ttl)
                    write_fill(fills[ttl], a.keys, ttl)
                proc, port = start(cmd, tempfile.mkdtemp(dir=tmp))
                servers.append({"label": label, "cmd": cmd, "ttl": ttl, "proc": proc,
                                "port": port, "runs": {r: [] for r in rates}})
                fill(port, label, fills[ttl], a)
            time.sleep(a.settle)
            idle = idle_cpu(servers, a)
            print("| server | keys | EX | idle CPU, %% of a core over %g s | "
                  "expire_cycle_cpu_milliseconds over it |" % a.idle)
            print("| --- | --- | --- | --- | --- |")
            for s in servers:
                pct, ms = idle[s["label"]]
                s["idle_cpu_pct"], s["expire_cycle_ms"] = pct, ms
                print("| %s | %d | %s | %.1f | %s |" % (s["label"], a.keys, s["ttl"] or "none",
                                                        pct, "-" if ms is None else ms))
            print()
            print("| server | round | GET req/s | p50 ms | p99 ms | p99.9 ms | max ms | "
                  "server waited for a CPU, ms | load avg |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for r in range(a.rounds):
                order = servers if r % 2 == 0 else servers[::-1]
                for rate in rates:
                    for s in order:
                        w0 = run_delay_ms(s["proc"].pid)
                        res = open_loop(s["port"], a, rate, tmp)
                        res["waited_ms"] = run_delay_ms(s["proc"].pid) - w0
                        res["load"] = loadavg()
                        s["runs"][rate].append(res)
                        print("| %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %.0f | %.2f |" % (
                            s["label"], r + 1, rate, res["p50"], res["p99"], res["p99.9"],
                            res["max"], res["waited_ms"], res["load"]))
                        sys.stdout.flush()
        finally:
            for s in servers:
                s["proc"].terminate()
                s["proc"].wait()
    if a.json:
        out = {"date": stamp, "cpus": os.cpu_count(), "keys": a.keys, "idle_s": a.idle,
               "clients": a.clients, "duration": a.duration, "warmup": a.warmup,
               "rounds": a.rounds, "rates": rates, "servers": []}
        for s in servers:
            med = {str(rate): {k: statistics.median(x[k] for x in runs)
                               for k in ("p50", "p99", "p99.9", "max", "rps")}
                   for rate, runs in s["runs"].items()}
            out["servers"].append({
                "label": s["label"], "cmd": s["cmd"], "ttl": s["ttl"],
                "idle_cpu_pct": s["idle_cpu_pct"], "expire_cycle_ms": s["expire_cycle_ms"],
                "median": med, "runs": {str(k): v for k, v in s["runs"].items()}})
        write_json(a.json, out)


if __name__ == "__main__":
    main()
