"""Every field a shipped search or dashboard panel reads is one the input really writes.

The field lists come from real events and log lines of the built input (run against the
emulators), not from a copy: rename a field in the event builder and this test fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.knowledge.conftest import all_searches, flat_fields
from tools.spl_fields import fields_read, unknown_fields

SPLUNK_FIELDS = ["_time", "_raw", "host", "source", "sourcetype", "index", "eventtype",
                 "linecount", "splunk_server"]  # fmt: skip
LOG_MARKERS = ("socdefenders_addon_log", "socdefenders:addon:log")


@pytest.fixture(scope="module")
def known(real_telemetry) -> dict:
    events, logs = real_telemetry
    return {
        "events": flat_fields(events) + SPLUNK_FIELDS,
        "log": flat_fields(logs) + SPLUNK_FIELDS,
    }


def universe_for(base_spl: str) -> str:
    return "log" if any(marker in base_spl for marker in LOG_MARKERS) else "events"


def test_the_real_events_carry_the_documented_fields(known: dict) -> None:
    for field in ("collected_at", "feed_age_seconds", "delta.total_iocs", "totals.by_source.*",
                  "delta.by_source.*", "seconds_since_previous", "consistent",
                  "source_unchanged_seconds.*", "cache_age_seconds", "cache_updated_at",
                  "cache_stale", "cache_refreshed", "api_extra.trends.last_24h.iocs"):  # fmt: skip
        assert field in known["events"]
    for field in ("action", "category", "http_status", "error_code", "request_id", "fix",
                  "exc_l", "log_level", "n_events"):  # fmt: skip
        assert field in known["log"]


def test_every_search_reads_only_fields_the_input_writes(app_dir: Path, known: dict) -> None:
    searches = all_searches(app_dir)
    assert len(searches) >= 23  # 6 saved searches, 2 event types, 3 macros, 17 data sources
    problems = {}
    for name, (spl, base) in searches.items():
        unknown = unknown_fields(spl, known[universe_for(base)])
        if unknown:
            problems[name] = unknown
    assert problems == {}


def test_the_searches_do_read_the_snapshot_fields(app_dir: Path) -> None:
    read = set()
    for spl, _base in all_searches(app_dir).values():
        read |= fields_read(spl)
    for field in ("total_iocs", "feed_age_seconds", "delta.total_iocs", "totals.by_source.*",
                  "seconds_since_previous", "consistent", "category", "request_id",
                  "source_unchanged_seconds.*", "cache_age_seconds"):  # fmt: skip
        assert field in read


@pytest.mark.parametrize(
    "spl",
    [
        "`socdefenders_stats` | stats latest(feed_age) as age by account",
        "`socdefenders_stats` | timechart max(totals.by_feed.*) as *",
        "`socdefenders_stats` | where 'delta.totalIocs' < 0",
        "`socdefenders_addon_log` action=poll_failed | stats count by error_category",
    ],
)
def test_a_misspelt_field_breaks_the_contract(spl: str, known: dict) -> None:
    assert unknown_fields(spl, known[universe_for(spl)])
