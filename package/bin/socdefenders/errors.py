"""Errors the core raises; each message says what is wrong and how to fix it.

A failed poll is one :class:`CollectionError`. It carries everything the single ERROR log
line of that poll must name (category, HTTP status, the vendor's ``error.code``,
``error.message`` and ``request_id``, and the fix) and never the API key: messages are
built here from known parts, not copied from library exceptions.
"""

from __future__ import annotations

from enum import Enum
from typing import Dict, Optional


class SocDefendersError(Exception):
    """Base class of every error raised by the ``socdefenders`` package."""


class ErrorCategory(str, Enum):
    """What kind of failure a poll had; the value is the log label (``exc_l``)."""

    AUTHENTICATION = "Authentication Error"
    PERMISSION = "Permission Error"
    RATE_LIMIT = "Rate Limit Error"
    CONNECTION = "Connection Error"
    SERVER = "Server Error"
    CONFIGURATION = "Configuration Error"


class CollectionError(SocDefendersError):
    """A poll failed: no event is written and the checkpoint stays as it was."""

    category = ErrorCategory.SERVER

    def __init__(
        self,
        message: str,
        *,
        fix: str,
        status: Optional[int] = None,
        error_code: Optional[str] = None,
        error_message: Optional[str] = None,
        request_id: Optional[str] = None,
        category: Optional[ErrorCategory] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id
        if category is not None:
            self.category = category
        self.attempts = 1

    def with_attempts(self, attempts: int, seconds: float) -> CollectionError:
        """Note that retries were made and given up (used when the last one fails)."""
        self.attempts = attempts
        if attempts > 1:
            self.message = f"{self.message} (gave up after {attempts} attempts in {seconds:.1f} s)"
            self.args = (self.message,)
        return self

    def log_fields(self) -> Dict[str, object]:
        """The fields of this failure's log line, in a fixed order; absent ones are ``-``."""
        return {
            "category": self.category.value,
            "http_status": self.status if self.status is not None else "-",
            "error_code": self.error_code or "-",
            "error_message": self.error_message or "-",
            "request_id": self.request_id or "-",
            "attempts": self.attempts,
            "reason": self.message,
            "fix": self.fix,
        }


class ConfigurationError(CollectionError, ValueError):
    """A setting is missing or invalid; ``field`` names the setting."""

    category = ErrorCategory.CONFIGURATION

    def __init__(self, field: str, message: str, fix: Optional[str] = None) -> None:
        super().__init__(message, fix=fix or "correct the setting named in the message")
        self.field = field


class ApiError(CollectionError):
    """The SOC Defenders API answered with an error status."""


class TransportError(CollectionError):
    """No usable HTTP answer: DNS, refused or reset connection, TLS, proxy or timeout."""

    category = ErrorCategory.CONNECTION


class ResponseError(CollectionError):
    """The API answered 200 but the body is not a valid stats document."""

    category = ErrorCategory.SERVER


class CheckpointError(SocDefendersError):
    """A stored checkpoint cannot be read back; the input starts over from it."""
