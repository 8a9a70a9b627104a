"""The suite's ids and ports come from one place (tests/itkdtest.py, and
unit_priv for its own) and move with ITKD_TEST_UID_BASE and
ITKD_TEST_PORT_BASE, so the suite can run beside anything else that uses
the defaults (61000.. and kernel-chosen ports)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import TOP, done, need_root, ok  # noqa: E402

PROBE = ("import sys; sys.path.insert(0, %r); import itkdtest as t; "
         "print(t.UID_USER, t.UID_A, t.RANGE_MIN, t.RANGE_MAX, t.free_port(), t.free_port())"
         % os.path.join(TOP, "tests"))


def probe(env):
    e = dict(os.environ)
    e.pop("ITKD_TEST_UID_BASE", None)
    e.pop("ITKD_TEST_PORT_BASE", None)
    e.update(env)
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=e)
    return r.returncode, r.stdout.split(), r.stderr


rc, v, _ = probe({})
ok("default ids: global user 61000, vhosts from 61001, ranges 61001-61999",
   rc == 0 and v[:4] == ["61000", "61001", "61001", "61999"], repr(v))
rc, v, _ = probe({"ITKD_TEST_UID_BASE": "71000", "ITKD_TEST_PORT_BASE": "30000"})
ok("ITKD_TEST_UID_BASE=71000 moves every id",
   rc == 0 and v[:4] == ["71000", "71001", "71001", "71999"], repr(v))
ok("ITKD_TEST_PORT_BASE=30000: ports from 30000..34999, two different",
   rc == 0 and all(30000 <= int(p) < 35000 for p in v[4:6]) and v[4] != v[5], repr(v))
rc, v, err = probe({"ITKD_TEST_UID_BASE": "0"})
ok("ITKD_TEST_UID_BASE=0 (root's range) is refused", rc != 0 and "ITKD_TEST_UID_BASE" in err, err)

need_root("unit_priv with moved ids")
exe = os.path.join(TOP, "tests", "unit_priv")
e = dict(os.environ, ITKD_TEST_UID_BASE="71000")
r = subprocess.run([exe], capture_output=True, text=True, env=e)
ok("unit_priv with ITKD_TEST_UID_BASE=71000 passes", r.returncode == 0 and "FAIL" not in r.stdout,
   r.stdout[-500:])
ok("unit_priv with ITKD_TEST_UID_BASE=71000 switched to 71001, never to 61001",
   "uid=71001/71001/71001/71001" in r.stderr and "61001" not in r.stderr, r.stderr[-500:])
done()
