#!/usr/bin/python3
"""redis-py (Debian's python3-redis), a real client library, with its default
connection settings (RESP2): strings, TTLs, pipelines, scan_iter, errors,
connection pools shared by threads."""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import expect_eq, parse_args, Runner, start_under_test  # noqa: E402

try:
    import redis
except ImportError:
    sys.exit("the redis module is missing: run this with /usr/bin/python3 (python3-redis)")

args = parse_args(__doc__)
R = Runner(args)


def client(ctx, **kw):
    return redis.Redis(host="127.0.0.1", port=ctx["srv"].port, socket_timeout=30, **kw)


@R.test
def ping_echo_info(ctx):
    r = client(ctx)
    assert r.ping() is True
    expect_eq(r.echo("hi"), b"hi", "echo")
    info = r.info()
    assert "redis_version" in info, sorted(info)[:20]
    mem = r.info("memory")
    assert int(mem.get("used_memory", 0)) > 0, "used_memory: %r" % mem.get("used_memory")
    expect_eq(r.dbsize(), 0, "dbsize of a fresh server")


@R.test
def set_get_delete(ctx):
    r = client(ctx)
    assert r.set("lib:a", "1") is True
    expect_eq(r.get("lib:a"), b"1", "get")
    expect_eq(r.get("lib:none"), None, "get missing")
    assert r.set("lib:a", "2", nx=True) is None, "set nx on existing"
    assert r.set("lib:b", "x", xx=True) is None, "set xx on missing"
    expect_eq(r.set("lib:a", "3", get=True), b"1", "set get")
    expect_eq(r.getset("lib:a", "4"), b"3", "getset")
    expect_eq(r.exists("lib:a", "lib:none"), 1, "exists")
    expect_eq(r.delete("lib:a", "lib:none"), 1, "delete")
    expect_eq(r.unlink("lib:a"), 0, "unlink missing")
    expect_eq(r.type("lib:none"), b"none", "type")
    r.set("lib:t", "v")
    expect_eq(r.type("lib:t"), b"string", "type string")
    expect_eq(r.append("lib:t", "w"), 2, "append")
    expect_eq(r.strlen("lib:t"), 2, "strlen")
    expect_eq(r.getrange("lib:t", 0, 0), b"v", "getrange")
    expect_eq(r.setrange("lib:t", 1, "XYZ"), 4, "setrange")
    expect_eq(r.getdel("lib:t"), b"vXYZ", "getdel")


@R.test
def decode_responses(ctx):
    r = client(ctx, decode_responses=True)
    r.set("lib:u", "héllo")
    expect_eq(r.get("lib:u"), "héllo", "utf-8 round trip")
    expect_eq(r.mget(["lib:u", "lib:none"]), ["héllo", None], "mget")


@R.test
def mget_mset(ctx):
    r = client(ctx)
    assert r.mset({"lib:m%d" % i: "v%d" % i for i in range(100)}) is True
    got = r.mget(["lib:m%d" % i for i in range(100)] + ["lib:none"])
    expect_eq(got, [b"v%d" % i for i in range(100)] + [None], "mget")
    expect_eq(r.msetnx({"lib:m0": "x", "lib:new": "y"}), False, "msetnx")
    expect_eq(r.get("lib:new"), None, "msetnx did not set")


@R.test
def incr_family(ctx):
    r = client(ctx)
    expect_eq(r.incr("lib:n"), 1, "incr")
    expect_eq(r.incr("lib:n", 9), 10, "incrby")
    expect_eq(r.decr("lib:n", 3), 7, "decrby")
    expect_eq(r.incrbyfloat("lib:f", 1.5), 1.5, "incrbyfloat")
    r.set("lib:s", "abc")
    try:
        r.incr("lib:s")
    except redis.ResponseError as e:
        expect_eq(str(e), "value is not an integer or out of range", "error text")
    else:
        raise AssertionError("incr on a string did not raise")


