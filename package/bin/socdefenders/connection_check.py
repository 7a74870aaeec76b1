"""Testing an account before it is saved: one real request with the entered settings.

Used by the account REST handler. One attempt only (an admin is waiting): a failure is
turned into one message that says what went wrong and how to fix it, without the key.

A Pro key gets the stats (one request). A Free key is refused the stats (403) but may
list indicators, which the indicators input does: one more request, for a single
indicator, tells a working Free key from a refused one, and the account is saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .account import AccountSettings
from .api_paths import IOCS_PATH
from .client import ApiClient
from .errors import CollectionError
from .retry import RetryPolicy
from .stats.poll import snapshot_of
from .stats.snapshot import Snapshot

SAVE_CHECK_POLICY = RetryPolicy(max_attempts=1, budget_seconds=0.0)
FREE_TIER_STATUS = 403  # the stats endpoint's answer to a valid key of the Free tier


@dataclass(frozen=True)
class AccountCheck:
    """What saving an account learnt: the stats (a Pro key), or none (a Free key)."""

    snapshot: Optional[Snapshot]

    @property
    def tier(self) -> str:
        return "pro" if self.snapshot is not None else "free"


def check_account_connection(
    account: AccountSettings,
    *,
    user_agent: str,
    proxy_url: Optional[str] = None,
) -> AccountCheck:
    """Fetch and validate the stats once (and, for a Free key, one indicator); raises
    ``CollectionError`` when the key does not work."""
    client = ApiClient(
        account,
        user_agent=user_agent,
        retry_policy=SAVE_CHECK_POLICY,
        proxy_url=proxy_url,
    )
    try:
        try:
            return AccountCheck(snapshot_of(client.fetch()))
        except CollectionError as error:
            if error.status != FREE_TIER_STATUS:
                raise
            stats_refused = error
        try:
            client.fetch(IOCS_PATH, [("limit", "1")])
        except CollectionError:
            raise stats_refused from None  # the key works for nothing: say why the stats
        return AccountCheck(None)
    finally:
        client.close()


def rejection_message(error: CollectionError) -> str:
    """The message shown in the account form: what failed, the vendor's ids, the fix."""
    text = error.message[:1].upper() + error.message[1:]
    details = [f"HTTP {error.status}" if error.status else "", error.error_code or ""]
    ids = ", ".join(part for part in details if part and part not in text)  # not said twice
    if ids:
        text += f" [{ids}]"
    if error.request_id:
        text += f" (request_id {error.request_id})"
    return f"The account was not saved: {text}. To fix: {error.fix}."
