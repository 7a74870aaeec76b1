"""Account settings from Configuration -> Accounts, checked in one place.

The REST handler calls :func:`check_account_fields` when an admin saves an account;
:func:`parse_account` applies the same rules to a stored, decrypted stanza, for the input
to use at run time, so a setting that was valid when saved but broke later (a CA bundle
deleted from disk) is reported the same way.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Dict, Mapping, Optional, Union
from urllib.parse import urlsplit

from .conf_values import as_flag, as_text, seconds_in_range
from .errors import ConfigurationError

DEFAULT_BASE_URL = "https://socdefenders.ai"
DEFAULT_TIMEOUT_SECONDS = 30
MIN_TIMEOUT_SECONDS = 1
MAX_TIMEOUT_SECONDS = 300
# The form's rule too (globalConfig.json, the api_key validator).
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 512


class AuthHeader(str, Enum):
    """How the API key travels; both are documented by the vendor."""

    BEARER = "bearer"  # Authorization: Bearer <key>
    X_API_KEY = "x_api_key"  # X-API-Key: <key>, for proxies that strip Authorization


@dataclass(frozen=True)
class AccountSettings:
    """One SOC Defenders account, validated. ``api_key`` never appears in ``repr``."""

    name: str
    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    auth_header: AuthHeader = AuthHeader.BEARER
    verify_tls: bool = True
    ca_bundle: Optional[str] = None
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS

    @property
    def tls_verify(self) -> Union[bool, str]:
        """The value for ``requests``' ``verify=``: the CA bundle path, or a flag."""
        if self.verify_tls and self.ca_bundle:
            return self.ca_bundle
        return self.verify_tls


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: str) -> str:
    """Return the base URL without a trailing slash, or raise ``ConfigurationError``.

    Only ``https://`` is accepted; ``http://`` only for loopback hosts (local test
    servers), because the API key would otherwise cross the network in clear text.
    """
    text = as_text(value)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname or any(c.isspace() for c in text):
        raise ConfigurationError(
            "base_url",
            f"API base URL is not a URL; enter it as https://host, for example {DEFAULT_BASE_URL}.",
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            "base_url",
            "API base URL must not contain a user name or password; "
            "enter the API key in the API key field.",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(
            "base_url",
            f"API base URL must be only scheme and host (like {DEFAULT_BASE_URL}), "
            "without a path, query or fragment; the add-on adds /api/v1/iocs/stats itself.",
        )
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ConfigurationError(
            "base_url", "API base URL has an invalid port; use a number from 1 to 65535."
        ) from None
    if scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            "base_url",
            "API base URL must use https://, so that the API key is never sent in "
            "clear text; http:// is accepted only for loopback test servers "
            "(localhost, 127.0.0.1, ::1).",
        )
    return f"{scheme}://{parts.netloc}"


def check_api_key(value: Optional[str]) -> str:
    """Return the key without surrounding whitespace; the message never repeats the key."""
    key = as_text(value)
    if not key:
        raise ConfigurationError(
            "api_key", "The API key is empty; paste the key from your SOC Defenders dashboard."
        )
    if any(character.isspace() for character in key):
        raise ConfigurationError(
            "api_key",
            "The API key must not contain spaces or line breaks; paste the key exactly "
            "as your SOC Defenders dashboard shows it.",
        )
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise ConfigurationError(
            "api_key", f"API key must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters long."
        )
    return key


def check_ca_bundle(value: Optional[str]) -> Optional[str]:
    """Return the CA bundle path (``None`` when empty), or raise ``ConfigurationError``."""
    path = as_text(value)
    if not path:
        return None
    if not os.path.isabs(path):
        raise ConfigurationError(
            "ca_bundle",
            "CA bundle path must be an absolute path to a PEM file.",
        )
    if not os.path.isfile(path):
        raise ConfigurationError(
            "ca_bundle",
            "CA bundle path does not exist or is not a file on this Splunk node; "
            "copy the PEM file there or clear the field to use the default CA bundle.",
        )
    return path


def check_timeout(value: Union[str, int, None]) -> int:
    return seconds_in_range(
        value,
        "timeout",
        "Request timeout",
        MIN_TIMEOUT_SECONDS,
        MAX_TIMEOUT_SECONDS,
        default=DEFAULT_TIMEOUT_SECONDS,
    )


def check_auth_header(value: Optional[str]) -> AuthHeader:
    text = as_text(value) or AuthHeader.BEARER.value
    try:
        return AuthHeader(text)
    except ValueError:
        choices = ", ".join(h.value for h in AuthHeader)
        raise ConfigurationError(
            "auth_header", f"Send the API key as must be one of: {choices}."
        ) from None


def check_verify_tls(value: Union[str, bool, int, None]) -> bool:
    """Missing means on: TLS verification is only ever off when explicitly turned off."""
    if not as_text(value):
        return True
    return as_flag(value, "verify_tls")


_FIELD_CHECKS: Dict[str, Callable[[Any], Any]] = {
    "api_key": check_api_key,
    "base_url": check_base_url,
    "auth_header": check_auth_header,
    "verify_tls": check_verify_tls,
    "ca_bundle": check_ca_bundle,
    "timeout": check_timeout,
}


def check_account_fields(fields: Mapping[str, Any]) -> None:
    """Check the non-secret fields present in ``fields`` (a REST create/edit payload)."""
    for name, check in _FIELD_CHECKS.items():
        if name in fields:
            check(fields[name])


def parse_account(name: str, stanza: Mapping[str, Any]) -> AccountSettings:
    """Build :class:`AccountSettings` from a decrypted account stanza."""
    try:
        api_key = check_api_key(stanza.get("api_key"))
    except ConfigurationError as error:
        raise ConfigurationError(
            "api_key", f"Account {name!r}: {error} (Configuration > Accounts)"
        ) from None
    return AccountSettings(
        name=name,
        api_key=api_key,
        base_url=check_base_url(stanza.get("base_url") or DEFAULT_BASE_URL),
        auth_header=check_auth_header(stanza.get("auth_header")),
        verify_tls=check_verify_tls(stanza.get("verify_tls")),
        ca_bundle=check_ca_bundle(stanza.get("ca_bundle")),
        timeout_seconds=check_timeout(stanza.get("timeout")),
    )
