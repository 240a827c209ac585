#!/usr/bin/python3
"""Lists and sets against a real redis-server (differential), and their
persistence:

- a fixed script of list and set commands (errors, WRONGTYPE, counts,
  negative indexes, TYPE/DEL/EXPIRE/RENAME/SCAN TYPE on the new types),
  replies compared byte for byte, set replies as sorted member lists;
- random command sequences over a few keys (--seeds, --ops): every reply
  compared (order-free where Redis's order is unspecified: set members;
  random picks by shape), LMOVE/RPOPLPUSH/SMOVE included whatever shards
  their keys are in;
- LMOVE (all four directions), RPOPLPUSH and SMOVE from one key to 48
  others (so most pairs are in two shards): Redis's replies and final
  state, a WRONGTYPE source or destination (no effect), a missing source,
  the same key, a source emptied; and a mover/reader race on lists and
  sets over several shards: every EXEC'd count always sees all of the
  elements (never in neither key nor in both);
- SINTER/SUNION/SDIFF(+STORE)/SINTERCARD over keys spread on many shards
  (gathered on the network thread) against Redis;
- the sorted-set subset (ZADD options, ZINCRBY, ZRANGE by index, ZPOP...)
  by a fixed script and a random sequence against Redis;
- redis-benchmark's default suite (no -t) runs to the end;
- lists, sets and sorted sets survive kill -9: from the WAL, then from a
  snapshot.

  --seed N     first random seed (default: random, printed)
"""

import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Runner, Status, is_real_redis,  # noqa: E402
                     parse_args, start_reference, start_under_test)
from persist_util import PersistServer, require_memkv, wait_compactions  # noqa: E402


def extra(p):
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--ops", type=int, default=2500)


args = parse_args(__doc__, extra)
R = Runner(args)
SEED = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
print("seed %d (re-run with --seed %d)" % (SEED, SEED))
OK = Status("OK")

SET_READS = {"SMEMBERS", "SINTER", "SUNION", "SDIFF"}


def sorted_members(v):
    return sorted(v) if isinstance(v, list) else v


def loose(cmd):
    """A normalizer for order-free or random replies, else None (bytes)."""
    name = cmd[0].upper() if isinstance(cmd[0], str) else cmd[0].decode().upper()
    if name in SET_READS:
        return sorted_members
    if name == "COMMAND":  # flags and key specs differ: same name, arity, first key
        return lambda v: [(e[0], e[1], e[3]) for e in v] if isinstance(v, list) else v
    if name == "SSCAN":
        return lambda v: v if not isinstance(v, list) else [v[0], sorted(v[1])]
    if name in ("SPOP", "SRANDMEMBER"):
        if len(cmd) == 2:   # one random member: its type
            return lambda v: type(v).__name__
        if name == "SPOP":  # SPOP with a count: the random test pops all of them
            return sorted_members
        try:
            n = int(cmd[2])
        except ValueError:
            return None
        if n < 0:
            return lambda v: (type(v).__name__, len(v) if isinstance(v, list) else v)
        return sorted_members  # count >= size in the random test: every member
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


