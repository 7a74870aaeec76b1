"""Validate a Dashboard Studio view and render it to PNG offline, with fixture data.

Usage: python tools/render_dashboard.py VIEW.xml FIXTURES.json --png OUT.png
       [--schema-out SCHEMA.json] [--studio tools/studio] [--json RESULT.json]

VIEW.xml is a ``<dashboard version="2">`` view whose ``<definition>`` holds the JSON
definition in CDATA. FIXTURES.json maps every data source id of the definition to the
rows it should return (see tools/studio/README.md)::

    {"ds_total": {"fields": [{"name": "total"}], "columns": [["4821"]]}}

``tools/studio/render.js`` (Node, Splunk's own dashboard framework in headless Chromium,
Cloud preset) validates the definition and renders it with every data source swapped for
its fixture rows. This script then checks the definition again with Python ``jsonschema``
(Draft 7) against the schema the framework produced, checks option names against it and
the fixtures against the data sources, and exits 1 with a report on any of:

* fixtures: a data source without a fixture, a fixture no data source uses, bad shape;
* schema: errors from the framework's validator or from jsonschema; option names the
  schema does not know for that visualization or input type;
* references: unknown types, missing data sources, layout items, tokens nobody sets;
* render: harness errors, a visualization that is missing, shows an error, stays a
  placeholder without data, or is blank in the screenshot;
* console: any browser console error or page error;
* network: any request that would leave the machine (all are blocked);
* png: no PNG, an empty one, or one that is not a PNG.

On success it prints one summary line. Exit 2 is a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: python tools/render_dashboard.py
    sys.path.insert(0, str(REPO))

# The view is read by the one reader the other tools and the tests share.
from tools.studio_view import ViewError, extract_definition  # noqa: E402

DEFAULT_STUDIO = REPO / "tools" / "studio"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_LISTED = 25  # per category, in the report
RENDER_TIMEOUT_S = 180

# Report sections, in the order they are printed.
CATEGORIES = (
    "view",
    "fixtures",
    "schema",
    "options",
    "references",
    "render",
    "console",
    "network",
    "png",
)


# --- the view and the fixtures ---------------------------------------------------------


def fixture_shape_errors(fixtures: Any) -> List[str]:
    """Problems with the shape ``{id: {"fields": [{"name": ...}], "columns": [[...]]}}``.

    ``columns`` is column-major: one list of values per field, all of the same length.
    """
    if not isinstance(fixtures, dict):
        return ["fixtures file must hold a JSON object keyed by data source id"]
    errors = []
    for ds_id, data in fixtures.items():
        where = f"fixture {ds_id}"
        if not isinstance(data, dict):
            errors.append(f"{where}: must be an object with fields and columns")
            continue
        extra = sorted(set(data) - {"fields", "columns"})
        if extra:
            # ds.test's schema refuses them (e.g. preview/messages of a saved json_cols result)
            errors.append(f"{where}: unknown keys {extra}: keep only fields and columns")
        fields, columns = data.get("fields"), data.get("columns")
        # ds.test takes {"name": ...} objects (what Splunk's json_cols output has) or names
        names = [f.get("name") if isinstance(f, dict) else f for f in fields or []]
        if not isinstance(fields, list) or not all(isinstance(n, str) and n for n in names):
            errors.append(f'{where}: fields must be a list of {{"name": "..."}} (or of names)')
            continue
        if not isinstance(columns, list) or not all(isinstance(c, list) for c in columns):
            errors.append(f"{where}: columns must be a list of lists (one list per field)")
            continue
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            errors.append(f"{where}: duplicate field names {duplicates}")
        if len(columns) != len(fields):
            errors.append(f"{where}: {len(fields)} fields but {len(columns)} columns")
        lengths = sorted({len(c) for c in columns})
        if len(lengths) > 1:
            errors.append(f"{where}: columns of different lengths {lengths}")
    return errors


def fixture_coverage(
    definition: Dict[str, Any], fixtures: Dict[str, Any]
) -> Tuple[List[str], List[str]]:
    """(data sources without a fixture, fixtures without a data source), each sorted."""
    sources = set((definition.get("dataSources") or {}).keys())
    provided = set(fixtures.keys())
    return sorted(sources - provided), sorted(provided - sources)


# --- checks against the schema the framework dumped ---------------------------------------


def _item_schema(schema: Dict[str, Any], section: str) -> Dict[str, Any]:
    patterns = schema.get("properties", {}).get(section, {}).get("patternProperties", {})
    return next(iter(patterns.values()), {})


def known_options(schema: Dict[str, Any], section: str) -> Dict[str, set]:
    """``{type: {option names}}`` for ``visualizations`` or ``inputs``, from the if/then rules."""
    known: Dict[str, set] = {}
    for rule in _item_schema(schema, section).get("allOf", []):
        type_const = rule.get("if", {}).get("properties", {}).get("type", {}).get("const")
        options = rule.get("then", {}).get("properties", {}).get("options", {})
        if type_const and "properties" in options:
            known.setdefault(type_const, set()).update(options["properties"])
    return known


def unknown_options(definition: Dict[str, Any], schema: Dict[str, Any]) -> List[str]:
    """Option names the schema does not list for the item's type (typos pass the schema)."""
    problems = []
    for section in ("visualizations", "inputs"):
        known = known_options(schema, section)
        for item_id, item in sorted((definition.get(section) or {}).items()):
            if not isinstance(item, dict) or item.get("type") not in known:
                continue  # unknown types are reported as reference errors
            names = sorted(set(item.get("options") or {}) - known[item["type"]])
            for name in names:
                problems.append(
                    f"{section[:-1]} {item_id} ({item['type']}): unknown option {name!r}"
                )
    return problems


