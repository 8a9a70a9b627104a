"""tests/integration/test_syslog.py: `error-log syslog` and `access-log
syslog` send what musl's syslog(3) sent: one datagram per line to
/dev/log, "<PRI>Mmm dd hh:mm:ss itkd[PID]: line", facility daemon, the
time in UTC; from the master, a served process and a gatekeeper (which
answers a bad request itself), before and after a reload. The test is
the logger: it binds /dev/log, and skips where a system logger has it.
"""
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (RANGES, UID_A, UID_USER, Server, done, get, mkdir, need_root, ok, raw,  # noqa: E402
                      skip, wait_for, write)

need_root("syslog")

DEVLOG = "/dev/log"
LINE = re.compile(r"^<(\d+)>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                  r"([ 123]\d) (\d\d):(\d\d):(\d\d) itkd\[(\d+)\]: (.*)\n$", re.S)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
LOG_DAEMON, LOG_ERR, LOG_INFO = 3 << 3, 3, 6

CONF = """
listen 127.0.0.1:{port}
user #%d
group #%d
""" % (UID_USER, UID_USER) + RANGES + """error-log syslog
access-log syslog
timeout 5
vhost a.test
root {dir}/a
user #%d
group #%d
""" % (UID_A, UID_A)


def drain(sock, want, seconds=5.0):
    """Datagrams until one matches want (a function of the text) or the
    time is up: (all received, the match or None)."""
    got, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            d = sock.recv(65536).decode(errors="replace")
        except socket.timeout:
            break
        got.append(d)
        if want(d):
            return got, d
    return got, None


def utc_now_ok(m):
    """The stamp is within a minute of the UTC time now."""
    t = time.gmtime()
    stamp = (MONTHS.index(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))
    now = (t.tm_mon - 1, t.tm_mday, t.tm_hour, t.tm_min)
    earlier = time.gmtime(time.time() - 60)
    before = (earlier.tm_mon - 1, earlier.tm_mday, earlier.tm_hour, earlier.tm_min)
    return stamp in (now, before)


def main():
    if os.path.exists(DEVLOG):
        skip("syslog", "%s exists (a system logger's): the test would take its messages" % DEVLOG)
        done()
    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log.bind(DEVLOG)
    srv = None
    try:
        os.chmod(DEVLOG, 0o666)
        srv = Server(CONF, name="syslog", start=False)
        root = mkdir(os.path.join(srv.dir, "a"), UID_A, UID_A, 0o700)
        write(os.path.join(root, "index.html"), "<h1>a</h1>\n", UID_A, UID_A, 0o600)
        srv.start()

        r = get(srv.port, "/")
        ok("syslog: the page", r is not None and r[0] == 200, r)
        got, line = drain(log, lambda d: "GET / HTTP/1.1" in d)
        m = LINE.match(line or "")
        ok("syslog: the access line, in syslog's form", m is not None, got[-3:])
        if m:
            ok("syslog: daemon.info", int(m.group(1)) == LOG_DAEMON | LOG_INFO, m.group(1))
            ok("syslog: the time in UTC", utc_now_ok(m), m.group(0)[:40])
            ok("syslog: the served process's pid",
               int(m.group(7)) not in (srv.proc.pid, os.getpid()), m.group(7))
            ok("syslog: the line, status and all", ' 200 ' in m.group(8), m.group(8))

        # A request the gatekeeper answers (400) and logs itself.
        raw(srv.port, b"GET / HTTP/1.1\r\nHost: a.test\r\nBad header\r\n\r\n")
        got, line = drain(log, lambda d: '" 400 ' in d)
        ok("syslog: the gatekeeper's line for its 400", LINE.match(line or "") is not None,
           got[-3:])

        # After a reload, still there; the reload's own notice is an error-log line.
        os.kill(srv.proc.pid, signal.SIGHUP)
        wait_for(lambda: get(srv.port, "/") is not None, 5)
        got, line = drain(log, lambda d: "GET / HTTP/1.1" in d)
        ok("syslog: after a reload, still logged", LINE.match(line or "") is not None, got[-3:])

        # An error-log line: a request for a path whose root is gone.
        os.rename(root, root + ".gone")
        get(srv.port, "/")
        got, line = drain(log, lambda d: d.startswith("<%d>" % (LOG_DAEMON | LOG_ERR)))
        m = LINE.match(line or "")
        ok("syslog: an error line, daemon.err, with its vhost", m is not None and
           "[a.test]" in m.group(8), got[-3:])
        os.rename(root + ".gone", root)
    finally:
        if srv is not None:
            srv.stop()
        log.close()
        os.unlink(DEVLOG)
    done()


main()
