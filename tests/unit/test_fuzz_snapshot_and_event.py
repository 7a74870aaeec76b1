"""Property-based tests (hypothesis) of response parsing, event building and checkpoints.

Every body a property generates goes through :func:`parse_snapshot`, which must either
return a snapshot or raise :class:`ResponseError`: any other exception fails the test.
Whether a body is accepted is checked against :func:`expected_verdict`, a model written
from the rules in ``snapshot.py``'s docstring, and every accepted body must give an event
(and a checkpoint) whose totals equal the body's and whose deltas are consistent.

``BUDGETS`` adds up to 12,850 generated examples, 14,200 parsed bodies (a valid-body example
parses two encodings, a two-poll example two polls), in every run. Runs are reproducible:
``derandomize=True`` seeds hypothesis from each test, so CI runs the same examples every
time (until hypothesis or the test changes), and ``database=None`` replays no failures
saved by earlier runs. Hypothesis still caches source constants in ``.hypothesis/``, which
it git-ignores itself (``.hypothesis/.gitignore``).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple
from xml.etree import ElementTree

import pytest
from hypothesis import event as label
from hypothesis import given, settings
from hypothesis import strategies as st

from socdefenders.errors import ErrorCategory, ResponseError
from socdefenders.stats.cache import CacheHeaders
from socdefenders.stats.checkpoint import checkpoint_state, previous_from_state, sources_since
from socdefenders.stats.event import build_event
from socdefenders.stats.poll import PollResult
from socdefenders.stats.snapshot import KNOWN_KEYS, MAPS, Snapshot, parse_snapshot
from tests.support.vendor_api import SEED_BODY

FUZZ = settings(deadline=None, derandomize=True, database=None)
BUDGETS = {  # examples per property; at least 10,000 bodies per run in all
    "arbitrary_bytes": 2300,
    "json_shaped_bytes": 2000,
    "arbitrary_json_values": 1000,
    "mutated_seed": 1200,
    "one_seed_count": 1000,
    "last_updated_variants": 1000,
    "byte_mutated_seed": 2000,
    "duplicate_keys": 300,
    "valid_bodies": 800,
    "two_polls": 550,
    "extras": 400,
    "cache_headers": 300,
}
BODIES_PER_EXAMPLE = {"valid_bodies": 2, "two_polls": 2}

MAX_COUNT = 2**63 - 1  # the largest count (Splunk's 64-bit integers), written out here
COLLECTED_AT = datetime(2024, 1, 15, 10, 15, 0, 250000, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
NAMES = ("prod", "prod_stats", "socdefenders.ai")


# -- the model: what must be accepted, from the rules alone ------------------------------

_STRICT_ISO_8601 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?",
    re.ASCII,
)


def strict_timestamp(text: str, lenient: bool = False) -> Optional[datetime]:
    """The instant of an ASCII ISO 8601 date-time (no offset: UTC), or None.

    ``lenient`` also takes what the parser is known to let through: a final newline,
    digits of other scripts and offset minutes up to 99 (a total offset under 24 h).
    """
    if lenient:
        text = text[:-1] if text.endswith("\n") else text
        text = "".join(str(int(char)) if char.isdecimal() else char for char in text)
    match = _STRICT_ISO_8601.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, sign, off_hours, off_minutes = match.group(7), *match.groups()[8:]
    offset = timedelta(0)
    if sign:
        offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
        if int(off_minutes) > (99 if lenient else 59) or offset >= timedelta(hours=24):
            return None
        offset = -offset if sign == "-" else offset
    try:
        return datetime(
            year, month, day, hour, minute, second, int(((fraction or "") + "0" * 6)[:6]),
            tzinfo=timezone(offset),
        )  # fmt: skip
    except ValueError:
        return None


class _RefusedError(Exception):
    pass


class _Twice(dict):
    """An object with keys written twice: refused only for a key that is read (``totals``
    and ``last_updated`` in the body, a map in totals, any key of a map)."""

    twice: FrozenSet[str] = frozenset()


def _mark_twice(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = frozenset(key for key in keys if keys.count(key) > 1)
    if not twice:
        return dict(pairs)
    marked = _Twice(pairs)
    marked.twice = twice
    return marked


def twice_among(value: Any, known: Optional[Tuple[str, ...]] = None) -> bool:
    """Whether ``value`` has a key written twice (among ``known``, when given)."""
    if not isinstance(value, _Twice):
        return False
    return known is None or bool(value.twice & set(known))


def _no_constants(name: str) -> Any:
    raise _RefusedError


def decoded(body: bytes) -> Any:
    """The JSON document, refusing NaN/Infinity; objects with a key twice are ``_Twice``."""
    text = body.decode("utf-8-sig")
    return json.loads(text, object_pairs_hook=_mark_twice, parse_constant=_no_constants)


def valid_counts(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(type(count) is int and 0 <= count <= MAX_COUNT for count in value.values())
        and sum(value.values()) <= MAX_COUNT  # each sum must fit Splunk's 64-bit integers too
    )


def expected_verdict(body: bytes) -> Optional[bool]:
    """True: must be accepted; False: must be refused; None: the model does not say.

    None is only for a ``last_updated`` that is not strict ISO 8601 but one of the known
    lenient forms (see :func:`strict_timestamp`): they may be accepted or refused.
    """
    try:
        document = decoded(body)
    except (UnicodeDecodeError, ValueError, RecursionError, _RefusedError):
        return False
    if not isinstance(document, dict) or not isinstance(document.get("totals"), dict):
        return False
    if twice_among(document, ("totals", "last_updated")) or twice_among(document["totals"], MAPS):
        return False
    if any(twice_among(document["totals"].get(name)) for name in MAPS):
        return False
    last_updated = document.get("last_updated")
    if not isinstance(last_updated, str):
        return False
    if not all(valid_counts(document["totals"].get(name)) for name in MAPS):
        return False
    if strict_timestamp(last_updated) is not None:
        return True
    return None if strict_timestamp(last_updated, lenient=True) is not None else False


# -- what every accepted body must give -------------------------------------------------


def outcome(body: bytes) -> Optional[Snapshot]:
    """The snapshot, or None for a ResponseError; any other exception fails the test."""
    try:
        return parse_snapshot(body)
    except ResponseError as error:
        refused = error
    assert refused.error_code == "invalid_body"
    assert refused.category is ErrorCategory.SERVER
    assert str(refused).startswith("invalid stats document: ")
    assert refused.fix
    return None


def event_of(
    snapshot: Snapshot,
    collected_at: datetime,
    previous: Any = None,
    request_id: Optional[str] = None,
) -> Dict[str, Any]:
    return build_event(
        snapshot,
        collected_at=collected_at,
        account=NAMES[0],
        input_name=NAMES[1],
        api_host=NAMES[2],
        previous=previous,
        request_id=request_id,
        source_since=sources_since(snapshot.totals.by_source, collected_at, previous),
    )


def extras_sent(document: Dict[str, Any]) -> Dict[str, Any]:
    """What ``api_extra`` must carry: every member but the validated ones, verbatim."""
    extras = {key: value for key, value in document.items() if key not in KNOWN_KEYS}
    in_totals = {key: value for key, value in document["totals"].items() if key not in MAPS}
    return {**extras, **({"totals": in_totals} if in_totals else {})}


def checkpoint_round_trip(snapshot: Snapshot, collected_at: datetime) -> Any:
    """The previous snapshot as the next poll reads it back from the KV store."""
    return previous_from_state(json.loads(json.dumps(checkpoint_state(snapshot, collected_at))))


def exact_floor_seconds(later: datetime, earlier: datetime) -> int:
    return (later - earlier) // SECOND


def check_event_xml(event: Dict[str, Any], snapshot: Snapshot) -> str:
    """The event text as written: the same event, well-formed in splunklib's XML stream."""
    result = PollResult(event, COLLECTED_AT, {}, snapshot, response=None)  # type: ignore[arg-type]
    text = result.event_json()
    assert json.loads(text) == event
    data = ElementTree.Element("data")
    data.text = text
    assert ElementTree.fromstring(ElementTree.tostring(data)).text == text  # as Event.write_to
    return text


