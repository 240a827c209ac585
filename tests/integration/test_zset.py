#!/usr/bin/python3
"""The rest of the sorted-set commands and the multi-pops against a real
redis-server (differential), issue 19 item 3:

- a fixed script: lex ranges (ZRANGE BYLEX, ZRANGEBYLEX, ZREVRANGEBYLEX,
  ZLEXCOUNT, ZREMRANGEBYLEX), ZRANGESTORE, ZUNION/ZINTER/ZDIFF(+STORE),
  ZINTERCARD (WEIGHTS, AGGREGATE, WITHSCORES, sets as inputs, inf/NaN
  corners), ZRANDMEMBER, ZSCAN, ZMPOP, LMPOP, their syntax errors and
  WRONGTYPE, COMMAND INFO rows; replies byte for byte (random picks by
  shape);
- random sequences of every new command over a few keys (--ops), with
  equal scores for the lex commands as Redis requires;
- ZMPOP/LMPOP over keys of one shard and of several shards;
- the algebra over keys on many shards (gathered on the network thread);
- ZSCAN over a big sorted set (several calls) returns every member once;
- BZPOPMIN/BZPOPMAX/BZMPOP/BLMPOP in test_blocking.py's style: errors,
  answers without waiting, timeouts (*-1), clients blocked on keys of
  several shards served by a ZADD/RPUSH on one of them, FIFO order, MULTI;
- the writes of the new commands (stores across shards, ZREMRANGEBYLEX,
  ZMPOP, LMPOP, a served BZPOPMIN) survive kill -9.

  --seed N     random seed (default: random, printed)
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Runner, encode, info_fields,  # noqa: E402
                     is_real_redis, parse_args, start_reference, start_under_test)
from persist_util import PersistServer, require_memkv  # noqa: E402


def extra(p):
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--ops", type=int, default=2500)


args = parse_args(__doc__, extra)
R = Runner(args)
SEED = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
print("seed %d (re-run with --seed %d)" % (SEED, SEED))


def name_of(cmd):
    c = cmd[0]
    return (c if isinstance(c, str) else c.decode()).upper()


def pairs_sorted(v):
    """A WITHSCORES-style flat reply as sorted (member, score) pairs."""
    if not isinstance(v, list):
        return v
    return sorted(zip(v[0::2], v[1::2]))


def loose(cmd):
    """A normalizer for order-free or random replies, else None (bytes)."""
    name = name_of(cmd)
    up = [x.upper() if isinstance(x, str) else x for x in cmd]
    if name == "COMMAND":  # flags and key specs differ: same name, arity, first key
        return lambda v: [(e[0], e[1], e[3]) for e in v] if isinstance(v, list) else v
    if name == "ZSCAN":
        return lambda v: v if not isinstance(v, list) else [v[0], pairs_sorted(v[1])]
    if name == "ZRANDMEMBER":
        if len(cmd) == 2:   # one random member: its type
            return lambda v: type(v).__name__
        try:
            n = int(cmd[2])
        except ValueError:
            return None
        ws = "WITHSCORES" in up
        if n < 0:
            return lambda v: (type(v).__name__, len(v) if isinstance(v, list) else v)
        if ws:
            return pairs_sorted
        return lambda v: sorted(v) if isinstance(v, list) else v
    return None


def run_both(a, b, cmds):
    """Pipelines cmds on both connections; returns mismatches."""
    ra = a.pipeline(cmds, raw=True)
    rb = b.pipeline(cmds, raw=True)
    bad = []
    for cmd, (pa, xa), (pb, xb) in zip(cmds, ra, rb):
        norm = loose(cmd)
        if norm is not None:
            if norm(pa) != norm(pb):
                bad.append((cmd, pa, pb))
        elif xa != xb:
            bad.append((cmd, xa, xb))
    return bad


def check(bad):
    assert not bad, "%d replies differ; first: %r\n  mem-kv: %r\n  redis:  %r" % (
        len(bad), bad[0][0], bad[0][1], bad[0][2])


def same_shard_keys(port, prefix, n):
    """n keys that mem-kv holds in one shard (LMPOP over absent keys answers
    nil there, the cross-shard error otherwise); plain names on Redis."""
    keys = [prefix + "0"]
    if is_real_redis(args):
        return [prefix + str(i) for i in range(n)]
    with RespConn(port) as c:
        i = 1
        while len(keys) < n:
            k = prefix + str(i)
            i += 1
            got = c.call("LMPOP", "2", keys[0], k, "LEFT", raw=True)
            if not isinstance(got[0], RespError):
                keys.append(k)
            assert i < 10000
    return keys


LEX = [["ZADD", "lx", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "ff", "0", "g",
        "0", "", "0", "b\x00"]]
LEX += [[c, "lx", lo, hi] for c in ("ZRANGEBYLEX", "ZLEXCOUNT")
        for lo, hi in (("-", "+"), ("[b", "(e"), ("(b", "[e"), ("+", "-"), ("[e", "[b"),
                       ("(a", "(a"), ("[a", "[a"), ("[", "+"), ("(", "[b"), ("-", "(b\x00"))]
LEX += [
    ["ZRANGEBYLEX", "lx", "-", "+", "LIMIT", "1", "3"], ["ZRANGEBYLEX", "lx", "-", "+", "LIMIT", "-1", "3"],
    ["ZRANGEBYLEX", "lx", "-", "+", "LIMIT", "2", "-1"], ["ZRANGEBYLEX", "lx", "b", "c"],
    ["ZRANGEBYLEX", "lx", "[b", "c"], ["ZRANGEBYLEX", "lx", "-x", "+"], ["ZRANGEBYLEX", "lx", "-", "++"],
    ["ZRANGEBYLEX", "lx", "-", "+", "WITHSCORES"], ["ZRANGEBYLEX", "lx", "-", "+", "LIMIT", "1"],
    ["ZRANGEBYLEX", "lx", "-", "+", "LIMIT", "x", "1"], ["ZRANGEBYLEX", "lx", "-", "+", "REV"],
    ["ZRANGEBYLEX", "nolx", "-", "+"], ["ZLEXCOUNT", "nolx", "-", "+"], ["ZLEXCOUNT", "lx", "x", "+"],
    ["ZREVRANGEBYLEX", "lx", "+", "-"], ["ZREVRANGEBYLEX", "lx", "(e", "[b"],
    ["ZREVRANGEBYLEX", "lx", "-", "+"], ["ZREVRANGEBYLEX", "lx", "+", "-", "LIMIT", "1", "2"],
    ["ZRANGE", "lx", "[b", "[d", "BYLEX"], ["ZRANGE", "lx", "[d", "[b", "BYLEX", "REV"],
    ["ZRANGE", "lx", "-", "+", "BYLEX", "LIMIT", "2", "2"],
    ["ZRANGE", "lx", "+", "-", "BYLEX", "REV", "LIMIT", "0", "3"],
    ["ZRANGE", "lx", "-", "+", "BYLEX", "WITHSCORES"], ["ZRANGE", "lx", "-", "+", "BYLEX", "BYSCORE"],
    ["ZRANGE", "lx", "0", "-1", "REV", "REV"], ["ZRANGE", "lx", "a", "b", "BYLEX"],
    ["ZRANGE", "lx", "0", "-1", "LIMIT", "0", "-1"],
    ["ZREMRANGEBYLEX", "lx", "[f", "(g"], ["ZREMRANGEBYLEX", "lx", "x", "(g"],
    ["ZREMRANGEBYLEX", "nolx", "-", "+"], ["ZRANGE", "lx", "0", "-1"],
    ["ZREMRANGEBYLEX", "lx", "-", "+"], ["EXISTS", "lx"],
]

STORE = [
    ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"],
    ["ZRANGESTORE", "dst", "z", "0", "2"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "z", "(1", "4", "BYSCORE", "LIMIT", "1", "2"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "z", "5", "9"], ["EXISTS", "dst"],
    ["ZRANGESTORE", "dst", "z", "0", "1"], ["ZRANGESTORE", "dst", "noz", "0", "-1"], ["EXISTS", "dst"],
    ["ZRANGESTORE", "dst", "z", "0", "1", "WITHSCORES"], ["ZRANGESTORE", "dst", "z", "0", "1", "FOO"],
    ["ZRANGESTORE", "dst", "z", "a", "1"], ["ZRANGESTORE", "dst", "z", "0", "-1", "LIMIT", "0", "1"],
    ["SET", "str", "v"], ["ZRANGESTORE", "dst", "str", "0", "1"],
    ["ZRANGESTORE", "str", "z", "0", "1"], ["TYPE", "str"], ["ZRANGE", "str", "0", "-1"],
    ["ZRANGESTORE", "z", "z", "1", "2"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "z"],
]

ALGEBRA = [
    ["ZADD", "z1", "1", "a", "2", "b", "3", "c"], ["ZADD", "z2", "10", "b", "20", "c", "30", "d"],
    ["SADD", "st", "a", "d", "x"], ["ZADD", "zi", "1", "a"], ["ZADD", "zn", "-inf", "a", "inf", "b"],
    ["SET", "str", "v"],
]
for op in ("ZUNION", "ZINTER", "ZDIFF"):
    ALGEBRA += [
        [op, "2", "z1", "z2"], [op, "2", "z1", "z2", "WITHSCORES"], [op, "3", "z1", "z2", "st", "WITHSCORES"],
        [op, "2", "z2", "st", "WITHSCORES"], [op, "1", "z1"], [op, "2", "z1", "noz", "withscores"],
        [op, "2", "noz", "z1"], [op, "2", "z1", "str"], [op, "2", "str", "z1", "FOO"],
        [op, "0", "z1"], [op, "-1", "z1"], [op, "x", "z1"], [op, "3", "z1", "z2"],
        [op, "2", "z1", "z2", "WEIGHTS", "2", "3", "WITHSCORES"],
        [op, "2", "z1", "z2", "WEIGHTS", "2", "x"], [op, "2", "z1", "z2", "WEIGHTS", "2"],
        [op, "2", "z1", "z2", "AGGREGATE", "MIN", "WITHSCORES"],
        [op, "2", "z1", "z2", "AGGREGATE", "max", "WITHSCORES"],
        [op, "2", "z1", "z2", "AGGREGATE", "avg"], [op, "2", "z1", "z2", "AGGREGATE"],
        [op, "2", "z1", "z2", "LIMIT", "1"],
        [op, "2", "zi", "zi", "WEIGHTS", "inf", "-inf", "WITHSCORES"],
        [op, "2", "zn", "zn", "WEIGHTS", "0", "1", "WITHSCORES"],
        [op, "2", "zn", "zn", "WITHSCORES"],
        [op, "1", "z1", "WEIGHTS", "1.5", "WITHSCORES"], [op, "1", "z1", "WEIGHTS", "nan"],
        [op + "STORE", "out", "2", "z1", "z2"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
        [op + "STORE", "out", "2", "z1", "st", "WEIGHTS", "1", "5"],
        ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
        [op + "STORE", "out", "2", "z1", "z2", "WITHSCORES"], [op + "STORE", "out", "0", "z1"],
        [op + "STORE", "out", "2", "z1", "str"], [op + "STORE", "out", "2", "noz", "noz2"],
        ["EXISTS", "out"], [op + "STORE", "str", "1", "z1"], ["TYPE", "str"], ["SET", "str", "v"],
        [op + "STORE", "z2", "2", "z2", "z1"], ["ZRANGE", "z2", "0", "-1", "WITHSCORES"],
        ["DEL", "z2"], ["ZADD", "z2", "10", "b", "20", "c", "30", "d"],
    ]
ALGEBRA += [
    ["ZINTERCARD", "2", "z1", "z2"], ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"],
    ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "0"], ["ZINTERCARD", "3", "z1", "z2", "st"],
    ["ZINTERCARD", "0", "z1"], ["ZINTERCARD", "3", "z1"], ["ZINTERCARD", "x", "z1"],
    ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "-1"], ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "x"],
    ["ZINTERCARD", "2", "z1", "z2", "WITHSCORES"], ["ZINTERCARD", "2", "z1", "str"],
    ["ZINTERCARD", "1", "noz"],
    ["ZUNION", "1"], ["ZUNIONSTORE", "out", "1"], ["ZINTERCARD", "1"],
]

RANDSCAN = [
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["SET", "str", "v"],
    ["ZRANDMEMBER", "noz"], ["ZRANDMEMBER", "noz", "5"], ["ZRANDMEMBER", "z", "0"],
    ["ZRANDMEMBER", "z"], ["ZRANDMEMBER", "z", "5"], ["ZRANDMEMBER", "z", "5", "WITHSCORES"],
    ["ZRANDMEMBER", "z", "-5"], ["ZRANDMEMBER", "z", "-5", "WITHSCORES"],
    ["ZRANDMEMBER", "z", "x"], ["ZRANDMEMBER", "z", "1", "FOO"],
    ["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"], ["ZRANDMEMBER", "z", "-9223372036854775808"],
    ["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"], ["ZRANDMEMBER", "str"],
    ["ZRANDMEMBER", "str", "1"],
    ["ZSCAN", "z", "0"], ["ZSCAN", "z", "0", "MATCH", "a*"], ["ZSCAN", "z", "0", "COUNT", "1"],
    ["ZSCAN", "z", "x"], ["ZSCAN", "z", "0", "COUNT", "0"], ["ZSCAN", "z", "0", "FOO"],
    ["ZSCAN", "z", "0", "MATCH"], ["ZSCAN", "noz", "0"], ["ZSCAN", "str", "0"], ["ZSCAN", "z"],
]

MPOP = [  # one key each, or keys named "{k}N" found in one shard (see mpop_script)
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["SET", "str", "v"],
    ["ZMPOP", "1", "z", "MIN"], ["ZMPOP", "1", "z", "max", "COUNT", "5"], ["EXISTS", "z"],
    ["ZMPOP", "1", "z", "MIN"], ["ZMPOP", "0", "z", "MIN"], ["ZMPOP", "x", "z", "MIN"],
    ["ZMPOP", "2", "z", "MIN"], ["ZMPOP", "1", "z", "FOO"], ["ZMPOP", "1", "z", "MIN", "COUNT", "0"],
    ["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"], ["ZMPOP", "1", "z", "MIN", "FOO"],
    ["ZMPOP", "1", "z", "MIN", "COUNT"], ["ZMPOP", "1", "str", "MIN"], ["ZMPOP", "1", "z"],
    ["RPUSH", "l", "a", "b", "c", "d"], ["LMPOP", "1", "l", "LEFT"],
    ["LMPOP", "1", "l", "RIGHT", "COUNT", "2"], ["LMPOP", "1", "l", "left", "COUNT", "10"],
    ["EXISTS", "l"], ["LMPOP", "1", "l", "LEFT"], ["LMPOP", "0", "l", "LEFT"],
    ["LMPOP", "1", "l", "UP"], ["LMPOP", "1", "str", "LEFT"], ["LMPOP", "1", "l", "LEFT", "COUNT", "-1"],
    ["LMPOP", "1", "l", "LEFT", "COUNT", "x"], ["LMPOP", "1", "l"], ["LMPOP", "x", "l", "LEFT"],
    ["COMMAND", "INFO", "zrangebylex", "zrevrangebylex", "zlexcount", "zremrangebylex",
     "zrangestore", "zunion", "zinter", "zdiff", "zunionstore", "zinterstore", "zdiffstore",
     "zintercard", "zrandmember", "zscan", "zmpop", "lmpop"],
]


@R.test
def zset_more_script_exact(ctx):
    """Every reply of the fixed scripts equals Redis's."""
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        for script in (LEX, STORE, ALGEBRA, RANDSCAN, MPOP):
            a.call("FLUSHALL")
            b.call("FLUSHALL")
            check(run_both(a, b, [tuple(c) for c in script]))


