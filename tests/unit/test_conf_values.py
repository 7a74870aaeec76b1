"""Conf values arrive as strings; these helpers read them the way splunkd writes them."""

from __future__ import annotations

import pytest

from socdefenders.conf_values import as_flag, seconds_in_range
from socdefenders.errors import ConfigurationError


@pytest.mark.parametrize("word", ["1", "true", "True", " yes ", "on", "t", True])
def test_true_words(word) -> None:
    assert as_flag(word, "proxy_enabled") is True


@pytest.mark.parametrize("word", ["0", "false", "FALSE", "no", "off", "", None, False])
def test_false_words(word) -> None:
    assert as_flag(word, "proxy_enabled") is False


def test_other_words_name_the_field() -> None:
    with pytest.raises(ConfigurationError, match="proxy_enabled must be true or false") as raised:
        as_flag("maybe", "proxy_enabled")
    assert raised.value.field == "proxy_enabled"


def test_seconds_in_range_bounds_and_default() -> None:
    assert seconds_in_range("5", "t", "Timeout", 5, 10) == 5
    assert seconds_in_range(10, "t", "Timeout", 5, 10) == 10
    assert seconds_in_range(" ", "t", "Timeout", 5, 10, default=7) == 7
    with pytest.raises(ConfigurationError, match="Timeout must be a whole number"):
        seconds_in_range("", "t", "Timeout", 5, 10)
    with pytest.raises(ConfigurationError, match="from 5 to 10"):
        seconds_in_range("11", "t", "Timeout", 5, 10)
