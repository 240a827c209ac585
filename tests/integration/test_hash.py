#!/usr/bin/python3
"""Hashes and binary safety, against a real redis-server (differential):

- a fixed script of hash commands (errors, WRONGTYPE, small-hash order),
  replies compared byte for byte;
- random binary keys, fields and values (NUL, CR, LF, high bytes) through a
  random mix of hash and key commands, replies compared byte for byte
  (whole-hash replies as sorted pairs, since big hashes have table order);
- the Feast online-store pattern: pipelined HSET + EXPIRE writes, pipelined
  HMGET reads with the _ts field, SCAN MATCH + DEL cleanup, identical replies;
- large values (--big-mb, default 64 MiB) through SET/GET and HSET/HGET, and
  across a restart (WAL) and a COMPACT + restart (snapshot) on mem-kv;
- hashes survive restarts: field puts/deletes, HINCRBY results, expiry and
  cross-shard RENAME, from the WAL and from a snapshot.

  --seed N     random seed for the binary mix (default: random, printed)
  --big-mb N   size of the large value (512 = proto-max-bulk-len, by hand)
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Runner, Status, expect_eq, is_real_redis,  # noqa: E402
                     parse_args, start_reference, start_under_test)
from persist_util import PersistServer, require_memkv, wait_compactions  # noqa: E402


def extra(p):
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--big-mb", type=int, default=64)
    p.add_argument("--ops", type=int, default=3000)


args = parse_args(__doc__, extra)
R = Runner(args)
SEED = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
print("seed %d (re-run with --seed %d)" % (SEED, SEED))
OK = Status("OK")


def both(ctx, cmds):
    """Runs cmds (pipelined) on both servers; returns the raw reply pairs."""
    with RespConn(ctx["srv"].port, timeout=60) as a, RespConn(ctx["ref"].port, timeout=60) as b:
        ra = a.pipeline(cmds, raw=True)
        rb = b.pipeline(cmds, raw=True)
    return list(zip(cmds, ra, rb))


def pairs_sorted(v):
    if isinstance(v, list) and len(v) % 2 == 0 and not isinstance(v, RespError):
        return sorted(zip(v[0::2], v[1::2]))
    return v


def compare(ctx, cmds, loose=lambda cmd: None):
    """Byte equality, except where loose(cmd) gives a normalizer for the
    parsed replies (order-free commands)."""
    bad = []
    for cmd, (pa, ra), (pb, rb) in both(ctx, cmds):
        norm = loose(cmd)
        if norm is not None:
            if norm(pa) != norm(pb):
                bad.append((cmd, pa, pb))
        elif ra != rb:
            bad.append((cmd, ra, rb))
    assert not bad, "%d replies differ; first: %r\n  mem-kv: %r\n  redis:  %r\n  all: %r" % (
        len(bad), bad[0][0], bad[0][1], bad[0][2], [b[0] for b in bad][:10])


SCRIPT = [
    ["HSET", "h", "a", "1", "b", "2"], ["HSET", "h", "a", "3"], ["HSET", "h", "a"],
    ["HGET", "h", "a"], ["HGET", "h", "zz"], ["HGET", "nokey", "a"],
    ["HMGET", "h", "a", "b", "c"], ["HMGET", "nokey", "a"], ["HGETALL", "h"], ["HKEYS", "h"],
    ["HVALS", "h"], ["HLEN", "h"], ["HLEN", "no"], ["HEXISTS", "h", "a"], ["HEXISTS", "h", "q"],
    ["HSTRLEN", "h", "a"], ["HSTRLEN", "h", "q"], ["HSETNX", "h", "a", "x"],
    ["HSETNX", "h", "c", "x"], ["HSETNX", "new", "c", "x"],
    ["HINCRBY", "h", "n", "5"], ["HINCRBY", "h", "n", "-7"], ["HINCRBY", "h", "c", "1"],
    ["HINCRBY", "h", "n", "x"], ["HINCRBY", "h", "n", "9223372036854775807"],
    ["HINCRBY", "h2", "n", "9223372036854775807"], ["HINCRBY", "h2", "n", "1"],
    ["HINCRBYFLOAT", "h", "f", "1.5"], ["HINCRBYFLOAT", "h", "f", "abc"],
    ["HINCRBYFLOAT", "h", "c", "1"], ["HINCRBYFLOAT", "h", "f", "inf"],
    ["HINCRBYFLOAT", "h", "f", "-1.5"], ["HINCRBYFLOAT", "h", "f", "nan"],
    ["HINCRBYFLOAT", "h", "g", "5.0e3"], ["HINCRBYFLOAT", "h", "g", "1e4"], ["HINCRBYFLOAT", "h2", "g", "1e400"],
    ["HDEL", "h", "a", "zz", "b"], ["HGETALL", "h"], ["HDEL", "no", "a"], ["TYPE", "h"],
    ["SET", "s", "v"], ["HGET", "s", "a"], ["HSET", "s", "a", "b"], ["HGETALL", "s"],
    ["GET", "h"], ["APPEND", "h", "x"], ["INCR", "h"], ["MGET", "h", "s"], ["GETSET", "h", "x"],
    ["SETRANGE", "h", "0", "x"], ["GETRANGE", "h", "0", "1"], ["STRLEN", "h"], ["GETDEL", "h"],
    ["GETEX", "h"], ["INCRBYFLOAT", "h", "1"], ["SETNX", "h", "1"],
    ["HRANDFIELD", "no"], ["HRANDFIELD", "no", "3"], ["HRANDFIELD", "h", "0"],
    ["HRANDFIELD", "s", "0"], ["HRANDFIELD", "h", "1", "x"],
    ["HRANDFIELD", "h", "1", "withvalues", "x"], ["HRANDFIELD", "h", "-9223372036854775808"],
    ["HRANDFIELD", "h", "9223372036854775807", "withvalues"], ["HRANDFIELD", "h", "abc"],
    ["HRANDFIELD", "h", "100"], ["HRANDFIELD", "h", "100", "WITHVALUES"],
    ["HSCAN", "h", "0"], ["HSCAN", "h", "abc"], ["HSCAN", "h", "0", "COUNT", "0"],
    ["HSCAN", "no", "0", "COUNT", "0"], ["HSCAN", "h", "0", "MATCH", "n*"],
    ["HSCAN", "h", "0", "TYPE", "x"], ["HSCAN", "s", "0"], ["HSCAN", "h", "0", "MATCH"],
    ["HSCAN", "h", "0", "COUNT", "x"],
    ["HSET", "x", "a", "b", "c"], ["HMSET", "x", "a", "b"], ["HMSET", "x", "a"],
    ["HMSET", "x", "a", "b", "c"], ["HSETNX", "x", "a"],
    ["EXPIRE", "h", "100"], ["TTL", "h"], ["PERSIST", "h"], ["TTL", "h"],
    ["RENAME", "h", "hh"], ["HGETALL", "hh"], ["EXISTS", "hh", "h"], ["RENAMENX", "hh", "s"],
    ["RENAMENX", "hh", "h"], ["HGETALL", "h"], ["RENAME", "h", "s"], ["TYPE", "s"],
    ["HGETALL", "s"], ["DEL", "s"], ["EXISTS", "s"],
    ["SET", "k", "v"], ["HSET", "k", "f", "v"], ["HSET", "hz", "f", "v"], ["SET", "hz", "str"],
    ["GET", "hz"], ["TYPE", "hz"], ["HSET", "e", "", ""], ["HGET", "e", ""], ["HGETALL", "e"],
    ["HDEL", "e", ""], ["EXISTS", "e"],
    ["HGETALL"], ["HGET", "a"], ["HLEN"], ["HINCRBYFLOAT", "a", "b"], ["HSCAN", "a"],
    ["HRANDFIELD"], ["HSTRLEN", "a"], ["HEXISTS", "a"], ["HDEL", "a"], ["HMGET", "a"],
    ["HSETNX", "a", "b"], ["HINCRBY", "a", "b"], ["HKEYS"], ["HVALS", "a", "b"],
    ["COMMAND", "INFO", "hset", "hgetall", "hscan"], ["TYPE", "hh"],
]


@R.test
def hash_script_exact(ctx):
    """Every reply of the fixed script equals Redis's byte for byte (random
    replies: same shape), including the expiry and rename cases."""
    both(ctx, [("FLUSHALL",)])
    def loose(cmd):
        if cmd[0] == "HRANDFIELD" and len(cmd) >= 3 and cmd[2] not in ("0",):
            return lambda v: type(v).__name__ + (str(len(v)) if isinstance(v, list) else "")
        if cmd[0] == "COMMAND":   # flags and key specs: same names, arity, first key
            return lambda v: [(e[0], e[1], e[3]) for e in v]
        return None
    compare(ctx, [tuple(c) for c in SCRIPT], loose)


@R.test
def hash_big_order_free(ctx):
    """A hash past the packed limits (many fields, then a long value) gives
    the same contents; HSCAN with COUNT walks it to the same set."""
    both(ctx, [("FLUSHALL",)])
    cmds = [("HSET", "big") + tuple(x for i in range(50) for x in ("f%d" % i, "v%d" % i))
            for _ in range(1)]
    cmds += [("HSET", "big", "f%d" % i, "x" * (i % 80)) for i in range(300)]
    cmds += [("HSET", "lv", "a", "1", "b", "y" * 65), ("HLEN", "big"), ("HLEN", "lv")]
    cmds += [("HDEL", "big") + tuple("f%d" % i for i in range(0, 300, 3))]
    cmds += [("HGETALL", "big"), ("HGETALL", "lv"), ("HKEYS", "big"), ("HVALS", "big")]
    compare(ctx, cmds, lambda c: (lambda v: sorted(v) if c[0] in ("HKEYS", "HVALS")
                                  else pairs_sorted(v)) if c[0] in ("HGETALL", "HKEYS", "HVALS")
            else None)
    for port in (ctx["srv"].port, ctx["ref"].port):
        with RespConn(port) as c:
            got, cur = {}, b"0"
            while True:
                cur, items = c.call("HSCAN", "big", cur, "COUNT", "7")
                got.update(zip(items[0::2], items[1::2]))
                if cur == b"0":
                    break
            expect_eq(got, dict(pairs_sorted(c.call("HGETALL", "big"))), "HSCAN of big")


def rbytes(rng, n):
    alphabet = b"ab\x00\r\n\xff \t*$:"
    return bytes(rng.choice(alphabet) if rng.random() < 0.6 else rng.randrange(256)
                 for _ in range(n))


@R.test
def binary_random_differential(ctx):
    """Random binary keys/fields/values through hash and key commands."""
    rng = random.Random(SEED)
    both(ctx, [("FLUSHALL",)])
    keys = [rbytes(rng, rng.randrange(0, 12)) for _ in range(12)]
    fields = [rbytes(rng, rng.randrange(0, 10)) for _ in range(20)]

    def val():
        r = rng.random()
        if r < 0.1:
            return b"%d" % rng.randrange(-1000, 1000)
        n = rng.choice([0, 1, 5, 30, 64, 65, 200, 3000])
        return rbytes(rng, n)

    cmds = []
    for _ in range(args.ops):
        k, f = rng.choice(keys), rng.choice(fields)
        r = rng.random()
        if r < 0.25:
            n = rng.randrange(1, 5)
            cmds.append((b"HSET", k) + tuple(x for _ in range(n) for x in (rng.choice(fields), val())))
        elif r < 0.35:
            cmds.append((b"HGET", k, f))
        elif r < 0.42:
            cmds.append((b"HMGET", k) + tuple(rng.choice(fields) for _ in range(3)))
        elif r < 0.50:
            cmds.append((b"HDEL", k) + tuple(rng.choice(fields) for _ in range(rng.randrange(1, 4))))
        elif r < 0.54:
            cmds.append((b"HINCRBY", k, f, b"%d" % rng.randrange(-5, 6)))
        elif r < 0.57:
            cmds.append((b"HINCRBYFLOAT", k, f, b"1.5"))
        elif r < 0.62:
            cmds.append((rng.choice([b"HLEN", b"TYPE", b"EXISTS", b"HGETALL", b"HKEYS"]), k))
        elif r < 0.66:
            cmds.append((b"HSTRLEN", k, f))
        elif r < 0.70:
            cmds.append((b"HEXISTS", k, f))
        elif r < 0.73:
            cmds.append((b"HSETNX", k, f, val()))
        elif r < 0.78:
            cmds.append((b"SET", k, val()))
        elif r < 0.83:
            cmds.append((b"GET", k))
        elif r < 0.86:
            cmds.append((b"DEL", k))
        elif r < 0.89:
            cmds.append((b"APPEND", k, val()))
        elif r < 0.92:
            cmds.append((b"RENAME", k, rng.choice(keys)))
        elif r < 0.95:
            cmds.append((b"EXPIRE", k, b"%d" % (1000 + rng.randrange(100))))
        else:
            cmds.append((b"MGET", k, rng.choice(keys)))
    compare(ctx, cmds, lambda c: (lambda v: sorted(v) if c[0] == b"HKEYS" and isinstance(v, list)
                                  else pairs_sorted(v)) if c[0] in (b"HGETALL", b"HKEYS") else None)
    # final state identical
    final = [(b"HGETALL", k) for k in keys] + [(b"TYPE", k) for k in keys]
    compare(ctx, final, lambda c: pairs_sorted if c[0] == b"HGETALL" else None)


@R.test
def feast_online_store(ctx):
    """Feast's Redis online store: one hash per entity key (binary key made
    of the serialized entity key and project), fields are murmur-hashed
    feature names (binary) plus _ts:<view>; pipelined HSET + EXPIRE writes,
    pipelined HMGET reads, SCAN MATCH + DEL cleanup."""
    rng = random.Random(SEED + 1)
    both(ctx, [("FLUSHALL",)])
    project = b"feast_proj"
    views = [b"driver_hourly", b"customer_profile"]
    feats = {v: [b"\x00\x01" + rbytes(rng, 4) for _ in range(6)] for v in views}

    def ekey(i):
        return b"\x02\x00\x00\x00driver_id\x04\x00\x00\x00\x08\x00\x00\x00" + \
            i.to_bytes(8, "little") + project

    writes = []
    for i in range(400):
        k = ekey(i)
        for v in views:
            args_ = [b"HSET", k]
            for f in feats[v]:
                args_ += [f, rbytes(rng, rng.randrange(4, 40))]   # a serialized ValueProto
            args_ += [b"_ts:" + v, (1700000000 + i).to_bytes(8, "little") + b"\x00\x00\x00\x00"]
            writes.append(tuple(args_))
        writes.append((b"EXPIRE", k, b"%d" % (86400 + i)))
    compare(ctx, writes)
    reads = []
    for _ in range(600):
        i, v = rng.randrange(450), rng.choice(views)
        reads.append((b"HMGET", ekey(i)) + tuple(feats[v]) + (b"_ts:" + v,))
    compare(ctx, reads)
    # TTLs: the two servers got their EXPIREs a moment apart, so a second
    # boundary may fall between them; equal within one second.
    ttl_keys = [ekey(i) for i in range(0, 400, 37)]
    got = {}
    for name, port in (("mem-kv", ctx["srv"].port), ("ref", ctx["ref"].port)):
        with RespConn(port) as c:
            got[name] = c.pipeline([("TTL", k) for k in ttl_keys])
    for j, (a, b) in enumerate(zip(got["mem-kv"], got["ref"])):
        want = 86400 + j * 37
        if not (want - 5 <= a <= want and abs(a - b) <= 1):
            expect_eq(a, b, "TTL of key %d" % (j * 37))
    # cleanup: SCAN MATCH *<project> then DEL, on each server
    for port in (ctx["srv"].port, ctx["ref"].port):
        with RespConn(port) as c:
            cur, found = b"0", set()
            while True:
                cur, ks = c.call("SCAN", cur, "MATCH", b"*" + project, "COUNT", "100")
                found.update(ks)
                if cur == b"0":
                    break
            expect_eq(len(found), 400, "keys found by SCAN MATCH")
            dels = c.pipeline([("DEL", k) for k in sorted(found)])
            expect_eq(sum(dels), 400, "deleted")
            expect_eq(c.call("DBSIZE"), 0, "empty after cleanup")


@R.test
def plain_protocol_hashes(ctx):
    """nc-style plain lines: HSET/HGET/HMGET/HGETALL as docs/protocol.md says."""
    if is_real_redis(args):
        from harness import Skip
        raise Skip("plain protocol is mem-kv's")
    import socket
    s = socket.create_connection(("127.0.0.1", ctx["srv"].port))
    s.sendall(b"HSET ph a 1 b 2\nHGET ph a\nHMGET ph a zz b\nHGETALL ph\nHGET ph zz\nGET ph\n")
    want = b"2\n1\n1 (nil) 2\na 1 b 2\n(nil)\nERR WRONGTYPE Operation against a key holding the " \
        b"wrong kind of value\n"
    data = b""
    s.settimeout(10)
    while len(data) < len(want):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    expect_eq(data, want, "plain replies")


@R.test
def big_values(ctx):
    """A --big-mb value (default 64 MiB) of random bytes through SET/GET and
    HSET/HGET, identical on both servers."""
    n = args.big_mb << 20
    big = os.urandom(n)
    for port in (ctx["srv"].port, ctx["ref"].port):
        with RespConn(port, timeout=300) as c:
            expect_eq(c.call("SET", "bigs", big), OK, "SET big")
            expect_eq(c.call("STRLEN", "bigs"), n, "STRLEN")
            assert c.call("GET", "bigs") == big, "GET big differs"
            expect_eq(c.call("HSET", "bigh", b"f\x00", big, "small", "1"), 2, "HSET big")
            assert c.call("HGET", "bigh", b"f\x00") == big, "HGET big differs"
            expect_eq(c.call("HSTRLEN", "bigh", b"f\x00"), n, "HSTRLEN")
            expect_eq(c.call("DEL", "bigs", "bigh"), 2, "DEL")


@R.test
def hash_memory_in_dataset(ctx):
    """INFO's used_memory_dataset (the shards' accounted bytes, what eviction
    reads) grows with a hash's fields and comes back when it is deleted."""
    if is_real_redis(args):
        from harness import Skip
        raise Skip("used_memory_dataset is mem-kv's accounting")
    from harness import info_fields
    with RespConn(ctx["srv"].port, timeout=60) as c:
        c.call("FLUSHALL")
        def dataset():
            return int(info_fields(c.call("INFO", "memory"))["used_memory_dataset"])
        d0 = dataset()
        for s in range(0, 20000, 1000):      # one table hash: 20 000 x ~110 B
            c.call("HSET", "memh", *[x for i in range(s, s + 1000)
                                     for x in (b"field-%06d" % i, b"v" * 100)])
        for i in range(2000):                # packed hashes: 2000 x 16 small fields
            c.call("HSET", b"small:%d" % i, *[x for j in range(16) for x in (b"f%d" % j, b"12345678")])
        d1 = dataset()
        print("  used_memory_dataset: %d before, %d with the hashes" % (d0, d1))
        grew = d1 - d0
        payload = 20000 * 111 + 2000 * 16 * 10
        assert payload <= grew <= 3 * payload, "dataset grew %d for %d payload bytes" % (grew, payload)
        c.call("DEL", "memh")
        c.pipeline([("DEL", b"small:%d" % i) for i in range(2000)])
        d2 = dataset()
        assert d2 - d0 <= 16384, "dataset %d after deleting, %d before" % (d2, d0)


