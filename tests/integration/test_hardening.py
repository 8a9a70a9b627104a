"""Attacks on the isolation between clients and vhosts, each reproduced:
an nph- script forging a second response through a proxy that reuses server
connections, a request body trickled to a CGI program, many connections of
one client behind a trusted proxy, and a setuid-root program run from a
CGI program. Needs root (it switches uids)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("hardening")

CREDCHECK = os.path.join(TOP, "tests", "helpers", "credcheck")

# Response one is complete (Content-Length 5). A second after it, when a
# proxy that reuses server connections may have sent another client's
# request on this one, comes a whole second response; then the script
# keeps the connection open a while.
FORGE = (b"#!/bin/sh\n"
         b"printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n"
         b"Content-Length: 5\\r\\n\\r\\nhello'\n"
         b"sleep 1\n"
         b"printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n"
         b"Content-Length: 7\\r\\n\\r\\nFORGED\\n'\n"
         b"sleep 2\n")


def cgi_layout(s, scripts):
    two_vhost_roots(s.dir)
    bin_ = mkdir(os.path.join(s.dir, "a", "cgi-bin"), UID_A, UID_A, 0o755)
    for name, text in scripts.items():
        write(os.path.join(bin_, name), text, UID_A, UID_A, 0o755)
    return bin_


def request(port, req, timeout=10.0):
    r = parse(raw(port, req, timeout, shut=False))
    return r[0] if r else None


def head_of(data):
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()


# ---- nph- ------------------------------------------------------------------

NPH = {
    "nph-forge.cgi": FORGE,
    "nph-badline.cgi": "#!/bin/sh\nprintf 'HTTP/1.1 2x0 Fine\\r\\nContent-Type: text/plain\\r\\n\\r\\nbody'\n",
    "nph-nostatus.cgi": "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nbody'\n",
    "nph-interim.cgi": "#!/bin/sh\nprintf 'HTTP/1.1 101 Switching\\r\\nUpgrade: x\\r\\n\\r\\n'\n",
    "nph-te.cgi": "#!/bin/sh\nprintf 'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n0\\r\\n\\r\\n'\n",
    "nph-fields.cgi": "#!/bin/sh\nprintf 'HTTP/1.0 203 Non-Authoritative\\r\\nContent-Type: text/plain\\r\\nX-Nph: 1\\r\\nConnection: keep-alive\\r\\n\\r\\n'\nhead -c 100000 /dev/zero | tr '\\0' x\n",
}


def nph_direct():
    s = Server(two_vhost_conf(extra_a="cgi-dir /cgi-bin/\n"),
               name="nph", start=False)
    try:
        cgi_layout(s, NPH)
        s.start()
        get_ = b"GET /cgi-bin/%s HTTP/1.1\r\nHost: a.test\r\n\r\n"
        for name in ("nph-badline.cgi", "nph-nostatus.cgi", "nph-interim.cgi", "nph-te.cgi"):
            st = request(s.port, get_ % name.encode())
            ok("nph-: %s gives 502" % name, st and st[0] == 502, repr(st)[:200])
        data = raw(s.port, get_ % b"nph-fields.cgi", 10, shut=False)
        r = parse(data)
        h = head_of(data)
        ok("nph-: status and fields passed on", len(r) == 1 and r[0][0] == 203 and
           r[0][1].get("x-nph") == "1" and r[0][1].get("content-type") == "text/plain",
           repr(data[:300]))
        ok("nph-: Connection: close forced (the script's keep-alive dropped)",
           "\r\nconnection: close" in h and "keep-alive" not in h, h)
        ok("nph-: body intact (100000 bytes, framed by itkd)",
           len(r) == 1 and r[0][2] == b"x" * 100000, repr(len(r[0][2]) if r else None))
        data = raw(s.port, get_ % b"nph-forge.cgi", 10, shut=False)
        r = parse(data)
        ok("nph-: a second response in the output is cut (Content-Length kept)",
           len(r) == 1 and r[0][2] == b"hello" and b"FORGED" not in data,
           repr(data[:400]))
        ok("nph-: that answer says Connection: close",
           "\r\nconnection: close" in head_of(data), head_of(data))
    finally:
        s.cleanup()


def nph_haproxy():
    if shutil.which("haproxy") is None:
        skip("nph-: behind haproxy", "haproxy not installed (scripts/deps installs it)")
        return
    s = Server(two_vhost_conf(extra_a="cgi-dir /cgi-bin/\n"),
               name="nphpx", start=False)
    hp = None
    try:
        cgi_layout(s, {"nph-forge.cgi": FORGE})
        s.start()
        front = free_port()
        cfg = os.path.join(s.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("""global
    maxconn 100
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    http-reuse always
    # itkd closes a reused connection unanswered when the next request is
    # for another identity: the proxy sends the request again on a new one.
    retries 3
    retry-on conn-failure empty-response
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server one 127.0.0.1:%d
""" % (front, s.port))
        hp = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

        def front_up():
            try:
                socket.create_connection(("127.0.0.1", front), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(front_up, 10)
        # Control: the proxy relays plain requests to both vhosts.
        st = get(front, "/secret.txt", "b.test")
        ok("nph- behind haproxy: control, b.test served through the proxy",
           st and st[0] == 200 and st[2] == b"secret of b\n", repr(st))
        # Client one (its own connection to haproxy), a.test's nph script.
        c1 = connect(front, 10)
        c1.sendall(b"GET /cgi-bin/nph-forge.cgi HTTP/1.1\r\nHost: a.test\r\n\r\n")
        first = read_response(c1, 10)
        # Client two, another connection to haproxy, another vhost, while
        # the script still holds its connection to itkd.
        answers = [get(front, "/secret.txt", "b.test") for _ in range(3)]
        c1.close()
        ok("nph- behind haproxy: client one gets its answer",
           first.startswith(b"HTTP/1.1 200") and first.endswith(b"hello"), repr(first[:300]))
        ok("nph- behind haproxy: client two gets b.test's real answer, never the forged one",
           all(a and a[0] == 200 and a[2] == b"secret of b\n" for a in answers),
           repr(answers))
    finally:
        if hp:
            hp.terminate()
            hp.wait(5)
        s.cleanup()


# ---- a request body trickled to a CGI program ------------------------------

ECHO = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\ncat\n"


def trickle(port, head, piece, seconds, result):
    """Send head, then piece every 0.5 s for up to seconds; result gets how
    long until the server closed (or answered 408), and what it sent."""
    t0 = time.monotonic()
    c = connect(port, seconds + 5)
    data = b""
    try:
        c.sendall(head)
        due = t0
        while time.monotonic() - t0 < seconds:
            if time.monotonic() >= due:
                try:
                    c.sendall(piece)
                except OSError:
                    break
                due += 0.5
            c.settimeout(max(0.01, due - time.monotonic()))
            try:
                b = c.recv(65536)
                if not b:
                    break
                data += b
                if b" 408 " in data:
                    break
            except socket.timeout:
                pass
            except OSError:
                break
    finally:
        c.close()
    result.append((time.monotonic() - t0, data))


def slow_body():
    conf = two_vhost_conf(extra_global="max-clients 3\n",
                          extra_a="cgi-dir /cgi-bin/\ncgi-timeout 60\n")
    conf = conf.replace("timeout 5", "timeout 2")
    s = Server(conf, name="slowbody", start=False)
    try:
        cgi_layout(s, {"echo.cgi": ECHO})
        s.start()
        st = request(s.port, b"POST /cgi-bin/echo.cgi HTTP/1.1\r\nHost: a.test\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n")
        ok("slow body: control, a chunked body is echoed", st and st[0] == 200 and
           st[2] == b"hello", repr(st))
        chunked = (b"POST /cgi-bin/echo.cgi HTTP/1.1\r\nHost: a.test\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
        length = (b"POST /cgi-bin/echo.cgi HTTP/1.1\r\nHost: a.test\r\n"
                  b"Content-Length: 1000\r\n\r\n")
        results = [[], [], []]
        # max-clients 3: three tricklers hold every slot while they last.
        threads = [threading.Thread(target=trickle, args=(s.port, chunked, b"1\r\nx\r\n", 14, results[0])),
                   threading.Thread(target=trickle, args=(s.port, chunked, b"1\r\nx\r\n", 14, results[1])),
                   threading.Thread(target=trickle, args=(s.port, length, b"x", 14, results[2]))]
        for t in threads:
            t.start()
        # Every slot is held now; a further client waits in the backlog
        # until one is free: at the bodies' deadline (about 2 s), not when
        # the tricklers give up (14 s).
        wait_for(lambda: len(s.children()) >= 3, 5)
        t0 = time.monotonic()
        data = raw(s.port, b"GET /secret.txt HTTP/1.1\r\nHost: b.test\r\n"
                   b"Connection: close\r\n\r\n", 10)
        waited = time.monotonic() - t0
        for t in threads:
            t.join()
        (tc, dc), (tc2, dc2), (tl, dl) = results[0][0], results[1][0], results[2][0]
        # timeout 2: cut at about 2 s; 9 s is a generous margin, and the
        # tricklers would go on for 14.
        ok("slow body: a chunked body trickled to a CGI is cut at its total deadline (408)",
           tc < 9 and b" 408 " in dc and tc2 < 9, "%.1f s, %r" % (tc, dc[:100]))
        ok("slow body: a Content-Length body trickled to a CGI is cut at its total deadline",
           tl < 9, "%.1f s, %r" % (tl, dl[:100]))
        ok("slow body: the slots are freed, a further client is served meanwhile",
           data.startswith(b"HTTP/1.1 200") and data.endswith(b"secret of b\n") and waited < 9,
           "%.1f s: %r" % (waited, data[:100]))
        # Past `timeout` but at 32 KiB/s: the rate's credit keeps it going.
        c = connect(s.port, 20)
        c.sendall(chunked)
        for _ in range(8):
            c.sendall(b"4000\r\n" + b"y" * 0x4000 + b"\r\n")
            time.sleep(0.5)
        c.sendall(b"0\r\n\r\n")
        c.shutdown(socket.SHUT_WR)
        r = parse(recv_all(c, 20))
        c.close()
        ok("slow body: a body sent steadily for 4 s (above the minimum rate) is taken whole",
           r and r[0][0] == 200 and r[0][2] == b"y" * 0x20000, repr(r)[:200])
        ok("slow body: no zombie", wait_for(lambda: not zombies(s.proc.pid)), repr(zombies(s.proc.pid)))
    finally:
        s.cleanup()


# ---- max-clients-per-ip behind a trusted proxy -------------------------------

def proxied(port, client, path="/secret.txt", host="b.test", hold=False):
    """A connection from the trusted proxy (127.0.0.1) for client: with
    hold, the head is left unfinished and the socket returned."""
    c = connect(port, 10)
    try:
        c.sendall(("PROXY TCP4 %s 127.0.0.1 40000 80\r\n" % client).encode())
        if hold:
            c.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\n")
            return c
        c.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                   (path, host)).encode())
        r = parse(recv_all(c, 10))
    except OSError:
        r = None        # closed before the request went out
    c.close()
    return r[0] if r else None


def per_ip_proxy():
    conf = two_vhost_conf(extra_global="trusted-proxy 127.0.0.1\n"
                          "max-clients-per-ip 2\nmax-clients 20\n")
    conf = conf.replace("timeout 5", "timeout 20")
    s = Server(conf, name="perip", start=False)
    held = []
    try:
        two_vhost_roots(s.dir)
        s.start()
        st = proxied(s.port, "10.0.0.1")
        ok("per-ip behind proxy: control, client X served through the proxy",
           st and st[0] == 200 and st[2] == b"secret of b\n", repr(st))
        # The control's connection must be gone: until the master reaps
        # its process, its place still counts.
        wait_for(lambda: not s.children(), 5)
        held = [proxied(s.port, "10.0.0.1", hold=True) for _ in range(2)]
        early = []
        for c in held:
            c.settimeout(0.5)
            try:
                early.append(c.recv(200))
            except socket.timeout:
                pass
        ok("per-ip behind proxy: two connections of X held open", not early, repr(early))
        got = []

        def x_refused():
            got.append(proxied(s.port, "10.0.0.1"))
            return got[-1] is not None and got[-1][0] == 503
        ok("per-ip behind proxy: client X past max-clients-per-ip gets 503",
           wait_for(x_refused, 5), repr(got[-3:]))
        ok("per-ip behind proxy: the 503 says Retry-After",
           got and got[-1] and "retry-after" in got[-1][1], repr(got[-1:]))
        answers = [proxied(s.port, "10.0.0.%d" % n) for n in (2, 3, 2)]
        ok("per-ip behind proxy: clients Y and Z behind the same proxy still served",
           all(a and a[0] == 200 and a[2] == b"secret of b\n" for a in answers), repr(answers))
        for c in held:
            c.close()
        held = []
        again = []

        def x_served():
            again.append(proxied(s.port, "10.0.0.1"))
            return again[-1] is not None and again[-1][0] == 200
        ok("per-ip behind proxy: X served again once its connections are gone",
           wait_for(x_served, 10), repr(again[-3:]))
    finally:
        for c in held:
            c.close()
        s.cleanup()


# ---- no-new-privs ---------------------------------------------------------------

def nnp_check():
    conf = two_vhost_conf(extra_b="no-new-privs off\n")
    s = Server(conf, name="nnpt", start=False)
    try:
        two_vhost_roots(s.dir)
        line = s.fill(conf).splitlines().index("no-new-privs off") + 1
        p = subprocess.run([ITKD, "-t", "-c", s.conf], capture_output=True, text=True)
        want = "%s:%d: warning: no-new-privs off" % (s.conf, line)
        ok("itkd -t: no-new-privs off is accepted with a file:line warning",
           p.returncode == 0 and want in p.stderr, "rc %d: %r" % (p.returncode, p.stderr))
        ok("itkd -t: the warning says what it allows",
           "euid" in p.stderr or "effective uid 0" in p.stderr, p.stderr)
        s2 = Server(two_vhost_conf(), name="nnpt2", start=False)
        two_vhost_roots(s2.dir)
        p = subprocess.run([ITKD, "-t", "-c", s2.conf], capture_output=True, text=True)
        ok("itkd -t: no warning with the default", p.returncode == 0 and "warning" not in p.stderr,
           p.stderr)
        s2.cleanup()
        s.start()
        ok("start: the warning is printed there too",
           wait_for(lambda: want in s.log(), 5), s.log()[-300:])
        s.proc.send_signal(signal.SIGHUP)
        ok("reload: and logged again after it",
           wait_for(lambda: s.log().count(want) >= 2, 5), s.log()[-300:])
    finally:
        s.cleanup()


def suid_uid_line(body):
    for line in body.decode("latin-1").splitlines():
        if line.startswith("Uid:"):
            return line.split()[1:]
    return None


def setuid_helper():
    if not os.path.exists(CREDCHECK):
        skip("setuid helper", "tests/helpers/credcheck not built")
        return
    wrapper = "#!/bin/sh\nexec ./credcheck-suid\n"
    conf = two_vhost_conf(extra_a="cgi-dir /cgi-bin/\n",
                          extra_b="cgi-dir /cgi-bin/\nno-new-privs off\n")
    s = Server(conf, name="suid", start=False)
    try:
        two_vhost_roots(s.dir)
        for v, uid in (("a", UID_A), ("b", UID_B)):
            bin_ = mkdir(os.path.join(s.dir, v, "cgi-bin"), uid, uid, 0o755)
            write(os.path.join(bin_, "suid.cgi"), wrapper, uid, uid, 0o755)
            dst = os.path.join(bin_, "credcheck-suid")
            shutil.copy(CREDCHECK, dst)
            os.chown(dst, 0, 0)
            os.chmod(dst, 0o4755)
        if os.statvfs(s.dir).f_flag & os.ST_NOSUID:
            skip("setuid helper", "the test directory is on a nosuid mount")
            return
        s.start()
        st = get(s.port, "/cgi-bin/suid.cgi", "a.test")
        uids = suid_uid_line(st[2]) if st else None
        ok("no-new-privs on (default): a setuid-root program from a CGI keeps euid = the vhost's uid",
           uids == [str(UID_A)] * 4, repr(st)[:400])
        st = get(s.port, "/cgi-bin/suid.cgi", "b.test")
        uids = suid_uid_line(st[2]) if st else None
        capeff = [l for l in st[2].decode().splitlines() if l.startswith("CapEff:")] if st else []
        ok("no-new-privs off: the same program runs with euid 0 (what the manual warns of)",
           uids is not None and uids[0] == str(UID_B) and uids[1] == "0", repr(st)[:400])
        ok("no-new-privs off: and still with every capability set empty",
           capeff and capeff[0].split()[1] == "0000000000000000", repr(capeff))
    finally:
        s.cleanup()


nph_direct()
nph_haproxy()
slow_body()
per_ip_proxy()
nnp_check()
setuid_helper()
done()
