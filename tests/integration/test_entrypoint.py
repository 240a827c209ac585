#!/usr/bin/python3
"""The container image's entrypoint and health check (deploy/), run outside
a container with the real mem-kv-server on PATH (issue 8; the image itself
is checked with ../shared/tools/container-check.sh, docs/operations.md):

- options from MEMKV_* variables, a config file ($MEMKV_CONFIG) and
  arguments, in that order of precedence (arguments win over variables,
  variables over the file), read back with CONFIG GET;
- the server replaces the script (exec: same pid), and exits 0 on SIGTERM;
- the port is recorded for mem-kv-healthcheck, which passes while the server
  runs and fails once it has stopped;
- an unknown MEMKV_ variable stops start-up with exit status 2 naming it;
- a first argument that is not an option is run as a command."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, Runner, is_real_redis, parse_args, pick_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENTRY = os.path.join(ROOT, "deploy", "docker-entrypoint.sh")
HEALTH = os.path.join(ROOT, "deploy", "mem-kv-healthcheck.sh")

args = parse_args(__doc__)
R = Runner(args)
TMPDIRS = []


class Entry:
    """docker-entrypoint.sh with its own TMPDIR, data dir and ports."""

    def __init__(self, env=None, argv=()):
        self.tmp = tempfile.mkdtemp(prefix="memkv-entry-")
        TMPDIRS.append(self.tmp)
        self.port = pick_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MEMKV_")}
        self.env.update({
            "PATH": os.path.dirname(os.path.abspath(args.server)) + ":" + os.environ["PATH"],
            "TMPDIR": self.tmp,
            "MEMKV_BIND": "127.0.0.1",
            "MEMKV_DIR": os.path.join(self.tmp, "data"),
            "MEMKV_METRICS_PORT": str(pick_port()),
            "MEMKV_PORT": str(self.port),
        })
        self.env.update(env or {})
        self.argv = list(argv)
        self.log = os.path.join(self.tmp, "log")
        self.proc = None

    def start(self):
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["bash", ENTRY] + self.argv, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "exited %s: %s" % (self.proc.returncode, self.text())
            try:
                with RespConn(self.port, timeout=2) as c:
                    if c.call("PING") == "PONG":
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("no PONG: " + self.text())

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def config(self, name):
        with RespConn(self.port) as c:
            got = c.call("CONFIG", "GET", name)
        return got[1].decode()

    def health(self, *extra):
        return subprocess.run(["bash", HEALTH] + list(extra), env=self.env,
                              capture_output=True, timeout=10).returncode

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)


def run_once(env, argv=()):
    e = Entry(env, argv)
    return subprocess.run(["bash", ENTRY] + list(argv), env=e.env, capture_output=True,
                          timeout=20)


@R.test
def test_env_file_args_precedence(_):
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write("# mounted config file\nhz 30\nmaxclients 300\nshards 8\n")
    conf.close()
    e = Entry({"MEMKV_CONFIG": conf.name, "MEMKV_MAXCLIENTS": "400", "MEMKV_HZ": "40",
               "MEMKV_IO_THREADS": "1"}, ["--hz", "50"]).start()
    try:
        assert e.config("shards") == "8", "from the file"
        assert e.config("maxclients") == "400", "the variable over the file"
        assert e.config("hz") == "50", "the argument over the variable and the file"
        assert e.config("io-threads") == "1"
        assert e.config("port") == str(e.port)
        assert e.config("bind") == "127.0.0.1", "MEMKV_BIND over the image default"
        cmdline = open("/proc/%d/cmdline" % e.proc.pid, "rb").read().split(b"\0")
        assert os.path.basename(cmdline[0]) == b"mem-kv-server", "exec: the server has the pid"
    finally:
        assert e.stop() == 0, "exit 0 on SIGTERM"
        os.unlink(conf.name)


@R.test
def test_healthcheck(_):
    e = Entry().start()
    try:
        with open(os.path.join(e.tmp, "mem-kv.port")) as f:
            assert f.read().strip() == str(e.port)
        assert e.health() == 0, "healthy while running"
        with RespConn(e.port) as c:
            assert c.call("SET", "k", "v") == "OK"
    finally:
        assert e.stop() == 0
    assert e.health() == 1, "unhealthy once stopped"


@R.test
def test_port_from_config_file_for_healthcheck(_):
    e = Entry()
    conf = os.path.join(e.tmp, "mem-kv.conf")
    with open(conf, "w") as f:
        f.write("port %d\n" % e.port)
    e.env.pop("MEMKV_PORT")
    e.env["MEMKV_CONFIG"] = conf
    e.start()
    try:
        assert e.health() == 0
    finally:
        assert e.stop() == 0


@R.test
def test_unknown_variable_exit_2(_):
    r = run_once({"MEMKV_NO_SUCH_OPTION": "1"})
    assert r.returncode == 2, r
    assert b"unknown option 'no-such-option'" in r.stderr, r.stderr


@R.test
def test_command_passthrough(_):
    r = run_once({}, ["echo", "hello", "from", "the", "image"])
    assert r.returncode == 0 and r.stdout == b"hello from the image\n", r


def main():
    if is_real_redis(args):
        print("SKIP: entrypoint -- the entrypoint starts mem-kv-server")
        return 77
    rc = R.run()
    if rc == 0:
        for d in TMPDIRS:
            shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
