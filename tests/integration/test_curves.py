"""tests/integration/test_curves.py: the ECDHE groups itkd offers are the
ones the README names, X25519, P-256 and P-384, and no other: a client
that offers only P-521 fails its handshake, one that offers P-521 first
gets the next group it offers. With an ECDSA P-256 certificate (a.test),
an RSA one (b.test) and an ECDSA P-384 one (c.test). Real clients:
openssl s_client and python's ssl. Needs root."""
import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (RANGES, TOP, UID_A, UID_B, UID_C, UID_USER, Server, done, mkdir,  # noqa: E402
                      need_root, ok, write)

need_root("test_curves")

CONF = ("""
listen 127.0.0.1:{port}
listen 127.0.0.1:{tlsport} tls
user #%d
group #%d
""" + RANGES + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 5

vhost a.test
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

vhost c.test
root {dir}/c
user #%d
group #%d
tls-cert {dir}/certs/c.pem
tls-key {dir}/certs/c.key
""") % (UID_USER, UID_USER, UID_A, UID_A, UID_B, UID_B, UID_C, UID_C)

# What s_client prints as "Server Temp Key" for each group.
TEMP_KEY = {"X25519": "X25519", "P-256": "ECDH, prime256v1", "P-384": "ECDH, secp384r1",
            "P-521": "ECDH, secp521r1"}


def sclient(srv, name, groups):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.tlsport,
           "-servername", name, "-CAfile", srv.ca, "-tls1_2", "-groups", groups, "-ign_eof"]
    try:
        p = subprocess.run(cmd, input=b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                           % name.encode(), capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    return p.returncode, (p.stdout + p.stderr).decode("latin-1")


def temp_key(out):
    for line in out.splitlines():
        if line.startswith("Server Temp Key:"):
            return line.split(":", 1)[1].strip()
    return None


def py_handshake(srv, name, curve):
    """python's ssl with one ECDHE curve: the response's status line, or
    the error."""
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ecdh_curve(curve)
    try:
        with socket.create_connection(("127.0.0.1", srv.tlsport), 10) as raw_sock:
            with ctx.wrap_socket(raw_sock, server_hostname=name) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name.encode())
                return s.recv(100).split(b"\r\n", 1)[0].decode()
    except (ssl.SSLError, OSError) as e:
        return "error: %s" % e


def main():
    srv = Server(CONF, name="curves", tls=True, start=False)
    try:
        for name, uid in (("a", UID_A), ("b", UID_B), ("c", UID_C)):
            root = mkdir(os.path.join(srv.dir, name), uid, uid, 0o755)
            write(os.path.join(root, "index.html"), "<h1>%s</h1>\n" % name, uid, uid, 0o644)
        certs = os.path.join(srv.dir, "certs")
        subprocess.run(["sh", os.path.join(TOP, "tests", "certs.sh"), certs], check=True,
                       stdout=subprocess.DEVNULL)
        srv.ca = os.path.join(certs, "ca.pem")
        srv.start()
        srv.wait_port(srv.tlsport)
        # RSA: the key exchange alone decides.
        for group in ("X25519", "P-256", "P-384"):
            rc, out = sclient(srv, "b.test", group)
            ok("b.test (RSA): -groups %s negotiates it and serves" % group,
               rc == 0 and (temp_key(out) or "").startswith(TEMP_KEY[group]) and
               "HTTP/1.1 200 OK" in out, (rc, temp_key(out), out[-400:]))
        rc, out = sclient(srv, "b.test", "P-521")
        ok("b.test (RSA): -groups P-521 alone fails the handshake",
           rc != 0 and temp_key(out) is None and "HTTP/1.1" not in out,
           (rc, temp_key(out), out[-400:]))
        for groups, want in (("P-521:P-384", "P-384"), ("P-521:P-256", "P-256"),
                             ("P-521:P-384:P-256", "P-256")):
            rc, out = sclient(srv, "b.test", groups)
            ok("b.test (RSA): -groups %s gets %s, never P-521" % (groups, want),
               rc == 0 and (temp_key(out) or "").startswith(TEMP_KEY[want]) and
               "HTTP/1.1 200 OK" in out, (rc, temp_key(out), out[-400:]))
        # ECDSA: a TLS 1.2 client also wants its groups to hold the
        # certificate's curve, so that one is always offered too.
        for name, cert, groups, want in (
                ("a.test", "ECDSA P-256", "X25519:P-256", "X25519"),
                ("a.test", "ECDSA P-256", "P-256", "P-256"),
                ("a.test", "ECDSA P-256", "P-521:P-256", "P-256"),
                ("c.test", "ECDSA P-384", "P-384", "P-384"),
                ("c.test", "ECDSA P-384", "P-521:P-384", "P-384")):
            rc, out = sclient(srv, name, groups)
            ok("%s (%s): -groups %s gets %s" % (name, cert, groups, want),
               rc == 0 and (temp_key(out) or "").startswith(TEMP_KEY[want]) and
               "HTTP/1.1 200 OK" in out, (rc, temp_key(out), out[-400:]))
        line = py_handshake(srv, "b.test", "secp521r1")
        ok("python ssl with only secp521r1: handshake refused", line.startswith("error:"), line)
        line = py_handshake(srv, "b.test", "secp384r1")
        ok("python ssl with only secp384r1: served", line == "HTTP/1.1 200 OK", line)
        ok("the master is still up after the refused handshakes", srv.proc.poll() is None,
           srv.log()[-300:])
    finally:
        srv.cleanup()
    done()


main()
