"""tests/integration/test_docs.py: docs/privilege.md against the code.

The lesson names functions, constants, trace steps and unit checks, and
its exercises tell a student to change one line in one function. When
the code moves on, this test says which name or line the page still
points at, instead of a class finding out. Needs no root, starts nothing.
"""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import *  # noqa: E402,F401,F403

DOC = os.path.join(TOP, "docs", "privilege.md")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def c_sources():
    """name -> text of every C file of the server and of the unit tests."""
    files = glob.glob(os.path.join(TOP, "*.[ch]")) + \
        glob.glob(os.path.join(TOP, "tests", "*.[ch]"))
    return {os.path.relpath(p, TOP): read(p) for p in files}


def body(src, func):
    """The definition of func in src (quark style: the name starts its
    line), up to its closing brace at the start of a line; or None."""
    m = re.search(r"^%s\(.*?^}" % re.escape(func), src, re.M | re.S)
    return m.group(0) if m else None


def defined_in(sources, func):
    for name, src in sources.items():
        if not name.startswith("tests/") and body(src, func) is not None:
            return name
    return None


def prose(doc):
    """The page without its fenced blocks (trace lines, shell sessions)."""
    return re.sub(r"^```.*?^```", "", doc, flags=re.M | re.S)


def code_spans(doc):
    """The text of every `code span` outside the fenced blocks (one may
    run over a line break)."""
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", prose(doc), re.S)]


# Names the page gives that are the kernel's, not the code's.
KERNEL_FILES = {"uid_map"}


def identifiers():
    """C names in code spans: lowercase with an underscore (functions,
    fields) or upper case with one (constants, /proc's fields aside)."""
    doc = read(DOC)
    names = set()
    for span in code_spans(doc):
        span = re.sub(r"[\w.-]*(/[\w.-]+)+", " ", span)   # paths: paths_exist
        for tok in re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", span):
            if "_" in tok.strip("_") and not re.match(r"^[A-Z][a-z]", tok) \
                    and tok not in KERNEL_FILES:
                names.add(tok)
    return sorted(names)


def paths_exist():
    """Every repository path the page names is there; a program the build
    makes (tests/unit_priv) counts when its source is."""
    spans = [s for s in code_spans(read(DOC)) if re.match(r"^(tests|conf|scripts|man|docs)/[\w./-]+$", s)]
    missing = [s for s in spans if not os.path.exists(os.path.join(TOP, s)) and
               not os.path.exists(os.path.join(TOP, s + ".c"))]
    ok("docs: every path privilege.md names exists", spans and not missing, missing)


def names_exist(sources):
    everything = "\n".join(sources.values())
    missing = [n for n in identifiers()
               if not re.search(r"\b%s\b" % re.escape(n), everything)]
    ok("docs: every C name in privilege.md's code spans is in the sources",
       not missing, missing)


# Each exercise: the function it sends the student to, and the text that
# must be found there for the exercise to make sense.
EXERCISES = [
    ("drop_to_user", "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)"),
    ("drop_to_user", "verify_creds(NULL, who"),
    ("priv_gatekeeper", "drop_to_user(cfg, \"gatekeeper\")"),
    ("gate_run", "m.vhost = vh->pos;"),
    ("msg_check", "m->vhost >= cfg->nvhosts"),
    ("monitor_ident", "&cfg->vhosts[m->vhost]"),
    ("monitor_start", "gatekeeper %ld sent a malformed message: "),
    ("priv_stage2", "set_caps(NULL, 0)"),
    ("priv_stage2", "priv_trace(\"stage 2: setresuid done, capabilities still held\")"),
    ("priv_master", "prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)"),
    ("filter_build", "emit_no_newuser(f, __NR_unshare);"),
    ("serve_connection", "priv_monitor(cfg)"),
    ("serve_connection", "priv_stage2(&id)"),
    ("gate_run", "priv_gatekeeper(cfg)"),
    ("finish_global", "the global user must be no vhost's"),
]


def exercises_match(sources):
    for func, text in EXERCISES:
        where = defined_in(sources, func)
        src = body(sources[where], func) if where else ""
        ok("docs: %s() holds %s" % (func, text), text in src,
           "not defined" if where is None else "%s: not in %s()" % (where, func))
    ok("docs: priv.c has `#define GATE_FILTER 1`",
       "#define GATE_FILTER 1\n" in sources.get("priv.c", ""))


