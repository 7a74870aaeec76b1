"""Settings of one socdefenders_ioc_stats input stanza, checked when it is saved."""

from __future__ import annotations

from typing import Any, Mapping

from .conf_values import as_text, seconds_in_range
from .errors import ConfigurationError

MIN_INTERVAL_SECONDS = 60  # the Pro tier allows 1,000 requests a minute; once a minute is plenty
MAX_INTERVAL_SECONDS = 86400


def check_interval(value: Any) -> int:
    """Return the polling interval in seconds, or raise ``ConfigurationError``.

    Cron schedules are refused too: the dashboards detect a stalled input from the
    expected spacing of events, which needs a fixed interval.
    """
    return seconds_in_range(
        value, "interval", "Interval", MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS
    )


def check_account_choice(value: Any) -> str:
    account = as_text(value)
    if not account:
        raise ConfigurationError("account", "Choose the SOC Defenders account this input uses.")
    return account


def check_input_parameters(parameters: Mapping[str, Any]) -> None:
    """Check what splunkd passes to ``--validate-arguments`` for a new or edited input."""
    check_account_choice(parameters.get("account"))
    check_interval(parameters.get("interval"))


def check_input_fields(fields: Mapping[str, Any]) -> None:
    """Check the fields present in a REST create/edit payload (an edit may send only some)."""
    if "account" in fields:
        check_account_choice(fields["account"])
    if "interval" in fields:
        check_interval(fields["interval"])