SCRIPT = [
    ["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "z", "y"], ["LRANGE", "l", "0", "-1"],
    ["LRANGE", "l", "-100", "100"], ["LRANGE", "l", "3", "1"], ["LRANGE", "l", "x", "1"],
    ["LRANGE", "nol", "0", "-1"], ["LLEN", "l"], ["LLEN", "nol"],
    ["LINDEX", "l", "0"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "99"], ["LINDEX", "l", "x"],
    ["LINDEX", "nol", "0"], ["LSET", "l", "1", "Y"], ["LSET", "l", "-1", "C"],
    ["LSET", "l", "10", "q"], ["LSET", "nol", "0", "q"], ["LSET", "l", "x", "q"],
    ["LINSERT", "l", "BEFORE", "a", "pre"], ["LINSERT", "l", "after", "a", "post"],
    ["LINSERT", "l", "after", "nope", "x"], ["LINSERT", "nol", "after", "a", "x"],
    ["LINSERT", "l", "middle", "a", "x"], ["LRANGE", "l", "0", "-1"],
    ["RPUSH", "r", "1", "2", "1", "3", "1", "2", "1"], ["LREM", "r", "2", "1"],
    ["LRANGE", "r", "0", "-1"], ["LREM", "r", "-1", "1"], ["LRANGE", "r", "0", "-1"],
    ["LREM", "r", "0", "2"], ["LREM", "r", "0", "nothing"], ["LREM", "r", "x", "1"],
    ["LREM", "nol", "0", "1"], ["LRANGE", "r", "0", "-1"],
    ["RPUSH", "p", "a", "b", "c", "a", "b", "c", "a"], ["LPOS", "p", "a"], ["LPOS", "p", "c"],
    ["LPOS", "p", "zz"], ["LPOS", "p", "a", "RANK", "2"], ["LPOS", "p", "a", "RANK", "-1"],
    ["LPOS", "p", "a", "RANK", "-2"], ["LPOS", "p", "a", "COUNT", "0"],
    ["LPOS", "p", "a", "COUNT", "2"], ["LPOS", "p", "a", "COUNT", "0", "RANK", "-1"],
    ["LPOS", "p", "a", "MAXLEN", "3", "COUNT", "0"], ["LPOS", "p", "a", "RANK", "0"],
    ["LPOS", "p", "a", "COUNT", "-1"], ["LPOS", "p", "a", "MAXLEN", "-1"],
    ["LPOS", "p", "a", "RANK"], ["LPOS", "p", "a", "FOO", "1"], ["LPOS", "nol", "a"],
    ["LPOS", "nol", "a", "COUNT", "0"], ["LPOS", "p", "zz", "COUNT", "0"],
    ["LTRIM", "p", "1", "-2"], ["LRANGE", "p", "0", "-1"], ["LTRIM", "p", "0", "-1"],
    ["LTRIM", "p", "5", "1"], ["EXISTS", "p"], ["LTRIM", "nol", "0", "1"],
    ["LTRIM", "p", "a", "1"],
    ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "2"], ["RPOP", "l", "0"], ["LPOP", "l", "-1"],
    ["LPOP", "l", "x"], ["LPOP", "l", "100"], ["EXISTS", "l"], ["LPOP", "l"], ["LPOP", "l", "2"],
    ["RPOP", "nol", "0"], ["LPOP", "l", "1", "2"],
    ["LPUSHX", "l", "a"], ["RPUSHX", "l", "a"], ["RPUSH", "l", "x"], ["LPUSHX", "l", "a", "b"],
    ["RPUSHX", "l", "c", "d"], ["LRANGE", "l", "0", "-1"],
    ["LMOVE", "l", "l", "LEFT", "RIGHT"], ["LRANGE", "l", "0", "-1"],
    ["LMOVE", "l", "l", "RIGHT", "LEFT"], ["LMOVE", "l", "l", "UP", "LEFT"],
    ["LMOVE", "nol", "nol", "LEFT", "LEFT"], ["RPOPLPUSH", "l", "l"], ["RPOPLPUSH", "nol", "nol"],
    ["LRANGE", "l", "0", "-1"],
    ["SADD", "s", "a", "b", "c", "a"], ["SADD", "s", "d"], ["SCARD", "s"], ["SCARD", "nos"],
    ["SMEMBERS", "s"], ["SMEMBERS", "nos"], ["SISMEMBER", "s", "a"], ["SISMEMBER", "s", "q"],
    ["SISMEMBER", "nos", "a"], ["SMISMEMBER", "s", "a", "q", "b"], ["SMISMEMBER", "nos", "a"],
    ["SREM", "s", "a", "q"], ["SREM", "nos", "a"], ["SMEMBERS", "s"],
    ["SPOP", "nos"], ["SPOP", "nos", "3"], ["SPOP", "s", "-1"], ["SPOP", "s", "x"],
    ["SPOP", "s", "0"], ["SPOP", "s", "1", "2"],
    ["SRANDMEMBER", "nos"], ["SRANDMEMBER", "nos", "3"], ["SRANDMEMBER", "s", "0"],
    ["SRANDMEMBER", "s", "x"], ["SRANDMEMBER", "s", "100"], ["SRANDMEMBER", "s", "-5"],
    ["SMOVE", "s", "s", "b"], ["SMOVE", "s", "s", "zz"], ["SMOVE", "nos", "nos", "a"],
    ["SSCAN", "s", "0"], ["SSCAN", "s", "x"], ["SSCAN", "s", "0", "COUNT", "0"],
    ["SSCAN", "s", "0", "MATCH", "b*"], ["SSCAN", "nos", "0"], ["SSCAN", "s", "0", "MATCH"],
    ["SADD", "t", "b", "c", "x"], ["SINTER", "s", "t"], ["SINTER", "s", "nos"],
    ["SUNION", "s", "t", "nos"], ["SDIFF", "s", "t"], ["SDIFF", "nos", "s"],
    ["SINTERCARD", "2", "s", "t"], ["SINTERCARD", "2", "s", "t", "LIMIT", "1"],
    ["SINTERCARD", "0", "s"], ["SINTERCARD", "3", "s", "t"], ["SINTERCARD", "x", "s"],
    ["SINTERCARD", "1", "s", "LIMIT", "-1"], ["SINTERCARD", "1", "s", "FOO", "1"],
    ["SINTERCARD", "1", "nos"],
    ["SINTERSTORE", "d", "s", "t"], ["SMEMBERS", "d"], ["SUNIONSTORE", "d", "s", "t"],
    ["SMEMBERS", "d"], ["SDIFFSTORE", "d", "s", "t"], ["SMEMBERS", "d"],
    ["SINTERSTORE", "d", "s", "nos"], ["EXISTS", "d"],
    # types: WRONGTYPE both ways, TYPE, DEL, EXPIRE, RENAME
    ["SET", "str", "v"], ["LPUSH", "str", "a"], ["LRANGE", "str", "0", "1"], ["SADD", "str", "a"],
    ["SMEMBERS", "str"], ["SINTER", "s", "str"], ["SUNIONSTORE", "d", "str"],
    ["GET", "l"], ["GET", "s"], ["HSET", "s", "a", "b"], ["LPUSH", "s", "a"], ["SADD", "l", "a"],
    ["LMOVE", "l", "l", "LEFT", "LEFT"], ["RPOPLPUSH", "s", "s"], ["SMOVE", "l", "l", "a"],
    ["TYPE", "l"], ["TYPE", "s"], ["TYPE", "nol"],
    ["EXPIRE", "l", "100"], ["TTL", "l"], ["PERSIST", "l"], ["TTL", "l"],
    ["RENAME", "l", "l2"], ["LRANGE", "l2", "0", "-1"], ["EXISTS", "l"],
    ["RENAME", "s", "s2"], ["SMEMBERS", "s2"], ["RENAME", "s2", "str"], ["TYPE", "str"],
    ["SET", "l2", "now a string"], ["GET", "l2"], ["DEL", "str", "l2", "t"],
    ["EXISTS", "str", "t"],
    ["LPUSH", "l"], ["RPUSH"], ["LRANGE", "l", "0"], ["LINSERT", "l", "a"], ["LPOS", "l"],
    ["SADD", "s"], ["SREM"], ["SMOVE", "a", "b"], ["SINTER"], ["SINTERSTORE", "d"],
    ["SINTERCARD", "1"], ["SSCAN", "s"], ["LMOVE", "a", "b", "LEFT"], ["RPOPLPUSH", "a"],
    ["COMMAND", "INFO", "lpush", "lpop", "lrange", "lmove", "rpoplpush", "linsert", "lpos",
     "sadd", "smembers", "smove", "sinter", "sunionstore", "sintercard", "spop", "sscan",
     "zadd", "zrange", "zpopmin", "zscore", "zincrby"],
]


