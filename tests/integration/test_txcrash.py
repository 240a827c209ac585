#!/usr/bin/python3
"""Crash atomicity of transactions over several shards (issue 15): writers
run MULTI/SET k1/SET k2/SET k3/EXEC over key groups (three keys, usually on
three shards and, with several actors, on several actors), and EVAL that
sets a group (with one actor, where a script may touch any key), while a
thread asks for COMPACT now and then; the server is SIGKILLed at random
moments, many times. After every restart on the same --dir every group is
all-or-nothing: its keys hold the same version, which is at least the last
acknowledged one and at most the last sent. The log's "dropped ...
transaction(s)" lines count the transactions recovery refused to apply
half.

With --plain the writers use no transaction at all: plain MSET of a group
(and now and then DEL or UNLINK of it, version 0), which the server splits
per shard like any multi-key write; the same all-or-nothing check holds.
A further thread moves tokens between two names by RENAME (usually across
shards), and two more move list elements by LMOVE and set members by SMOVE
between two keys (usually on two shards, then one frozen run): after every
restart each token is under exactly one name, each element in exactly one
of its two keys.

  --plain         plain MSET / DEL / UNLINK instead of MULTI/EXEC and EVAL
  --fsync MODE    always | interval | no (SIGKILL without power loss: every
                  mode must keep every acknowledged EXEC)
  --actors N      --actor-threads of the server (default 2; 1 adds EVAL)
  --cycles N      kill/restart cycles (default 12)
  --seed N        random seed (printed; default: random)
"""

import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ConnectionClosed, Runner, encode, parse_args  # noqa: E402
from persist_util import PersistServer, require_memkv  # noqa: E402


def extra(p):
    p.add_argument("--fsync", default="always", choices=["always", "interval", "no"])
    p.add_argument("--actors", type=int, default=2)
    p.add_argument("--cycles", type=int, default=12)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--plain", action="store_true")


args = parse_args(__doc__, extra)
R = Runner(args)
SEED = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
print("seed %d (re-run with --seed %d)" % (SEED, SEED))
SERVER_FLAGS = ["--fsync", args.fsync, "--fsync-interval-ms", "20", "--shards", "16",
                "--actor-threads", str(args.actors), "--io-threads", "2",
                "--wal-segment-size", "1mb", "--compact-log-size", "0"]
WRITERS = 4
GROUPS = 64            # per writer
KEYS = 3               # per group
PIPE = 8               # transactions per pipeline
EVAL_SRC = b"for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1]) end return #KEYS"


def value(gkey, ver):
    return b"%s|%d|" % (gkey, ver) + b"x" * (ver % 53)


def version(v):
    return None if v is None else int(v.split(b"|")[1])


class Writer:
    """Its own groups. hist[g]: the versions sent for group g, in order
    (0: no keys); acked[g]: index in hist[g] of the newest acknowledged."""

    def __init__(self, wid, rng, use_eval):
        self.wid = wid
        self.rng = rng
        self.use_eval = use_eval
        self.groups = [[b"w%d:g%03d:k%d" % (wid, g, i) for i in range(KEYS)]
                       for g in range(GROUPS)]
        self.hist = [[0] for _ in range(GROUPS)]
        self.acked = [0] * GROUPS
        self.next_ver = 1
        self.acks = 0
        self.errors = []

    def _tx(self, g):
        keys = self.groups[g]
        if args.plain and self.rng.random() < 0.15:
            self.hist[g].append(0)  # deleted: every key absent
            return encode(self.rng.choice([b"DEL", b"UNLINK"]), *keys), 1
        ver = self.next_ver
        self.next_ver += 1
        self.hist[g].append(ver)
        val = value(b"w%d:g%03d" % (self.wid, g), ver)
        if args.plain:
            return encode(b"MSET", *[x for k in keys for x in (k, val)]), 1
        if self.use_eval and self.rng.random() < 0.5:
            return encode(b"EVAL", EVAL_SRC, str(KEYS).encode(), *keys, val), 1
        cmd = encode(b"MULTI") + b"".join(encode(b"SET", k, val) for k in keys) + encode(b"EXEC")
        return cmd, KEYS + 2

    def run(self, port, stop):
        from harness import RespConn
        try:
            c = RespConn(port, timeout=30)
        except OSError as e:
            self.errors.append("connect: %s" % e)
            return
        try:
            while not stop.is_set():
                gs = [self.rng.randrange(GROUPS) for _ in range(PIPE)]
                txs = [self._tx(g) for g in gs]
                c.send(b"".join(t[0] for t in txs))
                for g, (_, nrep) in zip(gs, txs):
                    last = None
                    for _ in range(nrep):
                        last = c.read_reply()
                    ok = last == KEYS or (isinstance(last, list) and len(last) == KEYS)
                    if args.plain:  # MSET: OK; DEL/UNLINK: how many keys existed
                        ok = last == "OK" or (isinstance(last, int) and 0 <= last <= KEYS)
                    if not ok:
                        self.errors.append("group %d: reply %r" % (g, last))
                        stop.set()
                        return
                    self.acked[g] += 1
                    self.acks += 1
        except (ConnectionClosed, OSError, ValueError):
            pass                      # the kill
        finally:
            c.close()

    def check(self, c, where):
        """After a restart: each group whole, at an allowed version; that
        version becomes the group's only history."""
        bad = []
        got = c.pipeline([tuple([b"MGET"] + keys) for keys in self.groups])
        inflight = 0
        for g, vals in enumerate(got):
            vers = [version(v) for v in vals]
            if len(set(vers)) != 1:
                bad.append("group %d HALF-APPLIED: versions %r" % (g, vers))
                continue
            v = vers[0] or 0
            allowed = self.hist[g][self.acked[g]:]
            if v not in allowed:
                bad.append("group %d at version %r; acknowledged %r, allowed %r" % (
                    g, v, self.hist[g][self.acked[g]], allowed[:5]))
                continue
            inflight += v != allowed[0]
            self.hist[g] = [v]
            self.acked[g] = 0
        assert not bad, "%s: writer %d (%d groups):\n  %s" % (
            where, self.wid, len(bad), "\n  ".join(bad[:10]))
        return inflight


