"""Driving UCC 6.6's Configuration and Inputs pages the way an admin does (by label/role)."""

from __future__ import annotations

from typing import Optional, Sequence

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REST = "/splunkd/__raw/servicesNS/nobody/TA-socdefenders/"


def dialog(page: Page) -> Locator:
    return page.get_by_role("dialog")


def field(page: Page, name: str) -> Locator:
    """The control group of field ``name`` in the open dialog or tab form."""
    return page.locator(f'[data-test="control-group"][data-name="{name}"]')


def fill(page: Page, name: str, value: str) -> None:
    box = field(page, name).locator("input, textarea").first
    box.fill(value)


def choose(page: Page, name: str, label: str) -> None:
    field(page, name).locator('[data-test="select"], [data-test="combo-box"] input').first.click()
    page.get_by_role("option", name=label, exact=True).click()


def choose_many(page: Page, name: str, labels: Sequence[str]) -> None:
    """Add ``labels`` to multiple select ``name``, in this order, then close its list."""
    if not labels:
        return
    box = field(page, name).locator('[data-test="multiselect"] input')
    for label in labels:
        box.click()
        page.get_by_role("option", name=label, exact=True).click()
    box.press("Escape")  # closes the list, not the dialog
    expect(page.locator('[data-test="option"]')).to_have_count(0)


def unchoose(page: Page, name: str, label: str) -> None:
    """Remove ``label`` from multiple select ``name`` (click its chip)."""
    field(page, name).get_by_role("option", name=f"Remove {label}").click()


def chosen(page: Page, name: str) -> Locator:
    """The chips of multiple select ``name``, in their order."""
    return field(page, name).locator('[data-test="selected-option"] [data-test="label"]')


def set_checkbox(page: Page, name: str, on: bool) -> None:
    box = field(page, name).get_by_role("checkbox")
    if box.is_checked() != on:
        box.click()
    expect(box).to_be_checked(checked=on)


def save(
    page: Page, endpoint: str, *, status: Optional[int] = None, form: Optional[Locator] = None
) -> None:
    """Click the save button of ``form`` (the open dialog by default); wait for its POST."""
    if form is None:
        form = dialog(page)
        button = form.locator(".saveBtn")
    else:
        button = form.get_by_role("button", name="Save")
    try:
        with page.expect_response(
            lambda r: REST + endpoint in r.url and r.request.method == "POST", timeout=15000
        ) as answer:
            button.click()
    except PlaywrightTimeoutError:
        raise AssertionError(f"nothing was sent; the form says: {form.inner_text()!r}") from None
    if status is not None:
        # not the answer's body: it may carry what was saved; the form shows its message
        got = answer.value.status
        assert got == status, (
            f"POST {endpoint} answered {got}; the form says: {form.inner_text()!r}"
        )


def open_tab(page: Page, title: str) -> None:
    page.get_by_role("tab", name=title).click()


def create_new_input(page: Page, title: str) -> None:
    """Open the dialog of input type ``title`` from the Inputs page's Create New Input menu."""
    page.get_by_role("button", name="Create New Input").click()
    page.get_by_role("menuitem", name=title, exact=True).click()
    expect(dialog(page)).to_be_visible()


def show_only(page: Page, title: str) -> None:
    """Filter the Inputs table to input type ``title`` (the menu that shows "All")."""
    page.locator('[data-test="select"][data-test-value="all"]').click()
    page.get_by_role("option", name=title, exact=True).click()
    expect(page.locator('[data-test="select"][data-test-value="all"]')).to_have_count(0)


def row(page: Page, name: str) -> Locator:
    return page.locator("tbody tr").filter(has_text=name).first


def row_action(page: Page, name: str, action: str) -> None:
    row(page, name).get_by_role("button", name=action).click()
