"""The bad-input corpus (tests/badinput/requests.txt): every entry is sent on
a connection of its own to one itkd, and the first answer's status (or a
close without a byte) must be one of those the entry expects. Afterwards
the server must still answer a plain GET. Needs root (it switches uids)."""
import codecs
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from itkdtest import *  # noqa: E402,F401,F403

need_root("badinput")

CORPUS = os.path.join(TOP, "tests", "badinput", "requests.txt")


def load():
    """[(line number, set of expected answers, request bytes)]"""
    entries = []
    with open(CORPUS, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            exp, sep, text = line.partition("\t")
            if not sep or not re.fullmatch(r"(\d{3}|close)(\|(\d{3}|close))*", exp):
                raise ValueError("%s:%d: bad entry" % (CORPUS, n))
            entries.append((n, set(exp.split("|")), codecs.escape_decode(text)[0]))
    return entries


def answer(port, data):
    """'close' if the server closed without a byte, the first status as a
    string, or 'junk: ...' for bytes that are no status line."""
    try:
        got = raw(port, data, timeout=8.0)
    except (ConnectionResetError, BrokenPipeError):
        return "close"      # it closed while we were still sending
    except socket.timeout:
        return "timeout"
    if not got:
        return "close"
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", got)
    return m.group(1).decode() if m else "junk: %r" % got[:40]


def main():
    entries = load()
    ok("corpus has at least 150 entries", len(entries) >= 150, "%d" % len(entries))
    srv = Server(two_vhost_conf(), name="bad", start=False)
    try:
        two_vhost_roots(srv.dir)
        srv.start()
        for n, expected, data in entries:
            got = answer(srv.port, data)
            shown = data[:50].decode("latin-1").encode("unicode_escape").decode()
            if os.environ.get("BADINPUT_SHOW"):
                print("# %d got %s" % (n, got))
            ok("badinput:%d %s -> %s" % (n, shown, "|".join(sorted(expected))),
               got in expected, "got %s" % got)
        st = get(srv.port, "/", "a.test")
        ok("badinput: a good GET still gets 200 afterwards", st and st[0] == 200, repr(st))
        ok("badinput: the master is still running", srv.proc.poll() is None, srv.log()[-500:])
        crashed = [l for l in srv.log().splitlines()
                   if "signal" in l.lower() or "killed" in l.lower()]
        ok("badinput: no child died of a signal", not crashed, "\n".join(crashed[:5]))
    finally:
        srv.cleanup()


main()
done()
