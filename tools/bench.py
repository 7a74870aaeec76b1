"""`make bench`: time a poll of the stats input and a first sync of the indicators input.

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
poll, package and ``lib/`` size, each target and whether it is met).

Then, per Python, it measures the FIRST SYNC of the built ``bin/socdefenders_iocs.py`` for
each of ``--sync-sizes`` (by default 10,000, 100,000 and 1,000,000 records served), each
against fresh emulators: a generated corpus (``tests/support/ioc_corpus.py``) sized so
that about that many records are in a Pro key's 365-day window, ``max_age_days`` 3650 (so
nothing expires), the splunkd emulator's KV store with splunkd's limits. The input runs
through ``run_input``'s ``runner`` (`StreamingRunner`: its stdout, about a gigabyte of
events for 1,000,000 records, goes to a file that is scanned once it has exited); it
reports the child's CPU time (user + system, from ``wait4``), peak RSS, wall time, the
vendor and splunkd requests (splunkd's by kind and by role), per 10,000 indicators, and
each target. It prints both tables and writes them with the machine, date and load to
``--out``. It measures, it does not judge: it exits 0 whether targets are met or not, and
non-zero only when the measurement itself failed.
"""

from __future__ import annotations

import argparse
import collections
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
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import unquote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import modinput  # noqa: E402
from tests.support.ioc_corpus import LOOKBACK_SECONDS, SPAN_SECONDS, Corpus  # noqa: E402
from tests.support.splunkd import SETTINGS_CONF, Splunkd  # noqa: E402
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

# The indicators input's first sync (`--sync-sizes`): records served by each sync.
SYNC_SIZES = (10_000, 100_000, 1_000_000)
SYNC_INPUT = "bench_iocs"
SYNC_SEED = 7
SYNC_LOOKBACK_DAYS = 365  # a Pro key's whole window: every record of the corpus's last year
SYNC_MAX_AGE_DAYS = 3650  # nothing expires
IOC_COLLECTION = "socdefenders_iocs"  # default/collections.conf creates it
INDICATORS_STANZA = "indicators"  # of the settings conf: max_age_days
INDICATOR_SOURCETYPE = "socdefenders:ioc"
SYNC_SOURCETYPE = "socdefenders:ioc:sync"
PER = 10_000  # figures per 10,000 indicators (or records)
TARGET_SYNC_CPU = 0.5  # seconds of CPU per 10,000 indicators
TARGET_SYNC_RSS_MB = 100.0
TARGET_SYNC_RSS_GROWTH_MB = 20.0  # over the smallest sync's peak: no growth with the corpus
TARGET_SYNC_SPLUNKD = 25  # splunkd requests per 10,000 indicators
# splunkd requests of an indicators run by role: {collection: {(method, key): role}}; a
# key ending in "://" stands for every record of that prefix.
ROLES: Dict[str, Dict[Tuple[str, str], str]] = {
    COLLECTION: {
        ("POST", ""): "lock insert",
        ("DELETE", ""): "lock release",
        ("GET", "lock://"): "lock read",
        ("GET", "budget://"): "budget read",
        ("GET", "socdefenders_iocs://"): "state read",
        ("POST", "batch_save"): "checkpoint save",
    },
    IOC_COLLECTION: {
        ("POST", "batch_find"): "batch_find",
        ("POST", "batch_save"): "batch_save",
        ("GET", ""): "expiry and count queries",
        ("DELETE", ""): "expiry delete",
    },
}

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

# Starts the command in argv[2:] (same stdin, stdout, stderr, environment and directory),
# waits for it and writes its wall time, CPU times, peak RSS and exit code as JSON to
# argv[1]. A process's peak RSS (``ru_maxrss``) includes the address space it was forked
# from (Linux keeps that high-water mark across exec, vfork and posix_spawn included): the
# bench's own process holds the emulators' data, gigabytes after a sync of 1,000,000
# records, so the input is started from this small process instead.
LAUNCHER = """\
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as handle:
    json.dump({"wall": wall, "returncode": os.waitstatus_to_exitcode(status),
               "maxrss": usage.ru_maxrss, "cpu_user": usage.ru_utime,
               "cpu_system": usage.ru_stime}, handle)
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


# -- the indicators input's first sync: pure helpers --------------------------------------
def size_label(records: int) -> str:
    """``10k``, ``1M``, ``1.5M``, ``300``: a sync's size as a column names it."""
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if records >= unit:
            return f"{records / unit:g}{suffix}"
    return str(records)


