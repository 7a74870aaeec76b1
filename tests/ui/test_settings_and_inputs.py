"""Configuration > Proxy and Logging, the Inputs page and the monitoring dashboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from socdefenders.names import CHECKPOINT_COLLECTION
from tests.support.clients import FAKE_PROXY_PASSWORD
from tests.support.splunkd import ENCRYPTED, SETTINGS_CONF, SETTINGS_REALM
from tests.ui import ucc
from tests.ui.conftest import Ui, splunkd_post, with_account

SETTINGS = "ta_socdefenders_settings"
INPUTS = "ta_socdefenders_socdefenders_ioc_stats"
INPUTS_CONF = "inputs"


def save_tab(page, stanza: str, *, status: int) -> None:
    ucc.save(page, f"{SETTINGS}/{stanza}", status=status, form=page.locator("body"))


def test_proxy_with_credentials_is_saved_and_its_password_encrypted(ui: Ui) -> None:
    page = ui.open("configuration")
    ucc.open_tab(page, "Proxy")
    ucc.set_checkbox(page, "proxy_enabled", True)
    ucc.fill(page, "proxy_url", "proxy.example.internal")
    ucc.fill(page, "proxy_port", "3128")
    ucc.fill(page, "proxy_username", "svc_splunk")
    ucc.fill(page, "proxy_password", FAKE_PROXY_PASSWORD)
    save_tab(page, "proxy", status=200)
    proxy = ui.stack.splunkd.confs[SETTINGS_CONF]["proxy"]
    assert proxy["proxy_enabled"] in ("1", "true")
    assert (proxy["proxy_url"], proxy["proxy_port"]) == ("proxy.example.internal", "3128")
    assert proxy["proxy_username"] == "svc_splunk"
    assert proxy["proxy_password"] == ENCRYPTED
    secrets = [v for (realm, _), v in ui.stack.splunkd.passwords.items() if realm == SETTINGS_REALM]
    stored = any(FAKE_PROXY_PASSWORD in value for value in secrets)  # never printed
    assert stored, "the proxy password is not in storage/passwords"


def test_a_proxy_enabled_without_a_port_is_stopped_by_the_tab(ui: Ui) -> None:
    page = ui.open("configuration")
    ucc.open_tab(page, "Proxy")
    ucc.set_checkbox(page, "proxy_enabled", True)
    ucc.fill(page, "proxy_url", "proxy.example.internal")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Field Port is required")).to_be_visible()
    assert ui.stack.splunkd.confs[SETTINGS_CONF]["proxy"]["proxy_enabled"] == ""


NO_HOST_OR_PORT = "The proxy is enabled but has no host or port"
PORT_RANGE = "The proxy port is not from 1 to 65535"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        pytest.param({}, NO_HOST_OR_PORT, id="no-host-no-port"),
        pytest.param({"proxy_port": "3128"}, NO_HOST_OR_PORT, id="no-host"),
        pytest.param({"proxy_url": "proxy.example.internal"}, NO_HOST_OR_PORT, id="no-port"),
        pytest.param({"proxy_url": "proxy.example.internal", "proxy_port": "0"}, PORT_RANGE,
                     id="port-0"),
        pytest.param({"proxy_url": "proxy.example.internal", "proxy_port": "65536"}, PORT_RANGE,
                     id="port-65536"),
    ],
)  # fmt: skip
def test_the_handler_refuses_an_enabled_proxy_it_could_not_use(
    ui: Ui, form: dict, message: str
) -> None:
    """What a REST client may send past the tab: the handler's own hook refuses it."""
    status, text = splunkd_post(ui, f"{SETTINGS}/proxy", {"proxy_enabled": "1", **form})
    assert status == 500
    assert f"The proxy settings were not saved: {message}" in text
    assert "Configuration > Proxy" in text
    assert ui.stack.splunkd.confs[SETTINGS_CONF]["proxy"]["proxy_enabled"] == ""


