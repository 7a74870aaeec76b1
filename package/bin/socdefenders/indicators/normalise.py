"""The canonical type and normalised value of one indicator (design, "The core model").

``normalise(type, value)`` gives ``(type, value)`` in the one form that identifies an
indicator, or ``None`` when the value is empty or invalid for its type. It is idempotent:
normalising a normalised pair gives it back. Nothing here depends on the Python version
(Python 3.13 writes IPv4-mapped IPv6 addresses differently from 3.9: see ``_ipv6``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable, Dict, Optional, Tuple

MAX_VALUE_CHARS = 4096  # a longer value (as sent, stripped, or normalised) is invalid
MAX_TYPE_CHARS = 64  # a longer type is invalid (the type is part of every event)
TYPE_ALIASES = {"mitre_attack": "mitre-attack"}  # the newer API pages' spelling
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_PORT = 65535

_SURROGATE = re.compile("[\ud800-\udfff]")  # not UTF-8: no key could be computed in SPL
_NOT_IN_HOST = re.compile(r"[ /\\@:?#]")
_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # 0-255, no leading zero
_IPV4_NORMALISED = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")  # no zone id (``%eth0``), no brackets
_CVE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")
_MITRE = re.compile(r"T[0-9]{4}(?:\.[0-9]{3})?|TA[0-9]{4}|DS[0-9]{4}|[CGMS][0-9]{4}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_PORT = re.compile(r"[0-9]+")
_TYPES: Dict[str, Optional[str]] = {}  # canonical_type of the types seen: a feed has few
_MAX_CACHED_TYPES = 1024


def canonical_type(type_: object) -> Optional[str]:
    """Lower case, stripped, ``mitre_attack`` -> ``mitre-attack``; ``None`` when empty, too
    long, not printable text (control characters, lone surrogates) or holding ``:`` (the
    separator of ``document_key``'s ``<type>:<value>``, so that no two pairs share a key)."""
    if type(type_) is str and type_ in _TYPES:
        return _TYPES[type_]
    if not isinstance(type_, str):
        return None
    kind = type_.strip().lower()
    if not kind or len(kind) > MAX_TYPE_CHARS or not kind.isprintable() or ":" in kind:
        canonical = None
    else:
        canonical = TYPE_ALIASES.get(kind, kind)
    if type(type_) is str and len(type_) <= 2 * MAX_TYPE_CHARS and len(_TYPES) < _MAX_CACHED_TYPES:
        _TYPES[type_] = canonical
    return canonical


def _host_name(text: str) -> Optional[str]:
    """``domain``/``hostname``: lower case, one trailing dot dropped, no empty label."""
    name = text.lower()
    name = name[:-1] if name.endswith(".") else name
    if not name or ".." in name or name[0] == "." or name[-1] == ".":
        return None  # an empty label
    if not name.isprintable() or _NOT_IN_HOST.search(name):
        return None
    return name


def _email(text: str) -> Optional[str]:
    """Lower case; a non-empty local part and domain around the last ``@``."""
    address = text.lower()
    local, at, domain = address.rpartition("@")
    if not (at and local and domain) or " " in address or not address.isprintable():
        return None
    return address


def _hash(length: int) -> Callable[[str], Optional[str]]:
    pattern = re.compile(f"[0-9a-f]{{{length}}}")

    def check(text: str) -> Optional[str]:
        lowered = text.lower()
        return lowered if pattern.fullmatch(lowered) else None

    return check


def _ipv4(text: str) -> Optional[str]:
    """Four decimal octets 0-255, leading zeros dropped (never read as octal)."""
    if _IPV4_NORMALISED.fullmatch(text):
        return text  # the usual address: nothing to drop
    match = _IPV4.fullmatch(text)
    if not match:
        return None
    a, b, c, d = map(int, match.groups())
    return f"{a}.{b}.{c}.{d}" if max(a, b, c, d) <= 255 else None


def _ipv6(text: str) -> Optional[str]:
    """RFC 5952 compressed form. An IPv4-mapped address is ``::ffff:a.b.c.d`` as Python
    3.13 writes it (3.9 writes ``::ffff:102:304``): one key on Splunk 9 and Splunk 10."""
    if not _IPV6.fullmatch(text):
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return address.compressed


def _port(text: str, scheme: str) -> Tuple[bool, str]:
    """(valid, ``:port`` or ``""``): decimal, at most 65535, the scheme's default dropped."""
    if not text:
        return True, ""  # ``host:`` means the default port
    if not _PORT.fullmatch(text) or int(text) > MAX_PORT:
        return False, ""
    port = int(text)
    return True, ("" if DEFAULT_PORTS.get(scheme) == port else f":{port}")


def _url(text: str) -> Optional[str]:
    """Scheme and host lower case, default port (80 http, 443 https) dropped, user info,
    path, query and fragment kept character for character. Without ``scheme://`` the value
    is kept as sent: which part would be the host is a guess."""
    match = _SCHEME.match(text)
    if not match:
        return text
    scheme, rest = match.group(1).lower(), text[match.end() :]
    end = min([len(rest)] + [rest.find(mark) for mark in "/?#" if mark in rest])
    authority, tail = rest[:end], rest[end:]
    user, at, host_port = authority.rpartition("@")
    if host_port.startswith("["):  # an IPv6 literal
        close = host_port.find("]")
        host, after = host_port[: close + 1], host_port[close + 1 :]
        if close < 0 or (after and not after.startswith(":")):
            return None
        port_text = after[1:]
    else:
        host, _, port_text = host_port.partition(":")
    valid, port = _port(port_text, scheme)
    return f"{scheme}://{user}{at}{host.lower()}{port}{tail}" if valid else None


def _cve(text: str) -> Optional[str]:
    cve = text.upper()
    return cve if _CVE.fullmatch(cve) else None


def _mitre(text: str) -> Optional[str]:
    """ATT&CK ids: techniques (``T1071``, ``T1071.001``), tactics (``TA0001``), groups,
    software, mitigations, campaigns, data sources (``G``, ``S``, ``M``, ``C``, ``DS``)."""
    technique = text.upper()
    return technique if _MITRE.fullmatch(technique) else None


_RULES: Dict[str, Callable[[str], Optional[str]]] = {
    "domain": _host_name,
    "hostname": _host_name,
    "email": _email,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "url": _url,
    "cve": _cve,
    "mitre-attack": _mitre,
    **{kind: _hash(length) for kind, length in HASH_LENGTHS.items()},
}


def normalise(type_: object, value: object) -> Optional[Tuple[str, str]]:
    """``(canonical type, normalised value)``, or ``None`` when the type is unusable or the
    value is not a string, empty, longer than ``MAX_VALUE_CHARS``, not UTF-8 (a lone
    surrogate) or invalid for its type. A type without a rule keeps its value stripped."""
    kind = _TYPES.get(type_) if type(type_) is str else None  # canonical_type, seen before
    if kind is None:
        kind = canonical_type(type_)
    if kind is None or not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_VALUE_CHARS or (not text.isascii() and _SURROGATE.search(text)):
        return None
    rule = _RULES.get(kind)
    normalised = rule(text) if rule else text
    if not normalised or len(normalised) > MAX_VALUE_CHARS or normalised != normalised.strip():
        return None
    return kind, normalised
