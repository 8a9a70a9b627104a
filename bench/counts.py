"""bench/counts.py: what a connection and a request cost, counted, not timed.

Rates against a floor do not travel between machines: itkd's extra cost
is system calls, page faults and mappings, whose price depends on the
kernel and its virtualisation. Their number does not. This module counts
them for one server at a time, on a few sequential requests (no load):

- strace_one(): `strace -f -ff -o` attached to the server's master
  (and to itkd's gatekeeper spawners, long-lived children of the master
  that fork the gatekeepers), one file per process; each process is
  given its role from the fork tree (the master's child, its child or a
  spawner's, whether it ran execve), and its calls are counted, failing
  ones named with their errno; a spawner's, per request it took.
- ptrace_one(): a small ptrace tracer (class Tracer) (ctypes, events only, no
  system-call stops) that stops each connection process at its birth
  (the mappings the fork copied: the child's own /proc/PID/maps before
  it runs) and at its exit (minor and major faults from /proc/PID/stat,
  Private_Dirty and Pss from /proc/PID/smaps_rollup, the mm still
  whole).

Both run the same client, after one uncounted connection of the same
kind: `close` connections of one request each (Connection: close), and
kept-alive connections of 1 and of 1 + KA_EXTRA requests that the client
closes; a kept-alive request's cost is the difference divided by
KA_EXTRA. bench/run calls measure() for itkd and
the floors; `python3 bench/counts.py` is the stand-alone form.
Python 3 standard library, strace, root.
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time

KA_EXTRA = 10          # requests added on a kept-alive connection
REPEAT = 5             # connections of each kind; the median is kept
SETTLE = 5.0           # seconds to wait for a connection's processes to end

# Roles by depth below the master, per server; a process that ran execve
# is "CGI" whatever its depth. itkd's monitor becomes the served process
# at its identity switch: its calls are split there (see split_monitor).
ROLES = {
    "itkd": {0: "master", 1: "monitor", 2: "gatekeeper"},   # and "spawner"
    "floor_fork": {0: "master", 1: "connection"},
    "floor_fork2": {0: "master", 1: "connection (answers)", 2: "reader"},
    "floor_keepalive": {0: "master", 1: "connection"},
}
SERVED = "served (stage 2)"
CGI_SETUP = "CGI child up to execve"


# ---------------------------------------------------------------- client
def request(host, path, keep, accept_encoding=None):
    h = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (path, host)
    if accept_encoding:
        h += "Accept-Encoding: %s\r\n" % accept_encoding
    if not keep:
        h += "Connection: close\r\n"
    return (h + "\r\n").encode()


def read_response(sock):
    """One response, read to its Content-Length; its status or raises."""
    data = b""
    while b"\r\n\r\n" not in data:
        b = sock.recv(65536)
        if not b:
            raise OSError("connection closed before a head (%r)" % data[:60])
        data += b
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        b = sock.recv(65536)
        if not b:
            raise OSError("connection closed in the body")
        body += b
    return int(head.split()[1])


def connection(port, n, keep, path="/1k.html", host="a.test", accept_encoding=None):
    """One connection of n requests (kept alive if keep, the last one
    too: the client closes); the statuses."""
    sock = socket.create_connection(("127.0.0.1", port), 5)
    statuses = []
    try:
        for i in range(n):
            sock.sendall(request(host, path, keep or i < n - 1, accept_encoding))
            statuses.append(read_response(sock))
        if not keep:
            # Connection: close: wait for the server's close, as wrk does
            sock.settimeout(5)
            while sock.recv(4096):
                pass
    finally:
        sock.close()
    return statuses


# The workloads: name -> (connections, requests each, kept alive, extra).
def workloads(server):
    w = {}
    if server != "floor_keepalive":      # it answers every head, closes never
        w["close"] = (REPEAT, 1, False, {})
    if server != "floor_fork" and server != "floor_fork2":
        w["ka1"] = (REPEAT, 1, True, {})
        w["ka%d" % (1 + KA_EXTRA)] = (REPEAT, 1 + KA_EXTRA, True, {})
    if server == "itkd":
        w["ka1_ae"] = (REPEAT, 1, True, {"accept_encoding": "gzip, br"})
        w["ka%d_ae" % (1 + KA_EXTRA)] = (REPEAT, 1 + KA_EXTRA, True,
                                         {"accept_encoding": "gzip, br"})
        w["cgi_close"] = (REPEAT, 1, False, {"path": "/hello.cgi"})
    return w


# ---------------------------------------------------------------- strace
LINE = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+|\?|0x[0-9a-f]+)(?:\s+(E[A-Z0-9]+))?")
FORKS = ("fork", "vfork", "clone", "clone3")


def parse_trace(path):
    """[(name, args, ret, errno)] of one strace -ff file, and whether the
    process ended (exited or was killed)."""
    calls, ended = [], False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("+++ "):
                ended = True
                continue
            m = LINE.match(line)
            if m:
                calls.append((m.group(1), m.group(2), m.group(3), m.group(4)))
            elif line.startswith("exit_group(") or line.startswith("exit("):
                calls.append((line.split("(")[0], "", "?", None))
    return calls, ended


def tree(traces, root):
    """pid -> (depth, parent) from the fork calls' return values."""
    depth, todo = {root: (0, None)}, [root]
    while todo:
        pid = todo.pop()
        for name, _, ret, _ in traces.get(pid, ([], False))[0]:
            if name in FORKS and ret.isdigit() and int(ret) > 0 and int(ret) in traces:
                depth[int(ret)] = (depth[pid][0] + 1, pid)
                todo.append(int(ret))
    return depth


