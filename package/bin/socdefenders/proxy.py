"""The proxy URL for ``requests`` from the add-on's proxy settings (Configuration > Proxy).

The returned URL contains the proxy password: pass it to the HTTP client only, never log it.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional
from urllib.parse import quote

from .conf_values import as_flag, as_text
from .errors import ConfigurationError
from .whole_numbers import whole_number

PROXY_TYPES = ("http", "socks5")
_FIX = "complete or turn off the proxy in Configuration > Proxy"


def proxy_url(stanza: Mapping[str, Any]) -> Optional[str]:
    """``None`` when the proxy is off; ``http://``, ``socks5://`` or ``socks5h://`` URL else."""
    if not as_flag(stanza.get("proxy_enabled"), "proxy_enabled"):
        return None
    host, port = as_text(stanza.get("proxy_url")), as_text(stanza.get("proxy_port"))
    if not host or not port:
        raise ConfigurationError("proxy", "the proxy is enabled but has no host or port", _FIX)
    number = whole_number(port)
    if number is None or not 1 <= number <= 65535:
        raise ConfigurationError("proxy_port", "the proxy port is not from 1 to 65535", _FIX)
    kind = as_text(stanza.get("proxy_type")).lower() or "http"
    if kind not in PROXY_TYPES:
        raise ConfigurationError("proxy_type", "the proxy type must be http or socks5", _FIX)
    if kind == "socks5" and as_flag(stanza.get("proxy_rdns"), "proxy_rdns"):
        kind = "socks5h"  # the proxy resolves the API host name
    user, password = as_text(stanza.get("proxy_username")), as_text(stanza.get("proxy_password"))
    credentials = ""
    if user:
        credentials = quote(user, safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        credentials += "@"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"{kind}://{credentials}{host}:{int(port)}"
