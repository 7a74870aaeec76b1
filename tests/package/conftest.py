"""Running code inside the built add-on: its bin/ and lib/ only, as splunkd would."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Mapping, Optional

SUPPORT = Path(__file__).resolve().parent.parent / "support"


def run_isolated(
    python: str, bin_dir: Path, *args: str, stdin: str = "",
    env: Optional[Mapping[str, str]] = None, timeout: float = 120,
) -> subprocess.CompletedProcess:  # fmt: skip
    """``python -B -E -s -S *args`` in ``bin_dir``: every import comes from the add-on.

    ``-E`` ignores PYTHONPATH, ``-s`` the user site, ``-S`` the interpreter's
    site-packages; ``-B`` keeps the built tree free of byte-code caches. (Not ``-I``:
    splunkd runs scripts with their folder on sys.path, as here.)
    """
    return subprocess.run(
        [python, "-B", "-E", "-s", "-S", *args],
        input=stdin, capture_output=True, text=True, cwd=bin_dir, timeout=timeout,
        check=False, env=None if env is None else dict(env),
    )  # fmt: skip


def run_handler_driver(
    python: str, bin_dir: Path, driver: str, *args: str, stdin: str = "",
    env: Optional[Mapping[str, str]] = None,
) -> str:  # fmt: skip
    """Run a REST handler ``driver`` script with (bin_dir, tests/support, *args); its stdout."""
    result = run_isolated(
        python, bin_dir, "-c", driver, str(bin_dir), str(SUPPORT), *args, stdin=stdin, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
