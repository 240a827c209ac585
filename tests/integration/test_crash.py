#!/usr/bin/python3
"""Crash tests (issue 3): SIGKILL at random moments, some while a COMPACT
is running, over strings, counters and hashes (HSET/HDEL/HINCRBY with binary
fields); after every restart on the same --dir each acknowledged write is
present at its latest acknowledged version (or at a later version whose
write was in flight at the kill), and nothing is invented. Also: TTLs keep
their absolute deadlines across restart and compaction.

  --fsync MODE   always | interval (SIGKILL without power loss loses nothing
                 acknowledged in either mode: the records reached the page cache)
  --cycles N     kill/restart cycles (default 15)
  --seed N       random seed (printed; default: random)
"""

import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ConnectionClosed, RespError, Runner, Status, encode, parse_args  # noqa: E402
from persist_util import PersistServer, dump_all, require_memkv, wait_compactions  # noqa: E402


def extra(p):
    p.add_argument("--fsync", default="always", choices=["always", "interval", "no"])
    p.add_argument("--cycles", type=int, default=15)
    p.add_argument("--seed", type=int, default=None)


args = parse_args(__doc__, extra)
R = Runner(args)
OK = Status("OK")
SEED = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
print("seed %d (re-run with --seed %d)" % (SEED, SEED))
NSHARDS = 16
SERVER_FLAGS = ["--fsync", args.fsync, "--fsync-interval-ms", "50", "--shards", str(NSHARDS),
                "--wal-segment-size", "1mb", "--compact-log-size", "0"]

PRE_N = 20000          # written once, must survive every cycle unchanged
WRITERS = 3
SET_KEYS = 300         # per writer: SET/DEL keys
CNT_KEYS = 100         # per writer: INCR/DEL counters
HASH_KEYS = 100        # per writer: hashes under HSET/HDEL/HINCRBY/DEL
HASH_FIELDS = [b"f0", b"f1", b"f2\x00bin", b"f3\r\n", b"n"]
PIPE = 16              # commands per pipeline


def pre_key(i):
    return b"pre:%06d" % i


def pre_val(i):
    return (b"prefill-%06d-" % i) * 4


def pad(key, ver):
    return b"%s=%d|" % (key, ver) + b"x" * (ver % 37)


class Writer:
    """One connection, its own keys. For each key, hist is the list of the
    states the key goes through, in the order its commands were sent; acked
    is the index of the latest state whose reply was read. After a kill the
    key must be in one of hist[acked:] (same shard, same order: the WAL holds
    a prefix of the key's commands that includes every acknowledged one)."""

    def __init__(self, wid, rng):
        self.wid = wid
        self.rng = rng
        self.set_keys = [b"w%d:k:%04d" % (wid, i) for i in range(SET_KEYS)]
        self.cnt_keys = [b"w%d:c:%04d" % (wid, i) for i in range(CNT_KEYS)]
        self.hash_keys = [b"w%d:h:%04d" % (wid, i) for i in range(HASH_KEYS)]
        self.hist = {k: [None] for k in self.set_keys + self.cnt_keys + self.hash_keys}
        self.acked = {k: 0 for k in self.hist}
        self.ver = {k: 0 for k in self.set_keys}
        self.acks = 0
        self.errors = []
        self.thread = None

    def keys(self):
        return self.hist.keys()

    def _hash_op(self):
        """HSET, HDEL or HINCRBY on a hash key; its states are sorted tuples
        of (field, value) pairs, None when the key is gone."""
        k = self.rng.choice(self.hash_keys)
        prev = dict(self.hist[k][-1] or ())
        f = self.rng.choice(HASH_FIELDS)
        r = self.rng.random()
        if f == b"n":
            n = int(prev.get(f, b"0")) + 1
            prev[f] = b"%d" % n
            cmd, want = encode(b"HINCRBY", k, f, b"1"), n
        elif r < 0.7:
            self.ver.setdefault(k, 0)
            self.ver[k] += 1
            v = pad(k + f, self.ver[k]) + b"\x00\r\n"
            want = 0 if f in prev else 1
            prev[f] = v
            cmd = encode(b"HSET", k, f, v)
        else:
            want = 1 if prev.pop(f, None) is not None else 0
            cmd = encode(b"HDEL", k, f)
        self.hist[k].append(tuple(sorted(prev.items())) or None)
        return k, cmd, want

    def _op(self):
        """Picks one command; returns (key, cmd, expected reply)."""
        r = self.rng.random()
        if r < 0.25:
            return self._hash_op()
        r = (r - 0.25) / 0.75
        if r < 0.55:
            k = self.rng.choice(self.set_keys)
            self.ver[k] += 1
            v = pad(k, self.ver[k])
            prev = self.hist[k][-1]
            self.hist[k].append(v)
            return k, encode(b"SET", k, v), OK
        if r < 0.85:
            k = self.rng.choice(self.cnt_keys)
            prev = self.hist[k][-1]
            n = (int(prev) if prev is not None else 0) + 1
            self.hist[k].append(b"%d" % n)
            return k, encode(b"INCR", k), n
        k = self.rng.choice(self.set_keys + self.cnt_keys + self.hash_keys)
        prev = self.hist[k][-1]
        self.hist[k].append(None)
        return k, encode(b"DEL", k), 1 if prev is not None else 0

    def run(self, port, stop):
        from harness import RespConn
        try:
            c = RespConn(port, timeout=30)
        except OSError as e:
            self.errors.append("connect: %s" % e)
            return
        try:
            while not stop.is_set():
                ops = [self._op() for _ in range(PIPE)]
                c.send(b"".join(o[1] for o in ops))
                for k, _, want in ops:
                    got = c.read_reply()
                    if got != want:
                        self.errors.append("%r: reply %r, expected %r" % (k, got, want))
                        stop.set()
                        return
                    # this key's states up to here are acknowledged
                    self.acked[k] = self._index_of_next_ack(k)
                    self.acks += 1
        except (ConnectionClosed, OSError, ValueError):
            pass                      # the kill
        finally:
            c.close()

    def _index_of_next_ack(self, k):
        # replies come in command order, so the n-th reply for k acknowledges
        # hist[k][acked+1]
        return self.acked[k] + 1

    def check(self, c, where):
        """After a restart: every key is in an allowed state. Then the
        recovered state becomes the only state."""
        keys = list(self.hist)
        hashes = set(self.hash_keys)
        got = c.pipeline([("HGETALL" if k in hashes else "GET", k) for k in keys])
        for i, k in enumerate(keys):
            if k in hashes:
                pairs = got[i]
                got[i] = tuple(sorted(zip(pairs[0::2], pairs[1::2]))) or None
        bad = []
        inflight_applied = 0
        for k, v in zip(keys, got):
            allowed = self.hist[k][self.acked[k]:]
            if v not in allowed:
                bad.append("%r = %r; acknowledged %r; allowed %r" % (
                    k, v, self.hist[k][self.acked[k]], allowed[:4]))
            elif v != allowed[0]:
                inflight_applied += 1
            self.hist[k] = [v]
            self.acked[k] = 0
            if k in self.ver and v is not None and k not in hashes:
                self.ver[k] = max(self.ver[k], int(v.split(b"=")[1].split(b"|")[0]))
        assert not bad, "%s: writer %d lost or invented data (%d keys):\n  %s" % (
            where, self.wid, len(bad), "\n  ".join(bad[:10]))
        return inflight_applied


