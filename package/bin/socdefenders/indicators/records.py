"""One indicator per (type, normalised value): ``Indicator``, ``parse_record``, ``merge``.

Every text field is cleaned the same way (``clean_text``): lone surrogates, U+FFFE and
U+FFFF become U+FFFD, the control characters JSON can only write as ``\\u00XX`` become a
space, then the text is stripped and cut to its bound. A bound counts characters *and*
UTF-8 bytes (the same for ASCII): the byte bound is what keeps any event below the
sourcetype's ``TRUNCATE`` (``documents.MAX_EVENT_BYTES``). Lists are tuples of distinct
non-empty elements, sorted by code point (UTF-8 byte order, as ``mvsort`` sorts ASCII),
cut to the first N.

``merge`` is commutative, associative and idempotent: every field is a maximum, a minimum
or a sorted, cut union, so the order in which records and pages arrive never matters.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from .normalise import normalise

LIST_BOUNDS: Dict[str, int] = {  # most elements a list keeps
    "feeds": 20,
    "categories": 10,
    "tags": 20,
    "mitre_techniques": 20,
    "ioc_ids": 10,
    "article_titles": 5,
    "article_urls": 5,
}
MAX_ELEMENT_CHARS = 256  # a list element: at most this many characters and UTF-8 bytes
MAX_URL_CHARS = 1024  # an article URL
MAX_CONTEXT_CHARS = 1024
MAX_CONFIDENCE_CHARS = 32
ELEMENT_BOUNDS: Dict[str, int] = {
    name: MAX_URL_CHARS if name == "article_urls" else MAX_ELEMENT_CHARS for name in LIST_BOUNDS
}
CONFIDENCE_RANK: Dict[str, int] = {"low": 1, "medium": 2, "high": 3}  # any other word: 0

_UNSAFE = re.compile("[\ud800-\udfff\ufffe\uffff]")  # not UTF-8, or not XML 1.0 text
_CONTROL = re.compile("[\x00-\x07\x0b\x0e-\x1f]")  # JSON writes them as 6-byte escapes
_ISO_8601 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,][0-9]+)?"
    r"(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))?"
)


@dataclass(frozen=True)
class Indicator:
    """What the add-on knows about one indicator. Times are ``YYYY-MM-DDTHH:MM:SSZ``
    (fixed width: they compare as text); ``first_seen <= last_seen``."""

    type: str
    value: str
    confidence: str
    first_seen: str
    last_seen: str
    feeds: Tuple[str, ...] = ()
    categories: Tuple[str, ...] = ()
    tags: Tuple[str, ...] = ()
    mitre_techniques: Tuple[str, ...] = ()
    ioc_ids: Tuple[str, ...] = ()
    context: str = ""
    article_titles: Tuple[str, ...] = ()
    article_urls: Tuple[str, ...] = ()

    @property
    def key(self) -> Tuple[str, str]:
        return self.type, self.value


# -- text, lists and times -----------------------------------------------------------


def cut(text: str, bound: int) -> str:
    """The longest prefix of ``text`` of at most ``bound`` characters and UTF-8 bytes."""
    head = text[:bound]
    return head.encode("utf-8", "surrogatepass")[:bound].decode("utf-8", "ignore")


def clean_text(value: object, bound: int, case: Optional[Callable[[str], str]] = None) -> str:
    """A string made safe, stripped, re-cased (``str.lower``/``str.upper``) and cut to
    ``bound``; ``""`` for anything that is not a string."""
    if not isinstance(value, str):
        return ""
    text = _CONTROL.sub(" ", _UNSAFE.sub("\ufffd", value)).strip()
    text = case(text) if case else text
    return cut(text, bound).rstrip()


def clean_list(
    value: object, count: int, bound: int, case: Optional[Callable[[str], str]] = None
) -> Tuple[str, ...]:
    """Distinct cleaned strings, sorted, the first ``count``: non-strings and empty ones
    dropped. A lone string counts as a list of one."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        return ()
    cleaned = {clean_text(item, bound, case) for item in items if isinstance(item, str)}
    cleaned.discard("")
    return tuple(sorted(cleaned)[:count])


