"""Run Splunk AppInspect on the package and fail unless it is clean for Splunk Cloud.

Usage: python tools/appinspect_gate.py PACKAGE --appinspect BIN --reports DIR --readme README.md

For each tag (``cloud``, ``private_victoria``) it runs ``splunk-appinspect inspect --ci``,
keeps the JSON report and a JUnit XML copy in DIR, and fails when

* AppInspect reports a failure, an error or a future failure, or exits abnormally;
* a check ends in a warning that README.md's "AppInspect" section does not name
  (each warning that stays must say there why it stays).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

TAGS = ("cloud", "private_victoria")
BLOCKING = ("failure", "error", "future_failure")
# splunk-appinspect --ci exit codes that still leave the verdict to the JSON report
CI_EXIT_OK = {0, 101, 102, 103, 104}


def run_appinspect(appinspect: str, package: Path, tag: str, report: Path) -> int:
    command = [
        appinspect, "inspect", str(package),
        "--mode", "precert",
        "--included-tags", tag,
        "--skip-trusted-libraries-update",
        "--ci",
        "--data-format", "json",
        "--output-file", str(report),
        "--max-messages", "all",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode not in CI_EXIT_OK or not report.is_file():
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
    return completed.returncode


def checks(report: dict) -> Iterator[Tuple[str, dict]]:
    for app_report in report["reports"]:
        for group in app_report["groups"]:
            for check in group["checks"]:
                yield group["name"], check


def readme_section(readme: Path, heading: str = "AppInspect") -> str:
    """Text under the README heading ``heading``, sub-sections included."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    section: List[str] = []
    level = 0
    in_code = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if match and level and len(match.group(1)) <= level:
            break
        if level:
            section.append(line)
        elif match and match.group(2) == heading:
            level = len(match.group(1))
    return "\n".join(section)


def undocumented_warnings(report: dict, documentation: str) -> List[str]:
    return sorted(
        {
            check["name"]
            for _, check in checks(report)
            if check["result"] == "warning" and f"`{check['name']}`" not in documentation
        }
    )


def write_junit(report: dict, tag: str, path: Path) -> None:
    """JUnit XML for CI dashboards: failures and future failures fail, warnings pass."""
    suite = ET.Element("testsuite", name=f"appinspect-{tag}")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for group, check in checks(report):
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=group, name=check["name"])
        messages = "\n".join(m.get("message", "") for m in check.get("messages", []))
        result = check["result"]
        if result in ("failure", "future_failure"):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=result).text = messages
        elif result == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=result).text = messages
        elif result in ("skipped", "not_applicable"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=result)
        elif result == "warning":
            ET.SubElement(case, "system-out").text = messages
    for key, value in counts.items():
        suite.set(key, str(value))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def gate(package: Path, appinspect: str, reports: Path, readme: Path) -> int:
    reports.mkdir(parents=True, exist_ok=True)
    documentation = readme_section(readme)
    problems: List[str] = []
    for tag in TAGS:
        json_path = reports / f"appinspect-{tag}.json"
        json_path.unlink(missing_ok=True)
        exit_code = run_appinspect(appinspect, package, tag, json_path)
        if exit_code not in CI_EXIT_OK or not json_path.is_file():
            problems.append(f"[{tag}] splunk-appinspect exited {exit_code} without a report")
            continue
        report = json.loads(json_path.read_text(encoding="utf-8"))
        write_junit(report, tag, reports / f"appinspect-{tag}.xml")
        summary: Dict[str, int] = report["summary"]
        print(
            f"AppInspect [{tag}]: "
            + ", ".join(f"{key} {value}" for key, value in sorted(summary.items()))
        )
        for _, check in checks(report):
            if check["result"] in BLOCKING:
                problems.append(f"[{tag}] {check['result']}: {check['name']}")
                for message in check.get("messages", [])[:5]:
                    problems.append(f"      {message.get('message', '')[:300]}")
        for name in undocumented_warnings(report, documentation):
            problems.append(
                f"[{tag}] warning {name} is not explained in README.md's AppInspect section"
            )
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(f"AppInspect reports: {reports}/")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--appinspect", default="splunk-appinspect")
    parser.add_argument("--reports", type=Path, default=Path("build/reports/appinspect"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args()
    return gate(args.package, args.appinspect, args.reports, args.readme)


if __name__ == "__main__":
    sys.exit(main())
