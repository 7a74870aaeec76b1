"""HTTP client for ``GET /api/v1/iocs/stats``: one poll, with retries, as raw bytes.

It returns the body of a 200 answer (size-capped) or raises a
:class:`~socdefenders.errors.CollectionError` that says what failed and how to fix it.
Redirects are never followed, so the API key is only ever sent to the configured host.
Proxies come only from the add-on's proxy settings (``trust_env`` is off: environment
proxies and ``.netrc`` credentials of the Splunk process are not used).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional
from urllib.parse import urlsplit

import requests

from .account import AccountSettings, AuthHeader
from .cache import NO_CACHE_HEADERS, CacheHeaders
from .errors import CollectionError
from .http_errors import error_for_response, error_for_transport_failure, is_retryable_failure
from .retry import RETRYABLE_STATUSES, RetryPolicy, server_requested_wait
from .whole_numbers import whole_number

STATS_PATH = "/api/v1/iocs/stats"
MAX_BODY_BYTES = 2 * 1024 * 1024  # the documented answer is about 1 KB; thousands of feeds fit
MAX_ERROR_BODY_BYTES = 64 * 1024
CONNECT_TIMEOUT_SECONDS = 10.0
_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class RateLimit:
    """The ``X-RateLimit-*`` headers of an answer (``None`` when absent or unreadable)."""

    limit: Optional[int] = None
    remaining: Optional[int] = None
    reset_epoch: Optional[int] = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        return cls(
            whole_number(headers.get("X-RateLimit-Limit")),
            whole_number(headers.get("X-RateLimit-Remaining")),
            whole_number(headers.get("X-RateLimit-Reset")),
        )


@dataclass(frozen=True)
class ApiResponse:
    """A successful (200) answer."""

    body: bytes
    request_id: Optional[str]
    rate_limit: RateLimit
    attempts: int
    elapsed_seconds: float
    cache: CacheHeaders = NO_CACHE_HEADERS


def stats_url(base_url: str) -> str:
    return base_url.rstrip("/") + STATS_PATH


def request_headers(account: AccountSettings, user_agent: str) -> Dict[str, str]:
    """Headers of the stats request; the key goes in the header the account chose."""
    headers = {"Accept": "application/json", "User-Agent": user_agent}
    if account.auth_header is AuthHeader.X_API_KEY:
        headers["X-API-Key"] = account.api_key
    else:
        headers["Authorization"] = f"Bearer {account.api_key}"
    return headers


def read_capped(response: requests.Response, limit: int) -> Optional[bytes]:
    """The body, or ``None`` when it is larger than ``limit`` bytes (reading stops there)."""
    declared = whole_number(response.headers.get("Content-Length"))
    if declared is not None and declared > limit:
        return None
    received = bytearray()
    for chunk in response.iter_content(_CHUNK_BYTES):
        received.extend(chunk)
        if len(received) > limit:
            return None
    return bytes(received)


class StatsClient:
    """Fetches the stats document for one account.

    ``sleep``, ``clock``, ``wall_clock`` and ``rand`` are injectable so the retry
    behaviour is tested without waiting.
    """

    def __init__(
        self,
        account: AccountSettings,
        *,
        user_agent: str,
        retry_policy: RetryPolicy,
        proxy_url: Optional[str] = None,
        session: Optional[requests.Session] = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.account = account
        self.url = stats_url(account.base_url)
        self.api_host = urlsplit(self.url).hostname or ""
        self._headers = request_headers(account, user_agent)
        self._proxies = {"http": proxy_url, "https": proxy_url} if proxy_url else None
        self._policy = retry_policy
        self._session = session or requests.Session()
        self._session.trust_env = False
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rand = rand

    def close(self) -> None:
        self._session.close()

    def fetch(self) -> ApiResponse:
        """One poll: retries transient failures within the policy's budget."""
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(attempt, started)
            except _RetryableError as retryable:
                wait = retryable.wait
                if wait is None:
                    wait = self._policy.backoff(attempt, self._rand)
                spent = self._clock() - started
                out_of_attempts = attempt >= self._policy.max_attempts
                if out_of_attempts or spent + wait > self._policy.budget_seconds:
                    raise retryable.error.with_attempts(attempt, spent) from None
                self._sleep(wait)

    def _attempt(self, attempt: int, started: float) -> ApiResponse:
        try:
            response = self._session.get(
                self.url,
                headers=self._headers,
                timeout=(
                    min(CONNECT_TIMEOUT_SECONDS, self.account.timeout_seconds),
                    self.account.timeout_seconds,
                ),
                verify=self.account.tls_verify,
                proxies=self._proxies,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as failure:
            raise self._transport_error(failure) from None
        with response:
            try:
                if response.status_code == 200:
                    body = read_capped(response, MAX_BODY_BYTES)
                    if body is None:
                        raise error_for_response(
                            response, None, self.api_host, body_too_large=MAX_BODY_BYTES
                        )
                    return ApiResponse(
                        body=body,
                        request_id=response.headers.get("X-Request-Id"),
                        rate_limit=RateLimit.from_headers(response.headers),
                        attempts=attempt,
                        elapsed_seconds=self._clock() - started,
                        cache=CacheHeaders.from_headers(response.headers),
                    )
                error_body = read_capped(response, MAX_ERROR_BODY_BYTES)
            except requests.RequestException as failure:
                raise self._transport_error(failure) from None
        error = error_for_response(response, error_body, self.api_host)
        if response.status_code in RETRYABLE_STATUSES:
            wait = server_requested_wait(response.status_code, response.headers, self._wall_clock())
            raise _RetryableError(error, wait)
        raise error

    def _transport_error(self, failure: requests.RequestException) -> Exception:
        error = error_for_transport_failure(
            failure, self.api_host, self.account.timeout_seconds, proxied=bool(self._proxies)
        )
        if is_retryable_failure(failure):
            return _RetryableError(error, None)
        return error


class _RetryableError(Exception):
    """Internal: a transient failure, with the wait the server asked for (if any)."""

    def __init__(self, error: CollectionError, wait: Optional[float]) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait
