"""tests/integration/test_methods.py: what real applications send and expect.

- Any method token reaches a CGI program as REQUEST_METHOD with its body
  intact (PUT, DELETE, PATCH, OPTIONS, a made-up FROBNICATE), through raw
  sockets, curl and python's requests; a static resource answers GET and
  HEAD, OPTIONS with 204 and Allow, every other method with 405 and Allow;
  CONNECT, TRACE and over-long tokens are 501, a method that is no token
  400.
- A CORS preflight from headless Chromium: a page on one origin fetch()es
  a CGI API on another with a custom header; the browser sends OPTIONS,
  the script answers with Access-Control-Allow-*, and the real PUT follows.
- CGI response heads up to 64 KiB (three 3,000-byte cookies pass); over
  it, 502 and a log line that says so.
- The script's reason phrase goes out; a bare code gets RFC 9110's.
- cgi-env: a vhost's programs see its variables, another vhost's do not,
  and `itkd -t` refuses a meta-variable at file:line.
Needs root (uid switches)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (RANGES, ITKD, UID_A, UID_B, UID_USER, Server, connect, done, get, mkdir,  # noqa: E402
                      need_root, ok, parse, raw, read_response, recv_all, skip, wait_for,
                      write)

need_root("methods")

CONF = ("""
listen 127.0.0.1:{port}
user #%d
group #%d
""" + RANGES + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 10
keepalive-timeout 10

vhost a.test
root {dir}/a
user #%d
group #%d
cgi .cgi
cgi-env GITWEB_CONFIG /etc/gitweb.conf
cgi-env CGIT_CONFIG "/srv/cgit/cgitrc with blanks"
cgi-env PATH /opt/itkd-test/bin:/usr/bin:/bin
header X-Vhost a

vhost b.test
root {dir}/b
user #%d
group #%d
cgi .cgi
""") % (UID_USER, UID_USER, UID_A, UID_A, UID_B, UID_B)

# Echoes what it was given as JSON: the method, the body (hex), a few
# meta-variables. Answers a CORS preflight when asked with an Origin.
ECHO = r'''#!/usr/bin/python3
import json, os, sys
n = int(os.environ.get("CONTENT_LENGTH") or 0)
body = sys.stdin.buffer.read(n) if n else b""
keys = ("REQUEST_METHOD", "CONTENT_LENGTH", "CONTENT_TYPE", "QUERY_STRING",
        "HTTP_X_CUSTOM", "HTTP_ORIGIN", "HTTP_ACCESS_CONTROL_REQUEST_METHOD",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
out = {k: os.environ.get(k) for k in keys}
out["body"] = body.hex()
origin = os.environ.get("HTTP_ORIGIN")
w = sys.stdout.buffer.write
if os.environ.get("REQUEST_METHOD") == "OPTIONS" and origin and "nocors" not in os.environ.get("QUERY_STRING", ""):
    w(b"Status: 204 No Content\r\n")
    w(("Access-Control-Allow-Origin: %s\r\n" % origin).encode())
    w(b"Access-Control-Allow-Methods: GET, PUT, PATCH, DELETE, OPTIONS\r\n")
    w(b"Access-Control-Allow-Headers: X-Custom, Content-Type\r\n")
    w(b"Access-Control-Max-Age: 0\r\nVary: Origin\r\n\r\n")
    sys.exit(0)
w(b"Status: 201 Created\r\nContent-Type: application/json\r\n")
if origin and "nocors" not in os.environ.get("QUERY_STRING", ""):
    w(("Access-Control-Allow-Origin: %s\r\n" % origin).encode())
w(b"\r\n")
w(json.dumps(out).encode())
'''

# Status line from the query: "?422" or "?201%20Made%20It".
STATUS = r'''#!/usr/bin/python3
import os, sys, urllib.parse
q = urllib.parse.unquote_to_bytes(os.environ.get("QUERY_STRING", ""))
sys.stdout.buffer.write(b"Status: " + q + b"\r\nContent-Type: text/plain\r\n\r\nbody\n")
'''

