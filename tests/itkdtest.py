"""tests/itkdtest.py: what every integration test shares.

Starts the real ./itkd as root on 127.0.0.1 with a throwaway directory and
numeric test ids, and talks to it with raw sockets. Each check prints one
line, "ok NAME" or "FAIL NAME: detail", that tests/run.sh counts.
"""
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITKD = os.environ.get("ITKD", os.path.join(TOP, "itkd"))

# Numeric ids no system user has, all taken from ID_BASE .. ID_BASE+999:
# ITKD_TEST_UID_BASE moves them (default 61000), so the suite can run beside
# anything else that uses these numbers. tid(n) is the test id n.
ID_BASE = int(os.environ.get("ITKD_TEST_UID_BASE", "61000"))
if not 2000 <= ID_BASE <= 3999990000:
    sys.exit("ITKD_TEST_UID_BASE=%d: want 2000..3999990000" % ID_BASE)


def tid(n):
    return ID_BASE + n


# The global user and three vhost owners.
UID_USER, UID_A, UID_B, UID_C = tid(0), tid(1), tid(2), tid(3)
# What vhosts may run as: every test id but the global user's (the
# gatekeeper's), which must be outside both ranges.
RANGE_MIN, RANGE_MAX = tid(1), tid(999)
RANGES = "uid-range %d %d\ngid-range %d %d\n" % (RANGE_MIN, RANGE_MAX, RANGE_MIN, RANGE_MAX)
# A narrower range, for the tests that need an id just outside it (tid(211)).
RANGES_99 = "uid-range %d %d\ngid-range %d %d\n" % (tid(1), tid(99), tid(1), tid(99))
# Test ports: a free one the kernel picks, unless ITKD_TEST_PORT_BASE names
# a range of 5000 ports to take them from instead.
PORT_BASE = int(os.environ.get("ITKD_TEST_PORT_BASE", "0"))
if PORT_BASE and not 1024 <= PORT_BASE <= 60535:
    sys.exit("ITKD_TEST_PORT_BASE=%d: want 1024..60535" % PORT_BASE)
_port_tries = [0]

failed = 0


def ok(name, cond, detail=""):
    global failed
    if cond:
        print("ok " + name, flush=True)
    else:
        failed = 1
        print("FAIL %s: %s" % (name, detail), flush=True)
    return cond


