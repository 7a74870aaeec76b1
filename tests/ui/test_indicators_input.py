"""The indicators input (``socdefenders_iocs``) and Configuration > Indicators in a real browser.

The dialog's refusals come from two places: UCC's own validators (from globalConfig.json,
before anything is sent) and the input's REST handler (``IndicatorsInputHandler``, which
checks every field with ``socdefenders.indicators.settings`` and that the account
exists). Each refusal is checked where an admin meets it, and the handler's answer to a
REST client that sends the same value past the dialog.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qsl, urlencode

import pytest
from playwright.sync_api import Page, Route, expect

from socdefenders.names import (
    ACCOUNT_CONF,
    CHECKPOINT_COLLECTION,
    INDICATOR_COLLECTION,
    INDICATORS_SETTINGS_STANZA,
    SETTINGS_CONF,
)
from tests.ui import ucc
from tests.ui.conftest import Ui, splunkd_post, with_account

IOCS = "ta_socdefenders_socdefenders_iocs"
SETTINGS = "ta_socdefenders_settings"
TITLE = "SOC Defenders indicators"
STANZA = "socdefenders_iocs://prod_iocs"
STATS_STANZA = "socdefenders_ioc_stats://prod_iocs"  # a stats input of the same name
SAVED_FIELDS = ("account", "interval", "index", "ioc_types", "min_confidence", "lookback_days")

LOOKBACK = "Lookback must be a whole number of days from 1 to 365."
NO_ACCOUNT = (
    "does not exist: create it in Configuration > Accounts first, or choose an existing one."
)
MAX_AGE = "Maximum indicator age must be a whole number of days from 1 to 3650."


def stanzas(ui: Ui) -> Dict[str, Dict[str, str]]:
    return ui.stack.splunkd.confs.get("inputs") or {}


def open_dialog(ui: Ui) -> Page:
    page = ui.open("inputs")
    ucc.create_new_input(page, TITLE)
    return page


def fill_input(page: Page, types: List[str], confidence: Optional[str], **texts: str) -> None:
    """Name ``prod_iocs``, account ``prod``; the other fields only where given."""
    ucc.fill(page, "name", "prod_iocs")
    ucc.choose(page, "account", "prod")
    for name, value in texts.items():
        ucc.fill(page, name, value)
    ucc.choose_many(page, "ioc_types", types)
    if confidence is not None:
        ucc.choose(page, "min_confidence", confidence)


def sent_to_splunkd(ui: Ui, method: str = "POST", endpoint: str = IOCS) -> list:
    return [r for r in ui.stack.splunkd.requests if r.method == method and endpoint in r.path]


@pytest.mark.parametrize(
    ("types", "confidence", "texts", "stored"),
    [
        pytest.param(
            ["IPv4 address", "Domain", "MITRE ATT&CK technique"], "High",
            {"interval": "7200", "lookback_days": "90"},
            {"interval": "7200", "ioc_types": "ipv4|domain|mitre-attack",
             "min_confidence": "high", "lookback_days": "90"},
            id="chosen-types",
        ),
        pytest.param(
            [], None, {},
            {"interval": "3600", "ioc_types": "", "min_confidence": "low", "lookback_days": "30"},
            id="defaults",
        ),
    ],
)  # fmt: skip
def test_an_indicators_input_is_saved_with_its_types_and_minimum_confidence(
    ui: Ui, types: List[str], confidence: Optional[str], texts: Dict[str, str], stored: dict
) -> None:
    """The multiple select is stored joined by ``|`` in the order chosen; no type chosen
    stores none (every type), with the dialog's defaults."""
    with_account(ui)
    page = open_dialog(ui)
    fill_input(page, types, confidence, **texts)
    ucc.save(page, IOCS, status=201)
    expect(ucc.dialog(page)).to_be_hidden()
    expect(ucc.row(page, "prod_iocs")).to_contain_text(stored["interval"])
    stanza = stanzas(ui)[STANZA]
    saved = {name: stanza.get(name, "") for name in SAVED_FIELDS}
    assert saved == {"account": "prod", "index": "default", **stored}