def check_verdict(body: bytes) -> Optional[Snapshot]:
    """Parse ``body``; the verdict must match the model and an accepted body must be whole."""
    snapshot = outcome(body)
    verdict = expected_verdict(body)
    if verdict is not None:
        assert (snapshot is not None) is verdict, body[:300]
    if snapshot is not None:
        check_accepted(body, snapshot)
    return snapshot


def check_accepted(body: bytes, snapshot: Snapshot) -> None:
    document = json.loads(body.decode("utf-8-sig"))  # no duplicates or NaN: it was accepted
    sent = {name: document["totals"][name] for name in MAPS}
    totals = snapshot.totals.as_dict()
    assert totals == sent
    for counts in totals.values():
        assert all(type(count) is int and 0 <= count <= MAX_COUNT for count in counts.values())
        assert sum(counts.values()) <= MAX_COUNT
    assert snapshot.last_updated == document["last_updated"]
    assert snapshot.last_updated_at.utcoffset() is not None
    strict = strict_timestamp(document["last_updated"])
    if strict is not None:
        assert snapshot.last_updated_at == strict
        assert snapshot.last_updated_at.utcoffset() == strict.utcoffset()

    event = event_of(snapshot, COLLECTED_AT)
    assert event["totals"] == sent
    assert event["total_iocs"] == sum(sent["by_type"].values())
    assert event["consistent"] is (
        sum(sent["by_type"].values()) == sum(sent["by_category"].values())
    )
    assert event["last_updated"] == document["last_updated"]
    # The age is the floor of a float: exact up to ~270 years, possibly 1 s more beyond.
    exact = exact_floor_seconds(COLLECTED_AT, snapshot.last_updated_at)
    assert event["feed_age_seconds"] in (exact, exact + 1)
    assert "delta" not in event
    assert "source_unchanged_seconds" not in event  # a first snapshot
    assert event.get("api_extra") == (extras_sent(document) or None)
    assert json.loads(json.dumps(event, ensure_ascii=False)) == event
    check_event_xml(event, snapshot)

    previous = checkpoint_round_trip(snapshot, COLLECTED_AT)
    assert previous.totals == snapshot.totals
    assert previous.last_updated == snapshot.last_updated
    assert previous.collected_at == COLLECTED_AT
    again = event_of(snapshot, COLLECTED_AT + timedelta(minutes=15), previous)
    assert again["delta"] == {
        "total_iocs": 0,
        **{name: dict.fromkeys(sent[name], 0) for name in MAPS},
    }
    assert again["seconds_since_previous"] == 900
    assert again["source_unchanged_seconds"] == dict.fromkeys(sent["by_source"], 900)


