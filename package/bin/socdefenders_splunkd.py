"""Splunk glue shared by the input and the REST handlers: reading from splunkd.

One splunkd client serves a whole run. solnlib's ``CredentialManager`` for the accounts'
realm builds it (a splunklib ``Service`` on one requests session, bound to the address the
caller was given: the input's ``server_uri``, a REST handler's ``SPLUNKD_URI``, so nothing
re-discovers splunkd), and every read goes through its public ``service``: conf stanzas
(splunklib ``ConfigurationFile``), the account's secret (the ``CredentialManager``), the
checkpoints (splunklib ``KVStoreCollection``). splunkd keeps the connection alive, so a
poll's requests share one TLS connection and one CA-store load.

Retries are solnlib's: every read and KV store call retries an HTTP error 3 times
(sleeping 1, 2 and 4 s), as ``ConfFile`` and ``KVStoreCheckpointer`` do; urllib3 adds none
of its own, so one read is one request while splunkd answers, and at most 4 (plus the
wait, bounded at 7 s) while it answers 503.
"""

from __future__ import annotations

import configparser
import json
import os
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from solnlib.conf_manager import ConfFile
from solnlib.credentials import CredentialManager, CredentialNotExistException
from solnlib.utils import retry
from splunklib import binding, client, data

from socdefenders.conf_values import as_flag
from socdefenders.errors import CollectionError, ConfigurationError, ErrorCategory
from socdefenders.names import (
    ACCOUNT_CONF,
    APP,
    CHECKPOINT_COLLECTION,
    SETTINGS_CONF,
    credential_realm,
)

LIMITS_CONF, KV_LIMITS_STANZA = "limits", "kvstore"  # the KV store's request limits
# solnlib's REST client context: no urllib3 retries under solnlib's own.
NO_HTTP_RETRIES = {"max_retries": 0}

Stanza = Dict[str, Any]


def splunkd_address(uri: str) -> Dict[str, Any]:
    """``scheme``, ``host`` and ``port`` keyword arguments for solnlib's REST clients."""
    parts = urlsplit(uri)
    return {"scheme": parts.scheme, "host": parts.hostname, "port": parts.port}


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
        status=error.status,
        fix="check splunkd's health in splunkd.log, then try again (an input does so at its "
        "next run)",
        category=ErrorCategory.SERVER,
    )


class Checkpoints:
    """The per-input checkpoints: one KV store record ``{"_key": <input>, "state": <JSON
    text>}`` each, as solnlib's ``KVStoreCheckpointer`` keeps them, in the collection that
    ``default/collections.conf`` ships (so nothing asks for or creates it at run time)."""

    def __init__(self, service: client.Service) -> None:
        collection = client.KVStoreCollection(
            service,
            f"storage/collections/config/{CHECKPOINT_COLLECTION}",
            state=data.record({"title": CHECKPOINT_COLLECTION}),
        )
        self._records = collection.data

    @retry(exceptions=[binding.HTTPError])
    def get(self, key: str) -> Optional[Any]:
        """The saved state, or None when there is none."""
        try:
            record = self._records.query_by_id(key)
        except binding.HTTPError as error:
            if error.status != 404:
                raise
            return None
        return json.loads(record["state"])

    @retry(exceptions=[binding.HTTPError])
    def update(self, key: str, state: Any) -> None:
        self._records.batch_save({"_key": key, "state": json.dumps(state)})

    @retry(exceptions=[binding.HTTPError])
    def delete(self, key: str) -> None:
        """Removes the record; one that is already gone is fine."""
        try:
            self._records.delete_by_id(key)
        except binding.HTTPError as error:
            if error.status != 404:
                raise


