"""tests/integration/test_userdir.py: `userdir DIR` and `user owner` /
`group owner` (issue 5, items 7 and 8).

Real system users are made for the test (useradd, uids inside the config's
uid-range, homes in the throwaway dir) and removed again in a finally
block. Who served what is checked from outside: the file is 0600 and owned
by the user, and the stage-2 child's /proc/PID/status shows the user's uid
while its keep-alive connection is still open. Needs root.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (RANGES, RANGES_99, tid, conn_child, machine_lock, read_response, ITKD, UID_USER, UID_A, UID_B, UID_C, Server, connect, done, mkdir,
                      need_root, ok, parse, proc_status, raw, recv_all, write)

need_root("userdir")

# name: (uid, gid). itkdu3's uid is outside uid-range, its group inside;
# itkdu4's primary group is 0; itkdu5 is also in root, adm and itkdug.
USERS = {"itkdu1": (tid(11), tid(11)), "itkdu2": (tid(12), tid(12)), "itkdu3": (tid(211), tid(11)),
         "itkdu4": (tid(14), 0), "itkdu5": (tid(16), tid(11))}
GROUPS = {"itkdu1": tid(11), "itkdu2": tid(12), "itkdug": tid(15)}
# From /etc/group, through getgrouplist.
SUPPLEMENTARY = {"itkdu2": "itkdug", "itkdu5": "root,adm,itkdug"}
CREDCHECK = os.path.join(os.path.dirname(ITKD), "tests", "helpers", "credcheck")
ENV_CGI = os.path.join(os.path.dirname(ITKD), "tests", "cgi", "env.cgi")

CONF = ("""
listen 127.0.0.1:{port}
user #%d
group #%d
""" + RANGES_99 + """error-log {dir}/error.log
access-log {dir}/access.log
timeout 5
keepalive-timeout 5

vhost u.test
root {dir}/vroot
user #%d
group #%d
userdir public_html
cgi .cgi
error-page 404 /errors/404.html
header X-Vhost u

vhost owned.test
root {dir}/owned
user owner
group owner

vhost plain.test
root {dir}/plain
user #%d
group #%d
""") % (UID_USER, UID_USER, UID_A, UID_A, UID_A, UID_A)


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True)




def remove_users():
    for name in USERS:
        run("userdel", name)
    for name in GROUPS:
        run("groupdel", name)


def add_users(homes):
    remove_users()      # leftovers of a run that was killed
    for name, gid in GROUPS.items():
        r = run("groupadd", "-g", str(gid), name)
        if r.returncode != 0:
            raise RuntimeError("groupadd %s: %s" % (name, r.stderr))
    for name, (uid, gid) in USERS.items():
        extra = ("-G", SUPPLEMENTARY[name]) if name in SUPPLEMENTARY else ()
        r = run("useradd", "-M", "-N", "-u", str(uid), "-g", str(gid), *extra, "-d",
                os.path.join(homes, name), "-s", "/usr/sbin/nologin", name)
        if r.returncode != 0:
            raise RuntimeError("useradd %s: %s" % (name, r.stderr))


def lay_out(d):
    """Homes with a public_html each, every file 0600 and its user's own."""
    homes = mkdir(os.path.join(d, "home"))
    for name, (uid, gid) in USERS.items():
        home = mkdir(os.path.join(homes, name), uid, gid, 0o700)
        pub = mkdir(os.path.join(home, "public_html"), uid, gid, 0o700)
        write(os.path.join(pub, "index.html"), "<h1>home of %s</h1>\n" % name, uid, gid, 0o600)
        write(os.path.join(pub, "secret.txt"), "secret of %s\n" % name, uid, gid, 0o600)
    mkdir(os.path.join(homes, "itkdu1", "public_html", "sub"), tid(11), tid(11), 0o700)
    write(os.path.join(homes, "itkdu1", "public_html", "sub", "f.txt"), "sub of itkdu1\n",
          tid(11), tid(11), 0o600)
    pub2 = os.path.join(homes, "itkdu2", "public_html")
    for src, dst in ((CREDCHECK, "id.cgi"), (ENV_CGI, "env.cgi")):
        shutil.copy(src, os.path.join(pub2, dst))
        os.chown(os.path.join(pub2, dst), tid(12), tid(12))
        os.chmod(os.path.join(pub2, dst), 0o700)
    # A link from itkdu1's tree to itkdu2's 0600 file: itkdu1 cannot read it.
    os.symlink(os.path.join(homes, "itkdu2", "public_html", "secret.txt"),
               os.path.join(homes, "itkdu1", "public_html", "steal.txt"))
    vroot = mkdir(os.path.join(d, "vroot"), UID_A, UID_A, 0o700)
    write(os.path.join(vroot, "index.html"), "<h1>vhost u</h1>\n", UID_A, UID_A, 0o600)
    write(os.path.join(vroot, "secret.txt"), "secret of vhost u\n", UID_A, UID_A, 0o600)
    mkdir(os.path.join(vroot, "errors"), UID_A, UID_A, 0o700)
    write(os.path.join(vroot, "errors", "404.html"), "vhost u's own 404\n", UID_A, UID_A, 0o600)
    owned = mkdir(os.path.join(d, "owned"), UID_C, UID_C, 0o700)
    write(os.path.join(owned, "secret.txt"), "secret of owned\n", UID_C, UID_C, 0o600)
    plain = mkdir(os.path.join(d, "plain"), UID_A, UID_A, 0o700)
    write(os.path.join(plain, "x.txt"), "x\n", UID_A, UID_A, 0o600)
    return homes


