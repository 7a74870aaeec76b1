"""The IOC overview renders with Splunk's own Dashboard Studio framework, from real events.

Fixture rows for each data source are computed from real events and log lines of the
built input (`tests/support/dashboard_fixtures.py`); `tools/render_dashboard.py` validates
the definition against the Dashboard Studio schema (framework and jsonschema), renders it
in headless Chromium and fails on any schema, reference, render, console or network
error. The picture goes to docs/ for the README.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.knowledge.conftest import VIEW, dashboard_definition
from tests.support.dashboard_fixtures import fixtures_for

STUDIO_PYTHON = REPO / ".venv" / "studio" / "bin" / "python"
PNG = REPO / "docs" / f"{VIEW}.png"
RENDERED_AT = datetime(2026, 11, 20, 12, 5, tzinfo=timezone.utc)  # an hour after the last poll


@pytest.fixture(scope="module")
def fixtures(real_telemetry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    events, logs = real_telemetry
    path = tmp_path_factory.mktemp("dashboard") / "fixtures.json"
    path.write_text(json.dumps(fixtures_for(events, logs, RENDERED_AT), indent=1))
    return path


def render(view: Path, fixtures: Path, png: Path, result: Path) -> subprocess.CompletedProcess:
    if not STUDIO_PYTHON.exists():
        pytest.fail("the Dashboard Studio harness is not set up: run `make studio`", False)
    return subprocess.run(
        [str(STUDIO_PYTHON), str(REPO / "tools" / "render_dashboard.py"), str(view),
         str(fixtures), "--png", str(png), "--json", str(result)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_overview_renders_without_any_error(app_dir: Path, fixtures: Path, tmp_path) -> None:
    view = app_dir / "default" / "data" / "ui" / "views" / f"{VIEW}.xml"
    PNG.parent.mkdir(exist_ok=True)
    completed = render(view, fixtures, PNG, tmp_path / "result.json")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "OK, 14/14 visualizations" in completed.stdout
    assert PNG.stat().st_size > 50_000


def test_a_broken_dashboard_fails_the_render(app_dir: Path, fixtures: Path, tmp_path) -> None:
    definition = dashboard_definition(app_dir)
    definition["visualizations"]["viz_movers"]["type"] = "splunk.tabel"
    definition["visualizations"]["viz_change"]["dataSources"]["primary"] = "ds_nowhere"
    broken = tmp_path / "broken.xml"
    broken.write_text(
        '<dashboard version="2" theme="light"><label>broken</label><definition><![CDATA['
        + json.dumps(definition)
        + "]]></definition></dashboard>"
    )
    completed = render(broken, fixtures, tmp_path / "broken.png", tmp_path / "result.json")
    assert completed.returncode == 1
    assert "splunk.tabel" in completed.stdout + completed.stderr
    assert "ds_nowhere" in completed.stdout + completed.stderr
