"""REST handler of the socdefenders_ioc_stats inputs: deleting an input deletes its checkpoint.

UCC's generated ``ta_socdefenders_rh_socdefenders_ioc_stats.py`` uses this class
(``restHandlerModule`` / ``restHandlerClass`` of the input service in globalConfig.json).
Without it, a new input with the name of a deleted one would compute its first deltas
against the deleted input's last snapshot.
"""

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_checkpoints import open_checkpoints
from splunklib import binding
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint
from splunktaucclib.rest_handler.error import RestError


class IocStatsInputHandler(AdminExternalHandler):
    """Removes the input's KV store checkpoint before the input itself."""

    def delete_hook(self, session_key, config_name, stanza_id):
        try:
            # An admin is waiting: no extra HTTP-level retries on top of solnlib's own.
            checkpoints = open_checkpoints(session_key, get_splunkd_endpoint(), max_retries=0)
            checkpoints.delete(stanza_id)
        except binding.HTTPError as error:
            raise RestError(
                503,
                f"The input was not deleted: its checkpoint could not be removed from the KV "
                f"store (HTTP {error.status}). Check that the KV store is running "
                "(Settings > Server settings > KV store), then delete the input again.",
            ) from None
        super().delete_hook(session_key, config_name, stanza_id)
