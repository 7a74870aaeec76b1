"""The core package must run and be tested without any Splunk library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "package" / "bin" / "socdefenders"
SPLUNK_PACKAGES = {"splunk", "splunklib", "solnlib", "splunktaucclib", "import_declare_test"}


def imported_top_levels(source: Path) -> set:
    names = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "module", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE))
)
def test_core_module_imports_nothing_from_splunk(module: Path) -> None:
    assert imported_top_levels(module) & SPLUNK_PACKAGES == set()


def test_the_check_sees_a_splunk_import(tmp_path: Path) -> None:
    sample = tmp_path / "glue.py"
    sample.write_text("import os\nfrom solnlib import conf_manager\nfrom . import errors\n")
    assert imported_top_levels(sample) & SPLUNK_PACKAGES == {"solnlib"}
