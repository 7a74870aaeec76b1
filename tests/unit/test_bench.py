"""`make bench` (tools/bench.py): its statistics, verdicts and table, and one short real run."""

from __future__ import annotations

import inspect
import resource
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import REPO, python_for
from tests.support import modinput
from tests.support.tls import make_server_certificate
from tools.bench import (
    CA_COUNTING_WRAPPER,
    FLOOR_CODE,
    FLOOR_IMPORTS,
    CaCountingRunner,
    Machine,
    MeasuringRunner,
    PackageInfo,
    PythonResult,
    count_text,
    cpu_model,
    floor_command,
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
        splunkd_requests=[5] * 5,
        splunkd_by_kind=[{"conf": 2, "passwords": 1, "kvstore_read": 1, "kvstore_write": 1}] * 5,
        splunkd_connections=[1] * 5,
        api_requests=[1] * 5,
        ca_loads={"load_default_certs": 1, "load_verify_locations": 1},
    )
    values.update(overrides)
    return PythonResult(**values)


SMALL_PACKAGE = PackageInfo("dist/TA-socdefenders-1.0.0.tar.gz", 3_500_000, 400, 3_200_000)


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
    rows = table_rows([result("3.9", 200, 160), result("3.13", 230, 190)], SMALL_PACKAGE)
    assert [row[0] for row in rows] == [
        "poll wall time, median (ms)",
        "poll wall time, p90 (ms)",
        "library floor wall time, median (ms)",
        "poll / library floor (medians)",
        "peak RSS of the input, max over runs (MB)",
        "peak RSS of the library floor (MB)",
        "splunkd requests per poll [1]",
        "splunkd connections per poll",
        "system CA-store loads per poll [2]",
        "CA-file loads per poll [2]",
        "API requests per poll",
        "package size (MB, .tar.gz)",
        "lib/ unpacked (MB)",
        "package file count",
    ]
    assert row_of(rows, "poll wall time, median") == ("poll wall time, median (ms)", "200",
                                                      "230", "-", "-")  # fmt: skip
    ratio = row_of(rows, "poll / library floor")
    assert ratio[1:] == ("1.25x", "1.21x", "<= 1.25x", "yes")
    assert row_of(rows, "peak RSS of the input")[1:] == ("30.0", "30.0", "<= 40 MB", "yes")
    assert row_of(rows, "splunkd requests")[1:] == ("5", "5", "5", "yes")
    assert row_of(rows, "splunkd connections")[1:] == ("1", "1", "1", "yes")
    assert row_of(rows, "system CA-store loads")[1:] == ("1", "1", "1", "yes")
    assert row_of(rows, "CA-file loads")[1:] == ("1", "1", "-", "-")
    assert row_of(rows, "API requests")[1:] == ("1", "1", "1", "yes")
    assert row_of(rows, "package size")[1:] == ("3.50", "3.50", "<= 5.5 MB", "yes")
    assert row_of(rows, "lib/ unpacked")[1:] == ("3.20", "3.20", "<= 3.5 MB", "yes")
    assert row_of(rows, "package file count")[1:] == ("400", "400", "-", "-")


def test_the_floor_imports_what_it_says_from_the_addons_lib(tmp_path: Path) -> None:
    assert FLOOR_CODE.endswith("; ssl.create_default_context()")
    assert FLOOR_CODE.startswith(f"import {FLOOR_IMPORTS};")
    assert FLOOR_IMPORTS == (
        "splunklib.modularinput, solnlib.conf_manager, solnlib.log, requests, ssl"
    )
    lib = tmp_path / "lib"
    for module in ("splunklib", "solnlib"):
        (lib / module).mkdir(parents=True)
        (lib / module / "__init__.py").write_text("")
    (lib / "splunklib" / "modularinput.py").write_text("")
    (lib / "solnlib" / "conf_manager.py").write_text("")
    (lib / "solnlib" / "log.py").write_text("")
    (lib / "requests.py").write_text("import sys; sys.stdout.write('requests imported')\n")
    floor = measure(floor_command(sys.executable, lib))
    assert (floor.returncode, floor.stdout) == (0, "requests imported")
    assert floor_command("py", lib)[:5] == ["py", "-B", "-s", "-S", "-c"]