def functions_named(sources):
    """A backquoted name that the page calls a function (followed by
    "(" in the span, or named as a function in the text) is defined."""
    doc = prose(read(DOC))
    funcs = set(re.findall(r"`([a-z_][a-z0-9_]*)`", doc))
    funcs |= set(re.findall(r"`([a-z_][a-z0-9_]*)\(", doc))
    # Kernel and libc calls the page names the same way.
    libc = {"setresuid", "setresgid", "setgroups", "setuid", "setgid",
            "unshare", "clone", "clone3", "setns", "capset", "execve",
            "getpwnam", "main", "prctl", "kill", "ptrace", "recv",
            "no_new_privs", "sizeof"}
    missing = [f for f in sorted(funcs - libc - KERNEL_FILES)
               if "_" in f.strip("_") and defined_in(sources, f) is None
               and not re.search(r"\bstruct %s\b" % f, "\n".join(sources.values()))]
    ok("docs: every function privilege.md names is defined", not missing, missing)


# Lower-case words the page puts in backquotes that are neither code nor
# config: commands, a message type of OpenBSD's, a hex mask, a letter.
NOT_CODE = {"make", "ps", "imsg", "www", "c0", "_", "n"}


def words_known(sources):
    """Every lower-case word in backquotes is a function the code defines,
    a field of struct gate_msg, a directive, a kernel or libc call, or one
    of NOT_CODE: a renamed function cannot hide behind a name with no
    underscore (`relay`, `choose`)."""
    doc = prose(read(DOC))
    words = set(re.findall(r"`([a-z_][a-z0-9_]*)\(?`", doc))
    with open(os.path.join(TOP, "vhost.c")) as f:
        directives = set(re.findall(r'^\s*\{ "([a-z-]+)", SCOPE_', f.read(), re.M))
    gate_h = sources.get("gate.h", "")
    m = re.search(r"^struct gate_msg \{(.*?)^\};", gate_h, re.M | re.S)
    fields = set(re.findall(r"\b([a-z_][a-z0-9_]*)(?:\[[^]]*\])?;", m.group(1))) if m else set()
    libc = {"setresuid", "setresgid", "setgroups", "setuid", "setgid", "unshare",
            "clone", "clone3", "setns", "capset", "execve", "getpwnam", "main",
            "prctl", "kill", "ptrace", "recv", "recvmsg", "uid_map"}
    unknown = sorted(w for w in words if w not in directives | fields | libc | NOT_CODE
                     and defined_in(sources, w) is None
                     and not re.search(r"\bstruct %s\b" % w, "\n".join(sources.values())))
    ok("docs: every word privilege.md backquotes is a function, field, directive or call",
       words and fields and not unknown, unknown)
    funcs = sorted(w for w in words if defined_in(sources, w) is not None)
    ok("docs: privilege.md names at least 25 functions the code defines (%d)" % len(funcs),
       len(funcs) >= 25, funcs)


def unit_checks_exist(sources):
    unit = sources.get(os.path.join("tests", "unit_priv.c"), "")
    names = [s for s in code_spans(read(DOC)) if s.startswith("priv ")]
    missing = [n for n in names if '"%s"' % n not in unit]
    ok("docs: every unit_priv check privilege.md quotes exists",
       names and not missing, missing)


def trace_steps_exist(sources):
    doc = read(DOC)
    steps = set(re.findall(r"\] priv: (.+?): uid=", doc))
    everything = "\n".join(sources.values())
    missing = sorted(s for s in steps if s != "master" and
                     'priv_trace("%s")' % s not in everything)
    ok("docs: every trace step privilege.md shows is a priv_trace() step",
       len(steps) >= 10 and not missing, (len(steps), missing))


