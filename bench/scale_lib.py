"""bench/scale_lib.py: what bench/scale.py and bench/tls.py share.

The bench users, the throwaway site (vhost a.test as its own uid, a 1 KiB
page, an EC P-256 certificate), itkd's and Apache's configs, servers
started in a cgroup v2 group of their own (CPU time from cpu.stat, and
cgroup.kill so that nothing is left behind), kernel limits raised for the
run and restored after. Copied in small from bench/run (the same users,
ids and layout) so that the two scripts do not depend on each other's
internals. Python 3 standard library only.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(TOP, "bench")
RESULTS = os.path.join(BENCH, "results")
# The same three system users as bench/run (made for the run, removed
# after it): mpm-itk looks ids up by name.
USERS = [("itkdbench0", 61100), ("itkdbench1", 61101), ("itkdbench2", 61102)]
UID_USER, UID_A = USERS[0][1], USERS[1][1]
PACKAGES = ["apache2", "libapache2-mpm-itk", "openssl", "libbearssl-dev", "gcc"]
APACHE_MODDIR = "/usr/lib/apache2/modules"
APACHE_MODULES = [("mpm_prefork_module", "mod_mpm_prefork.so"),
                  ("mpm_itk_module", "mpm_itk.so"),
                  ("authz_core_module", "mod_authz_core.so"),
                  ("mime_module", "mod_mime.so"),
                  ("socache_shmcb_module", "mod_socache_shmcb.so"),
                  ("ssl_module", "mod_ssl.so")]
PAGE = (b"<!doctype html><title>1k</title>\n" + b"x" * 1024)[:1023] + b"\n"
# Where the saved sysctl values wait, so that bench/scale.sh's trap can
# put them back if this process dies without its finally blocks.
SYSCTL_SAVE = "/var/tmp/itkd-scale-sysctl.saved"
CGROUP_NAME = "itkd-scale"
# The users made and the directory used by a run, for the same trap.
STATE = "/var/tmp/itkd-scale-state.%d" % os.getpid()


def state_add(kind, value):
    with open(STATE, "a") as f:
        f.write("%s %s\n" % (kind, value))


def state_done():
    try:
        os.unlink(STATE)
    except FileNotFoundError:
        pass


def say(msg):
    print("scale: " + msg, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


def have_pkg(p):
    return "ok installed" in run(["dpkg-query", "-W", "-f=${Status}", p]).stdout


def install_packages():
    """The Debian packages the runs need, as bench/run installs them."""
    need = [p for p in PACKAGES if not have_pkg(p)]
    if not need:
        return None
    say("installing " + " ".join(need))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    prc = "/usr/sbin/policy-rc.d"     # keeps apache2's own service from starting
    made = not os.path.exists(prc)
    if made:
        with open(prc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(prc, 0o755)
    try:
        run(["apt-get", "update", "-qq"], env=env)
        r = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + need, env=env)
    finally:
        if made:
            os.unlink(prc)
    return None if r.returncode == 0 else "apt-get install %s failed" % " ".join(need)


def make_users():
    """The bench users that are missing, made; their names (None: an id is
    taken by someone else)."""
    created = []
    for name, uid in USERS:
        try:
            if pwd.getpwnam(name).pw_uid != uid:
                say("user %s exists with another uid" % name)
                return None
            continue
        except KeyError:
            pass
        try:
            say("uid %d is taken by %s" % (uid, pwd.getpwuid(uid).pw_name))
            return None
        except KeyError:
            pass
        run(["groupadd", "-g", str(uid), name])
        r = run(["useradd", "-r", "-M", "-u", str(uid), "-g", str(uid), "-d", "/nonexistent",
                 "-s", "/usr/sbin/nologin", name])
        if r.returncode:
            say("useradd %s: %s" % (name, r.stdout.strip()))
            return None
        created.append(name)
        state_add("user", name)
    return created


def remove_users(names):
    for name in names or []:
        run(["userdel", name])
        run(["groupdel", name])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=10.0):
    """None once port accepts, else why not."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return "exited with status %s" % proc.returncode
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return None
        except OSError:
            time.sleep(0.05)
    return "not listening on %d after %.0f s" % (port, timeout)


def layout(work):
    """sites/a (uid UID_A, 0700, the page 0600) and certs/ec.{pem,key}."""
    d = os.path.join(work, "sites", "a")
    os.makedirs(d)
    path = os.path.join(d, "1k.html")
    with open(path, "wb") as f:
        f.write(PAGE)
    os.chown(path, UID_A, UID_A)
    os.chmod(path, 0o600)
    os.chown(d, UID_A, UID_A)
    os.chmod(d, 0o700)
    os.chmod(os.path.join(work, "sites"), 0o755)
    certs = os.path.join(work, "certs")
    os.makedirs(certs)
    r = run(["openssl", "req", "-x509", "-nodes", "-days", "30", "-subj", "/CN=a.test",
             "-addext", "subjectAltName=DNS:a.test", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256",
             "-keyout", os.path.join(certs, "ec.key"), "-out", os.path.join(certs, "ec.pem")])
    return None if r.returncode == 0 else "openssl req failed: " + r.stdout[-300:]