CREDENTIALS = ("capset", "capget", "prctl", "getresuid", "getresgid", "setfsuid", "setfsgid",
               "getgroups", "setgroups", "setuid", "setgid", "setresuid", "setresgid",
               "setreuid", "setregid")


def split_monitor(calls):
    """itkd's monitor serves after it takes the vhost's identity: the calls
    up to its last successful uid change, and the credential calls right
    after it (the switch's own checks), are the monitor's; the rest, from
    its first look at the client, the served process's."""
    last = -1
    for i, (name, _, ret, _) in enumerate(calls):
        if name in ("setresuid", "setuid", "setreuid") and ret == "0":
            last = i
    if last < 0:
        return calls, []
    last += 1
    while last < len(calls) and calls[last][0] in CREDENTIALS:
        last += 1
    return calls[:last], calls[last:]


def wait_ended(prefix, root, timeout=SETTLE, keep=()):
    """Until every traced process but the master (and keep) has ended."""
    end = time.time() + timeout
    while time.time() < end:
        pending = False
        for fn in os.listdir(os.path.dirname(prefix)):
            if not fn.startswith(os.path.basename(prefix) + "."):
                continue
            pid = int(fn.rsplit(".", 1)[1])
            if pid != root and pid not in keep and not parse_trace(os.path.join(os.path.dirname(prefix), fn))[1]:
                pending = True
        if not pending:
            return True
        time.sleep(0.05)
    return False


def children(pid):
    """The connection processes among pid's children (itkd's spawners,
    which live as long as the master, are not)."""
    sp = spawners(pid)
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [c for c in f.read().split() if int(c) not in sp]
    except OSError:
        return []


def spawners(master):
    """itkd's gatekeeper spawners: the master's children that name
    themselves so; they fork the gatekeepers (depth 2 below the master)."""
    out = []
    try:
        with open("/proc/%d/task/%d/children" % (master, master)) as f:
            kids = [int(c) for c in f.read().split()]
    except OSError:
        return out
    for c in kids:
        try:
            with open("/proc/%d/comm" % c) as f:
                if f.read().strip() == "itkd spawner":
                    out.append(c)
        except OSError:
            pass
    return out


def warm_up(master, port, n, keep, extra):
    """One connection like the counted ones, not counted: what a server
    does once, at its first connection of a kind (itkd's master marks its
    keys MADV_DONTFORK then), is not a connection's cost. Then wait for
    its processes to end."""
    connection(port, n, keep, **extra)
    end = time.time() + SETTLE
    while children(master) and time.time() < end:
        time.sleep(0.02)


