"""Fake credentials and small helpers shared by the tests that talk to the emulators."""

from __future__ import annotations

import socket

from socdefenders.account import AccountSettings
from tests.support.vendor_api import EXPIRED_KEY, FREE_KEY, PRO_KEY, VendorApi

FAKE_PROXY_PASSWORD = "FAKE-proxy-password-0000"
# Every secret a test stores: none may appear in output, logs, events or the KV store.
SECRETS = (PRO_KEY, FREE_KEY, EXPIRED_KEY, FAKE_PROXY_PASSWORD)


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def account_for(api: VendorApi, key: str = PRO_KEY, **fields) -> AccountSettings:
    """An account pointed at ``api`` (its CA bundle, a 5 s timeout), with ``fields`` on top."""
    settings = {"base_url": api.base_url, "ca_bundle": str(api.ca_file), "timeout_seconds": 5}
    settings.update(fields)
    return AccountSettings(name="prod", api_key=key, **settings)
