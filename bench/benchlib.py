"""Helpers the bench/*.py scripts share: a free loopback port, a server's
CPU time and RSS from /proc, waiting for a server to answer PING, the load
average, writing a --json result file."""

import json
import os
import socket
import time

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    """utime + stime of process pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss(pid):
    """Resident set size of process pid, in bytes (0 if unknown)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_ping(port, tries=400):
    """Waits (tries x 50 ms at most) until the server on port answers PING."""
    for _ in range(tries):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("server on port %d did not answer PING" % port)


def loadavg():
    """The 1-minute load average (/proc/loadavg), as a float."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def write_json(path, obj):
    """Writes obj as JSON to path (a --json FILE), replacing it whole: a
    reader never sees a half-written file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