def req(path, host="u.test", close=False, method="GET"):
    return ("%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
            (method, path, host, "Connection: close\r\n" if close else "")).encode()


def get(srv, path, host="u.test"):
    r = parse(raw(srv.port, req(path, host, close=True)))
    return r[0] if r else None




def quiet(srv, timeout=3.0):
    """Wait until the master has no connection child left."""
    end = time.time() + timeout
    while srv.children() and time.time() < end:
        time.sleep(0.02)


def served_as(srv, path, host="u.test"):
    """GET path on a keep-alive connection; while it is still open, the
    (real, effective, saved, fs) uids and gids of the child serving it.
    Returns (response, [(Uid, Gid)]), [] when no such child is found."""
    quiet(srv)
    s = connect(srv.port)
    try:
        s.sendall(req(path, host))
        resp = read_response(s)
        ids = []
        pid = conn_child(srv, s)
        st = proc_status(pid) if pid else {}
        if st:
            ids.append((st.get("Uid", ""), st.get("Gid", "")))
        return resp, ids
    finally:
        s.close()


def ids4(v):
    return "\t".join([str(v)] * 4)


def status_of(resp):
    r = parse(resp)
    return r[0][0] if r else None


def serve_users(srv):
    for name, (uid, gid) in (("itkdu1", USERS["itkdu1"]), ("itkdu2", USERS["itkdu2"])):
        f = os.path.join(srv.dir, "home", name, "public_html", "secret.txt")
        st = os.stat(f)
        ok("%s: the test file is 0600 and owned by %d" % (name, uid),
           st.st_mode & 0o777 == 0o600 and st.st_uid == uid, oct(st.st_mode))
        resp, ids = served_as(srv, "/~%s/secret.txt" % name)
        r = parse(resp)
        ok("/~%s/secret.txt: 200 with %s's 0600 file" % (name, name),
           r and r[0][0] == 200 and r[0][2] == ("secret of %s\n" % name).encode(), repr(resp))
        ok("/~%s/: the stage-2 child runs as %d:%d (uid and gid, all four)" % (name, uid, gid),
           ids == [(ids4(uid), ids4(gid))], repr(ids))
        r = get(srv, "/~%s/" % name)
        ok("/~%s/: its index.html" % name,
           r and r[0] == 200 and r[2] == ("<h1>home of %s</h1>\n" % name).encode(), repr(r))
    r = get(srv, "/~itkdu1/sub/f.txt")
    ok("/~itkdu1/sub/f.txt: a subdirectory", r and r[0] == 200 and r[2] == b"sub of itkdu1\n",
       repr(r))
    r = get(srv, "/~itkdu1/secret.txt?x=1")
    ok("/~itkdu1/secret.txt?x=1: the query is not part of the path",
       r and r[0] == 200 and r[2] == b"secret of itkdu1\n", repr(r))
    for name in ("itkdu1", "nosuchuser", "itkdu3", "root"):
        r = get(srv, "/~" + name)
        ok("/~%s without a slash: 301 to /~%s/" % (name, name),
           r and r[0] == 301 and re.match(r"^(https?://[^/]+)?/~%s/$" % name,
                                          r[1].get("location", "")), repr(r))
    r = get(srv, "/~itkdu1?a=b")
    ok("/~itkdu1?a=b: 301 keeps the query",
       r and r[0] == 301 and r[1].get("location", "").endswith("/~itkdu1/?a=b"), repr(r))
    r = get(srv, "/~itkdu1/sub")
    ok("/~itkdu1/sub: 301 to /~itkdu1/sub/",
       r and r[0] == 301 and re.match(r"^(https?://[^/]+)?/~itkdu1/sub/$",
                                      r[1].get("location", "")), repr(r))


