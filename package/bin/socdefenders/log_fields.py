"""Log lines as ``key=value`` pairs that Splunk extracts automatically, and secret redaction."""

from __future__ import annotations

import logging
from typing import Dict, Iterable, List, Mapping
from urllib.parse import quote

REDACTED = "********"


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
