"""The indicators input's KV store ports: the collection ``socdefenders_iocs``
(:class:`IndicatorCollection`, the sync's ``IndicatorStore``), the writer lock
(:class:`WriterLock`) and the input's checkpoint and request budget
(:class:`CheckpointStateStore`, the sync's ``StateStore``).

Everything goes through splunklib's public ``KVStoreCollection(...).data`` built on the
run's one ``Service`` (as ``socdefenders_splunkd.Checkpoints`` builds it: nothing is
sent on construction, the collections ship in ``default/collections.conf``), so every
request shares the run's kept-alive connection. splunkd's limits (``limits.conf
[kvstore]``, read once per run: :class:`KvLimits`) bound every request:

- ``find``: ONE ``batch_find`` per call (of up to ``max_queries_per_batch`` queries, each
  an ``$or`` of at most 1,000 ``_key`` equalities, fewer when the largest documents could
  pass ``max_size_per_result_mb``);
- ``save``: ``batch_save`` of at most 1,000 documents (``max_documents_per_batch_save``)
  and ``max_size_per_batch_save_mb``, sent as compact UTF-8 JSON;
- ``expired``: ``query`` pages sorted by ``_key`` (``skip``/``limit``, at most
  ``max_rows_per_query`` rows); ``delete_expired``: ONE ``DELETE`` by query;
- ``count_by_type``: ``query`` pages of up to 50,000 rows holding only ``type``.

Request bodies are posted with ``Service.post(path, body=..., headers=...)`` (public
API) as a ``memoryview`` of the UTF-8 bytes: splunklib's ``Context.post`` builds its
debug line eagerly (``mask_sensitive_data``), which re-parses every ``str``/``bytes``
JSON body whatever the log level (about 2.6 ms per 1,000 documents, measured: a second
parse of everything a first sync writes); it leaves a ``memoryview`` alone, and the
HTTP handler sends it unchanged.

Every request retries splunkd's HTTP errors as ``Checkpoints`` does (solnlib's ``retry``:
3 retries after 1, 2 and 4 s); an error that remains becomes a ``CollectionError``
(category ``Server Error``, the status kept) that names the collection. A writer lock's
409 and a missing record's 404 are answers, not errors: they are not retried.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from solnlib.utils import retry
from splunklib import binding, client, data

from socdefenders.errors import CheckpointError, CollectionError, ErrorCategory
from socdefenders.indicators.budget import budget_key
from socdefenders.indicators.documents import MAX_EVENT_BYTES
from socdefenders.indicators.state import LOCK_KEY, state_from_text, state_key
from socdefenders.names import CHECKPOINT_COLLECTION, INDICATOR_COLLECTION

MB = 1000 * 1000  # splunkd's MB may be 2**20: the smaller unit keeps requests under both
JSON_HEADERS = [("Content-Type", "application/json")]
MAX_KEYS_PER_QUERY = 1000  # `_key` clauses in one `$or` of a batch_find
MAX_DOCUMENT_BYTES = MAX_EVENT_BYTES  # an indicator document as splunkd answers it, at most
COUNT_PAGE_ROWS = 50000  # count_by_type: rows of `type` only (about 20 bytes each)
LOCK_LEASE_SECONDS = 300  # a writer holds the lock for one page or one expiry
LOCK_WAIT_SECONDS = 60.0  # how long a writer waits for the lock before the run fails
LOCK_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class KvLimits:
    """``limits.conf [kvstore]`` as splunkd applies it (Splunk 9.x defaults)."""

    max_documents_per_batch_save: int = 1000
    max_size_per_batch_save_mb: int = 50
    max_rows_per_query: int = 50000
    max_queries_per_batch: int = 1000
    max_size_per_result_mb: int = 50

    @classmethod
    def from_stanza(cls, stanza: Optional[Mapping[str, Any]]) -> KvLimits:
        """The limits of a ``[kvstore]`` stanza; a missing or unreadable value (or none
        at all) keeps the default."""
        values: Dict[str, int] = {}
        for item in fields(cls):
            try:
                number = int(str((stanza or {}).get(item.name)).strip())
            except ValueError:
                continue
            if number > 0:
                values[item.name] = number
        return cls(**values)

    @property
    def batch_save_documents(self) -> int:
        return min(1000, self.max_documents_per_batch_save)

    @property
    def batch_save_bytes(self) -> int:
        return self.max_size_per_batch_save_mb * MB

    @property
    def keys_per_query(self) -> int:
        """``_key`` clauses per query: the answer stays within the rows and the size a
        query may return even when every document is as large as one can be."""
        by_size = self.max_size_per_result_mb * MB // MAX_DOCUMENT_BYTES
        return max(1, min(MAX_KEYS_PER_QUERY, self.max_rows_per_query, by_size))

    @property
    def document_page_rows(self) -> int:
        """Whole documents per query page (``expired``): within both answer limits."""
        return self.keys_per_query

    @property
    def count_page_rows(self) -> int:
        return max(1, min(COUNT_PAGE_ROWS, self.max_rows_per_query))


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON: ``http.client`` would encode a ``str`` body as Latin-1."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _without_user(document: Dict[str, Any]) -> Dict[str, Any]:
    document.pop("_user", None)
    return document


class KvCollection:
    """One collection's data endpoint on the run's ``Service``, each request retried."""

    def __init__(self, service: client.Service, name: str) -> None:
        self.name = name
        self.service = service
        self.data = client.KVStoreCollection(
            service,
            f"storage/collections/config/{name}",
            state=data.record({"title": name}),
        ).data

    def error(self, error: binding.HTTPError) -> CollectionError:
        return CollectionError(
            f"splunkd answered HTTP {error.status} to a request on the KV store collection "
            f"{self.name}",
            status=error.status,
            fix="check that the KV store is running (Settings > Server settings > KV store) "
            "and splunkd's health in splunkd.log; the input tries again at its next run",
            category=ErrorCategory.SERVER,
        )

    def _post(self, tail: str, body: bytes) -> bytes:
        response = self.service.post(
            self.data.path + tail,
            owner=self.data.owner,
            app=self.data.app,
            sharing=self.data.sharing,
            headers=list(JSON_HEADERS),
            body=memoryview(body),  # sent as is, and not re-parsed for splunklib's debug line
        )
        return response.body.read()

    @retry(exceptions=[binding.HTTPError])
    def post_json(self, tail: str, body: bytes) -> bytes:
        """POST ``body`` (JSON bytes) to ``<collection>/<tail>``; the answer's bytes."""
        return self._post(tail, body)

    @retry(exceptions=[binding.HTTPError])
    def query(self, **params: Any) -> List[Dict[str, Any]]:
        return [_without_user(row) for row in self.data.query(**params)]

    @retry(exceptions=[binding.HTTPError])
    def get(self, key: str) -> Optional[Dict[str, Any]]:
        """The document, or None when there is none."""
        try:
            return _without_user(self.data.query_by_id(key))
        except binding.HTTPError as error:
            if error.status != 404:
                raise
            return None

    @retry(exceptions=[binding.HTTPError])
    def insert(self, document: Mapping[str, Any]) -> bool:
        """Insert a new document; False when its ``_key`` is taken (409)."""
        try:
            self._post("", json_bytes(document))
        except binding.HTTPError as error:
            if error.status != 409:
                raise
            return False
        return True

    @retry(exceptions=[binding.HTTPError])
    def delete_where(self, query: Mapping[str, Any]) -> None:
        """Delete every document ``query`` matches, in one request."""
        self.data.delete(query=json.dumps(query, separators=(",", ":")))


