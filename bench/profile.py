#!/usr/bin/env python3
"""bench/profile.py: where a connection's CPU goes, by kernel entry point.

For each server given as NAME:PORT:COMM (COMM: the start of its processes'
command name, as in /proc/PID/comm), runs `perf record -a -g` over a wrk
run of one-request connections to it (1 KiB, Host a.test, `Connection:
close`) and prints, per connection, the CPU time its processes spent under
each system call, page faults, the first return of a fork, and in user
space, side by side; other processes (wrk, kernel threads) apart. The
servers must be running and serve /1k.html for a.test, as bench/run lays
them out (BENCH_KEEP=1 keeps its directory). Needs perf (linux-perf).

usage: bench/profile.py [-s SECONDS] NAME:PORT:COMM NAME:PORT:COMM ...
e.g.   bench/profile.py itkd:8080:itkd floor_fork2:8090:floor_fork

A sample is 1/FREQ s of one CPU; the figure is samples x that / the
connections wrk made. Sampling is statistical: compare servers in one run,
not figures across runs.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

FREQ = 2000
ENTRY = re.compile(r"(?:__x64_sys_|__arm64_sys_|__do_sys_|__se_sys_)(\w+)")


def record(port, seconds, out):
    """perf record -a -g around wrk; the connections made."""
    wrk = ["wrk", "-t2", "-c32", "-d%ds" % seconds, "-H", "Connection: close",
           "-H", "Host: a.test", "http://127.0.0.1:%d/1k.html" % port]
    r = subprocess.run(["perf", "record", "-q", "-F", str(FREQ), "-a", "-g", "-o", out, "--"]
                       + wrk, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       universal_newlines=True)
    m = re.search(r"(\d+) requests in", r.stdout)
    return int(m.group(1)) if m else 0


def entry_of(frames):
    """The outermost kernel entry of a call chain (innermost first)."""
    entry = None
    for f in frames:
        m = ENTRY.match(f)
        if m:
            entry = m.group(1)
        elif f in ("exc_page_fault", "ret_from_fork") and entry is None:
            entry = f
    if entry is None:
        entry = "user: " + (frames[0] if frames else "?")
    return entry


def samples(data, comm):
    """Counter of entry -> samples for processes whose comm starts with comm."""
    p = subprocess.Popen(["perf", "script", "-i", data, "-F", "comm,ip,sym"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True)
    c = collections.Counter()
    who, frames = None, []
    for line in list(p.stdout) + ["\n"]:
        if not line.strip():
            if who is not None:
                c[entry_of(frames) if who.startswith(comm) else "(other processes)"] += 1
            who, frames = None, []
        elif not line[0].isspace():
            who = line.strip()
        else:
            parts = line.split(None, 1)
            frames.append(parts[-1].strip())
    p.wait()
    return c


def main(argv):
    seconds = 5
    if len(argv) > 2 and argv[1] == "-s":
        seconds = int(argv[2])
        argv = argv[2:]
    servers = [a.split(":") for a in argv[1:]]
    if not servers or any(len(s) != 3 for s in servers):
        sys.stderr.write(__doc__)
        return 2
    per = []
    with tempfile.TemporaryDirectory(prefix="itkd-profile-") as d:
        for name, port, comm in servers:
            data = os.path.join(d, name + ".data")
            n = record(int(port), seconds, data)
            if n == 0:
                print("%s: wrk made no connection on port %s" % (name, port))
                return 1
            per.append((name, n, samples(data, comm)))
    us = 1e6 / FREQ
    keys = set()
    for _, _, c in per:
        keys |= set(c)
    order = sorted(keys, key=lambda k: -max(c[k] / n for _, n, c in per))
    print("| per connection, µs of CPU | " + " | ".join(n for n, _, _ in per) + " |")
    print("|---|" + "---:|" * len(per))
    for k in order:
        if max(c[k] * us / n for _, n, c in per) < 5:
            continue
        print("| %s | " % k + " | ".join("%.0f" % (c[k] * us / n) for _, n, c in per) + " |")
    print("| **the server's processes, in all** | " + " | ".join(
        "%.0f" % (sum(v for k, v in c.items() if k != "(other processes)") * us / n)
        for _, n, c in per) + " |")
    print("| connections | " + " | ".join(str(n) for _, n, _ in per) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
