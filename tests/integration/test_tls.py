"""HTTPS (issue 3): SNI chooses the chain, ALPN, resumption across children,
versions, renegotiation, one test per key exchange and cipher, fresh
randomness per connection, 421, bad bytes and silent clients, keep-alive,
pipelining and the cross-uid close over TLS, and no private key bytes in a
stage-2 child. Real clients: openssl s_client, curl, python's ssl."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (RANGES, ITKD, TOP, UID_A, UID_B, UID_USER, Server, conn_child, gatekeeper_of, connect, done,
                      need_root,
                      ok, parse, proc_status, read_response, recv_all,
                      shared_maps, skip,
                      two_vhost_roots, write,
                      wait_for, zombies_of)

need_root("test_tls")

CONF = """
listen 127.0.0.1:{port}
listen 127.0.0.1:{tlsport} tls
user #%d
group #%d
""" + RANGES + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 2
keepalive-timeout 5
tls-session-cache 128
%s
vhost a.test www.a.test
root {dir}/a
user #%d
group #%d
tls-cert {dir}/certs/a.pem
tls-key {dir}/certs/a.key
vhost b.test
root {dir}/b
user #%d
group #%d
tls-cert {dir}/certs/b.pem
tls-key {dir}/certs/b.rsa
"""


def make_server(extra_global="", name="tls", certs_from=None):
    srv = Server(CONF % (UID_USER, UID_USER, extra_global, UID_A, UID_A,
                         UID_B, UID_B), name=name, tls=True, start=False)
    two_vhost_roots(srv.dir)
    certs = os.path.join(srv.dir, "certs")
    if certs_from:
        shutil.copytree(certs_from, certs)
    else:
        subprocess.run(["sh", os.path.join(TOP, "tests", "certs.sh"), certs],
                       check=True, stdout=subprocess.DEVNULL)
    srv.ca = os.path.join(certs, "ca.pem")
    srv.certs = certs
    srv.start()
    srv.wait_port(srv.tlsport)
    return srv


