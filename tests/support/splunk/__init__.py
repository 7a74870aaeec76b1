"""Stand-in for Splunk's private ``splunk`` package (tests only; see ../README.md)."""

from __future__ import annotations

import os


class SplunkdException(Exception):  # noqa: N818 - Splunk's own name
    """Base of the errors ``splunk.rest.simpleRequest`` raises."""


class RESTException(SplunkdException):
    def __init__(self, statusCode: int, msg: str = "") -> None:  # noqa: N803 - Splunk's name
        super().__init__(f"[HTTP {statusCode}] {msg}".rstrip())
        self.statusCode = statusCode
        self.msg = msg


class AuthenticationFailed(RESTException):
    def __init__(self, msg: str = "Authentication failed") -> None:
        super().__init__(401, msg)


class AuthorizationFailed(RESTException):
    def __init__(self, msg: str = "Insufficient permissions") -> None:
        super().__init__(403, msg)


class ResourceNotFound(RESTException):
    def __init__(self, msg: str = "Not found") -> None:
        super().__init__(404, msg)


class InternalServerError(RESTException):
    def __init__(self, msg: str = "Internal server error") -> None:
        super().__init__(500, msg)


def getSessionKey() -> str:  # noqa: N802 - Splunk's own function name
    """The session key of the current request; here, environment variable SPLUNK_SESSION_KEY."""
    key = os.environ.get("SPLUNK_SESSION_KEY")
    if not key:
        raise AuthenticationFailed("no session key: SPLUNK_SESSION_KEY is not set")
    return key