def test_logging_level_is_saved(ui: Ui) -> None:
    page = ui.open("configuration")
    ucc.open_tab(page, "Logging")
    ucc.choose(page, "loglevel", "DEBUG")
    save_tab(page, "logging", status=200)
    assert ui.stack.splunkd.confs[SETTINGS_CONF]["logging"]["loglevel"] == "DEBUG"


def open_create_dialog(ui: Ui):
    page = ui.open("inputs")
    ucc.create_new_input(page, "SOC Defenders IOC stats")
    return page


def create_input(ui: Ui, name: str = "prod_stats", interval: str = "900"):
    page = open_create_dialog(ui)
    ucc.fill(page, "name", name)
    ucc.choose(page, "account", "prod")
    ucc.fill(page, "interval", interval)
    return page


def test_inputs_page_renders(ui: Ui) -> None:
    page = ui.open("inputs")
    expect(page.get_by_role("button", name="Create New Input")).to_be_visible()
    expect(page.get_by_text("Poll SOC Defenders IOC feed statistics")).to_be_visible()


def test_an_input_is_created_with_the_account_picked_from_the_list(ui: Ui) -> None:
    with_account(ui)
    page = create_input(ui)
    ucc.save(page, INPUTS, status=201)
    expect(ucc.row(page, "prod_stats")).to_contain_text("prod")
    stanza = ui.stack.splunkd.confs[INPUTS_CONF]["socdefenders_ioc_stats://prod_stats"]
    assert (stanza["account"], stanza["interval"]) == ("prod", "900")


def test_an_interval_below_60_is_refused(ui: Ui) -> None:
    with_account(ui)
    page = create_input(ui, interval="30")
    ucc.dialog(page).locator(".saveBtn").click()
    expect(ucc.dialog(page)).to_contain_text("Interval must be between 60 and 86400")
    expect(ucc.dialog(page)).to_be_visible()
    assert not ui.stack.splunkd.confs.get(INPUTS_CONF)
    sent = [r for r in ui.stack.splunkd.requests if r.method == "POST" and INPUTS in r.path]
    assert not sent, "the refused input still reached splunkd"


def test_an_input_is_edited_disabled_enabled_and_deleted_with_its_checkpoint(ui: Ui) -> None:
    with_account(ui)
    page = create_input(ui)
    ucc.save(page, INPUTS, status=201)
    key = "socdefenders_ioc_stats://prod_stats"
    ucc.row_action(page, "prod_stats", "Edit")
    ucc.fill(page, "interval", "1800")
    ucc.save(page, f"{INPUTS}/prod_stats", status=200)
    assert ui.stack.splunkd.confs[INPUTS_CONF][key]["interval"] == "1800"

    switch = ucc.row(page, "prod_stats").get_by_role("switch")
    for disabled in ("1", "0"):
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            switch.click()
        assert answer.value.status == 200
        assert ui.stack.splunkd.confs[INPUTS_CONF][key]["disabled"] == disabled

    collection = CHECKPOINT_COLLECTION
    ui.stack.splunkd.collections.add(collection)
    ui.stack.splunkd.kvstore[collection] = {"prod_stats": {"_key": "prod_stats", "state": "{}"}}
    ucc.row_action(page, "prod_stats", "Delete")
    with page.expect_response(lambda r: r.request.method == "DELETE") as answer:
        ucc.dialog(page).get_by_role("button", name="Delete").click()
    assert answer.value.status == 200
    assert key not in ui.stack.splunkd.confs[INPUTS_CONF]
    assert "prod_stats" not in ui.stack.splunkd.kvstore[collection]


def test_the_monitoring_dashboard_page_loads(ui: Ui) -> None:
    with ui.page.expect_response(lambda r: "/results" in r.url and r.status == 200):
        page = ui.open("dashboard")
    for tab in ("Data ingestion", "Errors", "Resource consumption"):
        expect(page.get_by_role("tab", name=tab)).to_be_visible()
    # its panels' searches ran and were answered (with no rows: the stand-in has no data)
    assert any(
        r.kind == "search" and r.path.endswith("/results") for r in ui.stack.splunkd.requests
    )
