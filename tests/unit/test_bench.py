"""`make bench` (tools/bench.py): its statistics, verdicts and table, and one short real run."""

from __future__ import annotations

import resource
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import REPO, python_for
from tools.bench import (
    Machine,
    PackageInfo,
    PythonResult,
    count_text,
    cpu_model,
    kinds_text,
    main,
    maxrss_bytes,
    measure,
    median,
    percentile,
    render_report,
    render_results,
    render_table,
    table_rows,
    verdict_text,
)

MB = 1_000_000


def result(label: str, poll_ms: float, floor_ms: float, **overrides) -> PythonResult:
    values = dict(
        label=label,
        version=label + ".0",
        poll_walls=[poll_ms / 1000] * 5,
        poll_rss=[30 * MB] * 5,
        floor_walls=[floor_ms / 1000] * 5,
        floor_rss=[25 * MB] * 5,
        splunkd_requests=[7] * 5,
        splunkd_by_kind=[{"conf": 2, "passwords": 1, "kvstore_read": 1}] * 5,
        api_requests=[1] * 5,
    )
    values.update(overrides)
    return PythonResult(**values)


SMALL_PACKAGE = PackageInfo("dist/TA-socdefenders-1.0.0.tar.gz", 3_500_000, 400)


def row_of(rows, metric_start: str):
    matches = [row for row in rows if row[0].startswith(metric_start)]
    assert len(matches) == 1, metric_start
    return matches[0]


def test_median_and_nearest_rank_p90() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    values = [float(n) for n in range(1, 21)]  # 1..20
    assert percentile(values, 0.9) == 18.0
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1.0, 2.0], 1.0) == 2.0
    with pytest.raises(ValueError, match="no values"):
        median([])
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], 0)


def test_maxrss_is_kib_on_linux_and_bytes_on_macos() -> None:
    assert maxrss_bytes(1000, "linux") == 1_024_000
    assert maxrss_bytes(1000, "darwin") == 1000


def test_counts_and_verdicts_read_plainly() -> None:
    assert count_text([7, 7, 7]) == "7"
    assert count_text([7, 9, 8]) == "7-9"
    assert verdict_text([("3.9", True), ("3.13", True)]) == "yes"
    assert verdict_text([("3.9", False), ("3.13", False)]) == "no"
    assert verdict_text([("3.9", True), ("3.13", False)]) == "no (3.13)"
    runs = [{"conf": 2, "passwords": 1}, {"conf": 3}]
    assert kinds_text(runs) == "conf 2-3, passwords 0-1"


def test_rows_meet_every_target_when_within_them() -> None:
    rows = table_rows([result("3.9", 200, 160), result("3.13", 240, 190)], SMALL_PACKAGE)
    assert row_of(rows, "poll wall time, median") == ("poll wall time, median (ms)", "200",
                                                      "240", "-", "-")  # fmt: skip
    ratio = row_of(rows, "poll / import floor")
    assert ratio[1:] == ("1.25x", "1.26x", "<= 1.3x", "yes")
    assert row_of(rows, "peak RSS of the input")[1:] == ("30.0", "30.0", "<= 40 MB", "yes")
    assert row_of(rows, "splunkd requests")[1:] == ("7", "7", "<= 7", "yes")
    assert row_of(rows, "API requests")[1:] == ("1", "1", "1", "yes")
    assert row_of(rows, "package size")[1:] == ("3.50", "3.50", "<= 4 MB", "yes")
    assert row_of(rows, "package file count")[1:] == ("400", "400", "-", "-")


def test_rows_say_which_python_misses_a_target() -> None:
    slow = result(
        "3.13",
        300,
        190,
        poll_rss=[30 * MB, 41 * MB],
        splunkd_requests=[7, 8],
        api_requests=[1, 2],
    )
    rows = table_rows([result("3.9", 200, 160), slow], PackageInfo("p.tar.gz", 5_230_000, 403))
    assert row_of(rows, "poll / import floor")[-1] == "no (3.13)"
    assert row_of(rows, "peak RSS of the input")[-1] == "no (3.13)"
    assert row_of(rows, "splunkd requests")[2:] == ("7-8", "<= 7", "no (3.13)")
    assert row_of(rows, "API requests")[2:] == ("1-2", "1", "no (3.13)")
    assert row_of(rows, "package size")[1:] == ("5.23", "5.23", "<= 4 MB", "no")