def allow_list_documented(sources):
    """Every call gate_calls allows is in the page's list of them (the
    64-bit-time and 32-bit-id variants under their plain names)."""
    src = sources.get("priv.c", "")
    m = re.search(r"^static const int gate_calls\[\] = \{(.*?)^\};", src, re.M | re.S)
    doc = read(DOC)
    sect = re.search(r"It allows:(.*?)Nothing that opens", doc, re.S)
    if not ok("docs: the allow-list and the page's list of it are found",
              m is not None and sect is not None, (m is not None, sect is not None)):
        return
    listed = set(re.findall(r"[a-z_0-9]+", sect.group(1)))
    calls = set(re.findall(r"__NR_([a-z_0-9]+)", m.group(1)))
    base = {re.sub(r"(_time64|_time32|64|32|2)$", "", c) for c in calls}
    missing = sorted(c for c in base if c not in listed)
    ok("docs: every call of the gatekeeper's allow-list is in the page",
       calls and not missing, missing)


def demo_ids():
    """The page's uids and port are those of make run."""
    conf = read(os.path.join(TOP, "conf", "demo.conf"))
    doc = read(DOC)
    want = {"user #62000", "uid-range 62001 62999", "gid-range 62001 62999",
            "user #62001", "user #62002", "listen 127.0.0.1:8080"}
    ok("docs: conf/demo.conf has the ids and port the lesson uses",
       all(w in conf for w in want), sorted(w for w in want if w not in conf))
    ok("docs: the lesson's trace lines are the demo's uids",
       "uid=62000/62000/62000/62000" in doc and "uid=62001/62001/62001/62001" in doc
       and "61000" not in doc)
    # scripts/demo (make run) owns each site's files by the uid its vhost
    # runs as; the page says which uid each name has.
    demo = read(os.path.join(TOP, "scripts", "demo"))
    m = re.search(r"^for who in ([a-z]+:\d+(?: [a-z]+:\d+)*); do", demo, re.M)
    owners = dict(w.split(":") for w in m.group(1).split()) if m else {}
    ok("docs: scripts/demo lays out alice and bob", sorted(owners) == ["alice", "bob"],
       owners)
    vhosts = dict(re.findall(r"^vhost (\w+)\.localhost.*?^user #(\d+)$", conf, re.M | re.S))
    ok("docs: conf/demo.conf runs each site as the uid scripts/demo gives its files",
       owners and vhosts == owners, (vhosts, owners))
    said = " ".join(doc.split())
    for name, uid in sorted(owners.items()):
        ok("docs: privilege.md says %s.localhost runs as %s, as make run does" % (name, uid),
           re.search(r"`%s\.localhost`( runs)? as %s\b" % (name, uid), said) is not None)
    glob_user = re.search(r"^user #(\d+)", conf, re.M)
    ok("docs: privilege.md's global user is conf/demo.conf's",
       glob_user and ("the global `user` is uid %s" % glob_user.group(1)) in said)


def nothing_outside():
    """No tracked file points outside the repository for the design."""
    try:
        files = subprocess.run(["git", "-C", TOP, "ls-files"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        skip("docs: nothing points to ../shared", "not a git checkout")
        return
    hits = []
    for f in files:
        p = os.path.join(TOP, f)
        if f.startswith("bench/results/") or not os.path.isfile(p) or f.endswith("test_docs.py"):
            continue
        try:
            text = read(p)
        except OSError:
            continue
        # ../shared, and the absolute path of the machine this is written on
        if "../shared" in text or "/" + "work/" in text:
            hits.append(f)
    ok("docs: nothing points to ../shared or to /" + "work/", not hits, hits)
    # A relative link of the README or a page of docs/ stays in the tree.
    out = []
    for f in ["README.md"] + [x for x in files if x.startswith("docs/")]:
        p = os.path.join(TOP, f)
        if not os.path.isfile(p):
            continue
        for link in re.findall(r"\]\(([^)#:]+)\)", read(p)):
            where = os.path.normpath(os.path.join(os.path.dirname(p), link))
            if not where.startswith(TOP + os.sep) or not os.path.exists(where):
                out.append((f, link))
    ok("docs: README's and docs/'s links lead to files in the repository", not out, out)


sources = c_sources()
paths_exist()
names_exist(sources)
functions_named(sources)
words_known(sources)
exercises_match(sources)
unit_checks_exist(sources)
trace_steps_exist(sources)
allow_list_documented(sources)
demo_ids()
nothing_outside()
done()