# ?cookies: three 3,000-byte Set-Cookie (a PHP login); ?huge: a 70 KiB head;
# ?max: a head of 65,536 bytes exactly.
BIGHEAD = r'''#!/usr/bin/python3
import os, sys
q = os.environ.get("QUERY_STRING", "")
w = sys.stdout.buffer.write
head = b"Content-Type: text/plain\r\n"
if q == "cookies":
    for i in range(3):
        head += b"Set-Cookie: s%d=" % i + bytes([97 + i]) * 3000 + b"; Path=/; HttpOnly\r\n"
elif q == "huge":
    for i in range(24):
        head += b"X-Pad-%d: " % i + b"p" * 3000 + b"\r\n"
elif q == "max":
    pad = 65536 - len(head) - len(b"X-Fill: \r\n\r\n")
    head += b"X-Fill: " + b"f" * pad + b"\r\n"
w(head + b"\r\nbig head done\n")
'''

ENV = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\n"

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cors</title><link rel="icon" href="data:,"></head>
<body><pre id="out">pending</pre><pre id="neg">pending</pre>
<script>
var api = "http://a.test:%(port)d/api/echo.cgi";
function show(id, v) { document.getElementById(id).textContent = JSON.stringify(v); }
fetch(api + "?from=page", {method: "PUT", headers: {"X-Custom": "hello-cors",
      "Content-Type": "application/json"}, body: JSON.stringify({n: 42})})
  .then(function (r) { return r.json().then(function (j) {
      show("out", {status: r.status, statusText: r.statusText, json: j}); }); })
  .catch(function (e) { show("out", {error: String(e)}); })
  .then(function () {
    /* A script that does not answer the preflight: the browser must not
     * send the real request at all. */
    return fetch(api + "?nocors", {method: "PATCH", headers: {"X-Custom": "no"}, body: "x"})
      .then(function (r) { show("neg", {status: r.status}); })
      .catch(function (e) { show("neg", {error: String(e)}); });
  });
