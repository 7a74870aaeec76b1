"""The structural SPL checker: real-looking searches pass, seeded mistakes are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from tools.spl_check import (
    GENERATING_COMMANDS,
    KNOWN_COMMANDS,
    check_spl,
    macro_arities,
    main,
    searches_in_conf_dir,
    searches_in_dashboards,
)

MACROS = {"socdefenders_stats": 0, "socdefenders_stale_hours": 0, "drop_dm_object_name": 1,
          "lookup_by(2)": 2, "lookup_by": 1, "dmarc_domains": 1}  # fmt: skip


def messages(spl: str, **kwargs) -> List[str]:
    return [problem.message for problem in check_spl(spl, macros=MACROS, **kwargs)]


GOOD = [
    "`socdefenders_stats` | stats latest(totals.by_type.*) as * by account",
    "`socdefenders_stats` delta.total_iocs=*\n"
    "| eval previous_total = total_iocs - 'delta.total_iocs'\n"
    "| foreach delta.by_source.* [ eval previous = coalesce('totals.by_source.<<MATCHSTR>>', 0)"
    " - '<<FIELD>>', dropped = if(previous > 0 AND -'<<FIELD>>' * 100 / previous >"
    ' `socdefenders_stale_hours`, mvappend(dropped, "<<MATCHSTR>>: " . previous), dropped) ]\n'
    "| where mvcount(dropped) > 0",
    "`socdefenders_stats` | eval 'feed age (h)' = round('totals.by source.x' / 3600, 1)",
    '`socdefenders_stats` account="$account$" input=$input|s$ | timechart span=$span$ count',
    '| makeresults count=3 | eval x = "a \\"quoted\\" | pipe" | table x',
    '| makeresults | eval re = "C:\\\\temp\\\\", s = split("a|b|c", "|")',
    "| tstats count where index=* by sourcetype | `drop_dm_object_name(All_Sessions)`",
    '`lookup_by("a, b", c)` | `lookup_by(x)` | `dmarc_domains("domain, spf")`',
    "index=summary NOT [| inputlookup suppressions | rename index AS orig_index | format]"
    " | join type=left sourcetype [rest splunk_server=local /services/configs/conf-props"
    " | stats count by title]",
    "index=main ```a comment with | pipes, \"quotes and 'apostrophes``` | stats count",
    '`socdefenders_stats` | rex field=account_day "^(?<account>.*)\\|(?<day>[a-z_]+)$"'
    ' | eval t = trim(lower(x), "\\"")',
    '`socdefenders_stats` | stats max(eval(if(day = "y", iocs, null()))) as iocs by account'
    " | eval change = iocs - previous | sort 0 - change | fields - day",
    "`socdefenders_stats` | appendpipe [ stats count | where count = 0 ] | head 5",
    '|inputlookup expectedTime | eval order=case(\n  index=="~", 1,\n  true(), 2)\n'
    "| outputlookup create_empty=f expectedTime",
    "index=_internal | append [ search index=main | head 1 ] | STATS Count",
    "| rest /services/apps/local | multisearch [search index=a] [search index=b]",
    "| from datamodel:Network_Traffic | iplocation dest | geostats count",
    'index=x | eval s = "it\'s fine" | where like(x, "%|%") | search x="[not a subsearch"',
]


@pytest.mark.parametrize("spl", GOOD)
def test_good_searches_pass(spl: str) -> None:
    assert messages(spl) == []


BAD = [
    ('index=main action="poll_failed | stats count', "unterminated double quote"),
    ("`socdefenders_stats` | eval x = 'delta.total_iocs * 2", "unterminated single quote"),
    ("`socdefenders_stats` | eval x = round(total / 3600, 1 | table x", "unbalanced '('"),
    ("`socdefenders_stats` | stats count ] | table count", "unbalanced ']'"),
    ("`socdefenders_stats` | eval x = 1) | table x", "unbalanced ')'"),
    ("index=main [ search index=x | head 1", "unbalanced '['"),
    ("`socdefenders_stats` | | stats count", "empty pipeline segment"),
    ("`socdefenders_stats` | stats count |", "trailing '|'"),
    ("`socdefenders_stats` | statz count", "unknown command 'statz'"),
    ("`socdefenders_stat` | stats count", "unknown macro `socdefenders_stat`"),
    ("`socdefenders_stats(1)` | stats count", "called with 1 argument(s)"),
    ("`lookup_by(a, b, c)` | stats count", "defines it with 1 or 2"),
    ("`socdefenders_stats | stats count", "unterminated backtick"),
    ("index=main ```unfinished comment | stats count", "unterminated ``` comment"),
    ("index=main NOT [| inputlookup x | | fields y]", "empty pipeline segment"),
    ("index=main NOT [| inputlookup x | fields y |]", "trailing '|'"),
    ("index=main NOT []", "empty subsearch"),
    ("| stats count by sourcetype", "needs a generating command"),
    ("index=main [| eval x=1 ]", "needs a generating command"),
    ("index=main | 'stats' count", "expected a command"),
]


@pytest.mark.parametrize(("spl", "expected"), BAD)
def test_seeded_mistakes_are_reported(spl: str, expected: str) -> None:
    found = messages(spl)
    assert any(expected in message for message in found), found


def test_problems_carry_where_and_a_location() -> None:
    problems = check_spl("index=main [| inputlookup x | | fields y]", where="saved [A]")
    assert [str(p) for p in problems] == [
        "saved [A]: empty pipeline segment: '|' followed by '|' at character 29"
        " (in the subsearch at 11)"
    ]


def test_an_unterminated_quote_does_not_cascade() -> None:
    assert messages('index=main [search x="abc | head 1 ] | stats count(') == [
        "unterminated double quote starting at character 21 ('\"abc | head 1 ] | stats count(')"
    ]


def test_empty_search_is_reported() -> None:
    assert messages("  ") == ["empty search"]


def test_continuations_start_with_any_command() -> None:
    assert messages("| stats count by account", context="continuation") == []
    assert messages("stats count by account", context="continuation") == []
    assert messages("| statz count", context="continuation") == [
        "unknown command 'statz' at character 2"
    ]
    assert messages("| stats count", where="x.xml dataSources.ds_a (ds.chain)") == []
    assert messages("search account=$a$", where="x.xml <search s> (post-process)") == []


def test_macro_definitions_may_start_with_a_pipe_and_event_types_may_not_pipe() -> None:
    assert messages("| stats count by host", where="macros.conf [m]") == []
    assert messages("24", where="macros.conf [m]") == []
    assert messages("sourcetype=x | stats count", where="eventtypes.conf [e]") == [
        "an event type's search cannot contain a pipe '|'"
    ]
    assert messages("sourcetype=x [search y]", where="eventtypes.conf [e]") == [
        "an event type's search cannot contain a subsearch '[...]'"
    ]


def test_command_lists() -> None:
    assert GENERATING_COMMANDS <= KNOWN_COMMANDS
    for name in ("stats", "tstats", "foreach", "untable", "xyseries", "fromjson", "mcatalog"):
        assert name in KNOWN_COMMANDS


def test_unknown_context_is_an_error() -> None:
    with pytest.raises(ValueError, match="context"):
        check_spl("x", context="nonsense")


def write_app(root: Path) -> Path:
    default = root / "TA-x" / "default"
    views = default / "data" / "ui" / "views"
    views.mkdir(parents=True)
    (default / "macros.conf").write_text(
        "[base]\ndefinition = index=main\n\n[by_field(1)]\nargs = f\n"
        "definition = | stats count by $f$\n\n[calc(2)]\nargs = a, b\niseval = 1\n"
        "definition = $a$ + $b$\n",
        encoding="utf-8",
    )
    (default / "savedsearches.conf").write_text(
        "# comment\n[Good]\nsearch = `base` \\\n| `by_field(host)` \\\n| where count > 1\n"
        "dispatch.earliest_time = -1h\n\n[Bad]\nsearch = `base` | statz count\n",
        encoding="utf-8",
    )
    (default / "eventtypes.conf").write_text("[e]\nsearch = sourcetype=x\n", encoding="utf-8")
    studio = {
        "dataSources": {
            "ds_base": {"type": "ds.search", "options": {"query": "`base` | fields a"}},
            "ds_chain": {"type": "ds.chain", "options": {"extend": "ds_base", "query": "| |"}},
            "ds_test": {"type": "ds.test", "options": {"data": {}}},
        },
        "visualizations": {},
    }
    (views / "studio.xml").write_text(
        '<dashboard version="2" theme="dark"><label>x</label><definition><![CDATA['
        + json.dumps(studio)
        + "]]></definition></dashboard>",
        encoding="utf-8",
    )
    (views / "simple.xml").write_text(
        '<dashboard version="1.1"><row><panel><table><search id="b"><query>`base` | head'
        ' 5</query></search></table></panel><panel><table><search base="b"><query>stats'
        " count</query></search></table></panel></row></dashboard>",
        encoding="utf-8",
    )
    (views / "ucc.xml").write_text('<view isDashboard="False"><label>C</label></view>')
    return default.parent


def test_searches_are_collected_from_confs_and_dashboards(tmp_path: Path) -> None:
    default = write_app(tmp_path) / "default"
    assert macro_arities(default) == {"base": 0, "by_field": 1, "calc": 2}
    assert searches_in_conf_dir(default) == {
        "savedsearches.conf [Good]": "`base` \n| `by_field(host)` \n| where count > 1",
        "savedsearches.conf [Bad]": "`base` | statz count",
        "macros.conf [base]": "index=main",
        "macros.conf [by_field(1)]": "| stats count by $f$",
        "eventtypes.conf [e]": "sourcetype=x",
    }
    assert searches_in_dashboards(default / "data" / "ui" / "views") == {
        "simple.xml <search b>": "`base` | head 5",
        "simple.xml <search #2> (post-process)": "stats count",
        "studio.xml dataSources.ds_base": "`base` | fields a",
        "studio.xml dataSources.ds_chain (ds.chain)": "| |",
    }


def test_main_reports_every_problem(tmp_path: Path, capsys) -> None:
    app = write_app(tmp_path)
    assert main([str(app)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "savedsearches.conf [Bad]: unknown command 'statz' at character 9",
        "studio.xml dataSources.ds_chain (ds.chain): empty pipeline segment: "
        "'|' followed by '|' at character 1",
        "studio.xml dataSources.ds_chain (ds.chain): trailing '|' with no command after it",
        "spl_check: 9 searches, 3 problem(s)",
    ]


def test_main_passes_a_clean_app_and_reports_broken_xml(tmp_path: Path, capsys) -> None:
    app = write_app(tmp_path)
    saved = app / "default" / "savedsearches.conf"
    saved.write_text(saved.read_text().replace("statz", "stats"))
    views = app / "default" / "data" / "ui" / "views"
    (views / "studio.xml").unlink()
    assert main([str(app)]) == 0
    (views / "broken.xml").write_text("<dashboard><row>")
    assert main([str(app)]) == 1
    assert "broken.xml: not well-formed XML" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("{not json", "studio.xml: <definition> is not JSON: Expecting property name"),
        ("[1, 2]", "studio.xml: <definition> JSON is not an object"),
        ("", "studio.xml: no <definition> with a JSON definition (in CDATA)"),
    ],
)
def test_a_studio_view_without_a_json_definition_is_reported(
    tmp_path: Path, capsys, definition: str, message: str
) -> None:
    app = write_app(tmp_path)
    saved = app / "default" / "savedsearches.conf"
    saved.write_text(saved.read_text().replace("statz", "stats"))
    studio = app / "default" / "data" / "ui" / "views" / "studio.xml"
    studio.write_text(
        f'<dashboard version="2"><definition><![CDATA[{definition}]]></definition></dashboard>'
    )
    assert main([str(app)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(message)