def test_zero_api_requests_do_not_meet_the_one_request_target() -> None:
    rows = table_rows([result("3.9", 200, 160, api_requests=[0, 0])], SMALL_PACKAGE)
    assert row_of(rows, "API requests")[1:] == ("0", "1", "no")


def test_table_is_markdown_with_aligned_columns() -> None:
    table = render_table(("metric", "a", "b"), [("long metric name", "1", "22"), ("x", "333", "4")])
    lines = table.splitlines()
    assert lines[0] == "| metric           |   a |  b |"
    assert lines[1] == "|------------------|----:|---:|"
    assert lines[2] == "| long metric name |   1 | 22 |"
    assert len({len(line) for line in lines}) == 1


def test_report_has_the_machine_date_method_table_and_footnote() -> None:
    results = [result("3.9", 200, 160), result("3.13", 240, 190)]
    table = render_results(results, SMALL_PACKAGE)
    assert table.splitlines()[0].split("|")[1:-1] == [
        " metric                                    ",
        " Python 3.9 ",
        " Python 3.13 ",
        "   target ",
        " met? ",
    ]
    assert "[1] splunkd requests per poll by kind: Python 3.9: conf 2, kvstore_read 1, " in table
    report = render_report(
        table,
        results=results,
        machine=Machine("Linux-6-x86_64", 8, "Some CPU"),
        when=datetime(2025, 3, 4, 5, 6, tzinfo=timezone.utc),
        runs=20,
        package=SMALL_PACKAGE,
    )
    assert report.startswith("# Benchmarks\n")
    assert "- Date: 2025-03-04 05:06 UTC" in report
    assert "- Machine: Linux-6-x86_64, 8 CPUs, Some CPU" in report
    assert "- Pythons: 3.9.0 (Splunk's 3.9), 3.13.0 (Splunk's 3.13)" in report
    assert "- Runs: 20 per Python" in report
    assert "Method: " in report
    assert report.endswith(table)


def test_cpu_model_comes_from_cpuinfo() -> None:
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert cpu_model("")  # falls back to platform.processor() or the machine type


def test_measure_reports_one_childs_exit_output_and_peak_rss() -> None:
    # A child's peak RSS starts from the forked copy of this (test) process, so the big
    # child allocates well beyond this process's own peak.
    size = maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) + 100_000_000
    code = f"import sys; data = bytearray({size}); print(sys.stdin.read().upper())"
    measured = measure([sys.executable, "-c", code], stdin="hello")
    assert measured.returncode == 0
    assert measured.stdout.strip() == "HELLO"
    assert measured.maxrss >= size
    assert measured.wall > 0
    small = measure([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert small.returncode == 3
    assert small.maxrss < measured.maxrss


def test_measure_kills_a_child_past_its_timeout() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        measure([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_bench_runs_end_to_end_on_the_built_addon(
    app_dir: Path, package_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench.py"),
         "--python39", python_for("3.9"), "--python313", python_for("3.13"),
         "--app", str(app_dir), "--package", str(package_file),
         "--runs", "2", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = out.read_text(encoding="utf-8")
    assert "| metric " in report
    assert "| Python 3.9 | Python 3.13 |" in report
    for metric in ("poll / import floor", "peak RSS of the input", "splunkd requests per poll",
                   "API requests per poll", "package size", "package file count"):  # fmt: skip
        assert f"| {metric}" in report
    assert "- Runs: 2 per Python" in report
    assert completed.stdout.startswith("| metric ")
    api_row = next(line for line in report.splitlines() if line.startswith("| API requests"))
    assert api_row.split("|")[2].strip() == "1"  # one API request per successful poll


def test_bench_fails_clearly_when_it_cannot_measure(
    app_dir: Path, package_file: Path, tmp_path: Path, capsys
) -> None:
    common = ["--package", str(package_file), "--out", str(tmp_path / "b.md"), "--runs", "1"]
    assert main(["--python39", "/bin/false", "--python313", "/bin/false", *common]) == 1
    assert "bench: the measurement failed" in capsys.readouterr().err
    missing = ["--app", str(tmp_path / "nothing"), "--python39", "x", "--python313", "x"]
    assert main([*missing, *common]) == 2
    assert "is not built: run `make build` first" in capsys.readouterr().err
    assert not (tmp_path / "b.md").exists()
