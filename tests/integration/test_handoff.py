"""`cross-identity handoff`: a kept-alive request for a vhost of another
identity is answered by a fresh connection process instead of closing the
connection unanswered (`close`, the default, as mpm-itk does). Real
clients (python requests, urllib3, http.client, curl, HAProxy in http mode)
over plain HTTP and TLS, pipelining, the request limit across hand-offs,
max-clients under a flood of hand-offs, the uid after a hand-off, zombies
and the master's fds."""
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (ITKD, TOP, UID_A, UID_B, UID_USER, RANGES, Server,
                      connect, conn_child, done, free_port, gatekeeper_of, get,
                      need_root, ok, socket_inodes,
                      proc_status, skip, two_vhost_conf,
                      two_vhost_roots, wait_for, write, zombies)
need_root("test_handoff")

try:
    import requests
    import urllib3
    warnings.filterwarnings("ignore")
except ImportError:
    requests = urllib3 = None

# Prints its uid and the body it was sent: which process answered, and
# that a body travelled whole.
ID_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
id -u
if [ -n "$CONTENT_LENGTH" ]; then head -c "$CONTENT_LENGTH"; fi
"""

TLS_CONF = """
listen 127.0.0.1:{port}
listen 127.0.0.1:{tlsport} tls
user #%d
group #%d
%s
error-log {dir}/error.log
access-log {dir}/access.log
timeout 5
%s
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
cgi .cgi
tls-cert {dir}/certs/b.pem
tls-key {dir}/certs/b.rsa
"""


def server(mode, extra="", name="ho", tls=False, args=("-T",)):
    g = ("cross-identity %s\n" % mode if mode else "") + extra
    if tls:
        srv = Server(TLS_CONF % (UID_USER, UID_USER, RANGES, g, UID_A, UID_A,
                                 UID_B, UID_B),
                     name=name, tls=True, start=False, extra_args=list(args))
    else:
        srv = Server(two_vhost_conf(extra_global=g, extra_a="cgi .cgi",
                                    extra_b="cgi .cgi"),
                     name=name, start=False, extra_args=list(args))
    two_vhost_roots(srv.dir)
    for d, uid in (("a", UID_A), ("b", UID_B)):
        write(os.path.join(srv.dir, d, "id.cgi"), ID_CGI, uid, uid, 0o700)
    if tls:
        certs = os.path.join(srv.dir, "certs")
        subprocess.run(["sh", os.path.join(TOP, "tests", "certs.sh"), certs],
                       check=True, stdout=subprocess.DEVNULL)
    srv.start()
    if tls:
        srv.wait_port(srv.tlsport)
    return srv


def req(host, path="/secret.txt", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, extra)).encode()


def body_of(resp):
    return resp.partition(b"\r\n\r\n")[2]


def read_n(s, n, timeout=5.0):
    """n responses from s (Content-Length or chunked), each as head + the
    decoded body; fewer if it closes first."""
    s.settimeout(timeout)
    buf = [b""]

    def more():
        b = s.recv(65536)
        if not b:
            raise EOFError
        buf[0] += b

    def line():
        while b"\r\n" not in buf[0]:
            more()
        ln, _, buf[0] = buf[0].partition(b"\r\n")
        return ln

    def take(k):
        while len(buf[0]) < k:
            more()
        out, buf[0] = buf[0][:k], buf[0][k:]
        return out
    out = []
    try:
        while len(out) < n:
            while b"\r\n\r\n" not in buf[0]:
                more()
            head, _, buf[0] = buf[0].partition(b"\r\n\r\n")
            if re.search(rb"(?i)\r\ntransfer-encoding:\s*chunked", head):
                body = b""
                while True:
                    size = int(line().split(b";")[0], 16)
                    if size == 0:
                        while line() != b"":
                            pass
                        break
                    body += take(size)
                    take(2)
            else:
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                body = take(int(m.group(1)) if m else 0)
            out.append(head + b"\r\n\r\n" + body)
    except (EOFError, OSError):
        pass
    return out


def read_one(s, timeout=5.0):
    out = read_n(s, 1, timeout)
    return out[0] if out else b""


def master_fds(srv):
    return sorted(os.listdir("/proc/%d/fd" % srv.proc.pid))


def idle_master_fds(srv):
    """The master's fds once no connection is being served. The probe
    that waited for its port may not even be accepted yet: a request of
    our own, answered, comes after it in the backlog; once its process is
    reaped the master has closed its copy of both."""
    get(srv.port, "/secret.txt", "a.test")
    wait_for(lambda: not srv.children(), 10)
    return master_fds(srv)


def live_children(srv):
    return [p for p in srv.children()
            if not proc_status(p).get("State", "Z").startswith("Z")]


def config_errors():
    d = os.path.join(TOP, "tests", "tmp")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "handoff-bad.conf")
    with open(path, "w") as f:
        f.write("listen 127.0.0.1:1\nuser #%d\ngroup #%d\n%scross-identity maybe\n"
                % (UID_USER, UID_USER, RANGES))
    p = subprocess.run([ITKD, "-t", "-c", path], capture_output=True, text=True)
    ok("config: cross-identity maybe is refused with file:line",
       p.returncode != 0 and "%s:6: cross-identity: 'maybe' is not close or handoff" % path
       in p.stderr, p.stderr)
    os.unlink(path)


def close_mode():
    """Today's behaviour, still the default: closed unanswered."""
    srv = server(None, name="hoc")
    try:
        s = connect(srv.port)
        s.sendall(req("a.test"))
        first = read_one(s)
        s.sendall(req("b.test"))
        second = read_one(s)
        s.close()
        ok("close (default): a then b on one connection: b closed unanswered",
           body_of(first) == b"secret of a\n" and second == b"", repr(second))
        if requests:
            with requests.Session() as se:
                r1 = se.get("http://127.0.0.1:%d/secret.txt" % srv.port,
                            headers={"Host": "a.test"})
                try:
                    se.post("http://127.0.0.1:%d/id.cgi" % srv.port,
                            headers={"Host": "b.test"}, data=b"x" * 10)
                    err = None
                except requests.exceptions.ConnectionError as e:
                    err = e
            ok("close: python requests POST to the other vhost raises "
               "(RemoteDisconnected)", r1.status_code == 200 and err is not None,
               repr(err))
    finally:
        srv.cleanup()


