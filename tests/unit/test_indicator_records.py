"""Indicators from API records (``records.py``) and as documents and events (``documents.py``).

Example tests pin each rule of the design ("The core model"): parsing realistic and
malformed records, the merge rules one by one, the bounds, ``document_key``, the document
round trip and the event. The properties (hypothesis, settings as in
``test_fuzz_snapshot_and_event.py``) check the laws the sync relies on: ``merge`` is
commutative, associative and idempotent, records merge to the same documents whatever
their order and grouping, every event is JSON below ``MAX_EVENT_BYTES``, and no two
(type, value) pairs share a ``document_key``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socdefenders.indicators.documents import (
    ACTIONS,
    BOOKKEEPING_FIELDS,
    DOCUMENT_FIELDS,
    EVENT_FIELDS,
    INDICATOR_TRUNCATE,
    MAX_EPOCH,
    MAX_EVENT_BYTES,
    MAX_NAME_CHARS,
    MIN_EPOCH,
    changed,
    document_key,
    epoch_value,
    from_document,
    indicator_event,
    to_document,
)
from socdefenders.indicators.normalise import MAX_TYPE_CHARS, MAX_VALUE_CHARS, normalise
from socdefenders.indicators.records import (
    CONFIDENCE_RANK,
    ELEMENT_BOUNDS,
    LIST_BOUNDS,
    MAX_CONFIDENCE_CHARS,
    MAX_CONTEXT_CHARS,
    MAX_ELEMENT_CHARS,
    MAX_URL_CHARS,
    Indicator,
    clean_text,
    confidence_rank,
    merge,
    merge_all,
    parse_record,
    time_epoch,
    utc_time,
)

FUZZ = settings(deadline=None, derandomize=True, database=None)
BUDGETS = {
    "any_record": 250,
    "merge_laws": 150,
    "order_and_grouping": 80,
    "large_events": 80,
    "distinct_keys": 150,
}

OBSERVED = "2024-02-01T12:00:00.123Z"  # when the page was read
# A record as the vendor's newer pages document it (contract, "The list endpoint").
RECORD: Dict[str, Any] = {
    "id": "6f1c2d9e-8a7b-4c3d-9e2f-0a1b2c3d4e5f",
    "type": "ipv4",
    "value": "192.168.1.1",
    "confidence": "high",
    "first_seen": "2024-01-14T08:30:00Z",
    "last_seen": "2024-01-15T10:00:00.250Z",
    "source": {
        "article_id": "art_8812",
        "article_title": "Cobalt Strike team servers seen in January",
        "article_url": "https://socdefenders.ai/articles/8812?ref=feed#iocs",
        "feed_name": "CISA Alerts",
        "category": "news",
        "reference_url": None,
        "origin": "article",
    },
    "context": "C2 server of a Cobalt Strike campaign",
    "tags": ["c2", "cobalt-strike"],
    "mitre_techniques": ["T1071", "t1071.001"],
}
INDICATOR = Indicator(
    type="ipv4",
    value="192.168.1.1",
    confidence="high",
    first_seen="2024-01-14T08:30:00Z",
    last_seen="2024-01-15T10:00:00Z",
    feeds=("CISA Alerts",),
    categories=("news",),
    tags=("c2", "cobalt-strike"),
    mitre_techniques=("T1071", "T1071.001"),
    ioc_ids=("6f1c2d9e-8a7b-4c3d-9e2f-0a1b2c3d4e5f",),
    context="C2 server of a Cobalt Strike campaign",
    article_titles=("Cobalt Strike team servers seen in January",),
    article_urls=("https://socdefenders.ai/articles/8812?ref=feed#iocs",),
)
KEY = hashlib.sha256(b"ipv4:192.168.1.1").hexdigest()
DOCUMENT: Dict[str, Any] = {
    "_key": KEY,
    "type": "ipv4",
    "value": "192.168.1.1",
    "confidence": "high",
    "first_seen": "2024-01-14T08:30:00Z",
    "last_seen": "2024-01-15T10:00:00Z",
    "last_seen_epoch": 1705312800,
    "feeds": ["CISA Alerts"],
    "categories": ["news"],
    "tags": ["c2", "cobalt-strike"],
    "mitre_techniques": ["T1071", "T1071.001"],
    "ioc_ids": ["6f1c2d9e-8a7b-4c3d-9e2f-0a1b2c3d4e5f"],
    "context": "C2 server of a Cobalt Strike campaign",
    "article_titles": ["Cobalt Strike team servers seen in January"],
    "article_urls": ["https://socdefenders.ai/articles/8812?ref=feed#iocs"],
    "account": "prod",
    "added_epoch": 1706788800,
    "updated_epoch": 1706792400,
}
BOOKKEEPING = {"account": "prod", "added_epoch": 1706788800, "updated_epoch": 1706792400}
FIXED_WIDTH_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
TEXT_NOT_SAFE = re.compile("[\x00-\x07\x0b\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def record(**changes: Any) -> Dict[str, Any]:
    """The example record with some members replaced (``None``: left out)."""
    changed_record = {**RECORD, **changes}
    return {name: value for name, value in changed_record.items() if value is not None}


# -- parse_record ----------------------------------------------------------------------


def test_the_contract_example_record_is_read_field_by_field() -> None:
    assert parse_record(RECORD, OBSERVED) == INDICATOR


def test_a_record_of_the_older_pages_takes_the_observed_time() -> None:
    older = {
        "type": "Domain",
        "value": "Evil.Example.",
        "confidence": "Medium",
        "source": {"feed_name": "Abuse.ch", "category": "community"},
    }
    assert parse_record(older, OBSERVED) == Indicator(
        type="domain",
        value="evil.example",
        confidence="medium",
        first_seen="2024-02-01T12:00:00Z",
        last_seen="2024-02-01T12:00:00Z",
        feeds=("Abuse.ch",),
        categories=("community",),
    )


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "192.168.1.1",
        42,
        [RECORD],
        {},
        record(type=None),
        record(value=None),
        record(type=4),
        record(type=""),
        record(type="   "),
        record(type=["ipv4"]),
        record(value=3232235777),
        record(value=["192.168.1.1"]),
        record(value="999.1.1.1"),
        record(value="   "),
        record(type="sha256", value="abc"),
        record(type="cve", value="log4shell"),
    ],
    ids=repr,
)
def test_malformed_records_are_invalid(raw: Any) -> None:
    assert parse_record(raw, OBSERVED) is None


NO_SOURCE = {"feeds": (), "categories": (), "article_titles": (), "article_urls": ()}


@pytest.mark.parametrize(
    ("changes", "want"),
    [
        ({"source": None}, NO_SOURCE),
        ({"source": "CISA Alerts"}, NO_SOURCE),
        ({"source": ["CISA"]}, NO_SOURCE),
        ({"source": {"feed_name": 7, "category": None}}, NO_SOURCE),
        ({"tags": None}, {"tags": ()}),
        ({"tags": "c2"}, {"tags": ("c2",)}),
        ({"tags": 7}, {"tags": ()}),
        ({"tags": {"c2": True}}, {"tags": ()}),
        ({"tags": [None, 1, True, 2.5, ["c2"], " C2 ", "c2", "", "  "]}, {"tags": ("C2", "c2")}),
        (
            {"mitre_techniques": ["t1071", " T1071 ", "ta0011"]},
            {"mitre_techniques": ("T1071", "TA0011")},
        ),
        ({"confidence": " HIGH "}, {"confidence": "high"}),
        ({"confidence": None}, {"confidence": ""}),
        ({"confidence": 3}, {"confidence": ""}),
        ({"confidence": "Very-High"}, {"confidence": "very-high"}),
        ({"context": None}, {"context": ""}),
        ({"context": {"text": "x"}}, {"context": ""}),
        ({"context": "  line one\nline two\t "}, {"context": "line one\nline two"}),
        ({"id": None}, {"ioc_ids": ()}),
        ({"id": 12345}, {"ioc_ids": ()}),
        ({"id": " ioc-1 "}, {"ioc_ids": ("ioc-1",)}),
    ],
    ids=repr,
)
def test_odd_members_are_dropped_or_cleaned_without_losing_the_record(
    changes: Dict[str, Any], want: Dict[str, Any]
) -> None:
    raw = {**RECORD, **changes}
    assert parse_record(raw, OBSERVED) == replace(INDICATOR, **want)


def test_text_is_made_safe_for_json_events_and_xml() -> None:
    raw = record(tags=["a\x00b", "c\ud800", "d\uffff", "\x1f"], context="x\x0by\x07")
    indicator = parse_record(raw, OBSERVED)
    assert indicator is not None
    assert indicator.tags == ("a b", "c\ufffd", "d\ufffd")
    assert indicator.context == "x y"


@pytest.mark.parametrize("observed_at", ["", "now", "2024-02-01", None, 1706788800])
def test_an_unreadable_observed_time_is_a_programmer_error(observed_at: Any) -> None:
    with pytest.raises(ValueError, match="observed_at"):
        parse_record(RECORD, observed_at)


# -- times -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00.999999Z", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00.5Z", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00,250Z", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00+00:00", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00.123+00:00", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00-00:00", "2024-01-15T10:00:00Z"),
        ("2024-01-15T10:00:00+01:00", "2024-01-15T09:00:00Z"),
        ("2024-01-15T01:00:00+0530", "2024-01-14T19:30:00Z"),
        ("2024-01-15T22:00:00-05:00", "2024-01-16T03:00:00Z"),
        ("2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z"),
        ("2024-01-15T10:00:00", "2024-01-15T10:00:00Z"),  # no offset: UTC
        ("2024-01-15 10:00:00z", "2024-01-15T10:00:00Z"),
        ("2024-01-15t10:00:00Z", "2024-01-15T10:00:00Z"),
        (" 2024-01-15T10:00:00Z\n", "2024-01-15T10:00:00Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("0999-01-01T00:00:00Z", "0999-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ],
)
def test_readable_times_become_fixed_width_utc(text: str, want: str) -> None:
    assert utc_time(text) == want


@pytest.mark.parametrize(
    "value",
    [
        None,
        1705312800,
        "",
        "yesterday",
        "2024-01-15",
        "2024-01-15T10:00Z",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-01-15T24:00:00Z",
        "2024-01-15T10:00:60Z",
        "2024-01-15T10:00:00+24:00",
        "2024-01-15T10:00:00+01:60",
        "2024-01-15T10:00:00+1",
        "2024-01-15T10:00:00ZZ",
        "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:30:00-01:00",  # after year 9999 in UTC
        "\uff12024-01-15T10:00:00Z",  # a full-width digit
    ],
    ids=repr,
)
def test_unreadable_times_are_absent(value: Any) -> None:
    assert utc_time(value) is None


@pytest.mark.parametrize(
    ("first_seen", "last_seen", "want_first", "want_last"),
    [
        ("2024-01-14T08:30:00Z", None, "2024-01-14T08:30:00Z", "2024-01-14T08:30:00Z"),
        (None, "2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z"),
        ("garbage", "2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z"),
        ("2024-01-14T08:30:00Z", 17, "2024-01-14T08:30:00Z", "2024-01-14T08:30:00Z"),
        (None, None, "2024-02-01T12:00:00Z", "2024-02-01T12:00:00Z"),
        ("bad", "worse", "2024-02-01T12:00:00Z", "2024-02-01T12:00:00Z"),
        # first seen after last seen: it was seen at its first_seen, so last_seen moves up
        (
            "2024-01-16T00:00:00Z",
            "2024-01-15T10:00:00Z",
            "2024-01-16T00:00:00Z",
            "2024-01-16T00:00:00Z",
        ),
    ],
)
def test_missing_times_fall_back_as_the_design_says(
    first_seen: Any, last_seen: Any, want_first: str, want_last: str
) -> None:
    indicator = parse_record(record(first_seen=first_seen, last_seen=last_seen), OBSERVED)
    assert indicator is not None
    assert (indicator.first_seen, indicator.last_seen) == (want_first, want_last)


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2024-01-15T10:00:00Z", 1705312800),
        ("1969-12-31T23:59:59Z", -1),
        ("0001-01-01T00:00:00Z", MIN_EPOCH),
        ("9999-12-31T23:59:59Z", MAX_EPOCH),
    ],
)
def test_time_epoch(text: str, epoch: int) -> None:
    assert time_epoch(text) == epoch


# -- bounds ----------------------------------------------------------------------------


def test_the_bounds_are_the_designs() -> None:
    assert LIST_BOUNDS == {
        "feeds": 20,
        "categories": 10,
        "tags": 20,
        "mitre_techniques": 20,
        "ioc_ids": 10,
        "article_titles": 5,
        "article_urls": 5,
    }
    assert (MAX_ELEMENT_CHARS, MAX_URL_CHARS, MAX_CONTEXT_CHARS) == (256, 1024, 1024)
    assert ELEMENT_BOUNDS["article_urls"] == MAX_URL_CHARS
    assert {ELEMENT_BOUNDS[name] for name in LIST_BOUNDS if name != "article_urls"} == {256}


PLACES = {  # where a record carries each list
    "feeds": ("source", "feed_name"),
    "categories": ("source", "category"),
    "article_titles": ("source", "article_title"),
    "article_urls": ("source", "article_url"),
    "ioc_ids": (None, "id"),
    "tags": (None, "tags"),
    "mitre_techniques": (None, "mitre_techniques"),
}


def record_with_list(name: str, elements: Any) -> Dict[str, Any]:
    parent, member = PLACES[name]
    return record(source={member: elements}) if parent else record(**{member: elements})


@pytest.mark.parametrize("name", sorted(LIST_BOUNDS))
def test_a_list_keeps_its_first_elements_in_sort_order(name: str) -> None:
    sent = [f"item-{number:03d}" for number in range(40, 0, -1)]  # reversed, 40 of them
    indicator = parse_record(record_with_list(name, sent), OBSERVED)
    assert indicator is not None
    kept = getattr(indicator, name)
    if name == "mitre_techniques":
        assert kept == tuple(element.upper() for element in kept)
        kept = tuple(element.lower() for element in kept)
    assert kept == tuple(sorted(sent)[: LIST_BOUNDS[name]])


@pytest.mark.parametrize("name", sorted(LIST_BOUNDS))
def test_a_list_drops_non_strings_and_empty_elements_and_duplicates(name: str) -> None:
    indicator = parse_record(record_with_list(name, [None, 3, "", " ", "b", " b ", "a"]), OBSERVED)
    assert indicator is not None
    assert getattr(indicator, name) == (("A", "B") if name == "mitre_techniques" else ("a", "b"))


def test_list_elements_are_cut_to_their_bound() -> None:
    raw = record(
        tags=["t" * 300, " " + "x" * 255 + " tail"],
        source={"article_url": "https://ex.com/" + "p" * 2000, "article_title": "T" * 257},
        context="c" * 5000,
    )
    indicator = parse_record(raw, OBSERVED)
    assert indicator is not None
    assert indicator.tags == ("t" * 256, "x" * 255)  # cut, then the trailing space stripped
    assert indicator.article_urls == (("https://ex.com/" + "p" * 2000)[:1024],)
    assert indicator.article_titles == ("T" * 256,)
    assert indicator.context == "c" * 1024


def test_bounds_count_utf8_bytes_too_and_never_split_a_character() -> None:
    raw = record(tags=["é" * 200, "😀" * 100, "a" + "😀" * 70], context="€" * 1000)
    indicator = parse_record(raw, OBSERVED)
    assert indicator is not None
    assert indicator.tags == ("a" + "😀" * 63, "é" * 128, "😀" * 64)
    assert indicator.context == "€" * 341  # 1,023 bytes: a 342nd would take 1,026
    for text in (*indicator.tags, indicator.context):
        assert len(text.encode("utf-8")) <= 1024


def test_confidence_is_bounded() -> None:
    assert clean_text("x" * 100, MAX_CONFIDENCE_CHARS, str.lower) == "x" * MAX_CONFIDENCE_CHARS


# -- merge -----------------------------------------------------------------------------

BASE = Indicator(
    type="domain",
    value="evil.example",
    confidence="low",
    first_seen="2024-01-10T00:00:00Z",
    last_seen="2024-01-12T00:00:00Z",
)


def test_merge_keeps_the_earliest_first_seen_and_the_latest_last_seen() -> None:
    early = replace(BASE, first_seen="2024-01-01T00:00:00Z", last_seen="2024-01-05T00:00:00Z")
    late = replace(BASE, first_seen="2024-01-09T00:00:00Z", last_seen="2024-01-20T00:00:00Z")
    merged = merge(early, late)
    assert (merged.first_seen, merged.last_seen) == ("2024-01-01T00:00:00Z", "2024-01-20T00:00:00Z")


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        ("low", "medium", "medium"),
        ("high", "medium", "high"),
        ("low", "high", "high"),
        ("high", "high", "high"),
        ("low", "", "low"),
        ("critical", "low", "low"),  # an unknown word ranks below low
        ("bogus", "", "bogus"),  # two unknown words: the greater text
        ("alpha", "bogus", "bogus"),
    ],
)
def test_merge_keeps_the_highest_confidence(a: str, b: str, want: str) -> None:
    assert merge(replace(BASE, confidence=a), replace(BASE, confidence=b)).confidence == want
    assert merge(replace(BASE, confidence=b), replace(BASE, confidence=a)).confidence == want


@pytest.mark.parametrize(
    ("word", "rank"),
    [
        ("low", 1),
        ("medium", 2),
        ("high", 3),
        (" HIGH ", 3),
        ("Medium", 2),
        ("critical", 0),
        ("", 0),
    ],
)
def test_confidence_rank(word: str, rank: int) -> None:
    assert CONFIDENCE_RANK == {"low": 1, "medium": 2, "high": 3}
    assert confidence_rank(word) == rank


@pytest.mark.parametrize("name", sorted(LIST_BOUNDS))
def test_merge_unites_each_list_sorted_and_cut_to_its_bound(name: str) -> None:
    bound = LIST_BOUNDS[name]
    evens = tuple(f"e{number:02d}" for number in range(0, 2 * bound, 2))
    odds = tuple(f"e{number:02d}" for number in range(1, 2 * bound, 2))
    merged = merge(replace(BASE, **{name: evens}), replace(BASE, **{name: odds}))
    assert getattr(merged, name) == tuple(sorted(evens + odds))[:bound]
    small = merge(replace(BASE, **{name: ("b", "d")}), replace(BASE, **{name: ("a", "d")}))
    assert getattr(small, name) == ("a", "b", "d")


def test_merge_takes_the_context_of_the_latest_record_even_when_empty() -> None:
    old = replace(BASE, last_seen="2024-01-12T00:00:00Z", context="first report")
    new = replace(BASE, last_seen="2024-01-13T00:00:00Z", context="")
    assert merge(old, new).context == ""
    assert merge(new, old).context == ""


def test_merge_breaks_a_context_tie_by_text() -> None:
    a, b = replace(BASE, context="alpha"), replace(BASE, context="beta")
    assert merge(a, b).context == merge(b, a).context == "beta"


def test_merge_refuses_two_different_indicators() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        merge(BASE, replace(BASE, value="other.example"))


def test_merge_all_groups_by_type_and_value() -> None:
    raws = [
        record(value="10.0.0.1", confidence="low"),
        record(value="010.000.000.001", confidence="high", tags=["scan"]),
        record(type="domain", value="Evil.Example."),
        record(type="domain", value="evil.example", tags=["phish"]),
    ]
    parsed = [parse_record(raw, OBSERVED) for raw in raws]
    merged = merge_all(indicator for indicator in parsed if indicator is not None)
    assert sorted(merged) == [("domain", "evil.example"), ("ipv4", "10.0.0.1")]
    assert merged["ipv4", "10.0.0.1"].confidence == "high"
    assert merged["ipv4", "10.0.0.1"].tags == ("c2", "cobalt-strike", "scan")
    assert merged["domain", "evil.example"].tags == ("c2", "cobalt-strike", "phish")


# -- document_key ----------------------------------------------------------------------

TWO_KB_URL = "https://cdn.example.com/a%2Fb/ü?q=/x?y&z=%25#frag/?#%" + "Ω/?#%20" * 285


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ipv4", "192.168.1.1"),
        ("url", TWO_KB_URL),
        ("domain", "bücher.example"),
        ("other", 'quote" back\\slash\nnew line'),
        ("other", "😀"),
        ("other", ""),
    ],
)
def test_document_key_is_the_sha256_of_type_colon_value(kind: str, value: str) -> None:
    want = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()
    assert document_key(kind, value) == want
    assert re.fullmatch("[0-9a-f]{64}", want)


def test_document_key_of_a_lone_surrogate_does_not_raise() -> None:
    assert re.fullmatch("[0-9a-f]{64}", document_key("other", "\ud800"))


def test_a_type_with_a_colon_could_share_a_key_so_it_is_refused() -> None:
    assert document_key("a:b", "c") == document_key("a", "b:c")
    assert normalise("a:b", "c") is None
    assert normalise("a", "b:c") == ("a", "b:c")


# -- documents -------------------------------------------------------------------------


def test_to_document_writes_every_field_in_order() -> None:
    document = to_document(INDICATOR, **BOOKKEEPING)
    assert document == DOCUMENT
    assert list(document) == ["_key", *DOCUMENT_FIELDS]
    assert DOCUMENT_FIELDS[-3:] == BOOKKEEPING_FIELDS
    assert all(type(document[name]) is list for name in LIST_BOUNDS)
    assert all(type(document[name]) is int for name in ("last_seen_epoch", *BOOKKEEPING_FIELDS[1:]))


def test_to_document_takes_epochs_as_the_kv_store_returns_them() -> None:
    document = to_document(INDICATOR, account="prod", added_epoch=1.7e9, updated_epoch="1700000001")
    assert (document["added_epoch"], document["updated_epoch"]) == (1700000000, 1700000001)


@pytest.mark.parametrize(
    "bookkeeping",
    [
        {"account": None},
        {"account": 7},
        {"account": "a" * (MAX_NAME_CHARS + 1)},
        {"added_epoch": None},
        {"added_epoch": "soon"},
        {"added_epoch": True},
        {"updated_epoch": float("nan")},
        {"updated_epoch": MAX_EPOCH + 1},
    ],
    ids=repr,
)
def test_to_document_refuses_bad_bookkeeping(bookkeeping: Dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"account|epoch"):
        to_document(INDICATOR, **{**BOOKKEEPING, **bookkeeping})


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (1700000000, 1700000000),
        (1700000000.0, 1700000000),
        (1700000000.9, 1700000000),
        (" 1700000000 ", 1700000000),
        ("1.7e9", 1700000000),
        (-1, -1),
        (MIN_EPOCH, MIN_EPOCH),
        (MAX_EPOCH, MAX_EPOCH),
        (MAX_EPOCH + 1, None),
        (MIN_EPOCH - 1, None),
        (float("inf"), None),
        ("nan", None),
        ("", None),
        ("9" * 400, None),
        (False, None),
        (None, None),
        ([1], None),
    ],
)
def test_epoch_value(value: Any, want: Optional[int]) -> None:
    assert epoch_value(value) == want


def test_from_document_reads_back_what_to_document_wrote() -> None:
    assert from_document(to_document(INDICATOR, **BOOKKEEPING)) == INDICATOR


def test_from_document_reads_a_document_as_the_kv_store_returns_it() -> None:
    stored = {**DOCUMENT, "_user": "nobody", "last_seen_epoch": 1705312800.0, "extra": 1}
    assert from_document(stored) == INDICATOR


def test_from_document_normalises_and_bounds_a_document_edited_by_hand() -> None:
    edited = {
        "type": "Domain",
        "value": "Evil.Example.",
        "confidence": "HIGH",
        "last_seen": "2024-01-15T10:00:00+01:00",
        "tags": ["b", "a", "b", 7] + [f"t{number:02d}" for number in range(30)],
        "feeds": "single feed",
        "context": None,
    }
    indicator = from_document(edited)
    assert indicator.key == ("domain", "evil.example")
    assert indicator.confidence == "high"
    assert indicator.first_seen == indicator.last_seen == "2024-01-15T09:00:00Z"
    assert indicator.tags == ("a", "b", *(f"t{number:02d}" for number in range(18)))
    assert (indicator.feeds, indicator.context, indicator.ioc_ids) == (("single feed",), "", ())


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {},
        {**DOCUMENT, "value": "999.1.1.1"},
        {**DOCUMENT, "type": None},
        {**DOCUMENT, "first_seen": None, "last_seen": "never"},
    ],
    ids=repr,
)
def test_from_document_refuses_a_document_without_an_indicator(document: Any) -> None:
    with pytest.raises(ValueError, match="not an indicator document"):
        from_document(document)


def test_changed_is_true_for_a_new_indicator() -> None:
    assert changed(None, INDICATOR)


def test_changed_ignores_the_bookkeeping_and_the_kv_stores_number_and_list_types() -> None:
    stored = {**DOCUMENT, "_user": "nobody", "last_seen_epoch": 1705312800.0}
    stored.update(account="other", added_epoch=1, updated_epoch=2.0)
    stored["tags"] = ("c2", "cobalt-strike")
    assert not changed(stored, INDICATOR)


@pytest.mark.parametrize(
    "change",
    [
        {"confidence": "medium"},
        {"first_seen": "2024-01-01T00:00:00Z"},
        {"last_seen": "2024-01-16T00:00:00Z", "last_seen_epoch": 1705363200},
        {"feeds": ["CISA Alerts", "Abuse.ch"]},
        {"tags": ["cobalt-strike", "c2"]},  # out of order: rewritten in order
        {"context": "another context"},
        {"article_urls": []},
        {"last_seen_epoch": 0},
        {"ioc_ids": None},
    ],
    ids=repr,
)
def test_changed_is_true_when_an_indicator_field_differs(change: Dict[str, Any]) -> None:
    assert changed({**DOCUMENT, **change}, INDICATOR)


def test_changed_after_a_merge_that_adds_nothing_is_false() -> None:
    stored = from_document(DOCUMENT)
    again = parse_record(record(tags=["c2"], confidence="low"), OBSERVED)
    assert again is not None
    assert not changed(DOCUMENT, merge(stored, again))
    assert changed(DOCUMENT, merge(stored, replace(again, tags=("new",))))


# -- events ----------------------------------------------------------------------------


def test_the_event_has_the_documents_fields_in_order_then_action_and_input() -> None:
    assert list(EVENT_FIELDS) == [
        "type",
        "value",
        "confidence",
        "first_seen",
        "last_seen",
        "last_seen_epoch",
        "feeds",
        "categories",
        "tags",
        "mitre_techniques",
        "ioc_ids",
        "context",
        "article_titles",
        "article_urls",
        "account",
        "added_epoch",
        "updated_epoch",
        "action",
        "input",
    ]  # the order the brief fixes
    text = indicator_event({**DOCUMENT, "_user": "nobody"}, action="added", input_name="iocs")
    event = json.loads(text)
    assert list(event) == list(EVENT_FIELDS)
    assert event == {
        **{k: v for k, v in DOCUMENT.items() if k != "_key"},
        "action": "added",
        "input": "iocs",
    }


def test_the_event_is_compact_json_in_its_own_script() -> None:
    document = {**DOCUMENT, "context": "Команда — «C2»", "tags": ["日本"]}
    text = indicator_event(document, action="updated", input_name="iocs")
    assert '"context":"Команда — «C2»"' in text
    assert '"tags":["日本"]' in text
    assert ", " not in text.replace("Команда — «C2»", "")
    assert text.endswith('"action":"updated","input":"iocs"}')


def test_the_event_escapes_what_xml_cannot_carry() -> None:
    document = {**DOCUMENT, "type": "other", "value": "a\uffffb\ufffe"}
    text = indicator_event(document, action="added", input_name="iocs")
    assert "\uffff" not in text
    assert "\\uffff" in text
    assert "\\ufffe" in text
    assert json.loads(text)["value"] == "a\uffffb\ufffe"


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_is_written(action: str) -> None:
    assert json.loads(indicator_event(DOCUMENT, action=action, input_name="i"))["action"] == action


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "deleted", "input_name": "iocs"}, "action"),
        ({"action": "added", "input_name": None}, "input_name"),
        ({"action": "added", "input_name": "n" * (MAX_NAME_CHARS + 1)}, "input_name"),
    ],
)
def test_indicator_event_refuses_bad_arguments(kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        indicator_event(DOCUMENT, **kwargs)


def test_indicator_event_refuses_a_document_without_an_indicator() -> None:
    with pytest.raises(ValueError, match="not an indicator document"):
        indicator_event({**DOCUMENT, "value": ""}, action="expired", input_name="iocs")


def test_the_event_of_a_document_edited_by_hand_keeps_its_bound() -> None:
    edited = {**DOCUMENT, "account": "a\x01" * 400, "added_epoch": "soon", "updated_epoch": None}
    event = json.loads(indicator_event(edited, action="expired", input_name="iocs"))
    assert event["account"] == "a " * 127 + "a"
    assert (event["added_epoch"], event["updated_epoch"]) == (None, None)
    assert (
        json.loads(indicator_event({**DOCUMENT, "account": 5}, action="added", input_name="i"))[
            "account"
        ]
        == ""
    )


def worst_case_document() -> Dict[str, Any]:
    """Every field at its bound, in the characters that take the most bytes in an event."""

    def elements(count: int, size: int) -> List[str]:
        backslashes = "\\" * (size - 2)  # 2 bytes each in JSON
        return [f"{number:02d}{backslashes}" for number in range(count)]

    indicator = Indicator(
        type='"' * MAX_TYPE_CHARS,  # the most a printable type takes: 2 bytes a character
        value="\x01" * MAX_VALUE_CHARS,  # kept as data: 6 bytes a character
        confidence='"' * MAX_CONFIDENCE_CHARS,
        first_seen="0001-01-01T00:00:00Z",
        last_seen="0001-01-01T00:00:00Z",  # the longest epoch
        context='"' * MAX_CONTEXT_CHARS,
        **{
            name: tuple(elements(count, ELEMENT_BOUNDS[name]))
            for name, count in LIST_BOUNDS.items()
        },
    )
    assert (
        from_document(to_document(indicator, account="", added_epoch=0, updated_epoch=0))
        == indicator
    )
    return to_document(
        indicator, account="\x02" * MAX_NAME_CHARS, added_epoch=MIN_EPOCH, updated_epoch=MIN_EPOCH
    )


def test_max_event_bytes_bounds_the_worst_event_and_stays_below_truncate() -> None:
    assert INDICATOR_TRUNCATE == 100000
    assert MAX_EVENT_BYTES < INDICATOR_TRUNCATE
    text = indicator_event(
        worst_case_document(), action="expired", input_name="\x03" * MAX_NAME_CHARS
    )
    size = len(text.encode("utf-8"))
    assert size <= MAX_EVENT_BYTES
    assert size > 0.97 * MAX_EVENT_BYTES  # the bound is computed, not a loose guess


# -- properties ------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())  # surrogates and controls included
SMALL_TEXT = st.text(st.sampled_from('ab Zé😀"\\\x00\t\n\ud800\uffff'), max_size=5)
TIMES = (
    st.sampled_from(
        [
            "2024-01-14T08:30:00Z",
            "2024-01-15T10:00:00.250Z",
            "2024-01-15T11:00:00+01:00",
            "2024-01-15T10:00:00",
            "2024-01-16T00:00:00.999999+00:00",
            "2023-12-31T23:59:59-00:30",
            "not a time",
            "",
        ]
    )
    | st.none()
    | st.integers()
)
TEXT_LISTS = st.lists(SMALL_TEXT | st.none() | st.integers(), max_size=25) | SMALL_TEXT | st.none()
CONFIDENCES = (
    st.sampled_from(["low", "medium", "high", " HIGH ", "Medium", "bogus", ""]) | SMALL_TEXT
)
SOURCES = (
    st.fixed_dictionaries(
        {},
        optional={
            "feed_name": TEXT_LISTS,
            "category": TEXT_LISTS,
            "article_title": TEXT_LISTS,
            "article_url": TEXT_LISTS,
            "origin": st.sampled_from(["article", "feed"]),
        },
    )
    | st.none()
    | SMALL_TEXT
)
KEYS = st.sampled_from(
    [
        ("ipv4", "10.0.0.1"),
        ("IPv4", "010.0.0.001"),
        ("domain", "Evil.Example."),
        ("domain", "evil.example"),
        ("mitre_attack", "t1071"),
        ("mitre-attack", "T1071"),
        ("url", "HTTP://Ex.com:80/A%2F"),
        ("url", "http://ex.com/A%2F"),
        ("ipv4", "999.0.0.1"),  # invalid
    ]
)


def records(keys: st.SearchStrategy[Any] = KEYS) -> st.SearchStrategy[Dict[str, Any]]:
    return keys.flatmap(
        lambda key: st.fixed_dictionaries(
            {"type": st.just(key[0]), "value": st.just(key[1])},
            optional={
                "id": SMALL_TEXT | st.integers(),
                "confidence": CONFIDENCES,
                "first_seen": TIMES,
                "last_seen": TIMES,
                "source": SOURCES,
                "context": SMALL_TEXT | st.none(),
                "tags": TEXT_LISTS,
                "mitre_techniques": TEXT_LISTS,
            },
        )
    )


def check_indicator(indicator: Indicator) -> None:
    """The invariants of every indicator parse_record gives."""
    assert normalise(indicator.type, indicator.value) == indicator.key
    assert FIXED_WIDTH_TIME.fullmatch(indicator.first_seen)
    assert FIXED_WIDTH_TIME.fullmatch(indicator.last_seen)
    assert indicator.first_seen <= indicator.last_seen
    for name, count in LIST_BOUNDS.items():
        elements = getattr(indicator, name)
        assert type(elements) is tuple
        assert len(elements) <= count
        assert list(elements) == sorted(set(elements))
        for element in elements:
            assert element == element.strip() != ""
            assert len(element.encode("utf-8")) <= ELEMENT_BOUNDS[name]
            assert not TEXT_NOT_SAFE.search(element)
    assert all(technique == technique.upper() for technique in indicator.mitre_techniques)
    assert len(indicator.context.encode("utf-8")) <= MAX_CONTEXT_CHARS
    assert indicator.confidence == indicator.confidence.lower().strip()
    assert merge(indicator, indicator) == indicator


def check_event(document: Dict[str, Any], action: str = "updated") -> None:
    text = indicator_event(document, action=action, input_name="iocs_main")
    size = len(text.encode("utf-8"))  # strict: no lone surrogate reaches the text
    assert size <= MAX_EVENT_BYTES
    event = json.loads(text)
    assert list(event) == list(EVENT_FIELDS)
    assert event == {
        **{k: v for k, v in document.items() if k != "_key"},
        "action": action,
        "input": "iocs_main",
    }


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(FUZZ, max_examples=BUDGETS["any_record"])
@given(records() | JSON_VALUES | st.dictionaries(st.sampled_from(sorted(RECORD)), JSON_VALUES))
def test_any_record_is_an_indicator_or_invalid_never_an_error(raw: Any) -> None:
    indicator = parse_record(raw, OBSERVED)
    if indicator is None:
        return
    check_indicator(indicator)
    document = to_document(indicator, **BOOKKEEPING)
    assert document["_key"] == document_key(indicator.type, indicator.value)
    assert from_document(document) == indicator
    assert not changed(document, indicator)
    check_event(document)


def same_key_indicators() -> st.SearchStrategy[Indicator]:
    raw = records(st.just(("domain", "evil.example")))
    return raw.map(lambda one: parse_record(one, OBSERVED)).filter(lambda one: one is not None)


@settings(FUZZ, max_examples=BUDGETS["merge_laws"])
@given(same_key_indicators(), same_key_indicators(), same_key_indicators())
def test_merge_is_commutative_associative_and_idempotent(
    a: Indicator, b: Indicator, c: Indicator
) -> None:
    assert merge(a, b) == merge(b, a)
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge(a, a) == a
    assert merge(merge(a, b), b) == merge(a, b)
    check_indicator(merge(merge(a, b), c))


def documents_of(merged: Dict[Any, Indicator]) -> Dict[str, Dict[str, Any]]:
    return {
        document["_key"]: document
        for document in (to_document(one, **BOOKKEEPING) for one in merged.values())
    }


@settings(FUZZ, max_examples=BUDGETS["order_and_grouping"])
@given(st.lists(records(), max_size=12), st.data())
def test_records_merge_to_the_same_documents_in_any_order_and_grouping(
    raws: List[Dict[str, Any]], data: Any
) -> None:
    parsed = [one for one in (parse_record(raw, OBSERVED) for raw in raws) if one is not None]
    expected = documents_of(merge_all(parsed))
    shuffled = data.draw(st.permutations(parsed))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(parsed)), max_size=4)))
    pages = [shuffled[start:end] for start, end in zip([0, *cuts], [*cuts, len(parsed)])]
    page_results = [merge_all(page) for page in pages]  # merged within each page first
    regrouped = merge_all(one for result in reversed(page_results) for one in result.values())
    assert documents_of(regrouped) == expected
    assert len(expected) == len({one.key for one in parsed})


HEAVY = '"\\\x01\n\t😀é€a\ufffe\uffff '  # characters that take many bytes in an event


def repeated(alphabet: str, most: int) -> st.SearchStrategy[str]:
    """A short pattern repeated up to ``most`` times: large texts from few choices (plain
    ``st.text`` rarely grows past a few dozen characters)."""
    pattern = st.text(st.sampled_from(alphabet), min_size=1, max_size=6)
    return st.builds(lambda text, times: text * times, pattern, st.integers(0, most))


def many(
    count: int, alphabet: str = HEAVY + "\ud800", most: int = 400
) -> st.SearchStrategy[List[str]]:
    """Up to ``count + 5`` distinct large texts (a number in front keeps them apart)."""
    return st.builds(
        lambda text, number: [f"{index}{text}" for index in range(number)],
        repeated(alphabet, most),
        st.integers(0, count + 5),
    )


LARGE_RECORDS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["other", "url", "Filename"]),
        "value": repeated(HEAVY, 1400).map(lambda text: ("v" + text)[:MAX_VALUE_CHARS]),
        "confidence": repeated(HEAVY + "\ud800", 40),
        "context": repeated(HEAVY + "\ud800", 1500),
        "tags": many(LIST_BOUNDS["tags"]),
        "mitre_techniques": many(LIST_BOUNDS["mitre_techniques"]),
        "id": many(LIST_BOUNDS["ioc_ids"]),
        "source": st.fixed_dictionaries(
            {
                "feed_name": many(LIST_BOUNDS["feeds"]),
                "category": many(LIST_BOUNDS["categories"]),
                "article_title": many(LIST_BOUNDS["article_titles"]),
                "article_url": many(LIST_BOUNDS["article_urls"], most=1500),
            }
        ),
    }
)


@settings(FUZZ, max_examples=BUDGETS["large_events"])
@given(LARGE_RECORDS, st.sampled_from(ACTIONS))
def test_every_event_is_json_below_max_event_bytes(raw: Dict[str, Any], action: str) -> None:
    indicator = parse_record(raw, OBSERVED)
    if indicator is None:  # a value over MAX_VALUE_CHARS, a lone surrogate in it
        return
    check_indicator(indicator)
    check_event(
        to_document(indicator, account="prod\x00\ud800", added_epoch=MIN_EPOCH, updated_epoch=0),
        action,
    )


PAIRS = st.tuples(
    st.sampled_from(["ipv4", "domain", "url", "other", "sha256", "a", "ab"])
    | st.text(ANY_CHAR, max_size=4),
    st.text(ANY_CHAR, max_size=12) | st.sampled_from(["b:c", ":c", "c", "10.0.0.1", "010.0.0.1"]),
)


@settings(FUZZ, max_examples=BUDGETS["distinct_keys"])
@given(st.lists(PAIRS, max_size=30))
def test_document_keys_differ_for_different_pairs(pairs: List[Any]) -> None:
    normalised = {key for key in (normalise(kind, value) for kind, value in pairs) if key}
    keys = {document_key(kind, value) for kind, value in normalised}
    assert len(keys) == len(normalised)
