#!/usr/bin/python3
"""Blocking list commands (issue 19 item 1): BLPOP, BRPOP, BLMOVE and
BRPOPLPUSH compared byte for byte with a real redis-server where the outcome
is deterministic: error texts, timeout replies (*-1 and $-1), the FIFO order
of three waiting clients, a multi-key BLPOP served by a push on its second
key, MULTI (never blocks; a push inside EXEC serves after EXEC), pipelined
commands behind a blocked one, BLMOVE/BRPOPLPUSH and LMOVE/RPOPLPUSH
with their keys in two shards (blocking, served, woken); then mem-kv alone: a client that disconnects
while blocked leaves the pushed element in the list, INFO blocked_clients
and CLIENT LIST flags=b, no element lost or duplicated with many clients
blocked on keys of several shards, and served pops surviving kill -9.

  --redis-server PATH   the reference (required for the differential part)
"""

import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Runner, encode, info_fields,  # noqa: E402
                     is_real_redis, parse_args, start_reference, start_under_test)
from persist_util import PersistServer, require_memkv  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)


def raw(c, *cmd):
    c.send(encode(*cmd))
    return c.read_reply(raw=True)[1]


def blocked(c):
    return int(info_fields(c.call("INFO", "clients").decode())["blocked_clients"])


def wait_blocked(c, n, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if blocked(c) == n:
            return
        time.sleep(0.005)
    raise AssertionError("blocked_clients never reached %d (is %d)" % (n, blocked(c)))


def move_dst(c, src, prefix):
    """A destination for BLMOVE from src: any name (the two keys may be in
    one shard or in two since BLMOVE works across shards)."""
    return prefix + "0"


def both(ctx, scenario):
    """Runs scenario(port) on mem-kv and on Redis; returns both results."""
    got = scenario(ctx["srv"].port)
    if ctx["ref"] is None:
        return got, got
    return got, scenario(ctx["ref"].port)


def check_same(got, want):
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert len(got) == len(want) and not bad, "differs from Redis: %r" % bad[:3]


# ---------------------------------------------------------------- differential

def errors_and_immediate(port):
    with RespConn(port) as c:
        c.call("FLUSHALL")
        out = [raw(c, "BLPOP", "q", "-1"), raw(c, "BLPOP", "q", "abc"), raw(c, "BRPOP", "q", ""),
               raw(c, "BLPOP", "q", "-0.5"), raw(c, "BLPOP", "q"), raw(c, "BRPOP"),
               raw(c, "BLMOVE", "q", "q", "UP", "LEFT", "0"),
               raw(c, "BLMOVE", "q", "q", "LEFT", "LEFT", "-1"),
               raw(c, "BLMOVE", "q", "q", "LEFT", "LEFT", "x"),
               raw(c, "BRPOPLPUSH", "q", "q", "-2"), raw(c, "BLMOVE", "q", "q", "LEFT")]
        c.call("SET", "s", "v")
        out += [raw(c, "BLPOP", "s", "0"), raw(c, "BLPOP", "nokey", "s", "0"),
                raw(c, "BLMOVE", "s", "s", "LEFT", "LEFT", "0"),
                raw(c, "BRPOPLPUSH", "s", "s", "0")]
        c.call("RPUSH", "q", "a", "b", "c", "d")
        out += [raw(c, "BLPOP", "q", "0"), raw(c, "BRPOP", "q", "0"),
                raw(c, "BLPOP", "nokey", "q", "0.5"), raw(c, "BLMOVE", "q", "q", "LEFT", "RIGHT", "0"),
                raw(c, "BRPOPLPUSH", "q", "q", "0"), raw(c, "LRANGE", "q", "0", "-1"),
                raw(c, "BLPOP", "q", "s", "0"), raw(c, "EXISTS", "q"), raw(c, "BLPOP", "q", "s", "0")]
        # timeouts: nil array for BLPOP/BRPOP, nil bulk for BLMOVE/BRPOPLPUSH
        t0 = time.monotonic()
        out += [raw(c, "BLPOP", "q", "0.1"), raw(c, "BRPOP", "q", "nokey", "0.1"),
                raw(c, "BLMOVE", "q", "q", "LEFT", "LEFT", "0.1"),
                raw(c, "BRPOPLPUSH", "q", "q", "0.1")]
        took = time.monotonic() - t0
        assert 0.35 <= took < 3.0, "four 0.1 s timeouts took %.2fs" % took
    return out


@R.test
def blocking_errors_and_immediate_exact(ctx):
    """Error texts, answers without waiting, and the timeout replies, byte
    for byte as Redis."""
    got, want = both(ctx, errors_and_immediate)
    check_same(got, want)


def fifo_three(port):
    conns = [RespConn(port) for _ in range(4)]
    try:
        p = conns[3]
        p.call("FLUSHALL")
        for i, c in enumerate(conns[:3]):
            c.send(encode("BLPOP", "fq", "0"))
            wait_blocked(p, i + 1)
        assert p.call("RPUSH", "fq", "a", "b", "c", "d") == 4
        out = [c.read_reply(raw=True)[1] for c in conns[:3]]
        out.append(raw(p, "LRANGE", "fq", "0", "-1"))
        wait_blocked(p, 0)
        return out
    finally:
        for c in conns:
            c.close()


@R.test
def blocking_fifo_three_clients(ctx):
    """Three clients blocked on one key are served in the order they came;
    the push's extra element stays."""
    got, want = both(ctx, fifo_three)
    check_same(got, want)
    assert got[0].endswith(b"$1\r\na\r\n") and got[2].endswith(b"$1\r\nc\r\n"), got


def multikey(port):
    out = []
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        keys = ["mk%d" % i for i in range(6)]
        for target in (1, 3, 5):
            a.send(encode("BRPOP", *keys, "0"))
            wait_blocked(b, 1)
            b.call("RPUSH", keys[target], "x%d" % target, "y%d" % target)
            out.append(a.read_reply(raw=True)[1])
            wait_blocked(b, 0)
            # a push on another key of the same command now finds nobody
            b.call("LPUSH", keys[0], "stay")
            out.append(raw(b, "LLEN", keys[0]))
            out.append(raw(b, "LRANGE", keys[target], "0", "-1"))
            b.call("DEL", *keys)
    return out


@R.test
def blocking_multikey_served_by_later_key(ctx):
    """BRPOP over six keys (several shards) is served by a push on one of
    them; its other registrations are gone (a later push stays)."""
    got, want = both(ctx, multikey)
    check_same(got, want)


def in_multi(port):
    out = []
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        for cmd in (["MULTI"], ["BLPOP", "tq", "0"], ["BRPOPLPUSH", "tq", "tq", "0"],
                    ["BLMOVE", "tq", "tq", "LEFT", "LEFT", "0"], ["RPUSH", "tq", "a"],
                    ["BLPOP", "tq", "0"], ["EXEC"]):
            out.append(raw(b, *cmd))
        # a client waits; a transaction pushes two and pops one: it gets the rest
        a.send(encode("BLPOP", "tq", "0"))
        wait_blocked(b, 1)
        for cmd in (["MULTI"], ["RPUSH", "tq", "a"], ["RPUSH", "tq", "b"], ["LPOP", "tq"],
                    ["EXEC"]):
            out.append(raw(b, *cmd))
        out.append(a.read_reply(raw=True)[1])
        out.append(raw(b, "EXISTS", "tq"))
    return out


@R.test
def blocking_multi_never_blocks(ctx):
    """Inside MULTI the blocking commands answer at once (nil when empty);
    a client blocked on a key is served after the EXEC that pushed, with
    what the transaction left."""
    got, want = both(ctx, in_multi)
    check_same(got, want)


def pipelined(port):
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        a.send(encode("BLPOP", "pq", "0") + encode("SET", "after", "1") + encode("PING"))
        wait_blocked(b, 1)
        first = raw(b, "GET", "after")  # not run while the client waits
        b.call("RPUSH", "pq", "v")
        out = [first, a.read_reply(raw=True)[1], a.read_reply(raw=True)[1],
               a.read_reply(raw=True)[1], raw(b, "GET", "after")]
    return out


@R.test
def blocking_pipelined_commands_wait(ctx):
    """Commands pipelined behind a blocked BLPOP are read but run only after
    it is answered, in order."""
    got, want = both(ctx, pipelined)
    check_same(got, want)


def moves(port):
    out = []
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        dst = move_dst(b, "ms", "md")
        a.send(encode("BLMOVE", "ms", dst, "RIGHT", "LEFT", "0"))
        wait_blocked(b, 1)
        b.call("RPUSH", "ms", "1", "2")
        out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", "ms", "0", "-1"),
                raw(b, "LRANGE", dst, "0", "-1")]
        a.send(encode("BRPOPLPUSH", "ms2", "ms2", "0"))
        wait_blocked(b, 1)
        b.call("LPUSH", "ms2", "z")
        out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", "ms2", "0", "-1")]
        # the destination turned into a string while the client waited
        b.call("DEL", "ms")
        a.send(encode("BLMOVE", "ms", dst, "LEFT", "LEFT", "0"))
        wait_blocked(b, 1)
        b.call("DEL", dst)
        b.call("SET", dst, "str")
        b.call("LPUSH", "ms", "w")
        out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", "ms", "0", "-1")]
    return out