def tracer_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def strace_one(server, master, port, conns, n, keep, extra, tmp):
    """Counts per role of conns connections of n requests: role -> list
    (one per connection) of (calls, failing calls)."""
    prefix = os.path.join(tmp, "st")
    for fn in os.listdir(tmp):
        os.unlink(os.path.join(tmp, fn))
    warm_up(master, port, n, keep, extra)
    sp = spawners(master)
    p = subprocess.Popen(["strace", "-f", "-ff", "-q", "-s", "96", "-o", prefix,
                          "-p", str(master)] + ["-p%d" % s for s in sp],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 10
        while tracer_of(master) != p.pid:
            if time.time() > end or p.poll() is not None:
                raise OSError("strace did not attach to %d" % master)
            time.sleep(0.02)
        # whatever the master was doing when strace came is in its file;
        # a mark separates it from the connections
        os.stat("/proc/%d/stat" % master)
        for _ in range(conns):
            statuses = connection(port, n, keep, **extra)
            if any(s != 200 for s in statuses):
                raise OSError("answers %s" % statuses)
            if not wait_ended(prefix, master, keep=sp):
                raise OSError("a connection process did not end in %.0f s" % SETTLE)
        time.sleep(0.2)     # the master's reaping of the last one
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(10)
    traces = {}
    for fn in os.listdir(tmp):
        if fn.startswith("st."):
            traces[int(fn.rsplit(".", 1)[1])] = parse_trace(os.path.join(tmp, fn))
    depth = tree(traces, master)
    roles = ROLES[server]
    per = {}     # role -> [calls list per process]
    for s in sp:
        # a spawner's children are gatekeepers (depth 2, as a monitor's
        # own would be); its calls, cut at each request it took, are one
        # list per connection
        for pid, (d, _parent) in tree(traces, s).items():
            if d == 1:
                depth[pid] = (2, s)
        cur = None
        for c in traces.get(s, ([], False))[0]:
            if c[0] == "recvmsg":
                cur = []
                per.setdefault("spawner", []).append(cur)
            if cur is not None:
                cur.append(c)
        depth.pop(s, None)
    for pid, (d, parent) in sorted(depth.items()):
        calls = traces[pid][0]
        if d == 0:
            # the master: calls from its first accept on (the call strace
            # found it in comes first, partial)
            per.setdefault("master", []).append(calls)
            continue
        execs = [i for i, c in enumerate(calls) if c[0] == "execve"]
        if execs:
            # the fork child sets the program up (itkd's code), then execve
            per.setdefault(CGI_SETUP, []).append(calls[:execs[0] + 1])
            per.setdefault("CGI", []).append(calls[execs[0] + 1:])
            continue
        role = roles.get(d, "depth %d" % d)
        if server == "itkd" and d == 1:
            mon, served = split_monitor(calls)
            per.setdefault(role, []).append(mon)
            per.setdefault(SERVED, []).append(served)
            continue
        per.setdefault(role, []).append(calls)
    return per


def describe(call):
    """A call as the analysis names it: prctl and fcntl with their
    operation, a failing call with its errno."""
    name, args, _, err = call
    if name in ("prctl", "fcntl", "capset", "capget") or name.startswith("rt_sig"):
        op = args.split(",")[1 if name == "fcntl" else 0].strip()
        name += "(%s)" % op[:40]
    return name + (" " + err if err else "")


def summarise_calls(lists, divide=1):
    """[calls per process] -> dict: calls (median per process), failing
    (median), the names (name -> count, for the median process), the
    failing ones (name errno -> count)."""
    if not lists:
        return None
    counts = sorted(lists, key=len)
    mid = counts[len(counts) // 2]
    names, fails = {}, {}
    for name, args, ret, err in mid:
        names[name] = names.get(name, 0) + 1
        if err:
            key = "%s %s" % (name, err)
            fails[key] = fails.get(key, 0) + 1
    return {"sequence": [describe(c) for c in mid],
            "calls": statistics.median(len(c) for c in lists) / divide,
            "failing": statistics.median(sum(1 for x in c if x[3]) for c in lists) / divide,
            "names": names, "fails": fails, "processes": len(lists)}


# ---------------------------------------------------------------- ptrace
PTRACE_CONT, PTRACE_DETACH = 7, 17
PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_LISTEN = 0x4206, 0x4207, 0x4208
PTRACE_GETEVENTMSG = 0x4201
O_TRACEFORK, O_TRACEVFORK, O_TRACECLONE, O_TRACEEXEC, O_TRACEEXIT = 0x2, 0x4, 0x8, 0x10, 0x40
EV_FORK, EV_VFORK, EV_CLONE, EV_EXEC, EV_EXIT, EV_STOP = 1, 2, 3, 4, 6, 128
WALL = 0x40000000


def proc_stat(pid):
    """(minor faults, major faults) of a process."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[7]), int(rest[9])


def rollup(pid):
    """Private_Dirty, Pss, Rss in KiB."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Private_Dirty", "Pss", "Rss"):
                out[k] = int(v.split()[0])
    return out


def vmas(pid):
    with open("/proc/%d/maps" % pid) as f:
        return sum(1 for _ in f)


class Tracer(threading.Thread):
    """ptrace events of a master and every process it forks: births, execs
    and exits, read from /proc while the process is stopped."""

    def __init__(self, master):
        super().__init__(daemon=True)
        self.master = master
        # itkd's spawners fork the gatekeepers: traced too, as if
        # children of the master, and not counted themselves
        self.spawners = spawners(master)
        self.procs = {}          # pid -> dict(depth, vmas, exec, minflt, majflt, ...)
        self.stop_asked = False
        self.error = None
        self.attached = threading.Event()
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                                     ctypes.c_void_p]
        self.libc.ptrace.restype = ctypes.c_long

    def pt(self, req, pid, addr=0, data=0):
        r = self.libc.ptrace(req, pid, addr, data)
        if r < 0:
            raise OSError(ctypes.get_errno(), "ptrace(%#x, %d)" % (req, pid))
        return r

    def run(self):
        try:
            self.trace()
        except Exception as e:       # reported by the caller
            self.error = e
            self.attached.set()

    def trace(self):
        opts = O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC | O_TRACEEXIT
        self.pt(PTRACE_SEIZE, self.master, 0, opts)
        for s in self.spawners:
            self.pt(PTRACE_SEIZE, s, 0, opts)
            self.procs[s] = {"parent": self.master, "spawner": True, "started": True,
                             "vmas": 0}
        self.attached.set()
        interrupted = False
        held = set([self.master] + self.spawners)
        msg = ctypes.c_ulong()
        while True:
            if self.stop_asked and not interrupted:
                for h in held:
                    self.pt(PTRACE_INTERRUPT, h)
                interrupted = True
            try:
                pid, status = os.waitpid(-1, WALL | os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.002)
                continue
            if not os.WIFSTOPPED(status):
                continue            # exited or killed: seen at its exit event
            sig, event = os.WSTOPSIG(status), status >> 16
            if pid in held and interrupted and event == EV_STOP:
                self.pt(PTRACE_DETACH, pid)
                held.discard(pid)
                if not held:
                    return
                continue
            inject = 0
            if event in (EV_FORK, EV_VFORK, EV_CLONE):
                self.pt(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(msg))
                # the child's own first stop may come before this
                self.procs.setdefault(msg.value, {})["parent"] = pid
            elif event == EV_EXEC:
                self.procs.setdefault(pid, {})["exec"] = True
            elif event == EV_EXIT and pid != self.master and pid not in self.spawners:
                p = self.procs.setdefault(pid, {})
                try:
                    p["minflt"], p["majflt"] = proc_stat(pid)
                    p.update(rollup(pid))
                except OSError:
                    pass
            elif event == EV_STOP:
                if pid != self.master and "vmas" not in self.procs.get(pid, {}):
                    # a new child's first stop: it has run nothing yet;
                    # its mappings are what its parent's fork copied
                    p = self.procs.setdefault(pid, {})
                    try:
                        p["vmas"] = vmas(pid)
                    except OSError:
                        pass
                if sig in (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU) \
                        and pid in self.procs and "vmas" in self.procs[pid] \
                        and self.procs[pid].get("started"):
                    self.pt(PTRACE_LISTEN, pid)     # a group stop: leave it
                    continue
                self.procs.setdefault(pid, {})["started"] = True
            elif event == 0:
                inject = sig                  # a signal for the tracee
            try:
                self.pt(PTRACE_CONT, pid, 0, inject)
            except OSError:
                pass                          # it died meanwhile


