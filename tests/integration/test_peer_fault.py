#!/usr/bin/python3
"""Protected mode when the peer's address cannot be read (issue 13): with
the LD_PRELOAD shim tests/fault/fault_shim.c making getpeername() fail,
a client of a server in protected mode without a password is refused and
closed, as Redis does (its connIsLocal() answers -1, not "local"); it used
to be let in. With a password, or once getpeername works again, clients are
served as before.

  --shim PATH   the shim (libfault_shim.so), built by CMake for the tests
"""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ConnectionClosed, RespConn, RespError, Runner, Skip, Status,  # noqa: E402
                     parse_args)
from persist_util import PersistServer, require_memkv  # noqa: E402


def extra(p):
    p.add_argument("--shim", default=None, help="libfault_shim.so")


args = parse_args(__doc__, extra)
R = Runner(args)


def preload_for(server):
    """The shim, after libasan for an ASan build (as test_faults.py)."""
    if not args.shim or not os.path.exists(args.shim):
        raise Skip("fault shim not built (pass --shim PATH)")
    ldd = subprocess.run(["ldd", server], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"(libasan\.so[^\s]*) => (\S+)", ldd)
    return (m.group(2) + ":" if m else "") + os.path.abspath(args.shim)


def set_fault(ctl, text):
    with open(ctl + ".tmp", "w") as f:
        f.write(text)
    os.rename(ctl + ".tmp", ctl)


def ping_answer(port):
    """PING's reply on a new connection, or 'closed'."""
    with RespConn(port, timeout=5.0) as c:
        try:
            return c.call("PING")
        except ConnectionClosed:
            return "closed"
        except ConnectionResetError:
            return "closed"


def start(name):
    """A server in protected mode without a password, under the shim; returns
    it and its control file (no fault yet)."""
    require_memkv(args)
    srv = R.add_server(PersistServer(args, ["--persistence", "off", "--protected-mode", "yes"],
                                     name=name))
    ctl = os.path.join(srv.tmpdir, "fault.ctl")
    set_fault(ctl, "")
    srv.env = {"LD_PRELOAD": preload_for(args.server), "MEMKV_FAULT_CTL": ctl}
    return srv.start(), ctl


@R.test
def unknown_peer_refused_in_protected_mode(_):
    srv, ctl = start("peer-fault")
    assert ping_answer(srv.port) == Status("PONG"), "no fault: served"
    set_fault(ctl, "getpeername ENOTCONN\n")
    got = ping_answer(srv.port)
    set_fault(ctl, "")
    assert got == "closed" or (isinstance(got, RespError) and str(got).startswith("DENIED")), \
        "getpeername failed and the client was served: %r" % (got,)
    assert ping_answer(srv.port) == Status("PONG"), "fault cleared: served again"


@R.test
def unknown_peer_served_with_a_password(_):
    srv, ctl = start("peer-fault-pass")
    with RespConn(srv.port) as c:
        assert c.call("CONFIG", "SET", "requirepass", "s3cret") == Status("OK")
    set_fault(ctl, "getpeername ENOTCONN\n")
    try:
        with RespConn(srv.port, timeout=5.0) as c:
            got = c.call("PING")
            assert isinstance(got, RespError) and str(got).startswith("NOAUTH"), got
            assert c.call("AUTH", "s3cret") == Status("OK")
            assert c.call("PING") == Status("PONG")
    finally:
        set_fault(ctl, "")


sys.exit(R.run())