def groups_and_cgi(srv):
    """The user's groups as initgroups would set them, and a user's CGI
    program runs as that user, seen from inside."""
    for name, want in (("itkdu1", {str(tid(11))}), ("itkdu2", {str(tid(12)), str(tid(15))}),
                       ("itkdu5", {str(tid(11)), str(tid(15))})):
        quiet(srv)
        s = connect(srv.port)
        try:
            s.sendall(req("/~%s/secret.txt" % name))
            read_response(s)
            pid = conn_child(srv, s)
            groups = [set(proc_status(pid).get("Groups", "").split())] if pid else []
        finally:
            s.close()
        ok("/~%s/: the child's supplementary groups are exactly %s%s" %
           (name, sorted(want), " (not root's 0, not adm's 4: outside gid-range)"
            if name == "itkdu5" else ""), groups == [want], repr(groups))
    r = get(srv, "/~itkdu2/id.cgi")
    f = {}
    for line in (r[2].decode() if r else "").splitlines():
        k, _, v = line.partition(":")
        f[k] = v.strip()
    ok("/~itkdu2/id.cgi: runs", r and r[0] == 200, repr(r))
    ok("/~itkdu2/id.cgi: Uid and Gid are itkdu2's, all four",
       f.get("Uid", "").split() == [str(tid(12))] * 4 and f.get("Gid", "").split() == [str(tid(12))] * 4,
       repr(f))
    ok("/~itkdu2/id.cgi: groups tid(12) tid(15), no capabilities, no_new_privs",
       set(f.get("Groups", "").split()) == {str(tid(12)), str(tid(15))} and
       all(f.get(c) == "0" * 16 for c in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))
       and f.get("NoNewPrivs") == "1", repr(f))
    pub = os.path.join(srv.dir, "home", "itkdu2", "public_html")
    ok("/~itkdu2/id.cgi: its directory is itkdu2's public_html", f.get("Cwd") == pub, repr(f))
    r = get(srv, "/~itkdu2/env.cgi/extra?q=1")
    env = dict(l.split("=", 1) for l in (r[2].decode() if r else "").splitlines() if "=" in l)
    ok("/~itkdu2/env.cgi: SCRIPT_NAME keeps the /~itkdu2 prefix",
       env.get("SCRIPT_NAME") == "/~itkdu2/env.cgi" and env.get("PATH_INFO") == "/extra",
       repr(env))
    ok("/~itkdu2/env.cgi: DOCUMENT_ROOT and SCRIPT_FILENAME are in itkdu2's public_html",
       env.get("DOCUMENT_ROOT") == pub and env.get("SCRIPT_FILENAME") == pub + "/env.cgi",
       repr(env))