def ptrace_one(server, master, port, conns, n, keep, extra):
    """Per role: lists (one per process) of faults, pages, mappings; and
    the master's faults per connection."""
    warm_up(master, port, n, keep, extra)
    before = proc_stat(master)
    t = Tracer(master)
    t.start()
    t.attached.wait(10)
    if t.error:
        raise OSError("ptrace: %s" % t.error)
    try:
        for _ in range(conns):
            statuses = connection(port, n, keep, **extra)
            if any(s != 200 for s in statuses):
                raise OSError("answers %s" % statuses)
            end = time.time() + SETTLE
            while time.time() < end and any("minflt" not in p and not p.get("gone")
                                            and not p.get("spawner")
                                            for p in t.procs.values()):
                for pid, p in t.procs.items():
                    if "minflt" not in p and not os.path.exists("/proc/%d" % pid):
                        p["gone"] = True
                time.sleep(0.01)
        time.sleep(0.2)
    finally:
        t.stop_asked = True
        t.join(10)
    if t.error:
        raise OSError("ptrace: %s" % t.error)
    after = proc_stat(master)
    roles = ROLES[server]
    per = {}
    for pid, p in t.procs.items():
        if p.get("spawner"):
            continue
        depth, up = 0, pid
        while up != master and up in t.procs and depth < 16:
            depth, up = depth + 1, t.procs[up].get("parent")
        role = "CGI" if p.get("exec") else roles.get(depth, "depth %d" % depth)
        if server == "itkd" and role == roles[1]:
            role = roles[1] + " + " + SERVED
        per.setdefault(role, []).append(p)
    master_row = {"minflt": (after[0] - before[0]) / conns,
                  "majflt": (after[1] - before[1]) / conns}
    return per, master_row


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


