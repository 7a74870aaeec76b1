"""Stand-in for ``splunk.admin``: the names splunktaucclib uses when its modules load."""

ACTION_CREATE = 1
ACTION_LIST = 2
ACTION_EDIT = 4
ACTION_REMOVE = 8
CONTEXT_APP_ONLY = 1


class MConfigHandler:
    """Base class of Splunk's EAI handlers; the tests call handler hooks directly."""


def init(handler_class, ctxInfo=None):  # noqa: N803 - Splunk's own argument name
    raise RuntimeError("splunk.admin.init needs a running splunkd")
