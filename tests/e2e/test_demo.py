"""`make demo` keeps working: two polls, the second with deltas; a first sync and a delta
sync of the indicators input, then the lookup; no errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any, Dict, List

from tests.conftest import REPO


def sync_summaries(output: str) -> List[Dict[str, Any]]:
    """The ``socdefenders:ioc:sync`` events the demo printed (indented JSON after their
    ``sourcetype=`` line), in order."""
    found = []
    lines = output.splitlines()
    for number, line in enumerate(lines):
        if line.strip().endswith("sourcetype=socdefenders:ioc:sync"):
            end = lines.index("  }", number)
            found.append(json.loads("\n".join(lines[number + 1 : end + 1])))
    return found


def epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def test_demo_shows_both_inputs_a_delta_and_the_lookup(app_dir, splunk_python: str) -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "tools" / "demo.py"), "--python", splunk_python,
         "--app", str(app_dir)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stderr == ""
    output = completed.stdout
    # the stats input
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

    # the indicators input: a first sync over two Pro pages, then a delta sync
    first, delta = sync_summaries(output)
    for summary in (first, delta):
        assert summary["completed"] is True
        assert summary["input"] == "demo_iocs"
        assert summary["page_limit"] == 10_000
    assert first["pages"] == 2
    assert first["indicators_added"] == first["lookup_size"] > 10_000
    assert epoch(first["since"]) == epoch(first["sync_started_at"]) - 365 * 86400
    assert epoch(delta["since"]) == epoch(first["sync_started_at"]) - 900  # the overlap
    assert delta["pages"] == 1
    assert delta["indicators_added"] > 0
    assert delta["indicators_updated"] > 0
    assert delta["lookup_size"] == first["lookup_size"] + delta["indicators_added"]
    assert output.count("action=sync_completed account=demo input=demo_iocs") == 2
    shown = re.findall(r'^  \{"type":.*"action":"(added|updated)","input":"demo_iocs"\}$',
                       output, re.MULTILINE)  # fmt: skip
    assert 3 + 2 <= len(shown) <= 3 + 10

    # the lookup: the mixed-case spelling misses, lower-cased it hits, an absent value misses
    rows = re.findall(r'^  dest="([^"]+)"  \(.*\): (\d+) match\(es\)$', output, re.MULTILINE)
    assert len(rows) == 3
    (spelled, missed), (lowered, hit), (_, absent) = rows
    assert spelled != lowered == spelled.lower()
    assert (missed, hit, absent) == ("0", "1", "0")
    assert 'type="domain"' in output
    assert re.search(r'^    confidence="(low|medium|high)"$', output, re.MULTILINE)
    assert "-- stderr" not in output
