"""Glue both inputs share: one run over the stanzas splunkd hands over, its log.

The input helpers (``socdefenders_ioc_stats_helper``, ``socdefenders_iocs_helper``) each
subclass :class:`InputRun` with the collection of one stanza. This module holds what is
the same for both: the stanza as splunkd passes it (:class:`InputStanza`), the add-on's
logger (its file, the log level from the settings, every library's records routed to it
through one secret redactor) and the single ERROR line of a failed stanza, written through
solnlib's categorised helpers so UCC's monitoring dashboard sorts it. One stanza's failure
never stops the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Mapping, Optional

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_splunkd import SplunkdConnection, Stanza, user_agent
from solnlib import log
from splunklib import modularinput as smi

from socdefenders.errors import CollectionError, ConfigurationError, ErrorCategory
from socdefenders.log_fields import SecretRedactor, format_fields

LOG_BY_CATEGORY: Dict[ErrorCategory, Callable[..., None]] = {
    ErrorCategory.AUTHENTICATION: log.log_authentication_error,
    ErrorCategory.PERMISSION: log.log_permission_error,
    ErrorCategory.CONNECTION: log.log_connection_error,
    ErrorCategory.SERVER: log.log_server_error,
    ErrorCategory.CONFIGURATION: log.log_configuration_error,
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def route_library_logs(logger: logging.Logger) -> SecretRedactor:
    """Everything logged in this process goes to the add-on's file, through one redactor.

    Libraries (solnlib, urllib3) log on the root logger; without a handler Python would
    print those records to stderr, which splunkd files under splunkd.log. Calling this
    again (another run in the same process) reuses the handlers' redactor.
    """
    root = logging.getLogger()
    redactor = next(
        (f for h in logger.handlers for f in h.filters if isinstance(f, SecretRedactor)),
        SecretRedactor(),
    )
    for handler in logger.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
        if handler not in root.handlers:
            root.addHandler(handler)
    return redactor


@dataclass(frozen=True)
class InputStanza:
    """One input stanza as splunkd hands it over, parsed once at the boundary."""

    stanza: str  # the full stanza name, ``socdefenders_ioc_stats://prod_stats``
    account: str  # "" when the stanza names none
    index: Optional[str]  # None: the default index
    host: Optional[str]  # None: splunkd decides (``$decideOnStartup``)
    interval: int  # seconds; the default when the stanza's value is not a valid one
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)  # as received

    @property
    def name(self) -> str:
        """The input's own name, ``prod_stats``."""
        return self.stanza.split("://", 1)[-1]

    @classmethod
    def from_splunk(
        cls,
        stanza: str,
        params: Mapping[str, Any],
        *,
        check_interval: Callable[[Any], int],
        default_interval: int,
    ) -> InputStanza:
        host = str(params.get("host") or "")
        try:
            interval = check_interval(params.get("interval"))
        except ConfigurationError:
            interval = default_interval
        return cls(
            stanza=stanza,
            account=str(params.get("account") or ""),
            index=str(params.get("index") or "") or None,
            host=None if not host or host.startswith("$") else host,
            interval=interval,
            params=dict(params),
        )


class InputRun:
    """One run of an input process: every stanza splunkd handed over, one after another.

    A subclass names its log file (``log_name``), the action of its failure line
    (``failure_action``), how its stanzas are parsed (``parse``) and collects one stanza
    (``collect``), given all stanzas of the settings conf.
    """

    log_name: ClassVar[str]
    failure_action: ClassVar[str]

    def __init__(self, inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
        self.splunkd = SplunkdConnection(
            inputs.metadata["server_uri"], inputs.metadata["session_key"]
        )
        self.inputs: List[InputStanza] = [
            self.parse(stanza, params) for stanza, params in inputs.inputs.items()
        ]
        self.event_writer = event_writer
        self.logger = log.Logs().get_logger(self.log_name)
        self.redactor = route_library_logs(self.logger)
        self.user_agent = user_agent()

    def parse(self, stanza: str, params: Mapping[str, Any]) -> InputStanza:
        raise NotImplementedError

    def collect(self, stanza: InputStanza, settings: Mapping[str, Stanza]) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            settings = self.splunkd.settings()
        except Exception as error:  # splunkd unreachable: every input fails the same way
            for stanza in self.inputs:
                self.log_any_failure(error, stanza)
            return
        self.redactor.add([str(settings.get("proxy", {}).get("proxy_password") or "")])
        self.set_log_level(settings)
        for stanza in self.inputs:
            try:
                self.collect(stanza, settings)
            except Exception as error:  # one broken input must not stop the others
                self.log_any_failure(error, stanza)

    def set_log_level(self, settings: Mapping[str, Stanza]) -> None:
        level = str(settings.get("logging", {}).get("loglevel") or "INFO").upper()
        self.logger.setLevel(level if level in LOG_LEVELS else "INFO")
        # solnlib logs a traceback on the root logger for every exception its retry wrapper
        # sees, handled ones included: kept for DEBUG, otherwise only its errors.
        logging.getLogger().setLevel(logging.DEBUG if level == "DEBUG" else logging.ERROR)

    def add_secret(self, secret: Any) -> None:
        """Redact ``secret`` from every line logged from now on."""
        self.redactor.add([str(secret or "")])

    def line(self, action: str, stanza: InputStanza, **fields: Any) -> str:
        return format_fields(
            {"action": action, "account": stanza.account or "-", "input": stanza.name, **fields}
        )

    def log_any_failure(self, error: Exception, stanza: InputStanza) -> None:
        """A known failure as its categorised line; anything else with its traceback."""
        if isinstance(error, CollectionError):
            self.log_failure(error, stanza)
        else:
            log.log_exception(
                self.logger,
                error,
                exc_label="Unexpected Error",
                msg_before=self.line(self.failure_action, stanza),
            )

    def log_failure(self, error: CollectionError, stanza: InputStanza, **figures: Any) -> None:
        """The single ERROR line of a failed stanza, through solnlib's categorised helpers:
        ``figures`` (what the run did before it failed) come before the error's fields."""
        message = self.line(self.failure_action, stanza, **{**figures, **error.log_fields()})
        helper = LOG_BY_CATEGORY.get(error.category)
        if helper is None:
            log.log_exception(
                self.logger, error, exc_label=error.category.value, full_msg=False,
                msg_before=message,
            )  # fmt: skip
        else:
            helper(self.logger, error, full_msg=False, msg_before=message)
