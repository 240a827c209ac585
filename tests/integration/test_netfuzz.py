#!/usr/bin/python3
"""Network fuzzer (issue 7): for a bounded time, many connections send
mutated and random RESP, inline and plain-text traffic to a live server
(the ASan+UBSan Debug build under ctest): bad and huge lengths and counts,
NUL bytes, commands split at every byte, pipelines of garbage, disconnects
in the middle of a command, half-closed sockets. Meanwhile a checker
connection writes and reads known values (SET/GET/MGET/HSET/HGET/INCR) and
verifies every reply. At the end every acknowledged value is intact, the
server still answers, and it stops cleanly with no sanitizer report.

Seeded: MEMKV_NETFUZZ_SEED (else the time) is printed, so a failure can be
replayed; MEMKV_NETFUZZ_SECONDS sets the duration (default 30)."""

import os
import random
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, Runner, encode, expect_eq, parse_args  # noqa: E402
from server_opts import start_with  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
SEED = int(os.environ.get("MEMKV_NETFUZZ_SEED", int(time.time())))
SECONDS = float(os.environ.get("MEMKV_NETFUZZ_SECONDS", "30"))
WORKERS = 6

# commands the fuzzers build from: none may stop the server or touch the
# checker's keys wholesale (no SHUTDOWN, FLUSHALL, DEBUG, CONFIG SET)
SAFE = [
    [b"GET", b"fz:K"], [b"SET", b"fz:K", b"V"], [b"MGET", b"fz:K", b"fz:K", b"fz:K"],
    [b"MSET", b"fz:K", b"V", b"fz:K", b"V"], [b"HSET", b"fz:K", b"F", b"V"],
    [b"HGET", b"fz:K", b"F"], [b"HMGET", b"fz:K", b"F", b"F"], [b"HDEL", b"fz:K", b"F"],
    [b"INCR", b"fz:K"], [b"INCRBY", b"fz:K", b"N"], [b"APPEND", b"fz:K", b"V"],
    [b"SETRANGE", b"fz:K", b"N", b"V"], [b"GETRANGE", b"fz:K", b"N", b"N"],
    [b"EXPIRE", b"fz:K", b"N"], [b"TTL", b"fz:K"], [b"EXISTS", b"fz:K"], [b"DEL", b"fz:K"],
    [b"KEYS", b"fz:*"], [b"SCAN", b"N", b"MATCH", b"fz:*"], [b"HRANDFIELD", b"fz:K", b"N"],
    [b"HGETALL", b"fz:K"], [b"PING"], [b"ECHO", b"V"], [b"INFO"], [b"STATS"],
    [b"SET", b"fz:K", b"V", b"EX", b"N"], [b"GETEX", b"fz:K", b"PX", b"N"],
]
NUMBERS = [b"0", b"1", b"-1", b"10", b"-5", b"4294967296", b"9223372036854775807",
           b"-9223372036854775808", b"99999999999999999999", b"1e10", b"", b"0x10", b"nan"]


def fill(rng, tmpl):
    out = []
    for a in tmpl:
        if a == b"fz:K":
            a = b"fz:%d" % rng.randrange(50)
        elif a == b"F":
            a = b"f%d" % rng.randrange(5)
        elif a == b"V":
            a = rng.choice([b"", b"v", bytes(rng.randrange(256) for _ in range(rng.randrange(64))),
                            b"x" * rng.choice([1, 100, 5000])])
        elif a == b"N":
            a = rng.choice(NUMBERS)
        out.append(a)
    return out


def resp(args_):
    return b"*%d\r\n" % len(args_) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args_)


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        if not data:
            break
        k = rng.randrange(7)
        i = rng.randrange(len(data))
        if k == 0:
            data[i] ^= 1 << rng.randrange(8)                          # bit flip
        elif k == 1:
            data[i:i] = rng.choice([b"\x00", b"\r\n", b"*", b"$", b"\n", b"\r"])
        elif k == 2:
            del data[i:i + rng.randrange(1, 8)]                        # cut bytes
        elif k == 3:                                                   # a length goes wild
            j = data.find(b"$", i)
            if j >= 0:
                e = data.find(b"\r\n", j)
                data[j + 1:e if e > j else j + 1] = rng.choice(NUMBERS)
        elif k == 4:
            data[i:i] = rng.choice([b"*2147483648\r\n", b"*-1\r\n", b"*1048577\r\n",
                                    b"$536870913\r\n", b"$-2\r\n", b"*3\r\n$3\r\n"])
        elif k == 5:
            data = data[:i]                                            # truncated
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    return bytes(data)


