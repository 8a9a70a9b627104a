"""The static musl binary: `make static` builds ./itkd-static (a copy of
./itkd-static-TARGET for the build machine's TARGET), which links nothing
dynamically, stays within its target's size limit (scripts/static-sizes), and
serves HTTP and HTTPS from an empty chroot that holds only itself, its
config, a docroot and a certificate: no /etc/passwd, no libc, no /proc, no
/dev. Each vhost's file is 0600 and owned by that vhost's numeric uid, so a
200 with its bytes proves the identity switch happened in there.

Then contrib/docker/Dockerfile is carried out the way Docker would, without
Docker: its COPY lines lay out a root, and its ENTRYPOINT runs chrooted
with only the capabilities and the no-new-privileges its run line names
(the ids and the port are moved to this test's own)."""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import itkdtest  # noqa: E402
from itkdtest import (RANGES_99, TOP, UID_A, UID_B, UID_USER, Server, done, free_port, get,  # noqa: E402
                      mkdir, need_root, ok, recv_all, skip, step_trace, two_vhost_conf, two_vhost_roots,
                      write)

need_root("static build")

STATIC = os.path.join(TOP, "itkd-static")
SCRIPTS = os.path.join(TOP, "scripts")


def host_target():
    """This machine's TARGET of `make static` and its size limit in bytes,
    from scripts/static-targets (256 KiB on x86_64, aarch64 and arm, 320
    KiB on mips)."""
    r = subprocess.run(["sh", "-c", '. "$1/static-targets"; t=$(static_host); '
                        'static_target "$t" && echo "$t $size_limit"', "sh", SCRIPTS],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, None
    t, limit = r.stdout.split()
    return t, int(limit)


TARGET, SIZE_MAX = host_target()


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
    ok("itkd-static is at most %d KiB (%d bytes)" % (SIZE_MAX // 1024, size),
       size <= SIZE_MAX, "%d" % size)
    per_target = os.path.join(TOP, "itkd-static-" + TARGET)
    same = False
    if os.path.exists(per_target):
        with open(STATIC, "rb") as a, open(per_target, "rb") as b:
            same = a.read() == b.read()
    ok("itkd-static is itkd-static-%s, the build machine's target" % TARGET, same)
    r = subprocess.run(["sh", os.path.join(SCRIPTS, "static-sizes"), TARGET],
                       capture_output=True, text=True)
    print("# " + r.stdout.strip().replace("\n", "\n# "))
    ok("static-sizes: %s within its limit" % TARGET,
       r.returncode == 0 and re.search(r"^%s +%d +%d ok$" % (TARGET, size, SIZE_MAX),
                                       r.stdout, re.M), r.stdout + r.stderr)
    # elfcheck: the build's own guard against the build machine's compiler,
    # linker or libc slipping in. A control first: itkd from `make` is
    # dynamic, so the check must refuse it, naming why.
    elfcheck = os.path.join(SCRIPTS, "elfcheck")
    r = subprocess.run(["sh", elfcheck, TARGET, STATIC], capture_output=True, text=True)
    ok("elfcheck: itkd-static is a static %s executable" % TARGET, r.returncode == 0,
       r.stdout + r.stderr)
    dynamic = os.path.join(TOP, "itkd")
    if os.path.exists(dynamic):
        r = subprocess.run(["sh", elfcheck, TARGET, dynamic], capture_output=True, text=True)
        ok("elfcheck: refuses the dynamic ./itkd (PT_INTERP)",
           r.returncode == 1 and "PT_INTERP" in r.stderr, r.stdout + r.stderr)
    else:
        skip("elfcheck: refuses the dynamic ./itkd", "./itkd not built")
    other = "mips" if TARGET != "mips" else "aarch64"
    r = subprocess.run(["sh", elfcheck, other, STATIC], capture_output=True, text=True)
    ok("elfcheck: refuses itkd-static as a %s binary (e_machine)" % other,
       r.returncode == 1 and "e_machine" in r.stderr, r.stdout + r.stderr)
    unit = os.path.join(TOP, "build", "static", TARGET, "unit_priv")
    r = subprocess.run(["sh", elfcheck, TARGET, unit], capture_output=True, text=True)
    ok("make static leaves a static build/static/%s/unit_priv" % TARGET, r.returncode == 0,
       r.stdout + r.stderr)
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
""" + RANGES_99 + """timeout 5
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
        with open(errfile, errors="replace") as f:
            trace = f.read()
        for uid in (UID_A, UID_B):
            # -T: the credentials read back from the kernel after the switch
            pat = (r"stage 2: .*uid=%d/%d/%d/%d gid=%d/%d/%d/%d groups=%d "
                   r"CapInh=0+ CapPrm=0+ CapEff=0+ CapBnd=0+ CapAmb=0+ NoNewPrivs=1 Seccomp=2"
                   % ((uid,) * 9))
            ok("chroot: -T shows stage 2 as uid %d with no capability, no_new_privs, "
               "seccomp" % uid, re.search(pat, trace), trace[-1500:])
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


# contrib/docker: the ids of the image, and this test's stand-ins for them.
DOCKER_IDS = {"65534": UID_USER, "1001": UID_A}
CAPS = {"chown": 0, "dac_override": 1, "dac_read_search": 2, "fowner": 3, "fsetid": 4,
        "kill": 5, "setgid": 6, "setuid": 7, "setpcap": 8, "net_bind_service": 10,
        "net_raw": 13, "sys_chroot": 18, "sys_admin": 21, "sys_nice": 23, "mknod": 27,
        "audit_write": 29, "setfcap": 31}


def dockerfile():
    """(instructions, run-line words) of contrib/docker/Dockerfile."""
    with open(os.path.join(TOP, "contrib", "docker", "Dockerfile")) as f:
        text = f.read()
    steps = [l.split(None, 1) for l in text.splitlines() if l.strip() and not l.startswith("#")]
    run = " ".join(l.lstrip("#").strip().rstrip("\\") for l in text.splitlines()
                   if l.startswith("#") and ("docker run" in l or "--cap" in l or "--security" in l))
    return steps, run.split()


def docker_root(steps, root, port):
    for op, arg in steps:
        if op != "COPY":
            continue
        words = arg.split()
        owner = (0, 0)
        if words[0].startswith("--chown="):
            u, g = words.pop(0).split("=", 1)[1].split(":")
            owner = (DOCKER_IDS.get(u, int(u)), DOCKER_IDS.get(g, int(g)))
        src, dst = os.path.join(TOP, words[0]), root + words[1]
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
        for d, dirs, files in os.walk(dst) if os.path.isdir(dst) else [(None, [], [dst])]:
            for x in ([d] if d else []) + [os.path.join(d, n) if d else n for n in dirs + files]:
                os.chown(x, *owner)
    conf = root + "/etc/itkd.conf"
    with open(conf) as f:
        text = f.read()
    for theirs, ours in DOCKER_IDS.items():
        text = text.replace("#%s" % theirs, "#%d" % ours)
    text = re.sub(r"^uid-range .*\n", "", text, flags=re.M)
    text = re.sub(r"^gid-range .*$", RANGES_99.rstrip("\n"), text, flags=re.M)
    text = re.sub(r"^listen 8080\b", "listen 127.0.0.1:%d" % port, text, flags=re.M)
    with open(conf, "w") as f:
        f.write(text)


def docker_checks():
    steps, run = dockerfile()
    ok("docker: FROM scratch", steps and steps[0] == ["FROM", "scratch"], repr(steps[:1]))
    entry = [json.loads(a) for op, a in steps if op == "ENTRYPOINT"]
    ok("docker: an exec-form ENTRYPOINT with -f", entry and "-f" in entry[-1], repr(entry))
    if not entry:
        return
    keep = [run[i + 1].lower() for i, w in enumerate(run[:-1]) if w == "--cap-add"]
    ok("docker: the run line drops every capability and adds back what itkd needs",
       "--cap-drop" in run and {"setuid", "setgid", "setpcap"} <= set(keep), repr(run))
    nnp = "no-new-privileges" in run
    base = os.path.join(TOP, "tests", "tmp")
    root = tempfile.mkdtemp(prefix="itkd-docker-", dir=base)
    os.chmod(root, 0o755)
    port = free_port()
    errfile = root + ".stderr"
    libc = ctypes.CDLL(None, use_errno=True)

    def container():            # what docker run does before the ENTRYPOINT
        os.chroot(root)
        os.chdir("/")
        for cap in range(64):
            if cap not in [CAPS[k] for k in keep]:
                libc.prctl(24, cap, 0, 0, 0)            # PR_CAPBSET_DROP
        if nnp and libc.prctl(38, 1, 0, 0, 0) != 0:     # PR_SET_NO_NEW_PRIVS
            os._exit(99)
    proc = None
    try:
        docker_root(steps, root, port)
        with open(errfile, "wb") as err:
            proc = subprocess.Popen(entry[-1], stdin=subprocess.DEVNULL, stdout=err,
                                    stderr=err, preexec_fn=container)
        wait_port(proc, port, errfile)
        rc, out, e = curl("http://localhost:%d/" % port, "localhost", port)
        ok("docker: the image serves its page as the site's uid", rc == 0 and
           b"FROM scratch container" in out, repr((rc, out[:200], e)))
        time.sleep(0.2)
        with open(errfile, errors="replace") as f:
            log = f.read()
        ok("docker: the access log goes to stderr (docker logs)", '"GET / HTTP/1.1" 200' in log,
           log[-500:])
    except (RuntimeError, OSError) as e:
        ok("docker: the image's ENTRYPOINT serves", False, str(e))
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc:
            ok("docker: SIGTERM (docker stop) ends it with status 0", proc.returncode == 0,
               "status %s" % proc.returncode)
        if os.environ.get("ITKD_KEEP") is None:
            shutil.rmtree(root, ignore_errors=True)
            try:
                os.unlink(errfile)
            except OSError:
                pass


def exec_sections(path):
    """{name: (address, size)} of the ELF file's executable sections (the
    section headers survive strip --strip-all)."""
    with open(path, "rb") as f:
        elf = f.read()
    wide = elf[4] == 2
    end = "<" if elf[5] == 1 else ">"
    if wide:
        shoff, = struct.unpack_from(end + "Q", elf, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", elf, 0x3A)
        fmt = end + "IIQQQQ"
    else:
        shoff, = struct.unpack_from(end + "I", elf, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", elf, 0x2E)
        fmt = end + "IIIIII"
    heads = [struct.unpack_from(fmt, elf, shoff + i * shentsize) for i in range(shnum)]
    strtab = heads[shstrndx][4]
    out = {}
    for name, _type, flags, addr, _off, size in heads:
        if flags & 4:           # SHF_EXECINSTR
            n = elf[strtab + name:elf.index(b"\0", strtab + name)].decode()
            out[n] = (addr, size)
    return out


def hot_text_checks():
    """The code a plain one-request connection runs lies in the section
    scripts/hot-text.ld makes (.text.itkd_hot, first in the text), every
    instruction of it: single-stepped (tests/helpers/steptrace)."""
    secs = exec_sections(STATIC)
    ok("itkd-static has the section scripts/hot-text.ld makes", ".text.itkd_hot" in secs,
       repr(sorted(secs)))
    if ".text.itkd_hot" not in secs:
        return
    lo, size = secs[".text.itkd_hot"]
    itkdtest.ITKD = STATIC
    srv = Server(two_vhost_conf(), name="hot-text", start=False)
    two_vhost_roots(srv.dir)
    srv.start()

    def plain():
        s = socket.create_connection(("127.0.0.1", srv.port), 5)
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        plain.answer = recv_all(s)
        s.close()
    try:
        get(srv.port, "/index.html")
        srv.spawners(wait=5)                # traced from its start
        time.sleep(0.3)
        roles = step_trace(srv.proc.pid, plain)
    finally:
        srv.cleanup()
        itkdtest.ITKD = os.path.join(TOP, "itkd")
    if isinstance(roles, str):
        skip("a plain connection's code lies in .text.itkd_hot", roles)
        return
    ok("steptrace: a traced plain connection is answered 200",
       getattr(plain, "answer", b"").startswith(b"HTTP/1.1 200"), repr(getattr(plain, "answer", b"")[:80]))
    for role in ("gatekeeper", "monitor"):
        ips = roles[role]
        # A control: the tracer saw the process run at all.
        ok("steptrace: the %s ran under the tracer (%d instructions)" % (role, len(ips)),
           len(ips) > 1000)
        code = [a for a in ips if any(b <= a < b + n for b, n in secs.values())]
        out = sorted({a for a in code if not lo <= a < lo + size})
        pages = len({a >> 12 for a in code})
        print("# %s: %d instructions on %d pages of code" % (role, len(ips), pages))
        ok("the %s's code lies in .text.itkd_hot" % role, not out,
           "%d addresses outside, from %s: run bench/hot-text.py, then make static"
           % (len(out), ", ".join(hex(a) for a in out[:8])))


if build():
    binary_checks()
    hot_text_checks()
    chroot_checks()
    docker_checks()
done()
