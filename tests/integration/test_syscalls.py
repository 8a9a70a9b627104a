"""System calls, counted: they do not change between machines the way
times do. And the file kept open between requests (which is what makes a
repeated request cheap) never serves what its name no longer leads to. A kept-alive request for a static file makes at most 5 and none
that fails when there is nothing to find (no sibling asked for: the client
sends no Accept-Encoding); a one-request connection's processes stay within
their budgets. Counted with strace on the real processes."""
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (TOP, RANGES, asan_build, strace_calls, UID_A, UID_B, UID_USER, Server, conn_child, connect, done, mkdir,  # noqa: E402
                      need_root, ok, read_response, skip, wait_for, write)

need_root("system call counts")
ASAN = asan_build()

CONF = """
listen 127.0.0.1:{port}
listen 127.0.0.1:{tlsport} tls
user #%d
group #%d
""" % (UID_USER, UID_USER) + RANGES + """error-log {dir}/error.log
access-log off
timeout 5
vhost a.test
root {dir}/a
user #%d
group #%d
cgi .cgi
tls-cert {dir}/certs/a.pem
tls-key {dir}/certs/a.key
vhost b.test
root {dir}/b
user #%d
group #%d
""" % (UID_A, UID_A, UID_B, UID_B)
REQ = b"GET /1k.html HTTP/1.1\r\nHost: a.test\r\n\r\n"
# What every browser sends: a file with no .br or .gz sibling costs it one
# call more than a client that takes no coding (the directory's fstatat
# that says no sibling has come), none failing.
REQ_AE = b"GET /1k.html HTTP/1.1\r\nHost: a.test\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"
N = 8


def traced(pids, out):
    """strace -f attached to pids, writing to out; returns the Popen once
    the kernel shows the tracer attached."""
    args = ["strace", "-qq", "-f", "-o", out]
    for p in pids:
        args += ["-p", str(p)]
    st = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def attached():
        try:
            with open("/proc/%d/status" % pids[0]) as f:
                return re.search(r"^TracerPid:\s+[1-9]", f.read(), re.M) is not None
        except OSError:
            return False
    wait_for(attached, 5)
    return st


def stop(st):
    st.send_signal(signal.SIGINT)
    try:
        st.wait(5)
    except subprocess.TimeoutExpired:
        st.kill()
        st.wait()


def calls(path):
    """(pid, name, failed) of every system call in an strace -f -o file."""
    return [(pid, name, res == "-1") for pid, name, _args, res in strace_calls(path)]


def keepalive(srv, req=REQ, most=5, what="static request"):
    s = connect(srv.port)
    s.sendall(req)
    first = read_response(s)
    pid = conn_child(srv, s)
    ok("keep-alive: first answer 200", first[:12] == b"HTTP/1.1 200" and pid, first[:40])
    if not pid:
        return
    out = os.path.join(srv.dir, "ka.strace")
    st = traced([pid], out)
    good = 0
    for _ in range(N):
        s.sendall(req)
        r = read_response(s)
        good += r[:12] == b"HTTP/1.1 200" and r.endswith(b"x" * 64)
    # The process is back waiting for the next request: let strace see the
    # poll start, then detach.
    time.sleep(0.2)
    stop(st)
    s.close()
    rows = calls(out)
    names = {}
    for _, n, _f in rows:
        names[n] = names.get(n, 0) + 1
    failed = [n for _, n, f in rows if f]
    per = len(rows) / N
    print("# kept-alive 1 KiB %s: %.2f system calls: %s" % (
        what, per, ", ".join("%s %.2g" % (k, v / N) for k, v in sorted(names.items()))))
    ok("keep-alive: %d answers while traced (%s)" % (N, what), good == N, good)
    ok("keep-alive: at most %d system calls per %s (%.2f)" % (most, what, per), per <= most,
       names)
    ok("keep-alive: no failing system call (%s)" % what, failed == [], failed)


