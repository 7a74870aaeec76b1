"""More of splunkd for the emulator (``tests/support/splunkd.py``): writes and the UI's reads.

``SplunkdWrites(splunkd)`` adds, as splunkd answers them:

* conf stanza create / edit / delete: ``POST configs/conf-<conf>`` (``name`` plus fields;
  201, 409 if the stanza exists), ``POST configs/conf-<conf>/<stanza>`` (fields merged),
  ``DELETE configs/conf-<conf>/<stanza>`` (the remaining stanzas);
* ``storage/passwords``: ``POST`` with ``name``, ``password``, ``realm`` (201 Atom entry,
  409 if it exists), ``POST storage/passwords/<title>`` (new password),
  ``DELETE storage/passwords/<title>``: what solnlib's ``CredentialManager`` sends;
* modular inputs ``data/inputs/<type>[/<name>[/enable|disable]]``, kept as
  ``inputs.conf`` stanzas ``<type>://<name>`` (so ``configs/conf-inputs`` reads them too);
* ``data/indexes`` (``indexes``, name -> internal?), ``server/info`` (``instance_type``:
  ``"cloud"`` on Splunk Cloud, empty on Enterprise) and the search jobs UCC's pages run
  (``search/jobs``, ``search/v2/jobs/<sid>/results``): a ``| rest/services/server/info``
  search answers ``server/info``'s row, a ``| rest services/apps/local/<app>`` search the
  app's row (its ``app.conf`` from ``apps``: ``build``, ``version``, as the pages' footer
  reads it), any other search answers no rows;
* what the monitoring dashboard page reads: ``authentication/current-context`` (the admin)
  and ``data/ui/times`` (time range presets).
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qs, quote

try:
    from tests.support import splunkd as emulator
except ImportError:  # imported as a top-level module, with tests/support on sys.path
    import splunkd as emulator  # type: ignore[no-redef]

Query = Dict[str, List[str]]
Found = Optional[Tuple[str, emulator.Route]]
# Arguments splunkd reads itself and does not store in a stanza.
CONTROL_ARGS = ("output_mode", "name")
ADMIN_CAPABILITIES = (
    "admin_all_objects",
    "list_settings",
    "edit_modinput_socdefenders_ioc_stats",
    "search",
    "rest_properties_get",
    "list_storage_passwords",
)
# A few of the time range presets Splunk's default times.conf ships.
TIME_PRESETS = (
    ("last_15_minutes", "Last 15 minutes", "-15m"),
    ("last_24h", "Last 24 hours", "-24h"),
    ("last_7d", "Last 7 days", "-7d@h"),
)
DEFAULT_INDEXES = {"main": False, "summary": False, "history": False, "_internal": True}


def form_of(body: bytes) -> Dict[str, str]:
    fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


class SplunkdWrites:
    """The routes above, added to ``splunkd`` (an ``emulator.Splunkd``)."""

    def __init__(self, splunkd: emulator.Splunkd, *, instance_type: str = "") -> None:
        self.splunkd = splunkd
        self.instance_type = instance_type
        self.indexes: Dict[str, bool] = dict(DEFAULT_INDEXES)
        self.searches: Dict[str, Dict[str, str]] = {}  # sid -> the job's posted arguments
        # installed apps: name -> their app.conf stanzas (``[install] build``, ``[launcher]
        # version``), for ``| rest services/apps/local/<name>``
        self.apps: Dict[str, Dict[str, Dict[str, str]]] = {}
        self._sids = itertools.count(1)
        splunkd.add_router(self.route)

    # -- routing ------------------------------------------------------------------------
    def route(self, method: str, app: str, rest: List[str], query: Query, body: bytes) -> Found:
        if rest[:1] == ["configs"] and len(rest) in (2, 3) and rest[1].startswith("conf-"):
            if method == "GET" or app == "system":
                return None
            conf, stanza = rest[1][len("conf-") :], (rest[2] if len(rest) == 3 else None)
            return "conf_write", lambda: self._conf_write(method, conf, stanza, query, body)
        if rest[:2] == ["storage", "passwords"] and method in ("POST", "DELETE"):
            # a title holds the realm, whose "/" some clients send unescaped
            title = "/".join(rest[2:]) or None
            return "passwords_write", lambda: self._password_write(method, title, body)
        if rest[:2] == ["data", "inputs"] and len(rest) >= 3:
            return "inputs", lambda: self._inputs(method, rest[2], rest[3:], query, body)
        if rest == ["data", "indexes"] and method == "GET":
            return "indexes", lambda: self._indexes(query)
        if rest == ["server", "info"] and method == "GET":
            return "server_info", lambda: self._server_info(query)
        if rest == ["authentication", "current-context"] and method == "GET":
            return "ui_reads", lambda: self._current_context(query)
        if rest == ["data", "ui", "times"] and method == "GET":
            return "ui_reads", lambda: self._times(query)
        if rest[:2] == ["search", "jobs"] or rest[:3] == ["search", "v2", "jobs"]:
            tail = rest[3:] if rest[1] == "v2" else rest[2:]
            return "search", lambda: self._search(method, tail, query, body)
        return None

    # -- entries ------------------------------------------------------------------------
    def _entry(self, path: str, name: str, content: Mapping[str, Any]) -> emulator._Entry:
        acl = emulator._acl(emulator.APP, "app")
        values: Dict[str, Any] = {**content, "eai:appName": emulator.APP}
        values["eai:userName"] = "nobody"
        fields: Dict[str, str] = {"name": name}
        emulator._flat("", {**values, "eai:acl": acl}, fields)
        return emulator._Entry(name, path, values, acl, search_fields=fields)

    def _reply(
        self, feed: str, entries: List[emulator._Entry], query: Query, status: int = 200
    ) -> emulator._Reply:
        reply = self.splunkd._entries_reply(feed, feed.rsplit("/", 1)[-1], entries, query)
        return emulator._Reply(status, reply.body, reply.content_type)

    # -- confs --------------------------------------------------------------------------
    def _conf_entries(self, conf: str, names: List[str]) -> List[emulator._Entry]:
        stanzas = self.splunkd.confs.get(conf, {})
        return [
            self.splunkd._stanza_entry(emulator.APP, conf, name, stanzas[name]) for name in names
        ]

    def _conf_write(
        self, method: str, conf: str, stanza: Optional[str], query: Query, body: bytes
    ) -> emulator._Reply:
        feed = f"/servicesNS/nobody/{emulator.APP}/configs/conf-{conf}"
        form = form_of(body)
        reply_query = {"output_mode": query.get("output_mode", form.get("output_mode", ""))}
        if isinstance(reply_query["output_mode"], str):
            reply_query["output_mode"] = [reply_query["output_mode"]]
        stanzas = self.splunkd.confs.get(conf, {})
        fields = {k: v for k, v in form.items() if k not in CONTROL_ARGS}
        if method == "POST" and stanza is None:
            name = form.get("name", "")
            if not name:
                return emulator._error(400, "Argument name is required")
            if name in stanzas:
                return emulator._error(409, f"An object with name={name} already exists")
            self.splunkd.confs.setdefault(conf, {})[name] = fields
            return self._reply(feed, self._conf_entries(conf, [name]), reply_query, 201)
        if stanza is None or stanza not in stanzas:
            return emulator._error(404, f"Could not find object id={stanza}")
        if method == "POST":
            stanzas[stanza].update(fields)
            return self._reply(feed, self._conf_entries(conf, [stanza]), reply_query)
        if method == "DELETE":
            del stanzas[stanza]
            return self._reply(feed, self._conf_entries(conf, sorted(stanzas)), reply_query)
        return emulator._error(405, f"Method {method} not allowed")

    # -- storage/passwords --------------------------------------------------------------
    def _password_write(self, method: str, title: Optional[str], body: bytes) -> emulator._Reply:
        form = form_of(body)
        passwords = self.splunkd.passwords
        if method == "POST" and title is None:
            user, realm = form.get("name", ""), form.get("realm", "")
            if not user or "password" not in form:
                return emulator._error(400, "Arguments name and password are required")
            if (realm, user) in passwords:
                title = emulator._password_title(realm, user)
                return emulator._error(409, f"An object with name={title} already exists")
            passwords[(realm, user)] = form["password"]
            reply = self.splunkd._passwords(emulator._password_title(realm, user), {})
            return emulator._Reply(201, reply.body, reply.content_type)
        key = next(
            (k for k in passwords if emulator._password_title(*k) == title),
            None,
        )
        if key is None:
            return emulator._error(404, f"Could not find object id={title}")
        if method == "DELETE":
            del passwords[key]
            return self.splunkd._passwords(None, {})
        if "password" not in form:
            return emulator._error(400, "Argument password is required")
        passwords[key] = form["password"]
        return self.splunkd._passwords(title, {})

    # -- data/inputs --------------------------------------------------------------------
    def _input_entries(self, kind: str, names: List[str]) -> List[emulator._Entry]:
        stanzas = self.splunkd.confs.get("inputs", {})
        feed = f"/servicesNS/nobody/{emulator.APP}/data/inputs/{kind}"
        entries = []
        for name in names:
            stanza = dict(stanzas[f"{kind}://{name}"])
            disabled = stanza.pop("disabled", "0") in ("1", "true", "True")
            content = {"host": "$decideOnStartup", "index": "default", **stanza}
            content["disabled"] = disabled
            path = f"{feed}/{quote(name, safe='')}"
            entries.append(self._entry(path, name, content))
        return entries

    def _inputs(
        self, method: str, kind: str, tail: List[str], query: Query, body: bytes
    ) -> emulator._Reply:
        feed = f"/servicesNS/nobody/{emulator.APP}/data/inputs/{kind}"
        stanzas = self.splunkd.confs.setdefault("inputs", {})
        prefix = f"{kind}://"
        names = sorted(k[len(prefix) :] for k in stanzas if k.startswith(prefix))
        form = form_of(body)
        mode = {"output_mode": [query.get("output_mode", [form.get("output_mode", "")])[0]]}
        fields = {k: v for k, v in form.items() if k not in CONTROL_ARGS}
        if not tail:
            if method == "GET":
                return self._reply(feed, self._input_entries(kind, names), query)
            if method != "POST":
                return emulator._error(405, f"Method {method} not allowed")
            name = form.get("name", "")
            if not name:
                return emulator._error(400, "Argument name is required")
            if name in names:
                return emulator._error(409, f"An object with name={name} already exists")
            stanzas[prefix + name] = fields
            return self._reply(feed, self._input_entries(kind, [name]), mode, 201)
        name = tail[0]
        if name not in names:
            return emulator._error(404, f"Could not find object id={name}")
        stanza = stanzas[prefix + name]
        if len(tail) == 2 and method == "POST" and tail[1] in ("enable", "disable"):
            stanza["disabled"] = "1" if tail[1] == "disable" else "0"
            return self._reply(feed, self._input_entries(kind, [name]), mode)
        if len(tail) > 1:
            return emulator._error(404, f"Could not find object id={'/'.join(tail)}")
        if method == "GET":
            return self._reply(feed, self._input_entries(kind, [name]), query)
        if method == "POST":
            stanza.update(fields)
            return self._reply(feed, self._input_entries(kind, [name]), mode)
        if method == "DELETE":
            del stanzas[prefix + name]
            return self._reply(
                feed, self._input_entries(kind, [n for n in names if n != name]), mode
            )
        return emulator._error(405, f"Method {method} not allowed")

    # -- the UI's reads -----------------------------------------------------------------
    def _indexes(self, query: Query) -> emulator._Reply:
        feed = "/services/data/indexes"
        entries = [
            self._entry(f"{feed}/{quote(name)}", name, {"isInternal": internal, "disabled": False})
            for name, internal in sorted(self.indexes.items())
        ]
        return self._reply(feed, entries, query)

    def server_info(self) -> Dict[str, Any]:
        product = "cloud" if self.instance_type == "cloud" else "enterprise"
        return {
            "serverName": "sh1",
            "version": "9.3.0",
            "product_type": product,
            "instance_type": self.instance_type,
        }

    def _server_info(self, query: Query) -> emulator._Reply:
        feed = "/services/server/info"
        return self._reply(
            feed, [self._entry(f"{feed}/server-info", "server-info", self.server_info())], query
        )

    def _current_context(self, query: Query) -> emulator._Reply:
        feed = "/services/authentication/current-context"
        content = {
            "username": "admin",
            "realname": "Administrator",
            "roles": ["admin"],
            "capabilities": list(ADMIN_CAPABILITIES),
            "defaultApp": emulator.APP,
        }
        return self._reply(feed, [self._entry(f"{feed}/context", "context", content)], query)

    def _times(self, query: Query) -> emulator._Reply:
        feed = f"/servicesNS/nobody/{emulator.APP}/data/ui/times"
        entries = [
            self._entry(f"{feed}/{name}", name, {"label": label, "earliest_time": earliest,
                                                  "latest_time": "now", "order": str(order)})
            for order, (name, label, earliest) in enumerate(TIME_PRESETS)
        ]  # fmt: skip
        return self._reply(feed, entries, query)

    def _search(self, method: str, tail: List[str], query: Query, body: bytes) -> emulator._Reply:
        if not tail and method == "POST":
            sid = f"emulated_{next(self._sids)}"
            self.searches[sid] = form_of(body)
            return emulator._json_reply({"sid": sid}, 201)
        if not tail and "id" not in query:  # the job list, e.g. UCC's look-up of a cached job
            terms = emulator._search_terms(query.get("search", [""])[0])
            jobs = [sid for sid, form in self.searches.items() if self._job_matches(form, terms)]
            entries = [self._job(sid) for sid in jobs]
            listing = {"entry": entries, "paging": {"total": len(jobs)}, "messages": []}
            return emulator._json_reply(listing)
        sid = tail[0] if tail else query.get("id", [""])[0]
        if sid not in self.searches:
            return emulator._error(404, f"Unknown sid {sid}")
        if len(tail) <= 1 and method == "GET":
            return emulator._json_reply({"entry": [self._job(sid)], "paging": {"total": 1}})
        if len(tail) == 2 and tail[1] in ("results", "results_preview", "events"):
            return emulator._json_reply({"results": self._rows(sid), "messages": []})
        return emulator._json_reply({"entry": [], "messages": []})  # control, cancel, delete

    def _job(self, sid: str) -> Dict[str, Any]:
        """A finished job, as ``search/jobs/<sid>`` describes it (with what was posted)."""
        content = {
            **self.searches[sid],
            "sid": sid,
            "isDone": True,
            "dispatchState": "DONE",
            "isFailed": False,
            "resultCount": len(self._rows(sid)),
            "doneProgress": 1,
        }
        return {"name": sid, "id": f"/services/search/jobs/{sid}", "content": content}

    @staticmethod
    def _job_matches(form: Mapping[str, str], terms: List[Tuple[Optional[str], str]]) -> bool:
        return all(key is not None and form.get(key) == value for key, value in terms)

    def _rows(self, sid: str) -> List[Dict[str, Any]]:
        search = self.searches[sid].get("search", "")
        if "rest/services/server/info" in search.replace(" ", ""):
            return [self.server_info()]
        app = re.search(r"\|\s*rest\s+/?services/apps/local/([\w.-]+)", search)
        if app and app.group(1) in self.apps:
            return [self.app_row(app.group(1))]
        return []

    def app_row(self, name: str) -> Dict[str, Any]:
        """``apps/local/<name>``'s row, as ``| rest`` gives it."""
        conf = self.apps[name]
        return {
            "title": name,
            "label": conf.get("ui", {}).get("label", name),
            "version": conf.get("launcher", {}).get("version", ""),
            "build": conf.get("install", {}).get("build", ""),
            "disabled": "0",
            "splunk_server": "sh1",
        }
