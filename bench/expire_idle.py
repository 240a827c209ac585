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
A mem-kv server runs with --persistence off and a Redis one with no
save/appendonly unless the command line after '=' has more arguments.
Prints markdown tables.
"""
import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, cpu_seconds, wait_ping  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "build", "mem-kv-bench")


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


def open_loop(port, a, tmp):
    """One open-loop GET run; returns [p50, p99, p99.9, max] in ms."""
    out = os.path.join(tmp, "run.json")
    # keys: the prefix plus the index padded to 6 digits = key:%012d
    subprocess.run([BENCH, "-p", str(port), "-t", "1", "-c", str(a.clients), "--rate",
                    str(a.rate), "-r", "0:1:0", "-k", str(a.keys), "--key-prefix",
                    "key:" + "0" * (12 - len(str(a.keys - 1))), "-d", str(a.duration),
                    "-w", "2", "-q", "--json", out], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        j = json.load(f)
    get = j["commands"]["GET"]
    if j["errors"] or get["misses"]:
        raise SystemExit("open-loop run: %d errors, %d misses" % (j["errors"], get["misses"]))
    return [get["latency_ms"][k] for k in ("p50", "p99", "p99.9", "max")]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", required=True, help="LABEL=COMMAND")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--ttl", type=int, default=86400, help="EX of every key; 0: none")
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    servers = []
    with tempfile.TemporaryDirectory() as tmp:
        fill = os.path.join(tmp, "fill.resp")
        write_fill(fill, a.keys, a.ttl)
        try:
            for spec in a.server:
                label, cmd = spec.split("=", 1)
                d = tempfile.mkdtemp(dir=tmp)
                proc, port = start(cmd, d)
                with open(fill, "rb") as f:
                    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f, check=True,
                                   stdout=subprocess.DEVNULL)
                keys = int(cli(port, "DBSIZE"))
                if keys != a.keys:
                    raise SystemExit("%s holds %d keys, not %d" % (label, keys, a.keys))
                servers.append((label, proc, port))
            time.sleep(a.settle)
            c0 = {label: cpu_seconds(p.pid) for label, p, _ in servers}
            ms0 = {label: info_field(port, "stats", "expire_cycle_cpu_milliseconds")
                   for label, _, port in servers}
            time.sleep(a.idle)
            c1 = {label: cpu_seconds(p.pid) for label, p, _ in servers}
            ms1 = {label: info_field(port, "stats", "expire_cycle_cpu_milliseconds")
                   for label, _, port in servers}
            print("| server | keys (EX %d) | idle CPU, %% of a core over %.0f s | "
                  "expire_cycle_cpu_milliseconds over it |" % (a.ttl, a.idle))
            print("| --- | --- | --- | --- |")
            for label, _, _ in servers:
                pct = 100.0 * (c1[label] - c0[label]) / a.idle
                ms = ("%d" % (int(ms1[label]) - int(ms0[label]))) if ms0[label] is not None else "-"
                print("| %s | %d | %.1f | %s |" % (label, a.keys, pct, ms))
            print()
            print("| server | round | GET at %d req/s: p50 ms | p99 ms | p99.9 ms | max ms | "
                  "server waited for a CPU, ms | load avg |" % a.rate)
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for r in range(a.rounds):
                for label, proc, port in servers:
                    w0 = run_delay_ms(proc.pid)
                    p50, p99, p999, mx = open_loop(port, a, tmp)
                    wait = run_delay_ms(proc.pid) - w0
                    with open("/proc/loadavg") as f:
                        load = f.read().split()[0]
                    print("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.0f | %s |" % (
                        label, r + 1, p50, p99, p999, mx, wait, load))
                    sys.stdout.flush()
        finally:
            for _, proc, _ in servers:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
