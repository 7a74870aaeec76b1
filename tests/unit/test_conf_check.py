"""conf_check.py reads ksconf's and slim's output right, from outputs recorded on real runs.

Recorded on a copy of the built add-on (tests/unit/data/conf_check/): *_clean.txt as built;
the seeded copy has `dispatch.earlist_time` in savedsearches.conf, a line without `=` in
props.conf, a duplicate `definition` in macros.conf and a broken stanza header in
eventtypes.conf; slim_misspelt.txt has only the misspelt setting.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.conf_check import (
    SLIM_FALSE_ALARMS,
    AllowedWarning,
    SlimMessage,
    allowed_by,
    conf_files,
    ksconf_verdict,
    parse_slim_output,
    slim_verdict,
)

DATA = Path(__file__).parent / "data" / "conf_check"


def recorded(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_slim_output_is_parsed() -> None:
    messages = parse_slim_output(recorded("slim_misspelt.txt"))
    assert [m.level for m in messages] == ["WARNING"] * 6 + ["INFO"]
    assert messages[0] == SlimMessage(
        "WARNING",
        "Undefined setting in app.conf, stanza [ui]: supported_themes",
        "m/TA-socdefenders/default/app.conf",
        21,
        "app.conf",
        "ui",
        "supported_themes",
    )
    misspelt = messages[5]
    assert (misspelt.conf, misspelt.stanza, misspelt.setting, misspelt.line) == (
        "savedsearches.conf",
        "SOC Defenders - Feed stale",
        "dispatch.earlist_time",
        18,
    )
    assert messages[6] == SlimMessage("INFO", "App validation complete")


def test_clean_slim_run_passes_and_lists_what_it_filtered() -> None:
    problems, filtered = slim_verdict(recorded("slim_clean.txt"), 0)
    assert problems == []
    assert len(filtered) == 5
    assert filtered[0] == (
        "app.conf, line 21: [ui] supported_themes -- " + SLIM_FALSE_ALARMS[0].reason
    )
    assert sum("python.version" in line for line in filtered) == 4


def test_misspelt_setting_fails_although_slim_exits_0() -> None:
    problems, filtered = slim_verdict(recorded("slim_misspelt.txt"), 0)
    assert problems == [
        "slim WARNING: m/TA-socdefenders/default/savedsearches.conf, line 18: Undefined "
        "setting in savedsearches.conf, stanza [SOC Defenders - Feed stale]: dispatch.earlist_time"
    ]
    assert len(filtered) == 5


def test_seeded_slim_run_reports_the_error_the_exit_code_and_the_abort() -> None:
    problems, _ = slim_verdict(recorded("slim_seeded.txt"), 1)
    assert problems == [
        "slim ERROR: seeded/TA-socdefenders/default/props.conf, line 16: Expected a setting "
        'assignment, not "this line has no equals sign"',
        "slim WARNING: seeded/TA-socdefenders/default/savedsearches.conf, line 18: Undefined "
        "setting in savedsearches.conf, stanza [SOC Defenders - Feed stale]: dispatch.earlist_time",
        "slim validate exited 1",
        "slim validate did not report 'App validation complete'",
    ]


def test_unexpected_slim_output_fails() -> None:
    output = recorded("slim_clean.txt") + "Traceback (most recent call last):\n"
    problems, _ = slim_verdict(output, 0)
    assert problems == ["slim UNPARSED: Traceback (most recent call last):"]
    problems, _ = slim_verdict("", 0)
    assert problems == ["slim validate did not report 'App validation complete'"]


@pytest.mark.parametrize(
    ("path", "stanza", "setting", "allowed"),
    [
        ("/a/default/inputs.conf", "my_input://x", "python.version", True),
        ("/a/default/restmap.conf", "admin_external:h", "python.version", True),
        ("/a/default/restmap.conf", "admin:h", "python.version", False),
        ("/a/default/app.conf", "ui", "supported_themes", True),
        ("/a/default/app.conf", "launcher", "supported_themes", False),
        ("/a/default/savedsearches.conf", "S", "python.version", False),
        ("/a/default/inputs.conf", "i", "python.versions", False),
    ],
)
def test_allow_list_matches_exactly(path: str, stanza: str, setting: str, allowed: bool) -> None:
    conf = Path(path).name
    text = f"Undefined setting in {conf}, stanza [{stanza}]: {setting}"
    message = SlimMessage("WARNING", text, path, 1, conf, stanza, setting)
    assert (allowed_by(message) is not None) is allowed
    assert allowed_by(SlimMessage("ERROR", text, path, 1, conf, stanza, setting)) is None


def test_allow_list_entries_give_reasons() -> None:
    for entry in SLIM_FALSE_ALARMS:
        assert isinstance(entry, AllowedWarning)
        assert entry.conf.endswith(".conf")
        assert entry.setting
        assert len(entry.reason) > 20


def test_ksconf_clean_file_passes() -> None:
    assert ksconf_verdict(recorded("ksconf_clean.txt"), 0, "props.conf") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ksconf_seeded_props.txt", "props.conf: Unexpected entry:  'this line has no equals"),
        ("ksconf_seeded_macros.txt", "has duplicate key 'definition'"),
        ("ksconf_seeded_eventtypes.txt", "Dangling stanza header:  [socdefenders_ioc_stats"),
    ],
)
def test_ksconf_errors_are_reported(name: str, expected: str) -> None:
    problems = ksconf_verdict(recorded(name), 20, "x.conf")
    assert len(problems) == 1
    assert problems[0].startswith("ksconf: seeded/TA-socdefenders/default/")
    assert expected in problems[0]


def test_ksconf_failure_without_a_message_still_fails() -> None:
    assert ksconf_verdict("boom\n", 1, "default/x.conf") == [
        "ksconf: default/x.conf: ksconf check exited 1: boom"
    ]


def test_conf_files_are_default_confs_and_metadata(tmp_path: Path) -> None:
    for name in ("default/app.conf", "default/data/ui/nav/default.xml", "metadata/default.meta",
                 "README/inputs.conf.spec", "default/b.conf"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("[x]\n")
    assert [p.relative_to(tmp_path).as_posix() for p in conf_files(tmp_path)] == [
        "default/app.conf",
        "default/b.conf",
        "metadata/default.meta",
    ]