# ---------------------------------------------------------------- all
def measure(server, master, port, say=print):
    """Every count for one server (a key of ROLES) whose master is pid
    master and which serves /1k.html for Host a.test on port. A dict for
    raw.json: workload -> {"calls": role -> summary, "procs": role ->
    medians, "master": ...}, or {"error": why}."""
    if not shutil.which("strace"):
        return {"error": "strace is not installed"}
    out = {}
    import tempfile
    tmp = tempfile.mkdtemp(prefix="itkd-counts-")
    try:
        for wname, (conns, n, keep, extra) in workloads(server).items():
            try:
                per = strace_one(server, master, port, conns, n, keep, extra, tmp)
                calls = {role: summarise_calls(lists) for role, lists in per.items()
                         if role != "master"}
                # The master's loop, from its first fork to its last: whole
                # turns, whatever call strace found it in when it attached
                mlist = per.get("master", [[]])[0]
                forks = [i for i, c in enumerate(mlist) if c[0] in FORKS]
                turns = len(forks) - 1
                if turns >= 1:
                    mlist = mlist[forks[0]:forks[-1]]
                else:
                    turns = conns
                calls["master"] = {"calls": len(mlist) / turns,
                                   "failing": sum(1 for c in mlist if c[3]) / turns,
                                   "names": count_names(mlist, turns),
                                   "fails": count_fails(mlist, turns), "processes": 1,
                                   "sequence": [describe(c) for c in mlist]}
                procs, mrow = ptrace_one(server, master, port, conns, n, keep, extra)
                prow = {}
                for role, rows in procs.items():
                    prow[role] = {k: med(rows, k) for k in
                                  ("minflt", "majflt", "Private_Dirty", "Pss", "Rss", "vmas")}
                    prow[role]["processes"] = len(rows)
                prow["master"] = mrow
                out[wname] = {"calls": calls, "procs": prow, "requests": n, "conns": conns}
            except (OSError, subprocess.SubprocessError) as e:
                out[wname] = {"error": str(e)}
            say("  counts %-16s %-8s %s" % (server, wname, out[wname].get("error") or "ok"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def count_names(calls, divide=1):
    d = {}
    for c in calls:
        d[c[0]] = d.get(c[0], 0) + 1.0 / divide
    return {k: round(v, 3) for k, v in d.items()}


def count_fails(calls, divide=1):
    d = {}
    for c in calls:
        if c[3]:
            key = "%s %s" % (c[0], c[3])
            d[key] = d.get(key, 0) + 1.0 / divide
    return {k: round(v, 3) for k, v in d.items()}


# ---------------------------------------------------------------- report
SERVERS = ("itkd", "floor_fork", "floor_fork2", "floor_keepalive")
ROLE_ORDER = ("master", "spawner", "monitor", "gatekeeper", SERVED, CGI_SETUP, "CGI", "connection",
              "connection (answers)", "reader")


def _per_conn_workload(server):
    return "ka1" if server == "floor_keepalive" else "close"


def _fmt(v):
    if v is None:
        return "—"
    return "%d" % v if abs(v - round(v)) < 0.005 else "%.2f" % v


def _fails(d):
    return ", ".join("%s ×%s" % (k, _fmt(v)) for k, v in sorted(d.items())) or "none"


def connection_rows(counts, server, workload=None):
    """[(role, calls, failing, which fail, minflt, majflt, Private_Dirty,
    mappings copied)] for one connection, and the totals."""
    w = (counts.get(server) or {}).get(workload or _per_conn_workload(server)) or {}
    if not w or w.get("error"):
        return None, w.get("error", "not measured")
    rows = []
    calls, procs = w["calls"], w["procs"]
    for role in ROLE_ORDER:
        c = calls.get(role)
        p = procs.get(role)
        if role in (ROLES.get(server, {}).get(1), SERVED) and server == "itkd":
            p = procs.get(ROLES["itkd"][1] + " + " + SERVED)
        if role == CGI_SETUP:
            p = None            # its faults and pages are the CGI row's
        if c is None and p is None:
            continue
        rows.append(dict(role=role, calls=c and c["calls"], failing=c and c["failing"],
                         fails=c["fails"] if c else {},
                         minflt=None if role == SERVED else p and p.get("minflt"),
                         majflt=None if role == SERVED else p and p.get("majflt"),
                         dirty=None if role in (SERVED, "master") else p and p.get("Private_Dirty"),
                         vmas=None if role in (SERVED, "master") else p and p.get("vmas")))
    tot = dict(role="total", calls=sum(r["calls"] or 0 for r in rows),
               failing=sum(r["failing"] or 0 for r in rows),
               fails={}, minflt=sum(r["minflt"] or 0 for r in rows),
               majflt=sum(r["majflt"] or 0 for r in rows),
               dirty=sum(r["dirty"] or 0 for r in rows),
               vmas=sum(r["vmas"] or 0 for r in rows))
    for r in rows:
        for k, v in r["fails"].items():
            tot["fails"][k] = tot["fails"].get(k, 0) + v
    return rows + [tot], None


def kept_alive_request(counts, server, ae=False):
    """What one more request on a kept-alive connection costs the process
    that serves it: dict(calls, failing, names, fails, minflt) or None."""
    w = counts.get(server) or {}
    sfx = "_ae" if ae else ""
    a, b = w.get("ka1" + sfx), w.get("ka%d%s" % (1 + KA_EXTRA, sfx))
    if not a or not b or a.get("error") or b.get("error"):
        return None
    role = SERVED if server == "itkd" else "connection"
    ca, cb = a["calls"].get(role), b["calls"].get(role)
    if not ca or not cb:
        return None
    prole = ROLES["itkd"][1] + " + " + SERVED if server == "itkd" else role
    pa, pb = a["procs"].get(prole, {}), b["procs"].get(prole, {})

    def diff(x, y):
        keys = set(x) | set(y)
        d = {k: (y.get(k, 0) - x.get(k, 0)) / KA_EXTRA for k in keys}
        return {k: v for k, v in d.items() if abs(v) > 0.001}
    mf = None
    if pa.get("minflt") is not None and pb.get("minflt") is not None:
        mf = (pb["minflt"] - pa["minflt"]) / KA_EXTRA
    return {"calls": (cb["calls"] - ca["calls"]) / KA_EXTRA,
            "failing": (cb["failing"] - ca["failing"]) / KA_EXTRA,
            "names": diff(ca["names"], cb["names"]), "fails": diff(ca["fails"], cb["fails"]),
            "minflt": mf}


def report(counts):
    """Markdown lines for RESULTS.md, and the kept-alive request's figures
    for the targets."""
    L = ["## What a connection and a request cost, counted\n",
         "Counts do not depend on the machine's speed: they are what a faster or slower "
         "kernel multiplies by its own price. Measured on a few sequential requests, "
         "not under load: system calls with `strace -f -ff` attached to the master "
         "(each process's calls apart, its role from the fork tree: the master's child "
         "is itkd's monitor, which becomes the served process once it has switched to the "
         "vhost's uid and checked the switch, its calls split there; a spawner's child (or the monitor's, when it forks its own) is the gatekeeper, the spawner's calls are counted per request it took; "
         "or the CGI program if it ran execve); faults, private pages and mappings "
         "with a ptrace tracer of its own (bench/counts.py) that stops each process at "
         "its birth (its /proc/PID/maps before it runs: the mappings its parent's fork "
         "copied) and at its exit (/proc/PID/stat faults, /proc/PID/smaps_rollup "
         "Private_Dirty, the address space still whole). Medians of %d connections; "
         "the master's figures are per connection. floor_keepalive's connection is one "
         "kept-alive request the client closes (it never closes itself). itkd's monitor and "
         "served process are one process: its faults, pages and mappings are on the "
         "monitor's row.\n" % REPEAT,
         "### Per connection, static 1 KiB, one request (`Connection: close`)\n",
         "| server | process | system calls | failing | which fail | minor faults | "
         "major faults | Private_Dirty KiB | mappings copied at its fork |",
         "|---|---|---:|---:|---|---:|---:|---:|---:|"]
    for server in SERVERS:
        rows, why = connection_rows(counts, server)
        if rows is None:
            L.append("| %s | | n/a: %s | | | | | | |" % (server, why))
            continue
        for r in rows:
            bold = "**" if r["role"] == "total" else ""
            L.append("| %s | %s%s%s | %s%s%s | %s | %s | %s | %s | %s | %s |" % (
                server, bold, r["role"], bold, bold, _fmt(r["calls"]), bold,
                _fmt(r["failing"]), _fails(r["fails"]) if r["failing"] else "",
                _fmt(r["minflt"]), _fmt(r["majflt"]), _fmt(r["dirty"]), _fmt(r["vmas"])))
    rows, why = connection_rows(counts, "itkd", "cgi_close")
    if rows:
        L.append("\nitkd, one CGI request per connection (`/hello.cgi`, static C program):\n")
        L.append("| process | system calls | failing | which fail | minor faults | "
                 "major faults | Private_Dirty KiB | mappings copied at its fork |")
        L.append("|---|---:|---:|---|---:|---:|---:|---:|")
        for r in rows:
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["role"], _fmt(r["calls"]), _fmt(r["failing"]),
                _fails(r["fails"]) if r["failing"] else "", _fmt(r["minflt"]),
                _fmt(r["majflt"]), _fmt(r["dirty"]), _fmt(r["vmas"])))
    L += ["", "### Per kept-alive request, static 1 KiB\n",
          "One connection of %d requests less one of 1, over %d: what one more request "
          "costs the process that serves it. No `.br` or `.gz` sibling exists.\n"
          % (1 + KA_EXTRA, KA_EXTRA),
          "| server, client | system calls | failing | which fail | minor faults | the calls |",
          "|---|---:|---:|---|---:|---|"]
    ka = {}
    for server, ae, label in (("itkd", False, "itkd, no Accept-Encoding (wrk)"),
                              ("itkd", True, "itkd, `Accept-Encoding: gzip, br`"),
                              ("floor_keepalive", False, "floor_keepalive")):
        k = kept_alive_request(counts, server, ae)
        ka[(server, ae)] = k
        if k is None:
            L.append("| %s | n/a | | | | |" % label)
            continue
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            label, _fmt(k["calls"]), _fmt(k["failing"]),
            _fails(k["fails"]) if k["failing"] else "", _fmt(k["minflt"]),
            ", ".join("%s ×%s" % (n, _fmt(v)) for n, v in sorted(k["names"].items()))))
    L.append("")
    return L, ka


