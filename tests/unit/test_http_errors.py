"""What each kind of transport failure is reported as: message, fix and category.

The exceptions are built directly, so every branch is pinned, including those the emulator
cannot provoke (connect timeout, invalid URL) and the precedence between exception classes
that subclass one another.
"""

from __future__ import annotations

from typing import Tuple, Type

import pytest
from requests import exceptions as rex

from socdefenders.errors import ErrorCategory, TransportError
from socdefenders.http_errors import error_for_transport_failure

HOST = "api.example"
SECRET = "http://user:s3cret@proxy.example:3128"  # a proxy URL a library message may carry
DNS_TEXT = f"NameResolutionError: Failed to resolve {SECRET}"

CONNECTION, CONFIGURATION = ErrorCategory.CONNECTION, ErrorCategory.CONFIGURATION
TLS = (
    "TLS verification of api.example failed",
    "if your network inspects TLS, enter the path of its CA certificate (PEM) as the account's "
    "CA bundle in Configuration > Accounts; check that the system clock is right",
    CONNECTION,
)
PROXY = (
    "could not reach api.example through the proxy",
    "check the proxy host, port, type and credentials in Configuration > Proxy, and that the "
    "proxy allows HTTPS to the API host",
    CONNECTION,
)
CONNECT_TIMEOUT = (
    "no connection to api.example within the connect timeout",
    "check that this Splunk node can reach the API host on port 443 "
    "(firewall, Configuration > Proxy)",
    CONNECTION,
)
READ_TIMEOUT = (
    "api.example did not answer within 7 s",
    "raise the account's request timeout in Configuration > Accounts if the API is slow; "
    "the next poll tries again",
    CONNECTION,
)
BROKEN = (
    "the connection to api.example broke while the answer was read",
    "a network or server interruption: the next poll tries again",
    CONNECTION,
)
NOT_BUILT = (
    "the request to api.example could not be built",
    "check the API base URL in Configuration > Accounts and the proxy in Configuration > Proxy",
    CONFIGURATION,
)
DNS = (
    "the host name api.example could not be resolved",
    "check the DNS of this Splunk node, or enable remote DNS on a SOCKS proxy in "
    "Configuration > Proxy",
    CONNECTION,
)
OTHER = (
    "could not connect to api.example",
    "check that this Splunk node can reach the API host (firewall, proxy in "
    "Configuration > Proxy); the next poll tries again",
    CONNECTION,
)
Expected = Tuple[str, str, ErrorCategory]


def transport_error(failure: rex.RequestException, proxied: bool) -> TransportError:
    error = error_for_transport_failure(failure, HOST, 7, proxied)
    assert type(error) is TransportError
    assert (error.status, error.error_code, error.error_message, error.request_id) == (None,) * 4
    assert SECRET not in error.message
    assert SECRET not in error.fix
    return error


def assert_reported_as(error: TransportError, kind: type, expected: Expected) -> None:
    assert error.message == f"{expected[0]} ({kind.__name__})"
    assert error.fix == expected[1]
    assert error.category is expected[2]


@pytest.mark.parametrize("proxied", [False, True])
@pytest.mark.parametrize("text", [SECRET, DNS_TEXT])
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (rex.SSLError, TLS),
        (rex.ProxyError, PROXY),
        (rex.ConnectTimeout, CONNECT_TIMEOUT),
        (rex.ReadTimeout, READ_TIMEOUT),
        (rex.ChunkedEncodingError, BROKEN),
        (rex.InvalidURL, NOT_BUILT),
        (rex.InvalidProxyURL, NOT_BUILT),
    ],
)
def test_the_exception_class_decides(
    kind: Type[rex.RequestException], expected: Expected, text: str, proxied: bool
) -> None:
    """Also over a DNS-looking text: ConnectTimeout, SSLError and ProxyError subclass
    ConnectionError, so the classes are checked before the text."""
    assert_reported_as(transport_error(kind(text), proxied), kind, expected)


@pytest.mark.parametrize(
    ("kind", "text", "proxied", "expected"),
    [
        (rex.InvalidSchema, SECRET, True, NOT_BUILT),  # requests cannot use the proxy's scheme
        (rex.InvalidSchema, SECRET, False, OTHER),
        (rex.InvalidSchema, DNS_TEXT, False, DNS),  # not the proxy's scheme: the text decides
        (rex.ConnectionError, DNS_TEXT, False, DNS),
        (rex.ConnectionError, SECRET, True, OTHER),
        (rex.Timeout, SECRET, False, OTHER),
        (rex.RequestException, SECRET, False, OTHER),
    ],
)
def test_other_failures_by_proxy_and_text(
    kind: Type[rex.RequestException], text: str, proxied: bool, expected: Expected
) -> None:
    assert_reported_as(transport_error(kind(text), proxied), kind, expected)


@pytest.mark.parametrize(
    "text",
    [
        "NameResolutionError",
        "Name or service not known",
        "getaddrinfo failed",
        "nodename nor servname provided",
        "Temporary failure in name resolution",
    ],
)
def test_every_resolver_wording_is_a_dns_failure(text: str) -> None:
    error = transport_error(rex.ConnectionError(f"{SECRET}: {text}"), proxied=False)
    assert_reported_as(error, rex.ConnectionError, DNS)


def test_the_host_is_inserted_as_it_is() -> None:
    error = error_for_transport_failure(rex.ReadTimeout("x"), "{host}.example", 3, False)
    assert error.message == "{host}.example did not answer within 3 s (ReadTimeout)"
