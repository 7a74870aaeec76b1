"""The indicators sync (``run_sync``) over in-memory ports and the generated corpus.

The API side is ``tests/support/ioc_corpus.py`` behind a small page source that returns
``ApiResponse`` objects and can raise scripted ``CollectionError``s; the collection, the
checkpoint collection and the event writer are in memory. Corpora are small so that the
whole file runs in seconds.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import random
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import pytest

from socdefenders.client import ApiResponse, RateLimit
from socdefenders.errors import (
    ApiError,
    CheckpointError,
    CollectionError,
    ErrorCategory,
    ResponseError,
)
from socdefenders.indicators.budget import budget_key
from socdefenders.indicators.documents import document_key
from socdefenders.indicators.page import (
    IOCS_PATH,
    MAX_PAGE_BYTES,
    PAGE_RETRY_POLICY,
    ClientPageSource,
    page_of,
    parse_page,
    record_id,
)
from socdefenders.indicators.plan import REQUESTED_LIMIT, Filters, stream_name
from socdefenders.indicators.records import LIST_BOUNDS
from socdefenders.indicators.settings import IndicatorsInputConfig
from socdefenders.indicators.state import IndicatorsState, utc_text
from socdefenders.indicators.sync import (
    SINCE_OVERLAP_SECONDS,
    SyncPorts,
    SyncResult,
    anchor_overlap,
    run_sync,
)
from tests.support.ioc_corpus import DAY, DEFAULT_NOW, ORDERS, Corpus, ParameterError, iso_utc

SUMMARY_FIELDS = {
    "input",
    "account",
    "completed",
    "since",
    "pages",
    "requests",
    "records_received",
    "indicators_added",
    "indicators_updated",
    "indicators_expired",
    "invalid_records",
    "lookup_size",
    "lookup_size_by_type",
    "api_total",
    "page_limit",
    "interval",
    "ioc_types",
    "min_confidence",
    "duration_ms",
}
ERROR_FIELDS = {"error_category", "http_status", "error_code", "request_id"}
EXTRA_FIELDS = {
    "outcome",
    "resumed",
    "sync_started_at",
    "streams",
    "filtered_records",
    "skipped_expired",
    "gap_suspected",
    "budget_requests",
    "budget_limit",
}
CONFIG = IndicatorsInputConfig(account="prod", input_name="iocs", lookback_days=30)
FREE_OVERLAP = 10  # min(100, 100 // 10)


# ------------------------------------------------------------------ in-memory ports


class Clock:
    """The node's clock: fixed unless advanced or slept on."""

    def __init__(self, epoch: float = DEFAULT_NOW) -> None:
        self.epoch = float(epoch)
        self.sleeps: List[float] = []

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch, timezone.utc)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.epoch += seconds

    def advance(self, seconds: float) -> None:
        self.epoch += seconds


class KilledError(RuntimeError):
    """The process died (a port raised something that is not an API failure)."""


def _stored(value: Any) -> Any:
    return json.loads(json.dumps(value))  # what a round trip through storage leaves


class MemoryStore:
    """The indicator collection: documents by ``_key``; checks that writes hold the lock."""

    def __init__(self) -> None:
        self.documents: Dict[str, dict] = {}
        self.locked = False
        self.calls: Counter = Counter()
        self.fail_save_on: Optional[int] = None  # the n-th save raises KilledError

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        assert not self.locked, "the writer lock is not re-entrant"
        self.locked = True
        try:
            yield
        finally:
            self.locked = False

    def find(self, keys: Sequence[str]) -> Dict[str, dict]:
        assert self.locked
        self.calls["find"] += 1
        return {key: _stored(self.documents[key]) for key in keys if key in self.documents}

    def save(self, documents: Sequence[dict]) -> None:
        assert self.locked
        self.calls["save"] += 1
        if self.calls["save"] == self.fail_save_on:
            raise KilledError("killed while saving documents")
        for document in documents:
            self.documents[document["_key"]] = _stored(document)

    def expired(self, cutoff_epoch: int) -> Iterator[dict]:
        assert self.locked
        self.calls["expired"] += 1
        for document in list(self.documents.values()):
            if document["last_seen_epoch"] < cutoff_epoch:
                yield _stored(document)

    def delete_expired(self, cutoff_epoch: int) -> None:
        assert self.locked
        self.calls["delete_expired"] += 1
        self.documents = {
            key: document
            for key, document in self.documents.items()
            if document["last_seen_epoch"] >= cutoff_epoch
        }

    def count_by_type(self) -> Dict[str, int]:
        self.calls["count_by_type"] += 1
        return dict(Counter(document["type"] for document in self.documents.values()))


