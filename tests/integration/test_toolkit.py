#!/usr/bin/python3
"""The operator's toolkit (issue 16, items 1-2): SLOWLOG, LATENCY, MONITOR
and CLIENT LIST/INFO/KILL/PAUSE/UNPAUSE/NO-EVICT/REPLY.

Each command is run against mem-kv (with --io-threads 2, so that clients
land on different network threads) and against a real redis-server, and the
replies are compared modulo values (ids, times, durations, ports). Then
deliberately slow moments are shown to leave their cause behind: a KEYS over
200 000 keys (SLOWLOG and LATENCY "command"), an fsync stall made by the
fault shim (LATENCY "aof-fsync-always", with --shim), and a COMPACT
(LATENCY "compaction-slice" or the command itself).

  --shim PATH   tests/fault's libfault_shim.so (the fsync stall test skips
                without it)
"""

import os
import re
import shutil
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Server, Skip, is_real_redis, parse_args,  # noqa: E402
                     Runner)
from persist_util import PersistServer  # noqa: E402


def extra(p):
    p.add_argument("--shim", default=None, help="libfault_shim.so")


args = parse_args(__doc__, extra)
R = Runner(args)
OK = "OK"


def memkv_only():
    if is_real_redis(args):
        raise Skip("mem-kv only")


def both(ctx):
    """(name, port) of the server under test and of the reference Redis."""
    out = [("server", ctx["srv"].port)]
    if ctx["ref"] is not None:
        out.append(("redis", ctx["ref"].port))
    return out


def shape(v):
    """A reply with its values blurred: ints -> 'int', bytes kept unless
    they look like an address, nested lists kept."""
    if isinstance(v, list):
        return [shape(x) for x in v]
    if isinstance(v, int):
        return "int"
    if isinstance(v, bytes) and re.fullmatch(rb"127\.0\.0\.1:\d+", v):
        return "addr"
    return v


def call_both(ctx, *cmd):
    got = {}
    for name, port in both(ctx):
        with RespConn(port) as c:
            got[name] = c.call(*cmd)
    return got


def expect_same(ctx, *cmd, blur=False):
    got = call_both(ctx, *cmd)
    if "redis" in got:
        a, b = got["server"], got["redis"]
        if blur:
            a, b = shape(a), shape(b)
        assert a == b, "%r: server %r, redis %r" % (cmd, a, b)
    return got["server"]


# ---------------------------------------------------------------- SLOWLOG

def slowlog_all(port, cmds, name=None):
    """Runs cmds with every command logged; returns SLOWLOG GET -1."""
    with RespConn(port) as c:
        if name:
            c.call("CLIENT", "SETNAME", name)
        assert c.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == OK
        c.call("SLOWLOG", "RESET")
        for cmd in cmds:
            c.call(*cmd)
        got = c.call("SLOWLOG", "GET", "-1")
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        return got


@R.test
def slowlog_entries_as_redis(ctx):
    long_val = b"v" * 200
    many = ["EXISTS"] + ["k%d" % i for i in range(40)]
    cmds = [("SET", "a", long_val), ("GET", "a"), tuple(many)]
    res = {}
    for name, port in both(ctx):
        res[name] = slowlog_all(port, cmds, name="slowpoke")
    e = res["server"]
    # newest first: SLOWLOG RESET? no: the GET itself is not in yet; EXISTS, GET, SET, RESET
    args_of = [x[3] for x in e]
    assert args_of[0][0].lower() == b"exists", args_of
    assert len(args_of[0]) == 32, len(args_of[0])
    assert args_of[0][31] == b"... (10 more arguments)", args_of[0][31]
    assert args_of[2][:2] == [b"SET", b"a"], args_of[2]
    assert args_of[2][2] == b"v" * 128 + b"... (72 more bytes)", args_of[2][2]
    for x in e:
        assert len(x) == 6 and isinstance(x[0], int) and isinstance(x[2], int), x
        assert abs(x[1] - time.time()) < 60, x
        assert re.fullmatch(rb"127\.0\.0\.1:\d+", x[4]) and x[5] == b"slowpoke", x
    ids = [x[0] for x in e]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), ids
    if "redis" in res:
        assert shape(res["server"]) == shape(res["redis"]), (res["server"], res["redis"])


