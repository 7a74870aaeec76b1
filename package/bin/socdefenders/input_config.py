"""Settings of one socdefenders_ioc_stats input stanza, checked when it is saved."""

from __future__ import annotations

from typing import Any, Mapping

from .errors import ConfigurationError

MIN_INTERVAL_SECONDS = 60  # the Pro tier allows 1,000 requests a minute; once a minute is plenty
MAX_INTERVAL_SECONDS = 86400


def check_interval(value: Any) -> int:
    """Return the polling interval in seconds, or raise ``ConfigurationError``.

    Cron schedules are refused too: the dashboards detect a stalled input from the
    expected spacing of events, which needs a fixed interval.
    """
    text = str(value if value is not None else "").strip()
    try:
        seconds = int(text)
    except ValueError:
        seconds = 0
    if not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
        raise ConfigurationError(
            "interval",
            f"Interval {text!r} must be a whole number of seconds from "
            f"{MIN_INTERVAL_SECONDS} to {MAX_INTERVAL_SECONDS}.",
        )
    return seconds


def check_input_parameters(parameters: Mapping[str, Any]) -> None:
    """Check what splunkd passes to ``--validate-arguments`` for a new or edited input."""
    if not str(parameters.get("account") or "").strip():
        raise ConfigurationError("account", "Choose the SOC Defenders account this input uses.")
    check_interval(parameters.get("interval"))
