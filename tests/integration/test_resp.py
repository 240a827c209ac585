#!/usr/bin/python3
"""RESP over a raw socket: pipelining (one write, random 1..7-byte splits),
protocol errors and connection closing, inline commands, large and binary
values, back-pressure with a deep pipeline."""

import os
import random
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Status, encode, encode_many,  # noqa: E402
                     expect_eq, parse_args, Runner, start_under_test, short)

args = parse_args(__doc__)
R = Runner(args)
OK = Status("OK")


def conn(ctx, timeout=10.0):
    return RespConn(ctx["srv"].port, timeout=timeout)


# ------------------------------------------------------------ mixed pipeline

def mixed_commands(rng, n, prefix):
    """n commands over a small key space and the replies Redis gives."""
    strs = ["%s:s%d" % (prefix, i) for i in range(12)]
    ctrs = ["%s:n%d" % (prefix, i) for i in range(4)]
    model = {}
    cmds, want = [], []
    for _ in range(n):
        r = rng.random()
        k = rng.choice(strs)
        if r < 0.18:
            v = rng.choice([b"", b"x", b"hello world", b"a\r\nb", b"\x00\xff\x01",
                            os.urandom(rng.randint(1, 300))])
            cmds.append(["SET", k, v]); model[k] = v; want.append(OK)
        elif r < 0.36:
            cmds.append(["GET", k]); want.append(model.get(k))
        elif r < 0.44:
            ks = [rng.choice(strs + ctrs) for _ in range(rng.randint(1, 6))]
            cmds.append(["MGET"] + ks); want.append([model.get(x) for x in ks])
        elif r < 0.50:
            v = os.urandom(rng.randint(0, 20))
            cmds.append(["APPEND", k, v]); model[k] = model.get(k, b"") + v
            want.append(len(model[k]))
        elif r < 0.55:
            cmds.append(["STRLEN", k]); want.append(len(model.get(k, b"")))
        elif r < 0.62:
            ks = [rng.choice(strs) for _ in range(rng.randint(1, 3))]
            cmds.append(["DEL"] + ks)
            cnt = 0
            for x in ks:
                if x in model:
                    del model[x]; cnt += 1
            want.append(cnt)
        elif r < 0.67:
            ks = [rng.choice(strs + ctrs) for _ in range(rng.randint(1, 3))]
            cmds.append(["EXISTS"] + ks); want.append(sum(1 for x in ks if x in model))
        elif r < 0.80:
            c = rng.choice(ctrs)
            by = rng.randint(-5, 5)
            if rng.random() < 0.5:
                cmds.append(["INCR", c]); by = 1
            else:
                cmds.append(["INCRBY", c, by])
            nv = int(model.get(c, b"0")) + by
            model[c] = str(nv).encode(); want.append(nv)
        elif r < 0.86:
            cmds.append(["PING"]); want.append(Status("PONG"))
        elif r < 0.91:
            m = os.urandom(rng.randint(0, 40))
            cmds.append(["ECHO", m]); want.append(m)
        elif r < 0.95:
            cmds.append([rng.choice(["GET", "get", "Get"]), k]); want.append(model.get(k))
        elif r < 0.98:
            cmds.append(["GET"])
            want.append(RespError("ERR wrong number of arguments for 'get' command"))
        else:
            c = rng.choice(ctrs)
            cmds.append(["INCRBY", c, "notanumber"])
            want.append(RespError("ERR value is not an integer or out of range"))
    return cmds, want