@R.test
def zset_mpop_same_shard(ctx):
    """ZMPOP/LMPOP over several keys of one shard: the first non-empty key,
    WRONGTYPE when met first, nil when all are empty."""
    zk = same_shard_keys(ctx["srv"].port, "mz", 3)
    lk = same_shard_keys(ctx["srv"].port, "ml", 3)
    cmds = [("ZADD", zk[1], "1", "a", "2", "b"), ("ZADD", zk[2], "5", "q"),
            ("ZMPOP", "3") + tuple(zk) + ("MIN",), ("ZMPOP", "3") + tuple(zk) + ("MAX", "COUNT", "9"),
            ("ZMPOP", "3") + tuple(zk) + ("MAX", "COUNT", "9"), ("ZMPOP", "3") + tuple(zk) + ("MIN",),
            ("SET", zk[2], "v"), ("ZADD", zk[1], "1", "a"),
            ("ZMPOP", "3") + tuple(zk) + ("MIN",), ("ZMPOP", "3") + tuple(zk) + ("MIN",),
            ("RPUSH", lk[2], "a", "b", "c"), ("LMPOP", "3") + tuple(lk) + ("RIGHT", "COUNT", "2"),
            ("LMPOP", "3") + tuple(lk) + ("LEFT",), ("LMPOP", "3") + tuple(lk) + ("LEFT",),
            ("SET", lk[0], "v"), ("LMPOP", "3") + tuple(lk) + ("LEFT",)]
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, cmds))


