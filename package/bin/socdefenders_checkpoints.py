"""Splunk glue shared by the input and its REST handler: the KV store of checkpoints.

Both bind solnlib's clients to the splunkd address they were given (the input's
``server_uri``, the handler's ``SPLUNKD_URI``), so no client re-discovers splunkd.
"""

from __future__ import annotations

from typing import Any, Dict
from urllib.parse import urlsplit

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from solnlib.modular_input.checkpointer import KVStoreCheckpointer

from socdefenders.names import APP, CHECKPOINT_COLLECTION


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
