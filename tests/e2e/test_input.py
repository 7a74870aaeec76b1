"""The built input, run as splunkd runs it, on Python 3.9 and 3.13, against the emulators."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from tests.e2e.conftest import (
    COLLECTION,
    CONNECTIONS_PER_POLL,
    REQUESTS_PER_POLL,
    assert_no_secrets,
)
from tests.support.clients import FAKE_PROXY_PASSWORD, closed_port
from tests.support.connect_proxy import Connect, ConnectProxy
from tests.support.modinput import InputRun
from tests.support.vendor_api import EXPIRED_KEY, FREE_KEY, Fault


def only_event(run: InputRun) -> dict:
    assert len(run.events) == 1, run.log
    return run.events[0]


def failure_record(run: InputRun) -> str:
    records = run.log_lines("poll_failed")
    assert len(records) == 1, run.log
    assert "log_level=ERROR" in records[0]
    return records[0]


def test_seed_snapshot_becomes_one_event(run, vendor_api) -> None:
    result = run()
    event = only_event(result)
    data = json.loads(event["data"])
    assert event["sourcetype"] == "socdefenders:ioc:stats"
    assert event["source"] == "socdefenders_ioc_stats://prod_stats"
    assert event["index"] == "main"
    assert event.get("host") is None  # $decideOnStartup: splunkd fills in its own host
    collected = datetime.strptime(data["collected_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert float(event["time"]) == pytest.approx(collected.timestamp(), abs=0.0005)
    assert data["total_iocs"] == 124098
    assert data["consistent"] is True
    assert data["totals"] == vendor_api.body["totals"]
    assert data["last_updated"] == "2024-01-15T10:00:00Z"
    assert data["account"] == "prod"
    assert data["input"] == "prod_stats"
    assert data["api_host"] == "127.0.0.1"
    assert data["feed_age_seconds"] > 0
    assert "delta" not in data
    assert "seconds_since_previous" not in data
    assert len(vendor_api.requests) == 1
    assert vendor_api.requests[0].header("User-Agent").startswith("TA-socdefenders/")
    assert len(result.log_lines("poll_succeeded")) == 1
    assert "n_events=1" in result.log_lines("events_ingested")[0]
    assert run.checkpoint()["total_iocs"] == 124098


def test_second_poll_reports_deltas_against_the_first(run, vendor_api) -> None:
    first = json.loads(only_event(run())["data"])
    vendor_api.body["totals"]["by_type"]["ipv4"] += 250
    vendor_api.body["totals"]["by_category"]["community"] += 250
    vendor_api.body["totals"]["by_source"]["Abuse.ch"] -= 600
    vendor_api.body["totals"]["by_source"]["Feed v2 (beta) ñ"] = 7
    second = json.loads(only_event(run())["data"])
    assert second["total_iocs"] == 124348
    assert second["delta"]["total_iocs"] == 250
    assert second["delta"]["by_type"]["ipv4"] == 250
    assert second["delta"]["by_category"]["community"] == 250
    assert second["delta"]["by_source"]["Abuse.ch"] == -600
    assert second["delta"]["by_source"]["Feed v2 (beta) ñ"] == 7
    assert second["totals"]["by_source"]["Feed v2 (beta) ñ"] == 7
    first_at = datetime.strptime(first["collected_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
    second_at = datetime.strptime(second["collected_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert second["seconds_since_previous"] == round((second_at - first_at).total_seconds())
    assert run.checkpoint()["total_iocs"] == 124348


def test_x_api_key_and_explicit_host(run, vendor_api) -> None:
    run.splunkd.confs["ta_socdefenders_account"]["prod"]["auth_header"] = "x_api_key"
    event = only_event(run({"prod_stats": {"account": "prod", "host": "collector01"}}))
    assert event["host"] == "collector01"
    assert vendor_api.requests[0].header("Authorization") is None
    assert vendor_api.requests[0].header("X-API-Key")


PREVIOUS_STATE = {
    "schema": 1,
    "collected_at": "2026-01-01T00:00:00.000Z",
    "last_updated": "2025-12-31T23:00:00Z",
    "total_iocs": 3,
    "totals": {"by_type": {"ipv4": 3}, "by_category": {"community": 3}, "by_source": {}},
}


@pytest.mark.parametrize(
    ("key", "faults", "label", "status", "code", "fix"),
    [
        ("sk_live_FAKE0notakey0000000000", [], "Authentication Error", 401, "invalid_api_key",
         "check the key in Configuration > Accounts"),
        (EXPIRED_KEY, [], "Authentication Error", 401, "expired_api_key", "create a new key"),
        (FREE_KEY, [], "Permission Error", 403, None, "needs a Pro subscription"),
        (None, [Fault.rate_limited(reset_in=600)], "Rate Limit Error", 429,
         "rate_limit_exceeded", "the quota resets at"),
        (None, [Fault.status(503, headers={"Retry-After": "0"})] * 4, "Server Error", 503,
         "service_unavailable", "the next poll tries again"),
        (None, [Fault.raw(b"<html>maintenance</html>", content_type="text/html")],
         "Server Error", 200, "invalid_body", "request_id"),
        (None, [Fault.json({"totals": {"by_type": {"ipv4": -1}}})], "Server Error", 200,
         "invalid_body", "request_id"),
    ],
    ids=["401-invalid", "401-expired", "403-free", "429", "503-x4", "html", "negative-count"],
)  # fmt: skip
def test_api_failures_write_no_event_and_one_actionable_error(
    run, vendor_api, key, faults, label, status, code, fix
) -> None:
    if key:
        run.splunkd.add_account(
            "prod", key, base_url=vendor_api.base_url, ca_bundle=str(vendor_api.ca_file)
        )
    vendor_api.script(*faults)
    run.splunkd.kvstore.setdefault(COLLECTION, {})["prod_stats"] = {
        "_key": "prod_stats",
        "state": json.dumps(PREVIOUS_STATE),
    }
    result = run()
    assert result.events == []
    assert result.stdout.strip() in ("", "<stream></stream>")
    record = failure_record(result)
    assert f'exc_l="{label}"' in record
    assert "account=prod input=prod_stats" in record
    assert f"http_status={status}" in record
    assert f"error_code={code or 'pro_subscription_required'}" in record or code is None
    assert re.search(r"request_id=req_[0-9a-f]{16}", record)
    assert fix in record
    if status >= 400:
        assert 'error_message="' in record
    assert run.checkpoint() == PREVIOUS_STATE
    assert result.log_lines("events_ingested") == []


def test_read_timeouts_past_the_retries_write_no_event(run, vendor_api) -> None:
    run.splunkd.confs["ta_socdefenders_account"]["prod"]["timeout"] = "1"
    vendor_api.script(*[Fault.delay(1.5)] * 4)
    result = run({"prod_stats": {"account": "prod", "interval": "60"}})
    assert result.events == []
    record = failure_record(result)
    assert 'exc_l="Connection Error"' in record
    assert "did not answer within 1 s" in record
    assert "http_status=-" in record
    assert run.checkpoint() is None


def test_one_failing_input_does_not_stop_the_others(run, vendor_api) -> None:
    result = run(
        {
            "ghost_stats": {"account": "ghost"},
            "prod_stats": {"account": "prod"},
        }
    )
    assert [json.loads(event["data"])["input"] for event in result.events] == ["prod_stats"]
    record = failure_record(result)
    assert 'exc_l="Configuration Error"' in record
    assert "account=ghost input=ghost_stats" in record
    assert "the account 'ghost' does not exist" in record


def test_corrupt_checkpoint_is_logged_and_replaced(run) -> None:
    run.splunkd.kvstore.setdefault(COLLECTION, {})["prod_stats"] = {
        "_key": "prod_stats",
        "state": "{not json",
    }
    result = run()
    assert "delta" not in json.loads(only_event(result)["data"])
    warnings = result.log_lines("checkpoint_ignored")
    assert len(warnings) == 1
    assert "log_level=WARNING" in warnings[0]
    assert "corrupt" in warnings[0]
    assert run.checkpoint()["total_iocs"] == 124098


def test_debug_logging_and_proxy_settings_never_reveal_secrets(run, vendor_api) -> None:
    run.splunkd.set_log_level("DEBUG")
    run.splunkd.set_proxy(enabled=False, username="svc", password=FAKE_PROXY_PASSWORD)
    only_event(run())
    vendor_api.script(Fault.status(401, error_code="invalid_api_key"))
    failed = run()
    assert failed.events == []
    assert_no_secrets(failed, run.splunkd)


def test_enabled_proxy_without_host_is_a_configuration_error(run, vendor_api) -> None:
    run.splunkd.set_proxy(enabled=True, url="", port="")
    result = run()
    assert result.events == []
    record = failure_record(result)
    assert 'exc_l="Configuration Error"' in record
    assert "the proxy is enabled but has no host or port" in record
    assert vendor_api.requests == []


def test_the_poll_goes_through_the_proxy_with_its_credentials(run, vendor_api) -> None:
    with ConnectProxy("svc", FAKE_PROXY_PASSWORD) as proxy:
        run.splunkd.set_proxy(port=str(proxy.port), username="svc", password=FAKE_PROXY_PASSWORD)
        result = run()
        connects = proxy.connects
    assert json.loads(only_event(result)["data"])["total_iocs"] == 124098
    assert connects == [Connect(f"127.0.0.1:{vendor_api.port}", authorized=True)]
    assert len(vendor_api.requests) == 1


def test_a_proxy_refusing_the_credentials_is_a_connection_error(run, vendor_api) -> None:
    with ConnectProxy("svc", "FAKE-other-password") as proxy:
        run.splunkd.set_proxy(port=str(proxy.port), username="svc", password=FAKE_PROXY_PASSWORD)
        result = run({"prod_stats": {"account": "prod", "interval": "60"}})
        connects = proxy.connects
    assert result.events == []
    assert connects
    assert not any(connect.authorized for connect in connects)
    record = failure_record(result)
    assert 'exc_l="Connection Error"' in record
    assert "through the proxy" in record
    assert "Configuration > Proxy" in record
    assert vendor_api.requests == []


def test_one_poll_costs_one_api_request_and_five_splunkd_requests_on_one_connection(
    run, vendor_api
) -> None:
    only_event(run())
    assert len(vendor_api.requests) == 1
    assert run.splunkd.requests_by_kind() == REQUESTS_PER_POLL
    assert sum(REQUESTS_PER_POLL.values()) == 5
    assert run.splunkd.connections == CONNECTIONS_PER_POLL
    assert run.splunkd.connections_used() == CONNECTIONS_PER_POLL


def test_a_stored_proxy_password_costs_one_more_request(run, vendor_api) -> None:
    run.splunkd.set_proxy(enabled=False, username="svc", password=FAKE_PROXY_PASSWORD)
    only_event(run())
    assert run.splunkd.requests_by_kind() == {
        **REQUESTS_PER_POLL,
        "passwords": REQUESTS_PER_POLL["passwords"] + 1,
    }
    # solnlib binds a CredentialManager to one realm and gives it its own client
    assert run.splunkd.connections == CONNECTIONS_PER_POLL + 1


def forget_the_proxy_password(splunkd) -> None:
    for key in [k for k in splunkd.passwords if "conf-ta_socdefenders_settings" in k[0]]:
        del splunkd.passwords[key]


def test_a_disabled_proxy_whose_password_is_missing_does_not_stop_the_poll(run, vendor_api) -> None:
    run.splunkd.set_proxy(enabled=False, username="svc", password=FAKE_PROXY_PASSWORD)
    forget_the_proxy_password(run.splunkd)
    result = run()
    assert json.loads(only_event(result)["data"])["total_iocs"] == 124098
    assert result.log_lines("poll_failed") == []


def forget_the_api_key(splunkd) -> None:
    splunkd.passwords.clear()


def enabled_proxy_without_its_password(splunkd) -> None:
    splunkd.set_proxy(port=str(closed_port()), username="svc", password=FAKE_PROXY_PASSWORD)
    forget_the_proxy_password(splunkd)


@pytest.mark.parametrize(
    ("lose_the_secret", "message", "fix"),
    [
        (
            enabled_proxy_without_its_password,
            "the proxy password is missing from Splunk's credential store",
            "enter it again in Configuration > Proxy",
        ),
        (
            forget_the_api_key,
            "the API key of account 'prod' is missing from Splunk's credential store",
            "enter the key again in Configuration > Accounts",
        ),
    ],
    ids=["proxy_password", "api_key"],
)
def test_a_secret_missing_from_the_credential_store_is_a_configuration_error(
    run, vendor_api, lose_the_secret, message, fix
) -> None:
    lose_the_secret(run.splunkd)
    result = run()
    assert result.events == []
    record = failure_record(result)
    assert 'exc_l="Configuration Error"' in record
    assert message in record
    assert fix in record
    assert vendor_api.requests == []


def test_a_credential_store_answering_503_costs_four_tries_not_retries_of_retries(
    run, vendor_api
) -> None:
    run.splunkd.fail("passwords", status=503)
    result = run()
    assert result.events == []
    assert "http_status=503" in failure_record(result)
    # solnlib's own retried get_password (1 + 2 + 4 s), the conf list not retried around it
    assert run.splunkd.requests_by_kind() == {"conf": 2, "passwords": 4}
    assert vendor_api.requests == []
