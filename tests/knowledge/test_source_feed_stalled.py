"""The Source feed stalled alert and its macro, as shipped (the SPL check and the field
contract cover its search; these pin what the issue asks of the saved search itself)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.knowledge.conftest import dashboard_definition
from tools.spl_check import read_conf
from tools.spl_fields import fields_read

ALERT = "SOC Defenders - Source feed stalled"


def test_the_alert_ships_disabled_scheduled_time_bounded_and_suppressed(app_dir: Path) -> None:
    alert = read_conf(app_dir / "default" / "savedsearches.conf")[ALERT]
    assert alert["disabled"] == "1"
    assert alert["enableSched"] == "1"
    assert re.fullmatch(r"\d+ \* \* \* \*", alert["cron_schedule"])  # hourly
    assert alert["dispatch.earliest_time"] == "-25h"
    assert alert["dispatch.latest_time"] == "now"
    assert alert["alert.suppress"] == "1"
    assert alert["alert.suppress.fields"].split(",") == ["account", "input", "source_feed"]
    assert alert["search"].startswith("`socdefenders_stats` `socdefenders_source_feeds`")
    assert '| where status == "stalled"' in alert["search"]


def test_one_macro_reads_the_source_feeds_for_the_alert_and_the_panel(app_dir: Path) -> None:
    spl = read_conf(app_dir / "default" / "macros.conf")["socdefenders_source_feeds"]
    spl = spl["definition"]
    assert spl.startswith("| dedup account input")  # the latest snapshot of each input
    assert "`socdefenders_stall_factor`" in spl  # the input is still collecting
    assert "`socdefenders_source_stall_hours` * 3600" in spl
    assert "eventstats min(unchanged_seconds) as freshest_seconds by account, input" in spl
    assert 'vendor_cache_stale == "true", "cache stale"' in spl  # the Feed stale alert's case
    assert {"source_unchanged_seconds.*", "cache_stale", "seconds_since_previous"} <= (
        fields_read(spl)
    )
    feeds = dashboard_definition(app_dir)["dataSources"]["ds_source_feeds"]["options"]["query"]
    assert "`socdefenders_source_feeds`" in feeds


def test_the_threshold_macro_defaults_to_48_hours(app_dir: Path) -> None:
    macro = read_conf(app_dir / "default" / "macros.conf")["socdefenders_source_stall_hours"]
    assert macro["definition"] == "48"


def test_the_dashboard_shows_source_feeds_and_the_cache_age(app_dir: Path) -> None:
    definition = dashboard_definition(app_dir)
    sources = definition["dataSources"]
    feeds = sources["ds_source_feeds"]["options"]["query"]
    assert "`socdefenders_source_feeds`" in feeds
    assert "source_unchanged_seconds.*" in fields_read(sources["ds_snapshots"]["options"]["query"])
    assert "cache_age_seconds" in fields_read(sources["ds_cache_age"]["options"]["query"])
    panel = definition["visualizations"]["viz_source_feeds"]
    assert panel["title"].startswith("Source feeds")
    assert "status" in panel["options"]["columnFormat"]
    top_row = sorted(
        (item["position"]["x"], item["item"])
        for item in definition["layout"]["structure"]
        if item["position"]["y"] == 0
    )
    names = [name for _, name in top_row]
    assert names.index("viz_cache_age") == names.index("viz_feed_age") + 1