def sclient(srv, args, data=b"", timeout=10):
    """openssl s_client; returns (exit code, everything it printed)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.tlsport,
           "-CAfile", srv.ca] + args
    try:
        p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    return p.returncode, (p.stdout + p.stderr).decode("latin-1")


def req(host, close=True):
    return ("GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
            (host, "Connection: close\r\n" if close else "")).encode()


def tls_socket(srv, sni):
    ctx = ssl.create_default_context(cafile=srv.ca)
    if sni is None:
        ctx.check_hostname = False
    s = ctx.wrap_socket(connect(srv.tlsport), server_hostname=sni)
    return s


def exchange(srv, sni, data):
    s = tls_socket(srv, sni)
    try:
        s.sendall(data)
        return parse(recv_all(s, 5))
    finally:
        s.close()


def subject(out):
    m = re.search(r"subject=\s*CN\s*=\s*(\S+)", out)
    return m.group(1) if m else None


def test_sni(srv):
    for sni, want in (("a.test", "a.test"), ("b.test", "b.test"),
                      ("www.a.test", "a.test"), ("B.TEST", "b.test"),
                      ("unknown.test", "a.test")):
        rc, out = sclient(srv, ["-servername", sni])
        ok("tls SNI %s gets the %s chain" % (sni, want), subject(out) == want,
           out[-300:])
    rc, out = sclient(srv, ["-noservername"])
    ok("tls no SNI gets the default chain (a.test)", subject(out) == "a.test",
       out[-300:])
    rc, out = sclient(srv, ["-servername", "a.test", "-verify_return_error",
                            "-verify_hostname", "a.test"])
    ok("tls a.test chain verifies against the CA",
       "Verify return code: 0 (ok)" in out, out[-300:])
    rc, out = sclient(srv, ["-servername", "a.test", "-alpn", "h2,http/1.1"])
    ok("tls ALPN http/1.1", "ALPN protocol: http/1.1" in out, out[-300:])
    rc, out = sclient(srv, ["-servername", "a.test", "-groups", "P-256:X25519"])
    ok("tls ECDHE prefers X25519", "Server Temp Key: X25519" in out, out[-300:])
    rc, out = sclient(srv, ["-servername", "a.test", "-cipher",
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"])
    ok("tls server cipher preference",
       "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in out, out[-300:])


def test_ciphers(srv):
    for sni, cipher in (("a.test", "ECDHE-ECDSA-AES128-GCM-SHA256"),
                        ("a.test", "ECDHE-ECDSA-AES256-GCM-SHA384"),
                        ("a.test", "ECDHE-ECDSA-CHACHA20-POLY1305"),
                        ("b.test", "ECDHE-RSA-AES128-GCM-SHA256"),
                        ("b.test", "ECDHE-RSA-AES256-GCM-SHA384"),
                        ("b.test", "ECDHE-RSA-CHACHA20-POLY1305")):
        rc, out = sclient(srv, ["-servername", sni, "-cipher", cipher,
                                "-ign_eof", "-quiet"], req(sni))
        rc2, info = sclient(srv, ["-servername", sni, "-cipher", cipher])
        ok("tls %s serves a request" % cipher,
           "HTTP/1.1 200" in out and "<h1>%s</h1>" % sni[0] in out and
           ("Cipher is " + cipher) in info, out[-300:] + info[-300:])
    for sni, cipher, why in (("b.test", "AES128-GCM-SHA256", "static RSA"),
                             ("a.test", "ECDHE-ECDSA-AES128-SHA256", "CBC-SHA256"),
                             ("b.test", "ECDHE-RSA-AES128-SHA", "CBC"),
                             ("a.test", "ECDHE-RSA-AES128-GCM-SHA256", "RSA suite, EC key")):
        rc, out = sclient(srv, ["-servername", sni, "-cipher",
                                cipher + ":@SECLEVEL=0"])
        ok("tls refuses %s (%s)" % (cipher, why),
           rc != 0 and "Cipher is (NONE)" in out, out[-300:])


def test_versions(srv):
    for flag in ("-tls1_1", "-tls1"):
        rc, out = sclient(srv, ["-servername", "b.test", flag,
                                "-cipher", "DEFAULT@SECLEVEL=0"])
        ok("tls %s refused by default" % flag, rc != 0 and "Cipher is (NONE)" in out,
           out[-300:])
    rc, out = sclient(srv, ["-servername", "a.test"])
    ok("tls 1.2 by default", "Protocol  : TLSv1.2" in out or "TLSv1.2," in out,
       out[-300:])
    # The client really offers 1.1: a server that allows it speaks it.
    old = make_server("tls-versions 1.2 1.1", name="tls11", certs_from=srv.certs)
    try:
        for sni in ("a.test", "b.test"):
            rc, out = sclient(old, ["-servername", sni, "-tls1_1", "-cipher",
                                    "DEFAULT@SECLEVEL=0", "-ign_eof", "-quiet"],
                              req(sni))
            ok("tls-versions 1.1: %s over TLS 1.1" % sni, "HTTP/1.1 200" in out,
               out[-300:])
        rc, out = sclient(old, ["-servername", "a.test"])
        ok("tls-versions 1.1: 1.2 still preferred", "TLSv1.2" in out, out[-300:])
        rc, out = sclient(old, ["-servername", "a.test", "-tls1",
                                "-cipher", "DEFAULT@SECLEVEL=0"])
        ok("tls-versions 1.2 1.1: 1.0 refused", rc != 0, out[-300:])
    finally:
        old.cleanup()


def test_renegotiation(srv):
    # "R" on s_client's input asks for a renegotiation; then a request.
    cmd = ("(echo R; sleep 0.5; printf 'GET / HTTP/1.1\\r\\nHost: a.test\\r\\n"
           "Connection: close\\r\\n\\r\\n'; sleep 0.5) | openssl s_client "
           "-connect 127.0.0.1:%d -CAfile %s -servername a.test" %
           (srv.tlsport, srv.ca))
    try:
        p = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=10)
        out = (p.stdout + p.stderr).decode("latin-1")
    except subprocess.TimeoutExpired:
        out = "timeout"
    ok("tls renegotiation refused",
       "RENEGOTIATING" in out and "no renegotiation" in out and
       "HTTP/1.1 200" not in out, out[-400:])


def test_resumption(srv):
    sess = os.path.join(srv.dir, "sess-a")
    sess_b = os.path.join(srv.dir, "sess-b")
    rc, out = sclient(srv, ["-servername", "a.test", "-sess_out", sess])
    ok("tls first handshake is new", "New, TLSv1.2" in out, out[-300:])
    reused = 0
    for i in range(3):      # every connection is a new child
        rc, out = sclient(srv, ["-servername", "a.test", "-sess_in", sess])
        reused += "Reused, TLSv1.2" in out
    ok("tls session resumed across children (3 of 3)", reused == 3, out[-300:])
    rc, out = sclient(srv, ["-servername", "b.test", "-sess_out", sess_b])
    rc, out = sclient(srv, ["-servername", "b.test", "-sess_in", sess_b,
                            "-ign_eof", "-quiet"], req("b.test"))
    ok("tls resumed RSA session serves a request", "<h1>b</h1>" in out, out[-300:])
    # A session of a.test offered under b.test's name: never served.
    rc, out = sclient(srv, ["-servername", "b.test", "-sess_in", sess,
                            "-ign_eof"], req("b.test"))
    ok("tls a.test session does not serve b.test",
       "<h1>b</h1>" not in out and "<h1>a</h1>" not in out, out[-300:])


def test_curl(srv):
    # 1 MiB plus a bit: many full records, and a partial one at the end.
    big = os.urandom((1 << 20) + 1234)
    write(os.path.join(srv.dir, "a", "big.bin"), big, UID_A, UID_A, 0o600)
    p = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", srv.ca,
                        "--resolve", "a.test:%d:127.0.0.1" % srv.tlsport,
                        "https://a.test:%d/big.bin" % srv.tlsport],
                       capture_output=True, timeout=15)
    ok("tls 1 MiB file over TLS arrives whole", p.stdout == big,
       "%d bytes, %s" % (len(p.stdout), p.stderr[-200:]))
    for host in ("a.test", "b.test"):
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", srv.ca,
                            "--resolve", "%s:%d:127.0.0.1" % (host, srv.tlsport),
                            "-w", "%{http_version} %{ssl_verify_result}",
                            "https://%s:%d/" % (host, srv.tlsport)],
                           capture_output=True, timeout=15)
        out = p.stdout.decode("latin-1")
        ok("tls curl --cacert %s" % host,
           p.returncode == 0 and out.startswith("<h1>%s</h1>" % host[0]) and
           out.endswith("1.1 0"), out + p.stderr.decode("latin-1"))


def server_flight(port, sni):
    """Send a ClientHello made by python's ssl, read the server's flight
    raw: (ServerHello random, ECDHE public key)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s = connect(port)
    random = share = None
    try:
        s.sendall(out.read())
        buf = msgs = b""
        while share is None:
            while len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[3:5], "big"):
                b = s.recv(65536)
                if not b:
                    return random, share
                buf += b
            n = 5 + int.from_bytes(buf[3:5], "big")
            rtype, body, buf = buf[0], buf[5:n], buf[n:]
            if rtype != 22:
                return random, share
            msgs += body
            while len(msgs) >= 4 and len(msgs) >= 4 + int.from_bytes(msgs[1:4], "big"):
                mlen = int.from_bytes(msgs[1:4], "big")
                mtype, m, msgs = msgs[0], msgs[4:4 + mlen], msgs[4 + mlen:]
                if mtype == 2:
                    random = m[2:34]
                elif mtype == 12 and m[0] == 3:
                    share = m[4:4 + m[3]]
    finally:
        s.close()
    return random, share


