"""One poll of one input, from API answer to the event and the next checkpoint state.

Nothing is written here: the caller writes the event first, then saves the checkpoint,
so a failure at any step before leaves both untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Optional

from .checkpoint import PreviousSnapshot, checkpoint_state
from .client import ApiResponse, StatsClient
from .errors import ResponseError
from .event import build_event
from .snapshot import Snapshot, parse_snapshot
from .timestamps import utc_now

_NOT_IN_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class PollResult:
    event: Dict[str, Any]
    collected_at: datetime
    checkpoint: Dict[str, Any]
    snapshot: Snapshot
    response: ApiResponse

    def event_json(self) -> str:
        """The event text: compact JSON, names kept in their own script (not ``\\u`` escapes).

        Characters XML 1.0 cannot carry (lone surrogates, U+FFFE, U+FFFF; JSON already
        escapes the control characters) are written as JSON ``\\u`` escapes, so the event
        stays well-formed in the XML stream splunklib writes to splunkd.
        """
        text = json.dumps(self.event, ensure_ascii=False, separators=(",", ":"))
        return _NOT_IN_XML.sub(lambda match: f"\\u{ord(match.group()):04x}", text)

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


def poll(
    client: StatsClient,
    *,
    account_name: str,
    input_name: str,
    previous: Optional[PreviousSnapshot],
    now: Callable[[], datetime] = utc_now,
) -> PollResult:
    """Fetch and validate one snapshot; raises ``CollectionError`` when there is none."""
    response = client.fetch()
    collected_at = now()
    snapshot = snapshot_of(response)
    return PollResult(
        event=build_event(
            snapshot,
            collected_at=collected_at,
            account=account_name,
            input_name=input_name,
            api_host=client.api_host,
            previous=previous,
            request_id=response.request_id,
        ),
        collected_at=collected_at,
        checkpoint=checkpoint_state(snapshot, collected_at),
        snapshot=snapshot,
        response=response,
    )