def raw_plain(srv):
    s = connect(srv.port)
    bodies = []
    for h in ("a.test", "b.test", "a.test", "b.test"):
        s.sendall(req(h))
        bodies.append(body_of(read_one(s)))
    ok("handoff: a, b, a, b one after another on one connection: all answered",
       bodies == [b"secret of a\n", b"secret of b\n"] * 2, repr(bodies))
    s.sendall(req("a.test", "/id.cgi"))
    r = body_of(read_one(s))
    pid = conn_child(srv, s)
    st = proc_status(pid) if pid else {}
    ok("handoff: after b -> a the connection's process runs as a (uid %d), "
       "and the CGI says so" % UID_A,
       r == b"%d\n" % UID_A and st.get("Uid", "").split()[:1] == [str(UID_A)],
       "%r %r" % (r, st.get("Uid")))
    s.close()

    s = connect(srv.port)
    s.sendall(req("a.test") + req("b.test") + req("a.test", "/id.cgi") +
              req("b.test", "/id.cgi") + req("a.test"))
    out = read_n(s, 5)
    s.close()
    ok("handoff: a/b/a/b/a pipelined in one send: answered in order",
       [body_of(x) for x in out] == [b"secret of a\n", b"secret of b\n",
                                     b"%d\n" % UID_A, b"%d\n" % UID_B,
                                     b"secret of a\n"],
       repr([body_of(x) for x in out]))

    # A body in flight: the POST's head and half its body in one send, the
    # rest after the hand-off had to happen.
    s = connect(srv.port)
    s.sendall(req("a.test"))
    read_one(s)
    body = b"0123456789" * 1000
    head = ("POST /id.cgi HTTP/1.1\r\nHost: b.test\r\nContent-Length: %d\r\n\r\n"
            % len(body)).encode()
    s.sendall(head + body[:3000])
    time.sleep(0.05)
    s.sendall(body[3000:])
    r = body_of(read_one(s))
    s.close()
    ok("handoff: a POST body split across the hand-off arrives whole",
       r == b"%d\n" % UID_B + body, "%d bytes: %r" % (len(r), r[:40]))


def keepalive_limit():
    srv = server("handoff", extra="keepalive-requests 3\n", name="hok")
    try:
        s = connect(srv.port)
        s.sendall(req("a.test") + req("b.test") + req("a.test") + req("b.test"))
        out = read_n(s, 4)
        s.settimeout(5)
        try:
            rest = s.recv(100)
        except OSError:
            rest = b"?"
        s.close()
        ok("handoff: keepalive-requests 3 counts across hand-offs: 3 answers, "
           "the third says close, then EOF",
           len(out) == 3 and b"onnection: close" in out[2] and rest == b"",
           "%d answers %r" % (len(out), [x[:60] for x in out]))
    finally:
        srv.cleanup()


