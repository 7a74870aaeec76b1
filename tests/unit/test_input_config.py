"""Input stanza checks behind `--validate-arguments`."""

from __future__ import annotations

import pytest

from socdefenders.errors import ConfigurationError
from socdefenders.input_config import check_input_parameters, check_interval


@pytest.mark.parametrize(("given", "seconds"), [("60", 60), ("900", 900), (" 86400 ", 86400)])
def test_interval_accepts_60_seconds_to_a_day(given: str, seconds: int) -> None:
    assert check_interval(given) == seconds


@pytest.mark.parametrize("given", ["59", "0", "86401", "*/5 * * * *", "", None, "15m"])
def test_interval_rejects_short_long_and_cron(given) -> None:
    with pytest.raises(ConfigurationError, match="from 60 to 86400") as raised:
        check_interval(given)
    assert raised.value.field == "interval"


def test_input_needs_an_account() -> None:
    check_input_parameters({"account": "prod", "interval": "900", "index": "main"})
    with pytest.raises(ConfigurationError, match="Choose the SOC Defenders account"):
        check_input_parameters({"account": " ", "interval": "900"})
