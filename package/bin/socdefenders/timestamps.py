"""Times as the add-on writes them (ISO 8601 in UTC with millisecond precision), and the
HTTP-dates servers send."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


def utc_now() -> datetime:
    """Now, truncated to the millisecond so ``_time`` and ``collected_at`` agree exactly."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def utc_iso(moment: datetime) -> str:
    """``2026-11-29T17:45:50.123Z``: the form of ``collected_at`` and of checkpoints."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def http_date(text: str) -> datetime:
    """An RFC 7231 HTTP-date (any of its three forms), timezone-aware: the forms without
    a zone (asctime, ``-0000``) are GMT, as RFC 7231 says. ``ValueError`` when it is not one."""
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, OverflowError, IndexError):  # TypeError: Python 3.9
        raise ValueError("not an HTTP-date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def epoch_seconds(moment: datetime) -> float:
    """The event time splunkd expects: seconds since the epoch, millisecond precision."""
    return round(moment.timestamp(), 3)