# -- strategies -------------------------------------------------------------------------

# Names: any text, with the awkward characters (lone surrogates, U+FFFF, NUL, space, dot).
AWKWARD = st.sampled_from(["\ud800", "\udfff", "\uffff", "\x00", " ", ".", "é", "脅", "\u2028"])


def names(awkward: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Any text, or text around an awkward character (st.text() rarely draws those)."""
    around = st.tuples(st.text(max_size=5), awkward, st.text(max_size=5)).map("".join)
    return st.text(max_size=12) | around


NAME = names(AWKWARD)
# Names a valid body may carry in raw UTF-8 too: anything but lone surrogates.
VALID_NAME = names(
    st.sampled_from(["\ufffe", "\uffff", "\x00", " ", ".", "é", "脅", "\u2028", "😀"])
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=20)
    | NAME
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(NAME, children, max_size=4),
    max_leaves=12,
)
VALID_JSON_VALUES = st.recursive(  # what an unknown key of a valid body may hold
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
COUNT = st.integers(min_value=0, max_value=MAX_COUNT) | st.sampled_from(
    [0, 1, MAX_COUNT - 1, MAX_COUNT]
)
NOT_A_COUNT = (
    st.integers(max_value=-1)
    | st.integers(min_value=MAX_COUNT + 1, max_value=2**80)
    | st.sampled_from([-1, 2**63, 2**64, True, False, None, 1.0, -0.0, 0.5, 1e19, "12", ""])
    | st.booleans()
    | st.floats()
    | st.text(max_size=8)
    | st.lists(COUNT, max_size=2)
    | st.dictionaries(NAME, COUNT, max_size=2)
)


class Raw:
    """JSON text put into a body as is: tokens ``json.dumps`` never writes."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:20]!r})"


RAW = st.sampled_from(
    ["-0", "0e0", "1E2", "1.0", "1e400", "-1e400", "NaN", "-Infinity", "Infinity", "01", "+1",
     "0x10", "9" * 4000, "1" * 19, "9223372036854775807", "9223372036854775808", "nul",
     "[1,]", "{}", "[]", '"\\ud800"', '"\\u0000"', '"2024-01-15T10:00:00Z"', "tru"]
).map(Raw)  # fmt: skip


class Pairs:
    """A JSON object written with its keys in this order, duplicates included."""

    def __init__(self, pairs: Sequence[Tuple[str, Any]]) -> None:
        self.pairs = list(pairs)

    def __repr__(self) -> str:
        return f"Pairs({self.pairs!r})"


SEPARATORS = st.sampled_from([(",", ":"), (", ", ": "), ("\n,\t", " :\r\n"), (" , ", " : ")])


def to_json(value: Any, ensure_ascii: bool, separators: Tuple[str, str]) -> str:
    item, key = separators
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, (dict, Pairs)):
        pairs = value.pairs if isinstance(value, Pairs) else value.items()
        return (
            "{"
            + item.join(
                json.dumps(name, ensure_ascii=ensure_ascii)
                + key
                + to_json(member, ensure_ascii, separators)
                for name, member in pairs
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + item.join(to_json(member, ensure_ascii, separators) for member in value) + "]"
    return json.dumps(value, ensure_ascii=ensure_ascii)


@st.composite
def encodings(draw: Any, document: Any) -> bytes:
    """``document`` as an HTTP body: escaped or not, any JSON whitespace, maybe a BOM."""
    text = to_json(document, draw(st.booleans()), draw(SEPARATORS))
    text = (
        draw(st.sampled_from(["", " ", "\n", "\r\n\t"]))
        + text
        + draw(st.sampled_from(["", "\n", " \t"]))
    )
    body = text.encode("utf-8", "surrogatepass")  # a lone surrogate is then not UTF-8
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + body


@st.composite
def timestamps(draw: Any, start: int = 1950, end: int = 2150) -> Tuple[str, datetime]:
    """A valid ``last_updated`` and its instant: any fraction length, offset or Z."""
    moment = draw(st.datetimes(datetime(start, 1, 1), datetime(end, 12, 31, 23, 59, 59)))
    digits = draw(st.integers(min_value=0, max_value=9))
    micros = f"{moment.microsecond:06d}"
    fraction = micros[:digits] + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=max(digits - 6, 0),
                      max_size=max(digits - 6, 0)))
    )  # fmt: skip
    moment = moment.replace(microsecond=int((micros[:digits] + "000000")[:6]))
    minutes = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    sign, size = ("-" if minutes < 0 else "+"), abs(minutes)
    zone, offset = draw(
        st.sampled_from(
            [
                ("", 0),
                ("Z", 0),
                ("z", 0),
                (f"{sign}{size // 60:02d}:{size % 60:02d}", minutes),
                (f"{sign}{size // 60:02d}{size % 60:02d}", minutes),
            ]
        )
    )
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"  # strftime: no 0 in 0999
        + draw(st.sampled_from("Tt "))
        + f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        + (draw(st.sampled_from(".,")) + fraction if digits else "")
        + zone
    )
    return text, moment.replace(tzinfo=timezone(timedelta(minutes=offset)))