def corpus_size_for(records: int) -> int:
    """The corpus that serves about ``records`` records to a first sync of a Pro key with
    a 365-day lookback: the corpus dates a record ``now - SPAN_SECONDS * r**2`` (r uniform
    in [0, 1)), so ``sqrt(365 / 400)`` (95.5 %) of it is in the window."""
    share = math.sqrt(LOOKBACK_SECONDS["pro"] / SPAN_SECONDS)
    return math.ceil(records / share)


def per_10k(value: float, count: int) -> float:
    """``value`` per 10,000 of ``count`` (NaN when there are none)."""
    return value * PER / count if count else math.nan


def request_role(method: str, path: str) -> str:
    """What one splunkd request of an indicators run is for, from its method and path
    (percent-encoded, as recorded: ``.../storage/collections/data/<collection>/<key>``)."""
    segments = [unquote(segment) for segment in path.split("/") if segment]
    if "passwords" in segments:
        return "account key"
    if "configs" in segments or "properties" in segments:
        return "conf reads"
    at = segments.index("collections") if "collections" in segments else -1
    if at < 0 or segments[at + 1 : at + 2] != ["data"] or len(segments) < at + 3:
        return "other"
    collection = segments[at + 2]
    key = segments[at + 3] if len(segments) > at + 3 else ""
    if method == "GET" and "://" in key:
        key = key.split("://", 1)[0] + "://"  # one record of the checkpoint collection
    return ROLES.get(collection, {}).get((method, key), "other")


@dataclass
class SyncRun:
    """One first sync of the indicators input: walls and CPU in seconds, RSS in bytes."""

    label: str  # "3.9"
    size: int  # records the corpus was sized to serve
    corpus_size: int
    api_total: int  # meta.total: records in the window
    records: int  # records received (the 100 re-read at the start of each page included)
    indicators: int  # documents in the collection afterwards: the indicators added
    events: int  # socdefenders:ioc events written (added + updated)
    api_requests: int
    wall: float
    cpu_user: float
    cpu_system: float
    maxrss: int
    stdout_bytes: int
    splunkd_by_kind: Dict[str, int] = field(default_factory=dict)
    splunkd_by_role: Dict[str, int] = field(default_factory=dict)
    splunkd_connections: int = 0
    load: Tuple[float, float] = (0.0, 0.0)  # 1-minute load average at spawn and at reap

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_system

    @property
    def splunkd_requests(self) -> int:
        return sum(self.splunkd_by_kind.values())


def _extremes(runs: Sequence[SyncRun]) -> Tuple[Dict[str, SyncRun], Dict[str, SyncRun]]:
    """Per Python, its smallest and its largest sync."""
    smallest: Dict[str, SyncRun] = {}
    largest: Dict[str, SyncRun] = {}
    for run in runs:
        if run.label not in smallest or run.size < smallest[run.label].size:
            smallest[run.label] = run
        if run.label not in largest or run.size > largest[run.label].size:
            largest[run.label] = run
    return smallest, largest