@R.test
def zset_mpop_across_shards(ctx):
    """ZMPOP/LMPOP over keys of several shards: the first non-empty key in
    argument order, WRONGTYPE when met before it, nil when all are empty,
    as Redis."""
    zk = ["xz%d" % i for i in range(8)]
    lk = ["xl%d" % i for i in range(8)]
    cmds = []
    for i in (6, 2, 7, 0):
        cmds += [("ZADD", zk[i], "1", "a", "2", "b", "3", "c"),
                 ("ZMPOP", "8") + tuple(zk) + ("MAX", "COUNT", "2"),
                 ("ZMPOP", "8") + tuple(zk) + ("MIN",), ("EXISTS", zk[i]),
                 ("RPUSH", lk[i], "a", "b", "c"),
                 ("LMPOP", "8") + tuple(lk) + ("LEFT", "COUNT", "2"),
                 ("LMPOP", "8") + tuple(lk) + ("RIGHT",), ("EXISTS", lk[i])]
    cmds += [("ZMPOP", "8") + tuple(zk) + ("MIN",), ("LMPOP", "8") + tuple(lk) + ("LEFT",),
             ("SET", zk[3], "v"), ("ZADD", zk[5], "1", "a"),
             ("ZMPOP", "8") + tuple(zk) + ("MIN",), ("DEL", zk[3]),
             ("ZMPOP", "8") + tuple(zk) + ("MIN",), ("ZMPOP", "8") + tuple(zk) + ("MIN", "COUNT", "0"),
             ("SET", lk[4], "v"), ("RPUSH", lk[6], "z"), ("LMPOP", "8") + tuple(lk) + ("LEFT",),
             ("DEL", lk[4]), ("LMPOP", "8") + tuple(lk) + ("LEFT",),
             # the other family's words: a syntax error, as on one shard
             ("ZMPOP", "8") + tuple(zk) + ("LEFT",), ("LMPOP", "8") + tuple(lk) + ("MAX",),
             ("ZADD", zk[7], "1", "a"), ("RPUSH", lk[7], "a"),
             ("ZMPOP", "8") + tuple(zk) + ("RIGHT", "COUNT", "1"),
             ("LMPOP", "8") + tuple(lk) + ("MIN", "COUNT", "1"), ("EXISTS", zk[7], lk[7])]
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, cmds))