def test_randomness(srv):
    randoms, shares = [], []
    for i in range(50):
        r, k = server_flight(srv.tlsport, "a.test" if i % 2 else "b.test")
        if r is not None and k is not None:
            randoms.append(r)
            shares.append(k)
    ok("tls 50 handshakes read raw", len(randoms) == 50, len(randoms))
    ok("tls 50 distinct ServerHello randoms", len(set(randoms)) == len(randoms) == 50)
    ok("tls 50 distinct ECDHE keys", len(set(shares)) == len(shares) == 50)
    ok("tls ServerHello randoms share no 28-byte tail",
       len(set(r[4:] for r in randoms)) == len(randoms))


def test_misdirected(srv):
    r = exchange(srv, "a.test", req("b.test"))
    ok("tls Host b.test under SNI a.test: 421", r and r[0][0] == 421, r)
    r = exchange(srv, "b.test", req("a.test"))
    ok("tls Host a.test under SNI b.test: 421", r and r[0][0] == 421, r)
    r = exchange(srv, "a.test", req("www.a.test"))
    ok("tls Host alias of the SNI vhost: 200", r and r[0][0] == 200, r)
    r = exchange(srv, "b.test", req("b.test"))
    ok("tls Host b.test under SNI b.test: 200",
       r and r[0][0] == 200 and r[0][2] == b"<h1>b</h1>\n", r)
    r = exchange(srv, None, req("b.test"))
    ok("tls no SNI, Host b.test: 200", r and r[0][0] == 200 and
       r[0][2] == b"<h1>b</h1>\n", r)


