"""Reading values as Splunk stores them in .conf files: everything arrives as a string.

Error messages never repeat the value entered: an API key pasted into the wrong field
must not end up in a REST response or a log line.
"""

from __future__ import annotations

from typing import Any, Optional

from .errors import ConfigurationError

_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off", ""})


def as_text(value: Any) -> str:
    return str(value if value is not None else "").strip()


def seconds_in_range(
    value: Any, field: str, label: str, low: int, high: int, default: Optional[int] = None
) -> int:
    """A whole number of seconds from ``low`` to ``high``; empty means ``default`` if any."""
    text = as_text(value)
    if not text and default is not None:
        return default
    try:
        seconds = int(text)
    except ValueError:
        seconds = low - 1  # not a whole number: reported like any value out of range
    if not low <= seconds <= high:
        raise ConfigurationError(
            field, f"{label} must be a whole number of seconds from {low} to {high}."
        )
    return seconds


def as_flag(value: Any, field: str) -> bool:
    """A Splunk boolean (``1``/``0``, ``true``/``false``, ...); empty means false."""
    if isinstance(value, bool):
        return value
    text = as_text(value).lower()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise ConfigurationError(field, f"{field} must be true or false (1 or 0).")
