"""tests/integration/test_access.py: auth, allow and redirect.

auth: HTTP Basic against a password file in the vhost's own tree (read as
the vhost), with bcrypt ($2b$), SHA-512 ($6$) and SHA-256 ($5$) hashes made
here with mkpasswd (Debian's whois) and openssl passwd; curl and Python
requests as clients; a wrong password logged without the password; the
growing wait and the close after the third failure on one connection;
REMOTE_USER and AUTH_TYPE to CGI without HTTP_AUTHORIZATION; .ht* files
refused. allow: by IPv4 and IPv6 address, and by the client address a
trusted PROXY header gives, before any password prompt. redirect: https
and URL forms from a plain listener, the ACME path exempt, nothing over TLS.
"""
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (RANGES, TOP, UID_USER, UID_A, UID_B, Server, connect, done, free_port,
                      get, mkdir, need_root, ok, parse, raw, read_response, skip,
                      wait_for, write)

try:
    import requests
except ImportError:     # Debian's python3-requests, under another python3
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import requests
    except ImportError:
        requests = None

need_root("access")

PASSWORD = "s3cret:with colon"      # a colon in a password is allowed


def have_v6():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def hashes():
    """user -> hash, one per format, or None when the tools are missing."""
    if shutil.which("mkpasswd") is None or shutil.which("openssl") is None:
        return None

    def run(*argv):
        return subprocess.run(argv, capture_output=True, text=True,
                              check=True).stdout.strip()
    return {
        "bob": run("mkpasswd", "-m", "bcrypt", "-R", "5", PASSWORD),
        "sam": run("openssl", "passwd", "-6", PASSWORD),
        "sue": run("openssl", "passwd", "-5", PASSWORD),
    }


V6 = have_v6()
P6 = free_port() if V6 else 0

CONF = ("""
listen 127.0.0.1:{port}
%(v6)s
listen 127.0.0.1:{tlsport} tls
user #%(g)d
group #%(g)d
""" + RANGES + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 10
keepalive-timeout 10
trusted-proxy 127.0.0.1/32

vhost a.test
root {dir}/a
user #%(a)d
group #%(a)d
cgi .cgi
autoindex on
auth /admin "Admin area" {dir}/a/.htpasswd
auth /cgi "CGI area" {dir}/a/.htpasswd
auth /lan "LAN" {dir}/a/.htpasswd
allow /lan 10.0.0.0/8
allow /v4only 127.0.0.1
allow /v6only ::1
allow /proxied 10.9.9.9 [2001:db8::]/32
tls-cert {dir}/a.pem
tls-key {dir}/a.key

vhost r.test
root {dir}/r
user #%(b)d
group #%(b)d
redirect https
tls-cert {dir}/r.pem
tls-key {dir}/r.key

vhost u.test
root {dir}/r
user #%(b)d
group #%(b)d
redirect https://secure.example.org/base/

vhost m.test
root {dir}/r
user #%(b)d
group #%(b)d
auth / "Missing" {dir}/r/no-such-file
""") % {"v6": "listen [::1]:%d" % P6 if V6 else "", "g": UID_USER, "a": UID_A, "b": UID_B}


def make_cert(d, name, base):
    """A self-signed EC certificate for name, as d/base.pem and d/base.key."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    os.path.join(d, base + ".key"), "-out", os.path.join(d, base + ".pem"),
                    "-days", "2", "-subj", "/CN=%s" % name, "-addext",
                    "subjectAltName=DNS:%s" % name],
                   check=True, capture_output=True)


def lay_out(d, users):
    a = mkdir(os.path.join(d, "a"), UID_A, UID_A, 0o700)
    write(os.path.join(a, ".htpasswd"),
          "# users\n" + "".join("%s:%s\n" % kv for kv in users.items()),
          UID_A, UID_A, 0o600)
    for sub in ("admin", "cgi", "lan", "v4only", "v6only", "proxied", "pub"):
        mkdir(os.path.join(a, sub), UID_A, UID_A, 0o700)
        write(os.path.join(a, sub, "index.html"), "<p>%s</p>\n" % sub, UID_A, UID_A, 0o600)
    write(os.path.join(a, "administrator"), "not below /admin\n", UID_A, UID_A, 0o600)
    write(os.path.join(a, "pub", ".htsecret"), "hidden\n", UID_A, UID_A, 0o600)
    os.unlink(os.path.join(a, "pub", "index.html"))
    write(os.path.join(a, "pub", "seen.txt"), "seen\n", UID_A, UID_A, 0o600)
    with open(os.path.join(TOP, "tests", "cgi", "env.cgi")) as f:
        write(os.path.join(a, "cgi", "env.cgi"), f.read(), UID_A, UID_A, 0o700)
    r = mkdir(os.path.join(d, "r"), UID_B, UID_B, 0o700)
    write(os.path.join(r, "x.txt"), "x\n", UID_B, UID_B, 0o600)
    acme = mkdir(os.path.join(r, ".well-known", "acme-challenge"), UID_B, UID_B, 0o700)
    os.chown(os.path.join(r, ".well-known"), UID_B, UID_B)
    write(os.path.join(acme, "tok123"), "tok123.thumb\n", UID_B, UID_B, 0o600)


def curl(port, path, host="a.test", *extra, scheme="http", addr="127.0.0.1"):
    """(status, headers text, body) through curl."""
    url = "%s://%s:%d%s" % (scheme, host, port, path)
    r = subprocess.run(["curl", "-sS", "-k", "--max-time", "15", "-D", "-",
                        "--resolve", "%s:%d:%s" % (host, port, addr)] + list(extra) + [url],
                       capture_output=True)
    out = r.stdout.decode("latin-1")
    head, _, body = out.partition("\r\n\r\n")
    try:
        status = int(head.split()[1])
    except (IndexError, ValueError):
        status = -1
    return status, head, body


def basic(user, password):
    import base64
    return "Authorization: Basic %s\r\n" % base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()


def main():
    users = hashes()
    if users is None:
        skip("access", "mkpasswd (whois) or openssl missing")
        return
    srv = Server(CONF, name="acc", tls=True, start=False)
    try:
        lay_out(srv.dir, users)
        make_cert(srv.dir, "a.test", "a")
        make_cert(srv.dir, "r.test", "r")
        srv.start()
        checks(srv, users)
    finally:
        srv.cleanup()


def checks(srv, users):
    port = srv.port

    # --- auth: the prompt, each hash type, curl and requests ---
    st, head, _ = curl(port, "/admin/")
    ok("auth: no credentials: 401", st == 401, head)
    ok("auth: WWW-Authenticate names the realm and UTF-8",
       'WWW-Authenticate: Basic realm="Admin area", charset="UTF-8"' in head, head)
    for user, h in users.items():
        st, head, body = curl(port, "/admin/", "a.test", "-u", "%s:%s" % (user, PASSWORD))
        ok("auth: %s hash (%s): 200 with curl" % (h[:3], user),
           st == 200 and "<p>admin</p>" in body, head)
    if requests is not None:
        r = requests.get("http://127.0.0.1:%d/admin/" % port, headers={"Host": "a.test"},
                         auth=("sam", PASSWORD), timeout=15)
        ok("auth: python requests with the right password: 200",
           r.status_code == 200 and "<p>admin</p>" in r.text, r.status_code)
        r = requests.get("http://127.0.0.1:%d/admin/" % port, headers={"Host": "a.test"},
                         timeout=15)
        ok("auth: python requests without credentials: 401 with Basic",
           r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Basic "),
           r.status_code)
    else:
        skip("auth: python requests", "no requests module")
    st, head, body = curl(port, "/administrator")
    ok("auth: /admin does not cover /administrator", st == 200 and "not below" in body, head)
    st, head, _ = curl(port, "/admin")
    ok("auth: /admin covers /admin itself", st == 401, head)
    st, head, _ = curl(port, "/%61dmin/")
    ok("auth: a percent-encoded path is matched decoded", st == 401, head)

    # --- a wrong password: 401, logged without the password ---
    t0 = time.monotonic()
    st, head, _ = curl(port, "/admin/", "a.test", "-u", "sue:wrong-Pa55word")
    ok("auth: wrong password: 401", st == 401, head)
    ok("auth: wrong password waited before its 401", time.monotonic() - t0 >= 0.45)
    wait_for(lambda: "wrong password for user 'sue'" in srv.log())
    log = srv.log()
    line = [x for x in log.splitlines() if "wrong password for user 'sue'" in x]
    ok("auth: wrong password logged with user and client address",
       bool(line) and "127.0.0.1" in line[0], log[-500:])
    ok("auth: the password is never logged", "wrong-Pa55word" not in log and PASSWORD not in log)
    st, head, _ = curl(port, "/admin/", "a.test", "-u", "nobody:%s" % PASSWORD)
    ok("auth: unknown user: 401", st == 401, head)
    r = get(port, "/admin/", extra="Authorization: Basic !!notbase64\r\n")
    ok("auth: malformed Basic credentials: 400", r is not None and r[0] == 400, r)

    # --- slow-down: a growing wait, the third failure closes ---
    s = connect(port, 20)
    times, answers = [], []
    try:
        for i in range(3):
            t0 = time.monotonic()
            s.sendall(("GET /admin/ HTTP/1.1\r\nHost: a.test\r\n%s\r\n"
                       % basic("bob", "guess%d" % i)).encode())
            answers.append(read_response(s, 20))
            times.append(time.monotonic() - t0)
        s.settimeout(5)
        closed = s.recv(1) == b""
    finally:
        s.close()
    ok("auth: the failures on one connection all get 401",
       all(a.startswith(b"HTTP/1.1 401") for a in answers), answers)
    ok("auth: each failure waits longer (>=0.5 s, >=1 s, >=2 s)",
       times[0] >= 0.45 and times[1] >= 0.95 and times[2] >= 1.95,
       ["%.2f" % t for t in times])
    ok("auth: the third failure closes the connection",
       b"Connection: close" in answers[2] and closed, answers[2][:200])

    # --- CGI below auth: REMOTE_USER, AUTH_TYPE, no password ---
    st, head, body = curl(port, "/cgi/env.cgi", "a.test", "-u", "sue:%s" % PASSWORD)
    env = dict(x.split("=", 1) for x in body.splitlines() if "=" in x)
    ok("auth: CGI gets REMOTE_USER and AUTH_TYPE=Basic",
       st == 200 and env.get("REMOTE_USER") == "sue" and env.get("AUTH_TYPE") == "Basic",
       body[:300])
    ok("auth: CGI does not get HTTP_AUTHORIZATION", "HTTP_AUTHORIZATION" not in env, body[:300])

    # --- .ht files ---
    for path in ("/.htpasswd", "/pub/.htsecret", "/pub/.HTsecret/../.htsecret"):
        r = get(port, path)
        ok("auth: %s is 403" % path, r is not None and r[0] == 403, r and r[0])
    r = get(port, "/pub/")
    ok("auth: autoindex lists files but no .ht file",
       r is not None and r[0] == 200 and b"seen.txt" in r[2] and b".htsecret" not in r[2],
       r and r[2][:300])

    # --- allow ---
    st, head, _ = curl(port, "/v4only/")
    ok("allow: the listed IPv4 address gets 200", st == 200, head)
    st, head, _ = curl(port, "/v6only/")
    ok("allow: another address gets 403", st == 403, head)
    st, head, _ = curl(port, "/lan/")
    ok("allow: a refused address gets 403 before any password prompt",
       st == 403 and "WWW-Authenticate" not in head, head)
    if V6:
        st, head, _ = curl(P6, "/v6only/", "a.test", addr="::1")
        ok("allow: the listed IPv6 address gets 200", st == 200, head)
        st, head, _ = curl(P6, "/v4only/", "a.test", addr="::1")
        ok("allow: ::1 is not 127.0.0.1: 403", st == 403, head)
    else:
        skip("allow: IPv6", "no ::1 on this machine")
    r = parse(raw(port, b"PROXY TCP4 10.9.9.9 127.0.0.1 1234 80\r\n"
                  b"GET /proxied/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"))
    ok("allow: the client a trusted PROXY header names gets 200",
       bool(r) and r[0][0] == 200, r)
    r = parse(raw(port, b"PROXY TCP4 10.9.9.8 127.0.0.1 1234 80\r\n"
                  b"GET /proxied/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"))
    ok("allow: another client behind the same proxy gets 403", bool(r) and r[0][0] == 403, r)
    r = parse(raw(port, b"PROXY TCP6 2001:db8::7 ::1 1234 80\r\n"
                  b"GET /proxied/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"))
    ok("allow: an IPv6 client in a listed /32 behind the proxy gets 200",
       bool(r) and r[0][0] == 200, r)
    r = get(port, "/proxied/")
    ok("allow: the proxy's own address is not the client's: 403", r is not None and r[0] == 403, r)

    # --- redirect ---
    st, head, _ = curl(port, "/x/y%20z?a=1&b=2", "r.test")
    ok("redirect https: 308", st == 308, head)
    ok("redirect https: to https://HOST/PATH?QUERY, the port dropped",
       "Location: https://r.test/x/y%20z?a=1&b=2\r\n" in head + "\r\n", head)
    st, head, body = curl(port, "/.well-known/acme-challenge/tok123", "r.test")
    ok("redirect https: the ACME challenge is still served",
       st == 200 and body == "tok123.thumb\n", head)
    st, head, body = curl(srv.tlsport, "/x.txt", "r.test", scheme="https")
    ok("redirect https: nothing over TLS", st == 200 and body == "x\n", head)
    st, head, _ = curl(port, "/p/q?z=9", "u.test")
    ok("redirect URL: 308 to URL + PATH?QUERY",
       st == 308 and "Location: https://secure.example.org/base/p/q?z=9\r\n" in head + "\r\n",
       head)
    r = raw(port, b"POST /x HTTP/1.1\r\nHost: r.test\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /x HTTP/1.1\r\nHost: r.test\r\n\r\n")
    rs = parse(r)
    ok("redirect: a request with an unread body closes after its 308",
       len(rs) == 1 and rs[0][0] == 308, rs)

    # --- an unusable password file: 500, never an open door ---
    st, head, _ = curl(port, "/", "m.test", "-u", "sue:%s" % PASSWORD)
    ok("auth: a missing password file is a 500", st == 500, head)
    wait_for(lambda: "no-such-file" in srv.log())
    ok("auth: a missing password file is logged", "no-such-file" in srv.log(), srv.log()[-300:])


main()
done()