class MemoryStateStore:
    """The checkpoint collection: one state and the budgets; saves must hold the lock."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.state: Optional[dict] = None
        self.budgets: Dict[str, dict] = {}
        self.saves = 0

    def load(self) -> Optional[dict]:
        return copy.deepcopy(self.state)

    def load_budget(self, account: str) -> Optional[dict]:
        return copy.deepcopy(self.budgets.get(budget_key(account)))

    def save(self, state: dict, budget: Optional[Tuple[str, dict]]) -> None:
        assert self.store.locked
        self.saves += 1
        self.state = _stored(state)
        if budget is not None:
            self.budgets[budget_key(budget[0])] = _stored(budget[1])

    @property
    def sync(self) -> dict:
        assert self.state is not None
        return self.state["sync"]

    def requests_today(self, account: str = "prod") -> int:
        return self.budgets[budget_key(account)]["requests"]


class MemorySink:
    def __init__(self) -> None:
        self.texts: List[str] = []
        self.calls = 0
        self.fail_on: Optional[int] = None  # the n-th call raises KilledError

    def indicator_events(self, texts: Sequence[str]) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise KilledError("killed while writing events")
        self.texts.extend(texts)

    def events(self, action: Optional[str] = None) -> List[dict]:
        found = [json.loads(text) for text in self.texts]
        return [event for event in found if action is None or event["action"] == action]


def api_error(status: int, code: str, category: ErrorCategory, number: int) -> ApiError:
    return ApiError(
        f"the API answered {status} {code}",
        fix="see the message",
        status=status,
        error_code=code,
        request_id=f"req_err_{number}",
        category=category,
    )


class CorpusSource:
    """The API: pages of the corpus as ``ApiResponse``s, with scripted failures."""

    def __init__(self, corpus: Corpus, *, tier: str = "pro") -> None:
        self.corpus = corpus
        self.tier = tier
        self.requests_sent = 0
        self.requests: List[Dict[str, str]] = []
        self.failures: Dict[int, CollectionError] = {}  # by request number (1-based)
        self.rate_limits: Dict[int, RateLimit] = {}
        self.ignore_offset = False
        self.last_ids: List[str] = []

    def fail(self, number: int, status: int, code: str, category: ErrorCategory) -> None:
        self.failures[number] = api_error(status, code, category, number)

    def fetch(self, params: Sequence[Tuple[str, str]]) -> ApiResponse:
        self.requests_sent += 1
        number = self.requests_sent
        query = dict(params)
        assert len(query) == len(params), "a parameter was sent twice"
        self.requests.append(query)
        if number in self.failures:
            raise self.failures.pop(number)
        if self.ignore_offset:
            query = {**query, "offset": "0"}
        try:
            body = self.corpus.serve_page(query, tier=self.tier)
        except ParameterError as refused:
            raise api_error(refused.status, refused.code, ErrorCategory.SERVER, number) from None
        self.last_ids = [record["id"] for record in json.loads(body)["data"]]
        return ApiResponse(
            body=body,
            request_id=f"req_{number}",
            rate_limit=self.rate_limits.get(number, RateLimit(1000, 900, None)),
            attempts=1,
            elapsed_seconds=0.01,
        )


class World:
    """A corpus, the ports around it and the node's clock."""

    def __init__(
        self, size: int, *, order: str = "descending", tier: str = "pro", seed: int = 7
    ) -> None:
        self.clock = Clock()
        self.corpus = Corpus(size, seed=seed, order=order, clock=lambda: self.clock.epoch)
        self.source = CorpusSource(self.corpus, tier=tier)
        self.store = MemoryStore()
        self.checkpoints = MemoryStateStore(self.store)
        self.sink = MemorySink()
        self.ports = SyncPorts(self.source, self.store, self.checkpoints, self.sink)

    def sync(self, config: IndicatorsInputConfig = CONFIG) -> SyncResult:
        return run_sync(self.ports, config, now=self.clock.now, sleep=self.clock.sleep)

    def keys(self) -> Set[Tuple[str, str]]:
        return {(document["type"], document["value"]) for document in self.store.documents.values()}

    def expected(self, since_epoch: float, **filters: Any) -> Set[Tuple[str, str]]:
        return set(self.corpus.expected(since_epoch, **filters))

    def requests_since(self, first: int) -> List[Dict[str, str]]:
        return self.source.requests[first:]


def assert_nothing_twice(world: World, since_epoch: float) -> None:
    """Each document under the key of its (type, value), no (type, value) twice, nothing
    the corpus does not hold (among records updated after ``since_epoch``)."""
    documents = world.store.documents
    for key, document in documents.items():
        assert key == document_key(document["type"], document["value"])
    assert len(world.keys()) == len(documents)
    assert world.keys() <= world.expected(since_epoch)


