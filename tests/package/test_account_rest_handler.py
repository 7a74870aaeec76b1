"""Saving an account through the built REST handler: field rules, then a real API call.

Runs inside each Splunk Python with only the add-on's lib/ and the stand-in ``splunk``
package importable, and calls what splunktaucclib's ``handleCreate`` / ``handleEdit``
call, in their order: the handler's create or edit hook (field rules, then one request
to the vendor API emulator with the entered key, TLS options and the proxy settings read
from the splunkd emulator), then the endpoint model's field validation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterator

import pytest

from tests.package.conftest import run_handler_driver
from tests.support.clients import FAKE_PROXY_PASSWORD
from tests.support.clients import SECRETS as CLIENT_SECRETS
from tests.support.splunkd import Splunkd
from tests.support.vendor_api import EXPIRED_KEY, FREE_KEY, PRO_KEY, Fault, VendorApi

SECRETS = (*CLIENT_SECRETS, "sk_live_FAKE0notakey")  # and the refused key the cases send

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
action, session_key = sys.argv[3], sys.argv[4]
hook = getattr(handler, action + "_hook")
existing = {"name": "prod"} if action == "edit" else None
verdicts = {}
for label, payload in json.loads(sys.stdin.read()).items():
    try:
        hook(session_key, "account", "prod", payload)
        endpoint.validate("prod", payload, existing)
        verdicts[label] = "saved"
    except RestError as error:
        verdicts[label] = [error.status, error.message]
print(json.dumps(verdicts))
"""


@pytest.fixture(scope="module")
def apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, VendorApi]]:
    """A well-behaved API, and one per kind of misbehaviour (each answers only that way)."""
    directory = tmp_path_factory.mktemp("apis")
    servers = {
        "good": VendorApi(directory),
        "untrusted": VendorApi(directory / "untrusted", tls="untrusted"),
        "rate_limited": VendorApi(directory),
        "failing": VendorApi(directory),
        "html": VendorApi(directory),
        "slow": VendorApi(directory),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


FAULTS = {
    "rate_limited": Fault.rate_limited(reset_in=600),
    "failing": Fault.status(502),
    "html": Fault.raw(b"<html>captive portal</html>", content_type="text/html"),
    "slow": Fault.delay(1.5),
}


def payload(api: VendorApi, **changes: str) -> Dict[str, str]:
    fields = {"api_key": PRO_KEY, "base_url": api.base_url, "auth_header": "bearer",
              "verify_tls": "1", "ca_bundle": str(api.ca_file), "timeout": "5"}  # fmt: skip
    fields.update(changes)
    return fields


def cases(apis: Dict[str, VendorApi]) -> Dict[str, Dict[str, str]]:
    good = apis["good"]
    return {
        "good": payload(good),
        "x_api_key": payload(good, auth_header="x_api_key"),
        "http": payload(good, base_url="http://socdefenders.ai"),
        "key_with_space": payload(good, api_key="sk_live_FAKE KEY_0000"),
        "bad_header": payload(good, auth_header="basic"),
        "timeout_zero": payload(good, timeout="0"),
        "missing_ca": payload(good, ca_bundle="/nonexistent/ca.pem"),
        "no_key": payload(good, api_key=""),
        "short_key": payload(good, api_key="sk_live"),
        "placeholder_key": payload(good, api_key="******"),
        "invalid_key": payload(good, api_key="sk_live_FAKE0notakey0000000000"),
        "expired_key": payload(good, api_key=EXPIRED_KEY),
        "free_key": payload(good, api_key=FREE_KEY),
        "untrusted_tls": payload(apis["untrusted"]),
        "dns": payload(good, base_url="https://api.nonexistent.invalid", ca_bundle=""),
        "rate_limited": payload(apis["rate_limited"]),
        "server_error": payload(apis["failing"]),
        "html": payload(apis["html"]),
        "timeout": payload(apis["slow"], timeout="1"),
    }


def save(python: str, app: Path, splunkd: Splunkd, action: str, payloads: dict) -> dict:
    output = run_handler_driver(
        python, app / "bin", DRIVER, action, splunkd.session_key, stdin=json.dumps(payloads),
        env={"SPLUNKD_URI": splunkd.uri, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    for secret in SECRETS:
        assert secret not in output
    return json.loads(output)


@pytest.fixture(scope="module")
def splunkd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Splunkd]:
    with Splunkd(tmp_path_factory.mktemp("splunkd")) as server:
        yield server


_SAVED: Dict[tuple, dict] = {}  # one driver run per Python and action, shared by the tests


@pytest.fixture(params=["create", "edit"])
def verdicts(request, splunk_python: str, installed_app: Path, splunkd: Splunkd, apis) -> dict:
    key = (splunk_python, request.param)
    if key not in _SAVED:
        for api in apis.values():
            api.reset()  # requests and rate counters
        for name, fault in FAULTS.items():
            apis[name].script(*[fault] * 3)
        _SAVED[key] = save(splunk_python, installed_app, splunkd, request.param, cases(apis))
        _SAVED[key]["_requests"] = {name: len(api.requests) for name, api in apis.items()}
    return _SAVED[key]


def test_working_accounts_are_saved(verdicts: dict) -> None:
    assert verdicts["good"] == "saved"
    assert verdicts["x_api_key"] == "saved"
    assert verdicts["free_key"] == "saved"  # refused the stats, but lists indicators


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("http", ["must use https://"]),
        ("key_with_space", ["must not contain spaces"]),
        ("bad_header", ["must be one of: bearer, x_api_key"]),
        ("timeout_zero", ["1 to 300"]),
        ("missing_ca", ["does not exist"]),
        ("no_key", ["The API key is empty"]),
        ("short_key", ["API key must be 8 to 512 characters long."]),
        (
            "invalid_key",
            ["HTTP 401", "invalid_api_key", "check the key in Configuration > Accounts"],
        ),
        ("expired_key", ["HTTP 401", "expired_api_key", "create a new key"]),
        ("untrusted_tls", ["TLS verification of 127.0.0.1 failed", "CA bundle"]),
        ("dns", ["api.nonexistent.invalid could not be resolved"]),
        ("rate_limited", ["HTTP 429", "rate_limit_exceeded", "the quota resets at"]),
        ("server_error", ["HTTP 502", "SOC Defenders API failed"]),
        ("html", ["Invalid stats document", "not JSON"]),
        ("timeout", ["did not answer within 1 s", "request timeout"]),
    ],
)
def test_each_failure_is_refused_with_its_own_message(verdicts: dict, case: str, words) -> None:
    status, message = verdicts[case]
    assert status == 400
    for word in words:
        assert word in message