def hash_state(c, keys):
    out = {}
    for k in keys:
        v = c.call("HGETALL", k)
        out[k] = (pairs_sorted(v), c.call("PEXPIRETIME", k))
    return out


@R.test
def hashes_survive_restart(ctx):
    """HSET/HDEL/HINCRBY/HINCRBYFLOAT/EXPIRE/PERSIST/RENAME (same and other
    shard) and a big value, restored from the WAL, then from a snapshot."""
    require_memkv(args)
    rng = random.Random(SEED + 2)
    srv = R.add_server(PersistServer(args, ["--fsync", "always", "--compact-log-size", "0"],
                                     name="hash-persist"))
    srv.start()
    big = os.urandom(args.big_mb << 20)
    keys = [b"ph:%d\x00\r\n" % i for i in range(60)]
    with srv.conn() as c:
        for k in keys:
            c.call("HSET", k, *[x for j in range(rng.randrange(1, 200))
                                for x in (b"f%d\n" % j, rbytes(rng, rng.randrange(0, 90)))])
        for k in keys[:20]:
            c.call("HDEL", k, b"f0\n", b"f3\n")
            c.call("HINCRBY", k, "cnt", "7")
            c.call("HINCRBYFLOAT", k, "fl", "2.5")
        for k in keys[10:30]:
            c.call("EXPIRE", k, "5000")
        c.call("PERSIST", keys[12])
        c.call("PEXPIRE", keys[40], "1")           # expires during the test
        c.call("HSET", keys[41], "big", big)
        for i in range(45, 55):
            c.call("RENAME", keys[i], keys[i] + b"-renamed")
        keys += [k + b"-renamed" for k in keys[45:55]]
        time.sleep(0.01)
        want = hash_state(c, keys)
    assert want[keys[40]] == ([], -2), "keys[40] should have expired"
    srv.kill()                                     # WAL only
    srv.start()
    with srv.conn() as c:
        got = hash_state(c, keys)
    bad = [k for k in keys if got[k] != want[k]]
    assert not bad, "after WAL replay %d hashes differ, e.g. %r" % (len(bad), bad[:2])
    with srv.conn() as c:
        assert c.call("COMPACT") == OK
    wait_compactions(srv, 16)
    srv.kill()
    srv.start()                                    # snapshot (+ empty WAL)
    with srv.conn() as c:
        got = hash_state(c, keys)
    bad = [k for k in keys if got[k] != want[k]]
    assert not bad, "after snapshot load %d hashes differ, e.g. %r" % (len(bad), bad[:2])
    srv.stop_clean()


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    ref = runner.add_server(start_reference(args))
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