def assert_summary_agrees(result: SyncResult, world: World) -> None:
    summary = result.summary
    assert summary["lookup_size"] == len(world.store.documents)
    types = Counter(document["type"] for document in world.store.documents.values())
    assert summary["lookup_size_by_type"] == dict(types)
    assert json.loads(result.summary_text) == summary


def notes(result: SyncResult, action: str) -> List[Any]:
    return [note for note in result.notes if note.action == action]


def free_pages(total: int) -> int:
    """Requests of one Free stream of ``total`` records (limit 100, 10 re-read)."""
    pages, offset = 1, 0
    while total - offset >= 100:
        offset += 100 - FREE_OVERLAP
        pages += 1
    return pages


# -------------------------------------------------------------------------- plan


def test_streams_and_the_filters_that_travel() -> None:
    assert Filters().streams() == ((),)
    assert Filters((), "high").streams() == ((("confidence", "high"),),)
    assert Filters((), "medium").streams() == ((),)  # applied locally
    assert Filters(("ipv4", "mitre-attack"), "medium").streams() == (
        (("type", "ipv4"),),
        (("type", "mitre-attack"),),
        (("type", "mitre_attack"),),
    )
    assert stream_name((("type", "ipv4"), ("confidence", "high"))) == "type=ipv4&confidence=high"
    assert stream_name(()) == "all"


def test_local_filters() -> None:
    medium = Filters(("ipv4",), "medium")
    assert medium.keeps("ipv4", "medium")
    assert medium.keeps("ipv4", "high")
    assert not medium.keeps("ipv4", "low")
    assert not medium.keeps("ipv4", "")
    assert not medium.keeps("domain", "high")
    assert Filters().keeps("ja3", "")  # low: nothing filtered, unknown words included
    assert not Filters((), "high").keeps("ipv4", "medium")


def test_which_filter_changes_widen() -> None:
    assert Filters(("ipv4", "domain")).widens(Filters(("ipv4",)))
    assert Filters().widens(Filters(("ipv4",)))
    assert Filters((), "low").widens(Filters((), "medium"))
    assert not Filters(("ipv4",)).widens(Filters(("ipv4", "domain")))
    assert not Filters(("ipv4",), "high").widens(Filters((), "medium"))
    assert Filters(("ipv4",)).fingerprint == Filters(("ipv4",), "low").fingerprint
    assert Filters(("ipv4",)).fingerprint != Filters(("ipv4",), "high").fingerprint


# -------------------------------------------------------------------------- page


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_page_reads_limit_total_and_data() -> None:
    page = parse_page(_body({"meta": {"limit": 100, "total": 2}, "data": [{"id": "a"}, 5]}))
    assert (page.limit, page.total, len(page.records), page.is_last) == (100, 2, 2, True)
    assert parse_page(_body({"meta": {"limit": 1}, "data": [{}]})).is_last is False
    assert parse_page(_body({"meta": {"limit": 1, "total": None}, "data": []})).total is None
    assert record_id({"id": "a"}) == "a"
    assert record_id({"id": 7}) == "7"
    assert record_id({"id": True}) is None
    assert record_id("a") is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (_body([1]), "a JSON list, not an object"),
        (_body({"data": []}), "meta is missing"),
        (_body({"meta": {"limit": "100"}, "data": []}), 'meta.limit is "100"'),
        (_body({"meta": {"limit": 0}, "data": []}), "meta.limit is 0"),
        (_body({"meta": {"limit": True}, "data": []}), "meta.limit is true"),
        (_body({"meta": {"limit": 10, "total": -1}, "data": []}), "meta.total is -1"),
        (_body({"meta": {"limit": 10}, "items": []}), "data is missing .*keys received: meta"),
        (_body({"meta": {"limit": 10}, "data": {}}), "data is a dict"),
    ],
)
def test_an_invalid_page_names_what_is_wrong(body: bytes, reason: str) -> None:
    response = ApiResponse(body, "req_9", RateLimit(), 2, 0.1)
    with pytest.raises(ResponseError, match=f"invalid indicators page: .*{reason}") as raised:
        page_of(response)
    error = raised.value
    assert (error.status, error.request_id, error.attempts) == (200, "req_9", 2)
    assert error.category is ErrorCategory.SERVER


