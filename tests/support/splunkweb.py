"""A loopback stand-in for Splunk Web serving the built add-on's own UCC pages (tests only).

``SplunkWeb(app_dir, splunkd)`` answers, on ``http://127.0.0.1:<port>``, what a browser
asks Splunk Web for when an admin opens the add-on (see the shared
``ucc-web-ui-contract.md``):

* ``/en-US/app/<app>/<view>``: the view's template as the add-on ships it (the
  ``template="<app>:/templates/base.html"`` of ``default/data/ui/views/<view>.xml``,
  from ``appserver/templates/``), unmodified. It also sets the CSRF cookie
  ``splunkweb_csrf_token_<port>``, as a logged-in session has it.
* ``/en-US/config?autoload=1``: ``window.$C``; ``/en-US/static/@<build>/js/i18n.js`` and
  ``/en-US/i18ncatalog?autoload=1``: the (almost empty) localisation scripts;
* ``/en-US/static/@<build>/app/<app>/<path>``: ``appserver/static/<path>``, unmodified;
* ``/en-US/splunkd/__raw/<path>``: proxied to splunkd with the session's key. A write
  (any method but GET/HEAD) needs ``X-Splunk-Form-Key`` equal to the CSRF cookie and
  ``X-Requested-With: XMLHttpRequest``, or Splunk Web answers 401 without asking splunkd.

Not served, as on a Splunk without them: the header bar (``build/api/layout.js``) and the
theme script; the page logs "Unable to load layout" and renders without Splunk's header.
Every request is recorded in ``requests`` as ``(method, path, status)``, and every splunkd
answer passed to the browser in ``bodies()`` (tests look for secrets there).
"""

from __future__ import annotations

import configparser
import http.client
import json
import mimetypes
import re
import secrets
import ssl
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

from tests.support.loopback import LoopbackServer

LOCALE = "en-US"
BUILD = "1796162014"  # the build number the add-on's base.html was generated with
USERNAME = "admin"


def template_of(app_dir: Path, view: str) -> Optional[Path]:
    """The file of ``view``'s ``template="<app>:/templates/<file>"``, if it has one."""
    view_file = app_dir / "default" / "data" / "ui" / "views" / f"{view}.xml"
    if not view_file.is_file():
        return None
    template = ET.parse(view_file).getroot().get("template", "")
    match = re.fullmatch(r"[^:]+:/templates/([\w.-]+)", template)
    return app_dir / "appserver" / "templates" / match.group(1) if match else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "Splunk Web"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """No request logging."""

    def _handle(self) -> None:
        web = self.server.web
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, headers, content = web.answer(self.command, self.path, self.headers, body)
        with web.lock:
            web.requests.append((self.command, urlsplit(self.path).path, status))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _handle  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, web: SplunkWeb) -> None:
        self.web = web
        super().__init__(("127.0.0.1", 0), _Handler)


Answer = Tuple[int, List[Tuple[str, str]], bytes]