def test_rows_say_which_python_misses_a_target() -> None:
    slow = result(
        "3.13",
        300,
        190,
        poll_rss=[30 * MB, 41 * MB],
        splunkd_requests=[5, 7],
        splunkd_connections=[1, 3],
        api_requests=[1, 2],
        ca_loads={"load_default_certs": 3},
    )
    package = PackageInfo("p.tar.gz", 5_630_000, 403, 3_600_000)
    rows = table_rows([result("3.9", 200, 160), slow], package)
    assert row_of(rows, "poll / library floor")[-1] == "no (3.13)"
    assert row_of(rows, "peak RSS of the input")[-1] == "no (3.13)"
    assert row_of(rows, "splunkd requests")[2:] == ("5-7", "5", "no (3.13)")
    assert row_of(rows, "splunkd connections")[2:] == ("1-3", "1", "no (3.13)")
    assert row_of(rows, "system CA-store loads")[2:] == ("3", "1", "no (3.13)")
    assert row_of(rows, "CA-file loads")[2] == "0"
    assert row_of(rows, "API requests")[2:] == ("1-2", "1", "no (3.13)")
    assert row_of(rows, "package size")[1:] == ("5.63", "5.63", "<= 5.5 MB", "no")
    assert row_of(rows, "lib/ unpacked")[1:] == ("3.60", "3.60", "<= 3.5 MB", "no")


def test_zero_api_requests_do_not_meet_the_one_request_target() -> None:
    rows = table_rows([result("3.9", 200, 160, api_requests=[0, 0])], SMALL_PACKAGE)
    assert row_of(rows, "API requests")[1:] == ("0", "1", "no")


def test_the_counting_runner_counts_ca_store_loads_of_the_script_it_runs(tmp_path: Path) -> None:
    script_dir = tmp_path / "bin"
    script_dir.mkdir()
    (script_dir / "helper_module.py").write_text("VALUE = 'imported from its own directory'\n")
    ca_file = make_server_certificate(tmp_path / "tls").ca_file
    script = script_dir / "input.py"
    script.write_text(
        "import ssl, sys\n"
        "import helper_module\n"
        "ssl.create_default_context()\n"
        "context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
        "context.load_default_certs()\n"
        f"context.load_verify_locations({str(ca_file)!r})\n"
        "print(helper_module.VALUE, sys.argv[1:], sys.stdin.read())\n"
        "sys.exit(3)\n"
    )
    runner = CaCountingRunner(tmp_path)
    completed = runner(
        [sys.executable, "-B", "-s", "-S", str(script)],
        input="stdin text", capture_output=True, text=True, timeout=30, env={}, check=False,
    )  # fmt: skip
    assert completed.returncode == 3, completed.stderr
    assert completed.stdout.strip() == "imported from its own directory [] stdin text"
    assert runner.counts == {"load_default_certs": 2, "load_verify_locations": 1}
    assert "load_verify_locations" in CA_COUNTING_WRAPPER


def test_table_is_markdown_with_aligned_columns() -> None:
    table = render_table(("metric", "a", "b"), [("long metric name", "1", "22"), ("x", "333", "4")])
    lines = table.splitlines()
    assert lines[0] == "| metric           |   a |  b |"
    assert lines[1] == "|------------------|----:|---:|"
    assert lines[2] == "| long metric name |   1 | 22 |"
    assert len({len(line) for line in lines}) == 1


def test_report_has_the_machine_date_method_table_and_footnotes() -> None:
    results = [result("3.9", 200, 160), result("3.13", 240, 190)]
    table = render_results(results, SMALL_PACKAGE)
    assert table.splitlines()[0].split("|")[1:-1] == [
        " metric                                    ",
        " Python 3.9 ",
        " Python 3.13 ",
        "    target ",
        "      met? ",
    ]
    assert "[1] splunkd requests per poll by kind: Python 3.9: conf 2, kvstore_read 1, " in table
    assert "[2] Counted in one more start per Python" in table
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
    method = next(line for line in report.splitlines() if line.startswith("Method: "))
    assert f"`{FLOOR_CODE}`" in method
    assert "keeps connections alive" in method
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


