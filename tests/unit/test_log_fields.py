"""Log line formatting and secret redaction."""

from __future__ import annotations

import logging

from socdefenders.log_fields import REDACTED, SecretRedactor, format_fields

FAKE_KEY = "sk_live_FAKE0redaction000000000"
FAKE_PASSWORD = "FAKE pass/word"


def test_values_with_spaces_or_quotes_are_quoted() -> None:
    line = format_fields({"a": 1, "b": "two words", "c": 'say "hi"', "d": "", "e": "x=y"})
    assert line == 'a=1 b="two words" c="say \\"hi\\"" d="" e="x=y"'


def test_line_breaks_never_split_a_line() -> None:
    assert "\n" not in format_fields({"message": "first\nsecond\r\nthird"})


def test_redactor_hides_secrets_and_their_url_encoded_form(caplog) -> None:
    logger = logging.getLogger("test_redactor")
    redactor = SecretRedactor()
    redactor.add([FAKE_KEY, FAKE_PASSWORD, ""])
    logger.addFilter(redactor)
    with caplog.at_level(logging.DEBUG, logger="test_redactor"):
        logger.debug("header Bearer %s", FAKE_KEY)
        logger.error("proxy http://u:%s@host", "FAKE%20pass%2Fword")
    text = caplog.text
    assert FAKE_KEY not in text
    assert "FAKE%20pass%2Fword" not in text
    assert text.count(REDACTED) == 2
