"""``normalise``: the canonical type and normalised value of one indicator, per type.

Table tests pin each rule of the design ("The core model"); the properties (hypothesis,
settings as in ``test_fuzz_snapshot_and_event.py``) check that normalising never raises
and is idempotent: a normalised pair normalises to itself.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socdefenders.indicators.normalise import (
    HASH_LENGTHS,
    MAX_TYPE_CHARS,
    MAX_VALUE_CHARS,
    canonical_type,
    normalise,
)

FUZZ = settings(deadline=None, derandomize=True, database=None)
BUDGETS = {"typed_values": 600, "any_text": 500, "any_json": 200}

SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA512_EMPTY = (
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)
# A 2 KB path, query and fragment with every URL delimiter, percent escapes and Unicode.
LONG_TAIL = "/dl/%2F..%2f/ü?q=ä%20b&next=/x?y#frag/ment%23?" + "Ω/%41?#" * 285
assert 2000 <= len("https://cdn.example.com" + LONG_TAIL) <= MAX_VALUE_CHARS

VALID = [
    # ipv4: dotted decimal, leading zeros dropped (decimal, never octal)
    ("ipv4", "192.168.1.1", "ipv4", "192.168.1.1"),
    ("IPv4", " 010.001.000.001 ", "ipv4", "10.1.0.1"),
    ("ipv4", "10.0.0.0", "ipv4", "10.0.0.0"),
    ("ipv4", "255.255.255.255", "ipv4", "255.255.255.255"),
    ("ipv4", "001.002.003.004", "ipv4", "1.2.3.4"),
    # ipv6: compressed, lower case; IPv4-mapped written dotted on every Python
    ("ipv6", "2001:0DB8:0000:0000:0000:0000:0000:0001", "ipv6", "2001:db8::1"),
    ("IPV6", "2001:db8::1", "ipv6", "2001:db8::1"),
    ("ipv6", "0:0:0:0:0:0:0:0", "ipv6", "::"),
    ("ipv6", "FE80:0:0:0:0202:B3FF:FE1E:8329", "ipv6", "fe80::202:b3ff:fe1e:8329"),
    ("ipv6", "::FFFF:1.2.3.4", "ipv6", "::ffff:1.2.3.4"),
    ("ipv6", "::ffff:102:304", "ipv6", "::ffff:1.2.3.4"),
    ("ipv6", "2001:db8:0:1:1:1:1:1", "ipv6", "2001:db8:0:1:1:1:1:1"),
    # domain / hostname: lower case, no trailing dot
    ("domain", "Example.COM", "domain", "example.com"),
    ("domain", "Example.com.", "domain", "example.com"),
    ("Domain", " evil-site.example ", "domain", "evil-site.example"),
    ("domain", "Bücher.Example", "domain", "bücher.example"),
    ("domain", "*.Example.com", "domain", "*.example.com"),
    ("hostname", "Mail01.Corp.Example.", "hostname", "mail01.corp.example"),
    # email: lower case
    ("email", "Alice.Smith@Example.COM", "email", "alice.smith@example.com"),
    ("EMAIL", " phish@evil.example ", "email", "phish@evil.example"),
    # hashes: lower-case hex of the right length
    ("md5", "D41D8CD98F00B204E9800998ECF8427E", "md5", "d41d8cd98f00b204e9800998ecf8427e"),
    (
        "sha1",
        "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
        "sha1",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    ),
    ("sha256", SHA256_EMPTY.upper(), "sha256", SHA256_EMPTY),
    ("SHA256", f" {SHA256_EMPTY} ", "sha256", SHA256_EMPTY),
    ("sha512", SHA512_EMPTY.upper(), "sha512", SHA512_EMPTY),
    # cve: upper case
    ("cve", "cve-2024-3400", "cve", "CVE-2024-3400"),
    ("CVE", "CVE-2021-44228", "cve", "CVE-2021-44228"),
    ("cve", "Cve-2024-1234567", "cve", "CVE-2024-1234567"),
    # mitre-attack: both spellings, ids upper case
    ("mitre-attack", "t1071", "mitre-attack", "T1071"),
    ("mitre_attack", "T1071.001", "mitre-attack", "T1071.001"),
    ("MITRE_ATTACK", "ta0001", "mitre-attack", "TA0001"),
    ("Mitre-Attack", " g0016 ", "mitre-attack", "G0016"),
    ("mitre_attack", "s0002", "mitre-attack", "S0002"),
    ("mitre-attack", "m1036", "mitre-attack", "M1036"),
    ("mitre-attack", "ds0017", "mitre-attack", "DS0017"),
    # url: scheme and host lower case, default port dropped, the rest kept exactly
    ("url", "HTTP://Example.COM:80/Path", "url", "http://example.com/Path"),
    ("url", "https://Example.com:443/a/B", "url", "https://example.com/a/B"),
    ("url", "https://example.com:80/", "url", "https://example.com:80/"),  # not https' default
    ("url", "http://example.com:443/", "url", "http://example.com:443/"),
    ("url", "http://Example.com:8080/X", "url", "http://example.com:8080/X"),
    ("url", "http://example.com:0080/", "url", "http://example.com/"),
    ("url", "http://example.com:08080/", "url", "http://example.com:8080/"),
    ("url", "http://example.com:/x", "url", "http://example.com/x"),
    ("url", "HTTPS://EXAMPLE.COM", "url", "https://example.com"),
    (
        "url",
        "http://ex.com/a%2Fb?q=%2F&X=Y#Frag%2F",
        "url",
        "http://ex.com/a%2Fb?q=%2F&X=Y#Frag%2F",
    ),
    ("url", "http://ex.com?Q=1", "url", "http://ex.com?Q=1"),
    ("url", "http://ex.com#A:80", "url", "http://ex.com#A:80"),
    ("url", "http://User:PaSS@Example.com:80/", "url", "http://User:PaSS@example.com/"),
    ("url", "http://[2001:DB8::1]:80/x", "url", "http://[2001:db8::1]/x"),
    ("url", "http://[2001:DB8::1]:8080", "url", "http://[2001:db8::1]:8080"),
    ("url", "FTP://Files.Example.com:21/a", "url", "ftp://files.example.com:21/a"),
    (
        "url",
        "HTTPS://CDN.Example.com:443" + LONG_TAIL,
        "url",
        "https://cdn.example.com" + LONG_TAIL,
    ),
    ("url", "Evil.Example.com/Path", "url", "Evil.Example.com/Path"),  # no scheme: as sent
    # any other type: stripped, kept as data; the type lower case
    ("filename", "  Invoice.PDF.exe ", "filename", "Invoice.PDF.exe"),
    ("New-Type", "Some Value", "new-type", "Some Value"),
    ("asn", "AS13335", "asn", "AS13335"),
]


@pytest.mark.parametrize(("kind", "value", "want_kind", "want_value"), VALID)
def test_valid_values_are_normalised(
    kind: str, value: str, want_kind: str, want_value: str
) -> None:
    assert normalise(kind, value) == (want_kind, want_value)


@pytest.mark.parametrize(("kind", "value", "want_kind", "want_value"), VALID)
def test_a_normalised_value_normalises_to_itself(
    kind: str, value: str, want_kind: str, want_value: str
) -> None:
    assert normalise(want_kind, want_value) == (want_kind, want_value)


INVALID = [
    ("ipv4", "999.1.1.1"),
    ("ipv4", "256.0.0.1"),
    ("ipv4", "1.2.3"),
    ("ipv4", "1.2.3.4.5"),
    ("ipv4", "1.2.3.4/24"),
    ("ipv4", "1.2.3.4:80"),
    ("ipv4", "0001.2.3.4"),
    ("ipv4", "a.b.c.d"),
    ("ipv4", "1..2.3"),
    ("ipv4", "\uff11.2.3.4"),  # a full-width digit
    ("ipv4", "\u0661.2.3.4"),  # an Arabic-Indic digit
    ("ipv4", "2001:db8::1"),
    ("ipv6", "2001:db8::g"),
    ("ipv6", "2001:db8:::1"),
    ("ipv6", "1:2:3:4:5:6:7:8:9"),
    ("ipv6", "1.2.3.4"),
    ("ipv6", "fe80::1%eth0"),
    ("ipv6", "[2001:db8::1]"),
    ("ipv6", "2001:db8::01.2.3.4"),
    ("domain", "."),
    ("domain", "example..com"),
    ("domain", ".example.com"),
    ("domain", "example.com.."),
    ("domain", "exa mple.com"),
    ("domain", "example.com/path"),
    ("domain", "user@example.com"),
    ("domain", "example.com:80"),
    ("hostname", "host\tname"),
    ("email", "alice"),
    ("email", "@example.com"),
    ("email", "alice@"),
    ("email", "al ice@example.com"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427"),  # 31
    ("md5", "d41d8cd98f00b204e9800998ecf8427e0"),  # 33
    ("md5", "g41d8cd98f00b204e9800998ecf8427e"),  # not hex
    ("md5", "0xd41d8cd98f00b204e9800998ecf842"),
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd8070"),  # 39
    ("sha1", SHA256_EMPTY),  # a sha256 sent as sha1
    ("sha256", SHA256_EMPTY[:-1]),  # 63
    ("sha256", SHA256_EMPTY + "0"),  # 65
    ("sha256", SHA256_EMPTY[:32] + " " + SHA256_EMPTY[33:]),
    ("sha256", SHA256_EMPTY[:-1] + "\uff41"),  # a full-width "a"
    ("sha512", SHA512_EMPTY[:-1]),  # 127
    ("sha512", SHA256_EMPTY),
    ("cve", "CVE-24-1234"),
    ("cve", "CVE-2024-123"),
    ("cve", "2024-1234"),
    ("cve", "CVE_2024_1234"),
    ("cve", "CVE-2024-1234 (log4j)"),
    ("mitre-attack", "T107"),
    ("mitre_attack", "T1071.1"),
    ("mitre-attack", "X1071"),
    ("mitre-attack", "Application Layer Protocol"),
    ("url", "http://[2001:db8::1/x"),  # unclosed bracket
    ("url", "http://[2001:db8::1]x/"),
    ("url", "http://example.com:abc/"),
    ("url", "http://example.com:70000/"),
    ("url", "http://example.com:80:80/"),
    ("url", "http://example.com:-1/"),
]
EMPTY = ["", " ", "\t\n ", "\u3000"]  # \u3000: an ideographic space


@pytest.mark.parametrize(("kind", "value"), INVALID)
def test_invalid_values_are_refused(kind: str, value: str) -> None:
    assert normalise(kind, value) is None


@pytest.mark.parametrize("value", EMPTY)
@pytest.mark.parametrize("kind", ["ipv4", "ipv6", "domain", "url", "md5", "cve", "other"])
def test_empty_and_whitespace_only_values_are_refused(kind: str, value: str) -> None:
    assert normalise(kind, value) is None


@pytest.mark.parametrize(
    ("kind", "long_value"),
    [
        ("url", "http://example.com/" + "a" * (MAX_VALUE_CHARS - 18)),
        ("other", "x" * (MAX_VALUE_CHARS + 1)),
        ("domain", "a." * (MAX_VALUE_CHARS // 2) + "com"),
        ("email", "a" * MAX_VALUE_CHARS + "@example.com"),
    ],
)
def test_values_longer_than_the_bound_are_refused(kind: str, long_value: str) -> None:
    assert len(long_value.strip()) > MAX_VALUE_CHARS
    assert normalise(kind, long_value) is None


def test_the_value_bound_counts_the_stripped_value() -> None:
    longest = "x" * MAX_VALUE_CHARS
    assert normalise("other", f"  {longest}  ") == ("other", longest)
    assert normalise("other", longest + "y") is None


def test_a_value_that_grows_past_the_bound_when_lower_cased_is_refused() -> None:
    grows = "\u0130" * MAX_VALUE_CHARS  # İ lower-cases to two characters
    assert normalise("domain", grows) is None
    assert normalise("domain", "\u0130.example") == ("domain", "i\u0307.example")


@pytest.mark.parametrize(
    "value", ["1.2.3.4", "http://ex.com/\ud800", "\udfff", "a\ud83dz"], ids=repr
)
def test_values_with_lone_surrogates_are_refused_when_they_hold_one(value: str) -> None:
    has_surrogate = any("\ud800" <= char <= "\udfff" for char in value)
    assert (normalise("other", value) is None) is has_surrogate


@pytest.mark.parametrize(
    "value", [None, 16909060, 1.5, True, ["1.2.3.4"], {"v": "1.2.3.4"}, b"1.2.3.4"]
)
def test_values_that_are_not_strings_are_refused(value: Any) -> None:
    assert normalise("ipv4", value) is None


@pytest.mark.parametrize(
    "kind",
    [None, 4, "", "   ", "t" * (MAX_TYPE_CHARS + 1), "ip\x00v4", "ipv4\ud800", "a:b", ["ipv4"]],
    ids=repr,
)
def test_unusable_types_are_refused(kind: Any) -> None:
    assert canonical_type(kind) is None
    assert normalise(kind, "1.2.3.4") is None


@pytest.mark.parametrize(
    ("kind", "want"),
    [
        ("ipv4", "ipv4"),
        (" IPv4 ", "ipv4"),
        ("mitre_attack", "mitre-attack"),
        ("MITRE-ATTACK", "mitre-attack"),
        ("t" * MAX_TYPE_CHARS, "t" * MAX_TYPE_CHARS),
        ("Cobalt Strike Beacon", "cobalt strike beacon"),
    ],
)
def test_types_are_lower_case_and_one_spelling(kind: str, want: str) -> None:
    assert canonical_type(kind) == want


# -- properties ----------------------------------------------------------------------

KNOWN_TYPES = [
    "ipv4",
    "ipv6",
    "domain",
    "hostname",
    "email",
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "url",
    "cve",
    "mitre-attack",
    "mitre_attack",
]
ANY_CHAR = st.characters(exclude_categories=())  # surrogates and controls included
SOME_TEXT = st.text(ANY_CHAR, max_size=40)


def mixed_case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flips: "".join(c.upper() if up else c for c, up in zip(text, flips))
    )


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    space = st.sampled_from(["", " ", "\t", "\n "])
    return st.tuples(space, values, space).map("".join)


OCTET = (st.integers(0, 255) | st.integers(256, 999)).flatmap(
    lambda n: st.sampled_from([str(n), f"{n:03d}", f"0{n}"])
)
IPV4 = st.lists(OCTET, min_size=4, max_size=4).map(".".join) | st.lists(OCTET, max_size=5).map(
    ".".join
)
IPV6 = st.ip_addresses(v=6).flatmap(
    lambda address: st.sampled_from([address.compressed, address.exploded]).flatmap(mixed_case)
)


def hashes(kind: str, length: int) -> st.SearchStrategy[Tuple[str, str]]:
    """Right-length hex in mixed case, or near misses (a length off by one, a bad digit)."""
    right = st.binary(min_size=length // 2, max_size=length // 2).map(bytes.hex).flatmap(mixed_case)
    digit = st.sampled_from("0123456789abcdefABCDEFg \uff41")
    near = st.text(digit, min_size=length - 1, max_size=length + 1)
    return st.tuples(st.sampled_from([kind, kind.upper()]), right | near)


HASHES = st.one_of([hashes(kind, length) for kind, length in sorted(HASH_LENGTHS.items())])
LABEL = st.text(st.sampled_from("abcXYZ09-_*ü\u0130"), max_size=6)
DOMAIN = (
    st.lists(LABEL, min_size=1, max_size=4).map(".".join).map(lambda d: d + "." * (d[-1:] == "a"))
)
HOST = DOMAIN | IPV6.map(lambda address: f"[{address}]")
TAIL = st.text(st.sampled_from("/?#%:@aZ2ü Ω\ud800"), max_size=20)
URL = st.builds(
    lambda scheme, user, host, port, tail: f"{scheme}://{user}{host}{port}{tail}",
    st.sampled_from(["http", "HTTPS", "Ftp", "hxxp", "x+y.z"]),
    st.sampled_from(["", "u:P@", "@", "a@b@"]),
    HOST,
    st.sampled_from(["", ":", ":80", ":443", ":0443", ":8080", ":99999", ":x"]),
    TAIL,
)
CVE = st.from_regex(r"[Cc][Vv][Ee]-[0-9]{4}-[0-9]{4,8}", fullmatch=True) | st.from_regex(
    r"[Cc][Vv][Ee]-[0-9]{2,5}-[0-9]{3,8}", fullmatch=True
)
MITRE = st.from_regex(r"(?:[tT][aA]?|[gGsSmMcC]|[dD][sS])[0-9]{4}(?:\.[0-9]{3})?", fullmatch=True)
MITRE |= st.from_regex(
    r"(?:[tT][aA]?|[gGsSmMcC]|[dD][sS])[0-9]{3,5}(?:\.[0-9]{2,4})?", fullmatch=True
)
EMAIL = st.tuples(LABEL, st.sampled_from(["@", "", "@@"]), DOMAIN).map("".join)
TYPED_VALUES = st.one_of(
    st.tuples(st.sampled_from(["ipv4", "IPv4"]), padded(IPV4)),
    st.tuples(st.just("ipv6"), padded(IPV6 | SOME_TEXT)),
    HASHES.map(lambda pair: (pair[0], f" {pair[1]}\t")),
    st.tuples(st.sampled_from(["domain", "hostname"]), padded(DOMAIN)),
    st.tuples(st.just("url"), padded(URL | SOME_TEXT)),
    st.tuples(st.sampled_from(["cve", "CVE"]), padded(CVE)),
    st.tuples(st.sampled_from(["mitre-attack", "mitre_attack"]), padded(MITRE)),
    st.tuples(st.just("email"), padded(EMAIL)),
)


def check_idempotent(kind: Any, value: Any) -> Optional[Tuple[str, str]]:
    result = normalise(kind, value)  # never raises
    if result is not None:
        new_kind, new_value = result
        assert normalise(new_kind, new_value) == result
        assert new_value == new_value.strip() != ""
        assert len(new_value) <= MAX_VALUE_CHARS
        assert canonical_type(new_kind) == new_kind
    return result


@settings(FUZZ, max_examples=BUDGETS["typed_values"])
@given(TYPED_VALUES)
def test_normalising_a_typed_value_is_idempotent(pair: Tuple[str, str]) -> None:
    check_idempotent(*pair)


@settings(FUZZ, max_examples=BUDGETS["any_text"])
@given(st.sampled_from(KNOWN_TYPES) | SOME_TEXT, SOME_TEXT)
def test_normalising_any_text_is_idempotent(kind: str, value: str) -> None:
    check_idempotent(kind, value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | SOME_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SOME_TEXT, inner, max_size=3),
    max_leaves=6,
)


@settings(FUZZ, max_examples=BUDGETS["any_json"])
@given(JSON_VALUES, JSON_VALUES)
def test_normalising_any_json_values_never_raises(kind: Any, value: Any) -> None:
    check_idempotent(kind, value)


@settings(FUZZ, max_examples=300)
@given(st.ip_addresses(v=4))
def test_every_ipv4_address_keeps_its_text(address: Any) -> None:
    assert normalise("ipv4", str(address)) == ("ipv4", str(address))


@settings(FUZZ, max_examples=300)
@given(st.ip_addresses(v=6))
def test_every_ipv6_address_is_one_value_whatever_its_spelling(address: Any) -> None:
    compressed = normalise("ipv6", address.compressed)
    assert compressed is not None
    assert normalise("ipv6", address.exploded.upper()) == compressed
