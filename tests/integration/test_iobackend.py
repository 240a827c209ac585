#!/usr/bin/python3
"""--io-backend (issue 14): the network threads send and read through
io_uring or through epoll + read/write. INFO server io_backend and CONFIG
GET io-backend say which; --io-backend uring refuses to start when io_uring
is unavailable (MEMKV_TEST_NO_URING=1 makes io_uring_setup "fail", as a
seccomp profile would); auto falls back to epoll with one log line. Then
the uring send path's edge cases: a reply bigger than the socket buffer to
a slow reader (EAGAIN, EPOLLOUT), more big replies than one send takes
(iovec limit), QUIT and half-close after the last reply."""

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Runner, Server, Skip, encode, is_real_redis,  # noqa: E402
                     parse_args, pick_port)

args = parse_args(__doc__)
R = Runner(args)
TMP = tempfile.mkdtemp(prefix="memkv-integ-iobackend-")
NO_BUILD = "this build has no io_uring"


def memkv_only():
    if is_real_redis(args):
        raise Skip("mem-kv's option")


def run_exit(argv, env=None, timeout=10.0):
    """(exit status, stderr) of the server with argv, or (None, stderr) if it
    still ran after timeout (then it is killed)."""
    cmd = [args.server, "--port", str(pick_port()), "--persistence", "off"] + list(argv)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen(cmd, cwd=TMP, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=e)
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err.decode("utf-8", "replace")


def start(argv, name, env=None):
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        return R.add_server(Server(args.server, "memkv", ["--persistence", "off"] + list(argv),
                                   name=name).start())
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def backend(srv):
    with RespConn(srv.port) as c:
        info = c.call("INFO", "server").decode()
        got = c.call("CONFIG", "GET", "io-backend")
    line = [x for x in info.split("\r\n") if x.startswith("io_backend:")]
    assert line, "INFO server has no io_backend: %r" % info
    name = line[0].split(":", 1)[1]
    assert got == [b"io-backend", name.encode()], (got, name)
    return name


def uring_server(name, extra=()):
    """A server with --io-backend uring, or Skip if this build has none."""
    rc, err = (None, "")
    try:
        return start(["--io-backend", "uring"] + list(extra), name)
    except Exception:
        rc, err = run_exit(["--io-backend", "uring"] + list(extra))
        if rc and NO_BUILD in err:
            raise Skip("built without liburing")
        if rc and "io_uring is not available" in err:
            raise Skip("io_uring unavailable here: " + err.strip()[-200:])
        raise


@R.test
def uring_reported_in_info(_):
    memkv_only()
    srv = uring_server("uring")
    assert backend(srv) == "uring"
    with RespConn(srv.port) as c:
        assert c.call("SET", "k", "v") == "OK"
        assert c.call("GET", "k") == b"v"


@R.test
def epoll_reported_in_info(_):
    memkv_only()
    srv = start(["--io-backend", "epoll"], "epoll")
    assert backend(srv) == "epoll"


@R.test
def uring_refused_cleanly_when_unavailable(_):
    memkv_only()
    rc, err = run_exit(["--io-backend", "uring"], env={"MEMKV_TEST_NO_URING": "1"})
    assert rc is not None and rc > 0, "expected a refusal, got exit %s: %r" % (rc, err[-400:])
    assert "--io-backend uring" in err and ("not available" in err or NO_BUILD in err), err
    assert "Sanitizer" not in err and "Segmentation" not in err, err


@R.test
def auto_falls_back_to_epoll_with_one_log_line(_):
    memkv_only()
    srv = start(["--io-backend", "auto"], "auto-fallback", env={"MEMKV_TEST_NO_URING": "1"})
    assert backend(srv) == "epoll"
    with RespConn(srv.port) as c:
        assert c.call("PING") == "PONG"
    log = srv.log_text()
    assert log.count("io_uring is not available") <= 1, log
    rc, err = run_exit(["--io-backend", "uring"], timeout=1.5)
    if rc is None:  # this build and kernel have io_uring: auto said why it took epoll
        assert log.count("io_uring is not available") == 1, log


@R.test
def bad_backend_name_is_refused(_):
    memkv_only()
    rc, err = run_exit(["--io-backend", "kqueue"])
    assert rc == 2, (rc, err[-400:])
    assert "io-backend" in err, err


def read_all(sock, n, chunk=65536, delay=0.0):
    data = bytearray()
    while len(data) < n:
        b = sock.recv(min(chunk, n - len(data)))
        if not b:
            break
        data += b
        if delay:
            time.sleep(delay)
    return bytes(data)


@R.test
def uring_big_reply_to_slow_reader(_):
    """8 MB reply, read 64 KB at a time with pauses: the send finds the
    socket full (EAGAIN) and goes on when it drains."""
    memkv_only()
    srv = uring_server("uring-big")
    val = os.urandom(4 << 20).hex().encode()  # 8 MB
    with RespConn(srv.port) as c:
        assert c.call("SET", "big", val) == "OK"
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(encode("GET", "big") + encode("PING"))
    head = b"$%d\r\n" % len(val)
    want = head + val + b"\r\n+PONG\r\n"
    got = read_all(s, len(want), delay=0.002)
    s.close()
    assert got == want, "reply differs (%d of %d bytes)" % (len(got), len(want))


@R.test
def uring_many_big_replies_in_one_pipeline(_):
    """100 replies of 5 KB to one pipeline: more pieces than one send takes."""
    memkv_only()
    srv = uring_server("uring-iov")
    with RespConn(srv.port) as c:
        vals = [(b"%05d" % i) * 1000 for i in range(100)]
        for i, v in enumerate(vals):
            assert c.call("SET", "k%d" % i, v) == "OK"
        got = c.pipeline([("GET", "k%d" % i) for i in range(100)] + [("PING",)])
        assert got[:100] == vals and got[100] == "PONG"


@R.test
def uring_quit_and_half_close(_):
    memkv_only()
    srv = uring_server("uring-close")
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(encode("SET", "a", "1") + encode("QUIT") + encode("SET", "a", "2"))
    s.settimeout(5)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    assert data == b"+OK\r\n+OK\r\n", data
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(encode("GET", "a") + encode("PING"))
    s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    assert data == b"$1\r\n1\r\n+PONG\r\n", data


sys.exit(R.run())
