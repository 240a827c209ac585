#!/usr/bin/python3
"""Sorted sets' two forms and intsets (issue 19 item 4) against a real
redis-server. Sorted sets:
OBJECT ENCODING across zset-max-listpack-entries (128) and
zset-max-listpack-value (64 bytes), never back to "listpack" after
removals, "listpack" again after a restart from the log; and one sorted set
of a few thousand members (the B+tree form) driven by random ZADD/ZREM/
ZINCRBY with every rank, range and score read compared with Redis."""

import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Skip, is_real_redis, parse_args, Runner,  # noqa: E402
                     start_reference, start_under_test)

args = parse_args(__doc__)
R = Runner(args)


def both(ctx, fn):
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        return fn(a), fn(b)


def members(n, prefix="m", width=0):
    out = []
    for j in range(n):
        out += [str(j * 0.5), ("%s%0*d" % (prefix, width, j))]
    return out


@R.test
def encoding_across_the_limits(ctx):
    def run(c):
        c.call("FLUSHALL")
        out = []
        enc = lambda k: c.call("OBJECT", "ENCODING", k)  # noqa: E731
        c.call("ZADD", "z128", *members(128))
        out.append(("128", enc("z128")))
        c.call("ZADD", "z128", "7", "m5")                 # an update: still packed
        out.append(("128 upd", enc("z128")))
        c.call("ZADD", "z128", "1", "new")                # the 129th member
        out.append(("129", enc("z128"), c.call("ZCARD", "z128")))
        for j in range(120):
            c.call("ZREM", "z128", "m%d" % j)
        out.append(("shrunk", enc("z128"), c.call("ZRANGE", "z128", "0", "-1", "WITHSCORES")))
        for j in range(129):                              # one at a time
            c.call("ZADD", "inc", str(j), "m%d" % j)
            if j in (0, 127, 128):
                out.append(("inc", j, enc("inc")))
        c.call("ZADD", "v64", "1", "a" * 64)
        out.append(("64 B", enc("v64")))
        c.call("ZADD", "v64", "2", "b" * 65)
        out.append(("65 B", enc("v64"), c.call("ZRANGE", "v64", "0", "-1")))
        c.call("ZADD", "v65", "1", "x" * 65)
        out.append(("new 65 B", enc("v65")))
        c.call("ZADD", "big", *members(300))              # past the limit at once
        out.append(("300", enc("big")))
        c.call("ZINCRBY", "zi", "1", "a")
        out.append(("zincrby", enc("zi")))
        return out
    mine, ref = both(ctx, run)
    assert mine == ref, "mem-kv %r\nredis  %r" % (mine, ref)


@R.test
def packed_again_after_restart(ctx):
    """A set that shrank below the limits is rebuilt packed from the log,
    as Redis does from its RDB file."""
    if is_real_redis(args):
        raise Skip("mem-kv only")
    srv = ctx["srv"]
    with RespConn(srv.port) as c:
        c.call("FLUSHALL")
        c.call("ZADD", "r", *members(200))
        c.call("ZREMRANGEBYRANK", "r", "0", "149")
        assert c.call("OBJECT", "ENCODING", "r") == b"skiplist"
        c.call("ZADD", "rb", *members(200))
        want = (c.call("ZRANGE", "r", "0", "-1", "WITHSCORES"),
                c.call("ZRANGE", "rb", "0", "-1", "WITHSCORES"))
    srv.stop()
    srv.start()
    with RespConn(srv.port) as c:
        got = (c.call("ZRANGE", "r", "0", "-1", "WITHSCORES"),
               c.call("ZRANGE", "rb", "0", "-1", "WITHSCORES"))
        assert got == want
        assert c.call("OBJECT", "ENCODING", "r") == b"listpack"
        assert c.call("OBJECT", "ENCODING", "rb") == b"skiplist"


