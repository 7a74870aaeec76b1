"""`make demo`: run the built inputs against the local stand-ins and show what they write.

Starts the vendor API emulator (HTTPS on 127.0.0.1, the documented example answer with
what the vendor's newer page adds: extra members and the X-Cache-* headers, and a
generated corpus of indicators behind ``GET /api/v1/iocs``) and the splunkd emulator (an
account ``demo`` whose key sits in its credential store, the KV store collections
default/collections.conf ships). Then, as splunkd would run them:

- the stats input ``bin/socdefenders_ioc_stats.py`` twice, the feed growing in between:
  each event as Splunk would index it;
- the indicators input ``bin/socdefenders_iocs.py`` twice: a first sync, then a delta
  sync after the vendor added and updated a few records: some of the indicator events,
  both ``socdefenders:ioc:sync`` summaries, and what ``| lookup socdefenders_ioc_lookup``
  returns for a few values, asked of the emulator's KV store over its REST API as a KV
  lookup asks (exact, case-sensitive);

with the add-on's log lines and the requests each run made. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.client import HTTPSConnection
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "package" / "bin")]

from socdefenders.names import (  # noqa: E402
    CHECKPOINT_COLLECTION,
    INDICATOR_COLLECTION,
    INDICATORS_SETTINGS_STANZA,
    SETTINGS_CONF,
)
from tests.support.ioc_corpus import Corpus  # noqa: E402
from tests.support.modinput import (  # noqa: E402
    INDICATORS_INPUT_TYPE,
    InputRun,
    log_file_name,
    make_splunk_home,
    run_input,
)
from tests.support.splunkd import APP, Splunkd  # noqa: E402
from tests.support.vendor_api import PRO_KEY, CacheClock, VendorApi, newer_body  # noqa: E402

# The indicators demo: 20,000 records of which about 19,000 were updated in the last 365
# days (the Pro key's reach): two pages of 10,000, about 15 s a sync on Python 3.9.
CORPUS_SIZE = 20_000
CORPUS_SEED = 7
LOOKBACK_DAYS = 365  # the input's "First sync lookback", the Pro maximum
MAX_AGE_DAYS = 365  # Configuration -> Indicators: what the lookup keeps
DELTA_INSERTS = 12  # records the vendor adds between the two syncs...
DELTA_UPDATES = 12  # ...and records it updates
SHOWN_PER_ACTION = 5  # indicator events shown per action of the delta
LOOKUP = "| lookup socdefenders_ioc_lookup value AS dest OUTPUT type confidence feeds"
LOOKUP_OUTPUTS = ("type", "confidence", "feeds")
ABSENT_VALUE = "www.example.org"  # never a corpus value (theirs all end in -<base 36 id>)


def show_event(event: dict, compact: bool = False) -> None:
    moment = datetime.fromtimestamp(float(event["time"]), tz=timezone.utc)
    print(f"  _time={moment.isoformat(timespec='milliseconds')}  index={event['index']}  "
          f"host={event.get('host') or '(splunkd default)'}")  # fmt: skip
    print(f"  source={event['source']}  sourcetype={event['sourcetype']}")
    if compact:  # _raw as written: one line of JSON
        print("  " + event["data"])
        return
    print("  " + json.dumps(json.loads(event["data"]), indent=2, ensure_ascii=False)
          .replace("\n", "\n  "))  # fmt: skip


def show_requests(splunkd: Splunkd, api: VendorApi) -> None:
    kinds = ", ".join(
        f"{kind} {count}" for kind, count in sorted(splunkd.requests_by_kind().items())
    )
    print(f"  -- requests: splunkd {len(splunkd.requests)} ({kinds}) on "
          f"{splunkd.connections} connection(s); API {len(api.requests)}")  # fmt: skip


def show_log(run: InputRun, input_type: str, actions: Optional[Tuple[str, ...]] = None) -> None:
    """The run's log records (without solnlib's prefix), or only those of ``actions``."""
    print(f"  -- add-on log ($SPLUNK_HOME/var/log/splunk/{log_file_name(input_type)})")
    for line in run.log.strip().splitlines():
        record = line.split(" | ", 1)[-1]
        if actions is None or any(f"action={action} " in record for action in actions):
            print("  " + record)


def show_run(title: str, run: InputRun, splunkd: Splunkd, api: VendorApi, seconds: float) -> None:
    print(f"\n=== {title}: exit code {run.returncode}, {len(run.events)} event(s), "
          f"{seconds:.2f} s wall time ===")  # fmt: skip
    for event in run.events:
        show_event(event)
    show_log(run, "socdefenders_ioc_stats")
    show_requests(splunkd, api)
    if run.stderr.strip():
        print("  -- stderr:\n" + run.stderr)


def stats_demo(python: str, home: Path, splunkd: Splunkd, api: VendorApi) -> List[int]:
    """The stats input twice, the feed growing in between; the exit code of each poll."""
    # the newer documentation: extra members, a cache last refreshed 4 minutes ago
    api.body, api.cache = newer_body(), CacheClock(refreshed_at=time.time() - 240)
    fresh = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=6)
    api.body["last_updated"] = fresh.strftime("%Y-%m-%dT%H:%M:%SZ")  # a lively feed
    inputs = {"demo_stats": {"account": "demo", "index": "main", "interval": "900"}}
    print(f"\n##### input socdefenders_ioc_stats://demo_stats, account demo, Python {python}")
    exit_codes = []
    for title in ("first poll", "second poll, after the feed changed"):
        api.requests.clear()
        splunkd.reset_requests()
        started = time.monotonic()
        run = run_input(python, home, splunkd, inputs)
        show_run(title, run, splunkd, api, time.monotonic() - started)
        exit_codes.append(run.returncode if run.events else 1)
        totals = api.body["totals"]
        totals["by_type"]["ipv4"] += 1200
        totals["by_category"]["community"] += 1200
        totals["by_source"]["Abuse.ch"] -= 400
        totals["by_source"]["URLhaus Recent"] = 1600
    return exit_codes


# -- the indicators input -------------------------------------------------------------------


def mixed_case_domain(corpus: Corpus, newer_than: float) -> Tuple[str, str]:
    """A domain of the corpus as one of its records spells it in mixed case (what an
    event may carry), and its normalised value; from a record updated after
    ``newer_than``, so inside the first sync's window."""
    for index in range(len(corpus)):
        record = corpus.record(index)
        if record["type"] != "domain" or corpus.updated_at(record["id"]) <= newer_than:
            continue
        raw = record["value"]
        canonical = corpus.canonical(record["id"])[1]
        if canonical is not None and raw != canonical and raw.lower() == canonical:
            return raw, canonical
    raise RuntimeError("the corpus holds no domain spelled in mixed case")


