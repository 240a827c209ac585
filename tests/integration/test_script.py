#!/usr/bin/python3
"""Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT) against a real
redis-server, byte for byte, then with the client libraries people use:
redis-py's lock() and register_script(), and ioredis's defineCommand (from
npm, installed into a cache folder; skipped with the reason printed when
npm or the registry cannot be reached).

mem-kv runs a script on the actor that owns its declared keys. With more
than one actor (--actor-threads 2) a script whose keys, declared or
touched, belong to two actors gets mem-kv's own error instead of Redis's
reply; the comparison accepts exactly those errors (and counts them), and
everything else must be equal.

  test_script.py --server build/mem-kv-server [--server-arg=--actor-threads ...]
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Runner, Server, Skip, expect_eq, is_real_redis,  # noqa: E402
                     parse_args, start_reference, start_under_test)

args = parse_args(__doc__)
R = Runner(args)

SPAN_ERRORS = (b"-ERR script keys span several actors",
               b"-ERR script tried accessing key '")

# ------------------------------------------------------------------ cases


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


E = "EVAL"
CONVERSIONS = [
    # Lua -> RESP
    [E, "return 1", "0"], [E, "return -7", "0"], [E, "return 3.99", "0"],
    [E, "return -3.99", "0"], [E, "return -0.5", "0"], [E, "return 1e300", "0"],
    [E, "return 'hello'", "0"], [E, "return ''", "0"], [E, "return '\\0bin\\r\\n'", "0"],
    [E, "return true", "0"], [E, "return false", "0"], [E, "return nil", "0"],
    [E, "return {}", "0"], [E, "return {1, 2, 3}", "0"],
    [E, "return {1, 2, 3.7, -3.7, 'x', true, false, nil, 4}", "0"],
    [E, "return {1, {2, {3, {'deep'}}}}", "0"],
    [E, "return {ok = 'fine'}", "0"], [E, "return {ok = 'a\\r\\nb'}", "0"],
    [E, "return {err = 'MYERR custom'}", "0"], [E, "return {err = 'bare'}", "0"],
    [E, "return {1, {err = 'inner'}, {ok = 'st'}}", "0"],
    [E, "return {double = 3.14}", "0"], [E, "return {a = 1, b = 2}", "0"],
    [E, "return {1, 2, a = 'x'}", "0"],
    [E, "return redis.status_reply('PONG')", "0"],
    [E, "return redis.error_reply('MY boom')", "0"],
    [E, "return redis.error_reply('boom')", "0"],
    [E, "return redis.error_reply('-X y')", "0"],
    [E, "return redis.status_reply(1)", "0"], [E, "return redis.error_reply()", "0"],
    [E, "return redis.sha1hex('')", "0"], [E, "return redis.sha1hex('abc')", "0"],
    [E, "return redis.sha1hex()", "0"],
    # RESP -> Lua
    ["SET", "s", "v"], ["SET", "n", "10"], ["DEL", "none"],
    [E, "return type(redis.call('get', KEYS[1]))", "1", "s"],
    [E, "return type(redis.call('get', KEYS[1]))", "1", "none"],
    [E, "return redis.call('get', KEYS[1]) == false", "1", "none"],
    [E, "return type(redis.call('incr', KEYS[1]))", "1", "n"],
    [E, "return redis.call('incr', KEYS[1]) + 1", "1", "n"],
    [E, "local r = redis.call('set', KEYS[1], 'x'); return {type(r), r.ok}", "1", "s"],
    [E, "local r = redis.call('set', KEYS[1], 'x'); return r", "1", "s"],
    [E, "local r = redis.pcall('incr', KEYS[1]); return {type(r), r.err}", "1", "s"],
    [E, "return redis.pcall('incr', KEYS[1])", "1", "s"],
    [E, "return redis.pcall('nosuchcmd')", "0"],
    ["HSET", "h", "a", "1", "b", "2"],
    [E, "return redis.call('hgetall', KEYS[1])", "1", "h"],
    [E, "local t = redis.call('hgetall', KEYS[1]); return #t", "1", "h"],
    [E, "return redis.call('hgetall', KEYS[1])", "1", "none"],
    [E, "return redis.call('mget', KEYS[1], KEYS[2])", "2", "s", "none"],
    [E, "return redis.call('exists', KEYS[1], KEYS[2], KEYS[1])", "2", "s", "none"],
    # Lua values as command arguments
    [E, "return redis.call('set', KEYS[1], 3.5)", "1", "s"], ["GET", "s"],
    [E, "return redis.call('set', KEYS[1], 1e20)", "1", "s"], ["GET", "s"],
    [E, "return redis.call('set', KEYS[1], 12)", "1", "s"], ["GET", "s"],
    [E, "return redis.call('set', KEYS[1], 0.1)", "1", "s"], ["GET", "s"],
    [E, "return redis.call('set', KEYS[1], {})", "1", "s"],
    [E, "return redis.call('set', KEYS[1], nil)", "1", "s"],
    [E, "return redis.call()", "0"],
    # KEYS and ARGV
    [E, "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", "2", "k", "k", "a1", "a2"],
    [E, "return {#KEYS, #ARGV}", "0"], [E, "return ARGV", "0", "x", "", "z\r\nq"],
    [E, "return KEYS", "1", "bin\x00key"],
    [E, "return redis.call('set', KEYS[1], ARGV[1])", "1", "s", "from argv"], ["GET", "s"],
]

ERRORS = [
    ["SET", "x", "a"],
    [E, "return redis.call('incr', KEYS[1])", "1", "x"],
    [E, "return redis.call('nosuch', 'x')", "0"],
    [E, "return redis.call('get')", "0"],
    [E, "return redis.call('get', 'a', 'b')", "0"],
    [E, "return redis.call('multi')", "0"], [E, "return redis.call('exec')", "0"],
    [E, "return redis.call('subscribe', 'ch')", "0"],
    [E, "return redis.call('watch', 'x')", "0"],
    [E, "return redis.call('eval', 'return 1', '0')", "0"],
    [E, "return redis.call('evalsha', 'x', '0')", "0"],
    [E, "return redis.call('script', 'flush')", "0"],
    [E, "return redis.call('auth', 'x')", "0"],
    [E, "return redis.call('client', 'list')", "0"],
    [E, "return redis.call('config', 'get', 'port')", "0"],
    [E, "return redis.call('shutdown')", "0"],
    [E, "return redis.call('ping')", "0"], [E, "return redis.call('echo', 'hi')", "0"],
    [E, "return redis.call('select', '0')", "0"],
    [E, "error('boom')", "0"], [E, "error({err = 'MYERR boom'})", "0"],
    [E, "error({err = 'ERR with\\nnewline'})", "0"],
    [E, "local x = nil; return x.y", "0"],
    [E, "\n\nerror('line 3')", "0"],
    [E, "x = 1", "0"], [E, "return y", "0"], [E, "string.foo = 1; return 1", "0"],
    [E, "redis.call = nil; return 1", "0"],
    [E, "return (", "0"], [E, "return 1 +", "0"], [E, "return 'unfinished", "0"],
    [E, "return {type(print), type(os), type(io), type(require), type(loadfile)}", "0"],
    [E, "return type(dofile)", "0"], [E, "return type(debug)", "0"],
    [E, "local ok, e = pcall(redis.call, 'incr', KEYS[1]); return {tostring(ok), e}", "1", "x"],
    [E, "local ok, e = pcall(error, {err = 'x'}); return {tostring(ok), e}", "0"],
    [E, "local ok, e = pcall(error, 'x'); return {tostring(ok), e}", "0"],
    [E, "return redis.log(1)", "0"], [E, "return redis.log('x', 'a')", "0"],
    [E, "return redis.log(99, 'a')", "0"],
    [E, "return redis.log(redis.LOG_WARNING, 'from a test script', 3)", "0"],
    [E, "return redis.setresp(4)", "0"],
    [E, "return 1", "-1"], [E, "return 1", "2", "a"], [E, "return 1", "abc"],
    [E, "return 1", "01"], [E, "return 1", " 1"],
    [E], [E, "return 1"], ["EVALSHA"], ["EVALSHA", "x"],
    # read-only scripts
    ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "x"],
    ["EVAL_RO", "return redis.call('set', KEYS[1], 'b')", "1", "x"],
    [E, "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'b')", "1", "x"],
    [E, "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "x"],
    [E, "#!lua flags=no-writes,allow-oom\nreturn 1", "0"],
    [E, "#!lua flags=bogus\nreturn 1", "0"], [E, "#!luax\nreturn 1", "0"],
    [E, "#!lua\nreturn 1", "0"], [E, "#!lua name=x\nreturn 1", "0"],
    [E, "#!lua", "0"],
    ["GET", "x"],
]

CACHE = [
    ["SCRIPT", "FLUSH"],
    ["SCRIPT", "LOAD", "return 1"],
    ["SCRIPT", "LOAD", "return redis.call('get', KEYS[1])"],
    ["SCRIPT", "LOAD", "return ("],
    ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
     "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "abc", "0" * 40],
    ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    ["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
    ["EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    ["EVALSHA", "abc", "0"], ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "x"],
    ["SET", "k", "v"],
    ["EVALSHA", sha1("return redis.call('get', KEYS[1])"), "1", "k"],
    # EVAL caches the script: EVALSHA finds it afterwards, pipelined or not
    [E, "return 'cached'", "0"],
    ["EVALSHA", sha1("return 'cached'"), "0"],
    ["SCRIPT", "EXISTS", sha1("return 'cached'")],
    [E, "return (", "0"],
    ["SCRIPT", "EXISTS", sha1("return (")],
    ["SCRIPT", "FLUSH", "ASYNC"], ["SCRIPT", "FLUSH", "SYNC"], ["SCRIPT", "FLUSH", "bogus"],
    ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"],
    ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    ["SCRIPT"], ["SCRIPT", "LOAD"], ["SCRIPT", "LOAD", "a", "b"], ["SCRIPT", "EXISTS"],
    ["SCRIPT", "bogus"], ["SCRIPT", "KILL"],
]

WRITES = [
    ["DEL", "c1", "c2"],
    [E, "redis.call('incr', KEYS[1]); redis.call('incrby', KEYS[1], ARGV[1]);"
        " return redis.call('get', KEYS[1])", "1", "c1", "5"],
    [E, "redis.call('set', KEYS[1], 'x', 'EX', 100); return redis.call('ttl', KEYS[1])",
     "1", "c2"],
    [E, "redis.call('del', KEYS[1]); return redis.call('exists', KEYS[1])", "1", "c2"],
    [E, "return redis.call('hset', KEYS[1], 'f', ARGV[1], 'g', 'x')", "1", "hh", "1"],
    [E, "return redis.call('hincrby', KEYS[1], 'f', 10)", "1", "hh"],
    [E, "return redis.call('type', KEYS[1])", "1", "hh"],
    [E, "return redis.call('set', KEYS[1], 'v', 'NX', 'GET')", "1", "c1"],
    [E, "return redis.call('getdel', KEYS[1])", "1", "c1"],
    ["MGET", "c1", "c2", "hh"],
]

# the connection's database is the script's; SELECT in a script changes it
# for the rest of the script (Redis 7.0), not for the connection
DATABASES = [
    ["SELECT", "1"],
    [E, "return redis.call('set', KEYS[1], 'in-db1')", "1", "dbk"],
    ["GET", "dbk"],
    [E, "redis.call('select', 2); redis.call('set', KEYS[1], 'in-db2');"
        " return redis.call('get', KEYS[1])", "1", "dbk"],
    ["GET", "dbk"],
    ["SELECT", "2"], ["GET", "dbk"],
    ["SELECT", "0"], ["GET", "dbk"],
    [E, "return redis.call('select', 99)", "0"],
    ["FLUSHALL"],
]

# scripts queued in a transaction run in it (redis-py pipelines with
# register_script do this)
IN_MULTI = [
    ["MULTI"],
    [E, "return redis.call('set', KEYS[1], 'a')", "1", "mk"],
    ["GET", "mk"],
    [E, "return redis.call('incr', KEYS[1])", "1", "mn"],
    [E, "return (", "0"],
    ["EXEC"],
    ["MULTI"], ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"], ["EXEC"],
    ["DEL", "mk", "mn"],
]


def compare(ctx, cases):
    """Sends each case to both servers; raw replies must be equal except for
    mem-kv's errors for keys on several actors."""
    a, b = RespConn(ctx["a"].port), RespConn(ctx["b"].port)
    span = 0
    try:
        for cmd in cases:
            got, want = a.call(*cmd, raw=True)[1], b.call(*cmd, raw=True)[1]
            if got != want and got.startswith(SPAN_ERRORS) and not ctx["real"]:
                span += 1
                continue
            expect_eq(got, want, "reply to %r" % (cmd,))
    finally:
        a.close()
        b.close()
    if span:
        print("  %d replies were mem-kv's error for keys of several actors" % span)


