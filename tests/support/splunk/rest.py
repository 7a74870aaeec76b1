"""Stand-in for ``splunk.rest``: ``simpleRequest`` over real HTTP to ``$SPLUNKD_URI``.

Like Splunk's own, it authenticates with ``Authorization: Splunk <sessionKey>``, does not
verify splunkd's certificate, raises on 401 / 403 / 404 (and on any other status >= 400
only with ``raiseAllErrors``), and returns ``(response, content_bytes)`` where ``response``
is a dict of lower-cased headers with ``.status`` and ``.reason``.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
from typing import Any, Mapping, Optional
from urllib.parse import urlencode, urlsplit

import splunk


class Response(dict):
    """The header mapping httplib2 returns, with ``status`` and ``reason``."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str]) -> None:
        super().__init__((key.lower(), value) for key, value in headers.items())
        self.status = status
        self.reason = reason


def _splunkd_uri() -> str:
    uri = os.environ.get("SPLUNKD_URI")
    if not uri:
        raise splunk.SplunkdException("SPLUNKD_URI is not set: no splunkd to talk to")
    return uri.rstrip("/")


def simpleRequest(  # noqa: N802 - Splunk's own function name
    path: str,
    sessionKey: Optional[str] = None,  # noqa: N803
    method: str = "GET",
    getargs: Optional[Mapping[str, Any]] = None,
    postargs: Optional[Mapping[str, Any]] = None,
    raiseAllErrors: bool = False,  # noqa: N803
    proxyMode: bool = False,  # noqa: N803 - accepted, ignored
    rawResult: bool = False,  # noqa: N803 - accepted, ignored
    timeout: Optional[float] = None,
    jsonargs: Optional[Any] = None,
    token: bool = False,  # accepted, ignored
) -> tuple[Response, bytes]:
    url = path if path.startswith(("http://", "https://")) else _splunkd_uri() + path
    if getargs:
        url += ("&" if "?" in url else "?") + urlencode(getargs, doseq=True)
    headers = {"Connection": "close"}
    if sessionKey:
        headers["Authorization"] = f"Splunk {sessionKey}"
    body: Optional[bytes] = None
    if jsonargs is not None:
        body = (jsonargs if isinstance(jsonargs, str) else json.dumps(jsonargs)).encode()
        headers["Content-Type"] = "application/json"
    elif postargs is not None:
        body = urlencode(postargs, doseq=True).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if body is not None and method.upper() == "GET":
        method = "POST"  # as Splunk's: arguments to post make it a POST

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # splunkd's own certificate is not checked
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=timeout or 30, context=context
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=timeout or 30
        )
    try:
        connection.request(method.upper(), target, body=body, headers=headers)
        answer = connection.getresponse()
        content = answer.read()
        response = Response(answer.status, answer.reason, dict(answer.getheaders()))
    finally:
        connection.close()

    if response.status == 401:
        raise splunk.AuthenticationFailed(content.decode("utf-8", "replace"))
    if response.status == 403:
        raise splunk.AuthorizationFailed(content.decode("utf-8", "replace"))
    if response.status == 404:
        raise splunk.ResourceNotFound(url)
    if response.status >= 400 and raiseAllErrors:
        if response.status == 500:
            raise splunk.InternalServerError(content.decode("utf-8", "replace"))
        raise splunk.RESTException(response.status, content.decode("utf-8", "replace"))
    return response, content
