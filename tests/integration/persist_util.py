"""Helpers for the persistence tests (test_crash.py, test_faults.py):
a mem-kv server on a fixed data directory that can be SIGKILLed and
restarted, with extra environment variables, and whose log can be read
per start."""

import os
import re
import signal
import subprocess
import time

from harness import RespConn, Server, Skip, encode, is_real_redis, pick_port  # noqa: F401

DONE_RE = re.compile(r"shard (\d+): compaction done")
LOADED_RE = re.compile(r"DB loaded from .*: (\d+) keys in ([0-9.]+) seconds")


def require_memkv(args):
    if is_real_redis(args):
        raise Skip("persistence tests need mem-kv (crashes, data directory, COMPACT)")


class PersistServer(Server):
    """mem-kv on <tmpdir>/data. start() may be called again after kill()."""

    def __init__(self, args, extra=(), name="persist", env=None, dirname="data"):
        self.datadir = None
        super().__init__(args.server, "memkv", [], name=name)
        self.datadir = os.path.join(self.tmpdir, dirname)
        self.base_args = list(args.server_arg)
        self.extra = list(extra)
        self.env = dict(env or {})
        self.log_start = 0
        self.starts = 0
        self.expected_exit = False   # the test killed or stopped it on purpose

    def _command(self, port):
        self.extra_args = self.base_args + ["--dir", self.datadir] + self.extra
        return super()._command(port)

    def start(self, timeout=60.0, attempts=5, env=None):
        try:
            self.log_start = os.path.getsize(self.logpath)
        except OSError:
            self.log_start = 0
        want = dict(self.env)
        want.update(env or {})
        saved = {k: os.environ.get(k) for k in want}
        os.environ.update(want)
        try:
            super().start(timeout=timeout, attempts=attempts)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.starts += 1
        self.expected_exit = False
        return self

    def kill(self):
        """SIGKILL and reap."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        self.expected_exit = True
        if self.logfile:
            self.logfile.close()
            self.logfile = None

    def wait_exit(self, timeout=30.0):
        rc = self.proc.wait(timeout)
        self.expected_exit = True
        if self.logfile:
            self.logfile.close()
            self.logfile = None
        return rc

    def stop(self, timeout=10.0):
        if self.proc is not None and self.expected_exit and self.proc.poll() is not None:
            return True, "ended by the test"
        return super().stop(timeout)

    def stop_clean(self):
        clean, msg = self.stop()
        assert clean, "clean shutdown failed: %s" % msg
        self.expected_exit = True

    def log_since_start(self):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(self.log_start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def compactions_done(self):
        return len(DONE_RE.findall(self.log_since_start()))

    def loaded_line(self):
        m = LOADED_RE.search(self.log_since_start())
        return (int(m.group(1)), float(m.group(2))) if m else None

    def conn(self, timeout=30.0):
        return RespConn(self.port, timeout=timeout)

    def run_once(self, extra_args=(), timeout=60.0, env=None):
        """Runs the server on this data directory expecting it NOT to start:
        returns (exit code or None if it came up, output). A server that
        does come up is stopped with SIGTERM."""
        port = pick_port()
        cmd = [self.binary, "--port", str(port), "--bind", "127.0.0.1"] + self.base_args + [
            "--dir", self.datadir] + self.extra + list(extra_args)
        e = dict(os.environ)
        e.update(self.env)
        e.update(env or {})
        p = subprocess.Popen(cmd, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e)
        deadline = time.monotonic() + timeout
        import socket
        while time.monotonic() < deadline:
            if p.poll() is not None:
                out = p.stdout.read().decode("utf-8", "replace")
                return p.returncode, out
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                p.send_signal(signal.SIGTERM)
                out = p.communicate(timeout=30)[0].decode("utf-8", "replace")
                return None, out
            except OSError:
                time.sleep(0.05)
        p.kill()
        out = p.communicate()[0].decode("utf-8", "replace")
        raise AssertionError("server neither started nor exited within %.0f s:\n%s" % (timeout, out))


def dump_all(c):
    """{key: (value, pexpiretime)} for every key, via KEYS * + pipelined GET
    and PEXPIRETIME."""
    keys = c.call("KEYS", "*")
    out = {}
    for i in range(0, len(keys), 5000):
        chunk = keys[i:i + 5000]
        cmds = []
        for k in chunk:
            cmds.append(("GET", k))
            cmds.append(("PEXPIRETIME", k))
        rep = c.pipeline(cmds)
        for j, k in enumerate(chunk):
            out[k] = (rep[2 * j], rep[2 * j + 1])
    return out


def wait_compactions(srv, want, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if srv.compactions_done() >= want:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise AssertionError("only %d of %d compactions done after %.0f s" % (
        srv.compactions_done(), want, timeout))