def no_enumeration(srv):
    """An unknown name, a known name with a missing file, a name outside
    uid-range: one and the same 404."""
    answers = {}
    for path in ("/~nosuchuser/x", "/~itkdu1/nosuchfile", "/~itkdu3/nosuchfile",
                 "/~root/nosuchfile", "/~nosuchuser/nosuchfile"):
        data = raw(srv.port, req(path, close=True))
        r = parse(data)
        ok("%s: 404" % path, r and r[0][0] == 404, repr(data))
        # Everything but the Date line must be the same bytes.
        answers[path] = re.sub(rb"\r\nDate: [^\r]*", b"", data)
    first = answers["/~nosuchuser/x"]
    ok("unknown user, missing file, out-of-range user, root: byte-identical 404s",
       all(a == first for a in answers.values()), repr(answers))
    # The same on a keep-alive connection: whether the connection stays open
    # for a next request must not tell either.
    closes = {}
    for path in ("/~nosuchuser/x", "/~itkdu1/nosuchfile"):
        s = connect(srv.port)
        try:
            s.sendall(req(path))
            first = re.sub(rb"\r\nDate: [^\r]*", b"", read_response(s))
            s.sendall(req("/secret.txt"))
            rest = recv_all(s, 2.0)
        finally:
            s.close()
        closes[path] = (first, status_of(rest))
    ok("keep-alive: the 404 for an unknown user and for a known user's missing "
       "file look alike, and so does what follows",
       closes["/~nosuchuser/x"] == closes["/~itkdu1/nosuchfile"], repr(closes))
    ok("an error under /~ closes the connection", closes["/~itkdu1/nosuchfile"][1] is None and
       b"Connection: close" in closes["/~itkdu1/nosuchfile"][0], repr(closes))
    ok("an error under /~ keeps the vhost's header lines",
       b"X-Vhost: u" in closes["/~nosuchuser/x"][0], repr(closes))
    for path in ("/~nouser", "/~itkdu1"):     # names of one length
        s = connect(srv.port)
        try:
            s.sendall(req(path))
            first = re.sub(rb"\r\nDate: [^\r]*", b"", read_response(s))
            s.sendall(req("/secret.txt"))
            rest = recv_all(s, 2.0)
        finally:
            s.close()
        closes[path] = (first.replace(path.encode(), b"NAME"), status_of(rest))
    ok("keep-alive: the 301 of /~nouser and of /~itkdu1 look alike, and so does "
       "what follows", closes["/~nouser"] == closes["/~itkdu1"], repr(closes))
    r = get(srv, "/errors/404.html")
    ok("the vhost's error-page exists", r and r[0] == 200, repr(r))
    r = get(srv, "/nosuchfile")
    ok("the vhost's error-page answers the vhost's own 404s",
       r and r[0] == 404 and r[2] == b"vhost u's own 404\n", repr(r))


def never_root_or_out_of_range(srv):
    for path, uid in (("/~root/", 0), ("/~itkdu3/", tid(211)), ("/~itkdu3/secret.txt", tid(211)),
                      ("/~itkdu4/secret.txt", tid(14))):
        resp, ids = served_as(srv, path)
        ok("%s: 404" % path, status_of(resp) == 404, repr(resp))
        ok("%s: the child never runs as %d (it is the vhost's %d)" % (path, uid, UID_A),
           ids == [(ids4(UID_A), ids4(UID_A))], repr(ids))
    r = get(srv, "/~itkdu3/secret.txt")
    ok("/~itkdu3/ (uid outside uid-range): its file is never served",
       r and b"secret of itkdu3" not in r[2], repr(r))
    r = get(srv, "/~itkdu4/secret.txt")
    ok("/~itkdu4/ (primary group 0): its file is never served",
       r and r[0] == 404 and b"secret of itkdu4" not in r[2], repr(r))


def no_escape(srv):
    for path in ("/~itkdu1/../itkdu2/public_html/secret.txt",
                 "/~itkdu1/%2e%2e/itkdu2/public_html/secret.txt",
                 "/~itkdu1/..%2f..%2fitkdu2/public_html/secret.txt",
                 "/~itkdu1/steal.txt"):
        r = get(srv, path)
        ok("%s: never itkdu2's file" % path,
           r and r[0] in (400, 403, 404) and b"secret of itkdu2" not in r[2], repr(r))
    r = get(srv, "/~itkdu1/steal.txt")
    ok("a symlink to itkdu2's 0600 file, read as itkdu1: 403 (permission)",
       r and r[0] == 403, repr(r))


def userdir_symlink(srv, homes):
    """A user's userdir is a name in her own home: a symlink put in its
    place does not make another tree the one served for her uid, even one
    she can read (refused by the kernel: 404, as for no userdir)."""
    home = os.path.join(homes, "itkdu1")
    pub = os.path.join(home, "public_html")
    other = mkdir(os.path.join(home, "other"), tid(11), tid(11), 0o700)
    write(os.path.join(other, "x.txt"), "other tree of itkdu1\n", tid(11), tid(11), 0o600)
    os.rename(pub, pub + ".real")
    os.symlink(other, pub)
    try:
        r = get(srv, "/~itkdu1/x.txt")
        ok("a symlink as itkdu1's public_html: not followed (404)",
           r and r[0] == 404 and b"other tree" not in r[2], repr(r))
    finally:
        os.unlink(pub)
        os.rename(pub + ".real", pub)
    r = get(srv, "/~itkdu1/index.html")
    ok("itkdu1's own public_html back: served", r and r[0] == 200, repr(r))


