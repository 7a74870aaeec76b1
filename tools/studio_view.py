"""Read the JSON definition out of a Dashboard Studio view (``<dashboard version="2">``).

A Studio view keeps its whole dashboard as JSON in the CDATA of ``<definition>``. The
tools that look inside a view (``render_dashboard.py``, ``spl_check.py``) and the
knowledge-object tests all read it through :func:`extract_definition` (or, for an XML tree
they already parsed, :func:`definition_of`), so a malformed view gets the same errors
everywhere.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any, Dict, Tuple, Union


class ViewError(ValueError):
    """The view cannot be read as a Dashboard Studio view."""


def parse_view(xml: Union[str, bytes]) -> ET.Element:
    """The root element of a view; :class:`ViewError` if it is not well-formed XML."""
    try:
        return ET.fromstring(xml)  # noqa: S314 - our own view files, not remote input
    except ET.ParseError as exc:
        raise ViewError(f"not well-formed XML: {exc}") from exc


def definition_of(root: ET.Element) -> Dict[str, Any]:
    """The JSON object in the ``<definition>`` of a parsed view; :class:`ViewError` if there
    is no ``<definition>`` with text, or its text is not a JSON object."""
    node = root.find("definition")
    if node is None or not (node.text or "").strip():
        raise ViewError("no <definition> with a JSON definition (in CDATA)")
    try:
        definition = json.loads(node.text or "")
    except json.JSONDecodeError as exc:
        raise ViewError(f"<definition> is not JSON: {exc}") from exc
    if not isinstance(definition, dict):
        raise ViewError("<definition> JSON is not an object")
    return definition


def extract_definition(xml: Union[str, bytes]) -> Tuple[Dict[str, Any], str]:
    """The JSON definition and theme of a ``<dashboard version="2">`` view.

    Raises :class:`ViewError` (a ``ValueError``) naming what is wrong: not well-formed XML,
    a root other than ``<dashboard>``, a version other than 2, an unknown theme, no
    ``<definition>``, or a definition that is not a JSON object.
    """
    root = parse_view(xml)
    if root.tag != "dashboard":
        raise ViewError(f"root element is <{root.tag}>, not <dashboard>")
    if root.get("version") != "2":
        found = root.get("version", "")
        raise ViewError(f'<dashboard version="{found}">: a Dashboard Studio view has version="2"')
    theme = root.get("theme", "light")
    if theme not in ("light", "dark"):
        raise ViewError(f'theme="{theme}": expected "light" or "dark"')
    return definition_of(root), theme
