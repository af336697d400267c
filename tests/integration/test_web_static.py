# SPDX-License-Identifier: Apache-2.0
"""The web console's static files over real HTTP: the copy embedded in the
binary (/, /ui/..., /ui/vendor/ uPlot), security headers, ETag / 304, gzip
negotiation, HEAD, path-traversal attempts sent as exact bytes, and
`--web-dir` serving files from disk so an edit shows without a rebuild."""
import gzip
import http.client
import os

import pytest
import requests

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
WEB = os.path.join(ROOT, "web")
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self'; frame-ancestors 'none'")
CSS = "/ui/vendor/uPlot.min.css"  # always embedded (from npm), whatever else web/ holds


def raw_get(loom, target, headers=None, method="GET"):
    """Send target exactly as given (no client-side normalisation of .. or %2e)."""
    c = http.client.HTTPConnection("127.0.0.1", loom.port, timeout=10)
    try:
        c.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def assert_console_headers(h):
    assert h["content-security-policy"] == CSP
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-cache"
    assert h["etag"].startswith('"') and h["etag"].endswith('"') and len(h["etag"]) == 18


def test_web_static_root_is_the_console_page_without_a_token(loom):
    status, h, body = raw_get(loom, "/")
    assert status == 200
    assert h["content-type"] == "text/html; charset=utf-8"
    assert b"<html" in body.lower()
    assert_console_headers(h)
    status2, h2, body2 = raw_get(loom, "/index.html")
    assert (status2, body2, h2["etag"]) == (200, body, h["etag"])


@pytest.mark.skipif(not os.path.exists(os.path.join(WEB, "js", "app.js")), reason="no web/js/app.js yet")
def test_web_static_serves_the_boot_module(loom):
    status, h, body = raw_get(loom, "/ui/js/app.js")
    assert status == 200 and h["content-type"] == "text/javascript; charset=utf-8"
    assert_console_headers(h)
    assert b"import" in body or b"export" in body


def test_web_static_serves_uplot(loom):
    status, h, body = raw_get(loom, "/ui/vendor/uPlot.iife.min.js")
    assert status == 200 and h["content-type"] == "text/javascript; charset=utf-8"
    assert b"uPlot" in body
    status, h, body = raw_get(loom, "/ui/vendor/uPlot.min.css")
    assert status == 200 and h["content-type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize("target", [
    "/ui/../Makefile", "/ui/%2e%2e/Makefile", "/ui/%2E%2E%2FMakefile", "/ui/js/..%2f..%2fMakefile",
    "/ui/.%2e/Makefile", "/ui//etc/passwd", "/ui/%2fetc%2fpasswd", "/ui/a%5c..%5cMakefile",
    "/ui/vendor/../../Makefile", "/ui/vendor/..%2f..%2fpackage.json", "/ui/node_modules/uplot/package.json",
    "/ui/.git/config", "/ui/js/app.js%20", "/ui/", "/ui", "/ui/no-such-file.js",
])
def test_web_static_traversal_and_unknown_paths_are_404(loom, target):
    status, h, body = raw_get(loom, target)
    assert status == 404, (target, body[:200])
    assert b"not found" in body
    assert b"SPDX" not in body and b"root:" not in body


def test_web_static_nul_in_the_path_is_refused(loom):
    status, _, _ = raw_get(loom, "/ui/js/app.js%00.png")
    assert status in (400, 404)


def test_web_static_if_none_match_is_304(loom):
    _, h, _ = raw_get(loom, CSS)
    status, h2, body = raw_get(loom, CSS, {"If-None-Match": h["etag"]})
    assert status == 304 and body == b""
    assert h2["etag"] == h["etag"]
    assert_console_headers(h2)
    status, _, _ = raw_get(loom, CSS, {"If-None-Match": '"x", W/' + h["etag"]})
    assert status == 304
    status, _, body = raw_get(loom, CSS, {"If-None-Match": '"0000000000000000"'})
    assert status == 200 and body