def within_64_bits(counts: Dict[str, int]) -> Dict[str, int]:
    """``counts`` with each count cut so that the map adds up to at most MAX_COUNT."""
    budget, kept = MAX_COUNT, {}
    for key, count in counts.items():
        kept[key] = min(count, budget)
        budget -= kept[key]
    return kept


@st.composite
def balanced_maps(draw: Any) -> Dict[str, Dict[str, int]]:
    """The three maps; by_category often splits the by_type total (a consistent snapshot)."""
    names = VALID_NAME
    by_type = within_64_bits(draw(st.dictionaries(names, COUNT, max_size=6)))
    by_category = within_64_bits(draw(st.dictionaries(names, COUNT, max_size=5)))
    total = sum(by_type.values())
    if draw(st.booleans()):
        keys = draw(st.lists(names, min_size=1, max_size=5, unique=True))
        cuts = sorted(draw(st.lists(st.integers(0, total), min_size=len(keys) - 1,
                                    max_size=len(keys) - 1)))  # fmt: skip
        bounds = [0, *cuts, total]
        by_category = {key: bounds[i + 1] - bounds[i] for i, key in enumerate(keys)}
    by_source = within_64_bits(draw(st.dictionaries(names, COUNT, max_size=6)))
    return {"by_type": by_type, "by_category": by_category, "by_source": by_source}


@st.composite
def valid_documents(
    draw: Any, maps: Optional[Dict[str, Dict[str, int]]] = None, extras: int = 3
) -> Tuple[Dict[str, Any], datetime]:
    """A valid stats document (unknown keys included, any order) and its instant."""
    maps = draw(balanced_maps()) if maps is None else maps
    text, instant = draw(timestamps())
    unknown = st.dictionaries(st.text(max_size=10), VALID_JSON_VALUES, max_size=extras)
    totals = {**draw(unknown), **maps}
    document = {**draw(unknown), "totals": totals, "last_updated": text}
    order = draw(st.permutations(list(document)))
    return {name: document[name] for name in order}, instant


def moments() -> st.SearchStrategy[datetime]:
    """A poll's ``collected_at``: millisecond precision, like ``utc_now``, in any offset."""
    zones = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    return st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=zones).map(
        lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    )


@st.composite
def near_timestamps(draw: Any) -> str:
    """A valid ``last_updated`` cut short, extended, with one character changed or lenient."""
    text = draw(timestamps(1, 9999))[0]
    edit = draw(st.sampled_from(["cut", "append", "change", "newline", "digits", "minutes"]))
    if edit == "newline":
        return text + "\n"
    if edit == "digits":  # Arabic-Indic, Devanagari or fullwidth digits
        zero = ord(draw(st.sampled_from(["\u0660", "\u0966", "\uff10"])))
        return "".join(chr(zero + int(c)) if c in "0123456789" else c for c in text)
    if edit == "minutes":
        hours, minutes = draw(st.integers(0, 23)), draw(st.integers(60, 99))
        return f"{text[:19]}{draw(st.sampled_from('+-'))}{hours:02d}:{minutes:02d}"
    if edit == "cut":  # often where a part ends: a date, no seconds, no fraction...
        ends = st.sampled_from([4, 7, 10, 13, 16, 19, 20, len(text) - 1])
        return text[: draw(ends | st.integers(min_value=0, max_value=len(text) - 1))]
    if edit == "append":
        return text + draw(
            st.sampled_from(["\n", "\n\n", " ", "Z", "+24:00", "+00:60", "+00:99", " UTC", "\x00"])
        )
    position = draw(st.integers(min_value=0, max_value=len(text) - 1))
    char = draw(st.sampled_from("0123456789:-+.,TZ ٣९\uff10") | st.characters())
    return text[:position] + char + text[position + 1 :]


LAST_UPDATED_TEXT = (
    st.text(max_size=30)
    | near_timestamps()
    | near_timestamps()
    | st.from_regex(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}([.,]\d{0,12})?(Z|[+-]\d{2}:?\d{2})?")
    | st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{1,9})?"
        r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?",
        fullmatch=True,
    )
)


