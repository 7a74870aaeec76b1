"""`make demo` keeps working: two polls, the second with deltas, no errors."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_demo_shows_two_events_and_a_delta(app_dir, splunk_python: str) -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "tools" / "demo.py"), "--python", splunk_python,
         "--app", str(app_dir)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    output = completed.stdout
    assert output.count("exit code 0, 1 event(s)") == 2
    assert output.count('"total_iocs": 124098') == 1
    assert '"total_iocs": 1200' in output  # the second event's delta
    assert '"URLhaus Recent": 1600' in output
    # what the vendor's newer page adds, on by default in the demo
    assert output.count('"api_extra": {') == 2
    assert output.count('"cache_age_seconds": ') == 2
    assert '"cache_refreshed": false' in output  # the second poll hit the same cache
    assert output.count('"source_unchanged_seconds": {') == 1  # not on a first snapshot
    assert "action=poll_succeeded account=demo input=demo_stats" in output
    assert "-- stderr" not in output