MEMBERS = ["a", "b", "c", "d", "e", "", "ab", "b\x00", "x" * 64, "m1", "m2", "m10"]
SCORES = ["0", "1", "-1", "1.5", "2.25", "1e3", "-0.5", "3", "10", "inf", "-inf"]


def gen_cmd(rng, lkeys, mkeys):
    """One random command among the new ones (deterministic across servers)."""
    zk = lambda: rng.choice(["za", "zb", "zc", "sa"])  # noqa: E731
    m = lambda: rng.choice(MEMBERS)  # noqa: E731
    lexb = lambda: rng.choice(["-", "+", "[a", "(a", "[b", "(ab", "[m1", "(m2", "[x", "(", "["])  # noqa
    r = rng.random()
    if r < 0.2:
        k = rng.choice(lkeys)  # equal scores: lex ranges are defined
        return ("ZADD", k) + tuple(x for _ in range(rng.randint(1, 4)) for x in ("0", m()))
    if r < 0.3:
        return ("ZADD", zk()) + tuple(x for _ in range(rng.randint(1, 4))
                                      for x in (rng.choice(SCORES), m()))
    if r < 0.33:
        return ("SADD", "sa", m(), m())
    if r < 0.45:
        k = rng.choice(lkeys)
        c = rng.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX", "ZRANGE"])
        lo, hi = lexb(), lexb()
        if c == "ZRANGE":
            cmd = (c, k, lo, hi, "BYLEX") + (("REV",) if rng.random() < 0.5 else ())
        else:
            cmd = (c, k, lo, hi)
        if c not in ("ZLEXCOUNT", "ZREMRANGEBYLEX") and rng.random() < 0.4:
            cmd += ("LIMIT", str(rng.randint(-1, 3)), str(rng.randint(-1, 4)))
        return cmd
    if r < 0.52:
        dst, src = rng.choice(["za", "zb", "zc", "d1"]), rng.choice(["za", "zb", "zc", "sa"])
        t = rng.random()
        if t < 0.4:
            return ("ZRANGESTORE", dst, src, str(rng.randint(-4, 4)), str(rng.randint(-4, 4)))
        if t < 0.7:
            return ("ZRANGESTORE", dst, src, rng.choice(["-inf", "(0", "1"]),
                    rng.choice(["+inf", "3", "(10"]), "BYSCORE", "LIMIT", "0", str(rng.randint(1, 5)))
        return ("ZRANGESTORE", dst, rng.choice(lkeys), lexb(), lexb(), "BYLEX")
    if r < 0.72:
        op = rng.choice(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE",
                         "ZINTERCARD"])
        ks = [rng.choice(["za", "zb", "zc", "sa", "noz"]) for _ in range(rng.randint(1, 3))]
        cmd = (op,) + ((rng.choice(["za", "zb", "d1"]),) if op.endswith("STORE") else ())
        cmd += (str(len(ks)),) + tuple(ks)
        if op in ("ZDIFF", "ZDIFFSTORE", "ZINTERCARD"):
            if op == "ZINTERCARD" and rng.random() < 0.5:
                cmd += ("LIMIT", str(rng.randint(0, 3)))
            if op == "ZDIFF" and rng.random() < 0.5:
                cmd += ("WITHSCORES",)
            return cmd
        if rng.random() < 0.4:
            cmd += ("WEIGHTS",) + tuple(rng.choice(["1", "2", "-1", "0.5", "0"]) for _ in ks)
        if rng.random() < 0.4:
            cmd += ("AGGREGATE", rng.choice(["SUM", "MIN", "MAX"]))
        if not op.endswith("STORE") and rng.random() < 0.6:
            cmd += ("WITHSCORES",)
        return cmd
    if r < 0.80:
        k = rng.choice(["za", "zb", "zc"] + lkeys)
        return rng.choice([("ZRANDMEMBER", k), ("ZRANDMEMBER", k, "100"),
                           ("ZRANDMEMBER", k, "100", "WITHSCORES"), ("ZRANDMEMBER", k, "-3"),
                           ("ZSCAN", k, "0", "COUNT", "1000"),
                           ("ZSCAN", k, "0", "MATCH", rng.choice(["m*", "*b*", "?"]))])
    if r < 0.92:
        ks = mkeys[:rng.randint(1, len(mkeys))]
        return ("ZMPOP", str(len(ks))) + tuple(ks) + (rng.choice(["MIN", "MAX"]),) + (
            ("COUNT", str(rng.randint(1, 4))) if rng.random() < 0.5 else ())
    if r < 0.96:
        return ("ZADD", rng.choice(mkeys)) + tuple(x for _ in range(rng.randint(1, 4))
                                                   for x in (rng.choice(SCORES), m()))
    return ("ZCARD", zk())


