"""Settings of one socdefenders_iocs input stanza and of the Indicators tab, checked.

Everything arrives as text, as Splunk stores it. Messages say what to enter and never
repeat the value that was entered (see :mod:`socdefenders.conf_values`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from ..conf_values import as_text, seconds_in_range
from ..errors import ConfigurationError
from ..input_config import check_account_choice
from ..whole_numbers import whole_number

MIN_INTERVAL_SECONDS = 300  # a sync pages through many answers; more often gains nothing
MAX_INTERVAL_SECONDS = 86400
DEFAULT_INTERVAL_SECONDS = 3600

# The `type` values the API documents (both page generations; `mitre_attack` is read as
# `mitre-attack`). The order is the one the input's multiple select shows.
IOC_TYPES = (
    "ipv4",
    "ipv6",
    "domain",
    "url",
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "cve",
    "mitre-attack",
    "email",
)
_TYPE_SPELLINGS = {"mitre_attack": "mitre-attack"}

CONFIDENCE_LEVELS = ("low", "medium", "high")  # lowest first
DEFAULT_MIN_CONFIDENCE = "low"

MIN_LOOKBACK_DAYS = 1
MAX_LOOKBACK_DAYS = 365  # the Pro tier's lookback; the API clamps a Free key to 1 day
DEFAULT_LOOKBACK_DAYS = 30

MIN_MAX_AGE_DAYS = 1
MAX_MAX_AGE_DAYS = 3650
DEFAULT_MAX_AGE_DAYS = 90

INPUT_FIELDS = ("account", "interval", "ioc_types", "min_confidence", "lookback_days")


@dataclass(frozen=True)
class IndicatorsInputConfig:
    """One input's checked settings, plus the Indicators tab's ``max_age_days``."""

    account: str
    input_name: str
    interval: int = DEFAULT_INTERVAL_SECONDS
    ioc_types: Tuple[str, ...] = ()  # canonical, in IOC_TYPES order; empty = every type
    min_confidence: str = DEFAULT_MIN_CONFIDENCE
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    max_age_days: int = DEFAULT_MAX_AGE_DAYS


def days_in_range(
    value: Any, field: str, label: str, low: int, high: int, default: Optional[int]
) -> int:
    """A whole number of days from ``low`` to ``high``; empty means ``default``."""
    text = as_text(value)
    if not text and default is not None:
        return default
    days = whole_number(text)
    if days is None or not low <= days <= high:
        raise ConfigurationError(
            field, f"{label} must be a whole number of days from {low} to {high}."
        )
    return days


def check_interval(value: Any) -> int:
    """The sync interval in seconds (300 to 86400; empty means 3600)."""
    return seconds_in_range(
        value,
        "interval",
        "Interval",
        MIN_INTERVAL_SECONDS,
        MAX_INTERVAL_SECONDS,
        DEFAULT_INTERVAL_SECONDS,
    )


def check_ioc_types(value: Any) -> Tuple[str, ...]:
    """The chosen IOC types, as UCC's multiple select stores them (``ipv4|domain``; a
    hand-edited inputs.conf may use commas and upper case too). None chosen means every
    type: the empty tuple."""
    chosen = set()
    for part in as_text(value).replace(",", "|").split("|"):
        name = part.strip().lower()
        if not name:
            continue
        name = _TYPE_SPELLINGS.get(name, name)
        if name not in IOC_TYPES:
            raise ConfigurationError(
                "ioc_types",
                "IOC types must be chosen among "
                + ", ".join(IOC_TYPES)
                + " (separated by |); choose none to sync every type.",
            )
        chosen.add(name)
    return tuple(name for name in IOC_TYPES if name in chosen)


def check_min_confidence(value: Any) -> str:
    """``low`` (empty), ``medium`` or ``high``."""
    level = as_text(value).lower() or DEFAULT_MIN_CONFIDENCE
    if level not in CONFIDENCE_LEVELS:
        raise ConfigurationError(
            "min_confidence", "Minimum confidence must be one of low, medium or high."
        )
    return level


def check_lookback_days(value: Any) -> int:
    """How far back the first sync reads (1 to 365 days; empty means 30)."""
    return days_in_range(
        value,
        "lookback_days",
        "Lookback",
        MIN_LOOKBACK_DAYS,
        MAX_LOOKBACK_DAYS,
        DEFAULT_LOOKBACK_DAYS,
    )


def check_max_age_days(value: Any) -> int:
    """The Indicators tab's ``max_age_days``: an indicator not seen for longer expires
    (1 to 3650 days; empty means 90)."""
    return days_in_range(
        value,
        "max_age_days",
        "Maximum indicator age",
        MIN_MAX_AGE_DAYS,
        MAX_MAX_AGE_DAYS,
        DEFAULT_MAX_AGE_DAYS,
    )


_FIELD_CHECKS = {
    "interval": check_interval,
    "ioc_types": check_ioc_types,
    "min_confidence": check_min_confidence,
    "lookback_days": check_lookback_days,
}


def check_input_parameters(parameters: Mapping[str, Any]) -> None:
    """Check a whole stanza (``--validate-arguments`` of a new or edited input)."""
    check_account_choice(parameters.get("account"))
    for name, check in _FIELD_CHECKS.items():
        check(parameters.get(name))


def check_input_fields(fields: Mapping[str, Any]) -> None:
    """Check the fields present in a REST create/edit payload (an edit may send only some)."""
    if "account" in fields:
        check_account_choice(fields["account"])
    for name, check in _FIELD_CHECKS.items():
        if name in fields:
            check(fields[name])


def input_config(
    stanza: Mapping[str, Any], *, input_name: str, max_age_days: Any = None
) -> IndicatorsInputConfig:
    """The checked settings of one stanza; ``max_age_days`` is the Indicators tab's value
    (raw text; empty or ``None`` means the default)."""
    return IndicatorsInputConfig(
        account=check_account_choice(stanza.get("account")),
        input_name=input_name,
        interval=check_interval(stanza.get("interval")),
        ioc_types=check_ioc_types(stanza.get("ioc_types")),
        min_confidence=check_min_confidence(stanza.get("min_confidence")),
        lookback_days=check_lookback_days(stanza.get("lookback_days")),
        max_age_days=check_max_age_days(max_age_days),
    )
