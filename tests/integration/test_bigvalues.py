#!/usr/bin/python3
"""Large values (issue 20): values of every size from 0 to 4 MB across the
sizes where the server changes how it handles them (its 16 KB reads, the
16 KB from which a bulk is read into a buffer of its own that a SET keeps
as the stored value, the 4 KB from which a reply is written as it is
instead of copied), sent in one write,
byte at a time and in random pieces, pipelined with small commands before
and after; big keys and options after a big value; big GET replies to a
slow reader while their keys are overwritten, deleted, expired and
evicted; the same sequences against a real redis-server, byte for byte;
and large values recovered from the log after kill -9.

Run under an ASan build (build-debug) to catch a reply freed while it is
still being written. The same script passes against Redis
(--server redis-server), except the kill -9 test, which needs mem-kv.
"""

import os
import random
import socket
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
MB = 1 << 20

# Around every size where the server's handling changes, and a spread up to 4 MB.
EDGES = [4 * KB, 16 * KB, 32 * KB, 64 * KB, 128 * KB, 256 * KB, MB, 4 * MB]
SIZES = sorted({0, 1, 2, 100} | {e + d for e in EDGES for d in (-3, -2, -1, 0, 1, 2)
                                if e + d <= 4 * MB} | {3 * MB + 12345})


def roundtrip(srv, n, mode, seed):
    """PING, SET k v, GET k, GET small, PING, in one stream sent by mode."""
    v = value(n, seed)
    key = b"big:%d:%s" % (n, mode.encode())
    stream = (encode("PING") + encode("SET", key, v) + encode("GET", key) +
              encode("SET", "small", "x") + encode("GET", "small") + encode("STRLEN", key) +
              encode("PING"))
    with RespConn(srv.port, timeout=60) as c:
        got = send_and_read(c.sock, stream, 7, mode, seed)
    want = [b"+PONG\r\n", b"+OK\r\n", bulk(v), b"+OK\r\n", b"$1\r\nx\r\n",
            b":%d\r\n" % n, b"+PONG\r\n"]
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, "size %d, %s, reply %d: got %s (%d bytes), want %s (%d bytes)" % (
            n, mode, i, short(g), len(g), short(w), len(w))


@R.test
def sizes_whole_writes(ctx):
    for n in SIZES:
        roundtrip(ctx["srv"], n, "whole", 1)


@R.test
def sizes_random_pieces(ctx):
    for n in SIZES:
        roundtrip(ctx["srv"], n, "pieces", 2)


@R.test
def sizes_byte_at_a_time(ctx):
    for n in [s for s in SIZES if s <= 32 * KB + 2] + [64 * KB + 1]:
        roundtrip(ctx["srv"], n, "bytes", 3)


@R.test
def pipeline_of_big_and_small(ctx):
    """Many big SETs and GETs pipelined in one write with small commands
    between them (more than the 4 MB of arguments a network thread keeps in
    flight), then MSET/MGET of several big values, a big key, and an option
    after a big value."""
    rnd = random.Random(4)
    sizes = [rnd.choice(SIZES) for _ in range(40)]
    stream, want = b"", []
    for i, n in enumerate(sizes):
        v = value(n, 40 + i)
        stream += encode("SET", "p%d" % i, v) + encode("INCR", "ctr") + encode("GET", "p%d" % i)
        want += [b"+OK\r\n", b":%d\r\n" % (i + 1), bulk(v)]
    a, b = value(MB + 1, 5), value(40 * KB, 6)
    bigkey = b"K" * (40 * KB)
    stream += encode("MSET", "m1", a, "m2", "s", "m3", b)
    stream += encode("MGET", "m1", "m2", "nokey", "m3")
    stream += encode("SET", bigkey, a, "PX", "600000") + encode("GET", bigkey)
    stream += encode("PTTL", bigkey) + encode("EXISTS", bigkey, "m1")
    want += [b"+OK\r\n", b"*4\r\n" + bulk(a) + b"$1\r\ns\r\n$-1\r\n" + bulk(b),
             b"+OK\r\n", bulk(a), None, b":2\r\n"]
    with RespConn(ctx["srv"].port, timeout=120) as c:
        got = send_and_read(c.sock, stream, len(want), "pieces", 4)
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g.startswith(b":") and 590000 < int(g[1:]) <= 600000, "PTTL %s" % short(g)
            continue
        assert g == w, "reply %d: got %s (%d bytes), want %s (%d bytes)" % (
            i, short(g), len(g), short(w), len(w))