def test_the_client_page_source_asks_the_list_endpoint() -> None:
    class FakeClient:
        requests_sent = 3

        def fetch(self, path, params, *, max_body_bytes, retry_policy):
            self.seen = (path, list(params), max_body_bytes, retry_policy)
            return "answer"

    client = FakeClient()
    source = ClientPageSource(client)  # type: ignore[arg-type]
    assert source.fetch([("limit", "10000")]) == "answer"
    assert client.seen == (IOCS_PATH, [("limit", "10000")], MAX_PAGE_BYTES, PAGE_RETRY_POLICY)
    assert PAGE_RETRY_POLICY.budget_seconds == 60
    assert MAX_PAGE_BYTES == 64 * 1024 * 1024
    assert source.requests_sent == 3


def test_anchor_overlap() -> None:
    assert anchor_overlap(100) == 10
    assert anchor_overlap(10000) == 100
    assert anchor_overlap(50) == 5
    assert anchor_overlap(None) == 0


# ----------------------------------------------------------------- first and delta


def test_first_sync_holds_the_merged_corpus_since_the_lookback() -> None:
    world = World(3000)
    result = world.sync()
    since = DEFAULT_NOW - 30 * DAY
    expected = world.corpus.expected(since)
    assert world.keys() == set(expected)
    for key, indicator in expected.items():
        document = world.store.documents[document_key(*key)]
        for name in ("confidence", "first_seen", "last_seen", "context"):
            assert document[name] == getattr(indicator, name), (key, name)
        for name, bound in LIST_BOUNDS.items():
            assert document[name] == list(getattr(indicator, name))[:bound], (key, name)
        assert (document["account"], document["added_epoch"]) == ("prod", DEFAULT_NOW)
    summary = result.summary
    assert result.completed
    assert result.error is None
    assert summary["since"] == iso_utc(since)
    assert summary["indicators_added"] == len(expected) == summary["lookup_size"]
    assert summary["indicators_updated"] == summary["indicators_expired"] == 0
    assert (
        summary["records_received"]
        == summary["api_total"]
        == sum(indicator.records for indicator in expected.values())
        + world.corpus.invalid_count(since)
    )
    assert summary["invalid_records"] == world.corpus.invalid_count(since) > 0
    assert (summary["pages"], summary["requests"], summary["page_limit"]) == (1, 1, 10000)
    assert_summary_agrees(result, world)
    assert len(world.sink.events("added")) == len(expected)
    assert world.checkpoints.state["sync"] is None
    assert world.checkpoints.requests_today() == 1


def test_the_summary_fields() -> None:
    world = World(300)
    result = world.sync()
    assert set(result.summary) == SUMMARY_FIELDS | EXTRA_FIELDS
    assert result.summary["ioc_types"] == ["all"]
    assert result.summary["min_confidence"] == "low"
    assert result.summary["interval"] == 3600
    assert result.summary["completed"] is True
    fields = result.log_fields
    assert fields["outcome"] == "completed"
    assert fields["gap_suspected"] == "false"
    assert fields["request_id"] == "req_1"
    assert fields["ratelimit_remaining"] == 900


def test_a_delta_sync_reads_from_the_last_start_minus_the_overlap() -> None:
    world = World(3000)
    first = world.sync()
    world.clock.advance(3600)
    world.corpus.update(40, at=int(world.clock.epoch) - 100)
    inserted = world.corpus.insert(25, at=int(world.clock.epoch) - 50)
    result = world.sync()
    since = iso_utc(DEFAULT_NOW - SINCE_OVERLAP_SECONDS)
    assert result.summary["since"] == since
    assert world.source.requests[-1]["since"] == since
    assert result.summary["resumed"] is False
    assert world.keys() == world.expected(DEFAULT_NOW - 30 * DAY) | world.expected(
        DEFAULT_NOW - SINCE_OVERLAP_SECONDS
    )
    assert {world.corpus.canonical(i) for i in inserted if world.corpus.canonical(i)[1]} <= (
        world.keys()
    )
    summary = result.summary
    assert summary["indicators_added"] > 0
    assert summary["indicators_updated"] > 0
    assert summary["lookup_size"] == (
        first.summary["indicators_added"] + summary["indicators_added"]
    )
    assert len(world.sink.events("updated")) == summary["indicators_updated"]
    assert_summary_agrees(result, world)
    assert_nothing_twice(world, DEFAULT_NOW - 30 * DAY)


def test_a_sync_with_nothing_new_writes_nothing() -> None:
    world = World(2000)
    world.sync()
    events, saves = len(world.sink.texts), world.store.calls["save"]
    result = world.sync()
    assert result.summary["indicators_added"] == result.summary["indicators_updated"] == 0
    assert len(world.sink.texts) == events
    assert world.store.calls["save"] == saves


# ------------------------------------------------------------------ paging (Free)


