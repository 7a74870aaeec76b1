"""The event written for one snapshot: the JSON analysts search (README, "Event fields")."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Dict, Mapping, Optional

from ..event_json import event_text
from ..names import INPUT_TYPE
from ..timestamps import utc_iso
from .cache import NO_CACHE_HEADERS, CacheHeaders
from .checkpoint import PreviousSnapshot
from .extras import MAX_EXTRA_DEPTH, too_deep, written_size
from .snapshot import MAPS, Snapshot, Totals

EVENT_SCHEMA = 1
MAX_EXTRA_BYTES = 64 * 1024  # larger extras are left out (api_extra_dropped_bytes says so)


def extras_size(snapshot: Snapshot) -> Optional[int]:
    """UTF-8 bytes of the extras as the event writes them; ``None`` when they are written
    (no more than ``MAX_EXTRA_BYTES`` and no deeper than ``MAX_EXTRA_DEPTH``)."""
    if too_deep(snapshot.extras):
        return written_size(snapshot.extras, event_text)  # json.dumps may not reach as deep
    size = len(event_text(snapshot.extras).encode("utf-8"))
    return size if size > MAX_EXTRA_BYTES else None


def dropped_reason(snapshot: Snapshot) -> str:
    """Why the extras were left out (for the WARNING)."""
    if too_deep(snapshot.extras):
        return f"api_extra nests deeper than {MAX_EXTRA_DEPTH} levels"
    return f"api_extra is larger than {MAX_EXTRA_BYTES} bytes"


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


def cache_fields(cache: CacheHeaders, previous: Optional[PreviousSnapshot]) -> Dict[str, Any]:
    """``cache_*``: each header only when well-formed; ``cache_refreshed`` when both have one."""
    fields: Dict[str, Any] = {}
    if cache.updated_at is not None:
        fields["cache_updated_at"] = cache.updated_at
    if cache.age_seconds is not None:
        fields["cache_age_seconds"] = cache.age_seconds
    if cache.stale is not None:
        fields["cache_stale"] = cache.stale
    if cache.updated_at_time is not None and previous and previous.cache_updated_at is not None:
        fields["cache_refreshed"] = cache.updated_at_time != previous.cache_updated_at
    return fields


def build_event(
    snapshot: Snapshot,
    *,
    collected_at: datetime,
    account: str,
    input_name: str,
    api_host: str,
    previous: Optional[PreviousSnapshot],
    request_id: Optional[str] = None,
    cache: CacheHeaders = NO_CACHE_HEADERS,
    source_since: Optional[Mapping[str, datetime]] = None,
) -> Dict[str, Any]:
    """The event data, ``api_extra`` last. ``delta``, ``seconds_since_previous`` and
    ``source_unchanged_seconds`` only when there is a previous snapshot (the last one from
    ``source_since``)."""
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
        if source_since is not None:
            event["source_unchanged_seconds"] = {
                source: math.floor((collected_at - since).total_seconds())
                for source, since in source_since.items()
            }
    event.update(cache_fields(cache, previous))
    dropped = extras_size(snapshot) if snapshot.extras else None
    if dropped is not None:
        event["api_extra_dropped_bytes"] = dropped
    if request_id:
        event["request_id"] = request_id
    event["schema_version"] = EVENT_SCHEMA
    if snapshot.extras and dropped is None:
        # Last: up to 64 KiB of it must not push the fixed fields past the part of the
        # event Splunk's automatic JSON extraction reads.
        event["api_extra"] = snapshot.extras
    return event
