"""Holding up under abuse (issue 6): max-clients-per-ip, vhost max-clients
with a scoreboard that survives a killed child, slowloris, keep-alive
limits, nice and `limit`, fork failing, children dying, reload under wrk,
and valgrind on the master's reload path. Needs root."""
import os
import re
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("abuse")

REQ_A = b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"


def read_response(s, timeout=5.0):
    """One response from a keep-alive connection: (status, headers, body),
    or None when the peer closed (or said nothing) first."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            if not b:
                return None
            data += b
        head, _, body = data.partition(b"\r\n\r\n")
        h = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            h[k.strip().lower()] = v.strip()
        n = int(h.get("content-length", "0"))
        while len(body) < n:
            b = s.recv(65536)
            if not b:
                break
            body += b
        m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        return (int(m.group(1)) if m else -1, h, body)
    except (socket.timeout, ConnectionResetError):
        return None


def closed_within(s, seconds):
    """Seconds until the peer closed s (reading and dropping what comes),
    or None if it stayed open that long."""
    t0 = time.monotonic()
    s.settimeout(seconds)
    try:
        while True:
            if not s.recv(65536):
                return time.monotonic() - t0
    except ConnectionResetError:
        return time.monotonic() - t0
    except socket.timeout:
        return None


def try_get(port, path="/", host="a.test"):
    """get() that takes a connection closed under it as no answer."""
    try:
        return get(port, path, host)
    except OSError:
        return None


def serve_roots(srv):
    """Lay out the roots, then wait until the children of Server's port
    probe and of one request are gone: they count against the limits."""
    two_vhost_roots(srv.dir)
    get(srv.port)
    wait_for(lambda: not srv.children(), 3)


# (1) max-clients-per-ip --------------------------------------------------

def per_ip():
    with Server(two_vhost_conf("max-clients-per-ip 3"), name="perip") as srv:
        serve_roots(srv)
        holders = [connect(srv.port) for _ in range(3)]
        ok("per-ip: 3 silent connections hold 3 children",
           wait_for(lambda: len(srv.children()) == 3), repr(srv.children()))
        s = connect(srv.port)
        t0 = time.monotonic()
        try:
            s.sendall(REQ_A)
        except OSError:
            pass
        got = recv_all(s, 3)
        took = time.monotonic() - t0
        s.close()
        ok("per-ip: the 4th connection from 127.0.0.1 is closed at once, unanswered",
           got == b"" and took < 1.0, "%r after %.2f s" % (got[:40], took))
        other = socket.socket()
        other.bind(("127.0.0.2", 0))
        other.settimeout(5)
        other.connect(("127.0.0.1", srv.port))
        other.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        r = parse(recv_all(other))
        other.close()
        ok("per-ip: meanwhile 127.0.0.2 is served", r and r[0][0] == 200, repr(r))
        for h in holders:
            h.close()
        ok("per-ip: a freed place serves 127.0.0.1 again",
           wait_for(lambda: (try_get(srv.port) or (0,))[0] == 200), srv.log()[-300:])


# (2) vhost max-clients, and a killed holder ----------------------------

def vhost_max_clients():
    conf = two_vhost_conf("keepalive-timeout 30", extra_a="max-clients 2")
    with Server(conf, name="vmax") as srv:
        serve_roots(srv)
        holders = []
        for _ in range(2):
            h = connect(srv.port)
            h.sendall(REQ_A)
            holders.append((h, read_response(h)))
        ok("vhost max-clients: two keep-alive holders of a.test served",
           all(r and r[0] == 200 for _, r in holders), repr([r for _, r in holders]))
        s = connect(srv.port)
        s.sendall(REQ_A)
        r = read_response(s)
        closed = closed_within(s, 2) if r else None
        s.close()
        ok("vhost max-clients: the third a.test request gets 503, Retry-After, "
           "Connection: close", r and r[0] == 503 and "retry-after" in r[1] and
           r[1].get("connection", "").lower() == "close" and closed is not None, repr(r))
        st = get(srv.port, "/", "b.test")
        ok("vhost max-clients: b.test is still served", st and st[0] == 200, repr(st))
        pids = children_of_uid(srv, UID_A)
        victim = pids[0] if len(pids) == 2 else None
        ok("vhost max-clients: two a.test children run as its uid", victim, repr(pids))
        if victim:
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: victim not in srv.children())
            st = get(srv.port, "/", "a.test")
            ok("vhost max-clients: a SIGKILLed holder frees its slot", st and st[0] == 200,
               repr(st))
            ok("a killed child is logged with its pid, vhost and signal",
               wait_for(lambda: re.search(r"\[a\.test\] child %d killed by signal 9\b" % victim,
                                          srv.log()), 2), srv.log()[-500:])
        for h, _ in holders:
            h.close()


# (2b) a stage-1 child that writes what it likes into the shared board ---

def forged_board():
    """What a compromised stage-1 process could do to the only memory it
    shares with the master: fill it with the pid of an unrelated process.
    The master must neither crash nor kill that process at shutdown."""
    conf = two_vhost_conf("keepalive-timeout 30", extra_a="max-clients 2")
    victim = subprocess.Popen(["sleep", "60"])
    srv = Server(conf, name="forge")
    try:
        serve_roots(srv)
        s1 = connect(srv.port)
        s1.sendall(b"GET / HTTP/1.1\r\nHost: a.te")          # stays in stage 1
        gk = gatekeeper_of(srv, s1)
        kids = [gk] if gk else []
        ok("forged board: a gatekeeper", kids, repr(srv.children()))
        if not kids:
            return
        shared = [l.split()[0] for l in shared_maps(kids[0])]
        ok("forged board: the child holds one shared mapping (the board)",
           len(shared) == 1, repr(shared))
        fd = os.open("/proc/%d/mem" % kids[0], os.O_RDWR)
        try:
            for m in shared:
                lo, hi = (int(x, 16) for x in m.split("-"))
                os.pwrite(fd, struct.pack("<i", victim.pid) * ((hi - lo) // 4), lo)
        finally:
            os.close(fd)
        st = get(srv.port, "/", "b.test")
        ok("forged board: the master still serves", st and st[0] == 200, repr(st))
        st = get(srv.port, "/", "a.test")
        ok("forged board: a.test still served (its count is all it can skew)",
           st and st[0] in (200, 503), repr(st))
        s1.close()
        wait_for(lambda: not srv.children(), 6)
        srv.proc.send_signal(signal.SIGTERM)
        try:
            code = srv.proc.wait(15)
        except subprocess.TimeoutExpired:
            code = None
        ok("forged board: the master stops cleanly", code == 0, repr(code))
        ok("forged board: the unrelated process lives on", victim.poll() is None,
           repr(victim.poll()))
    finally:
        srv.cleanup()
        victim.kill()
        victim.wait()


# (3) slowloris -----------------------------------------------------------

SLOW_TIMEOUT = 5
# Each connection is two processes (monitor and gatekeeper); in a
# sanitizer build each costs several times more to start and to answer,
# and 2 cores cannot start 600 of them within the 1 s this test allows the
# normal request. A third of them still shows the deadline holds.
with open(ITKD, "rb") as _f:
    SLOW_N = 100 if b"__asan_init" in _f.read() else 300


def slowloris():
    conf = two_vhost_conf("max-clients 1000").replace("timeout 5", "timeout %d" % SLOW_TIMEOUT)
    with Server(conf, name="slow") as srv:
        serve_roots(srv)
        head = b"GET /" + b"x" * 64 + b" HTTP/1.1\r\nHost: a.test\r\n\r\n"
        socks = {}
        t_start = time.monotonic()
        for _ in range(SLOW_N):
            s = socket.create_connection(("127.0.0.1", srv.port), 5)
            s.setblocking(False)
            socks[s] = [time.monotonic(), 0, None, False]  # connect, sent, closed, 408
        normal = {}

        def normal_request():
            time.sleep(2)
            t0 = time.monotonic()
            normal["st"] = get(srv.port)
            normal["took"] = time.monotonic() - t0
        th = threading.Thread(target=normal_request)
        th.start()
        end = t_start + SLOW_TIMEOUT + 4
        next_tick = time.monotonic()
        while time.monotonic() < end and any(v[2] is None for v in socks.values()):
            now = time.monotonic()
            if now >= next_tick:
                next_tick += 1.0
                for s, v in socks.items():
                    if v[2] is None and v[1] < len(head):
                        try:
                            s.send(head[v[1]:v[1] + 1])
                            v[1] += 1
                        except OSError:
                            pass   # closed under us: the read below says so
            open_socks = [s for s, v in socks.items() if v[2] is None]
            r, _, _ = select.select(open_socks, [], [], max(0.0, min(0.05, next_tick - now)))
            for s in r:
                v = socks[s]
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data.startswith(b"HTTP/1.1 408"):
                    v[3] = True
                v[2] = time.monotonic() - v[0]
        th.join()
        for s in socks:
            s.close()
        closes = [v[2] for v in socks.values() if v[2] is not None]
        n408 = sum(1 for v in socks.values() if v[3])
        st, took = normal.get("st"), normal.get("took", 99)
        ok("slowloris: with %d tricklers a normal request is answered in %.0f ms"
           % (SLOW_N, took * 1000), st and st[0] == 200 and took < 1.0, repr(st))
        limit = SLOW_TIMEOUT + 2
        if closes:
            fig = "closed %d/%d (%d with 408) after %.2f..%.2f s, median %.2f s" % (
                len(closes), SLOW_N, n408, min(closes), max(closes), statistics.median(closes))
        else:
            fig = "none closed"
        ok("slowloris: every trickler closed by timeout %d s + 2: %s" % (SLOW_TIMEOUT, fig),
           len(closes) == SLOW_N and max(closes) <= limit and min(closes) >= SLOW_TIMEOUT - 1,
           fig)
        ok("slowloris: no child left afterwards", wait_for(lambda: not srv.children(), 3),
           repr(srv.children()))


# (4) keepalive-timeout and keepalive-requests --------------------------

def keepalive_limits():
    conf = two_vhost_conf("keepalive-timeout 1\nkeepalive-requests 3")
    with Server(conf, name="ka") as srv:
        serve_roots(srv)
        s = connect(srv.port)
        s.sendall(REQ_A)
        r = read_response(s)
        idle = closed_within(s, 4) if r else None
        s.close()
        ok("keepalive-timeout 1: an idle connection closes after %s s"
           % ("%.2f" % idle if idle is not None else "never"),
           r and r[0] == 200 and idle is not None and 0.7 <= idle <= 2.0, repr(r))
        s = connect(srv.port)
        rs = []
        for _ in range(3):
            s.sendall(REQ_A)
            rs.append(read_response(s))
        gone = closed_within(s, 2)
        s.close()
        conns = [r[1].get("connection", "").lower() if r else None for r in rs]
        ok("keepalive-requests 3: the 3rd answer says Connection: close and the "
           "connection closes", all(r and r[0] == 200 for r in rs) and
           conns[0] != "close" and conns[1] != "close" and conns[2] == "close" and
           gone is not None, repr(conns))


# (5) nice and limit ------------------------------------------------------

def proc_nice(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def proc_limits(pid):
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            m = re.match(r"(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)", line)
            if m:
                out[m.group(1)] = (m.group(2), m.group(3))
    return out


def nice_and_limits():
    conf = two_vhost_conf("keepalive-timeout 30",
                          extra_a="nice 5\nlimit nofile 64\nlimit cpu 10",
                          extra_b="limit fsize 200")
    with Server(conf, name="nice") as srv:
        serve_roots(srv)
        ha, hb = connect(srv.port), connect(srv.port)
        ha.sendall(REQ_A)
        ra = read_response(ha)
        hb.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n")
        rb = read_response(hb)
        pa, pb = children_of_uid(srv, UID_A), children_of_uid(srv, UID_B)
        if ra and pa:
            lim = proc_limits(pa[0])
            ok("nice 5: the stage-2 child of a.test runs at nice 5", proc_nice(pa[0]) == 5,
               "nice %d" % proc_nice(pa[0]))
            ok("limit nofile 64: soft and hard in /proc/PID/limits",
               lim.get("Max open files") == ("64", "64"), repr(lim.get("Max open files")))
            ok("limit cpu 10: soft and hard in /proc/PID/limits",
               lim.get("Max cpu time") == ("10", "10"), repr(lim.get("Max cpu time")))
        else:
            ok("nice/limit: a stage-2 child of a.test to look at", False, repr((ra, pa)))
        if rb and pb:
            lim = proc_limits(pb[0])
            ok("nice and limits are per vhost: b.test has nice 0 and its own limits",
               proc_nice(pb[0]) == 0 and lim.get("Max open files") != ("64", "64") and
               lim.get("Max file size") == ("200", "200"), repr((proc_nice(pb[0]), lim)))
        else:
            ok("nice/limit: a stage-2 child of b.test to look at", False, repr((rb, pb)))
        ha.close()
        hb.close()
        # The access log outgrows `limit fsize`: the child writing its line
        # must not die of SIGXFSZ (and the next requests must be served).
        for _ in range(3):
            get(srv.port, "/", "a.test")
        sts = [get(srv.port, "/", "b.test") for _ in range(2)]
        time.sleep(0.3)
        ok("limit fsize below the access log's size: requests served, no child killed "
           "by SIGXFSZ", all(st and st[0] == 200 for st in sts) and
           "signal %d" % signal.SIGXFSZ not in srv.log(), srv.log()[-400:])


# (6) fork failing --------------------------------------------------------
# RLIMIT_NPROC (prlimit --nproc) does not bind a process whose real uid is
# 0: kernel/fork.c exempts INIT_USER whatever its capabilities. A pids
# cgroup holding only the master makes its fork() fail with EAGAIN for real.

def pids_cgroup():
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        d = os.path.join(base, "itkd-test-%d" % os.getpid())
        try:
            os.mkdir(d)
        except OSError:
            continue
        if os.path.exists(os.path.join(d, "pids.max")):
            return base, d
        os.rmdir(d)
    return None, None


def cg_write(d, name, value):
    with open(os.path.join(d, name), "w") as f:
        f.write(str(value))


def fork_failing():
    base, cg = pids_cgroup()
    if cg is None:
        skip("fork failing", "no writable pids cgroup")
        return
    with Server(two_vhost_conf(), name="fork") as srv:
        serve_roots(srv)
        try:
            cg_write(cg, "pids.max", 1)
            cg_write(cg, "cgroup.procs", srv.proc.pid)
            t0 = time.monotonic()
            answered = closed = 0
            while time.monotonic() - t0 < 2.5:
                try:
                    got = raw(srv.port, b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 2)
                except OSError:   # reset, or closed before our shutdown
                    got = b""
                answered += got != b""
                closed += got == b""
                time.sleep(0.05)
            took = time.monotonic() - t0
            forks = srv.log().count("fork: ")
            ok("fork failing: %d connections closed unanswered, the master runs on"
               % closed, answered == 0 and closed > 10 and srv.proc.poll() is None,
               "answered %d closed %d" % (answered, closed))
            ok("fork failing: %d 'fork:' log lines in %.1f s (at most one a second)"
               % (forks, took), 1 <= forks <= int(took) + 2, srv.log()[-400:])
            cg_write(cg, "pids.max", "max")
            st = get(srv.port)
            ok("fork failing: served again once fork works", st and st[0] == 200, repr(st))
        finally:
            try:
                cg_write(base, "cgroup.procs", srv.proc.pid)
            except OSError:
                pass
    try:
        wait_for(lambda: not open(os.path.join(cg, "cgroup.procs")).read().strip(), 5)
        os.rmdir(cg)
    except OSError:
        pass


# (7) children exiting non-zero or killed -------------------------------

def child_deaths():
    # b.test asks for more open files than the master's hard limit: the
    # identity switch fails and the child exits 1.
    conf = two_vhost_conf(extra_b="limit nofile 4096")
    with Server(conf, name="death") as srv:
        serve_roots(srv)
        subprocess.run(["prlimit", "--pid", str(srv.proc.pid), "--nofile=1024:1024"],
                       check=True)
        got = raw(srv.port, b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n", 3)
        ok("a child exiting non-zero is logged with its vhost and status",
           wait_for(lambda: re.search(r"\[b\.test\] child \d+ exited with status 1\b",
                                      srv.log()), 2), srv.log()[-500:] + repr(got[:60]))
        wait_for(lambda: not srv.children(), 2)
        before = set(srv.children())
        s = connect(srv.port)
        wait_for(lambda: set(srv.children()) - before)
        pid = min(set(srv.children()) - before, default=0)
        if pid:
            os.kill(pid, signal.SIGTERM)
        ok("a stage-1 child killed by a signal is logged with its pid and signal",
           pid and wait_for(lambda: re.search(r"child %d killed by signal 15\b" % pid,
                                              srv.log()), 2), srv.log()[-500:])
        s.close()
        # No vhost here counts places, so no child has the board: the
        # vhost comes from the child's name, numbered per config (after a
        # reload too).
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in srv.log(), 3)
        h = connect(srv.port)
        h.sendall(REQ_A)
        read_response(h)
        pid = child_of_uid(srv, UID_A)
        if pid:
            os.kill(pid, signal.SIGKILL)
        ok("after a reload, a killed stage-2 child is logged with its vhost",
           pid and wait_for(lambda: re.search(r"\[a\.test\] child %d killed by signal 9\b"
                                              % pid, srv.log()), 2), srv.log()[-500:])
        h.close()
        st = get(srv.port, "/", "a.test")
        ok("after the deaths a.test is served", st and st[0] == 200, repr(st))


# (8) reload under load ---------------------------------------------------

def reload_under_load():
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode:
        skip("reload under load", "wrk not installed (scripts/deps installs it)")
        return
    with Server(two_vhost_conf(), name="wrk") as srv:
        serve_roots(srv)
        stop = threading.Event()

        def hup():
            while not stop.wait(1.0):
                srv.proc.send_signal(signal.SIGHUP)
        th = threading.Thread(target=hup)
        th.start()
        try:
            r = subprocess.run(["wrk", "-t1", "-c2", "-d10s", "-H", "Host: a.test",
                                "http://127.0.0.1:%d/" % srv.port],
                               capture_output=True, text=True, timeout=30)
        finally:
            stop.set()
            th.join()
        out = r.stdout
        m = re.search(r"(\d+) requests in", out)
        n = int(m.group(1)) if m else 0
        errs = re.search(r"Socket errors: (.*)", out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        reloads = srv.log().count("reloaded ")
        ok("reload under load: %d requests in 10 s through %d reloads, no socket "
           "error, no non-2xx" % (n, reloads),
           r.returncode == 0 and n > 0 and not errs and not non2xx and reloads >= 8,
           out + r.stderr)


# (9) valgrind on the reload path ---------------------------------------

def valgrind_reload():
    if subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode:
        skip("valgrind reload", "valgrind not installed (scripts/deps installs it)")
        return
    with open(ITKD, "rb") as f:
        if b"__asan_init" in f.read():
            skip("valgrind reload", "itkd is built with ASan (SANITIZE=1): no valgrind")
            return
    # A TLS listener and a key pair too, so every reload loads and frees keys.
    conf = two_vhost_conf("listen 127.0.0.1:{tlsport} tls",
                          extra_a="tls-cert {dir}/a.pem\ntls-key {dir}/a.key")
    srv = Server(conf, name="vg", tls=True, start=False)
    try:
        two_vhost_roots(srv.dir)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=a.test", "-keyout", os.path.join(srv.dir, "a.key"),
                        "-out", os.path.join(srv.dir, "a.pem")],
                       check=True, capture_output=True)
        # Control: itkd needs openat2 (syscall 437), which a valgrind
        # older than 3.20 does not know: it answers ENOSYS, and itkd
        # refuses to start, as it would on a kernel without it.
        probe = subprocess.run(["valgrind", "-q", ITKD, "-t", "-c", srv.conf],
                               capture_output=True, text=True)
        if "openat2" in probe.stderr and probe.returncode != 0:
            skip("valgrind reload", "this valgrind does not emulate openat2(2), "
                 "which itkd needs: " + probe.stderr.strip().splitlines()[-1])
            return
        vlog = os.path.join(srv.dir, "valgrind.txt")
        srv.stderr = open(os.path.join(srv.dir, "stderr.txt"), "wb")
        srv.proc = subprocess.Popen(
            ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
             "--error-exitcode=9", "--child-silent-after-fork=yes", "--log-file=" + vlog,
             ITKD, "-f", "-c", srv.conf],
            stdin=subprocess.DEVNULL, stdout=srv.stderr, stderr=srv.stderr)
        srv.wait_port(srv.port, 30)
        results = []
        steps = ((conf.replace("www.a.test", "www.a.test new.a.test"), "reloaded ", 1),
                 (conf + "\nrot 13\n", "reload failed", 1),
                 (conf.replace("a.key", "missing.key"), "reload failed", 2),
                 (conf, "reloaded ", 2))
        for text, logged, times in steps:
            srv.write_conf(text)
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: srv.log().count(logged) >= times, 10)
            st = get(srv.port, "/", "a.test")
            results.append(st[0] if st else None)
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(60)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            rc = srv.proc.wait()
        with open(vlog, errors="replace") as f:
            report = f.read()
        ok("valgrind: 4 reloads (good, bad syntax, missing key, good) served %r" % results,
           results == [200] * 4 and srv.log().count("reload failed") == 2,
           srv.log()[-500:])
        ok("valgrind: the master exits 0 with no error and no definite leak",
           rc == 0 and "ERROR SUMMARY: 0 errors" in report and
           re.search(r"definitely lost: [1-9]", report) is None,
           "exit %s\n%s" % (rc, report[-1500:]))
    finally:
        srv.cleanup()


TESTS = (per_ip, vhost_max_clients, forged_board, slowloris, keepalive_limits, nice_and_limits,
         fork_failing, child_deaths, reload_under_load, valgrind_reload)
# python3 test_abuse.py [NAME...] runs only those parts.
for t in TESTS:
    if len(sys.argv) > 1 and t.__name__ not in sys.argv[1:]:
        continue
    t0 = time.monotonic()
    try:
        t()
    except Exception as e:  # one broken part must not hide the others
        ok(t.__name__, False, "%s: %s" % (type(e).__name__, e))
    print("# %s: %.1f s" % (t.__name__, time.monotonic() - t0), file=sys.stderr, flush=True)
done()