def clients(srv, scheme, port, label):
    base = "%s://127.0.0.1:%d" % (scheme, port)
    if requests:
        errs, got = 0, []
        with requests.Session() as se:
            for i in range(6):
                h = "a.test" if i % 2 == 0 else "b.test"
                try:
                    if i % 3 == 2:
                        r = se.post(base + "/id.cgi", headers={"Host": h},
                                    data=b"body%d" % i, verify=False)
                    else:
                        r = se.get(base + "/id.cgi", headers={"Host": h},
                                   verify=False)
                    got.append(r.text)
                except requests.exceptions.RequestException as e:
                    errs += 1
                    got.append(repr(e))
        want = ["%d\n%s" % (UID_A if i % 2 == 0 else UID_B,
                            "body%d" % i if i % 3 == 2 else "") for i in range(6)]
        ok("%s: python requests Session, GET and POST alternating a/b: "
           "0 errors, right uids and bodies" % label,
           errs == 0 and got == want, repr(got))
        pm = urllib3.PoolManager(retries=False, cert_reqs="CERT_NONE")
        errs, got = 0, []
        for i in range(6):
            h = "a.test" if i % 2 == 0 else "b.test"
            try:
                r = pm.request("POST" if i % 2 else "GET", base + "/id.cgi",
                               headers={"Host": h}, body=b"u" if i % 2 else None)
                got.append(r.data)
            except urllib3.exceptions.HTTPError as e:
                errs += 1
                got.append(repr(e))
        ok("%s: urllib3 (retries off), GET and POST alternating: 0 errors"
           % label, errs == 0 and got == [
               (b"%d\n" % UID_A) if i % 2 == 0 else (b"%d\nu" % UID_B)
               for i in range(6)], repr(got))
    else:
        skip("%s: requests/urllib3" % label, "python3-requests not installed")
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    errs, got, ports = 0, [], set()
    for i in range(6):
        h = "a.test" if i % 2 == 0 else "b.test"
        try:
            c.request("POST" if i % 2 else "GET", "/id.cgi", headers={"Host": h},
                      body=b"h" if i % 2 else None)
            got.append(c.getresponse().read())
            ports.add(c.sock.getsockname()[1])
        except (http.client.HTTPException, OSError) as e:
            errs += 1
            got.append(repr(e))
    c.close()
    ok("%s: http.client, one connection, GET/POST alternating: 0 errors, "
       "one TCP connection" % label, errs == 0 and len(ports) == 1 and got == [
           (b"%d\n" % UID_A) if i % 2 == 0 else (b"%d\nh" % UID_B)
           for i in range(6)], "%r ports %r" % (got, ports))
    if shutil.which("curl"):
        cmd = ["curl", "-s", "-k", "-w", "|%{num_connects}\n",
               base + "/id.cgi", "-H", "Host: a.test", "--next", "-k", "-w",
               "|%{num_connects}\n", base + "/id.cgi", "-H", "Host: b.test",
               "--next", "-k", "-w", "|%{num_connects}\n", base + "/id.cgi",
               "-H", "Host: a.test"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        want = "%d\n|1\n%d\n|0\n%d\n|0\n" % (UID_A, UID_B, UID_A)
        ok("%s: curl a, b, a on one connection (num_connects 1, 0, 0), "
           "uids a, b, a" % label, p.stdout == want, repr(p.stdout))
    else:
        skip("%s: curl" % label, "curl not installed")


def haproxy_run(srv, port, ssl_backend, label, expect_clean):
    if shutil.which("haproxy") is None:
        skip("%s: haproxy" % label, "haproxy not installed (scripts/deps installs it)")
        return
    front = free_port()
    cfg = os.path.join(srv.dir, "haproxy-%d.cfg" % front)
    with open(cfg, "w") as f:
        f.write("""global
    maxconn 100
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    retries 0
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server one 127.0.0.1:%d %s maxconn 1
""" % (front, port, "ssl verify none" if ssl_backend else ""))
    hp = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", front), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(up, 10)
        errors = 0
        c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        for i in range(20):
            h = "a.test" if i % 2 == 0 else "b.test"
            try:
                c.request("GET", "/secret.txt", headers={"Host": h})
                r = c.getresponse()
                b = r.read()
                if r.status != 200 or b != ("secret of %s\n" % h[0]).encode():
                    errors += 1
            except (http.client.HTTPException, OSError):
                errors += 1
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        c.close()
        if expect_clean:
            ok("%s: HAProxy http mode, 20 requests alternating a/b over one "
               "server connection: 0 errors" % label, errors == 0,
               "%d of 20 failed" % errors)
        else:
            ok("%s: HAProxy http mode, 20 alternating requests: the close is "
               "passed on (%d of 20 failed)" % (label, errors), errors > 0,
               "no error: was the server connection reused?")
    finally:
        hp.terminate()
        hp.wait()


def plain():
    srv = server("handoff", name="hop")
    try:
        fds0 = idle_master_fds(srv)
        raw_plain(srv)
        clients(srv, "http", srv.port, "handoff plain")
        haproxy_run(srv, srv.port, False, "handoff plain", True)
        wait_for(lambda: not live_children(srv), 10)
        log = srv.log()
        ok("handoff: -T logs the hand-off in stage 2 and in the master",
           "stage 2: request for another identity: connection handed off" in log
           and re.search(r"hand-off: the connection of \d+ goes on in \d+", log),
           log[-500:])
        ok("handoff plain: no hand-off refused or failed",
           not re.search(r"hand-off from \d+ refused|hand-off: (fork|.*connection closed)", log),
           log[-800:])
        wait_for(lambda: not zombies(srv.proc.pid), 5)
        ok("handoff plain: no zombie", not zombies(srv.proc.pid),
           repr(zombies(srv.proc.pid)))
        ok("handoff plain: the master's fds are those it started with",
           wait_for(lambda: master_fds(srv) == fds0, 5),
           "%r -> %r" % (fds0, master_fds(srv)))
    finally:
        srv.cleanup()
    srv = server("close", name="hopc")
    try:
        haproxy_run(srv, srv.port, False, "close plain", False)
    finally:
        srv.cleanup()


def tls():
    srv = server("handoff", name="hot", tls=True)
    try:
        fds0 = idle_master_fds(srv)
        clients(srv, "https", srv.tlsport, "handoff TLS")
        haproxy_run(srv, srv.tlsport, True, "handoff TLS", True)
        # SNI chose a.test: b.test over it is still a 421 after a hand-off.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.tlsport), 5),
                            server_hostname="a.test")
        s.sendall(req("a.test"))
        r1 = read_one(s)
        s.sendall(req("b.test"))
        r2 = read_one(s)
        s.close()
        ok("handoff TLS: SNI a.test, then Host b.test: 421, not served",
           body_of(r1) == b"secret of a\n" and r2.startswith(b"HTTP/1.1 421"),
           repr(r2[:60]))
        wait_for(lambda: not live_children(srv), 10)
        log = srv.log()
        ok("handoff TLS: no hand-off refused or failed",
           not re.search(r"hand-off from \d+ refused|hand-off: (fork|.*connection closed)", log),
           log[-800:])
        wait_for(lambda: not zombies(srv.proc.pid), 5)
        ok("handoff TLS: no zombie", not zombies(srv.proc.pid),
           repr(zombies(srv.proc.pid)))
        ok("handoff TLS: the master's fds are those it started with",
           wait_for(lambda: master_fds(srv) == fds0, 5),
           "%r -> %r" % (fds0, master_fds(srv)))
    finally:
        srv.cleanup()
    srv = server("close", name="hotc", tls=True)
    try:
        haproxy_run(srv, srv.tlsport, True, "close TLS", False)
    finally:
        srv.cleanup()


