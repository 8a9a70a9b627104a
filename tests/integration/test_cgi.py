"""CGI/1.1 end to end (issue 4): meta-variables, the identity seen from
inside, request bodies both ways, redirects, Status, big unframed output on
a kept-alive connection, timeouts, crashes, write-before-read, stderr,
nph-, php-cgi. Needs root (it switches uids)."""
import hashlib
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("cgi")

SCRIPTS = os.path.join(TOP, "tests", "cgi")
CREDCHECK = os.path.join(TOP, "tests", "helpers", "credcheck")
PHP = "/usr/bin/php-cgi"


def layout(s):
    two_vhost_roots(s.dir)
    root = os.path.join(s.dir, "a")
    bin_ = mkdir(os.path.join(root, "cgi-bin"), UID_A, UID_A, 0o755)
    for name in os.listdir(SCRIPTS):
        mode = 0o644 if name.endswith(".php") else 0o755
        dst = bin_ if name.endswith(".cgi") else root
        with open(os.path.join(SCRIPTS, name), "rb") as f:
            write(os.path.join(dst, name), f.read(), UID_A, UID_A, mode)
    with open(os.path.join(SCRIPTS, "env.cgi"), "rb") as f:
        write(os.path.join(root, "env.cgi"), f.read(), UID_A, UID_A, 0o755)
    write(os.path.join(root, "noexec.cgi"), "#!/bin/sh\n", UID_A, UID_A, 0o644)
    write(os.path.join(bin_, "forever.cgi"),
          "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nexec yes\n", UID_A, UID_A, 0o755)
    app = mkdir(os.path.join(root, "app"), UID_A, UID_A, 0o755)
    with open(os.path.join(SCRIPTS, "index.cgi"), "rb") as f:
        write(os.path.join(app, "index.cgi"), f.read(), UID_A, UID_A, 0o755)
    shutil.copy(CREDCHECK, os.path.join(bin_, "credcheck"))
    os.chown(os.path.join(bin_, "credcheck"), UID_A, UID_A)
    os.chmod(os.path.join(bin_, "credcheck"), 0o755)
    return root


def request(port, req, timeout=10.0, head_only=False):
    """Send req (bytes) on a new connection, read to close, parse."""
    r = parse(raw(port, req, timeout, shut=False), head_only=head_only)
    return r[0] if r else None


def send_quietly(c, data):
    """sendall that tolerates the server closing first (it may: the body
    was not wanted)."""
    try:
        c.sendall(data)
    except OSError:
        pass


def envmap(body):
    out = {}
    for line in body.decode("latin-1").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k] = v
    return out