def check_replies(got, want, cmds):
    assert len(got) == len(want), "got %d replies, want %d" % (len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w or type(g) is not type(w):
            raise AssertionError("reply %d to %s: expected %s, got %s" % (
                i, short(cmds[i], 120), short(w), short(g)))


@R.test
def pipeline_1000_one_write(ctx):
    rng = random.Random(1001)
    cmds, want = mixed_commands(rng, 1000, "p1")
    with conn(ctx) as c:
        got = c.pipeline(cmds)
    check_replies(got, want, cmds)


@R.test
def pipeline_1000_random_splits(ctx):
    rng = random.Random(1002)
    cmds, want = mixed_commands(rng, 1000, "p2")
    data = encode_many(cmds)
    import threading
    with conn(ctx) as c:
        err = []

        def sender():
            try:
                i = 0
                while i < len(data):
                    n = rng.randint(1, 7)
                    c.sock.sendall(data[i:i + n])
                    i += n
                    if rng.random() < 0.02:
                        time.sleep(0.001)
            except Exception as e:
                err.append(e)
        t = threading.Thread(target=sender)
        t.start()
        got = [c.read_reply() for _ in range(len(cmds))]
        t.join()
        assert not err, err
    check_replies(got, want, cmds)


@R.test
def split_every_byte_with_pauses(ctx):
    """A short pipeline sent one byte per write with a pause after each:
    every possible split point of headers and payloads arrives alone."""
    cmds = [["SET", "sp:k", b"a\r\nb"], ["GET", "sp:k"], ["MGET", "sp:k", "sp:none"],
            ["PING"]]
    want = [OK, b"a\r\nb", [b"a\r\nb", None], Status("PONG")]
    data = encode_many(cmds)
    with conn(ctx) as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.002)
        got = [c.read_reply() for _ in cmds]
    check_replies(got, want, cmds)


@R.test
def deep_pipeline_backpressure(ctx):
    """100k commands written before reading any reply: the server must
    keep going while its replies pile up (back-pressure, no deadlock)."""
    n = 100000
    cmds = []
    for i in range(n):
        if i % 2:
            cmds.append(["GET", "bp:%d" % (i % 100)])
        else:
            cmds.append(["SET", "bp:%d" % (i % 100), "v%d" % i])
    model = {}
    want = []
    for cmd in cmds:
        if cmd[0] == "SET":
            model[cmd[1]] = cmd[2].encode(); want.append(OK)
        else:
            want.append(model.get(cmd[1]))
    with conn(ctx, timeout=60) as c:
        got = c.pipeline(cmds)
    check_replies(got, want, cmds)


# ------------------------------------------------------------ protocol errors

