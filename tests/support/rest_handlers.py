"""splunkd's dispatch of an add-on's REST endpoints to the add-on's own handler scripts.

``AddonRestHandlers(splunkd, app_dir, python)`` reads the built add-on's
``default/restmap.conf``: each ``[admin_external:<endpoint>]`` stanza names a
``handlerfile`` in ``bin/``. A request to ``servicesNS/<owner>/<app>/<endpoint>[/<name>]``
then runs that script, as splunkd does, as ``__main__`` in the Splunk Python
(``python -B -E -s -S``: only the add-on's ``bin/`` and ``lib/`` and the stand-in
``splunk`` package are importable) with ``SPLUNKD_URI`` pointing back at the emulator.
The stand-in ``splunk.admin.init`` reads the EAI request (action, entity, arguments,
session key) from stdin and writes the handler's entries or error to stdout; this module
turns them into splunkd's answer (JSON or Atom, 201 on create, errors as splunkd
``messages``). Nothing here knows the handlers' rules: they run as they are.

``app_dir`` must sit at ``.../etc/apps/<app>`` (splunktaucclib finds its app name in the
script's path), e.g. the tests' ``installed_app``.
"""

from __future__ import annotations

import configparser
import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import quote

try:
    from tests.support import splunkd as emulator
    from tests.support.splunkd_writes import Query, form_of
except ImportError:  # imported as a top-level module, with tests/support on sys.path
    import splunkd as emulator  # type: ignore[no-redef]
    from splunkd_writes import Query, form_of  # type: ignore[no-redef]

SUPPORT = Path(__file__).resolve().parent
# Query arguments splunkd applies to the handler's answer itself (paging, search, format).
SPLUNKD_QUERY_ARGS = ("output_mode", "count", "offset", "search", "sort_key", "sort_dir", "f")
# splunkd runs the handler file as the main script, its folder first on sys.path.
DRIVER = """
import runpy, sys
bin_dir, support, script = sys.argv[1:4]
sys.argv = [script]
sys.path[:0] = [bin_dir, support]
runpy.run_path(script, run_name="__main__")
"""


def admin_external_handlers(app_dir: Path) -> Dict[str, Path]:
    """Endpoint name -> handler script, from the add-on's ``default/restmap.conf``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(app_dir / "default" / "restmap.conf")
    prefix = "admin_external:"
    return {
        section[len(prefix) :]: app_dir / "bin" / parser[section]["handlerfile"]
        for section in parser.sections()
        if section.startswith(prefix)
    }


class AddonRestHandlers:
    """Routes the add-on's REST endpoints of ``splunkd`` to its handler scripts."""

    def __init__(
        self, splunkd: emulator.Splunkd, app_dir: Path, python: str, splunk_home: Path
    ) -> None:
        self.splunkd = splunkd
        self.app_dir = app_dir
        self.python = python
        self.splunk_home = splunk_home
        self.handlers = admin_external_handlers(app_dir)
        (splunk_home / "var" / "log" / "splunk").mkdir(parents=True, exist_ok=True)
        self._stderr: List[str] = []  # each run's stderr: what splunkd puts in python.log
        self._lock = threading.Lock()
        splunkd.add_router(self.route)

    def stderr(self) -> List[str]:
        """What the handler scripts wrote to stderr since the last ``reset``."""
        with self._lock:
            return list(self._stderr)

    def reset(self) -> None:
        with self._lock:
            self._stderr.clear()

    def route(self, method: str, app: str, rest: List[str], query: Query, body: bytes):
        if app != emulator.APP or not rest or rest[0] not in self.handlers or len(rest) > 2:
            return None
        endpoint, name = rest[0], (rest[1] if len(rest) == 2 else None)
        return "rest_handler", lambda: self._serve(method, endpoint, name, query, body)

    def _serve(
        self, method: str, endpoint: str, name: Optional[str], query: Query, body: bytes
    ) -> emulator._Reply:
        mode = query.get("output_mode", [""])[0]
        form = form_of(body) if method == "POST" else {}
        mode = mode or form.pop("output_mode", "")
        form.pop("output_mode", None)
        if method == "GET":
            action = "list"
            args = {k: v for k, v in query.items() if k not in SPLUNKD_QUERY_ARGS}
        elif method == "POST" and name is None:
            action, name = "create", form.pop("name", None)
            if not name:
                return self._error(400, "Argument name is required", mode)
            args = {k: [v] for k, v in form.items()}
        elif method == "POST":
            action, args = "edit", {k: [v] for k, v in form.items()}
        elif method == "DELETE" and name is not None:
            action, args = "remove", {}
        else:
            return self._error(405, f"Method {method} not allowed", mode)
        answer = self._run(endpoint, action, name, args)
        if "error" in answer:
            return self._error(answer["error"]["status"], answer["error"]["text"], mode)
        feed = f"/servicesNS/nobody/{emulator.APP}/{endpoint}"
        entries = [self._entry(feed, item) for item in answer["entries"]]
        list_query = dict(query) if action == "list" else {}
        list_query["output_mode"] = [mode]
        reply = self.splunkd._entries_reply(feed, endpoint, entries, list_query)
        status = 201 if action == "create" else 200
        return emulator._Reply(status, reply.body, reply.content_type)

    def _run(
        self, endpoint: str, action: str, name: Optional[str], args: Mapping[str, List[str]]
    ) -> Dict[str, Any]:
        script = self.handlers[endpoint]
        request = {"action": action, "id": name, "args": dict(args), "user": "admin",
                   "app": emulator.APP, "session_key": self.splunkd.session_key}  # fmt: skip
        env = {"SPLUNKD_URI": self.splunkd.uri, "SPLUNK_HOME": str(self.splunk_home),
               "PATH": "/usr/bin:/bin"}  # fmt: skip
        result = subprocess.run(
            [self.python, "-B", "-E", "-s", "-S", "-c", DRIVER,
             str(script.parent), str(SUPPORT), str(script)],
            input=json.dumps(request), capture_output=True, text=True, cwd=script.parent,
            env=env, timeout=120, check=False,
        )  # fmt: skip
        with self._lock:
            self._stderr.append(result.stderr)
        try:
            return json.loads(result.stdout)
        except ValueError:  # the script died before splunk.admin answered
            return {"error": {"status": 500, "text": f"REST handler {script.name} failed "
                              f"(exit {result.returncode}); see python.log"}}  # fmt: skip

    @staticmethod
    def _entry(feed: str, item: Mapping[str, Any]) -> emulator._Entry:
        metadata = item.get("metadata", {})
        content: Dict[str, Any] = dict(item["content"])
        for key in ("eai:appName", "eai:userName", "eai:attributes"):
            if key in metadata:
                content[key] = metadata[key]
        if "disabled" in content:
            content["disabled"] = str(content["disabled"]).lower() in ("1", "true")
        acl = metadata.get("eai:acl") or emulator._acl(emulator.APP, "app")
        fields: Dict[str, str] = {"name": item["name"]}
        emulator._flat("", {**content, "eai:acl": acl}, fields)
        path = f"{feed}/{quote(item['name'], safe='')}"
        return emulator._Entry(item["name"], path, content, acl, search_fields=fields)

    @staticmethod
    def _error(status: int, text: str, mode: str) -> emulator._Reply:
        if mode == "json":
            return emulator._json_reply({"messages": [{"type": "ERROR", "text": text}]}, status)
        return emulator._error(status, text)
