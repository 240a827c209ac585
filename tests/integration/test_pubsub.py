#!/usr/bin/python3
"""Pub/Sub (issue 19 item 5): SUBSCRIBE/UNSUBSCRIBE/PSUBSCRIBE/PUNSUBSCRIBE/
SSUBSCRIBE/SUNSUBSCRIBE/PUBLISH/SPUBLISH/PUBSUB byte for byte against a real
redis-server (replies, message shapes, the subscribed connection's errors,
PING while subscribed); publisher and subscribers on different connections
(on different network threads with --threads 2): PUBLISH counts every
receiver, messages arrive in publish order; redis-py's PubSub as users run
it; a closed subscriber no longer counts; a slow subscriber over
client-output-buffer-limit pubsub is disconnected; CONFIG GET/SET of that
limit, INFO stats pubsub_channels/pubsub_patterns, CLIENT LIST sub=/psub=."""

import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, encode, info_fields, is_real_redis, parse_args,  # noqa: E402
                     Runner, start_reference, start_under_test)

try:
    import redis
except ImportError:
    sys.exit("the redis module is missing: run this with /usr/bin/python3 (python3-redis)")

args = parse_args(__doc__)
R = Runner(args)


def raw_conversation(port, steps):
    """steps: (command args, number of replies it gives). Sends each step
    and reads exactly its replies; returns the raw bytes, step by step."""
    out = []
    with RespConn(port) as c:
        for cmd, n in steps:
            c.send(encode(*cmd))
            out.append(b"".join(c.read_reply(raw=True)[1] for _ in range(n)))
    return out


def both_raw(ctx, steps):
    got = raw_conversation(ctx["srv"].port, steps)
    want = raw_conversation(ctx["ref"].port, steps)
    for (cmd, _), g, w in zip(steps, got, want):
        assert g == w, "%r: mem-kv %r, redis %r" % (cmd, g, w)


@R.test
def subscribed_connection_like_redis(ctx):
    both_raw(ctx, [
        (["SUBSCRIBE", "a", "b"], 2),
        (["GET", "x"], 1),
        (["CLIENT", "LIST"], 1),
        (["CONFIG", "GET", "maxmemory"], 1),
        (["MULTI"], 1),
        (["SET", "k", "v"], 1),
        (["PING"], 1),
        (["PING", "hi"], 1),
        (["PSUBSCRIBE", "h*", "h?"], 2),
        (["SSUBSCRIBE", "s1"], 1),
        (["NOSUCHCOMMAND", "x"], 1),
        (["GET"], 1),
        (["SUBSCRIBE", "a"], 1),
        (["UNSUBSCRIBE", "b", "zz"], 2),
        (["PUNSUBSCRIBE", "h*"], 1),
        (["SUNSUBSCRIBE"], 1),
        (["PUNSUBSCRIBE"], 1),
        (["UNSUBSCRIBE"], 1),
        (["UNSUBSCRIBE"], 1),
        (["PING"], 1),
        (["GET", "x"], 1),
    ])


@R.test
def unsubscribed_and_pubsub_commands_like_redis(ctx):
    both_raw(ctx, [
        (["UNSUBSCRIBE"], 1),
        (["PUNSUBSCRIBE"], 1),
        (["SUNSUBSCRIBE"], 1),
        (["UNSUBSCRIBE", "x", "y"], 2),
        (["PUBSUB", "CHANNELS"], 1),
        (["PUBSUB", "CHANNELS", "a*"], 1),
        (["PUBSUB", "NUMSUB"], 1),
        (["PUBSUB", "NUMSUB", "a", "b"], 1),
        (["PUBSUB", "NUMPAT"], 1),
        (["PUBSUB", "SHARDCHANNELS"], 1),
        (["PUBSUB", "SHARDNUMSUB", "s"], 1),
        (["PUBSUB", "HELP"], 1),
        (["PUBSUB"], 1),
        (["PUBSUB", "foo"], 1),
        (["PUBSUB", "NUMPAT", "x"], 1),
        (["PUBSUB", "CHANNELS", "a", "b"], 1),
        (["PUBLISH", "a"], 1),
        (["PUBLISH", "nobody", "m"], 1),
        (["SPUBLISH", "nobody", "m"], 1),
        (["SUBSCRIBE"], 1),
        (["PSUBSCRIBE"], 1),
        (["PING"], 1),
    ])


