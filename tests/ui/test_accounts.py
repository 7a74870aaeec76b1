"""Configuration > Accounts in a real browser: add, refuse, edit, clone, delete."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.support.splunkd import ACCOUNT_CONF, ACCOUNT_REALM, ENCRYPTED
from tests.support.ui_stack import REFUSED_KEY, ROTATED_KEY, Stack
from tests.support.vendor_api import EXPIRED_KEY, PRO_KEY, VendorApi
from tests.ui import ucc
from tests.ui.conftest import Ui

ACCOUNTS = "ta_socdefenders_account"


def stored_key(stack: Stack, name: str) -> dict:
    """The decrypted fields of ``name`` in storage/passwords (the UCC chunks joined)."""
    chunks = sorted(
        (user, clear) for (realm, user), clear in stack.splunkd.passwords.items()
        if realm == ACCOUNT_REALM and user.startswith(name + "``splunk_cred_sep``")
    )  # fmt: skip
    return json.loads("".join(clear for _, clear in chunks[:-1])) if chunks else {}


# The helpers below compare into a boolean first: a failed ``assert a == b`` on the key
# itself would print it in the test output.
def assert_stored_key(stack: Stack, name: str, key: str) -> None:
    """storage/passwords holds exactly ``{"api_key": key}`` for account ``name``."""
    holds_it = stored_key(stack, name) == {"api_key": key}
    assert holds_it, f"storage/passwords does not hold the expected key (alone) for {name}"


def assert_last_call_used(api: VendorApi, key: str) -> None:
    """The vendor API's last request carried ``Authorization: Bearer <key>``."""
    used_it = bool(api.requests) and api.requests[-1].header("Authorization") == f"Bearer {key}"
    assert used_it, "the last API request did not carry the expected key"


def open_add_dialog(ui: Ui):
    page = ui.open("configuration")
    page.get_by_role("button", name="Add").click()
    expect(ucc.dialog(page)).to_be_visible()
    return page


def fill_account(ui: Ui, page, name: str, key: str, **fields: str) -> None:
    ucc.fill(page, "name", name)
    ucc.fill(page, "api_key", key)
    ucc.fill(page, "base_url", fields.get("base_url", ui.stack.api.base_url))
    ucc.fill(page, "timeout", fields.get("timeout", "10"))


def test_configuration_renders_its_three_tabs(ui: Ui) -> None:
    page = ui.open("configuration")
    for title in ("Accounts", "Proxy", "Logging"):
        expect(page.get_by_role("tab", name=title)).to_be_visible()
    expect(page.get_by_role("button", name="Add")).to_be_visible()


def test_a_malformed_key_is_refused_in_the_dialog(ui: Ui) -> None:
    page = open_add_dialog(ui)
    fill_account(ui, page, "prod", "short")
    ucc.dialog(page).locator(".saveBtn").click()
    expect(ucc.dialog(page)).to_contain_text("API key must be 8 to 512 characters long.")
    ucc.fill(page, "api_key", "sk_live_FAKE KEY_0000")
    ucc.dialog(page).locator(".saveBtn").click()
    expect(ucc.dialog(page)).to_contain_text("must not contain spaces or line breaks")
    assert ACCOUNT_CONF not in ui.stack.splunkd.confs or not ui.stack.splunkd.confs[ACCOUNT_CONF]


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (REFUSED_KEY, ["HTTP 401 invalid_api_key", "check the key in Configuration > Accounts"]),
        (EXPIRED_KEY, ["HTTP 401 expired_api_key", "create a new key"]),
    ],
    ids=["invalid", "expired"],
)
def test_a_key_the_api_refuses_shows_the_account_checks_message(ui: Ui, key, words) -> None:
    page = open_add_dialog(ui)
    fill_account(ui, page, "prod", key)
    ui.expect_failure(500, ucc.REST + ACCOUNTS)
    ucc.save(page, ACCOUNTS, status=500)
    for word in words:
        expect(ucc.dialog(page)).to_contain_text(word)
    expect(ucc.dialog(page)).not_to_contain_text("REST Error")
    assert not ui.stack.splunkd.confs.get(ACCOUNT_CONF)
    assert not ui.stack.splunkd.passwords
    assert len(ui.stack.api.requests) == 1


def add_good_account(ui: Ui, name: str = "prod"):
    page = open_add_dialog(ui)
    fill_account(ui, page, name, PRO_KEY)
    ucc.save(page, ACCOUNTS, status=201)
    expect(ucc.dialog(page)).to_be_hidden()
    expect(ucc.row(page, name)).to_contain_text(ui.stack.api.base_url)
    return page


def test_a_good_key_is_saved_and_kept_only_in_storage_passwords(ui: Ui) -> None:
    add_good_account(ui)
    stanza = ui.stack.splunkd.confs[ACCOUNT_CONF]["prod"]
    assert stanza["api_key"] == ENCRYPTED
    assert stanza["base_url"] == ui.stack.api.base_url
    assert_stored_key(ui.stack, "prod", PRO_KEY)
    assert_last_call_used(ui.stack.api, PRO_KEY)


