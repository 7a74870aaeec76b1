"""The checkpoint of one indicators input: the sync in progress and the last completed one.

The state is plain JSON (the checkpoint collection holds it as text under
``socdefenders_iocs://<input>``). A sync in progress says where to resume: which stream,
which offset, the ids at the end of the last page read (the anchors), the page size that
applied and the counters so far. Anything that does not read back as a state this
version wrote raises :class:`~socdefenders.errors.CheckpointError`; the caller logs it
once and starts over as if this were the first sync.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import CheckpointError
from .plan import Filters, Stream
from .settings import CONFIDENCE_LEVELS, IOC_TYPES

STATE_SCHEMA = 1
LOCK_KEY = "lock://socdefenders_iocs"  # the writer lock's record in the checkpoint collection

_UTC_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z", re.ASCII)


def state_key(input_name: str) -> str:
    """The checkpoint ``_key`` of an indicators input (a stats input may share its name)."""
    return f"socdefenders_iocs://{input_name}"


def utc_text(moment: datetime) -> str:
    """``2026-01-15T10:00:00Z``: whole seconds, fixed width (compares as text)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_moment(text: str) -> datetime:
    """The inverse of :func:`utc_text`; ``ValueError`` for any other form."""
    if not isinstance(text, str) or not _UTC_TEXT.match(text):
        raise ValueError("not a UTC time in whole seconds")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Counters:
    """What a sync (or one run of it) did."""

    pages: int = 0
    requests: int = 0
    records_received: int = 0
    indicators_added: int = 0
    indicators_updated: int = 0
    invalid_records: int = 0
    filtered_records: int = 0
    skipped_expired: int = 0  # merged last_seen already older than max_age_days

    def plus(self, other: Counters) -> Counters:
        return Counters(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> Dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, value: Any) -> Counters:
        if not isinstance(value, dict):
            raise ValueError("counters is not an object")
        return cls(**{f.name: _count(value.get(f.name, 0), f.name) for f in fields(cls)})


@dataclass(frozen=True)
class SyncInProgress:
    """A sync not finished yet: the next request is ``streams[stream]`` at ``offset``
    (minus the anchor overlap when ``offset`` is not 0)."""

    started_at: str
    since: str
    filters: Filters
    streams: Tuple[Stream, ...]
    stream: int = 0
    offset: int = 0
    tail_ids: Tuple[str, ...] = ()  # the last ids of the page before ``offset``
    page_limit: Optional[int] = None
    api_totals: Tuple[Optional[int], ...] = ()  # meta.total per stream, when read
    gap_suspected: bool = False
    runs: int = 1
    counters: Counters = field(default_factory=Counters)
    from_lookback: bool = False  # since is the input's lookback (a first or widened sync)

    @property
    def fingerprint(self) -> str:
        return self.filters.fingerprint

    @property
    def api_total(self) -> Optional[int]:
        known = [total for total in self.api_totals if total is not None]
        return sum(known) if known else None

    def next_stream(self) -> SyncInProgress:
        return replace(self, stream=self.stream + 1, offset=0, tail_ids=())

    @property
    def done(self) -> bool:
        return self.stream >= len(self.streams)


@dataclass(frozen=True)
class CompletedSync:
    """The last sync that read every stream to its end."""

    started_at: str
    finished_at: str
    since: str
    filters: Filters
    gap_suspected: bool = False
    page_limit: Optional[int] = None
    api_total: Optional[int] = None
    runs: int = 1
    counters: Counters = field(default_factory=Counters)
    from_lookback: bool = False

    @property
    def fingerprint(self) -> str:
        return self.filters.fingerprint


@dataclass(frozen=True)
class IndicatorsState:
    sync: Optional[SyncInProgress] = None
    last_completed: Optional[CompletedSync] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": STATE_SCHEMA,
            "sync": None if self.sync is None else _progress_dict(self.sync),
            "last_completed": (
                None if self.last_completed is None else _completed_dict(self.last_completed)
            ),
        }

    @classmethod
    def from_dict(cls, value: Any) -> IndicatorsState:
        """The state a checkpoint holds (``None``: no checkpoint); ``CheckpointError``."""
        if value is None:
            return cls()
        if not isinstance(value, dict) or value.get("schema") != STATE_SCHEMA:
            raise CheckpointError("the checkpoint is not a state this version wrote")
        try:
            sync = value.get("sync")
            completed = value.get("last_completed")
            return cls(
                None if sync is None else _progress(sync),
                None if completed is None else _completed(completed),
            )
        except (ValueError, TypeError, KeyError) as problem:
            raise CheckpointError(f"the checkpoint cannot be read back: {problem}") from None


def state_text(state: IndicatorsState) -> str:
    """The JSON text the checkpoint record's ``state`` holds."""
    return json.dumps(state.to_dict(), separators=(",", ":"), sort_keys=True)


