"""Every message the README's troubleshooting table quotes is one the add-on really emits."""

from __future__ import annotations

import re

from tests.conftest import REPO

MESSAGE_CELL = re.compile(r"^\| `([^`]+)`", re.MULTILINE)


def troubleshooting_messages() -> list:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    return MESSAGE_CELL.findall(section)


def code_text() -> str:
    sources = sorted((REPO / "package" / "bin").rglob("*.py"))
    return "\n".join(path.read_text() for path in sources)


def fragments(message: str) -> list:
    """The literal parts of a message; ``…`` stands for a value filled in at run time
    (the code builds those messages with f-strings)."""
    return [part.strip() for part in message.split("…") if part.strip()]


def test_the_table_quotes_many_messages() -> None:
    assert len(troubleshooting_messages()) >= 30


def test_every_quoted_message_is_in_the_code() -> None:
    code = code_text()
    missing = [m for m in troubleshooting_messages() if not all(f in code for f in fragments(m))]
    assert missing == []


def test_a_made_up_message_would_be_caught() -> None:
    assert not all(f in code_text() for f in fragments("the API exploded (HTTP …)"))