@R.test
def slowlog_len_reset_maxlen_errors(ctx):
    for name, port in both(ctx):
        with RespConn(port) as c:
            assert c.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == OK
            assert c.call("CONFIG", "SET", "slowlog-max-len", "3") == OK
            for i in range(10):
                c.call("SET", "x%d" % i, "1")
            assert c.call("SLOWLOG", "LEN") == 3, name
            assert len(c.call("SLOWLOG", "GET")) == 3
            assert len(c.call("SLOWLOG", "GET", "1")) == 1
            assert c.call("SLOWLOG", "RESET") == OK
            n = c.call("SLOWLOG", "LEN")
            assert n <= 1, (name, n)    # the RESET itself may be logged after it ran
            assert c.call("CONFIG", "SET", "slowlog-max-len", "128") == OK
            assert c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1") == OK
            c.call("SLOWLOG", "RESET")
            c.call("SET", "y", "1")
            assert c.call("SLOWLOG", "LEN") == 0, name
            assert c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000") == OK
    expect_same(ctx, "CONFIG", "GET", "slowlog-max-len")
    expect_same(ctx, "CONFIG", "GET", "slowlog-log-slower-than")
    expect_same(ctx, "SLOWLOG", "GET", "-2")
    expect_same(ctx, "SLOWLOG", "GET", "x")
    expect_same(ctx, "SLOWLOG", "NOPE")
    expect_same(ctx, "SLOWLOG", "LEN", "extra")
    expect_same(ctx, "SLOWLOG", "HELP")
    expect_same(ctx, "CONFIG", "SET", "slowlog-max-len", "abc")


@R.test
def slowlog_merges_threads(ctx):
    """Commands from many connections (both network threads) in one log,
    ids unique and newest first."""
    port = ctx["srv"].port
    with RespConn(port) as c:
        assert c.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == OK
        c.call("SLOWLOG", "RESET")
        conns = [RespConn(port) for _ in range(6)]
        try:
            for i, x in enumerate(conns):
                x.call("CLIENT", "SETNAME", "c%d" % i)
                x.call("SET", "mt%d" % i, "v")
        finally:
            for x in conns:
                x.close()
        e = c.call("SLOWLOG", "GET", "-1")
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    names = {x[5] for x in e if x[3][0].lower() == b"set"}
    assert names == {b"c%d" % i for i in range(6)}, names
    ids = [x[0] for x in e]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), ids


# ---------------------------------------------------------------- LATENCY

@R.test
def latency_replies_as_redis(ctx):
    for name, port in both(ctx):
        with RespConn(port) as c:
            c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
            c.call("LATENCY", "RESET")
    expect_same(ctx, "LATENCY", "LATEST")
    expect_same(ctx, "LATENCY", "HISTORY", "command")
    expect_same(ctx, "LATENCY", "RESET")
    expect_same(ctx, "LATENCY", "RESET", "command", "nope")
    helps = call_both(ctx, "LATENCY", "HELP")
    if "redis" in helps:   # GRAPH and HISTOGRAM are not built: the rest as Redis says it
        assert helps["server"][0] == helps["redis"][0], helps
        assert all(h in helps["redis"] for h in helps["server"]), helps
    expect_same(ctx, "LATENCY", "NOPE")
    expect_same(ctx, "LATENCY", "HISTORY")
    expect_same(ctx, "CONFIG", "GET", "latency-monitor-threshold")
    expect_same(ctx, "CONFIG", "SET", "latency-monitor-threshold", "x")
    d = call_both(ctx, "LATENCY", "DOCTOR")["server"]
    assert isinstance(d, bytes) and d, d


def fill(c, n, prefix="fill"):
    """n keys by MSETs of 1000."""
    for start in range(0, n, 1000):
        kv = []
        for i in range(start, min(n, start + 1000)):
            kv += [b"%s:%07d" % (prefix.encode(), i), b"v"]
        assert c.call("MSET", *kv) == OK


