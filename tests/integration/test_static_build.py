"""The static musl binary (issue 7 items 1-2): `make static` builds
./itkd-static, which links nothing dynamically, stays within 256 KiB, and
serves HTTP and HTTPS from an empty chroot that holds only itself, its
config, a docroot and a certificate: no /etc/passwd, no libc, no /proc, no
/dev. Each vhost's file is 0600 and owned by that vhost's numeric uid, so a
200 with its bytes proves the identity switch happened in there."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (TOP, UID_A, UID_B, UID_USER, done, free_port, mkdir,  # noqa: E402
                      need_root, ok, skip, write)

need_root("static build")

STATIC = os.path.join(TOP, "itkd-static")
SIZE_MAX = 256 * 1024


def build():
    """make static (incremental: the libraries are cached in build/static).
    Returns False when the build could not run for a cause outside the
    project (scripts/static exits 3: no network, no mirror)."""
    r = subprocess.run(["sh", os.path.join(TOP, "scripts", "static")], cwd=TOP,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=1200)
    if r.returncode == 3:
        skip("static build", "sources unreachable: " + r.stderr.decode(errors="replace")[-300:])
        return False
    ok("make static builds ./itkd-static", r.returncode == 0 and os.path.exists(STATIC),
       (r.stdout + r.stderr).decode(errors="replace")[-2000:])
    return r.returncode == 0


def binary_checks():
    r = subprocess.run(["ldd", STATIC], capture_output=True)
    ok("ldd: itkd-static is not a dynamic executable",
       b"not a dynamic executable" in r.stdout + r.stderr, repr(r))
    r = subprocess.run(["file", "-b", STATIC], capture_output=True)
    if r.returncode == 0:
        ok("file: statically linked, stripped",
           b"statically linked" in r.stdout and b", stripped" in r.stdout, repr(r.stdout))
    size = os.path.getsize(STATIC)
    print("# itkd-static: %d bytes (%.1f KiB)" % (size, size / 1024.0))
    ok("itkd-static is at most 256 KiB (%d bytes)" % size, size <= SIZE_MAX, "%d" % size)
    r = subprocess.run([STATIC, "-v"], capture_output=True)
    ok("itkd-static -v", r.returncode == 0 and r.stdout.startswith(b"itkd "), repr(r))


def make_cert(d):
    """A self-signed EC P-256 certificate for a.test and b.test."""
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=a.test",
                        "-addext", "subjectAltName=DNS:a.test,DNS:b.test"],
                       capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl: %r" % r.stderr)
    os.chmod(key, 0o600)
    return cert


CONF = """# the whole configuration of a FROM-scratch style itkd: numeric ids only
listen 127.0.0.1:%(port)d
listen 127.0.0.1:%(tlsport)d tls
user #%(user)d
group #%(user)d
uid-range 61000 61099
gid-range 61000 61099
timeout 5
error-log stderr
access-log /access.log

vhost a.test
root /www/a
user #%(a)d
group #%(a)d
tls-cert /cert.pem
tls-key /key.pem