@R.test
def conversions(ctx):
    compare(ctx, CONVERSIONS)


@R.test
def errors(ctx):
    compare(ctx, ERRORS)


@R.test
def script_cache(ctx):
    compare(ctx, CACHE)


@R.test
def writes(ctx):
    compare(ctx, WRITES)


@R.test
def databases(ctx):
    compare(ctx, DATABASES)


@R.test
def scripts_in_multi(ctx):
    compare(ctx, IN_MULTI)


@R.test
def pipelined_eval_then_evalsha(ctx):
    """A pipelined EVALSHA right after the EVAL that taught the script."""
    body = "return {KEYS[1], ARGV[1], 'pipelined %d'}" % int(time.time())
    sha = sha1(body)
    cmds = [["EVAL", body, "1", "pk", "a"], ["EVALSHA", sha, "1", "pk", "b"],
            ["EVALSHA", sha, "0"], ["SCRIPT", "EXISTS", sha]]
    outs = []
    for srv in (ctx["a"], ctx["b"]):
        with RespConn(srv.port) as c:
            outs.append(c.pipeline(cmds, raw=True))
    expect_eq(outs[0], outs[1], "pipelined replies")


@R.test
def script_log_reaches_server_log(ctx):
    if ctx["real"]:
        raise Skip("mem-kv's log only")
    with RespConn(ctx["a"].port) as c:
        c.call("EVAL", "redis.log(redis.LOG_WARNING, 'marker-4711', 'two')", "0")
    deadline = time.monotonic() + 5
    while "script: marker-4711 two" not in ctx["a"].log_text():
        assert time.monotonic() < deadline, "redis.log line not in the server log"
        time.sleep(0.05)


