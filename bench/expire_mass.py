#!/usr/bin/python3
"""Mass expiry: N keys set with PX T (16-byte keys, 32-byte values) that
nobody reads; for each server in turn, the time from the last key's
deadline to DBSIZE 0, the server's CPU meanwhile, and INFO stats' active
expiry figures (Redis's names).

Usage: bench/expire_mass.py [--keys 1000000] [--ttl-ms 15000] \\
           --server mem-kv=build/mem-kv-server --server redis=/usr/bin/redis-server
Servers start as in bench/expire_idle.py (persistence off). Prints a
markdown table.
"""
import argparse
import os
import subprocess
import tempfile
import time

import expire_idle as X

FIELDS = ("expired_stale_perc", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds")


def write_fill(path, n, ttl_ms):
    tail = b"$2\r\nPX\r\n$%d\r\n%d\r\n" % (len(str(ttl_ms)), ttl_ms)
    with open(path, "wb") as out:
        for i in range(n):
            out.write(b"*5\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$32\r\n%s\r\n" % (i, b"v" * 32) + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", required=True, help="LABEL=COMMAND")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--ttl-ms", type=int, default=15000)
    a = ap.parse_args()
    print("| server | keys | fill s | s from the last deadline to DBSIZE 0 | server CPU s | %s |"
          % " | ".join(FIELDS))
    print("| --- | ---: | ---: | ---: | ---: | %s |" % " | ".join("---:" for _ in FIELDS))
    with tempfile.TemporaryDirectory() as tmp:
        fill = os.path.join(tmp, "fill.resp")
        write_fill(fill, a.keys, a.ttl_ms)
        for spec in a.server:
            label, cmd = spec.split("=", 1)
            proc, port = X.start(cmd, tempfile.mkdtemp(dir=tmp))
            try:
                t0 = time.monotonic()
                with open(fill, "rb") as f:
                    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f, check=True,
                                   stdout=subprocess.DEVNULL)
                t_fill = time.monotonic() - t0
                while time.monotonic() < t0 + t_fill + a.ttl_ms / 1000.0:
                    time.sleep(0.05)
                c0, ta = X.cpu_seconds(proc.pid), time.monotonic()
                while int(X.cli(port, "DBSIZE")) > 0 and time.monotonic() - ta < 300:
                    time.sleep(0.05)
                tb, c1 = time.monotonic(), X.cpu_seconds(proc.pid)
                st = [X.info_field(port, "stats", k) or "-" for k in FIELDS]
                print("| %s | %d | %.1f | %.2f | %.2f | %s |" % (label, a.keys, t_fill, tb - ta,
                                                               c1 - c0, " | ".join(st)))
            finally:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