@R.test
def collections_script_exact(ctx):
    """Every reply of the fixed script equals Redis's (sets order-free)."""
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, [tuple(c) for c in SCRIPT]))


@R.test
def collections_scan_type(ctx):
    """SCAN TYPE list / set finds exactly the lists and the sets."""
    for port in (ctx["srv"].port, ctx["ref"].port):
        with RespConn(port) as c:
            c.call("FLUSHALL")
            for i in range(40):
                c.call("RPUSH", "list:%d" % i, "x")
                c.call("SADD", "set:%d" % i, "x")
                c.call("SET", "str:%d" % i, "x")
            for t in ("list", "set"):
                cur, seen = b"0", set()
                while True:
                    cur, keys = c.call("SCAN", cur, "TYPE", t, "COUNT", "7")
                    seen.update(keys)
                    if cur == b"0":
                        break
                assert seen == {b"%s:%d" % (t.encode(), i) for i in range(40)}, (port, t, seen)


LKEYS = ["la", "lb", "lc"]
SKEYS = ["sa", "sb", "sc", "sd"]
ELEMS = ["a", "b", "c", "d", "", "x" * 70, "\x00\r\n", "1", "-2", "e" * 9000]


def gen_cmd(rng):
    """One random list or set command (deterministic across servers)."""
    lk, sk, el = rng.choice(LKEYS), rng.choice(SKEYS), lambda: rng.choice(ELEMS)
    idx = lambda: str(rng.randint(-12, 12))  # noqa: E731
    r = rng.random()
    if r < 0.55:
        c = rng.choice(["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP",
                        "LLEN", "LRANGE", "LINDEX", "LSET", "LINSERT", "LREM", "LTRIM", "LPOS",
                        "LMOVE", "RPOPLPUSH"])
        if c in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
            return (c, lk) + tuple(el() for _ in range(rng.randint(1, 8)))
        if c in ("LPOP", "RPOP"):
            return (c, lk) if rng.random() < 0.5 else (c, lk, str(rng.randint(0, 5)))
        if c == "LLEN":
            return (c, lk)
        if c in ("LRANGE", "LTRIM"):
            if c == "LTRIM" and rng.random() < 0.7:
                return (c, lk, "0", str(rng.randint(5, 40)))  # keeps lists from emptying
            return (c, lk, idx(), idx())
        if c == "LINDEX":
            return (c, lk, idx())
        if c == "LSET":
            return (c, lk, idx(), el())
        if c == "LINSERT":
            return (c, lk, rng.choice(["BEFORE", "AFTER"]), el(), el())
        if c == "LREM":
            return (c, lk, str(rng.randint(-3, 3)), el())
        if c == "LPOS":
            cmd = (c, lk, el())
            if rng.random() < 0.5:
                cmd += ("RANK", str(rng.choice([-2, -1, 1, 2, 3])))
            if rng.random() < 0.5:
                cmd += ("COUNT", str(rng.randint(0, 3)))
            if rng.random() < 0.3:
                cmd += ("MAXLEN", str(rng.randint(0, 10)))
            return cmd
        if c == "LMOVE":
            return (c, lk, rng.choice(LKEYS), rng.choice(["LEFT", "RIGHT"]),
                    rng.choice(["LEFT", "RIGHT"]))
        return (c, lk, rng.choice(LKEYS))
    c = rng.choice(["SADD", "SADD", "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD",
                    "SPOP", "SRANDMEMBER", "SMOVE", "SINTER", "SUNION", "SDIFF", "SINTERSTORE",
                    "SUNIONSTORE", "SDIFFSTORE", "SINTERCARD", "SSCAN"])
    if c in ("SADD", "SREM"):
        return (c, sk) + tuple(el() if rng.random() < 0.5 else "m%d" % rng.randint(0, 150)
                               for _ in range(rng.randint(1, 12)))
    if c in ("SMEMBERS", "SCARD"):
        return (c, sk)
    if c == "SISMEMBER":
        return (c, sk, el())
    if c == "SMISMEMBER":
        return (c, sk, el(), el(), "m%d" % rng.randint(0, 150))
    if c == "SPOP":
        return (c, sk, "100000") if rng.random() < 0.1 else ("SCARD", sk)
    if c == "SRANDMEMBER":
        return rng.choice([(c, sk, "100000"), (c, sk, "-3"), (c, sk)])
    if c == "SMOVE":
        return (c, sk, rng.choice(SKEYS), el())
    if c in ("SINTER", "SUNION", "SDIFF"):
        return (c,) + tuple(rng.choice(SKEYS) for _ in range(rng.randint(1, 3)))
    if c in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        return (c, rng.choice(SKEYS)) + tuple(rng.choice(SKEYS) for _ in range(rng.randint(1, 3)))
    if c == "SINTERCARD":
        ks = [rng.choice(SKEYS) for _ in range(rng.randint(1, 3))]
        return (c, str(len(ks))) + tuple(ks) + (("LIMIT", str(rng.randint(0, 5)))
                                                 if rng.random() < 0.5 else ())
    return (c, sk, "0", "COUNT", "1000")