def test_measuring_runner_runs_like_subprocess_run_and_keeps_the_cost(tmp_path: Path) -> None:
    runner = MeasuringRunner()
    code = "import os, sys; print(sys.stdin.read().upper(), os.getcwd(), os.environ['X'])"
    completed = runner(
        [sys.executable, "-c", code],
        input="hello",
        capture_output=True,
        text=True,
        timeout=30,
        env={"X": "from-env"},
        cwd=str(tmp_path),
        check=False,
    )
    assert isinstance(completed, subprocess.CompletedProcess)
    assert completed.returncode == 0
    assert completed.stdout.split() == ["HELLO", str(tmp_path), "from-env"]
    assert runner.last is not None
    assert runner.last.args == (sys.executable, "-c", code)
    assert runner.last.env == {"X": "from-env"}
    assert runner.last.cwd == str(tmp_path)
    assert runner.last.stdout == completed.stdout
    assert runner.last.wall > 0
    assert runner.last.maxrss > 0
    failed = runner([sys.executable, "-c", "import sys; sys.exit(5)"], capture_output=True)
    assert failed.returncode == 5
    assert runner.last.returncode == 5  # the last start, not the first


def test_run_input_starts_the_input_through_its_runner(tmp_path: Path) -> None:
    parameter = inspect.signature(modinput.run_input).parameters["runner"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is subprocess.run
    calls = []
    stream = '<stream><event stanza="x"><data>{"a": 1}</data></event></stream>'

    def runner(args, **kwargs):
        calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, 3, stream, "some stderr")

    home = modinput.make_splunk_home(tmp_path / "splunk", tmp_path / "app")
    splunkd = SimpleNamespace(uri="https://127.0.0.1:8089", session_key="KEY-1")
    run = modinput.run_input(
        "/py", home, splunkd, {"feed": {"account": "a"}}, timeout=7, runner=runner
    )
    script = home / "etc" / "apps" / modinput.APP / "bin" / f"{modinput.INPUT_TYPE}.py"
    [(args, kwargs)] = calls
    assert args == ["/py", "-B", "-s", "-S", str(script)]
    assert "<session_key>KEY-1</session_key>" in kwargs.pop("input")
    environment = kwargs.pop("env")
    assert environment["SPLUNK_HOME"] == str(home)
    assert environment["PYTHONPATH"] == str(modinput.SUPPORT)
    assert kwargs == {"capture_output": True, "text": True, "timeout": 7, "cwd": str(home),
                      "check": False}  # fmt: skip
    assert (run.returncode, run.stdout, run.stderr) == (3, stream, "some stderr")
    assert [event["data"] for event in run.events] == ['{"a": 1}']


def test_run_input_with_a_measuring_runner_measures_that_one_start(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "bin").mkdir(parents=True)
    (app / "bin" / f"{modinput.INPUT_TYPE}.py").write_text(
        "import os, sys\n"
        "document = sys.stdin.read()\n"
        "sys.stderr.write(os.environ['SPLUNK_HOME'] + ' ' + str('<session_key>' in document))\n"
        "sys.exit(4)\n"
    )
    home = modinput.make_splunk_home(tmp_path / "splunk", app)
    splunkd = SimpleNamespace(uri="https://127.0.0.1:8089", session_key="KEY-1")
    runner = MeasuringRunner()
    run = modinput.run_input(sys.executable, home, splunkd, {"feed": {}}, runner=runner)
    assert (run.returncode, run.stderr, run.events) == (4, f"{home} True", [])
    assert runner.last is not None
    assert runner.last.args[:4] == (sys.executable, "-B", "-s", "-S")
    assert runner.last.args[-1].endswith(f"/bin/{modinput.INPUT_TYPE}.py")
    assert runner.last.cwd == str(home)
    assert runner.last.env is not None
    assert runner.last.env["SPLUNK_HOME"] == str(home)
    assert runner.last.returncode == 4
    assert runner.last.wall > 0
    assert runner.last.maxrss > 0


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
    for metric in ("poll / library floor", "peak RSS of the input", "splunkd requests per poll",
                   "splunkd connections per poll", "system CA-store loads per poll",
                   "API requests per poll", "package size", "lib/ unpacked",
                   "package file count"):  # fmt: skip
        assert f"| {metric}" in report
    cells = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in report.splitlines()
        if line.startswith("| ")
    }
    assert cells["poll / library floor (medians)"][2] == "<= 1.25x"
    assert all(int(value) > 0 for value in cells["library floor wall time, median (ms)"][:2])
    # the counts are deterministic: the pinned ones, on both Pythons
    assert cells["splunkd requests per poll [1]"] == ["5", "5", "5", "yes"]
    assert cells["splunkd connections per poll"] == ["1", "1", "1", "yes"]
    assert cells["system CA-store loads per poll [2]"] == ["1", "1", "1", "yes"]
    assert cells["CA-file loads per poll [2]"][:2] == ["1", "1"]  # the API's CA bundle
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
