#!/usr/bin/env python3
"""Per-shard WAL size under sustained writes (issue 13, defect 2).

Starts mem-kv-server on a fresh data directory, runs redis-benchmark SETs
against it for --seconds, and samples every shard's live log (the sizes of
its wal-*.log files) five times a second. Prints, per shard, the largest log
seen, its segments and snapshot at the end, and the compactions counted by
INFO; then the figure the bound of docs/persistence.md applies to.

  bench/log_bound.py --server build/mem-kv-server [--seconds 15]
      [--server-args "--shards 4 --maxmemory 32mb --maxmemory-policy allkeys-lru"]
      [--bench-args "-t set -n 5000000 -r 100000000 -d 2000 -P 8 -c 10"]
"""
import argparse
import glob
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402


def shard_sizes(d):
    out = {}
    for sd in sorted(glob.glob(os.path.join(d, "shard-*"))):
        logs = glob.glob(os.path.join(sd, "wal-*.log"))
        snaps = glob.glob(os.path.join(sd, "snap-*"))
        total = 0
        for f in logs:
            try:
                total += os.path.getsize(f)
            except OSError:
                pass
        snap = 0
        for f in snaps:
            try:
                snap = max(snap, os.path.getsize(f))
            except OSError:
                pass
        out[os.path.basename(sd)] = (total, len(logs), snap)
    return out


def info(port, section):
    r = subprocess.run(["redis-cli", "-p", str(port), "info", section],
                       capture_output=True, text=True, timeout=10)
    kv = {}
    for line in r.stdout.splitlines():
        if ":" in line:
            k, v = line.strip().split(":", 1)
            kv[k] = v
    return kv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--server-args",
                    default="--shards 4 --maxmemory 32mb --maxmemory-policy allkeys-lru")
    ap.add_argument("--bench-args", default="-t set -n 5000000 -r 100000000 -d 2000 -P 8 -c 10")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="memkv-logbound-")
    port = free_port()
    srv = subprocess.Popen([a.server, "--port", str(port), "--dir", d]
                           + shlex.split(a.server_args),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        bench = subprocess.Popen(["redis-benchmark", "-p", str(port), "-q"]
                                 + shlex.split(a.bench_args),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = {}
        end = time.time() + a.seconds
        while time.time() < end and bench.poll() is None:
            for sh, (total, _, _) in shard_sizes(d).items():
                peak[sh] = max(peak.get(sh, 0), total)
            time.sleep(0.2)
        bench.kill()
        bench.wait()
        per = info(port, "persistence")
        last = shard_sizes(d)
        print(f"server args: {a.server_args}")
        print(f"load: redis-benchmark {a.bench_args}, {a.seconds:.0f} s")
        print("shard      peak log MB  end log MB  segments  snapshot MB")
        for sh in sorted(last):
            total, nseg, snap = last[sh]
            print(f"{sh:10} {peak.get(sh, 0) / 2**20:11.1f} {total / 2**20:11.1f} {nseg:9} "
                  f"{snap / 2**20:12.1f}")
        print(f"compactions (INFO): {per.get('compactions')}, "
              f"aof_last_write_status: {per.get('aof_last_write_status')}")
        print(f"largest shard log seen: {max(peak.values()) / 2**20:.1f} MB")
    finally:
        srv.terminate()
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
