"""Stand-in for ``splunk.admin``: the EAI machinery that runs a python REST handler.

splunkd runs a ``restmap.conf`` ``admin_external`` handler script as ``__main__``; the
script calls ``admin.init(HandlerClass, ctxInfo)``, which builds the handler for one
request, calls its ``setup()``, checks the caller's arguments against the arguments the
handler declared, calls ``handleList`` / ``handleCreate`` / ``handleEdit`` /
``handleRemove`` with a ``ConfigInfo`` and hands the entries back to splunkd.

Here the request comes as one JSON document on stdin (``tests/support/rest_handlers.py``
writes it) and the answer is one JSON document on stdout::

    {"entries": [{"name": ..., "content": {...}, "metadata": {...}}]}
    {"error": {"status": 400, "text": "..."}}

Errors are worded as splunkd words them: an ``AdminManagerException`` keeps its status and
text; any other exception becomes a 500 ``Unexpected error "<class>" from python
handler: "<text>". See splunkd.log/python.log for more details.``
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Dict, List, Optional

ACTION_CREATE = 1
ACTION_LIST = 2
ACTION_EDIT = 4
ACTION_REMOVE = 8
ACTION_MEMBERS = 16
ACTION_RELOAD = 32
CONTEXT_NONE = 0
CONTEXT_APP_ONLY = 1
CONTEXT_APP_AND_USER = 2

ACTIONS = {
    "create": ACTION_CREATE,
    "list": ACTION_LIST,
    "edit": ACTION_EDIT,
    "remove": ACTION_REMOVE,
}
HANDLERS = {
    ACTION_CREATE: "handleCreate",
    ACTION_LIST: "handleList",
    ACTION_EDIT: "handleEdit",
    ACTION_REMOVE: "handleRemove",
}
EAI_ARGS = ("disabled",)  # splunkd's enable/disable argument, accepted by every edit


class AdminManagerException(Exception):  # noqa: N818 - Splunk's own names
    status = 500


class ArgValidationException(AdminManagerException):
    status = 400


class BadActionException(AdminManagerException):
    status = 400


class NotFoundException(AdminManagerException):
    status = 404


class AlreadyExistsException(AdminManagerException):
    status = 409


class PermissionsException(AdminManagerException):
    status = 403


class InternalException(AdminManagerException):
    status = 500


class ServiceUnavailableException(AdminManagerException):
    status = 503


class CallerArgs:
    """The request's entity name (``id``) and arguments (name -> list of values)."""

    def __init__(self, entity_id: Optional[str], data: Dict[str, List[str]]) -> None:
        self.id = entity_id
        self.data = data


class SupportedArgs:
    """The arguments a handler accepts, declared in its ``setup()``."""

    def __init__(self) -> None:
        self.required: List[str] = []
        self.optional: List[str] = []

    def addReqArg(self, name: str) -> None:  # noqa: N802 - Splunk's own names
        self.required.append(name)

    def addOptArg(self, name: str) -> None:  # noqa: N802
        self.optional.append(name)


class ConfigItem(dict):
    """One entity of the answer: its fields, plus metadata such as ``eai:acl``."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.metadata: Dict[str, Any] = {}

    def setMetadata(self, key: str, value: Any) -> None:  # noqa: N802
        self.metadata[key] = value


class ConfigInfo(dict):
    """Entities by name; ``confInfo[name]`` creates the entity on first use."""

    def __missing__(self, name: str) -> ConfigItem:
        item = ConfigItem(name)
        self[name] = item
        return item


class MConfigHandler:
    """Base class of an EAI handler: the request it serves, as splunk.admin sets it."""

    def __init__(self, scriptMode: int, ctxInfo: int, request: Dict[str, Any]) -> None:  # noqa: N803
        self.requestedAction = scriptMode
        self.context = ctxInfo
        self.callerArgs = CallerArgs(request.get("id"), request.get("args", {}))
        self.supportedArgs = SupportedArgs()
        self.userName = request.get("user", "admin")
        self.appName = request.get("app", "")
        self._session_key = request["session_key"]

    def getSessionKey(self) -> str:  # noqa: N802
        return self._session_key

    def setup(self) -> None:
        """Declare the supported arguments (handlers override it)."""


def _check_arguments(handler: MConfigHandler) -> None:
    """splunkd refuses unknown arguments and missing required ones before the handler runs."""
    if handler.requestedAction not in (ACTION_CREATE, ACTION_EDIT):
        return
    supported = handler.supportedArgs
    allowed = set(supported.required) | set(supported.optional) | set(EAI_ARGS)
    for name in handler.callerArgs.data:
        if name not in allowed:
            raise ArgValidationException(f'Argument "{name}" is not supported by this handler.')
    missing = [name for name in supported.required if name not in handler.callerArgs.data]
    if missing:
        raise ArgValidationException(
            f"The following required arguments are missing: {', '.join(missing)}."
        )


def _entries(conf_info: ConfigInfo) -> List[Dict[str, Any]]:
    return [
        {"name": name, "content": dict(item), "metadata": item.metadata}
        for name, item in conf_info.items()
    ]


def _error_text(error: BaseException) -> Dict[str, Any]:
    if isinstance(error, AdminManagerException):
        return {"status": error.status, "text": str(error)}
    return {
        "status": 500,
        "text": f'Unexpected error "{type(error)}" from python handler: "{error}". '
        "See splunkd.log/python.log for more details.",
    }


def init(handler_class: type, ctxInfo: int = CONTEXT_APP_ONLY) -> None:  # noqa: N803
    """Serve the one request on stdin with ``handler_class``; the answer goes to stdout."""
    request = json.loads(sys.stdin.read())
    action = ACTIONS[request["action"]]
    try:
        handler = handler_class(action, ctxInfo, request)
        handler.setup()
        _check_arguments(handler)
        conf_info = ConfigInfo()
        getattr(handler, HANDLERS[action])(conf_info)
        answer: Dict[str, Any] = {"entries": _entries(conf_info)}
    except Exception as error:
        traceback.print_exc(file=sys.stderr)  # splunkd's python.log
        answer = {"error": _error_text(error)}
    sys.stdout.write(json.dumps(answer, default=str))
    sys.stdout.flush()