def sync_rows(runs: Sequence[SyncRun]) -> List[Row]:
    """Rows of the first-sync table: metric, one value per sync, target, met?. The targets
    are judged on the largest sync of each Python; RSS growth is over its smallest."""
    smallest, largest = _extremes(runs)
    judged = list(largest.values())
    top = size_label(max(run.size for run in runs))
    base = size_label(min(run.size for run in runs))

    def growth(run: SyncRun) -> int:
        return run.maxrss - smallest[run.label].maxrss

    def row(metric: str, value: Any, target: str = "-", test: Any = None) -> Row:
        met = "-" if test is None else verdict_text([(r.label, bool(test(r))) for r in judged])
        return (metric, *(value(run) for run in runs), target, met)

    def cpu(run: SyncRun) -> float:
        return per_10k(run.cpu, run.indicators)

    def requests(run: SyncRun) -> float:
        return per_10k(run.splunkd_requests, run.indicators)

    return [
        row("records served (`meta.total`)", lambda r: f"{r.api_total:,}"),
        row("records received [1]", lambda r: f"{r.records:,}"),
        row("indicators synced (documents) [1]", lambda r: f"{r.indicators:,}"),
        row("events written (added + updated)", lambda r: f"{r.events:,}"),
        row("events on stdout (MB)", lambda r: f"{r.stdout_bytes / MB:.1f}"),
        row("vendor API requests (pages)", lambda r: f"{r.api_requests:,}"),
        row("wall time (s)", lambda r: f"{r.wall:.1f}"),
        row("CPU of the input, user + sys (s)", lambda r: f"{r.cpu:.1f}"),
        row("CPU per 10,000 indicators (s)", lambda r: f"{cpu(r):.2f}",
            f"<= {TARGET_SYNC_CPU} s at {top}", lambda r: cpu(r) <= TARGET_SYNC_CPU),
        row("CPU per 10,000 records received (s)",
            lambda r: f"{per_10k(r.cpu, r.records):.2f}"),
        row("peak RSS of the input (MB)", lambda r: f"{r.maxrss / MB:.1f}",
            f"<= {TARGET_SYNC_RSS_MB:.0f} MB at {top}",
            lambda r: r.maxrss <= TARGET_SYNC_RSS_MB * MB),
        row(f"peak RSS over the {base} sync's (MB)", lambda r: f"{growth(r) / MB:+.1f}",
            f"<= {TARGET_SYNC_RSS_GROWTH_MB:.0f} MB at {top}",
            lambda r: growth(r) <= TARGET_SYNC_RSS_GROWTH_MB * MB),
        row("splunkd requests [2]", lambda r: f"{r.splunkd_requests:,}"),
        row("splunkd requests per 10,000 indicators", lambda r: f"{requests(r):.1f}",
            f"<= {TARGET_SYNC_SPLUNKD} at {top}",
            lambda r: requests(r) <= TARGET_SYNC_SPLUNKD),
        row("splunkd requests per 10,000 records received",
            lambda r: f"{per_10k(r.splunkd_requests, r.records):.1f}"),
        row("splunkd connections", lambda r: str(r.splunkd_connections)),
        row("load average (1 min), start / end", lambda r: f"{r.load[0]:.1f} / {r.load[1]:.1f}"),
    ]  # fmt: skip


