#!/usr/bin/python3
"""TLS (--tls-port): certificates made here with the openssl command (a CA, a
server certificate, a client certificate and a rogue self-signed one);
redis-cli --tls, redis-benchmark --tls, Python's ssl module with raw RESP,
redis-py with ssl=True and mem-kv-bench --tls against mem-kv, with the same
checks against a real redis-server started with the same TLS options;
client-certificate verification, plain text on the TLS port, a stalled
handshake, graceful close, bad certificate files, --port 0."""

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOOPBACK, RespConn, RespError, Server, Skip, encode, expect_eq,  # noqa: E402
                     info_fields, is_real_redis, parse_args, pick_port, Runner, short)


def extra(p):
    p.add_argument("--bench", help="mem-kv-bench binary (for its --tls run)")


args = parse_args(__doc__, extra)
R = Runner(args)
CLI = "/usr/bin/redis-cli"
BENCH = "/usr/bin/redis-benchmark"
HS_TIMEOUT_MS = 1500


# ---------------------------------------------------------------- certificates

def openssl(*argv, cwd):
    p = subprocess.run(["openssl"] + list(argv), cwd=cwd, capture_output=True, timeout=60)
    assert p.returncode == 0, "openssl %s: %s" % (" ".join(argv), p.stderr.decode()[-500:])


