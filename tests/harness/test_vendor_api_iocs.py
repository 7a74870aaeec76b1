"""The emulated ``GET /api/v1/iocs`` and its corpus behave as the vendor's contract says.

The contract (``socdefenders-api-contract.md``, "The list endpoint") leaves the order,
what ``since`` compares and the stability of offsets undocumented; the corpus makes them
selectable, and these tests pin what each choice means (see ``tests/support/ioc_corpus.py``).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import requests

from tests.support.ioc_corpus import (
    CANONICAL_TYPES,
    CONFIDENCES,
    DAY,
    DEFAULT_NOW,
    IOCS_PATH,
    RAW_TYPES,
    Corpus,
    ParameterError,
    iso_utc,
    parse_iso,
)
from tests.support.vendor_api import (
    EXPIRED_KEY,
    FREE_KEY,
    PRO_KEY,
    STATS_PATH,
    Fault,
    VendorApi,
)

REQUEST_ID = re.compile(r"^req_[0-9a-f]{16}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
RECORD_KEYS = {
    "id",
    "type",
    "value",
    "confidence",
    "first_seen",
    "last_seen",
    "source",
    "context",
    "tags",
    "mitre_techniques",
}
SOURCE_KEYS = {
    "article_id",
    "article_title",
    "article_url",
    "feed_name",
    "category",
    "origin",
    "reference_url",
}
NOW = DEFAULT_NOW


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vendor_api_iocs_tls")


@pytest.fixture(scope="module")
def shared_api(cert_dir: Path) -> Iterator[VendorApi]:
    with VendorApi(cert_dir) as api:
        yield api


@pytest.fixture
def api(shared_api: VendorApi) -> VendorApi:
    shared_api.reset()
    return shared_api


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session that ignores proxy and CA-bundle environment variables."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


def fetch(
    http: requests.Session,
    api: VendorApi,
    key: Optional[str] = PRO_KEY,
    path: str = IOCS_PATH,
    **params: Any,
) -> requests.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return http.get(
        api.base_url + path,
        params=params,
        headers=headers,
        verify=str(api.ca_file) if api.ca_file else True,
        timeout=30,
    )


def page(http: requests.Session, api: VendorApi, key: str = PRO_KEY, **params: Any) -> dict:
    response = fetch(http, api, key, **params)
    assert response.status_code == 200, response.text
    return response.json()


def listing(http: requests.Session, api: VendorApi, **params: Any) -> List[dict]:
    """Every record a Pro key can read (no mutation meanwhile), in the corpus order."""
    records: List[dict] = []
    while True:
        body = page(http, api, limit=10000, offset=len(records), **params)
        records += body["data"]
        if body["links"]["next"] is None:
            return records


def error_of(response: requests.Response, status: int) -> dict:
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert REQUEST_ID.match(error["request_id"])
    assert response.headers["X-Request-Id"] == error["request_id"]
    return error


def order_key(corpus: Corpus, record: dict) -> Tuple[int, str]:
    return corpus.updated_at(record["id"]), record["id"]


def use(api: VendorApi, corpus: Corpus) -> Corpus:
    api.corpus = corpus
    return corpus


# -- the documented answer -----------------------------------------------------------------


def test_answer_shape(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(300))
    response = fetch(http, api)
    assert response.status_code == 200
    assert REQUEST_ID.match(response.headers["X-Request-Id"])
    assert response.headers["X-RateLimit-Limit"] == "1000"
    body = response.json()
    assert set(body) == {"meta", "data", "links"}
    meta = body["meta"]
    assert (meta["limit"], meta["offset"], meta["feed_version"], meta["source"]) == (
        100,
        0,
        "1.0",
        "SOC Defenders",
    )
    assert meta["generated_at"] == iso_utc(NOW)
    assert meta["filters"] == {
        "type": "all",
        "category": "all",
        "confidence": "all",
        "since": iso_utc(NOW - 365 * DAY),
        "until": iso_utc(NOW),
    }
    assert len(body["data"]) == 100 < meta["total"] <= 300
    for record in body["data"]:
        assert set(record) == RECORD_KEYS
        assert set(record["source"]) == SOURCE_KEYS
        assert UUID.match(record["id"])
        assert record["type"] in RAW_TYPES
        assert record["confidence"] in CONFIDENCES
        assert ISO.match(record["first_seen"])
        assert ISO.match(record["last_seen"])
        assert record["first_seen"] <= record["last_seen"]
        assert isinstance(record["tags"], list)
        assert isinstance(record["mitre_techniques"], list)
        assert record["source"]["origin"] in ("article", "feed")
        if record["source"]["origin"] == "feed":
            assert record["source"]["article_title"] is None


def test_http_page_is_the_corpus_answer(api: VendorApi, http: requests.Session) -> None:
    corpus = use(api, Corpus(400, seed=7))
    params = {"type": "domain", "limit": "20", "offset": "3"}
    expected = corpus.answer(params, tier="free", base_url=api.base_url)
    assert page(http, api, FREE_KEY, **params) == expected


def test_corpus_is_deterministic() -> None:
    first = Corpus(500, seed=3).answer({"limit": "500"})
    assert Corpus(500, seed=3).answer({"limit": "500"}) == first
    assert Corpus(500, seed=4).answer({"limit": "500"}) != first


# -- limits and links ----------------------------------------------------------------------


def test_free_limit_is_clamped_to_100(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(5000))
    body = page(http, api, FREE_KEY, limit=500)
    assert body["meta"]["limit"] == 100
    assert body["meta"]["total"] > 100
    assert len(body["data"]) == 100
    assert body["links"]["next"] == f"{api.iocs_url}?limit=100&offset=100"


def test_default_limit_is_100(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(500))
    body = page(http, api)
    assert (body["meta"]["limit"], len(body["data"])) == (100, 100)


def test_pro_limit_is_clamped_to_10000(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(12_000))
    first = page(http, api, limit=20000)
    total = first["meta"]["total"]
    assert first["meta"]["limit"] == 10000
    assert len(first["data"]) == 10000 < total
    assert first["links"]["next"] == f"{api.iocs_url}?limit=10000&offset=10000"
    second = page(http, api, limit=10000, offset=10000)
    assert len(second["data"]) == total - 10000
    assert second["links"]["next"] is None
    assert not {r["id"] for r in first["data"]} & {r["id"] for r in second["data"]}


def test_links_drop_the_filters(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(3000))
    filters = {"type": "ipv4", "confidence": "high", "since": iso_utc(NOW - 90 * DAY)}
    body = page(http, api, limit=5, offset=5, **filters)
    assert body["links"]["self"] == f"{api.iocs_url}?limit=5&offset=5"
    assert body["links"]["next"] == f"{api.iocs_url}?limit=5&offset=10"
    # Following `next` literally widens the query: every type, confidence, the full lookback.
    followed = http.get(
        body["links"]["next"],
        headers={"Authorization": f"Bearer {PRO_KEY}"},
        verify=str(api.ca_file),
        timeout=10,
    ).json()
    assert followed["meta"]["filters"]["type"] == "all"
    assert followed["meta"]["total"] > body["meta"]["total"]
    assert {r["type"] for r in followed["data"]} != {"ipv4"}


def test_last_page_and_beyond(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(300))
    total = page(http, api, limit=1)["meta"]["total"]
    exact = page(http, api, limit=total)
    assert (len(exact["data"]), exact["links"]["next"]) == (total, None)
    beyond = page(http, api, limit=10, offset=total + 5)
    assert (beyond["data"], beyond["links"]["next"], beyond["meta"]["total"]) == ([], None, total)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "abc"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "1.5"),
        ("offset", "-1"),
        ("offset", "ten"),
        ("since", "yesterday"),
        ("since", "2026-13-01T00:00:00Z"),
        ("since", "2026-02-30"),
        ("confidence", "critical"),
        ("format", "csv"),
    ],
)
def test_invalid_parameter_is_400(
    api: VendorApi, http: requests.Session, name: str, value: str
) -> None:
    use(api, Corpus(100))
    response = fetch(http, api, **{name: value})
    assert error_of(response, 400)["code"] == "invalid_parameter"
    assert response.headers["X-RateLimit-Remaining"] == "999"  # it counted
    assert api.corpus.pages_served == 0
    with pytest.raises(ParameterError):
        api.corpus.answer({name: value})


def test_repeated_parameter_first_counts(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(1000))
    response = fetch(http, api, type=["ipv4", "domain"])
    assert "type=ipv4&type=domain" in response.url
    body = response.json()
    assert body["meta"]["filters"]["type"] == "ipv4"
    assert {r["type"] for r in body["data"]} == {"ipv4"}


# -- filters -------------------------------------------------------------------------------


def test_since_keeps_records_updated_after_it(api: VendorApi, http: requests.Session) -> None:
    corpus = use(api, Corpus(3000, order="ascending"))
    everything = listing(http, api)
    since = NOW - 30 * DAY
    newer = listing(http, api, since=iso_utc(since))
    assert [r["id"] for r in newer] == [
        r["id"] for r in everything if corpus.updated_at(r["id"]) > since
    ]
    assert 0 < len(newer) < len(everything)
    # Strictly after: the record stamped exactly `since` is not returned.
    edge = newer[0]
    after_edge = listing(http, api, since=iso_utc(corpus.updated_at(edge["id"])))
    assert edge["id"] not in {r["id"] for r in after_edge}
    # Offsets are accepted in any ISO 8601 spelling.
    shifted = page(http, api, since=time.strftime("%Y-%m-%dT%H:%M:%S+02:00", time.gmtime(since)))
    assert shifted["meta"]["filters"]["since"] == iso_utc(since - 2 * 3600)


def test_since_is_clamped_to_the_lookback(api: VendorApi, http: requests.Session) -> None:
    corpus = use(api, Corpus(5000))
    pro_all = listing(http, api)
    assert page(http, api, limit=1)["meta"]["filters"]["since"] == iso_utc(NOW - 365 * DAY)
    assert all(corpus.updated_at(r["id"]) > NOW - 365 * DAY for r in pro_all)
    assert len(pro_all) < len(corpus)  # older records exist, outside every lookback
    free = page(http, api, FREE_KEY, since=iso_utc(NOW - 10 * DAY))
    assert free["meta"]["filters"]["since"] == iso_utc(NOW - DAY)
    last_day = [r for r in pro_all if corpus.updated_at(r["id"]) > NOW - DAY]
    assert free["meta"]["total"] == len(last_day) > 0
    assert all(corpus.updated_at(r["id"]) > NOW - DAY for r in free["data"])
    older = page(http, api, since=iso_utc(NOW - 500 * DAY), limit=1)  # Pro: 365 days
    assert older["meta"]["total"] == len(pro_all)


def test_type_filter_matches_one_spelling(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(5000))
    for name in ("mitre-attack", "mitre_attack", "ipv4", "sha512", "ja3"):
        records = listing(http, api, type=name)
        assert records, name
        assert {r["type"] for r in records} == {name}
    assert page(http, api, type="IPv4")["meta"]["total"] == 0
    assert page(http, api, type="hostname")["meta"]["total"] == 0


def test_confidence_and_category_filters(api: VendorApi, http: requests.Session) -> None:
    use(api, Corpus(2000))
    total = page(http, api, limit=1)["meta"]["total"]
    counts = 0
    for confidence in CONFIDENCES:
        records = listing(http, api, confidence=confidence)
        assert records
        assert {r["confidence"] for r in records} == {confidence}
        counts += len(records)
    assert counts == total
    news = listing(http, api, category="news", type="domain")
    assert news
    assert {(r["source"]["category"], r["type"]) for r in news} == {("news", "domain")}


# -- order -----------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["ascending", "descending", "unordered"])
def test_each_order_is_stable(api: VendorApi, http: requests.Session, order: str) -> None:
    corpus = use(api, Corpus(2000, order=order))
    first = [r["id"] for r in listing(http, api)]
    assert [r["id"] for r in listing(http, api)] == first
    pages = [
        r["id"]
        for offset in range(0, len(first), 300)
        for r in page(http, api, limit=300, offset=offset)["data"]
    ]
    assert pages == first
    keys = [(corpus.updated_at(i), i) for i in first]
    if order == "ascending":
        assert keys == sorted(keys)
    elif order == "descending":
        assert keys == sorted(keys, reverse=True)
    else:
        assert keys not in (sorted(keys), sorted(keys, reverse=True))
        assert first == sorted(first)  # by id: a fixed permutation unrelated to time


# -- inserts and updates between pages --------------------------------------------------------


def test_naive_offset_paging_skips_a_record(api: VendorApi, http: requests.Session) -> None:
    """Ascending order: a record of an already-read page is updated, moves to the end, and
    every later record shifts back by one: the record at the next offset is never read."""
    corpus = use(api, Corpus(250, order="ascending"))
    before = [r["id"] for r in listing(http, api)]
    seen: List[str] = []
    offset = 0
    while True:
        body = page(http, api, limit=50, offset=offset)
        seen += [r["id"] for r in body["data"]]
        if offset == 0:
            corpus.advance(1)
            corpus.update(ids=[seen[0]])
        if body["links"]["next"] is None:
            break
        offset += 50
    assert set(before) - set(seen) == {before[50]}  # skipped
    assert seen.count(before[0]) == 2  # read again at the end


def test_between_pages_hook(api: VendorApi, http: requests.Session) -> None:
    """Descending order with 5 inserts and 5 updates after every page: records shift
    forward, so the head of each page re-reads the tail of the previous one."""
    corpus = use(api, Corpus(500, order="descending"))
    calls: List[int] = []

    def churn(c: Corpus) -> None:
        calls.append(c.pages_served)
        c.advance(1)
        c.insert(5)
        c.update(5)

    corpus.between_pages = churn
    pages = [page(http, api, limit=100, offset=offset) for offset in (0, 100, 200)]
    assert calls == [1, 2, 3]
    assert len(corpus) == 515
    totals = [p["meta"]["total"] for p in pages]
    assert totals[1] >= totals[0] + 5
    assert totals[2] >= totals[1] + 5
    first, second = ([r["id"] for r in p["data"]] for p in pages[:2])
    assert set(first) & set(second)  # re-read
    assert error_of(fetch(http, api, limit="x"), 400)["code"] == "invalid_parameter"
    assert calls == [1, 2, 3]  # a refused request is not a page


def test_insert_and_update() -> None:
    corpus = Corpus(1000, order="ascending")
    old_keys = {corpus.canonical(corpus.record_id(i)) for i in range(1000)}
    corpus.advance(60)
    inserted = corpus.insert(200)
    assert len(corpus) == 1200
    assert {corpus.updated_at(i) for i in inserted} == {NOW + 60}
    new_keys = [corpus.canonical(i) for i in inserted]
    assert any(k in old_keys for k in new_keys if k[1] is not None)  # existing values
    assert any(k not in old_keys for k in new_keys)  # new values
    corpus.advance(60)
    updated = corpus.update(3, ids=[corpus.record_id(0)])
    assert len(updated) == 4
    assert updated[0] == corpus.record_id(0)
    assert {corpus.updated_at(i) for i in updated} == {NOW + 120}
    total = corpus.answer({"limit": "1"})["meta"]["total"]
    tail = corpus.answer({"limit": "4", "offset": str(total - 4)})["data"]
    assert sorted(r["id"] for r in tail) == sorted(updated)  # ascending: moved to the end
    for record_id in updated:
        assert corpus.record(corpus.index_of(record_id))["last_seen"] == iso_utc(NOW + 120)


# -- the oracle: several records per value, invalid values -------------------------------------


def test_several_records_per_value(api: VendorApi, http: requests.Session) -> None:
    corpus = use(api, Corpus(3000))
    groups: Dict[Tuple[str, Optional[str]], List[dict]] = defaultdict(list)
    for record in listing(http, api):
        groups[corpus.canonical(record["id"])].append(record)
    valid = {k: v for k, v in groups.items() if k[1] is not None}
    several = [records for records in valid.values() if len(records) > 1]
    assert 0.15 < len(several) / len(valid) < 0.45
    assert max(len(records) for records in several) >= 3
    assert any(len({r["source"]["feed_name"] for r in records}) > 1 for records in several)
    assert any(len({r["confidence"] for r in records}) > 1 for records in several)
    assert any(len({r["value"] for r in records}) > 1 for records in several)  # spellings
    spellings = [{r["type"] for r in records} for records in several]
    assert {"mitre-attack", "mitre_attack"} in spellings


def test_values_are_spelled_as_feeds_spell_them() -> None:
    corpus = Corpus(5000)
    records = corpus.answer({"limit": "10000"})["data"]
    pairs = [(r["type"], r["value"], corpus.canonical(r["id"])[1]) for r in records]
    differ = {(t, raw, canonical) for t, raw, canonical in pairs if canonical not in (None, raw)}
    assert any(t == "domain" and raw.endswith(".") for t, raw, _ in differ)
    assert any(t == "domain" and raw != raw.lower() for t, raw, _ in differ)
    assert any(t == "ipv6" and raw.count(":") == 7 for t, raw, _ in differ)
    assert any(t == "ipv4" and ".0" in "." + raw for t, raw, _ in differ)  # leading zeros
    assert any(t == "url" and re.search(r":(80|443)/", raw) for t, raw, _ in differ)
    assert any(
        t == "url" and raw.split("/")[2] != raw.split("/")[2].lower() for t, raw, _ in differ
    )
    assert any(t == "cve" and raw.startswith("cve-") for t, raw, _ in differ)
    assert any(t.startswith("mitre") and raw[0] == "t" for t, raw, _ in differ)
    assert any(t == "md5" and raw.upper() == raw for t, raw, _ in differ)
    assert any(t == "email" and raw != raw.lower() for t, raw, _ in differ)
    for t, raw, canonical in differ:
        if t == "url":  # path and query kept byte for byte
            assert raw.split("/", 3)[3] == canonical.split("/", 3)[3]
        if t == "ja3":  # an undocumented type: stripped, case kept
            assert canonical == raw.strip()


def test_invalid_values_are_served() -> None:
    corpus = Corpus(5000)
    records = corpus.answer({"limit": "10000"})["data"]
    invalid = [r for r in records if corpus.canonical(r["id"])[1] is None]
    assert 0.003 < len(invalid) / len(records) < 0.03
    values = {r["value"] for r in invalid}
    assert "" in values
    assert any(len(v) > 4096 for v in values)
    assert corpus.invalid_count(NOW - 365 * DAY) == len(invalid)


def test_expected_merges_the_records_of_each_value() -> None:
    corpus = Corpus(3000)
    since = NOW - 365 * DAY
    records = corpus.answer({"limit": "10000"})["data"]
    by_key: Dict[Tuple[str, Optional[str]], List[dict]] = defaultdict(list)
    for record in records:
        by_key[corpus.canonical(record["id"])].append(record)
    expected = corpus.expected(since)
    assert set(expected) == {k for k in by_key if k[1] is not None}
    for key, group in by_key.items():
        if key[1] is None:
            continue
        merged = expected[key]  # type: ignore[index]
        assert merged.records == len(group)
        assert merged.first_seen == min(r["first_seen"] for r in group)
        assert merged.last_seen == max(r["last_seen"] for r in group)
        assert merged.confidence == max((r["confidence"] for r in group), key=CONFIDENCES.index)
        assert merged.feeds == tuple(sorted({r["source"]["feed_name"] for r in group}))
        assert merged.ioc_ids == tuple(sorted(r["id"] for r in group))
        assert merged.type in CANONICAL_TYPES
    mitre = corpus.expected(since, types=["mitre_attack"], min_confidence="high")
    assert mitre
    assert {k[0] for k in mitre} == {"mitre-attack"}
    assert {merged.confidence for merged in mitre.values()} == {"high"}


def test_expected_at_undoes_later_mutations() -> None:
    corpus = Corpus(300)
    before = corpus.expected(None)
    invalid_before = corpus.invalid_count(None)
    corpus.advance(60)
    corpus.insert(30)
    corpus.update(30)
    assert corpus.expected(None, at=NOW) == before
    assert corpus.invalid_count(None, at=NOW) == invalid_before
    assert corpus.expected(None) != before
    mutated = corpus.expected(NOW)  # updated after NOW: only what the mutations stamped
    assert mutated
    assert mutated == corpus.expected(NOW, at=NOW + 60)


# -- auth, rate limits, faults -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "missing_api_key"),
        ("sk_live_FAKE0unknown", "invalid_api_key"),
        (EXPIRED_KEY, "expired_api_key"),
    ],
)
def test_401_codes(api: VendorApi, http: requests.Session, key: Optional[str], code: str) -> None:
    assert error_of(fetch(http, api, key), 401)["code"] == code
    assert api.corpus.pages_served == 0


def test_free_key_reads_the_list_and_gets_429(api: VendorApi, http: requests.Session) -> None:
    before = time.time()
    statuses = [fetch(http, api, FREE_KEY).status_code for _ in range(10)]
    assert statuses == [200] * 10
    over = fetch(http, api, FREE_KEY)
    assert error_of(over, 429)["code"] == "rate_limit_exceeded"
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert before + 59 <= int(over.headers["X-RateLimit-Reset"]) <= time.time() + 61
    assert fetch(http, api).status_code == 200  # other keys unaffected


def test_daily_limit(cert_dir: Path, http: requests.Session) -> None:
    with VendorApi(cert_dir, tls="off", daily_limits={"free": 3, "pro": 5}) as plain:
        assert [fetch(http, plain, FREE_KEY).status_code for _ in range(3)] == [200] * 3
        over = fetch(http, plain, FREE_KEY)
        assert error_of(over, 429)["code"] == "rate_limit_exceeded"
        midnight = (int(time.time()) // DAY + 1) * DAY
        assert int(over.headers["X-RateLimit-Reset"]) == midnight
        assert over.headers["X-RateLimit-Remaining"] == "0"
        statuses = [fetch(http, plain, PRO_KEY, STATS_PATH).status_code for _ in range(2)]
        statuses += [fetch(http, plain).status_code for _ in range(3)]
        assert statuses == [200] * 5  # both paths count
        assert fetch(http, plain).status_code == 429
        plain.reset()
        assert fetch(http, plain, FREE_KEY).status_code == 200


def test_scripted_faults_apply_to_the_list(api: VendorApi, http: requests.Session) -> None:
    api.script(Fault.status(503), Fault.rate_limited(reset_in=120))
    assert error_of(fetch(http, api), 503)["code"] == "service_unavailable"
    assert fetch(http, api).status_code == 429
    assert fetch(http, api).status_code == 200
    assert api.corpus.pages_served == 1


def test_default_corpus_follows_the_wall_clock(api: VendorApi, http: requests.Session) -> None:
    body = page(http, api, FREE_KEY)
    generated = parse_iso(body["meta"]["generated_at"])
    assert generated is not None
    assert abs(generated - time.time()) < 5
    assert body["meta"]["total"] > 100  # a Free key's day holds more than a page
    assert len(body["data"]) == 100


# -- scale ---------------------------------------------------------------------------------


def test_a_million_records() -> None:
    """Builds in seconds and answers from compact arrays (counts asserted, not timers)."""
    corpus = Corpus(1_000_000)
    assert len(corpus) == 1_000_000
    body = corpus.answer({"limit": "10000"})
    meta = body["meta"]
    assert (meta["limit"], len(body["data"])) == (10000, 10000)
    assert 900_000 < meta["total"] < 1_000_000
    assert body["links"]["next"].endswith("?limit=10000&offset=10000")
    stamps = [corpus.updated_at(r["id"]) for r in body["data"][:50]]
    assert stamps == sorted(stamps, reverse=True)  # descending: newest first
    free = corpus.answer({"type": "ipv4", "confidence": "high", "limit": "500"}, tier="free")
    assert free["meta"]["limit"] == 100
    assert 1000 < free["meta"]["total"] < 10_000
    assert {(r["type"], r["confidence"]) for r in free["data"]} == {("ipv4", "high")}
    assert len(corpus.serve_page({"limit": "1000", "offset": "20000"})) > 100_000
    assert corpus.pages_served == 1
