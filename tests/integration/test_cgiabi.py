"""A CGI program of another system call ABI than itkd's: `itkd -t` and the
start warn, at the line of the directive, and say why (the seccomp filter
kills it: 502; or the kernel cannot run it: 500). The programs are crafted ELF
headers, so no 32-bit or cross toolchain is needed. Where the kernel runs
i386 programs (a control shows whether), a real one, made here byte by
byte, gets 502 through itkd, as the warning says."""
import os
import platform
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import *  # noqa: E402,F401,F403

EM_386, EM_ARM, EM_X86_64, EM_MIPS = 3, 40, 62, 8

RESPONSE = b"Content-Type: text/plain\r\n\r\ni386 ran\n"


def elf32(machine, big=False, flags=0, code=b""):
    """A 32-bit ELF executable header (and, with code, one PT_LOAD
    segment holding the whole file at 0x08048000, entry right after the
    headers)."""
    e = "<>"[big]
    base, hsize, phsize = 0x08048000, 52, 32
    size = hsize + phsize + len(code)
    ident = b"\x7fELF" + bytes([1, 2 if big else 1, 1, 0]) + bytes(8)
    head = ident + struct.pack(e + "HHIIIIIHHHHHH", 2, machine, 1,
                               base + hsize + phsize, hsize, 0, flags,
                               hsize, phsize, 1, 40, 0, 0)
    ph = struct.pack(e + "IIIIIIII", 1, 0, base, base, size, size, 5, 0x1000)
    return head + ph + code


def i386_cgi():
    """write(1, RESPONSE) and exit(0), through int $0x80: an i386 program."""
    entry = 0x08048000 + 52 + 32
    msg_at = entry + 31             # right after the code
    code = (b"\xb8\x04\x00\x00\x00"                     # mov eax, 4 (write)
            b"\xbb\x01\x00\x00\x00"                     # mov ebx, 1
            + b"\xb9" + struct.pack("<I", msg_at) +     # mov ecx, msg
            b"\xba" + struct.pack("<I", len(RESPONSE)) +  # mov edx, len
            b"\xcd\x80"                                 # int $0x80
            b"\xb8\x01\x00\x00\x00"                     # mov eax, 1 (exit)
            b"\x31\xdb"                                 # xor ebx, ebx
            b"\xcd\x80")                                # int $0x80
    assert len(code) == 31
    return elf32(EM_386, code=code + RESPONSE)


def host_machine():
    return {"x86_64": EM_X86_64, "aarch64": 183, "armv7l": EM_ARM,
            "mips": EM_MIPS}.get(platform.machine())


def put(path, data, mode=0o755):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


def check(conf):
    r = subprocess.run([ITKD, "-t", "-c", conf], capture_output=True, timeout=20)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def line_of(conf, text):
    with open(conf) as f:
        for n, line in enumerate(f, 1):
            if line.startswith(text):
                return n
    return 0