def body_not_a_request(srv):
    inner = req("/~itkdu1/secret.txt")
    data = raw(srv.port, b"POST /~itkdu1/sub HTTP/1.1\r\nHost: u.test\r\n"
               b"Content-Length: %d\r\n\r\n" % len(inner) + inner + req("/~itkdu1/index.html"))
    r = parse(data)
    ok("POST /~itkdu1/sub with a request as its body: 301, the body dropped, the next "
       "request answered", [x[0] for x in r] == [301, 200] and b"home of itkdu1" in r[1][2],
       repr(data))


def encoded_names(srv):
    """The name as sent is the name looked up: an encoded name is not a
    user (and so the same 404 as any unknown one), never another file."""
    plain = re.sub(rb"\r\nDate: [^\r]*", b"", raw(srv.port, req("/~nosuchuser/x", close=True)))
    for path in ("/~it%6bdu1/secret.txt", "/%7eitkdu1/secret.txt", "/%7Eitkdu1/secret.txt",
                 "/~itkdu1%2fsecret.txt", "/~itkdu1%00/secret.txt", "/~.%2e/secret.txt",
                 "/~../secret.txt", "/~itkdu1\\secret.txt"):
        data = raw(srv.port, req(path, close=True))
        r = parse(data)
        ok("%s: 200 with itkdu1's file, or the plain 404 of an unknown name" % path,
           r and ((r[0][0] == 200 and r[0][2] == b"secret of itkdu1\n") or
                  (r[0][0] in (400, 404) and b"secret of" not in r[0][2])), repr(data))


def keepalive_across_users(srv):
    before = len(srv.access())
    s = connect(srv.port)
    try:
        s.sendall(req("/~itkdu1/secret.txt"))
        first = read_response(s)
        s.sendall(req("/~itkdu1/index.html"))
        second = read_response(s)
        s.sendall(req("/~itkdu2/secret.txt"))
        rest = recv_all(s, 3.0)
    finally:
        s.close()
    ok("keep-alive /~itkdu1/ twice: both answered",
       parse(first) and parse(first)[0][2] == b"secret of itkdu1\n" and
       parse(second) and parse(second)[0][0] == 200, repr((first, second)))
    ok("keep-alive /~itkdu1/ then /~itkdu2/: closed unanswered", rest == b"", repr(rest))
    data = raw(srv.port, req("/~itkdu1/secret.txt") + req("/~itkdu2/secret.txt"))
    r = parse(data)
    ok("pipelined /~itkdu1/ + /~itkdu2/: one answer, then close",
       len(r) == 1 and r[0][2] == b"secret of itkdu1\n", repr(data))
    data = raw(srv.port, req("/~itkdu1/secret.txt") + req("/secret.txt"))
    r = parse(data)
    ok("pipelined /~itkdu1/ + a vhost path: one answer, then close",
       len(r) == 1 and r[0][2] == b"secret of itkdu1\n", repr(data))
    log = srv.access()[before:]
    ok("access log: the requests closed unanswered are not logged as answered",
       log.count("/~itkdu1/") == 4 and "/~itkdu2/" not in log and
       "GET /secret.txt" not in log, log)


def vhost_paths(srv):
    resp, ids = served_as(srv, "/secret.txt")
    r = parse(resp)
    ok("a path without ~ is the vhost's own file", r and r[0][2] == b"secret of vhost u\n",
       repr(resp))
    ok("a path without ~ runs as the vhost's user %d" % UID_A,
       ids == [(ids4(UID_A), ids4(UID_A))], repr(ids))
    r = get(srv, "/~itkdu1/secret.txt", host="plain.test")
    ok("a vhost without userdir: /~itkdu1/ is just a path (404)",
       r and r[0] == 404 and b"secret of itkdu1" not in r[2], repr(r))


