"""The OpenAPI document: translation of upstream-dialect schemas, and that it loads."""

from __future__ import annotations

from typing import Any

import pytest

import pyxis.api.all  # noqa: F401 - registers every API method
from pyxis.schema.openapi import openapi_document, to_openapi
from pyxis.schema.registry import REGISTRY


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "null"}, {"nullable": True}),
        ({"type": "boolean"}, {"type": "integer", "enum": [0, 1]}),
        ({"type": "boolean", "default": 1}, {"type": "integer", "enum": [0, 1], "default": 1}),
        # upstream spells some boolean defaults as words
        ({"type": "boolean", "default": "yes"}, {"type": "integer", "enum": [0, 1], "default": 1}),
        ({"type": "boolean", "default": "off"}, {"type": "integer", "enum": [0, 1], "default": 0}),
        ({"type": "boolean", "default": "maybe"}, {"type": "integer", "enum": [0, 1]}),
        ({"type": "integer", "default": "same as user"}, {"type": "integer"}),
        # upstream writes some limits as strings
        (
            {"type": "integer", "minimum": "0", "maximum": "1.5"},
            {"type": "integer", "minimum": 0, "maximum": 1.5},
        ),
        ({"type": "integer", "minimum": "lots"}, {"type": "integer"}),
        (
            {"type": "string", "format": "pve-node"},
            {"type": "string", "x-pve-format": "pve-node"},
        ),
        (
            {"type": "string", "format": {"b": {}, "a": {}}},
            {"type": "string", "x-pve-property-string": ["a", "b"]},
        ),
        (
            {"type": "string", "pattern": "(?^:[a-z]+)"},
            {"type": "string", "pattern": "^(?:(?:[a-z]+))$"},
        ),
    ],
)
def test_to_openapi(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert to_openapi(schema) == expected


def test_document_covers_registry() -> None:
    doc = openapi_document()
    ops = [(h, p) for p, item in doc["paths"].items() for h in item]
    assert len(ops) == len(REGISTRY.methods)
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_document_loads_in_schemathesis() -> None:
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(openapi_document())
    assert len(list(schema.get_all_operations())) == len(REGISTRY.methods)


def _schemas(node: Any) -> Any:
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)


def test_document_keywords_are_well_typed() -> None:
    """What schemathesis rejects per operation: limits and defaults of the wrong type."""
    kinds = {"integer": int, "number": (int, float), "string": str}
    for schema in _schemas(openapi_document()["paths"]):
        for key in ("minimum", "maximum", "minLength", "maxLength"):
            if key in schema:
                assert isinstance(schema[key], (int, float)), schema
                assert not isinstance(schema[key], bool), schema
        expected = kinds.get(schema["type"])
        if expected and "default" in schema:
            assert isinstance(schema["default"], expected), schema