def state_from_text(text: Optional[str]) -> Optional[Dict[str, Any]]:
    """The stored JSON text, decoded (``None`` for none); ``CheckpointError`` when it is
    not JSON."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise CheckpointError("the checkpoint is not JSON") from None


# ---------------------------------------------------------------- to and from JSON


def _filters_dict(filters: Filters) -> Dict[str, Any]:
    return {**filters.as_dict(), "fingerprint": filters.fingerprint}


def _progress_dict(sync: SyncInProgress) -> Dict[str, Any]:
    return {
        "started_at": sync.started_at,
        "since": sync.since,
        "filters": _filters_dict(sync.filters),
        "streams": [[list(pair) for pair in stream] for stream in sync.streams],
        "stream": sync.stream,
        "offset": sync.offset,
        "tail_ids": list(sync.tail_ids),
        "page_limit": sync.page_limit,
        "api_totals": list(sync.api_totals),
        "gap_suspected": sync.gap_suspected,
        "runs": sync.runs,
        "counters": sync.counters.as_dict(),
        "from_lookback": sync.from_lookback,
    }


def _completed_dict(completed: CompletedSync) -> Dict[str, Any]:
    return {
        "started_at": completed.started_at,
        "finished_at": completed.finished_at,
        "since": completed.since,
        "filters": _filters_dict(completed.filters),
        "gap_suspected": completed.gap_suspected,
        "page_limit": completed.page_limit,
        "api_total": completed.api_total,
        "runs": completed.runs,
        "counters": completed.counters.as_dict(),
        "from_lookback": completed.from_lookback,
    }


def _count(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} is not a non-negative integer")
    return value


def _optional_count(value: Any, name: str) -> Optional[int]:
    return None if value is None else _count(value, name)


def _time(value: Any, name: str) -> str:
    try:
        utc_moment(value)
    except ValueError:
        raise ValueError(f"{name} is not a UTC time") from None
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} is not true or false")
    return value


def _filters(value: Any) -> Filters:
    if not isinstance(value, Mapping):
        raise ValueError("filters is not an object")
    types = value.get("ioc_types")
    level = value.get("min_confidence")
    if not isinstance(types, list) or not all(name in IOC_TYPES for name in types):
        raise ValueError("filters.ioc_types is not a list of IOC types")
    if level not in CONFIDENCE_LEVELS:
        raise ValueError("filters.min_confidence is not a confidence level")
    filters = Filters(tuple(types), level)
    if value.get("fingerprint") != filters.fingerprint:
        raise ValueError("filters.fingerprint does not match the filters")
    return filters


def _streams(value: Any) -> Tuple[Stream, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("streams is not a non-empty list")
    streams: List[Stream] = []
    for stream in value:
        if not isinstance(stream, list):
            raise ValueError("a stream is not a list")
        pairs = []
        for pair in stream:
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            ):
                raise ValueError("a stream parameter is not a [name, value] pair")
            pairs.append((pair[0], pair[1]))
        streams.append(tuple(pairs))
    return tuple(streams)


def _progress(value: Any) -> SyncInProgress:
    if not isinstance(value, dict):
        raise ValueError("sync is not an object")
    streams = _streams(value["streams"])
    stream = _count(value["stream"], "stream")
    if stream >= len(streams):
        raise ValueError("stream is past the last stream")
    tail_ids = value["tail_ids"]
    if not isinstance(tail_ids, list) or not all(isinstance(i, str) for i in tail_ids):
        raise ValueError("tail_ids is not a list of strings")
    totals = value["api_totals"]
    if not isinstance(totals, list) or len(totals) > len(streams):
        raise ValueError("api_totals is not a list with one total per stream")
    page_limit = _optional_count(value["page_limit"], "page_limit")
    if page_limit == 0:
        raise ValueError("page_limit is 0")
    return SyncInProgress(
        started_at=_time(value["started_at"], "started_at"),
        since=_time(value["since"], "since"),
        filters=_filters(value["filters"]),
        streams=streams,
        stream=stream,
        offset=_count(value["offset"], "offset"),
        tail_ids=tuple(tail_ids),
        page_limit=page_limit,
        api_totals=tuple(_optional_count(total, "api_totals") for total in totals),
        gap_suspected=_flag(value["gap_suspected"], "gap_suspected"),
        runs=_count(value["runs"], "runs"),
        counters=Counters.from_dict(value["counters"]),
        from_lookback=_flag(value["from_lookback"], "from_lookback"),
    )


def _completed(value: Any) -> CompletedSync:
    if not isinstance(value, dict):
        raise ValueError("last_completed is not an object")
    page_limit = _optional_count(value["page_limit"], "page_limit")
    if page_limit == 0:
        raise ValueError("page_limit is 0")
    return CompletedSync(
        started_at=_time(value["started_at"], "started_at"),
        finished_at=_time(value["finished_at"], "finished_at"),
        since=_time(value["since"], "since"),
        filters=_filters(value["filters"]),
        gap_suspected=_flag(value["gap_suspected"], "gap_suspected"),
        page_limit=page_limit,
        api_total=_optional_count(value["api_total"], "api_total"),
        runs=_count(value["runs"], "runs"),
        counters=Counters.from_dict(value["counters"]),
        from_lookback=_flag(value["from_lookback"], "from_lookback"),
    )
