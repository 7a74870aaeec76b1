"""The Dashboard Studio render check's pure parts: the view, the fixtures, the verdict.

The browser side (tools/studio/render.js) is not run here; `main` is exercised with a
stand-in for it.
"""

from __future__ import annotations

import json
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tools import render_dashboard as rd
from tools import spl_check, studio_view

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tools" / "studio" / "example"
SHIPPED_VIEW = (
    REPO / "package" / "default" / "data" / "ui" / "views" / "socdefenders_ioc_overview.xml"
)

DEFINITION = {
    "title": "t",
    "dataSources": {"ds_a": {"type": "ds.search", "options": {"query": "| makeresults"}}},
    "visualizations": {"viz_a": {"type": "splunk.table", "dataSources": {"primary": "ds_a"}}},
    "layout": {"type": "grid", "structure": []},
}


def view_xml(definition: object = DEFINITION, version: str = "2", extra: str = "") -> str:
    body = definition if isinstance(definition, str) else json.dumps(definition)
    return (
        f'<dashboard version="{version}" theme="dark"><label>x</label>'
        f"<definition><![CDATA[\n{body}\n]]></definition>{extra}</dashboard>"
    )


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        rd.PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def clean_result(**changes: object) -> dict:
    result = {
        "preset": "cloud",
        "errors": [],
        "schemaErrors": [],
        "frameworkErrors": [],
        "refErrors": [],
        "warnings": [],
        "consoleErrors": [],
        "externalRequests": [],
        "failedRequests": [],
        "missingVisualizations": [],
        "visualizations": [
            {"id": "viz_a", "type": "splunk.table", "width": 700, "height": 300, "colors": 400,
             "blank": False, "placeholder": False, "error": "", "message": ""},
        ],
        "definition": DEFINITION,
    }  # fmt: skip
    result.update(changes)
    return result


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "out.png"
    path.write_bytes(png_bytes())
    return path


# --- the view ----------------------------------------------------------------------------


def test_definition_and_theme_come_out_of_the_cdata() -> None:
    definition, theme = rd.extract_definition(view_xml())
    assert definition == DEFINITION
    assert theme == "dark"


def test_a_second_cdata_block_does_not_leak_into_the_definition() -> None:
    meta = '<meta type="hiddenElements"><![CDATA[{"hideEdit": false}]]></meta>'
    definition, _ = rd.extract_definition(view_xml(extra=meta))
    assert definition == DEFINITION


def test_theme_defaults_to_light() -> None:
    xml = '<dashboard version="2"><definition><![CDATA[{"a": 1}]]></definition></dashboard>'
    assert rd.extract_definition(xml) == ({"a": 1}, "light")


def test_the_example_view_parses() -> None:
    definition, theme = rd.extract_definition((EXAMPLE / "ioc_studio.xml").read_text())
    assert theme == "dark"
    assert set(definition["dataSources"]) == {"ds_ipv4", "ds_total"}


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (view_xml(version="1.1"), 'version="2"'),
        ('<form version="2"></form>', "not <dashboard>"),
        ('<dashboard version="2"><label>x</label></dashboard>', "no <definition>"),
        (view_xml("{not json"), "not JSON"),
        (view_xml("[1, 2]"), "not an object"),
        ('<dashboard version="2" theme="blue"><definition>{}</definition></dashboard>', "theme"),
        ('<dashboard version="2"><definition>', "not well-formed"),
    ],
)
def test_views_that_are_not_studio_views_are_refused(xml: str, reason: str) -> None:
    with pytest.raises(rd.ViewError, match=reason):
        rd.extract_definition(xml)


def test_the_tools_and_tests_share_one_view_reader() -> None:
    # render_dashboard, spl_check and tests/knowledge all read <definition> via studio_view
    assert rd.extract_definition is studio_view.extract_definition
    assert rd.ViewError is studio_view.ViewError
    assert spl_check.parse_view is studio_view.parse_view
    assert spl_check.definition_of is studio_view.definition_of
    assert issubclass(studio_view.ViewError, ValueError)  # spl_check reports ValueErrors


