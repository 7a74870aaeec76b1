"""Checks of the indicators input's fields and of the Indicators tab's max_age_days."""

from __future__ import annotations

import pytest

from socdefenders.errors import ConfigurationError
from socdefenders.indicators.settings import (
    IOC_TYPES,
    IndicatorsInputConfig,
    check_input_fields,
    check_input_parameters,
    check_interval,
    check_ioc_types,
    check_lookback_days,
    check_max_age_days,
    check_min_confidence,
    input_config,
)

SECRET_LOOKING = "sk_live_FAKE_0000000000000000"


@pytest.mark.parametrize(("given", "seconds"), [("300", 300), (" 86400 ", 86400), ("", 3600)])
def test_interval_from_5_minutes_to_a_day_default_an_hour(given, seconds) -> None:
    assert check_interval(given) == seconds
    assert check_interval(None) == 3600


@pytest.mark.parametrize("given", ["299", "86401", "0", "*/5 * * * *", "1h", "-300"])
def test_interval_out_of_range_says_the_range(given) -> None:
    with pytest.raises(ConfigurationError, match="from 300 to 86400") as raised:
        check_interval(given)
    assert raised.value.field == "interval"


@pytest.mark.parametrize(
    ("given", "types"),
    [
        ("", ()),
        (None, ()),
        ("ipv4", ("ipv4",)),
        ("domain|ipv4", ("ipv4", "domain")),  # the order of IOC_TYPES, whatever was stored
        ("ipv4,domain", ("ipv4", "domain")),
        (" IPv4 | Domain ,ipv4|", ("ipv4", "domain")),
        ("mitre_attack|mitre-attack", ("mitre-attack",)),
        ("|".join(IOC_TYPES), IOC_TYPES),
    ],
)
def test_ioc_types_as_the_multiple_select_stores_them(given, types) -> None:
    assert check_ioc_types(given) == types


def test_ioc_types_refuses_an_undocumented_type_without_repeating_it() -> None:
    with pytest.raises(ConfigurationError, match="chosen among ipv4, ipv6") as raised:
        check_ioc_types(f"ipv4|{SECRET_LOOKING}")
    assert raised.value.field == "ioc_types"
    assert SECRET_LOOKING not in str(raised.value)
    assert "sha512" in str(raised.value)


@pytest.mark.parametrize(
    ("given", "level"), [("", "low"), (None, "low"), ("MEDIUM", "medium"), (" high ", "high")]
)
def test_min_confidence(given, level) -> None:
    assert check_min_confidence(given) == level


def test_min_confidence_refuses_other_words() -> None:
    with pytest.raises(ConfigurationError, match="one of low, medium or high") as raised:
        check_min_confidence("critical")
    assert raised.value.field == "min_confidence"


@pytest.mark.parametrize(("given", "days"), [("", 30), ("1", 1), ("365", 365), (" 7 ", 7)])
def test_lookback_days(given, days) -> None:
    assert check_lookback_days(given) == days


@pytest.mark.parametrize("given", ["0", "366", "30d", "1.5", "-1", "²"])
def test_lookback_days_out_of_range(given) -> None:
    with pytest.raises(ConfigurationError, match="whole number of days from 1 to 365") as raised:
        check_lookback_days(given)
    assert raised.value.field == "lookback_days"


@pytest.mark.parametrize(("given", "days"), [("", 90), (None, 90), ("1", 1), ("3650", 3650)])
def test_max_age_days(given, days) -> None:
    assert check_max_age_days(given) == days


@pytest.mark.parametrize("given", ["0", "3651", "ninety", SECRET_LOOKING])
def test_max_age_days_out_of_range(given) -> None:
    with pytest.raises(ConfigurationError, match="from 1 to 3650") as raised:
        check_max_age_days(given)
    assert raised.value.field == "max_age_days"
    assert SECRET_LOOKING not in str(raised.value)


def test_a_whole_stanza_is_checked_and_parsed() -> None:
    stanza = {
        "account": "prod",
        "interval": "900",
        "ioc_types": "sha256|ipv4",
        "min_confidence": "medium",
        "lookback_days": "7",
        "index": "main",
    }
    check_input_parameters(stanza)
    assert input_config(stanza, input_name="iocs", max_age_days="30") == IndicatorsInputConfig(
        account="prod",
        input_name="iocs",
        interval=900,
        ioc_types=("ipv4", "sha256"),
        min_confidence="medium",
        lookback_days=7,
        max_age_days=30,
    )


def test_defaults_of_an_almost_empty_stanza() -> None:
    config = input_config({"account": "prod"}, input_name="iocs")
    assert (config.interval, config.ioc_types, config.min_confidence) == (3600, (), "low")
    assert (config.lookback_days, config.max_age_days) == (30, 90)


def test_the_stanza_needs_an_account() -> None:
    with pytest.raises(ConfigurationError, match="Choose the SOC Defenders account") as raised:
        check_input_parameters({"account": " ", "interval": "3600"})
    assert raised.value.field == "account"


def test_an_edit_checks_only_the_fields_it_sends() -> None:
    check_input_fields({"lookback_days": "10"})
    check_input_fields({})
    with pytest.raises(ConfigurationError) as raised:
        check_input_fields({"min_confidence": "urgent"})
    assert raised.value.field == "min_confidence"
    with pytest.raises(ConfigurationError) as raised:
        check_input_fields({"interval": "60"})
    assert raised.value.field == "interval"
