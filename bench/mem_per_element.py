#!/usr/bin/python3
"""Bytes of used_memory per list element, set member and sorted-set member
(small and big, integer sets too), on a running
server (mem-kv or Redis): python3 bench/mem_per_element.py PORT.
Fills with FLUSHALL between cases; docs/memory.md has the figures."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import RespConn
port = int(sys.argv[1])
def used(c):
    info = c.call("INFO", "memory").decode()
    for l in info.split("\r\n"):
        if l.startswith("used_memory:"): return int(l.split(":")[1])
def fill(c, cmds):
    for i in range(0, len(cmds), 2000): c.pipeline(cmds[i:i+2000])
with RespConn(port, timeout=120) as c:
    res = []
    for name, cmds, n in [
        ("small lists (10k keys x 10 elems of 10 B)", [("RPUSH", "sl:%d" % k) + tuple("e%09d" % j for j in range(10)) for k in range(10000)], 100000),
        ("one big list (1M elems of 10 B)", [("RPUSH", "bl") + tuple("e%09d" % j for j in range(i, i+1000)) for i in range(0, 1000000, 1000)], 1000000),
        ("small sets (10k keys x 10 members of 10 B)", [("SADD", "ss:%d" % k) + tuple("m%09d" % j for j in range(10)) for k in range(10000)], 100000),
        ("small sorted sets (10k keys x 10 members)", [("ZADD", "sz:%d" % k) + tuple(x for j in range(10) for x in (str(j), "m%09d" % j)) for k in range(10000)], 100000),
        ("one big sorted set (200k members of 10 B)", [("ZADD", "bz") + tuple(x for j in range(i, i+1000) for x in (str(j), "m%09d" % j)) for i in range(0, 200000, 1000)], 200000),
        ("sets of integers (1k keys x 500 members)", [("SADD", "is:%d" % k) + tuple(str(k * 1000 + j) for j in range(500)) for k in range(1000)], 500000),
        ("one big set (200k members of 10 B)", [("SADD", "bs") + tuple("m%09d" % j for j in range(i, i+1000)) for i in range(0, 200000, 1000)], 200000),
    ]:
        c.call("FLUSHALL"); time.sleep(0.3)
        base = used(c)
        fill(c, cmds); time.sleep(0.3)
        u = used(c)
        print("%-45s %8.1f B/elem" % (name, (u - base) / n))