def svg(counts):
    """Stacked bars: system calls and page faults per connection by
    process role, and system calls per kept-alive request."""
    colours = {"master": "#555", "monitor": "#2a7", "gatekeeper": "#e93", SERVED: "#37c",
               "connection": "#37c", "connection (answers)": "#2a7", "reader": "#e93",
               "CGI": "#a4c", "served": "#37c"}
    panels = []
    for title, field in (("system calls per connection (1 KiB, Connection: close)", "calls"),
                         ("page faults per connection (minor)", "minflt")):
        bars = []
        for server in SERVERS:
            rows, _ = connection_rows(counts, server)
            segs = [] if rows is None else [(r["role"], r[field] or 0) for r in rows[:-1]]
            if field == "minflt" and server == "itkd":
                # the monitor's faults include the served process's
                segs = [(("monitor + served" if r == "monitor" else r), v) for r, v in segs]
            bars.append((server, segs))
        panels.append((title, bars))
    bars = []
    for server, ae, label in (("itkd", False, "itkd"), ("itkd", True, "itkd, gzip/br"),
                              ("floor_keepalive", False, "floor_keepalive")):
        k = kept_alive_request(counts, server, ae)
        bars.append((label, [] if k is None else
                     [("served" if server == "itkd" else "connection", k["calls"])]))
    panels.append(("system calls per kept-alive request", bars))
    left, width, row, gap = 150, 520, 20, 44
    h = 30
    for _, bars in panels:
        h += gap + row * len(bars)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (left + width + 60, h + 80),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="20" font-size="14" font-weight="bold">What a connection costs, '
         'counted: itkd against the floors (lower is better)</text>']
    y = 30
    seen = {}
    for title, bars in panels:
        top = max([sum(v for _, v in segs) for _, segs in bars] + [1])
        scale = width / float(top)
        o.append('<text x="10" y="%d" font-weight="bold">%s</text>' % (y + 24, title))
        y += gap - 14
        for label, segs in bars:
            o.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + 14, label))
            x = left
            for role, v in segs:
                c = colours.get(role.split(" +")[0], "#999")
                seen[role.split(" +")[0]] = c
                o.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s">'
                         '<title>%s: %s</title></rect>' % (x, y + 3, v * scale, row - 6, c,
                                                           role, _fmt(v)))
                x += v * scale
            o.append('<text x="%.1f" y="%d">%s</text>' % (x + 4, y + 14,
                                                         _fmt(sum(v for _, v in segs))))
            y += row
        y += 14
    x = 10
    for role, c in seen.items():
        if x + 30 + 7 * len(role) > left + width + 50:
            x, y = 10, y + 18
        o.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (x, y + 8, c))
        o.append('<text x="%d" y="%d">%s</text>' % (x + 14, y + 17, role))
        x += 30 + 7 * len(role)
    o.append("</svg>")
    return "\n".join(o) + "\n"


