"""Validating the stats document: open key sets pass, anything malformed is refused."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from socdefenders.errors import ErrorCategory, ResponseError
from socdefenders.stats.snapshot import parse_snapshot, parse_timestamp
from tests.support.vendor_api import SEED_BODY


def encoded(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def seed_with(change) -> bytes:
    document = copy.deepcopy(SEED_BODY)
    change(document)
    return encoded(document)


def test_seed_example_is_accepted_as_sent() -> None:
    snapshot = parse_snapshot(encoded(SEED_BODY))
    assert snapshot.totals.as_dict() == SEED_BODY["totals"]
    assert snapshot.totals.total_iocs == 124098
    assert snapshot.totals.consistent is True
    assert snapshot.last_updated == "2024-01-15T10:00:00Z"
    assert snapshot.last_updated_at == datetime(2024, 1, 15, 10, tzinfo=timezone.utc)


def test_new_types_and_feed_names_pass_through_untouched() -> None:
    names = {"Feed v2.1 (beta)": 5, "Überwachung Ümlaut": 6, "脅威フィード": 7, "a.b.c": 0}

    def add(document: dict) -> None:
        document["totals"]["by_source"] = dict(names)
        document["totals"]["by_type"]["ja3"] = 11

    snapshot = parse_snapshot(seed_with(add))
    assert snapshot.totals.by_source == names
    assert snapshot.totals.by_type["ja3"] == 11
    assert snapshot.totals.total_iocs == 124098 + 11
    assert snapshot.totals.consistent is False


def test_unknown_top_level_and_totals_keys_are_kept_as_extras_and_never_validated() -> None:
    def add(document: dict) -> None:
        document["generated_by"] = {"anything": [1, 2]}
        document["totals"]["by_severity"] = {"high": "many"}

    snapshot = parse_snapshot(seed_with(add))
    assert snapshot.totals.total_iocs == 124098
    assert snapshot.extras == {
        "generated_by": {"anything": [1, 2]},
        "totals": {"by_severity": {"high": "many"}},
    }
    assert snapshot.extra_names() == ["generated_by", "totals.by_severity"]


def test_empty_maps_are_a_valid_snapshot() -> None:
    body = encoded(
        {"totals": {"by_type": {}, "by_category": {}, "by_source": {}}, "last_updated": "2024-01-15"
         "T10:00:00Z"}
    )  # fmt: skip
    snapshot = parse_snapshot(body)
    assert snapshot.totals.total_iocs == 0
    assert snapshot.totals.consistent is True


@pytest.mark.parametrize(
    ("value", "shown"),
    [(-1, "-1"), (1.5, "1.5"), ("12", '"12"'), (True, "true"), (None, "null"), (2**63, "9223")],
)
def test_counts_must_be_non_negative_integers(value: Any, shown: str) -> None:
    def spoil(document: dict) -> None:
        document["totals"]["by_source"]["CISA Alerts"] = value

    with pytest.raises(ResponseError) as caught:
        parse_snapshot(seed_with(spoil))
    message = str(caught.value)
    assert 'totals.by_source["CISA Alerts"]' in message
    assert shown in message
    assert caught.value.category is ErrorCategory.SERVER


@pytest.mark.parametrize("name", ["by_type", "by_category", "by_source"])
def test_a_map_may_not_add_up_beyond_64_bits(name: str) -> None:
    largest = 2**63 - 1

    def fill(total: int):
        def spoil(document: dict) -> None:
            document["totals"][name] = {"a": largest, "b": total - largest}

        return spoil

    assert parse_snapshot(seed_with(fill(largest))).totals.as_dict()[name]["b"] == 0
    with pytest.raises(ResponseError) as caught:
        parse_snapshot(seed_with(fill(largest + 1)))
    assert f"the counts of totals.{name} add up to more than {largest}" in str(caught.value)
    assert caught.value.category is ErrorCategory.SERVER


@pytest.mark.parametrize("name", ["by_type", "by_category", "by_source"])
@pytest.mark.parametrize(("replacement", "words"), [(None, "missing"), ([1], "a list")])
def test_each_map_must_be_an_object(name: str, replacement: Any, words: str) -> None:
    def spoil(document: dict) -> None:
        if replacement is None:
            del document["totals"][name]
        else:
            document["totals"][name] = replacement

    with pytest.raises(ResponseError, match=f"totals.{name} is .*{words}"):
        parse_snapshot(seed_with(spoil))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<html><body>Bad gateway</body></html>", "not JSON .*<html>"),
        (b'{"totals": {"by_type": {"ipv4": 1', "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'"text"', "a JSON str"),
        (b'{"last_updated": "2024-01-15T10:00:00Z"}', "totals is missing"),
        (b'{"totals": {"by_type": {"x": NaN}}}', "NaN is not a JSON number"),
        (b'{"totals": {}, "totals": {}}', "appears twice"),
        (b"[" * 100000 + b"]" * 100000, "nests too deeply|not JSON"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, words: str) -> None:
    with pytest.raises(ResponseError, match=words):
        parse_snapshot(body)


@pytest.mark.parametrize("value", [None, 20240115, "", "yesterday", "2024-13-15T10:00:00Z",
                                   "2024-01-15T25:00:00Z", "15/01/2024 10:00",
                                   "2024-01-15T10:00:00Z\n", "2024-01-15T10:00:00+00:99",
                                   "\u0662\u0660\u0662\u0664-01-15T10:00:00Z"])  # fmt: skip
def test_last_updated_must_be_iso_8601(value: Any) -> None:
    def spoil(document: dict) -> None:
        if value is None:
            del document["last_updated"]
        else:
            document["last_updated"] = value

    with pytest.raises(ResponseError, match="last_updated"):
        parse_snapshot(seed_with(spoil))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T10:00:00Z", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
        ("2024-01-15T10:00:00.123456789Z", datetime(2024, 1, 15, 10, 0, 0, 123456, timezone.utc)),
        ("2024-01-15T12:00:00+02:00", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
        ("2024-01-15T05:00:00-0500", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
        ("2024-01-15T10:00:00", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_are_read_with_their_offset(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


def test_future_last_updated_is_accepted() -> None:
    future = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse_snapshot(seed_with(lambda d: d.update(last_updated=future))).last_updated == future
