#!/usr/bin/python3
"""Transactions and databases (issue 15): MULTI/EXEC/DISCARD/WATCH/UNWATCH
and SELECT/MOVE/FLUSHDB compared byte for byte with a real redis-server
(scripted sequences over two connections per server: errors queued, runtime
errors inside EXEC, watched keys touched by another connection, by expiry,
by FLUSHALL, multi-key and staged commands inside a transaction, SELECT
inside MULTI, LMOVE/SMOVE/SUNIONSTORE/ZUNIONSTORE/the pops over keys of
many shards inside MULTI), errorstats; redis-py's defaults (also a
pipeline of cross-shard LMOVE/RPOPLPUSH/SMOVE/SUNIONSTORE/ZUNIONSTORE) (pipeline() sends
MULTI/EXEC, transaction() with WATCH, Redis(db=1)); a concurrency test in
which writers update key pairs with cross-shard MULTI/EXEC (and MSET) while
readers check every pair with MGET and with MULTI/GET/GET/EXEC; databases
and transactions across restarts (WAL and snapshot).

  --redis-server PATH   the reference (required for the differential part)
  --iterations N        transactions per writer in the concurrency test
"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Runner, Server, Skip, Status, encode,  # noqa: E402
                     info_fields, is_real_redis, parse_args, start_reference, start_under_test)


def extra(p):
    p.add_argument("--iterations", type=int, default=3000)


args = parse_args(__doc__, extra)
R = Runner(args)
OK = Status("OK")


class Ctx:
    pass


def setup(runner):
    ctx = Ctx()
    ctx.srv = runner.add_server(start_under_test(args))
    ctx.ref = runner.add_server(start_reference(args)) if args.redis_server else None
    return ctx


# ---------------------------------------------------------------- differential

def run_script(port, script):
    """script: list of steps; a step is (conn_index, [command...]) or
    ("sleep", seconds). Returns the raw replies in order."""
    conns = [RespConn(port), RespConn(port)]
    out = []
    try:
        for step in script:
            if step[0] == "sleep":
                time.sleep(step[1])
                continue
            i, cmd = step
            conns[i].send(encode(*cmd))
            out.append((i, cmd, conns[i].read_reply(raw=True)[1]))
    finally:
        for c in conns:
            c.close()
    return out


def A(*cmd):
    return (0, list(cmd))


def B(*cmd):
    return (1, list(cmd))


SCRIPTS = {
    "basic": [A("FLUSHALL"), A("MULTI"), A("SET", "a", "1"), A("INCR", "a"), A("GET", "a"),
              A("EXEC"), A("GET", "a")],
    "queued_errors_abort": [A("FLUSHALL"), A("MULTI"), A("SET", "a", "1"), A("NOSUCH", "x"),
                            A("SET", "a"), A("GET", "a", "b"), A("EXEC"), A("GET", "a"),
                            A("EXEC")],
    "runtime_errors_in_array": [A("FLUSHALL"), A("SET", "s", "x"), A("MULTI"), A("INCR", "s"),
                                A("SET", "n", "1"), A("HSET", "s", "f", "v"), A("INCR", "n"),
                                A("MSET", "a", "1", "b"), A("GET", "n"), A("EXEC")],
    "state_errors": [A("EXEC"), A("DISCARD"), A("MULTI"), A("MULTI"), A("WATCH", "x"),
                     A("PING"), A("EXEC"), A("MULTI"), A("EXEC")],
    "discard": [A("FLUSHALL"), A("MULTI"), A("SET", "a", "1"), A("DISCARD"), A("GET", "a"),
                A("EXEC")],
    "empty_and_local": [A("MULTI"), A("EXEC"), A("MULTI"), A("PING"), A("ECHO", "hi"),
                        A("EXEC")],
    "watch_touched_by_other": [A("FLUSHALL"), A("SET", "w", "0"), A("WATCH", "w"),
                               B("SET", "w", "1"), A("MULTI"), A("SET", "w", "2"), A("EXEC"),
                               A("GET", "w")],
    "watch_untouched": [A("FLUSHALL"), A("SET", "w", "0"), A("WATCH", "w", "other"),
                        B("SET", "unrelated", "1"), A("GET", "w"), A("MULTI"),
                        A("SET", "w", "2"), A("EXEC"), A("GET", "w")],
    "watch_own_write": [A("FLUSHALL"), A("WATCH", "w"), A("SET", "w", "x"), A("MULTI"),
                        A("GET", "w"), A("EXEC")],
    "unwatch": [A("FLUSHALL"), A("WATCH", "w"), B("SET", "w", "1"), A("UNWATCH"), A("MULTI"),
                A("SET", "w", "2"), A("EXEC"), A("GET", "w")],
    "watch_missing_key_created": [A("FLUSHALL"), A("WATCH", "nk"), B("SET", "nk", "1"),
                                  A("MULTI"), A("GET", "nk"), A("EXEC")],
    "watch_missing_key_del_noop": [A("FLUSHALL"), A("WATCH", "nk"), B("DEL", "nk"),
                                   A("MULTI"), A("SET", "nk", "1"), A("EXEC")],
    "watch_flushall": [A("FLUSHALL"), A("SET", "w", "1"), A("WATCH", "w"), B("FLUSHALL"),
                       A("MULTI"), A("SET", "w", "2"), A("EXEC")],
    "watch_flushdb_other_db": [A("FLUSHALL"), A("SET", "w", "1"), A("WATCH", "w"),
                               B("SELECT", "3"), B("SET", "w", "9"), B("FLUSHDB"),
                               A("MULTI"), A("SET", "w", "2"), A("EXEC"), A("GET", "w")],
    "watch_in_db1": [A("FLUSHALL"), A("SELECT", "1"), A("WATCH", "w"), B("SET", "w", "0"),
                     A("MULTI"), A("SET", "w", "2"), A("EXEC"), B("SELECT", "1"),
                     B("SET", "w", "3"), A("MULTI"), A("GET", "w"), A("EXEC")],
    "watch_many_keys_one_touched": [A("FLUSHALL")] + [A("SET", "k%d" % i, "0") for i in range(8)] +
                                   [A("WATCH", *["k%d" % i for i in range(8)]),
                                    B("INCR", "k5"), A("MULTI"), A("SET", "k0", "x"),
                                    A("EXEC"), A("GET", "k0")],
    "watch_expired_while_watched": [A("FLUSHALL"), A("SET", "e", "v", "PX", "150"),
                                    A("WATCH", "e"), ("sleep", 0.4), A("MULTI"),
                                    A("GET", "e"), A("EXEC")],
    "watch_already_expired": [A("FLUSHALL"), A("SET", "e", "v", "PX", "20"), ("sleep", 0.1),
                              A("WATCH", "e"), A("MULTI"), A("SET", "x", "1"), A("EXEC")],
    "watch_expire_set_by_other": [A("FLUSHALL"), A("SET", "e", "v"), A("WATCH", "e"),
                                  B("EXPIRE", "e", "100"), A("MULTI"), A("GET", "e"),
                                  A("EXEC")],
    "multi_key_inside": [A("FLUSHALL"), A("MULTI"), A("MSET", "a", "1", "b", "2", "c", "3",
                                                       "d", "4"),
                         A("MGET", "a", "b", "c", "d", "zz"), A("DEL", "a", "b", "zz"),
                         A("EXISTS", "a", "b", "c", "d"), A("DBSIZE"), A("RENAME", "c", "cc"),
                         A("RENAMENX", "d", "cc"), A("RENAMENX", "d", "dd"),
                         A("RENAME", "nosuch", "x"), A("MSETNX", "m1", "1", "m2", "2"),
                         A("MSETNX", "m2", "x", "m3", "3"), A("EXISTS", "m1", "m2", "m3"), A("TYPE", "cc"),
                         A("EXEC"), A("MGET", "cc", "dd", "m1", "m2", "m3")],
    # keys on many shards: the moves, the set/zset algebra and the pops run
    # step by step inside the transaction (not refused)
    "cross_shard_inside": (
        [A("FLUSHALL"), A("RPUSH", "src", *["e%d" % i for i in range(40)]),
         A("SADD", "ssrc", *["m%d" % i for i in range(20)]), A("SET", "str", "v")] +
        [A("SADD", "x%d" % i, *["m%d" % j for j in range(i, 30, i + 1)]) for i in range(8)] +
        [A("ZADD", "z%d" % i, *[str(v) for j in range(i, 12) for v in (j * (i + 1), "m%d" % j)])
         for i in range(6)] +
        [A("MULTI")] +
        [A("LMOVE", "src", "d%d" % i, *dirs) for i, dirs in
         enumerate([("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("RIGHT", "RIGHT")] * 3)] +
        [A("RPOPLPUSH", "src", "d%d" % i) for i in range(8)] +
        [A("SMOVE", "ssrc", "sd%d" % i, "m%d" % i) for i in range(8)] +
        [A("LMOVE", "src", "str", "LEFT", "LEFT"), A("SMOVE", "ssrc", "str", "m9"),
         A("LMOVE", "nosrc", "d1", "LEFT", "LEFT"), A("LLEN", "src"), A("SCARD", "ssrc"),
         A("SUNIONSTORE", "u", "x0", "x1", "x2", "x3", "x4", "x5"), A("SCARD", "u"),
         A("SINTERSTORE", "i", "x0", "x1", "x2"), A("SDIFFSTORE", "df", "x0", "x1", "x3"),
         A("SUNIONSTORE", "u2", "x0", "str"), A("SINTERSTORE", "i2", "x0", "nokey"),
         A("EXISTS", "i2", "u2"), A("SINTERCARD", "3", "x0", "x1", "x2"),
         A("SINTERCARD", "2", "x0", "x1", "LIMIT", "2"),
         A("SMISMEMBER", "u", *["m%d" % j for j in range(32)]),
         A("SMISMEMBER", "df", *["m%d" % j for j in range(32)]),
         A("ZUNIONSTORE", "zu", "4", "z0", "z1", "z2", "z3", "WEIGHTS", "1", "2", "3", "4"),
         A("ZRANGE", "zu", "0", "-1", "WITHSCORES"),
         A("ZINTERSTORE", "zi", "3", "z3", "z4", "z5", "AGGREGATE", "MAX"),
         A("ZRANGE", "zi", "0", "-1", "WITHSCORES"), A("ZDIFFSTORE", "zd", "2", "z0", "z5"),
         A("ZRANGE", "zd", "0", "-1", "WITHSCORES"),
         A("ZUNION", "3", "z0", "z2", "z4", "WITHSCORES"), A("ZINTERCARD", "2", "z1", "z2"),
         A("ZUNIONSTORE", "zbad", "2", "z0", "str"), A("ZUNIONSTORE", "zu", "2", "z0", "z1",
                                                        "WEIGHTS", "1"),
         A("ZRANGESTORE", "zr", "z1", "1", "3"), A("ZRANGE", "zr", "0", "-1", "WITHSCORES"),
         A("LMPOP", "4", "nol1", "nol2", "d3", "d4", "RIGHT"), A("ZMPOP", "3", "noz", "z4", "z5",
                                                                   "MAX", "COUNT", "2"),
         A("BLMOVE", "src", "bd", "LEFT", "RIGHT", "0"), A("BRPOPLPUSH", "src", "bd2", "0"),
         A("BLPOP", "nol1", "nol2", "d5", "0"), A("BRPOP", "nol1", "nol3", "1"),
         A("BZPOPMIN", "noz", "z3", "0"), A("BLMPOP", "0", "3", "nol1", "d6", "d7", "LEFT"),
         A("BZMPOP", "0", "2", "noz", "z2", "MIN"), A("EXEC")] +
        [A("LRANGE", "d%d" % i, "0", "-1") for i in range(12)] +
        [A("LRANGE", "src", "0", "-1"), A("SCARD", "ssrc"), A("GET", "str"),
         A("LRANGE", "bd", "0", "-1"), A("LRANGE", "bd2", "0", "-1")] +
        [A("SMEMBERS", "sd%d" % i) for i in range(8)]),
    "cross_shard_inside_empty": [
        A("FLUSHALL"), A("SET", "str", "v"), A("SADD", "st", "a"), A("MULTI"),
        A("BLMOVE", "e1", "e2", "LEFT", "LEFT", "0"), A("BRPOPLPUSH", "e3", "e4", "0"),
        A("BLMOVE", "e1", "e2", "UP", "LEFT", "0"), A("BLMOVE", "e1", "e2", "LEFT", "LEFT", "-1"),
        A("BLPOP", "e1", "e2", "e3", "0"), A("BLPOP", "e1", "str", "e3", "0"),
        A("BZPOPMAX", "e1", "e2", "e5", "0"), A("BLMPOP", "0", "3", "e1", "e2", "e6", "LEFT"),
        A("BZMPOP", "0", "3", "e1", "e2", "e6", "MIN", "COUNT", "3"),
        A("LMPOP", "3", "e1", "e2", "e7", "RIGHT"), A("ZMPOP", "2", "e1", "e8", "MAX"),
        A("LMPOP", "3", "e1", "st", "e7", "RIGHT"), A("SMOVE", "e1", "e2", "a"),
        A("SMOVE", "st", "e9", "a"), A("SMOVE", "st", "str", "a"), A("LMOVE", "st", "e2",
                                                                        "LEFT", "LEFT"),
        A("SUNION", "e1", "e2", "e3"), A("SINTERSTORE", "st2", "st", "e1"),
        A("SDIFFSTORE", "st3", "e9", "e1"), A("ZINTERSTORE", "z", "2", "e1", "e2"),
        A("ZRANGESTORE", "z", "e1", "0", "-1"), A("EXEC"),
        A("EXISTS", "e1", "e2", "e3", "e4", "e9", "st2", "st3", "z"), A("SMEMBERS", "e9")],
    "hash_inside": [A("FLUSHALL"), A("MULTI"), A("HSET", "h", "f", "1", "g", "2"),
                    A("HINCRBY", "h", "f", "5"), A("HGET", "h", "f"), A("HDEL", "h", "g"),
                    A("HLEN", "h"), A("RENAME", "h", "h2"), A("HGET", "h2", "f"), A("EXEC")],
    "select_inside_multi": [A("FLUSHALL"), A("MULTI"), A("SELECT", "1"), A("SET", "a", "db1"),
                            A("SELECT", "99"), A("GET", "a"), A("EXEC"), A("GET", "a"),
                            A("SELECT", "0"), A("GET", "a")],
    "unwatch_queued": [A("FLUSHALL"), A("WATCH", "w"), A("MULTI"), A("UNWATCH"),
                       B("SET", "w", "1"), A("SET", "w", "2"), A("EXEC"), A("GET", "w")],
    "databases": [A("FLUSHALL"), A("SET", "x", "0"), A("SELECT", "1"), A("SET", "x", "1"),
                  A("HSET", "h", "f", "v"), A("GET", "x"), A("DBSIZE"), A("SELECT", "0"),
                  A("GET", "x"), A("DBSIZE"), A("SELECT", "15"), A("SELECT", "16"),
                  A("SELECT", "-1"), A("SELECT", "abc"), A("SELECT", "1"), A("MOVE", "x", "2"),
                  A("MOVE", "x", "2"), A("MOVE", "h", "1"), A("MOVE", "h", "16"),
                  A("MOVE", "h", "abc"), A("MOVE", "nosuch", "3"), A("SELECT", "2"),
                  A("GET", "x"), A("SET", "y", "2"), A("KEYS", "*"), A("EXISTS", "x", "y", "h"),
                  A("SELECT", "0"), A("SET", "x", "moved-over"), A("SELECT", "2"),
                  A("MOVE", "x", "0"), A("FLUSHDB"), A("DBSIZE"), A("SELECT", "0"),
                  A("GET", "x"), A("DBSIZE"), A("SELECT", "1"), A("HGETALL", "h"),
                  A("RANDOMKEY"), A("SELECT", "7"), A("RANDOMKEY"), A("SCAN", "0"),
                  A("CONFIG", "GET", "databases"), A("FLUSHALL"), A("SELECT", "1"),
                  A("DBSIZE")],
}


def diff_one(ctx, name, script):
    got = run_script(ctx.srv.port, script)
    want = run_script(ctx.ref.port, script)
    for (i, cmd, g), (_, _, w) in zip(got, want):
        if cmd[0].upper() == "KEYS" and g.startswith(b"*") and w.startswith(b"*"):
            g, w = sorted(g.split(b"\r\n")), sorted(w.split(b"\r\n"))
        if g != w:
            raise AssertionError("%s: conn %d %r: mem-kv %r, redis %r" % (name, i, cmd, g, w))


def make_diff_test(name, script):
    def t(ctx):
        if ctx.ref is None:
            raise Skip("no --redis-server")
        diff_one(ctx, name, script)
    t.__name__ = "diff_" + name
    return t


for _name, _script in SCRIPTS.items():
    R.test(make_diff_test(_name, _script))


@R.test
def diff_info_keyspace_and_errorstats(ctx):
    if ctx.ref is None:
        raise Skip("no --redis-server")
    script = [A("FLUSHALL"), A("CONFIG", "RESETSTAT"), A("SET", "a", "1"), A("SELECT", "1"),
              A("SET", "b", "1"), A("SET", "c", "1"), A("SELECT", "5"), A("SET", "d", "1"),
              A("NOSUCH"), A("GET"), A("SET", "s", "x"), A("INCR", "s"), A("HSET", "s", "f", "v"),
              A("MULTI"), A("NOSUCH"), A("EXEC"), A("MULTI"), A("INCR", "s"), A("EXEC"),
              A("EXEC")]
    outs = []
    for srv in (ctx.srv, ctx.ref):
        run_script(srv.port, script)
        with RespConn(srv.port) as c:
            ks = c.call("INFO", "keyspace").decode()
            es = c.call("INFO", "errorstats").decode()
            st = info_fields(c.call("INFO", "stats"))
            cs = info_fields(c.call("INFO", "commandstats"))
        outs.append((ks, es, st.get("total_error_replies"),
                     {k: cs.get(k) for k in ("cmdstat_exec", "cmdstat_incr")}))
    (ks, es, ter, cs), (rks, res, rter, rcs) = outs
    expect = [(ks, rks, "INFO keyspace"), (es, res, "INFO errorstats"),
              (ter, rter, "total_error_replies")]
    for got, want, what in expect:
        if got != want:
            raise AssertionError("%s: mem-kv %r, redis %r" % (what, got, want))
    for k in cs:   # calls and failed/rejected counts (usec differ)
        g = dict(x.split("=") for x in (cs[k] or "").split(","))
        w = dict(x.split("=") for x in (rcs[k] or "").split(","))
        for f in ("calls", "rejected_calls", "failed_calls"):
            if g.get(f) != w.get(f):
                raise AssertionError("%s %s: mem-kv %r, redis %r" % (k, f, g.get(f), w.get(f)))


@R.test
def unknown_commands_counted(ctx):
    if is_real_redis(args):
        raise Skip("mem-kv's own fields")
    with RespConn(ctx.srv.port) as c:
        c.call("CONFIG", "RESETSTAT")
        for _ in range(3):
            c.call("NOSUCHCMD", "x")
        c.call("GET")
        st = info_fields(c.call("INFO", "stats"))
        assert st["memkv_unknown_commands"] == "3", st
        assert st["memkv_rejected_commands"] == "4", st
        import json
        j = json.loads(c.call("STATS"))
        assert j["unknown_commands"] == 3 and j["rejected_commands"] == 4, j
        assert j["errorstats"].get("ERR") == 4, j["errorstats"]


# ---------------------------------------------------------------- redis-py

@R.test
def redis_py_pipeline_cross_shard(ctx):
    """redis-py's default pipeline() (MULTI/EXEC) with LMOVE, RPOPLPUSH,
    SMOVE, SUNIONSTORE, ZUNIONSTORE over keys of many shards: the results
    Redis gives (the reliable-queue pattern)."""
    import redis
    if ctx.ref is None:
        raise Skip("no --redis-server")

    def run(port):
        r = redis.Redis(host="127.0.0.1", port=port)
        r.flushall()
        r.rpush("jobs", *["job%d" % i for i in range(30)])
        for i in range(6):
            r.sadd("tags%d" % i, *["t%d" % j for j in range(i, 20, 2)])
            r.zadd("rank%d" % i, {"p%d" % j: j * i for j in range(10)})
        out = []
        for i in range(10):
            p = r.pipeline()
            p.lmove("jobs", "work:%d" % i, "RIGHT", "LEFT")
            p.rpoplpush("jobs", "work:%d" % i)
            p.lmove("work:%d" % i, "done", "LEFT", "RIGHT")
            p.smove("tags%d" % (i % 6), "moved%d" % i, "t%d" % i)
            p.sunionstore("all%d" % i, ["tags%d" % j for j in range(6)])
            p.zunionstore("zall%d" % i, ["rank%d" % j for j in range(i % 6 + 1)])
            p.llen("jobs")
            out.append(p.execute())
        out.append([r.lrange("done", 0, -1), r.lrange("jobs", 0, -1)] +
                   [sorted(r.smembers("moved%d" % i)) for i in range(10)] +
                   [r.zrange("zall%d" % i, 0, -1, withscores=True) for i in range(10)])
        return out

    got, want = run(ctx.srv.port), run(ctx.ref.port)
    assert got == want, "mem-kv %r\nredis %r" % (got, want)


@R.test
def redis_py_defaults(ctx):
    import redis
    r = redis.Redis(host="127.0.0.1", port=ctx.srv.port)
    r.flushall()
    p = r.pipeline()                      # transaction=True: MULTI ... EXEC
    p.incr("k")
    p.incr("k")
    p.set("other", "x")
    p.mget("k", "other", "nope")
    assert p.execute() == [1, 2, True, [b"2", b"x", None]]
    assert r.get("k") == b"2"
    p = r.pipeline()                      # a failing command inside: error in the array
    p.set("s", "x")
    p.incr("s")
    p.set("after", "1")
    res = p.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] is True, res

    def incr_pair(pipe):
        a = int(pipe.get("pa") or 0)
        b = int(pipe.get("pb") or 0)
        pipe.multi()
        pipe.set("pa", a + 1)
        pipe.set("pb", b + 1)
    for _ in range(20):
        r.transaction(incr_pair, "pa", "pb")
    assert r.mget("pa", "pb") == [b"20", b"20"]

    r2 = redis.Redis(host="127.0.0.1", port=ctx.srv.port)
    with r.pipeline() as p:               # WATCH, touched by another client: WatchError
        p.watch("w")
        p.multi()
        r2.set("w", "other")
        p.set("w", "mine")
        try:
            p.execute()
            raise AssertionError("EXEC ran although a watched key changed")
        except redis.WatchError:
            pass
    assert r.get("w") == b"other"

    r1 = redis.Redis(host="127.0.0.1", port=ctx.srv.port, db=1)
    r1.set("only-in-1", "v")
    assert r1.get("only-in-1") == b"v" and r.get("only-in-1") is None
    assert r1.dbsize() == 1
    p = r1.pipeline()
    p.set("t1", "1")
    p.get("only-in-1")
    assert p.execute() == [True, b"v"]
    assert r.get("t1") is None and r1.get("t1") == b"1"
    ks = r.info("keyspace")
    assert ks.get("db1", {}).get("keys") == 2, ks


# ---------------------------------------------------------------- concurrency

PAIRS = 12


def pair_keys(i):
    # different names: with 16 shards most pairs fall on two shards, and
    # with two actors about half of them on two actors
    return ("pa:%d:left" % i, "pb:%d:right{x}" % i)


@R.test
def pairs_never_half_applied(ctx):
    port = ctx.srv.port
    with RespConn(port) as c:
        c.call("FLUSHALL")
        for i in range(PAIRS):
            a, b = pair_keys(i)
            c.call("MSET", a, "0", b, "0")
    stop = threading.Event()
    errors = []
    counts = {"tx": 0, "reads": 0, "txreads": 0}

    def writer(wid):
        try:
            with RespConn(port) as c:
                for n in range(args.iterations):
                    i = (n * 7 + wid) % PAIRS
                    a, b = pair_keys(i)
                    v = "%d-%d" % (wid, n)
                    if n % 3 == 2:
                        got = c.pipeline([["MULTI"], ["INCR", a], ["INCR", b], ["EXEC"]])
                        assert isinstance(got[3], list) and got[3][0] == got[3][1], got
                        continue
                    if n % 3 == 1:
                        c.pipeline([["MULTI"], ["SET", a, v], ["SET", b, v], ["EXEC"]])
                    else:
                        c.call("MSET", a, v, b, v)
                    counts["tx"] += 1
        except Exception as e:
            errors.append("writer %d: %r" % (wid, e))
        finally:
            stop.set()

    def reader(rid):
        try:
            with RespConn(port) as c:
                n = 0
                while not stop.is_set() or n < 200:
                    i = n % PAIRS
                    a, b = pair_keys(i)
                    if n % 2:
                        got = c.call("MGET", a, b)
                        counts["reads"] += 1
                    else:
                        got = c.pipeline([["MULTI"], ["GET", a], ["GET", b], ["EXEC"]])[3]
                        counts["txreads"] += 1
                    if got[0] != got[1]:
                        errors.append("reader %d saw a half-applied pair %s/%s: %r" %
                                      (rid, a, b, got))
                        return
                    n += 1
        except Exception as e:
            errors.append("reader %d: %r" % (rid, e))

    ths = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    ths += [threading.Thread(target=reader, args=(r,)) for r in range(2)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(300)
    assert not errors, errors[:5]
    # INCR pairs stayed equal too
    with RespConn(port) as c:
        for i in range(PAIRS):
            a, b = pair_keys(i)
            va, vb = c.call("MGET", a, b)
            assert va == vb, (a, va, b, vb)
    print("  %d write transactions/MSETs, %d MGETs, %d MULTI reads" %
          (counts["tx"], counts["reads"], counts["txreads"]))


# ---------------------------------------------------------------- restarts

@R.test
def databases_and_transactions_survive_restart(ctx):
    if is_real_redis(args):
        raise Skip("mem-kv persistence")
    srv = Server(args.server, "memkv", list(args.server_arg) + ["--fsync", "always"],
                 name="restart(mem-kv)")
    R.add_server(srv.start())
    with RespConn(srv.port) as c:
        c.pipeline([["SELECT", "3"], ["MULTI"], ["SET", "a", "3"], ["HSET", "h", "f", "v"],
                    ["SET", "t", "x", "EX", "1000"], ["EXEC"], ["SELECT", "0"],
                    ["SET", "a", "0"], ["SELECT", "9"], ["SET", "gone", "1"], ["FLUSHDB"],
                    ["SET", "a", "9"], ["MOVE", "a", "4"]])
    big = [["HSET", "bigh"] + sum((["f%d" % i, "v" * 70] for i in range(200)), [])]
    with RespConn(srv.port) as c:
        c.pipeline([["SELECT", "5"]] + big)

    def check(where):
        with RespConn(srv.port) as c:
            got = c.pipeline([["GET", "a"], ["SELECT", "3"], ["GET", "a"], ["HGET", "h", "f"],
                              ["TTL", "t"], ["SELECT", "9"], ["DBSIZE"], ["SELECT", "4"],
                              ["GET", "a"], ["SELECT", "5"], ["HLEN", "bigh"]])
        want = [b"0", OK, b"3", b"v", None, OK, 0, OK, b"9", OK, 200]
        assert got[:4] == want[:4] and 990 < got[4] <= 1000 and got[5:] == want[5:], (where, got)

    check("before restart")
    for how in ("restart (WAL)", "restart after COMPACT (snapshot)"):
        if "COMPACT" in how:
            with RespConn(srv.port) as c:
                c.call("COMPACT")
                for _ in range(200):
                    import json
                    if json.loads(c.call("STATS"))["persistence"]["compacting"] == 0:
                        break
                    time.sleep(0.05)
        srv.stop()
        srv.start()
        check(how)


if __name__ == "__main__":
    sys.exit(R.run(setup=setup))
