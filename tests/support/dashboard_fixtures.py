"""Fixture rows for the IOC overview dashboard, computed from real events of the input.

`collect_real_events` runs the **built** input against the emulators several times (two
accounts, the answer of the vendor's newer documentation with its cache headers, the feed
growing, one source feed vanishing, one failed poll), and keeps the events and the
add-on's log lines exactly as written. Only their times are then spread out (one poll per
hour), because the runs take seconds and a chart over time needs hours: ``_time``, and
the times in the checkpoints (moved an hour back before each run), so that
``seconds_since_previous`` and ``source_unchanged_seconds`` agree with that spread.
`fixtures_for` computes, for each data source of the dashboard, the rows its SPL would
return over those events: a Python rendering of each query, kept next to nothing else.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from socdefenders.names import CHECKPOINT_COLLECTION
from socdefenders.stats.snapshot import parse_timestamp
from socdefenders.timestamps import utc_iso
from tests.support.modinput import make_splunk_home, run_input
from tests.support.splunkd import Splunkd
from tests.support.vendor_api import FREE_KEY, PRO_KEY, CacheClock, VendorApi, newer_body

Row = Dict[str, Any]
POLLS = 12
HOUR = timedelta(hours=1)
_KEY_VALUE = re.compile(r'\b([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)')
_LOG_RECORD = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),\d{3} (.*)$", re.DOTALL)
STALL_HOURS = 48  # macros.conf socdefenders_source_stall_hours, as shipped
STALL_FACTOR = 3  # macros.conf socdefenders_stall_factor, as shipped


def _an_hour_earlier(splunkd: Splunkd) -> None:
    """Move every time of every saved checkpoint an hour back, as if an hour had passed."""
    for record in splunkd.kvstore.get(CHECKPOINT_COLLECTION, {}).values():
        state = json.loads(record["state"])
        state["collected_at"] = utc_iso(parse_timestamp(state["collected_at"]) - HOUR)
        state["source_since"] = {
            name: utc_iso(parse_timestamp(moment) - HOUR)
            for name, moment in state.get("source_since", {}).items()
        }
        record["state"] = json.dumps(state)


def _log_fields(text: str) -> Row:
    """The ``key=value`` pairs of a log record, as Splunk's automatic extraction reads them."""
    return {
        key: value[1:-1].replace('\\"', '"') if value.startswith('"') else value
        for key, value in _KEY_VALUE.findall(text)
    }


def collect_real_events(python: str, app_dir: Path, scratch: Path) -> Tuple[List[Row], List[Row]]:
    """(snapshot events, log records), each a dict of fields with ``_time``."""
    events: List[Row] = []
    logs: List[Row] = []
    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    with VendorApi(scratch / "api") as api, Splunkd(scratch / "splunkd") as splunkd:
        splunkd.collections.add(CHECKPOINT_COLLECTION)
        api.body, api.cache = newer_body(), CacheClock()
        for name in ("prod", "lab"):
            splunkd.add_account(name, PRO_KEY, base_url=api.base_url, ca_bundle=str(api.ca_file))
        home = make_splunk_home(scratch / "splunk", app_dir)
        inputs = {"prod_stats": {"account": "prod"}, "lab_stats": {"account": "lab"}}
        for poll in range(POLLS):
            moment = start + poll * HOUR
            totals = api.body["totals"]
            # feed_age_seconds is computed by the input against the real clock
            fresh = datetime.now(timezone.utc) - timedelta(minutes=20 + poll)
            api.body["last_updated"] = fresh.strftime("%Y-%m-%dT%H:%M:%SZ")
            if poll == POLLS - 2:  # a failed poll of one account, as a key goes bad
                splunkd.add_account("lab", FREE_KEY, base_url=api.base_url,
                                    ca_bundle=str(api.ca_file))  # fmt: skip
            if poll == POLLS - 1:
                splunkd.add_account("lab", PRO_KEY, base_url=api.base_url,
                                    ca_bundle=str(api.ca_file))  # fmt: skip
            _an_hour_earlier(splunkd)
            run = run_input(python, home, splunkd, inputs)
            for event in run.events:
                data = json.loads(event["data"])
                data["_time"] = moment
                events.append(data)
            for record in re.split(r"\n(?=\d{4}-\d{2}-\d{2} )", run.log):
                match = _LOG_RECORD.match(record)
                if match:
                    fields = _log_fields(match.group(2))
                    fields["_time"] = moment
                    logs.append(fields)
            totals["by_type"]["ipv4"] += 900 + 40 * poll
            totals["by_category"]["community"] += 900 + 40 * poll
            totals["by_source"]["Emerging Threats"] += 300
            if poll == 5:
                totals["by_source"].pop("Abuse.ch")
                totals["by_source"]["URLhaus Recent"] = 2400
    return events, logs