@R.test
def slow_keys_shows_with_cause(ctx):
    """KEYS over 200 000 keys (a pattern that matches none, so the time is
    the server's scan, not the client's parsing): in SLOWLOG with its
    arguments and as a LATENCY 'command' event, on mem-kv and on Redis. The
    keys stay for compact_shows_in_latency."""
    for name, port in both(ctx):
        with RespConn(port, timeout=60) as c:
            fill(c, 200000)
            c.call("SLOWLOG", "RESET")
            c.call("LATENCY", "RESET")
            assert c.call("CONFIG", "SET", "slowlog-log-slower-than", "2000") == OK
            assert c.call("CONFIG", "SET", "latency-monitor-threshold", "2") == OK
            t0 = time.monotonic()
            keys = c.call("KEYS", "nomatch*")
            took = time.monotonic() - t0
            assert keys == [], (name, keys)
            e = c.call("SLOWLOG", "GET", "-1")
            lat = c.call("LATENCY", "LATEST")
            c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
            if name == "redis":
                c.call("FLUSHALL")
        ks = [x for x in e if x[3] == [b"KEYS", b"nomatch*"]]
        assert ks, "%s: no KEYS in SLOWLOG (took %.1f ms): %r" % (name, took * 1000, e)
        assert ks[0][2] >= 2000, ks[0]
        ev = {x[0]: x for x in lat}
        assert b"command" in ev, "%s: no 'command' event: %r" % (name, lat)
        assert ev[b"command"][2] >= 2 and ev[b"command"][3] >= ev[b"command"][2], ev
        print("  %s: KEYS over 200k keys %.1f ms; slowlog %d us; latency event %r" % (
            name, took * 1000, ks[0][2], ev[b"command"]))


@R.test
def compact_shows_in_latency(ctx):
    """COMPACT of a shard with 200 000 keys: its work between batches is
    timed as 'compaction-slice' (or, paced, the writes waiting behind it)."""
    memkv_only()
    with RespConn(ctx["srv"].port, timeout=60) as c:
        if c.call("DBSIZE") < 200000:
            fill(c, 200000, "compact")
        c.call("LATENCY", "RESET")
        assert c.call("CONFIG", "SET", "latency-monitor-threshold", "1") == OK
        assert c.call("COMPACT") == OK
        deadline = time.monotonic() + 20
        names = set()
        while time.monotonic() < deadline:
            c.call("SET", "during", "x")
            names = {x[0] for x in c.call("LATENCY", "LATEST")}
            if b"compaction-slice" in names:
                break
            time.sleep(0.02)
        hist = c.call("LATENCY", "HISTORY", "compaction-slice")
        c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        c.call("FLUSHALL")
    assert b"compaction-slice" in names, "no compaction-slice event: %r" % names
    assert hist and all(len(h) == 2 and h[1] >= 1 for h in hist), hist


def preload_for(server):
    import subprocess
    if not args.shim or not os.path.exists(args.shim):
        raise Skip("fault shim not built (pass --shim PATH)")
    ldd = subprocess.run(["ldd", server], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"(libasan\.so[^\s]*) => (\S+)", ldd)
    return (m.group(2) + ":" if m else "") + os.path.abspath(args.shim)


@R.test
def fsync_stall_shows_in_latency(ctx):
    """--fsync always with fsync made 150 ms slow by the fault shim: a SET
    takes that long, LATENCY names aof-fsync-always, SLOWLOG has the SET."""
    memkv_only()
    pre = preload_for(args.server)
    srv = R.add_server(PersistServer(args, ["--fsync", "always", "--latency-monitor-threshold",
                                            "50", "--slowlog-log-slower-than", "50000"],
                                     name="toolkit-fsync"))
    ctl = os.path.join(srv.tmpdir, "fault.ctl")
    with open(ctl, "w") as f:
        f.write("")
    srv.env = {"LD_PRELOAD": pre, "MEMKV_FAULT_CTL": ctl}
    srv.start()
    with RespConn(srv.port) as c:
        assert c.call("SET", "fast", "1") == OK
        with open(ctl + ".tmp", "w") as f:
            f.write("fsync-delay 150\n")
        os.rename(ctl + ".tmp", ctl)
        t0 = time.monotonic()
        assert c.call("SET", "slow", "1") == OK
        took = time.monotonic() - t0
        with open(ctl + ".tmp", "w") as f:
            f.write("")
        os.rename(ctl + ".tmp", ctl)
        lat = {x[0]: x for x in c.call("LATENCY", "LATEST")}
        e = c.call("SLOWLOG", "GET")
        doctor = c.call("LATENCY", "DOCTOR")
    assert took >= 0.14, took
    assert b"aof-fsync-always" in lat, lat
    assert lat[b"aof-fsync-always"][2] >= 140, lat
    assert any(x[3] == [b"SET", b"slow", b"1"] and x[2] >= 140000 for x in e), e
    assert b"aof-fsync-always" in doctor and b"disk" in doctor, doctor
    print("  SET with a 150 ms fsync stall: %.0f ms; events %r" % (took * 1000, sorted(lat)))


