"""REST handlers of the inputs: checks on save, clean-up on delete.

UCC's generated ``ta_socdefenders_rh_<input type>.py`` uses these classes
(``restHandlerModule`` / ``restHandlerClass`` of each input service in globalConfig.json):
``IocStatsInputHandler`` for ``socdefenders_ioc_stats``, ``IndicatorsInputHandler`` for
``socdefenders_iocs``. Saving an input checks each of its fields with the core's checks
and that its account exists, with messages that say what to fix (UCC's own validators
only say "not matching"). Deleting an input deletes its own checkpoint and nothing else:
otherwise a new input with the same name would resume from the deleted input's state
(the stats input's deltas, the indicators input's sync in progress). The indicators
collection and the account budgets are shared by every indicators input: they stay.
"""

from typing import Any, Callable, Mapping

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_splunkd import SplunkdConnection
from splunklib import binding
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint
from splunktaucclib.rest_handler.error import RestError

from socdefenders.errors import CollectionError, ConfigurationError
from socdefenders.indicators import settings as indicators_settings
from socdefenders.indicators.state import state_key
from socdefenders.input_config import check_input_fields


class InputHandler(AdminExternalHandler):
    """Checks an input before it is saved; removes its checkpoint with it.

    A subclass names the checks of its fields (``check_fields``, raising
    ``ConfigurationError``) and the ``_key`` of an input's checkpoint (``checkpoint_key``).
    """

    check_fields: Callable[[Mapping[str, Any]], None]

    @staticmethod
    def checkpoint_key(name: str) -> str:
        raise NotImplementedError

    def create_hook(self, session_key, config_name, stanza_id, payload):
        self._check(session_key, payload)
        super().create_hook(session_key, config_name, stanza_id, payload)

    def edit_hook(self, session_key, config_name, stanza_id, payload):
        self._check(session_key, payload)
        super().edit_hook(session_key, config_name, stanza_id, payload)

    def _check(self, session_key, payload):
        try:
            self.check_fields(payload)
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
        checkpoints = SplunkdConnection(get_splunkd_endpoint(), session_key).checkpoints
        try:
            checkpoints.delete(self.checkpoint_key(stanza_id))
        except binding.HTTPError as error:
            raise RestError(
                503,
                f"The input was not deleted: its checkpoint could not be removed from the KV "
                f"store (HTTP {error.status}). Check that the KV store is running "
                "(Settings > Server settings > KV store), then delete the input again.",
            ) from None
        super().delete_hook(session_key, config_name, stanza_id)


class IocStatsInputHandler(InputHandler):
    """``socdefenders_ioc_stats``: the checkpoint's ``_key`` is the input's name."""

    check_fields = staticmethod(check_input_fields)

    @staticmethod
    def checkpoint_key(name: str) -> str:
        return name


class IndicatorsInputHandler(InputHandler):
    """``socdefenders_iocs``: the checkpoint's ``_key`` is ``socdefenders_iocs://<name>``
    (an indicators input may share its name with a stats input)."""

    check_fields = staticmethod(indicators_settings.check_input_fields)

    @staticmethod
    def checkpoint_key(name: str) -> str:
        return state_key(name)
