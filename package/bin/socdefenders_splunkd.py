"""Splunk glue shared by the input and the REST handlers: reading from splunkd.

Every solnlib client is bound to the splunkd address the caller was given (the input's
``server_uri``, a REST handler's ``SPLUNKD_URI``), so no client re-discovers splunkd.
"""

from __future__ import annotations

import configparser
import json
import os
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from solnlib import conf_manager
from solnlib.credentials import CredentialNotExistException
from solnlib.modular_input.checkpointer import KVStoreCheckpointer
from solnlib.splunk_rest_client import SplunkRestClient
from splunklib import binding, client

from socdefenders.errors import CollectionError, ConfigurationError, ErrorCategory
from socdefenders.names import (
    ACCOUNT_CONF,
    APP,
    CHECKPOINT_COLLECTION,
    SETTINGS_CONF,
    credential_realm,
)


def splunkd_address(uri: str) -> Dict[str, Any]:
    """``scheme``, ``host`` and ``port`` keyword arguments for solnlib's REST clients."""
    parts = urlsplit(uri)
    return {"scheme": parts.scheme, "host": parts.hostname, "port": parts.port}


def open_checkpoints(session_key: str, splunkd_uri: str, **context: Any) -> KVStoreCheckpointer:
    """The collection of per-input checkpoints (created if splunkd lacks it).

    ``context`` goes to solnlib's REST client, e.g. ``max_retries`` of its HTTP adapter.
    """
    return KVStoreCheckpointer(
        CHECKPOINT_COLLECTION, session_key, APP, **splunkd_address(splunkd_uri), **context
    )


def user_agent() -> str:
    """``TA-socdefenders/<version>``, the version from ``default/app.conf``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "default", "app.conf")
    )
    return f"{APP}/{parser.get('id', 'version', fallback='unknown')}"


def splunkd_error(error: binding.HTTPError, what: str) -> CollectionError:
    return CollectionError(
        f"splunkd answered HTTP {error.status} when the add-on read {what}",
        fix="check splunkd's health in splunkd.log, then try again (an input does so at its "
        "next run)",
        category=ErrorCategory.SERVER,
    )


class SplunkdConnection:
    """What the add-on reads from splunkd, each piece once, on the address it was given."""

    def __init__(self, uri: str, session_key: str) -> None:
        self.uri = uri
        self.session_key = session_key
        self.address = splunkd_address(uri)
        self._rest: Optional[SplunkRestClient] = None
        self._accounts: Optional[conf_manager.ConfFile] = None
        self._checkpoints: Optional[KVStoreCheckpointer] = None

    def _rest_client(self) -> SplunkRestClient:
        if self._rest is None:
            self._rest = SplunkRestClient(self.session_key, APP, owner="nobody", **self.address)
        return self._rest

    def _conf(self, name: str) -> conf_manager.ConfFile:
        """solnlib's view of one of the add-on's confs, encrypted fields decrypted on read.

        Built on one shared REST client, and without ``ConfManager.get_conf``'s extra
        ``properties/<conf>`` request: the add-on ships both confs, and a missing stanza
        still raises ``ConfStanzaNotExistException``.
        """
        stanzas = client.ConfigurationFile(
            self._rest_client(), client.PATH_CONF % name, state={"title": name}
        )
        return conf_manager.ConfFile(
            name, stanzas, self.session_key, APP, "nobody", realm=credential_realm(name),
            **self.address,
        )  # fmt: skip

    def settings(self) -> Dict[str, Dict[str, Any]]:
        """All stanzas of the settings conf (``logging``, ``proxy``), secrets decrypted."""
        try:
            return self._conf(SETTINGS_CONF).get_all()
        except binding.HTTPError as error:
            raise splunkd_error(error, f"{SETTINGS_CONF}.conf") from None

    def _account_conf(self) -> conf_manager.ConfFile:
        if self._accounts is None:
            self._accounts = self._conf(ACCOUNT_CONF)
        return self._accounts

    def account_exists(self, name: str) -> bool:
        """Whether Configuration > Accounts has ``name`` (its key is not read)."""
        try:
            return self._account_conf().stanza_exist(name)
        except binding.HTTPError as error:
            raise splunkd_error(error, f"account {name!r}") from None

    def account(self, name: str) -> Dict[str, Any]:
        try:
            return self._account_conf().get(name)
        except conf_manager.ConfStanzaNotExistException:
            raise ConfigurationError(
                "account",
                f"the account {name!r} does not exist",
                fix="create it in Configuration > Accounts or choose another account for the "
                "input in Inputs",
            ) from None
        except CredentialNotExistException:
            raise ConfigurationError(
                "api_key",
                f"the API key of account {name!r} is missing from Splunk's credential store",
                fix="enter the key again in Configuration > Accounts",
            ) from None
        except binding.HTTPError as error:
            raise splunkd_error(error, f"account {name!r}") from None

    def is_splunk_cloud(self) -> bool:
        """Whether this is Splunk Cloud: ``server/info``'s ``instance_type`` is ``cloud``."""
        try:
            response = self._rest_client().get("server/info", output_mode="json")
            content = json.loads(response.body.read())["entry"][0]["content"]
        except binding.HTTPError as error:
            raise splunkd_error(error, "server/info") from None
        return str(content.get("instance_type") or "").lower() == "cloud"

    @property
    def checkpoints(self) -> KVStoreCheckpointer:
        if self._checkpoints is None:
            # solnlib retries each KV store call 4 times over 7 s itself; urllib3's own
            # retries on top would multiply the requests to a KV store that is down.
            self._checkpoints = open_checkpoints(self.session_key, self.uri, max_retries=1)
        return self._checkpoints
