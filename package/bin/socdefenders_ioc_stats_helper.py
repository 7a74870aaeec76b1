"""Glue between splunkd and the ``socdefenders`` core for the socdefenders_ioc_stats input.

The generated ``socdefenders_ioc_stats.py`` (splunklib ``Script``) calls these two
functions; everything that is not Splunk plumbing lives in the core package.
"""

import import_declare_test  # noqa: F401 - puts lib/ on sys.path
from splunklib import modularinput as smi

from socdefenders.input_config import check_input_parameters


def validate_input(definition: smi.ValidationDefinition) -> None:
    """Runs on ``--validate-arguments``: splunkd shows the raised message to the admin."""
    check_input_parameters(definition.parameters)


def stream_events(inputs: smi.InputDefinition, event_writer: smi.EventWriter) -> None:
    """Not built yet: collection arrives with the next issue (README, "Status")."""
    raise NotImplementedError(
        "the socdefenders_ioc_stats input does not collect data yet; see README, Status"
    )
