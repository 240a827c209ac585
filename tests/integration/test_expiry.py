#!/usr/bin/python3
"""Active expiry: keys with a TTL that nobody reads must go away by
themselves, and their memory must come back (INFO memory used_memory)."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RespConn, Status, encode, expect_eq, info_fields,  # noqa: E402
                     parse_args, Runner, start_under_test)

args = parse_args(__doc__)
R = Runner(args)
OK = Status("OK")


def used_memory(c):
    return int(info_fields(c.call("INFO", "memory"))["used_memory"])


def dbsize(c):
    return c.call("DBSIZE")


def fill(c, prefix, n, ttl_ms=None, value=b"v" * 32, batch=10000):
    """SET n keys (16-byte-ish keys, 32-byte values), pipelined in batches."""
    for start in range(0, n, batch):
        parts = []
        for i in range(start, min(n, start + batch)):
            k = b"%s:%010d" % (prefix, i)
            if ttl_ms is None:
                parts.append(encode(b"SET", k, value))
            else:
                parts.append(encode(b"SET", k, value, b"PX", ttl_ms))
        cnt = len(parts)
        got = c.send_and_read(b"".join(parts), cnt)
        bad = [g for g in got if g != OK]
        assert not bad, "SET replies not OK: %r" % bad[:3]


def wait_dbsize(c, target, timeout):
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        last = dbsize(c)
        if last == target:
            return time.monotonic() - t0, last
        time.sleep(0.1)
    return None, last


def memory_returns(c, base, peak, timeout=5.0):
    """Poll until at least 75% of the growth from base to peak is freed."""
    growth = peak - base
    t0 = time.monotonic()
    mem = used_memory(c)
    while time.monotonic() - t0 < timeout:
        mem = used_memory(c)
        if mem - base <= growth * 0.25:
            return True, mem
        time.sleep(0.2)
    return False, mem


@R.test
def ttl_keys_expire_unread(ctx):
    n = 100000
    with RespConn(ctx["srv"].port, timeout=60) as c:
        c.call("FLUSHDB")
        base = used_memory(c)
        t_fill = time.monotonic()
        fill(c, b"exp", n, ttl_ms=1000)
        t_end = time.monotonic()
        fill_took = t_end - t_fill
        peak = used_memory(c)
        size_after_fill = dbsize(c)
        print("  filled %d keys in %.2f s; used_memory %d -> %d (+%.0f B/key); DBSIZE %d" % (
            n, fill_took, base, peak, (peak - base) / n, size_after_fill))
        if fill_took < 0.8:
            expect_eq(size_after_fill, n, "DBSIZE right after the fill")
        assert peak - base > n * 16, "used_memory grew by only %d bytes for %d keys" % (
            peak - base, n)
        # No reads: only active expiry can bring DBSIZE down.
        took, last = wait_dbsize(c, 0, t_end + 6.0 - time.monotonic())
        assert took is not None, "DBSIZE still %d about 5 s after the TTL ran out" % last
        print("  DBSIZE reached 0 %.2f s after the fill ended" % (time.monotonic() - t_end))
        ok, mem = memory_returns(c, base, peak)
        print("  used_memory after expiry: %d (base %d, peak %d)" % (mem, base, peak))
        assert ok, "used_memory %d did not fall back near %d (peak %d)" % (mem, base, peak)
        expect_eq(c.call("GET", b"exp:%010d" % 0), None, "GET an expired key")
        ks = info_fields(c.call("INFO", "keyspace"))
        assert "db0" not in ks, "INFO keyspace still lists db0: %r" % ks.get("db0")


@R.test
def expiry_keeps_persistent_keys(ctx):
    """20k keys with a TTL mixed with 20k without: only the first go."""
    n = 20000
    with RespConn(ctx["srv"].port, timeout=60) as c:
        c.call("FLUSHDB")
        fill(c, b"keep", n)
        fill(c, b"tmp", n, ttl_ms=800)
        info = info_fields(c.call("INFO", "keyspace"))
        assert info.get("db0", "").startswith("keys="), info
        t0 = time.monotonic()
        took, last = wait_dbsize(c, n, 6.0)
        assert took is not None, "DBSIZE %d, want %d, 6 s later" % (last, n)
        print("  DBSIZE back to %d after %.2f s" % (n, time.monotonic() - t0))
        expect_eq(c.call("EXISTS", *[b"keep:%010d" % i for i in range(0, n, 97)]),
                  len(range(0, n, 97)), "persistent keys kept")
        expect_eq(c.call("EXISTS", *[b"tmp:%010d" % i for i in range(0, n, 97)]),
                  0, "TTL keys gone")
        db0 = info_fields(c.call("INFO", "keyspace")).get("db0", "")
        expect_eq(db0.split(",")[:2], ["keys=%d" % n, "expires=0"], "INFO keyspace db0")


@R.test
def lazy_expiry_on_access(ctx):
    """A key read after its deadline is gone, whatever active expiry did."""
    with RespConn(ctx["srv"].port) as c:
        c.call("FLUSHDB")
        c.pipeline([["SET", "lazy:%d" % i, "v", "PX", "100"] for i in range(50)])
        expect_eq(c.call("SET", "lazy:long", "v", "EX", "100"), OK, "SET EX 100")
        time.sleep(0.25)
        got = c.call("MGET", *["lazy:%d" % i for i in range(50)])
        expect_eq(got, [None] * 50, "MGET after the deadline")
        expect_eq(c.call("TTL", "lazy:0"), -2, "TTL after the deadline")
        expect_eq(c.call("EXISTS", "lazy:1", "lazy:long"), 1, "EXISTS")
        expect_eq(c.call("KEYS", "lazy:*"), [b"lazy:long"], "KEYS skips expired keys")


def expire_stats(c):
    f = info_fields(c.call("INFO", "stats"))
    return (float(f["expired_stale_perc"]), int(f["expired_time_cap_reached_count"]),
            int(f["expire_cycle_cpu_milliseconds"]))


@R.test
def idle_ttl_keys_cost_nothing(ctx):
    """200k keys with a TTL a day away: active expiry samples 20 keys per
    shard and tick and stops (it used to walk the whole table every tick),
    so its time (INFO stats expire_cycle_cpu_milliseconds) hardly moves."""
    n = 200000
    with RespConn(ctx["srv"].port, timeout=60) as c:
        c.call("FLUSHDB")
        fill(c, b"day", n, ttl_ms=86400000)
        time.sleep(0.3)
        _, _, ms0 = expire_stats(c)
        time.sleep(2.0)
        stale, capped, ms1 = expire_stats(c)
        print("  expire_cycle_cpu_milliseconds %d -> %d over 2 s idle; stale %.2f %%, capped %d" % (
            ms0, ms1, stale, capped))
        assert ms1 - ms0 < 100, "active expiry took %d ms in 2 s with nothing due" % (ms1 - ms0)
        expect_eq(dbsize(c), n, "DBSIZE")
        c.call("FLUSHDB")


@R.test
def expire_stats_in_info(ctx):
    """Redis's three fields of active expiry, in INFO stats, move when keys
    expire unread; CONFIG RESETSTAT zeroes them (at the next tick)."""
    with RespConn(ctx["srv"].port, timeout=60) as c:
        c.call("FLUSHDB")
        fill(c, b"st", 20000, ttl_ms=200)
        took, last = wait_dbsize(c, 0, 6.0)
        assert took is not None, "DBSIZE still %d" % last
        time.sleep(0.3)
        stale, capped, ms = expire_stats(c)
        print("  expired_stale_perc %.2f, expired_time_cap_reached_count %d, "
              "expire_cycle_cpu_milliseconds %d" % (stale, capped, ms))
        assert stale > 0.0, "expired_stale_perc %.2f after 20k keys expired" % stale
        assert capped >= 0 and ms >= 0
        expect_eq(c.call("CONFIG", "RESETSTAT"), OK, "CONFIG RESETSTAT")
        time.sleep(0.3)
        stale, capped, ms = expire_stats(c)
        expect_eq((capped, ms), (0, 0), "time cap count and time after RESETSTAT")
        assert stale < 0.01, "expired_stale_perc %.2f after RESETSTAT" % stale


def setup(runner):
    srv = runner.add_server(start_under_test(args))
    return {"srv": srv}


sys.exit(R.run(setup=setup))
