#!/usr/bin/env python3
"""bench/scale.py: 10,000 concurrent keep-alive connections to one itkd,
then to Apache + mpm-itk (bench/scale.sh runs it).

For each server: open SCALE_CONNS connections (SCALE_INFLIGHT at a time
being opened), send one request on each and check every answer (200, the
whole 1 KiB page) while keeping them all open; then, with every one still
open, time SCALE_PROBES fresh connections (one request each, target under
100 ms), read the memory of the server's processes, send a second request
on every kept connection (still served: keep-alive) and close them all.

The client is this process: one epoll loop over raw non-blocking sockets,
the connections spread over source addresses 127.0.0.2-127.0.0.9 with
IP_BIND_ADDRESS_NO_PORT (so the ephemeral ports are per source address).

Kernel limits are raised for the run only (see Sysctls) and restored;
servers run in a cgroup of their own and are killed with it at the end.
Writes bench/results/scale.md and bench/results/scale.json.
Environment: SCALE_CONNS (10000), SCALE_INFLIGHT (64), SCALE_PROBES (10),
SCALE_SERVERS (itkd,apache), BENCH_ITKD (default ./itkd-static).
"""
import errno
import json
import os
import platform
import resource
import select
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_lib as L  # noqa: E402

CONNS = int(os.environ.get("SCALE_CONNS", "10000"))
INFLIGHT = int(os.environ.get("SCALE_INFLIGHT", "64"))
PROBES = int(os.environ.get("SCALE_PROBES", "10"))
SERVERS = os.environ.get("SCALE_SERVERS", "itkd,apache").split(",")
ITKD_MAX = max(CONNS * 6 // 5, CONNS + PROBES)      # 12000 for 10,000
APACHE_WORKERS = CONNS                              # MaxRequestWorkers 10000
KEEPALIVE = 900              # s: longer than any run; both servers' timeout
SOURCES = ["127.0.0.%d" % i for i in range(2, 10)]
REQUEST = b"GET /1k.html HTTP/1.1\r\nHost: a.test\r\n\r\n"
PROBE_REQUEST = b"GET /1k.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
REQUEST_TIMEOUT = 60.0       # s for one connection's connect and answer
PROBE_TIMEOUT = 3.0


# ---------------------------------------------------------------- answers
def answer_check(buf):
    """(done, error) for the bytes read so far: done once the head and a
    Content-Length body are in; error if they are not what was asked for."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return (False, "head over 8 KiB") if len(buf) > 8192 else (False, None)
    head = buf[:end].decode("latin-1")
    lines = head.split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200"):
        return True, "status line %r" % lines[0][:60]
    length, close = None, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v.strip()) if v.strip().isdigit() else -1
        elif k == "connection" and "close" in v.lower():
            close = True
    if length != len(L.PAGE):
        return True, "Content-Length %s, not %d" % (length, len(L.PAGE))
    body = buf[end + 4:]
    if len(body) < length:
        return False, None
    if body != L.PAGE:
        return True, "body differs (%d bytes)" % len(body)
    if close:
        return True, "the server closes the connection (Connection: close)"
    return True, None


class Conn:
    __slots__ = ("sock", "fd", "buf", "t0", "state", "index")

    def __init__(self, index):
        self.index, self.sock, self.fd, self.buf, self.t0, self.state = \
            index, None, -1, b"", 0.0, "new"


def open_socket(c, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IP, 24, 1)      # IP_BIND_ADDRESS_NO_PORT
    s.bind((SOURCES[c.index % len(SOURCES)], 0))
    s.setblocking(False)
    err = s.connect_ex(("127.0.0.1", port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        raise OSError(err, os.strerror(err))
    c.sock, c.fd = s, s.fileno()


def drive(port, conns, connect, fails):
    """One request on each of conns (after connecting them, if connect),
    INFLIGHT at a time. Returns the latencies in ms (request sent to the
    answer's last byte); failures go into fails (reason -> count) and the
    connection is closed."""
    ep = select.epoll(INFLIGHT + 16)
    byfd, lat = {}, []
    todo = list(reversed(conns))
    active = 0

    def fail(c, why):
        fails[why] = fails.get(why, 0) + 1
        try:
            ep.unregister(c.fd)
        except OSError:
            pass
        byfd.pop(c.fd, None)
        c.sock.close()
        c.state = "failed"

    def send(c):
        c.t0 = time.monotonic()
        try:
            n = c.sock.send(REQUEST)
        except OSError as e:
            return fail(c, "send: %s" % e.strerror)
        if n != len(REQUEST):
            return fail(c, "short send")
        c.buf, c.state = b"", "reading"
        ep.modify(c.fd, select.EPOLLIN)

    while todo or active:
        while todo and active < INFLIGHT:
            c = todo.pop()
            if connect:
                try:
                    open_socket(c, port)
                except OSError as e:
                    fails["connect: " + str(e.strerror)] = fails.get("connect: " + str(e.strerror),
                                                                     0) + 1
                    c.state = "failed"
                    continue
                c.state, c.t0 = "connecting", time.monotonic()
                byfd[c.fd] = c
                ep.register(c.fd, select.EPOLLOUT)
                active += 1
            else:
                byfd[c.fd] = c
                ep.register(c.fd, select.EPOLLIN)
                active += 1
                send(c)
                if c.state == "failed":
                    active -= 1
        late = time.monotonic() - REQUEST_TIMEOUT
        for c in [c for c in byfd.values() if c.t0 < late]:
            fail(c, "no answer in %.0f s" % REQUEST_TIMEOUT)
            active -= 1
        for fd, ev in ep.poll(1.0):
            c = byfd.get(fd)
            if c is None:
                continue
            if c.state == "connecting":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(c, "connect: " + os.strerror(err))
                    active -= 1
                    continue
                send(c)
                if c.state == "failed":
                    active -= 1
                continue
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                fail(c, "recv: %s" % e.strerror)
                active -= 1
                continue
            if not data:
                fail(c, "closed before the whole answer")
                active -= 1
                continue
            c.buf += data
            done, why = answer_check(c.buf)
            if why:
                fail(c, why)
                active -= 1
            elif done:
                lat.append((time.monotonic() - c.t0) * 1000.0)
                c.state, c.buf = "idle", b""
                ep.unregister(c.fd)
                byfd.pop(c.fd)
                active -= 1
    ep.close()
    return lat


def closed_while_idle(conns):
    """Kept connections the server has closed (EOF or error pending), checked
    with one poll; they are closed here and marked failed."""
    n = 0
    ep = select.epoll(len(conns) + 1)
    byfd = {}
    for c in conns:
        if c.state == "idle":
            ep.register(c.fd, select.EPOLLIN | select.EPOLLRDHUP)
            byfd[c.fd] = c
    for fd, ev in ep.poll(0):
        c = byfd[fd]
        c.sock.close()
        c.state = "failed"
        n += 1
    ep.close()
    return n


def probe(port):
    """ms from connect to the whole answer of a fresh connection, or the
    reason it failed."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), PROBE_TIMEOUT)
        s.settimeout(max(0.01, PROBE_TIMEOUT - (time.monotonic() - t0)))
        s.sendall(PROBE_REQUEST)
        buf = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            buf += data
            if buf.find(b"\r\n\r\n") >= 0 and len(buf) >= buf.find(b"\r\n\r\n") + 4 + len(L.PAGE):
                break
        s.close()
    except socket.timeout:
        return None, "no answer in %.0f s" % PROBE_TIMEOUT
    except OSError as e:
        return None, str(e)
    end = buf.find(b"\r\n\r\n")
    if not buf.startswith(b"HTTP/1.1 200") or end < 0 or buf[end + 4:] != L.PAGE:
        return None, "bad answer %r" % buf[:40]
    return (time.monotonic() - t0) * 1000.0, None


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def memory(master):
    """Total PSS of master and its descendants, the master's RSS, counts."""
    pids = [master] + L.descendants(master)
    total, n = 0, 0
    for pid in pids:
        kib = L.proc_kib(pid, "smaps_rollup", "Pss")
        if kib is not None:
            total += kib
            n += 1
    return {"processes": n, "pss_total_kib": total,
            "master_pss_kib": L.proc_kib(master, "smaps_rollup", "Pss"),
            "master_rss_kib": L.proc_kib(master, "status", "VmRSS"),
            "master_fds": L.count_fds(master)}


# ---------------------------------------------------------------- servers
def start_itkd(work, cg, binary):
    port = L.free_port()
    conf = os.path.join(work, "itkd.conf")
    with open(conf, "w") as f:
        f.write(L.itkd_conf(work, port, False, ITKD_MAX, KEEPALIVE))
    p = L.spawn([binary, "-f", "-c", conf], cg, os.path.join(work, "itkd.out"))
    err = L.wait_port(port, p)
    return p, port, err, "max-clients %d, keepalive-timeout %d" % (ITKD_MAX, KEEPALIVE)


def start_apache(work, cg):
    why = L.which_apache()
    if why:
        return None, None, why, ""
    port = L.free_port()
    conf = L.apache_conf(work, port, False, APACHE_WORKERS, KEEPALIVE)
    r = L.run(["apache2", "-f", conf, "-t"])
    if r.returncode:
        return None, None, "apache2 -t: " + " ".join(r.stdout.split()[-40:]), ""
    p = L.spawn(["apache2", "-f", conf, "-DFOREGROUND"], cg, os.path.join(work, "apache.out"))
    err = L.wait_port(port, p, 60)
    if err is None:
        # StartServers = MaxRequestWorkers: wait until the children are up
        # (or their number stops growing) before the clock starts.
        last, still, end = -1, 0, time.time() + 300
        while time.time() < end:
            n = len(L.descendants(p.pid))
            if n >= APACHE_WORKERS:
                break
            still = still + 1 if n == last else 0
            if still >= 75:     # 15 s without a new child
                break
            last = n
            time.sleep(0.2)
        L.say("Apache: %d children started" % len(L.descendants(p.pid)))
    return p, port, err, ("StartServers = ServerLimit = MaxRequestWorkers %d, KeepAliveTimeout %d"
                          % (APACHE_WORKERS, KEEPALIVE))


def self_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def measure(name, proc, port, cg):
    """The whole sequence against one server; a dict of figures."""
    res = {"server": name, "conns": CONNS}
    fails1, fails2 = {}, {}
    conns = [Conn(i) for i in range(CONNS)]
    t0 = time.monotonic()
    busy0, self0, srv0 = L.machine_busy_s(), self_cpu_s(), L.Cgroups.usage_usec(cg)
    lat1 = drive(port, conns, True, fails1)
    res["open_s"] = time.monotonic() - t0
    # Cores each side took while the connections were opened: the server
    # (its cgroup), this client, and other work on the machine.
    res["client_cores"] = (self_cpu_s() - self0) / res["open_s"]
    busy = L.machine_busy_s() - busy0
    if srv0 is not None:
        res["server_cores"] = (L.Cgroups.usage_usec(cg) - srv0) / 1e6 / res["open_s"]
        res["others_cores"] = max(0.0, busy / res["open_s"] - res["server_cores"] -
                                  res["client_cores"])
    res["answered_first"] = len(lat1)
    res["fails_first"] = fails1
    res["lat1_p50"], res["lat1_p99"], res["lat1_max"] = \
        pct(lat1, 50), pct(lat1, 99), max(lat1) if lat1 else None
    L.say("%s: %d of %d answered in %.1f s (p50 %.1f ms, p99 %.1f ms)%s" % (
        name, len(lat1), CONNS, res["open_s"], res["lat1_p50"] or 0, res["lat1_p99"] or 0,
        " failures: %s" % fails1 if fails1 else ""))
    res["memory"] = memory(proc.pid)
    L.say("%s: memory %s" % (name, res["memory"]))
    probes, probe_fails = [], []
    for i in range(PROBES):
        ms, why = probe(port)
        if why:
            probe_fails.append(why)
            if len(probe_fails) >= 2 and not probes:
                break      # two timeouts in a row: no free place, no point waiting more
        else:
            probes.append(ms)
    res["probes"], res["probe_fails"] = probes, probe_fails
    L.say("%s: fresh connections: %s ms%s" % (name, " ".join("%.1f" % x for x in probes),
                                             " failed: %s" % probe_fails if probe_fails else ""))
    res["closed_idle"] = closed_while_idle(conns)
    kept = [c for c in conns if c.state == "idle"]
    t1 = time.monotonic()
    lat2 = drive(port, kept, False, fails2)
    res["second_s"] = time.monotonic() - t1
    res["answered_second"] = len(lat2)
    res["fails_second"] = fails2
    res["lat2_p50"], res["lat2_p99"], res["lat2_max"] = \
        pct(lat2, 50), pct(lat2, 99), max(lat2) if lat2 else None
    L.say("%s: second request: %d answered in %.1f s (p50 %.1f ms, p99 %.1f ms)%s" % (
        name, len(lat2), res["second_s"], res["lat2_p50"] or 0, res["lat2_p99"] or 0,
        " failures: %s" % fails2 if fails2 else ""))
    for c in conns:
        if c.state != "failed" and c.sock is not None:
            c.sock.close()
    res["total_s"] = time.monotonic() - t0
    return res


# ---------------------------------------------------------------- report
def fms(v):
    return "n/a" if v is None else ("%.1f" % v if v < 100 else "%.0f" % v)


def fkib(v):
    if v is None:
        return "n/a"
    return "%.1f MiB" % (v / 1024.0) if v >= 10240 else "%d KiB" % v


def report(results, env, limits, notes):
    out = ["## %d concurrent keep-alive connections\n" % CONNS]
    out.append("`bench/scale.sh` (%s, %s, load %s before the run). One vhost, a.test, served "
               "as uid %d; a 1 KiB page. The client (bench/scale.py: one epoll loop, raw "
               "sockets, sources 127.0.0.2-9) opens %d connections, %d being opened at a time, "
               "sends one request on each and checks every answer (200, the whole page) "
               "while keeping them open; then, all still open, opens %d fresh connections "
               "one after another (connect to last byte; target under 100 ms), reads the "
               "memory, and sends a second request on every kept connection, %d at a time."
               % (env["date"], env["machine"], env["load_before"], L.UID_A, CONNS, INFLIGHT,
                  PROBES, INFLIGHT))
    out.append("")
    out.append("| | " + " | ".join(r["label"] for r in results) + " |")
    out.append("|---|" + "---:|" * len(results))

    def row(title, f):
        out.append("| %s | %s |" % (title, " | ".join(f(r) for r in results)))

    def g(r, k):
        return r.get(k)
    row("settings", lambda r: r.get("settings", ""))
    row("connections answered (first request)",
        lambda r: "n/a" if r.get("error") else "%d of %d%s" % (
            r["answered_first"], CONNS, "" if r["answered_first"] == CONNS else " **FAIL**"))
    row("first request p50 / p99 / max, ms (queued behind the fork)",
        lambda r: "n/a" if r.get("error") else "%s / %s / %s" % (
            fms(r["lat1_p50"]), fms(r["lat1_p99"]), fms(r["lat1_max"])))
    row("time to open and answer all, s",
        lambda r: "n/a" if r.get("error") else "%.1f" % r["open_s"])
    row("meanwhile, cores taken by the server + the client + other work (other jobs, "
        "and interrupt time no cgroup is charged)",
        lambda r: "n/a" if r.get("error") or r.get("server_cores") is None else
        "%.2f + %.2f + %.2f" % (r["server_cores"], r["client_cores"], r["others_cores"]))
    row("processes of the server, all open",
        lambda r: "n/a" if r.get("error") else "%d" % r["memory"]["processes"])
    row("total PSS, all open", lambda r: "n/a" if r.get("error") else
        fkib(r["memory"]["pss_total_kib"]))
    row("PSS per connection (total / connections)", lambda r: "n/a" if r.get("error") else
        "%.1f KiB" % (r["memory"]["pss_total_kib"] / float(max(1, r["answered_first"]))))
    row("master RSS (VmRSS), all open", lambda r: "n/a" if r.get("error") else
        fkib(r["memory"]["master_rss_kib"]))
    row("master's open files, all open", lambda r: "n/a" if r.get("error") else
        str(r["memory"]["master_fds"]))
    row("fresh connection while all are open: median / max, ms (target < 100)",
        lambda r: "n/a" if r.get("error") else (
            "%s / %s (%d of %d answered)%s" % (
                fms(statistics.median(r["probes"])) if r["probes"] else "n/a",
                fms(max(r["probes"])) if r["probes"] else "n/a",
                len(r["probes"]), len(r["probes"]) + len(r["probe_fails"]),
                " pass" if r["probes"] and not r["probe_fails"] and max(r["probes"]) < 100
                else " **FAIL**")))
    row("kept connections the server closed while idle",
        lambda r: "n/a" if r.get("error") else str(r["closed_idle"]))
    row("second request answered (keep-alive)", lambda r: "n/a" if r.get("error") else
        "%d of %d" % (r["answered_second"], CONNS))
    row("second request p50 / p99 / max, ms", lambda r: "n/a" if r.get("error") else
        "%s / %s / %s" % (fms(r["lat2_p50"]), fms(r["lat2_p99"]), fms(r["lat2_max"])))
    row("whole sequence, s", lambda r: "n/a" if r.get("error") else "%.1f" % r["total_s"])
    out.append("")
    for r in results:
        if r.get("error"):
            out.append("- %s: n/a: %s" % (r["label"], r["error"]))
        for key, what in (("fails_first", "first request"), ("fails_second", "second request")):
            if r.get(key):
                out.append("- %s, %s failures: %s" % (r["label"], what, ", ".join(
                    "%s: %d" % kv for kv in sorted(r[key].items()))))
        if r.get("probe_fails"):
            out.append("- %s, fresh connections not answered: %s%s" % (
                r["label"], "; ".join(sorted(set(r["probe_fails"]))),
                " (every one of the MaxRequestWorkers children holds a kept connection: "
                "prefork has no place for another until one ends)"
                if r["server"] == "apache" and r["answered_first"] >= APACHE_WORKERS else ""))
    for n in notes:
        out.append("- " + n)
    out.append("")
    out.append("### Limits this run needs (raised for the run only, and restored after it)\n")
    out.append("| limit | on this machine | needed | during the run |")
    out.append("|---|---|---|---|")
    for name, value, need, during in limits:
        out.append("| %s | %s | %s | %s |" % (name, value, need, during))
    out.append("")
    out.append(OPERATOR)
    return "\n".join(out) + "\n"


OPERATOR = """What an operator must raise to hold 10,000 connections with itkd (one
process per plain connection, two while a TLS connection's gatekeeper
relays; Apache + mpm-itk holds two per connection, a prefork child and its
per-connection fork):

- `max-clients` in itkd.conf (default 256) above the connections wanted;
  the scoreboard grows to 65536 places beyond 1024, so no other setting.
- `kernel.pid_max` (32768 on many systems) above every process on the
  machine: 10,000 connections are 10,000 to 20,000 processes of itkd,
  20,000 of Apache. `kernel.threads-max` is usually large enough (it
  scales with memory); check it is above the same count.
- No `nofile` for itkd: the master keeps no descriptor per connection
  (it closes each one after the fork; its open files are counted above),
  and each connection process has its own small table. The client side
  (a load generator, a reverse proxy in front) needs `ulimit -n` above its
  connections: this bench raises its own to 65536.
- The listen backlog: itkd listens with 511, capped by
  `net.core.somaxconn` (4096 by default since Linux 5.4). A burst of more
  than 511 connections at once, faster than the master forks, waits in
  SYN retries; keep `net.core.somaxconn` >= 511 (older kernels: 128) and
  `net.ipv4.tcp_max_syn_backlog` likewise. This bench opens at most
  SCALE_INFLIGHT at once, so the default is enough here.
- Memory: the PSS per connection above, times the connections.
- `net.ipv4.ip_local_port_range` and `vm.max_map_count` are not server
  limits: the first bounds one client address's outgoing connections (the
  bench spreads over 8 source addresses), the second is per process.
"""


def main():
    if os.geteuid() != 0:
        L.say("needs root (servers switch uids); nothing run")
        return 1
    t_start = time.time()
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    env = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_before": load_before,
           "machine": "%d cores, %.0f GiB, Linux %s" % (
               os.cpu_count(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
               platform.release())}
    notes = []
    err = L.install_packages()
    if err:
        notes.append(err)
    limits = []
    # The client's own descriptors: one per connection and a few more.
    want = CONNS + PROBES + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    during = "unchanged"
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, 65536), max(hard, want, 65536)))
        during = "%d (setrlimit)" % max(want, 65536)
        L.say("client nofile: %d -> %d" % (soft, max(want, 65536)))
    limits.append(("nofile of the client (bench/scale.py)", str(soft), "%d" % want, during))
    sysctls, cgroups, users = L.Sysctls(), L.Cgroups(), None
    baseline = L.tasks()
    work = tempfile.mkdtemp(prefix="itkd-scale-", dir="/var/tmp")
    os.chmod(work, 0o755)
    L.state_add("dir", work)
    results = []
    try:
        users = L.make_users()
        if users is None:
            notes.append("the bench users could not be made")
        why = L.layout(work)
        if why:
            raise RuntimeError(why)
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[1])
        # 2 processes per connection at most (Apache + mpm-itk), plus what
        # runs already, plus room.
        need = running + 2 * (CONNS + PROBES) + 4096
        for name, value, why in (
                ("kernel.pid_max", 4194304, "pids at once"),
                ("kernel.threads-max", 2 * need, "threads at once")):
            before = sysctls.get(name)
            if int(before) < need:
                sysctls.raise_to(name, value, "%d %s: 2 processes per connection (Apache) "
                                 "and the %d running, and room" % (need, why, running))
            limits.append((name, before, "%d (2 per connection, the %d running, 4096 more)"
                           % (need, running), sysctls.get(name) if int(before) < need
                           else "unchanged"))
        limits.append(("net.core.somaxconn", sysctls.get("net.core.somaxconn"),
                       "511 (itkd's and Apache's backlog; at most %d connects at once here)"
                       % INFLIGHT, "unchanged"))
        limits.append(("net.ipv4.ip_local_port_range",
                       sysctls.get("net.ipv4.ip_local_port_range").replace("\t", "-"),
                       "%d ports per source address (%d addresses)"
                       % ((CONNS + len(SOURCES) - 1) // len(SOURCES), len(SOURCES)),
                       "unchanged"))
        for name in SERVERS:
            cg = cgroups.make(name)
            r = {"server": name, "label": {"itkd": "itkd", "apache": "Apache + mpm-itk"}[name]}
            proc = None
            L.settle(baseline + 1000)    # the previous server's thousands of exits
            try:
                if name == "itkd":
                    binary = L.build_itkd()
                    r["label"] = "itkd (%s)" % os.path.relpath(binary, L.TOP)
                    proc, port, err, r["settings"] = start_itkd(work, cg, binary)
                else:
                    proc, port, err, r["settings"] = start_apache(work, cg)
                if err:
                    r["error"] = err
                else:
                    r.update(measure(name, proc, port, cg))
            except (RuntimeError, OSError) as e:
                r["error"] = str(e)
            finally:
                L.stop(proc, cg)
            if r.get("error"):
                L.say("%s: %s" % (name, r["error"]))
            results.append(r)
    except KeyboardInterrupt:
        notes.append("the run was interrupted")
    except Exception as e:   # report what ran
        notes.append("the harness failed: %r" % e)
        L.say("harness error: %r" % e)
    finally:
        cgroups.close()
        sysctls.restore()
        L.remove_users(users)
        shutil.rmtree(work, ignore_errors=True)
        L.state_done()
    md = report(results, env, limits, notes)
    os.makedirs(L.RESULTS, exist_ok=True)
    with open(os.path.join(L.RESULTS, "scale-conns.md"), "w") as f:
        f.write(md)
    with open(os.path.join(L.RESULTS, "scale.json"), "w") as f:
        json.dump({"env": env, "conns": CONNS, "inflight": INFLIGHT, "results": results,
                   "sysctl_changes": sysctls.changes, "limits": limits, "notes": notes}, f,
                  indent=1,
                  sort_keys=True)
    print(md)
    L.say("done in %.0f s" % (time.time() - t_start))
    return 0


def interrupted(*_):
    raise KeyboardInterrupt()


def rewrite_report():
    """--report: scale-conns.md again from scale.json, nothing run."""
    with open(os.path.join(L.RESULTS, "scale.json")) as f:
        data = json.load(f)
    with open(os.path.join(L.RESULTS, "scale-conns.md"), "w") as f:
        f.write(report(data["results"], data["env"], data.get("limits", []), data["notes"]))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    sys.exit(rewrite_report() if "--report" in sys.argv[1:] else main())
