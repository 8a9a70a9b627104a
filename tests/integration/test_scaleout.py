"""Scale-out: systemd socket activation, and the PROXY protocol behind a real
HAProxy (Debian's) in front of two itkd instances. Needs root."""
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("scaleout")


def get_from(port, src, host="a.test", path="/secret.txt"):
    s = socket.socket()
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
    r = parse(recv_all(s))
    s.close()
    return r[0] if r else None


def activation():
    srv = Server(two_vhost_conf(), name="act", start=False)
    try:
        two_vhost_roots(srv.dir)
        # No `listen` used: the socket comes from systemd-socket-activate.
        conf = srv.fill(two_vhost_conf()).replace("listen 127.0.0.1:%d" % srv.port, "")
        with open(srv.conf, "w") as f:
            f.write(conf)
        log = open(os.path.join(srv.dir, "stderr.txt"), "wb")
        # What systemd does: the socket as fd 3, LISTEN_PID the server's
        # own pid (sh's $$, kept by exec), LISTEN_FDS the count.
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", srv.port))
        ls.listen(16)
        fd = ls.fileno()
        if fd != 3:
            os.dup2(fd, 3, inheritable=True)
        p = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -f -c "$1"',
                              ITKD, srv.conf], pass_fds=(3,),
                             stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        ls.close()
        if fd != 3:
            os.close(3)
        time.sleep(0.5)
        st = get(srv.port, "/secret.txt", "b.test")
        ok("socket activation: served on the inherited socket",
           st and st[0] == 200 and st[2] == b"secret of b\n", repr(st) + srv.log()[-300:])
        st = get(srv.port, "/secret.txt", "a.test")
        ok("socket activation: the master keeps accepting", st and st[0] == 200, repr(st))
        p.terminate()
        p.wait(15)
    finally:
        srv.cleanup()


def haproxy():
    if shutil.which("haproxy") is None:
        skip("haproxy", "haproxy not installed (scripts/deps installs it)")
        return
    extra = "trusted-proxy 127.0.0.1/32\n"
    s1 = Server(two_vhost_conf(extra_global=extra), name="px1", start=False)
    s2 = Server(two_vhost_conf(extra_global=extra), name="px2", start=False)
    hp = None
    try:
        for s in (s1, s2):
            two_vhost_roots(s.dir)
            s.start()
        front = free_port()
        cfg = os.path.join(s1.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("""global
    maxconn 100
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    balance roundrobin
    server one 127.0.0.1:%d send-proxy
    server two 127.0.0.1:%d send-proxy-v2
""" % (front, s1.port, s2.port))
        hp = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        def front_up():
            try:
                socket.create_connection(("127.0.0.1", front), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(front_up, 10)
        answers = [get_from(front, "127.0.0.5") for _ in range(4)]
        ok("haproxy: four requests answered through the proxy",
           all(a and a[0] == 200 and a[2] == b"secret of a\n" for a in answers), repr(answers))
        wait_for(lambda: "127.0.0.5 - - [" in s1.access() and "127.0.0.5 - - [" in s2.access())
        ok("PROXY v1: itkd 1 logs the client's own address 127.0.0.5",
           "127.0.0.5 - - [" in s1.access() and "127.0.0.1 - - [" not in s1.access(),
           s1.access()[-300:])
        ok("PROXY v2: itkd 2 logs the client's own address 127.0.0.5",
           "127.0.0.5 - - [" in s2.access() and "127.0.0.1 - - [" not in s2.access(),
           s2.access()[-300:])
    finally:
        if hp:
            hp.terminate()
            hp.wait(5)
        s1.cleanup()
        s2.cleanup()


def untrusted():
    # Only 127.0.0.1 is trusted: a header from 127.0.0.9 is refused.
    srv = Server(two_vhost_conf(extra_global="trusted-proxy 127.0.0.1\n"), name="pxu",
                 start=False)
    try:
        two_vhost_roots(srv.dir)
        srv.start()
        s = socket.socket()
        s.settimeout(5)
        s.bind(("127.0.0.9", 0))
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"PROXY TCP4 10.9.9.9 127.0.0.1 1234 80\r\n"
                  b"GET /secret.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        data = recv_all(s)
        s.close()
        ok("PROXY header from an untrusted peer: refused (closed unanswered)",
           b"secret" not in data and not data.startswith(b"HTTP/1.1 200"), repr(data[:100]))
        st = get_from(srv.port, "127.0.0.9")
        ok("the untrusted peer without a header is served", st and st[0] == 200, repr(st))
        # A trusted peer may also connect without a header.
        st = get_from(srv.port, "127.0.0.1")
        ok("a trusted peer without a header is served", st and st[0] == 200, repr(st))
        s = connect(srv.port)
        s.sendall(b"PROXY TCP4 10.1.2.3 127.0.0.1 1234 80\r\n"
                  b"GET /secret.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        r = parse(recv_all(s))
        s.close()
        time.sleep(0.2)
        ok("trusted PROXY v1 by hand: answered, logged as 10.1.2.3",
           r and r[0][0] == 200 and "10.1.2.3 - - [" in srv.access(), repr(r) + srv.access())
        s = connect(srv.port)
        s.sendall(b"PROXY TCP4 10.1.2.3 127.0.0.1 99999 80\r\nGET / HTTP/1.1\r\n\r\n")
        data = recv_all(s)
        s.close()
        ok("trusted peer, malformed PROXY header: closed", data == b"", repr(data[:80]))
    finally:
        srv.cleanup()


activation()
haproxy()
untrusted()
done()