def test_requests_per_page_are_pinned() -> None:
    world = World(6000, tier="free")
    result = world.sync()
    total = result.summary["api_total"]
    pages = free_pages(total)
    assert total > 250
    offsets = [int(request["offset"]) for request in world.source.requests]
    assert offsets == [90 * n for n in range(pages)]
    for request in world.source.requests:
        assert set(request) == {"since", "limit", "offset"}  # links.next never followed
        assert request["limit"] == str(REQUESTED_LIMIT)
        assert request["since"] == iso_utc(DEFAULT_NOW - 30 * DAY)
    summary = result.summary
    assert (summary["pages"], summary["requests"], summary["page_limit"]) == (pages, pages, 100)
    assert world.checkpoints.requests_today() == pages
    assert world.checkpoints.saves == pages
    assert summary["records_received"] == total + FREE_OVERLAP * (pages - 1)
    assert world.keys() == world.expected(DEFAULT_NOW - DAY)
    assert_summary_agrees(result, world)


@pytest.mark.parametrize("order", ORDERS)
def test_inserts_and_updates_between_pages(order: str) -> None:
    world = World(8000, order=order, tier="free", seed=11)
    start = int(world.clock.epoch)
    window = world.corpus.answer({"since": iso_utc(start - DAY), "limit": "10000"})["data"]
    ids = [record["id"] for record in window]
    stamps = itertools.count(1)
    picks = random.Random(order)  # noqa: S311 (test data)

    def churn(corpus: Corpus) -> None:
        stamp = start + next(stamps)  # after the sync started; the API's clock stays
        corpus.insert(6, at=stamp)
        corpus.update(4, at=stamp)  # anywhere in the corpus: most join the window
        read = world.source.last_ids
        moved = picks.sample(read, min(5, len(read))) + picks.sample(ids, 5)  # read, unread
        corpus.update(ids=moved, at=stamp)

    world.corpus.between_pages = churn
    held_at_start = world.expected(start - DAY, at=start)
    first = world.sync()
    world.corpus.between_pages = None
    assert first.completed
    assert first.summary["pages"] >= 5
    missed = held_at_start - world.keys()
    if order == "descending":
        assert missed  # records updated ahead of the reader jumped behind it
    if missed:
        assert world.sync().completed  # at most after the next sync
    assert held_at_start <= world.keys()
    assert_nothing_twice(world, start - DAY)


def test_records_shifted_past_the_overlap_mark_a_gap() -> None:
    world = World(8000, order="ascending", tier="free", seed=5)
    start = int(world.clock.epoch)
    served = itertools.count(1)

    def move_the_page_just_read_to_the_end(corpus: Corpus) -> None:
        if next(served) == 2:
            corpus.update(ids=world.source.last_ids[:30], at=start + 1)

    world.corpus.between_pages = move_the_page_just_read_to_the_end
    held_at_start = world.expected(start - DAY, at=start)
    first = world.sync()
    world.corpus.between_pages = None
    assert not held_at_start <= world.keys()  # shifted past the overlap: not read
    gap = notes(first, "gap_suspected")
    assert len(gap) == 1
    assert gap[0].level == logging.WARNING
    assert gap[0].fields["offset"] == 180
    assert first.summary["gap_suspected"] is True
    assert first.log_fields["gap_suspected"] == "true"
    assert world.checkpoints.state["last_completed"]["gap_suspected"] is True
    second = world.sync()
    assert second.summary["since"] == first.summary["since"]  # read again from the same since
    assert not notes(second, "gap_suspected")
    assert held_at_start <= world.keys()
    third = world.sync()
    assert third.summary["since"] == iso_utc(start - SINCE_OVERLAP_SECONDS)
    assert_nothing_twice(world, start - DAY)


def test_an_api_that_ignores_the_offset_is_stopped() -> None:
    world = World(6000, tier="free")
    world.source.ignore_offset = True
    result = world.sync()
    assert world.source.requests_sent == 3
    error = result.error
    assert isinstance(error, ResponseError)
    assert (error.status, error.error_code, error.request_id) == (200, "offset_ignored", "req_3")
    assert result.outcome == "failed"
    assert result.summary["pages"] == 2  # the third page wrote nothing
    assert world.checkpoints.requests_today() == 3
    assert world.checkpoints.sync["offset"] == 190  # the next offset after two pages


# ----------------------------------------------------------- killed, failed, resumed


