#!/usr/bin/python3
"""Connection load (issue 7): 10 000 connections held open at once (fewer
only if the open-file hard limit cannot fit them: the test says how many),
every one of them answered, 50 active connections doing SET/GET with every
reply checked meanwhile, server memory per idle connection bounded, and
the connection past --maxclients refused with Redis's error. Figures with
Redis alongside: bench/conn_figures.py."""

import os
import resource
import selectors
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, Runner, Skip, expect_eq, parse_args  # noqa: E402
from server_opts import proc_rss_bytes, start_with  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
WANT = 10000
# ASan's redzones and quarantine make every allocation bigger in the Debug
# build; the Release figure is ~5 KB (bench/conn_figures.py).
MAX_BYTES_PER_CONN = 48 * 1024


def fit_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = hard if hard != resource.RLIM_INFINITY else WANT + 400
    n = min(WANT, top - 400)
    if n < 1000:
        raise Skip("the open-file hard limit (%d) leaves room for %d connections" % (hard, n))
    if soft < n + 400:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n + 400, hard))
    return n


def open_idle(port, n):
    socks, sel = [], selectors.DefaultSelector()
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
        if i % 500 == 499:
            time.sleep(0.02)  # the listen backlog is finite
    pending, deadline = set(socks), time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(1):
            s = key.fileobj
            if key.events == selectors.EVENT_WRITE:
                s.send(b"*1\r\n$4\r\nPING\r\n")
                sel.modify(s, selectors.EVENT_READ)
            else:
                data = s.recv(64)
                assert data.startswith(b"+PONG"), "an idle connection got %r" % data
                sel.unregister(s)
                pending.discard(s)
    assert not pending, "%d of %d connections never got their PONG" % (len(pending), n)
    sel.close()
    return socks


def active(port, idx, stop, errors, counts):
    try:
        with RespConn(port, timeout=30) as c:
            i = 0
            while not stop.is_set():
                k = "act:%d:%d" % (idx, i % 100)
                expect_eq(c.call("SET", k, "v%d" % i), "OK", "SET")
                expect_eq(c.call("GET", k), b"v%d" % i, "GET")
                i += 1
            counts[idx] = i
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        errors.append("%d: %r" % (idx, e))


@R.test
def ten_thousand_connections(ctx):
    n = fit_fd_limit()
    srv = R.add_server(start_with(args, ["--maxclients", str(n + 50)], "conns"))
    base = proc_rss_bytes(srv.proc.pid)
    t0 = time.monotonic()
    socks = open_idle(srv.port, n)
    opened = time.monotonic() - t0
    time.sleep(0.3)
    per_conn = (proc_rss_bytes(srv.proc.pid) - base) / n
    stop, errors, counts = threading.Event(), [], [0] * 50
    ts = [threading.Thread(target=active, args=(srv.port, i, stop, errors, counts))
          for i in range(50)]
    for t in ts:
        t.start()
    time.sleep(3)
    stop.set()
    for t in ts:
        t.join(30)
    assert not errors, "active connections failed: %s" % errors[:3]
    assert min(counts) > 0, "an active connection got no answer in 3 s: %r" % counts
    # the idle ones are still served
    for s in socks[:: max(1, n // 200)]:
        s.setblocking(True)
        s.settimeout(10)
        s.sendall(b"PING\r\n")
        expect_eq(s.recv(16), b"+PONG\r\n", "an idle connection later")
    # n + 50 allowed: the 51st more is refused
    extra = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(50)]
    with RespConn(srv.port) as c:
        data, closed = c.read_until_closed(10)
        expect_eq(data, b"-ERR max number of clients reached\r\n", "past --maxclients")
        assert closed, "the connection past maxclients was left open"
    for s in socks + extra:
        s.close()
    print("  %d idle connections opened in %.1f s, %.0f bytes of server RSS each; "
          "50 active did %d SET+GET pairs in 3 s meanwhile" % (n, opened, per_conn, sum(counts)))
    assert per_conn < MAX_BYTES_PER_CONN, "%.0f bytes per idle connection" % per_conn


sys.exit(R.run())
