"""Saving an account through the built REST handler: UCC's validators, then ours.

Runs inside each Splunk Python with only the add-on's lib/ and the stand-in ``splunk``
package importable, and calls what splunktaucclib's ``handleCreate`` / ``handleEdit`` call,
in their order: the handler's create or edit hook (our checks), then the endpoint
model's field validation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.package.conftest import run_handler_driver

FAKE_KEY = "sk_live_FAKE_TEST_KEY_0000"

# splunkd runs bin/ta_socdefenders_rh_account.py as __main__ and splunktaucclib reads the
# app name from that path (.../etc/apps/<app>/bin/...); the driver stands in for it.
DRIVER = """
import __main__, json, os, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
__main__.__file__ = os.path.join(sys.argv[1], "ta_socdefenders_rh_account.py")
import import_declare_test
from splunktaucclib.rest_handler.error import RestError
from ta_socdefenders_rh_account import endpoint
from ta_socdefenders_account_validation import AccountValidationHandler

handler = object.__new__(AccountValidationHandler)
action = sys.argv[3]
hook = getattr(handler, action + "_hook")
existing = {"name": "prod"} if action == "edit" else None
verdicts = {}
for label, payload in json.loads(sys.stdin.read()).items():
    try:
        hook("FAKE_SESSION_KEY", "account", "prod", payload)
        endpoint.validate("prod", payload, existing)
        verdicts[label] = "saved"
    except RestError as error:
        verdicts[label] = [error.status, error.message]
print(json.dumps(verdicts))
"""

GOOD = {
    "api_key": FAKE_KEY,
    "base_url": "https://socdefenders.ai",
    "auth_header": "bearer",
    "verify_tls": "1",
    "timeout": "30",
}
CASES = {
    "good": GOOD,
    "x_api_key": {**GOOD, "auth_header": "x_api_key"},
    "loopback_http": {**GOOD, "base_url": "http://127.0.0.1:8443"},
    "http": {**GOOD, "base_url": "http://socdefenders.ai"},
    "key_with_space": {**GOOD, "api_key": "sk_live_FAKE KEY_0000"},
    "bad_header": {**GOOD, "auth_header": "basic"},
    "timeout_zero": {**GOOD, "timeout": "0"},
    "missing_ca": {**GOOD, "ca_bundle": "/nonexistent/ca.pem"},
    "no_key": {**GOOD, "api_key": ""},
}


@pytest.fixture(params=["create", "edit"])
def verdicts(request: pytest.FixtureRequest, splunk_python: str, installed_app: Path) -> dict:
    output = run_handler_driver(
        splunk_python, installed_app / "bin", DRIVER, request.param, stdin=json.dumps(CASES)
    )
    return json.loads(output)


def test_valid_accounts_are_saved(verdicts: dict) -> None:
    assert verdicts["good"] == "saved"
    assert verdicts["x_api_key"] == "saved"
    assert verdicts["loopback_http"] == "saved"


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("http", "must use https://"),
        ("key_with_space", "must not contain spaces"),
        ("bad_header", "must be one of: bearer, x_api_key"),
        ("timeout_zero", "1 to 300"),
        ("missing_ca", "does not exist"),
        ("no_key", "The API key is empty"),
    ],
)
def test_invalid_accounts_are_refused_with_400(verdicts: dict, case: str, words: str) -> None:
    status, message = verdicts[case]
    assert status == 400
    assert words in message


def test_refusals_never_echo_the_key(verdicts: dict) -> None:
    assert "FAKE KEY" not in json.dumps(verdicts)
