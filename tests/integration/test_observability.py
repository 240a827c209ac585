#!/usr/bin/python3
"""Observability: STATS JSON fields, INFO sections (commandstats,
latencystats), CONFIG RESETSTAT, the Prometheus page on --metrics-port
(checked with promtool when installed, and always with a small parser of the
text format), HTTP robustness of that port, and mem-kv-bench's counts
against the server's STATS deltas per command."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Server, Skip, info_fields, is_real_redis, parse_args,  # noqa: E402
                     pick_port, Runner)


def extra(p):
    p.add_argument("--bench", default=None, help="mem-kv-bench binary")


args = parse_args(__doc__, extra)
R = Runner(args)
PCTS = ["p50", "p95", "p99", "p99.9", "max"]


def stats(c):
    raw = c.call("STATS")
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def memkv_only():
    if is_real_redis(args):
        raise Skip("mem-kv only")


@R.test
def stats_json_fields(ctx):
    memkv_only()
    with RespConn(ctx["srv"].port) as c:
        c.call("SET", "k1", "v")
        c.call("SET", "k2", "v", "EX", "100")
        c.call("GET", "k1")
        c.call("GET", "nope")
        c.call("MGET", "k1", "k2", "x")
        s = stats(c)
    for f in ["keys", "expires", "commands_processed", "hits", "misses", "hit_rate", "expired",
              "evicted", "connections", "total_connections", "used_memory", "used_memory_rss",
              "used_memory_dataset", "uptime_seconds", "shards", "actor_threads", "io_threads",
              "latency_us", "command_stats", "shard_keys", "shard_expires", "batches"]:
        assert f in s, "STATS has no %r: %s" % (f, sorted(s))
    assert s["keys"] >= 2 and s["expires"] >= 1, s
    assert len(s["shard_keys"]) == s["shards"] == len(s["shard_expires"])
    assert sum(s["shard_keys"]) == s["keys"] and sum(s["shard_expires"]) == s["expires"]
    for p in PCTS + ["count", "mean"]:
        assert p in s["latency_us"], s["latency_us"]
    lat = s["latency_us"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], lat
    for cmd in ["set", "get", "mget"]:
        cs = s["command_stats"][cmd]
        assert cs["calls"] >= 1 and cs["latency_us"]["count"] == cs["calls"], cs
        for p in PCTS:
            assert cs["latency_us"][p] > 0, cs
    b = s["batches"]
    for f in ["count", "requests", "mean_size", "max_size", "mailbox_batches", "service_us"]:
        assert f in b, b
    assert b["count"] >= 1 and b["max_size"] >= 1 and b["mean_size"] >= 1, b
    assert 0 <= s["hit_rate"] <= 1


@R.test
def info_sections(ctx):
    with RespConn(ctx["srv"].port) as c:
        c.call("SET", "a", "1")
        c.call("GET", "a")
        c.call("SET", "s", "x")
        try:
            c.call("INCR", "s")
        except Exception:
            pass
        default = c.call("INFO").decode()
        heads = re.findall(r"^# (\w+)", default, re.M)
        for sec in ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                    "Keyspace"]:
            assert sec in heads, "INFO has no %s section: %s" % (sec, heads)
        assert "Commandstats" not in heads and "Latencystats" not in heads, heads
        f = info_fields(default)
        for k in ["redis_version", "uptime_in_seconds", "connected_clients", "used_memory",
                  "used_memory_rss", "total_commands_processed", "total_connections_received",
                  "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys"]:
            assert k in f, "INFO has no %s" % k
        assert re.search(r"^db0:keys=\d+,expires=\d+,avg_ttl=\d+\r?$", default, re.M), default
        every = c.call("INFO", "everything").decode()
        heads = re.findall(r"^# (\w+)", every, re.M)
        assert "Commandstats" in heads and "Latencystats" in heads, heads
        cs = c.call("INFO", "commandstats").decode()
        m = re.search(r"^cmdstat_get:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+),"
                      r"rejected_calls=(\d+),failed_calls=(\d+)\r?$", cs, re.M)
        assert m and int(m.group(1)) >= 1, cs
        m = re.search(r"^cmdstat_incr:calls=(\d+),.*failed_calls=(\d+)\r?$", cs, re.M)
        assert m and int(m.group(2)) >= 1, cs
        ls = c.call("INFO", "latencystats").decode()
        assert re.search(r"^latency_percentiles_usec_get:p50=[\d.]+,p99=[\d.]+,p99\.9=[\d.]+\r?$",
                         ls, re.M), ls


@R.test
def commands_counted_once(ctx):
    """N commands raise total_commands_processed by exactly N, and each
    command's calls by its count, however many shards a command touches
    (MSET/MGET/EXISTS/DEL over keys on every shard, DBSIZE) or runs inside
    (MULTI/EXEC's queued commands): counted once per command, as Redis
    counts them. (Not checked: Redis also counts the commands a script
    runs with redis.call, mem-kv counts only the EVAL.)"""
    keys = ["cnt:%d" % i for i in range(40)]

    def calls(cs, name):
        m = re.search(r"^cmdstat_%s:calls=(\d+)," % name, cs, re.M)
        return int(m.group(1)) if m else 0

    with RespConn(ctx["srv"].port) as c:
        cs0 = c.call("INFO", "commandstats").decode()
        before = info_fields(c.call("INFO", "stats"))  # itself counted in `after`
        sent = [("MSET",) + tuple(x for k in keys for x in (k, "v")),
                ("MGET",) + tuple(keys), ("EXISTS",) + tuple(keys), ("GET", keys[0]),
                ("INCR", "cnt:n"), ("HSET", "cnt:h", "f", "1"), ("DBSIZE",),
                ("DEL",) + tuple(keys)]
        for cmd in sent:
            c.call(*cmd)
        assert c.call("MULTI") == "OK"
        c.call("SET", "cnt:m", "1")
        c.call("INCR", "cnt:m")
        assert len(c.call("EXEC")) == 2
        after = info_fields(c.call("INFO", "stats"))
        cs1 = c.call("INFO", "commandstats").decode()
    # the commands sent, MULTI + 2 + EXEC, and the first INFO stats
    want = len(sent) + 4 + 1
    delta = int(after["total_commands_processed"]) - int(before["total_commands_processed"])
    assert delta == want, "total_commands_processed delta %d, want %d" % (delta, want)
    for name, n in [("mset", 1), ("mget", 1), ("exists", 1), ("del", 1), ("dbsize", 1),
                    ("hset", 1), ("multi", 1), ("exec", 1), ("get", 1), ("set", 1),
                    ("incr", 2)]:
        got = calls(cs1, name) - calls(cs0, name)
        assert got == n, "cmdstat_%s: %d calls, want %d\n%s" % (name, got, n, cs1)


@R.test
def resetstat_zeroes(ctx):
    with RespConn(ctx["srv"].port) as c:
        for i in range(50):
            c.call("SET", "r%d" % i, "v")
            c.call("GET", "r%d" % i)
        c.call("GET", "missing")
        assert c.call("CONFIG", "RESETSTAT") == "OK"
        st = info_fields(c.call("INFO", "stats"))
        assert int(st["keyspace_hits"]) == 0 and int(st["keyspace_misses"]) == 0, st
        assert int(st["total_commands_processed"]) <= 2, st
        cs = c.call("INFO", "commandstats").decode()
        assert "cmdstat_get" not in cs and "cmdstat_set" not in cs, cs
        if not is_real_redis(args):
            s = stats(c)
            assert s["hits"] == 0 and s["misses"] == 0, s
            assert "get" not in s["command_stats"] and "set" not in s["command_stats"], s
            assert s["keys"] >= 50, "RESETSTAT must not touch the keys"
        c.call("GET", "r1")
        cs = c.call("INFO", "commandstats").decode()
        assert re.search(r"^cmdstat_get:calls=1,", cs, re.M), cs


# ---------------------------------------------------------------- /metrics

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$')
LABEL = re.compile(r'^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$')


def parse_prometheus(text):
    """A strict parser of the text format 0.0.4 as mem-kv writes it: HELP and
    TYPE before each family, samples of declared families, counters end in
    _total, histogram buckets cumulative and ending in +Inf == _count."""
    types, samples = {}, []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            assert typ in ("counter", "gauge", "histogram"), line
            assert name not in types, "family declared twice: " + name
            types[name] = typ
            continue
        assert not line.startswith("#"), "stray comment: " + line
        m = SAMPLE.match(line)
        assert m, "bad sample line: %r" % line
        labels = {}
        if m.group(3):
            for part in m.group(3).split(","):
                lm = LABEL.match(part)
                assert lm, "bad label in %r" % line
                labels[lm.group(1)] = lm.group(2)
        samples.append((m.group(1), labels, float(m.group(4))))
    for name, labels, value in samples:
        fam = name
        if fam not in types:
            fam = re.sub(r"_(bucket|sum|count)$", "", name)
            assert types.get(fam) == "histogram", "sample of undeclared family: " + name
        if types[fam] == "counter":
            assert fam.endswith("_total"), "counter without _total: " + fam
            assert value >= 0
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        series = {}
        for name, labels, value in samples:
            if name == fam + "_bucket":
                key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                series.setdefault(key, []).append((labels["le"], value))
        for key, buckets in series.items():
            assert buckets[-1][0] == "+Inf", (fam, key)
            vals = [v for _, v in buckets]
            assert vals == sorted(vals), "%s%s buckets not cumulative" % (fam, key)
            count = [v for n, lb, v in samples if n == fam + "_count" and
                     tuple(sorted(lb.items())) == key]
            assert count == [vals[-1]], "%s%s: +Inf %s != _count %s" % (fam, key, vals[-1], count)
    return types, samples


def http(port, raw, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    finally:
        s.close()


def get_metrics(port):
    resp = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"text/plain; version=0.0.4" in head, head
    m = re.search(rb"Content-Length: (\d+)", head)
    assert m and int(m.group(1)) == len(body), head
    return body.decode()


@R.test
def metrics_page(ctx):
    memkv_only()
    mport = ctx["mport"]
    with RespConn(ctx["srv"].port) as c:
        for i in range(20):
            c.call("SET", "m%d" % i, "v")
            c.call("GET", "m%d" % i)
    time.sleep(0.3)  # the actors publish shard figures at each expiry tick
    text = get_metrics(mport)
    types, samples = parse_prometheus(text)
    for fam, typ in [("memkv_commands_processed_total", "counter"),
                     ("memkv_connected_clients", "gauge"),
                     ("memkv_keys", "gauge"),
                     ("memkv_keyspace_hits_total", "counter"),
                     ("memkv_command_calls_total", "counter"),
                     ("memkv_command_latency_seconds", "histogram"),
                     ("memkv_actor_batch_seconds", "histogram"),
                     ("memkv_resident_memory_bytes", "gauge"),
                     ("memkv_uptime_seconds", "gauge"),
                     # issue 16: memory, WAL failures, CPU, build, expiry and
                     # eviction time, rejected and unknown commands
                     ("memkv_memory_used_bytes", "gauge"),
                     ("memkv_memory_max_bytes", "gauge"),
                     ("memkv_wal_failing_shards", "gauge"),
                     ("memkv_wal_failures_total", "counter"),
                     ("memkv_wal_broken_shards", "gauge"),
                     ("memkv_wal_fsyncs_total", "counter"),
                     ("memkv_wal_fsync_seconds_total", "counter"),
                     ("memkv_cpu_user_seconds_total", "counter"),
                     ("memkv_cpu_system_seconds_total", "counter"),
                     ("memkv_thread_cpu_seconds_total", "counter"),
                     ("memkv_build_info", "gauge"),
                     ("memkv_expire_cycle_seconds_total", "counter"),
                     ("memkv_eviction_seconds_total", "counter"),
                     ("memkv_unknown_commands_total", "counter"),
                     ("memkv_rejected_commands_total", "counter")]:
        assert types.get(fam) == typ, "%s: %s" % (fam, types.get(fam))
    value = {n: v for n, lb, v in samples if not lb}
    assert value["memkv_memory_used_bytes"] > 0 and value["memkv_memory_max_bytes"] == 0, value
    assert value["memkv_cpu_user_seconds_total"] + value["memkv_cpu_system_seconds_total"] > 0
    threads = {lb["thread"] for n, lb, v in samples if n == "memkv_thread_cpu_seconds_total"}
    with RespConn(ctx["srv"].port) as c:
        hosted = int(info_fields(c.call("INFO", "server").decode()).get("hosted_threads", 0))
    # hosted actors (--threads, the default on <= 2 CPUs) run on net-N
    assert {"main", "net-0"} | (set() if hosted else {"actor-0"}) <= threads, threads
    build = [lb for n, lb, v in samples if n == "memkv_build_info"]
    assert len(build) == 1 and build[0]["version"] and build[0]["allocator"], build
    calls = {lb["cmd"]: v for n, lb, v in samples if n == "memkv_command_calls_total"}
    assert calls.get("get", 0) >= 20 and calls.get("set", 0) >= 20, calls
    keys = sum(v for n, lb, v in samples if n == "memkv_keys")
    assert keys >= 20, keys
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        out = (p.stdout + p.stderr).decode()
        assert p.returncode == 0, "promtool check metrics failed:\n" + out
        print("  promtool check metrics: ok" + (" (%s)" % out.strip() if out.strip() else ""))
    else:
        print("  note: promtool not installed; checked with the built-in parser only")


@R.test
def grafana_dashboard(ctx):
    """deploy/grafana-mem-kv.json reads only families the page has."""
    memkv_only()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                        "grafana-mem-kv.json")
    with open(path) as f:
        dash = json.load(f)
    types, _ = parse_prometheus(get_metrics(ctx["mport"]))
    used = set()
    for panel in dash["panels"]:
        for t in panel["targets"]:
            used |= set(re.findall(r"\b(memkv_[a-z_]+?)(?:_bucket)?\b", t["expr"]))
    missing = sorted(n for n in used if n not in types)
    assert used and not missing, "the dashboard reads series the page lacks: %s" % missing


# What a Redis dashboard reads from prometheus-redis-exporter (the Grafana
# "Redis Dashboard for Prometheus Redis Exporter" panels): memory, CPU,
# commands, errors, clients, keyspace, persistence.
EXPORTER_FAMILIES = [
    "redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes",
    "redis_cpu_sys_seconds_total", "redis_cpu_user_seconds_total",
    "redis_cpu_sys_main_thread_seconds_total", "redis_cpu_user_main_thread_seconds_total",
    "redis_commands_total", "redis_commands_duration_seconds_total",
    "redis_commands_processed_total", "redis_errors_total", "redis_connected_clients",
    "redis_db_keys", "redis_db_keys_expiring", "redis_db_avg_ttl_seconds",
    "redis_keyspace_hits_total", "redis_keyspace_misses_total", "redis_evicted_keys_total",
    "redis_expired_keys_total", "redis_aof_enabled", "redis_aof_last_write_status",
    "redis_rdb_changes_since_last_save", "redis_uptime_in_seconds",
]


@R.test
def redis_exporter(ctx):
    """prometheus-redis-exporter pointed at the server gives the families a
    Redis dashboard uses, with real values."""
    exe = shutil.which("prometheus-redis-exporter") or shutil.which("redis_exporter")
    if exe is None:
        raise Skip("prometheus-redis-exporter not installed (Debian package "
                   "prometheus-redis-exporter, scripts/deps.sh)")
    port = ctx["srv"].port
    with RespConn(port) as c:
        c.call("SET", "exp:a", "1", "EX", "100")
        c.call("GET", "exp:a")
        c.call("SET", "exp:nonint", "x")
        c.call("INCR", "exp:nonint")  # an error reply: errorstats
    wport = pick_port()
    log = tempfile.TemporaryFile()
    p = subprocess.Popen([exe, "-redis.addr", "redis://127.0.0.1:%d" % port,
                          "-web.listen-address", "127.0.0.1:%d" % wport],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        text, deadline = None, time.time() + 10
        while time.time() < deadline:
            try:
                resp = http(wport, b"GET /metrics HTTP/1.0\r\n\r\n")
                if resp.startswith(b"HTTP/1.1 200") or resp.startswith(b"HTTP/1.0 200"):
                    text = resp.partition(b"\r\n\r\n")[2].decode()
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert text is not None, "the exporter did not answer"
    finally:
        p.terminate()
        p.wait(timeout=10)
    fams = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if m:
                fams.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    missing = [f for f in EXPORTER_FAMILIES if f not in fams]
    log.seek(0)
    assert not missing, "exporter families missing: %s\n%s" % (missing, log.read()[-2000:])
    assert fams["redis_up"][0][1] == 1
    assert fams["redis_memory_used_bytes"][0][1] > 0
    assert sum(v for _, v in fams["redis_cpu_user_seconds_total"]) > 0
    assert any('err="ERR"' in lb and v >= 1 for lb, v in fams["redis_errors_total"])
    assert any('db="db0"' in lb and v >= 1 for lb, v in fams["redis_db_keys"])
    if not is_real_redis(args):  # Redis estimates it in its expiry cycle, later
        assert any('db="db0"' in lb and v > 0 for lb, v in fams["redis_db_avg_ttl_seconds"]), \
            fams["redis_db_avg_ttl_seconds"]
    print("  exporter: %d redis_* families" % len([f for f in fams if f.startswith("redis_")]))


@R.test
def metrics_http_errors(ctx):
    memkv_only()
    mport = ctx["mport"]
    assert http(mport, b"GET /nope HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert http(mport, b"POST /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405")
    assert http(mport, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert http(mport, b"GET /metrics\r\n\r\n").startswith(b"HTTP/1.1 400")
    big = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 10000 + b"\r\n\r\n"
    try:
        resp = http(mport, big)
        assert resp.startswith(b"HTTP/1.1 400"), resp[:100]
    except (ConnectionResetError, BrokenPipeError):
        pass  # closed while we were still sending: also fine
    head = http(mport, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n"), head[-50:]
    # A slow client (half a request, then silence) stalls neither the
    # metrics port nor the data port.
    slow = [socket.create_connection(("127.0.0.1", mport)) for _ in range(5)]
    for s in slow:
        s.sendall(b"GET /met")
    t0 = time.monotonic()
    get_metrics(mport)
    with RespConn(ctx["srv"].port) as c:
        assert c.call("PING") == "PONG"
    assert time.monotonic() - t0 < 2.0
    for s in slow:
        s.close()


@R.test
def bench_counts_match_stats(ctx):
    memkv_only()
    bench = args.bench
    if not bench or not os.path.exists(bench):
        raise Skip("no --bench binary")
    port = ctx["srv"].port
    with RespConn(port) as c:
        before = stats(c)
    work = tempfile.mkdtemp(prefix="memkv-obs-")
    js = os.path.join(work, "run.json")
    cmd = [bench, "--port", str(port), "--threads", "2", "--clients", "4", "--pipeline", "8",
           "--requests", "1500", "--ratio", "2:6:1", "--mget-keys", "5", "--keys", "2000",
           "--key-pattern", "zipf", "--seed", "3", "--json", js, "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(js) as f:
        res = json.load(f)
    shutil.rmtree(work, ignore_errors=True)
    with RespConn(port) as c:
        after = stats(c)
    bc = res["commands"]

    def calls(s, name):
        return s["command_stats"].get(name, {}).get("calls", 0)

    for name in ["set", "get", "mget"]:
        want = bc[name.upper()]["count"]
        got = calls(after, name) - calls(before, name)
        assert got == want, "%s: server delta %d != bench %d" % (name, got, want)
    total = bc["ALL"]["count"]
    # the run, plus the STATS that read `after` (counted at parse)
    delta = after["commands_processed"] - before["commands_processed"]
    assert delta == total + 1, "commands_processed delta %d != bench %d + 1" % (delta, total)
    hits = after["hits"] - before["hits"]
    misses = after["misses"] - before["misses"]
    want_reads = bc["GET"]["count"] + bc["MGET"]["count"] * 5
    assert hits + misses == want_reads, "hits %d + misses %d != key reads %d" % (
        hits, misses, want_reads)
    assert hits == bc["GET"]["hits"] + bc["MGET"]["hits"], (hits, bc["GET"], bc["MGET"])


def setup(runner):
    if is_real_redis(args):
        srv = runner.add_server(Server(args.server if os.path.sep in args.server else
                                       shutil.which("redis-server"), "redis",
                                       name="obs(redis)").start())
        return {"srv": srv, "mport": None}
    mport = pick_port()
    srv = runner.add_server(Server(args.server, "memkv",
                                   args.server_arg + ["--metrics-port", str(mport)],
                                   name="obs(mem-kv)").start())
    return {"srv": srv, "mport": mport}


sys.exit(R.run(setup=setup))
