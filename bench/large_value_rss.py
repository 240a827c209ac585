#!/usr/bin/python3
"""Memory of large values, mem-kv against Redis in the same run (issue 20, item 3).

Usage: bench/large_value_rss.py [--memkv build/mem-kv-server] [--redis redis-server]
                                [--total-mb 64] [--limit-mb 32]

1. Per stored value: a fresh server per size (16 KB, 20 KB, 64 KB, 256 KB,
   1 MB), --total-mb of distinct values SET 8 per pipeline, then the growth
   of RSS (/proc/PID/status VmRSS) and of INFO used_memory divided by the
   bytes of the values (1.000x = no overhead).
2. Eviction: --maxmemory LIMIT --maxmemory-policy allkeys-lru, three times
   the limit written with 16 KB, 256 KB and 1 MB values; the RSS at the end
   and its peak against the limit, used_memory and the keys left.
mem-kv runs with --persistence off, Redis with --save '' --appendonly no.
"""
import argparse
import os
import socket
import subprocess
import time

import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, rss  # noqa: E402


def enc(*args):
    m = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        m += b"$%d\r\n%s\r\n" % (len(a), a)
    return m


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise SystemExit("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        if line[:1] != b"$":
            return line
        n = int(line[1:])
        if n < 0:
            return None
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(1 << 20)
        v, self.buf = self.buf[:n], self.buf[n + 2:]
        return v

    def call(self, *args):
        self.s.sendall(enc(*args))
        return self.reply()

    def set_many(self, base, first, count):
        """SETs v:first.. v:first+count-1 to distinct values made from base."""
        self.s.sendall(b"".join(enc("SET", "v:%d" % j, base[:-8] + b"%08d" % j)
                                for j in range(first, first + count)))
        for _ in range(count):
            r = self.reply()
            assert r == b"+OK", r


def used_memory(c):
    for line in c.call("INFO", "memory").decode().split("\r\n"):
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return 0


def start(cmd):
    port = free_port()
    p = subprocess.Popen(cmd + ["--port", str(port), "--bind", "127.0.0.1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            c = Conn(port)
            c.call("PING")
            return p, c
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not answer PING")


def per_value(cmd, size, total):
    p, c = start(cmd)
    try:
        time.sleep(0.3)
        r0, u0 = rss(p.pid), used_memory(c)
        n = total // size
        base = os.urandom(size)
        for i in range(0, n, 8):
            c.set_many(base, i, min(8, n - i))
        time.sleep(0.5)
        return n, (rss(p.pid) - r0) / n / size, (used_memory(c) - u0) / n / size
    finally:
        p.terminate()
        p.wait()


def evict(cmd, size, limit):
    p, c = start(cmd + ["--maxmemory", str(limit), "--maxmemory-policy", "allkeys-lru"])
    try:
        n = 3 * limit // size
        base = os.urandom(size)
        peak = 0
        for i in range(0, n, 4):
            c.set_many(base, i, min(4, n - i))
            peak = max(peak, rss(p.pid))
        time.sleep(0.5)
        return rss(p.pid), peak, used_memory(c), c.call("DBSIZE").decode().lstrip(":")
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memkv", default="build/mem-kv-server")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--total-mb", type=int, default=64)
    ap.add_argument("--limit-mb", type=int, default=32)
    a = ap.parse_args()
    servers = [("mem-kv", [a.memkv, "--persistence", "off"]),
               ("Redis", [a.redis, "--save", "", "--appendonly", "no"])]
    total, limit = a.total_mb << 20, a.limit_mb << 20
    print("| value | keys | mem-kv RSS/value | Redis RSS/value "
          "| mem-kv used_memory/value | Redis used_memory/value |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for size in [16384, 20480, 65536, 262144, 1 << 20]:
        n, mr, mu = per_value(servers[0][1], size, total)
        _, rr, ru = per_value(servers[1][1], size, total)
        print("| %d B | %d | %.3fx | %.3fx | %.3fx | %.3fx |" % (size, n, mr, rr, mu, ru))
    print()
    print("| value | server | RSS at the end, MB (peak) | RSS / limit | used_memory, MB | keys left |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for size in [16384, 262144, 1 << 20]:
        for name, cmd in servers:
            r, peak, u, keys = evict(cmd, size, limit)
            print("| %d B | %s | %.1f (%.1f) | %.2f | %.1f | %s |" %
                  (size, name, r / 2**20, peak / 2**20, r / limit, u / 2**20, keys))


if __name__ == "__main__":
    main()