@R.test
def collections_random_differential(ctx):
    """Random list/set sequences: the same replies as Redis (--seeds x --ops)."""
    for s in range(args.seeds):
        seed = SEED + s
        rng = random.Random(seed)
        with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
            a.call("FLUSHALL")
            b.call("FLUSHALL")
            pending, skipped = [], 0
            for i in range(args.ops):
                cmd = gen_cmd(rng)
                if cmd[0] in ("LMOVE", "RPOPLPUSH", "SMOVE") and cmd[1] != cmd[2]:
                    skipped += 1  # counted: moves between two keys (often two shards)
                pending.append(cmd)
                if len(pending) >= 64:
                    bad = run_both(a, b, pending)
                    assert not bad, "seed %d near op %d: %r\n  mem-kv %r\n  redis  %r" % (
                        seed, i, bad[0][0], bad[0][1], bad[0][2])
                    pending = []
            check(run_both(a, b, pending))
            final = [("LRANGE", k, "0", "-1") for k in LKEYS] + [("SMEMBERS", k) for k in SKEYS]
            check(run_both(a, b, final))
            print("  seed %d: %d ops, %d moves between two keys" % (seed, args.ops, skipped))


@R.test
def collections_setops_many_shards(ctx):
    """SINTER/SUNION/SDIFF(+STORE)/SINTERCARD over 12 keys (on many shards):
    Redis's results; a WRONGTYPE key anywhere fails the whole command."""
    rng = random.Random(SEED + 7)
    keys = ["g%d" % i for i in range(12)]
    setup = [("SADD", k) + tuple("m%d" % rng.randint(0, 60) for _ in range(40)) for k in keys]
    setup += [("SET", "gstr", "x")]
    cmds = []
    for op in ("SINTER", "SUNION", "SDIFF"):
        for n in (2, 3, 6, 12):
            ks = tuple(rng.sample(keys, n))
            cmds += [(op,) + ks, (op,) + ks + ("nokey",), (op,) + ks + ("gstr",)]
            cmds += [(op + "STORE", "dst:%s%d" % (op, n)) + ks, ("SMEMBERS", "dst:%s%d" % (op, n))]
            cmds += [(op + "STORE", "gstr2") + ks + ("gstr",), ("EXISTS", "gstr2")]
    cmds += [("SINTERSTORE", "dst:SUNION12", "g0", "nokey"), ("EXISTS", "dst:SUNION12")]
    cmds += [("SINTERCARD", "3", "g0", "g1", "g2"), ("SINTERCARD", "2", "g0", "g1", "LIMIT", "2"),
             ("SINTERCARD", "2", "g0", "gstr"), ("SUNIONSTORE", "gstr", "g0", "g1"),
             ("TYPE", "gstr"), ("SCARD", "gstr")]
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, setup))
        check(run_both(a, b, cmds))


