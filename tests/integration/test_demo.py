"""What `make run` tells its user is true: the curl commands scripts/demo
prints, run against conf/demo.conf (its port and roots moved into a
throwaway directory), do what the banner says: two requests for alice on
one kept-alive connection answered by one process as 62001; alice then
bob on one connection: closed unanswered, curl retries on a new one,
served as 62002; with `cross-identity handoff`, the same connection goes
on; two host names, two connections."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("demo")
if shutil.which("curl") is None:
    skip("demo", "no curl")
    done()

with open(os.path.join(TOP, "scripts", "demo")) as f:
    demo = f.read()
banner = demo[demo.index("cat <<EOT"):]
banner = banner[:banner.index("\nEOT")]
cmds = [ln.strip() for ln in banner.splitlines() if ln.startswith("  curl ")]
ok("demo: the banner gives curl commands", len(cmds) >= 4, cmds)
with open(os.path.join(TOP, "conf", "demo.conf")) as f:
    conf = f.read()

WHOAMI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho \"uid=$(id -u)\"\n"


def run(extra=""):
    text = conf.replace("/var/tmp/itkd-demo", "{dir}").replace(
        "127.0.0.1:8080", "127.0.0.1:{port}")
    if extra:
        text = text.replace("\nvhost ", "\n%s\nvhost " % extra, 1)
    s = Server(text, "demo", start=False)
    for name, uid in (("alice", 62001), ("bob", 62002)):
        mkdir(os.path.join(s.dir, name), uid, uid, 0o755)
        write(os.path.join(s.dir, name, "index.html"), "Hello from %s\n" % name, uid, uid)
        write(os.path.join(s.dir, name, "whoami.cgi"), WHOAMI, uid, uid, 0o755)
    s.start()
    return s


def curl(s, cmd):
    argv = re.findall(r"'[^']*'|\S+", cmd.replace("8080", str(s.port)))
    argv = [a.strip("'") for a in argv]
    argv[1:1] = ["-s", "-v", "--max-time", "10"]
    if "localhost" in cmd and "Host:" not in cmd:
        argv[1:1] = ["--resolve", "alice.localhost:%d:127.0.0.1" % s.port,
                     "--resolve", "bob.localhost:%d:127.0.0.1" % s.port]
    r = subprocess.run(argv, capture_output=True, timeout=30)
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def find(words):
    for c in cmds:
        if all(w in c for w in words):
            return c
    return None


keep = find(["alice.localhost", "whoami.cgi", "127.0.0.1:8080/ http"])
nxt = find(["--next", "Host: bob.localhost"])
with run() as s:
    if ok("demo: the banner has the kept-alive command", keep is not None, cmds):
        out, err = curl(s, keep)
        ok("demo: two requests for alice on one kept-alive connection, as 62001",
           "Hello from alice" in out and "uid=62001" in out and
           err.count("Connected to") == 1 and "Re-using existing connection" in err,
           (out, err[-1500:]))
    if ok("demo: the banner has the --next command", nxt is not None, cmds):
        out, err = curl(s, nxt)
        ok("demo: alice then bob: closed unanswered, curl retries on a new connection",
           "Hello from alice" in out and "Hello from bob" in out and
           "Re-using existing connection" in err and "Connection died, retrying" in err and
           err.count("Connected to") == 2, (out, err[-1500:]))
    out, err = curl(s, "curl http://alice.localhost:8080/ --next http://bob.localhost:8080/")
    ok("demo: two host names are two connections",
       "Hello from alice" in out and "Hello from bob" in out and
       err.count("Connected to") == 2 and "Re-using" not in err, err[-1500:])
if nxt is not None:
    with run("cross-identity handoff") as s:
        out, err = curl(s, nxt)
        ok("demo: with cross-identity handoff the one connection goes on as bob",
           "Hello from alice" in out and "Hello from bob" in out and
           err.count("Connected to") == 1 and "retrying" not in err, (out, err[-1500:]))
done()
