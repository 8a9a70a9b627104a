"""tests/integration/test_browser.py: a real browser across two identities
(issue 5, item 10).

Headless Chromium (Debian's chromium) loads /~itkdb1/page.html, served as
uid tid(21), which embeds /~itkdb2/pic.png from the same origin, served as uid
tid(22). The browser keeps its connection alive; itkd closes it unanswered
when the next request wants another identity, and the browser must retry
on a new connection. A script in the page writes what the image became
into the DOM, which --dump-dom prints; Chromium's net log shows the
connections it used. Needs root (real users, uid switches); installs
chromium when it is missing, and skips when that fails.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import RANGES_99, tid, machine_lock, UID_USER, UID_A, Server, done, mkdir, need_root, ok, skip, write

need_root("browser")

USERS = {"itkdb1": tid(21), "itkdb2": tid(22)}     # uid = gid, a group each
SIZE = 64

CONF = ("""
listen 127.0.0.1:{port}
user #%d
group #%d
""" + RANGES_99 + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 10
keepalive-timeout 10

vhost u.test
root {dir}/vroot
user #%d
group #%d
userdir public_html
""") % (UID_USER, UID_USER, UID_A, UID_A)

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>itkd userdir</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; background: #fff; } img { display: block; }</style>
</head><body>
<img id="pic" src="/~itkdb2/pic.png" width="64" height="64" alt="pic">
<pre id="out">pending</pre>
<script>
function report(how) {
  var img = document.getElementById("pic");
  document.getElementById("out").textContent = JSON.stringify({
    how: how, complete: img.complete, naturalWidth: img.naturalWidth,
    naturalHeight: img.naturalHeight });
}
window.addEventListener("load", function () { report("load"); });
document.getElementById("pic").addEventListener("error", function () { report("error"); });
</script>
</body></html>
"""


def png(width, height, rgb):
    """A solid-colour RGB PNG, built by hand."""
    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xffffffff)
    row = b"\0" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def run(*argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def find_chromium():
    """The chromium binary, installed with apt when missing; None if that fails."""
    path = shutil.which("chromium")
    if path:
        return path
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    try:
        # Stale package lists are the usual failure: update once and retry.
        for argv in (install, ["apt-get", "update", "-qq"], install):
            r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
            if argv is install and r.returncode == 0:
                break
    except (OSError, subprocess.TimeoutExpired) as e:
        print("# apt-get: %s" % e)
        return None
    if r.returncode != 0:
        print("# apt-get install chromium failed: %s" % r.stderr.strip()[-300:])
    return shutil.which("chromium")




def remove_users():
    for name in USERS:
        run("userdel", name)
        run("groupdel", name)


def add_users(homes):
    remove_users()      # leftovers of a run that was killed
    for name, uid in USERS.items():
        for argv in (("groupadd", "-g", str(uid), name),
                     ("useradd", "-M", "-N", "-u", str(uid), "-g", str(uid), "-d",
                      os.path.join(homes, name), "-s", "/usr/sbin/nologin", name)):
            r = run(*argv)
            if r.returncode != 0:
                raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr))


def lay_out(d, pic):
    homes = mkdir(os.path.join(d, "home"))
    for name, uid in USERS.items():
        mkdir(os.path.join(homes, name), uid, uid, 0o700)
        mkdir(os.path.join(homes, name, "public_html"), uid, uid, 0o700)
    write(os.path.join(homes, "itkdb1", "public_html", "page.html"), PAGE, tid(21), tid(21), 0o600)
    write(os.path.join(homes, "itkdb2", "public_html", "pic.png"), pic, tid(22), tid(22), 0o600)
    vroot = mkdir(os.path.join(d, "vroot"), UID_A, UID_A, 0o700)
    write(os.path.join(vroot, "index.html"), "vhost\n", UID_A, UID_A, 0o600)
    return homes


profiles = []


def chromium(binary, srv, url, *extra):
    """Run headless Chromium once on url; (CompletedProcess, net log events)."""
    # Under /tmp, not the test dir: Chromium puts a unix socket in its
    # profile, and a socket path must fit in 108 bytes (a deep CI checkout
    # does not).
    profile = tempfile.mkdtemp(prefix="itkd-chr-", dir="/tmp")
    profiles.append(profile)
    netlog = os.path.join(srv.dir, "netlog-%d.json" % len(os.listdir(srv.dir)))
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-dev-shm-usage", "--user-data-dir=" + profile,
            # No name resolves and no traffic leaves 127.0.0.1 (the browser's
            # own update and account checks included).
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--no-proxy-server", "--no-pings", "--disable-domain-reliability",
            "--disable-client-side-phishing-detection", "--disable-default-apps",
            "--log-net-log=" + netlog, "--net-log-capture-mode=Default",
            "--virtual-time-budget=5000"] + list(extra) + [url]
    env = dict(os.environ, HOME=profile, TMPDIR=profile)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=90, env=env)
    try:
        with open(netlog) as f:
            text = f.read()
        # A log cut short (killed browser) lacks its closing brackets.
        try:
            log = json.loads(text)
        except ValueError:
            log = json.loads(text.rstrip().rstrip(",") + "]}")
    except (OSError, ValueError):
        log = {}
    return r, log


def netlog_summary(log, port):
    """From Chromium's net log: the addresses of every TCP connection it
    opened, how many went to port, and the URLs whose transaction was
    restarted after an error (a reused connection found closed)."""
    names = {v: k for k, v in log.get("constants", {}).get("logEventTypes", {}).items()}
    addrs, urls, restarted = [], {}, []
    for ev in log.get("events", []):
        kind = names.get(ev.get("type"))
        params = ev.get("params", {})
        src = ev.get("source", {}).get("id")
        if kind == "TCP_CONNECT" and ev.get("phase") == 1:
            addrs += params.get("address_list", [])
        elif kind == "URL_REQUEST_START_JOB" and "url" in params:
            urls[src] = params["url"]
        elif kind == "HTTP_TRANSACTION_RESTART_AFTER_ERROR":
            restarted.append((urls.get(src), params.get("net_error")))
    opened = sum(1 for a in addrs if a == "127.0.0.1:%d" % port)
    return addrs, opened, restarted


def red_at(path, x, y):
    """(r, g, b) of a pixel of an 8-bit RGB/RGBA non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        return None
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for i in range(y + 1):
        ftype, line = raw[i * (stride + 1)], bytearray(raw[i * (stride + 1) + 1:(i + 1) * (stride + 1)])
        for j in range(stride):
            a = line[j - bpp] if j >= bpp else 0
            b, c = prev[j], prev[j - bpp] if j >= bpp else 0
            if ftype == 1:
                line[j] = (line[j] + a) & 255
            elif ftype == 2:
                line[j] = (line[j] + b) & 255
            elif ftype == 3:
                line[j] = (line[j] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[j] = (line[j] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return tuple(rows[y][x * bpp:x * bpp + 3])


def main():
    binary = find_chromium()
    if binary is None:
        skip("browser", "chromium is not installed and apt-get could not install it")
        done()
    pic = png(SIZE, SIZE, (255, 0, 0))
    lock = machine_lock("browser")
    srv = Server(CONF, name="browser", start=False)
    try:
        homes = lay_out(srv.dir, pic)
        add_users(homes)
        srv.start()
        url = "http://127.0.0.1:%d/~itkdb1/page.html" % srv.port
        r, log = chromium(binary, srv, url, "--dump-dom")
        m = re.search(r'<pre id="out">([^<]*)</pre>', r.stdout)
        try:
            seen = json.loads(m.group(1).replace("&quot;", '"')) if m else {}
        except ValueError:
            seen = {}
        ok("chromium loaded the page of itkdb1 (its script ran)",
           seen.get("how") == "load", (r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
        ok("the image of itkdb2 loaded: complete, naturalWidth %d" % SIZE,
           seen.get("complete") is True and seen.get("naturalWidth") == SIZE and
           seen.get("naturalHeight") == SIZE, repr(seen))
        acc = srv.access()
        ok("access log: the page answered 200 with itkdb1's file (%d bytes)" % len(PAGE),
           re.search(r'"GET /~itkdb1/page\.html HTTP/1\.1" 200 %d ' % len(PAGE), acc), acc)
        ok("access log: the image answered 200 with itkdb2's file (%d bytes)" % len(pic),
           re.search(r'"GET /~itkdb2/pic\.png HTTP/1\.1" 200 %d ' % len(pic), acc), acc)
        addrs, opened, restarted = netlog_summary(log, srv.port)
        ok("net log: the browser connected to nothing but 127.0.0.1:%d" % srv.port,
           addrs and all(a == "127.0.0.1:%d" % srv.port for a in addrs), repr(addrs))
        ok("net log: the image went out on the page's kept-alive connection, found it "
           "closed (ERR_CONNECTION_CLOSED) and was retried on another",
           opened >= 2 and any(u and u.endswith("/~itkdb2/pic.png") for u, _ in restarted),
           repr((opened, restarted)))
        # The same page once more, drawn: the image's place must be red.
        shot = os.path.join(srv.dir, "shot.png")
        r, log = chromium(binary, srv, url, "--screenshot=" + shot, "--window-size=200,200",
                          "--hide-scrollbars")
        px = red_at(shot, 32, 32) if os.path.exists(shot) else None
        ok("screenshot: the middle of the image is red", px is not None and px[0] > 200 and
           px[1] < 60 and px[2] < 60, repr((px, r.returncode, r.stderr[-800:])))
        if os.environ.get("ITKD_SHOT"):
            shutil.copy(shot, os.environ["ITKD_SHOT"])
        acc = srv.access()
        ok("access log: nothing but the page and the image was answered 200 as a user",
           all(re.search(r'"GET /~itkdb[12]/(page\.html|pic\.png) HTTP/1\.1" 200 ', l)
               for l in acc.splitlines() if '" 200 ' in l), acc)
    finally:
        srv.cleanup()
        remove_users()
        for p in profiles:
            shutil.rmtree(p, ignore_errors=True)
        lock.close()
    done()


main()
