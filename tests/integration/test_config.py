#!/usr/bin/python3
"""Configuration that is wrong, or written for Redis (issue 13), against the
real binary: contradictory or unusable settings stop start-up with exit
status 2 and a message naming them (and the file and line); settings that
work but are unwise start with a warning in the log."""

import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Runner, Server, Skip, Status, is_real_redis,  # noqa: E402
                     parse_args, pick_port)

args = parse_args(__doc__)
R = Runner(args)
TMP = tempfile.mkdtemp(prefix="memkv-integ-config-")


def memkv_only():
    if is_real_redis(args):
        raise Skip("mem-kv's options")


def run_exit(argv, timeout=10.0):
    """Runs the server with argv (persistence off, a free port) and returns
    (exit status, stderr), or (None, stderr) if it was still running after
    timeout (then it is killed)."""
    cmd = [args.server, "--port", str(pick_port()), "--persistence", "off"] + list(argv)
    p = subprocess.Popen(cmd, cwd=TMP, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err.decode("utf-8", "replace")


def expect_exit_2(argv, *needles):
    rc, err = run_exit(argv)
    assert rc == 2, "%r: expected exit status 2, got %s (stderr %r)" % (argv, rc, err[-400:])
    for n in needles:
        assert n in err, "%r: stderr lacks %r: %r" % (argv, n, err[-400:])


def conf(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def start(argv, name):
    """A server with argv; its log is srv.log_text()."""
    return R.add_server(Server(args.server, "memkv", ["--persistence", "off"] + list(argv),
                               name=name).start())


# ---------------------------------------------------------------- threads

@R.test
def threads_with_io_or_actor_threads_exit_2(_):
    memkv_only()
    expect_exit_2(["--threads", "2", "--io-threads", "1", "--actor-threads", "3"],
                  "--threads 2 cannot be combined with --io-threads 1")
    expect_exit_2(["--actor-threads", "2", "--threads", "2"], "cannot be combined")


@R.test
def more_threads_than_cpus_warns(_):
    memkv_only()
    ncpu = os.cpu_count() or 1
    if 128 <= ncpu:
        raise Skip("%d CPUs" % ncpu)
    srv = start(["--io-threads", "64", "--actor-threads", "64"], "threads")
    with RespConn(srv.port) as c:
        assert c.call("PING") == Status("PONG")
    log = srv.log_text()
    want = "on %d CPU%s" % (ncpu, "" if ncpu == 1 else "s")
    assert "busy threads (64 network + 16 actor) " + want in log, log[-2000:]


# ---------------------------------------------------------------- bind

def served_on(host, port, family=None):
    """PING answered on host:port."""
    import socket
    fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(b"PING\r\n")
        return s.recv(64) == b"+PONG\r\n"


def has_ipv6_loopback():
    import socket
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@R.test
def bind_host_name(_):
    memkv_only()
    srv = start(["--bind", "localhost"], "bind-name")
    assert served_on("127.0.0.1", srv.port)


@R.test
def bind_several_addresses(_):
    memkv_only()
    if not has_ipv6_loopback():
        raise Skip("no IPv6 loopback")
    srv = start(["--bind", "127.0.0.1", "::1", "--metrics-port", str(pick_port())], "bind-two")
    assert served_on("127.0.0.1", srv.port)
    assert served_on("::1", srv.port)
    path = conf("bind.conf", "bind 127.0.0.1 -::1\n")
    srv = start(["--config", path], "bind-file")
    assert served_on("127.0.0.1", srv.port)
    assert served_on("::1", srv.port)
    with RespConn(srv.port) as c:
        got = c.call("CONFIG", "GET", "bind")
        assert got == [b"bind", b"127.0.0.1 -::1"], got


@R.test
def bind_optional_address_skipped(_):
    memkv_only()
    # 192.0.2.1 (TEST-NET-1) is on no interface: '-' skips it, as Redis
    srv = start(["--bind", "127.0.0.1", "-192.0.2.1"], "bind-optional")
    assert served_on("127.0.0.1", srv.port)
    assert "192.0.2.1" in srv.log_text()
    rc, err = run_exit(["--bind", "127.0.0.1", "192.0.2.1"])
    assert rc == 1 and "cannot listen on 192.0.2.1" in err, (rc, err[-400:])


sys.exit(R.run())