@R.test
def many_scripts_many_keys(ctx):
    """Scripts over 200 keys (each its own declared key), EVALSHA on every
    actor after one SCRIPT LOAD, and the values read back with GET."""
    with RespConn(ctx["a"].port) as c:
        sha = c.call("SCRIPT", "LOAD",
                     "local v = redis.call('incrby', KEYS[1], ARGV[1]); "
                     "redis.call('expire', KEYS[1], 1000); return v")
        sha = sha.decode()
        for i in range(200):
            expect_eq(c.call("EVALSHA", sha, "1", "many:%d" % i, str(i)), i)
        got = c.pipeline([["GET", "many:%d" % i] for i in range(200)])
        expect_eq(got, [str(i).encode() for i in range(200)], "values")
        c.call("SCRIPT", "FLUSH")
        got = c.call("EVALSHA", sha, "1", "many:0", "1", raw=True)[1]
        expect_eq(got, b"-NOSCRIPT No matching script. Please use EVAL.\r\n")


def cmdstats(conn, names):
    """INFO commandstats' calls, failed_calls and rejected_calls of names."""
    out = {}
    for line in conn.call("INFO", "commandstats").decode().splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, fields = line[len("cmdstat_"):].split(":", 1)
        kv = dict(f.split("=") for f in fields.split(","))
        if name in names:
            out[name] = (kv["calls"], kv["failed_calls"], kv["rejected_calls"])
    return out