def jsonschema_errors(definition: Dict[str, Any], schema: Dict[str, Any]) -> List[str]:
    """The definition checked against the framework's schema with Python jsonschema (Draft 7)."""
    try:
        from jsonschema import Draft7Validator, validators
    except ImportError:
        return ["Python jsonschema is not installed (pip install -r requirements/studio.txt)"]
    draft7_type = Draft7Validator.VALIDATORS["type"]

    def type_or_null(validator: Any, types: Any, instance: Any, subschema: Dict[str, Any]) -> Any:
        # The schema uses OpenAPI's "nullable": true, which the framework's ajv honours.
        if instance is None and subschema.get("nullable") is True:
            return
        yield from draft7_type(validator, types, instance, subschema)

    nullable_draft7 = validators.extend(Draft7Validator, {"type": type_or_null})
    validator = nullable_draft7(schema)
    errors = sorted(validator.iter_errors(definition), key=lambda e: list(e.absolute_path))
    return [f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}" for e in errors]


# --- the render result ---------------------------------------------------------------------


def parse_result(stdout: str) -> Dict[str, Any]:
    """The JSON object render.js printed; ValueError if there is none."""
    text = stdout.strip()
    start = text.find("{")
    if start < 0:
        raise ValueError(f"render.js printed no JSON: {text[-500:]!r}")
    try:
        result = json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise ValueError(f"render.js output is not JSON ({exc}): {text[-500:]!r}") from exc
    if not isinstance(result, dict):
        raise ValueError("render.js output is not a JSON object")
    return result


def png_dimensions(path: Path) -> Optional[Tuple[int, int]]:
    """(width, height) from the PNG header, or None when the file is not a PNG."""
    try:
        with path.open("rb") as handle:
            head = handle.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def visualization_problems(result: Dict[str, Any]) -> List[str]:
    problems = [
        f"visualization {viz_id}: not on the page"
        for viz_id in result.get("missingVisualizations", [])
    ]
    for viz in result.get("visualizations", []):
        label = f"visualization {viz.get('id')} ({viz.get('type')})"
        if viz.get("error"):
            problems.append(f"{label}: shows an error: {viz['error']}")
        elif viz.get("placeholder") and not viz.get("message"):
            problems.append(f"{label}: no data arrived (only the placeholder is drawn)")
        elif viz.get("blank"):
            problems.append(f"{label}: blank in the screenshot ({viz.get('colors')} colours)")
        if not viz.get("width") or not viz.get("height"):
            problems.append(f"{label}: has no size ({viz.get('width')}x{viz.get('height')})")
    return problems


