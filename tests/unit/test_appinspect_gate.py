"""The AppInspect gate's verdict, from reports shaped like splunk-appinspect's JSON."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tools.appinspect_gate import readme_section, undocumented_warnings, write_junit


def report(*results: tuple) -> dict:
    checks = [{"name": name, "result": result, "messages": []} for name, result in results]
    return {"reports": [{"groups": [{"name": "group", "checks": checks}]}]}


README = """# Add-on
text
## AppInspect
```
# a shell comment in a code block is not a heading
```
- `check_for_modular_inputs`: informational.
### Warnings kept
- `check_python_sdk_version`: splunk-sdk 3 needs Python 3.13.
## Next section
- `check_for_splunk_js` is mentioned only outside the section.
"""


def test_readme_section_keeps_sub_sections_and_stops_at_the_next_section(
    tmp_path: Path,
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    section = readme_section(readme)
    assert "check_for_modular_inputs" in section
    assert "check_python_sdk_version" in section  # under a "###" sub-heading
    assert "check_for_splunk_js" not in section  # after the next "##" heading


def test_only_warnings_named_in_the_section_pass(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    results = report(
        ("check_for_modular_inputs", "warning"),
        ("check_for_splunk_js", "warning"),
        ("check_that_fails", "failure"),
        ("check_ok", "success"),
    )
    assert undocumented_warnings(results, readme_section(readme)) == ["check_for_splunk_js"]


def test_junit_counts_future_failures_as_failures(tmp_path: Path) -> None:
    results = report(
        ("a", "success"),
        ("b", "future_failure"),
        ("c", "warning"),
        ("d", "not_applicable"),
        ("e", "error"),
    )
    path = tmp_path / "out.xml"
    write_junit(results, "cloud", path)
    suite = ET.parse(path).getroot()
    assert suite.get("name") == "appinspect-cloud"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "1", "1")
    assert suite.get("skipped") == "1"
