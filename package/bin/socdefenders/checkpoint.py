"""What the input remembers between polls: the last successful snapshot of each input.

The state is plain JSON (the KV store holds it as a string). Anything that does not read
back as a valid state raises :class:`~socdefenders.errors.CheckpointError`; the caller
logs it once and starts over as if this were the first snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Optional

from .errors import CheckpointError, ResponseError
from .snapshot import MAPS, Snapshot, Totals, parse_counts, parse_timestamp
from .timestamps import utc_iso

STATE_SCHEMA = 1


@dataclass(frozen=True)
class PreviousSnapshot:
    collected_at: datetime
    last_updated: str
    totals: Totals


def checkpoint_state(snapshot: Snapshot, collected_at: datetime) -> Dict[str, Any]:
    return {
        "schema": STATE_SCHEMA,
        "collected_at": utc_iso(collected_at),
        "last_updated": snapshot.last_updated,
        "total_iocs": snapshot.totals.total_iocs,
        "totals": snapshot.totals.as_dict(),
    }


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
    except (ResponseError, ValueError):
        raise CheckpointError("the checkpoint's totals or time are not valid") from None
    return PreviousSnapshot(collected_at, str(state.get("last_updated", "")), checked)
