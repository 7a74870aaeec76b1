"""`make bench`: measure one poll of the built input against the library floor.

For each Splunk Python (3.9 and 3.13) it starts the vendor API emulator (TLS) and the
splunkd emulator once, runs the built ``bin/socdefenders_ioc_stats.py`` exactly as
``tests/support/modinput.run_input`` does (``python -B -s -S``, ``$SPLUNK_HOME``, XML on
stdin) once to warm up and then ``--runs`` times, each time followed by one start of the
library floor (``import splunklib.modularinput, solnlib.conf_manager, solnlib.log,
requests, ssl; ssl.create_default_context()`` from the add-on's ``lib/``, same
interpreter, flags, environment and working directory: what any add-on on these
libraries pays). Every process is timed from spawn to reap and its peak RSS read from
``wait4``; the input is started through ``run_input``'s ``runner`` argument, and the
splunkd emulator counts each poll's requests and the connections they came on. One more
start per Python runs the input under this tool's own runner, which wraps
``ssl.SSLContext.load_default_certs`` and ``load_verify_locations`` to count CA-store
loads (that start is not timed). It prints one Markdown table (wall time, the ratio to the
floor, peak RSS, splunkd requests and connections, CA-store loads and API requests per
poll, package and ``lib/`` size, each target and whether it is met) and writes it with the
machine and date to ``--out``. It measures, it does not judge: it exits 0 whether targets
are met or not, and non-zero only when the measurement itself failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import modinput  # noqa: E402
from tests.support.splunkd import Splunkd  # noqa: E402
from tests.support.vendor_api import PRO_KEY, VendorApi  # noqa: E402
from tools.package_report import file_count, package_lib_bytes  # noqa: E402

COLLECTION = "ta_socdefenders_checkpoints"  # default/collections.conf creates it
ACCOUNT = "bench"
INPUT = "bench_stats"
# The library floor: the imports any add-on on these libraries makes, and one default
# CA-store load.
FLOOR_IMPORTS = "splunklib.modularinput, solnlib.conf_manager, solnlib.log, requests, ssl"
FLOOR_CODE = f"import {FLOOR_IMPORTS}; ssl.create_default_context()"
MB = 1_000_000  # decimal megabytes, as tools/package_report.py prints them

# The targets.
TARGET_API_REQUESTS = 1  # exactly one API request per successful poll
TARGET_SPLUNKD_REQUESTS = 5
TARGET_SPLUNKD_CONNECTIONS = 1
TARGET_SYSTEM_CA_LOADS = 1  # splunkd's pool (verification off still loads the store)
TARGET_RATIO = 1.25
TARGET_RSS_MB = 40.0
TARGET_PACKAGE_MB = 5.5
TARGET_LIB_MB = 3.5

# Runs the input with ssl.SSLContext's two CA-loading methods counted; the counts go, as
# JSON, to the file named by $BENCH_CA_COUNTS when the process exits.
CA_COUNTING_WRAPPER = """\
import atexit, json, os, runpy, ssl, sys
COUNTS = {"load_default_certs": 0, "load_verify_locations": 0}
def counted(name):
    original = getattr(ssl.SSLContext, name)
    def wrapper(self, *args, **kwargs):
        COUNTS[name] += 1
        return original(self, *args, **kwargs)
    setattr(ssl.SSLContext, name, wrapper)
for name in COUNTS:
    counted(name)
def save():
    with open(os.environ["BENCH_CA_COUNTS"], "w") as handle:
        json.dump(COUNTS, handle)
