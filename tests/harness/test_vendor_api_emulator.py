"""The vendor API emulator does what end-to-end tests rely on it to do."""

from __future__ import annotations

import calendar
import json
import re
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.support.vendor_api import (
    EXPIRED_KEY,
    FAKE_KEYS,
    FREE_KEY,
    PRO_KEY,
    SEED_BODY,
    STATS_PATH,
    CacheClock,
    Fault,
    RecordedRequest,
    VendorApi,
    newer_body,
)

REQUEST_ID = re.compile(r"^req_[0-9a-f]{16}$")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
BEARER = {"Authorization": f"Bearer {PRO_KEY}"}


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vendor_api_tls")


@pytest.fixture(scope="module")
def shared_api(cert_dir: Path) -> Iterator[VendorApi]:
    with VendorApi(cert_dir) as api:
        yield api


@pytest.fixture
def api(shared_api: VendorApi) -> VendorApi:
    shared_api.reset()
    return shared_api


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session that ignores proxy and CA-bundle environment variables."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


def get(
    http: requests.Session, api: VendorApi, path: str = STATS_PATH, **kwargs: object
) -> requests.Response:
    kwargs.setdefault("verify", str(api.ca_file) if api.ca_file else True)
    kwargs.setdefault("timeout", 5)
    return http.get(api.base_url + path, **kwargs)  # type: ignore[arg-type]


