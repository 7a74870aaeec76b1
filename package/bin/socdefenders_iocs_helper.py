"""Glue between splunkd and the ``socdefenders`` core for the socdefenders_iocs input.

The generated ``socdefenders_iocs.py`` (splunklib ``Script``) calls these two functions.
Per stanza: read its settings (and the Indicators tab's ``max_age_days``), the account
and its key, build the API client and the ports (``socdefenders_kvstore``), run
``socdefenders.indicators.sync.run_sync``, write its ``socdefenders:ioc`` events as it
goes and one ``socdefenders:ioc:sync`` summary event, and log one line per run
(``action=sync_completed`` / ``sync_incomplete`` / ``sync_failed``) in
``ta-socdefenders_socdefenders_iocs.log``. Each event's time is the time it is written
(ingest time); its source is ``socdefenders_iocs://<input>``. One input's failure never
stops the others (``socdefenders_input_common.InputRun``).
"""

from __future__ import annotations

import time
from io import TextIOBase
from typing import Any, Callable, Mapping, Optional, Sequence
from xml.sax.saxutils import escape

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from socdefenders_input_common import InputRun, InputStanza
from socdefenders_kvstore import KvLimits, indicator_ports
from socdefenders_splunkd import Stanza
from solnlib import log
from splunklib import modularinput as smi

from socdefenders.account import parse_account
from socdefenders.client import ApiClient
from socdefenders.errors import ConfigurationError
from socdefenders.indicators.page import ClientPageSource
from socdefenders.indicators.settings import (
    DEFAULT_INTERVAL_SECONDS,
    check_input_parameters,
    check_interval,
    input_config,
)
from socdefenders.indicators.sync import SyncPorts, SyncResult, run_sync
from socdefenders.names import (
    INDICATOR_SOURCETYPE,
    INDICATORS_INPUT_TYPE,
    INDICATORS_LOG_NAME,
    INDICATORS_SETTINGS_STANZA,
    SYNC_SOURCETYPE,
)
from socdefenders.proxy import proxy_url
from socdefenders.retry import RetryPolicy

FAILED, COMPLETED, INCOMPLETE = "sync_failed", "sync_completed", "sync_incomplete"


def validate_input(definition: smi.ValidationDefinition) -> None:
    """Runs on ``--validate-arguments``: splunkd shows the raised message to the admin."""
    check_input_parameters(definition.parameters)


def source_for(input_name: str) -> str:
    return f"{INDICATORS_INPUT_TYPE}://{input_name}"


class RenderedEvents(smi.Event):
    """Events already rendered as splunklib renders them, written by
    ``EventWriter.write_event`` in one write and one flush.

    splunklib's ``Event.write_to`` builds an ElementTree per event and flushes after each
    (about 80 microseconds an event, measured: over a minute for a first sync of 1,000,000
    indicators). ``render_event`` writes the same XML, byte for byte (tests/package/
    test_iocs_glue.py compares them): ``&``, ``<``, ``>`` escaped, anything beyond ASCII
    as a character reference, so any stdout encoding carries it.
    """

    def __init__(self, xml: str) -> None:
        super().__init__(data="")
        self.xml = xml

    def write_to(self, stream: Any) -> None:
        stream.write(self.xml if isinstance(stream, TextIOBase) else self.xml.encode("ascii"))
        stream.flush()


def _xml_text(value: str) -> str:
    return escape(value).encode("ascii", "xmlcharrefreplace").decode("ascii")


def render_event(
    data: str,
    *,
    time: str,
    source: Optional[str] = None,
    sourcetype: Optional[str] = None,
    index: Optional[str] = None,
    host: Optional[str] = None,
) -> str:
    """``<event unbroken="1">...<done /></event>``, as ``smi.Event(...).write_to`` writes
    an event with these fields (no stanza, ``done`` and ``unbroken`` true)."""
    return _event_head(time, source, sourcetype, index, host) + _event_tail(data)


def _element(tag: str, text: str) -> str:
    return f"<{tag}>{_xml_text(text)}</{tag}>" if text else f"<{tag} />"


def _event_head(time: str, *fields: Optional[str]) -> str:
    head = '<event unbroken="1">' + _element("time", time)
    for tag, value in zip(("source", "sourcetype", "index", "host"), fields):
        if value is not None:
            head += _element(tag, value)
    return head


