#!/usr/bin/python3
"""MEMORY and OBJECT (issue 16): replies and error texts against a real
redis-server where Redis has the same representation, MEMORY USAGE against
the server's own dataset figure, MEMORY STATS/DOCTOR/HELP/MALLOC-STATS/
PURGE, OBJECT in MULTI, `redis-cli --memkeys` and `--bigkeys` end to end,
INFO cpu (per thread too), avg_ttl, and CONFIG GET against INFO."""

import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, RespError, Skip, info_fields, is_real_redis,  # noqa: E402
                     parse_args, Runner, start_reference, start_under_test)

args = parse_args(__doc__)
R = Runner(args)


def memkv_only():
    if is_real_redis(args):
        raise Skip("mem-kv only")


def both(ctx, fn):
    """fn(conn) on the server under test and on the reference Redis."""
    with RespConn(ctx["srv"].port) as a, RespConn(ctx["ref"].port) as b:
        return fn(a), fn(b)


def err(x):
    return str(x) if isinstance(x, RespError) else x


STRINGS = {
    "s_int": "123", "s_neg": "-98765", "s_zero_lead": "007", "s_big": "12345678901234567890",
    "s_word": "hello", "s_44": "x" * 44, "s_45": "y" * 45, "s_long": "z" * 1000,
}


def fill(c):
    c.call("FLUSHALL")
    for k, v in STRINGS.items():
        c.call("SET", k, v)
    c.call("HSET", "h_small", "f1", "v1", "f2", "v2")
    # packed up to 128 fields here, up to hash-max-listpack-entries (512 in
    # Debian's Redis 7.0) there: compare below and above both
    c.call("HSET", "h_100", *sum([["f%d" % i, "v"] for i in range(100)], []))
    c.call("HSET", "h_many", *sum([["f%d" % i, "v"] for i in range(600)], []))
    c.call("HSET", "h_longval", "f", "v" * 100)


@R.test
def object_encoding_like_redis(ctx):
    def run(c):
        fill(c)
        out = {}
        for k in list(STRINGS) + ["h_small", "h_100", "h_many", "h_longval", "missing"]:
            out[k] = c.call("OBJECT", "ENCODING", k)
        out["refcount"] = c.call("OBJECT", "REFCOUNT", "s_word")
        out["refcount_missing"] = c.call("OBJECT", "refcount", "missing")
        out["freq_missing_policy"] = err(c.call("OBJECT", "FREQ", "s_word"))
        out["unknown"] = err(c.call("OBJECT", "nosuch", "x"))
        out["arity"] = err(c.call("OBJECT", "ENCODING"))
        out["arity2"] = err(c.call("OBJECT", "ENCODING", "a", "b"))
        out["bare"] = err(c.call("OBJECT"))
        out["help_is_list"] = isinstance(c.call("OBJECT", "HELP"), list)
        return out
    mine, ref = both(ctx, run)
    assert mine == ref, "mem-kv %r\nredis  %r" % (mine, ref)


@R.test
def memory_usage_errors_like_redis(ctx):
    def run(c):
        c.call("SET", "k", "v")
        return [err(c.call(*a)) for a in [
                    ("MEMORY", "USAGE", "nokey"),
                    ("MEMORY", "USAGE", "k", "SAMPLES", "x"),
                    ("MEMORY", "USAGE", "k", "FOO"),
                    ("MEMORY", "USAGE", "k", "SAMPLES"),
                    ("MEMORY", "USAGE"),
                    ("MEMORY", "nosuch"),
                    ("MEMORY",),
                    ("MEMORY", "STATS", "extra"),
                ]]
    mine, ref = both(ctx, run)
    assert mine == ref, "mem-kv %r\nredis  %r" % (mine, ref)
    with RespConn(ctx["srv"].port) as c:
        assert isinstance(c.call("MEMORY", "USAGE", "k", "SAMPLES", "0"), int)
        if not is_real_redis(args):  # counted as their container (Redis: memory|usage)
            cs = c.call("INFO", "commandstats").decode()
            m = re.search(r"^cmdstat_memory:calls=(\d+)", cs, re.M)
            assert m and int(m.group(1)) >= 8, cs


@R.test
def memory_usage_is_honest(ctx):
    """Sizes grow with the value, and the keys' USAGE adds up to the
    dataset figure INFO reports (the same allocator sizes, no estimate)."""
    memkv_only()
    with RespConn(ctx["srv"].port) as c:
        c.call("FLUSHALL")
        small = c.call("SET", "a", "v") and c.call("MEMORY", "USAGE", "a")
        c.call("SET", "b", "v" * 1000)
        big = c.call("MEMORY", "USAGE", "b")
        # the allocator's size class: glibc rounds to 16 B, jemalloc's
        # classes are up to 25 % apart (1,030 B -> 1,280 B)
        assert 1000 < big < 1.25 * 1100 + 64 and small < 128, (small, big)
        c.call("SET", "t", "v", "EX", "100")
        assert c.call("MEMORY", "USAGE", "t") > small, "a TTL costs its index slot"
        fields = []
        for i in range(300):
            fields += ["field%d" % i, "x" * 100]
        c.call("HSET", "h", *fields)
        assert c.call("MEMORY", "USAGE", "h") > 300 * 100
        c.call("FLUSHALL")
        c.pipeline([("SET", "key:%d" % i, "x" * (i % 200)) for i in range(3000)])
        c.pipeline([("EXPIRE", "key:%d" % i, "1000") for i in range(0, 3000, 3)])
        total = sum(c.pipeline([("MEMORY", "USAGE", "key:%d" % i) for i in range(3000)]))
        dataset = int(info_fields(c.call("INFO", "memory").decode())["used_memory_dataset"])
        assert abs(total - dataset) < 0.05 * dataset, (total, dataset)
        print("  3000 keys: sum of MEMORY USAGE %d, used_memory_dataset %d" % (total, dataset))