def processed(conn):
    """INFO stats' total_commands_processed."""
    for line in conn.call("INFO", "stats").decode().splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":")[1])
    raise AssertionError("no total_commands_processed in INFO stats")


@R.test
def commandstats_count_script_commands(ctx):
    """Commands run by redis.call are in INFO commandstats, as in Redis:
    calls, failed_calls (an error reply) and rejected_calls (wrong number
    of arguments: refused before running)."""
    body = ("redis.call('set', KEYS[1], '1'); redis.call('get', KEYS[1]); "
            "pcall(redis.call, 'incr', KEYS[1]); redis.call('set', KEYS[1], 'x'); "
            "pcall(redis.call, 'incr', KEYS[1]); pcall(redis.call, 'get'); return 1")
    names = ("set", "get", "incr")
    got, total = [], []
    for srv in (ctx["a"], ctx["b"]):
        with RespConn(srv.port) as c:
            c.call("CONFIG", "RESETSTAT")
            before = processed(c)
            expect_eq(c.call("EVAL", body, "1", "cstat"), 1)
            total.append(processed(c) - before)  # one INFO, EVAL, its 5 commands
            got.append(cmdstats(c, names))
            c.call("DEL", "cstat")
    expect_eq(got[1], {"set": ("2", "0", "0"), "get": ("1", "0", "1"),
                       "incr": ("2", "1", "0")}, "redis-server's figures")
    expect_eq(got[0], got[1], "calls, failed_calls, rejected_calls")
    expect_eq(total[0], total[1], "total_commands_processed: the script's commands counted")