def check_all(srv, writers, where):
    with srv.conn() as c:
        # prefill intact
        got = c.pipeline([("GET", pre_key(i)) for i in range(PRE_N)])
        bad = [(pre_key(i), g) for i, g in enumerate(got) if g != pre_val(i)]
        assert not bad, "%s: %d prefill keys wrong, e.g. %r" % (where, len(bad), bad[:3])
        inflight = sum(w.check(c, where) for w in writers)
        # nothing invented: every key is one we wrote
        known = set(pre_key(i) for i in range(PRE_N))
        for w in writers:
            known.update(w.keys())
        keys = c.call("KEYS", "*")
        extra_keys = [k for k in keys if k not in known]
        assert not extra_keys, "%s: invented keys %r" % (where, extra_keys[:5])
    return inflight


@R.test
def crash_cycles(ctx):
    require_memkv(args)
    rng = random.Random(SEED)
    srv = R.add_server(PersistServer(args, SERVER_FLAGS, name="crash-" + args.fsync))
    srv.start()
    with srv.conn() as c:
        cmds = [encode(b"SET", pre_key(i), pre_val(i)) for i in range(PRE_N)]
        for s in range(0, PRE_N, 5000):
            got = c.send_and_read(b"".join(cmds[s:s + 5000]), len(cmds[s:s + 5000]))
            assert all(g == OK for g in got), "prefill failed: %r" % [g for g in got if g != OK][:3]
    writers = [Writer(i, random.Random(rng.random())) for i in range(WRITERS)]
    mid_compaction = compact_cycles = 0
    total_acks = total_inflight = 0
    for cycle in range(args.cycles):
        stop = threading.Event()
        for w in writers:
            w.thread = threading.Thread(target=w.run, args=(srv.port, stop), daemon=True)
            w.thread.start()
        time.sleep(rng.uniform(0.15, 0.6))
        compacting = cycle % 2 == 1
        if compacting:
            with srv.conn() as c:
                assert c.call("COMPACT") == OK
            # a few ms .. a second or two into the compaction (under load an
            # ASan build takes about a second for the 16 shards)
            lo, hi = [(0, 0.01), (0.1, 0.5), (0.01, 0.1), (0.5, 2.0)][compact_cycles % 4]
            time.sleep(rng.uniform(lo, hi))
        srv.kill()
        stop.set()
        for w in writers:
            w.thread.join(30)
            assert not w.thread.is_alive(), "writer hung after the kill"
            assert not w.errors, "writer %d: %s" % (w.wid, w.errors[:3])
        done = srv.compactions_done()
        if compacting:
            compact_cycles += 1
            if done < NSHARDS:
                mid_compaction += 1
        acks = sum(w.acks for w in writers) - total_acks
        total_acks += acks
        srv.start()
        inflight = check_all(srv, writers, "cycle %d" % cycle)
        total_inflight += inflight
        loaded = srv.loaded_line()
        print("  cycle %2d: %5d acks, %s, killed; restart: %s keys in %s s; "
              "%d in-flight writes found applied" % (
                  cycle, acks, "COMPACT (%2d/%d shards done at the kill)" % (done, NSHARDS)
                  if compacting else "no compaction", loaded and loaded[0],
                  loaded and loaded[1], inflight))
    # the last state also survives a clean shutdown and a restart
    srv.stop_clean()
    srv.start()
    check_all(srv, writers, "after clean restart")
    srv.stop_clean()
    print("  %d cycles, %d acknowledged writes checked, %d kills during a compaction "
          "(of %d COMPACT cycles)" % (args.cycles, total_acks, mid_compaction, compact_cycles))
    assert mid_compaction >= 1, "no kill landed inside a compaction"


