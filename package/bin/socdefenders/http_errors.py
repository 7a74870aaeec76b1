"""Turn a failed HTTP exchange with the SOC Defenders API into an actionable error.

Every message is assembled from known parts (status, the vendor's error code and
request id, the host): never from a library exception's text, which could carry a
proxy URL with its password.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Dict, NamedTuple, Optional, Union
from urllib.parse import urlsplit

import requests
from requests.exceptions import (
    ChunkedEncodingError,
    ConnectTimeout,
    ProxyError,
    ReadTimeout,
    SSLError,
)

from .api_paths import STATS_PATH
from .errors import ApiError, CollectionError, ErrorCategory, ResponseError, TransportError
from .whole_numbers import whole_number

ACCOUNTS_PAGE = "Configuration > Accounts"
PROXY_PAGE = "Configuration > Proxy"

_AUTH_FIXES = {
    "missing_api_key": f"the API key did not reach the API: check the key in {ACCOUNTS_PAGE}, "
    "and if a proxy strips the Authorization header, set 'Send the API key as' to X-API-Key",
    "invalid_api_key": f"check the key in {ACCOUNTS_PAGE}: it does not match an active "
    "SOC Defenders key",
    "expired_api_key": "the key is deactivated or expired: create a new key in the SOC Defenders "
    f"dashboard and enter it in {ACCOUNTS_PAGE}",
}


def _vendor_error(body: Optional[bytes]) -> Dict[str, Optional[str]]:
    """``code``, ``message`` and ``request_id`` from a ``{"error": {...}}`` body, if any."""
    fields: Dict[str, Optional[str]] = {"code": None, "message": None, "request_id": None}
    if not body:
        return fields
    try:
        document: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return fields
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        for name in fields:
            value = error.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                fields[name] = " ".join(str(value).split())[:500]
    return fields


def reset_time(headers: Any) -> Optional[str]:
    """``X-RateLimit-Reset`` (a Unix time) as ISO 8601 UTC, or ``None``."""
    value = whole_number(headers.get("X-RateLimit-Reset"))
    if value is None:
        return None
    try:
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_error(
    status: int, code: Optional[str], api_host: str, headers: Any, path: str = STATS_PATH
) -> ApiError:
    if status == 401:
        fix = _AUTH_FIXES.get(code or "", f"check the key in {ACCOUNTS_PAGE}")
        return ApiError(
            f"the API refused the key (HTTP 401 {code or 'unauthorized'})",
            fix=fix,
            category=ErrorCategory.AUTHENTICATION,
        )
    if status == 403:
        if path != STATS_PATH:
            return ApiError(
                f"the API refused access to {path} (HTTP 403)",
                fix="the key's SOC Defenders plan does not allow listing indicators: check the "
                "plan of this key in the SOC Defenders dashboard, or use another key",
                category=ErrorCategory.PERMISSION,
            )
        return ApiError(
            "the API refused access to /api/v1/iocs/stats (HTTP 403)",
            fix="this endpoint needs a Pro subscription: upgrade the SOC Defenders plan of "
            "this key or use a Pro key",
            category=ErrorCategory.PERMISSION,
        )
    if status == 429:
        resets = reset_time(headers)
        when = f"the quota resets at {resets}" if resets else "the quota resets within a minute"
        return ApiError(
            "the API rate limit of this key is used up (HTTP 429)",
            fix=f"{when}; the next poll will collect again. If this repeats, raise the "
            "input's interval or stop other clients using the same key",
            category=ErrorCategory.RATE_LIMIT,
        )
    if status == 404:
        return ApiError(
            f"{api_host} has no {path} endpoint (HTTP 404)",
            fix=f"check the API base URL of the account in {ACCOUNTS_PAGE}",
            category=ErrorCategory.CONFIGURATION,
        )
    if 300 <= status < 400:
        target = requests.utils.urlparse(str(headers.get("Location", ""))).hostname or "-"
        return ApiError(
            f"the API answered with a redirect (HTTP {status}) to host {target}; "
            "the API key was not sent there",
            fix=f"if the API has moved, set the account's API base URL in {ACCOUNTS_PAGE} "
            "to the new address",
            category=ErrorCategory.CONFIGURATION,
        )
    if status >= 500:
        return ApiError(
            f"the SOC Defenders API failed (HTTP {status})",
            fix="a server-side problem: the next poll tries again; if it persists, "
            "give the request_id to SOC Defenders support",
            category=ErrorCategory.SERVER,
        )
    return ApiError(
        f"the API refused the request (HTTP {status})",
        fix="give the request_id to SOC Defenders support",
        category=ErrorCategory.SERVER,
    )


def error_for_response(
    response: requests.Response,
    body: Optional[bytes],
    api_host: str,
    body_too_large: Optional[int] = None,
) -> CollectionError:
    """The error for a non-200 answer, or for a 200 whose body exceeded ``body_too_large``."""
    request_id = response.headers.get("X-Request-Id")
    if body_too_large is not None:
        return ResponseError(
            f"the API answer is larger than {body_too_large} bytes; it was not read",
            fix="a broken or impersonated server: check the API base URL; if it is right, "
            "give the request_id to SOC Defenders support",
            status=response.status_code,
            error_code="body_too_large",
            request_id=request_id,
        )
    vendor = _vendor_error(body)
    path = urlsplit(response.url or "").path or STATS_PATH
    error = _status_error(response.status_code, vendor["code"], api_host, response.headers, path)
    error.status = response.status_code
    error.error_code = vendor["code"]
    error.error_message = vendor["message"]
    error.request_id = vendor["request_id"] or request_id
    return error


def is_retryable_failure(failure: requests.RequestException) -> bool:
    """Connection problems and timeouts are transient; TLS and invalid URLs are not."""
    if isinstance(failure, (requests.exceptions.SSLError, requests.exceptions.InvalidURL)):
        return False
    return isinstance(
        failure,
        (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ),
    )


def _looks_like_dns_failure(failure: BaseException) -> bool:
    text = repr(failure)
    return any(
        marker in text
        for marker in ("NameResolutionError", "Name or service not known", "getaddrinfo failed",
                       "nodename nor servname", "Temporary failure in name resolution")
    )  # fmt: skip


_Match = Callable[[requests.RequestException, bool], bool]


def _bad_request(failure: requests.RequestException, proxied: bool) -> bool:
    """An invalid URL, or a proxy URL whose scheme requests cannot use."""
    return isinstance(failure, requests.exceptions.InvalidURL) or (
        isinstance(failure, requests.exceptions.InvalidSchema) and proxied
    )


class _TransportCase(NamedTuple):
    """A kind of transport failure and what to tell the admin about it."""

    test: Union[type, _Match]  # an exception class, or called with the failure and ``proxied``
    message: str  # ``str.format`` fields: ``host``, ``timeout``; `` (ExceptionName)`` is added
    fix: str
    category: Optional[ErrorCategory] = None  # None: TransportError's own (Connection Error)

    def matches(self, failure: requests.RequestException, proxied: bool) -> bool:
        """Whether ``failure`` is of this kind."""
        if isinstance(self.test, type):
            return isinstance(failure, self.test)
        return self.test(failure, proxied)


# The first case that matches wins: the class-based cases come before the text-based DNS
# test (SSLError, ProxyError and ConnectTimeout are ConnectionErrors whose text may look
# like a DNS failure), and the catch-all comes last.
_TRANSPORT_CASES = (
    _TransportCase(SSLError, "TLS verification of {host} failed",
        "if your network inspects TLS, enter the path of its CA certificate (PEM) as the account's "
        f"CA bundle in {ACCOUNTS_PAGE}; check that the system clock is right"),
    _TransportCase(ProxyError, "could not reach {host} through the proxy",
        f"check the proxy host, port, type and credentials in {PROXY_PAGE}, and that the proxy "
        "allows HTTPS to the API host"),
    _TransportCase(ConnectTimeout, "no connection to {host} within the connect timeout",
        f"check that this Splunk node can reach the API host on port 443 (firewall, {PROXY_PAGE})"),
    _TransportCase(ReadTimeout, "{host} did not answer within {timeout} s",
        f"raise the account's request timeout in {ACCOUNTS_PAGE} if the API is slow; the next poll "
        "tries again"),
    _TransportCase(ChunkedEncodingError, "the connection to {host} broke while the answer was read",
        "a network or server interruption: the next poll tries again"),
    _TransportCase(_bad_request, "the request to {host} could not be built",
        f"check the API base URL in {ACCOUNTS_PAGE} and the proxy in {PROXY_PAGE}",
        ErrorCategory.CONFIGURATION),
    _TransportCase(lambda failure, proxied: _looks_like_dns_failure(failure),
        "the host name {host} could not be resolved",
        "check the DNS of this Splunk node, or enable remote DNS on a SOCKS proxy in "
        f"{PROXY_PAGE}"),
    _TransportCase(BaseException, "could not connect to {host}",  # anything else
        "check that this Splunk node can reach the API host (firewall, proxy in "
        f"{PROXY_PAGE}); the next poll tries again"),
)  # fmt: skip


def error_for_transport_failure(
    failure: requests.RequestException, api_host: str, timeout_seconds: int, proxied: bool
) -> TransportError:
    """The error for a request that got no usable answer: from the first case that matches."""
    case = next(case for case in _TRANSPORT_CASES if case.matches(failure, proxied))
    message = case.message.format(host=api_host, timeout=timeout_seconds)
    return TransportError(
        f"{message} ({type(failure).__name__})", fix=case.fix, category=case.category
    )
