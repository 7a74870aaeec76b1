"""REST handler for Configuration -> Accounts: checks an account before it is saved.

UCC's generated ``ta_socdefenders_rh_account.py`` uses this class (``restHandlerModule``
and ``restHandlerClass`` in globalConfig.json). Saving an account first applies the field
rules of ``socdefenders.account`` (the input applies the same ones at run time), then
calls the stats endpoint once with the entered key, TLS options and the add-on's proxy
(``socdefenders.connection_check``), so a wrong key or an unreachable API is reported in
the form instead of in the input's log later. A Free-tier key, refused the stats, is
saved once it lists one indicator: the indicators input works with it.

An edit is checked as the account it would leave behind: the stored account (its key
decrypted) with the edited fields on top, since a REST edit may send only the fields it
changes, and a key sent as the ``******`` placeholder means "unchanged", as splunktaucclib
stores it.

On Splunk Cloud (``server/info`` says ``instance_type = cloud``) an account with TLS
verification turned off is refused: the Configuration page shows the checkbox on every
platform, and this check is what keeps it on in Splunk Cloud.
"""

from typing import Any, Dict, Mapping

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_splunkd import SplunkdConnection, user_agent
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint
from splunktaucclib.rest_handler.credentials import RestCredentials
from splunktaucclib.rest_handler.error import RestError

from socdefenders.account import check_account_fields, parse_account
from socdefenders.connection_check import check_account_connection, rejection_message
from socdefenders.errors import CollectionError, ConfigurationError
from socdefenders.proxy import proxy_url

CLOUD_NEEDS_TLS_VERIFICATION = (
    "Splunk Cloud requires TLS verification of the SOC Defenders API: turn Verify TLS "
    "certificate back on. If a TLS-inspecting proxy signs the API's certificate, enter its "
    "CA in CA bundle path instead."
)


class AccountValidationHandler(AdminExternalHandler):
    """Rejects an invalid or non-working account with HTTP 400 and what to fix."""

    def create_hook(self, session_key, config_name, stanza_id, payload):
        self._check(session_key, stanza_id, payload, editing=False)
        super().create_hook(session_key, config_name, stanza_id, payload)

    def edit_hook(self, session_key, config_name, stanza_id, payload):
        self._check(session_key, stanza_id, payload, editing=True)
        super().edit_hook(session_key, config_name, stanza_id, payload)

    @staticmethod
    def _check(session_key, name, payload, editing):
        changes = without_placeholders(payload) if editing else dict(payload)
        try:
            check_account_fields(changes)
        except ConfigurationError as error:
            raise RestError(400, str(error)) from None
        try:
            splunkd = SplunkdConnection(get_splunkd_endpoint(), session_key)
            account = parse_account(
                name, edited_account(splunkd, name, changes) if editing else changes
            )
            if not account.verify_tls and splunkd.is_splunk_cloud():
                raise RestError(400, CLOUD_NEEDS_TLS_VERIFICATION)
            check_account_connection(
                account,
                user_agent=user_agent(),
                proxy_url=proxy_url(splunkd.settings().get("proxy", {})),
            )
        except CollectionError as error:
            raise RestError(400, rejection_message(error)) from None


def without_placeholders(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """The payload without an encrypted field sent back as its ``******`` placeholder."""
    return {
        key: value
        for key, value in payload.items()
        if not (key == "api_key" and RestCredentials.is_placeholder(str(value)))
    }


def edited_account(
    splunkd: SplunkdConnection, name: str, changes: Mapping[str, Any]
) -> Dict[str, Any]:
    """The stored account (key decrypted) with ``changes`` on top."""
    try:
        stored = splunkd.account(name)
    except ConfigurationError:  # not stored, or its key is gone: the edit alone decides
        stored = {}
    return {**stored, **changes}
