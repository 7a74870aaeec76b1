"""The API key's generated server-side validator agrees with the form's (globalConfig.json).

UCC keeps the ``******`` placeholder in the edit dialog and runs the field's validators
on it before leaving it out of the request (the browser suite shows the form side). The
same validators, generated into ``bin/ta_socdefenders_rh_account.py``, must let the
placeholder through too, and still refuse a real key of the wrong length or with spaces.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.package.conftest import run_handler_driver

DRIVER = """
import __main__, json, os, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
__main__.__file__ = os.path.join(sys.argv[1], "ta_socdefenders_rh_account.py")
import import_declare_test
from splunktaucclib.rest_handler.error import RestError
from ta_socdefenders_rh_account import endpoint

verdicts = {}
for label, key in json.loads(sys.stdin.read()).items():
    fields = {"api_key": key, "base_url": "https://socdefenders.ai", "auth_header": "bearer",
              "timeout": "30"}
    try:
        endpoint.validate("prod", fields, {"name": "prod"})
        verdicts[label] = "accepted"
    except RestError as error:
        verdicts[label] = error.status
print(json.dumps(verdicts))
"""

KEYS = {
    "placeholder": "******",
    "shortest": "sk_live_",
    "longest": "k" * 512,
    "too_short": "sk_live",
    "too_long": "k" * 513,
    "space": "sk_live_FAKE KEY",
    "tab": "sk_live_FAKE\tKEY",
}


_VERDICTS: dict = {}  # one driver run per Splunk Python


@pytest.fixture
def verdicts(splunk_python: str, installed_app: Path) -> dict:
    if splunk_python in _VERDICTS:
        return _VERDICTS[splunk_python]
    output = run_handler_driver(
        splunk_python, installed_app / "bin", DRIVER, stdin=json.dumps(KEYS),
        env={"PATH": "/usr/bin:/bin", "SPLUNK_HOME": str(installed_app.parent.parent.parent)},
    )  # fmt: skip
    _VERDICTS[splunk_python] = json.loads(output)
    return _VERDICTS[splunk_python]


@pytest.mark.parametrize("label", ["placeholder", "shortest", "longest"])
def test_accepted(verdicts: dict, label: str) -> None:
    assert verdicts[label] == "accepted"


@pytest.mark.parametrize("label", ["too_short", "too_long", "space", "tab"])
def test_refused(verdicts: dict, label: str) -> None:
    assert verdicts[label] == 400
