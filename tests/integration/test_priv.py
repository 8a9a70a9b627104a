"""tests/integration/test_priv.py: invariants 3, 4, 5 and 8 on the real server.

A connection's processes are looked at from outside, through /proc: the
monitor and its gatekeeper while the gatekeeper waits for the rest of a
request head, stage 2 while it holds a keep-alive connection open after
answering. With -T the error log must show the same steps.
"""
import os
import platform
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (wait_for, tid, ITKD, conn_child, read_response, Server, UID_USER, UID_A, UID_B, connect, need_root, ok, done,
                      fd_targets, proc_status, shared_maps, socket_inodes, tcp_table,
                      two_vhost_conf, two_vhost_roots, unix_peers)

GID_EXTRA = tid(5)
CAP_MONITOR = "00000000000000c0"    # cap_setuid | cap_setgid
ZERO = "0000000000000000"


def ids4(v):
    return "\t".join([str(v)] * 4)


# x86_64 numbers of the calls a connection process waits for its client in
# (read, poll, recvfrom, ppoll); elsewhere any blocking call will do.
WAITING_CALLS = {"0", "7", "45", "271"} if platform.machine() == "x86_64" else None


def blocked_in(pid):
    """The syscall pid sleeps in (/proc/PID/syscall), or None if running."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return None


def wait_child(srv, pred, timeout=3.0):
    """The first child of the master whose status satisfies pred, read
    while it waits for its client (blocked in the same read or poll before
    and after): not in the middle of a stage, between two of its steps."""
    end = time.time() + timeout
    while time.time() < end:
        for pid in srv.children():
            before = blocked_in(pid)
            st = proc_status(pid)
            waiting = before not in (None, "running") and (
                WAITING_CALLS is None or before in WAITING_CALLS)
            if st and pred(st) and waiting and blocked_in(pid) == before:
                return pid, st
        time.sleep(0.02)
    return None, {}


def listen_inodes():
    """Socket inodes of every TCP socket in LISTEN state on the machine."""
    return {row[3] for row in tcp_table() if row[2] == "0A"}


def check_monitor(st):
    ok("priv monitor Uid all 0", st.get("Uid") == ids4(0), st.get("Uid"))
    ok("priv monitor Gid all 0", st.get("Gid") == ids4(0), st.get("Gid"))
    ok("priv monitor Groups", st.get("Groups", "").split() == [str(UID_USER)],
       st.get("Groups"))
    ok("priv monitor CapPrm setuid+setgid", st.get("CapPrm") == CAP_MONITOR, st.get("CapPrm"))
    ok("priv monitor CapEff setuid+setgid", st.get("CapEff") == CAP_MONITOR, st.get("CapEff"))
    for k in ("CapInh", "CapBnd", "CapAmb"):
        ok("priv monitor %s 0" % k, st.get(k) == ZERO, st.get(k))
    ok("priv monitor Seccomp 2", st.get("Seccomp") == "2", st.get("Seccomp"))


def check_gatekeeper(st):
    ok("priv gatekeeper Uid all user", st.get("Uid") == ids4(UID_USER), st.get("Uid"))
    ok("priv gatekeeper Gid all user", st.get("Gid") == ids4(UID_USER), st.get("Gid"))
    ok("priv gatekeeper Groups", st.get("Groups", "").split() == [str(UID_USER)],
       st.get("Groups"))
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        ok("priv gatekeeper %s 0" % k, st.get(k) == ZERO, st.get(k))
    ok("priv gatekeeper NoNewPrivs 1", st.get("NoNewPrivs") == "1", st.get("NoNewPrivs"))
    ok("priv gatekeeper Seccomp 2", st.get("Seccomp") == "2", st.get("Seccomp"))
    # A sanitizer build leaves the allow-list out (priv.c says why).
    want = "1" if SANITIZED else "2"
    ok("priv gatekeeper its own filter on the master's" if want == "2" else
       "priv gatekeeper the master's filter (sanitizer build: no allow-list)",
       st.get("Seccomp_filters") == want, st.get("Seccomp_filters"))


with open(ITKD, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def grandchildren(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def unix_inodes():
    with open("/proc/net/unix") as f:
        next(f)
        return {l.split()[6] for l in f if len(l.split()) > 6}


def gatekeeper_holding(srv, client):
    """The gatekeeper that holds one of the socket inodes client: a child
    of a spawner (or of a monitor that forked its own)."""
    for p in srv.spawners() + srv.children():
        for k in grandchildren(p):
            if socket_inodes(k) & client:
                return k, p
    return None, None


# SIGPIPE (13) and SIGXFSZ (25) ignored as in the master (and whatever
# its parent left ignored), nothing caught, nothing blocked: the master's
# signalfd and the signals it blocks for it stay in the master.
SIG_PIPE_XFSZ = (1 << 12) | (1 << 24)
# HUP, INT, TERM, CHLD: the master's, which it takes through a signalfd and
# never through a handler. (A sanitizer build's runtime catches SEGV, BUS
# and FPE for itself: those bits are not ours to check.)
SIG_MASTER = (1 << 0) | (1 << 1) | (1 << 14) | (1 << 16)


def check_signals(stage, st, master, extra=0):
    ok("priv %s SigBlk none" % stage, st.get("SigBlk") == ZERO, st.get("SigBlk"))
    ok("priv %s catches none of HUP INT TERM CHLD" % stage,
       int(st.get("SigCgt", "f"), 16) & SIG_MASTER == 0, st.get("SigCgt"))
    ign = int(st.get("SigIgn", "0"), 16)
    ok("priv %s SigIgn as the master's, PIPE+XFSZ in it" % stage,
       ign == int(master.get("SigIgn", "0"), 16) | extra and
       ign & SIG_PIPE_XFSZ == SIG_PIPE_XFSZ,
       (st.get("SigIgn"), master.get("SigIgn")))


def check_stage2(st):
    ok("priv stage2 Uid all vhost", st.get("Uid") == ids4(UID_A), st.get("Uid"))
    ok("priv stage2 Gid all vhost", st.get("Gid") == ids4(UID_A), st.get("Gid"))
    ok("priv stage2 Groups exact",
       sorted(st.get("Groups", "").split()) == sorted([str(UID_A), str(GID_EXTRA)]),
       st.get("Groups"))
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        ok("priv stage2 %s 0" % k, st.get(k) == ZERO, st.get(k))
    ok("priv stage2 NoNewPrivs 1", st.get("NoNewPrivs") == "1", st.get("NoNewPrivs"))
    ok("priv stage2 Seccomp 2", st.get("Seccomp") == "2", st.get("Seccomp"))


def main():
    need_root("test_priv")
    conf = two_vhost_conf(
        extra_a="groups #%d #%d\naccess-log {dir}/a-access.log" % (UID_A, GID_EXTRA),
        extra_b="access-log {dir}/b-access.log\nno-new-privs off")
    srv = Server(conf, name="priv", start=False, extra_args=["-T"])
    two_vhost_roots(srv.dir)
    try:
        srv.start()
    except RuntimeError as e:
        ok("priv server starts", False, str(e))
        srv.cleanup()
        done()
    try:
        # The listeners answer before the master's filter is in place
        # (it is the last step of its start): wait for it.
        wait_for(lambda: proc_status(srv.proc.pid).get("Seccomp") == "2", 5)
        srv.spawners(wait=5)    # named once it is set up
        master = proc_status(srv.proc.pid)
        ok("priv master Seccomp 2", master.get("Seccomp") == "2", master.get("Seccomp"))
        ok("priv master still uid 0", master.get("Uid") == ids4(0), master.get("Uid"))
        # Its signals come through a signalfd: blocked, no handler.
        ok("priv master blocks HUP INT TERM CHLD",
           int(master.get("SigBlk", "0"), 16) == SIG_MASTER, master.get("SigBlk"))
        ok("priv master catches none of them",
           int(master.get("SigCgt", "f"), 16) & SIG_MASTER == 0, master.get("SigCgt"))

        # Half a request head: the gatekeeper waits for the rest, its
        # parent (the monitor) for the gatekeeper's message.
        s1 = connect(srv.port)
        s1.sendall(b"GET / HTTP/1.1\r\nHost: a.te")
        # The monitor of this connection (not of a probe wait_port made).
        mon = conn_child(srv, s1)
        mine = s1.getsockname()[1]
        client = {r[3] for r in tcp_table() if r[0] == srv.port and r[1] == mine}
        wait_for(lambda: gatekeeper_holding(srv, client)[0] is not None, 10)
        pid1, st1 = wait_child(srv, lambda st: st.get("Pid") == str(mon))
        if not ok("priv monitor found", pid1 is not None,
                  [proc_status(p).get("Uid") for p in srv.children()]):
            return
        check_monitor(st1)
        check_signals("monitor", st1, master)
        ok("priv monitor no shared mapping (no vhost has max-clients)",
           not shared_maps(pid1), shared_maps(pid1))
        ok("priv monitor no listening socket",
           not (socket_inodes(pid1) & listen_inodes()), fd_targets(pid1))
        ok("priv monitor forks no gatekeeper of its own (the spawner does)",
           grandchildren(pid1) == [], grandchildren(pid1))
        gk, parent = gatekeeper_holding(srv, client)
        spawners = srv.spawners()
        if ok("priv gatekeeper found, a child of a spawner",
              gk is not None and parent in spawners, (gk, parent, spawners)):
            gk = [gk]
            gst = proc_status(gk[0])
            check_gatekeeper(gst)
            # SIGCHLD too, from the spawner: a gatekeeper forks nothing.
            check_signals("gatekeeper", gst, master, 1 << 16)
            # Its sockets: the client's connection and one end of the
            # socketpair whose other end its monitor holds, nothing else.
            # Its parent is the spawner now, not the monitor it talks to:
            # what matters is that no socket leads anywhere else (not to
            # the spawner, whose socket it closed right after the fork).
            socks = socket_inodes(gk[0])
            peers = unix_peers()
            unix = socks - client
            ok("priv gatekeeper sockets: its client and its monitor only",
               len(socks) == 2 and len(socks & client) == 1 and
               len(unix & unix_inodes()) == 1 and
               unix & socket_inodes(pid1) == set() and
               {peers.get(i) for i in unix} <= socket_inodes(pid1),
               (socks, client, {i: peers.get(i) for i in unix}))
            ok("priv gatekeeper no listening socket",
               not (socks & listen_inodes()), fd_targets(gk[0]))
            ok("priv gatekeeper cannot fork (RLIMIT_NPROC 0)",
               re.search(r"Max processes\s+0\s+0",
                         open("/proc/%d/limits" % gk[0]).read()),
               open("/proc/%d/limits" % gk[0]).read())
        # The spawner: the global user with nothing, its own filter; no
        # client's socket while idle (it passes them on), no listening
        # socket, and the plain one maps no key and no session cache.
        if ok("priv spawner there", len(spawners) == 1, spawners):
            sst = proc_status(spawners[0])
            for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                ok("priv spawner %s 0" % k, sst.get(k) == ZERO, sst.get(k))
            ok("priv spawner Uid all user", sst.get("Uid") == ids4(UID_USER), sst.get("Uid"))
            ok("priv spawner NoNewPrivs 1, Seccomp 2",
               (sst.get("NoNewPrivs"), sst.get("Seccomp")) == ("1", "2"), sst)
            want = "1" if SANITIZED else "2"
            ok("priv spawner its own filter on the master's",
               sst.get("Seccomp_filters") == want, sst.get("Seccomp_filters"))
            ok("priv spawner ignores SIGCHLD (its children are reaped by the kernel)",
               int(sst.get("SigIgn", "0"), 16) & (1 << 16), sst.get("SigIgn"))
            # Not dumpable: its /proc files stay root's.
            ok("priv spawner not dumpable", os.stat("/proc/%d/status" % spawners[0]).st_uid == 0)
            ss = socket_inodes(spawners[0])
            ok("priv spawner holds no client socket while idle and no listener",
               not (ss & {r[3] for r in tcp_table()}) and not (ss & listen_inodes()),
               fd_targets(spawners[0]))
            ok("priv spawner (plain) no shared mapping", not shared_maps(spawners[0]),
               shared_maps(spawners[0]))

        # Stage 2: a full keep-alive request, answered, connection kept.
        s2 = connect(srv.port)
        s2.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        resp = read_response(s2)
        ok("priv stage2 request answered", resp.startswith(b"HTTP/1.1 200"), resp[:80])
        pid2, st2 = wait_child(srv, lambda st: st.get("Uid") == ids4(UID_A))
        if ok("priv stage2 child found", pid2 is not None,
              [proc_status(p).get("Uid") for p in srv.children()]):
            check_stage2(st2)
            check_signals("stage2", st2, master)
            # Named after its vhost (config generation 1, vhost 0): the
            # master reads it if the child dies.
            ok("priv stage2 named after its vhost", st2.get("Name") == "itkd 1/0",
               st2.get("Name"))
            # The method works: the master does hold a listening socket.
            ok("priv master holds a listening socket (control)",
               bool(socket_inodes(srv.proc.pid) & listen_inodes()))
            ok("priv stage2 no listening socket",
               not (socket_inodes(pid2) & listen_inodes()), fd_targets(pid2))
            b_log = os.path.join(srv.dir, "b-access.log")
            ok("priv master holds b's log (control)",
               b_log in fd_targets(srv.proc.pid), fd_targets(srv.proc.pid))
            ok("priv stage2 no fd of another vhost's log",
               b_log not in fd_targets(pid2), fd_targets(pid2))
            ok("priv stage2 no shared mapping (scoreboard, session cache)",
               not shared_maps(pid2), shared_maps(pid2))
            ok("priv stage2 keeps its own log",
               os.path.join(srv.dir, "a-access.log") in fd_targets(pid2),
               fd_targets(pid2))

        # A vhost with `no-new-privs off`: the same, but NoNewPrivs 0.
        s3 = connect(srv.port)
        s3.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n")
        resp = read_response(s3)
        ok("priv nnp-off request answered", resp.startswith(b"HTTP/1.1 200"), resp[:80])
        pid3, st3 = wait_child(srv, lambda st: st.get("Uid") == ids4(UID_B))
        if ok("priv nnp-off child found", pid3 is not None):
            ok("priv nnp-off NoNewPrivs 0", st3.get("NoNewPrivs") == "0", st3.get("NoNewPrivs"))
            ok("priv nnp-off caps 0", all(st3.get(k) == ZERO for k in
               ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")), st3)
            ok("priv nnp-off Seccomp 2", st3.get("Seccomp") == "2", st3.get("Seccomp"))
        s3.close()
        s2.close()
        s1.close()

        # -T: the same steps, as the server saw them.
        time.sleep(0.2)
        log = srv.log()
        ok("priv trace master", re.search(r"priv: master: uid=0/0/0/0 .*Seccomp=2", log),
           log[-2000:])
        ok("priv trace monitor", re.search(
            r"priv: monitor: capabilities cut to setuid\+setgid, not dumpable: "
            r"uid=0/0/0/0 gid=0/0/0/0 groups=%d CapInh=0{16} CapPrm=%s CapEff=%s "
            r"CapBnd=0{16} CapAmb=0{16} NoNewPrivs=0 Seccomp=2"
            % (UID_USER, CAP_MONITOR, CAP_MONITOR), log), log[-2000:])
        ok("priv trace spawner, once", len(re.findall(
            r"priv: spawner: global user, no capabilities, no_new_privs: "
            r"uid=%d/%d/%d/%d gid=%d/%d/%d/%d groups=%d CapInh=0{16} CapPrm=0{16} "
            r"CapEff=0{16} CapBnd=0{16} CapAmb=0{16} NoNewPrivs=1 Seccomp=2"
            % ((UID_USER,) * 9), log)) == 1, log[-2000:])
        ok("priv trace gatekeeper", re.search(
            r"priv: gatekeeper: forked by the spawner: "
            r"uid=%d/%d/%d/%d gid=%d/%d/%d/%d groups=%d CapInh=0{16} CapPrm=0{16} "
            r"CapEff=0{16} CapBnd=0{16} CapAmb=0{16} NoNewPrivs=1 Seccomp=2"
            % ((UID_USER,) * 9), log), log[-2000:])
        ok("priv trace gatekeeper hands the request on",
           "priv: gatekeeper: vhost chosen, request handed on" in log, log[-2000:])
        ok("priv trace stage 2", re.search(
            r"priv: stage 2: verified, setuid\(0\) refused: uid=%d/%d/%d/%d gid=%d/%d/%d/%d groups=(%d,%d|%d,%d) "
            r"CapInh=0{16} CapPrm=0{16} CapEff=0{16} CapBnd=0{16} CapAmb=0{16} "
            r"NoNewPrivs=1 Seccomp=2" % ((UID_A,) * 8 + (UID_A, GID_EXTRA, GID_EXTRA, UID_A)),
            log), log[-2000:])
    finally:
        srv.cleanup()


main()
done()