# ---------------------------------------------------------------- MONITOR

LINE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) (127\.0\.0\.1:\d+)\]((?: "(?:[^"\\]|\\.)*")+)$')


def monitor_lines(port, actions, want):
    m = RespConn(port)
    assert m.call("MONITOR") == OK
    try:
        actions()
        lines = []
        m.settimeout(5)
        while len(lines) < want:
            lines.append(m._line())
        return lines
    finally:
        m.close()


@R.test
def monitor_format_as_redis(ctx):
    def acts(port):
        def go():
            with RespConn(port) as c:
                c.call("SELECT", "2")
                c.call("SET", "k y", 'a"b\\c\n\x01')
                c.call("GET", "k y")
        return go
    got = {}
    for name, port in both(ctx):
        got[name] = monitor_lines(port, acts(port), 3)
    for name, lines in got.items():
        for ln in lines:
            assert LINE.match(ln), (name, ln)
    tails = {n: [LINE.match(ln).group(3) + LINE.match(ln).group(5) for ln in lines]
             for n, lines in got.items()}
    assert tails["server"] == [b'2 "SELECT" "2"', b'2 "SET" "k y" "a\\"b\\\\c\\n\\x01"',
                               b'2 "GET" "k y"'], tails["server"]
    if "redis" in tails:
        assert tails["server"] == tails["redis"], tails


@R.test
def monitor_sees_all_threads(ctx):
    """Six clients (both network threads with --io-threads 2): every
    command reaches the one monitor, none of the monitor's own."""
    port = ctx["srv"].port

    def go():
        conns = [RespConn(port) for _ in range(6)]
        try:
            for i, c in enumerate(conns):
                c.call("SET", "mon%d" % i, "v")
        finally:
            for c in conns:
                c.close()
    lines = monitor_lines(port, go, 6)
    keys = sorted(re.search(rb'"(mon\d)"', ln).group(1) for ln in lines)
    assert keys == [b"mon%d" % i for i in range(6)], lines
    addrs = {LINE.match(ln).group(4) for ln in lines}
    assert len(addrs) == 6, addrs


@R.test
def monitor_redacts_and_hides_admin(ctx):
    memkv_only()
    port = ctx["srv"].port

    def go():
        with RespConn(port) as c:
            c.call("CONFIG", "GET", "maxmemory")
            c.call("AUTH", "user", "pw")
            c.call("PING")
    lines = monitor_lines(port, go, 2)
    assert b'"AUTH" "(redacted)" "(redacted)"' in lines[0], lines
    assert b'"PING"' in lines[1], lines


# ---------------------------------------------------------------- CLIENT

def client_fields(line):
    return dict(kv.split(b"=", 1) for kv in line.split(b" ") if b"=" in kv)


