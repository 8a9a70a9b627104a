#!/usr/bin/env python3
"""bench/tls.py: TLS 1.2 full handshakes (EC P-256 certificate, X25519):
itkd against BearSSL's crypto floor and against Apache + mpm-itk with
mod_ssl, and whether the client is the bottleneck (bench/scale.sh runs it).

- bench/tls_floor.c times the server's crypto per full handshake (one
  ECDSA P-256 signature, two X25519 operations, with BearSSL as tls.c uses
  it): its inverse is the floor, handshakes per second of one core.
- Each server runs in a cgroup of its own and each client in another, so
  that cpu.stat gives the CPU time each side spent per handshake.
- Clients: 4 parallel `openssl s_time -new` (what bench/run uses), and
  bench/tls_client.c (BearSSL; skips the server's signature and
  certificate checks and reuses its key share: one X25519 per handshake).

Both clients and the server share the machine's cores: a client that
takes a core's worth of CPU leaves the server the rest; the tables show
how much each took. Writes bench/results/tls.md and tls.json.
Environment: TLS_SECONDS (5), TLS_ROUNDS (1), TLS_INFLIGHT (16),
SCALE_SERVERS (itkd,apache), BENCH_ITKD.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale_lib as L  # noqa: E402

SECONDS = float(os.environ.get("TLS_SECONDS", "5"))
ROUNDS = int(os.environ.get("TLS_ROUNDS", "1"))
INFLIGHT = int(os.environ.get("TLS_INFLIGHT", "16"))
SERVERS = os.environ.get("SCALE_SERVERS", "itkd,apache").split(",")
STIME_CLIENTS = 4
CORES = os.cpu_count() or 1


def build(work, name):
    """bench/NAME.c against the BearSSL itkd-static links (build/static,
    musl) if it is there, else Debian's libbearssl: (path, which) or raises."""
    src = os.path.join(L.BENCH, name + ".c")
    out = os.path.join(work, name)
    flags = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror"]
    static = os.path.join(L.TOP, "build", "static", "out")
    lib = os.path.join(static, "lib", "libbearssl.a")
    if shutil.which("musl-gcc") and os.path.exists(lib):
        r = L.run(["musl-gcc", "-static"] + flags + ["-I", os.path.join(static, "include"),
                                                     "-o", out, src, lib])
        if r.returncode == 0:
            return out, "BearSSL of build/static (the one itkd-static links), musl-gcc -O2"
    r = L.run(["gcc"] + flags + ["-o", out, src, "-lbearssl"])
    if r.returncode:
        raise RuntimeError("cannot build %s: %s" % (name, r.stdout[-400:]))
    return out, "Debian's libbearssl, gcc -O2"


def keyvals(text):
    return dict(m.groups() for m in re.finditer(r"^(\w+)=(.*)$", text, re.M))


def floor(binary):
    r = L.run([binary, "1"])
    if r.returncode:
        raise RuntimeError("tls_floor: " + r.stdout[-300:])
    kv = keyvals(r.stdout)
    return {k: (v if k == "ec_impl" else float(v)) for k, v in kv.items()}


def start_itkd(work, cg, binary):
    port, plain = L.free_port(), L.free_port()
    conf = os.path.join(work, "itkd-tls.conf")
    with open(conf, "w") as f:
        f.write(L.itkd_conf(work, port, True, 1024, 10, plain))
    p = L.spawn([binary, "-f", "-c", conf], cg, os.path.join(work, "itkd-tls.out"))
    return p, (port, plain), L.wait_port(port, p) or L.wait_port(plain, p)


def start_apache(work, cg):
    why = L.which_apache()
    if why:
        return None, None, why
    port, plain = L.free_port(), L.free_port()
    conf = L.apache_conf(work, port, True, 128, 10, plain)
    r = L.run(["apache2", "-f", conf, "-t"])
    if r.returncode:
        return None, None, "apache2 -t: " + " ".join(r.stdout.split()[-40:])
    p = L.spawn(["apache2", "-f", conf, "-DFOREGROUND"], cg, os.path.join(work, "apache-tls.out"))
    return p, (port, plain), L.wait_port(port, p, 60) or L.wait_port(plain, p)