@st.composite
def mutated_seeds(draw: Any) -> bytes:
    """The documented example with keys deleted, added or given other values."""
    document: Any = copy.deepcopy(SEED_BODY)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        containers = [document]
        totals = document.get("totals")
        if isinstance(totals, dict):
            containers += [
                totals,
                *(totals[name] for name in MAPS if isinstance(totals.get(name), dict)),
            ]
        target = draw(st.sampled_from(containers))
        key = draw(st.sampled_from(sorted(target)) | NAME) if target else draw(NAME)
        action = draw(st.sampled_from(
            ["delete", "count", "name", "not_count", "json", "raw", "timestamp", "text", "whole"]
        ))  # fmt: skip
        label(f"mutated seed: {action}")
        if action == "delete":
            target.pop(key, None)
        elif action == "count":
            target[key] = draw(COUNT)
        elif action == "name":  # awkward names, lone surrogates included, in one map
            name_map = draw(st.sampled_from(containers[2:])) if len(containers) > 2 else {}
            name_map[draw(NAME)] = draw(COUNT)
        elif action == "not_count":
            target[key] = draw(NOT_A_COUNT)
        elif action == "json":
            target[key] = draw(JSON_VALUES)
        elif action == "raw":
            target[key] = draw(RAW)
        elif action == "timestamp":
            document["last_updated"] = draw(timestamps(1, 9999))[0]
        elif action == "text":
            document["last_updated"] = draw(LAST_UPDATED_TEXT)
        else:
            document = draw(JSON_VALUES) if draw(st.booleans()) else [document]
            break
    return draw(encodings(document))


JSON_TOKENS = st.sampled_from(
    [b"{", b"}", b"[", b"]", b":", b",", b" ", b"\n", b'"totals"', b'"by_type"',
     b'"by_category"', b'"by_source"', b'"last_updated"', b'"2024-01-15T10:00:00Z"',
     b'"2024-02-30T10:00:00Z"', b"0", b"1", b"-1", b"1.5", b"1e400", b"9223372036854775808",
     b"NaN", b"Infinity", b"null", b"true", b'"a"', b'"\\ud800"', b'"\\u00e9"', b"\xef\xbb\xbf",
     b"\xff", b"\xc3\xa9", b"\xed\xa0\x80", b'"', b"\\"]
)  # fmt: skip
DEEP = st.sampled_from([10, 500, 5000, 100000]).map(
    lambda n: b"[" * n + b"]" * n
) | st.sampled_from([10, 1000, 100000]).map(lambda n: b'{"totals":' * n + b"{}" + b"}" * n)


SEED_BYTES = json.dumps(SEED_BODY).encode()


@st.composite
def byte_mutated_seeds(draw: Any) -> bytes:
    """The documented example's bytes with bytes deleted, inserted, replaced or re-digited."""
    data = bytearray(SEED_BYTES)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(st.integers(min_value=0, max_value=len(data)))
        end = draw(st.integers(min_value=start, max_value=min(len(data), start + 16)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "token", "digit"]))
        if action == "delete":
            del data[start:end]
        elif action == "insert":
            data[start:start] = draw(st.binary(min_size=1, max_size=4))
        elif action == "replace":
            data[start:end] = draw(st.binary(max_size=end - start + 1))
        elif action == "token":
            data[start:end] = draw(JSON_TOKENS)
        else:
            digits = [i for i, byte in enumerate(data) if 0x30 <= byte <= 0x39]
            if digits:
                data[draw(st.sampled_from(digits))] = draw(st.sampled_from(b"0123456789-."))
    return bytes(data)


# -- 1. anything the API might send: a snapshot or a ResponseError, never anything else --


@settings(FUZZ, max_examples=BUDGETS["arbitrary_bytes"])
@given(st.binary(max_size=200) | DEEP)
def test_arbitrary_bytes_give_a_snapshot_or_a_response_error(body: bytes) -> None:
    check_verdict(body)


@settings(FUZZ, max_examples=BUDGETS["json_shaped_bytes"])
@given(st.lists(JSON_TOKENS, max_size=40).map(b"".join))
def test_json_shaped_bytes_give_a_snapshot_or_a_response_error(body: bytes) -> None:
    check_verdict(body)


MAYBE_COUNTS = (
    JSON_VALUES
    | st.dictionaries(NAME, COUNT, max_size=4)
    | st.dictionaries(NAME, COUNT | NOT_A_COUNT, max_size=3)
)
SKELETONS = st.fixed_dictionaries(
    {"totals": st.fixed_dictionaries({}, optional=dict.fromkeys(MAPS, MAYBE_COUNTS))},
    optional={"last_updated": JSON_VALUES | LAST_UPDATED_TEXT | timestamps().map(lambda t: t[0])},
)


@settings(FUZZ, max_examples=BUDGETS["arbitrary_json_values"])
@given(st.data())
def test_arbitrary_json_values_give_a_snapshot_or_a_response_error(data: Any) -> None:
    document = data.draw(JSON_VALUES | SKELETONS | RAW)
    snapshot = check_verdict(data.draw(encodings(document)))
    label("accepted" if snapshot else "refused")


