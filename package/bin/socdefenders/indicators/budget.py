"""The per-account, per-UTC-day request budget of the indicators inputs.

Every indicators input of an account counts its requests (retries included) in one
record, under the writer lock. The budget leaves part of the vendor's daily limit to the
stats input, account checks and retries: Free keys (``meta.limit`` at most 100) 800 of
1,000 a day, Pro keys 100,000 of 1,000,000. A tier not yet seen counts as Free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from ..errors import CheckpointError

FREE_MAX_PAGE_LIMIT = 100
FREE_DAILY_BUDGET = 800
PRO_DAILY_BUDGET = 100_000
BUDGET_SCHEMA = 1


def budget_key(account: str) -> str:
    """The checkpoint ``_key`` of an account's budget."""
    return f"budget://{account}"


def is_free(page_limit: Optional[int]) -> bool:
    """A Free key (or one whose tier is not known yet)."""
    return page_limit is None or page_limit <= FREE_MAX_PAGE_LIMIT


def daily_budget(page_limit: Optional[int]) -> int:
    return FREE_DAILY_BUDGET if is_free(page_limit) else PRO_DAILY_BUDGET


def utc_day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Budget:
    """Requests an account made on one UTC day, and the last page size seen (its tier)."""

    day: str
    requests: int = 0
    page_limit: Optional[int] = None

    @classmethod
    def from_record(cls, record: Optional[Dict[str, Any]], now: datetime) -> Budget:
        """Today's budget from the stored record (a record of another day counts 0).
        ``CheckpointError`` when the record cannot be read."""
        today = utc_day(now)
        if record is None:
            return cls(today)
        if not isinstance(record, dict) or record.get("schema") != BUDGET_SCHEMA:
            raise CheckpointError("the request budget is not a record this version wrote")
        day, requests, page_limit = (record.get(name) for name in ("day", "requests", "page_limit"))
        if not isinstance(day, str) or type(requests) is not int or requests < 0:
            raise CheckpointError("the request budget's day or count is not valid")
        if page_limit is not None and (type(page_limit) is not int or page_limit < 1):
            raise CheckpointError("the request budget's page limit is not valid")
        return cls(today, requests if day == today else 0, page_limit)

    def limit(self, page_limit: Optional[int] = None) -> int:
        """The daily budget for the tier of ``page_limit`` (else the one last seen)."""
        return daily_budget(page_limit if page_limit is not None else self.page_limit)

    def reached(self, page_limit: Optional[int] = None) -> bool:
        return self.requests >= self.limit(page_limit)

    def spend(self, requests: int, page_limit: Optional[int]) -> Budget:
        """This budget with ``requests`` more, remembering the page size last seen."""
        return replace(
            self,
            requests=self.requests + max(0, requests),
            page_limit=page_limit if page_limit is not None else self.page_limit,
        )

    def to_record(self) -> Dict[str, Any]:
        return {
            "schema": BUDGET_SCHEMA,
            "day": self.day,
            "requests": self.requests,
            "page_limit": self.page_limit,
        }