def roles(rows, master, spawners):
    """The role of each pid, from the fork tree the trace shows (each
    fork's parent and the pid it returned): the master's child is the
    monitor; a spawner's child, or a monitor's (when it forks its own),
    the gatekeeper."""
    role = {master: "master"}
    for p in spawners:
        role[p] = "spawner"
    for p, n, _a, res in rows:
        if n in ("clone", "fork", "vfork", "clone3") and res.isdigit() and int(res) > 0:
            parent = role.get(p)
            role[int(res)] = {"master": "monitor", "spawner": "gatekeeper",
                              "monitor": "gatekeeper"}.get(parent, "other")
    return role


def traced_connection(srv, sock, name, path="/1k.html"):
    """One request with Connection: close on sock, strace -f on the master
    and its spawners (which fork the gatekeepers) meanwhile: (answer,
    calls, role of each pid)."""
    out = os.path.join(srv.dir, name + ".strace")
    spawners = srv.spawners(wait=5)
    st = traced([srv.proc.pid] + spawners, out)
    s = sock()
    s.sendall(b"GET %s HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n" % path.encode())
    r = read_response(s)
    s.close()
    wait_for(lambda: not srv.children(), 5)
    time.sleep(0.2)
    stop(st)
    rows = calls(out)
    role = roles(strace_calls(out), srv.proc.pid, spawners)
    return r, rows, role


def one_connection(srv):
    """Per connection, by process: master, monitor, gatekeeper."""
    r, rows, role = traced_connection(srv, lambda: connect(srv.port), "conn")
    master = srv.proc.pid
    count = {}
    for p, _n, _f in rows:
        count[role.get(p, "other")] = count.get(role.get(p, "other"), 0) + 1
    # With TLS configured, a plain connection's processes never had the
    # keys (the master withholds them from its fork): nothing to unmap.
    unmaps = [(role.get(p), n) for p, n, _f in rows
              if n in ("munmap", "madvise") and p != master]
    ok("connection, plain beside TLS: no key mapping to drop", unmaps == [], unmaps)
    print("# one-request connection: %s" % ", ".join("%s %d" % kv for kv in sorted(count.items())))
    # A process that reads the clock through the vDSO makes no system
    # call for it; these two must have asked the kernel (clock.c says why).
    clocks = {}
    for p, n, _f in rows:
        if n.startswith("clock_gettime"):
            clocks[role.get(p, "other")] = clocks.get(role.get(p, "other"), 0) + 1
    ok("connection: monitor and gatekeeper read the clock from the kernel, not the vDSO",
       clocks.get("monitor", 0) > 0 and clocks.get("gatekeeper", 0) > 0, clocks)
    ok("connection: answered", r[:12] == b"HTTP/1.1 200", r[:40])
    # Budgets: today's counts with a little room (the master may also
    # switch the key mappings' MADV_DONTFORK, twice), so a change that adds
    # calls to every connection shows here. The monitor's and the
    # gatekeeper's include their clock reads (3 and 2): a connection's
    # processes ask the kernel for the time rather than fault in the vDSO's
    # pages (clock.c).
    # The gatekeeper comes from the spawner with its ids, capabilities and
    # filter in place: 13 calls fewer than when it did all that itself
    # (it sets RLIMIT_NPROC and its name instead); the monitor asks the
    # spawner and waits on a pidfd instead of forking and waiting.
    # An ASan build's runtime adds its own (sigaltstack, 4 in the monitor).
    extra = 4 if ASAN else 0
    for name, most in (("master", 14), ("monitor", 54 + extra), ("gatekeeper", 14 + extra),
                       ("spawner", 6)):
        ok("connection: %s makes at most %d system calls (%d)" % (name, most, count.get(name, 0)),
           0 < count.get(name, 0) <= most, count)


def cgi_connection(srv):
    """A CGI exchange reads the clock around every write to the client:
    through the vDSO (a few system calls at most, before the script runs),
    not one call each."""
    r, rows, role = traced_connection(srv, lambda: connect(srv.port), "cgi", "/hello.cgi")
    ok("cgi connection: answered", r[:12] == b"HTTP/1.1 200" and b"hello" in r, r[:60])
    clocks = [p for p, n, _f in rows if n.startswith("clock_gettime") and role.get(p) == "monitor"]
    ok("cgi connection: the served process reads the clock through the kernel "
       "at most 4 times (%d)" % len(clocks), len(clocks) <= 4, len(clocks))


