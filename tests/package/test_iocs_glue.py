"""The built indicators glue: its KV store ports, events and REST handler, in the add-on.

Each test runs a script inside the built add-on on each Splunk Python (its bin/ and lib/
only, as splunkd runs it) against the splunkd emulator: ``socdefenders_kvstore``'s
``IndicatorCollection``, ``WriterLock`` and ``CheckpointStateStore`` on the run's one
``Service`` (``SplunkdConnection``), with splunkd's limits read from ``limits.conf`` (a
few tests lower one through ``Splunkd.kv_limits`` to stay small); the events the helper
renders, against splunklib's own; and ``IndicatorsInputHandler``, called the way
splunktaucclib calls it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from socdefenders.names import CHECKPOINT_COLLECTION, INDICATOR_COLLECTION
from tests.package.conftest import run_handler_driver, run_isolated
from tests.support.splunkd import Splunkd, parse_stream

LOCK = "lock://socdefenders_iocs"

PRELUDE = """
import json, sys, time
bin_dir, support = sys.argv[1], sys.argv[2]
sys.path[:0] = [bin_dir, support]
SLEPT = []
time.sleep = SLEPT.append  # solnlib's retry back-off and the lock's polls, recorded
import import_declare_test
from splunklib import binding
from socdefenders_splunkd import SplunkdConnection
from socdefenders_kvstore import (
    CheckpointStateStore, IndicatorCollection, KvCollection, KvLimits, WriterLock,
    indicator_ports,
)
from socdefenders.errors import CheckpointError, CollectionError
conn = SplunkdConnection(sys.argv[3], sys.argv[4])
LIMITS = KvLimits.from_stanza(conn.kv_limits_stanza())
RESULT = {"limits": LIMITS.__dict__}

def documents(count, blob=""):
    return [
        {
            "_key": "%064x" % n,
            "type": ("ipv4", "domain", "url")[n % 3],
            "value": "v%d.example%s" % (n, blob),
            "last_seen_epoch": 1_700_000_000 + n,
            "feeds": ["Feed \u00e9", "Feed \u2603"],
        }
        for n in range(count)
    ]

CHECKPOINTS = KvCollection(conn.service, "ta_socdefenders_checkpoints")

def failure(call):
    try:
        call()
    except CollectionError as error:
        return {"type": type(error).__name__, "status": error.status, "message": error.message,
                "error_code": error.error_code, "category": error.category.value}
    return None
"""
EPILOGUE = """
RESULT["slept"] = SLEPT
print(json.dumps(RESULT))
"""


@pytest.fixture
def splunkd(tmp_path: Path) -> Iterator[Splunkd]:
    with Splunkd(tmp_path) as server:
        server.collections.update({CHECKPOINT_COLLECTION, INDICATOR_COLLECTION})
        yield server
    assert server.errors == [], "the emulator failed:\n" + "\n".join(server.errors)


def run_glue(python: str, app: Path, splunkd: Splunkd, body: str) -> Dict[str, Any]:
    script = PRELUDE + textwrap.dedent(body) + EPILOGUE
    result = run_isolated(
        python, app / "bin", "-c", script, str(app / "bin"), str(Path(__file__).parents[1] /
        "support"), splunkd.uri, splunkd.session_key, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def documents(count: int) -> list:
    """What the script's ``documents(count)`` makes (see PRELUDE)."""
    return [
        {
            "_key": f"{n:064x}",
            "type": ("ipv4", "domain", "url")[n % 3],
            "value": f"v{n}.example",
            "last_seen_epoch": 1_700_000_000 + n,
            "feeds": ["Feed é", "Feed ☃"],
        }
        for n in range(count)
    ]


def requests_of(splunkd: Splunkd, tail: str, method: str = "POST") -> list:
    return [r for r in splunkd.requests if r.method == method and r.path.endswith(tail)]


# -- the collection -----------------------------------------------------------------------


