"""What the vendor sends beyond the seed: extras, cache headers, and per-source change times."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Dict, Optional

import pytest

from socdefenders.client import ApiResponse, RateLimit
from socdefenders.errors import CheckpointError, ResponseError
from socdefenders.retry import server_requested_wait
from socdefenders.stats.cache import CacheHeaders
from socdefenders.stats.checkpoint import checkpoint_state, previous_from_state
from socdefenders.stats.event import MAX_EXTRA_BYTES, event_text
from socdefenders.stats.extras import MAX_EXTRA_DEPTH
from socdefenders.stats.poll import PollResult, poll
from socdefenders.stats.snapshot import MAPS, parse_snapshot
from tests.support.vendor_api import NEWER_EXTRAS, NEWER_TOTALS_EXTRAS, SEED_BODY, newer_body

FAKE_KEY = "sk_live_FAKE0unit00000000000000"
T0 = datetime(2024, 1, 15, 10, 15, 0, 250000, tzinfo=timezone.utc)
UPDATED = "2024-01-15T10:10:00Z"
LATER = "2024-01-15T10:20:00Z"


class FakeClient:
    """Stands in for ApiClient: hands out prepared answers."""

    api_host = "socdefenders.ai"
    account = SimpleNamespace(api_key=FAKE_KEY)

    def __init__(self) -> None:
        self.answers = []

    def fetch(self) -> ApiResponse:
        return self.answers.pop(0)


def answer(document: Any, headers: Optional[Dict[str, str]] = None) -> ApiResponse:
    return ApiResponse(
        body=json.dumps(document).encode(),
        request_id="req_0123456789abcdef",
        rate_limit=RateLimit(),
        attempts=1,
        elapsed_seconds=0.1,
        headers=headers or {},
    )


def poll_once(document: Any, at: datetime, state: Any = None, headers=None) -> PollResult:
    client = FakeClient()
    client.answers.append(answer(document, headers))
    previous = previous_from_state(None if state is None else json.loads(json.dumps(state)))
    return poll(client, account_name="prod", input_name="prod_stats", previous=previous,
                now=lambda: at)  # fmt: skip


# -- api_extra ------------------------------------------------------------------------


def test_extras_are_carried_verbatim_under_api_extra() -> None:
    result = poll_once(newer_body(), T0)
    assert result.event["api_extra"] == {**NEWER_EXTRAS, "totals": NEWER_TOTALS_EXTRAS}
    assert result.event["totals"] == SEED_BODY["totals"]  # the validated maps only
    assert "api_extra_dropped_bytes" not in result.event
    assert result.notes == ()


def test_api_extra_is_written_last_so_a_large_one_never_hides_the_fixed_fields() -> None:
    document = {**SEED_BODY, **extras_of_size(MAX_EXTRA_BYTES)}
    result = poll_once(document, T0, headers=GOOD)
    assert list(result.event)[-3:] == ["request_id", "schema_version", "api_extra"]
    text = result.event_json()
    assert text.index('"schema_version":1,"api_extra":{"padding":"xxx') < 1024


def test_no_extras_no_api_extra() -> None:
    event = poll_once(SEED_BODY, T0).event
    assert "api_extra" not in event
    assert "api_extra_dropped_bytes" not in event


@pytest.mark.parametrize("value", [None, "", [], {}, -1.5, 2**70, "\ud800", {"a": [[{}]]}])
def test_any_json_value_in_extras_is_carried_and_never_makes_the_answer_invalid(value) -> None:
    document = copy.deepcopy(SEED_BODY)
    document["x"] = value
    document["totals"]["by_severity"] = value
    result = poll_once(document, T0)
    assert result.event["api_extra"] == {"x": value, "totals": {"by_severity": value}}
    assert json.loads(result.event_json()) == result.event


SEED_TEXT = json.dumps(SEED_BODY)[1:-1]  # the members, to write a body by hand


def test_a_key_twice_in_an_extra_is_carried_with_its_last_value() -> None:
    body = ("{" + SEED_TEXT + ', "x": {"k": 1, "k": [2]}}').encode()
    assert parse_snapshot(body).extras == {"x": {"k": [2]}}


@pytest.mark.parametrize(
    ("text", "extras"),
    [(SEED_TEXT + ', "trend": 1, "trend": 2', {"trend": 2}),
     (SEED_TEXT.replace('"totals": {', '"totals": {"trend": 1, "trend": 2, ', 1),
      {"totals": {"trend": 2}})],
    ids=["body", "totals"],
)  # fmt: skip
def test_an_extra_written_twice_keeps_its_last_value_and_an_event_is_written(text, extras):
    client = FakeClient()
    client.answers.append(replace(answer({}), body=("{" + text + "}").encode()))
    result = poll(client, account_name="prod", input_name="prod_stats", previous=None,
                  now=lambda: T0)  # fmt: skip
    assert result.event["api_extra"] == extras
    assert result.event["totals"] == SEED_BODY["totals"]


@pytest.mark.parametrize(
    "body",
    ["{" + SEED_TEXT + ', "last_updated": "2024-01-15T10:00:00Z"}',
     "{" + SEED_TEXT + ', "totals": {"by_type": {}, "by_category": {}, "by_source": {}}}',
     "{" + SEED_TEXT.replace('"by_type": {', '"by_type": {"md5": 1, ', 1) + "}",
     "{" + SEED_TEXT.replace('"totals": {', '"totals": {"by_source": {}, ', 1) + "}",
     "{" + SEED_TEXT + ', "x": NaN}'],
    ids=["last_updated", "totals-in-body", "map", "totals", "nan-in-an-extra"],
)  # fmt: skip
def test_a_key_twice_where_the_answer_is_validated_is_refused(body: str) -> None:
    with pytest.raises(ResponseError, match=r"appears twice in one object|is not a JSON number"):
        parse_snapshot(body.encode())


def test_extras_never_rescue_an_invalid_answer() -> None:
    document = newer_body()
    document["totals"]["by_type"]["ipv4"] = -1
    with pytest.raises(ResponseError, match="not a non-negative integer"):
        poll_once(document, T0)


def test_an_answer_echoing_the_key_never_puts_it_in_the_event() -> None:
    document = copy.deepcopy(SEED_BODY)
    document["key_info"] = {"used": f"Bearer {FAKE_KEY}", FAKE_KEY: [FAKE_KEY, 1]}
    result = poll_once(document, T0)
    assert result.event["api_extra"] == {
        "key_info": {"used": "Bearer ********", "********": ["********", 1]}
    }
    assert FAKE_KEY not in result.event_json()
    assert FAKE_KEY not in json.dumps(result.checkpoint)


@pytest.mark.parametrize(
    ("key", "extras", "scrubbed"),
    [('sk_"live\\_1', {'sk_"live\\_1': 'a sk_"live\\_1 b'}, {"********": "a ******** b"}),
     ("nsk_live_1", {"note": "x\nsk_live_1", "n": ["nsk_live_1nsk_live_1"]},
      {"note": "x\nsk_live_1", "n": ["****************"]})],
    ids=["quote-and-backslash-in-the-key", "just-after-an-escape"],
)  # fmt: skip
def test_the_key_is_scrubbed_from_every_text_of_the_extras_whatever_it_holds(
    key: str, extras: Dict[str, Any], scrubbed: Dict[str, Any]
) -> None:
    client = FakeClient()
    client.account = SimpleNamespace(api_key=key)
    client.answers.append(answer({**SEED_BODY, **extras}))
    result = poll(client, account_name="prod", input_name="prod_stats", previous=None,
                  now=lambda: T0)  # fmt: skip
    assert result.event["api_extra"] == scrubbed  # each text scrubbed, none corrupted
    assert json.loads(result.event_json()) == result.event


def extras_of_size(size: int) -> Dict[str, Any]:
    """Top-level extras ``{"padding": "xxx..."}`` that serialize to exactly ``size`` bytes."""
    overhead = len(event_text({"padding": ""}).encode())
    return {"padding": "x" * (size - overhead)}


def test_extras_of_exactly_64_kib_are_kept() -> None:
    document = {**SEED_BODY, **extras_of_size(MAX_EXTRA_BYTES)}
    assert len(event_text(poll_once(document, T0).event["api_extra"])) == MAX_EXTRA_BYTES


def test_larger_extras_are_dropped_with_their_size_and_one_warning_naming_the_keys() -> None:
    document = {**copy.deepcopy(SEED_BODY), **extras_of_size(MAX_EXTRA_BYTES + 1)}
    document["totals"]["by_severity"] = {}
    document["padding"] = document["padding"][:-14] + "é" * 7  # bytes, not characters
    result = poll_once(document, T0)
    extras = {"padding": document["padding"], "totals": {"by_severity": {}}}
    assert "api_extra" not in result.event
    assert result.event["api_extra_dropped_bytes"] == len(event_text(extras).encode())
    assert result.event["totals"] == {name: SEED_BODY["totals"][name] for name in MAPS}
    (note,) = result.notes
    assert note.level == logging.WARNING
    assert note.action == "api_extra_dropped"
    assert note.fields["keys"] == "padding, totals.by_severity"
    assert note.fields["api_extra_dropped_bytes"] == result.event["api_extra_dropped_bytes"]
    assert note.fields["limit_bytes"] == 65536


def deep_body(depth: int) -> bytes:
    return b'{"totals":{"by_type":{},"by_category":{},"by_source":{}},' + (
        b'"last_updated":"2024-01-15T10:00:00Z","deep":' + b"[" * depth + b"]" * depth + b"}"
    )


def poll_body(body: bytes) -> PollResult:
    client = FakeClient()
    client.answers.append(ApiResponse(body, None, RateLimit(), 1, 0.0))
    return poll(client, account_name="a", input_name="i", previous=None, now=lambda: T0)


def test_extras_100_levels_deep_are_written() -> None:
    result = poll_body(deep_body(MAX_EXTRA_DEPTH - 1))  # api_extra itself is a level
    assert result.event["api_extra"] == {"deep": json.loads(deep_body(MAX_EXTRA_DEPTH - 1))["deep"]}
    assert result.notes == ()


def test_extras_nested_as_deep_as_json_reads_are_dropped_with_their_size_and_why() -> None:
    def readable(depth: int) -> bool:
        try:
            parse_snapshot(deep_body(depth))
        except ResponseError:
            return False
        return True

    low, high = 1, 100_000  # the deepest body json.loads reads here, whatever the Python
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if readable(middle) else (low, middle - 1)
    for depth in (MAX_EXTRA_DEPTH, low - 20):  # 20: frames for the poll's own calls
        result = poll_body(deep_body(depth))
        assert "api_extra" not in result.event
        assert result.event["api_extra_dropped_bytes"] == len('{"deep":}') + 2 * depth
        assert json.loads(result.event_json()) == result.event
        (note,) = result.notes
        assert note.level == logging.WARNING
        assert note.fields["reason"] == "api_extra nests deeper than 100 levels"
        assert note.fields["keys"] == "deep"


def test_the_warning_of_oversized_extras_says_they_are_too_large() -> None:
    result = poll_once({**SEED_BODY, **extras_of_size(MAX_EXTRA_BYTES + 1)}, T0)
    (note,) = result.notes
    assert note.fields["reason"] == "api_extra is larger than 65536 bytes"


def test_a_body_without_totals_names_the_top_level_keys_received() -> None:
    with pytest.raises(ResponseError) as raised:
        parse_snapshot(json.dumps({"data": {}, "meta": 1, "last_updated": UPDATED}).encode())
    assert "totals is missing" in str(raised.value)
    assert "(top-level keys received: data, meta, last_updated)" in str(raised.value)


def test_a_map_missing_names_the_keys_of_totals() -> None:
    with pytest.raises(ResponseError, match=r"keys of totals received: by_type, counts\)"):
        parse_snapshot(
            json.dumps({"totals": {"by_type": {}, "counts": {}}, "last_updated": UPDATED}).encode()
        )


def test_the_names_are_bounded_in_count_and_length() -> None:
    document = {f"key{number:02d}": number for number in range(25)}
    document["k" * 300 + "\n"] = 0
    with pytest.raises(ResponseError) as raised:
        parse_snapshot(json.dumps(document).encode())
    message = str(raised.value)
    assert "key00, key01" in message
    assert "key19 and 6 more" in message
    assert "key20" not in message
    assert len(message) < 800
    with pytest.raises(ResponseError) as raised:
        parse_snapshot(json.dumps({"k" * 300 + "\n": 0}).encode())
    assert "k" * 40 + "..." in str(raised.value)
    assert "k" * 41 not in str(raised.value)
    with pytest.raises(ResponseError, match=r"keys received: none\)"):
        parse_snapshot(b"{}")


# -- cache headers --------------------------------------------------------------------

GOOD = {"X-Cache-Updated-At": UPDATED, "X-Cache-Age-Seconds": "312", "X-Cache-Stale": "false"}


def test_each_cache_header_present_becomes_its_field() -> None:
    event = poll_once(SEED_BODY, T0, headers=GOOD).event
    assert event["cache_updated_at"] == UPDATED
    assert event["cache_age_seconds"] == 312
    assert event["cache_stale"] is False
    assert "cache_refreshed" not in event  # no previous snapshot
    assert poll_once(SEED_BODY, T0, headers={"X-Cache-Stale": "TRUE"}).event["cache_stale"] is True


@pytest.mark.parametrize("absent", sorted(GOOD))
def test_an_absent_header_leaves_only_its_field_out(absent: str) -> None:
    headers = {name: value for name, value in GOOD.items() if name != absent}
    result = poll_once(SEED_BODY, T0, headers=headers)
    fields = {"X-Cache-Updated-At": "cache_updated_at", "X-Cache-Age-Seconds": "cache_age_seconds",
              "X-Cache-Stale": "cache_stale"}  # fmt: skip
    assert {field for field in fields.values() if field in result.event} == (
        set(fields.values()) - {fields[absent]}
    )
    assert result.notes == ()


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Cache-Updated-At", "yesterday"), ("X-Cache-Updated-At", UPDATED + " " * 60 + "x"),
     ("X-Cache-Updated-At", "Mon, 32 Jan 2024 10:10:00 GMT"),
     ("X-Cache-Age-Seconds", "-5"), ("X-Cache-Age-Seconds", "3.5"), ("X-Cache-Age-Seconds", "٣"),
     ("X-Cache-Age-Seconds", "9" * 30), ("X-Cache-Age-Seconds", "9" * 5000),
     ("X-Cache-Stale", "yes"), ("X-Cache-Stale", "")],
)  # fmt: skip
def test_a_malformed_header_is_ignored_with_a_debug_note(header: str, value: str) -> None:
    result = poll_once(SEED_BODY, T0, headers={**GOOD, header: value})
    field = {"X-Cache-Updated-At": "cache_updated_at", "X-Cache-Age-Seconds": "cache_age_seconds",
             "X-Cache-Stale": "cache_stale"}[header]  # fmt: skip
    assert field not in result.event
    (note,) = result.notes
    assert (note.level, note.action, note.fields["header"]) == (
        logging.DEBUG, "cache_header_ignored", header,
    )  # fmt: skip
    assert note.fields["value"] == value.strip()[:64]
    assert "cache_updated_at" not in result.checkpoint or header != "X-Cache-Updated-At"


def test_thousands_of_digits_in_a_number_header_are_ignored_not_a_crash() -> None:
    """int() refuses strings of more than 4300 digits (Python 3.9.14+, 3.13)."""
    huge = "9" * 5000
    assert RateLimit.from_headers({"X-RateLimit-Remaining": huge}).remaining is None
    assert CacheHeaders.from_headers({"X-Cache-Age-Seconds": huge}).age_seconds is None
    assert server_requested_wait(429, {"X-RateLimit-Reset": huge}, 0.0) is None


def test_cache_refreshed_says_whether_the_cache_time_changed() -> None:
    first = poll_once(SEED_BODY, T0, headers=GOOD)
    assert first.checkpoint["cache_updated_at"] == UPDATED
    same = poll_once(SEED_BODY, T0 + timedelta(minutes=5), first.checkpoint, headers=GOOD)
    assert same.event["cache_refreshed"] is False
    same_instant = {**GOOD, "X-Cache-Updated-At": "2024-01-15T11:10:00+01:00"}
    other_form = poll_once(SEED_BODY, T0 + timedelta(minutes=5), first.checkpoint, same_instant)
    assert other_form.event["cache_refreshed"] is False
    newer = {**GOOD, "X-Cache-Updated-At": LATER}
    later = poll_once(SEED_BODY, T0 + timedelta(minutes=10), same.checkpoint, headers=newer)
    assert later.event["cache_refreshed"] is True
    assert later.checkpoint["cache_updated_at"] == LATER


@pytest.mark.parametrize(
    ("same", "newer"),
    [("Mon, 15 Jan 2024 10:10:00 GMT", "Mon, 15 Jan 2024 10:20:00 GMT"),
     ("Monday, 15-Jan-24 10:10:00 GMT", "Monday, 15-Jan-24 10:20:00 GMT"),
     ("Mon Jan 15 10:10:00 2024", "Mon Jan 15 10:20:00 2024")],
    ids=["imf-fixdate", "rfc-850", "asctime"],
)  # fmt: skip
def test_an_http_date_cache_time_is_kept_as_sent_and_compared_as_an_instant(same, newer) -> None:
    first = poll_once(SEED_BODY, T0, headers=GOOD)  # ISO 8601 2024-01-15T10:10:00Z
    again = poll_once(SEED_BODY, T0, first.checkpoint, {**GOOD, "X-Cache-Updated-At": same})
    assert again.event["cache_updated_at"] == again.checkpoint["cache_updated_at"] == same
    assert again.event["cache_refreshed"] is False
    assert again.notes == ()
    later = poll_once(SEED_BODY, T0, again.checkpoint, {**GOOD, "X-Cache-Updated-At": newer})
    assert later.event["cache_refreshed"] is True


def test_cache_refreshed_needs_the_header_on_both_snapshots() -> None:
    without = poll_once(SEED_BODY, T0)
    assert "cache_updated_at" not in without.checkpoint
    assert "cache_refreshed" not in poll_once(SEED_BODY, T0, without.checkpoint, GOOD).event
    with_header = poll_once(SEED_BODY, T0, headers=GOOD)
    assert "cache_refreshed" not in poll_once(SEED_BODY, T0, with_header.checkpoint).event


# -- source_unchanged_seconds ---------------------------------------------------------


def grown(document: Dict[str, Any], source: str, by: int) -> Dict[str, Any]:
    document = copy.deepcopy(document)
    document["totals"]["by_source"][source] += by
    return document


def test_a_source_unchanged_over_three_polls_while_another_grows() -> None:
    first = poll_once(SEED_BODY, T0)
    assert "source_unchanged_seconds" not in first.event  # the input's first snapshot
    second_doc = grown(SEED_BODY, "Abuse.ch", 10)
    second = poll_once(second_doc, T0 + timedelta(seconds=900.6), first.checkpoint)
    assert second.event["source_unchanged_seconds"] == {
        "CISA Alerts": 900, "Emerging Threats": 900, "Abuse.ch": 0,
    }  # fmt: skip
    third_doc = grown(second_doc, "Abuse.ch", 10)
    third_doc["totals"]["by_source"]["New Feed"] = 1
    third = poll_once(third_doc, T0 + timedelta(seconds=1800.2), second.checkpoint)
    assert third.event["source_unchanged_seconds"] == {
        "CISA Alerts": 1800, "Emerging Threats": 1800, "Abuse.ch": 0, "New Feed": 0,
    }  # fmt: skip
    assert third.checkpoint["source_since"]["CISA Alerts"] == "2024-01-15T10:15:00.250Z"
    assert third.checkpoint["source_since"]["Abuse.ch"] == "2024-01-15T10:45:00.450Z"


def test_a_source_that_changes_back_starts_over_and_a_gone_source_is_forgotten() -> None:
    first = poll_once(SEED_BODY, T0)
    changed = grown(SEED_BODY, "CISA Alerts", 1)
    del changed["totals"]["by_source"]["Abuse.ch"]
    second = poll_once(changed, T0 + timedelta(hours=1), first.checkpoint)
    assert "Abuse.ch" not in second.checkpoint["source_since"]
    back = poll_once(SEED_BODY, T0 + timedelta(hours=2), second.checkpoint)
    assert back.event["source_unchanged_seconds"] == {
        "CISA Alerts": 0, "Emerging Threats": 7200, "Abuse.ch": 0,
    }  # fmt: skip


OLD_STATE = {  # as 0.2.0 wrote it: no source_since, no cache_updated_at
    "schema": 1,
    "collected_at": "2024-01-15T10:00:00.000Z",
    "last_updated": "2024-01-15T09:55:00Z",
    "total_iocs": 124098,
    "totals": SEED_BODY["totals"],
}


def test_a_0_2_0_checkpoint_counts_as_unchanged_since_the_previous_snapshot() -> None:
    result = poll_once(grown(SEED_BODY, "Abuse.ch", 5), T0, OLD_STATE, GOOD)
    assert result.event["source_unchanged_seconds"] == {
        "CISA Alerts": 900, "Emerging Threats": 900, "Abuse.ch": 0,
    }  # fmt: skip
    assert result.event["delta"]["by_source"]["Abuse.ch"] == 5
    assert "cache_refreshed" not in result.event
    assert result.checkpoint["source_since"]["CISA Alerts"] == "2024-01-15T10:00:00.000Z"


@pytest.mark.parametrize("since", [[], {"CISA Alerts": "soon"}, "x"])
def test_a_corrupt_source_since_is_a_corrupt_checkpoint(since: Any) -> None:
    with pytest.raises(CheckpointError):
        previous_from_state({**OLD_STATE, "source_since": since})


def test_a_since_after_the_poll_time_counts_as_zero() -> None:
    state = checkpoint_state(parse_snapshot(json.dumps(SEED_BODY).encode()), T0)
    result = poll_once(SEED_BODY, T0 - timedelta(minutes=1), state)  # the clock went back
    assert set(result.event["source_unchanged_seconds"].values()) == {0}


def test_an_unreadable_cache_time_in_a_checkpoint_only_loses_cache_refreshed() -> None:
    state = {**OLD_STATE, "cache_updated_at": "garbage"}
    assert "cache_refreshed" not in poll_once(SEED_BODY, T0, state, GOOD).event
