"""What the input remembers between polls: the last successful snapshot of each input.

The state is plain JSON (the KV store holds it as a string). Anything that does not read
back as a valid state raises :class:`~socdefenders.errors.CheckpointError`; the caller
logs it once and starts over as if this were the first snapshot.

Besides the totals, the state keeps, per source feed, since when its count has been what
it is (``source_since``), and the cache time of the answer (``cache_updated_at``). A
checkpoint written by 0.2.0 has neither: its sources count as unchanged since its
snapshot, and there is no previous cache time. Both are optional, so 0.2.0 reads a newer
checkpoint too (the same ``schema``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Mapping, Optional

from ..errors import CheckpointError, ResponseError
from ..timestamps import utc_iso
from .cache import cache_time
from .snapshot import MAPS, Snapshot, Totals, parse_counts, parse_timestamp

STATE_SCHEMA = 1


@dataclass(frozen=True)
class PreviousSnapshot:
    collected_at: datetime
    last_updated: str
    totals: Totals
    source_since: Dict[str, datetime] = field(default_factory=dict)  # empty from 0.2.0
    cache_updated_at: Optional[datetime] = None

    def source_unchanged_since(self, source: str) -> datetime:
        """Since when ``source`` had its previous count (0.2.0: the previous snapshot)."""
        return self.source_since.get(source, self.collected_at)


def sources_since(
    by_source: Mapping[str, int], collected_at: datetime, previous: Optional[PreviousSnapshot]
) -> Dict[str, datetime]:
    """Per source: since when it has its current count (now, when changed or new)."""
    before = previous.totals.by_source if previous is not None else {}
    since = {}
    for source, count in by_source.items():
        if previous is not None and before.get(source) == count:
            since[source] = min(previous.source_unchanged_since(source), collected_at)
        else:
            since[source] = collected_at
    return since


def checkpoint_state(
    snapshot: Snapshot,
    collected_at: datetime,
    *,
    source_since: Optional[Mapping[str, datetime]] = None,
    cache_updated_at: Optional[str] = None,
) -> Dict[str, Any]:
    """The state to save; ``source_since`` defaults to "every source changed now"."""
    if source_since is None:
        source_since = sources_since(snapshot.totals.by_source, collected_at, None)
    state: Dict[str, Any] = {
        "schema": STATE_SCHEMA,
        "collected_at": utc_iso(collected_at),
        "last_updated": snapshot.last_updated,
        "total_iocs": snapshot.totals.total_iocs,
        "totals": snapshot.totals.as_dict(),
        "source_since": {source: utc_iso(moment) for source, moment in source_since.items()},
    }
    if cache_updated_at is not None:
        state["cache_updated_at"] = cache_updated_at
    return state


def _times(value: Any) -> Dict[str, datetime]:
    if value is None:
        return {}  # written by 0.2.0
    if not isinstance(value, dict):
        raise ValueError("source_since is not an object")
    return {str(source): parse_timestamp(str(moment)) for source, moment in value.items()}


def _optional_time(value: Any) -> Optional[datetime]:
    try:
        return None if value is None else cache_time(str(value))
    except ValueError:
        return None  # only the cache_refreshed of the next event is lost


def previous_from_state(state: Any) -> Optional[PreviousSnapshot]:
    """``None`` for no checkpoint; the previous snapshot; or ``CheckpointError``."""
    if state is None:
        return None
    if not isinstance(state, dict) or state.get("schema") != STATE_SCHEMA:
        raise CheckpointError("the checkpoint is not a state this version wrote")
    totals = state.get("totals")
    if not isinstance(totals, dict):
        raise CheckpointError("the checkpoint has no totals")
    try:
        # The same rules as an API answer: a checkpoint is a snapshot we accepted earlier.
        checked = Totals(*(parse_counts(totals, name) for name in MAPS))
        collected_at = parse_timestamp(str(state.get("collected_at")))
        source_since = _times(state.get("source_since"))
    except (ResponseError, ValueError):
        raise CheckpointError("the checkpoint's totals or times are not valid") from None
    return PreviousSnapshot(
        collected_at,
        str(state.get("last_updated", "")),
        checked,
        source_since,
        _optional_time(state.get("cache_updated_at")),
    )
