"""The vendor's extras (``api_extra``) made safe to write: the API key scrubbed out, and
their nesting depth and written size measured without recursion (json.loads reads
nesting deeper than json.dumps can write)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List

from ..log_fields import REDACTED

MAX_EXTRA_DEPTH = 100  # extras nested deeper are left out of the event (see event.py)


def too_deep(extras: Any, limit: int = MAX_EXTRA_DEPTH) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels (``extras`` is level 1)."""
    stack = [(extras, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
    return False


def written_size(value: Any, scalar_text: Callable[[Any], str]) -> int:
    """UTF-8 bytes of ``value`` written as compact JSON, each key and scalar written by
    ``scalar_text``; walked without recursion, so any depth can be measured."""
    size, stack = 0, [value]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            size += 2 + max(len(value) - 1, 0) + len(value)  # braces, commas, colons
            size += sum(len(scalar_text(str(key)).encode("utf-8")) for key in value)
            stack.extend(value.values())
        elif isinstance(value, list):
            size += 2 + max(len(value) - 1, 0)
            stack.extend(value)
        else:
            size += len(scalar_text(value).encode("utf-8"))
    return size


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