MOVE_DIRS = [("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("RIGHT", "RIGHT")]


@R.test
def collections_cross_shard_moves(ctx):
    """LMOVE (4 directions), RPOPLPUSH, SMOVE from one key to 48 others
    (most of them in another shard): every reply and the final state equal
    Redis's; WRONGTYPE source or destination and bad sides change nothing,
    a missing source answers nil / 0, the same key rotates."""
    setup = [("RPUSH", "src") + tuple("e%d" % i for i in range(300)),
             ("SADD", "ssrc") + tuple("m%d" % i for i in range(60)),
             ("RPUSH", "tiny", "t1", "t2")]
    setup += [("SET", "str%d" % i, "x") for i in range(8)]
    cmds = []
    for i in range(48):
        d, sd = "d%d" % i, "sd%d" % i
        f, t = MOVE_DIRS[i % 4]
        cmds += [("LMOVE", "src", d, f, t), ("LMOVE", "src", d, t, f),
                 ("LMOVE", "src", d, f.lower(), t.lower()), ("RPOPLPUSH", "src", d),
                 ("LRANGE", d, "0", "-1"), ("LMOVE", d, "src", t, f), ("LLEN", d),
                 ("SMOVE", "ssrc", sd, "m%d" % i), ("SMOVE", "ssrc", sd, "nomember"),
                 ("SMOVE", "ssrc", sd, "m%d" % i), ("SCARD", sd), ("SISMEMBER", sd, "m%d" % i)]
    for i in range(8):
        s = "str%d" % i
        cmds += [("LMOVE", "src", s, "LEFT", "RIGHT"), ("RPOPLPUSH", "src", s),
                 ("SMOVE", "ssrc", s, "m59"), ("GET", s),
                 ("LMOVE", s, "d%d" % i, "LEFT", "LEFT"), ("RPOPLPUSH", s, "d%d" % i),
                 ("SMOVE", s, "sd%d" % i, "m1"),
                 ("LMOVE", "nosrc%d" % i, "d%d" % i, "LEFT", "LEFT"),
                 ("RPOPLPUSH", "nosrc%d" % i, "d%d" % (i + 8)),
                 ("LMOVE", "nosrc%d" % i, s, "RIGHT", "LEFT"),
                 ("SMOVE", "nos%d" % i, "sd%d" % i, "m1"), ("EXISTS", "nosrc%d" % i),
                 ("LMOVE", "src", "d%d" % i, "UP", "LEFT"), ("LMOVE", "src", "d%d" % i, "LEFT"),
                 ("SMOVE", "d%d" % i, "sd%d" % i, "e1"), ("LMOVE", "ssrc", "d%d" % i, "LEFT",
                                                           "LEFT")]
    cmds += [("LMOVE", "src", "src", "LEFT", "RIGHT"), ("RPOPLPUSH", "src", "src"),
             ("SMOVE", "ssrc", "ssrc", "m50"), ("SMOVE", "ssrc", "ssrc", "zz")]
    for i in range(3):  # the source emptied: removed; then nil
        cmds += [("LMOVE", "tiny", "d%d" % (20 + i), "RIGHT", "LEFT"), ("EXISTS", "tiny")]
    final = [("LRANGE", "src", "0", "-1"), ("SMEMBERS", "ssrc")]
    final += [("LRANGE", "d%d" % i, "0", "-1") for i in range(48)]
    final += [("SMEMBERS", "sd%d" % i) for i in range(48)] + [("DBSIZE",)]
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, setup))
        check(run_both(a, b, cmds))
        check(run_both(a, b, final))