@R.test
def zset_more_random_differential(ctx):
    """Random sequences of every new command: the same replies as Redis."""
    rng = random.Random(SEED)
    lkeys = ["lx1", "lx2"]
    mkeys = same_shard_keys(ctx["srv"].port, "mk", 2) + ["mkx"]  # one shard, and maybe another
    cmds = [gen_cmd(rng, lkeys, mkeys) for _ in range(args.ops)]
    final = [("ZRANGE", k, "0", "-1", "WITHSCORES") for k in ["za", "zb", "zc", "d1"] + lkeys + mkeys]
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        for i in range(0, len(cmds), 64):
            bad = run_both(a, b, cmds[i:i + 64])
            if bad:
                first = cmds.index(bad[0][0], i)
                print("  op %d; the ops before it:\n    %s" % (
                    first, "\n    ".join(repr(x) for x in cmds[max(0, first - 10):first])))
            assert not bad, "seed %d near op %d: %r\n  mem-kv %r\n  redis  %r" % (
                SEED, i, bad[0][0], bad[0][1], bad[0][2])
        check(run_both(a, b, final))


@R.test
def zset_algebra_many_shards(ctx):
    """ZUNION/ZINTER/ZDIFF(+STORE)/ZINTERCARD over 12 keys (many shards),
    sets among them: Redis's results; WRONGTYPE anywhere fails the whole."""
    rng = random.Random(SEED + 7)
    keys = ["g%d" % i for i in range(12)]
    setup = [("ZADD", k) + tuple(x for _ in range(30) for x in
                                 (str(rng.randint(-5, 20)), "m%d" % rng.randint(0, 60)))
             for k in keys[:10]]
    setup += [("SADD", k) + tuple("m%d" % rng.randint(0, 60) for _ in range(30)) for k in keys[10:]]
    setup += [("SET", "gstr", "x")]
    cmds = []
    for op in ("ZUNION", "ZINTER", "ZDIFF"):
        for n in (2, 3, 6, 12):
            ks = tuple(rng.sample(keys, n))
            nk = (str(n),) + ks
            cmds += [(op,) + nk + ("WITHSCORES",), (op, str(n + 1)) + ks + ("nokey", "WITHSCORES"),
                     (op, str(n + 1)) + ks + ("gstr",), (op, str(n + 1)) + ks + ("gstr", "BAD")]
            if op != "ZDIFF":
                w = tuple(str(rng.randint(-2, 3)) for _ in ks)
                cmds += [(op,) + nk + ("WEIGHTS",) + w + ("AGGREGATE", "MAX", "WITHSCORES"),
                         (op,) + nk + ("WEIGHTS",) + w[:-1] + ("WITHSCORES",)]
            d = "dst:%s%d" % (op, n)
            cmds += [(op + "STORE", d) + nk, ("ZRANGE", d, "0", "-1", "WITHSCORES")]
            cmds += [(op + "STORE", "gstr2", str(n + 1)) + ks + ("gstr",), ("EXISTS", "gstr2")]
    cmds += [("ZINTERSTORE", "dst:ZUNION12", "2", "g0", "nokey"), ("EXISTS", "dst:ZUNION12")]
    cmds += [("ZINTERCARD", "3", "g0", "g1", "g10"), ("ZINTERCARD", "2", "g0", "g1", "LIMIT", "2"),
             ("ZINTERCARD", "2", "g0", "gstr"), ("ZUNIONSTORE", "gstr", "2", "g0", "g1"),
             ("TYPE", "gstr"), ("ZCARD", "gstr")]
    for i in range(12):  # ZRANGESTORE from one shard to another
        cmds += [("ZRANGESTORE", "rs%d" % i, keys[i], "1", "-2"),
                 ("ZRANGE", "rs%d" % i, "0", "-1", "WITHSCORES"),
                 ("ZRANGESTORE", "rs%d" % i, keys[i], "(100", "+inf", "BYSCORE"),
                 ("EXISTS", "rs%d" % i), ("ZRANGESTORE", "rs%d" % i, "gstr", "0", "1")]
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, setup))
        check(run_both(a, b, cmds))