# ---------------------------------------------- limits, kill, persistence

def memkv_only(ctx):
    if ctx["real"]:
        raise Skip("mem-kv's own limit and log")


@R.test
def time_limit_stops_a_script(ctx):
    memkv_only(ctx)
    srv = R.add_server(Server(args.server, "memkv",
                              args.server_arg + ["--persistence", "off",
                                                 "--lua-time-limit", "300"],
                              name="time-limit(mem-kv)").start())
    with RespConn(srv.port) as c:
        t0 = time.monotonic()
        got = c.call("EVAL", "local i = 0; while true do i = i + 1 end", "0", raw=True)[1]
        took = time.monotonic() - t0
        assert got.startswith(b"-ERR Script killed: it ran longer than lua-time-limit script: "), got
        assert 0.25 < took < 5, took
        # pcall cannot swallow it
        got = c.call("EVAL", "while true do pcall(function() while true do end end) end", "0",
                     raw=True)[1]
        assert got.startswith(b"-ERR Script killed: it ran longer than lua-time-limit"), got
        expect_eq(c.call("EVAL", "return 'still fine'", "0"), b"still fine")


BUSY = (b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
        b"SHUTDOWN NOSAVE.\r\n")


def server_opt(name):
    """The value of --name in the server's arguments, or None."""
    a = args.server_arg
    for i, x in enumerate(a[:-1]):
        if x == name:
            return a[i + 1]
    return None


