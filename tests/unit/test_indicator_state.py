"""The indicators checkpoint (sync in progress, last completed) and the request budget."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from socdefenders.errors import CheckpointError
from socdefenders.indicators.budget import (
    FREE_DAILY_BUDGET,
    PRO_DAILY_BUDGET,
    Budget,
    budget_key,
    daily_budget,
    is_free,
)
from socdefenders.indicators.plan import Filters
from socdefenders.indicators.state import (
    LOCK_KEY,
    CompletedSync,
    Counters,
    IndicatorsState,
    SyncInProgress,
    state_from_text,
    state_key,
    state_text,
    utc_moment,
    utc_text,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
FILTERS = Filters(("ipv4", "mitre-attack"), "high")


def in_progress() -> SyncInProgress:
    streams = FILTERS.streams()
    return SyncInProgress(
        started_at="2026-03-01T11:00:00Z",
        since="2026-02-28T10:45:00Z",
        filters=FILTERS,
        streams=streams,
        stream=1,
        offset=9900,
        tail_ids=("a", "b"),
        page_limit=10000,
        api_totals=(120, 30000, None),
        gap_suspected=True,
        runs=2,
        counters=Counters(pages=3, requests=4, records_received=25000, indicators_added=7),
    )


def completed() -> CompletedSync:
    return CompletedSync(
        started_at="2026-02-28T11:00:00Z",
        finished_at="2026-02-28T11:03:00Z",
        since="2026-02-27T10:45:00Z",
        filters=Filters(),
        page_limit=100,
        api_total=42,
        counters=Counters(pages=1, requests=1, records_received=42, indicators_added=40),
    )


def test_keys_of_the_checkpoint_records() -> None:
    assert state_key("iocs") == "socdefenders_iocs://iocs"
    assert budget_key("prod") == "budget://prod"
    assert LOCK_KEY == "lock://socdefenders_iocs"


def test_utc_text_is_fixed_width_whole_seconds() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 5, 999000, tzinfo=timezone.utc)
    assert utc_text(moment) == "2026-03-01T12:00:05Z"
    assert utc_moment("2026-03-01T12:00:05Z") == moment.replace(microsecond=0)
    for bad in ("2026-03-01T12:00:05.1Z", "2026-03-01 12:00:05Z", "2026-03-01T12:00:05+00:00"):
        with pytest.raises(ValueError, match="not a UTC time"):
            utc_moment(bad)


def test_the_state_reads_back_as_written() -> None:
    state = IndicatorsState(in_progress(), completed())
    text = state_text(state)
    assert IndicatorsState.from_dict(state_from_text(text)) == state
    assert IndicatorsState.from_dict(None) == IndicatorsState()
    assert state_from_text(None) is None


def test_the_state_json_shape() -> None:
    shape = json.loads(state_text(IndicatorsState(in_progress(), completed())))
    assert shape["schema"] == 1
    sync = shape["sync"]
    assert sync["streams"] == [
        [["type", "ipv4"], ["confidence", "high"]],
        [["type", "mitre-attack"], ["confidence", "high"]],
        [["type", "mitre_attack"], ["confidence", "high"]],
    ]
    assert sync["filters"] == {
        "ioc_types": ["ipv4", "mitre-attack"],
        "min_confidence": "high",
        "fingerprint": FILTERS.fingerprint,
    }
    assert set(sync) == {
        "started_at",
        "since",
        "filters",
        "streams",
        "stream",
        "offset",
        "tail_ids",
        "page_limit",
        "api_totals",
        "gap_suspected",
        "runs",
        "counters",
        "from_lookback",
    }
    assert set(shape["last_completed"]) == {
        "started_at",
        "finished_at",
        "since",
        "filters",
        "gap_suspected",
        "page_limit",
        "api_total",
        "runs",
        "counters",
        "from_lookback",
    }
    assert sync["counters"]["records_received"] == 25000


def _corrupt(path, value):
    state = json.loads(state_text(IndicatorsState(in_progress(), completed())))
    target = state
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return state


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), 2),
        (("sync",), "resume"),
        (("sync", "stream"), 3),  # past the last of 3 streams
        (("sync", "stream"), -1),
        (("sync", "offset"), "9900"),
        (("sync", "offset"), True),
        (("sync", "since"), "yesterday"),
        (("sync", "started_at"), KeyError),
        (("sync", "tail_ids"), [1, 2]),
        (("sync", "streams"), []),
        (("sync", "streams"), [[["type"]]]),
        (("sync", "page_limit"), 0),
        (("sync", "api_totals"), [1, 2, 3, 4]),
        (("sync", "gap_suspected"), "no"),
        (("sync", "from_lookback"), KeyError),
        (("sync", "counters"), {"pages": -1}),
        (("sync", "filters", "min_confidence"), "urgent"),
        (("sync", "filters", "ioc_types"), ["ipv4", "hostname"]),
        (("sync", "filters", "fingerprint"), "0000"),
        (("last_completed", "finished_at"), None),
        (("last_completed", "api_total"), -5),
        (("last_completed",), []),
    ],
)
def test_a_corrupt_state_raises_checkpoint_error(path, value) -> None:
    with pytest.raises(CheckpointError):
        IndicatorsState.from_dict(_corrupt(path, value))


@pytest.mark.parametrize("text", ["", "{", "not json", "[1,"])
def test_stored_text_that_is_not_json(text) -> None:
    with pytest.raises(CheckpointError):
        state_from_text(text)


@pytest.mark.parametrize("raw", [[], "x", {"schema": 1, "sync": 5}, {}])
def test_other_shapes_raise_checkpoint_error(raw) -> None:
    with pytest.raises(CheckpointError):
        IndicatorsState.from_dict(copy.deepcopy(raw))


def test_missing_counters_read_as_zero() -> None:
    state = _corrupt(("sync", "counters"), {"pages": 2})
    assert IndicatorsState.from_dict(state).sync.counters == Counters(pages=2)


def test_progress_moves_to_the_next_stream() -> None:
    progress = in_progress().next_stream()
    assert (progress.stream, progress.offset, progress.tail_ids) == (2, 0, ())
    assert not progress.done
    assert progress.next_stream().done
    assert in_progress().api_total == 30120


# ------------------------------------------------------------------------ the budget


def test_tiers_and_their_daily_budgets() -> None:
    assert is_free(None)
    assert is_free(100)
    assert not is_free(101)
    assert daily_budget(None) == daily_budget(100) == FREE_DAILY_BUDGET == 800
    assert daily_budget(10000) == PRO_DAILY_BUDGET == 100_000


def test_a_budget_counts_requests_of_one_utc_day() -> None:
    budget = Budget.from_record(None, NOW)
    assert budget == Budget("2026-03-01")
    spent = budget.spend(3, None).spend(2, 100)
    assert (spent.requests, spent.page_limit) == (5, 100)
    record = spent.to_record()
    assert record == {"schema": 1, "day": "2026-03-01", "requests": 5, "page_limit": 100}
    assert Budget.from_record(record, NOW) == spent
    tomorrow = datetime(2026, 3, 2, 0, 0, 1, tzinfo=timezone.utc)
    assert Budget.from_record(record, tomorrow) == Budget("2026-03-02", 0, 100)


def test_a_budget_is_reached_at_the_tier_limit() -> None:
    assert not Budget("2026-03-01", 799).reached()
    assert Budget("2026-03-01", 800).reached()
    assert not Budget("2026-03-01", 800).reached(10000)
    assert not Budget("2026-03-01", 800, page_limit=10000).reached()
    assert Budget("2026-03-01", 100_000, page_limit=10000).reached()


@pytest.mark.parametrize(
    "record",
    [
        [],
        {"schema": 2, "day": "2026-03-01", "requests": 1, "page_limit": None},
        {"schema": 1, "day": 20260301, "requests": 1, "page_limit": None},
        {"schema": 1, "day": "2026-03-01", "requests": -1, "page_limit": None},
        {"schema": 1, "day": "2026-03-01", "requests": 1, "page_limit": 0},
    ],
)
def test_an_unreadable_budget_raises_checkpoint_error(record) -> None:
    with pytest.raises(CheckpointError):
        Budget.from_record(record, NOW)