def verdict(
    result: Dict[str, Any],
    png: Optional[Path],
    *,
    missing_fixtures: Sequence[str] = (),
    unused_fixtures: Sequence[str] = (),
    fixture_errors: Sequence[str] = (),
    jsonschema_problems: Sequence[str] = (),
    option_problems: Sequence[str] = (),
) -> Dict[str, List[str]]:
    """Problems by category; every non-empty category fails the run. ``png`` is None when
    nothing was rendered, so there is no screenshot to check."""
    problems: Dict[str, List[str]] = {name: [] for name in CATEGORIES}
    problems["fixtures"] += [f"data source {i} has no fixture" for i in missing_fixtures]
    problems["fixtures"] += [f"fixture {i} matches no data source" for i in unused_fixtures]
    problems["fixtures"] += list(fixture_errors)
    if result.get("jsonError"):
        problems["view"].append(f"definition is not JSON: {result['jsonError']}")
    problems["schema"] += [f"framework: {e}" for e in result.get("schemaErrors", [])]
    problems["schema"] += [f"framework: {e}" for e in result.get("frameworkErrors", [])]
    problems["schema"] += [f"jsonschema: {e}" for e in jsonschema_problems]
    problems["options"] += list(option_problems)
    problems["references"] += list(result.get("refErrors", []))
    problems["render"] += list(result.get("errors", []))
    problems["render"] += visualization_problems(result)
    problems["render"] += [
        f"local file failed to load: {r}" for r in result.get("failedRequests", [])
    ]
    problems["console"] += list(dict.fromkeys(result.get("consoleErrors", [])))
    problems["network"] += [f"blocked request: {u}" for u in result.get("externalRequests", [])]
    if png is not None:
        problems["png"] += png_problems(png)
    return {name: items for name, items in problems.items() if items}


def png_problems(png: Path) -> List[str]:
    if not png.is_file():
        return [f"{png} was not written"]
    if png.stat().st_size == 0:
        return [f"{png} is empty"]
    if png_dimensions(png) is None:
        return [f"{png} is not a PNG"]
    return []


def notes(result: Dict[str, Any]) -> List[str]:
    """What is worth reading but does not fail the run."""
    found = list(result.get("warnings", []))
    tabs = result.get("tabs") or []
    if len(tabs) > 1:
        found.append(f"only the first of {len(tabs)} tabs is drawn; checked, not drawn: {tabs[1:]}")
    for viz in result.get("visualizations", []):
        if viz.get("message"):
            found.append(f"visualization {viz.get('id')} shows: {viz['message']}")
    return found


def format_report(view: str, problems: Dict[str, List[str]], remarks: List[str]) -> str:
    total = sum(len(items) for items in problems.values())
    lines = [f"{view}: FAILED, {total} problem(s)"]
    for name, items in problems.items():
        lines.append(f"  {name} ({len(items)}):")
        lines += [f"    - {item}" for item in items[:MAX_LISTED]]
        if len(items) > MAX_LISTED:
            lines.append(f"    ... and {len(items) - MAX_LISTED} more")
    if remarks:
        lines.append("  notes (not failures):")
        lines += [f"    - {item}" for item in remarks[:MAX_LISTED]]
    return "\n".join(lines)


def summary(
    view: str, definition: Dict[str, Any], result: Dict[str, Any], png: Path, seconds: float
) -> str:
    width, height = png_dimensions(png) or (0, 0)
    count = len(definition.get("visualizations") or {})
    rendered = len(result.get("visualizations", []))
    return (
        f"{view}: OK, {rendered}/{count} visualizations, "
        f"{len(definition.get('inputs') or {})} inputs, "
        f"{len(definition.get('dataSources') or {})} data sources with fixtures, "
        f"schema OK (framework + jsonschema), {result.get('preset')} preset, "
        f"PNG {width}x{height} {png.stat().st_size // 1024} KB, {seconds:.1f} s"
    )


# --- running render.js ---------------------------------------------------------------------


def studio_missing(studio: Path) -> Optional[str]:
    if shutil.which("node") is None:
        return "node is not on PATH (Debian: apt-get install -y nodejs npm)"
    if not (studio / "node_modules" / "puppeteer-core").is_dir():
        return f"{studio}/node_modules is missing: npm ci --prefix {studio}"
    if not (studio / "dist" / "harness.js").is_file():
        return f"{studio}/dist/harness.js is missing: bash {studio}/build.sh"
    return None


