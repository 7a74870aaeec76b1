"""The built indicators input end to end: its glue around the sync, against the emulators.

``bin/socdefenders_iocs.py`` runs as splunkd runs it (``tests/support/modinput.py``)
against the splunkd emulator (KV store with splunkd's limits) and the vendor API emulator
(its default corpus of 3,000 records dated by the wall clock). What is checked here is
the glue: the events (sourcetype, source, index, ingest time), the summary event, the
collection and the checkpoint records, the one log line per run, failures kept to their
input, and the splunkd requests a run makes.
"""

from __future__ import annotations

import json
import time

from socdefenders.names import INDICATOR_COLLECTION
from tests.e2e.conftest import COLLECTION
from tests.support.modinput import INDICATORS_INPUT_TYPE
from tests.support.vendor_api import EXPIRED_KEY

INDICATOR, SYNC = "socdefenders:ioc", "socdefenders:ioc:sync"


def sync(run, inputs=None):
    run.splunkd.collections.add(INDICATOR_COLLECTION)  # as default/collections.conf ships it
    return run(inputs or {"prod_iocs": {"account": "prod"}}, input_type=INDICATORS_INPUT_TYPE)


def test_a_first_sync_then_a_delta(run) -> None:
    started = time.time()
    first = sync(run)
    finished = time.time()
    indicators = [e for e in first.events if e["sourcetype"] == INDICATOR]
    (summary_event,) = [e for e in first.events if e["sourcetype"] == SYNC]
    assert first.events[-1] is summary_event
    summary = json.loads(summary_event["data"])
    assert summary["completed"] is True
    assert summary["indicators_added"] > 500
    assert len(indicators) == summary["indicators_added"] + summary["indicators_updated"]
    for event in (*indicators, summary_event):
        assert event["source"] == "socdefenders_iocs://prod_iocs"
        assert event["index"] == "main"
        assert event["host"] is None  # $decideOnStartup: splunkd decides
        assert started - 1 <= float(event["time"]) <= finished + 1  # ingest time
    data = json.loads(indicators[0]["data"])
    assert data["action"] == "added"
    assert data["input"] == "prod_iocs"
    assert "_key" not in data

    documents = run.splunkd.kvstore[INDICATOR_COLLECTION]
    assert len(documents) == summary["lookup_size"] == summary["indicators_added"]
    assert all("_user" not in d for d in documents.values())
    checkpoints = run.splunkd.kvstore[COLLECTION]
    assert set(checkpoints) == {"socdefenders_iocs://prod_iocs", "budget://prod"}  # no lock
    (line,) = first.log_lines("sync_completed")
    assert "log_level=INFO" in line
    assert f"indicators_added={summary['indicators_added']}" in line
    assert "account=prod input=prod_iocs" in line
    assert run.splunkd.connections == 1

    run.splunkd.reset_requests()
    second = sync(run)
    summary = json.loads(second.events[-1]["data"])
    assert [e["sourcetype"] for e in second.events] == [SYNC]
    assert (summary["indicators_added"], summary["indicators_updated"]) == (0, 0)
    assert summary["lookup_size"] == len(documents)
    kinds = run.splunkd.requests_by_kind()
    # settings, account, limits.conf; the key; state, budgets, one batch_find, expiry page,
    # count page; the state save and three lock inserts; three lock releases
    assert kinds == {
        "conf": 3, "passwords": 1, "kvstore_read": 6, "kvstore_write": 4, "kvstore_delete": 3,
    }  # fmt: skip
    assert run.splunkd.connections == 1


def test_a_failing_input_does_not_stop_the_others(run) -> None:
    run.splunkd.add_account("old", EXPIRED_KEY, base_url=run.splunkd.confs[
        "ta_socdefenders_account"]["prod"]["base_url"], ca_bundle=run.splunkd.confs[
        "ta_socdefenders_account"]["prod"]["ca_bundle"])  # fmt: skip
    result = sync(
        run,
        {
            "ghost_iocs": {"account": "ghost"},
            "old_iocs": {"account": "old"},
            "prod_iocs": {"account": "prod"},
        },
    )
    failed = result.log_lines("sync_failed")
    assert len(failed) == 2
    ghost, old = failed
    assert "account=ghost input=ghost_iocs" in ghost
    assert 'exc_l="Configuration Error"' in ghost
    assert "account=old input=old_iocs" in old
    assert 'exc_l="Authentication Error"' in old
    for field in ("http_status=401", "error_code=expired_api_key", "request_id=req_"):
        assert field in old
    assert "pages=0" in old  # the run's figures come first
    assert len(result.log_lines("sync_completed")) == 1
    summaries = [json.loads(e["data"]) for e in result.events if e["sourcetype"] == SYNC]
    assert [(s["input"], s["outcome"]) for s in summaries] == [
        ("old_iocs", "failed"), ("prod_iocs", "completed")
    ]  # fmt: skip
    assert summaries[0]["http_status"] == 401
    assert summaries[0]["error_category"] == "Authentication Error"


def test_a_spent_budget_ends_the_run_incomplete(run, vendor_api) -> None:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    spent = {"schema": 1, "day": today, "requests": 100_000, "page_limit": 10_000}
    run.splunkd.kvstore[COLLECTION] = {
        "budget://prod": {"_key": "budget://prod", "state": json.dumps(spent)}
    }
    result = sync(run)
    (line,) = result.log_lines("sync_incomplete")
    assert "log_level=INFO" in line
    assert "outcome=budget_reached" in line
    assert result.log_lines("budget_reached")  # the core's WARNING says why
    assert json.loads(result.events[-1]["data"])["outcome"] == "budget_reached"
    assert vendor_api.requests == []
