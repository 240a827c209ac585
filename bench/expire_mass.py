#!/usr/bin/python3
"""Mass expiry: N keys that nobody reads, all due in the same millisecond
(`SET key v PXAT T`, 16-byte keys, 32-byte values); for each server in
turn, the time from the deadline to the moment they are all gone (DBSIZE
back to the live keys), the server's CPU meanwhile, and INFO stats' active
expiry figures (Redis's names).

With --get-rate R (issue 14's "reclaimed without touching them, GET p99
meanwhile <= 2x the quiet figure"): the server also holds --live-keys keys
without a TTL, and mem-kv-bench reads them open-loop at R req/s twice: once
before the deadline (quiet) and once from the deadline on (during the
reclaim); the table gets both p99s and their ratio.

Usage: bench/expire_mass.py [--keys 200000] [--lead-s 15] \\
           [--get-rate 2000 --live-keys 100000 --get-s 4] [--bench PATH] \\
           --server mem-kv=build/mem-kv-server --server redis=/usr/bin/redis-server
Servers start as in bench/expire_idle.py (persistence off). Prints a
markdown table.
"""
import argparse
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

import expire_idle as X

FIELDS = ("expired_stale_perc", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds")


def write_fill(path, prefix, n, pxat_ms):
    """SET <prefix>%012d <32 bytes> [PXAT pxat_ms] (no PXAT when 0)."""
    pxat = str(pxat_ms).encode()
    tail = b"$4\r\nPXAT\r\n$%d\r\n%s\r\n" % (len(pxat), pxat) if pxat_ms else b""
    head = b"*5\r\n$3\r\nSET\r\n" if pxat_ms else b"*3\r\n$3\r\nSET\r\n"
    p = prefix.encode()
    with open(path, "wb") as out:
        for i in range(n):
            out.write(head + b"$%d\r\n%s%012d\r\n$32\r\n%s\r\n" % (len(p) + 12, p, i, b"v" * 32)
                      + tail)


def pipe(port, path):
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f, check=True,
                       stdout=subprocess.DEVNULL)


def open_loop(port, a, tmp):
    """Open-loop GET of the live keys for a.get_s seconds; p99 in ms."""
    out = os.path.join(tmp, "run.json")
    subprocess.run([a.bench, "-p", str(port), "-t", "1", "-c", "10", "--rate", str(a.get_rate),
                    "-r", "0:1:0", "-k", str(a.live_keys), "--key-prefix",
                    "live:" + "0" * (12 - len(str(a.live_keys - 1))), "-d", str(a.get_s),
                    "-w", "0", "-q", "--json", out], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        j = json.load(f)
    get = j["commands"]["GET"]
    if j["errors"] or get["misses"]:
        raise SystemExit("open-loop run: %d errors, %d misses" % (j["errors"], get["misses"]))
    return get["latency_ms"]["p99"]


def dbsize_reader(port):
    """DBSIZE over one kept connection (a redis-cli per poll would cost the
    machine more than the reclaim being measured)."""
    sock = socket.create_connection(("127.0.0.1", port))
    f = sock.makefile("rb")

    def dbsize():
        sock.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
        line = f.readline()
        if not line.startswith(b":"):
            raise SystemExit("DBSIZE: %r" % line)
        return int(line[1:])
    return sock, dbsize


def wait_until(t):
    while time.time() < t:
        time.sleep(min(0.01, max(0.0, t - time.time())))


def one_server(label, cmd, a, tmp):
    proc, port = X.start(cmd, tempfile.mkdtemp(dir=tmp))
    try:
        live = a.live_keys if a.get_rate else 0
        if live:
            path = os.path.join(tmp, "live.resp")
            write_fill(path, "live:", live, 0)
            pipe(port, path)
        deadline = time.time() + a.lead_s
        path = os.path.join(tmp, "mass.resp")
        write_fill(path, "key:", a.keys, int(deadline * 1000))
        t0 = time.monotonic()
        pipe(port, path)
        t_fill = time.monotonic() - t0
        if int(X.cli(port, "DBSIZE")) != live + a.keys:
            raise SystemExit("%s: the fill ended after the deadline (raise --lead-s)" % label)
        quiet = during = None
        if a.get_rate:
            if time.time() + a.get_s + 0.5 > deadline:
                raise SystemExit("%s: no time for the quiet run (raise --lead-s)" % label)
            quiet = open_loop(port, a, tmp)
        sock, dbsize = dbsize_reader(port)
        wait_until(deadline)
        res = {}
        if a.get_rate:
            th = threading.Thread(target=lambda: res.update(p99=open_loop(port, a, tmp)))
            th.start()
        c0, ta = X.cpu_seconds(proc.pid), time.monotonic()
        while dbsize() > live and time.monotonic() - ta < 300:
            time.sleep(0.02)
        tb, c1 = time.monotonic(), X.cpu_seconds(proc.pid)
        sock.close()
        if a.get_rate:
            th.join()
            during = res["p99"]
        st = [X.info_field(port, "stats", k) or "-" for k in FIELDS]
        row = [label, str(a.keys), "%.1f" % t_fill, "%.2f" % (tb - ta), "%.2f" % (c1 - c0)]
        if a.get_rate:
            row += ["%.3f" % quiet, "%.3f" % during, "%.2f" % (during / quiet)]
        print("| %s | %s |" % (" | ".join(row), " | ".join(st)))
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", required=True, help="LABEL=COMMAND")
    ap.add_argument("--keys", type=int, default=200000)
    ap.add_argument("--lead-s", type=float, default=15.0,
                    help="seconds from the start of the fill to the common deadline")
    ap.add_argument("--get-rate", type=int, default=0, help="open-loop GET req/s (0: none)")
    ap.add_argument("--live-keys", type=int, default=100000)
    ap.add_argument("--get-s", type=int, default=4, help="seconds of each open-loop run")
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(X.HERE), "build",
                                                    "mem-kv-bench"))
    a = ap.parse_args()
    head = ["server", "keys", "fill s", "s from the deadline to all reclaimed", "server CPU s"]
    if a.get_rate:
        head += ["GET p99 ms before", "GET p99 ms during", "during / before"]
    head += list(FIELDS)
    print("| %s |" % " | ".join(head))
    print("| --- | %s |" % " | ".join("---:" for _ in head[1:]))
    with tempfile.TemporaryDirectory() as tmp:
        for spec in a.server:
            label, cmd = spec.split("=", 1)
            one_server(label, cmd, a, tmp)


if __name__ == "__main__":
    main()