def itkd_conf(work, port, tls, max_clients, keepalive, plain_port=None):
    """One vhost, a.test as UID_A; port plain or (tls) with the EC
    certificate; plain_port: a plain listener besides."""
    lines = ["listen 127.0.0.1:%d%s" % (port, " tls" if tls else "")]
    if plain_port:
        lines.append("listen 127.0.0.1:%d" % plain_port)
    lines += ["user #%d" % UID_USER, "group #%d" % UID_USER,
              "uid-range %d %d" % (UID_A, UID_A), "gid-range %d %d" % (UID_A, UID_A),
              "max-clients %d" % max_clients, "timeout 60",
              "keepalive-timeout %d" % keepalive, "keepalive-requests 100000",
              "access-log off", "error-log %s/itkd-error.log" % work, "",
              "vhost a.test", "root %s/sites/a" % work, "user #%d" % UID_A,
              "group #%d" % UID_A]
    if tls:
        lines += ["tls-cert %s/certs/ec.pem" % work, "tls-key %s/certs/ec.key" % work]
    return "\n".join(lines) + "\n"


def apache_conf(work, port, tls, workers, keepalive, plain_port=None):
    """Prefork + mpm-itk, one vhost as UID_A; workers children started at
    once and kept (prefork starts at most 32 more a second otherwise);
    plain_port: a plain listener and vhost besides."""
    d = os.path.join(work, "apache")
    os.makedirs(d, exist_ok=True)
    user_name = pwd.getpwuid(UID_USER).pw_name
    a_name = pwd.getpwuid(UID_A).pw_name
    L = ["ServerRoot " + d, "PidFile %s/httpd.pid" % d, "DefaultRuntimeDir " + d,
         "Mutex file:%s default" % d, "ErrorLog %s/error.log" % d, "LogLevel warn"]
    L += ["LoadModule %s %s/%s" % (m, APACHE_MODDIR, f) for m, f in APACHE_MODULES]
    L += ["TypesConfig /etc/mime.types", "ServerName localhost", "ServerTokens Prod",
          "User " + user_name, "Group " + user_name,
          "Listen 127.0.0.1:%d%s" % (port, " https" if tls else "")]
    if plain_port:
        L.append("Listen 127.0.0.1:%d" % plain_port)
    L += ["StartServers %d" % workers, "MinSpareServers %d" % min(workers, 32),
          "MaxSpareServers %d" % workers, "ServerLimit %d" % workers,
          "MaxRequestWorkers %d" % workers, "MaxConnectionsPerChild 0",
          "KeepAlive On", "MaxKeepAliveRequests 100000",
          "KeepAliveTimeout %d" % keepalive, "Timeout 60", "HostnameLookups Off",
          "EnableSendfile On", "SSLProtocol -all +TLSv1.2",
          # the server's order of curves (X25519 first), as itkd's BearSSL
          "SSLHonorCipherOrder on",
          "SSLSessionCache shmcb:%s/ssl_scache(512000)" % d,
          "SSLRandomSeed startup builtin",
          "<Directory />", "  AllowOverride None", "  Require all denied", "</Directory>",
          "<Directory %s/sites>" % work, "  AllowOverride None", "  Require all granted",
          "</Directory>"]
    if plain_port:
        L += ["<VirtualHost 127.0.0.1:%d>" % plain_port, "  ServerName a.test",
              "  DocumentRoot %s/sites/a" % work, "  AssignUserID %s %s" % (a_name, a_name),
              "</VirtualHost>"]
    L += ["<VirtualHost 127.0.0.1:%d>" % port, "  ServerName a.test",
          "  DocumentRoot %s/sites/a" % work, "  AssignUserID %s %s" % (a_name, a_name)]
    if tls:
        L += ["  SSLEngine on", "  SSLCertificateFile %s/certs/ec.pem" % work,
              "  SSLCertificateKeyFile %s/certs/ec.key" % work]
    L.append("</VirtualHost>")
    path = os.path.join(d, "httpd.conf")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return path


