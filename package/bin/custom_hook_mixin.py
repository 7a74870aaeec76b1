"""Save-time checks of the Configuration > Proxy tab (splunktaucclib's hook extension point).

ucc-gen gives the settings endpoint (``ta_socdefenders_rh_settings.py``) splunktaucclib's
plain ``AdminExternalHandler``, with no ``restHandlerModule`` of its own. That handler's
hooks come from a module named ``custom_hook_mixin`` when one is importable from ``bin/``
(``splunktaucclib.rest_handler.admin_external``), so this class is where the proxy tab is
checked: an enabled proxy needs a host and a port from 1 to 65535 (the input could not use
it otherwise, and would fail at its next run instead of in the form). The account and
input handlers inherit these hooks too and call them after their own checks.
"""

from typing import Any, Dict, Mapping

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_splunkd import SplunkdConnection
from splunktaucclib.rest_handler.error import RestError

from socdefenders.errors import CollectionError
from socdefenders.proxy import proxy_url

PROXY_STANZA = "proxy"


class CustomHookMixin:
    """splunktaucclib's hook mixin: checks a proxy edit, nothing else."""

    def create_hook(self, session_key, config_name, stanza_id, payload):
        """Nothing to check."""

    def edit_hook(self, session_key, config_name, stanza_id, payload):
        if config_name == PROXY_STANZA:
            check_proxy_edit(session_key, payload)

    def delete_hook(self, session_key, config_name, stanza_id):
        """Nothing to check."""


def check_proxy_edit(session_key: str, payload: Mapping[str, Any]) -> None:
    """Refuse (HTTP 400) proxy settings the input could not use; ``payload`` may be partial."""
    # admin_external imports this module while it loads (and falls back to no hooks on an
    # ImportError), so its names are imported here, when a request runs.
    from splunktaucclib.rest_handler.admin_external import get_splunkd_endpoint

    try:
        stored: Dict[str, Any] = {}
        if not {"proxy_enabled", "proxy_url", "proxy_port"} <= set(payload):
            # the stored password is not needed to check host and port: left encrypted
            stored = SplunkdConnection(get_splunkd_endpoint(), session_key).settings(decrypt=False)
            stored = dict(stored.get(PROXY_STANZA, {}))
        proxy_url({**stored, **payload})
    except CollectionError as error:
        message = error.message[:1].upper() + error.message[1:]
        raise RestError(
            400, f"The proxy settings were not saved: {message}. To fix: {error.fix}."
        ) from None
