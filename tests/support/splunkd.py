"""A loopback stand-in for the splunkd REST API the add-on uses (tests and `make demo` only).

It answers, over HTTPS on 127.0.0.1, exactly the requests listed in
/work/shared/reference/splunkd-contract.md: conf existence (``properties``), conf stanzas
(``configs/conf-*``, Atom or JSON), ``storage/passwords`` (Atom), the KV store collection
config (Atom) and data (JSON), and the two discovery reads solnlib makes when it is not told
where splunkd is. Every request is recorded; any other request gets a 404 and is recorded
with kind ``"unknown"``, so tests can see unexpected calls. Faults can be switched on by
request kind. State lives in plain dicts that tests may read and change.

Connections are handled as splunkd handles them: HTTP/1.1 keep-alive unless the request
says ``Connection: close`` (then the answer says ``Connection: Close``), with TCP_NODELAY.
``connections`` counts the TLS connections accepted and each recorded request names the
connection that carried it, so tests can pin handshakes as well as requests.

Secrets are stored the way UCC stores them: the stanza holds ``******`` and
``storage/passwords`` holds a JSON blob of the encrypted fields, cut into 255-character
chunks under ``<name>``splunk_cred_sep``<n>`` plus an end-marker entry.
"""

from __future__ import annotations

import collections
import json
import re
import ssl
import threading
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

try:
    from tests.support.kvstore import KV_LIMITS, Collections, KvError, KvStoreData
    from tests.support.loopback import LoopbackServer
    from tests.support.tls import ServerCertificate, make_server_certificate
except ImportError:  # imported as a top-level module, with tests/support on sys.path
    from kvstore import KV_LIMITS, Collections, KvError, KvStoreData  # type: ignore[no-redef]
    from loopback import LoopbackServer  # type: ignore[no-redef]
    from tls import ServerCertificate, make_server_certificate  # type: ignore[no-redef]

APP = "TA-socdefenders"
ACCOUNT_CONF = "ta_socdefenders_account"
SETTINGS_CONF = "ta_socdefenders_settings"
ACCOUNT_REALM = f"__REST_CREDENTIAL__#{APP}#configs/conf-{ACCOUNT_CONF}"
SETTINGS_REALM = f"__REST_CREDENTIAL__#{APP}#configs/conf-{SETTINGS_CONF}"
ENCRYPTED = "******"  # what UCC writes in the conf in place of a secret
CRED_SEP = "``splunk_cred_sep``"
CRED_END = "".join(f"{CRED_SEP}{letter}" for letter in "SPLUNK") + CRED_SEP
CRED_CHUNK = 255  # Splunk encrypts at most 255 characters per storage/passwords entry

# Request kinds, the names `requests_by_kind` counts and `fail` accepts.
KINDS = (
    "discovery",  # configs/conf-* in the system app (solnlib's splunkd discovery)
    "properties",  # properties/<conf>: does the conf exist
    "conf",  # configs/conf-<conf>[/<stanza>] of the app
    "passwords",  # storage/passwords
    "kvstore_config",  # storage/collections/config[/<collection>]
    "kvstore_read",  # GET storage/collections/data/..., POST .../batch_find
    "kvstore_write",  # POST storage/collections/data/... (batch_save, insert, update)
    "kvstore_delete",  # DELETE storage/collections/data/...
    # kinds answered by routers added with `add_router` (tests/support/splunkd_writes.py,
    # tests/support/rest_handlers.py):
    "conf_write",  # POST/DELETE configs/conf-<conf>[/<stanza>]
    "passwords_write",  # POST/DELETE storage/passwords[/<title>]
    "inputs",  # data/inputs/<type>[/<name>[/enable|disable]]
    "indexes",  # data/indexes
    "server_info",  # server/info
    "search",  # search/jobs and their results
    "ui_reads",  # authentication/current-context, data/ui/times
    "rest_handler",  # an add-on REST endpoint, served by its own handler script
    "unknown",  # anything else: answered 404
)
# Routes of these kinds run outside the emulator's lock: they call back into splunkd.
UNLOCKED_KINDS = ("rest_handler",)

ATOM_NS = (
    'xmlns="http://www.w3.org/2005/Atom" xmlns:s="http://dev.splunk.com/ns/rest" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
)
XML_TYPE = "text/xml; charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"
DEFAULT_COUNT = 30  # splunkd's page size when a request gives no count