@R.test
def client_list_every_thread(ctx):
    port = ctx["srv"].port
    conns = [RespConn(port) for _ in range(6)]
    try:
        for i, c in enumerate(conns):
            assert c.call("CLIENT", "SETNAME", "cl%d" % i) == OK
        with RespConn(port) as me:
            me.call("CLIENT", "SETNAME", "me")
            text = me.call("CLIENT", "LIST")
            mine = me.call("CLIENT", "INFO")
            myid = me.call("CLIENT", "ID")
            only = me.call("CLIENT", "LIST", "ID", str(myid))
    finally:
        for c in conns:
            c.close()
    lines = [client_fields(ln) for ln in text.strip().split(b"\n")]
    names = {f[b"name"] for f in lines}
    assert {b"cl%d" % i for i in range(6)} | {b"me"} <= names, names
    for f in lines:
        assert f[b"laddr"] == b"127.0.0.1:%d" % port, f
    assert client_fields(mine.strip())[b"name"] == b"me"
    assert [client_fields(ln)[b"name"] for ln in only.strip().split(b"\n")] == [b"me"], only
    expect_same(ctx, "CLIENT", "LIST", "ID", "abc")
    expect_same(ctx, "CLIENT", "LIST", "FOO")


def closed_soon(c, timeout=3.0):
    data, closed = c.read_until_closed(timeout)
    return closed


@R.test
def client_kill_forms(ctx):
    for name, port in both(ctx):
        a, b, d = RespConn(port), RespConn(port), RespConn(port)
        try:
            aid = a.call("CLIENT", "ID")
            baddr = client_fields(b.call("CLIENT", "INFO").strip())[b"addr"]
            with RespConn(port) as k:
                assert k.call("CLIENT", "KILL", "ID", str(aid)) == 1, name
                assert closed_soon(a), name
                assert k.call("CLIENT", "KILL", baddr) == OK, name       # old form
                assert closed_soon(b), name
                assert k.call("CLIENT", "KILL", "1.2.3.4:5") == RespError("ERR No such client")
                assert k.call("CLIENT", "KILL", "ADDR", "1.2.3.4:5") == 0
                # LADDR: every client of this port but the caller (SKIPME yes)
                n = k.call("CLIENT", "KILL", "LADDR", "127.0.0.1:%d" % port)
                assert n >= 1, (name, n)
                assert closed_soon(d), name
                assert k.call("PING") == "PONG"
                assert k.call("CLIENT", "KILL", "USER", "default", "SKIPME", "no") >= 1
                assert closed_soon(k), name
        finally:
            for c in (a, b, d):
                c.close()
    expect_same(ctx, "CLIENT", "KILL", "ID", "0")
    expect_same(ctx, "CLIENT", "KILL", "ID", "x")
    expect_same(ctx, "CLIENT", "KILL", "USER", "nobody")
    expect_same(ctx, "CLIENT", "KILL", "SKIPME", "maybe")
    expect_same(ctx, "CLIENT", "KILL", "ID")
    expect_same(ctx, "CLIENT", "KILL", "FOO", "bar")


@R.test
def client_kill_other_thread(ctx):
    """A connection on either network thread is closed by a KILL from any."""
    memkv_only()
    port = ctx["srv"].port
    victims = [RespConn(port) for _ in range(6)]
    try:
        ids = [v.call("CLIENT", "ID") for v in victims]
        with RespConn(port) as k:
            for i in ids:
                assert k.call("CLIENT", "KILL", "ID", str(i)) == 1
        for v in victims:
            assert closed_soon(v)
    finally:
        for v in victims:
            v.close()


def held_call(c, *cmd):
    """Runs cmd on c in a thread; returns (thread, result list of (reply, time))."""
    res = []
    th = threading.Thread(target=lambda: res.append((c.call(*cmd), time.monotonic())))
    th.start()
    return th, res