@R.test
def blocking_blmove_served(ctx):
    """BLMOVE and BRPOPLPUSH served by a push: the element moves; a
    destination of the wrong type answers WRONGTYPE and moves nothing."""
    got, want = both(ctx, moves)
    check_same(got, want)


def blmove_across(port):
    """BLMOVE/BRPOPLPUSH from 12 sources to 12 destinations (on mem-kv most
    pairs are in two shards): timeout, served by a push (four directions),
    served at once, a WRONGTYPE destination at serve time."""
    out = []
    dirs = [("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("RIGHT", "RIGHT")]
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        for i in range(12):
            src, dst = "xs%d" % i, "xd%d" % i
            f, t = dirs[i % 4]
            out.append(raw(b, "BLMOVE", src, dst, f, t, "0.05"))
            a.send(encode("BLMOVE", src, dst, f, t, "0"))
            wait_blocked(b, 1)
            b.call("RPUSH", src, "a%d" % i, "b%d" % i)
            out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", src, "0", "-1"),
                    raw(b, "LRANGE", dst, "0", "-1")]
            a.send(encode("BRPOPLPUSH", src, dst, "0"))  # served at once
            out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", dst, "0", "-1")]
            out.append(raw(b, "BRPOPLPUSH", src, dst, "0.02"))
        b.call("SET", "xstr", "v")
        a.send(encode("BLMOVE", "xw", "xstr", "LEFT", "LEFT", "0"))
        wait_blocked(b, 1)
        b.call("RPUSH", "xw", "w")
        out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", "xw", "0", "-1"), raw(b, "GET", "xstr")]
        b.call("RPUSH", "xw2", "w2")
        out += [raw(a, "BLMOVE", "xw2", "xstr", "LEFT", "LEFT", "0"),
                raw(b, "LRANGE", "xw2", "0", "-1")]
    return out


@R.test
def blocking_blmove_across_shards(ctx):
    """BLMOVE/BRPOPLPUSH whose keys are in two shards block and are served
    as Redis does them (timeouts, pushes, WRONGTYPE destination)."""
    got, want = both(ctx, blmove_across)
    check_same(got, want)


def moves_wake(port):
    """Cross-shard (on mem-kv, for most of the 12 names) LMOVE, RPOPLPUSH
    and MULTI/LMOVE/EXEC push to a key a BLPOP/BLMOVE client waits on."""
    out = []
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        for i in range(12):
            w = "wk%d" % i
            b.call("RPUSH", "wsrc", "x%d" % i, "y%d" % i)
            a.send(encode("BLPOP", w, "0"))
            wait_blocked(b, 1)
            out.append(raw(b, "LMOVE", "wsrc", w, "LEFT", "LEFT"))
            out.append(a.read_reply(raw=True)[1])
            a.send(encode("BLMOVE", w, w, "RIGHT", "LEFT", "0"))
            wait_blocked(b, 1)
            b.call("MULTI")
            b.call("RPOPLPUSH", "wsrc", w)
            out.append(raw(b, "EXEC"))
            out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", w, "0", "-1")]
        out.append(raw(b, "LRANGE", "wsrc", "0", "-1"))
    return out


@R.test
def blocking_woken_by_cross_shard_moves(ctx):
    """A client blocked on a key is served by an LMOVE/RPOPLPUSH (alone or
    in MULTI) whose other key is in another shard, as by any push."""
    got, want = both(ctx, moves_wake)
    check_same(got, want)


def stores_wake(port):
    """A ZUNIONSTORE/ZRANGESTORE over keys of other shards (on mem-kv, for
    most of the 8 names) stores a sorted set at a key a BZPOPMIN client
    waits on; a RENAME of a list to a key a BLPOP client waits on."""
    out = []
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        for i in range(8):
            d = "sw%d" % i
            b.call("ZADD", "za", "1", "a%d" % i)
            b.call("ZADD", "zb", "2", "b%d" % i)
            a.send(encode("BZPOPMIN", d, "0"))
            wait_blocked(b, 1)
            out.append(raw(b, "ZUNIONSTORE", d, "2", "za", "zb"))
            out += [a.read_reply(raw=True)[1], raw(b, "ZRANGE", d, "0", "-1")]
            b.call("DEL", d)
            a.send(encode("BZPOPMAX", d, "0"))
            wait_blocked(b, 1)
            out.append(raw(b, "ZRANGESTORE", d, "zb", "0", "-1"))
            out += [a.read_reply(raw=True)[1], raw(b, "EXISTS", d)]
            b.call("RPUSH", "rsrc", "e%d" % i, "f%d" % i)
            a.send(encode("BLPOP", d, "0"))
            wait_blocked(b, 1)
            out.append(raw(b, "RENAME", "rsrc", d))
            out += [a.read_reply(raw=True)[1], raw(b, "LRANGE", d, "0", "-1")]
            b.call("DEL", d, "za", "zb")
    return out


@R.test
def blocking_woken_by_cross_shard_stores(ctx):
    """A client blocked on a key is served when a sorted-set STORE over keys
    of other shards, or a RENAME from another shard, puts a value there, as
    Redis serves it (mem-kv's PUT part signals the key)."""
    got, want = both(ctx, stores_wake)
    check_same(got, want)


def unblock(port):
    out = []
    with RespConn(port) as a, RespConn(port) as b:
        b.call("FLUSHALL")
        aid = a.call("CLIENT", "ID")
        out.append(raw(b, "CLIENT", "UNBLOCK", str(aid)))  # not blocked: 0
        for how in ([], ["TIMEOUT"], ["ERROR"]):
            a.send(encode("BLPOP", "uq", "0"))
            wait_blocked(b, 1)
            out.append(raw(b, "CLIENT", "UNBLOCK", str(aid), *how))
            out.append(a.read_reply(raw=True)[1])
            wait_blocked(b, 0)
        out += [raw(b, "CLIENT", "UNBLOCK", "abc"), raw(b, "CLIENT", "UNBLOCK", str(aid), "NOW"),
                raw(b, "RPUSH", "uq", "x"), raw(b, "LLEN", "uq")]
    return out


@R.test
def blocking_client_unblock(ctx):
    """CLIENT UNBLOCK id [TIMEOUT|ERROR] ends a wait as a timeout or with the
    UNBLOCKED error, as Redis; the unblocked client takes no element."""
    got, want = both(ctx, unblock)
    check_same(got, want)


# ---------------------------------------------------------------- mem-kv

@R.test
def blocking_disconnect_keeps_element(ctx):
    """A client that closes its connection while blocked is not served: the
    element pushed afterwards stays in the list."""
    port = ctx["srv"].port
    with RespConn(port) as b:
        b.call("DEL", "dq")
        for _ in range(3):
            a = RespConn(port)
            a.send(encode("BLPOP", "dq", "0"))
            wait_blocked(b, 1)
            a.close()
            wait_blocked(b, 0)
        assert b.call("RPUSH", "dq", "kept") == 1
        time.sleep(0.05)
        assert b.call("LRANGE", "dq", "0", "-1") == [b"kept"]


@R.test
def blocking_info_and_client_list(ctx):
    """INFO blocked_clients counts the waiting clients; CLIENT LIST shows
    them with flag b; a timeout takes them off both."""
    port = ctx["srv"].port
    with RespConn(port) as a, RespConn(port) as b:
        b.call("DEL", "iq")
        a.send(encode("BLPOP", "iq", "0.3"))
        wait_blocked(b, 1)
        lines = b.call("CLIENT", "LIST").decode().splitlines()
        flags = [ln.split(" flags=")[1].split()[0] for ln in lines]
        assert sorted(flags) == ["N", "b"], lines
        assert a.read_reply(raw=True)[1] == b"*-1\r\n"
        assert blocked(b) == 0
        assert "flags=b" not in b.call("CLIENT", "LIST").decode()


@R.test
def blocking_many_clients_no_loss(ctx):
    """Twelve clients loop on BLPOP over four keys of different shards
    (short timeouts) while another pushes 300 numbered elements to those
    keys: every element is popped exactly once or is still in a list."""
    port = ctx["srv"].port
    keys = ["nl%d" % i for i in range(4)]
    with RespConn(port) as c:
        c.call("DEL", *keys)
    got, lock, stop = [], threading.Lock(), threading.Event()

    def worker(i):
        with RespConn(port) as c:
            ks = keys[i % 4:] + keys[:i % 4]
            while not stop.is_set():
                r = c.call("BLPOP", *ks, "0.05")
                if r is not None:
                    with lock:
                        got.append(r[1])

    ths = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in ths:
        t.start()
    rng = random.Random(7)
    with RespConn(port) as c:
        for n in range(300):
            c.call("RPUSH", rng.choice(keys), str(n))
            if n % 50 == 0:
                time.sleep(0.01)
        time.sleep(0.3)
        stop.set()
        for t in ths:
            t.join()
        left = []
        for k in keys:
            left += c.call("LRANGE", k, "0", "-1")
        assert blocked(c) == 0
    allv = sorted(int(x) for x in got + left)
    assert allv == list(range(300)), "lost or duplicated: %d popped, %d left" % (len(got), len(left))


@R.test
def blocking_reliable_queue_across_shards(ctx):
    """The reliable-queue pattern: ten workers loop on BRPOPLPUSH from two
    queues to a processing list of their own (most pairs in two shards;
    short timeouts, several waiters per queue) while 400 numbered jobs are
    pushed: every job ends in exactly one list, none lost or duplicated,
    and what each worker was answered is in its own processing list."""
    port = ctx["srv"].port
    queues = ["rq0", "rq1"]
    procs = ["proc:%d" % i for i in range(10)]
    with RespConn(port) as c:
        c.call("DEL", *(queues + procs))
    got, lock, stop = {p: [] for p in procs}, threading.Lock(), threading.Event()

    errors = []

    def worker(i):
        try:
            with RespConn(port, timeout=5) as c:
                while not stop.is_set():
                    r = c.call("BRPOPLPUSH", queues[i % 2], procs[i], "0.05")
                    if r is not None:
                        with lock:
                            got[procs[i]].append(r)
        except Exception as e:  # a hung or failed call: reported below
            errors.append("worker %d: %r" % (i, e))

    ths = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in ths:
        t.start()
    rng = random.Random(11)
    with RespConn(port) as c:
        for n in range(400):
            c.call("LPUSH", rng.choice(queues), str(n))
            if n % 40 == 0:
                time.sleep(0.01)
        time.sleep(0.3)
        stop.set()
        for t in ths:
            t.join()
        lists = {k: c.call("LRANGE", k, "0", "-1") for k in queues + procs}
        assert blocked(c) == 0
    assert not errors, errors
    allv = sorted(int(x) for v in lists.values() for x in v)
    assert allv == list(range(400)), "lost or duplicated: %d jobs in the lists" % len(allv)
    for p in procs:
        assert sorted(lists[p]) == sorted(got[p]), (p, lists[p], got[p])
    print("  %d jobs moved by blocked workers, %d left queued" % (
        sum(len(v) for v in got.values()), sum(len(lists[q]) for q in queues)))


@R.test
def blocking_served_pops_survive_kill9(ctx):
    """Pops made for blocked clients (BLPOP, BLMOVE) are in the log: after
    kill -9 the lists are as the clients saw them (--fsync always)."""
    require_memkv(args)
    srv = R.add_server(PersistServer(args, ["--fsync", "always"], name="block-persist"))
    srv.start()
    with srv.conn() as b, srv.conn() as a:
        dst = move_dst(b, "ks", "kd")
        a.send(encode("BLPOP", "kq", "0"))
        wait_blocked(b, 1)
        b.call("RPUSH", "kq", "a", "b", "c")
        assert a.read_reply() == [b"kq", b"a"]
        a.send(encode("BLMOVE", "ks", dst, "LEFT", "RIGHT", "0"))
        wait_blocked(b, 1)
        b.call("RPUSH", "ks", "m1", "m2")
        assert a.read_reply() == b"m1"
        want = {k: b.call("LRANGE", k, "0", "-1") for k in ("kq", "ks", dst)}
    assert want == {"kq": [b"b", b"c"], "ks": [b"m2"], dst: [b"m1"]}, want
    srv.kill()
    srv.start()
    with srv.conn() as b:
        got = {k: b.call("LRANGE", k, "0", "-1") for k in ("kq", "ks", dst)}
    assert got == want, (got, want)
    srv.stop_clean()


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    ref = runner.add_server(start_reference(args)) if args.redis_server and not is_real_redis(
        args) else None
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