def error_of(response: requests.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert REQUEST_ID.match(error["request_id"])
    assert response.headers["X-Request-Id"] == error["request_id"]
    for name in RATE_HEADERS:
        assert int(response.headers[name]) >= 0
    return error


# -- the documented contract -----------------------------------------------------------


def test_seed_body_is_the_documented_example() -> None:
    totals = SEED_BODY["totals"]
    assert sum(totals["by_type"].values()) == 124098
    assert sum(totals["by_category"].values()) == 124098
    assert sum(totals["by_source"].values()) == 54100
    assert set(totals["by_source"]) == {"CISA Alerts", "Emerging Threats", "Abuse.ch"}
    assert SEED_BODY["last_updated"] == "2024-01-15T10:00:00Z"


def test_fake_keys_are_obviously_fake() -> None:
    assert FAKE_KEYS == {PRO_KEY: "pro", FREE_KEY: "free", EXPIRED_KEY: "expired"}
    assert all(key.startswith("sk_live_FAKE") for key in FAKE_KEYS)


@pytest.mark.parametrize(
    "headers",
    [BEARER, {"X-API-Key": PRO_KEY}, {"authorization": f"bearer {PRO_KEY}"}],
    ids=["bearer", "x-api-key", "lowercase-bearer"],
)
def test_pro_key_gets_the_seed_body(api: VendorApi, http: requests.Session, headers: dict) -> None:
    response = get(http, api, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == SEED_BODY
    assert REQUEST_ID.match(response.headers["X-Request-Id"])
    assert api.base_url.startswith("https://127.0.0.1:")


def test_body_can_be_replaced(api: VendorApi, http: requests.Session) -> None:
    api.body = {"totals": {"by_type": {"ipv4": 1}}, "last_updated": "2030-01-01T00:00:00Z"}
    assert get(http, api, headers=BEARER).json() == api.body


CACHE_HEADERS = ("X-Cache-Updated-At", "X-Cache-Age-Seconds", "X-Cache-Stale")


def test_the_seed_answer_has_no_cache_headers(api: VendorApi, http: requests.Session) -> None:
    response = get(http, api, headers=BEARER)
    assert not any(name in response.headers for name in CACHE_HEADERS)


def test_the_newer_answer_keeps_the_seed_and_adds_extras(
    api: VendorApi, http: requests.Session
) -> None:
    api.body = newer_body()
    body = get(http, api, headers=BEARER).json()
    assert {name: body["totals"][name] for name in SEED_BODY["totals"]} == SEED_BODY["totals"]
    assert set(body) - set(SEED_BODY) == {"trends", "feed_health", "top_techniques", "top_cves"}
    assert set(body["totals"]) - set(SEED_BODY["totals"]) == {"iocs", "articles"}
    assert newer_body() is not newer_body()  # a fresh copy each time


def test_cache_headers_follow_the_ten_minute_refresh(
    api: VendorApi, http: requests.Session
) -> None:
    api.cache = CacheClock()
    before = time.time()
    response = get(http, api, headers=BEARER)
    refreshed = time.strptime(response.headers["X-Cache-Updated-At"], "%Y-%m-%dT%H:%M:%SZ")
    refreshed_at = calendar.timegm(refreshed)
    assert refreshed_at % 600 == 0
    assert refreshed_at <= before < refreshed_at + 600
    assert 0 <= int(response.headers["X-Cache-Age-Seconds"]) <= 600
    assert response.headers["X-Cache-Stale"] == "false"
    assert "X-Cache-Stale" not in get(http, api, "/nowhere", headers=BEARER).headers  # 404


def test_a_missed_refresh_is_stale_and_faults_can_replace_cache_headers(
    api: VendorApi, http: requests.Session
) -> None:
    api.cache = CacheClock(refreshed_at=time.time() - 900)
    response = get(http, api, headers=BEARER)
    assert 900 <= int(response.headers["X-Cache-Age-Seconds"]) < 960
    assert response.headers["X-Cache-Stale"] == "true"
    api.script(
        Fault.json(SEED_BODY, headers={"X-Cache-Age-Seconds": "soon", "X-Cache-Stale": None})
    )
    faulted = get(http, api, headers=BEARER)
    assert faulted.headers["X-Cache-Age-Seconds"] == "soon"
    assert "X-Cache-Stale" not in faulted.headers
    assert "X-Cache-Updated-At" in faulted.headers
    api.reset()
    assert api.cache is None


def test_system_cas_do_not_trust_the_emulator(api: VendorApi, http: requests.Session) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        get(http, api, headers=BEARER, verify=True)


def test_untrusted_certificate_fails_even_with_the_ca_file(
    cert_dir: Path, http: requests.Session
) -> None:
    with VendorApi(cert_dir, tls="untrusted") as untrusted:
        assert untrusted.ca_file is not None
        with pytest.raises(requests.exceptions.SSLError):
            get(http, untrusted, headers=BEARER)
        assert untrusted.requests == []
        # The same server is fine once its own certificate is trusted: only trust failed.
        assert untrusted.certificate is not None
        cert = str(untrusted.certificate.cert_file)
        assert get(http, untrusted, headers=BEARER, verify=cert).status_code == 200


def test_plain_http_mode(cert_dir: Path, http: requests.Session) -> None:
    with VendorApi(cert_dir, tls="off") as plain:
        assert plain.base_url.startswith("http://127.0.0.1:")
        assert plain.ca_file is None
        assert get(http, plain, headers=BEARER).json() == SEED_BODY


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_api_key"),
        ({"Authorization": "Bearer sk_live_FAKE0unknown"}, "invalid_api_key"),
        ({"X-API-Key": "sk_live_FAKE0unknown"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {EXPIRED_KEY}"}, "expired_api_key"),
        ({"X-API-Key": EXPIRED_KEY}, "expired_api_key"),
    ],
)
def test_401_codes(api: VendorApi, http: requests.Session, headers: dict, code: str) -> None:
    response = get(http, api, headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == code


def test_free_key_is_refused_with_403(api: VendorApi, http: requests.Session) -> None:
    response = get(http, api, headers={"X-API-Key": FREE_KEY})
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "pro_subscription_required"
    assert "Pro" in error["message"]


def test_other_path_is_404(api: VendorApi, http: requests.Session) -> None:
    response = get(http, api, "/api/v1/articles", headers=BEARER)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_query_string_is_ignored_by_routing(api: VendorApi, http: requests.Session) -> None:
    assert get(http, api, STATS_PATH + "?x=1", headers=BEARER).status_code == 200
    assert api.requests[0].path == STATS_PATH + "?x=1"


def test_non_get_is_405(api: VendorApi, http: requests.Session) -> None:
    response = http.post(api.url, headers=BEARER, data=b"{}", verify=str(api.ca_file), timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert error_of(response)["code"] == "method_not_allowed"


def test_request_ids_are_unique(api: VendorApi, http: requests.Session) -> None:
    ids = {get(http, api, headers=BEARER).headers["X-Request-Id"] for _ in range(20)}
    ids |= {error_of(get(http, api))["request_id"] for _ in range(5)}
    assert len(ids) == 25


# -- rate limits -----------------------------------------------------------------------


def test_rate_headers_count_down_per_key(api: VendorApi, http: requests.Session) -> None:
    before = time.time()
    first = get(http, api, headers=BEARER)
    second = get(http, api, headers={"X-API-Key": PRO_KEY})  # same key, other header
    assert first.headers["X-RateLimit-Limit"] == "1000"
    assert first.headers["X-RateLimit-Remaining"] == "999"
    assert second.headers["X-RateLimit-Remaining"] == "998"
    reset = int(first.headers["X-RateLimit-Reset"])
    assert before + 59 <= reset <= time.time() + 61
    free = get(http, api, headers={"X-API-Key": FREE_KEY})
    assert free.headers["X-RateLimit-Limit"] == "10"
    assert free.headers["X-RateLimit-Remaining"] == "9"


def test_free_key_gets_429_after_ten_a_minute(api: VendorApi, http: requests.Session) -> None:
    statuses = [get(http, api, headers={"X-API-Key": FREE_KEY}).status_code for _ in range(10)]
    assert statuses == [403] * 10
    over = get(http, api, headers={"X-API-Key": FREE_KEY})
    assert over.status_code == 429
    assert error_of(over)["code"] == "rate_limit_exceeded"
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert get(http, api, headers=BEARER).status_code == 200  # other keys unaffected
    api.reset()
    assert get(http, api, headers={"X-API-Key": FREE_KEY}).status_code == 403


def test_window_ends(cert_dir: Path, http: requests.Session) -> None:
    with VendorApi(cert_dir, tls="off", rate_window=0.3) as plain:
        for _ in range(10):
            get(http, plain, headers={"X-API-Key": FREE_KEY})
        assert get(http, plain, headers={"X-API-Key": FREE_KEY}).status_code == 429
        time.sleep(0.35)
        again = get(http, plain, headers={"X-API-Key": FREE_KEY})
        assert again.status_code == 403
        assert again.headers["X-RateLimit-Remaining"] == "9"


# -- scripted faults -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (404, "not_found"),
        (500, "internal_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
        (504, "gateway_timeout"),
    ],
)
def test_status_fault(api: VendorApi, http: requests.Session, status: int, code: str) -> None:
    api.script(Fault.status(status))
    response = get(http, api, headers=BEARER)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_status_fault_with_own_code_message_and_headers(
    api: VendorApi, http: requests.Session
) -> None:
    api.script(Fault.status(503, "maintenance", "Back soon", headers={"Retry-After": 3}))
    response = get(http, api, headers=BEARER)
    error = error_of(response)
    assert (response.status_code, error["code"], error["message"]) == (
        503,
        "maintenance",
        "Back soon",
    )
    assert response.headers["Retry-After"] == "3"


def test_faults_apply_in_order_then_normal_service(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.status(500), Fault.status(502))
    assert api.pending() == 2
    statuses = [get(http, api, headers=BEARER).status_code for _ in range(3)]
    assert statuses == [500, 502, 200]
    assert api.pending() == 0


def test_faults_bypass_auth(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.json({"ok": True}))
    response = get(http, api)  # no key at all
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_rate_limited_fault(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.rate_limited(reset_in=30, retry_after=7), Fault.rate_limited())
    before = time.time()
    response = get(http, api, headers=BEARER)
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limit_exceeded"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert before + 30 <= int(response.headers["X-RateLimit-Reset"]) <= time.time() + 31
    assert response.headers["Retry-After"] == "7"
    plain = get(http, api, headers=BEARER)
    assert plain.status_code == 429
    assert "Retry-After" not in plain.headers


def test_raw_fault_sends_exact_bytes(api: VendorApi, http: requests.Session) -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    api.script(
        Fault.raw(html, status=502, content_type="text/html", headers={"X-RateLimit-Limit": None}),
        Fault.raw(b'{"totals": {"by_type": {"ipv4": 4'),
    )
    response = get(http, api, headers=BEARER)
    assert (response.status_code, response.content) == (502, html)
    assert response.headers["Content-Type"] == "text/html"
    assert "X-RateLimit-Limit" not in response.headers  # None removes a header
    truncated = get(http, api, headers=BEARER)
    assert truncated.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        truncated.json()


def test_json_fault(api: VendorApi, http: requests.Session) -> None:
    hostile = {"totals": {"by_type": {"ipv4": -1, "x" * 300: "NaN"}}, "last_updated": None}
    api.script(Fault.json(hostile, status=201))
    response = get(http, api, headers=BEARER)
    assert (response.status_code, response.json()) == (201, hostile)


def test_delay_fault_causes_read_timeout(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.delay(1.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(http, api, headers=BEARER, timeout=0.2)
    assert len(api.requests) == 1


def test_delay_then_fault(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.delay(0.3, then=Fault.status(504)))
    started = time.monotonic()
    response = get(http, api, headers=BEARER)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 504


def test_huge_body_streams_its_content_length(api: VendorApi, http: requests.Session) -> None:
    size = 3 * 1024 * 1024 + 7
    api.script(Fault.huge_body(size))
    response = get(http, api, headers=BEARER, stream=True)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == size
    body = b"".join(response.iter_content(64 * 1024))
    assert len(body) == size
    assert body.startswith(b'{"totals": ')
    assert json.loads(body)["totals"]["by_type"] == {"ipv4": 1}


def test_huge_body_reader_may_hang_up_quietly(
    api: VendorApi, http: requests.Session, capfd: pytest.CaptureFixture[str]
) -> None:
    api.script(Fault.huge_body(50 * 1024 * 1024))
    response = get(http, api, headers=BEARER, stream=True)
    assert len(response.raw.read(100_000)) == 100_000
    response.close()
    time.sleep(0.3)  # the server notices the hang-up while writing
    assert capfd.readouterr().err == ""
    assert get(http, api, headers=BEARER).status_code == 200


def test_reset_mid_body(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.reset_mid_body())
    response = get(http, api, headers=BEARER, stream=True)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(json.dumps(SEED_BODY))
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        _ = response.content


def test_close_without_response(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.close_without_response())
    with pytest.raises(requests.exceptions.ConnectionError):
        get(http, api, headers=BEARER)
    assert len(api.requests) == 1


def test_redirect_to_another_host(api: VendorApi, cert_dir: Path, http: requests.Session) -> None:
    with VendorApi(cert_dir) as other:
        api.script(Fault.redirect(other.url), Fault.redirect(other.url, status=301))
        response = get(http, api, headers=BEARER, allow_redirects=False)
        assert response.status_code == 302
        assert response.headers["Location"] == other.url
        followed = get(http, api, headers={"X-API-Key": PRO_KEY})
        assert followed.status_code == 200
        assert [r.status_code for r in followed.history] == [301]
        assert [r.path for r in other.requests] == [STATS_PATH]


# -- recording, reset, lifecycle -------------------------------------------------------


def test_requests_are_recorded(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.status(500))
    get(http, api, "/x?y=1", headers={"X-API-Key": FREE_KEY, "X-Custom-Case": "v"})
    get(http, api, headers=BEARER)
    first, second = api.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path) == ("GET", "/x?y=1")
    assert first.headers["X-API-Key"] == FREE_KEY  # case as sent
    assert first.header("x-custom-case") == "v"
    assert first.header("Authorization") is None
    assert first.api_key == FREE_KEY
    assert second.header("authorization") == f"Bearer {PRO_KEY}"
    assert second.api_key == PRO_KEY
    assert second.received_at >= first.received_at


def test_reset_forgets_everything(api: VendorApi, http: requests.Session) -> None:
    api.body = {"changed": True}
    for _ in range(3):
        get(http, api, headers={"X-API-Key": FREE_KEY})
    api.script(Fault.status(500))
    api.reset()
    assert api.requests == []
    assert api.pending() == 0
    assert api.body == SEED_BODY
    assert api.body is not SEED_BODY
    response = get(http, api, headers={"X-API-Key": FREE_KEY})
    assert response.headers["X-RateLimit-Remaining"] == "9"
    assert get(http, api, headers=BEARER).json() == SEED_BODY


def test_stop_and_start_keep_the_port(cert_dir: Path, http: requests.Session) -> None:
    plain = VendorApi(cert_dir, tls="off")
    with plain:
        url = plain.base_url
        assert get(http, plain, headers=BEARER).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        get(http, plain, headers=BEARER)
    with plain:
        assert plain.base_url == url
        assert get(http, plain, headers=BEARER).status_code == 200