# ---------------------------------------------------------------- TTLs

def pexpiretimes(c, keys):
    return dict(zip(keys, c.pipeline([("PEXPIRETIME", k) for k in keys])))


@R.test
def ttl_deadlines_survive_restart_and_compaction(ctx):
    require_memkv(args)
    srv = R.add_server(PersistServer(args, SERVER_FLAGS, name="ttl-" + args.fsync))
    srv.start()
    now_ms = int(time.time() * 1000)
    long_keys = [b"ttl:long:%03d" % i for i in range(200)]
    short_keys = [b"ttl:short:%03d" % i for i in range(100)]
    plain = [b"ttl:none:%03d" % i for i in range(50)]
    with srv.conn() as c:
        cmds = []
        for i, k in enumerate(long_keys):
            form = i % 5
            if form == 0:
                cmds.append(("SET", k, b"v%d" % i, "PX", 3600 * 1000 + i))
            elif form == 1:
                cmds.append(("SET", k, b"v%d" % i, "EX", 7200 + i))
            elif form == 2:
                cmds.append(("SET", k, b"v%d" % i, "PXAT", now_ms + 5000000 + i))
            elif form == 3:
                cmds.append(("SET", k, b"%d" % i))
                cmds.append(("PEXPIRE", k, 900000 + i))
                cmds.append(("INCR", k))          # keeps the TTL
            else:
                cmds.append(("SET", k, b"v%d" % i))
                cmds.append(("PEXPIREAT", k, now_ms + 4000000 + i))
                cmds.append(("SET", k, b"w%d" % i, "KEEPTTL"))
        for i, k in enumerate(short_keys):
            cmds.append(("SET", k, b"s%d" % i, "PX", 1200))
        for i, k in enumerate(plain):
            cmds.append(("SET", k, b"p%d" % i, "PX", 3600000))
            cmds.append(("PERSIST", k))           # no deadline any more
        got = c.pipeline(cmds)
        assert not [g for g in got if isinstance(g, RespError)], got
        before = dump_all(c)
    t_set = time.monotonic()
    for k in long_keys:
        assert before[k][1] > now_ms, (k, before[k])
    for k in plain:
        assert before[k][1] == -1, (k, before[k])
    srv.kill()
    # the short deadlines pass while the server is down
    time.sleep(max(0, 1.5 - (time.monotonic() - t_set)))
    srv.start()
    with srv.conn() as c:
        after = dump_all(c)
    want = {k: v for k, v in before.items() if not k.startswith(b"ttl:short:")}
    assert after == want, "after restart: %d differ, e.g. %r" % (
        sum(1 for k in set(after) | set(want) if after.get(k) != want.get(k)),
        [(k, want.get(k), after.get(k)) for k in set(after) | set(want)
         if after.get(k) != want.get(k)][:5])
    # compaction: the snapshot keeps the same absolute deadlines
    with srv.conn() as c:
        assert c.call("COMPACT") == OK
    wait_compactions(srv, NSHARDS)
    with srv.conn() as c:
        assert dump_all(c) == want, "after COMPACT"
    srv.kill()
    srv.start()
    with srv.conn() as c:
        got = dump_all(c)
        loaded = srv.loaded_line()
    assert got == want, "after compaction and a restart from the snapshot: %r" % (
        [(k, want.get(k), got.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)][:5])
    srv.stop_clean()
    print("  %d keys with deadlines, %d expired while down, %d without; reloaded %s" % (
        len(long_keys), len(short_keys), len(plain), loaded))


sys.exit(R.run())
