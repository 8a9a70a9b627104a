"""The service files of contrib/ (issue 7 item 4), run as far as this machine
allows: the systemd unit's capability bounding set is enough for itkd and
CAP_SYS_ADMIN in it is needed (setpriv applies the same set); the unit
parses with itkd.socket (systemd-analyze verify), and the socket unit's
ports, handed over as systemd does, are served, TLS by port; the OpenWrt
init script's start_service hands procd a command that serves, and refuses
a broken config; the inetd and xinetd examples' command lines serve plain
and TLS connections handed to them on standard input. The Dockerfile is run
in test_static_build.py, next to the static binary it copies."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (ITKD, TOP, UID_A, UID_B, UID_USER, Server, done, free_port,  # noqa: E402
                      get, need_root, ok, skip, two_vhost_conf, two_vhost_roots)

need_root("contrib")

CONTRIB = os.path.join(TOP, "contrib")


def unit_lines():
    with open(os.path.join(CONTRIB, "itkd.service")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def unit_value(key):
    vals = [l.split("=", 1)[1] for l in unit_lines() if l.split("=", 1)[0] == key]
    return vals[-1] if vals else None


def run_bounded(caps, nnp, s):
    """Start s's itkd under setpriv with exactly this bounding set, as
    systemd would; return (served, log)."""
    cmd = ["setpriv", "--bounding-set", "-all," + ",".join("+" + c for c in caps)]
    if nnp:
        cmd.append("--no-new-privs")
    cmd += [ITKD, "-f", "-c", s.conf]
    with open(os.path.join(s.dir, "stderr.txt"), "wb") as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    s.proc = p
    s.stderr = open(os.path.join(s.dir, "stderr.txt"), "rb")
    try:
        s.wait_port(s.port)
        st = get(s.port, "/secret.txt", "a.test")
        return st is not None and st[0] == 200 and st[2] == b"secret of a\n", s.log()
    except RuntimeError as e:
        return False, str(e)
    finally:
        s.stop()


def systemd_unit():
    lines = unit_lines()
    ok("unit: Type=simple, ExecStart runs itkd -f",
       unit_value("Type") == "simple" and re.search(r"/itkd -f\b", unit_value("ExecStart") or ""),
       repr((unit_value("Type"), unit_value("ExecStart"))))
    ok("unit: ExecReload sends SIGHUP", "-HUP" in (unit_value("ExecReload") or ""),
       repr(unit_value("ExecReload")))
    ok("unit: no NoNewPrivileges=yes (itkd sets it per vhost)",
       not any(re.match(r"NoNewPrivileges\s*=\s*(yes|true|1)", l) for l in lines), "")
    caps = [c.lower().replace("cap_", "") for c in (unit_value("CapabilityBoundingSet") or "").split()]
    ok("unit: a CapabilityBoundingSet", len(caps) >= 3, repr(caps))
    with Server(two_vhost_conf(), name="unitcaps", start=False) as s:
        two_vhost_roots(s.dir)
        served, log = run_bounded(caps, False, s)
        ok("unit: itkd serves with exactly the unit's bounding set %s" % ",".join(caps),
           served, log[-800:])
    if "sys_admin" in caps:
        without = [c for c in caps if c != "sys_admin"]
        with Server(two_vhost_conf(), name="unitnoadm", start=False) as s:
            two_vhost_roots(s.dir)
            served, log = run_bounded(without, False, s)
            ok("unit: without CAP_SYS_ADMIN (and no no_new_privs) itkd refuses to start",
               not served and "PR_SET_SECCOMP" in log, log[-800:])
        with Server(two_vhost_conf(), name="unitnnp", start=False) as s:
            two_vhost_roots(s.dir)
            served, log = run_bounded(without, True, s)
            ok("unit: ... and with no_new_privs instead it serves (the documented trade)",
               served, log[-800:])
    if shutil.which("systemd-analyze") is None:
        skip("unit: systemd-analyze verify", "systemd-analyze not installed")
        return
    d = tempfile.mkdtemp(prefix="itkd-unit-", dir=os.path.join(TOP, "tests", "tmp"))
    try:
        with open(os.path.join(CONTRIB, "itkd.service")) as f:
            text = f.read()
        # The installed paths are not here: point them at this build, and
        # leave out the man: links, which verify looks up.
        text = text.replace("/usr/sbin/itkd", ITKD)
        text = re.sub(r"^Documentation=.*$", "", text, flags=re.M)
        path = os.path.join(d, "itkd.service")
        with open(path, "w") as f:
            f.write(text)
        with open(os.path.join(CONTRIB, "itkd.socket")) as f:
            text = re.sub(r"^Documentation=.*$", "", f.read(), flags=re.M)
        with open(os.path.join(d, "itkd.socket"), "w") as f:
            f.write(text)
        r = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "itkd.socket"), path],
                           capture_output=True)
        out = (r.stdout + r.stderr).decode(errors="replace")
        ok("unit: systemd-analyze verify finds nothing in itkd.service and itkd.socket",
           r.returncode == 0 and out.strip() == "", out[-1000:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def openwrt():
    init = os.path.join(CONTRIB, "openwrt", "itkd.init")
    with open(init) as f:
        first = f.readline()
    ok("openwrt: runs through /etc/rc.common with USE_PROCD=1",
       first.startswith("#!/bin/sh /etc/rc.common") and "USE_PROCD=1" in open(init).read(), first)
    # procd's helpers, recorded instead of sent to procd.
    stubs = r'''
procd_open_instance() { echo "open" >> "$REC"; }
procd_set_param() { echo "param $*" >> "$REC"; }
procd_close_instance() { echo "close" >> "$REC"; }
procd_send_signal() { echo "signal $*" >> "$REC"; }
logger() { echo "logger $*" >> "$REC"; }
. "$INIT"
PROG=$ITKD_BIN
CONF=$CONF_FILE
"$@"
'''
    with Server(two_vhost_conf(), name="owrt", start=False) as s:
        two_vhost_roots(s.dir)
        rec = os.path.join(s.dir, "procd.txt")
        env = dict(os.environ, REC=rec, INIT=init, ITKD_BIN=ITKD, CONF_FILE=s.conf)
        r = subprocess.run(["sh", "-c", stubs, "sh", "start_service"], env=env,
                           capture_output=True)
        rec_text = open(rec).read() if os.path.exists(rec) else ""
        m = re.search(r"^param command (.*)$", rec_text, re.M)
        ok("openwrt: start_service opens one instance with a command",
           r.returncode == 0 and m and rec_text.count("open") == 1 and "close" in rec_text,
           repr((r, rec_text)))
        ok("openwrt: respawn and stderr to logd",
           "param respawn" in rec_text and "param stderr 1" in rec_text, rec_text)
        if m:
            argv = m.group(1).split()
            ok("openwrt: the command is itkd -f -c CONF",
               argv == [ITKD, "-f", "-c", s.conf], repr(argv))
            s.extra_args = []
            s.start()           # the same command line, as procd would run it
            st = get(s.port, "/secret.txt", "b.test")
            ok("openwrt: that command serves", st and st[0] == 200 and
               st[2] == b"secret of b\n", repr(st))
            s.stop()
        r = subprocess.run(["sh", "-c", stubs, "sh", "reload_service"], env=env,
                           capture_output=True)
        ok("openwrt: reload_service sends SIGHUP", "signal itkd * HUP" in open(rec).read(),
           open(rec).read())
        os.unlink(rec)
        with open(s.conf, "a") as f:
            f.write("rot 13\n")
        r = subprocess.run(["sh", "-c", stubs, "sh", "start_service"], env=env,
                           capture_output=True)
        rec_text = open(rec).read() if os.path.exists(rec) else ""
        ok("openwrt: a broken config is refused, logged with file:line",
           r.returncode != 0 and "open" not in rec_text and
           re.search(r"logger .*itkd\.conf:\d+: .*rot", rec_text), repr((r, rec_text)))


def make_cert(d):
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=a.test", "-addext",
                    "subjectAltName=DNS:a.test,DNS:b.test"], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def inetd_argv(conf):
    """The argv of the example's active lines: (args after the program)."""
    out = []
    with open(os.path.join(CONTRIB, "inetd.conf")) as f:
        for line in f:
            w = line.split()
            if w and not w[0].startswith("#"):
                out.append((w[0], w[5], w[6:]))
    return out