Content = Union[str, Dict[str, Any]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent, still percent-encoded, without the query
    query: Dict[str, List[str]]
    body: bytes  # the first `Splunkd.record_body_bytes` bytes of the body
    authorized: bool
    kind: str = "unknown"
    connection: int = 0  # which accepted connection carried it (1, 2, ...)
    body_size: int = 0  # the whole body's length, however much of it `body` keeps


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = XML_TYPE


@dataclass
class _Entry:
    name: str
    path: str  # the entry's own path: its <link rel="alternate">
    content: Content  # dict of keys (or the text of a properties key)
    acl: Optional[Dict[str, Any]] = None
    author: str = "nobody"
    search_fields: Dict[str, str] = field(default_factory=dict)


def _acl(app: str, sharing: str, owner: str = "nobody") -> Dict[str, Any]:
    return {
        "app": app,
        "can_list": True,
        "can_write": True,
        "modifiable": True,
        "owner": owner,
        "perms": {"read": ["*"], "write": ["admin", "sc_admin"]},
        "removable": False,
        "sharing": sharing,
    }


def _messages(text: str, level: str = "ERROR") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <messages>\n'
        f'    <msg type="{level}">{escape(text)}</msg>\n  </messages>\n</response>\n'
    ).encode()


def _error(status: int, text: str) -> _Reply:
    return _Reply(status, _messages(text))


def _json_reply(value: Any, status: int = 200) -> _Reply:
    return _Reply(status, json.dumps(value).encode(), JSON_TYPE)


def _s_value(value: Any) -> str:
    """A value in splunkd's ``s:`` namespace: s:dict, s:list or escaped text."""
    if isinstance(value, Mapping):
        keys = "".join(
            f"<s:key name={quoteattr(str(key))}>{_s_value(item)}</s:key>"
            for key, item in value.items()
        )
        return f"<s:dict>{keys}</s:dict>"
    if isinstance(value, (list, tuple)):
        return "<s:list>" + "".join(f"<s:item>{_s_value(i)}</s:item>" for i in value) + "</s:list>"
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return escape(str(value))


def _escape_title_part(part: str) -> str:
    return part.replace(":", "\\:")


def _password_title(realm: str, username: str) -> str:
    return f"{_escape_title_part(realm)}:{_escape_title_part(username)}:"


def _glob(pattern: str, value: str) -> bool:
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


def _search_terms(search: str) -> List[Tuple[Optional[str], str]]:
    """Split splunkd's ``search`` filter into ``key=value`` and free-text terms."""
    terms: List[Tuple[Optional[str], str]] = []
    for raw in re.split(r"(?<!\\)\s+", search.strip()):
        if not raw:
            continue
        parts = re.split(r"(?<!\\)=", raw, maxsplit=1)
        unescape = lambda text: text.replace("\\=", "=").replace("\\ ", " ")  # noqa: E731
        if len(parts) == 2:
            terms.append((unescape(parts[0]), unescape(parts[1])))
        else:
            terms.append((None, unescape(raw)))
    return terms


def _matches(entry: _Entry, terms: List[Tuple[Optional[str], str]]) -> bool:
    fields = entry.search_fields
    for key, value in terms:
        if key is None:
            if not any(value.lower() in text.lower() for text in fields.values()):
                return False
        elif key not in fields or not _glob(value, fields[key]):
            return False
    return True


