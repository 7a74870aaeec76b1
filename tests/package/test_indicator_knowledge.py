"""The built collection, lookup and sourcetypes match what the indicators core writes."""

from __future__ import annotations

from pathlib import Path

from socdefenders.indicators.documents import DOCUMENT_FIELDS, INDICATOR_TRUNCATE, MAX_EVENT_BYTES
from socdefenders.names import (
    INDICATOR_COLLECTION,
    INDICATOR_LOOKUP,
    INDICATOR_SOURCETYPE,
    SYNC_SOURCETYPE,
)
from tests.package.test_built_addon import read_conf

NUMBERS = {"last_seen_epoch", "added_epoch", "updated_epoch"}


def test_every_document_field_is_declared_with_its_type(app_dir: Path) -> None:
    collection = read_conf(app_dir / "default" / "collections.conf")[INDICATOR_COLLECTION]
    declared = {k[len("field.") :]: v for k, v in collection.items() if k.startswith("field.")}
    assert set(declared) == set(DOCUMENT_FIELDS)
    for name, kind in declared.items():
        # lists are arrays of strings: the type applies to each element (AppInspect
        # allows number, bool, string and time only)
        assert kind == ("number" if name in NUMBERS else "string"), name
    accelerated = {k for k in collection if k.startswith("accelerated_fields.")}
    assert accelerated == {f"accelerated_fields.{n}" for n in ("value", "type", "last_seen_epoch")}


def test_the_lookup_reads_the_collection_by_every_field(app_dir: Path) -> None:
    lookup = read_conf(app_dir / "default" / "transforms.conf")[INDICATOR_LOOKUP]
    assert lookup["external_type"] == "kvstore"
    assert lookup["collection"] == INDICATOR_COLLECTION
    fields = [field.strip() for field in lookup["fields_list"].split(",")]
    assert fields == ["_key", *DOCUMENT_FIELDS]
    # `| lookup socdefenders_ioc_lookup value AS dest OUTPUT type confidence feeds`
    assert {"value", "type", "confidence", "feeds"} <= set(fields)


def test_an_indicator_event_always_fits_its_sourcetype(app_dir: Path) -> None:
    props = read_conf(app_dir / "default" / "props.conf")
    assert int(props[INDICATOR_SOURCETYPE]["TRUNCATE"]) == INDICATOR_TRUNCATE > MAX_EVENT_BYTES
    for sourcetype in (INDICATOR_SOURCETYPE, SYNC_SOURCETYPE):
        assert props[sourcetype]["DATETIME_CONFIG"] == "CURRENT"  # _time is ingest time
        assert props[sourcetype]["KV_MODE"] == "json"
