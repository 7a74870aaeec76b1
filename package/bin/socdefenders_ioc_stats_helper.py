"""Glue between splunkd and the ``socdefenders`` core for the socdefenders_ioc_stats input.

The generated ``socdefenders_ioc_stats.py`` (splunklib ``Script``) calls these two
functions. This module only talks to Splunk: it reads the configuration through solnlib,
writes events through splunklib, keeps checkpoints in the KV store and logs through
solnlib. Collecting, validating and shaping the data is the core's job.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_input_common import InputRun, InputStanza
from socdefenders_splunkd import Stanza
from solnlib import log
from splunklib import binding
from splunklib import modularinput as smi

from socdefenders.account import AccountSettings, parse_account
from socdefenders.client import ApiClient
from socdefenders.errors import CheckpointError, ConfigurationError, ErrorCategory
from socdefenders.input_config import check_input_parameters, check_interval
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


def validate_input(definition: smi.ValidationDefinition) -> None:
    """Runs on ``--validate-arguments``: splunkd shows the raised message to the admin."""
    check_input_parameters(definition.parameters)


class StatsInputRun(InputRun):
    """One run of the stats input: one poll, one event and one checkpoint per stanza."""

    log_name = LOG_NAME
    failure_action = "poll_failed"

    def parse(self, stanza: str, params: Mapping[str, Any]) -> InputStanza:
        return InputStanza.from_splunk(
            stanza, params, check_interval=check_interval,
            default_interval=DEFAULT_INTERVAL_SECONDS,
        )  # fmt: skip

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

    def collect(self, stanza: InputStanza, settings: Mapping[str, Stanza]) -> None:
        if not stanza.account:
            raise ConfigurationError(
                "account", "the input has no account", fix="choose an account for it in Inputs"
            )
        stored = self.splunkd.account(stanza.account)
        self.add_secret(stored.get("api_key"))
        account: AccountSettings = parse_account(stanza.account, stored)
        client = ApiClient(
            account,
            user_agent=self.user_agent,
            retry_policy=RetryPolicy.for_interval(stanza.interval),
            proxy_url=proxy_url(settings.get("proxy", {})),
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
    StatsInputRun(inputs, event_writer).run()
