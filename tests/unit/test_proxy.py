"""The proxy URL built from Configuration > Proxy."""

from __future__ import annotations

import pytest

from socdefenders.errors import ConfigurationError, ErrorCategory
from socdefenders.proxy import proxy_url

FAKE_PROXY_PASSWORD = "FAKE-proxy-pa$$:w@rd/0"


def stanza(**fields: str) -> dict:
    base = {
        "proxy_enabled": "1",
        "proxy_type": "http",
        "proxy_url": "proxy.example.test",
        "proxy_port": "3128",
        "proxy_username": "",
        "proxy_password": "",
        "proxy_rdns": "0",
    }
    base.update(fields)
    return base


@pytest.mark.parametrize("enabled", ["0", "", "false", None])
def test_disabled_proxy_is_none(enabled: object) -> None:
    assert proxy_url(stanza(proxy_enabled=enabled)) is None


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({}, "http://proxy.example.test:3128"),
        ({"proxy_type": "socks5"}, "socks5://proxy.example.test:3128"),
        ({"proxy_type": "socks5", "proxy_rdns": "1"}, "socks5h://proxy.example.test:3128"),
        ({"proxy_rdns": "1"}, "http://proxy.example.test:3128"),
        ({"proxy_url": "::1", "proxy_port": "8080"}, "http://[::1]:8080"),
        ({"proxy_username": "svc user"}, "http://svc%20user@proxy.example.test:3128"),
    ],
)
def test_proxy_url_forms(fields: dict, url: str) -> None:
    assert proxy_url(stanza(**fields)) == url


def test_credentials_are_url_encoded() -> None:
    url = proxy_url(stanza(proxy_username="svc", proxy_password=FAKE_PROXY_PASSWORD))
    assert url == "http://svc:FAKE-proxy-pa%24%24%3Aw%40rd%2F0@proxy.example.test:3128"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"proxy_url": ""}, "no host or port"),
        ({"proxy_port": ""}, "no host or port"),
        ({"proxy_port": "70000"}, "port"),
        ({"proxy_port": "http"}, "port"),
        ({"proxy_type": "socks4"}, "http or socks5"),
    ],
)
def test_incomplete_proxy_is_a_configuration_error(fields: dict, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words) as caught:
        proxy_url(stanza(proxy_password=FAKE_PROXY_PASSWORD, **fields))
    assert caught.value.category is ErrorCategory.CONFIGURATION
    assert "Configuration > Proxy" in caught.value.fix
    assert FAKE_PROXY_PASSWORD not in str(caught.value)
