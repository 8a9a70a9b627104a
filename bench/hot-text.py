#!/usr/bin/env python3
"""bench/hot-text.py: write scripts/hot-text.ld, the code a connection runs.

A forked process starts with no page of the binary's code mapped: each
64 KiB window of code it runs costs it a fault, and on a paravirtualised
MMU each 4 KiB page it first touches costs the hypervisor a shadow entry
as well (~3 us on the machine of bench/results). The linker, left alone,
spreads the code a one-request connection runs over the whole text. This
tool single-steps the processes of a few connections to ./itkd-static
(tests/helpers/steptrace), names the input sections their instructions
lie in from the link map (build/static/TARGET/obj/itkd-static-TARGET.map,
left by `make static`), and writes them to scripts/hot-text.ld, which
scripts/static hands to the linker: the gatekeeper's code first, then the
code both processes run, then the monitor's and stage 2's, each in the
order first run.

The server: tests' two_vhost_conf (an access log, an error log). The
connections: a plain one of one request for a small file, and a
kept-alive one whose first request takes gzip and br. Run it after a
change to what they run, then `make static`; test_static_build.py fails
when the code of a plain connection leaves the section.

usage: bench/hot-text.py          (root; after make static and make check's
                                   helpers: tests/helpers/steptrace)
"""
import bisect
import os
import re
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests"))
import itkdtest  # noqa: E402
from itkdtest import Server, step_trace, two_vhost_conf, two_vhost_roots  # noqa: E402

OUT = os.path.join(TOP, "scripts", "hot-text.ld")
# GCC's names for the copies it makes of a function (LTO's file-local
# ones, constant-propagated, split-off and scalar-replaced): the section
# .text.f.constprop.0 is f's, and the pattern .text.f.* finds it again
# whatever number the next build gives it.
CLONE = re.compile(r"\.(?:lto_priv|constprop|part|isra|cold)(?:\.\d+)?")


def host_target():
    r = subprocess.run(["sh", "-c", '. "$1/static-targets"; static_host', "sh",
                        os.path.join(TOP, "scripts")], capture_output=True, text=True)
    return r.stdout.strip()


def text_sections(mapfile):
    """[(start, size, name, file)] of every input section the link put in
    an output section whose name starts with .text."""
    secs, out, pending = [], None, None
    with open(mapfile) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^(\.\S+)", line)
            if m:
                out = m.group(1)
                continue
            if out is None or not out.startswith(".text"):
                continue
            m = re.match(r"^ (\.text\S*)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+))?\s*$", line)
            if m and m.group(2):
                secs.append((int(m.group(2), 16), int(m.group(3), 16), m.group(1), m.group(4)))
                pending = None
            elif m:
                pending = m.group(1)        # its address is on the next line
            elif pending:
                m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
                if m:
                    secs.append((int(m.group(1), 16), int(m.group(2), 16), pending, m.group(3)))
                pending = None
    return sorted(s for s in secs if s[1] > 0)


def pattern(sec):
    """The linker script's pattern for an input section; None if it has
    no name of its own (an LTO partition's plain .text)."""
    _, _, name, src = sec
    if name == ".text":
        m = re.match(r".*/(lib[^/]+\.a)\(([^)]+)\)$", src)
        return "*%s:%s(.text)" % (m.group(1), m.group(2)) if m else None
    base = CLONE.sub("", name)
    return "*(%s %s.*)" % (base, base)


def client(port):
    def go():
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
        s.close()
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nAccept-Encoding: gzip, br\r\n\r\n")
        itkdtest.read_response(s)
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
        s.close()
    return go


