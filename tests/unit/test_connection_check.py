"""Testing an account before it is saved: one attempt, one actionable message per failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from socdefenders.account import AccountSettings
from socdefenders.connection_check import check_account_connection, rejection_message
from socdefenders.errors import CollectionError
from tests.support.clients import account_for, closed_port
from tests.support.vendor_api import EXPIRED_KEY, FREE_KEY, PRO_KEY, Fault, VendorApi

USER_AGENT = "TA-socdefenders/9.9.9"


def rejection(account: AccountSettings, proxy_url=None) -> str:
    with pytest.raises(CollectionError) as caught:
        check_account_connection(account, user_agent=USER_AGENT, proxy_url=proxy_url)
    message = rejection_message(caught.value)
    assert message.startswith("The account was not saved: ")
    assert "To fix: " in message
    for secret in (PRO_KEY, FREE_KEY, EXPIRED_KEY, account.api_key):
        assert secret not in message
    return message


def test_a_working_account_passes_with_one_request(vendor_api) -> None:
    check = check_account_connection(account_for(vendor_api), user_agent=USER_AGENT)
    assert check.tier == "pro"
    assert check.snapshot is not None
    assert check.snapshot.totals.total_iocs == 124098
    assert len(vendor_api.requests) == 1


def test_a_free_key_passes_through_the_indicators_with_a_second_request(vendor_api) -> None:
    """The stats need Pro (403); the indicators input works with a Free key."""
    check = check_account_connection(account_for(vendor_api, key=FREE_KEY), user_agent=USER_AGENT)
    assert check.tier == "free"
    assert check.snapshot is None
    assert [request.path.split("?")[0] for request in vendor_api.requests] == [
        "/api/v1/iocs/stats",
        "/api/v1/iocs",
    ]
    assert "limit=1" in vendor_api.requests[1].path


def test_a_key_refused_the_indicators_too_gets_the_stats_message(vendor_api) -> None:
    vendor_api.script(Fault.status(403), Fault.status(403))
    message = rejection(account_for(vendor_api, key=FREE_KEY))
    assert "HTTP 403" in message
    assert "needs a Pro subscription" in message
    assert len(vendor_api.requests) == 2


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("sk_live_FAKE0notakey0000000000", ["HTTP 401", "invalid_api_key", "check the key"]),
        (EXPIRED_KEY, ["HTTP 401", "expired_api_key", "create a new key"]),
    ],
)
def test_refused_keys_say_why(vendor_api, key: str, words: list) -> None:
    message = rejection(account_for(vendor_api, key=key))
    for word in words:
        assert word in message
    assert "(request_id req_" in message


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault.rate_limited(reset_in=600), ["HTTP 429", "rate_limit_exceeded", "quota resets at"]),
        (Fault.status(503), ["HTTP 503", "service_unavailable", "SOC Defenders support"]),
        (Fault.raw(b"<html>login</html>", content_type="text/html"),
         ["Invalid stats document", "not JSON", "HTTP 200"]),
        (Fault.redirect("https://elsewhere.example/api"), ["redirect", "elsewhere.example"]),
    ],
)  # fmt: skip
def test_unexpected_answers_are_one_attempt_and_say_why(vendor_api, fault, words) -> None:
    vendor_api.script(fault, fault)
    message = rejection(account_for(vendor_api))
    for word in words:
        assert word in message
    assert len(vendor_api.requests) == 1  # no retry while the admin waits


def test_untrusted_tls_names_the_host_and_the_ca_option(tmp_path: Path) -> None:
    with VendorApi(tmp_path, tls="untrusted") as api:
        message = rejection(account_for(api))
    assert "TLS verification of 127.0.0.1 failed" in message
    assert "CA bundle" in message


def test_dns_failure_names_the_host() -> None:
    account = AccountSettings(
        name="prod", api_key=PRO_KEY, base_url="https://api.nonexistent.invalid"
    )
    message = rejection(account)
    assert "api.nonexistent.invalid could not be resolved" in message


def test_timeout_names_the_setting(vendor_api) -> None:
    vendor_api.script(Fault.delay(1.5))
    message = rejection(account_for(vendor_api, timeout_seconds=1))
    assert "did not answer within 1 s" in message
    assert "request timeout" in message


def test_proxy_failure_names_the_proxy_page(vendor_api) -> None:
    message = rejection(account_for(vendor_api), proxy_url=f"http://127.0.0.1:{closed_port()}")
    assert "through the proxy" in message
    assert "Configuration > Proxy" in message
    assert vendor_api.requests == []