def test_bad_clients(srv):
    s = connect(srv.tlsport)
    t0 = time.time()
    s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    data = recv_all(s, 5)
    s.close()
    ok("tls plain HTTP on the TLS port: closed, no HTTP answer",
       b"HTTP/" not in data and time.time() - t0 < 3, data[:80])
    s = connect(srv.tlsport)
    s.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(300))
    data = recv_all(s, 5)
    s.close()
    ok("tls garbage handshake record: closed", time.time() - t0 < 5, data[:80])
    s = connect(srv.tlsport)
    t0 = time.time()
    data = recv_all(s, 8)
    took = time.time() - t0
    s.close()
    ok("tls silent client dropped after timeout (2 s)", 1.5 <= took <= 4.5, took)
    # Half a handshake: the ClientHello, then silence.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="a.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s = connect(srv.tlsport)
    t0 = time.time()
    s.sendall(out.read())
    recv_all(s, 8)
    took = time.time() - t0
    s.close()
    ok("tls client stalling mid-handshake dropped after timeout",
       1.5 <= took <= 4.5, took)
    r = exchange(srv, "a.test", req("a.test"))
    ok("tls server still serves after bad clients", r and r[0][0] == 200, r)
    ok("tls master alive", srv.proc.poll() is None)


def read_page(s):
    """One answer on a kept-alive connection: the bytes up to the end of
    its <h1> page (or the close)."""
    got = b""
    while b"</h1>" not in got:
        b = s.recv(65536)
        if not b:
            break
        got += b
    return got


def test_keepalive(srv):
    s = tls_socket(srv, "a.test")
    try:
        s.sendall(req("a.test", close=False))
        first = read_page(s)
        ok("tls keep-alive: first answer", parse(first) and parse(first)[0][0] == 200,
           first[:200])
        s.sendall(req("a.test", close=False) + req("a.test"))
        r = parse(recv_all(s, 5))
        ok("tls keep-alive + pipelining: two more answers on one connection",
           len(r) == 2 and all(x[0] == 200 for x in r), r)
    finally:
        s.close()
    # Without SNI the first Host chooses; another uid is a silent close.
    s = tls_socket(srv, None)
    try:
        s.sendall(req("a.test", close=False) + req("b.test"))
        r = parse(recv_all(s, 5))
        ok("tls cross-uid request: answered first, then closed",
           len(r) == 1 and r[0][2] == b"<h1>a</h1>\n", r)
    finally:
        s.close()


PRIVATE = ("priv", "privateExponent", "prime1", "prime2", "exponent1",
           "exponent2", "coefficient")


def key_secrets(keyfile):
    """The raw private numbers of a key, as openssl prints them."""
    text = subprocess.run(["openssl", "pkey", "-in", keyfile, "-text", "-noout"],
                          capture_output=True, text=True).stdout
    out, cur = {}, None
    for line in text.splitlines():
        if re.match(r"^\S.*:\s*$", line):
            cur = line.strip().rstrip(":")
            out[cur] = ""
        elif cur and re.match(r"^\s+[0-9a-f]{2}(:[0-9a-f]{2})*:?\s*$", line):
            out[cur] += line.strip().replace(":", "")
        else:
            cur = None
    return {k: bytes.fromhex(v).lstrip(b"\0") for k, v in out.items() if v}


