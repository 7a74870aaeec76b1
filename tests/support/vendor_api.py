"""Loopback HTTPS emulator of the SOC Defenders vendor API (tests and `make demo` only).

It serves ``GET /api/v1/iocs/stats`` and ``GET /api/v1/iocs`` as the vendor documents
them (see ``/work/shared/reference``): Bearer or ``X-API-Key`` auth, the documented error
body ``{"error": {"code", "message", "request_id"}}``, ``X-Request-Id`` and
``X-RateLimit-*`` headers on every response, a real per-key per-minute counter (Pro 1000,
Free 10) and a per-key per-UTC-day counter (Pro 1,000,000, Free 1,000).

Normal handling, in this order: non-GET -> 405; no/unknown/expired key -> 401; key over
its daily limit -> 429 (``X-RateLimit-Reset`` = next UTC midnight; the daily budget has no
header of its own, as at the vendor); key over its per-minute limit -> 429; the list path
-> a page of ``corpus`` (Free and Pro keys; 400 ``invalid_parameter`` for a bad ``limit``,
``offset``, ``since``...); other path -> 404; Free key -> 403 (the stats need Pro); else
200 with ``body``. Only active keys (Pro, Free) are counted; other requests report the
Free limit, uncounted.

The list is served from ``api.corpus``, a `tests.support.ioc_corpus.Corpus` (by default
3,000 records dated by the wall clock; tests set their own, e.g. ``api.corpus =
Corpus(20_000, order="ascending")``). Its query parameters are read as the vendor reads
them (the first of a repeated name counts), its links point at this emulator, and its
``between_pages`` hook runs after each page served.

The seed's answer is the default. The vendor's newer documentation of the same endpoint
is switchable: ``api.body = newer_body()`` adds extra members (names invented: the vendor
does not publish them), and ``api.cache = CacheClock()`` adds the ``X-Cache-*`` headers
to every 200 answer (faulted ones too; a fault's own headers override or remove them).

``script(*faults)`` queues one `Fault` per coming request (any method, any path). A
scripted fault REPLACES the response: auth, routing and rate counting are NOT applied to
it (the rate headers it sends are a peek at the key's counter). Every request, faulted or
not, is recorded in ``requests`` before it is answered.
"""

from __future__ import annotations

import copy
import http.server
import json
import math
import secrets
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Deque, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from tests.support.ioc_corpus import IOCS_PATH, Corpus, ParameterError
from tests.support.loopback import LoopbackServer
from tests.support.tls import (
    ServerCertificate,
    make_server_certificate,
    make_untrusted_certificate,
)

STATS_PATH = "/api/v1/iocs/stats"

# The documented example response, exactly (by_type and by_category sum to 124098).
SEED_BODY: Dict[str, Any] = {
    "totals": {
        "by_type": {
            "ipv4": 48210,
            "ipv6": 3120,
            "domain": 29845,
            "url": 11503,
            "md5": 8760,
            "sha1": 6340,
            "sha256": 9210,
            "cve": 4120,
            "mitre-attack": 890,
            "email": 2100,
        },
        "by_category": {"government": 32100, "commercial": 51200, "community": 40798},
        "by_source": {"CISA Alerts": 12400, "Emerging Threats": 23100, "Abuse.ch": 18600},
    },
    "last_updated": "2024-01-15T10:00:00Z",
}

# What the newer page lists in prose beyond the seed (article count, 24 h / 7 d trends,
# feed health, top techniques and CVEs). The names are this emulator's guesses.
NEWER_TOTALS_EXTRAS: Dict[str, Any] = {"iocs": 124098, "articles": 5214}
NEWER_EXTRAS: Dict[str, Any] = {
    "trends": {
        "last_24h": {"iocs": 1840, "articles": 96},
        "last_7d": {"iocs": 11250, "articles": 611},
    },
    "feed_health": {
        "CISA Alerts": "healthy",
        "Emerging Threats": "healthy",
        "Abuse.ch": "degraded",
    },
    "top_techniques": [
        {"id": "T1566", "name": "Phishing", "count": 412},
        {"id": "T1190", "name": "Exploit Public-Facing Application", "count": 287},
    ],
    "top_cves": [{"id": "CVE-2024-3400", "count": 118}, {"id": "CVE-2023-4966", "count": 74}],
}