def channel_fds():
    """Of the master's sockets (its listeners and both ends of the
    hand-off channel), stage 2 holds exactly one with handoff (the
    channel's child end) and none with close; a gatekeeper none."""
    for mode, want in (("handoff", 1), ("close", 0)):
        srv = server(mode, name="hofd", tls=True, args=())
        try:
            idle_master_fds(srv)
            mine = socket_inodes(srv.proc.pid)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.tlsport), 5),
                                server_hostname="a.test")
            s.sendall(req("a.test"))
            read_one(s)
            gk = gatekeeper_of(srv, s)
            st2 = [p for p in srv.children() if p != gk]
            shared2 = [socket_inodes(p) & mine for p in st2]
            sharedg = socket_inodes(gk) & mine if gk else {"?"}
            s.close()
            ok("%s: stage 2 holds %d of the master's sockets, the gatekeeper "
               "none" % (mode, want),
               len(st2) == 1 and len(shared2[0]) == want and not sharedg,
               "stage 2 %r gatekeeper %r" % (shared2, sharedg))
        finally:
            srv.cleanup()


def reload_between():
    """A process started under the config before a reload does not hand
    off after it (vhost positions may mean others now): its connection
    closes, as with close; one started after the reload hands off."""
    import signal
    srv = server("handoff", name="hor", args=())
    try:
        s = connect(srv.port)
        s.sendall(req("a.test"))
        first = body_of(read_one(s))
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in srv.log(), 10)
        s.sendall(req("b.test"))
        second = read_one(s)
        s.close()
        s = connect(srv.port)
        s.sendall(req("a.test") + req("b.test"))
        after = [body_of(x) for x in read_n(s, 2)]
        s.close()
        ok("reload: a hand-off from before the reload is refused (closed "
           "unanswered), one after it answered",
           first == b"secret of a\n" and second == b"" and
           after == [b"secret of a\n", b"secret of b\n"],
           "%r %r %r" % (first, second, after))
    finally:
        srv.cleanup()


