#!/usr/bin/python3
"""Integration test of mem-kv-bench against a real server.

Starts redis-server (or mem-kv-server) on a free port, runs short
mem-kv-bench loads, and checks the JSON counts against the server's own
INFO commandstats / total_commands_processed delta, and that there were no
errors. The plain-text protocol run only happens against mem-kv-server
(Redis does not speak it). Exit 77 = skipped.

Uses only the standard library (the pyenv python3 on PATH lacks redis-py,
and this needs nothing from it).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    """A minimal blocking RESP2 client: enough for PING, INFO, CONFIG."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise IOError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-", b":"):
            if t == b"-":
                raise RuntimeError(rest.decode())
            return rest.decode()
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if t == b"*":
            return [self._read() for _ in range(int(rest))]
        raise IOError("bad reply %r" % line)

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()


def info_fields(client, section):
    fields = {}
    for line in client.call("INFO", section).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k] = v
    return fields


def cmd_calls(fields, name):
    v = fields.get("cmdstat_" + name)
    if v is None:
        return 0
    return int(dict(kv.split("=") for kv in v.split(","))["calls"])


def wait_ready(port, proc, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %d" % proc.returncode)
        try:
            c = Resp(port)
            if c.call("PING") == "PONG":
                return c
        except (OSError, IOError, RuntimeError):
            time.sleep(0.05)
    raise RuntimeError("server did not answer PING")


FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def run_bench(bench, port, outdir, name, extra):
    js = os.path.join(outdir, name + ".json")
    cmd = [bench, "--port", str(port), "--json", js, "--quiet"] + extra
    print("$ " + " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=90)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    with open(js) as f:
        return p.returncode, json.load(f)


def counted_run(bench, port, client, outdir, name, extra, has_stats):
    """One run, with the server's command counters read before and after."""
    if has_stats:
        client.call("CONFIG", "RESETSTAT")
        t_a = int(info_fields(client, "stats")["total_commands_processed"])
        t_b = int(info_fields(client, "stats")["total_commands_processed"])
        info_cost = t_b - t_a  # what one INFO adds to the counter
    rc, res = run_bench(bench, port, outdir, name, extra)
    check(rc == 0, "%s: exit status 0 (got %d)" % (name, rc))
    check(res["errors"] == 0, "%s: 0 errors (got %d)" % (name, res["errors"]))
    cmds = res["commands"]
    total = cmds["ALL"]["count"]
    check(total == cmds["SET"]["count"] + cmds["GET"]["count"] + cmds["MGET"]["count"],
          "%s: ALL = SET + GET + MGET" % name)
    if has_stats:
        stats = info_fields(client, "commandstats")
        t_c = int(info_fields(client, "stats")["total_commands_processed"])
        set_calls = cmd_calls(stats, "set")
        want_set = cmds["SET"]["count"] + res["load_requests"]
        check(set_calls == want_set,
              "%s: server SET calls %d == bench SET %d + load %d"
              % (name, set_calls, cmds["SET"]["count"], res["load_requests"]))
        check(cmd_calls(stats, "get") == cmds["GET"]["count"],
              "%s: server GET calls %d == bench GET %d"
              % (name, cmd_calls(stats, "get"), cmds["GET"]["count"]))
        check(cmd_calls(stats, "mget") == cmds["MGET"]["count"],
              "%s: server MGET calls %d == bench MGET %d"
              % (name, cmd_calls(stats, "mget"), cmds["MGET"]["count"]))
        # t_b -> t_c covers the run, the INFO commandstats, and this INFO stats
        delta = t_c - t_b - 2 * info_cost
        want = total + res["load_requests"] + res["warmup_requests"]
        check(delta == want, "%s: total_commands_processed delta %d == bench requests %d"
              % (name, delta, want))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--redis-server", default=None)
    ap.add_argument("--memkv-server", default=None)
    a = ap.parse_args()

    memkv = a.memkv_server is not None
    server = a.memkv_server if memkv else shutil.which(a.redis_server or "redis-server")
    if not server or not os.path.exists(server):
        print("SKIP: no server binary")
        return 77
    port = free_port()
    work = tempfile.mkdtemp(prefix="bench-it-")
    if memkv:
        argv = [server, "--port", str(port)]
    else:
        argv = [server, "--port", str(port), "--save", "", "--appendonly", "no",
                "--bind", "127.0.0.1", "--dir", work]
    proc = subprocess.Popen(argv, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = wait_ready(port, proc)
        try:
            has_stats = "cmdstat_ping" in client.call("INFO", "commandstats") or not memkv
        except RuntimeError:
            has_stats = False
        if not has_stats:
            print("note: server has no INFO commandstats; checking bench-side counts only")

        # 1. RESP, SET:GET mix, pipeline 4, fixed request count
        res = counted_run(a.bench, port, client, work, "resp_mix",
                          ["--threads", "2", "--clients", "3", "--pipeline", "4",
                           "--requests", "2000", "--ratio", "1:3:0", "--keys", "500",
                           "--seed", "7"], has_stats)
        check(res["requests"] == 2 * 3 * 2000, "resp_mix: 12000 requests")
        check(res["mode"] == "closed", "resp_mix: closed loop")
        get = res["commands"]["GET"]
        check(get["hits"] + get["misses"] == get["count"], "resp_mix: GET hits + misses = count")

        # 2. load first, then a zipf mix with MGET: every key exists, so no misses
        res = counted_run(a.bench, port, client, work, "resp_load_mget",
                          ["--clients", "4", "--pipeline", "4", "--requests", "500",
                           "--ratio", "1:2:1", "--mget-keys", "5", "--keys", "2000", "--load",
                           "--key-pattern", "zipf", "--value-size", "8-64"], has_stats)
        check(res["load_requests"] == 2000, "resp_load_mget: loaded 2000 keys")
        mget = res["commands"]["MGET"]
        check(mget["keys"] == 5 * mget["count"], "resp_load_mget: MGET keys = 5 x count")
        check(res["commands"]["ALL"]["misses"] == 0, "resp_load_mget: no misses after --load")

        # 3. open loop, short duration: mode reported, rate roughly kept
        rc, res = run_bench(a.bench, port, work, "open",
                            ["--clients", "4", "--rate", "2000", "--duration", "1",
                             "--ratio", "1:1:0"])
        check(rc == 0 and res["errors"] == 0, "open: no errors")
        check(res["mode"] == "open", "open: mode open")
        check(1600 <= res["requests"] <= 2100, "open: about 2000 requests (%d)" % res["requests"])

        # 4. the original short form
        p = subprocess.run([a.bench, "--port", str(port), "-q", "5", "200"],
                           stdout=subprocess.PIPE, text=True, timeout=60)
        check(p.returncode == 0 and "1000 requests" in p.stdout, "short form: 5 x 200 SETs")

        # 5. plain-text protocol: only mem-kv speaks it
        if memkv:
            res = counted_run(a.bench, port, client, work, "plain",
                              ["--protocol", "plain", "--clients", "4", "--pipeline", "4",
                               "--requests", "500", "--ratio", "1:3:1", "--keys", "300"],
                              False)
        else:
            print("skip plain: redis-server does not speak the plain-text protocol")

        # 6. errors are counted and make the exit status non-zero
        rc, res = run_bench(a.bench, port, work, "errors",
                            ["--clients", "1", "--requests", "10", "--password", "wrong"])
        check(rc != 0 and res["errors"] > 0, "errors: a failed AUTH is an error, exit %d" % rc)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