def newer_body() -> Dict[str, Any]:
    """The seed's answer with what the newer documentation adds (a fresh copy)."""
    body = copy.deepcopy(SEED_BODY)
    body["totals"].update(copy.deepcopy(NEWER_TOTALS_EXTRAS))
    body.update(copy.deepcopy(NEWER_EXTRAS))
    return body


def iso_utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass
class CacheClock:
    """The vendor's answer cache: refreshed every ``period`` seconds (on the clock's
    10-minute grid), or last refreshed at ``refreshed_at`` (epoch) when a test sets it.
    ``X-Cache-Stale`` is true when ``stale`` is set or a refresh is overdue."""

    refreshed_at: Optional[float] = None
    stale: bool = False
    period: float = 600.0

    def headers(self, now: float) -> Dict[str, str]:
        refreshed = self.refreshed_at
        if refreshed is None:
            refreshed = math.floor(now / self.period) * self.period
        age = max(0, int(now - refreshed))
        return {
            "X-Cache-Updated-At": iso_utc(refreshed),
            "X-Cache-Age-Seconds": str(age),
            "X-Cache-Stale": "true" if self.stale or age > self.period else "false",
        }


PRO_KEY = "sk_live_FAKE0pro0000000000000000"
FREE_KEY = "sk_live_FAKE0free000000000000000"
EXPIRED_KEY = "sk_live_FAKE0expired000000000000"
FAKE_KEYS: Mapping[str, str] = {PRO_KEY: "pro", FREE_KEY: "free", EXPIRED_KEY: "expired"}
TIERS = ("pro", "free", "expired")
RATE_LIMITS: Mapping[str, int] = {"pro": 1000, "free": 10}  # requests per window
DAILY_LIMITS: Mapping[str, int] = {"pro": 1_000_000, "free": 1_000}  # requests per UTC day
DEFAULT_CORPUS_SIZE = 3000  # about 125 records in a Free key's 1-day lookback


def default_corpus() -> Corpus:
    """What ``api.corpus`` starts as: records dated up to the wall clock, which it follows."""
    return Corpus(DEFAULT_CORPUS_SIZE, now=int(time.time()), clock=time.time)


MESSAGES = {
    "missing_api_key": (
        'API key is required. Include it in the Authorization header as "Bearer sk_live_..."'
        " or in the X-API-Key header."
    ),
    "invalid_api_key": "The API key is invalid or does not match an active key.",
    "expired_api_key": "The API key has expired or has been deactivated.",
    "pro_subscription_required": (
        "This endpoint requires a Pro subscription. Upgrade from the Free plan to use it."
    ),
    "rate_limit_exceeded": (
        "Rate limit exceeded. Wait until X-RateLimit-Reset, then retry with exponential backoff."
    ),
}

DEFAULT_ERROR_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

_CHUNK = 64 * 1024
_QUIET_ERRORS = (OSError,)  # client gone: BrokenPipe, ConnectionReset, TLS alerts, timeouts


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; ``headers`` keep the case the client sent."""

    method: str
    path: str  # raw request target, query string included
    headers: Dict[str, str]
    received_at: float = field(default=0.0, compare=False)  # time.monotonic()

    def header(self, name: str) -> Optional[str]:
        """Value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @property
    def api_key(self) -> Optional[str]:
        """Key the request carried (Bearer first, then X-API-Key), or None."""
        return _key_from(self.header("Authorization"), self.header("X-API-Key"))


Headers = Tuple[Tuple[str, Optional[str]], ...]


def _headers(headers: Optional[Mapping[str, Any]]) -> Headers:
    if not headers:
        return ()
    return tuple((str(k), None if v is None else str(v)) for k, v in headers.items())


