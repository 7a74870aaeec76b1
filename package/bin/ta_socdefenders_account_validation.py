"""REST handler for Configuration -> Accounts: checks an account before it is saved.

UCC's generated ``ta_socdefenders_rh_account.py`` uses this class (``restHandlerModule``
and ``restHandlerClass`` in globalConfig.json). The rules live in
``socdefenders.account`` so the input applies the same ones at run time.
"""

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler
from splunktaucclib.rest_handler.error import RestError

from socdefenders.account import check_account_fields
from socdefenders.errors import ConfigurationError


class AccountValidationHandler(AdminExternalHandler):
    """Rejects an invalid base URL, key header, CA bundle or timeout with HTTP 400."""

    def create_hook(self, session_key, config_name, stanza_id, payload):
        self._check(payload)
        super().create_hook(session_key, config_name, stanza_id, payload)

    def edit_hook(self, session_key, config_name, stanza_id, payload):
        self._check(payload)
        super().edit_hook(session_key, config_name, stanza_id, payload)

    @staticmethod
    def _check(payload):
        try:
            check_account_fields(payload)
        except ConfigurationError as error:
            raise RestError(400, str(error)) from None
