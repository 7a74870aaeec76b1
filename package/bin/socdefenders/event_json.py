"""An event's text: compact JSON that the XML stream to splunkd can carry."""

from __future__ import annotations

import json
import re
from typing import Any

_NOT_IN_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def event_text(value: Any) -> str:
    """Compact JSON, names kept in their own script (not ``\\u`` escapes).

    Characters XML 1.0 cannot carry (lone surrogates, U+FFFE, U+FFFF; JSON already
    escapes the control characters) are written as JSON ``\\u`` escapes, so the event
    stays well-formed in the XML stream splunklib writes to splunkd.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _NOT_IN_XML.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
