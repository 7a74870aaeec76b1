"""Testing an account before it is saved: one real request with the entered settings.

Used by the account REST handler. One attempt only (an admin is waiting): a failure is
turned into one message that says what went wrong and how to fix it, without the key.
"""

from __future__ import annotations

from typing import Optional

from .account import AccountSettings
from .client import ApiClient
from .errors import CollectionError
from .retry import RetryPolicy
from .stats.poll import snapshot_of
from .stats.snapshot import Snapshot

SAVE_CHECK_POLICY = RetryPolicy(max_attempts=1, budget_seconds=0.0)


def check_account_connection(
    account: AccountSettings,
    *,
    user_agent: str,
    proxy_url: Optional[str] = None,
) -> Snapshot:
    """Fetch and validate the stats once; raises ``CollectionError`` when that fails."""
    client = ApiClient(
        account,
        user_agent=user_agent,
        retry_policy=SAVE_CHECK_POLICY,
        proxy_url=proxy_url,
    )
    try:
        return snapshot_of(client.fetch())
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
