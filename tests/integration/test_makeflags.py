"""The Makefile as packagers call it: CC, CPPFLAGS, CFLAGS and LDFLAGS from the
command line or the environment are honoured and never drop what itkd needs
(-std=c11, -D_GNU_SOURCE), warnings are errors in `make check` and not in a
plain build, and a change of flags rebuilds the objects."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import TOP, done, ok  # noqa: E402

# Dry runs into a scratch object directory: the tree's own objects, binary
# and flag stamp are left alone while the suite runs.
SCRATCH = "tests/tmp/makeflags"


def make(*args, env=None):
    e = dict(os.environ)
    for k in ("CC", "CPPFLAGS", "CFLAGS", "LDFLAGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        e.pop(k, None)
    e.update(env or {})
    r = subprocess.run(["make", "-C", TOP, "--no-print-directory", "O=" + SCRATCH] + list(args),
                       capture_output=True, env=e, stdin=subprocess.DEVNULL)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def compile_lines(out):
    return [l for l in out.splitlines() if " -c -o " in l and SCRATCH in l]


def main():
    rc, out = make("-n", "-B", "CFLAGS=-O1 -fno-plt", "itkd")
    lines = compile_lines(out)
    ok("make CFLAGS=... dry run compiles every source", rc == 0 and len(lines) >= 10, out[-500:])
    ok("command-line CFLAGS keep -std=c11 and -D_GNU_SOURCE",
       lines and all("-std=c11" in l and "-D_GNU_SOURCE" in l for l in lines), lines[:1])
    ok("command-line CFLAGS are used, the default is not",
       lines and all("-O1 -fno-plt" in l and "-O2" not in l for l in lines), lines[:1])
    ok("a plain build does not turn warnings into errors",
       lines and not any("-Werror" in l for l in lines), lines[:1])

    rc, out = make("-n", "-B", "itkd", env={"CFLAGS": "-Os", "CPPFLAGS": "-DPKG_CPP",
                                             "LDFLAGS": "-Wl,--as-needed", "CC": "gcc"})
    lines = compile_lines(out)
    ok("CC, CPPFLAGS and CFLAGS from the environment reach every compile",
       lines and all(l.startswith("gcc ") and "-DPKG_CPP" in l and "-Os" in l
                     and "-D_GNU_SOURCE" in l for l in lines), lines[:1])
    link = [l for l in out.splitlines() if " -o itkd " in l]
    ok("LDFLAGS from the environment reach the link", link and "-Wl,--as-needed" in link[0], link)

    # `make check` builds through a sub-make with WERROR; -n still runs
    # $(MAKE) lines, so this shows the flags check really compiles with.
    rc, out = make("-n", "-B", "check")
    lines = compile_lines(out)
    ok("make check compiles with -Werror", lines and all("-Werror" in l for l in lines),
       out[-500:])

    # A real compile with a packager's CFLAGS of the file that needs
    # _GNU_SOURCE (mremap): it used to break when CFLAGS was overridden.
    rc, out = make("CFLAGS=-O1", SCRATCH + "/alloc.o")
    ok("make CFLAGS=-O1 really compiles alloc.o (mremap needs _GNU_SOURCE)", rc == 0, out[-800:])
    stamp = os.path.join(TOP, SCRATCH, ".flags")
    before = os.path.getmtime(os.path.join(TOP, SCRATCH, "alloc.o")) if rc == 0 else 0
    rc, out = make("CFLAGS=-O1", SCRATCH + "/alloc.o")
    ok("same flags again: nothing to rebuild", rc == 0 and " -c -o " not in out, out[-300:])
    rc, out = make("CFLAGS=-O2", SCRATCH + "/alloc.o")
    ok("changed flags: the object is rebuilt and the stamp records them",
       rc == 0 and " -c -o " in out and "-O2" in open(stamp).read()
       and os.path.getmtime(os.path.join(TOP, SCRATCH, "alloc.o")) >= before, out[-300:])
    done()


main()