def _flat(prefix: str, value: Any, into: Dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), item, into)
    elif isinstance(value, bool):
        into[prefix] = "1" if value else "0"
    elif value is not None and not isinstance(value, (list, tuple)):
        into[prefix] = str(value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: Tuple[str, int], context: ssl.SSLContext, splunkd: Splunkd):
        self.splunkd = splunkd
        self._context = context
        super().__init__(address, _Handler)

    def server_bind(self) -> None:  # skip HTTPServer's reverse DNS lookup of the address
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake in the connection's own thread, so a stuck client blocks nobody.

        Each accepted connection is counted (``Splunkd.connections``) once its handshake
        succeeds; the handler then serves every request the client sends on it.
        """
        request.settimeout(30)
        try:
            tls = self._context.wrap_socket(request, server_side=True)
        except OSError:  # includes ssl.SSLError: a client that gave up or distrusts us
            return
        connection = self.splunkd._accepted()
        tls.splunkd_connection = connection  # type: ignore[attr-defined] - our own socket
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that disconnect are normal; emulator bugs land in `errors`."""


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 as splunkd speaks it: a connection stays open for the next request unless
    the request says ``Connection: close`` (splunklib's own urllib handler does, and reads
    the body only after the answer's ``Connection: Close``)."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "Splunkd"
    sys_version = ""
    # Headers and body go out in separate writes: without TCP_NODELAY every kept-alive
    # answer would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """No request logging."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        connection = getattr(self.connection, "splunkd_connection", 0)
        reply = self.server.splunkd._dispatch(
            self.command, self.path, self.headers, body, connection
        )
        closing = self.close_connection  # parse_request: "Connection: close" or HTTP/1.0
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store, max-age=0, must-revalidate, no-cache")
        if closing:
            self.send_header("Connection", "Close")
        self.end_headers()
        self.wfile.write(reply.body)
        self.wfile.flush()

    do_GET = do_POST = do_DELETE = do_PUT = _handle  # noqa: N815 - http.server's names


Route = Callable[[], _Reply]
# (method, app, path segments after the app, query, body) -> (kind, route), or None
Router = Callable[[str, str, List[str], Dict[str, List[str]], bytes], Optional[Tuple[str, Route]]]


class Splunkd(LoopbackServer):
    """The splunkd REST endpoints the add-on and solnlib use, on https://127.0.0.1:<port>."""

    def __init__(
        self, directory: Path, *, session_key: str = "FAKE-SESSION-KEY-0000", port: int = 0
    ) -> None:
        self.certificate: ServerCertificate = make_server_certificate(Path(directory))
        self.session_key = session_key
        self.confs: Dict[str, Dict[str, Dict[str, str]]] = {
            SETTINGS_CONF: {  # the settings conf as UCC's default/ ships it
                "proxy": {
                    "proxy_enabled": "",
                    "proxy_type": "http",
                    "proxy_url": "",
                    "proxy_port": "",
                    "proxy_username": "",
                    "proxy_password": "",
                    "proxy_rdns": "",
                },
                "logging": {"loglevel": "INFO"},
            }
        }
        self.passwords: Dict[Tuple[str, str], str] = {}
        self._kvstore = Collections()
        # limits.conf [kvstore] as splunkd enforces it and serves it (configs/conf-limits)
        self.kv_limits: Dict[str, int] = dict(KV_LIMITS)
        self._kv_data_endpoints = KvStoreData(lambda: self._kvstore, self.kv_limits)
        self.collections: set[str] = set()
        self.collection_fields: Dict[str, Dict[str, str]] = {}
        self.requests: List[RecordedRequest] = []
        # How much of each request body `requests` keeps (None: all): a sync of a million
        # documents sends about a gigabyte of batch_save bodies.
        self.record_body_bytes: Optional[int] = 64 * 1024
        self.connections = 0  # TLS connections accepted (each one handshake)
        self.errors: List[str] = []  # tracebacks of emulator bugs (answered 500)
        self._faults: Dict[str, List[Optional[int]]] = {}  # kind -> [status, remaining]
        self._routers: List[Router] = []
        self._lock = threading.RLock()
        self._server = _Server(("127.0.0.1", port), self.certificate.server_context(), self)
        self.port: int = self._server.server_port
        self.uri = f"https://127.0.0.1:{self.port}"

    @property
    def kvstore(self) -> Dict[str, Dict[str, Dict[str, Any]]]:
        """Documents by collection and ``_key`` (tests may read and change them: a dict
        stored here becomes a change-counting ``Records``, see tests/support/kvstore.py)."""
        return self._kvstore

    @kvstore.setter
    def kvstore(self, value: Mapping[str, Mapping[str, Dict[str, Any]]]) -> None:
        self._kvstore.clear()
        self._kvstore.update(value)

    # -- state set-up -----------------------------------------------------------------
    def add_account(self, name: str, api_key: str, **fields: str) -> None:
        """An account as UCC saves it: ``api_key = ******`` and the key in storage/passwords."""
        with self._lock:
            self.confs.setdefault(ACCOUNT_CONF, {})[name] = {"api_key": ENCRYPTED, **fields}
            self._store_secret(ACCOUNT_REALM, name, {"api_key": api_key})

    def set_proxy(
        self,
        *,
        enabled: bool = True,
        proxy_type: str = "http",
        url: str = "127.0.0.1",
        port: str = "3128",
        username: str = "",
        password: str = "",
        rdns: str = "0",
    ) -> None:
        with self._lock:
            self.confs.setdefault(SETTINGS_CONF, {})["proxy"] = {
                "proxy_enabled": "1" if enabled else "0",
                "proxy_type": proxy_type,
                "proxy_url": url,
                "proxy_port": str(port),
                "proxy_username": username,
                "proxy_password": ENCRYPTED if password else "",
                "proxy_rdns": rdns,
            }
            if password:
                self._store_secret(SETTINGS_REALM, "proxy", {"proxy_password": password})
            else:
                self._delete_secret(SETTINGS_REALM, "proxy")

    def set_log_level(self, level: str) -> None:
        with self._lock:
            self.confs.setdefault(SETTINGS_CONF, {}).setdefault("logging", {})["loglevel"] = level

    def _delete_secret(self, realm: str, user: str) -> None:
        chunk = re.compile(re.escape(user + CRED_SEP) + r"\d+")
        for key in [k for k in self.passwords if k[0] == realm]:
            if key[1] == user or chunk.fullmatch(key[1]):
                del self.passwords[key]

    def _store_secret(self, realm: str, user: str, fields: Mapping[str, str]) -> None:
        """solnlib's CredentialManager.set_password, as UCC calls it for a stanza."""
        self._delete_secret(realm, user)
        blob = json.dumps(dict(fields))
        pieces = [blob[i : i + CRED_CHUNK] for i in range(0, len(blob), CRED_CHUNK)]
        for index, piece in enumerate([*pieces, CRED_END], start=1):
            self.passwords[(realm, f"{user}{CRED_SEP}{index}")] = piece

    def add_router(self, router: Router) -> None:
        """Answer more endpoints: ``router`` is asked first, before the built-in routes."""
        with self._lock:
            self._routers.append(router)

    # -- faults and records -------------------------------------------------------------
    def fail(self, name: str, status: int = 503, times: Optional[int] = None) -> None:
        """Answer requests of kind ``name`` with ``status``: always, or the next ``times``."""
        if name not in KINDS:
            raise ValueError(f"unknown request kind {name!r}; one of {', '.join(KINDS)}")
        with self._lock:
            self._faults[name] = [status, times]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests_by_kind(self) -> collections.Counter:
        """Requests per kind (only kinds seen; a Counter answers 0 for the others)."""
        with self._lock:
            return collections.Counter(request.kind for request in self.requests)

    def reset_requests(self) -> None:
        """Forget the requests and connections seen so far."""
        with self._lock:
            self.requests.clear()
            self.connections = 0

    def connections_used(self) -> int:
        """How many connections carried the recorded requests."""
        with self._lock:
            return len({request.connection for request in self.requests})

    def _accepted(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def _take_fault(self, kind: str) -> Optional[int]:
        fault = self._faults.get(kind)
        if fault is None:
            return None
        status, remaining = fault
        if remaining is not None:
            if remaining <= 0:
                del self._faults[kind]
                return None
            fault[1] = remaining - 1
            if remaining - 1 <= 0:
                del self._faults[kind]
        return status

    # -- dispatch ---------------------------------------------------------------------
    def _dispatch(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        connection: int = 0,
    ) -> _Reply:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        authorized = headers.get("Authorization") == f"Splunk {self.session_key}"
        with self._lock:
            kind, route = self._route(method.upper(), parts.path, query, body)
            kept = body if self.record_body_bytes is None else body[: self.record_body_bytes]
            recorded = RecordedRequest(
                method.upper(), parts.path, query, kept, authorized, kind, connection, len(body)
            )
            self.requests.append(recorded)
            if not authorized:
                return _error(401, "call not properly authenticated")
            status = self._take_fault(kind)
            if status is not None:
                try:
                    phrase = HTTPStatus(status).phrase
                except ValueError:
                    phrase = "Error"
                return _error(status, f"{phrase} (emulated fault: {kind})".strip())
            if route is None:
                return _error(404, f"Not Found: the splunkd emulator has no {method} {parts.path}")
            if kind not in UNLOCKED_KINDS:
                return self._run(route)
        return self._run(route)

    def _run(self, route: Route) -> _Reply:
        try:
            return route()
        except Exception:  # an emulator bug: tell the client and keep it for the test
            self.errors.append(traceback.format_exc())
            return _error(500, "splunkd emulator error")

    def _route(
        self, method: str, path: str, query: Dict[str, List[str]], body: bytes
    ) -> Tuple[str, Optional[Route]]:
        segments = [unquote(segment) for segment in path.split("/")[1:]]
        while segments and segments[-1] == "":
            segments.pop()
        if segments[:1] == ["servicesNS"] and len(segments) >= 3:
            owner, app, rest = segments[1], segments[2], segments[3:]
        elif segments[:1] == ["services"]:
            owner, app, rest = "nobody", "-", segments[1:]
        else:
            return "unknown", None
        del owner  # splunkd's owner context makes no difference here
        for router in self._routers:
            found = router(method, app, rest, query, body)
            if found is not None:
                return found

        if rest[:1] == ["properties"] and method == "GET":
            return "properties", lambda: self._properties(app, rest[1:], query)
        if len(rest) in (2, 3) and rest[0] == "configs" and rest[1].startswith("conf-"):
            kind = "discovery" if app == "system" else "conf"
            if method != "GET":
                return "unknown", None
            conf, stanza = rest[1][len("conf-") :], (rest[2] if len(rest) == 3 else None)
            return kind, lambda: self._configs(app, conf, stanza, query)
        if rest[:2] == ["storage", "passwords"] and len(rest) <= 3 and method == "GET":
            name = rest[2] if len(rest) == 3 else None
            return "passwords", lambda: self._passwords(name, query)
        if rest[:3] == ["storage", "collections", "config"] and len(rest) <= 4:
            if app not in (APP, "-"):
                return "kvstore_config", lambda: _error(404, f"No collections in app {app}")
            name = rest[3] if len(rest) == 4 else None
            route = self._kv_config_route(method, name, query, body)
            return ("kvstore_config", route) if route else ("unknown", None)
        if rest[:3] == ["storage", "collections", "data"] and len(rest) in (4, 5):
            coll, key = rest[3], (rest[4] if len(rest) == 5 else None)
            kinds = {"GET": "kvstore_read", "POST": "kvstore_write", "DELETE": "kvstore_delete"}
            if method not in kinds:
                return "unknown", None
            kind = "kvstore_read" if (method, key) == ("POST", "batch_find") else kinds[method]
            if app not in (APP, "-"):
                return kind, lambda: _error(404, f"No collections in app {app}")
            params = {name: values[-1] for name, values in query.items()}
            return kind, lambda: self._kv_data(method, coll, key, body, params)
        return "unknown", None

    # -- replies: entries as Atom or JSON ------------------------------------------------
    def _entries_reply(
        self, feed_path: str, title: str, entries: List[_Entry], query: Dict[str, List[str]]
    ) -> _Reply:
        search = query.get("search", [""])[0]
        if search:
            terms = _search_terms(search)
            entries = [entry for entry in entries if _matches(entry, terms)]
        total = len(entries)
        offset = max(int(query.get("offset", ["0"])[0] or 0), 0)
        count = int(query.get("count", [str(DEFAULT_COUNT)])[0] or 0)
        page = entries[offset:] if count <= 0 else entries[offset : offset + count]
        if query.get("output_mode", [""])[0] == "json":
            return self._json_feed(feed_path, page, total, offset, count)
        return self._atom_feed(feed_path, title, page, total, offset, count)

    def _atom_feed(
        self, feed_path: str, title: str, page: List[_Entry], total: int, offset: int, count: int
    ) -> _Reply:
        now = _now()
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f"<feed {ATOM_NS}>",
            f"  <title>{escape(title)}</title>",
            f"  <id>{escape(self.uri + feed_path)}</id>",
            f"  <updated>{now}</updated>",
            '  <generator build="emulator" version="9.3.0"/>',
            "  <author><name>Splunk</name></author>",
            f"  <opensearch:totalResults>{total}</opensearch:totalResults>",
            f"  <opensearch:itemsPerPage>{max(count, 0)}</opensearch:itemsPerPage>",
            f"  <opensearch:startIndex>{offset}</opensearch:startIndex>",
            "  <s:messages/>",
        ]
        for entry in page:
            href = quoteattr(entry.path)
            if isinstance(entry.content, str):
                content = f'<content type="text">{escape(entry.content)}</content>'
            else:
                values = dict(entry.content)
                if entry.acl is not None:
                    values["eai:acl"] = entry.acl
                content = f'<content type="text/xml">{_s_value(values)}</content>'
            out += [
                "  <entry>",
                f"    <title>{escape(entry.name)}</title>",
                f"    <id>{escape(self.uri + entry.path)}</id>",
                f"    <updated>{now}</updated>",
                f'    <link href={href} rel="alternate"/>',
                f"    <author><name>{escape(entry.author)}</name></author>",
                f'    <link href={href} rel="list"/>',
                f'    <link href={href} rel="edit"/>',
                f"    {content}",
                "  </entry>",
            ]
        out.append("</feed>")
        return _Reply(200, ("\n".join(out) + "\n").encode())

    def _json_feed(
        self, feed_path: str, page: List[_Entry], total: int, offset: int, count: int
    ) -> _Reply:
        now = _now()
        entries = []
        for entry in page:
            content = entry.content if isinstance(entry.content, str) else dict(entry.content)
            if isinstance(content, dict) and entry.acl is not None:
                content["eai:acl"] = None
            item: Dict[str, Any] = {
                "name": entry.name,
                "id": self.uri + entry.path,
                "updated": now,
                "links": {"alternate": entry.path, "list": entry.path, "edit": entry.path},
                "author": entry.author,
            }
            if entry.acl is not None:
                item["acl"] = entry.acl
            item["content"] = content
            entries.append(item)
        return _json_reply(
            {
                "links": {"create": f"{feed_path}/_new"},
                "origin": self.uri + feed_path,
                "updated": now,
                "generator": {"build": "emulator", "version": "9.3.0"},
                "entry": entries,
                "paging": {"total": total, "perPage": max(count, 0), "offset": offset},
                "messages": [],
            }
        )

    # -- confs ------------------------------------------------------------------------
    def _system_confs(self) -> Dict[str, Dict[str, Dict[str, str]]]:
        return {
            "server": {
                "general": {"serverName": "sh1"},
                "sslConfig": {"enableSplunkdSSL": "true", "sslVerifyServerCert": "false"},
            },
            "web": {"settings": {"mgmtHostPort": f"127.0.0.1:{self.port}"}},
            "limits": {"kvstore": {name: str(value) for name, value in self.kv_limits.items()}},
        }

    def _conf_source(self, app: str, conf: str) -> Optional[Tuple[str, Dict[str, Dict[str, str]]]]:
        """(owning app, stanzas) of a conf seen from ``app``'s namespace."""
        system = self._system_confs()
        if app in (APP, "-") and conf in self.confs:
            return APP, self.confs[conf]
        if app in ("system", "-", APP) and conf in system:
            return "system", system[conf]
        return None

    def _stanza_entry(
        self, owner_app: str, conf: str, name: str, stanza: Mapping[str, str]
    ) -> _Entry:
        content: Dict[str, Any] = {"disabled": False, **stanza}
        content.update({"eai:appName": owner_app, "eai:userName": "nobody"})
        acl = _acl(owner_app, "system" if owner_app == "system" else "app")
        path = f"/servicesNS/nobody/{owner_app}/configs/conf-{conf}/{quote(name, safe='')}"
        fields: Dict[str, str] = {"name": name}
        _flat("", {**content, "eai:acl": acl}, fields)
        return _Entry(name, path, content, acl, search_fields=fields)

    def _configs(
        self, app: str, conf: str, stanza: Optional[str], query: Dict[str, List[str]]
    ) -> _Reply:
        source = self._conf_source(app, conf)
        feed_path = f"/servicesNS/nobody/{app}/configs/conf-{conf}"
        if stanza is not None and (source is None or stanza not in source[1]):
            return _error(404, f"Could not find object id={stanza}")
        entries: List[_Entry] = []
        if source is not None:
            owner_app, stanzas = source
            names = [stanza] if stanza is not None else sorted(stanzas)
            entries = [self._stanza_entry(owner_app, conf, n, stanzas[n]) for n in names]
        return self._entries_reply(feed_path, f"conf-{conf}", entries, query)

    def _properties(self, app: str, rest: List[str], query: Dict[str, List[str]]) -> _Reply:
        base = f"/servicesNS/nobody/{app}/properties"
        if not rest:
            names = sorted(self.confs) if app != "system" else sorted(self._system_confs())
            entries = [_Entry(n, f"{base}/{quote(n, safe='')}", {}) for n in names]
            return self._entries_reply(base, "properties", entries, query)
        source = self._conf_source(app, rest[0])
        if source is None:
            return _error(404, f"Could not find object id={rest[0]}")
        stanzas = source[1]
        conf_path = f"{base}/{quote(rest[0], safe='')}"
        if len(rest) == 1:
            entries = [_Entry(n, f"{conf_path}/{quote(n, safe='')}", {}) for n in sorted(stanzas)]
            return self._entries_reply(conf_path, rest[0], entries, query)
        if rest[1] not in stanzas:
            return _error(404, f"Could not find object id={rest[1]}")
        values = stanzas[rest[1]]
        stanza_path = f"{conf_path}/{quote(rest[1], safe='')}"
        if len(rest) == 2:
            entries = [
                _Entry(k, f"{stanza_path}/{quote(k, safe='')}", v) for k, v in values.items()
            ]
            return self._entries_reply(stanza_path, rest[1], entries, query)
        if len(rest) == 3 and rest[2] in values:
            return _Reply(200, values[rest[2]].encode(), "text/plain; charset=UTF-8")
        return _error(404, f"Could not find object id={'/'.join(rest[1:])}")

    # -- storage/passwords ------------------------------------------------------------
    def _passwords(self, name: Optional[str], query: Dict[str, List[str]]) -> _Reply:
        feed_path = f"/servicesNS/nobody/{APP}/storage/passwords"
        entries = []
        for (realm, username), clear in sorted(self.passwords.items()):
            title = _password_title(realm, username)
            if name is not None and name != title:
                continue
            content = {
                "clear_password": clear,
                "encr_password": "$7$" + uuid.uuid5(uuid.NAMESPACE_URL, clear).hex,
                "password": "********",
                "realm": realm,
                "username": username,
            }
            acl = _acl(APP, "app")
            fields: Dict[str, str] = {"name": title}
            _flat("", {**content, "eai:acl": acl}, fields)
            path = f"{feed_path}/{quote(title, safe='')}"
            entries.append(_Entry(title, path, content, acl, search_fields=fields))
        if name is not None and not entries:
            return _error(404, f"Could not find object id={name}")
        return self._entries_reply(feed_path, "passwords", entries, query)

    # -- KV store ---------------------------------------------------------------------
    def _collection_entry(self, name: str) -> _Entry:
        content: Dict[str, Any] = {"disabled": False}
        for key, kind in self.collection_fields.get(name, {}).items():
            content[f"field.{key}"] = kind
        content.update({"eai:appName": APP, "eai:userName": "nobody"})
        acl = _acl(APP, "app")
        path = f"/servicesNS/nobody/{APP}/storage/collections/config/{quote(name, safe='')}"
        fields: Dict[str, str] = {"name": name}
        _flat("", {**content, "eai:acl": acl}, fields)
        return _Entry(name, path, content, acl, search_fields=fields)

    def _kv_config_route(
        self, method: str, name: Optional[str], query: Dict[str, List[str]], body: bytes
    ) -> Optional[Route]:
        feed_path = f"/servicesNS/nobody/{APP}/storage/collections/config"
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}

        def listing() -> _Reply:
            if name is not None and name not in self.collections:
                return _error(404, f"Could not find object id={name}")
            names = [name] if name is not None else sorted(self.collections)
            return self._entries_reply(
                feed_path, "collections-conf", [self._collection_entry(n) for n in names], query
            )

        def create() -> _Reply:
            new = form.get("name", "")
            if not new:
                return _error(400, "Argument name is required")
            if new in self.collections:
                return _error(409, f"An object with name={new} already exists")
            self.collections.add(new)
            self.kvstore.setdefault(new, {})
            self.collection_fields[new] = {
                k[len("field.") :]: v for k, v in form.items() if k.startswith("field.")
            }
            reply = self._entries_reply(
                feed_path, "collections-conf", [self._collection_entry(new)], {}
            )
            return _Reply(201, reply.body, reply.content_type)

        def update() -> _Reply:
            if name not in self.collections:
                return _error(404, f"Could not find object id={name}")
            fields = self.collection_fields.setdefault(str(name), {})
            fields.update(
                {k[len("field.") :]: v for k, v in form.items() if k.startswith("field.")}
            )
            return listing()

        def delete() -> _Reply:
            if name not in self.collections:
                return _error(404, f"Could not find object id={name}")
            self.collections.discard(str(name))
            self.kvstore.pop(str(name), None)
            self.collection_fields.pop(str(name), None)
            return self._entries_reply(feed_path, "collections-conf", [], {})

        if method == "GET":
            return listing
        if method == "POST":
            return create if name is None else update
        if method == "DELETE" and name is not None:
            return delete
        return None

    def _kv_data(
        self, method: str, coll: str, key: Optional[str], body: bytes, params: Dict[str, str]
    ) -> _Reply:
        """``storage/collections/data/<coll>[/<key>]``: see tests/support/kvstore.py."""
        if coll not in self.collections:
            return _error(404, f"Collection: {coll} not found")
        data = self._kv_data_endpoints
        try:
            if method == "GET":
                found = data.get(coll, params) if key is None else data.get_one(coll, key)
                return _Reply(200, found, JSON_TYPE)
            if method == "DELETE":
                if key is None:
                    data.delete(coll, params)
                else:
                    data.delete_one(coll, key)
                return _Reply(200, b"", JSON_TYPE)
            if key == "batch_find":
                return _Reply(200, data.batch_find(coll, body), JSON_TYPE)
            if key == "batch_save":
                return _json_reply(data.batch_save(coll, body))
            if key is None:
                return _json_reply({"_key": data.insert(coll, body)}, 201)
            return _json_reply({"_key": data.replace(coll, key, body)})
        except KvError as error:
            return _error(error.status, error.message)