@R.test
def script_kill(ctx):
    memkv_only(ctx)
    hosted_one = server_opt("--threads") == "1"
    srv = R.add_server(Server(args.server, "memkv",
                              args.server_arg + ["--persistence", "off",
                                                 "--lua-time-limit", "0"],
                              name="kill(mem-kv)").start())
    with RespConn(srv.port) as c:
        expect_eq(c.call("SCRIPT", "KILL", raw=True)[1],
                  b"-NOTBUSY No scripts in execution right now.\r\n")
    out = {}

    def busy(body, key):
        with RespConn(srv.port, timeout=30) as c:
            out[key] = c.call("EVAL", body, "1", key, raw=True)[1]

    th = threading.Thread(target=busy, args=("while true do end", "kk"))
    th.start()
    time.sleep(0.5)
    with RespConn(srv.port) as c:
        # another client during the script: a hosted thread (--threads 1, the
        # default on <= 2 CPUs) answers BUSY as Redis; with separate actor
        # threads the network thread answers as usual
        got = c.call("PING", raw=True)[1]
        assert got in (b"+PONG\r\n", BUSY), got
        if hosted_one:
            expect_eq(got, BUSY)
            expect_eq(c.call("SET", "other", "1", raw=True)[1], BUSY)
        expect_eq(c.call("SCRIPT", "KILL"), "OK")
    th.join(10)
    assert not th.is_alive(), "the script was not stopped"
    assert out["kk"].startswith(b"-ERR Script killed by user with SCRIPT KILL... script: "), out
    # a script that wrote cannot be killed (Redis's UNKILLABLE); the time limit is 0
    th = threading.Thread(target=busy, args=(
        "redis.call('set', KEYS[1], 'x'); local t = redis.call('time')[1] + 1; "
        "while tonumber(redis.call('time')[1]) <= tonumber(t) do end; return 'done'", "kw"))
    th.start()
    time.sleep(0.3)
    with RespConn(srv.port) as c:
        got = c.call("SCRIPT", "KILL", raw=True)[1]
    th.join(10)
    assert got.startswith(b"-UNKILLABLE") or got.startswith(b"-NOTBUSY"), got
    expect_eq(out["kw"], b"$4\r\ndone\r\n")
    with RespConn(srv.port) as c:  # out of busy mode: commands run again
        expect_eq(c.call("GET", "kw"), b"x")


@R.test
def stop_during_script(ctx):
    """SIGTERM and SHUTDOWN NOSAVE stop a server whose script never ends
    (no time limit), even one that wrote (a hosted thread serves them)."""
    memkv_only(ctx)
    body = "redis.call('set', KEYS[1], 'x'); while true do end"
    for how in ("sigterm", "shutdown"):
        srv = Server(args.server, "memkv", args.server_arg + ["--persistence", "off",
                                                              "--lua-time-limit", "0"],
                     name="stop-%s(mem-kv)" % how).start()
        out = {}

        def run():
            try:
                with RespConn(srv.port, timeout=30) as c:
                    out["r"] = c.call("EVAL", body, "1", "k", raw=True)
            except Exception as e:  # the server closes the connection
                out["r"] = e

        th = threading.Thread(target=run, daemon=True)
        th.start()
        time.sleep(0.4)
        if how == "shutdown":
            with RespConn(srv.port, timeout=10) as c:
                try:
                    c.call("SHUTDOWN", "NOSAVE", raw=True)
                except Exception:
                    pass  # no reply: the connection closes
            deadline = time.monotonic() + 10
            while srv.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not srv.alive(), "SHUTDOWN NOSAVE did not stop the server"
        clean, msg = srv.stop(timeout=10)
        assert "killed" not in msg, msg
        th.join(10)


@R.test
def script_writes_are_logged(ctx):
    """A script's writes reach the WAL as ordinary writes: a restart on the
    data directory finds them (recovery runs no Lua)."""
    memkv_only(ctx)
    d = tempfile.mkdtemp(prefix="memkv-script-wal-")
    try:
        extra = args.server_arg + ["--dir", d, "--fsync", "always"]
        srv = Server(args.server, "memkv", extra, name="wal(mem-kv)").start()
        try:
            with RespConn(srv.port) as c:
                for i in range(20):
                    c.call("EVAL", "redis.call('incr', KEYS[1]); "
                           "redis.call('hset', KEYS[2], 'f' .. ARGV[1], ARGV[1]); return 1",
                           "2", "wal:ctr", "wal:ctr", str(i))
                c.call("EVAL", "redis.call('set', KEYS[1], 'gone'); redis.call('del', KEYS[1])",
                       "1", "wal:tmp")
        finally:
            srv.stop()
        srv = Server(args.server, "memkv", extra, name="wal2(mem-kv)").start()
        try:
            with RespConn(srv.port) as c:
                # the HSET on a string key failed: only the INCRs stay
                expect_eq(c.call("GET", "wal:ctr"), b"20")
                expect_eq(c.call("EXISTS", "wal:tmp"), 0)
        finally:
            srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------- client libraries

