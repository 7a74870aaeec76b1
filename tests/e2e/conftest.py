"""Fixtures for end-to-end runs of the built input against the emulators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterable, Iterator, Optional

import pytest

from socdefenders.names import CHECKPOINT_COLLECTION as COLLECTION
from tests.support.clients import SECRETS
from tests.support.modinput import InputRun, make_splunk_home, run_input
from tests.support.splunkd import Splunkd
from tests.support.vendor_api import PRO_KEY

# What one poll asks splunkd, by kind: the collection ships in collections.conf, so nothing
# asks for it; a stored proxy password adds one "passwords" request (and a connection).
REQUESTS_PER_POLL = {
    "conf": 2,  # the settings conf, the account stanza
    "passwords": 1,  # the account's key
    "kvstore_read": 1,
    "kvstore_write": 1,
}
# ...all on one kept-alive connection: one client, one pool, one TLS handshake.
CONNECTIONS_PER_POLL = 1


@pytest.fixture(scope="session")
def splunkd_certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("splunkd_tls")


@pytest.fixture
def splunkd(splunkd_certificates: Path, vendor_api) -> Iterator[Splunkd]:
    """A fresh splunkd with account ``prod`` (Pro key) pointing at the vendor emulator."""
    with Splunkd(splunkd_certificates) as server:
        server.collections.add(COLLECTION)  # as default/collections.conf creates it
        server.add_account(
            "prod", PRO_KEY, base_url=vendor_api.base_url, ca_bundle=str(vendor_api.ca_file)
        )
        yield server
        assert server.errors == [], "the splunkd emulator failed to answer a request"


class Runner:
    """Runs the built input in one ``$SPLUNK_HOME`` and checks what no run may ever do."""

    def __init__(self, python: str, splunk_home: Path, splunkd: Splunkd) -> None:
        self.python = python
        self.splunk_home = splunk_home
        self.splunkd = splunkd

    def __call__(self, inputs: Optional[Dict[str, Dict[str, str]]] = None, **kwargs) -> InputRun:
        run = run_input(
            self.python,
            self.splunk_home,
            self.splunkd,
            inputs or {"prod_stats": {"account": "prod"}},
            **kwargs,
        )
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        assert_no_secrets(run, self.splunkd)
        return run

    def checkpoint(self, input_name: str = "prod_stats") -> Optional[dict]:
        record = self.splunkd.kvstore.get(COLLECTION, {}).get(input_name)
        return None if record is None else json.loads(record["state"])


def assert_no_secrets(run: InputRun, splunkd: Splunkd, secrets: Iterable[str] = SECRETS) -> None:
    places = {
        "stdout": run.stdout,
        "stderr": run.stderr,
        "log": run.log,
        "kvstore": json.dumps(splunkd.kvstore),
    }
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appeared in {place}"


@pytest.fixture
def run(splunk_python: str, tmp_path: Path, app_dir: Path, splunkd: Splunkd) -> Runner:
    return Runner(splunk_python, make_splunk_home(tmp_path / "splunk", app_dir), splunkd)