def test_the_shipped_view_yields_its_definition() -> None:
    definition, theme = studio_view.extract_definition(SHIPPED_VIEW.read_bytes())
    assert theme in ("light", "dark")
    assert definition["dataSources"]
    assert all(
        source["type"] in ("ds.search", "ds.chain") for source in definition["dataSources"].values()
    )


def test_definition_of_a_parsed_view() -> None:
    root = studio_view.parse_view(view_xml().encode("utf-8"))
    assert studio_view.definition_of(root) == DEFINITION


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ('<dashboard version="2"><label>x</label></dashboard>', "no <definition> with a JSON"),
        ('<dashboard version="2"><definition> \n </definition></dashboard>', "no <definition>"),
        (view_xml("{not json"), "<definition> is not JSON: Expecting property name"),
        (view_xml('"just a string"'), "<definition> JSON is not an object"),
    ],
)
def test_definition_of_refuses_a_view_without_a_json_object(xml: str, reason: str) -> None:
    with pytest.raises(studio_view.ViewError, match=reason):
        studio_view.definition_of(studio_view.parse_view(xml))


def test_parse_view_refuses_xml_that_is_not_well_formed() -> None:
    with pytest.raises(studio_view.ViewError, match="not well-formed XML: no element found"):
        studio_view.parse_view(b'<dashboard version="2"><definition>')


# --- the fixtures ------------------------------------------------------------------------


def test_well_formed_fixtures_have_no_shape_errors() -> None:
    fixtures = json.loads((EXAMPLE / "fixtures_ioc.json").read_text())
    assert rd.fixture_shape_errors(fixtures) == []


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ({"fields": [{"name": "a"}], "columns": [["1"], ["2"]]}, "1 fields but 2 columns"),
        ({"fields": [{"name": "a"}, {"name": "b"}], "columns": [["1"], []]}, "different lengths"),
        ({"fields": [{"label": "a"}], "columns": [["1"]]}, "fields must be"),
        ({"fields": [""], "columns": [["1"]]}, "fields must be"),
        ({"fields": "a", "columns": [["1"]]}, "fields must be"),
        ({"fields": [{"name": "a"}], "columns": ["1"]}, "columns must be"),
        ({"fields": [{"name": "a"}, {"name": "a"}], "columns": [[], []]}, "duplicate field"),
        ({"fields": [], "columns": [], "rows": []}, "unknown keys"),
        ([["1"]], "must be an object"),
    ],
)
def test_badly_shaped_fixtures_are_reported(fixture: object, reason: str) -> None:
    errors = rd.fixture_shape_errors({"ds_a": fixture})
    assert any(reason in e and "ds_a" in e for e in errors), errors


def test_fields_may_be_plain_names() -> None:
    fixture = {"fields": ["_time", {"name": "count"}], "columns": [["t"], ["1"]]}
    assert rd.fixture_shape_errors({"ds_a": fixture}) == []


def test_the_rest_of_a_saved_json_cols_result_must_be_stripped() -> None:
    # ds.test's schema refuses any key but fields and columns (a console error at render)
    saved = {
        "preview": False,
        "init_offset": 0,
        "messages": [],
        "fields": [{"name": "_time"}, {"name": "count"}],
        "columns": [["2026-11-28T00:00:00.000+00:00"], ["4"]],
    }
    assert rd.fixture_shape_errors({"ds_a": saved}) == [
        "fixture ds_a: unknown keys ['init_offset', 'messages', 'preview']: "
        "keep only fields and columns"
    ]


def test_fixtures_must_be_an_object() -> None:
    assert rd.fixture_shape_errors([]) != []


def test_coverage_names_missing_and_unused_fixtures() -> None:
    definition = {"dataSources": {"ds_b": {}, "ds_a": {}, "ds_chain": {}}}
    fixtures = {"ds_a": {}, "ds_old": {}}
    assert rd.fixture_coverage(definition, fixtures) == (["ds_b", "ds_chain"], ["ds_old"])