def xinetd_argv():
    with open(os.path.join(CONTRIB, "xinetd.itkd")) as f:
        text = f.read()
    blocks = re.findall(r"service\s+(\S+)\s*\{(.*?)\}", text, re.S)
    out = []
    for name, body in blocks:
        kv = dict((m.group(1), m.group(2).strip()) for m in
                  re.finditer(r"^\s*(\w+)\s*\+?=\s*(.*)$", body, re.M))
        out.append((name, kv))
    return out


class Inetd:
    """What inetd does: accept on a port, run argv with the socket on stdin
    and stdout, do not wait."""

    def __init__(self, port, argv):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.argv = argv
        self.procs = []
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            p = subprocess.Popen(self.argv, stdin=c.fileno(), stdout=c.fileno(),
                                 stderr=subprocess.PIPE)
            c.close()
            self.procs.append(p)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)   # wakes the accept()
        except OSError:
            pass
        self.sock.close()
        self.t.join(5)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        return self.procs


def inetd():
    lines = inetd_argv(None)
    ok("inetd.conf: active lines for http and https",
       sorted(n for n, _, _ in lines) == ["http", "https"], repr(lines))
    xin = xinetd_argv()
    ok("xinetd: services for 80 and 443 with server_args -i",
       sorted(kv.get("port") for _, kv in xin) == ["443", "80"] and
       all("-i" in kv.get("server_args", "").split() and kv.get("wait") == "no" and
           kv.get("user") == "root" for _, kv in xin), repr(xin))
    port, tlsport = free_port(), free_port()
    conf = two_vhost_conf().replace("listen 127.0.0.1:{port}",
                                    "listen 127.0.0.1:{port}\nlisten 127.0.0.1:%d tls" % tlsport)
    with Server(conf, name="inetd", start=False) as s:
        two_vhost_roots(s.dir)
        cert, key = make_cert(s.dir)
        s.write_conf(conf.replace("\nvhost b.test", "tls-cert %s\ntls-key %s\n\nvhost b.test"
                                  % (cert, key)))
        cases = [("inetd.conf " + name, prog, args) for name, prog, args in lines]
        cases += [("xinetd " + name, kv["server"], ["itkd"] + kv["server_args"].split())
                  for name, kv in xin]
        for what, prog, args in cases:
            # argv[0] is the name inetd passes; the program is this build.
            ok("%s: runs %s" % (what, os.path.basename(prog)),
               os.path.basename(prog) == "itkd" and args[0] == "itkd", repr((prog, args)))
            argv = [ITKD] + [s.conf if a == "/etc/itkd.conf" else a for a in args[1:]]
            tls = "https" in what or "tls" in what
            p = tlsport if tls else s.port
            d = Inetd(p, argv)
            try:
                if tls:
                    data = tls_get(p, cert, "a.test", "/secret.txt")
                    good = data.startswith(b"HTTP/1.1 200") and data.endswith(b"secret of a\n")
                    ok("%s: a TLS connection on stdin is served as the vhost's uid" % what,
                       good, repr(data[-300:]))
                else:
                    st = get(p, "/secret.txt", "b.test")
                    ok("%s: a plain connection on stdin is served as the vhost's uid" % what,
                       st and st[0] == 200 and st[2] == b"secret of b\n", repr(st))
            finally:
                procs = d.close()
            ok("%s: one itkd per connection, exited 0" % what,
               len(procs) == 1 and procs[0].returncode == 0,
               repr([(q.returncode, q.stderr.read()[-300:]) for q in procs]))