@pytest.mark.parametrize("where", ["events", "documents"])
def test_a_run_killed_mid_page_resumes_at_that_page(where: str) -> None:
    world = World(6000, tier="free")
    if where == "events":
        world.sink.fail_on = 3
    else:
        world.store.fail_save_on = 3
    with pytest.raises(KilledError):
        world.sync()
    assert world.checkpoints.sync["offset"] == 190  # two pages saved
    assert world.source.requests[-1]["offset"] == "180"
    sent = world.source.requests_sent
    result = world.sync()
    assert result.completed
    assert result.summary["resumed"] is True
    assert world.source.requests[sent]["offset"] == "180"  # the killed page, no more
    assert world.keys() == world.expected(DEFAULT_NOW - DAY)
    assert_nothing_twice(world, DEFAULT_NOW - DAY)
    added = Counter((event["type"], event["value"]) for event in world.sink.events("added"))
    assert set(added) == world.keys()  # at least once each
    if where == "events":
        assert set(added.values()) == {1}  # killed before any write: exactly once
    assert world.checkpoints.state["last_completed"]["runs"] == 2


def test_a_429_with_a_far_reset_ends_the_run_and_the_next_resumes() -> None:
    world = World(6000, tier="free")
    world.source.fail(3, 429, "rate_limit_exceeded", ErrorCategory.RATE_LIMIT)
    result = world.sync()
    assert result.outcome == "failed"
    assert not result.completed
    assert result.error is not None
    assert result.error.category is ErrorCategory.RATE_LIMIT
    summary = result.summary
    assert summary["error_category"] == "Rate Limit Error"
    assert (summary["http_status"], summary["error_code"]) == (429, "rate_limit_exceeded")
    assert summary["request_id"] == "req_err_3"
    assert (summary["pages"], summary["requests"]) == (2, 3)
    assert set(summary) == SUMMARY_FIELDS | EXTRA_FIELDS | ERROR_FIELDS
    assert world.checkpoints.sync["offset"] == 190
    assert world.checkpoints.requests_today() == 3  # the refused request counts too
    resumed = world.sync()
    assert resumed.completed
    assert world.source.requests[3]["offset"] == "180"  # the refused page
    assert world.keys() == world.expected(DEFAULT_NOW - DAY)
    assert_summary_agrees(resumed, world)


def test_a_near_reset_is_waited_for_a_far_one_is_not() -> None:
    world = World(6000, tier="free")
    now = int(world.clock.epoch)
    world.source.rate_limits[2] = RateLimit(10, 0, now + 30)
    world.source.rate_limits[3] = RateLimit(10, 0, now + 30 + 61)
    world.source.rate_limits[4] = RateLimit(10, 3, now + 45)
    result = world.sync()
    assert world.clock.sleeps == [30.0]
    assert result.completed
    assert [note.fields["seconds"] for note in notes(result, "rate_limit_wait")] == [30.0]


def test_a_401_ends_the_run_with_nothing_written() -> None:
    world = World(3000)
    world.source.fail(1, 401, "invalid_api_key", ErrorCategory.AUTHENTICATION)
    result = world.sync()
    assert result.error is not None
    assert result.summary["error_code"] == "invalid_api_key"
    assert result.summary["http_status"] == 401
    assert result.summary["error_category"] == "Authentication Error"
    assert result.summary["completed"] is False
    assert world.store.documents == {}
    assert world.sink.texts == []
    sync = world.checkpoints.sync
    assert (sync["stream"], sync["offset"]) == (0, 0)
    assert world.checkpoints.requests_today() == 1


def test_a_401_mid_run_keeps_the_progress() -> None:
    world = World(6000, tier="free")
    world.sync()  # completed
    world.corpus.update(300, at=int(world.clock.epoch) + 5)
    world.clock.advance(600)
    world.source.fail(
        world.source.requests_sent + 2, 401, "expired_api_key", ErrorCategory.AUTHENTICATION
    )
    before = dict(world.store.documents)
    result = world.sync()
    assert result.summary["pages"] == 1
    assert world.checkpoints.sync["offset"] == 100
    assert set(before) <= set(world.store.documents)
    after = world.sync()
    assert after.completed
    assert after.summary["resumed"] is True


def test_a_503_is_reported_with_its_request_id() -> None:
    world = World(300)
    world.source.fail(1, 503, "service_unavailable", ErrorCategory.SERVER)
    result = world.sync()
    assert result.summary["error_category"] == "Server Error"
    assert result.summary["request_id"] == "req_err_1"
    assert result.log_fields["outcome"] == "failed"


# ------------------------------------------------------------------------- budget


