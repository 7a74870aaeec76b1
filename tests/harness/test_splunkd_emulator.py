"""The splunkd emulator (tests/support/splunkd.py), proved with the real client libraries.

Most tests run a short script on each Splunk Python with only the built add-on's lib/ and
tests/support (the stand-in ``splunk`` package) importable, and use solnlib and splunklib
exactly as the add-on does, against the emulator on loopback. A few tests talk HTTP to it
directly to pin down the wire format.

Retries: solnlib retries every HTTPError 3 times, sleeping 1, 2 and 4 s. The failure tests
replace ``time.sleep`` inside the script with a recorder, so they stay fast and can assert
the sleeps solnlib asked for; nothing else is changed.
"""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests

from tests.support.splunkd import (
    ACCOUNT_CONF,
    ACCOUNT_REALM,
    APP,
    CRED_END,
    CRED_SEP,
    SETTINGS_CONF,
    SETTINGS_REALM,
    Splunkd,
    input_xml,
    parse_stream,
)

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "tests" / "support"
CHECKPOINTS = "ta_socdefenders_checkpoints"
SHORT_KEY = "sk_live_FAKE_TEST_KEY_0000"
# 648 characters, no two 255-character chunks alike: 3 chunks + end marker, reassembled in order
LONG_KEY = ("sk_live_FAKE_LONG_TEST_KEY_" + "0123456789abcdef" * 40)[:648]

PRELUDE = """
import json, os, sys, time
sys.path[:0] = [{lib!r}, {support!r}]
SESSION_KEY, PORT = {session_key!r}, {port!r}
SLEPT = []
if {patch_sleep!r}:
    time.sleep = SLEPT.append  # record solnlib's retry back-off instead of waiting
from splunklib import binding
from solnlib import conf_manager
from solnlib.soln_exceptions import ConfManagerException, ConfStanzaNotExistException
from solnlib.modular_input.checkpointer import KVStoreCheckpointer
SPLUNKD = dict(scheme="https", host="127.0.0.1", port=PORT)
APP = {app!r}
ACCOUNT_REALM, SETTINGS_REALM = {account_realm!r}, {settings_realm!r}
RESULT = {{}}
def plain(value):
    return json.loads(json.dumps(value, default=str))
"""
EPILOGUE = """
RESULT["slept"] = SLEPT
print(json.dumps(RESULT))
"""


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("splunkd_certs")


@pytest.fixture
def splunkd(cert_dir: Path) -> Iterator[Splunkd]:
    with Splunkd(cert_dir) as server:
        yield server
    assert server.errors == [], "the emulator failed:\n" + "\n".join(server.errors)


@pytest.fixture
def splunk_home(tmp_path: Path) -> Path:
    home = tmp_path / "splunk_home"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    return home


