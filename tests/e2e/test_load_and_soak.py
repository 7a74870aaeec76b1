"""Load and soak: many inputs in one run, many polls in one process, many process starts.

Measured against the emulators on loopback; bounded in time and count. Memory is judged
by growth between an early and a late sample, with an allowance for allocator noise.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.conftest import COLLECTION, CONNECTIONS_PER_POLL, REQUESTS_PER_POLL
from tests.support.modinput import APP, SUPPORT, input_stanzas
from tests.support.splunkd import input_xml
from tests.support.vendor_api import PRO_KEY, VendorApi
from tools.bench import MeasuringRunner

POLLS_IN_ONE_PROCESS = 1000
PROCESS_STARTS = 100
RSS_NOISE_BYTES = 3 * 1024 * 1024

# Calls the real stream_events of the built helper again and again in one process.
SOAK_DRIVER = """
import io, json, sys
bin_dir, polls = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, bin_dir)
import import_declare_test
from splunklib.modularinput import EventWriter, InputDefinition
import socdefenders_ioc_stats_helper as helper

def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmRSS:"))

document, events, samples = sys.stdin.read(), 0, {}
for poll in range(1, polls + 1):
    out = io.StringIO()
    helper.stream_events(InputDefinition.parse(io.StringIO(document)),
                         EventWriter(output=out, error=io.StringIO()))
    events += out.getvalue().count("<event")
    if poll in (100, polls // 2, polls):
        samples[poll] = rss()
print(json.dumps({"events": events, "rss": samples, "modules": sorted(sys.modules)}))
"""


def test_fifty_inputs_of_five_accounts_in_one_run(run, vendor_api) -> None:
    for index in range(5):
        run.splunkd.add_account(f"acct{index}", PRO_KEY, base_url=vendor_api.base_url,
                                ca_bundle=str(vendor_api.ca_file))  # fmt: skip
    inputs = {f"feed_{n:02d}": {"account": f"acct{n % 5}"} for n in range(50)}
    result = run(inputs, timeout=300)
    data = [json.loads(event["data"]) for event in result.events]
    assert sorted(item["input"] for item in data) == sorted(inputs)
    assert all(item["total_iocs"] == 124098 for item in data)
    assert all(item["account"] == inputs[item["input"]]["account"] for item in data)
    assert len(result.log_lines("poll_succeeded")) == 50
    assert len(vendor_api.requests) == 50
    assert set(run.splunkd.kvstore[COLLECTION]) == set(inputs)
    kinds = run.splunkd.requests_by_kind()
    assert kinds == {"conf": 51, "passwords": 50, "kvstore_read": 50, "kvstore_write": 50}
    assert run.splunkd.connections == 1  # one client for the whole run


def test_a_thousand_polls_in_one_process(run, tmp_path: Path) -> None:
    with VendorApi(tmp_path / "api", rate_window=1.0) as api:  # no rate limit in the way
        run.splunkd.add_account("prod", PRO_KEY, base_url=api.base_url, ca_bundle=str(api.ca_file))
        stanzas = input_stanzas({"prod_stats": {"account": "prod"}})
        document = input_xml(
            server_uri=run.splunkd.uri, session_key=run.splunkd.session_key,
            checkpoint_dir=str(tmp_path), stanzas=stanzas,
        )  # fmt: skip
        bin_dir = run.splunk_home / "etc" / "apps" / APP / "bin"
        completed = subprocess.run(
            [run.python, "-B", "-s", "-S", "-c", SOAK_DRIVER, str(bin_dir),
             str(POLLS_IN_ONE_PROCESS)],
            input=document, capture_output=True, text=True, timeout=900, check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SUPPORT),
                 "SPLUNK_HOME": str(run.splunk_home), "LANG": "C.UTF-8"},
        )  # fmt: skip
        api_requests = len(api.requests)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr
    report = json.loads(completed.stdout)
    assert report["events"] == POLLS_IN_ONE_PROCESS
    # the poll path leaves out what it does not use (solnlib.modular_input pulls in its
    # checkpointers, event writers and more)
    assert not [m for m in report["modules"] if m.startswith("solnlib.modular_input")]
    assert api_requests == POLLS_IN_ONE_PROCESS
    kinds = run.splunkd.requests_by_kind()
    assert kinds == {
        kind: count * POLLS_IN_ONE_PROCESS for kind, count in REQUESTS_PER_POLL.items()
    }
    assert run.splunkd.connections == CONNECTIONS_PER_POLL * POLLS_IN_ONE_PROCESS
    samples = {int(poll): size for poll, size in report["rss"].items()}
    assert samples[POLLS_IN_ONE_PROCESS] - samples[100] < RSS_NOISE_BYTES, samples


def test_a_hundred_process_starts(run, vendor_api) -> None:
    peaks = []
    measured = MeasuringRunner()
    for start in range(PROCESS_STARTS):
        run.splunkd.reset_requests()
        vendor_api.requests.clear()
        measured.last = None
        result = run(timeout=60, runner=measured)
        assert measured.last is not None, f"start {start}: the input did not start through it"
        assert len(result.events) == 1, f"start {start}: {result.log}"
        assert run.splunkd.requests_by_kind() == REQUESTS_PER_POLL
        assert run.splunkd.connections == CONNECTIONS_PER_POLL
        assert len(vendor_api.requests) == 1
        peaks.append(measured.last.maxrss)
    assert max(peaks[10:]) - min(peaks[10:]) < RSS_NOISE_BYTES, peaks
