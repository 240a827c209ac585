#!/usr/bin/python3
"""Large values (issue 20): how a connection reads big arguments. Once a
connection has sent a big bulk (16 KB or more) whose bytes came in the
same read as its header, its reads take 32.5 KB (READ_BIG_CHUNK,
net/netloop.c) instead of 16 KB, and a read that fills all it asked for
while the parser waits inside a big bulk is followed at once by another.
These tests drive one connection into that state and then send what could
go wrong across it: small commands pipelined in more than a read's worth,
big bulks whose header, payload or CRLF straddle the 16 KB and 32.5 KB read
boundaries, MSET/MGET of many 16 KB values, sent whole, in random pieces
and byte at a time; every reply byte for byte against a real redis-server
(and, with --server redis-server, the script checks Redis against itself).
"""

import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, Runner, encode, is_real_redis, parse_args, short  # noqa: E402
from harness import start_reference  # noqa: E402
from server_opts import start_with  # noqa: E402
from bigvalue_util import RawReader, send_and_read, value  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
REDIS = is_real_redis(args)
KB = 1 << 10
READ_CHUNK = 16 * KB
READ_BIG_CHUNK = 32 * KB + 512


def warm(c):
    """Two 16 KB SETs, each alone: their bytes come with their header, so
    the connection switches to big reads."""
    for i in range(2):
        c.sock.sendall(encode("SET", "warm%d" % i, value(16 * KB, 90 + i)))
        assert c.sock.recv(64) == b"+OK\r\n"


def compare(ctx, build, modes=("whole", "pieces")):
    """build() -> list of commands; runs them on a fresh connection (warmed)
    of mem-kv and of Redis, in one stream per mode; replies must match."""
    cmds = build()
    stream = b"".join(encode(*c) for c in cmds)
    for mode in modes:
        replies = []
        for srv in (ctx["srv"], ctx["ref"]):
            with RespConn(srv.port, timeout=120) as c:
                c.call("FLUSHALL")
                warm(c)
                replies.append(send_and_read(c.sock, stream, len(cmds), mode, 7))
        for i, (m, r) in enumerate(zip(*replies)):
            assert m == r, "%s, command %d %s: mem-kv %s (%d bytes), redis %s (%d bytes)" % (
                mode, i, cmds[i][0], short(m), len(m), short(r), len(r))


@R.test
def small_commands_after_big_reads(ctx):
    """After big SETs, thousands of small commands in one write (many
    filled 32.5 KB reads with no big bulk: the connection goes back to
    16 KB reads), then a big SET and GET again."""
    def build():
        cmds = []
        for i in range(3000):
            cmds += [("SET", "s%d" % (i % 97), "v%d" % i), ("INCR", "ctr"), ("GET", "s%d" % (i % 97))]
        cmds += [("SET", "b", value(16 * KB, 3)), ("GET", "b"), ("GET", "warm1"), ("PING",)]
        return cmds
    compare(ctx, build)


def pad_cmd(n):
    """A SET of exactly n bytes (n >= 30)."""
    k = n - len(encode("SET", "pad", ""))
    while len(encode("SET", "pad", "p" * k)) > n:
        k -= 1
    return encode("SET", "pad", "p" * k)


@R.test
def big_bulks_across_read_boundaries(ctx):
    """Each write a padding command of the length that puts the next big
    bulk's header, its last payload byte or its CRLF at the 16 KB and 32.5 KB
    read boundaries (the server's read starts at the write's first byte),
    the big SET, small commands and the GET of the value."""
    cases = []
    for size in (16 * KB - 1, 16 * KB, 16 * KB + 1, 20 * KB, 32 * KB + 600):
        big = encode("SET", "k", value(size, size))
        head = len(big) - size - 2  # bytes before the payload
        for edge in (READ_CHUNK, READ_BIG_CHUNK, READ_BIG_CHUNK + READ_CHUNK):
            for start in (edge - head - 1, edge - head + 1, edge - len(big) + 1,
                          edge - len(big) + 2, edge - len(big) - 1, edge - 3):
                if start >= 30:
                    cases.append((start, size))
    tail = encode("STRLEN", "k") + encode("GET", "k") + encode("INCR", "n")
    replies = []
    for srv in (ctx["srv"], ctx["ref"]):
        got = []
        with RespConn(srv.port, timeout=120) as c:
            c.call("FLUSHALL")
            warm(c)
            reader = RawReader(c.sock)
            for start, size in cases:
                c.sock.sendall(pad_cmd(start) + encode("SET", "k", value(size, start)) + tail)
                got.append([reader.reply() for _ in range(5)])
        replies.append(got)
    for (start, size), m, r in zip(cases, *replies):
        assert m == r, "pad %d, value %d: mem-kv %s, redis %s" % (
            start, size, [short(x) for x in m], [short(x) for x in r])


@R.test
def mset_mget_many_16k(ctx):
    """MSET of 12 values of 16 KB and around it, MGET of them, SET ... GET
    and HSET of 16 KB fields, pipelined."""
    def build():
        rnd = random.Random(5)
        cmds = []
        for r in range(6):
            kv = []
            for i in range(12):
                kv += ["m%d" % i, value(rnd.choice((16 * KB - 1, 16 * KB, 16 * KB + 7, 17 * KB)),
                                        r * 12 + i)]
            cmds += [("MSET",) + tuple(kv), ("MGET",) + tuple("m%d" % i for i in range(12)),
                     ("SET", "x", value(16 * KB, r), "GET"), ("HSET", "h", "f%d" % r,
                                                               value(16 * KB, 50 + r)),
                     ("HGET", "h", "f%d" % r), ("PING",)]
        return cmds
    compare(ctx, build)


@R.test
def byte_at_a_time_after_big_reads(ctx):
    """The same connection state, fed one byte per write: a 16 KB SET, small
    commands, a 40 KB SET."""
    def build():
        return [("SET", "a", value(16 * KB, 1)), ("PING",), ("GET", "a"), ("INCR", "n"),
                ("SET", "c", value(40 * KB, 2)), ("GET", "c"), ("GET", "warm0")]
    compare(ctx, build, modes=("bytes",))


def setup(runner):
    srv = runner.add_server(start_with(args, [], "main"))
    ref = srv if REDIS else runner.add_server(start_reference(args))
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