</script></body></html>
"""


def lay_out(srv):
    a = mkdir(os.path.join(srv.dir, "a"), UID_A, UID_A, 0o755)
    write(os.path.join(a, "index.html"), "<h1>a</h1>\n", UID_A, UID_A, 0o644)
    api = mkdir(os.path.join(a, "api"), UID_A, UID_A, 0o755)
    for name, text in (("echo.cgi", ECHO), ("status.cgi", STATUS),
                       ("bighead.cgi", BIGHEAD), ("env.cgi", ENV)):
        write(os.path.join(api, name), text, UID_A, UID_A, 0o755)
    b = mkdir(os.path.join(srv.dir, "b"), UID_B, UID_B, 0o755)
    write(os.path.join(b, "page.html"), PAGE % {"port": srv.port}, UID_B, UID_B, 0o644)
    write(os.path.join(b, "env.cgi"), ENV, UID_B, UID_B, 0o755)


def request(port, data, head_only=False):
    r = parse(raw(port, data, 10, shut=False), head_only=head_only)
    return r[0] if r else None


def status_line(port, path, host="a.test", method="GET"):
    data = raw(port, ("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                      (method, path, host)).encode(), 10, shut=False)
    return data.split(b"\r\n", 1)[0].decode("latin-1"), data


def echo_json(st):
    try:
        return json.loads(st[2]) if st else {}
    except ValueError:
        return {}


def cgi_methods_raw(srv):
    body = bytes(range(256)) + b"\r\n\r\nGET / HTTP/1.1\r\n"   # nothing in it is framing
    for m in ("PUT", "DELETE", "PATCH", "OPTIONS", "FROBNICATE", "PROPFIND", "get"):
        st = request(srv.port, ("%s /api/echo.cgi?q=1 HTTP/1.1\r\nHost: a.test\r\n"
                                "Content-Type: application/octet-stream\r\n"
                                "Content-Length: %d\r\nConnection: close\r\n\r\n" %
                                (m, len(body))).encode() + body)
        j = echo_json(st)
        ok("raw %s: reaches the script as REQUEST_METHOD=%s, body intact" % (m, m),
           st and st[0] == 201 and j.get("REQUEST_METHOD") == m and
           j.get("body") == body.hex() and j.get("CONTENT_LENGTH") == str(len(body)) and
           j.get("CONTENT_TYPE") == "application/octet-stream" and j.get("QUERY_STRING") == "q=1",
           repr(st)[:300])
    # A chunked PUT: decoded, CONTENT_LENGTH set (as for POST).
    data = os.urandom(70000)
    chunked = b"".join(b"%x\r\n" % len(data[i:i + 9999]) + data[i:i + 9999] + b"\r\n"
                       for i in range(0, len(data), 9999)) + b"0\r\n\r\n"
    st = request(srv.port, b"PUT /api/echo.cgi HTTP/1.1\r\nHost: a.test\r\n"
                 b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    j = echo_json(st)
    ok("raw chunked PUT: 70000 bytes decoded, CONTENT_LENGTH=70000",
       j.get("REQUEST_METHOD") == "PUT" and j.get("body") == data.hex() and
       j.get("CONTENT_LENGTH") == "70000", repr(st)[:200])
    # DELETE without a body, and several methods on one kept-alive connection.
    c = connect(srv.port, 10)
    seen = []
    try:
        for m, b in (("DELETE", b""), ("FROBNICATE", b"abc"), ("PATCH", b"p" * 5000), ("GET", b"")):
            c.sendall(("%s /api/echo.cgi HTTP/1.1\r\nHost: a.test\r\n%s\r\n" %
                       (m, "Content-Length: %d\r\n" % len(b) if b else "")).encode() + b)
            r = parse(read_until_chunked_end(c))
            j = echo_json(r[0]) if r else {}
            seen.append((m, j.get("REQUEST_METHOD"), j.get("body") == b.hex()))
    finally:
        c.close()
    ok("keep-alive: DELETE, FROBNICATE, PATCH, GET in turn on one connection",
       seen == [("DELETE", "DELETE", True), ("FROBNICATE", "FROBNICATE", True),
                ("PATCH", "PATCH", True), ("GET", "GET", True)], repr(seen))
    acc = srv.access()
    for m in ("PUT", "DELETE", "PATCH", "OPTIONS", "FROBNICATE"):
        ok("access log names %s" % m, '"%s /api/echo.cgi' % m in acc and
           re.search(r'"%s /api/echo\.cgi[^"]*" 201 ' % m, acc), acc[-500:])


def read_until_chunked_end(c):
    """One chunked (or Content-Length) response off a kept-alive socket."""
    c.settimeout(10)
    data = b""
    while True:
        if b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            if b"chunked" in head.lower() and rest.endswith(b"0\r\n\r\n"):
                return data
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if m and len(rest) >= int(m.group(1)):
                return data
        b = c.recv(65536)
        if not b:
            return data
        data += b


def cgi_methods_curl(srv):
    url = "http://127.0.0.1:%d/api/echo.cgi" % srv.port
    for m in ("PUT", "DELETE", "PATCH", "OPTIONS", "FROBNICATE"):
        r = subprocess.run(["curl", "-sS", "-X", m, "-H", "Host: a.test", "-H",
                            "X-Custom: c-%s" % m, "-H", "Content-Type: text/plain",
                            "--data-binary", "curl body of %s" % m, url],
                           capture_output=True, timeout=30)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            j = {}
        ok("curl -X %s: REQUEST_METHOD, HTTP_X_CUSTOM and body arrive" % m,
           j.get("REQUEST_METHOD") == m and j.get("HTTP_X_CUSTOM") == "c-%s" % m and
           bytes.fromhex(j.get("body", "")) == ("curl body of %s" % m).encode(),
           repr((r.returncode, r.stdout[:200], r.stderr[:200])))
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %header{allow}",
                        "-X", "OPTIONS", "-H", "Host: a.test",
                        "http://127.0.0.1:%d/index.html" % srv.port],
                       capture_output=True, text=True, timeout=30)
    ok("curl -X OPTIONS on a static file: 204, Allow: GET, HEAD, OPTIONS",
       r.stdout.strip() == "204 GET, HEAD, OPTIONS", repr((r.stdout, r.stderr)))


def cgi_methods_requests(srv):
    try:
        import requests
    except ImportError:
        skip("requests", "python3-requests is not installed")
        return
    s = requests.Session()
    base = "http://127.0.0.1:%d" % srv.port
    h = {"Host": "a.test", "X-Custom": "py"}
    calls = (("PUT", s.put), ("PATCH", s.patch), ("DELETE", s.delete),
             ("OPTIONS", s.options))
    for m, fn in calls:
        r = fn(base + "/api/echo.cgi", headers=h, data=b"requests \x00\xff " + m.encode(),
               timeout=10)
        j = r.json() if r.status_code == 201 else {}
        ok("requests.%s: 201 Created, REQUEST_METHOD and body intact" % m.lower(),
           r.status_code == 201 and r.reason == "Created" and j.get("REQUEST_METHOD") == m and
           bytes.fromhex(j.get("body", "")) == b"requests \x00\xff " + m.encode(),
           repr((r.status_code, r.reason, r.text[:200])))
    r = s.request("FROBNICATE", base + "/api/echo.cgi", headers=h, json={"k": [1, 2]},
                  timeout=10)
    j = r.json() if r.status_code == 201 else {}
    ok("requests FROBNICATE with a JSON body",
       j.get("REQUEST_METHOD") == "FROBNICATE" and
       json.loads(bytes.fromhex(j.get("body", ""))) == {"k": [1, 2]} and
       j.get("CONTENT_TYPE") == "application/json", repr((r.status_code, r.text[:200])))
    r = s.put(base + "/index.html", headers={"Host": "a.test"}, data=b"x" * 1000, timeout=10)
    ok("requests.put on a static file: 405, Allow: GET, HEAD, OPTIONS",
       r.status_code == 405 and r.headers.get("Allow") == "GET, HEAD, OPTIONS",
       repr((r.status_code, dict(r.headers))))
    r = s.get(base + "/index.html", headers={"Host": "a.test"}, timeout=10)
    ok("requests: the same session goes on after the 405 (body drained)",
       r.status_code == 200 and r.text == "<h1>a</h1>\n", repr((r.status_code, r.text[:100])))
    s.close()


def static_methods(srv):
    for m in ("PUT", "DELETE", "PATCH", "POST", "FROBNICATE", "PROPFIND"):
        st = request(srv.port, ("%s /index.html HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\n"
                                "Connection: close\r\n\r\nbody" % m).encode())
        ok("static %s: 405 with Allow: GET, HEAD, OPTIONS" % m,
           st and st[0] == 405 and st[1].get("allow") == "GET, HEAD, OPTIONS", repr(st)[:300])
    st = request(srv.port, b"OPTIONS /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    ok("static OPTIONS: 204, Allow, the vhost's header, no body",
       st and st[0] == 204 and st[1].get("allow") == "GET, HEAD, OPTIONS" and
       st[1].get("x-vhost") == "a" and st[2] == b"" and "content-length" not in st[1], repr(st))
    st = request(srv.port, b"OPTIONS / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    ok("static OPTIONS on a directory: 204 with Allow", st and st[0] == 204 and
       st[1].get("allow") == "GET, HEAD, OPTIONS", repr(st))
    st = request(srv.port, b"OPTIONS /nothing-here HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    ok("static OPTIONS on a missing file: 404", st and st[0] == 404, repr(st))
    # A body sent with a 405 is drained: the pipelined GET behind it is answered.
    data = raw(srv.port, b"DELETE /index.html HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\n"
               b"abcdeGET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    r = parse(data)
    ok("static 405 then a pipelined GET on the same connection",
       [x[0] for x in r] == [405, 200] and r[1][2] == b"<h1>a</h1>\n", repr(data[:400]))
    for line, want in ((b"TRACE / HTTP/1.1", 501), (b"CONNECT a.test:443 HTTP/1.1", 501),
                       (b"X" * 33 + b" / HTTP/1.1", 501), (b"G(T / HTTP/1.1", 400),
                       (b"GE\x01T / HTTP/1.1", 400), (b"OPTIONS * HTTP/1.1", 501)):
        st = request(srv.port, line + b"\r\nHost: a.test\r\n\r\n")
        ok("%r: %d" % (line[:40], want), st and st[0] == want, repr(st)[:200])
    st = request(srv.port, b"X" * 32 + b" /api/echo.cgi HTTP/1.1\r\nHost: a.test\r\n"
                 b"Connection: close\r\n\r\n")
    j = echo_json(st)
    ok("a 32-byte method token still reaches the script",
       j.get("REQUEST_METHOD") == "X" * 32, repr(st)[:200])


def reasons(srv):
    for q, want in (("201%20Created", "201 Created"), ("202%20Accepted", "202 Accepted"),
                    ("401%20Unauthorized", "401 Unauthorized"), ("409%20Conflict", "409 Conflict"),
                    ("410%20Gone", "410 Gone"), ("422%20Unprocessable%20Entity", "422 Unprocessable Entity"),
                    ("429%20Slow%20Down%20Please", "429 Slow Down Please"),
                    ("299%20Custom%20Thing", "299 Custom Thing"),
                    ("599%20Network%20Whatever", "599 Network Whatever"),
                    ("200%20Tr%C3%A8s%20bien", "200 Tr\xc3\xa8s bien")):  # obs-text
        line, _ = status_line(srv.port, "/api/status.cgi?" + q)
        ok("the script's phrase goes out: %s" % want, line == "HTTP/1.1 " + want, repr(line))
    for q, want in (("201", "201 Created"), ("202", "202 Accepted"), ("401", "401 Unauthorized"),
                    ("409", "409 Conflict"), ("410", "410 Gone"),
                    ("422", "422 Unprocessable Content"), ("429", "429 Too Many Requests"),
                    ("201%20", "201 Created")):
        line, _ = status_line(srv.port, "/api/status.cgi?" + q)
        ok("a bare Status %s gets RFC 9110's phrase: %s" % (q, want), line == "HTTP/1.1 " + want,
           repr(line))
    line, _ = status_line(srv.port, "/api/status.cgi?299")
    ok("an unknown code without a phrase: an empty phrase", line == "HTTP/1.1 299 ", repr(line))
    line, data = status_line(srv.port, "/api/status.cgi?201%20Cre%01ated")
    ok("a control byte in the phrase: 502", line.startswith("HTTP/1.1 502 Bad Gateway"),
       repr(data[:200]))
    line, data = status_line(srv.port, "/api/status.cgi?201%20" + "r" * 200)
    ok("a phrase over 128 bytes: RFC 9110's instead", line == "HTTP/1.1 201 Created",
       repr(data[:200]))
    ok("error log names the control byte", wait_for(
        lambda: "status.cgi: CGI response head refused: a control byte in a field value"
        in srv.log()), srv.log()[-600:])


def big_heads(srv):
    data = raw(srv.port, b"GET /api/bighead.cgi?cookies HTTP/1.1\r\nHost: a.test\r\n"
               b"Connection: close\r\n\r\n", 10, shut=False)
    r = parse(data)
    st = r[0] if r else None
    cookies = re.findall(rb"\r\nSet-Cookie: (s\d)=([abc]+); Path=/; HttpOnly", data)
    ok("three 3,000-byte Set-Cookie (%d bytes of head): 200, all three passed" %
       data.find(b"\r\n\r\n"), st and st[0] == 200 and st[2] == b"big head done\n" and
       [(n, len(v)) for n, v in cookies] == [(b"s0", 3000), (b"s1", 3000), (b"s2", 3000)],
       repr(data[:200]))
    try:
        import requests
        r = requests.get("http://127.0.0.1:%d/api/bighead.cgi?cookies" % srv.port,
                         headers={"Host": "a.test"}, timeout=10)
        ok("requests sees the three cookies", r.status_code == 200 and
           sorted(r.cookies.keys()) == ["s0", "s1", "s2"] and len(r.cookies["s2"]) == 3000,
           repr((r.status_code, list(r.cookies.keys()))))
    except ImportError:
        skip("requests cookies", "python3-requests is not installed")
    st = request(srv.port, b"GET /api/bighead.cgi?max HTTP/1.1\r\nHost: a.test\r\n"
                 b"Connection: close\r\n\r\n")
    ok("a head of 65,536 bytes exactly: 200", st and st[0] == 200 and
       len(st[1].get("x-fill", "")) > 65000 and st[2] == b"big head done\n",
       repr(st and (st[0], st[2][:100])))
    st = request(srv.port, b"GET /api/bighead.cgi?huge HTTP/1.1\r\nHost: a.test\r\n"
                 b"Connection: close\r\n\r\n")
    ok("a 70 KiB head: 502", st and st[0] == 502, repr(st)[:200])
    ok("error log: 'CGI response head over 64 KiB'", wait_for(
        lambda: re.search(r"bighead\.cgi: CGI response head over 64 KiB", srv.log())),
       srv.log()[-600:])


def cgi_env(srv):
    st = get(srv.port, "/api/env.cgi", "a.test")
    e = dict(l.split("=", 1) for l in st[2].decode().splitlines() if "=" in l) if st else {}
    ok("cgi-env: GITWEB_CONFIG reaches the script", e.get("GITWEB_CONFIG") == "/etc/gitweb.conf",
       repr(e))
    ok("cgi-env: a quoted value with blanks", e.get("CGIT_CONFIG") == "/srv/cgit/cgitrc with blanks",
       repr(e.get("CGIT_CONFIG")))
    ok("cgi-env: PATH replaces itkd's default", e.get("PATH") == "/opt/itkd-test/bin:/usr/bin:/bin",
       repr(e.get("PATH")))
    ok("cgi-env: the meta-variables are still itkd's", e.get("REQUEST_METHOD") == "GET" and
       e.get("SCRIPT_NAME") == "/api/env.cgi", repr(e))
    st = get(srv.port, "/env.cgi", "b.test")
    e = dict(l.split("=", 1) for l in st[2].decode().splitlines() if "=" in l) if st else {}
    ok("cgi-env: another vhost's program sees none of it, and the default PATH",
       st and st[0] == 200 and "GITWEB_CONFIG" not in e and
       e.get("PATH") == "/usr/local/bin:/usr/bin:/bin", repr(e))


def config_check():
    d = tempfile.mkdtemp(prefix="itkd-methods-t-")
    try:
        for name, line in (("REQUEST_METHOD", "cgi-env REQUEST_METHOD GET"),
                           ("HTTP_PROXY", "cgi-env HTTP_PROXY http://evil:8080/"),
                           ("QUERY_STRING", "cgi-env QUERY_STRING a=1")):
            conf = os.path.join(d, "itkd.conf")
            with open(conf, "w") as f:
                f.write(CONF.replace("{dir}", d).replace("{port}", "1") + line + "\n")
            nline = (CONF + line).count("\n") + 1
            r = subprocess.run([ITKD, "-t", "-c", conf], capture_output=True, text=True, timeout=10)
            want = "%s:%d: cgi-env: '%s' is a CGI meta-variable" % (conf, nline, name)
            ok("itkd -t refuses cgi-env %s at file:line" % name,
               r.returncode == 1 and want in r.stderr, repr((r.returncode, r.stderr, want)))
        conf = os.path.join(d, "itkd.conf")
        with open(conf, "w") as f:
            f.write(CONF.replace("{dir}", d).replace("{port}", "1") + "cgi-env A=B x\n")
        r = subprocess.run([ITKD, "-t", "-c", conf], capture_output=True, text=True, timeout=10)
        ok("itkd -t refuses a name with '='", r.returncode == 1 and
           "cgi-env: 'A=B' is not a variable name" in r.stderr, repr(r.stderr))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- the browser ----------------------------------------------------------

def find_chromium():
    """The chromium binary, installed with apt when missing; None if that fails."""
    path = shutil.which("chromium")
    if path:
        return path
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    try:
        for argv in (install, ["apt-get", "update", "-qq"], install):
            r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
            if argv is install and r.returncode == 0:
                break
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shutil.which("chromium")


def cors_preflight(srv):
    binary = find_chromium()
    if binary is None:
        skip("cors preflight", "chromium is not installed and apt-get could not install it")
        return
    profile = tempfile.mkdtemp(prefix="itkd-chr-", dir="/tmp")
    try:
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                # Two origins, both on 127.0.0.1; no other name resolves.
                "--host-resolver-rules=MAP a.test 127.0.0.1, MAP b.test 127.0.0.1, "
                "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--no-proxy-server", "--no-pings", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--disable-default-apps",
                "--virtual-time-budget=10000", "--dump-dom",
                "http://b.test:%d/page.html" % srv.port]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, HOME=profile, TMPDIR=profile))
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    def dom(pid):
        m = re.search(r'<pre id="%s">([^<]*)</pre>' % pid, r.stdout)
        try:
            return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")) if m else {}
        except ValueError:
            return {}
    out, neg = dom("out"), dom("neg")
    j = out.get("json", {})
    ok("chromium: the cross-origin PUT succeeded after its preflight: 201 Created",
       out.get("status") == 201 and out.get("statusText") == "Created",
       repr((out, r.returncode, r.stderr[-800:])))
    ok("chromium: the script got PUT, X-Custom, the Origin and the JSON body",
       j.get("REQUEST_METHOD") == "PUT" and j.get("HTTP_X_CUSTOM") == "hello-cors" and
       j.get("HTTP_ORIGIN") == "http://b.test:%d" % srv.port and
       json.loads(bytes.fromhex(j.get("body", "")) or b"{}") == {"n": 42}, repr(j))
    ok("chromium: without Access-Control-Allow-* the fetch fails",
       "error" in neg, repr(neg))
    acc = srv.access()
    ok("access log: OPTIONS (the preflight) 204, then PUT 201",
       re.search(r'"OPTIONS /api/echo\.cgi\?from=page HTTP/1\.1" 204 ', acc) and
       re.search(r'"PUT /api/echo\.cgi\?from=page HTTP/1\.1" 201 ', acc) and
       acc.index('"OPTIONS /api/echo.cgi?from=page') < acc.index('"PUT /api/echo.cgi?from=page'),
       acc[-1500:])
    ok("access log: the refused preflight was not followed by the PATCH",
       re.search(r'"OPTIONS /api/echo\.cgi\?nocors HTTP/1\.1" 201 ', acc) and
       '"PATCH /api/echo.cgi?nocors' not in acc, acc[-1500:])


def main():
    srv = Server(CONF, name="methods", start=False)
    try:
        lay_out(srv)
        srv.start()
        cgi_methods_raw(srv)
        cgi_methods_curl(srv)
        cgi_methods_requests(srv)
        static_methods(srv)
        reasons(srv)
        big_heads(srv)
        cgi_env(srv)
        config_check()
        cors_preflight(srv)
    finally:
        srv.cleanup()
    done()


main()
