"""tests/integration/test_paths.py: paths resolved by the kernel (openat2).

Each attack is what a vhost's owner can do with directories she owns:
- swap her `root` for a symlink to another vhost's tree while the config
  reloads, then put hers back: with `user owner` the old code took the
  uid from stat(root) at load, so her CGI then ran as the other vhost;
- plant symlinks inside her tree that lead out of it (another vhost's
  file, /etc/passwd, a script elsewhere, an error page);
- swap the directory of her vhost's access-log for a symlink (or the file
  for a FIFO) and wait for a reload: root, in the master, would create
  and append a file anywhere (or hang in open).
And a root with a symlink on its way is a config error at its line.
Needs root.
"""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (RANGES, ITKD, UID_USER, UID_A, UID_B, UID_C, Server, done, free_port, get,
                      mkdir, need_root, ok, skip, wait_for, write)

need_root("test_paths")

GLOBAL = ("""
listen 127.0.0.1:{port}
user #%d
group #%d
""" + RANGES + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 5
""") % (UID_USER, UID_USER)

# Vhost a.test is its owner's: `user owner`, a root below a directory she
# owns ({dir}/pa). b.test and c.test are two other vhosts.
VHOSTS = """
vhost a.test
root {dir}/pa/root
user owner
group owner
cgi .cgi
autoindex on
error-page 404 /errors/404.html
%s
vhost b.test
root {dir}/b
user #%d
group #%d

vhost c.test
root {dir}/c
user #%d
group #%d
""" % ("%s", UID_B, UID_B, UID_C, UID_C)

WHO = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
echo "uid=$(id -u)"
cat %s/b/secret.txt 2>/dev/null
exit 0
"""

EVIL = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\nevil ran as %s\\n' "$(id -u)"
"""


def conf(extra_a=""):
    return GLOBAL + VHOSTS % extra_a


def layout(d):
    pa = mkdir(os.path.join(d, "pa"), UID_A, UID_A, 0o755)
    root = mkdir(os.path.join(pa, "root"), UID_A, UID_A, 0o755)
    write(os.path.join(root, "index.html"), "<h1>a</h1>\n", UID_A, UID_A, 0o644)
    write(os.path.join(root, "who.cgi"), WHO % d, UID_A, UID_A, 0o755)
    mkdir(os.path.join(root, "sub"), UID_A, UID_A, 0o755)
    write(os.path.join(root, "sub", "page.html"), "page of a\n", UID_A, UID_A, 0o644)
    mkdir(os.path.join(root, "list"), UID_A, UID_A, 0o755)
    mkdir(os.path.join(root, "errors"), UID_A, UID_A, 0o755)
    b = mkdir(os.path.join(d, "b"), UID_B, UID_B, 0o700)
    write(os.path.join(b, "index.html"), "<h1>b</h1>\n", UID_B, UID_B, 0o600)
    write(os.path.join(b, "secret.txt"), "secret of b\n", UID_B, UID_B, 0o600)
    c = mkdir(os.path.join(d, "c"), UID_C, UID_C, 0o755)
    write(os.path.join(c, "public.txt"), "public of c\n", UID_C, UID_C, 0o644)
    out = mkdir(os.path.join(d, "outside"), 0, 0, 0o755)
    write(os.path.join(out, "evil.cgi"), EVIL, 0, 0, 0o755)
    # Planted by a's owner: links that lead out of her tree ...
    links = {"passwd": "/etc/passwd", "cfile.txt": os.path.join(c, "public.txt"),
             "crel.txt": "../../c/public.txt", "cdir": c,
             "evil.cgi": os.path.join(out, "evil.cgi"),
             "sub/round.html": "../../root/index.html",
             "list/pw": "/etc/passwd",
             "errors/404.html": os.path.join(c, "public.txt"),
             # ... and links that stay inside it.
             "inner.html": "sub/page.html", "sub/up.html": "../index.html",
             "subdir": "sub"}
    for rel, target in links.items():
        os.symlink(target, os.path.join(root, rel))
        os.lchown(os.path.join(root, rel), UID_A, UID_A)
    return root


def status(r):
    return r[0] if r else None


def reloads(srv):
    return len(re.findall(r"reload(ed| failed)", srv.log()))


def hup_and_wait(srv):
    """SIGHUP, then wait until the master logged the reload's outcome."""
    before = reloads(srv)
    srv.proc.send_signal(signal.SIGHUP)
    return wait_for(lambda: reloads(srv) > before, 10)


def start_fails(conf_path):
    """Start itkd in the foreground: (exit code, stderr); a binary that
    starts (and would serve) is stopped after a while, exit code None."""
    p = subprocess.Popen([ITKD, "-f", "-c", conf_path], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=5)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        p.terminate()
        _, err = p.communicate()
        return None, err


def line_of(path, needle):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if needle in line:
                return n
    return 0


def who(srv):
    r = get(srv.port, "/who.cgi", "a.test")
    return r, (r[2].decode(errors="replace") if r else "")


def owner_swap(srv, root):
    """Finding 1: root swapped for a symlink to b's tree over a reload."""
    r, body = who(srv)
    ok("owner: a's CGI runs as a before the swap", status(r) == 200 and
       "uid=%d" % UID_A in body and "secret of b" not in body, repr(r))
    real = root + ".real"
    os.rename(root, real)
    os.symlink(os.path.join(srv.dir, "b"), root)
    try:
        # While it is swapped: a's vhost serves nothing of b's.
        r = get(srv.port, "/secret.txt", "a.test")
        ok("owner: with root swapped, b's file is not served on a.test",
           r is not None and r[0] != 200 and b"secret of b" not in r[2], repr(r))
        ok("owner: the reload is logged", hup_and_wait(srv), srv.log()[-400:])
    finally:
        os.unlink(root)
        os.rename(real, root)
    r, body = who(srv)
    ok("owner: after the swap and a reload a's CGI still runs as a, never as b",
       status(r) == 200 and "uid=%d" % UID_A in body and "uid=%d" % UID_B not in body,
       repr(r))
    ok("owner: a's CGI cannot read b's 0600 file", "secret of b" not in body, repr(r))
    n = line_of(srv.conf, "root %s/pa/root" % srv.dir)
    ok("owner: the reload was refused at root's file:line, the old config kept",
       re.search(r"reload failed, keeping the old config: .*itkd\.conf:%d: root: .*"
                 r"symbolic link" % n, srv.log()) is not None, srv.log()[-600:])


def owner_from_fd(srv, root):
    """`user owner` is the owner of the fd each connection opens, not the
    owner the config load saw: a chown (by root) shows at once."""
    os.chown(root, UID_C, UID_C)
    try:
        r, body = who(srv)
        ok("owner: taken per connection from the root fd (chowned to c: runs as c)",
           status(r) == 200 and "uid=%d" % UID_C in body, repr(r))
        os.chown(root, UID_USER, UID_USER)
        r, body = who(srv)
        ok("owner: a root owned by the global user is refused (500, logged)",
           status(r) == 500 and "uid=" not in body and
           "which no vhost may run as" in srv.log(), repr(r))
        os.chown(root, 0, 0)
        r, body = who(srv)
        ok("owner: a root owned by uid 0 is refused", status(r) == 500 and
           "uid=" not in body, repr(r))
    finally:
        os.chown(root, UID_A, UID_A)
    r, body = who(srv)
    ok("owner: back to a", status(r) == 200 and "uid=%d" % UID_A in body, repr(r))


def symlinks_inside(srv):
    """Finding-free behaviour and its limits: links inside the tree."""
    for path in ("/passwd", "/cfile.txt", "/crel.txt", "/cdir/public.txt", "/cdir/",
                 "/sub/round.html"):
        r = get(srv.port, path, "a.test")
        ok("symlink out of root not served: %s" % path,
           status(r) in (403, 404) and b"root:" not in r[2] and
           b"public of c" not in r[2] and b"<h1>a</h1>" not in r[2], repr(r))
    r = get(srv.port, "/evil.cgi", "a.test")
    ok("symlink to a script outside root: not run", status(r) in (403, 404) and
       b"evil ran" not in r[2], repr(r))
    r = get(srv.port, "/evil.cgi/info", "a.test")
    ok("symlink to a script outside root, with PATH_INFO: not run",
       status(r) in (403, 404) and b"evil ran" not in r[2], repr(r))
    r = get(srv.port, "/nope", "a.test")
    ok("error-page symlinked out of root: not used (built-in 404)",
       status(r) == 404 and b"public of c" not in r[2], repr(r))
    r = get(srv.port, "/list/", "a.test")
    row = re.search(rb'href="\./pw">pw</a></td><td>([^<]*)</td>', r[2]) if r else None
    ok("listing: a symlink out of root shows no size of its target",
       status(r) == 200 and row is not None and row.group(1) == b"-", repr(r))
    for path, want in (("/inner.html", b"page of a\n"), ("/sub/up.html", b"<h1>a</h1>\n"),
                       ("/subdir/page.html", b"page of a\n")):
        r = get(srv.port, path, "a.test")
        ok("symlink that stays beneath root: served: %s" % path,
           status(r) == 200 and r[2] == want, repr(r))


def traversal(srv):
    for path in ("/../b/secret.txt", "/%2e%2e/b/secret.txt", "/sub/%2e%2e/%2e%2e/b/secret.txt",
                 "/..%2f..%2fb%2fsecret.txt", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                 "/sub/..%5c..%5cb/secret.txt"):
        r = get(srv.port, path, "a.test")
        ok("traversal refused: %s" % path, status(r) in (400, 403, 404) and
           b"secret of b" not in r[2] and b"root:" not in r[2], repr(r))


def root_symlink_check(d):
    """A root that is a symlink, or has one on its way: `itkd -t` names
    the line, and itkd does not start."""
    os.symlink(os.path.join(d, "pa"), os.path.join(d, "palink"))
    for name, root in (("itself", os.path.join(d, "rootlink")),
                       ("a parent", os.path.join(d, "palink", "root"))):
        if name == "itself":
            os.symlink(os.path.join(d, "pa", "root"), root)
        text = (GLOBAL + "\nvhost x.test\nroot %s\nuser #%d\ngroup #%d\n" %
                (root, UID_B, UID_B)).replace("{dir}", d).replace("{port}", str(free_port()))
        path = os.path.join(d, "symroot.conf")
        with open(path, "w") as f:
            f.write(text)
        n = line_of(path, "root " + root)
        p = subprocess.run([ITKD, "-t", "-c", path], capture_output=True, text=True)
        ok("root with a symlink (%s): itkd -t fails at file:line" % name,
           p.returncode == 1 and "%s:%d: root: '%s' has a symbolic link on its way"
           % (path, n, root) in p.stderr, repr((p.returncode, p.stderr)))
        rc, err = start_fails(path)
        ok("root with a symlink (%s): itkd does not start" % name,
           rc == 1 and "symbolic link" in err, repr((rc, err)))


NOOPENAT2 = os.path.join(os.path.dirname(ITKD), "tests", "helpers", "noopenat2")


def no_openat2(conf_path):
    """Where openat2 is missing (a seccomp filter makes it ENOSYS, as a
    kernel before 5.6 does): one clear line, and nothing starts."""
    if not os.access(NOOPENAT2, os.X_OK):
        skip("no openat2", "tests/helpers/noopenat2 is not built (make check builds it)")
        return
    p = subprocess.run([NOOPENAT2, ITKD, "-t", "-c", conf_path], capture_output=True,
                       text=True)
    lines = p.stderr.strip().splitlines()
    ok("no openat2: itkd -t refuses with one line naming openat2 and Linux 5.6",
       p.returncode == 1 and len(lines) == 1 and "openat2" in lines[0] and
       "Linux 5.6" in lines[0], repr((p.returncode, p.stderr)))
    p = subprocess.Popen([NOOPENAT2, ITKD, "-f", "-c", conf_path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=5)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.terminate()
        _, err = p.communicate()
        rc = None
    ok("no openat2: itkd does not start", rc == 1 and "openat2" in err, repr((rc, err)))


def log_swap():
    """Finding 4: the vhost's log directory is her own. Swapped for a
    symlink to a directory of root's before a reload: nothing may be
    created there, the reload fails with file:line, the old log goes on."""
    srv = Server(conf("access-log {dir}/alog/a/access.log"), name="logswap", start=False)
    try:
        layout(srv.dir)
        mkdir(os.path.join(srv.dir, "alog"), 0, 0, 0o755)
        mine = mkdir(os.path.join(srv.dir, "alog", "a"), UID_A, UID_A, 0o755)
        target = mkdir(os.path.join(srv.dir, "target"), 0, 0, 0o755)
        srv.start()
        r = get(srv.port, "/index.html", "a.test")
        log = os.path.join(mine, "access.log")
        ok("log: a's access log written", status(r) == 200 and
           wait_for(lambda: os.path.exists(log) and "GET /index.html" in open(log).read()),
           repr(r))
        moved = mine + ".old"
        os.rename(mine, moved)
        os.symlink(target, mine)
        ok("log: the reload is logged", hup_and_wait(srv), srv.log()[-400:])
        ok("log: nothing created through the symlinked directory",
           os.listdir(target) == [], repr(os.listdir(target)))
        n = line_of(srv.conf, "access-log %s/alog/a/access.log" % srv.dir)
        ok("log: the reload failed at access-log's file:line",
           re.search(r"reload failed, keeping the old config: .*itkd\.conf:%d: access-log "
                     r".*symbolic link" % n, srv.log()) is not None, srv.log()[-600:])
        r = get(srv.port, "/sub/page.html", "a.test")
        old = os.path.join(moved, "access.log")
        ok("log: the old log fd keeps working after the refused reload",
           status(r) == 200 and
           wait_for(lambda: "GET /sub/page.html" in open(old).read()), repr(r))
        # The same with the file itself a FIFO: open must not wait for a
        # reader (the master would hang, serving nobody).
        os.unlink(mine)
        os.rename(moved, mine)
        os.unlink(log)
        os.mkfifo(log)
        ok("log: a FIFO in the log's place: the reload is logged (no hang)",
           hup_and_wait(srv), srv.log()[-400:])
        r = get(srv.port, "/index.html", "a.test")
        ok("log: the master still serves after it", status(r) == 200, repr(r))
    finally:
        srv.cleanup()
    # At start: the same symlinked directory is a clear error, nothing starts.
    srv = Server(conf("access-log {dir}/alog/a/access.log"), name="logstart", start=False)
    try:
        layout(srv.dir)
        target = mkdir(os.path.join(srv.dir, "target"), 0, 0, 0o755)
        mkdir(os.path.join(srv.dir, "alog"), 0, 0, 0o755)
        os.symlink(target, os.path.join(srv.dir, "alog", "a"))
        rc, err = start_fails(srv.conf)
        n = line_of(srv.conf, "access-log %s/alog/a/access.log" % srv.dir)
        ok("log: a symlinked log directory at start: itkd does not start, file:line",
           rc == 1 and "itkd.conf:%d: access-log" % n in err and
           "symbolic link" in err and os.listdir(target) == [],
           repr((rc, err, os.listdir(target))))
    finally:
        srv.cleanup()


def main():
    srv = Server(conf(), name="paths", start=False)
    try:
        root = layout(srv.dir)
        srv.start()
        symlinks_inside(srv)
        traversal(srv)
        owner_from_fd(srv, root)
        owner_swap(srv, root)
        root_symlink_check(srv.dir)
        no_openat2(srv.conf)
    finally:
        srv.cleanup()
    log_swap()
    done()


main()