@settings(FUZZ, max_examples=BUDGETS["mutated_seed"])
@given(mutated_seeds())
def test_mutated_seed_documents_are_judged_by_the_rules(body: bytes) -> None:
    snapshot = check_verdict(body)
    label("accepted" if snapshot else "refused")
    if expected_verdict(body) is None:
        label("lenient last_updated (verdict not asserted)")


SEED_COUNTS = [(name, key) for name in MAPS for key in SEED_BODY["totals"][name]]


@settings(FUZZ, max_examples=BUDGETS["one_seed_count"])
@given(st.sampled_from(SEED_COUNTS), COUNT | NOT_A_COUNT | RAW, st.booleans())
def test_one_count_of_the_seed_replaced_is_judged_by_the_rules(
    where: Tuple[str, str], value: Any, ensure_ascii: bool
) -> None:
    name, key = where
    document = copy.deepcopy(SEED_BODY)
    document["totals"][name][key] = value
    body = to_json(document, ensure_ascii, (", ", ": ")).encode("utf-8", "surrogatepass")
    verdict = expected_verdict(body)
    assert verdict is not None
    label(f"verdict={verdict}")
    try:
        decoded(body)
    except (ValueError, _RefusedError):
        assert check_verdict(body) is None  # not UTF-8, not JSON, or NaN/Infinity
        return
    if verdict:
        assert check_verdict(body).totals.as_dict()[name][key] == decoded(body)["totals"][name][key]
    else:
        field = f"totals.{name}[{json.dumps(key, ensure_ascii=False)}]"
        reason = re.escape(field) + " is .*not a non-negative integer"
        sent = decoded(body)["totals"][name][key]
        if type(sent) is int and 0 <= sent <= MAX_COUNT:  # a count, but the map overflows
            reason = re.escape(f"the counts of totals.{name} add up to more than {MAX_COUNT}")
        with pytest.raises(ResponseError, match=reason):
            parse_snapshot(body)


@settings(FUZZ, max_examples=BUDGETS["last_updated_variants"])
@given(LAST_UPDATED_TEXT | timestamps(1, 9999).map(lambda t: t[0]), st.booleans())
def test_last_updated_variants_are_judged_by_the_rules(text: str, ensure_ascii: bool) -> None:
    document = {**SEED_BODY, "last_updated": text}
    body = to_json(document, ensure_ascii, (", ", ": ")).encode("utf-8", "surrogatepass")
    snapshot = check_verdict(body)
    verdict = expected_verdict(body)
    label("lenient, accepted" if verdict is None and snapshot else f"verdict={verdict}")


@settings(FUZZ, max_examples=BUDGETS["byte_mutated_seed"])
@given(byte_mutated_seeds())
def test_byte_mutated_seed_bodies_are_judged_by_the_rules(body: bytes) -> None:
    snapshot = check_verdict(body)
    label("accepted" if snapshot else "refused")


@st.composite
def duplicated_keys(draw: Any) -> bytes:
    """A valid document with a key that is read written twice (top, totals or a map)."""
    document, _ = draw(valid_documents())
    totals = document["totals"]
    where = draw(st.sampled_from(["document", "totals", *(n for n in MAPS if totals[n])]))
    target = {"document": document, "totals": totals}.get(where) or totals[where]
    pairs = list(target.items())
    known = {"document": ["last_updated", "totals"], "totals": list(MAPS)}.get(where)
    key = draw(st.sampled_from(sorted(known or target)))
    value = target[key] if draw(st.booleans()) else draw(COUNT | VALID_JSON_VALUES)
    pairs.insert(draw(st.integers(min_value=0, max_value=len(pairs))), (key, value))
    if where == "document":
        return draw(encodings(Pairs(pairs)))
    if where == "totals":
        document["totals"] = Pairs(pairs)
    else:
        totals[where] = Pairs(pairs)
    return draw(encodings(document))


@settings(FUZZ, max_examples=BUDGETS["duplicate_keys"])
@given(duplicated_keys())
def test_a_key_written_twice_is_refused(body: bytes) -> None:
    assert expected_verdict(body) is False
    with pytest.raises(ResponseError, match="appears twice in one object"):
        parse_snapshot(body)


@settings(FUZZ, max_examples=BUDGETS["duplicate_keys"])
@given(valid_documents(), st.booleans(), VALID_JSON_VALUES, VALID_JSON_VALUES)
def test_an_extra_written_twice_keeps_its_last_value(
    generated: Tuple[Dict[str, Any], datetime], in_totals: bool, first: Any, last: Any
) -> None:
    document, _ = generated
    target = document["totals"] if in_totals else document
    name = "_twice_" + str(len(target))  # never a key that is read
    target[name] = last
    pairs = [(name, first), *target.items()]
    if in_totals:
        document["totals"] = Pairs(pairs)
        body = to_json(document, True, (", ", ": ")).encode()
    else:
        body = to_json(Pairs(pairs), True, (", ", ": ")).encode()
    assert expected_verdict(body) is True
    snapshot = outcome(body)
    assert snapshot is not None
    assert (snapshot.extras["totals"] if in_totals else snapshot.extras)[name] == last


