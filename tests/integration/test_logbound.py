#!/usr/bin/python3
"""Each shard's log stays bounded under sustained writes (issue 13, defect 2).

Compaction used to start the lowest-numbered due shard first, so under a
steady write load the last shards never compacted and their logs filled the
disk. Here redis-benchmark writes 2 KB values as fast as it can for a few
seconds into 4 shards with a small --compact-log-size and the slowest pacing
(--compact-cpu 1), while the test samples every shard's log (its wal-*.log
files) five times a second. It checks that every shard compacted and that
no shard's log went past the bound of docs/persistence.md:
PERSIST_LOG_HARD (4) x its threshold (its share of --compact-log-size, or
twice its snapshot) plus one drain round's writes.
"""

import glob
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Runner, info_fields, parse_args  # noqa: E402
from persist_util import PersistServer, require_memkv  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
MB = 1 << 20
SHARDS = 4
LOG_SIZE = 8 * MB          # --compact-log-size: 2 MB per shard
HARD = 4                   # PERSIST_LOG_HARD
SLACK = 4 * MB             # one drain round of 64 batches of pipelined 2 KB SETs, rounded up
SECONDS = 10
MAX_SECONDS = 40


def shard_state(datadir):
    out = {}
    for sd in sorted(glob.glob(os.path.join(datadir, "shard-*"))):
        log = snap = 0
        for f in glob.glob(os.path.join(sd, "wal-*.log")):
            try:
                log += os.path.getsize(f)
            except OSError:
                pass
        for f in glob.glob(os.path.join(sd, "snap-*")):
            try:
                snap = max(snap, os.path.getsize(f))
            except OSError:
                pass
        out[os.path.basename(sd)] = (log, snap)
    return out


@R.test
def logs_bounded_and_fair(ctx):
    require_memkv(args)
    srv = R.add_server(PersistServer(args, [
        "--shards", str(SHARDS), "--compact-log-size", str(LOG_SIZE), "--compact-cpu", "1",
        "--maxmemory", "24mb", "--maxmemory-policy", "allkeys-lru"], name="logbound"))
    srv.start()
    bench = subprocess.Popen(["redis-benchmark", "-p", str(srv.port), "-q", "-t", "set",
                              "-n", "100000000", "-r", "100000000", "-d", "2000", "-P", "8",
                              "-c", "10"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    over = []
    peak = {}
    snaps = {}
    try:
        # SECONDS of writes, and on until every shard has compacted once (a
        # loaded machine writes and compacts slower), at most MAX_SECONDS: a
        # starved shard never compacts while the writes go on
        start = time.monotonic()
        while time.monotonic() < start + SECONDS or (
                time.monotonic() < start + MAX_SECONDS and
                sum(1 for v in snaps.values() if v > 0) < SHARDS):
            for sh, (log, snap) in shard_state(srv.datadir).items():
                snaps[sh] = max(snaps.get(sh, 0), snap)
                bound = HARD * max(LOG_SIZE // SHARDS, 2 * snaps[sh]) + SLACK
                peak[sh] = max(peak.get(sh, 0), log)
                if log > bound:
                    over.append((sh, log, bound))
            time.sleep(0.2)
    finally:
        bench.kill()
        bench.wait()
    with srv.conn() as c:
        per = info_fields(c.call("INFO", "persistence").decode())
        written = int(per["wal_bytes_written"])
    final = shard_state(srv.datadir)
    srv.stop_clean()
    print("  %.0f MB written in %.0f s; per shard: peak log MB / snapshot MB: %s; "
          "compactions: %s" % (written / MB, time.monotonic() - start, ", ".join(
              "%s %.1f/%.1f" % (sh[-3:], peak[sh] / MB, snaps.get(sh, 0) / MB)
              for sh in sorted(peak)), per["compactions"]))
    assert written > 4 * LOG_SIZE, "too little written to test anything: %d bytes" % written
    never = [sh for sh in final if snaps.get(sh, 0) == 0]
    assert not never, "shards that never compacted (starved): %s" % never
    assert not over, "logs past their bound: %s" % [
        "%s %.1f MB > %.1f MB" % (sh, log / MB, b / MB) for sh, log, b in over[:5]]



@R.test
def log_buffers_bounded(ctx):
    """With --fsync interval the bytes written since the last sync stay in
    memory (to rewrite them if that sync fails): a long interval and a
    burst of big writes must not grow them past 8 MiB per actor plus one
    drain round (mem_not_counted_for_evict in INFO memory)."""
    require_memkv(args)
    srv = R.add_server(PersistServer(args, ["--shards", "4", "--fsync", "interval",
                                            "--fsync-interval-ms", "20000"], name="logbuf"))
    srv.start()
    with srv.conn() as c:
        actors = int(info_fields(c.call("INFO", "server").decode()).get("actor_threads", 1))
    bench = subprocess.Popen(["redis-benchmark", "-p", str(srv.port), "-q", "-t", "set",
                              "-n", "100000000", "-r", "100000000", "-d", "100000", "-P", "4",
                              "-c", "8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    try:
        with srv.conn() as c:
            end = time.monotonic() + 6
            while time.monotonic() < end:
                m = info_fields(c.call("INFO", "memory").decode())
                peak = max(peak, int(m["mem_not_counted_for_evict"]))
                time.sleep(0.05)
            written = int(info_fields(c.call("INFO", "persistence").decode())["wal_bytes_written"])
    finally:
        bench.kill()
        bench.wait()
    srv.stop_clean()
    # + what the clients can have in flight (8 x 4 x 100 KB), twice for buffer capacity
    bound = actors * 8 * MB + 2 * 2 * 8 * 4 * 100000
    print("  %.0f MB written in 6 s with a 20 s fsync interval; log buffers peaked at %.1f MB "
          "(bound %.1f MB)" % (written / MB, peak / MB, bound / MB))
    # unbounded, the buffers would hold all of it (no sync came)
    assert written > 1.2 * bound, "too little written to test anything: %d bytes" % written
    assert peak <= bound, "log buffers %.1f MB > %.1f MB" % (peak / MB, bound / MB)


sys.exit(R.run())