def main():
    if os.geteuid() != 0:
        sys.exit("bench/hot-text.py: needs root (it starts itkd and traces it)")
    target = host_target()
    binary = os.path.join(TOP, "itkd-static-" + target)
    mapfile = os.path.join(TOP, "build", "static", target, "obj", "itkd-static-%s.map" % target)
    for p in (binary, mapfile):
        if not os.path.exists(p):
            sys.exit("bench/hot-text.py: %s is missing: run make static" % p)
    itkdtest.ITKD = binary
    srv = Server(two_vhost_conf(), name="hot-text", start=False)
    two_vhost_roots(srv.dir)
    srv.start()
    try:
        itkdtest.get(srv.port, "/index.html")
        srv.spawners(wait=5)                   # traced from its start
        time.sleep(0.5)
        roles = step_trace(srv.proc.pid, client(srv.port))
    finally:
        srv.cleanup()
    if isinstance(roles, str):
        sys.exit("bench/hot-text.py: cannot trace: " + roles)
    if not roles["monitor"] or not roles["gatekeeper"]:
        sys.exit("bench/hot-text.py: no connection traced")
    secs = text_sections(mapfile)
    starts = [s[0] for s in secs]

    def section_of(addr):
        i = bisect.bisect_right(starts, addr) - 1
        return secs[i] if i >= 0 and addr < secs[i][0] + secs[i][1] else None

    first = {}          # pattern -> (order first run, roles that ran it)
    size = {}
    for role in ("gatekeeper", "monitor"):
        for addr in roles[role]:
            sec = section_of(addr)
            p = sec and pattern(sec)
            if not p:
                continue
            first.setdefault(p, [len(first), set()])[1].add(role)
            size.setdefault(p, sec[1])
    groups = [("gatekeeper",), ("gatekeeper", "monitor"), ("monitor",)]
    lines = []
    for g in groups:
        ps = sorted((v[0], p) for p, v in first.items() if tuple(sorted(v[1])) == g)
        lines.append("\t\t/* %s */" % " and ".join(g))
        lines += ["\t\t%s" % p for _, p in ps]
    with open(OUT + ".tmp", "w") as f:
        f.write(HEADER)
        f.write("SECTIONS\n{\n\t.text.itkd_hot :\n\t{\n")
        f.write("\n".join(lines) + "\n")
        f.write("\t}\n}\nINSERT BEFORE .text;\n")
        f.write(FORK_DATA)
    os.rename(OUT + ".tmp", OUT)
    print("bench/hot-text.py: %d input sections, %d bytes, in %s" %
          (len(first), sum(s for s in size.values()), os.path.relpath(OUT, TOP)))


HEADER = """/* scripts/hot-text.ld: the code a connection's processes run, first and
 * together (scripts/static passes it to the linker; INSERT keeps the
 * default script for everything else).
 *
 * A forked process has none of the binary's code mapped: each 64 KiB
 * window it runs costs a fault, and on a paravirtualised MMU each 4 KiB
 * page it first touches costs a shadow entry besides (~3 us each on the
 * machine of bench/results). Left to the linker, a one-request
 * connection's code lay on 19 pages of the gatekeeper and 27 of the
 * monitor, in all four windows of the text; in this order, on 4 and 10,
 * in the first window.
 *
 * Written by bench/hot-text.py from single-stepped connections; do not
 * edit by hand. A name that no longer matches costs speed only, and
 * test_static_build.py fails when a plain connection runs code outside
 * this section: run bench/hot-text.py, then make static. */
"""

# Not traced: what musl's _Fork writes in every child (its thread's tid,
# the thread list's lock, libc.threads_minus_1) and the lock it reads on
# the way out, a copy-on-write fault for each page written and a first
# touch for each page read. Linked apart they lay on three pages.
FORK_DATA = """
/* What the C library's fork writes and reads in every child, on one
 * page (a copy-on-write fault per page written). */
SECTIONS
{
\t.bss.itkd_fork (NOLOAD) :
\t{
\t\t*(.bss.__libc .bss.builtin_tls .bss.__thread_list_lock .bss.__abort_lock)
\t}
}
INSERT BEFORE .bss;
"""

if __name__ == "__main__":
    main()
