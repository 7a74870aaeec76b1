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
from collections.abc import Mapping as _Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Set, Tuple

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
# A valid time already in the fixed-width form: years 0001-9999, every day of every month
# but 29 February (left to the general parser, as is every other form).
_FIXED_WIDTH = re.compile(
    r"(?!0000)[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# The valid fixed-width times, their epochs and the epochs of their days read lately: a
# page's time of reading is read for each record, a record's times again in its document
# and its event; the records of a page were seen on a few days.
_FIXED_WIDTH_TIMES: Set[str] = set()
_EPOCHS: Dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SSZ" -> seconds since the epoch
_DAY_EPOCHS: Dict[str, int] = {}  # "YYYY-MM-DD" -> seconds since the epoch at 00:00:00Z
_MAX_CACHED = 20000  # times or days in each: a few MB at most
_MAPPINGS = (dict, _Mapping)  # dict first: the quick answer for JSON objects


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


_new_object = object.__new__
_set_attribute = object.__setattr__


def _indicator(  # the fields in order
    type_: str,
    value: str,
    confidence: str,
    first_seen: str,
    last_seen: str,
    feeds: Tuple[str, ...],
    categories: Tuple[str, ...],
    tags: Tuple[str, ...],
    mitre_techniques: Tuple[str, ...],
    ioc_ids: Tuple[str, ...],
    context: str,
    article_titles: Tuple[str, ...],
    article_urls: Tuple[str, ...],
) -> Indicator:
    """``Indicator(...)``: the same object, built without the frozen dataclass's
    ``__init__`` and its ``object.__setattr__`` a field (it runs for every record)."""
    indicator = _new_object(Indicator)
    _set_attribute(
        indicator,
        "__dict__",
        {
            "type": type_,
            "value": value,
            "confidence": confidence,
            "first_seen": first_seen,
            "last_seen": last_seen,
            "feeds": feeds,
            "categories": categories,
            "tags": tags,
            "mitre_techniques": mitre_techniques,
            "ioc_ids": ioc_ids,
            "context": context,
            "article_titles": article_titles,
            "article_urls": article_urls,
        },
    )
    return indicator


# -- text, lists and times -----------------------------------------------------------


def cut(text: str, bound: int) -> str:
    """The longest prefix of ``text`` of at most ``bound`` characters and UTF-8 bytes."""
    head = text[:bound]
    if head.isascii() and bound >= 0:  # one byte a character
        return head
    return head.encode("utf-8", "surrogatepass")[:bound].decode("utf-8", "ignore")


def _safe(text: str) -> str:
    """``text`` with the characters ``clean_text`` replaces replaced (printable text holds
    none of them: they are all of Unicode category Cc, Cs or Cn)."""
    if text.isprintable():
        return text
    return _CONTROL.sub(" ", _UNSAFE.sub("\ufffd", text))


def clean_text(value: object, bound: int, case: Optional[Callable[[str], str]] = None) -> str:
    """A string made safe, stripped, re-cased (``str.lower``/``str.upper``) and cut to
    ``bound``; ``""`` for anything that is not a string."""
    if not isinstance(value, str):
        return ""
    text = (value if value.isprintable() else _safe(value)).strip()
    if case:
        text = case(text)
        return (text if len(text) <= bound and text.isascii() else cut(text, bound)).rstrip()
    if len(text) > (bound if text.isascii() else bound // 4):
        return cut(text, bound).rstrip()
    return text  # stripped, and within the bound (no surrogate: 4 UTF-8 bytes at most)


def _clean_many(
    items: Sequence[object], count: int, bound: int, case: Optional[Callable[[str], str]]
) -> Tuple[str, ...]:
    """``clean_list`` of a list of several elements."""
    cleaned = set()
    for item in items:
        if isinstance(item, str):  # clean_text, inlined
            text = (item if item.isprintable() else _safe(item)).strip()
            if case:
                text = case(text)
                if len(text) > bound or not text.isascii():
                    text = cut(text, bound)
                text = text.rstrip()
            elif len(text) > (bound if text.isascii() else bound // 4):
                text = cut(text, bound).rstrip()
            if text:
                cleaned.add(text)
    return tuple(sorted(cleaned)[:count]) if cleaned else ()


def clean_list(
    value: object, count: int, bound: int, case: Optional[Callable[[str], str]] = None
) -> Tuple[str, ...]:
    """Distinct cleaned strings, sorted, the first ``count``: non-strings and empty ones
    dropped. A lone string counts as a list of one."""
    if isinstance(value, str):
        item = value
    elif not isinstance(value, (list, tuple)) or not value:
        return ()
    elif len(value) > 1:
        return _clean_many(value, count, bound, case)
    else:  # the usual list: one element, no set, no sort
        item = value[0]
        if not isinstance(item, str):
            return ()
    text = (item if item.isprintable() else _safe(item)).strip()  # clean_text, inlined
    if case:
        text = case(text)
        if len(text) > bound or not text.isascii():
            text = cut(text, bound)
        text = text.rstrip()
    elif len(text) > (bound if text.isascii() else bound // 4):
        text = cut(text, bound).rstrip()
    return (text,) if text and count > 0 else ()


def _fixed_width(text: str) -> bool:
    """Whether ``text`` is a valid ``YYYY-MM-DDTHH:MM:SSZ`` time (but a 29 February)."""
    if text in _FIXED_WIDTH_TIMES:
        return True
    if _FIXED_WIDTH.fullmatch(text) is None:
        return False
    if len(_FIXED_WIDTH_TIMES) >= _MAX_CACHED:
        _FIXED_WIDTH_TIMES.clear()
    _FIXED_WIDTH_TIMES.add(text)
    return True


def utc_time(value: object) -> Optional[str]:
    """An ISO 8601 date-time as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (fraction dropped, offset
    applied, no offset read as UTC), or ``None`` when it cannot be read."""
    if type(value) is str and (value in _FIXED_WIDTH_TIMES or _fixed_width(value)):
        return value  # already in the form, and valid
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
    if type(text) is str:
        epoch = _EPOCHS.get(text)
        if epoch is not None:
            return epoch
        if _fixed_width(text):
            day = _DAY_EPOCHS.get(text[:10])
            if day is None:
                ordinal = date(int(text[:4]), int(text[5:7]), int(text[8:10])).toordinal()
                day = (ordinal - _EPOCH_ORDINAL) * 86400
                if len(_DAY_EPOCHS) >= _MAX_CACHED:
                    _DAY_EPOCHS.clear()
                _DAY_EPOCHS[text[:10]] = day
            epoch = day + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
            if len(_EPOCHS) >= _MAX_CACHED:
                _EPOCHS.clear()
            _EPOCHS[text] = epoch
            return epoch
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    return calendar.timegm(moment.timetuple())


def confidence_rank(word: str) -> int:
    """``low`` 1, ``medium`` 2, ``high`` 3 (any case, spaces around), anything else 0."""
    return CONFIDENCE_RANK.get(word.strip().lower(), 0) if isinstance(word, str) else 0


# -- building and merging ------------------------------------------------------------

# The bounds as plain names: each list's count and element bound (no tuple to unpack in
# the calls, which run for every record)
_FEEDS, _FEED = LIST_BOUNDS["feeds"], ELEMENT_BOUNDS["feeds"]
_CATEGORIES, _CATEGORY = LIST_BOUNDS["categories"], ELEMENT_BOUNDS["categories"]
_TAGS, _TAG = LIST_BOUNDS["tags"], ELEMENT_BOUNDS["tags"]
_TECHNIQUES, _TECHNIQUE = LIST_BOUNDS["mitre_techniques"], ELEMENT_BOUNDS["mitre_techniques"]
_IOC_IDS, _IOC_ID = LIST_BOUNDS["ioc_ids"], ELEMENT_BOUNDS["ioc_ids"]
_TITLES, _TITLE = LIST_BOUNDS["article_titles"], ELEMENT_BOUNDS["article_titles"]
_URLS, _URL = LIST_BOUNDS["article_urls"], ELEMENT_BOUNDS["article_urls"]
_LOWER, _UPPER = str.lower, str.upper


def _build(  # one argument a field: no dictionary built in between
    type_: object,
    value: object,
    confidence: object,
    first_seen: object,
    last_seen: object,
    feeds: object,
    categories: object,
    tags: object,
    mitre_techniques: object,
    ioc_ids: object,
    context: object,
    article_titles: object,
    article_urls: object,
    fallback_time: Optional[str],
) -> Optional[Indicator]:
    """``indicator_from_fields`` on the raw values themselves."""
    key = normalise(type_, value)
    if key is None:
        return None
    first, last = utc_time(first_seen), utc_time(last_seen)
    last = last or first or fallback_time
    first = first or last
    if first is None or last is None:
        return None
    # a missing or empty field (None, "", []) cleans to nothing: no call for it
    return _indicator(
        key[0],
        key[1],
        clean_text(confidence, MAX_CONFIDENCE_CHARS, _LOWER) if confidence else "",
        first,
        max(first, last),
        clean_list(feeds, _FEEDS, _FEED) if feeds else (),
        clean_list(categories, _CATEGORIES, _CATEGORY) if categories else (),
        clean_list(tags, _TAGS, _TAG) if tags else (),
        clean_list(mitre_techniques, _TECHNIQUES, _TECHNIQUE, _UPPER) if mitre_techniques else (),
        clean_list(ioc_ids, _IOC_IDS, _IOC_ID) if ioc_ids else (),
        clean_text(context, MAX_CONTEXT_CHARS) if context else "",
        clean_list(article_titles, _TITLES, _TITLE) if article_titles else (),
        clean_list(article_urls, _URLS, _URL) if article_urls else (),
    )


def indicator_from_fields(
    fields: Mapping[str, Any], fallback_time: Optional[str] = None
) -> Optional[Indicator]:
    """An ``Indicator`` from raw values under its own field names, or ``None`` when the
    type and value are invalid or no time is readable. A missing ``last_seen`` takes
    ``first_seen`` (and the other way round), without both ``fallback_time``; a
    ``first_seen`` later than ``last_seen`` moves ``last_seen`` up to it."""
    get = fields.get
    return _build(
        get("type"),
        get("value"),
        get("confidence"),
        get("first_seen"),
        get("last_seen"),
        get("feeds"),
        get("categories"),
        get("tags"),
        get("mitre_techniques"),
        get("ioc_ids"),
        get("context"),
        get("article_titles"),
        get("article_urls"),
        fallback_time,
    )


def parse_record(raw: object, observed_at: str) -> Optional[Indicator]:
    """One record of ``GET /api/v1/iocs`` ``data``, or ``None`` when it is invalid (not an
    object, no usable type and value). ``source.feed_name`` -> feeds, ``source.category``
    -> categories, ``source.article_title``/``article_url`` -> article_titles/urls,
    ``id`` -> ioc_ids. ``observed_at`` (when the page was read) must be an ISO 8601 time."""
    fallback = utc_time(observed_at)
    if fallback is None:
        raise ValueError(f"observed_at is not an ISO 8601 time: {observed_at!r}")
    if not isinstance(raw, _MAPPINGS):
        return None
    get = raw.get
    source = get("source")
    if isinstance(source, _MAPPINGS):
        from_source = source.get
        feeds, categories = from_source("feed_name"), from_source("category")
        titles, urls = from_source("article_title"), from_source("article_url")
    else:
        feeds = categories = titles = urls = None
    return _build(
        get("type"),
        get("value"),
        get("confidence"),
        get("first_seen"),
        get("last_seen"),
        feeds,
        categories,
        get("tags"),
        get("mitre_techniques"),
        get("id"),
        get("context"),
        titles,
        urls,
        fallback,
    )


def _union(a: Tuple[str, ...], b: Tuple[str, ...], count: int) -> Tuple[str, ...]:
    """``tuple(sorted(set(a) | set(b))[:count])``, quicker for the usual lists (the same,
    or one of them empty); ``count`` is at least 1."""
    if a == b or b == ():
        one = a
    elif a == ():
        one = b
    else:
        return tuple(sorted(set(a).union(b))[:count])
    if type(one) is tuple and (one == () or (len(one) == 1 and type(one[0]) is str)):
        return one  # already sorted, distinct and within the count
    return tuple(sorted(set(one))[:count])


def _confidence_key(word: str) -> Tuple[int, str]:
    return confidence_rank(word), word


def merge(a: Indicator, b: Indicator) -> Indicator:
    """Both records of one indicator as one: earliest ``first_seen``, latest ``last_seen``,
    highest ``confidence`` (by rank, then text), each list the sorted union cut to its
    bound, ``context`` of the greater ``(last_seen, context)``."""
    if a.type != b.type or a.value != b.value:
        raise ValueError(f"cannot merge two indicators: {a.key!r} and {b.key!r}")
    confidence = a.confidence
    if b.confidence != confidence and _confidence_key(b.confidence) > _confidence_key(confidence):
        confidence = b.confidence
    return _indicator(
        a.type,
        a.value,
        confidence,
        min(a.first_seen, b.first_seen),
        max(a.last_seen, b.last_seen),
        _union(a.feeds, b.feeds, _FEEDS),
        _union(a.categories, b.categories, _CATEGORIES),
        _union(a.tags, b.tags, _TAGS),
        _union(a.mitre_techniques, b.mitre_techniques, _TECHNIQUES),
        _union(a.ioc_ids, b.ioc_ids, _IOC_IDS),
        max((a.last_seen, a.context), (b.last_seen, b.context))[1],
        _union(a.article_titles, b.article_titles, _TITLES),
        _union(a.article_urls, b.article_urls, _URLS),
    )


def merge_all(indicators: Iterable[Indicator]) -> Dict[Tuple[str, str], Indicator]:
    """The indicators grouped by ``(type, value)``, each group merged into one."""
    merged: Dict[Tuple[str, str], Indicator] = {}
    for indicator in indicators:
        known = merged.get(indicator.key)
        merged[indicator.key] = indicator if known is None else merge(known, indicator)
    return merged