class WriterLock:
    """``lock://socdefenders_iocs`` in the checkpoint collection: a lease that serialises
    the writers of the indicators collection (every indicators input of this node, and of
    the search-head cluster, whose members share the KV store).

    Taken by INSERT (an existing record answers 409: held); released by deleting the
    record only if it still holds this lease. A lease whose ``expires_epoch`` has passed
    (its holder died) is taken over safely: a delete by query that matches the stale
    state exactly (it deletes nothing if another writer took over first), then an insert.
    A writer waits up to ``wait_seconds`` polling, then the run fails with a clear error.
    Re-entrant within one process: a nested ``held()`` does not ask again.
    """

    def __init__(
        self,
        records: KvCollection,
        owner: str,
        *,
        lease_seconds: int = LOCK_LEASE_SECONDS,
        wait_seconds: float = LOCK_WAIT_SECONDS,
        poll_seconds: float = LOCK_POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._records = records
        self.owner = owner
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._depth = 0
        self._held: Optional[str] = None  # the state text of the lease held

    def held(self) -> _Held:
        return _Held(self)

    def _lease(self) -> str:
        expires = int(self._clock()) + self._lease_seconds
        return _state_text({"owner": self.owner, "expires_epoch": expires})

    def acquire(self) -> None:
        if self._depth:
            self._depth += 1
            return
        deadline = self._monotonic() + self._wait_seconds
        holder: Dict[str, Any] = {}
        while True:
            lease = self._lease()
            try:
                if self._records.insert({"_key": LOCK_KEY, "state": lease}):
                    break
                current = self._records.get(LOCK_KEY)
            except binding.HTTPError as error:
                raise self._records.error(error) from None
            if current is None:
                continue  # released between the two requests: ask again at once
            text = current.get("state")
            if text == lease:
                break  # our own insert, retried after splunkd stored it
            holder = self._holder(text)
            if holder.get("expires_epoch", 0) < self._clock():
                self._take_over(text)
                continue
            if self._monotonic() >= deadline:
                raise self._busy(holder)
            self._sleep(self._poll_seconds)
        self._held, self._depth = lease, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        lease, self._held = self._held, None
        try:
            self._records.delete_where({"_key": LOCK_KEY, "state": lease})
        except binding.HTTPError as error:
            raise self._records.error(error) from None

    @staticmethod
    def _holder(text: Any) -> Dict[str, Any]:
        """The lease's owner and expiry; an unreadable lease counts as expired."""
        try:
            value = json.loads(text)
            expires = int(value["expires_epoch"])
            return {"owner": str(value.get("owner") or "-"), "expires_epoch": expires}
        except (TypeError, ValueError, KeyError):
            return {"owner": "-", "expires_epoch": 0}

    def _take_over(self, stale: Any) -> None:
        query: Dict[str, Any] = {"_key": LOCK_KEY}
        if isinstance(stale, str):
            query["state"] = stale
        try:
            self._records.delete_where(query)
        except binding.HTTPError as error:
            raise self._records.error(error) from None

    def _busy(self, holder: Mapping[str, Any]) -> CollectionError:
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(holder.get("expires_epoch", 0)))
        return CollectionError(
            f"another indicators input held the KV store writer lock {LOCK_KEY} (owner "
            f"{holder.get('owner', '-')}, lease until {until}) for longer than the "
            f"{self._wait_seconds:.0f} s a run waits for it",
            fix="nothing to do if other indicators inputs are syncing: this input tries again "
            "at its next interval. A lease left by a stopped process expires by itself within "
            f"{self._lease_seconds // 60} minutes (or delete the record {LOCK_KEY} of the "
            f"collection {CHECKPOINT_COLLECTION})",
            error_code="writer_lock_busy",
            category=ErrorCategory.SERVER,
        )