def account_deleted_meanwhile(ui: Ui, page: Page) -> None:
    """Another admin deletes the chosen account while the dialog is open."""
    del ui.stack.splunkd.confs[ACCOUNT_CONF]["prod"]


def send_past_the_dialog(field: str, value: str) -> Callable[[Ui, Page], None]:
    """The dialog's POST carries ``field=value``, as a REST client past the dialog sends."""

    def arrange(ui: Ui, page: Page) -> None:
        def rewrite(route: Route) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            form = dict(parse_qsl(route.request.post_data or "", keep_blank_values=True))
            route.continue_(post_data=urlencode({**form, field: value}))

        page.route(f"**/{IOCS}?*", rewrite)

    return arrange


@pytest.mark.parametrize(
    ("field", "values", "past_the_dialog", "message", "from_handler"),
    [
        # UCC's validators stop these in the dialog (nothing is sent); the handler agrees
        pytest.param("interval", ["299"], None, "Interval must be between 300 and 86400",
                     "Interval must be a whole number of seconds from 300 to 86400.",
                     id="interval-299"),
        pytest.param("lookback_days", ["0", "366"], None, LOOKBACK, LOOKBACK,
                     id="lookback-0-and-366"),
        # the dialog cannot stop these: it shows the handler's message
        pytest.param("account", ["ghost"], account_deleted_meanwhile,
                     f"The account 'prod' {NO_ACCOUNT}", f"The account 'ghost' {NO_ACCOUNT}",
                     id="account-that-does-not-exist"),
        pytest.param("min_confidence", ["critical"],
                     send_past_the_dialog("min_confidence", "critical"),
                     "Minimum confidence must be one of low, medium or high.",
                     "Minimum confidence must be one of low, medium or high.",
                     id="min-confidence-critical"),
    ],
)  # fmt: skip
def test_each_field_is_refused_with_its_message(
    ui: Ui,
    field: str,
    values: List[str],
    past_the_dialog: Optional[Callable[[Ui, Page], None]],
    message: str,
    from_handler: str,
) -> None:
    """Typed into the dialog, or (``past_the_dialog``) a value the dialog cannot refuse."""
    with_account(ui)
    page = open_dialog(ui)
    fill_input(page, ["Domain"], "Medium")
    if past_the_dialog is None:
        for value in values:
            ucc.fill(page, field, value)
            expect(ucc.dialog(page)).not_to_contain_text(message)  # UCC clears it on a change
            ucc.dialog(page).locator(".saveBtn").click()
            expect(ucc.dialog(page)).to_contain_text(message)
        assert not sent_to_splunkd(ui), "the refused input still reached splunkd"
    else:
        past_the_dialog(ui, page)
        ui.expect_failure(500, ucc.REST + IOCS)
        ucc.save(page, IOCS, status=500)
        expect(ucc.dialog(page)).to_contain_text(message)
        expect(ucc.dialog(page)).not_to_contain_text("REST Error")
    expect(ucc.dialog(page)).to_be_visible()
    assert not stanzas(ui)

    # a REST client sending the same value gets the handler's own message
    form = {"name": "rest_iocs", "account": "prod", "interval": "3600", "index": "default",
            "min_confidence": "low", "lookback_days": "30"}  # fmt: skip
    for value in values:
        status, text = splunkd_post(ui, IOCS, {**form, field: value})
        assert status == 500
        assert f"Bad Request -- {from_handler}" in text
    assert not stanzas(ui)


def indicator(kind: str, value: str) -> Dict[str, Any]:
    key = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()
    return {"_key": key, "type": kind, "value": value, "confidence": "high"}


