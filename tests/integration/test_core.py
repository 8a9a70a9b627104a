"""The core server end to end: vhosts under their own uids, keep-alive and
the cross-identity close, pipelining, reaping, inetd mode, reload, stop,
the command line. Needs root (it switches uids)."""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("core")


def command_line():
    r = subprocess.run([ITKD, "-x"], capture_output=True)
    ok("cli: bad flag exits 2 with the usage", r.returncode == 2 and b"usage" in r.stderr,
       repr(r))
    r = subprocess.run([ITKD, "-v"], capture_output=True)
    ok("cli: -v prints the version", r.returncode == 0 and r.stdout.startswith(b"itkd "), repr(r))
    r = subprocess.run([ITKD, "-h"], capture_output=True)
    ok("cli: -h prints the usage", r.returncode == 0 and b"-c FILE" in r.stdout, repr(r))
    r = subprocess.run([ITKD, "stray"], capture_output=True)
    ok("cli: a stray argument exits 2", r.returncode == 2, repr(r))


def check_mode():
    with Server("listen 127.0.0.1:1\nuser #%d\ngroup #%d\n" % (UID_USER, UID_USER) + RANGES +
                "vhost a\nroot /\nrot 13\n",
                name="chk", start=False) as s:
        r = subprocess.run([ITKD, "-t", "-c", s.conf], capture_output=True)
        ok("-t: a bad config exits 1 with file:line: message",
           r.returncode == 1 and (s.conf + ":8:").encode() in r.stderr and b"rot" in r.stderr,
           repr(r))
        s.write_conf(two_vhost_conf())
        r = subprocess.run([ITKD, "-t", "-c", s.conf], capture_output=True)
        ok("-t: a good config exits 0", r.returncode == 0, repr(r))
        r = subprocess.run([ITKD, "-f", "-c", s.conf + ".missing"], capture_output=True)
        ok("start: a missing config exits 1", r.returncode == 1 and b"missing" in r.stderr, repr(r))


def vhosts(s):
    st = get(s.port, "/secret.txt", "a.test")
    ok("vhost a serves its own 0600 file", st and st[0] == 200 and st[2] == b"secret of a\n",
       repr(st))
    st = get(s.port, "/secret.txt", "b.test")
    ok("vhost b serves its own 0600 file", st and st[0] == 200 and st[2] == b"secret of b\n",
       repr(st))
    st = get(s.port, "/secret.txt", "unknown.test")
    ok("an unknown Host gets the first vhost", st and st[2] == b"secret of a\n", repr(st))
    st = get(s.port, "/secret.txt", "www.a.test:%d" % s.port)
    ok("an alias with a port matches", st and st[2] == b"secret of a\n", repr(st))
    os.symlink(os.path.join(s.dir, "a", "secret.txt"), os.path.join(s.dir, "b", "steal.txt"))
    st = get(s.port, "/steal.txt", "b.test")
    ok("b cannot read a's file through a symlink", st and st[0] in (403, 404) and
       b"secret of a" not in st[2], repr(st))
    st = get(s.port, "/", "a.test")
    ok("index.html for /", st and st[0] == 200 and b"<h1>a</h1>" in st[2], repr(st))
    st = get(s.port, "/", "a.test", method="HEAD")
    ok("HEAD: headers, no body", st and st[0] == 200 and st[2] == b"" and
       int(st[1].get("content-length", "-1")) == len("<h1>a</h1>\n"), repr(st))
    for h in ("date", "server", "content-length"):
        ok("response carries " + h, st and h in st[1], repr(st))
    st = get(s.port, "/nope", "a.test")
    ok("404 for a missing file", st and st[0] == 404, repr(st))
    st = get(s.port, "/", "a.test", method="DELETE")
    ok("405 for DELETE to a static resource", st and st[0] == 405 and
       st[1].get("allow") == "GET, HEAD, OPTIONS", repr(st))
    st = get(s.port, "/", "a.test", method="TRACE")
    ok("501 for TRACE", st and st[0] == 501, repr(st))
    r = parse(raw(s.port, b"POST /index.html HTTP/1.1\r\nHost: a.test\r\n"
                      b"Content-Length: 3\r\nConnection: close\r\n\r\nabc"))
    st = r[0] if r else None
    ok("405 for POST to a static file", st and st[0] == 405 and "GET" in st[1].get("allow", ""),
       repr(st))
    mkdir_sub = os.path.join(s.dir, "a", "sub")
    mkdir(mkdir_sub, UID_A, UID_A, 0o755)
    st = get(s.port, "/sub", "a.test")
    ok("301 adds the trailing slash", st and st[0] == 301 and
       st[1].get("location", "").endswith("/sub/"), repr(st))


