"""The event written for one snapshot: the JSON analysts search (README, "Event fields")."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Dict, Optional

from .checkpoint import PreviousSnapshot
from .names import INPUT_TYPE
from .snapshot import MAPS, Snapshot, Totals
from .timestamps import utc_iso

EVENT_SCHEMA = 1


def source_for(input_name: str) -> str:
    return f"{INPUT_TYPE}://{input_name}"


def map_delta(current: Dict[str, int], previous: Dict[str, int]) -> Dict[str, int]:
    """Change per key; a key new or gone counts from or to 0."""
    keys = list(previous) + [key for key in current if key not in previous]
    return {key: current.get(key, 0) - previous.get(key, 0) for key in keys}


def totals_delta(current: Totals, previous: Totals) -> Dict[str, Any]:
    delta: Dict[str, Any] = {"total_iocs": current.total_iocs - previous.total_iocs}
    for name in MAPS:
        delta[name] = map_delta(getattr(current, name), getattr(previous, name))
    return delta


def build_event(
    snapshot: Snapshot,
    *,
    collected_at: datetime,
    account: str,
    input_name: str,
    api_host: str,
    previous: Optional[PreviousSnapshot],
    request_id: Optional[str] = None,
) -> Dict[str, Any]:
    """The event data. ``delta`` and ``seconds_since_previous`` only when there is a previous."""
    age = (collected_at - snapshot.last_updated_at).total_seconds()
    event: Dict[str, Any] = {
        "collected_at": utc_iso(collected_at),
        "last_updated": snapshot.last_updated,
        "feed_age_seconds": math.floor(age),
        "account": account,
        "input": input_name,
        "api_host": api_host,
        "total_iocs": snapshot.totals.total_iocs,
        "consistent": snapshot.totals.consistent,
        "totals": snapshot.totals.as_dict(),
    }
    if previous is not None:
        event["delta"] = totals_delta(snapshot.totals, previous.totals)
        event["seconds_since_previous"] = round(
            (collected_at - previous.collected_at).total_seconds()
        )
    if request_id:
        event["request_id"] = request_id
    event["schema_version"] = EVENT_SCHEMA
    return event