@R.test
def redis_py_lock(ctx):
    import redis
    r = redis.Redis(host="127.0.0.1", port=ctx["a"].port)
    name = "lock:%d" % os.getpid()
    lock = r.lock(name, timeout=10)
    assert lock.acquire(blocking=False)
    assert not r.lock(name, timeout=10).acquire(blocking=False), "acquired twice"
    assert lock.extend(5)
    ttl = r.pttl(name)
    assert 10000 < ttl <= 15000, ttl
    assert lock.reacquire()
    assert lock.owned()
    lock.release()
    assert r.get(name) is None
    with r.lock(name, timeout=5, blocking_timeout=2):
        assert r.exists(name)
    assert r.get(name) is None
    # releasing a lock someone else holds raises LockNotOwnedError
    lock = r.lock(name, timeout=10)
    assert lock.acquire()
    r.set(name, "someone else")
    try:
        lock.release()
        raise AssertionError("released a lock it does not own")
    except redis.exceptions.LockNotOwnedError:
        pass
    r.delete(name)


@R.test
def redis_py_register_script(ctx):
    import redis
    r = redis.Redis(host="127.0.0.1", port=ctx["a"].port)
    r.script_flush()
    add = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    r.delete("rs:k")
    expect_eq(add(keys=["rs:k"], args=[5]), 5)   # NOSCRIPT, then EVAL, then cached
    expect_eq(add(keys=["rs:k"], args=[2]), 7)
    assert r.script_exists(add.sha) == [True]
    p = r.pipeline(transaction=False)
    add(keys=["rs:k"], args=[1], client=p)
    add(keys=["rs:k"], args=[1], client=p)
    expect_eq(p.execute(), [8, 9])
    r.script_flush()
    p = r.pipeline(transaction=False)              # redis-py loads scripts first
    add(keys=["rs:k"], args=[1], client=p)
    expect_eq(p.execute(), [10])


NODE_SCRIPT = r"""
const Redis = require(process.argv[2]);
const r = new Redis({host: '127.0.0.1', port: +process.argv[3], lazyConnect: false, maxRetriesPerRequest: 1});
r.defineCommand('addTwo', {numberOfKeys: 1,
  lua: "return redis.call('incrby', KEYS[1], ARGV[1]) + redis.call('incrby', KEYS[1], ARGV[1])"});
r.defineCommand('echoArgs', {lua: "return {KEYS[1], ARGV[1], #KEYS}"});
(async () => {
  await r.del('io:k');
  const a = await r.addTwo('io:k', 3);
  const b = await r.addTwo('io:k', 3);
  const c = await r.echoArgs(1, 'kk', 'av');
  const p = await r.pipeline().addTwo('io:k', 1).addTwo('io:k', 1).exec();
  await r.script('FLUSH');
  const d = await r.addTwo('io:k', 0);
  console.log(JSON.stringify([a, b, c, p.map(x => x[1]), d]));
  r.disconnect();
})().catch(e => { console.error('ERROR ' + e); process.exit(1); });
"""