def test_web_static_gzip_when_asked(loom):
    status, plain_h, plain = raw_get(loom, "/ui/vendor/uPlot.iife.min.js")
    assert status == 200 and "content-encoding" not in plain_h
    assert plain_h["vary"] == "Accept-Encoding"
    status, h, body = raw_get(loom, "/ui/vendor/uPlot.iife.min.js", {"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200
    assert h["content-encoding"] == "gzip" and h["vary"] == "Accept-Encoding"
    assert len(body) < len(plain)
    assert gzip.decompress(body) == plain
    # another representation, another strong tag; each revalidates itself only
    assert h["etag"] == plain_h["etag"][:-1] + '-gz"'
    assert raw_get(loom, "/ui/vendor/uPlot.iife.min.js",
                   {"Accept-Encoding": "gzip", "If-None-Match": h["etag"]})[0] == 304
    assert raw_get(loom, "/ui/vendor/uPlot.iife.min.js", {"If-None-Match": h["etag"]})[0] == 200
    _, h0, body0 = raw_get(loom, "/ui/vendor/uPlot.iife.min.js", {"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in h0 and body0 == plain


def test_web_static_head_and_methods(loom):
    _, h, body = raw_get(loom, CSS)
    status, hh, hbody = raw_get(loom, CSS, method="HEAD")
    assert status == 200 and hbody == b""
    assert int(hh["content-length"]) == len(body) and hh["etag"] == h["etag"]
    r = requests.post(loom.url + CSS, data="x", timeout=10)
    assert r.status_code == 405
    r = requests.delete(loom.url + "/", timeout=10)
    assert r.status_code == 405


def test_web_static_web_dir_serves_edits_without_rebuild(loom_factory, tmp_path):
    web = tmp_path / "web"
    (web / "js").mkdir(parents=True)
    (web / "node_modules" / "uplot" / "dist").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><html><title>dev</title></html>")
    (web / "js" / "app.js").write_text("export const v = 1;\n")
    (web / "node_modules" / "uplot" / "dist" / "uPlot.min.css").write_text(".u-dev{}")
    (tmp_path / "secret.txt").write_text("secret")
    loom = loom_factory(extra_args=["--web-dir", str(web)]).start()
    status, h, body = raw_get(loom, "/")
    assert status == 200 and body == b"<!doctype html><html><title>dev</title></html>"
    assert_console_headers(h)
    status, h1, body = raw_get(loom, "/ui/js/app.js")
    assert status == 200 and body == b"export const v = 1;\n"
    (web / "js" / "app.js").write_text("export const v = 2;\n")
    status, h2, body = raw_get(loom, "/ui/js/app.js")
    assert status == 200 and body == b"export const v = 2;\n"
    assert h2["etag"] != h1["etag"]
    assert raw_get(loom, "/ui/js/app.js", {"If-None-Match": h2["etag"]})[0] == 304
    status, _, body = raw_get(loom, "/ui/vendor/uPlot.min.css")
    assert status == 200 and body == b".u-dev{}"
    (web / "package.json").write_text("{}")
    (web / "node_modules" / "uplot" / "package.json").write_text("{}")
    for target in ("/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/js", "/ui/missing.js",
                   "/ui/package.json", "/ui/node_modules/uplot/package.json"):
        status, _, body = raw_get(loom, target)
        assert status == 404 and b"secret" not in body, target


def test_web_static_web_dir_from_the_config_file(loom_factory, tmp_path):
    web = tmp_path / "site"
    web.mkdir()
    (web / "index.html").write_text("<html>from config</html>")
    cfg = tmp_path / "loom.conf"
    cfg.write_text(f"web_dir = {web}\n")
    loom = loom_factory(extra_args=["--config", str(cfg)]).start()
    status, _, body = raw_get(loom, "/")
    assert status == 200 and body == b"<html>from config</html>"
