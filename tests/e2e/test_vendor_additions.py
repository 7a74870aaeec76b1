"""The built input against what the vendor's newer documentation adds (issue 12).

Extras kept or dropped, each cache header present, absent or malformed, the cache time
same or newer, a source feed standing still while another grows, a checkpoint from 0.2.0
and an answer whose shape cannot be read. Polls are shared where one run shows several.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime

from tests.e2e.conftest import COLLECTION
from tests.e2e.test_input import failure_record, only_event
from tests.support.modinput import InputRun
from tests.support.vendor_api import (
    NEWER_EXTRAS,
    NEWER_TOTALS_EXTRAS,
    PRO_KEY,
    SEED_BODY,
    CacheClock,
    Fault,
    newer_body,
)

UPDATED_AT = "X-Cache-Updated-At"
AGE = "X-Cache-Age-Seconds"
STALE = "X-Cache-Stale"


def data(run: InputRun) -> dict:
    return json.loads(only_event(run)["data"])


def collected(event: dict) -> datetime:
    return datetime.strptime(event["collected_at"], "%Y-%m-%dT%H:%M:%S.%f%z")


def whole_seconds(later: dict, earlier: dict) -> int:
    return int((collected(later) - collected(earlier)).total_seconds() // 1)


def test_extras_cache_times_and_a_source_standing_still_over_three_polls(run, vendor_api) -> None:
    vendor_api.body = newer_body()
    refreshed = time.time() - 120
    vendor_api.cache = CacheClock(refreshed_at=refreshed)
    first = data(run())
    assert first["api_extra"] == {**NEWER_EXTRAS, "totals": NEWER_TOTALS_EXTRAS}
    assert list(first)[-3:] == ["request_id", "schema_version", "api_extra"]  # written last
    assert first["totals"] == SEED_BODY["totals"]  # the three validated maps only
    assert first["cache_updated_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(refreshed))
    assert 120 <= first["cache_age_seconds"] <= 600
    assert first["cache_stale"] is False
    assert "cache_refreshed" not in first  # nothing to compare with yet
    assert "source_unchanged_seconds" not in first  # the input's first snapshot
    assert run.checkpoint()["cache_updated_at"] == first["cache_updated_at"]

    vendor_api.body["totals"]["by_source"]["Abuse.ch"] += 40  # the others stand still
    second = data(run())
    assert second["cache_refreshed"] is False  # the same cache: the same figures
    assert second["source_unchanged_seconds"] == {
        "CISA Alerts": whole_seconds(second, first),
        "Emerging Threats": whole_seconds(second, first),
        "Abuse.ch": 0,
    }

    vendor_api.body["totals"]["by_source"]["Abuse.ch"] += 40
    vendor_api.cache = CacheClock(refreshed_at=refreshed + 600, stale=True)
    third = data(run())
    assert third["cache_refreshed"] is True
    assert third["cache_stale"] is True
    assert third["source_unchanged_seconds"] == {
        "CISA Alerts": whole_seconds(third, first),  # since the first poll, not the second
        "Emerging Threats": whole_seconds(third, first),
        "Abuse.ch": 0,
    }
    assert run.checkpoint()["source_since"] == {
        "CISA Alerts": first["collected_at"],
        "Emerging Threats": first["collected_at"],
        "Abuse.ch": third["collected_at"],
    }


def test_oversized_extras_are_dropped_with_their_size_and_one_warning(run, vendor_api) -> None:
    vendor_api.body = newer_body()
    vendor_api.body["raw_dump"] = "x" * (70 * 1024)
    result = run()
    event = data(result)
    assert "api_extra" not in event
    extras = {k: v for k, v in vendor_api.body.items() if k not in ("totals", "last_updated")}
    extras["totals"] = NEWER_TOTALS_EXTRAS
    size = len(json.dumps(extras, ensure_ascii=False, separators=(",", ":")).encode())
    assert event["api_extra_dropped_bytes"] == size
    assert event["totals"] == SEED_BODY["totals"]
    (warning,) = result.log_lines("api_extra_dropped")
    assert "log_level=WARNING" in warning
    assert f"api_extra_dropped_bytes={size}" in warning
    assert "trends, feed_health, top_techniques, top_cves, raw_dump, totals.iocs, " \
        "totals.articles" in warning  # fmt: skip
    assert run.checkpoint()["total_iocs"] == 124098


def answer_with(headers: dict) -> Fault:
    """The seed's answer with these cache headers (None: that header not sent)."""
    return Fault.json(SEED_BODY, headers=headers)