def slow_reader(srv, change, also=None, mget=False):
    """A client pipelines GETs of big values and reads its replies slowly
    (a small receive buffer, 64 KB at a time) while another client applies
    change(conn, keys) to the keys. Every reply must be a whole value the
    key held (the old or the new one, or one of also(old value)) or nil.
    The GETs' replies are written from the stored values (pinned, not
    copied): what changes a key meanwhile must not change them."""
    keys = ["slow%d" % i for i in range(6)]
    old = {k: value(MB + 17 * i, 60 + i) for i, k in enumerate(keys)}
    new = {k: value(MB // 2 + 3 * i, 70 + i) for i, k in enumerate(keys)}
    with RespConn(srv.port, timeout=60) as w:
        for k in keys:
            expect_eq(w.call("SET", k, old[k]), "OK", "SET")
    rc = RespConn(srv.port, timeout=60)
    rc.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KB)
    rounds = 3
    for _ in range(rounds):
        if mget:
            rc.send(encode("MGET", *keys))
        else:
            rc.send(b"".join(encode("GET", k) for k in keys))
    time.sleep(0.3)  # the first replies are made and stuck in the socket
    with RespConn(srv.port, timeout=60) as w:
        change(w, keys, new)

    reader = RawReader(rc.sock, pause=0.001, chunk=64 * KB)  # 64 KB at a time, 1 ms apart

    def check(r, k, g):
        ok = g in (bulk(old[k]), bulk(new[k]), b"$-1\r\n") or (
            also is not None and g in [bulk(v) for v in also(old[k])])
        assert ok, "round %d %s: %s (%d bytes)" % (r, k, short(g), len(g))
    for r in range(rounds):
        if mget:
            g = reader.reply()
            head = b"*%d\r\n" % len(keys)
            assert g.startswith(head), "round %d MGET: %s" % (r, short(g))
            sub = RawReader(None)
            sub.buf, sub.pos = bytearray(g), len(head)
            for k in keys:
                check(r, k, sub.reply())
            continue
        for k in keys:
            check(r, k, reader.reply())
    rc.close()
    with RespConn(srv.port) as w:
        expect_eq(w.call("PING"), "PONG", "server alive")


@R.test
def slow_reader_overwrite(ctx):
    slow_reader(ctx["srv"], lambda w, keys, new: [w.call("SET", k, new[k]) for k in keys])


@R.test
def slow_reader_append_setrange(ctx):
    """APPEND and SETRANGE change a value where it lies when nothing else
    holds it; here the pending replies hold it."""
    def change(w, keys, new):
        for k in keys:
            w.call("APPEND", k, "tail")
            w.call("SETRANGE", k, 5, "XYZ")
            w.call("SETRANGE", k, 2 * MB, "far")  # grows past the old size

    def also(v):
        a = v + b"tail"
        b = a[:5] + b"XYZ" + a[8:]
        return [a, b, b + b"\0" * (2 * MB - len(b)) + b"far"]
    slow_reader(ctx["srv"], change, also)


@R.test
def slow_reader_setrange_in_place(ctx):
    """SETRANGE inside a value's length changes it where it lies when
    nothing else holds it; here a GET's and an MGET's replies, made (the
    only commands of their clients, so they ran at once) but not yet sent
    to slow readers, hold it: they must carry the value as it was."""
    srv = ctx["srv"]
    n = 16 * MB  # more than the server's socket send buffer takes at once (4 MB)
    v = value(n, 310)
    with RespConn(srv.port, timeout=60) as w:
        expect_eq(w.call("SET", "sr1", v), "OK", "SET")
        expect_eq(w.call("SET", "sr2", v), "OK", "SET")
        readers = []
        for cmd in (encode("GET", "sr1"), encode("MGET", "sr2", "sr1")):
            rc = RespConn(srv.port, timeout=60)
            rc.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KB)
            rc.send(cmd)
            readers.append(rc)
        time.sleep(0.3)  # both replies made, stuck in the sockets
        for k in ("sr1", "sr2"):
            expect_eq(w.call("SETRANGE", k, n - 100, "XYZ"), n, "SETRANGE")
            expect_eq(w.call("SETRANGE", k, 1000, "XYZ"), n, "SETRANGE")
        g = RawReader(readers[0].sock, pause=0.001, chunk=64 * KB).reply()
        assert g == bulk(v), "GET: changed while sent (%d bytes)" % len(g)
        g = RawReader(readers[1].sock, pause=0.001, chunk=64 * KB).reply()
        assert g == b"*2\r\n" + bulk(v) + bulk(v), "MGET: changed while sent (%d bytes)" % len(g)
        for rc in readers:
            rc.close()
        new = v[:1000] + b"XYZ" + v[1003:n - 100] + b"XYZ" + v[n - 97:]
        expect_eq(w.call("GET", "sr1"), new, "GET after")


@R.test
def slow_reader_delete(ctx):
    slow_reader(ctx["srv"], lambda w, keys, new: w.call("DEL", *keys))


