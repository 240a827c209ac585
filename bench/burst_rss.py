#!/usr/bin/python3
"""Burst of big pipelined SETs under --maxmemory (issue 13, items 8 and 9).

N connections (-c) each pipeline P (-P) SETs of D-byte values (-d), n (-n)
in all, against mem-kv (--shards 4 --maxmemory 32mb allkeys-lru, persistence
on unless --persistence off) or, with --redis, a redis-server without
persistence. Counts -OOM replies, samples VmRSS and INFO memory every 50 ms,
and prints -OOM, keys left, the RSS peak against maxmemory, the lowest
per-shard share and the most memory outside the shards.

  bench/burst_rss.py [--server build/mem-kv-server] [--redis] [--persistence off]
"""
import os, faulthandler; faulthandler.dump_traceback_later(int(os.environ.get("FH", "300")), exit=True)
import os, sys, socket, selectors, subprocess, tempfile, threading, time, random, argparse
ap = argparse.ArgumentParser()
ap.add_argument("--server", default="build/mem-kv-server")
ap.add_argument("--redis", action="store_true")
ap.add_argument("--persistence", default="on")
ap.add_argument("--shards", default="4")
ap.add_argument("--maxmemory", default="32mb")
ap.add_argument("-n", type=int, default=3200)
ap.add_argument("-d", type=int, default=300000)
ap.add_argument("-P", type=int, default=8)
ap.add_argument("-c", type=int, default=10)
ap.add_argument("--extra", default="")
ap.add_argument("--timeline", action="store_true")
ap.add_argument("--bench", action="store_true", help="use redis-benchmark instead")
a = ap.parse_args()
port = random.randint(20000, 40000)
d = tempfile.mkdtemp(prefix="burst")
if a.redis:
    cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--maxmemory", a.maxmemory, "--maxmemory-policy", "allkeys-lru", "--dir", d]
else:
    cmd = [a.server, "--port", str(port), "--dir", d, "--shards", a.shards, "--maxmemory", a.maxmemory, "--maxmemory-policy", "allkeys-lru", "--persistence", a.persistence] + a.extra.split()
p = subprocess.Popen(cmd, stdout=open(d + "/log", "w"), stderr=subprocess.STDOUT)
for _ in range(100):
    try: socket.create_connection(("127.0.0.1", port)).close(); break
    except OSError: time.sleep(0.05)
def rss():
    for l in open("/proc/%d/status" % p.pid):
        if l.startswith("VmRSS"): return int(l.split()[1]) * 1024
def info(s):
    s.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
    buf = b""
    while True:
        got = s.recv(65536)
        if not got: raise EOFError(buf[:200])
        buf += got
        if b"\r\n" in buf:
            n = int(buf[1:buf.index(b"\r\n")])
            if len(buf) >= buf.index(b"\r\n") + 2 + n + 2: break
    body = buf[buf.index(b"\r\n")+2:].decode()
    return dict(l.split(":", 1) for l in body.split("\r\n") if ":" in l)
t0 = time.time(); stop = False; peak = [0]; umax = [0]; minshare = [1 << 62]; maxover = [0]
def sampler():
    s = socket.create_connection(("127.0.0.1", port))
    while not stop:
        peak[0] = max(peak[0], rss())
        try:
            f = info(s)
            umax[0] = max(umax[0], int(f["used_memory"]))
            if "memkv_maxmemory_shard_share" in f:
                minshare[0] = min(minshare[0], int(f["memkv_maxmemory_shard_share"]))
                maxover[0] = max(maxover[0], int(f["memkv_mem_outside_shards"]))
            if a.timeline:
                print("t=%.2f rss=%.1f used=%.1f dataset=%.1f outside=%.1f notcounted=%.1f share=%.1f" % (time.time()-t0, rss()/2**20, int(f["used_memory"])/2**20, int(f.get("used_memory_dataset",0))/2**20, int(f.get("memkv_mem_outside_shards",0))/2**20, int(f.get("mem_not_counted_for_evict",0))/2**20, int(f.get("memkv_maxmemory_shard_share",0))/2**20))
        except Exception as e: pass
        time.sleep(0.05)
th = threading.Thread(target=sampler); th.start()
val = b"x" * a.d
t0 = time.time()
if a.bench:
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(a.n), "-r", "100000000", "-d", str(a.d), "-P", str(a.P), "-c", str(a.c), "-q"], capture_output=True, text=True)
    print("bench:", (r.stdout + r.stderr).strip()[-300:].replace("\r", "\n").splitlines()[-2:])
    oom = ok = -1
else:
    per = a.n // a.c
    cnt = {"ok": 0, "oom": 0, "other": 0}
    lock = threading.Lock()
    def worker():
        s = socket.create_connection(("127.0.0.1", port))
        f = s.makefile("rb")
        left = per
        while left > 0:
            k = min(a.P, left); left -= k
            out = b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n" % (random.randrange(100000000), len(val), val) for _ in range(k))
            s.sendall(out)
            for _ in range(k):
                line = f.readline()
                with lock:
                    if line.startswith(b"+OK"): cnt["ok"] += 1
                    elif line.startswith(b"-OOM"): cnt["oom"] += 1
                    else: cnt["other"] += 1; print("reply", line[:100])
        s.close()
    ws = [threading.Thread(target=worker) for _ in range(a.c)]
    for w in ws: w.start()
    for w in ws: w.join()
    ok, oom = cnt["ok"], cnt["oom"]
el = time.time() - t0
time.sleep(0.3)
stop = True; th.join()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n"); keys = s.recv(100).strip()
f = info(s)
mm = int(f.get("maxmemory", 0)) or 32 << 20
print("server=%s persist=%s ok=%d oom=%d keys=%s t=%.1fs rss_peak=%.1fMB (%.2fx) used_max=%.1fMB (%.2fx) min_share=%s max_outside=%.1fMB final_used=%.1fMB" % (
    "redis" if a.redis else a.server, a.persistence, ok, oom, keys.decode(), el, peak[0]/2**20, peak[0]/mm, umax[0]/2**20, umax[0]/mm,
    minshare[0] if minshare[0] < 1<<62 else "-", maxover[0]/2**20, int(f["used_memory"])/2**20))
p.terminate(); p.wait()
subprocess.run(["rm", "-rf", d])
