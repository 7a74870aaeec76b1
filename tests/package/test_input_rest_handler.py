"""Deleting an input through the built REST handler deletes its KV store checkpoint.

The handler runs inside each Splunk Python with only the add-on's lib/ and the stand-in
``splunk`` package importable, against the splunkd emulator, and is called the way
splunktaucclib's ``handleRemove`` calls it: ``delete_hook`` before the stanza is removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.package.conftest import run_handler_driver
from tests.support.splunkd import Splunkd

COLLECTION = "ta_socdefenders_checkpoints"

DRIVER = """
import __main__, json, os, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
__main__.__file__ = os.path.join(sys.argv[1], "ta_socdefenders_rh_socdefenders_ioc_stats.py")
import import_declare_test
from splunktaucclib.rest_handler.error import RestError
from ta_socdefenders_input_handler import IocStatsInputHandler

handler = object.__new__(IocStatsInputHandler)
try:
    handler.delete_hook(sys.argv[3], "socdefenders_ioc_stats", sys.argv[4])
    print(json.dumps("deleted"))
except RestError as error:
    print(json.dumps([error.status, error.message]))
"""


def delete_input(python: str, app: Path, splunkd: Splunkd, name: str):
    env = {"SPLUNKD_URI": splunkd.uri, "PATH": "/usr/bin:/bin"}
    output = run_handler_driver(python, app / "bin", DRIVER, splunkd.session_key, name, env=env)
    return json.loads(output)


@pytest.fixture
def splunkd(tmp_path: Path):
    with Splunkd(tmp_path) as server:
        server.collections.add(COLLECTION)
        server.kvstore[COLLECTION] = {
            name: {"_key": name, "state": json.dumps({"schema": 1})}
            for name in ("prod_stats", "other_stats")
        }
        yield server


def test_deleting_an_input_deletes_only_its_checkpoint(splunk_python, installed_app, splunkd):
    assert delete_input(splunk_python, installed_app, splunkd, "prod_stats") == "deleted"
    assert set(splunkd.kvstore[COLLECTION]) == {"other_stats"}
    assert splunkd.requests_by_kind()["kvstore_delete"] == 1


def test_an_input_without_checkpoint_is_deleted(splunk_python, installed_app, splunkd) -> None:
    assert delete_input(splunk_python, installed_app, splunkd, "never_ran") == "deleted"
    assert set(splunkd.kvstore[COLLECTION]) == {"prod_stats", "other_stats"}


def test_kv_store_down_keeps_the_input_and_says_why(splunk_python, installed_app, splunkd):
    splunkd.fail("kvstore_delete", status=500)
    verdict = delete_input(splunk_python, installed_app, splunkd, "prod_stats")
    assert verdict[0] == 503
    assert "The input was not deleted" in verdict[1]
    assert "KV store" in verdict[1]
    assert "prod_stats" in splunkd.kvstore[COLLECTION]
