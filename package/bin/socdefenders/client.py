"""HTTP client of the SOC Defenders API: one ``GET`` with retries, as raw bytes.

Both inputs use it: the stats input for ``GET /api/v1/iocs/stats``, the indicators input
for each page of ``GET /api/v1/iocs``. It returns the body of a 200 answer (size-capped)
or raises a
:class:`~socdefenders.errors.CollectionError` that says what failed and how to fix it.
Redirects are never followed, so the API key is only ever sent to the configured host.
Proxies come only from the add-on's proxy settings (``trust_env`` is off: environment
proxies and ``.netrc`` credentials of the Splunk process are not used).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

import requests

from .account import AccountSettings, AuthHeader
from .api_paths import STATS_PATH
from .errors import CollectionError
from .http_errors import error_for_response, error_for_transport_failure, is_retryable_failure
from .retry import RETRYABLE_STATUSES, RetryPolicy, server_requested_wait
from .whole_numbers import whole_number

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
    headers: Mapping[str, str] = field(default_factory=dict)  # as received (case-insensitive)


QueryParams = Sequence[Tuple[str, Union[str, int]]]


def api_url(base_url: str, path: str = STATS_PATH) -> str:
    return base_url.rstrip("/") + path


def stats_url(base_url: str) -> str:
    return api_url(base_url, STATS_PATH)


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


class ApiClient:
    """Fetches API answers for one account (the stats document unless told otherwise).

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
        self.base_url = account.base_url
        self.url = stats_url(account.base_url)
        self.api_host = urlsplit(self.url).hostname or ""
        self.requests_sent = 0  # every attempt that reached the network, retries included
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

    def fetch(
        self,
        path: str = STATS_PATH,
        params: Optional[QueryParams] = None,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        retry_policy: Optional[RetryPolicy] = None,
    ) -> ApiResponse:
        """One ``GET`` of ``path`` with ``params``: retries transient failures within the
        policy's budget (the client's own policy unless another is given)."""
        policy = retry_policy or self._policy
        url = api_url(self.base_url, path)
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(url, params, max_body_bytes, attempt, started)
            except _RetryableError as retryable:
                wait = retryable.wait
                if wait is None:
                    wait = policy.backoff(attempt, self._rand)
                spent = self._clock() - started
                out_of_attempts = attempt >= policy.max_attempts
                if out_of_attempts or spent + wait > policy.budget_seconds:
                    raise retryable.error.with_attempts(attempt, spent) from None
                self._sleep(wait)

    def _attempt(
        self,
        url: str,
        params: Optional[QueryParams],
        max_body_bytes: int,
        attempt: int,
        started: float,
    ) -> ApiResponse:
        self.requests_sent += 1
        try:
            response = self._session.get(
                url,
                params=params,
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
                    body = read_capped(response, max_body_bytes)
                    if body is None:
                        raise error_for_response(
                            response, None, self.api_host, body_too_large=max_body_bytes
                        )
                    return ApiResponse(
                        body=body,
                        request_id=response.headers.get("X-Request-Id"),
                        rate_limit=RateLimit.from_headers(response.headers),
                        attempts=attempt,
                        elapsed_seconds=self._clock() - started,
                        headers=response.headers,
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