def uid_procs(uid, name=None):
    """pids of processes of uid (optionally with that command name)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        st = proc_status(int(p))
        if st.get("Uid", "").split("\t")[:1] == [str(uid)] and \
                (name is None or st.get("Name") == name) and not st.get("State", "").startswith("Z"):
            pids.append(int(p))
    return pids


def wait_gone(uid, name, secs=3.0):
    end = time.time() + secs
    while time.time() < end:
        if not uid_procs(uid, name):
            return True
        time.sleep(0.05)
    return not uid_procs(uid, name)


def meta(s, root):
    req = ("GET /cgi-bin/env.cgi/extra/path?a=1&b=%20 HTTP/1.1\r\nHost: a.test\r\n"
           "X-Custom-Header: custom value\r\nProxy: http://evil.example:8080/\r\n"
           "Authorization: Basic Zm9vOmJhcg==\r\nAccept: text/a\r\nAccept: text/b\r\n"
           "X_Under: sneaky\r\nConnection: close\r\n\r\n").encode()
    st = request(s.port, req)
    ok("meta: env.cgi answers 200 text/plain", st and st[0] == 200 and
       st[1].get("content-type") == "text/plain", repr(st)[:300])
    e = envmap(st[2]) if st else {}
    want = {
        "GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/extra/path",
        "PATH_TRANSLATED": root + "/extra/path", "QUERY_STRING": "a=1&b=%20",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_HOST": "127.0.0.1", "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/cgi-bin/env.cgi", "SERVER_NAME": "a.test",
        "SERVER_PORT": str(s.port), "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_URI": "/cgi-bin/env.cgi/extra/path?a=1&b=%20",
        "SCRIPT_FILENAME": root + "/cgi-bin/env.cgi", "DOCUMENT_ROOT": root,
        "REDIRECT_STATUS": "200", "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HTTP_HOST": "a.test", "HTTP_X_CUSTOM_HEADER": "custom value",
        "HTTP_ACCEPT": "text/a, text/b", "AUTH_TYPE": "Basic",
        "HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg==", "HTTP_CONNECTION": "close",
    }
    for k, v in want.items():
        ok("meta: %s=%s" % (k, v), e.get(k) == v, "got %r" % e.get(k))
    ok("meta: SERVER_SOFTWARE is itkd/VERSION", e.get("SERVER_SOFTWARE", "").startswith("itkd/"),
       repr(e.get("SERVER_SOFTWARE")))
    ok("meta: REMOTE_PORT is a port", e.get("REMOTE_PORT", "").isdigit(), repr(e.get("REMOTE_PORT")))
    ok("meta: no HTTP_PROXY (httpoxy)", "HTTP_PROXY" not in e, repr(e.get("HTTP_PROXY")))
    ok("meta: a name with '_' is not passed", not any("UNDER" in k for k in e), repr(sorted(e)))
    for k in ("HTTPS", "REMOTE_USER", "CONTENT_LENGTH", "CONTENT_TYPE"):
        ok("meta: no %s on a plain GET" % k, k not in e, repr(e.get(k)))
    known = set(want) | {"SERVER_SOFTWARE", "REMOTE_PORT", "PWD", "SHLVL", "_", "OLDPWD"}
    extra = [k for k in e if k not in known and not k.startswith("HTTP_")]
    ok("meta: nothing of itkd's own environment", not extra, repr(extra))

    body = b"x=1&y=2"
    req = ("POST /env.cgi HTTP/1.1\r\nHost: www.a.test\r\nContent-Type: application/"
           "x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
           % len(body)).encode() + body
    st = request(s.port, req)
    e = envmap(st[2]) if st else {}
    ok("meta: a suffix script (cgi .cgi) runs", st and st[0] == 200, repr(st)[:200])
    ok("meta: POST CONTENT_LENGTH", e.get("CONTENT_LENGTH") == str(len(body)), repr(e.get("CONTENT_LENGTH")))
    ok("meta: POST CONTENT_TYPE", e.get("CONTENT_TYPE") == "application/x-www-form-urlencoded",
       repr(e.get("CONTENT_TYPE")))
    ok("meta: no HTTP_CONTENT_TYPE/LENGTH",
       "HTTP_CONTENT_TYPE" not in e and "HTTP_CONTENT_LENGTH" not in e, repr(sorted(e)))
    ok("meta: empty PATH_INFO, no PATH_TRANSLATED",
       e.get("PATH_INFO") == "" and "PATH_TRANSLATED" not in e, repr(e.get("PATH_TRANSLATED")))
    ok("meta: SERVER_NAME is the vhost's name, not the alias asked for",
       e.get("SERVER_NAME") == "a.test", repr(e.get("SERVER_NAME")))
    st = request(s.port, b"GET /cgi-bin/env.cgi HTTP/1.0\r\n\r\n")
    e = envmap(st[2]) if st else {}
    ok("meta: HTTP/1.0 SERVER_PROTOCOL", e.get("SERVER_PROTOCOL") == "HTTP/1.0", repr(st)[:200])
    ok("meta: HTTP/1.0 answer not chunked, closes", st and "transfer-encoding" not in st[1]
       and st[1].get("connection") == "close", repr(st and st[1]))


def identity(s, root):
    st = get(s.port, "/cgi-bin/credcheck")
    ok("identity: credcheck runs", st and st[0] == 200, repr(st)[:300])
    f = {}
    for line in (st[2].decode() if st else "").splitlines():
        k, _, v = line.partition(":")
        f[k] = v.strip()
    ids = str(UID_A)
    ok("identity: Uid real/eff/saved/fs", f.get("Uid", "").split() == [ids] * 4, repr(f.get("Uid")))
    ok("identity: Gid real/eff/saved/fs", f.get("Gid", "").split() == [ids] * 4, repr(f.get("Gid")))
    ok("identity: Groups only the vhost's", set(f.get("Groups", "").split()) <= {ids},
       repr(f.get("Groups")))
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        ok("identity: %s empty" % cap, f.get(cap) == "0" * 16, repr(f.get(cap)))
    ok("identity: NoNewPrivs 1", f.get("NoNewPrivs") == "1", repr(f.get("NoNewPrivs")))
    ok("identity: fds 0-2 only", f.get("Fds", "").split() == ["0", "1", "2"], repr(f.get("Fds")))
    ok("identity: no signal ignored", f.get("SigIgn") == "0" * 16, repr(f.get("SigIgn")))
    ok("identity: no signal blocked", f.get("SigBlk") == "0" * 16, repr(f.get("SigBlk")))
    ok("identity: cwd is the script's directory", f.get("Cwd") == root + "/cgi-bin",
       repr(f.get("Cwd")))
    st = get(s.port, "/cgi-bin/sigs.cgi")
    ok("identity: a shell script sees no ignored signal",
       st and b"SigIgn:\t0000000000000000" in st[2], repr(st)[:300])


def bodies(s):
    data = os.urandom(5 << 20)
    req = ("POST /cgi-bin/hash.cgi HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n"
           "Connection: close\r\n\r\n" % len(data)).encode() + data
    st = request(s.port, req, 30)
    want = "len=%d\nsha256=%s\ncontent_length=%d\n" % (len(data), hashlib.sha256(data).hexdigest(),
                                                      len(data))
    ok("body: 5 MiB Content-Length POST arrives intact", st and st[0] == 200 and
       st[2].decode() == want, repr(st)[:300])

    st = get(s.port, "/cgi-bin/hash.cgi")
    ok("body: none on a GET, stdin at EOF at once", st and st[0] == 200 and
       st[2] == ("len=0\nsha256=%s\ncontent_length=-\n" % hashlib.sha256(b"").hexdigest()).encode(),
       repr(st)[:300])

    data = os.urandom(1 << 20)
    chunks, i, n = [], 0, 1
    while i < len(data):
        part = data[i:i + n]
        chunks.append(b"%x\r\n" % len(part) + part + b"\r\n")
        i += len(part)
        n = n * 3 % 70001 + 1
    req = (b"POST /cgi-bin/hash.cgi HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n" + b"".join(chunks) + b"0\r\n\r\n")
    st = request(s.port, req, 30)
    want = "len=%d\nsha256=%s\ncontent_length=%d\n" % (len(data), hashlib.sha256(data).hexdigest(),
                                                      len(data))
    ok("body: 1 MiB chunked POST decoded, CONTENT_LENGTH set", st and st[0] == 200 and
       st[2].decode() == want, repr(st)[:300])

    # Expect: 100-continue: the body is asked for only when the script runs.
    data = os.urandom(100000)
    c = connect(s.port, 10)
    c.sendall(("POST /cgi-bin/hash.cgi HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n"
               "Expect: 100-continue\r\nConnection: close\r\n\r\n" % len(data)).encode())
    interim = c.recv(100)
    c.sendall(data)
    r = parse(interim + recv_all(c, 10))
    c.close()
    ok("body: Expect: 100-continue gets its 100, then the answer",
       interim.startswith(b"HTTP/1.1 100") and r and r[0][0] == 200 and
       ("sha256=%s" % hashlib.sha256(data).hexdigest()).encode() in r[0][2], repr(interim) + repr(r)[:200])

    # A script that never reads its 3 MiB body still answers.
    data = os.urandom(3 << 20)
    c = connect(s.port, 10)
    c.sendall(("POST /cgi-bin/status.cgi HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n"
               "\r\n" % len(data)).encode())
    t = threading.Thread(target=send_quietly, args=(c, data))
    t.start()
    got = recv_all(c, 10)
    t.join()
    c.close()
    r = parse(got)
    ok("body: a script that reads none of a 3 MiB body still answers", r and r[0][0] == 418 and
       r[0][2] == b"teapot\n", repr(got[:200]))

    # Write-before-read: the script sends 1 MiB before reading; the client
    # sends its 1 MiB body at the same time.
    data = os.urandom(1 << 20)
    c = connect(s.port, 15)
    c.sendall(("POST /cgi-bin/wbr.cgi HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n"
               "Connection: close\r\n\r\n" % len(data)).encode())
    t = threading.Thread(target=send_quietly, args=(c, data))
    t.start()
    got = recv_all(c, 15)
    t.join()
    c.close()
    r = parse(got)
    want = b"w" * (1 << 20) + ("\nlen=%d sha256=%s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode()
    ok("body: write-before-read with a 1 MiB body completes", r and r[0][0] == 200 and
       r[0][2] == want, repr(got[:200]))


def answers(s):
    st = get(s.port, "/cgi-bin/redirect_local.cgi")
    ok("redirect: local Location served as a GET of the new path", st and st[0] == 200 and
       st[2] == b"method=GET query=from=redirect script=/cgi-bin/query.cgi\n", repr(st)[:300])
    req = (b"POST /cgi-bin/redirect_local.cgi HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n"
           b"Connection: close\r\n\r\nhello")
    st = request(s.port, req)
    ok("redirect: a POST becomes a GET", st and st[2].startswith(b"method=GET "), repr(st)[:300])
    st = get(s.port, "/cgi-bin/redirect_url.cgi")
    ok("redirect: a URL Location gives 302", st and st[0] == 302 and
       st[1].get("location") == "http://example.org/elsewhere", repr(st)[:300])
    st = get(s.port, "/cgi-bin/status.cgi")
    ok("status: Status kept, fields passed on", st and st[0] == 418 and
       st[1].get("x-script") == "yes" and st[2] == b"teapot\n", repr(st)[:300])
    st = get(s.port, "/cgi-bin/status.cgi", method="HEAD")
    ok("status: HEAD gets the head only", st and st[0] == 418 and st[2] == b"", repr(st)[:300])
    st = get(s.port, "/cgi-bin/bad.cgi")
    ok("malformed header block gives 502", st and st[0] == 502, repr(st)[:300])
    r = raw(s.port, b"GET /cgi-bin/nph-raw.cgi HTTP/1.1\r\nHost: a.test\r\n\r\n", shut=False)
    st = parse(r)
    ok("nph-: its status and fields sent in itkd's own head, then closed",
       len(st) == 1 and st[0][0] == 203 and st[0][1].get("x-nph") == "1" and
       st[0][1].get("content-type") == "text/plain" and
       st[0][1].get("connection") == "close" and st[0][2] == b"nph body\n",
       repr(r[:300]))
    st = get(s.port, "/noexec.cgi")
    ok("a .cgi that is not executable gives 403", st and st[0] == 403, repr(st)[:200])


def keepalive(s):
    c = connect(s.port, 10)
    c.sendall(b"GET /cgi-bin/length.cgi HTTP/1.1\r\nHost: a.test\r\n\r\n"
              b"HEAD /cgi-bin/length.cgi HTTP/1.1\r\nHost: a.test\r\n\r\n")
    buf = b""
    while buf.count(b"HTTP/1.1 200") < 2 or not buf.endswith(b"\r\n\r\n"):
        b = c.recv(65536)
        if not b:
            break
        buf += b
    c.sendall(b"GET /app/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    buf += recv_all(c, 10)
    c.close()
    i = buf.find(b"HTTP/1.1", buf.find(b"hello") + 1)
    r = parse(buf[:i]) + parse(buf[i:], head_only=True)
    r = r[:1] + r[1:2] + parse(buf[buf.find(b"HTTP/1.1", i + 1):])
    ok("length: the script's Content-Length is kept, excess cut", len(r) >= 1 and
       r[0][0] == 200 and r[0][1].get("content-length") == "5" and r[0][2] == b"hello",
       repr(r)[:300])
    ok("length: HEAD keeps the length, sends no body", len(r) >= 2 and
       r[1][1].get("content-length") == "5" and r[1][2] == b"", repr(r)[:300])
    ok("index: an index script, and keep-alive held through all three", len(r) == 3 and
       r[2][2] == b"index script /app/index.cgi\n", repr(r)[:400])


def big_then_more(s):
    c = connect(s.port, 20)
    c.sendall(b"GET /cgi-bin/big.cgi HTTP/1.1\r\nHost: a.test\r\n\r\n")
    buf = bytearray()
    need = 20 << 20
    t0 = time.time()
    while not (len(buf) > need and buf.endswith(b"\r\n0\r\n\r\n")):
        b = c.recv(1 << 20)
        if not b:
            break
        buf.extend(b)
    took = time.time() - t0
    # Ask again before parsing (parse() is slow on 20 MiB; keep-alive is not).
    c.sendall(b"GET /cgi-bin/status.cgi HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    t0 = time.time()
    got = recv_all(c, 10)
    c.close()
    first = parse(bytes(buf))
    ok("big: 20 MiB without a length goes out chunked", first and first[0][0] == 200 and
       first[0][1].get("transfer-encoding") == "chunked" and first[0][2] == b"\0" * need,
       repr(first and (first[0][0], first[0][1], len(first[0][2]))))
    r = parse(got)
    ok("big: the next request on the same connection is answered", r and r[0][0] == 418,
       "%r (20 MiB took %.1fs, then %r after %.1fs)" % (repr(r)[:200], took, got[:200],
                                                        time.time() - t0))


def failures(s):
    t0 = time.time()
    st = get(s.port, "/cgi-bin/hang.cgi")
    took = time.time() - t0
    ok("timeout: a hung script gets 504 at cgi-timeout", st and st[0] == 504 and 1.5 < took < 6,
       "%r after %.1fs" % (repr(st)[:100], took))
    ok("timeout: the whole process group is gone", wait_gone(UID_A, "sleep"),
       repr(uid_procs(UID_A, "sleep")))
    ok("timeout: no process of the vhost's uid left at all", wait_gone(UID_A, None),
       repr([(p, proc_status(p).get("Name")) for p in uid_procs(UID_A)]))
    ok("timeout: logged", "cgi-timeout" in s.log(), s.log()[-500:])
    st = get(s.port, "/cgi-bin/crash.cgi")
    ok("crash: a script killed by a signal gives 502", st and st[0] == 502, repr(st)[:200])
    ok("crash: the signal is in the error log", "signal 11" in s.log(), s.log()[-500:])
    t0 = time.time()
    got = raw(s.port, b"GET /cgi-bin/crash_late.cgi HTTP/1.1\r\nHost: a.test\r\n\r\n", shut=False)
    ok("crash after output: the answer is cut off (no last chunk) and the connection closed",
       got.startswith(b"HTTP/1.1 200") and b"partial" in got and
       not got.endswith(b"0\r\n\r\n") and time.time() - t0 < 3,
       "%r after %.1fs" % (got[-200:], time.time() - t0))
    st = get(s.port, "/cgi-bin/stderr.cgi")
    log = s.log()
    ok("stderr: the answer is unaffected", st and st[0] == 200 and st[2] == b"ok\n", repr(st))
    ok("stderr: lines in the error log, tagged with vhost and script",
       any("a.test" in l and "stderr.cgi: first line on stderr" in l for l in log.splitlines()),
       log[-500:])
    ok("stderr: control bytes escaped in the log", "\x1b" not in log and "evil" in log, log[-300:])
    # A client that goes away stops the script.
    c = connect(s.port)
    c.sendall(b"GET /cgi-bin/forever.cgi HTTP/1.1\r\nHost: a.test\r\n\r\n")
    c.recv(65536)
    c.close()
    ok("client gone: the script is killed", wait_gone(UID_A, "yes", 1.5),
       repr(uid_procs(UID_A, "yes")))
    # A process that has just exited is a zombie until its parent's
    # wait: one that stays one is what this catches.
    wait_for(lambda: not zombies(), 5)
    ok("no zombie left", not zombies(), repr(zombies()))


def no_fd_leak(s):
    c = connect(s.port)

    def one(path):
        c.sendall(("GET %s HTTP/1.1\r\nHost: a.test\r\n\r\n" % path).encode())
        buf = b""
        while True:
            r = parse(buf)
            if r and (r[0][1].get("transfer-encoding") != "chunked" or buf.endswith(b"0\r\n\r\n")):
                return r[0]
            b = c.recv(65536)
            if not b:
                return r[0] if r else None
            buf += b

    one("/cgi-bin/env.cgi")
    kids = s.children()
    # The answer may reach us a moment before the server closed its last
    # fd: the baseline is the fewest seen while it idles.
    fds = None
    def nfds(k):
        try:
            return len(os.listdir("/proc/%d/fd" % k))
        except FileNotFoundError:       # a child that was already ending
            return None

    kids = [k for k in kids if nfds(k) is not None]
    for _ in range(6):
        now = [nfds(k) or 0 for k in kids]
        fds = now if fds is None else [min(a, b) for a, b in zip(fds, now)]
        time.sleep(0.05)
    for p in ("/cgi-bin/crash.cgi", "/cgi-bin/status.cgi", "/cgi-bin/bad.cgi", "/cgi-bin/env.cgi"):
        one(p)
    end = time.time() + 2
    while True:
        fds2 = [len(os.listdir("/proc/%d/fd" % k)) for k in kids if os.path.exists("/proc/%d" % k)]
        if fds2 == fds or time.time() > end:
            break
        time.sleep(0.05)
    c.close()
    ok("fds: none leaked over five CGI requests on one connection",
       len(kids) == 1 and fds == fds2, "%r %r %r" % (kids, fds, fds2))


def interpreters(s):
    broot = os.path.join(s.dir, "b")
    write(os.path.join(broot, "plain.sh"),
          "printf 'Content-Type: text/plain\\n\\nran as %s by %s\\n' \"$(id -u)\" \"$0\"\n",
          UID_B, UID_B, 0o644)
    write(os.path.join(broot, "x.bad"), "whatever\n", UID_B, UID_B, 0o644)
    st = get(s.port, "/plain.sh", "b.test")
    ok("interpreter: runs a script that is not executable, as that vhost's uid",
       st and st[0] == 200 and st[2] == ("ran as %d by %s\n" % (UID_B, os.path.join(broot, "plain.sh"))).encode(),
       repr(st)[:300])
    st = get(s.port, "/x.bad", "b.test")
    ok("interpreter: a missing one gives 500 and a log line", st and st[0] == 500 and
       "cannot run" in s.log(), repr(st)[:200] + s.log()[-300:])


def php(s):
    if not os.path.exists(PHP):
        skip("php-cgi", "no " + PHP)
        return
    body = b"name=itkd&x=1"
    req = ("POST /form.php HTTP/1.1\r\nHost: a.test\r\nContent-Type: application/"
           "x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
           % len(body)).encode() + body
    st = request(s.port, req)
    ok("php-cgi: form POST under the vhost's uid", st and st[0] == 200 and
       st[2] == ("uid=%d\nname=itkd\nmethod=POST\n" % UID_A).encode(), repr(st)[:300])


def over_tls():
    """HTTPS=on, and bodies streamed through TLS records both ways."""
    conf = two_vhost_conf(extra_a="cgi-dir /cgi-bin/\ncgi-timeout 5\n"
                                  "tls-cert {dir}/a.pem\ntls-key {dir}/a.key")
    conf = conf.replace("listen 127.0.0.1:{port}\n",
                        "listen 127.0.0.1:{port}\nlisten 127.0.0.1:{tlsport} tls\n")
    with Server(conf, name="cgitls", tls=True, start=False) as s:
        layout(s)
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                            os.path.join(s.dir, "a.key"), "-out", os.path.join(s.dir, "a.pem"),
                            "-days", "2", "-subj", "/CN=a.test"], capture_output=True)
        if r.returncode != 0:
            skip("cgi over TLS", "openssl req failed")
            return
        s.start()
        s.wait_port(s.tlsport)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def tls_request(data, send_body=b""):
            """One thread, non-blocking: an SSL object must not be read and
            written from two threads at once."""
            c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.tlsport), 15),
                                server_hostname="a.test")
            c.setblocking(False)
            out, buf, errs = memoryview(data + send_body), bytearray(), []
            end = time.time() + 20
            while time.time() < end:
                rd, wr, _ = select.select([c], [c] if len(out) else [], [], 1)
                if wr:
                    try:
                        out = out[c.send(out[:16384]):]
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        pass
                    except OSError as e:
                        errs.append("send: %r" % e)
                        break
                if rd or c.pending():
                    try:
                        b = c.recv(1 << 16)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    except OSError as e:
                        errs.append("recv: %r" % e)
                        break
                    if not b:
                        break
                    buf.extend(b)
            c.close()
            r = parse(bytes(buf))
            return r[0] if r else (len(buf), errs)

        st = tls_request(b"GET /cgi-bin/env.cgi HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        e = envmap(st[2]) if st and len(st) == 3 else {}
        ok("tls: HTTPS=on", e.get("HTTPS") == "on", repr(st)[:300])
        ok("tls: SERVER_PORT is the TLS port", e.get("SERVER_PORT") == str(s.tlsport),
           repr(e.get("SERVER_PORT")))
        data = os.urandom(2 << 20)
        st = tls_request(("POST /cgi-bin/hash.cgi HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n" % len(data)).encode() + data)
        ok("tls: 2 MiB body streamed through TLS arrives intact", st and len(st) == 3 and st[0] == 200 and
           ("sha256=%s" % hashlib.sha256(data).hexdigest()).encode() in st[2], repr(st)[:300])
        data = os.urandom(1 << 20)
        st = tls_request(("POST /cgi-bin/wbr.cgi HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n" % len(data)).encode(), data)
        ok("tls: write-before-read completes", st and len(st) == 3 and st[0] == 200 and
           st[2].endswith(("sha256=%s\n" % hashlib.sha256(data).hexdigest()).encode()),
           repr(st)[:300])


def start_with_signals_ignored(s):
    """Start itkd with SIGUSR1, SIGUSR2 and (x86-64) glibc's own 32 and 33
    ignored, as a careless parent may leave them: the script must still
    see none ignored. SIG_IGN survives execve; the C library will not set
    32/33, so the raw system call does."""
    import ctypes
    import platform
    raw = []
    if platform.machine() == "x86_64":
        libc = ctypes.CDLL(None, use_errno=True)
        ign = (ctypes.c_ulong * 4)(1, 0, 0, 0)
        for sig in (32, 33):
            old = (ctypes.c_ulong * 4)()
            if libc.syscall(13, sig, ign, old, 8) == 0:   # rt_sigaction
                raw.append((sig, old))
    saved = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in (signal.SIGUSR1, signal.SIGUSR2)]
    try:
        s.start()
    finally:
        for sig, old in saved:
            signal.signal(sig, old)
        for sig, old in raw:
            libc.syscall(13, sig, old, None, 8)


def wildcard_listener():
    """`listen *:PORT`: the connection's local address is not the
    listener's (0.0.0.0), so the connection process asks the kernel; a
    bound address is passed down from the master instead. Both must give
    the script the same SERVER_PORT, and the peer its REMOTE_ADDR."""
    conf = two_vhost_conf(extra_a="cgi-dir /cgi-bin/\n").replace(
        "listen 127.0.0.1:{port}", "listen *:{port}")
    with Server(conf, name="cgiwild", start=False) as s:
        layout(s)
        s.start()
        st = request(s.port, b"GET /cgi-bin/env.cgi HTTP/1.1\r\nHost: a.test\r\n"
                     b"Connection: close\r\n\r\n")
        e = envmap(st[2]) if st else {}
        ok("wildcard listen: SERVER_PORT", e.get("SERVER_PORT") == str(s.port),
           repr(st)[:300])
        ok("wildcard listen: REMOTE_ADDR", e.get("REMOTE_ADDR") == "127.0.0.1",
           repr(e.get("REMOTE_ADDR")))
        # Without Host, a redirect names the address the client reached.
        st = request(s.port, b"GET /cgi-bin HTTP/1.0\r\n\r\n", head_only=True)
        ok("wildcard listen: Location names 127.0.0.1, not 0.0.0.0",
           st and st[0] == 301 and st[1].get("location") ==
           "http://127.0.0.1:%d/cgi-bin/" % s.port, repr(st)[:300])


def main():
    conf = two_vhost_conf(extra_a="cgi .cgi\ncgi .php %s\ncgi-dir /cgi-bin/\ncgi-timeout 2\n"
                                  "index index.html index.cgi" % PHP,
                          extra_b="cgi .sh /bin/sh\ncgi .bad /nonexistent/interpreter")
    with Server(conf, name="cgi", start=False) as s:
        root = layout(s)
        start_with_signals_ignored(s)
        meta(s, root)
        identity(s, root)
        bodies(s)
        answers(s)
        keepalive(s)
        big_then_more(s)
        failures(s)
        no_fd_leak(s)
        php(s)
        interpreters(s)
    over_tls()
    wildcard_listener()
    done()


main()
