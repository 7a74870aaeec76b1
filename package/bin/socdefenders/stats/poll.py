"""One poll of one input, from API answer to the event and the next checkpoint state.

Nothing is written here: the caller writes the event first, then saves the checkpoint,
so a failure at any step before leaves both untouched. What the caller must log besides
its success line (extras left out, cache headers ignored) comes back as ``notes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..client import ApiClient, ApiResponse
from ..errors import ResponseError
from ..log_fields import LogNote
from ..timestamps import utc_now
from .cache import CacheHeaders
from .checkpoint import PreviousSnapshot, checkpoint_state, sources_since
from .event import MAX_EXTRA_BYTES, build_event, dropped_reason, event_text
from .extras import MAX_EXTRA_DEPTH, without_secrets
from .snapshot import Snapshot, key_names, parse_snapshot


@dataclass(frozen=True)
class PollResult:
    event: Dict[str, Any]
    collected_at: datetime
    checkpoint: Dict[str, Any]
    snapshot: Snapshot
    response: ApiResponse
    notes: Tuple[LogNote, ...] = ()

    def event_json(self) -> str:
        """The event text (see :func:`~socdefenders.stats.event.event_text`)."""
        return event_text(self.event)

    def log_fields(self) -> Dict[str, object]:
        """The fields of the INFO line logged for this poll."""
        totals = self.snapshot.totals
        rate = self.response.rate_limit
        return {
            "total_iocs": totals.total_iocs,
            "types": len(totals.by_type),
            "categories": len(totals.by_category),
            "sources": len(totals.by_source),
            "consistent": str(totals.consistent).lower(),
            "feed_age_seconds": self.event["feed_age_seconds"],
            "cache_age_seconds": self.event.get("cache_age_seconds", "-"),
            "cache_refreshed": str(self.event.get("cache_refreshed", "-")).lower(),
            "attempts": self.response.attempts,
            "duration_ms": round(self.response.elapsed_seconds * 1000),
            "ratelimit_remaining": rate.remaining if rate.remaining is not None else "-",
            "ratelimit_reset": rate.reset_epoch if rate.reset_epoch is not None else "-",
            "request_id": self.response.request_id or "-",
        }


def snapshot_of(response: ApiResponse) -> Snapshot:
    """Validate a 200 answer; an invalid one is reported with that answer's request_id."""
    try:
        return parse_snapshot(response.body)
    except ResponseError as error:
        error.status, error.request_id, error.attempts = 200, response.request_id, response.attempts
        raise


def notes_for(event: Dict[str, Any], snapshot: Snapshot, cache: CacheHeaders) -> List[LogNote]:
    """A DEBUG line per malformed cache header, a WARNING when the extras were left out."""
    notes = [
        LogNote(
            logging.DEBUG,
            "cache_header_ignored",
            {"header": ignored.name, "value": ignored.value, "reason": ignored.reason},
        )
        for ignored in cache.ignored
    ]
    if "api_extra_dropped_bytes" in event:
        notes.append(
            LogNote(
                logging.WARNING,
                "api_extra_dropped",
                {
                    "api_extra_dropped_bytes": event["api_extra_dropped_bytes"],
                    "reason": dropped_reason(snapshot),
                    "limit_bytes": MAX_EXTRA_BYTES,
                    "limit_depth": MAX_EXTRA_DEPTH,
                    "keys": key_names(snapshot.extra_names()),
                    "effect": "the event carries the validated totals without api_extra",
                    "request_id": event.get("request_id") or "-",
                },
            )
        )
    return notes


def poll(
    client: ApiClient,
    *,
    account_name: str,
    input_name: str,
    previous: Optional[PreviousSnapshot],
    now: Callable[[], datetime] = utc_now,
) -> PollResult:
    """Fetch and validate one snapshot; raises ``CollectionError`` when there is none."""
    response = client.fetch()
    cache = CacheHeaders.from_headers(response.headers)
    collected_at = now()
    snapshot = snapshot_of(response)
    if snapshot.extras:
        snapshot = replace(
            snapshot, extras=without_secrets(snapshot.extras, [client.account.api_key])
        )
    since = sources_since(snapshot.totals.by_source, collected_at, previous)
    event = build_event(
        snapshot,
        collected_at=collected_at,
        account=account_name,
        input_name=input_name,
        api_host=client.api_host,
        previous=previous,
        request_id=response.request_id,
        cache=cache,
        source_since=since,
    )
    return PollResult(
        event=event,
        collected_at=collected_at,
        checkpoint=checkpoint_state(
            snapshot, collected_at, source_since=since, cache_updated_at=cache.updated_at
        ),
        snapshot=snapshot,
        response=response,
        notes=tuple(notes_for(event, snapshot, cache)),
    )