def memory_hits(pid, needles):
    """Which needles occur in the readable memory of pid."""
    found = set()
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read().splitlines()
    fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    try:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            # Skip what cannot hold our data: kernel pages, and the huge
            # sparse shadow of a sanitizer build.
            if (f[1][0] != "r" or hi - lo > (1 << 30) or
                    line.endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]"))):
                continue
            step = 8 << 20
            for at in range(lo, hi, step):
                try:    # chunks overlap so no needle straddles unseen
                    data = os.pread(fd, min(step + 64, hi - at), at)
                except OSError:
                    break
                for name, n in needles.items():
                    if n in data:
                        found.add(name)
    finally:
        os.close(fd)
    return found


def stage2_key_memory(srv, host, uid, needles):
    """After a full handshake for host, its stage-2 process (uid) holds
    no private key byte of any vhost and no shared mapping."""
    s = tls_socket(srv, host)
    try:
        s.sendall(req(host, close=False))
        read_page(s)
        pid = conn_child(srv, s, uid=uid)
        ok("tls %s stage-2 child found" % host, pid is not None, srv.children())
        if pid is None:
            return
        hits = memory_hits(pid, needles)
        if ASAN:
            # The monitor runs no handshake that would overwrite the
            # fake-stack frames it inherited (see ASAN below).
            skip("tls %s stage-2 child key bytes" % host, "ASan build (see ASAN)")
        else:
            ok("tls %s stage-2 child holds no private key byte of any vhost" % host,
               not hits, sorted(hits))
        ok("tls %s stage-2 child holds no shared mapping (session cache)" % host,
           not shared_maps(pid), shared_maps(pid))
        # The connection still works after the wipe.
        s.sendall(req(host))
        r = parse(recv_all(s, 5))
        ok("tls %s connection serves on after the key wipe" % host,
           r and r[0][0] == 200, r)
    finally:
        s.close()


def test_key_memory(srv):
    needles, control, pem = {}, {}, {}
    for vh, key in (("a", "a.key"), ("b", "b.rsa")):
        path = os.path.join(srv.certs, key)
        for name, v in key_secrets(path).items():
            if name not in PRIVATE or len(v) < 16:
                continue
            for part, piece in (("head", v[:16]), ("tail", v[-16:])):
                needles["%s %s %s" % (vh, name, part)] = piece
            if name in ("priv", "prime1"):
                control["%s %s" % (vh, name)] = v[-16:]
        with open(path) as f:
            lines = f.read().splitlines()
        pem["%s PEM line" % vh] = lines[1].encode()
    ok("tls key secrets extracted", len(needles) >= 12 and len(control) == 2,
       sorted(needles))
    # The master holds the decoded keys (this proves the search can find
    # them) but neither the file text nor the unused exponent d.
    hits = memory_hits(srv.proc.pid, dict(control, **pem))
    ok("tls master memory holds the keys (the search works)",
       set(control) <= hits, hits)
    ok("tls master memory holds no key file text", not (set(pem) & hits), hits)
    d_needles = {k: v for k, v in needles.items() if "privateExponent" in k}
    hits = memory_hits(srv.proc.pid, d_needles)
    ok("tls master memory holds no RSA d (decoder wiped)", not hits, hits)

    # a.test signs with its EC key, b.test with its RSA key: neither
    # signature may leave key bytes in the process that goes on to serve.
    for host, uid in (("a.test", UID_A), ("b.test", UID_B)):
        stage2_key_memory(srv, host, uid, dict(needles, **pem))
    test_plain_key_memory(srv, dict(needles, **pem))


# An ASan build (make check SANITIZE=1) runs frames on its own "fake
# stack", which scrub_stack cannot reach: key bytes from the master's
# check of each key pair stay there and show up in any process forked
# later that has not overwritten them (only a gatekeeper runs a handshake,
# and the monitor that becomes stage 2 never does). The plain build's
# processes are checked; in an ASan build those checks skip.
with open(ITKD, "rb") as _f:
    ASAN = b"__asan_init" in _f.read()


