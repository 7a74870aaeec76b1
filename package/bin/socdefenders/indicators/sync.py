"""One run of an indicators input: page through ``GET /api/v1/iocs`` into the collection.

A sync reads every stream of the plan (:mod:`.plan`) from ``since`` to its end, page by
page. Each page is all or nothing: under the writer lock its indicators are merged with
the stored ones, the events of those added or changed are written, then the documents,
then the progress and the request budget in one checkpoint save. A run that is stopped
(the daily budget, a rate limit, an error, the process killed) keeps the progress of the
pages it finished; the next run resumes the sync there. Nothing here imports Splunk: the
API, the collection, the checkpoint and the event writer are the ports below.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import (
    Any,
    Callable,
    ContextManager,
    Dict,
    Iterator,
    List,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
)

from ..client import ApiResponse
from ..errors import CheckpointError, CollectionError, ResponseError
from ..stats.event import event_text
from ..stats.poll import LogNote
from ..timestamps import utc_now
from .budget import Budget, is_free
from .documents import (
    changed,
    document_and_event,
    document_key,
    epoch_value,
    from_document,
    indicator_event,
)
from .page import Page, page_of, record_id
from .plan import REQUESTED_LIMIT, Filters, Stream, stream_name
from .records import Indicator, merge, parse_record
from .settings import IndicatorsInputConfig
from .state import CompletedSync, Counters, IndicatorsState, SyncInProgress, utc_text

SINCE_OVERLAP_SECONDS = 900  # the vendor's 10-minute cache cycle plus 5 minutes of skew
MAX_ANCHOR_OVERLAP = 100  # records re-read at the start of each page after the first
MAX_RATE_LIMIT_WAIT_SECONDS = 60  # a nearer X-RateLimit-Reset is waited for
FREE_LOOKBACK_SECONDS = 86400  # the API clamps a Free key's `since` to one day
MAX_PAGES_WITHOUT_NEWS = 2  # full pages in a row holding only records of the page before
EXPIRED_EVENT_BATCH = 1000
DAY_SECONDS = 86400

# -------------------------------------------------------------------------- the ports


class PageSource(Protocol):
    """The API: one page of ``GET /api/v1/iocs`` (see ``page.ClientPageSource``)."""

    requests_sent: int  # attempts that reached the API, retries included

    def fetch(self, params: Sequence[Tuple[str, str]]) -> ApiResponse:
        """A 200 answer, or ``CollectionError``."""


class IndicatorStore(Protocol):
    """The KV store collection ``socdefenders_iocs``."""

    def find(self, keys: Sequence[str]) -> Dict[str, dict]:
        """The stored documents among ``keys``, by ``_key``."""

    def save(self, documents: Sequence[dict]) -> None:
        """Upsert by ``_key``."""

    def expired(self, cutoff_epoch: int) -> Iterator[dict]:
        """The documents whose ``last_seen_epoch < cutoff_epoch``."""

    def delete_expired(self, cutoff_epoch: int) -> None:
        """Remove them (one request)."""

    def count_by_type(self) -> Dict[str, int]:
        """Exact document counts per type, the whole collection."""

    def writer_lock(self) -> ContextManager[None]:
        """Held while a page or the expiry is written (every indicators input)."""


class StateStore(Protocol):
    """The checkpoint collection: this input's state and its account's budget."""

    def load(self) -> Optional[dict]:
        """This input's state (``None``: none; may raise ``CheckpointError``)."""

    def load_budget(self, account: str) -> Optional[dict]:
        """The account's budget record (``None``: none)."""

    def save(self, state: dict, budget: Optional[Tuple[str, dict]]) -> None:
        """The state, and ``(account, budget record)``, in one request."""


class EventSink(Protocol):
    def indicator_events(self, texts: Sequence[str]) -> None:
        """Write ``socdefenders:ioc`` events."""


@dataclass(frozen=True)
class SyncPorts:
    source: PageSource
    store: IndicatorStore
    state: StateStore
    events: EventSink