@R.test
def zscan_big(ctx):
    """ZSCAN over 1000 members with COUNT 37 (several calls): every member
    once with its score; MATCH filters; the cursor ends at 0."""
    for port in (ctx["srv"].port, ctx["ref"].port):
        with RespConn(port) as c:
            c.call("FLUSHALL")
            c.call("ZADD", "big", *[x for i in range(1000) for x in (str(i * 0.5), "m%d" % i)])
            cur, seen, calls = b"0", {}, 0
            while True:
                cur, items = c.call("ZSCAN", "big", cur, "COUNT", "37")
                calls += 1
                for mbr, sc in zip(items[0::2], items[1::2]):
                    seen[mbr] = sc
                if cur == b"0":
                    break
            assert calls > 5, calls
            assert seen == {b"m%d" % i: (b"%g" % (i * 0.5)) for i in range(1000)}, port
            cur, got = b"0", set()
            while True:
                cur, items = c.call("ZSCAN", "big", cur, "MATCH", "m99*", "COUNT", "100")
                got.update(items[0::2])
                if cur == b"0":
                    break
            assert got == {b"m99", b"m990", b"m991", b"m992", b"m993", b"m994", b"m995", b"m996",
                           b"m997", b"m998", b"m999"}, (port, got)


def raw(c, *cmd):
    c.send(encode(*cmd))
    return c.read_reply(raw=True)[1]


