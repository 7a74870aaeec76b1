"""Validate the built add-on's .conf files offline with ksconf and slim.

Usage: python tools/conf_check.py APP_DIR --ksconf BIN --slim BIN

* ``ksconf check FILE...`` (PyPI ksconf), one run over every ``default/*.conf`` and
  ``metadata/*.meta`` file: it reports the first error of each file (duplicate keys or
  stanzas, broken stanza headers, lines without ``=``) and goes on to the next file.
* ``slim validate APP_DIR`` (PyPI splunk-packaging-toolkit): settings its .conf specs do
  not define (a misspelt ``dispatch.earlist_time``), lines it cannot parse. It exits 0 on
  warnings, so its output decides. Its specs date from 2017: the warnings in
  ``SLIM_FALSE_ALARMS`` are filtered (and printed); any other warning or error fails.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class AllowedWarning:
    """A slim "Undefined setting" warning known to be wrong: conf file, stanza glob, setting."""

    conf: str
    stanza: str
    setting: str
    reason: str


SLIM_FALSE_ALARMS: Tuple[AllowedWarning, ...] = (
    AllowedWarning(
        "app.conf", "ui", "supported_themes",
        "in current app.conf.spec (light/dark theme support); slim's 2017 specs predate it",
    ),
    AllowedWarning(
        "inputs.conf", "*", "python.version",
        "Splunk 8.0+ setting UCC writes for the modular input; slim's 2017 specs predate it",
    ),
    AllowedWarning(
        "restmap.conf", "admin_external:*", "python.version",
        "Splunk 8.0+ setting UCC writes for its REST handlers; slim's 2017 specs predate it",
    ),
)  # fmt: skip

_SLIM_PROGRESS = re.compile(r'slim validate: Validating app at ".*"\.\.\.')
_SLIM_LINE = re.compile(r"slim \w+: \[(?P<level>[A-Z]+)\] (?P<message>.*)")
_SLIM_LOCATION = re.compile(r"(?P<path>.+?), line (?P<line>\d+): (?P<text>.*)")
_SLIM_UNDEFINED = re.compile(
    r"Undefined setting in (?P<conf>[^,]+\.conf), stanza \[(?P<stanza>.*)\]: (?P<setting>.+)"
)
_SLIM_COMPLETE = "App validation complete"
_SLIM_HARMLESS_LEVELS = ("INFO", "STEP", "DEBUG")
_KSCONF_ERROR = re.compile(r"Error in file (?P<path>.+?):\s+(?P<message>.*)")


@dataclass(frozen=True)
class SlimMessage:
    level: str  # WARNING, ERROR, INFO, ... or UNPARSED for a line slim did not format
    text: str  # the message without its location
    path: str = ""
    line: int = 0
    conf: str = ""  # set for "Undefined setting" warnings
    stanza: str = ""
    setting: str = ""

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}: " if self.path else ""
        return f"slim {self.level}: {where}{self.text}"


def parse_slim_output(output: str) -> List[SlimMessage]:
    """The messages of ``slim validate`` (its stderr and stdout, in order)."""
    messages = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line or _SLIM_PROGRESS.fullmatch(line):
            continue
        match = _SLIM_LINE.fullmatch(line)
        if not match:
            messages.append(SlimMessage("UNPARSED", line))
            continue
        level, text = match.group("level"), match.group("message")
        location = _SLIM_LOCATION.fullmatch(text)
        if not location:
            messages.append(SlimMessage(level, text))
            continue
        path, number, text = (
            location.group("path"),
            int(location.group("line")),
            location.group("text"),
        )
        undefined = _SLIM_UNDEFINED.fullmatch(text)
        if undefined:
            conf, stanza, setting = undefined.group("conf", "stanza", "setting")
            messages.append(SlimMessage(level, text, path, number, conf, stanza, setting.strip()))
        else:
            messages.append(SlimMessage(level, text, path, number))
    return messages


def allowed_by(
    message: SlimMessage, allow_list: Sequence[AllowedWarning] = SLIM_FALSE_ALARMS
) -> Optional[AllowedWarning]:
    """The allow-list entry that covers ``message``, if any (only "Undefined setting"
    warnings of the named conf file, whose path ends with that file name, can match)."""
    if message.level != "WARNING" or not message.setting:
        return None
    for entry in allow_list:
        if (
            message.conf == entry.conf
            and Path(message.path).name == entry.conf
            and fnmatchcase(message.stanza, entry.stanza)
            and message.setting == entry.setting
        ):
            return entry
    return None


def slim_verdict(
    output: str, returncode: int, allow_list: Sequence[AllowedWarning] = SLIM_FALSE_ALARMS
) -> Tuple[List[str], List[str]]:
    """(problems, filtered false alarms) of one ``slim validate`` run."""
    problems: List[str] = []
    filtered: List[str] = []
    messages = parse_slim_output(output)
    for message in messages:
        if message.level in _SLIM_HARMLESS_LEVELS:
            continue
        entry = allowed_by(message, allow_list)
        if entry:
            filtered.append(
                f"{Path(message.path).name}, line {message.line}: [{message.stanza}] "
                f"{message.setting} -- {entry.reason}"
            )
        else:
            problems.append(str(message))
    if returncode != 0:
        problems.append(f"slim validate exited {returncode}")
    if not any(m.level == "INFO" and m.text == _SLIM_COMPLETE for m in messages):
        problems.append(f"slim validate did not report {_SLIM_COMPLETE!r}")
    return problems, filtered


def ksconf_verdict(output: str, returncode: int, path: str) -> List[str]:
    """Problems of one ``ksconf check FILE...`` run (``path`` names the files checked)."""
    problems = [
        f"ksconf: {match.group('path')}: {match.group('message').strip()}"
        for match in (_KSCONF_ERROR.fullmatch(line.strip()) for line in output.splitlines())
        if match
    ]
    if returncode != 0 and not problems:
        tail = " | ".join(output.strip().splitlines()[-3:])
        problems.append(f"ksconf: {path}: ksconf check exited {returncode}: {tail}")
    return problems


def conf_files(app_dir: Path) -> List[Path]:
    return sorted((app_dir / "default").glob("*.conf")) + sorted(
        (app_dir / "metadata").glob("*.meta")
    )


def run(command: List[str]) -> Tuple[str, int]:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        return f"cannot run {command[0]}: {error}", 127
    return completed.stderr + completed.stdout, completed.returncode


def check(app_dir: Path, ksconf: str, slim: str) -> int:
    problems: List[str] = []
    files = conf_files(app_dir)
    if not files:
        problems.append(f"no default/*.conf in {app_dir}")
    else:
        output, returncode = run([ksconf, "check", *map(str, files)])
        problems.extend(ksconf_verdict(output, returncode, "default/*.conf, metadata/*.meta"))
    print(f"ksconf check: {len(files)} files")
    output, returncode = run([slim, "validate", str(app_dir)])
    slim_problems, filtered = slim_verdict(output, returncode)
    problems.extend(slim_problems)
    print(f"slim validate: {len(filtered)} known false alarm(s) filtered")
    for line in filtered:
        print(f"  {line}")
    for problem in problems:
        for prefix in (f"{app_dir.resolve()}/", f"{app_dir}/"):
            problem = problem.replace(prefix, "")
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app_dir", type=Path, help="the built add-on, e.g. output/TA-x")
    parser.add_argument("--ksconf", default="ksconf", help="ksconf executable")
    parser.add_argument("--slim", default="slim", help="slim executable")
    args = parser.parse_args(argv)
    return check(args.app_dir, args.ksconf, args.slim)


if __name__ == "__main__":
    sys.exit(main())
