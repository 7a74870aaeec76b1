"""The browser suite's set-up: one Chromium per session, one stand-in stack per module.

The stack is the Splunk Web stand-in serving the built add-on's pages, the splunkd
emulator with the add-on's own REST handler scripts behind it (run in the Splunk 10
Python), and the vendor API emulator. Each test gets a fresh browser context and a
splunkd reset to the state UCC's defaults ship, so tests do not see each other's saves.

The console-error rule: a test fails on any page error, any console message of type
``error``, and any response >= 400 or failed request it did not declare with
``Ui.expect_failure`` (each declaration is used up by as many failures as it counts, and
one never seen fails the test too). The only exceptions are the Splunk-owned assets the
stand-in cannot provide (``STANDIN_ABSENT``: Splunk's header bar and theme scripts, the
favicon) and the line UCC logs when the header bar is missing.
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Tuple
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import python_for
from tests.support.clients import SECRETS
from tests.support.splunkweb import LOCALE
from tests.support.ui_stack import REFUSED_KEY, ROTATED_KEY, Stack, launch_chromium, ui_stack
from tests.support.vendor_api import PRO_KEY

# Splunk's own assets that only a real Splunk Web serves; 404 here, as the page expects.
STANDIN_ABSENT = re.compile(r"/static/@\d+/build/api/(layout|get_theme)\.js$|/favicon\.ico$")
MISSING_LAYOUT = "Unable to load layout."
UI_SECRETS = (*SECRETS, REFUSED_KEY, ROTATED_KEY)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, installed_app: Path) -> Iterator[Stack]:
    with ui_stack(tmp_path_factory.mktemp("ui"), installed_app, python_for("3.13")) as built:
        yield built
        assert not built.splunkd.errors, built.splunkd.errors[0]


@dataclass
class ExpectedFailure:
    """A response ``status`` to ``path`` that a test declares as its point, ``count`` times."""

    status: int
    path: str  # the URL's path after the locale, e.g. ``ucc.REST + endpoint``
    count: int
    used: int = 0

    def matches(self, status: int, url: str) -> bool:
        return status == self.status and urlsplit(url).path == f"/{LOCALE}{self.path}"


class Ui:
    """One test's browser page, with what it saw that breaks the console-error rule."""

    def __init__(self, context: BrowserContext, stack: Stack) -> None:
        self.context = context
        self.stack = stack
        self.problems: List[str] = []
        self.console: List[str] = []
        self._expected: List[ExpectedFailure] = []
        # an expected failure is seen twice, as a response and as Chromium's console line
        self._unpaired: Dict[str, Counter] = {"response": Counter(), "console": Counter()}
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.problems.append(f"page error: {error.error}"))
        context.on("response", self._on_response)
        context.on("requestfailed", self._on_request_failed)
        self.page = context.new_page()

    def expect_failure(self, status: int, path: str, count: int = 1) -> None:
        """Declare that ``count`` responses ``status`` to ``path`` are this test's point."""
        self._expected.append(ExpectedFailure(status, path, count))

    def unused_expectations(self) -> List[str]:
        return [f"{e.status} {e.path}: seen {e.used} of {e.count} times"
                for e in self._expected if e.used < e.count]  # fmt: skip

    def _is_expected(self, kind: str, status: int, url: str) -> bool:
        """Whether this failure was declared; each declared one is used up once."""
        if STANDIN_ABSENT.search(url):
            return True
        other = self._unpaired["console" if kind == "response" else "response"]
        if other[(status, url)]:
            other[(status, url)] -= 1  # the other half of a failure already accepted
            return True
        for want in self._expected:
            if want.used < want.count and want.matches(status, url):
                want.used += 1
                self._unpaired[kind][(status, url)] += 1
                return True
        return False

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(message.text)
        if message.type != "error" or message.text == MISSING_LAYOUT:
            return
        url = message.location.get("url", "")
        status = re.search(r"status of (\d+)", message.text)
        if status and self._is_expected("console", int(status.group(1)), url):
            return  # Chromium's line for a response this test expects
        self.problems.append(f"console error: {message.text} ({url})")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and not self._is_expected(
            "response", response.status, response.url
        ):
            self.problems.append(
                f"HTTP {response.status}: {response.request.method} {response.url}"
            )

    def _on_request_failed(self, request) -> None:
        if STANDIN_ABSENT.search(request.url):
            return  # the browser aborts the 404 script load
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    # -- navigation ---------------------------------------------------------------------
    def open(self, view: str) -> Page:
        self.page.goto(self.stack.web.page_url(view))
        return self.page


# -- state and REST calls beside the page ---------------------------------------------------
def with_account(ui: Ui) -> None:
    """Account ``prod`` (a Pro key on the plain-HTTP vendor emulator), as UCC saves it."""
    ui.stack.splunkd.add_account(
        "prod", PRO_KEY, base_url=ui.stack.api.base_url, auth_header="bearer",
        verify_tls="1", timeout="10",
    )  # fmt: skip


def splunkd_post(ui: Ui, endpoint: str, form: dict) -> Tuple[int, str]:
    """A REST client's POST straight to splunkd (not through the page)."""
    splunkd = ui.stack.splunkd
    request = urllib.request.Request(  # noqa: S310 - an https:// URL of the emulator
        f"{splunkd.uri}/servicesNS/nobody/TA-socdefenders/{endpoint}?output_mode=json",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": f"Splunk {splunkd.session_key}"},
    )
    context = ssl.create_default_context(cafile=str(splunkd.certificate.ca_file))
    try:
        with urllib.request.urlopen(request, context=context) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


QUIET_WAIT_MS = 5000


def wait_until_quiet(context: BrowserContext) -> None:
    """Let late answers and their console lines arrive before anything is collected.

    A page is quiet after 500 ms without network traffic ("networkidle"). The dashboard
    never is: Dashboard Studio keeps its search jobs alive (``POST .../control``,
    ``action=touch``) every second, so a page gets ``QUIET_WAIT_MS`` at most.
    """
    for page in context.pages:
        with contextlib.suppress(PlaywrightTimeoutError):  # still polling: collect what came
            page.wait_for_load_state("networkidle", timeout=QUIET_WAIT_MS)


@pytest.fixture
def ui(browser: Browser, stack: Stack) -> Iterator[Ui]:
    stack.reset()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20000)
    session = Ui(context, stack)
    yield session
    try:
        wait_until_quiet(context)
        # The page as the admin sees it, minus what they are typing into a field right now.
        html = session.page.evaluate(
            "() => { document.querySelectorAll('input').forEach(i => i.removeAttribute('value'));"
            " return document.documentElement.outerHTML; }"
        )
    finally:
        context.close()
    log_dir = stack.handlers.splunk_home / "var" / "log" / "splunk"
    places = {
        "the page": [html],
        "the browser console": session.console,
        "what Splunk Web sent the browser": stack.web.bodies(),
        "a conf": [json.dumps(stack.splunkd.confs)],
        "the REST handlers' stderr": stack.handlers.stderr(),
        "$SPLUNK_HOME/var/log/splunk": [
            log.read_text(errors="replace") for log in sorted(log_dir.glob("*.log"))
        ],
    }
    leaks = [where for where, texts in places.items()
             if any(secret in text for secret in UI_SECRETS for text in texts)]  # fmt: skip
    assert not leaks, f"a secret is in {', '.join(leaks)}"  # never the secret itself
    assert not session.problems, "\n".join(session.problems)
    unused = session.unused_expectations()
    assert not unused, "declared failures that never happened: " + "; ".join(unused)
