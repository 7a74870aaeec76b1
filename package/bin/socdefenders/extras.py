"""The vendor's extras (``api_extra``) made safe to write: the API key scrubbed out."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List

from .log_fields import REDACTED

MAX_EXTRA_DEPTH = 100  # extras nested deeper are left out of the event (see event.py)


def _scrubbed(value: Any, secrets: List[str], depth: int) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if depth > MAX_EXTRA_DEPTH:  # never written (too deep), so never walked further
        return value
    if isinstance(value, dict):
        return {
            _scrubbed(key, secrets, depth): _scrubbed(item, secrets, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(item, secrets, depth + 1) for item in value]
    return value


def without_secrets(extras: Dict[str, Any], secrets: Iterable[str]) -> Dict[str, Any]:
    """The extras with each secret replaced in every text, names included: an answer
    echoing the key must not put it in an index. Levels past ``MAX_EXTRA_DEPTH`` are not
    walked: extras that deep are never written."""
    found = [secret for secret in secrets if secret]
    return _scrubbed(extras, found, 1) if found else extras
