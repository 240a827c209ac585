#!/usr/bin/python3
"""multi_bench.py - MULTI/SET/SET/EXEC throughput, single-shard vs
cross-shard key pairs, against mem-kv and Redis (redis-benchmark cannot
send MULTI). Each connection pipelines --depth transactions per write.

  multi_bench.py --port P [--conns 4] [--depth 32] [--seconds 3] [--pairs same|cross]

Key pairs: for mem-kv, keys are sorted into shards with SCAN (the cursor's
low bits name the shard): `same` uses two keys of one shard, `cross` two
keys of neighbouring shards (different actors whenever there are several).
For Redis both modes are the same single-threaded work.
"""
import argparse
import socket
import threading
import time


def enc(*a):
    out = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(out)


def call(s, *a):
    s.sendall(enc(*a))
    return s.recv(1 << 20)


def shard_keys(port, nshards=16, per=64):
    s = socket.create_connection(("127.0.0.1", port))
    for i in range(4000):
        s.sendall(enc("SET", "mb:%d" % i, "x"))
        s.recv(64)
    out = {}
    for sh in range(nshards):
        s.sendall(enc("SCAN", sh, "COUNT", 100000, "MATCH", "mb:*"))
        data = b""
        s.settimeout(2)
        try:
            while True:
                data += s.recv(1 << 20)
                if data.endswith(b"\r\n") and len(data) > 10:
                    time.sleep(0.02)
                    s.setblocking(False)
                    try:
                        data += s.recv(1 << 20)
                    except BlockingIOError:
                        break
                    finally:
                        s.setblocking(True)
        except socket.timeout:
            pass
        keys = [ln for ln in data.split(b"\r\n") if ln.startswith(b"mb:")]
        out[sh] = keys[:per]
    s.close()
    return out


def worker(port, pairs, depth, seconds, res, idx):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    batch = b"".join(enc("MULTI") + enc("SET", a, "v1") + enc("SET", b, "v2") + enc("EXEC")
                     for a, b in pairs[:depth])
    want = 37 * depth  # +OK, 2 x +QUEUED, *2 +OK +OK
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(batch)
        got = 0
        while got < want:
            got += len(s.recv(1 << 20))
        n += depth
    res[idx] = n
    s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--depth", type=int, default=32)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--pairs", choices=["same", "cross"], default="same")
    a = p.parse_args()
    ks = shard_keys(a.port)
    if all(len(v) < 2 for v in ks.values()):   # Redis: one "shard" answers everything
        ks = {0: [b"mb:%d" % i for i in range(128)]}
    if a.pairs == "same":
        sh = max(ks, key=lambda k: len(ks[k]))
        keys = ks[sh]
        pairs = [(keys[i % len(keys)], keys[(i + 1) % len(keys)]) for i in range(a.depth)]
    else:
        pairs = [(ks[i % 16][i % len(ks[i % 16])], ks[(i + 1) % 16][i % len(ks[(i + 1) % 16])])
                 for i in range(a.depth)] if len(ks) == 16 else \
            [(ks[0][i], ks[0][i + 1]) for i in range(a.depth)]
    res = [0] * a.conns
    th = [threading.Thread(target=worker, args=(a.port, pairs, a.depth, a.seconds, res, i))
          for i in range(a.conns)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    print("%s pairs: %.0f transactions/s" % (a.pairs, sum(res) / a.seconds))


if __name__ == "__main__":
    main()
