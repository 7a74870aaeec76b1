"""The snapshot event and the checkpoint that links one poll to the next."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from socdefenders.errors import CheckpointError
from socdefenders.stats.checkpoint import checkpoint_state, previous_from_state
from socdefenders.stats.event import build_event, map_delta, source_for
from socdefenders.stats.snapshot import parse_snapshot
from socdefenders.timestamps import epoch_seconds, utc_iso
from tests.support.vendor_api import SEED_BODY

FIRST_POLL = datetime(2024, 1, 15, 10, 15, 0, 250000, tzinfo=timezone.utc)
SECOND_POLL = datetime(2024, 1, 15, 10, 30, 1, 750000, tzinfo=timezone.utc)


def snapshot_of(document: dict):
    return parse_snapshot(json.dumps(document).encode())


def event_for(document: dict, collected_at: datetime, previous=None) -> dict:
    return build_event(
        snapshot_of(document),
        collected_at=collected_at,
        account="prod",
        input_name="prod_stats",
        api_host="socdefenders.ai",
        previous=previous,
        request_id="req_0123456789abcdef",
    )


def test_first_event_has_every_field_and_no_delta() -> None:
    event = event_for(SEED_BODY, FIRST_POLL)
    assert event == {
        "collected_at": "2024-01-15T10:15:00.250Z",
        "last_updated": "2024-01-15T10:00:00Z",
        "feed_age_seconds": 900,
        "account": "prod",
        "input": "prod_stats",
        "api_host": "socdefenders.ai",
        "total_iocs": 124098,
        "consistent": True,
        "totals": SEED_BODY["totals"],
        "request_id": "req_0123456789abcdef",
        "schema_version": 1,
    }


def test_second_event_carries_deltas_against_the_checkpoint() -> None:
    first = snapshot_of(SEED_BODY)
    state = json.loads(json.dumps(checkpoint_state(first, FIRST_POLL)))  # as the KV store keeps it
    second = copy.deepcopy(SEED_BODY)
    second["totals"]["by_type"]["ipv4"] += 100
    second["totals"]["by_category"]["community"] += 100
    del second["totals"]["by_source"]["Abuse.ch"]
    second["totals"]["by_source"]["New Feed"] = 42
    event = event_for(second, SECOND_POLL, previous_from_state(state))
    assert event["total_iocs"] == 124198
    assert event["delta"]["total_iocs"] == 100
    assert event["delta"]["by_type"]["ipv4"] == 100
    assert event["delta"]["by_type"]["md5"] == 0
    assert event["delta"]["by_category"] == {"government": 0, "commercial": 0, "community": 100}
    assert event["delta"]["by_source"] == {
        "CISA Alerts": 0,
        "Emerging Threats": 0,
        "Abuse.ch": -18600,
        "New Feed": 42,
    }
    assert event["seconds_since_previous"] == 902  # 901.5 s rounds to even


def test_feed_age_is_negative_when_the_api_clock_is_ahead() -> None:
    early = datetime(2024, 1, 15, 9, 59, 58, 500000, tzinfo=timezone.utc)
    assert event_for(SEED_BODY, early)["feed_age_seconds"] == -2


def test_map_delta_counts_new_and_gone_keys_from_and_to_zero() -> None:
    assert map_delta({"a": 5, "c": 1}, {"a": 2, "b": 3}) == {"a": 3, "b": -3, "c": 1}


def test_times_have_millisecond_precision_in_utc() -> None:
    moment = datetime(2024, 1, 15, 11, 0, 0, 123999, tzinfo=timezone.utc)
    assert utc_iso(moment) == "2024-01-15T11:00:00.123Z"
    assert epoch_seconds(moment.replace(microsecond=123000)) == 1705316400.123
    assert source_for("prod_stats") == "socdefenders_ioc_stats://prod_stats"


def test_no_checkpoint_means_first_snapshot() -> None:
    assert previous_from_state(None) is None


@pytest.mark.parametrize(
    "state",
    [
        "not a dict",
        {"schema": 99, "totals": {}},
        {"schema": 1},
        {"schema": 1, "collected_at": "2024-01-15T10:15:00Z", "totals": {"by_type": {}}},
        {"schema": 1, "collected_at": "garbage", "totals": SEED_BODY["totals"]},
        {"schema": 1, "collected_at": "2024-01-15T10:15:00Z",
         "totals": {"by_type": {"x": -1}, "by_category": {}, "by_source": {}}},
        {"schema": 1, "collected_at": "2024-01-15T10:15:00Z",  # adds up beyond 64 bits
         "totals": {"by_type": {"x": 2**63 - 1, "y": 1}, "by_category": {}, "by_source": {}}},
    ],
)  # fmt: skip
def test_corrupt_checkpoints_are_reported(state: object) -> None:
    with pytest.raises(CheckpointError):
        previous_from_state(state)