# ioredis's defaults for transactions and databases (issue 15): `db: 1`
# sends SELECT 1 on connect, multi().exec() sends MULTI ... EXEC
NODE_MULTI_DB = r"""
const Redis = require(process.argv[2]);
const port = +process.argv[3];
const r1 = new Redis({host: '127.0.0.1', port: port, db: 1});
const r0 = new Redis({host: '127.0.0.1', port: port});
r1.on('error', e => { console.error('ERROR event ' + e); process.exit(1); });
(async () => {
  await r1.del('io:t', 'io:n');
  const res = await r1.multi().set('io:t', 'x').incr('io:n').incr('io:n').get('io:t').exec();
  const in1 = await r1.mget('io:t', 'io:n');
  const in0 = await r0.mget('io:t', 'io:n');
  await r1.del('io:t', 'io:n');
  console.log(JSON.stringify([res, in1, in0]));
  r1.disconnect(); r0.disconnect();
})().catch(e => { console.error('ERROR ' + e); process.exit(1); });
"""


_IOREDIS = {}


def ioredis_dir():
    """ioredis installed with npm into a cache folder; Skip when impossible.
    A failed install is remembered (in this process, and for 10 minutes in
    the cache folder) so that the other ioredis tests and the 2x2 variant
    skip at once instead of waiting for npm again."""
    if "skip" in _IOREDIS:
        raise Skip(_IOREDIS["skip"])
    npm = shutil.which("npm")
    node = shutil.which("node") or shutil.which("nodejs")
    if not npm or not node:
        raise Skip("node/npm not installed (scripts/deps.sh installs Debian's nodejs npm)")
    cache = os.environ.get("MEMKV_NPM_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "memkv-npm")
    mod = os.path.join(cache, "node_modules", "ioredis")
    failed = os.path.join(cache, "install-failed")
    if not os.path.isdir(mod):
        try:
            if time.time() - os.path.getmtime(failed) < 600:
                with open(failed) as f:
                    _IOREDIS["skip"] = f.read().strip()
                raise Skip(_IOREDIS["skip"])
        except OSError:
            pass
        os.makedirs(cache, exist_ok=True)
        env = dict(os.environ)
        # the system's CA store (a proxy's CA may be there, not in node's own list)
        if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
            env.setdefault("NODE_EXTRA_CA_CERTS", "/etc/ssl/certs/ca-certificates.crt")
        reason = None
        try:
            p = subprocess.run([npm, "install", "--prefix", cache, "--no-audit", "--no-fund",
                                "--fetch-retries=1", "--fetch-timeout=20000", "ioredis@5"],
                               capture_output=True, text=True, timeout=90, env=env)
            if p.returncode != 0 or not os.path.isdir(mod):
                why = [ln for ln in p.stderr.splitlines()
                       if any(w in ln for w in (" code ", "reason", "request to", "errno"))]
                reason = "npm install ioredis failed: %s" % (
                    " | ".join(why)[:300] or p.stderr.strip()[-300:])
        except subprocess.TimeoutExpired:
            reason = "npm install ioredis timed out (registry unreachable?)"
        if reason:
            with open(failed, "w") as f:
                f.write(reason)
            _IOREDIS["skip"] = reason
            raise Skip(reason)
    return node, mod


def run_node(script, port):
    """Runs a node script with ioredis's folder and the server's port as its
    arguments; returns the JSON of its last output line."""
    import json
    node, mod = ioredis_dir()
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(script)
    try:
        p = subprocess.run([node, f.name, mod, str(port)], capture_output=True, text=True,
                           timeout=60)
    finally:
        os.unlink(f.name)
    assert p.returncode == 0, "node: %s %s" % (p.stdout, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


@R.test
def ioredis_define_command(ctx):
    expect_eq(run_node(NODE_SCRIPT, ctx["a"].port),
              [9, 21, ["kk", "av", 1], [27, 31], 32], "ioredis results")


@R.test
def ioredis_multi_and_db(ctx):
    expect_eq(run_node(NODE_MULTI_DB, ctx["a"].port),
              [[[None, "OK"], [None, 1], [None, 2], [None, "x"]], ["x", "2"], [None, None]],
              "ioredis multi().exec() with db: 1")


def setup(runner):
    a = runner.add_server(start_under_test(args, "server"))
    b = runner.add_server(start_reference(args, "reference"))
    return {"a": a, "b": b, "real": is_real_redis(args)}


sys.exit(R.run(setup=setup))