def per_ip_and_proxy():
    """The fresh process takes its sender's place: max-clients-per-ip 1
    does not refuse a connection's own hand-offs. Behind a trusted proxy
    the client's address from the PROXY header goes along: both vhosts
    log it."""
    srv = server("handoff", extra="max-clients-per-ip 1\n"
                 "trusted-proxy 127.0.0.1/32\n", name="hoip", args=())
    try:
        # The probe that waited for the port is from 127.0.0.1 too: once
        # a request of ours is answered (behind it in the backlog) and no
        # process is left, it is gone.
        def answered():
            try:
                r = get(srv.port, "/secret.txt", "a.test")
                return bool(r) and r[0] == 200
            except OSError:
                return False
        wait_for(answered, 10)
        wait_for(lambda: not srv.children(), 10)
        s = connect(srv.port)
        s.sendall(b"PROXY TCP4 127.0.0.9 127.0.0.1 4000 80\r\n" +
                  req("a.test") + req("b.test") + req("a.test") + req("b.test"))
        out = [body_of(x) for x in read_n(s, 4)]
        s.close()
        ok("max-clients-per-ip 1: a, b, a, b on one connection all answered",
           out == [b"secret of a\n", b"secret of b\n"] * 2, repr(out))
        wait_for(lambda: srv.access().count("127.0.0.9 ") >= 4, 5)
        lines = [l.split()[0] + " " + l.split()[-1]
                 for l in srv.access().splitlines()]
        ok("PROXY: the client's address (127.0.0.9) is logged by every "
           "process of the connection",
           [l for l in lines if "b.test" in l or "127.0.0.9" in l] ==
           ["127.0.0.9 a.test", "127.0.0.9 b.test"] * 2, repr(lines[-6:]))
    finally:
        srv.cleanup()


def flood():
    """max-clients 3 and 8 clients alternating a/b on kept-alive
    connections: never more than 3 connection processes."""
    srv = server("handoff", extra="max-clients 3\nkeepalive-timeout 1\n",
                 name="hof", args=())
    most, stop = [0], [False]
    errors = []

    def sample():
        while not stop[0]:
            most[0] = max(most[0], len(live_children(srv)))
            time.sleep(0.002)

    def client(k):
        try:
            s = connect(srv.port, 20)
            for i in range(8):
                h = "a.test" if (i + k) % 2 == 0 else "b.test"
                s.sendall(req(h))
                if body_of(read_one(s, 20)) != ("secret of %s\n" % h[0]).encode():
                    errors.append((k, i))
                    break
            s.close()
        except OSError as e:
            errors.append((k, repr(e)))
    try:
        t = threading.Thread(target=sample)
        t.start()
        cs = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for c in cs:
            c.start()
        for c in cs:
            c.join(60)
        stop[0] = True
        t.join()
        ok("flood: max-clients 3, 8 clients x 8 alternating requests: all "
           "answered", not errors, repr(errors))
        ok("flood: never more than 3 live connection processes (most seen %d)"
           % most[0], 0 < most[0] <= 3, "most %d" % most[0])
        wait_for(lambda: not live_children(srv), 10)
        wait_for(lambda: not zombies(srv.proc.pid), 5)
        ok("flood: no zombie left", not zombies(srv.proc.pid), "")
    finally:
        srv.cleanup()


config_errors()
close_mode()
plain()
keepalive_limit()
tls()
channel_fds()
reload_between()
per_ip_and_proxy()
flood()
done()
