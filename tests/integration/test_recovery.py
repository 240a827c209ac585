#!/usr/bin/python3
"""Recovery tests (issue 3): a corrupt record in the middle of a WAL segment
stops start-up with the file and byte offset (and --recover-mode keep-prefix
starts with the consistent prefix); a torn tail is cut with a log line; and
a crash at each step of a compaction (test-only failpoints, MEMKV_FAILPOINT,
docs/persistence.md) recovers to exactly the content before it, TTL
deadlines included."""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespError, Runner, Status, parse_args  # noqa: E402
from persist_util import PersistServer, dump_all, require_memkv, wait_compactions  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
OK = Status("OK")
WAL_HEADER = 40
REC_HEADER = 13


# ---------------------------------------------------------------- WAL reading

def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def wal_records(path):
    """[(offset, size, type, key)] of a segment (format: docs/persistence.md)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"MKVWAL0\n", path
    out = []
    off = WAL_HEADER
    while off + REC_HEADER <= len(data):
        length, typ = struct.unpack_from("<IB", data, off + 4)
        end = off + REC_HEADER + length
        if end > len(data):
            break
        p = off + REC_HEADER
        key = None
        if typ == 1:                      # PUT: vtype, flags, [expire], klen, key, ...
            flags = data[p + 1]
            i = p + 2 + (8 if flags & 1 else 0)
            klen, i = varint(data, i)
            key = data[i:i + klen]
        elif typ == 2:                    # DEL: klen, key
            klen, i = varint(data, p)
            key = data[i:i + klen]
        out.append((off, end - off, typ, key))
        off = end
    return out


def segments(datadir, shard):
    d = os.path.join(datadir, "shard-%03d" % shard)
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.startswith("wal-") and f.endswith(".log"))


def fill_unique(srv, n, prefix=b"k"):
    """n SETs of distinct keys: each is one PUT record in its shard's log."""
    want = {b"%s:%05d" % (prefix, i): b"value-%05d" % i for i in range(n)}
    with srv.conn() as c:
        got = c.pipeline([("SET", k, v) for k, v in want.items()])
        assert all(g == OK for g in got)
    return want


def content(srv):
    with srv.conn() as c:
        return dump_all(c)


# ---------------------------------------------------------------- corruption

@R.test
def corrupt_middle_record_strict_and_keep_prefix(ctx):
    require_memkv(args)
    srv = R.add_server(PersistServer(args, ["--shards", "4", "--fsync", "always"], name="corrupt"))
    srv.start()
    want = fill_unique(srv, 800)
    srv.stop_clean()
    seg = [s for s in segments(srv.datadir, 0) if len(wal_records(s)) > 10][-1]
    recs = wal_records(seg)
    k = len(recs) // 2
    off = recs[k][0]
    with open(seg, "r+b") as f:                 # flip a bit inside the key
        f.seek(off + REC_HEADER + 3)
        b = f.read(1)
        f.seek(off + REC_HEADER + 3)
        f.write(bytes([b[0] ^ 0x10]))
    rc, out = srv.run_once()
    assert rc not in (None, 0), "start-up accepted a corrupt record:\n" + out
    assert seg in out and ("byte %d" % off) in out, \
        "message does not name %s and byte %d:\n%s" % (seg, off, out)
    msg = [ln for ln in out.splitlines() if seg in ln][0]
    print("  strict: exit code %d: %s" % (rc, msg.strip()))
    # keep-prefix: the shard keeps the records before the bad one
    lost = {r[3] for r in recs[k:]}
    expect = {kk: (v, -1) for kk, v in want.items() if kk not in lost}
    srv.extra = ["--shards", "4", "--fsync", "always", "--recover-mode", "keep-prefix"]
    srv.start()
    got = content(srv)
    assert got == expect, "keep-prefix: %d keys, expected %d; missing %r extra %r" % (
        len(got), len(expect), list(set(expect) - set(got))[:3], list(set(got) - set(expect))[:3])
    print("  keep-prefix: started with %d of %d keys (%d records after byte %d dropped)" % (
        len(got), len(want), len(recs) - k, off))
    with srv.conn() as c:
        assert c.call("SET", "later", "x") == OK
    expect[b"later"] = (b"x", -1)
    srv.kill()
    # the next strict start replays the same prefix without complaint
    srv.extra = ["--shards", "4", "--fsync", "always"]
    srv.start()
    assert content(srv) == expect, "strict start after keep-prefix"
    srv.stop_clean()


@R.test
def torn_tail_is_cut(ctx):
    require_memkv(args)
    srv = R.add_server(PersistServer(args, ["--shards", "4", "--fsync", "always"], name="torn"))
    srv.start()
    want = fill_unique(srv, 400)
    srv.kill()
    cut = {}
    for shard, into in ((1, 7), (2, REC_HEADER + 3)):   # inside the header / the payload
        seg = segments(srv.datadir, shard)[-1]
        recs = wal_records(seg)
        off, size, typ, key = recs[-1]
        os.truncate(seg, off + into)
        cut[seg] = (off, key)
    srv.start()
    log = srv.log_since_start()
    for seg, (off, key) in cut.items():
        assert os.path.getsize(seg) == off, "%s not cut back to %d" % (seg, off)
        lines = [ln for ln in log.splitlines() if seg in ln and "torn" in ln]
        assert lines, "no log line about the torn tail of %s:\n%s" % (seg, log)
        print("  " + lines[0].split(" * ")[-1].split(" # ")[-1])
        del want[key]
    assert content(srv) == {k: (v, -1) for k, v in want.items()}
    srv.stop_clean()


