"""The fault matrix: the built input, run as splunkd runs it, under every fault we know.

Each scenario states its expected outcome: how many events (0 or 1), the category of the
ERROR line (or none), and what happens to the checkpoint. Every run also proves, through
the ``run`` fixture, that the process exits 0 with no traceback on stderr, and that no API
key or proxy password appears in stdout (the events), stderr, the log file or the KV
store. All runs log at DEBUG and have a proxy password stored, so both are exercised.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

from socdefenders.client import MAX_BODY_BYTES
from tests.e2e.conftest import COLLECTION
from tests.support.clients import FAKE_PROXY_PASSWORD, closed_port
from tests.support.connect_proxy import ConnectProxy
from tests.support.vendor_api import EXPIRED_KEY, FREE_KEY, SEED_BODY, Fault, VendorApi

PREVIOUS = {
    "schema": 1,
    "collected_at": "2026-01-01T00:00:00.000Z",
    "last_updated": "2025-12-31T23:00:00Z",
    "total_iocs": 124000,
    "totals": {"by_type": {"ipv4": 124000}, "by_category": {"community": 124000},
               "by_source": {"CISA Alerts": 12400}},
}  # fmt: skip


@dataclass
class Context:
    """What a scenario may change before the run: servers it starts go on ``stack`` (closed
    after the run), and what it must check afterwards on ``checks``."""

    api: VendorApi
    run: object
    tmp: Path
    inputs: Dict[str, str] = field(default_factory=lambda: {"account": "prod"})
    session_key: Optional[str] = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    checks: List[Callable[[], None]] = field(default_factory=list)

    def account(self, **fields: str) -> None:
        stanza = self.run.splunkd.confs["ta_socdefenders_account"]["prod"]
        stanza.update(fields)

    def key(self, key: str) -> None:
        base = self.run.splunkd.confs["ta_socdefenders_account"]["prod"]
        fields = {k: v for k, v in base.items() if k != "api_key"}
        self.run.splunkd.add_account("prod", key, **fields)


@dataclass(frozen=True)
class Scenario:
    name: str
    prepare: Callable[[Context], None]
    events: int
    category: Optional[str] = None  # exc_l of the single ERROR line, None for success
    words: tuple = ()  # must appear in that line (or in the event for a success)
    api_requests: Optional[int] = None
    checkpoint: str = "written"  # written | kept


def body_with(change: Callable[[dict], None]) -> bytes:
    document = copy.deepcopy(SEED_BODY)
    change(document)
    return json.dumps(document).encode()  # \u escapes: any name, even one UTF-8 cannot encode


def set_count(value) -> Callable[[dict], None]:
    return lambda document: document["totals"]["by_type"].__setitem__("ipv4", value)


def script(*faults: Fault) -> Callable[[Context], None]:
    return lambda ctx: ctx.api.script(*faults)


def invalid(name: str, body: bytes, *words: str) -> Scenario:
    return Scenario(f"200 invalid: {name}", script(Fault.raw(body)), 0, SERVER,
                    ("invalid_body", *words), 1, "kept")  # fmt: skip


def retried(status: int) -> Scenario:
    fault = Fault.status(status, headers=RETRY_NOW)
    return Scenario(f"{status} then success", script(fault), 1, None, SEED_TOTAL, 2)


def untrusted(ctx: Context, with_bundle: bool) -> None:
    other_api = ctx.stack.enter_context(VendorApi(ctx.tmp / "untrusted", tls="untrusted"))
    bundle = str(other_api.certificate.cert_file) if with_bundle else ""
    ctx.account(base_url=other_api.base_url, ca_bundle=bundle)


def redirect(ctx: Context) -> None:
    elsewhere = ctx.stack.enter_context(VendorApi(ctx.tmp / "elsewhere"))
    ctx.api.script(Fault.redirect(elsewhere.url))

    def key_stayed_home() -> None:
        assert elsewhere.requests == []  # the key never followed the redirect

    ctx.checks.append(key_stayed_home)


def proxy_with_credentials(ctx: Context) -> None:
    proxy = ctx.stack.enter_context(ConnectProxy("svc", FAKE_PROXY_PASSWORD))
    ctx.run.splunkd.set_proxy(port=str(proxy.port), username="svc", password=FAKE_PROXY_PASSWORD)

    def went_through_the_proxy() -> None:
        assert [c.authorized for c in proxy.connects] == [True]

    ctx.checks.append(went_through_the_proxy)


def add_names(document: dict) -> None:
    document["totals"]["by_type"]["ja3"] = 7
    document["totals"]["by_category"]["partner"] = 7
    document["totals"]["by_source"]["Feed v2.1 (β) · Ümlaut"] = 9


def add_unwritable_names(document: dict) -> None:
    """Names JSON allows but XML 1.0 cannot carry (splunklib streams events as XML)."""
    document["totals"]["by_source"]["bad\ud800name"] = 1
    document["totals"]["by_source"]["\uffff"] = 2


def read_timeouts(ctx: Context) -> None:
    ctx.account(timeout="1")
    ctx.api.script(*[Fault.delay(1.5)] * 4)


def drop_key_from_store(ctx: Context) -> None:
    passwords = ctx.run.splunkd.passwords
    for key in [k for k in passwords if "conf-ta_socdefenders_account" in k[0]]:
        del passwords[key]
    splunkd_was_asked(ctx, {"conf": 2, "passwords": 2}, connections=2)


def proxy_down(ctx: Context) -> None:
    ctx.run.splunkd.set_proxy(port=str(closed_port()), username="svc", password=FAKE_PROXY_PASSWORD)


def splunkd_was_asked(ctx: Context, kinds: Dict[str, int], connections: int) -> None:
    """After the run: exactly these splunkd requests, on this many connections."""

    def check() -> None:
        assert ctx.run.splunkd.requests_by_kind() == kinds
        assert ctx.run.splunkd.connections == connections

    ctx.checks.append(check)


def wrong_session_key(ctx: Context) -> None:
    ctx.session_key = "FAKE-WRONG-SESSION-KEY"
    # the settings read, tried 4 times by solnlib (sleeping 1 + 2 + 4 s), each time sent
    # twice by splunklib (autologin: a 401 is retried once); urllib3 adds none
    splunkd_was_asked(ctx, {"conf": 8}, connections=1)


def missing_account(ctx: Context) -> None:
    ctx.inputs.update(account="gone")
    # the settings and the proxy password (a second realm: a second client), the stanza
    splunkd_was_asked(ctx, {"conf": 2, "passwords": 1}, connections=2)


def nothing(ctx: Context) -> None:
    """The scenario's set-up is the fixture's."""


AUTH = "Authentication Error"
CONNECTION = "Connection Error"
CONFIGURATION = "Configuration Error"
SERVER = "Server Error"
RETRY_NOW = {"Retry-After": "0"}
SEED_TOTAL = ('"total_iocs":124098',)

SCENARIOS: List[Scenario] = [
    Scenario("200 seed", nothing, 1, None, SEED_TOTAL, 1),
    Scenario("401 missing_api_key", script(Fault.status(401, error_code="missing_api_key")),
             0, AUTH, ("http_status=401", "missing_api_key", "X-API-Key"), 1, "kept"),
    Scenario("401 invalid_api_key", lambda ctx: ctx.key("sk_live_FAKE0nobody000000000000"),
             0, AUTH, ("invalid_api_key", "check the key in Configuration"), 1, "kept"),
    Scenario("401 expired_api_key", lambda ctx: ctx.key(EXPIRED_KEY),
             0, AUTH, ("expired_api_key", "create a new key"), 1, "kept"),
    Scenario("403 free tier", lambda ctx: ctx.key(FREE_KEY),
             0, "Permission Error", ("http_status=403", "needs a Pro subscription"), 1, "kept"),
    Scenario("404", script(Fault.status(404)),
             0, CONFIGURATION, ("http_status=404", "API base URL"), 1, "kept"),
    Scenario("400", script(Fault.status(400)), 0, SERVER, ("http_status=400",), 1, "kept"),
    Scenario("429 reset beyond the budget", script(Fault.rate_limited(reset_in=600)),
             0, "Rate Limit Error", ("rate_limit_exceeded", "the quota resets at"), 1, "kept"),
    Scenario("429 with X-RateLimit-Reset then success", script(Fault.rate_limited(reset_in=1)),
             1, None, SEED_TOTAL, 2),
    Scenario("429 with Retry-After then success",
             script(Fault.rate_limited(reset_in=600, retry_after=1)), 1, None, SEED_TOTAL, 2),
    retried(500),
    retried(502),
    retried(503),
    retried(504),
    Scenario("5xx past the retry budget", script(*[Fault.status(503, headers=RETRY_NOW)] * 4),
             0, SERVER, ("http_status=503", "gave up after 4 attempts"), 4, "kept"),
    Scenario("connection refused",
             lambda ctx: ctx.account(base_url=f"https://127.0.0.1:{closed_port()}"),
             0, CONNECTION, ("could not connect to 127.0.0.1",), 0, "kept"),
    Scenario("connection reset mid-body then success", script(Fault.reset_mid_body()),
             1, None, SEED_TOTAL, 2),
    Scenario("connection closed without an answer every time",
             script(*[Fault.close_without_response()] * 4), 0, CONNECTION, (), 4, "kept"),
    Scenario("read timeout", read_timeouts,
             0, CONNECTION, ("did not answer within 1 s",), 4, "kept"),
    Scenario("untrusted certificate", lambda ctx: untrusted(ctx, False),
             0, CONNECTION, ("TLS verification of 127.0.0.1 failed", "CA bundle"), 0, "kept"),
    Scenario("untrusted certificate given as CA bundle", lambda ctx: untrusted(ctx, True),
             1, None, SEED_TOTAL, 0),
    Scenario("redirect to another host", redirect,
             0, CONFIGURATION, ("redirect (HTTP 302) to host 127.0.0.1", "not sent there"), 1,
             "kept"),
    Scenario("200 HTML", script(Fault.raw(b"<html>Service</html>", content_type="text/html")),
             0, SERVER, ("invalid_body", "not JSON"), 1, "kept"),
    invalid("invalid JSON", b'{"totals": {"by_type": {"ipv4": 1,,}}}', "not JSON"),
    invalid("truncated JSON", json.dumps(SEED_BODY).encode()[:-40], "not JSON"),
    Scenario("body over the size cap", script(Fault.huge_body(MAX_BODY_BYTES + 1)),
             0, SERVER, ("body_too_large",), 1, "kept"),
    invalid("negative count", body_with(set_count(-5)), "not a non-negative integer"),
    invalid("float count", body_with(set_count(1.5)), "not a non-negative integer"),
    invalid("string count", body_with(set_count("48210")), "not a non-negative integer"),
    invalid("boolean count", body_with(set_count(True)), "not a non-negative integer"),
    invalid("no totals", body_with(lambda d: d.pop("totals")), "totals is missing"),
    invalid("no by_source", body_with(lambda d: d["totals"].pop("by_source")),
            "totals.by_source is missing"),
    invalid("no last_updated", body_with(lambda d: d.pop("last_updated")),
            "last_updated is missing"),
    invalid("malformed last_updated",
            body_with(lambda d: d.update(last_updated="15/01/2024")), "not ISO 8601"),
    Scenario("unknown top-level keys",
             script(Fault.raw(body_with(lambda d: d.update(meta={"x": [1]}, version="9")))),
             1, None, SEED_TOTAL, 1),
    Scenario("new types and feed names", script(Fault.raw(body_with(add_names))),
             1, None, ('"Feed v2.1 (β) · Ümlaut":9', '"ja3":7', '"partner":7'), 1),
    Scenario("names XML cannot carry", script(Fault.raw(body_with(add_unwritable_names))),
             1, None, ('"bad\\ud800name":1', '"\\uffff":2'), 1),
    Scenario("last_updated in the future",
             script(Fault.raw(body_with(lambda d: d.update(last_updated="2099-01-01T00:00:00Z")))),
             1, None, ('"feed_age_seconds":-',), 1),
    Scenario("splunkd: bad session key", wrong_session_key,
             0, SERVER, ("splunkd answered HTTP 401", "http_status=401"), 0, "kept"),
    Scenario("splunkd: account stanza missing", missing_account,
             0, CONFIGURATION, ("the account 'gone' does not exist",), 0, "kept"),
    Scenario("splunkd: key missing from the credential store", drop_key_from_store,
             0, CONFIGURATION, ("missing from Splunk's credential store",), 0, "kept"),
    Scenario("proxy with credentials", proxy_with_credentials, 1, None, SEED_TOTAL, 1),
    Scenario("proxy down", proxy_down, 0, CONNECTION, ("through the proxy",), 0, "kept"),
]  # fmt: skip


def checkpoint_record(run) -> Optional[str]:
    record = run.splunkd.kvstore.get(COLLECTION, {}).get("prod_stats")
    return None if record is None else record["state"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_matrix(scenario: Scenario, run, vendor_api, tmp_path: Path) -> None:
    run.splunkd.set_log_level("DEBUG")
    run.splunkd.set_proxy(enabled=False, username="svc", password=FAKE_PROXY_PASSWORD)
    run.splunkd.kvstore.setdefault(COLLECTION, {})["prod_stats"] = {
        "_key": "prod_stats", "state": json.dumps(PREVIOUS)}  # fmt: skip
    before = checkpoint_record(run)
    ctx = Context(vendor_api, run, tmp_path)
    with ctx.stack:
        scenario.prepare(ctx)
        result = run({"prod_stats": {**ctx.inputs}}, session_key=ctx.session_key)
    assert len(result.events) == scenario.events, result.log
    assert "Unexpected Error" not in result.log
    failures = result.log_lines("poll_failed")
    if scenario.category is None:
        assert failures == []
        text = result.events[0]["data"]
        assert len(result.log_lines("poll_succeeded")) == 1
    else:
        assert len(failures) == 1, result.log
        text = failures[0]
        assert f'exc_l="{scenario.category}"' in text
        assert "account=" in text
        assert "input=prod_stats" in text
        for name in ("http_status=", "error_code=", "request_id=", "fix="):
            assert name in text
    for word in scenario.words:
        assert word in text
    if scenario.api_requests is not None:
        assert len(vendor_api.requests) == scenario.api_requests
    after = checkpoint_record(run)
    if scenario.checkpoint == "kept":
        assert after == before
    else:
        assert json.loads(after)["collected_at"] != PREVIOUS["collected_at"]
        assert json.loads(result.events[0]["data"])["delta"]["total_iocs"] == (
            json.loads(result.events[0]["data"])["total_iocs"] - PREVIOUS["total_iocs"]
        )
    for check in ctx.checks:
        check()


def test_the_matrix_is_complete() -> None:
    assert len(SCENARIOS) >= 30
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


def test_kv_store_down_when_reading_writes_the_event_without_delta(run) -> None:
    run.splunkd.kvstore.setdefault(COLLECTION, {})["prod_stats"] = {
        "_key": "prod_stats", "state": json.dumps(PREVIOUS)}  # fmt: skip
    run.splunkd.fail("kvstore_read", status=503)
    result = run()
    data = json.loads(result.events[0]["data"])
    assert len(result.events) == 1
    assert "delta" not in data  # no silent delta against a checkpoint it could not read
    warnings = result.log_lines("checkpoint_ignored")
    assert len(warnings) == 1
    assert "the KV store could not be read" in warnings[0]
    # solnlib's retries (3, sleeping 1 + 2 + 4 s) and no urllib3 retries under them
    assert run.splunkd.requests_by_kind()["kvstore_read"] == 4
    assert json.loads(checkpoint_record(run))["collected_at"] == data["collected_at"]


def test_kv_store_down_when_saving_loses_and_duplicates_nothing(run, vendor_api) -> None:
    first = json.loads(run().events[0]["data"])
    saved = checkpoint_record(run)
    vendor_api.body["totals"]["by_type"]["ipv4"] += 10
    run.splunkd.fail("kvstore_write", status=503)
    second_run = run()
    run.splunkd.clear_faults()
    assert len(second_run.events) == 1
    second = json.loads(second_run.events[0]["data"])
    assert second["delta"]["total_iocs"] == 10
    errors = second_run.log_lines("checkpoint_not_saved")
    assert len(errors) == 1
    assert "the event was written" in errors[0]
    assert "http_status=503" in errors[0]
    assert checkpoint_record(run) == saved  # still the first snapshot
    vendor_api.body["totals"]["by_type"]["ipv4"] += 5
    third = json.loads(run().events[0]["data"])
    # The rule: the delta spans back to the last saved checkpoint, and says so.
    assert third["delta"]["total_iocs"] == 15
    first_at, third_at = (datetime.strptime(e["collected_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
                          for e in (first, third))  # fmt: skip
    assert third["seconds_since_previous"] == round((third_at - first_at).total_seconds())
    assert len({first["collected_at"], second["collected_at"], third["collected_at"]}) == 3