def tls_connection(srv):
    """A TLS connection: the gatekeeper handshakes, then unmaps the keys
    and scrubs its stack; the monitor, which never ran the handshake, only
    unmaps."""
    ctx = ssl.create_default_context(cafile=os.path.join(srv.dir, "certs", "ca.pem"))
    r, rows, role = traced_connection(
        srv, lambda: ctx.wrap_socket(connect(srv.tlsport), server_hostname="a.test"), "tls")
    drops = sorted((role.get(p, "?"), n) for p, n, _f in rows if n in ("munmap", "madvise"))
    ok("TLS connection: answered", r[:12] == b"HTTP/1.1 200", r[:40])
    ok("TLS connection: gatekeeper unmaps keys and cache and scrubs; the monitor only unmaps",
       drops.count(("gatekeeper", "madvise")) == 1 and drops.count(("monitor", "madvise")) == 0
       and drops.count(("monitor", "munmap")) == 2 and drops.count(("gatekeeper", "munmap")) >= 2,
       drops)


def body(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: a.test\r\n\r\n" % path).encode())
    r = read_response(s)
    head, _, b = r.partition(b"\r\n\r\n")
    return head[9:12].decode(errors="replace"), b


def kept_file(srv):
    """Each request on one connection, after the owner changed the file:
    the answer is what the name leads to now."""
    a = os.path.join(srv.dir, "a")
    f = os.path.join(a, "k.txt")
    write(f, "one\n", UID_A, UID_A, 0o600)
    s = connect(srv.port)
    try:
        ok("kept: first answer", body(s, "/k.txt") == ("200", b"one\n"))
        ok("kept: asked again, same answer", body(s, "/k.txt") == ("200", b"one\n"))
        # Replaced by a rename: another inode at the name.
        write(f + ".new", "two!\n", UID_A, UID_A, 0o600)
        os.rename(f + ".new", f)
        r = body(s, "/k.txt")
        ok("kept: renamed over: the new file", r == ("200", b"two!\n"), r)
        # Rewritten in place, same size, same inode: mtime and ctime move.
        with open(f, "r+") as fh:
            fh.write("TWO!\n")
        r = body(s, "/k.txt")
        ok("kept: rewritten in place: the new bytes", r == ("200", b"TWO!\n"), r)
        # The owner takes read permission away.
        os.chmod(f, 0o000)
        r = body(s, "/k.txt")
        ok("kept: chmod 000: refused, not the open file", r[0] == "403", r)
        os.chmod(f, 0o600)
        ok("kept: readable again", body(s, "/k.txt") == ("200", b"TWO!\n"))
        # The owner swaps the name for a symlink to another vhost's file.
        os.unlink(f)
        os.symlink(os.path.join(srv.dir, "b", "secret.txt"), f)
        r = body(s, "/k.txt")
        ok("kept: swapped for a symlink out of the root: never b's file",
           r[0] in ("403", "404") and b"secret of b" not in r[1], r)
        os.unlink(f)
        r = body(s, "/k.txt")
        ok("kept: deleted: 404", r[0] == "404", r)
    finally:
        s.close()


def get_coded(s, path):
    """(status, Content-Encoding or None, body) for a client that takes br
    and gzip."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: a.test\r\nAccept-Encoding: gzip, br\r\n\r\n"
               % path).encode())
    r = read_response(s)
    head, _, b = r.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-encoding:\s*(\S+)", head)
    return head[9:12].decode(errors="replace"), m.group(1).decode() if m else None, b


def kept_siblings(srv):
    """A file kept for a client that takes br and gzip while it had no
    sibling: a sibling made afterwards is sent from the next request on,
    and once it is gone again, the file."""
    a = os.path.join(srv.dir, "a")
    f = os.path.join(a, "s.txt")
    write(f, "plain\n", UID_A, UID_A, 0o600)
    s = connect(srv.port)
    try:
        ok("kept sibling: first answer, identity", get_coded(s, "/s.txt") == ("200", None, b"plain\n"))
        ok("kept sibling: again, identity", get_coded(s, "/s.txt") == ("200", None, b"plain\n"))
        write(f + ".gz", "GZ", UID_A, UID_A, 0o600)
        r = get_coded(s, "/s.txt")
        ok("kept sibling: .gz made since: sent", r == ("200", "gzip", b"GZ"), r)
        write(f + ".br", "BR", UID_A, UID_A, 0o600)
        r = get_coded(s, "/s.txt")
        ok("kept sibling: .br made since: sent", r == ("200", "br", b"BR"), r)
        os.unlink(f + ".br")
        os.unlink(f + ".gz")
        r = get_coded(s, "/s.txt")
        ok("kept sibling: both removed: the file", r == ("200", None, b"plain\n"), r)
        r = get_coded(s, "/s.txt")
        ok("kept sibling: asked again: the file", r == ("200", None, b"plain\n"), r)
        # A sibling in a directory below the root, made while the file is kept.
        d = mkdir(os.path.join(a, "sub"), UID_A, UID_A, 0o700)
        write(os.path.join(d, "t.txt"), "deep\n", UID_A, UID_A, 0o600)
        ok("kept sibling: below the root, identity",
           get_coded(s, "/sub/t.txt") == ("200", None, b"deep\n"))
        ok("kept sibling: below the root, again", get_coded(s, "/sub/t.txt") == ("200", None, b"deep\n"))
        write(os.path.join(d, "t.txt.gz"), "DGZ", UID_A, UID_A, 0o600)
        r = get_coded(s, "/sub/t.txt")
        ok("kept sibling: below the root, .gz made since: sent", r == ("200", "gzip", b"DGZ"), r)
        # A .br there all along, the file kept for a client that takes
        # gzip only (so only .gz was looked for): a client that takes br
        # too gets the .br, though the directory has not changed.
        write(f + ".br", "BR2", UID_A, UID_A, 0o600)
        for _ in range(2):
            s.sendall(b"GET /s.txt HTTP/1.1\r\nHost: a.test\r\nAccept-Encoding: gzip\r\n\r\n")
            r = read_response(s)
        ok("kept sibling: a gzip-only client: the file", r.endswith(b"\r\n\r\nplain\n"), r[-40:])
        r = get_coded(s, "/s.txt")
        ok("kept sibling: then a client that takes br: the .br, never looked for before",
           r == ("200", "br", b"BR2"), r)
        os.unlink(f + ".br")
    finally:
        s.close()


def main():
    if shutil.which("strace") is None:
        skip("system call counts", "strace is not installed (scripts/deps installs it)")
        done()
    srv = Server(CONF, name="sc", tls=True, start=False)
    subprocess.run(["sh", os.path.join(TOP, "tests", "certs.sh"), os.path.join(srv.dir, "certs")],
                   check=True, stdout=subprocess.DEVNULL)
    root = mkdir(os.path.join(srv.dir, "a"), UID_A, UID_A, 0o700)
    write(os.path.join(root, "1k.html"), "x" * 1024, UID_A, UID_A, 0o600)
    write(os.path.join(root, "hello.cgi"), "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
          "i=0; while [ $i -lt 20 ]; do echo hello; i=$((i + 1)); done\n", UID_A, UID_A, 0o700)
    broot = mkdir(os.path.join(srv.dir, "b"), UID_B, UID_B, 0o700)
    write(os.path.join(broot, "secret.txt"), "secret of b\n", UID_B, UID_B, 0o600)
    srv.start()
    srv.wait_port(srv.tlsport)
    try:
        keepalive(srv)
        keepalive(srv, REQ_AE, 6, "request from a client that takes br and gzip")
        one_connection(srv)
        cgi_connection(srv)
        tls_connection(srv)
        kept_file(srv)
        kept_siblings(srv)
    finally:
        srv.stop()
    done()


main()
