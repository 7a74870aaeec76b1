"""The splunkd emulator's KV store data endpoints, proved with the real splunklib.

Each test runs a short script on each Splunk Python with only the built add-on's lib/
importable, and calls splunklib's public ``KVStoreCollectionData`` (``query``,
``query_by_id``, ``insert``, ``update``, ``batch_find``, ``batch_save``, ``delete``,
``delete_by_id``) exactly as the add-on's glue does, against the emulator on loopback. The
limits are splunkd's defaults (``limits.conf [kvstore]``); a few tests lower one through
``Splunkd.kv_limits`` to stay small. The last tests drive the query engine in-process to
show that paging through a large collection costs one scan, not one per page.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from tests.support import kvstore
from tests.support.kvstore import KV_LIMITS, Collections, KvError, KvStoreData, Records
from tests.support.splunkd import APP, Splunkd

COLLECTION = "socdefenders_iocs"
CHECKPOINTS = "ta_socdefenders_checkpoints"

PRELUDE = """
import json, sys
sys.path[:0] = [{lib!r}]
from splunklib import binding, client, data
from solnlib.splunk_rest_client import SplunkRestClient
service = SplunkRestClient({session_key!r}, {app!r}, scheme="https", host="127.0.0.1",
                           port={port!r}, max_retries=0)

def collection(name):
    return client.KVStoreCollection(
        service, "storage/collections/config/" + name, state=data.record({{"title": name}})
    ).data

kv = collection({collection!r})
RESULT = {{}}

def refused(call):
    try:
        call()
    except binding.HTTPError as error:
        return [error.status, str(error)]
    return None
"""
EPILOGUE = """
print(json.dumps(RESULT))
"""


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("splunkd_kv_certs")


@pytest.fixture
def splunkd(cert_dir: Path) -> Iterator[Splunkd]:
    with Splunkd(cert_dir) as server:
        server.collections.update({COLLECTION, CHECKPOINTS})  # as collections.conf ships them
        yield server
    assert server.errors == [], "the emulator failed:\n" + "\n".join(server.errors)


def run_splunklib(python: str, app_dir: Path, splunkd: Splunkd, body: str) -> Dict[str, Any]:
    """Run ``body`` on ``python`` with only the built lib/ importable; RESULT comes back."""
    script = PRELUDE.format(
        lib=str(app_dir / "lib"),
        session_key=splunkd.session_key,
        app=APP,
        port=splunkd.port,
        collection=COLLECTION,
    )
    script += textwrap.dedent(body) + EPILOGUE
    result = subprocess.run(
        [python, "-B", "-E", "-s", "-S", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def documents(count: int, **extra: Any) -> list:
    return [
        {"_key": f"k{n:05d}", "type": ("ipv4", "domain", "url")[n % 3], "n": n, **extra}
        for n in range(count)
    ]


# -- keys, inserts, replacements ----------------------------------------------------------


def test_keys_with_slash_and_colon_travel_encoded(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    body = """
    ck = collection("ta_socdefenders_checkpoints")
    key = "socdefenders_iocs://prod_feed"
    RESULT["saved"] = ck.batch_save({"_key": key, "state": "{}"},
                                    {"_key": "lock://socdefenders_iocs", "state": "x"})
    RESULT["one"] = ck.query_by_id(key)
    RESULT["insert_again"] = refused(lambda: ck.insert(json.dumps({"_key": key, "state": "y"})))
    RESULT["inserted"] = ck.insert(json.dumps({"_key": "budget://prod", "state": "{}"}))
    RESULT["replaced"] = ck.update(key, json.dumps({"state": "z"}))
    RESULT["after"] = ck.query_by_id(key)
    ck.delete_by_id(key)
    RESULT["gone"] = refused(lambda: ck.query_by_id(key))
    RESULT["delete_gone"] = refused(lambda: ck.delete_by_id(key))
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    key = "socdefenders_iocs://prod_feed"
    assert result["saved"] == [key, "lock://socdefenders_iocs"]
    assert result["one"] == {"_key": key, "state": "{}", "_user": "nobody"}
    status, message = result["insert_again"]
    assert status == 409
    assert "A document with the same key already exists" in message
    assert result["inserted"] == {"_key": "budget://prod"}
    assert result["replaced"] == {"_key": key}
    assert result["after"] == {"_key": key, "state": "z", "_user": "nobody"}
    assert result["gone"][0] == 404
    assert result["delete_gone"][0] == 404
    assert set(splunkd.kvstore[CHECKPOINTS]) == {"lock://socdefenders_iocs", "budget://prod"}
    by_id = [r.path for r in splunkd.requests if r.method == "GET"]
    assert by_id[0].endswith(f"/{CHECKPOINTS}/socdefenders_iocs%3A%2F%2Fprod_feed")
    insert = next(r for r in splunkd.requests if r.method == "POST" and r.path.endswith("/"))
    assert insert.kind == "kvstore_write"


