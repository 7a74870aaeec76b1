"""REST handler of the socdefenders_ioc_stats inputs: checks on save, clean-up on delete.

UCC's generated ``ta_socdefenders_rh_socdefenders_ioc_stats.py`` uses this class
(``restHandlerModule`` / ``restHandlerClass`` of the input service in globalConfig.json).
Saving an input checks its interval and that its account exists, with messages that say
what to fix (UCC's own validators only say "not matching"). Deleting an input deletes its
checkpoint: otherwise a new input with the same name would compute its first deltas
against the deleted input's last snapshot.
"""

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_splunkd import SplunkdConnection
from splunklib import binding
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint
from splunktaucclib.rest_handler.error import RestError

from socdefenders.errors import CollectionError, ConfigurationError
from socdefenders.input_config import check_input_fields


class IocStatsInputHandler(AdminExternalHandler):
    """Checks inputs before they are saved; removes an input's checkpoint with it."""

    def create_hook(self, session_key, config_name, stanza_id, payload):
        self._check(session_key, payload)
        super().create_hook(session_key, config_name, stanza_id, payload)

    def edit_hook(self, session_key, config_name, stanza_id, payload):
        self._check(session_key, payload)
        super().edit_hook(session_key, config_name, stanza_id, payload)

    @staticmethod
    def _check(session_key, payload):
        try:
            check_input_fields(payload)
            account = str(payload.get("account") or "").strip()
            splunkd = SplunkdConnection(get_splunkd_endpoint(), session_key)
            if account and not splunkd.account_exists(account):
                raise ConfigurationError(
                    "account",
                    f"The account {account!r} does not exist: create it in Configuration > "
                    "Accounts first, or choose an existing one.",
                )
        except ConfigurationError as error:
            raise RestError(400, str(error)) from None
        except CollectionError as error:
            raise RestError(503, f"{error.message}; {error.fix}") from None

    def delete_hook(self, session_key, config_name, stanza_id):
        try:
            SplunkdConnection(get_splunkd_endpoint(), session_key).checkpoints.delete(stanza_id)
        except binding.HTTPError as error:
            raise RestError(
                503,
                f"The input was not deleted: its checkpoint could not be removed from the KV "
                f"store (HTTP {error.status}). Check that the KV store is running "
                "(Settings > Server settings > KV store), then delete the input again.",
            ) from None
        super().delete_hook(session_key, config_name, stanza_id)
