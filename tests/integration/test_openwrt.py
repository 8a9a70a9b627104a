"""contrib/openwrt: the config it ships passes `itkd -t` with no warning;
the README gives a `make static TARGET=...` for each target with the
OpenWrt targets it serves, and names only files that exist; the init
script refuses, with a reason in the log, a binary that cannot run on the
machine, and uses the paths the README gives. Needs no root."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import *  # noqa: E402,F401,F403

OWRT = os.path.join(TOP, "contrib", "openwrt")


def read(name):
    with open(os.path.join(OWRT, name)) as f:
        return f.read()


def config_checks():
    conf = os.path.join(OWRT, "itkd.conf")
    r = subprocess.run([ITKD, "-t", "-c", conf], capture_output=True)
    ok("openwrt: contrib/openwrt/itkd.conf passes itkd -t with no warning",
       r.returncode == 0 and r.stderr == b"", repr(r))


# The TARGETs `make static` knows, and OpenWrt targets each must list.
WANT = {
    "aarch64": ["mediatek/filogic", "bcm2711", "aarch64_cortex-a53"],
    "armhf": ["ipq40xx", "bcm2709", "arm_cortex-a7_neon-vfpv4"],
    "armel": ["kirkwood", "arm_xscale", "arm926"],
    "mipsel": ["ramips/mt7621", "mipsel_24kc"],
    "mips": ["ath79", "mips_24kc", "big-endian"],
    "x86_64": ["x86/64"],
}


def readme_checks():
    text = read("README")
    rows = re.split(r"^  make static TARGET=", text, flags=re.M)
    table = {}
    for row in rows[1:]:
        target = row.split()[0]
        table.setdefault(target, " ".join(row.split("\n\n")[0].split()))
    for target, names in sorted(WANT.items()):
        row = table.get(target, "")
        missing = [n for n in names if n not in row]
        ok("openwrt README: make static TARGET=%s for %s" % (target, ", ".join(names)),
           row and not missing, (missing, row))
    for word in ("CONFIG_SECCOMP", "CONFIG_SECCOMP_FILTER", "5.6", "/etc/itkd.conf",
                 "procd", "UNTESTED".lower()):
        ok("openwrt README: says %s" % word, word in text, word)
    named = set(re.findall(r"\b(contrib/openwrt/[\w.-]+)", text))
    missing = sorted(p for p in named if not os.path.exists(os.path.join(TOP, p)))
    ok("openwrt README: every contrib/openwrt file it names exists", named and not missing,
       missing)
    mk = read("Makefile")
    srcs = set(re.findall(r"\$\(ITKD_SRC\)/(contrib/[\w./-]+)", mk))
    ok("openwrt Makefile sketch: says it is untested, names files that exist",
       "UNTESTED" in mk and srcs and all(os.path.exists(os.path.join(TOP, p)) for p in srcs),
       srcs)


def init_checks():
    init = read("itkd.init")
    ok("openwrt init: /usr/sbin/itkd and /etc/itkd.conf, as the README says",
       "PROG=/usr/sbin/itkd" in init and "CONF=/etc/itkd.conf" in init)
    stubs = r'''
procd_open_instance() { echo "open" >> "$REC"; }
procd_set_param() { echo "param $*" >> "$REC"; }
procd_close_instance() { echo "close" >> "$REC"; }
logger() { echo "logger $*" >> "$REC"; }
. "$INIT"
PROG=$ITKD_BIN
CONF=$CONF_FILE
"$@"
'''
    d = tempfile.mkdtemp(prefix="itkd-owrt-", dir=os.path.join(TOP, "tests", "tmp"))
    # An ARM ELF header: what a build for the wrong target looks like here
    # (on an ARM machine, a MIPS one).
    machine = 8 if os.uname().machine.startswith(("arm", "aarch")) else 40
    wrong = os.path.join(d, "itkd")
    with open(wrong, "wb") as f:
        f.write(b"\x7fELF\x01\x01\x01" + bytes(9) + bytes([2, 0, machine, 0, 1]) + bytes(64))
    os.chmod(wrong, 0o755)
    rec = os.path.join(d, "rec")
    env = dict(os.environ, REC=rec, INIT=os.path.join(OWRT, "itkd.init"), ITKD_BIN=wrong,
               CONF_FILE=os.path.join(OWRT, "itkd.conf"))
    r = subprocess.run(["sh", "-c", stubs, "sh", "start_service"], env=env,
                       capture_output=True)
    text = open(rec).read() if os.path.exists(rec) else ""
    ok("openwrt init: a binary for another target is refused, the log says why",
       r.returncode != 0 and "open" not in text.splitlines() and
       re.search(r"logger .*does not run on this .* machine: build it with make static "
                 r"TARGET=", text), repr((r, text)))
    os.unlink(rec)
    env["ITKD_BIN"] = ITKD
    r = subprocess.run(["sh", "-c", stubs, "sh", "start_service"], env=env,
                       capture_output=True)
    text = open(rec).read() if os.path.exists(rec) else ""
    ok("openwrt init: with this machine's itkd and the shipped config, procd gets "
       "itkd -f -c CONF", r.returncode == 0 and
       "param command %s -f -c %s" % (ITKD, env["CONF_FILE"]) in text, repr((r, text)))
    subprocess.run(["rm", "-rf", d])


os.makedirs(os.path.join(TOP, "tests", "tmp"), exist_ok=True)
config_checks()
readme_checks()
init_checks()
done()
