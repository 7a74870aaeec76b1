"""Glue between splunkd and the ``socdefenders`` core for the socdefenders_ioc_stats input.

The generated ``socdefenders_ioc_stats.py`` (splunklib ``Script``) calls these two
functions. This module only talks to Splunk: it reads the configuration through solnlib,
writes events through splunklib, keeps checkpoints in the KV store and logs through
solnlib. Collecting, validating and shaping the data is the core's job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_splunkd import SplunkdConnection, user_agent
from solnlib import log
from splunklib import binding
from splunklib import modularinput as smi

from socdefenders.account import AccountSettings, parse_account
from socdefenders.client import ApiClient
from socdefenders.errors import CheckpointError, CollectionError, ConfigurationError, ErrorCategory
from socdefenders.input_config import check_input_parameters, check_interval
from socdefenders.log_fields import SecretRedactor, format_fields
from socdefenders.names import (
    LOG_NAME,
    SOURCETYPE,
)
from socdefenders.proxy import proxy_url
from socdefenders.retry import RetryPolicy
from socdefenders.stats.checkpoint import PreviousSnapshot, previous_from_state
from socdefenders.stats.event import source_for
from socdefenders.stats.poll import poll
from socdefenders.timestamps import epoch_seconds

DEFAULT_INTERVAL_SECONDS = 900

_LOG_BY_CATEGORY: Dict[ErrorCategory, Callable[..., None]] = {
    ErrorCategory.AUTHENTICATION: log.log_authentication_error,
    ErrorCategory.PERMISSION: log.log_permission_error,
    ErrorCategory.CONNECTION: log.log_connection_error,
    ErrorCategory.SERVER: log.log_server_error,
    ErrorCategory.CONFIGURATION: log.log_configuration_error,
}


def validate_input(definition: smi.ValidationDefinition) -> None:
    """Runs on ``--validate-arguments``: splunkd shows the raised message to the admin."""
    check_input_parameters(definition.parameters)


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

    @property
    def name(self) -> str:
        """The input's own name, ``prod_stats``."""
        return self.stanza.split("://", 1)[-1]

    @classmethod
    def from_splunk(cls, stanza: str, params: Mapping[str, Any]) -> InputStanza:
        host = str(params.get("host") or "")
        try:
            interval = check_interval(params.get("interval"))
        except ConfigurationError:
            interval = DEFAULT_INTERVAL_SECONDS
        return cls(
            stanza=stanza,
            account=str(params.get("account") or ""),
            index=str(params.get("index") or "") or None,
            host=None if not host or host.startswith("$") else host,
            interval=interval,
        )