def wait_blocked(c, n, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if int(info_fields(c.call("INFO", "clients").decode())["blocked_clients"]) == n:
            return
        time.sleep(0.005)
    raise AssertionError("blocked_clients never reached %d" % n)


def both(ctx, scenario):
    return scenario(ctx["srv"].port), scenario(ctx["ref"].port)


def bz_errors_and_immediate(port):
    with RespConn(port) as c:
        c.call("FLUSHALL")
        out = [raw(c, *x) for x in [
            ("BZPOPMIN", "z", "-1"), ("BZPOPMIN", "z", "x"), ("BZPOPMAX", "z"),
            ("BZMPOP", "x", "1", "z", "MIN"), ("BZMPOP", "x", "0", "z", "MIN"),
            ("BZMPOP", "0", "1", "z", "FOO"), ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"),
            ("BZMPOP", "-1", "1", "z", "MIN"), ("BZMPOP", "0", "1", "z"),
            ("BLMPOP", "x", "1", "l", "LEFT"), ("BLMPOP", "x", "0", "l", "LEFT"),
            ("BLMPOP", "0", "1", "l", "UP"), ("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "-1"),
            ("BLMPOP", "-1", "1", "l", "LEFT"), ("BLMPOP", "0", "1", "l", "LEFT", "FOO"),
            ("SET", "s", "v"), ("BZPOPMIN", "s", "0"), ("BZPOPMAX", "nokey", "s", "0"),
            ("BZMPOP", "0", "1", "s", "MIN"), ("BLMPOP", "0", "1", "s", "LEFT"),
            ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("BZPOPMIN", "z", "0"),
            ("BZPOPMAX", "nokey", "z", "0"), ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "1"),
            ("BZMPOP", "0.5", "1", "z", "max", "COUNT", "9"), ("EXISTS", "z"),
            ("RPUSH", "l", "a", "b", "c"), ("BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "2"),
            ("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5"), ("EXISTS", "l")]]
        t0 = time.monotonic()
        out += [raw(c, "BZPOPMIN", "z", "0.1"), raw(c, "BZPOPMAX", "z", "nokey", "0.1"),
                raw(c, "BZMPOP", "0.1", "1", "z", "MIN"), raw(c, "BLMPOP", "0.1", "1", "l", "LEFT")]
        took = time.monotonic() - t0
        assert 0.35 <= took < 3.0, "four 0.1 s timeouts took %.2fs" % took
    return out


@R.test
def bzpop_errors_and_immediate_exact(ctx):
    """Error texts, answers without waiting, and timeouts, byte for byte."""
    got, want = both(ctx, bz_errors_and_immediate)
    assert got == want, [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w][:3]


def bz_served(port):
    out = []
    with RespConn(port) as a, RespConn(port) as b, RespConn(port) as d:
        b.call("FLUSHALL")
        keys = ["bk%d" % i for i in range(6)]
        for target in (1, 4):  # keys on several shards
            a.send(encode("BZPOPMAX", *keys, "0"))
            wait_blocked(b, 1)
            b.call("ZADD", keys[target], "1", "x", "2", "y")
            out.append(a.read_reply(raw=True)[1])
            wait_blocked(b, 0)
            b.call("ZADD", keys[0], "1", "stay")
            out += [raw(b, "ZCARD", keys[0]), raw(b, "ZRANGE", keys[target], "0", "-1")]
            b.call("DEL", *keys)
        a.send(encode("BZMPOP", "0", "3", keys[0], keys[2], keys[5], "MIN", "COUNT", "2"))
        wait_blocked(b, 1)
        b.call("ZADD", keys[5], "3", "p", "1", "q", "2", "r")
        out += [a.read_reply(raw=True)[1], raw(b, "ZRANGE", keys[5], "0", "-1")]
        wait_blocked(b, 0)
        a.send(encode("BLMPOP", "0", "2", "lk0", "lk1", "RIGHT", "COUNT", "5"))
        wait_blocked(b, 1)
        b.call("RPUSH", "lk1", "a", "b", "c")
        out += [a.read_reply(raw=True)[1], raw(b, "EXISTS", "lk1")]
        wait_blocked(b, 0)
        # FIFO: two clients on one key, one ZADD of three members
        a.send(encode("BZPOPMIN", "fz", "0"))
        wait_blocked(b, 1)
        d.send(encode("BZPOPMIN", "fz", "0"))
        wait_blocked(b, 2)
        b.call("ZADD", "fz", "1", "a", "2", "b", "3", "c")
        out += [a.read_reply(raw=True)[1], d.read_reply(raw=True)[1], raw(b, "ZRANGE", "fz", "0", "-1")]
        wait_blocked(b, 0)
        # ZINCRBY on a new key, and a ZUNIONSTORE result, serve too
        a.send(encode("BZPOPMIN", "iz", "0"))
        wait_blocked(b, 1)
        b.call("ZINCRBY", "iz", "5", "m")
        out.append(a.read_reply(raw=True)[1])
        wait_blocked(b, 0)
        # a BLPOP and a BZPOPMIN client on one absent key: ZADD serves the
        # second, RPUSH then the first
        a.send(encode("BLPOP", "mix", "0"))
        wait_blocked(b, 1)
        d.send(encode("BZPOPMIN", "mix", "0"))
        wait_blocked(b, 2)
        b.call("ZADD", "mix", "1", "m")
        out.append(d.read_reply(raw=True)[1])
        wait_blocked(b, 1)
        b.call("RPUSH", "mix", "e")
        out.append(a.read_reply(raw=True)[1])
        wait_blocked(b, 0)
        # MULTI never blocks
        b.call("ZADD", "mz", "1", "a")
        out.append(raw(b, "MULTI"))
        for cmd in (("BZPOPMIN", "mz", "0"), ("BZPOPMIN", "mz", "0"), ("BLMPOP", "0", "1", "ml", "LEFT")):
            out.append(raw(b, *cmd))
        out.append(raw(b, "EXEC"))
    return out


@R.test
def bzpop_served_by_writes(ctx):
    """Blocked BZPOPMAX (six keys, several shards), BZMPOP and BLMPOP are
    served by a later ZADD/RPUSH as in Redis; FIFO; ZINCRBY serves; MULTI
    never blocks."""
    got, want = both(ctx, bz_served)
    assert got == want, [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w][:3]


@R.test
def zset_writes_survive_kill9(ctx):
    """Results of ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE/ZRANGESTORE (also across
    shards), ZREMRANGEBYLEX, ZMPOP, LMPOP and a served BZPOPMIN come back
    after kill -9 from the WAL."""
    require_memkv(args)
    srv = R.add_server(PersistServer(args, ["--fsync", "always"], name="zset-persist"))
    srv.start()
    zkeys = ["pz%d" % i for i in range(8)]
    with srv.conn() as c:
        for i, k in enumerate(zkeys):
            c.call("ZADD", k, *[x for j in range(5 + 20 * i) for x in (str(j % 7), "m%d" % j)])
        c.call("ZUNIONSTORE", "pu", "3", zkeys[1], zkeys[2], zkeys[3], "WEIGHTS", "1", "2", "3")
        c.call("ZINTERSTORE", "pi", "2", zkeys[4], zkeys[5], "AGGREGATE", "MAX")
        c.call("ZDIFFSTORE", "pd", "2", zkeys[6], zkeys[1])
        c.call("ZRANGESTORE", "pr", zkeys[7], "2", "30")
        c.call("ZREMRANGEBYLEX", zkeys[0], "[m1", "(m3")
        mk = same_shard_keys(srv.port, "pm", 2)
        lk = same_shard_keys(srv.port, "pl", 2)
        c.call("ZADD", mk[1], "1", "a", "2", "b", "3", "c")
        c.call("ZMPOP", "2", mk[0], mk[1], "MAX", "COUNT", "2")
        c.call("RPUSH", lk[1], "a", "b", "c", "d")
        c.call("LMPOP", "2", lk[0], lk[1], "LEFT", "COUNT", "3")
        with srv.conn() as w:
            w.send(encode("BZPOPMIN", "pb", "0"))
            wait_blocked(c, 1)
            c.call("ZADD", "pb", "1", "x", "2", "y")
            assert w.read_reply() == [b"pb", b"x", b"1"]
        keys = zkeys + ["pu", "pi", "pd", "pr", "pb"] + mk
        want = [c.call("ZRANGE", k, "0", "-1", "WITHSCORES") for k in keys]
        want.append(c.call("LRANGE", lk[1], "0", "-1"))
    assert want[-1] == [b"d"] and want[-2] == [b"a", b"1"], want[-2:]
    srv.kill()
    srv.start()
    with srv.conn() as c:
        got = [c.call("ZRANGE", k, "0", "-1", "WITHSCORES") for k in keys]
        got.append(c.call("LRANGE", lk[1], "0", "-1"))
    bad = [(k, g, w) for k, g, w in zip(keys + [lk[1]], got, want) if g != w]
    assert not bad, "after WAL replay %d keys differ, e.g. %r" % (len(bad), bad[:1])
    srv.stop_clean()


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    ref = runner.add_server(start_reference(args))
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