def _event_tail(data: str) -> str:
    return _element("data", data) + "<done /></event>"


class EventSink:
    """The sync's ``EventSink``: ``socdefenders:ioc`` events of one input, each stamped
    with the time it is written (the events carry no time of their own to extract)."""

    def __init__(
        self,
        writer: smi.EventWriter,
        stanza: InputStanza,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._writer = writer
        self._stanza = stanza
        self._clock = clock
        self.written = 0

    def _head(self, sourcetype: str) -> str:
        stanza = self._stanza
        return _event_head(
            f"{self._clock():.3f}", source_for(stanza.name), sourcetype, stanza.index, stanza.host
        )

    def write(self, text: str, sourcetype: str) -> None:
        self._writer.write_event(RenderedEvents(self._head(sourcetype) + _event_tail(text)))

    def indicator_events(self, texts: Sequence[str]) -> None:
        """One write of every event of a page, all stamped with the time of the write."""
        if not texts:
            return
        head = self._head(INDICATOR_SOURCETYPE)
        self._writer.write_event(RenderedEvents("".join(head + _event_tail(t) for t in texts)))
        self.written += len(texts)


class IndicatorsInputRun(InputRun):
    """One run of the indicators input: one sync (or its next part) per stanza."""

    log_name = INDICATORS_LOG_NAME
    failure_action = FAILED

    def __init__(self, inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
        super().__init__(inputs, event_writer)
        self._kv_limits: Optional[KvLimits] = None

    def parse(self, stanza: str, params: Mapping[str, Any]) -> InputStanza:
        return InputStanza.from_splunk(
            stanza, params, check_interval=check_interval,
            default_interval=DEFAULT_INTERVAL_SECONDS,
        )  # fmt: skip

    def kv_limits(self) -> KvLimits:
        """``limits.conf [kvstore]``, read once per run."""
        if self._kv_limits is None:
            self._kv_limits = KvLimits.from_stanza(self.splunkd.kv_limits_stanza())
        return self._kv_limits

    def collect(self, stanza: InputStanza, settings: Mapping[str, Stanza]) -> None:
        if not stanza.account:
            raise ConfigurationError(
                "account", "the input has no account", fix="choose an account for it in Inputs"
            )
        max_age_days = settings.get(INDICATORS_SETTINGS_STANZA, {}).get("max_age_days")
        config = input_config(stanza.params, input_name=stanza.name, max_age_days=max_age_days)
        stored = self.splunkd.account(stanza.account)
        self.add_secret(stored.get("api_key"))
        client = ApiClient(
            parse_account(stanza.account, stored),
            user_agent=self.user_agent,
            retry_policy=RetryPolicy.for_interval(stanza.interval),
            proxy_url=proxy_url(settings.get("proxy", {})),
        )
        events = EventSink(self.event_writer, stanza)
        try:
            store, state = indicator_ports(self.splunkd.service, self.kv_limits(), stanza.name)
            ports = SyncPorts(ClientPageSource(client), store, state, events)
            result = run_sync(ports, config)
        finally:
            client.close()
            if events.written:
                self.ingested(stanza, INDICATOR_SOURCETYPE, events.written)
        events.write(result.summary_text, SYNC_SOURCETYPE)
        self.ingested(stanza, SYNC_SOURCETYPE, 1)
        self.log_result(stanza, result)

    def ingested(self, stanza: InputStanza, sourcetype: str, count: int) -> None:
        """solnlib's line for UCC's monitoring dashboard (events per sourcetype)."""
        log.events_ingested(
            self.logger, stanza.stanza, sourcetype, count, stanza.index or "default",
            account=stanza.account,
        )  # fmt: skip

    def log_result(self, stanza: InputStanza, result: SyncResult) -> None:
        for note in result.notes:
            self.logger.log(note.level, self.line(note.action, stanza, **note.fields))
        if result.error is not None:
            self.log_failure(result.error, stanza, **result.log_fields)
        elif result.completed:
            self.logger.info(self.line(COMPLETED, stanza, **result.log_fields))
        else:
            self.logger.info(self.line(INCOMPLETE, stanza, **result.log_fields))


def stream_events(inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
    """Runs once per interval: each stanza's sync, its events and its summary event."""
    IndicatorsInputRun(inputs, event_writer).run()
