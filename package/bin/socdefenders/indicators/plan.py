"""The query streams of a sync: which filters travel to the API, which apply locally.

``type`` takes one value, so each chosen type is a stream of its own (``mitre-attack`` in
both spellings the vendor's pages use: two streams). ``confidence`` takes one value too:
``high`` travels, ``medium`` is applied here (medium and high would need two streams per
type), ``low`` sends nothing. Whatever still arrives outside the filters is dropped
locally (:meth:`Filters.keeps`) and counted as ``filtered_records``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, Tuple

from .records import confidence_rank
from .settings import DEFAULT_MIN_CONFIDENCE

REQUESTED_LIMIT = 10000  # the Pro maximum; the answer's meta.limit says what applies

# The spellings of a canonical type the API may expect (the newer pages: mitre_attack).
TYPE_SPELLINGS: Dict[str, Tuple[str, ...]] = {"mitre-attack": ("mitre-attack", "mitre_attack")}

Stream = Tuple[Tuple[str, str], ...]  # the query parameters that travel, in order


@dataclass(frozen=True)
class Filters:
    """What a sync asks for: canonical IOC types (empty: all) and a minimum confidence."""

    ioc_types: Tuple[str, ...] = ()
    min_confidence: str = DEFAULT_MIN_CONFIDENCE

    def streams(self) -> Tuple[Stream, ...]:
        """One stream without ``type``, or one per type spelling; ``confidence=high``
        travels with each."""
        travelling: Stream = (("confidence", "high"),) if self.min_confidence == "high" else ()
        if not self.ioc_types:
            return (travelling,)
        return tuple(
            (("type", spelling), *travelling)
            for name in self.ioc_types
            for spelling in TYPE_SPELLINGS.get(name, (name,))
        )

    def keeps(self, ioc_type: str, confidence: str) -> bool:
        """Whether a record of this canonical type and confidence is within the filters."""
        if self.ioc_types and ioc_type not in self.ioc_types:
            return False
        if self.min_confidence == DEFAULT_MIN_CONFIDENCE:
            return True  # nothing filtered, unknown confidence words included
        return confidence_rank(confidence) >= confidence_rank(self.min_confidence)

    def widens(self, before: Filters) -> bool:
        """Whether these filters let through something ``before`` did not (a type added,
        or a lower minimum confidence): a delta sync would then miss older indicators."""
        if not self.ioc_types and before.ioc_types:
            return True
        if self.ioc_types and before.ioc_types and not set(self.ioc_types) <= set(before.ioc_types):
            return True
        return confidence_rank(self.min_confidence) < confidence_rank(before.min_confidence)

    def as_dict(self) -> Dict[str, Any]:
        return {"ioc_types": list(self.ioc_types), "min_confidence": self.min_confidence}

    @property
    def fingerprint(self) -> str:
        """A short digest of the filters; a sync in progress with another one restarts."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stream_name(stream: Stream) -> str:
    """``type=ipv4&confidence=high`` (``all`` for a stream without filters), for logs."""
    return "&".join(f"{name}={value}" for name, value in stream) or "all"
