"""tests/integration/test_spawner.py: the gatekeeper spawner.

Each config generation has a long-lived spawner (two with a TLS listener)
that gave up its privileges and installed the gatekeepers' filter once,
and forks each connection's gatekeeper. Looked at from outside: a reload
while a connection's head is half sent (that connection completes, the
new config's connections get a new spawner, the old one exits once
drained, nothing leaks), a spawner killed (the next connection is still
answered and a new spawner appears), and which process holds the
spawner's socket (never stage 2)."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import re
import ssl

from itkdtest import (Server, asan_build, unix_peers, UID_A, UID_USER, RANGES, connect, done, fd_targets, get,
                      need_root, ok, proc_status, read_response, shared_maps, skip,
                      socket_inodes, two_vhost_conf, two_vhost_roots, wait_for, zombies)

ASAN = asan_build()


def kids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def one_spawner(srv, other_than=(), timeout=5.0):
    wait_for(lambda: [p for p in srv.spawners() if p not in other_than], timeout)
    sp = [p for p in srv.spawners() if p not in other_than]
    return sp[0] if len(sp) == 1 else None


def main():
    need_root("test_spawner")
    srv = Server(two_vhost_conf(), name="spawner", start=False)
    two_vhost_roots(srv.dir)
    srv.start()
    try:
        master = srv.proc.pid
        old = one_spawner(srv)
        ok("spawner one for plain connections", old is not None, srv.spawners())
        ok("spawner is the master's child", proc_status(old).get("PPid") == str(master))
        r = get(srv.port)
        ok("spawner connection answered", r[0] == 200, r)
        fds_before = len(fd_targets(master))

        # Stage 2 holds no fd to the spawner's socket: the monitor closed
        # its copy right after asking. The master's end is the peer of the
        # spawner's one socket.
        s = connect(srv.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        resp = read_response(s)
        ok("spawner stage2 request answered", resp.startswith(b"HTTP/1.1 200"), resp[:60])
        wait_for(lambda: [p for p in srv.children()
                          if proc_status(p).get("Uid", "").split()[:1] == [str(UID_A)]])
        st2 = [p for p in srv.children()
               if proc_status(p).get("Uid", "").split()[:1] == [str(UID_A)]]
        peers = unix_peers()
        theirs = {peers.get(i) for i in socket_inodes(old)}
        ok("spawner's socket: its one end, whose peer the master holds (control)",
           len(socket_inodes(old)) == 1 and theirs <= socket_inodes(master),
           (socket_inodes(old), theirs, socket_inodes(master)))
        ok("spawner stage 2 holds no fd to the spawner's socket",
           len(st2) == 1 and not (socket_inodes(st2[0]) & theirs),
           (st2, fd_targets(st2[0]) if st2 else None))
        s.close()

        # Reload while a head is half sent: its gatekeeper is the old
        # spawner's child, and goes on.
        s1 = connect(srv.port)
        s1.sendall(b"GET / HTTP/1.1\r\nHost: a.te")
        ok("spawner half-sent head: its gatekeeper is the old spawner's child",
           wait_for(lambda: len(kids(old)) == 1, 5), kids(old))
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in srv.log(), 5)
        new = one_spawner(srv, other_than=(old,))
        ok("spawner reload: a new spawner", new is not None and new != old, srv.spawners())
        ok("spawner reload: the old one exits once drained",
           wait_for(lambda: old not in srv.all_children(), 5), srv.all_children())
        s1.sendall(b"st\r\nConnection: close\r\n\r\n")
        resp = read_response(s1)
        ok("spawner reload: the half-sent connection completes",
           resp.startswith(b"HTTP/1.1 200"), resp[:60])
        s1.close()
        s3 = connect(srv.port)
        s3.sendall(b"GET / HTTP/1.1\r\nHost: a.te")
        ok("spawner reload: a new connection's gatekeeper is the new spawner's child",
           wait_for(lambda: len(kids(new)) == 1, 5), (kids(new), srv.spawners()))
        s3.close()
        wait_for(lambda: not srv.children() and not kids(new), 10)
        ok("spawner reload: no zombie", wait_for(lambda: not zombies(master), 5),
           zombies(master))
        ok("spawner reload: no fd leaked in the master",
           wait_for(lambda: len(fd_targets(master)) == fds_before, 5),
           (fds_before, fd_targets(master)))

        # A spawner killed: the next connection is still answered, and
        # the master starts another one.
        os.kill(new, signal.SIGKILL)
        wait_for(lambda: new not in srv.all_children(), 5)
        r = get(srv.port)
        ok("spawner killed: the next connection is answered", r[0] == 200, r)
        again = one_spawner(srv, other_than=(old, new))
        ok("spawner killed: a new one appears", again is not None, srv.spawners())
        r = get(srv.port)
        ok("spawner killed: answered by the new one", r[0] == 200, r)
        ok("spawner killed: logged", "spawner %d ended (9)" % new in srv.log(),
           srv.log()[-600:])
        ok("spawner killed: no zombie", wait_for(lambda: not zombies(master), 5),
           zombies(master))

        # One that dies young again waits twice as long: not a restart
        # (and a log line) a second for ever when it cannot live.
        m = re.search(r"spawner %d ended \(9\): restarting it in (\d+) s" % new, srv.log())
        ok("spawner killed: the log says when it restarts", m is not None, srv.log()[-400:])
        first = int(m.group(1)) if m else 1
        os.kill(again, signal.SIGKILL)
        t0 = time.time()
        # The master logs the end right after it reaps the spawner.
        line = "spawner %d ended (9): restarting it in %d s" % (again, 2 * first)
        ok("spawner killed young again: restarted in twice the time",
           wait_for(lambda: line in srv.log(), 5), srv.log()[-400:])
        r = get(srv.port)
        ok("spawner killed young again: meanwhile a connection is answered", r[0] == 200, r)
        time.sleep(max(0.0, t0 + 2 * first - 1.2 - time.time()))
        ok("spawner killed young again: none started before its time",
           one_spawner(srv, other_than=(old, new, again), timeout=0.1) is None,
           (time.time() - t0, srv.spawners()))
        third = one_spawner(srv, other_than=(old, new, again), timeout=2 * first + 3)
        ok("spawner killed young again: started after it", third is not None and
           time.time() - t0 >= 2 * first - 1.2, (time.time() - t0, srv.spawners()))
    finally:
        srv.cleanup()
    ok("spawner gone with the master", wait_for(
        lambda: not any(proc_status(p).get("Name") == "itkd spawner"
                        and proc_status(p).get("PPid") in ("1", str(master))
                        for p in [int(x) for x in os.listdir("/proc") if x.isdigit()]), 5))


TLS_CONF = """
listen 127.0.0.1:{port}
listen 127.0.0.1:{tlsport} tls
user #%d
group #%d
""" % (UID_USER, UID_USER) + RANGES + """error-log {dir}/error.log
access-log off
timeout 5
tls-session-cache 64
vhost a.test
root {dir}/a
user #%d
group #%d
tls-cert {dir}/a.pem
tls-key {dir}/a.key
vhost b.test
root {dir}/b
user #%d
group #%d
"""


def key_bytes(path):
    """The private scalar of an EC key file, as openssl prints it."""
    out = subprocess.run(["openssl", "ec", "-in", path, "-noout", "-text"],
                         capture_output=True, text=True).stdout
    m = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", out)
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1))) if m else None


def holds(pid, needle):
    """Whether pid's readable memory holds needle (None: cannot tell)."""
    try:
        maps = open("/proc/%d/maps" % pid).read().splitlines()
        mem = open("/proc/%d/mem" % pid, "rb", 0)
    except OSError:
        return None
    with mem:
        for l in maps:
            w = l.split()
            lo, hi = (int(x, 16) for x in w[0].split("-"))
            # Not kernel pages, nor a sanitizer build's huge sparse shadow.
            if (w[1][0] != "r" or hi - lo > (1 << 30) or
                    (len(w) > 5 and w[5] in ("[vvar]", "[vvar_vclock]", "[vsyscall]"))):
                continue
            step = 8 << 20
            for at in range(lo, hi, step):
                try:    # chunks overlap so no needle straddles unseen
                    mem.seek(at)
                    if needle in mem.read(min(step + 64, hi - at)):
                        return True
                except (OSError, ValueError, OverflowError):
                    break
    return False


