"""Servers started with extra options, for the limits and access tests.

Both mem-kv and real Redis take the same `--option value` words for the
settings these tests use (requirepass, timeout, tcp-keepalive, maxclients,
proto-max-bulk-len, client-query-buffer-limit, client-output-buffer-limit,
protected-mode, bind); later options win in both.  A server with a password
answers the readiness PING with NOAUTH, which counts as ready here.
"""

import os
import shutil
import socket
import time

from harness import LOOPBACK, DEFAULT_REDIS, Server, is_real_redis


class OptServer(Server):
    def __init__(self, binary, kind, extra_args=(), name=None, more=(), wrap=()):
        Server.__init__(self, binary, kind, extra_args, name)
        self.more = list(more)
        self.wrap = list(wrap)

    def _command(self, port):
        cmd = Server._command(self, port)
        if self.kind == "memkv":
            cmd += ["--persistence", "off"]
        return self.wrap + cmd + self.more

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return False, "exited with code %s" % rc
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1.0) as s:
                    s.settimeout(2.0)
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    data = b""
                    while not data.endswith(b"\r\n"):
                        chunk = s.recv(256)
                        if not chunk:
                            break
                        data += chunk
                    if data == b"+PONG\r\n" or data.startswith(b"-NOAUTH"):
                        return True, ""
            except OSError:
                pass
            time.sleep(0.05)
        return False, "no PONG within %.0f s" % timeout


def start_with(args, more=(), name="server", wrap=()):
    """The server under test (mem-kv, or real Redis with --server
    redis-server) with the options in `more`."""
    if is_real_redis(args):
        binary = args.server if os.path.sep in args.server else (
            shutil.which("redis-server") or DEFAULT_REDIS)
        srv = OptServer(binary, "redis", name=name + "(redis)", more=more, wrap=wrap)
    else:
        srv = OptServer(args.server, "memkv", args.server_arg, name=name + "(mem-kv)",
                        more=more, wrap=wrap)
    return srv.start()


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def non_loopback_ipv4():
    """An IPv4 address of this machine that is not loopback, or None."""
    try:
        import subprocess
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                             timeout=5).stdout.split()
    except Exception:
        out = []
    for a in out:
        if "." in a and not a.startswith("127."):
            return a
    return None