def roles_text(run: SyncRun) -> str:
    """``batch_save 1,010, budget read 202, ...``: requests by role, most first."""
    ordered = sorted(run.splunkd_by_role.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{role} {count:,}" for role, count in ordered)


def render_sync(runs: Sequence[SyncRun]) -> str:
    """The first-sync table and its footnotes."""
    header = ("metric", *(f"Python {r.label}, {size_label(r.size)}" for r in runs), "target",
              "met?")  # fmt: skip
    _, largest = _extremes(runs)
    corpora = ", ".join(
        f"{size_label(size)}: `Corpus({corpus:,})`"
        for size, corpus in sorted({(r.size, r.corpus_size) for r in runs})
    )
    roles = "; ".join(
        f"Python {r.label}, {size_label(r.size)}: {roles_text(r)} ({r.splunkd_requests:,} in "
        f"all, {r.splunkd_requests / max(r.api_requests, 1):.1f} a page; by kind: "
        f"{kinds_text([r.splunkd_by_kind])})"
        for r in largest.values()
    )
    return (
        render_table(header, sync_rows(runs))
        + "\n\n[1] Records are what the API served, counted by the input (each page after "
        "the first starts 100 records back, re-reading the end of the page before); "
        "indicators are the documents in the collection after the sync, one per (type, "
        "normalised value): the corpus holds 1 to 3 records per indicator and 1 % invalid "
        f"records. Corpus sizes: {corpora}.\n"
        f"[2] splunkd requests by role: {roles}.\n"
    )


def render_sync_section(runs: Sequence[SyncRun]) -> str:
    """The first-sync section: method, table with footnotes, what bounds each figure."""
    sizes = ", ".join(size_label(size) for size in sorted({run.size for run in runs}))
    return (
        "## First sync of the indicators input (`socdefenders_iocs`)\n\n"
        f"Method: per Python, one first sync of {sizes} records, each a start of the built "
        "input as splunkd runs it (`python -B -s -S bin/socdefenders_iocs.py`, `<input>` XML "
        "on stdin) against fresh emulators: the vendor API serving a generated corpus "
        f"(`tests/support/ioc_corpus.py`, seed {SYNC_SEED}, dated by the wall clock) to a Pro "
        f"key (pages of 10,000 records) with `lookback_days = {SYNC_LOOKBACK_DAYS}` and "
        f"`max_age_days = {SYNC_MAX_AGE_DAYS}`, so every record served is in the window and "
        "nothing expires; splunkd's KV store with splunkd's limits (`limits.conf [kvstore]` "
        "defaults). CPU is the user + system time of the input process alone and peak RSS "
        "its `ru_maxrss`, both from `os.wait4` in a small launcher that starts it (the "
        "emulators run in the bench's own process and are not counted; a child of that "
        "process, gigabytes after a large sync, would report its RSS); its stdout (the "
        "events) goes to a file, counted once it has exited. "
        "Per-10,000 figures divide by the indicators synced, the stricter count (a record "
        "is not an indicator: several records of one indicator merge into one document). "
        "The targets are judged on the largest sync of each Python. Wall time includes the "
        "emulators' work (serving pages, storing documents) on the same CPUs and anything "
        "else the machine runs: see the load average row.\n\n"
        + render_sync(runs)
        + "\nWhat bounds each figure:\n\n"
        "- CPU grows with the records. Per record: decoding the page's JSON, `parse_record` "
        "(normalise the type and value, clean and bound every field) and the merge within "
        "the page. Per indicator written (added, or updated when a later page brings more "
        "of its records): the merge with the stored document (`from_document` reads it "
        "again), the document (`to_document`), the event text (`indicator_event`) and its "
        "XML, and its share of the `batch_save` JSON; plus TLS and HTTP for about a "
        "kilobyte of page and of batch body per record.\n"
        "- Peak RSS is the interpreter and its libraries plus the one page being worked on: "
        "its body, its 10,000 decoded records, their indicators, the documents found and "
        "written, the page's events text and a batch body of 1,000 documents. Nothing but "
        "the progress is kept from one page to the next: a larger corpus should not need "
        "more (the row over the smallest sync checks it).\n"
        "- splunkd requests, per page: the writer lock (insert, release), the budget (read "
        "before the request, read again under the lock), one `batch_find` of the page's "
        "keys, `batch_save` in chunks of 1,000 documents (ten for a page whose indicators "
        "are all new or changed), one checkpoint save (state and budget together); per run "
        "a few more (confs, the key, the state, the expiry and count queries under the "
        "lock). Per 10,000 indicators: that per page, times the records per indicator.\n"
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
    load: Optional[Sequence[float]] = None,
    sync: str = "",
) -> str:
    """The whole file: the stats input's table, then ``sync`` (`render_sync_section`)."""
    pythons = ", ".join(f"{r.version} (Splunk's {r.label})" for r in results)
    load_line = (
        f"- Load average (1, 5, 15 min) at the start: {', '.join(f'{v:.2f}' for v in load)}\n"
        if load
        else ""
    )
    return (
        "# Benchmarks\n\n"
        "Written by `make bench` (`tools/bench.py`); run it again rather than edit this file.\n\n"
        f"- Date: {when.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- Machine: {machine.platform}, {machine.cpus} CPUs, {machine.cpu_model}\n"
        + load_line
        + f"- Pythons: {pythons}\n"
        f"- Runs: {runs} per Python, after one warm-up run\n"
        f"- Package: `{Path(package.path).name}`\n\n"
        "## One poll of the stats input (`socdefenders_ioc_stats`)\n\n"
        "Method: on loopback, each poll is one start of the built input as splunkd runs it "
        "(`python -B -s -S bin/socdefenders_ioc_stats.py`, `<input>` XML on stdin) against the "
        "vendor API and splunkd emulators with a saved checkpoint (the splunkd emulator keeps "
        "connections alive as splunkd does), alternated with one start of the library floor "
        f"(`{FLOOR_CODE}` from the add-on's `lib/`, same interpreter, flags and environment); "
        "wall time runs from spawn to reap, peak RSS is the process's `ru_maxrss`, MB are "
        "10^6 bytes. The CPU may be shared with other work: compare runs on one machine.\n\n"
        + table
        + (f"\n{sync}" if sync else "")
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
    cpu_user: float = 0.0  # seconds of CPU in user mode (``ru_utime``) of this one child
    cpu_system: float = 0.0  # ... and in the kernel on its behalf (``ru_stime``)

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_system


def measure(
    args: Sequence[str],
    *,
    stdin: str = "",
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: float = 120,
    stdout_path: Optional[Path] = None,
    new_session: bool = False,
) -> Measured:
    """Run ``args`` to the end; wall time, peak RSS and CPU time of this one child
    (``os.wait4``). With ``stdout_path`` the child's stdout goes to that file (a first
    sync writes about a gigabyte of events) and ``Measured.stdout`` is empty. With
    ``new_session`` the child leads a process group of its own, killed whole on timeout."""
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)]
        stdin_file, stdout_file, stderr_file = files
        if stdout_path is not None:
            stdout_file = stack.enter_context(open(stdout_path, "w+b"))
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
            start_new_session=new_session,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                if new_session:
                    os.killpg(process.pid, signal.SIGKILL)
                else:
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
            stdout="" if stdout_path else stdout_file.read().decode("utf-8", "replace"),
            stderr=stderr_file.read().decode("utf-8", "replace"),
            wall=wall,
            maxrss=maxrss_bytes(usage.ru_maxrss),
            cpu_user=usage.ru_utime,
            cpu_system=usage.ru_stime,
        )