vhost b.test
root /www/b
user #%(b)d
group #%(b)d
tls-cert /cert.pem
tls-key /key.pem
"""


def lay_out(root, port, tlsport):
    shutil.copy2(STATIC, os.path.join(root, "itkd-static"))
    os.chmod(os.path.join(root, "itkd-static"), 0o755)
    write(os.path.join(root, "itkd.conf"), CONF % dict(
        port=port, tlsport=tlsport, user=UID_USER, a=UID_A, b=UID_B))
    make_cert(root)
    mkdir(os.path.join(root, "www"))
    for name, uid in (("a", UID_A), ("b", UID_B)):
        d = mkdir(os.path.join(root, "www", name), uid, uid, 0o700)
        write(os.path.join(d, "index.html"), "<h1>%s in a chroot</h1>\n" % name, uid, uid, 0o600)
        write(os.path.join(d, "secret.txt"), "secret of %s, uid %d\n" % (name, uid),
              uid, uid, 0o600)


def wait_port(proc, port, errfile, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            with open(errfile, errors="replace") as f:
                raise RuntimeError("itkd-static exited %s: %s" % (proc.returncode, f.read()))
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("itkd-static did not listen on %d" % port)


def curl(url, host, port, *extra):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", "--resolve",
                        "%s:%d:127.0.0.1" % (host, port)] + list(extra) + [url],
                       capture_output=True)
    return r.returncode, r.stdout, r.stderr


def chroot_checks():
    base = os.path.join(TOP, "tests", "tmp")
    os.makedirs(base, exist_ok=True)
    root = tempfile.mkdtemp(prefix="itkd-chroot-", dir=base)
    os.chmod(root, 0o755)
    port, tlsport = free_port(), free_port()
    errfile = os.path.join(base, os.path.basename(root) + ".stderr")
    proc = None
    try:
        lay_out(root, port, tlsport)
        have = sorted(os.listdir(root))
        ok("the chroot holds only the binary, its config, a docroot and a certificate",
           have == ["cert.pem", "itkd-static", "itkd.conf", "key.pem", "www"], repr(have))
        r = subprocess.run(["chroot", root, "/itkd-static", "-t", "-c", "/itkd.conf"],
                           capture_output=True)
        ok("chroot: -t accepts the numeric-id config", r.returncode == 0, repr(r))
        with open(errfile, "wb") as err:
            proc = subprocess.Popen(["chroot", root, "/itkd-static", "-f", "-T", "-c", "/itkd.conf"],
                                    stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        wait_port(proc, port, errfile)
        wait_port(proc, tlsport, errfile)
        for name, uid in (("a", UID_A), ("b", UID_B)):
            host = name + ".test"
            want = ("secret of %s, uid %d\n" % (name, uid)).encode()
            rc, out, e = curl("http://%s:%d/secret.txt" % (host, port), host, port)
            ok("chroot: HTTP serves %s's 0600 file owned by uid %d" % (host, uid),
               rc == 0 and out == want, "rc=%d out=%r err=%r" % (rc, out, e))
            rc, out, e = curl("https://%s:%d/secret.txt" % (host, tlsport), host, tlsport,
                              "--cacert", os.path.join(root, "cert.pem"))
            ok("chroot: HTTPS (verified EC P-256 chain) serves %s's 0600 file" % host,
               rc == 0 and out == want, "rc=%d out=%r err=%r" % (rc, out, e))
        rc, out, e = curl("http://a.test:%d/" % port, "a.test", port)
        ok("chroot: index.html for /", rc == 0 and b"a in a chroot" in out, repr((rc, out, e)))
        rc, out, e = curl("http://a.test:%d/nope" % port, "a.test", port,
                          "-o", "/dev/null", "-w", "%{http_code}")
        ok("chroot: 404 for a missing file", out == b"404", repr((rc, out, e)))
        # The master's children come and go; the log shows who served what.
        time.sleep(0.2)
        try:
            with open(os.path.join(root, "access.log"), errors="replace") as f:
                acc = f.read()
        except OSError:
            acc = ""
        ok("chroot: the access log was written", "GET /secret.txt" in acc, repr(acc[-500:]))
        ok("chroot: the master is still up", proc.poll() is None, "exited %s" % proc.returncode)
    except (RuntimeError, OSError) as e:
        ok("chroot: itkd-static serves from an empty chroot", False, str(e))
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc:
            ok("chroot: SIGTERM stops it with status 0", proc.returncode == 0,
               "status %s" % proc.returncode)
        try:
            with open(errfile, errors="replace") as f:
                log = f.read()
        except OSError:
            log = ""
        if log.strip():
            print("# itkd-static stderr:\n# " + "\n# ".join(log.strip().splitlines()[-15:]))
        if os.environ.get("ITKD_KEEP") is None:
            shutil.rmtree(root, ignore_errors=True)
            try:
                os.unlink(errfile)
            except OSError:
                pass


if build():
    binary_checks()
    chroot_checks()
done()
