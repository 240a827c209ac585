#!/usr/bin/python3
"""SCAN guarantees while the table changes: every key present for the whole
scan is returned at least once, nothing that never existed is returned, and
the scan ends with cursor 0 -- while another connection inserts 20k more
keys (table growth) or deletes keys."""

import fnmatch
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Status, encode, expect_eq, parse_args, Runner,  # noqa: E402
                     start_under_test)

args = parse_args(__doc__)
R = Runner(args)
OK = Status("OK")
N = 20000


def insert(c, keys):
    data = b"".join(encode(b"SET", k, b"v") for k in keys)
    got = c.send_and_read(data, len(keys))
    assert all(g == OK for g in got), "SET replies not OK"


def scan_step(c, cursor, count=None, match=None, type_=None):
    cmd = [b"SCAN", cursor]
    if match is not None:
        cmd += [b"MATCH", match]
    if count is not None:
        cmd += [b"COUNT", str(count).encode()]
    if type_ is not None:
        cmd += [b"TYPE", type_]
    rep = c.call(*cmd)
    assert isinstance(rep, list) and len(rep) == 2 and isinstance(rep[1], list), rep
    assert rep[0].isdigit(), "cursor %r is not a number" % rep[0]
    return rep[0], rep[1]


def scan_while(ctx, count, mutate, match=None, max_steps=500000):
    """Interleave: one SCAN step, then mutate(step) on another connection.
    Returns (returned keys list, number of steps)."""
    returned = []
    with RespConn(ctx["srv"].port, timeout=60) as s, RespConn(ctx["srv"].port, timeout=60) as w:
        cursor = b"0"
        steps = 0
        while True:
            cursor, keys = scan_step(s, cursor, count, match)
            returned += keys
            steps += 1
            mutate(w, steps)
            if cursor == b"0":
                return returned, steps
            assert steps < max_steps, "SCAN did not reach cursor 0 in %d steps" % steps


def fresh(ctx, n=N, prefix=b"old"):
    keys = [b"%s:%d" % (prefix, i) for i in range(n)]
    with RespConn(ctx["srv"].port, timeout=60) as c:
        c.call("FLUSHDB")
        for i in range(0, n, 5000):
            insert(c, keys[i:i + 5000])
        expect_eq(c.call("DBSIZE"), n, "DBSIZE after the fill")
    return keys


def check(returned, must, may, what):
    got = set(returned)
    missing = set(must) - got
    assert not missing, "%s: %d keys present all along were never returned, e.g. %r" % (
        what, len(missing), sorted(missing)[:5])
    extra = got - set(must) - set(may)
    assert not extra, "%s: returned keys that never existed: %r" % (what, sorted(extra)[:5])


def growth_test(ctx, count):
    old = fresh(ctx)
    new = [b"new:%d" % i for i in range(N)]
    state = {"next": 0}

    def mutate(w, step):
        i = state["next"]
        if i < len(new):
            insert(w, new[i:i + 250])
            state["next"] = i + 250
    returned, steps = scan_while(ctx, count, mutate)
    inserted = state["next"]
    print("  COUNT %s: %d steps, %d keys returned (%d distinct), %d inserted during the scan" % (
        count, steps, len(returned), len(set(returned)), min(inserted, N)))
    check(returned, old, new, "growth, COUNT %s" % count)
    assert inserted >= 2000, "the scan ended before much was inserted (%d)" % inserted
    with RespConn(ctx["srv"].port, timeout=60) as c:
        if inserted < N:
            insert(c, new[inserted:])
        expect_eq(c.call("DBSIZE"), 2 * N, "DBSIZE at the end")


@R.test
def scan_during_growth_count_10(ctx):
    growth_test(ctx, 10)


@R.test
def scan_during_growth_count_100(ctx):
    growth_test(ctx, 100)


@R.test
def scan_during_growth_default_count(ctx):
    growth_test(ctx, None)


@R.test
def scan_during_deletes(ctx):
    """Half of the keys are deleted during the scan (table may shrink):
    the other half must all come back."""
    keys = fresh(ctx)
    keep, drop = keys[0::2], keys[1::2]
    state = {"next": 0}

    def mutate(w, step):
        i = state["next"]
        if i < len(drop):
            w.call(b"DEL", *drop[i:i + 200])
            state["next"] = i + 200
    returned, steps = scan_while(ctx, 20, mutate)
    check(returned, keep, drop, "deletes")


@R.test
def scan_match(ctx):
    keys = fresh(ctx)
    want = [k for k in keys if k.startswith(b"old:1")]
    new = [b"new:%d" % i for i in range(N)]
    state = {"next": 0}

    def mutate(w, step):
        i = state["next"]
        if i < len(new):
            insert(w, new[i:i + 250])
            state["next"] = i + 250
    returned, steps = scan_while(ctx, 100, mutate, match=b"old:1*")
    bad = [k for k in returned if not k.startswith(b"old:1")]
    assert not bad, "MATCH old:1* returned %r" % bad[:5]
    check(returned, want, [], "MATCH")
    returned, steps = scan_while(ctx, 1000, lambda w, s: None, match=b"*:1?9")
    want2 = [k for k in keys + new if fnmatch.fnmatchcase(k.decode(), "*:1?9")]
    assert len(want2) == 20, len(want2)
    bad = [k for k in returned if k not in want2]
    assert not bad, "MATCH *:1?9 returned %r" % bad[:5]
    check(returned, want2, [], "MATCH *:1?9")


@R.test
def scan_static(ctx):
    """No changes: every key exactly as DBSIZE says; TYPE string keeps all,
    TYPE hash returns none; COUNT 1 still ends."""
    keys = fresh(ctx, 5000, b"st")
    returned, steps = scan_while(ctx, 1, lambda w, s: None)
    check(returned, keys, [], "COUNT 1")
    with RespConn(ctx["srv"].port) as c:
        cur, got = b"0", set()
        while True:
            cur, ks = scan_step(c, cur, 500, None, b"string")
            got.update(ks)
            if cur == b"0":
                break
        expect_eq(got, set(keys), "TYPE string")
        cur, got = b"0", set()
        while True:
            cur, ks = scan_step(c, cur, 500, None, b"hash")
            got.update(ks)
            if cur == b"0":
                break
        expect_eq(got, set(), "TYPE hash")


@R.test
def scan_empty_db(ctx):
    with RespConn(ctx["srv"].port) as c:
        c.call("FLUSHDB")
        expect_eq(c.call("SCAN", "0"), [b"0", []], "SCAN on an empty db")
        expect_eq(c.call("SCAN", "0", "COUNT", "0"), RespError("ERR syntax error"), "COUNT 0")
        expect_eq(c.call("SCAN", "abc"), RespError("ERR invalid cursor"), "bad cursor")


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