def run_client(kind, port, work, client_cg, tls_client):
    """The client's processes in client_cg for SECONDS: a dict with
    handshakes, wall seconds, client_cpu_us, errors, p50/p99 where known."""
    logs = []
    if kind == "s_time":
        argv = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
                "-time", str(int(SECONDS)), "-www", "/1k.html", "-tls1_2"]
        n = STIME_CLIENTS
    else:
        inflight = STIME_CLIENTS if kind == "tls_client_4" else INFLIGHT
        argv = [tls_client, str(port), os.path.join(work, "certs", "ec.pem"), str(SECONDS),
                str(inflight), "a.test", "/1k.html"] + {"fresh": ["-fresh"],
                                                        "plain": ["-plain"]}.get(kind, [])
        n = 1
    u0 = L.Cgroups.usage_usec(client_cg)
    t0 = time.monotonic()
    busy0 = L.machine_busy_s()
    procs = []
    for i in range(n):
        log = os.path.join(work, "client-%s-%d.out" % (kind, i))
        logs.append(log)
        procs.append(L.spawn(argv, client_cg, log))
    for p in procs:
        try:
            p.wait(SECONDS + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    wall = time.monotonic() - t0
    u1 = L.Cgroups.usage_usec(client_cg)
    res = {"client": kind, "wall_s": wall, "busy_s": L.machine_busy_s() - busy0,
           "client_cpu_us": None if u0 is None else u1 - u0}
    outs = []
    for log in logs:
        with open(log, errors="replace") as f:
            outs.append(f.read())
    if kind == "s_time":
        hs = 0
        for out in outs:
            m = re.search(r"(\d+) connections in ([\d.]+)s", out)
            if not m:
                res["error"] = "s_time: " + " ".join(out.split()[-20:])
                return res
            hs += int(m.group(1))
        res["handshakes"] = hs
        res["errors"] = 0
    else:
        kv = keyvals(outs[0])
        if "handshakes" not in kv:
            res["error"] = "tls_client: " + " ".join(outs[0].split()[-20:])
            return res
        res["handshakes"] = int(kv["handshakes"])
        res["errors"] = int(kv["errors"])
        res["wall_s"] = float(kv["seconds"])
        res["p50_ms"] = float(kv["p50_ms"]) if "p50_ms" in kv else None
        res["p99_ms"] = float(kv["p99_ms"]) if "p99_ms" in kv else None
        res["curve"] = kv.get("curve") if kind != "plain" else None
        if kv.get("first_error"):
            res["first_error"] = kv["first_error"]
        if u0 is None:
            res["client_cpu_us"] = float(kv["cpu_us"])
    if not res["handshakes"]:
        res["error"] = "no handshake completed" + (": " + res["first_error"]
                                                   if res.get("first_error") else "")
    return res


def measure(name, ports, server_cg, work, client_cg, tls_client):
    out = []
    for kind in KINDS:
        u0 = L.Cgroups.usage_usec(server_cg)
        res = run_client(kind, ports[1] if kind == "plain" else ports[0], work, client_cg,
                         tls_client)
        u1 = L.Cgroups.usage_usec(server_cg)
        res["server"] = name
        res["server_cpu_us"] = None if u0 is None else u1 - u0
        if res["server_cpu_us"] is not None and res["client_cpu_us"] is not None:
            # What the rest of the machine (other work) took meanwhile.
            res["others_cores"] = max(0.0, res["busy_s"] - (res["server_cpu_us"] +
                                                            res["client_cpu_us"]) / 1e6) / \
                res["wall_s"]
        if res.get("handshakes"):
            res["rate"] = res["handshakes"] / res["wall_s"]
            for side in ("server", "client"):
                v = res.get(side + "_cpu_us")
                res[side + "_us_per_hs"] = None if v is None else v / res["handshakes"]
                res[side + "_cores"] = None if v is None else v / 1e6 / res["wall_s"]
        L.say("tls %s %s: %s" % (name, kind, res.get("error") or
                                 "%.0f handshakes/s, server %s us/hs, client %s us/hs" % (
                                     res["rate"], fnum(res.get("server_us_per_hs")),
                                     fnum(res.get("client_us_per_hs")))))
        out.append(res)
        time.sleep(0.5)
    return out


def fnum(v, fmt="%.0f"):
    return "n/a" if v is None else fmt % v


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


KINDS = ("s_time", "tls_client_4", "tls_client", "fresh", "plain")
CLIENT_TITLE = {"s_time": "4 × `openssl s_time -new` (4 in flight)",
                "tls_client_4": "bench/tls_client, 4 in flight (as s_time)",
                "tls_client": "bench/tls_client, %d in flight" % INFLIGHT,
                "fresh": "bench/tls_client -fresh (a new key share each time)",
                "plain": "bench/tls_client -plain (no TLS: the rest of a connection)"}


def report(fl, runs, env, notes):
    o = ["## TLS full handshakes: itkd against the crypto floor and Apache\n"]
    o.append("`bench/scale.sh` (%s, %d cores, load %s before the run). TLS 1.2, "
             "ECDHE-ECDSA with an EC P-256 certificate, X25519 (both servers choose it); one "
             "GET of the 1 KiB page with `Connection: close` per connection, %g s per run, "
             "median of %d round(s). CPU time from cgroup v2 cpu.stat of a group per server and "
             "one for the client; \"other work\" is the rest of the machine's busy time "
             "(/proc/stat) meanwhile: other jobs on a shared machine, and the interrupt "
             "time (loopback packets) the kernel charges to no cgroup."
             % (env["date"], CORES, env["load_before"], SECONDS, ROUNDS))
    o.append("")
    if fl:
        o.append("### The crypto floor (bench/tls_floor.c, %s)\n" % env.get("built", ""))
        o.append("The server's share of a full handshake, BearSSL as itkd's tls.c uses it "
                 "(`%s` from br_ec_get_default(), br_ecdsa_i31_sign_asn1), CPU time:\n"
                 % fl["ec_impl"])
        o.append("| operation | µs of CPU |")
        o.append("|---|---:|")
        o.append("| ECDSA P-256 sign (SHA-256) | %.0f |" % fl["ecdsa_p256_sign_us"])
        o.append("| X25519 key share (mulgen) | %.0f |" % fl["x25519_mulgen_us"])
        o.append("| X25519 shared secret (mul) | %.0f |" % fl["x25519_mul_us"])
        o.append("| **server crypto per handshake** | **%.0f** |" % fl["server_handshake_us"])
        o.append("| floor: handshakes per second of one core | %.0f |" % fl["floor_per_core"])
        o.append("| floor of the machine (%d cores, nothing else running) | %.0f |"
                 % (CORES, CORES * fl["floor_per_core"]))
        o.append("| (a client's ECDSA P-256 verify, which bench/tls_client skips) | %.0f |"
                 % fl["ecdsa_p256_verify_us"])
        o.append("")
    o.append("### Handshakes per second, and the CPU each side spent per handshake\n")
    o.append("| server | client | handshakes/s (-plain: connections/s) | server µs CPU / "
             "handshake | client µs CPU / handshake | client / server CPU | cores: server + "
             "client + other work | p50 / p99 ms | errors |")
    o.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    summ = {}
    for name in SERVERS:
        for kind in KINDS:
            rs = [r for r in runs if r["server"] == name and r["client"] == kind]
            ok = [r for r in rs if not r.get("error")]
            if not ok:
                o.append("| %s | %s | n/a: %s | | | | | | |" % (
                    name, CLIENT_TITLE[kind], rs[-1]["error"] if rs else "not run"))
                continue
            s = {k: med(ok, k) for k in ("rate", "server_us_per_hs", "client_us_per_hs",
                                         "server_cores", "client_cores", "others_cores",
                                         "p50_ms", "p99_ms", "errors")}
            summ[(name, kind)] = s
            ratio = (None if s["client_us_per_hs"] is None or not s["server_us_per_hs"]
                     else s["client_us_per_hs"] / s["server_us_per_hs"])
            curves = sorted(set(r["curve"] for r in ok if r.get("curve")))
            o.append("| %s | %s%s | %.0f | %s | %s | %s | %s + %s + %s | %s | %s |" % (
                name, CLIENT_TITLE[kind], " (ECDHE: %s)" % ", ".join(curves) if curves else "",
                s["rate"], fnum(s["server_us_per_hs"]), fnum(s["client_us_per_hs"]),
                fnum(ratio, "%.2f"), fnum(s["server_cores"], "%.2f"),
                fnum(s["client_cores"], "%.2f"), fnum(s["others_cores"], "%.2f"),
                "—" if s["p50_ms"] is None else "%.1f / %.1f" % (s["p50_ms"], s["p99_ms"]),
                fnum(s["errors"])))
    o.append("")
    o.append("### Findings\n")
    for name in SERVERS:
        st, t4, tc = (summ.get((name, k)) for k in ("s_time", "tls_client_4", "tls_client"))
        if st and t4 and tc and st["client_us_per_hs"] and st["server_us_per_hs"]:
            o.append("- %s: `openssl s_time` spent %.0f µs of CPU per handshake, %.2f of the "
                     "server's %.0f, and took %.2f cores; bench/tls_client spent %.0f µs "
                     "(%.2f of the server's). Same 4 connections in flight, the cheaper client: "
                     "%.0f handshakes/s against s_time's %.0f (%.2fx: each s_time process works "
                     "through its own share of every handshake while its one connection "
                     "waits); %d in flight: %.0f (%.2fx s_time)." % (
                         name, st["client_us_per_hs"],
                         st["client_us_per_hs"] / st["server_us_per_hs"],
                         st["server_us_per_hs"], st["client_cores"], t4["client_us_per_hs"],
                         t4["client_us_per_hs"] / t4["server_us_per_hs"], t4["rate"],
                         st["rate"], t4["rate"] / st["rate"], INFLIGHT, tc["rate"],
                         tc["rate"] / st["rate"]))
    it, ap = summ.get(("itkd", "tls_client")), summ.get(("apache", "tls_client"))
    if fl and it:
        left = CORES - (it["client_cores"] or 0) - (it["others_cores"] or 0)
        o.append("- itkd against the crypto floor, with bench/tls_client: %.0f µs of server "
                 "CPU per handshake against the floor's %.0f: the crypto is %.0f%% of itkd's "
                 "cost per handshake. Rate: %.0f handshakes/s is %.0f%% of the machine's floor "
                 "(%.0f on %d cores, the server alone on the machine) and %.0f%% of the floor "
                 "on the %.2f cores the client and other work left it (%.0f)." % (
                     it["server_us_per_hs"], fl["server_handshake_us"],
                     100 * fl["server_handshake_us"] / it["server_us_per_hs"], it["rate"],
                     100 * it["rate"] / (CORES * fl["floor_per_core"]),
                     CORES * fl["floor_per_core"], CORES,
                     100 * it["rate"] / (max(left, 0.01) * fl["floor_per_core"]), left,
                     left * fl["floor_per_core"]))
    for name in SERVERS:
        tc, pl = summ.get((name, "tls_client")), summ.get((name, "plain"))
        if fl and tc and pl and tc["server_us_per_hs"] and pl["server_us_per_hs"]:
            extra = tc["server_us_per_hs"] - pl["server_us_per_hs"]
            o.append("- %s: a plain connection (the same request, no TLS, the same client) "
                     "costs it %.0f µs of CPU; TLS adds %.0f µs to that, against the crypto "
                     "floor's %.0f (%.0f%% of the TLS part is the floor's crypto)." % (
                         name, pl["server_us_per_hs"], extra, fl["server_handshake_us"],
                         100 * fl["server_handshake_us"] / extra if extra > 0 else 0))
    if it and ap:
        o.append("- itkd against Apache + mpm-itk (mod_ssl, OpenSSL), same client: %.2fx the "
                 "handshakes per second; server CPU per handshake %.0f µs against Apache's "
                 "%.0f." % (it["rate"] / ap["rate"], it["server_us_per_hs"],
                            ap["server_us_per_hs"]))
    for n in notes:
        o.append("- " + n)
    o.append("")
    return "\n".join(o) + "\n"


def main():
    if os.geteuid() != 0:
        L.say("tls: needs root; nothing run")
        return 1
    L.settle(4096)     # a scale run's thousands of exits, if one ran just before
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    env = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_before": load_before}
    notes, runs, fl = [], [], None
    err = L.install_packages()
    if err:
        notes.append(err)
    cgroups, users = L.Cgroups(), None
    if not cgroups.base:
        notes.append("no cgroup v2: server CPU per handshake n/a")
    work = tempfile.mkdtemp(prefix="itkd-scale-tls-", dir="/var/tmp")
    os.chmod(work, 0o755)
    L.state_add("dir", work)
    procs = {}
    try:
        users = L.make_users()
        why = L.layout(work)
        if why:
            raise RuntimeError(why)
        floor_bin, env["built"] = build(work, "tls_floor")
        client_bin, _ = build(work, "tls_client")
        fl = floor(floor_bin)
        L.say("tls floor: %s" % fl)
        client_cg = cgroups.make("client")
        ports = {}
        for name in SERVERS:
            cg = cgroups.make(name + "-tls")
            if name == "itkd":
                p, port, err = start_itkd(work, cg, L.build_itkd())
            else:
                p, port, err = start_apache(work, cg)
            procs[name] = (p, cg)
            if err:
                notes.append("%s: %s" % (name, err))
            else:
                ports[name] = port
        for rnd in range(ROUNDS):
            order = SERVERS if rnd % 2 == 0 else list(reversed(SERVERS))
            for name in order:
                if name in ports:
                    runs += measure(name, ports[name], procs[name][1], work, client_cg,
                                    client_bin)
    except KeyboardInterrupt:
        notes.append("the run was interrupted")
    except Exception as e:
        notes.append("the harness failed: %r" % e)
        L.say("tls harness error: %r" % e)
    finally:
        for p, cg in procs.values():
            L.stop(p, cg)
        cgroups.close()
        L.remove_users(users)
        shutil.rmtree(work, ignore_errors=True)
        L.state_done()
    md = report(fl, runs, env, notes)
    os.makedirs(L.RESULTS, exist_ok=True)
    with open(os.path.join(L.RESULTS, "tls.md"), "w") as f:
        f.write(md)
    with open(os.path.join(L.RESULTS, "tls.json"), "w") as f:
        json.dump({"env": env, "floor": fl, "runs": runs, "notes": notes}, f, indent=1,
                  sort_keys=True)
    print(md)
    return 0


def interrupted(*_):
    raise KeyboardInterrupt()


def rewrite_report():
    """--report: tls.md again from tls.json, nothing run."""
    with open(os.path.join(L.RESULTS, "tls.json")) as f:
        data = json.load(f)
    with open(os.path.join(L.RESULTS, "tls.md"), "w") as f:
        f.write(report(data["floor"], data["runs"], data["env"], data["notes"]))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    sys.exit(rewrite_report() if "--report" in sys.argv[1:] else main())
