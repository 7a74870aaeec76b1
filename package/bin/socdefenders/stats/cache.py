"""The vendor's cache headers: how fresh the figures of one answer are.

The stats answer is pre-computed and refreshed every 10 minutes; each answer says when
(``X-Cache-Updated-At``, ISO 8601 or an RFC 7231 HTTP-date), how old its figures are
(``X-Cache-Age-Seconds``) and whether a scheduled refresh was missed (``X-Cache-Stale``).
Each is kept only when present and well-formed; a malformed one is set aside (the poll
logs it at DEBUG), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Optional, Tuple

from ..timestamps import http_date
from ..whole_numbers import whole_number
from .snapshot import MAX_COUNT, parse_timestamp

UPDATED_AT = "X-Cache-Updated-At"
AGE_SECONDS = "X-Cache-Age-Seconds"
STALE = "X-Cache-Stale"
MAX_HEADER_CHARS = 64  # a timestamp, a number or a word: anything longer is not one


def cache_time(text: str) -> datetime:
    """The instant of an ``X-Cache-Updated-At`` text: ISO 8601, or an HTTP-date."""
    try:
        return parse_timestamp(text)
    except ValueError:
        return http_date(text)


@dataclass(frozen=True)
class IgnoredHeader:
    name: str
    value: str  # at most MAX_HEADER_CHARS characters of what was sent
    reason: str


@dataclass(frozen=True)
class CacheHeaders:
    """The well-formed cache headers of an answer (``None`` when absent or malformed)."""

    updated_at: Optional[str] = None  # the header text, as sent (surrounding spaces removed)
    updated_at_time: Optional[datetime] = None
    age_seconds: Optional[int] = None
    stale: Optional[bool] = None
    ignored: Tuple[IgnoredHeader, ...] = ()

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> CacheHeaders:
        ignored = []

        def text(name: str) -> Optional[str]:
            value = headers.get(name)
            return None if value is None else str(value).strip()

        def ignore(name: str, value: str, reason: str) -> None:
            ignored.append(IgnoredHeader(name, value[:MAX_HEADER_CHARS], reason))

        updated_at, updated_at_time = text(UPDATED_AT), None
        if updated_at is not None:
            try:
                if len(updated_at) > MAX_HEADER_CHARS:
                    raise ValueError("too long")
                updated_at_time = cache_time(updated_at)
            except ValueError:
                ignore(UPDATED_AT, updated_at, "neither an ISO 8601 date-time nor an HTTP-date")
                updated_at = None
        age: Optional[int] = None
        age_text = text(AGE_SECONDS)
        if age_text is not None:
            age = whole_number(age_text)
            if age is None or age > MAX_COUNT:
                age = None
                ignore(AGE_SECONDS, age_text, "not a whole, non-negative number of seconds")
        stale: Optional[bool] = None
        stale_text = text(STALE)
        if stale_text is not None:
            if stale_text.lower() in ("true", "false"):
                stale = stale_text.lower() == "true"
            else:
                ignore(STALE, stale_text, "neither true nor false")
        return cls(updated_at, updated_at_time, age, stale, tuple(ignored))


NO_CACHE_HEADERS = CacheHeaders()