# -- 2. valid bodies are accepted with exactly the counts sent ---------------------------


@settings(FUZZ, max_examples=BUDGETS["valid_bodies"])
@given(valid_documents(), st.sampled_from([b"", b"\xef\xbb\xbf"]), SEPARATORS)
def test_valid_bodies_are_accepted_with_the_counts_sent(
    generated: Tuple[Dict[str, Any], datetime], bom: bytes, separators: Tuple[str, str]
) -> None:
    document, instant = generated
    sent = {name: document["totals"][name] for name in MAPS}
    escaped, raw = (
        bom + to_json(document, ensure_ascii, separators).encode("utf-8")
        for ensure_ascii in (True, False)
    )
    snapshot = parse_snapshot(escaped)
    assert parse_snapshot(raw) == snapshot  # \u escapes or UTF-8: the same snapshot
    assert expected_verdict(raw) is True
    assert snapshot.totals.as_dict() == sent
    assert snapshot.totals.total_iocs == sum(sent["by_type"].values())
    consistent = sum(sent["by_type"].values()) == sum(sent["by_category"].values())
    assert snapshot.totals.consistent is consistent
    label(f"consistent={consistent}")
    assert snapshot.last_updated == document["last_updated"]
    assert snapshot.last_updated_at == instant
    assert snapshot.last_updated_at.utcoffset() == instant.utcoffset()
    check_accepted(raw, snapshot)


# -- 3. two polls linked by the checkpoint: totals, deltas and times ---------------------


@st.composite
def next_maps(draw: Any, first: Dict[str, Dict[str, int]]) -> Dict[str, Dict[str, int]]:
    """The next poll's maps: keys kept, changed, gone or new (or all new)."""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return draw(balanced_maps())
    maps = {}
    for name in MAPS:
        counts = {}
        for key, count in first[name].items():
            change = draw(st.sampled_from(["same", "other", "gone"]))
            if change != "gone":
                counts[key] = count if change == "same" else draw(COUNT)
        for key, count in draw(st.dictionaries(VALID_NAME, COUNT, max_size=3)).items():
            counts.setdefault(key, count)
        maps[name] = within_64_bits(counts)
    return maps


@st.composite
def two_polls(draw: Any) -> Tuple[Dict[str, Any], Dict[str, Any], datetime]:
    first, _ = draw(valid_documents(extras=1))
    maps = draw(next_maps({name: first["totals"][name] for name in MAPS}))
    second, instant = draw(valid_documents(maps, extras=1))
    return first, second, instant