def one_message(rng):
    k = rng.randrange(8)
    if k == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))   # noise
    if k == 1:   # inline, quotes and escapes included
        parts = fill(rng, rng.choice(SAFE))
        line = b" ".join(rng.choice([p, b'"' + p + b'"', b"'" + p + b"'"]) for p in parts)
        return mutate(rng, line + b"\r\n") if rng.random() < 0.5 else line + b"\r\n"
    if k == 2:   # plain-text protocol line
        return b" ".join(fill(rng, rng.choice(SAFE))) + b"\n"
    if k == 3:   # a huge count or length, then little
        return rng.choice([b"*1048576\r\n", b"*100000\r\n$1\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999\r\nab"])
    m = resp(fill(rng, rng.choice(SAFE)))
    return mutate(rng, m) if k < 6 else m


def fuzz_worker(port, rng, stop, stats):
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            stats["connect_fail"] += 1
            time.sleep(0.01)
            continue
        stats["conns"] += 1
        try:
            s.settimeout(0.2)
            for _ in range(rng.randrange(1, 30)):
                msg = b"".join(one_message(rng) for _ in range(rng.randrange(1, 8)))
                if rng.random() < 0.1:               # split at every byte
                    for b in msg[:200]:
                        s.sendall(bytes([b]))
                else:
                    s.sendall(msg)
                stats["bytes"] += len(msg)
                if rng.random() < 0.5:
                    try:
                        s.recv(65536)
                    except socket.timeout:
                        pass
            r = rng.random()
            if r < 0.3:
                s.shutdown(socket.SHUT_WR)           # half-close, then read what comes
                try:
                    s.recv(65536)
                except (socket.timeout, OSError):
                    pass
            elif r < 0.6:                            # reset in the middle of a command
                s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nfz:x\r\n$100\r\nabc")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            stats["closed_by_server"] += 1
        finally:
            s.close()


def checker(port, rng, stop, state, errors):
    try:
        with RespConn(port, timeout=20) as c:
            i = 0
            while not stop.is_set():
                k = "ck:%d" % rng.randrange(200)
                v = ("%d-" % i).encode() + bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
                expect_eq(c.call("SET", k, v), "OK", "checker SET")
                state[k] = v
                expect_eq(c.call("GET", k), v, "checker GET")
                strings = sorted(x for x in state if x.startswith("ck:"))
                keys = rng.sample(strings, min(5, len(strings)))
                expect_eq(c.call("MGET", *keys), [state[x] for x in keys], "checker MGET")
                got = c.call("HSET", "ckh", "f%d" % (i % 20), v)
                assert got in (0, 1), "checker HSET answered %r" % (got,)
                state["ckh:f%d" % (i % 20)] = v
                expect_eq(c.call("HGET", "ckh", "f%d" % (i % 20)), v, "checker HGET")
                expect_eq(c.call("INCR", "ckn"), i + 1, "checker INCR")
                i += 1
            state["__rounds__"] = i
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(repr(e))


@R.test
def network_fuzz(ctx):
    print("  seed %d (MEMKV_NETFUZZ_SEED), %.0f s, %d fuzzing threads" % (SEED, SECONDS, WORKERS))
    srv = R.add_server(start_with(args, ["--proto-max-bulk-len", "1mb"], "netfuzz"))
    stop = threading.Event()
    stats = {"conns": 0, "bytes": 0, "closed_by_server": 0, "connect_fail": 0}
    state, errors = {}, []
    ts = [threading.Thread(target=fuzz_worker, args=(srv.port, random.Random(SEED + i), stop, stats))
          for i in range(WORKERS)]
    ts.append(threading.Thread(target=checker, args=(srv.port, random.Random(SEED - 1), stop,
                                                     state, errors)))
    for t in ts:
        t.start()
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline and not errors and srv.alive():
        time.sleep(0.5)
    stop.set()
    for t in ts:
        t.join(60)
    assert srv.alive(), "the server died:\n" + srv.log_text()[-3000:]
    assert not errors, "the checker saw: %s" % errors[:3]
    rounds = state.pop("__rounds__", 0)
    with RespConn(srv.port) as c:
        for k, v in state.items():
            if k.startswith("ckh:"):
                expect_eq(c.call("HGET", "ckh", k[4:]), v, "acknowledged hash field " + k)
            else:
                expect_eq(c.call("GET", k), v, "acknowledged value " + k)
        expect_eq(c.call("GET", "ckn"), str(rounds).encode(), "counter")
    R.servers.remove(srv)
    clean, msg = srv.stop()
    assert clean, "unclean stop: %s" % msg
    log = srv.log_text(200000)
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert bad not in log, "sanitizer report in the server log:\n" + log[-3000:]
    srv.cleanup()
    print("  %d fuzzing connections, %.1f MB sent, %d closed by the server; checker: %d rounds, "
          "%d keys verified" % (stats["conns"], stats["bytes"] / 1e6, stats["closed_by_server"],
                                rounds, len(state)))


sys.exit(R.run())
