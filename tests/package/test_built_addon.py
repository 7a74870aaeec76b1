"""The add-on exactly as `make package` built it, run the way splunkd runs it."""

from __future__ import annotations

import configparser
import json
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from additional_packaging import is_compiled
from tests.package.conftest import run_isolated

INPUT = "socdefenders_ioc_stats"


def run_input_script(
    python: str, app_dir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess:
    """Run bin/socdefenders_ioc_stats.py with only the add-on's own lib/ importable."""
    bin_dir = app_dir / "bin"
    return run_isolated(python, bin_dir, str(bin_dir / f"{INPUT}.py"), *args, stdin=stdin)


def read_conf(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keep key case
    parser.read(path)
    return parser


def test_scheme_is_valid_on_splunk_python(splunk_python: str, app_dir: Path) -> None:
    result = run_input_script(splunk_python, app_dir, "--scheme")
    assert result.returncode == 0, result.stderr
    scheme = ET.fromstring(result.stdout)
    assert scheme.tag == "scheme"
    assert scheme.findtext("title") == INPUT
    assert scheme.findtext("use_external_validation") == "true"
    assert scheme.findtext("streaming_mode") == "xml"
    assert scheme.findtext("use_single_instance") == "false"
    arguments = {arg.get("name"): arg for arg in scheme.iter("arg")}
    # interval and index are splunkd's own input settings, not scheme arguments
    assert set(arguments) == {"name", "account"}
    assert arguments["account"].findtext("required_on_create") == "true"


def validation_items(interval: str, account: str = "prod") -> str:
    return f"""<items>
  <server_host>sh1</server_host>
  <server_uri>https://127.0.0.1:8089</server_uri>
  <session_key>FAKE_SESSION_KEY</session_key>
  <checkpoint_dir>/tmp/none</checkpoint_dir>
  <item name="prod_stats">
    <param name="account">{account}</param>
    <param name="interval">{interval}</param>
    <param name="index">main</param>
  </item>
</items>"""


def test_validate_arguments_accepts_a_good_input(splunk_python: str, app_dir: Path) -> None:
    result = run_input_script(
        splunk_python, app_dir, "--validate-arguments", stdin=validation_items("900")
    )
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


@pytest.mark.parametrize(
    ("interval", "account", "message"),
    [
        ("30", "prod", "from 60 to 86400"),
        ("*/5 * * * *", "prod", "from 60 to 86400"),
        ("900", "", "Choose the SOC Defenders account"),
    ],
)
def test_validate_arguments_explains_a_bad_input(
    splunk_python: str, app_dir: Path, interval: str, account: str, message: str
) -> None:
    result = run_input_script(
        splunk_python,
        app_dir,
        "--validate-arguments",
        stdin=validation_items(interval, account),
    )
    assert result.returncode == 1
    error = ET.fromstring(result.stdout)
    assert message in error.findtext("message")


def test_python_required_covers_splunk_9_and_10(app_dir: Path) -> None:
    inputs = read_conf(app_dir / "default" / "inputs.conf")
    assert inputs[INPUT]["python.required"] == "3.9, 3.13"
    assert inputs[INPUT]["interval"] == "900"
    restmap = read_conf(app_dir / "default" / "restmap.conf")
    handlers = [s for s in restmap.sections() if s.startswith("admin_external:")]
    assert handlers
    for section in handlers:
        assert restmap[section]["python.required"] == "3.9, 3.13"


def test_app_identity(app_dir: Path, version: str) -> None:
    app = read_conf(app_dir / "default" / "app.conf")
    assert app["package"]["id"] == "TA-socdefenders"
    assert app["id"]["version"] == version
    assert app["ui"]["label"] == "SOC Defenders Add-on for Splunk"
    manifest = json.loads((app_dir / "app.manifest").read_text())
    assert manifest["info"]["id"]["name"] == "TA-socdefenders"
    assert manifest["info"]["id"]["version"] == version


def test_account_and_settings_confs(app_dir: Path) -> None:
    spec = (app_dir / "README" / "ta_socdefenders_account.conf.spec").read_text()
    for field in ("api_key", "base_url", "auth_header", "verify_tls", "ca_bundle", "timeout"):
        assert f"{field} = " in spec
    settings_spec = (app_dir / "README" / "ta_socdefenders_settings.conf.spec").read_text()
    for field in (
        "proxy_enabled",
        "proxy_type",
        "proxy_url",
        "proxy_port",
        "proxy_password",
        "proxy_rdns",
        "loglevel",
    ):
        assert f"{field} = " in settings_spec
    # encrypted fields are declared so UCC's REST handler stores them in storage/passwords
    handler = (app_dir / "bin" / "ta_socdefenders_rh_account.py").read_text()
    assert "'api_key',\n        required=True,\n        encrypted=True" in handler
    assert "from ta_socdefenders_account_validation import AccountValidationHandler" in handler
    settings = (app_dir / "bin" / "ta_socdefenders_rh_settings.py").read_text()
    assert "'proxy_password',\n        required=False,\n        encrypted=True" in settings


def test_monitoring_dashboard_page_is_built(app_dir: Path) -> None:
    assert (app_dir / "default" / "data" / "ui" / "views" / "dashboard.xml").is_file()
    nav = (app_dir / "default" / "data" / "ui" / "nav" / "default.xml").read_text()
    assert 'name="dashboard"' in nav


def test_built_tree_and_package_hold_no_compiled_files(app_dir: Path, package_file: Path) -> None:
    assert [p for p in app_dir.rglob("*") if p.is_file() and is_compiled(p)] == []
    assert list(app_dir.rglob("__pycache__")) == []
    assert list(app_dir.rglob("*.pyc")) == []
    with tarfile.open(package_file) as tar:
        names = tar.getnames()
    assert names
    assert all(n.split("/")[0] == "TA-socdefenders" for n in names)
    assert [n for n in names if is_compiled(Path(n))] == []
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []


def test_lib_has_no_observability_stack(app_dir: Path) -> None:
    lib = app_dir / "lib"
    for gone in ("grpc", "google", "opentelemetry", "solnlib/observability.py"):
        assert not (lib / gone).exists(), gone
    for kept in ("requests", "urllib3", "socks.py", "solnlib", "splunklib", "splunktaucclib"):
        assert (lib / kept).exists(), kept


def test_search_head_cluster_replicates_the_add_on_confs(app_dir: Path) -> None:
    """Accounts and settings saved on one member must reach the others (SHC readiness)."""
    server = read_conf(app_dir / "default" / "server.conf")
    replication = server["shclustering"]
    assert replication["conf_replication_include.ta_socdefenders_account"] == "true"
    assert replication["conf_replication_include.ta_socdefenders_settings"] == "true"
    collections = read_conf(app_dir / "default" / "collections.conf")
    assert collections["ta_socdefenders_checkpoints"]["field.state"] == "string"