@dataclass(frozen=True)
class Fault:
    """A scripted response; build one with the class methods, not the constructor.

    ``headers`` given to a fault are sent in place of the emulator's headers of the same
    name; a value of None removes that header (e.g. ``{"X-RateLimit-Limit": None}``).
    """

    kind: str
    http_status: int = 200
    error_code: Optional[str] = None
    message: Optional[str] = None
    headers: Headers = ()
    body: bytes = b""
    content_type: Optional[str] = "application/json"
    seconds: float = 0.0
    then: Optional[Fault] = None
    size: int = 0
    location: str = ""
    retry_after: Optional[float] = None

    @classmethod
    def status(
        cls,
        code: int,
        error_code: Optional[str] = None,
        message: Optional[str] = None,
        headers: Optional[Mapping[str, Any]] = None,
    ) -> Fault:
        """HTTP ``code`` with the standard error body."""
        if not 100 <= code <= 599:
            raise ValueError(f"not an HTTP status: {code}")
        return cls(
            "status",
            http_status=code,
            error_code=error_code or DEFAULT_ERROR_CODES.get(code, f"http_{code}"),
            message=message or _phrase(code),
            headers=_headers(headers),
        )

    @classmethod
    def rate_limited(cls, reset_in: float = 2, retry_after: Optional[float] = None) -> Fault:
        """429 ``rate_limit_exceeded``, Remaining 0, Reset now+reset_in, optional Retry-After."""
        return cls("rate_limited", http_status=429, seconds=reset_in, retry_after=retry_after)

    @classmethod
    def raw(
        cls,
        body: bytes,
        status: int = 200,
        content_type: Optional[str] = "application/json",
        headers: Optional[Mapping[str, Any]] = None,
    ) -> Fault:
        """Exactly these body bytes (HTML, invalid or truncated JSON, hostile values...)."""
        return cls(
            "raw",
            http_status=status,
            body=body,
            content_type=content_type,
            headers=_headers(headers),
        )

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: Optional[Mapping[str, Any]] = None
    ) -> Fault:
        """``obj`` serialised as JSON (NaN/Infinity allowed, as Python writes them)."""
        return cls.raw(json.dumps(obj).encode("utf-8"), status=status, headers=headers)

    @classmethod
    def delay(cls, seconds: float, then: Optional[Fault] = None) -> Fault:
        """Wait ``seconds`` before sending anything, then answer normally or with ``then``."""
        return cls("delay", seconds=seconds, then=then)

    @classmethod
    def huge_body(cls, n_bytes: int) -> Fault:
        """200 JSON of exactly ``n_bytes`` (Content-Length), streamed; valid if read whole."""
        return cls("huge_body", size=n_bytes)

    @classmethod
    def reset_mid_body(cls) -> Fault:
        """200 with the full Content-Length, half the body, then a TCP reset."""
        return cls("reset_mid_body")

    @classmethod
    def close_without_response(cls) -> Fault:
        """Close the connection without sending a byte."""
        return cls("close_without_response")

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Fault:
        """Redirect (``status``) to ``location``, empty body."""
        return cls("redirect", http_status=status, location=location)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return f"HTTP {code}"


def _key_from(authorization: Optional[str], x_api_key: Optional[str]) -> Optional[str]:
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None


def _huge_parts(n_bytes: int) -> Tuple[bytes, int, bytes]:
    """Prefix, padding length and suffix that make ``n_bytes`` of JSON."""
    prefix = (
        b'{"totals": {"by_type": {"ipv4": 1}, "by_category": {"community": 1}, '
        b'"by_source": {}}, "last_updated": "2024-01-15T10:00:00Z", "padding": "'
    )
    suffix = b'"}'
    if n_bytes < len(prefix) + len(suffix):
        return prefix[:n_bytes], 0, b""
    return prefix, n_bytes - len(prefix) - len(suffix), suffix