def subscriber(port, *cmds):
    """A raw connection that ran cmds (each a SUBSCRIBE-like command whose
    replies are one per argument) and read their replies."""
    c = RespConn(port)
    for cmd in cmds:
        c.send(encode(*cmd))
        for _ in range(len(cmd) - 1):
            c.read_reply()
    return c


def messages_like_redis(port):
    """Raw bytes each subscriber receives for a fixed publish sequence, and
    PUBLISH's counts."""
    subs = [subscriber(port, ["SUBSCRIBE", "news", "sport"]),
            subscriber(port, ["PSUBSCRIBE", "n*", "sp*"]),
            subscriber(port, ["SUBSCRIBE", "news"], ["PSUBSCRIBE", "news"]),
            subscriber(port, ["SSUBSCRIBE", "news"])]
    counts = []
    with RespConn(port) as p:
        counts.append(p.call("PUBLISH", "news", "hello"))
        counts.append(p.call("PUBLISH", "sport", b"\x00bin\r\nary"))
        counts.append(p.call("PUBLISH", "other", "x"))
        counts.append(p.call("SPUBLISH", "news", "shard"))
        counts.append(p.call("PUBLISH", "n", ""))
        numsub = p.call("PUBSUB", "NUMSUB", "news", "sport", "n")
        numpat = p.call("PUBSUB", "NUMPAT")
        chans = sorted(p.call("PUBSUB", "CHANNELS"))
        shard = p.call("PUBSUB", "SHARDCHANNELS")
    got = []
    for s, n in zip(subs, [2, 3, 2, 1]):  # messages each subscriber gets
        got.append(b"".join(s.read_reply(raw=True)[1] for _ in range(n)))
        s.close()
    return counts, numsub, numpat, chans, shard, got


@R.test
def messages_across_connections_like_redis(ctx):
    a = messages_like_redis(ctx["srv"].port)
    b = messages_like_redis(ctx["ref"].port)
    assert a == b, "mem-kv %r\nredis  %r" % (a, b)
    assert a[0] == [4, 2, 0, 1, 1], a[0]