def run_solnlib(
    python: str,
    app_dir: Path,
    splunkd: Splunkd,
    splunk_home: Path,
    body: str,
    *,
    session_key: Optional[str] = None,
    patch_sleep: bool = False,
) -> Dict[str, Any]:
    """Run ``body`` on ``python`` with only the built lib/ and tests/support importable.

    ``-E -s -S``: no PYTHONPATH, no user or system site-packages; ``-B``: no byte-code in
    the built tree. The body fills the dict RESULT, which comes back as JSON.
    """
    script = PRELUDE.format(
        lib=str(app_dir / "lib"),
        support=str(SUPPORT),
        session_key=session_key or splunkd.session_key,
        port=splunkd.port,
        patch_sleep=patch_sleep,
        app=APP,
        account_realm=ACCOUNT_REALM,
        settings_realm=SETTINGS_REALM,
    )
    script += textwrap.dedent(body) + EPILOGUE
    env = {
        "PATH": "/usr/bin:/bin",
        "SPLUNK_HOME": str(splunk_home),
        "SPLUNKD_URI": splunkd.uri,
    }
    result = subprocess.run(
        [python, "-B", "-E", "-s", "-S", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the account and its API key ------------------------------------------------------


READ_ACCOUNT = """
cfm = conf_manager.ConfManager(SESSION_KEY, APP, realm=ACCOUNT_REALM, **SPLUNKD)
RESULT["stanza"] = plain(cfm.get_conf("ta_socdefenders_account").get("prod"))
"""


@pytest.mark.parametrize("api_key", [SHORT_KEY, LONG_KEY], ids=["short_key", "long_key"])
def test_conf_manager_decrypts_the_account_key(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path, api_key: str
) -> None:
    splunkd.add_account("prod", api_key, base_url="https://socdefenders.ai", timeout="30")
    blob = json.dumps({"api_key": api_key})
    chunks = [(ACCOUNT_REALM, f"prod{CRED_SEP}{n}") for n in range(1, len(blob) // 255 + 3)]
    assert sorted(splunkd.passwords) == sorted(chunks)  # 255-char chunks + end marker
    assert splunkd.passwords[chunks[-1]] == CRED_END
    assert splunkd.confs[ACCOUNT_CONF]["prod"]["api_key"] == "******"

    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, READ_ACCOUNT)

    stanza = result["stanza"]
    assert stanza["api_key"] == api_key
    assert stanza["base_url"] == "https://socdefenders.ai"
    assert stanza["timeout"] == "30"
    assert stanza["eai:appName"] == APP
    # the contract's three requests, nothing else
    assert splunkd.requests_by_kind() == {"properties": 1, "conf": 1, "passwords": 1}
    properties, conf, passwords = splunkd.requests
    assert properties.path == f"/servicesNS/nobody/{APP}/properties/{ACCOUNT_CONF}"
    assert conf.path == f"/servicesNS/nobody/{APP}/configs/conf-{ACCOUNT_CONF}/prod"
    assert conf.query == {"count": ["-1"], "offset": ["0"]}
    assert passwords.path == f"/servicesNS/nobody/{APP}/storage/passwords"
    assert passwords.query["search"] == [f"realm={ACCOUNT_REALM}"]
    assert all(r.method == "GET" and r.authorized and r.body == b"" for r in splunkd.requests)


def test_missing_stanza_and_missing_conf(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    body = """
    cfm = conf_manager.ConfManager(SESSION_KEY, APP, realm=ACCOUNT_REALM, **SPLUNKD)
    try:
        cfm.get_conf("ta_socdefenders_account")
    except ConfManagerException as error:
        RESULT["no_conf"] = type(error).__name__
    try:
        cfm.get_conf("ta_socdefenders_settings").get("nope")
    except ConfStanzaNotExistException as error:
        RESULT["no_stanza"] = type(error).__name__
    """
    # no account saved yet: the app ships no ta_socdefenders_account.conf
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert result["no_conf"] == "ConfManagerException"
    assert result["no_stanza"] == "ConfStanzaNotExistException"
    assert result["slept"] == []  # 404s are answers, not errors to retry
    assert splunkd.requests_by_kind() == {"properties": 2, "conf": 1}


# -- the settings conf ----------------------------------------------------------------


@pytest.mark.parametrize("proxy", ["ucc_default", "proxy", "proxy_with_password"])
def test_settings_get_all(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path, proxy: str
) -> None:
    if proxy != "ucc_default":
        password = "pr0xy-secret" if proxy == "proxy_with_password" else ""
        splunkd.set_proxy(url="proxy.example", port="8080", username="u", password=password)
    body = """
    cfm = conf_manager.ConfManager(SESSION_KEY, APP, realm=SETTINGS_REALM, **SPLUNKD)
    RESULT["all"] = plain(cfm.get_conf("ta_socdefenders_settings").get_all())
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)

    settings = result["all"]
    assert set(settings) == {"logging", "proxy"}
    assert settings["logging"]["loglevel"] == "INFO"
    proxy_stanza = settings["proxy"]
    if proxy == "ucc_default":
        # empty values in the conf come back as None through splunklib, as from splunkd
        assert proxy_stanza["proxy_enabled"] is None
        assert proxy_stanza["proxy_type"] == "http"
        assert proxy_stanza["proxy_password"] is None
    else:
        assert proxy_stanza["proxy_enabled"] == "1"
        assert proxy_stanza["proxy_url"] == "proxy.example"
        assert proxy_stanza["proxy_port"] == "8080"
        assert proxy_stanza["proxy_username"] == "u"
        expected = "pr0xy-secret" if proxy == "proxy_with_password" else None
        assert proxy_stanza["proxy_password"] == expected
    expected_kinds = {"properties": 1, "conf": 1}
    if proxy == "proxy_with_password":
        expected_kinds["passwords"] = 1
        assert (SETTINGS_REALM, f"proxy{CRED_SEP}1") in splunkd.passwords
    assert splunkd.requests_by_kind() == expected_kinds
    assert splunkd.requests[1].query == {"count": ["-1"], "offset": ["0"]}


# -- discovery: no scheme/host/port, as the UCC template does --------------------------


def test_log_level_by_discovery(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    splunkd.set_log_level("DEBUG")
    body = """
    import logging
    RESULT["level"] = conf_manager.get_log_level(
        logger=logging.getLogger("t"), session_key=SESSION_KEY, app_name=APP,
        conf_name="ta_socdefenders_settings",
    )
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert result["level"] == "DEBUG"
    assert splunkd.requests_by_kind() == {"discovery": 2, "properties": 1, "conf": 1}
    ssl_config, web_settings = splunkd.requests[:2]
    assert ssl_config.path == "/servicesNS/nobody/system/configs/conf-server/sslConfig"
    assert web_settings.path == "/servicesNS/nobody/system/configs/conf-web/settings"
    assert ssl_config.query == web_settings.query == {"output_mode": ["json"]}


def test_proxy_dict_by_discovery(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    splunkd.set_proxy(url="proxy.example", port="3128", username="u", password="pw")
    body = """
    import logging
    from solnlib import splunkenv
    RESULT["proxy"] = plain(conf_manager.get_proxy_dict(
        logging.getLogger("t"), SESSION_KEY, APP, "ta_socdefenders_settings"
    ))
    os.environ["SPLUNK_SESSION_KEY"] = SESSION_KEY  # splunk.getSessionKey() of the stand-in
    RESULT["server_name"] = splunkenv.get_conf_key_value(
        "server", "general", "serverName", "system"
    )
    RESULT["uri"] = splunkenv.get_splunkd_uri()
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert result["proxy"] == {
        "proxy_enabled": "1",
        "proxy_type": "http",
        "proxy_url": "proxy.example",
        "proxy_port": "3128",
        "proxy_username": "u",
        "proxy_password": "pw",
        "proxy_rdns": "0",
    }
    assert result["server_name"] == "sh1"
    assert result["uri"] == splunkd.uri
    # each solnlib REST client (ConfManager, then CredentialManager) rediscovers splunkd
    assert splunkd.requests_by_kind() == {
        "discovery": 5,
        "properties": 1,
        "conf": 1,
        "passwords": 1,
    }


def test_stand_in_splunk_package(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    body = """
    import splunk, splunk.rest
    from splunk.clilib.bundle_paths import make_splunkhome_path
    RESULT["home"] = make_splunkhome_path(["var", "log", "splunk"])
    try:
        make_splunkhome_path(["..", "etc"])
    except ValueError:
        RESULT["escape"] = "ValueError"
    try:
        splunk.getSessionKey()
    except splunk.AuthenticationFailed:
        RESULT["no_key"] = "AuthenticationFailed"
    response, content = splunk.rest.simpleRequest(
        "/servicesNS/nobody/system/configs/conf-web/settings",
        sessionKey=SESSION_KEY, getargs={"output_mode": "json"},
    )
    RESULT["status"] = response.status
    RESULT["connection"] = response["connection"]
    RESULT["mgmt"] = json.loads(content)["entry"][0]["content"]["mgmtHostPort"]
    try:
        splunk.rest.simpleRequest("/services/nothing/here", sessionKey=SESSION_KEY)
    except splunk.ResourceNotFound:
        RESULT["missing"] = "ResourceNotFound"
    try:
        splunk.rest.simpleRequest("/services/properties", sessionKey="wrong")
    except splunk.AuthenticationFailed:
        RESULT["bad_key"] = "AuthenticationFailed"
    del os.environ["SPLUNK_HOME"]
    try:
        make_splunkhome_path(["etc"])
    except KeyError:
        RESULT["no_home"] = "KeyError"
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert result["home"] == str(splunk_home / "var" / "log" / "splunk")
    assert result["escape"] == "ValueError"
    assert result["no_key"] == "AuthenticationFailed"
    assert result["status"] == 200
    assert result["connection"] == "Close"  # it asked to close: splunkd closes
    assert result["mgmt"] == f"127.0.0.1:{splunkd.port}"
    assert result["missing"] == "ResourceNotFound"
    assert result["bad_key"] == "AuthenticationFailed"
    assert result["no_home"] == "KeyError"


def test_solnlib_logger_writes_under_splunk_home(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    body = """
    from solnlib import log
    log.Logs().get_logger("x").warning("hello from the test")
    """
    run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert "hello from the test" in (splunk_home / "var/log/splunk/x.log").read_text()
    assert splunkd.requests == []


# -- KV store checkpoints -------------------------------------------------------------


def test_kvstore_checkpointer_round_trip(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    first = """
    ck = KVStoreCheckpointer("ta_socdefenders_checkpoints", SESSION_KEY, APP, **SPLUNKD)
    RESULT["before"] = ck.get("prod_stats")
    ck.update("prod_stats", {"last": 1700000000, "ok": True})
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, first)
    assert result["before"] is None
    assert splunkd.collections == {CHECKPOINTS}
    assert splunkd.collection_fields[CHECKPOINTS] == {"state": "string"}
    record = splunkd.kvstore[CHECKPOINTS]["prod_stats"]
    assert record["_key"] == "prod_stats"
    assert json.loads(record["state"]) == {"last": 1700000000, "ok": True}
    # init: config GET (404), create, list; then get (404 = none) and batch_save
    assert splunkd.requests_by_kind() == {
        "kvstore_config": 3,
        "kvstore_read": 1,
        "kvstore_write": 1,
    }
    get_config, create, listing = splunkd.requests[:3]
    assert get_config.path.endswith(f"/storage/collections/config/{CHECKPOINTS}")
    assert create.method == "POST"
    assert create.path == f"/servicesNS/nobody/{APP}/storage/collections/config/"
    assert create.body == f"name={CHECKPOINTS}&field.state=string".encode()
    assert listing.query["search"] == [CHECKPOINTS]
    save = splunkd.requests[-1]
    assert (
        save.path == f"/servicesNS/nobody/{APP}/storage/collections/data/{CHECKPOINTS}/batch_save"
    )
    assert json.loads(save.body) == [{"_key": "prod_stats", "state": record["state"]}]

    splunkd.reset_requests()
    second = """
    ck = KVStoreCheckpointer("ta_socdefenders_checkpoints", SESSION_KEY, APP, **SPLUNKD)
    RESULT["state"] = ck.get("prod_stats")
    ck.delete("prod_stats")
    RESULT["after"] = ck.get("prod_stats")
    ck.delete("prod_stats")  # deleting what is gone is fine (404 is swallowed)
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, second)
    assert result["state"] == {"last": 1700000000, "ok": True}
    assert result["after"] is None
    assert splunkd.kvstore[CHECKPOINTS] == {}
    assert splunkd.requests_by_kind() == {
        "kvstore_config": 2,  # the collection exists: no create
        "kvstore_read": 2,
        "kvstore_delete": 2,
    }


def test_kvstore_collection_records_are_the_checkpointers(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    """splunklib's KVStoreCollection on a given state asks nothing on construction, and
    its data calls read and write the records solnlib's KVStoreCheckpointer keeps."""
    splunkd.collections.add(CHECKPOINTS)  # as default/collections.conf creates it
    body = """
    from splunklib import client, data
    from solnlib.splunk_rest_client import SplunkRestClient
    service = SplunkRestClient(SESSION_KEY, APP, **SPLUNKD)
    records = client.KVStoreCollection(
        service, "storage/collections/config/ta_socdefenders_checkpoints",
        state=data.record({"title": "ta_socdefenders_checkpoints"}),
    ).data
    RESULT["constructed"] = "yes"
    records.batch_save({"_key": "prod_stats", "state": json.dumps({"last": 1})})
    RESULT["mine"] = records.query_by_id("prod_stats")
    ck = KVStoreCheckpointer("ta_socdefenders_checkpoints", SESSION_KEY, APP, **SPLUNKD)
    RESULT["solnlib"] = ck.get("prod_stats")
    records.delete_by_id("prod_stats")
    RESULT["after"] = ck.get("prod_stats")
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert result["mine"] == {"_key": "prod_stats", "state": '{"last": 1}', "_user": "nobody"}
    assert result["solnlib"] == {"last": 1}
    assert result["after"] is None
    mine = [r for r in splunkd.requests if r.kind != "kvstore_config"]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in mine] == [
        ("POST", "batch_save"), ("GET", "prod_stats"), ("GET", "prod_stats"),
        ("DELETE", "prod_stats"), ("GET", "prod_stats"),
    ]  # fmt: skip
    assert mine[0].path == (
        f"/servicesNS/nobody/{APP}/storage/collections/data/{CHECKPOINTS}/batch_save"
    )


# -- connections ----------------------------------------------------------------------


def test_one_solnlib_client_keeps_one_connection(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    """solnlib's requests-based client asks for keep-alive: all its reads share one TLS
    connection; a second client opens its own."""
    splunkd.add_account("prod", SHORT_KEY)
    body = """
    from splunklib import client
    from solnlib.credentials import CredentialManager
    secrets = CredentialManager(SESSION_KEY, APP, realm=ACCOUNT_REALM, **SPLUNKD)
    conf = client.ConfigurationFile(
        secrets.service, client.PATH_CONF % "ta_socdefenders_account",
        state={"title": "ta_socdefenders_account"},
    )
    RESULT["names"] = [stanza.name for stanza in conf.list()]
    RESULT["stanza"] = conf.list(name="prod")[0].content["api_key"]
    RESULT["key"] = json.loads(secrets.get_password("prod"))["api_key"]
    other = CredentialManager(SESSION_KEY, APP, realm=SETTINGS_REALM, **SPLUNKD)
    RESULT["proxy"] = [p["username"] for p in other.get_clear_passwords_in_realm()]
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert result["names"] == ["prod"]
    assert result["stanza"] == "******"
    assert result["key"] == SHORT_KEY
    assert result["proxy"] == []
    assert [r.connection for r in splunkd.requests] == [1, 1, 1, 2]
    assert splunkd.connections == 2


def test_splunklibs_own_handler_gets_close_and_its_bodies(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    """splunklib's urllib handler sends ``Connection: Close`` and reads the body after
    releasing the connection: the emulator closes, so each request has its own."""
    splunkd.add_account("prod", SHORT_KEY)
    body = """
    from splunklib import binding, client
    service = client.Service(handler=binding.handler(), token=SESSION_KEY, app=APP,
                             owner="nobody", **SPLUNKD)
    conf = client.ConfigurationFile(
        service, client.PATH_CONF % "ta_socdefenders_account",
        state={"title": "ta_socdefenders_account"},
    )
    RESULT["names"] = [stanza.name for stanza in conf.list()]
    response = service.get(client.PATH_CONF % "ta_socdefenders_account")
    RESULT["connection"] = {k.lower(): v for k, v in response.headers}.get("connection")
    RESULT["names_again"] = [stanza.name for stanza in conf.list()]
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body)
    assert result["names"] == result["names_again"] == ["prod"]
    assert result["connection"] == "Close"
    assert [r.connection for r in splunkd.requests] == [1, 2, 3]
    assert splunkd.connections == 3


def test_keep_alive_unless_the_request_says_close(splunkd: Splunkd) -> None:
    context = ssl.create_default_context(cafile=str(splunkd.certificate.ca_file))
    path = f"/servicesNS/nobody/{APP}/configs/conf-{SETTINGS_CONF}/logging"
    headers = {"Authorization": f"Splunk {splunkd.session_key}"}
    connection = http.client.HTTPSConnection("127.0.0.1", splunkd.port, context=context)
    for _ in range(2):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") is None
        assert b"<title>logging</title>" in response.read()
    connection.request("GET", path, headers={**headers, "Connection": "close"})
    response = connection.getresponse()
    assert response.getheader("Connection") == "Close"
    response.read()
    assert response.will_close
    connection.close()
    assert [r.connection for r in splunkd.requests] == [1, 1, 1]
    assert splunkd.connections == 1
    splunkd.reset_requests()
    assert (splunkd.connections, splunkd.requests) == (0, [])


# -- failures -------------------------------------------------------------------------


def test_bad_session_key_is_401(
    splunk_python: str, app_dir: Path, splunkd: Splunkd, splunk_home: Path
) -> None:
    body = """
    cfm = conf_manager.ConfManager(SESSION_KEY, APP, realm=ACCOUNT_REALM, **SPLUNKD)
    try:
        cfm.get_conf("ta_socdefenders_settings")
    except binding.HTTPError as error:
        RESULT["error"] = [type(error).__name__, error.status]
    """
    result = run_solnlib(
        splunk_python, app_dir, splunkd, splunk_home, body, session_key="WRONG", patch_sleep=True
    )
    assert result["error"] == ["AuthenticationError", 401]
    assert result["slept"] == [1, 2, 4]  # solnlib's retry decorator: 4 tries
    # each try: the request, splunklib's "autologin" no-op, the request again
    assert splunkd.requests_by_kind() == {"properties": 8}
    assert not any(request.authorized for request in splunkd.requests)


@pytest.mark.parametrize(
    ("times", "max_retries", "reads"),
    [(None, 0, 4), (1, 0, 2), (None, None, 24)],
    ids=["always", "once", "always-urllib3-retries"],
)
def test_kvstore_read_fault(
    splunk_python: str,
    app_dir: Path,
    splunkd: Splunkd,
    splunk_home: Path,
    times: Optional[int],
    max_retries: Optional[int],
    reads: int,
) -> None:
    splunkd.fail("kvstore_read", 503, times=times)
    context = "" if max_retries is None else f", max_retries={max_retries}"
    body = f"""
    ck = KVStoreCheckpointer("ta_socdefenders_checkpoints", SESSION_KEY, APP, **SPLUNKD{context})
    try:
        RESULT["state"] = ck.get("prod_stats")
    except binding.HTTPError as error:
        RESULT["error"] = [type(error).__name__, error.status]
    """
    result = run_solnlib(splunk_python, app_dir, splunkd, splunk_home, body, patch_sleep=True)
    if times is None:
        assert result["error"] == ["HTTPError", 503]
        # solnlib's back-off is whole seconds; urllib3's (0.6, 1.2, ...) is not
        assert [s for s in result["slept"] if isinstance(s, int)] == [1, 2, 4]
    else:
        assert result["state"] is None
        assert result["slept"] == [1]
    # max_retries=0 turns off urllib3's own 5 retries of a 503 under solnlib's 4 tries
    assert splunkd.requests_by_kind()["kvstore_read"] == reads
    assert splunkd.requests_by_kind()["kvstore_config"] == 3


def test_fault_by_name_and_clear(splunkd: Splunkd) -> None:
    with pytest.raises(ValueError, match="unknown request kind"):
        splunkd.fail("kvstore")
    url = f"{splunkd.uri}/servicesNS/nobody/{APP}/configs/conf-{SETTINGS_CONF}/logging"
    headers = {"Authorization": f"Splunk {splunkd.session_key}"}
    ca_file = str(splunkd.certificate.ca_file)  # per request: REQUESTS_CA_BUNDLE beats Session

    def status() -> int:
        return requests.get(url, headers=headers, verify=ca_file, timeout=10).status_code

    splunkd.fail("conf", 500, times=2)
    assert [status() for _ in range(3)] == [500, 500, 200]
    splunkd.fail("conf", 404)
    assert status() == 404
    splunkd.clear_faults()
    assert status() == 200


# -- the wire format, directly ---------------------------------------------------------


def test_wire_format(splunkd: Splunkd) -> None:
    """401 body, Atom shape, JSON discovery, search and paging, 404s."""
    splunkd.add_account("prod", SHORT_KEY)
    splunkd.add_account("dev", SHORT_KEY)
    splunkd.set_proxy(password="pw")
    get = lambda path, key=splunkd.session_key, **params: requests.get(  # noqa: E731
        splunkd.uri + path,
        params=params,
        headers={"Authorization": f"Splunk {key}"},
        verify=str(splunkd.certificate.ca_file),
        timeout=10,
    )
    ns = f"/servicesNS/nobody/{APP}"

    denied = get(f"{ns}/storage/passwords", key="nope")
    assert denied.status_code == 401
    assert '<msg type="ERROR">call not properly authenticated</msg>' in denied.text
    assert "Connection" not in denied.headers  # requests asked for keep-alive: kept open

    feed = get(f"{ns}/configs/conf-{ACCOUNT_CONF}", count="1", offset="1")
    assert feed.headers["Content-Type"].startswith("text/xml")
    assert 'xmlns:s="http://dev.splunk.com/ns/rest"' in feed.text
    assert "<opensearch:totalResults>2</opensearch:totalResults>" in feed.text
    assert feed.text.count("<entry>") == 1
    assert "<title>prod</title>" in feed.text  # entries sorted by name: dev, prod
    assert f'href="{ns}/configs/conf-{ACCOUNT_CONF}/prod" rel="alternate"' in feed.text
    assert '<s:key name="eai:acl"><s:dict><s:key name="app">TA-socdefenders</s:key>' in feed.text

    only_settings = get(f"{ns}/storage/passwords", count="-1", search=f"realm={SETTINGS_REALM}")
    assert only_settings.text.count("<entry>") == 2  # the proxy blob + end marker
    assert "<opensearch:totalResults>2</opensearch:totalResults>" in only_settings.text
    assert f"<title>{SETTINGS_REALM}:proxy{CRED_SEP}1:</title>" in only_settings.text
    assert '<s:key name="clear_password">{"proxy_password": "pw"}</s:key>' in only_settings.text
    by_text = get(f"{ns}/storage/passwords", count="-1", search="dev")
    assert by_text.text.count("<entry>") == 2

    discovery = get("/servicesNS/nobody/system/configs/conf-server/sslConfig", output_mode="json")
    assert discovery.headers["Content-Type"].startswith("application/json")
    assert discovery.json()["entry"][0]["content"]["enableSplunkdSSL"] == "true"

    assert get(f"{ns}/properties/no_such_conf").status_code == 404
    missing = get(f"{ns}/configs/conf-{ACCOUNT_CONF}/nope")
    assert missing.status_code == 404
    assert "Could not find object id=nope" in missing.text
    assert get(f"{ns}/configs/conf-no_such_conf").text.count("<entry>") == 0
    stray = get(f"{ns}/data/inputs/socdefenders_ioc_stats")
    assert stray.status_code == 404
    assert splunkd.requests[-1].kind == "unknown"
    assert splunkd.requests_by_kind()["unknown"] == 1

    splunkd.reset_requests()
    assert splunkd.requests == []
    assert splunkd.requests_by_kind() == {}


def test_input_xml_and_parse_stream_with_splunklib(
    splunk_python: str, app_dir: Path, tmp_path: Path
) -> None:
    checkpoint_dir = str(tmp_path / "modinputs" / "socdefenders_ioc_stats")
    document = input_xml(
        server_uri="https://127.0.0.1:8089",
        session_key="KEY&<1>",
        checkpoint_dir=checkpoint_dir,
        stanzas={"socdefenders_ioc_stats://prod_stats": {"account": "prod", "index": "main"}},
    )
    script = f"""
import io, json, sys
sys.path[:0] = [{str(app_dir / "lib")!r}]
from splunklib.modularinput.event import Event
from splunklib.modularinput.event_writer import EventWriter
from splunklib.modularinput.input_definition import InputDefinition
definition = InputDefinition.parse(io.StringIO(sys.stdin.read()))
out = io.StringIO()
writer = EventWriter(output=out)
for i in range(2):
    writer.write_event(Event(
        data=json.dumps({{"n": i, "x": "a<b&c"}}), stanza="socdefenders_ioc_stats://prod_stats",
        time="1700000000.000", source="socdefenders:ioc_stats", sourcetype="socdefenders:ioc_stats",
        index="main", host="sh1",
    ))
writer.close()
print(json.dumps({{"metadata": definition.metadata, "inputs": definition.inputs,
                  "stream": out.getvalue()}}))
"""
    result = subprocess.run(
        [splunk_python, "-B", "-E", "-s", "-S", "-c", script],
        input=document,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert parsed["metadata"] == {
        "server_host": "sh1",
        "server_uri": "https://127.0.0.1:8089",
        "session_key": "KEY&<1>",
        "checkpoint_dir": checkpoint_dir,
    }
    assert parsed["inputs"] == {
        "socdefenders_ioc_stats://prod_stats": {
            "account": "prod",
            "index": "main",
            "__app": APP,
        }
    }
    events = parse_stream(parsed["stream"])
    assert [json.loads(event["data"])["n"] for event in events] == [0, 1]
    assert events[0] == {
        "time": "1700000000.000",
        "source": "socdefenders:ioc_stats",
        "sourcetype": "socdefenders:ioc_stats",
        "index": "main",
        "host": "sh1",
        "data": '{"n": 0, "x": "a<b&c"}',
        "done": True,
        "stanza": "socdefenders_ioc_stats://prod_stats",
        "unbroken": "1",
    }
    assert parse_stream("") == []
    assert len(parse_stream(parsed["stream"].replace("</stream>", ""))) == 2
    with pytest.raises(ValueError, match="not XML"):
        parse_stream("Traceback (most recent call last):")
