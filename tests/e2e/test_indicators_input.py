"""The built indicators input (`socdefenders_iocs`) against the emulators, on 3.9 and 3.13.

Each test runs ``bin/socdefenders_iocs.py`` as splunkd does, against the vendor emulator's
``GET /api/v1/iocs`` (a generated corpus: several records per value, both type
spellings, mixed case, invalid values) and the splunkd emulator's KV store. After each
run the collection ``socdefenders_iocs`` is compared with the corpus's own oracle, which
knows every record's canonical type and value by construction: exactly the expected
indicators, merged, no document twice, the summary's counts equal to the collection's,
and the key nowhere (the ``run`` fixture scans stdout, stderr, the log and the KV store).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import pytest

from socdefenders.names import INDICATOR_COLLECTION, SETTINGS_CONF
from tests.support.ioc_corpus import Corpus, ExpectedIndicator
from tests.support.modinput import INDICATORS_INPUT_TYPE, InputRun, run_input
from tests.support.splunkd import Splunkd
from tests.support.vendor_api import FREE_KEY, Fault, VendorApi

CHECKPOINTS = "ta_socdefenders_checkpoints"
DAY = 86400
PRO_INPUT = {"prod_iocs": {"account": "prod", "lookback_days": "365"}}
FREE_INPUT = {"free_iocs": {"account": "free", "lookback_days": "30"}}
BOUNDS = {"feeds": 20, "categories": 10, "tags": 20, "mitre_techniques": 20, "ioc_ids": 10}


# -- set-up ---------------------------------------------------------------------------------


@pytest.fixture
def ioc_splunkd(splunkd: Splunkd, vendor_api: VendorApi) -> Splunkd:
    """The e2e splunkd with the collection default/collections.conf ships, and a Free
    account ``free`` beside the Pro account ``prod``. Nothing expires (the expiry test
    sets its own ``max_age_days``): the corpus spreads over 400 days."""
    splunkd.collections.add(INDICATOR_COLLECTION)
    splunkd.confs[SETTINGS_CONF]["indicators"] = {"max_age_days": "3650"}
    splunkd.add_account(
        "free", FREE_KEY, base_url=vendor_api.base_url, ca_bundle=str(vendor_api.ca_file)
    )
    return splunkd


def pro_corpus(vendor_api: VendorApi, size: int = 23_000, **options: Any) -> Corpus:
    """A corpus dated by the wall clock; with a 365-day lookback about 21,000 records of
    it are in the window: three Pro pages of 10,000."""
    corpus = Corpus(size, seed=7, now=int(time.time()), clock=time.time, **options)
    vendor_api.corpus = corpus
    return corpus


def sync(run, inputs: Dict[str, Dict[str, str]], **options: Any) -> InputRun:
    return run(inputs, input_type=INDICATORS_INPUT_TYPE, **options)


# -- what a run left behind -----------------------------------------------------------------


def events_of(run: InputRun, sourcetype: str) -> List[Dict[str, Any]]:
    return [json.loads(e["data"]) for e in run.events if e["sourcetype"] == sourcetype]


def summary_of(run: InputRun) -> Dict[str, Any]:
    summaries = events_of(run, "socdefenders:ioc:sync")
    assert len(summaries) == 1, run.stderr + run.log
    return summaries[0]


def documents(splunkd: Splunkd) -> Dict[str, Dict[str, Any]]:
    return dict(splunkd.kvstore.get(INDICATOR_COLLECTION, {}))


def by_indicator(splunkd: Splunkd) -> Dict[Tuple[str, str], Dict[str, Any]]:
    """The collection by (type, value); fails if an indicator is held twice."""
    held = [(doc["type"], doc["value"]) for doc in documents(splunkd).values()]
    twice = [pair for pair, count in Counter(held).items() if count > 1]
    assert twice == [], "an indicator is held by more than one document"
    return {(doc["type"], doc["value"]): doc for doc in documents(splunkd).values()}


def assert_consistent(splunkd: Splunkd, summary: Dict[str, Any]) -> None:
    """Keys derive from type and value; the summary counts what the collection holds."""
    docs = documents(splunkd)
    for key, doc in docs.items():
        expected_key = hashlib.sha256(f"{doc['type']}:{doc['value']}".encode()).hexdigest()
        assert key == expected_key
    assert summary["lookup_size"] == len(docs)
    assert summary["lookup_size_by_type"] == dict(Counter(d["type"] for d in docs.values()))


def assert_merged(doc: Dict[str, Any], expected: ExpectedIndicator, exact: bool = True) -> None:
    """The document holds the merge of every record of its indicator."""
    assert doc["first_seen"] == expected.first_seen
    assert doc["last_seen"] == expected.last_seen
    ranks = {"low": 1, "medium": 2, "high": 3}
    if exact:
        assert doc["confidence"] == expected.confidence
    else:  # an update may lower a record's confidence: the document keeps the highest seen
        assert ranks[doc["confidence"]] >= ranks[expected.confidence]
    for name, bound in BOUNDS.items():
        assert list(doc[name]) == list(getattr(expected, name))[:bound], name


def epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def checkpoint(splunkd: Splunkd, input_name: str) -> Optional[Dict[str, Any]]:
    record = splunkd.kvstore.get(CHECKPOINTS, {}).get(f"{INDICATORS_INPUT_TYPE}://{input_name}")
    return None if record is None else json.loads(record["state"])


def offsets_requested(vendor_api: VendorApi) -> List[int]:
    """The ``offset`` of each list request the vendor received, in order."""
    found = []
    for request in vendor_api.requests:
        if request.path.startswith("/api/v1/iocs?"):
            query = dict(p.split("=", 1) for p in request.path.split("?", 1)[1].split("&"))
            found.append(int(query.get("offset", "0")))
    return found


# -- the tests ------------------------------------------------------------------------------


def test_a_first_sync_lands_every_indicator_once_merged(run, ioc_splunkd, vendor_api) -> None:
    corpus = pro_corpus(vendor_api)
    result = sync(run, PRO_INPUT)
    summary = summary_of(result)
    since = epoch(summary["since"])
    expected = corpus.expected(since)
    held = by_indicator(ioc_splunkd)

    assert summary["completed"] is True
    assert set(held) == set(expected)
    for pair, doc in held.items():
        assert_merged(doc, expected[pair])
        assert doc["account"] == "prod"
    assert_consistent(ioc_splunkd, summary)
    assert summary["page_limit"] == 10_000
    assert summary["pages"] == 3
    assert summary["indicators_added"] == len(expected)
    assert summary["indicators_expired"] == 0
    assert summary["invalid_records"] == corpus.invalid_count(since) > 0
    assert summary["api_total"] >= summary["records_received"] - summary["invalid_records"] > 0
    # one event per indicator and page that changed it: added, then updated when more of
    # its records arrive on a later page; the last event holds the merged document
    written = events_of(result, "socdefenders:ioc")
    assert Counter(e["action"] for e in written) == {
        "added": len(expected), "updated": summary["indicators_updated"]
    }  # fmt: skip
    assert {(e["type"], e["value"]) for e in written if e["action"] == "added"} == set(expected)
    last = {(e["type"], e["value"]): e for e in written}
    for pair, event in last.items():
        assert_merged(event, expected[pair])
    assert {e["input"] for e in written} == {"prod_iocs"}
    # _time is ingest time, never the indicator's first_seen
    assert all(abs(float(e["time"]) - time.time()) < 600 for e in result.events)
    assert "action=sync_completed" in result.log


def test_a_delta_sync_reads_from_the_last_start_and_writes_only_changes(
    run, ioc_splunkd, vendor_api
) -> None:
    corpus = pro_corpus(vendor_api, size=6_000)
    first = summary_of(sync(run, PRO_INPUT))
    inserted = corpus.insert(40)
    updated = corpus.update(40)
    result = sync(run, PRO_INPUT)
    summary = summary_of(result)

    started = epoch(first["sync_started_at"])
    assert epoch(summary["since"]) == started - 900
    assert summary["completed"] is True
    assert summary["pages"] == 1
    expected = corpus.expected(epoch(first["since"]))
    held = by_indicator(ioc_splunkd)
    assert set(held) == set(expected)
    for pair, doc in held.items():
        assert_merged(doc, expected[pair], exact=False)
    assert_consistent(ioc_splunkd, summary)
    changed = events_of(result, "socdefenders:ioc")
    actions = Counter(e["action"] for e in changed)
    assert actions["added"] == summary["indicators_added"] > 0
    assert actions["updated"] == summary["indicators_updated"] > 0
    assert len(changed) <= len(inserted) + len(updated)  # nothing unchanged is re-sent


@pytest.mark.parametrize("order", ["ascending", "descending", "unordered"])
def test_any_order_with_inserts_and_updates_between_pages_loses_nothing(
    run, ioc_splunkd, vendor_api, order: str
) -> None:
    """A Free key (pages of 100), records moving between every two page requests: what
    the vendor had when the sync started is held once the next sync completes."""
    corpus = Corpus(6_000, seed=11, now=int(time.time()), clock=time.time, order=order)
    vendor_api.corpus = corpus
    corpus.between_pages = lambda c: (c.insert(3), c.update(3))
    first = summary_of(sync(run, FREE_INPUT))
    started = epoch(first["sync_started_at"])
    at_start = corpus.expected(started - DAY + 120, at=int(started))  # inside Free's day
    second = summary_of(sync(run, FREE_INPUT))
    corpus.between_pages = None

    assert first["page_limit"] == 100
    assert first["pages"] >= 3
    assert second["completed"] is True
    held = by_indicator(ioc_splunkd)
    assert set(at_start) <= set(held)
    everything = corpus.expected(started - DAY - 120)  # nothing from outside the window
    assert set(held) <= set(everything)
    assert_consistent(ioc_splunkd, second)


def test_a_run_killed_mid_sync_resumes_at_the_page_it_was_on(
    run, ioc_splunkd, vendor_api, splunk_python, tmp_path
) -> None:
    corpus = pro_corpus(vendor_api)
    vendor_api.script(Fault.delay(0), Fault.delay(0), Fault.delay(120))  # page 3 hangs
    with pytest.raises(subprocess.TimeoutExpired):
        run_input(splunk_python, run.splunk_home, ioc_splunkd, PRO_INPUT,
                  input_type=INDICATORS_INPUT_TYPE, timeout=25)  # fmt: skip
    saved = checkpoint(ioc_splunkd, "prod_iocs")
    assert saved is not None
    assert saved["sync"] is not None
    # two pages written (offsets 0 and 9,900, each 10,000 records), the third not
    assert saved["sync"]["offset"] == 19_900
    assert len(documents(ioc_splunkd)) > 0
    before = len(vendor_api.requests)

    summary = summary_of(sync(run, PRO_INPUT))
    assert summary["completed"] is True
    assert offsets_requested(vendor_api)[before:][0] == 19_900 - 100  # the overlap only
    expected = corpus.expected(epoch(summary["since"]))
    held = by_indicator(ioc_splunkd)
    assert set(held) == set(expected)
    for pair, doc in held.items():
        assert_merged(doc, expected[pair])


def test_a_far_rate_limit_ends_the_run_and_the_next_resumes(run, ioc_splunkd, vendor_api) -> None:
    corpus = pro_corpus(vendor_api)
    vendor_api.script(Fault.delay(0), Fault.rate_limited(reset_in=3600))
    first = sync(run, PRO_INPUT)
    summary = summary_of(first)
    assert summary["completed"] is False
    assert summary["error_category"] == "Rate Limit Error"
    assert summary["http_status"] == 429
    assert summary["error_code"] == "rate_limit_exceeded"
    assert str(summary["request_id"]).startswith("req_")
    assert summary["pages"] == 1
    assert len(documents(ioc_splunkd)) == summary["indicators_added"] > 0
    assert_consistent(ioc_splunkd, summary)
    failed = first.log_lines("sync_failed") + first.log_lines("sync_incomplete")
    assert len(failed) == 1
    for word in ("account=prod", "input=prod_iocs", "http_status=429",
                 "error_code=rate_limit_exceeded", "request_id=req_"):  # fmt: skip
        assert word in failed[0]

    resumed = summary_of(sync(run, PRO_INPUT))
    assert resumed["completed"] is True
    expected = corpus.expected(epoch(resumed["since"]))
    assert set(by_indicator(ioc_splunkd)) == set(expected)
    assert_consistent(ioc_splunkd, resumed)


def test_a_refused_key_writes_nothing_and_says_why(run, ioc_splunkd, vendor_api) -> None:
    pro_corpus(vendor_api, size=2_000)
    ioc_splunkd.add_account(
        "revoked", "sk_live_FAKE0notakey0000000000",
        base_url=vendor_api.base_url, ca_bundle=str(vendor_api.ca_file),
    )  # fmt: skip
    result = sync(run, {"revoked_iocs": {"account": "revoked"}})
    summary = summary_of(result)
    assert summary["completed"] is False
    assert summary["http_status"] == 401
    assert summary["error_code"] == "invalid_api_key"
    assert summary["error_category"] == "Authentication Error"
    assert documents(ioc_splunkd) == {}
    assert events_of(result, "socdefenders:ioc") == []
    lines = result.log_lines("sync_failed")
    assert len(lines) == 1
    for word in ("account=revoked", "input=revoked_iocs", "http_status=401",
                 "error_code=invalid_api_key", "request_id=req_"):  # fmt: skip
        assert word in lines[0]
    saved = checkpoint(ioc_splunkd, "revoked_iocs")
    assert saved is None or saved.get("last_completed") is None


def test_indicators_older_than_max_age_expire_with_an_event(run, ioc_splunkd, vendor_api) -> None:
    pro_corpus(vendor_api, size=2_000)
    ioc_splunkd.confs[SETTINGS_CONF]["indicators"] = {"max_age_days": "90"}
    old = int(time.time()) - 200 * DAY
    stale = {
        "_key": hashlib.sha256(b"domain:stale.example.org").hexdigest(),
        "type": "domain", "value": "stale.example.org", "confidence": "high",
        "first_seen": "2025-01-01T00:00:00Z",
        "last_seen": datetime.fromtimestamp(old, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "last_seen_epoch": old, "feeds": ["Old Feed"], "categories": [], "tags": [],
        "mitre_techniques": [], "ioc_ids": [], "context": "", "article_titles": [],
        "article_urls": [], "account": "prod", "added_epoch": old, "updated_epoch": old,
    }  # fmt: skip
    ioc_splunkd.kvstore[INDICATOR_COLLECTION] = {stale["_key"]: stale}
    result = sync(run, {"prod_iocs": {"account": "prod", "lookback_days": "30"}})
    summary = summary_of(result)
    assert stale["_key"] not in documents(ioc_splunkd)
    expired = [e for e in events_of(result, "socdefenders:ioc") if e["action"] == "expired"]
    assert [(e["type"], e["value"]) for e in expired] == [("domain", "stale.example.org")]
    assert summary["indicators_expired"] == 1
    assert_consistent(ioc_splunkd, summary)
    cutoff = time.time() - 90 * DAY
    assert all(d["last_seen_epoch"] >= cutoff for d in documents(ioc_splunkd).values())


def test_chosen_types_and_a_minimum_confidence_keep_only_those(
    run, ioc_splunkd, vendor_api
) -> None:
    """Types travel as one stream each (mitre-attack in both spellings); ``medium`` is
    applied in the add-on, so low records arrive and are counted as filtered."""
    corpus = pro_corpus(vendor_api, size=6_000)
    settings = {"ioc_types": "ipv4|mitre-attack", "min_confidence": "medium"}
    inputs = {"typed_iocs": {"account": "prod", "lookback_days": "365", **settings}}
    result = sync(run, inputs)
    summary = summary_of(result)
    expected = corpus.expected(
        epoch(summary["since"]), types=["ipv4", "mitre-attack"], min_confidence="medium"
    )
    held = by_indicator(ioc_splunkd)
    assert summary["completed"] is True
    assert set(held) == set(expected) != set()
    for pair, doc in held.items():
        assert_merged(doc, expected[pair])
    assert summary["streams"] == 3
    assert summary["filtered_records"] > 0
    assert sorted(summary["ioc_types"]) == ["ipv4", "mitre-attack"]
    assert summary["min_confidence"] == "medium"
    sent_types = sorted(
        p.split("type=", 1)[1].split("&")[0]
        for p in (r.path for r in vendor_api.requests)
        if p.startswith("/api/v1/iocs?") and "type=" in p
    )
    assert sent_types == ["ipv4", "mitre-attack", "mitre_attack"]
    assert not any("confidence=" in r.path for r in vendor_api.requests)