@R.test
def collections_cross_shard_moves_atomic(ctx):
    """Movers LMOVE/RPOPLPUSH/SMOVE elements between keys of many shards
    while readers count them in one MULTI/EXEC: every count is the total
    (an element is never in neither key nor in both), and the moves do
    move."""
    lists = ["ml%d" % i for i in range(6)]
    sets = ["ms%d" % i for i in range(6)]
    n = 40
    with RespConn(ctx["srv"].port) as c:
        c.call("FLUSHALL")
        c.call("RPUSH", lists[0], *["v%d" % i for i in range(n)])
        c.call("SADD", sets[0], *["v%d" % i for i in range(n)])
    stop = threading.Event()
    errors, moved, reads = [], [0], [0]

    def mover(seed):
        rng = random.Random(seed)
        with RespConn(ctx["srv"].port) as c:
            while not stop.is_set():
                cmds = []
                for _ in range(32):
                    a, b = rng.sample(range(6), 2)
                    f, t = rng.choice(MOVE_DIRS)
                    cmds.append(rng.choice([("LMOVE", lists[a], lists[b], f, t),
                                            ("RPOPLPUSH", lists[a], lists[b]),
                                            ("SMOVE", sets[a], sets[b], "v%d" % rng.randrange(n))]))
                for cmd, (p, _) in zip(cmds, c.pipeline(cmds, raw=True)):
                    if isinstance(p, RespError):
                        errors.append((cmd, p))
                    elif p is not None and p != 0:
                        moved[0] += 1

    def reader():
        with RespConn(ctx["srv"].port) as c:
            while not stop.is_set():
                c.call("MULTI")
                for k in lists:
                    c.call("LLEN", k)
                for k in sets:
                    c.call("SCARD", k)
                got = c.call("EXEC")
                reads[0] += 1
                if sum(got[:6]) != n or sum(got[6:]) != n:
                    errors.append(("counts", got))

    ts = [threading.Thread(target=mover, args=(SEED + i,)) for i in range(2)]
    ts += [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    time.sleep(2.0)
    stop.set()
    for t in ts:
        t.join()
    assert not errors, "%d errors, first: %r" % (len(errors), errors[0])
    assert moved[0] > 100 and reads[0] > 10, (moved[0], reads[0])
    with RespConn(ctx["srv"].port) as c:
        els = sorted(e for k in lists for e in c.call("LRANGE", k, "0", "-1"))
        mem = sorted(e for k in sets for e in c.call("SMEMBERS", k))
    want = sorted(b"v%d" % i for i in range(n))
    assert els == want and mem == want
    print("  %d moves, %d consistent reads" % (moved[0], reads[0]))


ZSCRIPT = [
    ["ZADD", "z", "1", "a", "2", "b", "1.1", "c", "inf", "d", "-inf", "e"], ["ZADD", "z", "1", "a"],
    ["ZCARD", "z"], ["ZCARD", "noz"], ["ZSCORE", "z", "c"], ["ZSCORE", "z", "q"],
    ["ZSCORE", "noz", "a"], ["ZMSCORE", "z", "a", "q", "d"], ["ZMSCORE", "noz", "a"],
    ["ZRANGE", "z", "0", "-1"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZRANGE", "z", "1", "2", "REV"], ["ZRANGE", "z", "-2", "100", "WITHSCORES"],
    ["ZRANGE", "z", "5", "1"], ["ZRANGE", "noz", "0", "-1"], ["ZRANGE", "z", "x", "1"],
    ["ZRANGE", "z", "0", "1", "FOO"],
    ["ZRANGE", "z", "1", "2", "BYSCORE"], ["ZRANGE", "z", "(1", "+inf", "BYSCORE", "WITHSCORES"],
    ["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV"], ["ZRANGE", "z", "2", "1", "BYSCORE", "REV"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1", "WITHSCORES"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "REV", "LIMIT", "0", "2"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
    ["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"], ["ZRANGE", "z", "x", "2", "BYSCORE"],
    ["ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"], ["ZRANGE", "z", "0", "1", "REV"],
    ["ZRANGEBYSCORE", "z", "-inf", "(2"], ["ZRANGEBYSCORE", "z", "1", "2", "WITHSCORES"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "2"], ["ZRANGEBYSCORE", "z", "1", "x"],
    ["ZRANGEBYSCORE", "z", "1", "2", "REV"], ["ZRANGEBYSCORE", "noz", "1", "2"],
    ["ZREVRANGEBYSCORE", "z", "+inf", "1"], ["ZREVRANGEBYSCORE", "z", "2", "(1", "WITHSCORES"],
    ["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "3"],
    ["ZREVRANGE", "z", "0", "1"], ["ZREVRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZREVRANGE", "z", "-2", "-1"], ["ZREVRANGE", "noz", "0", "1"],
    ["ZRANK", "z", "b"], ["ZRANK", "z", "q"], ["ZREVRANK", "z", "b"], ["ZRANK", "noz", "a"],
    ["ZCOUNT", "z", "-inf", "+inf"], ["ZCOUNT", "z", "1", "2"], ["ZCOUNT", "z", "(1", "2"],
    ["ZCOUNT", "z", "1", "(2"], ["ZCOUNT", "z", "x", "2"], ["ZCOUNT", "noz", "0", "1"],
    ["ZADD", "z", "NX", "5", "a", "5", "n"], ["ZADD", "z", "XX", "5", "a", "5", "x"],
    ["ZADD", "z", "XX", "CH", "6", "a", "6", "x"], ["ZADD", "z", "GT", "CH", "1", "a", "9", "b"],
    ["ZADD", "z", "LT", "CH", "100", "a", "0.5", "b"], ["ZADD", "z", "INCR", "2.5", "a"],
    ["ZADD", "z", "INCR", "NX", "1", "a"], ["ZADD", "noz", "XX", "1", "a"],
    ["ZADD", "noz", "XX", "INCR", "1", "a"], ["EXISTS", "noz"],
    ["ZADD", "z", "NX", "XX", "1", "a"], ["ZADD", "z", "GT", "LT", "1", "a"],
    ["ZADD", "z", "GT", "NX", "1", "a"], ["ZADD", "z", "INCR", "1", "a", "2", "b"],
    ["ZADD", "z", "1"], ["ZADD", "z", "1", "a", "2"], ["ZADD", "z", "abc", "a"],
    ["ZADD", "z", "nan", "a"], ["ZADD", "z", "INCR", "-inf", "d"],
    ["ZINCRBY", "z", "1.5", "b"], ["ZINCRBY", "z", "1", "new"], ["ZINCRBY", "z", "x", "b"],
    ["ZINCRBY", "z", "-inf", "d"], ["ZINCRBY", "noz2", "0.1", "m"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZADD", "zr", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"],
    ["ZREMRANGEBYSCORE", "zr", "(1", "2"], ["ZREMRANGEBYSCORE", "zr", "x", "2"],
    ["ZREMRANGEBYSCORE", "zr", "10", "20"], ["ZREMRANGEBYRANK", "zr", "-1", "-1"],
    ["ZREMRANGEBYRANK", "zr", "5", "1"], ["ZREMRANGEBYRANK", "zr", "x", "1"],
    ["ZRANGE", "zr", "0", "-1", "WITHSCORES"], ["ZREMRANGEBYRANK", "zr", "0", "-1"],
    ["EXISTS", "zr"], ["ZREMRANGEBYSCORE", "noz", "0", "1"], ["ZREMRANGEBYRANK", "noz", "0", "1"],
    ["ZREM", "z", "a", "q"], ["ZREM", "noz", "a"], ["ZPOPMIN", "z"], ["ZPOPMAX", "z"],
    ["ZPOPMIN", "z", "2"], ["ZPOPMAX", "z", "0"], ["ZPOPMIN", "z", "-1"], ["ZPOPMIN", "noz"],
    ["ZPOPMIN", "noz", "3"], ["ZPOPMIN", "z", "100"], ["EXISTS", "z"],
    ["SET", "str", "v"], ["ZADD", "str", "1", "a"], ["ZSCORE", "str", "a"], ["ZRANGE", "str", "0", "1"],
    ["ZADD", "zz", "1", "a"], ["TYPE", "zz"], ["GET", "zz"], ["LPUSH", "zz", "a"],
    ["RENAME", "zz", "zz2"], ["ZRANGE", "zz2", "0", "-1", "WITHSCORES"], ["DEL", "zz2"],
]


@R.test
def zset_script_exact(ctx):
    """The sorted-set subset: every reply of the fixed script equals Redis's."""
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, [tuple(c) for c in ZSCRIPT]))


@R.test
def zset_random_differential(ctx):
    """Random ZADD/ZINCRBY/ZREM/ZPOP/ZRANGE/ZRANK/ZCOUNT over a few keys."""
    rng = random.Random(SEED + 11)
    scores = ["0", "1", "-1", "1.5", "2.25", "1e3", "-0.5", "3", "10", "inf", "-inf"]
    cmds = []
    for _ in range(args.ops):
        k = rng.choice(["za", "zb"])
        m = "m%d" % rng.randint(0, 30)
        r = rng.random()
        if r < 0.35:
            opts = tuple(o for o in ("NX", "XX", "GT", "CH") if rng.random() < 0.15)
            if "NX" in opts and "GT" in opts:
                opts = ("NX",)
            cmds.append(("ZADD", k) + opts + tuple(x for _ in range(rng.randint(1, 4))
                                                   for x in (rng.choice(scores), "m%d" % rng.randint(0, 30))))
        elif r < 0.45:
            cmds.append(("ZINCRBY", k, rng.choice(scores[:9]), m))
        elif r < 0.55:
            cmds.append(("ZREM", k, m, "m%d" % rng.randint(0, 30)))
        elif r < 0.62:
            cmds.append((rng.choice(["ZPOPMIN", "ZPOPMAX"]), k, str(rng.randint(0, 3))))
        elif r < 0.75:
            cmds.append(("ZRANGE", k, str(rng.randint(-10, 10)), str(rng.randint(-10, 10)),
                         "WITHSCORES"))
        elif r < 0.80:
            cmds.append((rng.choice(["ZRANK", "ZREVRANK", "ZSCORE"]), k, m))
        elif r < 0.85:
            lo, hi = rng.choice(["-inf", "(0", "1", "(1.5"]), rng.choice(["+inf", "3", "(10"])
            cmds.append(rng.choice([("ZRANGEBYSCORE", k, lo, hi, "WITHSCORES"),
                                    ("ZREVRANGEBYSCORE", k, hi, lo, "LIMIT", "1", "3"),
                                    ("ZRANGE", k, hi, lo, "BYSCORE", "REV", "WITHSCORES"),
                                    ("ZREVRANGE", k, "0", str(rng.randint(-3, 5))),
                                    ("ZREMRANGEBYSCORE", k, lo, rng.choice(["(0", "1", "(2"])),
                                    ("ZREMRANGEBYRANK", k, "0", "0")]))
        else:
            cmds.append(("ZCOUNT", k, rng.choice(["-inf", "(0", "1", "(1.5"]),
                         rng.choice(["+inf", "3", "(10", "1e3"])))
    cmds += [("ZRANGE", k, "0", "-1", "WITHSCORES") for k in ("za", "zb")]
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        a.call("FLUSHALL")
        b.call("FLUSHALL")
        check(run_both(a, b, cmds))


@R.test
def redis_benchmark_default_suite(ctx):
    """redis-benchmark with no -t (its whole default suite, lists, sets and
    ZADD/ZPOPMIN included) runs to the end without an error reply."""
    import shutil
    import subprocess
    exe = shutil.which("redis-benchmark")
    if exe is None:
        from harness import Skip
        raise Skip("redis-benchmark not installed")
    p = subprocess.run([exe, "-h", "127.0.0.1", "-p", str(ctx["srv"].port), "-q", "-n", "300"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
    out = p.stdout.decode("utf-8", "replace").replace("\r", "\n")
    assert p.returncode == 0, "exit %d: %s" % (p.returncode, out[-500:])
    assert "rror" not in out, out[out.find("rror") - 100:][:400]
    for name in ("LPUSH", "SADD", "SPOP", "ZADD", "ZPOPMIN", "LRANGE_600", "MSET"):
        assert "\n%s" % name in "\n" + out, "%s missing from: %s" % (name, out[-800:])


def state(c, lkeys, skeys, zkeys=()):
    out = {}
    for k in zkeys:
        out[k] = (c.call("ZRANGE", k, "0", "-1", "WITHSCORES"), c.call("PEXPIRETIME", k))
    for k in lkeys:
        out[k] = (c.call("LRANGE", k, "0", "-1"), c.call("PEXPIRETIME", k))
    for k in skeys:
        out[k] = (sorted(c.call("SMEMBERS", k)), c.call("PEXPIRETIME", k))
    return out


@R.test
def collections_survive_kill9(ctx):
    """Lists (small, many-node, binary) and sets (packed and table) with
    pushes, pops, LSET/LINSERT/LREM/LTRIM, SREM/SPOP, expiry, RENAME and
    STORE results come back after kill -9 from the WAL, then a snapshot."""
    require_memkv(args)
    rng = random.Random(SEED + 3)
    srv = R.add_server(PersistServer(args, ["--fsync", "always", "--compact-log-size", "0"],
                                     name="coll-persist"))
    srv.start()
    lkeys = [b"pl:%d\x00\r\n" % i for i in range(30)]
    skeys = [b"ps:%d\n" % i for i in range(30)]
    with srv.conn() as c:
        for i, k in enumerate(lkeys):
            n = 3 if i % 3 else 3000
            for j in range(0, n, 500):
                c.call("RPUSH", k, *[os.urandom(rng.randrange(0, 40)) for _ in range(min(500, n - j))])
            c.call("LPUSH", k, b"head")
            c.call("LPOP", k, "1")
            c.call("RPOP", k)
            c.call("LSET", k, "0", b"set0")
            c.call("LINSERT", k, "AFTER", b"set0", b"ins")
            c.call("LREM", k, "1", b"ins")
            if i % 4 == 0:
                c.call("LTRIM", k, "1", "-2")
        for i, k in enumerate(skeys):
            n = 5 if i % 2 else 400
            c.call("SADD", k, *[b"m%d" % j for j in range(n)])
            c.call("SREM", k, b"m1", b"m3")
            c.call("SPOP", k)
        c.call("EXPIRE", lkeys[1], "1000")
        c.call("EXPIRE", skeys[1], "1000")
        c.call("PEXPIRE", lkeys[2], "1")
        c.call("RENAME", lkeys[5], lkeys[5] + b"-r")
        c.call("RENAME", skeys[5], skeys[5] + b"-r")
        c.call("SUNIONSTORE", b"ps:store", *skeys[6:12])
        lkeys.append(lkeys[5] + b"-r")
        skeys += [skeys[5] + b"-r", b"ps:store"]
        zkeys = [b"pz:%d" % i for i in range(6)]
        for i, k in enumerate(zkeys):
            c.call("ZADD", k, *[x for j in range(1 + 40 * i) for x in (str(j * 0.5), b"m%d" % j)])
            c.call("ZINCRBY", k, "1.25", b"m0")
            c.call("ZREM", k, b"m1")
        c.call("ZPOPMIN", zkeys[2])
        c.call("EXPIRE", zkeys[3], "1000")
        c.call("RENAME", zkeys[4], b"pz:renamed")
        zkeys[4] = b"pz:renamed"
        time.sleep(0.01)
        want = state(c, lkeys, skeys, zkeys)
    assert want[lkeys[2]] == ([], -2)
    srv.kill()                                   # the WAL
    srv.start()
    with srv.conn() as c:
        got = state(c, lkeys, skeys, zkeys)
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, "after WAL replay %d keys differ, e.g. %r" % (len(bad), bad[:2])
    with srv.conn() as c:
        assert c.call("COMPACT") == OK
    wait_compactions(srv, 16)
    srv.kill()
    srv.start()                                  # a snapshot
    with srv.conn() as c:
        got = state(c, lkeys, skeys, zkeys)
        assert c.call("TYPE", lkeys[0]) == Status("list")
        assert c.call("TYPE", skeys[0]) == Status("set")
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, "after snapshot load %d keys differ, e.g. %r" % (len(bad), bad[:2])
    srv.stop_clean()


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    ref = runner.add_server(start_reference(args))
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
