#!/usr/bin/python3
"""Data directory safety (issue 13): a second server on a data directory
in use is refused (flock on <dir>/LOCK, naming the holder's pid) and the
lock dies with its holder; a directory with segments or snapshots but no
MANIFEST is refused in every recovery mode; deleting the newest WAL
segment(s) is detected (the MANIFEST's last_seq); no recovery mode deletes
a segment or a snapshot (they are renamed *.discarded); SIGHUP is ignored.
docs/persistence.md, "Data directory lock" and "What recovery detects"."""

import os
import re
import shutil
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, Runner, Status, is_real_redis, parse_args, start_under_test  # noqa: E402
from persist_util import PersistServer, dump_all, require_memkv, wait_compactions  # noqa: E402

args = parse_args(__doc__)
R = Runner(args)
OK = Status("OK")


def fill(srv, n, prefix=b"k", size=10):
    want = {b"%s:%05d" % (prefix, i): (b"%s-%05d-" % (prefix, i)).ljust(size, b"v")
            for i in range(n)}
    with srv.conn() as c:
        got = c.pipeline([("SET", k, v) for k, v in want.items()])
        assert all(g == OK for g in got), [g for g in got if g != OK][:3]
    return want


def content(srv):
    with srv.conn() as c:
        return {k: v for k, (v, _) in dump_all(c).items()}


def data_files(datadir):
    """{relative path: size} of the segments and snapshots (any suffix)."""
    out = {}
    for sd in sorted(os.listdir(datadir)):
        p = os.path.join(datadir, sd)
        if sd.startswith("shard-") and os.path.isdir(p):
            for f in os.listdir(p):
                if f.startswith("wal-") or f.startswith("snap-"):
                    out[os.path.join(sd, f)] = os.path.getsize(os.path.join(p, f))
    return out


def assert_nothing_deleted(before, after, what):
    """Every segment and complete snapshot of before is still there, under
    its name or moved aside as <name>.discarded[.N], with the same size."""
    for f, size in before.items():
        if f.endswith(".tmp") or ".discarded" in f:
            continue
        names = [g for g in after if g == f or g.startswith(f + ".discarded")]
        assert names, "%s: %s was deleted (files now: %s)" % (what, f, sorted(after))
        sizes = [after[g] for g in names]
        assert size in sizes or f.split("/")[-1].startswith("wal-"), \
            "%s: %s changed size %d -> %r" % (what, f, size, sizes)


def segments(datadir, shard):
    d = os.path.join(datadir, "shard-%03d" % shard)
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if re.fullmatch(r"wal-\d{20}\.log", f))


# ---------------------------------------------------------------- 1. the lock

@R.test
def second_server_on_same_dir_refused(ctx):
    require_memkv(args)
    srv = R.add_server(PersistServer(args, ["--shards", "4", "--fsync", "always"], name="lock"))
    srv.start()
    want = fill(srv, 300)
    rc, out = srv.run_once(timeout=30)
    assert rc == 1, "a second server on %s: exit %r, expected 1:\n%s" % (srv.datadir, rc, out)
    pid = srv.proc.pid
    assert srv.datadir in out and ("pid %d" % pid) in out, \
        "the message does not name the directory and pid %d:\n%s" % (pid, out)
    print("  second server: exit 1: %s" % [ln for ln in out.splitlines() if "pid" in ln][0])
    # the first one did not notice: it serves, writes, and its log is intact
    assert srv.alive(), "the first server died"
    want.update(fill(srv, 50, prefix=b"after"))
    assert content(srv) == want
    with open(os.path.join(srv.datadir, "LOCK")) as f:
        assert f.read().strip() == str(pid), "LOCK does not hold the pid %d" % pid
    # a crash releases the lock: the next server starts on the directory
    srv.kill()
    srv.start()
    assert content(srv) == want, "after kill -9 and a restart"
    with open(os.path.join(srv.datadir, "LOCK")) as f:
        assert f.read().strip() == str(srv.proc.pid)
    srv.stop_clean()


# ---------------------------------------------------------------- 2. no MANIFEST

@R.test
def missing_manifest_refused_in_every_mode(ctx):
    require_memkv(args)
    flags = ["--shards", "4", "--fsync", "always", "--compact-log-size", "0"]
    srv = R.add_server(PersistServer(args, flags, name="nomanifest"))
    srv.start()
    want = fill(srv, 400)
    with srv.conn() as c:
        assert c.call("COMPACT") == OK
    wait_compactions(srv, 4)
    want.update(fill(srv, 100, prefix=b"log"))
    srv.stop_clean()
    man = os.path.join(srv.datadir, "MANIFEST")
    saved = man + ".saved"
    shutil.move(man, saved)
    before = data_files(srv.datadir)
    assert any("snap-" in f for f in before), before
    for mode in ("strict", "keep-prefix"):
        rc, out = srv.run_once(["--recover-mode", mode], timeout=30)
        assert rc == 1, "no MANIFEST, %s: exit %r, expected 1:\n%s" % (mode, rc, out)
        assert srv.datadir in out and "no MANIFEST" in out, out
        assert not os.path.exists(man), "%s: a new MANIFEST was written" % mode
        assert data_files(srv.datadir) == before, "%s: data files changed" % mode
        print("  %s: exit 1: %s" % (mode, [ln for ln in out.splitlines()
                                           if "MANIFEST" in ln][0][:160]))
    shutil.move(saved, man)
    srv.start()
    assert content(srv) == want, "after restoring the MANIFEST"
    srv.stop_clean()


# ---------------------------------------------------------------- 3. deleted segments