def make_key(d):
    """An EC P-256 key and certificate for a.test in d (a.key, a.pem); None,
    or why openssl could not make them."""
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                        os.path.join(d, "a.key"), "-out", os.path.join(d, "a.pem"),
                        "-days", "2", "-subj", "/CN=a.test", "-addext",
                        "subjectAltName=DNS:a.test"], capture_output=True)
    return None if r.returncode == 0 else "openssl cannot make a key: %s" % r.stderr[-200:]


def tls_spawners():
    """With a TLS listener: two spawners; the TLS connections' one holds
    the keys and the session cache, the plain connections' one neither."""
    srv = Server(TLS_CONF % (UID_A, UID_A, UID_A + 1, UID_A + 1), name="spawntls",
                 tls=True, start=False)
    two_vhost_roots(srv.dir)
    why = make_key(srv.dir)
    if why:
        skip("spawner tls", why)
        return
    srv.start()
    srv.wait_port(srv.tlsport)
    try:
        wait_for(lambda: len(srv.spawners()) == 2, 5)
        sp = srv.spawners()
        if not ok("spawner tls: two spawners with a TLS listener", len(sp) == 2, sp):
            return
        tls_sp = [p for p in sp if shared_maps(p)]
        plain_sp = [p for p in sp if not shared_maps(p)]
        ok("spawner tls: one maps the session cache, the other no shared mapping",
           len(tls_sp) == 1 and len(plain_sp) == 1, [(p, shared_maps(p)) for p in sp])
        if len(tls_sp) != 1 or len(plain_sp) != 1:
            return
        key = key_bytes(os.path.join(srv.dir, "a.key"))
        if key is None or len(key) < 16:
            skip("spawner tls key bytes", "openssl printed no private scalar")
        elif ASAN:
            # ASan keeps its own stack frames apart ("fake stack"), where
            # the master's check of the key pair leaves key bytes that
            # every later fork inherits (test_tls.py says more).
            skip("spawner tls key bytes", "ASan build")
        else:
            ok("spawner tls: the TLS spawner holds the key (control)",
               holds(tls_sp[0], key) is True)
            ok("spawner tls: the plain spawner holds no key byte",
               holds(plain_sp[0], key) is False)
        ctx = ssl.create_default_context(cafile=os.path.join(srv.dir, "a.pem"))
        s = ctx.wrap_socket(connect(srv.tlsport), server_hostname="a.test")
        ok("spawner tls: a TLS connection's gatekeeper is the TLS spawner's child",
           wait_for(lambda: len(kids(tls_sp[0])) == 1, 5) and not kids(plain_sp[0]),
           (kids(tls_sp[0]), kids(plain_sp[0])))
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        resp = read_response(s)
        ok("spawner tls: answered", resp.startswith(b"HTTP/1.1 200"), resp[:60])
        s.close()
        r = get(srv.port)
        ok("spawner tls: a plain connection beside it answered", r[0] == 200, r)
    finally:
        srv.cleanup()


