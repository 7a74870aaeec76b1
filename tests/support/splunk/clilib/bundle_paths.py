"""Stand-in for ``splunk.clilib.bundle_paths``: paths under ``$SPLUNK_HOME``."""

from __future__ import annotations

import os
from typing import Sequence


def make_splunkhome_path(parts: Sequence[str]) -> str:
    """``$SPLUNK_HOME/<parts...>``; KeyError if SPLUNK_HOME is unset, ValueError on escape."""
    base = os.path.normpath(os.environ["SPLUNK_HOME"])
    full = os.path.normpath(os.path.join(base, *parts))
    if os.path.relpath(full, base).split(os.sep)[0] == os.pardir:
        raise ValueError(f'Illegal escape from parent directory "{base}": {full}')
    return full