def kv_lookup(splunkd: Splunkd, value: str) -> List[Dict[str, Any]]:
    """What a KV store lookup finds for ``value``: the documents the collection's data
    endpoint answers to the query ``{"value": value}`` (exact and case-sensitive)."""
    query = urlencode({"query": json.dumps({"value": value}, ensure_ascii=False)})
    path = f"/servicesNS/nobody/{APP}/storage/collections/data/{INDICATOR_COLLECTION}?{query}"
    context = ssl.create_default_context(cafile=str(splunkd.certificate.ca_file))
    connection = HTTPSConnection("127.0.0.1", splunkd.port, context=context, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Splunk {splunkd.session_key}"})
        answer = connection.getresponse()
        body = answer.read().decode("utf-8")
    finally:
        connection.close()
    if answer.status != 200:
        raise RuntimeError(f"the KV store answered {answer.status}: {body[:200]}")
    return json.loads(body)


def show_lookup(splunkd: Splunkd, dest: str, note: str) -> bool:
    """One row of ``| lookup``: the OUTPUT fields (multivalue across matches and array
    elements), empty when nothing matches. True when something matched."""
    found = kv_lookup(splunkd, dest)
    outputs: Dict[str, List[Any]] = {name: [] for name in LOOKUP_OUTPUTS}
    for document in found:
        for name in LOOKUP_OUTPUTS:
            value = document.get(name)
            outputs[name] += value if isinstance(value, list) else [value]
    print(f"  dest={json.dumps(dest)}  ({note}): {len(found)} match(es)")
    if not found:
        print("    type, confidence, feeds: not set (no match)")
    for name, values in outputs.items():
        if values:
            shown = values[0] if len(values) == 1 else values
            print(f"    {name}={json.dumps(shown, ensure_ascii=False)}")
    return bool(found)


def indicator_events(run: InputRun) -> List[dict]:
    return [e for e in run.events if e["sourcetype"] == "socdefenders:ioc"]


def summary_event(run: InputRun) -> Optional[dict]:
    found = [e for e in run.events if e["sourcetype"] == "socdefenders:ioc:sync"]
    return found[0] if len(found) == 1 else None


def show_sync(
    title: str,
    run: InputRun,
    shown: List[dict],
    which: str,
    splunkd: Splunkd,
    api: VendorApi,
    seconds: float,
) -> None:
    written = indicator_events(run)
    actions = Counter(json.loads(e["data"])["action"] for e in written)
    by_action = ", ".join(f"{action} {count}" for action, count in sorted(actions.items()))
    print(f"\n=== {title}: exit code {run.returncode}, {len(run.events)} event(s): "
          f"{len(written)} socdefenders:ioc ({by_action or 'none'}), "
          f"{len(run.events) - len(written)} socdefenders:ioc:sync; "
          f"{seconds:.2f} s wall time ===")  # fmt: skip
    print(f"  -- {len(shown)} of the {len(written)} socdefenders:ioc event(s){which}")
    for event in shown:
        show_event(event, compact=True)
    summary = summary_event(run)
    print("  -- the socdefenders:ioc:sync event")
    if summary is None:
        print("  (none)")
    else:
        show_event(summary)
    show_log(run, INDICATORS_INPUT_TYPE, ("sync_completed", "sync_incomplete", "sync_failed"))
    show_requests(splunkd, api)
    if run.stderr.strip():
        print("  -- stderr:\n" + run.stderr)


def first_of_each_type(events: List[dict], count: int, also: Optional[str] = None) -> List[dict]:
    """``count`` events of distinct types, the first being the one of value ``also``."""
    chosen: List[dict] = []
    types = set()
    wanted = [e for e in events if also is not None and json.loads(e["data"])["value"] == also]
    for event in wanted[-1:] + events:
        kind = json.loads(event["data"])["type"]
        if kind not in types and len(chosen) < count:
            chosen.append(event)
            types.add(kind)
    return chosen


def indicators_demo(python: str, home: Path, splunkd: Splunkd, api: VendorApi) -> int:
    """The indicators input: a first sync, a delta sync, then the lookup; 0 when both
    syncs completed and the lookup found what it must."""
    splunkd.collections.add(INDICATOR_COLLECTION)  # as default/collections.conf does
    splunkd.confs[SETTINGS_CONF][INDICATORS_SETTINGS_STANZA] = {"max_age_days": str(MAX_AGE_DAYS)}
    corpus = Corpus(CORPUS_SIZE, seed=CORPUS_SEED, now=int(time.time()), clock=time.time)
    api.corpus = corpus
    inputs = {"demo_iocs": {"account": "demo", "index": "main",
                            "lookback_days": str(LOOKBACK_DAYS)}}  # fmt: skip
    print(f"\n##### input socdefenders_iocs://demo_iocs, account demo (Pro key), lookback "
          f"{LOOKBACK_DAYS} days, max_age_days {MAX_AGE_DAYS}, Python {python}")  # fmt: skip
    print(f"  the vendor's corpus: {len(corpus):,} records; about 30 % of its values have 2 or 3 "
          "records, 40 % of the records spell the value unnormalised (mixed case, trailing "
          "dot, ...), 1 % carry an invalid one")  # fmt: skip
    spelled, value = mixed_case_domain(corpus, time.time() - 30 * 86400)
    failures = 0
    summaries = []
    for title in ("first sync", "delta sync, after the vendor added and updated records"):
        if summaries:
            inserted = corpus.insert(DELTA_INSERTS)
            updated = corpus.update(DELTA_UPDATES)
            print(f"\n  (the vendor adds {len(inserted)} records and updates {len(updated)})")
        api.requests.clear()
        splunkd.reset_requests()
        started = time.monotonic()
        run = run_input(python, home, splunkd, inputs, input_type=INDICATORS_INPUT_TYPE)
        seconds = time.monotonic() - started
        written = indicator_events(run)
        if summaries:
            shown = []
            for action in ("added", "updated"):
                of_action = [e for e in written if json.loads(e["data"])["action"] == action]
                shown += of_action[:SHOWN_PER_ACTION]
            which = f": the first {SHOWN_PER_ACTION} added and updated"
        else:
            shown = first_of_each_type(written, 3, also=value)
            which = ", the first of the domain looked up below"
        show_sync(title, run, shown, which, splunkd, api, seconds)
        event = summary_event(run)
        summary = json.loads(event["data"]) if event is not None else {}
        summaries.append(summary)
        if run.returncode != 0 or summary.get("completed") is not True or run.stderr.strip():
            failures += 1
    print(f"\n=== {LOOKUP} ===")
    print("  (each row asks the splunkd emulator's KV store what a KV lookup asks: GET "
          f"/servicesNS/nobody/{APP}/storage/collections/data/{INDICATOR_COLLECTION}"
          '?query={"value": "<dest>"})')  # fmt: skip
    as_spelled = "as a record spelled it, and as a proxy log may carry it: no lower-casing"
    hit_missed = show_lookup(splunkd, spelled, as_spelled)
    hit = show_lookup(splunkd, spelled.lower(), "lower-cased first, as docs/indicators.md says to")
    absent = show_lookup(splunkd, ABSENT_VALUE, "not in the feed")
    if hit_missed or not hit or absent:
        failures += 1
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the Splunk-like Python to run it on")
    parser.add_argument("--app", type=Path, default=REPO / "output" / "TA-socdefenders")
    arguments = parser.parse_args()
    for script in ("socdefenders_ioc_stats.py", f"{INDICATORS_INPUT_TYPE}.py"):
        if not (arguments.app / "bin" / script).is_file():
            print(f"{arguments.app} is not built: run `make build` first", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="socdefenders-demo-") as scratch:
        root = Path(scratch)
        with VendorApi(root / "api") as api, Splunkd(root / "splunkd") as splunkd:
            splunkd.collections.add(CHECKPOINT_COLLECTION)  # as default/collections.conf does
            splunkd.add_account("demo", PRO_KEY, base_url=api.base_url, ca_bundle=str(api.ca_file))
            home = make_splunk_home(root / "splunk", arguments.app)
            print(f"vendor API emulator: {api.base_url}   splunkd emulator: {splunkd.uri}")
            exit_codes = stats_demo(arguments.python, home, splunkd, api)
            exit_codes.append(indicators_demo(arguments.python, home, splunkd, api))
    return 1 if any(exit_codes) else 0


if __name__ == "__main__":
    sys.exit(main())