@R.test
def slow_reader_expire(ctx):
    def change(w, keys, new):
        for k in keys:
            w.call("PEXPIRE", k, 1)
        time.sleep(0.05)
        w.call("EXISTS", *keys)  # lazy expiry frees them
    slow_reader(ctx["srv"], change)


@R.test
def slow_reader_evict(ctx):
    srv = R.add_server(start_with(args, ["--maxmemory", "64mb", "--maxmemory-policy",
                                         "allkeys-lru"], "evict"))
    try:
        def change(w, keys, new):
            for i in range(120):  # 120 MB through a 64 MB limit: the old keys go
                w.call("SET", "fill%d" % i, value(MB, 90 + i % 7))
        slow_reader(srv, change)
    finally:
        R.servers.remove(srv)
        srv.stop()
        srv.cleanup()


@R.test
def slow_reader_mget_overwrite_delete_expire(ctx):
    """MGET of big values to a slow reader while the keys are overwritten
    (by big SETs, whose buffers become the stored values), deleted and
    expired."""
    def change(w, keys, new):
        for i, k in enumerate(keys):
            if i % 3 == 0:
                w.call("SET", k, new[k])
            elif i % 3 == 1:
                w.call("DEL", k)
            else:
                w.call("PEXPIRE", k, 1)
        time.sleep(0.05)
        w.call("EXISTS", *keys)  # lazy expiry frees them
    slow_reader(ctx["srv"], change, mget=True)


@R.test
def set_keeps_buffer_variants(ctx):
    """The commands that store a big argument as it is (SET with options,
    SETEX, PSETEX, GETSET) around the 16 KB threshold, pipelined with small
    commands; then the argument as SLOWLOG shows it, read after the value
    it became was overwritten and deleted (the argument's bytes are the
    stored value's: they must stay readable until the reply is out)."""
    srv = ctx["srv"]
    with RespConn(srv.port, timeout=60) as c:
        for n in (16 * KB - 1, 16 * KB, 16 * KB + 1, 20 * KB, 256 * KB, MB):
            a, b, d = value(n, 200), value(n, 201), value(n, 202)
            stream = (encode("SET", "sk", a, "EX", "1000") + encode("GET", "sk") +
                      encode("SET", "sk", b, "GET") + encode("SETEX", "sk", "1000", d) +
                      encode("TTL", "sk") + encode("GETSET", "sk", a) + encode("GET", "sk") +
                      encode("PSETEX", "sk", "100000", b) + encode("STRLEN", "sk") +
                      encode("SET", "sk", d, "NX") + encode("SET", "sk", d, "XX", "KEEPTTL") +
                      encode("GET", "sk") + encode("PING"))
            want = [b"+OK\r\n", bulk(a), bulk(a), b"+OK\r\n", b":1000\r\n", bulk(d), bulk(a),
                    b"+OK\r\n", b":%d\r\n" % n, b"$-1\r\n", b"+OK\r\n", bulk(d), b"+PONG\r\n"]
            got = send_and_read(c.sock, stream, len(want), "pieces", n)
            for i, (g, w) in enumerate(zip(got, want)):
                assert g == w, "size %d reply %d: got %s, want %s" % (n, i, short(g), short(w))
        old = c.call("CONFIG", "GET", "slowlog-log-slower-than")[1]
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        try:
            text = (b"slowlog-value-" * 3000)[:40 * KB]
            c.call("SLOWLOG", "RESET")
            expect_eq(c.call("SET", "slk", text), "OK", "SET")
            c.call("SET", "slk", value(40 * KB, 7))
            c.call("DEL", "slk")
            c.call("SET", "filler", value(40 * KB, 8))
            entries = c.call("SLOWLOG", "GET", "10")
            sets = [e[3] for e in entries if e[3][:2] == [b"SET", b"slk"]]
            assert sets, "no SET slk in %s" % short(repr(entries).encode())
            first = sets[-1]
            want = text[:128] + b"... (%d more bytes)" % (len(text) - 128)
            assert first[2] == want, "SLOWLOG argument %s" % short(first[2])
        finally:
            c.call("CONFIG", "SET", "slowlog-log-slower-than", old)