def wait_for(cond, seconds=5.0):
    """Poll cond until it holds or seconds pass; a fixed sleep would be
    too short on a slow machine and wasted on a fast one."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def skip(name, why):
    print("skip %s: %s" % (name, why), flush=True)


def need_root(name):
    """A test that needs root says so and skips cleanly elsewhere."""
    if os.geteuid() != 0:
        skip(name, "needs root")
        sys.exit(0)


def done():
    sys.exit(failed)


def free_port():
    for _ in range(5000):
        s = socket.socket()
        try:
            if PORT_BASE:
                # Each test program starts at its own place in the range, so
                # one run after another does not meet a port in TIME_WAIT.
                _port_tries[0] += 1
                s.bind(("127.0.0.1", PORT_BASE + (os.getpid() * 97 + _port_tries[0]) % 5000))
            else:
                s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    sys.exit("no free port from ITKD_TEST_PORT_BASE=%d" % PORT_BASE)


def mkdir(path, uid=0, gid=0, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


def write(path, data, uid=0, gid=0, mode=0o644):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


class Server:
    """One itkd under test. conf is the config text; "{port}", "{dir}" and
    "{tlsport}" in it are filled in. Logs go to dir/error.log and
    dir/access.log unless the config says otherwise."""

    def __init__(self, conf, name="t", tls=False, extra_args=(), start=True):
        os.makedirs(os.path.join(TOP, "tests", "tmp"), exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="itkd-%s-" % name,
                                    dir=os.path.join(TOP, "tests", "tmp"))
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.tlsport = free_port() if tls else 0
        self.conf_text = conf
        self.conf = os.path.join(self.dir, "itkd.conf")
        self.errlog = os.path.join(self.dir, "error.log")
        self.acclog = os.path.join(self.dir, "access.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.write_conf(conf)
        if start:
            self.start()

    def fill(self, text):
        return (text.replace("{port}", str(self.port))
                .replace("{tlsport}", str(self.tlsport))
                .replace("{dir}", self.dir))

    def write_conf(self, conf):
        with open(self.conf, "w") as f:
            f.write(self.fill(conf))

    def start(self, wait=True):
        self.stderr = open(os.path.join(self.dir, "stderr.txt"), "wb")
        self.proc = subprocess.Popen([ITKD, "-f", "-c", self.conf] + self.extra_args,
                                     stdin=subprocess.DEVNULL, stdout=self.stderr,
                                     stderr=self.stderr)
        if wait:
            self.wait_port(self.port)

    def wait_port(self, port, timeout=5.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("itkd exited %s: %s" % (self.proc.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("itkd did not listen on %d" % port)

    def log(self):
        out = ""
        for p in (os.path.join(self.dir, "stderr.txt"), self.errlog):
            try:
                with open(p, errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def access(self):
        try:
            with open(self.acclog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def all_children(self):
        """pids of the master's live children, its spawners included."""
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def children(self):
        """pids of the master's live children but its gatekeeper
        spawners: the connection processes."""
        spawners = self.spawners()
        return [p for p in self.all_children() if p not in spawners]

    def spawners(self, wait=0.0):
        """pids of the master's gatekeeper spawners, which name themselves
        (a spawner of an earlier config stays until it is drained); wait:
        seconds to wait for at least one (a slow master forks them, and
        they name themselves, a moment after it listens)."""
        def found():
            return [p for p in self.all_children()
                    if proc_status(p).get("Name") == "itkd spawner"]
        if wait:
            wait_for(found, wait)
        return found()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.stderr.close()

    def cleanup(self):
        self.stop()
        if os.environ.get("ITKD_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.cleanup()


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    return s


def recv_all(s, timeout=5.0):
    """Everything until the peer closes (or the timeout: returns what came)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def raw(port, data, timeout=5.0, shut=True):
    """Send data on a new connection, half-close, return all bytes answered."""
    s = connect(port, timeout)
    try:
        if data:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        return recv_all(s, timeout)
    finally:
        s.close()


def parse(data, head_only=False):
    """Split a byte stream into responses: [(status, {name: value}, body)].
    Handles Content-Length, chunked, and read-to-close bodies. head_only
    responses (to HEAD) have no body."""
    out = []
    while data:
        i = data.find(b"\r\n\r\n")
        if i < 0:
            break
        head = data[:i].decode("latin-1").split("\r\n")
        data = data[i + 4:]
        m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
        status = int(m.group(1)) if m else -1
        h = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            h[k.strip().lower()] = v.strip()
        body = b""
        if head_only or status in (204, 304) or 100 <= status < 200:
            pass
        elif "transfer-encoding" in h:
            while True:
                j = data.find(b"\r\n")
                if j < 0:
                    break
                n = int(data[:j].split(b";")[0], 16)
                data = data[j + 2:]
                if n == 0:
                    k = data.find(b"\r\n\r\n") if not data.startswith(b"\r\n") else -2
                    data = data[2:] if k == -2 else data[k + 4:]
                    break
                body += data[:n]
                data = data[n + 2:]
        elif "content-length" in h:
            n = int(h["content-length"])
            body, data = data[:n], data[n:]
        else:
            body, data = data, b""
        if 100 <= status < 200:
            continue
        out.append((status, h, body))
    return out


def get(port, path="/", host="a.test", extra="", method="GET"):
    """One request on its own connection: (status, headers, body) or None."""
    req = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s\r\n" % (method, path, host, extra)
    r = parse(raw(port, req.encode()), head_only=(method == "HEAD"))
    return r[0] if r else None


def proc_status(pid):
    """/proc/PID/status as a dict, or {} when gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
    except OSError:
        return {}


def tcp_table():
    """(local port, remote port, state, inode) of every TCP socket on the
    machine, from /proc/net/tcp and tcp6 (ports and state in hex there)."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    w = line.split()
                    if len(w) > 9:
                        rows.append((int(w[1].split(":")[1], 16),
                                     int(w[2].split(":")[1], 16), w[3], w[9]))
        except OSError:
            pass
    return rows


def fd_targets(pid):
    """What each of pid's open fds points to (readlink of /proc/PID/fd/N)."""
    out = []
    d = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(d):
            try:
                out.append(os.readlink(os.path.join(d, fd)))
            except OSError:
                pass
    except OSError:
        pass
    return out


def socket_inodes(pid):
    return {t[len("socket:["):-1] for t in fd_targets(pid) if t.startswith("socket:[")}


def children_of_uid(srv, uid):
    """The master's children whose real uid is uid."""
    return [p for p in srv.children()
            if proc_status(p).get("Uid", "").split()[:1] == [str(uid)]]


def children_of(pid):
    """pids of pid's live children."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def runs_as(pid, uid):
    return proc_status(pid).get("Uid", "").split()[:1] == [str(uid)]


def server_end(sock):
    """Socket inodes of the server end of the connection whose client end
    is sock (a plain or a TLS socket): none until the master accepts it,
    nor once the connection is reset."""
    try:
        mine, port = sock.getsockname()[1], sock.getpeername()[1]
    except OSError:
        return set()
    return {row[3] for row in tcp_table() if row[0] == port and row[1] == mine}


def gatekeeper_of(srv, sock, timeout=10.0):
    """The gatekeeper of the connection whose client end is sock: a child
    of a spawner or of a monitor that forked its own (a grandchild of the
    master either way) that holds the server end and runs as the global
    user (a fresh fork is root for a moment), waited for;
    None if none comes. Only this connection's: another connection's
    gatekeeper may be about too (an earlier TLS connection's relay still
    ending, the one a wait_port probe made), and taking it looked at the
    wrong process, or at none when it ended between two looks."""
    found = []

    def find():
        inodes = server_end(sock)
        for p in srv.all_children():
            for k in children_of(p):
                if runs_as(k, UID_USER) and socket_inodes(k) & inodes:
                    found.append(k)
                    return True
        return False
    wait_for(find, timeout)
    return found[0] if found else None


def child_of_uid(srv, uid, timeout=3.0):
    """One child of the master running as uid, waited for; None if none
    comes within timeout."""
    wait_for(lambda: children_of_uid(srv, uid), timeout)
    return min(children_of_uid(srv, uid), default=None)


def conn_child(srv, sock, timeout=3.0, uid=None):
    """pid of the master's child that serves the connection whose client
    end is sock (the monitor, then stage 2): the one that holds the server
    end, or whose gatekeeper does (a TLS connection's stage 2 has let go
    of it); with uid, once it runs as uid. None if none comes within
    timeout. Other children may be about: the one wait_port's probe made,
    say, which the master may fork only now, or an earlier connection's
    still ending."""
    found = []

    def find():
        inodes = server_end(sock)
        # A TLS connection's gatekeeper (a spawner's child, or the
        # monitor's) holds the server end; stage 2 the other end of its
        # socketpair.
        relay = set()
        for p in srv.all_children():
            for k in children_of(p):
                if socket_inodes(k) & inodes:
                    relay |= socket_inodes(k)
        if relay:
            peers = unix_peers()
            relay = {peers[i] for i in relay if i in peers}
        for pid in srv.children():
            if uid is not None and not runs_as(pid, uid):
                continue
            if socket_inodes(pid) & (inodes | relay):
                found.append(pid)
                return True
        return False
    wait_for(find, timeout)
    return found[0] if found else None


def shared_maps(pid):
    """The shared mappings of pid, as lines of /proc/PID/maps."""
    with open("/proc/%d/maps" % pid) as f:
        return [l for l in f.read().splitlines() if l.split()[1][3] == "s"]


def zombies(parent=None):
    """pids of zombie itkd processes (children of parent, if given: other
    tests may run beside this one)."""
    z = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        st = proc_status(int(p))
        # A connection process names itself "itkd G/P" (its vhost).
        name = st.get("Name", "")
        if st.get("State", "").startswith("Z") and \
                (name == "itkd" or name.startswith("itkd ")) and \
                (parent is None or st.get("PPid") == str(parent)):
            z.append(int(p))
    return z


def zombies_of(srv):
    """pids of the zombie itkd processes of srv: the master's children and
    theirs (a gatekeeper its monitor has not waited for yet is one for a
    moment), not those of another server running beside it."""
    parents = {str(p) for p in [srv.proc.pid] + srv.children()}
    return [z for z in zombies() if proc_status(z).get("PPid") in parents]


def strace_calls(path):
    """(pid, call, args, result) of each complete line of an strace -f -o
    file; calls cut in two by another process's line are joined again."""
    calls, pending = [], {}
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"(\d+)\s+(.*)$", line.rstrip("\n"))
            if not m:
                continue
            pid, rest = int(m.group(1)), m.group(2)
            if rest.endswith("<unfinished ...>"):
                pending[pid] = rest[:-len("<unfinished ...>")]
                continue
            r = re.match(r"<\.\.\. \w+ resumed>(.*)$", rest)
            if r and pid in pending:
                rest = pending.pop(pid) + r.group(1)
            c = re.match(r"(\w+)\((.*)\)\s+=\s+(-?\d+|\?)", rest)
            if c:
                calls.append((pid, c.group(1), c.group(2), c.group(3)))
    return calls