def utc_time(value: object) -> Optional[str]:
    """An ISO 8601 date-time as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (fraction dropped, offset
    applied, no offset read as UTC), or ``None`` when it cannot be read."""
    match = _ISO_8601.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    sign, offset_hours, offset_minutes = match.groups()[6:]
    try:
        moment = datetime(year, month, day, hour, minute, second)
        if sign:
            if int(offset_hours) >= 24 or int(offset_minutes) >= 60:
                return None
            offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
            moment = moment - offset if sign == "+" else moment + offset
    except (ValueError, OverflowError):
        return None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def time_epoch(text: str) -> int:
    """Seconds since the epoch of a ``YYYY-MM-DDTHH:MM:SSZ`` time (``ValueError`` if not)."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    return calendar.timegm(moment.timetuple())


def confidence_rank(word: str) -> int:
    """``low`` 1, ``medium`` 2, ``high`` 3 (any case, spaces around), anything else 0."""
    return CONFIDENCE_RANK.get(word.strip().lower(), 0) if isinstance(word, str) else 0


# -- building and merging ------------------------------------------------------------


def indicator_from_fields(
    fields: Mapping[str, Any], fallback_time: Optional[str] = None
) -> Optional[Indicator]:
    """An ``Indicator`` from raw values under its own field names, or ``None`` when the
    type and value are invalid or no time is readable. A missing ``last_seen`` takes
    ``first_seen`` (and the other way round), without both ``fallback_time``; a
    ``first_seen`` later than ``last_seen`` moves ``last_seen`` up to it."""
    key = normalise(fields.get("type"), fields.get("value"))
    first_seen, last_seen = utc_time(fields.get("first_seen")), utc_time(fields.get("last_seen"))
    last_seen = last_seen or first_seen or fallback_time
    first_seen = first_seen or last_seen
    if key is None or first_seen is None or last_seen is None:
        return None
    lists = {
        name: clean_list(
            fields.get(name),
            count,
            ELEMENT_BOUNDS[name],
            str.upper if name == "mitre_techniques" else None,
        )
        for name, count in LIST_BOUNDS.items()
    }
    return Indicator(
        type=key[0],
        value=key[1],
        confidence=clean_text(fields.get("confidence"), MAX_CONFIDENCE_CHARS, str.lower),
        first_seen=first_seen,
        last_seen=max(first_seen, last_seen),
        context=clean_text(fields.get("context"), MAX_CONTEXT_CHARS),
        **lists,
    )


def parse_record(raw: object, observed_at: str) -> Optional[Indicator]:
    """One record of ``GET /api/v1/iocs`` ``data``, or ``None`` when it is invalid (not an
    object, no usable type and value). ``source.feed_name`` -> feeds, ``source.category``
    -> categories, ``source.article_title``/``article_url`` -> article_titles/urls,
    ``id`` -> ioc_ids. ``observed_at`` (when the page was read) must be an ISO 8601 time."""
    fallback = utc_time(observed_at)
    if fallback is None:
        raise ValueError(f"observed_at is not an ISO 8601 time: {observed_at!r}")
    if not isinstance(raw, Mapping):
        return None
    source = raw.get("source")
    source = source if isinstance(source, Mapping) else {}
    fields = {
        **{name: raw.get(name) for name in ("type", "value", "confidence", "context", "tags")},
        "first_seen": raw.get("first_seen"),
        "last_seen": raw.get("last_seen"),
        "mitre_techniques": raw.get("mitre_techniques"),
        "ioc_ids": raw.get("id"),
        "feeds": source.get("feed_name"),
        "categories": source.get("category"),
        "article_titles": source.get("article_title"),
        "article_urls": source.get("article_url"),
    }
    return indicator_from_fields(fields, fallback)


def _union(name: str, a: Tuple[str, ...], b: Tuple[str, ...]) -> Tuple[str, ...]:
    return tuple(sorted(set(a) | set(b))[: LIST_BOUNDS[name]])


def merge(a: Indicator, b: Indicator) -> Indicator:
    """Both records of one indicator as one: earliest ``first_seen``, latest ``last_seen``,
    highest ``confidence`` (by rank, then text), each list the sorted union cut to its
    bound, ``context`` of the greater ``(last_seen, context)``."""
    if a.key != b.key:
        raise ValueError(f"cannot merge two indicators: {a.key!r} and {b.key!r}")
    return Indicator(
        type=a.type,
        value=a.value,
        confidence=max(a.confidence, b.confidence, key=lambda word: (confidence_rank(word), word)),
        first_seen=min(a.first_seen, b.first_seen),
        last_seen=max(a.last_seen, b.last_seen),
        context=max((a.last_seen, a.context), (b.last_seen, b.context))[1],
        **{name: _union(name, getattr(a, name), getattr(b, name)) for name in LIST_BOUNDS},
    )


def merge_all(indicators: Iterable[Indicator]) -> Dict[Tuple[str, str], Indicator]:
    """The indicators grouped by ``(type, value)``, each group merged into one."""
    merged: Dict[Tuple[str, str], Indicator] = {}
    for indicator in indicators:
        known = merged.get(indicator.key)
        merged[indicator.key] = indicator if known is None else merge(known, indicator)
    return merged
