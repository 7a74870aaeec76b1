"""Reading which event fields a search uses (the SPL side of the field contract)."""

from __future__ import annotations

import pytest

from tools.spl_fields import fields_read, unknown_fields


@pytest.mark.parametrize(
    ("spl", "fields"),
    [
        ('`m` account="$account$" action=poll_failed | stats count by input',
         {"account", "action", "input"}),
        ("`m` | eval x = total_iocs - 'delta.total_iocs', y = x * 2 | where y > feed_age_seconds",
         {"total_iocs", "delta.total_iocs", "feed_age_seconds"}),
        ("`m` | stats latest(totals.by_type.*) as * by account | eval z = ipv4 + unknown_later",
         {"totals.by_type.*", "account"}),
        ("`m` | timechart limit=0 span=1h max(totals.by_source.*) as *", {"totals.by_source.*"}),
        ("`m` | rename input as stanza | table stanza account", {"input", "account"}),
        ("`m` | foreach delta.by_source.* "
         "[ eval p = coalesce('totals.by_source.<<MATCHSTR>>', 0) - '<<FIELD>>' ]",
         {"delta.by_source.*", "totals.by_source.*"}),
        ('`m` category IN ("Authentication Error", "Permission Error") | stats count',
         {"category"}),
        ("`m` | rex field=_raw \"(?<code>\\d+)\" | where code > 3", set()),
        ("`m` | stats count(eval(consistent=\"false\")) as bad", {"consistent"}),
        ("`m` | sort 0 - _time | head 1 | fields - secret", {"_time"}),
        ("`m` ```a comment with fake_field=1``` | stats count", set()),
    ],
)  # fmt: skip
def test_fields_read_before_the_first_transforming_command(spl: str, fields: set) -> None:
    assert fields_read(spl) == fields


def test_unknown_fields_are_reported_and_open_maps_accepted() -> None:
    known = ["account", "total_iocs", "totals.by_type.*", "totals.by_type.ipv4"]
    spl = (
        "`m` | stats latest(totals.by_type.ja3) as a latest(totals.by_feed.x) as b "
        "latest(totl) by account"
    )
    assert unknown_fields(spl, known) == [
        ("totals.by_feed.x", "no event field matches"),
        ("totl", "no event field matches"),
    ]