base = os.path.join(TOP, "tests", "tmp")
os.makedirs(base, exist_ok=True)
d = tempfile.mkdtemp(prefix="itkd-cgiabi-", dir=base)
os.chmod(d, 0o755)
try:
    i386 = put(os.path.join(d, "php-i386"), elf32(EM_386))
    arm = put(os.path.join(d, "perl-arm"), elf32(EM_ARM, flags=0x05000400))
    mips = put(os.path.join(d, "lua-mips"), elf32(EM_MIPS, big=True))
    www = os.path.join(d, "www")
    os.makedirs(os.path.join(www, "cgi-bin", "sub"))
    os.makedirs(os.path.join(www, "deep", "er"))
    # Native programs, and what is no program: no warning for any.
    put(os.path.join(www, "native.cgi"), b"#!/bin/sh\necho\n")
    put(os.path.join(www, "python.cgi"), b"#!" + sys.executable.encode() + b"\n")
    put(os.path.join(www, "data.cgi"), elf32(EM_386), 0o644)   # not executable
    put(os.path.join(www, "x.php"), elf32(EM_386))             # run by its interpreter
    os.mkfifo(os.path.join(www, "fifo.cgi"))                   # would block an open
    os.symlink("/dev/zero", os.path.join(www, "zero.cgi"))     # out of the tree
    # Foreign ones, found below root and below the cgi-dir.
    put(os.path.join(www, "deep", "er", "old.cgi"), elf32(EM_386))
    # A name its owner chose to forge a log line and colour a terminal.
    put(os.path.join(www, "deep", "x\x1b[31m\nitkd: forged.cgi"), elf32(EM_386))
    put(os.path.join(www, "cgi-bin", "sub", "tool"), elf32(EM_ARM))
    put(os.path.join(www, "cgi-bin", "wrapped"),
        b"#!" + mips.encode() + b" -x\nprint(1)\n")
    conf = os.path.join(d, "itkd.conf")
    with open(conf, "w") as f:
        f.write("""listen 127.0.0.1:1
user #%d
group #%d
uid-range %d %d
gid-range %d %d
vhost a.test
root %s
user #%d
group #%d
cgi .php %s
cgi .pl %s
cgi .sh /bin/sh
cgi .py %s
cgi .cgi
cgi-dir /cgi-bin/
""" % (UID_USER, UID_USER, RANGE_MIN, RANGE_MAX, RANGE_MIN, RANGE_MAX,
            www, UID_A, UID_A, i386, arm, sys.executable))
    rc, out, err = check(conf)
    lines = err.splitlines()
    ok("cgiabi: itkd -t passes (a warning is no error)", rc == 0 and "ok" in out,
       (rc, out, err))

    def warned(name, prefix, directive, words):
        want = "%s:%d: warning: %s" % (conf, line_of(conf, directive), prefix)
        hit = [ln for ln in lines if want in ln]
        ok("cgiabi: warns about %s at its line" % name,
           len(hit) == 1 and all(w in hit[0] for w in words), (want, err))

    native = host_machine()
    if native == EM_X86_64:
        warned("an i386 cgi interpreter", "cgi interpreter %s is a 32-bit x86 (i386) ELF, "
               "and itkd is 64-bit x86-64" % i386, "cgi .php",
               ["seccomp filter", "SIGSYS", "502"])
        warned("an i386 program below root, four levels down",
               "cgi program %s/deep/er/old.cgi is a 32-bit x86 (i386) ELF" % www,
               "cgi .cgi", ["SIGSYS", "502"])
    else:
        skip("cgiabi: the i386 warnings", "not an x86-64 machine (%s)" % platform.machine())
    if native not in (EM_ARM, 183):
        warned("an ARM cgi interpreter", "cgi interpreter %s is a 32-bit ARM ELF" % arm,
               "cgi .pl", ["cannot run it", "binfmt_misc", "ENOEXEC", "500"])
        warned("an ARM program below a cgi-dir", "cgi program %s/cgi-bin/sub/tool is a "
               "32-bit ARM ELF" % www, "cgi-dir", ["500"])
    if native != EM_MIPS:
        warned("a script whose #! is a MIPS ELF", "cgi program %s/cgi-bin/wrapped runs %s "
               "(#!), a 32-bit MIPS big-endian (mips) ELF" % (www, mips), "cgi-dir", ["500"])
    quiet = [ln for ln in lines for n in ("/bin/sh", "native.cgi", "python",
                                          "data.cgi", "x.php", "fifo", "zero")
             if n in ln]
    ok("cgiabi: no warning for native programs, non-executables, a FIFO or a symlink "
       "out of the tree", quiet == [], quiet)
    if native == EM_X86_64:
        warned("a program whose name holds a newline and an escape, printed with '?'",
               "cgi program %s/deep/x?[31m?itkd: forged.cgi is a 32-bit x86 (i386)" % www,
               "cgi .cgi", ["502"])
    ok("cgiabi: no control byte reaches the output", "\x1b" not in err and
       not any(ln.startswith("itkd: forged") for ln in lines), err)
    ok("cgiabi: nothing else is warned about", len(lines) == 6 if native == EM_X86_64
       else True, err)

    # The control: the same config, nothing foreign in it, says nothing.
    plain = os.path.join(d, "plain.conf")
    with open(conf) as f:
        text = f.read()
    with open(plain, "w") as f:
        f.write("\n".join(ln for ln in text.splitlines()
                          if not ln.startswith(("cgi .php", "cgi .pl", "cgi-dir"))) + "\n")
    shutil.rmtree(os.path.join(www, "deep"))
    rc, out, err = check(plain)
    ok("cgiabi: a config of native programs gets no warning",
       rc == 0 and "warning" not in err, (rc, err))

    # Eleven foreign programs: eight named, then a count.
    many = os.path.join(d, "many")
    os.makedirs(many)
    for i in range(11):
        put(os.path.join(many, "p%02d.cgi" % i), elf32(EM_386))
    with open(plain, "w") as f:
        f.write("\n".join(ln if not ln.startswith("root ") else "root " + many
                          for ln in text.splitlines()
                          if not ln.startswith(("cgi .php", "cgi .pl", "cgi-dir"))) + "\n")
    rc, out, err = check(plain)
    named = [ln for ln in err.splitlines() if "warning: cgi program" in ln]
    more = [ln for ln in err.splitlines() if "and 3 more cgi programs below %s" % many in ln]
    ok("cgiabi: at most 8 programs of a vhost are named, then how many more",
       rc == 0 and len(named) == 8 and len(more) == 1, err)
finally:
    if os.environ.get("ITKD_KEEP") is None:
        shutil.rmtree(d, ignore_errors=True)

# ---- the start, and what the warning predicts --------------------------------

if os.geteuid() != 0:
    skip("cgiabi: the start and the 502", "needs root")
    done()

conf = two_vhost_conf(extra_a="cgi .cgi\n")
with Server(conf, "cgiabi", start=False) as s:
    two_vhost_roots(s.dir)
    prog = write(os.path.join(s.dir, "a", "i386.cgi"), i386_cgi(), UID_A, UID_A, 0o755)
    s.start()
    ok("cgiabi: the start warns as -t does",
       "%s/a/i386.cgi is a 32-bit x86 (i386) ELF" % s.dir in s.log()
       if host_machine() == EM_X86_64 else True, s.log())
    # The control: does this kernel run i386 programs at all?
    try:
        r = subprocess.run([prog], capture_output=True, timeout=10)
        runs = r.returncode == 0 and r.stdout == RESPONSE
    except OSError as e:
        runs, r = False, e
    emulated = [n for n in ("qemu-i386", "qemu-i386-static", "i386")
                if os.path.exists("/proc/sys/fs/binfmt_misc/" + n)]
    if not runs:
        skip("cgiabi: an i386 CGI program is killed (SIGSYS) and gets 502",
             "this kernel does not run i386 programs (no IA32 emulation): %r" % (r,))
        resp = get(s.port, "/i386.cgi")
        ok("cgiabi: an i386 program this kernel cannot run gets 500 (its exec fails)",
           resp is not None and resp[0] == 500, repr(resp))
    elif emulated:
        skip("cgiabi: an i386 CGI program is killed (SIGSYS) and gets 502",
             "binfmt_misc hands i386 programs to an emulator here: %s" % emulated)
    else:
        ok("cgiabi: control: the i386 program runs outside itkd", True)
        resp = get(s.port, "/i386.cgi")
        ok("cgiabi: under itkd the i386 program is killed (SIGSYS) and the client gets 502",
           resp is not None and resp[0] == 502, repr(resp))
done()