@R.test
def big_sorted_set_random_ops(ctx):
    rng = random.Random(19)
    ops = []
    n = 3000
    ops.append(("ZADD", "b") + tuple(x for j in range(n) for x in (str(j % 50), "m%d" % j)))
    for _ in range(1500):
        r = rng.random()
        j = rng.randrange(n + 500)
        if r < 0.45:
            ops.append(("ZADD", "b", str(rng.randrange(-20, 60) / 2), "m%d" % j))
        elif r < 0.7:
            ops.append(("ZREM", "b", "m%d" % j))
        elif r < 0.8:
            ops.append(("ZINCRBY", "b", "1.5", "m%d" % j))
        elif r < 0.9:
            ops.append(("ZRANK", "b", "m%d" % j))
        else:
            a = rng.randrange(-50, n)
            ops.append(("ZRANGE", "b", str(a), str(a + rng.randrange(0, 30)), "WITHSCORES"))
    ops += [("ZRANGE", "b", str(k), str(k + 99), "WITHSCORES") for k in range(0, n + 500, 100)]
    ops += [("ZRANGE", "b", "-1", "-100", "REV")]
    ops += [("ZREVRANGE", "b", "0", "49")]
    ops += [("ZCOUNT", "b", str(lo), "(" + str(lo + 3)) for lo in range(-10, 40, 3)]
    ops += [("ZRANGEBYSCORE", "b", "(5", "6.5")]
    ops += [("ZCARD", "b"), ("OBJECT", "ENCODING", "b")]

    def run(c):
        c.call("FLUSHALL")
        out = []
        for i in range(0, len(ops), 500):
            out += c.pipeline(ops[i:i + 500])
        return out
    mine, ref = both(ctx, run)
    for i, (a, b) in enumerate(zip(mine, ref)):
        assert a == b, "op %d %r: mem-kv %r redis %r" % (i, ops[i][:6], a, b)
    assert len(mine) == len(ref)


@R.test
def intset_like_redis(ctx):
    """Sets of integers: "intset" up to set-max-intset-entries (512) as
    Redis, members in ascending order, "hashtable" past the limit or on a
    big set's first non-integer member, never back."""
    def run(c):
        c.call("FLUSHALL")
        out = []
        enc = lambda k: c.call("OBJECT", "ENCODING", k)  # noqa: E731
        c.call("SADD", "i", "5", "-3", "100", "0", "9223372036854775807", "-9223372036854775808")
        out.append(("small", enc("i"), c.call("SMEMBERS", "i")))
        out.append(("has", c.call("SMISMEMBER", "i", "5", "05", "+5", "-0", "0", "6")))
        c.call("SREM", "i", "100", "05")
        out.append(("rem", enc("i"), c.call("SMEMBERS", "i"), c.call("SCARD", "i")))
        c.call("SADD", "i512", *[str(j * 7 - 1000) for j in range(512)])
        out.append(("512", enc("i512"), c.call("SCARD", "i512")))
        c.call("SADD", "i512", "-1000")                  # there already
        out.append(("512 again", enc("i512")))
        c.call("SADD", "i512", "99999")                  # the 513th
        out.append(("513", enc("i512"), c.call("SCARD", "i512")))
        c.call("SREM", "i512", *[str(j * 7 - 1000) for j in range(400)])
        out.append(("513 shrunk", enc("i512")))
        c.call("SADD", "mix", *[str(j) for j in range(200)])
        c.call("SADD", "mix", "x")
        out.append(("non-int", enc("mix"), c.call("SCARD", "mix"), c.call("SISMEMBER", "mix", "7")))
        c.call("SADD", "big", *[str(j) for j in range(150)])
        c.call("SADD", "big", "18446744073709551616")     # past int64: a string
        out.append(("2^64", enc("big")))
        out.append(("sscan", c.call("SSCAN", "i", "0")))
        out.append(("srandmember", sorted(c.call("SRANDMEMBER", "i", "100"))))
        out.append(("sinter", sorted(c.call("SINTER", "i", "i"))))
        c.call("SADD", "pop", "1", "2", "3")
        out.append(("spop", sorted(c.call("SPOP", "pop", "3")), c.call("EXISTS", "pop")))
        return out
    mine, ref = both(ctx, run)
    assert mine == ref, "mem-kv %r\nredis  %r" % (mine, ref)


@R.test
def intset_after_restart(ctx):
    if is_real_redis(args):
        raise Skip("mem-kv only")
    srv = ctx["srv"]
    with RespConn(srv.port) as c:
        c.call("FLUSHALL")
        c.call("SADD", "ri", "3", "1", "2")
        c.call("SADD", "rh", *[str(j) for j in range(600)])
        want = (c.call("SMEMBERS", "ri"), c.call("SCARD", "rh"))
    srv.stop()
    srv.start()
    with RespConn(srv.port) as c:
        assert (c.call("SMEMBERS", "ri"), c.call("SCARD", "rh")) == want
        assert c.call("OBJECT", "ENCODING", "ri") == b"intset"
        assert c.call("OBJECT", "ENCODING", "rh") == b"hashtable"


def setup(runner):
    srv = runner.add_server(start_under_test(args, "zsetenc"))
    ref = runner.add_server(start_reference(args, "zsetenc"))
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
