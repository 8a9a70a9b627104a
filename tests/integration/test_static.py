"""Static files (issue 5 items 1-6 and 9, issue 2 item 7): ranges,
conditionals, precompressed siblings, autoindex, error pages, headers, MIME
types, a 5 GiB file, traversal attempts, 301/403/404, HEAD, and a 0600 file
that another vhost's uid cannot reach even through a symlink."""
import gzip
import os
import re
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from itkdtest import (ITKD, UID_A, UID_B, Server, done, get, mkdir, need_root, ok,
                      read_response,
                      parse, raw, two_vhost_conf, two_vhost_roots, write)

need_root("test_static")

DATA = bytes((i * 7 + 3) % 256 for i in range(1000))
CSS = b"body { color: #123456; }\n" * 40
CSS_BR = b"BROTLI-PRETEND:" + CSS[:64]      # served as is: only its bytes matter
BIG = 5 * 1024 ** 3                          # sparse: no disk is used
BIG_TAIL = b"END-OF-5-GIB-OK!"
FOURGIG = 4 * 1024 ** 3
MIMES = {
    "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "svg": "image/svg+xml; charset=utf-8", "png": "image/png",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon",
    "woff": "font/woff", "woff2": "font/woff2", "wasm": "application/wasm",
    "mp4": "video/mp4", "webm": "video/webm", "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8", "xml": "application/xml; charset=utf-8",
    "TXT": "text/plain; charset=utf-8", "xyz": "application/octet-stream",
    "itkdt": "application/x-itkd-test", "foo": "text/x-foo; charset=utf-8",
    "bmp": "image/x-ms-bmp",    # built in as image/bmp; mime.types overrides
}


# Around conn.c's SMALL_BODY (4096: read into the write buffer and sent
# with the head) and past the write buffer (16 KiB: sendfile).
SIZES = (1, 4095, 4096, 4097, 16000, 16384, 70000)


def sized(n):
    return bytes((i * 7 + n) % 251 for i in range(n))


def layout(d):
    two_vhost_roots(d)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    fa = dict(uid=UID_A, gid=UID_A, mode=0o600)
    fb = dict(uid=UID_B, gid=UID_B, mode=0o600)
    write(os.path.join(d, "outside.txt"), "CANARY outside the roots\n", 0, 0, 0o644)
    write(os.path.join(a, "data.bin"), DATA, **fa)
    write(os.path.join(a, "style.css"), CSS, **fa)
    write(os.path.join(a, "style.css.gz"), gzip.compress(CSS, mtime=0), **fa)
    write(os.path.join(a, "style.css.br"), CSS_BR, **fa)
    write(os.path.join(a, "plain.js"), "let x = 1;\n", **fa)
    write(os.path.join(a, "zero.txt"), "", **fa)
    for n in SIZES:
        write(os.path.join(a, "size%d.bin" % n), sized(n), **fa)
    mkdir(os.path.join(a, "mime"), UID_A, UID_A, 0o700)
    for ext in MIMES:
        write(os.path.join(a, "mime", "f." + ext), "x", **fa)
    lst = mkdir(os.path.join(a, "list"), UID_A, UID_A, 0o700)
    for name, body in (("<script>.txt", "xss"), ("b file.txt", "12345"),
                       ("a&b.txt", "amp"), ("javascript:alert(1)", "js"),
                       (".hidden", "no"), ("Zed.txt", "z")):
        write(os.path.join(lst, name), body, **fa)
    mkdir(os.path.join(lst, "sub"), UID_A, UID_A, 0o700)
    mkdir(os.path.join(a, "sub"), UID_A, UID_A, 0o700)
    write(os.path.join(a, "sub", "index.html"), "sub index\n", **fa)
    mkdir(os.path.join(a, "errors"), UID_A, UID_A, 0o700)
    write(os.path.join(a, "errors", "404.html"), "<p>custom 404 of a</p>\n", **fa)
    os.mkfifo(os.path.join(a, "fifo"))
    os.chown(os.path.join(a, "fifo"), UID_A, UID_A)
    big = os.path.join(a, "big.bin")
    with open(big, "wb") as f:
        f.truncate(BIG)
        f.seek(FOURGIG - 4)
        f.write(b"4GIB")
        f.seek(BIG - len(BIG_TAIL))
        f.write(BIG_TAIL)
    os.chown(big, UID_A, UID_A)
    os.chmod(big, 0o600)
    mkdir(os.path.join(b, "noindex"), UID_B, UID_B, 0o700)
    mkdir(os.path.join(a, "%2e%2e"), UID_A, UID_A, 0o700)
    write(os.path.join(a, "%2e%2e", "lit.txt"), "literal\n", **fa)
    os.symlink(os.path.join(a, "secret.txt"), os.path.join(b, "steal.txt"))
    os.symlink(a, os.path.join(b, "adir"))
    os.lchown(os.path.join(b, "steal.txt"), UID_B, UID_B)
    os.lchown(os.path.join(b, "adir"), UID_B, UID_B)
    with open(os.path.join(d, "mime.types"), "w") as f:
        f.write("# test types\napplication/x-itkd-test itkdt\ntext/x-foo\tfoo\n"
                "image/x-ms-bmp bmp  # trailing comment\n\n")