def test_the_daily_budget_stops_the_sync_until_the_next_utc_day() -> None:
    world = World(6000, tier="free")
    day = utc_text(world.clock.now())[:10]
    world.checkpoints.budgets[budget_key("prod")] = {
        "schema": 1,
        "day": day,
        "requests": 797,
        "page_limit": 100,
    }
    first = world.sync()
    assert first.outcome == "budget_reached"
    assert world.source.requests_sent == 3
    assert world.checkpoints.requests_today() == 800
    reached = notes(first, "budget_reached")
    assert len(reached) == 1
    assert reached[0].level == logging.WARNING
    assert reached[0].fields["budget"] == 800
    assert first.summary["completed"] is False
    assert "error_category" not in first.summary
    world.clock.advance(600)
    again = world.sync()  # the same UTC day: no request at all
    assert again.outcome == "budget_reached"
    assert world.source.requests_sent == 3
    world.clock.advance(DAY)
    next_day = world.sync()
    assert next_day.completed
    assert next_day.summary["resumed"] is True
    assert world.source.requests[3]["offset"] == "270"
    assert world.checkpoints.requests_today() == next_day.summary["requests"]
    assert notes(next_day, "since_beyond_lookback")  # a Free key's window moved on


def test_a_pro_key_has_the_larger_budget() -> None:
    world = World(300)
    day = utc_text(world.clock.now())[:10]
    world.checkpoints.budgets[budget_key("prod")] = {
        "schema": 1,
        "day": day,
        "requests": 5000,
        "page_limit": 10000,
    }
    assert world.sync().completed
    assert world.checkpoints.requests_today() == 5001


def test_an_unknown_tier_counts_as_free() -> None:
    world = World(300)
    day = utc_text(world.clock.now())[:10]
    world.checkpoints.budgets[budget_key("prod")] = {
        "schema": 1,
        "day": day,
        "requests": 800,
        "page_limit": None,
    }
    assert world.sync().outcome == "budget_reached"
    assert world.source.requests_sent == 0


# ------------------------------------------------------------------------- expiry


def test_expiry_writes_expired_events_then_deletes_once() -> None:
    world = World(3000)
    world.sync()
    world.clock.advance(75 * DAY)  # max_age_days 90: last seen more than 15 days before
    cutoff = int(world.clock.epoch) - 90 * DAY
    doomed = {
        key
        for key, document in world.store.documents.items()
        if document["last_seen_epoch"] < cutoff
    }
    kept = set(world.store.documents) - doomed
    assert doomed
    assert kept
    result = world.sync()
    assert set(world.store.documents) == kept
    expired = world.sink.events("expired")
    assert {document_key(event["type"], event["value"]) for event in expired} == doomed
    assert all(event["input"] == "iocs" for event in expired)
    assert result.summary["indicators_expired"] == len(doomed)
    assert world.store.calls["delete_expired"] == 1
    assert_summary_agrees(result, world)


def test_records_already_expired_are_not_added() -> None:
    world = World(3000)
    config = replace(CONFIG, max_age_days=10)
    result = world.sync(config)
    cutoff = iso_utc(DEFAULT_NOW - 10 * DAY)
    expected = world.corpus.expected(DEFAULT_NOW - 30 * DAY)
    young = {key for key, indicator in expected.items() if indicator.last_seen >= cutoff}
    assert world.keys() == young
    assert result.summary["skipped_expired"] == len(expected) - len(young) > 0
    assert result.summary["indicators_expired"] == 0


# ------------------------------------------------------------------------ records


def test_invalid_records_are_counted_never_fatal() -> None:
    world = World(3000, seed=2)
    result = world.sync()
    invalid = world.corpus.invalid_count(DEFAULT_NOW - 30 * DAY)
    assert invalid > 0
    assert result.summary["invalid_records"] == invalid
    assert result.completed


# ------------------------------------------------------------------------ filters


def test_types_travel_and_medium_is_applied_locally() -> None:
    world = World(4000)
    config = replace(CONFIG, ioc_types=("ipv4", "mitre-attack"), min_confidence="medium")
    result = world.sync(config)
    assert [request.get("type") for request in world.source.requests] == [
        "ipv4",
        "mitre-attack",
        "mitre_attack",
    ]
    assert all("confidence" not in request for request in world.source.requests)
    since = DEFAULT_NOW - 30 * DAY
    wanted = {"types": ["ipv4", "mitre-attack"], "min_confidence": "medium"}
    assert world.keys() == world.expected(since, **wanted)
    received = result.summary["records_received"]
    valid = sum(i.records for i in world.corpus.expected(since, **wanted).values())
    invalid = world.corpus.invalid_count(since, types=["ipv4", "mitre-attack"])
    assert result.summary["filtered_records"] == received - valid - invalid > 0
    assert result.summary["ioc_types"] == ["ipv4", "mitre-attack"]
    assert result.summary["streams"] == 3
    assert result.summary["api_total"] == received


def test_high_travels() -> None:
    world = World(3000)
    result = world.sync(replace(CONFIG, min_confidence="high"))
    assert world.source.requests[0]["confidence"] == "high"
    assert world.keys() == world.expected(DEFAULT_NOW - 30 * DAY, min_confidence="high")
    assert result.summary["filtered_records"] == 0


