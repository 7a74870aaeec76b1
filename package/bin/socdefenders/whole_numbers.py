"""Whole numbers written as text (HTTP headers, settings): what ``int()`` may be given."""

from __future__ import annotations

import re
from typing import Any, Optional

MAX_DIGITS = 19  # a 64-bit count; int() refuses 4300+ digits anyway (CVE-2020-10735)
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}\Z")


def whole_number(text: Any) -> Optional[int]:
    """The number that ``text`` (surrounding spaces removed) spells in ASCII digits, at
    most ``MAX_DIGITS`` of them; ``None`` for anything else. ``str.isdigit`` is not
    enough: it accepts ``'²'`` (a latin-1 header byte) and other digits int() refuses."""
    if text is None:
        return None
    stripped = str(text).strip()
    return int(stripped) if _DIGITS.match(stripped) else None
