"""Run the built input the way splunkd runs it, against the loopback emulators.

The built ``bin/socdefenders_ioc_stats.py`` runs unmodified, in a ``$SPLUNK_HOME`` laid
out like Splunk's (``etc/apps/TA-socdefenders`` -> ``output/TA-socdefenders``), on one of
the Pythons Splunk ships, with ``-B -s -S``: no byte-code, no user or system
site-packages, so only the add-on's own ``lib/`` and the stand-in ``splunk`` package of
``tests/support`` can be imported. The ``<input>`` XML goes to stdin; the event stream
comes back on stdout and is parsed.

``run_input`` starts the process through its ``runner`` (``subprocess.run`` unless told
otherwise): a caller that measures that one process, as ``tools/bench.py`` does, passes
a runner of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional

from tests.support.splunkd import Splunkd, input_xml, parse_stream

APP = "TA-socdefenders"
INPUT_TYPE = "socdefenders_ioc_stats"
INDICATORS_INPUT_TYPE = "socdefenders_iocs"
INPUT_TYPES = (INPUT_TYPE, INDICATORS_INPUT_TYPE)


def log_file_name(input_type: str) -> str:
    """The add-on's log file of one input type (solnlib's ``<app>_<name>.log``)."""
    return f"ta-socdefenders_{input_type}.log"


LOG_FILE = log_file_name(INPUT_TYPE)
SUPPORT = Path(__file__).resolve().parent
_RECORD_START = re.compile(r"\n(?=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")  # solnlib's log format

# Starts the input and waits for it: called like ``subprocess.run`` with the arguments
# ``run_input`` uses (the command; keyword ``input``, ``capture_output``, ``text``,
# ``timeout``, ``env``, ``cwd``, ``check``) and returns what it returns.
ProcessRunner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class InputRun:
    returncode: int
    stdout: str
    stderr: str
    events: List[dict]
    log: str  # what this run added to the add-on's log file

    def log_lines(self, action: str) -> List[str]:
        """Log records of this run whose ``action`` is ``action`` (with their continuation)."""
        return [record for record in _RECORD_START.split(self.log) if f"action={action}" in record]


def make_splunk_home(root: Path, app_dir: Path) -> Path:
    """``root`` as a ``$SPLUNK_HOME`` with the built add-on installed (as a symlink)."""
    apps = root / "etc" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    if not (apps / APP).exists():
        (apps / APP).symlink_to(app_dir.resolve(), target_is_directory=True)
    (root / "var" / "log" / "splunk").mkdir(parents=True, exist_ok=True)
    for input_type in INPUT_TYPES:
        (root / "var" / "lib" / "splunk" / "modinputs" / input_type).mkdir(
            parents=True, exist_ok=True
        )
    return root


def input_stanzas(
    inputs: Mapping[str, Mapping[str, str]], input_type: str = INPUT_TYPE
) -> Dict[str, Dict[str, str]]:
    """Full stanzas as splunkd passes them, from ``{input name: params}``."""
    interval = "900" if input_type == INPUT_TYPE else "3600"
    stanzas = {}
    for name, params in inputs.items():
        stanza = {"index": "main", "interval": interval, "host": "$decideOnStartup",
                  "disabled": "0", "python.version": "python3"}  # fmt: skip
        stanza.update(params)
        stanzas[f"{input_type}://{name}"] = stanza
    return stanzas


def run_input(
    python: str,
    splunk_home: Path,
    splunkd: Splunkd,
    inputs: Mapping[str, Mapping[str, str]],
    *,
    session_key: Optional[str] = None,
    timeout: float = 120,
    runner: ProcessRunner = subprocess.run,
    input_type: str = INPUT_TYPE,
) -> InputRun:
    """One process start of the input with these ``{input name: params}``, by ``runner``."""
    log_file = splunk_home / "var" / "log" / "splunk" / log_file_name(input_type)
    log_before = log_file.stat().st_size if log_file.exists() else 0
    stdin = input_xml(
        server_uri=splunkd.uri,
        session_key=session_key or splunkd.session_key,
        checkpoint_dir=str(splunk_home / "var" / "lib" / "splunk" / "modinputs" / input_type),
        stanzas=input_stanzas(inputs, input_type),
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SPLUNK_HOME": str(splunk_home),
        "PYTHONPATH": str(SUPPORT),  # the stand-in ``splunk`` package only
        "LANG": "C.UTF-8",
    }
    script = splunk_home / "etc" / "apps" / APP / "bin" / f"{input_type}.py"
    completed = runner(
        [python, "-B", "-s", "-S", str(script)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=str(splunk_home),
        check=False,
    )
    log_text = ""
    if log_file.exists():
        with log_file.open("rb") as handle:
            handle.seek(log_before)
            log_text = handle.read().decode("utf-8", "replace")
    return InputRun(
        returncode=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
        events=parse_stream(completed.stdout) if completed.stdout.strip() else [],
        log=log_text,
    )
