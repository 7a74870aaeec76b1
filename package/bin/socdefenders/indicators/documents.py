"""An indicator as a KV store document and as an event: ``document_key``, ``to_document``,
``from_document``, ``changed`` and ``indicator_event``.

``MAX_EVENT_BYTES`` bounds the UTF-8 size of any ``indicator_event`` text. It is computed
(``_max_event_bytes``) from the bounds, per field, with the most bytes a character can
take in the event (``json.dumps(ensure_ascii=False)``, then ``_xml_safe``):

- ``type``, ``value``, ``account``, ``input`` are bounded in characters and may hold any
  character: at most 6 bytes each (a control character is written ``\\u0001``, a lone
  surrogate, U+FFFE or U+FFFF ``\\ud800``; anything else takes at most 4 bytes).
- the cleaned texts (``confidence``, ``context``, list elements) are bounded in UTF-8
  bytes and hold no 6-byte character (``records.clean_text``): at most 2 bytes per byte
  (``"`` ``\\`` ``\\n`` ... are written as two ASCII bytes, other bytes as themselves).
- times take 20 characters, epochs at most 12 (years 1 to 9999), ``action`` 7.
Plus 2 quotes per string, brackets and commas of the lists, the names and punctuation of
the object. The result (about 85 KB) is below ``INDICATOR_TRUNCATE``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping as _Mapping
from typing import Any, Dict, Mapping, Optional, Tuple

from .normalise import MAX_TYPE_CHARS, MAX_VALUE_CHARS
from .records import (
    ELEMENT_BOUNDS,
    LIST_BOUNDS,
    MAX_CONFIDENCE_CHARS,
    MAX_CONTEXT_CHARS,
    Indicator,
    clean_text,
    indicator_from_fields,
    time_epoch,
)

INDICATOR_TRUNCATE = 100000  # props.conf [socdefenders:ioc] TRUNCATE
MAX_NAME_CHARS = 256  # an account or input name (the UI allows 50 and 100)
MIN_EPOCH = -62135596800  # 0001-01-01T00:00:00Z
MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z
ACTIONS = ("added", "updated", "expired")
BOOKKEEPING_FIELDS = ("account", "added_epoch", "updated_epoch")
INDICATOR_FIELDS = (  # what ``changed`` compares: the indicator, as the document holds it
    "type",
    "value",
    "confidence",
    "first_seen",
    "last_seen",
    "last_seen_epoch",
    "feeds",
    "categories",
    "tags",
    "mitre_techniques",
    "ioc_ids",
    "context",
    "article_titles",
    "article_urls",
)
DOCUMENT_FIELDS = INDICATOR_FIELDS + BOOKKEEPING_FIELDS  # after ``_key``, in this order
EVENT_FIELDS = (*DOCUMENT_FIELDS, "action", "input")

_NOT_IN_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # splunklib writes events as XML 1.0
_MAPPINGS = (dict, _Mapping)  # dict first: the quick answer for documents
_EVENT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # as json.dumps


def _max_event_bytes() -> int:
    """The most UTF-8 bytes an event can take (see the module docstring)."""
    epoch = max(len(str(MIN_EPOCH)), len(str(MAX_EPOCH)))
    sizes = {
        "type": 6 * MAX_TYPE_CHARS + 2,
        "value": 6 * MAX_VALUE_CHARS + 2,
        "confidence": 2 * MAX_CONFIDENCE_CHARS + 2,
        "first_seen": 20 + 2,
        "last_seen": 20 + 2,
        "last_seen_epoch": epoch,
        **{
            name: 2 + count * (2 * ELEMENT_BOUNDS[name] + 2) + (count - 1)
            for name, count in LIST_BOUNDS.items()
        },
        "context": 2 * MAX_CONTEXT_CHARS + 2,
        "account": 6 * MAX_NAME_CHARS + 2,
        "added_epoch": epoch,
        "updated_epoch": epoch,
        "action": max(len(action) for action in ACTIONS) + 2,
        "input": 6 * MAX_NAME_CHARS + 2,
    }
    names = sum(len(json.dumps(name)) + 1 for name in sizes)  # "name":
    return 2 + names + sum(sizes.values()) + len(sizes) - 1  # braces, commas


MAX_EVENT_BYTES = _max_event_bytes()


def document_key(type_: str, value: str) -> str:
    """``sha256("<type>:<value>")`` in hex (UTF-8): any value gives a safe ``_key``, and
    SPL computes the same with ``sha256(type.":".value)``."""
    text = f"{type_}:{value}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()


def epoch_value(value: object) -> Optional[int]:
    """Whole seconds from a number or decimal string, as the KV store may give it back
    (``1700000000``, ``1700000000.0``, ``"1700000000"``); ``None`` when unreadable or
    outside years 1 to 9999."""
    if type(value) is int:  # what to_document writes
        return value if MIN_EPOCH <= value <= MAX_EPOCH else None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    whole = math.floor(value)
    return whole if MIN_EPOCH <= whole <= MAX_EPOCH else None


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{what} must be a string of at most {MAX_NAME_CHARS} characters")
    return value


def _epoch(value: object, what: str) -> int:
    epoch = epoch_value(value)
    if epoch is None:
        raise ValueError(f"{what} must be seconds since the epoch (years 1 to 9999)")
    return epoch


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _indicator_fields(indicator: Indicator) -> Dict[str, Any]:
    """The ``INDICATOR_FIELDS`` of a document, lists as lists, in order."""
    feeds, categories, tags = indicator.feeds, indicator.categories, indicator.tags
    techniques, ioc_ids, context = indicator.mitre_techniques, indicator.ioc_ids, indicator.context
    titles, urls = indicator.article_titles, indicator.article_urls
    return {
        "type": indicator.type,
        "value": indicator.value,
        "confidence": indicator.confidence,
        "first_seen": indicator.first_seen,
        "last_seen": indicator.last_seen,
        "last_seen_epoch": time_epoch(indicator.last_seen),
        "feeds": [*feeds] if isinstance(feeds, tuple) else feeds,
        "categories": [*categories] if isinstance(categories, tuple) else categories,
        "tags": [*tags] if isinstance(tags, tuple) else tags,
        "mitre_techniques": [*techniques] if isinstance(techniques, tuple) else techniques,
        "ioc_ids": [*ioc_ids] if isinstance(ioc_ids, tuple) else ioc_ids,
        "context": [*context] if isinstance(context, tuple) else context,
        "article_titles": [*titles] if isinstance(titles, tuple) else titles,
        "article_urls": [*urls] if isinstance(urls, tuple) else urls,
    }


def to_document(
    indicator: Indicator, *, account: str, added_epoch: int, updated_epoch: int
) -> Dict[str, Any]:
    """The KV store document: ``_key``, then ``DOCUMENT_FIELDS`` (lists as JSON arrays,
    epochs as integers). ``ValueError`` for a name or epoch out of bounds."""
    document: Dict[str, Any] = {"_key": document_key(indicator.type, indicator.value)}
    document.update(_indicator_fields(indicator))
    document["account"] = _name(account, "account")
    document["added_epoch"] = _epoch(added_epoch, "added_epoch")
    document["updated_epoch"] = _epoch(updated_epoch, "updated_epoch")
    return document


def from_document(document: Mapping[str, Any]) -> Indicator:
    """The indicator a document holds, read as a record is (normalised, cleaned, bounded;
    the bookkeeping fields aside). ``ValueError`` when it holds no valid type and value
    or no readable ``first_seen``/``last_seen``."""
    indicator = indicator_from_fields(document) if isinstance(document, _MAPPINGS) else None
    if indicator is None:
        raise ValueError("not an indicator document (type, value, first_seen, last_seen)")
    return indicator


def changed(old_document: Optional[Mapping[str, Any]], indicator: Indicator) -> bool:
    """Whether the collection must be written: no document yet, or one whose indicator
    fields (``INDICATOR_FIELDS``, bookkeeping aside) differ from ``indicator``'s."""
    if old_document is None:
        return True
    new = _indicator_fields(indicator)
    return any(_listed(old_document.get(name)) != new[name] for name in INDICATOR_FIELDS)