PROTO_CASES = [
    ("multibulk_len_not_number", b"*x\r\n",
     b"-ERR Protocol error: invalid multibulk length\r\n"),
    ("multibulk_len_too_big", b"*4294967296\r\n",
     b"-ERR Protocol error: invalid multibulk length\r\n"),
    ("bulk_len_negative", b"*1\r\n$-5\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n"),
    ("bulk_len_not_number", b"*1\r\n$abc\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n"),
    ("bulk_len_over_512mb", b"*1\r\n$536870913\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n"),
    ("bulk_header_not_dollar", b"*1\r\nfoo\r\n",
     b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    ("bulk_header_colon", b"*2\r\n$4\r\nECHO\r\n:12\r\n",
     b"-ERR Protocol error: expected '$', got ':'\r\n"),
    ("inline_unbalanced_double_quote", b'SET k "abc\r\n',
     b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ("inline_unbalanced_single_quote", b"ECHO 'abc\r\n",
     b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ("inline_quote_not_followed_by_space", b'ECHO "a"b\r\n',
     b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ("inline_too_big", b"a" * 70000,
     b"-ERR Protocol error: too big inline request\r\n"),
    ("error_after_valid_pipeline",
     encode("SET", "pe:k", "v") + encode("GET", "pe:k") + b"*x\r\n" + encode("PING"),
     b"+OK\r\n$1\r\nv\r\n-ERR Protocol error: invalid multibulk length\r\n"),
]


def make_proto_test(name, payload, expected):
    def t(ctx):
        with conn(ctx) as c:
            c.send(payload)
            data, closed = c.read_until_closed(timeout=5)
        if data != expected:
            raise AssertionError("expected %s, got %s" % (short(expected), short(data)))
        assert closed, "server did not close the connection after a protocol error"
        with conn(ctx) as c2:       # another connection still works
            expect_eq(c2.call("PING"), "PONG", "PING on a new connection")
            expect_eq(c2.call("ECHO", "still"), b"still", "ECHO on a new connection")
    t.__name__ = "protocol_error_" + name
    return t


for _n, _p, _e in PROTO_CASES:
    R.test(make_proto_test(_n, _p, _e))


@R.test
def protocol_error_others_unaffected(ctx):
    """A connection opened before the bad one keeps working, mid-pipeline."""
    with conn(ctx) as good:
        good.send(encode("SET", "pu:k", "1"))
        with conn(ctx) as bad:
            bad.send(b"*1\r\n$-5\r\n")
            bad.read_until_closed(timeout=5)
        good.send(encode("INCR", "pu:k"))
        expect_eq(good.read_reply(), OK, "SET")
        expect_eq(good.read_reply(), 2, "INCR")


@R.test
def empty_and_nonpositive_multibulk_ignored(ctx):
    """Redis ignores `*0`, `*-1` and empty inline lines without a reply."""
    with conn(ctx) as c:
        c.send(b"*0\r\n*-1\r\n\r\n" + encode("PING"))
        expect_eq(c.read_reply(), "PONG", "reply after *0, *-1 and an empty line")


@R.test
def client_disconnect_mid_command(ctx):
    for payload in (b"*3\r\n$3\r\nSET\r\n$4\r\ndc:k\r\n$100\r\nabc",
                    b"*2\r\n$3\r\nGE", b"GET dc:k", b"*1000\r\n"):
        s = socket.create_connection(("127.0.0.1", ctx["srv"].port))
        s.sendall(payload)
        s.close()
    time.sleep(0.1)
    with conn(ctx) as c:
        expect_eq(c.call("PING"), "PONG", "PING after abandoned connections")
        expect_eq(c.call("EXISTS", "dc:k"), 0, "partial SET must not apply")


@R.test
def quit_closes(ctx):
    with conn(ctx) as c:
        c.send(encode("QUIT") + encode("PING"))
        data, closed = c.read_until_closed(timeout=5)
    expect_eq(data, b"+OK\r\n", "QUIT reply")
    assert closed, "connection not closed after QUIT"


# ------------------------------------------------------------ inline

@R.test
def inline_commands(ctx):
    with conn(ctx) as c:
        steps = [
            (b"PING\r\n", b"+PONG\r\n"),
            (b"ping\r\n", b"+PONG\r\n"),
            (b'SET inl:k "hello world"\r\n', b"+OK\r\n"),
            (b"GET inl:k\r\n", b"$11\r\nhello world\r\n"),
            (b"SET inl:q 'it\\'s'\r\n", b"+OK\r\n"),
            (b"GET inl:q\r\n", b"$4\r\nit's\r\n"),
            (b'ECHO "a\\x41\\tb\\n\\\\\\""\r\n', b'$7\r\naA\tb\n\\"\r\n'),
            (b"   ECHO    spaced   \r\n", b"$6\r\nspaced\r\n"),
            (b"ECHO\tx\r\n", b"$1\r\nx\r\n"),
            (b'ECHO ""\r\n', b"$0\r\n\r\n"),
            (b"INCRBY inl:n 5\r\n", b":5\r\n"),
            (b"GET inl:missing\r\n", b"$-1\r\n"),
            (b"MGET inl:k inl:missing\r\n", b"*2\r\n$11\r\nhello world\r\n$-1\r\n"),
            (b"GET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n"),
        ]
        for req, rep in steps:
            c.send(req)
            got = c.read_reply(raw=True)[1]
            if got != rep:
                raise AssertionError("%s: expected %s, got %s" % (short(req), short(rep), short(got)))


@R.test
def inline_and_resp_mixed_in_one_write(ctx):
    with conn(ctx) as c:
        data = (b"PING\r\n" + encode("SET", "mix:k", "v1") + b"GET mix:k\r\n" +
                encode("ECHO", "e") + b"\r\n" + b"DEL mix:k\r\n")
        got = c.send_and_read(data, 5)
    expect_eq(got, ["PONG", "OK", b"v1", b"e", 1], "replies")


@R.test
def inline_pipeline_split(ctx):
    rng = random.Random(7)
    lines = []
    want = []
    for i in range(300):
        lines.append(b"SET isp:%d val%d\r\n" % (i % 17, i))
        want.append(OK)
        lines.append(b"GET isp:%d\r\n" % (i % 17))
        want.append(("val%d" % i).encode())
    data = b"".join(lines)
    with conn(ctx) as c:
        i = 0
        while i < len(data):
            n = rng.randint(1, 7)
            c.send(data[i:i + n])
            i += n
        got = [c.read_reply() for _ in want]
    expect_eq(got, want, "inline replies")


# ------------------------------------------------------------ big and binary

def big_roundtrip(ctx, size):
    val = os.urandom(size)
    with conn(ctx, timeout=60) as c:
        c.send(encode("SET", "big:%d" % size, val))
        expect_eq(c.read_reply(), OK, "SET")
        got = c.call("GET", "big:%d" % size)
        assert got == val, "GET of %d bytes returned %d bytes (%s)" % (
            size, len(got) if got is not None else -1,
            "differs" if got is not None else "nil")
        expect_eq(c.call("STRLEN", "big:%d" % size), size, "STRLEN")
        expect_eq(c.call("GETRANGE", "big:%d" % size, size - 10, -1), val[-10:], "GETRANGE tail")
        expect_eq(c.call("DEL", "big:%d" % size), 1, "DEL")


@R.test
def large_value_1mb(ctx):
    big_roundtrip(ctx, 1 << 20)


@R.test
def large_value_10mb(ctx):
    big_roundtrip(ctx, 10 << 20)


@R.test
def large_values_pipelined(ctx):
    vals = [os.urandom((1 << 20) + i) for i in range(8)]
    cmds = [["SET", "bigp:%d" % i, v] for i, v in enumerate(vals)]
    cmds += [["GET", "bigp:%d" % i] for i in range(len(vals))]
    cmds.append(["MGET"] + ["bigp:%d" % i for i in range(len(vals))])
    with conn(ctx, timeout=60) as c:
        got = c.pipeline(cmds)
    assert got[:8] == [OK] * 8, got[:8]
    assert got[8:16] == vals, "GET replies differ"
    assert got[16] == vals, "MGET reply differs"


@R.test
def many_arguments(ctx):
    n = 10000
    mset = ["MSET"]
    for i in range(n):
        mset += ["ma:%d" % i, "v%d" % i]
    with conn(ctx, timeout=60) as c:
        expect_eq(c.call(*mset), OK, "MSET with 20000 args")
        got = c.call("MGET", *["ma:%d" % i for i in range(n)] + ["ma:none"])
        want = [("v%d" % i).encode() for i in range(n)] + [None]
        assert got == want, "MGET of 10001 keys differs"
        expect_eq(c.call("DEL", *["ma:%d" % i for i in range(n)]), n, "DEL count")


@R.test
def binary_keys_and_values(ctx):
    key = b"bin\x00key\r\n\xff"
    key2 = b"\r\n"
    val = bytes(range(256)) * 4 + b"\r\n\x00$-1\r\n*3\r\n"
    with conn(ctx) as c:
        expect_eq(c.call("SET", key, val), OK, "SET")
        expect_eq(c.call("GET", key), val, "GET")
        expect_eq(c.call("STRLEN", key), len(val), "STRLEN")
        expect_eq(c.call("EXISTS", key, key2), 1, "EXISTS")
        expect_eq(c.call("SET", key2, b"\x00"), OK, "SET CRLF key")
        expect_eq(c.call("MGET", key, key2, b"bin\x00"), [val, b"\x00", None], "MGET")
        expect_eq(c.call("APPEND", key2, b"\r\n\x00"), 4, "APPEND")
        expect_eq(c.call("GET", key2), b"\x00\r\n\x00", "GET after APPEND")
        expect_eq(c.call("GET", b"bin"), None, "prefix of a binary key")
        expect_eq(c.call("ECHO", b"\x00\r\n"), b"\x00\r\n", "ECHO binary")
        expect_eq(c.call("DEL", key, key2), 2, "DEL")


@R.test
def empty_key_and_value(ctx):
    with conn(ctx) as c:
        expect_eq(c.call("SET", "", ""), OK, "SET empty")
        expect_eq(c.call("GET", ""), b"", "GET empty key")
        expect_eq(c.call("EXISTS", ""), 1, "EXISTS empty key")
        expect_eq(c.call("DEL", ""), 1, "DEL empty key")


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