def keepalive(s):
    one = b"GET /secret.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"
    c = connect(s.port)
    c.sendall(one)
    time.sleep(0.2)
    c.sendall(one)
    time.sleep(0.2)
    c.sendall(b"GET /secret.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    r = parse(recv_all(c))
    c.close()
    ok("keep-alive: three requests on one connection",
       [x[0] for x in r] == [200, 200, 200] and all(x[2] == b"secret of a\n" for x in r), repr(r))

    c = connect(s.port)
    c.sendall(one * 5 + b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    r = parse(recv_all(c))
    c.close()
    ok("pipelining: six answers in order", len(r) == 6 and r[-1][2] == b"<h1>a</h1>\n", repr(r)[:300])

    # Another identity on the same connection: closed unanswered, after the
    # answers already given.
    c = connect(s.port)
    c.sendall(one + b"GET /secret.txt HTTP/1.1\r\nHost: b.test\r\n\r\n" + one)
    data = recv_all(c)
    r = parse(data)
    c.close()
    ok("cross-uid keep-alive: first answered, then closed unanswered",
       len(r) == 1 and r[0][2] == b"secret of a\n", repr(data)[:300])

    r = subprocess.run(["curl", "-sS", "-v", "--retry", "0",
                        "-H", "Host: a.test", "http://127.0.0.1:%d/secret.txt" % s.port,
                        "--next", "-H", "Host: b.test", "http://127.0.0.1:%d/secret.txt" % s.port],
                       capture_output=True, timeout=20)
    ok("curl --next across two uids gets both answers",
       r.returncode == 0 and r.stdout == b"secret of a\nsecret of b\n", repr(r)[:500])

    # HTTP/1.0 closes unless asked to keep alive.
    st = raw(s.port, b"GET /secret.txt HTTP/1.0\r\n\r\n", shut=False)
    ok("HTTP/1.0 without keep-alive closes", parse(st) and parse(st)[0][0] == 200, repr(st))


def bad(s):
    cases = [
        (b"GARBAGE\r\n\r\n", 400), (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: a.test\r\n\r\n", 505),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a.test\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431),
        (b"GET /%zz HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
        (b"GET /../../etc/passwd HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ]
    for req, want in cases:
        r = parse(raw(s.port, req))
        ok("bad input %r -> %d" % (req[:30], want), r and r[0][0] == want, repr(r)[:200])
    st = get(s.port, "/secret.txt", "a.test")
    ok("still serving after bad input", st and st[0] == 200, repr(st))


def slow_head(s):
    # timeout 5 in the config: a head trickled forever gets 408 or a close.
    c = connect(s.port, 15)
    c.sendall(b"GET / HTTP/1.1\r\n")
    t0 = time.time()
    data = recv_all(c, 15)
    c.close()
    took = time.time() - t0
    ok("a head never finished is answered 408 within the timeout",
       data.startswith(b"HTTP/1.1 408") and took < 8, "%r after %.1fs" % (data[:60], took))


def zombies_check(s):
    for i in range(300):
        c = connect(s.port)
        if i % 3 == 0:
            c.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            recv_all(c)
        c.close()
    wait_for(lambda: not zombies(s.proc.pid) and not s.children())
    z = zombies(s.proc.pid)
    ok("no zombie after 300 connections", not z, repr(z))
    kids = s.children()
    ok("no child left after 300 closed connections", len(kids) == 0, repr(kids))


def reload_checks(s):
    good = s.conf_text.replace("vhost b.test", "vhost b.test c.test")
    s.write_conf(good)
    s.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: s.log().count("reloaded") >= 1)
    st = get(s.port, "/secret.txt", "c.test")
    ok("SIGHUP with a good config: the new alias serves", st and st[2] == b"secret of b\n", repr(st))
    s.write_conf(good + "\nbogus-directive 1\n")
    s.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "bogus-directive" in s.log())
    ok("SIGHUP with a broken config: logged with file:line",
       (s.conf + ":") in s.log() and "bogus-directive" in s.log(), s.log()[-500:])
    st = get(s.port, "/secret.txt", "c.test")
    ok("SIGHUP with a broken config: the old one keeps serving",
       s.proc.poll() is None and st and st[2] == b"secret of b\n", repr(st))
    s.write_conf(good.replace("uid-range %d %d" % (RANGE_MIN, RANGE_MAX),
                              "uid-range %d %d" % (RANGE_MIN, tid(9000))))
    s.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "restart" in s.log())
    ok("SIGHUP changing uid-range is refused", "restart" in s.log() and s.proc.poll() is None,
       s.log()[-300:])


def hup_at_startup():
    """A HUP that comes once the port answers but before the master is up
    (a reload from a unit file, a log rotation) is a reload, not a kill.
    strace holds the master right after its listen() returns, so the
    port answers while the rest of the start-up is still to come."""
    if subprocess.run(["sh", "-c", "command -v strace"], capture_output=True).returncode:
        skip("HUP at start-up", "strace not installed (scripts/deps installs it)")
        return
    if subprocess.run(["strace", "-o", "/dev/null", "true"], capture_output=True).returncode:
        skip("HUP at start-up", "strace cannot trace here (no ptrace)")
        return
    with Server(two_vhost_conf(), name="hup", start=False) as s:
        two_vhost_roots(s.dir)
        s.stderr = open(os.path.join(s.dir, "stderr.txt"), "wb")
        # LeakSanitizer cannot run under ptrace (SANITIZE=1 builds).
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        s.proc = subprocess.Popen(
            ["strace", "-o", "/dev/null", "-e", "trace=listen",
             "-e", "inject=listen:delay_exit=1000000", ITKD, "-f", "-c", s.conf],
            stdin=subprocess.DEVNULL, stdout=s.stderr, stderr=s.stderr, env=env)
        s.wait_port(s.port)
        wait_for(lambda: s.children(), 1.0)   # strace's child: the master
        master = min(s.children(), default=None)
        if master is None:
            ok("HUP at start-up: the master is found under strace", False)
            return
        logged_before = "serving" in s.log()
        os.kill(master, signal.SIGHUP)
        wait_for(lambda: "reloaded" in s.log() or s.proc.poll() is not None, 10)
        try:
            st = get(s.port, "/secret.txt", "b.test")
        except OSError as e:  # the old master died of the HUP: refused
            st = e
        ok("HUP at start-up: sent before the master was up",
           not logged_before, s.log()[-300:])
        ok("HUP at start-up: the master lives, reloads and serves",
           s.proc.poll() is None and "reloaded" in s.log() and st and st[0] == 200,
           "strace exit %s, answer %r\n%s" % (s.proc.poll(), st, s.log()[-300:]))
        os.kill(master, signal.SIGTERM)
        try:
            s.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


def inetd(s):
    a, b = socket.socketpair()
    p = subprocess.Popen([ITKD, "-i", "-c", s.conf], stdin=b, stdout=b,
                         stderr=subprocess.DEVNULL)
    b.close()
    a.sendall(b"GET /secret.txt HTTP/1.1\r\nHost: b.test\r\n\r\n"
              b"GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
    r = parse(recv_all(a))
    a.close()
    p.wait(10)
    ok("inetd mode over a socketpair: two answers as vhost b",
       [x[0] for x in r] == [200, 200] and r[0][2] == b"secret of b\n", repr(r)[:300])
    ok("inetd mode exits 0", p.returncode == 0, str(p.returncode))


def stop(s):
    c = connect(s.port)
    c.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    wait_for(lambda: s.children())  # accepted: now it is in flight
    s.proc.send_signal(signal.SIGTERM)
    r = parse(recv_all(c, 3))
    c.close()
    try:
        s.proc.wait(15)
    except subprocess.TimeoutExpired:
        pass
    ok("SIGTERM: the master exits 0", s.proc.returncode == 0, str(s.proc.returncode))
    ok("SIGTERM: the request in flight was answered", r and r[0][0] == 200, repr(r)[:200])
    try:
        socket.create_connection(("127.0.0.1", s.port), 1).close()
        refused = False
    except OSError:
        refused = True
    ok("SIGTERM: the port is closed", refused)


command_line()
check_mode()
hup_at_startup()
s = Server(two_vhost_conf(), name="core", start=False)
try:
    two_vhost_roots(s.dir)
    s.start()
    vhosts(s)
    keepalive(s)
    bad(s)
    slow_head(s)
    zombies_check(s)
    inetd(s)
    reload_checks(s)
    stop(s)
finally:
    s.cleanup()
done()