def _columns(rows: Sequence[Row], names: Sequence[str]) -> Dict[str, Any]:
    return {
        "fields": [{"name": name} for name in names],
        "columns": [[_text(row.get(name)) for row in rows] for name in names],
    }


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _latest_by(events: Sequence[Row], key: str) -> Dict[str, Row]:
    latest: Dict[str, Row] = {}
    for event in sorted(events, key=lambda e: e["_time"]):
        latest[event[key]] = event
    return latest


def _flat(event: Row, prefix: str) -> Dict[str, int]:
    head, _, tail = prefix.partition(".")
    return dict(event.get(head, {}).get(tail, {}))


def _one(name: str, value: Any) -> Dict[str, Any]:
    return _columns([{name: value}], [name])


def _types_over_time(events: Sequence[Row]) -> Dict[str, Any]:
    buckets: Dict[datetime, Dict[str, int]] = {}
    for event in events:
        bucket = buckets.setdefault(event["_time"], {})
        for name, count in event["totals"]["by_type"].items():
            bucket[name] = max(bucket.get(name, 0), count)
    names = sorted({name for bucket in buckets.values() for name in bucket})
    rows = [{"_time": moment, **buckets[moment]} for moment in sorted(buckets)]
    return _columns(rows, ["_time", *names])


def _breakdown(events: Sequence[Row], map_name: str, column: str) -> Dict[str, Any]:
    sums: Dict[str, int] = {}
    for event in _latest_by(events, "input").values():  # dedup account input
        for name, count in event["totals"][map_name].items():
            sums[name] = sums.get(name, 0) + count
    rows = [{column: name, "iocs": count} for name, count in sums.items()]
    rows.sort(key=lambda row: -row["iocs"])
    return _columns(rows, [column, "iocs"])


def _movers(events: Sequence[Row]) -> Dict[str, Any]:
    sums: Dict[str, int] = {}
    for event in events:
        for map_name, label in (("by_source", "source"), ("by_type", "type"),
                                ("by_category", "category")):  # fmt: skip
            for name, change in event.get("delta", {}).get(map_name, {}).items():
                key = f"{label}: {name}"
                sums[key] = sums.get(key, 0) + change
    rows = [{"dimension": key, "change": value} for key, value in sums.items() if value]
    rows.sort(key=lambda row: -abs(row["change"]))
    return _columns(rows[:10], ["dimension", "change"])


def _latest_per_account(events: Sequence[Row]) -> Dict[str, Any]:
    rows = []
    for account, event in sorted(_latest_by(events, "account").items()):
        rows.append({
            "account": account, "input": event["input"],
            "last_snapshot": event["_time"].strftime("%Y-%m-%d %H:%M:%S UTC"),
            "total_iocs": event["total_iocs"],
            "feed_age_hours": round(event["feed_age_seconds"] / 3600, 1),
            "cache_age_minutes": round(event["cache_age_seconds"] / 60, 1),
            "consistent": event["consistent"],
        })  # fmt: skip
    names = ["account", "input", "last_snapshot", "total_iocs", "feed_age_hours",
             "cache_age_minutes", "consistent"]  # fmt: skip
    return _columns(rows, names)