class Renamer:
    """--plain: tokens that move between two names (usually on two shards)
    by RENAME; after every restart each token is under exactly one of its
    names: the acknowledged one, or the target of the RENAME in flight."""

    TOKENS = 48

    def __init__(self, rng):
        self.rng = rng
        self.names = [(b"rn:%d:a" % i, b"rn:%d:b" % i) for i in range(self.TOKENS)]
        self.pos = [0] * self.TOKENS        # acknowledged name (index)
        self.sent = [None] * self.TOKENS    # target of the RENAME in flight
        self.acks = 0
        self.errors = []

    def setup(self, c):
        c.pipeline([(b"SET", n[0], b"token %d" % i) for i, n in enumerate(self.names)])

    def run(self, port, stop):
        from harness import RespConn
        try:
            c = RespConn(port, timeout=30)
        except OSError as e:
            self.errors.append("connect: %s" % e)
            return
        try:
            while not stop.is_set():
                toks = self.rng.sample(range(self.TOKENS), 8)
                for i in toks:
                    self.sent[i] = 1 - self.pos[i]
                c.send(b"".join(encode(b"RENAME", self.names[i][self.pos[i]],
                                       self.names[i][self.sent[i]]) for i in toks))
                for i in toks:
                    r = c.read_reply()
                    if r != "OK":
                        self.errors.append("token %d: RENAME replied %r" % (i, r))
                        stop.set()
                        return
                    self.pos[i], self.sent[i] = self.sent[i], None
                    self.acks += 1
        except (ConnectionClosed, OSError, ValueError):
            pass                      # the kill
        finally:
            c.close()

    def check(self, c, where):
        got = c.pipeline([(b"MGET",) + n for n in self.names])
        bad = []
        for i, vals in enumerate(got):
            at = [k for k in (0, 1) if vals[k] == b"token %d" % i]
            if len(at) != 1 or at[0] not in (self.pos[i], self.sent[i]):
                bad.append("token %d: under %r (acknowledged under %d, in flight to %r): %r" % (
                    i, at, self.pos[i], self.sent[i], vals))
                continue
            self.pos[i], self.sent[i] = at[0], None
        assert not bad, "%s: RENAME (%d tokens):\n  %s" % (where, len(bad), "\n  ".join(bad[:10]))