def step_trace(master, client, settle=20.0):
    """The instructions a connection's processes run: tests/helpers/steptrace
    attached to master and its children at rest (the spawners), client()
    run, then every process forked meanwhile waited for. Returns
    {"monitor": [addr...], "gatekeeper": [addr...]} in the order run, all
    of each role's processes together: a monitor is the master's child, a
    gatekeeper a spawner's or a monitor's. Or a string, why it could not
    trace (steptrace not built, not written for this CPU, ptrace refused)."""
    tracer = os.path.join(TOP, "tests", "helpers", "steptrace")
    if not os.access(tracer, os.X_OK):
        return "tests/helpers/steptrace is not built"
    roots = [master] + children_of(master)
    out = tempfile.NamedTemporaryFile(prefix="steptrace-", delete=False)
    out.close()
    st = subprocess.Popen([tracer, out.name] + [str(p) for p in roots],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        said = st.stderr.readline()
        if b"attached" not in said:
            st.wait(5)
            return said.decode(errors="replace").strip() or "steptrace failed"
        client()
        forked = set()

        def quiet():
            # Every process the trace saw forked has exited.
            with open(out.name) as f:
                for line in f:
                    if line.startswith("fork "):
                        forked.add(int(line.split()[2]))
            return forked and not any(os.path.exists("/proc/%d" % p) for p in forked)
        wait_for(quiet, settle)
    finally:
        st.send_signal(signal.SIGINT)
        st.wait(10)
    parent, ips = {}, {}
    with open(out.name) as f:
        for line in f:
            w = line.split()
            if w[0] == "fork":
                parent[int(w[2])] = int(w[1])
            elif w[0] == "ip":
                ips.setdefault(int(w[1]), []).append(int(w[2], 16))
    os.unlink(out.name)
    roles = {"monitor": [], "gatekeeper": []}
    for pid, addrs in ips.items():
        roles["monitor" if parent.get(pid) == master else "gatekeeper"] += addrs
    return roles


def two_vhost_conf(extra_global="", extra_a="", extra_b=""):
    """Two vhosts, a.test and b.test, under UID_A and UID_B, each with a 0700
    root owned by its uid. Lay them out with two_vhost_roots(srv)."""
    return """
listen 127.0.0.1:{port}
user #%d
group #%d
uid-range %d %d
gid-range %d %d
error-log {dir}/error.log
access-log {dir}/access.log
timeout 5
%s
vhost a.test www.a.test
root {dir}/a
user #%d
group #%d
%s
vhost b.test
root {dir}/b
user #%d
group #%d
%s
""" % (UID_USER, UID_USER, RANGE_MIN, RANGE_MAX, RANGE_MIN, RANGE_MAX,
       extra_global, UID_A, UID_A, extra_a, UID_B, UID_B, extra_b)


def two_vhost_roots(dirpath):
    for name, uid in (("a", UID_A), ("b", UID_B)):
        root = mkdir(os.path.join(dirpath, name), uid, uid, 0o700)
        write(os.path.join(root, "index.html"), "<h1>%s</h1>\n" % name, uid, uid, 0o600)
        write(os.path.join(root, "secret.txt"), "secret of %s\n" % name, uid, uid, 0o600)


def read_response(s, timeout=5.0):
    """One response with Content-Length, leaving the connection open;
    b"" when the peer closed without answering."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(4096)
        if not b:
            return data
        data += b
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(body) < n:
        b = s.recv(4096)
        if not b:
            break
        body += b
    return head + b"\r\n\r\n" + body


def machine_lock(name, wait=180):
    """Serialize runs of a test that changes the machine (users, groups)
    against another run of itself (two make checks at once). Keep the
    returned file open while it matters; closing it lets go."""
    path = "/run/lock" if os.path.isdir("/run/lock") else "/tmp"
    f = open(os.path.join(path, "itkd-test-%s.lock" % name), "w")
    end = time.time() + wait
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except OSError:
            if time.time() > end:
                raise RuntimeError("another run of this test holds " + f.name)
            time.sleep(0.2)


def unix_peers():
    """{inode: its peer's inode} of every connected unix socket (ss -x)."""
    out = subprocess.run(["ss", "-xaH"], capture_output=True, text=True).stdout
    peers = {}
    for l in out.splitlines():
        w = l.split()
        if len(w) >= 8 and w[5].isdigit() and w[7].isdigit():
            peers[w[5]] = w[7]
    return peers


def asan_build():
    """Whether ITKD is a sanitizer build (`make check SANITIZE=1`), whose
    runtime makes system calls and keeps stack frames of its own."""
    try:
        with open(ITKD, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False
