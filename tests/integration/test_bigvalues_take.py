#!/usr/bin/python3
"""Big value arguments kept as the stored value (issue 20): MSET, MSETNX,
HSET, HMSET, HSETNX, SETNX, APPEND of a new key, SETRANGE at offset 0 and
SET with its options keep the parser's buffer of a bulk of 16 KB or more
as the value instead of copying it; APPEND grows a big value in place,
also while a reply is still sending it. Here: those commands with values
across the 16 KB boundary, pipelined with small commands before and after
and sent in random pieces, byte for byte against a real redis-server;
the same key or field twice in one command; the arguments still readable
(SLOWLOG) after the values they became were overwritten and deleted;
APPEND growing a value that a slow reader's GETs are still sending; and
the values written by those commands recovered after kill -9.

Run under an ASan build (build-debug) to catch a kept buffer freed while
a reply or the log still reads it, and with several actors (parts of one
MSET on different actors keep their own arguments).
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Runner, encode, expect_eq, is_real_redis,  # noqa: E402
                     parse_args, short, start_reference)
from server_opts import start_with  # noqa: E402
from bigvalue_util import RawReader, bulk, send_and_read, value  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
REDIS = is_real_redis(args)
KB = 1 << 10
SIZES = (16 * KB - 1, 16 * KB, 16 * KB + 1, 40 * KB, 300 * KB)


def stream_for(n, i):
    """Commands that store big arguments (values of n bytes), between and
    after small ones; every key hashes anywhere (MSET spans shards)."""
    v = [value(n, 10 * i + j) for j in range(6)]
    small = value(100, i)
    part = value(15 * KB, i)  # APPEND crosses 16 KB with the next piece
    return [
        ("PING",), ("SET", "s1", small),
        ("MSET", "ma", v[0], "mb", v[1], "mc", small, "md", v[2]),
        ("MGET", "ma", "mb", "mc", "md", "nokey"),
        ("MSET", "mk", v[0], "mk", v[1]), ("GET", "mk"),
        ("MSETNX", "nd", v[3], "ne", v[4]), ("MSETNX", "ma", v[5], "nf", v[5]),
        ("MGET", "nd", "ne", "nf", "ma"),
        ("HSET", "h", "f1", v[0], "f2", small, "f3", v[1]),
        ("HSET", "h", "f1", v[2], "f1", v[3]), ("HMSET", "h", "f4", v[4]),
        ("HSETNX", "h", "f5", v[5]), ("HSETNX", "h", "f1", v[0]),
        ("HGET", "h", "f1"), ("HMGET", "h", "f1", "f2", "f3", "f4", "f5", "f6"),
        ("HLEN", "h"), ("HSTRLEN", "h", "f4"),
        ("SETNX", "n1", v[0]), ("SETNX", "n1", v[1]), ("GET", "n1"),
        ("APPEND", "ap", part), ("APPEND", "ap", small * 20), ("APPEND", "ap", v[1]),
        ("GET", "ap"), ("STRLEN", "ap"),
        ("APPEND", "an", v[2]), ("GET", "an"), ("APPEND", "an", small), ("GET", "an"),
        ("SETRANGE", "sr", "0", v[3]), ("GET", "sr"), ("SETRANGE", "sr", "0", v[4]),
        ("SETRANGE", "sr", "5", small), ("GET", "sr"), ("SETRANGE", "sr", "0", small),
        ("GETRANGE", "sr", "0", "300"),
        ("SET", "ex", v[0], "EX", "1000"), ("SETRANGE", "ex", "0", v[1]), ("TTL", "ex"),
        ("GET", "ex"),
        ("SET", "y", v[0], "NX"), ("SET", "y", v[1], "NX"), ("SET", "y", v[2], "GET"),
        ("SET", "y", v[3], "XX", "KEEPTTL"), ("SET", "nz", v[3], "XX"), ("GET", "y"),
        ("DEL", "ma", "h", "n1", "ap"), ("MGET", "ma", "mb", "y"), ("HGETALL", "h"),
        ("SET", "s2", small), ("GET", "s1"), ("PING",),
    ]


@R.test
def kept_arguments_against_redis(ctx):
    """Every command that may keep a big argument, around 16 KB, pipelined
    and sent in random pieces: the same replies as Redis, byte for byte."""
    if REDIS:
        return
    ref = R.add_server(start_reference(args))
    try:
        for i, n in enumerate(SIZES):
            cmds = stream_for(n, i)
            stream = b"".join(encode(*c) for c in cmds)
            replies = []
            for srv in (ctx["srv"], ref):
                with RespConn(srv.port, timeout=60) as c:
                    c.call("FLUSHALL")
                    replies.append(send_and_read(c.sock, stream, len(cmds), "pieces", n))
            for j, (m, r) in enumerate(zip(*replies)):
                assert m == r, "size %d, command %d %s %s: mem-kv %s (%d bytes), redis %s " \
                    "(%d bytes)" % (n, j, cmds[j][0], cmds[j][1] if len(cmds[j]) > 1 else "",
                                    short(m), len(m), short(r), len(r))
    finally:
        R.servers.remove(ref)
        ref.stop()
        ref.cleanup()


@R.test
def kept_arguments_stay_readable(ctx):
    """SLOWLOG reads a command's arguments once its reply is ready: the big
    ones of MSET and HSET are then the stored values' bytes, which must
    still be there after later commands of the same pipeline overwrote and
    deleted those values."""
    with RespConn(ctx["srv"].port, timeout=60) as c:
        old = c.call("CONFIG", "GET", "slowlog-log-slower-than")[1]
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        try:
            a = (b"mset-value-a-" * 4000)[:40 * KB]
            b = (b"hset-value-b-" * 4000)[:20 * KB]
            c.call("SLOWLOG", "RESET")
            stream = (encode("MSET", "sa", a, "sb", a, "sc", "x") + encode("HSET", "sh", "f", b) +
                      encode("MSET", "sa", value(40 * KB, 1), "sb", value(40 * KB, 2)) +
                      encode("HSET", "sh", "f", value(20 * KB, 3)) + encode("DEL", "sa", "sb", "sh") +
                      encode("SET", "filler", value(40 * KB, 4)))
            got = send_and_read(c.sock, stream, 6, "whole")
            expect_eq(got[0], b"+OK\r\n", "MSET")
            entries = c.call("SLOWLOG", "GET", "20")
            msets = [e[3] for e in entries if e[3][:2] == [b"MSET", b"sa"]]
            hsets = [e[3] for e in entries if e[3][:2] == [b"HSET", b"sh"]]
            assert msets and hsets, "no MSET/HSET in %s" % short(repr(entries).encode())
            for arg, want in ((msets[-1][2], a), (msets[-1][4], a), (hsets[-1][3], b)):
                cut = want[:128] + b"... (%d more bytes)" % (len(want) - 128)
                assert arg == cut, "SLOWLOG argument %s, want %s" % (short(arg), short(cut))
        finally:
            c.call("CONFIG", "SET", "slowlog-log-slower-than", old)


@R.test
def append_while_sending(ctx):
    """GETs of a big value to a slow reader, then APPENDs to it (growing it
    in place, in the room after its bytes) and a SETRANGE inside it: every
    GET answers the value as it was when it ran."""
    srv = ctx["srv"]
    base = value(600 * KB, 5)
    with RespConn(srv.port, timeout=60) as w, RespConn(srv.port, timeout=60) as r:
        # the first APPEND past the SET's buffer leaves room for as much
        # again: the later ones (values over 24 KB, sent from the stored
        # bytes) grow in place under the GETs' pins
        expect_eq(w.call("SET", "grow", base[:17 * KB]), "OK", "SET")
        want, cur = [], base[:17 * KB]
        reader = RawReader(r.sock, pause=0.02, chunk=4096)
        for step in range(12):
            r.send(encode("GET", "grow"))
            want.append(bulk(cur))
            time.sleep(0.005)
            add = base[len(cur):len(cur) + 1000 * (step + 1)]
            expect_eq(w.call("APPEND", "grow", add), len(cur) + len(add), "APPEND")
            cur += add
        expect_eq(w.call("SETRANGE", "grow", "3", "XYZ"), len(cur), "SETRANGE")
        for i, wv in enumerate(want):
            g = reader.reply()
            assert g == wv, "GET %d: %d bytes %s, want %d bytes" % (i, len(g), short(g), len(wv))
        got = w.call("GET", "grow")
        assert got == cur[:3] + b"XYZ" + cur[6:], "final value differs"


@R.test
def recovered_after_kill(ctx):
    """Values stored by the commands that keep their argument (MSET over
    several shards, MSETNX, HSET, SETNX, APPEND, SETRANGE) come back after
    kill -9 (persistence on, --fsync always)."""
    if REDIS:
        return
    from persist_util import PersistServer
    srv = R.add_server(PersistServer(args, ["--fsync", "always"], name="takepersist").start())
    try:
        want, hwant = {}, {}
        with RespConn(srv.port, timeout=60) as c:
            for i, n in enumerate((16 * KB - 1, 16 * KB, 40 * KB, 300 * KB)):
                ks = ["k%d_%d" % (i, j) for j in range(6)]
                vs = [value(n, 50 * i + j) for j in range(6)]
                expect_eq(c.call("MSET", ks[0], vs[0], ks[1], vs[1], ks[2], "small"), "OK", "MSET")
                want.update({ks[0]: vs[0], ks[1]: vs[1], ks[2]: b"small"})
                expect_eq(c.call("MSETNX", ks[3], vs[3], ks[4], vs[4]), 1, "MSETNX")
                want.update({ks[3]: vs[3], ks[4]: vs[4]})
                expect_eq(c.call("SETNX", ks[5], vs[5]), 1, "SETNX")
                want[ks[5]] = vs[5]
                c.call("HSET", "hk%d" % i, "a", vs[0], "b", "small", "c", vs[2])
                hwant["hk%d" % i] = {b"a": vs[0], b"b": b"small", b"c": vs[2]}
                c.call("APPEND", "ak%d" % i, vs[1])
                c.call("APPEND", "ak%d" % i, vs[2])
                want["ak%d" % i] = vs[1] + vs[2]
                c.call("SETRANGE", "rk%d" % i, "0", vs[3])
                c.call("SETRANGE", "rk%d" % i, "0", vs[4])
                want["rk%d" % i] = vs[4]
        srv.kill()
        srv.start()
        with RespConn(srv.port, timeout=60) as c:
            for k, v in want.items():
                got = c.call("GET", k)
                assert got == v, "%s: %d bytes back, want %d" % (k, len(got or b""), len(v))
            for k, fields in hwant.items():
                for f, v in fields.items():
                    got = c.call("HGET", k, f)
                    assert got == v, "%s %s: %d bytes back, want %d" % (
                        k, f, len(got or b""), len(v))
    finally:
        R.servers.remove(srv)
        srv.kill()
        srv.cleanup()


def setup(runner):
    return {"srv": runner.add_server(start_with(args, [], "main"))}


sys.exit(R.run(setup=setup))
