"""The stats client against the vendor API emulator: headers, errors, retries, limits.

Sleeping is faked (the waits are recorded), so the retry rules are checked exactly and fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List

import pytest

from socdefenders.account import AccountSettings, AuthHeader
from socdefenders.client import MAX_BODY_BYTES, ApiClient, RateLimit
from socdefenders.errors import CollectionError, ErrorCategory, ResponseError, TransportError
from socdefenders.retry import RetryPolicy
from socdefenders.stats.cache import CacheHeaders
from socdefenders.whole_numbers import whole_number
from tests.support.clients import account_for, closed_port
from tests.support.vendor_api import EXPIRED_KEY, FREE_KEY, PRO_KEY, SEED_BODY, Fault, VendorApi

USER_AGENT = "TA-socdefenders/9.9.9"
SECRETS = (PRO_KEY, FREE_KEY, EXPIRED_KEY)


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: List[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client_for(account: AccountSettings, fake: FakeTime, **policy) -> ApiClient:
    return ApiClient(
        account,
        user_agent=USER_AGENT,
        retry_policy=RetryPolicy(**policy),
        sleep=fake.sleep,
        clock=fake.clock,
        rand=lambda: 0.5,
    )


def fetch_error(client: ApiClient) -> CollectionError:
    with pytest.raises(CollectionError) as caught:
        client.fetch()
    error = caught.value
    text = f"{error} {error.log_fields()}"
    assert not any(secret in text for secret in SECRETS)
    return error


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def test_success_is_one_request_with_bearer_key_and_user_agent(vendor_api, fake_time) -> None:
    response = client_for(account_for(vendor_api), fake_time).fetch()
    assert len(vendor_api.requests) == 1
    request = vendor_api.requests[0]
    assert request.method == "GET"
    assert request.path == "/api/v1/iocs/stats"
    assert request.header("Authorization") == f"Bearer {PRO_KEY}"
    assert request.header("X-API-Key") is None
    assert request.header("User-Agent") == USER_AGENT
    assert b'"CISA Alerts"' in response.body
    assert response.attempts == 1
    assert response.request_id.startswith("req_")
    assert response.rate_limit.limit == 1000
    assert response.rate_limit.remaining == 999
    assert response.rate_limit.reset_epoch > time.time()
    assert fake_time.waits == []


def test_x_api_key_header_is_used_when_chosen(vendor_api, fake_time) -> None:
    account = account_for(vendor_api, auth_header=AuthHeader.X_API_KEY)
    client_for(account, fake_time).fetch()
    request = vendor_api.requests[0]
    assert request.header("X-API-Key") == PRO_KEY
    assert request.header("Authorization") is None


@pytest.mark.parametrize(
    ("key", "code", "category", "fix_words"),
    [
        ("", "missing_api_key", ErrorCategory.AUTHENTICATION, "check the key in Configuration"),
        ("sk_live_FAKE0unknown", "invalid_api_key", ErrorCategory.AUTHENTICATION,
         "check the key in Configuration > Accounts"),
        (EXPIRED_KEY, "expired_api_key", ErrorCategory.AUTHENTICATION, "create a new key"),
        (FREE_KEY, None, ErrorCategory.PERMISSION, "needs a Pro subscription"),
    ],
)  # fmt: skip
def test_refusals_are_final_and_name_code_request_id_and_fix(
    vendor_api, fake_time, key: str, code: str, category: ErrorCategory, fix_words: str
) -> None:
    account = account_for(vendor_api, key=key or "unused")
    client = client_for(account, fake_time)
    if not key:
        client._headers.pop("Authorization")  # what a proxy that strips the header does
    error = fetch_error(client)
    assert len(vendor_api.requests) == 1
    assert fake_time.waits == []
    assert error.category is category
    assert error.status == (403 if category is ErrorCategory.PERMISSION else 401)
    if code:
        assert error.error_code == code
    assert error.error_message
    assert error.request_id.startswith("req_")
    assert fix_words in error.fix


@pytest.mark.parametrize(("status", "category"), [(400, ErrorCategory.SERVER),
                                                  (404, ErrorCategory.CONFIGURATION)])  # fmt: skip
def test_client_errors_are_never_retried(vendor_api, fake_time, status, category) -> None:
    vendor_api.script(Fault.status(status))
    error = fetch_error(client_for(account_for(vendor_api), fake_time))
    assert (error.status, error.category, len(vendor_api.requests)) == (status, category, 1)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_backoff(vendor_api, fake_time, status: int) -> None:
    vendor_api.script(Fault.status(status), Fault.status(status))
    response = client_for(account_for(vendor_api), fake_time).fetch()
    assert len(vendor_api.requests) == 3
    assert response.attempts == 3
    assert fake_time.waits == [0.5, 1.0]  # base 1 s doubling, jitter fixed at 0.5


def test_server_errors_past_the_attempts_give_up_with_the_last_error(vendor_api, fake_time):
    vendor_api.script(*[Fault.status(503)] * 6)
    error = fetch_error(client_for(account_for(vendor_api), fake_time, max_attempts=4))
    assert len(vendor_api.requests) == 4
    assert error.status == 503
    assert error.category is ErrorCategory.SERVER
    assert error.error_code == "service_unavailable"
    assert "gave up after 4 attempts" in str(error)
    assert error.attempts == 4


def test_retries_stop_at_the_time_budget(vendor_api, fake_time) -> None:
    vendor_api.script(*[Fault.status(500)] * 6)
    client = client_for(account_for(vendor_api), fake_time, max_attempts=10, budget_seconds=2.0)
    error = fetch_error(client)
    assert fake_time.waits == [0.5, 1.0]  # the next wait (2 s) would overrun the 2 s budget
    assert len(vendor_api.requests) == 3
    assert error.attempts == 3


def test_retry_after_is_honoured(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.status(503, headers={"Retry-After": "7"}))
    client_for(account_for(vendor_api), fake_time).fetch()
    assert fake_time.waits == [7.0]


def test_rate_limit_waits_until_the_reset(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.rate_limited(reset_in=3))
    response = client_for(account_for(vendor_api), fake_time).fetch()
    assert response.attempts == 2
    assert len(fake_time.waits) == 1
    assert 1.0 < fake_time.waits[0] <= 4.0


def test_rate_limit_prefers_retry_after(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.rate_limited(reset_in=30, retry_after=2))
    client_for(account_for(vendor_api), fake_time).fetch()
    assert fake_time.waits == [2.0]


def test_rate_limit_resetting_after_the_budget_fails_now_and_says_when(vendor_api, fake_time):
    vendor_api.script(Fault.rate_limited(reset_in=600))
    error = fetch_error(client_for(account_for(vendor_api), fake_time, budget_seconds=60))
    assert len(vendor_api.requests) == 1
    assert fake_time.waits == []
    assert error.category is ErrorCategory.RATE_LIMIT
    assert error.error_code == "rate_limit_exceeded"
    assert "the quota resets at 20" in error.fix


def test_read_timeout_is_retried(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.delay(1.5))
    response = client_for(account_for(vendor_api, timeout_seconds=1), fake_time).fetch()
    assert response.attempts == 2
    assert len(fake_time.waits) == 1


def test_read_timeout_past_the_attempts_names_the_timeout(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.delay(1.5), Fault.delay(1.5))
    client = client_for(account_for(vendor_api, timeout_seconds=1), fake_time, max_attempts=2)
    error = fetch_error(client)
    assert isinstance(error, TransportError)
    assert "did not answer within 1 s" in str(error)
    assert "request timeout" in error.fix


@pytest.mark.parametrize("fault", [Fault.reset_mid_body(), Fault.close_without_response()])
def test_broken_connections_are_retried(vendor_api, fake_time, fault: Fault) -> None:
    vendor_api.script(fault)
    assert client_for(account_for(vendor_api), fake_time).fetch().attempts == 2


def test_connection_refused_is_a_connection_error(tmp_path: Path, fake_time) -> None:
    port = closed_port()
    account = AccountSettings(name="prod", api_key=PRO_KEY, base_url=f"http://127.0.0.1:{port}")
    error = fetch_error(client_for(account, fake_time, max_attempts=2))
    assert error.category is ErrorCategory.CONNECTION
    assert "could not connect to 127.0.0.1" in str(error)
    assert error.attempts == 2


def test_untrusted_certificate_fails_without_retry(tmp_path: Path, fake_time) -> None:
    with VendorApi(tmp_path, tls="untrusted") as api:
        error = fetch_error(client_for(account_for(api), fake_time))
        assert api.requests == []
    assert isinstance(error, TransportError)
    assert "TLS verification of 127.0.0.1 failed" in str(error)
    assert "CA bundle" in error.fix
    assert fake_time.waits == []


def test_ca_bundle_is_what_makes_the_certificate_trusted(vendor_api, fake_time) -> None:
    error = fetch_error(client_for(account_for(vendor_api, ca_bundle=None), fake_time))
    assert "TLS verification" in str(error)
    assert vendor_api.requests == []


def test_redirect_is_not_followed_so_the_key_stays_home(vendor_api, tmp_path, fake_time) -> None:
    with VendorApi(tmp_path) as elsewhere:
        vendor_api.script(Fault.redirect(elsewhere.url))
        error = fetch_error(client_for(account_for(vendor_api), fake_time))
        assert elsewhere.requests == []
    assert error.category is ErrorCategory.CONFIGURATION
    assert "redirect (HTTP 302) to host 127.0.0.1" in str(error)


def test_body_over_the_cap_is_not_read(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.huge_body(MAX_BODY_BYTES + 1))
    error = fetch_error(client_for(account_for(vendor_api), fake_time))
    assert isinstance(error, ResponseError)
    assert error.error_code == "body_too_large"
    assert len(vendor_api.requests) == 1


def test_body_under_the_cap_is_read_whole(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.huge_body(MAX_BODY_BYTES))
    assert len(client_for(account_for(vendor_api), fake_time).fetch().body) == MAX_BODY_BYTES


def test_error_body_that_is_not_json_still_gives_the_status(vendor_api, fake_time) -> None:
    vendor_api.script(Fault.raw(b"<html>teapot</html>", status=418, content_type="text/html"))
    error = fetch_error(client_for(account_for(vendor_api), fake_time))
    assert (error.status, error.error_code, error.category) == (418, None, ErrorCategory.SERVER)
    assert error.request_id.startswith("req_")  # from the X-Request-Id header


NOT_ASCII_DIGITS = ["\u00b2", "\u00b9\u00b2", "\u0661\u0660", "\uff11\uff12", "-1", "1.5", "0x10"]


@pytest.mark.parametrize("text", ["0", "7", " 42 ", "0099", "9" * 19])
def test_whole_numbers_are_ascii_digits_only(text: str) -> None:
    assert whole_number(text) == int(text)


@pytest.mark.parametrize("text", [*NOT_ASCII_DIGITS, "", " ", None, "1" * 20, "1 2"])
def test_anything_else_is_not_a_whole_number(text) -> None:
    assert whole_number(text) is None


def test_malformed_number_headers_on_a_200_are_ignored_not_a_crash(vendor_api, fake_time) -> None:
    headers = {name: "\u00b2" for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining",
                                           "X-RateLimit-Reset", "X-Cache-Age-Seconds")}  # fmt: skip
    vendor_api.script(Fault.json(SEED_BODY, headers=headers))  # sent as the latin-1 byte B2
    response = client_for(account_for(vendor_api), fake_time).fetch()
    assert response.rate_limit == RateLimit()
    cache = CacheHeaders.from_headers(response.headers)
    assert cache.age_seconds is None
    assert [ignored.name for ignored in cache.ignored] == ["X-Cache-Age-Seconds"]


@pytest.mark.parametrize(
    "fault",
    [Fault.status(503, headers={"Retry-After": "\u00b2"}),
     Fault.status(429, "rate_limit_exceeded", headers={"X-RateLimit-Reset": "\u00b2"})],
    ids=["retry-after", "ratelimit-reset"],
)  # fmt: skip
def test_a_malformed_wait_header_falls_back_to_the_backoff(vendor_api, fake_time, fault) -> None:
    vendor_api.script(fault)
    client_for(account_for(vendor_api), fake_time).fetch()
    assert fake_time.waits == [0.5]  # the first backoff (rand 0.5 of 1 s), not a crash