def test_coverage_of_a_definition_without_data_sources() -> None:
    assert rd.fixture_coverage({}, {"ds_a": {}}) == ([], ["ds_a"])


# --- the schema checks -------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {
        "visualizations": {
            "type": "object",
            "patternProperties": {
                "^[a-z_]+$": {
                    "type": "object",
                    "properties": {"type": {"enum": ["splunk.table"]}},
                    "allOf": [
                        {
                            "if": {"properties": {"type": {"const": "splunk.table"}}},
                            "then": {
                                "properties": {
                                    "options": {"properties": {"count": {"type": "number"}}}
                                }
                            },
                        }
                    ],
                }
            },
        }
    },
}


def test_option_names_come_from_the_if_then_rules() -> None:
    assert rd.known_options(SCHEMA, "visualizations") == {"splunk.table": {"count"}}
    assert rd.known_options(SCHEMA, "inputs") == {}


def test_unknown_option_names_are_reported_known_ones_are_not() -> None:
    definition = {
        "visualizations": {
            "viz_a": {"type": "splunk.table", "options": {"count": 5, "cuont": 5}},
            "viz_b": {"type": "splunk.nope", "options": {"whatever": 1}},
        }
    }
    assert rd.unknown_options(definition, SCHEMA) == [
        "visualization viz_a (splunk.table): unknown option 'cuont'"
    ]


def jsonschema_errors(definition: object, schema: object) -> list:
    """``rd.jsonschema_errors`` run where jsonschema is installed: the studio venv (3.13)."""
    studio_python = REPO / ".venv" / "studio" / "bin" / "python"
    if not studio_python.exists():
        pytest.fail("the Dashboard Studio venv is missing: run `make studio`", False)
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from tools.render_dashboard import jsonschema_errors; "
        "print(json.dumps(jsonschema_errors(*json.load(sys.stdin))))"
    )
    completed = subprocess.run(
        [str(studio_python), "-c", script, str(REPO)], input=json.dumps([definition, schema]),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(completed.stdout)


def test_jsonschema_honours_nullable_as_the_framework_does() -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "nullable": True},
            "description": {"type": "string"},
        },
    }
    assert jsonschema_errors({"title": None}, schema) == []
    assert jsonschema_errors({"description": None}, schema) == [
        "/description: None is not of type 'string'"
    ]


def test_jsonschema_reports_the_path_of_each_error() -> None:
    good = {"visualizations": {"viz_a": {"type": "splunk.table", "options": {"count": 5}}}}
    bad = {"visualizations": {"viz_a": {"type": "splunk.tabel", "options": {"count": "5"}}}}
    assert jsonschema_errors(good, SCHEMA) == []
    errors = jsonschema_errors(bad, SCHEMA)
    assert any(e.startswith("/visualizations/viz_a/type:") for e in errors), errors


# --- the render result and the verdict ---------------------------------------------------


def test_parse_result_skips_noise_before_the_json() -> None:
    assert rd.parse_result('warning: x\n{\n "errors": []\n}\n') == {"errors": []}


@pytest.mark.parametrize("stdout", ["", "crashed", "{broken", "[1]"])
def test_parse_result_refuses_anything_but_a_json_object(stdout: str) -> None:
    with pytest.raises(ValueError, match=r"render\.js"):
        rd.parse_result(stdout)


def test_png_dimensions_read_the_header(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(17, 9))
    assert rd.png_dimensions(path) == (17, 9)
    path.write_bytes(b"GIF89a" + bytes(30))
    assert rd.png_dimensions(path) is None
    assert rd.png_dimensions(tmp_path / "missing.png") is None


def test_a_clean_result_passes(png: Path) -> None:
    assert rd.verdict(clean_result(), png) == {}