@R.test
def client_pause_write_and_all(ctx):
    for name, port in both(ctx):
        with RespConn(port) as adm, RespConn(port) as w:
            w.call("SET", "p", "0")
            assert adm.call("CLIENT", "PAUSE", "400", "WRITE") == OK
            t0 = time.monotonic()
            assert w.call("GET", "p") == b"0", name         # reads go on
            assert time.monotonic() - t0 < 0.3, name
            assert w.call("SET", "p", "1") == OK            # waits for the pause
            assert time.monotonic() - t0 >= 0.35, (name, time.monotonic() - t0)
            # ALL: a read waits too
            assert adm.call("CLIENT", "PAUSE", "500", "ALL") == OK
            t1 = time.monotonic()
            assert w.call("GET", "p") == b"1", name
            assert time.monotonic() - t1 >= 0.4, (name, time.monotonic() - t1)
            # UNPAUSE (from another client: under WRITE, CLIENT is no write)
            assert adm.call("CLIENT", "PAUSE", "5000", "WRITE") == OK
            t2 = time.monotonic()
            th, res = held_call(w, "SET", "p", "2")
            time.sleep(0.3)
            assert not res, (name, res)                     # held
            assert adm.call("CLIENT", "UNPAUSE") == OK
            th.join(6)
            assert res and res[0][0] == OK and res[0][1] - t2 < 3.0, (name, res)
            assert adm.call("GET", "p") == b"2"
    expect_same(ctx, "CLIENT", "PAUSE", "abc")
    expect_same(ctx, "CLIENT", "PAUSE", "-1")
    expect_same(ctx, "CLIENT", "PAUSE", "10", "SOME")
    expect_same(ctx, "CLIENT", "UNPAUSE")


@R.test
def client_reply_and_no_evict(ctx):
    for name, port in both(ctx):
        with RespConn(port) as c:
            c.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n"
                   b"*3\r\n$3\r\nSET\r\n$1\r\nr\r\n$1\r\n1\r\n"
                   b"*2\r\n$3\r\nGET\r\n$1\r\nr\r\n"
                   b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n")
            assert c.read_reply() == OK, name              # only ON's reply
            c.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"
                   b"*2\r\n$4\r\nINCR\r\n$1\r\nr\r\n"
                   b"*2\r\n$3\r\nGET\r\n$1\r\nr\r\n")
            assert c.read_reply() == b"2", name            # SKIP and INCR: no reply
            assert c.call("CLIENT", "NO-EVICT", "on") == OK
            f = client_fields(c.call("CLIENT", "INFO").strip())
            assert b"e" in f[b"flags"], (name, f)
            assert c.call("CLIENT", "NO-EVICT", "off") == OK
    expect_same(ctx, "CLIENT", "REPLY", "maybe")
    expect_same(ctx, "CLIENT", "NO-EVICT", "maybe")
    expect_same(ctx, "CLIENT", "NO-EVICT")


@R.test
def metrics_slowlog_and_latency(ctx):
    """/metrics has the slowlog length and the latency events; promtool
    accepts the page when installed."""
    memkv_only()
    import subprocess
    import urllib.request
    from harness import pick_port
    mport = pick_port()
    srv = R.add_server(Server(args.server, "memkv", args.server_arg + [
        "--metrics-port", str(mport), "--persistence", "off",
        "--latency-monitor-threshold", "1", "--slowlog-log-slower-than", "0"],
        name="toolkit-metrics").start())
    with RespConn(srv.port) as c:
        c.call("SET", "a", "1")
        fill(c, 20000)
        c.call("KEYS", "nomatch*")
        lat = c.call("LATENCY", "LATEST")
        n = c.call("SLOWLOG", "LEN")
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read()
    m = re.search(rb"^memkv_slowlog_length (\d+)$", body, re.M)
    assert m and int(m.group(1)) >= min(n, 3), body[-2000:]
    assert re.search(rb"^memkv_slowlog_entries_total \d+$", body, re.M), body[-2000:]
    for e in lat:
        assert re.search(rb'^memkv_latency_spike_max_seconds\{event="%s"\} ' % e[0], body,
                         re.M), (e, body[-2000:])
    assert b"# TYPE memkv_latency_spike_last_seconds gauge" in body
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr


def setup(runner):
    if is_real_redis(args):
        srv = runner.add_server(Server(args.server if os.path.sep in args.server else
                                       shutil.which("redis-server"), "redis",
                                       name="toolkit(redis)").start())
        return {"srv": srv, "ref": None}
    srv = runner.add_server(Server(args.server, "memkv",
                                   args.server_arg + ["--io-threads", "2"],
                                   name="toolkit(mem-kv)").start())
    ref = None
    if os.path.exists(args.redis_server):
        ref = runner.add_server(Server(args.redis_server, "redis", name="toolkit(redis)").start())
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
