"""make install: PREFIX and DESTDIR are honoured, the binary lands in sbin,
the man pages in man8 and man5, the example config in the doc directory,
and the installed itkd -t passes the installed example as shipped; make
install-static installs the static binary the same way; both man pages
render with `man --warnings` without a warning, and every flag and
directive is documented in them."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import TOP, done, ok, skip  # noqa: E402

MAN8 = os.path.join(TOP, "man", "itkd.8")
MAN5 = os.path.join(TOP, "man", "itkd.conf.5")


def have_man():
    if shutil.which("man") and shutil.which("groff"):
        return True
    if os.geteuid() != 0:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    "man-db", "groff-base"], env=env, capture_output=True)
    return bool(shutil.which("man") and shutil.which("groff"))


def mode(path):
    return os.stat(path).st_mode & 0o7777


def install():
    base = os.path.join(TOP, "tests", "tmp")
    os.makedirs(base, exist_ok=True)
    dest = tempfile.mkdtemp(prefix="itkd-install-", dir=base)
    try:
        r = subprocess.run(["make", "-s", "-C", TOP, "install", "DESTDIR=" + dest,
                            "PREFIX=/opt/itkd"], capture_output=True, stdin=subprocess.DEVNULL)
        ok("make install DESTDIR=... PREFIX=/opt/itkd succeeds", r.returncode == 0,
           (r.stdout + r.stderr).decode(errors="replace")[-1500:])
        root = dest + "/opt/itkd"
        want = {
            "sbin/itkd": 0o755,
            "share/man/man8/itkd.8": 0o644,
            "share/man/man5/itkd.conf.5": 0o644,
        }
        if os.path.exists(os.path.join(TOP, "conf", "itkd.conf.example")):
            want["share/doc/itkd/itkd.conf.example"] = 0o644
        for rel, m in sorted(want.items()):
            p = os.path.join(root, rel)
            ok("install: %s with mode %o" % (rel, m),
               os.path.isfile(p) and mode(p) == m,
               "%s" % (oct(mode(p)) if os.path.exists(p) else "missing"))
        leaked = [p for p in os.listdir(dest) if p != "opt"]
        ok("install: nothing outside DESTDIR/PREFIX", leaked == [], repr(leaked))
        exe = os.path.join(root, "sbin", "itkd")
        if os.path.exists(exe):
            r = subprocess.run([exe, "-v"], capture_output=True)
            ok("install: the installed itkd runs", r.returncode == 0 and
               r.stdout.startswith(b"itkd "), repr(r))
        ex = os.path.join(root, "share/doc/itkd/itkd.conf.example")
        if os.path.exists(ex) and os.path.exists(exe):
            # As shipped: the installed binary checks the installed
            # example and finds it good, with no warning either.
            r = subprocess.run([exe, "-t", "-c", ex], capture_output=True)
            out = (r.stdout + r.stderr).decode(errors="replace")
            ok("install: the installed itkd -t passes the installed example config",
               r.returncode == 0 and out.strip() == "%s: ok" % ex, out)
        return root
    finally:
        if os.environ.get("ITKD_KEEP") is None:
            shutil.rmtree(dest, ignore_errors=True)


def install_usr():
    """PREFIX=/usr, as a distribution or a firmware build installs."""
    base = os.path.join(TOP, "tests", "tmp")
    dest = tempfile.mkdtemp(prefix="itkd-install-usr-", dir=base)
    try:
        r = subprocess.run(["make", "-s", "-C", TOP, "install", "DESTDIR=" + dest,
                            "PREFIX=/usr"], capture_output=True, stdin=subprocess.DEVNULL)
        exe = dest + "/usr/sbin/itkd"
        ex = dest + "/usr/share/doc/itkd/itkd.conf.example"
        ok("make install DESTDIR=... PREFIX=/usr succeeds", r.returncode == 0 and
           os.path.isfile(exe) and os.path.isfile(ex), r.stderr[-800:])
        r = subprocess.run([exe, "-t", "-c", ex], capture_output=True)
        ok("install: DESTDIR/usr/sbin/itkd -t -c the installed example: ok",
           r.returncode == 0 and r.stdout.strip() == (ex + ": ok").encode()
           and r.stderr == b"", repr(r))
    finally:
        if os.environ.get("ITKD_KEEP") is None:
            shutil.rmtree(dest, ignore_errors=True)


def install_static():
    """make install-static [TARGET=T]: the static binary as sbin/itkd, or a
    clear refusal when it was not built."""
    base = os.path.join(TOP, "tests", "tmp")
    dest = tempfile.mkdtemp(prefix="itkd-install-static-", dir=base)
    try:
        r = subprocess.run(["make", "-s", "-C", TOP, "install-static", "DESTDIR=" + dest,
                            "PREFIX=/usr", "TARGET=nosuchtarget"], capture_output=True,
                           stdin=subprocess.DEVNULL)
        ok("make install-static TARGET=T without ./itkd-static-T fails and says what to run",
           r.returncode != 0 and b"run make static TARGET=nosuchtarget first" in r.stderr
           and not os.listdir(dest), (r.returncode, r.stderr, os.listdir(dest)))
        static = os.path.join(TOP, "itkd-static")
        if not os.path.isfile(static):
            skip("make install-static installs ./itkd-static", "not built (make static)")
            return
        r = subprocess.run(["make", "-s", "-C", TOP, "install-static", "DESTDIR=" + dest,
                            "PREFIX=/usr"], capture_output=True, stdin=subprocess.DEVNULL)
        exe = dest + "/usr/sbin/itkd"
        with open(static, "rb") as a:
            same = os.path.isfile(exe) and open(exe, "rb").read() == a.read()
        ok("make install-static installs ./itkd-static as sbin/itkd", r.returncode == 0 and
           same and mode(exe) == 0o755, r.stderr[-800:])
        ex = dest + "/usr/share/doc/itkd/itkd.conf.example"
        r = subprocess.run([exe, "-t", "-c", ex], capture_output=True)
        ok("install-static: the static itkd -t passes the installed example",
           r.returncode == 0 and r.stderr == b"", repr(r))
    finally:
        if os.environ.get("ITKD_KEEP") is None:
            shutil.rmtree(dest, ignore_errors=True)


def man_warnings():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    for page in (MAN8, MAN5):
        r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, env=env)
        name = os.path.basename(page)
        ok("man --warnings -l %s: no warning" % name,
           r.returncode == 0 and r.stderr.strip() == b"" and len(r.stdout) > 1000,
           "rc=%d stderr=%r" % (r.returncode, r.stderr[:800]))
    # The check must be able to fail: a broken page does warn.
    with tempfile.NamedTemporaryFile("w", suffix=".8", delete=False) as f:
        f.write(".Dd x\n.Dt X 8\n.Os\n.Sh NAME\n.Nm x\n.Nd y\n.Sh DESCRIPTION\n"
                ".Bl -tag\n.It a\n.Nosuchmacro\n")
    r = subprocess.run(["man", "--warnings", "-l", f.name], capture_output=True, env=env)
    os.unlink(f.name)
    ok("man --warnings does report a broken page", r.stderr.strip() != b"", repr(r))


def rendered(page):
    env = dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "-l", page], capture_output=True, env=env)
    # drop the overstrike and hyphenation so words can be searched
    t = re.sub(r".\x08", "", r.stdout.decode(errors="replace"))
    return t.replace("\u2010\n", "").replace("-\n", "")


def documented():
    """Every directive vhost.c knows and every flag getopt takes."""
    with open(os.path.join(TOP, "vhost.c")) as f:
        names = re.findall(r'^\s*\{ "([a-z-]+)", SCOPE_', f.read(), re.M)
    ok("vhost.c lists its directives", len(names) >= 30, repr(names))
    t5 = rendered(MAN5)
    missing = [n for n in names if not re.search(r"^\s+%s(\s|$)" % re.escape(n), t5, re.M)]
    ok("itkd.conf(5) has an entry for every directive", missing == [], repr(missing))
    # each entry states a default (or that it is required/has none)
    entries = re.split(r"\n     (?=[a-z][a-z-]+(?: |\n))", t5.split("VHOST DIRECTIVES")[0] +
                       t5.split("VHOST DIRECTIVES")[-1])
    no_default = []
    for e in entries:
        head = e.split()[0] if e.split() else ""
        if head in names and head != "vhost" and not re.search(
                r"Default|Required|No default", e):
            no_default.append(head)
    ok("itkd.conf(5): every directive states its default", no_default == [], repr(no_default))
    with open(os.path.join(TOP, "itkd.c")) as f:
        m = re.search(r'getopt\(argc, argv, "([^"]+)"\)', f.read())
    flags = (m.group(1).replace(":", "") if m else "")
    t8 = rendered(MAN8)
    missing = [c for c in flags if not re.search(r"^\s+-%s\b" % c, t8, re.M)]
    ok("itkd(8) documents every flag (%s)" % flags, flags and missing == [], repr(missing))
    for sec in ("SIGNALS", "FILES", "EXIT STATUS", "PRIVILEGE MODEL"):
        ok("itkd(8) has a %s section" % sec, ("\n%s\n" % sec) in t8, sec)


install()
install_usr()
install_static()
if have_man():
    man_warnings()
    documented()
else:
    skip("man pages", "man-db/groff not installed and cannot be")
done()