@pytest.mark.parametrize(
    ("changes", "category", "text"),
    [
        ({"schemaErrors": ["/visualizations/v/type must be equal"]}, "schema", "framework:"),
        ({"frameworkErrors": ["Error: Visualization in layout"]}, "schema", "framework:"),
        ({"refErrors": ['visualization v: missing data source "ds_x"']}, "references", "ds_x"),
        ({"errors": ["render failed: boom"]}, "render", "boom"),
        ({"missingVisualizations": ["viz_a"]}, "render", "not on the page"),
        ({"failedRequests": ["file:///x.css: net::ERR_FILE_NOT_FOUND"]}, "render", "x.css"),
        ({"consoleErrors": ["TypeError: x is undefined"]}, "console", "TypeError"),
        ({"externalRequests": ["https://example.com/a.png"]}, "network", "example.com"),
        ({"jsonError": "Unexpected token"}, "view", "not JSON"),
    ],
)
def test_each_kind_of_finding_fails_in_its_category(
    png: Path, changes: dict, category: str, text: str
) -> None:
    problems = rd.verdict(clean_result(**changes), png)
    assert list(problems) == [category]
    assert any(text in p for p in problems[category]), problems


@pytest.mark.parametrize(
    ("viz_changes", "text"),
    [
        ({"error": "Alert splunk.x is not defined"}, "shows an error"),
        ({"placeholder": True}, "no data arrived"),
        ({"blank": True, "colors": 1}, "blank"),
        ({"width": 0}, "no size"),
    ],
)
def test_a_visualization_that_did_not_draw_fails(png: Path, viz_changes: dict, text: str) -> None:
    viz = {**clean_result()["visualizations"][0], **viz_changes}
    problems = rd.verdict(clean_result(visualizations=[viz]), png)
    assert any(text in p for p in problems["render"]), problems


def test_no_results_message_is_a_note_not_a_failure(png: Path) -> None:
    viz = {**clean_result()["visualizations"][0], "placeholder": True}
    viz["message"] = "No search results returned"
    result = clean_result(visualizations=[viz], warnings=["visualization v is not placed"])
    assert rd.verdict(result, png) == {}
    assert rd.notes(result) == [
        "visualization v is not placed",
        "visualization viz_a shows: No search results returned",
    ]


def test_fixture_and_python_findings_fail(png: Path) -> None:
    problems = rd.verdict(
        clean_result(),
        png,
        missing_fixtures=["ds_b"],
        unused_fixtures=["ds_old"],
        fixture_errors=["fixture ds_x: bad"],
        jsonschema_problems=["/layout: 'tabs' is a required property"],
        option_problems=["visualization v (splunk.line): unknown option 'legendPosition'"],
    )
    assert problems["fixtures"] == [
        "data source ds_b has no fixture",
        "fixture ds_old matches no data source",
        "fixture ds_x: bad",
    ]
    assert problems["schema"] == ["jsonschema: /layout: 'tabs' is a required property"]
    assert problems["options"] == ["visualization v (splunk.line): unknown option 'legendPosition'"]


@pytest.mark.parametrize(
    ("content", "text"), [(None, "was not written"), (b"", "is empty"), (b"<html>", "not a PNG")]
)
def test_a_missing_or_broken_png_fails(tmp_path: Path, content: object, text: str) -> None:
    path = tmp_path / "out.png"
    if content is not None:
        path.write_bytes(content)
    problems = rd.verdict(clean_result(), path)
    assert list(problems) == ["png"]
    assert text in problems["png"][0]


def test_report_lists_categories_in_order_and_truncates() -> None:
    problems = {"schema": ["s"], "console": [f"c{i}" for i in range(rd.MAX_LISTED + 3)]}
    report = rd.format_report("v.xml", problems, ["a note"])
    lines = report.splitlines()
    assert lines[0] == f"v.xml: FAILED, {rd.MAX_LISTED + 4} problem(s)"
    assert lines.index("  schema (1):") < lines.index(f"  console ({rd.MAX_LISTED + 3}):")
    assert "    ... and 3 more" in lines
    assert "    - a note" in lines