class Mover(Renamer):
    """--plain: one element per token that LMOVE (lists) or SMOVE (sets)
    moves between two keys (usually on two shards); after every restart it
    is in exactly one of them: the acknowledged one, or the target of the
    move in flight. Never in neither (a pop without its push) nor in both."""

    def __init__(self, rng, kind):
        super().__init__(rng)
        self.kind = kind
        self.names = [(b"mv%s:%d:a" % (kind, i), b"mv%s:%d:b" % (kind, i))
                      for i in range(self.TOKENS)]

    def setup(self, c):
        add = b"RPUSH" if self.kind == b"l" else b"SADD"
        c.pipeline([(add, n[0], b"token %d" % i) for i, n in enumerate(self.names)])

    def run(self, port, stop):
        from harness import RespConn
        try:
            c = RespConn(port, timeout=30)
        except OSError as e:
            self.errors.append("connect: %s" % e)
            return
        try:
            while not stop.is_set():
                toks = self.rng.sample(range(self.TOKENS), 8)
                cmds = []
                for i in toks:
                    self.sent[i] = 1 - self.pos[i]
                    src, dst = self.names[i][self.pos[i]], self.names[i][self.sent[i]]
                    if self.kind == b"l":
                        cmds.append(encode(b"LMOVE", src, dst, b"LEFT", b"RIGHT"))
                    else:
                        cmds.append(encode(b"SMOVE", src, dst, b"token %d" % i))
                c.send(b"".join(cmds))
                for i in toks:
                    r = c.read_reply()
                    if r != (b"token %d" % i if self.kind == b"l" else 1):
                        self.errors.append("token %d: move replied %r" % (i, r))
                        stop.set()
                        return
                    self.pos[i], self.sent[i] = self.sent[i], None
                    self.acks += 1
        except (ConnectionClosed, OSError, ValueError):
            pass                      # the kill
        finally:
            c.close()

    def check(self, c, where):
        read = ((lambda k: (b"LRANGE", k, b"0", b"-1")) if self.kind == b"l"
                else (lambda k: (b"SMEMBERS", k)))
        got = c.pipeline([read(k) for n in self.names for k in n])
        bad = []
        for i in range(self.TOKENS):
            at = [k for k in (0, 1) if got[2 * i + k] == [b"token %d" % i]]
            if len(at) != 1 or got[2 * i + 1 - at[0]] != [] or \
                    at[0] not in (self.pos[i], self.sent[i]):
                bad.append("token %d: in %r (acknowledged in %d, in flight to %r): %r" % (
                    i, at, self.pos[i], self.sent[i], got[2 * i:2 * i + 2]))
                continue
            self.pos[i], self.sent[i] = at[0], None
        assert not bad, "%s: %s (%d tokens):\n  %s" % (
            where, "LMOVE" if self.kind == b"l" else "SMOVE", len(bad), "\n  ".join(bad[:10]))


def compactor(port, stop, rng):
    from harness import RespConn
    try:
        with RespConn(port, timeout=30) as c:
            while not stop.is_set():
                time.sleep(rng.uniform(0.05, 0.3))
                c.call("COMPACT")
    except (ConnectionClosed, OSError, ValueError):
        pass


def dropped_count(log):
    n = 0
    for line in log.splitlines():
        if "recovery: dropped" in line:
            n += int(line.split("recovery: dropped")[1].split()[0])
    return n


@R.test
def txcrash_cycles(ctx):
    require_memkv(args)
    rng = random.Random(SEED)
    srv = R.add_server(PersistServer(args, SERVER_FLAGS,
                                     name="txcrash-%s-%d%s" % (args.fsync, args.actors,
                                                               "-plain" if args.plain else "")))
    srv.start()
    writers = [Writer(i, random.Random(rng.random()), args.actors == 1 and not args.plain)
               for i in range(WRITERS)]
    movers = [Renamer(random.Random(rng.random())),
              Mover(random.Random(rng.random()), b"l"),
              Mover(random.Random(rng.random()), b"s")] if args.plain else []
    with srv.conn() as c:
        for m in movers:
            m.setup(c)
    total_acks = total_inflight = total_dropped = 0
    for cycle in range(args.cycles):
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(srv.port, stop), daemon=True)
                   for w in writers]
        threads.append(threading.Thread(target=compactor, args=(srv.port, stop,
                                        random.Random(rng.random())), daemon=True))
        for m in movers:
            threads.append(threading.Thread(target=m.run, args=(srv.port, stop), daemon=True))
        acks0 = sum(w.acks for w in writers)
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.2))
        srv.kill()
        stop.set()
        for t in threads:
            t.join(30)
            assert not t.is_alive(), "a client hung after the kill"
        for w in writers:
            assert not w.errors, "writer %d: %s" % (w.wid, w.errors[:3])
        for m in movers:
            assert not m.errors, "%s: %s" % (type(m).__name__, m.errors[:3])
        srv.start()
        dropped = dropped_count(srv.log_since_start())
        with srv.conn() as c:
            inflight = sum(w.check(c, "cycle %d" % cycle) for w in writers)
            for m in movers:
                m.check(c, "cycle %d" % cycle)
        acks = sum(w.acks for w in writers) - acks0
        total_acks += acks
        total_inflight += inflight
        total_dropped += dropped
        print("  cycle %2d: %5d acknowledged transactions; restart: %d in flight applied whole, "
              "%d dropped by recovery" % (cycle, acks, inflight, dropped))
    srv.stop_clean()
    print("  %d cycles, %d acknowledged transactions, every group all-or-nothing; %d in flight "
          "applied whole, %d dropped whole" % (args.cycles, total_acks, total_inflight,
                                               total_dropped))
    if movers:
        print("  moves acknowledged: RENAME %d, LMOVE %d, SMOVE %d; each token in one place "
              "after every restart" % tuple(m.acks for m in movers))
        assert all(m.acks > 0 for m in movers)
    assert total_acks > 0


sys.exit(R.run())
