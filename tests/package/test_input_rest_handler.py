"""The built input REST handler: checks on create and edit, checkpoint clean-up on delete.

The handler runs inside each Splunk Python with only the add-on's lib/ and the stand-in
``splunk`` package importable, against the splunkd emulator, and is called the way
splunktaucclib calls it: ``create_hook`` / ``edit_hook`` before the stanza is written,
``delete_hook`` before it is removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from socdefenders.names import CHECKPOINT_COLLECTION as COLLECTION
from tests.package.conftest import run_handler_driver
from tests.support.splunkd import Splunkd

DRIVER = """
import __main__, json, os, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
__main__.__file__ = os.path.join(sys.argv[1], "ta_socdefenders_rh_socdefenders_ioc_stats.py")
import import_declare_test
from splunktaucclib.rest_handler.error import RestError
from ta_socdefenders_input_handler import IocStatsInputHandler

handler = object.__new__(IocStatsInputHandler)
action, session_key, name = sys.argv[3], sys.argv[4], sys.argv[5]
try:
    if action == "delete":
        handler.delete_hook(session_key, "socdefenders_ioc_stats", name)
    else:
        hook = getattr(handler, action + "_hook")
        hook(session_key, "socdefenders_ioc_stats", name, json.loads(sys.stdin.read()))
    print(json.dumps("done"))
except RestError as error:
    print(json.dumps([error.status, error.message]))
"""


def call_handler(python: str, app: Path, splunkd: Splunkd, action: str, name: str, payload=None):
    env = {"SPLUNKD_URI": splunkd.uri, "PATH": "/usr/bin:/bin"}
    output = run_handler_driver(
        python, app / "bin", DRIVER, action, splunkd.session_key, name,
        stdin=json.dumps(payload or {}), env=env,
    )  # fmt: skip
    return json.loads(output)


def delete_input(python: str, app: Path, splunkd: Splunkd, name: str):
    return call_handler(python, app, splunkd, "delete", name)


@pytest.fixture
def splunkd(tmp_path: Path):
    with Splunkd(tmp_path) as server:
        server.collections.add(COLLECTION)
        server.kvstore[COLLECTION] = {
            name: {"_key": name, "state": json.dumps({"schema": 1})}
            for name in ("prod_stats", "other_stats")
        }
        server.add_account("prod", "sk_live_FAKE0handler0000000000")
        yield server


def test_deleting_an_input_deletes_only_its_checkpoint(splunk_python, installed_app, splunkd):
    assert delete_input(splunk_python, installed_app, splunkd, "prod_stats") == "done"
    assert set(splunkd.kvstore[COLLECTION]) == {"other_stats"}
    assert splunkd.requests_by_kind() == {"kvstore_delete": 1}  # the collection ships
    assert splunkd.connections == 1


def test_an_input_without_checkpoint_is_deleted(splunk_python, installed_app, splunkd) -> None:
    assert delete_input(splunk_python, installed_app, splunkd, "never_ran") == "done"
    assert set(splunkd.kvstore[COLLECTION]) == {"prod_stats", "other_stats"}


def test_kv_store_down_keeps_the_input_and_says_why(splunk_python, installed_app, splunkd):
    splunkd.fail("kvstore_delete", status=500)
    verdict = delete_input(splunk_python, installed_app, splunkd, "prod_stats")
    assert verdict[0] == 503
    assert "The input was not deleted" in verdict[1]
    assert "KV store" in verdict[1]
    assert "prod_stats" in splunkd.kvstore[COLLECTION]
    # solnlib's retries only (1 + 2 + 4 s), none of urllib3's under them
    assert splunkd.requests_by_kind() == {"kvstore_delete": 4}


@pytest.mark.parametrize("action", ["create", "edit"])
def test_a_valid_input_is_saved(splunk_python, installed_app, splunkd, action: str) -> None:
    payload = {"account": "prod", "interval": "900", "index": "main"}
    assert call_handler(splunk_python, installed_app, splunkd, action, "new", payload) == "done"


def test_a_save_reads_splunkd_once(splunk_python, installed_app, splunkd) -> None:
    payload = {"account": "prod", "interval": "900"}
    assert call_handler(splunk_python, installed_app, splunkd, "edit", "new", payload) == "done"
    assert splunkd.requests_by_kind() == {"conf": 1}  # the account stanza, not its key


def test_splunkd_answering_503_is_a_bounded_wait(splunk_python, installed_app, splunkd):
    splunkd.fail("conf", status=503)
    payload = {"account": "prod", "interval": "900"}
    status, message = call_handler(splunk_python, installed_app, splunkd, "create", "x", payload)
    assert status == 503
    assert "splunkd answered HTTP 503" in message
    # solnlib's 4 tries (sleeping 1 + 2 + 4 s), not urllib3's 6 under each of them
    assert splunkd.requests_by_kind() == {"conf": 4}


def test_an_edit_of_other_fields_only_is_saved(splunk_python, installed_app, splunkd) -> None:
    verdict = call_handler(splunk_python, installed_app, splunkd, "edit", "x", {"index": "main"})
    assert verdict == "done"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"account": "ghost", "interval": "900"},
         "The account 'ghost' does not exist: create it in Configuration > Accounts first"),
        ({"account": "prod", "interval": "30"}, "Interval must be a whole number of seconds"),
        ({"account": "prod", "interval": "*/5 * * * *"}, "from 60 to 86400"),
        ({"account": "", "interval": "900"}, "Choose the SOC Defenders account"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("action", ["create", "edit"])
def test_invalid_inputs_are_refused(splunk_python, installed_app, splunkd, action, payload, words):
    status, message = call_handler(splunk_python, installed_app, splunkd, action, "x", payload)
    assert status == 400
    assert words in message