def h(r, name):
    return r[1].get(name.lower()) if r else None


def st(r):
    return r[0] if r else None


def one_raw(port, data):
    """The bytes of one answer to a request that asks to close."""
    return raw(port, data)


def multipart(r):
    """[(content-range, body)] of a multipart/byteranges answer."""
    m = re.search(r"boundary=(\S+)", h(r, "content-type") or "")
    if not m:
        return []
    parts = []
    for chunk in r[2].split(b"--" + m.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, body = chunk.partition(b"\r\n\r\n")
        cr = re.search(rb"Content-Range: bytes (\S+)", head)
        parts.append((cr.group(1).decode() if cr else None, body[:-2]))
    return parts


def test_basics(s):
    p = s.port
    r = get(p, "/")
    ok("index_served", st(r) == 200 and r[2] == b"<h1>a</h1>\n", r)
    r = get(p, "/secret.txt")
    ok("owner_0600_served", st(r) == 200 and r[2] == b"secret of a\n", r)
    r = get(p, "/secret.txt", host="b.test")
    ok("other_vhost_own_file", st(r) == 200 and r[2] == b"secret of b\n", r)
    r = get(p, "/steal.txt", host="b.test")
    ok("symlink_into_other_root_refused", st(r) in (403, 404) and b"secret of a" not in r[2], r)
    r = get(p, "/adir/secret.txt", host="b.test")
    ok("dir_symlink_into_other_root_refused", st(r) in (403, 404) and b"secret of a" not in r[2], r)
    r = get(p, "/sub")
    ok("dir_without_slash_301", st(r) == 301 and h(r, "location") == "http://a.test/sub/", r)
    r = get(p, "/sub?x=1&y=2", host="a.test:%d" % p)
    ok("301_keeps_port_and_query", st(r) == 301 and
       h(r, "location") == "http://a.test:%d/sub/?x=1&y=2" % p, r)
    r = get(p, "/list/b%20file.txt/../sub", host="a.test:80")
    ok("301_default_port_omitted", st(r) == 301 and
       h(r, "location") == "http://a.test/list/sub/", r)
    os.rename(os.path.join(s.dir, "a", "sub"), os.path.join(s.dir, "a", "s u<b>"))
    r = get(p, "/s%20u%3Cb%3E")
    ok("301_location_escaped", st(r) == 301 and
       h(r, "location") == "http://a.test/s%20u%3Cb%3E/" and b"<b>" not in r[2], r)
    os.rename(os.path.join(s.dir, "a", "s u<b>"), os.path.join(s.dir, "a", "sub"))
    r = parse(one_raw(p, b"GET /sub HTTP/1.0\r\n\r\n"))
    ok("301_http10_no_host", r and r[0][0] == 301 and
       r[0][1].get("location") == "http://127.0.0.1:%d/sub/" % p, r)
    r = get(p, "/sub/")
    ok("dir_index", st(r) == 200 and r[2] == b"sub index\n", r)
    ok("404_missing", st(get(p, "/nope.txt", host="b.test")) == 404)
    ok("403_fifo", st(get(p, "/fifo")) == 403)
    ok("403_no_autoindex_by_default", st(get(p, "/noindex/", host="b.test")) == 403)
    ok("404_file_as_dir", st(get(p, "/data.bin/x")) == 404)
    data = one_raw(p, b"HEAD /data.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    ok("head_no_body", head.startswith(b"HTTP/1.1 200") and b"Content-Length: 1000" in head
       and rest == b"", data[:300])
    data = one_raw(p, b"HEAD /nope HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    ok("head_error_no_body", head.startswith(b"HTTP/1.1 404") and rest == b"", data[:300])
    r = parse(one_raw(p, b"POST /data.bin HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n"
                      b"Connection: close\r\n\r\nabc"))
    ok("post_static_405", r and r[0][0] == 405 and r[0][1].get("allow") == "GET, HEAD, OPTIONS", r)
    r = get(p, "/zero.txt")
    ok("empty_file", st(r) == 200 and h(r, "content-length") == "0" and r[2] == b"", r)
    r = parse(one_raw(p, b"GET /data.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                      b"GET /secret.txt HTTP/1.0\r\n\r\n"))
    ok("http10_keep_alive", len(r) == 2 and r[0][1].get("connection", "").lower() == "keep-alive"
       and r[0][2] == DATA and r[1][2] == b"secret of a\n", [x[:2] for x in r])


def test_traversal(s):
    p = s.port
    attempts = [
        "/../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E/outside.txt",
        "/.%2e/outside.txt", "/%2e./outside.txt", "/sub/%2e%2e/%2e%2e/outside.txt",
        "/%252e%252e/outside.txt", "/%252e%252e%252foutside.txt",
        "/..%5coutside.txt", "/..%5Coutside.txt", "/..\\outside.txt",
        "/sub\\..\\..\\outside.txt", "/%00/../outside.txt", "/index.html%00.txt",
        "/%c0%ae%c0%ae/outside.txt", "/%c0%af../outside.txt",
        "/%e0%80%ae%e0%80%ae/outside.txt", "/%c1%9c../outside.txt",
        "/a/../../outside.txt", "//../outside.txt", "/%2f..%2foutside.txt",
        "/sub/..%2f..%2foutside.txt", "/%u002e%u002e/outside.txt",
        "/./../outside.txt", "/sub/./../../outside.txt", "/..;/outside.txt",
        "/%2e%2e%2f%2e%2e%2foutside.txt", "/....//outside.txt",
        "/..%00/outside.txt", "/%2e%2e%00/outside.txt",
    ]
    for i, path in enumerate(attempts):
        data = one_raw(p, ("GET %s HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
                           % path).encode("latin-1"))
        m = re.match(rb"HTTP/1\.1 (\d{3})", data)
        code = int(m.group(1)) if m else 0
        ok("traversal_%02d" % i, b"CANARY" not in data and (code in (400, 403, 404) or not data),
           "%s -> %r" % (path, data[:120]))
        if os.environ.get("VERBOSE"):
            print("  # %s -> %d" % (path, code))
    r = get(p, "/secret.txt", host="b.test", extra="")
    ok("traversal_server_still_serves", st(r) == 200)
    r = get(p, "/%252e%252e/lit.txt")
    ok("double_encoding_decoded_once", st(r) == 200 and r[2] == b"literal\n", r and r[:2])
    r = one_raw(p, b"GET /../a/secret.txt HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
    ok("traversal_to_other_root", b"secret of a" not in r and re.match(rb"HTTP/1\.1 4\d\d", r), r[:80])


def test_ranges(s):
    p = s.port
    full = get(p, "/data.bin")
    etag, lm = h(full, "etag"), h(full, "last-modified")
    ok("accept_ranges", h(full, "accept-ranges") == "bytes" and full[2] == DATA)

    def rng(spec, extra=""):
        return get(p, "/data.bin", extra="Range: %s\r\n%s" % (spec, extra))

    for name, spec, a, b in (("first", "bytes=0-9", 0, 9), ("suffix", "bytes=-10", 990, 999),
                             ("open", "bytes=990-", 990, 999), ("clamped", "bytes=995-2000", 995, 999),
                             ("one_byte", "bytes=0-0", 0, 0), ("suffix_big", "bytes=-5000", 0, 999),
                             ("merge_overlap", "bytes=0-9,5-19", 0, 19),
                             ("merge_adjacent", "bytes=10-19, 0-9", 0, 19),
                             ("one_satisfiable", "bytes=0-4,2000-3000", 0, 4),
                             ("huge_last", "bytes=998-99999999999999999999999", 998, 999)):
        r = rng(spec)
        ok("range_" + name, st(r) == 206 and r[2] == DATA[a:b + 1] and
           h(r, "content-range") == "bytes %d-%d/1000" % (a, b) and
           h(r, "content-length") == str(b - a + 1), r and (r[0], r[1].get("content-range")))
    r = rng("bytes=1000-")
    ok("range_416", st(r) == 416 and h(r, "content-range") == "bytes */1000", r and r[:2])
    r = rng("bytes=-0")
    ok("range_416_suffix_zero", st(r) == 416, r and r[:2])
    for name, spec in (("invalid_order", "bytes=5-1"), ("other_unit", "items=0-5"),
                       ("garbage", "bytes=abc"), ("empty", "bytes="), ("negative", "bytes=--5")):
        r = rng(spec)
        ok("range_ignored_" + name, st(r) == 200 and r[2] == DATA, r and r[:2])
    r = rng("bytes=0-9,20-29,-5")
    parts = multipart(r)
    ok("range_multipart", st(r) == 206 and h(r, "content-type").startswith("multipart/byteranges")
       and parts == [("0-9/1000", DATA[0:10]), ("20-29/1000", DATA[20:30]),
                     ("995-999/1000", DATA[995:])]
       and int(h(r, "content-length")) == len(r[2]), (r and r[:2], parts))
    ok("range_multipart_part_type", r and b"Content-Type: application/octet-stream" in r[2])
    spec16 = "bytes=" + ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(16))
    r = rng(spec16)
    ok("range_16_parts", st(r) == 206 and len(multipart(r)) == 16, r and r[:2])
    spec17 = "bytes=" + ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(17))
    r = rng(spec17)
    ok("range_17_parts_whole", st(r) == 200 and r[2] == DATA, r and r[:2])
    spec_many = "bytes=" + ",".join(["0-0"] * 200)
    r = rng(spec_many)
    ok("range_200_specs_whole", st(r) == 200 and r[2] == DATA, r and r[:2])
    r = rng("bytes=0-9", "If-Range: %s\r\n" % etag)
    ok("if_range_etag_match", st(r) == 206 and r[2] == DATA[:10], r and r[:2])
    r = rng("bytes=0-9", 'If-Range: "stale"\r\n')
    ok("if_range_etag_stale", st(r) == 200 and r[2] == DATA, r and r[:2])
    r = rng("bytes=0-9", "If-Range: W/%s\r\n" % etag)
    ok("if_range_weak_never", st(r) == 200, r and r[:2])
    r = rng("bytes=0-9", "If-Range: %s\r\n" % lm)
    ok("if_range_date_match", st(r) == 206, r and r[:2])
    r = rng("bytes=0-9", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
    ok("if_range_date_old", st(r) == 200 and r[2] == DATA, r and r[:2])
    data = one_raw(p, b"HEAD /data.bin HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-9\r\n"
                      b"Connection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    ok("range_head", head.startswith(b"HTTP/1.1 206") and rest == b"", data[:200])
    r = get(p, "/zero.txt", extra="Range: bytes=0-5\r\n")
    ok("range_empty_file_whole", st(r) == 200 and r[2] == b"", r and r[:2])


def test_conditionals(s):
    p = s.port
    full = get(p, "/data.bin")
    etag, lm = h(full, "etag"), h(full, "last-modified")
    ok("etag_strong", etag is not None and etag.startswith('"') and etag.endswith('"'), etag)
    ok("last_modified", lm is not None and lm.endswith("GMT"), lm)

    def cond(extra):
        return get(p, "/data.bin", extra=extra)

    for name, extra, want in (
            ("inm_match_304", "If-None-Match: %s\r\n" % etag, 304),
            ("inm_list_304", 'If-None-Match: "x", %s, "y"\r\n' % etag, 304),
            ("inm_weak_304", "If-None-Match: W/%s\r\n" % etag, 304),
            ("inm_star_304", "If-None-Match: *\r\n", 304),
            ("inm_other_200", 'If-None-Match: "other"\r\n', 200),
            ("ims_same_304", "If-Modified-Since: %s\r\n" % lm, 304),
            ("ims_old_200", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 200),
            ("ims_invalid_200", "If-Modified-Since: yesterday\r\n", 200),
            ("inm_beats_ims", 'If-None-Match: "other"\r\nIf-Modified-Since: %s\r\n' % lm, 200),
            ("im_other_412", 'If-Match: "other"\r\n', 412),
            ("im_match_200", "If-Match: %s\r\n" % etag, 200),
            ("im_weak_412", "If-Match: W/%s\r\n" % etag, 412),
            ("im_star_200", "If-Match: *\r\n", 200),
            ("ius_old_412", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 412),
            ("ius_same_200", "If-Unmodified-Since: %s\r\n" % lm, 200),
            ("im_then_inm_304", "If-Match: %s\r\nIf-None-Match: %s\r\n" % (etag, etag), 304),
            ("im_fails_first_412", 'If-Match: "x"\r\nIf-None-Match: %s\r\n' % etag, 412),
            ("im_beats_ius", "If-Match: %s\r\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
             % etag, 200)):
        r = cond(extra)
        ok("cond_" + name, st(r) == want, r and r[:2])
    r = cond("If-None-Match: %s\r\n" % etag)
    ok("cond_304_keeps_validators", st(r) == 304 and h(r, "etag") == etag and
       h(r, "last-modified") == lm and r[2] == b"", r and r[:2])
    # A 304 has no body: the next pipelined answer must follow right after.
    req = ("GET /data.bin HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: %s\r\n\r\n"
           "GET /secret.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n" % etag)
    r = parse(one_raw(p, req.encode()))
    ok("cond_304_framing", len(r) == 2 and r[0][0] == 304 and r[1][2] == b"secret of a\n",
       [x[:2] for x in r])


def test_precompressed(s):
    p = s.port
    gz = gzip.compress(CSS, mtime=0)

    def ae(value):
        return get(p, "/style.css", extra=("Accept-Encoding: %s\r\n" % value) if value is not None else "")

    for name, value, want in (("gzip", "gzip", "gzip"), ("br_first", "gzip, br", "br"),
                              ("q_prefers_gzip", "br;q=0.5, gzip", "gzip"),
                              ("q_prefers_br", "br;q=0.9, gzip;q=0.8", "br"),
                              ("gzip_q0", "gzip;q=0", None), ("both_q0", "br;q=0, gzip;q=0.000", None),
                              ("star", "*", "br"), ("star_q0_gzip", "*;q=0, gzip", "gzip"),
                              ("br_q0_star", "br;q=0, *", "gzip"), ("identity", "identity", None),
                              ("absent", None, None), ("x_gzip", "x-gzip", "gzip"),
                              ("spaces", " gzip ; q=1 ", "gzip"), ("upper", "GZIP", "gzip")):
        r = ae(value)
        body = {"gzip": gz, "br": CSS_BR, None: CSS}[want]
        # Vary goes with a sibling found: a client that takes none gets
        # identity without one (no lookup made for it).
        ok("precomp_" + name, st(r) == 200 and h(r, "content-encoding") == want and
           r[2] == body and h(r, "content-type") == "text/css; charset=utf-8" and
           h(r, "vary") == ("Accept-Encoding" if want else None), r and (r[0], r[1]))
    r_gz, r_id = ae("gzip"), ae(None)
    ok("precomp_etag_differs", h(r_gz, "etag") != h(r_id, "etag"))
    r = get(p, "/style.css", extra="Accept-Encoding: gzip\r\nIf-None-Match: %s\r\n" % h(r_gz, "etag"))
    ok("precomp_304_vary", st(r) == 304 and h(r, "vary") == "Accept-Encoding", r and r[:2])
    r = get(p, "/style.css", extra="Accept-Encoding: gzip\r\nRange: bytes=0-3\r\n")
    ok("precomp_range_on_sent", st(r) == 206 and r[2] == gz[:4] and
       h(r, "content-range") == "bytes 0-3/%d" % len(gz) and h(r, "content-encoding") == "gzip",
       r and r[:2])
    r = get(p, "/plain.js", extra="Accept-Encoding: gzip, br\r\n")
    ok("precomp_no_sibling_no_vary", st(r) == 200 and h(r, "vary") is None and
       h(r, "content-encoding") is None, r and r[:2])
    r = get(p, "/style.css.gz")
    ok("precomp_sibling_direct", st(r) == 200 and h(r, "content-type") == "application/gzip"
       and h(r, "content-encoding") is None and r[2] == gz, r and r[:2])


def test_autoindex(s):
    p = s.port
    r = get(p, "/list/")
    body = r[2].decode("utf-8", "replace") if r else ""
    ok("autoindex_200_html", st(r) == 200 and h(r, "content-type") == "text/html; charset=utf-8"
       and int(h(r, "content-length")) == len(r[2]), r and r[:2])
    ok("autoindex_name_escaped", "&lt;script&gt;.txt" in body and "<script>" not in body, body[:600])
    ok("autoindex_href_escaped", 'href="./%3Cscript%3E.txt"' in body and
       'href="./a%26b.txt"' in body and 'href="./b%20file.txt"' in body, body)
    ok("autoindex_js_scheme_defused", 'href="./javascript%3Aalert%281%29"' in body, body)
    ok("autoindex_amp_escaped", "a&amp;b.txt" in body)
    ok("autoindex_hidden_hidden", ".hidden" not in body)
    ok("autoindex_dir_slash", 'href="./sub/"' in body)
    ok("autoindex_parent", 'href="../"' in body)
    names = re.findall(r'href="\./([^"]*)"', body)
    ok("autoindex_sorted", names == sorted(names) and len(names) == 6, names)
    ok("autoindex_size", re.search(r"b file\.txt</a></td><td>5</td>", body) is not None, body)
    ok("autoindex_date", re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>", body) is not None)
    r = get(p, "/list/%3Cscript%3E.txt")
    ok("autoindex_link_works", st(r) == 200 and r[2] == b"xss", r and r[:2])
    data = one_raw(p, b"HEAD /list/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    ok("autoindex_head", head.startswith(b"HTTP/1.1 200") and rest == b"" and
       b"Content-Length: %d\r\n" % len(body.encode()) in head + b"\r\n", head)


def test_vhost_options(s):
    p = s.port
    r = get(p, "/nope")
    ok("error_page_custom", st(r) == 404 and r[2] == b"<p>custom 404 of a</p>\n" and
       h(r, "content-type") == "text/html; charset=utf-8", r)
    r = get(p, "/nope", extra="Range: bytes=0-3\r\n")
    ok("error_page_no_range", st(r) == 404 and r[2] == b"<p>custom 404 of a</p>\n", r and r[:2])
    r = get(p, "/nope", host="b.test")
    ok("error_page_builtin_elsewhere", st(r) == 404 and b"custom" not in r[2] and b"404" in r[2], r)
    r = get(p, "/fifo")
    ok("error_page_missing_falls_back", st(r) == 403 and b"403" in r[2], r)
    r = get(p, "/data.bin")
    ok("header_on_200", h(r, "x-frame-options") == "DENY" and
       h(r, "strict-transport-security") == "max-age=31536000", r and r[1])
    ok("header_on_404", h(get(p, "/nope"), "x-frame-options") == "DENY")
    ok("header_not_other_vhost", h(get(p, "/", host="b.test"), "x-frame-options") is None)
    for ext, want in sorted(MIMES.items()):
        r = get(p, "/mime/f." + ext)
        ok("mime_" + ext, st(r) == 200 and h(r, "content-type") == want,
           r and h(r, "content-type"))


def test_mime_types_errors(s):
    bad = os.path.join(s.dir, "bad.types")
    conf = os.path.join(s.dir, "bad.conf")
    with open(s.conf) as f:
        text = f.read().replace(os.path.join(s.dir, "mime.types"), bad)
    with open(conf, "w") as f:
        f.write(text)
    for name, content, want in (("type", "text/plain txt\nnot-a-type foo\n", "bad.types:2: "),
                                ("ext", "text/plain t/x\n", "bad.types:1: "),
                                ("header_injection", "text/plain\rX: y txt\n", "bad.types:1: ")):
        with open(bad, "w") as f:
            f.write(content)
        r = subprocess.run([ITKD, "-t", "-c", conf], capture_output=True, text=True, timeout=10)
        ok("mime_types_bad_" + name, r.returncode == 1 and want in r.stderr,
           (r.returncode, r.stderr))
    os.unlink(bad)
    r = subprocess.run([ITKD, "-t", "-c", conf], capture_output=True, text=True, timeout=10)
    ok("mime_types_missing", r.returncode == 1 and "bad.types" in r.stderr, (r.returncode, r.stderr))


def test_sizes(s):
    """Each size byte-exact, all on one keep-alive connection: what one
    answer left in the write buffer must not leak into the next."""
    sock = socket.create_connection(("127.0.0.1", s.port), 5)
    try:
        for i, n in enumerate(SIZES + SIZES[::-1]):
            sock.sendall(b"GET /size%d.bin HTTP/1.1\r\nHost: a.test\r\n\r\n" % n)
            r = read_response(sock)
            head, _, body = r.partition(b"\r\n\r\n")
            ok("size %d (request %d): 200, byte-exact on a kept-alive connection"
               % (n, i + 1),
               head.startswith(b"HTTP/1.1 200") and body == sized(n),
               (head[:60], len(body)))
    finally:
        sock.close()


def test_big(s):
    p = s.port
    data = one_raw(p, b"HEAD /big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    ok("big_head_length", b"Content-Length: %d\r\n" % BIG in data, data[:300])
    r = get(p, "/big.bin", extra="Range: bytes=-%d\r\n" % len(BIG_TAIL))
    ok("big_range_tail", st(r) == 206 and r[2] == BIG_TAIL and
       h(r, "content-range") == "bytes %d-%d/%d" % (BIG - 16, BIG - 1, BIG), r and r[:2])
    r = get(p, "/big.bin", extra="Range: bytes=%d-%d\r\n" % (FOURGIG - 6, FOURGIG + 1))
    ok("big_range_across_4gib", st(r) == 206 and r[2] == b"\0\0" + b"4GIB" + b"\0\0", r and r[:2])
    r = get(p, "/big.bin", extra="Range: bytes=%d-\r\n" % BIG)
    ok("big_range_416", st(r) == 416 and h(r, "content-range") == "bytes */%d" % BIG, r and r[:2])
    # The whole body starts streaming: read 1 MiB and hang up.
    sock = socket.create_connection(("127.0.0.1", p), 5)
    sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    got = b""
    while len(got) < 1 << 20:
        b = sock.recv(65536)
        if not b:
            break
        got += b
    sock.close()
    ok("big_full_streams", got.startswith(b"HTTP/1.1 200") and len(got) >= 1 << 20, got[:100])


def make_cert(d):
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=a.test",
                        "-addext", "subjectAltName=DNS:a.test"], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl: %r" % r.stderr)
    os.chmod(key, 0o600)
    return cert, key


def tls_get(port, path, extra=""):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), 10) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname="a.test") as t:
            t.sendall(("GET %s HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n%s\r\n"
                       % (path, extra)).encode())
            data = b""
            try:
                while True:
                    b = t.recv(65536)
                    if not b:
                        break
                    data += b
            except (ssl.SSLError, OSError):
                pass
    r = parse(data)
    return r[0] if r else None


def test_tls():
    """The same file code through TLS: conn_sendfile then reads and writes."""
    conf = two_vhost_conf(extra_global="listen 127.0.0.1:{tlsport} tls",
                          extra_a="tls-cert {dir}/cert.pem\ntls-key {dir}/key.pem\n")
    s = Server(conf, name="static-tls", tls=True, start=False)
    try:
        layout(s.dir)
        make_cert(s.dir)
        s.start()
        s.wait_port(s.tlsport)
        p = s.tlsport
        r = tls_get(p, "/data.bin")
        ok("tls_whole", st(r) == 200 and r[2] == DATA, r and r[:2])
        r = tls_get(p, "/data.bin", "Range: bytes=0-9,990-\r\n")
        ok("tls_multipart", st(r) == 206 and multipart(r) == [("0-9/1000", DATA[:10]),
                                                             ("990-999/1000", DATA[990:])],
           r and r[:2])
        r = tls_get(p, "/big.bin", "Range: bytes=%d-%d\r\n" % (FOURGIG - 6, FOURGIG + 1))
        ok("tls_big_range", st(r) == 206 and r[2] == b"\0\0" + b"4GIB" + b"\0\0", r and r[:2])
        r = tls_get(p, "/sub")
        ok("tls_redirect_https", st(r) == 301 and h(r, "location") == "https://a.test/sub/",
           r and r[:2])
        r = tls_get(p, "/style.css", "Accept-Encoding: gzip\r\n")
        ok("tls_precompressed", st(r) == 200 and r[2] == gzip.compress(CSS, mtime=0), r and r[:2])
    finally:
        s.cleanup()


def main():
    conf = two_vhost_conf(
        extra_global="mime-types {dir}/mime.types",
        extra_a="autoindex on\nerror-page 404 /errors/404.html\n"
                "error-page 403 /errors/missing.html\nheader X-Frame-Options DENY\n"
                'header Strict-Transport-Security "max-age=31536000"\n')
    s = Server(conf, name="static", start=False)
    try:
        layout(s.dir)
        s.start()
        for t in (test_basics, test_traversal, test_ranges, test_conditionals,
                  test_precompressed, test_autoindex, test_vhost_options,
                  test_mime_types_errors, test_sizes, test_big):
            try:
                t(s)
            except Exception as e:  # one broken group must not hide the others
                ok(t.__name__, False, "%s: %s" % (type(e).__name__, e))
        ok("server_alive", s.proc.poll() is None, s.log()[-500:])
    finally:
        s.cleanup()
    try:
        test_tls()
    except Exception as e:
        ok("test_tls", False, "%s: %s" % (type(e).__name__, e))
    done()


main()
