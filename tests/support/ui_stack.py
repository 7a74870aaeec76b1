"""The whole stand-in behind the add-on's pages, for the browser suite and `make screenshots`.

``ui_stack(directory, installed_app, python)`` starts, on loopback: the splunkd emulator
with its write and UI routes (``splunkd_writes``) and the add-on's own REST handler
scripts behind its endpoints (``rest_handlers``, run in ``python``), two vendor API
emulators (plain HTTP, and HTTPS with a throw-away CA) and the Splunk Web stand-in
(``splunkweb``). splunkd starts with what the built add-on ships: the settings conf of
its ``default/`` (every Configuration tab's stanza, e.g. ``[indicators]``) and its
``app.conf`` (``apps/local/<app>``, which the pages' footer searches for the build time).
``launch_chromium`` starts Debian's Chromium through Playwright, with no browser download.
"""

from __future__ import annotations

import configparser
import contextlib
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator

from tests.support.rest_handlers import AddonRestHandlers
from tests.support.splunkd import SETTINGS_CONF, Splunkd
from tests.support.splunkd_writes import SplunkdWrites
from tests.support.splunkweb import SplunkWeb
from tests.support.vendor_api import FAKE_KEYS, VendorApi

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
REFUSED_KEY = "sk_live_FAKE0notakey00000000"  # the vendor emulator knows no such key
ROTATED_KEY = "sk_live_FAKE0rotated000000000000"  # a second Pro key, for a key change
KEYS = {**FAKE_KEYS, ROTATED_KEY: "pro"}


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless (``playwright install`` is never needed)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))


@dataclass
class Stack:
    splunkd: Splunkd
    writes: SplunkdWrites
    handlers: AddonRestHandlers
    web: SplunkWeb
    api: VendorApi  # plain HTTP on loopback (the add-on accepts http:// only there)
    tls_api: VendorApi  # HTTPS with a throw-away CA: needs the CA bundle field
    _initial: dict = field(default_factory=dict)

    def snapshot(self) -> None:
        """Remember the current state as the one ``reset`` goes back to."""
        self._initial = copy.deepcopy(self._state())

    def _state(self) -> dict:
        splunkd = self.splunkd
        return {"confs": splunkd.confs, "passwords": splunkd.passwords,
                "kvstore": splunkd.kvstore, "collections": splunkd.collections}  # fmt: skip

    def reset(self) -> None:
        for name, saved in copy.deepcopy(self._initial).items():
            live = self._state()[name]
            live.clear()
            live.update(saved)
        self.writes.instance_type = ""
        self.splunkd.reset_requests()
        self.web.reset()
        self.handlers.reset()
        self.api.reset()
        self.tls_api.reset()


def shipped_conf(app_dir: Path, conf: str) -> Dict[str, Dict[str, str]]:
    """The stanzas of ``default/<conf>.conf`` in the built add-on (names kept as written)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(app_dir / "default" / f"{conf}.conf")
    return {section: dict(parser[section]) for section in parser.sections()}


@contextlib.contextmanager
def ui_stack(directory: Path, installed_app: Path, python: str) -> Iterator[Stack]:
    """All the stand-ins, started; ``installed_app`` is ``$SPLUNK_HOME/etc/apps/<app>``."""
    splunk_home = installed_app.parent.parent.parent
    with contextlib.ExitStack() as running:
        splunkd = running.enter_context(Splunkd(directory))
        api = running.enter_context(VendorApi(directory, tls="off", keys=KEYS))
        tls_api = running.enter_context(VendorApi(directory / "tls", keys=KEYS))
        splunkd.confs[SETTINGS_CONF] = shipped_conf(installed_app, SETTINGS_CONF)
        writes = SplunkdWrites(splunkd)
        writes.apps[installed_app.name] = shipped_conf(installed_app, "app")
        handlers = AddonRestHandlers(splunkd, installed_app, python, splunk_home)
        web = running.enter_context(SplunkWeb(installed_app, splunkd))
        stack = Stack(splunkd, writes, handlers, web, api, tls_api)
        stack.snapshot()
        yield stack