@R.test
def object_does_not_touch(ctx):
    """IDLETIME grows while only OBJECT and MEMORY look at a key, a read
    resets it; under an LFU policy FREQ answers and IDLETIME refuses, with
    Redis's texts."""
    def run(c):
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.call("SET", "idle", "v")
        time.sleep(2.2)
        c.call("OBJECT", "ENCODING", "idle")
        c.call("MEMORY", "USAGE", "idle")
        idle = c.call("OBJECT", "IDLETIME", "idle")
        c.call("GET", "idle")
        after_get = c.call("OBJECT", "IDLETIME", "idle")
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        c.call("SET", "hot", "v")
        freq = c.call("OBJECT", "FREQ", "hot")
        idle_err = err(c.call("OBJECT", "IDLETIME", "hot"))
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        return idle >= 2, after_get, isinstance(freq, int) and 0 <= freq <= 255, idle_err
    mine, ref = both(ctx, run)
    assert mine == ref, "mem-kv %r\nredis  %r" % (mine, ref)
    assert mine[0] and mine[1] == 0 and mine[2], mine


@R.test
def memory_stats_doctor_help(ctx):
    def names(c):
        c.call("SET", "k", "v")
        st = c.call("MEMORY", "STATS")
        return set(x.decode() for x in st[0::2])
    mine, ref = both(ctx, names)
    ours = {n for n in mine if not n.startswith("memkv.")}
    assert ours <= ref, "not Redis's names: %s" % (ours - ref)
    memkv_only()
    with RespConn(ctx["srv"].port) as c:
        c.call("FLUSHALL")
        c.pipeline([("SET", "s%d" % i, "v" * 50) for i in range(500)])
        time.sleep(0.3)  # the actors publish their shards' figures each tick
        st = c.call("MEMORY", "STATS")
        d = dict(zip([x.decode() for x in st[0::2]], st[1::2]))
        for k in ["total.allocated", "keys.count", "dataset.bytes", "overhead.total",
                  "allocator.allocated", "fragmentation", "dataset.percentage"]:
            assert k in d, "MEMORY STATS has no %s: %s" % (k, sorted(d))
        assert d["keys.count"] == c.call("DBSIZE") == 500, d["keys.count"]
        assert 500 * 50 < d["dataset.bytes"] < d["total.allocated"], d
        assert 50 < d["keys.bytes-per-key"] < 200, d
        doc = c.call("MEMORY", "DOCTOR")
        assert isinstance(doc, bytes) and len(doc) > 20, doc
        helps = c.call("MEMORY", "HELP")
        assert any(b"USAGE" in h.encode() for h in helps), helps
        assert isinstance(c.call("MEMORY", "MALLOC-STATS"), bytes)
        assert c.call("MEMORY", "PURGE") == "OK"


@R.test
def object_in_multi(ctx):
    def run(c):
        c.call("SET", "m", "hello")
        c.call("MULTI")
        c.call("OBJECT", "ENCODING", "m")
        c.call("MEMORY", "USAGE", "nokey")
        c.call("OBJECT", "HELP")
        r = c.call("EXEC")
        return r[0], r[1], isinstance(r[2], list)
    mine, ref = both(ctx, run)
    assert mine == ref, "mem-kv %r\nredis  %r" % (mine, ref)