def test_a_changed_filter_restarts_the_sync_at_the_same_since() -> None:
    world = World(8000, tier="free")
    wide = replace(CONFIG, ioc_types=("ipv4", "domain", "url"))
    world.source.fail(3, 503, "service_unavailable", ErrorCategory.SERVER)
    world.sync(wide)
    since = world.checkpoints.sync["since"]
    world.clock.advance(1800)
    narrow = replace(CONFIG, ioc_types=("ipv4", "url"))
    result = world.sync(narrow)
    restarted = notes(result, "sync_restarted")
    assert len(restarted) == 1
    assert restarted[0].fields["since"] == since
    assert result.summary["since"] == since
    assert result.completed
    assert world.source.requests[3]["offset"] == "0"
    assert world.source.requests[3]["type"] == "ipv4"
    assert {request["type"] for request in world.source.requests[3:]} == {"ipv4", "url"}
    final = IndicatorsState.from_dict(world.checkpoints.state).last_completed
    assert final is not None
    assert final.filters == Filters(("ipv4", "url"))


def test_a_widened_filter_reads_from_the_lookback_again() -> None:
    world = World(3000)
    world.sync(replace(CONFIG, ioc_types=("ipv4",)))
    world.clock.advance(3600)
    result = world.sync(replace(CONFIG, ioc_types=("ipv4", "domain")))
    assert notes(result, "sync_widened")
    assert result.summary["since"] == iso_utc(world.clock.epoch - 30 * DAY)
    assert world.keys() >= world.expected(world.clock.epoch - 30 * DAY, types=["domain"])


# ------------------------------------------------------------------ checkpoint, notes


def test_an_unreadable_checkpoint_starts_over() -> None:
    world = World(300)
    world.checkpoints.state = {"schema": 99}
    world.checkpoints.budgets[budget_key("prod")] = {"day": 5}
    result = world.sync()
    assert result.completed
    assert notes(result, "checkpoint_unreadable")[0].level == logging.WARNING
    assert notes(result, "budget_unreadable")
    assert result.summary["since"] == iso_utc(DEFAULT_NOW - 30 * DAY)


def test_a_checkpoint_that_is_not_json_starts_over() -> None:
    world = World(300)

    def unreadable() -> Optional[dict]:
        raise CheckpointError("the checkpoint is not JSON")

    world.checkpoints.load = unreadable  # type: ignore[method-assign]
    result = world.sync()
    assert result.completed
    assert notes(result, "checkpoint_unreadable")[0].fields["effect"] == "the sync starts over"


def test_a_document_edited_by_hand_is_replaced() -> None:
    world = World(300)
    world.sync()
    key, document = next(iter(world.store.documents.items()))
    world.store.documents[key] = {**document, "value": "", "first_seen": "garbage"}
    other_key, other = list(world.store.documents.items())[1]
    world.store.documents[other_key] = {**other, "value": "203.0.113.9", "type": "ipv4"}
    world.clock.advance(60)
    world.checkpoints.state = None  # read everything again
    result = world.sync()
    assert world.store.documents[key] == {**document, "updated_epoch": DEFAULT_NOW + 60}
    assert world.store.documents[other_key]["value"] == other["value"]
    assert result.summary["indicators_updated"] == 2


def test_an_expired_document_without_an_indicator_is_deleted_without_event() -> None:
    world = World(300)
    world.sync()
    key, document = next(iter(world.store.documents.items()))
    world.store.documents[key] = {**document, "type": "", "last_seen_epoch": 5}
    result = world.sync()
    assert key not in world.store.documents
    assert world.sink.events("expired") == []
    assert result.summary["indicators_expired"] == 1
    assert notes(result, "expired_unreadable")[0].fields["documents"] == 1


def test_a_free_key_with_an_interval_beyond_its_lookback_is_warned() -> None:
    world = World(300, tier="free")
    result = world.sync(replace(CONFIG, interval=86000))
    warned = notes(result, "interval_beyond_lookback")
    assert len(warned) == 1
    assert warned[0].fields["limit_seconds"] == 86400 - 900
    assert not notes(world.sync(replace(CONFIG, interval=85500)), "interval_beyond_lookback")


def test_a_delta_sync_older_than_a_free_keys_lookback_is_warned() -> None:
    world = World(300, tier="free")
    world.sync()
    world.clock.advance(2 * DAY)
    result = world.sync()
    assert notes(result, "since_beyond_lookback")
    world.clock.advance(3600)
    assert not notes(world.sync(), "since_beyond_lookback")