# ---------------------------------------------------------------- cgroups
def cgroup2_root():
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or .../unified on a
    hybrid system), or None."""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "cgroup2":
                    return fields[1]
    except OSError:
        pass
    return None


class Cgroups:
    """A group of ours under the v2 root, one subgroup per server or client.
    usage_usec of cpu.stat is there without the cpu controller."""

    def __init__(self):
        root = cgroup2_root()
        self.base = None
        if root:
            base = os.path.join(root, "%s-%d" % (CGROUP_NAME, os.getpid()))
            try:
                os.mkdir(base)
                self.base = base
            except OSError as e:
                say("no cgroup of our own (%s): CPU time n/a, cleanup by process group" % e)

    def make(self, name):
        if not self.base:
            return None
        path = os.path.join(self.base, name)
        os.makedirs(path, exist_ok=True)
        return path

    @staticmethod
    def usage_usec(path):
        if not path:
            return None
        with open(os.path.join(path, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v)
        return None

    @staticmethod
    def kill(path):
        """Every process left in path, killed; True once it is empty."""
        if not path or not os.path.isdir(path):
            return True
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:   # before Linux 5.14: one by one
            with open(os.path.join(path, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
        end = time.time() + 120      # 20,000 exits take a while here
        while time.time() < end:
            with open(os.path.join(path, "cgroup.events")) as f:
                if "populated 0" in f.read():
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        if not self.base:
            return
        for name in os.listdir(self.base):
            path = os.path.join(self.base, name)
            if os.path.isdir(path):
                self.kill(path)
                try:
                    os.rmdir(path)
                except OSError as e:
                    say("cannot remove %s: %s" % (path, e))
        try:
            os.rmdir(self.base)
        except OSError as e:
            say("cannot remove %s: %s" % (self.base, e))
        self.base = None


def spawn(argv, cgroup, log_path, env=None):
    """argv started in a session of its own, inside cgroup (if any)."""
    def enter():
        if cgroup:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write("0")
    log = open(log_path, "wb")
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, preexec_fn=enter, env=env)
    finally:
        log.close()


def stop(proc, cgroup):
    """SIGTERM to proc, then whatever is left in its cgroup (or session) killed."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
    if cgroup:
        Cgroups.kill(cgroup)
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        say("pid %d did not exit" % proc.pid)


# ---------------------------------------------------------------- /proc
def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def proc_kib(pid, path, field):
    """A "Field: N kB" value of /proc/PID/path, or None."""
    try:
        with open("/proc/%d/%s" % (pid, path)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_busy_s():
    """CPU seconds the whole machine spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle, iowait
    return (sum(fields[:8]) - idle) / float(os.sysconf("SC_CLK_TCK"))


def tasks():
    """Tasks on the machine now (/proc/loadavg)."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[1])


def settle(max_tasks, limit_s=120.0):
    """Wait (up to limit_s) until the machine holds at most max_tasks tasks:
    the exits of a previous run's thousands of processes, still going on
    after their cgroup has emptied, would be counted against the next."""
    end = time.time() + limit_s
    while time.time() < end and tasks() > max_tasks:
        time.sleep(0.5)


def count_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


# ---------------------------------------------------------------- sysctls
class Sysctls:
    """Kernel limits raised for the run, never lowered, and put back after
    (also by bench/scale.sh's trap, from SYSCTL_SAVE)."""

    def __init__(self):
        self.saved = {}     # name -> value before
        self.changes = []   # (name, before, after, why)

    @staticmethod
    def path(name):
        return "/proc/sys/" + name.replace(".", "/")

    def get(self, name):
        with open(self.path(name)) as f:
            return f.read().strip()

    def raise_to(self, name, value, why):
        before = self.get(name)
        if int(before.split()[0]) >= value:
            return
        if name not in self.saved:
            self.saved[name] = before
            with open(SYSCTL_SAVE, "a") as f:
                f.write("%s %s\n" % (name, before))
        with open(self.path(name), "w") as f:
            f.write(str(value))
        self.changes.append((name, before, str(value), why))
        say("sysctl %s: %s -> %d (%s)" % (name, before, value, why))

    def restore(self):
        for name, value in self.saved.items():
            try:
                with open(self.path(name), "w") as f:
                    f.write(value)
            except OSError as e:
                say("cannot restore %s to %s: %s" % (name, value, e))
        self.saved = {}
        try:
            os.unlink(SYSCTL_SAVE)
        except FileNotFoundError:
            pass


def build_itkd():
    """./itkd-static (or BENCH_ITKD): the path, or raises RuntimeError."""
    path = os.path.abspath(os.environ.get("BENCH_ITKD", os.path.join(TOP, "itkd-static")))
    if not os.access(path, os.X_OK):
        if "BENCH_ITKD" in os.environ:
            raise RuntimeError("no executable " + path)
        r = run(["make", "-C", TOP, "static"])
        if r.returncode or not os.access(path, os.X_OK):
            raise RuntimeError("make static failed: " + " ".join(r.stdout.split()[-30:]))
    return path


def which_apache():
    if not shutil.which("apache2") or not os.path.exists(os.path.join(APACHE_MODDIR, "mpm_itk.so")):
        return "apache2 or mpm-itk not installed"
    return None
