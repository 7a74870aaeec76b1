"""Real events and log lines of the built input, shared by the knowledge-object tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.conftest import python_for
from tests.support.dashboard_fixtures import collect_real_events
from tools.spl_check import read_conf, searches_in_conf_dir
from tools.studio_view import extract_definition

VIEW = "socdefenders_ioc_overview"
OPEN_MAPS = ("source_unchanged_seconds", "api_extra")  # keyed by whatever the vendor sends


@pytest.fixture(scope="session")
def real_telemetry(app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Tuple[list, list]:
    """(events, log records) written by the built input over 12 polls of two accounts."""
    return collect_real_events(python_for("3.13"), app_dir, tmp_path_factory.mktemp("telemetry"))


def dashboard_definition(app_dir: Path, view: str = VIEW) -> dict:
    """The Dashboard Studio definition of a built view (tools.studio_view raises ViewError)."""
    path = app_dir / "default" / "data" / "ui" / "views" / f"{view}.xml"
    definition, _ = extract_definition(path.read_bytes())
    return definition


def expand_macros(spl: str, app_dir: Path) -> str:
    """``spl`` with each call of a macro without arguments replaced by its definition, as
    Splunk runs it (nested calls too): fields a macro defines are then known after it."""
    macros = read_conf(app_dir / "default" / "macros.conf")
    for _ in range(10):  # the shipped macros nest two deep
        expanded = re.sub(
            r"`([\w.:-]+)`",
            lambda call: macros.get(call.group(1), {}).get("definition", call.group(0)),
            spl,
        )
        if expanded == spl:
            return spl
        spl = expanded
    raise AssertionError(f"macros nest more than 10 deep in {spl[:80]!r}")


def all_searches(app_dir: Path) -> Dict[str, Tuple[str, str]]:
    """Every search the add-on ships: name -> (SPL with its macros expanded, the SPL whose
    events it reads, as written)."""
    searches: Dict[str, Tuple[str, str]] = {
        name: (expand_macros(spl, app_dir), spl)
        for name, spl in searches_in_conf_dir(app_dir / "default").items()
        if not re.fullmatch(r"\d+", spl.strip())  # the threshold macros are numbers
    }
    sources = dashboard_definition(app_dir)["dataSources"]
    for source_id, source in sources.items():
        query = source["options"]["query"]
        base = sources.get(source["options"].get("extend", ""), source)["options"]["query"]
        searches[f"{VIEW} {source_id}"] = (expand_macros(query, app_dir), base)
    return searches


def flat_fields(records: List[dict]) -> List[str]:
    """Every field name in ``records`` (dots between levels); open maps also as ``map.*``."""
    names = set()

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            if prefix in OPEN_MAPS or (
                prefix.count(".") == 1 and prefix.split(".")[1].startswith("by_")
            ):
                names.add(prefix + ".*")  # totals.by_type.*, delta.by_type.* ... are open
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            names.add(prefix)

    for record in records:
        walk("", record)
    return sorted(names)