def input_xml(
    *,
    server_uri: str,
    session_key: str,
    checkpoint_dir: str,
    stanzas: Mapping[str, Mapping[str, str]],
    server_host: str = "sh1",
    app: str = APP,
) -> str:
    """The ``<input>`` document splunkd writes to a modular input's stdin (stream mode)."""
    lines = [
        "<input>",
        f"  <server_host>{escape(server_host)}</server_host>",
        f"  <server_uri>{escape(server_uri)}</server_uri>",
        f"  <session_key>{escape(session_key)}</session_key>",
        f"  <checkpoint_dir>{escape(checkpoint_dir)}</checkpoint_dir>",
        "  <configuration>",
    ]
    for name, params in stanzas.items():
        lines.append(f"    <stanza name={quoteattr(name)} app={quoteattr(app)}>")
        lines += [
            f"      <param name={quoteattr(key)}>{escape(value)}</param>"
            for key, value in params.items()
        ]
        lines.append("    </stanza>")
    lines += ["  </configuration>", "</input>", ""]
    return "\n".join(lines)


EVENT_FIELDS = ("time", "source", "sourcetype", "index", "host", "data")


def parse_stream(stdout: str) -> List[Dict[str, Any]]:
    """Events of a modular input's ``<stream>`` output, as dicts.

    Each has the six fields (None when absent), ``done`` (bool) and the ``<event>``
    attributes (``stanza``, ``unbroken``). Empty output means no events; output that is
    not a ``<stream>`` raises ValueError. A missing ``</stream>`` (a run that died after
    writing events) is tolerated, as splunkd keeps those events.
    """
    text = stdout.strip()
    if not text:
        return []
    if text.startswith("<stream>") and not text.endswith("</stream>"):
        text += "</stream>"
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise ValueError(f"modular input output is not XML: {error}: {stdout[:200]!r}") from None
    if root.tag != "stream":
        raise ValueError(f"modular input output is <{root.tag}>, not <stream>")
    events = []
    for element in root:
        if element.tag != "event":
            raise ValueError(f"unexpected <{element.tag}> in <stream>")
        event: Dict[str, Any] = {name: element.findtext(name) for name in EVENT_FIELDS}
        event["done"] = element.find("done") is not None
        event.update(element.attrib)
        events.append(event)
    return events