def run_render(
    studio: Path,
    definition: Dict[str, Any],
    theme: str,
    fixtures: Path,
    png: Path,
    schema_out: Path,
) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="render-dashboard-") as tmp:
        definition_file = Path(tmp) / "definition.json"
        definition_file.write_text(json.dumps(definition), encoding="utf-8")
        env = dict(os.environ, PRESET="cloud", THEME=theme, DUMP_SCHEMA=str(schema_out))
        completed = subprocess.run(
            ["node", str(studio / "render.js"), str(definition_file), str(fixtures), str(png)],
            capture_output=True,
            text=True,
            env=env,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    try:
        result = parse_result(completed.stdout)
    except ValueError as exc:
        return {
            "errors": [f"render.js exited {completed.returncode}: {exc}", completed.stderr[-1500:]]
        }
    if completed.returncode != 0 and not result.get("errors"):
        result["errors"] = [f"render.js exited {completed.returncode}: {completed.stderr[-1500:]}"]
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("view", type=Path, help="Dashboard Studio view (.xml)")
    parser.add_argument("fixtures", type=Path, help="fixture rows per data source id (.json)")
    parser.add_argument("--png", type=Path, required=True, help="screenshot to write")
    parser.add_argument("--schema-out", type=Path, help="write the dashboard JSON schema here")
    parser.add_argument("--studio", type=Path, default=DEFAULT_STUDIO, help="the render harness")
    parser.add_argument("--json", type=Path, help="write the full render result here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    view = str(args.view)

    try:
        definition, theme = extract_definition(args.view.read_text(encoding="utf-8"))
    except (OSError, ViewError) as exc:
        print(format_report(view, {"view": [str(exc)]}, []), file=sys.stderr)
        return 1
    try:
        fixtures = json.loads(args.fixtures.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(format_report(view, {"fixtures": [f"{args.fixtures}: {exc}"]}, []), file=sys.stderr)
        return 1
    fixture_errors = fixture_shape_errors(fixtures)
    if not isinstance(fixtures, dict):
        print(format_report(view, {"fixtures": fixture_errors}, []), file=sys.stderr)
        return 1
    missing, unused = fixture_coverage(definition, fixtures)

    not_ready = studio_missing(args.studio)
    if not_ready:
        early = verdict(
            {"errors": [not_ready]},
            None,  # nothing was rendered
            missing_fixtures=missing,
            unused_fixtures=unused,
            fixture_errors=fixture_errors,
        )
        print(format_report(view, early, []), file=sys.stderr)
        return 1
    args.png.parent.mkdir(parents=True, exist_ok=True)
    args.png.unlink(missing_ok=True)  # a stale screenshot must not pass
    with tempfile.TemporaryDirectory(prefix="render-dashboard-schema-") as tmp:
        schema_out = args.schema_out or Path(tmp) / "schema.json"
        schema_out.parent.mkdir(parents=True, exist_ok=True)
        schema_out.unlink(missing_ok=True)
        try:
            result = run_render(args.studio, definition, theme, args.fixtures, args.png, schema_out)
        except subprocess.TimeoutExpired:
            result = {"errors": [f"render.js did not finish within {RENDER_TIMEOUT_S} s"]}
        schema = (
            json.loads(schema_out.read_text(encoding="utf-8")) if schema_out.is_file() else None
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")

    schema_problems: List[str] = []
    option_problems: List[str] = []
    if schema is None or "definition" not in result:
        result.setdefault("errors", []).append(
            "no schema or migrated definition: the harness did not run"
        )
    else:
        # The framework validates the migrated definition (tabbed layout); so does jsonschema.
        schema_problems = jsonschema_errors(result["definition"], schema)
        option_problems = unknown_options(definition, schema)
    problems = verdict(
        result,
        args.png,
        missing_fixtures=missing,
        unused_fixtures=unused,
        fixture_errors=fixture_errors,
        jsonschema_problems=schema_problems,
        option_problems=option_problems,
    )
    if problems:
        print(format_report(view, problems, notes(result)), file=sys.stderr)
        return 1
    for remark in notes(result):
        print(f"  note: {remark}")
    print(summary(view, definition, result, args.png, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