# --- main, with a stand-in for render.js -------------------------------------------------


def ready_studio(tmp_path: Path) -> Path:
    studio = tmp_path / "studio"
    (studio / "node_modules" / "puppeteer-core").mkdir(parents=True)
    (studio / "dist").mkdir()
    (studio / "dist" / "harness.js").write_text("")
    return studio


def write_inputs(tmp_path: Path, fixtures: dict) -> tuple:
    view = tmp_path / "view.xml"
    view.write_text(view_xml())
    fixture_file = tmp_path / "fixtures.json"
    fixture_file.write_text(json.dumps(fixtures))
    return view, fixture_file


GOOD_FIXTURES = {"ds_a": {"fields": [{"name": "a"}], "columns": [["1"]]}}


def fake_render(result: dict, write_png: bool = True):
    def run(studio, definition, theme, fixtures, png, schema_out):
        assert theme == "dark"
        assert definition == DEFINITION
        if write_png:
            png.write_bytes(png_bytes(1440, 600))
        schema_out.write_text(json.dumps(SCHEMA))
        return result

    return run


def test_main_passes_and_prints_one_summary_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(rd, "studio_missing", lambda studio: None)
    monkeypatch.setattr(rd, "run_render", fake_render(clean_result()))
    monkeypatch.setattr(rd, "jsonschema_errors", lambda definition, schema: [])
    view, fixtures = write_inputs(tmp_path, GOOD_FIXTURES)
    schema_out = tmp_path / "schema.json"
    code = rd.main([str(view), str(fixtures), "--png", str(tmp_path / "o.png"),
                    "--schema-out", str(schema_out)])  # fmt: skip
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(out) == 1
    assert "OK, 1/1 visualizations" in out[0]
    assert "PNG 1440x600" in out[0]
    assert json.loads(schema_out.read_text()) == SCHEMA


def test_main_fails_on_a_stale_png_and_a_missing_fixture(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(rd, "studio_missing", lambda studio: None)
    monkeypatch.setattr(rd, "run_render", fake_render(clean_result(), write_png=False))
    monkeypatch.setattr(rd, "jsonschema_errors", lambda definition, schema: [])
    view, fixtures = write_inputs(tmp_path, {})
    png = tmp_path / "o.png"
    png.write_bytes(png_bytes())  # left over from an earlier run: must not count
    code = rd.main([str(view), str(fixtures), "--png", str(png)])
    err = capsys.readouterr().err
    assert code == 1
    assert "data source ds_a has no fixture" in err
    assert "was not written" in err


def test_main_without_the_harness_says_how_to_install_it(tmp_path: Path, capsys) -> None:
    view, fixtures = write_inputs(tmp_path, GOOD_FIXTURES)
    code = rd.main([str(view), str(fixtures), "--png", str(tmp_path / "o.png"),
                    "--studio", str(tmp_path / "nowhere")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "render (1)" in err
    assert "npm ci" in err or "node is not on PATH" in err


def test_main_refuses_a_simple_xml_view(tmp_path: Path, capsys) -> None:
    view = tmp_path / "classic.xml"
    view.write_text('<dashboard version="1.1"><label>x</label></dashboard>')
    fixtures = tmp_path / "f.json"
    fixtures.write_text("{}")
    assert rd.main([str(view), str(fixtures), "--png", str(tmp_path / "o.png")]) == 1
    assert 'version="2"' in capsys.readouterr().err


def test_readiness_names_the_missing_step(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(rd.shutil, "which", lambda name: "/usr/bin/node")
    studio = ready_studio(tmp_path)
    assert rd.studio_missing(studio) is None
    (studio / "dist" / "harness.js").unlink()
    assert "build.sh" in rd.studio_missing(studio)
    assert "npm ci" in rd.studio_missing(tmp_path / "empty")
    monkeypatch.setattr(rd.shutil, "which", lambda name: None)
    assert "node is not on PATH" in rd.studio_missing(studio)
