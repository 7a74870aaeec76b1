"""`make bench` (tools/bench.py): its statistics, verdicts and table, and one short real run."""

from __future__ import annotations

import inspect
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import REPO, python_for
from tests.support import modinput
from tests.support.ioc_corpus import Corpus
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
    StreamingRunner,
    SyncRun,
    corpus_size_for,
    count_text,
    cpu_model,
    floor_command,
    kinds_text,
    main,
    maxrss_bytes,
    measure,
    measure_launched,
    median,
    per_10k,
    percentile,
    render_report,
    render_results,
    render_sync,
    render_sync_section,
    render_table,
    request_role,
    scan_stream,
    size_label,
    sync_rows,
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


KV = "/servicesNS/nobody/TA-socdefenders/storage/collections/data"


def sync_run(label: str, size: int, **overrides) -> SyncRun:
    """A first sync of ``size`` records: 0.7 indicators a record, 0.3 s of CPU and about
    14 splunkd requests per 10,000 records (a 1M sync within every target)."""
    indicators = size * 7 // 10
    values = dict(
        label=label,
        size=size,
        corpus_size=corpus_size_for(size),
        api_total=size,
        records=size + size // 100,
        indicators=indicators,
        events=indicators + size // 5,
        api_requests=max(1, size // 9_900),
        wall=size / 5_000,
        cpu_user=0.3 * size / 10_000,
        cpu_system=0.0,
        maxrss=(60 if size <= 10_000 else 75) * MB,
        stdout_bytes=size * 860,
        splunkd_by_kind={
            "conf": 3,
            "passwords": 1,
            "kvstore_read": size // 3_000,
            "kvstore_write": size // 900,
        },
        splunkd_by_role={"batch_save": size // 1_000, "budget read": size // 5_000},
        splunkd_connections=1,
        load=(1.25, 1.5),
    )
    values.update(overrides)
    return SyncRun(**values)


def test_sync_sizes_name_columns_and_size_the_corpus() -> None:
    assert [size_label(n) for n in (300, 10_000, 100_000, 1_000_000, 1_500_000)] == [
        "300", "10k", "100k", "1M", "1.5M",
    ]  # fmt: skip
    assert corpus_size_for(1_000_000) == 1_046_848  # 95.5 % of the corpus is in the window
    corpus = Corpus(corpus_size_for(20_000), seed=7)
    served = corpus.answer({"limit": "1"})["meta"]["total"]  # a Pro key: 365 days back
    assert abs(served - 20_000) < 400
    assert per_10k(5.0, 100_000) == 0.5
    assert per_10k(1.0, 0) != per_10k(1.0, 0)  # NaN: no indicators


def test_each_splunkd_request_of_a_sync_is_named_by_its_role() -> None:
    checkpoints = f"{KV}/ta_socdefenders_checkpoints"
    iocs = f"{KV}/socdefenders_iocs"
    assert request_role("POST", checkpoints) == "lock insert"
    assert request_role("DELETE", checkpoints) == "lock release"
    assert request_role("GET", f"{checkpoints}/lock%3A%2F%2Fsocdefenders_iocs") == "lock read"
    assert request_role("GET", f"{checkpoints}/budget%3A%2F%2Fprod") == "budget read"
    assert request_role("GET", f"{checkpoints}/socdefenders_iocs%3A%2F%2Fx") == "state read"
    assert request_role("POST", f"{checkpoints}/batch_save") == "checkpoint save"
    assert request_role("POST", f"{iocs}/batch_find") == "batch_find"
    assert request_role("POST", f"{iocs}/batch_save") == "batch_save"
    assert request_role("GET", iocs) == "expiry and count queries"
    assert request_role("DELETE", iocs) == "expiry delete"
    app = "/servicesNS/nobody/TA-socdefenders"
    assert request_role("GET", f"{app}/configs/conf-ta_socdefenders_settings") == "conf reads"
    assert request_role("GET", f"{app}/properties/limits/kvstore") == "conf reads"
    assert request_role("GET", f"{app}/storage/passwords") == "account key"
    assert request_role("GET", "/services/server/info") == "other"
    assert request_role("GET", f"{KV}/another_collection") == "other"
    assert request_role("PUT", f"{iocs}/batch_save") == "other"


def test_sync_rows_meet_the_targets_on_the_largest_sync_of_each_python() -> None:
    runs = [sync_run("3.9", 10_000), sync_run("3.9", 1_000_000),
            sync_run("3.13", 10_000), sync_run("3.13", 1_000_000)]  # fmt: skip
    rows = sync_rows(runs)
    assert [row[0] for row in rows] == [
        "records served (`meta.total`)",
        "records received [1]",
        "indicators synced (documents) [1]",
        "events written (added + updated)",
        "events on stdout (MB)",
        "vendor API requests (pages)",
        "wall time (s)",
        "CPU of the input, user + sys (s)",
        "CPU per 10,000 indicators (s)",
        "CPU per 10,000 records received (s)",
        "peak RSS of the input (MB)",
        "peak RSS over the 10k sync's (MB)",
        "splunkd requests [2]",
        "splunkd requests per 10,000 indicators",
        "splunkd requests per 10,000 records received",
        "splunkd connections",
        "load average (1 min), start / end",
    ]
    assert all(len(row) == 7 for row in rows)  # metric, four syncs, target, met?
    assert row_of(rows, "indicators synced")[1:3] == ("7,000", "700,000")
    assert row_of(rows, "CPU per 10,000 indicators")[1:] == (
        "0.43", "0.43", "0.43", "0.43", "<= 0.5 s at 1M", "yes",
    )  # fmt: skip
    assert row_of(rows, "CPU per 10,000 records received")[2] == "0.30"
    assert row_of(rows, "peak RSS of the input")[1:] == (
        "60.0", "75.0", "60.0", "75.0", "<= 100 MB at 1M", "yes",
    )  # fmt: skip
    assert row_of(rows, "peak RSS over")[1:] == (
        "+0.0", "+15.0", "+0.0", "+15.0", "<= 20 MB at 1M", "yes",
    )  # fmt: skip
    # 3 + 1 + 333 + 1,111 requests for 700,000 indicators: 20.7 per 10,000
    assert row_of(rows, "splunkd requests [2]")[2] == "1,448"
    assert row_of(rows, "splunkd requests per 10,000 indicators")[2:] == (
        "20.7", "25.7", "20.7", "<= 25 at 1M", "yes",
    )  # fmt: skip
    assert row_of(rows, "load average")[1] == "1.2 / 1.5"


def test_sync_rows_say_which_python_misses_a_target() -> None:
    slow = sync_run("3.9", 1_000_000, cpu_user=40.0, cpu_system=2.0)  # 0.6 s per 10,000
    heavy = sync_run("3.13", 1_000_000, maxrss=130 * MB)
    runs = [sync_run("3.9", 10_000), slow, sync_run("3.13", 10_000), heavy]
    rows = sync_rows(runs)
    assert row_of(rows, "CPU per 10,000 indicators")[2:] == (
        "0.60", "0.43", "0.43", "<= 0.5 s at 1M", "no (3.9)",
    )  # fmt: skip
    assert row_of(rows, "peak RSS of the input")[-1] == "no (3.13)"
    assert row_of(rows, "peak RSS over")[4:] == ("+70.0", "<= 20 MB at 1M", "no (3.13)")
    empty = sync_run("3.9", 1_000_000, indicators=0)
    assert row_of(sync_rows([empty]), "CPU per 10,000 indicators")[1:] == (
        "nan", "<= 0.5 s at 1M", "no",
    )  # fmt: skip


def test_sync_section_has_its_method_table_roles_and_bounds() -> None:
    runs = [sync_run("3.9", 10_000), sync_run("3.9", 1_000_000),
            sync_run("3.13", 10_000), sync_run("3.13", 1_000_000)]  # fmt: skip
    table = render_sync(runs)
    header = [cell.strip() for cell in table.splitlines()[0].split("|")[1:-1]]
    assert header == ["metric", "Python 3.9, 10k", "Python 3.9, 1M", "Python 3.13, 10k",
                      "Python 3.13, 1M", "target", "met?"]  # fmt: skip
    assert "Corpus sizes: 10k: `Corpus(10,469)`, 1M: `Corpus(1,046,848)`." in table
    assert (
        "[2] splunkd requests by role: Python 3.9, 1M: batch_save 1,000, budget read 200 "
        "(1,448 in all, 14.3 a page; by kind: conf 3, kvstore_read 333, kvstore_write 1111, "
        "passwords 1); Python 3.13, 1M: "
    ) in table
    section = render_sync_section(runs)
    assert section.startswith("## First sync of the indicators input (`socdefenders_iocs`)\n")
    assert "one first sync of 10k, 1M records" in section
    assert "`lookback_days = 365`" in section
    assert "`max_age_days = 3650`" in section
    assert table in section
    assert "What bounds each figure:" in section
    for bound in ("- CPU grows with the records.", "- Peak RSS is", "- splunkd requests, per"):
        assert bound in section
    stats = render_results([result("3.9", 200, 160)], SMALL_PACKAGE)
    report = render_report(
        stats,
        results=[result("3.9", 200, 160)],
        machine=Machine("Linux", 2, "Some CPU"),
        when=datetime(2025, 3, 4, 5, 6, tzinfo=timezone.utc),
        runs=20,
        package=SMALL_PACKAGE,
        load=(1.5, 1.25, 0.875),
        sync=section,
    )
    assert "- Load average (1, 5, 15 min) at the start: 1.50, 1.25, 0.88\n" in report
    assert report.index("## One poll of the stats input") < report.index(stats)
    assert report.endswith(stats + "\n" + section)


def ioc_event(sourcetype: str, data: str) -> str:
    return (
        '<event unbroken="1"><time>1.000</time><source>socdefenders_iocs://x</source>'
        f"<sourcetype>{sourcetype}</sourcetype><data>{data}</data><done /></event>"
    )


def test_scan_stream_counts_the_events_and_keeps_the_summary(tmp_path: Path) -> None:
    stream = tmp_path / "stdout.xml"
    events = [ioc_event("socdefenders:ioc", f'{{"n": {n}}}') for n in range(3)]
    summary = ioc_event("socdefenders:ioc:sync", '{"completed": true, "q": "a &amp; &lt;b&gt;"}')
    stream.write_text("<stream>" + "".join(events) + summary + "</stream>")
    counts, kept = scan_stream(stream)
    assert counts == {"socdefenders:ioc": 3, "socdefenders:ioc:sync": 1}
    [event] = modinput.parse_stream(kept)
    assert (event["sourcetype"], event["data"]) == (
        "socdefenders:ioc:sync", '{"completed": true, "q": "a & <b>"}',
    )  # fmt: skip
    stream.write_text("<stream>" + "".join(events) + events[0][:40])  # the process died
    assert scan_stream(stream) == ({"socdefenders:ioc": 3}, "")
    stream.write_text("")
    assert scan_stream(stream) == ({}, "")


def test_measure_reports_the_childs_cpu_time() -> None:
    busy = measure([sys.executable, "-c", "sum(range(10_000_000))"])
    assert busy.returncode == 0
    assert busy.cpu == busy.cpu_user + busy.cpu_system
    assert 0.02 < busy.cpu <= busy.wall + 0.05
    idle = measure([sys.executable, "-c", "import time; time.sleep(0.3)"])
    assert idle.wall >= 0.3 > idle.cpu


def test_a_launched_child_reports_its_own_peak_rss_not_this_process(tmp_path: Path) -> None:
    # a child forked from this process reports this process's peak RSS when larger (the
    # bench's process holds the emulators' data): the launcher starts it from a small one
    ballast = bytearray(300_000_000)
    ballast[::4096] = b"x" * len(ballast[::4096])  # resident
    code = "import sys; sum(range(2_000_000)); sys.stdout.write(sys.stdin.read()); sys.exit(3)"
    direct = measure([sys.executable, "-S", "-c", code], stdin="in")
    launched = measure_launched([sys.executable, "-S", "-c", code], tmp_path, stdin="in")
    del ballast
    assert direct.maxrss > 300_000_000
    assert launched.maxrss < 100_000_000
    assert (launched.returncode, launched.stdout) == (3, "in")
    assert launched.args == (sys.executable, "-S", "-c", code)
    assert 0 < launched.cpu <= launched.wall + 0.05


def test_a_launched_child_past_its_timeout_is_killed_with_its_launcher(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(30)"
    with pytest.raises(subprocess.TimeoutExpired):
        measure_launched([sys.executable, "-c", code], tmp_path, timeout=3)
    pid = int(pid_file.read_text())
    for _ in range(50):
        status = Path(f"/proc/{pid}/status")
        if not status.exists() or "zombie" in status.read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail("the launched child outlived its timeout")


def test_streaming_runner_keeps_stdout_on_disk_and_hands_back_the_summary(
    tmp_path: Path,
) -> None:
    event = ioc_event("socdefenders:ioc", '{"n": 1}')
    code = (
        "import sys\n"
        f"sys.stdout.write('<stream>' + {event!r} * 2000 + "
        f"{ioc_event('socdefenders:ioc:sync', 'done')!r} + '</stream>')\n"
        "sys.stderr.write(sys.stdin.read())\n"
    )
    runner = StreamingRunner(tmp_path / "stdout.xml")
    completed = runner([sys.executable, "-c", code], input="from stdin", capture_output=True,
                       text=True, timeout=30, env=None, check=False)  # fmt: skip
    assert (completed.returncode, completed.stderr) == (0, "from stdin")
    assert [e["data"] for e in modinput.parse_stream(completed.stdout)] == ["done"]
    assert runner.counts == {"socdefenders:ioc": 2000, "socdefenders:ioc:sync": 1}
    assert runner.last is not None
    assert runner.last.stdout == ""
    assert (tmp_path / "stdout.xml").stat().st_size > 2000 * len(event)
    assert runner.last.cpu > 0


def test_bench_runs_end_to_end_on_the_built_addon(
    app_dir: Path, package_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench.py"),
         "--python39", python_for("3.9"), "--python313", python_for("3.13"),
         "--app", str(app_dir), "--package", str(package_file),
         "--runs", "2", "--sync-sizes", "1000,3000", "--out", str(out), "--quiet"],
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
    # the first syncs: one page each (under 10,000 records), every request named
    section = report[report.index("## First sync of the indicators input") :]
    assert "| Python 3.9, 1k | Python 3.9, 3k | Python 3.13, 1k | Python 3.13, 3k |" in section
    assert cells["vendor API requests (pages)"] == ["1", "1", "1", "1", "-", "-"]
    assert cells["splunkd connections"] == ["1", "1", "1", "1", "-", "-"]
    assert cells["records received [1]"] == cells["records served (`meta.total`)"]
    # one page: every indicator added once, none updated
    assert cells["events written (added + updated)"] == cells["indicators synced (documents) [1]"]
    assert 600 < int(cells["indicators synced (documents) [1]"][0].replace(",", "")) < 800
    assert all(float(value) > 0 for value in cells["CPU of the input, user + sys (s)"][:4])
    assert cells["peak RSS of the input (MB)"][4] == "<= 100 MB at 3k"
    roles = next(line for line in section.splitlines() if line.startswith("[2] "))
    assert "other" not in roles
    for role in ("lock insert", "lock release", "budget read", "batch_find", "batch_save",
                 "checkpoint save", "conf reads", "account key", "state read"):  # fmt: skip
        assert f"{role} " in roles
    assert "| records served" in completed.stdout  # both tables printed


def test_bench_fails_clearly_when_it_cannot_measure(
    app_dir: Path, package_file: Path, tmp_path: Path, capsys
) -> None:
    common = ["--package", str(package_file), "--out", str(tmp_path / "b.md"), "--runs", "1"]
    assert main(["--python39", "/bin/false", "--python313", "/bin/false", *common]) == 1
    assert "bench: the measurement failed" in capsys.readouterr().err
    missing = ["--app", str(tmp_path / "nothing"), "--python39", "x", "--python313", "x"]
    assert main([*missing, *common]) == 2
    assert "is not built: run `make build` first" in capsys.readouterr().err
    for sizes in ("10k", "0,1000"):
        with pytest.raises(SystemExit):
            main(["--python39", "x", "--python313", "x", *common, "--sync-sizes", sizes])
    assert "--sync-sizes" in capsys.readouterr().err
    assert not (tmp_path / "b.md").exists()