class _RateCounter:
    """Fixed windows per key, each starting at the key's first request in it."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._windows: Dict[str, List[float]] = {}  # key -> [start, count]

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()

    def _current(self, key: str, now: float) -> List[float]:
        entry = self._windows.get(key)
        if entry is None or now >= entry[0] + self.window:
            entry = [now, 0]
            self._windows[key] = entry
        return entry

    def take(self, key: str, limit: int, consume: bool = True) -> Tuple[bool, int, int]:
        """(allowed, remaining, reset unix time); counts one request when allowed."""
        now = time.time()
        with self._lock:
            entry = self._current(key, now)
            reset = math.ceil(entry[0] + self.window)
            if entry[1] >= limit:
                return False, 0, reset
            if consume:
                entry[1] += 1
            return True, int(limit - entry[1]), reset


class _DailyCounter:
    """Requests per key and UTC day."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Dict[Tuple[str, int], int] = {}

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def exhausted(self, key: str, limit: int) -> Optional[int]:
        """The next UTC midnight (unix time) when ``key`` has used its day, else None."""
        day = int(time.time() // 86400)
        with self._lock:
            return (day + 1) * 86400 if self._counts.get((key, day), 0) >= limit else None

    def count(self, key: str) -> None:
        day = int(time.time() // 86400)
        with self._lock:
            self._counts[(key, day)] = self._counts.get((key, day), 0) + 1


def _query_params(target: str) -> Dict[str, str]:
    """The request's query parameters; the first of a repeated name counts."""
    params: Dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(target).query, keep_blank_values=True):
        params.setdefault(name, value)
    return params


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    context: Optional[ssl.SSLContext] = None
    api: VendorApi

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's reverse DNS lookup
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(_Handler.timeout)
        if self.context is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        try:
            wrapped = self.context.wrap_socket(request, server_side=True)
        except _QUIET_ERRORS:
            return  # client refused our certificate, or is not speaking TLS
        try:
            self.RequestHandlerClass(wrapped, client_address, self)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _QUIET_ERRORS):
            return
        super().handle_error(request, client_address)  # an emulator bug: show it


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "socdefenders-emulator"
    sys_version = ""
    timeout = 10.0
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _QUIET_ERRORS:
            self.close_connection = True

    def _dispatch(self) -> None:
        self.close_connection = True
        self._drain_body()
        self.server.api._handle(self)

    # Every method reaches the emulator, which answers 405 to all but GET.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch  # noqa: N815

    def _drain_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return
        if 0 < length <= 1024 * 1024:
            self.rfile.read(length)

    def abort(self, reset: bool) -> None:
        """Drop the connection: a TCP reset (RST) when ``reset``, else a plain close."""
        self.wfile.flush()
        self.rfile.close()  # the socket's file object holds a reference to the descriptor
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class VendorApi(LoopbackServer):
    """The vendor API on 127.0.0.1; a context manager. See the module docstring."""

    def __init__(
        self,
        directory: Path,
        *,
        keys: Mapping[str, str] = FAKE_KEYS,
        port: int = 0,
        tls: str = "trusted",
        rate_window: float = 60.0,
        daily_limits: Mapping[str, int] = DAILY_LIMITS,
        corpus: Optional[Corpus] = None,
    ) -> None:
        if tls not in ("trusted", "untrusted", "off"):
            raise ValueError(f"tls must be 'trusted', 'untrusted' or 'off', not {tls!r}")
        bad = {tier for tier in keys.values() if tier not in TIERS}
        if bad:
            raise ValueError(f"unknown key tiers {sorted(bad)}; use {TIERS}")
        self.keys: Dict[str, str] = dict(keys)
        self.tls = tls
        self.ca_file: Optional[Path] = None
        self.certificate: Optional[ServerCertificate] = None  # what the server presents
        if tls != "off":
            trusted = make_server_certificate(Path(directory))
            self.ca_file = trusted.ca_file
            self.certificate = (
                trusted if tls == "trusted" else make_untrusted_certificate(Path(directory))
            )
        self.body: Any = copy.deepcopy(SEED_BODY)
        self.cache: Optional[CacheClock] = None  # None: no X-Cache-* headers, as the seed
        self.corpus: Corpus = corpus if corpus is not None else default_corpus()
        self.daily_limits: Dict[str, int] = dict(daily_limits)
        self.requests: List[RecordedRequest] = []
        self._port = port
        self._lock = threading.Lock()
        self._script: Deque[Fault] = deque()
        self._rates = _RateCounter(rate_window)
        self._days = _DailyCounter()
        self._issued: set = set()
        self._stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._join_timeout = 5.0
        self._bind()

    # -- lifecycle -------------------------------------------------------------------

    def _bind(self) -> None:
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.api = self
        if self.certificate is not None:
            server.context = self.certificate.server_context()
        self._server = server
        self._port = server.server_address[1]

    @property
    def port(self) -> int:
        """The bound port (kept across stop/start)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>`` (``http://`` when tls="off")."""
        scheme = "http" if self.tls == "off" else "https"
        return f"{scheme}://127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        """Full URL of the stats endpoint."""
        return self.base_url + STATS_PATH

    @property
    def iocs_url(self) -> str:
        """Full URL of the list endpoint."""
        return self.base_url + IOCS_PATH

    def _thread_name(self) -> str:
        return f"vendor-api-{self._port}"

    def start(self) -> VendorApi:
        """Serve in a daemon thread (binding the same port again after `stop`)."""
        if self._thread is None:
            self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        """Stop serving and close the port; delayed responses are abandoned."""
        self._stopping.set()
        super().stop()

    # -- test controls ---------------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Queue faults: each answers the next request, in order, then normal service."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"not a Fault: {fault!r}")
        with self._lock:
            self._script.extend(faults)

    def pending(self) -> int:
        """How many scripted faults have not been used yet."""
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        """Forget requests, script and rate counters (minute and day); body back to the
        seed, no cache headers, a fresh default corpus."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self.body = copy.deepcopy(SEED_BODY)
            self.cache = None
            self.corpus = default_corpus()
        self._rates.clear()
        self._days.clear()

    # -- serving ---------------------------------------------------------------------

    def _new_request_id(self) -> str:
        with self._lock:
            while True:
                request_id = "req_" + secrets.token_hex(8)
                if request_id not in self._issued:
                    self._issued.add(request_id)
                    return request_id

    def _handle(self, handler: _Handler) -> None:
        recorded = RecordedRequest(
            method=handler.command,
            path=handler.path,
            headers=dict(handler.headers.items()),
            received_at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(recorded)
            fault = self._script.popleft() if self._script else None
        _Exchange(self, handler, recorded, self._new_request_id()).answer(fault)


class _Exchange:
    """Answers one request."""

    def __init__(
        self, api: VendorApi, handler: _Handler, request: RecordedRequest, request_id: str
    ) -> None:
        self.api = api
        self.handler = handler
        self.request = request
        self.request_id = request_id
        self.key = request.api_key
        self.tier = api.keys.get(self.key) if self.key is not None else None

    # -- rate headers --

    def _rate(self, consume: bool) -> Tuple[bool, Dict[str, str]]:
        limit = RATE_LIMITS.get(self.tier or "", RATE_LIMITS["free"])
        if self.tier in RATE_LIMITS and self.key is not None:
            allowed, remaining, reset = self._take(self.key, limit, consume)
        else:  # no active key: report the Free limit, count nothing
            allowed, remaining, reset = True, limit, math.ceil(time.time() + self.api._rates.window)
        return allowed, {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }

    def _take(self, key: str, limit: int, consume: bool) -> Tuple[bool, int, int]:
        """The day's budget first (refused: Remaining 0, Reset at the next UTC midnight),
        then the minute's; an allowed request counts in both."""
        if consume:
            daily_limit = self.api.daily_limits.get(self.tier or "")
            midnight = None if daily_limit is None else self.api._days.exhausted(key, daily_limit)
            if midnight is not None:
                return False, 0, midnight
        allowed, remaining, reset = self.api._rates.take(key, limit, consume)
        if allowed and consume:
            self.api._days.count(key)
        return allowed, remaining, reset

    # -- sending --

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: Optional[str] = "application/json",
        headers: Optional[Mapping[str, str]] = None,
        overrides: Headers = (),
        content_length: Optional[int] = None,
    ) -> None:
        merged: Dict[str, Tuple[str, Optional[str]]] = {}  # lower name -> (name, value)
        cache = self.api.cache
        cache_headers = cache.headers(time.time()) if cache and status == 200 else {}
        for name, value in (
            ("Content-Type", content_type),
            ("Content-Length", str(len(body) if content_length is None else content_length)),
            ("X-Request-Id", self.request_id),
            *(headers or {}).items(),
            *cache_headers.items(),
            ("Connection", "close"),
            *overrides,
        ):
            merged[name.lower()] = (name, value)
        handler = self.handler
        handler.send_response(status, _phrase(status))
        for name, value in merged.values():
            if value is not None:
                handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD" and body:
            handler.wfile.write(body)

    def _error(
        self,
        status: int,
        code: str,
        message: str,
        headers: Optional[Mapping[str, str]] = None,
        overrides: Headers = (),
    ) -> None:
        body = {"error": {"code": code, "message": message, "request_id": self.request_id}}
        self._send(status, json.dumps(body).encode("utf-8"), headers=headers, overrides=overrides)

    # -- normal behaviour --

    def normal(self) -> None:
        method, path = self.request.method, urlsplit(self.request.path).path
        if method != "GET":
            _, rate = self._rate(consume=False)
            message = f"Method {method} is not allowed; use GET."
            return self._error(405, "method_not_allowed", message, {**rate, "Allow": "GET"})
        if self.tier is None or self.tier == "expired":
            code = (
                "missing_api_key"
                if self.key is None
                else "invalid_api_key"
                if self.tier is None
                else "expired_api_key"
            )
            _, rate = self._rate(consume=False)
            return self._error(401, code, MESSAGES[code], rate)
        allowed, rate = self._rate(consume=True)
        if not allowed:
            return self._error(429, "rate_limit_exceeded", MESSAGES["rate_limit_exceeded"], rate)
        if path == IOCS_PATH:
            return self._iocs(rate)
        if path != STATS_PATH:
            return self._error(404, "not_found", f"No such endpoint: {path}", rate)
        if self.tier != "pro":
            code = "pro_subscription_required"
            return self._error(403, code, MESSAGES[code], rate)
        self._send(200, json.dumps(self.api.body).encode("utf-8"), headers=rate)

    def _iocs(self, rate: Dict[str, str]) -> None:
        """A page of the corpus (serialised once), or 400 for a refused parameter."""
        params = _query_params(self.request.path)
        corpus = self.api.corpus
        try:
            body = corpus.serve_page(params, tier=self.tier or "", base_url=self.api.base_url)
        except ParameterError as refused:
            return self._error(refused.status, refused.code, refused.message, rate)
        self._send(200, body, headers=rate)

    # -- faults --

    def answer(self, fault: Optional[Fault]) -> None:
        if fault is None:
            return self.normal()
        kind = fault.kind
        if kind == "delay":
            if self.api._stopping.wait(fault.seconds):
                return self.handler.abort(reset=False)
            return self.answer(fault.then)
        if kind == "close_without_response":
            return self.handler.abort(reset=False)
        _, rate = self._rate(consume=False)
        if kind == "status":
            code = fault.error_code or "error"
            return self._error(fault.http_status, code, fault.message or "", rate, fault.headers)
        if kind == "rate_limited":
            rate["X-RateLimit-Remaining"] = "0"
            rate["X-RateLimit-Reset"] = str(math.ceil(time.time() + fault.seconds))
            if fault.retry_after is not None:
                rate["Retry-After"] = str(math.ceil(fault.retry_after))
            code = "rate_limit_exceeded"
            return self._error(429, code, MESSAGES[code], rate)
        if kind == "raw":
            return self._send(
                fault.http_status, fault.body, fault.content_type, rate, fault.headers
            )
        if kind == "redirect":
            headers = {**rate, "Location": fault.location}
            return self._send(fault.http_status, b"", None, headers)
        if kind == "huge_body":
            return self._huge(fault.size, rate)
        if kind == "reset_mid_body":
            body = json.dumps(self.api.body).encode("utf-8")
            self._send(200, body[: len(body) // 2], headers=rate, content_length=len(body))
            self.handler.wfile.flush()
            time.sleep(0.05)  # let the client read the headers before the reset
            return self.handler.abort(reset=True)
        raise ValueError(f"unknown fault kind {kind!r}")

    def _huge(self, n_bytes: int, rate: Dict[str, str]) -> None:
        prefix, padding, suffix = _huge_parts(n_bytes)
        self._send(200, prefix, headers=rate, content_length=n_bytes)
        if self.handler.command == "HEAD":
            return
        chunk = b"x" * _CHUNK
        write = self.handler.wfile.write
        while padding > 0:  # a client that stops reading ends this with a quiet OSError
            step = min(padding, _CHUNK)
            write(chunk if step == _CHUNK else chunk[:step])
            padding -= step
        write(suffix)