def owner(srv):
    st = os.stat(os.path.join(srv.dir, "owned"))
    ok("owned root belongs to %d:%d" % (UID_C, UID_C),
       (st.st_uid, st.st_gid) == (UID_C, UID_C), repr(st))
    resp, ids = served_as(srv, "/secret.txt", host="owned.test")
    r = parse(resp)
    ok("user owner: the root's 0600 file is served", r and r[0][2] == b"secret of owned\n",
       repr(resp))
    ok("user owner / group owner: the child runs as the root's owner %d:%d" % (UID_C, UID_C),
       ids == [(ids4(UID_C), ids4(UID_C))], repr(ids))
    # The site changes hands: a reload reads the new owner.
    owned = os.path.join(srv.dir, "owned")
    for p in (owned, os.path.join(owned, "secret.txt")):
        os.chown(p, UID_B, UID_B)
    srv.proc.send_signal(signal.SIGHUP)
    end = time.time() + 5
    while time.time() < end:
        resp, ids = served_as(srv, "/secret.txt", host="owned.test")
        if ids == [(ids4(UID_B), ids4(UID_B))]:
            break
        time.sleep(0.1)
    ok("user owner: after a chown and SIGHUP the vhost runs as the new owner %d" % UID_B,
       ids == [(ids4(UID_B), ids4(UID_B))] and b"secret of owned" in resp, repr((ids, resp)))


def owner_refusals(srv):
    d = srv.dir
    mkdir(os.path.join(d, "rootowned"))
    conf = os.path.join(d, "owner0.conf")
    text = (("listen 127.0.0.1:%d\nuser #%d\ngroup #%d\n" + RANGES +
             "vhost r.test\nroot %s/rootowned\nuser owner\ngroup owner\n")
            % (srv.port, UID_USER, UID_USER, d))
    with open(conf, "w") as f:
        f.write(text)
    r = run(ITKD, "-t", "-c", conf)
    ok("itkd -t: user owner of a root-owned root fails with file:line (line 8)",
       r.returncode == 1 and (conf + ":8:") in r.stderr and "uid 0" in r.stderr, repr(r))
    # Owned by an ordinary user but gid 0: group owner is refused too.
    os.chown(os.path.join(d, "rootowned"), UID_C, 0)
    r = run(ITKD, "-t", "-c", conf)
    ok("itkd -t: group owner of a gid-0 root fails with file:line (line 9)",
       r.returncode == 1 and (conf + ":9:") in r.stderr, repr(r))
    # Owned by a uid outside uid-range.
    os.chown(os.path.join(d, "rootowned"), tid(211), tid(11))
    with open(conf, "w") as f:
        f.write(text.replace(RANGES, RANGES_99))
    r = run(ITKD, "-t", "-c", conf)
    ok("itkd -t: user owner outside uid-range fails with file:line",
       r.returncode == 1 and re.search(re.escape(conf) + r":\d+:", r.stderr), repr(r))


def access_log(srv):
    log = srv.access()
    ok("access log: /~itkdu1/secret.txt answered 200 with its %d bytes" % len("secret of itkdu1\n"),
       re.search(r'"GET /~itkdu1/secret\.txt HTTP/1\.1" 200 17 ', log), log[-2000:])
    ok("access log: /~nosuchuser/x answered 404",
       re.search(r'"GET /~nosuchuser/x HTTP/1\.1" 404 ', log), log[-2000:])


def main():
    lock = machine_lock("userdir")
    srv = Server(CONF, name="userdir", start=False)
    try:
        homes = lay_out(srv.dir)
        add_users(homes)
        srv.start()
        serve_users(srv)
        groups_and_cgi(srv)
        no_enumeration(srv)
        never_root_or_out_of_range(srv)
        no_escape(srv)
        userdir_symlink(srv, homes)
        keepalive_across_users(srv)
        body_not_a_request(srv)
        encoded_names(srv)
        vhost_paths(srv)
        owner(srv)
        access_log(srv)
        owner_refusals(srv)
        ok("no itkd error log line about a crash",
           "signal" not in srv.log().lower(), srv.log()[-2000:])
    finally:
        srv.cleanup()
        remove_users()
    left = [n for n in USERS if run("id", n).returncode == 0]
    ok("test users removed", not left, repr(left))
    lock.close()
    done()


main()