def make_certs(d):
    """ca.crt signs server.crt (localhost, 127.0.0.1) and client.crt;
    rogue.crt is self-signed. EC P-256 keys: fast to make."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=mem-kv test CA", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=mem-kv test " + name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", *ext, cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.crt", "-days", "2",
            "-subj", "/CN=rogue", cwd=d)
    return {n: os.path.join(d, n) for n in os.listdir(d)}


# ---------------------------------------------------------------- servers

class TlsServer(Server):
    """A server with a TLS port besides the plain one (the harness waits
    for PING on the plain port)."""

    def __init__(self, binary, kind, tls_args, extra_args=(), name=None):
        super().__init__(binary, kind, extra_args, name)
        self.tls_port = pick_port()
        self.tls_args = list(tls_args)

    def _command(self, port):
        return super()._command(port) + ["--tls-port", str(self.tls_port)] + self.tls_args


def tls_args(c, kind):
    a = ["--tls-cert-file", c["server.crt"], "--tls-key-file", c["server.key"],
         "--tls-ca-cert-file", c["ca.crt"], "--tls-auth-clients", "yes"]
    if kind == "memkv":
        a += ["--tls-handshake-timeout-ms", str(HS_TIMEOUT_MS)]
    return a


def setup(runner):
    d = tempfile.mkdtemp(prefix="memkv-tls-certs-")
    c = make_certs(d)
    if is_real_redis(args):
        srv = TlsServer(args.server if os.sep in args.server else "/usr/bin/redis-server",
                        "redis", tls_args(c, "redis"), name="server(redis)")
    else:
        srv = TlsServer(args.server, "memkv", tls_args(c, "memkv"), args.server_arg,
                        name="server(mem-kv)")
    runner.add_server(srv.start())
    ref = TlsServer(args.redis_server, "redis", tls_args(c, "redis"), name="reference(redis)")
    runner.add_server(ref.start())
    return {"srv": srv, "ref": ref, "c": c, "dir": d, "memkv": srv.kind == "memkv"}


# ---------------------------------------------------------------- clients

def client_ctx(c, cert="client", ca=True, max_version=None):
    x = ssl.create_default_context(cafile=c["ca.crt"] if ca else None)
    if cert:
        x.load_cert_chain(c[cert + ".crt"], c[cert + ".key"])
    if max_version:
        x.maximum_version = max_version
    return x


class TlsConn(RespConn):
    """RespConn over TLS (hostname 127.0.0.1 checked against the SAN)."""

    def __init__(self, port, ctx, timeout=10.0, ragged=True):
        raw = socket.create_connection((LOOPBACK, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=LOOPBACK,
                                        suppress_ragged_eofs=ragged)
        except BaseException:
            raw.close()
            raise
        self.buf = bytearray()
        self.pos = 0


def cli_opts(ctx, srv, cert=True):
    o = ["-h", LOOPBACK, "-p", str(srv.tls_port), "--tls", "--cacert", ctx["c"]["ca.crt"]]
    if cert:
        o += ["--cert", ctx["c"]["client.crt"], "--key", ctx["c"]["client.key"]]
    return o


def cli(ctx, srv, *argv, stdin=None, cert=True, check=True):
    cmd = [CLI] + cli_opts(ctx, srv, cert) + list(argv)
    p = subprocess.run(cmd, input=stdin, stdin=None if stdin else subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d: %r %r" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


def both(ctx):
    return (ctx["srv"], ctx["ref"])


def alive_check(ctx):
    """The server under test still answers over TLS and on the plain port."""
    with TlsConn(ctx["srv"].tls_port, client_ctx(ctx["c"])) as t:
        expect_eq(t.call("PING"), "PONG", "PING over TLS")
    with RespConn(ctx["srv"].port) as p:
        expect_eq(p.call("PING"), "PONG", "PING on the plain port")


def tls_info(ctx):
    with RespConn(ctx["srv"].port) as p:
        return info_fields(p.call("INFO", "stats"))


def rejected(port, cctx):
    """Tries PING over TLS with cctx; returns None if it was answered, else
    why it was not (handshake error, error on read, connection closed)."""
    try:
        with TlsConn(port, cctx, timeout=5.0) as t:
            t.send(encode("PING"))
            r = t.read_reply()
            return None if r == "PONG" else "reply %r" % (r,)
    except (ssl.SSLError, OSError, Exception) as e:
        return "%s: %s" % (type(e).__name__, e)


# ---------------------------------------------------------------- tests

@R.test
def cli_commands(ctx):
    outs = []
    for srv in both(ctx):
        o = []
        for argv in (["PING"], ["SET", "tls:k", "v1"], ["GET", "tls:k"],
                     ["MGET", "tls:k", "tls:none", "tls:k"], ["INCR", "tls:n"],
                     ["GET", "tls:none"], ["APPEND", "tls:k", "-more"], ["GET", "tls:k"]):
            p = cli(ctx, srv, *argv)
            o.append(p.stdout)
        outs.append(o)
    expect_eq(outs[0], outs[1], "redis-cli --tls output (mem-kv vs redis)")
    expect_eq(outs[0][3], b"v1\n\nv1\n", "MGET output")


@R.test
def cli_pipelined_stdin(ctx):
    lines = "".join("SET tls:p:%d v%d\nGET tls:p:%d\n" % (i, i, i) for i in range(300))
    lines += "MGET tls:p:0 tls:p:299 tls:nope\nDEL tls:p:0 tls:p:1\n"
    outs = [cli(ctx, srv, stdin=lines.encode()).stdout for srv in both(ctx)]
    expect_eq(outs[0], outs[1], "redis-cli --tls with commands on stdin (mem-kv vs redis)")
    assert outs[0].count(b"OK\n") == 300, short(outs[0])
    proto = b"".join(encode("SET", "tls:pipe:%d" % i, "x" * (i % 50)) for i in range(2000))
    for srv in both(ctx):
        p = cli(ctx, srv, "--pipe", stdin=proto)
        assert b"errors: 0, replies: 2000" in p.stdout, (srv.name, p.stdout, p.stderr)


@R.test
def raw_resp_pipelined(ctx):
    cmds = [("PING",), ("ECHO", "hello"), ("SET", "tls:r", "abc"), ("GET", "tls:r"),
            ("MGET", "tls:r", "tls:nope"), ("INCR", "tls:r"), ("INCR", "tls:ctr"),
            ("DEL", "tls:r", "tls:nope"), ("EXISTS", "tls:r"), ("GET",), ("STRLEN", "tls:ctr")]
    data = b"".join(encode(*cmd) for cmd in cmds)
    raw = []
    for srv in both(ctx):
        with RespConn(srv.port) as p:
            p.call("DEL", "tls:ctr")
        with TlsConn(srv.tls_port, client_ctx(ctx["c"])) as t:
            t.send(data)  # one write: every command in one TLS record
            raw.append([t.read_reply(raw=True)[1] for _ in cmds])
    expect_eq(raw[0], raw[1], "raw replies over TLS (mem-kv vs redis)")
    # byte at a time: each byte its own TLS record
    with TlsConn(ctx["srv"].tls_port, client_ctx(ctx["c"])) as t:
        for b in encode("SET", "tls:bytes", "one-by-one"):
            t.send(bytes([b]))
        expect_eq(t.read_reply(), "OK", "SET sent a byte per record")
        expect_eq(t.call("GET", "tls:bytes"), b"one-by-one", "GET")


@R.test
def big_values(ctx):
    big = os.urandom(3 << 20)
    mid = os.urandom(64 << 10)
    for srv in both(ctx):
        with TlsConn(srv.tls_port, client_ctx(ctx["c"]), timeout=30) as t:
            expect_eq(t.call("SET", "tls:big", big), "OK", "SET 3 MB")
            expect_eq(t.call("GET", "tls:big") == big, True, "GET 3 MB back intact")
            expect_eq(t.call("SET", "tls:mid", mid), "OK", "SET 64 KB")
            # 12.8 MB of replies to one small write: partial TLS writes
            t.send(b"".join(encode("GET", "tls:mid") for _ in range(200)))
            got = [t.read_reply() for _ in range(200)]
            expect_eq(sum(1 for g in got if g == mid), 200, "200 pipelined GETs of 64 KB")


@R.test
def redis_py_ssl(ctx):
    try:
        import redis
    except ImportError:
        raise Skip("no redis module in this python")
    c = ctx["c"]
    for srv in both(ctx):
        r = redis.Redis(host=LOOPBACK, port=srv.tls_port, ssl=True, ssl_ca_certs=c["ca.crt"],
                        ssl_certfile=c["client.crt"], ssl_keyfile=c["client.key"],
                        socket_timeout=30)
        try:
            expect_eq(r.ping(), True, "redis-py PING")
            expect_eq(r.set("tls:py", "v"), True, "redis-py SET")
            expect_eq(r.mget("tls:py", "tls:nope"), [b"v", None], "redis-py MGET")
            p = r.pipeline(transaction=False)
            for i in range(100):
                p.incr("tls:pyctr")
            res = p.execute()
            expect_eq(res[-1] - res[0], 99, "redis-py pipeline of INCRs")
        finally:
            r.close()


@R.test
def redis_benchmark_tls(ctx):
    c = ctx["c"]
    for srv in both(ctx):
        cmd = [BENCH, "-h", LOOPBACK, "-p", str(srv.tls_port), "--tls", "--cacert", c["ca.crt"],
               "--cert", c["client.crt"], "--key", c["client.key"], "-n", "4000", "-c", "8",
               "-t", "set,get", "-P", "8", "-q"]
        p = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        text = p.stdout.decode("utf-8", "replace")
        expect_eq(p.returncode, 0, "redis-benchmark --tls exit code (%s)" % srv.name)
        for t in ("SET", "GET"):
            assert "%s: " % t in text and "requests per second" in text, (srv.name, text[-500:])
        assert "rror" not in text + p.stderr.decode(), (srv.name, text[-500:], p.stderr)
    alive_check(ctx)


@R.test
def mem_kv_bench_tls(ctx):
    if not args.bench:
        raise Skip("no --bench")
    c = ctx["c"]
    cmd = [args.bench, "-h", LOOPBACK, "-p", str(ctx["srv"].tls_port), "--tls",
           "--tls-ca-cert-file", c["ca.crt"], "--tls-cert-file", c["client.crt"],
           "--tls-key-file", c["client.key"], "--clients", "4", "--requests", "2000",
           "--pipeline", "4", "--ratio", "1:3:0", "--keys", "1000", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    text = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    expect_eq(p.returncode, 0, "mem-kv-bench --tls exit code: " + text[-800:])
    assert "8000 requests in" in text and ", 0 errors" in text, text[-800:]
    base = cmd[:6]  # bench -h 127.0.0.1 -p PORT --tls
    cert = ["--tls-cert-file", c["client.crt"], "--tls-key-file", c["client.key"]]
    small = ["--clients", "2", "--requests", "200", "--quiet"]
    # without the CA the server's certificate does not verify; --insecure skips that
    p = subprocess.run(base + ["--insecure"] + cert + small, capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    expect_eq(p.returncode, 0, "mem-kv-bench --tls --insecure: %r" % p.stderr[-400:])
    p = subprocess.run(base + cert + small, capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0 and "TLS handshake:" in err and "certificate" in err, \
        "mem-kv-bench --tls without the CA: exit %d, %r" % (p.returncode, err[-400:])
    # the server requires a client certificate
    p = subprocess.run(base + ["--tls-ca-cert-file", c["ca.crt"]] + small, capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode != 0, "mem-kv-bench without a client certificate was served"


@R.test
def client_certificate_required(ctx):
    c = ctx["c"]
    before = tls_info(ctx) if ctx["memkv"] else {}
    for srv in both(ctx):
        why = rejected(srv.tls_port, client_ctx(c, cert=None))
        assert why, "%s answered a client without a certificate" % srv.name
        why = rejected(srv.tls_port, client_ctx(c, cert="rogue"))
        assert why, "%s answered a client with an untrusted certificate" % srv.name
        assert rejected(srv.tls_port, client_ctx(c)) is None, "good certificate refused"
        p = cli(ctx, srv, "PING", cert=False, check=False)
        assert b"PONG" not in p.stdout, (srv.name, p.stdout)
    if ctx["memkv"]:
        after = tls_info(ctx)
        n = int(after["tls_handshake_errors"]) - int(before["tls_handshake_errors"])
        assert n >= 3, "handshake errors counted: %d (%r)" % (n, after)
    alive_check(ctx)


@R.test
def plain_text_on_tls_port(ctx):
    for srv in both(ctx):
        for data in (encode("PING"), b"PING\r\n", b"\x00" * 64 + b"\r\n" * 10):
            with RespConn(srv.tls_port, timeout=5) as p:
                p.send(data)
                got, closed = p.read_until_closed(timeout=5)
                assert closed, "%s kept a plain-text client open on the TLS port" % srv.name
                assert b"PONG" not in got, got
    alive_check(ctx)


@R.test
def stalled_handshake_dropped(ctx):
    if not ctx["memkv"]:
        raise Skip("--tls-handshake-timeout-ms is mem-kv's")
    before = tls_info(ctx)
    socks = []
    for data in (b"", b"\x16\x03\x01\x02\x00", b"\x16"):  # nothing, a record header, a byte
        s = socket.create_connection((LOOPBACK, ctx["srv"].tls_port), timeout=10)
        if data:
            s.sendall(data)
        socks.append(s)
    t0 = time.monotonic()
    alive_check(ctx)  # others are served meanwhile
    for s in socks:
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        waited = time.monotonic() - t0
        expect_eq(got, b"", "bytes from the server to a stalled handshake")
        s.close()
    assert HS_TIMEOUT_MS / 1000 * 0.8 <= waited <= HS_TIMEOUT_MS / 1000 + 5, \
        "stalled handshakes closed after %.2f s (timeout %d ms)" % (waited, HS_TIMEOUT_MS)
    after = tls_info(ctx)
    n = int(after["tls_handshake_timeouts"]) - int(before["tls_handshake_timeouts"])
    assert n >= 3, "handshake timeouts counted: %d" % n
    # a slow but progressing client within the timeout is served
    with TlsConn(ctx["srv"].tls_port, client_ctx(ctx["c"])) as t:
        time.sleep(HS_TIMEOUT_MS / 1000 * 1.3)  # after the handshake the timer is off
        expect_eq(t.call("PING"), "PONG", "PING after the handshake timeout span")


@R.test
def graceful_close(ctx):
    strict = client_ctx(ctx["c"])
    strict.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF  # Python sets it: EOF would pass as close
    for srv in both(ctx):
        with TlsConn(srv.tls_port, strict, ragged=False) as t:
            expect_eq(t.call("QUIT"), "OK", "QUIT")
            try:
                rest = t.sock.recv(100)
            except ssl.SSLError as e:
                raise AssertionError("%s closed without close_notify: %s" % (srv.name, e))
            expect_eq(rest, b"", "after QUIT (close_notify)")
    # many connections opened and dropped at once, mid-handshake and after
    for i in range(40):
        s = socket.create_connection((LOOPBACK, ctx["srv"].tls_port))
        if i % 2:
            s.sendall(b"\x16\x03\x01\x00\x05hello")
        s.close()
    conns = [TlsConn(ctx["srv"].tls_port, client_ctx(ctx["c"])) for _ in range(20)]
    for t in conns:
        t.send(encode("GET", "tls:big"))  # 3 MB reply, never read
    for t in conns:
        t.sock.close()
    alive_check(ctx)


@R.test
def key_update_mid_session(ctx):
    """TLS 1.3 KeyUpdate from the client (openssl s_client's K: the server
    must answer with its own; k: it need not) between commands."""
    c = ctx["c"]
    script = [b"SET tls:ku 1\r\n", b"K\n", b"INCR tls:ku\r\n", b"k\n", b"INCR tls:ku\r\n"]
    for srv in both(ctx):
        p = subprocess.Popen(["openssl", "s_client", "-connect", "%s:%d" % (LOOPBACK, srv.tls_port),
                              "-CAfile", c["ca.crt"], "-cert", c["client.crt"], "-key",
                              c["client.key"], "-tls1_3"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        for line in script:
            p.stdin.write(line)
            p.stdin.flush()
            time.sleep(0.3)
        out, _ = p.communicate(timeout=20)
        lines = [ln.strip() for ln in out.decode("utf-8", "replace").splitlines()]
        # (s_client may print +OK right after its session-ticket dump, on one line)
        got = [t for ln in lines for t in ("+OK", ":2", ":3", "KEYUPDATE")
               if ln == t or (t == "+OK" and ln.endswith(t))]
        # (two stdin lines read at once make s_client skip a K: at least one)
        replies = [t for t in got if t != "KEYUPDATE"]
        expect_eq(replies, ["+OK", ":2", ":3"], "replies around KeyUpdates (%s)" % srv.name)
        # (s_client prints KEYUPDATE when it reads K; under load that can come
        # before the first reply is printed, so only its presence is checked:
        # the replies after it prove the session survived the key update)
        assert "KEYUPDATE" in got, (srv.name, got)


@R.test
def concurrent_tls_clients(ctx):
    errs = []

    def worker(n):
        try:
            with TlsConn(ctx["srv"].tls_port, client_ctx(ctx["c"])) as t:
                for i in range(200):
                    k = "tls:cc:%d:%d" % (n, i)
                    t.send(encode("SET", k, str(i)) + encode("GET", k))
                    expect_eq(t.read_reply(), "OK", "SET")
                    expect_eq(t.read_reply(), str(i).encode(), "GET")
        except Exception as e:  # reported below
            errs.append(repr(e))
    th = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for x in th:
        x.start()
    for x in th:
        x.join(60)
    assert not errs, errs[:3]


# ---------------------------------------------------------------- start-up

def run_server(argv, timeout=10):
    return subprocess.run([args.server] + argv, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@R.test
def bad_tls_settings_exit_2(ctx):
    if not ctx["memkv"]:
        raise Skip("mem-kv's start-up checks")
    c = ctx["c"]
    port = str(pick_port())
    base = ["--persistence", "off", "--port", "0", "--tls-port", port]
    cases = [
        (["--tls-cert-file", c["server.crt"] + ".missing", "--tls-key-file", c["server.key"],
          "--tls-auth-clients", "no"], "server.crt.missing"),
        (["--tls-cert-file", c["server.key"], "--tls-key-file", c["server.key"],
          "--tls-auth-clients", "no"], "certificate"),
        (["--tls-cert-file", c["server.crt"], "--tls-key-file", c["client.key"],
          "--tls-auth-clients", "no"], "mismatch"),
        (["--tls-cert-file", c["server.crt"], "--tls-key-file", c["server.key"]],
         "tls-ca-cert-file"),
        (["--tls-cert-file", c["server.crt"], "--tls-key-file", c["server.key"],
          "--tls-ca-cert-file", c["san.ext"]], "CA certificate"),
        (["--tls-cert-file", c["server.crt"], "--tls-key-file", c["server.key"],
          "--tls-auth-clients", "no", "--tls-protocols", "SSLv3"], "tls-protocols"),
        (["--tls-key-file", c["server.key"], "--tls-auth-clients", "no"], "--tls-cert-file"),
    ]
    for extra_argv, want in cases:
        p = run_server(base + extra_argv)
        err = p.stderr.decode("utf-8", "replace")
        expect_eq(p.returncode, 2, "exit code for %s (%s)" % (extra_argv, err.strip()))
        assert want in err, "message %r lacks %r" % (err, want)
    p = run_server(["--port", "0", "--persistence", "off"])
    expect_eq(p.returncode, 2, "--port 0 without --tls-port")


@R.test
def tls_only_port0_and_protocols(ctx):
    if not ctx["memkv"]:
        raise Skip("mem-kv's --port 0")
    c = ctx["c"]
    port = pick_port()
    log = open(os.path.join(ctx["dir"], "port0.log"), "wb")
    proc = subprocess.Popen([args.server, "--persistence", "off", "--port", "0", "--bind",
                             LOOPBACK, "--tls-port", str(port), "--tls-cert-file",
                             c["server.crt"], "--tls-key-file", c["server.key"],
                             "--tls-auth-clients", "no", "--tls-protocols", "TLSv1.3",
                             "--maxclients", "3"] +
                            args.server_arg, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with TlsConn(port, client_ctx(c, cert=None)) as t:
                    expect_eq(t.call("PING"), "PONG", "PING without a client certificate")
                    expect_eq(t.sock.version(), "TLSv1.3", "protocol")
                break
            except (OSError, ssl.SSLError):
                assert proc.poll() is None and time.monotonic() < deadline, "no TLS server"
                time.sleep(0.1)
        why = rejected(port, client_ctx(c, cert=None, max_version=ssl.TLSVersion.TLSv1_2))
        assert why, "a TLSv1.2 client was served with --tls-protocols TLSv1.3"
        # --tls-auth-clients no: a certificate, even an untrusted one, is not asked for
        assert rejected(port, client_ctx(c, cert="rogue")) is None
        # --maxclients 3 on the TLS port: the 4th is closed, with no plain-text error
        held = [TlsConn(port, client_ctx(c, cert=None)) for _ in range(3)]
        for t in held:
            expect_eq(t.call("PING"), "PONG", "PING within maxclients")
        with RespConn(port, timeout=5) as p:
            got, closed = p.read_until_closed(timeout=5)
            assert closed and got == b"", "4th connection: closed=%s, got %r" % (closed, got)
        held.pop().close()
        deadline = time.monotonic() + 5  # the server sees the close a moment later
        while True:
            why = rejected(port, client_ctx(c, cert=None))
            if why is None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert why is None, "no room after a close: %s" % why
        for t in held:
            t.close()
    finally:
        proc.terminate()
        rc = proc.wait(15)
        log.close()
    expect_eq(rc, 0, "exit code after SIGTERM")


sys.exit(R.run(setup=setup))