def edit_good_account(ui: Ui, **changes: str) -> None:
    """Add account prod, then edit ``changes`` in its dialog (which shows ``******``)."""
    page = add_good_account(ui)
    ui.stack.api.reset()
    ucc.row_action(page, "prod", "Edit")
    expect(ucc.field(page, "api_key").locator("input")).to_have_value(ENCRYPTED)
    for name, value in changes.items():
        ucc.fill(page, name, value)
    ucc.save(page, f"{ACCOUNTS}/prod", status=200)
    expect(ucc.dialog(page)).to_be_hidden()


def test_edit_without_retyping_the_key_saves_the_other_field(ui: Ui) -> None:
    edit_good_account(ui, timeout="45")
    assert ui.stack.splunkd.confs[ACCOUNT_CONF]["prod"]["timeout"] == "45"
    assert_stored_key(ui.stack, "prod", PRO_KEY)
    # the edit is checked as the account it leaves behind: with the stored key
    assert_last_call_used(ui.stack.api, PRO_KEY)


def test_edit_with_a_new_key_checks_and_stores_it(ui: Ui) -> None:
    edit_good_account(ui, api_key=ROTATED_KEY)
    assert_last_call_used(ui.stack.api, ROTATED_KEY)
    assert_stored_key(ui.stack, "prod", ROTATED_KEY)
    assert ui.stack.splunkd.confs[ACCOUNT_CONF]["prod"]["api_key"] == ENCRYPTED


def test_verify_tls_and_ca_bundle_are_shown_on_enterprise(ui: Ui) -> None:
    page = open_add_dialog(ui)
    expect(ucc.field(page, "verify_tls")).to_be_visible()
    expect(ucc.field(page, "ca_bundle")).to_be_visible()


def test_an_https_api_is_trusted_through_the_ca_bundle_field(ui: Ui) -> None:
    tls_api = ui.stack.tls_api
    page = open_add_dialog(ui)
    fill_account(ui, page, "prod", PRO_KEY, base_url=tls_api.base_url)
    ucc.fill(page, "ca_bundle", str(tls_api.ca_file))
    ucc.save(page, ACCOUNTS, status=201)
    expect(ucc.dialog(page)).to_be_hidden()
    assert ui.stack.splunkd.confs[ACCOUNT_CONF]["prod"]["ca_bundle"] == str(tls_api.ca_file)
    assert len(tls_api.requests) == 1


def test_a_ca_bundle_that_does_not_exist_is_refused(ui: Ui) -> None:
    page = open_add_dialog(ui)
    fill_account(ui, page, "prod", PRO_KEY, base_url=ui.stack.tls_api.base_url)
    ucc.fill(page, "ca_bundle", "/nonexistent/proxy-ca.pem")
    ui.expect_failure(500, ucc.REST + ACCOUNTS)
    ucc.save(page, ACCOUNTS, status=500)
    expect(ucc.dialog(page)).to_contain_text("CA bundle path does not exist")
    assert not ui.stack.splunkd.confs.get(ACCOUNT_CONF)


def test_on_splunk_cloud_tls_verification_cannot_be_turned_off(ui: Ui) -> None:
    ui.stack.writes.instance_type = "cloud"  # server/info and the platform search say cloud
    page = open_add_dialog(ui)
    fill_account(ui, page, "prod", PRO_KEY)
    ucc.set_checkbox(page, "verify_tls", False)
    ui.expect_failure(500, ucc.REST + ACCOUNTS)
    ucc.save(page, ACCOUNTS, status=500)
    expect(ucc.dialog(page)).to_contain_text("Splunk Cloud requires TLS verification")
    assert not ui.stack.splunkd.confs.get(ACCOUNT_CONF)
    assert not ui.stack.api.requests
    ucc.set_checkbox(page, "verify_tls", True)
    ucc.save(page, ACCOUNTS, status=201)
    expect(ucc.dialog(page)).to_be_hidden()


def test_on_enterprise_tls_verification_can_be_turned_off(ui: Ui) -> None:
    page = open_add_dialog(ui)
    fill_account(ui, page, "prod", PRO_KEY)
    ucc.set_checkbox(page, "verify_tls", False)
    ucc.save(page, ACCOUNTS, status=201)
    expect(ucc.dialog(page)).to_be_hidden()
    assert ui.stack.splunkd.confs[ACCOUNT_CONF]["prod"]["verify_tls"] in ("0", "false")


def test_clone_makes_a_second_account_with_its_own_key(ui: Ui) -> None:
    page = add_good_account(ui)
    ucc.row_action(page, "prod", "Clone")
    expect(ucc.field(page, "name").locator("input")).to_have_value("")
    ucc.fill(page, "name", "prod_copy")
    ucc.fill(page, "api_key", PRO_KEY)
    ucc.save(page, ACCOUNTS, status=201)
    expect(ucc.row(page, "prod_copy")).to_be_visible()
    assert set(ui.stack.splunkd.confs[ACCOUNT_CONF]) == {"prod", "prod_copy"}
    assert_stored_key(ui.stack, "prod_copy", PRO_KEY)


def test_delete_removes_the_account_and_its_key(ui: Ui) -> None:
    page = add_good_account(ui)
    ucc.row_action(page, "prod", "Delete")
    with page.expect_response(lambda r: r.request.method == "DELETE") as answer:
        ucc.dialog(page).get_by_role("button", name="Delete").click()
    assert answer.value.status == 200
    expect(page.get_by_text("No records found")).to_be_visible()
    assert not ui.stack.splunkd.confs[ACCOUNT_CONF]
    assert not ui.stack.splunkd.passwords
