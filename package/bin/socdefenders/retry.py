"""When to try the API again, and how long to wait first.

Connection failures, timeouts, 429 and 5xx are transient; everything else is final. The
wait grows exponentially with full jitter, but a server that says when to come back
(``Retry-After``, or ``X-RateLimit-Reset`` on a 429) is believed. All waiting of one poll
fits in a budget that is a fraction of the input's interval, so a poll never runs into
the next one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from .timestamps import http_date
from .whole_numbers import whole_number

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
BUDGET_SHARE_OF_INTERVAL = 0.25  # a 60 s interval leaves 15 s for retries
MAX_BUDGET_SECONDS = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0
    budget_seconds: float = 60.0

    @classmethod
    def for_interval(cls, interval_seconds: float) -> RetryPolicy:
        """The policy for an input polling every ``interval_seconds``."""
        budget = min(interval_seconds * BUDGET_SHARE_OF_INTERVAL, MAX_BUDGET_SECONDS)
        return cls(budget_seconds=budget)

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """Full-jitter exponential backoff for the ``retry_number``-th retry (1-based)."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (retry_number - 1))
        return ceiling * rand()


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def server_requested_wait(
    status: Optional[int], headers: Mapping[str, str], now_epoch: float
) -> Optional[float]:
    """Seconds the server asked us to wait, from ``Retry-After`` or (429) ``X-RateLimit-Reset``.

    ``Retry-After`` may be seconds or an HTTP date. ``X-RateLimit-Reset`` is a Unix time.
    Unreadable values are ignored rather than trusted.
    """
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        seconds = whole_number(retry_after)
        if seconds is not None:
            return float(seconds)
        try:
            return max(0.0, http_date(retry_after).timestamp() - now_epoch)
        except ValueError:
            pass
    if status == 429:
        reset = whole_number(_header(headers, "X-RateLimit-Reset"))
        if reset is not None:
            return max(0.0, reset - now_epoch)
    return None