# ---------------------------------------------------------------- compaction kill points

FAILPOINTS = ["snap-written", "snap-fsynced", "snap-renamed", "snap-dir-fsynced",
              "compact-wal-synced", "compact-manifest-switched", "compact-pruned"]
NSHARDS = 4


def mixed_load(c, rnd, n):
    """Strings with and without TTLs, counters, overwrites, deletes."""
    now = int(time.time() * 1000)
    cmds = []
    for i in range(n):
        k = b"m%d:%05d" % (rnd, i)
        f = i % 6
        if f == 0:
            cmds.append(("SET", k, b"v%d-%d" % (rnd, i), "PX", 3600000 + i))
        elif f == 1:
            cmds.append(("SET", k, b"v%d-%d" % (rnd, i), "PXAT", now + 7200000 + i))
        elif f == 2:
            cmds.append(("INCRBY", b"cnt:%03d" % (i % 97), i))
        elif f == 3:
            cmds.append(("SET", b"m0:%05d" % i, b"over%d-%d" % (rnd, i)))   # overwrite round 0
        elif f == 4:
            cmds.append(("DEL", b"m0:%05d" % (i - 1)))
        else:
            cmds.append(("SET", k, b"x" * (i % 200)))
    got = c.pipeline(cmds)
    bad = [g for g in got if isinstance(g, RespError)]
    assert not bad, bad[:3]


def files_summary(datadir):
    out = []
    for sd in sorted(os.listdir(datadir)):
        p = os.path.join(datadir, sd)
        if os.path.isdir(p):
            fs = sorted(os.listdir(p))
            out.append("%s: %s" % (sd, " ".join(f.replace("0000000000000000000", "")
                                                for f in fs)))
    return "; ".join(out[:1])


def kill_point(name):
    require_memkv(args)
    flags = ["--shards", str(NSHARDS), "--fsync", "interval", "--compact-log-size", "0"]
    srv = R.add_server(PersistServer(args, flags, name="fp-" + name))
    srv.start()
    with srv.conn() as c:
        mixed_load(c, 0, 3000)
        assert c.call("COMPACT") == OK       # an old snapshot for the deletes to replace
    wait_compactions(srv, NSHARDS)
    with srv.conn() as c:
        mixed_load(c, 1, 2000)
    srv.kill()
    srv.start(env={"MEMKV_FAILPOINT": name})
    with srv.conn() as c:
        mixed_load(c, 2, 2000)
        before = dump_all(c)
        assert c.call("COMPACT") == OK
    rc = srv.wait_exit(60)
    log = srv.log_since_start()
    assert rc == 99 and ("failpoint %s" % name) in log, \
        "server did not stop at failpoint %s (exit %s):\n%s" % (name, rc, log[-3000:])
    left = files_summary(srv.datadir)
    srv.start()
    after = dump_all(srv.conn())
    assert after == before, "after a crash at %s: %d keys differ, e.g. %r" % (
        name, sum(1 for k in set(after) | set(before) if after.get(k) != before.get(k)),
        [(k, before.get(k), after.get(k)) for k in set(after) | set(before)
         if after.get(k) != before.get(k)][:4])
    # and a complete compaction from there (cleaning what the crash left) too
    with srv.conn() as c:
        assert c.call("COMPACT") == OK
    wait_compactions(srv, NSHARDS)
    srv.kill()
    srv.start()
    assert dump_all(srv.conn()) == before, "after a later compaction"
    srv.stop_clean()
    print("  %-26s exit 99, left %s; %d keys (%d with deadlines) identical after restart" % (
        name, left, len(before), sum(1 for v in before.values() if v[1] > 0)))


def paced(threads_args):
    """--compact-cpu 1: a compaction under a steady read load still
    finishes, and its snapshot holds exactly what was written. The pacing
    credit is earned on the actor threads and, with --threads, on the
    network threads that host the actors (actor_host_poll's wait)."""
    require_memkv(args)
    flags = ["--shards", str(NSHARDS), "--fsync", "interval", "--compact-log-size", "0",
             "--compact-cpu", "1"] + threads_args
    srv = R.add_server(PersistServer(args, flags, name="paced"))
    srv.start()
    with srv.conn() as c:
        mixed_load(c, 0, 20000)
        before = dump_all(c)
        assert c.call("COMPACT") == OK
        t0, reads = time.monotonic(), 0
        keys = sorted(k for k, v in before.items() if v[1] < 0)[:100]
        while srv.compactions_done() < NSHARDS:
            k = keys[reads % len(keys)]
            assert c.call("GET", k) == before[k][0], "GET %r during compaction" % k
            reads += 1
            assert time.monotonic() - t0 < 60, "paced compaction did not finish in 60 s"
    took = time.monotonic() - t0
    srv.kill()
    srv.start()
    assert dump_all(srv.conn()) == before, "after a paced compaction"
    srv.stop_clean()
    print("  %d keys compacted at --compact-cpu 1 %s in %.2f s, %d reads meanwhile" % (
        len(before), " ".join(threads_args), took, reads))


R.test(lambda ctx: paced([]), name="compaction_paced")
R.test(lambda ctx: paced(["--threads", "1"]), name="compaction_paced_hosted")

for _fp in FAILPOINTS:
    R.test(lambda ctx, _fp=_fp: kill_point(_fp), name="compaction_kill_at_" + _fp)


sys.exit(R.run())