class SplunkWeb(LoopbackServer):
    """Splunk Web for one add-on and one logged-in admin, proxying to ``splunkd``."""

    def __init__(self, app_dir: Path, splunkd: Any, *, theme: str = "light") -> None:
        self.app_dir = app_dir
        self.app = app_dir.name
        self.splunkd = splunkd  # tests.support.splunkd.Splunkd: .uri and .session_key
        self.theme = theme
        self.csrf_token = secrets.token_hex(16)
        self.requests: List[Tuple[str, str, int]] = []
        self._bodies: List[bytes] = []  # every splunkd answer passed on to the browser
        self.lock = threading.Lock()
        self._server = _Server(self)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(app_dir / "default" / "app.conf")
        self.app_build = parser.get("install", "build", fallback="1")

    def bodies(self) -> List[str]:
        """The splunkd answers proxied to the browser so far, as text."""
        with self.lock:
            return [body.decode("utf-8", "replace") for body in self._bodies]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self._bodies.clear()

    def page_url(self, view: str) -> str:
        return f"{self.url}/{LOCALE}/app/{self.app}/{view}"

    @property
    def csrf_cookie(self) -> str:
        return f"splunkweb_csrf_token_{self.port}"

    # -- answers ------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: Any, body: bytes) -> Answer:
        parts = urlsplit(target)
        path = parts.path
        prefix = f"/{LOCALE}/"
        if not path.startswith(prefix):
            return self._text(404, "Not found")
        rest = path[len(prefix) :]
        if rest.startswith("splunkd/__raw/"):
            return self._proxy(method, "/" + rest[len("splunkd/__raw/") :], parts.query,
                               headers, body)  # fmt: skip
        if method not in ("GET", "HEAD"):
            return self._text(405, "Method not allowed")
        if rest == "config":
            return self._script(self._config_js())
        if rest == "i18ncatalog":
            return self._script("window._i18n_locale = {};\n")
        static = re.fullmatch(r"static/@[\w.:-]+/(.*)", rest)
        if static:
            return self._static(static.group(1))
        page = re.fullmatch(rf"app/{re.escape(self.app)}/([\w-]+)", rest)
        if page:
            template = template_of(self.app_dir, page.group(1))
            if template is not None and template.is_file():
                cookie = f"{self.csrf_cookie}={self.csrf_token}; Path=/; SameSite=Strict"
                return (200, [("Content-Type", "text/html; charset=UTF-8"),
                              ("Set-Cookie", cookie)], template.read_bytes())  # fmt: skip
        return self._text(404, "Page not found")

    def _config_js(self) -> str:
        config = {
            "SPLUNKD_PATH": f"/{LOCALE}/splunkd/__raw",
            "MRSPARKLE_PORT_NUMBER": str(self.port),
            "MRSPARKLE_ROOT_PATH": "",
            "LOCALE": LOCALE,
            "BUILD_NUMBER": BUILD,
            "BUILD_PUSH_NUMBER": 0,
            "APP_BUILD": self.app_build,
            "USERNAME": USERNAME,
            "SPLUNK_UI_THEME": self.theme,
            "VERSION_LABEL": "9.3.0",
            "SERVER_ZONEINFO": "",
        }
        return f"window.$C = {json.dumps(config)};\n"

    def _static(self, relative: str) -> Answer:
        if relative == "js/i18n.js":
            return self._script("window.i18n_register = function () {};\n")
        app_prefix = f"app/{self.app}/"
        if not relative.startswith(app_prefix):
            return self._text(404, "Not found")  # Splunk's own assets: the header bar, themes
        root = (self.app_dir / "appserver" / "static").resolve()
        file = (root / relative[len(app_prefix) :]).resolve()
        if root not in file.parents or not file.is_file():
            return self._text(404, "Not found")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if file.suffix in (".js", ".mjs"):
            kind = "application/javascript"
        return 200, [("Content-Type", kind)], file.read_bytes()

    def _proxy(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Answer:
        if method not in ("GET", "HEAD"):
            cookies = headers.get("Cookie") or ""
            sent = dict(part.strip().split("=", 1) for part in cookies.split(";") if "=" in part)
            form_key = headers.get("X-Splunk-Form-Key")
            if (
                not form_key
                or form_key != self.csrf_token
                or sent.get(self.csrf_cookie) != form_key
                or headers.get("X-Requested-With") != "XMLHttpRequest"
            ):
                return self._text(
                    401, "Splunk cannot authenticate the request. CSRF validation failed."
                )
        forward = {"Authorization": f"Splunk {self.splunkd.session_key}", "Connection": "close"}
        if headers.get("Content-Type"):
            forward["Content-Type"] = headers["Content-Type"]
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # Splunk Web does not check splunkd's certificate
        address = urlsplit(self.splunkd.uri)
        connection = http.client.HTTPSConnection(
            address.hostname, address.port, timeout=120, context=context
        )
        try:
            connection.request(method, path + (f"?{query}" if query else ""), body=body or None,
                               headers=forward)  # fmt: skip
            reply = connection.getresponse()
            content = reply.read()
            with self.lock:
                self._bodies.append(content)
            kind = reply.getheader("Content-Type", "application/json")
            return reply.status, [("Content-Type", kind)], content
        finally:
            connection.close()

    @staticmethod
    def _script(text: str) -> Answer:
        return 200, [("Content-Type", "application/javascript")], text.encode()

    @staticmethod
    def _text(status: int, text: str) -> Answer:
        return status, [("Content-Type", "text/plain; charset=UTF-8")], text.encode()
