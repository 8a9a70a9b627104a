"""tests/integration/test_gitweb.py: a real application behind `auth` and
`allow`, opened by a real browser with credentials.

Debian's gitweb (a Perl CGI program) serves a test repository from a vhost
that has `auth / ...` and `allow / 127.0.0.1`. Headless Chromium loads it
with the user and password in the URL and prints the DOM (--dump-dom): the
page must list the repository and its last commit's subject. Without
credentials the browser gets a 401 and no list. Skips when gitweb, git or
chromium cannot be had.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import RANGES, UID_USER, UID_A, Server, done, mkdir, need_root, ok, skip, write

need_root("gitweb")

GITWEB = "/usr/share/gitweb/gitweb.cgi"
PASSWORD = "gitweb-Pa55"

CONF = ("""
listen 127.0.0.1:{port}
user #%d
group #%d
""" + RANGES + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 10

vhost git.test
root {dir}/www
user #%d
group #%d
index gitweb.cgi
cgi .cgi
allow / 127.0.0.1
auth / "Git at itkd" {dir}/www/.htpasswd
""") % (UID_USER, UID_USER, UID_A, UID_A)


def have(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return "ok installed" in r.stdout


def lay_out(d):
    repos = mkdir(os.path.join(d, "repos"), UID_A, UID_A, 0o755)
    src = os.path.join(d, "src")
    env = dict(os.environ, GIT_AUTHOR_NAME="itkd", GIT_AUTHOR_EMAIL="itkd@test",
               GIT_COMMITTER_NAME="itkd", GIT_COMMITTER_EMAIL="itkd@test", HOME=d)
    subprocess.run(["git", "init", "-q", src], check=True, env=env)
    write(os.path.join(src, "README"), "hello\n")
    subprocess.run(["git", "-C", src, "add", "README"], check=True, env=env)
    subprocess.run(["git", "-C", src, "commit", "-q", "-m", "first commit behind itkd auth"],
                   check=True, env=env)
    subprocess.run(["git", "clone", "-q", "--bare", src, os.path.join(repos, "demo.git")],
                   check=True, env=env)
    write(os.path.join(repos, "demo.git", "description"), "itkd demo repository\n")
    subprocess.run(["chown", "-R", "%d:%d" % (UID_A, UID_A), repos], check=True)
    www = mkdir(os.path.join(d, "www"), UID_A, UID_A, 0o755)
    for f in os.listdir("/usr/share/gitweb/static"):
        shutil.copy(os.path.join("/usr/share/gitweb/static", f), www)
        os.chown(os.path.join(www, f), UID_A, UID_A)
    conf = write(os.path.join(d, "gitweb.conf"),
                 '$projectroot = "%s";\n$git_temp = "/tmp";\n'
                 '$stylesheet = "gitweb.css";\n$javascript = "gitweb.js";\n'
                 '$logo = "git-logo.png";\n$favicon = "git-favicon.png";\n'
                 # gitweb answers 503 above a load average of its own
                 # (a busy CI machine has one): not what this test is about.
                 '$maxload = undef;\n' % repos)
    # The environment a CGI program gets is built from scratch: a wrapper
    # names gitweb's config.
    write(os.path.join(www, "gitweb.cgi"),
          "#!/bin/sh\nGITWEB_CONFIG=%s exec /usr/bin/perl %s\n" % (conf, GITWEB),
          UID_A, UID_A, 0o755)
    hashed = subprocess.run(["openssl", "passwd", "-6", PASSWORD], capture_output=True,
                            text=True, check=True).stdout.strip()
    write(os.path.join(www, ".htpasswd"), "alice:%s\n" % hashed, UID_A, UID_A, 0o600)


def chromium(binary, url):
    profile = tempfile.mkdtemp(prefix="itkd-chr-", dir="/tmp")
    try:
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "--no-proxy-server", "--no-pings", "--disable-domain-reliability",
                "--disable-client-side-phishing-detection", "--disable-default-apps",
                "--virtual-time-budget=5000", "--dump-dom", url]
        env = dict(os.environ, HOME=profile, TMPDIR=profile)
        return subprocess.run(argv, capture_output=True, text=True, timeout=90, env=env)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main():
    binary = shutil.which("chromium")
    if not (os.path.exists(GITWEB) and shutil.which("git") and binary):
        skip("gitweb behind auth", "needs the gitweb, git and chromium packages")
        return
    srv = Server(CONF, name="gw", start=False)
    try:
        lay_out(srv.dir)
        srv.start()
        r = chromium(binary, "http://alice:%s@127.0.0.1:%d/" % (PASSWORD, srv.port))
        dom = r.stdout
        ok("gitweb: Chromium with credentials sees the project list",
           "demo.git" in dom and "itkd demo repository" in dom,
           dom[-600:] or r.stderr[-600:])
        print("# gitweb page title: %s" % (dom.split("<title>")[1].split("</title>")[0]
                                           if "<title>" in dom else "?"))
        r = chromium(binary, "http://alice:%s@127.0.0.1:%d/?p=demo.git;a=summary"
                     % (PASSWORD, srv.port))
        ok("gitweb: the repository summary shows the last commit",
           "first commit behind itkd auth" in r.stdout, r.stdout[-600:])
        before = srv.access().count('"GET / HTTP/1.1" 401')
        r = chromium(binary, "http://127.0.0.1:%d/" % srv.port)
        ok("gitweb: Chromium without credentials gets no project list",
           "demo.git" not in r.stdout, r.stdout[-400:])
        acc = srv.access()
        ok("gitweb: ... because its request got a 401",
           acc.count('"GET / HTTP/1.1" 401') > before, acc[-600:])
    finally:
        srv.cleanup()


main()
done()
