#!/usr/bin/python3
"""Many connections at once: 200 client threads, each doing SET/GET/MGET of
its own keys for 200 rounds (half one command at a time, half pipelined),
every reply checked; shared INCR counters; connection churn."""

import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Status, encode_many, expect_eq,  # noqa: E402
                     parse_args, Runner, start_under_test)

args = parse_args(__doc__)
R = Runner(args)
OK = Status("OK")


def run_threads(n, target, timeout=120):
    errors = []
    barrier = threading.Barrier(n)

    def wrap(i):
        try:
            barrier.wait(30)
            target(i)
        except Exception as e:
            errors.append("thread %d: %s: %s" % (i, type(e).__name__, e))
    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    alive = sum(t.is_alive() for t in threads)
    if alive:
        errors.append("%d threads still running after %d s (hung replies?)" % (alive, timeout))
    if errors:
        raise AssertionError("%d errors; first ones:\n  %s" % (len(errors), "\n  ".join(errors[:10])))


def client_work(ctx, tid, rounds, pipelined):
    rng = random.Random(tid)
    keys = ["c%d:k%d" % (tid, j) for j in range(5)]
    model = {}
    with RespConn(ctx["srv"].port, timeout=60) as c:
        for r in range(rounds):
            k = keys[r % len(keys)]
            v = ("t%d-r%d-" % (tid, r)).encode() + os.urandom(rng.randint(0, 40))
            model[k] = v
            mk = rng.sample(keys, 3) + ["c%d:none" % tid]
            want = [OK, v, [model.get(x) for x in mk]]
            cmds = [["SET", k, v], ["GET", k], ["MGET"] + mk]
            if pipelined:
                got = c.pipeline(cmds)
            else:
                got = [c.call(*cmd) for cmd in cmds]
            if got != want:
                raise AssertionError("round %d: %r -> %r, expected %r" % (r, cmds, got, want))


@R.test
def connections_200_set_get_mget(ctx):
    run_threads(200, lambda i: client_work(ctx, i, 200, pipelined=(i % 2 == 1)))
    with RespConn(ctx["srv"].port) as c:
        expect_eq(c.call("EXISTS", *["c%d:k%d" % (i, j) for i in range(200) for j in range(5)]),
                  1000, "keys written by the 200 clients")


@R.test
def shared_counters(ctx):
    """100 connections INCR the same 4 counters 100 times each (pipelined
    in 10 batches): the totals must be exact."""
    def work(i):
        with RespConn(ctx["srv"].port, timeout=60) as c:
            for b in range(10):
                cmds = [["INCR", "ctr:%d" % ((i + j) % 4)] for j in range(10)]
                got = c.pipeline(cmds)
                assert all(isinstance(x, int) and x > 0 for x in got), got
    run_threads(100, work)
    with RespConn(ctx["srv"].port) as c:
        vals = c.call("MGET", "ctr:0", "ctr:1", "ctr:2", "ctr:3")
    expect_eq(sum(int(v) for v in vals), 100 * 100, "sum of counters")
    expect_eq([int(v) for v in vals], [2500] * 4, "each counter")


@R.test
def readers_see_whole_values(ctx):
    """Writers overwrite keys with self-checking values while readers GET
    and MGET them: a reply is nil or a whole, consistent value."""
    stop = threading.Event()
    keys = ["rw:%d" % i for i in range(8)]

    def value(i, n):
        body = ("%d:%d:" % (i, n)).encode() * 50
        return body + b"#%d" % len(body)

    def valid(v):
        if v is None:
            return True
        body, _, ln = v.rpartition(b"#")
        return ln.isdigit() and int(ln) == len(body) and body == body[:len(body) // 50] * 50

    def writer(i):
        with RespConn(ctx["srv"].port) as c:
            n = 0
            while not stop.is_set() and n < 3000:
                c.pipeline([["SET", k, value(i, n)] for k in keys])
                n += 1

    def reader(i):
        with RespConn(ctx["srv"].port) as c:
            for _ in range(300):
                for v in c.call("MGET", *keys) + [c.call("GET", keys[i % 8])]:
                    assert valid(v), "torn or foreign value %r" % v[:80]
    ws = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(4)]
    for w in ws:
        w.start()
    try:
        run_threads(16, reader)
    finally:
        stop.set()
        for w in ws:
            w.join(30)


@R.test
def connection_churn(ctx):
    """2000 short connections (20 threads x 100), each one command."""
    def work(i):
        for j in range(100):
            with RespConn(ctx["srv"].port) as c:
                expect_eq(c.call("SET", "churn:%d" % i, str(j)), OK, "SET")
                if j % 10 == 0:
                    expect_eq(c.call("GET", "churn:%d" % i), str(j).encode(), "GET")
    run_threads(20, work)
    with RespConn(ctx["srv"].port) as c:
        expect_eq(c.call("PING"), "PONG", "PING after churn")


@R.test
def abandoned_pipelines(ctx):
    """Clients that send a big pipeline and close without reading must not
    hurt the server or other clients."""
    big = encode_many([["SET", "ab:%d" % (i % 50), "x" * 100] for i in range(20000)])

    def work(i):
        c = RespConn(ctx["srv"].port)
        try:
            c.send(big[:len(big) // (i + 1)])
        except OSError:
            pass
        c.close()
    run_threads(20, work)
    with RespConn(ctx["srv"].port) as c:
        expect_eq(c.call("PING"), "PONG", "PING after abandoned pipelines")
        expect_eq(c.call("ECHO", "ok"), b"ok", "ECHO")


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
