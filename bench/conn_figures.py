#!/usr/bin/python3
"""Many connections: memory per idle connection and the latency of the
active ones, mem-kv against Redis in the same run (issue 7, "Connection
load").

For each server: start it (persistence off), load the key space, run
mem-kv-bench with 50 connections in open loop (RATE requests/s, 90 % GET)
as the baseline; then open N idle connections (each sends one PING and
reads the PONG, so the server has accepted and set it up), measure the
server's RSS before and after them, and run the same 50-connection load
again while the N idle ones stay open.

Usage: bench/conn_figures.py [--conns 10000] [--rate 20000] [--secs 5]
           [--memkv build/mem-kv-server] [--bench build/mem-kv-bench]
           [--redis redis-server] [--memkv-args "..."]
Raises this process's open-file limit to the hard limit; both servers raise
theirs (mem-kv to fit --maxclients, which is set to conns + 100).
"""
import argparse
import json
import os
import resource
import selectors
import shlex
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, rss, wait_ping  # noqa: E402


def open_idle(port, n):
    """n connections that have each had one PING answered."""
    socks, sel = [], selectors.DefaultSelector()
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        if i % 500 == 499:
            time.sleep(0.01)  # let the accept queue drain (somaxconn)
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    pending, deadline = set(socks), time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(1):
            s = key.fileobj
            if key.events == selectors.EVENT_WRITE:
                s.send(b"*1\r\n$4\r\nPING\r\n")
                sel.modify(s, selectors.EVENT_READ)
            else:
                data = s.recv(64)
                if not data.startswith(b"+PONG"):
                    raise SystemExit("an idle connection got %r" % data)
                sel.unregister(s)
                pending.discard(s)
    if pending:
        raise SystemExit("%d of %d connections never answered" % (len(pending), n))
    return socks


def load(bench, port, rate, secs, out):
    subprocess.run([bench, "-p", str(port), "-q", "-t", "1", "-c", "50", "-R", str(rate),
                    "-d", str(secs), "--keys", "100000", "-v", "32", "-r", "1:9:0",
                    "--json", out], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        j = json.load(f)
    lat = j["commands"]["GET"]["latency_ms"]
    return lat["p50"], lat["p99"], lat["p99.9"]


def measure(name, cmd, a, tmp):
    port = free_port()
    proc = subprocess.Popen(cmd + ["--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_ping(port)
        subprocess.run([a.bench, "-p", str(port), "-q", "--load", "--keys", "100000", "-v", "32",
                        "-c", "1", "-n", "1"], check=True, stdout=subprocess.DEVNULL)
        base = load(a.bench, port, a.rate, a.secs, os.path.join(tmp, name + "-base.json"))
        r0 = rss(proc.pid)
        t0 = time.monotonic()
        socks = open_idle(port, a.conns)
        opened = time.monotonic() - t0
        time.sleep(0.5)
        r1 = rss(proc.pid)
        busy = load(a.bench, port, a.rate, a.secs, os.path.join(tmp, name + "-idle.json"))
        for s in socks:
            s.close()
        return {"base": base, "busy": busy, "per_conn": (r1 - r0) / a.conns,
                "rss0": r0, "rss1": r1, "open_s": opened}
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--memkv", default="build/mem-kv-server")
    ap.add_argument("--bench", default="build/mem-kv-bench")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--memkv-args", default="")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.conns + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise SystemExit("the open-file hard limit is %d; %d connections need %d" % (
                hard, a.conns, need))
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    maxc = str(a.conns + 100)
    memkv = [a.memkv, "--persistence", "off", "--maxclients", maxc] + shlex.split(a.memkv_args)
    redis = [a.redis, "--save", "", "--appendonly", "no", "--maxclients", maxc]
    with tempfile.TemporaryDirectory() as tmp:
        res = {"mem-kv": measure("memkv", memkv, a, tmp), "Redis": measure("redis", redis, a, tmp)}
    print("# %s, %d CPUs, %d idle connections, 50 active in open loop at %d req/s (90 %% GET), "
          "%d s; mem-kv %s" % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), os.cpu_count(),
                               a.conns, a.rate, a.secs, " ".join(memkv[1:])))
    print("| server | RSS before | RSS with idle | bytes per idle connection | GET p50 / p99 / "
          "p99.9 ms, 50 connections | same with the idle ones open | opened in |")
    print("| --- | ---: | ---: | ---: | --- | --- | ---: |")
    for name, r in res.items():
        print("| %s | %.1f MB | %.1f MB | %.0f | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.1f s |"
              % ((name, r["rss0"] / 1e6, r["rss1"] / 1e6, r["per_conn"]) + r["base"] + r["busy"]
                 + (r["open_s"],)))
    return 0


sys.exit(main())
