"""The browser suite's set-up: one Chromium per session, one stand-in stack per module.

The stack is the Splunk Web stand-in serving the built add-on's pages, the splunkd
emulator with the add-on's own REST handler scripts behind it (run in the Splunk 10
Python), and the vendor API emulator. Each test gets a fresh browser context and a
splunkd reset to the state UCC's defaults ship, so tests do not see each other's saves.

The console-error rule: a test fails on any page error, any console message of type
``error``, and any response >= 400 or failed request it did not declare with
``Ui.expect_failure``. The only exceptions are the Splunk-owned assets the stand-in cannot
provide (``STANDIN_ABSENT``: Splunk's header bar and theme scripts, the favicon) and the
line UCC logs when the header bar is missing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from tests.conftest import python_for
from tests.support.clients import SECRETS
from tests.support.ui_stack import REFUSED_KEY, ROTATED_KEY, Stack, launch_chromium, ui_stack

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


class Ui:
    """One test's browser page, with what it saw that breaks the console-error rule."""

    def __init__(self, page: Page, stack: Stack) -> None:
        self.page = page
        self.stack = stack
        self.problems: List[str] = []
        self.console: List[str] = []
        self._expected: List[Tuple[int, str]] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_request_failed)

    def expect_failure(self, status: int, path: str) -> None:
        """Declare that a response ``status`` to a URL containing ``path`` is this test's point."""
        self._expected.append((status, path))

    def _is_expected(self, status: int, url: str) -> bool:
        return bool(STANDIN_ABSENT.search(url)) or any(
            status == want and path in url for want, path in self._expected
        )

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(message.text)
        if message.type != "error" or message.text == MISSING_LAYOUT:
            return
        url = message.location.get("url", "")
        status = re.search(r"status of (\d+)", message.text)
        if status and self._is_expected(int(status.group(1)), url):
            return  # Chromium's line for a response this test expects
        self.problems.append(f"console error: {message.text} ({url})")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and not self._is_expected(response.status, response.url):
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


@pytest.fixture
def ui(browser: Browser, stack: Stack) -> Iterator[Ui]:
    stack.reset()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20000)
    session = Ui(context.new_page(), stack)
    yield session
    # The page as the admin sees it, minus what they are typing into a field right now.
    html = session.page.evaluate(
        "() => { document.querySelectorAll('input').forEach(i => i.removeAttribute('value'));"
        " return document.documentElement.outerHTML; }"
    )
    context.close()
    places = {
        "the page": [html],
        "the browser console": session.console,
        "what Splunk Web sent the browser": stack.web.bodies(),
        "a conf": [json.dumps(stack.splunkd.confs)],
    }
    leaks = [where for where, texts in places.items()
             if any(secret in text for secret in UI_SECRETS for text in texts)]  # fmt: skip
    assert not leaks, f"a secret is in {', '.join(leaks)}"  # never the secret itself
    assert not session.problems, "\n".join(session.problems)