def _source_feeds(events: Sequence[Row], now: datetime) -> Dict[str, Any]:
    """macros.conf socdefenders_source_feeds, then the panel's sort and table."""
    rows = []
    for event in _latest_by(events, "input").values():  # dedup account input
        interval = event.get("seconds_since_previous", 900)
        if (now - event["_time"]).total_seconds() > STALL_FACTOR * interval:
            continue  # the input is not collecting any more
        unchanged = event.get("source_unchanged_seconds", {})
        freshest = min(unchanged.values(), default=0)
        for name, seconds in unchanged.items():
            status = "stalled"
            if seconds <= STALL_HOURS * 3600:
                status = "moving"
            elif event.get("cache_stale") is True:
                status = "cache stale"
            elif freshest > STALL_HOURS * 3600:
                status = "all still"
            rows.append({
                "account": event["account"], "input": event["input"], "source_feed": name,
                "hours_unchanged": round(seconds / 3600, 1), "seconds": seconds,
                "status": status,
            })  # fmt: skip
    rows.sort(key=lambda row: -row["seconds"])
    return _columns(rows, ["account", "input", "source_feed", "hours_unchanged", "status"])


def _poll_outcomes(logs: Sequence[Row]) -> Dict[str, Any]:
    buckets: Dict[datetime, Dict[str, int]] = {}
    for record in logs:
        outcome = "Successful polls" if record["action"] == "poll_succeeded" else "Failed polls"
        bucket = buckets.setdefault(record["_time"], {"Failed polls": 0, "Successful polls": 0})
        bucket[outcome] += 1
    rows = [{"_time": moment, **buckets[moment]} for moment in sorted(buckets)]
    return _columns(rows, ["_time", "Failed polls", "Successful polls"])


def _last_error(logs: Sequence[Row]) -> Dict[str, Any]:
    failures = [record for record in logs if record["action"] == "poll_failed"]
    names = ["when", "account", "input", "category", "http_status", "error_code",
             "request_id", "fix"]  # fmt: skip
    if not failures:
        return _columns([], names)
    last = dict(max(failures, key=lambda record: record["_time"]))
    last["when"] = last["_time"].strftime("%Y-%m-%d %H:%M:%S UTC")
    return _columns([last], names)


def fixtures_for(events: Sequence[Row], log: Sequence[Row], now: datetime) -> Dict[str, Any]:
    """Rows per data source id of socdefenders_ioc_overview (the account token is "*")."""
    logs = [record for record in log if record.get("action") in ("poll_succeeded", "poll_failed")]
    latest = _latest_by(events, "account")
    first = {}
    for event in sorted(events, key=lambda e: e["_time"], reverse=True):
        first[event["account"]] = event
    last_time = max(event["_time"] for event in events)
    inconsistent = sum(1 for event in _latest_by(events, "input").values()
                       if not event["consistent"])  # fmt: skip
    builders: Dict[str, Callable[[], Dict[str, Any]]] = {
        "ds_snapshots": lambda: _columns(events, ["_time", "account", "input", "total_iocs"]),
        "ds_accounts": lambda: _columns([{"account": a} for a in sorted(latest)], ["account"]),
        "ds_total_now": lambda: _one("total_iocs", sum(e["total_iocs"] for e in latest.values())),
        "ds_change": lambda: _one(
            "change", sum(latest[a]["total_iocs"] - first[a]["total_iocs"] for a in latest)
        ),
        "ds_feed_age": lambda: _one(
            "feed_age_hours", round(max(e["feed_age_seconds"] for e in latest.values()) / 3600, 1)
        ),
        "ds_cache_age": lambda: _one(
            "cache_age_minutes", round(max(e["cache_age_seconds"] for e in latest.values()) / 60, 1)
        ),
        "ds_minutes_since": lambda: _one(
            "minutes_since_snapshot", round((now - last_time).total_seconds() / 60)
        ),
        "ds_consistency": lambda: _one(
            "consistency", "Consistent" if not inconsistent else f"{inconsistent} inconsistent"
        ),
        "ds_types_over_time": lambda: _types_over_time(events),
        "ds_by_category": lambda: _breakdown(events, "by_category", "category"),
        "ds_by_source": lambda: _breakdown(events, "by_source", "source"),
        "ds_movers": lambda: _movers(events),
        "ds_latest_per_account": lambda: _latest_per_account(events),
        "ds_source_feeds": lambda: _source_feeds(events, now),
        "ds_polls": lambda: _columns(logs, ["_time", "action", "account", "input"]),
        "ds_poll_outcomes": lambda: _poll_outcomes(logs),
        "ds_last_error": lambda: _last_error(logs),
    }
    return {source_id: build() for source_id, build in builders.items()}