def scan(pid, needles):
    """(shared mappings, needles found) of a live process; None if it
    ended before the scan was through (a sanitizer build scans slowly,
    and a stage-1 process lives 2 s here): the scan would be partial."""
    try:
        shared = shared_maps(pid)
        hits = memory_hits(pid, needles)
        alive = not proc_status(pid).get("State", "Z").startswith(("Z", "X"))
    except OSError:
        return None
    return (shared, hits) if alive else None


def check_plain_child(what, pid, needles, shared_note=""):
    """A plain connection's process: no key byte, no shared mapping."""
    got = scan(pid, needles) if pid is not None else None
    if pid is not None and got is None:
        skip("tls %s memory" % what, "it timed out during the scan")
    elif got is not None:
        if ASAN:
            skip("tls %s key bytes" % what, "ASan build (see ASAN)")
        else:
            ok("tls %s holds no private key byte" % what, not got[1], sorted(got[1]))
        ok("tls %s holds no shared mapping%s" % (what, shared_note), not got[0], got[0])


def test_plain_key_memory(srv, needles):
    """A plain connection's child never gets the keys or the session
    cache (the master withholds both mappings from it), in either stage."""
    ok("tls master holds the scoreboard and the session cache (control)",
       len(shared_maps(srv.proc.pid)) == 2, shared_maps(srv.proc.pid))
    # A TLS connection lives beside the plain ones: its gatekeeper (the
    # global user) and stage 2 (a.test's uid) hold what the plain ones
    # must not, so each check must find its own connection's process.
    t = tls_socket(srv, "a.test")
    s1 = s2 = None
    try:
        t.sendall(req("a.test", close=False))
        read_page(t)
        s1 = connect(srv.port)
        s1.sendall(b"GET / HTTP/1.1\r\nHost: a.te")      # stage 1: waits
        pid = gatekeeper_of(srv, s1)
        ok("tls plain stage-1 child found", pid is not None, srv.children())
        check_plain_child("plain stage-1 child", pid, needles,
                          " (no vhost counts places: no scoreboard either)")
        s2 = connect(srv.port)     # now: the scan above may take seconds
        s2.sendall(req("a.test", close=False))
        r = read_response(s2)
        ok("tls plain request answered", r.startswith(b"HTTP/1.1 200"), r[:80])
        pid = conn_child(srv, s2, uid=UID_A)
        ok("tls plain stage-2 child found", pid is not None, srv.children())
        check_plain_child("plain stage-2 child", pid, needles)
    finally:
        t.close()
        for s in (s1, s2):
            if s is not None:
                s.close()
    # inetd mode, plain: no master to withhold the keys; the process
    # itself lets go of them.
    a, b = socket.socketpair()
    p = subprocess.Popen([ITKD, "-i", "-c", srv.conf], stdin=b, stdout=b,
                         stderr=subprocess.DEVNULL)
    b.close()
    try:
        a.sendall(req("a.test", close=False))
        r = read_response(a)
        ok("tls inetd plain request answered", r.startswith(b"HTTP/1.1 200"), r[:80])
        check_plain_child("inetd plain stage 2", p.pid, needles)
    finally:
        a.close()
        p.wait(10)
    # A TLS connection right after a plain one gets its cache and keys back.
    r = exchange(srv, "a.test", req("a.test"))
    ok("tls handshake after plain connections", r and r[0][0] == 200, r)


def main():
    srv = make_server()
    try:
        test_sni(srv)
        test_ciphers(srv)
        test_versions(srv)
        test_renegotiation(srv)
        test_resumption(srv)
        test_curl(srv)
        test_randomness(srv)
        test_misdirected(srv)
        test_keepalive(srv)
        test_key_memory(srv)
        test_bad_clients(srv)
        # The wait covers what the check looks at: the server's zombies,
        # a gatekeeper its monitor has not waited for yet too.
        ok("tls no zombies", wait_for(lambda: not zombies_of(srv), 5),
           zombies_of(srv))
    finally:
        srv.cleanup()


main()
done()