def test_save_and_find_in_batches(splunk_python: str, installed_app: Path, splunkd: Splunkd):
    body = """
    store, _ = indicator_ports(conn.service, LIMITS, "prod_iocs")
    docs = documents(2500)
    store.save(docs)
    keys = [d["_key"] for d in docs] + ["f" * 64, docs[0]["_key"]]
    found = store.find(keys)
    RESULT["found"] = len(found)
    RESULT["same"] = all(found[d["_key"]] == d for d in docs)
    RESULT["none"] = store.find([])
    """
    splunkd.record_body_bytes = None
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert result["limits"]["max_documents_per_batch_save"] == 1000
    assert result["found"] == 2500
    assert result["same"]  # UTF-8 arrays round-trip, no _user
    assert result["none"] == {}
    saves = requests_of(splunkd, f"/{INDICATOR_COLLECTION}/batch_save")
    assert [len(json.loads(r.body)) for r in saves] == [1000, 1000, 500]
    assert "Feed é".encode() in saves[-1].body  # UTF-8, not \\u escapes
    finds = requests_of(splunkd, f"/{INDICATOR_COLLECTION}/batch_find")
    assert len(finds) == 1  # one request for every key
    assert splunkd.connections == 1
    assert result["slept"] == []


def test_batches_follow_the_limits_splunkd_applies(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    splunkd.kv_limits.update(
        max_documents_per_batch_save=300, max_rows_per_query=100, max_queries_per_batch=4
    )
    body = """
    store, _ = indicator_ports(conn.service, LIMITS, "prod_iocs")
    docs = documents(1000)
    store.save(docs)
    RESULT["found"] = len(store.find([d["_key"] for d in docs]))
    """
    splunkd.record_body_bytes = None
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert result["found"] == 1000
    saves = requests_of(splunkd, "/batch_save")
    assert [len(json.loads(r.body)) for r in saves] == [300, 300, 300, 100]
    finds = requests_of(splunkd, "/batch_find")
    assert [len(json.loads(r.body)) for r in finds] == [4, 4, 2]  # 10 queries of 100 keys
    assert {len(q["query"]["$or"]) for r in finds for q in json.loads(r.body)} == {100}


def test_a_batch_over_the_size_limit_is_split(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    splunkd.kv_limits["max_size_per_batch_save_mb"] = 1
    body = """
    store, _ = indicator_ports(conn.service, LIMITS, "prod_iocs")
    store.save(documents(1000, blob="x" * 3000))
    one = documents(1, blob="y" * 1_100_000)
    RESULT["too_big"] = failure(lambda: store.save(one))
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert len(splunkd.kvstore[INDICATOR_COLLECTION]) == 1000
    saves = requests_of(splunkd, "/batch_save")
    assert len(saves) == 4  # 1000 documents of 3 KB: halves, then quarters, of 750 KB
    assert all(r.body_size <= 1_000_000 for r in saves)
    assert result["too_big"]["category"] == "Configuration Error"
    assert "max_size_per_batch_save_mb=1" in result["too_big"]["message"]


def test_expiry_pages_and_deletes_in_one_request(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    splunkd.kv_limits["max_rows_per_query"] = 7
    splunkd.kvstore[INDICATOR_COLLECTION] = {d["_key"]: d for d in documents(40)}
    body = """
    store, _ = indicator_ports(conn.service, LIMITS, "prod_iocs")
    RESULT["expired"] = [d["_key"] for d in store.expired(1_700_000_030)]
    RESULT["shape"] = next(store.expired(1_700_000_001))
    store.delete_expired(1_700_000_030)
    RESULT["counts"] = store.count_by_type()
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert result["expired"] == [f"{n:064x}" for n in range(30)]  # sorted by _key
    assert result["shape"] == documents(1)[0]
    assert len(splunkd.kvstore[INDICATOR_COLLECTION]) == 10
    assert result["counts"] == {"ipv4": 4, "domain": 3, "url": 3}
    deletes = [
        r for r in splunkd.requests if r.method == "DELETE" and INDICATOR_COLLECTION in r.path
    ]
    assert len(deletes) == 1
    assert json.loads(deletes[0].query["query"][0]) == {"last_seen_epoch": {"$lt": 1700000030}}
    pages = [r for r in splunkd.requests if r.method == "GET" and INDICATOR_COLLECTION in r.path]
    assert [r.query["skip"][0] for r in pages[:5]] == ["0", "7", "14", "21", "28"]
    assert all(r.query["sort"] == ["_key"] for r in pages)
    counts = [r for r in pages if "fields" in r.query]
    assert {r.query["fields"][0] for r in counts} == {"type,_key:0"}
    assert len(counts) == 2  # 7 + 3 rows


def test_count_by_type_pages_of_50000(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    splunkd.kvstore[INDICATOR_COLLECTION] = {
        f"{n:064x}": {"_key": f"{n:064x}", "type": ("ipv4", "url")[n % 2]} for n in range(100_001)
    }
    body = """
    store, _ = indicator_ports(conn.service, LIMITS, "prod_iocs")
    RESULT["counts"] = store.count_by_type()
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert result["counts"] == {"ipv4": 50001, "url": 50000}
    pages = [r for r in splunkd.requests if r.method == "GET" and INDICATOR_COLLECTION in r.path]
    assert [r.query["limit"][0] for r in pages] == ["50000"] * 3
    # under the writer lock: no other input moves documents between two pages
    assert [r.method for r in splunkd.requests if CHECKPOINT_COLLECTION in r.path] == [
        "POST", "DELETE"
    ]  # fmt: skip


# -- the writer lock ----------------------------------------------------------------------


def test_the_lock_is_a_lease_taken_by_insert(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    body = """
    store, _ = indicator_ports(conn.service, LIMITS, "prod_iocs")
    with store.writer_lock():
        RESULT["lease"] = json.loads(CHECKPOINTS.get("lock://socdefenders_iocs")["state"])
        with store.writer_lock():  # nested: no request
            pass
        RESULT["still"] = conn.checkpoints.get("lock://socdefenders_iocs") is None
    RESULT["after"] = conn.checkpoints.get("lock://socdefenders_iocs")
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    lease = result["lease"]
    assert set(lease) == {"owner", "expires_epoch"}
    assert ":prod_iocs:" in lease["owner"]
    assert result["still"] is False
    assert result["after"] is None
    inserts = [r for r in splunkd.requests if r.method == "POST" and r.path.endswith(
        f"/{CHECKPOINT_COLLECTION}/")]  # fmt: skip
    assert len(inserts) == 1
    release = [r for r in splunkd.requests if r.method == "DELETE"]
    assert len(release) == 1
    assert json.loads(release[0].query["query"][0])["_key"] == LOCK


def test_a_held_lock_is_waited_for_then_refused(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    """Another writer's live lease: polls every second for 60 s, then a clear error; the
    other writer's lease is left alone."""
    held = json.dumps({"owner": "sh2:99:other:abcd", "expires_epoch": 4_000_000_000})
    splunkd.kvstore[CHECKPOINT_COLLECTION] = {LOCK: {"_key": LOCK, "state": held}}
    body = """
    clock = [0.0]
    def sleep(seconds):
        SLEPT.append(seconds)
        clock[0] += seconds
    lock = WriterLock(CHECKPOINTS, "me", monotonic=lambda: clock[0], sleep=sleep)
    def take():
        with lock.held():
            pass
    RESULT["busy"] = failure(take)
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    busy = result["busy"]
    assert busy["error_code"] == "writer_lock_busy"
    assert "sh2:99:other:abcd" in busy["message"]
    assert "lock://socdefenders_iocs" in busy["message"]
    assert result["slept"] == [1.0] * 60
    assert splunkd.kvstore[CHECKPOINT_COLLECTION][LOCK]["state"] == held


def test_a_stale_lease_is_taken_over_and_a_released_one_retaken(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    stale = json.dumps({"owner": "sh2:99:dead:abcd", "expires_epoch": 1000})
    splunkd.kvstore[CHECKPOINT_COLLECTION] = {LOCK: {"_key": LOCK, "state": stale}}
    body = """
    lock = WriterLock(CHECKPOINTS, "me")
    with lock.held():
        RESULT["mine"] = json.loads(CHECKPOINTS.get("lock://socdefenders_iocs")["state"])["owner"]
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert result["mine"] == "me"
    assert result["slept"] == []
    takeover = next(r for r in splunkd.requests if r.method == "DELETE")
    assert json.loads(takeover.query["query"][0]) == {"_key": LOCK, "state": stale}
    assert LOCK not in splunkd.kvstore[CHECKPOINT_COLLECTION]


# -- the checkpoint and budget ------------------------------------------------------------


def test_state_and_budget_in_one_save(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    splunkd.kvstore[CHECKPOINT_COLLECTION] = {
        "prod_iocs": {"_key": "prod_iocs", "state": "{}"},  # a stats input of the same name
        "socdefenders_iocs://bad": {"_key": "socdefenders_iocs://bad", "state": "{nope"},
    }
    body = """
    _, state = indicator_ports(conn.service, LIMITS, "prod_iocs")
    RESULT["before"] = [state.load(), state.load_budget("prod")]
    state.save({"schema": 1, "sync": None}, ("prod", {"schema": 1, "requests": 3}))
    RESULT["after"] = [state.load(), state.load_budget("prod")]
    _, bad = indicator_ports(conn.service, LIMITS, "bad")
    try:
        bad.load()
    except CheckpointError as error:
        RESULT["corrupt"] = str(error)
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert result["before"] == [None, None]
    assert result["after"] == [{"schema": 1, "sync": None}, {"schema": 1, "requests": 3}]
    assert result["corrupt"] == "the checkpoint is not JSON"
    saves = requests_of(splunkd, "/batch_save")
    assert len(saves) == 1
    assert [d["_key"] for d in json.loads(saves[0].body)] == [
        "socdefenders_iocs://prod_iocs", "budget://prod"
    ]  # fmt: skip
    assert splunkd.kvstore[CHECKPOINT_COLLECTION]["prod_iocs"]["state"] == "{}"


def test_splunkd_errors_are_retried_then_named(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    splunkd.fail("kvstore_write", 503)
    splunkd.fail("kvstore_read", 503, times=1)
    body = """
    store, state = indicator_ports(conn.service, LIMITS, "prod_iocs")
    RESULT["found"] = store.find(["a"])
    RESULT["save"] = failure(lambda: store.save([{"_key": "a", "type": "ipv4"}]))
    """
    result = run_glue(splunk_python, installed_app, splunkd, body)
    assert result["found"] == {}  # one 503, then the answer
    save = result["save"]
    assert save["status"] == 503
    assert save["category"] == "Server Error"
    assert "socdefenders_iocs" in save["message"]
    assert result["slept"] == [1, 1, 2, 4]  # solnlib's back-off: the find's, the save's
    assert len(requests_of(splunkd, "/batch_save")) == 4


# -- events -------------------------------------------------------------------------------

EVENT_TEXTS = [
    '{"value":"a&b<c>d\\"e\'f","x":1}',
    '{"value":"café ☃ 𝄞 ü","context":"tab\\tnew\\nline"}',
    "plain ]]> text",
    "",
]


def test_rendered_events_match_splunklibs(splunk_python: str, installed_app: Path) -> None:
    script = f"""
import io, json, sys
sys.path.insert(0, sys.argv[1])
import import_declare_test
from splunklib import modularinput as smi
from socdefenders_iocs_helper import RenderedEvents, render_event
texts = {EVENT_TEXTS!r}
same = []
for host in (None, "sh1"):
    for index in (None, "main"):
        for text in texts:
            fields = dict(time="1700000000.123", source="socdefenders_iocs://prod & <x>",
                          sourcetype="socdefenders:ioc", index=index, host=host)
            theirs = io.StringIO()
            smi.Event(data=text, **fields).write_to(theirs)
            same.append(theirs.getvalue() == render_event(text, **fields))
out = io.StringIO()
writer = smi.EventWriter(output=out)
writer.write_event(RenderedEvents("".join(render_event(t, time="1.000") for t in texts)))
writer.close()
print(json.dumps({{"same": same, "stream": out.getvalue()}}))
"""
    result = run_isolated(splunk_python, installed_app / "bin", "-c", script,
                          str(installed_app / "bin"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["same"] == [True] * 16
    events = parse_stream(answer["stream"])
    assert [e["data"] or "" for e in events] == EVENT_TEXTS
    assert answer["stream"].isascii()


# -- the REST handler ---------------------------------------------------------------------

DRIVER = """
import __main__, json, os, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
__main__.__file__ = os.path.join(sys.argv[1], "ta_socdefenders_rh_socdefenders_iocs.py")
import import_declare_test
from splunktaucclib.rest_handler.error import RestError
from ta_socdefenders_input_handler import IndicatorsInputHandler

handler = object.__new__(IndicatorsInputHandler)
action, session_key, name = sys.argv[3], sys.argv[4], sys.argv[5]
try:
    if action == "delete":
        handler.delete_hook(session_key, "socdefenders_iocs", name)
    else:
        hook = getattr(handler, action + "_hook")
        hook(session_key, "socdefenders_iocs", name, json.loads(sys.stdin.read()))
    print(json.dumps("done"))
except RestError as error:
    print(json.dumps([error.status, error.message]))
"""


def call_handler(python: str, app: Path, splunkd: Splunkd, action: str, name: str, payload=None):
    env = {"SPLUNKD_URI": splunkd.uri, "PATH": "/usr/bin:/bin"}
    output = run_handler_driver(
        python, app / "bin", DRIVER, action, splunkd.session_key, name,
        stdin=json.dumps(payload or {}), env=env,
    )  # fmt: skip
    return json.loads(output)


def test_deleting_an_input_deletes_only_its_checkpoint(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    kept = ["prod_iocs", "socdefenders_iocs://other", "budget://prod", LOCK]
    splunkd.kvstore[CHECKPOINT_COLLECTION] = {
        key: {"_key": key, "state": "{}"} for key in [*kept, "socdefenders_iocs://prod_iocs"]
    }
    splunkd.kvstore[INDICATOR_COLLECTION] = {"k": {"_key": "k", "type": "ipv4"}}
    verdict = call_handler(splunk_python, installed_app, splunkd, "delete", "prod_iocs")
    assert verdict == "done"
    assert sorted(splunkd.kvstore[CHECKPOINT_COLLECTION]) == sorted(kept)
    assert len(splunkd.kvstore[INDICATOR_COLLECTION]) == 1
    (delete,) = splunkd.requests
    assert delete.path.endswith("/socdefenders_iocs%3A%2F%2Fprod_iocs")


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"account": "prod", "interval": "60"}, "from 300 to 86400"),
        ({"account": "prod", "lookback_days": "400"}, "Lookback must be a whole number of days"),
        ({"account": "prod", "ioc_types": "ipv4|ja3"}, "IOC types must be chosen among"),
        ({"account": "prod", "min_confidence": "certain"}, "Minimum confidence must be one of"),
        ({"account": "ghost"}, "The account 'ghost' does not exist"),
        ({"account": ""}, "Choose the SOC Defenders account"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("action", ["create", "edit"])
def test_invalid_inputs_are_refused(
    splunk_python: str, installed_app: Path, splunkd: Splunkd, action: str, payload, words: str
) -> None:
    splunkd.add_account("prod", "sk_live_FAKE0handler0000000000")
    status, message = call_handler(splunk_python, installed_app, splunkd, action, "x", payload)
    assert status == 400
    assert words in message


def test_a_valid_input_is_saved_after_one_read(
    splunk_python: str, installed_app: Path, splunkd: Splunkd
) -> None:
    splunkd.add_account("prod", "sk_live_FAKE0handler0000000000")
    payload = {"account": "prod", "interval": "3600", "index": "main", "lookback_days": "30",
               "ioc_types": "ipv4|mitre-attack", "min_confidence": "medium"}  # fmt: skip
    assert call_handler(splunk_python, installed_app, splunkd, "create", "n", payload) == "done"
    assert splunkd.requests_by_kind() == {"conf": 1}  # the account stanza, not its key