def self_test():
    """The parsing and the arithmetic on a fixed trace (no server, no
    root): prints ok/FAIL lines like the project's tests; 0 if all pass."""
    import tempfile
    bad = 0

    def check(name, got, want):
        nonlocal bad
        if got == want:
            print("ok " + name)
        else:
            bad += 1
            print("FAIL %s: got %r, want %r" % (name, got, want))
    tmp = tempfile.mkdtemp(prefix="itkd-counts-test-")
    try:
        files = {
            100: 'poll([{fd=3, events=POLLIN}], 1, -1) = 1 ([{fd=3, revents=POLLIN}])\n'
                 'fork() = 101\n'
                 'accept4(3, 0x7ffd, [16], SOCK_NONBLOCK) = -1 EAGAIN (Resource '
                 'temporarily unavailable)\n'
                 '--- SIGCHLD {si_signo=SIGCHLD} ---\n'
                 'fork() = 103\n',
            101: 'fork() = 102\n'
                 'setresuid(61101, 61101, 61101) = 0\n'
                 'getresuid([61101], [61101], [61101]) = 0\n'
                 'setuid(0) = -1 EPERM (Operation not permitted)\n'
                 'poll([{fd=5, events=POLLIN}], 1, 10000) = 1\n'
                 'openat2(4, "1k.html.br", {flags=O_RDONLY}, 24) = -1 ENOENT (No such file)\n'
                 'sendto(0, "HTTP/1.1 200 OK\\r\\n) = 3"..., 1100, 0, NULL, 0) = 1100\n'
                 'exit_group(0) = ?\n+++ exited with 0 +++\n',
            102: 'prctl(PR_SET_NAME, "a.test") = 0\nexit_group(0) = ?\n+++ exited with 0 +++\n',
            103: 'execve("./hello.cgi", ["hello.cgi"], 0x5) = 0\nwritev(1, [], 2) = 40\n'
                 'exit_group(0) = ?\n+++ exited with 0 +++\n',
        }
        traces = {}
        for pid, text in files.items():
            path = os.path.join(tmp, "st.%d" % pid)
            with open(path, "w") as f:
                f.write(text)
            traces[pid] = parse_trace(path)
        check("parse: calls of the master", [c[0] for c in traces[100][0]],
              ["poll", "fork", "accept4", "fork"])
        check("parse: a failing call's errno", traces[100][0][2][3], "EAGAIN")
        check("parse: a string holding ') = '", traces[101][0][6][2], "1100")
        check("parse: exit_group counted, the process ended",
              (traces[101][0][-1][0], traces[101][1], traces[100][1]),
              ("exit_group", True, False))
        check("tree: depths", {p: d for p, (d, _) in tree(traces, 100).items()},
              {100: 0, 101: 1, 102: 2, 103: 1})
        mon, served = split_monitor(traces[101][0])
        check("split: the switch and its checks are the monitor's", [c[0] for c in mon],
              ["fork", "setresuid", "getresuid", "setuid"])
        check("split: the rest is the served process's", [c[0] for c in served],
              ["poll", "openat2", "sendto", "exit_group"])
        check("describe", describe(traces[102][0][0]), "prctl(PR_SET_NAME)")
        ka = {"itkd": {w: {"calls": {SERVED: {"calls": c, "failing": 0, "names": {"read": c},
                                               "fails": {}}},
                           "procs": {}} for w, c in (("ka1", 14), ("ka11", 64))}}
        k = kept_alive_request(ka, "itkd")
        check("kept-alive request: the difference over KA_EXTRA",
              (k["calls"], k["names"]), (5.0, {"read": 5.0}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if bad else 0


def main():
    """Stand-alone: lay out the bench's sites, start itkd and the floors
    (bench/run's functions), count, print the tables."""
    import importlib.machinery
    import json
    import sys
    import tempfile
    bench = os.path.dirname(os.path.abspath(__file__))
    run = importlib.machinery.SourceFileLoader("bench_run", os.path.join(bench, "run")).load_module()
    if os.geteuid() != 0:
        print("bench/counts.py: needs root (servers switch uids)")
        return 1
    work = tempfile.mkdtemp(prefix="itkd-counts-", dir="/var/tmp")
    os.chmod(work, 0o755)
    users = run.make_users()
    servers, counts = {}, {}
    try:
        run.layout(work)
        servers["itkd"] = run.start_itkd(work, rsa=False)
        for name, args in (("floor_fork", []), ("floor_fork2", ["2"]), ("floor_keepalive", [])):
            servers[name] = run.start_floor(work, name, args)
        for name, s in servers.items():
            why = s.why("http")
            counts[name] = {"error": why} if why else measure(name, s.master, s.ports["http"])
    finally:
        for s in servers.values():
            s.stop()          # and removes its cgroup
        run.remove_users(users)
        shutil.rmtree(work, ignore_errors=True)
        if run.CGROUP_RUN and os.path.isdir(run.CGROUP_RUN):
            os.rmdir(run.CGROUP_RUN)
    lines, _ = report(counts)
    print("\n".join(lines))
    out = os.environ.get("BENCH_COUNTS_JSON")
    if out:
        with open(out, "w") as f:
            json.dump(counts, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(self_test() if "--self-test" in sys.argv[1:] else main())
