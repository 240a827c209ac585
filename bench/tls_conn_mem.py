#!/usr/bin/python3
"""Memory per idle connection, plain and TLS, for mem-kv and redis-server.

Makes a throw-away CA and server certificate with the openssl command,
starts each server with a plain and a TLS port (--tls-auth-clients no),
opens N connections (each sends one PING and reads PONG, then stays idle)
and reports the server's RSS growth per connection (VmRSS from
/proc/PID/status, after a short settle). Not part of ctest.

usage: bench/tls_conn_mem.py [-n 2000] [--memkv build/mem-kv-server]
                             [--redis /usr/bin/redis-server]
"""
import argparse
import os
import resource
import socket
import ssl
import subprocess
import tempfile
import time

import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def certs(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(["openssl"] + list(a), cwd=d, check=True,  # noqa: E731
                                    capture_output=True)
    run("req", "-x509", *ec, "-keyout", "k.pem", "-out", "c.pem", "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1")
    return os.path.join(d, "c.pem"), os.path.join(d, "k.pem")


def ping(s):
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    got = b""
    while not got.endswith(b"\r\n"):
        chunk = s.recv(64)
        if not chunk:
            raise OSError("closed")
        got += chunk


def connect(port, ctx):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1") if ctx else s


def measure(pid, port, ctx, n):
    first = connect(port, ctx)
    ping(first)
    time.sleep(0.3)
    before = rss_kb(pid)
    conns = []
    for _ in range(n):
        c = connect(port, ctx)
        ping(c)
        conns.append(c)
    time.sleep(1.0)
    after = rss_kb(pid)
    for c in conns + [first]:
        c.close()
    return (after - before) * 1024.0 / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--memkv", default="build/mem-kv-server")
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    a = ap.parse_args()
    lim = max(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 4 * a.n + 100)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))
    d = tempfile.mkdtemp(prefix="tls-conn-mem-")
    cert, key = certs(d)
    ctx = ssl.create_default_context(cafile=cert)
    tls = ["--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no"]
    servers = [("mem-kv", [a.memkv, "--persistence", "off", "--loglevel", "warning",
                           "--maxclients", str(4 * a.n)]),
               ("Redis", [a.redis, "--save", "", "--appendonly", "no", "--dir", d,
                          "--maxclients", str(4 * a.n)])]
    print("| server | plain B/conn | TLS B/conn |")
    print("| --- | ---: | ---: |")
    for name, cmd in servers:
        port, tport = free_port(), free_port()
        p = subprocess.Popen(cmd + ["--port", str(port), "--tls-port", str(tport)] + tls,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    ping(connect(port, None))
                    break
                except OSError:
                    time.sleep(0.1)
            plain = measure(p.pid, port, None, a.n)
            over_tls = measure(p.pid, tport, ctx, a.n)
            print("| %s | %.0f | %.0f |" % (name, plain, over_tls))
        finally:
            p.terminate()
            p.wait()
    print("\n%d idle connections each (one PING each), RSS growth / connections" % a.n)


main()