class _Held:
    """``with lock.held():`` - released on the way out; a failure to release while
    another error is on its way out does not hide that error (the lease then expires)."""

    def __init__(self, lock: WriterLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        try:
            self._lock.release()
        except CollectionError:
            if kind is None:
                raise


class IndicatorCollection:
    """The sync's ``IndicatorStore`` over the collection ``socdefenders_iocs``."""

    def __init__(self, service: client.Service, limits: KvLimits, lock: WriterLock) -> None:
        self._kv = KvCollection(service, INDICATOR_COLLECTION)
        self.limits = limits
        self._lock = lock

    def find(self, keys: Sequence[str]) -> Dict[str, dict]:
        """The stored documents among ``keys``: one ``batch_find`` per
        ``max_queries_per_batch`` queries (one for a page of 10,000 keys)."""
        unique = list(dict.fromkeys(keys))
        size = self.limits.keys_per_query
        queries = [
            {"query": {"$or": [{"_key": key} for key in unique[at : at + size]]}}
            for at in range(0, len(unique), size)
        ]
        found: Dict[str, dict] = {}
        per_request = self.limits.max_queries_per_batch
        for at in range(0, len(queries), per_request):
            try:
                answer = self._kv.post_json(
                    "batch_find", json_bytes(queries[at : at + per_request])
                )
            except binding.HTTPError as error:
                raise self._kv.error(error) from None
            for rows in json.loads(answer):
                for document in rows:
                    found[document["_key"]] = _without_user(document)
        return found

    def save(self, documents: Sequence[dict]) -> None:
        """Upsert by ``_key``: ``batch_save`` requests within both batch limits."""
        size = self.limits.batch_save_documents
        for at in range(0, len(documents), size):
            self._save_batch(documents[at : at + size])

    def _save_batch(self, documents: Sequence[dict]) -> None:
        body = json_bytes(list(documents))
        if len(body) > self.limits.batch_save_bytes:
            if len(documents) == 1:
                raise CollectionError(
                    f"an indicator document of {len(body)} bytes is larger than a batch save "
                    f"may be (max_size_per_batch_save_mb={self.limits.max_size_per_batch_save_mb})",
                    fix="raise max_size_per_batch_save_mb in limits.conf [kvstore]",
                    category=ErrorCategory.CONFIGURATION,
                )
            half = len(documents) // 2
            self._save_batch(documents[:half])
            self._save_batch(documents[half:])
            return
        try:
            self._kv.post_json("batch_save", body)
        except binding.HTTPError as error:
            raise self._kv.error(error) from None

    def _pages(self, query: Mapping[str, Any], rows: int, **params: Any) -> Iterator[List[dict]]:
        """Pages of ``query``'s matches sorted by ``_key``; a page shorter than asked is
        the last (``rows`` is within every answer limit, so none is cut)."""
        skip = 0
        while True:
            try:
                page = self._kv.query(
                    query=json.dumps(query, separators=(",", ":")),
                    sort="_key",
                    skip=skip,
                    limit=rows,
                    **params,
                )
            except binding.HTTPError as error:
                raise self._kv.error(error) from None
            if page:
                yield page
            if len(page) < rows:
                return
            skip += len(page)

    @staticmethod
    def _expired_query(cutoff_epoch: int) -> Dict[str, Any]:
        return {"last_seen_epoch": {"$lt": int(cutoff_epoch)}}

    def expired(self, cutoff_epoch: int) -> Iterator[dict]:
        """The documents whose ``last_seen_epoch`` is before ``cutoff_epoch``."""
        query = self._expired_query(cutoff_epoch)
        for page in self._pages(query, self.limits.document_page_rows):
            yield from page

    def delete_expired(self, cutoff_epoch: int) -> None:
        try:
            self._kv.delete_where(self._expired_query(cutoff_epoch))
        except binding.HTTPError as error:
            raise self._kv.error(error) from None

    def count_by_type(self) -> Dict[str, int]:
        """Documents per ``type``, the whole collection, under the writer lock (no other
        input can move documents between two pages)."""
        counts: Dict[str, int] = {}
        with self.writer_lock():
            pages = self._pages({}, self.limits.count_page_rows, fields="type,_key:0")
            for page in pages:
                for row in page:
                    kind = str(row.get("type") or "")
                    counts[kind] = counts.get(kind, 0) + 1
        return counts

    def writer_lock(self) -> _Held:
        return self._lock.held()


class CheckpointStateStore:
    """The sync's ``StateStore``: this input's checkpoint ``socdefenders_iocs://<input>``
    and the account budgets ``budget://<account>`` in ``ta_socdefenders_checkpoints``,
    each record ``{"_key", "state": "<JSON text>"}``."""

    def __init__(self, records: KvCollection, input_name: str) -> None:
        self._records = records
        self._key = state_key(input_name)

    def _load(self, key: str) -> Optional[dict]:
        try:
            record = self._records.get(key)
        except binding.HTTPError as error:
            raise self._records.error(error) from None
        if record is None:
            return None
        text = record.get("state")
        if not isinstance(text, str):
            raise CheckpointError(f"the checkpoint record {key} holds no state text")
        return state_from_text(text)

    def load(self) -> Optional[dict]:
        return self._load(self._key)

    def load_budget(self, account: str) -> Optional[dict]:
        return self._load(budget_key(account))

    def save(self, state: dict, budget: Optional[Tuple[str, dict]]) -> None:
        """The state and the budget in ONE ``batch_save``."""
        records = [{"_key": self._key, "state": _state_text(state)}]
        if budget is not None:
            account, record = budget
            records.append({"_key": budget_key(account), "state": _state_text(record)})
        try:
            self._records.post_json("batch_save", json_bytes(records))
        except binding.HTTPError as error:
            raise self._records.error(error) from None


def _state_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def lock_owner(input_name: str) -> str:
    """Who holds a lease: host, process and input (and a nonce: one per run)."""
    return f"{socket.gethostname()}:{os.getpid()}:{input_name}:{uuid.uuid4().hex[:8]}"


def indicator_ports(
    service: client.Service,
    limits: KvLimits,
    input_name: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Tuple[IndicatorCollection, CheckpointStateStore]:
    """The collection and checkpoint ports of one input's run, on the run's ``service``."""
    checkpoints = KvCollection(service, CHECKPOINT_COLLECTION)
    lock = WriterLock(checkpoints, lock_owner(input_name), sleep=sleep)
    return IndicatorCollection(service, limits, lock), CheckpointStateStore(checkpoints, input_name)
