"""The Splunk Web stand-in: the add-on's pages unmodified, $C, the CSRF check, the proxy."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Iterator, Optional, Tuple

import pytest

from tests.support.splunkd import Splunkd
from tests.support.splunkd_writes import SplunkdWrites
from tests.support.splunkweb import SplunkWeb


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, installed_app: Path) -> Iterator[SplunkWeb]:
    with Splunkd(tmp_path_factory.mktemp("splunkd")) as splunkd:
        SplunkdWrites(splunkd)
        with SplunkWeb(installed_app, splunkd) as server:
            yield server


def call(
    web: SplunkWeb, method: str, path: str, headers: Optional[dict] = None, body: bytes = b""
) -> Tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def test_a_view_is_its_template_as_shipped_with_the_csrf_cookie(web, installed_app) -> None:
    status, headers, body = call(web, "GET", "/en-US/app/TA-socdefenders/configuration")
    assert status == 200
    assert body == (installed_app / "appserver" / "templates" / "base.html").read_bytes()
    assert headers["Set-Cookie"].startswith(f"{web.csrf_cookie}={web.csrf_token};")


def test_config_sets_the_globals_ucc_reads(web) -> None:
    status, _, body = call(web, "GET", "/en-US/config?autoload=1")
    assert status == 200
    for key in ("SPLUNKD_PATH", "MRSPARKLE_PORT_NUMBER", "LOCALE", "APP_BUILD", "USERNAME"):
        assert key.encode() in body
    assert body.startswith(b"window.$C = ")


def test_static_files_come_from_appserver_and_nowhere_else(web, installed_app) -> None:
    prefix = "/en-US/static/@1/app/TA-socdefenders/"
    status, _, body = call(web, "GET", prefix + "js/build/globalConfig.json")
    built = installed_app / "appserver" / "static" / "js" / "build" / "globalConfig.json"
    assert (status, body) == (200, built.read_bytes())
    assert call(web, "GET", prefix + "../../default/app.conf")[0] == 404
    assert call(web, "GET", "/en-US/static/@1/build/api/layout.js")[0] == 404


JOBS = "/en-US/splunkd/__raw/services/search/jobs"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "X-Requested-With": "XMLHttpRequest"}


def test_a_write_without_the_form_key_never_reaches_splunkd(web) -> None:
    before = len(web.splunkd.requests)
    assert call(web, "POST", JOBS, FORM, b"search=x")[0] == 401
    wrong = {**FORM, "X-Splunk-Form-Key": "guess", "Cookie": f"{web.csrf_cookie}=guess"}
    assert call(web, "POST", JOBS, wrong, b"search=x")[0] == 401
    assert len(web.splunkd.requests) == before
    right = {**FORM, "X-Splunk-Form-Key": web.csrf_token,
             "Cookie": f"{web.csrf_cookie}={web.csrf_token}"}  # fmt: skip
    assert call(web, "POST", JOBS, right, b"search=x")[0] == 201
    assert web.splunkd.requests[-1].authorized  # with the session's key


@pytest.mark.parametrize("requested_with", [None, "fetch"], ids=["absent", "not-xhr"])
def test_a_write_without_x_requested_with_never_reaches_splunkd(web, requested_with) -> None:
    """Splunk Web wants ``X-Requested-With: XMLHttpRequest`` on writes, with the form key."""
    before = len(web.splunkd.requests)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Splunk-Form-Key": web.csrf_token,
               "Cookie": f"{web.csrf_cookie}={web.csrf_token}"}  # fmt: skip
    if requested_with is not None:
        headers["X-Requested-With"] = requested_with
    assert call(web, "POST", JOBS, headers, b"search=x")[0] == 401
    assert call(web, "DELETE", JOBS + "/sid1", headers)[0] == 401
    assert len(web.splunkd.requests) == before


def test_reads_are_proxied_with_the_session_key(web) -> None:
    status, _, body = call(
        web, "GET", "/en-US/splunkd/__raw/services/data/indexes?output_mode=json"
    )
    assert status == 200
    assert b'"main"' in body
    assert web.splunkd.requests[-1].authorized
