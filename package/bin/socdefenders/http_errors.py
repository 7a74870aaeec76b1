"""Turn a failed HTTP exchange with the SOC Defenders API into an actionable error.

Every message is assembled from known parts (status, the vendor's error code and
request id, the host): never from a library exception's text, which could carry a
proxy URL with its password.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, Optional

import requests

from .errors import ApiError, CollectionError, ErrorCategory, ResponseError, TransportError

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
    value = str(headers.get("X-RateLimit-Reset", "")).strip()
    if not value.isdigit():
        return None
    try:
        moment = datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_error(status: int, code: Optional[str], api_host: str, headers: Any) -> ApiError:
    if status == 401:
        fix = _AUTH_FIXES.get(code or "", f"check the key in {ACCOUNTS_PAGE}")
        return ApiError(
            f"the API refused the key (HTTP 401 {code or 'unauthorized'})",
            fix=fix,
            category=ErrorCategory.AUTHENTICATION,
        )
    if status == 403:
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
            f"{api_host} has no /api/v1/iocs/stats endpoint (HTTP 404)",
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
    error = _status_error(response.status_code, vendor["code"], api_host, response.headers)
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


def error_for_transport_failure(
    failure: requests.RequestException, api_host: str, timeout_seconds: int, proxied: bool
) -> TransportError:
    """The error for a request that got no usable answer."""
    kind = type(failure).__name__
    if isinstance(failure, requests.exceptions.SSLError):
        return TransportError(
            f"TLS verification of {api_host} failed ({kind})",
            fix="if your network inspects TLS, enter the path of its CA certificate (PEM) "
            f"as the account's CA bundle in {ACCOUNTS_PAGE}; check that the system clock is "
            "right",
        )
    if isinstance(failure, requests.exceptions.ProxyError):
        return TransportError(
            f"could not reach {api_host} through the proxy ({kind})",
            fix=f"check the proxy host, port, type and credentials in {PROXY_PAGE}, and that "
            "the proxy allows HTTPS to the API host",
        )
    if isinstance(failure, requests.exceptions.ConnectTimeout):
        return TransportError(
            f"no connection to {api_host} within the connect timeout ({kind})",
            fix="check that this Splunk node can reach the API host on port 443 "
            f"(firewall, {PROXY_PAGE})",
        )
    if isinstance(failure, requests.exceptions.ReadTimeout):
        return TransportError(
            f"{api_host} did not answer within {timeout_seconds} s ({kind})",
            fix=f"raise the account's request timeout in {ACCOUNTS_PAGE} if the API is slow; "
            "the next poll tries again",
        )
    if isinstance(failure, requests.exceptions.ChunkedEncodingError):
        return TransportError(
            f"the connection to {api_host} broke while the answer was read ({kind})",
            fix="a network or server interruption: the next poll tries again",
        )
    if isinstance(failure, requests.exceptions.InvalidURL) or (
        isinstance(failure, requests.exceptions.InvalidSchema) and proxied
    ):
        return TransportError(
            f"the request to {api_host} could not be built ({kind})",
            fix=f"check the API base URL in {ACCOUNTS_PAGE} and the proxy in {PROXY_PAGE}",
            category=ErrorCategory.CONFIGURATION,
        )
    if _looks_like_dns_failure(failure):
        return TransportError(
            f"the host name {api_host} could not be resolved ({kind})",
            fix="check the DNS of this Splunk node, or enable remote DNS on a SOCKS proxy in "
            f"{PROXY_PAGE}",
        )
    return TransportError(
        f"could not connect to {api_host} ({kind})",
        fix="check that this Splunk node can reach the API host (firewall, proxy in "
        f"{PROXY_PAGE}); the next poll tries again",
    )