atexit.register(save)
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(script)
runpy.run_path(script, run_name="__main__")
"""


class BenchError(Exception):
    """The measurement itself failed (a run crashed, wrote no event, timed out...)."""


# -- pure helpers -------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with ``fraction`` of the values at or below."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    ordered = sorted(values)
    return float(ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)])


def maxrss_bytes(ru_maxrss: int, system: str = sys.platform) -> int:
    """``ru_maxrss`` in bytes: Linux reports KiB, macOS bytes."""
    return ru_maxrss if system == "darwin" else ru_maxrss * 1024


def count_text(values: Sequence[int]) -> str:
    """``5`` when every run made the same count, else ``min-max``."""
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def verdict_text(verdicts: Sequence[Tuple[str, bool]]) -> str:
    """``yes`` when all pass, ``no`` when all fail, else ``no (<labels that fail>)``."""
    failing = [label for label, ok in verdicts if not ok]
    if not failing:
        return "yes"
    if len(failing) == len(verdicts):
        return "no"
    return f"no ({', '.join(failing)})"


def kinds_text(by_kind: Sequence[Mapping[str, int]]) -> str:
    """Per-kind requests of the runs: ``conf 2, passwords 1`` (``min-max`` where runs differ)."""
    kinds = sorted({kind for run in by_kind for kind in run})
    return ", ".join(
        f"{kind} {count_text([run.get(kind, 0) for run in by_kind])}" for kind in kinds
    )


@dataclass
class PythonResult:
    """What the runs on one interpreter measured; walls in seconds, RSS in bytes."""

    label: str  # "3.9"
    version: str  # "3.9.18"
    poll_walls: List[float] = field(default_factory=list)
    poll_rss: List[int] = field(default_factory=list)
    floor_walls: List[float] = field(default_factory=list)
    floor_rss: List[int] = field(default_factory=list)
    splunkd_requests: List[int] = field(default_factory=list)
    splunkd_by_kind: List[Dict[str, int]] = field(default_factory=list)
    splunkd_connections: List[int] = field(default_factory=list)
    api_requests: List[int] = field(default_factory=list)
    # CA-store loads of the one counted start: ssl.SSLContext method -> calls
    ca_loads: Dict[str, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return median(self.poll_walls) / median(self.floor_walls)


@dataclass(frozen=True)
class PackageInfo:
    path: str
    size_bytes: int
    files: int
    lib_bytes: int  # lib/ unpacked


def package_info(package: Path) -> PackageInfo:
    return PackageInfo(
        str(package), package.stat().st_size, file_count(package), package_lib_bytes(package)
    )


Row = Tuple[str, ...]


def table_rows(results: Sequence[PythonResult], package: PackageInfo) -> List[Row]:
    """Rows of the table: metric, one value per Python, target, met?."""

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f}"

    def mb(size: float) -> str:
        return f"{size / MB:.1f}"

    def row(metric: str, values: Sequence[str], target: str = "-", met: str = "-") -> Row:
        return (metric, *values, target, met)

    def met(test: Any) -> str:
        return verdict_text([(result.label, bool(test(result))) for result in results])

    def exactly(metric: str, values: Any, target: int) -> Row:
        return row(
            metric,
            [count_text(values(r)) for r in results],
            f"{target}",
            met(lambda r: set(values(r)) == {target}),
        )

    package_mb = package.size_bytes / MB
    lib_mb = package.lib_bytes / MB
    return [
        row("poll wall time, median (ms)", [ms(median(r.poll_walls)) for r in results]),
        row("poll wall time, p90 (ms)", [ms(percentile(r.poll_walls, 0.9)) for r in results]),
        row("library floor wall time, median (ms)", [ms(median(r.floor_walls)) for r in results]),
        row(
            "poll / library floor (medians)",
            [f"{r.ratio:.2f}x" for r in results],
            f"<= {TARGET_RATIO}x",
            met(lambda r: r.ratio <= TARGET_RATIO),
        ),
        row(
            "peak RSS of the input, max over runs (MB)",
            [mb(max(r.poll_rss)) for r in results],
            f"<= {TARGET_RSS_MB:.0f} MB",
            met(lambda r: max(r.poll_rss) <= TARGET_RSS_MB * MB),
        ),
        row("peak RSS of the library floor (MB)", [mb(max(r.floor_rss)) for r in results]),
        exactly("splunkd requests per poll [1]", lambda r: r.splunkd_requests,
                TARGET_SPLUNKD_REQUESTS),
        exactly("splunkd connections per poll", lambda r: r.splunkd_connections,
                TARGET_SPLUNKD_CONNECTIONS),
        exactly("system CA-store loads per poll [2]",
                lambda r: [r.ca_loads.get("load_default_certs", 0)], TARGET_SYSTEM_CA_LOADS),
        row("CA-file loads per poll [2]",
            [str(r.ca_loads.get("load_verify_locations", 0)) for r in results]),
        exactly("API requests per poll", lambda r: r.api_requests, TARGET_API_REQUESTS),
        row(
            "package size (MB, .tar.gz)",
            [f"{package_mb:.2f}"] * len(results),
            f"<= {TARGET_PACKAGE_MB} MB",
            "yes" if package_mb <= TARGET_PACKAGE_MB else "no",
        ),
        row(
            "lib/ unpacked (MB)",
            [f"{lib_mb:.2f}"] * len(results),
            f"<= {TARGET_LIB_MB} MB",
            "yes" if lib_mb <= TARGET_LIB_MB else "no",
        ),
        row("package file count", [str(package.files)] * len(results)),
    ]  # fmt: skip


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with aligned columns (first column left, the others right)."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (width + 1) + (":" if i else "-") for i, width in enumerate(widths)
    ) + "|"  # fmt: skip
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def render_results(results: Sequence[PythonResult], package: PackageInfo) -> str:
    """The table and its footnote."""
    header = ("metric", *(f"Python {r.label}" for r in results), "target", "met?")
    kinds = "; ".join(f"Python {r.label}: {kinds_text(r.splunkd_by_kind)}" for r in results)
    return (
        render_table(header, table_rows(results, package))
        + f"\n\n[1] splunkd requests per poll by kind: {kinds}.\n"
        + "[2] Counted in one more start per Python under the bench's own runner, which "
        "wraps `ssl.SSLContext.load_default_certs` (the system store: urllib3 loads it for "
        "splunkd's connection, verification off) and `load_verify_locations` (a CA file: "
        "the account's CA bundle for the API's connection).\n"
    )


@dataclass(frozen=True)
class Machine:
    platform: str
    cpus: int
    cpu_model: str


def cpu_model(cpuinfo: str = "") -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def this_machine() -> Machine:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        cpuinfo = ""
    return Machine(platform.platform(), os.cpu_count() or 0, cpu_model(cpuinfo))


def render_report(
    table: str,
    *,
    results: Sequence[PythonResult],
    machine: Machine,
    when: datetime,
    runs: int,
    package: PackageInfo,
) -> str:
    pythons = ", ".join(f"{r.version} (Splunk's {r.label})" for r in results)
    return (
        "# Benchmarks\n\n"
        "Written by `make bench` (`tools/bench.py`); run it again rather than edit this file.\n\n"
        f"- Date: {when.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- Machine: {machine.platform}, {machine.cpus} CPUs, {machine.cpu_model}\n"
        f"- Pythons: {pythons}\n"
        f"- Runs: {runs} per Python, after one warm-up run\n"
        f"- Package: `{Path(package.path).name}`\n\n"
        "Method: on loopback, each poll is one start of the built input as splunkd runs it "
        "(`python -B -s -S bin/socdefenders_ioc_stats.py`, `<input>` XML on stdin) against the "
        "vendor API and splunkd emulators with a saved checkpoint (the splunkd emulator keeps "
        "connections alive as splunkd does), alternated with one start of the library floor "
        f"(`{FLOOR_CODE}` from the add-on's `lib/`, same interpreter, flags and environment); "
        "wall time runs from spawn to reap, peak RSS is the process's `ru_maxrss`, MB are "
        "10^6 bytes. The CPU may be shared with other work: compare runs on one machine.\n\n"
        + table
    )


# -- measuring processes ------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """One process start: what ran, how it ended, and what it cost."""

    args: Tuple[str, ...]
    env: Optional[Dict[str, str]]
    cwd: Optional[str]
    returncode: int
    stdout: str
    stderr: str
    wall: float  # seconds, spawn to reap
    maxrss: int  # bytes


def measure(
    args: Sequence[str],
    *,
    stdin: str = "",
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: float = 120,
) -> Measured:
    """Run ``args`` to the end; wall time and peak RSS of this one child (``os.wait4``)."""
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)]
        stdin_file, stdout_file, stderr_file = files
        stdin_file.write(stdin.encode("utf-8"))
        stdin_file.seek(0)
        started = time.perf_counter()
        process = subprocess.Popen(
            list(args),
            stdin=stdin_file,
            stdout=stdout_file,
            stderr=stderr_file,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if killed.is_set():
            raise subprocess.TimeoutExpired(list(args), timeout)
        stdout_file.seek(0)
        stderr_file.seek(0)
        return Measured(
            args=tuple(args),
            env=None if env is None else dict(env),
            cwd=cwd,
            returncode=process.returncode,
            stdout=stdout_file.read().decode("utf-8", "replace"),
            stderr=stderr_file.read().decode("utf-8", "replace"),
            wall=wall,
            maxrss=maxrss_bytes(usage.ru_maxrss),
        )


class MeasuringRunner:
    """A ``runner`` for ``modinput.run_input``: starts the process through `measure`, so the
    input runs with exactly ``run_input``'s command, environment, stdin and working
    directory, and keeps the cost of the last process it started in ``last``."""

    def __init__(self) -> None:
        self.last: Optional[Measured] = None

    def __call__(
        self,
        args: Sequence[str],
        *,
        input: Optional[str] = None,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        **_: Any,  # capture_output, text, check: run_input always captures text, no check
    ) -> subprocess.CompletedProcess:
        self.last = measure(args, stdin=input or "", env=env, cwd=cwd, timeout=timeout or 120)
        return subprocess.CompletedProcess(
            list(args), self.last.returncode, self.last.stdout, self.last.stderr
        )


def python_version(python: str) -> str:
    completed = subprocess.run(
        [python, "-S", "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return completed.stdout.strip()


def floor_command(python: str, lib: Path, code: str = FLOOR_CODE) -> List[str]:
    return [python, "-B", "-s", "-S", "-c", f"import sys; sys.path.insert(0, {str(lib)!r}); {code}"]


class CaCountingRunner:
    """A ``runner`` for ``modinput.run_input`` that starts the input under
    `CA_COUNTING_WRAPPER` and keeps the CA-store loads it counted in ``counts``."""

    def __init__(self, scratch: Path) -> None:
        self.wrapper = scratch / "count_ca_loads.py"
        self.wrapper.write_text(CA_COUNTING_WRAPPER, encoding="utf-8")
        self.output = scratch / "ca_loads.json"
        self.counts: Dict[str, int] = {}

    def __call__(self, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
        *interpreter, script = args
        env = {**kwargs.pop("env", {}), "BENCH_CA_COUNTS": str(self.output)}
        completed = subprocess.run(
            [*interpreter, str(self.wrapper), script], env=env, **kwargs
        )  # fmt: skip
        self.counts = json.loads(self.output.read_text(encoding="utf-8"))
        return completed


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def bench_python(
    label: str, python: str, app: Path, runs: int, scratch: Path, progress: Any = None
) -> PythonResult:
    """Warm-up, then ``runs`` polls each followed by one start of the library floor, then
    one start that counts CA-store loads."""
    result = PythonResult(label=label, version=python_version(python))
    with VendorApi(scratch / "api") as api, Splunkd(scratch / "splunkd") as splunkd:
        splunkd.collections.add(COLLECTION)
        splunkd.add_account(ACCOUNT, PRO_KEY, base_url=api.base_url, ca_bundle=str(api.ca_file))
        home = modinput.make_splunk_home(scratch / "splunk", app)
        inputs = {INPUT: {"account": ACCOUNT, "index": "main", "interval": "900"}}
        runner = MeasuringRunner()
        counting = CaCountingRunner(scratch)

        def poll(index: str, runner: Any) -> None:
            api.requests.clear()
            splunkd.reset_requests()
            run = modinput.run_input(python, home, splunkd, inputs, runner=runner)
            where = f"Python {label}, {index} of the input"
            if run.returncode != 0 or len(run.events) != 1:
                raise BenchError(
                    f"{where}: exit code {run.returncode}, {len(run.events)} event(s), "
                    f"expected 0 and 1\n--- stderr ---\n{_tail(run.stderr)}\n"
                    f"--- add-on log ---\n{_tail(run.log)}"
                )
            if splunkd.errors:
                raise BenchError(f"{where}: splunkd emulator error\n{splunkd.errors[-1]}")

        poll("warm-up run", runner)  # saves the first checkpoint
        for index in range(1, runs + 1):
            runner.last = None
            poll(f"run {index}", runner)
            measured = runner.last
            if measured is None:
                raise BenchError("run_input did not start the input through its runner")
            result.poll_walls.append(measured.wall)
            result.poll_rss.append(measured.maxrss)
            result.splunkd_requests.append(len(splunkd.requests))
            result.splunkd_by_kind.append(dict(splunkd.requests_by_kind()))
            result.splunkd_connections.append(splunkd.connections)
            result.api_requests.append(len(api.requests))
            lib = Path(measured.args[-1]).parent.parent / "lib"
            floor = measure(
                floor_command(python, lib), env=measured.env, cwd=measured.cwd, timeout=120
            )
            if floor.returncode != 0:
                raise BenchError(
                    f"Python {label}, library floor run {index}: exit code "
                    f"{floor.returncode}\n{_tail(floor.stderr)}"
                )
            result.floor_walls.append(floor.wall)
            result.floor_rss.append(floor.maxrss)
            if progress:
                progress(f"Python {label}: run {index}/{runs}: poll {measured.wall * 1000:.0f} "
                         f"ms, floor {floor.wall * 1000:.0f} ms")  # fmt: skip
        poll("CA-counting run", counting)
        result.ca_loads = dict(counting.counts)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python39", required=True, help="Splunk 9's Python 3.9")
    parser.add_argument("--python313", required=True, help="Splunk 10's Python 3.13")
    parser.add_argument("--app", type=Path, default=REPO / "output" / "TA-socdefenders")
    parser.add_argument("--package", type=Path, required=True, help="the built .tar.gz")
    parser.add_argument("--runs", type=int, default=20, help="measured runs per Python")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress on stderr")
    arguments = parser.parse_args(argv)
    package = arguments.package
    if arguments.runs < 1:
        parser.error("--runs must be at least 1")
    if not (arguments.app / "bin" / "socdefenders_ioc_stats.py").is_file():
        print(f"{arguments.app} is not built: run `make build` first", file=sys.stderr)
        return 2
    if not package.is_file():
        print(f"{package} is missing: run `make package` first", file=sys.stderr)
        return 2

    def progress(message: str) -> None:
        if not arguments.quiet:
            print(message, file=sys.stderr, flush=True)

    pythons = (("3.9", arguments.python39), ("3.13", arguments.python313))
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="socdefenders-bench-") as scratch:
            for label, python in pythons:
                where = Path(scratch) / f"py{label}"
                results.append(
                    bench_python(label, python, arguments.app, arguments.runs, where, progress)
                )
    except (BenchError, subprocess.SubprocessError, OSError) as error:
        print(f"bench: the measurement failed: {error}", file=sys.stderr)
        return 1
    info = package_info(package)
    table = render_results(results, info)
    report = render_report(
        table,
        results=results,
        machine=this_machine(),
        when=datetime.now(timezone.utc),
        runs=arguments.runs,
        package=info,
    )
    print(table, end="")
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(report, encoding="utf-8")
    print(f"\nwritten to {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
