"""Log lines as ``key=value`` pairs that Splunk extracts automatically, and secret redaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping
from urllib.parse import quote

REDACTED = "********"
MAX_NAMED_KEYS = 20  # how many received key names an error line lists
MAX_KEY_NAME_CHARS = 40


@dataclass(frozen=True)
class LogNote:
    """A line the glue logs for a run besides its outcome: level, ``action=``, fields."""

    level: int
    action: str
    fields: Dict[str, object]


def key_names(keys: Iterable[str]) -> str:
    """Names for a log line: at most ``MAX_NAMED_KEYS``, each cut short, printable only."""
    names = list(keys)
    shown = []
    for name in names[:MAX_NAMED_KEYS]:
        printable = "".join(c if c.isprintable() else "?" for c in name[:MAX_KEY_NAME_CHARS])
        shown.append(printable + ("..." if len(name) > MAX_KEY_NAME_CHARS else ""))
    more = len(names) - len(shown)
    text = ", ".join(shown) if shown else "none"
    return text + (f" and {more} more" if more > 0 else "")


def quoted(value: object) -> str:
    """A value as it goes after ``key=``: quoted when it has spaces, quotes or ``=``."""
    text = str(value).replace("\n", " ").replace("\r", " ")
    if not text or any(character in text for character in ' "=,'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def quoted_fields(fields: Mapping[str, object]) -> Dict[str, str]:
    return {key: quoted(value) for key, value in fields.items()}


def format_fields(fields: Mapping[str, object]) -> str:
    return " ".join(f"{key}={value}" for key, value in quoted_fields(fields).items())


class SecretRedactor(logging.Filter):
    """Replaces known secrets (and their URL-encoded forms) in every record of a logger.

    A second line of defence: the code never formats a secret into a message, but a
    third-party exception text could carry one.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: List[str] = []

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            for form in (secret, quote(secret, safe="")):
                if form and form not in self._secrets:
                    self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self.redact(record.getMessage())
            record.args = ()
        return True