def measure_launched(
    args: Sequence[str],
    scratch: Path,
    *,
    stdin: str = "",
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: float = 120,
    stdout_path: Optional[Path] = None,
) -> Measured:
    """`measure` of ``args`` started by `LAUNCHER` (this interpreter, isolated): its own
    wall time, CPU time and peak RSS, whatever the size of this process."""
    scratch.mkdir(parents=True, exist_ok=True)
    launcher, report = scratch / "launcher.py", scratch / "launched.json"
    launcher.write_text(LAUNCHER, encoding="utf-8")
    with contextlib.suppress(FileNotFoundError):
        report.unlink()
    outer = measure(
        [sys.executable, "-I", "-S", str(launcher), str(report), *args],
        stdin=stdin, env=env, cwd=cwd, timeout=timeout, stdout_path=stdout_path,
        new_session=True,
    )  # fmt: skip
    if not report.is_file():
        raise BenchError(
            f"the launcher of {args[-1]} reported nothing (exit code {outer.returncode})\n"
            f"{_tail(outer.stderr)}"
        )
    launched = json.loads(report.read_text(encoding="utf-8"))
    return replace(
        outer,
        args=tuple(args),
        returncode=int(launched["returncode"]),
        wall=float(launched["wall"]),
        maxrss=maxrss_bytes(int(launched["maxrss"])),
        cpu_user=float(launched["cpu_user"]),
        cpu_system=float(launched["cpu_system"]),
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


# -- the indicators input's first sync: measuring -----------------------------------------
def scan_stream(path: Path, keep: Any = None) -> Tuple[Dict[str, int], str]:
    """Read the ``<stream>`` a modular input wrote to ``path`` one event at a time: its
    events per sourcetype, and a ``<stream>`` of the events ``keep(sourcetype)`` selects
    (default: all but ``socdefenders:ioc``). Output cut short (no ``</stream>``: the
    process died) ends the scan where it ends."""
    keep = keep or (lambda sourcetype: sourcetype != INDICATOR_SOURCETYPE)
    counts: Dict[str, int] = {}
    kept: List[str] = []
    root = None
    try:
        # the input's own output, in a file of ours
        for event, element in ET.iterparse(str(path), events=("start", "end")):  # noqa: S314
            if root is None:
                root = element
            elif event == "end" and element.tag == "event":
                sourcetype = element.findtext("sourcetype") or ""
                counts[sourcetype] = counts.get(sourcetype, 0) + 1
                if keep(sourcetype):
                    kept.append(ET.tostring(element, encoding="unicode"))
                root.clear()  # the events read so far: forgotten
    except ET.ParseError:
        pass  # empty or cut short
    return counts, "<stream>" + "".join(kept) + "</stream>" if kept else ""


class StreamingRunner(MeasuringRunner):
    """A ``runner`` for ``modinput.run_input`` that starts the input by `measure_launched`
    with its stdout to ``stdout_path``; ``run_input`` gets back only the events
    ``scan_stream`` keeps (the summary), and ``counts`` holds the events per sourcetype."""

    def __init__(self, stdout_path: Path) -> None:
        super().__init__()
        self.stdout_path = stdout_path
        self.counts: Dict[str, int] = {}

    def __call__(
        self,
        args: Sequence[str],
        *,
        input: Optional[str] = None,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        **_: Any,
    ) -> subprocess.CompletedProcess:
        self.last = measure_launched(
            args, self.stdout_path.parent, stdin=input or "", env=env, cwd=cwd,
            timeout=timeout or 120, stdout_path=self.stdout_path,
        )  # fmt: skip
        self.counts, stdout = scan_stream(self.stdout_path)
        return subprocess.CompletedProcess(
            list(args), self.last.returncode, stdout, self.last.stderr
        )


def sync_timeout(records: int) -> float:
    """Generous: a first sync of 1,000,000 records takes minutes on a busy 2-CPU machine."""
    return 600 + records * 0.005


def bench_sync(
    label: str, python: str, app: Path, size: int, scratch: Path, progress: Any = None
) -> SyncRun:
    """One first sync of ``size`` records against fresh emulators, measured."""
    scratch.mkdir(parents=True, exist_ok=True)
    corpus_size = corpus_size_for(size)
    corpus = Corpus(corpus_size, seed=SYNC_SEED, now=int(time.time()), clock=time.time)
    with VendorApi(scratch / "api", corpus=corpus) as api, Splunkd(scratch / "splunkd") as splunkd:
        splunkd.record_body_bytes = 0  # about a gigabyte of batch_save bodies: not kept
        splunkd.collections.update((COLLECTION, IOC_COLLECTION))
        splunkd.confs[SETTINGS_CONF][INDICATORS_STANZA] = {"max_age_days": str(SYNC_MAX_AGE_DAYS)}
        splunkd.add_account(ACCOUNT, PRO_KEY, base_url=api.base_url, ca_bundle=str(api.ca_file))
        home = modinput.make_splunk_home(scratch / "splunk", app)
        inputs = {SYNC_INPUT: {"account": ACCOUNT, "lookback_days": str(SYNC_LOOKBACK_DAYS)}}
        runner = StreamingRunner(scratch / "stdout.xml")
        api.requests.clear()
        splunkd.reset_requests()
        load_before = os.getloadavg()[0]
        run = modinput.run_input(
            python, home, splunkd, inputs, input_type=modinput.INDICATORS_INPUT_TYPE,
            runner=runner, timeout=sync_timeout(size),
        )  # fmt: skip
        load_after = os.getloadavg()[0]
        measured = runner.last
        where = f"Python {label}, first sync of {size_label(size)} records"
        summaries = [
            json.loads(e["data"]) for e in run.events if e["sourcetype"] == SYNC_SOURCETYPE
        ]
        summary = summaries[-1] if summaries else {}
        documents = len(splunkd.kvstore.get(IOC_COLLECTION, {}))
        events = runner.counts.get(INDICATOR_SOURCETYPE, 0)
        written = summary.get("indicators_added", -1) + summary.get("indicators_updated", 0)
        problem = ""
        if measured is None:
            raise BenchError("run_input did not start the input through its runner")
        if run.returncode != 0 or len(summaries) != 1 or summary.get("completed") is not True:
            problem = (f"exit code {run.returncode}, {len(summaries)} summary event(s), "
                       f"completed {summary.get('completed')}: expected 0, 1, true")  # fmt: skip
        elif documents != summary.get("lookup_size") or events != written:
            problem = (f"{documents} documents, {events} indicator events; the summary says "
                       f"{summary.get('lookup_size')} and {written}")  # fmt: skip
        elif splunkd.errors:
            problem = f"splunkd emulator error\n{splunkd.errors[-1]}"
        if problem:
            raise BenchError(
                f"{where}: {problem}\n--- stderr ---\n{_tail(run.stderr)}\n"
                f"--- add-on log ---\n{_tail(run.log)}"
            )
        result = SyncRun(
            label=label,
            size=size,
            corpus_size=corpus_size,
            api_total=int(summary.get("api_total") or 0),
            records=int(summary["records_received"]),
            indicators=documents,
            events=events,
            api_requests=len(api.requests),
            wall=measured.wall,
            cpu_user=measured.cpu_user,
            cpu_system=measured.cpu_system,
            maxrss=measured.maxrss,
            stdout_bytes=runner.stdout_path.stat().st_size,
            splunkd_by_kind=dict(splunkd.requests_by_kind()),
            splunkd_by_role=dict(
                collections.Counter(request_role(r.method, r.path) for r in splunkd.requests)
            ),
            splunkd_connections=splunkd.connections,
            load=(load_before, load_after),
        )
        runner.stdout_path.unlink()
    if progress:
        progress(f"{where}: {result.wall:.1f} s wall, {result.cpu:.1f} s CPU, "
                 f"{result.maxrss / MB:.1f} MB, {result.indicators:,} indicators")  # fmt: skip
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
    parser.add_argument(
        "--sync-sizes",
        default=",".join(str(size) for size in SYNC_SIZES),
        help="records served by each first sync of the indicators input, comma-separated "
        "('' for none)",
    )
    arguments = parser.parse_args(argv)
    package = arguments.package
    if arguments.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        sync_sizes = sorted({int(size) for size in arguments.sync_sizes.split(",") if size.strip()})
    except ValueError:
        parser.error("--sync-sizes takes whole numbers, comma-separated")
    if any(size < 1 for size in sync_sizes):
        parser.error("--sync-sizes must be at least 1")
    scripts = ["socdefenders_ioc_stats.py"] + (["socdefenders_iocs.py"] if sync_sizes else [])
    if not all((arguments.app / "bin" / script).is_file() for script in scripts):
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
    syncs: List[SyncRun] = []
    load = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory(prefix="socdefenders-bench-") as scratch:
            for label, python in pythons:
                where = Path(scratch) / f"py{label}"
                results.append(
                    bench_python(label, python, arguments.app, arguments.runs, where, progress)
                )
            for label, python in pythons:
                for size in sync_sizes:
                    where = Path(scratch) / f"sync-py{label}-{size}"
                    syncs.append(bench_sync(label, python, arguments.app, size, where, progress))
    except (BenchError, subprocess.SubprocessError, OSError) as error:
        print(f"bench: the measurement failed: {error}", file=sys.stderr)
        return 1
    info = package_info(package)
    table = render_results(results, info)
    sync = render_sync_section(syncs) if syncs else ""
    report = render_report(
        table,
        results=results,
        machine=this_machine(),
        when=datetime.now(timezone.utc),
        runs=arguments.runs,
        package=info,
        load=load,
        sync=sync,
    )
    print(table, end="")
    if syncs:
        print("\n" + render_sync(syncs), end="")
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(report, encoding="utf-8")
    print(f"\nwritten to {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
