"""Static files from the embedded server: versioned URLs kept for a year, text gzipped, others revalidated."""
import gzip
import re
import urllib.request

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _get(url, **headers):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def test_it_serves_versioned_static_files_for_a_year_and_gzipped(live_server_url):
    _status, _headers, page = _get(live_server_url + "/login/")
    css = re.search(rb'href="(/static/office/app\.css\?v=[0-9a-f]{10})"', page)
    assert css, "the stylesheet's URL carries its version"
    status, headers, body = _get(live_server_url + css.group(1).decode(), **{"Accept-Encoding": "gzip"})
    assert status == 200 and "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    assert headers["Content-Encoding"] == "gzip" and b"--red" in gzip.decompress(body)
    _status, plain_headers, plain = _get(live_server_url + "/static/office/app.css")
    assert plain_headers["Cache-Control"] == "public, no-cache" and "Content-Encoding" not in plain_headers
    assert len(body) < len(plain) / 2