@R.test
def expire_ttl(ctx):
    r = client(ctx)
    r.set("lib:e", "v")
    expect_eq(r.ttl("lib:e"), -1, "ttl persistent")
    assert r.expire("lib:e", 100) is True
    t = r.ttl("lib:e")
    assert 99 <= t <= 100, t
    assert r.pexpire("lib:e", 50000) is True
    pt = r.pttl("lib:e")
    assert 49000 <= pt <= 50000, pt
    assert r.persist("lib:e") is True
    expect_eq(r.ttl("lib:e"), -1, "ttl after persist")
    r.set("lib:ex", "v", ex=100)
    assert 99 <= r.ttl("lib:ex") <= 100
    r.set("lib:px", "v", px=150)
    r.setex("lib:sx", 100, "v")
    assert 99 <= r.ttl("lib:sx") <= 100
    expect_eq(r.ttl("lib:none"), -2, "ttl missing")
    assert r.expireat("lib:sx", int(time.time()) + 1000) is True
    assert 998 <= r.ttl("lib:sx") <= 1000
    expect_eq(r.getex("lib:sx", persist=True), b"v", "getex persist")
    expect_eq(r.ttl("lib:sx"), -1, "ttl after getex persist")
    time.sleep(0.3)
    expect_eq(r.get("lib:px"), None, "key with px=150 after 300 ms")


@R.test
def pipelines(ctx):
    r = client(ctx)
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("lib:p%d" % i, i)
        p.get("lib:p%d" % i)
        p.incr("lib:pc")
    res = p.execute()
    expect_eq(len(res), 3000, "pipeline replies")
    for i in range(1000):
        assert res[3 * i] is True and res[3 * i + 1] == str(i).encode() and res[3 * i + 2] == i + 1, (
            i, res[3 * i:3 * i + 3])
    with r.pipeline(transaction=False) as p:
        p.set("lib:pe", "x").incr("lib:pe").get("lib:pe")
        res = p.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] == b"x", res


@R.test
def scan_iter_keys(ctx):
    r = client(ctx)
    with r.pipeline(transaction=False) as p:
        for i in range(3000):
            p.set("lib:scan:%d" % i, "v")
        p.execute()
    got = set(r.scan_iter(match="lib:scan:*", count=100))
    expect_eq(len(got), 3000, "scan_iter keys")
    expect_eq(got, {b"lib:scan:%d" % i for i in range(3000)}, "scan_iter set")
    expect_eq(len(r.keys("lib:scan:1*")), 1111, "keys pattern")
    rk = r.randomkey()
    assert rk is not None and r.exists(rk) == 1, rk


@R.test
def rename(ctx):
    r = client(ctx)
    r.set("lib:r1", "v")
    assert r.rename("lib:r1", "lib:r2") is True
    expect_eq(r.get("lib:r2"), b"v", "renamed")
    r.set("lib:r3", "w")
    expect_eq(r.renamenx("lib:r2", "lib:r3"), False, "renamenx onto existing")
    try:
        r.rename("lib:none", "lib:x")
    except redis.ResponseError as e:
        expect_eq(str(e), "no such key", "rename error")
    else:
        raise AssertionError("rename of a missing key did not raise")


@R.test
def pool_shared_by_threads(ctx):
    pool = redis.ConnectionPool(host="127.0.0.1", port=ctx["srv"].port, max_connections=16)
    errors = []

    def work(t):
        try:
            r = redis.Redis(connection_pool=pool)
            for i in range(300):
                k = "lib:th%d:%d" % (t, i % 10)
                r.set(k, i)
                v = r.get(k)
                if v != str(i).encode():
                    errors.append((t, i, v))
        except Exception as e:
            errors.append(repr(e))
    ts = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:5]
    pool.disconnect()


@R.test
def flush_and_dbsize(ctx):
    r = client(ctx)
    assert r.dbsize() > 0
    assert r.flushdb() is True
    expect_eq(r.dbsize(), 0, "dbsize after flushdb")


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
