"""The stats document, validated: what one 200 answer of /api/v1/iocs/stats says.

Key sets are open (new IOC types, categories and feed names pass through untouched);
values must be non-negative integers. Anything else raises
:class:`~socdefenders.errors.ResponseError` and no event is written; when the shape
cannot be read, the error names the keys that were received (names only, bounded).

Whatever else the answer holds (members other than ``totals`` and ``last_updated``, and
members of ``totals`` other than the three maps) is kept verbatim as the snapshot's
``extras``: it is never validated, so it never makes an answer invalid. A key written
twice is refused only where it is a key that is read (``totals`` or ``last_updated`` in
the body, a map in ``totals``, any key inside a map); a duplicated extra keeps its last
value. The body as a whole must still be JSON: NaN or Infinity anywhere is not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ..errors import ResponseError  # not a ValueError: passes through json.loads hooks
from ..log_fields import key_names

MAPS = ("by_type", "by_category", "by_source")
MAX_COUNT = 2**63 - 1  # Splunk stores numbers as 64-bit integers: each count and each sum
KNOWN_KEYS = ("totals", "last_updated")

_ISO_8601 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?\Z",
    re.IGNORECASE | re.ASCII,  # ASCII digits only; \Z: no trailing newline
)
_FIX = (
    "the API answered in an unexpected format; if this persists, give the request_id to "
    "SOC Defenders support"
)


@dataclass(frozen=True)
class Totals:
    """IOC counts per type, category and source feed, as the API sent them."""

    by_type: Dict[str, int]
    by_category: Dict[str, int]
    by_source: Dict[str, int]

    def as_dict(self) -> Dict[str, Dict[str, int]]:
        return {name: dict(getattr(self, name)) for name in MAPS}

    @property
    def total_iocs(self) -> int:
        return sum(self.by_type.values())

    @property
    def consistent(self) -> bool:
        """Every IOC has one type and one category, so both sums must agree."""
        return sum(self.by_type.values()) == sum(self.by_category.values())


@dataclass(frozen=True)
class Snapshot:
    totals: Totals
    last_updated: str  # exactly as received
    last_updated_at: datetime  # parsed, timezone-aware (UTC when no offset is given)
    extras: Dict[str, Any] = field(default_factory=dict)  # see the module docstring
    body_bytes: int = field(default=0, compare=False)  # the size of the answer it came from

    def extra_names(self) -> List[str]:
        """The extras' names, ``totals.<name>`` for those inside ``totals``."""
        names = [name for name in self.extras if name != "totals"]
        names += [f"totals.{name}" for name in self.extras.get("totals", {})]
        return names


def invalid(message: str) -> ResponseError:
    return ResponseError(f"invalid stats document: {message}", fix=_FIX, error_code="invalid_body")


def unreadable(
    what: str, received: Mapping[str, Any], label: str = "top-level keys received"
) -> ResponseError:
    """A shape that cannot be read: the error names the keys that were received instead."""
    return invalid(f"{what} ({label}: {key_names(received)})")


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is taken as UTC (the API sends UTC)."""
    match = _ISO_8601.match(text)
    if not match:
        raise ValueError("not an ISO 8601 date-time")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, offset = match.group(7) or "", match.group(8)
    microsecond = int((fraction + "000000")[:6])
    zone = timezone.utc
    if offset and offset.upper() != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        if int(digits[2:]) >= 60:
            raise ValueError("offset minutes out of range")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)


class _Ambiguous(dict):
    """An object with keys written twice (the last value kept, as JSON parsers do).

    A duplicate is refused where it is a key that is read (which count would be meant?);
    one that is an extra is carried with its last value, as extras are never validated.
    """

    duplicates: Tuple[str, ...] = ()


def _mark_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    document: Dict[str, Any] = {}
    duplicates: List[str] = []
    for key, value in pairs:
        if key in document and key not in duplicates:
            duplicates.append(key)
        document[key] = value
    if not duplicates:
        return document
    ambiguous = _Ambiguous(document)
    ambiguous.duplicates = tuple(duplicates)
    return ambiguous


def unambiguous(value: Any, known: Optional[Iterable[str]] = None) -> Any:
    """``value``, unless it is an object in which a key was written twice.

    With ``known``, only those keys may not be written twice (the others are extras)."""
    if isinstance(value, _Ambiguous):
        refused = [key for key in value.duplicates if known is None or key in known]
        if refused:
            raise invalid(f"the key {json.dumps(refused[0])[:80]} appears twice in one object")
    return value


def _reject_constant(name: str) -> Any:
    raise invalid(f"{name} is not a JSON number")


def decode_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("the body is not UTF-8 text") from None
    try:
        return json.loads(text, object_pairs_hook=_mark_duplicates, parse_constant=_reject_constant)
    except ValueError:
        snippet = " ".join(text[:40].split())
        raise invalid(f"the body is not JSON (it starts with {snippet!r})") from None
    except RecursionError:
        raise invalid("the body nests too deeply") from None


def parse_counts(totals: Mapping[str, Any], name: str) -> Dict[str, int]:
    counts = totals.get(name)
    if not isinstance(counts, dict):
        state = "missing" if counts is None else f"a {type(counts).__name__}, not an object"
        raise unreadable(f"totals.{name} is {state}", totals, "keys of totals received")
    for key, value in unambiguous(counts).items():
        if type(value) is not int or not 0 <= value <= MAX_COUNT:
            raise invalid(
                f"totals.{name}[{json.dumps(key, ensure_ascii=False)[:80]}] is "
                f"{json.dumps(value)[:40]}, not a non-negative integer"
            )
    if sum(counts.values()) > MAX_COUNT:  # so total_iocs and each delta stay 64-bit
        raise invalid(f"the counts of totals.{name} add up to more than {MAX_COUNT}")
    return dict(counts)


def parse_snapshot(body: bytes) -> Snapshot:
    """Validate a 200 body; anything beyond the documented members is kept as extras."""
    document = unambiguous(decode_json(body), KNOWN_KEYS)
    if not isinstance(document, dict):
        raise invalid(f"the body is a JSON {type(document).__name__}, not an object")
    totals = unambiguous(document.get("totals"), MAPS)
    if not isinstance(totals, dict):
        raise unreadable("totals is missing or not an object", document)
    last_updated = document.get("last_updated")
    if not isinstance(last_updated, str):
        raise unreadable("last_updated is missing or not a string", document)
    try:
        last_updated_at = parse_timestamp(last_updated)
    except ValueError:
        raise invalid(f"last_updated {json.dumps(last_updated)[:60]} is not ISO 8601") from None
    counts = Totals(*(parse_counts(totals, name) for name in MAPS))
    extras = {key: value for key, value in document.items() if key not in KNOWN_KEYS}
    totals_extras = {key: value for key, value in totals.items() if key not in MAPS}
    if totals_extras:
        extras["totals"] = totals_extras
    return Snapshot(counts, last_updated, last_updated_at, extras, len(body))
