"""`make demo`: run the built input twice against the local stand-ins and show its events.

Starts the vendor API emulator (HTTPS on 127.0.0.1, the documented example answer with
what the vendor's newer page adds: extra members and the X-Cache-* headers) and the
splunkd emulator (an account ``demo`` whose key sits in its credential store), runs the
built ``bin/socdefenders_ioc_stats.py`` as splunkd would, lets the feed grow, runs it
again, and prints each event as Splunk would index it, the add-on's log lines and how
many requests each poll made. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "package" / "bin")]

from socdefenders.names import CHECKPOINT_COLLECTION  # noqa: E402
from tests.support.modinput import InputRun, make_splunk_home, run_input  # noqa: E402
from tests.support.splunkd import Splunkd  # noqa: E402
from tests.support.vendor_api import PRO_KEY, CacheClock, VendorApi, newer_body  # noqa: E402


def show_event(event: dict) -> None:
    moment = datetime.fromtimestamp(float(event["time"]), tz=timezone.utc)
    print(f"  _time={moment.isoformat(timespec='milliseconds')}  index={event['index']}  "
          f"host={event.get('host') or '(splunkd default)'}")  # fmt: skip
    print(f"  source={event['source']}  sourcetype={event['sourcetype']}")
    print("  " + json.dumps(json.loads(event["data"]), indent=2, ensure_ascii=False)
          .replace("\n", "\n  "))  # fmt: skip


def show_run(title: str, run: InputRun, splunkd: Splunkd, api: VendorApi, seconds: float) -> None:
    print(f"\n=== {title}: exit code {run.returncode}, {len(run.events)} event(s), "
          f"{seconds:.2f} s wall time ===")  # fmt: skip
    for event in run.events:
        show_event(event)
    print(
        "  -- add-on log ($SPLUNK_HOME/var/log/splunk/ta-socdefenders_socdefenders_ioc_stats.log)"
    )
    for line in run.log.strip().splitlines():
        print("  " + line.split(" | ", 1)[-1])
    kinds = ", ".join(
        f"{kind} {count}" for kind, count in sorted(splunkd.requests_by_kind().items())
    )
    print(f"  -- requests: splunkd {len(splunkd.requests)} ({kinds}) on "
          f"{splunkd.connections} connection(s); API {len(api.requests)}")  # fmt: skip
    if run.stderr.strip():
        print("  -- stderr:\n" + run.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the Splunk-like Python to run it on")
    parser.add_argument("--app", type=Path, default=REPO / "output" / "TA-socdefenders")
    arguments = parser.parse_args()
    if not (arguments.app / "bin" / "socdefenders_ioc_stats.py").is_file():
        print(f"{arguments.app} is not built: run `make build` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="socdefenders-demo-") as scratch:
        root = Path(scratch)
        with VendorApi(root / "api") as api, Splunkd(root / "splunkd") as splunkd:
            splunkd.collections.add(CHECKPOINT_COLLECTION)  # as default/collections.conf does
            splunkd.add_account("demo", PRO_KEY, base_url=api.base_url, ca_bundle=str(api.ca_file))
            # the newer documentation: extra members, a cache last refreshed 4 minutes ago
            api.body, api.cache = newer_body(), CacheClock(refreshed_at=time.time() - 240)
            fresh = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=6)
            api.body["last_updated"] = fresh.strftime("%Y-%m-%dT%H:%M:%SZ")  # a lively feed
            home = make_splunk_home(root / "splunk", arguments.app)
            inputs = {"demo_stats": {"account": "demo", "index": "main", "interval": "900"}}
            print(f"vendor API emulator: {api.base_url}   splunkd emulator: {splunkd.uri}")
            print(f"input socdefenders_ioc_stats://demo_stats, account demo, Python "
                  f"{arguments.python}")  # fmt: skip
            exit_codes = []
            for title in ("first poll", "second poll, after the feed changed"):
                api.requests.clear()
                splunkd.reset_requests()
                started = time.monotonic()
                run = run_input(arguments.python, home, splunkd, inputs)
                show_run(title, run, splunkd, api, time.monotonic() - started)
                exit_codes.append(run.returncode if run.events else 1)
                totals = api.body["totals"]
                totals["by_type"]["ipv4"] += 1200
                totals["by_category"]["community"] += 1200
                totals["by_source"]["Abuse.ch"] -= 400
                totals["by_source"]["URLhaus Recent"] = 1600
    return max(exit_codes)


if __name__ == "__main__":
    sys.exit(main())