class InputRun:
    """One run of the input process: every stanza splunkd handed over, one after another."""

    def __init__(self, inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
        self.splunkd = SplunkdConnection(
            inputs.metadata["server_uri"], inputs.metadata["session_key"]
        )
        self.inputs = [
            InputStanza.from_splunk(stanza, params) for stanza, params in inputs.inputs.items()
        ]
        self.event_writer = event_writer
        self.logger = log.Logs().get_logger(LOG_NAME)
        self.redactor = route_library_logs(self.logger)
        self.user_agent = user_agent()

    def run(self) -> None:
        try:
            settings = self.splunkd.settings()
        except Exception as error:  # splunkd unreachable: every input fails the same way
            for stanza in self.inputs:
                self.log_any_failure(error, stanza)
            return
        proxy_stanza = settings.get("proxy", {})
        self.redactor.add([str(proxy_stanza.get("proxy_password") or "")])
        level = str(settings.get("logging", {}).get("loglevel") or "INFO").upper()
        self.logger.setLevel(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
        # solnlib logs a traceback on the root logger for every exception its retry wrapper
        # sees, handled ones included: kept for DEBUG, otherwise only its errors.
        logging.getLogger().setLevel(logging.DEBUG if level == "DEBUG" else logging.ERROR)
        for stanza in self.inputs:
            try:
                self.collect(stanza, proxy_stanza)
            except Exception as error:  # one broken input must not stop the others
                self.log_any_failure(error, stanza)

    def log_any_failure(self, error: Exception, stanza: InputStanza) -> None:
        """A known failure as its categorised line; anything else with its traceback."""
        if isinstance(error, CollectionError):
            self.log_failure(error, stanza)
        else:
            log.log_exception(
                self.logger,
                error,
                exc_label="Unexpected Error",
                msg_before=self.line("poll_failed", stanza),
            )

    def line(self, action: str, stanza: InputStanza, **fields: Any) -> str:
        return format_fields(
            {"action": action, "account": stanza.account or "-", "input": stanza.name, **fields}
        )

    def log_failure(self, error: CollectionError, stanza: InputStanza) -> None:
        """The single ERROR line of a failed poll, through solnlib's categorised helpers."""
        message = self.line("poll_failed", stanza, **error.log_fields())
        helper = _LOG_BY_CATEGORY.get(error.category)
        if helper is None:
            log.log_exception(
                self.logger, error, exc_label=error.category.value, full_msg=False,
                msg_before=message,
            )  # fmt: skip
        else:
            helper(self.logger, error, full_msg=False, msg_before=message)

    def previous_snapshot(self, stanza: InputStanza) -> Optional[PreviousSnapshot]:
        """The last saved snapshot; a missing, unreadable or corrupt one means none."""
        try:
            return previous_from_state(self.splunkd.checkpoints.get(stanza.name))
        except (CheckpointError, ValueError, KeyError, TypeError):
            reason = "the saved checkpoint is corrupt"
        except (binding.HTTPError, OSError):
            reason = "the KV store could not be read"
        self.logger.warning(
            self.line(
                "checkpoint_ignored", stanza, reason=reason,
                effect="this snapshot is written without delta, like a first snapshot",
            )
        )  # fmt: skip
        return None

    def save_checkpoint(self, stanza: InputStanza, state: Dict[str, Any]) -> None:
        try:
            self.splunkd.checkpoints.update(stanza.name, state)
        except (binding.HTTPError, OSError, CheckpointError) as error:
            self.logger.error(
                self.line(
                    "checkpoint_not_saved", stanza,
                    category=ErrorCategory.SERVER.value,
                    http_status=getattr(error, "status", None) or "-",
                    reason=f"the KV store refused the checkpoint ({type(error).__name__})",
                    effect="the event was written; the next snapshot's delta spans back to the "
                    "last saved checkpoint (see seconds_since_previous)",
                )
            )  # fmt: skip

    def collect(self, stanza: InputStanza, proxy_stanza: Mapping[str, Any]) -> None:
        if not stanza.account:
            raise ConfigurationError(
                "account", "the input has no account", fix="choose an account for it in Inputs"
            )
        stored = self.splunkd.account(stanza.account)
        self.redactor.add([str(stored.get("api_key") or "")])
        account: AccountSettings = parse_account(stanza.account, stored)
        client = ApiClient(
            account,
            user_agent=self.user_agent,
            retry_policy=RetryPolicy.for_interval(stanza.interval),
            proxy_url=proxy_url(proxy_stanza),
        )
        try:
            previous = self.previous_snapshot(stanza)
            result = poll(
                client, account_name=stanza.account, input_name=stanza.name, previous=previous
            )
        finally:
            client.close()
        self.event_writer.write_event(
            smi.Event(
                data=result.event_json(),
                time=f"{epoch_seconds(result.collected_at):.3f}",
                index=stanza.index,
                host=stanza.host,
                source=source_for(stanza.name),
                sourcetype=SOURCETYPE,
            )
        )
        log.events_ingested(
            self.logger, stanza.stanza, SOURCETYPE, 1, stanza.index or "default",
            account=stanza.account,
        )  # fmt: skip
        for note in result.notes:
            self.logger.log(note.level, self.line(note.action, stanza, **note.fields))
        self.logger.info(self.line("poll_succeeded", stanza, **result.log_fields()))
        self.save_checkpoint(stanza, result.checkpoint)


def stream_events(inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
    """Runs once per interval: one event per input whose poll succeeds."""
    InputRun(inputs, event_writer).run()