PATTERNS = ["h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "x\\*y", "*", "[", "a\\",
            "\\[x]", "*c*c*c*"]
CHANNELS = ["hello", "hallo", "hxllo", "hllo", "heeeello", "x*y", "xzy", "[", "a\\", "[x]",
            "acbcbc", "HELLO", ""]


def glob_counts(port):
    """PUBLISH counts and the (sorted) pmessages of one subscriber to many
    glob patterns: Redis's glob semantics, engine/glob.c here."""
    s = subscriber(port, ["PSUBSCRIBE"] + PATTERNS)
    with RespConn(port) as p:
        counts = [p.call("PUBLISH", ch, "m") for ch in CHANNELS]
    got = sorted((m[1], m[2]) for m in (s.read_reply() for _ in range(sum(counts))))
    s.close()
    return counts, got


@R.test
def glob_patterns_like_redis(ctx):
    a, b = glob_counts(ctx["srv"].port), glob_counts(ctx["ref"].port)
    assert a == b, "mem-kv %r\nredis  %r" % (a, b)
    # PUBSUB CHANNELS with the same patterns, channel "" included
    def chans(port):
        subs = [subscriber(port, ["SUBSCRIBE"] + CHANNELS)]
        with RespConn(port) as p:
            mine = {ch.encode() for ch in CHANNELS}  # not earlier tests' closing ones
            out = [sorted(set(p.call("PUBSUB", "CHANNELS", pat)) & mine)
                   for pat in PATTERNS + [""]]
        subs[0].close()
        return out
    a, b = chans(ctx["srv"].port), chans(ctx["ref"].port)
    assert a == b, "mem-kv %r\nredis  %r" % (a, b)


@R.test
def publish_order_and_counts_over_threads(ctx):
    """Six subscribers (on both network threads with --threads 2), two
    publishers pipelining: each subscriber sees each publisher's messages
    in publish order, and every PUBLISH counts all six."""
    port = ctx["srv"].port
    subs = [subscriber(port, ["SUBSCRIBE", "ord"]) if i % 2 == 0 else
            subscriber(port, ["PSUBSCRIBE", "or?"]) for i in range(6)]
    n = 2000
    counts = {}

    def publish(tag):
        with RespConn(port) as p:
            counts[tag] = p.pipeline([["PUBLISH", "ord", "%s:%d" % (tag, i)] for i in range(n)])
    th = [threading.Thread(target=publish, args=(tag,)) for tag in ("p", "q")]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for tag in ("p", "q"):
        assert counts[tag] == [6] * n, (tag, set(counts[tag]))
    for s in subs:
        seen = {"p": [], "q": []}
        for _ in range(2 * n):
            m = s.read_reply()
            tag, i = m[-1].decode().split(":")
            seen[tag].append(int(i))
        assert seen["p"] == list(range(n)) and seen["q"] == list(range(n))
        s.close()


@R.test
def closed_subscriber_no_longer_counts(ctx):
    port = ctx["srv"].port
    s = subscriber(port, ["SUBSCRIBE", "gone"], ["PSUBSCRIBE", "go*"])
    with RespConn(port) as p:
        assert p.call("PUBLISH", "gone", "1") == 2
        s.close()
        deadline = time.monotonic() + 5
        while p.call("PUBLISH", "gone", "2") != 0:
            assert time.monotonic() < deadline, "still counted after close"
            time.sleep(0.01)
        assert p.call("PUBSUB", "NUMSUB", "gone") == [b"gone", 0]
        assert b"go*" not in p.call("PUBSUB", "CHANNELS", "go*")


@R.test
def redis_py_pubsub(ctx):
    r = redis.Redis(host="127.0.0.1", port=ctx["srv"].port, socket_timeout=10)
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("cache-invalidate")
    got = []
    p.psubscribe(**{"user:*": lambda m: got.append(m)})
    # redis-py does not wait for the confirmations: read them first
    deadline = time.monotonic() + 5
    while p.subscribed and len(p.channels) + len(p.patterns) > 0 and \
            r.pubsub_numsub("cache-invalidate") != [(b"cache-invalidate", 1)]:
        assert time.monotonic() < deadline
        p.get_message(timeout=0.05)
    while r.pubsub_numpat() < 1:
        assert time.monotonic() < deadline
        p.get_message(timeout=0.05)
    assert b"cache-invalidate" in r.pubsub_channels()
    assert r.publish("cache-invalidate", "key:1") == 1
    assert r.publish("user:7", "changed") == 1
    m = None
    deadline = time.monotonic() + 5
    while m is None and time.monotonic() < deadline:
        m = p.get_message(timeout=1.0)
    assert m["type"] == "message" and m["data"] == b"key:1", m
    while not got and time.monotonic() < deadline:
        p.get_message(timeout=1.0)
    assert got and got[0]["pattern"] == b"user:*" and got[0]["data"] == b"changed", got
    # run_in_thread, as services do for invalidation listeners
    seen = []
    ev = threading.Event()
    q = r.pubsub(ignore_subscribe_messages=True)
    q.subscribe(**{"evt": lambda m: (seen.append(m["data"]), ev.set())})
    th = q.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        assert r.publish("evt", "x") == 1
        assert ev.wait(5), "run_in_thread got nothing"
        assert seen == [b"x"], seen
    finally:
        th.stop()
        th.join(5)
    p.unsubscribe()
    p.punsubscribe()
    p.close()
    q.close()
    deadline = time.monotonic() + 5
    while r.pubsub_numpat() or r.pubsub_numsub("evt")[0][1]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r.close()


def client_line(c, cid):
    for line in c.call("CLIENT", "LIST").decode().splitlines():
        f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
        if f["id"] == str(cid):
            return f
    raise AssertionError("client %d not in CLIENT LIST" % cid)


@R.test
def info_and_client_list(ctx):
    port = ctx["srv"].port
    with RespConn(port) as p:
        deadline = time.monotonic() + 5  # earlier tests' subscribers may still be closing
        while True:
            base = info_fields(p.call("INFO", "stats"))
            if base["pubsub_channels"] == "0" and base["pubsub_patterns"] == "0":
                break
            assert time.monotonic() < deadline, base
            time.sleep(0.01)
        s = RespConn(port)
        cid = s.call("CLIENT", "ID")
        assert client_line(p, cid)["sub"] == "0"
        s.send(encode("SUBSCRIBE", "i1", "i2") + encode("PSUBSCRIBE", "i*"))
        for _ in range(3):
            s.read_reply()
        t = subscriber(port, ["SUBSCRIBE", "i1"])
        f = client_line(p, cid)
        assert (f["sub"], f["psub"], f["ssub"]) == ("2", "1", "0"), f
        assert "P" in f["flags"], f
        info = info_fields(p.call("INFO", "stats"))
        assert info["pubsub_channels"] == "2" and info["pubsub_patterns"] == "1", info
        s.close()
        t.close()
        deadline = time.monotonic() + 5
        while info_fields(p.call("INFO", "stats"))["pubsub_channels"] != "0":
            assert time.monotonic() < deadline
            time.sleep(0.01)


@R.test
def config_output_limit_like_redis(ctx):
    def run(port):
        with RespConn(port) as c:
            out = [c.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 5")]
            out.append(c.call("CONFIG", "GET", "client-output-buffer-limit")[1].split(b" pubsub ")[1])
            out.append(c.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1xb 0 0"))
            out.append(c.call("CONFIG", "SET", "client-output-buffer-limit",
                              "pubsub 32mb 8mb 60"))
            out.append(c.call("CONFIG", "GET", "client-output-buffer-limit")[1].split(b" pubsub ")[1])
            return out
    a, b = run(ctx["srv"].port), run(ctx["ref"].port)
    assert a == b, (a, b)


def slow_subscriber_closed(port):
    """A subscriber that reads nothing (small receive buffer) while 20 MB
    are published to it, over a 1 MB hard limit: it is disconnected and
    PUBLISH stops counting it. Returns the INFO disconnection delta (-1
    without the field)."""
    with RespConn(port) as p:
        p.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 0 0")
        field = "client_output_buffer_limit_disconnections"  # 7.2's; not in 7.0
        before = int(info_fields(p.call("INFO", "stats")).get(field, 0))
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        raw.connect(("127.0.0.1", port))
        raw.sendall(encode("SUBSCRIBE", "slow"))
        time.sleep(0.1)
        try:
            msg = "m" * 65536
            assert p.call("PUBLISH", "slow", msg) == 1
            p.pipeline([["PUBLISH", "slow", msg]] * 320)
            deadline = time.monotonic() + 10
            while p.call("PUBLISH", "slow", "x") != 0:
                assert time.monotonic() < deadline, "slow subscriber still subscribed"
                time.sleep(0.02)
            after = int(info_fields(p.call("INFO", "stats")).get(field, -1))
            # what it had in flight, then EOF (or reset)
            raw.settimeout(5)
            total = 0
            try:
                while True:
                    d = raw.recv(1 << 20)
                    if not d:
                        break
                    total += len(d)
            except ConnectionResetError:
                pass
            assert total < 20 << 20, total
            return after - before
        finally:
            raw.close()
            p.call("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60")


@R.test
def slow_subscriber_disconnected_over_limit(ctx):
    # real Redis as the server under test (selfcheck): 7.0 has no INFO field
    assert slow_subscriber_closed(ctx["srv"].port) in ((1, -1) if is_real_redis(args) else (1,))
    assert slow_subscriber_closed(ctx["ref"].port) in (1, -1)


@R.test
def fast_subscriber_within_limit_keeps_up(ctx):
    """The same volume to a subscriber that reads: nothing is dropped."""
    port = ctx["srv"].port
    s = subscriber(port, ["SUBSCRIBE", "fast"])
    got = []

    def reader():
        for _ in range(400):
            got.append(len(s.read_reply()[2]))
    th = threading.Thread(target=reader)
    th.start()
    with RespConn(port) as p:
        counts = p.pipeline([["PUBLISH", "fast", "f" * 65536]] * 400)
    th.join(30)
    s.close()
    assert counts == [1] * 400 and got == [65536] * 400, (set(counts), len(got))


def setup(runner):
    srv = runner.add_server(start_under_test(args, "pubsub"))
    ref = runner.add_server(start_reference(args, "pubsub"))
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