@R.test
def deleted_last_segment_detected(ctx):
    require_memkv(args)
    flags = ["--shards", "4", "--fsync", "always"]
    srv = R.add_server(PersistServer(args, flags, name="lastseg"))
    srv.start()
    want = fill(srv, 400)
    srv.stop_clean()
    last = segments(srv.datadir, 0)[-1]    # this run's segment: holds its keys
    os.unlink(last)
    rc, out = srv.run_once(timeout=30)
    assert rc == 1, "strict start without %s: exit %r, expected 1:\n%s" % (last, rc, out)
    assert last in out and "missing" in out, out
    print("  strict: exit 1: %s" % [ln for ln in out.splitlines() if last in ln][0][:200])
    # keep-prefix starts with what is there and says so loudly
    files = data_files(srv.datadir)
    srv.extra = flags + ["--recover-mode", "keep-prefix"]
    srv.start()
    log = srv.log_since_start()
    assert "MISSING" in log, log
    got = content(srv)
    assert set(got) < set(want) and all(want[k] == v for k, v in got.items())
    print("  keep-prefix: started with %d of %d keys" % (len(got), len(want)))
    srv.stop_clean()
    assert_nothing_deleted(files, data_files(srv.datadir), "keep-prefix")
    # that start recorded its own segments: strict starts again
    srv.extra = flags
    srv.start()
    assert content(srv) == got
    srv.stop_clean()


@R.test
def deleted_segments_after_rotations_detected(ctx):
    """Segments made by rotations while running (1 MiB segments) are
    recorded by the worker within 100 ms: deleting the newest ones after a
    crash is refused too."""
    require_memkv(args)
    flags = ["--shards", "1", "--fsync", "always", "--wal-segment-size", "1mb",
             "--compact-log-size", "0"]
    srv = R.add_server(PersistServer(args, flags, name="rotated"))
    srv.start()
    want = {}
    for r in range(4):
        want.update(fill(srv, 1000, prefix=b"r%d" % r, size=1000))
    want.update(fill(srv, 1, prefix=b"sync"))   # the newest segment synced (named)
    time.sleep(0.5)                             # > 100 ms: recorded in the MANIFEST
    srv.kill()
    segs = segments(srv.datadir, 0)
    assert len(segs) >= 4, segs
    for s in segs[-2:]:
        os.unlink(s)
    rc, out = srv.run_once(timeout=30)
    assert rc == 1 and segs[-2] in out, \
        "strict start without the 2 newest of %d segments: exit %r:\n%s" % (len(segs), rc, out)
    print("  %d segments, newest 2 deleted: exit 1" % len(segs))


# ---------------------------------------------------------------- 4. nothing deleted

@R.test
def recovery_deletes_no_segment_or_snapshot(ctx):
    """A keep-prefix start that gives records up keeps a leftover snapshot
    (compaction crashed after snap-S.snap was complete, before the MANIFEST
    switch) as .discarded; a zero-filled last segment is moved aside, not
    deleted, in strict mode as well."""
    require_memkv(args)
    flags = ["--shards", "2", "--fsync", "always", "--compact-log-size", "0"]
    srv = R.add_server(PersistServer(args, flags, name="nodelete"))
    srv.start()
    fill(srv, 600)
    srv.kill()
    srv.start(env={"MEMKV_FAILPOINT": "snap-dir-fsynced"})
    fill(srv, 200, prefix=b"b")
    with srv.conn() as c:
        assert c.call("COMPACT") == OK
    assert srv.wait_exit(60) == 99
    snaps = [f for f in data_files(srv.datadir) if re.search(r"snap-\d+\.snap$", f)]
    assert snaps, "no complete snapshot left by the failpoint: %s" % data_files(srv.datadir)
    shard = int(snaps[0].split("/")[0][6:])
    # a bad record in the middle of that shard's first segment
    seg = segments(srv.datadir, shard)[0]
    with open(seg, "r+b") as f:
        f.seek(40 + 13 + 3)
        b = f.read(1)
        f.seek(40 + 13 + 3)
        f.write(bytes([b[0] ^ 0x10]))
    # a zero-filled newest segment in the other shard (as a crash while
    # creating it may leave)
    other = 1 - shard
    newest = segments(srv.datadir, other)[-1]
    n = int(re.search(r"wal-(\d+)\.log", newest).group(1))
    zero = os.path.join(os.path.dirname(newest), "wal-%020d.log" % (n + 1))
    with open(zero, "wb") as f:
        f.write(b"\0" * 4096)
    before = data_files(srv.datadir)
    rc, out = srv.run_once(timeout=30)
    assert rc == 1 and seg in out, "strict start with a bad record: exit %r:\n%s" % (rc, out)
    assert_nothing_deleted(before, data_files(srv.datadir), "strict start")
    srv.extra = flags + ["--recover-mode", "keep-prefix"]
    srv.start()
    after = data_files(srv.datadir)
    assert_nothing_deleted(before, after, "keep-prefix start")
    print("  kept: %s" % ", ".join(sorted(f for f in after if "discarded" in f)))
    srv.stop_clean()


# ---------------------------------------------------------------- 5. SIGHUP

@R.test
def sighup_is_ignored(ctx):
    srv = start_under_test(args, name="sighup")   # stopped here, not by the runner
    try:
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert srv.alive(), "SIGHUP ended the server (exit %r)" % srv.proc.poll()
        with RespConn(srv.port) as c:
            assert c.call("PING") == Status("PONG")
        if not is_real_redis(args):
            assert "SIGHUP" in srv.log_text(), srv.log_text()
        clean, msg = srv.stop()
        assert clean, "after SIGHUP, SIGTERM: %s" % msg
        print("  SIGHUP: still answering PING; then SIGTERM: %s" % msg)
    except BaseException:
        srv.stop()
        srv.dump_log()
        raise
    finally:
        srv.cleanup()


sys.exit(R.run())