class SplunkdConnection:
    """What the add-on reads from splunkd, on one client bound to the address it was given."""

    def __init__(self, uri: str, session_key: str) -> None:
        self.session_key = session_key
        self.address = splunkd_address(uri)
        self._account_secrets = self._secrets_of(ACCOUNT_CONF)
        self.service: client.Service = self._account_secrets.service
        self._settings_secrets: Optional[CredentialManager] = None
        self._checkpoints: Optional[Checkpoints] = None

    def _secrets_of(self, conf: str) -> CredentialManager:
        """solnlib's reader of the secrets UCC stores for ``conf``'s stanzas."""
        return CredentialManager(
            self.session_key, APP, realm=credential_realm(conf), **self.address,
            **NO_HTTP_RETRIES,
        )  # fmt: skip

    def _secrets(self, conf: str) -> CredentialManager:
        if conf == ACCOUNT_CONF:
            return self._account_secrets
        # Only a stored proxy password needs this realm: solnlib binds a CredentialManager
        # to one realm and gives each its own client, so it costs a second connection.
        if self._settings_secrets is None:
            self._settings_secrets = self._secrets_of(conf)
        return self._settings_secrets

    def _decrypted(self, conf: str, name: str, stanza: Stanza) -> Stanza:
        """``stanza`` with every ``******`` field replaced by the secret UCC stored for it."""
        hidden = [key for key, value in stanza.items() if value == ConfFile.ENCRYPTED_TOKEN]
        if hidden:
            secrets = json.loads(self._secrets(conf).get_password(name))
            missing = [key for key in hidden if key not in secrets]
            if missing:
                raise CredentialNotExistException(f"no stored {', '.join(missing)}")
            stanza.update({key: secrets[key] for key in hidden})
        return stanza

    @retry(exceptions=[binding.HTTPError])
    def _list(self, conf: str, name: Optional[str]) -> List[Any]:
        """The entries of one of the add-on's confs (all, or only ``name``; none when it
        does not exist)."""
        stanzas = client.ConfigurationFile(
            self.service, client.PATH_CONF % conf, state={"title": conf}
        )
        try:
            return stanzas.list(name=name) if name else stanzas.list()
        except binding.HTTPError as error:
            if error.status != 404 or not name:
                raise
            return []

    def _read(
        self, conf: str, name: Optional[str] = None, decrypt: bool = True
    ) -> Dict[str, Stanza]:
        """Stanzas of one of the add-on's confs, each as a dict, secrets decrypted unless
        ``decrypt`` is false. The list and the secret each retry on their own
        (``get_password`` is solnlib's retried call): no retries stacked on retries."""
        return {
            entry.name: self._decrypted(conf, entry.name, dict(entry.content))
            if decrypt
            else dict(entry.content)
            for entry in self._list(conf, name)
        }

    def settings(self, decrypt: bool = True) -> Dict[str, Stanza]:
        """All stanzas of the settings conf (``logging``, ``proxy``), secrets decrypted
        unless ``decrypt`` is false.

        A proxy password missing from the credential store stops the polls only while the
        proxy is enabled: a disabled proxy never uses it.
        """
        try:
            stanzas = self._read(SETTINGS_CONF, decrypt=False)
            for name, stanza in stanzas.items() if decrypt else ():
                self._decrypted(SETTINGS_CONF, name, stanza)
        except binding.HTTPError as error:
            raise splunkd_error(error, f"{SETTINGS_CONF}.conf") from None
        except CredentialNotExistException:
            proxy = stanzas.get("proxy", {})
            if as_flag(proxy.get("proxy_enabled"), "proxy_enabled"):
                raise ConfigurationError(
                    "proxy_password",
                    "the proxy password is missing from Splunk's credential store",
                    fix="enter it again in Configuration > Proxy",
                ) from None
            proxy["proxy_password"] = ""
        return stanzas

    def account_exists(self, name: str) -> bool:
        """Whether Configuration > Accounts has ``name`` (its key is not read)."""
        try:
            return name in self._read(ACCOUNT_CONF, name, decrypt=False)
        except binding.HTTPError as error:
            raise splunkd_error(error, f"account {name!r}") from None

    def account(self, name: str) -> Stanza:
        """The account's stanza with its API key decrypted."""
        try:
            stanza = self._read(ACCOUNT_CONF, name).get(name)
        except CredentialNotExistException:
            raise ConfigurationError(
                "api_key",
                f"the API key of account {name!r} is missing from Splunk's credential store",
                fix="enter the key again in Configuration > Accounts",
            ) from None
        except binding.HTTPError as error:
            raise splunkd_error(error, f"account {name!r}") from None
        if stanza is None:
            raise ConfigurationError(
                "account",
                f"the account {name!r} does not exist",
                fix="create it in Configuration > Accounts or choose another account for the "
                "input in Inputs",
            )
        return stanza

    def kv_limits_stanza(self) -> Stanza:
        """``limits.conf [kvstore]`` as splunkd applies it (an empty dict when it cannot be
        read: the caller keeps splunkd's defaults)."""
        try:
            return self._read(LIMITS_CONF, KV_LIMITS_STANZA, decrypt=False).get(
                KV_LIMITS_STANZA, {}
            )
        except binding.HTTPError:
            return {}

    @retry(exceptions=[binding.HTTPError])
    def _server_info(self) -> Dict[str, Any]:
        return self.service.info

    def is_splunk_cloud(self) -> bool:
        """Whether this is Splunk Cloud: ``server/info``'s ``instance_type`` is ``cloud``."""
        try:
            info = self._server_info()
        except binding.HTTPError as error:
            raise splunkd_error(error, "server/info") from None
        return str(info.get("instance_type") or "").lower() == "cloud"

    @property
    def checkpoints(self) -> Checkpoints:
        if self._checkpoints is None:
            self._checkpoints = Checkpoints(self.service)
        return self._checkpoints
