"""Screenshots of the add-on's Configuration and Inputs pages for the README (`make screenshots`).

Serves the built add-on's own pages from the Splunk Web stand-in, with its real REST
handlers and the vendor API emulator behind them (``tests/support/ui_stack.py``, the same
stack the browser suite uses), drives Debian's Chromium through Playwright and writes:

* ``ui-accounts.png``: Configuration > Accounts with one account;
* ``ui-add-account.png``: the Add dialog;
* ``ui-refused-key.png``: the dialog after the API refused the key (HTTP 401);
* ``ui-indicators-tab.png``: Configuration > Indicators (the indicators' maximum age);
* ``ui-inputs.png``: the Inputs page with a stats input and an indicators input (its
  details shown);
* ``ui-add-indicators-input.png``: the indicators input's dialog, filled in.

The stand-in has no Splunk header bar, so the pages are shown without it. Every page's
footer shows the version being built (``meta.version`` of the built
``appserver/static/js/build/globalConfig.json``, which ``make build`` sets from
globalConfig.json) and its build time (``[install] build`` of the built ``app.conf``,
which the page reads with a ``| rest services/apps/local/<app>`` search); each screenshot
is taken only once the footer shows both.
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.support.ui_stack import REFUSED_KEY, launch_chromium, ui_stack  # noqa: E402
from tests.support.vendor_api import PRO_KEY  # noqa: E402
from tests.ui import ucc  # noqa: E402

VIEWPORT = {"width": 1280, "height": 760}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, required=True, help="the built add-on")
    parser.add_argument("--python", required=True, help="the Splunk Python for the handlers")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        apps = Path(temp) / "etc" / "apps"
        apps.mkdir(parents=True)
        installed = apps / args.app.resolve().name
        installed.symlink_to(args.app.resolve(), target_is_directory=True)
        with ui_stack(Path(temp) / "stack", installed, args.python) as stack:
            stack.splunkd.add_account(
                "prod", PRO_KEY, base_url="https://socdefenders.ai", auth_header="bearer",
                verify_tls="1", timeout="30",
            )  # fmt: skip
            stack.splunkd.confs["inputs"] = {
                "socdefenders_ioc_stats://prod_stats": {
                    "account": "prod", "interval": "900", "index": "main", "disabled": "0",
                },
                "socdefenders_iocs://prod_iocs": {
                    "account": "prod", "interval": "3600", "index": "main", "disabled": "0",
                    "ioc_types": "ipv4|domain|url|sha256", "min_confidence": "medium",
                    "lookback_days": "30",
                },
            }  # fmt: skip
            footer = Footer(built_version(installed))
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(stack.web.page_url("configuration"))
                expect(ucc.row(page, "prod")).to_be_visible()
                footer.shoot(page, args.out / "ui-accounts.png")

                page.get_by_role("button", name="Add").click()
                expect(ucc.dialog(page)).to_be_visible()
                ucc.fill(page, "name", "staging")
                footer.shoot(page, args.out / "ui-add-account.png")

                ucc.fill(page, "api_key", REFUSED_KEY)
                ucc.fill(page, "base_url", stack.api.base_url)
                ucc.save(page, "ta_socdefenders_account", status=500)
                expect(ucc.dialog(page)).to_contain_text("invalid_api_key")
                footer.shoot(page, args.out / "ui-refused-key.png")

                page.goto(stack.web.page_url("configuration"))
                ucc.open_tab(page, "Indicators")
                expect(ucc.field(page, "max_age_days").locator("input")).to_have_value("90")
                footer.shoot(page, args.out / "ui-indicators-tab.png")

                page.goto(stack.web.page_url("inputs"))
                expect(ucc.row(page, "prod_stats")).to_be_visible()
                ucc.row(page, "prod_iocs").locator("td").first.click()  # its details
                expect(page.get_by_text("ipv4|domain|url|sha256")).to_be_visible()
                footer.shoot(page, args.out / "ui-inputs.png")

                ucc.create_new_input(page, "SOC Defenders indicators")
                ucc.fill(page, "name", "prod_iocs_high")
                ucc.choose(page, "account", "prod")
                ucc.choose_many(page, "ioc_types", ["IPv4 address", "Domain", "URL"])
                ucc.choose(page, "min_confidence", "High")
                footer.shoot(page, args.out / "ui-add-indicators-input.png")
                browser.close()
    return 0


def built_version(app_dir: Path) -> str:
    """The version ``make build`` gave the add-on (``[id] version`` of its app.conf)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(app_dir / "default" / "app.conf")
    return parser.get("id", "version")


class Footer:
    """Takes a screenshot once the page's footer shows ``version`` and a build time."""

    def __init__(self, version: str) -> None:
        self.version = version

    def shoot(self, page, path: Path) -> None:
        footer = page.locator("footer")
        expect(footer).to_contain_text(f"Add-on Version: {self.version}")
        expect(footer).to_contain_text(re.compile(r"Build Time: \d.* UTC"))
        page.wait_for_timeout(300)  # let the dialog's opening animation finish
        page.screenshot(path=str(path))
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


if __name__ == "__main__":
    sys.exit(main())