# ------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class SyncResult:
    """What one run did: the summary event, its INFO line, the other lines to log."""

    summary: Dict[str, Any]  # the socdefenders:ioc:sync event
    summary_text: str  # ... as the event's text
    log_fields: Dict[str, object]  # the fields of the run's INFO line
    notes: Tuple[LogNote, ...] = ()
    error: Optional[CollectionError] = None  # the failure that ended the run, if any
    outcome: str = "completed"  # completed | budget_reached | failed
    state: IndicatorsState = field(default_factory=IndicatorsState)  # as saved

    @property
    def completed(self) -> bool:
        return self.outcome == "completed"


# --------------------------------------------------------------------------- the sync


def anchor_overlap(page_limit: Optional[int]) -> int:
    """Records each page after the first re-reads of the page before (10 Free, 100 Pro)."""
    return min(MAX_ANCHOR_OVERLAP, (page_limit or 0) // 10)


def first_since(now: datetime, lookback_days: int) -> str:
    return utc_text(now - timedelta(days=lookback_days))


def _shift(text: str, seconds: int) -> str:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    return (moment + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Run:
    """The mutable bookkeeping of one run (the sync's own state is immutable)."""

    config: IndicatorsInputConfig
    ports: SyncPorts
    now: Callable[[], datetime]
    state: IndicatorsState
    progress: SyncInProgress
    resumed: bool
    counters: Counters = field(default_factory=Counters)
    notes: List[LogNote] = field(default_factory=list)
    outcome: str = "completed"
    error: Optional[CollectionError] = None
    gap_in_run: bool = False
    last_response: Optional[ApiResponse] = None
    budget: Optional[Budget] = None


def _note(run: _Run, level: int, action: str, **fields: object) -> None:
    run.notes.append(LogNote(level, action, dict(fields)))


def _start(
    state: IndicatorsState, filters: Filters, config: IndicatorsInputConfig, now: datetime
) -> Tuple[SyncInProgress, bool, List[LogNote]]:
    """The sync this run works on: the one in progress, or a new one (and the notes).

    A new sync reads from the input's lookback when there was none before, or when the
    filters now let through what the last sync did not; after a sync with a suspected gap
    from that sync's ``since``; otherwise from the last start minus the overlap. A sync
    in progress whose filters changed restarts at its ``since`` (earlier if widened)."""
    current = state.sync
    if current is not None and current.fingerprint == filters.fingerprint:
        return replace(current, runs=current.runs + 1), True, []
    streams = filters.streams()
    lookback = first_since(now, config.lookback_days)
    if current is not None:
        widened = filters.widens(current.filters) and lookback < current.since
        progress = SyncInProgress(
            started_at=current.started_at,
            since=lookback if widened else current.since,
            filters=filters,
            streams=streams,
            api_totals=(None,) * len(streams),
            page_limit=current.page_limit,
            from_lookback=widened or current.from_lookback,
        )
        note = LogNote(
            logging.INFO,
            "sync_restarted",
            {
                "reason": "the input's IOC types or minimum confidence changed",
                "since": progress.since,
            },
        )
        return progress, False, [note]
    notes: List[LogNote] = []
    completed = state.last_completed
    from_lookback = True
    if completed is None:
        since = lookback
    elif filters.widens(completed.filters):
        since = lookback
        notes.append(
            LogNote(
                logging.INFO,
                "sync_widened",
                {
                    "reason": "the input now takes IOC types or confidences it did not",
                    "since": since,
                },
            )
        )
    elif completed.gap_suspected:
        since = completed.since  # the last sync may have missed records: read them again
        from_lookback = completed.from_lookback
    else:
        since = _shift(completed.started_at, -SINCE_OVERLAP_SECONDS)
        from_lookback = False
    progress = SyncInProgress(
        started_at=utc_text(now),
        since=since,
        filters=filters,
        streams=streams,
        api_totals=(None,) * len(streams),
        page_limit=completed.page_limit if completed is not None else None,
        from_lookback=from_lookback,
    )
    return progress, False, notes


def _load_state(ports: SyncPorts, notes: List[LogNote]) -> IndicatorsState:
    try:
        return IndicatorsState.from_dict(ports.state.load())
    except CheckpointError as problem:
        notes.append(
            LogNote(
                logging.WARNING,
                "checkpoint_unreadable",
                {"reason": str(problem), "effect": "the sync starts over"},
            )
        )
        return IndicatorsState()


def _load_budget(run: _Run) -> Budget:
    account = run.config.account
    try:
        return Budget.from_record(run.ports.state.load_budget(account), run.now())
    except CheckpointError as problem:
        _note(
            run,
            logging.WARNING,
            "budget_unreadable",
            account=account,
            reason=str(problem),
            effect="today's request count starts again from 0",
        )
        return Budget.from_record(None, run.now())


def _request(progress: SyncInProgress) -> Tuple[int, List[Tuple[str, str]]]:
    """The offset asked for and the query of the next page of the current stream."""
    overlap = anchor_overlap(progress.page_limit) if progress.offset else 0
    offset = max(0, progress.offset - overlap)
    stream: Stream = progress.streams[progress.stream]
    params = [
        *stream,
        ("since", progress.since),
        ("limit", str(REQUESTED_LIMIT)),
        ("offset", str(offset)),
    ]
    return offset, params


def _identity(record: Any) -> str:
    found = record_id(record)
    if found is not None:
        return "id:" + found
    return "json:" + json.dumps(record, sort_keys=True, default=str)


@dataclass
class _PageWork:
    """One page, parsed and merged within itself, before anything is written."""

    indicators: Dict[str, Indicator]
    counters: Counters


def _parse(page: Page, filters: Filters, observed_at: str, reread: Sequence[str] = ()) -> _PageWork:
    """Parse and merge one page. ``reread``: ids of the page before that this request
    reads again (the anchor window); an invalid one was counted with that page."""
    invalid = filtered = 0
    already_counted = set(reread)
    merged: Dict[str, Indicator] = {}
    for raw in page.records:
        indicator = parse_record(raw, observed_at)
        if indicator is None:
            invalid += record_id(raw) not in already_counted
            continue
        if not filters.keeps(indicator.type, indicator.confidence):
            filtered += 1
            continue
        key = document_key(indicator.type, indicator.value)
        known = merged.get(key)
        merged[key] = indicator if known is None else merge(known, indicator)
    counters = Counters(
        pages=1,
        records_received=len(page.records),
        invalid_records=invalid,
        filtered_records=filtered,
    )
    return _PageWork(merged, counters)


def _stored(document: dict, indicator: Indicator) -> Optional[Indicator]:
    """The indicator a stored document holds; ``None`` when it cannot be read or holds
    another indicator (edited by hand): the page's version then replaces it."""
    try:
        stored = from_document(document)
    except (ValueError, TypeError, KeyError):
        return None
    return stored if stored.key == indicator.key else None


def _write_page(
    run: _Run, work: _PageWork, written_at: datetime
) -> Tuple[List[str], List[dict], Counters]:
    """Under the lock: the events and documents of the page's added and changed
    indicators, merged with what the collection holds."""
    config = run.config
    epoch = int(written_at.timestamp())
    cutoff = utc_text(written_at - timedelta(days=config.max_age_days))
    existing = run.ports.store.find(list(work.indicators)) if work.indicators else {}
    events: List[str] = []
    documents: List[dict] = []
    added = updated = skipped = 0
    for key, indicator in work.indicators.items():
        document = existing.get(key)
        stored = _stored(document, indicator) if document is not None else None
        merged = indicator if stored is None else merge(stored, indicator)
        if merged.last_seen < cutoff:
            skipped += 1  # already expired: the expiry removes any stored document
            continue
        if document is None:
            action, added_epoch = "added", epoch
        elif changed(document, merged):
            action = "updated"
            first_added = epoch_value(document.get("added_epoch"))
            added_epoch = epoch if first_added is None else first_added
        else:
            continue
        # merged came from parse_record, merge or from_document: its event is the one of
        # its document, without reading the document back
        new, event = document_and_event(
            merged,
            account=config.account,
            added_epoch=added_epoch,
            updated_epoch=epoch,
            action=action,
            input_name=config.input_name,
        )
        events.append(event)
        documents.append(new)
        if action == "added":
            added += 1
        else:
            updated += 1
    counters = Counters(indicators_added=added, indicators_updated=updated, skipped_expired=skipped)
    return events, documents, counters


def _advance(
    progress: SyncInProgress, page: Page, request_offset: int, gap: bool
) -> SyncInProgress:
    """The progress after this page: the next offset and anchors, or the next stream."""
    totals = list(progress.api_totals) + [None] * (len(progress.streams) - len(progress.api_totals))
    totals[progress.stream] = page.total
    moved = replace(
        progress,
        page_limit=page.limit,
        api_totals=tuple(totals),
        gap_suspected=progress.gap_suspected or gap,
    )
    if page.is_last:
        return moved.next_stream()
    overlap = anchor_overlap(page.limit)
    tail = [record_id(record) for record in page.records[-overlap:]] if overlap else []
    return replace(
        moved,
        offset=request_offset + len(page.records),
        tail_ids=tuple(found for found in tail if found is not None),
    )


def _next_state(run: _Run, progress: SyncInProgress, finished_at: datetime) -> IndicatorsState:
    if not progress.done:
        return IndicatorsState(progress, run.state.last_completed)
    completed = CompletedSync(
        started_at=progress.started_at,
        finished_at=utc_text(finished_at),
        since=progress.since,
        filters=progress.filters,
        gap_suspected=progress.gap_suspected,
        page_limit=progress.page_limit,
        api_total=progress.api_total,
        runs=progress.runs,
        counters=progress.counters,
        from_lookback=progress.from_lookback,
    )
    return IndicatorsState(None, completed)


def _save(run: _Run, state: IndicatorsState, requests: int, page_limit: Optional[int]) -> None:
    """The state and the account's budget (re-read under the lock) in one save."""
    budget = _load_budget(run).spend(requests, page_limit)
    run.ports.state.save(state.to_dict(), (run.config.account, budget.to_record()))
    run.budget = budget


def _fail(run: _Run, error: CollectionError, requests: int) -> None:
    """The run ends: nothing of the page is written; its requests count in the budget."""
    run.error, run.outcome = error, "failed"
    run.counters = run.counters.plus(Counters(requests=requests))
    progress = replace(
        run.progress, counters=run.progress.counters.plus(Counters(requests=requests))
    )
    state = IndicatorsState(progress, run.state.last_completed)
    with run.ports.store.writer_lock():
        _save(run, state, requests, run.progress.page_limit)
    run.state, run.progress = state, progress


def _gap_warning(run: _Run, request_offset: int, response: ApiResponse) -> None:
    progress = run.progress
    _note(
        run,
        logging.WARNING,
        "gap_suspected",
        stream=stream_name(progress.streams[progress.stream]),
        offset=request_offset,
        overlap=anchor_overlap(progress.page_limit),
        since=progress.since,
        request_id=response.request_id or "-",
        reason="none of the last records of the page before came back in the re-read "
        "overlap: records shifted between the two requests",
        effect="the next sync reads again from the same since",
    )


def _no_news(response: ApiResponse) -> ResponseError:
    error = ResponseError(
        f"the API returned {MAX_PAGES_WITHOUT_NEWS} full pages in a row holding only records "
        "of the page before: it does not seem to apply the offset parameter",
        fix="the sync stopped to save requests; if this persists, give the request_id to "
        "SOC Defenders support",
        error_code="offset_ignored",
    )
    error.status, error.request_id, error.attempts = 200, response.request_id, response.attempts
    return error


def _rate_limit_wait(response: ApiResponse, now: datetime) -> float:
    """Seconds to wait before the next request: the window is used up and resets soon."""
    rate = response.rate_limit
    if rate.remaining != 0 or rate.reset_epoch is None:
        return 0.0
    wait = rate.reset_epoch - now.timestamp()
    return wait if 0 < wait <= MAX_RATE_LIMIT_WAIT_SECONDS else 0.0


def _budget_allows(run: _Run) -> bool:
    """Whether the account's requests of today leave room for one more page."""
    budget = _load_budget(run)
    run.budget = budget
    page_limit = run.progress.page_limit
    if not budget.reached(page_limit):
        return True
    run.outcome = "budget_reached"
    _note(
        run,
        logging.WARNING,
        "budget_reached",
        account=run.config.account,
        day=budget.day,
        requests=budget.requests,
        budget=budget.limit(page_limit),
        effect="the sync keeps its progress and resumes on the next UTC day",
    )
    return False


def _gap(progress: SyncInProgress, request_offset: int, page: Page) -> bool:
    """None of the anchors (the last ids of the page before) came back in the re-read."""
    if request_offset >= progress.offset or not progress.tail_ids:
        return False
    ids = {record_id(record) for record in page.records}
    return not ids.intersection(progress.tail_ids)


def _commit(run: _Run, page: Page, request_offset: int, requests: int, gap: bool) -> SyncInProgress:
    """Under the writer lock: the page's events, documents, then progress and budget."""
    ports = run.ports
    received_at = run.now()
    reread = run.progress.tail_ids if request_offset < run.progress.offset else ()
    work = _parse(page, run.progress.filters, utc_text(received_at), reread)
    progress = _advance(run.progress, page, request_offset, gap)
    with ports.store.writer_lock():
        events, documents, written = _write_page(run, work, received_at)
        page_counters = work.counters.plus(written).plus(Counters(requests=requests))
        progress = replace(progress, counters=progress.counters.plus(page_counters))
        state = _next_state(run, progress, received_at)
        if events:
            ports.events.indicator_events(events)  # before the documents: at least once
        if documents:
            ports.store.save(documents)
        _save(run, state, requests, page.limit)
    run.state, run.counters = state, run.counters.plus(page_counters)
    return progress


def _pages(run: _Run, sleep: Callable[[float], None]) -> None:
    """Read pages until the sync is done, the budget is reached or a request fails."""
    source = run.ports.source
    previous: Optional[Set[str]] = None  # identities of the page before, same stream
    without_news = 0
    wait = 0.0
    while not run.progress.done and _budget_allows(run):
        if wait > 0:
            _note(run, logging.DEBUG, "rate_limit_wait", seconds=round(wait, 3))
            sleep(wait)
        request_offset, params = _request(run.progress)
        sent = source.requests_sent
        try:
            response = source.fetch(params)
            page = page_of(response)
        except CollectionError as error:
            _fail(run, error, source.requests_sent - sent)
            return
        requests = source.requests_sent - sent
        run.last_response = response
        identities = {_identity(record) for record in page.records}
        full = len(page.records) >= page.limit
        without_news = without_news + 1 if full and identities <= (previous or set()) else 0
        if without_news >= MAX_PAGES_WITHOUT_NEWS:
            _fail(run, _no_news(response), requests)
            return
        gap = _gap(run.progress, request_offset, page)
        if gap:
            _gap_warning(run, request_offset, response)
            run.gap_in_run = True
        progress = _commit(run, page, request_offset, requests, gap)
        same_stream = progress.stream == run.progress.stream
        previous, without_news = (identities, without_news) if same_stream else (None, 0)
        run.progress = progress
        wait = _rate_limit_wait(response, run.now())


def _expire(run: _Run) -> int:
    """Under the lock: the ``expired`` events, then one delete of every expired document."""
    config, ports = run.config, run.ports
    cutoff = int(run.now().timestamp()) - config.max_age_days * DAY_SECONDS
    expired = unreadable = 0
    with ports.store.writer_lock():
        batch: List[str] = []
        for document in ports.store.expired(cutoff):
            expired += 1
            try:
                text = indicator_event(document, action="expired", input_name=config.input_name)
            except ValueError:
                unreadable += 1  # edited by hand into no indicator: deleted without event
                continue
            batch.append(text)
            if len(batch) >= EXPIRED_EVENT_BATCH:
                ports.events.indicator_events(batch)
                batch = []
        if batch:
            ports.events.indicator_events(batch)
        if expired:
            ports.store.delete_expired(cutoff)
    if unreadable:
        _note(
            run,
            logging.WARNING,
            "expired_unreadable",
            documents=unreadable,
            reason="expired documents hold no readable indicator",
            effect="deleted without an expired event",
        )
    return expired


def _lookback_notes(run: _Run, now: datetime) -> None:
    """WARNINGs for a Free key (1 day of lookback) when records may be out of reach."""
    page_limit = run.progress.page_limit
    if page_limit is None or not is_free(page_limit):
        return
    reach = FREE_LOOKBACK_SECONDS - SINCE_OVERLAP_SECONDS
    if run.config.interval > reach:
        _note(
            run,
            logging.WARNING,
            "interval_beyond_lookback",
            interval=run.config.interval,
            page_limit=page_limit,
            limit_seconds=reach,
            reason="a Free key reads one day back; the next sync's since would be older",
            fix=f"set the interval to at most {reach} seconds",
        )
    progress = run.progress
    since = progress.since
    if progress.from_lookback:  # the API's clamp was expected when the sync started
        since = max(since, _shift(progress.started_at, -FREE_LOOKBACK_SECONDS))
    reachable = utc_text(now - timedelta(seconds=FREE_LOOKBACK_SECONDS))
    if since < reachable:
        _note(
            run,
            logging.WARNING,
            "since_beyond_lookback",
            since=progress.since,
            sync_started_at=progress.started_at,
            resumed=str(run.resumed).lower(),
            page_limit=page_limit,
            reason="a Free key reads one day back and this sync needs records older than that",
            effect=f"indicators updated before {reachable} and not read yet are missing "
            "until they are updated again",
        )


def _summary(
    run: _Run, started: datetime, finished: datetime, expired: int, sizes: Dict[str, int]
) -> Dict[str, Any]:
    config, counters, progress = run.config, run.counters, run.progress
    page_limit = progress.page_limit
    budget = run.budget
    summary: Dict[str, Any] = {
        "input": config.input_name,
        "account": config.account,
        "completed": run.outcome == "completed",
        "outcome": run.outcome,
        "resumed": run.resumed,
        "since": progress.since,
        "sync_started_at": progress.started_at,
        "streams": len(progress.streams),
        "pages": counters.pages,
        "requests": counters.requests,
        "records_received": counters.records_received,
        "indicators_added": counters.indicators_added,
        "indicators_updated": counters.indicators_updated,
        "indicators_expired": expired,
        "invalid_records": counters.invalid_records,
        "filtered_records": counters.filtered_records,
        "skipped_expired": counters.skipped_expired,
        "gap_suspected": run.gap_in_run or progress.gap_suspected,
        "lookup_size": sum(sizes.values()),
        "lookup_size_by_type": dict(sorted(sizes.items())),
        "api_total": progress.api_total,
        "page_limit": page_limit,
        "budget_requests": budget.requests if budget is not None else None,
        "budget_limit": budget.limit(page_limit) if budget is not None else None,
        "interval": config.interval,
        "ioc_types": list(config.ioc_types) or ["all"],
        "min_confidence": config.min_confidence,
        "duration_ms": max(0, round((finished - started).total_seconds() * 1000)),
    }
    if run.error is not None:
        error = run.error
        summary.update(
            error_category=error.category.value,
            http_status=error.status,
            error_code=error.error_code,
            request_id=error.request_id,
        )
    return summary


def _log_fields(summary: Dict[str, Any], run: _Run) -> Dict[str, object]:
    names = (
        "outcome",
        "resumed",
        "since",
        "streams",
        "pages",
        "requests",
        "records_received",
        "indicators_added",
        "indicators_updated",
        "indicators_expired",
        "invalid_records",
        "filtered_records",
        "lookup_size",
        "api_total",
        "page_limit",
        "gap_suspected",
        "duration_ms",
    )
    fields: Dict[str, object] = {}
    for name in names:
        value = summary[name]
        if isinstance(value, bool):
            value = str(value).lower()
        fields[name] = "-" if value is None else value
    response = run.last_response
    rate = response.rate_limit if response is not None else None
    fields["ratelimit_remaining"] = rate.remaining if rate and rate.remaining is not None else "-"
    fields["request_id"] = (response.request_id if response is not None else None) or "-"
    return fields


def run_sync(
    ports: SyncPorts,
    config: IndicatorsInputConfig,
    *,
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """One run: resume or start a sync, read pages while allowed, expire, summarise.

    A ``CollectionError`` of the API ends the run with its progress kept (``error``); an
    exception of a port (the collection, the checkpoint, the event writer) propagates
    and leaves the progress of the last page that was saved.
    """
    started = now()
    notes: List[LogNote] = []
    state = _load_state(ports, notes)
    filters = Filters(config.ioc_types, config.min_confidence)
    progress, resumed, start_notes = _start(state, filters, config, started)
    run = _Run(config, ports, now, state, progress, resumed, notes=notes + start_notes)
    _pages(run, sleep)
    expired = _expire(run)
    sizes = ports.store.count_by_type()
    finished = now()
    _lookback_notes(run, finished)
    summary = _summary(run, started, finished, expired, sizes)
    return SyncResult(
        summary=summary,
        summary_text=event_text(summary),
        log_fields=_log_fields(summary, run),
        notes=tuple(run.notes),
        error=run.error,
        outcome=run.outcome,
        state=run.state,
    )