def redis_cli(port, *a):
    cli = shutil.which("redis-cli")
    if cli is None:
        raise Skip("redis-cli not installed")
    p = subprocess.run([cli, "-h", "127.0.0.1", "-p", str(port)] + list(a),
                       capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


@R.test
def redis_cli_memkeys_bigkeys(ctx):
    port = ctx["srv"].port
    with RespConn(port) as c:
        c.call("FLUSHALL")
        c.pipeline([("SET", "str%d" % i, "v" * i) for i in range(1, 200)])
        c.call("SET", "the_biggest", "B" * 5000)
        c.call("HSET", "a_hash", *sum([["f%d" % i, "v"] for i in range(50)], []))
    rc, out = redis_cli(port, "--memkeys")
    assert rc == 0 and "ERR" not in out, out
    assert re.search(r"Biggest string found '\"the_biggest\"' has \d+ bytes", out), out
    assert re.search(r"Biggest\s+hash found '\"a_hash\"' has \d+ bytes", out), out
    assert "Sampled 201 keys" in out, out
    rc, out = redis_cli(port, "--bigkeys")
    assert rc == 0 and "ERR" not in out, out
    assert "Biggest string found '\"the_biggest\"' has 5000 bytes" in out, out
    assert re.search(r"Biggest\s+hash found '\"a_hash\"' has 50 fields", out), out


@R.test
def info_cpu(ctx):
    with RespConn(ctx["srv"].port) as c:
        text = c.call("INFO").decode()
        assert "# CPU" in text, "INFO default has no CPU section"
        f0 = info_fields(c.call("INFO", "cpu").decode())
        for k in ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children",
                  "used_cpu_user_children", "used_cpu_sys_main_thread",
                  "used_cpu_user_main_thread"]:
            assert k in f0, "INFO cpu has no %s: %s" % (k, sorted(f0))
        if is_real_redis(args):
            return
        own = ["used_cpu_user_net_0", "used_cpu_sys_net_0"]
        if not int(info_fields(c.call("INFO", "server").decode()).get("hosted_threads", 0)):
            own += ["used_cpu_user_actor_0", "used_cpu_sys_actor_0"]  # actors of their own
        for k in own:
            assert k in f0, "INFO cpu has no %s: %s" % (k, sorted(f0))
        t0 = time.time()
        while time.time() - t0 < 1.0:
            c.pipeline([("SET", "cpu%d" % i, "v") for i in range(500)])
        f1 = info_fields(c.call("INFO", "cpu").decode())
        busy = lambda f, t: float(f["used_cpu_user_" + t]) + float(f["used_cpu_sys_" + t])  # noqa
        assert busy(f1, "net_0") > busy(f0, "net_0"), (f0, f1)
        total = float(f1["used_cpu_user"]) + float(f1["used_cpu_sys"])
        threads = sum(float(v) for k, v in f1.items()
                      if k.startswith("used_cpu_") and k.count("_") >= 3
                      and "children" not in k)
        # the threads' figures (clock ticks) add up to the process's
        assert abs(total - threads) < 0.1 + 0.1 * total, (total, threads, f1)


@R.test
def avg_ttl_is_real(ctx):
    memkv_only()
    with RespConn(ctx["srv"].port) as c:
        c.call("FLUSHALL")
        c.pipeline([("SET", "t%d" % i, "v", "EX", "100") for i in range(50)])
        c.pipeline([("SET", "n%d" % i, "v") for i in range(50)])
        c.call("SELECT", "2")
        c.pipeline([("SET", "u%d" % i, "v", "PX", "20000") for i in range(10)])
        c.call("SET", "plain", "v")
        c.call("SELECT", "0")
        ks = c.call("INFO", "keyspace").decode()
        m0 = re.search(r"^db0:keys=100,expires=50,avg_ttl=(\d+)\r?$", ks, re.M)
        m2 = re.search(r"^db2:keys=11,expires=10,avg_ttl=(\d+)\r?$", ks, re.M)
        assert m0 and m2, ks
        assert 95000 < int(m0.group(1)) <= 100000, ks
        assert 15000 < int(m2.group(1)) <= 20000, ks
        # many keys: sampled, still close
        c.pipeline([("SET", "big%d" % i, "v", "EX", str(1000 + i % 2)) for i in range(20000)])
        ks = c.call("INFO", "keyspace").decode()
        m0 = re.search(r"^db0:keys=\d+,expires=20050,avg_ttl=(\d+)\r?$", ks, re.M)
        assert m0 and 900000 < int(m0.group(1)) < 1001000, ks
        c.call("FLUSHALL")


# INFO field -> CONFIG GET parameter, and how the INFO value reads as the
# CONFIG one
CONFIG_OF_INFO = {
    "tcp_port": ("port", str), "hz": ("hz", str), "maxclients": ("maxclients", str),
    "maxmemory": ("maxmemory", str), "maxmemory_policy": ("maxmemory-policy", str),
    "io_threads": ("io-threads", str), "shards": ("shards", str),
    "actor_threads": ("actor-threads", str),
    "aof_enabled": ("appendonly", lambda v: "yes" if v == "1" else "no"),
}


@R.test
def config_get_matches_info(ctx):
    memkv_only()
    with RespConn(ctx["srv"].port) as c:
        c.call("CONFIG", "SET", "maxmemory", "123456789")
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        info = info_fields(c.call("INFO", "everything").decode())
        try:
            for field, (param, conv) in CONFIG_OF_INFO.items():
                assert field in info, "INFO has no %s" % field
                got = c.call("CONFIG", "GET", param)
                assert len(got) == 2, (param, got)
                assert got[1].decode() == conv(info[field]), (field, info[field], param, got)
        finally:
            c.call("CONFIG", "SET", "maxmemory", "0")
            c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")


def setup(runner):
    srv = runner.add_server(start_under_test(args, "memcmds"))
    ref = runner.add_server(start_reference(args, "memcmds"))
    return {"srv": srv, "ref": ref}


sys.exit(R.run(setup=setup))