def tls_only():
    """With only a TLS listener: only the TLS spawner (the plain one
    would have no connection to serve)."""
    conf = TLS_CONF.replace("listen 127.0.0.1:{port}\n", "", 1)
    srv = Server(conf % (UID_A, UID_A, UID_A + 1, UID_A + 1), name="spawntlsonly",
                 tls=True, start=False)
    two_vhost_roots(srv.dir)
    why = make_key(srv.dir)
    if why:
        skip("spawner tls only", why)
        return
    srv.start(wait=False)
    srv.wait_port(srv.tlsport)
    try:
        sp = srv.spawners(wait=5)
        time.sleep(0.3)     # a second one would be forked at the same time
        sp = srv.spawners()
        ok("spawner tls only: one spawner, the TLS connections' (it maps the session cache)",
           len(sp) == 1 and shared_maps(sp[0]), [(p, shared_maps(p)) for p in sp])
        ctx = ssl.create_default_context(cafile=os.path.join(srv.dir, "a.pem"))
        s = ctx.wrap_socket(connect(srv.tlsport), server_hostname="a.test")
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        resp = read_response(s)
        ok("spawner tls only: answered", resp.startswith(b"HTTP/1.1 200"), resp[:60])
        s.close()
    finally:
        srv.cleanup()


main()
tls_spawners()
tls_only()
done()