@settings(FUZZ, max_examples=BUDGETS["two_polls"])
@given(two_polls(), moments(), moments(), st.none() | st.text(max_size=20), st.booleans())
def test_the_next_event_carries_totals_and_deltas_against_the_checkpoint(
    polls: Tuple[Dict[str, Any], Dict[str, Any], datetime],
    first_at: datetime,
    second_at: datetime,
    request_id: Optional[str],
    ensure_ascii: bool,
) -> None:
    first_doc, second_doc, second_instant = polls
    body = [
        to_json(document, ensure_ascii, (",", ":")).encode("utf-8")
        for document in (first_doc, second_doc)
    ]
    first, second = parse_snapshot(body[0]), parse_snapshot(body[1])
    before = {name: first_doc["totals"][name] for name in MAPS}
    after = {name: second_doc["totals"][name] for name in MAPS}

    previous = checkpoint_round_trip(first, first_at)
    assert previous.totals.as_dict() == before
    assert previous.collected_at == first_at
    assert previous.last_updated == first_doc["last_updated"]
    event = event_of(second, second_at, previous, request_id)

    extras = extras_sent(second_doc)
    assert set(event) == {
        "collected_at", "last_updated", "feed_age_seconds", "account", "input", "api_host",
        "total_iocs", "consistent", "totals", "delta", "seconds_since_previous",
        "source_unchanged_seconds", "schema_version", *(["request_id"] if request_id else []),
        *(["api_extra"] if extras else []),
    }  # fmt: skip
    assert event.get("api_extra", {}) == extras
    unchanged = max(exact_floor_seconds(second_at, first_at), 0)
    assert event["source_unchanged_seconds"] == {
        source: unchanged if before["by_source"].get(source) == count else 0
        for source, count in after["by_source"].items()
    }
    assert event["totals"] == after
    assert event["total_iocs"] == sum(after["by_type"].values())
    assert event["consistent"] is (
        sum(after["by_type"].values()) == sum(after["by_category"].values())
    )
    delta = event["delta"]
    assert set(delta) == {"total_iocs", *MAPS}
    assert delta["total_iocs"] == sum(after["by_type"].values()) - sum(before["by_type"].values())
    for name in MAPS:
        assert set(delta[name]) == set(before[name]) | set(after[name])
        for key, change in delta[name].items():
            assert change == after[name].get(key, 0) - before[name].get(key, 0)
        assert sum(delta[name].values()) == sum(after[name].values()) - sum(before[name].values())
    label("some delta non-zero" if any(any(delta[n].values()) for n in MAPS) else "all deltas 0")

    microseconds = (second_at - first_at) // timedelta(microseconds=1)
    assert event["seconds_since_previous"] == round(Fraction(microseconds, 10**6))
    assert event["feed_age_seconds"] == exact_floor_seconds(second_at, second_instant)
    collected = datetime.strptime(event["collected_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert collected.replace(tzinfo=timezone.utc) == second_at
    assert event["last_updated"] == second_doc["last_updated"]
    assert (event["account"], event["input"], event["api_host"]) == NAMES
    assert event.get("request_id") == (request_id or None)
    assert event["schema_version"] == 1

    assert json.loads(json.dumps(event, ensure_ascii=False)) == event
    assert json.loads(json.dumps(event)) == event
    check_event_xml(event, second)


# -- 4. what the vendor adds: any extras, any cache header values -----------------------


@settings(FUZZ, max_examples=BUDGETS["extras"])
@given(st.dictionaries(NAME, JSON_VALUES, max_size=3), st.dictionaries(NAME, JSON_VALUES,
       max_size=2), st.booleans(), st.none() | JSON_VALUES)  # fmt: skip
def test_any_extras_are_carried_verbatim_in_an_event_that_stays_json_and_xml(
    top: Dict[str, Any], in_totals: Dict[str, Any], ensure_ascii: bool, twice: Any
) -> None:
    document = copy.deepcopy(SEED_BODY)
    document.update({key: value for key, value in top.items() if key not in KNOWN_KEYS})
    document["totals"].update({key: v for key, v in in_totals.items() if key not in MAPS})
    if twice is not None:  # a key written twice in an extra: carried, the last value kept
        document["x_twice"] = Pairs([("k", 0), ("k", twice)])
        label("a key twice in an extra")
    body = to_json(document, ensure_ascii, (",", ":")).encode("utf-8", "surrogatepass")
    snapshot = check_verdict(body)  # refused only for what is not JSON: NaN, bad UTF-8
    label("accepted" if snapshot else "refused")
    if snapshot is not None:
        assert snapshot.extras == extras_sent(json.loads(body.decode("utf-8")))


HEADER_TEXT = (
    st.text(max_size=70)
    | st.integers(min_value=-5, max_value=2**70).map(str)
    | st.sampled_from(["true", "FALSE", " true ", "yes", "1", ""])
    | timestamps().map(lambda t: t[0])
    | LAST_UPDATED_TEXT
)


@settings(FUZZ, max_examples=BUDGETS["cache_headers"])
@given(st.fixed_dictionaries({}, optional={
    "X-Cache-Updated-At": HEADER_TEXT, "X-Cache-Age-Seconds": HEADER_TEXT,
    "X-Cache-Stale": HEADER_TEXT}))  # fmt: skip
def test_any_cache_header_values_give_well_typed_fields_or_none(headers: Dict[str, str]) -> None:
    cache = CacheHeaders.from_headers(headers)
    kept = {
        "X-Cache-Updated-At": cache.updated_at, "X-Cache-Age-Seconds": cache.age_seconds,
        "X-Cache-Stale": cache.stale,
    }  # fmt: skip
    ignored = {header.name for header in cache.ignored}
    for name, value in kept.items():
        assert (value is not None) + (name in ignored) == (name in headers)
    if cache.updated_at is not None:
        assert cache.updated_at == headers["X-Cache-Updated-At"].strip()
        assert cache.updated_at_time is not None
    if cache.age_seconds is not None:
        assert 0 <= cache.age_seconds <= MAX_COUNT
        assert str(cache.age_seconds) == (headers["X-Cache-Age-Seconds"].strip().lstrip("0") or "0")
    if cache.stale is not None:
        assert headers["X-Cache-Stale"].strip().lower() == str(cache.stale).lower()
    snapshot = parse_snapshot(SEED_BYTES)
    event = build_event(snapshot, collected_at=COLLECTED_AT, account="a", input_name="i",
                        api_host="h", previous=None, cache=cache)  # fmt: skip
    check_event_xml(event, snapshot)


def test_the_budgets_add_up_to_ten_thousand_bodies() -> None:
    bodies = sum(count * BODIES_PER_EXAMPLE.get(name, 1) for name, count in BUDGETS.items())
    assert bodies >= 10_000


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ufffe", "\\uffff"])
def test_names_xml_cannot_carry_are_written_as_json_escapes(escape: str) -> None:
    """Such a name is accepted (valid JSON), and once broke splunklib's XML stream."""
    body = (
        '{"totals": {"by_type": {"' + escape + '": 1}, "by_category": {}, "by_source": {}},'
        ' "last_updated": "2024-01-15T10:00:00Z"}'
    ).encode()
    snapshot = parse_snapshot(body)
    assert escape in check_event_xml(event_of(snapshot, COLLECTED_AT), snapshot)
