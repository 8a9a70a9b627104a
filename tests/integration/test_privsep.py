"""tests/integration/test_privsep.py: invariant 8, from outside.

The process that holds CAP_SETUID (the monitor) reads nothing of the
client before it has become the vhost: strace of a real connection shows
every read it makes before its setresuid is on the socketpair from its
gatekeeper. A vhost's CGI program can signal neither a gatekeeper nor a
monitor of another connection, and a vhost cannot be the global user.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("test_privsep")

READS = ("read", "readv", "recvfrom", "recvmsg", "pread64", "recvmmsg")


def monitor_reads():
    if shutil.which("strace") is None:
        skip("privsep strace", "strace is not installed")
        return
    srv = Server(two_vhost_conf("keepalive-timeout 10"), name="psep", start=False)
    two_vhost_roots(srv.dir)
    srv.start()
    out = os.path.join(srv.dir, "strace.txt")
    # The spawner too: it forks the gatekeepers.
    spawners = srv.spawners(wait=5)
    tr = subprocess.Popen(["strace", "-qq", "-f", "-o", out, "-e",
                           "trace=read,readv,recvfrom,recvmsg,recvmmsg,pread64,"
                           "socketpair,setresuid,accept4,fork,clone,clone3",
                           "-p", str(srv.proc.pid)] +
                          ["-p%d" % p for p in spawners],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # strace says nothing once it is attached: probe connections
        # until one's accept4 shows in its output.
        def traced():
            connect(srv.port).close()
            return os.path.exists(out) and "accept4" in open(out).read()
        if not wait_for(traced, 10):
            skip("privsep strace", "strace cannot trace the master here")
            return
        time.sleep(0.3)
        before = len(strace_calls(out))
        s = connect(srv.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        r1 = read_response(s)
        # A second request on the same connection: stage 2 must read it
        # from the client itself (the control that reads are seen).
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        r2 = recv_all(s)
        s.close()
        ok("privsep strace: both requests answered",
           r1.startswith(b"HTTP/1.1 200") and r2.startswith(b"HTTP/1.1 200"), (r1[:40], r2[:40]))
        time.sleep(0.5)
    finally:
        tr.send_signal(signal.SIGINT)
        try:
            tr.wait(10)
        except subprocess.TimeoutExpired:
            tr.kill()
    calls = strace_calls(out)[before:]
    master = srv.proc.pid
    accepted = [int(c[3]) for c in calls if c[0] == master and c[1] == "accept4"
                and c[3].isdigit()]
    # The monitor: the process that made the socketpair.
    pairs = [(c[0], c[2]) for c in calls if c[1] == "socketpair"]
    srv.cleanup()
    if not ok("privsep strace: a monitor made its socketpair", len(pairs) == 1 and accepted,
              (pairs, accepted)):
        return
    mon, args = pairs[0]
    sp = int(re.search(r"\[(\d+), \d+\]", args).group(1))
    client = accepted[0]
    mine = [c for c in calls if c[0] == mon]
    switch = next((i for i, c in enumerate(mine) if c[1] == "setresuid" and
                   c[2].startswith(str(UID_A))), None)
    if not ok("privsep strace: the monitor switched to the vhost", switch is not None,
              mine[:20]):
        return
    early = [c for c in mine[:switch] if c[1] in READS]
    ok("privsep strace: before the switch the monitor reads only its gatekeeper",
       early and all(int(c[2].split(",")[0]) == sp for c in early), early)
    ok("privsep strace: before the switch the monitor never reads the client",
       not any(int(c[2].split(",")[0]) == client for c in early), early)
    late = [c for c in mine[switch:] if c[1] in READS]
    ok("privsep strace: after the switch stage 2 reads the client (control)",
       any(int(c[2].split(",")[0]) == client for c in late), late)
    gk = [c for c in calls if c[1] in READS and c[0] not in [mon, master] + spawners]
    # Its fd for the client has another number (the spawner passed it).
    ok("privsep strace: the gatekeeper read the first request (control)",
       any('"GET / HTTP/1.1' in c[2] for c in gk), gk[:5])
    sreads = [c for c in calls if c[1] in READS and c[0] in spawners]
    ok("privsep strace: the spawner reads only requests, never a client's byte",
       len(spawners) == 1 and sreads and all(c[1] == "recvmsg" and "HTTP" not in c[2]
                                             for c in sreads), (spawners, sreads[:3]))


SIGNAL_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
kill -STOP "$QUERY_STRING" 2>&1
echo "rc=$?"
"""


def cgi_signals():
    """The attack of a vhost owner: her CGI stops another connection's
    processes (with the old stage 1 it could, as they shared a uid)."""
    srv = Server(two_vhost_conf(extra_a="cgi .cgi"), name="psig", start=False)
    two_vhost_roots(srv.dir)
    write(os.path.join(srv.dir, "a", "stop.cgi"), SIGNAL_CGI, UID_A, UID_A, 0o700)
    srv.start()
    try:
        victim = connect(srv.port)
        victim.sendall(b"GET / HTTP/1.1\r\nHost: b.te")       # its gatekeeper waits
        gk = gatekeeper_of(srv, victim)
        if not ok("privsep signals: a gatekeeper waits", gk is not None, srv.children()):
            return
        mon = int(proc_status(gk).get("PPid", "0"))
        for what, pid in (("gatekeeper", gk), ("monitor", mon)):
            st = get(srv.port, "/stop.cgi?%d" % pid, "a.test")
            ok("privsep signals: a CGI cannot stop another connection's %s" % what,
               st and st[0] == 200 and b"rc=0" not in st[2] and
               not proc_status(pid).get("State", "").startswith("T"),
               (st, proc_status(pid).get("State")))
        victim.sendall(b"st\r\nConnection: close\r\n\r\n")
        r = recv_all(victim)
        ok("privsep signals: the waiting connection is then served",
           r.startswith(b"HTTP/1.1 200") and b"<h1>b</h1>" in r, r[:80])
    finally:
        srv.cleanup()


def config_refusals():
    """A vhost that would run as the global user, or a config without the
    ranges that keep system ids out, does not load."""
    base = ("listen 127.0.0.1:1\nuser #%d\ngroup #%d\n" % (UID_USER, UID_USER))
    cases = [
        ("a vhost without user", base + RANGES + "vhost a.test\nroot /srv\n",
         ":6: vhost 'a.test' has no 'user'"),
        ("a vhost as the global user", base + RANGES +
         "vhost a.test\nroot /srv\nuser #%d\ngroup #%d\n" % (UID_USER, UID_A),
         ":8: vhost 'a.test': uid %d is outside uid-range" % UID_USER),
        ("no uid-range", base + "vhost a.test\nroot /srv\nuser #%d\ngroup #%d\n"
         % (UID_A, UID_A), ":4: no 'uid-range'"),
        ("the global user inside uid-range", base +
         "uid-range %d %d\ngid-range %d %d\n" % (UID_USER, RANGE_MAX, RANGE_MIN, RANGE_MAX) +
         "vhost a.test\nroot /srv\nuser #%d\ngroup #%d\n" % (UID_A, UID_A),
         ":2: user: uid %d is inside uid-range" % UID_USER),
    ]
    with Server("", name="pcfg", start=False) as s:
        for name, text, want in cases:
            with open(s.conf, "w") as f:
                f.write(text)
            r = subprocess.run([ITKD, "-t", "-c", s.conf], capture_output=True)
            ok("privsep config: %s refused at file:line" % name,
               r.returncode == 1 and (s.conf + want).encode() in r.stderr, r.stderr)


monitor_reads()
cgi_signals()
config_refusals()
done()