CASES = [  # each header present, malformed and absent once over three polls
    {UPDATED_AT: "2024-01-15T10:10:00Z", AGE: "soon", STALE: None},
    {UPDATED_AT: "yesterday", AGE: None, STALE: "TRUE"},
    {UPDATED_AT: None, AGE: "17", STALE: "maybe"},
]
EXPECTED = [
    ({"cache_updated_at": "2024-01-15T10:10:00Z"}, AGE),
    ({"cache_stale": True}, UPDATED_AT),
    ({"cache_age_seconds": 17}, STALE),
]


def test_each_cache_header_present_absent_or_malformed(run, vendor_api) -> None:
    vendor_api.cache = CacheClock()
    run.splunkd.set_log_level("DEBUG")
    for headers, (fields, malformed) in zip(CASES, EXPECTED):
        vendor_api.script(answer_with(headers))
        result = run()
        event = data(result)
        present = {k: v for k, v in event.items() if k.startswith("cache_")}
        assert present == fields  # cache_refreshed too needs the header on both snapshots
        (ignored,) = result.log_lines("cache_header_ignored")
        assert "log_level=DEBUG" in ignored
        assert f"header={malformed}" in ignored
        assert "log_level=ERROR" not in result.log


def test_a_0_2_0_checkpoint_reads_as_unchanged_since_its_snapshot_and_no_key_is_kept(
    run, vendor_api
) -> None:
    old = {  # written by 0.2.0: no source_since, no cache_updated_at
        "schema": 1,
        "collected_at": "2026-01-01T00:00:00.000Z",
        "last_updated": "2025-12-31T23:00:00Z",
        "total_iocs": 124098,
        "totals": copy.deepcopy(SEED_BODY["totals"]),
    }
    run.splunkd.kvstore.setdefault(COLLECTION, {})["prod_stats"] = {
        "_key": "prod_stats",
        "state": json.dumps(old),
    }
    vendor_api.body["totals"]["by_source"]["Abuse.ch"] += 1
    vendor_api.body["key_echo"] = f"Bearer {PRO_KEY}"  # the Runner checks it appears nowhere
    vendor_api.cache = CacheClock()
    result = run()
    event = data(result)
    assert event["api_extra"] == {"key_echo": "Bearer ********"}
    assert result.log_lines("checkpoint_ignored") == []
    since_old = whole_seconds(event, old)
    assert event["source_unchanged_seconds"] == {
        "CISA Alerts": since_old,
        "Emerging Threats": since_old,
        "Abuse.ch": 0,
    }
    assert event["delta"]["by_source"]["Abuse.ch"] == 1
    assert "cache_refreshed" not in event
    saved = run.checkpoint()
    assert saved["source_since"]["CISA Alerts"] == "2026-01-01T00:00:00.000Z"
    assert saved["cache_updated_at"] == event["cache_updated_at"]


def test_a_body_without_totals_names_the_keys_received(run, vendor_api) -> None:
    only_event(run())
    before = run.checkpoint()
    vendor_api.script(Fault.json({"data": {"by_type": {}}, "meta": {"v": 2}, "last_updated": 1}))
    result = run()
    record = failure_record(result)
    for words in ('exc_l="Server Error"', "http_status=200", "error_code=invalid_body",
                  "totals is missing or not an object",
                  "(top-level keys received: data, meta, last_updated)"):  # fmt: skip
        assert words in record
    assert (result.events, run.checkpoint()) == ([], before)
