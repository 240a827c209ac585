#!/usr/bin/python3
"""Configuration that is wrong, or written for Redis (issue 13), against the
real binary: contradictory or unusable settings stop start-up with exit
status 2 and a message naming them (and the file and line); settings that
work but are unwise start with a warning in the log."""

import os
import socket
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


# ---------------------------------------------------------------- config file

@R.test
def unbalanced_quotes_exit_2(_):
    memkv_only()
    path = conf("quotes.conf", "# a password\nrequirepass \"unterminated\n")
    expect_exit_2(["--config", path], path + ":2: Unbalanced quotes in configuration line")


REDIS_CONF = """# lines pasted from a redis.conf
bind 127.0.0.1 -::1
protected-mode yes
tcp-backlog 511
timeout 0
tcp-keepalive 300
daemonize no
supervised no
pidfile /var/run/redis_6379.pid
loglevel notice
logfile ""
databases 16
always-show-logo no
save ""
save 3600 1 300 100 60 10000
stop-writes-on-bgsave-error yes
rdbcompression yes
dbfilename dump.rdb
dir %(dir)s
appendonly no
appendfilename "appendonly.aof"
appendfsync always
lazyfree-lazy-eviction no
client-output-buffer-limit normal 0 0 0
client-output-buffer-limit replica 256mb 64mb 60
client-output-buffer-limit pubsub 32mb 8mb 60
include local.conf
"""


@R.test
def redis_conf_lines_start(_):
    memkv_only()
    data = os.path.join(TMP, "redis-conf-data")
    conf("local.conf", "hz 20\nmaxmemory 64mb\n")
    path = conf("redis.conf", REDIS_CONF % {"dir": data})
    srv = R.add_server(Server(args.server, "memkv", ["--config", path], name="redis-conf").start())
    with RespConn(srv.port) as c:
        assert c.call("SET", "k", "v") == Status("OK")
        assert c.call("CONFIG", "GET", "hz") == [b"hz", b"20"], "include local.conf"
        assert c.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"67108864"]
        got = c.call("CONFIG", "GET", "client-output-buffer-limit")
        assert got[1].startswith(b"normal 0 0 0 "), got
    assert os.path.exists(os.path.join(data, "MANIFEST")), "dir: the data directory"
    log = srv.log_text()
    for needle in ("redis.conf:14: 'save' has no effect",
                   "'appendonly no' has no effect", "'dbfilename' has no effect",
                   "Redis settings ignored (no effect in mem-kv): tcp-backlog, always-show-logo"):
        assert needle in log, "log lacks %r:\n%s" % (needle, log[-3000:])
    assert "daemonize" not in log and "logfile" not in log, log[-3000:]


@R.test
def redis_conf_lines_refused_exit_2(_):
    memkv_only()
    for line, needle in (("daemonize yes", "mem-kv runs in the foreground only"),
                         ("logfile /var/log/redis/redis-server.log", "mem-kv logs to stderr only"),
                         ("replicaof 10.0.0.1 6379", "mem-kv has no replication"),
                         ("no-such-directive 1", "unknown option 'no-such-directive'"),
                         ("appendfsync sometimes", "expected always, everysec or no")):
        path = conf("refused.conf", "port 7000\n%s\n" % line)
        expect_exit_2(["--config", path], path + ":2: ", needle)
    expect_exit_2(["--daemonize", "yes"], "foreground")


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
    try:
        socket.getaddrinfo("localhost", None)
    except OSError as e:
        # a root without /etc/hosts (debootstrap minbase): a clear refusal
        rc, err = run_exit(["--bind", "localhost"])
        assert rc != 0 and "localhost" in err, (rc, err[-400:])
        print("  'localhost' does not resolve here (%s): refused with %r" % (e, err.strip()[-160:]))
        return
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



@R.test
def config_get_matches_info(_):
    """CONFIG GET appendonly/appendfsync say what INFO says (redis-benchmark
    prints "appendonly: no" from CONFIG GET)."""
    memkv_only()
    d = tempfile.mkdtemp(prefix="memkv-cfgget-")
    for argv, want in ((["--persistence", "off"], (b"no", None)),
                       (["--dir", d, "--fsync", "always"], (b"yes", b"always")),
                       (["--dir", d + "/b", "--fsync", "interval"], (b"yes", b"everysec"))):
        srv = R.add_server(Server(args.server, "memkv", argv, name="cfgget").start())
        with RespConn(srv.port) as c:
            got = c.call("CONFIG", "GET", "appendonly")
            assert got == [b"appendonly", want[0]], (argv, got)
            aof = b"aof_enabled:%d" % (want[0] == b"yes")
            assert aof in c.call("INFO", "persistence"), argv
            if want[1]:
                assert c.call("CONFIG", "GET", "appendfsync") == [b"appendfsync", want[1]], argv


sys.exit(R.run())