def _xml_safe(text: str) -> str:
    if text.isascii() or ("\ufffe" not in text and "\uffff" not in text and _utf8(text)):
        return text  # nothing to escape: both tests are quicker than a search
    return _NOT_IN_XML.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _utf8(text: str) -> bool:
    """Whether ``text`` holds no lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _action(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    return action


def _event_text(event: Dict[str, Any]) -> str:
    return _xml_safe(_EVENT_JSON.encode(event))


def indicator_event(document: Mapping[str, Any], *, action: str, input_name: str) -> str:
    """The event text: compact JSON of ``EVENT_FIELDS`` in order, at most
    ``MAX_EVENT_BYTES`` in UTF-8. The indicator is read with ``from_document`` (so
    ``ValueError`` when there is none); a bookkeeping field that cannot be read (a
    document edited by hand) is written cut (``account``) or ``null`` (epochs)."""
    _action(action)
    account = document.get("account") if isinstance(document, _MAPPINGS) else None
    if not isinstance(account, str) or len(account) > MAX_NAME_CHARS:
        account = clean_text(account, MAX_NAME_CHARS)
    event = _indicator_fields(from_document(document))
    event["account"] = account
    event["added_epoch"] = epoch_value(document.get("added_epoch"))
    event["updated_epoch"] = epoch_value(document.get("updated_epoch"))
    event["action"] = action
    event["input"] = _name(input_name, "input_name")
    return _event_text(event)


def indicator_event_from(
    indicator: Indicator,
    *,
    account: str,
    added_epoch: int,
    updated_epoch: int,
    action: str,
    input_name: str,
) -> str:
    """``indicator_event(to_document(indicator, ...), ...)`` without reading the document
    back: for an indicator that ``parse_record``, ``merge`` or ``from_document`` gave
    (already normalised, cleaned and bounded: reading it back gives it again). The same
    ``ValueError`` for an action, a name or an epoch out of bounds."""
    _action(action)
    event = _indicator_fields(indicator)
    event["account"] = _name(account, "account")
    event["added_epoch"] = _epoch(added_epoch, "added_epoch")
    event["updated_epoch"] = _epoch(updated_epoch, "updated_epoch")
    event["action"] = action
    event["input"] = _name(input_name, "input_name")
    return _event_text(event)


def document_and_event(
    indicator: Indicator,
    *,
    account: str,
    added_epoch: int,
    updated_epoch: int,
    action: str,
    input_name: str,
) -> Tuple[Dict[str, Any], str]:
    """``to_document`` and ``indicator_event_from`` of one indicator (same arguments), its
    fields computed once."""
    _action(action)
    document = to_document(
        indicator, account=account, added_epoch=added_epoch, updated_epoch=updated_epoch
    )
    event = dict(document)  # the event's fields: the document's, in order, then two more
    del event["_key"]
    event["action"] = action
    event["input"] = _name(input_name, "input_name")
    return document, _event_text(event)
