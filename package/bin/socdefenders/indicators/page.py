"""One page of ``GET /api/v1/iocs``: how it is asked for and what a 200 answer must hold.

Only ``meta.limit`` (the page size that applies: an over-cap ``limit`` is clamped),
``meta.total`` and ``data`` are read. Each element of ``data`` is passed on as received:
one record that cannot be read is counted as invalid by the sync, never fatal. An answer
without a readable ``meta.limit`` or ``data`` is: it raises
:class:`~socdefenders.errors.ResponseError` with status 200 and the answer's request_id.
``links.next`` is never read (it drops the request's filters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ..client import ApiClient, ApiResponse
from ..errors import ResponseError
from ..log_fields import key_names
from ..retry import RetryPolicy

IOCS_PATH = "/api/v1/iocs"
MAX_PAGE_BYTES = 64 * 1024 * 1024  # 10,000 records of a few KB each
# Waits the client may make for one page. A 429 whose reset is further away ends the run
# (its progress is kept; the next interval resumes) instead of holding the input.
PAGE_RETRY_POLICY = RetryPolicy(budget_seconds=60.0)
MAX_COUNT = 2**63 - 1

_FIX = (
    "the API answered in an unexpected format; if this persists, give the request_id to "
    "SOC Defenders support"
)


@dataclass(frozen=True)
class Page:
    """A readable answer: the page size that applies, the total if given, the records."""

    limit: int
    total: Optional[int]
    records: List[Any]
    body_bytes: int = 0

    @property
    def is_last(self) -> bool:
        """Fewer records than the page size (or none): the stream has no more."""
        return len(self.records) < self.limit


def invalid(message: str) -> ResponseError:
    return ResponseError(f"invalid indicators page: {message}", fix=_FIX, error_code="invalid_body")


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def parse_page(body: bytes) -> Page:
    """Validate a 200 body of the list endpoint."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise invalid("the body is not UTF-8 text") from None
    except RecursionError:
        raise invalid("the body nests too deeply") from None
    except ValueError:
        snippet = " ".join(body[:40].decode("utf-8", "replace").split())
        raise invalid(f"the body is not JSON (it starts with {snippet!r})") from None
    if not isinstance(document, dict):
        raise invalid(f"the body is a JSON {type(document).__name__}, not an object")
    meta = document.get("meta")
    if not isinstance(meta, dict):
        raise invalid(
            f"meta is missing or not an object (top-level keys received: {key_names(document)})"
        )
    limit = meta.get("limit")
    if not _count(limit) or limit < 1:
        raise invalid(
            f"meta.limit is {json.dumps(limit)[:40]}, not a positive integer "
            f"(keys of meta received: {key_names(meta)})"
        )
    total = meta.get("total")
    if total is not None and not _count(total):
        raise invalid(f"meta.total is {json.dumps(total)[:40]}, not a non-negative integer")
    records = document.get("data")
    if not isinstance(records, list):
        state = "missing" if records is None else f"a {type(records).__name__}, not a list"
        raise invalid(f"data is {state} (top-level keys received: {key_names(document)})")
    return Page(limit=limit, total=total, records=records, body_bytes=len(body))


def page_of(response: ApiResponse) -> Page:
    """Validate a 200 answer; an invalid one is reported with that answer's request_id."""
    try:
        return parse_page(response.body)
    except ResponseError as error:
        error.status, error.request_id, error.attempts = 200, response.request_id, response.attempts
        raise


def record_id(record: Any) -> Optional[str]:
    """The vendor's ``id`` of a raw record as text, when it has a usable one."""
    if isinstance(record, Mapping):
        value = record.get("id")
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value)
            return text[:128] if text else None
    return None


class ClientPageSource:
    """The sync's page source over an :class:`~socdefenders.client.ApiClient`."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    @property
    def requests_sent(self) -> int:
        return self._client.requests_sent

    def fetch(self, params: Sequence[Tuple[str, str]]) -> ApiResponse:
        return self._client.fetch(
            IOCS_PATH, params, max_body_bytes=MAX_PAGE_BYTES, retry_policy=PAGE_RETRY_POLICY
        )