def test_an_indicators_input_is_edited_disabled_enabled_and_deleted_with_only_its_checkpoint(
    ui: Ui,
) -> None:
    """Beside it: a stats input of the same name with its checkpoint, and the indicators
    every input shares. Deleting the indicators input leaves all of them."""
    with_account(ui)
    splunkd = ui.stack.splunkd
    splunkd.confs["inputs"] = {
        STATS_STANZA: {"account": "prod", "interval": "900", "index": "main", "disabled": "0"},
        STANZA: {"account": "prod", "interval": "3600", "index": "main", "disabled": "0",
                 "ioc_types": "ipv4|domain", "min_confidence": "medium", "lookback_days": "30"},
    }  # fmt: skip
    checkpoints = {
        STANZA: {"_key": STANZA, "state": '{"since": "2026-01-01T00:00:00Z"}'},
        "prod_iocs": {"_key": "prod_iocs", "state": '{"counts": {}}'},  # the stats input's
    }
    indicators = [indicator("ipv4", "198.51.100.7"), indicator("domain", "example.net")]
    splunkd.collections.update({CHECKPOINT_COLLECTION, INDICATOR_COLLECTION})
    splunkd.kvstore[CHECKPOINT_COLLECTION] = {k: dict(v) for k, v in checkpoints.items()}
    splunkd.kvstore[INDICATOR_COLLECTION] = {d["_key"]: dict(d) for d in indicators}

    page = ui.open("inputs")
    expect(page.locator("tbody tr").filter(has_text="prod_iocs")).to_have_count(2)
    ucc.show_only(page, TITLE)  # the table does not say which row is which type
    ucc.row_action(page, "prod_iocs", "Edit")
    expect(ucc.chosen(page, "ioc_types")).to_have_text(["IPv4 address", "Domain"])
    ucc.unchoose(page, "ioc_types", "Domain")
    ucc.choose_many(page, "ioc_types", ["SHA-256 hash", "CVE"])
    ucc.save(page, f"{IOCS}/prod_iocs", status=200)
    expect(ucc.dialog(page)).to_be_hidden()
    assert stanzas(ui)[STANZA]["ioc_types"] == "ipv4|sha256|cve"
    assert stanzas(ui)[STANZA]["min_confidence"] == "medium"

    switch = ucc.row(page, "prod_iocs").get_by_role("switch")
    for disabled in ("1", "0"):
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            switch.click()
        assert answer.value.status == 200
        assert stanzas(ui)[STANZA]["disabled"] == disabled
    assert stanzas(ui)[STATS_STANZA]["disabled"] == "0"

    ucc.row_action(page, "prod_iocs", "Delete")
    with page.expect_response(lambda r: r.request.method == "DELETE") as answer:
        ucc.dialog(page).get_by_role("button", name="Delete").click()
    assert answer.value.status == 200
    assert set(stanzas(ui)) == {STATS_STANZA}
    assert dict(splunkd.kvstore[CHECKPOINT_COLLECTION]) == {"prod_iocs": checkpoints["prod_iocs"]}
    assert dict(splunkd.kvstore[INDICATOR_COLLECTION]) == {d["_key"]: d for d in indicators}


def test_the_indicators_tab_refuses_0_and_saves_the_maximum_age(ui: Ui) -> None:
    page = ui.open("configuration")
    ucc.open_tab(page, "Indicators")
    age = ucc.field(page, "max_age_days")
    expect(age).to_contain_text("Maximum indicator age (days)")
    expect(age.locator("input")).to_have_value("90")  # what default/ ships
    endpoint = f"{SETTINGS}/{INDICATORS_SETTINGS_STANZA}"

    ucc.fill(page, "max_age_days", "0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(MAX_AGE)).to_be_visible()
    assert not sent_to_splunkd(ui, endpoint=endpoint)

    ucc.fill(page, "max_age_days", "180")
    ucc.save(page, endpoint, status=200, form=page.locator("body"))
    expect(page.get_by_text(MAX_AGE)).to_be_hidden()
    assert ui.stack.splunkd.confs[SETTINGS_CONF]["indicators"] == {"max_age_days": "180"}

    status, _ = splunkd_post(ui, endpoint, {"max_age_days": "0"})  # a REST client: refused too
    assert status == 500
    assert ui.stack.splunkd.confs[SETTINGS_CONF]["indicators"] == {"max_age_days": "180"}