@R.test
def big_values_in_multi_and_scripts(ctx):
    """Big SETs and MGETs inside MULTI/EXEC and EVAL (where arguments are
    copied and replies hold every byte), pipelined with plain ones."""
    a, b = value(16 * KB, 301), value(300 * KB, 302)
    # one key: a script's keys must live on one actor (docs/protocol.md)
    script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('MGET', KEYS[1], KEYS[1])"
    stream = (encode("SET", "tx2", b) + encode("MULTI") + encode("SET", "tx1", a) +
              encode("MGET", "tx1", "tx2", "nokey") + encode("GETSET", "tx2", a) + encode("EXEC") +
              encode("EVAL", script, "1", "tx3", b) + encode("MGET", "tx3", "tx2", "tx1"))
    want = [b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n",
            b"*3\r\n+OK\r\n*3\r\n" + bulk(a) + bulk(b) + b"$-1\r\n" + bulk(b),
            b"*2\r\n" + bulk(b) + bulk(b), b"*3\r\n" + bulk(b) + bulk(a) + bulk(a)]
    with RespConn(ctx["srv"].port, timeout=60) as c:
        got = send_and_read(c.sock, stream, len(want), "pieces", 303)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, "reply %d: got %s (%d bytes), want %s (%d bytes)" % (
            i, short(g), len(g), short(w), len(w))


@R.test
def differential_with_redis(ctx):
    """The same commands with large values, byte for byte against Redis."""
    if REDIS:
        return
    ref = R.add_server(start_reference(args))
    try:
        rnd = random.Random(11)
        cmds = []
        keys = ["d%d" % i for i in range(5)]
        for i in range(300):
            k = rnd.choice(keys)
            n = rnd.choice(SIZES[:-3])
            op = rnd.randrange(12)
            if op < 3:
                cmds.append(("SET", k, value(n, i)))
            elif op == 3:
                cmds.append(("APPEND", k, value(rnd.choice((1, 5000, 40000)), i)))
            elif op == 4:
                cmds.append(("GETRANGE", k, str(rnd.randrange(-70000, 70000)),
                             str(rnd.randrange(-70000, 2 * MB))))
            elif op == 5:
                cmds.append(("SETRANGE", k, str(rnd.randrange(0, 300000)),
                             value(rnd.choice((0, 3, 33000)), i)))
            elif op == 6:
                cmds.append(("STRLEN", k))
            elif op == 7:
                cmds.append(("MGET",) + tuple(rnd.sample(keys, 3)))
            elif op == 8:
                cmds.append(("GETSET", k, value(n, i)))
            elif op == 9:
                cmds.append(("MSET", k, value(n, i), rnd.choice(keys), value(n // 2, i)))
            elif op == 10:
                cmds.append(("GETDEL", k))
            else:
                cmds.append(("GET", k))
        stream = b"".join(encode(*c) for c in cmds)
        replies = []
        for srv in (ctx["srv"], ref):
            with RespConn(srv.port, timeout=120) as c:
                c.call("FLUSHALL")
                replies.append(send_and_read(c.sock, stream, len(cmds), "pieces", 12))
        for i, (m, r) in enumerate(zip(*replies)):
            assert m == r, "command %d %s %s: mem-kv %s (%d bytes), redis %s (%d bytes)" % (
                i, cmds[i][0], cmds[i][1], short(m), len(m), short(r), len(r))
    finally:
        R.servers.remove(ref)
        ref.stop()
        ref.cleanup()


@R.test
def recovered_after_kill(ctx):
    """Large values written with --fsync always come back after kill -9."""
    if REDIS:
        return
    from persist_util import PersistServer
    srv = R.add_server(PersistServer(args, ["--fsync", "always"], name="bigpersist").start())
    try:
        want = {}
        with RespConn(srv.port, timeout=60) as c:
            for i, n in enumerate([16 * KB - 1, 16 * KB, 16 * KB + 1, 32 * KB, 64 * KB + 1, MB,
                                   3 * MB + 5, 0, 100]):
                want["r%d" % i] = value(n, 80 + i)
                expect_eq(c.call("SET", "r%d" % i, want["r%d" % i]), "OK", "SET")
            # overwritten in place by a kept buffer, and with SETEX / GETSET
            want["r1"] = value(16 * KB, 95)
            expect_eq(c.call("SET", "r1", want["r1"]), "OK", "SET over")
            want["x1"] = value(256 * KB, 96)
            expect_eq(c.call("SETEX", "x1", "100000", want["x1"]), "OK", "SETEX")
            c.call("GETSET", "r5", want["x1"])
            want["r5"] = want["x1"]
            expect_eq(c.call("COMPACT"), "OK", "COMPACT")
            want["after"] = value(MB + 1, 99)
            expect_eq(c.call("SET", "after", want["after"]), "OK", "SET after the snapshot")
        srv.kill()
        srv.start()
        with RespConn(srv.port, timeout=60) as c:
            for k, v in want.items():
                got = c.call("GET", k)
                assert got == v, "%s: %d bytes back, want %d" % (k, len(got or b""), len(v))
    finally:
        R.servers.remove(srv)
        srv.kill()
        srv.cleanup()


def setup(runner):
    return {"srv": runner.add_server(start_with(args, [], "main"))}


sys.exit(R.run(setup=setup))