# -- batch_save limits --------------------------------------------------------------------


def test_batch_save_takes_1000_documents_and_refuses_1001(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    body = """
    docs = [{"_key": "k%05d" % n, "n": n} for n in range(1001)]
    RESULT["thousand"] = len(kv.batch_save(*docs[:1000]))
    RESULT["too_many"] = refused(lambda: kv.batch_save(*docs))
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    assert result["thousand"] == 1000
    status, message = result["too_many"]
    assert status == 400
    assert (
        "Request exceeds API limits - see limits.conf for details. (Too many documents for a "
        "single batch save, max_documents_per_batch_save=1000)"
    ) in message
    assert len(splunkd.kvstore[COLLECTION]) == 1000  # nothing of the refused batch


def test_batch_save_refuses_a_body_over_the_size_limit(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    splunkd.kv_limits["max_size_per_batch_save_mb"] = 1  # 50 MB in splunkd's defaults
    body = """
    blob = "x" * 1100
    RESULT["fits"] = len(kv.batch_save(*[{"_key": "a%d" % n, "v": blob} for n in range(900)]))
    big = [{"_key": "b%d" % n, "v": blob} for n in range(1000)]
    RESULT["too_big"] = refused(lambda: kv.batch_save(*big))
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    assert result["fits"] == 900
    status, message = result["too_big"]
    assert status == 400
    assert "Request exceeds API limits" in message
    assert "max_size_per_batch_save_mb=1" in message
    assert len(splunkd.kvstore[COLLECTION]) == 900
    refused_request = splunkd.requests[-1]
    assert refused_request.body_size > 1024 * 1024
    assert len(refused_request.body) == splunkd.record_body_bytes  # kept only in part


def test_batch_save_upserts_and_accepts_utf8_bytes(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    """What the glue sends: UTF-8 JSON bytes through ``service.post`` (splunklib's own
    ``batch_save`` escapes non-ASCII); both land as the same documents."""
    body = """
    RESULT["lib"] = kv.batch_save({"_key": "a", "v": "caf\\u00e9"}, {"v": "no key"})
    raw = json.dumps([{"_key": "b", "v": "\\u00fcber \\u2603"}, {"_key": "a", "v": 2}],
                     ensure_ascii=False).encode("utf-8")
    answer = service.post(kv.path + "batch_save", owner=kv.owner, app=kv.app,
                          sharing=kv.sharing, headers=[("Content-Type", "application/json")],
                          body=raw)
    RESULT["raw"] = json.loads(answer.body.read())
    RESULT["all"] = kv.query(sort="_key")
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    generated = result["lib"][1]
    assert result["lib"][0] == "a"
    assert len(generated) == 24
    assert result["raw"] == ["b", "a"]
    assert [(d["_key"], d["v"]) for d in result["all"]] == sorted(
        [("a", 2), ("b", "über ☃"), (generated, "no key")]
    )


# -- the query language -------------------------------------------------------------------

QUERY_DOCS = [
    {"_key": "a", "type": "ipv4", "n": 1, "tags": ["x", "y"], "conf": "high"},
    {"_key": "b", "type": "ipv4", "n": 5, "tags": ["y"], "conf": "low"},
    {"_key": "c", "type": "url", "n": 10, "tags": [], "conf": "medium"},
    {"_key": "d", "type": "url", "n": 7.5, "conf": None},
    {"_key": "e", "type": "domain", "n": "7", "tags": ["z"]},
]
QUERIES = {
    "equality": ({"type": "url"}, ["c", "d"]),
    "array_element": ({"tags": "y"}, ["a", "b"]),
    "gt": ({"n": {"$gt": 5}}, ["c", "d"]),  # "7" is a string: no number bracket match
    "gte": ({"n": {"$gte": 5}}, ["b", "c", "d"]),
    "lt": ({"n": {"$lt": 5}}, ["a"]),
    "lte": ({"n": {"$lte": 5}}, ["a", "b"]),
    "range": ({"n": {"$gt": 1, "$lt": 10}}, ["b", "d"]),
    "string_range": ({"n": {"$gte": "0"}}, ["e"]),
    "ne": ({"type": {"$ne": "ipv4"}}, ["c", "d", "e"]),
    "ne_array": ({"tags": {"$ne": "y"}}, ["c", "d", "e"]),
    "null_or_missing": ({"conf": None}, ["d", "e"]),
    "not": ({"n": {"$not": {"$gt": 5}}}, ["a", "b", "e"]),
    "and": ({"$and": [{"type": "ipv4"}, {"n": {"$gt": 1}}]}, ["b"]),
    "or": ({"$or": [{"_key": "a"}, {"_key": "e"}, {"_key": "zz"}]}, ["a", "e"]),
    "or_fields": ({"$or": [{"type": "domain"}, {"n": {"$lt": 2}}]}, ["a", "e"]),
    "nested": ({"$or": [{"$and": [{"type": "url"}, {"n": 10}]}, {"conf": "low"}]}, ["b", "c"]),
    "all": ({}, ["a", "b", "c", "d", "e"]),
}


def test_query_language(splunk_python: str, app_dir: Path, splunkd: Splunkd) -> None:
    splunkd.kvstore[COLLECTION] = {d["_key"]: d for d in QUERY_DOCS}
    body = f"""
    queries = json.loads({json.dumps({name: q for name, (q, _) in QUERIES.items()})!r})
    for name, query in queries.items():
        RESULT[name] = [d["_key"] for d in kv.query(query=json.dumps(query), sort="_key")]
    RESULT["bad_operator"] = refused(lambda: kv.query(query=json.dumps({{"n": {{"$in": [1]}}}})))
    RESULT["bad_top"] = refused(lambda: kv.query(query=json.dumps({{"$nor": [{{"n": 1}}]}})))
    RESULT["bad_json"] = refused(lambda: kv.query(query="{{nope"))
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    for name, (_, expected) in QUERIES.items():
        assert result[name] == expected, name
    for name in ("bad_operator", "bad_top", "bad_json"):
        assert result[name][0] == 400, name


def test_sort_skip_limit_and_fields(splunk_python: str, app_dir: Path, splunkd: Splunkd) -> None:
    splunkd.kvstore[COLLECTION] = {d["_key"]: d for d in QUERY_DOCS}
    body = """
    keys = lambda rows: [r["_key"] for r in rows]
    RESULT["type_then_n_desc"] = keys(kv.query(sort="type,n:-1"))
    RESULT["n_desc"] = keys(kv.query(sort="n:-1"))
    RESULT["page"] = keys(kv.query(sort="_key", skip=1, limit=2))
    RESULT["past_end"] = kv.query(sort="_key", skip=9)
    RESULT["include"] = kv.query(query=json.dumps({"_key": "a"}), fields="type,n")
    RESULT["include_no_key"] = kv.query(sort="_key", limit=2, fields="type,_key:0")
    RESULT["include_flags"] = kv.query(query=json.dumps({"_key": "b"}), fields="n:1,conf:1")
    RESULT["exclude"] = kv.query(query=json.dumps({"_key": "a"}), fields="tags:0,conf:0")
    RESULT["mixed"] = refused(lambda: kv.query(fields="type:1,n:0"))
    RESULT["bad_limit"] = refused(lambda: kv.query(limit="x"))
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    assert result["type_then_n_desc"] == ["e", "b", "a", "c", "d"]
    assert result["n_desc"] == ["e", "c", "d", "b", "a"]  # strings sort after numbers
    assert result["page"] == ["b", "c"]
    assert result["past_end"] == []
    assert result["include"] == [{"type": "ipv4", "n": 1, "_key": "a"}]
    assert result["include_no_key"] == [{"type": "ipv4"}, {"type": "ipv4"}]
    assert result["include_flags"] == [{"n": 5, "conf": "low", "_key": "b"}]
    assert result["exclude"] == [{"_key": "a", "type": "ipv4", "n": 1, "_user": "nobody"}]
    assert result["mixed"][0] == 400
    assert result["bad_limit"][0] == 400


def test_rows_are_cut_silently_at_max_rows_per_query(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    splunkd.kv_limits["max_rows_per_query"] = 4  # 50,000 in splunkd's defaults
    splunkd.kvstore[COLLECTION] = {d["_key"]: d for d in documents(10)}
    body = """
    RESULT["no_limit"] = len(kv.query())
    RESULT["limit_0"] = len(kv.query(limit=0))
    RESULT["limit_9"] = len(kv.query(limit=9))
    RESULT["pages"] = [[d["_key"] for d in kv.query(sort="_key", skip=s, limit=4)]
                       for s in (0, 4, 8)]
    RESULT["find"] = [len(rows) for rows in kv.batch_find({"query": {}}, {"limit": 2})]
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    assert result["no_limit"] == result["limit_0"] == result["limit_9"] == 4
    assert result["pages"] == [
        ["k00000", "k00001", "k00002", "k00003"],
        ["k00004", "k00005", "k00006", "k00007"],
        ["k00008", "k00009"],
    ]
    assert result["find"] == [4, 2]


def test_the_default_row_limit_is_50000(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    splunkd.kvstore[COLLECTION] = {f"k{n:06d}": {"_key": f"k{n:06d}"} for n in range(50001)}
    body = """
    RESULT["rows"] = len(kv.query(fields="_key"))
    RESULT["last"] = kv.query(sort="_key", skip=50000, fields="_key")
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    assert result["rows"] == 50000
    assert result["last"] == [{"_key": "k050000"}]


# -- batch_find ---------------------------------------------------------------------------


def test_batch_find_answers_a_list_per_query(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    splunkd.kvstore[COLLECTION] = {d["_key"]: d for d in QUERY_DOCS}
    body = """
    RESULT["found"] = kv.batch_find(
        {"query": {"$or": [{"_key": "c"}, {"_key": "a"}, {"_key": "nope"}]}},
        {"query": {"type": "ipv4"}, "sort": "n:-1", "fields": "n,_key:0"},
        {"query": {"type": "none"}},
        {"query": {}, "skip": 3, "limit": 1, "sort": "_key"},
    )
    queries = [{"query": {"_key": "k%d" % n}} for n in range(1001)]
    RESULT["thousand"] = len(kv.batch_find(*queries[:1000]))
    RESULT["too_many"] = refused(lambda: kv.batch_find(*queries))
    RESULT["bad_member"] = refused(lambda: kv.batch_find({"query": {}, "order": "x"}))
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    by_key, by_type, none, one = result["found"]
    assert sorted(d["_key"] for d in by_key) == ["a", "c"]
    assert by_type == [{"n": 5}, {"n": 1}]
    assert none == []
    assert [d["_key"] for d in one] == ["d"]
    assert result["thousand"] == 1000
    status, message = result["too_many"]
    assert status == 400
    assert "Request exceeds API limits" in message
    assert "max_queries_per_batch=1000" in message
    assert result["bad_member"][0] == 400
    finds = [r for r in splunkd.requests if r.path.endswith("/batch_find")]
    assert {r.kind for r in finds} == {"kvstore_read"}


# -- delete by query ----------------------------------------------------------------------


def test_delete_by_query_removes_every_match_in_one_request(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    splunkd.kvstore[COLLECTION] = {d["_key"]: d for d in documents(3000)}
    body = """
    kv.delete(query=json.dumps({"n": {"$lt": 2500}}))
    RESULT["left"] = len(kv.query())
    kv.delete(query=json.dumps({"_key": "k02999", "n": 1}))  # the n does not match
    RESULT["kept"] = len(kv.query())
    kv.delete()
    RESULT["none"] = kv.query()
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    assert result["left"] == 500
    assert result["kept"] == 500
    assert result["none"] == []
    deletes = [r for r in splunkd.requests if r.method == "DELETE"]
    assert len(deletes) == 3
    assert json.loads(deletes[0].query["query"][0]) == {"n": {"$lt": 2500}}


def test_limits_are_served_as_limits_conf(
    splunk_python: str, app_dir: Path, splunkd: Splunkd
) -> None:
    splunkd.kv_limits["max_rows_per_query"] = 1234
    body = """
    conf = client.ConfigurationFile(service, client.PATH_CONF % "limits",
                                    state={"title": "limits"})
    RESULT["kvstore"] = dict(conf.list(name="kvstore")[0].content)
    """
    result = run_splunklib(splunk_python, app_dir, splunkd, body)
    content = result["kvstore"]
    assert content["max_rows_per_query"] == "1234"
    assert content["max_documents_per_batch_save"] == "1000"
    assert content["max_queries_per_batch"] == "1000"
    assert content["max_size_per_batch_save_mb"] == "50"


# -- in-process: the query engine on a large collection -----------------------------------


def test_tests_may_change_the_store_like_a_dict(splunkd: Splunkd) -> None:
    splunkd.kvstore[COLLECTION] = {"a": {"_key": "a", "n": 1}}
    assert isinstance(splunkd.kvstore[COLLECTION], Records)
    data = KvStoreData(lambda: splunkd.kvstore, splunkd.kv_limits)  # type: ignore[arg-type]
    assert data.find(COLLECTION, {"n": 1}) == [b'{"_key": "a", "n": 1, "_user": "nobody"}']
    splunkd.kvstore[COLLECTION]["b"] = {"_key": "b", "n": 1}
    assert len(data.find(COLLECTION, {"n": 1})) == 2  # the cached answer was dropped
    splunkd.kvstore = {COLLECTION: {}}
    assert data.find(COLLECTION, {"n": 1}) == []
    assert json.loads(json.dumps(splunkd.kvstore)) == {COLLECTION: {}}


def test_paging_a_large_collection_scans_and_sorts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paging 300,000 documents by 50,000 (what ``count_by_type`` and ``expired`` do) costs
    one scan and one sort; a change to the collection makes the next page scan again."""
    total = 300_000
    store = Collections({COLLECTION: {}})
    records = store[COLLECTION]
    for n in range(total):
        key = f"{(n * 7919) % total:064x}"  # keys not in insertion order
        dict.__setitem__(records, key, {"_key": key, "type": "ipv4", "last_seen_epoch": n})
    data = KvStoreData(lambda: store, dict(KV_LIMITS))
    calls = {"compile": 0, "sort": 0}
    compile_query, sort_documents = kvstore.compile_query, kvstore.sort_documents

    def counting_compile(query: Any) -> Any:
        calls["compile"] += 1
        return compile_query(query)

    def counting_sort(found: Any, spec: Any) -> Any:
        calls["sort"] += 1
        return sort_documents(found, spec)

    monkeypatch.setattr(kvstore, "compile_query", counting_compile)
    monkeypatch.setattr(kvstore, "sort_documents", counting_sort)
    started = time.perf_counter()
    seen, skip = 0, 0
    while True:
        rows = data.find(COLLECTION, {}, sort="_key", fields="type,_key:0", skip=skip, limit=50000)
        seen += len(rows)
        skip += 50000
        if len(rows) < 50000:
            break
    expired = 0
    for skip in range(0, total, 50000):
        query = {"last_seen_epoch": {"$lt": 200_000}}
        expired += len(data.find(COLLECTION, query, sort="_key", skip=skip, limit=50000))
    elapsed = time.perf_counter() - started
    assert (seen, expired) == (total, 200_000)
    assert calls == {"compile": 2, "sort": 2}
    assert elapsed < 30, f"paging took {elapsed:.1f} s"

    data.batch_save(COLLECTION, json.dumps([{"_key": "new", "type": "url"}]).encode())
    assert len(data.find(COLLECTION, {}, sort="_key", skip=300_000, limit=50000)) == 1
    assert calls == {"compile": 3, "sort": 3}
    data.delete(COLLECTION, {"query": json.dumps({"last_seen_epoch": {"$lt": 200_000}})})
    assert len(records) == 100_001


def test_lookups_by_key_never_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Collections({COLLECTION: {f"k{n}": {"_key": f"k{n}", "n": n} for n in range(5000)}})
    data = KvStoreData(lambda: store, dict(KV_LIMITS))
    monkeypatch.setattr(kvstore, "compile_query", lambda query: pytest.fail("scanned"))
    query = {"$or": [{"_key": f"k{n}"} for n in range(0, 5000, 5)] + [{"_key": "nope"}]}
    body = json.dumps([{"query": query}, {"query": {"_key": "k7"}}]).encode()
    by_or, by_key = json.loads(data.batch_find(COLLECTION, body))
    assert len(by_or) == 1000
    assert by_key == [{"_key": "k7", "n": 7, "_user": "nobody"}]


def test_errors_are_kv_errors() -> None:
    with pytest.raises(KvError, match="unsupported operator"):
        kvstore.compile_query({"a": {"$regex": "x"}})
    with pytest.raises(KvError, match="non-empty array"):
        kvstore.compile_query({"$or": []})
    with pytest.raises(KvError, match="Invalid sort"):
        kvstore.parse_sort("a:2")
