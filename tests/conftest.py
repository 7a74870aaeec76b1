"""Shared test set-up: import paths, the built add-on and the Splunk Pythons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
APP_NAME = "TA-socdefenders"

# The core package and the build hook are imported from source, without a Splunk server.
for path in (REPO / "package" / "bin", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

SPLUNK_PYTHONS = ("3.9", "3.13")  # Splunk 9.x ships 3.9, Splunk 10 ships 3.13


def python_for(version: str) -> str:
    result = subprocess.run(
        [str(REPO / "tools" / "python-for"), version],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="session")
def version() -> str:
    return json.loads((REPO / "globalConfig.json").read_text())["meta"]["version"]


@pytest.fixture(scope="session")
def app_dir() -> Path:
    """The add-on as `make package` built it; these tests check the build, so build first."""
    built = REPO / "output" / APP_NAME
    if not (built / "default" / "app.conf").is_file():
        pytest.fail(f"{built} is missing: run `make package` before the tests", pytrace=False)
    return built


@pytest.fixture(scope="session")
def installed_app(app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built add-on as Splunk lays it out: ``$SPLUNK_HOME/etc/apps/TA-socdefenders``."""
    apps = tmp_path_factory.mktemp("splunk_home") / "etc" / "apps"
    apps.mkdir(parents=True)
    (apps / APP_NAME).symlink_to(app_dir, target_is_directory=True)
    return apps / APP_NAME


@pytest.fixture(scope="session")
def package_file(version: str) -> Path:
    tarball = REPO / "dist" / f"{APP_NAME}-{version}.tar.gz"
    if not tarball.is_file():
        pytest.fail(f"{tarball} is missing: run `make package` before the tests", pytrace=False)
    return tarball


@pytest.fixture(params=SPLUNK_PYTHONS, ids=lambda v: f"py{v}")
def splunk_python(request: pytest.FixtureRequest) -> str:
    """Path of each interpreter Splunk ships (from pyenv)."""
    return python_for(request.param)


@pytest.fixture(scope="session")
def vendor_api_server(tmp_path_factory: pytest.TempPathFactory):
    """One vendor API emulator (trusted TLS) for the whole session."""
    from tests.support.vendor_api import VendorApi

    with VendorApi(tmp_path_factory.mktemp("vendor_api")) as api:
        yield api


@pytest.fixture
def vendor_api(vendor_api_server):
    """The shared vendor API emulator, reset before each test."""
    vendor_api_server.reset()
    return vendor_api_server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ui", action="store_true", help="also collect the browser suite tests/ui (`make ui`)"
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    """tests/ui runs once, from `make ui` in the Python 3.13 venv that has Playwright."""
    if collection_path == REPO / "tests" / "ui" and not config.getoption("--ui"):
        return True
    return None