def socket_unit():
    """itkd.socket's ports, moved to this test's, handed over the way
    systemd does (systemd-socket-activate sets LISTEN_PID and LISTEN_FDS)."""
    with open(os.path.join(CONTRIB, "itkd.socket")) as f:
        listens = re.findall(r"^ListenStream=(\S+)$", f.read(), re.M)
    ports = sorted(set(int(l.rsplit(":", 1)[-1]) for l in listens))
    ok("socket: ports 80 and 443, IPv4 and IPv6", ports == [80, 443] and len(listens) == 4,
       repr(listens))
    if shutil.which("systemd-socket-activate") is None:
        skip("socket: activation", "systemd-socket-activate not installed")
        return
    tlsport = free_port()
    conf = two_vhost_conf().replace("listen 127.0.0.1:{port}",
                                    "listen 127.0.0.1:{port}\nlisten 127.0.0.1:%d tls" % tlsport)
    with Server(conf, name="sockact", start=False) as s:
        two_vhost_roots(s.dir)
        cert, key = make_cert(s.dir)
        s.write_conf(conf.replace("\nvhost b.test", "tls-cert %s\ntls-key %s\n\nvhost b.test"
                                  % (cert, key)))
        # The config's own listen lines are not bound: only the handed sockets.
        argv = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % s.port,
                "-l", "127.0.0.1:%d" % tlsport, ITKD, "-f", "-c", s.conf]
        with open(os.path.join(s.dir, "stderr.txt"), "wb") as err:
            s.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        s.stderr = open(os.path.join(s.dir, "stderr.txt"), "rb")
        try:
            s.wait_port(s.port)
            st = get(s.port, "/secret.txt", "b.test")
            ok("socket: a handed plain socket is served", st and st[0] == 200 and
               st[2] == b"secret of b\n", repr(st))
            data = tls_get(tlsport, cert, "a.test", "/secret.txt")
            ok("socket: the handed socket on the tls port speaks TLS",
               data.startswith(b"HTTP/1.1 200") and data.endswith(b"secret of a\n"),
               repr(data[-300:]))
        except RuntimeError as e:
            ok("socket: activation serves", False, str(e))
        s.stop()


def tls_get(port, cafile, host, path):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), 5)
    c = ctx.wrap_socket(raw, server_hostname=host)
    c.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (path, host)).encode())
    data = b""
    while True:
        try:
            b = c.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not b:
            break
        data += b
    c.close()
    return data


systemd_unit()
socket_unit()
openwrt()
inetd()
done()