def test_the_placeholder_is_a_key_only_on_create(verdicts: dict, request) -> None:
    """On an edit ``******`` means "unchanged" (here no account is stored, so no key is
    left); on a create it is what the admin typed, refused by the length rule."""
    status, message = verdicts["placeholder_key"]
    assert status == 400
    action = request.node.callspec.params["verdicts"]
    expected = {"create": "API key must be 8 to 512 characters long.",
                "edit": "The API key is empty"}[action]  # fmt: skip
    assert expected in message


def test_a_key_is_tested_once_per_save(verdicts: dict) -> None:
    requests = verdicts["_requests"]
    assert requests["rate_limited"] == 1  # no retry while the admin waits
    assert requests["failing"] == 1
    assert requests["untrusted"] == 0  # the TLS handshake failed: no request was sent


def test_the_proxy_settings_are_used(splunk_python, installed_app, splunkd, apis) -> None:
    with Splunkd(installed_app.parent.parent.parent / "proxied") as proxied:  # $SPLUNK_HOME
        proxied.set_proxy(port="9", username="svc", password=FAKE_PROXY_PASSWORD)
        verdict = save(splunk_python, installed_app, proxied, "create",
                       {"via_proxy": payload(apis["good"])})["via_proxy"]  # fmt: skip
    assert verdict[0] == 400
    assert "through the proxy" in verdict[1]
    assert "Configuration > Proxy" in verdict[1]


def test_an_edit_is_checked_with_the_stored_key_and_fields(
    splunk_python: str, installed_app: Path, apis: Dict[str, VendorApi], tmp_path: Path
) -> None:
    """A REST edit may send only the fields it changes: the rest comes from the account."""
    good = apis["good"]
    with Splunkd(tmp_path) as stored:
        fields = payload(good)
        del fields["api_key"]
        stored.add_account("prod", PRO_KEY, **fields)
        good.reset()
        verdicts = save(splunk_python, installed_app, stored, "edit", {
            "only_timeout": {"timeout": "10"},
            "only_header": {"auth_header": "x_api_key"},
        })  # fmt: skip
    assert verdicts == {"only_timeout": "saved", "only_header": "saved"}
    sent = [
        (request.header("Authorization"), request.header("X-API-Key")) for request in good.requests
    ]
    assert sent == [(f"Bearer {PRO_KEY}", None), (None, PRO_KEY)]
